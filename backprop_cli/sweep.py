"""The output and its derivative by one variable over a range, on NumPy arrays: the engine's
forward and reverse loops with the array backend, in chunks of points small enough that a
chunk of every node's values stays within a fixed amount of memory."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from .engine import compile_tape, run_forward, run_reverse, undefined_where_nan
from .errors import InputError, LimitError
from .forward_mode import program_and_point
from .gradient import leaf_values, missing_values
from .graph import Graph, fallback_nodes, work_size
from .parse import format_program
from .result import SCHEMA_VERSION, label, number

MAX_SWEEP_POINTS = 10_000_000
# Nodes × points, with each chunk counted as CHUNK_OVERHEAD more points (a chunk costs one
# NumPy call per node whatever its length) and a node calling a SymPy function (mpmath, one
# point at a time, 50-600 µs) as FALLBACK_COST nodes: about 7 ns each on a 2-core machine, so
# the limit is about 15-30 s of evaluation.
MAX_SWEEP_WORK = 2_000_000_000
CHUNK_OVERHEAD = 700
FALLBACK_COST = 50_000
CHUNK = 8_192  # points per chunk, at most: larger chunks fall out of the CPU caches
CHUNK_BYTES = 64 * 1024**2  # memory for one chunk of every node's values and adjoints
BYTES_PER_NODE_POINT = 24  # measured peak: about 15 (value, adjoint and temporaries)
ROWS_PER_WRITE = 16_384  # points converted to text at a time by the streaming writers


@dataclass(frozen=True)
class Sweep:
    """The output and its derivative by one variable at `points` evenly spaced values from
    `start` to `stop` (NaN marks a gap). The x values are computed when asked for, exactly as
    numpy.linspace computes them, so a long sweep holds only its two result columns."""

    expression: str
    variable: str
    fixed: tuple[tuple[str, float], ...]
    start: float
    stop: float
    points: int
    value: object  # numpy arrays
    derivative: object
    output: str

    warnings: tuple[str, ...] = ()

    @property
    def x(self):
        """All x values (numpy.linspace(start, stop, points))."""
        return self.x_at(0, self.points)

    def x_at(self, begin: int = 0, end: int | None = None, indices=None):
        """The x values of points begin..end-1 (or of an index array), bit for bit those of
        numpy.linspace: k × step + start, the last point exactly `stop`."""
        import numpy as np

        k = (np.arange(begin, end, dtype=float) if indices is None
             else np.asarray(indices, dtype=float))
        last = k == self.points - 1
        div = self.points - 1
        with np.errstate(all="ignore"):
            delta = np.subtract(self.stop, self.start, dtype=float)
            step = delta / div
            if step == 0:  # a step below the smallest float: numpy divides first (gh-5437)
                k /= div
                k *= delta
            else:
                k *= step
            k += self.start
        k[last] = self.stop
        return k

    def columns(self, rows: int = ROWS_PER_WRITE) -> Iterator[tuple]:
        """(x, value, derivative) arrays of consecutive slices of at most `rows` points."""
        for begin in range(0, self.points, rows):
            end = min(begin + rows, self.points)
            yield self.x_at(begin, end), self.value[begin:end], self.derivative[begin:end]

    def header(self) -> dict:
        """The JSON document's fields before the columns."""
        return {"schema": SCHEMA_VERSION, "ok": True, "expression": self.expression,
                "variable": self.variable, "at": {k: _json(v) for k, v in self.fixed},
                "output": self.output}

    def to_dict(self) -> dict:
        def column(array) -> list:
            return [float(v) if math.isfinite(v) else None for v in array.tolist()]

        document = {**self.header(), "x": column(self.x), "value": column(self.value),
                    "derivative": column(self.derivative), "warnings": list(self.warnings)}
        labels = {name: [label(v) for v in array.tolist()]
                  for name, array in (("value", self.value), ("derivative", self.derivative))
                  if not all(math.isfinite(v) for v in array.tolist())}
        if labels:
            document["nonfinite"] = labels
        return document


def _json(value) -> object:
    if isinstance(value, float):
        return number(value)
    from .tensor_result import array_json

    return array_json(value)


def sweep(text: str, at: Mapping, variable: str, start: float, stop: float,
          points: int) -> Sweep:
    """Evaluate value and derivative at `points` evenly spaced values of `variable`."""
    if not 2 <= points <= MAX_SWEEP_POINTS:
        raise InputError(f"--points must be between 2 and {MAX_SWEEP_POINTS:,}")
    if not (math.isfinite(start) and math.isfinite(stop)) or start >= stop:
        raise InputError(f"the range of {variable} must go from a smaller to a larger finite "
                         f"number (got {start:g}:{stop:g})")
    if not math.isfinite(stop - start):
        raise InputError(f"the range of {variable} ({start:g}:{stop:g}) is wider than float64 "
                         "can hold (about 1.8e308); sweep each half separately")
    program, graph, point = program_and_point(text, {**at, variable: start}, arrays=True)
    if variable not in graph.variable_names:
        raise InputError(f"{variable!r} is not a variable of the program "
                         f"(variables: {', '.join(graph.variable_names) or 'none'})")
    missing = [name for name in graph.variable_names if name not in point]
    if missing:
        raise missing_values(missing, point, graph.variable_names)
    from .api import over_arrays

    if over_arrays(graph, point):
        return _tensor_sweep(program, graph, point, variable, start, stop, points)
    # The work is counted in one thread's chunks: two threads share the same work.
    work = sweep_work(work_size(graph.ops, FALLBACK_COST), points, chunk_size(len(graph)))
    if work > MAX_SWEEP_WORK:
        calls = fallback_nodes(graph.ops)
        weighted = (f" and {calls:,} call{'s' if calls != 1 else ''} of SymPy functions, "
                    f"each counted as {FALLBACK_COST:,} nodes," if calls else "")
        raise LimitError(f"sweep: {points:,} points × {len(graph):,} nodes{weighted} is too "
                         f"much work ({work:,} node-points with the per-chunk cost; at most "
                         f"{MAX_SWEEP_WORK:,}); use fewer --points or a smaller program")
    result = _empty_sweep(program, graph, point, variable, start, stop, points)
    others = dict(result.fixed)

    def part(begin: int, end: int) -> dict:
        return {**others, variable: result.x_at(begin, end)}

    import numpy as np

    threads = _threads(graph, points)
    kinks = np.zeros(points, dtype=bool) if _kink_nodes(graph, variable) else None
    value, derivative = _chunked_pass(graph, variable, points, chunk_size(len(graph), threads),
                                      part, threads, kinks)
    swept = _with_gaps(replace(result, value=value, derivative=derivative))
    if kinks is None:
        return swept
    return _with_kinks(swept, kinks & np.isfinite(derivative), variable)


def _with_kinks(swept: Sweep, kinks, variable: str) -> Sweep:
    """The sweep, warning of the points where the derivative takes a kink's convention."""
    import numpy as np

    count = int(np.count_nonzero(kinks))
    if not count:
        return swept
    first = int(np.argmax(kinks))
    note = (f"the derivative takes a kink's convention at {count:,} of {swept.points:,} points "
            f"(the first at {variable} = {float(swept.x_at(first, first + 1)[0]):.6g}; see "
            "Conventions at kinks in the README)")
    return replace(swept, warnings=(*swept.warnings, note))


def _with_gaps(result: Sweep) -> Sweep:
    """The sweep, warning of its gaps: points where the output, or only its derivative, is
    not a finite number (each counted, with the first)."""
    import numpy as np

    notes = []
    value_gaps = ~np.isfinite(result.value)
    derivative_gaps = ~np.isfinite(result.derivative) & ~value_gaps
    for gaps, what in ((value_gaps, "the output"), (derivative_gaps, "the derivative")):
        count = int(np.count_nonzero(gaps))
        if count:
            first = int(np.argmax(gaps))
            x = float(result.x_at(first, first + 1)[0])
            notes.append(f"{what} is not a finite number at {count:,} of {result.points:,} "
                         f"points (the first at {result.variable} = {x:.6g}); they are gaps")
    return replace(result, warnings=(*result.warnings, *notes)) if notes else result


def _empty_sweep(program, graph: Graph, point: Mapping, variable: str, start: float,
                 stop: float, points: int) -> Sweep:
    """The sweep's description, before its columns are computed."""
    fixed = tuple((name, point[name]) for name in graph.variable_names if name != variable)
    unused = tuple(f"variable {name!r} was given a value but is not used; it is ignored"
                   for name in point if name not in graph.variable_names)
    return Sweep(format_program(program), variable, fixed, start, stop, points, None, None,
                 graph.ids[graph.output], (*program.cautions, *unused))


# A program over arrays runs once per point: (nodes + elements over all nodes) × points, at
# about 1-2 µs each on a 2-core machine, so the limit is about 10-20 s.
MAX_TENSOR_SWEEP_WORK = 10_000_000


def _tensor_sweep(program, graph: Graph, point: dict, variable: str, start: float,
                  stop: float, points: int) -> Sweep:
    """A sweep of a scalar variable of a program over arrays (the others fixed arrays or a
    data set): the array engine's forward and reverse passes at each point."""
    import numpy as np

    from .tensor_engine import (
        forward_pass,
        kink_status,
        loss_and_gradient,
        refuse_whole_numbers,
    )

    refuse_whole_numbers(graph, [variable], "sweep of {name!r}")
    values, _ = forward_pass(graph, point)
    elements = sum(int(np.size(v)) for v in values)
    work = (len(graph) + elements) * points
    if work > MAX_TENSOR_SWEEP_WORK:
        raise LimitError(f"sweep: {points:,} points × {len(graph) + elements:,} nodes and "
                         f"elements is too much work ({work:,}; at most "
                         f"{MAX_TENSOR_SWEEP_WORK:,}); use fewer --points or smaller arrays")
    result = _empty_sweep(program, graph, point, variable, start, stop, points)
    value = np.empty(points)
    derivative = np.empty(points)
    kinked = _tensor_kink_nodes(graph, variable)
    kinks = np.zeros(points, dtype=bool)
    for k, x in enumerate(result.x):
        value[k], gradient, found = loss_and_gradient(graph, {**point, variable: x},
                                                      [variable], "sweep")
        derivative[k] = gradient[variable]
        kinks[k] = any(kink_status(graph, i, found)[0] == "kink" for i in kinked)
    derivative[np.isnan(value)] = np.nan
    swept = _with_gaps(replace(result, value=value, derivative=derivative))
    return _with_kinks(swept, kinks & np.isfinite(derivative), variable)


def _tensor_kink_nodes(graph: Graph, wrt: str) -> list[int]:
    """The nodes of a program over arrays that may sit at a kink, between `wrt` and the
    output: the elementwise ops with a convention, and the tensor ops with a kink test."""
    from .engine import dependents
    from .tensor_ops import TENSOR_OPS

    if wrt not in graph.ids:
        return []
    depends, live = dependents(graph.inputs, [graph.ids.index(wrt)]), graph.live()
    elementwise = {i for i, _ in _kink_nodes(graph, wrt)}
    return [i for i, name in enumerate(graph.ops) if depends[i] and live[i] and (
        i in elementwise or (name in TENSOR_OPS and TENSOR_OPS[name].kink is not None))]


def chunk_size(nodes: int, threads: int = 1) -> int:
    """Points per chunk: every node's value and adjoint for a chunk of each thread fit in
    CHUNK_BYTES."""
    room = CHUNK_BYTES // threads
    return max(1, min(CHUNK, room // (BYTES_PER_NODE_POINT * max(nodes, 1))))


# Ops that the array backend evaluates element by element in Python, holding the interpreter
# lock (erf and erfc through math, gelu through erfc): two threads would only take turns.
PYTHON_PER_ELEMENT = frozenset({"erf", "erfc", "gelu"})
# Address space a second thread maps for the rest of the run (its stack and its own malloc
# arena, about 72 MiB), with its chunk and room to spare, beyond 24 bytes a point.
THREAD_ROOM = 512 * 1024**2


def _threads(graph: Graph, points: int) -> int:
    """Two threads when there are two cores, enough points and a small program: NumPy lets go
    of the interpreter lock inside each array operation, where a chunk of thousands of points
    spends most of its time (a larger program's smaller chunks spend it in Python, holding
    the lock, and run slower side by side). One thread for a program calling SymPy's
    functions (they share mpmath's one global precision, and their per-call time limit works
    in the main thread only) or ops computed in Python, and under a memory budget without
    room for a second thread."""
    import numpy  # noqa: F401 - its mappings are the run's before the room is measured

    from .budget import room

    if (points < 4 * CHUNK or chunk_size(len(graph), 2) < CHUNK // 2 or _cores() < 2
            or fallback_nodes(graph.ops) or not PYTHON_PER_ELEMENT.isdisjoint(graph.ops)):
        return 1
    free = room()
    return 2 if free is None or free >= THREAD_ROOM + BYTES_PER_NODE_POINT * points else 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _kink_nodes(graph: Graph, wrt: str) -> list[tuple[int, object]]:
    """The nodes with a kink convention (abs, relu, ...) between `wrt` and the output, each with
    its op's edges (numbers that are 0 exactly at a kink)."""
    from .engine import dependents
    from .ops import OPS

    if wrt not in graph.ids:
        return []
    depends, live = dependents(graph.inputs, [graph.ids.index(wrt)]), graph.live()
    found = []
    for i, name in enumerate(graph.ops):
        op = OPS.get(name)
        # an op with its own kink test (pow at 0**0) is left out: its edges alone overstate
        if op is not None and op.edges is not None and op.convention is not None \
                and op.kink is None and depends[i] and live[i]:
            found.append((i, op.edges))
    return found


def sweep_work(nodes: int, points: int, chunk: int) -> int:
    """The estimated cost of a sweep in node-points, each chunk's fixed cost included."""
    return nodes * (points + -(-points // chunk) * CHUNK_OVERHEAD)


def vector_pass(graph: Graph, point: Mapping, wrt: str, chunk: int | None = None):
    """Value and d output / d wrt over NumPy arrays of points (scalars stay fixed), in chunks
    so memory stays bounded. Undefined points are NaN (IEEE), never errors."""
    import numpy as np

    length = max(np.size(v) for v in point.values())

    def part(begin: int, end: int) -> dict:
        return {name: (given[begin:end] if np.ndim(given) else given)
                for name, given in point.items()}

    return _chunked_pass(graph, wrt, length, chunk or chunk_size(len(graph)), part)


def _chunked_pass(graph: Graph, wrt: str, length: int, chunk: int, part, threads: int = 1,
                  kinks=None):
    """The engine on the array backend over `length` points, `chunk` at a time; `part(begin,
    end)` gives the variables' values of those points. With two threads, each takes one half
    of the chunks; every chunk is computed as one thread would compute it. With `kinks` (a
    boolean array of `length`), the points where a node the output reaches from `wrt` sits at
    a kink of its op are marked there."""
    import numpy as np

    from .backends import array_backend
    from .budget import side_by_side

    backend = array_backend()
    tape = compile_tape(graph.ops, graph.inputs, graph.output, backend)
    position = {graph.ids[i]: i for i in graph.variables}
    at_kinks = [] if kinks is None else _kink_nodes(graph, wrt)
    value_out = np.empty(length)
    derivative_out = np.empty(length)
    stop_early = threading.Event()

    def run(begin: int, end: int) -> None:
        with np.errstate(all="ignore"):
            for start in range(begin, end, chunk):
                if stop_early.is_set():
                    return
                stop = min(start + chunk, end)
                given = {name: (np.asarray(values, dtype=float) if np.ndim(values)
                                else np.float64(values))
                         for name, values in part(start, stop).items()}
                values = run_forward(tape, leaf_values(graph, given, backend))
                adjoints, _ = run_reverse(undefined_where_nan(tape, values, backend), values,
                                          graph.output, keep_partials=False)
                for i, edges in at_kinks:
                    try:  # an edge written with a branch (atan2's) takes numbers, not arrays
                        found = edges(*(values[j] for j in graph.inputs[i]))
                    except (TypeError, ValueError, ArithmeticError):
                        continue
                    for edge in found:
                        kinks[start:stop] |= np.broadcast_to(np.asarray(edge) == 0,
                                                             (stop - start,))
                value_out[start:stop] = np.broadcast_to(values[graph.output], (stop - start,))
                derivative = adjoints[position[wrt]] if wrt in position else 0.0
                derivative_out[start:stop] = np.broadcast_to(derivative, (stop - start,))
                # Where the value is undefined, so is its derivative.
                derivative_out[start:stop][np.isnan(value_out[start:stop])] = np.nan
                del values, adjoints

    chunks = -(-length // chunk)
    middle = (chunks // 2) * chunk
    failed: list[BaseException] = []
    done = threading.Event()

    def second_half() -> None:
        try:
            run(middle, length)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            failed.append(error)
        finally:
            done.set()

    worker = threading.Thread(target=second_half, name="sweep", daemon=True)
    try:
        if threads > 1 and chunks > 1:
            worker.start()
    except RuntimeError:  # no room for a second thread's stack within the memory budget
        pass
    if worker.ident is None:  # one thread
        run(0, length)
        return value_out, derivative_out
    # The worker's end is awaited on an Event rather than by join: a signal that interrupts
    # join (the time budget, ctrl-C) leaves a live thread marked as ended on Python 3.11.
    with side_by_side(2):
        try:
            run(0, middle)
            done.wait()
        except BaseException:
            stop_early.set()  # a time or memory budget ran out: the worker ends after a chunk
            _await(done)
            raise
    worker.join()
    if failed:
        raise failed[0]
    return value_out, derivative_out


def _await(done: threading.Event) -> None:
    """Wait for `done` even through further signals (a repeated budget timer, another
    ctrl-C): the worker is at most a chunk away from seeing that it must stop."""
    while not done.is_set():
        try:
            done.wait(0.05)
        except BaseException:  # noqa: BLE001, S112 - the first error is the one raised
            continue
