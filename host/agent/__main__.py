"""Launcher of the rejuv host agent: `python3 -I host/agent ...` here, and the same file at the root of
the archive the documents carry (`python3 -I rejuv-agent.pyz ...`). The agent is the rejuv_agent package."""

import sys

from rejuv_agent.__main__ import main

sys.exit(main(sys.argv[1:]))
