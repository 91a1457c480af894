"""A small rule-based topic tagger: words in a title and excerpt → the corpus's topic names."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words joined by `.`, `'` or `-` count as one ("C3.ai", "self-driving"), as in topic names.
_WORD = re.compile(r"\w+(?:[.'\u2019-]\w+)*")
_MAX_TOPIC_WORDS = 6  # longer known topics are never matched as words in a text

# Phrases that name one of the corpus's topics (the seeds' and the generator's vocabulary)
# without using its name; matched whole-word and case-insensitively. A trailing `s?` makes
# the plural optional; words are separated by one space, as a title writes them.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AI Hardware", ("GPUs?", "TPUs?", "NPUs?", "chips?", "chipmakers?", "semiconductors?",
                     "accelerators?")),
    ("Language Models", ("LLMs?", "large language models?", "language models?",
                         "foundation models?")),
    ("Generative AI", ("generative AI", "gen AI", "genAI", "diffusion models?", "text-to-image",
                       "image generators?")),
    ("Machine Learning", ("machine learning", "ML")),
    ("Deep Learning", ("deep learning", "neural networks?")),
    ("Computer Vision", ("computer vision", "image recognition", "object detection")),
    ("NLP", ("natural language processing", "NLP")),
    ("Robotics", ("robots?", "robotics", "humanoids?")),
    ("Autonomous Vehicles", ("self-driving", "driverless", "autonomous vehicles?",
                             "autonomous cars?", "autonomous driving", "robotaxis?")),
    ("Chatbots", ("chatbots?", "ChatGPT", "chat assistants?")),
    ("AI Regulation", ("regulations?", "regulators?", "AI Act", "legislation", "lawmakers")),
    ("AI Ethics", ("ethics", "ethical", "bias")),
    ("Reinforcement Learning", ("reinforcement learning",)),
    ("Supercomputing", ("supercomputers?", "supercomputing", "exascale")),
    ("Speech Recognition", ("speech recognition", "speech-to-text")),
    ("Deepfakes", ("deepfakes?",)),
    ("Facial Recognition", ("facial recognition", "face recognition")),
    ("Quantum Computing", ("quantum computing", "quantum computers?")),
    ("Drug Discovery", ("drug discovery",)),
    ("OpenAI", ("OpenAI",)),
    ("DeepMind", ("DeepMind",)),
    ("Nvidia AI", ("Nvidia",)),
    ("Microsoft AI", ("Microsoft", "Azure", "Copilot")),
    ("Google AI", ("Google", "Gemini")),
    ("Facebook AI", ("Meta", "Facebook", "Llama")),
    ("Amazon AI", ("Amazon", "AWS")),
    ("Apple AI", ("Apple",)),
    ("IBM AI", ("IBM", "watsonx")),
    ("Intel AI", ("Intel",)),
    ("AI", ("AI", "artificial intelligence")),
)
# Model names such as GPT-4 or GPT4o, which no list of phrases can hold.
_MODEL_NAME = re.compile(r"gpt-?\d\w*")
_MODEL_TOPIC = "Language Models"
# Runs of words (letters, digits, `_`, `-`) joined by single spaces: a phrase lies inside one.
_RUN = re.compile(r"[\w-]+(?: [\w-]+)*")


def _phrases(pattern: str) -> tuple[str, ...]:
    """A rule's phrase, lower-cased, with and without its optional plural `s`."""
    phrase = pattern.lower()
    return (phrase[:-2], phrase[:-1]) if phrase.endswith("s?") else (phrase,)


# Phrase → the position of its rule, so that the rules' topics come out in rule order.
_PHRASES: dict[str, int] = {
    phrase: position
    for position, (_, patterns) in enumerate(_RULES)
    for pattern in patterns
    for phrase in _phrases(pattern)
}
_MAX_PHRASE_WORDS = max(phrase.count(" ") + 1 for phrase in _PHRASES)
# The words that start a phrase of several: only after them is a longer phrase looked up.
_OPENERS = frozenset(phrase.split(" ")[0] for phrase in _PHRASES if " " in phrase)
_MODEL_POSITION = next(position for position, (topic, _) in enumerate(_RULES)
                       if topic == _MODEL_TOPIC)


class Tagger:
    """Tags texts with the rules' topics and with the known topics named in them."""

    def __init__(self, known_topics: Iterable[str] = ()) -> None:
        # Known topics by their words, casefolded, so that a text matches them word by word.
        self._known: dict[tuple[str, ...], str] = {}
        for topic in known_topics:
            words = _words(topic)
            if words and len(words) <= _MAX_TOPIC_WORDS:
                self._known.setdefault(words, topic)
        # No run of words longer than the longest known topic can be one.
        self._max_words = max((len(words) for words in self._known), default=0)
        # Only a run that starts with a known topic's first word can be one: most words of
        # a text start none, and are never looked up again.
        self._first_words = frozenset(words[0] for words in self._known)
        spelling = {" ".join(words): topic for words, topic in self._known.items()}
        # Each rule's topic as the store spells it, when the store knows it.
        self._rule_names = tuple(spelling.get(" ".join(_words(topic)), topic)
                                 for topic, _ in _RULES)

    def topics(self, text: str) -> list[str]:
        """The topics `text` is about, rules first, each once, in the known spelling."""
        found: dict[str, str] = {}
        for position in sorted(_rule_positions(text)):
            name = self._rule_names[position]
            found.setdefault(name.casefold(), name)
        words = _words(text)
        starts = [start for start, word in enumerate(words) if word in self._first_words]
        # Shorter runs first, then by position: the order the topics are listed in.
        for size in range(1, min(self._max_words, len(words)) + 1):
            for start in starts:
                known = self._known.get(words[start : start + size])
                if known is not None:
                    found.setdefault(known.casefold(), known)
        return list(found.values())


def _rule_positions(text: str) -> set[int]:
    """The positions of the rules whose phrases `text` holds as whole words."""
    positions: set[int] = set()
    for run in _RUN.findall(text):
        words = run.lower().split(" ")
        for start, word in enumerate(words):
            if word.startswith("gpt") and _MODEL_NAME.fullmatch(word):
                positions.add(_MODEL_POSITION)
            position = _PHRASES.get(word)
            if position is not None:
                positions.add(position)
            if word in _OPENERS:
                positions.update(_longer_phrases(words, start))
    return positions


def _longer_phrases(words: list[str], start: int) -> list[int]:
    """The positions of the rules with a phrase of several words at `words[start]`."""
    found = []
    phrase = words[start]
    for end in range(start + 1, min(len(words), start + _MAX_PHRASE_WORDS)):
        phrase = f"{phrase} {words[end]}"
        position = _PHRASES.get(phrase)
        if position is not None:
            found.append(position)
    return found


def _words(text: str) -> tuple[str, ...]:
    words = map(str.casefold, _WORD.findall(text))
    if "\u2019" in text:
        return tuple(word.replace("\u2019", "'") for word in words)
    return tuple(words)

