"""The lease on the folder sync and feed polls: taking, renewing, expiry, take-over, clocks."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.lease import SYNC_LEASE, Lease, process_name

PERIOD = timedelta(seconds=60)
RENEW = PERIOD / 3  # how often a holder renews
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
async def other(store: Store) -> AsyncIterator[Store]:
    """A second process's store on the same database file."""
    async with await Store.open(store.path) as opened:
        yield opened


async def take(store: Store, holder: str, now: datetime) -> Lease:
    return await store.leases.acquire(SYNC_LEASE, holder, now, PERIOD)


async def test_a_free_lease_is_taken_and_renewed_by_its_holder(store: Store, other: Store
                                                                ) -> None:
    assert await store.leases.get(SYNC_LEASE) is None
    lease = await take(store, "a", T0)
    assert lease == Lease(SYNC_LEASE, "a", T0 + PERIOD) and lease.held_by("a", T0)
    renewed = await take(store, "a", T0 + RENEW)
    assert renewed.expires_at == T0 + RENEW + PERIOD
    # The other process sees it (committed), and cannot take it.
    assert await other.leases.get(SYNC_LEASE) == renewed
    refused = await take(other, "b", T0 + RENEW)
    assert refused == renewed and not refused.held_by("b", T0 + RENEW)


async def test_an_expiry_of_exactly_now_is_free_and_a_moment_before_is_not(
    store: Store, other: Store
) -> None:
    await take(store, "a", T0)
    expiry = T0 + PERIOD
    assert (await take(other, "b", expiry - timedelta(microseconds=1))).holder == "a"
    taken = await take(other, "b", expiry)
    assert taken == Lease(SYNC_LEASE, "b", expiry + PERIOD)
    # The old holder finds out when it next renews, and holds nothing from then on.
    late = await take(store, "a", expiry)
    assert late.holder == "b" and not late.held_by("a", expiry)


async def test_a_holder_that_stops_renewing_is_replaced_within_two_periods(
    store: Store, other: Store
) -> None:
    renewals = [T0 + RENEW * n for n in range(4)]
    for at in renewals:
        await take(store, "a", at)
    died = renewals[-1] + RENEW - timedelta(seconds=1)  # just before its next renewal
    # The other process checks every third of a period, at a time of its own.
    check = T0 + timedelta(seconds=7)
    while (await take(other, "b", check)).holder != "b":
        check += RENEW
        assert check < died + 2 * PERIOD, "no take-over within two periods"
    assert check - died <= PERIOD + RENEW


async def test_a_holder_whose_clock_is_a_little_behind_keeps_the_lease(
    store: Store, other: Store
) -> None:
    behind = PERIOD / 2  # less than the margin a renewal leaves (two thirds of a period)
    for n in range(6):
        real = T0 + RENEW * n
        await take(store, "a", real - behind)
        for offset in (timedelta(0), RENEW / 2, RENEW - timedelta(microseconds=1)):
            assert (await take(other, "b", real + offset)).holder == "a"


async def test_a_holder_whose_clock_is_far_behind_loses_it_and_learns_so_at_once(
    store: Store, other: Store
) -> None:
    behind = PERIOD * 1.5
    lease = await take(store, "a", T0 - behind)
    assert lease.held_by("a", T0 - behind)  # by its own clock it holds the lease
    taken = await take(other, "b", T0)  # by the right clock it expired long ago
    assert taken.holder == "b"
    # At its next renewal the slow holder sees the other one's lease and stops.
    again = await take(store, "a", T0 + RENEW - behind)
    assert again.holder == "b" and not again.held_by("a", T0 + RENEW - behind)
    assert (await take(other, "b", T0 + RENEW)).holder == "b"


async def test_a_released_lease_is_free_at_once_and_only_its_holder_releases_it(
    store: Store, other: Store
) -> None:
    await take(store, "a", T0)
    assert not await other.leases.release(SYNC_LEASE, "b")
    assert (await take(other, "b", T0 + timedelta(seconds=1))).holder == "a"
    assert await store.leases.release(SYNC_LEASE, "a")
    assert await other.leases.get(SYNC_LEASE) is None
    assert (await take(other, "b", T0 + timedelta(seconds=1))).holder == "b"


async def test_two_processes_taking_a_free_lease_at_once_get_one_holder(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    stores = [await Store.open(path) for _ in range(4)]
    try:
        leases = await asyncio.gather(*(take(s, f"p{n}", T0) for n, s in enumerate(stores)))
        holders = {lease.holder for lease in leases}
        assert len(holders) == 1
        current = await stores[0].leases.get(SYNC_LEASE)
        assert current is not None and current.holder in holders
    finally:
        for opened in stores:
            await opened.close()


def test_a_process_name_tells_the_host_the_pid_and_a_restart_apart() -> None:
    name = process_name()
    assert re.fullmatch(rf"[^:]+:{os.getpid()}:[0-9a-f]{{8}}", name)
    assert process_name() != name
