"""The read API (bot.queries.News) over the real seeds: what a person asks, what they get."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import AMD_TITLE, AMD_URL, META_TITLE, META_URL, SEEDS, write_article
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, utils

from bot.articles import Article
from bot.queries import RELATED_CANDIDATES, Answer, News, NotFound
from bot.store import Store

NASDAQ_TITLE = "Microsoft (MSFT) Azure Selected by Meta to Boost AI Innovation"
META_AZURE_STUB = "Despite 'key' partnership with AWS, Meta taps up Microsoft Azure for AI work"
ALL_TOPICS = {"AI", "AI Hardware", "Microsoft AI", "Facebook AI"}


def answer(result: Answer | NotFound) -> Answer:
    assert isinstance(result, Answer), result
    return result


def titles(result: Answer | NotFound) -> list[str]:
    return [article.title for article in answer(result).page.items]


def mentions(article: Article, word: str) -> bool:
    return word.casefold() in f"{article.title} {article.excerpt}".casefold()


# ---- latest and paging ---------------------------------------------------------------------


async def test_latest_is_newest_first(news: News) -> None:
    page = answer(await news.latest(limit=50)).page
    assert page.total == 15 and len(page.items) == 15
    moments = [article.published_at for article in page.items]
    assert all(moment is not None for moment in moments)
    assert moments == sorted(moments, reverse=True)  # type: ignore[type-var]
    assert page.items[0].title == "Microsoft\u2019s new execs helping win at Azure, AI, devices"


async def test_pages_of_latest_cover_everything_once(news: News) -> None:
    seen: list[str] = []
    for offset in range(0, 15, 4):
        page = answer(await news.latest(limit=4, offset=offset)).page
        assert (page.total, page.offset, page.limit) == (15, offset, 4)
        assert len(page.items) == min(4, 15 - offset)
        seen.extend(article.url for article in page.items)
    assert len(seen) == len(set(seen)) == 15
    beyond = answer(await news.latest(limit=4, offset=40)).page
    assert beyond.items == [] and beyond.total == 15


async def test_latest_since_leaves_out_older_articles(news: News) -> None:
    since = datetime(2022, 5, 27, tzinfo=UTC)
    page = answer(await news.latest(limit=50, since=since)).page
    assert page.total == 5
    assert all(a.published_at is not None and a.published_at >= since for a in page.items)


# ---- topics --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "topic"),
    [
        ("AI hardware", "AI Hardware"),
        ("ai hardware", "AI Hardware"),
        ("hardware", "AI Hardware"),
        ("  Hardware ", "AI Hardware"),
        ("facebook", "Facebook AI"),
        ("Facebook AI", "Facebook AI"),
        ("microsoft", "Microsoft AI"),
        ("ai", "AI"),
    ],
)
async def test_a_topic_is_found_by_what_a_person_types(news: News, typed: str, topic: str) -> None:
    result = answer(await news.topic(typed, limit=10))
    assert result.heading == f"Topic: {topic}"
    assert all(topic in article.topics for article in result.page.items)


async def test_the_hardware_topic_has_the_amd_article(news: News) -> None:
    result = answer(await news.topic("hardware", limit=10))
    assert titles(result) == [AMD_TITLE]
    amd = result.page.items[0]
    assert amd.link.startswith("https://www.theregister.com/2022/05/26/amd_azure_microsoft/")
    assert amd.amp_url == "https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/"


async def test_facebook_finds_the_meta_article(news: News) -> None:
    assert titles(await news.topic("facebook", limit=10)) == [META_TITLE]


async def test_an_unknown_topic_suggests_real_ones(news: News) -> None:
    result = await news.topic("quantum computing", limit=10)
    assert isinstance(result, NotFound)
    assert "quantum computing" in result.message
    assert result.suggestions and set(result.suggestions) <= ALL_TOPICS


@pytest.mark.parametrize(("typed", "topic"), [("Facebok", "Facebook AI"),
                                              ("microsft ai", "Microsoft AI")])
async def test_a_misspelt_topic_is_still_found(news: News, typed: str, topic: str) -> None:
    assert answer(await news.topic(typed, limit=5)).heading == f"Topic: {topic}"


async def test_a_doubtful_topic_is_suggested_instead_of_guessed(news: News) -> None:
    result = await news.topic("hardwre", limit=5)
    assert isinstance(result, NotFound)
    assert result.suggestions[0] == "AI Hardware"


async def test_topic_pages_and_totals(news: News) -> None:
    first = answer(await news.topic("AI", limit=1)).page
    second = answer(await news.topic("AI", limit=1, offset=1)).page
    assert first.total == second.total == 2
    assert {first.items[0].url, second.items[0].url} == {AMD_URL, META_URL}


async def test_a_topic_with_nothing_recent_says_so(news: News) -> None:
    result = await news.topic("AI", limit=5, since=datetime(2023, 1, 1, tzinfo=UTC))
    assert isinstance(result, NotFound)
    assert "AI" in result.message and "2023-01-01" in result.message


async def test_topics_are_listed_with_counts(news: News) -> None:
    counts = {topic.name: topic.count for topic in news.topics()}
    assert counts == {"AI": 2, "Microsoft AI": 2, "AI Hardware": 1, "Facebook AI": 1}
    assert [topic.count for topic in news.topics()] == sorted(counts.values(), reverse=True)


# ---- providers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["the register", "The Register", "theregister", "theregister.com",
              "www.theregister.com", "register"],
)
async def test_a_provider_is_found_by_name_or_domain(news: News, typed: str) -> None:
    result = answer(await news.provider(typed, limit=10))
    assert "theregister.com" in result.heading
    assert set(titles(result)) == {AMD_TITLE, META_AZURE_STUB}
    assert result.page.total == 2


async def test_a_provider_with_a_possessive_name_is_found(news: News) -> None:
    result = answer(await news.provider("beckers hospital", limit=10))
    assert result.page.total == 2
    assert all(a.provider and a.provider.domain == "beckershospitalreview.com"
               for a in result.page.items)


async def test_an_unknown_provider_suggests_real_ones(news: News) -> None:
    result = await news.provider("bbc", limit=10)
    assert isinstance(result, NotFound)
    known = {provider.name for provider in news.providers()}
    assert result.suggestions and set(result.suggestions) <= known


async def test_providers_are_listed_with_counts(news: News) -> None:
    counts = {provider.domain: provider.count for provider in news.providers()}
    assert len(counts) == 13
    assert counts["theregister.com"] == 2 and counts["beckershospitalreview.com"] == 2
    assert counts["nasdaq.com"] == 1
    assert sum(counts.values()) == 15


# ---- finding one article -------------------------------------------------------------------


async def test_an_article_is_found_by_id_in_every_spelling(news: News) -> None:
    amd = await news.article(AMD_URL)
    assert isinstance(amd, Article) and amd.article_id is not None
    for typed in (str(amd.article_id), f"#{amd.article_id}", f"id:{amd.article_id}",
                  f"  #{amd.article_id} "):
        found = await news.article(typed)
        assert isinstance(found, Article) and found.url == AMD_URL


@pytest.mark.parametrize(
    "url",
    [
        "https://www.theregister.com/2022/05/26/amd_azure_microsoft/?td=amp-keepreading-btm",
        "https://www.theregister.com/2022/05/26/amd_azure_microsoft/?utm_source=discord",
        "HTTP://theregister.com/2022/05/26/amd_azure_microsoft#comments",
    ],
)
async def test_an_article_is_found_by_url_with_tracking_parameters(news: News, url: str) -> None:
    found = await news.article(url)
    assert isinstance(found, Article)
    assert found.title == AMD_TITLE and not found.is_stub


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("amd mi200 azure", AMD_TITLE),
        ("Meta Azure", META_TITLE),
        ("meta facebook azure supercomputing", META_TITLE),
        ("microsoft build 2022 key highlights", "Microsoft Build 2022: Key highlights"),
    ],
)
async def test_an_article_is_found_by_a_fuzzy_title(news: News, typed: str, title: str) -> None:
    found = await news.article(typed)
    assert isinstance(found, Article) and found.title == title


async def test_an_unknown_article_is_not_found(news: News) -> None:
    for typed in ("999999", "#999999", "https://example.com/not-in-the-corpus",
                  "zzzz qqqq xxxx"):
        assert isinstance(await news.article(typed), NotFound)


# ---- related -------------------------------------------------------------------------------


async def test_related_to_the_meta_article_is_its_list_and_more_but_never_itself(
    news: News,
) -> None:
    result = answer(await news.related("Meta Azure", limit=50))
    assert result.heading == f"Related to: {META_TITLE}"
    found = titles(result)
    assert META_TITLE not in found
    assert AMD_TITLE in found and META_AZURE_STUB in found
    assert len(found) == result.page.total == 14  # everything else in this small corpus
    assert len(set(found)) == len(found)


async def test_related_ranks_listed_and_listing_articles_first(news: News) -> None:
    amd = await news.article(AMD_URL)
    assert isinstance(amd, Article) and amd.article_id is not None
    listed, listing = await news.store.linked(amd.article_id)
    linked = set(listed) | set(listing)
    assert len(listed) == 4 and len(listing) == 1
    result = answer(await news.related(f"#{amd.article_id}", limit=50))
    ranked = [article.article_id for article in result.page.items]
    assert amd.article_id not in ranked
    assert set(ranked[: len(linked)]) == linked
    # Articles neither listed nor listing still come, through shared words in the title.
    assert "AMD Instinct(TM) MI200 Adopted for Large-Scale AI Training in Microsoft Azure" in [
        article.title for article in result.page.items
    ]


async def test_related_order_follows_the_documented_weights(news: News) -> None:
    """Listed 3, listing 2, 1 per shared topic, plus twice the title similarity; ties by id."""
    amd = await news.article(AMD_URL)
    assert isinstance(amd, Article) and amd.article_id is not None
    listed, listing = await news.store.linked(amd.article_id)
    shared = await news.store.topic_neighbours(amd.article_id, RELATED_CANDIDATES)
    similar = {hit.item.id for hit in news.index.similar_titles(amd.title, RELATED_CANDIDATES)}
    expected = []
    for other in (set(listed) | set(listing) | set(shared) | similar) - {amd.article_id}:
        entry = news.index.title_entry(other)
        assert entry is not None
        weight = (3.0 * (other in listed) + 2.0 * (other in listing) + shared.get(other, 0)
                  + 2.0 * fuzz.token_set_ratio(amd.title, entry.title,
                                               processor=utils.default_process) / 100)
        expected.append((-weight, other))
    result = answer(await news.related(f"#{amd.article_id}", limit=50))
    assert [a.article_id for a in result.page.items] == [other for _w, other in sorted(expected)]


async def test_related_to_a_stub_starts_with_the_article_that_lists_it(news: News) -> None:
    result = answer(await news.related(META_AZURE_STUB, limit=5))
    assert result.page.items[0].title == META_TITLE
    assert META_AZURE_STUB not in titles(result)


async def test_related_pages(news: News) -> None:
    first = answer(await news.related("Meta Azure", limit=5)).page
    second = answer(await news.related("Meta Azure", limit=5, offset=5)).page
    assert first.total == second.total == 14
    assert not {a.url for a in first.items} & {a.url for a in second.items}


async def test_related_to_nothing_known_is_not_found(news: News) -> None:
    assert isinstance(await news.related("zzzz qqqq xxxx", limit=5), NotFound)


# ---- full-text search ----------------------------------------------------------------------


async def test_search_finds_words_in_titles_and_excerpts(news: News) -> None:
    result = answer(await news.search("azure", limit=50))
    assert result.page.total == 11
    assert all(mentions(article, "azure") for article in result.page.items)
    only_in_excerpt = answer(await news.search("Zuckerberg", limit=5))
    assert titles(only_in_excerpt) == [META_AZURE_STUB]


async def test_search_finds_the_words_of_providers_and_topics(news: News) -> None:
    # Words that no title or excerpt holds: a provider's domain and name, and a topic's.
    by_domain = answer(await news.search("beckershospitalreview", limit=10)).page.items
    by_name = answer(await news.search("hospital review", limit=10)).page.items
    assert len(by_domain) == 2 and by_name == by_domain
    for article in by_domain:
        assert article.provider is not None
        assert article.provider.domain == "beckershospitalreview.com"
        assert not mentions(article, "hospital")
    by_topic = answer(await news.search("hardware", limit=10)).page.items
    assert [article.url for article in by_topic] == [AMD_URL]
    assert "AI Hardware" in by_topic[0].topics and not mentions(by_topic[0], "hardware")


async def test_search_words_all_have_to_match(news: News) -> None:
    assert titles(await news.search("gpu azure", limit=10)) == [AMD_TITLE]


@pytest.mark.parametrize(
    "typed",
    ['"azure', 'azure"', "azure*", "*azure", "-azure", "(azure", "azure)", "azure^",
     "'azure'", "azure;", "{azure}", "azure +", "[azure]"],
)
async def test_search_operators_typed_by_a_person_are_plain_text(news: News, typed: str) -> None:
    plain = answer(await news.search("azure", limit=50))
    result = answer(await news.search(typed, limit=50))
    assert [a.url for a in result.page.items] == [a.url for a in plain.page.items]


@pytest.mark.parametrize(
    "typed",
    ["NEAR(azure", "NEAR(azure meta, 2)", "title:azure", "azure AND", "NOT azure", "azure OR",
     "azure: ((meta", 'azure "meta', "azure NEAR meta", "^azure"],
)
async def test_search_never_raises_on_query_syntax_and_still_finds_the_word(
    news: News, typed: str
) -> None:
    result = answer(await news.search(typed, limit=50))
    assert result.page.items
    assert all(mentions(article, "azure") for article in result.page.items)


@pytest.mark.parametrize("typed", ["", "   ", "***", "()", '"', "-", ":", "NEAR(", "AND", "OR NOT"])
async def test_search_without_words_answers_without_raising(news: News, typed: str) -> None:
    result = await news.search(typed, limit=5)
    assert isinstance(result, Answer | NotFound)
    if isinstance(result, NotFound):
        assert result.suggestions


async def test_a_typo_falls_back_to_close_titles(news: News) -> None:
    # Two edits from "azure" in a seven-letter word: too far to correct, near as a title.
    result = answer(await news.search("Microsoft Azurexx", limit=50))
    assert "closest titles" in result.heading
    assert result.corrected == ()
    assert "Azure" in result.page.items[0].title
    assert AMD_TITLE in titles(result)


async def test_search_pages_and_totals(news: News) -> None:
    first = answer(await news.search("microsoft", limit=3)).page
    rest = answer(await news.search("microsoft", limit=50, offset=3)).page
    assert first.total == rest.total >= 10
    assert len(first.items) == 3 and len(rest.items) == first.total - 3
    assert not {a.url for a in first.items} & {a.url for a in rest.items}


async def test_a_broad_search_ranks_its_newest_matches(
    news: News, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = answer(await news.search("microsoft", limit=50)).page
    assert not every.capped and every.total > 3
    monkeypatch.setattr("bot.store.corpus.COUNT_CAP", 3)  # "microsoft" is now a broad query
    broad = answer(await news.search("microsoft", limit=50)).page
    assert (broad.total, broad.capped, len(broad.items)) == (3, True, 3)
    # Ids grow with publication: the three ranked are the three newest matches.
    newest = sorted(every.items, key=lambda a: a.published_at or datetime.min.replace(tzinfo=UTC),
                    reverse=True)[:3]
    assert {a.url for a in broad.items} == {a.url for a in newest}


async def test_article_ids_follow_publication(news: News) -> None:
    articles = answer(await news.latest(50)).page.items
    dated = [a for a in articles if a.published_at]
    by_id = sorted(dated, key=lambda a: a.article_id or 0)
    assert [a.published_at for a in by_id] == sorted(a.published_at for a in dated)


async def test_totals_are_counted_up_to_a_cap(news: News, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.store.corpus.COUNT_CAP", 10)
    page = answer(await news.latest(5)).page
    assert (page.total, page.capped, len(page.items)) == (10, True, 5)
    small = answer(await news.topic("AI hardware", 5)).page
    assert (small.total, small.capped) == (1, False)


async def test_common_words_do_not_narrow_a_search(news: News) -> None:
    with_stopwords = answer(await news.search("the AMD MI200 for", limit=20)).page
    without = answer(await news.search("AMD MI200", limit=20)).page
    assert [a.url for a in with_stopwords.items] == [a.url for a in without.items]
    only_stopwords = await news.search("the", limit=5)
    assert isinstance(only_stopwords, Answer)  # a query of common words alone still runs


async def test_a_possessive_s_does_not_narrow_a_search(news: News) -> None:
    # FTS splits "Meta's" into "meta" and "s"; requiring an "s" somewhere would drop
    # articles that never use a possessive.
    possessive = answer(await news.search("Meta's Azure", limit=20)).page
    plain = answer(await news.search("Meta Azure", limit=20)).page
    assert possessive.items and [a.url for a in possessive.items] == [a.url for a in plain.items]


# ---- stats and the index after a sync ------------------------------------------------------


async def test_stats_describe_the_corpus(news: News) -> None:
    stats = await news.stats()
    assert (stats.articles, stats.full_articles) == (15, 2)
    assert (stats.topics, stats.providers) == (4, 13)
    assert (stats.files, stats.failing_files) == (2, 0)
    assert stats.database_bytes > 0
    assert stats.last_sync is not None and stats.last_sync.tzinfo is not None
    assert abs((datetime.now(UTC) - stats.last_sync).total_seconds()) < 3600


async def test_a_new_file_is_searchable_after_the_next_sync(news: News) -> None:
    assert isinstance(news.resolve_topic("Quantum Computing"), NotFound)
    write_article(
        news.seeds_dir / "quantum.txt",
        title="Quantum annealer beats GPUs at scheduling",
        webUrl="https://quantum.example.com/annealer",
        publishedDateTime="2022-05-30T08:00:00Z",
        provider={"name": "Quantum Times", "domain": "quantum.example.com"},
        topics=["Quantum Computing", "AI"],
    )
    report = await news.sync()
    assert report.added == ["quantum.txt"]
    assert titles(await news.topic("quantum", limit=5)) == [
        "Quantum annealer beats GPUs at scheduling"
    ]
    assert titles(await news.provider("quantum times", limit=5)) == [
        "Quantum annealer beats GPUs at scheduling"
    ]
    assert titles(await news.search("annealer", limit=5)) == [
        "Quantum annealer beats GPUs at scheduling"
    ]
    assert answer(await news.latest(limit=1)).page.items[0].url == (
        "https://quantum.example.com/annealer"
    )


# ---- property: any text typed into a query -------------------------------------------------


@pytest.fixture(scope="module")
def seeded_news(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.Runner, News]]:
    """One corpus and one event loop shared by every hypothesis example."""
    folder = tmp_path_factory.mktemp("query_fuzz")
    shutil.copytree(SEEDS, folder / "seeds")
    with asyncio.Runner() as runner:
        store = runner.run(Store.open(folder / "news.db"))
        news = News(store, folder / "seeds")
        runner.run(news.sync())
        yield runner, news
        runner.run(store.close())


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=60) | st.text(alphabet='"*():^-+ NEARORANDT{}azure', max_size=30))
def test_any_text_typed_into_a_query_never_raises(
    seeded_news: tuple[asyncio.Runner, News], text: str
) -> None:
    runner, news = seeded_news
    for result in (
        runner.run(news.search(text, limit=5)),
        runner.run(news.topic(text, limit=5)),
        runner.run(news.provider(text, limit=5)),
        runner.run(news.related(text, limit=5)),
        runner.run(news.article(text)),
    ):
        assert isinstance(result, Answer | NotFound | Article)
