import json
import os

from rejuv_agent.files import read_json, remove_file, write_json_atomically
from rejuv_agent.journal import interrupted_runs, journal_path, run_journals

from .support import HostRootCase


class JournalFiles(HostRootCase):
    def test_written_atomically_then_read_back(self):
        path = journal_path(self.host, "run-1")
        write_json_atomically(path, {"runId": "run-1", "status": "running"})
        self.assertEqual(read_json(path), {"runId": "run-1", "status": "running"})
        self.assertEqual(os.listdir(os.path.dirname(path)), ["run-1.json"])

    def test_unreadable_or_missing_json_reads_as_none_and_removing_twice_is_fine(self):
        path = os.path.join(self.root, "broken.json")
        with open(path, "w") as handle:
            handle.write("{")
        self.assertIsNone(read_json(path))
        remove_file(path)
        remove_file(path)
        self.assertIsNone(read_json(path))

    def write_run(self, run_id, **fields):
        write_json_atomically(journal_path(self.host, run_id), dict({"runId": run_id, "vms": {}}, **fields))

    def test_interrupted_runs_are_those_still_marked_running(self):
        self.write_run("a", status="running", phase="rebooting")
        self.write_run("b", status="done")
        self.assertEqual([j["runId"] for j in interrupted_runs(self.host)], ["a"])

    def test_run_journals_oldest_first_skipping_what_is_not_a_journal(self):
        self.write_run("late", startedAt=200)
        self.write_run("early", startedAt=100)
        write_json_atomically(journal_path(self.host, "no-vms"), {"runId": "no-vms"})
        with open(os.path.join(self.host.runs_dir, "bad id.json"), "w") as handle:
            json.dump({"runId": "bad id", "vms": {}}, handle)
        self.assertEqual([j["runId"] for j in run_journals(self.host)], ["early", "late"])
