"""Follow matching benchmark: 5,000 new articles against 10,000 follows (1,000 servers, 10 each).

    python bench/follows.py [--seed 0] [--repeats 7] [--servers 1000] [--articles 5000]

The articles are the bench corpus' (bench/generate.py: its titles, excerpts, topics and
providers); the follows a mix drawn from the same names: about half on a topic alone, some
on a provider, some on keywords (companies, products, phrases such as "language model")
alone or with a topic or provider, a share with exclusions. Each repetition does what a sync
does with them: index the follows (FollowMatcher), match the new articles and read what
each follow posts (bot/follows/outbox.py: all its matches, or a big round's first 10 and
how many more; what it records of the rest, not posted, is the outbox's work). The figure is
the p99 over the repetitions, after one untimed warm-up, beside the CPU it took (which moves
less than the wall time when the machine is busy). `python bench/run.py --follows` adds the
figures to the results JSON under "follows", as its own figures are written.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from random import Random

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make `bot` and `bench` importable

from bench.generate import (  # noqa: E402
    COMPANY_NAMES,
    CONCERNS,
    EVENTS,
    PROVIDER_CUM_WEIGHTS,
    PROVIDERS,
    SECTORS,
    THINGS,
    TOPIC_CUM_WEIGHTS,
    TOPICS,
    _entity,
)
from bot.follows.matcher import FollowMatcher  # noqa: E402
from bot.follows.outbox import shown  # noqa: E402
from bot.follows.rules import Candidate, FollowRule, FollowRuleError  # noqa: E402

SERVERS = 1_000
FOLLOWS_PER_SERVER = 10
ARTICLES = 5_000
REPEATS = 7
TARGET_MS = 200.0
# A figure as bench/run.py's Figure takes it: name, value, unit, target (None: information).
Row = tuple[str, float, str, float | None]
# Single words people follow besides names: products, kinds of hardware, buzzwords.
WORDS = ("gpu", "gpus", "chip", "chatbot", "robot", "robots", "azure", "tpu", "supercomputer",
         "ai", "deepfake", "copyright", "regulation", "startup", "acquisition", "llama",
         "mistral", "gemini", "h100", "mi200")
EXCLUDES = (*CONCERNS, "shares", "webinar", "sponsored", "rumor", "stock", "trading", "study")
# What a follow is made of, and how often (out of 100).
KINDS = (("topic", 45), ("topic+exclude", 5), ("provider", 10), ("provider+keywords", 5),
         ("topic+keywords", 10), ("keywords", 15), ("keywords+exclude", 10))


def _quoted(term: str) -> str:
    return f'"{term}"' if " " in term else term


def _keywords(rng: Random) -> str:
    """1 to 4 terms as a person types them: names, things (phrases), sectors, words."""
    pools = (COMPANY_NAMES, THINGS, SECTORS, EVENTS, WORDS)
    terms = [rng.choice(rng.choices(pools, weights=(4, 3, 1, 1, 4))[0])
             for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
    return ", ".join(_quoted(term) for term in terms)


def _exclude(rng: Random) -> str:
    return ", ".join(_quoted(term) for term in rng.sample(EXCLUDES, rng.choice((1, 1, 2))))


def _topic(rng: Random) -> str:
    # "AI" is on most articles: followed too, but not as often as its share would make it.
    if rng.random() < 0.05:
        return "ai"
    return rng.choices(TOPICS, cum_weights=TOPIC_CUM_WEIGHTS)[0].casefold()


def _provider(rng: Random) -> str:
    return PROVIDERS[rng.choices(range(len(PROVIDERS)), cum_weights=PROVIDER_CUM_WEIGHTS)[0]
                     ].domain


def _rule(rng: Random, kind: str) -> FollowRule:
    parts = kind.split("+")
    topic = _topic(rng) if "topic" in parts else None
    provider = _provider(rng) if "provider" in parts else None
    keywords = _keywords(rng) if "keywords" in parts else ""
    exclude = _exclude(rng) if "exclude" in parts else ""
    try:
        return FollowRule.checked(topic_key=topic, provider_domain=provider, keywords=keywords,
                                  exclude=exclude)
    except FollowRuleError:  # an exclusion drew one of the keywords: keep the keywords
        return FollowRule.checked(topic_key=topic, provider_domain=provider, keywords=keywords)


def follow_mix(rng: Random, count: int) -> dict[int, FollowRule]:
    """`count` follows (ids 1..count) in the realistic mix of KINDS."""
    names = [name for name, _ in KINDS]
    weights = [weight for _, weight in KINDS]
    return {follow_id: _rule(rng, rng.choices(names, weights=weights)[0])
            for follow_id in range(1, count + 1)}


def new_articles(rng: Random, count: int) -> list[Candidate]:
    """`count` articles of the bench corpus' kind, as a sync hands them to the matcher."""
    used_urls: set[str] = set()
    articles = []
    for index in range(count):
        entity = _entity(rng, index, True, used_urls)
        articles.append(Candidate(index + 1, entity.title, entity.excerpt,
                                  frozenset(topic.casefold() for topic in entity.topics),
                                  entity.provider_domain))
    return articles


def timed_round(rules: Mapping[int, FollowRule], articles: Sequence[Candidate]
                ) -> tuple[float, float, float]:
    """Milliseconds to index `rules` and to index them, match `articles` and read which
    articles each follow posts (all it matched, or a big round's first few: the rest it
    counts), and the CPU milliseconds of both."""
    cpu, started = time.process_time(), time.perf_counter()
    matcher = FollowMatcher(rules)
    built = time.perf_counter()
    for matched in matcher.match(articles).values():
        matched[:shown(len(matched))]  # the ids its posts are made of, decoded
    done = time.perf_counter()
    return (built - started) * 1000, (done - started) * 1000, (time.process_time() - cpu) * 1000


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile, as bench/run.py takes it (p99 of 7 is the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def measure(seed: int = 0, repeats: int = REPEATS, servers: int = SERVERS,
            articles: int = ARTICLES) -> list[Row]:
    """Index 10 follows a server and match the new articles, `repeats` times after a warm-up."""
    rng = Random(seed)
    rules = follow_mix(rng, servers * FOLLOWS_PER_SERVER)
    new = new_articles(rng, articles)
    matches = FollowMatcher(rules).match(new)  # the warm-up
    builds, totals, cpus = zip(*(timed_round(rules, new) for _ in range(repeats)), strict=True)
    return [
        ("follow_match_ms", percentile(totals, 99), "ms", TARGET_MS),
        ("follow_match_p50_ms", percentile(totals, 50), "ms", None),
        ("follow_match_cpu_p50_ms", percentile(cpus, 50), "ms", None),
        ("follow_index_build_p50_ms", percentile(builds, 50), "ms", None),
        ("follow_distinct_rules", len(set(rules.values())), "n", None),
        ("follow_matches", sum(map(len, matches.values())), "n", None),
        ("follow_follows_matching", len(matches), "n", None),
    ]


def report(rows: Sequence[Row]) -> str:
    """One line a figure: name, value, and its target with PASS/MISS."""
    lines = []
    for name, value, unit, target in rows:
        verdict = "" if target is None else (
            f"≤ {target:.0f} {unit}  {'PASS' if value <= target else 'MISS'}")
        lines.append(f"{name:<28} {value:>12.2f}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark follow matching.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--servers", type=int, default=SERVERS,
                        help=f"{FOLLOWS_PER_SERVER} follows each")
    parser.add_argument("--articles", type=int, default=ARTICLES)
    args = parser.parse_args(argv)
    if min(args.repeats, args.servers, args.articles) < 1:
        parser.error("--repeats, --servers and --articles must be ≥ 1")
    print(f"{args.articles} articles against {args.servers * FOLLOWS_PER_SERVER} follows, "
          f"{args.repeats} repetitions")
    print(report(measure(args.seed, args.repeats, args.servers, args.articles)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
