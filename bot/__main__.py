"""Command line: `run` the bot (default), `load` the corpus, `ask` it questions, manage
`feeds` and `fetch` them."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from bot.articles import Article, is_http_url
from bot.ask import Asker
from bot.config import ConfigError, Settings, load_settings
from bot.exceptions import NewsBotError
from bot.feeds.fetch import Fetcher
from bot.feeds.listing import FetchReport, feed_line
from bot.feeds.opml import FeedEntry, OpmlError, read_opml, write_opml
from bot.follows.render import describe
from bot.loader import seeds_folder_problem
from bot.logs import setup_logging
from bot.queries import Answer, FeedListError, News, NotFound
from bot.results import SyncReport
from bot.store import Store
from bot.text import counted, echo, page_of, plain
from bot.trending import Trending

PROG = "python -m bot"
ASK_KINDS = ("latest", "topic", "provider", "related", "search", "article", "topics", "providers",
             "trending", "question")
WORDLESS_KINDS = ("latest", "topics", "providers", "trending")
ERROR_LIMIT = 300  # characters of an argparse error: it may repeat every word typed
HINT_LIMIT = 300  # a longer command is not offered to copy: it would flood the terminal


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one short line however much was typed."""

    def error(self, message: str) -> NoReturn:
        super().error(echo(message, ERROR_LIMIT))


class _Given(argparse.Action):
    """An option's value, also noted in `given` so that a hint can repeat the command."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = {**namespace.given, self.option_strings[0]: str(values)}


class _Words(argparse.Action):
    """The words of a question; a usage error if its kind takes none, so none is dropped."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        words = list(values or ())
        if words and namespace.kind in WORDLESS_KINDS:
            parser.error(f"`ask {namespace.kind}` takes no words; not used: "
                         f"{echo(shlex.join(words))}")
        setattr(namespace, self.dest, words)


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start the Discord bot (the default)")
    common = _Parser(add_help=False)
    common.set_defaults(given={})
    common.add_argument("--seeds", type=Path, default=settings.seeds_dir, action=_Given,
                        help=f"folder of article files (default: {settings.seeds_dir})")
    common.add_argument("--db", type=Path, default=settings.db_path, action=_Given,
                        help=f"SQLite database (default: {settings.db_path})")
    common.add_argument("--quiet", action="store_true",
                        help="no warnings and no progress; errors are still shown")
    load = commands.add_parser("load", parents=[common],
                               help="sync the seeds folder and print a report")
    load.add_argument("--allow-empty", action="store_true",
                      help="let an empty seeds folder empty the store (else it changes nothing)")
    ask = commands.add_parser(
        "ask", parents=[common], help="sync, then answer a question",
        description="Sync (cheap when nothing changed), then print the answer.",
    )
    ask.add_argument("kind", type=_kind, choices=ASK_KINDS)
    ask.add_argument("text", nargs="*", action=_Words,
                     help="topic, provider, article (title, id or URL), query, question")
    ask.add_argument("--limit", type=_positive, default=10, action=_Given,
                     help="results per page (default 10)")
    ask.add_argument("--page", type=_positive, default=1, help="page number (default 1)")
    _feed_commands(commands, settings)
    follows = commands.add_parser("follows", help="every server's follows with their state")
    follows.add_argument("--db", type=Path, default=settings.db_path,
                         help=f"SQLite database (default: {settings.db_path})")
    return parser


def _feed_commands(commands: Any, settings: Settings) -> None:
    """`feeds add|remove|list|import|export` and `fetch`."""
    db = _Parser(add_help=False)
    db.add_argument("--db", type=Path, default=settings.db_path,
                    help=f"SQLite database (default: {settings.db_path})")
    feeds = commands.add_parser("feeds", help="manage the feed list")
    actions = feeds.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[db], help="add feeds by URL")
    add.add_argument("urls", nargs="+", metavar="URL", help="http(s) address of a feed")
    remove = actions.add_parser("remove", parents=[db],
                                help="remove a feed and the articles only it gave")
    remove.add_argument("url", metavar="URL")
    actions.add_parser("list", parents=[db], help="every feed with its state")
    opml = actions.add_parser("import", parents=[db], help="add the feeds of an OPML file")
    opml.add_argument("file", type=Path, metavar="FILE.opml")
    actions.add_parser("export", parents=[db], help="print the feed list as OPML")
    fetch = commands.add_parser("fetch", parents=[db], help="poll the feeds that are due")
    fetch.add_argument("--all", action="store_true", dest="all_feeds",
                       help="poll every feed now, ignoring schedules and back-off")


def _kind(raw: str) -> str:
    """A kind of question; argparse's own message would repeat all of a long word."""
    if raw not in ASK_KINDS:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {echo(raw)!r} (choose from {', '.join(ASK_KINDS)})")
    return raw


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{echo(raw)!r} is not a whole number") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1-100)")
    return value


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rparsing {done}/{total} files", end=end, file=sys.stderr, flush=True)


def print_report(report: SyncReport, *, quiet: bool = False) -> None:
    """The load report; paths are relative to the seeds folder it names first."""
    print(f"Synced {report.seeds_dir}: {report.summary()}")
    for label, paths in (("added", report.added), ("updated", report.updated),
                         ("removed", report.removed)):
        if paths and len(paths) <= 20:
            print(f"  {label}: {plain(', '.join(paths))}")
    for path, reason in report.failed:
        # "" is the seeds folder itself (it could not be read).
        print(f"  FAILED {plain(path) or 'the seeds folder'}: {plain(reason)}")
    if report.warnings and not quiet:
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
    """A numbered line of a list (with its links), or with no `position` the whole card."""
    lead = f"{position:>2}. " if position is not None else ""
    indent = " " * len(lead)
    print(f"{lead}{plain(article.title)}")
    provider = f"{plain(article.provider.name)} ({plain(article.provider.domain)})" \
        if article.provider else "unknown provider"
    when = f"{article.published_at:%Y-%m-%d %H:%M} UTC" if article.published_at else "undated"
    print(f"{indent}{provider} · {when} · id {article.article_id}")
    links = _links(article, card=position is None)
    width = max(len(label) for label, _url in links) + 2
    for label, url in links:
        print(f"{indent}{label + ':':<{width}}{plain(url)}")
    if position is None:
        if article.topics:
            print(f"topics: {plain(', '.join(article.topics))}")
        if article.excerpt:
            print(f"\n{plain(article.excerpt)}")
    print()


def _links(article: Article, *, card: bool) -> list[tuple[str, str]]:
    """What the Discord card links to (its buttons and image); a list line keeps two."""
    links = [("original", article.link), ("AMP", article.amp_link)]
    if card:
        image = next((each.url for each in article.images if is_http_url(each.url)), None)
        links += [("AMP cache", article.amp_cache_link), ("image", image)]
    return [(label, url) for label, url in links if url]


async def _ask(news: News, args: argparse.Namespace) -> int:
    kind = args.kind
    text = " ".join(args.text).strip()
    limit = args.limit
    offset = (args.page - 1) * limit
    if kind in ("topic", "provider", "related", "search", "article", "question") and not text:
        print(f"error: `ask {kind}` needs something to look for, e.g. "
              f"python -m bot ask {kind} {_EXAMPLES[kind]}", file=sys.stderr)
        return 2
    result: Answer | NotFound
    if kind == "question":
        asked = await Asker(news).ask(text, datetime.now(UTC), limit, offset)
        print(plain(asked.line))
        if isinstance(asked.result, Trending):
            print("\n".join(plain(line) for line in asked.result.lines()))
            return 0
        if isinstance(asked.result, NotFound):
            return _not_found(asked.result)
        return _print_page(asked.result, args)
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
    elif kind == "trending":
        trending = await news.trending(datetime.now(UTC))
        print("\n".join(plain(line) for line in trending.lines()))
        return 0
    else:
        rows = ([(t.name, t.count) for t in news.topics()] if kind == "topics"
                else [(f"{p.name} ({p.domain})", p.count) for p in news.providers()])
        for name, count in rows:
            print(f"{count:>6}  {plain(name)}")
        return 0
    if isinstance(result, NotFound):
        return _not_found(result)
    return _print_page(result, args)


def _print_page(answer: Answer, args: argparse.Namespace) -> int:
    """The asked page and how to get the next; an error for a page past the last."""
    page = answer.page
    last = max(1, -(-page.total // page.limit))
    if not page.items and page.offset > 0:
        pages = counted(last, "page", more=page.capped)
        print(f"error: there is no page {args.page} ({echo(answer.heading)} has {pages});"
              f" the last is page {last}{_command(args, last)}", file=sys.stderr)
        return 1
    print_answer(answer)
    if page.offset + page.limit < page.total:
        print(f"Next page: page {args.page + 1}{_command(args, args.page + 1)}")
    return 0


def _command(args: argparse.Namespace, page: int) -> str:
    """`: <the command to type>` for `page` of the same answer, or how to change the one
    typed."""
    options = [word for option in args.given.items() for word in option]
    options += ["--page", str(page)]
    if any(word.startswith("-") for word in args.text):  # after `--`, or taken as options
        words = [*options, args.kind, "--", *args.text]
    else:
        words = [args.kind, *args.text, *options]
    command = shlex.join([*PROG.split(), "ask", *words])
    # Only a command that prints as it would be typed: no invisible or control character.
    if echo(command, HINT_LIMIT) == command:
        return f": {command}"
    return f" (the same command with --page {page})"


_EXAMPLES = {
    "topic": '"AI hardware"', "provider": '"the register"', "related": '"Meta Azure"',
    "search": "azure gpu", "article": "1",
    "question": "what did Microsoft do in AI hardware last week?",
}


def _not_found(result: NotFound) -> int:
    print(plain(result.message), file=sys.stderr)
    if result.suggestions:
        print("Did you mean: " + "; ".join(plain(s) for s in result.suggestions),
              file=sys.stderr)
    return 2 if result.malformed else 1


async def _with_news(args: argparse.Namespace, settings: Settings) -> int:
    async with await Store.open(args.db) as store:
        news = News(store, args.seeds, max_bytes=settings.max_file_bytes,
                    yaml_backend=settings.yaml_parser)
        progress = None if args.quiet else _progress
        if args.command == "load":
            return _load(await news.sync(progress=progress, allow_empty=args.allow_empty),
                         quiet=args.quiet)
        report = await news.sync(progress=progress)
        if not args.quiet:
            print_skipped(report)
        return await _ask(news, args)


def print_skipped(report: SyncReport) -> None:
    """Warnings for an `ask`: the folder it could not sync, and each failing file this sync
    read (earlier ones were reported then)."""
    if report.refused:  # answered from what is stored
        print(f"warning: {plain(report.refused)}", file=sys.stderr)
    for path, reason in report.newly_failed:
        print(f"warning: skipped {plain(str(Path(report.seeds_dir) / path))}: {plain(reason)}",
              file=sys.stderr)


def _load(report: SyncReport, *, quiet: bool) -> int:
    """Print what `load` did; 1 if it could not do all of it."""
    if report.refused:
        print(f"error: {plain(report.refused)}", file=sys.stderr)
        return 1
    print_report(report, quiet=quiet)
    if report.unreadable:
        print(f"error: part of {plain(report.seeds_dir)} could not be read (FAILED above); "
              "the stored articles of the files there are kept: make it readable and run "
              "load again", file=sys.stderr)
        return 1
    return 0


def news_for(store: Store, settings: Settings, seeds: Path | None = None) -> News:
    """The corpus on `store` as the settings ask."""
    return News(store, seeds or settings.seeds_dir, max_bytes=settings.max_file_bytes,
                yaml_backend=settings.yaml_parser, feed_minutes=settings.feeds_minutes or 15,
                feed_retention_days=settings.feed_retention_days)


async def feeds_command(args: argparse.Namespace, settings: Settings) -> int:
    """`feeds …` and `fetch`."""
    if args.command == "feeds" and args.action == "add":
        bad = [url for url in args.urls if not is_http_url(url)]
        if bad:  # before opening anything: none is added
            print(f"error: not an http(s) URL: {echo(bad[0])!r}; give each feed's full "
                  "address, like https://example.com/feed.xml (no feed was added)",
                  file=sys.stderr)
            return 2
    entries: list[FeedEntry] = []
    if args.command == "feeds" and args.action == "import":
        read = _read_feed_file(args.file)
        if isinstance(read, str):
            print(f"error: {read}; no feed was added", file=sys.stderr)
            return 1
        entries = read
    async with await Store.open(args.db) as store:
        news = news_for(store, settings)
        # The bundled list is the default: `feeds list` on a fresh install shows it.
        await _merge_feed_list(news, settings)
        if args.command == "fetch":
            return await _fetch(news, settings, all_feeds=args.all_feeds)
        if args.action == "add":
            return await _add_feeds(news, args.urls)
        if args.action == "remove":
            return await _remove_feed(news, args.url)
        if args.action == "import":
            added = await store.feeds.merge(entries, again=True)
            print(f"Imported {args.file}: {counted(len(added), 'feed')} added, "
                  f"{len(entries) - len(added)} already listed")
            return 0
        feeds = await store.feeds.all()
        if args.action == "export":
            print(write_opml(FeedEntry(feed.url, feed.title, feed.topic_hint) for feed in feeds),
                  end="")
            return 0
        if not feeds:
            print("No feeds. Add one with: python -m bot feeds add URL")
        for feed in feeds:
            print(plain(feed_line(feed)))
        return 0


def _read_feed_file(path: Path) -> list[FeedEntry] | str:
    """The feeds an OPML file lists, or why it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    entries = read_opml(data)
    return f"{path}: {entries}" if isinstance(entries, OpmlError) else entries


async def _add_feeds(news: News, urls: list[str]) -> int:
    for url in urls:
        before = await news.store.feeds.get(url)
        feed, created = await news.store.feeds.add(url)
        if created:
            print(f"added {plain(feed.url)}")
        elif before is not None and before.status == "disabled":
            print(f"enabled again {plain(feed.url)} (it was disabled: "
                  f"{plain(before.last_error or 'no reason given')})")
        else:
            print(f"already listed: {plain(feed.url)}")
    print("Poll them now with: python -m bot fetch")
    return 0


async def _remove_feed(news: News, url: str) -> int:
    removed = await news.remove_feed(url)
    if removed is None:
        print(f"error: no feed has the URL {echo(url)!r}; see the list with: python -m bot "
              "feeds list", file=sys.stderr)
        return 1
    feed, report = removed
    entries = len(report.removed)
    print(f"removed {plain(feed.url)} and its {entries} entr{'y' if entries == 1 else 'ies'}; "
          f"{counted(report.articles, 'article')} left")
    return 0


async def _merge_feed_list(news: News, settings: Settings) -> None:
    """Add the feeds of NEWS_FEEDS_FILE not yet known (never one the operator removed)."""
    try:
        added = await news.merge_feed_list(settings.feeds_file)
    except FeedListError as exc:
        print(f"warning: {exc}", file=sys.stderr)
        return
    if added:
        print(f"Added {counted(len(added), 'feed')} from {settings.feeds_file}",
              file=sys.stderr)


async def _fetch(news: News, settings: Settings, *, all_feeds: bool) -> int:
    async with Fetcher(allow_private=settings.feeds_allow_private,
                       max_bytes=settings.feed_max_bytes) as fetcher:
        report = await news.fetch(fetcher, all_feeds=all_feeds)
    return print_fetch(report, all_feeds=all_feeds)


def print_fetch(report: FetchReport, *, all_feeds: bool) -> int:
    """The fetch report; 1 when every feed polled failed (no network, as a rule)."""
    if not report.listed:
        print("No feeds to poll. Add one with: python -m bot feeds add URL")
        return 0
    if not report.feeds:
        print(f"No feed is due ({counted(report.listed, 'feed')} listed); "
              "python -m bot fetch --all polls every feed now")
        return 0
    for outcome in sorted(report.feeds, key=lambda each: each.url):
        print(f"  {plain(outcome.line())}")
    print(f"Fetch: {report.summary()}")
    if len(report.failed) == len(report.feeds):
        print("error: every feed failed (see FAILED above); check the network, then run "
              f"python -m bot fetch{' --all' if all_feeds else ''} again", file=sys.stderr)
        return 1
    return 0


async def _list_follows(db: Path) -> int:
    """`follows`: one line per follow, for the operator (no Discord needed)."""
    async with await Store.open(db) as store:
        follows = await store.follows.all()
        topics = {topic.name.casefold(): topic.name for topic in await store.topic_counts()}
        providers = {p.domain: p.name for p in await store.provider_counts()}
    if not follows:
        print("No follows. Server admins add them with /follow add in Discord.")
        return 0
    for follow in follows:
        last = f", last {follow.last_post_at:%Y-%m-%d %H:%M} UTC" if follow.last_post_at else ""
        print(f"#{follow.id} server {follow.guild_id} channel {follow.channel_id}: "
              f"{plain(describe(follow, topics, providers))} · {follow.posted} posted{last} · "
              f"{plain(follow.state())}")
    print(counted(len(follows), "follow"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(require_token=False)
        args = _parser(settings).parse_args(argv)
        command = args.command or "run"
        if command == "run":
            from bot.client import run_bot  # the Discord side is only imported to run it

            return run_bot(load_settings(require_token=True))
        setup_logging(settings)
        if command in ("feeds", "fetch"):
            return asyncio.run(feeds_command(args, settings))
        if command == "follows":
            return asyncio.run(_list_follows(args.db))
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
    except (NewsBotError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
