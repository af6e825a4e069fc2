"""Rules about QEMU command lines, pure functions of an inventory entry: RAM backing files, the QMP
option, a handover successor's argv, what stops a VM from being handed over."""

from __future__ import annotations

import json
import re
from typing import Callable, Dict, List, Optional, Tuple

from .errors import VmFailure
from .inventory import Vm


def parse_object_option(value: str) -> Dict[str, str]:
    """A QEMU -object value, in either the key=value or the JSON syntax."""
    if value.startswith("{"):
        try:
            parsed: Dict[str, object] = json.loads(value)
            return {str(k): str(v) for k, v in parsed.items()}
        except ValueError:
            return {}
    fields: Dict[str, str] = {}
    for index, part in enumerate(value.replace(",,", "\0").split(",")):
        part = part.replace("\0", ",")
        if "=" in part:
            key, _, val = part.partition("=")
            fields[key] = val
        elif index == 0:
            fields["qom-type"] = part
    return fields


def ram_files_from_argv(argv: List[str]) -> List[str]:
    """Files backing guest RAM (memory-backend-file mem-path values) that must survive the reload."""
    files: List[str] = []
    for index, arg in enumerate(argv[:-1]):
        if arg == "-object":
            fields = parse_object_option(argv[index + 1])
            if fields.get("qom-type") == "memory-backend-file" and fields.get("mem-path"):
                files.append(fields["mem-path"])
    return files


# A successor's own QMP socket: the inventory path plus ".h<pid of the process it replaces>". Unique
# per generation, so no process ever unlinks (at exit) a path a later one listens on.
SUCCESSOR_QMP_SUFFIX = re.compile(r"\.h[0-9]{1,10}")
# sun_path is 108 bytes including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


def qmp_option_index(vm: Vm) -> Optional[int]:
    """Index in the inventory argv of the `-qmp unix:<qmpSocket>[,...]` value, or None."""
    for index, arg in enumerate(vm.argv[:-1]):
        value = vm.argv[index + 1]
        if arg == "-qmp" and (value == "unix:" + vm.qmp_socket or value.startswith("unix:" + vm.qmp_socket + ",")):
            return index + 1
    return None


def split_option(value: str) -> List[str]:
    """The comma-separated parts of a QEMU option value (",," is a literal comma)."""
    return [part.replace("\0", ",") for part in value.replace(",,", "\0").split(",")]


def join_option(parts: List[str]) -> str:
    return ",".join(part.replace(",", ",,") for part in parts)


def option_fields(parts: List[str]) -> Dict[str, str]:
    """key=value parts as a dict (the first part, the backend type, is not among them)."""
    fields: Dict[str, str] = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        fields[key] = value
    return fields


def tap_netdevs(argv: List[str]) -> List[Tuple[int, List[str]]]:
    """[(index of the value, its parts)] of every `-netdev tap,...` in the argv."""
    found: List[Tuple[int, List[str]]] = []
    for index, arg in enumerate(argv[:-1]):
        if arg == "-netdev":
            parts = split_option(argv[index + 1])
            if parts[0] == "tap":
                found.append((index + 1, parts))
    return found


# What a tap opened by name takes that a tap passed in as fd= must not have (QEMU refuses them with fd=;
# the descriptor carries the tap, its name and its vnet header flag).
TAP_OPEN_OPTIONS = ("ifname", "script", "downscript", "vnet_hdr")


def tap_with_fd(parts: List[str], fd: int) -> str:
    """A `-netdev tap,...` value that opens its tap by name, as a successor's that is passed it as `fd`:
    the options that open it dropped, everything else unchanged and in order, fd=<fd> appended."""
    kept = [part for part in parts if part.partition("=")[0] not in TAP_OPEN_OPTIONS]
    return join_option(kept + ["fd=%d" % fd])


def handover_taps(vm: Vm) -> List[Tuple[int, str]]:
    """[(index of the value, tap name)] of the taps a successor is passed (handover_obstacles allows
    only taps it can be: opened by name, no downscript, one queue, no vhost)."""
    return [(index, option_fields(parts)["ifname"]) for index, parts in tap_netdevs(vm.argv)]


def successor_argv(vm: Vm, successor_qmp: str, tap_fds: Optional[Dict[int, int]] = None) -> List[str]:
    """The handover successor's argv, derived from the inventory argv (the one source of truth): the
    same arguments, with the QMP socket moved to the successor's own path, each tap (by the index of
    its `-netdev` value in tap_fds) passed in as the descriptor the successor inherits, plus -incoming
    defer. Everything else two processes of one VM cannot share makes the VM fall back
    (handover_obstacles)."""
    index = qmp_option_index(vm)
    if index is None:
        raise VmFailure("the inventory argv has no -qmp unix:%s option to give a successor" % vm.qmp_socket)
    argv = list(vm.argv)
    argv[index] = "unix:" + successor_qmp + argv[index][len("unix:" + vm.qmp_socket) :]
    taps = dict(tap_netdevs(vm.argv))
    for tap_index, fd in (tap_fds or {}).items():
        argv[tap_index] = tap_with_fd(taps[tap_index], fd)
    return argv + ["-incoming", "defer"]


def moved_qmp_path(moved: str, vm: Vm, index: int) -> Optional[str]:
    """The path a successor's `-qmp` value moved the inventory's QMP socket to, or None if it is not
    the inventory's value with only the path changed."""
    prefix, rest = "unix:", vm.argv[index][len("unix:" + vm.qmp_socket) :]
    if not moved.startswith(prefix) or not moved.endswith(rest):
        return None
    return moved[len(prefix) : len(moved) - len(rest)]


def passed_tap_matches(running: str, parts: List[str]) -> bool:
    """Whether a running `-netdev` value is the inventory's tap (parts) as a successor is passed it."""
    fd = option_fields(split_option(running)).get("fd", "")
    return fd.isdigit() and running == tap_with_fd(parts, int(fd))


def matches_inventory_argv(args: Optional[List[str]], vm: Vm, qmp_path_ok: Callable[[str], bool]) -> bool:
    """Whether args are the inventory argv, but for the rewrites a handover makes: the QMP socket moved
    to a path qmp_path_ok accepts, taps passed in by descriptor. A trailing -incoming <uri> is allowed."""
    if args is None:
        return False
    if len(args) == len(vm.argv) + 2 and args[-2] == "-incoming":
        args = args[:-2]
    if len(args) != len(vm.argv):
        return False
    index = qmp_option_index(vm)
    taps = dict(tap_netdevs(vm.argv))
    for position, (running, own) in enumerate(zip(args, vm.argv)):
        if index is not None and position == index:
            path = vm.qmp_socket if running == own else moved_qmp_path(running, vm, index)
            if path is None or not qmp_path_ok(path):
                return False
        elif running != own and not (position in taps and passed_tap_matches(running, taps[position])):
            return False
    return True


def runs_inventory_argv(args: Optional[List[str]], vm: Vm) -> bool:
    """The VM's inventory argv, as started from the inventory, by a restore (plus -incoming) or by a
    handover (plus -incoming, QMP socket on the successor's own path, taps passed in by descriptor)."""
    return matches_inventory_argv(
        args,
        vm,
        lambda path: path == vm.qmp_socket
        or (path.startswith(vm.qmp_socket) and SUCCESSOR_QMP_SUFFIX.fullmatch(path[len(vm.qmp_socket) :]) is not None),
    )


def is_successor_argv(args: Optional[List[str]], vm: Vm, successor_qmp: str) -> bool:
    """Whether args are those of the VM's handover successor listening on successor_qmp (whatever
    descriptor numbers it was passed its taps as)."""
    return (
        args is not None
        and args[-2:] == ["-incoming", "defer"]
        and matches_inventory_argv(args, vm, lambda path: path == successor_qmp)
    )


# Arguments two live QEMU processes of one VM cannot both hold, so a successor cannot start beside the
# running process: the VM falls back to stop-restart. (The QMP socket is moved, a tap opened by name
# is passed to the successor as a descriptor: tap_obstacles says which taps can be.)
HANDOVER_OBSTACLES = (
    (re.compile(r"^-pidfile$"), "a -pidfile (QEMU locks it; the successor would fail to start)"),
    (re.compile(r"^-(vnc|spice)$"), "a VNC/SPICE display (its listening port is held by the running process)"),
    (re.compile(r"(^|,)(vnc|spice)(=|,|$)"), "a VNC/SPICE display (its listening port is held by the running process)"),
    (re.compile(r"(^|,)server(=on|=yes|,|$)"), "a listening socket other than QMP (server=on)"),
    (
        re.compile(r"(^|,)(tap|vhost-user|vhost-vdpa|bridge)(,|$)"),
        "a tap/vhost network backend other than -netdev tap (its fds cannot be handed over)",
    ),
    (
        re.compile(r"(^|,)(vhost|vhostforce)=on"),
        "vhost-net (its kernel worker belongs to the running process; handing it over is not supported)",
    ),
    (re.compile(r"(^|,)(fd|fds|vhostfd|vhostfds)="), "a passed-in file descriptor (it cannot be handed over)"),
)


def tap_obstacles(fields: Dict[str, str]) -> List[str]:
    """Why a `-netdev tap,...` (its key=value fields) cannot be passed to a successor; empty when it can."""
    reasons: List[str] = []
    if "ifname" not in fields:
        reasons.append("a tap without ifname= (the agent finds the running process's descriptor by the tap's name)")
    if fields.get("downscript", "/etc/qemu-ifdown") != "no":
        reasons.append(
            "a tap with a downscript (the old process would run it as it quits, under the successor; "
            "downscript=no is handed over)"
        )
    if fields.get("queues", "1") != "1" or "helper" in fields:
        reasons.append("a multiqueue or helper-made tap (one descriptor per tap is handed over)")
    return reasons


def handover_obstacles(vm: Vm) -> List[str]:
    """Why this VM cannot get a successor beside its running process; empty when it can."""
    reasons: List[str] = []
    index = qmp_option_index(vm)
    if index is None:
        reasons.append("its argv has no -qmp unix:%s option whose socket a successor could move" % vm.qmp_socket)
    taps = dict(tap_netdevs(vm.argv))
    for position, arg in enumerate(vm.argv):
        if position == index:
            continue
        found = [what for regex, what in HANDOVER_OBSTACLES if regex.search(arg)]
        if position in taps:
            # A -netdev tap is not an obstacle for being a tap, only for what tap_obstacles names.
            found = [what for what in found if not what.startswith("a tap/vhost")]
            found += tap_obstacles(option_fields(taps[position]))
        for what in found:
            if ("argv has " + what) not in reasons:
                reasons.append("argv has " + what)
    longest = len((vm.qmp_socket + ".m" + "9" * 10).encode())
    if longest > MAX_SOCKET_PATH_BYTES:
        reasons.append(
            "the successor's socket paths next to %s would exceed %d bytes" % (vm.qmp_socket, MAX_SOCKET_PATH_BYTES)
        )
    return reasons
