"""Check the built docs: an API page for every public name, the notebooks
rendered with their outputs (plots included), and working intersphinx links.

    python docs/check_html.py docs/_build/html

Exits with status 1 and a list of what is missing.
"""

import inspect
import re
import sys
from pathlib import Path

import cnnfix

ROOT = Path(__file__).parents[1]
#: Names the API reference documents on a page of their own.
MODULE_PAGES = [
    "cnnfix.datasets.load_image_folder",
    "cnnfix.datasets.load_digit_images",
    "cnnfix.datasets.load_damaged_digits",
    "cnnfix.datasets.load_fashion_mnist",
    "cnnfix.datasets.list_image_folder",
    "cnnfix.datasets.read_image",
    "cnnfix.datasets.read_images",
    "cnnfix.datasets.read_headers",
    "cnnfix.datasets.inspect_images",
    "cnnfix.tuning.DEFAULT_SEARCH_SPACE",
    "cnnfix.diagnostics.Fixes",
    "cnnfix.plotting.plot_lr_find",
    "cnnfix.diagnostics.TopLosses",
    "cnnfix.demo.run_demo",
]
#: Methods each estimator's page must document.
METHODS = {
    "DropoutCNN": ["fit", "predict", "predict_proba", "save"],
    "TunedCNNClassifier": ["fit", "predict", "predict_proba", "save"],
    "TransferCNN": ["fit", "predict", "predict_proba", "save"],
    "ClassBalancer": ["fit", "fit_resample"],
    "Diagnosis": ["summary", "to_dict", "to_html", "has", "plot", "apply"],
}
LINKS = [
    "https://scikit-learn.org/stable/modules/generated/sklearn.pipeline.Pipeline.html",
    "https://imbalanced-learn.org/stable/references/generated/"
    "imblearn.pipeline.make_pipeline.html",
]


def check(html):
    problems = []

    def page(relative):
        path = html / relative
        if not path.is_file():
            problems.append(f"missing page {relative}")
            return ""
        return path.read_text(encoding="utf-8")

    public = [n for n in cnnfix.__all__ if not n.startswith("_")]
    for name in public:
        if name == "make_pipeline":  # imbalanced-learn's, linked from api.html
            continue
        text = page(f"generated/cnnfix.{name}.html")
        if text and f'id="cnnfix.{name}"' not in text:
            problems.append(f"generated/cnnfix.{name}.html does not document it")
        obj = getattr(cnnfix, name)
        if inspect.isclass(obj) and text and "Parameters" not in text:
            if "Attributes" not in text:
                problems.append(f"generated/cnnfix.{name}.html documents no fields")
        for method in METHODS.get(name, []):
            if f'id="cnnfix.{name}.{method}"' not in text:
                problems.append(f"cnnfix.{name}.{method} is not on its page")
    for name in MODULE_PAGES:
        text = page(f"generated/{name}.html")
        if text and f'id="{name}"' not in text:
            problems.append(f"generated/{name}.html does not document it")

    api = page("api.html")
    for name in public:
        if f"cnnfix.{name}" not in api:
            problems.append(f"api.html does not list cnnfix.{name}")

    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        relative = f"_notebooks/{notebook.stem}.html"
        text = page(relative)
        if not text:
            continue
        if "cell_output" not in text:
            problems.append(f"{relative} has no cell outputs")
        images = re.findall(r'<img[^>]+src="([^"]+\.png)"', text)
        if not images:
            problems.append(f"{relative} has no plot")
        for src in images:
            if not (html / "_notebooks" / src).resolve().is_file():
                problems.append(f"{relative} shows {src}, which is not there")
        if "Traceback (most recent call last)" in text:
            problems.append(f"{relative} shows a traceback")

    pages = "".join(p.read_text(encoding="utf-8") for p in html.rglob("*.html"))
    for link in LINKS:
        if link not in pages:
            problems.append(f"no intersphinx link to {link}")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    html = Path(argv[0] if argv else ROOT / "docs" / "_build" / "html")
    problems = check(html)
    for problem in problems:
        print(f"check_html: {problem}", file=sys.stderr)
    n_pages = len(list(html.rglob("*.html")))
    print(f"check_html: {n_pages} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
