"""The interactive HTML map: self-contained, one thumbnail per point, and in a real browser
(Debian's `chromium`, headless) it draws the points and shows a point's image on hover."""

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from drlim.plots import interactive
from drlim.report import make_figures

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium package (apt-get install -y chromium)"
)
# Each point's customdata in plotly's JSON, which writes '/' as \u002f.
POINT_THUMBNAIL = re.compile(r'\[(\d+),"data:image/png;base64,([A-Za-z0-9+/=]+)"\]')
TAB_BLUE, TAB_ORANGE = to_rgb("tab:blue"), to_rgb("tab:orange")


def digits_like(n, seed=0, size=28):
    """Points in two blobs labelled 4 and 9, each with a random uint8 image."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.5, 4, 9)
    z = rng.normal(size=(n, 2)) + np.where(labels == 4, -2.0, 2.0)[:, None]
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    return z, labels, images


def thumbnails_in(page):
    """{point index: its thumbnail as a uint8 array}, read back from the page."""
    found = POINT_THUMBNAIL.findall(page.replace("\\u002f", "/"))
    return {int(i): np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
            for i, data in found}


def test_page_is_self_contained_with_each_points_thumbnail_and_label():
    z, labels, images = digits_like(40)
    page = interactive(z, labels=labels, images=images, title="4 & 9", label_name="digit")
    assert page.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", page)
    thumbnails = thumbnails_in(page)
    assert sorted(thumbnails) == list(range(40))
    for i, thumbnail in thumbnails.items():  # dark ink on white, pixel for pixel
        np.testing.assert_array_equal(thumbnail, 255 - images[i])
    for value in (4, 9):
        assert f'"name":"{value}"' in page and f'"meta":"digit {value}"' in page
    assert "<title>4 &amp; 9</title>" in page


def test_float_images_give_the_same_thumbnails_and_path_writes_the_same_page(tmp_path):
    z, labels, images = digits_like(10, seed=1)
    page = interactive(z, labels=labels, images=images)
    written = interactive(z, labels=labels, images=images / 255.0, path=tmp_path / "map.html")
    assert written == tmp_path / "map.html"
    assert written.read_text() == page
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]  # no temporary file left


def test_without_labels_or_images_there_is_no_legend_nor_image_panel():
    z, _, _ = digits_like(20, seed=2)
    page = interactive(z)
    assert '"showlegend":false' in page
    assert "drlim-thumbnail" not in page and "drlim-caption" not in page  # panel and script
    assert thumbnails_in(page) == {}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"z": np.zeros((5, 3))}, "z"),
        ({"z": np.zeros((0, 2))}, "z"),
        ({"z": np.array([[0.0, np.nan]] * 5)}, "z"),
        ({"z": np.array([["a", "b"]] * 5)}, "z"),
        ({"labels": np.zeros(4)}, "labels"),
        ({"images": np.zeros((4, 8, 8), np.uint8)}, "images"),
        ({"images": np.zeros((5, 64), np.uint8)}, "images"),
        ({"images": np.full((5, 8, 8), 1.5)}, "images"),
        ({"images": np.zeros((5, 8, 8), np.int64)}, "images"),
        ({"title": 3}, "title"),
        ({"label_name": None}, "label_name"),
        ({"marker_size": 0}, "marker_size"),
        ({"marker_size": True}, "marker_size"),
    ],
)
def test_bad_inputs_raise_one_line_errors_naming_the_argument(kwargs, name):
    arguments = {"z": np.zeros((5, 2))} | kwargs
    z = arguments.pop("z")
    with pytest.raises(ValueError, match=rf"^{name} must .+, got .+") as error:
        interactive(z, **arguments)
    assert "\n" not in str(error.value)


def test_figures_write_the_interactive_map_of_an_mnist_4_9_run(tmp_path):
    run, out = tmp_path / "run", tmp_path / "figures"
    run.mkdir()
    z, labels, images = digits_like(30, seed=3, size=32)
    np.savez(run / "embeddings.npz", z_test=z, label_test=labels, images_test=images)
    config = {"name": "mnist-4-9", "figure": "fig4_mnist_4_9", "kind": "drlim",
              "dataset": "mnist-4-9", "graph": "knn", "targets": []}
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.json").write_text("{}")
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss_similar": 1 / s, "loss_dissimilar": 2 / s}) + "\n"
                for s in (10, 20))
    )
    written = make_figures([run], out)
    page = out / "fig4_mnist_4_9_interactive.html"
    assert page in written
    assert sorted(thumbnails_in(page.read_text())) == list(range(30))


def chromium(url, tmp_path, *flags):
    """Run headless chromium on ``url``; return (stdout, the page's console lines)."""
    result = subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", *flags, url],
        capture_output=True, text=True, timeout=180, check=True,
    )
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


@needs_chromium
def test_the_browser_check_sees_javascript_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    _, console = chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console)


@needs_chromium
def test_page_loads_in_chromium_without_errors_and_draws_the_points(tmp_path):
    z, labels, images = digits_like(2000)
    path = interactive(z, labels=labels, images=images, path=tmp_path / "map.html")
    shot = tmp_path / "shot.png"
    _, console = chromium(path.as_uri(), tmp_path, f"--screenshot={shot}",
                          "--window-size=1000,760")
    assert console == [], console
    pixels = np.asarray(Image.open(shot).convert("RGB"))[:, :, :3] / 255.0
    plot_area = pixels[100:690, 60:700]  # inside the map, left of the legend and the panel

    def near(colour):
        return int((np.abs(plot_area - colour).max(axis=-1) < 0.12).sum())

    assert (plot_area.min(axis=-1) < 0.9).mean() > 0.05  # many drawn pixels
    assert near(TAB_BLUE) > 2000 and near(TAB_ORANGE) > 2000  # both labels' colours


@needs_chromium
def test_hovering_a_point_shows_its_thumbnail_and_label(tmp_path):
    z, labels, images = digits_like(300, seed=4)
    page = interactive(z, labels=labels, images=images, label_name="digit")
    # A real mouse move over the first point of the second trace (the 9s), once the map is drawn.
    probe = """<script>
    window.addEventListener('load', function () { setTimeout(function () {
        var map = document.getElementById('drlim-map');
        var trace = map._fullData[1], layout = map._fullLayout;
        var drag = map.querySelector('.nsewdrag'), box = drag.getBoundingClientRect();
        drag.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
            clientX: box.left + layout.xaxis.l2p(trace.x[0]),
            clientY: box.top + layout.yaxis.l2p(trace.y[0])}));
    }, 500); });
    </script></body>"""
    path = tmp_path / "probe.html"
    path.write_text(page.replace("</body>", probe))
    dom, console = chromium(path.as_uri(), tmp_path, "--dump-dom", "--window-size=1000,760")
    assert console == [], console
    hovered = int(np.flatnonzero(labels == 9)[0])
    caption = re.search(r'<div id="drlim-caption">([^<]*)</div>', dom).group(1)
    assert caption == f"digit 9, point {hovered}"
    src = re.search(r'<img id="drlim-thumbnail"[^>]*\bsrc="data:image/png;base64,([^"]+)"',
                    dom).group(1)
    thumbnail = np.asarray(Image.open(io.BytesIO(base64.b64decode(src))))
    np.testing.assert_array_equal(thumbnail, 255 - images[hovered])
