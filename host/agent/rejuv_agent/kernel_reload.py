"""Level `kernel`: save every VM, kexec, and (the same script, run again by SSM) restore every VM."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Dict, List, Tuple

from .assessment import Assessment
from .clock import elapsed_ms, epoch_ms
from .errors import EXIT_FAILED, EXIT_OK, EXIT_REBOOT, Refusal, VmFailure
from .files import write_json_atomically
from .host import Host
from .inventory import load_inventory
from .journal import journal_path
from .json_types import JsonObject
from .log import log
from .parallel import in_parallel
from .procfs import read_text, same_process_alive
from .qemu_argv import ram_files_from_argv
from .qemu_process import restore_vm
from .qmp import QmpError, QmpGone
from .results import finish_run
from .saved_state import usable_saved_state
from .vm_run import VmRun


# Each VM's device state starts on a boundary of this size in the state region.
STATE_REGION_ALIGNMENT = 1 << 20


# Between exit 194 and the kexec: the SSM Agent must first tell the service that communication will be
# interrupted and write its own state (it reboots with `shutdown -r +1`, a minute later; the kexec
# comes first). Open on a real host: whether 5 s is enough for it.
KEXEC_DELAY_S = 5
KEXEC_LOAD_TIMEOUT_S = 120.0


def current_boot_id() -> str:
    return (read_text("/proc/sys/kernel/random/boot_id", "") or "").strip()


def kexec_staged() -> bool:
    return (read_text("/sys/kernel/kexec_loaded", "0") or "0").strip() == "1"


def kernel_run_next_step(journal: JsonObject, boot_id: str, staged: bool) -> str:
    """What a WarmReboot that finds its own kernel-level journal does: "replay" (done), "restore" (the
    new kernel runs), "restore-without-reload" (the kexec never happened and nothing is staged any
    more), "reload-pending" (the staged kexec has not happened yet) or "interrupted" (never repeated
    blindly: saving or restoring stopped halfway; Recover decides)."""
    if journal.get("status") == "done":
        return "replay"
    if journal.get("phase") != "kernel:reloading":
        return "interrupted"
    if journal.get("bootIdBefore") != boot_id:
        return "restore"
    return "reload-pending" if staged else "restore-without-reload"


def write_back(paths: List[str]) -> None:
    """Guest RAM on a raw /dev/pmem device, and the state region, are mapped or written through the block
    device's page cache: they reach the region, and so the next kernel, only once written back."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.sync()


def stage_kexec(settings: JsonObject) -> str | None:
    """kexec -l the next kernel with the running command line (so the same memmap= regions); None when
    staged, else why not."""
    command = ["kexec", "-l", settings["kernel"], "--initrd=" + settings["initrd"], "--reuse-cmdline"]
    try:
        loaded = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=KEXEC_LOAD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if loaded.returncode != 0:
        return "exit %d: %s" % (loaded.returncode, loaded.stderr.decode("utf-8", "replace").strip()[-300:])
    return None


# Written to the console when the kexec is scheduled and when it is entered: an operator at the console
# sees why the host went away, and the lab times the delay and the kexec itself from outside by them
# (the host's own clock restarts from the RTC in the new kernel).
KEXEC_SCHEDULED_MARK = "rejuv: kexec in %d s" % KEXEC_DELAY_S
KEXEC_ENTERED_MARK = "rejuv: kexec now"


def unstage_kexec() -> None:
    """Unloads a staged kexec kernel, so that no later reboot enters it by surprise; best effort."""
    try:
        subprocess.run(["kexec", "-u"], stdin=subprocess.DEVNULL, capture_output=True, timeout=KEXEC_LOAD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        log("kexec -u failed: %s" % error)


def schedule_kexec() -> None:
    """The reload itself, KEXEC_DELAY_S from now; detached in its own session, as it must outlive this
    script, which exits 194 first."""
    reboot = "if [ -d /run/systemd/system ]; then systemctl kexec; else kexec -e; fi"

    def mark(text: str) -> str:
        # A host without a writable console still reloads: the redirection's failure is ignored.
        return "echo '%s' >/dev/console 2>/dev/null" % text

    subprocess.Popen(
        ["sh", "-c", "%s; sleep %d; %s; %s" % (
            mark(KEXEC_SCHEDULED_MARK), KEXEC_DELAY_S, mark(KEXEC_ENTERED_MARK), reboot)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def kernel_reload(
    host: Host, run_id: str, assessments: List[Assessment], settings: JsonObject
) -> Tuple[JsonObject | None, int]:
    """First run (the old kernel): the next kernel staged first (loading it takes seconds, and no guest
    need wait for that), then every VM stopped and saved into the state region (the barrier: no VM is
    quit before all are saved), quit, written back, kexec scheduled. Returns (None, EXIT_REBOOT) so SSM
    reruns the script after the reload, or a failed result when it never starts."""
    runs = [VmRun(a, run_id, True) for a in assessments]
    journal: JsonObject = {
        "runId": run_id,
        "document": "WarmReboot",
        "level": "kernel",
        "memoryInPlace": True,
        "status": "running",
        "phase": "kernel:saving",
        "startedAt": epoch_ms(),
        "bootIdBefore": current_boot_id(),
        "stateRegion": settings["stateRegion"],
        "vms": {},
    }

    def save_journal(phase: str) -> None:
        journal["phase"] = phase
        journal["vms"] = {r.vm.name: r.journal_entry() for r in runs}
        write_json_atomically(journal_path(host, run_id), journal)

    save_journal("kernel:saving")
    started = time.monotonic()
    failure = stage_kexec(settings)
    journal["kexecLoadMs"] = elapsed_ms(started)
    if failure is not None:
        return finish_run(journal, runs, "failed", "kexec -l failed (%s); no VM was touched" % failure,
                          "reload-failed", save_journal, {"kernelReloaded": False})
    region_path = settings["stateRegion"]
    fd = os.open(region_path, os.O_RDWR)
    try:
        limit = os.lseek(fd, 0, os.SEEK_END)
        offset = 0
        for run in runs:
            try:
                run.prepare()
                end = run.suspend_to_region(fd, region_path, offset, limit)
            except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
                run.reason = run.undo_suspend(error)
                stopped = [r for r in runs if r is not run and r.stopped_at is not None]
                for other in stopped:
                    other.reason = other.undo_suspend("%s failed to save" % run.vm.name)
                    if other.outcome == "rolled-back":
                        other.reason = "continued in its original process: %s failed to save" % run.vm.name
                reason = "; ".join("%s: %s" % (r.vm.name, r.reason) for r in runs if r.reason)
                unstage_kexec()
                return finish_run(journal, runs, "failed", "no kexec: " + reason, "suspend-failed", save_journal)
            offset = -(-end // STATE_REGION_ALIGNMENT) * STATE_REGION_ALIGNMENT
            save_journal("kernel:saving")
        os.fsync(fd)
    finally:
        os.close(fd)
    # The barrier held: every VM's state is in the region. Only now does any old process go.
    for run in runs:
        try:
            run.stop_old_process()
        except (QmpGone, QmpError, OSError) as error:
            log("%s: quit failed (%s); killing QEMU pid %d" % (run.vm.name, error, run.pid_before))
            if same_process_alive(run.pid_before, run.start_time_before):
                os.kill(run.pid_before, 9)
            run.quit = True
    started = time.monotonic()
    ram_paths = sorted({p for r in runs for p in ram_files_from_argv(r.vm.argv)})
    write_back(ram_paths + [region_path])
    journal["writeBackMs"] = elapsed_ms(started)
    journal["kexecScheduledAt"] = epoch_ms()
    save_journal("kernel:reloading")
    os.sync()
    schedule_kexec()
    log("run %s: every VM saved; kexec in %d s; exit %d asks SSM to rerun this script after it"
        % (run_id, KEXEC_DELAY_S, EXIT_REBOOT))
    return None, EXIT_REBOOT


def restore_after_reload(host: Host, journal: JsonObject, boot_id: str) -> Tuple[JsonObject, int]:
    """Second run (normally the new kernel): every VM restored from its slice of the state region over
    the RAM the region kept, and continued; the whole run's result, as SSM's rerun prints it."""
    journal["bootIdAfter"] = boot_id
    journal["phase"] = "kernel:restoring"
    journal["restoreStartedAt"] = epoch_ms()
    write_json_atomically(journal_path(host, journal["runId"]), journal)
    vms, _ = load_inventory(host)
    names = sorted(journal["vms"])
    entries: Dict[str, JsonObject] = {}

    def restore(name: str) -> None:
        record = journal["vms"][name]
        entry: JsonObject = {"name": name, "outcome": "failed", "pidBefore": record.get("pidBefore"),
                             "ramBytes": record.get("ramBytes") or 0, "phasesMs": dict(record.get("phasesMs") or {}),
                             "path": "kernel-reload"}
        for key in ("stateBytes", "stoppedAt"):
            if record.get(key) is not None:
                entry[key] = record[key]
        entries[name] = entry
        vm = vms.get(name)
        if vm is None:
            raise VmFailure("no longer in the inventory")
        meta, why_not = usable_saved_state(vm)
        if meta is None or meta.get("runId") != journal["runId"]:
            raise VmFailure("its device state cannot be restored: %s" % (why_not or "saved by another run"))
        pid, start, resumed_at = restore_vm(vm, True, entry["phasesMs"], meta["region"])
        record.update(pidAfter=pid, startTimeAfter=start, outcome="resumed")
        entry.update(outcome="resumed", pidAfter=pid, resumedAt=resumed_at)
        if entry.get("stoppedAt") is not None:
            entry["pauseMs"] = round(resumed_at - entry["stoppedAt"], 3)

    for index, error in in_parallel(names, restore).items():
        entries[names[index]]["reason"] = "%s; left for Recover" % error
        journal["vms"][names[index]]["outcome"] = "failed"
    reloaded = boot_id != journal.get("bootIdBefore")
    result: JsonObject = {
        "document": "WarmReboot",
        "runId": journal["runId"],
        "level": "kernel",
        "memoryInPlace": True,
        "kernelReloaded": reloaded,
        "bootIdBefore": journal.get("bootIdBefore"),
        "bootIdAfter": boot_id,
        "vms": [entries[n] for n in names],
        "startedAt": journal["startedAt"],
        "durationMs": round(epoch_ms() - journal["startedAt"], 3),
    }
    failed = [e for e in result["vms"] if e["outcome"] != "resumed"]
    reasons: List[str] = []
    if not reloaded:
        reasons.append("the host kernel was not reloaded (%s); every VM restored on the running kernel"
                       % journal.get("reloadFailure", "the scheduled kexec did not happen"))
    if failed:
        reasons.append("; ".join("%s: %s" % (e["name"], e["reason"]) for e in failed))
    result["outcome"] = "failed" if reasons else "ok"
    if reasons:
        result["reason"] = "; ".join(reasons)
        result["reasonCode"] = "resume-failed" if failed else "reload-failed"
    journal.update(status="done", phase="done", result=result,
                   exitCode=EXIT_FAILED if reasons else EXIT_OK)
    write_json_atomically(journal_path(host, journal["runId"]), journal)
    return result, journal["exitCode"]


def continue_kernel_run(host: Host, journal: JsonObject) -> Tuple[JsonObject | None, int]:
    """The same WarmReboot again, finding its kernel-level journal: SSM's rerun after the reload."""
    step = kernel_run_next_step(journal, current_boot_id(), kexec_staged())
    if step in ("restore", "restore-without-reload"):
        return restore_after_reload(host, journal, current_boot_id())
    if step == "reload-pending":
        raise Refusal("reload-pending", "run %s staged a kexec that has not happened yet; nothing was touched"
                      % journal["runId"])
    raise Refusal("interrupted", "run %s was interrupted during %s and is not repeated; send Recover"
                  % (journal["runId"], journal.get("phase")))
