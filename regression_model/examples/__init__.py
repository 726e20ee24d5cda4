"""A few example houses that ship with the package, to try the model without any data.

They are the first five houses of the Kaggle House Prices test set (``test.csv``), as raw
records: the columns a caller sends, ``Id`` included, with ``None`` for missing values.
"""

from __future__ import annotations

import json
from importlib import resources

EXAMPLE_HOUSES_FILE = "houses.json"


def load_example_houses() -> list[dict[str, object]]:
    """Return the example houses as a list of record dicts, one per house.

    Each call returns new dicts, so a caller may change them freely.

    Returns
    -------
    list of dict
        Raw records, keyed by the House Prices column names.

    Examples
    --------
    >>> from regression_model.examples import load_example_houses
    >>> houses = load_example_houses()
    >>> len(houses), houses[0]["Neighborhood"]
    (5, 'NAmes')
    """
    text = resources.files(__name__).joinpath(EXAMPLE_HOUSES_FILE).read_text(encoding="utf-8")
    houses: list[dict[str, object]] = json.loads(text)
    return houses
