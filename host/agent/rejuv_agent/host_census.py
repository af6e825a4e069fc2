"""The census against the inventory, and what it makes Preflight and WarmReboot refuse."""

import os
from typing import List, Tuple

from .assessment import Assessment
from .host import Host
from .json_types import JsonObject

from .census import InventoryVm, ProcessRecord, classify, kernel_level_blockers, on_host, preflight_refusals
from .census import read_processes
from .inventory import load_inventory
from .qemu_argv import runs_inventory_argv


def take_census(host: Host) -> Tuple[List[JsonObject], List[ProcessRecord]]:
    vms, _ = load_inventory(host)
    inventory = [InventoryVm(vm.name, vm.argv, vm.qmp_socket) for vm in vms.values()]
    records = [r for r in read_processes(skip=[os.getpid()]) if on_host(r, host.root)]
    return classify(records, inventory, runs_inventory_argv, host.root), records


def census_checks(host: Host, level: str, assessments: List[Assessment]) -> Tuple[List[JsonObject], List[str]]:
    census, _ = take_census(host)
    refusals = preflight_refusals(census, [a.name for a in assessments])
    for assessment in assessments:
        if assessment.name in refusals:
            assessment.reasons.append(refusals[assessment.name])
    reasons: List[str] = []
    blockers = kernel_level_blockers(census) if level == "kernel" else []
    if blockers:
        reasons.append(
            "a kernel reload (kexec) would end %d VM process%s the agent does not manage: %s; adopt or "
            "move them first"
            % (len(blockers), "" if len(blockers) == 1 else "es", "; ".join(blockers))
        )
    return census, reasons
