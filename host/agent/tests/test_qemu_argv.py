import unittest

from rejuv_agent.errors import VmFailure
from rejuv_agent.qemu_argv import (
    handover_obstacles, parse_object_option, ram_files_from_argv, runs_inventory_argv, successor_argv,
)

from .support import QMP, vm

RAM = "memory-backend-file,id=ram,size=128M,mem-path=/dev/shm/vm-a.ram,share=on"


class ObjectOptions(unittest.TestCase):
    def test_key_value_syntax_with_its_type_first_and_doubled_commas_escaped(self):
        self.assertEqual(
            parse_object_option("memory-backend-file,id=ram,mem-path=/srv/a,,b.ram,share=on"),
            {"qom-type": "memory-backend-file", "id": "ram", "mem-path": "/srv/a,b.ram", "share": "on"},
        )

    def test_json_syntax_and_malformed_json(self):
        self.assertEqual(parse_object_option('{"qom-type": "memory-backend-file", "size": 1}'),
                         {"qom-type": "memory-backend-file", "size": "1"})
        self.assertEqual(parse_object_option("{not json"), {})

    def test_ram_files_are_the_file_backends_mem_paths_only(self):
        argv = ["qemu", "-object", RAM, "-object", "memory-backend-ram,id=r2,size=1G", "-object"]
        self.assertEqual(ram_files_from_argv(argv), ["/dev/shm/vm-a.ram"])


class SuccessorArgv(unittest.TestCase):
    def test_moves_only_the_qmp_socket_and_adds_incoming_defer(self):
        machine = vm()
        argv = successor_argv(machine, QMP + ".h42")
        self.assertEqual(argv[:-2], [a.replace(QMP, QMP + ".h42") for a in machine.argv])
        self.assertEqual(argv[-2:], ["-incoming", "defer"])

    def test_refuses_an_argv_without_the_inventory_qmp_socket(self):
        with self.assertRaises(VmFailure):
            successor_argv(vm(argv=["qemu", "-qmp", "unix:/elsewhere.qmp,server=on"]), QMP + ".h1")

    def test_recognises_the_inventory_argv_as_started_restored_or_handed_over(self):
        machine = vm()
        self.assertTrue(runs_inventory_argv(list(machine.argv), machine))
        self.assertTrue(runs_inventory_argv(machine.argv + ["-incoming", "defer"], machine))
        self.assertTrue(runs_inventory_argv(successor_argv(machine, QMP + ".h123"), machine))

    def test_rejects_other_arguments_and_other_socket_suffixes(self):
        machine = vm()
        self.assertFalse(runs_inventory_argv(None, machine))
        self.assertFalse(runs_inventory_argv(machine.argv + ["-S"], machine))
        moved = [a.replace(QMP, QMP + ".x1") for a in machine.argv]
        self.assertFalse(runs_inventory_argv(moved, machine))


class HandoverObstacles(unittest.TestCase):
    def test_a_plain_vm_can_be_handed_over(self):
        self.assertEqual(handover_obstacles(vm()), [])

    def test_names_each_thing_two_processes_cannot_share_once(self):
        argv = vm().argv + ["-pidfile", "/run/a.pid", "-netdev", "tap,id=n0,vhost=on", "-vnc", ":1",
                            "-netdev", "tap,id=n1"]
        reasons = handover_obstacles(vm(argv=argv))
        # A -netdev tap is handed over by descriptor (test_tap_handover.py), but not these: no ifname=,
        # QEMU's default downscript.
        self.assertEqual(len(reasons), 5, reasons)
        self.assertTrue(any("pidfile" in r for r in reasons))
        self.assertTrue(any("a tap without ifname=" in r for r in reasons))
        self.assertTrue(any("a tap with a downscript" in r for r in reasons))
        self.assertTrue(any("vhost-net" in r for r in reasons))
        self.assertTrue(any("VNC/SPICE" in r for r in reasons))

    def test_a_socket_path_too_long_for_the_successors_sockets(self):
        long_qmp = "/run/" + "q" * 95 + ".qmp"
        machine = vm(argv=["qemu", "-qmp", "unix:%s,server=on" % long_qmp], qmpSocket=long_qmp)
        self.assertTrue(any("exceed 107 bytes" in r for r in handover_obstacles(machine)))


if __name__ == "__main__":
    unittest.main()
