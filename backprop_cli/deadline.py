"""Time limits for work in the main thread (SIGALRM), nestable; no processes involved.

One timer serves every limit in force: it is set for the earliest deadline, and when it fires
the outermost expired limit raises its error. So a run's overall budget is never swallowed by
an inner limit that some code catches (an inner `TimeoutError` is caught; the budget's error is
not an `Exception`).

The handler runs in the main thread between bytecodes, so it can interrupt this module while
the list of limits changes. It never raises then: it tries again a moment later, when the list
is whole. (Blocking the signal instead is not enough: Python runs a pending handler inside the
call that changes the mask, where an error would leave the mask or the list half changed.)
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

REPEAT_SECONDS = 0.05


class Limit:
    """One limit in force: its deadline (a time.monotonic() instant) and the error it raises."""

    def __init__(self, deadline: float, error: Callable[[], BaseException]) -> None:
        self.deadline = deadline
        self.error = error

    def move(self, deadline: float) -> None:
        """End this limit at another instant instead."""
        global _changing
        _changing = True
        try:
            self.deadline = deadline
            _arm()
        finally:
            _changing = False


_limits: list[Limit] = []
_installed = False
_changing = False  # the list of limits is being changed: the handler must not raise


def _arm() -> None:
    if not _limits:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    earliest = min(limit.deadline for limit in _limits)
    signal.setitimer(signal.ITIMER_REAL, max(earliest - time.monotonic(), 1e-6))


def _expire(signum, frame) -> None:
    if _changing:
        signal.setitimer(signal.ITIMER_REAL, REPEAT_SECONDS)
        return
    now = time.monotonic()
    for limit in _limits:
        if limit.deadline <= now:
            # Python may swallow the error (raised inside a garbage-collector callback or a
            # __del__): the timer fires again until the limit is left.
            signal.setitimer(signal.ITIMER_REAL, REPEAT_SECONDS)
            raise limit.error()
    _arm()  # woken early (a timer rounds), or the limit has just ended


@contextmanager
def time_limit(seconds: float, error: Callable[[], BaseException] = TimeoutError):
    """Raise `error()` in this (main) thread after `seconds`; a no-op in other threads.
    Yields the Limit, which can be moved."""
    global _installed, _changing
    entry = Limit(time.monotonic() + seconds, error)
    if threading.current_thread() is not threading.main_thread():
        yield entry
        return
    _changing = True
    try:
        if not _installed:  # kept installed: a SIGALRM still on its way must not kill us
            signal.signal(signal.SIGALRM, _expire)
            _installed = True
        _limits.append(entry)
        _arm()
    finally:
        _changing = False
    try:
        yield entry
    finally:
        _changing = True
        try:
            if entry in _limits:
                _limits.remove(entry)
            _arm()
        finally:
            _changing = False


def _forget_in_child() -> None:
    """A forked child has no timer (POSIX clears it) and keeps none of its parent's limits."""
    global _changing
    _limits.clear()
    _changing = False


os.register_at_fork(after_in_child=_forget_in_child)
