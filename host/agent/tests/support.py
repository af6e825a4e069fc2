"""What the agent's unit tests share: inventory entries and a throwaway host root."""

import json
import os
import shutil
import tempfile
import unittest

from rejuv_agent.host import Host
from rejuv_agent.inventory import Vm

QMP = "/run/rejuv/vm-a.qmp"


def entry(name="vm-a", argv=None, **overrides):
    value = {
        "schemaVersion": 1,
        "name": name,
        "argv": argv if argv is not None else [
            "qemu-system-x86_64", "-m", "128", "-qmp", "unix:%s,server=on,wait=off" % QMP, "-display", "none",
        ],
        "qmpSocket": QMP,
        "stateDir": "/var/lib/rejuv/vms/" + name,
        "heartbeat": {"log": "/var/log/rejuv/%s.log" % name, "pattern": r"tick (\d+)"},
    }
    value.update(overrides)
    return value


def vm(argv=None, **overrides):
    return Vm(entry(argv=argv, **overrides))


class HostRootCase(unittest.TestCase):
    """A test with its own empty host root."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="rejuv-agent-test-")
        self.addCleanup(shutil.rmtree, self.root)
        self.host = Host(self.root)

    def write_inventory(self, file_name, content):
        os.makedirs(self.host.inventory_dir, exist_ok=True)
        with open(os.path.join(self.host.inventory_dir, file_name), "w") as handle:
            handle.write(content if isinstance(content, str) else json.dumps(content))
