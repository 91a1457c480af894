"""Feed cycle benchmark: N generated feeds served locally, polled into a real store twice.

    python bench/feeds.py [--feeds 500] [--entries 50] [--corpus 10000] [--seed 0]
                          [--limit 16] [--per-host 2] [--work DIR]

The documents are deterministic (seeded): RSS 2.0, Atom 1.0 and RSS 1.0/RDF from the bench
corpus' providers and topics, HTML excerpts, images, tracking parameters, and a share of
entries that another feed also carries. A child process serves them on 127.0.0.1 with ETags
(so that serving costs this process nothing), each feed under its own host name, resolved to
127.0.0.1 by the bench, so the Fetcher's real per-host limit applies as it would on the web.

Measured the way an operator gets it: a Store on a temporary SQLite file, loaded first with
`--corpus` generated article files (0: the seeds folder), the feeds in its feed list, then
`News.fetch` as `python -m bot fetch` and the bot's background poll run it: the first poll
(fetch, parse, store writes, index update), a poll a day later when every feed is due and
answers 304, items/s of the first poll, this process' peak RSS over the polls (VmHWM; the
parse workers are processes of their own) and the `/news search` path (News.search) timed
one query after another while the first poll runs, beside its p99 with nothing running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import math
import multiprocessing
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from random import Random
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make `bot` and `bench` importable

from bench.generate import COMPANY_NAMES, PROVIDERS, THINGS, TOPICS, VERBS, generate  # noqa: E402
from bot.cogs.news import PAGE_SIZE  # noqa: E402
from bot.feeds.fetch import Fetcher  # noqa: E402
from bot.feeds.listing import FetchReport  # noqa: E402
from bot.feeds.opml import FeedEntry  # noqa: E402
from bot.queries import News  # noqa: E402
from bot.store import Store  # noqa: E402

HOST_SUFFIX = ".feeds.bench.test"
ANCHOR = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)  # fixed: the seed alone decides every byte
DUPLICATE_SHARE = 0.05  # entries that another feed also carries (a syndicated story)
FIRST_POLL_TARGET_S = 10.0
REPOLL_TARGET_S = 1.0
SEARCH_P99_TARGET_MS = 50.0
# Later than any feed's interval (RDF's hourly period, jitter included): every feed is due.
REPOLL_AFTER = timedelta(days=1)
FORMATS = ("rss", "rss", "rss", "atom", "atom", "rdf")  # RSS is the commonest on the web
SEEDS = REPO / "seeds"
COMPLETE_MARKER = ".complete"  # as bench/run.py marks a corpus written to the end
# What people search for: names and things both the corpus and the feeds talk about, a
# broad word, and a typo that finds nothing in full text (the fuzzy title fallback).
SEARCHES = ("GPU clusters", "OpenAI language model", "Nvidia AI chip", "self-driving",
            "robot arm", "speech recognition", "AI regulation", "Google TPU", "chatbot",
            "fraud detection", "AI", "recomendation engnie")
SEARCH_PAUSE_S = 0.05  # between one search and the next: a busy server, not a flood that
# would take a core from the poll it is measured beside


# ---- documents ------------------------------------------------------------------------------


def _entry(rng: Random, feed: int, number: int) -> dict[str, Any]:
    provider = PROVIDERS[rng.randrange(len(PROVIDERS))]
    company, thing = rng.choice(COMPANY_NAMES), rng.choice(THINGS)
    title = f"{company} {rng.choice(VERBS)} {thing}"
    slug = "-".join(title.lower().split())[:80]
    published = ANCHOR - timedelta(minutes=rng.randrange(60 * 24 * 30))
    tracking = "?utm_source=rss&utm_medium=feed" if rng.random() < 0.3 else ""
    topics = rng.sample(TOPICS, rng.randint(1, 4))
    paragraphs = "".join(
        f"<p>{escape(company)} said its {escape(thing)} would reach customers in "
        f"{rng.randint(2, 40)} countries, with <a href=\"https://{provider.host}/more\">more</a> "
        f"details to follow; analysts called it a <em>{rng.choice(('bold', 'late', 'risky'))}"
        f"</em> step for {escape(rng.choice(topics))}.</p>"
        for _ in range(rng.randint(2, 4))
    )
    return {
        "title": title,
        "link": f"https://{provider.host}/{published:%Y/%m/%d}/{slug}-{feed}-{number}/{tracking}",
        "published": published,
        "topics": topics,
        "html": paragraphs,
        "image": f"https://{provider.image_host or provider.host}/img/{feed}-{number}.jpg",
    }


def _entries(feeds: int, entries: int, seed: int) -> list[list[dict[str, Any]]]:
    rng = Random(seed)
    all_feeds: list[list[dict[str, Any]]] = []
    for feed in range(feeds):
        items = []
        for number in range(entries):
            if all_feeds and rng.random() < DUPLICATE_SHARE:
                items.append(rng.choice(rng.choice(all_feeds)))  # the same story, same URL
            else:
                items.append(_entry(rng, feed, number))
        all_feeds.append(items)
    return all_feeds


def _rss(title: str, site: str, items: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<item><title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
        f"<guid isPermaLink=\"true\">{escape(item['link'])}</guid>"
        f"<pubDate>{format_datetime(item['published'], usegmt=True)}</pubDate>"
        + "".join(f"<category>{escape(topic)}</category>" for topic in item["topics"])
        + f"<description>{escape(item['html'])}</description>"
        f"<media:thumbnail url=\"{escape(item['image'])}\" width=\"640\" height=\"360\"/></item>"
        for item in items
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<title>{escape(title)}</title><link>{site}</link><description>AI news</description>"
            f"<ttl>15</ttl>{body}</channel></rss>")


def _img(url: str) -> str:
    return f'<img src="{url}">'


def _atom(title: str, site: str, items: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<entry><title>{escape(item['title'])}</title>"
        f"<link rel=\"alternate\" href=\"{escape(item['link'])}\"/><id>{escape(item['link'])}</id>"
        f"<published>{item['published'].isoformat()}</published>"
        f"<updated>{item['published'].isoformat()}</updated>"
        + "".join(f"<category term=\"{escape(topic)}\"/>" for topic in item["topics"])
        + f"<summary type=\"html\">{escape(item['html'])}</summary>"
        f"<content type=\"html\">{escape(item['html'] + _img(item['image']))}</content></entry>"
        for item in items
    )
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><link href=\"{site}\"/><id>{site}</id>"
            f"<updated>{ANCHOR.isoformat()}</updated>{body}</feed>")


def _rdf(title: str, site: str, items: list[dict[str, Any]]) -> str:
    body = "".join(
        f"<item rdf:about=\"{escape(item['link'])}\"><title>{escape(item['title'])}</title>"
        f"<link>{escape(item['link'])}</link><dc:date>{item['published'].isoformat()}</dc:date>"
        + "".join(f"<dc:subject>{escape(topic)}</dc:subject>" for topic in item["topics"])
        + f"<description>{escape(item['html'])}</description></item>"
        for item in items
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
            f"<channel rdf:about=\"{site}\"><title>{escape(title)}</title><link>{site}</link>"
            "<description>AI news</description><sy:updatePeriod>hourly</sy:updatePeriod>"
            f"</channel>{body}</rdf:RDF>")


WRITERS = {"rss": (_rss, "application/rss+xml"), "atom": (_atom, "application/atom+xml"),
           "rdf": (_rdf, "application/rdf+xml")}


def documents(feeds: int, entries: int, seed: int = 0) -> list[tuple[bytes, str]]:
    """The feeds' documents (body, content type), deterministic for (feeds, entries, seed)."""
    out = []
    for feed, items in enumerate(_entries(feeds, entries, seed)):
        provider = PROVIDERS[feed % len(PROVIDERS)]
        topic = TOPICS[feed % len(TOPICS)]
        writer, content_type = WRITERS[FORMATS[feed % len(FORMATS)]]
        text = writer(f"{provider.alt_name or provider.name} - {topic}",
                      f"https://{provider.host}/{'-'.join(topic.lower().split())}/", items)
        out.append((text.encode(), content_type))
    return out


def feed_url(number: int, port: int) -> str:
    return f"http://feed{number}{HOST_SUFFIX}:{port}/feed.xml"


# ---- the server (a child process) -----------------------------------------------------------


def _serve(feeds: int, entries: int, seed: int, conn: Connection) -> None:
    """Serve every feed's document on 127.0.0.1 until told to stop through `conn`."""
    docs = documents(feeds, entries, seed)
    etags = [f'"{hashlib.sha1(body).hexdigest()}"' for body, _ in docs]  # noqa: S324 - a tag

    async def answer(request: web.Request) -> web.Response:
        number = int((request.host or "").split(".", 1)[0].removeprefix("feed"))
        body, content_type = docs[number]
        if request.headers.get("If-None-Match") == etags[number]:
            return web.Response(status=304, headers={"ETag": etags[number]})
        return web.Response(body=body, headers={"ETag": etags[number],
                                                "Content-Type": content_type})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed.xml", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(main())


@contextlib.contextmanager
def serving(feeds: int, entries: int, seed: int) -> Any:
    """Start the feed server in a child process; yields its port."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(feeds, entries, seed, child), daemon=True)
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()


class BenchResolver(AbstractResolver):
    """Resolves the bench's feed host names to 127.0.0.1, as DNS would for real hosts."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if not host.endswith(HOST_SUFFIX):
            raise OSError(f"the bench resolves only *{HOST_SUFFIX}, not {host}")
        return [ResolveResult(hostname=host, host="127.0.0.1", port=port,
                              family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        pass


# ---- measuring ------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process' peak RSS in MB (VmHWM; 0 where /proc is missing)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Start VmHWM afresh (Linux ≥ 4.0), so that the peak is the poll's, not the load's."""
    with contextlib.suppress(OSError):  # if not, the peak also covers the corpus' load
        Path("/proc/self/clear_refs").write_text("5")


def corpus_folder(work: Path, size: int, seed: int) -> Path:
    """The seeds folder for 0, else a corpus of `size` generated files, cached the way
    bench/run.py caches its own (so that the two share it)."""
    if size == 0:
        return SEEDS
    folder = work / f"corpus-n{size}-seed{seed}"
    if not (folder / COMPLETE_MARKER).exists():
        if folder.exists():
            shutil.rmtree(folder)
        generate(folder, size, seed)
        (folder / COMPLETE_MARKER).touch()
    return folder


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 180 samples is the second largest); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


async def _search_once(news: News, query: str) -> float:
    started = time.perf_counter()
    await news.search(query, PAGE_SIZE)
    return time.perf_counter() - started


async def _search_until(news: News, done: asyncio.Event) -> list[float]:
    """What /news search costs a person, one query after another until `done`."""
    timings: list[float] = []
    queries = itertools.cycle(SEARCHES)
    while not done.is_set():
        timings.append(await _search_once(news, next(queries)))
        await asyncio.sleep(SEARCH_PAUSE_S)
    return timings


async def _searched_meanwhile(news: News, work: Awaitable[FetchReport]
                              ) -> tuple[FetchReport, float, list[float]]:
    """Run `work` (a fetch) with searches beside it; its result, duration and their timings."""
    done = asyncio.Event()
    searching = asyncio.create_task(_search_until(news, done))
    started = time.perf_counter()
    try:
        result = await work
    finally:
        elapsed = time.perf_counter() - started
        done.set()
    return result, elapsed, await searching


async def _timed(work: Awaitable[FetchReport]) -> tuple[FetchReport, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _entries_taken(report: FetchReport) -> int:
    return sum(feed.added + feed.updated + feed.unchanged for feed in report.feeds)


async def measure(feeds: int = 500, entries: int = 50, seed: int = 0, *,
                  corpus: Path = SEEDS, limit: int = 16,
                  limit_per_host: int = 2) -> dict[str, float]:
    """What an operator gets: a store loaded with `corpus`, the feeds in its feed list, a
    first poll through News.fetch (fetch, parse, store, index) with /news search queries
    running beside it, then a poll of the same feeds when all are due again and answer 304."""
    with tempfile.TemporaryDirectory(prefix="feed-bench-") as tmp, \
            serving(feeds, entries, seed) as port:
        async with await Store.open(Path(tmp) / "bench.db") as store:
            news = News(store, corpus)
            await news.sync()
            before = await store.article_count()
            await store.feeds.merge([FeedEntry(feed_url(n, port)) for n in range(feeds)])
            idle = [await _search_once(news, query) for query in SEARCHES * 4][len(SEARCHES):]
            async with Fetcher(allow_private=True, limit=limit, limit_per_host=limit_per_host,
                               resolver=BenchResolver()) as fetcher:
                reset_peak_rss()
                first, first_s, during = await _searched_meanwhile(
                    news, news.fetch(fetcher, now=ANCHOR))
                second, repoll_s = await _timed(
                    news.fetch(fetcher, now=ANCHOR + REPOLL_AFTER))
            peak = peak_rss_mb()
    taken = _entries_taken(first)
    return {
        "feeds": feeds,
        "feeds_corpus_articles": before,
        "feeds_entries_served": feeds * entries,
        "feeds_entries_stored": taken,
        "feeds_articles_added": first.articles - before,
        "feeds_first_poll_s": round(first_s, 3),
        "feeds_first_poll_new": first.count("new"),
        "feeds_first_poll_failed": len(first.failed),
        "feeds_items_per_s": round(taken / first_s, 1),
        "feeds_repoll_s": round(repoll_s, 3),
        "feeds_repoll_not_modified": second.count("not_modified"),
        "feeds_peak_rss_mb": round(peak, 1),
        "feeds_search_idle_p99_ms": _ms(percentile(idle, 99)),
        "feeds_search_during_poll_count": len(during),
        "feeds_search_during_poll_p50_ms": _ms(percentile(during, 50)),
        "feeds_search_during_poll_p99_ms": _ms(percentile(during, 99)),
        "feeds_search_during_poll_max_ms": _ms(max(during, default=0.0)),
    }


TARGETS = {"feeds_first_poll_s": FIRST_POLL_TARGET_S, "feeds_repoll_s": REPOLL_TARGET_S,
           "feeds_search_during_poll_p99_ms": SEARCH_P99_TARGET_MS}


def _status(name: str, value: float) -> str:
    if name not in TARGETS:
        return "info"
    return "PASS" if value <= TARGETS[name] else "MISS"


def report(figures: dict[str, float]) -> str:
    """The figures as lines, with PASS/MISS beside those that have a target."""
    lines = []
    for name, value in figures.items():
        verdict = ""
        if name in TARGETS:
            verdict = f"  target ≤ {TARGETS[name]:g}  {_status(name, value)}"
        lines.append(f"{name:32} {value:>10g}{verdict}")
    return "\n".join(lines)


def record(out: Path, feeds: int, corpus: Path, seed: int = 0) -> None:
    """Measure the feed cycle on `corpus`, print its table and add its figures to the
    results JSON that bench/run.py wrote at `out`, under "feeds"."""
    figures = asyncio.run(measure(feeds, seed=seed, corpus=corpus))
    print(report(figures))
    payload = json.loads(out.read_text())
    payload["feeds"] = {name: {"value": value, "target": TARGETS.get(name),
                               "status": _status(name, value)}
                        for name, value in figures.items()}
    out.write_text(json.dumps(payload, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark a feed poll cycle.")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=int, default=10000,
                        help="generated article files in the store first (0: the seeds folder)")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "work",
                        help="where the generated corpus is cached")
    parser.add_argument("--limit", type=int, default=16, help="requests at a time, overall")
    parser.add_argument("--per-host", type=int, default=2, help="requests at a time per host")
    args = parser.parse_args(argv)
    if min(args.feeds, args.entries) < 1 or args.corpus < 0:
        parser.error("--feeds and --entries must be ≥ 1, --corpus ≥ 0")
    corpus = corpus_folder(args.work, args.corpus, args.seed)
    figures = asyncio.run(measure(args.feeds, args.entries, args.seed, corpus=corpus,
                                  limit=args.limit, limit_per_host=args.per_host))
    print(report(figures))
    return 0


if __name__ == "__main__":  # the guard matters: the server and the parse workers are spawned
    sys.exit(main())
