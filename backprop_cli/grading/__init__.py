"""Homework verification: derivative formulas, numeric claims, whole backprop tables, batches.

Each check returns Items with a verdict: "correct", "incorrect" or "undetermined". One module
per job: `formulas` (SymPy's proof, then `sampling` at random points, with `proofs` confirming a
disagreement), `claims`, `tables` (error carried forward, in tables and hand-in lines), `files`
(reading a student's table), `jobs` (one problem from the command line's options), `lines` (a
batch file's lines, read and checked), `batch` (child processes, one row per line), `report`.
"""

from importlib import import_module

# Each name is imported from its module when first used, so that `check --expect` loads
# neither the batch machinery (multiprocessing) nor SymPy's side of grading.
_MODULES = {
    "batch": ("Batch", "batch_of", "grade_bounded", "grade_line", "grade_problem"),
    "claims": ("Claim", "accepts", "check_claims", "parse_claim"),
    "files": ("read_table",),
    "formulas": ("check_derivative",),
    "jobs": ("Job", "evaluate_program", "grade", "grade_in_process"),
    "lines": ("JsonNumber", "job_from_record", "read_problem", "read_record",
              "tolerance_problem"),
    "report": ("CORRECT", "INCORRECT", "UNDETERMINED", "Item", "Report"),
    "tables": ("TableRow", "check_table"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
