"""Tuning: TunedCNNClassifier, a CNN whose architecture is searched in ``fit``.

The package's modules, each one concern:

- :mod:`~cnnfix.tuning.estimator`: the estimator and its fit;
- :mod:`~cnnfix.tuning.space`: the search space, sampled into the builders;
- :mod:`~cnnfix.tuning.adapter`: keras-tuner's oracles, tuner and
  hypermodels (the one module that imports keras-tuner);
- :mod:`~cnnfix.tuning.policy`: the budget's rules, pure;
- :mod:`~cnnfix.tuning.finalists`: choosing and training the finalists;
- :mod:`~cnnfix.tuning.ensemble`: their weighted average;
- :mod:`~cnnfix.tuning.progress`: the progress line;
- :mod:`~cnnfix.tuning.worker` and :mod:`~cnnfix.tuning.preload`: the
  worker process the search runs in.
"""

from .estimator import TunedCNNClassifier
from .space import DEFAULT_SEARCH_SPACE, TRANSFER_VALUES

__all__ = ["DEFAULT_SEARCH_SPACE", "TRANSFER_VALUES", "TunedCNNClassifier"]
