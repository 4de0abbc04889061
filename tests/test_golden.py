"""Seeded runs give today's results: schedules, statistics, traces, update statistics and explorer verdicts.

The fingerprints in tests/data/golden.json were recorded before the architecture and speed work; any change to
them is a change of result, not of structure (regenerate only deliberately: python tests/golden.py --write).
"""
import json

import pytest

import golden

with open(golden.GOLDEN) as f:
    EXPECTED = json.load(f)


@pytest.mark.parametrize("section", sorted(golden.SECTIONS))
def test_seeded_results_unchanged(section):
    got = golden.compute(section)
    want = EXPECTED[section]
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
