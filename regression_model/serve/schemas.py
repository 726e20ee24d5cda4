"""The service's request and response models, the house record generated from the config.

The house model documents a request; it does not check one. A house with a bad value must
come back as a row error inside a 200 answer, which only ``make_prediction`` produces, so
``/v1/predict`` reads its body itself and the model below appears only in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model

from regression_model.config.core import Config, InputSchema
from regression_model.examples import load_example_houses
from regression_model.processing.data_manager import ModelMetadata
from regression_model.processing.domain import TrainingDomain

HOUSE_SCHEMA_NAME = "House"


class Problem(BaseModel):
    """Why a request got no answer: a refused request (4xx) or a server error (5xx)."""

    detail: str = Field(description="What went wrong, in one sentence.")
    request_id: str | None = Field(
        default=None, description="Present on server errors: quote it to find the logged cause."
    )


class Health(BaseModel):
    """The process is up and answering."""

    status: str = Field(examples=["alive"])


class Readiness(BaseModel):
    """The model is loaded, its sha256 and version checked, and it priced the example house."""

    status: str = Field(examples=["ready"])
    version: str
    model_sha256: str


class ModelInfo(BaseModel):
    """What ``regression-model info --json`` reports, plus the input schema and example."""

    version: str = Field(description="The package version, which is the model's version.")
    model_file: str = Field(description="The model file's name (no server path).")
    model_sha256_matches: bool = Field(
        description="The model file's sha256 equals the one recorded when it was trained."
    )
    metadata: ModelMetadata = Field(
        description="Everything recorded at training: sha256s, metrics, library versions."
    )
    input_schema: InputSchema = Field(
        description="The input columns by group: numeric ranges, labels, required columns."
    )
    example_house: dict[str, Any] = Field(
        description="A typical house, in the request's format (the page's starting point)."
    )


def example_house() -> dict[str, object]:
    """The house that prefills the page and is the example in /docs.

    It is the first of the package's example houses (``regression_model.examples``): a
    one-storey house of 1961 in North Ames, as typical as the data has, with ``Id``.
    """
    return load_example_houses()[0]


def house_model(*, config: Config, domain: TrainingDomain | None = None) -> type[BaseModel]:
    """A pydantic model of one house, one optional field per input column of the config.

    Numeric columns carry their group's range and whether they are whole numbers;
    categorical columns are labels. With the trained model's ``domain``, each field also
    says what the model saw in training: the range of a number, the labels of a text.
    Field names are the raw column names (aliases, since names such as ``1stFlrSF`` are not
    Python identifiers).
    """
    inputs = config.model.inputs
    example = example_house()
    required = set(inputs.required)
    seen_ranges = {} if domain is None else domain.numeric
    seen_labels = {} if domain is None else domain.labels
    fields: dict[str, Any] = {}
    for group, rule in inputs.numeric.items():
        kind: type = int if rule.whole_numbers else float
        number = "a whole number" if rule.whole_numbers else "a number"
        for column in rule.columns:
            description = (
                f"{group.capitalize()}: {number} from {rule.minimum:g} to {rule.maximum:g}."
            )
            if column in seen_ranges:
                seen = seen_ranges[column]
                description += (
                    f" Training range {seen.minimum:g} to {seen.maximum:g}: a value beyond it "
                    "is priced as the nearest end, with a warning."
                )
            fields[_field_name(len(fields))] = (
                kind | None,
                Field(
                    default=None,
                    alias=column,
                    ge=rule.minimum,
                    le=rule.maximum,
                    description=description + _need(is_required=column in required),
                    examples=[example.get(column)],
                ),
            )
    for column in inputs.categorical:
        description = "A label."
        if column in seen_labels:
            description += (
                f" Labels seen in training: {', '.join(seen_labels[column])}; any other is "
                "priced as a rare label, with a warning."
            )
        fields[_field_name(len(fields))] = (
            str | int | None,
            Field(
                default=None,
                alias=column,
                description=description + _need(is_required=column in required),
                examples=[example.get(column)],
            ),
        )
    # JSON values already (read from JSON), which the type checker cannot see.
    example_json = cast(JsonValue, example)
    model: type[BaseModel] = create_model(
        HOUSE_SCHEMA_NAME,
        __config__=ConfigDict(extra="allow", json_schema_extra={"examples": [example_json]}),
        __doc__=(
            "One house, with the raw column names of the Ames House Prices data. Every column "
            "should be present; null means missing, which the model fills in except where the "
            "column is required. Extra columns (such as Id) are ignored."
        ),
        **fields,
    )
    return model


def _field_name(position: int) -> str:
    return f"column_{position}"


def _need(*, is_required: bool) -> str:
    return " Required: null is a row error." if is_required else " May be null (missing)."


def predict_request_body(*, max_rows: int) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of ``/v1/predict``: one house or a list of houses."""
    house_ref = {"$ref": f"#/components/schemas/{HOUSE_SCHEMA_NAME}"}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"type": "array", "items": house_ref, "maxItems": max_rows},
                        house_ref,
                    ],
                    "title": "Houses",
                    "description": (
                        f"A list of up to {max_rows:,} houses, or one house. A house with a "
                        "bad value gets a row error in a 200 answer; only a body that is not "
                        "JSON, or not houses, is refused (422)."
                    ),
                }
            }
        },
    }
