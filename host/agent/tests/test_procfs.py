import os
import unittest

from rejuv_agent.procfs import (
    legacy_pmem_ranges, parse_buddyinfo, parse_meminfo, parse_mounts, parse_process_status, parse_uptime,
    process_argv, process_start_time, same_process_alive,
)

MEMINFO = """MemTotal:        2048000 kB
MemFree:          100000 kB
MemAvailable:    1024000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
SUnreclaim:        20000 kB
PageTables:         3000 kB
VmallocUsed:        4000 kB
HugePages_Total:       0
"""


class Meminfo(unittest.TestCase):
    def test_reports_the_collectors_fields_in_bytes(self):
        memory = parse_meminfo(MEMINFO)
        self.assertEqual(memory["memTotalBytes"], 2048000 * 1024)
        self.assertEqual(memory["memAvailableBytes"], 1024000 * 1024)
        self.assertEqual(memory["swapTotalBytes"], 0)
        self.assertEqual(len(memory), 7)

    def test_a_missing_field_is_an_error_naming_it(self):
        with self.assertRaisesRegex(ValueError, "MemAvailable"):
            parse_meminfo(MEMINFO.replace("MemAvailable", "MemWhatever"))


class Buddyinfo(unittest.TestCase):
    def test_sums_free_blocks_per_order_over_nodes_and_zones(self):
        text = ("Node 0, zone      DMA      1      2      3\n"
                "Node 0, zone    DMA32     10     20     30\n"
                "Node 1, zone   Normal    100    200    300\n")
        self.assertEqual(parse_buddyinfo(text), [111, 222, 333])

    def test_no_zone_is_an_error(self):
        with self.assertRaises(ValueError):
            parse_buddyinfo("")


class ProcessFiles(unittest.TestCase):
    def test_status_gives_resident_bytes_and_threads(self):
        self.assertEqual(parse_process_status("Name:\tqemu\nVmRSS:\t  2048 kB\nThreads:\t5\n"), (2048 * 1024, 5))

    def test_a_kernel_thread_has_no_rss(self):
        with self.assertRaises(ValueError):
            parse_process_status("Name:\tkthreadd\nThreads:\t1\n")

    def test_uptime_is_its_first_field(self):
        self.assertEqual(parse_uptime("12345.67 9876.54\n"), 12345.67)

    def test_this_process_is_alive_with_its_own_start_time_and_argv(self):
        start = process_start_time(os.getpid())
        assert start is not None
        self.assertTrue(same_process_alive(os.getpid(), start))
        self.assertFalse(same_process_alive(os.getpid(), start + 1))
        self.assertFalse(same_process_alive(None, start))
        self.assertIsInstance(process_argv(os.getpid()), list)


class MountsAndIomem(unittest.TestCase):
    def test_mounts_unescape_mount_points_and_split_options(self):
        mounts = parse_mounts("/dev/pmem0 /mnt/with\\040space ext4 rw,dax=always 0 0\nshort line\n")
        self.assertEqual(mounts, [("/dev/pmem0", "/mnt/with space", "ext4", ["rw", "dax=always"])])

    def test_legacy_pmem_ranges_and_hidden_addresses(self):
        iomem = ("00000000-00000fff : Reserved\n"
                 "10000000-13ffffff : Persistent Memory (legacy)\n"
                 "  10000000-13ffffff : namespace0.0\n")
        self.assertEqual(legacy_pmem_ranges(iomem), [(0x10000000, 64 << 20)])
        self.assertIsNone(legacy_pmem_ranges("00000000-00000000 : Persistent Memory (legacy)\n"))
        self.assertEqual(legacy_pmem_ranges(None), [])


if __name__ == "__main__":
    unittest.main()
