"""Syncing sources: scan the seeds folder, parse what changed, write it in one transaction;
a feed's entries are written the same way, as the versions of one source."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import itertools
import json
import logging
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from bot import folderscan
from bot.articles import Record, record_from_json, record_to_json
from bot.feeds.state import Feed
from bot.folderscan import Compared, compare
from bot.merge import Candidate, Fullest, candidate, filled_fields, merge_json
from bot.parse import DEFAULT_MAX_BYTES, Parsed, ParseError, oversized, parse_article
from bot.results import SyncReport
from bot.store import (
    FOLDER_SOURCE,
    ArticleRow,
    FileState,
    Store,
    Transaction,
    Version,
    article_row,
    meanwhile,
    pack_versions,
)
from bot.store.files import FAILING_FILES_SQL, FILE_STATS_SQL
from bot.workers import process_pool

log = logging.getLogger(__name__)

# Below this many changed files, starting worker processes costs more than it saves: a
# worker takes 0.2-0.35 s to start, and two of them parse ~1.5 times as fast as one thread
# (~0.3 ms a file), so on 2 cores they pay off from about 2,000-3,000 files on.
PARALLEL_THRESHOLD = 2000
# Files per task sent to a worker: big enough to amortise pickling, small enough to balance.
WORKER_BATCH = 128
# Articles per merge task sent to a worker.
MERGE_BATCH = 1000
# Batches handed to the workers at a time: enough that they never wait for work, few
# enough that parsed batches cannot pile up in memory when storing them falls behind.
BATCHES_IN_FLIGHT = 8

# A folder whose store knows at least this many files is compared with it in a process of
# its own (bot/folderscan.py); a smaller one costs less to compare here than to start it.
SCAN_APART_FROM = 2000

Progress = Callable[[int, int], None]

# An ArticleRow as workers hand it over: a plain tuple in the same order (see Candidate).
_PlainRow = tuple[Any, ...]
# What a version's article would be from it alone: a full version's row, or a stub's JSON.
# Most stubs' articles have a full version, so a stub's row is built only when the stub
# is the fullest version of its article (see `_SyncWriter._merged_fresh`).
_Alone = _PlainRow | str


# Workers hand these over as named tuples: they unpickle a third faster than slotted
# dataclasses, whose state is restored field by field.
class _Loaded(NamedTuple):
    """What one readable file says, as a worker hands it over."""

    packed: bytes  # its versions as the store keeps them (`pack_versions`)
    # The same versions (its own article first, then its related stubs), each with its
    # candidate for merging.
    versions: tuple[tuple[Version, Candidate[_Alone]], ...]
    warnings: tuple[str, ...]


class _FileResult(NamedTuple):
    path: str
    size: int
    mtime_ns: int
    hash: str
    result: _Loaded | ParseError | None  # None: same content as the store has, not parsed


def seeds_folder_problem(seeds_dir: Path) -> str | None:
    """Why `seeds_dir` is no folder to sync ("does not exist", ...), or None.

    A folder that exists but cannot be read is a folder: the scan reports it as unreadable.
    """
    try:
        mode = os.stat(seeds_dir).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "does not exist"
    except OSError:
        return None  # e.g. a parent that cannot be searched: the scan says why
    return None if stat.S_ISDIR(mode) else "is not a folder"


def _read_and_parse(
    seeds_dir: str, path: str, max_bytes: int, backend: str, known_hash: str | None = None
) -> _FileResult:
    """Read one file and parse it; runs in worker processes, so it takes plain arguments.

    A file whose content hashes to `known_hash` (touched, not changed) is not parsed again.
    """
    full_path = os.path.join(seeds_dir, path)
    try:
        with open(full_path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            # Read one byte past the limit: enough to know the file is too big. Asking for no
            # more than the file holds spares allocating the limit for every file.
            data = handle.read(min(stat.st_size, max_bytes) + 1)
    except OSError as exc:
        return _FileResult(path, 0, 0, "", ParseError(path, f"cannot read: {exc.strerror}"))
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == known_hash and stat.st_size <= max_bytes:
        return _FileResult(path, stat.st_size, stat.st_mtime_ns, digest, None)
    if stat.st_size > max_bytes:
        return _FileResult(path, stat.st_size, stat.st_mtime_ns, digest,
                           oversized(path, stat.st_size, max_bytes))
    parsed = parse_article(data, path, max_bytes=max_bytes, backend=backend)
    result = parsed if isinstance(parsed, ParseError) else _loaded(parsed)
    return _FileResult(path, stat.st_size, stat.st_mtime_ns, digest, result)


def _loaded(parsed: Parsed) -> _Loaded:
    """A parsed file's versions, encoded and ranked here in the worker: the parent then
    merges most articles without decoding any version again (it decodes one stub for an
    article that has no full version)."""
    return _loaded_records([parsed.record, *parsed.related], parsed.warnings)


def _loaded_records(records: Sequence[Record], warnings: tuple[str, ...],
                    texts: Sequence[str] | None = None) -> _Loaded:
    """The versions of these records (their JSON `texts` if already encoded)."""
    versions: list[tuple[Version, Candidate[_Alone]]] = []
    for position, record in enumerate(records):
        text = record_to_json(record) if texts is None else texts[position]
        alone = text if record["is_stub"] else tuple(article_row(record, text))
        versions.append(((record["url"], record["is_stub"], record["published_at"] or "", text),
                         candidate(record, text, alone)))
    return _Loaded(pack_versions(version for version, _ in versions), tuple(versions),
                   warnings)


def _parse_batch(
    seeds_dir: str, paths: list[str], max_bytes: int, backend: str, known: dict[str, str]
) -> list[_FileResult]:
    return [_read_and_parse(seeds_dir, path, max_bytes, backend, known.get(path))
            for path in paths]


def _workers(files: int) -> AbstractContextManager[ProcessPoolExecutor | None]:
    """Worker processes for a sync that parses many files; none for a small one."""
    workers = os.cpu_count() or 1
    if files < PARALLEL_THRESHOLD or workers < 2:
        return nullcontext(None)
    return process_pool(workers)


class _CollectorPauses:
    """Who holds Python's cyclic garbage collector paused: it resumes when the last ends."""

    def __init__(self) -> None:
        self.holders = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        if not self.holders and not gc.isenabled():  # paused by someone else: theirs to resume
            yield
            return
        self.holders += 1
        gc.disable()
        try:
            yield
        finally:
            self.holders -= 1
            if not self.holders:
                gc.enable()


_PAUSES = _CollectorPauses()


def collector_paused() -> AbstractContextManager[None]:
    """Pause Python's cyclic garbage collector during a sync's transaction or a poll.

    A sync keeps hundreds of thousands of objects until it ends, none in reference cycles,
    and each full collection walks all of them: at 100,000 files that cost 8 s of CPU.
    During a poll, each full collection would walk every object of the process, a pause
    in the middle of the commands answered meanwhile. Memory is still freed as usual by
    reference counting. A sync and a poll may overlap: the collector resumes when both end.
    """
    return _PAUSES.held()


async def _parse_batches(
    seeds_dir: Path, paths: list[str], max_bytes: int, backend: str, known: dict[str, str],
    pool: ProcessPoolExecutor | None,
) -> AsyncIterator[list[_FileResult]]:
    """Parse files off the event loop, in worker processes when there are many; yields each
    batch as soon as it is parsed, so that storing it overlaps with parsing the rest."""
    root = str(seeds_dir)
    batches = [paths[i : i + WORKER_BATCH] for i in range(0, len(paths), WORKER_BATCH)]
    if pool is None:
        for batch in batches:
            yield await asyncio.to_thread(_parse_batch, root, batch, max_bytes, backend, known)
        return
    loop = asyncio.get_running_loop()
    waiting = iter(batches)
    running: set[asyncio.Future[list[_FileResult]]] = set()
    while True:
        for batch in itertools.islice(waiting, BATCHES_IN_FLIGHT - len(running)):
            running.add(loop.run_in_executor(
                pool, _parse_batch, root, batch, max_bytes, backend,
                {path: known[path] for path in batch if path in known},
            ))
        if not running:
            return
        done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            yield future.result()


def _merge_batch(groups: list[list[str]]) -> list[ArticleRow]:
    """Merge each article's versions into its row; runs in worker processes too."""
    return [article_row(*merge_json(texts)) for texts in groups]


async def _merged(
    versions: dict[str, list[str]], pool: ProcessPoolExecutor | None
) -> dict[str, ArticleRow]:
    """These articles' versions (JSON, by URL) merged into their rows, by URL.

    Merging is CPU work (decoding and comparing JSON): off the event loop it leaves the bot
    free to answer users, and in the sync's workers it uses every core.
    """
    urls = list(versions)
    batches = [[versions[url] for url in urls[i : i + MERGE_BATCH]]
               for i in range(0, len(urls), MERGE_BATCH)]
    if pool is None:
        done = [await asyncio.to_thread(_merge_batch, batch) for batch in batches]
    else:
        loop = asyncio.get_running_loop()
        done = await asyncio.gather(*(loop.run_in_executor(pool, _merge_batch, batch)
                                      for batch in batches))
    return dict(zip(urls, (row for rows in done for row in rows), strict=True))


class _FileSource(Protocol):
    """Where a sync reads what the store knows of files: the store, or its transaction."""

    async def file_stats(self) -> list[tuple[str, int, int]]: ...
    async def file_states(self, paths: Sequence[str]) -> dict[str, FileState]: ...
    async def failing_files(self) -> list[tuple[str, str]]: ...


class _Plan(NamedTuple):
    """What a sync has to do: the folder beside what the store knows."""

    compared: Compared
    known: dict[str, FileState]  # of the candidates and the removed
    failing: list[tuple[str, str]]  # stored failures of files on disk, not read again

    @property
    def candidates(self) -> list[str]:
        return self.compared.candidates

    @property
    def removed(self) -> list[str]:
        return self.compared.removed

    def report_to(self, report: SyncReport) -> None:
        """Set what the plan already tells of the sync (parsing tells the rest)."""
        compared = self.compared
        report.unchanged = compared.found - len(compared.candidates)
        report.removed = compared.removed
        report.kept = compared.kept
        report.unreadable = [place for place, _reason in compared.unreadable]
        report.failed = [*compared.unreadable, *self.failing]
        # An unreadable folder is news at every sync; a stored failing file was news once.
        report.newly_failed = list(compared.unreadable)


async def _plan(source: _FileSource, seeds_dir: Path, db_path: Path | None) -> _Plan:
    """The plan of a sync; the folder compared in a process of its own if `db_path` (the
    store's file, which that process reads) is given."""
    compared = None if db_path is None else await _compared_apart(seeds_dir, db_path)
    if compared is None:
        # Python work on every file: in a thread, so that commands go on meanwhile.
        compared = await asyncio.to_thread(compare, seeds_dir, await source.file_stats(),
                                           await source.failing_files())
    known = await source.file_states([*compared.candidates, *compared.removed])
    failing = [(path, error) for path, error in compared.failing if path not in known]
    return _Plan(compared, known, failing)


async def _apart_from(store: Store) -> Path | None:
    """The store's file, if its folder is large enough to be compared in a process of its
    own (see bot/folderscan.py); None: compare it here."""
    if not sys.executable or await store.folder_file_count() < SCAN_APART_FROM:
        return None
    return store.path


async def _compared_apart(seeds_dir: Path, db_path: Path) -> Compared | None:
    """`folderscan.compare_stored` run by its own script; None (and a warning) if that
    process could not give an answer, which the caller then works out itself."""
    request = json.dumps({"seeds": str(seeds_dir.resolve()), "db": str(db_path.resolve()),
                          "source": FOLDER_SOURCE, "stats_sql": FILE_STATS_SQL,
                          "failing_sql": FAILING_FILES_SQL})
    try:
        # -I -S: the standard library alone, whatever the environment says; it starts faster.
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", folderscan.__file__, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:  # no process to be had (a limit on processes, no memory)
        log.warning("could not start a process to compare the seeds folder (%s); comparing "
                    "it in the bot's process instead", exc.strerror or exc)
        return None
    try:
        output, errors = await child.communicate(request.encode())
    finally:
        if child.returncode is None:  # cancelled: leave no scan running for nobody
            child.kill()
            await child.wait()
    if child.returncode != 0:
        reason = (errors.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        log.warning("comparing the seeds folder in its own process failed (exit status %s: "
                    "%s); comparing it in the bot's process instead", child.returncode, reason)
        return None
    answer = json.loads(output)
    return Compared(answer["found"], answer["candidates"], answer["removed"], answer["kept"],
                    [tuple(pair) for pair in answer["unreadable"]],
                    [tuple(pair) for pair in answer["failing"]])


def _refusal(plan: _Plan, seeds_dir: Path, allow_empty: bool) -> str:
    """Why this plan must not run ("" if it may): it would empty the store because the
    folder is empty, as an unmounted volume is."""
    if allow_empty or plan.compared.found or plan.compared.unreadable or not plan.removed:
        return ""
    return (f"seeds folder {seeds_dir} holds no article files, but the store has the articles "
            f"of {len(plan.removed)} files: nothing removed (is a volume not mounted?); if "
            "the files are elsewhere, point NEWS_SEEDS_DIR (or --seeds) there; to empty the "
            "store on purpose, run: python -m bot load --allow-empty")


async def sync(
    store: Store,
    seeds_dir: Path | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backend: str = "auto",
    progress: Progress | None = None,
    allow_empty: bool = False,
) -> SyncReport:
    """Bring the store in line with the files under `seeds_dir`.

    Never because the folder vanished: a missing folder, or one suddenly empty (unless
    `allow_empty`), changes nothing and the report says why; files under a folder that
    cannot be read keep what the store has of them.
    """
    started = time.perf_counter()
    seeds_dir = Path(seeds_dir)
    report = SyncReport(seeds_dir=str(seeds_dir))
    problem = seeds_folder_problem(seeds_dir)
    if problem:
        report.refused = (f"seeds folder {seeds_dir} {problem}: nothing synced, the stored "
                          "articles stay; point NEWS_SEEDS_DIR (or --seeds) at the folder of "
                          "article files")
    else:
        await _sync_folder(store, seeds_dir, report, max_bytes, backend, progress, allow_empty)
    report.articles = await store.article_count()
    report.newly_failed.sort()
    report.failed.sort()
    report.duration = time.perf_counter() - started
    return report


async def _sync_folder(
    store: Store, seeds_dir: Path, report: SyncReport, max_bytes: int, backend: str,
    progress: Progress | None, allow_empty: bool,
) -> None:
    """The sync of a folder that is there: decided outside the write lock, so that a sync
    with nothing to do (most are) waits for no other and writes nothing; decided again
    inside it if another sync wrote meanwhile."""
    version = await store.data_version()  # before the reads the plan is made of
    apart = await _apart_from(store)
    plan = await _plan(store, seeds_dir, apart)
    if not _ready(plan, report, seeds_dir, allow_empty):
        return
    with _workers(len(plan.candidates)) as pool:
        async with store.transaction() as tx:
            if await store.data_version() != version:
                # Another sync (most likely another process's) committed while this one
                # waited for the lock: what it read is stale, and acting on it would add
                # the files that sync added a second time.
                # With the write lock held, a process of its own reads what `tx` does.
                plan = await _plan(tx, seeds_dir, apart)
                if not _ready(plan, report, seeds_dir, allow_empty):
                    return  # nothing written: the transaction commits empty
            # Hashes of files that loaded: a touched file with the same content needs no parse.
            good_hashes = {path: plan.known[path].hash for path in plan.candidates
                           if path in plan.known and not plan.known[path].error}
            with collector_paused():
                # No reference to the writer outlives `run`: what it held is freed before
                # the collector resumes, rather than walked by its next pass.
                await _SyncWriter(tx, plan.known, report).run(
                    _parse_batches(seeds_dir, sorted(plan.candidates), max_bytes, backend,
                                   good_hashes, pool),
                    len(plan.candidates), progress, pool,
                )
            await tx.set_meta("last_sync", datetime.now(UTC).isoformat())


def _ready(plan: _Plan, report: SyncReport, seeds_dir: Path, allow_empty: bool) -> bool:
    """Report what the plan tells; whether it has anything to write."""
    plan.report_to(report)
    report.refused = _refusal(plan, seeds_dir, allow_empty)
    if report.refused:
        report.removed = []
        return False
    return bool(plan.candidates or plan.removed)


class _SyncWriter:
    """One sync's writes, in its transaction: each parsed batch as it arrives, then the merge.

    An article is merged again only when some file's version of it changed: a file edited
    in its own article leaves its related stubs, and the articles they are, alone.
    """

    def __init__(self, tx: Transaction, known: dict[str, FileState], report: SyncReport,
                 source_id: int = FOLDER_SOURCE):
        self.tx = tx
        self.known = known
        self.report = report
        self.source_id = source_id
        self.parsed = 0
        self.next_file_id = 0  # set by `run`
        self.file_ids: dict[str, int] = {}
        self.loaded: set[int] = set()  # ids of the files this sync read and parsed
        # What loaded files mention, by file id (its own article's URL, then its related
        # stubs'), for those whose mentions differ from the store's: only theirs are written.
        # A file's versions are stored at once; only the fullest of each article is kept here.
        self.new_mentions: dict[int, list[str]] = {}
        self.fullest: Fullest[_Alone] = Fullest()
        # The latest date any new version gives, by URL (ISO 8601 in UTC: sorts as time does).
        self.published: dict[str, str] = {}
        self.affected: set[str] = set()  # URLs whose versions changed
        self.warnings: dict[str, tuple[str, ...]] = {}
        self.ids: dict[str, int] = {}  # by URL, the ids of the articles `finish` looked at

    async def run(
        self, batches: AsyncIterator[list[_FileResult]], total: int, progress: Progress | None,
        pool: ProcessPoolExecutor | None,
    ) -> None:
        """Store each parsed batch as it arrives, then merge and write the articles."""
        self.next_file_id = await self.tx.next_id("files")
        async for batch in batches:
            await self.add(batch)
            if progress:
                progress(self.parsed, total)
        await self.finish(pool)

    def _file_id(self, path: str) -> int:
        state = self.known.get(path)
        if state:
            return state.id
        self.next_file_id += 1
        return self.next_file_id - 1

    async def add(self, batch: list[_FileResult]) -> None:
        """Record one parsed batch: file rows, and for readable files their versions."""
        self.parsed += len(batch)
        rows: list[tuple[int, str, int, int, str, str | None]] = []
        loaded: list[tuple[int, _Loaded]] = []
        reloaded: list[int] = []  # ids of known files among them
        for item in batch:
            error = None
            file_id = self._file_id(item.path)
            if item.result is None:
                self.report.unchanged += 1  # touched, same content: only the stat is new
            elif isinstance(item.result, ParseError):
                self.report.failed.append((item.path, item.result.reason))
                self.report.newly_failed.append((item.path, item.result.reason))
                if not item.hash:  # unreadable: it keeps its old row until it can be read
                    continue
                error = item.result.reason
            else:
                self.warnings[item.path] = item.result.warnings
                (self.report.updated if item.path in self.known
                 else self.report.added).append(item.path)
                loaded.append((file_id, item.result))
                if item.path in self.known:
                    reloaded.append(file_id)
            self.file_ids[item.path] = file_id
            rows.append((file_id, item.path, item.size, item.mtime_ns, item.hash, error))
        before = await self.tx.stored_versions(reloaded)  # read before they are replaced
        await self.tx.record_files(rows, self.source_id)
        await self.tx.save_packed([(file_id, result.packed) for file_id, result in loaded])
        fullest, published, affected = self.fullest, self.published, self.affected
        remention: list[int] = []  # known files that mention other articles than before
        for file_id, result in loaded:
            # What the file said before, if anything: an article whose version in it is the
            # same JSON as before needs no merging again.
            said = before.get(file_id, ())
            old = {url: data for url, _stub, _when, data in said}
            mentions: list[str] = []
            for (url, _stub, when, data), version in result.versions:  # one URL each
                mentions.append(url)
                fullest.add(url, version)
                if old.pop(url, None) != data:
                    affected.add(url)
                if when > published.get(url, ""):
                    published[url] = when
            affected.update(old)  # articles the file no longer mentions
            self.loaded.add(file_id)
            # Versions are stored in the order mentions are (own article first): the same
            # URLs in the same order are the same mentions, which stay as they are.
            if mentions != [url for url, _stub, _when, _data in said]:
                self.new_mentions[file_id] = mentions
                if said:
                    remention.append(file_id)
        await self.tx.forget_mentions(remention)  # added again once every article has an id

    async def finish(self, pool: ProcessPoolExecutor | None) -> None:
        """Remove deleted files, then merge and write every affected article."""
        tx = self.tx
        report = self.report
        gone = self._removed_ids()
        for versions in (await tx.stored_versions(gone)).values():
            self.affected.update(url for url, _stub, _when, _data in versions)
        await tx.remove_files(gone)
        urls = sorted(self.affected | self.fullest.urls())
        ids = self.ids = await tx.article_ids(urls)
        stored = ids.keys() & self.affected  # affected articles that existed before
        first_new_id = await tx.next_id("articles")
        self._give_ids([url for url in urls if url in self.affected and url not in stored],
                       ids, first_new_id)
        rows: dict[int, ArticleRow] = {}
        # An article new in this sync is mentioned by files loaded in it alone: its fullest
        # version usually settles it. Others are checked against every file now mentioning it.
        to_check: list[str] = []
        # SQLite inserts the mentions (see `Transaction.add_mentions`) while this thread
        # settles the new articles.
        async with meanwhile(tx.add_mentions(self.new_mentions, ids)):
            for url in self.affected:
                row = None if url in stored else self._merged_fresh(url)
                if row is None:
                    to_check.append(url)
                else:
                    rows[ids[url]] = row
        files_of = await tx.mentioned_by({url: ids[url] for url in to_check})
        self._count_merged(files_of)
        unsettled: dict[str, dict[int, bool]] = {}
        for url, files in files_of.items():
            row = self._merged_fresh(url) if files.keys() <= self.loaded else None
            if row is None:
                unsettled[url] = files
            else:
                rows[ids[url]] = row
        for url, row in (await self._settled_over_stubs(unsettled, ids)).items():
            rows[ids[url]] = row
            del unsettled[url]
        merged = await _merged(await tx.versions_in(unsettled), pool)
        rows.update((ids[url], row) for url, row in merged.items())
        await tx.write_articles(rows, first_new_id)
        # Articles that no file mentions any more.
        deleted = sorted(ids[url] for url in to_check if url not in files_of)
        await tx.delete_articles(deleted)
        report.article_ids = sorted([*rows, *deleted])
        await tx.refresh_names()  # of the topics and providers just written or deleted
        for names in (report.added, report.updated):
            names.sort()
        report.warnings = [f"{path}: {warning}" for path in sorted(self.warnings)
                           for warning in self.warnings[path]]

    def _removed_ids(self) -> list[int]:
        """The ids of the files this sync removes."""
        return [self.known[path].id for path in self.report.removed]

    def _count_merged(self, files_of: dict[str, dict[int, bool]]) -> None:
        """Count the articles written that several files give in full: `files_of` has every
        file of those it holds; all files of the others are ones whose mentions are new."""
        own = Counter(mentions[0] for mentions in self.new_mentions.values())
        counts = [count for url, count in own.items()
                  if count > 1 and url in self.affected and url not in files_of]
        counts.extend(full for files in files_of.values()
                      if (full := len(files) - sum(files.values())) > 1)
        self.report.merged_articles, self.report.merged_files = len(counts), sum(counts)

    def _merged_fresh(self, url: str, others: int = 0) -> ArticleRow | None:
        """The row of an article whose versions were loaded in this sync, when its fullest
        version settles it; `others`: the fields its versions in files not read may give,
        all of which rank below that version (see `Fullest.merged`)."""
        alone = self.fullest.merged(url, others)
        if isinstance(alone, str):  # a stub's JSON: its article has no full version
            return article_row(record_from_json(alone), alone)
        return None if alone is None else ArticleRow._make(alone)

    async def _settled_over_stubs(
        self, unsettled: dict[str, dict[int, bool]], ids: dict[str, int]
    ) -> dict[str, ArticleRow]:
        """Stored articles that this sync read in full while every file it did not read gives
        them as a stub (the usual edit: a file's own article), settled by their fullest new
        version without reading any other.

        Those stubs rank below a full version, and give at most the fields the article had
        before (a merge keeps every field any version gives): when the fullest new version
        lacks none of these, the merge is that version.
        """
        over_stubs = [url for url, files in unsettled.items()
                      if all(is_stub for file_id, is_stub in files.items()
                             if file_id not in self.loaded)]
        before = await self.tx.article_data([ids[url] for url in over_stubs])
        settled: dict[str, ArticleRow] = {}
        for url in over_stubs:
            data = before.get(ids[url])  # None: new in this sync
            if data is None:
                continue
            row = self._merged_fresh(url, filled_fields(record_from_json(data)))
            if row is not None and not row.is_stub:
                settled[url] = row
        return settled

    def _give_ids(self, new_urls: list[str], ids: dict[str, int], next_id: int) -> None:
        """Give new articles (`new_urls`, sorted) ids in order of publication (see
        Transaction.next_id), and of URL between articles of the same date."""
        # A stable sort by date of the URL-sorted list: much faster in Python than one sort
        # on (date, URL) pairs.
        new_urls.sort(key=lambda url: self.published.get(url, ""))
        ids.update((url, next_id + offset) for offset, url in enumerate(new_urls))


# ---- feeds ---------------------------------------------------------------------------------

FEED_SOURCE_KEY = "source"  # marks a feed's versions, which any file's full version outranks


async def sync_feed(
    store: Store, feed: Feed, records: Sequence[Record], *, now: datetime, retention_days: int
) -> SyncReport:
    """Write one feed's new and changed entries in a transaction of its own (see
    `sync_feeds`)."""
    [report] = await sync_feeds(store, [(feed, records)], now=now,
                                retention_days=retention_days)
    return report


async def sync_feeds(
    store: Store, feeds: Sequence[tuple[Feed, Sequence[Record]]], *, now: datetime,
    retention_days: int,
) -> list[SyncReport]:
    """Write several feeds' new and changed entries (each its source's "file": path = the
    entry's canonical URL, its one version the entry's record) in one transaction, merged
    and written together as one sync of all of them would: a report each, in order (its
    `article_ids` those of its own entries), their duration the whole transaction's.

    Entries that dropped off a feed stay; those published more than `retention_days`
    before `now` are removed (0 keeps them forever). A feed removed meanwhile gets nothing.
    """
    started = time.perf_counter()
    reports = [SyncReport(seeds_dir=feed.url) for feed, _records in feeds]
    cutoff = now - timedelta(days=retention_days) if retention_days > 0 else None
    async with store.transaction() as tx:
        with collector_paused():
            await _write_feeds(tx, feeds, reports, now=now, cutoff=cutoff)
    articles = await store.article_count()
    for report in reports:
        report.articles = articles
        report.duration = time.perf_counter() - started
    return reports


class _FeedEntries(NamedTuple):
    """One feed's part of a group's write: its source, its current entries, its report."""

    source_id: int
    records: list[Record]
    report: SyncReport


async def _write_feeds(tx: Transaction, feeds: Sequence[tuple[Feed, Sequence[Record]]],
                       reports: list[SyncReport], *, now: datetime,
                       cutoff: datetime | None) -> None:
    """The writes of `sync_feeds`, inside its transaction: what the store knows of every
    feed's entries read in one query each, then one writer over them all."""
    sources = await tx.feed_sources([feed.id for feed, _records in feeds])
    parts: list[_FeedEntries] = []
    for (feed, records), report in zip(feeds, reports, strict=True):
        if feed.id not in sources:
            report.refused = f"feed {feed.url} was removed: its entries were not stored"
            continue
        parts.append(_FeedEntries(sources[feed.id], [
            record for record in records if cutoff is None
            or datetime.fromisoformat(record["published_at"]) >= cutoff], report))
    old = (await tx.entries_published_before([part.source_id for part in parts], cutoff)
           if cutoff is not None else {})
    paths: dict[int, list[str]] = {}
    for part in parts:
        urls = {record["url"] for record in part.records}
        part.report.removed = [url for url in old.get(part.source_id, ()) if url not in urls]
        paths[part.source_id] = [*sorted(urls), *part.report.removed]
    known = await tx.feed_file_states(paths)
    writer = _FeedsWriter(tx, await tx.next_id("files"))
    for part in parts:
        results = await _entry_results(tx, part.records, known[part.source_id], now,
                                       part.report)
        await writer.add_feed(part.source_id, known[part.source_id], part.report, results)
    await writer.write()


class _FeedsWriter(_SyncWriter):
    """A group of feeds' writes: each feed's entries recorded as files of its own source,
    then one merge and one write of every article they touched (one full-text insert, one
    renaming of topics and providers) instead of one of each per feed."""

    def __init__(self, tx: Transaction, next_file_id: int):
        super().__init__(tx, {}, SyncReport(seeds_dir=""))
        self.next_file_id = next_file_id
        self._gone: list[int] = []  # ids of the entries that expired, of every feed
        self._reports: list[SyncReport] = []

    async def add_feed(self, source_id: int, known: dict[str, FileState], report: SyncReport,
                       results: list[_FileResult]) -> None:
        """Record one feed's new and changed entries, and note its expired ones (its
        report's `removed`) for removal."""
        self.source_id, self.known, self.report = source_id, known, report
        self._gone.extend(known[path].id for path in report.removed)
        self._reports.append(report)
        if results:
            await self.add(results)

    def _removed_ids(self) -> list[int]:
        return self._gone

    async def write(self) -> None:
        """Merge and write every article the feeds' entries changed, and give each feed's
        report the ids of its own."""
        if not (self.loaded or self._gone):
            return
        self.report = SyncReport(seeds_dir="")
        await self.finish(None)
        written = set(self.report.article_ids)
        for report in self._reports:
            report.added.sort()
            report.updated.sort()
            own = {self.ids[url] for url in (*report.added, *report.updated, *report.removed)
                   if url in self.ids}
            report.article_ids = sorted(own & written)


async def remove_feed(store: Store, feed: Feed) -> SyncReport:
    """Forget a feed and its entries: an article only it gave goes, others lose its version."""
    started = time.perf_counter()
    report = SyncReport(seeds_dir=feed.url)
    async with store.transaction() as tx:
        source_id = await tx.feed_source(feed.id)
        if source_id is not None:
            paths = await tx.source_paths(source_id)
            report.removed = paths
            if paths:
                with collector_paused():
                    await _SyncWriter(tx, await tx.file_states(paths, source_id), report,
                                      source_id).run(_one_batch([]), 0, None, None)
            await tx.drop_feed(feed.id, source_id)
    report.articles = await store.article_count()
    report.duration = time.perf_counter() - started
    return report


async def _one_batch(results: list[_FileResult]) -> AsyncIterator[list[_FileResult]]:
    if results:
        yield results


async def _entry_results(
    tx: Transaction, records: Sequence[Record], known: dict[str, FileState], now: datetime,
    report: SyncReport,
) -> list[_FileResult]:
    """The entries new or changed since the store last had them, as parsed files are."""
    first_seen = await _first_seen(tx, records, known, now)
    results: list[_FileResult] = []
    for record in records:
        url = record["url"]
        entry = {**record, FEED_SOURCE_KEY: "feed"}
        if url in first_seen:  # undated: it keeps the date it was first seen at
            entry["published_at"] = first_seen[url]
        text = record_to_json(entry)
        digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        state = known.get(url)
        if state is not None and state.hash == digest:
            report.unchanged += 1
            continue
        results.append(_FileResult(url, 0, 0, digest, _loaded_records([entry], (), [text])))
    return results


async def _first_seen(tx: Transaction, records: Sequence[Record], known: dict[str, FileState],
                      now: datetime) -> dict[str, str]:
    """The stored dates of known entries that the feed dates `now` (it gave none, or one in
    the future): without this, such an entry would change at every poll."""
    now_text = now.astimezone(UTC).isoformat()
    ids = {known[record["url"]].id: record["url"] for record in records
           if record["published_at"] == now_text and record["url"] in known}
    stored = await tx.stored_versions(sorted(ids))
    return {ids[file_id]: published for file_id, versions in stored.items()
            for url, _stub, published, _data in versions if url == ids[file_id] and published}
