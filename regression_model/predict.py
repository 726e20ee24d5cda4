"""Score houses: raw records in, one prediction or error per row out."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd

from regression_model import __version__
from regression_model.array_types import BoolArray, FloatArray
from regression_model.config.core import TRAINED_MODEL_DIR, get_config
from regression_model.processing.data_manager import artifact_name, load_metadata, load_pipeline
from regression_model.processing.domain import TrainingDomain, ValueRange
from regression_model.processing.intervals import (
    IntervalCalibration,
    calibrated_level,
    interval_ends,
)
from regression_model.processing.scoring import (
    CHUNK_ROWS,
    PipelineScorer,
    State,
    chunk_bounds,
    compile_pipeline,
)
from regression_model.processing.validation import (
    ValidatedRecords,
    to_frame,
    validate_records,
)
from regression_model.results import (
    ErrorKind,
    Explanation,
    PredictionResult,
    RowError,
    RowWarning,
    WarningKind,
)

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

_Row = TypeVar("_Row", RowError, RowWarning)

InputData = pd.DataFrame | Mapping[str, object] | Sequence[Mapping[str, object]]


# Overrides the thread count a batch is scored with (see ``scoring_threads``).
THREADS_VARIABLE = "REGRESSION_MODEL_THREADS"


def scoring_threads(threads: int | None = None) -> int:
    """How many threads score a large batch: ``threads``, else the environment's setting.

    Without either, every core this process may run on.

    Raises
    ------
    ValueError
        If the count, given or from ``REGRESSION_MODEL_THREADS``, is not a whole number of
        at least 1.
    """
    if threads is None:
        setting = os.environ.get(THREADS_VARIABLE)
        if setting is None:
            return (
                len(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity")
                else (os.cpu_count() or 1)
            )
        try:
            threads = int(setting)
        except ValueError:
            threads = 0
        source = f"{THREADS_VARIABLE}={setting!r}"
    else:
        source = f"threads={threads!r}"
    return _at_least_one(threads, f"{source}: the thread count")


def _at_least_one(value: object, what: str) -> int:
    """``value`` if it is a whole number of at least 1 (not a bool); else a one-line error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number of at least 1")
    return value


@dataclass(frozen=True)
class _TrainedModel:
    """The trained pipeline, its compiled form for scoring, and the domain it was trained on."""

    pipeline: Pipeline
    scorer: PipelineScorer
    domain: TrainingDomain
    intervals: IntervalCalibration | None


_LOADING = threading.Lock()


def _trained_model() -> _TrainedModel:
    """The trained model, loaded and compiled once, on the first prediction.

    The lock makes threads that ask at once wait for the one load, instead of each loading
    and compiling its own copy.
    """
    with _LOADING:
        return _load_trained_model()


@functools.cache
def _load_trained_model() -> _TrainedModel:
    pipeline_name = get_config().app.pipeline_name
    pipeline = load_pipeline(pipeline_name=pipeline_name)
    metadata = load_metadata(
        model_path=TRAINED_MODEL_DIR / artifact_name(pipeline_name=pipeline_name)
    )
    # The scorer predicts what the pipeline predicts (tests/test_scoring.py holds it to a
    # relative 1e-9) without the pipeline's per-step DataFrame copies.
    return _TrainedModel(
        pipeline=pipeline,
        scorer=compile_pipeline(pipeline),
        domain=metadata.domain,
        intervals=metadata.intervals,
    )


def make_prediction(
    *,
    input_data: InputData,
    interval: float | None = None,
    threads: int | None = None,
    explain: bool = False,
    explain_top: int | None = None,
) -> PredictionResult:
    """Predict sale prices for raw house records.

    Parameters
    ----------
    input_data : DataFrame, dict or list of dicts
        Houses with the raw column names of the House Prices data (``1stFlrSF`` ...): a
        DataFrame, a list of record dicts, one record dict, or a dict of column lists.
        Extra columns, such as ``Id``, are ignored.
    interval : float, default=None
        A prediction-interval level that training calibrated (``config.yml``'s
        ``intervals.levels``, e.g. 0.9): the result then holds each row's range in
        ``lower`` and ``upper``. ``None`` asks for prices only.
    threads : int, default=None
        How many threads, the calling one among them, score a batch of more than 8,192
        rows (smaller batches use the calling thread only). The batch goes in chunks: with
        no more chunks than threads, each thread validates and prices a chunk; with more,
        the calling thread validates the chunks and computes their features while the
        others price them. ``None`` takes ``REGRESSION_MODEL_THREADS`` if it is set, else
        every core the process may use. Prices do not depend on it, bit for bit.
    explain : bool, default=False
        Also say why each house got its price: the result's ``explanations`` then hold,
        per priced row, each input column's part of the log price and the largest parts
        in words (``regression_model.explain`` says how).
    explain_top : int, default=None
        How many columns each explanation puts in words; ``None`` takes ``config.yml``'s
        ``explain.top_columns``.

    Returns
    -------
    PredictionResult
        One prediction or error set per input row, in input order, and the warnings of
        the rows that lie outside what the model saw in training.

    Raises
    ------
    TypeError
        If ``input_data`` is not a table of records.
    ValueError
        If ``input_data`` repeats one of the model's columns, or its columns cannot be lined
        up into rows.
        If ``interval`` is not a calibrated level; the message lists the calibrated ones.
        If ``threads`` is not a whole number of at least 1.
        If ``explain_top`` is not a whole number of at least 1.
    ModelNotFoundError
        If no model has been trained for this package version.

    Examples
    --------
    >>> result = make_prediction(input_data=houses)  # doctest: +SKIP
    >>> result.predictions[0]  # doctest: +SKIP
    208500.3
    """
    records = to_frame(input_data)
    n_threads = scoring_threads(threads)
    top_columns = _explained_columns(explain_top) if explain else None
    model = _trained_model()
    if interval is not None:
        calibrated_level(model.intervals, interval)  # a caller's mistake: fail before scoring

    def priced(prepared: _Prepared) -> PredictionResult:
        return _priced(prepared, model=model, interval=interval, explain_top=top_columns)

    n_rows = len(records)
    if n_rows <= CHUNK_ROWS:
        return priced(_prepared(records, model=model))
    # Every row is validated and priced on its own, so a large batch goes through in chunks,
    # each getting the prices, errors and warnings it alone would get.
    bounds = chunk_bounds(n_rows)
    chunks = [records.iloc[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]
    if n_threads == 1:
        parts = [priced(_prepared(chunk, model=model)) for chunk in chunks]
    elif len(chunks) <= n_threads:
        # A chunk for each thread (the command line's chunks of 10,000 rows): a pipeline
        # would leave one thread waiting at its start and its end, so each thread prepares
        # and prices a chunk of its own.
        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            parts = list(pool.map(lambda chunk: priced(_prepared(chunk, model=model)), chunks))
    else:
        parts = _pipelined(chunks, model=model, price=priced, n_threads=n_threads)
    return _joined(parts, starts=bounds[:-1])


def _pipelined(
    chunks: Sequence[pd.DataFrame],
    *,
    model: _TrainedModel,
    price: Callable[[_Prepared], PredictionResult],
    n_threads: int,
) -> list[PredictionResult]:
    """Each chunk prepared on the calling thread and priced on ``n_threads - 1`` others.

    Preparing (validation, labels, the feature steps) holds the GIL for much of its time;
    pricing is mostly the trees, which release it. Split so, the two halves overlap: two
    threads that each did both would queue for the GIL whenever both were preparing. When
    the chunks it prepared pile up unpriced, and after the last one, the calling thread
    prices waiting chunks itself: so ``n_threads`` threads work in all, however few the
    chunks, and only a few chunks' model matrices are held at once.
    """
    with ThreadPoolExecutor(max_workers=n_threads - 1) as pool:
        pricing: list[Future[PredictionResult]] = []
        waiting: list[_Prepared | None] = []  # each chunk's input, until it is claimed
        priced_here: dict[int, PredictionResult] = {}
        claimed = 0  # chunks before this one are priced, being priced, or taken here

        def take_waiting(keep: int) -> None:
            """Price here the chunks that wait for a pool thread, but the last ``keep``."""
            nonlocal claimed
            while claimed < len(pricing) - keep:
                # Let go of the input (a pool thread pricing it holds its own): a chunk's
                # model matrix is freed as soon as it is priced.
                unpriced, waiting[claimed] = waiting[claimed], None
                # Not started yet: no pool thread is free for it.
                if unpriced is not None and pricing[claimed].cancel():
                    priced_here[claimed] = price(unpriced)
                claimed += 1

        for chunk in chunks:
            prepared = _prepared(chunk, model=model)
            pricing.append(pool.submit(price, prepared))
            waiting.append(prepared)
            take_waiting(keep=n_threads)
        take_waiting(keep=0)
        return [
            priced_here[position] if position in priced_here else future.result()
            for position, future in enumerate(pricing)
        ]


@dataclass(frozen=True)
class _Prepared:
    """Records validated, and the valid rows made into the estimator's input."""

    validated: ValidatedRecords
    model_input: State | None  # None when no row is valid


def _prepared(records: pd.DataFrame, *, model: _TrainedModel) -> _Prepared:
    validated = validate_records(
        records=records, schema=get_config().model.inputs, domain=model.domain
    )
    is_valid = validated.is_valid
    return _Prepared(
        validated=validated,
        model_input=(
            model.scorer.transform(validated.frame, rows=is_valid) if is_valid.any() else None
        ),
    )


def _priced(
    prepared: _Prepared,
    *,
    model: _TrainedModel,
    interval: float | None,
    explain_top: int | None = None,
) -> PredictionResult:
    """Price prepared records: the result ``make_prediction`` gives for them.

    ``explain_top``: explain each priced row, with this many columns in words; ``None``
    explains nothing.
    """
    validated = prepared.validated
    n_rows = len(validated.is_valid)
    prices = np.full(n_rows, np.nan)
    errors, warnings = validated.errors, validated.warnings
    if prepared.model_input is not None:
        is_valid = validated.is_valid
        prices[is_valid] = model.scorer.estimate(prepared.model_input)
        failed = _unusable_predictions(prices, is_valid)
        if failed:  # sorted by row, as validation's errors are: the sort is stable
            errors = sorted(errors + failed, key=lambda error: error.row)
        at_edge = _prices_at_band_edge(prices, model.domain.price)
        if at_edge:
            warnings = sorted(warnings + at_edge, key=lambda warning: warning.row)
    has_no_price = np.flatnonzero(~np.isfinite(prices)).tolist()
    predictions: list[float | None] = prices.tolist()
    for row in has_no_price:
        predictions[row] = None
    lower, upper = (
        (None, None)
        if interval is None
        else interval_ends(
            model.intervals,
            frame=validated.frame,
            prices=prices,
            level=interval,
            has_no_price=has_no_price,
        )
    )
    return PredictionResult(
        predictions=predictions,
        errors=errors,
        warnings=warnings,
        version=__version__,
        lower=lower,
        upper=upper,
        explanations=(
            None
            if explain_top is None
            else _explanations(model, validated.frame, prices, top_columns=explain_top)
        ),
    )


# --- Why this price (issue 22): the hook into regression_model.explain. ---


def _explained_columns(explain_top: int | None) -> int:
    """How many columns an explanation puts in words; a caller's mistake fails before scoring."""
    if explain_top is None:
        return get_config().explain.top_columns
    return _at_least_one(explain_top, f"explain_top={explain_top!r}:")


def _explanations(
    model: _TrainedModel, frame: pd.DataFrame, prices: FloatArray, *, top_columns: int
) -> list[Explanation | None]:
    # Imported here, not at the top: a prediction without explain loads none of it.
    from regression_model.explain import explain_rows

    return explain_rows(
        pipeline=model.pipeline,
        scorer=model.scorer,
        frame=frame,
        prices=prices,
        top_columns=top_columns,
    )


def _joined(parts: Sequence[PredictionResult], *, starts: Sequence[int]) -> PredictionResult:
    """The result of the rows of ``parts`` end to end, each part's rows from its start."""

    def moved(found: Sequence[_Row], start: int) -> list[_Row]:
        return [item.model_copy(update={"row": item.row + start}) for item in found]

    def ends(side: str) -> list[float | None] | None:
        if parts[0].lower is None:
            return None
        return [value for part in parts for value in getattr(part, side)]

    return PredictionResult(
        predictions=[price for part in parts for price in part.predictions],
        errors=[e for part, start in zip(parts, starts) for e in moved(part.errors, start)],
        warnings=[w for part, start in zip(parts, starts) for w in moved(part.warnings, start)],
        version=__version__,
        lower=ends("lower"),
        upper=ends("upper"),
        explanations=(
            None
            if parts[0].explanations is None
            else [found for part in parts for found in part.explanations or []]
        ),
    )


def _prices_at_band_edge(prices: FloatArray, band: ValueRange) -> list[RowWarning]:
    """Warnings for prices the band held: the model would have gone beyond training prices."""
    edges = (
        ("lowest", band.minimum, prices <= band.minimum),
        ("highest", band.maximum, prices >= band.maximum),
    )
    return [
        RowWarning(
            row=row,
            column=None,
            kind=WarningKind.PRICE_AT_BAND_EDGE,
            message=f"the price is held at the {edge} training price, ${limit:,.0f}",
        )
        for edge, limit, is_at_edge in edges
        for row in np.flatnonzero(is_at_edge).tolist()
    ]


def _unusable_predictions(prices: FloatArray, is_valid: BoolArray) -> list[RowError]:
    """Errors for valid rows whose price came out non-finite or not positive.

    Validation should make this impossible; it is here so a pipeline bug surfaces as an
    explicit row error instead of a NaN price.
    """
    with np.errstate(invalid="ignore"):
        is_unusable = is_valid & ~(np.isfinite(prices) & (prices > 0))
    prices[is_unusable] = np.nan
    return [
        RowError(
            row=row,
            column=None,
            kind=ErrorKind.PREDICTION_FAILED,
            message="the model produced no finite, positive price for this row",
        )
        for row in np.flatnonzero(is_unusable).tolist()
    ]
