"""What the search worker's fork server imports once, quietly.

Imported by multiprocessing's fork server (see :mod:`cnnfix.tuning.worker`):
Keras through :func:`cnnfix._keras.import_keras`, so TensorFlow's start-up
lines are held back there as in the caller, then keras-tuner and the
search's own modules.

Then the objects those imports made, which live as long as the process, are
moved out of the garbage collector's sight (``gc.freeze``, inherited by
every forked worker): keras-tuner collects twice as it builds each trial's
model (once in ``clear_session``), and each collection would rescan them
all (the changelog has the measurement).
"""

import gc

from .._keras import import_keras

import_keras()

import keras_tuner  # noqa: E402, F401

from . import adapter, estimator  # noqa: E402, F401

gc.freeze()
