"""Where a host keeps what the agent reads and writes, under its root (REJUV_HOST_ROOT, default /)."""

from __future__ import annotations

import os


class Host:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.inventory_dir = os.path.join(self.root, "etc", "rejuv", "vms.d")
        self.state_root = os.path.join(self.root, "var", "lib", "rejuv")
        self.runs_dir = os.path.join(self.state_root, "runs")
        self.lock_path = os.path.join(self.state_root, "agent.lock")
