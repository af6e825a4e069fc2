"""Level `kernel`: what a kexec into the next host kernel needs (see README, "The kernel level")."""

from __future__ import annotations

import os
import re
import shutil
from typing import Any, Dict, Iterable, List, TYPE_CHECKING, Tuple, cast

from .files import read_json
from .host import Host
from .json_types import JsonObject
from .procfs import Mount, legacy_pmem_ranges, parse_mounts, read_text

if TYPE_CHECKING:
    from .assessment import Assessment


# Host-level settings of the kernel level: <root>/etc/rejuv/kernel-reload.json (not a document
# parameter: it describes the machine, like the inventory). {"schemaVersion": 1, "stateRegion":
# "/dev/pmem1", "kernel": "/boot/vmlinuz-...", "initrd": "/boot/initrd.img-..."}; kernel and initrd
# default to the running kernel's images in /boot.
KERNEL_CONFIG_SCHEMA_VERSION = 1
# Device state of one VM with memory left in place is ~0.2-0.3 MiB (ROMs, device registers); a display
# device adds its video RAM, which is not shared and so is saved.
DEVICE_STATE_REGION_ESTIMATE = 2 << 20
VIDEO_RAM_ESTIMATE = 16 << 20
DISPLAY_DEVICE = re.compile(r"(^|,)(VGA|qxl|qxl-vga|virtio-vga|bochs-display|cirrus-vga|secondary-vga)(,|$)")
# The kernel reserves a legacy pmem region (memmap=size!start) only when it starts on a memory
# section boundary (128 MiB on x86-64); elsewhere the region silently never appears.
MEMORY_SECTION_BYTES = 128 << 20
MEMMAP_PMEM = re.compile(r"^([0-9]+)([KMG]?)!([0-9]+)([KMG]?)$", re.IGNORECASE)
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def kernel_config_path(host: Host) -> str:
    return os.path.join(host.root, "etc", "rejuv", "kernel-reload.json")


def parse_kernel_config(raw: Any, release: str) -> Tuple[JsonObject | None, List[str]]:
    """(settings, problems) of kernel-reload.json as loaded (None when the file is absent)."""
    if raw is None:
        return None, ["no kernel-reload.json names a state region for device state"]
    if not isinstance(raw, dict):
        return None, ["kernel-reload.json is not a JSON object"]
    fields = cast(JsonObject, raw)
    problems: List[str] = []
    if fields.get("schemaVersion") != KERNEL_CONFIG_SCHEMA_VERSION:
        problems.append("kernel-reload.json: schemaVersion must be %d" % KERNEL_CONFIG_SCHEMA_VERSION)
    settings: JsonObject = {
        "stateRegion": fields.get("stateRegion"),
        "kernel": fields.get("kernel", "/boot/vmlinuz-" + release),
        "initrd": fields.get("initrd", "/boot/initrd.img-" + release),
    }
    for key, value in settings.items():
        if not isinstance(value, str) or not os.path.isabs(value):
            problems.append("kernel-reload.json: %s must be an absolute path" % key)
    unknown = sorted(set(fields) - {"schemaVersion", "stateRegion", "kernel", "initrd"})
    if unknown:
        problems.append("kernel-reload.json: unknown keys %s" % ", ".join(unknown))
    return (None if problems else settings), problems


def memmap_pmem_regions(cmdline: str) -> List[Tuple[int, int]]:
    """(start, size) in bytes of every legacy persistent-memory region the command line reserves
    (memmap=<size>!<start>, several per option allowed, comma-separated)."""
    regions: List[Tuple[int, int]] = []
    for word in cmdline.split():
        if word == "--":
            break
        if not word.startswith("memmap="):
            continue
        for part in word[len("memmap=") :].split(","):
            match = MEMMAP_PMEM.fullmatch(part)
            if match:
                size = int(match.group(1)) * UNITS[match.group(2).upper()]
                start = int(match.group(3)) * UNITS[match.group(4).upper()]
                regions.append((start, size))
    return regions


PMEM_DEVICE = re.compile(r"^/dev/(pmem[0-9]+(\.[0-9]+)?|dax[0-9]+\.[0-9]+)$")


def preserved_device_of(path: str, mounts: List[Mount]) -> Tuple[str | None, str | None]:
    """The persistent-memory device holding path: the path itself (/dev/pmemN, /dev/daxN.M) or the
    source of the DAX-mounted filesystem it lives on; (None, why not) otherwise."""
    if PMEM_DEVICE.fullmatch(path):
        return path, None
    best: Mount | None = None
    for mount in mounts:
        point = mount[1]
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[1]):
                best = mount
    if best is None:
        return None, "no mounted filesystem holds it"
    source, point, fs_type, options = best
    if not PMEM_DEVICE.fullmatch(source):
        return None, "it is on %s (%s at %s), which the next kernel does not get back" % (source, fs_type, point)
    if "dax" not in options and "dax=always" not in options:
        return None, "it is on %s at %s, mounted without dax: pages live in the page cache" % (source, point)
    return source, None


def device_state_estimate(argv: List[str]) -> int:
    """Room one VM's device state needs in the state region (memory left in place)."""
    display = any(DISPLAY_DEVICE.search(a) for a in argv) or any(
        a == "-vga" and argv[i + 1] != "none" for i, a in enumerate(argv[:-1])
    )
    return DEVICE_STATE_REGION_ESTIMATE + (VIDEO_RAM_ESTIMATE if display else 0)


def kernel_level_reasons(facts: JsonObject, vms: List[Tuple[str, List[str], List[JsonObject]]]) -> List[str]:
    """Why a kexec with guest memory kept cannot run on this host; empty when it can. Pure: facts are
    what kernel_host_facts read, vms are (name, argv, RAM backends as Preflight reports them)."""
    reasons: List[str] = list(facts["configProblems"])
    settings = facts["settings"]
    devices = facts["deviceBytes"]
    regions = memmap_pmem_regions(facts["cmdline"])
    if facts["kexec"] is None:
        reasons.append("kexec-tools are not installed (no kexec on PATH)")
    if facts["kexecLoadDisabled"] != "0":
        reasons.append("the kernel refuses to load a kexec image (kernel.kexec_load_disabled is %s)"
                       % facts["kexecLoadDisabled"])
    if not regions:
        reasons.append("the running kernel's command line reserves no persistent-memory region "
                       "(memmap=<size>!<start>), so nothing would keep guest RAM across the reload")
    for start, size in regions:
        if start % MEMORY_SECTION_BYTES:
            reasons.append("memmap=%dM!%dM does not start on a %d MiB memory section boundary"
                           % (size >> 20, start >> 20, MEMORY_SECTION_BYTES >> 20))
    if facts["legacyPmem"] is not None:
        missing = [r for r in facts["legacyPmem"] if r not in regions]
        for start, size in missing:
            reasons.append("persistent memory at %#x (%d MiB) is not reserved by a memmap= option on the "
                           "command line the next kernel gets" % (start, size >> 20))
    if settings is not None:
        for key in ("kernel", "initrd"):
            if not facts["exists"].get(settings[key]):
                reasons.append("no %s to stage for the next kernel at %s" % (key, settings[key]))
    state_region = settings["stateRegion"] if settings else None
    owners: Dict[str, str] = {}
    needed = 0
    for name, argv, backends in vms:
        needed += device_state_estimate(argv)
        for backend in backends:
            path = backend.get("memPath")
            if path is None:
                continue  # not a file backend: the per-VM checks already refuse it
            device, why_not = preserved_device_of(path, facts["mounts"])
            if device is None:
                reasons.append("%s keeps guest RAM in %s, which does not survive a kernel reload: %s"
                               % (name, path, why_not))
                continue
            if device == state_region:
                reasons.append("%s keeps guest RAM on %s, the state region for device state" % (name, device))
            if device == path:
                if devices.get(device) is not None and backend.get("bytes", 0) > devices[device]:
                    reasons.append("%s has %d MiB of RAM, more than %s holds (%d MiB)"
                                   % (name, backend["bytes"] >> 20, device, devices[device] >> 20))
                if device in owners:
                    reasons.append("%s and %s both map all of %s as guest RAM" % (owners[device], name, device))
                owners[device] = name
    if state_region is not None:
        size = devices.get(state_region)
        if size is None:
            reasons.append("state region %s does not exist" % state_region)
        elif not PMEM_DEVICE.fullmatch(state_region):
            reasons.append("state region %s is not a persistent-memory device" % state_region)
        elif size < needed:
            reasons.append("state region %s holds %d MiB, device state of %d VMs needs about %d MiB"
                           % (state_region, size >> 20, len(vms), needed >> 20))
    return reasons


def device_bytes(path: str) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def kernel_host_facts(host: Host, vm_paths: Iterable[str] = ()) -> JsonObject:
    """What kernel_level_reasons needs, read from this host; it changes nothing."""
    config_path = kernel_config_path(host)
    raw = read_json(config_path)
    settings, problems = parse_kernel_config(raw, os.uname().release)
    if raw is None and os.path.exists(config_path):
        problems = ["%s is unreadable or not JSON" % config_path]
    paths = set(vm_paths)
    if settings:
        paths |= {settings["stateRegion"], settings["kernel"], settings["initrd"]}
    return {
        "settings": settings,
        "configProblems": problems,
        "cmdline": read_text("/proc/cmdline", ""),
        "mounts": parse_mounts(read_text("/proc/mounts", "")),
        "kexec": shutil.which("kexec"),
        "kexecLoadDisabled": (read_text("/proc/sys/kernel/kexec_load_disabled", "1") or "1").strip(),
        "legacyPmem": legacy_pmem_ranges(read_text("/proc/iomem")),
        "exists": {p: os.path.exists(p) for p in paths},
        "deviceBytes": {p: device_bytes(p) for p in paths if PMEM_DEVICE.fullmatch(p)},
    }


def kernel_level_gaps(host: Host, assessments: List[Assessment]) -> List[str]:
    vms = [(a.name, a.vm.argv, a.ram_backends) for a in assessments if a.vm is not None]
    paths = [b["memPath"] for _, _, backends in vms for b in backends if b.get("memPath")]
    return kernel_level_reasons(kernel_host_facts(host, paths), vms)
