"""Document Census: the census, and inventory entries for the adoptable VMs asked for."""

import argparse
from typing import Tuple

from .census import adopt
from .errors import EXIT_OK, EXIT_PARTIAL, EXIT_REFUSED
from .host_census import take_census
from .host_lock import HostLock
from .host import Host
from .inventory import validate_entry
from .json_types import JsonObject


def command_census(host: Host, args: argparse.Namespace) -> Tuple[JsonObject, int]:
    lock = HostLock(host, "Census", args.run_id)
    try:
        census, records = take_census(host)
        adopted = adopt(census, records, args.adopt, host.inventory_dir, host.root, validate_entry)
    finally:
        lock.release()
    result: JsonObject = {"document": "Census", "runId": args.run_id, "vms": census, "adopted": adopted}
    refused = [a for a in adopted if a["outcome"] == "refused"]
    if not refused:
        result["outcome"] = "ok"
        return result, EXIT_OK
    reason = "; ".join("%s: %s" % (a["name"], a["reason"]) for a in refused)
    if len(refused) == len(adopted):
        result.update(outcome="refused", reason="nothing adopted: " + reason, reasonCode="not-adoptable")
        return result, EXIT_REFUSED
    result.update(outcome="partial", reason="not adopted: " + reason, reasonCode="not-adoptable")
    return result, EXIT_PARTIAL
