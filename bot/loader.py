"""Directory sync: scan the seeds folder, parse what changed, write it in one transaction."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from bot.articles import article_to_json
from bot.merge import merge_json
from bot.parse import DEFAULT_MAX_BYTES, Parsed, ParseError, oversized, parse_article
from bot.store import (
    ArticleRow,
    FileState,
    FileVersions,
    Store,
    Transaction,
    article_row,
    pack_versions,
)

ARTICLE_SUFFIXES = (".txt", ".md", ".yml", ".yaml")
# Below this many changed files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 200
# Files per task sent to a worker: big enough to amortise pickling, small enough to balance.
WORKER_BATCH = 64
# Articles per merge task sent to a worker.
MERGE_BATCH = 1000

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class SyncReport:
    """What one sync did. Paths are relative to the seeds directory."""

    seeds_dir: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)
    articles: int = 0  # articles in the corpus after the sync
    duration: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line for logs and replies."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {self.unchanged} unchanged, "
            f"{len(self.removed)} removed, {len(self.failed)} failed; "
            f"{self.articles} articles in {self.duration:.2f} s"
        )


class _Stat(NamedTuple):
    """Size and mtime of a file on disk (a tuple: one is made per file per sync)."""

    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _FileResult:
    path: str
    size: int
    mtime_ns: int
    hash: str
    result: FileVersions | ParseError | None  # None: same content as the store has, not parsed


def scan(seeds_dir: Path) -> dict[str, _Stat]:
    """Every article file under `seeds_dir` (recursively, hidden entries skipped) with its stat."""
    found: dict[str, _Stat] = {}
    pending = [(seeds_dir, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # a folder that vanished or cannot be read holds nothing we can load
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            try:
                if name.lower().endswith(ARTICLE_SUFFIXES) and entry.is_file():
                    stat = entry.stat()
                    found[prefix + name] = _Stat(stat.st_size, stat.st_mtime_ns)
                elif entry.is_dir():
                    pending.append((Path(entry.path), f"{prefix}{name}/"))
            except OSError:
                continue
    return found


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
            # Read one byte past the limit: enough to know the file is too big.
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return _FileResult(path, 0, 0, "", ParseError(path, f"cannot read: {exc.strerror}"))
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == known_hash and stat.st_size <= max_bytes:
        return _FileResult(path, stat.st_size, stat.st_mtime_ns, digest, None)
    if stat.st_size > max_bytes:
        return _FileResult(path, stat.st_size, stat.st_mtime_ns, digest,
                           oversized(path, stat.st_size, max_bytes))
    parsed = parse_article(data, path, max_bytes=max_bytes, backend=backend)
    result = parsed if isinstance(parsed, ParseError) else _file_versions(path, parsed)
    return _FileResult(path, stat.st_size, stat.st_mtime_ns, digest, result)


def _file_versions(path: str, parsed: Parsed) -> FileVersions:
    """A parsed file as the store takes it, encoded here in the worker to spare the parent."""
    article = parsed.article
    versions = tuple((a.url, a.is_stub, article_to_json(a)) for a in (article, *article.related))
    return FileVersions(path, versions, pack_versions(versions), parsed.warnings)


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
    # spawn, not fork: the parent runs threads (aiosqlite, the event loop) that fork would copy.
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"))


async def _parse_all(
    seeds_dir: Path, paths: list[str], max_bytes: int, backend: str, progress: Progress | None,
    known: dict[str, str], pool: ProcessPoolExecutor | None,
) -> list[_FileResult]:
    """Parse files off the event loop: in worker processes when there are many."""
    root = str(seeds_dir)
    batches = [paths[i : i + WORKER_BATCH] for i in range(0, len(paths), WORKER_BATCH)]
    loop = asyncio.get_running_loop()
    results: list[_FileResult] = []
    if pool is None:
        for batch in batches:
            results.extend(
                await asyncio.to_thread(_parse_batch, root, batch, max_bytes, backend, known)
            )
            if progress:
                progress(len(results), len(paths))
        return results
    futures = [
        loop.run_in_executor(pool, _parse_batch, root, batch, max_bytes, backend,
                             {path: known[path] for path in batch if path in known})
        for batch in batches
    ]
    for future in asyncio.as_completed(futures):
        results.extend(await future)
        if progress:
            progress(len(results), len(paths))
    return results


def _merge_batch(groups: list[tuple[str, list[str]]]) -> list[ArticleRow]:
    """Merge each article's versions into its row; runs in worker processes too."""
    return [article_row(*merge_json(texts)) for _url, texts in groups]


async def _merge_all(
    versions: dict[str, list[str]], pool: ProcessPoolExecutor | None
) -> dict[str, ArticleRow]:
    """Every article's versions merged, by URL: in the sync's worker processes if it has them.

    Merging is CPU work (decoding and comparing JSON); off the event loop it leaves the bot
    free to answer users, and in the workers it uses every core.
    """
    groups = list(versions.items())
    if pool is None:
        rows = await asyncio.to_thread(_merge_batch, groups)
    else:
        loop = asyncio.get_running_loop()
        batches = [groups[i : i + MERGE_BATCH] for i in range(0, len(groups), MERGE_BATCH)]
        done = await asyncio.gather(
            *(loop.run_in_executor(pool, _merge_batch, batch) for batch in batches)
        )
        rows = [row for batch_rows in done for row in batch_rows]
    return {url: row for (url, _texts), row in zip(groups, rows, strict=True)}


async def sync(
    store: Store,
    seeds_dir: Path | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backend: str = "auto",
    progress: Progress | None = None,
) -> SyncReport:
    """Bring the store in line with the files under `seeds_dir`."""
    started = time.perf_counter()
    seeds_dir = Path(seeds_dir)
    report = SyncReport(seeds_dir=str(seeds_dir))
    if not seeds_dir.is_dir():
        raise FileNotFoundError(f"seeds directory {seeds_dir} does not exist")
    on_disk = await asyncio.to_thread(scan, seeds_dir)
    known = await store.file_states()
    candidates = []
    for path, stat in on_disk.items():
        state = known.get(path)
        if state and state.size == stat.size and state.mtime_ns == stat.mtime_ns:
            report.unchanged += 1
            if state.error:
                report.failed.append((path, state.error))
        else:
            candidates.append(path)
    removed = sorted(set(known) - set(on_disk))
    # Hashes of files that loaded: a touched file with the same content needs no parse.
    good_hashes = {path: known[path].hash for path in candidates
                   if path in known and not known[path].error}
    with _workers(len(candidates)) as pool:
        parsed = await _parse_all(seeds_dir, sorted(candidates), max_bytes, backend, progress,
                                  good_hashes, pool)
        file_rows: list[tuple[str, int, int, str, str | None]] = []
        loaded: list[FileVersions] = []
        for item in sorted(parsed, key=lambda r: r.path):
            file_row = (item.path, item.size, item.mtime_ns, item.hash, None)
            if item.result is None:
                report.unchanged += 1  # touched, same content: only the stat is new
                file_rows.append(file_row)
            elif isinstance(item.result, ParseError):
                report.failed.append((item.path, item.result.reason))
                if item.hash:  # an unreadable file keeps its old row until it can be read
                    file_rows.append((*file_row[:4], item.result.reason))
            else:
                report.warnings.extend(f"{item.path}: {text}" for text in item.result.warnings)
                (report.updated if item.path in known else report.added).append(item.path)
                file_rows.append(file_row)
                loaded.append(item.result)
        report.removed = removed
        if file_rows or removed:
            async with store.transaction() as tx:
                await _write(tx, known, file_rows, loaded, removed, pool)
                await tx.set_meta("last_sync", datetime.now(UTC).isoformat())
        else:
            await store.set_meta("last_sync", datetime.now(UTC).isoformat())
    report.articles = await store.article_count()
    report.failed.sort()
    report.duration = time.perf_counter() - started
    return report


async def _write(
    tx: Transaction,
    known: dict[str, FileState],
    file_rows: list[tuple[str, int, int, str, str | None]],
    loaded: list[FileVersions],
    removed: list[str],
    pool: ProcessPoolExecutor | None,
) -> None:
    """Store one sync's file rows and versions, and merge again every article they changed."""
    reloaded = [known[f.path].id for f in loaded if f.path in known]
    gone = [known[path].id for path in removed]
    before = await tx.stored_versions(reloaded + gone)
    await tx.remove_files(gone)
    file_ids = await tx.record_files(file_rows)
    # An article is merged again only when some file's version of it changed: a file
    # edited in its own article leaves its related stubs, and the articles they are, alone.
    fresh: dict[str, list[str]] = {}
    affected: set[str] = set()
    for f in loaded:
        old = {url: data for url, _is_stub, data in before.get(file_ids[f.path], ())}
        new = {url: data for url, _is_stub, data in f.versions}
        for url, data in new.items():
            fresh.setdefault(url, []).append(data)
        affected.update(url for url in old.keys() | new.keys() if old.get(url) != new.get(url))
    for file_id in gone:
        affected.update(url for url, _is_stub, _data in before.get(file_id, ()))
    ids = await tx.article_ids(sorted(affected | fresh.keys()))
    versions = await tx.versions_elsewhere(
        {url: ids[url] for url in affected if url in ids}, skip_files=set(reloaded)
    )
    for url in affected & fresh.keys():
        versions.setdefault(url, []).extend(fresh[url])
    merged = await _merge_all(versions, pool)
    next_id = await tx.next_article_id()
    # Undated articles first, then by publication time.
    new_urls = sorted((url for url in merged if url not in ids),
                      key=lambda url: (merged[url].published_at or 0, url))
    ids.update((url, next_id + offset) for offset, url in enumerate(new_urls))
    await tx.save_versions(file_ids, loaded, ids)
    await tx.write_articles({ids[url]: result for url, result in merged.items()})
    await tx.delete_articles(sorted(ids[url] for url in affected - merged.keys() if url in ids))
    await tx.refresh_names()

