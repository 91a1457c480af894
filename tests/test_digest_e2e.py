"""End to end: /digest through the fake Discord, and digests posted when the clock says so."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from bot.client import NewsBot
from bot.cogs.digest import DigestCog
from bot.digest import Digest
from bot.store import Store
from tests.conftest import make_bot
from tests.fake_discord import CB_DEFER, EPHEMERAL, FakeDiscord, running_bot

BERLIN_8AM = datetime(2022, 5, 27, 6, 0, tzinfo=UTC)  # 08:00 CEST, the day after the seeds
AMD_URL = "https://www.theregister.com/2022/05/26/amd_azure_microsoft/"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _cog(bot: NewsBot) -> DigestCog:
    # load_extension imports the cog module afresh, so its class is not this DigestCog.
    cog = bot.get_cog("DigestCog")
    assert cog is not None and type(cog).__name__ == "DigestCog"
    return cog  # type: ignore[return-value]


def _posts(fake: FakeDiscord, channel_id: int, since: int = 0) -> list:
    return fake.requests_matching("POST", rf"/channels/{channel_id}/messages$", since=since)


async def test_admin_sets_a_digest_and_it_is_posted_once_at_the_due_time(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    clock = Clock(datetime(2022, 5, 27, 5, 0, tzinfo=UTC))
    async with running_bot(make_bot(store, seeds_dir, clock), fake) as bot:
        handle = await fake.slash("digest set", {
            "channel": fake.text_channel, "time": "08:00", "timezone": "Europe/Berlin",
            "topics": "hardware", "role": fake.admin_role,
        }, user=fake.admin)
        reply = (await handle.response()).json["data"]
        assert reply["flags"] & EPHEMERAL
        assert reply["embeds"][0]["title"] == "Digest saved"
        assert "<t:1653631200:F>" in reply["embeds"][0]["description"]  # 2022-05-27 06:00 UTC

        await _cog(bot).run_due()
        assert _posts(fake, fake.text_channel.id) == []  # 07:00 in Berlin: not yet

        clock.now = BERLIN_8AM.replace(second=5)
        await _cog(bot).run_due()
        await _cog(bot).run_due()  # a second round the same day posts nothing more
        (post,) = _posts(fake, fake.text_channel.id)

    body = post.json
    assert body["content"] == f"<@&{fake.admin_role.id}>"
    # The configured role is the only mention allowed; nothing else can ping.
    assert body["allowed_mentions"] == {"parse": [], "roles": [fake.admin_role.id]}
    header, *articles = body["embeds"]
    assert header["title"] == "AI news digest · Friday 27 May 2022"
    assert header["description"].startswith("**1** new article since the last digest.")
    assert [a["url"] for a in articles] == [AMD_URL]
    assert "[AMP](https://www.theregister.com/AMP/2022/05/26/amd_azure_microsoft/)" in \
        articles[0]["description"]

    # After a restart the day is still recorded as posted: nothing is posted again.
    mark = fake.mark()
    async with running_bot(make_bot(store, seeds_dir, clock), fake) as bot:
        await _cog(bot).run_due()
    assert _posts(fake, fake.text_channel.id, since=mark) == []
    (saved,) = await store.digests.for_guild(fake.guild.id)
    assert saved.last_day == date(2022, 5, 27) and saved.failure is None


async def test_member_without_manage_server_is_refused(fake: FakeDiscord, store: Store,
                                                       seeds_dir: Path) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake):
        handle = await fake.slash("digest set", {
            "channel": fake.text_channel, "time": "08:00", "timezone": "UTC"}, user=fake.member)
        reply = (await handle.response()).json["data"]
    assert reply["flags"] & EPHEMERAL
    assert "Manage Server" in reply["embeds"][0]["title"]
    assert await store.digests.all() == []


async def test_bad_time_zone_and_topic_get_helpful_replies(fake: FakeDiscord, store: Store,
                                                           seeds_dir: Path) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake):
        zone = await fake.slash("digest set", {
            "channel": fake.text_channel, "time": "08:00", "timezone": "Europe/Berln"},
            user=fake.admin)
        assert "Europe/Berlin" in (await zone.response()).json["data"]["embeds"][0]["title"]
        topic = await fake.slash("digest set", {
            "channel": fake.text_channel, "time": "08:00", "timezone": "UTC",
            "topics": "quantum knitting"}, user=fake.admin)
        assert "Unknown topic" in (await topic.response()).json["data"]["embeds"][0]["title"]
        choices = await (await fake.autocomplete("digest set", "timezone", {
            "channel": fake.text_channel, "time": "08:00", "timezone": "new york"},
            user=fake.admin)).autocomplete_choices()
        assert choices[0]["value"] == "America/New_York"
    assert await store.digests.all() == []


async def _save(store: Store, channel_id: int, guild_id: int, **fields: object) -> Digest:
    return await store.digests.save(Digest(
        guild_id=guild_id, channel_id=channel_id, post_time=time(8, 0),
        timezone="Europe/Berlin", **fields))  # type: ignore[arg-type]


async def test_missed_digest_is_caught_up_within_grace_and_skipped_beyond(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    within = await _save(store, fake.text_channel.id, fake.guild.id)
    await store.digests.record(within.id or 0, date(2022, 5, 26), None, None)
    # The bot was down at 08:00 and starts 5 h 59 later: the digest goes out at start-up.
    clock = Clock(datetime(2022, 5, 27, 11, 59, tzinfo=UTC))
    async with running_bot(make_bot(store, seeds_dir, clock), fake):
        await fake.wait_for_request("POST", rf"/channels/{fake.text_channel.id}/messages$")

    await store.digests.record(within.id or 0, date(2022, 5, 27), None, None)
    clock.now = datetime(2022, 5, 28, 12, 1, tzinfo=UTC)  # 6 h 1 late on the next day
    mark = fake.mark()
    async with running_bot(make_bot(store, seeds_dir, clock), fake) as bot:
        await _cog(bot).run_due()
    assert _posts(fake, fake.text_channel.id, since=mark) == []
    skipped = await store.digests.get(fake.guild.id, fake.text_channel.id)
    assert skipped is not None and skipped.last_day == date(2022, 5, 28)


async def test_forum_gets_a_dated_post_and_quiet_days_a_line(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    await _save(store, fake.forum_channel.id, fake.guild.id)
    await _save(store, fake.text_channel.id, fake.guild.id, quiet_day=True,
                keywords=("nothing matches this",))
    clock = Clock(BERLIN_8AM)
    async with running_bot(make_bot(store, seeds_dir, clock), fake) as bot:
        await _cog(bot).run_due()
    (thread,) = fake.requests_matching("POST", rf"/channels/{fake.forum_channel.id}/threads$")
    assert thread.json["name"] == "AI news digest · 2022-05-27"
    assert thread.json["message"]["embeds"][0]["title"] == "AI news digest · Friday 27 May 2022"
    (quiet,) = _posts(fake, fake.text_channel.id)
    assert quiet.json["content"] == "Quiet day: no new AI news since the last digest."
    assert "embeds" not in quiet.json or quiet.json["embeds"] == []


async def test_an_empty_day_posts_nothing(fake: FakeDiscord, store: Store, seeds_dir: Path) -> None:
    await _save(store, fake.text_channel.id, fake.guild.id)
    clock = Clock(datetime(2022, 7, 1, 6, 0, tzinfo=UTC))  # nothing published in the day before
    async with running_bot(make_bot(store, seeds_dir, clock), fake) as bot:
        await _cog(bot).run_due()
    assert _posts(fake, fake.text_channel.id) == []
    saved = await store.digests.get(fake.guild.id, fake.text_channel.id)
    assert saved is not None and saved.last_day == date(2022, 7, 1) and saved.failure is None


async def test_deleted_or_forbidden_channels_are_marked_failing_and_retried(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    await _save(store, 999_999_999_999_999_999, fake.guild.id)  # a channel that is gone
    await _save(store, fake.forbidden_channel.id, fake.guild.id)
    clock = Clock(BERLIN_8AM)
    async with running_bot(make_bot(store, seeds_dir, clock), fake) as bot:
        await _cog(bot).run_due()
        show = await fake.slash("digest show", user=fake.admin)
        fields = (await show.response()).json["data"]["embeds"][0]["fields"]
        failing = {f["value"].split(" ")[0]: f["value"] for f in fields}
        assert "the channel was deleted" in failing["<#999999999999999999>"]
        assert "missing permissions" in failing[f"<#{fake.forbidden_channel.id}>"]

        # The next day it tries again.
        clock.now = datetime(2022, 5, 28, 6, 0, tzinfo=UTC)
        mark = fake.mark()
        await _cog(bot).run_due()
    assert fake.requests_matching("POST", rf"/channels/{fake.forbidden_channel.id}/messages$",
                                  since=mark)


async def test_removed_bot_and_digest_off_leave_no_rows(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    await _save(store, fake.text_channel.id, fake.guild.id)
    await _save(store, fake.forum_channel.id, fake.guild.id)
    async with running_bot(make_bot(store, seeds_dir), fake):
        off = await fake.slash("digest off", {"channel": fake.forum_channel}, user=fake.admin)
        assert "Stopped 1 digest" in (await off.response()).json["data"]["content"]
        assert [d.channel_id for d in await store.digests.all()] == [fake.text_channel.id]
        await fake.dispatch("GUILD_DELETE", {"id": str(fake.guild.id)})
        await fake.sync_gateway()
    assert await store.digests.all() == []


async def test_a_digest_set_during_a_long_sync_is_deferred_then_confirmed(
    fake: FakeDiscord, store: Store, seeds_dir: Path
) -> None:
    async with running_bot(make_bot(store, seeds_dir), fake):
        async with store.transaction():  # a sync holding the database, as a big reload does
            handle = await fake.slash("digest set", {
                "channel": fake.text_channel, "time": "08:00", "timezone": "UTC",
            }, user=fake.admin)
            deferred = (await handle.response()).json
            # Answered within Discord's 3 seconds, though the write has to wait.
            assert deferred["type"] == CB_DEFER
            assert deferred["data"]["flags"] & EPHEMERAL
            assert await store.digests.all() == []
        followup = (await handle.followup()).json
        assert followup["embeds"][0]["title"] == "Digest saved"
        assert followup["flags"] & EPHEMERAL
        assert [d.channel_id for d in await store.digests.all()] == [fake.text_channel.id]
