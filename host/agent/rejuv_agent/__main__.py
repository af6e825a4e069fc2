"""Entry point: `python3 -m rejuv_agent <subcommand> ...` (or the archive's own __main__): parses
the arguments, runs the document's command, prints its one JSON result line, exits with its code."""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from typing import Callable, Dict, List, Tuple

from .collect_aging import command_collect
from .errors import EXIT_FAILED, EXIT_INVALID_REQUEST, EXIT_OK, Refusal
from .host import Host
from .json_types import JsonObject
from .log import log
from .patterns import HOST_ID_OR_FLEET, LEVELS, RUN_ID, VM_LIST, VM_SELECTION
from .preflight import command_preflight
from .recover import command_recover
from .results import emit, refused_result
from .verify import command_verify
from .warm_reboot import command_warm_reboot


def pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise argparse.ArgumentTypeError("%s must match %s" % (what, regex.pattern))
        return value

    return check


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rejuv-agent")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("preflight", "warm-reboot", "verify", "recover"):
        sub = commands.add_parser(name)
        sub.add_argument("--run-id", required=True, type=pattern(RUN_ID, "run id"))
        sub.add_argument("--vms", default="*", type=pattern(VM_SELECTION, "VM selection"))
        if name in ("preflight", "warm-reboot"):
            sub.add_argument("--level", default="vmm-process", choices=LEVELS)
        if name == "preflight":
            sub.add_argument("--allow-silent-guests", default="false", choices=("true", "false"))
            sub.add_argument("--heartbeat-timeout-seconds", type=int, default=5, choices=range(1, 61))
        if name == "verify":
            sub.add_argument("--heartbeat-timeout-seconds", type=int, default=30, choices=range(1, 1000))
            sub.add_argument("--silent-at-preflight", default="-", type=pattern(VM_LIST, "VM list"))
        if name == "recover":
            sub.add_argument("--cold-start", default="false", choices=("true", "false"))
    collect = commands.add_parser("collect")
    collect.add_argument("--host-id", required=True, type=pattern(HOST_ID_OR_FLEET, "host id"))
    return parser.parse_args(argv)


# What each document's command returns: its result line (None after exit 194) and its exit code.
Command = Callable[[Host, argparse.Namespace], Tuple["JsonObject | None", int]]

DOCUMENTS: Dict[str, Tuple[str, Command]] = {
    "preflight": ("Preflight", command_preflight),
    "warm-reboot": ("WarmReboot", command_warm_reboot),
    "verify": ("Verify", command_verify),
    "recover": ("Recover", command_recover),
    "collect": ("CollectAging", command_collect),
}


def main(argv: List[str]) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exit_request:
        emit(
            {
                "document": "unknown",
                "outcome": "refused",
                "reason": "invalid arguments (details on stderr)",
                "reasonCode": "bad-arguments",
                "vms": [],
            }
        )
        return EXIT_INVALID_REQUEST if exit_request.code else EXIT_OK
    document, command = DOCUMENTS[args.command]
    host = Host(os.environ.get("REJUV_HOST_ROOT") or "/")
    # CollectAging takes no run id: it is a measurement, not a step of a run.
    run_id = getattr(args, "run_id", None)
    result: JsonObject | None
    try:
        result, code = command(host, args)
    except Refusal as refusal:
        result, code = refused_result(document, refusal, run_id), refusal.exit_code
    except Exception as error:  # noqa: BLE001 - whatever happens, the coordinator gets its one line
        log(traceback.format_exc())
        result = {
            "document": document,
            "outcome": "failed",
            "reason": "agent error: %s: %s" % (type(error).__name__, error),
            "reasonCode": "agent-error",
            "vms": [],
        }
        if run_id is not None:
            result["runId"] = run_id
        code = EXIT_FAILED
    if result is not None:
        # A first kernel-level run exits 194 with nothing on stdout: SSM reruns the script after the
        # reload, and the rerun prints the whole run's one result line.
        emit(result)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
