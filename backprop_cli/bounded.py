"""Run work on user input in forked child processes with a time limit and a memory cap.

SymPy can take unbounded time or memory on a student's formula, and a Python thread cannot be
stopped, so such work runs in a child process that is killed at its deadline. `run_many` keeps
up to `workers` children busy and yields the outcomes in input order.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait
from typing import Any, NamedTuple

MEMORY_CAP_BYTES = 2 * 1024**3


class Outcome(NamedTuple):
    """What a bounded run produced: a value, or an error code and a reason."""

    ok: bool
    value: Any = None
    code: str | None = None
    reason: str | None = None


def _child(connection, function: Callable, args: tuple, memory: int) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        connection.send(Outcome(True, function(*args)))
    except MemoryError:
        connection.send(Outcome(False, code="memory", reason="ran out of its memory allowance"))
    except Exception as error:  # any failure on user input becomes a reason, never a crash
        code = getattr(error, "code", "error")
        reason = getattr(error, "message", None) or f"failed ({_first_line(error)})"
        connection.send(Outcome(False, code=code, reason=reason))
    finally:
        connection.close()
        os._exit(0)


def _first_line(error: Exception) -> str:
    """A library's message as one short line (SymPy's run over several, with advice for
    programmers); its class name when it has none."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _start(function: Callable, args: tuple, memory: int):
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, function, args, memory), daemon=True)
    process.start()
    sender.close()
    return process, receiver


def _finish(process, receiver) -> None:
    if process.is_alive():
        process.kill()
    process.join()
    receiver.close()


def run_bounded(function: Callable, args: tuple, timeout: float,
                memory: int = MEMORY_CAP_BYTES) -> Outcome:
    """Run `function(*args)` in a child process; give up after `timeout` seconds."""
    process, receiver = _start(function, args, memory)
    try:
        if not receiver.poll(timeout):
            return Outcome(False, code="timeout", reason=f"timed out after {timeout:g} s")
        return receiver.recv()
    except EOFError:
        return Outcome(False, code="crashed", reason="stopped unexpectedly")
    finally:
        _finish(process, receiver)


def _worker(connection, function: Callable, memory: int) -> None:
    """Serve tasks until the parent closes the pipe; each reply is an Outcome."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    while True:
        try:
            args = connection.recv()
        except (EOFError, OSError):
            break
        try:
            outcome = Outcome(True, function(*args))
        except MemoryError:
            outcome = Outcome(False, code="memory", reason="ran out of its memory allowance")
        except Exception as error:  # a failing item becomes an error row, never a crash
            outcome = Outcome(False, code=getattr(error, "code", "error"),
                              reason=getattr(error, "message", None)
                              or f"{type(error).__name__}: {error}")
        connection.send(outcome)
    os._exit(0)


class _Worker:
    """A long-lived forked process running `function`; replaced when a task overruns."""

    def __init__(self, function: Callable, memory: int) -> None:
        context = multiprocessing.get_context("fork")
        self.connection, child_end = context.Pipe(duplex=True)
        self.process = context.Process(target=_worker, args=(child_end, function, memory),
                                       daemon=True)
        self.process.start()
        child_end.close()
        self.task: tuple[int, float] | None = None

    def stop(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def run_many(function: Callable, items: Iterable[tuple], timeout: float, workers: int,
             memory: int = MEMORY_CAP_BYTES) -> Iterator[Outcome]:
    """`function(*args)` for each args tuple on `workers` processes; outcomes in input order.

    A task that overruns `timeout` gets a timeout outcome and its worker is replaced, so one
    hanging item never stops the rest.
    """
    pending = iter(enumerate(items))
    pool = [_Worker(function, memory) for _ in range(workers)]
    finished: dict[int, Outcome] = {}
    next_out = 0
    exhausted = False
    try:
        while True:
            for worker in pool:
                if worker.task is None and not exhausted:
                    try:
                        index, args = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    worker.connection.send(args)
                    worker.task = (index, time.monotonic() + timeout)
            busy = [worker for worker in pool if worker.task is not None]
            if not busy:
                break
            soonest = min(worker.task[1] for worker in busy)
            ready = wait([w.connection for w in busy],
                         timeout=max(0.0, soonest - time.monotonic()))
            now = time.monotonic()
            for slot, worker in enumerate(pool):
                if worker.task is None:
                    continue
                index, deadline = worker.task
                if worker.connection in ready:
                    try:
                        finished[index] = worker.connection.recv()
                        worker.task = None
                        continue
                    except (EOFError, OSError):
                        finished[index] = Outcome(False, code="crashed",
                                                  reason="stopped unexpectedly")
                elif now >= deadline:
                    finished[index] = Outcome(False, code="timeout",
                                              reason=f"timed out after {timeout:g} s")
                else:
                    continue
                worker.stop()
                pool[slot] = _Worker(function, memory)
            while next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
    finally:
        for worker in pool:
            worker.stop()
