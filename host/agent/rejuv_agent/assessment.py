"""Checks: can this VM, and this host, go through an in-memory suspend and a reload at the level asked?"""

from __future__ import annotations

import os
import shutil
from typing import Dict, List

from .host import Host
from .inventory import Vm
from .journal import interrupted_runs
from .json_types import JsonObject
from .kernel_checks import kernel_level_gaps
from .procfs import memory_available_bytes, process_argv, process_start_time
from .qemu_argv import runs_inventory_argv
from .qmp import Qmp, QmpError, QmpGone


# A new QEMU process needs memory of its own (guest RAM is already in place): TCG buffers, device
# models, libraries. Generous on purpose: refusing is cheap, running out mid-reload is not.
NEW_PROCESS_MEMORY_ALLOWANCE = 256 << 20
# Device state of an in-memory suspend is well under a megabyte; this leaves room for VGA RAM and ROMs.
DEVICE_STATE_DISK_ALLOWANCE = 64 << 20


class Assessment:
    def __init__(self, vm_or_name: Vm | str) -> None:
        self.vm: Vm | None = vm_or_name if isinstance(vm_or_name, Vm) else None
        self.name: str = vm_or_name.name if isinstance(vm_or_name, Vm) else vm_or_name
        self.reasons: List[str] = []
        self.qmp: Qmp | None = None
        self.pid: int | None = None
        self.start_time: int | None = None
        self.status: str | None = None
        self.ram_bytes = 0
        self.ram_backends: List[JsonObject] = []
        self.heartbeat: JsonObject | None = None

    def report(self) -> JsonObject:
        entry: JsonObject = {"name": self.name, "outcome": "refused" if self.reasons else "ready"}
        if self.reasons:
            entry["reason"] = "; ".join(self.reasons)
        if self.pid is not None:
            entry["pid"] = self.pid
        if self.status is not None:
            entry["status"] = self.status
        if self.ram_bytes:
            entry["ramBytes"] = self.ram_bytes
        if self.ram_backends:
            entry["ramBackends"] = self.ram_backends
        if self.heartbeat is not None:
            entry["heartbeat"] = self.heartbeat
        return entry


def check_ram_backends(assessment: Assessment, require_shared: bool) -> None:
    qmp = assessment.qmp
    assert qmp is not None, "checked only over a live QMP connection"
    machine_backend = qmp.execute("qom-get", {"path": "/machine", "property": "memory-backend"})
    if not machine_backend and require_shared:
        assessment.reasons.append("guest RAM is not on a memory backend object (legacy -m RAM is private)")
    for memdev in qmp.execute("query-memdev"):
        memdev_id = memdev.get("id", "")
        path = "/objects/" + memdev_id
        kind = qmp.execute("qom-get", {"path": path, "property": "type"})
        backend = {"id": memdev_id, "type": kind, "share": bool(memdev.get("share")), "bytes": memdev["size"]}
        assessment.ram_bytes += memdev["size"]
        if kind == "memory-backend-file":
            backend["memPath"] = qmp.execute("qom-get", {"path": path, "property": "mem-path"})
        assessment.ram_backends.append(backend)
        if not require_shared:
            continue
        if kind == "memory-backend-memfd":
            assessment.reasons.append(
                "RAM backend %r is memory-backend-memfd: a memfd dies with its QEMU process and QEMU 7.2 "
                "cannot hand it to the new one (use memory-backend-file with share=on)" % memdev_id
            )
        elif kind != "memory-backend-file":
            assessment.reasons.append(
                "RAM backend %r is private memory (%s, share=%s): it would be lost when QEMU restarts"
                % (memdev_id, kind, "on" if backend["share"] else "off")
            )
        elif not backend["share"]:
            assessment.reasons.append(
                "RAM backend %r is memory-backend-file with share=off: QEMU keeps guest writes private "
                "to the process, so they would be lost when it restarts" % memdev_id
            )
        elif not os.path.exists(backend["memPath"]):
            assessment.reasons.append("RAM backend %r file %s does not exist" % (memdev_id, backend["memPath"]))


def assess_vm(vm_or_name: Vm | str, problems: Dict[str, str], keep_qmp: bool, in_place: bool = True) -> Assessment:
    assessment = Assessment(vm_or_name)
    vm = assessment.vm
    if vm is None:
        assessment.reasons.append(problems.get(assessment.name, "not in the inventory"))
        return assessment
    if shutil.which(vm.argv[0]) is None:
        assessment.reasons.append("QEMU binary %s is not executable on this host" % vm.argv[0])
    try:
        assessment.qmp = Qmp(vm.qmp_socket)
    except (OSError, QmpGone, QmpError, ValueError) as error:
        assessment.reasons.append("QMP is not reachable at %s: %s" % (vm.qmp_socket, error))
        return assessment
    try:
        assessment.pid = assessment.qmp.peer_pid()
        assessment.start_time = process_start_time(assessment.pid)
        assessment.status = assessment.qmp.status()
        if assessment.status != "running":
            assessment.reasons.append("VM is %s, not running" % assessment.status)
        if not runs_inventory_argv(process_argv(assessment.pid), vm):
            assessment.reasons.append(
                "QEMU pid %d was started with other arguments than the inventory lists; the restart "
                "must use identical arguments" % assessment.pid
            )
        check_ram_backends(assessment, require_shared=in_place)
        os.makedirs(vm.state_dir, exist_ok=True)
        needed = DEVICE_STATE_DISK_ALLOWANCE + (0 if in_place else assessment.ram_bytes)
        stat = os.statvfs(vm.state_dir)
        free = stat.f_bavail * stat.f_frsize
        if free < needed:
            assessment.reasons.append(
                "only %d MiB free for device state in %s, need %d MiB" % (free >> 20, vm.state_dir, needed >> 20)
            )
        if not os.access(vm.state_dir, os.W_OK):
            assessment.reasons.append("state directory %s is not writable" % vm.state_dir)
    except (OSError, QmpGone, QmpError, ValueError, KeyError) as error:
        assessment.reasons.append("inspection failed: %s" % error)
    if not keep_qmp or assessment.reasons:
        assessment.qmp.close()
        assessment.qmp = None
    return assessment


def assess_host(host: Host, level: str, assessments: List[Assessment]) -> List[str]:
    """Host-wide reasons to refuse, on top of the per-VM ones."""
    reasons: List[str] = []
    if level == "kernel":
        gaps = kernel_level_gaps(host, assessments)
        if gaps:
            reasons.append("level 'kernel' is not supported on this host: " + "; ".join(gaps))
    needed = NEW_PROCESS_MEMORY_ALLOWANCE * len(assessments)
    available = memory_available_bytes()
    if available < needed:
        reasons.append(
            "only %d MiB of memory available, need %d MiB for %d new QEMU processes"
            % (available >> 20, needed >> 20, len(assessments))
        )
    for journal in interrupted_runs(host):
        reasons.append(
            "run %s was interrupted during %s; send Recover first" % (journal.get("runId"), journal.get("phase"))
        )
    return reasons


def refusal_code(level: str, host_reasons: List[str]) -> str:
    if level == "kernel" and any(r.startswith("level 'kernel'") for r in host_reasons):
        return "level-unsupported"
    return "host-not-ready" if host_reasons else "vm-not-ready"
