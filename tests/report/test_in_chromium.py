"""The report opened in headless Chromium: no console message, and a screenshot that is not blank.

Chromium prints each console message of the page on stderr (`--enable-logging=stderr`) as
`...:CONSOLE:<line>] "<message>"`; the report has no script, so any such line is a fault. Skipped where
Chromium is absent (`make test` installs it: scripts/chromium.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from gaelp.report import load_input, write_report

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is absent: `apt-get install chromium` "
                                                         "(make test installs it through scripts/chromium.sh)")


def open_page(page: Path, tmp_path: Path, height: int = 2400) -> tuple[list[str], np.ndarray]:
    """The console lines Chromium logged for `page` and its screenshot, (height, 1200, channels) floats."""
    shot = tmp_path / f"{page.stem}.png"
    profile = tmp_path / f"profile-{page.stem}"  # a fresh profile: nothing from an earlier run
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--hide-scrollbars", f"--window-size=1200,{height}", f"--screenshot={shot}", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists(), f"no screenshot; chromium exited {done.returncode}:\n{done.stderr[-2000:]}"
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line], imread(shot)


def test_the_check_catches_console_errors_and_blank_pages(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); nope();</script></body></html>')
    console, shot = open_page(broken, tmp_path, height=600)
    assert any("boom" in line for line in console) and any("nope" in line for line in console)
    assert shot[..., :3].std() < 0.01  # nothing drawn: a blank page


def test_the_report_loads_without_console_messages_and_is_not_blank(run_folder, tmp_path):
    page = write_report(load_input(run_folder), tmp_path / "report.html")
    console, shot = open_page(page, tmp_path)
    assert console == []
    rgb = shot[..., :3]
    assert rgb.std() > 0.1  # text and plots on white
    assert (rgb.mean(axis=2) < 0.5).mean() > 0.01  # ink on at least 1% of the page
