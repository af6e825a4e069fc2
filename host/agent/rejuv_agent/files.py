"""Small files the agent keeps: JSON written atomically, read back leniently; files removed if present."""

from __future__ import annotations

import json
import os
from typing import Any


def write_json_atomically(path: str, value: object) -> None:
    # No fsync: these files must survive a process restart, which the page cache already guarantees;
    # a host crash would take guest RAM on /dev/shm with it anyway.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as handle:
        json.dump(value, handle, separators=(",", ":"))
    os.replace(temporary, path)


def read_json(path: str) -> Any:
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
