#!/usr/bin/env python3
"""Saves and restores a nested VM's device state on a preserved-memory device, inside the lab's kernel
host (host/lab/kernel-host.ts), with the agent's own QMP code (host/agent/rejuv_agent/qmp.py).

  save <qmp socket> <state device>     stop, x-ignore-shared, migrate the device state into the device,
                                       quit QEMU, write the device back; guest RAM is shared, so not sent
  restore <qmp socket> <state device>  into a QEMU started with -incoming defer: x-ignore-shared, load
                                       the state from the device, cont
  save-all <qmp socket> <file>         the classic way, for the bench's baseline: stop, migrate RAM and
                                       device state into a file on disk, quit, write the file back
  restore-all <qmp socket> <file>      RAM and device state from that file, into -incoming defer, cont
  quit <qmp socket>                    QEMU quits (a guest about to go with its host's normal reboot)

Prints one JSON line: QEMU's STOP/RESUME timestamps (ms), the state's size, the phases in ms.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "agent"))
from rejuv_agent import qmp as agent  # noqa: E402  (the agent's package, beside the lab)

MIGRATION_TIMEOUT_S = 120
# Guest RAM through 9p from a doubly emulated QEMU: tens of MiB/s at best.
WHOLE_RAM_MIGRATION_TIMEOUT_S = 900


def elapsed_ms(since):
    return round((time.monotonic() - since) * 1000, 1)


def save(qmp_socket, target, with_ram=False):
    qmp = agent.Qmp(qmp_socket)
    phases = {}
    started = time.monotonic()
    qmp.execute("stop")
    phases["stop"] = elapsed_ms(started)
    started = time.monotonic()
    agent.set_migration_capabilities(qmp, not with_ram)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if with_ram else os.open(target, os.O_WRONLY)
    try:
        agent.send_fd(qmp, "rejuv-state", fd)
        qmp.execute("migrate", {"uri": "fd:rejuv-state"})
        timeout = WHOLE_RAM_MIGRATION_TIMEOUT_S if with_ram else MIGRATION_TIMEOUT_S
        info = agent.wait_for_migration(qmp, timeout, "state save")
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


def restore(qmp_socket, source, with_ram=False):
    qmp = agent.Qmp(qmp_socket)
    phases = {}
    started = time.monotonic()
    agent.set_migration_capabilities(qmp, not with_ram)
    fd = os.open(source, os.O_RDONLY)
    try:
        agent.send_fd(qmp, "rejuv-state", fd)
    finally:
        os.close(fd)
    qmp.execute("migrate-incoming", {"uri": "fd:rejuv-state"})
    agent.wait_for_migration(qmp, WHOLE_RAM_MIGRATION_TIMEOUT_S if with_ram else MIGRATION_TIMEOUT_S, "state restore")
    phases["restore"] = elapsed_ms(started)
    started = time.monotonic()
    agent.ensure_running(qmp, "restored VM is %s, not running")
    phases["cont"] = elapsed_ms(started)
    resumed_at = qmp.event_time_ms("RESUME")
    qmp.close()
    return {"resumedAt": resumed_at, "phasesMs": phases}


def quit_vm(qmp_socket):
    qmp = agent.Qmp(qmp_socket)
    started = time.monotonic()
    qmp.quit()
    return {"phasesMs": {"quit": elapsed_ms(started)}}


ACTIONS = {
    "save": lambda qmp, path: save(qmp, path),
    "restore": lambda qmp, path: restore(qmp, path),
    "save-all": lambda qmp, path: save(qmp, path, with_ram=True),
    "restore-all": lambda qmp, path: restore(qmp, path, with_ram=True),
    "quit": quit_vm,
}


def main(argv):
    action = ACTIONS.get(argv[0]) if argv else None
    if action is None or len(argv) != (2 if argv[0] == "quit" else 3):
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(action(*argv[1:]), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
