"""The worked examples in samples/ against their published figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backprop_cli import grad

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MANIFEST = json.loads((SAMPLES / "examples.json").read_text(encoding="utf-8"))["examples"]


def _close(actual, published, decimals: int) -> bool:
    """Each element as published to `decimals` places (numbers or nested lists)."""
    if isinstance(published, list):
        return len(actual) == len(published) and all(
            _close(a, p, decimals) for a, p in zip(actual, published, strict=True))
    return abs(actual - published) <= 0.5 * 10.0**-decimals + 1e-15 * abs(published)


def _point(example: dict) -> tuple[dict, frozenset[str]]:
    """The example's values: its `at`, a --values file and a --data file's columns."""
    from backprop_cli.values import load_data, load_values

    point = dict(example.get("at", {}))
    data: dict = {}
    if "values_file" in example:
        point.update(load_values((SAMPLES / example["values_file"]).read_text(), "values"))
    if "data_file" in example:
        data = load_data((SAMPLES / example["data_file"]).read_text(), "data")
    return {**point, **data}, frozenset(data)


@pytest.mark.parametrize("example", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_sample_matches_published_figures(example: dict) -> None:
    source = (SAMPLES / example["file"]).read_text(encoding="utf-8")
    point, data = _point(example)
    result = grad(source, point, data=data)
    decimals = example["decimals"]
    assert _close(result.value, example["value"], decimals)
    gradient = dict(result.gradient)
    for name, published in example.get("gradient", {}).items():
        assert _close(gradient[name], published, decimals), name
    for name, published in example.get("values", {}).items():
        assert _close(result.node(name).value, published, decimals), name
    for name, published in example.get("adjoints", {}).items():
        assert _close(result.node(name).adjoint, published, decimals), name
    assert not result.flagged


def test_every_sample_program_is_in_the_manifest() -> None:
    listed = {example["file"] for example in MANIFEST}
    assert {path.name for path in SAMPLES.glob("*.bp")} == listed
