"""Why is my CNN's accuracy low? :func:`diagnose` and its tools.

Modules, from the bottom up (each imports only modules listed before it):

- :mod:`.thresholds`: the numbers behind the findings, one frozen dataclass
  per concern (:class:`DataThresholds`, :class:`ModelThresholds`);
- :mod:`.calibration`: :func:`reliability`, the calibration error (pure);
- :mod:`.figures`: the figures of the results below (matplotlib);
- :mod:`.fixes`: how to fix each finding, and what
  :meth:`Diagnosis.apply` does (:class:`Fixes`);
- :mod:`.report`: :class:`Finding` and :class:`Diagnosis`;
- :mod:`.summary`: what the pixel checks read of images, in one pass;
- :mod:`.image_checks`, :mod:`.duplicates`, :mod:`.dataset_checks`,
  :mod:`.files`: the data checks (pure functions, no model);
- :mod:`.model_checks`: label noise and the training run;
- :mod:`.interpret`: what a fitted CNN looks at (Grad-CAM), its top losses
  and most confused classes;
- :mod:`.lr_find`: the learning-rate range test;
- :mod:`.diagnose`: :func:`diagnose`, which runs the checks.

:mod:`cnnfix.plotting` sits above all of them.
"""

from ..exceptions import MissingFindingError
from .calibration import reliability
from .diagnose import diagnose, quick_cnn
from .fixes import Fixes
from .interpret import TopLosses, gradcam, most_confused, top_losses
from .lr_find import LRFinderResult, lr_find
from .report import CODES, Diagnosis, Finding
from .thresholds import DataThresholds, ModelThresholds

__all__ = [
    "CODES",
    "DataThresholds",
    "Diagnosis",
    "Finding",
    "Fixes",
    "LRFinderResult",
    "MissingFindingError",
    "ModelThresholds",
    "TopLosses",
    "diagnose",
    "gradcam",
    "lr_find",
    "most_confused",
    "quick_cnn",
    "reliability",
    "top_losses",
]
