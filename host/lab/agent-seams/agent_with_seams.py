"""The host agent with its test seams switched on: what the lab's hosts run when a test asks for seams
(agent-seams.ts puts the python3 beside this file first on the document's PATH). Never shipped: the
agent itself only has no-op hooks (rejuv_agent/seams.py); this installs ones that read the environment.

  python3 -I agent_with_seams.py <agent: the archive or host/agent> [--classic] <agent arguments>

Seams (host/README.md, "Fault seams"):
  REJUV_HOLD_AT=<point>[,<point>...] and REJUV_HOLD_DIR=<dir>: at each named point the agent creates
    <dir>/<point>.reached and waits (up to 120 s) for <dir>/<point>.release. Holding a VM at a point of
    the stop-restart path makes that VM take it.
  --classic (anywhere in the arguments): the bench's classic baseline, guest RAM copied through the
    state file instead of left in place.
"""

import os
import sys
import time

sys.path.insert(0, sys.argv[1])

from rejuv_agent import seams  # noqa: E402
from rejuv_agent.__main__ import main  # noqa: E402
from rejuv_agent.log import log  # noqa: E402

HOLD_TIMEOUT_S = 120
STOP_RESTART_POINTS = (":stopped", ":saved", ":quit", ":started")


class LabSeams(seams.Seams):
    def __init__(self, points, hold_dir, classic):
        self.points = points
        self.hold_dir = hold_dir
        self.classic = classic

    def hold(self, point):
        if not self.hold_dir or point not in self.points:
            return
        with open(os.path.join(self.hold_dir, point + ".reached"), "w") as handle:
            handle.write(str(os.getpid()))
        release = os.path.join(self.hold_dir, point + ".release")
        deadline = time.monotonic() + HOLD_TIMEOUT_S
        log("holding at %s until %s exists" % (point, release))
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.01)

    def forced_stop_restart(self, vm_name):
        held = [p for p in self.points if p in [vm_name + suffix for suffix in STOP_RESTART_POINTS]]
        if held and self.hold_dir:
            return "test seam: REJUV_HOLD_AT holds at %s, a point of the stop-restart path" % held[0]
        return None

    def memory_in_place(self):
        return not self.classic


def run(argv):
    classic = "--classic" in argv
    points = [p for p in os.environ.get("REJUV_HOLD_AT", "").split(",") if p]
    seams.install(LabSeams(points, os.environ.get("REJUV_HOLD_DIR", ""), classic))
    return main([a for a in argv if a != "--classic"])


if __name__ == "__main__":
    sys.exit(run(sys.argv[2:]))
