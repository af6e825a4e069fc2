"""Unit tests of the census classifier and its /proc reader (python3 -m unittest discover host/agent/tests)."""

import json
import os
import shutil
import sys
import tempfile
import unittest
from typing import List, Optional, Sequence

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rejuv_agent import census  # noqa: E402
from rejuv_agent.census import InventoryVm, ProcessRecord  # noqa: E402
from rejuv_agent.inventory import validate_entry  # noqa: E402
from rejuv_agent.qemu_argv import runs_inventory_argv  # noqa: E402

ROOT = "/"
QEMU = "/usr/bin/qemu-system-x86_64"


def raw_qemu(name: str = "web", qmp: Optional[str] = "/run/vms/web.qmp", log: Optional[str] = "/var/log/vms/web.log",
             extra: Sequence[str] = ()) -> List[str]:
    argv = [QEMU, "-name", name, "-m", "256M", "-nodefaults"]
    if log is not None:
        argv += ["-chardev", "file,id=hb,path=%s,append=on" % log, "-serial", "chardev:hb"]
    if qmp is not None:
        argv += ["-qmp", "unix:%s,server=on,wait=off" % qmp]
    return argv + list(extra)


# The shape of a QEMU command line libvirt 9.0 starts (Debian 12), abridged.
LIBVIRT_ARGV = [
    "/usr/bin/qemu-system-x86_64",
    "-name", "guest=db,debug-threads=on",
    "-S",
    "-object", '{"qom-type":"secret","id":"masterKey0","format":"raw",'
               '"file":"/var/lib/libvirt/qemu/domain-1-db/master-key.aes"}',
    "-machine", "pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram",
    "-object", '{"qom-type":"memory-backend-file","id":"pc.ram","mem-path":'
               '"/var/lib/libvirt/qemu/ram/1-db/pc.ram","share":true,"size":268435456}',
    "-chardev", "socket,id=charmonitor,fd=29,server=on,wait=off",
    "-mon", "chardev=charmonitor,id=monitor,mode=control",
]


def record(pid: int, argv: Optional[List[str]], exe: Optional[str] = QEMU, parent: Optional[str] = "systemd",
           problem: Optional[str] = None) -> ProcessRecord:
    return ProcessRecord(pid, argv, exe, parent, problem)


def exact(argv, vm):
    return argv == vm.argv


def classify(records, inventory=()):
    return census.classify(records, list(inventory), exact, ROOT)


def only(entries):
    assert len(entries) == 1, entries
    return entries[0]


class Recognition(unittest.TestCase):
    def test_qemu_under_any_name_is_counted(self):
        for exe in (QEMU, "/usr/bin/qemu-system-aarch64", "/usr/libexec/qemu-kvm", "/usr/bin/qemu-kvm"):
            self.assertEqual(census.vmm_of(record(1, [exe, "-m", "1G"], exe=exe)), "qemu", exe)

    def test_argv0_names_the_binary_when_exe_is_unreadable(self):
        self.assertEqual(census.vmm_of(record(1, ["qemu-system-x86_64"], exe=None)), "qemu")

    def test_user_mode_emulators_and_other_programs_are_not_vms(self):
        self.assertIsNone(census.vmm_of(record(1, ["/usr/bin/qemu-x86_64", "ls"], exe="/usr/bin/qemu-x86_64")))
        self.assertIsNone(census.vmm_of(record(1, ["/usr/bin/python3"], exe="/usr/bin/python3")))

    def test_other_vmms_are_foreign_with_their_name(self):
        for binary, vmm in (("cloud-hypervisor", "cloud-hypervisor"), ("firecracker", "firecracker"),
                            ("crosvm", "crosvm"), ("lkvm", "kvmtool")):
            entry = only(classify([record(7, ["/usr/bin/" + binary, "--api-sock", "/x"], exe="/usr/bin/" + binary)]))
            self.assertEqual((entry["outcome"], entry["vmm"]), ("foreign", vmm))
            self.assertIn("cannot suspend or restart", entry["reason"])

    def test_processes_that_are_no_vm_are_left_out(self):
        self.assertEqual(classify([record(5, ["/bin/sh"], exe="/bin/sh")]), [])


class Classification(unittest.TestCase):
    def test_a_raw_qemu_with_qmp_and_a_serial_log_is_adoptable(self):
        entry = only(classify([record(40, raw_qemu())]))
        self.assertEqual(entry["outcome"], "adoptable")
        self.assertEqual((entry["name"], entry["pid"], entry["qmpSocket"]), ("web", 40, "/run/vms/web.qmp"))
        self.assertNotIn("reason", entry)

    def test_a_qemu_without_qmp_or_log_is_foreign_with_what_is_missing(self):
        no_qmp = only(classify([record(41, raw_qemu(qmp=None))]))
        self.assertEqual(no_qmp["outcome"], "foreign")
        self.assertIn("no QMP unix socket", no_qmp["reason"])
        no_log = only(classify([record(42, raw_qemu(log=None))]))
        self.assertIn("no serial log file", no_log["reason"])
        relative = only(classify([record(43, raw_qemu(qmp="web.qmp"))]))
        self.assertIn("relative path", relative["reason"])

    def test_libvirts_qemu_is_foreign_and_says_why(self):
        entry = only(classify([record(50, LIBVIRT_ARGV, parent="libvirtd")]))
        self.assertEqual((entry["outcome"], entry["name"]), ("foreign", "db"))
        for sign in ("fd=29", "-S", "masterKey0", "/var/lib/libvirt/qemu/ram", "parent process is libvirtd"):
            self.assertIn(sign, entry["reason"])

    def test_each_libvirt_sign_alone_is_enough(self):
        for extra in (["-S"], ["-chardev", "socket,id=charmonitor,fd=3,server=on,wait=off"],
                      ["-object", "secret,id=masterKey0,format=raw,file=/k"],
                      ["-object", "memory-backend-file,id=pc.ram,mem-path=/var/lib/libvirt/qemu/ram/2-x/pc.ram"]):
            self.assertEqual(only(classify([record(51, raw_qemu(extra=extra))]))["outcome"], "foreign", extra)
        self.assertEqual(only(classify([record(52, raw_qemu(), parent="virtqemud")]))["outcome"], "foreign")

    def test_devices_the_agent_cannot_carry_make_it_foreign(self):
        vfio = only(classify([record(60, raw_qemu(extra=["-device", "vfio-pci,host=0000:65:00.0"]))]))
        self.assertEqual(vfio["outcome"], "foreign")
        self.assertIn("VFIO passthrough device (-device vfio-pci)", vfio["reason"])
        json_vfio = raw_qemu(extra=["-device", '{"driver":"vfio-pci","host":"0000:65:00.0"}'])
        self.assertIn("VFIO", only(classify([record(61, json_vfio)]))["reason"])
        incoming = only(classify([record(62, raw_qemu(extra=["-incoming", "defer"]))]))
        self.assertIn("incoming migration", incoming["reason"])

    def test_an_inventory_vm_running_its_argv_is_managed(self):
        argv = raw_qemu()
        entry = only(classify([record(70, argv)], [InventoryVm("web", argv, "/run/vms/web.qmp")]))
        self.assertEqual((entry["outcome"], entry["name"], entry["pid"]), ("managed", "web", 70))

    def test_an_inventory_entry_for_libvirts_process_is_foreign_and_refused(self):
        inventory = [InventoryVm("db", LIBVIRT_ARGV, "/run/db.qmp")]
        result = classify([record(80, LIBVIRT_ARGV, parent="libvirtd")], inventory)
        entry = only(result)
        self.assertEqual((entry["outcome"], entry["inventory"]), ("foreign", True))
        refusal = census.preflight_refusals(result, ["db"])["db"]
        self.assertIn("pid 80, which the agent must leave alone", refusal)
        self.assertIn("charmonitor", refusal)

    def test_an_inventory_vm_with_vfio_is_refused_though_its_entry_matches(self):
        argv = raw_qemu(extra=["-device", "vfio-pci,host=0000:65:00.0"])
        result = classify([record(71, argv)], [InventoryVm("web", argv, "/run/vms/web.qmp")])
        self.assertEqual((only(result)["outcome"], only(result)["inventory"]), ("foreign", True))
        self.assertIn("VFIO", census.preflight_refusals(result, ["web"])["web"])

    def test_a_handover_successor_and_a_restored_process_are_managed_by_the_agents_own_rule(self):
        argv = raw_qemu()
        vm = InventoryVm("web", argv, "/run/vms/web.qmp")
        successor = [a.replace("unix:/run/vms/web.qmp,", "unix:/run/vms/web.qmp.h70,") for a in argv]
        result = census.classify([record(70, argv), record(71, successor + ["-incoming", "defer"]),
                                  record(72, argv + ["-incoming", "defer"])], [vm], runs_inventory_argv, ROOT)
        expected = [(70, "managed"), (71, "managed"), (72, "managed")]
        self.assertEqual([(e["pid"], e["outcome"]) for e in result], expected)
        self.assertTrue(all("reason" not in e for e in result))

    def test_an_inventory_entry_no_process_runs_is_missing_and_refused(self):
        result = classify([], [InventoryVm("ghost", raw_qemu("ghost"), "/run/vms/ghost.qmp")])
        self.assertEqual(only(result)["outcome"], "missing")
        self.assertIn("no process on this host runs", census.preflight_refusals(result, ["ghost"])["ghost"])
        self.assertEqual(census.preflight_refusals(result, ["other"]), {})

    def test_a_process_on_an_entrys_qmp_socket_with_other_arguments_has_drifted(self):
        listed = raw_qemu(extra=["-smp", "2"])
        running = raw_qemu(extra=["-smp", "4", "-device", "virtio-rng-pci"])
        entry = only(classify([record(90, running)], [InventoryVm("web", listed, "/run/vms/web.qmp")]))
        self.assertEqual((entry["outcome"], entry["name"]), ("drifted", "web"))
        self.assertEqual(entry["drift"], [{"inventory": ["2"], "process": ["4", "-device", "virtio-rng-pci"]}])
        self.assertIn("left as it is", entry["reason"])

    def test_an_unreadable_process_is_reported_never_skipped(self):
        entry = only(classify([record(99, None, exe=None, problem="permission denied reading its command line")]))
        self.assertEqual((entry["outcome"], entry["pid"]), ("unreadable", 99))
        self.assertIn("permission denied", entry["reason"])

    def test_names_fit_the_inventory_and_never_collide(self):
        result = classify([record(10, raw_qemu("Web Server_1")), record(11, raw_qemu("Web Server_1", qmp="/b")),
                           record(12, raw_qemu("!!!", qmp="/c")),
                           record(13, raw_qemu("web", qmp="/d"))],
                          [InventoryVm("web", ["other"], "/run/other.qmp")])
        self.assertEqual([e["name"] for e in result[:4]], ["web-server-1", "web-server-1-11", "pid-12", "web-13"])


class KernelLevel(unittest.TestCase):
    def test_every_vm_a_kexec_would_end_is_named(self):
        argv = raw_qemu("mine", qmp="/run/mine.qmp")
        result = classify(
            [record(1, argv), record(2, raw_qemu("raw", qmp="/run/raw.qmp")), record(3, LIBVIRT_ARGV),
             record(4, None, exe=None, problem="permission denied reading its status"),
             record(5, None, exe=None, problem="vanished while the census read its status")],
            [InventoryVm("mine", argv, "/run/mine.qmp")])
        blockers = census.kernel_level_blockers(result)
        self.assertEqual(len(blockers), 3, blockers)
        self.assertTrue(blockers[0].startswith("raw (pid 2, qemu, adoptable)"), blockers[0])
        self.assertTrue(blockers[1].startswith("db (pid 3, qemu, foreign): its monitor"), blockers[1])
        self.assertTrue(blockers[2].startswith("pid-4 (pid 4, unreadable): permission denied"), blockers[2])
        self.assertEqual([e["name"] for e in census.unmanaged(result)], ["raw", "db", "pid-4", "pid-5"])

    def test_a_host_of_managed_vms_has_no_blockers(self):
        argv = raw_qemu()
        result = classify([record(1, argv)], [InventoryVm("web", argv, "/run/vms/web.qmp")])
        self.assertEqual(census.kernel_level_blockers(result), [])


class ProcReader(unittest.TestCase):
    def setUp(self):
        self.proc = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.proc)

    def fake(self, pid, argv, state="S", ppid=1, flags=0, exe=None, comm="bash"):
        base = os.path.join(self.proc, str(pid))
        os.makedirs(base)
        fields = [state, str(ppid)] + ["0"] * 4 + [str(flags)] + ["0"] * 40
        with open(os.path.join(base, "stat"), "w") as handle:
            handle.write("%d (some (odd) name) %s\n" % (pid, " ".join(fields)))
        with open(os.path.join(base, "cmdline"), "wb") as handle:
            handle.write(b"".join(a.encode() + b"\0" for a in argv))
        with open(os.path.join(base, "comm"), "w") as handle:
            handle.write(comm + "\n")
        if exe is not None:
            os.symlink(exe, os.path.join(base, "exe"))

    def test_reads_argv_exe_and_the_parents_name(self):
        self.fake(1, ["/sbin/init"], comm="libvirtd")
        self.fake(20, [QEMU, "-m", "1G"], exe=QEMU + " (deleted)")
        got = census.read_process(20, self.proc)
        self.assertEqual(got, ProcessRecord(20, [QEMU, "-m", "1G"], QEMU, "libvirtd", None))

    def test_kernel_threads_and_zombies_are_not_processes_to_count(self):
        self.fake(2, [], flags=census.PF_KTHREAD)
        self.fake(3, [QEMU], state="Z")
        self.assertIsNone(census.read_process(2, self.proc))
        self.assertIsNone(census.read_process(3, self.proc))

    def test_a_vanished_process_is_a_record_with_its_reason(self):
        got = census.read_process(4242, self.proc)
        assert got is not None
        self.assertEqual((got.pid, got.problem), (4242, "vanished while the census read its status"))

    def test_an_empty_command_line_is_a_problem_not_a_skip(self):
        self.fake(30, [])
        got = census.read_process(30, self.proc)
        assert got is not None
        self.assertIn("command line is empty", got.problem or "")

    def test_read_processes_skips_what_it_is_told_to(self):
        self.fake(1, ["/sbin/init"])
        self.fake(10, [QEMU])
        self.fake(11, ["python3"])
        self.assertEqual([r.pid for r in census.read_processes(self.proc, skip=[11])], [1, 10])

    def test_a_lab_host_owns_only_processes_pointing_into_it(self):
        inside = record(1, [QEMU, "-drive", "file=/lab/h-1/disk.img"])
        other = record(2, [QEMU, "-drive", "file=/lab/h-10/disk.img"])
        self.assertTrue(census.on_host(inside, "/lab/h-1"))
        self.assertFalse(census.on_host(other, "/lab/h-1"))
        self.assertFalse(census.on_host(record(3, None, problem="x"), "/lab/h-1"))
        self.assertTrue(census.on_host(other, "/"))


def validate(entry, stem):
    """The inventory's own rule, as the agent applies it (imported so the test follows it)."""
    return validate_entry(entry, stem)


class Adoption(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)
        self.inventory_dir = os.path.join(self.root, "etc", "rejuv", "vms.d")
        self.records = [record(40, raw_qemu("web")), record(41, raw_qemu("db", qmp="/run/db.qmp")),
                        record(42, LIBVIRT_ARGV)]
        self.census = classify(self.records)

    def adopt(self, selection):
        return census.adopt(self.census, self.records, selection, self.inventory_dir, self.root, validate)

    def test_writes_an_entry_the_agent_reads_from_the_running_argv(self):
        [result] = self.adopt("web")
        self.assertEqual(result["outcome"], "adopted")
        with open(os.path.join(self.inventory_dir, "web.json")) as handle:
            entry = json.load(handle)
        self.assertEqual(validate(entry, "web"), [])
        self.assertEqual(entry["argv"], raw_qemu("web"))
        self.assertEqual(entry["qmpSocket"], "/run/vms/web.qmp")
        self.assertEqual(entry["heartbeat"]["log"], "/var/log/vms/web.log")
        self.assertEqual(entry["stateDir"], os.path.join(self.root, "var", "lib", "rejuv", "vms", "web"))
        self.assertEqual(sorted(os.listdir(self.inventory_dir)), ["web.json"])

    def test_all_adopts_every_adoptable_vm_and_nothing_else(self):
        self.assertEqual([(r["name"], r["outcome"]) for r in self.adopt("*")], [("web", "adopted"), ("db", "adopted")])
        self.assertEqual(sorted(os.listdir(self.inventory_dir)), ["db.json", "web.json"])

    def test_an_existing_entry_is_never_overwritten(self):
        os.makedirs(self.inventory_dir)
        path = os.path.join(self.inventory_dir, "web.json")
        with open(path, "w") as handle:
            handle.write("hand-written\n")
        [result] = self.adopt("web")
        self.assertEqual(result["outcome"], "refused")
        self.assertIn("exists already", result["reason"])
        with open(path) as handle:
            self.assertEqual(handle.read(), "hand-written\n")
        self.assertEqual(os.listdir(self.inventory_dir), ["web.json"])

    def test_refuses_a_vm_that_is_not_adoptable_or_not_there(self):
        libvirt, unknown = self.adopt("db-42,nope")
        self.assertEqual((libvirt["outcome"], unknown["outcome"]), ("refused", "refused"))
        self.assertIn("it is foreign, not adoptable: its monitor", libvirt["reason"])
        self.assertIn("no VM named 'nope'", unknown["reason"])
        self.assertFalse(os.path.exists(self.inventory_dir))

    def test_none_adopts_nothing(self):
        self.assertEqual(self.adopt("-"), [])
        self.assertFalse(os.path.exists(self.inventory_dir))


if __name__ == "__main__":
    unittest.main()
