"""Benchmark of the metrics: what counting and scraping add to a command, and /healthz's speed.

    python bench/metrics.py [--corpus DIR] [--work DIR]

The real bot (`python -m bot run`) runs in a child process against tests/fake_discord.py in
this one, twice on the same corpus: without NEWS_METRICS_PORT, then with it and /metrics
scraped every second (fifteen times Prometheus' default). Each run times commands one at a
time and in bursts of 50. On a shared machine the difference of two such runs is mostly
noise, so the overhead figure is a bound instead: the instrumentation's own cost per command
and a scrape's (median) cost after a burst's commands were counted, measured directly,
against the smaller command p99 of the two runs (idle, a command pays its own count; in a
burst, every command pays its count and at most one scrape lands inside it, as scrapes come
seconds apart).
Then /healthz is asked HEALTHZ_REQUESTS times, one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: make `bot` and `tests` importable

from bot.metrics import COMMAND_OUTCOMES, Metrics  # noqa: E402

SEQUENTIAL = 300
BURST = 50
BURST_ROUNDS = 5
SCRAPE_INTERVAL = 1.0
HEALTHZ_REQUESTS = 200
INSTRUMENT_CALLS = 100_000
SCRAPES = 200
READY_WAIT = 3.0
TARGETS = {"metrics_overhead_pct": 1.0, "healthz_p99_ms": 5.0}
# `python -m bot run` with discord.py pointed at the fake on 127.0.0.1 (as the tests do).
DRIVER = """
import sys, yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = sys.argv[1], yarl.URL(sys.argv[2])
from bot.__main__ import main
sys.exit(main(["run"]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command_names(payload: list[dict[str, Any]], parent: str = "") -> list[str]:
    """Qualified names of every command in a command payload (groups walked)."""
    names = []
    for command in payload:
        name = f"{parent} {command['name']}".strip()
        children = [o for o in command.get("options", []) if o.get("type") in (1, 2)]
        names += command_names(children, name) if children else [name]
    return names


def instrument_us() -> float:
    """Microseconds the tree's count of one answered command costs (Metrics.command_done)."""
    metrics = Metrics()
    started = time.perf_counter()
    for number in range(INSTRUMENT_CALLS):
        metrics.command_done("news latest", COMMAND_OUTCOMES[number % 3], started)
    return (time.perf_counter() - started) / INSTRUMENT_CALLS * 1e6


def scrape_ms(command_names: list[str], burst: list[str]) -> list[float]:
    """Milliseconds per exposition of a registry holding every command with every outcome,
    each scrape after a burst's commands (`burst`, their names) were counted: what changed
    since the last scrape is what a scrape inside a burst has to format again."""
    metrics = Metrics()
    for name in command_names:
        for outcome in COMMAND_OUTCOMES:
            metrics.command_done(name, outcome, time.perf_counter())
    timings = []
    for _ in range(SCRAPES):
        for name in burst:
            metrics.command_done(name, "ok", time.perf_counter())
        started = time.perf_counter()
        metrics.exposition()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def child_env(corpus: Path, db_path: Path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NEWS_", "DISCORD_"))}
    env.update(PYTHONPATH=str(REPO), DISCORD_TOKEN="x" * 60, NEWS_SEEDS_DIR=str(corpus),
               NEWS_DB_PATH=str(db_path), NEWS_SYNC_MINUTES="0", NEWS_FEEDS_FILE="",
               NEWS_FEEDS_MINUTES="0", NEWS_LOG_LEVEL="WARNING",
               NEWS_METRICS_PORT=str(port))
    return env


async def _scrape_every(port: int, session: aiohttp.ClientSession) -> None:
    while True:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            await response.read()
        await asyncio.sleep(SCRAPE_INTERVAL)


async def _until_ready(port: int, session: aiohttp.ClientSession) -> None:
    """Wait for on_ready (discord.py: 2 s after the last server arrived): /healthz says so
    when the port is set; the run without it waits as long."""
    if not port:
        await asyncio.sleep(READY_WAIT)
        return
    async with asyncio.timeout(60):
        while True:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.1)


async def _healthz_ms(port: int, session: aiohttp.ClientSession) -> list[float]:
    timings = []
    for _ in range(HEALTHZ_REQUESTS):
        started = time.perf_counter()
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"/healthz answered {response.status}: {await response.text()}")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def run_bot(fake: Any, env: dict[str, str], commands: list[tuple[str, dict[str, Any]]],
                  port: int) -> dict[str, list[float]]:
    """One bot child: its command latencies, one at a time and in bursts (scraped when
    `port` is set), then /healthz's (when set)."""
    from bench.run import _burst, _one_command

    first = len(fake.gateway_sessions)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRIVER, fake.api_base, fake.gateway_url, cwd=REPO, env=env)
    async with aiohttp.ClientSession() as session:
        try:
            await fake.wait_until_connected(since=first, timeout=600)
            if not fake.global_commands:
                await fake.wait_for_request("PUT", r"/applications/\d+/commands$", timeout=600)
            await _until_ready(port, session)
            for command in commands[:20]:  # first use of every code path
                await _one_command(fake, command)
            scraper = asyncio.create_task(_scrape_every(port, session)) if port else None
            sequential = [await _one_command(fake, commands[i % len(commands)])
                          for i in range(SEQUENTIAL)]
            burst: list[float] = []
            for round_number in range(BURST_ROUNDS):
                burst += await _burst(fake, [commands[(round_number * BURST + i) % len(commands)]
                                             for i in range(BURST)])
            if scraper is not None:
                scraper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scraper
            healthz = await _healthz_ms(port, session) if port else []
        finally:
            if child.returncode is None:
                child.terminate()
            await child.wait()
    return {"sequential": sequential, "burst": burst, "healthz": healthz}


async def _commands(corpus: Path, db_path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The bench's /news commands for this corpus (its first sync done here, not in a run)."""
    from bench.run import BOT_KINDS, bot_commands, build_inputs, interleaved
    from bot.queries import News
    from bot.store import Store

    async with await Store.open(db_path) as store:
        news = News(store, corpus)
        await news.sync()
        by_kind = bot_commands(await build_inputs(news, 0))
    return [command for _kind, command in interleaved(by_kind, SEQUENTIAL // len(BOT_KINDS))]


async def measure(corpus: Path, work: Path) -> dict[str, float]:
    from bench.run import percentile
    from tests.fake_discord import FakeDiscord

    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "metrics-bench.db"
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)
    commands = await _commands(corpus, db_path)
    async with FakeDiscord(callback_deadline=None) as fake:
        off = await run_bot(fake, child_env(corpus, db_path, 0), commands, 0)
        port = free_port()
        on = await run_bot(fake, child_env(corpus, db_path, port), commands, port)
        names = command_names(fake.global_commands)
    per_call = instrument_us()
    scrapes = scrape_ms(names, [name for name, _options in commands[:BURST]])
    scrape = percentile(scrapes, 50)  # its cost; the p99 is the machine's preemptions
    # The smaller p99 of the two runs: the noise must not shrink the bound.
    seq_p99 = min(percentile(run["sequential"], 99) for run in (off, on))
    burst_p99 = min(percentile(run["burst"], 99) for run in (off, on))
    bound = max(per_call / 1000 / seq_p99, (BURST * per_call / 1000 + scrape) / burst_p99)
    return {
        "metrics_overhead_pct": 100 * bound,
        "metrics_instrument_us": per_call,
        "metrics_scrape_p50_ms": scrape,
        "metrics_scrape_p99_ms": percentile(scrapes, 99),
        "metrics_off_sequential_p99_ms": percentile(off["sequential"], 99),
        "metrics_on_sequential_p99_ms": percentile(on["sequential"], 99),
        "metrics_off_burst50_p99_ms": percentile(off["burst"], 99),
        "metrics_on_burst50_p99_ms": percentile(on["burst"], 99),
        "metrics_measured_burst50_p99_change_pct":
            100 * (percentile(on["burst"], 99) / percentile(off["burst"], 99) - 1),
        "healthz_p50_ms": percentile(on["healthz"], 50),
        "healthz_p99_ms": percentile(on["healthz"], 99),
    }


def _status(name: str, value: float) -> str:
    target = TARGETS.get(name)
    if target is None:
        return "info"
    return "PASS" if value <= target else "MISS"


def report(figures: dict[str, float]) -> str:
    lines = []
    for name, value in figures.items():
        target = TARGETS.get(name)
        lines.append(f"{name:<42} {value:>10.3f}  {'≤ ' + str(target) if target else '':>8}  "
                     f"{_status(name, value)}")
    return "\n".join(lines)


def record(out: Path, corpus: Path, work: Path) -> None:
    """Measure on `corpus`, print the table and add the figures to the results JSON that
    bench/run.py wrote at `out`, under "metrics"."""
    figures = asyncio.run(measure(corpus, work))
    print(report(figures))
    payload = json.loads(out.read_text())
    payload["metrics"] = {name: {"value": value, "target": TARGETS.get(name),
                                 "status": _status(name, value)}
                          for name, value in figures.items()}
    out.write_text(json.dumps(payload, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the metrics and /healthz.")
    parser.add_argument("--corpus", type=Path, default=REPO / "seeds",
                        help="folder of article files the bot serves (default: seeds/)")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "work",
                        help="where the benchmark's database goes")
    args = parser.parse_args(argv)
    print(report(asyncio.run(measure(args.corpus, args.work))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
