"""Rules about QEMU command lines, pure functions of an inventory entry: RAM backing files, the QMP
option, a handover successor's argv, what stops a VM from being handed over."""

from __future__ import annotations

import json
import re
from typing import Dict, List

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


def qmp_option_index(vm: Vm) -> int | None:
    """Index in the inventory argv of the `-qmp unix:<qmpSocket>[,...]` value, or None."""
    for index, arg in enumerate(vm.argv[:-1]):
        value = vm.argv[index + 1]
        if arg == "-qmp" and (value == "unix:" + vm.qmp_socket or value.startswith("unix:" + vm.qmp_socket + ",")):
            return index + 1
    return None


def successor_argv(vm: Vm, successor_qmp: str) -> List[str]:
    """The handover successor's argv, derived from the inventory argv (the one source of truth): the
    same arguments, with only the QMP socket moved to the successor's own path, plus -incoming defer.
    Everything else two processes of one VM cannot share makes the VM fall back (handover_obstacles)."""
    index = qmp_option_index(vm)
    if index is None:
        raise VmFailure("the inventory argv has no -qmp unix:%s option to give a successor" % vm.qmp_socket)
    argv = list(vm.argv)
    argv[index] = "unix:" + successor_qmp + argv[index][len("unix:" + vm.qmp_socket) :]
    return argv + ["-incoming", "defer"]


def runs_inventory_argv(args: List[str] | None, vm: Vm) -> bool:
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


def handover_obstacles(vm: Vm) -> List[str]:
    """Why this VM cannot get a successor beside its running process; empty when it can."""
    reasons: List[str] = []
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
