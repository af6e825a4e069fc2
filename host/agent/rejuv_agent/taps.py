"""A running QEMU's taps: which of its descriptors is attached to which tap (/proc/<pid>/fdinfo names
the interface of a tun/tap descriptor on its `iff:` line), and a copy of one for a successor
(pidfd_open + pidfd_getfd, Linux 5.6+; called through libc, as Python's os has neither before 3.9).

A tap that is not multiqueue can be attached to one file at a time, so a successor cannot open it by
name while the old process holds it; passed a duplicate of the old process's descriptor, it shares the
same open file, and the tap stays attached throughout. While neither process runs the guest, its
virtio-net reads nothing, so packets wait in the tap's queue: delayed, not lost.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct
import threading
import time
from typing import Dict, List, Optional, Tuple

from .errors import VmFailure


# The same numbers on every architecture (the unified syscall table, Linux 5.1+).
SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438


def parse_tap_fdinfo(text: str) -> Optional[str]:
    """The interface a tun/tap descriptor is attached to, from its fdinfo; "" when it is detached (its
    tap was deleted); None for any other descriptor."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "iff":
            return value.strip()
    return None


def tap_descriptors(pid: int) -> Dict[str, List[int]]:
    """{tap name: [descriptor numbers]} of a process; detached tun/tap descriptors under ""."""
    found: Dict[str, List[int]] = {}
    directory = "/proc/%d/fdinfo" % pid
    try:
        names = os.listdir(directory)
    except OSError as error:
        raise VmFailure("cannot read the descriptors of QEMU pid %d (%s)" % (pid, error))
    for name in names:
        try:
            with open(os.path.join(directory, name)) as handle:
                tap = parse_tap_fdinfo(handle.read())
        except OSError:
            continue  # closed meanwhile
        if tap is not None:
            found.setdefault(tap, []).append(int(name))
    return found


def _syscall(number: int, *args: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    result: int = libc.syscall(number, *[ctypes.c_int(a) for a in args])
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def duplicate_descriptor(pid: int, fd: int) -> int:
    """A descriptor of this process for the open file behind descriptor fd of process pid (close-on-exec;
    subprocess's pass_fds hands it on). Needs ptrace access to pid (root has it)."""
    pidfd = _syscall(SYS_PIDFD_OPEN, pid, 0)
    try:
        return _syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    finally:
        os.close(pidfd)


def duplicate_taps(pid: int, taps: List[Tuple[int, str]]) -> Dict[int, int]:
    """{index of the tap's -netdev value: a duplicate of pid's descriptor of it} for taps, a list of
    (index, tap name). Raises VmFailure naming the tap when it cannot be: gone, open more than once,
    or this kernel cannot duplicate another process's descriptor. Closes what it got on failure."""
    open_taps = tap_descriptors(pid)
    duplicates: Dict[int, int] = {}
    try:
        for index, name in taps:
            fds = open_taps.get(name, [])
            if not fds:
                raise VmFailure("its tap %s is gone: no descriptor of QEMU pid %d is attached to it" % (name, pid))
            if len(fds) > 1:
                raise VmFailure("its tap %s is open %d times in QEMU pid %d (multiqueue?)" % (name, len(fds), pid))
            try:
                duplicates[index] = duplicate_descriptor(pid, fds[0])
            except OSError as error:
                why = "this kernel has no pidfd_getfd (Linux 5.6+)" if error.errno == errno.ENOSYS else error.strerror
                raise VmFailure("could not duplicate its tap %s from QEMU pid %d (%s)" % (name, pid, why))
    except VmFailure:
        close_all(duplicates)
        raise
    return duplicates


def close_all(duplicates: Dict[int, int]) -> None:
    for fd in duplicates.values():
        os.close(fd)


def can_duplicate_descriptors() -> bool:
    """Whether this kernel lets the agent duplicate another process's descriptor (tried on its own)."""
    read_end, write_end = os.pipe()
    try:
        os.close(duplicate_descriptor(os.getpid(), read_end))
        return True
    except OSError:
        return False
    finally:
        os.close(read_end)
        os.close(write_end)


# <linux/if_tun.h>: the interface and flags of a tun/tap file (struct ifreq: 16 bytes of name, then
# the flags), and the tap's virtio-net header size, which is per tap device, not per descriptor.
TUNGETIFF = 0x800454D2
IFF_VNET_HDR = 0x4000
TUNGETVNETHDRSZ = 0x800454D7
TUNSETVNETHDRSZ = 0x400454D8
GUARD_INTERVAL_S = 0.0005


class VnetHeaderGuard:
    """Keeps each tap's virtio-net header size at what the running process set while its successor
    starts. QEMU 7.2 resets it on a tap it is given (at netdev init, and again when its virtio-net is
    realized: "it might have been modified by another instance of qemu"), while the old process still
    exchanges packets with the guest through the same tap at the size the guest negotiated: every frame
    between the reset and the successor's loading the device state (which sets the negotiated size
    again) would be cut wrong, both ways. The guard puts the size back within a fraction of a
    millisecond, until the old process is stopped. A tap without a vnet header is never touched."""

    def __init__(self, tap_fds: Dict[int, int]) -> None:
        self._fds: List[Tuple[int, int]] = []
        for fd in tap_fds.values():
            size = header_size(fd)
            if size is not None:
                self._fds.append((os.dup(fd), size))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, daemon=True)
        if self._fds:
            self._thread.start()

    def _keep(self) -> None:
        while not self._stop.is_set():
            for fd, size in self._fds:
                current = header_size(fd)
                if current is not None and current != size:
                    fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", size))
            time.sleep(GUARD_INTERVAL_S)

    def stop(self) -> None:
        """Stops guarding (idempotent): once the old process is stopped, the successor sets the size."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for fd, _ in self._fds:
            os.close(fd)
        self._fds = []


def header_size(fd: int) -> Optional[int]:
    """The tap's virtio-net header size, or None when it has no vnet header (or is no tap)."""
    try:
        flags: int = struct.unpack("H", fcntl.ioctl(fd, TUNGETIFF, b"\0" * 40)[16:18])[0]
        if not flags & IFF_VNET_HDR:
            return None
        size: int = struct.unpack("i", fcntl.ioctl(fd, TUNGETVNETHDRSZ, struct.pack("i", 0)))[0]
        return size
    except OSError:
        return None
