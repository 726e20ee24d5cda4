"""Feature transformers that feature-engine does not provide.

Both follow scikit-learn's estimator contract on pandas DataFrames: ``__init__`` only
stores its arguments, ``fit`` checks them and learns, ``transform`` copies before it writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


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
            frame[variable] = reference - frame[variable]
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
            frame[variable] = frame[variable].map(self.mappings_).astype("float64")
        return frame
