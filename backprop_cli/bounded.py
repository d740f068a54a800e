"""Run work on user input in forked child processes with a time limit and a memory cap.

SymPy can take unbounded time or memory on a student's formula, and a Python thread cannot be
stopped, so such work runs in a child process that is killed at its deadline. `run_many` keeps
up to `workers` children busy and yields exactly one outcome per item, in input order, whatever
happens to the children. Children die with their parent and leave Ctrl-C to it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from multiprocessing.connection import wait
from typing import Any, NamedTuple

from .budget import reraise_ctrl_c
from .errors import shortened

# Worker starts (or first sends to a fresh worker) that may fail in a row before run_many gives
# up on keeping workers alive; any finished task resets the count.
MAX_START_FAILURES = 5
_PR_SET_PDEATHSIG = 1


class Outcome(NamedTuple):
    """What a bounded run produced: a value, or an error code and a reason."""

    ok: bool
    value: Any = None
    code: str | None = None
    reason: str | None = None


STARTED = "started"  # a worker's word that it has begun the task it was given
CRASHED = Outcome(False, code="crashed", reason="the process stopped unexpectedly")
MEMORY = Outcome(False, code="memory", reason="ran out of its memory allowance")


@cache
def _prctl():
    """libc's prctl on Linux (looked up once, in the parent, before any fork), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _as_child(parent: int, memory: int | None) -> None:
    """First steps of a forked child: die with the parent (even if it is SIGKILLed), ignore
    Ctrl-C (the parent handles it), cap the memory (by default at the run's memory budget)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    prctl = _prctl()
    if prctl is None or prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the death signal was set
        os._exit(1)
    from .budget import cap_child

    cap_child(memory)


def _fork(target: Callable, args: tuple):
    """Start `target(*args)` in a forked daemon process. SIGINT is blocked across the fork so
    the child never runs Python's Ctrl-C handler before it ignores the signal."""
    _prctl()
    context = multiprocessing.get_context("fork")
    process = context.Process(target=target, args=args, daemon=True)
    try:  # a handler run inside the mask call may raise: the unblock must still happen
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return process


def _outcome(function: Callable, args: tuple) -> Outcome:
    try:
        return Outcome(True, function(*args))
    except MemoryError:
        return MEMORY
    except Exception as error:  # any failure on user input becomes a reason, never a crash
        return Outcome(False, code=getattr(error, "code", "error"),
                       reason=getattr(error, "message", None) or f"failed ({_first_line(error)})")


def _send(connection, outcome: Outcome) -> bool:
    """Send an outcome; False when the parent is gone. An outcome that cannot be pickled is
    sent as a failure."""
    try:
        connection.send(outcome)
    except OSError:
        return False
    except Exception as error:
        try:
            connection.send(Outcome(False, code="internal_error", reason="the result could "
                                    f"not be returned ({type(error).__name__})"))
        except Exception:
            return False
    return True


def _child(connection, function: Callable, args: tuple, memory: int | None, parent: int) -> None:
    try:
        _as_child(parent, memory)
        _send(connection, _outcome(function, args))
    finally:
        connection.close()
        os._exit(0)


def _first_line(error: Exception) -> str:
    """A library's message as one short line (SymPy's run over several, with advice for
    programmers); its class name when it has none."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return shortened(text, 160)


def _start(function: Callable, args: tuple, memory: int | None):
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = _fork(_child, (sender, function, args, memory, os.getpid()))
    sender.close()
    return process, receiver


def _finish(process, receiver) -> None:
    if process.is_alive():
        process.kill()
    process.join()
    receiver.close()


def run_bounded(function: Callable, args: tuple, timeout: float,
                memory: int | None = None) -> Outcome:
    """Run `function(*args)` in a child process; give up after `timeout` seconds."""
    try:
        process, receiver = _start(function, args, memory)
    except OSError as error:  # no process or pipe could be made (process or file limits)
        return Outcome(False, code="error", reason="could not start a checker process "
                       f"({error.strerror or error})")
    try:
        if not receiver.poll(timeout):
            return Outcome(False, code="timeout", reason=f"timed out after {timeout:g} s")
        return receiver.recv()
    except EOFError:
        return CRASHED
    finally:
        _finish(process, receiver)


def _worker(connection, function: Callable, memory: int | None, parent: int) -> None:
    """Serve tasks until the parent closes the pipe (or dies); each reply is an Outcome."""
    try:
        _as_child(parent, memory)
        while True:
            try:
                args = connection.recv()
            except (EOFError, OSError):
                break
            if not _send(connection, STARTED) or not _send(connection, _outcome(function, args)):
                break
    finally:
        os._exit(0)


class _Worker:
    """A long-lived forked process running `function`, and the task it is on (its index and
    the monotonic time it must be done by)."""

    def __init__(self, function: Callable, memory: int | None) -> None:
        self.connection, child_end = multiprocessing.get_context("fork").Pipe(duplex=True)
        try:
            self.process = _fork(_worker, (child_end, function, memory, os.getpid()))
        except BaseException:
            self.connection.close()
            raise
        finally:
            child_end.close()
        self.task: tuple[int, float] | None = None
        self.args: tuple = ()
        self.started = False  # the worker said it has begun the task

    def give(self, index: int, args: tuple, due: float) -> bool:
        """Send a task; False when the worker has died (the task never started)."""
        try:
            self.connection.send(args)
        except (OSError, EOFError):
            return False
        self.task, self.args, self.started = (index, due), args, False
        return True

    def stop(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def _spawn(function: Callable, memory: int | None) -> _Worker | None:
    try:
        return _Worker(function, memory)
    except OSError:  # no process or pipe could be made (process or file limits)
        return None


def run_many(function: Callable, items: Iterable[tuple], timeout: float, workers: int,
             memory: int | None = None, *, timeouts: Sequence[float] | None = None,
             deadline: float | None = None) -> Iterator[Outcome]:
    """`function(*args)` for each args tuple on `workers` processes: exactly one outcome per
    item, in input order.

    A task that overruns its time limit (`timeouts[i]`, else `timeout`) gets a "timeout"
    outcome and its worker is replaced, so one hanging item never stops the rest; a task whose
    worker dies after saying it began it gets "crashed". A task that a worker never began (it
    died while idle, or between taking the task and beginning it) goes to a fresh one. When
    `deadline` (a time.monotonic() instant) passes, running tasks are killed and they and every
    task not yet run get "time_budget"; when workers cannot be kept alive, they get
    "workers_failed".
    """
    pending = iter(enumerate(items))
    retry: deque[tuple[int, tuple]] = deque()  # tasks whose worker died before they started
    pool: list[_Worker | None] = [None] * workers
    finished: dict[int, Outcome] = {}
    next_out = 0
    failures = 0
    stopped: str | None = None
    try:
        while True:
            reraise_ctrl_c()
            if deadline is not None and time.monotonic() >= deadline:
                stopped = "time_budget"
                break
            if failures > MAX_START_FAILURES:
                stopped = "workers_failed"
                break
            for slot in range(workers):
                if pool[slot] is not None and pool[slot].task is not None:
                    continue
                task = retry.popleft() if retry else next(pending, None)
                if task is None:
                    break
                index, args = task
                worker = pool[slot] or _spawn(function, memory)
                limit = timeouts[index] if timeouts is not None else timeout
                if worker is not None and worker.give(index, args, time.monotonic() + limit):
                    pool[slot] = worker
                    continue
                retry.appendleft(task)
                if worker is not None:
                    worker.stop()
                pool[slot] = None
                failures += 1
                if failures > MAX_START_FAILURES:
                    stopped = "workers_failed"
                    break
            if stopped is not None:
                break
            busy = [worker for worker in pool if worker is not None and worker.task is not None]
            if not busy:
                if retry:
                    continue
                break
            wake = min(worker.task[1] for worker in busy)
            if deadline is not None:
                wake = min(wake, deadline)
            ready = wait([worker.connection for worker in busy],
                         timeout=max(0.0, wake - time.monotonic()))
            now = time.monotonic()
            for slot, worker in enumerate(pool):
                if worker is None or worker.task is None:
                    continue
                index, due = worker.task
                if worker.connection in ready:
                    try:
                        message = worker.connection.recv()
                    except (EOFError, OSError):
                        # A worker killed between tasks may still take the next one into its
                        # pipe; only a task it said it had begun is a crash.
                        if worker.started:
                            finished[index] = CRASHED
                        else:
                            retry.appendleft((index, worker.args))
                            failures += 1
                    else:
                        if message == STARTED:
                            worker.started = True
                        else:
                            finished[index] = message
                            worker.task = None
                            failures = 0
                        continue
                elif now >= due:
                    limit = timeouts[index] if timeouts is not None else timeout
                    finished[index] = Outcome(False, code="timeout",
                                              reason=f"timed out after {limit:g} s")
                else:
                    continue
                worker.stop()
                pool[slot] = None  # a fresh worker is started when there is work for it
            while next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
        if stopped is not None:
            reason = ("the time budget ran out" if stopped == "time_budget"
                      else "the worker processes could not be kept running")
            left = Outcome(False, code=stopped, reason=reason)
            for slot, worker in enumerate(pool):
                if worker is not None:
                    if worker.task is not None:
                        finished[worker.task[0]] = left
                    worker.stop()
                    pool[slot] = None
            for index, _ in (*retry, *pending):
                finished[index] = left
            while next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
    finally:
        for worker in pool:
            if worker is not None:
                worker.stop()
