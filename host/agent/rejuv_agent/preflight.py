"""Document Preflight: checks, without touching any VM, that the host can be warm-rebooted."""

from __future__ import annotations

import argparse
from typing import List, Tuple

from .assessment import Assessment, assess_host, assess_vm, refusal_code
from .errors import EXIT_OK, EXIT_REFUSED
from .heartbeat import sample_heartbeats, silence_reason
from .host import Host
from .host_lock import HostLock
from .inventory import select_vms
from .json_types import JsonObject


def command_preflight(host: Host, args: argparse.Namespace) -> Tuple[JsonObject, int]:
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
    silenced_only: List[Assessment] = []
    if not allow_silent:
        for assessment in silent:
            assert assessment.heartbeat is not None, "every sampled guest has a heartbeat sample"
            if not assessment.reasons:
                silenced_only.append(assessment)
            assessment.reasons.append(
                silence_reason(assessment.heartbeat, window_s)
                + " (send allowSilentGuests=true to proceed anyway; Verify will not count it as a failure)"
            )
    vms = [a.report() for a in assessments]
    refused = [a for a in assessments if a.reasons]
    result: JsonObject = {
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
