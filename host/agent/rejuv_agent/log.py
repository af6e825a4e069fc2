"""Diagnostics on stderr; stdout carries only the one JSON result line."""

import sys
import time


def log(message):
    sys.stderr.write("%s rejuv-host: %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()
