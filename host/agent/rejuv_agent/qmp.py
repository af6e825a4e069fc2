"""A QMP client over the VM's unix socket, and the migration steps every reload path shares."""

from __future__ import annotations

import array
import json
import socket
import struct
import time
from typing import Any, Callable, List

from .errors import VmFailure
from .json_types import JsonObject


QMP_TIMEOUT_S = 10.0
MIGRATION_POLL_S = 0.002


class QmpError(Exception):
    """QEMU answered a command with an error."""


class QmpGone(Exception):
    """The QMP connection closed: QEMU exited or dropped us."""


class Qmp:
    def __init__(self, path: str, timeout_s: float = QMP_TIMEOUT_S) -> None:
        self.path = path
        self.events: List[JsonObject] = []
        self._buffer = b""
        self._next_id = 0
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(path)
            greeting = self._read_message()
            if "QMP" not in greeting:
                raise QmpGone("%s did not greet as QMP" % path)
            self.execute("qmp_capabilities")
        except BaseException:
            self._sock.close()
            raise

    def peer_pid(self) -> int:
        creds = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[0]

    def _read_message(self) -> Any:
        while b"\n" not in self._buffer:
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                raise QmpGone("no answer on %s within %.0f s" % (self.path, self._sock.gettimeout()))
            except OSError as error:
                raise QmpGone("QMP connection %s failed: %s" % (self.path, error))
            if not chunk:
                raise QmpGone("QMP connection %s closed" % self.path)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line.decode("utf-8"))

    def execute(self, command: str, arguments: JsonObject | None = None, fds: List[int] | None = None) -> Any:
        self._next_id += 1
        request_id = "rejuv-%d" % self._next_id
        message: JsonObject = {"execute": command, "id": request_id}
        if arguments is not None:
            message["arguments"] = arguments
        data = (json.dumps(message) + "\n").encode()
        try:
            if fds:
                rights = array.array("i", fds)
                self._sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
            else:
                self._sock.sendall(data)
        except OSError as error:
            raise QmpGone("QMP connection %s failed: %s" % (self.path, error))
        while True:
            reply = self._read_message()
            if "event" in reply:
                self.events.append(reply)
            elif reply.get("id") == request_id:
                if "error" in reply:
                    raise QmpError("%s: %s" % (command, reply["error"].get("desc", reply["error"])))
                return reply.get("return")

    def wait_for_event(self, matches: Callable[[JsonObject], bool], seen: int, timeout_s: float) -> JsonObject:
        """Blocks until QEMU sends an event for which matches(event) holds (any after the first `seen`
        events counts) and returns it; QmpGone when the connection closes or nothing comes within
        timeout_s. No polling: blocking reads of the connection."""
        deadline = time.monotonic() + timeout_s
        previous = self._sock.gettimeout()
        try:
            while True:
                for event in self.events[seen:]:
                    if matches(event):
                        return event
                seen = len(self.events)
                self._sock.settimeout(max(0.001, deadline - time.monotonic()))
                message = self._read_message()
                if "event" in message:
                    self.events.append(message)
        finally:
            self._sock.settimeout(previous)

    def event_time_ms(self, name: str) -> float | None:
        """Host wall-clock time (ms) QEMU stamped on the latest event of this name, if any."""
        for event in reversed(self.events):
            if event.get("event") == name:
                stamp = event.get("timestamp", {})
                return round(stamp.get("seconds", 0) * 1000.0 + stamp.get("microseconds", 0) / 1000.0, 3)
        return None

    def status(self) -> str:
        return self.execute("query-status")["status"]

    def quit(self) -> None:
        # QEMU may close the socket before its reply arrives (it is already exiting); that is success.
        try:
            self.execute("quit")
        except QmpGone:
            pass
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


def ensure_running(qmp: Qmp, failure: str) -> None:
    """Continues a VM that loaded its device state (it may already run: no -S); raises VmFailure, with
    `failure` % its status, unless it runs."""
    if qmp.status() != "running":
        qmp.execute("cont")
    status = qmp.status()
    if status != "running":
        raise VmFailure(failure % status)


def wait_for_migration(qmp: Qmp, timeout_s: float, what: str) -> JsonObject:
    deadline = time.monotonic() + timeout_s
    while True:
        info = qmp.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            return info
        if status in ("failed", "cancelled"):
            raise VmFailure("%s %s: %s" % (what, status, info.get("error-desc", "no detail from QEMU")))
        if time.monotonic() > deadline:
            raise VmFailure("%s did not complete within %.0f s (status %s)" % (what, timeout_s, status))
        time.sleep(MIGRATION_POLL_S)


MIGRATION_ENDED = ("completed", "failed", "cancelled")


def set_migration_capabilities(qmp: Qmp, in_place: bool, events: bool = False) -> None:
    capabilities = [{"capability": "x-ignore-shared", "state": bool(in_place)}]
    if events:
        capabilities.append({"capability": "events", "state": True})
    qmp.execute("migrate-set-capabilities", {"capabilities": capabilities})


def send_fd(qmp: Qmp, fd_name: str, fd: int) -> None:
    qmp.execute("getfd", {"fdname": fd_name}, fds=[fd])
