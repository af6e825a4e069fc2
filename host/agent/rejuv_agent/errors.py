"""Exit codes and the two ways a request ends early: a Refusal (nothing touched) and a VmFailure (one VM)."""

from __future__ import annotations

from typing import List

from .json_types import JsonObject

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_REQUEST = 2
EXIT_REFUSED = 3
EXIT_PARTIAL = 4
# Asks the SSM Agent to reboot the instance and run this same script again afterwards (Linux; 3010 on
# Windows). The kernel level's first run ends with it; the kexec it scheduled comes first.
EXIT_REBOOT = 194


class Refusal(Exception):
    """The request cannot be carried out and nothing was touched."""

    def __init__(
        self, code: str, reason: str, exit_code: int = EXIT_REFUSED, vms: List[JsonObject] | None = None
    ) -> None:
        Exception.__init__(self, reason)
        self.code = code
        self.reason = reason
        self.exit_code = exit_code
        self.vms: List[JsonObject] = vms or []


class VmFailure(Exception):
    """One VM could not complete a phase; the message names what happened to it."""
