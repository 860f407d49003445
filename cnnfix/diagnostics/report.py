"""Findings and the report that holds them."""

import base64
import functools
import html
import io
import json
import os
import textwrap
from dataclasses import asdict, dataclass, field

import numpy as np

from .._convert import to_python
from .._validation import as_images, as_paths
from ..datasets import read_image
from ..exceptions import MissingFindingError, UnreadableImageError
from .figures import plot_diagnosis
from .fixes import apply_fixes, check_diagnosed_data, how_to_fix

#: Severities, least to most severe.
SEVERITIES = ("info", "warning", "error")

#: Every finding code diagnose() can report, with what it means.
CODES = {
    "class_imbalance": "Some classes have many times fewer images than others.",
    "too_few_samples": "Some classes have too few images to learn from.",
    "small_dataset_from_scratch": (
        "Few photos per class for a CNN trained from scratch: fine-tune a "
        "pretrained one."
    ),
    "exact_duplicates": "Identical images appear more than once.",
    "near_duplicates": "Images that differ only slightly appear more than once.",
    "conflicting_labels": "Identical images carry different labels.",
    "train_test_leakage": "Test images also appear in the training data.",
    "blurry_images": "Some images are much blurrier than the rest.",
    "dark_images": "Some images are much darker than the rest.",
    "bright_images": "Some images are much brighter than the rest.",
    "low_information_images": "Some images are blank: constant, or noise only.",
    "low_contrast_images": "Some images have much lower contrast than the rest.",
    "unnormalized_input": "Pixel values are far from the scale networks train on.",
    "invalid_values": "Images contain NaN or infinite values.",
    "unreadable_files": "Some image files cannot be read (corrupt or not images).",
    "odd_image_sizes": "Some images' size or aspect ratio is far from the rest.",
    "grey_images": "Some images are grey in a colour dataset.",
    "label_noise": "Some labels look wrong: the model is confident of another class.",
    "overfitting": "Training accuracy is far above validation accuracy.",
    "underfitting": "The model does not fit even the training data well.",
    "learning_rate_too_high": "The training loss diverges, or swings at chance level.",
    "learning_rate_too_low": "The training loss barely moves.",
    "majority_class_collapse": "The model predicts almost only one class.",
    "overconfident": "The predicted probabilities are more confident than accurate.",
}


@dataclass
class Finding:
    """One cause of low accuracy, with the evidence and the fix.

    Attributes
    ----------
    code : str
        Stable identifier, one of :data:`CODES`.
    severity : {"info", "warning", "error"}
        "error": accuracy is certainly hurt; "warning": probably; "info":
        worth knowing, no action needed.
    title : str
        One line saying what was found.
    evidence : dict
        The numbers behind it (JSON-serialisable).
    suggestion : str
        The fix in one line, with a code example.
    indices : list of int
        The samples involved, where that makes sense (most telling first).
    paths : list of str
        The files of ``indices``, in the same order, when the data were file
        paths; empty otherwise.
    steps : list of str
        The fix as steps a person follows, in order (read-only; from
        :data:`cnnfix.diagnostics.fixes.HOW_TO_FIX`, worded for files when
        the finding names files). The reports number them.
    snippet : str
        Python that does the fix (read-only; may be empty): it imports what
        it uses, and takes ``X``, ``y`` and ``report`` as the diagnosed
        data and its :class:`Diagnosis`.
    """

    code: str
    severity: str
    title: str
    evidence: dict = field(default_factory=dict)
    suggestion: str = ""
    indices: list = field(default_factory=list)
    paths: list = field(default_factory=list)

    def __post_init__(self):
        _check_code(self.code)
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}.")
        self.evidence = to_python(self.evidence)
        self.indices = [int(i) for i in self.indices]
        self.paths = [str(p) for p in self.paths]

    @property
    def steps(self):
        """The fix as steps a person follows (see Attributes)."""
        return list(how_to_fix(self).steps)

    @property
    def snippet(self):
        """Python that does the fix, or "" (see Attributes)."""
        return how_to_fix(self).snippet


def counted(n, one, many=None):
    """``n`` with the words that agree with it, for titles: ``counted(1,
    "image is", "images are")`` is "1 image is"; ``many`` defaults to
    ``one + "s"``."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def _check_code(code):
    """ValueError for a code that is not in CODES (a typo, usually)."""
    if code not in CODES:
        raise ValueError(
            f"Unknown finding code {code!r}; expected one of {sorted(CODES)}. "
            "Use a code from cnnfix.diagnostics.CODES."
        )


class Diagnosis:
    """What :func:`cnnfix.diagnose` found, most severe first.

    Attributes
    ----------
    findings : list of Finding
        Sorted by severity (errors first).
    checks_run : list of str
        The checks that ran ("data", "labels", "training").
    details : dict
        Data behind the plots and fixes: ``n_samples`` (of the diagnosed
        data), class counts, ``image_size`` (the size files were decoded
        at; None for arrays), ``seconds`` per step, training histories, ...

    Iterating over a Diagnosis yields its findings (``for finding in
    report``), and ``code in report`` is :meth:`has`.
    """

    def __init__(self, findings, checks_run, details=None):
        self.findings = sorted(findings, key=lambda f: -SEVERITIES.index(f.severity))
        self.checks_run = list(checks_run)
        self.details = details or {}

    def __iter__(self):
        """The findings, most severe first: ``for finding in report``."""
        return iter(self.findings)

    def __contains__(self, code):
        """``code in report``: the same as :meth:`has`."""
        return self.has(code)

    def has(self, code):
        """Whether a finding with this code was reported (ValueError for a
        code not in :data:`CODES`)."""
        _check_code(code)
        return any(f.code == code for f in self.findings)

    def __getitem__(self, code):
        """The finding with this code.

        Raises :class:`MissingFindingError` (a KeyError) when the report has
        none, and ValueError for a code not in :data:`CODES`.
        """
        if not self.has(code):
            raise MissingFindingError(code, [f.code for f in self.findings])
        return next(f for f in self.findings if f.code == code)

    @property
    def ok(self):
        """True when nothing was found at warning or error level."""
        return not any(f.severity != "info" for f in self.findings)

    def apply(self, X, y, estimator=None):
        """Apply the fixes this diagnosis points to: drop flagged samples,
        balance the classes.

        - samples flagged by ``unreadable_files``, ``label_noise``,
          ``exact_duplicates`` or ``conflicting_labels`` findings at warning
          or error level are dropped (info-level findings are left alone);
        - with a ``class_imbalance`` finding, the estimator gets
          ``balancer=ClassBalancer(random_state=0)``; in a Pipeline its final
          step does. An estimator that already balances (its own
          ``balancer``, or a resampling step earlier in the Pipeline) is
          left as it is, and so is one with no ``balancer`` parameter: then
          ``applied`` says how to balance instead.

        Nothing passed in is modified: the arrays returned are new, and the
        estimator is an unfitted clone.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The images that were diagnosed.
        y : array-like of shape (n_samples,)
            Their labels.
        estimator : estimator, Pipeline or None, default=None
            The model to train on the fixed data. None applies the data
            fixes only.

        Returns
        -------
        Fixes
            A named tuple ``(X, y, estimator, applied)``: the kept samples
            and labels, the estimator to fit (None when None was passed),
            and one line per fix.

        Raises
        ------
        ValueError
            If ``X`` or ``y`` do not have the length of the diagnosed data.

        Examples
        --------
        >>> import numpy as np
        >>> from cnnfix import DropoutCNN, diagnose
        >>> from cnnfix.datasets import load_digit_images
        >>> X, y = load_digit_images()
        >>> few = (y < 5) | (np.arange(len(y)) % 5 == 0)  # digits 5-9: 1 in 5
        >>> X, y = X[few], y[few]
        >>> X, y = np.concatenate([X, X[:40]]), np.concatenate([y, y[:40]])
        >>> report = diagnose(X, y, checks="data")
        >>> X_fixed, y_fixed, cnn, applied = report.apply(X, y, DropoutCNN())
        >>> for line in applied:
        ...     print(line)
        dropped 40 samples (exact_duplicates)
        balanced the classes: balancer=ClassBalancer(random_state=0)
        >>> len(X), len(X_fixed)
        (1119, 1079)
        """
        return apply_fixes(self, X, y, estimator)

    def summary(self):
        """Plain-text report, most severe first: for each finding its title,
        evidence, samples and files, then the fix as numbered steps and the
        Python that does it (what ``python -m cnnfix diagnose`` prints)."""
        lines = [f"cnnfix diagnosis ({', '.join(self.checks_run)} checks)"]
        if self.ok:
            lines.append("No problem found that would lower accuracy.")
        for f in self.findings:
            lines.append(f"[{f.severity.upper()}] {f.code}: {f.title}")
            if f.evidence:
                shown = ", ".join(f"{k}={_short(v)}" for k, v in f.evidence.items())
                lines.append(f"    evidence: {shown}")
            if f.indices:
                lines.append(f"    samples: {f.indices[:10]}{_more(f.indices, 10)}")
            if f.paths:
                lines.append(f"    files: {', '.join(f.paths[:5])}{_more(f.paths, 5)}")
            lines += _fix_lines(f)
        return "\n".join(lines)

    __str__ = summary

    def __repr__(self):
        codes = ", ".join(f.code for f in self.findings) or "none"
        return f"<Diagnosis: {len(self.findings)} findings ({codes})>"

    def to_html(self, X=None, *, max_images=8, page=False):
        """The report as an HTML table (what a notebook shows), with the
        flagged images as thumbnails.

        A Diagnosis keeps no images (it stays small and serialisable), so
        the notebook view has none; ``report.to_html(X)`` adds up to
        ``max_images`` thumbnails (inline PNG) under each finding that names
        samples, most telling first, each titled with its index. Grey
        values are scaled by the range of the whole of X, so dark images
        stay dark. When the diagnosed data were files, the findings name
        them (``Finding.paths``) and the thumbnails are read from the files
        without ``X``, titled with the file name; ``report.to_html(paths)``
        does the same with the paths that were diagnosed. A file that cannot
        be read is shown by its name.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), file paths or None, \
default=None
            The images that were diagnosed, or their files.
        max_images : int, default=8
            Thumbnails per finding.
        page : bool, default=False
            A whole self-contained HTML page (what ``cnnfix diagnose --html``
            writes) instead of a fragment.

        Returns
        -------
        str
            The HTML.
        """
        paths = None if X is None else as_paths(X)
        if X is not None:
            X = check_diagnosed_data(self, X if paths is None else paths)[0]
        thumbnail = _sample_thumbnails(X) if X is not None and paths is None else None
        colours = {"error": "#c0392b", "warning": "#d68910", "info": "#2e86c1"}
        rows = []
        for f in self.findings:
            rows.append(
                f"<tr><td style='color:{colours[f.severity]}'><b>{f.severity}</b></td>"
                f"<td><code>{f.code}</code></td><td>{html.escape(f.title)}</td>"
                f"<td>{_fix_html(f)}</td></tr>"
            )
            files = f.paths if paths is None else [paths[i] for i in f.indices]
            if thumbnail is not None and f.indices:
                images = "".join(thumbnail(i) for i in f.indices[:max_images])
            elif files:
                images = "".join(_file_thumbnail(p) for p in files[:max_images])
                images += _file_list(files, max_images)
            else:
                continue
            rows.append(f"<tr><td></td><td colspan='3'>{images}</td></tr>")
        status = "<p>No problem found that would lower accuracy.</p>" if self.ok else ""
        fragment = (
            f"<div><b>cnnfix diagnosis</b> ({', '.join(self.checks_run)} checks)"
            f"{status}<table><tr><th>severity</th><th>code</th><th>finding</th>"
            f"<th>fix</th></tr>{''.join(rows)}</table></div>"
        )
        if not page:
            return fragment
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<title>cnnfix diagnosis</title><style>body{font-family:sans-serif}"
            "td,th{border-bottom:1px solid #ddd;padding:4px;text-align:left;"
            "vertical-align:top}table{border-collapse:collapse}</style></head>"
            f"<body>{fragment}</body></html>\n"
        )

    _repr_html_ = to_html  # the notebook view

    def to_dict(self):
        """JSON-serialisable form of the report."""
        return {
            "checks_run": self.checks_run,
            "ok": self.ok,
            "findings": [
                {**asdict(f), "steps": f.steps, "snippet": f.snippet}
                for f in self.findings
            ],
        }

    def to_json(self, **kwargs):
        """The report as a JSON string (``kwargs`` go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), **kwargs)

    def plot(self, X=None):
        """Figures that help: class distribution, learning curves, the
        reliability diagram of the out-of-fold probabilities (when the model
        checks ran) and, with ``X``, examples of flagged images (see
        :func:`cnnfix.plotting.plot_diagnosis`). Returns the matplotlib
        Figure."""
        return plot_diagnosis(self, X)


#: Height in pixels of a thumbnail.
THUMBNAIL_SIZE = 48


def _sample_thumbnails(X):
    """A function giving an ``<img>`` of image ``index`` of X, titled with
    the index, grey levels scaled by X's range."""
    X = as_images(X)
    finite = X[np.isfinite(X)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0, 0)

    def tag(index):
        image = np.nan_to_num(X[index], nan=low, posinf=low)
        scaled = (image - low) / (high - low) if high > low else image * 0
        return _img((np.clip(scaled, 0, 1) * 255).astype(np.uint8), f"sample {index}")

    return tag


def _file_thumbnail(path):
    """An ``<img>`` of an image file, titled with its name; the name alone
    when the file cannot be read."""
    name = html.escape(os.path.basename(path), quote=True)
    try:
        return _img(read_image(path), name)
    except UnreadableImageError:
        return f"<span class='unreadable' title='{name}'>[{name}: unreadable]</span> "


def _file_list(paths, shown):
    """The full paths of the files whose thumbnails are shown (a person
    opens them from here), and how many more the finding names."""
    names = "<br>".join(html.escape(p) for p in paths[:shown])
    return f"<div style='font-size:small'>{names}{_more(paths, shown)}</div>"


def _more(items, shown):
    """``" (+n more)"`` when only the first ``shown`` of ``items`` are listed."""
    return f" (+{len(items) - shown} more)" if len(items) > shown else ""


def _img(pixels, title):
    """An inline PNG ``<img>`` of uint8 ``pixels`` (h, w, c), THUMBNAIL_SIZE
    high."""
    from PIL import Image

    height, width = pixels.shape[:2]
    size = (max(1, round(width * THUMBNAIL_SIZE / height)), THUMBNAIL_SIZE)
    smaller = height > THUMBNAIL_SIZE
    resample = Image.Resampling.BILINEAR if smaller else Image.Resampling.NEAREST
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] != 3 else pixels)
    buffer = io.BytesIO()
    picture.resize(size, resample).save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    title = html.escape(title, quote=True)
    return (
        f"<img src='data:image/png;base64,{data}' title='{title}' "
        f"alt='{title}' style='margin:1px'/>"
    )


#: Width of the text report's fix steps (wrapped, each under its number).
WIDTH = 88

#: Wraps a step at WIDTH, never inside a word or at a hyphen (snippets in the
#: steps stay whole).
_wrap = functools.partial(
    textwrap.wrap, width=WIDTH, break_on_hyphens=False, break_long_words=False
)


def _fix_lines(finding):
    """The fix as the text report shows it: ``fix:``, the numbered steps
    (wrapped at WIDTH), then the snippet under ``in Python:``."""
    fix = how_to_fix(finding)
    lines = ["    fix:"]
    for number, step in enumerate(fix.steps, 1):
        head = f"      {number}. "
        lines += _wrap(step, initial_indent=head, subsequent_indent=" " * len(head))
    if fix.snippet:
        lines.append("      in Python:")
        lines += [f"        {line}" for line in fix.snippet.splitlines()]
    return lines


def _fix_html(finding):
    """The fix as the HTML report shows it: an ordered list of the steps,
    then the snippet as a code block."""
    fix = how_to_fix(finding)
    steps = "".join(f"<li>{html.escape(step)}</li>" for step in fix.steps)
    code = (
        f"<pre style='margin:0'><code>{html.escape(fix.snippet)}</code></pre>"
        if fix.snippet
        else ""
    )
    return f"<ol style='margin:0;padding-left:1.5em'>{steps}</ol>{code}"


def _short(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict) and len(value) > 6:
        return f"{dict(list(value.items())[:6])} ..."
    if isinstance(value, list) and len(value) > 6:
        return f"{value[:6]} ..."
    return str(value)
