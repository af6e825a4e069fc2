"""Document Census: every VM process on the host and how the agent stands to it; with --adopt, inventory
entries written for the adoptable ones it names (never over an existing entry)."""

from .census import adopt
from .errors import EXIT_OK, EXIT_PARTIAL, EXIT_REFUSED
from .host_census import take_census
from .host_lock import HostLock
from .inventory import validate_entry


def command_census(host, args):
    # Under the host lock: an entry written mid-run would change the VMs a running document acts on.
    lock = HostLock(host, "Census", args.run_id)
    try:
        census, records = take_census(host)
        adopted = adopt(census, records, args.adopt, host.inventory_dir, host.root, validate_entry)
    finally:
        lock.release()
    result = {"document": "Census", "runId": args.run_id, "vms": census, "adopted": adopted}
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
