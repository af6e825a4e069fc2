"""The tap rules of a handover: which taps a successor is passed, how its argv says so, how a running
successor is recognised, and how a tap descriptor is found in /proc. Run from host/agent:
python3 -m unittest discover -s tests -t ."""

import os
import unittest

from rejuv_agent.inventory import Vm
from rejuv_agent.qemu_argv import (
    handover_obstacles,
    handover_taps,
    is_successor_argv,
    runs_inventory_argv,
    successor_argv,
    tap_with_fd,
)
from rejuv_agent.taps import can_duplicate_descriptors, duplicate_descriptor, parse_tap_fdinfo

QMP = "/run/rejuv/vm-a.qmp"
TAP = "tap,id=net0,ifname=tap0,script=no,downscript=no"


def vm_with(*netdev):
    argv = ["qemu-system-x86_64", "-name", "vm-a"]
    for value in netdev:
        argv += ["-netdev", value, "-device", "virtio-net-pci,netdev=" + value.split("id=")[1].split(",")[0]]
    argv += ["-qmp", "unix:%s,server=on,wait=off" % QMP]
    return Vm({"name": "vm-a", "argv": argv, "qmpSocket": QMP, "stateDir": "/var/lib/rejuv/vms/vm-a",
               "heartbeat": {"log": "/var/log/vm-a.log", "pattern": "^HB ([0-9]+)$"}})


class SuccessorArgv(unittest.TestCase):
    def test_a_tap_opened_by_name_is_passed_as_a_descriptor_with_the_options_that_open_it_dropped(self):
        vm = vm_with(TAP + ",sndbuf=0")
        self.assertEqual(handover_obstacles(vm), [])
        self.assertEqual(handover_taps(vm), [(4, "tap0")])
        argv = successor_argv(vm, QMP + ".h42", {4: 9})
        self.assertEqual(argv[4], "tap,id=net0,sndbuf=0,fd=9")
        self.assertEqual(argv[-4:], ["-qmp", "unix:%s.h42,server=on,wait=off" % QMP, "-incoming", "defer"])
        # Nothing else changes.
        self.assertEqual([a for i, a in enumerate(argv[:-2]) if i not in (4, len(argv) - 3)],
                         [a for i, a in enumerate(vm.argv) if i not in (4, len(vm.argv) - 1)])

    def test_without_taps_only_the_qmp_socket_moves(self):
        vm = vm_with("user,id=net0")
        self.assertEqual(handover_taps(vm), [])
        self.assertEqual(successor_argv(vm, QMP + ".h42")[:4], vm.argv[:4])

    def test_a_literal_comma_in_a_tap_option_survives(self):
        self.assertEqual(tap_with_fd(["tap", "id=net0", "ifname=tap0", "x=a,b"], 3), "tap,id=net0,x=a,,b,fd=3")


class RecognisingSuccessors(unittest.TestCase):
    def test_a_successor_runs_the_inventory_argv_whatever_descriptor_it_got(self):
        vm = vm_with(TAP)
        successor = successor_argv(vm, QMP + ".h42", {4: 17})
        self.assertTrue(runs_inventory_argv(successor, vm))
        self.assertTrue(runs_inventory_argv(vm.argv, vm))
        self.assertTrue(is_successor_argv(successor, vm, QMP + ".h42"))
        self.assertFalse(is_successor_argv(successor, vm, QMP + ".h43"))

    def test_a_tap_changed_otherwise_is_not_the_vm(self):
        vm = vm_with(TAP)
        for value in ("tap,id=net0,fd=x", "tap,id=net1,fd=3", "tap,id=net0,fd=3,sndbuf=0", "user,id=net0"):
            argv = list(vm.argv)
            argv[4] = value
            self.assertFalse(runs_inventory_argv(argv, vm), value)


class TapObstacles(unittest.TestCase):
    def reasons(self, netdev):
        return " | ".join(handover_obstacles(vm_with(netdev)))

    def test_vhost_net_falls_back_with_its_reason(self):
        self.assertIn("vhost-net (its kernel worker belongs to the running process", self.reasons(TAP + ",vhost=on"))

    def test_a_downscript_a_nameless_tap_multiqueue_and_passed_descriptors_fall_back(self):
        self.assertIn("a tap with a downscript", self.reasons("tap,id=net0,ifname=tap0,script=no"))
        self.assertIn("a tap with a downscript", self.reasons(TAP.replace("downscript=no", "downscript=/etc/down")))
        self.assertIn("a tap without ifname=", self.reasons("tap,id=net0,script=no,downscript=no"))
        self.assertIn("a multiqueue or helper-made tap", self.reasons(TAP + ",queues=4"))
        self.assertIn("a passed-in file descriptor", self.reasons("tap,id=net0,fd=3"))

    def test_other_network_backends_still_fall_back(self):
        self.assertIn("a tap/vhost network backend other than -netdev tap", self.reasons("bridge,id=net0,br=br0"))
        self.assertIn(
            "a tap/vhost network backend other than -netdev tap", self.reasons("vhost-user,id=net0,chardev=c")
        )


class TapDescriptors(unittest.TestCase):
    def test_fdinfo_names_the_tap_or_says_it_is_detached(self):
        self.assertEqual(parse_tap_fdinfo("pos:\t0\nflags:\t02104002\nmnt_id:\t63\nino:\t104\niff:\ttap0\n"), "tap0")
        self.assertEqual(parse_tap_fdinfo("pos:\t96\nflags:\t02104002\niff:\t\n"), "")
        self.assertIsNone(parse_tap_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t25\nino:\t5\n"))

    @unittest.skipUnless(can_duplicate_descriptors(), "this kernel has no pidfd_getfd")
    def test_a_duplicated_descriptor_shares_the_open_file(self):
        read_end, write_end = os.pipe()
        try:
            copy = duplicate_descriptor(os.getpid(), write_end)
            os.write(copy, b"x")
            os.close(copy)
            self.assertEqual(os.read(read_end, 1), b"x")
        finally:
            os.close(read_end)
            os.close(write_end)


if __name__ == "__main__":
    unittest.main()
