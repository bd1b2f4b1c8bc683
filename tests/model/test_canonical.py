"""`canonical_json` is byte for byte the reference RFC 8785 implementation, fast path or not."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from fcsbe.model import canonical_json
from tests.support.depth import examples

FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
    st.floats(min_value=1e14, max_value=1e22),
    st.integers(-(2**60), 2**60).map(float),
    st.sampled_from([0.0, -0.0, 1e-4, 9.999e-5, 1e16, 1e21, 2.0**53, 0.1, 123456.789]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**54), 2**54),
    FLOATS,
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF)),
)
KEYS = st.one_of(st.text(max_size=6), st.sampled_from(["a", "b", "\U0001f600", "\ue000", "é"]))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(KEYS, inner, max_size=5),
        st.tuples(inner, inner),
    ),
    max_leaves=30,
)


def _reference(value: object) -> bytes | type[Exception]:
    try:
        data: bytes = rfc8785.dumps(value)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError as exc:
        return type(exc)
    return data


@settings(max_examples=examples(300), deadline=None)
@given(value=JSON)
def test_same_bytes_as_the_reference(value: object) -> None:
    expected = _reference(value)
    if isinstance(expected, bytes):
        assert canonical_json(value) == expected
    else:
        with pytest.raises(expected):
            canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1.0, "a": [1e-7, 1e21, -0.0, 5e-324, 2.0**60, 100.0, 0.5]},
        {"\U0001f600": 1, "\ue000": 2, "z": '\u2028\x7f\x1f"\\'},
        {"big": 2**53 - 1, "n": None, "t": True, "s": "ümlaut"},
    ],
)
def test_edge_values(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


def test_refuses_what_json_cannot_hold() -> None:
    for bad in (math.nan, math.inf, 2**60, {1: "x"}, object()):
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical_json(bad)
