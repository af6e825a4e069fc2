"""Test seams: the points of a run where a test may act, and the choices only a bench or a test makes.

What ships does nothing at any of them and reads nothing to decide: the hooks are no-ops until a
wrapper outside this package (host/lab/agent-seams/agent_with_seams.py, run by the lab's hosts when
a test asks for it) calls install() before main(). See host/README.md, "Fault seams".
"""

from __future__ import annotations


class Seams:
    """The hooks as shipped: no hold, no forced path, guest RAM always left in place."""

    def hold(self, point: str) -> None:
        """Called at each named point of a run (e.g. "vm-a:stopped"); returns when the run may go on."""

    def forced_stop_restart(self, vm_name: str) -> str | None:
        """Why this VM must take the stop-restart path although it could be handed over, or None."""
        return None

    def memory_in_place(self) -> bool:
        """False only for the bench's classic baseline: guest RAM copied through the state file."""
        return True


_installed = Seams()


def install(seams: Seams) -> None:
    """Replaces the hooks for the rest of this process (a test wrapper only)."""
    global _installed
    _installed = seams


def hold(point: str) -> None:
    _installed.hold(point)


def forced_stop_restart(vm_name: str) -> str | None:
    return _installed.forced_stop_restart(vm_name)


def memory_in_place() -> bool:
    return _installed.memory_in_place()
