"""Wall-clock and elapsed times in milliseconds, as the result lines report them."""

import time


def epoch_ms():
    return round(time.time() * 1000.0, 3)


def elapsed_ms(since_monotonic):
    return round((time.monotonic() - since_monotonic) * 1000.0, 3)
