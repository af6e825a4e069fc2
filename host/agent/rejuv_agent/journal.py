"""Run journals (<root>/var/lib/rejuv/runs/<runId>.json): what each WarmReboot did, for replay and Recover."""

import os

from .files import read_json
from .patterns import RUN_ID


def journal_path(host, run_id):
    return os.path.join(host.runs_dir, run_id + ".json")


def interrupted_runs(host):
    """Journals still marked running while we hold the host lock: their agent died mid-run."""
    runs = []
    if os.path.isdir(host.runs_dir):
        for file_name in sorted(os.listdir(host.runs_dir)):
            journal = read_json(os.path.join(host.runs_dir, file_name)) if file_name.endswith(".json") else None
            if journal and journal.get("status") == "running":
                runs.append(journal)
    return runs


def run_journals(host):
    """Every WarmReboot journal on the host, oldest first."""
    journals = []
    if os.path.isdir(host.runs_dir):
        for file_name in os.listdir(host.runs_dir):
            journal = read_json(os.path.join(host.runs_dir, file_name)) if file_name.endswith(".json") else None
            if journal and isinstance(journal.get("vms"), dict) and RUN_ID.fullmatch(str(journal.get("runId"))):
                journals.append(journal)
    return sorted(journals, key=lambda j: j.get("startedAt") or 0)
