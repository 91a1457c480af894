"""Benchmark runner: load, sync, query, autocomplete and bot figures for corpora of N files.

    python bench/run.py [--sizes 1000,10000,100000] [--out bench/results.json] [--work DIR]

For each N the corpus is generated once (bench/generate.py, in the shape of the real files;
cached under the work directory, keyed by N and seed) and measured:

- its shape (articles, related stubs and their spread, versions, topics, providers per
  file), printed beside the same figures of seeds/ and of the 22 real files;
- cold load: empty database → full `bot.loader.sync`, beside the floor (the same files read
  and their front matter parsed by libyaml's C loader alone, in one process);
- sync with nothing changed, and with 1 % of the files rewritten (a modified excerpt);
- every query kind in-process (News / SearchIndex methods), p50 and p99 over a fixed,
  deterministic set of inputs derived from the corpus (real names, fragments, typos);
- autocomplete quality: how often the first choice scores as well as an exhaustive scan;
- ten new files synced, then removed: the CPU each sync costs the bot's process and its
  index update alone, the CPU of the process comparing a large folder apart, and the
  longest the event loop was held;
- the real NewsBot (default settings) in a child process against tests/fake_discord.py in
  this one (so the fake's own work is not counted as the bot's): interaction latency one at
  a time (BOT_PER_KIND calls of each kind) and in bursts of 50 concurrent commands, its
  CPU per command, its RSS after start, at the end, after a re-sync (`/admin reload`) and
  at its peak (from /proc), and what its full garbage collections cost.

Every figure is printed in one table with its target and PASS/MISS, and written to JSON.
A missed target never fails the run: the exit status is 0 unless something crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import re
import resource
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import Any

import yaml
from rapidfuzz import fuzz, process, utils

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make `bot` and `tests` importable

from bench import ask as ask_bench  # noqa: E402
from bench import feeds as feed_bench  # noqa: E402
from bench import follows as follow_bench  # noqa: E402
from bench import metrics as metrics_bench  # noqa: E402
from bench import typos as typo_bench  # noqa: E402
from bench.generate import generate  # noqa: E402
from bench.perfshape import costs_of  # noqa: E402
from bench.shape import REAL_22_FILES, ShapeCounter  # noqa: E402
from bench.traced import traced_mb  # noqa: E402
from bot.loader import sync  # noqa: E402
from bot.queries import News  # noqa: E402
from bot.results import TitleEntry  # noqa: E402
from bot.search import SCORE_CUTOFF, SearchIndex  # noqa: E402
from bot.store import Store  # noqa: E402

DEFAULT_SIZES = (1000, 10000, 100000)
INPUTS_PER_KIND = 60
QUERY_ROUNDS = 3  # timed passes over each input set, after one untimed warm-up pass
BOT_PER_KIND = 120  # sequential commands of each kind: a p99 over at least 100 calls
BOT_BURST = 50
BOT_BURST_ROUNDS = 5
CHANGED_FRACTION = 0.01
ADDED_FILES = 10  # a feed's few new articles: the sync the index must absorb cheaply
NO_CHANGE_RUNS = 3
SHAPE_PREFIX = "shape_"
COMPLETE_MARKER = ".complete"  # hidden, so the loader never sees it
# Same score "to 0.1 point": the title index itself orders ties at that resolution.
QUALITY_TOLERANCE = 0.05

QUERY_KINDS = ("latest", "topic", "provider", "related", "search", "article",
               "autocomplete_topic", "autocomplete_provider", "autocomplete_article")
QUERY_P99_TARGET_MS = {"latest": 5.0, "topic": 5.0, "provider": 5.0, "article": 5.0,
                       "related": 20.0, "search": 20.0, "autocomplete_topic": 15.0,
                       "autocomplete_provider": 15.0, "autocomplete_article": 15.0}
_FENCE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9'-]+")


# ---- figures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number, its target (None: shown for information) and its direction."""

    name: str
    value: float
    unit: str
    target: float | None = None
    at_least: bool = False  # True: the value must reach the target; False: stay below it

    @property
    def status(self) -> str:
        if self.target is None:
            return "info"
        ok = self.value >= self.target if self.at_least else self.value <= self.target
        return "PASS" if ok else "MISS"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 180 samples is the second largest)."""
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


def _format(value: float, unit: str) -> str:
    if unit == "fraction":
        return f"{value * 100:.1f} %"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "x":
        return f"{value:.2f}"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "n":
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
    return f"{value:.3f} s"


def _target_text(figure: Figure) -> str:
    if figure.target is None:
        return ""
    return f"{'≥' if figure.at_least else '≤'} {_format(figure.target, figure.unit)}"


def print_table(results: dict[int, list[Figure]]) -> None:
    """One row per figure per N: value, target, PASS/MISS (the shape is printed apart)."""
    print(f"{'N':>7}  {'figure':<32} {'value':>12}  {'target':>12}  status")
    for size, figures in results.items():
        for figure in figures:
            if figure.name.startswith(SHAPE_PREFIX):
                continue
            print(f"{size:>7}  {figure.name:<32} {_format(figure.value, figure.unit):>12}  "
                  f"{_target_text(figure):>12}  {figure.status}")
    print()


def print_shape(results: dict[int, list[Figure]], seeds: dict[str, float]) -> None:
    """The corpus' shape at every N beside the same figures of seeds/ and the 22 real files."""
    sizes = list(results)
    print("shape of the corpus (generated at each N; the seeds; the 22 real files)")
    print(f"{'figure':<28}" + "".join(f"{f'N={size}':>12}" for size in sizes)
          + f"{'seeds/':>12}{'real 22':>12}")
    by_size = {size: {f.name.removeprefix(SHAPE_PREFIX): f.value for f in figures
                      if f.name.startswith(SHAPE_PREFIX)} for size, figures in results.items()}
    for name in seeds:
        cells = [by_size[size].get(name) for size in sizes] + [seeds[name], REAL_22_FILES.get(name)]
        print(f"{name:<28}" + "".join(f"{'' if v is None else _format(v, 'n'):>12}"
                                      for v in cells))
    print()


def peak_rss_mb() -> float:
    """This process' peak RSS in MB.

    VmHWM, not ru_maxrss: on Linux ru_maxrss survives execve, so a child started by this
    runner would report the runner's own peak instead of its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def reset_peak_rss() -> None:
    """Start VmHWM afresh from the current RSS (Linux ≥ 4.0), so a phase has its own peak."""
    with contextlib.suppress(OSError):  # if not, the peak also covers what ran before
        Path("/proc/self/clear_refs").write_text("5")


def log(size: int, message: str) -> None:
    print(f"[{size}] {message}", file=sys.stderr, flush=True)


# ---- corpus -------------------------------------------------------------------------------


def corpus_dir(work: Path, size: int, seed: int) -> Path:
    """The cached corpus for (size, seed), generated when missing or left incomplete."""
    folder = work / f"corpus-n{size}-seed{seed}"
    if (folder / COMPLETE_MARKER).exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    generate(folder, size, seed)
    (folder / COMPLETE_MARKER).touch()
    return folder


def article_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def front_matter(text: str) -> str | None:
    """The text between the first two `---` lines, or None."""
    fences = _FENCE.finditer(text)
    first, second = next(fences, None), next(fences, None)
    if first is None or second is None:
        return None
    return text[first.end() : second.start()]


def yaml_floor(paths: Iterable[Path]) -> tuple[float, dict[str, float]]:
    """Seconds to read every file and parse its front matter with libyaml's C loader alone,
    and the shape of the corpus (counted from the parsed files, outside the timing)."""
    counter = ShapeCounter()
    elapsed = 0.0
    for path in paths:
        started = time.perf_counter()
        text = front_matter(path.read_text(encoding="utf-8"))
        fields = None if text is None else yaml.load(text, Loader=yaml.CSafeLoader)
        elapsed += time.perf_counter() - started
        counter.add(fields)
    return elapsed, counter.figures()


def warm_page_cache(paths: Iterable[Path]) -> None:
    """Read every file once so that the floor and the cold load both start from RAM."""
    for path in paths:
        path.read_bytes()


def _with_new_excerpt(data: bytes, mark: str) -> bytes:
    return data.replace(b'\nexcerpt: "', f'\nexcerpt: "{mark} '.encode(), 1)


# ---- sync figures -------------------------------------------------------------------------


async def timed_sync(store: Store, folder: Path) -> float:
    started = time.perf_counter()
    await sync(store, folder)
    return time.perf_counter() - started


def unchanged_target(size: int) -> float:
    """0.15 s up to 10k files (the stated target), then 15 µs a file (1.5 s at 100k)."""
    return max(0.15, 15e-6 * size)


async def measure_syncs(size: int, seed: int, folder: Path, db_path: Path) -> list[Figure]:
    """Cold load vs the YAML floor, sync with nothing changed, sync with 1 % changed."""
    paths = article_files(folder)
    warm_page_cache(paths)
    floor, shape = yaml_floor(paths)
    log(size, f"floor {floor:.2f} s; {shape['articles']:.0f} articles in {size} files")
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)
    async with await Store.open(db_path) as store:
        reset_peak_rss()
        cold = await timed_sync(store, folder)
        cold_peak = peak_rss_mb()  # the bot's first start on an empty database does this
        log(size, f"cold load {cold:.2f} s")
        unchanged = sorted([await timed_sync(store, folder) for _ in range(NO_CHANGE_RUNS)])
        changed = await changed_sync(store, folder, paths, Random(seed + size))
        log(size, f"no change {unchanged[len(unchanged) // 2]:.3f} s, 1 % changed {changed:.2f} s")
    return [
        Figure("cold_load_s", cold, "s"),
        Figure("yaml_floor_s", floor, "s"),
        Figure("cold_over_floor", cold / floor, "x", 0.5),
        Figure("cold_load_peak_rss_mb", cold_peak, "MB"),
        Figure("sync_unchanged_s", unchanged[len(unchanged) // 2], "s", unchanged_target(size)),
        Figure("sync_1pct_changed_s", changed, "s"),
        Figure("sync_1pct_changed_pct_of_cold", 100 * changed / cold, "%", 5.0),
        *(Figure(f"{SHAPE_PREFIX}{name}", value, "n") for name, value in shape.items()),
    ]


async def changed_sync(store: Store, folder: Path, paths: list[Path], rng: Random) -> float:
    """Rewrite 1 % of the files with a modified excerpt, time the sync, then put them back."""
    chosen = rng.sample(paths, max(1, round(len(paths) * CHANGED_FRACTION)))
    originals = {path: path.read_bytes() for path in chosen}
    (folder / COMPLETE_MARKER).unlink()  # a crash before the restore regenerates the corpus
    try:
        for number, (path, data) in enumerate(originals.items()):
            path.write_bytes(_with_new_excerpt(data, f"[bench edit {number}]"))
        elapsed = await timed_sync(store, folder)
    finally:
        for path, data in originals.items():
            path.write_bytes(data)
    await sync(store, folder)  # the database is back in line with the pristine corpus
    (folder / COMPLETE_MARKER).touch()
    return elapsed


async def indexed_sync(news: News, reader: News, folder: Path, watch: bool
                       ) -> tuple[float, float, float, float, float]:
    """A sync of the corpus as News.sync does it: the CPU of its two parts in this process,
    the loader's and the index update's; the CPU of the process that compares the folder
    with the store (a large folder's, see bot/folderscan.py); with `watch`, the longest loop
    hold (the watcher's own ticks cost CPU: such a sync's CPU is not a figure). Then the
    CPU of `reader`, another process's corpus on the same database, catching up on it."""
    report, loading, apart, held = await costs_of(sync(news.store, folder), watch)
    (updated, indexing, _none, index_held) = await costs_of(
        news.index.updated(news.store, report.article_ids), watch)
    if updated is None:
        raise RuntimeError("the index asked for a fresh build: the figure would not be an update")
    news.index = updated
    caught_up, following, _none, _held = await costs_of(reader.catch_up(), watch)
    if caught_up is None or caught_up.rebuilt:
        raise RuntimeError(f"the other process's catch-up was {caught_up}, not an update")
    return loading, indexing, apart, max(held, index_held), following


async def added_and_removed(news: News, reader: News, folder: Path, added: list[Path],
                            extra: Path, watch: bool
                            ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`indexed_sync` of the folder with the `added` files copied in from `extra`, then of
    the folder without them."""
    for path in added:
        shutil.copy(extra / path.name.removeprefix("zz_added_"), path)
    adding = await indexed_sync(news, reader, folder, watch)
    for path in added:
        path.unlink()
    return adding, await indexed_sync(news, reader, folder, watch)


async def measure_added(size: int, seed: int, news: News, folder: Path) -> list[Figure]:
    """ADDED_FILES new files (new articles and their stubs) dropped in and synced, then
    removed and synced: what each sync costs the bot, and its index update alone; and what
    it costs another process sharing the database (its index built first) to catch up."""
    extra = folder.parent / f"{folder.name}-added"
    shutil.rmtree(extra, ignore_errors=True)
    added = [folder / f"zz_added_{path.name}"
             for path in generate(extra, ADDED_FILES, seed + 1_000_003)]
    (folder / COMPLETE_MARKER).unlink()  # a crash before the clean-up regenerates the corpus
    try:
        async with await Store.open(news.store.path) as other_store:
            reader = News(other_store, folder)
            await reader.sync()  # nothing to load: this builds its index
            adding, removing = await added_and_removed(news, reader, folder, added, extra,
                                                       watch=False)
            add_loading, add_indexing, add_apart, _held, add_following = adding
            remove_loading, remove_indexing, remove_apart, _held, remove_following = removing
            # The same again, with the event loop watched.
            adding, removing = await added_and_removed(news, reader, folder, added, extra,
                                                       watch=True)
        add_held, remove_held = adding[3], removing[3]
    finally:
        for path in added:
            path.unlink(missing_ok=True)
        shutil.rmtree(extra, ignore_errors=True)
    await sync(news.store, folder)
    (folder / COMPLETE_MARKER).touch()
    log(size, f"{ADDED_FILES} files added: index update {add_indexing:.1f} ms CPU")
    return [
        # The bot's process: its event loop's thread and every other thread of it.
        Figure("sync_add10_cpu_ms", add_loading + add_indexing, "ms", 100.0),
        Figure("index_update_add10_cpu_ms", add_indexing, "ms", 100.0),
        # Another process on the same database: its index and vocabulary follow the write.
        Figure("index_catch_up_add10_cpu_ms", add_following, "ms"),
        # The folder's scan and compare in their own process (0 for a small folder).
        Figure("sync_add10_apart_cpu_ms", add_apart, "ms"),
        Figure("sync_add10_loop_held_ms", add_held, "ms"),
        Figure("sync_remove10_cpu_ms", remove_loading + remove_indexing, "ms", 100.0),
        Figure("index_update_remove10_cpu_ms", remove_indexing, "ms", 100.0),
        Figure("index_catch_up_remove10_cpu_ms", remove_following, "ms"),
        Figure("sync_remove10_apart_cpu_ms", remove_apart, "ms"),
        Figure("sync_remove10_loop_held_ms", remove_held, "ms"),
    ]


# ---- query inputs -------------------------------------------------------------------------


def swap_typo(rng: Random, text: str) -> str:
    """Two neighbouring letters swapped, as fast typing does."""
    spots = [i for i in range(len(text) - 1)
             if text[i].isalpha() and text[i + 1].isalpha() and text[i] != text[i + 1]]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def drop_typo(rng: Random, text: str) -> str:
    """One letter left out."""
    spots = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(spots) < 3:
        return text
    i = rng.choice(spots)
    return text[:i] + text[i + 1 :]


def words_of(text: str) -> list[str]:
    return _WORDS.findall(text)


def fragment(rng: Random, title: str, low: int = 2, high: int = 4) -> str:
    """A few consecutive words of a title, lowercased, as someone remembers it."""
    words = words_of(title) or [title]
    count = min(len(words), rng.randint(low, high))
    start = rng.randrange(len(words) - count + 1)
    return " ".join(words[start : start + count]).lower()


def keywords(rng: Random, title: str) -> str:
    """Two or three distinctive words of a title in any order ("AMD MI200 azure")."""
    words = [w for w in words_of(title) if len(w) >= 4] or words_of(title) or [title]
    picked = rng.sample(words, min(len(words), rng.randint(2, 3)))
    return " ".join(w.lower() if rng.random() < 0.5 else w for w in picked)


def prefix(rng: Random, text: str, low: int = 3, high: int = 12) -> str:
    """What has been typed so far."""
    return text[: rng.randint(min(low, len(text)), max(min(high, len(text)), 1))]


def cycle_variants(
    rng: Random, pool: Sequence[str], variants: Sequence[Callable[[Random, str], str]]
) -> list[str]:
    """INPUTS_PER_KIND inputs: pool items (chosen by rng) through each variant in turn."""
    return [variants[i % len(variants)](rng, rng.choice(pool)) for i in range(INPUTS_PER_KIND)]


@dataclass(frozen=True, slots=True)
class Inputs:
    """The fixed input set of every query kind, derived from one corpus and a seed."""

    latest: list[tuple[int, int, datetime | None]]
    topic: list[str]
    provider: list[str]
    related: list[str]
    search: list[str]
    article: list[str]
    autocomplete_topic: list[str]
    autocomplete_provider: list[str]
    autocomplete_article: list[str]


def _provider_spellings(index: SearchIndex) -> list[str]:
    spellings: set[str] = set()
    for provider in index.providers:
        spellings.update({provider.name, provider.domain, *provider.names})
    return sorted(s for s in spellings if s)


def _same(_rng: Random, text: str) -> str:
    return text


def _lower(_rng: Random, text: str) -> str:
    return text.lower()


def _last_word(_rng: Random, text: str) -> str:
    return text.split()[-1].lower()


def _www(_rng: Random, text: str) -> str:
    return f"www.{text}" if "." in text else text.lower()


def _typo_fragment(rng: Random, title: str) -> str:
    return swap_typo(rng, fragment(rng, title, 2, 3))


def _dropped_keywords(rng: Random, title: str) -> str:
    return drop_typo(rng, keywords(rng, title))


async def build_inputs(news: News, seed: int) -> Inputs:
    """Deterministic inputs: real names, lowercased fragments, typos, ids, URLs, prefixes."""
    rng = Random(seed)
    index = news.index
    topics = [t.name for t in index.topics]
    spellings = _provider_spellings(index)
    entries: list[TitleEntry] = sorted(index.titles, key=lambda e: e.id)
    sample = rng.sample(entries, min(len(entries), INPUTS_PER_KIND * 2))
    titles = [e.title for e in sample]
    articles = await news.store.articles([e.id for e in sample])
    links = [a.link for a in articles.values()]
    dates = sorted(a.published_at for a in articles.values() if a.published_at)
    excerpt_words = [w for a in articles.values() for w in words_of(a.excerpt) if len(w) >= 5]

    def by_id(_rng: Random, title: str) -> str:
        return f"#{sample[titles.index(title)].id}"

    def by_url(rng: Random, _title: str) -> str:
        return rng.choice(links)

    def excerpt_word(rng: Random, _title: str) -> str:
        return rng.choice(excerpt_words) if excerpt_words else "model"

    def word_typo(rng: Random, title: str) -> str:
        return swap_typo(rng, max(words_of(title) or [title], key=len).lower())

    latest = [(rng.randint(1, 10), rng.choice((0, 0, 5, 10, 20, 45)),
               rng.choice(dates) if dates and i % 3 == 0 else None)
              for i in range(INPUTS_PER_KIND)]
    return Inputs(
        latest=latest,
        topic=cycle_variants(rng, topics, (_same, _lower, _last_word, swap_typo, drop_typo)),
        provider=cycle_variants(rng, spellings, (_same, _lower, _www, swap_typo, drop_typo)),
        related=cycle_variants(rng, titles, (_same, fragment, by_id, keywords, _typo_fragment)),
        search=cycle_variants(rng, titles, (fragment, keywords, excerpt_word, word_typo,
                                            _typo_fragment)),
        article=cycle_variants(rng, titles, (_same, by_id, by_url, fragment, keywords,
                                             _typo_fragment)),
        autocomplete_topic=cycle_variants(rng, topics, (prefix, _lower, _last_word, swap_typo,
                                                        drop_typo)),
        autocomplete_provider=cycle_variants(rng, spellings, (prefix, _lower, swap_typo,
                                                              drop_typo)),
        autocomplete_article=cycle_variants(rng, titles, (prefix, fragment, keywords,
                                                          _typo_fragment, _dropped_keywords)),
    )


# ---- query figures ------------------------------------------------------------------------


def query_calls(news: News, inputs: Inputs) -> dict[str, list[Callable[[], Awaitable[object]]]]:
    """Per kind, one zero-argument coroutine factory per input."""
    index = news.index

    async def sync_call(func: Callable[[str], object], text: str) -> object:
        return func(text)

    return {
        "latest": [lambda a=a: news.latest(a[0], a[1], a[2]) for a in inputs.latest],
        "topic": [lambda t=t: news.topic(t, 5) for t in inputs.topic],
        "provider": [lambda t=t: news.provider(t, 5) for t in inputs.provider],
        "related": [lambda t=t: news.related(t, 5) for t in inputs.related],
        "search": [lambda t=t: news.search(t, 5) for t in inputs.search],
        "article": [lambda t=t: news.article(t) for t in inputs.article],
        "autocomplete_topic": [lambda t=t: sync_call(index.match_topics, t)
                               for t in inputs.autocomplete_topic],
        "autocomplete_provider": [lambda t=t: sync_call(index.match_providers, t)
                                  for t in inputs.autocomplete_provider],
        "autocomplete_article": [lambda t=t: sync_call(index.match_titles, t)
                                 for t in inputs.autocomplete_article],
    }


async def time_calls(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    """Milliseconds per call over QUERY_ROUNDS timed passes, after one warm-up pass."""
    for call in calls:
        await call()
    timings: list[float] = []
    for _ in range(QUERY_ROUNDS):
        for call in calls:
            started = time.perf_counter()
            await call()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def measure_queries(news: News, inputs: Inputs) -> list[Figure]:
    figures: list[Figure] = []
    for kind, calls in query_calls(news, inputs).items():
        timings = await time_calls(calls)
        figures.append(Figure(f"{kind}_p50_ms", percentile(timings, 50), "ms"))
        figures.append(Figure(f"{kind}_p99_ms", percentile(timings, 99), "ms",
                              QUERY_P99_TARGET_MS[kind]))
    return figures


# ---- autocomplete quality -----------------------------------------------------------------


def first_choice_quality(
    queries: Sequence[str], choices: Sequence[str],
    first_choice: Callable[[str], Sequence[str] | None],
) -> float:
    """Fraction of queries whose first choice scores (WRatio) as well as an exhaustive scan.

    `first_choice` gives the strings the index's first choice is known by (a provider has
    several spellings), or None when it offers nothing, which is right only when nothing in
    the exhaustive scan reaches the index's cut-off either.
    """
    good = 0
    for query in queries:
        best = process.extractOne(query, choices, scorer=fuzz.WRatio,
                                  processor=utils.default_process)
        best_score = best[1] if best else 0.0
        names = first_choice(query)
        if names is None:
            good += best_score < SCORE_CUTOFF
            continue
        mine = max(fuzz.WRatio(utils.default_process(query), utils.default_process(n))
                   for n in names)
        good += mine >= best_score - QUALITY_TOLERANCE
    return good / len(queries) if queries else 1.0


def measure_quality(index: SearchIndex, inputs: Inputs) -> list[Figure]:
    def first_title(text: str) -> list[str] | None:
        hits = index.match_titles(text)
        return [hits[0].item.title] if hits else None

    def first_topic(text: str) -> list[str] | None:
        hits = index.match_topics(text)
        return [hits[0].item.name] if hits else None

    def first_provider(text: str) -> list[str] | None:
        hits = index.match_providers(text)
        if not hits:
            return None
        provider = hits[0].item
        return [provider.name, provider.domain, *provider.names]

    titles = [entry.title for entry in index.titles]
    topics = [topic.name for topic in index.topics]
    return [
        Figure("autocomplete_article_quality",
               first_choice_quality(inputs.autocomplete_article, titles, first_title),
               "fraction", 0.9, at_least=True),
        Figure("autocomplete_topic_quality",
               first_choice_quality(inputs.autocomplete_topic, topics, first_topic),
               "fraction", 0.9, at_least=True),
        Figure("autocomplete_provider_quality",
               first_choice_quality(inputs.autocomplete_provider, _provider_spellings(index),
                                    first_provider),
               "fraction", 0.9, at_least=True),
    ]


# ---- the bot through the fake Discord (subprocess) ----------------------------------------


BOT_KINDS = ("latest", "topic", "provider", "search", "article", "related")
BOT_TIMED_KINDS = ("latest", "topic", "search")  # each gets its own p99 figure
Commands = dict[str, list[tuple[str, dict[str, Any]]]]


def bot_commands(inputs: Inputs) -> Commands:
    """Per kind, the /news commands built from the query inputs."""
    return {
        "latest": [("news latest", {"count": limit}) for limit, _offset, _since in inputs.latest],
        "topic": [("news topic", {"topic": text}) for text in inputs.topic],
        "provider": [("news provider", {"provider": text}) for text in inputs.provider],
        "search": [("news search", {"query": text[:200]}) for text in inputs.search],
        "article": [("news article", {"article": text}) for text in inputs.article],
        "related": [("news related", {"article": text}) for text in inputs.related],
    }


def interleaved(commands: Commands, rounds: int) -> list[tuple[str, tuple[str, dict[str, Any]]]]:
    """`rounds` commands of every kind, kind by kind: (kind, command)."""
    return [(kind, commands[kind][i % len(commands[kind])])
            for i in range(rounds) for kind in BOT_KINDS]


async def _one_command(fake: Any, command: tuple[str, dict[str, Any]]) -> float:
    handle = await fake.slash(command[0], command[1])
    await handle.response(timeout=120)
    return handle.latency * 1000


async def _burst(fake: Any, commands: Sequence[tuple[str, dict[str, Any]]]) -> list[float]:
    handles = await asyncio.gather(*(fake.slash(name, options) for name, options in commands))
    await asyncio.gather(*(handle.response(timeout=120) for handle in handles))
    return [handle.latency * 1000 for handle in handles]


def proc_status_mb(pid: int, field: str) -> float:
    """A memory field of a process' /proc status (VmRSS: resident now, VmHWM: its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no {field} in /proc/{pid}/status")


def proc_cpu_ms(pid: int) -> float:
    """CPU milliseconds (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class _Pauses:
    """Every cyclic garbage collection's duration, by generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.durations: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.durations[info["generation"]].append(
                (time.perf_counter() - self._started) * 1000)

    def summary(self) -> dict[str, float]:
        full = self.durations[2]
        return {"gc_full_collections": len(full), "gc_full_max_ms": max(full, default=0.0),
                "gc_young_max_ms": max(self.durations[0] + self.durations[1], default=0.0)}


async def run_bot_child(db_path: Path, seeds: Path, api_base: str, gateway: str) -> None:
    """In the child: the real bot on the benchmark database, against the parent's fake.

    The fake runs in the parent so that its own work (building interactions, recording
    responses) is not counted as the bot's time. Stops on SIGTERM and prints what its
    garbage collections cost once it was up (the collections of the start-up are left out).
    """
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    from bot.client import COMMAND_HASH_KEY, start_bot
    from bot.config import Settings

    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    async with await Store.open(db_path) as store:
        await store.set_meta(COMMAND_HASH_KEY, "")  # make it publish its commands to the fake
    # No background re-sync: its first round would run as the bot becomes ready, during
    # the first seconds of commands, and weigh there as it never does in use (one round of
    # about a second at 100,000 files every NEWS_SYNC_MINUTES).
    # No feeds either: the bench talks to nothing but its own fake on 127.0.0.1.
    settings = Settings(token="x" * 60, seeds_dir=seeds, db_path=db_path, sync_minutes=0,
                        feeds_file=None, feeds_minutes=0)
    pauses = _Pauses()
    loop = asyncio.get_running_loop()
    # SIGUSR1 from the parent: the bot is up; from now on the collections are counted.
    loop.add_signal_handler(signal.SIGUSR1, lambda: gc.callbacks.append(pauses))
    await start_bot(settings)
    print(json.dumps(pauses.summary()), flush=True)


async def drive_bot(db_path: Path, seeds: Path, commands: Commands) -> dict[str, Any]:
    """Start the bot in a child process against a fake here, time commands, stop it."""
    from tests.fake_discord import FakeDiscord

    async with FakeDiscord(callback_deadline=None) as fake:
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--bot-child", str(db_path),
            str(seeds), fake.api_base, fake.gateway_url,
            cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )
        try:
            await fake.wait_until_connected(timeout=600)
            await fake.wait_for_request("PUT", r"/applications/\d+/commands$", timeout=600)
            for _kind, command in interleaved(commands, 2):  # first use of every code path
                await _one_command(fake, command)
            rss_after_start = proc_status_mb(child.pid, "VmRSS")
            child.send_signal(signal.SIGUSR1)
            sequential: dict[str, list[float]] = {kind: [] for kind in BOT_KINDS}
            cpu_before = proc_cpu_ms(child.pid)
            for kind, command in interleaved(commands, BOT_PER_KIND):
                sequential[kind].append(await _one_command(fake, command))
            cpu_sequential = proc_cpu_ms(child.pid) - cpu_before
            burst: list[float] = []
            mixed = [command for _kind, command in interleaved(commands, BOT_BURST)]
            cpu_before = proc_cpu_ms(child.pid)
            for round_number in range(BOT_BURST_ROUNDS):
                burst += await _burst(fake, mixed[round_number * BOT_BURST:][:BOT_BURST])
            cpu_burst = (proc_cpu_ms(child.pid) - cpu_before) / BOT_BURST_ROUNDS
            rss_end = proc_status_mb(child.pid, "VmRSS")
            # A re-sync finding nothing new, as the background one does every few minutes.
            reload = await fake.slash("admin reload", {}, user=fake.owner)
            started = time.perf_counter()
            await reload.followup(timeout=600)  # the report, once the sync is done
            resync_ms = (time.perf_counter() - started) * 1000
            rss_after_resync = proc_status_mb(child.pid, "VmRSS")
            peak = proc_status_mb(child.pid, "VmHWM")
        finally:
            if child.returncode is None:
                child.terminate()  # SIGTERM: the bot closes itself and reports its pauses
            output, _ = await child.communicate()
    lines = output.decode().strip().splitlines()
    return {"sequential": sequential, "burst": burst, "rss_after_start_mb": rss_after_start,
            "cpu_per_command_ms": cpu_sequential / (BOT_PER_KIND * len(BOT_KINDS)),
            "cpu_per_burst_ms": cpu_burst,
            "rss_end_mb": rss_end, "peak_rss_mb": peak, "resync_ms": resync_ms,
            "rss_after_resync_mb": rss_after_resync, **json.loads(lines[-1])}


def measure_bot(size: int, db_path: Path, seeds: Path, inputs: Inputs) -> list[Figure]:
    result = asyncio.run(drive_bot(db_path, seeds, bot_commands(inputs)))
    everything = [ms for timings in result["sequential"].values() for ms in timings]
    log(size, f"bot: {len(everything)} sequential commands, "
              f"{result['gc_full_collections']} full collections")
    return [
        Figure("bot_sequential_p50_ms", percentile(everything, 50), "ms"),
        Figure("bot_sequential_p99_ms", percentile(everything, 99), "ms", 20.0),
        *(Figure(f"bot_{kind}_p99_ms", percentile(result["sequential"][kind], 99), "ms", 20.0)
          for kind in BOT_TIMED_KINDS),
        Figure("bot_sequential_max_ms", max(everything), "ms"),
        Figure("bot_burst50_p50_ms", percentile(result["burst"], 50), "ms"),
        Figure("bot_burst50_p99_ms", percentile(result["burst"], 99), "ms", 250.0),
        # CPU figures do not move with the machine's load as latencies do.
        Figure("bot_cpu_per_command_ms", result["cpu_per_command_ms"], "ms"),
        Figure("bot_cpu_per_burst50_ms", result["cpu_per_burst_ms"], "ms"),
        Figure("bot_rss_after_start_mb", result["rss_after_start_mb"], "MB", 300.0),
        Figure("bot_rss_end_mb", result["rss_end_mb"], "MB", 300.0),
        Figure("bot_resync_s", result["resync_ms"] / 1000, "s"),
        Figure("bot_rss_after_resync_mb", result["rss_after_resync_mb"], "MB", 300.0),
        Figure("bot_peak_rss_mb", result["peak_rss_mb"], "MB"),
        Figure("bot_gc_full_collections", result["gc_full_collections"], "n"),
        Figure("bot_gc_full_max_ms", result["gc_full_max_ms"], "ms"),
        Figure("bot_gc_young_max_ms", result["gc_young_max_ms"], "ms"),
    ]


# ---- one size -----------------------------------------------------------------------------


async def traced_index_mb(store: Store) -> float:
    """MB that a search index built from `store` holds."""
    held, _index = await traced_mb(lambda: SearchIndex.build(store))
    return held


async def measure_in_process(size: int, seed: int, folder: Path, db_path: Path
                             ) -> tuple[list[Figure], Inputs]:
    figures = await measure_syncs(size, seed, folder, db_path)
    async with await Store.open(db_path) as store:
        news = News(store, folder)
        await news.sync()  # nothing to load: this builds the search index
        figures.append(Figure("index_traced_mb", await traced_index_mb(store), "MB"))
        inputs = await build_inputs(news, seed)
        figures += await measure_queries(news, inputs)
        log(size, "queries done")
        figures += measure_quality(news.index, inputs)
        figures += await ask_bench.measure(news, seed, Figure)
        figures += await typo_bench.measure(news, seed, percentile, Figure)
        figures += await measure_added(size, seed, news, folder)
    return figures, inputs


def measure_size(size: int, seed: int, work: Path) -> list[Figure]:
    started = time.perf_counter()
    folder = corpus_dir(work, size, seed)
    log(size, f"corpus ready in {time.perf_counter() - started:.1f} s: {folder}")
    db_path = work / f"bench-n{size}.db"
    figures, inputs = asyncio.run(measure_in_process(size, seed, folder, db_path))
    figures += measure_bot(size, db_path, folder, inputs)
    log(size, f"done in {time.perf_counter() - started:.1f} s")
    return figures


def write_json(out: Path, results: dict[int, list[Figure]], meta: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": meta,
        "results": {str(size): {f.name: f.to_json() for f in figures}
                    for size, figures in results.items()},
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the AI news bot.")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated corpus sizes (files)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json",
                        help="where the figures go (default: bench/results.json)")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "work",
                        help="where corpora (cached) and databases go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--feeds", type=int, default=0, help="also run the feed cycle "
                        "(bench/feeds.py) with this many feeds on the smallest corpus; 0: off")
    parser.add_argument("--metrics", action="store_true", help="also measure the metrics' "
                        "overhead and /healthz (bench/metrics.py) on the smallest corpus")
    parser.add_argument("--follows", action="store_true", help="also match 5,000 articles "
                        "against 10,000 follows (bench/follows.py)")
    parser.add_argument("--bot-child", nargs=4, metavar=("DB", "SEEDS", "API", "GATEWAY"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    except ValueError:
        parser.error("--sizes must be comma-separated whole numbers")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes must hold at least one size ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bot_child:
        db_path, seeds, api_base, gateway = args.bot_child
        asyncio.run(run_bot_child(Path(db_path), Path(seeds), api_base, gateway))
        return 0
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    results = {size: measure_size(size, args.seed, args.work) for size in args.sizes}
    elapsed = time.perf_counter() - started
    print_table(results)
    seeds_shape = yaml_floor(article_files(REPO / "seeds"))[1]
    print_shape(results, seeds_shape)
    meta = {"seeds_shape": seeds_shape, "real_22_files_shape": REAL_22_FILES,
            "seed": args.seed, "sizes": args.sizes, "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "duration_s": elapsed,
            "finished": datetime.now(UTC).isoformat(timespec="seconds")}
    write_json(args.out, results, meta)
    if args.feeds:  # the feed cycle's figures go into the same file, under "feeds"
        feed_bench.record(args.out, args.feeds, corpus_dir(args.work, min(args.sizes), args.seed))
    if args.metrics:  # under "metrics", as the feed figures are under "feeds"
        metrics_bench.record(args.out, corpus_dir(args.work, min(args.sizes), args.seed),
                             args.work)
    if args.follows:  # the follow matcher's figures go into the same file, under "follows"
        rows = follow_bench.measure(args.seed)
        print(follow_bench.report(rows))
        payload = json.loads(args.out.read_text())
        payload["follows"] = {row[0]: Figure(*row).to_json() for row in rows}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"{len(args.sizes)} size(s) in {elapsed:.1f} s; figures written to {args.out}")
    return 0


if __name__ == "__main__":  # the guard matters: the loader's worker processes are spawned
    sys.exit(main())
