"""Typos: the corpus vocabulary, corrected searches, nearest suggestions (real SQLite)."""

from __future__ import annotations

from pathlib import Path
from random import Random

import pytest

from bot.queries import Answer, News, NotFound
from bot.store import Store
from bot.vocabulary import Vocabulary
from tests.conftest import write_article

ARTICLES = [
    ("OpenAI ships a reasoning model", "OpenAI says the model plans before it answers.",
     "openai.com", "OpenAI", ["AI", "OpenAI"]),
    ("Nvidia unveils its next accelerator", "Nvidia claims twice the training speed.",
     "nvidia.com", "Nvidia", ["AI", "AI Hardware"]),
    ("Azure adds more GPU regions", "Microsoft Azure grows its AI capacity.",
     "azure.microsoft.com", "Microsoft", ["AI", "Cloud"]),
    ("Warehouse arms learn new grips", "A lab trains arms in simulation first.",
     "example.org", "Example Lab", ["Robotics"]),
]


def write_corpus(seeds: Path) -> None:
    for number, (title, excerpt, domain, name, topics) in enumerate(ARTICLES):
        write_article(seeds / f"{number:03}.md", title=title, excerpt=excerpt,
                      publishedDateTime=f"2026-05-0{number + 1}T10:00:00Z",
                      originalUrl=f"https://{domain}/story-{number}",
                      provider={"name": name, "domain": domain}, topics=topics)


@pytest.fixture
async def corpus(store: Store, tmp_path: Path) -> News:
    seeds = tmp_path / "small"
    write_corpus(seeds)
    news = News(store, seeds)
    assert (await news.sync()).failed == []
    return news


def answer(result: Answer | NotFound) -> Answer:
    assert isinstance(result, Answer), result
    return result


async def test_typos_are_corrected_to_the_corpus_words(corpus: News) -> None:
    assert corpus.correct(["azrue", "opneai", "nvdia"]) == [
        ("azrue", "azure"), ("opneai", "openai"), ("nvdia", "nvidia")]


@pytest.mark.parametrize(("typed", "word"), [("azrue", "azure"), ("opneai", "openai"),
                                             ("Nvdia", "nvidia")])
async def test_a_corrected_search_finds_the_word_and_says_so(
    corpus: News, typed: str, word: str
) -> None:
    result = answer(await corpus.search(typed, limit=10))
    assert result.heading == f"Showing results for **{word}** (you typed {typed})"
    assert result.corrected == ((typed, word),)
    assert result.page.items
    assert all(word in f"{a.title} {a.excerpt}".casefold() for a in result.page.items)


async def test_only_the_unknown_word_of_a_query_is_corrected(corpus: News) -> None:
    result = answer(await corpus.search("nvidia acelerator", limit=10))
    assert result.heading == ("Showing results for **nvidia accelerator** "
                              "(you typed acelerator)")
    assert [a.title for a in result.page.items] == ["Nvidia unveils its next accelerator"]


async def test_a_word_the_corpus_knows_is_never_corrected(
    store: Store, tmp_path: Path
) -> None:
    seeds = tmp_path / "small"
    write_corpus(seeds)
    write_article(seeds / "azrue.md", title="Azrue, the band, tours again", excerpt="Music.",
                  originalUrl="https://music.example/azrue", topics=["Music"])
    news = News(store, seeds)
    await news.sync()
    assert news.correct(["azrue", "azure"]) == []
    result = answer(await news.search("azrue", limit=10))
    assert result.heading == "Search: azrue"
    assert [a.title for a in result.page.items] == ["Azrue, the band, tours again"]


async def test_short_words_and_numbers_are_left_alone(corpus: News) -> None:
    # "gpx" is one edit from "gpu", "ai" from many words, "2O26" holds a digit.
    assert corpus.correct(["gpx", "aj", "2O26", "n1vidia"]) == []


async def test_nothing_found_suggests_what_is_nearest_to_the_text(corpus: News) -> None:
    result = await corpus.search("Robotix qqqqqq", limit=10)
    assert isinstance(result, NotFound)
    assert result.suggestions[0] == "Robotics (topic)"
    assert "AI (topic)" not in result.suggestions[:1]  # the commonest topic is not first


async def test_the_vocabulary_follows_files_added_and_removed(corpus: News) -> None:
    assert corpus.vocabulary.count("quokkanet") == 0
    added = write_article(
        corpus.seeds_dir / "new.md", title="Quokkanet beats the benchmarks",
        excerpt="A wombatlike architecture.", originalUrl="https://zoo.example/quokka",
        provider={"name": "Zoo Press", "domain": "zoo.example"}, topics=["Marsupials"])
    before = corpus.index
    await corpus.sync()
    assert corpus.index is not before
    for word in ("quokkanet", "wombatlike", "zoo", "marsupials"):
        assert corpus.vocabulary.count(word) == 1, word
    assert corpus.correct(["quokanet"]) == [("quokanet", "quokkanet")]
    assert answer(await corpus.search("wombatlkie", limit=5)).corrected == (
        ("wombatlkie", "wombatlike"),)

    added.unlink()
    await corpus.sync()
    for word in ("quokkanet", "zoo", "marsupials"):  # title, provider and topic words
        assert corpus.vocabulary.count(word) == 0, word
    assert corpus.correct(["quokanet"]) == []
    # An excerpt word: the index keeps no excerpts, so the search checks what it corrects to.
    result = await corpus.search("wombatlkie", limit=5)
    assert isinstance(result, NotFound)
    assert corpus.vocabulary.count("wombatlike") == 0
    assert corpus.vocabulary.count("azure") == 1  # the rest is kept


async def test_an_edited_title_changes_the_words(corpus: News) -> None:
    path = corpus.seeds_dir / "000.md"
    _title, excerpt, domain, name, topics = ARTICLES[0]
    write_article(path, title="Anthropic ships a reasoning model", excerpt=excerpt,
                  publishedDateTime="2026-05-01T10:00:00Z",
                  originalUrl=f"https://{domain}/story-0",
                  provider={"name": name, "domain": domain}, topics=topics)
    await corpus.sync()
    assert corpus.vocabulary.count("anthropic") == 1
    assert corpus.vocabulary.count("ships") == 1
    assert corpus.correct(["anthropik"]) == [("anthropik", "anthropic")]


def test_vocabulary_changes_keep_every_count_right() -> None:
    # Many rounds of words coming, going and changing counts, as syncs make them.
    rng = Random(1)
    truth: dict[str, int] = {}
    vocabulary = Vocabulary()
    for _round in range(300):
        changes = {"".join(rng.choice("abcde") for _ in range(rng.randint(3, 6))):
                   rng.choice([0, 0, 1, 2, 5]) for _ in range(rng.randint(1, 30))}
        for word, count in changes.items():
            if count:
                truth[word] = count
            else:
                truth.pop(word, None)
        vocabulary = vocabulary.changed(changes)
    assert {word: vocabulary.count(word) for word in truth} == truth
    assert len(vocabulary) == len(truth)
    gone = next(word for word in ("abcde", "eeeee", "aaaa") if word not in truth)
    assert vocabulary.count(gone) == 0


def test_a_typo_has_its_near_words_likeliest_first() -> None:
    vocabulary = Vocabulary.of([("trading", 900), ("training", 90), ("trailing", 9),
                                ("spin", 5)])
    assert vocabulary.candidates("traiing", 5) == ["trading", "training", "trailing"]
    assert vocabulary.candidates("traiing", 2) == ["trading", "training"]
    assert vocabulary.candidates("training", 5) == []  # a known word has no other meaning
    assert vocabulary.correction("traiing") == "trading"


def test_the_alternatives_change_one_typed_word_at_a_time() -> None:
    vocabulary = Vocabulary.of([("trading", 900), ("training", 90), ("trailing", 9),
                                ("sprint", 50), ("spring", 5)])
    corrected = [("traiing", "trading"), ("sprinf", "sprint")]
    assert vocabulary.alternatives(corrected, 10) == [
        corrected,
        [("traiing", "training"), ("sprinf", "sprint")],
        [("traiing", "trailing"), ("sprinf", "sprint")],
        [("traiing", "trading"), ("sprinf", "spring")],
    ]
    assert vocabulary.alternatives(corrected, 2) == [
        corrected, [("traiing", "training"), ("sprinf", "sprint")]]
