"""One follow rule checked against one article, plainly: the reference the indexed matcher
(bot/follows/matcher.py) is tested against."""

from __future__ import annotations

from dataclasses import dataclass

from bot.follows.rules import Candidate, FollowRule, Terms, words_of


@dataclass(frozen=True, slots=True)
class ArticleWords:
    """An article's words in order (title, a break, excerpt) and as a set."""

    sequence: tuple[str, ...]
    present: frozenset[str]

    @classmethod
    def of(cls, article: Candidate) -> ArticleWords:
        title, excerpt = words_of(article.title), words_of(article.excerpt)
        # "" is never a word: a phrase cannot run from the title into the excerpt.
        return cls((*title, "", *excerpt), frozenset(title).union(excerpt))

    def has_phrase(self, phrase: tuple[str, ...]) -> bool:
        size, first, sequence = len(phrase), phrase[0], self.sequence
        return any(word == first and sequence[start:start + size] == phrase
                   for start, word in enumerate(sequence))

    def has_any(self, terms: Terms) -> bool:
        """Whether any word or phrase of `terms` occurs here."""
        return not self.present.isdisjoint(terms.words) or any(
            self.has_phrase(phrase) for phrase in terms.phrases)


def matches(rule: FollowRule, article: Candidate) -> bool:
    """Whether `article` is what `rule` asks for."""
    if rule.topic_key is not None and rule.topic_key not in article.topic_keys:
        return False
    if rule.provider_domain is not None and rule.provider_domain != article.provider_domain:
        return False
    if not (rule.keywords or rule.exclude):
        return True
    words = ArticleWords.of(article)
    return (not rule.keywords or words.has_any(rule.keywords)) and not (
        rule.exclude and words.has_any(rule.exclude))
