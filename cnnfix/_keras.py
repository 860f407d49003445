"""Lazy access to Keras, so that ``import cnnfix`` stays free of TensorFlow."""

import logging
import os


class _NoRetracingNotes(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning.

    Every cnnfix fit builds a new model, so predicting with many fitted
    models (cross-validation, diagnose, a grid search) traces each model's
    predict function once, which TensorFlow reports as excessive retracing.
    It is expected here and says nothing about the user's code. Other
    TensorFlow warnings pass.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


_FILTER = _NoRetracingNotes()


def import_keras():
    """Import and return the ``keras`` module on first use.

    TensorFlow's C++ start-up chatter is silenced unless the user has set
    ``TF_CPP_MIN_LOG_LEVEL`` themselves, and its retracing note is filtered
    (see :class:`_NoRetracingNotes`).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    logger = logging.getLogger("tensorflow")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return keras
