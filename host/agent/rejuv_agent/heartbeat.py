"""Guest heartbeats: the counter each guest prints to its log, sampled by Preflight and awaited by Verify."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, List, Tuple

from .clock import elapsed_ms
from .inventory import Vm
from .json_types import JsonObject
from .parallel import in_parallel

if TYPE_CHECKING:
    from .assessment import Assessment


HEARTBEAT_POLL_S = 0.05


def read_heartbeat_tail(vm: Vm) -> Tuple[int | None, int]:
    """(last counter, byte offset just after the last complete line) of the VM's heartbeat log."""
    try:
        with open(vm.heartbeat_log, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - 65536)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return None, 0
    end = data.rfind(b"\n") + 1
    counter = None
    for line in reversed(data[:end].decode("utf-8", "replace").splitlines()):
        match = vm.heartbeat_pattern.search(line)
        if match:
            counter = int(match.group(1))
            break
    return counter, start + end


def heartbeat_counters_since(vm: Vm, offset: int) -> List[int]:
    with open(vm.heartbeat_log, "rb") as handle:
        handle.seek(offset)
        data = handle.read(16 << 20)
    complete = data[: data.rfind(b"\n") + 1].decode("utf-8", "replace")
    counters: List[int] = []
    for line in complete.splitlines():
        match = vm.heartbeat_pattern.search(line)
        if match:
            counters.append(int(match.group(1)))
    return counters


def sample_heartbeat(vm: Vm, window_s: float) -> JsonObject:
    """Whether the guest is printing heartbeats now, read as Verify reads them: the counter at the end
    of the log, then whether any new heartbeat line follows it within window_s."""
    started = time.monotonic()
    first, offset = read_heartbeat_tail(vm)
    sample: JsonObject = {"advancing": False, "first": first, "last": first}
    while True:
        try:
            counters = heartbeat_counters_since(vm, offset)
        except OSError as error:
            sample["problem"] = "heartbeat log unreadable: %s" % error
            break
        if counters:
            sample["advancing"] = True
            sample["last"] = counters[-1]
            break
        if time.monotonic() - started >= window_s:
            break
        time.sleep(HEARTBEAT_POLL_S)
    sample["sampledMs"] = elapsed_ms(started)
    return sample


def silence_reason(sample: JsonObject, window_s: float) -> str:
    if "problem" in sample:
        return "guest heartbeat cannot be read (%s)" % sample["problem"]
    if sample["first"] is None:
        return "guest heartbeat is silent: no heartbeat line in its log, and none within %s s" % window_s
    return "guest heartbeat is silent: its counter stayed at %d for %s s" % (sample["first"], window_s)


def sample_heartbeats(assessments: List[Assessment], window_s: float) -> List[Assessment]:
    """Samples every guest's heartbeat at once, so a host of silent guests costs one window, not one each."""
    sampled = [a for a in assessments if a.vm is not None]

    def sample(assessment: Assessment) -> None:
        assert assessment.vm is not None
        assessment.heartbeat = sample_heartbeat(assessment.vm, window_s)

    for index, error in in_parallel(sampled, sample).items():
        sampled[index].heartbeat = {"advancing": False, "first": None, "last": None, "problem": error}
    return [a for a in sampled if a.heartbeat is None or not a.heartbeat["advancing"]]


def first_step_back(previous: int | None, counters: List[int]) -> Tuple[int, int] | None:
    """The first (before, after) pair where the heartbeat counter did not go up, or None."""
    for counter in counters:
        if previous is not None and counter <= previous:
            return previous, counter
        previous = counter
    return None


def heartbeat_problem(vm: Vm, record: JsonObject, timeout_s: float, entry: JsonObject) -> str | None:
    """Waits for the guest's counter to pass its value at suspend; what is wrong with it, or None."""
    at_suspend = record.get("heartbeatAtSuspend")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            counters = heartbeat_counters_since(vm, record.get("heartbeatOffset", 0))
        except OSError as error:
            return "heartbeat log unreadable: %s" % error
        if counters:
            entry["heartbeatNow"] = counters[-1]
        step_back = first_step_back(at_suspend, counters)
        if step_back:
            return "guest restarted: its heartbeat went back from %d to %d" % step_back
        if counters and (at_suspend is None or counters[-1] > at_suspend):
            return None
        if time.monotonic() > deadline:
            return "guest heartbeat did not advance within %d s of resume" % timeout_s
        time.sleep(HEARTBEAT_POLL_S)
