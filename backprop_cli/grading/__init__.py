"""Homework verification: derivative formulas, numeric claims, whole backprop tables, batches.

Each check returns Items with a verdict: "correct", "incorrect" or "undetermined". One module
per job: `formulas` (SymPy's proof, then `sampling` at random points, with `proofs` confirming a
disagreement), `claims`, `tables` (error carried forward), `files` (reading a student's table),
`jobs` (one problem from the command line's options), `lines` (a batch file's lines, read and
checked), `batch` (child processes, one row per line), `report`.
"""

from .batch import Batch, batch_of, grade_bounded, grade_line, grade_problem
from .claims import Claim, accepts, check_claims, parse_claim
from .files import read_table
from .formulas import check_derivative
from .jobs import Job, evaluate_program, grade
from .lines import JsonNumber, job_from_record, read_problem, read_record, tolerance_problem
from .report import CORRECT, INCORRECT, UNDETERMINED, Item, Report
from .tables import TableRow, check_table

__all__ = ["CORRECT", "INCORRECT", "UNDETERMINED", "Batch", "Claim", "Item", "Job", "JsonNumber",
           "Report", "TableRow", "accepts", "batch_of", "check_claims", "check_derivative",
           "check_table", "evaluate_program", "grade", "grade_bounded", "grade_line",
           "grade_problem", "job_from_record", "parse_claim", "read_problem", "read_record",
           "read_table", "tolerance_problem"]
