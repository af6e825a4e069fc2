"""A VM's saved device state (a state file, or a slice of the kernel level's state region) and its metadata."""

from __future__ import annotations

import hashlib
import os
from typing import Tuple

from .files import read_json
from .inventory import Vm
from .json_types import JsonObject
from .qemu_argv import ram_files_from_argv


def usable_saved_state(vm: Vm) -> Tuple[JsonObject | None, str | None]:
    """The saved device state to restore from, or (None, why not)."""
    meta = read_json(vm.state_meta)
    if meta is None:
        if os.path.exists(vm.state_file + ".partial"):
            return None, "device state was only partly written (the save did not finish)"
        return None, "no saved device state"
    if meta.get("argvSha256") != vm.argv_digest():
        return None, "saved device state belongs to different QEMU arguments than the inventory lists"
    if meta.get("region"):
        problem = region_slice_problem(meta["region"])
        return (None, problem) if problem else (meta, None)
    try:
        size = os.path.getsize(vm.state_file)
    except OSError:
        return None, "saved device state file %s is missing" % vm.state_file
    if size != meta.get("bytes"):
        return None, "saved device state is %d bytes, expected %s" % (size, meta.get("bytes"))
    if meta.get("memoryInPlace"):
        missing = [path for path in ram_files_from_argv(vm.argv) if not os.path.exists(path)]
        if missing:
            return None, "guest RAM backing file %s is gone" % ", ".join(missing)
    return meta, None


def region_slice_digest(region: JsonObject) -> str:
    fd = os.open(region["path"], os.O_RDONLY)
    try:
        return hashlib.sha256(os.pread(fd, region["bytes"], region["offset"])).hexdigest()
    finally:
        os.close(fd)


def region_slice_problem(region: JsonObject) -> str | None:
    """Why device state saved in the state region cannot be restored, or None."""
    try:
        if region_slice_digest(region) != region.get("sha256"):
            return "device state in %s at offset %d is not what was saved (SHA-256 differs)" % (
                region["path"], region["offset"])
    except (OSError, KeyError, TypeError) as error:
        return "device state in the state region cannot be read: %s" % error
    return None


def discard_saved_state(vm: Vm) -> None:
    for path in (vm.state_meta, vm.state_file, vm.state_file + ".partial"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
