"""matplotlib, imported when a plot is drawn (it is an optional dependency)."""


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "cnnfix's plots need matplotlib: pip install matplotlib (or "
            "pip install 'cnnfix[plot]')."
        ) from exc
    return plt


def axes_for(ax=None):
    """``ax``, or the axes of a new figure when it is None."""
    return ax if ax is not None else pyplot().subplots()[1]
