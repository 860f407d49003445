"""NumPy values to plain Python values: the one converter cnnfix uses for
JSON (reports, saved estimators), ``best_params_`` and error messages."""

import numpy as np


def to_python(value):
    """``value`` with NumPy scalars as Python scalars, arrays, tuples and
    lists as lists, and dict keys as strings, recursively. Anything else is
    returned as it is.

    >>> to_python({1: np.float32(0.5), "a": (np.int64(2), np.array([1, 2]))})
    {'1': 0.5, 'a': [2, [1, 2]]}
    """
    if isinstance(value, dict):
        return {str(k): to_python(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_python(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value
