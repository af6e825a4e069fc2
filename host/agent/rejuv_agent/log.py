"""Diagnostics on stderr; stdout carries only the one JSON result line."""

from __future__ import annotations

import sys
import time


def log(message: str) -> None:
    sys.stderr.write("%s rejuv-host: %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()
