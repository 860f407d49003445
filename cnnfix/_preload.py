"""What the search worker's fork server imports once, quietly.

Imported by multiprocessing's fork server (see :mod:`cnnfix._worker`):
Keras through :func:`cnnfix._keras.import_keras`, so TensorFlow's start-up
lines are held back there as in the caller, then keras-tuner.
"""

from ._keras import import_keras

import_keras()

import keras_tuner  # noqa: E402, F401
