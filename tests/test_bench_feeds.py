"""Smoke test: the feed cycle benchmark polls into a real store twice and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SEARCH_FIGURES = ("feeds_search_idle_p99_ms", "feeds_search_during_poll_p50_ms",
                  "feeds_search_during_poll_p99_ms", "feeds_search_during_poll_max_ms")


def _figures(stdout: str) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[1]) for line in stdout.splitlines()}


def test_feed_bench_stores_every_feed_then_gets_304s() -> None:
    done = subprocess.run(
        [sys.executable, "bench/feeds.py", "--feeds", "6", "--entries", "5", "--corpus", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    figures = _figures(done.stdout)
    assert figures["feeds_first_poll_new"] == 6
    assert figures["feeds_first_poll_failed"] == 0
    assert figures["feeds_entries_stored"] == 30
    # The seeds' articles were in the store first; a story two feeds carry is one article.
    assert figures["feeds_corpus_articles"] > 0
    assert 0 < figures["feeds_articles_added"] <= 30
    assert figures["feeds_repoll_not_modified"] == 6
    assert figures["feeds_peak_rss_mb"] > 0
    assert figures["feeds_search_during_poll_count"] >= 1
    assert all(figures[name] > 0 for name in SEARCH_FIGURES)
    assert "feeds_first_poll_s" in figures and "feeds_items_per_s" in figures
    for name in ("feeds_first_poll_s", "feeds_repoll_s", "feeds_search_during_poll_p99_ms"):
        assert "PASS" in _line(done.stdout, name) or "MISS" in _line(done.stdout, name)


def _line(stdout: str, name: str) -> str:
    return next(line for line in stdout.splitlines() if line.split()[0] == name)


def test_feed_figures_go_into_the_results_file_under_feeds(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"meta": {"seed": 0}, "results": {"1000": {}}}))
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", "import sys; from pathlib import Path; from bench import feeds; "
         "feeds.record(Path(sys.argv[1]), 3, feeds.SEEDS)", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    payload = json.loads(out.read_text())
    assert payload["meta"] == {"seed": 0} and payload["results"] == {"1000": {}}
    assert payload["feeds"]["feeds_first_poll_new"]["value"] == 3
    assert payload["feeds"]["feeds_repoll_not_modified"]["value"] == 3
    assert payload["feeds"]["feeds_search_during_poll_p99_ms"]["target"] == 50
    assert payload["feeds"]["feeds_repoll_s"]["status"] in ("PASS", "MISS")
