"""Census of every virtual machine process on the host, and adoption of the ones the agent can carry.

The agent acts on its inventory; a kexec ends every process. So Preflight counts every VM process on the
host (QEMU under any name, and the other VMMs it recognises) and says of each whether it is `managed`
(runs an inventory entry), `drifted` (holds an inventory entry's QMP socket with other arguments),
`adoptable` (a raw QEMU with a QMP unix socket and a serial log: an inventory entry can be written from
its running argv), `foreign` (another manager's, such as libvirt, or with a device the agent cannot carry,
or another VMM; the reasons say which) or `unreadable` (the census could not read it); and inventory
entries no process runs are `missing`.

The classifier is pure: it takes ProcessRecords, read from /proc by read_processes. Python 3.6+, standard
library only, like the rest of the agent.
"""

import difflib
import errno
import json
import os
import re
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

# /proc/<pid>/stat flag of a kernel thread (include/linux/sched.h): never a VM, never reported.
PF_KTHREAD = 0x00200000
# What readlink(/proc/<pid>/exe) appends when the binary was replaced on disk (a package upgrade).
DELETED_SUFFIX = " (deleted)"

QEMU_BINARY = re.compile(r"^(qemu-system-[A-Za-z0-9_.-]+|qemu-kvm)$")
# Other VMMs, by binary name. The agent cannot suspend or restart any of them.
OTHER_VMMS = (
    ("cloud-hypervisor", re.compile(r"^cloud-hypervisor(-static)?$")),
    ("firecracker", re.compile(r"^firecracker$")),
    ("crosvm", re.compile(r"^crosvm$")),
    ("kvmtool", re.compile(r"^(lkvm|kvmtool)$")),
    ("stratovirt", re.compile(r"^stratovirt$")),
    ("virtualbox", re.compile(r"^VBoxHeadless$")),
    ("vmware", re.compile(r"^vmware-vmx$")),
)
LIBVIRT_DAEMONS = ("libvirtd", "virtqemud")
# The directory libvirt keeps file-backed guest RAM in (`<memoryBacking><source type='file'/>`).
LIBVIRT_RAM_DIR = os.path.join("var", "lib", "libvirt", "qemu", "ram")
VFIO_DRIVER = re.compile(r"^vfio-")

# What an adopted entry's heartbeat pattern is until the operator edits it: the lab guests' counter line.
DEFAULT_HEARTBEAT_PATTERN = "^HB ([0-9]+)$"
ADOPTED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_DRIFT_CHANGES = 10
MAX_ARG_CHARS = 200

STATUSES = ("managed", "drifted", "adoptable", "foreign", "unreadable", "missing")


class ProcessRecord(NamedTuple):
    """What the census read of one process. `problem` is set when it could not read enough to judge."""

    pid: int
    argv: Optional[List[str]]
    exe: Optional[str]
    parent_comm: Optional[str]
    problem: Optional[str]


class InventoryVm(NamedTuple):
    """The parts of an inventory entry the census compares with a running process."""

    name: str
    argv: List[str]
    qmp_socket: str


# Whether a process's argv is an inventory entry's (as started, restored or handed over).
RunsEntry = Callable[[Optional[List[str]], InventoryVm], bool]


# --------------------------------------------------------------------------------------------------
# Reading /proc


def _read(path: str) -> "Tuple[Optional[bytes], Optional[OSError]]":
    try:
        with open(path, "rb") as handle:
            return handle.read(), None
    except OSError as error:
        return None, error


def _why(error: OSError, what: str) -> str:
    if error.errno in (errno.ENOENT, errno.ESRCH):
        return "vanished while the census read its %s" % what
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied reading its %s" % what
    return "cannot read its %s: %s" % (what, error.strerror or error)


def read_process(pid: int, proc: str = "/proc") -> Optional[ProcessRecord]:
    """One process as the census sees it; None for a kernel thread or a zombie (neither runs a guest)."""
    base = os.path.join(proc, str(pid))
    stat, error = _read(os.path.join(base, "stat"))
    if stat is None:
        return ProcessRecord(pid, None, None, None, _why(error, "status") if error else "no status")
    text = stat.decode("utf-8", "replace")
    fields = text[text.rindex(")") + 2 :].split()
    state, ppid, flags = fields[0], int(fields[1]), int(fields[6])
    if flags & PF_KTHREAD or state in ("Z", "X"):
        return None
    raw, error = _read(os.path.join(base, "cmdline"))
    if raw is None:
        return ProcessRecord(pid, None, None, None, _why(error, "command line") if error else "no command line")
    argv = [part.decode("utf-8", "replace") for part in raw.split(b"\0")[:-1]]
    try:
        exe = os.readlink(os.path.join(base, "exe"))  # type: Optional[str]
    except OSError:
        exe = None  # another user's process without CAP_SYS_PTRACE: argv[0] still names the binary
    if exe is not None and exe.endswith(DELETED_SUFFIX):
        exe = exe[: -len(DELETED_SUFFIX)]
    comm, _ = _read(os.path.join(proc, str(ppid), "comm"))
    parent = comm.decode("utf-8", "replace").strip() if comm is not None else None
    if not argv:
        return ProcessRecord(pid, None, exe, parent, "its command line is empty (exiting, or rewritten)")
    return ProcessRecord(pid, argv, exe, parent, None)


def read_processes(proc: str = "/proc", skip: Iterable[int] = ()) -> List[ProcessRecord]:
    """Every process on the host but kernel threads, zombies and `skip` (the agent itself)."""
    skipped = set(skip)
    records = []
    for entry in sorted(os.listdir(proc), key=lambda e: (len(e), e)):
        if entry.isdigit() and int(entry) not in skipped:
            record = read_process(int(entry), proc)
            if record is not None:
                records.append(record)
    return records


def on_host(record: ProcessRecord, host_root: str) -> bool:
    """Whether a process belongs to the host the agent was asked about. A real host (root /) owns every
    process; a lab host (a directory standing in for one) owns those whose command line points into it,
    which is also how the lab tears its hosts down, so hosts on one machine never count each other's VMs.
    An unreadable process on a lab host cannot be placed, so it is left to the machine's real census."""
    if host_root == os.sep:
        return True
    inside = host_root.rstrip(os.sep) + os.sep
    return record.argv is not None and any(inside in arg for arg in record.argv)


# --------------------------------------------------------------------------------------------------
# QEMU argv, read for the census


def vmm_of(record: ProcessRecord) -> Optional[str]:
    """`qemu`, another VMM's name, or None when the process is no VMM the census knows."""
    names = [os.path.basename(p) for p in (record.exe, (record.argv or [None])[0]) if p]
    for name in names:
        if QEMU_BINARY.match(name):
            return "qemu"
        for vmm, binary in OTHER_VMMS:
            if binary.match(name):
                return vmm
    return None


def option_values(argv: Sequence[str], option: str) -> List[str]:
    """Every value of `option` (e.g. -chardev), in order; `-option=value` spellings included."""
    values = []
    for index, arg in enumerate(argv):
        if arg in (option, "-" + option) and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.startswith(option + "=") or arg.startswith("-" + option + "="):
            values.append(arg.partition("=")[2])
    return values


def parse_fields(value: str) -> Dict[str, str]:
    """A QEMU option value in the key=value syntax (`,,` escapes a comma) or the JSON syntax; a first
    field without `=` (the type: `socket`, `file`, `vfio-pci`) is kept under the empty key."""
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        if not isinstance(parsed, dict):
            return {}
        fields = {str(k): str(v) for k, v in parsed.items()}
        for key in ("qom-type", "driver", "backend"):
            if key in fields:
                fields.setdefault("", fields[key])
        return fields
    fields = {}
    for index, part in enumerate(value.replace(",,", "\0").split(",")):
        part = part.replace("\0", ",")
        key, equals, val = part.partition("=")
        if equals:
            fields[key] = val
        elif index == 0:
            fields[""] = part
    return fields


def qmp_socket_of(argv: Sequence[str]) -> Optional[str]:
    """The path of the first `-qmp unix:PATH[,...]` option, or None."""
    for value in option_values(argv, "-qmp"):
        if value.startswith("unix:"):
            return value[len("unix:") :].replace(",,", "\0").split(",")[0].replace("\0", ",")
    return None


def serial_log_of(argv: Sequence[str]) -> Optional[str]:
    """The file the guest's serial port writes to (`-serial file:PATH`, or `-serial chardev:ID` with a
    file chardev of that id), or None."""
    chardevs = {}
    for value in option_values(argv, "-chardev"):
        fields = parse_fields(value)
        if fields.get("") == "file" and fields.get("path"):
            chardevs[fields.get("id", "")] = fields["path"]
    for value in option_values(argv, "-serial"):
        if value.startswith("file:"):
            return value[len("file:") :]
        if value.startswith("chardev:") and value[len("chardev:") :] in chardevs:
            return chardevs[value[len("chardev:") :]]
    return None


def name_of(argv: Sequence[str]) -> Optional[str]:
    """The guest name QEMU was given (`-name NAME` or `-name guest=NAME,...`), or None."""
    for value in option_values(argv, "-name"):
        fields = parse_fields(value)
        return fields.get("guest") or fields.get("") or None
    return None


def adopted_name(argv: Sequence[str], pid: int) -> str:
    """An inventory name for a process: its -name made to fit the inventory's alphabet, else `pid-N`."""
    raw = (name_of(argv) or "").lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")[:63].strip("-")
    return name if ADOPTED_NAME.match(name) else "pid-%d" % pid


def libvirt_signs(record: ProcessRecord, host_root: str) -> List[str]:
    """Why a QEMU process is libvirt's (each alone is enough: only libvirt can drive or restart it)."""
    argv = record.argv or []
    signs = []
    for value in option_values(argv, "-chardev"):
        fields = parse_fields(value)
        if fields.get("id") == "charmonitor" or (fields.get("") == "socket" and "fd" in fields):
            signs.append("its monitor is a file descriptor its manager passed (-chardev %s,id=%s,fd=%s), as "
                         "libvirt does" % (fields.get("", "socket"), fields.get("id", "?"), fields.get("fd", "?")))
            break
    if "-S" in argv:
        signs.append("it was started paused (-S) for its manager to set up and continue, as libvirt does")
    for value in option_values(argv, "-object"):
        fields = parse_fields(value)
        if fields.get("") == "secret" or fields.get("qom-type") == "secret":
            signs.append("it holds a secret object (%s), libvirt's master key" % fields.get("id", "secret"))
            break
    ram_dir = os.path.join(host_root, LIBVIRT_RAM_DIR) + os.sep
    for value in option_values(argv, "-object"):
        if ram_dir in parse_fields(value).get("mem-path", "") + os.sep:
            signs.append("its guest RAM is in libvirt's directory %s" % ram_dir.rstrip(os.sep))
            break
    if record.parent_comm in LIBVIRT_DAEMONS:
        signs.append("its parent process is %s" % record.parent_comm)
    return signs


def uncarriable_devices(argv: Sequence[str]) -> List[str]:
    """Devices whose state a QEMU restart cannot carry, whoever started the process."""
    for value in option_values(argv, "-device"):
        driver = parse_fields(value).get("", "")
        if VFIO_DRIVER.match(driver):
            return ["it has a VFIO passthrough device (-device %s): its state is in the hardware, which a "
                    "QEMU restart cannot carry" % driver]
    return []


def uncarriable(argv: Sequence[str]) -> List[str]:
    """What a QEMU process outside the inventory has that the agent cannot take over."""
    reasons = uncarriable_devices(argv)
    if "-incoming" in argv:
        reasons.append("it is waiting for an incoming migration (-incoming)")
    if "-daemonize" in argv:
        reasons.append("it daemonizes (-daemonize): the agent starts and watches each QEMU process itself")
    return reasons


def adoption_gaps(argv: Sequence[str]) -> List[str]:
    """What an inventory entry needs that the running argv does not give."""
    gaps = []
    qmp = qmp_socket_of(argv)
    if qmp is None:
        gaps.append("it has no QMP unix socket (-qmp unix:PATH,server=on,wait=off) for the agent to drive it")
    elif not os.path.isabs(qmp):
        gaps.append("its QMP socket %s is a relative path" % qmp)
    log = serial_log_of(argv)
    if log is None:
        gaps.append("it has no serial log file (-serial file:PATH, or a file chardev) for the guest heartbeat")
    elif not os.path.isabs(log):
        gaps.append("its serial log %s is a relative path" % log)
    return gaps


def argv_drift(inventory: Sequence[str], running: Sequence[str]) -> List[Dict[str, List[str]]]:
    """Where the running argv differs from the inventory's: each change as the inventory's arguments and
    the process's in their place (at most MAX_DRIFT_CHANGES, each argument cut to MAX_ARG_CHARS)."""
    changes = []
    matcher = difflib.SequenceMatcher(a=list(inventory), b=list(running), autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag != "equal":
            changes.append({
                "inventory": [arg[:MAX_ARG_CHARS] for arg in inventory[a_start:a_end]],
                "process": [arg[:MAX_ARG_CHARS] for arg in running[b_start:b_end]],
            })
    return changes[:MAX_DRIFT_CHANGES]


# --------------------------------------------------------------------------------------------------
# The census (pure)


def _entry(pid: Optional[int], vmm: Optional[str], name: str, status: str, reasons: Sequence[str]) -> dict:
    result = {"name": name, "outcome": status}  # type: dict
    if pid is not None:
        result["pid"] = pid
    if vmm is not None:
        result["vmm"] = vmm
    if reasons:
        result["reason"] = "; ".join(reasons)
    return result


def _owns_socket(argv: Sequence[str], vm: InventoryVm) -> bool:
    qmp = qmp_socket_of(argv)
    return qmp is not None and (qmp == vm.qmp_socket or qmp.startswith(vm.qmp_socket + ".h"))


def classify(
    records: Sequence[ProcessRecord], inventory: Sequence[InventoryVm], runs_entry: RunsEntry, host_root: str
) -> List[dict]:
    """One census entry per VM process (and per unreadable process, and per inventory entry no process
    runs), in pid order. Each has `name`, `outcome` (one of STATUSES), and `reason` unless it is managed."""
    census = []
    running = set()  # type: set
    taken = {vm.name for vm in inventory}
    for record in sorted(records, key=lambda r: r.pid):
        if record.problem is not None or record.argv is None:
            census.append(_entry(record.pid, vmm_of(record), "pid-%d" % record.pid, "unreadable",
                                 [record.problem or "no command line"]))
            continue
        vmm = vmm_of(record)
        if vmm is None:
            continue
        if vmm != "qemu":
            census.append(_entry(record.pid, vmm, adopted_name(record.argv, record.pid), "foreign",
                                 ["it runs %s, which the agent cannot suspend or restart" % vmm]))
            continue
        argv = record.argv
        signs = libvirt_signs(record, host_root)
        managed = [vm for vm in inventory if runs_entry(argv, vm)]
        if managed:
            running.add(managed[0].name)
            # A hand-written entry for another manager's process (that manager would fight every restart),
            # or for one with a device no restart can carry.
            reasons = signs + uncarriable_devices(argv)
            entry = _entry(record.pid, vmm, managed[0].name, "foreign" if reasons else "managed", reasons)
            if reasons:
                entry["inventory"] = True
            census.append(entry)
            continue
        drifted = [vm for vm in inventory if _owns_socket(argv, vm)]
        if drifted:
            running.add(drifted[0].name)
            entry = _entry(record.pid, vmm, drifted[0].name, "drifted",
                           ["it holds the QMP socket of inventory entry %r but runs other arguments; the entry "
                            "is left as it is" % drifted[0].name])
            entry["drift"] = argv_drift(drifted[0].argv, argv)
            entry["inventory"] = True
            census.append(entry)
            continue
        name = adopted_name(argv, record.pid)
        if name in taken:
            suffixed = "%s-%d" % (name, record.pid)
            name = suffixed if len(suffixed) <= 63 else "pid-%d" % record.pid
        reasons = signs + uncarriable(argv)
        if reasons:
            census.append(_entry(record.pid, vmm, name, "foreign", reasons))
            continue
        gaps = adoption_gaps(argv)
        entry = _entry(record.pid, vmm, name, "foreign" if gaps else "adoptable", gaps)
        if not gaps:
            entry["qmpSocket"] = qmp_socket_of(argv)
        census.append(entry)
        taken.add(name)
    for vm in inventory:
        if vm.name not in running:
            census.append(_entry(None, "qemu", vm.name, "missing", ["no process runs its inventory argv"]))
    return census


def unmanaged(census: Sequence[dict]) -> List[dict]:
    """The census entries that are processes the agent does not rejuvenate (all but managed and missing)."""
    return [e for e in census if e["outcome"] not in ("managed", "missing")]


def describe(entry: dict) -> str:
    """One census entry in a line: `name (pid N, qemu, adoptable)` plus why, if anything."""
    what = ", ".join(str(p) for p in (
        "pid %d" % entry["pid"] if "pid" in entry else None, entry.get("vmm"), entry["outcome"]) if p)
    reason = entry.get("reason")
    return "%s (%s)%s" % (entry["name"], what, ": " + reason if reason else "")


def kernel_level_blockers(census: Sequence[dict]) -> List[str]:
    """Why a kexec would lose a guest: every VM process the agent does not manage, and every process the
    census could not read (it may be one), unless it vanished (then it ended on its own)."""
    blockers = []
    for entry in unmanaged(census):
        if entry["outcome"] == "unreadable" and entry.get("reason", "").startswith("vanished"):
            continue
        blockers.append(describe(entry))
    return blockers


def preflight_refusals(census: Sequence[dict], names: Iterable[str]) -> Dict[str, str]:
    """The inventory VMs Preflight refuses because of what the census found, by name, with the reason:
    an entry for a process another manager owns or with a device no restart carries, or an entry no
    process runs."""
    wanted = set(names)
    refusals = {}
    for entry in census:
        if entry["name"] not in wanted:
            continue
        if entry["outcome"] == "foreign" and entry.get("inventory"):
            refusals[entry["name"]] = ("its inventory entry describes pid %d, which the agent must leave alone "
                                       "(another manager owns it, or it cannot be carried): %s"
                                       % (entry["pid"], entry.get("reason", "")))
        elif entry["outcome"] == "missing":
            refusals[entry["name"]] = "no process on this host runs its inventory argv (is the entry for a VM " \
                                      "that does not exist?)"
    return refusals


# --------------------------------------------------------------------------------------------------
# Adoption


def adoption_entry(record: ProcessRecord, name: str, host_root: str) -> dict:
    """The inventory entry (the format load_inventory reads) for an adoptable process, from its argv."""
    argv = list(record.argv or [])
    return {
        "schemaVersion": 1,
        "name": name,
        "argv": argv,
        "qmpSocket": qmp_socket_of(argv),
        "stateDir": os.path.join(host_root, "var", "lib", "rejuv", "vms", name),
        "heartbeat": {"log": serial_log_of(argv), "pattern": DEFAULT_HEARTBEAT_PATTERN},
    }


def write_new_file(path: str, value: dict) -> bool:
    """Writes JSON to `path` atomically and only if nothing is there: False when a file exists already.
    The file is complete before it gets its name (a hard link refuses an existing name), so a reader never
    sees half an entry and an entry written meanwhile by hand is never replaced."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temporary = "%s.%d.adopt" % (path, os.getpid())
    with open(temporary, "w") as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


def adopt(
    census: Sequence[dict],
    records: Sequence[ProcessRecord],
    selection: str,
    inventory_dir: str,
    host_root: str,
    validate: Callable[[dict, str], List[str]],
) -> List[dict]:
    """Writes an inventory entry for each adoptable VM `selection` names (`*`: all of them; `-`: none).
    Returns one result per VM asked for: `adopted` (with its entry's path) or `refused` with the reason.
    `validate` is the inventory's own check (validate_entry), so an entry it writes is one the agent reads."""
    if selection == "-":
        return []
    by_pid = {r.pid: r for r in records}
    by_name = {}  # type: Dict[str, dict]
    for entry in census:
        by_name.setdefault(entry["name"], entry)
    names = [e["name"] for e in census if e["outcome"] == "adoptable"] if selection == "*" else selection.split(",")
    results = []
    for name in names:
        found = by_name.get(name)
        if found is None:
            results.append({"name": name, "outcome": "refused", "reason": "the census found no VM named %r" % name})
            continue
        if found["outcome"] != "adoptable":
            results.append({"name": name, "outcome": "refused",
                            "reason": "it is %s, not adoptable%s" % (
                                found["outcome"], ": " + found["reason"] if found.get("reason") else "")})
            continue
        value = adoption_entry(by_pid[found["pid"]], name, host_root)
        problems = validate(value, name)
        path = os.path.join(inventory_dir, name + ".json")
        if problems:
            results.append({"name": name, "outcome": "refused", "reason": "its entry would be invalid: "
                            + "; ".join(problems)})
        elif not write_new_file(path, value):
            results.append({"name": name, "outcome": "refused",
                            "reason": "an inventory entry %s exists already; it is left as it is" % path})
        else:
            results.append({"name": name, "outcome": "adopted", "pid": found["pid"], "entry": path})
    return results
