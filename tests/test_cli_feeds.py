"""`python -m bot feeds …` and `fetch`, run as the operator runs them, against a local server."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from conftest import AMD_TITLE
from feed_server import FeedServer
from test_cli import assert_clean_failure, run_cli

AMD_LINK = "https://www.theregister.com/2022/05/26/amd_azure_microsoft/?utm_source=rss"
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Local AI News</title>
<link>https://local.example.org/</link>
<item><title>Quokka model beats benchmarks</title><link>https://local.example.org/quokka</link>
<pubDate>Tue, 31 May 2022 09:00:00 GMT</pubDate><description>A small model.</description></item>
<item><title>AMD in Azure, says the feed</title><link>{amd}</link>
<pubDate>Fri, 27 May 2022 09:00:00 GMT</pubDate><description>Feed text.</description></item>
</channel></rss>""".replace("{amd}", AMD_LINK)
NO_FILE = {"NEWS_FEEDS_FILE": "", "NEWS_FEED_RETENTION_DAYS": "0"}
LOCAL = {**NO_FILE, "NEWS_FEEDS_ALLOW_PRIVATE": "1"}


def feeds(tmp_path: Path, *args: str | Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    command = args[0]
    rest = args[1:]
    db = ["--db", tmp_path / "data" / "news.db"]
    if command == "feeds":
        return run_cli("feeds", rest[0], *db, *rest[1:], cwd=tmp_path, extra_env=env or NO_FILE)
    return run_cli(command, *db, *rest, cwd=tmp_path, extra_env=env or NO_FILE)


def test_adding_a_url_that_is_not_http_adds_nothing_and_says_why(tmp_path: Path) -> None:
    result = feeds(tmp_path, "feeds", "add", "https://example.org/ok.xml", "ftp://example.org/f")
    assert_clean_failure(result, 2)
    assert result.stderr == ("error: not an http(s) URL: 'ftp://example.org/f'; give each "
                             "feed's full address, like https://example.com/feed.xml (no feed "
                             "was added)\n")
    assert feeds(tmp_path, "feeds", "list").stdout.startswith("No feeds.")


def test_feeds_are_added_once_listed_exported_and_imported(tmp_path: Path) -> None:
    result = feeds(tmp_path, "feeds", "add", "https://example.org/a.xml",
                   "http://www.example.org/a.xml/", "https://example.net/b.xml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "added https://example.org/a.xml", "already listed: https://example.org/a.xml",
        "added https://example.net/b.xml"]
    listed = feeds(tmp_path, "feeds", "list").stdout.splitlines()
    assert listed == [
        "https://example.org/a.xml · (no title yet) · not polled yet · 0 articles · last poll "
        "never · next now",
        "https://example.net/b.xml · (no title yet) · not polled yet · 0 articles · last poll "
        "never · next now"]
    opml = tmp_path / "list.opml"
    opml.write_text(feeds(tmp_path, "feeds", "export").stdout, encoding="utf-8")
    assert "xmlUrl=\"https://example.net/b.xml\"" in opml.read_text(encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    result = feeds(other, "feeds", "import", opml)
    assert result.stdout == f"Imported {opml}: 2 feeds added, 0 already listed\n"
    assert feeds(other, "feeds", "list").stdout.splitlines() == listed


def test_importing_a_file_that_is_not_opml_adds_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.opml"
    bad.write_text("<html><body/></html>", encoding="utf-8")
    result = feeds(tmp_path, "feeds", "import", bad)
    assert_clean_failure(result, 1)
    assert result.stderr == (f"error: {bad}: not OPML: the document is <html>, not <opml>; "
                             "no feed was added\n")
    missing = feeds(tmp_path, "feeds", "import", tmp_path / "none.opml")
    assert_clean_failure(missing, 1)
    assert "cannot read" in missing.stderr and "none.opml" in missing.stderr


def test_removing_an_unknown_feed_says_so(tmp_path: Path) -> None:
    result = feeds(tmp_path, "feeds", "remove", "https://example.org/nope.xml")
    assert_clean_failure(result, 1)
    assert result.stderr == ("error: no feed has the URL 'https://example.org/nope.xml'; see "
                             "the list with: python -m bot feeds list\n")


async def test_fetch_stores_the_feed_then_asks_only_again_what_changed(
    tmp_path: Path, seeds_dir: Path
) -> None:
    db = tmp_path / "data" / "news.db"
    async with FeedServer() as server:
        server.add("/ai.xml", RSS, etag='"v1"')
        server.add("/broken.xml", "oops", status=500)
        url, broken = server.url("/ai.xml"), server.url("/broken.xml")

        def run(*args: str | Path, env: dict[str, str] = LOCAL
                ) -> subprocess.CompletedProcess[str]:
            return feeds(tmp_path, *args, env=env)

        loaded = await asyncio.to_thread(run_cli, "load", "--seeds", seeds_dir, "--db", db,
                                         cwd=tmp_path, extra_env=NO_FILE)
        assert loaded.returncode == 0, loaded.stderr
        await asyncio.to_thread(run, "feeds", "add", url, broken)
        first = await asyncio.to_thread(run, "fetch")
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert lines[0].startswith(f"  {url}: 2 new, 0 updated, 0 unchanged (")
        assert lines[1].startswith(f"  {broken}: FAILED: HTTP 500")
        assert lines[2].startswith("Fetch: 2 of 2 feeds polled: 2 new articles, 0 updated, "
                                   "0 not modified, 1 failed; ")
        # The feed's article is found; the one of a seed file keeps the file's title.
        search = await asyncio.to_thread(run_cli, "ask", "search", "quokka", "--seeds",
                                         seeds_dir, "--db", db, cwd=tmp_path, extra_env=NO_FILE)
        assert "Quokka model beats benchmarks" in search.stdout
        assert "https://local.example.org/quokka" in search.stdout
        amd = await asyncio.to_thread(run_cli, "ask", "search", "AMD", "--seeds", seeds_dir,
                                      "--db", db, cwd=tmp_path, extra_env=NO_FILE)
        assert AMD_TITLE in amd.stdout and "says the feed" not in amd.stdout
        listed = (await asyncio.to_thread(run, "feeds", "list")).stdout.splitlines()
        assert listed[0].startswith(f"{url} · Local AI News · ok · 2 articles · last poll ")
        assert f"{broken} · (no title yet) · failing since " in listed[1]
        assert "(1 failure): HTTP 500" in listed[1]
        # Nothing is due a minute later; --all asks again, and the ETag gets a 304.
        again = await asyncio.to_thread(run, "fetch")
        assert again.stdout == "No feed is due (2 feeds listed); python -m bot fetch --all " \
            "polls every feed now\n"
        forced = await asyncio.to_thread(run, "fetch", "--all")
        assert f"  {url}: not modified (" in forced.stdout
        assert server.hits("/ai.xml") == 2
        # Without NEWS_FEEDS_ALLOW_PRIVATE, a feed on this machine is refused, and says why.
        refused = await asyncio.to_thread(run, "fetch", "--all", env=NO_FILE)
        assert refused.returncode == 1
        assert "NEWS_FEEDS_ALLOW_PRIVATE" in refused.stdout
        assert "error: every feed failed" in refused.stderr
        assert server.hits("/ai.xml") == 2
        removed = await asyncio.to_thread(run, "feeds", "remove", url)
        assert removed.stdout.startswith(f"removed {url} and its 2 entries; ")
        gone = await asyncio.to_thread(run_cli, "ask", "search", "quokka", "--seeds",
                                       seeds_dir, "--db", db, cwd=tmp_path, extra_env=NO_FILE)
        assert "Quokka model" not in gone.stdout


@pytest.mark.parametrize("opml_missing", [True, False])
async def test_fetch_merges_the_feed_list_file_but_not_feeds_removed_by_hand(
    tmp_path: Path, opml_missing: bool
) -> None:
    async with FeedServer() as server:
        server.add("/ai.xml", RSS)
        url = server.url("/ai.xml")
        listing = tmp_path / "feeds.opml"
        if not opml_missing:
            listing.write_text(f'<opml version="2.0"><body><outline xmlUrl="{url}" '
                               'category="Local News"/></body></opml>', encoding="utf-8")
        env = {**LOCAL, "NEWS_FEEDS_FILE": str(listing)}
        if not opml_missing:  # a fresh install lists the bundled feeds before any fetch
            listed = await asyncio.to_thread(feeds, tmp_path, "feeds", "list", env=env)
            assert listed.stderr == f"Added 1 feed from {listing}\n"
            assert listed.stdout.startswith(url)
        first = await asyncio.to_thread(feeds, tmp_path, "fetch", env=env)
        if opml_missing:
            assert first.stderr.startswith(f"warning: feed list {listing} cannot be read")
            assert first.stdout.startswith("No feeds to poll.")
            return
        assert first.stdout.startswith(f"  {url}: 2 new")
        await asyncio.to_thread(feeds, tmp_path, "feeds", "remove", url, env=env)
        second = await asyncio.to_thread(feeds, tmp_path, "fetch", env=env)
        assert second.stdout.startswith("No feeds to poll.")
