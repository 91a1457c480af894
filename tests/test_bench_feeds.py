"""Smoke test: the feed cycle benchmark serves, polls twice and reports every figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_feed_bench_polls_every_feed_then_gets_304s() -> None:
    done = subprocess.run(
        [sys.executable, "bench/feeds.py", "--feeds", "6", "--entries", "5"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    figures = {line.split()[0]: float(line.split()[1]) for line in done.stdout.splitlines()}
    assert figures["feeds_first_poll_new"] == 6
    assert figures["feeds_first_poll_failed"] == 0
    assert figures["feeds_items_parsed"] == 30
    assert figures["feeds_repoll_not_modified"] == 6
    assert figures["feeds_peak_rss_mb"] > 0
    assert "feeds_first_poll_s" in figures and "feeds_items_per_s" in figures
