"""Small files the agent keeps: JSON written atomically, read back leniently; files removed if present."""

import json
import os


def write_json_atomically(path, value):
    # No fsync: these files must survive a process restart, which the page cache already guarantees;
    # a host crash would take guest RAM on /dev/shm with it anyway.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as handle:
        json.dump(value, handle, separators=(",", ":"))
    os.replace(temporary, path)


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def remove_file(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
