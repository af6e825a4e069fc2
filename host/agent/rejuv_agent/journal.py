"""Run journals (<root>/var/lib/rejuv/runs/<runId>.json): what each WarmReboot did, for replay and Recover."""

from __future__ import annotations

import os
from typing import List

from .files import read_json
from .host import Host
from .json_types import JsonObject
from .patterns import RUN_ID


def journal_path(host: Host, run_id: str) -> str:
    return os.path.join(host.runs_dir, run_id + ".json")


def interrupted_runs(host: Host) -> List[JsonObject]:
    """Journals still marked running while we hold the host lock: their agent died mid-run."""
    runs: List[JsonObject] = []
    if os.path.isdir(host.runs_dir):
        for file_name in sorted(os.listdir(host.runs_dir)):
            journal = read_json(os.path.join(host.runs_dir, file_name)) if file_name.endswith(".json") else None
            if journal and journal.get("status") == "running":
                runs.append(journal)
    return runs


def run_journals(host: Host) -> List[JsonObject]:
    """Every WarmReboot journal on the host, oldest first."""
    journals: List[JsonObject] = []
    if os.path.isdir(host.runs_dir):
        for file_name in os.listdir(host.runs_dir):
            journal = read_json(os.path.join(host.runs_dir, file_name)) if file_name.endswith(".json") else None
            if journal and isinstance(journal.get("vms"), dict) and RUN_ID.fullmatch(str(journal.get("runId"))):
                journals.append(journal)
    return sorted(journals, key=lambda j: j.get("startedAt") or 0)
