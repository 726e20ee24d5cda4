"""Gradient-boosted trees that XGBoost trains and that score with or without XGBoost.

``XGBoostTreesRegressor`` is a scikit-learn regressor whose fitted state is plain data: the
booster XGBoost saved (bytes, for XGBoost's compiled predictor) and the same trees as numpy
arrays. Unpickling the model never imports XGBoost; the booster is loaded the first time a
batch is large enough to need it.

Two ways to score, one result
-----------------------------
- Up to ``WALK_MAX_ROWS`` rows, numpy walks every tree level by level at once: a single
  house is priced without loading XGBoost or starting a thread.
- For more rows, XGBoost's predictor (one thread per call: ``processing/scoring.py`` runs
  chunks on several threads, so the whole path, not only the trees, uses the cores).
- If XGBoost cannot be imported or cannot load the booster (a platform without its wheel, a
  missing OpenMP runtime), numpy walks every batch, ``WALK_BLOCK_ROWS`` rows at a time, and
  one warning says why.

The walk gives XGBoost's predictions bit for bit, so the switch between the two never
changes a price (``tests/test_boosted_trees.py`` checks it on every row of the shipped
data): XGBoost compares the features as float32 with float32 split values (``value <
split`` goes left, a missing value goes its node's default way), starts every row at the
base score and adds the trees' leaf values in tree order in float32. The walk does the same,
and ``np.add.accumulate`` adds in that order by definition.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from regression_model.array_types import CodeArray, FloatArray

_LOGGER = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]

# Up to this many rows the numpy walk is faster than calling XGBoost (whose every call
# builds a proxy matrix and checks its input), and it needs no library and no thread.
WALK_MAX_ROWS = 8

# Without XGBoost the walk scores big batches this many rows at a time: its node matrix is
# rows x trees, so a block of 256 rows and 2,000 trees takes 4 MB.
WALK_BLOCK_ROWS = 256


class XGBoostTreesRegressor(RegressorMixin, BaseEstimator):
    """Gradient-boosted regression trees, trained by XGBoost on one thread.

    Training runs on one thread so that the same data gives the same trees on every
    machine: XGBoost's histograms add in an order that depends on its thread count.

    Parameters
    ----------
    n_estimators : int, default=1000
        Number of boosting rounds (one tree each).
    learning_rate : float, default=0.05
        Shrinkage of each tree's contribution.
    max_depth : int, default=3
        Depth of each tree.
    min_child_weight : float, default=1.0
        Smallest sum of instance weight (for squared error, rows) in a leaf.
    subsample : float, default=1.0
        Share of the rows each tree is grown on.
    colsample_bytree : float, default=1.0
        Share of the columns each tree may split on.
    reg_lambda : float, default=1.0
        L2 penalty on leaf values.
    reg_alpha : float, default=0.0
        L1 penalty on leaf values.
    random_state : int, default=0
        Seed of the row and column sampling.

    Attributes
    ----------
    booster_ : bytes
        The trained booster in XGBoost's own binary format.
    base_score_ : float
        Where every row starts, before the trees.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they were given.

    Examples
    --------
    >>> trees = XGBoostTreesRegressor(n_estimators=20).fit([[1], [2], [3]], [1.0, 2.0, 3.0])
    >>> trees.predict([[1], [3]]).round(2).tolist()  # doctest: +SKIP
    [1.25, 2.75]
    """

    def __init__(
        self,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_weight: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> XGBoostTreesRegressor:
        import xgboost

        features, target = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True
        )
        params = {
            "objective": "reg:squarederror",
            "tree_method": "hist",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "alpha": self.reg_alpha,
            "seed": self.random_state,
            "nthread": 1,
            "verbosity": 0,
        }
        booster = xgboost.train(
            params,
            xgboost.DMatrix(features, label=target, nthread=1),
            num_boost_round=self.n_estimators,
        )
        self.booster_ = bytes(booster.save_raw(raw_format="ubj"))
        self._set_trees(json.loads(bytes(booster.save_raw(raw_format="json"))))
        return self

    def _set_trees(self, model: dict[str, Any]) -> None:
        """Lay every tree's nodes end to end in arrays the walk indexes.

        For a leaf XGBoost keeps the leaf's value where a split keeps its threshold, and -1
        as both children.
        """
        learner = model["learner"]
        trees = learner["gradient_booster"]["model"]["trees"]
        if any(int(flag) for tree in trees for flag in tree["split_type"]):
            raise ValueError("categorical splits are not supported: encode labels first")
        sizes = [len(tree["left_children"]) for tree in trees]
        offsets = np.cumsum([0, *sizes])[:-1]

        def children(key: str) -> CodeArray:
            return np.concatenate(
                [
                    np.where(np.asarray(tree[key]) < 0, -1, np.asarray(tree[key]) + offset)
                    for tree, offset in zip(trees, offsets)
                ]
            ).astype(np.intp)

        self.left_ = children("left_children")
        self.right_ = children("right_children")
        self.feature_ = np.concatenate([tree["split_indices"] for tree in trees]).astype(np.intp)
        self.split_ = np.concatenate([tree["split_conditions"] for tree in trees]).astype(
            np.float32
        )
        self.default_left_ = np.concatenate([tree["default_left"] for tree in trees]).astype(bool)
        self.roots_ = offsets.astype(np.intp)
        self.depth_ = int(self._deepest_leaf())
        # XGBoost 3 writes the base score as a one-element list, 2.x as a number.
        base_score = json.loads(learner["learner_model_param"]["base_score"])
        self.base_score_ = float(np.float32(np.ravel(base_score)[0]))

    def _deepest_leaf(self) -> int:
        depth, level = 0, self.roots_
        while (self.left_[level] >= 0).any():
            inner = level[self.left_[level] >= 0]
            level = np.concatenate([self.left_[inner], self.right_[inner]])
            depth += 1
        return depth

    def predict(self, X: Any) -> FloatArray:
        check_is_fitted(self, "booster_")
        features = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32
        )
        return self.score(features)

    def score(self, features: Float32Array) -> FloatArray:
        """``predict`` without its input checks: float32 rows by the features fit saw."""
        if len(features) <= WALK_MAX_ROWS:
            return self.walk(features)
        booster = self._loaded_booster()
        if booster is None:
            return self.walk(features)
        prediction = booster.inplace_predict(features, validate_features=False)
        return np.asarray(prediction, dtype=np.float64)

    def walk(self, features: Float32Array) -> FloatArray:
        """XGBoost's prediction for each row, by walking all trees at once in numpy."""
        if len(features) <= WALK_BLOCK_ROWS:
            return self._walk_block(features)
        return np.concatenate(
            [
                self._walk_block(features[start : start + WALK_BLOCK_ROWS])
                for start in range(0, len(features), WALK_BLOCK_ROWS)
            ]
        )

    def _walk_block(self, features: Float32Array) -> FloatArray:
        layout = self._walk_layout()
        # Every row's features end to end: a row's feature j is at its row start + j.
        flat = np.ascontiguousarray(features).ravel()
        row_starts = np.arange(0, flat.size, features.shape[1])[:, np.newaxis]
        slot = np.broadcast_to(layout.roots, (len(features), len(layout.roots)))
        # Where no feature is missing, every node's default way is moot: skip looking it up.
        has_missing = bool(np.isnan(flat).any())
        for _ in range(self.depth_):
            value = flat[layout.feature[slot] + row_starts]
            goes_left = value < layout.split[slot]
            if has_missing:
                goes_left = np.where(np.isnan(value), layout.default_left[slot], goes_left)
            slot = layout.child[slot + goes_left]
        terms = np.column_stack(
            [np.full(len(features), self.base_score_, dtype=np.float32), layout.split[slot]]
        )
        total = np.add.accumulate(terms, axis=1, dtype=np.float32)[:, -1]
        return total.astype(np.float64)

    def _walk_layout(self) -> _WalkLayout:
        """The fitted trees as the walk reads them; made on first use and never pickled."""
        cache = self.__dict__
        if "_layout" not in cache:
            cache["_layout"] = _WalkLayout.of(self)
        layout: _WalkLayout = cache["_layout"]
        return layout

    def shap_values(self, features: Float32Array) -> Float32Array:
        """XGBoost's exact TreeSHAP values: rows by (features + 1), the last column the base.

        Each row's values add up to its prediction up to float32 rounding. Explanations
        only (``regression_model.explain``): scoring never calls it.

        Raises
        ------
        ImportError
            If XGBoost cannot be imported or cannot load the trees.
        """
        booster = self._loaded_booster()
        if booster is None:
            raise ImportError("explaining the boosted trees needs XGBoost, which cannot load")
        import xgboost

        values = booster.predict(xgboost.DMatrix(features, nthread=1), pred_contribs=True)
        return np.asarray(values, dtype=np.float32)

    # The loaded booster is a cache, never pickled: the bytes are the model.
    def __getstate__(self) -> dict[str, Any]:
        # A copy: on Python 3.11+ the inherited state is the instance's own __dict__.
        state = dict(super().__getstate__())
        state.pop("_booster", None)
        state.pop("_booster_lock", None)
        state.pop("_layout", None)
        return state

    def _loaded_booster(self) -> Any:
        """XGBoost's booster for these trees, loaded once; None if XGBoost cannot load it."""
        cache = self.__dict__
        if "_booster" not in cache:
            with cache.setdefault("_booster_lock", threading.Lock()):
                if "_booster" not in cache:
                    cache["_booster"] = _load_booster(self.booster_)
        return cache["_booster"]


@dataclass(frozen=True)
class _WalkLayout:
    """Every node twice, at slots 2i and 2i+1, so that one addition picks a child.

    A walk holds, for each row and tree, the slot ``2i`` of the node it is at; adding 1
    where the row goes left gives the slot whose ``child`` entry is that child's slot. A leaf
    is its own child both ways, so a walk that reached it stays there. Every other array is
    the fitted one, each entry repeated for the node's two slots.
    """

    roots: CodeArray
    feature: CodeArray
    split: Float32Array
    default_left: npt.NDArray[np.bool_]
    child: CodeArray

    @classmethod
    def of(cls, trees: XGBoostTreesRegressor) -> _WalkLayout:
        nodes = np.arange(len(trees.left_))
        right = np.where(trees.right_ < 0, nodes, trees.right_)
        left = np.where(trees.left_ < 0, nodes, trees.left_)
        return cls(
            roots=2 * trees.roots_,
            feature=np.repeat(trees.feature_, 2),
            split=np.repeat(trees.split_, 2),
            default_left=np.repeat(trees.default_left_, 2),
            child=2 * np.column_stack([right, left]).ravel(),
        )


def _load_booster(model: bytes) -> Any:
    try:
        import xgboost

        booster = xgboost.Booster(model_file=bytearray(model))
        # One thread per call: the scorer decides how many chunks run at once.
        booster.set_param({"nthread": 1})
    except Exception as error:  # noqa: BLE001 - any failure to load means: walk in numpy
        _LOGGER.warning(
            "XGBoost could not load the boosted trees (%s: %s); scoring them in numpy "
            "instead, with the same prices, more slowly",
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
        )
        return None
    return booster
