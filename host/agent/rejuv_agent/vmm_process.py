"""Reload level vmm-process: every VM's QEMU process replaced, by handover where possible, else by
stop-restart (stop, save, quit, start, restore, cont); the run's rollout and journal."""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Tuple

from .assessment import Assessment
from .clock import epoch_ms
from .errors import VmFailure
from .files import write_json_atomically
from .handover import HANDOVER_MEMORY_HEADROOM, HandoverRun, successor_memory_estimate
from .host import Host
from .inventory import Vm
from .journal import journal_path
from .json_types import JsonObject
from .parallel import REBOOT_SLOTS, guarded, in_parallel
from .procfs import memory_available_bytes
from .qemu_argv import handover_obstacles, handover_taps
from .qemu_process import restore_vm
from .qmp import QmpError, QmpGone
from .results import finish_run
from .seams import forced_stop_restart, hold
from .taps import can_duplicate_descriptors


class VmmProcessRun(HandoverRun):
    """A VM of a vmm-process reload: handed over if it can be, else stopped and restarted."""

    def choose_path(self, committed_bytes: int) -> None:
        """Picks handover where possible, else stop-restart (see choose_path). committed_bytes: memory
        already promised to the successors of VMs ahead of this one, which all run at once."""
        self.path, self.path_reason, self.successor_bytes = choose_path(
            self.vm, self.pid_before, self.in_place, committed_bytes
        )

    def stop_restart(self) -> None:
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


def choose_path(vm: Vm, pid_before: int, in_place: bool, committed_bytes: int = 0) -> Tuple[str, str | None, int]:
    """("handover" | "stop-restart", why, bytes promised to its successor): which way this VM reboots.
    committed_bytes is what the successors already chosen will take: they all run at once."""
    if not in_place:
        return "stop-restart", "classic mode copies RAM through a state file", 0
    forced = forced_stop_restart(vm.name)
    if forced is not None:
        return "stop-restart", forced, 0
    obstacles = handover_obstacles(vm)
    if obstacles:
        return "stop-restart", "cannot be handed over: " + "; ".join(obstacles), 0
    if handover_taps(vm) and not can_duplicate_descriptors():
        return "stop-restart", (
            "cannot be handed over: its tap cannot be passed to a successor, this kernel does not let the "
            "agent duplicate another process's descriptor (pidfd_getfd, Linux 5.6+)"
        ), 0
    estimate = successor_memory_estimate(pid_before)
    needed = estimate + HANDOVER_MEMORY_HEADROOM
    available = memory_available_bytes() - committed_bytes
    if available < needed:
        return "stop-restart", (
            "only %d MiB of memory available (after the successors of the VMs before it), a successor "
            "beside the running process needs %d MiB" % (max(0, available) >> 20, needed >> 20)
        ), 0
    return "handover", None, estimate


def warm_reboot(
    host: Host, run_id: str, level: str, assessments: List[Assessment], in_place: bool
) -> Tuple[JsonObject, int]:
    runs = [VmmProcessRun(a, run_id, in_place) for a in assessments]
    journal: JsonObject = {
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

    def save_journal(phase: str) -> None:
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
    errors: Dict[int, str] = {}

    def attempt(index: int, action: Callable[[VmmProcessRun], None]) -> bool:
        error = guarded(action, runs[index])
        if error is None:
            return True
        errors[index] = error
        return False

    # Every successor first, while every guest still runs: starting QEMU is CPU-bound (tens of ms),
    # and no guest must be paused while a process of its host is starting.
    def launch(run: VmmProcessRun) -> None:
        with REBOOT_SLOTS:
            run.launch_successor()

    handovers = [i for i, r in enumerate(runs) if r.path == "handover"]
    errors.update({handovers[i]: e for i, e in in_parallel([runs[i] for i in handovers], launch).items()})
    launched = [i for i in handovers if i not in errors]
    # Then one guest at a time: a pause of ~10 ms each never overlaps another guest's pause, so none
    # waits on another VM's phases or competes with it for the CPU. A failure stops the rollout.
    handed_over: List[int] = []
    for index in launched:
        if errors:
            runs[index].abandon_successor()
        elif attempt(index, VmmProcessRun.hand_over):
            handed_over.append(index)
    for index in handed_over:
        attempt(index, VmmProcessRun.retire_old_process)
    save_journal("rebooting")
    # The VMs that cannot be handed over, after the handovers: their pause includes a QEMU start.
    rollout_stopped = threading.Event()
    if errors:
        rollout_stopped.set()

    def reboot(run: VmmProcessRun) -> None:
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
