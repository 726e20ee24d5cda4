"""Feature transformers that feature-engine does not provide.

Each follows scikit-learn's estimator contract on pandas DataFrames: ``__init__`` only
stores its arguments, ``fit`` checks them and learns, ``transform`` copies before it writes.

Each transformer's arithmetic is a plain function over arrays in ``processing/arithmetic.py``:
``transform`` calls it on the frame's columns and the compiled scorer
(``processing/scoring.py``) on its own, so a change to a rule is made once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from regression_model.array_types import FloatArray
from regression_model.processing.arithmetic import (
    clip_to_range,
    map_labels,
    presence_flags,
    weighted_sum,
    years_before,
)


def _float_column(frame: pd.DataFrame, name: str) -> FloatArray:
    """A column as float64, NaN where missing (nullable dtypes included)."""
    column: FloatArray = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return column


def _check_columns_present(X: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [col for col in columns if col not in X.columns]
    if missing:
        raise ValueError(f"Columns not found in X: {missing}")


class _DataFrameTransformer(TransformerMixin, BaseEstimator):
    """Shared fit/transform plumbing for column-wise DataFrame transformers.

    Mixins sit left of ``BaseEstimator`` so that scikit-learn resolves tags and
    ``set_output`` through them first.
    """

    def _fit_frame(self, X: Any) -> pd.DataFrame:
        return self._validated_frame(X, reset=True)

    def _transform_frame(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self)
        # reset=False: only check columns against fit, never overwrite them.
        return self._validated_frame(X, reset=False).copy()

    def _validated_frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            # skip_check_array keeps the frame's dtypes; the call records feature names.
            validate_data(self, X, skip_check_array=True, reset=reset)
            return X
        # Array input exists only so that scikit-learn's estimator checks can run: it gets
        # the standard checks (2D, dense, numeric, not empty), then columns x0..xn.
        array = validate_data(self, X, ensure_all_finite="allow-nan", reset=reset)
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        # An array has no column names: fit saw the x0..xn it was given.
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # Output is a DataFrame of the transformed values, not the input's dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags


class TemporalVariableTransformer(_DataFrameTransformer):
    """Replace year columns with the years elapsed until a reference year.

    Parameters
    ----------
    variables : tuple of str, default=("YearRemodAdd",)
        Year columns to replace with ``reference - year``.
    reference_variable : str, default="YrSold"
        The column holding the reference year.

    Attributes
    ----------
    variables_ : list of str
        The year columns transformed.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"YearRemodAdd": [2000, 1990], "YrSold": [2008, 2010]})
    >>> TemporalVariableTransformer().fit_transform(X)["YearRemodAdd"].tolist()
    [8, 20]
    """

    def __init__(
        self,
        variables: Sequence[str] = ("YearRemodAdd",),
        reference_variable: str = "YrSold",
    ) -> None:
        self.variables = variables
        self.reference_variable = reference_variable

    def fit(self, X: Any, y: Any = None) -> TemporalVariableTransformer:
        frame = self._fit_frame(X)
        _check_columns_present(frame, [*self.variables, self.reference_variable])
        self.variables_ = list(self.variables)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        frame = self._transform_frame(X)
        reference = frame[self.reference_variable]
        for variable in self.variables_:
            frame[variable] = years_before(reference=reference, years=frame[variable])
        return frame


class Mapper(_DataFrameTransformer):
    """Map text labels to numbers with a fixed mapping.

    A label that is not in the mapping, or a missing value, becomes NaN, so that a later
    imputation step decides its value rather than this one guessing.

    Parameters
    ----------
    variables : tuple of str, default=()
        Columns whose labels are mapped.
    mappings : mapping of str to number, default=None
        The label-to-number mapping applied to every column in ``variables``.

    Attributes
    ----------
    variables_ : list of str
        The columns mapped.
    mappings_ : dict of str to float
        The mapping applied.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"ExterQual": ["Gd", "TA", "Unheard"]})
    >>> Mapper(variables=("ExterQual",), mappings={"TA": 3, "Gd": 4}).fit_transform(X)[
    ...     "ExterQual"
    ... ].tolist()
    [4.0, 3.0, nan]
    """

    def __init__(
        self,
        variables: Sequence[str] = (),
        mappings: Mapping[str, float] | None = None,
    ) -> None:
        self.variables = variables
        self.mappings = mappings

    def fit(self, X: Any, y: Any = None) -> Mapper:
        frame = self._fit_frame(X)
        if not self.mappings:
            raise ValueError("mappings must map at least one label to a number.")
        _check_columns_present(frame, self.variables)
        self.variables_ = list(self.variables)
        self.mappings_ = {str(label): float(value) for label, value in self.mappings.items()}
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        frame = self._transform_frame(X)
        for variable in self.variables_:
            codes, labels = pd.factorize(frame[variable])
            frame[variable] = map_labels(
                codes=codes, labels=labels.tolist(), mapping=self.mappings_
            )
        return frame


class _NewColumnsTransformer(_DataFrameTransformer):
    """A transformer that appends new columns after the ones it was given."""

    new_features_: list[str]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = super().get_feature_names_out(input_features)
        return np.asarray([*names, *self.new_features_], dtype=object)

    def _check_new_names(self, frame: pd.DataFrame, new_features: Sequence[str]) -> None:
        clashing = [name for name in new_features if name in frame.columns]
        if clashing:
            raise ValueError(f"New feature names already are columns of X: {clashing}")


class WeightedSums(_NewColumnsTransformer):
    """Add columns that are weighted sums of existing numeric columns.

    A missing value in any summed column makes the sum missing: impute before summing.

    Parameters
    ----------
    sums : mapping of str to mapping of str to float, default=None
        For each new column, the columns it sums and the weight of each, e.g.
        ``{"TotalBath": {"FullBath": 1.0, "HalfBath": 0.5}}``.

    Attributes
    ----------
    sums_ : dict of str to dict of str to float
        The sums added.
    new_features_ : list of str
        The names of the added columns, in order.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"FullBath": [2, 1], "HalfBath": [1, 0]})
    >>> sums = {"TotalBath": {"FullBath": 1.0, "HalfBath": 0.5}}
    >>> WeightedSums(sums=sums).fit_transform(X)["TotalBath"].tolist()
    [2.5, 1.0]
    """

    def __init__(self, sums: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.sums = sums

    def fit(self, X: Any, y: Any = None) -> WeightedSums:
        frame = self._fit_frame(X)
        if not self.sums or not all(self.sums.values()):
            raise ValueError("sums must name at least one new column and the columns it sums.")
        _check_columns_present(frame, [col for weights in self.sums.values() for col in weights])
        self._check_new_names(frame, list(self.sums))
        self.sums_ = {name: dict(weights) for name, weights in self.sums.items()}
        self.new_features_ = list(self.sums_)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        frame = self._transform_frame(X)
        for name, weights in self.sums_.items():
            terms = [(_float_column(frame, column), weight) for column, weight in weights.items()]
            frame[name] = weighted_sum(terms=terms)
        return frame


class PresenceFlags(_NewColumnsTransformer):
    """Add 0/1 columns that flag where a numeric column is above zero.

    A house with no garage has a garage area of 0; on a log scale that is hard for a linear
    model to tell apart from a small garage, so the flag says it outright. A missing value
    stays missing.

    Parameters
    ----------
    flags : mapping of str to str, default=None
        For each new column, the column whose positive values it flags, e.g.
        ``{"HasGarage": "GarageArea"}``.

    Attributes
    ----------
    flags_ : dict of str to str
        The flags added.
    new_features_ : list of str
        The names of the added columns, in order.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"GarageArea": [0, 480]})
    >>> PresenceFlags(flags={"HasGarage": "GarageArea"}).fit_transform(X)["HasGarage"].tolist()
    [0.0, 1.0]
    """

    def __init__(self, flags: Mapping[str, str] | None = None) -> None:
        self.flags = flags

    def fit(self, X: Any, y: Any = None) -> PresenceFlags:
        frame = self._fit_frame(X)
        if not self.flags:
            raise ValueError("flags must name at least one new column and the column it flags.")
        _check_columns_present(frame, list(self.flags.values()))
        self._check_new_names(frame, list(self.flags))
        self.flags_ = dict(self.flags)
        self.new_features_ = list(self.flags_)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        frame = self._transform_frame(X)
        for name, column in self.flags_.items():
            frame[name] = presence_flags(values=_float_column(frame, column))
        return frame


class RangeCapper(_DataFrameTransformer):
    """Hold numeric columns to the range seen in ``fit``, widened by a margin.

    A linear model extrapolates without limit: an area a hundred times the largest one seen
    in training would get a price a hundred times too confident. Capping each column at the
    training range keeps every prediction inside what the model has evidence for.

    Parameters
    ----------
    variables : tuple of str, default=None
        Columns to cap; ``None`` caps every numeric column (booleans aside).
    margin : float, default=0.0
        Fraction of each column's training range (maximum minus minimum) added below the
        minimum and above the maximum.

    Attributes
    ----------
    variables_ : list of str
        The columns capped.
    lower_ : dict of str to float
        The lowest value each column may take.
    upper_ : dict of str to float
        The highest value each column may take.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``.

    Examples
    --------
    >>> import pandas as pd
    >>> capper = RangeCapper().fit(pd.DataFrame({"GrLivArea": [800, 3000]}))
    >>> capper.transform(pd.DataFrame({"GrLivArea": [250000, 500]}))["GrLivArea"].tolist()
    [3000, 800]
    """

    def __init__(self, variables: Sequence[str] | None = None, margin: float = 0.0) -> None:
        self.variables = variables
        self.margin = margin

    def fit(self, X: Any, y: Any = None) -> RangeCapper:
        frame = self._fit_frame(X)
        if not self.margin >= 0:
            raise ValueError(f"margin must be zero or positive, got {self.margin!r}.")
        variables = list(
            frame.select_dtypes("number").columns if self.variables is None else self.variables
        )
        _check_columns_present(frame, variables)
        values = frame[variables].to_numpy(dtype=np.float64)
        if np.isnan(values).all(axis=0).any():
            raise ValueError("Every column to cap needs at least one value to learn a range.")
        lowest, highest = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        widening = self.margin * (highest - lowest)
        self.variables_ = variables
        self.lower_ = dict(zip(variables, (lowest - widening).tolist()))
        self.upper_ = dict(zip(variables, (highest + widening).tolist()))
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        frame = self._transform_frame(X)
        for variable in self.variables_:
            frame[variable] = clip_to_range(
                frame[variable], self.lower_[variable], self.upper_[variable]
            )
        return frame
