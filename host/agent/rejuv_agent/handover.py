"""Reload path vmm-process, handover: a successor QEMU started beside the running one receives the
device state straight from it, so the guest pauses only for the migration."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Dict, Optional

from .assessment import NEW_PROCESS_MEMORY_ALLOWANCE
from .clock import elapsed_ms, epoch_ms
from .errors import VmFailure
from .files import remove_file
from .heartbeat import read_heartbeat_tail
from .log import log
from .procfs import process_start_time, same_process_alive
from .qemu_argv import handover_taps, successor_argv
from .qemu_process import IN_MEMORY_MIGRATION_TIMEOUT_S, QUIT_TIMEOUT_S, start_process
from .qmp import MIGRATION_ENDED, Qmp, QmpError, QmpGone, set_migration_capabilities, wait_for_migration
from .seams import hold
from .taps import VnetHeaderGuard, close_all, duplicate_taps
from .vm_run import VmRun


# What the host keeps free beyond a handover successor's estimated memory: the successor runs beside
# the old process, and the host must not start reclaiming (or OOM-killing) mid-handover.
HANDOVER_MEMORY_HEADROOM = 256 << 20


class HandoverRun(VmRun):
    """A VM handed over to a successor process: the three steps, and how each is undone."""

    tap_guard: Optional[VnetHeaderGuard] = None

    def launch_successor(self) -> None:
        """Handover, step 1, the guest still running: start the successor beside the old process and
        make it wait for the device state on its own socket. Raises VmFailure (VM rolled back)."""
        vm = self.vm
        self.successor_qmp = "%s.h%d" % (vm.qmp_socket, self.pid_before)
        self.migration_socket = "%s.m%d" % (vm.qmp_socket, self.pid_before)
        for path in (self.successor_qmp, self.migration_socket):
            remove_file(path)
        # The successor is passed the old process's taps (taps.py); nothing is journaled or started yet.
        try:
            tap_fds = duplicate_taps(self.pid_before, handover_taps(vm))
        except VmFailure as error:
            self.outcome = "rolled-back"
            raise VmFailure("%s; the VM ran on in its original process" % error)
        self.tap_guard = VnetHeaderGuard(tap_fds)
        try:
            self.start_successor(tap_fds, self.successor_qmp, self.migration_socket)
        except VmFailure:
            self.tap_guard.stop()
            raise
        finally:
            # The successor has its own copies now (or never will).
            close_all(tap_fds)

    def start_successor(self, tap_fds: Dict[int, int], successor_qmp: str, migration_socket: str) -> None:
        vm = self.vm
        if tap_fds:
            hold(vm.name + ":taps-duplicated")
        # Journaled before it exists: an agent killed while the successor starts leaves Recover its QMP
        # path, from which it finds the process by its argv.
        self.successor = {"qmpSocket": successor_qmp}
        self.handover_state = "starting-successor"
        self.on_change()
        started = time.monotonic()
        try:
            process, qmp = start_process(
                vm,
                successor_argv(vm, successor_qmp, tap_fds),
                successor_qmp,
                lambda: hold(vm.name + ":successor-spawned"),
                pass_fds=tap_fds.values(),
            )
        except VmFailure as error:
            remove_file(successor_qmp)
            self.handover_state = "abandoned"
            self.outcome = "rolled-back"
            raise VmFailure("its successor did not start (%s); the VM ran on in its original process" % error)
        self.successor_process, self.successor_conn = process, qmp
        self.successor.update(pid=process.pid, startTime=process_start_time(process.pid))
        self.handover_state = "successor-started"
        self.on_change()
        self.phases["start"] = elapsed_ms(started)
        try:
            hold(vm.name + ":successor-started")
            started = time.monotonic()
            set_migration_capabilities(qmp, True, events=True)
            qmp.execute("migrate-incoming", {"uri": "unix:" + migration_socket})
            self.phases["prepare"] = elapsed_ms(started)
        except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
            self.successor_conn = None
            qmp.close()
            raise VmFailure(self.undo_handover(process, error))

    def hand_over(self) -> None:
        """Handover, step 2, the guest's whole pause: stop the old process, migrate its device state
        straight into the successor, which resumes the guest itself. Nothing else happens in between:
        the journal is written before the stop, and the agent blocks on the successor's RESUME event
        instead of polling. Raises VmFailure saying why not."""
        vm, qmp, process = self.vm, self.successor_conn, self.successor_process
        successor, migration_socket = self.successor, self.migration_socket
        assert qmp is not None and process is not None and successor is not None and migration_socket is not None
        try:
            # Recover settles "migrating" exactly as "successor-started", so it may be journaled early.
            self.handover_state = "migrating"
            self.on_change()
            started = time.monotonic()
            self.qmp.execute("stop")
            self.stopped_at = self.qmp.event_time_ms("STOP") or epoch_ms()
            self.phases["stop"] = elapsed_ms(started)
            self.stop_tap_guard()
            self.heartbeat_at_suspend, self.heartbeat_offset = read_heartbeat_tail(vm)
            hold(vm.name + ":handover-stopped")
            started = time.monotonic()
            seen = len(qmp.events)
            self.qmp.execute("migrate", {"uri": "unix:" + migration_socket})
            # The successor's MIGRATION event (the `events` capability) says when the state is in; a
            # failed load makes QEMU 7.2 exit (QmpGone).
            event = qmp.wait_for_event(
                lambda e: e.get("event") == "MIGRATION" and e.get("data", {}).get("status") in MIGRATION_ENDED,
                seen,
                IN_MEMORY_MIGRATION_TIMEOUT_S,
            )
            if event["data"]["status"] != "completed":
                raise VmFailure("device state load in the successor %s" % event["data"]["status"])
            self.phases["migrate"] = elapsed_ms(started)
            hold(vm.name + ":migrated")
            started = time.monotonic()
            # The source was stopped, so the successor keeps the guest paused until told (no autostart);
            # `cont` straight away, the status is checked once the guest runs.
            qmp.execute("cont")
            self.phases["cont"] = elapsed_ms(started)
            self.resumed_at = qmp.event_time_ms("RESUME") or epoch_ms()
            status = qmp.status()
            if status != "running":
                raise VmFailure("the successor is %s after the handover, not running" % status)
            self.state_bytes = self.bytes_sent()
        except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
            qmp.close()
            raise VmFailure(self.undo_handover(process, error))
        finally:
            remove_file(migration_socket)
        qmp.close()
        self.successor_conn = None
        self.pid_after, self.start_time_after = process.pid, successor["startTime"]
        self.handover_state = "handed-over"
        self.on_change()
        hold(vm.name + ":handed-over")

    def bytes_sent(self) -> int | None:
        """What the old process sent, asked once the guest runs in its successor. Only a figure for the
        report: the successor loaded the whole state, so an old process that died since changes nothing."""
        try:
            info = wait_for_migration(self.qmp, QUIT_TIMEOUT_S, "device state handover")
            return info.get("ram", {}).get("transferred")
        except (VmFailure, QmpGone, QmpError, OSError) as error:
            log("%s: the old process did not say what it sent: %s" % (self.vm.name, error))
            return None

    def retire_old_process(self) -> None:
        """Handover, step 3, the guest running in its successor: quit the old process, then move the
        successor's QMP socket to the inventory's path. Raises VmFailure saying why not."""
        try:
            self.stop_old_process()
        except (QmpGone, QmpError, OSError) as error:
            self.outcome = "failed"
            raise VmFailure(
                "the guest runs in its successor pid %d, but the old process could not be ended (%s)"
                % (self.pid_after, error)
            )
        # Only now: the old process unlinked its own socket path as it exited.
        assert self.successor_qmp is not None
        os.replace(self.successor_qmp, self.vm.qmp_socket)
        self.handover_state = "done"
        self.outcome = "resumed"

    def stop_tap_guard(self) -> None:
        if self.tap_guard is not None:
            self.tap_guard.stop()

    def abandon_successor(self) -> None:
        """The rollout stopped before this VM's turn: end its waiting successor; the guest never paused."""
        self.stop_tap_guard()
        if self.successor_conn is not None:
            self.successor_conn.close()
            self.successor_conn = None
        if self.successor_process is not None:
            self.successor_process.kill()
            self.successor_process.wait()
            assert self.successor_qmp is not None and self.migration_socket is not None
            remove_file(self.successor_qmp)
            remove_file(self.migration_socket)
            self.handover_state = "abandoned"

    def undo_handover(self, successor: subprocess.Popen[bytes], error: object) -> str:
        """Before the successor ran the guest: end it and continue the old process; the guest lost only
        its pause. Never once the successor may have run: both would then own the guest's RAM."""
        self.stop_tap_guard()
        self.outcome = "failed"
        assert self.successor is not None
        try:
            probe = Qmp(self.successor["qmpSocket"], timeout_s=2.0)
            try:
                successor_status = probe.status()
            finally:
                probe.close()
        except (OSError, QmpGone, QmpError, ValueError):
            successor_status = None
        if successor_status == "running":
            return "handover failed after successor pid %d took over (%s); left for Recover" % (successor.pid, error)
        try:
            old_migration = self.qmp.execute("query-migrate").get("status")
        except (QmpGone, QmpError, OSError):
            old_migration = None
        if old_migration == "completed" and successor_status is None:
            # The successor may have run the guest and died: continuing the old state over its RAM would corrupt it.
            successor.kill()
            return "handover failed (%s): the device state reached successor pid %d, now gone" % (error, successor.pid)
        successor.kill()
        successor.wait()
        remove_file(self.successor["qmpSocket"])
        self.handover_state = "abandoned"
        if not same_process_alive(self.pid_before, self.start_time_before):
            return "handover failed (%s) and the original QEMU pid %d is gone" % (error, self.pid_before)
        try:
            if old_migration in ("active", "setup", "device"):
                self.qmp.execute("migrate_cancel")
            if self.qmp.status() != "running":
                self.qmp.execute("cont")
        except (QmpGone, QmpError, OSError) as cont_error:
            return "handover failed (%s) and the VM could not be continued (%s)" % (error, cont_error)
        self.outcome = "rolled-back"
        return "handover failed (%s); successor ended, VM continued in its original process" % error


def successor_memory_estimate(pid: int | None) -> int:
    """Conservative RSS of a successor: the running process's own (non-shared) memory, at least the
    allowance for a new process. Guest RAM is shared with it, so not counted."""
    private = 0
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("RssAnon:"):
                    private = int(line.split()[1]) * 1024
    except (OSError, ValueError, TypeError):
        pass
    return max(NEW_PROCESS_MEMORY_ALLOWANCE, private)
