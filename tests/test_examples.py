"""The example houses that ship inside the package."""

from __future__ import annotations

import math

import pandas as pd

from regression_model.examples import load_example_houses
from regression_model.predict import make_prediction


def test_example_houses_are_the_first_rows_of_the_test_set(test_records: pd.DataFrame) -> None:
    # Given the first five rows of test.csv, with missing cells as None
    rows = test_records.head(5).astype(object)
    expected = rows.where(rows.notna(), None).to_dict(orient="records")

    # When the shipped example houses are loaded
    houses = load_example_houses()

    # Then they are those rows, value for value
    assert len(houses) == 5
    for house, row in zip(houses, expected, strict=True):
        assert list(house) == list(row)
        for column, value in row.items():
            shipped = house[str(column)]
            if isinstance(value, float):
                assert isinstance(shipped, (int, float)) and math.isclose(shipped, value)
            else:
                assert shipped == value, column


def test_each_load_returns_new_records() -> None:
    # Given the example houses, one of them changed by the caller
    first = load_example_houses()
    first[0]["GrLivArea"] = -1

    # When they are loaded again
    second = load_example_houses()

    # Then the change did not leak into the new copy
    assert second[0]["GrLivArea"] != -1


def test_every_example_house_gets_a_price() -> None:
    # Given the example houses
    houses = load_example_houses()

    # When the model prices them
    result = make_prediction(input_data=houses)

    # Then every house has a plausible price and no error
    assert result.errors == []
    assert all(price is not None and 50_000 < price < 500_000 for price in result.predictions)
