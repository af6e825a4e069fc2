#!/usr/bin/env python3
"""Saves and restores a nested VM's device state on a preserved-memory device, inside the lab's kernel
host (host/lab/kernel-host.ts), with the agent's own QMP code (host/agent/rejuv_host.py).

  save <qmp socket> <state device>     stop, x-ignore-shared, migrate the device state into the device,
                                       quit QEMU, write the device back; guest RAM is shared, so not sent
  restore <qmp socket> <state device>  into a QEMU started with -incoming defer: x-ignore-shared, load
                                       the state from the device, cont

Prints one JSON line: QEMU's STOP/RESUME timestamps (ms), the state's size, the phases in ms.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "agent"))
import rejuv_host as agent  # noqa: E402  (the agent is one file beside the lab, not a package)

MIGRATION_TIMEOUT_S = 120


def elapsed_ms(since):
    return round((time.monotonic() - since) * 1000, 1)


def save(qmp_socket, device):
    qmp = agent.Qmp(qmp_socket)
    phases = {}
    started = time.monotonic()
    qmp.execute("stop")
    phases["stop"] = elapsed_ms(started)
    started = time.monotonic()
    agent.set_migration_capabilities(qmp, True)
    fd = os.open(device, os.O_WRONLY)
    try:
        agent.send_fd(qmp, "rejuv-state", fd)
        qmp.execute("migrate", {"uri": "fd:rejuv-state"})
        info = agent.wait_for_migration(qmp, MIGRATION_TIMEOUT_S, "device state save")
        phases["save"] = elapsed_ms(started)
        started = time.monotonic()
        stopped_at = qmp.event_time_ms("STOP")
        qmp.quit()
        phases["quit"] = elapsed_ms(started)
        started = time.monotonic()
        os.fsync(fd)
    finally:
        os.close(fd)
    # QEMU mapped guest RAM through the block device's page cache: write it back to the region, or the
    # next kernel finds what the region held before.
    os.sync()
    phases["writeBack"] = elapsed_ms(started)
    return {"stoppedAt": stopped_at, "stateBytes": info.get("ram", {}).get("transferred"), "phasesMs": phases}


def restore(qmp_socket, device):
    qmp = agent.Qmp(qmp_socket)
    phases = {}
    started = time.monotonic()
    agent.set_migration_capabilities(qmp, True)
    fd = os.open(device, os.O_RDONLY)
    try:
        agent.send_fd(qmp, "rejuv-state", fd)
    finally:
        os.close(fd)
    qmp.execute("migrate-incoming", {"uri": "fd:rejuv-state"})
    agent.wait_for_migration(qmp, MIGRATION_TIMEOUT_S, "device state restore")
    phases["restore"] = elapsed_ms(started)
    started = time.monotonic()
    agent.ensure_running(qmp, "restored VM is %s, not running")
    phases["cont"] = elapsed_ms(started)
    resumed_at = qmp.event_time_ms("RESUME")
    qmp.close()
    return {"resumedAt": resumed_at, "phasesMs": phases}


def main(argv):
    if len(argv) != 3 or argv[0] not in ("save", "restore"):
        print(__doc__, file=sys.stderr)
        return 2
    action, qmp_socket, device = argv
    result = save(qmp_socket, device) if action == "save" else restore(qmp_socket, device)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
