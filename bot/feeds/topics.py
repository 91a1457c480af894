"""A small rule-based topic tagger: words in a title and excerpt → the corpus's topic names."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words joined by `.`, `'` or `-` count as one ("C3.ai", "self-driving"), as in topic names.
_WORD = re.compile(r"\w+(?:[.'\u2019-]\w+)*")
_MAX_TOPIC_WORDS = 6  # longer known topics are never matched as words in a text

# Phrases that name one of the corpus's topics (the seeds' and the generator's vocabulary)
# without using its name; checked whole-word and case-insensitively.
_RULES: tuple[tuple[str, str], ...] = (
    (r"GPUs?|TPUs?|NPUs?|chips?|chipmakers?|semiconductors?|accelerators?", "AI Hardware"),
    (r"LLMs?|large language models?|language models?|foundation models?|GPT-?\d\w*",
     "Language Models"),
    (r"generative AI|gen ?AI|diffusion models?|text-to-image|image generators?",
     "Generative AI"),
    (r"machine learning|ML", "Machine Learning"),
    (r"deep learning|neural networks?", "Deep Learning"),
    (r"computer vision|image recognition|object detection", "Computer Vision"),
    (r"natural language processing|NLP", "NLP"),
    (r"robots?|robotics|humanoids?", "Robotics"),
    (r"self-driving|driverless|autonomous (?:vehicles?|cars?|driving)|robotaxis?",
     "Autonomous Vehicles"),
    (r"chatbots?|ChatGPT|chat assistants?", "Chatbots"),
    (r"regulations?|regulators?|AI Act|legislation|lawmakers", "AI Regulation"),
    (r"ethics|ethical|bias", "AI Ethics"),
    (r"reinforcement learning", "Reinforcement Learning"),
    (r"supercomputers?|supercomputing|exascale", "Supercomputing"),
    (r"speech recognition|speech-to-text", "Speech Recognition"),
    (r"deepfakes?", "Deepfakes"),
    (r"facial recognition|face recognition", "Facial Recognition"),
    (r"quantum computing|quantum computers?", "Quantum Computing"),
    (r"drug discovery", "Drug Discovery"),
    (r"OpenAI", "OpenAI"),
    (r"DeepMind", "DeepMind"),
    (r"Nvidia", "Nvidia AI"),
    (r"Microsoft|Azure|Copilot", "Microsoft AI"),
    (r"Google|Gemini", "Google AI"),
    (r"Meta|Facebook|Llama", "Facebook AI"),
    (r"Amazon|AWS", "Amazon AI"),
    (r"Apple", "Apple AI"),
    (r"IBM|watsonx", "IBM AI"),
    (r"Intel", "Intel AI"),
    (r"AI|artificial intelligence", "AI"),
)
_COMPILED = tuple(
    (re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.IGNORECASE), topic)
    for pattern, topic in _RULES
)


class Tagger:
    """Tags texts with the rules' topics and with the known topics named in them."""

    def __init__(self, known_topics: Iterable[str] = ()) -> None:
        # Known topics by their words, casefolded, so that a text matches them word by word.
        self._known: dict[tuple[str, ...], str] = {}
        for topic in known_topics:
            words = _words(topic)
            if words and len(words) <= _MAX_TOPIC_WORDS:
                self._known.setdefault(words, topic)
        self._spelling = {" ".join(words): topic for words, topic in self._known.items()}

    def topics(self, text: str) -> list[str]:
        """The topics `text` is about, rules first, each once, in the known spelling."""
        found: dict[str, str] = {}
        for pattern, topic in _COMPILED:
            if pattern.search(text):
                name = self._spelling.get(" ".join(_words(topic)), topic)
                found.setdefault(name.casefold(), name)
        words = _words(text)
        for size in range(1, min(_MAX_TOPIC_WORDS, len(words)) + 1):
            for start in range(len(words) - size + 1):
                known = self._known.get(words[start : start + size])
                if known is not None:
                    found.setdefault(known.casefold(), known)
        return list(found.values())


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.casefold().replace("\u2019", "'") for word in _WORD.findall(text))

