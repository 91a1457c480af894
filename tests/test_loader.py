"""Directory sync: what gets loaded, what an incremental sync reports, and order-free merging."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import multiprocessing
import os
import shutil
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    AMD_FILE,
    AMD_TITLE,
    AMD_URL,
    BROKEN,
    META_FILE,
    META_URL,
    ODD,
    ODD_FILES,
    SEED_FILES,
    SEEDS,
    snapshot,
    write_article,
)

import bot.loader
from bot.loader import SyncReport, sync
from bot.results import Stats
from bot.store import Store

NASDAQ_URL = "https://nasdaq.com/articles/microsoft-msft-azure-selected-by-meta-to-boost-ai-innovation"
META_ONLY_STUB = "https://theregister.com/2022/05/25/meta_azure_ai"  # listed by 000_ only
STOCKHOUSE_URL = (
    "https://stockhouse.com/news/press-releases/2022/05/26/"
    "amd-instinct-tm-mi200-adopted-for-large-scale-ai-training-in-microsoft-azure"
)
NEW_URL = "https://example.org/news/tpu-v5"
NEW_STUB_URL = "https://example.org/news/tpu-review"


async def urls(store: Store) -> set[str]:
    entries = await store.titles()
    return {article.url for article in (await store.articles([e.id for e in entries])).values()}


def touch(path: Path, seconds: int = 10) -> None:
    """Move a file's mtime forward without changing its content."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


NASDAQ_STUB = {"title": "Microsoft (MSFT) Azure Selected by Meta", "webUrl": NASDAQ_URL}
NEW_STUB = {"title": "A TPU v5 review", "webUrl": NEW_STUB_URL}


def write_new(
    folder: Path, title: str = "Google shows TPU v5 for AI training",
    related: Sequence[dict[str, str]] = (NASDAQ_STUB, NEW_STUB),
) -> Path:
    return write_article(
        folder / "sub" / "new.txt",
        title=title,
        excerpt="A new tensor processing unit.",
        publishedDateTime="2022-05-28T10:00:00Z",
        originalUrl=NEW_URL,
        provider={"name": "Example News", "domain": "example.org"},
        topics=["AI Hardware", "Google AI"],
        related=list(related),
    )


def assert_report(
    report: SyncReport, *, added: Sequence[str] = (), updated: Sequence[str] = (),
    unchanged: int = 0, removed: Sequence[str] = (),
) -> None:
    assert report.added == list(added)
    assert report.updated == list(updated)
    assert report.unchanged == unchanged
    assert report.removed == list(removed)


# ---- what is loaded ------------------------------------------------------------------------


async def test_the_seeds_become_one_corpus_with_the_shared_article_once(
    store: Store, seeds_dir: Path
) -> None:
    report = await sync(store, seeds_dir)
    assert_report(report, added=[META_FILE, AMD_FILE])
    assert report.failed == [] and report.warnings == []
    # 2 full articles + 13 + 4 stubs, of which 4 are the same articles seen twice.
    assert report.articles == 15
    amd = await store.article_by_url(AMD_URL)
    meta = await store.article_by_url(META_URL)
    assert amd is not None and meta is not None
    assert not amd.is_stub and amd.title == AMD_TITLE and amd.heat == 142
    assert amd.topics == ("AI Hardware", "AI", "Microsoft AI")
    listed, _listing = await store.linked(meta.article_id or 0)
    assert amd.article_id in listed
    assert len(listed) == 13
    _listed, amd_listing = await store.linked(amd.article_id or 0)
    assert amd_listing == [meta.article_id]


async def test_the_scan_is_recursive_and_skips_hidden_files_and_other_suffixes(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "corpus"
    names = ["a.txt", "b.md", "c.yml", "d.yaml", "UPPER.TXT", "sub/deeper/f.txt"]
    for number, name in enumerate(names):
        write_article(folder / name, title=f"Article {number}", webUrl=f"https://e.com/{number}")
    for number, name in enumerate(
        ["notes.json", "readme", ".hidden.txt", ".git/objects.txt", "sub/.cache/g.md"]
    ):
        write_article(folder / name, title=f"Ignored {number}", webUrl=f"https://x.com/{number}")
    report = await sync(store, folder)
    assert sorted(report.added) == sorted(names)
    assert report.articles == len(names)
    assert not any("x.com" in url for url in await urls(store))


async def test_every_fixture_is_loaded_or_reported_with_its_path_and_reason(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "odd_files"
    shutil.copytree(ODD_FILES, folder)
    report = await sync(store, folder)
    failed = dict(report.failed)
    assert sorted(failed) == sorted(f"broken/{path.name}" for path in BROKEN.iterdir())
    assert "no title" in failed["broken/no_title.txt"]
    assert failed["broken/invisible_title.txt"] == (
        "no title (the title is blank or only invisible characters)")
    assert "duplicate" in failed["broken/duplicate_keys.txt"]
    assert sorted(report.added) == sorted(f"odd/{path.name}" for path in ODD.iterdir())
    assert any(w.startswith("odd/image_relative.txt: ") and "/assets/x.png" in w
               for w in report.warnings)
    huge = await store.article_by_url("https://huge.example.com/quality")
    assert huge is not None and huge.quality is None and huge.heat == 12
    stats = await store.stats()
    assert stats.failing_files == len(failed)
    assert await store.failing_files() == sorted(failed.items())


async def test_the_size_limit_applies_when_loading(store: Store, seeds_dir: Path) -> None:
    report = await sync(store, seeds_dir, max_bytes=8192)
    reasons = dict(report.failed)
    assert META_FILE in reasons and "over the 8192-byte limit" in reasons[META_FILE]
    assert AMD_FILE not in reasons  # 003_ is smaller than 8 KiB
    assert report.added == [AMD_FILE]


async def test_a_missing_seeds_folder_changes_nothing_and_says_why(
    store: Store, seeds_dir: Path
) -> None:
    await sync(store, seeds_dir)
    before = await snapshot(store)
    moved = seeds_dir.rename(seeds_dir.with_name("elsewhere"))
    report = await sync(store, seeds_dir)
    assert report.refused.startswith(f"seeds folder {seeds_dir} does not exist: nothing synced")
    assert "NEWS_SEEDS_DIR" in report.refused
    assert report.removed == [] and not report.changed
    assert report.articles == 15
    assert await snapshot(store) == before
    moved.rename(seeds_dir)
    assert_report(await sync(store, seeds_dir), unchanged=2)


async def test_an_emptied_seeds_folder_removes_nothing_unless_told_to(
    store: Store, seeds_dir: Path
) -> None:
    await sync(store, seeds_dir)
    before = await snapshot(store)
    for path in seeds_dir.iterdir():  # as an unmounted volume looks: an empty folder
        path.unlink()
    report = await sync(store, seeds_dir)
    assert report.refused.startswith(
        f"seeds folder {seeds_dir} holds no article files, but the store has the articles "
        "of 2 files: nothing removed"
    )
    assert "python -m bot load --allow-empty" in report.refused
    assert report.removed == [] and report.articles == 15
    assert await snapshot(store) == before

    emptied = await sync(store, seeds_dir, allow_empty=True)
    assert emptied.refused == ""
    assert_report(emptied, removed=[META_FILE, AMD_FILE])
    assert emptied.articles == 0
    # An empty folder and an empty store: nothing to refuse.
    assert (await sync(store, seeds_dir)).refused == ""


async def test_a_sync_with_nothing_to_do_writes_nothing(store: Store, seeds_dir: Path) -> None:
    await sync(store, seeds_dir)
    # SQLite's data version, seen by a connection of its own, moves on any commit by another.
    with sqlite3.connect(store.path) as watcher:
        before = watcher.execute("PRAGMA data_version").fetchone()
        report = await sync(store, seeds_dir)
        assert_report(report, unchanged=2)
        assert watcher.execute("PRAGMA data_version").fetchone() == before
        touch(seeds_dir / AMD_FILE)  # a new mtime is stored: a write
        await sync(store, seeds_dir)
        assert watcher.execute("PRAGMA data_version").fetchone() != before


async def test_two_stores_syncing_one_database_at_once_both_succeed(
    store: Store, seeds_dir: Path
) -> None:
    write_new(seeds_dir)
    async with await Store.open(store.path) as other:  # as another process would open it
        first, second = await asyncio.gather(sync(store, seeds_dir), sync(other, seeds_dir))
    assert sorted(first.added + second.added) == [META_FILE, AMD_FILE, "sub/new.txt"]
    assert first.articles == second.articles == 17
    await assert_as_if_loaded_afresh(store, seeds_dir)


# ---- incremental sync ----------------------------------------------------------------------


def _counts(stats: Stats) -> Stats:
    return dataclasses.replace(stats, database_bytes=0, last_sync=None)


def search_index(path: Path) -> set[tuple[str, str, str, int]]:
    """Every word the full-text index holds: (word, column, article URL, position)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, articles_fts, instance)")
        return set(db.execute(
            "SELECT term, col, url, offset FROM temp.words JOIN articles ON articles.id = doc"
        ))


async def assert_as_if_loaded_afresh(store: Store, folder: Path) -> None:
    """An incremental sync leaves what a first load of the same files gives, and no dangling
    references (foreign keys are declared but not enforced, so this checks the writer)."""
    fresh_path = store.path.with_name(f"fresh-{datetime.now(UTC).timestamp()}.db")
    async with await Store.open(fresh_path) as fresh:
        await sync(fresh, folder)
        assert await snapshot(store) == await snapshot(fresh)
        # Counts too: a topic or provider no article uses any more is gone, not just unlisted.
        assert _counts(await store.stats()) == _counts(await fresh.stats())
    # The full-text index holds the words of the articles as they are now, and no others.
    assert search_index(store.path) == search_index(fresh_path)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute(
            "SELECT count(*) FROM mentions WHERE article_id NOT IN (SELECT id FROM articles) "
            "OR file_id NOT IN (SELECT id FROM files)"
        ).fetchone() == (0,)


async def test_add_change_break_fix_and_delete_files(store: Store, seeds_dir: Path) -> None:
    assert_report(await sync(store, seeds_dir), added=[META_FILE, AMD_FILE])
    first = await snapshot(store)

    again = await sync(store, seeds_dir)
    assert_report(again, unchanged=2)
    assert not again.changed
    assert await snapshot(store) == first

    # add
    new = write_new(seeds_dir)
    report = await sync(store, seeds_dir)
    assert_report(report, added=["sub/new.txt"], unchanged=2)
    assert report.articles == 17  # the new article and its new stub; Nasdaq was known
    assert {NEW_URL, NEW_STUB_URL} <= await urls(store)
    await assert_as_if_loaded_afresh(store, seeds_dir)

    # change
    write_new(seeds_dir, title="Google details TPU v5 for AI training")
    report = await sync(store, seeds_dir)
    assert_report(report, updated=["sub/new.txt"], unchanged=2)
    article = await store.article_by_url(NEW_URL)
    assert article is not None and article.title == "Google details TPU v5 for AI training"
    await assert_as_if_loaded_afresh(store, seeds_dir)

    # change what it lists: the stub no other file lists goes, and so does the link
    write_new(seeds_dir, title="Google details TPU v5 for AI training", related=[NASDAQ_STUB])
    report = await sync(store, seeds_dir)
    assert_report(report, updated=["sub/new.txt"], unchanged=2)
    assert report.articles == 16
    assert NEW_STUB_URL not in await urls(store)
    article, nasdaq = await store.article_by_url(NEW_URL), await store.article_by_url(NASDAQ_URL)
    assert article is not None and nasdaq is not None
    listed, _listing = await store.linked(article.article_id or 0)
    assert listed == [nasdaq.article_id]
    await assert_as_if_loaded_afresh(store, seeds_dir)

    # break: the last good version stays, and the file is reported every time until fixed
    new.write_text("---\ntitle: [Google details\nwebUrl: nope\n---\n", encoding="utf-8")
    for _ in range(2):
        report = await sync(store, seeds_dir)
        assert [path for path, _reason in report.failed] == ["sub/new.txt"]
        assert "YAML error" in report.failed[0][1]
        article = await store.article_by_url(NEW_URL)
        assert article is not None and article.title == "Google details TPU v5 for AI training"
        assert (await store.stats()).failing_files == 1
    assert report.unchanged == 3

    # fix
    write_new(seeds_dir, title="Google ships TPU v5")
    report = await sync(store, seeds_dir)
    assert_report(report, updated=["sub/new.txt"], unchanged=2)
    assert report.failed == []
    article = await store.article_by_url(NEW_URL)
    assert article is not None and article.title == "Google ships TPU v5"
    await assert_as_if_loaded_afresh(store, seeds_dir)

    # delete: what only 000_ said goes; a stub another file also lists stays
    (seeds_dir / META_FILE).unlink()
    report = await sync(store, seeds_dir)
    assert_report(report, removed=[META_FILE], unchanged=2)
    left = await urls(store)
    assert META_URL not in left and META_ONLY_STUB not in left and STOCKHOUSE_URL not in left
    assert {AMD_URL, NASDAQ_URL, NEW_URL, NEW_STUB_URL} <= left
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None and not amd.is_stub
    _listed, listing = await store.linked(amd.article_id or 0)
    assert listing == []  # the Meta article that listed it is gone
    await assert_as_if_loaded_afresh(store, seeds_dir)

    (seeds_dir / AMD_FILE).unlink()
    report = await sync(store, seeds_dir)
    assert_report(report, removed=[AMD_FILE], unchanged=1)
    assert await urls(store) == {NEW_URL, NEW_STUB_URL, NASDAQ_URL}
    topics = {topic.name: topic.count for topic in await store.topic_counts()}
    assert topics == {"AI Hardware": 1, "Google AI": 1}  # unused topics are dropped
    providers = {provider.domain for provider in await store.provider_counts()}
    assert "theregister.com" not in providers
    await assert_as_if_loaded_afresh(store, seeds_dir)


async def test_deleting_a_broken_file_removes_its_last_good_articles(
    store: Store, seeds_dir: Path
) -> None:
    new = write_new(seeds_dir)
    await sync(store, seeds_dir)
    new.write_bytes(b"\xff\xfe not text")
    report = await sync(store, seeds_dir)
    assert report.failed == [("sub/new.txt", "not UTF-8 (bad byte at offset 0)")]
    assert NEW_URL in await urls(store)
    new.unlink()
    report = await sync(store, seeds_dir)
    assert report.removed == ["sub/new.txt"] and report.failed == []
    assert NEW_URL not in await urls(store)
    assert NASDAQ_URL in await urls(store)


async def test_unchanged_and_touched_files_are_not_parsed_again(
    store: Store, seeds_dir: Path
) -> None:
    shutil.copy(ODD / "image_relative.txt", seeds_dir)
    report = await sync(store, seeds_dir)
    assert any(w.startswith("image_relative.txt: ") for w in report.warnings)

    report = await sync(store, seeds_dir)
    assert_report(report, unchanged=3)
    assert report.warnings == []  # warnings come from parsing: nothing was parsed

    for name in (META_FILE, AMD_FILE, "image_relative.txt"):
        touch(seeds_dir / name)
    report = await sync(store, seeds_dir)
    assert_report(report, unchanged=3)
    assert report.warnings == []
    assert not report.changed

    # the new mtimes were recorded: the next sync does not even read the files
    report = await sync(store, seeds_dir)
    assert_report(report, unchanged=3)


async def test_a_touched_file_with_new_content_of_the_same_size_is_updated(
    store: Store, seeds_dir: Path
) -> None:
    await sync(store, seeds_dir)
    path = seeds_dir / AMD_FILE
    text = path.read_text(encoding="utf-8")
    changed = text.replace("heat: 142", "heat: 143")
    assert len(changed) == len(text)
    stat = path.stat()
    path.write_text(changed, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    report = await sync(store, seeds_dir)
    assert_report(report, updated=[AMD_FILE], unchanged=1)
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None and amd.heat == 143


# ---- identity and merging through the store -------------------------------------------------


async def test_a_stub_never_erases_what_the_full_file_gave(store: Store, seeds_dir: Path) -> None:
    write_article(
        seeds_dir / "late.txt",
        title="A later roundup",
        webUrl="https://example.org/roundup",
        related=[{
            "title": "AMD GPUs in Azure (a stub with a different headline)",
            "webUrl": "http://WWW.theregister.com/2022/05/26/amd_azure_microsoft?utm_source=x#top",
            "excerpt": "",
            "images": [{"url": "https://example.org/other.jpg", "width": 10, "height": 10}],
        }],
    )
    await sync(store, seeds_dir)
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None
    assert not amd.is_stub
    assert amd.title == AMD_TITLE
    assert amd.excerpt.startswith("Microsoft Build Microsoft Azure on Thursday")
    assert amd.heat == 142 and amd.quality == 102 and amd.published is True
    assert amd.topics == ("AI Hardware", "AI", "Microsoft AI")
    assert amd.images[0].url == "https://regmedia.co.uk/2020/11/16/amdmi100.jpg"
    _listed, listing = await store.linked(amd.article_id or 0)
    assert len(listing) == 2  # the Meta article and the roundup both list it

    # Without the full file the stubs are all there is: the article stays, as a stub.
    (seeds_dir / AMD_FILE).unlink()
    await sync(store, seeds_dir)
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None and amd.is_stub
    assert amd.title == AMD_TITLE  # the fuller stub (from 000_) gives the headline
    assert amd.heat is None and amd.topics == ()

    # And it comes back whole when the full file does.
    shutil.copy(SEEDS / AMD_FILE, seeds_dir)
    await sync(store, seeds_dir)
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None and not amd.is_stub and amd.heat == 142


async def test_an_edited_article_keeps_what_stubs_in_files_not_read_again_give(
    store: Store, seeds_dir: Path
) -> None:
    edited_url, plain_url = "https://example.org/news/edited", "https://example.org/news/plain"

    def write_full(name: str, url: str, excerpt: str, **fields: Any) -> None:
        path = write_article(seeds_dir / name, title=f"The article at {url}", excerpt=excerpt,
                             publishedDateTime="2022-05-28T10:00:00Z", originalUrl=url, **fields)
        touch(path)

    write_full("edited.txt", edited_url, "First words.", ampWebUrl=f"{edited_url}/amp")
    write_full("plain.txt", plain_url, "First words.")
    write_article(seeds_dir / "roundup.txt", title="A roundup", webUrl="https://example.org/roundup",
                  related=[
                      {"title": "A stub of the edited article", "webUrl": edited_url,
                       "ampWebUrl": "https://example.org/amp-from-the-stub",
                       "images": [{"url": "https://example.org/from-the-stub.jpg"}]},
                      {"title": "A stub of the plain article", "webUrl": plain_url},
                  ])
    await sync(store, seeds_dir)
    edited = await store.article_by_url(edited_url)
    assert edited is not None
    assert edited.amp_url == f"{edited_url}/amp"  # the full file's own
    assert [image.url for image in edited.images] == ["https://example.org/from-the-stub.jpg"]

    # Only the excerpts change; the roundup is not read again. The stub still gives the
    # image the file never had, and the plain article's stub gives nothing.
    write_full("edited.txt", edited_url, "Second words.", ampWebUrl=f"{edited_url}/amp")
    write_full("plain.txt", plain_url, "Second words.")
    report = await sync(store, seeds_dir)
    assert report.updated == ["edited.txt", "plain.txt"]
    edited, plain = await store.article_by_url(edited_url), await store.article_by_url(plain_url)
    assert edited is not None and plain is not None
    assert (edited.excerpt, plain.excerpt) == ("Second words.", "Second words.")
    assert [image.url for image in edited.images] == ["https://example.org/from-the-stub.jpg"]
    assert edited.amp_url == f"{edited_url}/amp"
    await assert_as_if_loaded_afresh(store, seeds_dir)

    # The file drops its AMP page: the stub's fills the gap.
    write_full("edited.txt", edited_url, "Third words.")
    await sync(store, seeds_dir)
    edited = await store.article_by_url(edited_url)
    assert edited is not None and edited.amp_url == "https://example.org/amp-from-the-stub"
    await assert_as_if_loaded_afresh(store, seeds_dir)


async def test_several_full_versions_of_one_article_merge(store: Store, seeds_dir: Path) -> None:
    write_article(
        seeds_dir / "amd_copy.txt",
        title="Azure gets AMD MI200 GPUs (syndicated copy)",
        excerpt="A shorter syndicated copy.",
        publishedDateTime="2022-05-27T08:00:00Z",
        originalUrl="http://WWW.TheRegister.com/2022/05/26/amd_azure_microsoft/?utm_source=rss",
        provider={"name": "The Register", "domain": "www.theregister.com"},
        topics=["AI Hardware"],
        related=[
            {"title": "An MI200 review", "webUrl": "https://example.org/mi200-review"},
            {"title": "Microsoft\u2019s new execs helping win at Azure, AI, devices",
             "webUrl": "https://www.crn.com.au/news/microsofts-new-execs-helping-win-at-azure-ai-devices-580620"},
        ],
    )
    report = await sync(store, seeds_dir)
    assert report.failed == []
    amd = await store.article_by_url(AMD_URL)
    assert amd is not None
    # The copy is newer than 003_: it gives what it has, and 003_ what it lacks.
    assert amd.title == "Azure gets AMD MI200 GPUs (syndicated copy)"
    assert amd.excerpt == "A shorter syndicated copy."
    assert amd.published_at == datetime(2022, 5, 27, 8, 0, tzinfo=UTC)
    assert amd.topics == ("AI Hardware",)
    assert amd.heat == 142 and amd.quality == 102
    listed, _listing = await store.linked(amd.article_id or 0)
    listed_urls = {a.url for a in (await store.articles(listed)).values()}
    assert listed_urls == {
        NASDAQ_URL,
        "https://crn.com.au/news/microsofts-new-execs-helping-win-at-azure-ai-devices-580620",
        "https://techzine.eu/news/collaboration/79896/microsoft-and-meta-expand-their-ai-partnership",
        "https://crn.com/slide-shows/cloud/microsoft-s-new-executives-helping-win-at-cloud-ai-devices",
        "https://example.org/mi200-review",
    }
    # `www.theregister.com` given as the domain is still the one provider.
    domains = [provider.domain for provider in await store.provider_counts()]
    assert domains.count("theregister.com") == 1
    assert not any(domain.startswith("www.") for domain in domains)


def _order_corpus(folder: Path) -> dict[str, str]:
    """Files whose versions of shared articles conflict, as name → text."""
    files = {path.name: path.read_text(encoding="utf-8") for path in SEED_FILES}
    for path in ODD.iterdir():
        files[path.name] = path.read_bytes().decode("utf-8")
    files["broken.txt"] = (BROKEN / "duplicate_keys.txt").read_text(encoding="utf-8")
    scratch = folder / "scratch"
    specs = {
        # Two full versions of the AMD article with the same fullness but other words.
        "amd_a.txt": dict(title="AMD MI200 on Azure, version A", excerpt="Version A " * 5,
                          originalUrl="https://theregister.com/2022/05/26/amd_azure_microsoft",
                          topics=["ai hardware"], related=[{"title": "Stub X",
                                                            "webUrl": "https://x.example/x"}]),
        "amd_b.txt": dict(title="AMD MI200 on Azure, version B", excerpt="Version B " * 5,
                          originalUrl="https://www.theregister.com/2022/05/26/amd_azure_microsoft/",
                          topics=["AI hardware"]),
        # Two stubs of one article that disagree, in files that are otherwise unrelated.
        "stub_1.txt": dict(title="One", webUrl="https://one.example/1", related=[
            {"title": "Shared stub, first wording", "webUrl": "https://shared.example/s",
             "quality": 10}]),
        "stub_2.txt": dict(title="Two", webUrl="https://two.example/2", related=[
            {"title": "Shared stub, second wording", "webUrl": "https://shared.example/s?td=1",
             "quality": 10}]),
        # Topics spelled in different cases by different articles.
        "ml_1.txt": dict(title="ML one", webUrl="https://ml.example/1",
                         topics=["machine learning"]),
        "ml_2.txt": dict(title="ML two", webUrl="https://ml.example/2",
                         topics=["Machine Learning"]),
    }
    for name, fields in specs.items():
        files[name] = write_article(scratch / name, **fields).read_text(encoding="utf-8")
    return files


def _copy_in_order(files: dict[str, str], folder: Path, order: list[str]) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for position, name in enumerate(order):
        path = folder / f"{position:03d}_{name}"
        path.write_text(files[name], encoding="utf-8")
        paths.append(path)
    return paths


async def test_the_corpus_does_not_depend_on_file_read_order(tmp_path: Path) -> None:
    files = _order_corpus(tmp_path)
    names = sorted(files)
    snapshots = []
    for label, order in (("forward", names), ("backward", names[::-1])):
        folder = tmp_path / label
        _copy_in_order(files, folder, order)
        async with await Store.open(tmp_path / f"{label}.db") as store:
            report = await sync(store, folder)
            assert len(report.failed) == 1
            snapshots.append(await snapshot(store))
    assert snapshots[0] == snapshots[1]
    amd = snapshots[0]["articles"][AMD_URL]
    assert f'"title":"{AMD_TITLE}"' in amd  # the fullest version wins whatever the order


async def _arrive_one_by_one(tmp_path: Path) -> list[dict[str, object]]:
    """Sync the order corpus one file per sync, forwards and backwards, into two databases."""
    files = _order_corpus(tmp_path)
    names = sorted(files)
    snapshots = []
    for label, order in (("forward", names), ("backward", names[::-1])):
        folder = tmp_path / label
        folder.mkdir()
        async with await Store.open(tmp_path / f"{label}.db") as store:
            for name in order:  # one file per sync: row ids are handed out in this order
                (folder / name).write_text(files[name], encoding="utf-8")
                await sync(store, folder)
            snapshots.append(await snapshot(store))
    return snapshots


async def test_articles_do_not_depend_on_the_order_files_arrive_in(tmp_path: Path) -> None:
    forward, backward = await _arrive_one_by_one(tmp_path)
    assert forward["articles"] == backward["articles"]
    assert forward["related"] == backward["related"]

    def counts(rows: object, key: int) -> list[tuple[str, int]]:
        return sorted((str(row[key]).casefold(), row[-1]) for row in rows)  # type: ignore[attr-defined]

    assert counts(forward["topics"], 0) == counts(backward["topics"], 0)
    assert counts(forward["providers"], 0) == counts(backward["providers"], 0)


async def test_topic_and_provider_names_do_not_depend_on_the_order_files_arrive_in(
    tmp_path: Path,
) -> None:
    forward, backward = await _arrive_one_by_one(tmp_path)
    assert forward["topics"] == backward["topics"]
    assert forward["providers"] == backward["providers"]


async def test_a_renamed_topic_and_provider_show_their_new_names(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "corpus"
    fields = dict(title="Renames", webUrl="https://rename.example.com/1")
    write_article(folder / "a.txt", **fields, topics=["Machine learning"],
                  provider={"name": "Rename Weekly News", "domain": "rename.example.com"})
    await sync(store, folder)
    write_article(folder / "a.txt", **fields, topics=["Machine Learning"],
                  provider={"name": "Rename Daily", "domain": "rename.example.com"})
    touch(folder / "a.txt")
    report = await sync(store, folder)
    assert report.updated == ["a.txt"]
    assert [topic.name for topic in await store.topic_counts()] == ["Machine Learning"]
    (provider,) = await store.provider_counts()
    assert (provider.name, provider.names) == ("Rename Daily", ("Rename Daily",))


# ---- the parallel path ---------------------------------------------------------------------


def _generate(folder: Path, count: int) -> None:
    topics = ["AI", "AI Hardware", "Robotics", "Machine Learning", "Microsoft AI"]
    start = datetime(2022, 5, 1, tzinfo=UTC)
    for number in range(count):
        write_article(
            folder / f"batch{number % 3}" / f"gen_{number:04d}.md",
            title=f"Generated article {number} about {topics[number % 5]}",
            excerpt=f"Summary {number}.",
            publishedDateTime=(start + timedelta(hours=number)).isoformat(),
            originalUrl=f"https://www.gen{number % 7}.example.com/a/{number}/?utm_source=t",
            quality=number % 100,
            heat=number % 13 - 1,
            provider={"name": f"Gen {number % 7}", "domain": f"gen{number % 7}.example.com"},
            topics=[topics[number % 5], topics[(number * 3) % 5]],
            related=[
                {"title": f"Generated article {(number + 1) % count}",
                 "webUrl": f"https://gen{(number + 1) % count % 7}.example.com/a/"
                           f"{(number + 1) % count}"},
                {"title": "A stub everybody lists", "webUrl": "https://hub.example.com/story"},
            ],
        )
    (folder / "batch0" / "gen_broken.txt").write_text("no front matter\n", encoding="utf-8")


async def test_worker_processes_give_the_same_corpus_as_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 250
    folder = tmp_path / "generated"
    _generate(folder, count)
    monkeypatch.setattr(bot.loader, "PARALLEL_THRESHOLD", count)
    if (os.cpu_count() or 1) < 2:  # the loader only starts workers with 2 CPUs or more
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
    # Small batches: many more than are handed to the workers at a time.
    monkeypatch.setattr(bot.loader, "WORKER_BATCH", 10)
    assert count / 10 > 2 * bot.loader.BATCHES_IN_FLIGHT

    children_seen: list[int] = []

    def progress(done: int, total: int) -> None:
        children_seen.append(len(multiprocessing.active_children()))

    async with await Store.open(tmp_path / "parallel.db") as store:
        parallel_report = await sync(store, folder, progress=progress)
        parallel = await snapshot(store)
    assert children_seen and max(children_seen) >= 1  # parsed in worker processes

    monkeypatch.setattr(bot.loader, "PARALLEL_THRESHOLD", 10**9)
    children_seen.clear()
    async with await Store.open(tmp_path / "thread.db") as store:
        thread_report = await sync(store, folder, progress=progress)
        in_thread = await snapshot(store)
    assert max(children_seen) == 0

    assert len(parallel_report.added) == count
    assert parallel_report.added == thread_report.added
    assert parallel_report.failed == thread_report.failed == [
        ("batch0/gen_broken.txt", "no front matter (the file must start with a `---` line)")
    ]
    assert parallel_report.articles == thread_report.articles == count + 1  # + the hub stub
    assert parallel == in_thread
    hub_links = {pair for pair in parallel["related"] if pair[1] == "https://hub.example.com/story"}
    assert len(hub_links) == count


async def test_a_sync_pauses_the_garbage_collector_only_while_it_writes(
    store: Store, seeds_dir: Path
) -> None:
    states: list[bool] = []
    await sync(store, seeds_dir, progress=lambda done, total: states.append(gc.isenabled()))
    assert states and not any(states)  # paused while files were being stored
    assert gc.isenabled()  # and on again after

    gc.disable()  # a host that runs without it keeps it off
    try:
        touch(seeds_dir / AMD_FILE)
        write_new(seeds_dir)
        await sync(store, seeds_dir)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---- several files for one article ---------------------------------------------------------

COPY_URL = "https://example.org/news/one-story"


def write_copy(folder: Path, name: str, when: str, stubs: int) -> Path:
    """A full file for COPY_URL, headed by its name, listing `stubs` related stubs."""
    path = write_article(
        folder / name, title=f"The story as {name} tells it", publishedDateTime=when,
        originalUrl=f"{COPY_URL}?utm_source={name}",
        related=[{"title": f"Stub {n} of {name}", "webUrl": f"https://example.org/{name}/{n}"}
                 for n in range(stubs)],
    )
    touch(path)
    return path


async def headline(store: Store) -> str:
    article = await store.article_by_url(COPY_URL)
    assert article is not None and not article.is_stub
    return article.title.removeprefix("The story as ").removesuffix(" tells it")


async def test_the_newest_file_wins_then_the_most_stubs_then_the_first_path(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "copies"
    write_copy(folder, "a.txt", "2022-05-26T10:00:00Z", stubs=3)
    write_copy(folder, "b.txt", "2022-05-28T10:00:00Z", stubs=0)
    write_copy(folder, "c.txt", "2022-05-28T10:00:00Z", stubs=1)
    report = await sync(store, folder)
    assert await headline(store) == "c.txt"  # as new as b.txt, and lists more
    assert (report.merged_articles, report.merged_files) == (1, 3)
    assert "0 failed; 3 files merged into 1 article; 5 articles in " in report.summary()

    write_copy(folder, "c.txt", "2022-05-28T10:00:00Z", stubs=0)  # now b.txt's equal
    report = await sync(store, folder)
    assert await headline(store) == "b.txt"  # the path that sorts first
    assert "; 3 files merged into 1 article;" in report.summary()
    await assert_as_if_loaded_afresh(store, folder)

    write_copy(folder, "a.txt", "2022-05-29T10:00:00Z", stubs=3)
    await sync(store, folder)
    assert await headline(store) == "a.txt"  # now the newest
    await assert_as_if_loaded_afresh(store, folder)

    (folder / "a.txt").unlink()
    report = await sync(store, folder)
    assert await headline(store) == "b.txt"
    assert (report.merged_articles, report.merged_files) == (1, 2)
    await assert_as_if_loaded_afresh(store, folder)


async def test_the_report_counts_only_articles_given_by_several_files(
    store: Store, seeds_dir: Path
) -> None:
    report = await sync(store, seeds_dir)  # the seeds share articles only as stubs
    assert (report.merged_articles, report.merged_files) == (0, 0)
    assert "merged" not in report.summary()
    for name in ("x.txt", "y.txt"):
        write_copy(seeds_dir / "second", name, "2022-05-28T10:00:00Z", stubs=0)
    shutil.copy(seeds_dir / AMD_FILE, seeds_dir / "second" / "amd_again.txt")
    report = await sync(store, seeds_dir)
    assert (report.merged_articles, report.merged_files) == (2, 4)
    assert "; 4 files merged into 2 articles;" in report.summary()
    await assert_as_if_loaded_afresh(store, seeds_dir)
