"""The census of this host's VM processes (census.py) against its inventory, and what it makes Preflight and
WarmReboot refuse: an inventory entry for another manager's process or for no process, and at level kernel
every VM process the agent does not manage (a kexec would end it)."""

import os
from typing import List, Tuple

from .census import InventoryVm, ProcessRecord, classify, kernel_level_blockers, on_host, preflight_refusals
from .census import read_processes
from .inventory import load_inventory
from .qemu_argv import runs_inventory_argv


def take_census(host) -> "Tuple[List[dict], List[ProcessRecord]]":
    """Every VM process on the host, classified against the whole inventory, and the records read."""
    vms, _ = load_inventory(host)
    inventory = [InventoryVm(vm.name, vm.argv, vm.qmp_socket) for vm in vms.values()]
    records = [r for r in read_processes(skip=[os.getpid()]) if on_host(r, host.root)]
    return classify(records, inventory, runs_inventory_argv, host.root), records


def census_checks(host, level, assessments) -> "Tuple[List[dict], List[str]]":
    """Takes the census; appends to each assessment what the census refuses it for, and returns the census
    and the host-wide reasons to refuse."""
    census, _ = take_census(host)
    refusals = preflight_refusals(census, [a.name for a in assessments])
    for assessment in assessments:
        if assessment.name in refusals:
            assessment.reasons.append(refusals[assessment.name])
    reasons = []
    blockers = kernel_level_blockers(census) if level == "kernel" else []
    if blockers:
        reasons.append(
            "a kernel reload (kexec) would end %d VM process%s the agent does not manage: %s; adopt them into "
            "the inventory (rejuv hosts inventory --adopt) or move them off this host first"
            % (len(blockers), "" if len(blockers) == 1 else "es", "; ".join(blockers))
        )
    return census, reasons
