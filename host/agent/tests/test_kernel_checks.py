import unittest

from rejuv_agent.kernel_checks import memmap_pmem_regions, parse_kernel_config, preserved_device_of
from rejuv_agent.procfs import parse_mounts

MIB = 1 << 20


class KernelConfig(unittest.TestCase):
    def test_defaults_the_kernel_and_initrd_to_the_running_release(self):
        settings, problems = parse_kernel_config({"schemaVersion": 1, "stateRegion": "/dev/pmem1"}, "6.1.0-lab")
        self.assertEqual(problems, [])
        self.assertEqual(settings, {"stateRegion": "/dev/pmem1", "kernel": "/boot/vmlinuz-6.1.0-lab",
                                    "initrd": "/boot/initrd.img-6.1.0-lab"})

    def test_an_absent_file_or_a_non_object(self):
        self.assertEqual(parse_kernel_config(None, "r")[0], None)
        self.assertEqual(parse_kernel_config([], "r"), (None, ["kernel-reload.json is not a JSON object"]))

    def test_names_each_problem_and_gives_no_settings(self):
        settings, problems = parse_kernel_config({"schemaVersion": 2, "stateRegion": "pmem1", "extra": 1}, "r")
        self.assertIsNone(settings)
        self.assertEqual(problems, ["kernel-reload.json: schemaVersion must be 1",
                                    "kernel-reload.json: stateRegion must be an absolute path",
                                    "kernel-reload.json: unknown keys extra"])


class MemmapRegions(unittest.TestCase):
    def test_every_pmem_region_of_the_command_line_before_the_init_arguments(self):
        cmdline = "quiet memmap=64M!256M,16M!384M memmap=1G$2G memmap=2G!4G -- memmap=1M!1M"
        self.assertEqual(memmap_pmem_regions(cmdline),
                         [(256 * MIB, 64 * MIB), (384 * MIB, 16 * MIB), (4 << 30, 2 << 30)])


class PreservedDevice(unittest.TestCase):
    MOUNTS = parse_mounts("/dev/vda1 / ext4 rw 0 0\n/dev/pmem2 /mnt/dax ext4 rw,dax=always 0 0\n"
                          "/dev/pmem3 /mnt/nodax ext4 rw 0 0\n")

    def test_a_pmem_device_itself_or_a_file_on_a_dax_mount(self):
        self.assertEqual(preserved_device_of("/dev/pmem0", self.MOUNTS), ("/dev/pmem0", None))
        self.assertEqual(preserved_device_of("/mnt/dax/vm-a.ram", self.MOUNTS), ("/dev/pmem2", None))

    def test_a_file_on_an_ordinary_filesystem_or_a_mount_without_dax(self):
        self.assertIn("does not get back", str(preserved_device_of("/srv/vm-a.ram", self.MOUNTS)[1]))
        self.assertIn("without dax", str(preserved_device_of("/mnt/nodax/vm-a.ram", self.MOUNTS)[1]))


if __name__ == "__main__":
    unittest.main()
