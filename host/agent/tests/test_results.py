import contextlib
import io
import json
import unittest

from rejuv_agent.collect_aging import unusable_free_index
from rejuv_agent.heartbeat import first_step_back
from rejuv_agent.results import MAX_RESULT_CHARS, emit


def emitted(result):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        emit(result)
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1, text
    return text, json.loads(text)


class ResultLine(unittest.TestCase):
    def test_one_sorted_compact_line_with_the_schema_version(self):
        text, line = emitted({"outcome": "ok", "document": "Verify", "vms": []})
        self.assertEqual(text, '{"document":"Verify","outcome":"ok","schemaVersion":1,"vms":[]}\n')
        self.assertEqual(line["schemaVersion"], 1)

    def test_a_line_too_long_for_the_coordinator_keeps_only_each_vms_essentials(self):
        vms = [{"name": "vm-%d" % i, "outcome": "resumed", "pauseMs": 1.5, "phasesMs": {"x" * 200: 1}}
               for i in range(200)]
        text, line = emitted({"document": "WarmReboot", "outcome": "ok", "vms": vms})
        self.assertLessEqual(len(text), MAX_RESULT_CHARS)
        self.assertTrue(line["detailTrimmed"])
        self.assertEqual(line["vms"][0], {"name": "vm-0", "outcome": "resumed", "pauseMs": 1.5})


class HeartbeatCounters(unittest.TestCase):
    def test_the_first_step_back_of_the_counter(self):
        self.assertIsNone(first_step_back(5, [6, 7, 8]))
        self.assertEqual(first_step_back(5, [6, 2, 3]), (6, 2))
        self.assertEqual(first_step_back(5, [5]), (5, 5))
        self.assertIsNone(first_step_back(None, [1, 2]))


class UnusableFreeIndex(unittest.TestCase):
    def test_share_of_free_memory_in_blocks_too_small_for_the_order(self):
        self.assertEqual(unusable_free_index([4, 0, 1], 2), 0.5)
        self.assertEqual(unusable_free_index([4, 0, 1], 0), 0.0)
        self.assertEqual(unusable_free_index([0, 0, 0], 1), 1.0)


if __name__ == "__main__":
    unittest.main()
