"""Command line: `run` the bot (default), `load` the corpus, `ask` it questions."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.articles import Article
from bot.config import ConfigError, Settings, load_settings
from bot.loader import SyncReport, seeds_folder_problem
from bot.queries import Answer, News, NotFound
from bot.store import Store
from bot.text import counted, page_of, plain

ASK_KINDS = ("latest", "topic", "provider", "related", "search", "article", "topics", "providers")


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start the Discord bot (the default)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seeds", type=Path, default=settings.seeds_dir,
                        help=f"folder of article files (default: {settings.seeds_dir})")
    common.add_argument("--db", type=Path, default=settings.db_path,
                        help=f"SQLite database (default: {settings.db_path})")
    load = commands.add_parser("load", parents=[common],
                               help="sync the seeds folder and print a report")
    load.add_argument("--allow-empty", action="store_true",
                      help="let an empty seeds folder empty the store (else it changes nothing)")
    ask = commands.add_parser(
        "ask", parents=[common], help="sync, then answer a question",
        description="Sync (cheap when nothing changed), then print the answer.",
    )
    ask.add_argument("kind", choices=ASK_KINDS)
    ask.add_argument("text", nargs="*", help="topic, provider, article (title, id or URL), query")
    ask.add_argument("--limit", type=_positive, default=10, help="results per page (default 10)")
    ask.add_argument("--page", type=_positive, default=1, help="page number (default 1)")
    return parser


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1-100)")
    return value


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rparsing {done}/{total} files", end=end, file=sys.stderr, flush=True)


def print_report(report: SyncReport) -> None:
    print(f"Synced {report.seeds_dir}: {report.summary()}")
    for label, paths in (("added", report.added), ("updated", report.updated),
                         ("removed", report.removed)):
        if paths and len(paths) <= 20:
            print(f"  {label}: {plain(', '.join(paths))}")
    for path, reason in report.failed:
        print(f"  FAILED {plain(str(Path(report.seeds_dir) / path))}: {plain(reason)}")
    if report.warnings:
        print(f"  {len(report.warnings)} warning(s):")
        for warning in report.warnings[:20]:
            print(f"    {plain(warning)}")


def print_answer(answer: Answer) -> None:
    page = answer.page
    count = counted(page.total, "article", more=page.capped)
    position = page_of(page.offset, page.limit, page.total, more=page.capped)
    print(f"{plain(answer.heading)} - {count} (page {position})\n")
    for number, article in enumerate(page.items, page.offset + 1):
        print_article(article, number)


def print_article(article: Article, position: int | None = None) -> None:
    lead = f"{position:>2}. " if position is not None else ""
    indent = " " * len(lead)
    print(f"{lead}{plain(article.title)}")
    provider = f"{plain(article.provider.name)} ({article.provider.domain})" \
        if article.provider else "unknown provider"
    when = f"{article.published_at:%Y-%m-%d %H:%M} UTC" if article.published_at else "undated"
    print(f"{indent}{provider} · {when} · id {article.article_id}")
    print(f"{indent}original: {article.link}")
    if article.amp_url:
        print(f"{indent}AMP:      {article.amp_url}")
    if position is None:
        if article.topics:
            print(f"topics: {plain(', '.join(article.topics))}")
        if article.excerpt:
            print(f"\n{plain(article.excerpt)}")
    print()


async def _ask(news: News, kind: str, text: str, limit: int, offset: int) -> int:
    if kind in ("topic", "provider", "related", "search", "article") and not text:
        print(f"error: `ask {kind}` needs something to look for, e.g. "
              f"python -m bot ask {kind} {_EXAMPLES[kind]}", file=sys.stderr)
        return 2
    result: Answer | NotFound
    if kind == "latest":
        result = await news.latest(limit, offset)
    elif kind == "topic":
        result = await news.topic(text, limit, offset)
    elif kind == "provider":
        result = await news.provider(text, limit, offset)
    elif kind == "related":
        result = await news.related(text, limit, offset)
    elif kind == "search":
        result = await news.search(text, limit, offset)
    elif kind == "article":
        article = await news.article(text)
        if isinstance(article, NotFound):
            return _not_found(article)
        print_article(article)
        return 0
    else:
        rows = ([(t.name, t.count) for t in news.topics()] if kind == "topics"
                else [(f"{p.name} ({p.domain})", p.count) for p in news.providers()])
        for name, count in rows:
            print(f"{count:>6}  {plain(name)}")
        return 0
    if isinstance(result, NotFound):
        return _not_found(result)
    print_answer(result)
    return 0


_EXAMPLES = {
    "topic": '"AI hardware"', "provider": '"the register"', "related": '"Meta Azure"',
    "search": "azure gpu", "article": "1",
}


def _not_found(result: NotFound) -> int:
    print(plain(result.message), file=sys.stderr)
    if result.suggestions:
        print("Did you mean: " + "; ".join(plain(s) for s in result.suggestions),
              file=sys.stderr)
    return 1


async def _with_news(args: argparse.Namespace, settings: Settings) -> int:
    async with await Store.open(args.db) as store:
        news = News(store, args.seeds, max_bytes=settings.max_file_bytes,
                    yaml_backend=settings.yaml_parser)
        if args.command == "load":
            return _load(await news.sync(progress=_progress, allow_empty=args.allow_empty))
        report = await news.sync(progress=_progress)
        if report.refused:  # answered from what is stored
            print(f"warning: {report.refused}", file=sys.stderr)
        for path, reason in report.failed:
            print(f"warning: skipped {Path(report.seeds_dir) / path}: {reason}", file=sys.stderr)
        text = " ".join(args.text).strip()
        return await _ask(news, args.kind, text, args.limit, (args.page - 1) * args.limit)


def _load(report: SyncReport) -> int:
    """Print what `load` did; 1 if it could not do all of it."""
    if report.refused:
        print(f"error: {report.refused}", file=sys.stderr)
        return 1
    print_report(report)
    if report.unreadable:
        print(f"error: part of {plain(report.seeds_dir)} could not be read (FAILED above); "
              "the stored articles of the files there are kept: make it readable and run "
              "load again", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(require_token=False)
        args = _parser(settings).parse_args(argv)
        command = args.command or "run"
        if command == "run":
            from bot.client import run_bot  # the Discord side is only imported to run it

            return run_bot(load_settings(require_token=True))
        logging.basicConfig(level=settings.log_level, format="%(levelname)s %(message)s")
        # `ask` answers from what is stored without the folder; `load` has nothing to do.
        problem = seeds_folder_problem(args.seeds) if command == "load" else None
        if problem:
            print(f"error: seeds folder {args.seeds} {problem}; nothing was changed. Point "
                  "--seeds DIR (or NEWS_SEEDS_DIR) at the folder of article files",
                  file=sys.stderr)
            return 2
        return asyncio.run(_with_news(args, settings))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (`ask latest | head`): not an error. Point stdout at
        # /dev/null so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
