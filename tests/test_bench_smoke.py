"""Smoke test: the benchmark runner completes on a tiny corpus and writes every figure."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHAPE = ("files", "articles", "articles_per_file", "stubs_per_file_mean", "stubs_per_file_p50",
         "stubs_per_file_p90", "stubs_per_file_max", "files_without_stubs",
         "stubs_with_own_file", "versions_per_article_mean", "versions_per_article_max",
         "files_per_full_article_max", "topics_per_article_mean", "providers_per_file_mean",
         "providers")
QUERY_KINDS = ("latest", "topic", "provider", "related", "search", "article",
               "autocomplete_topic", "autocomplete_provider", "autocomplete_article")
FIGURES = {
    "cold_load_s", "yaml_floor_s", "cold_over_floor", "cold_load_peak_rss_mb", "sync_unchanged_s",
    "sync_1pct_changed_s", "sync_1pct_changed_pct_of_cold",
    *(f"{kind}_{pct}_ms" for kind in QUERY_KINDS for pct in ("p50", "p99")),
    "autocomplete_article_quality", "autocomplete_topic_quality",
    "autocomplete_provider_quality",
    "index_traced_mb", "sync_add10_cpu_ms", "index_update_add10_cpu_ms", "sync_remove10_cpu_ms",
    "index_update_remove10_cpu_ms", "index_catch_up_add10_cpu_ms",
    "index_catch_up_remove10_cpu_ms", "sync_add10_apart_cpu_ms", "sync_add10_loop_held_ms",
    "sync_remove10_apart_cpu_ms", "sync_remove10_loop_held_ms",
    "question_understanding_p50_ms", "question_understanding_p99_ms", "ask_p50_ms",
    "ask_p99_ms", "ask_quality_top5_pct",
    "bot_sequential_p50_ms", "bot_sequential_p99_ms", "bot_latest_p99_ms", "bot_topic_p99_ms",
    "bot_search_p99_ms", "bot_sequential_max_ms", "bot_burst50_p50_ms", "bot_burst50_p99_ms",
    "bot_cpu_per_command_ms", "bot_cpu_per_burst50_ms", "bot_rss_after_start_mb",
    "bot_rss_end_mb", "bot_resync_s", "bot_rss_after_resync_mb", "bot_peak_rss_mb",
    "bot_gc_full_collections",
    "bot_gc_full_max_ms", "bot_gc_young_max_ms",
    "typo_overhead_p99_ms", "typo_correction_p99_ms", "typo_search_p99_ms",
    "typo_search_typed_right_p99_ms", "typo_corrected_fraction",
    "vocabulary_traced_mb", "vocabulary_words", "vocabulary_update10_cpu_ms",
    *(f"shape_{name}" for name in SHAPE),
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
    # The corpus' shape, beside the same figures of seeds/ and of the 22 real files.
    assert "shape of the corpus" in done.stdout
    shape_row = next(line for line in done.stdout.splitlines()
                     if line.startswith("articles_per_file"))
    assert shape_row.split()[1:] == [f"{figures['shape_articles_per_file']['value']:.2f}",
                                     "7.50", "3.40"]
    meta = json.loads(out.read_text())["meta"]
    assert meta["seeds_shape"]["articles"] == 15
