"""The classify job's planned calls against the API's per-job call limit."""

from __future__ import annotations

import pytest

from api.job_bounds import check_bounds
from core.contracts.classify import ClassifyInput
from core.contracts.options import JobOptions
from core.errors import InvalidInput
from tests.conftest import make_settings


def test_a_full_classify_job_fits_the_default_call_limit_without_repairs() -> None:
    """500 items (the most a job takes) with max_repairs 0 are 500 calls, within the default
    AIJOBS_MAX_CALLS_PER_JOB; with the default 2 repairs each, the refusal says what to change."""
    settings = make_settings()
    labels = ["a", "b"]
    check_bounds(
        ClassifyInput(items=["x"] * 500, labels=labels, max_repairs=0), JobOptions(), settings
    )
    with pytest.raises(InvalidInput, match=r"1,500 model calls \(500 items, each with up to 2"):
        check_bounds(ClassifyInput(items=["x"] * 500, labels=labels), JobOptions(), settings)
