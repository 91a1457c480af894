"""Understanding a question in plain words: its time window, topic, provider, intent and
keywords, from the corpus's own vocabulary. Pure functions: the clock is passed in."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rapidfuzz import process, utils
from rapidfuzz.distance import OSA

from bot.results import ProviderCount, TopicCount
from bot.text import echo

# A typed name is read as a corpus name at most this many edits away (letters swapped,
# dropped, doubled or wrong), by its length: more would turn words into unrelated names.
FUZZY_EDITS = ((8, 1), (16, 2))  # (shorter than, edits); longer: 3
FUZZY_MIN_CHARS = 4  # shorter words are too easily close to some name to guess at
MAX_PHRASE_WORDS = 4  # names of more words are not looked for in a question
MAX_GUESS_WORDS = 3  # nor misspelt ones of more than this
ECHO_WORDS = 60  # characters of typed text repeated in the understood line

# Common short forms → the names they stand for, tried in order; an alias applies only when
# one of its targets is a name in the corpus.
ALIASES: dict[str, tuple[str, ...]] = {
    "hf": ("hugging face", "huggingface"),
    "huggingface": ("hugging face",),
    "hugging face": ("huggingface",),
    "msft": ("microsoft",),
    "ms": ("microsoft",),
    "deepmind": ("google deepmind",),
    "google deepmind": ("deepmind",),
    "gpu": ("ai hardware", "hardware"),
    "gpus": ("ai hardware", "hardware"),
    "chip": ("ai hardware", "hardware"),
    "chips": ("ai hardware", "hardware"),
    "semiconductors": ("ai hardware", "hardware"),
    "oai": ("openai",),
    "open ai": ("openai",),
    "nvda": ("nvidia",),
    "goog": ("google",),
    "aws": ("amazon web services", "amazon"),
    "fb": ("facebook", "facebook ai", "meta"),
    "llm": ("large language models", "llms"),
    "llms": ("large language models",),
    "robots": ("robotics",),
}
# Words that say nothing about which articles are meant: question words, function words
# and the words every question to an AI news bot has ("news", "AI", "latest").
STOP_WORDS = frozenset({
    "a", "about", "after", "again", "ai", "all", "also", "am", "an", "and", "any", "anyone",
    "anything", "are", "article", "articles", "as", "at", "be", "been", "before", "being",
    "between", "bot", "but", "by", "can", "could", "did", "do", "does", "doing", "done",
    "during", "each", "else", "ever", "every", "find", "for", "from", "get", "give", "go",
    "going", "got", "had", "happen", "happened", "happening", "has", "have", "having", "he",
    "her", "here", "hey", "hi", "him", "his", "how", "i", "if", "in", "info", "information",
    "into", "is", "it", "its", "just", "know", "lately", "latest", "let", "like", "look",
    "looking", "me", "more", "most", "much", "my", "new", "newest", "news", "now", "of", "on",
    "or", "our", "out", "over", "please", "recent", "recently", "regarding", "said", "say",
    "search", "see", "she", "show", "so", "some", "something", "stories", "story", "tell",
    "than", "thanks", "that", "the", "their", "them", "then", "there", "there's", "these",
    "they", "this", "those", "to", "up", "update", "updates", "us", "want", "was", "we",
    "week", "were", "what", "what's", "whats", "when", "where", "which", "while", "who",
    "whom", "whose", "why", "will", "with", "would", "you", "your",
})
# A topic's name without these words still names it ("hardware" → AI Hardware).
_NAME_FILLER = frozenset({"ai", "news", "the", "and", "of"})

_MONTHS = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?" \
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WEEKDAYS = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORD = r"(?:st|nd|rd|th)?"
# One point in time a person names: an ISO date, "May 20[, 2022]", "20 May [2022]",
# "May 2022", a year, a weekday. Groups (prefixed, for two in one pattern) are read by `_period`.
def _when(p: str) -> str:
    return (rf"(?:(?P<{p}iso>\d{{4}}-\d{{1,2}}-\d{{1,2}})"
            rf"|(?P<{p}md>{_MONTHS})\.?\s+(?P<{p}mdd>\d{{1,2}}){_ORD}(?:,?\s+(?P<{p}mdy>\d{{4}}))?"
            rf"|(?P<{p}dm>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<{p}dmm>{_MONTHS})\.?"
            rf"(?:,?\s+(?P<{p}dmy>\d{{4}}))?"
            rf"|(?P<{p}m>{_MONTHS})\.?(?:\s+(?P<{p}my>\d{{4}}))?"
            rf"|(?P<{p}y>(?:19|20)\d\d)"
            rf"|(?P<{p}wd>{_WEEKDAYS}))")


_UNIT = r"(?P<unit>hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|years?)"
_TIME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
        ("between", rf"\b(?:between|from)\s+{_when('a')}\s+(?:and|to|until|till|-)\s+"
                    rf"{_when('b')}\b"),
        ("since", rf"\b(?:since|after|from)\s+(?:the\s+)?{_when('a')}\b"),
        ("before", rf"\b(?:before|until|till)\s+(?:the\s+)?{_when('a')}\b"),
        ("last_n", rf"\b(?:in\s+|over\s+|during\s+|for\s+)?(?:the\s+)?(?:last|past)\s+"
                   rf"(?P<n>\d{{1,4}})\s*{_UNIT}\b"),
        ("ago", rf"\b(?P<n>\d{{1,4}})\s*{_UNIT}\s+ago\b"),
        ("last_unit", r"\b(?:in\s+|over\s+|during\s+)?(?:the\s+)?(?:last|past)\s+"
                      r"(?P<unit>hour|day|week|month|year)\b"),
        ("this_unit", r"\b(?:this|current)\s+(?P<unit>week|month|year)\b"),
        ("today", r"\b(?:today|tonight|this morning)\b"),
        ("yesterday", r"\byesterday\b"),
        ("in", rf"\b(?:in|during|on|of)\s+(?:the\s+)?{_when('a')}\b"),
    )
)
_INTENTS = (
    ("trending", re.compile(r"\b(?:trending|what'?s\s+hot|hot(?:test)?|popular|buzz(?:ing)?"
                            r"|viral|most\s+covered)\b", re.IGNORECASE)),
    ("count", re.compile(r"\b(?:how\s+many|count|number\s+of)\b", re.IGNORECASE)),
)
_RELATED = re.compile(r"\b(?:related\s+to|similar\s+to|more\s+like|(?<!would\s)(?<!'d\s)"
                      r"(?<!\bi\s)like)\s+(?P<subject>.+)$", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:[.'\u2019-]\w+)*")
_MONTH_NUMBER = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_WEEKDAY_NUMBER = {name: number for number, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}


@dataclass(frozen=True, slots=True)
class Window:
    """Published in [start, end): either end may be open."""

    start: datetime | None
    end: datetime | None

    def label(self) -> str:
        """`since 2022-05-20`, `before …`, `on 2022-05-20`, `in May 2022`, `… to …`."""
        if self.start and self.end:
            if self.end - self.start == timedelta(days=1) and _midnight(self.start):
                return f"on {self.start:%Y-%m-%d}"
            if _whole_month(self.start, self.end):
                return f"in {self.start:%B %Y}"
            last = self.end - timedelta(days=1) if _midnight(self.end) else self.end
            return f"{_moment(self.start)} to {_moment(last)}"
        if self.start:
            return f"since {_moment(self.start)}"
        return f"before {_moment(self.end)}" if self.end else "any time"


def _midnight(when: datetime) -> bool:
    return (when.hour, when.minute, when.second) == (0, 0, 0)


def _whole_month(start: datetime, end: datetime) -> bool:
    return _midnight(start) and start.day == 1 and end == _add_months(start, 1)


def _moment(when: datetime) -> str:
    return f"{when:%Y-%m-%d}" if _midnight(when) else f"{when:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, slots=True)
class Named:
    """A topic or provider of the corpus that a question names."""

    kind: str  # "topic" or "provider"
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names a question can mention: every spelling of the corpus's topics and
    providers (processed), its aliases, each to what it names."""

    phrases: dict[str, Named]  # full names and aliases
    short: dict[str, Named]  # topic names without "AI": "hardware" → AI Hardware
    fuzzy_keys: list[str]  # full names long enough to guess at, without spaces
    fuzzy_names: dict[str, Named]  # each of those → what it names

    @classmethod
    def of(cls, topics: Sequence[TopicCount], providers: Sequence[ProviderCount]) -> Vocabulary:
        phrases: dict[str, Named] = {}
        for provider in providers:
            named = Named("provider", provider.id, provider.name)
            spellings = (provider.name, provider.domain, provider.domain.split(".")[0],
                         *provider.names)
            for spelling in spellings:
                phrases.setdefault(utils.default_process(spelling), named)
        for topic in topics:  # a topic's own name wins over a provider spelled the same
            phrases[utils.default_process(topic.name)] = Named("topic", topic.id, topic.name)
        # Full names are what a misspelt name is read as; not the short forms below.
        fuzzy = {key.replace(" ", ""): named for key, named in sorted(phrases.items())
                 if len(key) >= FUZZY_MIN_CHARS}
        short: dict[str, Named] = {}
        for topic in topics:
            words = utils.default_process(topic.name).split()
            key = " ".join(word for word in words if word not in _NAME_FILLER)
            if key and key != " ".join(words) and len(key) >= FUZZY_MIN_CHARS \
                    and key not in phrases:
                short.setdefault(key, Named("topic", topic.id, topic.name))
        for alias, targets in ALIASES.items():
            target = next((phrases.get(t) or short.get(t) for t in targets
                           if t in phrases or t in short), None)
            if target is not None:
                phrases.setdefault(alias, target)
        phrases.pop("", None)
        return cls(phrases, short, list(fuzzy), fuzzy)


@dataclass(frozen=True, slots=True)
class Understood:
    """How a question was read."""

    text: str
    intent: str = "latest"  # latest, search, related, count, trending
    window: Window | None = None
    topic: Named | None = None
    provider: Named | None = None
    keywords: tuple[str, ...] = ()
    subject: str = ""  # what "related to …" is about
    corrected: tuple[tuple[str, str], ...] = ()  # (typed, read as)
    ignored: tuple[str, ...] = ()  # parts it could not use
    notes: tuple[str, ...] = field(default=())  # said by the answer (e.g. a relaxed filter)

    def describe(self) -> str:
        """The one understood line: `AI Hardware · Microsoft · since 2022-05-20 · 'cluster'`,
        then what was corrected or ignored."""
        parts: list[str] = []
        if self.intent == "count":
            parts.append("how many")
        elif self.intent == "trending":
            parts.append("trending")
        elif self.intent == "related":
            parts.append(f"related to {echo(self.subject, ECHO_WORDS)!r}")
        parts += [named.name for named in (self.topic, self.provider) if named]
        if self.window:
            parts.append(self.window.label())
        if self.keywords:
            parts.append(repr(echo(" ".join(self.keywords), ECHO_WORDS)))
        line = " · ".join(parts) or "latest news"
        extra = [f"read {echo(typed, 30)!r} as {used}" for typed, used in self.corrected]
        if self.ignored:
            extra.append("ignored " + ", ".join(repr(echo(part, 30)) for part in self.ignored))
        extra += self.notes
        return line + (f" ({'; '.join(extra)})" if extra else "")


def understand(text: str, vocabulary: Vocabulary, now: datetime,
               known: Callable[[str], bool] = lambda _word: False) -> Understood:
    """Read `text` as of `now` (aware). `known`: whether the corpus holds a word, so that a
    word it knows is searched for as typed instead of being read as a near name."""
    rest, window, ignored = _time_window(text, now)
    intent = "latest"
    for name, pattern in _INTENTS:
        rest, found = pattern.subn(" ", rest)
        if found and intent == "latest":
            intent = name
    subject = ""
    related = _RELATED.search(rest)
    if related and intent == "latest":
        intent, subject = "related", related.group("subject").strip(" ?!.")
        rest = rest[: related.start()]
    tokens = [match.group() for match in _TOKEN.finditer(rest)]
    named, corrected, leftover = _names(tokens, vocabulary, known)
    topics = [each for each in named if each.kind == "topic"]
    providers = [each for each in named if each.kind == "provider"]
    # One topic and one provider narrow the answer; a further name is looked for as words
    # ("Medical Imaging news about machine learning"), not dropped.
    words = [*leftover, *(word for each in topics[1:] + providers[1:]
                          for word in name_words(each))]
    keywords = tuple(dict.fromkeys(token for token in words
                                   if _norm(token) not in STOP_WORDS and len(_norm(token)) > 1))
    if keywords and intent == "latest":
        intent = "search"
    return Understood(text, intent, window, topics[0] if topics else None,
                      providers[0] if providers else None, keywords, subject,
                      tuple(corrected), tuple(ignored))


def name_words(named: Named) -> list[str]:
    """The words of a name that say which it is: "Google AI" → google."""
    return [word for word in utils.default_process(named.name).split()
            if word not in _NAME_FILLER]


def _edits(phrase: str) -> int:
    return next((edits for shorter, edits in FUZZY_EDITS if len(phrase) < shorter), 3)


def _norm(token: str) -> str:
    return token.casefold().replace("\u2019", "'")


def _names(tokens: list[str], vocabulary: Vocabulary, known: Callable[[str], bool]
           ) -> tuple[list[Named], list[tuple[str, str]], list[str]]:
    """The corpus names among `tokens`, longest first (at each length exact spellings and
    aliases, then near spellings), what was corrected, and the tokens left over."""
    processed = [utils.default_process(token) for token in tokens]
    taken: dict[int, Named] = {}  # first token → the name it starts
    used = [False] * len(tokens)
    corrected: list[tuple[str, str]] = []
    longest = min(MAX_PHRASE_WORDS, len(tokens))
    # Full names and aliases as typed, then misspelt full names, then short forms: a short
    # form ("edge" of Edge AI) must not take a word of a misspelt name ("IT Buisness Edge").
    for names in (vocabulary.phrases, None, vocabulary.short):
        for size in range(longest, 0, -1):
            for start in range(len(tokens) - size + 1):
                if names is None:
                    found = _near(tokens, processed, start, size, used, vocabulary, known)
                else:
                    found = _exact(tokens, processed, start, size, used, names)
                if found is not None:
                    taken[start] = found
                    used[start : start + size] = [True] * size
                    if names is None:
                        corrected.append((" ".join(tokens[start : start + size]), found.name))
    unique = list(dict.fromkeys(taken[start] for start in sorted(taken)))
    leftover = [token for token, is_used in zip(tokens, used, strict=True) if not is_used]
    return unique, corrected, leftover


def _exact(tokens: list[str], processed: list[str], start: int, size: int, used: list[bool],
           names: dict[str, Named]) -> Named | None:
    """The name these tokens spell exactly (or by alias), if they are free to take."""
    if any(used[start : start + size]):
        return None
    phrase = " ".join(processed[start : start + size])
    if size == 1 and _norm(tokens[start]) in STOP_WORDS and phrase not in ALIASES:
        return None
    # "the register" names theregister.com as well as "theregister" does.
    return names.get(phrase) or (names.get(phrase.replace(" ", "")) if size > 1 else None)


def _near(tokens: list[str], processed: list[str], start: int, size: int, used: list[bool],
          vocabulary: Vocabulary, known: Callable[[str], bool]) -> Named | None:
    """The full name these tokens misspell, if they are free to take. A word the corpus
    knows (or a stop word) is never replaced alone; in a longer name, one of the words must
    be one it does not know (the typo)."""
    span = range(start, start + size)
    if size > MAX_GUESS_WORDS or any(used[i] for i in span) \
            or all(_norm(tokens[i]) in STOP_WORDS or known(processed[i]) for i in span):
        return None
    # Spaces aside: "teh registr" is near "theregister" as well as "the register".
    phrase = "".join(processed[i] for i in span).replace(" ", "")
    if len(phrase) < FUZZY_MIN_CHARS:
        return None
    hit = process.extractOne(phrase, vocabulary.fuzzy_keys, scorer=OSA.distance,
                             score_cutoff=_edits(phrase))
    if hit is None or not _edges_spelt(hit[0], processed[start], processed[start + size - 1]):
        return None
    return vocabulary.fuzzy_names[hit[0]]


def _edges_spelt(key: str, first: str, last: str) -> bool:
    """Whether a stop word at either end of the typed span is part of the name it is near:
    "the registr" is The Register and "Healthcare T News" Healthcare IT News, but the "on"
    of "on mahcine learning" belongs to the sentence, not to Machine Learning."""
    return (first not in STOP_WORDS or key.startswith(first.replace(" ", ""))) \
        and (last not in STOP_WORDS or key.endswith(last.replace(" ", "")))


# ---- time ---------------------------------------------------------------------------------


def _time_window(text: str, now: datetime) -> tuple[str, Window | None, list[str]]:
    """The first time expression of `text` as a window, the text without it, and any time
    expression that named no real date (ignored)."""
    now = now.astimezone(UTC)
    ignored: list[str] = []
    for name, pattern in _TIME_PATTERNS:
        for match in pattern.finditer(text):
            window = _window(name, match, now)
            # Blanked, not cut: the later matches' offsets (in the text as it was) hold.
            rest = text[: match.start()] + " " * len(match.group()) + text[match.end():]
            if window is None:
                ignored.append(match.group())
                text = rest
                continue
            return rest, window, ignored
    return text, None, ignored


def _window(name: str, match: re.Match[str], now: datetime) -> Window | None:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "today":
        return Window(today, None)
    if name == "yesterday":
        return Window(today - timedelta(days=1), today)
    if name in ("last_n", "ago"):
        return Window(_back(now, today, int(match.group("n")), match.group("unit")), None)
    if name == "last_unit":
        return Window(_back(now, today, 1, match.group("unit")), None)
    if name == "this_unit":
        unit = match.group("unit").lower()
        if unit == "week":
            return Window(today - timedelta(days=today.weekday()), None)
        if unit == "month":
            return Window(today.replace(day=1), None)
        return Window(today.replace(month=1, day=1), None)
    first = _period(match, "a", now)
    if first is None:
        return None
    if name == "between":
        second = _period(match, "b", now)
        if second is None or second[1] <= first[0]:
            return None
        return Window(first[0], second[1])
    if name == "since":
        after = match.group().lower().lstrip().startswith("after")
        return Window(first[1] if after else first[0], None)
    if name == "before":
        return Window(None, first[0])
    return Window(*first)


def _back(now: datetime, today: datetime, count: int, unit: str) -> datetime:
    """`count` units before now; whole days count from the start of that day."""
    unit = unit.lower()
    if unit.startswith("h"):
        return now - timedelta(hours=count)
    if unit.startswith("mo"):
        return _add_months(today, -count) if count < 1200 else datetime.min.replace(tzinfo=UTC)
    if unit.startswith("y"):
        return today.replace(year=max(1, today.year - count), day=min(today.day, 28))
    days = count * (7 if unit.startswith("w") else 1)
    return today - timedelta(days=min(days, 36500))


def _add_months(when: datetime, months: int) -> datetime:
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    return when.replace(year=max(1, year), month=month + 1,
                        day=min(when.day, calendar.monthrange(max(1, year), month + 1)[1]))


def _period(match: re.Match[str], p: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The day, month or year a `_WHEN` match (groups prefixed `p`) names, as [start, end);
    without a year, the latest one not after `now`. None if it is no real date."""
    group = match.groupdict()
    try:
        if group[f"{p}iso"]:
            year, month, day = (int(part) for part in group[f"{p}iso"].split("-"))
            return _day(datetime(year, month, day, tzinfo=UTC))
        for month_key, day_key, year_key in ((f"{p}md", f"{p}mdd", f"{p}mdy"),
                                             (f"{p}dmm", f"{p}dm", f"{p}dmy")):
            if group[month_key]:
                month = _MONTH_NUMBER[group[month_key][:3].lower()]
                day = int(group[day_key])
                return _day(_latest(now, month, day, group[year_key]))
        if group[f"{p}m"]:
            month = _MONTH_NUMBER[group[f"{p}m"][:3].lower()]
            start = _latest(now, month, 1, group[f"{p}my"])
            return start, _add_months(start, 1)
        if group[f"{p}y"]:
            start = datetime(int(group[f"{p}y"]), 1, 1, tzinfo=UTC)
            return start, start.replace(year=start.year + 1)
        weekday = _WEEKDAY_NUMBER[group[f"{p}wd"].lower()]
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return _day(today - timedelta(days=(today.weekday() - weekday) % 7))
    except ValueError:  # February 30th, month 13
        return None


def _day(start: datetime) -> tuple[datetime, datetime]:
    return start, start + timedelta(days=1)


def _latest(now: datetime, month: int, day: int, year: str | None) -> datetime:
    if year:
        return datetime(int(year), month, day, tzinfo=UTC)
    candidate = datetime(now.year, month, day, tzinfo=UTC)
    return candidate if candidate <= now else candidate.replace(year=now.year - 1)

