"""rejuv host agent: the one program behind the Preflight, WarmReboot, Verify, Recover and CollectAging documents.

Runs on a virtualization host under the SSM agent (python3 standard library only, 3.8+). Every
subcommand prints exactly one JSON line on stdout; everything else goes to stderr. The host is the
directory named by REJUV_HOST_ROOT (default /): the VM inventory is <root>/etc/rejuv/vms.d/*.json,
run journals and the host lock live under <root>/var/lib/rejuv/. See host/README.md.
"""

import argparse
import array
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

RESULT_SCHEMA_VERSION = 1
INVENTORY_SCHEMA_VERSION = 1

VM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
VM_SELECTION = re.compile(r"^(\*|[a-z0-9][a-z0-9-]{0,62}(,[a-z0-9][a-z0-9-]{0,62}){0,255})$")
# VM names, or "-" for none ("-" can never be a VM name; SSM parameters are best never empty).
VM_LIST = re.compile(r"^(-|[a-z0-9][a-z0-9-]{0,62}(,[a-z0-9][a-z0-9-]{0,62}){0,255})$")
LEVELS = ("vmm-process", "kernel")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_REQUEST = 2
EXIT_REFUSED = 3
EXIT_PARTIAL = 4
# Asks the SSM Agent to reboot the instance and run this same script again afterwards (Linux; 3010 on
# Windows). The kernel level's first run ends with it; the kexec it scheduled comes first.
EXIT_REBOOT = 194

# A new QEMU process needs memory of its own (guest RAM is already in place): TCG buffers, device
# models, libraries. Generous on purpose: refusing is cheap, running out mid-reload is not.
NEW_PROCESS_MEMORY_ALLOWANCE = 256 << 20
# What the host keeps free beyond a handover successor's estimated memory: the successor runs beside
# the old process, and the host must not start reclaiming (or OOM-killing) mid-handover.
HANDOVER_MEMORY_HEADROOM = 256 << 20
# Device state of an in-memory suspend is well under a megabyte; this leaves room for VGA RAM and ROMs.
DEVICE_STATE_DISK_ALLOWANCE = 64 << 20
# Guest-visible pause is what matters, so the save is never throttled (QEMU 7.2 defaults to 128 MiB/s).
UNTHROTTLED_BYTES_PER_SECOND = 1 << 40
QMP_TIMEOUT_S = 10.0
HEARTBEAT_POLL_S = 0.05
# Verify gives a guest that was already silent at Preflight only this long to speak up: it is not
# expected to, and waiting out the full heartbeat timeout for it would only delay the verdict.
SILENT_GUEST_WAIT_S = 5.0
LOCK_WAIT_S = 10.0
QUIT_TIMEOUT_S = 10.0
START_TIMEOUT_S = 30.0
# Shared memory is not copied, so anything slower than this is a hang, not a big VM.
IN_MEMORY_MIGRATION_TIMEOUT_S = 60.0
MIGRATION_POLL_S = 0.002
# Starting QEMU is CPU-bound (tens of ms of page faults in malloc and relocation), so at most one start
# per CPU runs at a time: successors of the handover path (while every guest runs), and the stop-restart
# path's whole reboot (stop, save, quit, start, restore, cont), where pausing every guest until all
# processes are back would make each guest's pause grow with the number of VMs. Never fewer than two,
# so one VM that hangs cannot stall the rest.
REBOOT_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))


def log(message):
    sys.stderr.write("%s rejuv-host: %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def epoch_ms():
    return round(time.time() * 1000.0, 3)


def elapsed_ms(since_monotonic):
    return round((time.monotonic() - since_monotonic) * 1000.0, 3)


class Refusal(Exception):
    """The request cannot be carried out and nothing was touched."""

    def __init__(self, code, reason, exit_code=EXIT_REFUSED, vms=None):
        Exception.__init__(self, reason)
        self.code = code
        self.reason = reason
        self.exit_code = exit_code
        self.vms = vms or []


class VmFailure(Exception):
    """One VM could not complete a phase; the message names what happened to it."""


# --------------------------------------------------------------------------------------------------
# Host layout and inventory


class Host:
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.inventory_dir = os.path.join(self.root, "etc", "rejuv", "vms.d")
        self.state_root = os.path.join(self.root, "var", "lib", "rejuv")
        self.runs_dir = os.path.join(self.state_root, "runs")
        self.lock_path = os.path.join(self.state_root, "agent.lock")


class Vm:
    def __init__(self, entry):
        self.name = entry["name"]
        self.argv = entry["argv"]
        self.qmp_socket = entry["qmpSocket"]
        self.state_dir = entry["stateDir"]
        self.heartbeat_log = entry["heartbeat"]["log"]
        self.heartbeat_pattern = re.compile(entry["heartbeat"]["pattern"])
        self.state_file = os.path.join(self.state_dir, "suspend.vmstate")
        self.state_meta = os.path.join(self.state_dir, "suspend.json")
        self.qemu_log = os.path.join(self.state_dir, "qemu.log")

    def argv_digest(self):
        return hashlib.sha256(json.dumps(self.argv).encode()).hexdigest()


def validate_entry(entry, file_stem):
    problems = []
    if not isinstance(entry, dict):
        return ["not a JSON object"]
    if entry.get("schemaVersion") != INVENTORY_SCHEMA_VERSION:
        problems.append("schemaVersion must be %d" % INVENTORY_SCHEMA_VERSION)
    name = entry.get("name")
    if not isinstance(name, str) or not VM_NAME.fullmatch(name):
        problems.append("name must match %s" % VM_NAME.pattern)
    elif name != file_stem:
        problems.append("name %r differs from its file name %r" % (name, file_stem))
    argv = entry.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        problems.append("argv must be a non-empty list of strings")
    elif "-incoming" in argv:
        problems.append("argv must not contain -incoming (the agent adds it when restoring)")
    for key in ("qmpSocket", "stateDir"):
        value = entry.get(key)
        if not isinstance(value, str) or not os.path.isabs(value):
            problems.append("%s must be an absolute path" % key)
    heartbeat = entry.get("heartbeat")
    if not isinstance(heartbeat, dict) or not isinstance(heartbeat.get("log"), str):
        problems.append("heartbeat.log must be an absolute path")
    else:
        try:
            if re.compile(heartbeat.get("pattern", "")).groups != 1:
                problems.append("heartbeat.pattern must have exactly one group (the counter)")
        except (re.error, TypeError):
            problems.append("heartbeat.pattern is not a valid regular expression")
    return problems


def load_inventory(host):
    """Every VM the host's inventory lists, plus a problem per entry that cannot be used."""
    vms, problems = {}, {}
    if not os.path.isdir(host.inventory_dir):
        return vms, problems
    for file_name in sorted(os.listdir(host.inventory_dir)):
        if not file_name.endswith(".json"):
            continue
        stem = file_name[: -len(".json")]
        path = os.path.join(host.inventory_dir, file_name)
        try:
            with open(path) as handle:
                entry = json.load(handle)
        except (OSError, ValueError) as error:
            problems[stem] = "inventory entry %s is unreadable: %s" % (path, error)
            continue
        entry_problems = validate_entry(entry, stem)
        if entry_problems:
            problems[stem] = "inventory entry %s is invalid: %s" % (path, "; ".join(entry_problems))
        else:
            vms[stem] = Vm(entry)
    return vms, problems


def select_vms(host, selection, require_all):
    """The VMs a request names ('*' = all). Unknown names are refused before anything is touched."""
    vms, problems = load_inventory(host)
    if selection == "*":
        names = sorted(set(vms) | set(problems))
    else:
        names = selection.split(",")
        unknown = [n for n in names if n not in vms and n not in problems]
        if unknown:
            raise Refusal(
                "unknown-vm",
                "unknown VM %s: not in this host's inventory (%s)"
                % (", ".join(repr(n) for n in unknown), host.inventory_dir),
                EXIT_INVALID_REQUEST,
            )
        if require_all:
            unnamed = sorted((set(vms) | set(problems)) - set(names))
            if unnamed:
                raise Refusal(
                    "vm-set-mismatch",
                    "the inventory also lists %s, which the request did not name; a hypervisor reload "
                    "restarts every VM on the host" % ", ".join(unnamed),
                    EXIT_INVALID_REQUEST,
                )
    if not names:
        raise Refusal("empty-inventory", "no VMs in this host's inventory (%s)" % host.inventory_dir)
    return [vms.get(n) or n for n in names], problems


def parse_object_option(value):
    """A QEMU -object value, in either the key=value or the JSON syntax."""
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
            return {str(k): str(v) for k, v in parsed.items()}
        except ValueError:
            return {}
    fields = {}
    for index, part in enumerate(value.replace(",,", "\0").split(",")):
        part = part.replace("\0", ",")
        if "=" in part:
            key, _, val = part.partition("=")
            fields[key] = val
        elif index == 0:
            fields["qom-type"] = part
    return fields


def ram_files_from_argv(argv):
    """Files backing guest RAM (memory-backend-file mem-path values) that must survive the reload."""
    files = []
    for index, arg in enumerate(argv[:-1]):
        if arg == "-object":
            fields = parse_object_option(argv[index + 1])
            if fields.get("qom-type") == "memory-backend-file" and fields.get("mem-path"):
                files.append(fields["mem-path"])
    return files


# --------------------------------------------------------------------------------------------------
# Processes


def process_start_time(pid):
    """Start time in clock ticks since boot, or None when the process is gone (zombies count as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def same_process_alive(pid, start_time):
    return pid is not None and process_start_time(pid) == start_time


def process_argv(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0")[:-1]]


# A successor's own QMP socket: the inventory path plus ".h<pid of the process it replaces>". Unique
# per generation, so no process ever unlinks (at exit) a path a later one listens on.
SUCCESSOR_QMP_SUFFIX = re.compile(r"\.h[0-9]{1,10}")
# sun_path is 108 bytes including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


def qmp_option_index(vm):
    """Index in the inventory argv of the `-qmp unix:<qmpSocket>[,...]` value, or None."""
    for index, arg in enumerate(vm.argv[:-1]):
        value = vm.argv[index + 1]
        if arg == "-qmp" and (value == "unix:" + vm.qmp_socket or value.startswith("unix:" + vm.qmp_socket + ",")):
            return index + 1
    return None


def successor_argv(vm, successor_qmp):
    """The handover successor's argv, derived from the inventory argv (the one source of truth): the
    same arguments, with only the QMP socket moved to the successor's own path, plus -incoming defer.
    Everything else two processes of one VM cannot share makes the VM fall back (handover_obstacles)."""
    index = qmp_option_index(vm)
    if index is None:
        raise VmFailure("the inventory argv has no -qmp unix:%s option to give a successor" % vm.qmp_socket)
    argv = list(vm.argv)
    argv[index] = "unix:" + successor_qmp + argv[index][len("unix:" + vm.qmp_socket) :]
    return argv + ["-incoming", "defer"]


def runs_inventory_argv(args, vm):
    """The VM's inventory argv, as started from the inventory, by a restore (plus -incoming) or by a
    handover (plus -incoming, QMP socket on the successor's own path)."""
    if args is None:
        return False
    if len(args) == len(vm.argv) + 2 and args[-2] == "-incoming":
        args = args[:-2]
    if args == vm.argv:
        return True
    index = qmp_option_index(vm)
    if index is None or len(args) != len(vm.argv):
        return False
    if args[:index] + args[index + 1 :] != vm.argv[:index] + vm.argv[index + 1 :]:
        return False
    prefix, rest = "unix:" + vm.qmp_socket, vm.argv[index][len("unix:" + vm.qmp_socket) :]
    moved = args[index]
    if not moved.startswith(prefix) or not moved.endswith(rest):
        return False
    return SUCCESSOR_QMP_SUFFIX.fullmatch(moved[len(prefix) : len(moved) - len(rest)]) is not None


# Arguments two live QEMU processes of one VM cannot both hold, so a successor cannot start beside the
# running process: the VM falls back to stop-restart. (The QMP socket is the one exception: moved.)
HANDOVER_OBSTACLES = (
    (re.compile(r"^-pidfile$"), "a -pidfile (QEMU locks it; the successor would fail to start)"),
    (re.compile(r"^-(vnc|spice)$"), "a VNC/SPICE display (its listening port is held by the running process)"),
    (re.compile(r"(^|,)(vnc|spice)(=|,|$)"), "a VNC/SPICE display (its listening port is held by the running process)"),
    (re.compile(r"(^|,)server(=on|=yes|,|$)"), "a listening socket other than QMP (server=on)"),
    (
        re.compile(r"(^|,)(tap|vhost-user|vhost-vdpa|bridge)(,|$)"),
        "a tap/vhost network backend (its fds cannot be handed over)",
    ),
    (re.compile(r"(^|,)(vhost|vhostforce)=on"), "vhost-net (its fds cannot be handed over)"),
    (re.compile(r"(^|,)(fd|fds|vhostfd|vhostfds)="), "a passed-in file descriptor (it cannot be handed over)"),
)


def handover_obstacles(vm):
    """Why this VM cannot get a successor beside its running process; empty when it can."""
    reasons = []
    index = qmp_option_index(vm)
    if index is None:
        reasons.append("its argv has no -qmp unix:%s option whose socket a successor could move" % vm.qmp_socket)
    for position, arg in enumerate(vm.argv):
        if position == index:
            continue
        for regex, what in HANDOVER_OBSTACLES:
            if regex.search(arg) and ("argv has " + what) not in reasons:
                reasons.append("argv has " + what)
    longest = len((vm.qmp_socket + ".m" + "9" * 10).encode())
    if longest > MAX_SOCKET_PATH_BYTES:
        reasons.append(
            "the successor's socket paths next to %s would exceed %d bytes" % (vm.qmp_socket, MAX_SOCKET_PATH_BYTES)
        )
    return reasons


def find_vm_processes(vm):
    """Live processes running this VM's inventory argv."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and runs_inventory_argv(process_argv(int(entry)), vm):
            if process_start_time(int(entry)) is not None:
                found.append(int(entry))
    return found


def wait_for_exit(pid, start_time, timeout_s):
    deadline = time.monotonic() + timeout_s
    while same_process_alive(pid, start_time):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def tail_text(path, max_bytes=600):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            return handle.read().decode("utf-8", "replace").strip().replace("\n", " | ")
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------------
# QMP


class QmpError(Exception):
    """QEMU answered a command with an error."""


class QmpGone(Exception):
    """The QMP connection closed: QEMU exited or dropped us."""


class Qmp:
    def __init__(self, path, timeout_s=QMP_TIMEOUT_S):
        self.path = path
        self.events = []
        self._buffer = b""
        self._next_id = 0
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(path)
            greeting = self._read_message()
            if "QMP" not in greeting:
                raise QmpGone("%s did not greet as QMP" % path)
            self.execute("qmp_capabilities")
        except BaseException:
            self._sock.close()
            raise

    def peer_pid(self):
        creds = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[0]

    def _read_message(self):
        while b"\n" not in self._buffer:
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                raise QmpGone("no answer on %s within %.0f s" % (self.path, self._sock.gettimeout()))
            except OSError as error:
                raise QmpGone("QMP connection %s failed: %s" % (self.path, error))
            if not chunk:
                raise QmpGone("QMP connection %s closed" % self.path)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line.decode("utf-8"))

    def execute(self, command, arguments=None, fds=None):
        self._next_id += 1
        request_id = "rejuv-%d" % self._next_id
        message = {"execute": command, "id": request_id}
        if arguments is not None:
            message["arguments"] = arguments
        data = (json.dumps(message) + "\n").encode()
        try:
            if fds:
                rights = array.array("i", fds)
                self._sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
            else:
                self._sock.sendall(data)
        except OSError as error:
            raise QmpGone("QMP connection %s failed: %s" % (self.path, error))
        while True:
            reply = self._read_message()
            if "event" in reply:
                self.events.append(reply)
            elif reply.get("id") == request_id:
                if "error" in reply:
                    raise QmpError("%s: %s" % (command, reply["error"].get("desc", reply["error"])))
                return reply.get("return")

    def wait_for_event(self, matches, seen, timeout_s):
        """Blocks until QEMU sends an event for which matches(event) holds (any after the first `seen`
        events counts) and returns it; QmpGone when the connection closes or nothing comes within
        timeout_s. No polling: blocking reads of the connection."""
        deadline = time.monotonic() + timeout_s
        previous = self._sock.gettimeout()
        try:
            while True:
                for event in self.events[seen:]:
                    if matches(event):
                        return event
                seen = len(self.events)
                self._sock.settimeout(max(0.001, deadline - time.monotonic()))
                message = self._read_message()
                if "event" in message:
                    self.events.append(message)
        finally:
            self._sock.settimeout(previous)

    def event_time_ms(self, name):
        """Host wall-clock time (ms) QEMU stamped on the latest event of this name, if any."""
        for event in reversed(self.events):
            if event.get("event") == name:
                stamp = event.get("timestamp", {})
                return round(stamp.get("seconds", 0) * 1000.0 + stamp.get("microseconds", 0) / 1000.0, 3)
        return None

    def status(self):
        return self.execute("query-status")["status"]

    def quit(self):
        # QEMU may close the socket before its reply arrives (it is already exiting); that is success.
        try:
            self.execute("quit")
        except QmpGone:
            pass
        finally:
            self.close()

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass


def ensure_running(qmp, failure):
    """Continues a VM that loaded its device state (it may already run: no -S); raises VmFailure, with
    `failure` % its status, unless it runs."""
    if qmp.status() != "running":
        qmp.execute("cont")
    status = qmp.status()
    if status != "running":
        raise VmFailure(failure % status)


def wait_for_migration(qmp, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        info = qmp.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            return info
        if status in ("failed", "cancelled"):
            raise VmFailure("%s %s: %s" % (what, status, info.get("error-desc", "no detail from QEMU")))
        if time.monotonic() > deadline:
            raise VmFailure("%s did not complete within %.0f s (status %s)" % (what, timeout_s, status))
        time.sleep(MIGRATION_POLL_S)


MIGRATION_ENDED = ("completed", "failed", "cancelled")


def set_migration_capabilities(qmp, in_place, events=False):
    capabilities = [{"capability": "x-ignore-shared", "state": bool(in_place)}]
    if events:
        capabilities.append({"capability": "events", "state": True})
    qmp.execute("migrate-set-capabilities", {"capabilities": capabilities})


def send_fd(qmp, fd_name, fd):
    qmp.execute("getfd", {"fdname": fd_name}, fds=[fd])


# --------------------------------------------------------------------------------------------------
# Test seam: hold at a named point until released from outside (see README, "Fault seams").


def hold(point):
    points = os.environ.get("REJUV_HOLD_AT", "")
    hold_dir = os.environ.get("REJUV_HOLD_DIR", "")
    if not points or not hold_dir or point not in points.split(","):
        return
    with open(os.path.join(hold_dir, point + ".reached"), "w") as handle:
        handle.write(str(os.getpid()))
    release = os.path.join(hold_dir, point + ".release")
    deadline = time.monotonic() + 120
    log("holding at %s until %s exists" % (point, release))
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)


# --------------------------------------------------------------------------------------------------
# Files: journal, saved device state, heartbeat log


def write_json_atomically(path, value):
    # No fsync: these files must survive a process restart, which the page cache already guarantees;
    # a host crash would take guest RAM on /dev/shm with it anyway.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as handle:
        json.dump(value, handle, separators=(",", ":"))
    os.replace(temporary, path)


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def journal_path(host, run_id):
    return os.path.join(host.runs_dir, run_id + ".json")


def interrupted_runs(host):
    """Journals still marked running while we hold the host lock: their agent died mid-run."""
    runs = []
    if os.path.isdir(host.runs_dir):
        for file_name in sorted(os.listdir(host.runs_dir)):
            journal = read_json(os.path.join(host.runs_dir, file_name)) if file_name.endswith(".json") else None
            if journal and journal.get("status") == "running":
                runs.append(journal)
    return runs


def usable_saved_state(vm):
    """The saved device state to restore from, or (None, why not)."""
    meta = read_json(vm.state_meta)
    if meta is None:
        if os.path.exists(vm.state_file + ".partial"):
            return None, "device state was only partly written (the save did not finish)"
        return None, "no saved device state"
    if meta.get("argvSha256") != vm.argv_digest():
        return None, "saved device state belongs to different QEMU arguments than the inventory lists"
    if meta.get("region"):
        problem = region_slice_problem(meta["region"])
        return (None, problem) if problem else (meta, None)
    try:
        size = os.path.getsize(vm.state_file)
    except OSError:
        return None, "saved device state file %s is missing" % vm.state_file
    if size != meta.get("bytes"):
        return None, "saved device state is %d bytes, expected %s" % (size, meta.get("bytes"))
    if meta.get("memoryInPlace"):
        missing = [path for path in ram_files_from_argv(vm.argv) if not os.path.exists(path)]
        if missing:
            return None, "guest RAM backing file %s is gone" % ", ".join(missing)
    return meta, None


def region_slice_digest(region):
    fd = os.open(region["path"], os.O_RDONLY)
    try:
        return hashlib.sha256(os.pread(fd, region["bytes"], region["offset"])).hexdigest()
    finally:
        os.close(fd)


def region_slice_problem(region):
    """Why device state saved in the state region cannot be restored, or None."""
    try:
        if region_slice_digest(region) != region.get("sha256"):
            return "device state in %s at offset %d is not what was saved (SHA-256 differs)" % (
                region["path"], region["offset"])
    except (OSError, KeyError, TypeError) as error:
        return "device state in the state region cannot be read: %s" % error
    return None


def discard_saved_state(vm):
    for path in (vm.state_meta, vm.state_file, vm.state_file + ".partial"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def read_heartbeat_tail(vm):
    """(last counter, byte offset just after the last complete line) of the VM's heartbeat log."""
    try:
        with open(vm.heartbeat_log, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - 65536)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return None, 0
    end = data.rfind(b"\n") + 1
    counter = None
    for line in reversed(data[:end].decode("utf-8", "replace").splitlines()):
        match = vm.heartbeat_pattern.search(line)
        if match:
            counter = int(match.group(1))
            break
    return counter, start + end


def heartbeat_counters_since(vm, offset):
    with open(vm.heartbeat_log, "rb") as handle:
        handle.seek(offset)
        data = handle.read(16 << 20)
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8", "replace")
    counters = []
    for line in complete.splitlines():
        match = vm.heartbeat_pattern.search(line)
        if match:
            counters.append(int(match.group(1)))
    return counters


def sample_heartbeat(vm, window_s):
    """Whether the guest is printing heartbeats now, read as Verify reads them: the counter at the end
    of the log, then whether any new heartbeat line follows it within window_s."""
    started = time.monotonic()
    first, offset = read_heartbeat_tail(vm)
    sample = {"advancing": False, "first": first, "last": first}
    while True:
        try:
            counters = heartbeat_counters_since(vm, offset)
        except OSError as error:
            sample["problem"] = "heartbeat log unreadable: %s" % error
            break
        if counters:
            sample["advancing"] = True
            sample["last"] = counters[-1]
            break
        if time.monotonic() - started >= window_s:
            break
        time.sleep(HEARTBEAT_POLL_S)
    sample["sampledMs"] = elapsed_ms(started)
    return sample


def silence_reason(sample, window_s):
    if "problem" in sample:
        return "guest heartbeat cannot be read (%s)" % sample["problem"]
    if sample["first"] is None:
        return "guest heartbeat is silent: no heartbeat line in its log, and none within %s s" % window_s
    return "guest heartbeat is silent: its counter stayed at %d for %s s" % (sample["first"], window_s)


# --------------------------------------------------------------------------------------------------
# Host lock: one document at a time per host


class HostLock:
    def __init__(self, host, document, run_id):
        os.makedirs(host.state_root, exist_ok=True)
        self._handle = open(host.lock_path, "a+")
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._handle.seek(0)
                    holder = self._handle.read().strip() or "unknown holder"
                    self._handle.close()
                    raise Refusal("busy", "another rejuv document is running on this host (%s)" % holder)
                time.sleep(0.05)
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write("%s run %s, pid %d" % (document, run_id, os.getpid()))
        self._handle.flush()

    def release(self):
        self._handle.close()


# --------------------------------------------------------------------------------------------------
# Assessment: can this VM go through an in-memory suspend and a process reload?


class Assessment:
    def __init__(self, vm_or_name):
        self.vm = vm_or_name if isinstance(vm_or_name, Vm) else None
        self.name = self.vm.name if self.vm else vm_or_name
        self.reasons = []
        self.qmp = None
        self.pid = None
        self.start_time = None
        self.status = None
        self.ram_bytes = 0
        self.ram_backends = []
        self.heartbeat = None

    def report(self):
        entry = {"name": self.name, "outcome": "refused" if self.reasons else "ready"}
        if self.reasons:
            entry["reason"] = "; ".join(self.reasons)
        if self.pid is not None:
            entry["pid"] = self.pid
        if self.status is not None:
            entry["status"] = self.status
        if self.ram_bytes:
            entry["ramBytes"] = self.ram_bytes
        if self.ram_backends:
            entry["ramBackends"] = self.ram_backends
        if self.heartbeat is not None:
            entry["heartbeat"] = self.heartbeat
        return entry


def check_ram_backends(assessment, require_shared):
    qmp = assessment.qmp
    machine_backend = qmp.execute("qom-get", {"path": "/machine", "property": "memory-backend"})
    if not machine_backend and require_shared:
        assessment.reasons.append("guest RAM is not on a memory backend object (legacy -m RAM is private)")
    for memdev in qmp.execute("query-memdev"):
        memdev_id = memdev.get("id", "")
        path = "/objects/" + memdev_id
        kind = qmp.execute("qom-get", {"path": path, "property": "type"})
        backend = {"id": memdev_id, "type": kind, "share": bool(memdev.get("share")), "bytes": memdev["size"]}
        assessment.ram_bytes += memdev["size"]
        if kind == "memory-backend-file":
            backend["memPath"] = qmp.execute("qom-get", {"path": path, "property": "mem-path"})
        assessment.ram_backends.append(backend)
        if not require_shared:
            continue
        if kind == "memory-backend-memfd":
            assessment.reasons.append(
                "RAM backend %r is memory-backend-memfd: a memfd dies with its QEMU process and QEMU 7.2 "
                "cannot hand it to the new one (use memory-backend-file with share=on)" % memdev_id
            )
        elif kind != "memory-backend-file":
            assessment.reasons.append(
                "RAM backend %r is private memory (%s, share=%s): it would be lost when QEMU restarts"
                % (memdev_id, kind, "on" if backend["share"] else "off")
            )
        elif not backend["share"]:
            assessment.reasons.append(
                "RAM backend %r is memory-backend-file with share=off: QEMU keeps guest writes private "
                "to the process, so they would be lost when it restarts" % memdev_id
            )
        elif not os.path.exists(backend["memPath"]):
            assessment.reasons.append("RAM backend %r file %s does not exist" % (memdev_id, backend["memPath"]))


def assess_vm(vm_or_name, problems, keep_qmp, in_place=True):
    assessment = Assessment(vm_or_name)
    vm = assessment.vm
    if vm is None:
        assessment.reasons.append(problems.get(assessment.name, "not in the inventory"))
        return assessment
    if shutil.which(vm.argv[0]) is None:
        assessment.reasons.append("QEMU binary %s is not executable on this host" % vm.argv[0])
    try:
        assessment.qmp = Qmp(vm.qmp_socket)
    except (OSError, QmpGone, QmpError, ValueError) as error:
        assessment.reasons.append("QMP is not reachable at %s: %s" % (vm.qmp_socket, error))
        return assessment
    try:
        assessment.pid = assessment.qmp.peer_pid()
        assessment.start_time = process_start_time(assessment.pid)
        assessment.status = assessment.qmp.status()
        if assessment.status != "running":
            assessment.reasons.append("VM is %s, not running" % assessment.status)
        if not runs_inventory_argv(process_argv(assessment.pid), vm):
            assessment.reasons.append(
                "QEMU pid %d was started with other arguments than the inventory lists; the restart "
                "must use identical arguments" % assessment.pid
            )
        check_ram_backends(assessment, require_shared=in_place)
        os.makedirs(vm.state_dir, exist_ok=True)
        needed = DEVICE_STATE_DISK_ALLOWANCE + (0 if in_place else assessment.ram_bytes)
        stat = os.statvfs(vm.state_dir)
        free = stat.f_bavail * stat.f_frsize
        if free < needed:
            assessment.reasons.append(
                "only %d MiB free for device state in %s, need %d MiB" % (free >> 20, vm.state_dir, needed >> 20)
            )
        if not os.access(vm.state_dir, os.W_OK):
            assessment.reasons.append("state directory %s is not writable" % vm.state_dir)
    except (OSError, QmpGone, QmpError, ValueError, KeyError) as error:
        assessment.reasons.append("inspection failed: %s" % error)
    if not keep_qmp or assessment.reasons:
        assessment.qmp.close()
        assessment.qmp = None
    return assessment


def memory_available_bytes():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------------------------------
# Level `kernel`: what a kexec into the next host kernel needs (see README, "The kernel level")

# Host-level settings of the kernel level: <root>/etc/rejuv/kernel-reload.json (not a document
# parameter: it describes the machine, like the inventory). {"schemaVersion": 1, "stateRegion":
# "/dev/pmem1", "kernel": "/boot/vmlinuz-...", "initrd": "/boot/initrd.img-..."}; kernel and initrd
# default to the running kernel's images in /boot.
KERNEL_CONFIG_SCHEMA_VERSION = 1
# Device state of one VM with memory left in place is ~0.2-0.3 MiB (ROMs, device registers); a display
# device adds its video RAM, which is not shared and so is saved.
DEVICE_STATE_REGION_ESTIMATE = 2 << 20
VIDEO_RAM_ESTIMATE = 16 << 20
DISPLAY_DEVICE = re.compile(r"(^|,)(VGA|qxl|qxl-vga|virtio-vga|bochs-display|cirrus-vga|secondary-vga)(,|$)")
# Each VM's device state starts on a boundary of this size in the state region.
STATE_REGION_ALIGNMENT = 1 << 20
# The kernel reserves a legacy pmem region (memmap=size!start) only when it starts on a memory
# section boundary (128 MiB on x86-64); elsewhere the region silently never appears.
MEMORY_SECTION_BYTES = 128 << 20
MEMMAP_PMEM = re.compile(r"^([0-9]+)([KMG]?)!([0-9]+)([KMG]?)$", re.IGNORECASE)
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def kernel_config_path(host):
    return os.path.join(host.root, "etc", "rejuv", "kernel-reload.json")


def parse_kernel_config(raw, release):
    """(settings, problems) of kernel-reload.json as loaded (None when the file is absent)."""
    if raw is None:
        return None, ["no kernel-reload.json names a state region for device state"]
    if not isinstance(raw, dict):
        return None, ["kernel-reload.json is not a JSON object"]
    problems = []
    if raw.get("schemaVersion") != KERNEL_CONFIG_SCHEMA_VERSION:
        problems.append("kernel-reload.json: schemaVersion must be %d" % KERNEL_CONFIG_SCHEMA_VERSION)
    settings = {
        "stateRegion": raw.get("stateRegion"),
        "kernel": raw.get("kernel", "/boot/vmlinuz-" + release),
        "initrd": raw.get("initrd", "/boot/initrd.img-" + release),
    }
    for key, value in settings.items():
        if not isinstance(value, str) or not os.path.isabs(value):
            problems.append("kernel-reload.json: %s must be an absolute path" % key)
    unknown = sorted(set(raw) - {"schemaVersion", "stateRegion", "kernel", "initrd"})
    if unknown:
        problems.append("kernel-reload.json: unknown keys %s" % ", ".join(unknown))
    return (None if problems else settings), problems


def memmap_pmem_regions(cmdline):
    """(start, size) in bytes of every legacy persistent-memory region the command line reserves
    (memmap=<size>!<start>, several per option allowed, comma-separated)."""
    regions = []
    for word in cmdline.split():
        if word == "--":
            break
        if not word.startswith("memmap="):
            continue
        for part in word[len("memmap=") :].split(","):
            match = MEMMAP_PMEM.fullmatch(part)
            if match:
                size = int(match.group(1)) * UNITS[match.group(2).upper()]
                start = int(match.group(3)) * UNITS[match.group(4).upper()]
                regions.append((start, size))
    return regions


def parse_mounts(text):
    """[(source, mount point, type, options)] from /proc/mounts text."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            unescape = lambda s: s.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
            mounts.append((fields[0], unescape(fields[1]), fields[2], fields[3].split(",")))
    return mounts


PMEM_DEVICE = re.compile(r"^/dev/(pmem[0-9]+(\.[0-9]+)?|dax[0-9]+\.[0-9]+)$")


def preserved_device_of(path, mounts):
    """The persistent-memory device holding path: the path itself (/dev/pmemN, /dev/daxN.M) or the
    source of the DAX-mounted filesystem it lives on; (None, why not) otherwise."""
    if PMEM_DEVICE.fullmatch(path):
        return path, None
    best = None
    for mount in mounts:
        point = mount[1]
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[1]):
                best = mount
    if best is None:
        return None, "no mounted filesystem holds it"
    source, point, fs_type, options = best
    if not PMEM_DEVICE.fullmatch(source):
        return None, "it is on %s (%s at %s), which the next kernel does not get back" % (source, fs_type, point)
    if "dax" not in options and "dax=always" not in options:
        return None, "it is on %s at %s, mounted without dax: pages live in the page cache" % (source, point)
    return source, None


def device_state_estimate(argv):
    """Room one VM's device state needs in the state region (memory left in place)."""
    display = any(DISPLAY_DEVICE.search(a) for a in argv) or any(
        a == "-vga" and argv[i + 1] != "none" for i, a in enumerate(argv[:-1])
    )
    return DEVICE_STATE_REGION_ESTIMATE + (VIDEO_RAM_ESTIMATE if display else 0)


def kernel_level_reasons(facts, vms):
    """Why a kexec with guest memory kept cannot run on this host; empty when it can. Pure: facts are
    what kernel_host_facts read, vms are (name, argv, RAM backends as Preflight reports them)."""
    reasons = list(facts["configProblems"])
    settings = facts["settings"]
    devices = facts["deviceBytes"]
    regions = memmap_pmem_regions(facts["cmdline"])
    if facts["kexec"] is None:
        reasons.append("kexec-tools are not installed (no kexec on PATH)")
    if facts["kexecLoadDisabled"] != "0":
        reasons.append("the kernel refuses to load a kexec image (kernel.kexec_load_disabled is %s)"
                       % facts["kexecLoadDisabled"])
    if not regions:
        reasons.append("the running kernel's command line reserves no persistent-memory region "
                       "(memmap=<size>!<start>), so nothing would keep guest RAM across the reload")
    for start, size in regions:
        if start % MEMORY_SECTION_BYTES:
            reasons.append("memmap=%dM!%dM does not start on a %d MiB memory section boundary"
                           % (size >> 20, start >> 20, MEMORY_SECTION_BYTES >> 20))
    if facts["legacyPmem"] is not None:
        missing = [r for r in facts["legacyPmem"] if r not in regions]
        for start, size in missing:
            reasons.append("persistent memory at %#x (%d MiB) is not reserved by a memmap= option on the "
                           "command line the next kernel gets" % (start, size >> 20))
    if settings is not None:
        for key in ("kernel", "initrd"):
            if not facts["exists"].get(settings[key]):
                reasons.append("no %s to stage for the next kernel at %s" % (key, settings[key]))
    state_region = settings["stateRegion"] if settings else None
    owners = {}
    needed = 0
    for name, argv, backends in vms:
        needed += device_state_estimate(argv)
        for backend in backends:
            path = backend.get("memPath")
            if path is None:
                continue  # not a file backend: the per-VM checks already refuse it
            device, why_not = preserved_device_of(path, facts["mounts"])
            if device is None:
                reasons.append("%s keeps guest RAM in %s, which does not survive a kernel reload: %s"
                               % (name, path, why_not))
                continue
            if device == state_region:
                reasons.append("%s keeps guest RAM on %s, the state region for device state" % (name, device))
            if device == path:
                if devices.get(device) is not None and backend.get("bytes", 0) > devices[device]:
                    reasons.append("%s has %d MiB of RAM, more than %s holds (%d MiB)"
                                   % (name, backend["bytes"] >> 20, device, devices[device] >> 20))
                if device in owners:
                    reasons.append("%s and %s both map all of %s as guest RAM" % (owners[device], name, device))
                owners[device] = name
    if state_region is not None:
        size = devices.get(state_region)
        if size is None:
            reasons.append("state region %s does not exist" % state_region)
        elif not PMEM_DEVICE.fullmatch(state_region):
            reasons.append("state region %s is not a persistent-memory device" % state_region)
        elif size < needed:
            reasons.append("state region %s holds %d MiB, device state of %d VMs needs about %d MiB"
                           % (state_region, size >> 20, len(vms), needed >> 20))
    return reasons


def device_bytes(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def read_text(path, default=None):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return default


def legacy_pmem_ranges(iomem):
    """(start, size) of every "Persistent Memory (legacy)" range in /proc/iomem; None when its
    addresses are hidden (zeros for a reader without CAP_SYS_ADMIN)."""
    ranges = []
    for line in (iomem or "").splitlines():
        if "Persistent Memory (legacy)" in line and not line.startswith(" "):
            start, _, end = line.split(":")[0].strip().partition("-")
            start, end = int(start, 16), int(end, 16)
            if end == 0:
                return None
            ranges.append((start, end - start + 1))
    return ranges


def kernel_host_facts(host, vm_paths=()):
    """What kernel_level_reasons needs, read from this host; it changes nothing."""
    config_path = kernel_config_path(host)
    raw = read_json(config_path)
    settings, problems = parse_kernel_config(raw, os.uname().release)
    if raw is None and os.path.exists(config_path):
        problems = ["%s is unreadable or not JSON" % config_path]
    paths = set(vm_paths)
    if settings:
        paths |= {settings["stateRegion"], settings["kernel"], settings["initrd"]}
    return {
        "settings": settings,
        "configProblems": problems,
        "cmdline": read_text("/proc/cmdline", ""),
        "mounts": parse_mounts(read_text("/proc/mounts", "")),
        "kexec": shutil.which("kexec"),
        "kexecLoadDisabled": (read_text("/proc/sys/kernel/kexec_load_disabled", "1") or "1").strip(),
        "legacyPmem": legacy_pmem_ranges(read_text("/proc/iomem")),
        "exists": {p: os.path.exists(p) for p in paths},
        "deviceBytes": {p: device_bytes(p) for p in paths if PMEM_DEVICE.fullmatch(p)},
    }


def kernel_level_gaps(host, assessments):
    vms = [(a.name, a.vm.argv, a.ram_backends) for a in assessments if a.vm is not None]
    paths = [b["memPath"] for _, _, backends in vms for b in backends if b.get("memPath")]
    return kernel_level_reasons(kernel_host_facts(host, paths), vms)


def assess_host(host, level, assessments):
    """Host-wide reasons to refuse, on top of the per-VM ones."""
    reasons = []
    if level == "kernel":
        gaps = kernel_level_gaps(host, assessments)
        if gaps:
            reasons.append("level 'kernel' is not supported on this host: " + "; ".join(gaps))
    needed = NEW_PROCESS_MEMORY_ALLOWANCE * len(assessments)
    available = memory_available_bytes()
    if available < needed:
        reasons.append(
            "only %d MiB of memory available, need %d MiB for %d new QEMU processes"
            % (available >> 20, needed >> 20, len(assessments))
        )
    for journal in interrupted_runs(host):
        reasons.append(
            "run %s was interrupted during %s; send Recover first" % (journal.get("runId"), journal.get("phase"))
        )
    return reasons


def refusal_code(level, host_reasons):
    if level == "kernel" and any(r.startswith("level 'kernel'") for r in host_reasons):
        return "level-unsupported"
    return "host-not-ready" if host_reasons else "vm-not-ready"


# --------------------------------------------------------------------------------------------------
# Suspend, reload, resume


class VmRun:
    """One VM's way through a warm reboot, and what the result line reports about it."""

    def __init__(self, assessment, run_id, in_place):
        self.vm = assessment.vm
        self.qmp = assessment.qmp
        self.run_id = run_id
        self.in_place = in_place
        self.pid_before = assessment.pid
        self.start_time_before = assessment.start_time
        self.ram_bytes = assessment.ram_bytes
        self.pid_after = None
        self.start_time_after = None
        self.outcome = "untouched"
        self.reason = None
        self.quit = False
        self.state_bytes = None
        self.stopped_at = None
        self.resumed_at = None
        self.heartbeat_at_suspend = None
        self.heartbeat_offset = 0
        self.phases = {}
        self.path = None
        self.path_reason = None
        self.successor = None
        self.successor_process = None
        self.successor_conn = None
        self.successor_qmp = None
        self.migration_socket = None
        self.successor_bytes = 0
        self.handover_state = None
        self.region = None
        # Called after each handover step that Recover must know about (the run saves its journal).
        self.on_change = lambda: None

    def prepare(self):
        set_migration_capabilities(self.qmp, self.in_place)
        self.qmp.execute("migrate-set-parameters", {"max-bandwidth": UNTHROTTLED_BYTES_PER_SECOND})

    def stop_guest(self):
        """Pauses the guest and notes where its heartbeat stood: the first half of every suspend."""
        started = time.monotonic()
        self.qmp.execute("stop")
        self.stopped_at = self.qmp.event_time_ms("STOP") or epoch_ms()
        self.phases["stop"] = elapsed_ms(started)
        self.heartbeat_at_suspend, self.heartbeat_offset = read_heartbeat_tail(self.vm)
        hold(self.vm.name + ":stopped")

    def write_state_meta(self, memory_in_place, region=None):
        """Records where the saved device state is and what it belongs to, for the restore and Recover."""
        meta = {
            "runId": self.run_id,
            "savedAt": epoch_ms(),
            "bytes": self.state_bytes,
            "memoryInPlace": memory_in_place,
            "argvSha256": self.vm.argv_digest(),
            "pid": self.pid_before,
            "heartbeatAtSuspend": self.heartbeat_at_suspend,
            "heartbeatOffset": self.heartbeat_offset,
        }
        if region is not None:
            meta["region"] = region
        write_json_atomically(self.vm.state_meta, meta)

    def suspend(self):
        self.stop_guest()
        started = time.monotonic()
        partial = self.vm.state_file + ".partial"
        discard_saved_state(self.vm)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            send_fd(self.qmp, "rejuv-state", fd)
        finally:
            os.close(fd)
        self.qmp.execute("migrate", {"uri": "fd:rejuv-state"})
        timeout = IN_MEMORY_MIGRATION_TIMEOUT_S if self.in_place else 120.0 + self.ram_bytes / (20 << 20)
        wait_for_migration(self.qmp, timeout, "device state save")
        self.state_bytes = os.path.getsize(partial)
        os.replace(partial, self.vm.state_file)
        self.write_state_meta(self.in_place)
        self.phases["save"] = elapsed_ms(started)
        hold(self.vm.name + ":saved")

    def suspend_to_region(self, fd, region_path, offset, limit):
        """Stop and save the device state into the state region at offset (the kernel level). The VM's
        state metadata points there, so Recover restores from it as from a state file."""
        self.stop_guest()
        started = time.monotonic()
        discard_saved_state(self.vm)
        # QEMU writes the stream at the file offset it shares with this descriptor.
        os.lseek(fd, offset, os.SEEK_SET)
        send_fd(self.qmp, "rejuv-state", fd)
        self.qmp.execute("migrate", {"uri": "fd:rejuv-state"})
        wait_for_migration(self.qmp, IN_MEMORY_MIGRATION_TIMEOUT_S, "device state save")
        end = os.lseek(fd, 0, os.SEEK_CUR)
        if end > limit:
            raise VmFailure("its device state ran past the end of the state region %s" % region_path)
        self.state_bytes = end - offset
        self.region = {"path": region_path, "offset": offset, "bytes": self.state_bytes}
        self.region["sha256"] = region_slice_digest(self.region)
        self.write_state_meta(True, self.region)
        self.phases["save"] = elapsed_ms(started)
        hold(self.vm.name + ":saved")
        return end

    def stop_old_process(self):
        started = time.monotonic()
        self.qmp.quit()
        self.qmp = None
        if not wait_for_exit(self.pid_before, self.start_time_before, QUIT_TIMEOUT_S):
            log("%s: QEMU pid %d ignored quit; killing it" % (self.vm.name, self.pid_before))
            os.kill(self.pid_before, 9)
            wait_for_exit(self.pid_before, self.start_time_before, QUIT_TIMEOUT_S)
        self.quit = True
        self.phases["quit"] = elapsed_ms(started)

    def choose_path(self, committed_bytes):
        """Picks handover where possible, else stop-restart (see choose_path). committed_bytes: memory
        already promised to the successors of VMs ahead of this one, which all run at once."""
        self.path, self.path_reason, self.successor_bytes = choose_path(
            self.vm, self.pid_before, self.in_place, committed_bytes
        )

    def stop_restart(self):
        """This VM's whole pause: stop, save, quit, start, restore, cont. Raises VmFailure saying why not."""
        try:
            self.suspend()
        except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
            raise VmFailure(self.undo_suspend(error))
        try:
            self.stop_old_process()
        except (QmpGone, QmpError, OSError) as error:
            self.outcome = "failed"
            raise VmFailure("its old QEMU process could not be ended (%s); device state kept for Recover" % error)
        hold(self.vm.name + ":quit")
        try:
            self.pid_after, self.start_time_after, self.resumed_at = restore_vm(self.vm, self.in_place, self.phases)
        except VmFailure as error:
            self.outcome = "failed"
            raise VmFailure("%s; device state kept for Recover" % error)
        self.outcome = "resumed"

    def launch_successor(self):
        """Handover, step 1, the guest still running: start the successor beside the old process and
        make it wait for the device state on its own socket. Raises VmFailure (VM rolled back)."""
        vm = self.vm
        self.successor_qmp = "%s.h%d" % (vm.qmp_socket, self.pid_before)
        self.migration_socket = "%s.m%d" % (vm.qmp_socket, self.pid_before)
        for path in (self.successor_qmp, self.migration_socket):
            remove_file(path)
        # Journaled before it exists: an agent killed while the successor starts leaves Recover its QMP
        # path, from which it finds the process by its argv.
        self.successor = {"qmpSocket": self.successor_qmp}
        self.handover_state = "starting-successor"
        self.on_change()
        started = time.monotonic()
        try:
            process, qmp = start_process(
                vm,
                successor_argv(vm, self.successor_qmp),
                self.successor_qmp,
                lambda: hold(vm.name + ":successor-spawned"),
            )
        except VmFailure as error:
            remove_file(self.successor_qmp)
            self.handover_state = "abandoned"
            self.outcome = "rolled-back"
            raise VmFailure("its successor did not start (%s); the VM ran on in its original process" % error)
        self.successor_process, self.successor_conn = process, qmp
        self.successor.update(pid=process.pid, startTime=process_start_time(process.pid))
        self.handover_state = "successor-started"
        self.on_change()
        self.phases["start"] = elapsed_ms(started)
        try:
            hold(vm.name + ":successor-started")
            started = time.monotonic()
            set_migration_capabilities(qmp, True, events=True)
            qmp.execute("migrate-incoming", {"uri": "unix:" + self.migration_socket})
            self.phases["prepare"] = elapsed_ms(started)
        except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
            self.successor_conn = None
            qmp.close()
            raise VmFailure(self.undo_handover(process, error))

    def hand_over(self):
        """Handover, step 2, the guest's whole pause: stop the old process, migrate its device state
        straight into the successor, which resumes the guest itself. Nothing else happens in between:
        the journal is written before the stop, and the agent blocks on the successor's RESUME event
        instead of polling. Raises VmFailure saying why not."""
        vm, qmp, process = self.vm, self.successor_conn, self.successor_process
        try:
            # Recover settles "migrating" exactly as "successor-started", so it may be journaled early.
            self.handover_state = "migrating"
            self.on_change()
            started = time.monotonic()
            self.qmp.execute("stop")
            self.stopped_at = self.qmp.event_time_ms("STOP") or epoch_ms()
            self.phases["stop"] = elapsed_ms(started)
            self.heartbeat_at_suspend, self.heartbeat_offset = read_heartbeat_tail(vm)
            hold(vm.name + ":handover-stopped")
            started = time.monotonic()
            seen = len(qmp.events)
            self.qmp.execute("migrate", {"uri": "unix:" + self.migration_socket})
            # The successor's MIGRATION event (the `events` capability) says when the state is in; a
            # failed load makes QEMU 7.2 exit (QmpGone).
            event = qmp.wait_for_event(
                lambda e: e.get("event") == "MIGRATION" and e.get("data", {}).get("status") in MIGRATION_ENDED,
                seen,
                IN_MEMORY_MIGRATION_TIMEOUT_S,
            )
            if event["data"]["status"] != "completed":
                raise VmFailure("device state load in the successor %s" % event["data"]["status"])
            self.phases["migrate"] = elapsed_ms(started)
            hold(vm.name + ":migrated")
            started = time.monotonic()
            # The source was stopped, so the successor keeps the guest paused until told (no autostart);
            # `cont` straight away, the status is checked once the guest runs.
            qmp.execute("cont")
            self.phases["cont"] = elapsed_ms(started)
            self.resumed_at = qmp.event_time_ms("RESUME") or epoch_ms()
            status = qmp.status()
            if status != "running":
                raise VmFailure("the successor is %s after the handover, not running" % status)
            self.state_bytes = self.bytes_sent()
        except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
            qmp.close()
            raise VmFailure(self.undo_handover(process, error))
        finally:
            remove_file(self.migration_socket)
        qmp.close()
        self.successor_conn = None
        self.pid_after, self.start_time_after = process.pid, self.successor["startTime"]
        self.handover_state = "handed-over"
        self.on_change()
        hold(vm.name + ":handed-over")

    def bytes_sent(self):
        """What the old process sent, asked once the guest runs in its successor. Only a figure for the
        report: the successor loaded the whole state, so an old process that died since changes nothing."""
        try:
            info = wait_for_migration(self.qmp, QUIT_TIMEOUT_S, "device state handover")
            return info.get("ram", {}).get("transferred")
        except (VmFailure, QmpGone, QmpError, OSError) as error:
            log("%s: the old process did not say what it sent: %s" % (self.vm.name, error))
            return None

    def retire_old_process(self):
        """Handover, step 3, the guest running in its successor: quit the old process, then move the
        successor's QMP socket to the inventory's path. Raises VmFailure saying why not."""
        try:
            self.stop_old_process()
        except (QmpGone, QmpError, OSError) as error:
            self.outcome = "failed"
            raise VmFailure(
                "the guest runs in its successor pid %d, but the old process could not be ended (%s)"
                % (self.pid_after, error)
            )
        # Only now: the old process unlinked its own socket path as it exited.
        os.replace(self.successor_qmp, self.vm.qmp_socket)
        self.handover_state = "done"
        self.outcome = "resumed"

    def abandon_successor(self):
        """The rollout stopped before this VM's turn: end its waiting successor; the guest never paused."""
        if self.successor_conn is not None:
            self.successor_conn.close()
            self.successor_conn = None
        if self.successor_process is not None:
            self.successor_process.kill()
            self.successor_process.wait()
            remove_file(self.successor_qmp)
            remove_file(self.migration_socket)
            self.handover_state = "abandoned"

    def undo_handover(self, successor, error):
        """Before the successor ran the guest: end it and continue the old process; the guest lost only
        its pause. Never once the successor may have run: both would then own the guest's RAM."""
        self.outcome = "failed"
        try:
            probe = Qmp(self.successor["qmpSocket"], timeout_s=2.0)
            try:
                successor_status = probe.status()
            finally:
                probe.close()
        except (OSError, QmpGone, QmpError, ValueError):
            successor_status = None
        if successor_status == "running":
            return "handover failed after successor pid %d took over (%s); left for Recover" % (successor.pid, error)
        try:
            old_migration = self.qmp.execute("query-migrate").get("status")
        except (QmpGone, QmpError, OSError):
            old_migration = None
        if old_migration == "completed" and successor_status is None:
            # The successor may have run the guest and died: continuing the old state over its RAM would corrupt it.
            successor.kill()
            return "handover failed (%s): the device state reached successor pid %d, now gone" % (error, successor.pid)
        successor.kill()
        successor.wait()
        remove_file(self.successor["qmpSocket"])
        self.handover_state = "abandoned"
        if not same_process_alive(self.pid_before, self.start_time_before):
            return "handover failed (%s) and the original QEMU pid %d is gone" % (error, self.pid_before)
        try:
            if old_migration in ("active", "setup", "device"):
                self.qmp.execute("migrate_cancel")
            if self.qmp.status() != "running":
                self.qmp.execute("cont")
        except (QmpGone, QmpError, OSError) as cont_error:
            return "handover failed (%s) and the VM could not be continued (%s)" % (error, cont_error)
        self.outcome = "rolled-back"
        return "handover failed (%s); successor ended, VM continued in its original process" % error

    def undo_suspend(self, error):
        """After a failed suspend: continue the VM in its original process if it is still there."""
        self.outcome = "failed"
        if not same_process_alive(self.pid_before, self.start_time_before):
            return "QEMU pid %d exited while the VM was being suspended (%s)" % (self.pid_before, error)
        try:
            if self.qmp.execute("query-migrate").get("status") in ("active", "setup", "device"):
                self.qmp.execute("migrate_cancel")
            self.qmp.execute("cont")
        except (QmpGone, QmpError, OSError) as cont_error:
            return "suspend failed (%s) and the VM could not be continued (%s)" % (error, cont_error)
        discard_saved_state(self.vm)
        self.outcome = "rolled-back"
        return "suspend failed (%s); continued in its original process" % error

    def report(self):
        entry = {"name": self.vm.name, "outcome": self.outcome, "pidBefore": self.pid_before}
        if self.reason:
            entry["reason"] = self.reason
        if self.pid_after is not None:
            entry["pidAfter"] = self.pid_after
        if self.stopped_at is not None and self.resumed_at is not None:
            entry["pauseMs"] = round(self.resumed_at - self.stopped_at, 3)
        if self.state_bytes is not None:
            entry["stateBytes"] = self.state_bytes
        entry["ramBytes"] = self.ram_bytes
        entry["phasesMs"] = self.phases
        if self.path is not None:
            entry["path"] = self.path
        if self.path_reason is not None:
            entry["pathReason"] = self.path_reason
        if self.stopped_at is not None:
            entry["stoppedAt"] = self.stopped_at
        if self.resumed_at is not None:
            entry["resumedAt"] = self.resumed_at
        return entry

    def journal_entry(self):
        return {
            "pidBefore": self.pid_before,
            "startTimeBefore": self.start_time_before,
            "pidAfter": self.pid_after,
            "startTimeAfter": self.start_time_after,
            "heartbeatAtSuspend": self.heartbeat_at_suspend,
            "heartbeatOffset": self.heartbeat_offset,
            "outcome": self.outcome,
            "path": self.path,
            "successor": self.successor,
            "handover": self.handover_state,
            "region": self.region,
            "stoppedAt": self.stopped_at,
            "stateBytes": self.state_bytes,
            "ramBytes": self.ram_bytes,
            "phasesMs": self.phases,
        }


def remove_file(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def choose_path(vm, pid_before, in_place, committed_bytes=0):
    """("handover" | "stop-restart", why, bytes promised to its successor): which way this VM reboots.
    committed_bytes is what the successors already chosen will take: they all run at once."""
    if not in_place:
        return "stop-restart", "classic mode copies RAM through a state file", 0
    stop_restart_holds = [vm.name + point for point in (":stopped", ":saved", ":quit", ":started")]
    held = [p for p in os.environ.get("REJUV_HOLD_AT", "").split(",") if p in stop_restart_holds]
    if held and os.environ.get("REJUV_HOLD_DIR"):
        return "stop-restart", "test seam: REJUV_HOLD_AT holds at %s, a point of the stop-restart path" % held[0], 0
    obstacles = handover_obstacles(vm)
    if obstacles:
        return "stop-restart", "cannot be handed over: " + "; ".join(obstacles), 0
    estimate = successor_memory_estimate(pid_before)
    needed = estimate + HANDOVER_MEMORY_HEADROOM
    available = memory_available_bytes() - committed_bytes
    if available < needed:
        return "stop-restart", (
            "only %d MiB of memory available (after the successors of the VMs before it), a successor "
            "beside the running process needs %d MiB" % (max(0, available) >> 20, needed >> 20)
        ), 0
    return "handover", None, estimate


def successor_memory_estimate(pid):
    """Conservative RSS of a successor: the running process's own (non-shared) memory, at least the
    allowance for a new process. Guest RAM is shared with it, so not counted."""
    private = 0
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("RssAnon:"):
                    private = int(line.split()[1]) * 1024
    except (OSError, ValueError, TypeError):
        pass
    return max(NEW_PROCESS_MEMORY_ALLOWANCE, private)


def start_incoming_process(vm):
    """Starts the VM's QEMU with its exact inventory argv plus -incoming defer; returns (process, qmp)."""
    return start_process(vm, vm.argv + ["-incoming", "defer"], vm.qmp_socket)


def start_process(vm, argv, qmp_socket, spawned=lambda: None):
    """Starts a QEMU waiting for incoming state and connects to its QMP; returns (process, qmp)."""
    os.makedirs(vm.state_dir, exist_ok=True)
    # After a kernel reload /run is a fresh tmpfs: the socket's directory is gone with the old kernel.
    os.makedirs(os.path.dirname(qmp_socket), exist_ok=True)
    with open(vm.qemu_log, "ab") as qemu_log:
        # Own session: the VM must outlive this document, even when SSM kills the document's process group.
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=qemu_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    spawned()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise VmFailure(
                "new QEMU process exited with code %d before QMP came up: %s"
                % (process.returncode, tail_text(vm.qemu_log))
            )
        try:
            qmp = Qmp(qmp_socket)
            if qmp.peer_pid() == process.pid:
                return process, qmp
            qmp.close()
        except (OSError, QmpGone):
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise VmFailure("new QEMU process did not open QMP within %.0f s" % START_TIMEOUT_S)
        time.sleep(0.003)


def restore_vm(vm, in_place, phases, region=None):
    """New process, device state restored over the memory left in place, running. (pid, start, resumedAt)
    The state comes from the VM's state file, or from its slice of the kernel level's state region."""
    if in_place:
        missing = [path for path in ram_files_from_argv(vm.argv) if not os.path.exists(path)]
        if missing:
            # QEMU would create an empty file and the guest would wake up to zeroed RAM.
            raise VmFailure("guest RAM backing file %s is gone; not restoring over empty memory" % ", ".join(missing))
    started = time.monotonic()
    process, qmp = start_incoming_process(vm)
    try:
        phases["start"] = elapsed_ms(started)
        hold(vm.name + ":started")
        started = time.monotonic()
        set_migration_capabilities(qmp, in_place)
        fd = os.open(region["path"] if region else vm.state_file, os.O_RDONLY)
        try:
            if region:
                # QEMU reads the stream from the shared file offset; the stream marks its own end.
                os.lseek(fd, region["offset"], os.SEEK_SET)
            send_fd(qmp, "rejuv-state", fd)
        finally:
            os.close(fd)
        qmp.execute("migrate-incoming", {"uri": "fd:rejuv-state"})
        wait_for_migration(qmp, IN_MEMORY_MIGRATION_TIMEOUT_S + (0 if in_place else 600), "device state restore")
        phases["restore"] = elapsed_ms(started)
        started = time.monotonic()
        ensure_running(qmp, "restored VM is %s, not running")
        phases["cont"] = elapsed_ms(started)
        resumed_at = qmp.event_time_ms("RESUME") or epoch_ms()
    except (QmpGone, QmpError, OSError) as error:
        raise VmFailure("restore in new QEMU pid %d failed: %s" % (process.pid, error))
    finally:
        qmp.close()
    # The state is consumed: restoring it again over memory the guest has since changed would corrupt it.
    discard_saved_state(vm)
    return process.pid, process_start_time(process.pid), resumed_at


def cold_start_vm(vm):
    os.makedirs(vm.state_dir, exist_ok=True)
    os.makedirs(os.path.dirname(vm.qmp_socket), exist_ok=True)
    with open(vm.qemu_log, "ab") as qemu_log:
        process = subprocess.Popen(
            vm.argv,
            stdin=subprocess.DEVNULL,
            stdout=qemu_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise VmFailure("QEMU exited with code %d: %s" % (process.returncode, tail_text(vm.qemu_log)))
        try:
            qmp = Qmp(vm.qmp_socket)
            status = qmp.status()
            qmp.close()
            if status == "running":
                return process.pid
        except (OSError, QmpGone, QmpError):
            pass
        if time.monotonic() > deadline:
            raise VmFailure("cold-started QEMU did not come up within %.0f s" % START_TIMEOUT_S)
        time.sleep(0.01)


def guarded(action, item):
    """Runs action(item); returns None, or the error message when it failed."""
    try:
        action(item)
    except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - one VM's surprise must not abandon the others
        log(traceback.format_exc())
        return "unexpected %s: %s" % (type(error).__name__, error)
    return None


def in_parallel(items, action):
    """Runs action(item) for every item at once; returns {index: error message} for those that failed."""
    errors = {}

    def run(index, item):
        error = guarded(action, item)
        if error is not None:
            errors[index] = error

    threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def warm_reboot(host, run_id, level, assessments, in_place):
    runs = [VmRun(a, run_id, in_place) for a in assessments]
    journal = {
        "runId": run_id,
        "document": "WarmReboot",
        "level": level,
        "memoryInPlace": in_place,
        "status": "running",
        "phase": "rebooting",
        "startedAt": epoch_ms(),
        "vms": {},
    }
    journal_lock = threading.Lock()

    def save_journal(phase):
        with journal_lock:
            journal["phase"] = phase
            journal["vms"] = {r.vm.name: r.journal_entry() for r in runs}
            write_json_atomically(journal_path(host, run_id), journal)

    for run in runs:
        run.prepare()
        run.on_change = lambda: save_journal("rebooting")
    committed = 0
    for run in runs:
        run.choose_path(committed)
        committed += run.successor_bytes
    save_journal("rebooting")
    errors = {}

    def attempt(index, action):
        error = guarded(action, runs[index])
        if error is None:
            return True
        errors[index] = error
        return False

    # Every successor first, while every guest still runs: starting QEMU is CPU-bound (tens of ms),
    # and no guest must be paused while a process of its host is starting.
    def launch(run):
        with REBOOT_SLOTS:
            run.launch_successor()

    handovers = [i for i, r in enumerate(runs) if r.path == "handover"]
    errors.update({handovers[i]: e for i, e in in_parallel([runs[i] for i in handovers], launch).items()})
    launched = [i for i in handovers if i not in errors]
    # Then one guest at a time: a pause of ~10 ms each never overlaps another guest's pause, so none
    # waits on another VM's phases or competes with it for the CPU. A failure stops the rollout.
    handed_over = []
    for index in launched:
        if errors:
            runs[index].abandon_successor()
        elif attempt(index, VmRun.hand_over):
            handed_over.append(index)
    for index in handed_over:
        attempt(index, VmRun.retire_old_process)
    save_journal("rebooting")
    # The VMs that cannot be handed over, after the handovers: their pause includes a QEMU start.
    rollout_stopped = threading.Event()
    if errors:
        rollout_stopped.set()

    def reboot(run):
        with REBOOT_SLOTS:
            if rollout_stopped.is_set():
                return
            try:
                run.stop_restart()
            except VmFailure:
                # A VM that fails to reboot may mean a sick host: leave the VMs not yet begun alone.
                rollout_stopped.set()
                raise
            finally:
                save_journal("rebooting")

    fallbacks = [i for i, r in enumerate(runs) if r.path != "handover"]
    errors.update({fallbacks[i]: e for i, e in in_parallel([runs[i] for i in fallbacks], reboot).items()})
    for index, error in errors.items():
        runs[index].reason = error
        if runs[index].outcome in ("untouched", "resumed"):
            runs[index].outcome = "failed"
    failed = [r for r in runs if r.outcome in ("failed", "rolled-back")]
    if not failed:
        return finish_run(journal, runs, "ok", None, None, save_journal)
    untouched = [r.vm.name for r in runs if r.outcome == "untouched"]
    reason = "; ".join("%s: %s" % (r.vm.name, r.reason) for r in failed)
    if untouched:
        reason += "; the rollout stopped, not rebooted: " + ", ".join(untouched)
    code = "resume-failed" if any(r.quit for r in failed) else "suspend-failed"
    return finish_run(journal, runs, "failed", reason, code, save_journal)


def finish_run(journal, runs, outcome, reason, code, save_journal, extra=None):
    result = {
        "document": "WarmReboot",
        "runId": journal["runId"],
        "level": journal["level"],
        "memoryInPlace": journal["memoryInPlace"],
        "outcome": outcome,
        "vms": [r.report() for r in runs],
        "startedAt": journal["startedAt"],
        "durationMs": round(epoch_ms() - journal["startedAt"], 3),
    }
    result.update(extra or {})
    if reason:
        result["reason"] = reason
        result["reasonCode"] = code
    journal["status"] = "done"
    journal["result"] = result
    journal["exitCode"] = EXIT_OK if outcome == "ok" else EXIT_FAILED
    save_journal("done")
    return result, journal["exitCode"]


# --------------------------------------------------------------------------------------------------
# Level `kernel`: save every VM, kexec, and (the same script, run again by SSM) restore every VM

# Between exit 194 and the kexec: the SSM Agent must first tell the service that communication will be
# interrupted and write its own state (it reboots with `shutdown -r +1`, a minute later; the kexec
# comes first). Open on a real host: whether 5 s is enough for it.
KEXEC_DELAY_S = 5
KEXEC_LOAD_TIMEOUT_S = 120.0


def current_boot_id():
    return (read_text("/proc/sys/kernel/random/boot_id", "") or "").strip()


def kexec_staged():
    return (read_text("/sys/kernel/kexec_loaded", "0") or "0").strip() == "1"


def kernel_run_next_step(journal, boot_id, staged):
    """What a WarmReboot that finds its own kernel-level journal does: "replay" (done), "restore" (the
    new kernel runs), "restore-without-reload" (the kexec never happened and nothing is staged any
    more), "reload-pending" (the staged kexec has not happened yet) or "interrupted" (never repeated
    blindly: saving or restoring stopped halfway; Recover decides)."""
    if journal.get("status") == "done":
        return "replay"
    if journal.get("phase") != "kernel:reloading":
        return "interrupted"
    if journal.get("bootIdBefore") != boot_id:
        return "restore"
    return "reload-pending" if staged else "restore-without-reload"


def write_back(paths):
    """Guest RAM on a raw /dev/pmem device, and the state region, are mapped or written through the block
    device's page cache: they reach the region, and so the next kernel, only once written back."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.sync()


def stage_kexec(settings):
    """kexec -l the next kernel with the running command line (so the same memmap= regions); None when
    staged, else why not."""
    command = ["kexec", "-l", settings["kernel"], "--initrd=" + settings["initrd"], "--reuse-cmdline"]
    try:
        loaded = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=KEXEC_LOAD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if loaded.returncode != 0:
        return "exit %d: %s" % (loaded.returncode, loaded.stderr.decode("utf-8", "replace").strip()[-300:])
    return None


# Written to the console when the kexec is scheduled and when it is entered: an operator at the console
# sees why the host went away, and the lab times the delay and the kexec itself from outside by them
# (the host's own clock restarts from the RTC in the new kernel).
KEXEC_SCHEDULED_MARK = "rejuv: kexec in %d s" % KEXEC_DELAY_S
KEXEC_ENTERED_MARK = "rejuv: kexec now"


def unstage_kexec():
    """Unloads a staged kexec kernel, so that no later reboot enters it by surprise; best effort."""
    try:
        subprocess.run(["kexec", "-u"], stdin=subprocess.DEVNULL, capture_output=True, timeout=KEXEC_LOAD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        log("kexec -u failed: %s" % error)


def schedule_kexec():
    """The reload itself, KEXEC_DELAY_S from now; detached in its own session, as it must outlive this
    script, which exits 194 first."""
    reboot = "if [ -d /run/systemd/system ]; then systemctl kexec; else kexec -e; fi"

    def mark(text):
        # A host without a writable console still reloads: the redirection's failure is ignored.
        return "echo '%s' >/dev/console 2>/dev/null" % text

    subprocess.Popen(
        ["sh", "-c", "%s; sleep %d; %s; %s" % (mark(KEXEC_SCHEDULED_MARK), KEXEC_DELAY_S,
                                                mark(KEXEC_ENTERED_MARK), reboot)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def kernel_reload(host, run_id, assessments, settings):
    """First run (the old kernel): the next kernel staged first (loading it takes seconds, and no guest
    need wait for that), then every VM stopped and saved into the state region (the barrier: no VM is
    quit before all are saved), quit, written back, kexec scheduled. Returns (None, EXIT_REBOOT) so SSM
    reruns the script after the reload, or a failed result when it never starts."""
    runs = [VmRun(a, run_id, True) for a in assessments]
    journal = {
        "runId": run_id,
        "document": "WarmReboot",
        "level": "kernel",
        "memoryInPlace": True,
        "status": "running",
        "phase": "kernel:saving",
        "startedAt": epoch_ms(),
        "bootIdBefore": current_boot_id(),
        "stateRegion": settings["stateRegion"],
        "vms": {},
    }

    def save_journal(phase):
        journal["phase"] = phase
        journal["vms"] = {r.vm.name: r.journal_entry() for r in runs}
        write_json_atomically(journal_path(host, run_id), journal)

    save_journal("kernel:saving")
    started = time.monotonic()
    failure = stage_kexec(settings)
    journal["kexecLoadMs"] = elapsed_ms(started)
    if failure is not None:
        return finish_run(journal, runs, "failed", "kexec -l failed (%s); no VM was touched" % failure,
                          "reload-failed", save_journal, {"kernelReloaded": False})
    region_path = settings["stateRegion"]
    fd = os.open(region_path, os.O_RDWR)
    try:
        limit = os.lseek(fd, 0, os.SEEK_END)
        offset = 0
        for run in runs:
            try:
                run.prepare()
                end = run.suspend_to_region(fd, region_path, offset, limit)
            except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
                run.reason = run.undo_suspend(error)
                stopped = [r for r in runs if r is not run and r.stopped_at is not None]
                for other in stopped:
                    other.reason = other.undo_suspend("%s failed to save" % run.vm.name)
                    if other.outcome == "rolled-back":
                        other.reason = "continued in its original process: %s failed to save" % run.vm.name
                reason = "; ".join("%s: %s" % (r.vm.name, r.reason) for r in runs if r.reason)
                unstage_kexec()
                return finish_run(journal, runs, "failed", "no kexec: " + reason, "suspend-failed", save_journal)
            offset = -(-end // STATE_REGION_ALIGNMENT) * STATE_REGION_ALIGNMENT
            save_journal("kernel:saving")
        os.fsync(fd)
    finally:
        os.close(fd)
    # The barrier held: every VM's state is in the region. Only now does any old process go.
    for run in runs:
        try:
            run.stop_old_process()
        except (QmpGone, QmpError, OSError) as error:
            log("%s: quit failed (%s); killing QEMU pid %d" % (run.vm.name, error, run.pid_before))
            if same_process_alive(run.pid_before, run.start_time_before):
                os.kill(run.pid_before, 9)
            run.quit = True
    started = time.monotonic()
    ram_paths = sorted({p for r in runs for p in ram_files_from_argv(r.vm.argv)})
    write_back(ram_paths + [region_path])
    journal["writeBackMs"] = elapsed_ms(started)
    journal["kexecScheduledAt"] = epoch_ms()
    save_journal("kernel:reloading")
    os.sync()
    schedule_kexec()
    log("run %s: every VM saved; kexec in %d s; exit %d asks SSM to rerun this script after it"
        % (run_id, KEXEC_DELAY_S, EXIT_REBOOT))
    return None, EXIT_REBOOT


def restore_after_reload(host, journal, boot_id):
    """Second run (normally the new kernel): every VM restored from its slice of the state region over
    the RAM the region kept, and continued; the whole run's result, as SSM's rerun prints it."""
    journal["bootIdAfter"] = boot_id
    journal["phase"] = "kernel:restoring"
    journal["restoreStartedAt"] = epoch_ms()
    write_json_atomically(journal_path(host, journal["runId"]), journal)
    vms, _ = load_inventory(host)
    names = sorted(journal["vms"])
    entries = {}

    def restore(name):
        record = journal["vms"][name]
        entry = {"name": name, "outcome": "failed", "pidBefore": record.get("pidBefore"),
                 "ramBytes": record.get("ramBytes") or 0, "phasesMs": dict(record.get("phasesMs") or {}),
                 "path": "kernel-reload"}
        for key in ("stateBytes", "stoppedAt"):
            if record.get(key) is not None:
                entry[key] = record[key]
        entries[name] = entry
        vm = vms.get(name)
        if vm is None:
            raise VmFailure("no longer in the inventory")
        meta, why_not = usable_saved_state(vm)
        if meta is None or meta.get("runId") != journal["runId"]:
            raise VmFailure("its device state cannot be restored: %s" % (why_not or "saved by another run"))
        pid, start, resumed_at = restore_vm(vm, True, entry["phasesMs"], meta["region"])
        record.update(pidAfter=pid, startTimeAfter=start, outcome="resumed")
        entry.update(outcome="resumed", pidAfter=pid, resumedAt=resumed_at)
        if entry.get("stoppedAt") is not None:
            entry["pauseMs"] = round(resumed_at - entry["stoppedAt"], 3)

    for index, error in in_parallel(names, restore).items():
        entries[names[index]]["reason"] = "%s; left for Recover" % error
        journal["vms"][names[index]]["outcome"] = "failed"
    reloaded = boot_id != journal.get("bootIdBefore")
    result = {
        "document": "WarmReboot",
        "runId": journal["runId"],
        "level": "kernel",
        "memoryInPlace": True,
        "kernelReloaded": reloaded,
        "bootIdBefore": journal.get("bootIdBefore"),
        "bootIdAfter": boot_id,
        "vms": [entries[n] for n in names],
        "startedAt": journal["startedAt"],
        "durationMs": round(epoch_ms() - journal["startedAt"], 3),
    }
    failed = [e for e in result["vms"] if e["outcome"] != "resumed"]
    reasons = []
    if not reloaded:
        reasons.append("the host kernel was not reloaded (%s); every VM restored on the running kernel"
                       % journal.get("reloadFailure", "the scheduled kexec did not happen"))
    if failed:
        reasons.append("; ".join("%s: %s" % (e["name"], e["reason"]) for e in failed))
    result["outcome"] = "failed" if reasons else "ok"
    if reasons:
        result["reason"] = "; ".join(reasons)
        result["reasonCode"] = "resume-failed" if failed else "reload-failed"
    journal.update(status="done", phase="done", result=result,
                   exitCode=EXIT_FAILED if reasons else EXIT_OK)
    write_json_atomically(journal_path(host, journal["runId"]), journal)
    return result, journal["exitCode"]


def continue_kernel_run(host, journal):
    """The same WarmReboot again, finding its kernel-level journal: SSM's rerun after the reload."""
    step = kernel_run_next_step(journal, current_boot_id(), kexec_staged())
    if step in ("restore", "restore-without-reload"):
        return restore_after_reload(host, journal, current_boot_id())
    if step == "reload-pending":
        raise Refusal("reload-pending", "run %s staged a kexec that has not happened yet; nothing was touched"
                      % journal["runId"])
    raise Refusal("interrupted", "run %s was interrupted during %s and is not repeated; send Recover"
                  % (journal["runId"], journal.get("phase")))


# --------------------------------------------------------------------------------------------------
# Documents


def refused_result(document, refusal, run_id):
    result = {"document": document, "outcome": "refused", "reason": refusal.reason, "reasonCode": refusal.code}
    result.update(vms=refusal.vms)
    if run_id is not None:
        result["runId"] = run_id
    return result


def sample_heartbeats(assessments, window_s):
    """Samples every guest's heartbeat at once, so a host of silent guests costs one window, not one each."""
    sampled = [a for a in assessments if a.vm is not None]

    def sample(assessment):
        assessment.heartbeat = sample_heartbeat(assessment.vm, window_s)

    for index, error in in_parallel(sampled, sample).items():
        sampled[index].heartbeat = {"advancing": False, "first": None, "last": None, "problem": error}
    return [a for a in sampled if not a.heartbeat["advancing"]]


def command_preflight(host, args):
    targets, problems = select_vms(host, args.vms, require_all=False)
    allow_silent = args.allow_silent_guests == "true"
    window_s = args.heartbeat_timeout_seconds
    lock = HostLock(host, "Preflight", args.run_id)
    try:
        assessments = [assess_vm(t, problems, keep_qmp=False) for t in targets]
        host_reasons = assess_host(host, args.level, assessments)
        # Sampled before anything is touched, so that Verify can tell a guest this run silenced from one
        # that was silent already.
        silent = sample_heartbeats(assessments, window_s)
    finally:
        lock.release()
    silenced_only = []
    if not allow_silent:
        for assessment in silent:
            if not assessment.reasons:
                silenced_only.append(assessment)
            assessment.reasons.append(
                silence_reason(assessment.heartbeat, window_s)
                + " (send allowSilentGuests=true to proceed anyway; Verify will not count it as a failure)"
            )
    vms = [a.report() for a in assessments]
    refused = [a for a in assessments if a.reasons]
    result = {
        "document": "Preflight",
        "runId": args.run_id,
        "level": args.level,
        "allowSilentGuests": allow_silent,
        "silentVms": [a.name for a in silent],
        "vms": vms,
    }
    if host_reasons or refused:
        reasons = host_reasons + ["%s: %s" % (a.name, "; ".join(a.reasons)) for a in refused]
        code = refusal_code(args.level, host_reasons)
        if code == "vm-not-ready" and len(silenced_only) == len(refused):
            code = "guest-silent"
        result.update(outcome="refused", reason="; ".join(reasons), reasonCode=code)
        return result, EXIT_REFUSED
    result["outcome"] = "ok"
    return result, EXIT_OK


def command_warm_reboot(host, args):
    in_place = not args.classic
    if args.classic and args.level == "kernel":
        raise Refusal("bad-arguments", "--classic copies RAM through a state file; level kernel keeps it in place",
                      EXIT_INVALID_REQUEST)
    previous = read_json(journal_path(host, args.run_id))
    if previous and previous.get("status") == "done":
        return dict(previous["result"], replayed=True), previous.get("exitCode", EXIT_FAILED)
    targets, problems = select_vms(host, args.vms, require_all=True)
    lock = HostLock(host, "WarmReboot", args.run_id)
    assessments = []
    try:
        previous = read_json(journal_path(host, args.run_id))
        if previous and previous.get("status") == "done":
            return dict(previous["result"], replayed=True), previous.get("exitCode", EXIT_FAILED)
        if previous and previous.get("level") == "kernel":
            return continue_kernel_run(host, previous)
        if previous:
            raise Refusal(
                "interrupted",
                "run %s was interrupted during %s and is not repeated; send Recover"
                % (args.run_id, previous.get("phase")),
            )
        assessments = [assess_vm(t, problems, keep_qmp=True, in_place=in_place) for t in targets]
        host_reasons = assess_host(host, args.level, assessments)
        refused = [a for a in assessments if a.reasons]
        if host_reasons or refused:
            reasons = host_reasons + ["%s: %s" % (a.name, "; ".join(a.reasons)) for a in refused]
            raise Refusal(
                refusal_code(args.level, host_reasons),
                "nothing was touched: " + "; ".join(reasons),
                vms=[a.report() for a in assessments],
            )
        if args.level == "kernel":
            settings, _ = parse_kernel_config(read_json(kernel_config_path(host)), os.uname().release)
            return kernel_reload(host, args.run_id, assessments, settings)
        return warm_reboot(host, args.run_id, args.level, assessments, in_place)
    finally:
        for assessment in assessments:
            if assessment.qmp is not None:
                assessment.qmp.close()
        lock.release()


def first_step_back(previous, counters):
    """The first (before, after) pair where the heartbeat counter did not go up, or None."""
    for counter in counters:
        if previous is not None and counter <= previous:
            return previous, counter
        previous = counter
    return None


def heartbeat_problem(vm, record, timeout_s, entry):
    """Waits for the guest's counter to pass its value at suspend; what is wrong with it, or None."""
    at_suspend = record.get("heartbeatAtSuspend")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            counters = heartbeat_counters_since(vm, record.get("heartbeatOffset", 0))
        except OSError as error:
            return "heartbeat log unreadable: %s" % error
        if counters:
            entry["heartbeatNow"] = counters[-1]
        step_back = first_step_back(at_suspend, counters)
        if step_back:
            return "guest restarted: its heartbeat went back from %d to %d" % step_back
        if counters and (at_suspend is None or counters[-1] > at_suspend):
            return None
        if time.monotonic() > deadline:
            return "guest heartbeat did not advance within %d s of resume" % timeout_s
        time.sleep(HEARTBEAT_POLL_S)


def verify_vm(vm, record, timeout_s, silent_at_preflight):
    entry = {"name": vm.name, "pidBefore": record.get("pidBefore")}
    if silent_at_preflight:
        entry["silentAtPreflight"] = True
    problems = []
    try:
        qmp = Qmp(vm.qmp_socket)
        try:
            entry["pid"] = qmp.peer_pid()
            entry["status"] = qmp.status()
        finally:
            qmp.close()
    except (OSError, QmpGone, QmpError) as error:
        problems.append("QMP is not reachable: %s" % error)
    if entry.get("status") not in (None, "running"):
        problems.append("VM is %s, not running" % entry["status"])
    if "pid" in entry and entry["pid"] == record.get("pidBefore"):
        if process_start_time(entry["pid"]) == record.get("startTimeBefore"):
            problems.append("QEMU process %d is the one from before the reboot" % entry["pid"])
    entry["heartbeatAtSuspend"] = record.get("heartbeatAtSuspend")
    if silent_at_preflight:
        # Its process and run state are this run's doing and still checked; its heartbeat was gone
        # before anything was touched, so its silence now is reported, never blamed on the reboot.
        problem = heartbeat_problem(vm, record, min(timeout_s, SILENT_GUEST_WAIT_S), entry)
        if problem and not problems:
            entry["outcome"] = "silent-at-preflight"
            entry["reason"] = "%s; it was already silent at Preflight, so not counted against this run" % problem
            return entry
    else:
        problem = heartbeat_problem(vm, record, timeout_s, entry)
        if problem:
            problems.append(problem)
    entry["outcome"] = "failed" if problems else "verified"
    if problems:
        entry["reason"] = "; ".join(problems)
    return entry


def command_verify(host, args):
    targets, problems = select_vms(host, args.vms, require_all=False)
    silent_at_preflight = set() if args.silent_at_preflight == "-" else set(args.silent_at_preflight.split(","))
    unknown = sorted(silent_at_preflight - {getattr(t, "name", t) for t in targets})
    if unknown:
        raise Refusal(
            "unknown-vm",
            "silentAtPreflight names %s, which this Verify does not check" % ", ".join(repr(n) for n in unknown),
            EXIT_INVALID_REQUEST,
        )
    journal = read_json(journal_path(host, args.run_id))
    if journal is None:
        raise Refusal("unknown-run", "no WarmReboot run %s on this host" % args.run_id, EXIT_INVALID_REQUEST)
    lock = HostLock(host, "Verify", args.run_id)
    try:
        entries = [None] * len(targets)

        def verify_target(index):
            target = targets[index]
            if not isinstance(target, Vm):
                entries[index] = {"name": target, "outcome": "failed", "reason": problems.get(target, "")}
                return
            record = journal.get("vms", {}).get(target.name)
            if record is None:
                entries[index] = {"name": target.name, "outcome": "failed", "reason": "not part of run " + args.run_id}
            else:
                entries[index] = verify_vm(
                    target, record, args.heartbeat_timeout_seconds, target.name in silent_at_preflight
                )

        # In parallel: a guest that never comes back must not make the others wait out its timeout too.
        for index, error in in_parallel(list(range(len(targets))), verify_target).items():
            name = getattr(targets[index], "name", targets[index])
            entries[index] = {"name": name, "outcome": "failed", "reason": error}
    finally:
        lock.release()
    failed = [e for e in entries if e["outcome"] not in ("verified", "silent-at-preflight")]
    result = {"document": "Verify", "runId": args.run_id, "outcome": "failed" if failed else "ok", "vms": entries}
    excused = [e["name"] for e in entries if e["outcome"] == "silent-at-preflight"]
    if excused:
        result["silentAtPreflight"] = excused
    if journal.get("status") != "done" or journal.get("result", {}).get("outcome") != "ok":
        result["runOutcome"] = journal.get("result", {}).get("outcome", journal.get("status"))
    if failed:
        result["reason"] = "%d of %d VMs failed verification" % (len(failed), len(entries))
        result["reasonCode"] = "verification-failed"
        return result, EXIT_FAILED
    return result, EXIT_OK


def settle_handover(vm, record, entry):
    """A handover a run left half done (the agent died, or the run failed past the point of rolling
    back): decide which of the two processes keeps the guest. A successor that runs it keeps it (the
    old process, stopped after migrating, is ended and the successor's QMP socket moved into place);
    any other successor is ended, and the old process is then recovered like any other. Marks the
    journal record settled, except when the VM is left to a person."""
    successor = record.get("successor") or {}
    path = successor.get("qmpSocket")
    if record.get("path") != "handover" or record.get("handover") in (None, "done", "abandoned") or not path:
        return
    pid, start = successor.get("pid"), successor.get("startTime")
    if pid is None:
        wanted = successor_argv(vm, path)
        for candidate in find_vm_processes(vm):
            if process_argv(candidate) == wanted:
                pid, start = candidate, process_start_time(candidate)
    status = None
    # The agent may have died just after moving the successor's socket into place.
    for candidate in (path, vm.qmp_socket) if same_process_alive(pid, start) else ():
        try:
            qmp = Qmp(candidate, timeout_s=3.0)
            try:
                if qmp.peer_pid() == pid:
                    status = qmp.status()
                    break
            finally:
                qmp.close()
        except (OSError, QmpGone, QmpError, ValueError):
            continue
    if status == "running":
        old_pid, old_start = record.get("pidBefore"), record.get("startTimeBefore")
        if same_process_alive(old_pid, old_start):
            os.kill(old_pid, 9)
            wait_for_exit(old_pid, old_start, QUIT_TIMEOUT_S)
        if os.path.exists(path):
            os.replace(path, vm.qmp_socket)
        entry["handover"] = "completed: successor pid %d runs the guest; old process ended, QMP socket moved" % pid
        record["handover"] = "done"
        return
    # Once the old process's device state has reached the successor, the successor (started with
    # -incoming, without -S) may have run the guest and changed its RAM; unless it is known never to
    # have loaded the state (still inmigrate), continuing the old process would run stale device state
    # over that RAM. The VM is then left to a person, named, never resumed blindly.
    handed_over = status != "inmigrate" and old_migration_status(vm) == "completed"
    if same_process_alive(pid, start):
        os.kill(pid, 9)
        wait_for_exit(pid, start, QUIT_TIMEOUT_S)
        entry["handover"] = "abandoned: successor pid %d (%s) ended" % (pid, status or "QMP unreachable")
    else:
        entry["handover"] = "abandoned: successor %s was gone" % ("pid %d" % pid if pid else "process")
    if path:
        remove_file(path)
    if handed_over:
        raise VmFailure(
            "its device state had reached the successor, which may have run the guest before it was lost; "
            "the original process was not resumed over RAM the successor may have changed"
        )
    record["handover"] = "abandoned"


def old_migration_status(vm):
    """The migration status the VM's original process reports, or None when it cannot be asked."""
    try:
        qmp = Qmp(vm.qmp_socket, timeout_s=3.0)
    except (OSError, QmpGone, QmpError, ValueError):
        return None
    try:
        return qmp.execute("query-migrate").get("status")
    except (QmpGone, QmpError, OSError):
        return None
    finally:
        qmp.close()


def run_journals(host):
    """Every WarmReboot journal on the host, oldest first."""
    journals = []
    if os.path.isdir(host.runs_dir):
        for file_name in os.listdir(host.runs_dir):
            journal = read_json(os.path.join(host.runs_dir, file_name)) if file_name.endswith(".json") else None
            if journal and isinstance(journal.get("vms"), dict) and RUN_ID.fullmatch(str(journal.get("runId"))):
                journals.append(journal)
    return sorted(journals, key=lambda j: j.get("startedAt") or 0)


def recover_vm(vm, cold_start, record=None):
    """Brings one VM back from whatever a failed run left; reports what it found and what it did."""
    entry = {"name": vm.name}
    if record is not None:
        try:
            settle_handover(vm, record, entry)
        except (OSError, VmFailure) as error:
            entry["outcome"] = "failed"
            entry["reason"] = "could not settle the handover its run left unfinished: %s" % error
            return entry
    qmp = None
    try:
        qmp = Qmp(vm.qmp_socket, timeout_s=3.0)
    except (OSError, QmpGone, QmpError, ValueError):
        qmp = None
    if qmp is not None:
        try:
            entry["pid"] = qmp.peer_pid()
            status = qmp.status()
            entry["found"] = status
            if status == "running":
                entry["action"] = "none"
                if read_json(vm.state_meta) is not None or os.path.exists(vm.state_file + ".partial"):
                    entry["action"] = "discarded stale device state"
                discard_saved_state(vm)
                entry["outcome"] = "running"
                return entry
            if status in ("paused", "postmigrate", "finish-migrate"):
                if qmp.execute("query-migrate").get("status") in ("active", "setup", "device"):
                    qmp.execute("migrate_cancel")
                qmp.execute("cont")
                discard_saved_state(vm)
                entry["action"] = "cont"
                entry["outcome"] = "running" if qmp.status() == "running" else "failed"
                return entry
            if status != "inmigrate":
                entry["action"] = "none"
                entry["outcome"] = "needs-attention"
                entry["reason"] = "VM is %s; left for a person" % status
                return entry
            # A new process waiting for its state: restore into it if the state is there, else replace it.
            meta, why_not = usable_saved_state(vm)
            pid, start = entry["pid"], process_start_time(entry["pid"])
            qmp.quit()
            qmp = None
            wait_for_exit(pid, start, QUIT_TIMEOUT_S)
            entry["found"] = "inmigrate, " + ("device state saved" if meta else why_not)
        except (QmpGone, QmpError, OSError) as error:
            entry["outcome"] = "failed"
            entry["reason"] = "QMP failed while inspecting: %s" % error
            return entry
        finally:
            if qmp is not None:
                qmp.close()
    else:
        alive = find_vm_processes(vm)
        if alive:
            entry["found"] = "QEMU pid %s alive but QMP unreachable" % ",".join(map(str, alive))
            entry["action"] = "none"
            entry["outcome"] = "unresponsive"
            entry["reason"] = "QEMU process is alive but does not answer on %s" % vm.qmp_socket
            return entry
    meta, why_not = usable_saved_state(vm)
    entry.setdefault("found", "process gone, " + ("device state saved" if meta else why_not))
    try:
        if meta is not None:
            phases = {}
            entry["pid"], _, _ = restore_vm(vm, meta.get("memoryInPlace", True), phases, meta.get("region"))
            entry["action"] = "restored from saved device state"
            entry["phasesMs"] = phases
            entry["outcome"] = "running"
        elif cold_start:
            discard_saved_state(vm)
            entry["pid"] = cold_start_vm(vm)
            entry["action"] = "cold-started (the guest booted afresh)"
            entry["outcome"] = "running"
        else:
            entry["action"] = "none"
            entry["outcome"] = "lost"
            entry["reason"] = "QEMU process is gone and %s; cold start not allowed" % why_not
    except (VmFailure, QmpGone, QmpError, OSError) as error:
        entry["outcome"] = "failed"
        entry["reason"] = str(error)
    return entry


def command_recover(host, args):
    targets, problems = select_vms(host, args.vms, require_all=False)
    lock = HostLock(host, "Recover", args.run_id)
    try:
        entries = []
        journals = run_journals(host)
        # Each VM's record in the latest run that names it, finished or interrupted: a finished run can
        # leave a handover unsettled too (the successor died after the device state reached it, or the
        # old process would not quit), and a plain `cont` of the old process would then run stale
        # device state over RAM the successor may have changed.
        latest = {name: journal for journal in journals for name in journal["vms"]}
        changed = set()
        for target in targets:
            if not isinstance(target, Vm):
                entries.append({"name": target, "outcome": "failed", "reason": problems.get(target, "")})
                continue
            journal = latest.get(target.name)
            record = journal["vms"][target.name] if journal else None
            before = record.get("handover") if record else None
            entries.append(recover_vm(target, args.cold_start == "true", record))
            # Settled once (settle_handover marks the record): a later Recover must not act on it again.
            if record and record.get("handover") != before:
                changed.add(journal["runId"])
        for journal in journals:
            if journal.get("status") == "running":
                journal["status"] = "recovered"
                changed.add(journal["runId"])
            if journal["runId"] in changed:
                write_json_atomically(journal_path(host, journal["runId"]), journal)
    finally:
        lock.release()
    not_running = [e for e in entries if e["outcome"] != "running"]
    result = {"document": "Recover", "runId": args.run_id, "vms": entries}
    if not not_running:
        result["outcome"] = "ok"
        return result, EXIT_OK
    result["outcome"] = "partial" if len(not_running) < len(entries) else "failed"
    result["reason"] = "not running after recovery: " + ", ".join(
        "%s (%s)" % (e["name"], e["outcome"]) for e in not_running
    )
    result["reasonCode"] = "vms-not-recovered"
    return result, EXIT_PARTIAL


# --------------------------------------------------------------------------------------------------
# Document CollectAging: measurements of the host's aging, read-only (no lock, nothing written)

# The host id the control plane expects, or "-" when one command goes to a fleet by tag: the host is
# then known by the instance id its SSM agent reports (AWS_SSM_INSTANCE_ID).
HOST_ID_OR_FLEET = re.compile(r"^(-|[A-Za-z0-9][A-Za-z0-9._-]{0,62})$")
INSTANCE_ID = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")
# Orders of a 2 MiB huge page (9) and above, with 4 KiB pages: where fragmentation hurts a hypervisor.
HUGE_PAGE_ORDER = 9
MEMINFO_FIELDS = {
    "memTotalBytes": "MemTotal",
    "memAvailableBytes": "MemAvailable",
    "sUnreclaimBytes": "SUnreclaim",
    "pageTablesBytes": "PageTables",
    "vmallocUsedBytes": "VmallocUsed",
    "swapFreeBytes": "SwapFree",
    "swapTotalBytes": "SwapTotal",
}


def parse_meminfo(text):
    """The meminfo fields the collector reports, in bytes; a field the kernel does not print is missing."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    missing = [field for field in MEMINFO_FIELDS.values() if field not in values]
    if missing:
        raise ValueError("/proc/meminfo has no %s" % ", ".join(missing))
    return {name: values[field] for name, field in MEMINFO_FIELDS.items()}


def parse_buddyinfo(text):
    """Free blocks per order, summed over every node and zone (huge pages come from any of them)."""
    per_order = []
    for line in text.splitlines():
        _, _, counts = line.partition(" zone ")
        fields = counts.split()[1:]
        if not fields:
            continue
        for order, count in enumerate(fields):
            if order == len(per_order):
                per_order.append(0)
            per_order[order] += int(count)
    if not per_order:
        raise ValueError("/proc/buddyinfo lists no zone")
    return per_order


def unusable_free_index(free_blocks, order):
    """Gorman's unusable free space index: the share of free memory in blocks too small for `order`.

    0 when every free page could serve an allocation of that order, 1 when none could. No free memory
    at all counts as 1, as the kernel's own unusable_free_index does.
    """
    total = sum(count << i for i, count in enumerate(free_blocks))
    if total == 0:
        return 1.0
    usable = sum(count << i for i, count in enumerate(free_blocks) if i >= order)
    return round((total - usable) / total, 6)


def parse_uptime(text):
    return float(text.split()[0])


def clock_ticks():
    return os.sysconf("SC_CLK_TCK")


def parse_process_status(text):
    """VmRSS (bytes) and Threads from /proc/<pid>/status."""
    fields = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields[key] = rest.split()
    rss = fields.get("VmRSS")
    threads = fields.get("Threads")
    if not rss or not threads:
        raise ValueError("no VmRSS or Threads (a kernel thread, or a process that is exiting)")
    return int(rss[0]) * 1024, int(threads[0])


def measure_process(pid, host_uptime_s):
    with open("/proc/%d/status" % pid) as handle:
        rss_bytes, threads = parse_process_status(handle.read())
    open_fds = len(os.listdir("/proc/%d/fd" % pid))
    start_ticks = process_start_time(pid)
    if start_ticks is None:
        raise OSError("process %d exited while it was measured" % pid)
    return {
        "pid": pid,
        "rssBytes": rss_bytes,
        "threads": threads,
        "openFds": open_fds,
        "uptimeSeconds": round(max(0.0, host_uptime_s - start_ticks / clock_ticks()), 3),
    }


def measure_vm(vm, host_uptime_s):
    """The VM's QEMU process; during a handover two run it, and the older one (the guest's) counts."""
    pids = find_vm_processes(vm)
    if not pids:
        raise VmFailure("no QEMU process runs its inventory argv")
    pid = min(pids, key=lambda p: process_start_time(p) or 0)
    return dict(measure_process(pid, host_uptime_s), vm=vm.name)


def command_collect(host, args):
    with open("/proc/meminfo") as handle:
        memory = parse_meminfo(handle.read())
    with open("/proc/buddyinfo") as handle:
        free_blocks = parse_buddyinfo(handle.read())
    with open("/proc/uptime") as handle:
        uptime_s = parse_uptime(handle.read())
    memory["uptimeSeconds"] = round(uptime_s, 3)
    memory["unusableFreeIndex"] = {
        "order%d" % order: unusable_free_index(free_blocks, order)
        for order in range(HUGE_PAGE_ORDER, len(free_blocks))
    }
    vms, problems = load_inventory(host)
    qemu, unmeasured = [], [{"vm": name, "reason": problem} for name, problem in sorted(problems.items())]
    for name in sorted(vms):
        try:
            qemu.append(measure_vm(vms[name], uptime_s))
        except (OSError, ValueError, VmFailure) as error:
            unmeasured.append({"vm": name, "reason": str(error)})
    instance_id = os.environ.get("AWS_SSM_INSTANCE_ID", "")
    result = {
        "document": "CollectAging",
        "outcome": "ok",
        "hostId": None if args.host_id == "-" else args.host_id,
        "measuredAt": int(time.time() * 1000),
        "host": memory,
        "qemu": qemu,
        "unmeasuredVms": unmeasured,
    }
    if INSTANCE_ID.fullmatch(instance_id):
        result["instanceId"] = instance_id
    return result, EXIT_OK


# --------------------------------------------------------------------------------------------------
# Command line


def pattern(regex, what):
    def check(value):
        if not regex.fullmatch(value):
            raise argparse.ArgumentTypeError("%s must match %s" % (what, regex.pattern))
        return value

    return check


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="rejuv_host.py")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("preflight", "warm-reboot", "verify", "recover"):
        sub = commands.add_parser(name)
        sub.add_argument("--run-id", required=True, type=pattern(RUN_ID, "run id"))
        sub.add_argument("--vms", default="*", type=pattern(VM_SELECTION, "VM selection"))
        if name in ("preflight", "warm-reboot"):
            sub.add_argument("--level", default="vmm-process", choices=LEVELS)
        if name == "preflight":
            sub.add_argument("--allow-silent-guests", default="false", choices=("true", "false"))
            sub.add_argument("--heartbeat-timeout-seconds", type=int, default=5, choices=range(1, 61))
        if name == "warm-reboot":
            # The classic baseline for the bench: guest RAM is copied into the state file as well.
            sub.add_argument("--classic", action="store_true", help=argparse.SUPPRESS)
        if name == "verify":
            sub.add_argument("--heartbeat-timeout-seconds", type=int, default=30, choices=range(1, 1000))
            sub.add_argument("--silent-at-preflight", default="-", type=pattern(VM_LIST, "VM list"))
        if name == "recover":
            sub.add_argument("--cold-start", default="false", choices=("true", "false"))
    collect = commands.add_parser("collect")
    collect.add_argument("--host-id", required=True, type=pattern(HOST_ID_OR_FLEET, "host id"))
    return parser.parse_args(argv)


DOCUMENTS = {
    "preflight": ("Preflight", command_preflight),
    "warm-reboot": ("WarmReboot", command_warm_reboot),
    "verify": ("Verify", command_verify),
    "recover": ("Recover", command_recover),
    "collect": ("CollectAging", command_collect),
}

# The coordinator reads only the first 24,000 characters of stdout.
MAX_RESULT_CHARS = 23000


def emit(result):
    result = dict(result, schemaVersion=RESULT_SCHEMA_VERSION)
    line = json.dumps(result, separators=(",", ":"), sort_keys=True)
    if len(line) > MAX_RESULT_CHARS:
        keep = ("name", "outcome", "reason", "pauseMs", "stateBytes")
        result["vms"] = [{k: v for k, v in vm.items() if k in keep} for vm in result.get("vms", [])]
        result["detailTrimmed"] = True
        line = json.dumps(result, separators=(",", ":"), sort_keys=True)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv):
    try:
        args = parse_args(argv)
    except SystemExit as exit_request:
        emit(
            {
                "document": "unknown",
                "outcome": "refused",
                "reason": "invalid arguments (details on stderr)",
                "reasonCode": "bad-arguments",
                "vms": [],
            }
        )
        return EXIT_INVALID_REQUEST if exit_request.code else EXIT_OK
    document, command = DOCUMENTS[args.command]
    host = Host(os.environ.get("REJUV_HOST_ROOT") or "/")
    # CollectAging takes no run id: it is a measurement, not a step of a run.
    run_id = getattr(args, "run_id", None)
    try:
        result, code = command(host, args)
    except Refusal as refusal:
        result, code = refused_result(document, refusal, run_id), refusal.exit_code
    except Exception as error:  # noqa: BLE001 - whatever happens, the coordinator gets its one line
        log(traceback.format_exc())
        result = {
            "document": document,
            "outcome": "failed",
            "reason": "agent error: %s: %s" % (type(error).__name__, error),
            "reasonCode": "agent-error",
            "vms": [],
        }
        if run_id is not None:
            result["runId"] = run_id
        code = EXIT_FAILED
    if result is not None:
        # A first kernel-level run exits 194 with nothing on stdout: SSM reruns the script after the
        # reload, and the rerun prints the whole run's one result line.
        emit(result)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
