"""Listing a class-folder tree: ``root/<class name>/<image files>``.

The layout of Keras's ``image_dataset_from_directory`` and torchvision's
``ImageFolder``, listed in a fixed order so that a fit on the files is
reproducible.
"""

import os

import numpy as np

from .pixels import FORMAT_BY_EXTENSION

#: The layout of a class-folder tree, as error messages name it.
LAYOUT = "root/<class name>/<image files>"

#: File name extensions read as images (compared in lower case); other files
#: in a class folder are skipped.
IMAGE_EXTENSIONS = frozenset(FORMAT_BY_EXTENSION)


def is_image_file(name):
    """Whether a file name has an image extension and is not hidden."""
    # os.path, not pathlib: called once per file, where pathlib's objects cost.
    extension = os.path.splitext(name)[1].lower()
    return not name.startswith(".") and extension in IMAGE_EXTENSIONS


def list_image_folder(path):
    """List the images of a class-folder tree, with their class names.

    The layout is ``path/<class name>/<image files>``; files in nested
    folders of a class folder belong to that class. Only files whose
    extension is one of :data:`IMAGE_EXTENSIONS` are listed; hidden files and
    folders (names starting with ".") and files directly in ``path`` are
    skipped. The order is fixed: by class name, then by file path.

    Parameters
    ----------
    path : str or path-like
        The folder holding one sub-folder per class.

    Returns
    -------
    paths : ndarray of shape (n_files,), dtype object
        The file paths as str, each ``path`` joined with the class folder and
        the file name.
    labels : ndarray of shape (n_files,), dtype str
        The class folder name of each file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    NotADirectoryError
        If ``path`` is a file.
    ValueError
        If ``path`` has no class sub-folders, a class folder holds no image
        file, or there is only one class.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from cnnfix.datasets import list_image_folder
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for name in ["nut/b.png", "nut/a.jpg", "bolt/c.png", "bolt/notes.txt"]:
    ...         (Path(root) / name).parent.mkdir(exist_ok=True)
    ...         (Path(root) / name).touch()
    ...     paths, labels = list_image_folder(root)
    ...     [Path(p).name for p in paths], labels.tolist()
    (['c.png', 'a.jpg', 'b.png'], ['bolt', 'nut', 'nut'])
    """
    root = os.fspath(path)
    classes = class_folders(root)
    files = {name: list_class_files(os.path.join(root, name)) for name in classes}
    empty = [name for name, found in files.items() if not found]
    if empty:
        raise ValueError(
            f"Class folder(s) {empty} in {root!r} hold no image files (expected "
            f"files ending in {sorted(IMAGE_EXTENSIONS)}). Add images to them or "
            "move them out of the tree."
        )
    if len(classes) == 1:
        raise ValueError(
            f"{root!r} has only one class folder, {classes[0]!r}; a classifier "
            f"needs at least two. Add a folder per class ({LAYOUT})."
        )
    paths = [file for found in files.values() for file in found]
    labels = [name for name, found in files.items() for _ in found]
    return np.array(paths, dtype=object), np.array(labels, dtype=str)


def class_folders(root):
    """The class folders' names in ``root``, sorted; clear errors when
    ``root`` is missing, a file, or holds no class folder."""
    if not os.path.exists(root):
        raise FileNotFoundError(
            f"Image folder {root!r} does not exist. Expected a folder holding one "
            f"sub-folder per class ({LAYOUT}); check the path."
        )
    if not os.path.isdir(root):
        raise NotADirectoryError(
            f"{root!r} is a file, not a folder. Pass the folder that holds one "
            f"sub-folder per class ({LAYOUT})."
        )
    entries = list(os.scandir(root))  # exhausted, so closed
    classes = sorted(
        e.name for e in entries if e.is_dir() and not e.name.startswith(".")
    )
    if not classes:
        loose = sum(e.is_file() and is_image_file(e.name) for e in entries)
        found = f"it holds {loose} image files directly" if loose else "it is empty"
        raise ValueError(
            f"{root!r} has no class sub-folders ({found}). Put the images in one "
            f"folder per class: {LAYOUT}; the folder names become the labels."
        )
    return classes


def list_class_files(folder):
    """Image files under ``folder`` (recursively), sorted by relative path."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [os.path.join(parent, f) for f in files if is_image_file(f)]
    # Sort on the parts after the class folder, so that "a/x.png" < "a.png/"
    # never depends on the path separator.
    return sorted(found, key=lambda p: p[len(folder) + 1 :].split(os.sep))
