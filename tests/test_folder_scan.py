"""A large seeds folder, compared with the store in a process of its own, syncs exactly as a
small one: every addition, edit and removal found, nothing lost to a folder it cannot read."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import front_matter
from test_cli import assert_clean_failure, run_cli

from bot.loader import SCAN_APART_FROM, sync
from bot.store import Store

FILES = SCAN_APART_FROM + 40  # from the second sync on, the folder is compared apart
PER_FOLDER = 500


def article_path(folder: Path, number: int) -> Path:
    return folder / f"part{number // PER_FOLDER}" / f"article{number:05}.txt"


def write_numbered(folder: Path, number: int, title: str | None = None) -> Path:
    path = article_path(folder, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(front_matter({"title": title or f"Generated article {number}",
                                  "webUrl": f"https://example.org/a/{number}",
                                  "topics": ["AI"]}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FILES small article files in a few sub folders, shared: tests copy it."""
    folder = tmp_path_factory.mktemp("large") / "seeds"
    for number in range(FILES):
        write_numbered(folder, number)
    return folder


@pytest.fixture
def folder(large: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "seeds"
    shutil.copytree(large, copy)
    return copy


@pytest.fixture
def locked_away() -> Iterator[list[Path]]:
    """Folders a test makes unreadable; readable again afterwards, so that tmp is cleaned."""
    folders: list[Path] = []
    yield folders
    for locked in folders:
        locked.chmod(stat.S_IRWXU)


def relative(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


async def test_a_large_folder_sync_finds_each_addition_edit_touch_and_removal(
    folder: Path, tmp_path: Path
) -> None:
    async with await Store.open(tmp_path / "news.db") as store:
        first = await sync(store, folder)
        assert len(first.added) == FILES and first.articles == FILES
        edited = write_numbered(folder, 7, "An edited title about TPUs")
        touched = article_path(folder, 8)
        info = touched.stat()
        os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns + 10**10))
        added = write_numbered(folder, FILES + 1)
        removed = article_path(folder, 9)
        removed.unlink()

        report = await sync(store, folder)

        assert report.added == [relative(folder, added)]
        assert report.updated == [relative(folder, edited)]
        assert report.removed == [relative(folder, removed)]
        assert report.unchanged == FILES - 2  # the touched file among them
        assert report.failed == [] and report.articles == FILES
        article = await store.article_by_url("https://example.org/a/7")
        assert article is not None and article.title == "An edited title about TPUs"
        assert await store.article_by_url("https://example.org/a/9") is None
        assert await store.article_by_url(f"https://example.org/a/{FILES + 1}") is not None
        again = await sync(store, folder)
        assert (again.added, again.updated, again.removed) == ([], [], [])
        assert again.unchanged == FILES


def test_a_large_folder_with_an_unreadable_sub_folder_keeps_its_articles(
    folder: Path, tmp_path: Path, locked_away: list[Path]
) -> None:
    db = tmp_path / "data" / "news.db"
    assert run_cli("load", "--seeds", folder, "--db", db, cwd=tmp_path).returncode == 0
    sub = folder / "part1"
    sub.chmod(0)
    locked_away.append(sub)
    (folder / "part0" / "article00000.txt").unlink()

    result = run_cli("load", "--seeds", folder, "--db", db, cwd=tmp_path,
                     obey_permissions=True)

    assert_clean_failure(result, 1)
    assert result.stdout.startswith(
        f"Synced {folder}: 0 added, 0 updated, {FILES - PER_FOLDER - 1} unchanged, 1 removed, "
        f"1 failed, {PER_FOLDER} kept unread; {FILES - 1} articles")
    assert ("  FAILED part1/: cannot read this folder: Permission denied; the articles of the "
            "files stored under it are kept") in result.stdout


async def test_a_linked_folder_is_read_and_a_link_back_up_the_tree_ends(
    seeds_dir: Path, tmp_path: Path
) -> None:
    seed_files = sorted(relative(seeds_dir, path) for path in seeds_dir.rglob("*.txt"))
    outside = tmp_path / "more"
    outside.mkdir()
    (outside / "linked.txt").write_text(front_matter({
        "title": "An article in a linked folder", "webUrl": "https://example.org/linked",
        "topics": ["AI"]}), encoding="utf-8")
    (seeds_dir / "more").symlink_to(outside, target_is_directory=True)
    (outside / "back").symlink_to(seeds_dir, target_is_directory=True)  # a loop

    async with await Store.open(tmp_path / "news.db") as store:
        report = await sync(store, seeds_dir)

        assert report.failed == []
        assert sorted(report.added) == sorted([*seed_files, "more/linked.txt"])
        assert await store.article_by_url("https://example.org/linked") is not None
