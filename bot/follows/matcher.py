"""Many follows against many new articles at once: an index from terms to follows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.follows.rules import ArticleWords, Candidate, FollowRule, Terms


def _index_words(keywords: Terms) -> list[str]:
    """One word per keyword term that an article must hold for the term to occur in it: the
    word itself, or a phrase's longest word (long words are the rarer ones)."""
    return [*keywords.words, *(max(phrase, key=len) for phrase in keywords.phrases)]


class FollowMatcher:
    """Follows indexed by the one criterion of each that narrows articles down the most."""

    def __init__(self, rules: Mapping[int, FollowRule]) -> None:
        # Servers often ask for the same thing: each distinct rule is checked once.
        groups: dict[FollowRule, list[int]] = {}
        for follow_id, rule in rules.items():
            groups.setdefault(rule, []).append(follow_id)
        self._rules = list(groups)
        self._follows = list(groups.values())
        self._by_word: dict[str, list[int]] = {}
        self._by_provider: dict[str, list[int]] = {}
        self._by_topic: dict[str, list[int]] = {}
        self._unindexed: list[int] = []  # no required key: only exclusions (or nothing)
        for index, rule in enumerate(self._rules):
            self._add(index, rule)
        self._index_keys = frozenset(self._by_word)
        self._needs_words = any(rule.keywords or rule.exclude for rule in self._rules)

    def _add(self, index: int, rule: FollowRule) -> None:
        # A keyword is usually rarer than a provider, and a provider than a topic.
        if rule.keywords:
            for word in _index_words(rule.keywords):
                self._by_word.setdefault(word, []).append(index)
        elif rule.provider_domain is not None:
            self._by_provider.setdefault(rule.provider_domain, []).append(index)
        elif rule.topic_key is not None:
            self._by_topic.setdefault(rule.topic_key, []).append(index)
        else:
            self._unindexed.append(index)

    def _candidates(self, article: Candidate, words: ArticleWords | None) -> set[int]:
        """The distinct rules that may match `article`: those indexed under its keys."""
        found = set(self._unindexed)
        for key in article.topic_keys:
            found.update(self._by_topic.get(key, ()))
        if article.provider_domain is not None:
            found.update(self._by_provider.get(article.provider_domain, ()))
        if words is not None:
            for word in words.present & self._index_keys:
                found.update(self._by_word[word])
        return found

    def match(self, articles: Iterable[Candidate]) -> dict[int, list[int]]:
        """follow id -> ids of the articles it matches, in the order given.

        Only follows that match something are keys; an article id given twice counts once.
        """
        matched: list[list[int]] = [[] for _ in self._rules]
        seen: set[int] = set()
        for article in articles:
            if article.id in seen:
                continue
            seen.add(article.id)
            words = ArticleWords.of(article) if self._needs_words else None
            for index in self._candidates(article, words):
                if self._rules[index].matches(article, words):
                    matched[index].append(article.id)
        return {follow_id: list(ids) for ids, follow_ids in zip(matched, self._follows,
                                                                strict=True)
                if ids for follow_id in follow_ids}
