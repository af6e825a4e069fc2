"""What /proc says about processes and the host, and parsers of its files (pure where they take text)."""

from __future__ import annotations

import os
import time
from typing import Dict, List, Tuple, overload

from .inventory import Vm
from .qemu_argv import runs_inventory_argv

# (source, mount point, filesystem type, options) of one /proc/mounts line.
Mount = Tuple[str, str, str, List[str]]


def process_start_time(pid: int) -> int | None:
    """Start time in clock ticks since boot, or None when the process is gone (zombies count as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def same_process_alive(pid: int | None, start_time: int | None) -> bool:
    return pid is not None and process_start_time(pid) == start_time


def process_argv(pid: int) -> List[str] | None:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0")[:-1]]


def find_vm_processes(vm: Vm) -> List[int]:
    """Live processes running this VM's inventory argv."""
    found: List[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and runs_inventory_argv(process_argv(int(entry)), vm):
            if process_start_time(int(entry)) is not None:
                found.append(int(entry))
    return found


def wait_for_exit(pid: int, start_time: int | None, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while same_process_alive(pid, start_time):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def memory_available_bytes() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def parse_mounts(text: str) -> List[Mount]:
    """[(source, mount point, type, options)] from /proc/mounts text."""
    def unescape(s: str) -> str:
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")

    mounts: List[Mount] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            mounts.append((fields[0], unescape(fields[1]), fields[2], fields[3].split(",")))
    return mounts


@overload
def read_text(path: str) -> str | None: ...


@overload
def read_text(path: str, default: str) -> str: ...


def read_text(path: str, default: str | None = None) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return default


def legacy_pmem_ranges(iomem: str | None) -> List[Tuple[int, int]] | None:
    """(start, size) of every "Persistent Memory (legacy)" range in /proc/iomem; None when its
    addresses are hidden (zeros for a reader without CAP_SYS_ADMIN)."""
    ranges: List[Tuple[int, int]] = []
    for line in (iomem or "").splitlines():
        if "Persistent Memory (legacy)" in line and not line.startswith(" "):
            first, _, last = line.split(":")[0].strip().partition("-")
            start, end = int(first, 16), int(last, 16)
            if end == 0:
                return None
            ranges.append((start, end - start + 1))
    return ranges


MEMINFO_FIELDS = {
    "memTotalBytes": "MemTotal",
    "memAvailableBytes": "MemAvailable",
    "sUnreclaimBytes": "SUnreclaim",
    "pageTablesBytes": "PageTables",
    "vmallocUsedBytes": "VmallocUsed",
    "swapFreeBytes": "SwapFree",
    "swapTotalBytes": "SwapTotal",
}


def parse_meminfo(text: str) -> Dict[str, int]:
    """The meminfo fields the collector reports, in bytes; a field the kernel does not print is missing."""
    values: Dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    missing = [field for field in MEMINFO_FIELDS.values() if field not in values]
    if missing:
        raise ValueError("/proc/meminfo has no %s" % ", ".join(missing))
    return {name: values[field] for name, field in MEMINFO_FIELDS.items()}


def parse_buddyinfo(text: str) -> List[int]:
    """Free blocks per order, summed over every node and zone (huge pages come from any of them)."""
    per_order: List[int] = []
    for line in text.splitlines():
        _, _, counts = line.partition(" zone ")
        fields = counts.split()[1:]
        if not fields:
            continue
        for order, count in enumerate(fields):
            if order == len(per_order):
                per_order.append(0)
            per_order[order] += int(count)
    if not per_order:
        raise ValueError("/proc/buddyinfo lists no zone")
    return per_order


def parse_uptime(text: str) -> float:
    return float(text.split()[0])


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def parse_process_status(text: str) -> Tuple[int, int]:
    """VmRSS (bytes) and Threads from /proc/<pid>/status."""
    fields: Dict[str, List[str]] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields[key] = rest.split()
    rss = fields.get("VmRSS")
    threads = fields.get("Threads")
    if not rss or not threads:
        raise ValueError("no VmRSS or Threads (a kernel thread, or a process that is exiting)")
    return int(rss[0]) * 1024, int(threads[0])
