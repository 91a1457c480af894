"""Many follows against many new articles at once: an index from terms to follows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from bot.follows.rules import Candidate, FollowRule, Terms, words_of


def _index_words(keywords: Terms) -> list[str]:
    """One word per keyword term that an article must hold for the term to occur in it: the
    word itself, or a phrase's longest word (long words are the rarer ones)."""
    return [*keywords.words, *(max(phrase, key=len) for phrase in keywords.phrases)]


def _all_words(terms: Terms) -> set[str]:
    return {*terms.words, *(word for phrase in terms.phrases for word in phrase)}


def _first_of_each(articles: Iterable[Candidate]) -> list[Candidate]:
    seen: set[int] = set()
    unique = []
    for article in articles:
        if article.id not in seen:
            seen.add(article.id)
            unique.append(article)
    return unique


class _Batch:
    """One match's articles, each set of them a bit mask (bit i: the i-th article): those
    holding a word, of a topic, from a provider; so that a rule is a few integer ANDs."""

    def __init__(self, articles: list[Candidate], words: frozenset[str],
                 topics: frozenset[str], providers: frozenset[str]) -> None:
        self._articles = articles
        self.size = len(articles)
        self.everything = (1 << self.size) - 1
        # Objects, not int64: taking from it hands back the ids themselves, not new ints.
        self._ids = np.array([article.id for article in articles], dtype=object)
        found: dict[str, list[int]] = defaultdict(list)
        of_topic: dict[str, list[int]] = defaultdict(list)
        of_provider: dict[str, list[int]] = defaultdict(list)
        self._words_of: list[list[str]] = []
        self._texts: dict[int, str] = {}
        for position, article in enumerate(articles):
            # The line break separates as a space does: the title's words, then the excerpt's.
            # No rule with words (topics and providers only): no need to read the text.
            held = words_of(f"{article.title}\n{article.excerpt}") if words else []
            self._words_of.append(held)
            for word in words.intersection(held):
                found[word].append(position)
            for topic in topics.intersection(article.topic_keys):
                of_topic[topic].append(position)
            if article.provider_domain in providers:
                of_provider[article.provider_domain].append(position)
        self.words = {word: self._mask(held) for word, held in found.items()}
        self.topics = {topic: self._mask(held) for topic, held in of_topic.items()}
        self.providers = {domain: self._mask(held) for domain, held in of_provider.items()}
        self._phrases: dict[tuple[str, ...], int] = {}
        self._any: dict[Terms, int] = {}

    def _mask(self, positions: Iterable[int]) -> int:
        bits = np.zeros(self.size, dtype=bool)
        bits[list(positions)] = True
        return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")

    def _bits(self, mask: int) -> np.ndarray:
        packed = np.frombuffer(mask.to_bytes((self.size + 7) // 8, "little"), dtype=np.uint8)
        return np.unpackbits(packed, count=self.size, bitorder="little").view(bool)

    def ids(self, mask: int) -> list[int]:
        """The ids of the articles in `mask`, in the order they were given."""
        held: list[int] = self._ids[self._bits(mask)].tolist()
        return held

    def _text(self, position: int) -> str:
        """The article's words as one string: a phrase is looked for in it as " a b ", which
        cannot span the "\n" between title and excerpt."""
        if position not in self._texts:
            held, title = self._words_of[position], len(words_of(self._articles[position].title))
            self._texts[position] = f" {' '.join(held[:title])} \n {' '.join(held[title:])} "
        return self._texts[position]

    def phrase(self, phrase: tuple[str, ...]) -> int:
        """The articles in which `phrase` occurs: of those holding all its words, the ones
        holding them in a row."""
        if phrase not in self._phrases:
            held = self.everything
            for word in phrase:
                held &= self.words.get(word, 0)
                if not held:
                    break
            needle = f" {' '.join(phrase)} "
            self._phrases[phrase] = held and self._mask(
                position for position in np.flatnonzero(self._bits(held)).tolist()
                if needle in self._text(position))
        return self._phrases[phrase]

    def any_of(self, terms: Terms) -> int:
        """The articles in which any word or phrase of `terms` occurs."""
        if terms not in self._any:
            mask = 0
            for word in terms.words:
                mask |= self.words.get(word, 0)
            for phrase in terms.phrases:
                mask |= self.phrase(phrase)
            self._any[terms] = mask
        return self._any[terms]

    def matching(self, rule: FollowRule) -> int:
        """The articles `rule` matches."""
        mask = self.everything
        if rule.topic_key is not None:
            mask &= self.topics.get(rule.topic_key, 0)
        if mask and rule.provider_domain is not None:
            mask &= self.providers.get(rule.provider_domain, 0)
        if mask and rule.keywords:
            mask &= self.any_of(rule.keywords)
        if mask and rule.exclude:
            mask &= ~self.any_of(rule.exclude)
        return mask


class FollowMatcher:
    """Follows indexed by the one criterion of each that narrows articles down the most, so
    that a match checks only the follows whose criterion some new article meets."""

    def __init__(self, rules: Mapping[int, FollowRule]) -> None:
        # Servers often ask for the same thing: each distinct rule is checked once.
        groups: dict[FollowRule, list[int]] = {}
        for follow_id, rule in rules.items():
            groups.setdefault(rule, []).append(follow_id)
        self._rules = list(groups)
        self._follows = list(groups.values())
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._by_provider: dict[str, list[int]] = defaultdict(list)
        self._by_topic: dict[str, list[int]] = defaultdict(list)
        self._unindexed: list[int] = []  # no required key: only exclusions (or nothing)
        for index, rule in enumerate(self._rules):
            self._add(index, rule)
        self._words = frozenset().union(
            *(_all_words(rule.keywords) | _all_words(rule.exclude) for rule in self._rules))
        self._topics = frozenset(rule.topic_key for rule in self._rules if rule.topic_key)
        self._providers = frozenset(
            rule.provider_domain for rule in self._rules if rule.provider_domain)

    def _add(self, index: int, rule: FollowRule) -> None:
        # A keyword is usually rarer than a provider, and a provider than a topic.
        if rule.keywords:
            for word in _index_words(rule.keywords):
                self._by_word[word].append(index)
        elif rule.provider_domain is not None:
            self._by_provider[rule.provider_domain].append(index)
        elif rule.topic_key is not None:
            self._by_topic[rule.topic_key].append(index)
        else:
            self._unindexed.append(index)

    def _candidates(self, batch: _Batch) -> set[int]:
        """The distinct rules whose index key some article of `batch` holds."""
        found = set(self._unindexed)
        for keys, index in ((batch.words, self._by_word), (batch.topics, self._by_topic),
                            (batch.providers, self._by_provider)):
            for key in keys:
                found.update(index.get(key, ()))
        return found

    def match(self, articles: Iterable[Candidate]) -> dict[int, list[int]]:
        """follow id -> ids of the articles it matches, in the order given.

        Only follows that match something are keys; an article id given twice counts once.
        Follows that match the same articles share one list (copies of millions of ids
        would cost more than the matching): read the lists, do not change them.
        """
        unique = _first_of_each(articles)
        if not unique or not self._rules:
            return {}
        batch = _Batch(unique, self._words, self._topics, self._providers)
        matched: dict[int, list[int]] = {}
        ids_of: dict[int, list[int]] = {}
        for index in sorted(self._candidates(batch)):
            mask = batch.matching(self._rules[index])
            if not mask:
                continue
            if mask not in ids_of:
                ids_of[mask] = batch.ids(mask)
            for follow_id in self._follows[index]:
                matched[follow_id] = ids_of[mask]
        return matched
