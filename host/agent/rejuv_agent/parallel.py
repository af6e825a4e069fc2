"""Running one action per VM at once, with one VM's failure reported, never abandoning the others."""

from __future__ import annotations

import os
import threading
import traceback
from typing import Callable, Dict, Sequence, TypeVar

from .errors import VmFailure
from .log import log
from .qmp import QmpError, QmpGone

T = TypeVar("T")


# Starting QEMU is CPU-bound (tens of ms of page faults in malloc and relocation), so at most one start
# per CPU runs at a time: successors of the handover path (while every guest runs), and the stop-restart
# path's whole reboot (stop, save, quit, start, restore, cont), where pausing every guest until all
# processes are back would make each guest's pause grow with the number of VMs. Never fewer than two,
# so one VM that hangs cannot stall the rest.
REBOOT_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))


def guarded(action: Callable[[T], object], item: T) -> str | None:
    """Runs action(item); returns None, or the error message when it failed."""
    try:
        action(item)
    except (VmFailure, QmpGone, QmpError, OSError, ValueError) as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - one VM's surprise must not abandon the others
        log(traceback.format_exc())
        return "unexpected %s: %s" % (type(error).__name__, error)
    return None


def in_parallel(items: Sequence[T], action: Callable[[T], object]) -> Dict[int, str]:
    """Runs action(item) for every item at once; returns {index: error message} for those that failed."""
    errors: Dict[int, str] = {}

    def run(index: int, item: T) -> None:
        error = guarded(action, item)
        if error is not None:
            errors[index] = error

    threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
