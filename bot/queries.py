"""The read API the bot and the CLI share: resolve what a person typed, then ask the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from rapidfuzz import fuzz, process, utils

from bot.articles import Article, canonical_url, is_http_url
from bot.exceptions import (
    DatabaseFull,
    DatabaseReadOnly,
    DatabaseUnavailable,
    NewsBotError,
    StorageError,
)
from bot.feeds.fetch import Fetcher
from bot.feeds.listing import FeedOutcome, FetchReport
from bot.feeds.opml import OpmlError, read_opml
from bot.feeds.poll import Polled, batched, due, poll
from bot.feeds.state import Feed
from bot.follows.outbox import match_new
from bot.loader import Progress, collector_paused, remove_feed, sync, sync_feeds
from bot.memory import give_back_free_memory
from bot.parse import DEFAULT_MAX_BYTES
from bot.results import Page, ProviderCount, Stats, SyncReport, TopicCount
from bot.search import Scored, SearchIndex, fts_query
from bot.store import Store
from bot.text import echo
from bot.trending import Story, Trending, Window, covered, risen
from bot.vocabulary import CORRECTION_TRIES, Vocabulary, normalized, tokens

log = logging.getLogger(__name__)

# How much each kind of relation counts when ranking related articles.
LISTED_WEIGHT = 3.0  # the article's own related list
LISTING_WEIGHT = 2.0  # articles that list it
TOPIC_WEIGHT = 1.0  # per shared topic
TITLE_WEIGHT = 2.0  # times title similarity (0..1)
RELATED_CANDIDATES = 30  # per topic and for similar titles
MAX_RELATED = 50
SUGGESTIONS = 5
# Polled feeds are written together, up to this many or what arrived this soon after the
# first: one transaction's fixed cost spread over many feeds, without holding the others.
FEED_BATCH = 25
FEED_BATCH_WAIT_S = 0.25
# Feeds fetched and parsed ahead of the writer: the next group is ready when a write ends,
# while what waits stays small (see `poll`).
FEED_AHEAD = 2 * FEED_BATCH
STALE_CHECKS = 3  # corrections tried against the full-text index before giving up
NEAREST_CUTOFF = 30.0  # a suggestion further than this from what was typed helps nobody
RESOLVE_SCORE = 80.0  # a typed name must match at least this well to be taken as meant
_ARTICLE_ID = re.compile(r"^(?:#|(?i:id:))?(\d{1,18})$")
_ID_PREFIX = re.compile(r"^(?:#|(?i:id:))")  # what was typed is meant as an id


@dataclass(frozen=True, slots=True)
class Answer:
    """A page of articles and what it is an answer to."""

    heading: str
    page: Page
    # (typed, used) for each word corrected before the search found these articles.
    corrected: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class NotFound:
    """Nothing matched; `suggestions` are the closest names a person could try instead.

    `malformed` when what was typed cannot be what it is meant as (an id that is not a
    number): a usage error rather than a miss.
    """

    message: str
    suggestions: list[str] = field(default_factory=list)
    malformed: bool = False


class _Named(Protocol):
    @property
    def name(self) -> str: ...


Named = TypeVar("Named", bound=_Named)


def _resolved(kind: str, text: str, matches: list[Scored[Named]], known: list[str]
              ) -> Named | NotFound:
    """The best match if it is good enough to be what was meant; else suggestions."""
    if matches and matches[0].score >= RESOLVE_SCORE:
        return matches[0].item
    names = [match.item.name for match in matches]
    return NotFound(f"No {kind} matches {echo(text)!r}.", names or known[:SUGGESTIONS])


def _read_as(typed: Sequence[str], corrected: Sequence[tuple[str, str]]) -> str:
    """The typed words with these (typed, used) corrections made."""
    used = dict(corrected)
    return " ".join(used.get(word, word) for word in typed)


def showing(query: str, corrected: Sequence[tuple[str, str]]) -> str:
    """The heading of results found after correcting typed words: "Showing results for
    **azure** (you typed azrue)". `query` is the words searched for, corrected."""
    typed = ", ".join(echo(word) for word, _used in corrected)
    return f"Showing results for **{echo(query)}** (you typed {typed})"


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """What `News.catch_up` did after another process changed the corpus: the index
    followed `articles` changed articles, or was `rebuilt` from the store."""

    articles: int
    rebuilt: bool


class FeedListError(NewsBotError):
    """A feed list file (OPML) that cannot be read or used; the message says why."""


class News:
    """A corpus: its store, the seeds folder it syncs from and its fuzzy index."""

    def __init__(
        self,
        store: Store,
        seeds_dir: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        yaml_backend: str = "auto",
        feed_minutes: int = 15,
        feed_retention_days: int = 90,
    ):
        self.store = store
        self.seeds_dir = seeds_dir
        self.max_bytes = max_bytes
        self.yaml_backend = yaml_backend
        self.feed_minutes = feed_minutes
        self.feed_retention_days = feed_retention_days
        self.index = SearchIndex([], [], [])
        self.vocabulary = Vocabulary()
        self.last_report: SyncReport | None = None
        self.last_fetch: FetchReport | None = None
        self._sync_lock = asyncio.Lock()  # the folder sync and every index change
        self._index_version = 0  # the corpus version the index was last built from
        self._fetch_lock = asyncio.Lock()  # one poll of the feeds at a time
        # Called when follows matched new articles: the poster wakes instead of polling.
        self.on_follow_matches: list[Callable[[], None]] = []

    async def sync(
        self, progress: Progress | None = None, *, allow_empty: bool = False
    ) -> SyncReport:
        """Sync the seeds folder; one at a time. The index follows what the sync changed.

        `allow_empty`: a folder left empty empties the store (else it changes nothing).
        """
        async with self._sync_lock:
            report = await sync(self.store, self.seeds_dir, max_bytes=self.max_bytes,
                                backend=self.yaml_backend, progress=progress,
                                allow_empty=allow_empty)
            await self._follow(report.article_ids if report.changed else [],
                               build=self.last_report is None)
            self.last_report = report
            # Even a sync that changed nothing held every file's path and stat meanwhile.
            await asyncio.to_thread(give_back_free_memory)
            return report

    async def _follow(self, article_ids: list[int], *, build: bool) -> None:
        """Bring the index in line with a write that changed these articles; `build` it
        from the store instead (the first sync). Called with the sync lock held."""
        if build:
            await self._build_index()
        elif article_ids:
            await self._apply(article_ids)
        if build or article_ids:
            await self._match_follows()

    async def _apply(self, article_ids: list[int]) -> bool:
        """Bring the index and vocabulary in line with a write that changed these articles;
        whether they were built afresh instead (when that was due). Called with the sync
        lock held."""
        before = self._indexed_text(article_ids)
        self.index, fresh = await self._updated_index(article_ids)
        # Built afresh with the index: what the index could not tell of the articles'
        # text before the write (their excerpts) is counted anew then.
        self.vocabulary = (await Vocabulary.build(self.store) if fresh else
                           await self.vocabulary.updated(self.store, article_ids, before))
        return fresh

    async def _match_follows(self) -> None:
        """Match what the write stored against the follows. A failure leaves the cursor
        where it was, so the next sync matches these articles again: the sync stands."""
        try:
            matched = await match_new(self.store)
        except StorageError as exc:
            log.warning("matching new articles against follows failed (tried again after "
                        "the next sync): %s", exc)
            return
        if matched:
            for wake in self.on_follow_matches:
                wake()

    async def _build_index(self) -> None:
        """The index and vocabulary afresh from the store. Called with the sync lock held."""
        # Read first: a write committed during the build is looked at again next time.
        self._index_version = await self.store.corpus_version()
        self.index = await SearchIndex.build(self.store)
        self.vocabulary = await Vocabulary.build(self.store)

    async def catch_up(self) -> CaughtUp | None:
        """Bring the index in line with what another process (sharing the database) wrote
        since it was built: from the articles the store's change log names, as the writer
        did, or built afresh when the log does not reach back that far or the change is
        big. None when no other process wrote: cheap, one row is read."""
        async with self._sync_lock:
            version, elsewhere = await self.store.written_elsewhere(self._index_version)
            if not elsewhere:
                self._index_version = version
                return None
            changed = await self.store.changed_since(self._index_version, version)
            if changed is None:
                await self._build_index()
                return CaughtUp(0, rebuilt=True)
            # Matching against the follows is left to the writer, where it ran.
            rebuilt = await self._apply(changed) if changed else False
            self._index_version = version
            return CaughtUp(len(changed), rebuilt)

    def _indexed_text(self, article_ids: list[int]) -> list[str]:
        """What the index knows of these articles' text: their titles, and every topic's
        and provider's name (a few hundred), whose words may be these articles' last."""
        titles = [entry.title for entry in self.index.title_entries(article_ids).values()]
        names = [name for provider in self.index.providers
                 for name in (provider.name, provider.domain, *provider.names)]
        return [*titles, *names, *(topic.name for topic in self.index.topics)]

    async def _updated_index(self, article_ids: list[int]) -> tuple[SearchIndex, bool]:
        """The index with these articles read anew, and whether it was built afresh
        instead (when that is due)."""
        if not self.index.rebuild_due(len(article_ids)):
            updated = await self.index.updated(self.store, article_ids)
            if updated is not None:
                return updated, False
        return await SearchIndex.build(self.store), True

    # ---- feeds -------------------------------------------------------------------------

    async def fetch(self, fetcher: Fetcher, *, all_feeds: bool = False,
                    now: datetime | None = None) -> FetchReport:
        """Poll the feeds that are due (or every feed not disabled, ignoring schedules and
        back-off), store what they give, and update the index as a sync does."""
        async with self._fetch_lock:
            started = time.perf_counter()
            now = now or datetime.now(UTC)
            feeds = await self.store.feeds.all()
            chosen = [feed for feed in feeds if feed.status != "disabled"] if all_feeds \
                else due(feeds, now)
            report = FetchReport(listed=len(feeds))
            topics = [topic.name for topic in await self.store.topic_counts()]
            polls = poll(chosen, fetcher, now=now, interval_minutes=self.feed_minutes,
                         known_topics=topics, ahead=FEED_AHEAD)
            with collector_paused():
                async with contextlib.aclosing(polls):
                    async for group in batched(polls, FEED_BATCH, FEED_BATCH_WAIT_S):
                        report.feeds.extend(
                            await self._store_polled(group, now, report.article_ids))
                if report.article_ids:
                    async with self._sync_lock:
                        await self._follow(report.article_ids, build=self.last_report is None)
            report.articles = await self.store.article_count()
            report.duration = time.perf_counter() - started
            self.last_fetch = report
            return report

    async def _store_polled(self, group: list[Polled], now: datetime, article_ids: list[int]
                            ) -> list[FeedOutcome]:
        """Store a group of polls: their entries in one transaction, then the feeds' new
        states in one statement. If that transaction fails, each feed's entries are written
        alone, so that one feed's trouble costs only that feed (see `_write_alone`)."""
        with_entries = [polled for polled in group if polled.document is not None]
        if len(with_entries) == 1:
            synced = await self._write_alone(with_entries[0], now)
        else:
            try:
                synced = await self._write_entries(with_entries, now)
            except StorageError:  # retried one feed at a time, each of which reports its own
                log.warning("Storing %d feeds' entries together failed; storing them one "
                            "at a time", len(with_entries), exc_info=True)
                synced = {}
                for polled in with_entries:
                    synced.update(await self._write_alone(polled, now))
        outcomes = [self._outcome(polled, synced, article_ids) for polled in group]
        # Every feed's new state but those whose entries could not be stored, which keep
        # their old one so that the next poll fetches their entries again.
        await self.store.feeds.save([polled.feed for polled in group
                                     if not isinstance(synced.get(polled.feed.id), str)])
        return outcomes

    async def _write_entries(self, group: list[Polled], now: datetime
                             ) -> dict[int, SyncReport | str]:
        """Each feed's entries written, in one transaction: its report, by feed id."""
        feeds = [(polled.feed, polled.document.records)
                 for polled in group if polled.document is not None]
        if not feeds:
            return {}
        reports = await sync_feeds(self.store, feeds, now=now,
                                   retention_days=self.feed_retention_days)
        return {feed.id: report for (feed, _records), report in zip(feeds, reports, strict=True)}

    async def _write_alone(self, polled: Polled, now: datetime) -> dict[int, SyncReport | str]:
        """A feed's entries written on their own: its report, or why they were not stored.
        A store that cannot be written at all (full, read-only, gone) stops the poll, as it
        would every other feed's writes."""
        try:
            return await self._write_entries([polled], now)
        except (DatabaseFull, DatabaseReadOnly, DatabaseUnavailable):
            raise
        except StorageError as exc:
            return {polled.feed.id: f"its entries could not be stored: {exc}"}

    def _outcome(self, polled: Polled, synced: dict[int, SyncReport | str],
                 article_ids: list[int]) -> FeedOutcome:
        """What a feed's poll came to."""
        result = synced.get(polled.feed.id)
        if isinstance(result, str):
            log.warning("feed %s: %s", polled.feed.url, result)
            return FeedOutcome(polled.feed.url, "failed", result, seconds=polled.seconds)
        if result is None or polled.document is None:
            outcome = FeedOutcome(polled.feed.url, polled.outcome, polled.reason,
                                  seconds=polled.seconds)
        else:
            article_ids.extend(result.article_ids)
            outcome = FeedOutcome(polled.feed.url, polled.outcome, polled.reason,
                                  len(result.added), len(result.updated), result.unchanged,
                                  polled.document.skipped, polled.seconds)
        if polled.outcome in ("failed", "gone"):
            log.warning("feed %s: %s", polled.feed.url, polled.reason)
        return outcome

    async def remove_feed(self, url: str) -> tuple[Feed, SyncReport] | None:
        """Remove a feed and the articles only it gave; None if no feed has that URL."""
        feed = await self.store.feeds.get(url)
        if feed is None:
            return None
        report = await remove_feed(self.store, feed)
        async with self._sync_lock:
            await self._follow(report.article_ids, build=False)
        return feed, report

    async def merge_feed_list(self, path: Path | None) -> list[str]:
        """Add the feeds of a feed list file (NEWS_FEEDS_FILE) that are neither in the list
        nor removed by the operator; the URLs added. A file that cannot be read is a
        `FeedListError`."""
        if path is None:
            return []
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FeedListError(f"feed list {path} cannot be read ({exc.strerror}); fix it "
                                "or set NEWS_FEEDS_FILE (empty: no file)") from None
        entries = read_opml(data)
        if isinstance(entries, OpmlError):
            raise FeedListError(f"feed list {path} is not usable: {entries}; fix it or set "
                                "NEWS_FEEDS_FILE (empty: no file)")
        return await self.store.feeds.merge(entries)

    # ---- resolution --------------------------------------------------------------------

    def resolve_topic(self, text: str) -> TopicCount | NotFound:
        matches = self.index.match_topics(text, limit=SUGGESTIONS)
        return _resolved("topic", text, matches, [t.name for t in self.index.topics])

    def resolve_provider(self, text: str) -> ProviderCount | NotFound:
        matches = self.index.match_providers(text, limit=SUGGESTIONS)
        return _resolved("provider", text, matches, [p.name for p in self.index.providers])

    async def article(self, text: str) -> Article | NotFound:
        """An article by id (`42`, `#42`, `id:42`), by URL, or by (fuzzy) title."""
        text = text.strip()
        by_id = _ARTICLE_ID.match(text)
        if by_id and int(by_id.group(1)) > 0:
            article_id = int(by_id.group(1))
            found = await self.store.article(article_id)
            return found or NotFound(f"No article has id {article_id} (any more).")
        if by_id or _ID_PREFIX.match(text):  # `#-1`, `#abc`, `id:`: never a title to guess
            return NotFound(f"An article id is a positive whole number, like #42; "
                            f"{echo(text)!r} is not one.", malformed=True)
        if is_http_url(text):
            found = await self.store.article_by_url(canonical_url(text))
            return found or NotFound("No article has that URL.")
        matches = self.index.match_titles(text, limit=SUGGESTIONS)
        if matches:
            found = await self.store.article(matches[0].item.id)
            if found:
                return found
        return NotFound(f"No article title matches {echo(text)!r}.",
                        [m.item.title for m in matches])

    # ---- queries -----------------------------------------------------------------------

    async def latest(self, limit: int, offset: int = 0, since: datetime | None = None) -> Answer:
        return Answer("Latest AI news", await self.store.latest(limit, offset, since))

    async def topic(
        self, text: str, limit: int, offset: int = 0, since: datetime | None = None
    ) -> Answer | NotFound:
        topic = self.resolve_topic(text)
        if isinstance(topic, NotFound):
            return topic
        page = await self.store.by_topic(topic.id, limit, offset, since)
        if not page.total:
            return NotFound(f"No {echo(topic.name)} articles since {since:%Y-%m-%d %H:%M} UTC."
                            if since else f"No articles about {echo(topic.name)}.")
        return Answer(f"Topic: {echo(topic.name)}", page)

    async def provider(self, text: str, limit: int, offset: int = 0) -> Answer | NotFound:
        provider = self.resolve_provider(text)
        if isinstance(provider, NotFound):
            return provider
        page = await self.store.by_provider(provider.id, limit, offset)
        return Answer(f"From {echo(provider.name)} ({echo(provider.domain)})", page)

    async def search(self, text: str, limit: int, offset: int = 0) -> Answer | NotFound:
        """Full-text search. When it finds nothing, the words the corpus does not know are
        corrected to the nearest ones it does and the search runs again; then fuzzy
        titles; then the topics, providers and titles nearest to what was typed."""
        found = await self._full_text(text, limit, offset)
        if found is not None:
            return found
        typed = tokens(text)
        corrected = tuple(await self.verified_corrections(typed))
        if corrected:
            # The likeliest reading of the typos first, then the next likeliest in turn,
            # as a question's are: the first that finds something is shown.
            for choice in self.vocabulary.alternatives(corrected, CORRECTION_TRIES):
                found = await self._full_text(_read_as(typed, choice), limit, offset,
                                              tuple(choice))
                if found is not None:
                    return found
            text = _read_as(typed, corrected)
        fuzzy = self.index.match_titles(text, limit=MAX_RELATED)
        if not fuzzy:
            return NotFound(f"Nothing matches {echo(text)!r}.", self._nearest(text))
        ids = [hit.item.id for hit in fuzzy]
        found_ids = await self.store.articles(ids[offset : offset + limit])
        items = [found_ids[i] for i in ids[offset : offset + limit] if i in found_ids]
        heading = (f"{showing(text, corrected)} · closest titles" if corrected
                   else f"Search: {echo(text)} (closest titles)")
        return Answer(heading, Page(items, len(ids), offset, limit), corrected)

    async def _full_text(self, text: str, limit: int, offset: int,
                         corrected: tuple[tuple[str, str], ...] = ()) -> Answer | None:
        """A page of the full-text matches of `text`, best first; None when none match."""
        match = fts_query(text)
        if match is None:
            return None
        matches, capped = await self.store.search(match)
        if not matches:
            return None
        window = self.index.by_relevance(matches)[offset : offset + limit]
        found = await self.store.articles(window)
        items = [found[i] for i in window if i in found]
        page = Page(items, len(matches), offset, limit, capped)
        return Answer(showing(text, corrected) if corrected else f"Search: {echo(text)}",
                      page, corrected)

    async def verified_corrections(self, typed: Sequence[str]) -> list[tuple[str, str]]:
        """`correct`, with the words it relies on checked against the full-text index.

        The vocabulary may still hold a word of an article's old excerpt, which the index
        cannot tell it (it keeps no excerpts): such a word, as the correction or as a typed
        word taken as known, is dropped, and the typed words are corrected again.
        """
        for _attempt in range(STALE_CHECKS):
            vocabulary = self.vocabulary
            corrected = vocabulary.corrections(typed)
            relied = {used for _typed, used in corrected}
            relied |= {key for word in typed if vocabulary.count(key := normalized(word))}
            if not relied:
                return corrected
            held = await self.store.holding(sorted(relied), 1)
            stale = {word for word in relied if not held.get(word)}
            if not stale:
                return corrected
            if self.vocabulary is vocabulary:  # else a write replaced it meanwhile
                self.vocabulary = vocabulary.changed(dict.fromkeys(stale, 0))
        return []

    def correct(self, words: Sequence[str]) -> list[tuple[str, str]]:
        """(typed, used) for each of these words the corpus does not know and that is near
        enough to one it does; a word the corpus knows is never replaced."""
        return self.vocabulary.corrections(words)

    def _nearest(self, text: str) -> list[str]:
        """The topics, providers and titles nearest to `text`, closest first; with no word
        typed there is nothing to be near, and the commonest topics are offered."""
        if not tokens(text):
            return [topic.name for topic in self.index.topics[:SUGGESTIONS]]
        # What is shown, by what is compared with the text.
        names = {f"{topic.name} (topic)": topic.name for topic in self.index.topics}
        names |= {f"{provider.name} (provider)": provider.name
                  for provider in self.index.providers}
        names |= {hit.item.title: hit.item.title
                  for hit in self.index.match_titles(text, SUGGESTIONS)}
        nearest = process.extract(text, names, scorer=fuzz.WRatio,
                                  processor=utils.default_process, limit=SUGGESTIONS,
                                  score_cutoff=NEAREST_CUTOFF)
        return [shown for _name, _score, shown in nearest]

    async def related(self, text: str, limit: int, offset: int = 0) -> Answer | NotFound:
        """Articles related to one: its list, lists it is on, shared topics, similar titles."""
        article = await self.article(text)
        if isinstance(article, NotFound):
            return article
        ranked = await self._related_ids(article)
        if not ranked:
            return NotFound(f"Nothing related to {echo(article.title)!r} yet.")
        window = ranked[offset : offset + limit]
        found = await self.store.articles(window)
        items = [found[i] for i in window if i in found]
        heading = f"Related to: {echo(article.title)}"
        return Answer(heading, Page(items, len(ranked), offset, limit))

    async def _related_ids(self, article: Article) -> list[int]:
        own_id = article.article_id
        if own_id is None:
            return []
        # The two reads are queued for the database thread at once, and the similar titles
        # (in-memory, CPU only) are found while it runs them, instead of after.
        linked = asyncio.create_task(self.store.linked(own_id))
        neighbours = asyncio.create_task(self.store.topic_neighbours(own_id, RELATED_CANDIDATES))
        await asyncio.sleep(0)  # let both tasks send their first query
        try:
            similar = {hit.item.id: hit.score / 100
                       for hit in self.index.similar_titles(article.title, RELATED_CANDIDATES)}
            listed, listing = await linked
            shared = await neighbours
        finally:  # on an error or cancellation, leave no read running on its own
            for task in (linked, neighbours):
                task.cancel()
        scores: dict[int, float] = {}
        for related_id in listed:
            scores[related_id] = scores.get(related_id, 0.0) + LISTED_WEIGHT
        for related_id in listing:
            scores[related_id] = scores.get(related_id, 0.0) + LISTING_WEIGHT
        for related_id, count in shared.items():
            scores[related_id] = scores.get(related_id, 0.0) + TOPIC_WEIGHT * count
        candidates = {related_id: entry.title for related_id, entry
                      in self.index.title_entries(sorted(set(scores) | set(similar))).items()
                      if related_id != own_id}
        # Title similarity of the candidates the index did not score, in one rapidfuzz call.
        unscored = {related_id: title for related_id, title in candidates.items()
                    if related_id not in similar}
        for _title, score, related_id in process.extract(
            article.title, unscored, scorer=fuzz.token_set_ratio,
            processor=utils.default_process, limit=None,
        ):
            similar[related_id] = score / 100
        ranked = sorted(((scores.get(related_id, 0.0) + TITLE_WEIGHT * similar[related_id],
                          related_id) for related_id in candidates),
                        key=lambda pair: (-pair[0], pair[1]))
        return [related_id for _score, related_id in ranked[:MAX_RELATED]]

    async def trending(self, now: datetime) -> Trending:
        """The topics and providers rising fastest in the 24 hours before `now` against the
        week before, and the stories covered most; the last active day instead when nothing
        is that recent."""
        last = await self.store.last_published(now)
        window = Window.before(now, last)
        start, split, end = window.start, window.split, window.end
        topics = risen(await self.store.topic_activity(start, split, end))
        providers = risen(await self.store.provider_activity(start, split, end))
        linked = await self.store.coverage(split, end)
        members = sorted({i for others in linked.values() for i in others} | set(linked))
        chosen = covered(linked, await self.store.provider_ids(members))
        found = await self.store.articles([article_id for article_id, _n, _s in chosen])
        stories = [Story(found[article_id], articles, sources)
                   for article_id, articles, sources in chosen if article_id in found]
        return Trending(now, window, topics, providers, stories, dated=last is not None)

    # ---- lists -------------------------------------------------------------------------

    def topics(self) -> list[TopicCount]:
        return self.index.topics

    def providers(self) -> list[ProviderCount]:
        return self.index.providers

    async def stats(self) -> Stats:
        return await self.store.stats()
