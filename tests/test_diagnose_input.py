"""What diagnose's model checks train on when X is image files: the quick
CNN gets the files decoded once (small sets), a cnnfix CNN the paths, any
other estimator one decoded array."""

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression

from cnnfix import DropoutCNN, diagnose
from cnnfix.datasets import load_image_folder
from cnnfix.diagnostics.diagnose import training_input


@pytest.fixture
def files(tmp_path):
    """30 colour PNGs of mixed sizes in three class folders."""
    rng = np.random.default_rng(0)
    for i in range(30):
        folder = tmp_path / ("cat", "dog", "fox")[i % 3]
        folder.mkdir(exist_ok=True)
        size = (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3)
        pixels = rng.integers(0, 256, size=size, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return load_image_folder(tmp_path, as_paths=True)


def test_the_quick_cnn_gets_the_files_decoded_once_when_they_are_small(files):
    paths, _ = files
    images = training_input(paths, (16, 12, 3), None)
    assert images.dtype == np.uint8 and images.shape == (30, 16, 12, 3)
    # Over the byte limit the quick CNN streams the paths instead.
    limit = 30 * 16 * 12 * 3 - 1
    streamed = training_input(paths, (16, 12, 3), None, max_bytes=limit)
    assert streamed is paths


def test_a_given_cnn_gets_paths_and_another_estimator_an_array(files):
    paths, _ = files
    assert training_input(paths, (16, 12, 3), DropoutCNN()) is paths
    decoded = training_input(paths, (16, 12, 3), LogisticRegression())
    assert decoded.shape == (30, 16, 12, 3)


def test_diagnose_trains_its_quick_cnn_on_decoded_pixels(files, monkeypatch):
    """Through the public entry point: the quick CNN's fit receives uint8
    pixels at the working size, not file names (the fit is cut short)."""
    paths, labels = files
    received = []

    class Stop(Exception):
        pass

    def recording(self, X, y, **kwargs):
        received.append(np.asarray(X))
        raise Stop

    monkeypatch.setattr(DropoutCNN, "fit", recording)
    with pytest.raises(Stop):
        diagnose(paths, labels, checks="labels", image_size=(16, 12), cv=2)
    (X,) = received
    assert X.dtype == np.uint8 and X.shape[1:] == (16, 12, 3)
