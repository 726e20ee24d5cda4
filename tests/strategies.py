"""Hypothesis strategies for the package's tests: frames of years and frames of labels."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

# Wide enough to hold any calendar year and far past it, narrow enough that ``ref - year``
# cannot overflow int64.
_INTEGERS = st.integers(min_value=-(10**12), max_value=10**12)


def integer_frames(
    *, columns: Sequence[str], max_rows: int = 20
) -> st.SearchStrategy[pd.DataFrame]:
    """Frames of int64 columns named ``columns``, with at least one row."""
    strategy: st.SearchStrategy[pd.DataFrame] = data_frames(
        columns=[column(name, elements=_INTEGERS, dtype="int64") for name in columns],
        index=range_indexes(min_size=1, max_size=max_rows),
    )
    return strategy


def label_frames(
    *, columns: Sequence[str], labels: Sequence[str], max_rows: int = 20
) -> st.SearchStrategy[pd.DataFrame]:
    """Frames of text columns that mix ``labels``, arbitrary text and missing values."""
    elements = st.one_of(st.sampled_from(list(labels)), st.text(max_size=4), st.none())
    strategy: st.SearchStrategy[pd.DataFrame] = data_frames(
        columns=[column(name, elements=elements, dtype=object) for name in columns],
        index=range_indexes(min_size=1, max_size=max_rows),
    )
    return strategy
