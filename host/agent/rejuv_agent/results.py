"""The one JSON result line every document prints, and the shapes shared by several documents."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Callable, Sequence, Tuple

from .clock import epoch_ms
from .errors import EXIT_FAILED, EXIT_OK, Refusal
from .json_types import JsonObject

if TYPE_CHECKING:
    from .vm_run import VmRun


RESULT_SCHEMA_VERSION = 1


def finish_run(
    journal: JsonObject,
    runs: Sequence[VmRun],
    outcome: str,
    reason: str | None,
    code: str | None,
    save_journal: Callable[[str], None],
    extra: JsonObject | None = None,
) -> Tuple[JsonObject, int]:
    result: JsonObject = {
        "document": "WarmReboot",
        "runId": journal["runId"],
        "level": journal["level"],
        "memoryInPlace": journal["memoryInPlace"],
        "outcome": outcome,
        "vms": [r.report() for r in runs],
        "startedAt": journal["startedAt"],
        "durationMs": round(epoch_ms() - journal["startedAt"], 3),
    }
    result.update(extra or {})
    if reason:
        result["reason"] = reason
        result["reasonCode"] = code
    journal["status"] = "done"
    journal["result"] = result
    journal["exitCode"] = EXIT_OK if outcome == "ok" else EXIT_FAILED
    save_journal("done")
    return result, journal["exitCode"]


def refused_result(document: str, refusal: Refusal, run_id: str | None) -> JsonObject:
    result: JsonObject = {
        "document": document, "outcome": "refused", "reason": refusal.reason, "reasonCode": refusal.code
    }
    result.update(vms=refusal.vms)
    if run_id is not None:
        result["runId"] = run_id
    return result


# The coordinator reads only the first 24,000 characters of stdout.
MAX_RESULT_CHARS = 23000


def emit(result: JsonObject) -> None:
    result = dict(result, schemaVersion=RESULT_SCHEMA_VERSION)
    line = json.dumps(result, separators=(",", ":"), sort_keys=True)
    if len(line) > MAX_RESULT_CHARS:
        keep = ("name", "outcome", "reason", "pauseMs", "stateBytes")
        result["vms"] = [{k: v for k, v in vm.items() if k in keep} for vm in result.get("vms", [])]
        result["detailTrimmed"] = True
        line = json.dumps(result, separators=(",", ":"), sort_keys=True)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
