"""Sphinx configuration: numpydoc, the pydata theme, myst-nb for Markdown
pages and the notebooks (executed on every build), and intersphinx."""

import os
import shutil
import zlib
from pathlib import Path

import cnnfix

DOCS = Path(__file__).parent
ROOT = DOCS.parent

project = "cnnfix"
author = "the cnnfix developers"
copyright = "2026, the cnnfix developers"
release = version = cnnfix.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_nb",
]
# .rst first: autosummary writes its API stubs with the first suffix.
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

html_theme = "pydata_sphinx_theme"
html_title = f"cnnfix {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}

# -- API reference -------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters section says it
autodoc_default_options = {"inherited-members": True}
numpydoc_show_class_members = False  # the class template lists them


def _skip_foreign_members(app, what, name, obj, skip, options):
    """A class page lists what cnnfix defines (fit, predict, save, ...),
    inherited from cnnfix's base classes or not; scikit-learn's own methods
    (get_params, score, set_*_request) are documented by scikit-learn."""
    if what == "class":
        target = getattr(obj, "fget", obj)
        if not (getattr(target, "__module__", None) or "").startswith("cnnfix"):
            return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)

# -- notebooks -----------------------------------------------------------------
# The notebooks live in notebooks/ at the top level; each build copies them
# here and executes them, so a broken notebook fails the build (-W).
NOTEBOOKS = DOCS / "_notebooks"
shutil.rmtree(NOTEBOOKS, ignore_errors=True)
shutil.copytree(ROOT / "notebooks", NOTEBOOKS, ignore=shutil.ignore_patterns(".*"))
# CNNFIX_DOCS_EXECUTE=off renders the notebooks without running them, for
# quick edits of the text; CI always executes them.
nb_execution_mode = os.environ.get("CNNFIX_DOCS_EXECUTE", "force")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# TensorFlow's C++ start-up lines (no CUDA on the build machine) reach the
# kernel's stderr; the rendered pages show stdout and results only.
nb_output_stderr = "remove"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# -- intersphinx ---------------------------------------------------------------
# The build machines have no internet, so the inventories of the projects we
# link to are written here from the names we use. CNNFIX_DOCS_ONLINE=1 fetches
# the live ones where the project publishes one (scikit-learn,
# imbalanced-learn, NumPy); Keras and keras-tuner publish none.
LINKS = {
    "sklearn": (
        "https://scikit-learn.org/stable/",
        "modules/generated/$.html#$",
        [
            "sklearn.base.BaseEstimator",
            "sklearn.base.ClassifierMixin",
            "sklearn.base.clone",
            "sklearn.pipeline.Pipeline",
            "sklearn.model_selection.GridSearchCV",
            "sklearn.model_selection.cross_val_score",
            "sklearn.model_selection.StratifiedKFold",
            "sklearn.model_selection.GroupKFold",
            "sklearn.metrics.balanced_accuracy_score",
            "sklearn.datasets.load_digits",
            "sklearn.utils.estimator_checks.parametrize_with_checks",
        ],
    ),
    "imblearn": (
        "https://imbalanced-learn.org/stable/",
        "references/generated/$.html#$",
        [
            "imblearn.base.BaseSampler",
            "imblearn.pipeline.Pipeline",
            "imblearn.pipeline.make_pipeline",
            "imblearn.over_sampling.RandomOverSampler",
            "imblearn.over_sampling.SMOTE",
            "imblearn.under_sampling.RandomUnderSampler",
        ],
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        "reference/generated/$.html#$",
        ["numpy.ndarray", "numpy.random.RandomState"],
    ),
    "keras": (
        "https://keras.io/api/",
        None,
        {
            "keras.Model": "models/model/",
            "keras.callbacks.Callback": "callbacks/base_callback/",
            "keras.callbacks.EarlyStopping": "callbacks/early_stopping/",
            "keras.optimizers.Optimizer": "optimizers/",
            "keras.utils.set_random_seed": "utils/python_utils/",
            "keras.saving.load_model": "models/model_saving_apis/",
            "keras.distribution": "distribution/",
        },
    ),
    "keras_tuner": (
        "https://keras.io/keras_tuner/api/",
        None,
        {
            "keras_tuner.Hyperband": "tuners/hyperband/",
            "keras_tuner.RandomSearch": "tuners/random/",
            "keras_tuner.BayesianOptimization": "tuners/bayesian/",
            "keras_tuner.HyperModel": "hypermodels/base_hypermodel/",
            "keras_tuner.HyperParameters": "hyperparameters/",
        },
    ),
}


def _write_inventory(path, name, pattern, entries):
    """An objects.inv that resolves ``entries`` (names, or name -> page)."""
    pages = entries if isinstance(entries, dict) else dict.fromkeys(entries, pattern)
    lines = []
    for target, page in pages.items():
        role = "function" if target.rsplit(".", 1)[-1][:1].islower() else "class"
        if target == "keras.distribution":
            role = "module"
        lines.append(f"{target} py:{role} 1 {page.replace('$', target)} -\n")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {name}\n# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    path.write_bytes(header.encode() + zlib.compress("".join(lines).encode()))


INVENTORIES = DOCS / "_build" / "inventories"
INVENTORIES.mkdir(parents=True, exist_ok=True)
ONLINE = os.environ.get("CNNFIX_DOCS_ONLINE") == "1"
intersphinx_mapping = {}
for _name, (_url, _pattern, _entries) in LINKS.items():
    _file = INVENTORIES / f"{_name}.inv"
    _write_inventory(_file, _name, _pattern, _entries)
    _online = ONLINE and _pattern is not None
    intersphinx_mapping[_name] = (_url, None if _online else str(_file))
