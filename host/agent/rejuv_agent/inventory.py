"""The host's VM inventory: <root>/etc/rejuv/vms.d/<name>.json, validated, and the VMs a request names."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Dict, List, Tuple, cast

from .errors import EXIT_INVALID_REQUEST, Refusal
from .host import Host
from .json_types import JsonObject
from .patterns import VM_NAME


INVENTORY_SCHEMA_VERSION = 1


class Vm:
    def __init__(self, entry: JsonObject) -> None:
        self.name: str = entry["name"]
        self.argv: List[str] = entry["argv"]
        self.qmp_socket: str = entry["qmpSocket"]
        self.state_dir: str = entry["stateDir"]
        self.heartbeat_log: str = entry["heartbeat"]["log"]
        self.heartbeat_pattern: re.Pattern[str] = re.compile(entry["heartbeat"]["pattern"])
        self.state_file = os.path.join(self.state_dir, "suspend.vmstate")
        self.state_meta = os.path.join(self.state_dir, "suspend.json")
        self.qemu_log = os.path.join(self.state_dir, "qemu.log")

    def argv_digest(self) -> str:
        return hashlib.sha256(json.dumps(self.argv).encode()).hexdigest()


def validate_entry(raw: Any, file_stem: str) -> List[str]:
    problems: List[str] = []
    if not isinstance(raw, dict):
        return ["not a JSON object"]
    entry = cast(JsonObject, raw)
    if entry.get("schemaVersion") != INVENTORY_SCHEMA_VERSION:
        problems.append("schemaVersion must be %d" % INVENTORY_SCHEMA_VERSION)
    name = entry.get("name")
    if not isinstance(name, str) or not VM_NAME.fullmatch(name):
        problems.append("name must match %s" % VM_NAME.pattern)
    elif name != file_stem:
        problems.append("name %r differs from its file name %r" % (name, file_stem))
    argv = entry.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in cast(List[object], argv)):
        problems.append("argv must be a non-empty list of strings")
    elif "-incoming" in argv:
        problems.append("argv must not contain -incoming (the agent adds it when restoring)")
    for key in ("qmpSocket", "stateDir"):
        value = entry.get(key)
        if not isinstance(value, str) or not os.path.isabs(value):
            problems.append("%s must be an absolute path" % key)
    heartbeat: Any = entry.get("heartbeat")
    if not isinstance(heartbeat, dict) or not isinstance(cast(JsonObject, heartbeat).get("log"), str):
        problems.append("heartbeat.log must be an absolute path")
    else:
        try:
            if re.compile(cast(JsonObject, heartbeat).get("pattern", "")).groups != 1:
                problems.append("heartbeat.pattern must have exactly one group (the counter)")
        except (re.error, TypeError):
            problems.append("heartbeat.pattern is not a valid regular expression")
    return problems


def load_inventory(host: Host) -> Tuple[Dict[str, Vm], Dict[str, str]]:
    """Every VM the host's inventory lists, plus a problem per entry that cannot be used."""
    vms: Dict[str, Vm] = {}
    problems: Dict[str, str] = {}
    if not os.path.isdir(host.inventory_dir):
        return vms, problems
    for file_name in sorted(os.listdir(host.inventory_dir)):
        if not file_name.endswith(".json"):
            continue
        stem = file_name[: -len(".json")]
        path = os.path.join(host.inventory_dir, file_name)
        try:
            with open(path) as handle:
                entry = json.load(handle)
        except (OSError, ValueError) as error:
            problems[stem] = "inventory entry %s is unreadable: %s" % (path, error)
            continue
        entry_problems = validate_entry(entry, stem)
        if entry_problems:
            problems[stem] = "inventory entry %s is invalid: %s" % (path, "; ".join(entry_problems))
        else:
            vms[stem] = Vm(entry)
    return vms, problems


def select_vms(host: Host, selection: str, require_all: bool) -> Tuple[List[Vm | str], Dict[str, str]]:
    """The VMs a request names ('*' = all). Unknown names are refused before anything is touched."""
    vms, problems = load_inventory(host)
    if selection == "*":
        names = sorted(set(vms) | set(problems))
    else:
        names = selection.split(",")
        unknown = [n for n in names if n not in vms and n not in problems]
        if unknown:
            raise Refusal(
                "unknown-vm",
                "unknown VM %s: not in this host's inventory (%s)"
                % (", ".join(repr(n) for n in unknown), host.inventory_dir),
                EXIT_INVALID_REQUEST,
            )
        if require_all:
            unnamed = sorted((set(vms) | set(problems)) - set(names))
            if unnamed:
                raise Refusal(
                    "vm-set-mismatch",
                    "the inventory also lists %s, which the request did not name; a hypervisor reload "
                    "restarts every VM on the host" % ", ".join(unnamed),
                    EXIT_INVALID_REQUEST,
                )
    if not names:
        raise Refusal("empty-inventory", "no VMs in this host's inventory (%s)" % host.inventory_dir)
    return [vms.get(n) or n for n in names], problems
