"""report.html: self-contained, complete, and readable in a real (headless) browser."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from dgr_fakes import NaNGenerator

import dgr
from dgr.seeds import INITIAL_ROUND, REFINEMENT_ROUND, derive_seed

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Page(HTMLParser):
    """The tags and attributes of a page, and every URL it would fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def fetched(self) -> list[str]:
        return [a[k] for _, a in self.tags for k in ("src", "href") if a.get(k)]


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished run with refined images (NaN originals) and unresolved ones (class 1: every candidate NaN)."""
    broken = {derive_seed(0, c, 0, INITIAL_ROUND, 0) for c in range(10)}
    broken |= {derive_seed(0, 1, 0, REFINEMENT_ROUND, i) for i in range(3)}
    result = dgr.distill(recipe="paper", generator=NaNGenerator(broken), ipc=3, candidates=3,
                         out=tmp_path_factory.mktemp("report") / "run")
    assert result.complete and result.report.exists()
    return result.out


def test_report_is_self_contained_and_shows_every_part(run):
    page = parse(run / "report.html")
    text = (run / "report.html").read_text()
    assert all(url.startswith("data:image/png;base64,") for url in page.fetched())
    assert not page.all("link") and not page.all("script")
    records = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    changed = [r for r in records if r["replaced"]]
    assert len(changed) == 10 and sum(r["status"] == "unresolved" for r in changed) == 1
    images = page.all("img")
    assert len(images) == len(records) + 2 * len(changed)  # grids + (original, candidate) pairs
    first = base64.b64decode(images[0]["src"].split(",", 1)[1])
    assert first == (run / records[0]["file"]).read_bytes()
    assert len(page.all("figure")) == len(changed)
    for r in changed:
        assert f"confidence {r['confidence']:.3f}" in text and f"uniqueness {r['uniqueness']:.3f}" in text
    assert len(page.all("svg")) == 1 and text.count("<rect") >= 30  # three rects per class bar
    assert "1: 1 of 3 flagged, 0 refined, 1 unresolved" in text
    for part in ("Anomaly rate per class", "Configuration", "Timings", "synthesis", "confidence-uniqueness"):
        assert part in text


def test_report_command_rebuilds_it_and_refuses_other_folders(run, tmp_path):
    from dgr.cli import cli

    target = tmp_path / "copy.html"
    result = CliRunner().invoke(cli, ["report", str(run), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target)
    assert target.read_text() == (run / "report.html").read_text()
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path} holds no dgr run (no run.json); pass the --out folder of `dgr distill`"]


def test_report_of_an_unfinished_run_shows_the_classes_that_are_in(tmp_path):
    from dgr.report import write_report
    from dgr_fakes import EchoGenerator

    result = dgr.distill(recipe="paper", generator=EchoGenerator(), ipc=2, candidates=2, out=tmp_path / "run", classes=[0, 1])
    assert not result.complete and not result.report.exists()
    page = write_report(result.out)
    text = page.read_text()
    assert "2 of 10 classes are in" in text and len(parse(page).all("section")) == 2


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")
def test_report_renders_in_headless_chromium(run, tmp_path):
    from PIL import Image

    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--hide-scrollbars"]
    url = (run / "report.html").as_uri()
    shot = tmp_path / "report.png"
    done = subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,1400", url],
                          capture_output=True, text=True, timeout=180)
    assert shot.exists(), done.stderr
    with Image.open(shot) as picture:
        assert picture.size == (1280, 1400)
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50  # text, images and chart, not a blank page
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    assert dom.count("<img") == len(parse(run / "report.html").all("img")) and "<svg" in dom


def test_many_classes_get_an_index_page_and_one_page_per_class(run, tmp_path, monkeypatch):
    """Above PAGED_ABOVE classes (ImageNet-1K: 1000), report.html holds one thumbnail and one link
    a class; each class's grid and refinements are on a self-contained page of its own."""
    from dgr import report

    monkeypatch.setattr(report, "PAGED_ABOVE", 5)  # this run has 10 classes
    target = report.write_report(run, tmp_path / "report.html")
    page = parse(target)
    links = [a["href"] for a in page.all("a")]
    assert links == [f"report-classes/{i:04d}.html" for i in range(10)]
    assert len(page.all("img")) == 10 and all(int(i["width"]) <= report.INDEX_THUMBNAIL for i in page.all("img"))
    records = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    for i, link in enumerate(links):
        class_page = parse(tmp_path / link)
        assert all(u.startswith("data:image/png;base64,") for u in class_page.fetched() if u != "../report.html")
        shown = [img["alt"] for img in class_page.all("img") if img.get("title", "").startswith("#")]
        assert shown == [r["file"] for r in records if r["class_index"] == i]
