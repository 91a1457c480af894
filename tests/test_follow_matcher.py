"""The follow matcher: many follows against many new articles, the same answer as checking
every follow against every article one by one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from random import Random

import pytest

from bench.follows import follow_mix, new_articles
from bot.follows.matcher import FollowMatcher
from bot.follows.rules import Candidate, FollowRule, FollowRuleError, Terms
from tests.follow_reference import matches

REPO = Path(__file__).resolve().parent.parent


def article(article_id: int, title: str, excerpt: str = "", topics: tuple[str, ...] = (),
            provider: str | None = None) -> Candidate:
    return Candidate(article_id, title, excerpt, frozenset(topics), provider)


def as_lists(found: Mapping[int, Sequence[int]]) -> dict[int, list[int]]:
    """The matcher's answer with each follow's articles as a plain list of ids."""
    return {follow_id: list(ids) for follow_id, ids in found.items()}


def one_by_one(rules: dict[int, FollowRule], articles: list[Candidate]) -> dict[int, list[int]]:
    """What the matcher must answer: every rule checked against every article."""
    found = {follow_id: [a.id for a in articles if matches(rule, a)]
             for follow_id, rule in rules.items()}
    return {follow_id: ids for follow_id, ids in found.items() if ids}


ARTICLES = [
    article(30, "AMD MI200 GPUs for Azure", "Llama training at scale", ("ai", "ai hardware"),
            "theregister.com"),
    article(10, "Meta opens Llama 3", "The open weights model is out.", ("ai", "nlp"),
            "datacenterdynamics.com"),
    article(20, "Rumor: open weights Llama 4", "", ("ai",), "nasdaq.com"),
    article(40, "Join our AI webinar", "Sponsored", ("ai",), None),
    article(5, "C++ für Müller", "Straße", ("robotics",), "theregister.com"),
]


def test_each_follow_gets_its_articles_in_the_order_given() -> None:
    rules = {
        1: FollowRule.checked(topic_key="ai hardware"),
        2: FollowRule.checked(keywords="llama"),
        3: FollowRule.checked(provider_domain="theregister.com"),
        4: FollowRule.checked(topic_key="ai hardware"),  # another server, the same ask
        5: FollowRule.checked(keywords='"open weights"', exclude="rumor"),
        6: FollowRule.checked(topic_key="ai", exclude="webinar, sponsored"),
        7: FollowRule.checked(keywords="mistral"),
        8: FollowRule.checked(provider_domain="theregister.com", keywords="c++, müller"),
        9: FollowRule.checked(keywords="strasse"),
        10: FollowRule.checked(topic_key="ai", provider_domain="nasdaq.com", keywords="llama"),
    }
    assert as_lists(FollowMatcher(rules).match(ARTICLES)) == {
        1: [30], 2: [30, 10, 20], 3: [30, 5], 4: [30], 5: [10], 6: [30, 10, 20], 8: [5],
        9: [5], 10: [20],
    }


def test_one_article_can_match_many_follows() -> None:
    rules = {n: FollowRule.checked(keywords=word) for n, word in
             enumerate(["amd", "mi200", "gpus", "azure", "llama", "training"], start=1)}
    rules[7] = FollowRule.checked(topic_key="ai hardware", provider_domain="theregister.com")
    assert as_lists(FollowMatcher(rules).match(ARTICLES[:1])) == {n: [30] for n in range(1, 8)}


def test_a_phrase_does_not_run_from_the_title_into_the_excerpt() -> None:
    rules = {1: FollowRule.checked(keywords='"open weights"')}
    articles = [article(1, "Why everything is open", "Weights matter"),
                article(2, "Weights", "Labs publish open-weights models"),
                article(3, "Open Weights", "")]
    assert as_lists(FollowMatcher(rules).match(articles)) == {1: [2, 3]}


def test_a_phrase_does_not_run_from_one_article_into_the_next() -> None:
    rules = {1: FollowRule.checked(keywords='"open weights"')}
    articles = [article(1, "Labs go open", ""), article(2, "Weights", "are out"),
                article(3, "Open", "Labs go open"), article(4, "Weights of models", "")]
    assert as_lists(FollowMatcher(rules).match(articles)) == {}


def test_a_big_round_is_counted_and_its_first_ids_read_as_all_would_be() -> None:
    # 5,000 articles, "llama" in every 300th: the first ten lie far apart.
    articles = [article(10_000 - n, "Llama news" if n % 300 == 7 else f"News {n}", "",
                        ("ai",)) for n in range(5000)]
    llama = [a.id for a in articles if a.title.startswith("Llama")]
    found = FollowMatcher({1: FollowRule.checked(keywords="llama"),
                           2: FollowRule.checked(topic_key="ai"),
                           3: FollowRule.checked(topic_key="ai")}).match(articles)
    assert (len(found[1]), len(found[2])) == (17, 5000)
    assert found[1][:10] == llama[:10] and found[2][:10] == [a.id for a in articles[:10]]
    assert found[1][:3] == llama[:3] and found[1][-1] == llama[-1]
    assert list(found[1]) == llama and list(found[1][:-1]) == llama[:-1]
    assert found[2] is found[3]  # the same answer, shared


def test_an_article_given_twice_counts_once() -> None:
    rules = {1: FollowRule.checked(keywords="llama")}
    twice = [ARTICLES[1], ARTICLES[0], ARTICLES[1]]
    assert as_lists(FollowMatcher(rules).match(twice)) == {1: [10, 30]}


def test_a_rule_of_exclusions_alone_matches_the_rest() -> None:
    # Only FollowRule.checked refuses it; a rule built otherwise still matches sensibly.
    rules = {1: FollowRule(exclude=Terms(("llama",))), 2: FollowRule()}
    assert as_lists(FollowMatcher(rules).match(ARTICLES)) == {1: [40, 5], 2: [30, 10, 20, 40, 5]}


@pytest.mark.parametrize(("rules", "articles"), [
    ({}, ARTICLES),
    ({1: FollowRule.checked(topic_key="ai")}, []),
    ({}, []),
    ({1: FollowRule.checked(keywords="mistral", topic_key="ai")}, ARTICLES),
])
def test_nothing_to_match_matches_nothing(rules: dict[int, FollowRule],
                                          articles: list[Candidate]) -> None:
    assert as_lists(FollowMatcher(rules).match(articles)) == {}


def test_the_matcher_can_be_used_for_many_batches() -> None:
    matcher = FollowMatcher({1: FollowRule.checked(keywords="llama")})
    assert as_lists(matcher.match(ARTICLES[:2])) == {1: [30, 10]}
    assert as_lists(matcher.match(ARTICLES[2:])) == {1: [20]}
    assert as_lists(matcher.match(iter(ARTICLES[3:]))) == {}


# A small vocabulary, so that random rules and articles meet often: words, words that
# punctuation or case disguise, phrases' parts, non-ASCII words, CJK characters.
VOCABULARY = ("llama", "mistral", "open", "weights", "gpt", "4o", "c++", "c", "ai", "chip",
              "müller", "straße", "rumor", "price", "cut", "人", "工", "智", "हिन्दी", "model")
SEPARATORS = (" ", " ", ", ", "-", ". ", "\u2019s ", " \u201c", "\u201d ", "\n", "/", " & ")
TOPICS = ("ai", "nlp", "robotics", "ai hardware")
PROVIDERS = (None, "theregister.com", "crn.com")


def _spelled(rng: Random, word: str) -> str:
    return rng.choice((word, word.upper(), word.title()))


def _text(rng: Random, words: int) -> str:
    parts = []
    for _ in range(words):
        parts += [_spelled(rng, rng.choice(VOCABULARY)), rng.choice(SEPARATORS)]
    return "".join(parts)


def _random_articles(rng: Random, count: int) -> list[Candidate]:
    return [Candidate(article_id, _text(rng, rng.randint(0, 6)), _text(rng, rng.randint(0, 12)),
                      frozenset(rng.sample(TOPICS, rng.randint(0, 2))), rng.choice(PROVIDERS))
            for article_id in rng.sample(range(10**6), count)]


def _terms(rng: Random, most: int) -> str:
    terms = []
    for _ in range(rng.randint(0, most)):
        words = [rng.choice(VOCABULARY) for _ in range(rng.choice((1, 1, 2, 3)))]
        terms.append(words[0] if len(words) == 1 else f'"{" ".join(words)}"')
    return ", ".join(terms)


def _random_rules(rng: Random, count: int) -> dict[int, FollowRule]:
    rules: dict[int, FollowRule] = {}
    while len(rules) < count:
        try:
            rule = FollowRule.checked(
                topic_key=rng.choice((None, None, *TOPICS)),
                provider_domain=rng.choice((None, None, *PROVIDERS)),
                keywords=_terms(rng, 3), exclude=_terms(rng, 2))
        except FollowRuleError:  # nothing asked for, or a keyword excluded: draw again
            continue
        rules[len(rules) + 1] = rule
    rules[len(rules) + 1] = FollowRule(exclude=Terms((rng.choice(VOCABULARY),)))
    return rules


@pytest.mark.parametrize("seed", range(8))
def test_same_answer_as_one_by_one_on_a_dense_random_mix(seed: int) -> None:
    rng = Random(seed)
    rules, articles = _random_rules(rng, 300), _random_articles(rng, 200)
    expected = one_by_one(rules, articles)
    assert sum(map(len, expected.values())) > 1000  # the mix is dense enough to mean something
    assert as_lists(FollowMatcher(rules).match(articles)) == expected


def test_same_answer_as_one_by_one_on_the_bench_mix() -> None:
    rng = Random(7)
    rules, articles = follow_mix(rng, 1500), new_articles(rng, 300)
    expected = one_by_one(rules, articles)
    assert len(expected) > 1000
    assert as_lists(FollowMatcher(rules).match(articles)) == expected


def test_bench_runs_alone_and_prints_the_figure() -> None:
    done = subprocess.run(
        [sys.executable, "bench/follows.py", "--servers", "20", "--articles", "100",
         "--repeats", "2"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[1:]}
    assert lines["follow_match_ms"][1:4] == ["≤", "200", "ms"]  # its target, whatever the time
    assert float(lines["follow_matches"][0]) > 0
    assert float(lines["follow_follows_matching"][0]) <= 200
