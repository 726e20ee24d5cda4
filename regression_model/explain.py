"""Why this price: how much each column a user sent adds to a house's log price.

``make_prediction(..., explain=True)`` calls ``explain_rows``; nothing else imports this
module, so a prediction without ``explain`` loads none of it and does none of its work.

How a log price is split
------------------------
The model prices a house in log dollars: a blend of members (a ``VotingRegressor``'s members
with their ``weights``, or one estimator) on the model matrix ``z`` (the ~215 engineered,
scaled columns the feature steps make), then the price band. Each member's log price is
split into a base value, the same for every house, and one contribution per column of ``z``:

- A linear member (``coef_`` and ``intercept_``: Lasso, ElasticNet, Ridge ...):
  ``coef_j * (z_j - mean_j)``, with base ``intercept + coef . mean``, where ``mean`` is the
  training mean of the model matrix, learned in fit (``PriceBandRegressor.feature_mean_``).
  These are the linear model's exact (interventional) SHAP values.
- XGBoost trees (``XGBoostTreesRegressor``, also inside a ``ResidualTrimmedRegressor``,
  whose second fit is the one that predicts): XGBoost's own TreeSHAP
  (``Booster.predict(..., pred_contribs=True)``, exact path-dependent TreeSHAP), with base
  the trees' expected value over the training rows. XGBoost computes these in float32, and
  adds its trees in float32: the gap between the row's prediction and the sum of its
  contributions (measured up to 3e-5 in log price, 0.003 % of the price) is spread over the
  row's contributions in proportion to their size, so that they add up to the prediction.

The blend's base and contributions are its members', weighted as the blend weights their
predictions. Any other kind of member raises ``ModelNotExplainableError``.

Back to the columns a user sent
-------------------------------
Each column of ``z`` is traced back through the fitted feature steps to the input columns it
was made from, and its contribution is shared among them:

- A step that keeps its column names keeps their source: imputing, capping, scoring labels
  (``ExterQual`` "Gd" -> 4), logs (``log(1 + LotArea)`` is LotArea's), grouping rare labels,
  scaling. Years before the sale (``YrSold - YearBuilt``) replace the year column, so the
  age is ``YearBuilt``'s (the remodel's age ``YearRemodAdd``'s); ``YrSold`` keeps the
  contribution of its own column.
- One-hot columns (``Neighborhood_NridgHt``) go back to their label column; a presence flag
  (``HasGarage``) to the column it flags (``GarageArea``).
- A weighted sum (``TotalSF = TotalBsmtSF + 1stFlrSF + 2ndFlrSF``, ``TotalBath``,
  ``TotalPorchSF``) is shared in proportion to each part's weighted value in that house: a
  house with no basement gives ``TotalBsmtSF`` none of ``TotalSF``'s contribution. Parts
  that are all zero share equally.
- A product (``QualSF = OverallQual x TotalSF``, ``OverallGrade``) is shared equally among
  its factors (the product's Shapley split from a zero baseline); a factor made from
  several columns passes its share on by its own rule, so ``TotalSF``'s half of ``QualSF``
  is shared among the three areas.

Every rule hands on all of a contribution, so with the base they still add up to the row's
log price. A row whose value was held to the training range (by the input capper or the
capper of the engineered columns) lists the input columns behind it in ``held``, and their
words say "held to the training range".

When the band holds the price
-----------------------------
If the model's price lies beyond the training prices, the band holds it at the edge: the
price is then not ``exp`` of the model's log price. The explanation keeps the model's
contributions and adds ``price_band``, ``log(price) - log(model's price)`` (zero for every
other row), so that ``base + sum(contributions) + price_band`` is the log of the price
returned.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from regression_model.array_types import BoolArray, FloatArray
from regression_model.errors import ModelNotExplainableError
from regression_model.processing.scoring import CHUNK_ROWS, PipelineScorer, State, Table
from regression_model.processing.validation import column_arrays
from regression_model.results import Explanation

# A column of the model matrix's share in an input column: the same for every row, or per row.
Share = float | FloatArray
# For every column of a table, the input columns it was made from and each one's share.
Lineage = dict[str, dict[str, Share]]


class _Member(Protocol):
    @property
    def weight(self) -> float:
        """The member's weight in the blend."""

    def explain(self, matrix: FloatArray) -> tuple[float, FloatArray]:
        """The base value and the rows-by-columns contributions of the model matrix."""


@dataclass(frozen=True)
class _LinearMember:
    weight: float
    coef: FloatArray
    mean: FloatArray
    base: float

    def explain(self, matrix: FloatArray) -> tuple[float, FloatArray]:
        contributions: FloatArray = self.coef * (matrix - self.mean)
        return self.base, contributions


@dataclass(frozen=True)
class _TreesMember:
    weight: float
    trees: Any  # XGBoostTreesRegressor

    def explain(self, matrix: FloatArray) -> tuple[float, FloatArray]:
        features = np.ascontiguousarray(matrix, dtype=np.float32)
        try:
            values = np.asarray(self.trees.shap_values(features), dtype=np.float64)
        except ImportError as error:  # prices need no XGBoost (a numpy walk), TreeSHAP does
            raise ModelNotExplainableError(str(error)) from error
        contributions, base = values[:, :-1], float(values[0, -1])
        # float32 rounding (see the module's docstring): spread it by size, row by row.
        gap = self.trees.score(features) - base - contributions.sum(axis=1)
        size = np.abs(contributions)
        total = size.sum(axis=1, keepdims=True)
        portion = np.divide(size, total, out=np.full_like(size, 1 / size.shape[1]), where=total > 0)
        return base, contributions + gap[:, np.newaxis] * portion


@dataclass(frozen=True)
class Explainer:
    """A fitted pipeline, ready to split its log prices by input column.

    Build it with ``build_explainer``.

    Attributes
    ----------
    scorer : PipelineScorer
        The compiled pipeline, whose feature steps the explanation runs and follows.
    columns : tuple of str
        The input columns explained, in the order of the input frame.
    members : tuple
        The blend's members, each with its weight, as they are explained.
    base : float
        The log price every explanation starts from: the blend of the members' bases.
    lower, upper : float
        The price band: a price at either edge gets a ``price_band`` term.
    """

    scorer: PipelineScorer
    columns: tuple[str, ...]
    members: tuple[_Member, ...]
    base: float
    lower: float
    upper: float

    def contributions(self, frame: pd.DataFrame, rows: BoolArray) -> tuple[FloatArray, BoolArray]:
        """Each selected row's contribution per input column, and which inputs were held.

        Parameters
        ----------
        frame : DataFrame
            Validated records, as ``validate_records`` returns them.
        rows : ndarray of bool
            The rows to explain: rows the model priced.

        Returns
        -------
        contributions : ndarray of float64
            Selected rows by ``columns``: with ``base`` they add up to the model's log price.
        held : ndarray of bool
            Selected rows by ``columns``: the inputs behind a value held to the training range.
        """
        table = Table.from_arrays(frame.columns.tolist(), column_arrays(frame), len(frame))
        positions = np.flatnonzero(rows)
        # In chunks, as the scorer prices: the widest arrays (the model matrix, the trees'
        # values) then take memory for one chunk at a time.
        parts = [
            self._explain_table(table.take(positions[start:stop]))
            for start, stop in _chunks(len(positions))
        ]
        if not parts:
            empty = np.zeros((0, len(self.columns)))
            return empty, empty.astype(bool)
        return (
            np.concatenate([contributions for contributions, _ in parts]),
            np.concatenate([held for _, held in parts]),
        )

    def _explain_table(self, table: Table) -> tuple[FloatArray, BoolArray]:
        matrix, names, lineage, held = self._trace(table)
        total_weight = sum(member.weight for member in self.members)
        engineered = np.zeros_like(matrix)
        for member in self.members:
            _, contributions = member.explain(matrix)
            engineered += (member.weight / total_weight) * contributions
        by_input = np.zeros((table.n_rows, len(self.columns)))
        place = {column: position for position, column in enumerate(self.columns)}
        for position, name in enumerate(names):
            for source, share in lineage[name].items():
                by_input[:, place[source]] += engineered[:, position] * share
        return by_input, held

    def _trace(self, table: Table) -> tuple[FloatArray, tuple[str, ...], Lineage, BoolArray]:
        """Run the feature steps, following every column back to the input columns."""
        place = {column: position for position, column in enumerate(self.columns)}
        lineage: Lineage = {name: {name: 1.0} for name in table.names}
        held = np.zeros((table.n_rows, len(self.columns)), dtype=bool)
        state: State = table
        names = table.names
        for step in self.scorer.steps:
            before, before_names = state, names
            state = step(state)
            names = state.names if isinstance(state, Table) else before_names
            if not isinstance(state, Table) and state.shape[1] != len(names):
                raise _untraceable(step.name, step.fitted)
            _follow(step.name, step.fitted, before, before_names, state, names, lineage)
            for name, changed in _held_values(step.fitted, before, state).items():
                for source, share in lineage[name].items():
                    # A source with no share in this row's value (no basement in TotalSF)
                    # was not held.
                    held[:, place[source]] |= changed & (np.asarray(share) > 0)
        matrix = state.to_matrix(names) if isinstance(state, Table) else state
        return matrix, names, lineage, held


def _chunks(n_rows: int) -> list[tuple[int, int]]:
    return [(start, min(start + CHUNK_ROWS, n_rows)) for start in range(0, n_rows, CHUNK_ROWS)]


def _untraceable(step_name: str, fitted: Any) -> ModelNotExplainableError:
    return ModelNotExplainableError(
        f"step {step_name!r} ({type(fitted).__name__}) makes columns that explanations cannot "
        "trace back to the input columns"
    )


def _follow(
    step_name: str,
    fitted: Any,
    before: State,
    before_names: tuple[str, ...],
    after: State,
    after_names: tuple[str, ...],
    lineage: Lineage,
) -> None:
    """Give the columns a step made their sources, by the rules in the module's docstring."""
    from feature_engine.creation import MathFeatures
    from feature_engine.wrappers import SklearnTransformerWrapper
    from sklearn.preprocessing import OneHotEncoder

    from regression_model.processing.features import PresenceFlags, WeightedSums

    if before_names == after_names:
        return
    if isinstance(fitted, WeightedSums) and isinstance(before, Table):
        for name, weights in fitted.sums_.items():
            sizes = [
                np.abs(weight * before.numeric(part).astype(np.float64))
                for part, weight in weights.items()
            ]
            total = np.sum(sizes, axis=0)
            is_zero = total == 0
            shares = [
                np.where(is_zero, 1 / len(sizes), size / np.where(is_zero, 1, total))
                for size in sizes
            ]
            lineage[name] = _combined(
                [(lineage[part], share) for part, share in zip(weights, shares)]
            )
    elif isinstance(fitted, MathFeatures):
        factors = [str(factor) for factor in fitted.variables_]
        for name in fitted.new_variables_names or []:
            lineage[name] = _combined([(lineage[factor], 1 / len(factors)) for factor in factors])
    elif isinstance(fitted, PresenceFlags):
        for name, column in fitted.flags_.items():
            lineage[name] = dict(lineage[column])
    elif isinstance(fitted, SklearnTransformerWrapper) and isinstance(
        fitted.transformer_, OneHotEncoder
    ):
        encoder, variables = fitted.transformer_, [str(name) for name in fitted.variables_]
        names = [str(name) for name in encoder.get_feature_names_out(variables)]
        sources = [
            variable
            for variable, categories in zip(variables, encoder.categories_)
            for _ in categories
        ]
        if len(names) != len(sources):
            raise _untraceable(step_name, fitted)
        for name, variable in zip(names, sources):
            lineage[name] = dict(lineage[variable])
    unknown = [name for name in after_names if name not in lineage]
    if unknown:
        raise _untraceable(step_name, fitted)


def _combined(parts: Sequence[tuple[Mapping[str, Share], Share]]) -> dict[str, Share]:
    """The sources of a column made from ``parts``, each part's sources scaled by its share."""
    sources: dict[str, Share] = {}
    for part_sources, share in parts:
        for source, part_share in part_sources.items():
            sources[source] = sources.get(source, 0.0) + part_share * share
    return sources


def _held_values(fitted: Any, before: State, after: State) -> dict[str, BoolArray]:
    """For a range capper, the rows whose value it changed, by column."""
    from regression_model.processing.features import RangeCapper

    if not (isinstance(fitted, RangeCapper) and isinstance(before, Table)):
        return {}
    if not isinstance(after, Table):
        return {}
    changed: dict[str, BoolArray] = {}
    for name in fitted.variables_:
        old = before.numeric(name).astype(np.float64)
        new = after.numeric(name).astype(np.float64)
        is_changed = (old != new) & ~(np.isnan(old) & np.isnan(new))
        if is_changed.any():
            changed[name] = is_changed
    return changed


def build_explainer(*, pipeline: Any, scorer: PipelineScorer) -> Explainer:
    """An ``Explainer`` for a pipeline that ``regression_model.pipeline`` builds, fitted.

    Raises
    ------
    ModelNotExplainableError
        If the pipeline's regressor does not learn log(price) through a
        ``TransformedTargetRegressor(func=np.log)`` inside a ``PriceBandRegressor``, if a
        member is neither linear nor ``XGBoostTreesRegressor``, or if the model was saved
        before training learned what explanations need.
    """
    from sklearn.compose import TransformedTargetRegressor

    from regression_model.processing.price_band import PriceBandRegressor

    band = pipeline.steps[-1][1]
    if not isinstance(band, PriceBandRegressor):
        raise ModelNotExplainableError(
            f"explanations need the pipeline to end in a PriceBandRegressor, not a "
            f"{type(band).__name__}"
        )
    if not hasattr(band, "feature_mean_"):
        raise ModelNotExplainableError(
            "the model was trained before explanations existed: retrain it "
            "(python -m regression_model.train_pipeline --force)"
        )
    target = band.regressor_
    if not (
        isinstance(target, TransformedTargetRegressor)
        and target.transformer is None
        and target.func is np.log
    ):
        raise ModelNotExplainableError(
            "explanations need the regressor to learn log(price): a "
            "TransformedTargetRegressor with func=np.log"
        )
    mean = np.asarray(band.feature_mean_, dtype=np.float64)
    members = tuple(
        _member(estimator, weight=weight, mean=mean)
        for estimator, weight in _weighted_members(target.regressor_)
    )
    total_weight = sum(member.weight for member in members)
    base = sum(member.weight * _base(member) for member in members) / total_weight
    columns = tuple(str(name) for name in pipeline.steps[0][1].feature_names_in_)
    return Explainer(
        scorer=scorer,
        columns=columns,
        members=members,
        base=float(base),
        lower=float(band.lower_),
        upper=float(band.upper_),
    )


def _weighted_members(estimator: Any) -> list[tuple[Any, float]]:
    """A blend's fitted members with their weights (1 each without weights), or the one."""
    from sklearn.ensemble import VotingRegressor

    if not isinstance(estimator, VotingRegressor):
        return [(estimator, 1.0)]
    kept = [
        1.0 if estimator.weights is None else float(estimator.weights[position])
        for position, (_, member) in enumerate(estimator.estimators)
        if member != "drop"
    ]
    return list(zip(estimator.estimators_, kept))


def _member(estimator: Any, *, weight: float, mean: FloatArray) -> _Member:
    from regression_model.processing.boosted_trees import XGBoostTreesRegressor
    from regression_model.processing.residual_trim import predicting_estimator

    # A residual-trimmed member predicts with its second fit: that fit is the one explained.
    estimator = predicting_estimator(estimator)

    if isinstance(estimator, XGBoostTreesRegressor):
        return _TreesMember(weight=weight, trees=estimator)
    if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_"):
        coef = np.asarray(estimator.coef_, dtype=np.float64)
        intercept = np.asarray(estimator.intercept_, dtype=np.float64)
        if coef.ndim == 1 and intercept.ndim == 0:  # one target: a line per house
            return _LinearMember(
                weight=weight, coef=coef, mean=mean, base=float(intercept) + float(coef @ mean)
            )
    raise ModelNotExplainableError(
        f"a {type(estimator).__name__} cannot be explained: explanations cover linear models "
        "(coef_, intercept_) and XGBoostTreesRegressor"
    )


def _base(member: _Member) -> float:
    if isinstance(member, _LinearMember):
        return member.base
    # The trees' base is their expected value: any row gives it (a row of zeros will do).
    assert isinstance(member, _TreesMember)
    base, _ = member.explain(np.zeros((1, int(member.trees.n_features_in_))))
    return base


_BUILDING = threading.Lock()
# One explainer per loaded pipeline, built on the first explained prediction; the pipeline is
# kept with it so that its id cannot be reused by another object while the entry exists.
_EXPLAINERS: dict[int, tuple[Any, Explainer]] = {}


def explainer_for(*, pipeline: Any, scorer: PipelineScorer) -> Explainer:
    """The explainer of ``pipeline``, built once."""
    with _BUILDING:
        entry = _EXPLAINERS.get(id(pipeline))
        if entry is None:
            entry = (pipeline, build_explainer(pipeline=pipeline, scorer=scorer))
            _EXPLAINERS[id(pipeline)] = entry
        return entry[1]


def explain_rows(
    *,
    pipeline: Any,
    scorer: PipelineScorer,
    frame: pd.DataFrame,
    prices: FloatArray,
    top_columns: int,
) -> list[Explanation | None]:
    """Explain every priced row of a validated frame.

    Parameters
    ----------
    pipeline, scorer : Pipeline, PipelineScorer
        The fitted pipeline and its compiled scorer, which priced the rows.
    frame : DataFrame
        The validated records, as ``validate_records`` returns them.
    prices : ndarray of float64
        The price of each row in dollars, NaN where the row has none.
    top_columns : int
        How many of each row's columns, largest contribution first, are put in words.

    Returns
    -------
    list of Explanation or None
        One entry per row of ``frame``: ``None`` where the row has no price.
    """
    explainer = explainer_for(pipeline=pipeline, scorer=scorer)
    rows = np.isfinite(prices)
    contributions, held = explainer.contributions(frame, rows)
    log_prices = np.log(prices[rows])
    model_log_prices = explainer.base + contributions.sum(axis=1)
    at_edge = (prices[rows] <= explainer.lower) | (prices[rows] >= explainer.upper)
    price_band = np.where(at_edge, log_prices - model_log_prices, 0.0)
    columns = list(explainer.columns)
    values = frame.loc[rows, columns]
    explanations: list[Explanation | None] = [None] * len(frame)
    for position, row in enumerate(np.flatnonzero(rows).tolist()):
        row_contributions = contributions[position]
        row_held = held[position]
        order = np.argsort(-np.abs(row_contributions), kind="stable")[:top_columns]
        explanations[row] = Explanation(
            base=explainer.base,
            contributions=dict(zip(columns, row_contributions.tolist())),
            price_band=float(price_band[position]),
            top=[
                _in_words(
                    columns[column],
                    values.iat[position, column],
                    float(row_contributions[column]),
                    is_held=bool(row_held[column]),
                )
                for column in order.tolist()
            ],
            held=[column for column, is_held in zip(columns, row_held.tolist()) if is_held],
        )
    return explanations


def _in_words(column: str, value: Any, contribution: float, *, is_held: bool) -> str:
    """``"OverallQual 9: +18%"``: the column, its value, and what it does to the price."""
    change = 100 * float(np.expm1(contribution))
    percent = f"{change:+.0f}%" if abs(change) >= 1 else f"{change:+.1f}%"
    held_note = " (held to the training range)" if is_held else ""
    return f"{column} {_value_text(value)}{held_note}: {percent}"


def _value_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{float(value):g}"
    return str(value)
