"""report.html: self-contained, escaped, every section present; renders in headless Chromium."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from slmconvert.report import render_html
from tests.report.sample import sample_report

CHROMIUM = Path("/usr/bin/chromium")
# a 1x1 PNG standing in for the cluster stage's map
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc000000301010018dd8db00000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(sample_report(), PIXEL)


def test_every_section_and_number_is_there(html):
    for heading in ("Task clusters", "Per-cluster quality and decisions", "What moves, and what it saves",
                    "Cost against quality", "Over time", "Drift on the newest logs", "How these numbers were measured"):
        assert heading in html
    # metric intervals, share moved, per-cluster curves over thresholds, cost-quality, escalation over time
    assert html.count("<svg") == 5
    assert "data:image/png;base64," in html
    assert "17.9%" in html and "29.0%" in html  # cost cut, share of calls moved
    assert "0.980 [0.930–0.990] n=48" in html
    # the cascade decision: signal and its AUROC, threshold, coverage (cost), agreement of the kept calls
    assert "min_logprob (0.91)" in html and "-0.420" in html and "72.0% (69.0%)" in html
    assert "0.988 [0.936–0.998] n=86" in html


def test_self_contained_and_escaped(html):
    assert "<script" not in html.replace("&lt;script&gt;", "")  # the label's markup is escaped, never live
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "url(http" not in html and "@import" not in html


def test_missing_parts_degrade_to_notes():
    page = render_html({"version": "v", "clusters": [], "economics": {}, "history": []}, None)
    assert "nothing to plot yet" in page and "no map image" in page


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _chromium(page: Path, shot: Path, profile: Path) -> list[str]:
    """Screenshot `page`; returns the console / network error lines Chromium logged."""
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--host-resolver-rules=MAP * ~NOTFOUND",  # any network fetch would fail (and be logged)
         f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line or "net::ERR" in line]


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium not installed (/usr/bin/chromium); install the Debian package `chromium`",
)


@needs_chromium
def test_renders_in_headless_chromium(tmp_path, html):
    page = tmp_path / "report.html"
    page.write_text(html)
    shot = tmp_path / "shot.png"
    assert _chromium(page, shot, tmp_path / "profile") == []
    assert _png_size(shot) == (1280, 2400)
    assert shot.stat().st_size > 30_000  # a blank page compresses to a few KB


@needs_chromium
def test_console_errors_are_detected(tmp_path):
    """The check above can fail: a page that logs an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("boom")</script>x</body></html>')
    errors = _chromium(page, tmp_path / "bad.png", tmp_path / "profile")
    assert any("boom" in line for line in errors)


def test_interval_plot_tolerates_bounds_a_rounding_error_past_the_value():
    from slmconvert.report import plots

    clusters = [{"cluster_id": 0, "label": "x", "primary_metric": "strict_agreement",
                 "specialist": {"value": 0.0, "low": 1e-17, "high": 0.4, "n": 6},
                 "base": {"value": 1.0, "low": 0.6, "high": 1.0 - 1e-16, "n": 6}},
                {"cluster_id": 1, "label": "y", "specialist": {"value": 0.5, "low": None, "high": None, "n": 0}}]
    assert plots.metric_intervals(clusters, 0.9).startswith("<svg")
