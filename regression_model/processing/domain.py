"""The model's domain: the values and prices it saw in training, read from the fitted pipeline.

The pipeline enforces the domain (its ``RangeCapper`` and ``PriceBandRegressor`` steps learn
and apply it); this module describes it, for the model's metadata, ``regression-model info``
and the warnings that tell a user their row lies outside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from pydantic import BaseModel, ConfigDict

from regression_model.config.core import InputSchema

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# The pipeline steps (pipeline.py) whose fitted state is the model's domain.
INPUT_CAPPER = "cap_inputs_to_training_range"
PRICE_BAND = "hold_price_to_training_band"


class ValueRange(BaseModel):
    """The lowest and highest value of a column, or of the price, that the model accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimum: float
    maximum: float

    def contains(self, value: float) -> bool:
        return self.minimum <= value <= self.maximum


class TrainingDomain(BaseModel):
    """What the model saw in training.

    Attributes
    ----------
    numeric : dict of str to ValueRange
        For each numeric input, the range it is held to (the training range, widened by
        the configured margin).
    labels : dict of str to tuple of str
        For each text input, the labels seen in training, sorted.
    price : ValueRange
        The band every predicted price lies in.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric: dict[str, ValueRange]
    labels: dict[str, tuple[str, ...]]
    price: ValueRange


def learn_domain(
    *, pipeline: Pipeline, features: pd.DataFrame, schema: InputSchema
) -> TrainingDomain:
    """Describe the domain of a pipeline fitted on the validated ``features``.

    The numeric ranges and the price band are read from the fitted steps that enforce them,
    so the description cannot drift from what the model does; the labels are the distinct
    labels of each text column of ``features``.
    """
    capper = pipeline.named_steps[INPUT_CAPPER]
    band = pipeline.named_steps[PRICE_BAND]
    return TrainingDomain(
        numeric={
            name: ValueRange(minimum=capper.lower_[name], maximum=capper.upper_[name])
            for name in capper.variables_
        },
        labels={
            name: tuple(sorted(str(label) for label in features[name].dropna().unique()))
            for name in schema.categorical
        },
        price=ValueRange(minimum=band.lower_, maximum=band.upper_),
    )
