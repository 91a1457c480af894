"""Many follows against many new articles at once: an index from terms to follows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import overload

import numpy as np

from bot.follows.rules import TITLE_END, Candidate, FollowRule, Terms, words_in_a_row

# In a batch's row of words (_Batch._read), beside the numbers of the words rules have.
_END = -1
_OTHER = -2


def _index_words(keywords: Terms) -> list[str]:
    """One word per keyword term that an article must hold for the term to occur in it: the
    word itself, or a phrase's longest word (long words are the rarer ones)."""
    return [*keywords.words, *(max(phrase, key=len) for phrase in keywords.phrases)]


def _add_words(words: set[str], terms: Terms) -> None:
    """Add the words of `terms`, its phrases' too."""
    words.update(terms.words)
    for phrase in terms.phrases:
        words.update(phrase)


def _first_of_each(articles: Iterable[Candidate]) -> list[Candidate]:
    seen: set[int] = set()
    unique = []
    for article in articles:
        if article.id not in seen:
            seen.add(article.id)
            unique.append(article)
    return unique


def _rule_key(rule: FollowRule) -> tuple[object, ...]:
    """What makes rules equal, as a tuple: hashed in C, where a rule hashes in Python."""
    return (rule.topic_key, rule.provider_domain, rule.keywords.words, rule.keywords.phrases,
            rule.exclude.words, rule.exclude.phrases)


def _bits(mask: int, size: int) -> np.ndarray:
    """`mask` as `size` booleans, bit i the i-th."""
    packed = np.frombuffer(mask.to_bytes((size + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(packed, count=size, bitorder="little").view(bool)


class Matched(Sequence[int]):
    """The ids of the articles a follow matched, in the order given: a bit mask over the
    batch, counted at once and turned into ids only as far as it is read (a big round
    posts its first few), once; follows that matched the same articles share one."""

    __slots__ = ("_all", "_count", "_head", "_id_list", "_ids", "_mask")

    def __init__(self, mask: int, ids: np.ndarray, id_list: list[int]) -> None:
        self._mask = mask
        self._ids = ids  # the batch's article ids, as objects: taken, they are the ids
        self._id_list = id_list  # the same: a few are taken faster from a list
        self._count = mask.bit_count()
        self._all: list[int] | None = None
        self._head: list[int] | None = None  # the first ids, as far as read

    def __len__(self) -> int:
        return self._count

    def _decoded(self) -> list[int]:
        if self._all is None:
            self._all = self._ids[_bits(self._mask, len(self._ids))].tolist()
        return self._all

    def _first(self, count: int) -> list[int]:
        """The first `count` ids (fewer than all), from only as many low bits as hold them."""
        if self._head is None or len(self._head) < count:
            width = 64
            while (low := self._mask & ((1 << width) - 1)).bit_count() < count:
                width *= 4
            positions: list[int] = []
            while len(positions) < count:
                lowest = low & -low
                positions.append(lowest.bit_length() - 1)
                low ^= lowest
            self._head = [self._id_list[position] for position in positions]
        return self._head[:count]

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if (self._all is None and isinstance(index, slice) and index.start in (None, 0)
                and index.step in (None, 1) and index.stop is not None
                and 0 <= index.stop < self._count):
            return self._first(index.stop)
        return self._decoded()[index]

    def __iter__(self) -> Iterator[int]:
        return iter(self._decoded())


class _Batch:
    """One match's articles, each set of them a bit mask (bit i: the i-th article): those
    holding a word, of a topic, from a provider; so that a rule is a few integer ANDs."""

    def __init__(self, articles: list[Candidate], words: Mapping[str, int],
                 topics: frozenset[str], providers: frozenset[str]) -> None:
        self.size = len(articles)
        self.everything = (1 << self.size) - 1
        self.id_list = [article.id for article in articles]
        # Objects, not int64: taking from it hands back the ids themselves, not new ints.
        self.ids = np.array(self.id_list, dtype=object)
        self._word_ids = words
        self.words: dict[str, int] = {}
        if words:  # no rule with words (topics and providers only): no need to read texts
            self._read(articles, words)
        of_topic: dict[str, list[int]] = defaultdict(list)
        of_provider: dict[str, list[int]] = defaultdict(list)
        for position, article in enumerate(articles):
            for topic in article.topic_keys:
                if topic in topics:
                    of_topic[topic].append(position)
            if article.provider_domain in providers:
                of_provider[article.provider_domain].append(position)
        self.topics = {topic: self._mask(held) for topic, held in of_topic.items()}
        self.providers = {domain: self._mask(held) for domain, held in of_provider.items()}
        self._phrases: dict[tuple[str, ...], int] = {}
        self._any: dict[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], int] = {}

    def _read(self, articles: list[Candidate], words: Mapping[str, int]) -> None:
        """The articles' words in a row, as numbers (a word of the rules its number in
        `words`, which numbers them 0, 1, … in its order; TITLE_END _END; any other word
        _OTHER): where each word of the rules is, in which article, and its mask."""
        found = words_in_a_row([article.title for article in articles],
                               [article.excerpt for article in articles])
        self._row = np.fromiter(map({**words, TITLE_END: _END}.get, found, repeat(_OTHER)),
                                dtype=np.int32, count=len(found))
        ends = self._row == _END  # two an article: after its title, after its excerpt
        self._article_at = (np.cumsum(ends) - ends) // 2
        at = np.flatnonzero(self._row >= 0)
        by_word = np.argsort(self._row[at], kind="stable")
        self._at = at[by_word]  # where each word is, grouped by word, in order
        self._bounds = np.searchsorted(self._row[at][by_word], np.arange(len(words) + 1))
        names = list(words)  # by number
        bounds = self._bounds.tolist()
        for number in np.flatnonzero(np.diff(self._bounds)).tolist():  # the words found
            self.words[names[number]] = self._mask(
                self._article_at[self._at[bounds[number]:bounds[number + 1]]])

    def _mask(self, positions: list[int] | np.ndarray) -> int:
        bits = np.zeros(self.size, dtype=bool)
        bits[positions] = True
        return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")

    def phrase(self, phrase: tuple[str, ...]) -> int:
        """The articles in which `phrase` occurs: where its first word is followed by the
        others (a TITLE_END between would not be one of them)."""
        if phrase not in self._phrases:
            numbers = [self._word_ids[word] for word in phrase]
            at = self._at[self._bounds[numbers[0]]:self._bounds[numbers[0] + 1]]
            # The row ends with TITLE_END, no word of ours: at + 1 is in it, and once the
            # next is a word of ours, so is the one after.
            for offset, number in enumerate(numbers[1:], 1):
                at = at[self._row[at + offset] == number]
            self._phrases[phrase] = self._mask(self._article_at[at]) if len(at) else 0
        return self._phrases[phrase]

    def any_of(self, terms: Terms) -> int:
        """The articles in which any word or phrase of `terms` occurs."""
        key = (terms.words, terms.phrases)  # a tuple hashes in C, Terms in Python
        if key not in self._any:
            mask = 0
            for word in terms.words:
                mask |= self.words.get(word, 0)
            for phrase in terms.phrases:
                mask |= self.phrase(phrase)
            self._any[key] = mask
        return self._any[key]

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
        self._rules: list[FollowRule] = []
        self._follows: list[list[int]] = []  # of each rule
        numbers: dict[tuple[object, ...], int] = {}
        for follow_id, rule in rules.items():
            number = numbers.setdefault(_rule_key(rule), len(numbers))
            if number == len(self._rules):
                self._rules.append(rule)
                self._follows.append([])
            self._follows[number].append(follow_id)
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._by_provider: dict[str, list[int]] = defaultdict(list)
        self._by_topic: dict[str, list[int]] = defaultdict(list)
        self._unindexed: list[int] = []  # no required key: only exclusions (or nothing)
        for index, rule in enumerate(self._rules):
            self._add(index, rule)
        words: set[str] = set()
        for rule in self._rules:
            _add_words(words, rule.keywords)
            _add_words(words, rule.exclude)
        self._words = {word: number for number, word in enumerate(sorted(words))}
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

    def match(self, articles: Iterable[Candidate]) -> dict[int, Matched]:
        """follow id -> the ids of the articles it matches, in the order given.

        Only follows that match something are keys; an article id given twice counts once.
        Follows that match the same articles share one Matched (read it, as a sequence).
        """
        unique = _first_of_each(articles)
        if not unique or not self._rules:
            return {}
        batch = _Batch(unique, self._words, self._topics, self._providers)
        matched: dict[int, Matched] = {}
        shared: dict[int, Matched] = {}
        for index in sorted(self._candidates(batch)):
            mask = batch.matching(self._rules[index])
            if not mask:
                continue
            found = shared.get(mask)
            if found is None:
                found = shared[mask] = Matched(mask, batch.ids, batch.id_list)
            matched.update(dict.fromkeys(self._follows[index], found))
        return matched
