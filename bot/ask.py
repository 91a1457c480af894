"""Answering a question in plain words: what `bot.question` understood, as a store query."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from bot.queries import SUGGESTIONS, Answer, News, NotFound
from bot.question import Understood, Vocabulary, name_words, understand
from bot.results import Page
from bot.search import SearchIndex, fts_query
from bot.store.corpus import Filter
from bot.text import counted, echo
from bot.trending import Trending
from bot.vocabulary import CORRECTION_TRIES, normalized, tokens

_QUOTED = re.compile(r'"(\w+)"')  # the words of an FTS5 expression made by fts_query
HELP = ("Ask me about AI news in plain words, e.g. “what did Microsoft do in AI hardware "
        "last week?”, “how many robotics articles this month?” or “articles like Meta "
        "Azure”. /news ask does the same.")


@dataclass(frozen=True, slots=True)
class Asked:
    """A question as understood (with the words it corrected and any filter it had to
    relax) and its answer: a list, or what is trending."""

    understood: Understood
    result: Answer | NotFound | Trending

    @property
    def line(self) -> str:
        """The understood line that goes first in every reply."""
        return f"Understood: {self.understood.describe()}"


class Asker:
    """Questions about one corpus; the vocabulary follows its index."""

    def __init__(self, news: News):
        self.news = news
        self._vocabulary = Vocabulary({}, {}, [], {})
        self._indexed: SearchIndex | None = None

    def vocabulary(self) -> Vocabulary:
        """The names of the current index snapshot (made once per snapshot)."""
        index = self.news.index
        if index is not self._indexed:
            self._vocabulary = Vocabulary.of(index.topics, index.providers)
            self._indexed = index
        return self._vocabulary

    def understand(self, text: str, now: datetime) -> Understood:
        words = self.news.vocabulary
        return understand(text, self.vocabulary(), now, known=lambda word: bool(words.count(word)))

    async def ask(self, text: str, now: datetime, limit: int, offset: int = 0) -> Asked:
        understood = self.understand(text, now)
        if understood.intent == "trending":
            return Asked(understood, await self.news.trending(now))
        return await self.answer(understood, limit, offset)

    async def answer(self, understood: Understood, limit: int, offset: int = 0) -> Asked:
        """The page of articles the question asks for. A provider or topic filter that
        leaves nothing is read as words to look for instead ("what did Microsoft do…" means
        articles about Microsoft as well as from it; "cloud" in "regulators california
        cloud" may be a word of a title, not the Cloud AI tag)."""
        if understood.intent == "related":
            return Asked(understood, await self.news.related(understood.subject, limit, offset))
        understood, page = await self._listed(understood, limit, offset)
        for relaxed in _relaxed(understood) if not page.total else ():
            relaxed, relaxed_page = await self._listed(relaxed, limit, offset)
            if relaxed_page.total:
                understood, page = relaxed, relaxed_page
                break
        # Only now, once: what is near a question that found nothing is looked for in
        # every title.
        return Asked(understood, self._page_answer(understood, page))

    async def _listed(self, understood: Understood, limit: int, offset: int
                      ) -> tuple[Understood, Page]:
        """The page the question asks for; keywords the corpus does not know are corrected
        when, as typed, they find nothing (the correction is then part of the question)."""
        window = understood.window
        where = Filter(understood.topic.id if understood.topic else None,
                       understood.provider.id if understood.provider else None,
                       window.start if window else None, window.end if window else None)
        if not understood.keywords:
            return understood, await self.news.store.filtered(where, limit, offset)
        page, _titled = await self._search(understood.keywords, where, limit, offset)
        if not page.total:
            return await self._corrected(understood, where, limit, offset, page)
        return understood, page

    async def _corrected(self, understood: Understood, where: Filter, limit: int,
                         offset: int, page: Page) -> tuple[Understood, Page]:
        """The question with its unknown keywords corrected, and its page. The likeliest
        words come first; when no title holds them with the rest of the question, a
        typo's next likeliest meanings are tried in turn ("traiing" is "trading" more often
        than "training", but not beside "spin" from Tech.eu): the first that a title holds
        wins, else the first that finds anything, else the likeliest stands."""
        verified = await self.news.verified_corrections(understood.keywords)
        if not verified:
            return understood, page
        choices = self.news.vocabulary.alternatives(verified, CORRECTION_TRIES)
        best = self._with_corrections(understood, choices[0]), page
        for choice in choices:
            tried = self._with_corrections(understood, choice)
            found, titled = await self._search(tried.keywords, where, limit, offset)
            if titled:
                return tried, found
            if found.total and not best[1].total:
                best = tried, found
        return best

    @staticmethod
    def _with_corrections(understood: Understood, corrected: list[tuple[str, str]]
                          ) -> Understood:
        used = dict(corrected)
        return replace(understood,
                       keywords=tuple(used.get(word, word) for word in understood.keywords),
                       corrected=(*understood.corrected, *corrected))

    def _page_answer(self, understood: Understood, page: Page) -> Answer | NotFound:
        if not page.total:
            return self._nothing(understood)
        if understood.intent == "count":
            heading = f"How many: {counted(page.total, 'article', more=page.capped)}"
        else:
            heading = f"Asked: {echo(understood.text)}"
        return Answer(heading, page)

    async def _search(self, keywords: tuple[str, ...], where: Filter, limit: int,
                      offset: int) -> tuple[Page, bool]:
        """Full-text matches of the keywords within the filter: those whose title holds
        every keyword first (a title names what an article is about; an excerpt may only
        mention it), then as /news search ranks them; and whether any title holds them."""
        match = fts_query(" ".join(keywords))
        if match is None:
            return Page([], 0, offset, limit), False
        matches, capped = await self.news.store.search_within(match, where)
        titled = self._titled([article_id for article_id, _bm25 in matches],
                              {normalized(word) for word in _QUOTED.findall(match)})
        window = self.news.index.by_relevance(matches, titled)[offset : offset + limit]
        found = await self.news.store.articles(window)
        return Page([found[i] for i in window if i in found], len(matches), offset, limit,
                    capped), bool(titled)

    def _titled(self, article_ids: list[int], words: set[str]) -> set[int]:
        """Those of the articles whose title holds every one of `words` (normalized)."""
        entries = self.news.index.title_entries(article_ids)
        return {article_id for article_id, entry in entries.items()
                if words <= {normalized(token) for token in tokens(entry.title)}}

    def _nothing(self, understood: Understood) -> NotFound:
        """Nothing matched: say so; near titles when words were looked for."""
        suggestions: list[str] = []
        if understood.keywords:
            hits = self.news.index.match_titles(" ".join(understood.keywords), SUGGESTIONS)
            suggestions = [hit.item.title for hit in hits]
        return NotFound("No article matches all of that; try fewer words or a wider time "
                        "window.", suggestions)


def _relaxed(understood: Understood) -> list[Understood]:
    """The question with its provider, then its topic alone, then both read as words
    instead of as a filter: what to try, in order, when the filters leave nothing ("what
    did Reuters say about baidu warehouses" may mean a Reuters article that names Baidu,
    not one tagged Baidu AI)."""
    provider, topic = understood.provider, understood.topic
    without_provider = without_topic = understood
    if provider is not None:
        without_provider = replace(
            understood, provider=None, keywords=(*understood.keywords, *name_words(provider)),
            notes=(*understood.notes, f"nothing from {provider.name}: showing articles "
                                      "that mention it"))
    if topic is not None:
        without_topic = replace(
            understood, topic=None, keywords=(*understood.keywords, *name_words(topic)),
            notes=(*understood.notes, f"nothing tagged {topic.name}: showing articles "
                                      "that mention it"))
    tried = [relaxed for relaxed in (without_provider, without_topic) if relaxed is not understood]
    if provider is not None and topic is not None:
        tried.append(replace(
            without_provider, topic=None,
            keywords=(*without_provider.keywords, *name_words(topic)),
            notes=(*without_provider.notes, without_topic.notes[-1])))
    return tried
