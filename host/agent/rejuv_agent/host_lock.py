"""Host lock: one document at a time per host."""

from __future__ import annotations

import fcntl
import os
import time

from .errors import Refusal
from .host import Host


LOCK_WAIT_S = 10.0


class HostLock:
    def __init__(self, host: Host, document: str, run_id: str) -> None:
        os.makedirs(host.state_root, exist_ok=True)
        self._handle = open(host.lock_path, "a+")
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._handle.seek(0)
                    holder = self._handle.read().strip() or "unknown holder"
                    self._handle.close()
                    raise Refusal("busy", "another rejuv document is running on this host (%s)" % holder)
                time.sleep(0.05)
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write("%s run %s, pid %d" % (document, run_id, os.getpid()))
        self._handle.flush()

    def release(self) -> None:
        self._handle.close()
