import unittest

from rejuv_agent.errors import EXIT_INVALID_REQUEST, Refusal
from rejuv_agent.inventory import Vm, load_inventory, select_vms, validate_entry

from .support import HostRootCase, entry


class ValidateEntry(unittest.TestCase):
    def test_a_complete_entry_has_no_problems(self):
        self.assertEqual(validate_entry(entry(), "vm-a"), [])

    def test_names_every_problem_of_a_bad_entry(self):
        bad = entry(schemaVersion=2, argv=["qemu", "-incoming", "defer"], qmpSocket="relative.qmp",
                    heartbeat={"log": "/log", "pattern": "no group"})
        problems = validate_entry(bad, "vm-a")
        self.assertEqual(len(problems), 4, problems)
        self.assertIn("schemaVersion must be 1", problems)
        self.assertIn("qmpSocket must be an absolute path", problems)

    def test_a_name_that_differs_from_its_file_or_is_not_a_vm_name(self):
        self.assertEqual(validate_entry(entry(), "vm-b"), ["name 'vm-a' differs from its file name 'vm-b'"])
        self.assertTrue(validate_entry(entry(name="VM_A"), "VM_A")[0].startswith("name must match"))

    def test_not_an_object_and_not_a_regular_expression(self):
        self.assertEqual(validate_entry([], "vm-a"), ["not a JSON object"])
        problems = validate_entry(entry(heartbeat={"log": "/log", "pattern": "("}), "vm-a")
        self.assertEqual(problems, ["heartbeat.pattern is not a valid regular expression"])


class LoadInventory(HostRootCase):
    def test_no_inventory_directory_is_an_empty_inventory(self):
        self.assertEqual(load_inventory(self.host), ({}, {}))

    def test_usable_entries_and_a_problem_for_each_unusable_one(self):
        self.write_inventory("vm-a.json", entry())
        self.write_inventory("vm-b.json", "{not json")
        self.write_inventory("vm-c.json", entry(name="vm-x"))
        self.write_inventory("notes.txt", "ignored")
        vms, problems = load_inventory(self.host)
        self.assertEqual(sorted(vms), ["vm-a"])
        self.assertIsInstance(vms["vm-a"], Vm)
        self.assertEqual(sorted(problems), ["vm-b", "vm-c"])
        self.assertIn("unreadable", problems["vm-b"])
        self.assertIn("invalid", problems["vm-c"])


class SelectVms(HostRootCase):
    def setUp(self):
        super().setUp()
        self.write_inventory("vm-a.json", entry())
        self.write_inventory("vm-b.json", entry(name="vm-b"))

    def test_star_selects_every_vm_in_name_order(self):
        targets, _ = select_vms(self.host, "*", require_all=True)
        self.assertEqual([getattr(t, "name") for t in targets], ["vm-a", "vm-b"])

    def test_an_unknown_name_is_refused_as_an_invalid_request(self):
        with self.assertRaises(Refusal) as raised:
            select_vms(self.host, "vm-a,vm-z", require_all=False)
        self.assertEqual((raised.exception.code, raised.exception.exit_code), ("unknown-vm", EXIT_INVALID_REQUEST))

    def test_a_reload_must_name_every_vm_of_the_host(self):
        with self.assertRaises(Refusal) as raised:
            select_vms(self.host, "vm-a", require_all=True)
        self.assertEqual(raised.exception.code, "vm-set-mismatch")
        targets, _ = select_vms(self.host, "vm-a", require_all=False)
        self.assertEqual([getattr(t, "name") for t in targets], ["vm-a"])

    def test_an_empty_inventory_is_refused(self):
        empty = HostRootCase("run")
        empty.setUp()
        self.addCleanup(empty.doCleanups)
        with self.assertRaises(Refusal) as raised:
            select_vms(empty.host, "*", require_all=False)
        self.assertEqual(raised.exception.code, "empty-inventory")


if __name__ == "__main__":
    unittest.main()
