"""Warnings that point at the user's line, not at cnnfix's.

A warning shows the source line of the frame its ``stacklevel`` names; the
depth between a user's call and cnnfix's warning varies (a pipeline, a grid
search, scikit-learn's ``fit`` wrapper), so :func:`warn` counts it instead.
"""

import os
import sys
import warnings

#: Packages whose frames stand between a user's line and a cnnfix warning:
#: cnnfix itself and the libraries that call its estimators.
CALLING_PACKAGES = ("cnnfix", "sklearn", "imblearn", "keras", "tensorflow", "joblib")


def warn(message, category=UserWarning):
    """``warnings.warn`` at the first frame outside :data:`CALLING_PACKAGES`:
    the user's line, whatever the depth of cnnfix's calls."""
    folders = tuple(
        os.path.dirname(module.__file__) + os.sep
        for name in CALLING_PACKAGES
        if getattr(module := sys.modules.get(name), "__file__", None)
    )
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(folders):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
