"""Parsing article files: typed fields, clear errors for unusable files, odd fields coerced."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import (
    AMD_FILE,
    AMD_TITLE,
    AMD_URL,
    BROKEN,
    META_FILE,
    META_TITLE,
    META_URL,
    ODD,
    SEED_FILES,
    SEEDS,
    fixture_files,
    front_matter,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.articles import Article, Image, Provider, article_record, article_to_json, record_to_json
from bot.parse import DEFAULT_MAX_BYTES, Parsed, ParseError, parse_article
from bot.yamlsafe import BACKENDS

MAY_26_0928 = datetime(2022, 5, 26, 9, 28, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def parse_file(path: Path, backend: str, **options: Any) -> Parsed | ParseError:
    return parse_article(path.read_bytes(), path.name, backend=backend, **options)


def loaded(path: Path, backend: str) -> Parsed:
    result = parse_file(path, backend)
    assert isinstance(result, Parsed), result
    return result


def assert_utc(moment: datetime | None) -> None:
    assert moment is not None
    assert moment.utcoffset() == timedelta(0)


# ---- the real seeds ------------------------------------------------------------------------


def test_every_field_of_the_meta_seed_is_typed(backend: str) -> None:
    parsed = loaded(SEEDS / META_FILE, backend)
    article = parsed.article
    assert parsed.warnings == ()
    assert article.url == META_URL
    assert article.title == META_TITLE
    assert article.excerpt.startswith("Meta first began using Microsoft Azure Virtual Machines")
    assert article.published_at == MAY_26_0928
    assert_utc(article.published_at)
    assert article.original_url == (
        "https://www.datacenterdynamics.com/en/news/"
        "metafacebook-to-use-dedicated-microsoft-azure-cluster-for-ai-supercomputing/"
    )
    assert article.category == "news"
    assert article.kind == "article"
    assert article.quality == 68
    assert article.heat == -1
    assert article.published is False
    assert article.provider == Provider("Datacenter Dynamics", "datacenterdynamics.com")
    assert article.topics == ("Microsoft AI", "AI", "Facebook AI")
    assert article.images == (
        Image(
            "https://media.datacenterdynamics.com/media/images/"
            "Microsoft_Azure.2e16d0ba.fill-1200x630.jpg",
            1200,
            630,
        ),
    )
    assert not article.is_stub


def test_related_entries_become_stub_articles(backend: str) -> None:
    article = loaded(SEEDS / META_FILE, backend).article
    assert len(article.related) == 13
    assert all(isinstance(stub, Article) and stub.is_stub for stub in article.related)
    assert all(stub.related == () for stub in article.related)
    by_url = {stub.url: stub for stub in article.related}
    amd = by_url[AMD_URL]  # listed with `?td=amp-keepreading-btm`: same identity as seed 003
    assert amd.title == AMD_TITLE
    assert amd.web_url == (
        "https://www.theregister.com/2022/05/26/amd_azure_microsoft/?td=amp-keepreading-btm"
    )
    assert amd.amp_url == "https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/"
    assert amd.provider == Provider("theregister", "theregister.com")
    assert amd.quality == 102
    assert amd.published_at == datetime(2022, 5, 26, 22, 46, tzinfo=UTC)
    assert amd.images == (Image("https://regmedia.co.uk/2020/11/16/amdmi100.jpg", 894, 534),)
    nasdaq = by_url["https://nasdaq.com/articles/microsoft-msft-azure-selected-by-meta-to-boost-ai-innovation"]
    assert nasdaq.images == ()
    assert nasdaq.provider == Provider("Nasdaq", "nasdaq.com")


def test_the_amd_seed_has_its_original_and_amp_urls(backend: str) -> None:
    article = loaded(SEEDS / AMD_FILE, backend).article
    assert article.url == AMD_URL
    assert article.link.startswith("https://www.theregister.com/2022/05/26/amd_azure_microsoft/")
    assert article.amp_url == "https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/"
    assert article.amp_cache_url is not None
    assert article.amp_cache_url.startswith("https://www-theregister-com.cdn.ampproject.org/")
    assert article.heat == 142
    assert article.published is True
    assert article.topics == ("AI Hardware", "AI", "Microsoft AI")
    assert len(article.related) == 4


# ---- files that cannot be used -------------------------------------------------------------

BROKEN_REASONS = {
    "billion_laughs.txt": "alias",
    "blank_title.txt": "no title (the title is blank or only invisible characters)",
    "duplicate_keys.txt": "duplicate mapping key",
    "empty_front_matter.txt": "not a mapping",
    "invisible_title.txt": "no title (the title is blank or only invisible characters)",
    "no_front_matter.txt": "no front matter",
    "no_title.txt": "no title",
    "no_url.txt": "no usable URL",
    "non_http_url.txt": "no usable URL",
    "not_a_mapping.txt": "not a mapping",
    "not_utf8.txt": "not UTF-8",
    "scalar.txt": "not a mapping",
    "unclosed_front_matter.txt": "not closed",
    "yaml_error.txt": "YAML error",
    "yaml_error_position.txt": "YAML error at line 5, column 17",
}


def test_every_broken_fixture_has_an_expected_reason() -> None:
    assert sorted(BROKEN_REASONS) == [path.name for path in fixture_files(BROKEN)]


@pytest.mark.parametrize("name", sorted(BROKEN_REASONS))
def test_an_unusable_file_is_an_error_naming_the_file_and_the_reason(
    name: str, backend: str
) -> None:
    result = parse_article((BROKEN / name).read_bytes(), f"broken/{name}", backend=backend)
    assert isinstance(result, ParseError)
    assert result.path == f"broken/{name}"
    assert BROKEN_REASONS[name].casefold() in result.reason.casefold()
    assert str(result).startswith(f"broken/{name}: ")
    assert "\n" not in result.reason


def test_a_yaml_error_says_where_without_quoting_the_source(backend: str) -> None:
    result = parse_file(BROKEN / "yaml_error.txt", backend)
    assert isinstance(result, ParseError)
    assert "line " in result.reason
    assert "|" not in result.reason  # no leftover of a parser's source excerpt


POSITION_PROBLEM = "mapping values are not allowed in this context"


def test_a_yaml_error_names_the_line_and_column_an_editor_shows(backend: str) -> None:
    # Line 5 of the file (the 4th of its YAML), column 17: the second colon.
    result = parse_file(BROKEN / "yaml_error_position.txt", backend)
    assert isinstance(result, ParseError)
    assert result.reason == f"YAML error at line 5, column 17: {POSITION_PROBLEM}"


def test_blank_lines_a_bom_and_crlf_before_the_front_matter_still_give_the_file_line(
    backend: str,
) -> None:
    text = (BROKEN / "yaml_error_position.txt").read_text(encoding="utf-8")
    moved = "\ufeff\r\n\r\n" + text.replace("\n", "\r\n")
    result = parse_article(moved.encode(), "moved.txt", backend=backend)
    assert isinstance(result, ParseError)
    assert result.reason == f"YAML error at line 7, column 17: {POSITION_PROBLEM}"


def test_columns_count_characters_not_bytes(backend: str) -> None:
    text = "---\ntitle: \u00e9\u20ac\U0001f600: oops\nwebUrl: https://example.com/x\n---\n"
    result = parse_article(text, "wide.txt", backend=backend)
    assert isinstance(result, ParseError)
    assert result.reason == f"YAML error at line 2, column 11: {POSITION_PROBLEM}"


def test_the_size_limit_defaults_to_one_mebibyte(backend: str) -> None:
    head = (SEEDS / AMD_FILE).read_bytes()
    exactly = head + b"x" * (DEFAULT_MAX_BYTES - len(head))
    assert DEFAULT_MAX_BYTES == 1024 * 1024
    assert isinstance(parse_article(exactly, "big.txt", backend=backend), Parsed)
    result = parse_article(exactly + b"x", "big.txt", backend=backend)
    assert isinstance(result, ParseError)
    assert result.path == "big.txt"
    assert "over the 1048576-byte limit" in result.reason


def test_the_size_limit_is_configurable(backend: str) -> None:
    data = (SEEDS / META_FILE).read_bytes()
    assert isinstance(parse_article(data, "x", max_bytes=len(data), backend=backend), Parsed)
    result = parse_article(data, "x", max_bytes=len(data) - 1, backend=backend)
    assert isinstance(result, ParseError)
    assert f"file is {len(data)} bytes" in result.reason


def test_a_lone_surrogate_in_text_is_an_error_not_a_crash(backend: str) -> None:
    text = '---\ntitle: "bad \ud800 text"\nwebUrl: "https://example.com/x"\n---\n'
    assert isinstance(parse_article(text, "s.txt", backend=backend), ParseError)


def test_an_integer_too_long_to_print_is_an_error_not_a_crash(backend: str) -> None:
    text = f"---\ntitle: {'7' * 5000}\nwebUrl: https://example.com/x\n---\n"
    result = parse_article(text, "long.txt", backend=backend)
    assert isinstance(result, ParseError)
    assert result.path == "long.txt"


# ---- odd files that still load -------------------------------------------------------------


def _has_warning(parsed: Parsed, *words: str) -> bool:
    return any(all(word in warning for word in words) for warning in parsed.warnings)


def _date_space(parsed: Parsed) -> None:
    assert parsed.article.published_at == MAY_26_0928
    assert_utc(parsed.article.published_at)
    assert parsed.article.provider == Provider("Robot Weekly", "robots.example.com")


def _date_offset(parsed: Parsed) -> None:
    assert parsed.article.published_at == MAY_26_0928
    assert parsed.article.published_at.tzinfo == UTC  # type: ignore[union-attr]


def _date_quoted(parsed: Parsed) -> None:
    assert parsed.article.published_at == MAY_26_0928
    assert_utc(parsed.article.published_at)


def _date_invalid(parsed: Parsed) -> None:
    assert parsed.article.published_at is None
    assert parsed.article.quality == 40  # the rest of the file is still read
    assert _has_warning(parsed, "publishedDateTime", "2022-13-45")


def _date_words(parsed: Parsed) -> None:
    assert parsed.article.published_at is None
    assert _has_warning(parsed, "publishedDateTime", "last Thursday")


def _quality_string(parsed: Parsed) -> None:
    assert parsed.article.quality == 87
    assert parsed.article.heat == -1
    assert parsed.article.published is True


def _quality_huge(parsed: Parsed) -> None:
    assert parsed.article.quality is None
    assert parsed.article.heat == 12
    assert _has_warning(parsed, "quality")


def _topics_string(parsed: Parsed) -> None:
    assert parsed.article.topics == ("AI",)
    assert _has_warning(parsed, "topics")


def _topics_duplicates(parsed: Parsed) -> None:
    assert parsed.article.topics == ("Machine Learning", "AI", "Robotics")


def _image_javascript(parsed: Parsed) -> None:
    assert parsed.article.images == (Image("https://images.example.com/real.jpg", 640, 360),)
    assert _has_warning(parsed, "images", "javascript:")


def _image_relative(parsed: Parsed) -> None:
    assert parsed.article.images == ()
    assert _has_warning(parsed, "images", "/assets/x.png")


def _older_format(parsed: Parsed) -> None:
    article = parsed.article
    assert article.url == "https://theregister.com/2021/04/12/nvidia_grace_cpu"
    assert article.original_url is None
    assert article.web_url == "https://www.theregister.com/2021/04/12/nvidia_grace_cpu/"
    assert article.link == article.web_url
    assert article.amp_url == "https://www.theregister.com/AMP/2021/04/12/nvidia_grace_cpu/"
    assert (article.quality, article.heat, article.published) == (None, None, None)
    assert article.published_at == datetime(2021, 4, 12, 16, 0, tzinfo=UTC)
    assert article.provider == Provider("The Register", "theregister.com")
    assert article.images == (
        Image("https://regmedia.co.uk/2021/04/12/nvidia_grace.jpg", 1200, 600),
    )
    assert _has_warning(parsed, "/assets/images/logo.png")
    (stub,) = article.related
    assert stub.url == "https://nextplatform.com/2021/04/12/nvidia-grace"
    assert stub.is_stub and stub.images == ()
    assert _has_warning(parsed, "related #1", "/assets/thumbs/grace.png")


def _published_words(parsed: Parsed) -> None:
    assert parsed.article.published is True
    assert parsed.article.quality == 70


def _crlf_bom(parsed: Parsed) -> None:
    assert parsed.article.title == "Windows line endings and a byte order mark"
    assert parsed.article.topics == ("AI",)
    assert parsed.article.published_at == MAY_26_0928


def _body_after(parsed: Parsed) -> None:
    assert parsed.article.title == "A markdown file with a body"
    assert parsed.article.topics == ("AI",)


def _provider_string(parsed: Parsed) -> None:
    article = parsed.article
    assert article.url == "https://providers.example.com/news/name-only"
    assert article.provider == Provider("Provider Daily", "providers.example.com")


def _related_odd(parsed: Parsed) -> None:
    article = parsed.article
    assert [stub.url for stub in article.related] == ["https://other.example.com/good-stub"]
    assert article.related[0].title == "A good stub"
    assert _has_warning(parsed, "related #1")
    assert _has_warning(parsed, "related #2", "no usable URL")


def _title_number(parsed: Parsed) -> None:
    assert parsed.article.title == "2022"


def _yaml_end_marker(parsed: Parsed) -> None:
    assert parsed.article.title == "Front matter closed with YAML's end-of-document marker"


ODD_CHECKS: dict[str, Callable[[Parsed], None]] = {
    "body_after.md": _body_after,
    "crlf_bom.txt": _crlf_bom,
    "date_invalid.txt": _date_invalid,
    "date_offset.txt": _date_offset,
    "date_quoted.txt": _date_quoted,
    "date_space.txt": _date_space,
    "date_words.txt": _date_words,
    "image_javascript.txt": _image_javascript,
    "image_relative.txt": _image_relative,
    "older_format.txt": _older_format,
    "provider_string.txt": _provider_string,
    "published_words.txt": _published_words,
    "quality_huge.txt": _quality_huge,
    "quality_string.txt": _quality_string,
    "related_odd.txt": _related_odd,
    "title_number.txt": _title_number,
    "topics_duplicates.txt": _topics_duplicates,
    "topics_string.txt": _topics_string,
    "yaml_end_marker.yaml": _yaml_end_marker,
}


def test_every_odd_fixture_has_a_check() -> None:
    assert sorted(ODD_CHECKS) == [path.name for path in fixture_files(ODD)]


@pytest.mark.parametrize("name", sorted(ODD_CHECKS))
def test_an_odd_file_still_loads_with_the_odd_field_coerced_or_dropped(
    name: str, backend: str
) -> None:
    parsed = loaded(ODD / name, backend)
    assert parsed.article.title
    assert not parsed.article.is_stub
    ODD_CHECKS[name](parsed)


def test_unknown_and_secret_fields_are_not_kept() -> None:
    article = loaded(SEEDS / META_FILE, "pyyaml").article
    assert "secured" not in repr(article)
    assert "I6xYzinGE7O" not in repr(article)


# ---- both YAML back ends give the same articles ---------------------------------------------


def _kind(error: ParseError) -> str:
    """The reason without its details (the back ends may place a YAML error differently)."""
    return re.split(r" at line |:", error.reason)[0]


@pytest.mark.parametrize(
    "path",
    [*SEED_FILES, *fixture_files(ODD), *fixture_files(BROKEN)],
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_both_yaml_back_ends_give_the_same_result(path: Path) -> None:
    rust = parse_file(path, "yaml-rs")
    python = parse_file(path, "pyyaml")
    assert type(rust) is type(python)
    if isinstance(rust, Parsed):
        assert rust == python
    else:
        assert isinstance(python, ParseError)
        assert _kind(rust) == _kind(python)


def _assert_records_are_the_articles(parsed: Parsed, path: str) -> None:
    """A file parses to records, stored as they are: each must be, to the byte, what its
    Article would store; the file's own adds what decides between files for one article."""
    article = parsed.article
    ranking = {"related_count": len(parsed.related), "path": path}
    assert record_to_json(parsed.record) == record_to_json({**article_record(article), **ranking})
    assert [record_to_json(stub) for stub in parsed.related] == [
        article_to_json(stub) for stub in article.related
    ]


@pytest.mark.parametrize(
    "path",
    [*SEED_FILES, *fixture_files(ODD)],
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_a_parsed_record_is_exactly_what_its_article_stores(path: Path) -> None:
    parsed = parse_file(path, "auto")
    assert isinstance(parsed, Parsed)
    _assert_records_are_the_articles(parsed, path.name)


def test_auto_picks_a_back_end_that_gives_the_same_article() -> None:
    data = (SEEDS / AMD_FILE).read_bytes()
    assert parse_article(data, "a", backend="auto") == parse_article(data, "a", backend="pyyaml")


# ---- property tests ------------------------------------------------------------------------

_FUZZ = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
_YAMLISH = st.text(
    alphabet=st.sampled_from(list("-:[]{}&*!|>'\"#%@`,?\n\t .~0123456789abcdeftuwxyzTZ\\<=\r")),
    max_size=300,
)


@_FUZZ
@given(data=st.binary(max_size=2000), backend=st.sampled_from(BACKENDS))
def test_any_bytes_give_an_article_or_an_error(data: bytes, backend: str) -> None:
    result = parse_article(data, "fuzz.txt", backend=backend)
    assert isinstance(result, Parsed | ParseError)


@_FUZZ
@given(
    body=st.one_of(st.text(max_size=500), _YAMLISH),
    framed=st.booleans(),
    backend=st.sampled_from(BACKENDS),
)
def test_any_text_gives_an_article_or_an_error(body: str, framed: bool, backend: str) -> None:
    text = f"---\n{body}\n---\n" if framed else body
    result = parse_article(text, "fuzz.txt", backend=backend)
    assert isinstance(result, Parsed | ParseError)
    if isinstance(result, ParseError):
        assert result.path == "fuzz.txt" and result.reason


# Characters that show nothing, each of another kind: controls, spaces, line and paragraph
# separators, zero-width spaces and joiners, word joiner, BOM, soft hyphen, a bidi mark,
# a tag, a Hangul filler, the blank braille pattern, a variation selector.
INVISIBLE = ("\t\n\r\x0b\x1f\x85\xa0\u2003\u3000\u2028\u2029\u200b\u200c\u200d\u2060"
             "\ufeff\xad\u200e\U000e0041\u3164\u2800\ufe0f")


@given(
    title=st.text(alphabet=st.sampled_from(f"ab \u00e9{INVISIBLE}"), max_size=12),
    backend=st.sampled_from(BACKENDS),
)
def test_titles_are_single_spaced_and_start_and_end_with_what_shows(
    title: str, backend: str
) -> None:
    # Every character as a YAML escape: the title reaches the parser exactly as written here.
    quoted = "".join(f"\\U{ord(char):08x}" for char in title)
    text = f'---\ntitle: "{quoted}"\nwebUrl: https://example.com/a\n---\n'
    parsed = parse_article(text, backend=backend)
    visible = [char for char in title if char not in INVISIBLE and char != " "]
    if visible:
        assert isinstance(parsed, Parsed)
        shown = parsed.record["title"]
        assert shown[0] == visible[0] and shown[-1] == visible[-1]
        assert [char for char in shown if char not in INVISIBLE and char != " "] == visible
        assert "  " not in shown
    else:
        assert isinstance(parsed, ParseError)
        assert parsed.reason == "no title (the title is blank or only invisible characters)"


def test_a_title_of_invisible_characters_is_no_title_and_such_a_stub_is_dropped(
    backend: str,
) -> None:
    fields = {
        "title": "\u200bZero-width spaces around a real headline\ufeff\u3000",
        "webUrl": "https://example.com/real",
        "related": [
            {"title": "\u200b\u2060\u3164", "webUrl": "https://example.com/invisible-stub"},
            {"title": "A stub with a headline", "webUrl": "https://example.com/visible-stub"},
        ],
    }
    parsed = parse_article(front_matter(fields), "real.txt", backend=backend)
    assert isinstance(parsed, Parsed)
    assert parsed.article.title == "Zero-width spaces around a real headline"
    assert [stub.url for stub in parsed.article.related] == ["https://example.com/visible-stub"]
    assert "related #1: no title (the title is blank or only invisible characters); dropped" \
        in parsed.warnings


def test_an_emoji_joined_with_zero_width_joiners_stays_whole(backend: str) -> None:
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"
    text = f"---\ntitle: \"{family} AI for families\u200b\"\nwebUrl: https://e.com/x\n---\n"
    parsed = parse_article(text, backend=backend)
    assert isinstance(parsed, Parsed)
    assert parsed.article.title == f"{family} AI for families"


@_FUZZ
@given(
    text=st.text(
        alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Lu", "Zs"]), max_size=50
    ),
    backend=st.sampled_from(BACKENDS),
)
def test_surrogates_and_control_characters_never_raise(text: str, backend: str) -> None:
    result = parse_article(f"---\ntitle: {text}\nwebUrl: https://e.com/x\n---\n", backend=backend)
    assert isinstance(result, Parsed | ParseError)


_URLS = st.sampled_from([
    "https://example.com/a", "http://www.example.com/b/?utm_source=x", "javascript:alert(1)",
    "/assets/x.png", "ftp://example.com/c", "https://", "mailto:a@example.com",
    "https://example.com:99999/", "data:image/png;base64,AAAA", " https://example.com/d ",
])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    _URLS,
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.binary(max_size=10),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["url", "name", "domain", "title", "webUrl", "width"]),
                        children, max_size=4),
    ),
    max_leaves=12,
)
_FIELDS = [
    "category", "type", "title", "excerpt", "publishedDateTime", "originalUrl", "webUrl",
    "ampWebUrl", "cdnAmpWebUrl", "quality", "heat", "published", "provider", "topics",
    "images", "secured",
]


def _stub_dicts() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=8)


_FRONT_MATTER = st.builds(
    lambda fields, title, url, related: {**fields, **title, **url, **related},
    st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=len(_FIELDS)),
    st.one_of(st.just({}), st.builds(lambda t: {"title": t}, st.text(min_size=1, max_size=30))),
    st.one_of(st.just({}), st.builds(lambda u: {"webUrl": u}, _URLS)),
    st.one_of(
        st.just({}),
        st.builds(lambda related: {"related": related},
                  st.one_of(_VALUES, st.lists(_stub_dicts(), max_size=4))),
    ),
)


def _assert_http(url: str | None) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https"), url
    assert parts.hostname, url


def _assert_sane(article: Article) -> None:
    assert isinstance(article.title, str) and article.title.strip()
    assert article.title[0] not in INVISIBLE and article.title[-1] not in INVISIBLE
    for url in (article.url, article.original_url, article.web_url, article.amp_url,
                article.amp_cache_url, *(image.url for image in article.images)):
        _assert_http(url)
    assert article.published_at is None or article.published_at.utcoffset() == timedelta(0)
    assert article.quality is None or isinstance(article.quality, int)
    assert article.heat is None or isinstance(article.heat, int)
    assert article.published in (None, True, False)
    folded = [topic.casefold() for topic in article.topics]
    assert len(folded) == len(set(folded))
    assert all(isinstance(topic, str) and topic for topic in article.topics)


@_FUZZ
@given(fields=_FRONT_MATTER, backend=st.sampled_from(BACKENDS))
def test_random_field_values_never_raise_and_only_http_urls_come_out(
    fields: dict[str, Any], backend: str
) -> None:
    result = parse_article(front_matter(fields), "fuzz.txt", backend=backend)
    assert isinstance(result, Parsed | ParseError)
    if isinstance(result, Parsed):
        _assert_records_are_the_articles(result, "fuzz.txt")
        _assert_sane(result.article)
        assert result.article.url not in {stub.url for stub in result.article.related}
        for stub in result.article.related:
            assert stub.is_stub and stub.related == ()
            _assert_sane(stub)


@given(
    moment=st.datetimes(
        # hypothesis wants naive bounds; the time zone comes from `timezones`
        min_value=datetime(1971, 1, 1),  # noqa: DTZ001
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from(
            [None, UTC, *(timezone(timedelta(hours=hours)) for hours in (-8, 2, 5))]
        ),
    ),
    style=st.sampled_from(["yaml", "quoted", "space"]),
    backend=st.sampled_from(BACKENDS),
)
@settings(deadline=None)
def test_any_iso_date_form_means_the_same_utc_moment(
    moment: datetime, style: str, backend: str
) -> None:
    moment = moment.replace(microsecond=0)
    written = moment.isoformat(sep=" " if style == "space" else "T")
    value = f'"{written}"' if style == "quoted" else written
    text = f"---\ntitle: t\nwebUrl: https://e.com/x\npublishedDateTime: {value}\n---\n"
    result = parse_article(text, backend=backend)
    assert isinstance(result, Parsed)
    expected = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    assert result.article.published_at == expected
    assert result.article.published_at.utcoffset() == timedelta(0)  # type: ignore[union-attr]


def test_a_date_without_time_is_midnight_utc(backend: str) -> None:
    text = "---\ntitle: t\nwebUrl: https://e.com/x\npublishedDateTime: 2022-05-26\n---\n"
    result = parse_article(text, backend=backend)
    assert isinstance(result, Parsed)
    assert result.article.published_at == datetime.combine(date(2022, 5, 26), datetime.min.time(),
                                                           tzinfo=UTC)


def test_yaml_1_1_words_are_not_booleans_in_text_fields(backend: str) -> None:
    text = "---\ntitle: no\ncategory: on\nwebUrl: https://e.com/x\n---\n"
    result = parse_article(text, backend=backend)
    assert isinstance(result, Parsed)
    assert (result.article.title, result.article.category) == ("no", "on")
