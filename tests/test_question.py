"""Understanding questions: a table of real phrasings, read against a vocabulary of names
(the seeds corpus's, and a larger one made of the names a bigger corpus has)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.queries import News
from bot.question import Understood, Vocabulary, understand
from bot.results import ProviderCount, TopicCount

NOW = datetime(2022, 5, 30, 15, 45, tzinfo=UTC)  # a Monday

TOPICS = [TopicCount(1, "AI", 900), TopicCount(2, "AI Hardware", 120),
          TopicCount(3, "Robotics", 80), TopicCount(4, "Microsoft AI", 60),
          TopicCount(5, "Facebook AI", 40), TopicCount(6, "Large Language Models", 30)]
PROVIDERS = [
    ProviderCount(1, "The Register", "theregister.com", ("theregister",), 50),
    ProviderCount(2, "Hugging Face", "huggingface.co", (), 20),
    ProviderCount(3, "Google DeepMind", "deepmind.google", (), 15),
    ProviderCount(4, "NVIDIA", "nvidia.com", (), 25),
    ProviderCount(5, "OpenAI", "openai.com", (), 30),
    ProviderCount(6, "Microsoft", "microsoft.com", (), 40),
    ProviderCount(7, "Datacenter Dynamics", "datacenterdynamics.com", (), 10),
]
VOCABULARY = Vocabulary.of(TOPICS, PROVIDERS)
# Words the corpus holds: never read as a near name.
KNOWN = {"azure", "cluster", "clusters", "robot", "chip", "training", "model", "hardware",
         "microsoft", "robotics", "and", "news"}

# question → the understood line
PHRASINGS: list[tuple[str, str]] = [
    # time windows
    ("what's new today?", "since 2022-05-30"),
    ("anything from yesterday", "on 2022-05-29"),
    ("news this week", "since 2022-05-30"),
    ("what happened last week", "since 2022-05-23"),
    ("articles from the past week", "since 2022-05-23"),
    ("last 3 days", "since 2022-05-27"),
    ("in the last 24 hours", "since 2022-05-29 15:45 UTC"),
    ("past 2 weeks", "since 2022-05-16"),
    ("over the last 48h", "since 2022-05-28 15:45 UTC"),
    ("5 days ago", "since 2022-05-25"),
    ("this month", "since 2022-05-01"),
    ("last month", "since 2022-04-30"),
    ("this year", "since 2022-01-01"),
    ("since 2022-05-20", "since 2022-05-20"),
    ("since May 20", "since 2022-05-20"),
    ("after May 20, 2022", "since 2022-05-21"),
    ("since 20 May 2022", "since 2022-05-20"),
    ("since the 3rd of May", "since 2022-05-03"),
    ("before 2022-05-27", "before 2022-05-27"),
    ("until May 27", "before 2022-05-27"),
    ("in May 2022", "in May 2022"),
    ("during April", "in April 2022"),
    ("in December", "in December 2021"),
    ("news of 2021", "2021-01-01 to 2021-12-31"),
    ("between May 20 and May 25", "2022-05-20 to 2022-05-25"),
    ("from 2022-05-01 to 2022-05-15", "2022-05-01 to 2022-05-15"),
    ("on 2022-05-26", "on 2022-05-26"),
    ("since monday", "since 2022-05-30"),
    ("since friday", "since 2022-05-27"),
    ("since 2022-02-30", "latest news (ignored 'since 2022-02-30')"),
    # topics and providers, anywhere, by alias, fuzzily
    ("what did Microsoft do in AI hardware last week?",
     "AI Hardware · Microsoft · since 2022-05-23"),
    ("AI Hardware news from Microsoft since 2022-05-20 about cluster",
     "AI Hardware · Microsoft · since 2022-05-20 · 'cluster'"),
    ("gpu news", "AI Hardware"),
    ("anything on chips?", "AI Hardware"),
    ("hardware", "AI Hardware"),
    ("robotics news", "Robotics"),
    ("whats new on robotcs", "Robotics (read 'robotcs' as Robotics)"),
    ("news from hf", "Hugging Face"),
    ("hugging face releases", "Hugging Face · 'releases'"),
    ("huggingface", "Hugging Face"),
    ("deepmind papers", "Google DeepMind · 'papers'"),
    ("google deepmind", "Google DeepMind"),
    ("msft", "Microsoft"),
    ("nvdia", "NVIDIA (read 'nvdia' as NVIDIA)"),
    ("opneai news", "OpenAI (read 'opneai' as OpenAI)"),
    ("open ai", "OpenAI"),
    ("the register", "The Register"),
    ("theregister.com", "The Register"),
    ("from teh registr", "The Register (read 'teh registr' as The Register)"),
    ("datacentre dynamics", "Datacenter Dynamics (read 'datacentre dynamics' as "
                            "Datacenter Dynamics)"),
    ("facebook ai", "Facebook AI"),
    ("microsoft ai", "Microsoft AI"),
    ("llms", "Large Language Models"),
    ("nvidia and openai", "NVIDIA · 'openai'"),
    ("robotics and hardware", "Robotics · 'hardware'"),
    # intents
    ("how many articles about robotics this month?", "how many · Robotics · since 2022-05-01"),
    ("count gpu stories", "how many · AI Hardware"),
    ("number of articles from nvidia", "how many · NVIDIA"),
    ("what's trending?", "trending"),
    ("what's hot", "trending"),
    ("most popular this week", "trending · since 2022-05-30"),
    ("articles like Meta Azure cluster", "related to 'Meta Azure cluster'"),
    ("related to the AMD MI200 story", "related to 'the AMD MI200 story'"),
    ("more like microsoft build", "related to 'microsoft build'"),
    ("I would like robotics news", "Robotics"),
    # keywords; stop words and question words dropped; known words kept as typed
    ("azure cluster", "'azure cluster'"),
    ("Who is training the biggest model?", "'training biggest model'"),
    ("tell me about azure", "'azure'"),
    ("", "latest news"),
    ("?!", "latest news"),
    ("what is new", "latest news"),
    ("chip", "AI Hardware"),
]


@pytest.mark.parametrize(("question", "line"), PHRASINGS)
def test_a_question_is_understood_as_a_person_means_it(question: str, line: str) -> None:
    understood = understand(question, VOCABULARY, NOW, known=lambda word: word in KNOWN)
    assert understood.describe() == line


def test_the_table_is_long_enough() -> None:
    assert len(PHRASINGS) >= 60


def test_an_alias_applies_only_when_its_target_is_in_the_corpus() -> None:
    small = Vocabulary.of([TopicCount(1, "Robotics", 3)],
                          [ProviderCount(1, "Mint", "livemint.com", (), 1)])
    understood = understand("gpu news from hf", small, NOW)
    assert (understood.topic, understood.provider) == (None, None)
    assert understood.keywords == ("gpu", "hf")


def test_a_word_the_corpus_knows_is_never_read_as_a_near_name() -> None:
    vocabulary = Vocabulary.of([TopicCount(1, "Robotics", 3)], [])
    assert understand("robotic", vocabulary, NOW).topic is not None
    known = understand("robotic", vocabulary, NOW, known=lambda word: word == "robotic")
    assert known.topic is None
    assert known.keywords == ("robotic",)


# A corpus with two-word names, the shape the bench corpus has.
WIDER = Vocabulary.of(
    [TopicCount(1, "Machine Learning", 50), TopicCount(2, "Medical Imaging", 20),
     TopicCount(3, "Healthcare AI", 20)],
    [ProviderCount(1, "Healthcare IT News", "healthcareitnews.com", (), 10)])


@pytest.mark.parametrize(("question", "line"), [
    # the "on" belongs to the sentence: the name read is the one misspelt after it
    ("anything on mahcine learning companies",
     "Machine Learning · 'companies' (read 'mahcine learning' as Machine Learning)"),
    # a stop word that is part of the name ("News") does not stop a near spelling of it
    ("what did Healthcare T News say",
     "Healthcare IT News (read 'Healthcare T News' as Healthcare IT News)"),
    # a second topic is looked for as words, not dropped
    ("Medical Imaging news about mcahine learning",
     "Medical Imaging · 'machine learning' (read 'mcahine learning' as Machine Learning)"),
])
def test_names_in_a_sentence_are_read_as_a_person_means_them(question: str, line: str) -> None:
    assert understand(question, WIDER, NOW).describe() == line


def test_time_is_read_relative_to_the_clock_passed_in() -> None:
    later = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
    understood = understand("in May", VOCABULARY, later)
    assert understood.window is not None
    assert understood.window.start == datetime(2022, 5, 1, tzinfo=UTC)
    assert understood.window.end == datetime(2022, 6, 1, tzinfo=UTC)


def test_typed_text_is_echoed_without_invisible_or_control_characters() -> None:
    understood = understand("azure\u200b \x1b[31mred", VOCABULARY, NOW)
    assert "\x1b" not in understood.describe() and "\u200b" not in understood.describe()


async def test_the_seeds_corpus_names_are_the_vocabulary(news: News) -> None:
    vocabulary = Vocabulary.of(news.index.topics, news.index.providers)
    understood: Understood = understand(
        "what did Microsoft do in AI hardware last week?", vocabulary, NOW)
    assert understood.describe() == "AI Hardware · Microsoft · since 2022-05-23"
    assert understood.topic is not None and understood.topic.name == "AI Hardware"


def test_a_time_after_an_ignored_one_is_cut_out_whole() -> None:
    understood = understand("in feb 30 robots in march 2022 please", VOCABULARY, NOW,
                            known=lambda word: word in KNOWN)
    assert understood.window is not None
    assert understood.window.start == datetime(2022, 3, 1, tzinfo=UTC)
    assert understood.keywords == ()  # nothing of "in march 2022" is left over as a word
