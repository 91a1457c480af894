"""Smoke test: the benchmark runner completes on a tiny corpus and writes every figure."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUERY_KINDS = ("latest", "topic", "provider", "related", "search", "article",
               "autocomplete_topic", "autocomplete_provider", "autocomplete_article")
FIGURES = {
    "cold_load_s", "yaml_floor_s", "cold_over_floor", "cold_load_peak_rss_mb", "sync_unchanged_s",
    "sync_1pct_changed_s", "sync_1pct_changed_pct_of_cold",
    *(f"{kind}_{pct}_ms" for kind in QUERY_KINDS for pct in ("p50", "p99")),
    "autocomplete_article_quality", "autocomplete_topic_quality",
    "autocomplete_provider_quality",
    "bot_sequential_p50_ms", "bot_sequential_p99_ms", "bot_burst50_p50_ms",
    "bot_burst50_p99_ms", "bot_peak_rss_mb",
}


def test_bench_runs_and_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "bench/run.py", "--sizes", "200", "--out", str(out),
         "--work", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())["results"]["200"]
    assert set(figures) == FIGURES
    for name, figure in figures.items():
        value = figure["value"]
        assert isinstance(value, int | float) and math.isfinite(value), name
        assert figure["status"] in {"PASS", "MISS", "info"}, name
    assert "cold_over_floor" in done.stdout  # the table was printed
