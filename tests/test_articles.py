"""The Article model: canonical URLs (one article, one identity) and merging its versions."""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.articles import (
    Article,
    Image,
    Provider,
    article_from_json,
    article_record,
    article_to_json,
    canonical_url,
    general_is_http_url,
    is_http_url,
    parsed_canonical_url,
    record_to_json,
)
from bot.merge import Fullest, candidate, fullness, merge_json, merge_versions

AMD = "https://theregister.com/2022/05/26/amd_azure_microsoft"


@pytest.mark.parametrize(
    "variant",
    [
        "https://www.theregister.com/2022/05/26/amd_azure_microsoft/",
        "https://www.theregister.com/2022/05/26/amd_azure_microsoft/?td=amp-keepreading-btm",
        "HTTPS://WWW.TheRegister.COM/2022/05/26/amd_azure_microsoft",
        "http://theregister.com/2022/05/26/amd_azure_microsoft",
        "https://theregister.com:443/2022/05/26/amd_azure_microsoft",
        "https://theregister.com/2022/05/26/amd_azure_microsoft#comments",
        "https://theregister.com/2022/05/26/amd_azure_microsoft/?utm_source=rss&utm_medium=feed",
        "https://theregister.com/2022/05/26/amd_azure_microsoft?ocid=msn&UTM_Campaign=x&td=rt",
        "  https://theregister.com/2022/05/26/amd_azure_microsoft/  ",
    ],
)
def test_tracking_and_spelling_do_not_make_a_new_article(variant: str) -> None:
    assert canonical_url(variant) == AMD


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://example.com/news/1", "https://example.com/news/2"),
        ("https://example.com/article?id=1", "https://example.com/article?id=2"),
        ("https://example.com/news", "https://example.org/news"),
        ("https://example.com/News/Story", "https://example.com/news/story"),
        ("https://example.com:8080/news", "https://example.com/news"),
        ("https://blog.example.com/news", "https://example.com/news"),
    ],
)
def test_different_pages_stay_different_articles(first: str, second: str) -> None:
    assert canonical_url(first) != canonical_url(second)


def test_meaningful_query_parameters_are_kept_in_any_order() -> None:
    one = canonical_url("https://example.com/view?b=2&a=1&utm_source=x")
    other = canonical_url("https://example.com/view?a=1&b=2")
    assert one == other
    assert "a=1" in one and "b=2" in one and "utm" not in one


@pytest.mark.parametrize(
    "url", ["https://example.com/a", "http://example.com", "HTTPS://EXAMPLE.COM/x?y=1#z"]
)
def test_http_urls_are_accepted(url: str) -> None:
    assert is_http_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "/assets/x.png",
        "assets/x.png",
        "ftp://example.com/file",
        "data:text/html,<b>hi</b>",
        "https://",
        "https:///path-only",
        "https://exa mple.com/",
        "https://example.com/\nX-Injected: 1",
        "https://example.com:99999/",
        "",
        None,
        42,
        "https://example.com/" + "a" * 3000,
    ],
)
def test_only_absolute_http_urls_can_reach_discord(url: object) -> None:
    assert not is_http_url(url)


_host = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(com|org|eu)", fullmatch=True)
_segment = st.from_regex(r"[A-Za-z0-9_.~-]{1,12}", fullmatch=True)
_param = st.tuples(
    st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.from_regex(r"[a-z0-9]{0,6}", fullmatch=True)
)


@given(
    host=_host,
    path=st.lists(_segment, max_size=4),
    params=st.lists(_param, max_size=3, unique_by=lambda pair: pair[0]),
    www=st.booleans(),
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    slash=st.booleans(),
    tracking=st.lists(st.sampled_from(["utm_source", "utm_medium", "td", "ocid"]), max_size=3),
    fragment=st.from_regex(r"[a-z0-9]{0,6}", fullmatch=True),
)
def test_canonical_url_ignores_presentation_and_is_stable(
    host: str, path: list[str], params: list[tuple[str, str]], www: bool, scheme: str,
    slash: bool, tracking: list[str], fragment: str,
) -> None:
    params = [(key, value) for key, value in params if key not in ("td", "ocid", "ref")
              and not key.startswith("utm")]
    base = f"https://{host}/{'/'.join(path)}"
    plain = base + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")
    query = [f"{k}={v}" for k, v in params] + [f"{name}=x" for name in tracking]
    dressed = (
        f"{scheme}://{'www.' if www else ''}{host.upper()}/{'/'.join(path)}{'/' if slash else ''}"
        + ("?" + "&".join(reversed(query)) if query else "")
        + (f"#{fragment}" if fragment else "")
    )
    assert canonical_url(dressed) == canonical_url(plain)
    assert canonical_url(canonical_url(plain)) == canonical_url(plain)
    assert is_http_url(canonical_url(plain))


_url_text = st.text(
    alphabet=st.sampled_from("aAzZ09.-_~/?#:@[]%&=+ \t\u00e9"), max_size=30
)


@given(scheme=st.sampled_from(["http", "https", "HTTP", "hTTps"]), rest=_url_text)
def test_the_fast_path_for_plain_urls_agrees_with_full_parsing(scheme: str, rest: str) -> None:
    url = f"{scheme}://{rest}"
    try:
        expected = parsed_canonical_url(url)
    except ValueError:  # not a URL urlsplit accepts: the fast path must not accept it either
        with pytest.raises(ValueError):
            canonical_url(url)
        return
    assert canonical_url(url) == expected


_odd_url_text = st.text(alphabet=st.sampled_from("aZ09.-_/?#:@[]% \t\x00\x7f\u00e9\u200b!~"),
                        max_size=6)


@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "hTTps", "ftp"]),
    host=st.text(alphabet="aZ09.-", max_size=6) | _odd_url_text,
    after=st.sampled_from(["", "/", "?", "#", ":8080", "@"]),
    rest=_odd_url_text,
)
def test_the_fast_url_check_agrees_with_the_general_one(
    scheme: str, host: str, after: str, rest: str
) -> None:
    url = f"{scheme}://{host}{after}{rest}"
    assert is_http_url(url) == general_is_http_url(url)


@given(
    rest=st.text(alphabet="aZ09.-_~/", max_size=10),
    query=st.lists(st.tuples(
        st.sampled_from(["a", "a-b", "A", "amp", "td", "REF", "utm_source", "Utm_x", "x=y", ""]),
        st.sampled_from(["", "1", "rss", "a.b~c", "=", "x=y"]),
    ), max_size=4),
)
@example(rest="", query=[("a-b", "1"), ("a", "2")])  # sorted as pairs, not as text
def test_the_fast_path_agrees_with_full_parsing_on_queries(
    rest: str, query: list[tuple[str, str]]
) -> None:
    url = f"https://www.Example.com/{rest}?" + "&".join(f"{k}={v}" if v else k for k, v in query)
    assert canonical_url(url) == parsed_canonical_url(url)


def _full(**changes: object) -> Article:
    article = Article(
        url=AMD,
        title="Microsoft Azure to spin up AMD MI200 GPU clusters",
        excerpt="Azure will be the first public cloud to deploy clusters of MI200 GPUs.",
        published_at=datetime(2022, 5, 26, 22, 46, tzinfo=UTC),
        original_url="https://www.theregister.com/2022/05/26/amd_azure_microsoft/",
        web_url="https://www.theregister.com/2022/05/26/amd_azure_microsoft/",
        amp_url="https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/",
        category="news",
        kind="article",
        quality=102,
        heat=142,
        published=True,
        provider=Provider("theregister", "theregister.com"),
        topics=("AI Hardware", "AI"),
        images=(Image("https://regmedia.co.uk/2020/11/16/amdmi100.jpg", 894, 534),),
    )
    return dataclasses.replace(article, **changes)


def _stub(**changes: object) -> Article:
    stub = Article(
        url=AMD,
        title="AMD GPUs come to Azure (stub headline)",
        excerpt="A shorter summary from a related list.",
        published_at=datetime(2022, 5, 26, 22, 46, tzinfo=UTC),
        web_url="https://www.theregister.com/2022/05/26/amd_azure_microsoft/?td=keepreading",
        amp_cache_url="https://www-theregister-com.cdn.ampproject.org/c/s/amd_azure_microsoft/",
        quality=99,
        provider=Provider("theregister", "theregister.com"),
        is_stub=True,
    )
    return dataclasses.replace(stub, **changes)


def test_a_full_article_wins_over_a_stub_of_itself_in_any_order() -> None:
    full, stub = _full(), _stub()
    for versions in ([full, stub], [stub, full]):
        merged = merge_versions(versions)
        assert not merged.is_stub
        assert merged.title == full.title
        assert merged.excerpt == full.excerpt
        assert merged.quality == 102


def test_a_stub_fills_what_the_full_article_left_empty_but_never_erases() -> None:
    full = _full(images=(), amp_cache_url=None, heat=None)
    stub = _stub(images=(Image("https://regmedia.co.uk/stub.jpg", 10, 10),), heat=None)
    merged = merge_versions([stub, full])
    assert merged.title == full.title  # the stub's headline does not replace the file's
    assert merged.topics == full.topics  # the stub has no topics: nothing is erased
    assert merged.amp_url == full.amp_url
    assert merged.amp_cache_url == stub.amp_cache_url  # filled from the stub
    assert merged.images == stub.images
    assert merged.heat is None


def test_the_newest_of_several_full_versions_wins_and_the_others_fill_its_gaps() -> None:
    fuller = _full()
    newer = _full(title="A newer, thinner copy", heat=None, topics=(), images=(),
                  published_at=datetime(2022, 5, 27, 8, 0, tzinfo=UTC))
    for versions in ([fuller, newer], [newer, fuller]):
        merged = merge_versions(versions)
        assert merged.title == newer.title
        assert merged.published_at == newer.published_at
        assert merged.heat == 142 and merged.topics == fuller.topics  # filled from the other
        assert merged.images == fuller.images


def _file_version(path: str, related: int, **changes: object) -> str:
    """The JSON that parsing stores for a file's own article."""
    record = article_record(_full(title=f"The copy in {path}", **changes))
    return record_to_json({**record, "related_count": related, "path": path})


def _winner(*versions: str) -> str:
    titles = {str(merge_json(order)[0]["title"]) for order in itertools.permutations(versions)}
    assert len(titles) == 1  # whatever the order
    return titles.pop().removeprefix("The copy in ")


def test_between_files_the_newest_wins_then_the_most_related_then_the_first_path() -> None:
    later = datetime(2022, 5, 27, tzinfo=UTC)
    newest = _file_version("z/newest.txt", 0, published_at=later, heat=None)
    most_related = _file_version("y/most_related.txt", 5)
    first_path = _file_version("a/first.txt", 2)
    second_path = _file_version("b/second.txt", 2)
    undated = _file_version("0/undated.txt", 9, published_at=None)
    assert _winner(newest, most_related, first_path, second_path, undated) == "z/newest.txt"
    assert _winner(most_related, first_path, second_path, undated) == "y/most_related.txt"
    assert _winner(first_path, second_path, undated) == "a/first.txt"
    merged, _text = merge_json([newest, most_related])
    assert merged["heat"] == 142  # the winner lacked it: the other file gave it


@given(st.lists(st.text(alphabet="ab/.é\U0001f600", min_size=1, max_size=6),
                min_size=2, max_size=4, unique=True))
def test_between_equal_files_the_path_that_sorts_first_wins(paths: list[str]) -> None:
    assert _winner(*(_file_version(path, 1) for path in paths)) == min(paths)


def test_merging_does_not_depend_on_order_even_for_ties() -> None:
    versions = [
        _full(title="Same fullness, title A"),
        _full(title="Same fullness, title B", excerpt="B" * 71),
        _stub(),
        _stub(title="Another stub", excerpt=""),
        _full(title="Less full", heat=None, images=(), topics=()),
    ]
    results = {merge_versions(order) for order in itertools.permutations(versions)}
    assert len(results) == 1


_BLANKABLE = {"excerpt": "", "published_at": None, "amp_url": None, "amp_cache_url": None,
              "category": None, "heat": None, "provider": None, "topics": (), "images": ()}


@given(st.lists(st.tuples(st.booleans(), st.sets(st.sampled_from(sorted(_BLANKABLE))),
                          st.sampled_from(["", " again", " (updated)"])),
                min_size=1, max_size=5))
def test_the_fullest_version_settles_exactly_the_articles_that_need_no_filling(
    drawn: list[tuple[bool, set[str], str]],
) -> None:
    versions = [
        dataclasses.replace(_stub() if is_stub else _full(), title=f"Title{suffix}",
                            **{name: _BLANKABLE[name] for name in blanked})
        for is_stub, blanked, suffix in drawn
    ]
    fullest: Fullest[Article] = Fullest()
    for version in versions:
        text = article_to_json(version)
        fullest.add(version.url, candidate(article_record(version), text, version))
    merged, _merged_text = merge_json(article_to_json(version) for version in versions)
    settled = fullest.merged(AMD)
    first = max(versions, key=lambda v: fullness(article_record(v), article_to_json(v)))
    assert (settled is None) == (article_record(first) != merged)
    if settled is not None:
        assert article_record(settled) == merged


def test_an_article_survives_the_round_trip_through_its_stored_form() -> None:
    article = _full()
    back = article_from_json(article_to_json(article), article_id=7)
    assert back == dataclasses.replace(article, article_id=7)
    assert back.published_at is not None and back.published_at.tzinfo is not None


@given(st.text(), st.lists(st.text(), max_size=3), st.text())
@example("Ünïcödé — \u2028 \x00\x1f\x7f\x85 \"quoted\" \\ 😀", ["AI"], "\t\n")
def test_the_stored_form_is_the_json_that_earlier_versions_wrote(
    title: str, topics: list[str], excerpt: str
) -> None:
    # Stored versions from before the switch to orjson compare equal to new ones: an upgrade
    # re-merges nothing.
    record = article_record(_full(title=title, topics=tuple(topics), excerpt=excerpt))
    assert record_to_json(record) == json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def test_the_link_prefers_the_publishers_original_page() -> None:
    assert _full().link == "https://www.theregister.com/2022/05/26/amd_azure_microsoft/"
    stub = _stub()
    assert stub.link == "https://www.theregister.com/2022/05/26/amd_azure_microsoft/"
    assert Article(url=AMD, title="bare").link == AMD


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("https://www.theregister.com/2022/05/26/amd_azure_microsoft/?td=keepreading",
         "https://www.theregister.com/2022/05/26/amd_azure_microsoft/"),
        ("https://Example.com/News/AI-Chips?utm_source=rss&id=42&UTM_Medium=feed&Page=2",
         "https://Example.com/News/AI-Chips?id=42&Page=2"),
        ("https://example.com/a?ocid=msn&fbclid=x&gclid=y&mc_cid=1&mc_eid=2&ref=hn&cmpid=c",
         "https://example.com/a"),
        ("https://example.com/a?q=deep+learning&utm%5Fsource=x#section-2",
         "https://example.com/a?q=deep+learning#section-2"),
        ("https://example.com/a?q=a%20b&lang=en", "https://example.com/a?q=a%20b&lang=en"),
        ("https://example.com/a#top?utm_source=x", "https://example.com/a#top?utm_source=x"),
    ],
)
def test_links_drop_tracking_parameters_and_keep_the_rest_as_written(
    written: str, shown: str
) -> None:
    article = Article(url=canonical_url(written), title="t", original_url=written,
                      amp_url=written, amp_cache_url=written)
    assert (article.link, article.amp_link, article.amp_cache_link) == (shown, shown, shown)
    assert Article(url=AMD, title="t", web_url=written).link == shown


def test_a_merge_of_a_clean_and_a_tracked_copy_links_without_tracking_in_any_order() -> None:
    clean = _full(title="The clean copy")
    tracked = _full(title="The tracked copy",
                    original_url=f"{clean.original_url}?utm_source=rss&utm_campaign=feed",
                    amp_url=f"{clean.amp_url}?td=amp")
    for versions in ([clean, tracked], [tracked, clean]):
        merged = merge_versions(versions)
        assert merged.link == clean.original_url
        assert merged.amp_link == clean.amp_url
