"""Homework verification: derivative formulas, numeric claims, whole backprop tables, batches.

Each check returns Items with a verdict: "correct", "incorrect" or "undetermined". One module
per job: `formulas` (SymPy's proof, then `sampling` at random points, with `proofs` confirming a
disagreement), `claims`, `tables` (error carried forward), `files` (reading a student's table),
`jobs` (one problem: its options or batch line), `batch` (child processes), `report`.
"""

from .batch import Batch, batch_of, grade_bounded
from .claims import Claim, accepts, check_claims, parse_claim
from .files import read_table
from .formulas import check_derivative
from .jobs import Job, evaluate_program, grade, grade_line, job_from_record
from .report import CORRECT, INCORRECT, UNDETERMINED, Item, Report
from .tables import TableRow, check_table

__all__ = ["CORRECT", "INCORRECT", "UNDETERMINED", "Batch", "Claim", "Item", "Job", "Report",
           "TableRow", "accepts", "batch_of", "check_claims", "check_derivative", "check_table",
           "evaluate_program", "grade", "grade_bounded", "grade_line", "job_from_record",
           "parse_claim", "read_table"]
