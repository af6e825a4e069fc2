"""Census of the host's VM processes, and adoption (host/README.md, "Every VM on the host")."""

import difflib
import errno
import json
import os
import re
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple, cast

from .json_types import JsonObject

PF_KTHREAD = 0x00200000
DELETED_SUFFIX = " (deleted)"

QEMU_BINARY = re.compile(r"^(qemu-system-[A-Za-z0-9_.-]+|qemu-kvm)$")
OTHER_VMMS = (
    ("cloud-hypervisor", re.compile(r"^cloud-hypervisor(-static)?$")),
    ("firecracker", re.compile(r"^firecracker$")),
    ("crosvm", re.compile(r"^crosvm$")),
    ("kvmtool", re.compile(r"^(lkvm|kvmtool)$")),
    ("stratovirt", re.compile(r"^stratovirt$")),
)
LIBVIRT_DAEMONS = ("libvirtd", "virtqemud")
LIBVIRT_RAM_DIR = os.path.join("var", "lib", "libvirt", "qemu", "ram")
VFIO_DRIVER = re.compile(r"^vfio-")

DEFAULT_HEARTBEAT_PATTERN = "^HB ([0-9]+)$"
ADOPTED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_DRIFT_CHANGES = 10
MAX_ARG_CHARS = 200

STATUSES = ("managed", "drifted", "adoptable", "foreign", "unreadable", "missing")


class ProcessRecord(NamedTuple):

    pid: int
    argv: Optional[List[str]]
    exe: Optional[str]
    parent_comm: Optional[str]
    problem: Optional[str]


class InventoryVm(NamedTuple):

    name: str
    argv: List[str]
    qmp_socket: str


# Duck-typed: runs_inventory_argv takes a Vm.
RunsEntry = Callable[[Optional[List[str]], Any], bool]


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
        exe: Optional[str] = os.readlink(os.path.join(base, "exe"))
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
    skipped = set(skip)
    records: List[ProcessRecord] = []
    for entry in sorted(os.listdir(proc), key=lambda e: (len(e), e)):
        if entry.isdigit() and int(entry) not in skipped:
            record = read_process(int(entry), proc)
            if record is not None:
                records.append(record)
    return records


def on_host(record: ProcessRecord, host_root: str) -> bool:
    if host_root == os.sep:
        return True
    inside = host_root.rstrip(os.sep) + os.sep
    return record.argv is not None and any(inside in arg for arg in record.argv)


def vmm_of(record: ProcessRecord) -> Optional[str]:
    names = [os.path.basename(p) for p in (record.exe, (record.argv or [None])[0]) if p]
    for name in names:
        if QEMU_BINARY.match(name):
            return "qemu"
        for vmm, binary in OTHER_VMMS:
            if binary.match(name):
                return vmm
    return None


def option_values(argv: Sequence[str], option: str) -> List[str]:
    values: List[str] = []
    for index, arg in enumerate(argv):
        if arg in (option, "-" + option) and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif arg.startswith(option + "=") or arg.startswith("-" + option + "="):
            values.append(arg.partition("=")[2])
    return values


def parse_fields(value: str) -> Dict[str, str]:
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        if not isinstance(parsed, dict):
            return {}
        fields = {str(k): str(v) for k, v in cast(Dict[Any, Any], parsed).items()}
        for key in ("qom-type", "driver", "backend"):
            if key in fields:
                fields.setdefault("", fields[key])
        return fields
    fields: Dict[str, str] = {}
    for index, part in enumerate(value.replace(",,", "\0").split(",")):
        part = part.replace("\0", ",")
        key, equals, val = part.partition("=")
        if equals:
            fields[key] = val
        elif index == 0:
            fields[""] = part
    return fields


def qmp_socket_of(argv: Sequence[str]) -> Optional[str]:
    for value in option_values(argv, "-qmp"):
        if value.startswith("unix:"):
            return value[len("unix:") :].replace(",,", "\0").split(",")[0].replace("\0", ",")
    return None


def serial_log_of(argv: Sequence[str]) -> Optional[str]:
    chardevs: Dict[str, str] = {}
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
    for value in option_values(argv, "-name"):
        fields = parse_fields(value)
        return fields.get("guest") or fields.get("") or None
    return None


def adopted_name(argv: Sequence[str], pid: int) -> str:
    raw = (name_of(argv) or "").lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")[:63].strip("-")
    return name if ADOPTED_NAME.match(name) else "pid-%d" % pid


def libvirt_signs(record: ProcessRecord, host_root: str) -> List[str]:
    argv = record.argv or []
    signs: List[str] = []
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
    for value in option_values(argv, "-device"):
        driver = parse_fields(value).get("", "")
        if VFIO_DRIVER.match(driver):
            return ["it has a VFIO passthrough device (-device %s), which a restart cannot carry" % driver]
    return []


def uncarriable(argv: Sequence[str]) -> List[str]:
    reasons = uncarriable_devices(argv)
    if "-incoming" in argv:
        reasons.append("it is waiting for an incoming migration (-incoming)")
    if "-daemonize" in argv:
        reasons.append("it daemonizes (-daemonize)")
    return reasons


def adoption_gaps(argv: Sequence[str]) -> List[str]:
    gaps: List[str] = []
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
    changes: List[Dict[str, List[str]]] = []
    matcher = difflib.SequenceMatcher(a=list(inventory), b=list(running), autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag != "equal":
            changes.append({
                "inventory": [arg[:MAX_ARG_CHARS] for arg in inventory[a_start:a_end]],
                "process": [arg[:MAX_ARG_CHARS] for arg in running[b_start:b_end]],
            })
    return changes[:MAX_DRIFT_CHANGES]


def _entry(pid: Optional[int], vmm: Optional[str], name: str, status: str, reasons: Sequence[str]) -> JsonObject:
    result: JsonObject = {"name": name, "outcome": status}
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
) -> List[JsonObject]:
    census: List[JsonObject] = []
    running: Set[str] = set()
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


def unmanaged(census: Sequence[JsonObject]) -> List[JsonObject]:
    return [e for e in census if e["outcome"] not in ("managed", "missing")]


def describe(entry: JsonObject) -> str:
    what = ", ".join(str(p) for p in (
        "pid %d" % entry["pid"] if "pid" in entry else None, entry.get("vmm"), entry["outcome"]) if p)
    reason = entry.get("reason")
    return "%s (%s)%s" % (entry["name"], what, ": " + reason if reason else "")


def kernel_level_blockers(census: Sequence[JsonObject]) -> List[str]:
    blockers: List[str] = []
    for entry in unmanaged(census):
        if entry["outcome"] == "unreadable" and entry.get("reason", "").startswith("vanished"):
            continue
        blockers.append(describe(entry))
    return blockers


def preflight_refusals(census: Sequence[JsonObject], names: Iterable[str]) -> Dict[str, str]:
    wanted = set(names)
    refusals: Dict[str, str] = {}
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


def adoption_entry(record: ProcessRecord, name: str, host_root: str) -> JsonObject:
    argv = list(record.argv or [])
    return {
        "schemaVersion": 1,
        "name": name,
        "argv": argv,
        "qmpSocket": qmp_socket_of(argv),
        "stateDir": os.path.join(host_root, "var", "lib", "rejuv", "vms", name),
        "heartbeat": {"log": serial_log_of(argv), "pattern": DEFAULT_HEARTBEAT_PATTERN},
    }


def write_new_file(path: str, value: JsonObject) -> bool:
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
    census: Sequence[JsonObject],
    records: Sequence[ProcessRecord],
    selection: str,
    inventory_dir: str,
    host_root: str,
    validate: Callable[[JsonObject, str], List[str]],
) -> List[JsonObject]:
    if selection == "-":
        return []
    by_pid = {r.pid: r for r in records}
    by_name: Dict[str, JsonObject] = {}
    for entry in census:
        by_name.setdefault(entry["name"], entry)
    names = [e["name"] for e in census if e["outcome"] == "adoptable"] if selection == "*" else selection.split(",")
    results: List[JsonObject] = []
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
