"""Feed cycle benchmark: N generated feeds served locally, a first poll and a re-poll of all.

    python bench/feeds.py [--feeds 500] [--entries 50] [--seed 0] [--limit 16] [--per-host 2]

The documents are deterministic (seeded): RSS 2.0, Atom 1.0 and RSS 1.0/RDF from the bench
corpus' providers and topics, HTML excerpts, images, tracking parameters, and a share of
entries that another feed also carries. A child process serves them on 127.0.0.1 with ETags
(so that serving costs this process nothing), each feed under its own host name, resolved to
127.0.0.1 by the bench, so the Fetcher's real per-host limit applies as it would on the web.

Measured: the first poll (fetch + parse of every feed), a re-poll where every feed answers
304, items/s of the first poll, and this process' peak RSS (VmHWM). `measure(..., sink=)`
passes every Polled to an async callback (e.g. the store's writes) inside the timed polls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import multiprocessing
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
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

from bench.generate import COMPANY_NAMES, PROVIDERS, THINGS, TOPICS, VERBS  # noqa: E402
from bot.feeds.fetch import Fetcher  # noqa: E402
from bot.feeds.poll import Polled, poll  # noqa: E402
from bot.feeds.state import Feed  # noqa: E402

HOST_SUFFIX = ".feeds.bench.test"
ANCHOR = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)  # fixed: the seed alone decides every byte
DUPLICATE_SHARE = 0.05  # entries that another feed also carries (a syndicated story)
FIRST_POLL_TARGET_S = 10.0
REPOLL_TARGET_S = 1.0
INTERVAL_MINUTES = 15
FORMATS = ("rss", "rss", "rss", "atom", "atom", "rdf")  # RSS is the commonest on the web

Sink = Callable[[Polled], Awaitable[None]]


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


async def _ignore(polled: Polled) -> None:
    del polled


async def _cycle(feeds: list[Feed], fetcher: Fetcher, now: datetime,
                 sink: Sink) -> tuple[float, list[Polled]]:
    started = time.perf_counter()
    results = []
    async for polled in poll(feeds, fetcher, now=now, interval_minutes=INTERVAL_MINUTES):
        await sink(polled)
        results.append(polled)
    return time.perf_counter() - started, results


async def measure(feeds: int = 500, entries: int = 50, seed: int = 0, *,
                  sink: Sink = _ignore, limit: int = 16,
                  limit_per_host: int = 2) -> dict[str, float]:
    """Serve the feeds, poll them all twice (the second time all answer 304); the figures."""
    with serving(feeds, entries, seed) as port:
        polled_feeds = [Feed(number + 1, feed_url(number, port)) for number in range(feeds)]
        async with Fetcher(allow_private=True, limit=limit, limit_per_host=limit_per_host,
                           resolver=BenchResolver()) as fetcher:
            first_s, first = await _cycle(polled_feeds, fetcher, ANCHOR, sink)
            later = ANCHOR + timedelta(hours=1)
            repoll_s, second = await _cycle([p.feed for p in first], fetcher, later, sink)
    items = sum(len(p.document.records) for p in first if p.document is not None)
    first_outcomes, second_outcomes = Counter(p.outcome for p in first), Counter(
        p.outcome for p in second)
    return {
        "feeds": feeds,
        "feeds_entries_served": feeds * entries,
        "feeds_items_parsed": items,
        "feeds_first_poll_s": round(first_s, 3),
        "feeds_first_poll_new": first_outcomes["new"],
        "feeds_first_poll_failed": first_outcomes["failed"],
        "feeds_items_per_s": round(items / first_s, 1),
        "feeds_repoll_s": round(repoll_s, 3),
        "feeds_repoll_not_modified": second_outcomes["not_modified"],
        "feeds_peak_rss_mb": round(peak_rss_mb(), 1),
    }


def report(figures: dict[str, float]) -> str:
    """The figures as lines, with PASS/MISS beside those that have a target."""
    targets = {"feeds_first_poll_s": FIRST_POLL_TARGET_S, "feeds_repoll_s": REPOLL_TARGET_S}
    lines = []
    for name, value in figures.items():
        verdict = ""
        if name in targets:
            verdict = f"  target ≤ {targets[name]:g}  " + (
                "PASS" if value <= targets[name] else "MISS")
        lines.append(f"{name:28} {value:>10g}{verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark a feed poll cycle.")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=16, help="requests at a time, overall")
    parser.add_argument("--per-host", type=int, default=2, help="requests at a time per host")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.feeds, args.entries, args.seed, limit=args.limit,
                                  limit_per_host=args.per_host))
    print(report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
