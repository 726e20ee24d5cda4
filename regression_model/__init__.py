"""Sale-price model for houses in Ames, Iowa, packaged for production.

Importing the package reads only its version; config, data and the trained
pipeline load lazily on first use.
"""

import logging
from importlib import resources

__version__ = resources.files(__name__).joinpath("VERSION").read_text(encoding="utf-8").strip()

# A library configures no handlers of its own: the application decides where logs go.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
