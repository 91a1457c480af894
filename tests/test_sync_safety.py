"""A sync loses nothing: not to a folder that vanished, emptied or cannot be read, not to
another sync at the same time, and a killed load leaves no process behind. Real CLI processes."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AMD_TITLE, META_FILE, ROOT, snapshot, write_article
from test_cli import assert_clean_failure, cli_env, listed_titles, run_cli

from bot.store import Store

GENERATED = 4000  # enough that a load parses in worker processes and takes a while
WORKER_WAIT_SECONDS = 60.0
EXIT_WAIT_SECONDS = 10.0


class Corpus:
    """A private seeds folder and database, and `python -m bot` run on them."""

    def __init__(self, root: Path, seeds: Path):
        self.root = root
        self.seeds = seeds
        self.db = root / "data" / "news.db"

    def run(self, *args: str | Path, obey_permissions: bool = False
            ) -> subprocess.CompletedProcess[str]:
        command, *rest = args
        return run_cli(command, "--seeds", self.seeds, "--db", self.db, *rest, cwd=self.root,
                       obey_permissions=obey_permissions)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`python -m bot load` in the background."""
        return subprocess.Popen(  # noqa: S603 - our own CLI, with arguments we choose
            [sys.executable, "-m", "bot", "load", "--seeds", str(self.seeds),
             "--db", str(self.db), *args],
            cwd=self.root, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def corpus(tmp_path: Path, seeds_dir: Path) -> Corpus:
    return Corpus(tmp_path, seeds_dir)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated article files, shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("generated") / "seeds"
    subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "bench/generate.py", str(folder), "--count", str(GENERATED)],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )
    return folder


@pytest.fixture(scope="module")
def loaded_once(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one plain load of `generated`."""
    root = tmp_path_factory.mktemp("reference")
    done = Corpus(root, generated).run("load")
    assert done.returncode == 0, done.stderr
    return Corpus(root, generated).db


async def assert_same_corpus(db: Path, reference: Path) -> None:
    async with await Store.open(db) as store, await Store.open(reference) as expected:
        assert await snapshot(store) == await snapshot(expected)


def files_of(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file in `folder`: (mtime_ns, size, content hash) by name."""
    return {path.name: (path.stat().st_mtime_ns, path.stat().st_size,
                        hashlib.sha256(path.read_bytes()).hexdigest())
            for path in folder.iterdir()}


@pytest.fixture
def locked_away() -> Iterator[list[Path]]:
    """Folders a test makes unreadable; readable again afterwards, so that tmp is cleaned."""
    folders: list[Path] = []
    yield folders
    for folder in folders:
        folder.chmod(stat.S_IRWXU)


# ---- a folder that cannot be read ------------------------------------------------------


def test_an_unreadable_sub_folder_fails_alone_and_its_files_keep_their_articles(
    corpus: Corpus, locked_away: list[Path]
) -> None:
    sub = corpus.seeds / "sub"
    write_article(sub / "new.txt", title="Google shows TPU v5 for AI training",
                  webUrl="https://example.org/news/tpu-v5", topics=["AI Hardware"])
    assert corpus.run("load").returncode == 0
    sub.chmod(0)
    locked_away.append(sub)

    result = corpus.run("load", obey_permissions=True)
    assert_clean_failure(result, 1)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Synced {corpus.seeds}: 0 added, 0 updated, 2 unchanged, "
                               "0 removed, 1 failed, 1 kept unread; 16 articles")
    assert ("  FAILED sub/: cannot read this folder: Permission denied; the articles of the "
            "files stored under it are kept") in lines
    assert result.stderr.strip() == (
        f"error: part of {corpus.seeds} could not be read (FAILED above); the stored articles "
        "of the files there are kept: make it readable and run load again"
    )
    asked = corpus.run("ask", "topic", "AI hardware", obey_permissions=True)
    assert asked.returncode == 0, asked.stderr
    assert "Google shows TPU v5 for AI training" in listed_titles(asked.stdout)
    assert f"warning: skipped {sub}: cannot read this folder" in asked.stderr

    sub.chmod(stat.S_IRWXU)
    again = corpus.run("load")
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 3 unchanged, 0 removed, 0 failed; 16 articles" in again.stdout


def test_a_file_whose_name_is_not_utf8_is_reported_and_the_others_load(corpus: Corpus) -> None:
    bad = os.path.join(os.fsencode(corpus.seeds), b"caf\xe9.txt")  # Latin-1, not UTF-8
    shutil.copy(corpus.seeds / META_FILE, bad)

    result = corpus.run("load")
    assert_clean_failure(result, 1)
    assert "  FAILED caf\\xe9.txt: its name is not valid UTF-8; rename it" in result.stdout
    assert "2 added, 0 updated, 0 unchanged, 0 removed, 1 failed; 15 articles" in result.stdout


def test_an_unreadable_seeds_folder_removes_nothing(
    corpus: Corpus, locked_away: list[Path]
) -> None:
    assert corpus.run("load").returncode == 0
    corpus.seeds.chmod(0)
    locked_away.append(corpus.seeds)
    result = corpus.run("load", obey_permissions=True)
    assert_clean_failure(result, 1)
    assert result.stdout.startswith(f"Synced {corpus.seeds}: 0 added, 0 updated, 0 unchanged, "
                                    "0 removed, 1 failed, 2 kept unread; 15 articles")
    assert ("  FAILED the seeds folder: cannot read this folder: Permission denied"
            in result.stdout)
    corpus.seeds.chmod(stat.S_IRWXU)
    assert "2 unchanged, 0 removed" in corpus.run("load").stdout


# ---- a folder that vanished or emptied ---------------------------------------------------


def test_ask_answers_from_the_store_when_the_seeds_folder_is_missing(corpus: Corpus) -> None:
    assert corpus.run("load").returncode == 0
    shutil.rmtree(corpus.seeds)
    result = corpus.run("ask", "topic", "AI hardware")
    assert result.returncode == 0, result.stderr
    assert listed_titles(result.stdout) == [AMD_TITLE]
    assert result.stderr.splitlines() == [
        f"warning: seeds folder {corpus.seeds} does not exist: nothing synced, the stored "
        "articles stay; point NEWS_SEEDS_DIR (or --seeds) at the folder of article files"
    ]


def test_load_of_an_emptied_folder_removes_nothing_unless_allowed(corpus: Corpus) -> None:
    assert corpus.run("load").returncode == 0
    for path in corpus.seeds.iterdir():  # as an unmounted volume looks
        path.unlink()
    refused = corpus.run("load")
    assert_clean_failure(refused, 1)
    assert refused.stderr.strip() == (
        f"error: seeds folder {corpus.seeds} holds no article files, but the store has the "
        "articles of 2 files: nothing removed (is a volume not mounted?); if the files are "
        "elsewhere, point NEWS_SEEDS_DIR (or --seeds) there; to empty the store on purpose, "
        "run: python -m bot load --allow-empty"
    )
    assert corpus.run("ask", "latest").stdout.startswith("Latest AI news - 15 articles")

    emptied = corpus.run("load", "--allow-empty")
    assert emptied.returncode == 0, emptied.stderr
    assert "0 unchanged, 2 removed, 0 failed; 0 articles" in emptied.stdout


def test_an_ask_with_nothing_to_sync_writes_nothing(corpus: Corpus) -> None:
    assert corpus.run("load").returncode == 0
    before = files_of(corpus.db.parent)
    result = corpus.run("ask", "latest")
    assert result.returncode == 0, result.stderr
    assert files_of(corpus.db.parent) == before


# ---- two syncs at once ---------------------------------------------------------------------


async def test_two_loads_at_once_both_succeed_and_load_the_corpus_once(
    tmp_path: Path, generated: Path, loaded_once: Path
) -> None:
    corpus = Corpus(tmp_path, generated)
    async with await Store.open(corpus.db):  # an existing (empty) database, as the bot's
        pass
    first, second = corpus.start(), corpus.start()
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    for process, (_stdout, stderr) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    # One loaded everything; the other waited its turn and found it done.
    counts = sorted(stdout.splitlines()[0].split(": ", 1)[1].split(";")[0]
                    for stdout, _stderr in outputs)
    assert counts == [f"0 added, 0 updated, {GENERATED} unchanged, 0 removed, 0 failed",
                      f"{GENERATED} added, 0 updated, 0 unchanged, 0 removed, 0 failed"]
    await assert_same_corpus(corpus.db, loaded_once)


# ---- a load killed outright ----------------------------------------------------------------


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _status(int(entry.name), "PPid") == str(pid):
            found.add(int(entry.name))
    return found


def _status(pid: int, key: str) -> str | None:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # gone
        return None
    return next((line.split(":", 1)[1].strip() for line in lines
                 if line.startswith(f"{key}:")), None)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan waits for PID 1 to reap it)."""
    state = _status(pid, "State")
    return state is not None and not state.startswith("Z")


async def test_a_load_killed_outright_leaves_no_worker_and_the_next_load_completes(
    tmp_path: Path, generated: Path, loaded_once: Path
) -> None:
    corpus = Corpus(tmp_path, generated)
    load = corpus.start()
    children: set[int] = set()
    try:
        deadline = time.monotonic() + WORKER_WAIT_SECONDS
        # Parsing: two workers and the resource tracker (or as many workers as CPUs).
        while len(children) < min(os.cpu_count() or 1, 2) + 1:
            assert load.poll() is None, "the load ended before it was parsing"
            assert time.monotonic() < deadline, f"no parser workers came up: {children}"
            children |= _children(load.pid)
            time.sleep(0.01)
        load.send_signal(signal.SIGKILL)
        load.wait(timeout=EXIT_WAIT_SECONDS)
        deadline = time.monotonic() + EXIT_WAIT_SECONDS
        while (left := {pid for pid in children if _running(pid)}) and (
                time.monotonic() < deadline):
            time.sleep(0.05)
        assert left == set(), "processes of the killed load still run"
    finally:
        for pid in children:  # ours: none may outlive the test, whatever happened
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        load.kill()
        load.communicate()

    again = corpus.run("load")
    assert again.returncode == 0, again.stderr
    assert f"Synced {generated}: {GENERATED} added" in again.stdout  # nothing half-written
    await assert_same_corpus(corpus.db, loaded_once)
