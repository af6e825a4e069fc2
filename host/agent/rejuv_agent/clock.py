"""Wall-clock and elapsed times in milliseconds, as the result lines report them."""

from __future__ import annotations

import time


def epoch_ms() -> float:
    return round(time.time() * 1000.0, 3)


def elapsed_ms(since_monotonic: float) -> float:
    return round((time.monotonic() - since_monotonic) * 1000.0, 3)
