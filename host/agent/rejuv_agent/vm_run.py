"""One VM's way through a warm reboot: the steps every reload path shares (stop, save, quit, undo), and
what the result line and the journal record of it."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Callable, Dict

from .assessment import Assessment
from .clock import elapsed_ms, epoch_ms
from .errors import VmFailure
from .files import write_json_atomically
from .heartbeat import read_heartbeat_tail
from .inventory import Vm
from .json_types import JsonObject
from .log import log
from .procfs import same_process_alive, wait_for_exit
from .qemu_process import IN_MEMORY_MIGRATION_TIMEOUT_S, QUIT_TIMEOUT_S
from .qmp import Qmp, QmpError, QmpGone, send_fd, set_migration_capabilities, wait_for_migration
from .saved_state import discard_saved_state, region_slice_digest
from .seams import hold


# Guest-visible pause is what matters, so the save is never throttled (QEMU 7.2 defaults to 128 MiB/s).
UNTHROTTLED_BYTES_PER_SECOND = 1 << 40


class VmRun:
    """One VM's way through a warm reboot, and what the result line reports about it."""

    def __init__(self, assessment: Assessment, run_id: str, in_place: bool) -> None:
        vm, qmp, pid = assessment.vm, assessment.qmp, assessment.pid
        assert vm is not None and qmp is not None and pid is not None, "only a ready VM gets a run"
        self.vm: Vm = vm
        self._qmp: Qmp | None = qmp
        self.run_id = run_id
        self.in_place = in_place
        self.pid_before: int = pid
        self.start_time_before = assessment.start_time
        self.ram_bytes = assessment.ram_bytes
        self.pid_after: int | None = None
        self.start_time_after: int | None = None
        self.outcome = "untouched"
        self.reason: str | None = None
        self.quit = False
        self.state_bytes: int | None = None
        self.stopped_at: float | None = None
        self.resumed_at: float | None = None
        self.heartbeat_at_suspend: int | None = None
        self.heartbeat_offset = 0
        self.phases: Dict[str, float] = {}
        self.path: str | None = None
        self.path_reason: str | None = None
        self.successor: JsonObject | None = None
        self.successor_process: subprocess.Popen[bytes] | None = None
        self.successor_conn: Qmp | None = None
        self.successor_qmp: str | None = None
        self.migration_socket: str | None = None
        self.successor_bytes = 0
        self.handover_state: str | None = None
        self.region: JsonObject | None = None
        # Called after each handover step that Recover must know about (the run saves its journal).
        self.on_change: Callable[[], None] = lambda: None

    @property
    def qmp(self) -> Qmp:
        """The QMP connection of the VM's original process, until that process is quit."""
        if self._qmp is None:
            raise QmpGone("%s: its original QEMU process was already quit" % self.vm.name)
        return self._qmp

    def prepare(self) -> None:
        set_migration_capabilities(self.qmp, self.in_place)
        self.qmp.execute("migrate-set-parameters", {"max-bandwidth": UNTHROTTLED_BYTES_PER_SECOND})

    def stop_guest(self) -> None:
        """Pauses the guest and notes where its heartbeat stood: the first half of every suspend."""
        started = time.monotonic()
        self.qmp.execute("stop")
        self.stopped_at = self.qmp.event_time_ms("STOP") or epoch_ms()
        self.phases["stop"] = elapsed_ms(started)
        self.heartbeat_at_suspend, self.heartbeat_offset = read_heartbeat_tail(self.vm)
        hold(self.vm.name + ":stopped")

    def write_state_meta(self, memory_in_place: bool, region: JsonObject | None = None) -> None:
        """Records where the saved device state is and what it belongs to, for the restore and Recover."""
        meta: JsonObject = {
            "runId": self.run_id,
            "savedAt": epoch_ms(),
            "bytes": self.state_bytes,
            "memoryInPlace": memory_in_place,
            "argvSha256": self.vm.argv_digest(),
            "pid": self.pid_before,
            "heartbeatAtSuspend": self.heartbeat_at_suspend,
            "heartbeatOffset": self.heartbeat_offset,
        }
        if region is not None:
            meta["region"] = region
        write_json_atomically(self.vm.state_meta, meta)

    def suspend(self) -> None:
        self.stop_guest()
        started = time.monotonic()
        partial = self.vm.state_file + ".partial"
        discard_saved_state(self.vm)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            send_fd(self.qmp, "rejuv-state", fd)
        finally:
            os.close(fd)
        self.qmp.execute("migrate", {"uri": "fd:rejuv-state"})
        timeout = IN_MEMORY_MIGRATION_TIMEOUT_S if self.in_place else 120.0 + self.ram_bytes / (20 << 20)
        wait_for_migration(self.qmp, timeout, "device state save")
        self.state_bytes = os.path.getsize(partial)
        os.replace(partial, self.vm.state_file)
        self.write_state_meta(self.in_place)
        self.phases["save"] = elapsed_ms(started)
        hold(self.vm.name + ":saved")

    def suspend_to_region(self, fd: int, region_path: str, offset: int, limit: int) -> int:
        """Stop and save the device state into the state region at offset (the kernel level). The VM's
        state metadata points there, so Recover restores from it as from a state file."""
        self.stop_guest()
        started = time.monotonic()
        discard_saved_state(self.vm)
        # QEMU writes the stream at the file offset it shares with this descriptor.
        os.lseek(fd, offset, os.SEEK_SET)
        send_fd(self.qmp, "rejuv-state", fd)
        self.qmp.execute("migrate", {"uri": "fd:rejuv-state"})
        wait_for_migration(self.qmp, IN_MEMORY_MIGRATION_TIMEOUT_S, "device state save")
        end = os.lseek(fd, 0, os.SEEK_CUR)
        if end > limit:
            raise VmFailure("its device state ran past the end of the state region %s" % region_path)
        self.state_bytes = end - offset
        region: JsonObject = {"path": region_path, "offset": offset, "bytes": self.state_bytes}
        region["sha256"] = region_slice_digest(region)
        self.region = region
        self.write_state_meta(True, region)
        self.phases["save"] = elapsed_ms(started)
        hold(self.vm.name + ":saved")
        return end

    def stop_old_process(self) -> None:
        started = time.monotonic()
        self.qmp.quit()
        self._qmp = None
        if not wait_for_exit(self.pid_before, self.start_time_before, QUIT_TIMEOUT_S):
            log("%s: QEMU pid %d ignored quit; killing it" % (self.vm.name, self.pid_before))
            os.kill(self.pid_before, 9)
            wait_for_exit(self.pid_before, self.start_time_before, QUIT_TIMEOUT_S)
        self.quit = True
        self.phases["quit"] = elapsed_ms(started)

    def undo_suspend(self, error: object) -> str:
        """After a failed suspend: continue the VM in its original process if it is still there."""
        self.outcome = "failed"
        if not same_process_alive(self.pid_before, self.start_time_before):
            return "QEMU pid %d exited while the VM was being suspended (%s)" % (self.pid_before, error)
        try:
            if self.qmp.execute("query-migrate").get("status") in ("active", "setup", "device"):
                self.qmp.execute("migrate_cancel")
            self.qmp.execute("cont")
        except (QmpGone, QmpError, OSError) as cont_error:
            return "suspend failed (%s) and the VM could not be continued (%s)" % (error, cont_error)
        discard_saved_state(self.vm)
        self.outcome = "rolled-back"
        return "suspend failed (%s); continued in its original process" % error

    def report(self) -> JsonObject:
        entry: JsonObject = {"name": self.vm.name, "outcome": self.outcome, "pidBefore": self.pid_before}
        if self.reason:
            entry["reason"] = self.reason
        if self.pid_after is not None:
            entry["pidAfter"] = self.pid_after
        if self.stopped_at is not None and self.resumed_at is not None:
            entry["pauseMs"] = round(self.resumed_at - self.stopped_at, 3)
        if self.state_bytes is not None:
            entry["stateBytes"] = self.state_bytes
        entry["ramBytes"] = self.ram_bytes
        entry["phasesMs"] = self.phases
        if self.path is not None:
            entry["path"] = self.path
        if self.path_reason is not None:
            entry["pathReason"] = self.path_reason
        if self.stopped_at is not None:
            entry["stoppedAt"] = self.stopped_at
        if self.resumed_at is not None:
            entry["resumedAt"] = self.resumed_at
        return entry

    def journal_entry(self) -> JsonObject:
        return {
            "pidBefore": self.pid_before,
            "startTimeBefore": self.start_time_before,
            "pidAfter": self.pid_after,
            "startTimeAfter": self.start_time_after,
            "heartbeatAtSuspend": self.heartbeat_at_suspend,
            "heartbeatOffset": self.heartbeat_offset,
            "outcome": self.outcome,
            "path": self.path,
            "successor": self.successor,
            "handover": self.handover_state,
            "region": self.region,
            "stoppedAt": self.stopped_at,
            "stateBytes": self.state_bytes,
            "ramBytes": self.ram_bytes,
            "phasesMs": self.phases,
        }
