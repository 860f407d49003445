"""Why is my CNN's accuracy low? :func:`diagnose` and its tools.

- :mod:`.checks`: data checks (pure functions, no model);
- :mod:`.model_checks`: label noise and the training run;
- :mod:`.report`: :class:`Finding` and :class:`Diagnosis`;
- :mod:`.fixes`: what :meth:`Diagnosis.apply` does (:class:`Fixes`);
- :mod:`.lr_find`: the learning-rate range test;
- :mod:`.interpret`: what a fitted CNN looks at (Grad-CAM), its top losses
  and most confused classes.
"""

from ..exceptions import MissingFindingError
from .diagnose import diagnose, quick_cnn
from .fixes import Fixes
from .interpret import TopLosses, gradcam, most_confused, top_losses
from .lr_find import LRFinderResult, lr_find
from .report import CODES, Diagnosis, Finding

__all__ = [
    "CODES",
    "Diagnosis",
    "Finding",
    "Fixes",
    "LRFinderResult",
    "MissingFindingError",
    "TopLosses",
    "diagnose",
    "gradcam",
    "lr_find",
    "most_confused",
    "quick_cnn",
    "top_losses",
]
