"""Lazy access to Keras, so that ``import cnnfix`` stays free of TensorFlow."""

import os


def import_keras():
    """Import and return the ``keras`` module on first use.

    TensorFlow's C++ start-up chatter is silenced unless the user has set
    ``TF_CPP_MIN_LOG_LEVEL`` themselves.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras
