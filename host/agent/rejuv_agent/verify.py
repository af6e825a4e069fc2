"""Document Verify: every VM of a run back, in a new process, its guest's heartbeat advancing."""

from __future__ import annotations

import argparse
from typing import Any, List, Set, Tuple

from .errors import EXIT_FAILED, EXIT_INVALID_REQUEST, EXIT_OK, Refusal
from .files import read_json
from .heartbeat import heartbeat_problem
from .host import Host
from .host_lock import HostLock
from .inventory import Vm, select_vms
from .journal import journal_path
from .json_types import JsonObject
from .parallel import in_parallel
from .procfs import process_start_time
from .qmp import Qmp, QmpError, QmpGone


# Verify gives a guest that was already silent at Preflight only this long to speak up: it is not
# expected to, and waiting out the full heartbeat timeout for it would only delay the verdict.
SILENT_GUEST_WAIT_S = 5.0


def verify_vm(vm: Vm, record: JsonObject, timeout_s: float, silent_at_preflight: bool) -> JsonObject:
    entry: JsonObject = {"name": vm.name, "pidBefore": record.get("pidBefore")}
    if silent_at_preflight:
        entry["silentAtPreflight"] = True
    problems: List[str] = []
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


def command_verify(host: Host, args: argparse.Namespace) -> Tuple[JsonObject, int]:
    targets, problems = select_vms(host, args.vms, require_all=False)
    silent_at_preflight: Set[str] = (
        set() if args.silent_at_preflight == "-" else set(args.silent_at_preflight.split(","))
    )
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
        entries: List[Any] = [None] * len(targets)

        def verify_target(index: int) -> None:
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
    result: JsonObject = {
        "document": "Verify", "runId": args.run_id, "outcome": "failed" if failed else "ok", "vms": entries
    }
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
