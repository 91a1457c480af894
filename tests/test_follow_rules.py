"""Follow rules: how keywords are typed and understood, and which articles a rule matches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.follows.rules import (
    MAX_TERMS,
    TITLE_END,
    Candidate,
    FollowRule,
    FollowRuleError,
    Terms,
    parse_terms,
    words_in_a_row,
    words_of,
)
from tests.follow_reference import matches


def article(title: str, excerpt: str = "", topics: tuple[str, ...] = (),
            provider: str | None = "example.com") -> Candidate:
    return Candidate(1, title, excerpt, frozenset(topics), provider)


@pytest.mark.parametrize(("text", "words"), [
    ("Meta's LLaMA 3", ["meta", "s", "llama", "3"]),
    ("GPT-4o beats GPT-4", ["gpt", "4o", "beats", "gpt", "4"]),
    ("C++ and C# and F#", ["c++", "and", "c#", "and", "f#"]),
    ("c++17, x+y", ["c", "17", "x", "y"]),
    ("llama3.1 and C3.ai", ["llama3", "1", "and", "c3", "ai"]),
    ("OpenAI\u2019s \u201cmodel\u201d", ["openai", "s", "model"]),
    ("AI\\ML pipelines", ["ai", "ml", "pipelines"]),
    ("🚀 launch!!!", ["launch"]),
    ("हिन्दी समाचार", ["हिन्दी", "समाचार"]),  # vowel signs are part of the word
    ("cafe\u0301 Café", ["café", "café"]),  # decomposed and composed alike
    ("\uff27\uff30\uff34 Straße MÜLLER", ["gpt", "strasse", "müller"]),
    ("中国人工智能", ["中", "国", "人", "工", "智", "能"]),  # no spaces: a word a character
    ("", []),
])
def test_words_of(text: str, words: list[str]) -> None:
    assert words_of(text) == words


@pytest.mark.parametrize(("text", "words", "phrases"), [
    ("", (), ()),
    ("   ,  ", (), ()),
    ("llama, mistral", ("llama", "mistral"), ()),
    ("llama mistral", ("llama", "mistral"), ()),
    ("Llama, LLAMA,llama", ("llama",), ()),
    ('llama, "open weights"', ("llama",), (("open", "weights"),)),
    ("“open weights”, „price cut“", (), (("open", "weights"), ("price", "cut"))),
    ('"llama"', ("llama",), ()),
    ('"  Open   Weights "', (), (("open", "weights"),)),
    ('"", llama', ("llama",), ()),
    ("gpt-4o", (), (("gpt", "4o"),)),
    ("C++, c#", ("c++", "c#"), ()),
    ('"ai, ml"', (), (("ai", "ml"),)),
])
def test_parse_terms(text: str, words: tuple[str, ...],
                     phrases: tuple[tuple[str, ...], ...]) -> None:
    terms = parse_terms(text)
    assert terms == Terms(words, phrases)
    assert bool(terms) == bool(words or phrases)
    assert parse_terms(terms.text()) == terms  # what is shown can be typed back


def test_terms_text_is_what_a_person_types() -> None:
    assert parse_terms('llama, "Open Weights", gpt-4o').text() == (
        'llama, "open weights", "gpt 4o"')
    assert Terms().text() == ""


@pytest.mark.parametrize(("text", "message"), [
    ('llama, "open weights', '"open weights has no closing quote: end a phrase with a second "'),
    ('"a" "b', '"b has no closing quote'),
    (", ".join(f"w{n}" for n in range(MAX_TERMS + 1)),
     "21 keywords or phrases given, at most 20: keep the ones that matter most"),
    ("x" * 51, f"'{'x' * 39}…' is 51 characters, at most 50: type a shorter word or phrase"),
    ('"' + "open " * 11 + '"', "is 54 characters, at most 50"),
    ("llama, 🚀", "'🚀' has no letters or digits to match: type words, like llama"),
    ('"!!!"', "'!!!' has no letters or digits to match"),
])
def test_parse_terms_refuses(text: str, message: str) -> None:
    with pytest.raises(FollowRuleError) as caught:
        parse_terms(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_limits_count_distinct_terms_and_allow_the_maximum() -> None:
    at_limit = ", ".join(f"w{n}" for n in range(MAX_TERMS))
    assert len(parse_terms(at_limit + ", W0, w1")) == MAX_TERMS
    assert parse_terms("x" * 50).words == ("x" * 50,)


LLAMA = {"keywords": "llama"}
ANY = {"keywords": 'llama, mistral, "open weights"'}
CASES = [
    # words: whole words, any case, inside punctuation; no stemming
    (LLAMA, article("Meta releases Llama 3"), True),
    (LLAMA, article("LLaMA weights leak"), True),
    (LLAMA, article("Llama-2 is out"), True),
    (LLAMA, article("Meta's llama."), True),
    (LLAMA, article("Farm buys more llamas"), False),
    (LLAMA, article("Ollama adds a feature"), False),
    (LLAMA, article("Meta model", "The new Llama is faster."), True),  # the excerpt counts
    (ANY, article("Mistral 7B tops a chart"), True),
    (ANY, article("Gemini gets a new mode"), False),
    # phrases: consecutive words, punctuation between them ignored, not across title/excerpt
    (ANY, article("Lab publishes open weights"), True),
    (ANY, article("Open-Weights models rise"), True),
    (ANY, article("Weights open to all"), False),
    (ANY, article("Open source weights"), False),
    (ANY, article("Why everything is open", "Weights matter"), False),
    ({"keywords": "gpt-4o"}, article("GPT 4o arrives"), True),
    ({"keywords": "gpt-4o"}, article("GPT-4o arrives"), True),
    ({"keywords": "gpt-4o"}, article("GPT-4 arrives"), False),
    ({"keywords": "gpt"}, article("GPT-4o arrives"), True),
    ({"keywords": "c++"}, article("A C++ compiler"), True),
    ({"keywords": "c++"}, article("A C compiler"), False),
    ({"keywords": "c"}, article("A C++ compiler"), False),
    ({"keywords": "llama3.1"}, article("Llama3.1 is here"), True),
    ({"keywords": "NVIDIA"}, article("nvidia's results"), True),
    # exclude: a word or a phrase anywhere drops the match
    ({"keywords": "llama", "exclude": "rumor"}, article("Llama 4 rumor"), False),
    ({"keywords": "llama", "exclude": "rumor"}, article("Llama 4", "A RUMOR says"), False),
    ({"keywords": "llama", "exclude": "rumor"}, article("Llama 4 rumors"), True),
    ({"keywords": "llama", "exclude": '"price cut"'}, article("Llama price cut"), False),
    ({"keywords": "llama", "exclude": '"price cut"'}, article("Llama price and cut"), True),
    ({"topic_key": "ai", "exclude": "sponsored, webinar"},
     article("Join our webinar", topics=("ai",)), False),
    ({"topic_key": "ai", "exclude": "sponsored, webinar"},
     article("New chip", topics=("ai",)), True),
    # topic AND keywords AND provider: every given criterion
    ({"topic_key": "ai hardware"}, article("x", topics=("ai", "ai hardware")), True),
    ({"topic_key": "ai hardware"}, article("x", topics=("ai",)), False),
    ({"topic_key": "ai hardware", "keywords": "amd"}, article("AMD MI200", topics=("ai",)),
     False),
    ({"topic_key": "ai hardware", "keywords": "amd"},
     article("Nvidia H100", topics=("ai hardware",)), False),
    ({"topic_key": "ai hardware", "keywords": "amd"},
     article("AMD MI200", topics=("ai hardware",)), True),
    ({"provider_domain": "theregister.com"}, article("x", provider="theregister.com"), True),
    ({"provider_domain": "theregister.com"}, article("x", provider="crn.com"), False),
    ({"provider_domain": "theregister.com"}, article("x", provider=None), False),
    ({"provider_domain": "crn.com", "topic_key": "ai", "keywords": "amd"},
     article("AMD", topics=("ai",), provider="crn.com"), True),
    ({"provider_domain": "crn.com", "topic_key": "ai", "keywords": "amd"},
     article("AMD", topics=("ai",), provider="nasdaq.com"), False),
    # unicode
    ({"keywords": "müller"}, article("MÜLLER joins lab"), True),
    ({"keywords": "muller"}, article("Müller joins lab"), False),  # accents are letters
    ({"keywords": "straße"}, article("STRASSE"), True),
    ({"keywords": "café"}, article("cafe\u0301 robots"), True),
    ({"keywords": "人工智能"}, article("中国人工智能发展"), True),
    ({"keywords": "人工智能"}, article("人工 智能"), True),
    ({"keywords": "人工智能"}, article("人工的智能"), False),
    ({"keywords": "हिन्दी"}, article("हिन्दी समाचार"), True),
    ({"keywords": "हिन्दी"}, article("हिन्द"), False),
    ({"keywords": "\uff27\uff30\uff34"}, article("GPT wins"), True),
    # empty text
    (LLAMA, article("", ""), False),
    ({"topic_key": "ai"}, article("", "", topics=("ai",)), True),
]


@pytest.mark.parametrize(("criteria", "candidate", "expected"), CASES)
def test_rule_matches(criteria: dict[str, str], candidate: Candidate, expected: bool) -> None:
    assert matches(FollowRule.checked(**criteria), candidate) is expected


@pytest.mark.parametrize(("criteria", "message"), [
    ({}, "a follow needs a topic, a provider or keywords: add topic:, provider: or keywords:"),
    ({"exclude": "rumor"}, "a follow needs a topic, a provider or keywords"),
    ({"topic_key": "", "keywords": "  "}, "a follow needs a topic, a provider or keywords"),
    ({"keywords": "llama", "exclude": "LLAMA"},
     "keyword llama is excluded by llama: an article with it would never be posted"),
    ({"keywords": 'amd, "llama 3"', "exclude": "llama"}, 'keyword "llama 3" is excluded by llama'),
    ({"keywords": '"open weights model"', "exclude": '"weights model"'},
     'keyword "open weights model" is excluded by "weights model"'),
    ({"keywords": 'llama, "open', "topic_key": "ai"}, "no closing quote"),
    ({"topic_key": "ai", "exclude": "x" * 60}, "at most 50"),
])
def test_checked_refuses(criteria: dict[str, str], message: str) -> None:
    with pytest.raises(FollowRuleError) as caught:
        FollowRule.checked(**criteria)
    assert message in str(caught.value)


def test_checked_keeps_an_exclusion_that_only_narrows() -> None:
    rule = FollowRule.checked(keywords='"open weights"', exclude="weight, open-source")
    assert rule.exclude == Terms(("weight",), (("open", "source"),))


@pytest.mark.parametrize("criteria", [
    {"topic_key": "ai hardware"},
    {"provider_domain": "huggingface.co", "keywords": 'llama, "open weights", c++'},
    {"topic_key": "nlp", "keywords": "Straße, 人工智能", "exclude": '"price cut", rumor'},
    {"keywords": "x" * 50 + ", ß" * 1},
])
def test_json_round_trip(criteria: dict[str, str]) -> None:
    rule = FollowRule.checked(**criteria)
    assert FollowRule.from_json(rule.to_json()) == rule


def test_from_json_reads_a_term_that_normalizing_made_longer() -> None:
    rule = FollowRule.checked(keywords="ß" * 50)  # casefolded: 100 characters
    assert FollowRule.from_json(rule.to_json()).keywords.words == ("ss" * 50,)


@pytest.mark.parametrize("text", [
    "", "not json", "[]", '"llama"', "null", '{"topic": "ai"}',
    '{"topic": 1, "provider": null, "keywords": "", "exclude": ""}',
    '{"topic": null, "provider": null, "keywords": ["llama"], "exclude": ""}',
    '{"topic": null, "provider": null, "keywords": "\\"open", "exclude": ""}',
])
def test_from_json_refuses_what_it_did_not_write(text: str) -> None:
    with pytest.raises(FollowRuleError) as caught:
        FollowRule.from_json(text)
    assert "remove the follow and add it again" in str(caught.value)


@pytest.mark.parametrize(("criteria", "names", "line"), [
    ({"topic_key": "ai hardware", "provider_domain": "huggingface.co",
      "keywords": 'llama, "open weights"', "exclude": "rumor"},
     ("AI Hardware", "Hugging Face"),
     'topic AI Hardware · provider Hugging Face · any of llama, "open weights" · not rumor'),
    ({"topic_key": "ai hardware"}, (None, None), "topic ai hardware"),
    ({"provider_domain": "crn.com"}, (None, "CRN"), "provider CRN"),
    ({"keywords": '"open weights"', "exclude": "rumor, leak"}, (None, None),
     'keyword "open weights" · none of rumor, leak'),
    ({"topic_key": "ai"}, ("AI\u202e\nHardware", None), "topic AI Hardware"),
])
def test_describe(criteria: dict[str, str], names: tuple[str | None, str | None],
                  line: str) -> None:
    assert FollowRule.checked(**criteria).describe(*names) == line


@given(st.text(alphabet=st.sampled_from(
    "aZ09_ +#-.,'\"!?\n\t\u2019\u201c\u201d\u2013\u2026\u00a0Lx"), max_size=40))
def test_plain_text_splits_as_any_text_does(text: str) -> None:
    # A word of another script sends the text down the general path: the same words result.
    assert words_of(f"{text} é") == [*words_of(text), "é"]


def _each_in_turn(titles: list[str], excerpts: list[str]) -> list[str]:
    return [word for title, excerpt in zip(titles, excerpts, strict=True)
            for word in (*words_of(title), TITLE_END, *words_of(excerpt), TITLE_END)]


LATIN_1 = [chr(code) for code in range(0x80, 0x100)]


def test_a_batch_of_texts_has_the_words_of_each_in_turn() -> None:
    # Each Latin-1 character inside a word and alone ("ß" is "ss", "ª" is "a", "µ" Greek),
    # among plain texts, texts only the general path reads, and the characters the batch
    # itself uses to mark a text's end.
    titles = ["Plain news", *(f"Caf{char}s {char}X" for char in LATIN_1), "C++ and C#",
              "人工智能 हिन्दी", "a\x01b|c", "", "Straße"]
    excerpts = ["More, later.", *(f"{char}{char.upper()}z" for char in LATIN_1), "F#",
                "Ÿ İ 😀", "d|\x01e", "", "\u2019quoted\u201d"]
    assert words_in_a_row(titles, excerpts) == _each_in_turn(titles, excerpts)
    assert words_in_a_row(titles[:1], excerpts[:1]) == [
        "plain", "news", TITLE_END, "more", "later", TITLE_END]
    assert words_in_a_row([], []) == []


@given(st.lists(st.tuples(*[st.text(alphabet=st.sampled_from(
    "aZ09_ +#-.,\n\x01|ßªµ²éÜÿŸİ人\u0301😀\u2019\u201c\u00a0x"), max_size=20)] * 2),
    max_size=6))
def test_a_batch_of_any_texts_has_the_words_of_each_in_turn(texts: list[tuple[str, str]]
                                                             ) -> None:
    titles, excerpts = [title for title, _ in texts], [excerpt for _, excerpt in texts]
    assert words_in_a_row(titles, excerpts) == _each_in_turn(titles, excerpts)
