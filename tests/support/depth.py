"""How deep the randomised tests look: the everyday budget, or a thorough one on request.

The suite runs on every push and must stay within CI's minutes on two cores, so property tests
and the API fuzzing use a fixed, modest budget; `FCSBE_TEST_THOROUGH=1` multiplies it for a
deep run before a release or after a change to the model or the planners. No budget is a time
limit: Hypothesis' deadline is off everywhere (a busy machine makes a correct example slow, and
the tests judge results, not speed), and generation is the same on every run of a budget.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["FUZZ_EXAMPLES", "THOROUGH", "examples", "load_profile"]

THOROUGH = os.environ.get("FCSBE_TEST_THOROUGH", "").lower() in {"1", "true", "yes"}
"""A deep run: every budget below times `THOROUGH_FACTOR`."""

THOROUGH_FACTOR = 10

FUZZ_EXAMPLES = int(os.environ.get("FCSBE_FUZZ_EXAMPLES", "250" if THOROUGH else "25"))
"""Fuzzed cases per API operation, on top of the explicit examples and the coverage phase
(boundary and invalid values of every parameter), which run in full at any budget."""


def examples(count: int) -> int:
    """A test's own example budget, scaled for a thorough run."""
    return count * THOROUGH_FACTOR if THOROUGH else count


def load_profile() -> None:
    """Register and load the Hypothesis profiles (`fcsbe`, or `fcsbe-thorough` when asked;
    `FCSBE_HYPOTHESIS_PROFILE` chooses another registered one)."""
    common = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow],
        "print_blob": True,
    }
    settings.register_profile("fcsbe", max_examples=100, **common)
    settings.register_profile("fcsbe-thorough", max_examples=examples(100), **common)
    default = "fcsbe-thorough" if THOROUGH else "fcsbe"
    settings.load_profile(os.environ.get("FCSBE_HYPOTHESIS_PROFILE", default))
