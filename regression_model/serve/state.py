"""What the app's routes share: its config and, once loaded, the model's description."""

from __future__ import annotations

from dataclasses import dataclass

from regression_model.config.core import Config
from regression_model.serve.metrics import ServiceMetrics
from regression_model.serve.schemas import ModelInfo


@dataclass
class ServiceState:
    """What the routes share: the config and, once loaded, the model's description.

    Attributes
    ----------
    config : Config
        The configuration the app was built with.
    metrics : ServiceMetrics
        The counters and histogram that ``/metrics`` shows.
    input_columns : frozenset of str
        The model's input columns: a JSON object with none of them is not a house.
    model_info : ModelInfo or None
        Set when the model is loaded and verified; ``None`` before, or if loading failed.
    has_failed : bool
        Loading failed; the log says why and the service stays up, answering 503.
    """

    config: Config
    metrics: ServiceMetrics
    input_columns: frozenset[str]
    model_info: ModelInfo | None = None
    has_failed: bool = False
