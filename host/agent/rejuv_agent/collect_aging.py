"""Document CollectAging: measurements of the host's aging, read-only (no lock, nothing written)."""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import List, Tuple

from .errors import EXIT_OK, VmFailure
from .host import Host
from .inventory import Vm, load_inventory
from .json_types import JsonObject
from .procfs import (
    clock_ticks, find_vm_processes, parse_buddyinfo, parse_meminfo, parse_process_status, parse_uptime,
    process_start_time,
)


INSTANCE_ID = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")
# Orders of a 2 MiB huge page (9) and above, with 4 KiB pages: where fragmentation hurts a hypervisor.
HUGE_PAGE_ORDER = 9


def unusable_free_index(free_blocks: List[int], order: int) -> float:
    """Gorman's unusable free space index: the share of free memory in blocks too small for `order`.

    0 when every free page could serve an allocation of that order, 1 when none could. No free memory
    at all counts as 1, as the kernel's own unusable_free_index does.
    """
    total = sum(count << i for i, count in enumerate(free_blocks))
    if total == 0:
        return 1.0
    usable = sum(count << i for i, count in enumerate(free_blocks) if i >= order)
    return round((total - usable) / total, 6)


def measure_process(pid: int, host_uptime_s: float) -> JsonObject:
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


def measure_vm(vm: Vm, host_uptime_s: float) -> JsonObject:
    """The VM's QEMU process; during a handover two run it, and the older one (the guest's) counts."""
    pids = find_vm_processes(vm)
    if not pids:
        raise VmFailure("no QEMU process runs its inventory argv")
    pid = min(pids, key=lambda p: process_start_time(p) or 0)
    return dict(measure_process(pid, host_uptime_s), vm=vm.name)


def command_collect(host: Host, args: argparse.Namespace) -> Tuple[JsonObject, int]:
    with open("/proc/meminfo") as handle:
        memory: JsonObject = dict(parse_meminfo(handle.read()))
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
    qemu: List[JsonObject] = []
    unmeasured = [{"vm": name, "reason": problem} for name, problem in sorted(problems.items())]
    for name in sorted(vms):
        try:
            qemu.append(measure_vm(vms[name], uptime_s))
        except (OSError, ValueError, VmFailure) as error:
            unmeasured.append({"vm": name, "reason": str(error)})
    instance_id = os.environ.get("AWS_SSM_INSTANCE_ID", "")
    result: JsonObject = {
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
