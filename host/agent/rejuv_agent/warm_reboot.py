"""Document WarmReboot: suspend every VM in memory, reload the hypervisor, resume; a run id never runs twice."""

from __future__ import annotations

import argparse
import os
from typing import List, Tuple

from .assessment import Assessment, assess_host, assess_vm, refusal_code
from .errors import EXIT_FAILED, EXIT_INVALID_REQUEST, Refusal
from .files import read_json
from .host import Host
from .host_lock import HostLock
from .inventory import select_vms
from .journal import journal_path
from .json_types import JsonObject
from .kernel_checks import kernel_config_path, parse_kernel_config
from .kernel_reload import continue_kernel_run, kernel_reload
from .seams import memory_in_place
from .vmm_process import warm_reboot


def command_warm_reboot(host: Host, args: argparse.Namespace) -> Tuple[JsonObject | None, int]:
    in_place = memory_in_place()
    if not in_place and args.level == "kernel":
        raise Refusal("bad-arguments",
                      "the classic baseline copies RAM through a state file; level kernel keeps it in place",
                      EXIT_INVALID_REQUEST)
    previous = read_json(journal_path(host, args.run_id))
    if previous and previous.get("status") == "done":
        return dict(previous["result"], replayed=True), previous.get("exitCode", EXIT_FAILED)
    targets, problems = select_vms(host, args.vms, require_all=True)
    lock = HostLock(host, "WarmReboot", args.run_id)
    assessments: List[Assessment] = []
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
            assert settings is not None, "assess_host refused a host without usable settings"
            return kernel_reload(host, args.run_id, assessments, settings)
        return warm_reboot(host, args.run_id, args.level, assessments, in_place)
    finally:
        for assessment in assessments:
            if assessment.qmp is not None:
                assessment.qmp.close()
        lock.release()
