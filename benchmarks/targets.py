"""Section 9 of the benchmark: the speed targets of issue 13, each printed with its figure and
a PASS/MISS verdict (information only; the script never fails on a miss).

    python benchmarks/bench.py --targets-only [--quick]

Every figure is a median of interleaved runs in this one process tree, so drift on a noisy
machine hits the compared commands alike; the engine's two lines come from fresh worker
processes (see `engine`). PyTorch, when installed, is the reference for the
engine (0-d tensors on the same DAG) and for the end-to-end run (the program evaluated line by
line); without it those two lines say so.
"""

from __future__ import annotations

import gc
import io
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from backprop_cli import api, fused
from backprop_cli.engine import compile_tape, run_forward, run_reverse
from backprop_cli.gradient import leaf_values
from backprop_cli.graph import build_graph
from backprop_cli.parse import parse_program

E2E_NODES = 100_000
E2E_SECONDS = 1.0
# 500,000 nodes of the benchmark program would be 5.4 million characters, over the 4,000,000
# character limit of a program: 350,000 nodes is the largest size of it that is accepted.
GROWTH_SIZES = (100_000, 200_000, 350_000)
BYTES_PER_NODE = 1024
TORCH_LINE_RATIO = 1 / 3  # ours / torch, the program run line by line
FLAT_TAPE_RATIO = 1.5  # engine / minimal flat tape with per-edge partials
TORCH_ENGINE_FACTOR = 10.0  # torch 0-d autograd / engine
COLD_RATIO = 0.5  # command / `python -c "import sympy"`
BATCH_ITEMS = 1_000
BATCH_SECONDS = 5.0
TABLE_NODES, TABLE_SECONDS = 400, 0.2
EXPLAIN_NODES, EXPLAIN_SECONDS = 2_000, 0.3
SWEEP_POINTS, SWEEP_SECONDS = 1_000_000, 1.5


def _bench():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench

    return bench


def _median(samples) -> float:
    return statistics.median(samples)


def _line(what: str, ok: bool, figure: str) -> None:
    print(f"  {'PASS' if ok else 'MISS'}  {what}: {figure}")


def run_measured(argv: list[str]) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (KiB, from GNU time: bench.peak_timed) of one
    process, its output discarded."""
    bench = _bench()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        command = bench.peak_timed(argv, report.name)
        start = time.perf_counter()
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        peak = bench.reported_peak(report.read())
    return elapsed, done.returncode, peak or 0


def interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    return _bench()._interleaved(commands, runs)


# ----------------------------------------------------------------------------------------------
# End to end, growth and memory


def end_to_end(runs: int, sizes: tuple[int, ...], folder: Path) -> None:
    bench = _bench()
    cli = bench.cli_prefix()
    point = [part for name, value in bench.POINT.items() for part in (f"--{name}", value)]
    programs = {}
    for size in sizes:
        path = folder / f"p{size}.txt"
        path.write_text(bench.program_of_size(size), encoding="utf-8")
        programs[size] = path
    tiny = folder / "tiny.txt"
    tiny.write_text("h0 = tanh(x*y + w)\n", encoding="utf-8")
    argv = {size: [*cli, "grad", "--file", str(path), "--json", *point]
            for size, path in programs.items()}
    argv["tiny"] = [*cli, "grad", "--file", str(tiny), "--json", *point]
    first = sizes[0]
    walls = interleaved({str(first): argv[first]}, runs)[str(first)]
    _line(f"grad --file --json, {first:,} nodes, wall < {E2E_SECONDS:g} s",
          _median(walls) < E2E_SECONDS, f"median {_median(walls):.3f} s of {runs}")
    per_node, memory = {}, {}
    baseline = min(run_measured(argv["tiny"])[2] for _ in range(3))
    for size in sizes:
        samples = [run_measured(argv[size]) for _ in range(max(1, runs // 2))]
        per_node[size] = _median([s[0] for s in samples]) / size
        memory[size] = (max(s[2] for s in samples) - baseline) * 1024 / size
    growth = per_node[sizes[-1]] / per_node[sizes[0]]
    _line(f"growth linear to {sizes[-1]:,} nodes (time per node, largest / smallest <= 1.3)",
          growth <= 1.3, ", ".join(f"{n:,}: {per_node[n] * 1e6:.1f} µs" for n in sizes)
          + f" ({growth:.2f}x)")
    worst = max(memory.values())
    _line(f"peak memory < {BYTES_PER_NODE} B per node (RSS above a 1-statement run)",
          worst < BYTES_PER_NODE, ", ".join(f"{n:,}: {memory[n]:.0f} B" for n in sizes))
    _torch_line_by_line(programs[first], first, runs)


def _torch_program(text: str) -> str:
    """The benchmark program as Python over torch 0-d tensors (its functions are torch's)."""
    return text.replace("tanh(", "torch.tanh(").replace("sigmoid(", "torch.sigmoid(").replace(
        "exp(", "torch.exp(").replace("log(", "torch.log(")


def _torch_line_by_line(path: Path, nodes: int, runs: int) -> None:
    """The verdict compares with torch running its program precompiled, as the target was
    measured; torch's time from the program's text, Python's compile of it included (as ours
    includes its parse), is printed beside it."""
    torch = _torch()
    what = f"grad --json in process / torch line by line, {nodes:,} nodes <= 1/3"
    if torch is None:
        print(f"  n/a   {what}: torch is not installed")
        return
    bench = _bench()
    from backprop_cli.render import json_format

    text = path.read_text(encoding="utf-8")
    source = _torch_program(text)
    last = text.strip().splitlines()[-1].split("=")[0].strip()
    ours, theirs, compiles = [], [], []
    for _ in range(runs):
        gc.collect()
        gc.disable()  # as the CLI runs, and as torch's run below
        try:
            start = time.perf_counter()
            json_format.render(api.grad(text, bench.POINT))
            ours.append(time.perf_counter() - start)
        finally:
            gc.enable()
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        code = compile(source, str(path), "exec")
        compiled = time.perf_counter()
        scope = {"torch": torch, **{name: torch.tensor(float(v), dtype=torch.float64,
                                                       requires_grad=True)
                                    for name, v in bench.POINT.items()}}
        exec(code, scope)  # noqa: S102 - the benchmark's own generated program
        scope[last].backward()
        json.dumps({name: float(scope[name].grad) for name in bench.POINT})
        theirs.append(time.perf_counter() - compiled)
        compiles.append(compiled - start)
        gc.enable()
    ratio = _median(ours) / _median(theirs)
    _line(what, ratio <= TORCH_LINE_RATIO,
          f"{_median(ours):.3f} s / {_median(theirs):.3f} s = {ratio:.2f}")
    from_text = [run + step for run, step in zip(theirs, compiles, strict=True)]
    print(f"  info  torch from its program's text (Python's compile, {_median(compiles):.3f} s, "
          f"timed too, as ours times its parse): {_median(ours):.3f} s / "
          f"{_median(from_text):.3f} s = {_median(ours) / _median(from_text):.2f}")


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


# ----------------------------------------------------------------------------------------------
# The engine against a minimal flat tape and against torch


_CODES = {"add": 0, "sub": 1, "mul": 2, "div": 3, "neg": 4, "tanh": 5, "sigmoid": 6, "exp": 7,
          "log": 8}


def flat_tape(graph):
    """The reference: integer op codes and parent indices in flat lists."""
    codes, first, second = [], [], []
    for i, op in enumerate(graph.ops):
        ins = graph.inputs[i]
        codes.append(_CODES.get(op, -1))
        first.append(ins[0] if ins else -1)
        second.append(ins[1] if len(ins) > 1 else -1)
    return codes, first, second


def flat_forward_backward(tape, leaves: list[float], output: int) -> list[float]:
    """Values and per-edge partials in one forward loop, adjoints in one backward loop."""
    codes, first, second = tape
    n = len(codes)
    values = list(leaves)
    da = [0.0] * n
    db = [0.0] * n
    tanh, exp, log = math.tanh, math.exp, math.log
    for i in range(n):
        c = codes[i]
        if c < 0:
            continue
        a = values[first[i]]
        if c == 0:
            values[i] = a + values[second[i]]
            da[i] = 1.0
            db[i] = 1.0
        elif c == 1:
            values[i] = a - values[second[i]]
            da[i] = 1.0
            db[i] = -1.0
        elif c == 2:
            b = values[second[i]]
            values[i] = a * b
            da[i] = b
            db[i] = a
        elif c == 3:
            b = values[second[i]]
            values[i] = a / b
            da[i] = 1.0 / b
            db[i] = -a / (b * b)
        elif c == 4:
            values[i] = -a
            da[i] = -1.0
        elif c == 5:
            t = tanh(a)
            values[i] = t
            da[i] = 1.0 - t * t
        elif c == 6:
            s = 1.0 / (1.0 + exp(-a)) if a >= 0 else exp(a) / (1.0 + exp(a))
            values[i] = s
            da[i] = s * (1.0 - s)
        elif c == 7:
            e = exp(a)
            values[i] = e
            da[i] = e
        else:
            values[i] = log(a)
            da[i] = 1.0 / a
    adjoints = [0.0] * n
    adjoints[output] = 1.0
    for i in range(output, -1, -1):
        c = codes[i]
        g = adjoints[i]
        if c < 0 or g == 0.0:
            continue
        adjoints[first[i]] += g * da[i]
        if c <= 3:
            adjoints[second[i]] += g * db[i]
    return adjoints


ENGINE_WORKERS = 3


def engine(runs: int, nodes: int = E2E_NODES) -> None:
    """The engine against the flat tape and against torch 0-d autograd, measured in fresh
    worker processes (as pyperf measures): in this process, after the end-to-end section's
    in-process runs and torch's import, the same engine measured up to a quarter slower
    against the same flat tape, which is the heap's state and not the engine. The engine is
    what `grad` runs, the fused loop (fused.py); the engine's own loops, which the other modes
    run, are shown beside it."""
    samples: dict[str, list[float]] = {"ours": [], "loops": [], "flat": [], "torch": []}
    size = nodes
    for _ in range(ENGINE_WORKERS):
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--engine-worker",
                               str(runs), str(nodes)], capture_output=True, text=True,
                              check=True)
        found = json.loads(done.stdout.splitlines()[-1])
        size = found.pop("nodes")
        for key, values in found.items():
            samples[key] += values
    ours, flat, theirs = samples["ours"], samples["flat"], samples["torch"]
    ratio = _median(ours) / _median(flat)
    _line(f"engine forward+backward (grad's fused loop) / flat tape with per-edge partials, "
          f"{size:,} nodes <= {FLAT_TAPE_RATIO:g}x ({ENGINE_WORKERS} fresh processes)",
          ratio <= FLAT_TAPE_RATIO,
          f"{_median(ours) * 1e3:.1f} ms / {_median(flat) * 1e3:.1f} ms = {ratio:.2f}x")
    loops = _median(samples["loops"])
    print(f"  info  the engine's own loops (forward, Jacobian, Hessian, grading) / flat tape: "
          f"{loops * 1e3:.1f} ms / {_median(flat) * 1e3:.1f} ms = {loops / _median(flat):.2f}x")
    what = f"torch 0-d autograd / engine on the same DAG >= {TORCH_ENGINE_FACTOR:g}x"
    if not theirs:
        print(f"  n/a   {what}: torch is not installed")
        return
    factor = _median(theirs) / _median(ours)
    _line(what, factor >= TORCH_ENGINE_FACTOR,
          f"{_median(theirs) * 1e3:.0f} ms / {_median(ours) * 1e3:.1f} ms = {factor:.1f}x")


def engine_samples(runs: int, nodes: int) -> dict:
    """One worker's seconds: grad's fused loop, the engine's own loops and the flat tape
    interleaved, then torch."""
    bench = _bench()
    graph = build_graph(parse_program(bench.program_of_size(nodes)))
    point = bench.engine_point(graph)
    leaves = leaf_values(graph, point)
    live = graph.live()
    tape = compile_tape(graph.ops, graph.inputs, graph.output, live=live)
    passes = fused.plan(graph.ops, graph.inputs, live)
    reference = flat_tape(graph)
    ours, loops, flat = [], [], []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            _, adjoints, _ = fused.run(passes, list(leaves), graph.output)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            values = run_forward(tape, list(leaves))
            run_reverse(tape, values, graph.output)
            loops.append(time.perf_counter() - start)
            start = time.perf_counter()
            expected = flat_forward_backward(reference, leaves, graph.output)
            flat.append(time.perf_counter() - start)
        finally:
            gc.enable()
    position = {graph.ids[i]: i for i in graph.variables}
    assert all(math.isclose(adjoints[i], expected[i], rel_tol=1e-9, abs_tol=1e-12)
               for i in position.values()), "the reference tape disagrees with the engine"
    return {"nodes": len(graph), "ours": ours, "loops": loops, "flat": flat,
            "torch": _torch_samples(graph, point, max(2, runs // 2))}


def _torch_samples(graph, point: dict, runs: int) -> list[float]:
    """Seconds of torch 0-d float64 autograd on the graph (none without torch)."""
    torch = _torch()
    if torch is None:
        return []
    functions = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "exp": torch.exp,
                 "log": torch.log, "neg": torch.neg}
    binary = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    theirs = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        nodes: list = [None] * len(graph.ops)
        variables = []
        for i, op in enumerate(graph.ops):
            ins = graph.inputs[i]
            if op == "var":
                nodes[i] = torch.tensor(point[graph.ids[i]], dtype=torch.float64,
                                        requires_grad=True)
                variables.append(nodes[i])
            elif op == "const":
                nodes[i] = torch.tensor(graph.constants[i], dtype=torch.float64)
            elif op in binary:
                nodes[i] = binary[op](nodes[ins[0]], nodes[ins[1]])
            else:
                nodes[i] = functions[op](nodes[ins[0]])
        nodes[graph.output].backward()
        theirs.append(time.perf_counter() - start)
        del nodes, variables
    return theirs


# ----------------------------------------------------------------------------------------------
# Cold starts, a batch of a class, tables, explain, sweep


def cold_starts(runs: int, folder: Path) -> None:
    """Measured with the package's byte-code cached, as an installed package has it (and as
    SymPy's is): where PYTHONDONTWRITEBYTECODE is set, every start would otherwise compile
    the project's modules from source (section 1 says how long that takes)."""
    import compileall

    bench = _bench()
    package = Path(api.__file__).resolve().parent
    if not compileall.compile_dir(str(package), quiet=1):
        print("  note: the byte-code of backprop_cli could not be written; the starts below "
              "compile it each time")
    cli = bench.cli_prefix()
    table = folder / "table.csv"
    table.write_text("node,value,adjoint\nx,1,2.41997\ny,2,1\n", encoding="utf-8")
    commands = {
        "grad": [*cli, *bench.EXAMPLE],
        "check --expect": [*cli, "check", "x*y + tanh(x)", "--x", "1", "--y", "2",
                           "--expect", "d/dx=2.42", "--expect", "x.value=1"],
        "check --table": [*cli, "check", "x*y + tanh(x)", "--x", "1", "--y", "2", "--table",
                          str(table)],
        "import sympy": [sys.executable, "-c", "import sympy"],
    }
    times = interleaved(commands, runs)
    floor = _median(times["import sympy"])
    for name in ("grad", "check --expect", "check --table"):
        ratio = _median(times[name]) / floor
        _line(f"cold start of {name} <= {COLD_RATIO:g}x `python -c \"import sympy\"` "
              "(byte-code cached)",
              ratio <= COLD_RATIO, f"{_median(times[name]) * 1e3:.0f} ms / {floor * 1e3:.0f} ms"
                                   f" = {ratio:.2f}x")


def batch_lines(count: int, seed: int = 0) -> list[str]:
    """A class's typical answers: derivative formulas right and wrong, numeric claims and
    whole tables, on small programs."""
    rng = random.Random(seed)
    formulas = [("x^2*sin(x)", "x", "2x sin(x) + x^2 cos(x)", "2x sin(x) + x cos(x)"),
                ("tanh(w*x + b)", "w", "x*(1 - tanh(w*x + b)^2)", "(1 - tanh(w*x + b)^2)"),
                ("exp(-x^2)", "x", "-2x exp(-x^2)", "-2 exp(-x^2)"),
                ("log(1 + x^2)", "x", "2x/(1 + x^2)", "1/(1 + x^2)"),
                ("sigmoid(a*x)", "a", "x*sigmoid(a*x)*(1 - sigmoid(a*x))",
                 "sigmoid(a*x)*(1 - sigmoid(a*x))")]
    lines = []
    for k in range(count):
        kind = k % 3
        if kind == 0:
            expr, wrt, right, wrong = formulas[rng.randrange(len(formulas))]
            answer = right if rng.random() < 0.6 else wrong
            lines.append({"id": k, "expr": expr, "wrt": wrt, "answer": answer})
        elif kind == 1:
            x, y = rng.choice([0.5, 1, 2]), rng.choice([-1, 2, 3])
            dx = y + 1 - math.tanh(x) ** 2
            claim = round(dx, 3) if rng.random() < 0.7 else round(dx + 0.1, 3)
            lines.append({"id": k, "expr": "x*y + tanh(x)", "at": {"x": x, "y": y},
                          "expect": [f"d/dx={claim}", f"d/dy={x}"]})
        else:
            x = rng.choice([0.5, 1.0, 2.0])
            z = 2 * x + 1
            lines.append({"id": k, "expr": "z = 2*x + 1; L = z^2", "at": {"x": x},
                          "table": [{"node": "z", "value": z, "adjoint": 2 * z},
                                    {"node": "x", "value": x, "adjoint": 4 * z
                                     if rng.random() < 0.7 else 2 * z}]})
    return [json.dumps(line) for line in lines]


def batch(folder: Path, items: int = BATCH_ITEMS) -> None:
    bench = _bench()
    path = folder / "class.jsonl"
    path.write_text("\n".join(batch_lines(items)) + "\n", encoding="utf-8")
    walls = []
    for _ in range(2):
        elapsed, code, _ = run_measured([*bench.cli_prefix(), "check", "--batch", str(path),
                                         "--json"])
        if code not in (0, 1):
            print(f"  MISS  check --batch failed (exit {code})")
            return
        walls.append(elapsed)
    _line(f"check --batch of {items:,} typical items (formulas, claims, tables) < "
          f"{BATCH_SECONDS:g} s wall" + ("" if items == BATCH_ITEMS else " (the target is for "
                                           f"{BATCH_ITEMS:,})"), _median(walls) < BATCH_SECONDS,
          f"median {_median(walls):.2f} s of {len(walls)}")


def tables_and_explain(runs: int, scale: float = 1.0) -> None:
    from backprop_cli.explain import explain
    from backprop_cli.render import explain_text
    from backprop_cli.render.table import render
    from backprop_cli.terminal import Terminal

    bench = _bench()
    view = SimpleNamespace(digits=6)
    for nodes, limit, what, draw in (
            (int(TABLE_NODES * scale), TABLE_SECONDS, "grad tables", lambda r: render(r)),
            (int(EXPLAIN_NODES * scale), EXPLAIN_SECONDS, "explain (text)",
             lambda r: explain_text.show(explain(r), view))):
        text = bench.program_of_size(nodes)
        result = api.grad(text, bench.POINT)
        times = []
        gc.collect()
        gc.disable()  # as the CLI runs: no rescans of what earlier sections left in the heap
        try:
            for _ in range(runs):
                # as the CLI prints: its lines trimmed of rich's padding (terminal.py)
                terminal = Terminal(out=io.StringIO(), color=False, width=120)
                start = time.perf_counter()
                terminal.print(draw(result))
                times.append(time.perf_counter() - start)
        finally:
            gc.enable()
        _line(f"{what} for {nodes:,} nodes (laid out, in process) < {limit:g} s",
              _median(times) < limit, f"median {_median(times):.3f} s of {runs}")


def sweep(runs: int, folder: Path, points: int = SWEEP_POINTS) -> None:
    bench = _bench()
    text = bench.program_of_size(100)
    path = folder / "sweep.txt"
    path.write_text(text, encoding="utf-8")
    for fmt in ("csv", "json"):
        argv = [*bench.cli_prefix(), "sweep", "--file", str(path), "--x", "-2:2", "--y", "0.5",
                "--w", "0.5", "--points", str(points), "--format", fmt, "-o",
                str(folder / f"sweep.{fmt}")]
        walls = [run_measured(argv)[0] for _ in range(max(2, runs // 2))]
        _line(f"sweep of {points:,} points to {fmt.upper()} (the whole command) < "
              f"{SWEEP_SECONDS:g} s", _median(walls) < SWEEP_SECONDS,
              f"median {_median(walls):.2f} s")


def bench_targets(quick: bool) -> None:
    """Every target; `quick` runs each on a small size, for a smoke run (its verdicts are for
    the sizes shown, not the targets')."""
    _bench().heading("9. Speed targets (issue 13): figure and verdict for each")
    runs = 2 if quick else 7
    with tempfile.TemporaryDirectory() as place:
        folder = Path(place)
        end_to_end(runs, (2_000, 5_000) if quick else GROWTH_SIZES, folder)
        engine(runs, 5_000 if quick else E2E_NODES)
        cold_starts(2 if quick else 11, folder)
        batch(folder, 20 if quick else BATCH_ITEMS)
        tables_and_explain(runs, 0.25 if quick else 1.0)
        sweep(runs, folder, 10_000 if quick else SWEEP_POINTS)


if __name__ == "__main__" and sys.argv[1:2] == ["--engine-worker"]:
    print(json.dumps(engine_samples(int(sys.argv[2]), int(sys.argv[3]))))
