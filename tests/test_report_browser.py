"""The HTML report of `cnnfix diagnose <folder> --html`, opened in a real
headless browser (Chromium): the page renders and every thumbnail loads.

Chromium comes from `apt-get install -y chromium` (.ci/run installs it and
sets CNNFIX_CI=1, so there a missing browser fails the test instead of
skipping it).
"""

import re
import shutil
import subprocess

import numpy as np
from PIL import Image

from cnnfix.__main__ import main

from .conftest import require
from .test_main import part_folder  # noqa: F401 - the fixture

BROWSER = next(
    (
        shutil.which(n)
        for n in ("chromium", "chromium-browser", "google-chrome")
        if shutil.which(n)
    ),
    None,
)

#: Appended to a copy of the report: after load, records on <body> how many
#: images the page has and how many decoded to a non-empty picture.
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", images.length + "/" + loaded);
});
</script>
"""


def chromium(*args):
    if BROWSER is None:
        require("A headless browser (Chromium)", "apt-get install -y chromium")
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_report_renders_with_every_thumbnail_loaded(part_folder, tmp_path):  # noqa: F811
    page = tmp_path / "report.html"
    main(["diagnose", str(part_folder), "--checks", "data", "--html", str(page)])
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))

    dom = chromium("--dump-dom", probe.as_uri()).stdout
    found = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert found, dom[-500:]
    images, loaded = map(int, found.groups())
    # grey.png, copy.png and 00.png (the duplicates) at least; the corrupt
    # file is named, not shown.
    assert images >= 3
    assert loaded == images

    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1000,700", page.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    # Not an empty page: text and thumbnails make dark pixels on white.
    assert pixels.std() > 5 and (pixels < 128).mean() > 0.002
