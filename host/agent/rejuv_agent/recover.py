"""Document Recover: brings every VM back from whatever a failed or interrupted run left."""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Set, Tuple

from .errors import EXIT_OK, EXIT_PARTIAL, VmFailure
from .files import read_json, remove_file, write_json_atomically
from .host import Host
from .host_lock import HostLock
from .inventory import Vm, select_vms
from .journal import journal_path, run_journals
from .json_types import JsonObject
from .procfs import find_vm_processes, process_argv, process_start_time, same_process_alive, wait_for_exit
from .qemu_argv import is_successor_argv
from .qemu_process import QUIT_TIMEOUT_S, cold_start_vm, restore_vm
from .qmp import Qmp, QmpError, QmpGone
from .saved_state import discard_saved_state, usable_saved_state


def settle_handover(vm: Vm, record: JsonObject, entry: JsonObject) -> None:
    """A handover a run left half done (the agent died, or the run failed past the point of rolling
    back): decide which of the two processes keeps the guest. A successor that runs it keeps it (the
    old process, stopped after migrating, is ended and the successor's QMP socket moved into place);
    any other successor is ended, and the old process is then recovered like any other. Marks the
    journal record settled, except when the VM is left to a person."""
    successor: JsonObject = record.get("successor") or {}
    path: Any = successor.get("qmpSocket")
    if record.get("path") != "handover" or record.get("handover") in (None, "done", "abandoned") or not path:
        return
    pid: Any = successor.get("pid")
    start: Any = successor.get("startTime")
    if pid is None:
        for candidate in find_vm_processes(vm):
            if is_successor_argv(process_argv(candidate), vm, path):
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
        old_pid: Any = record.get("pidBefore")
        old_start: Any = record.get("startTimeBefore")
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
    if pid is not None and same_process_alive(pid, start):
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


def old_migration_status(vm: Vm) -> str | None:
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


def recover_vm(vm: Vm, cold_start: bool, record: JsonObject | None = None) -> JsonObject:
    """Brings one VM back from whatever a failed run left; reports what it found and what it did."""
    entry: JsonObject = {"name": vm.name}
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
            entry["found"] = "inmigrate, " + ("device state saved" if meta else str(why_not))
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
    entry.setdefault("found", "process gone, " + ("device state saved" if meta else str(why_not)))
    try:
        if meta is not None:
            phases: Dict[str, float] = {}
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


def command_recover(host: Host, args: argparse.Namespace) -> Tuple[JsonObject, int]:
    targets, problems = select_vms(host, args.vms, require_all=False)
    lock = HostLock(host, "Recover", args.run_id)
    try:
        entries: List[JsonObject] = []
        journals = run_journals(host)
        # Each VM's record in the latest run that names it, finished or interrupted: a finished run can
        # leave a handover unsettled too (the successor died after the device state reached it, or the
        # old process would not quit), and a plain `cont` of the old process would then run stale
        # device state over RAM the successor may have changed.
        latest = {name: journal for journal in journals for name in journal["vms"]}
        changed: Set[str] = set()
        for target in targets:
            if not isinstance(target, Vm):
                entries.append({"name": target, "outcome": "failed", "reason": problems.get(target, "")})
                continue
            journal = latest.get(target.name)
            record = journal["vms"][target.name] if journal else None
            before = record.get("handover") if record else None
            entries.append(recover_vm(target, args.cold_start == "true", record))
            # Settled once (settle_handover marks the record): a later Recover must not act on it again.
            if journal and record and record.get("handover") != before:
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
    result: JsonObject = {"document": "Recover", "runId": args.run_id, "vms": entries}
    if not not_running:
        result["outcome"] = "ok"
        return result, EXIT_OK
    result["outcome"] = "partial" if len(not_running) < len(entries) else "failed"
    result["reason"] = "not running after recovery: " + ", ".join(
        "%s (%s)" % (e["name"], e["outcome"]) for e in not_running
    )
    result["reasonCode"] = "vms-not-recovered"
    return result, EXIT_PARTIAL
