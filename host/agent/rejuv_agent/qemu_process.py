"""Starting a VM's QEMU process: waiting for incoming state (restore), or cold (Recover)."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Callable, Dict, Iterable, List, Tuple

from .clock import elapsed_ms, epoch_ms
from .errors import VmFailure
from .inventory import Vm
from .json_types import JsonObject
from .procfs import process_start_time
from .qemu_argv import ram_files_from_argv
from .qmp import Qmp, QmpError, QmpGone, ensure_running, send_fd, set_migration_capabilities, wait_for_migration
from .saved_state import discard_saved_state
from .seams import hold


QUIT_TIMEOUT_S = 10.0
START_TIMEOUT_S = 30.0
# Shared memory is not copied, so anything slower than this is a hang, not a big VM.
IN_MEMORY_MIGRATION_TIMEOUT_S = 60.0


def tail_text(path: str, max_bytes: int = 600) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            return handle.read().decode("utf-8", "replace").strip().replace("\n", " | ")
    except OSError:
        return ""


def start_incoming_process(vm: Vm) -> Tuple[subprocess.Popen[bytes], Qmp]:
    """Starts the VM's QEMU with its exact inventory argv plus -incoming defer; returns (process, qmp)."""
    return start_process(vm, vm.argv + ["-incoming", "defer"], vm.qmp_socket)


def start_process(
    vm: Vm,
    argv: List[str],
    qmp_socket: str,
    spawned: Callable[[], None] = lambda: None,
    pass_fds: Iterable[int] = (),
) -> Tuple[subprocess.Popen[bytes], Qmp]:
    """Starts a QEMU waiting for incoming state and connects to its QMP; returns (process, qmp).
    pass_fds: descriptors the new process inherits (a handover successor's taps)."""
    os.makedirs(vm.state_dir, exist_ok=True)
    # After a kernel reload /run is a fresh tmpfs: the socket's directory is gone with the old kernel.
    os.makedirs(os.path.dirname(qmp_socket), exist_ok=True)
    with open(vm.qemu_log, "ab") as qemu_log:
        # Own session: the VM must outlive this document, even when SSM kills the document's process group.
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=qemu_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            pass_fds=tuple(pass_fds),
        )
    spawned()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise VmFailure(
                "new QEMU process exited with code %d before QMP came up: %s"
                % (process.returncode, tail_text(vm.qemu_log))
            )
        try:
            qmp = Qmp(qmp_socket)
            if qmp.peer_pid() == process.pid:
                return process, qmp
            qmp.close()
        except (OSError, QmpGone):
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise VmFailure("new QEMU process did not open QMP within %.0f s" % START_TIMEOUT_S)
        time.sleep(0.003)


def restore_vm(
    vm: Vm, in_place: bool, phases: Dict[str, float], region: JsonObject | None = None
) -> Tuple[int, int | None, float]:
    """New process, device state restored over the memory left in place, running. (pid, start, resumedAt)
    The state comes from the VM's state file, or from its slice of the kernel level's state region."""
    if in_place:
        missing = [path for path in ram_files_from_argv(vm.argv) if not os.path.exists(path)]
        if missing:
            # QEMU would create an empty file and the guest would wake up to zeroed RAM.
            raise VmFailure("guest RAM backing file %s is gone; not restoring over empty memory" % ", ".join(missing))
    started = time.monotonic()
    process, qmp = start_incoming_process(vm)
    try:
        phases["start"] = elapsed_ms(started)
        hold(vm.name + ":started")
        started = time.monotonic()
        set_migration_capabilities(qmp, in_place)
        fd = os.open(region["path"] if region else vm.state_file, os.O_RDONLY)
        try:
            if region:
                # QEMU reads the stream from the shared file offset; the stream marks its own end.
                os.lseek(fd, region["offset"], os.SEEK_SET)
            send_fd(qmp, "rejuv-state", fd)
        finally:
            os.close(fd)
        qmp.execute("migrate-incoming", {"uri": "fd:rejuv-state"})
        wait_for_migration(qmp, IN_MEMORY_MIGRATION_TIMEOUT_S + (0 if in_place else 600), "device state restore")
        phases["restore"] = elapsed_ms(started)
        started = time.monotonic()
        ensure_running(qmp, "restored VM is %s, not running")
        phases["cont"] = elapsed_ms(started)
        resumed_at = qmp.event_time_ms("RESUME") or epoch_ms()
    except (QmpGone, QmpError, OSError) as error:
        raise VmFailure("restore in new QEMU pid %d failed: %s" % (process.pid, error))
    finally:
        qmp.close()
    # The state is consumed: restoring it again over memory the guest has since changed would corrupt it.
    discard_saved_state(vm)
    return process.pid, process_start_time(process.pid), resumed_at


def cold_start_vm(vm: Vm) -> int:
    os.makedirs(vm.state_dir, exist_ok=True)
    os.makedirs(os.path.dirname(vm.qmp_socket), exist_ok=True)
    with open(vm.qemu_log, "ab") as qemu_log:
        process = subprocess.Popen(
            vm.argv,
            stdin=subprocess.DEVNULL,
            stdout=qemu_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise VmFailure("QEMU exited with code %d: %s" % (process.returncode, tail_text(vm.qemu_log)))
        try:
            qmp = Qmp(vm.qmp_socket)
            status = qmp.status()
            qmp.close()
            if status == "running":
                return process.pid
        except (OSError, QmpGone, QmpError):
            pass
        if time.monotonic() > deadline:
            raise VmFailure("cold-started QEMU did not come up within %.0f s" % START_TIMEOUT_S)
        time.sleep(0.01)
