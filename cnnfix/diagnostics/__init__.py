"""Why is my CNN's accuracy low? :func:`diagnose` and its tools.

- :mod:`.checks`: data checks (pure functions, no model);
- :mod:`.model_checks`: label noise and the training run;
- :mod:`.report`: :class:`Finding` and :class:`Diagnosis`;
- :mod:`.lr_find`: the learning-rate range test.
"""

from .diagnose import diagnose, quick_cnn
from .lr_find import LRFinderResult, lr_find
from .report import CODES, Diagnosis, Finding

__all__ = [
    "CODES",
    "Diagnosis",
    "Finding",
    "LRFinderResult",
    "diagnose",
    "lr_find",
    "quick_cnn",
]
