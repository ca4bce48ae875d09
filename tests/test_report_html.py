"""The HTML report (posture.app.report.html): self-contained, complete, escaped, and drawn
right by a real browser (Debian's headless Chromium)."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posture.app.report.display import fmt_share, report_zone
from posture.app.report.html import render_html
from posture.core.stats import Band, EpisodeRow, Report
from posture.core.vocab import span as fmt_duration

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
DAY = date(2025, 3, 4)
SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
XLINK_NS = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
UPRIGHT_RGB = (0x00, 0x9E, 0x73)
SLOUCH_RGB = (0xD5, 0x5E, 0x00)
PAUSED_RGB = (0xE6, 0x9F, 0x00)
PAGE_RGB = (0xF3, 0xF4, 0xF6)
NO_DATA = (
    "No timeline: nothing was recorded in this period.",
    "No posture scores in this period.",
    "No hour with someone present in this period.",
    "No daily figures for this period.",
    "No episodes in this period.",
)


def ms(hour: int, minute: int = 0, second: int = 0, day: date = DAY) -> int:
    """A UTC wall-clock time as ms (the reports below are in UTC, so the page shows the
    same clock times whatever this computer's zone)."""
    utc = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=timezone.utc)
    return int(utc.timestamp() * 1000)


BANDS = (
    (ms(9), ms(9, 20), "upright"),
    (ms(9, 20), ms(9, 25), "slouch"),
    (ms(9, 25), ms(10), "upright"),
    (ms(10), ms(10, 10), "slouch"),
    (ms(10, 10), ms(10, 12), "slouch"),
    (ms(10, 12), ms(10, 30), "away"),
    (ms(10, 30), ms(10, 35), "paused"),
    (ms(10, 35), ms(11), "upright"),
    (ms(11), ms(11, 8), "slouch"),
    (ms(11, 8), ms(11, 15), "away"),
    (ms(11, 15), ms(12), "upright"),
)


def scores() -> tuple[tuple[int, float], ...]:
    out = []
    for start, end, kind in BANDS:
        if kind in ("upright", "slouch"):
            for t in range(start, end, 30_000):
                wobble = 0.05 * np.sin(t / 90_000)
                out.append((t, (1.4 if kind == "slouch" else 0.5) + float(wobble)))
    return tuple(out)


def make_report(**changes: Any) -> Report:
    report = Report(
        title="Posture report: Tuesday",
        since_ms=ms(9),
        until_ms=ms(12),
        tz="UTC",
        running=False,
        monitored_s=10_800.0,
        present_s=9_000.0,
        upright_s=6_300.0,
        upright_share=0.7,
        problem_s={
            "slouch": 1_500.0,
            "too_close": 600.0,
            "leaning": 300.0,
            "head_tilt": 200.0,
            "neck": 100.0,
        },
        episodes=(
            EpisodeRow(ms(9, 20), ms(9, 25), "slouch", 1.42),
            EpisodeRow(ms(10, 0, 5), ms(10, 12), "too_close", 1.2),
            EpisodeRow(ms(11), ms(11, 8), "slouch", None),
        ),
        episode_median_s=300.0,
        episode_longest_s=480.0,
        longest_upright_streak_s=2_520.0,
        away_s=1_500.0,
        breaks=2,
        paused_s=300.0,
        nudges=4,
        nudges_followed=3,
        worst_hour=10,
        worst_hour_share=0.55,
        hourly=((ms(9), 3_000.0, 0.8), (ms(10), 3_000.0, 0.55), (ms(11), 3_000.0, 0.75)),
        daily=tuple(
            ((DAY - timedelta(days=n)).isoformat(), 20_000.0, share)
            for n, share in zip(
                range(6, -1, -1), (0.6, 0.65, 0.71, None, None, 0.5, 0.7), strict=True
            )
        ),
        previous_upright_share=0.62,
        trend_points=8.0,
        bands=tuple(Band(s, e, k) for s, e, k in BANDS),
        scores=scores(),
    )
    return dataclasses.replace(report, **changes)


def empty_report() -> Report:
    return make_report(
        monitored_s=0.0,
        present_s=0.0,
        upright_s=0.0,
        upright_share=None,
        problem_s={},
        episodes=(),
        episode_median_s=None,
        episode_longest_s=None,
        longest_upright_streak_s=0.0,
        away_s=0.0,
        breaks=0,
        paused_s=0.0,
        nudges=0,
        nudges_followed=0,
        worst_hour=None,
        worst_hour_share=None,
        hourly=(),
        daily=(),
        previous_upright_share=None,
        trend_points=None,
        bands=(),
        scores=(),
    )


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(make_report())


def svgs(text: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", text, flags=re.S)


# ---------------------------------------------------------------------------------------
# The file on its own


def test_is_one_self_contained_file(page: str) -> None:
    low = page.lower()
    assert low.startswith("<!doctype html>")
    assert "<script" not in low
    assert "<link" not in low
    assert "<iframe" not in low and "<object" not in low and "<embed" not in low
    assert "<img" not in low
    assert "src=" not in low
    assert "@import" not in low
    assert "@font-face" not in low
    assert "data:" not in low
    # Every URL-ish reference points inside the page.
    assert all(ref.startswith("#") for ref in re.findall(r"url\(\s*([^)]*)\)", page))
    assert all(ref.startswith("#") for ref in re.findall(r'href="([^"]*)"', page))
    # The only http(s) strings are the SVG namespace declarations, one of each per chart.
    assert page.count(SVG_NS) == 4
    assert page.count(XLINK_NS) <= 4
    rest = page.replace(SVG_NS, "").replace(XLINK_NS, "").lower()
    assert "http:" not in rest
    assert "https:" not in rest
    assert "www." not in rest
    # No JavaScript hidden in attributes either.
    assert not re.search(r"\son[a-z]+\s*=", page)
    assert "javascript:" not in low


def test_phone_ready(page: str) -> None:
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<meta charset="utf-8">' in page
    assert "max-width" in page
    for svg in svgs(page):
        root = svg[: svg.index(">")]
        assert "viewBox=" in root
        assert not re.search(r"\s(width|height)=", root), "a fixed size stops it scaling"
    assert "svg.chart { display: block; width: 100%; height: auto; }" in page


def test_headline_figures(page: str) -> None:
    text = html.unescape(page)
    expected = [
        "Posture report: Tuesday",
        "Tue 4 Mar 2025, 09:00 – 12:00 (UTC)",
        # monitored, present, paused
        "3 h 00 min",
        "2 h 30 min",
        "83% of the monitored time",
        "paused 5 min",
        # upright share and the trend on the previous period (not by colour alone)
        "70%",
        "1 h 45 min upright",
        "▲ up 8 points",
        "on the previous period (62%)",
        # episodes: count, median, longest
        "Episodes (3)",
        "median 5 min · longest 8 min",
        # longest upright streak
        "42 min",
        # away and breaks
        "25 min",
        "2 breaks",
        # nudges followed by a correction within 60 s
        "3 of 4 followed by a correction within 60 s (75%)",
        # worst hour
        "10:00–11:00",
        "55% upright",
        # time per problem
        "Slouching / head forward",
        "Too close to the screen",
        "Leaning sideways",
        "Head tilted",
        "Neck bent forward",
        "10 min",
        "3 min 20 s",
        "1 min 40 s",
    ]
    missing = [s for s in expected if s not in text]
    assert not missing
    labels = re.findall(r'<div class="label">([^<]*)</div>', page)
    assert labels == [
        "Monitored",
        "At the desk",
        "Upright",
        "Episodes",
        "Longest upright streak",
        "Away",
        "Nudges",
        "Worst hour",
    ]
    values = re.findall(r'<div class="value">([^<]*)</div>', page)
    value = dict(zip(labels, values, strict=True))
    assert value == {
        "Monitored": "3 h 00 min",
        "At the desk": "2 h 30 min",
        "Upright": "70%",
        "Episodes": "3",
        "Longest upright streak": "42 min",
        "Away": "25 min",
        "Nudges": "4",
        "Worst hour": "10:00–11:00",
    }


def test_trend_down_and_missing() -> None:
    down = html.unescape(render_html(make_report(trend_points=-3.4)))
    assert "▼ down 3 points" in down
    flat = html.unescape(render_html(make_report(trend_points=0.2)))
    assert "the same as the previous period (62%)" in flat
    none = render_html(make_report(trend_points=None, previous_upright_share=None))
    assert "no earlier period to compare" in none


def test_four_inline_svg_charts(page: str) -> None:
    charts = svgs(page)
    assert len(charts) == 4
    labels = [re.findall(r'aria-label="([^"]*)"', c)[0] for c in charts]
    assert labels[0].startswith("Timeline")
    assert labels[1].startswith("Posture score")
    assert labels[2] == "Upright share per hour"
    assert labels[3] == "Upright share per day, last 7 days"
    for chart in charts:
        assert "<path" in chart
        assert "<?xml" not in chart and "<!DOCTYPE" not in chart and "<metadata" not in chart
    # Several charts on one page: no id may be defined twice, every reference resolves.
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'href="#([^"]+)"', page)) | set(re.findall(r"url\(#([^)]+)\)", page))
    assert refs <= set(ids)
    # The chart colours are there (Okabe-Ito), with hatching for the non-upright kinds.
    low = page.lower()
    for colour in ("#009e73", "#d55e00", "#999999", "#e69f00", "#0072b2"):
        assert colour in low
    assert low.count("<pattern") >= 3


def test_legends_say_it_in_words(page: str) -> None:
    text = html.unescape(page)
    for words in (
        'Upright <span class="extra">2 h 05 min</span>',
        'Slouching <span class="extra">25 min</span>',
        'Away <span class="extra">25 min</span>',
        'Paused <span class="extra">5 min</span>',
        "threshold 1.0",
        "worst hour",
        'whole period <span class="extra">70%</span>',
    ):
        assert words in text


def test_episodes_table(page: str) -> None:
    table = page[page.index("<table>") : page.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == 1 + 3
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows[1:]]
    assert cells[0] == ["09:20:00", "09:25:00", "5 min", "Slouching / head forward", "1.42"]
    assert cells[1] == ["10:00:05", "10:12:00", "11 min 55 s", "Too close to the screen", "1.20"]
    assert cells[2] == ["11:00:00", "11:08:00", "8 min", "Slouching / head forward", "—"]


def test_hostile_text_is_escaped() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)> & </style>'
    report = make_report(
        title=evil,
        tz="<b>tz</b>",
        problem_s={"<i>odd</i>": 60.0},
        episodes=(EpisodeRow(ms(9, 20), ms(9, 25), "<u>kind</u>", 1.1),),
        daily=(("<x>", 10.0, 0.5),),
    )
    page = render_html(report)
    low = page.lower()
    assert "<script" not in low
    assert "<img" not in low
    assert "onerror" not in page.replace("onerror=alert(1)&gt;", "")
    assert "<b>" not in page and "<i>" not in page and "<u>" not in page and "<x>" not in page
    escaped = html.escape(evil, quote=True)
    assert f"<title>{escaped}</title>" in page
    assert f"<h1>{escaped}</h1>" in page
    assert page.count("</style>") == 1
    assert "&lt;b&gt;tz&lt;/b&gt;" in page
    assert "&lt;u&gt;kind&lt;/u&gt;" in page


def test_empty_report_says_no_data() -> None:
    page = render_html(empty_report())
    assert "<svg" not in page
    for line in NO_DATA:
        assert f'<p class="nodata">{html.escape(line)}</p>' in page
    text = html.unescape(page)
    assert '<div class="value">—</div>' in text  # no upright share, no worst hour
    assert "no earlier period to compare" in text
    assert "no nudge was sent" in text
    assert "none in this period" in text
    assert "<h2>Upright share per day</h2>" in text
    # Still the whole page: the headline and the list of problems, all at zero.
    assert text.count('class="stat"') == 8
    assert "Neck bent forward" in text


def test_partly_empty_report() -> None:
    page = render_html(make_report(scores=(), hourly=((ms(9), 0.0, None),), daily=()))
    assert len(svgs(page)) == 1  # only the timeline
    for line in NO_DATA[1:4]:
        assert line in html.unescape(page)
    one = render_html(make_report(scores=((ms(9), 0.4),), bands=(Band(ms(9), ms(9), "upright"),)))
    assert "No timeline" in one  # an empty band is no band
    assert len(svgs(one)) == 3


def test_running_session() -> None:
    page = render_html(make_report(running=True))
    assert "Still running: the figures go up to 12:00" in page
    assert "Still running" not in render_html(make_report())


def history(days: list[date], score_step_ms: int) -> tuple[list[Band], list[tuple[int, float]]]:
    """Office days of short alternating stretches (upright, slouch, upright, away)."""
    bands = []
    score_rows = []
    for d in days:
        t = ms(8, 0, 0, d)
        end = ms(18, 0, 0, d)
        i = 0
        while t < end:
            kind = ("upright", "slouch", "upright", "away")[i % 4]
            length = (70_000, 20_000, 50_000, 15_000)[i % 4]
            bands.append(Band(t, t + length, kind))
            if kind != "away":
                value = 0.5 if kind == "upright" else 1.3
                score_rows += [(s, value) for s in range(t, t + length, score_step_ms)]
            t += length
            i += 1
    return bands, score_rows


def long_report(days: list[date], score_step_ms: int = 1000) -> Report:
    bands, score_rows = history(days, score_step_ms)
    return make_report(
        since_ms=ms(8, 0, 0, days[0]),
        until_ms=ms(18, 0, 0, days[-1]),
        bands=tuple(bands),
        scores=tuple(score_rows),
        hourly=tuple((ms(h, 0, 0, d), 3000.0, 0.5 + h / 100) for d in days for h in range(8, 18)),
        daily=tuple((d.isoformat(), 30_000.0, 0.6) for d in days),
        episodes=tuple(
            EpisodeRow(b.start_ms, b.end_ms, "slouch", 1.3) for b in bands if b.kind == "slouch"
        ),
    )


def test_several_days() -> None:
    """A few days: the timeline gets a row per day, the table dates its rows, and the page
    stays small however many samples there are."""
    days = [DAY - timedelta(days=n) for n in range(4, -1, -1)]
    report = long_report(days)
    assert len(report.bands) > 4000 and len(report.scores) > 100_000
    page = render_html(report)
    assert len(page) < 400_000
    assert len(svgs(page)) == 4
    timeline = svgs(page)[0]
    assert timeline.count('<g id="timeline-ytick_') == len(days)
    first_row = re.search(r"<tbody><tr><td>([^<]*)</td>", page)
    assert first_row is not None and first_row.group(1).startswith("Fri 28 Feb ")
    assert "And " in page and "more, not listed." in page
    assert "Upright share per day, last 5 days" in page


def test_a_long_period_stays_small() -> None:
    """Two months: the timeline keeps the latest days, the page stays small."""
    days = [DAY - timedelta(days=n) for n in range(59, -1, -1)]
    page = render_html(long_report(days, score_step_ms=10_000))
    assert len(page) < 600_000
    timeline = svgs(page)[0]
    assert timeline.count('<g id="timeline-ytick_') == 14
    assert "The last 14 of the 60 days with a record." in page
    assert len(re.findall(r"<tr>", page)) == 1 + 200


def test_times_show_in_the_report_zone() -> None:
    india = html.unescape(render_html(make_report(tz="UTC+05:30")))
    assert "Tue 4 Mar 2025, 14:30 – 17:30 (UTC+05:30)" in india
    assert "<td>14:50:00</td><td>14:55:00</td>" in india
    # A zone this computer does not know: its own local time.
    unknown = html.unescape(render_html(make_report(tz="Nowhere/Unknown")))
    start, end = (datetime.fromtimestamp(t / 1000) for t in (ms(9), ms(12)))
    assert f"{start:%H:%M} – {end:%H:%M} (Nowhere/Unknown)" in unknown


def test_report_zone() -> None:
    assert report_zone("UTC") == timezone.utc
    assert report_zone("UTC-03:00") == timezone(-timedelta(hours=3))
    assert report_zone("UTC+99:00") is None
    assert report_zone("Nowhere/Unknown") is None
    assert report_zone("../../etc/passwd") is None
    assert report_zone("") is None


def test_deterministic(page: str) -> None:
    assert render_html(make_report()) == page


def test_formatting() -> None:
    assert fmt_duration(None) == "—"
    assert fmt_duration(float("nan")) == "—"
    assert fmt_duration(0) == "0 s"
    assert fmt_duration(59.4) == "59 s"
    assert fmt_duration(60) == "1 min"
    assert fmt_duration(185) == "3 min 05 s"
    assert fmt_duration(3600) == "1 h 00 min"
    assert fmt_duration(7_620) == "2 h 07 min"
    assert fmt_share(None) == "—"
    assert fmt_share(0.0) == "0%"
    assert fmt_share(0.666) == "67%"
    assert fmt_share(1.0) == "100%"


def test_matplotlib_loaded_lazily_and_never_pyplot() -> None:
    code = (
        "import sys\n"
        "import posture.app.report.html\n"
        "assert 'matplotlib' not in sys.modules, 'imported at module level'\n"
        "import tests.test_report_html as t\n"
        "posture.app.report.html.render_html(t.make_report())\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was used'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------
# A real browser


def screenshot(html_file: Path, png: Path, width: int, height: int, profile: Path) -> np.ndarray:
    """Headless Chromium's screenshot of the page, as an (h, w, 3) array of 0..255."""
    import matplotlib.image as mpimg

    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--screenshot={png}",
        html_file.as_uri(),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file(), f"no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    image = np.asarray(mpimg.imread(str(png)), dtype=float)[..., :3]
    if image.max() <= 1.0:
        image = image * 255.0
    assert image.shape[:2] == (height, width)
    return image


def near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: float = 12.0) -> int:
    """How many pixels are within `tolerance` (per channel) of the colour."""
    return int(np.all(np.abs(image - np.array(rgb, dtype=float)) <= tolerance, axis=-1).sum())


@pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason=f"{CHROMIUM} is missing (Debian: apt-get install chromium); CI installs it",
)
def test_browser_renders_the_report(tmp_path: Path, page: str) -> None:
    html_file = tmp_path / "report.html"
    html_file.write_text(page, encoding="utf-8")

    desktop = screenshot(html_file, tmp_path / "desktop.png", 1200, 3000, tmp_path / "p1")
    assert desktop.std() > 20, "the page came out blank"
    assert near(desktop, PAGE_RGB) > 50_000  # the page background
    # The charts are drawn: many pixels of the band colours (the timeline, the bars).
    assert near(desktop, UPRIGHT_RGB) > 20_000
    assert near(desktop, SLOUCH_RGB) > 3_000
    assert near(desktop, PAUSED_RGB) > 300
    # Dark text is there too (the headline figures).
    assert int((desktop.max(axis=-1) < 80).sum()) > 5_000

    phone = screenshot(html_file, tmp_path / "phone.png", 390, 2400, tmp_path / "p2")
    assert phone.std() > 20, "the phone layout came out blank"
    assert near(phone, UPRIGHT_RGB) > 3_000
    # Nothing sticks out on the right (or left): the edge columns are page background
    # all the way down, so the page is no wider than the phone.
    for edge in (phone[:, -6:], phone[:, :6]):
        assert near(edge, PAGE_RGB, tolerance=3) == edge.shape[0] * edge.shape[1]
    # And the cards do reach nearly to the edge: the layout follows the phone's width.
    white = np.all(phone >= 254, axis=-1)
    assert white[:, 360:378].any() and white[:, 12:30].any()
