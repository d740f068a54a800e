"""The files `generate --out DIR` writes: assignment.json (what `check --assignment` reads),
key.json, batch.jsonl, and each student's worksheet in Markdown and LaTeX."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..teacher.generate import Generated
from ..teacher.key import batch_line, file_names, key_document
from .worksheet import latex, markdown


def write(generated: Generated, out: str) -> Generated:
    """The files written into `out`; the Generated result with their paths."""
    assignment, variants = generated.assignment, generated.variants
    folder = Path(out)
    names = file_names([v.student for v in variants])
    documents = {
        "assignment.json": json.dumps(assignment.to_dict(), indent=2, ensure_ascii=False),
        "key.json": json.dumps(key_document(assignment, list(variants)), indent=2,
                               ensure_ascii=False, allow_nan=False),
        "batch.jsonl": "".join(batch_line(assignment, v) + "\n" for v in variants),
    }
    for variant in variants:
        stem = f"worksheets/{names[variant.student]}"
        documents[f"{stem}.md"] = markdown(assignment, variant)
        documents[f"{stem}.tex"] = latex(assignment, variant)
    sheets = folder / "worksheets"
    stale = sorted(p.name for p in sheets.glob("*") if f"worksheets/{p.name}" not in documents
                   ) if sheets.is_dir() else []
    try:
        sheets.mkdir(parents=True, exist_ok=True)
        for relative, text in documents.items():
            path = folder / relative
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text if text.endswith("\n") else text + "\n")
    except OSError as failure:
        where = failure.filename or out
        raise InputError(f"cannot write {where}: {failure.strerror or failure}") from None
    notes = (f"warning: {sheets} also holds {len(stale)} file(s) this run did not write "
             f"({', '.join(stale[:4])}{', ...' if len(stale) > 4 else ''}), from an earlier "
             "run; they are not part of this assignment",) if stale else ()
    return replace(generated, files=tuple(os.path.join(out, relative) for relative in documents),
                   notes=notes)
