"""In-process fake Discord API (REST + gateway) that a real discord.py client can log into."""

# Usage (see tests/test_fake_discord.py for a complete example):
#
#     @pytest.fixture
#     async def fake() -> AsyncIterator[FakeDiscord]:
#         async with FakeDiscord() as fake:
#             yield fake
#
#     @pytest.fixture
#     async def bot(fake: FakeDiscord) -> AsyncIterator[MyBot]:
#         async with running_bot(MyBot(), fake) as bot:
#             yield bot
#
#     async def test_ping(fake: FakeDiscord, bot: MyBot) -> None:
#         handle = await fake.slash("ping")
#         callback = await handle.response()
#         assert callback.json["data"]["content"] == "pong"
#
# Everything is event driven: waiting helpers block on an asyncio.Condition that is
# notified whenever a request is recorded or the gateway changes state, and always
# take a timeout, so a broken bot fails fast instead of hanging the test run.

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import itertools
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import discord
import yarl
from aiohttp import BodyPartReader, WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

__all__ = [
    "ADMINISTRATOR",
    "CATEGORY",
    "DEFAULT_TIMEOUT",
    "EPHEMERAL",
    "FORUM",
    "LOADING",
    "MANAGE_GUILD",
    "ROUTES",
    "TEXT",
    "FailureRule",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeRole",
    "FakeUser",
    "GatewaySession",
    "InteractionHandle",
    "RecordedRequest",
    "UploadedFile",
    "patch_discord_urls",
    "running_bot",
]

Json = dict[str, Any]
T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
BOT_TOKEN = "fake-token"  # the fake accepts any token
API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types).
TEXT, DM, CATEGORY, NEWS, FORUM, MEDIA = 0, 1, 4, 5, 15, 16
NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD = 10, 11, 12
THREAD_TYPES = frozenset({NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
# Interaction types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
# Interaction callback types.
CB_MESSAGE, CB_DEFER, CB_DEFER_UPDATE, CB_UPDATE, CB_AUTOCOMPLETE, CB_MODAL = 4, 5, 6, 7, 8, 9
EPHEMERAL, LOADING = 1 << 6, 1 << 7  # message flags
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})  # string, user, role, mentionable, channel selects

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
MANAGE_GUILD = discord.Permissions(manage_guild=True).value
SEND_PERMISSIONS = discord.Permissions(
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    create_private_threads=True,
).value
EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
    use_application_commands=True,
).value


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class _SnowflakeFactory:
    """Monotonic, unique snowflakes whose timestamps decode to 'now'."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last

    def on_shard(self, shard_id: int, shard_count: int) -> int:
        """A new snowflake that Discord's formula, (id >> 22) % count, puts on `shard_id`."""
        ms = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, (self._last >> 22) + 1)
        ms += (shard_id - ms) % shard_count  # a few milliseconds ahead at most
        self._last = ms << 22
        return self._last


# Module level so ids never collide across several FakeDiscord instances in one process.
snowflake = _SnowflakeFactory()


# --------------------------------------------------------------------------- entities


@dataclass
class FakeUser:
    """A Discord user known to the fake."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeRole:
    """A guild role; the @everyone role shares its id with the guild."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False

    def to_payload(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    """A guild channel or thread; `forbidden` makes REST calls on it answer 403."""

    id: int
    guild_id: int
    name: str
    type: int = TEXT
    position: int = 0
    parent_id: int | None = None
    owner_id: int | None = None  # threads only
    forbidden: bool = False
    topic: str | None = None
    created_at: str = field(default_factory=_now_iso)  # threads show it (create_timestamp)

    def to_payload(self, *, bot_user_id: int | None = None) -> Json:
        payload: Json = {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": False,
            "topic": self.topic,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "permission_overwrites": [],
        }
        if self.forbidden and bot_user_id is not None:
            # Mirror the REST 403s in the cached permissions so permissions_for(guild.me) agrees.
            payload["permission_overwrites"] = [
                {"id": str(bot_user_id), "type": 1, "allow": "0", "deny": str(SEND_PERMISSIONS)}
            ]
        if self.type in (FORUM, MEDIA):
            payload |= {
                "available_tags": [],
                "default_reaction_emoji": None,
                "default_sort_order": None,
                "default_forum_layout": 0,
                "default_thread_rate_limit_per_user": 0,
                "default_auto_archive_duration": 1440,
            }
        if self.type in THREAD_TYPES:
            payload |= {
                "owner_id": str(self.owner_id) if self.owner_id else None,
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "applied_tags": [],
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": _now_iso(),
                    "locked": False,
                    "create_timestamp": self.created_at,
                },
            }
            del payload["permission_overwrites"], payload["position"]
        return payload


@dataclass
class FakeGuild:
    """A guild: roles, channels and members (user id -> extra role ids)."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    def permissions_for(self, user_id: int) -> int:
        """Guild-level permissions computed the way Discord does (owner/admin get everything)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        for role_id in self.members.get(user_id, []):
            perms |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


# --------------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    """One multipart file part of a request."""

    field_name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """A REST request the bot made, with what the fake answered."""

    index: int
    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    json: Any  # JSON body, or the parsed payload_json of a multipart body; None if no body
    files: list[UploadedFile]
    headers: dict[str, str]
    received_at: float  # time.perf_counter() when the request reached the fake
    route: str | None = None  # route name, None when the fake had no handler (404)
    injected: bool = False  # answered by a fail_requests() rule instead of the route
    status: int = 0
    response: Any = None
    interaction: InteractionHandle | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class FailureRule:
    """Makes matching requests fail with a Discord-style error instead of being handled."""

    method: str | None
    path: re.Pattern[str]
    status: int
    body: Json
    remaining: int | None  # None = forever

    def matches(self, method: str, path: str) -> bool:
        if self.remaining == 0:
            return False
        return (self.method is None or self.method == method) and bool(self.path.fullmatch(path))


class _HttpError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = {"code": code, "message": message}
        if code == 50035:
            self.body["errors"] = {}


def _unknown_channel() -> _HttpError:
    return _HttpError(404, 10003, "Unknown Channel")


def _unknown_message() -> _HttpError:
    return _HttpError(404, 10008, "Unknown Message")


def _unknown_webhook() -> _HttpError:
    return _HttpError(404, 10015, "Unknown Webhook")


def _invalid_form(message: str = "Invalid Form Body") -> _HttpError:
    return _HttpError(400, 50035, message)


# --------------------------------------------------------------------------- gateway


@dataclass
class GatewaySession:
    """One websocket connection from a client to the fake gateway."""

    ws: web.WebSocketResponse = field(repr=False)
    query: dict[str, str]
    session_id: str
    identify: Json | None = None
    received: list[Json] = field(default_factory=list)  # every payload the client sent
    seq: int = 0  # last sequence number dispatched
    processed_seq: int = 0  # highest sequence the client proved (via heartbeat) it has handled
    ready_seq: int | None = None  # sequence of the last startup GUILD_CREATE
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def synced(self) -> bool:
        """True once the client has processed READY and every startup GUILD_CREATE."""
        return self.ready_seq is not None and self.processed_seq >= self.ready_seq

    @property
    def shard(self) -> tuple[int, int] | None:
        """(shard id, shard count) the client identified with; None when it did not shard."""
        shard = (self.identify or {}).get("shard")
        return (int(shard[0]), int(shard[1])) if shard else None

    def owns(self, guild_id: int | None) -> bool:
        """Whether Discord sends this session the events of the guild (None: DMs, which
        go to shard 0), by its documented formula; an unsharded session gets everything."""
        if self.shard is None:
            return True
        shard_id, shard_count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % shard_count) == shard_id

    async def send(self, payload: Json) -> None:
        async with self.lock:
            await self.ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: Any) -> tuple[int, float]:
        """Sends an op 0 event; returns (sequence, perf_counter just before the write)."""
        async with self.lock:
            self.seq += 1
            sent_at = time.perf_counter()
            await self.ws.send_str(json.dumps({"op": 0, "t": event, "s": self.seq, "d": data}))
            return self.seq, sent_at


# --------------------------------------------------------------------------- interactions


class InteractionHandle:
    """An INTERACTION_CREATE the fake dispatched, and every request the bot made for it."""

    def __init__(self, fake: FakeDiscord, payload: Json, user: FakeUser) -> None:
        self.fake = fake
        self.payload = payload
        self.user = user
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.guild_id: int | None = int(payload["guild_id"]) if "guild_id" in payload else None
        self.channel_id = int(payload["channel_id"])
        # The message a component / modal-from-component interaction came from.
        self.source_message_id: int | None = (
            int(payload["message"]["id"]) if "message" in payload else None
        )
        self.dispatched_at: float | None = None
        self.requests: list[RecordedRequest] = []
        self.callback_type: int | None = None
        self.original_message_id: int | None = None
        self.followup_ids: list[int] = []
        self.modal: Json | None = None  # data of a type 9 callback

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type} callback={self.callback_type}>"

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def original_message(self) -> Json | None:
        """Current state of the @original message (None if there is none or it was deleted)."""
        if self.original_message_id is None:
            return None
        return self.fake.messages.get(self.original_message_id)

    @property
    def followup_messages(self) -> list[Json]:
        return [self.fake.messages[i] for i in self.followup_ids if i in self.fake.messages]

    @property
    def latency(self) -> float | None:
        """Seconds from writing INTERACTION_CREATE to the socket to receiving the callback POST."""
        callback = next((r for r in self.requests if r.route == "interaction_callback"), None)
        if callback is None or self.dispatched_at is None:
            return None
        return callback.received_at - self.dispatched_at

    async def wait_for(
        self,
        route: str | None = None,
        *,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        n: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RecordedRequest:
        """The n-th (0-based) request for this interaction matching route/predicate."""

        def find() -> RecordedRequest | None:
            hits = [
                r
                for r in self.requests
                if (route is None or r.route == route) and (predicate is None or predicate(r))
            ]
            return hits[n] if len(hits) > n else None

        return await self.fake._wait_until(
            find, timeout, f"request #{n} route={route} for {self!r}"
        )

    async def response(self, timeout: float = DEFAULT_TIMEOUT) -> RecordedRequest:
        """The interaction callback POST (json = {"type": ..., "data": ...})."""
        return await self.wait_for("interaction_callback", timeout=timeout)

    async def followup(self, n: int = 0, timeout: float = DEFAULT_TIMEOUT) -> RecordedRequest:
        """The n-th followup POST /webhooks/{app}/{token}."""
        return await self.wait_for("webhook_execute", n=n, timeout=timeout)

    async def edit(self, n: int = 0, timeout: float = DEFAULT_TIMEOUT) -> RecordedRequest:
        """The n-th PATCH of @original or of a followup message."""
        return await self.wait_for("webhook_edit_message", n=n, timeout=timeout)

    async def autocomplete_choices(self, timeout: float = DEFAULT_TIMEOUT) -> list[Json]:
        callback = await self.response(timeout)
        assert callback.json["type"] == CB_AUTOCOMPLETE, callback.json
        return list(callback.json["data"]["choices"])


# --------------------------------------------------------------------------- REST routes

_SNOWFLAKE, _TOKEN, _WEBHOOK_MESSAGE = r"(\d+)", r"([^/]+)", r"(@original|\d+)"
_APP, _CHANNEL = f"/applications/{_SNOWFLAKE}", f"/channels/{_SNOWFLAKE}"
_WEBHOOK = f"/webhooks/{_SNOWFLAKE}/{_TOKEN}"

# (method, path regex, route name). The route name is what RecordedRequest.route holds and
# FakeDiscord._<name> handles it; anything else is answered 404 and recorded with route None.
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(path), name)
    for method, path, name in (
        ("GET", "/users/@me", "get_current_user"),
        ("GET", "/oauth2/applications/@me", "get_application"),
        ("GET", "/gateway", "get_gateway"),
        ("GET", "/gateway/bot", "get_gateway_bot"),
        ("PUT", f"{_APP}/commands", "put_global_commands"),
        ("GET", f"{_APP}/commands", "get_global_commands"),
        ("PUT", f"{_APP}/guilds/{_SNOWFLAKE}/commands", "put_guild_commands"),
        ("GET", f"{_APP}/guilds/{_SNOWFLAKE}/commands", "get_guild_commands"),
        ("POST", f"/interactions/{_SNOWFLAKE}/{_TOKEN}/callback", "interaction_callback"),
        ("POST", _WEBHOOK, "webhook_execute"),
        ("GET", f"{_WEBHOOK}/messages/{_WEBHOOK_MESSAGE}", "webhook_get_message"),
        ("PATCH", f"{_WEBHOOK}/messages/{_WEBHOOK_MESSAGE}", "webhook_edit_message"),
        ("DELETE", f"{_WEBHOOK}/messages/{_WEBHOOK_MESSAGE}", "webhook_delete_message"),
        ("GET", _CHANNEL, "channel_get"),
        ("POST", f"{_CHANNEL}/messages", "channel_create_message"),
        ("GET", f"{_CHANNEL}/messages", "channel_history"),
        ("GET", f"/guilds/{_SNOWFLAKE}/threads/active", "guild_active_threads"),
        ("GET", f"{_CHANNEL}/messages/{_SNOWFLAKE}", "channel_get_message"),
        ("PATCH", f"{_CHANNEL}/messages/{_SNOWFLAKE}", "channel_edit_message"),
        ("DELETE", f"{_CHANNEL}/messages/{_SNOWFLAKE}", "channel_delete_message"),
        ("POST", f"{_CHANNEL}/typing", "channel_typing"),
        ("POST", f"{_CHANNEL}/threads", "channel_create_thread"),
    )
)


# --------------------------------------------------------------------------- the fake


class FakeDiscord:
    """aiohttp server on 127.0.0.1 speaking enough of Discord's REST API and gateway for discord.py.

    Default world: application/bot user `bot_user` (application_id == bot user id), guild `guild`
    with roles @everyone, `admin_role` (Manage Server) and the bot's managed role; channels
    `text_channel`, `forum_channel` and `forbidden_channel` (REST answers 403); users `owner`
    (application + guild owner), `admin` (has admin_role) and `member` (plain). Add more with
    add_guild/add_channel/add_role/add_user *before* the bot connects.
    """

    def __init__(
        self,
        *,
        heartbeat_interval_ms: int = 41_250,
        callback_deadline: float | None = 3.0,
        port: int = 0,
        recommended_shards: int = 1,
    ) -> None:
        """`port` 0 picks a free one at start(); a fixed one lets a bot try it before that.
        `recommended_shards` is the count GET /gateway/bot recommends (AutoShardedClient
        connects that many when not told a count)."""
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.recommended_shards = recommended_shards
        # Discord forgets interactions not acknowledged within 3 s; None disables the check.
        self.callback_deadline = callback_deadline
        self.port: int | None = port or None
        self.requests: list[RecordedRequest] = []
        self.gateway_sessions: list[GatewaySession] = []
        self.messages: dict[int, Json] = {}  # message id -> current payload
        self.channel_message_ids: dict[int, list[int]] = {}
        self.global_commands: list[Json] = []
        self.guild_commands: dict[int, list[Json]] = {}
        self.failure_rules: list[FailureRule] = []
        self.internal_errors: list[Exception] = []  # bugs in the fake itself; raised on close
        self.guilds: dict[int, FakeGuild] = {}
        self.users: dict[int, FakeUser] = {}
        self.interactions: dict[str, InteractionHandle] = {}  # token -> handle
        self.gateway_refused = False  # see drop_gateway
        self.dm_channels: dict[int, FakeUser] = {}  # DM channel id -> the user it is with
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        # (channel id, nonce) -> (message id, when): a send with enforce_nonce repeated within
        # `nonce_window` seconds gets the first message back, as Discord does.
        self.nonce_window = 300.0
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        # A message or forum post with an embed linking to one of these is refused as an
        # invalid form body, as Discord refuses an embed it finds malformed.
        self.refused_embed_urls: set[str] = set()
        # Requests matching these (method, path regex) get their answer only when the event
        # is set: a test can kill the bot after Discord acted and before it heard back.
        self.holds: list[tuple[str, re.Pattern[str], asyncio.Event]] = []

        self.bot_user = self.add_user("FakeBot", bot=True)
        self.application_id = self.bot_user.id
        self.owner = self.add_user("owner", global_name="Owner")
        self.admin = self.add_user("admin", global_name="Admin")
        self.member = self.add_user("member", global_name="Member")
        self.guild = self.add_guild("Fake Guild", owner=self.owner)
        self.admin_role = self.add_role(self.guild, "Admin", MANAGE_GUILD | EVERYONE_PERMISSIONS)
        self.add_member(self.guild, self.admin, roles=[self.admin_role])
        self.add_member(self.guild, self.member)
        self.text_channel = self.add_channel(self.guild, "general")
        self.forum_channel = self.add_channel(self.guild, "news-forum", type=FORUM)
        self.forbidden_channel = self.add_channel(self.guild, "locked", forbidden=True)

    # ----------------------------------------------------------------- world building

    def add_user(
        self, username: str, *, global_name: str | None = None, bot: bool = False
    ) -> FakeUser:
        user = FakeUser(snowflake(), username, global_name, bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self, name: str, *, owner: FakeUser | None = None, shard: tuple[int, int] | None = None
    ) -> FakeGuild:
        """A guild with @everyone, the bot as a member with a managed 'FakeBot' role;
        `shard` (id, count) picks an id that Discord's formula puts on that shard."""
        guild_id = snowflake.on_shard(*shard) if shard else snowflake()
        guild = FakeGuild(guild_id, name, (owner or self.owner).id)
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", EVERYONE_PERMISSIONS)
        bot_role = self.add_role(guild, self.bot_user.username, EVERYONE_PERMISSIONS, managed=True)
        guild.members[self.bot_user.id] = [bot_role.id]
        guild.members[guild.owner_id] = []
        self.guilds[guild_id] = guild
        return guild

    def add_role(
        self, guild: FakeGuild, name: str, permissions: int = 0, *, managed: bool = False
    ) -> FakeRole:
        role = FakeRole(snowflake(), name, permissions, position=len(guild.roles), managed=managed)
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild: FakeGuild, user: FakeUser, *, roles: Sequence[FakeRole] = ()
    ) -> None:
        guild.members[user.id] = [r.id for r in roles]

    def add_channel(
        self,
        guild: FakeGuild,
        name: str,
        *,
        type: int = TEXT,
        forbidden: bool = False,
        parent: FakeChannel | None = None,
    ) -> FakeChannel:
        channel = FakeChannel(
            snowflake(),
            guild.id,
            name,
            type=type,
            position=len(guild.channels),
            parent_id=parent.id if parent else None,
            forbidden=forbidden,
        )
        guild.channels[channel.id] = channel
        return channel

    def find_channel(self, channel_id: int) -> FakeChannel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        return None

    def channel_messages(self, channel: FakeChannel | int) -> list[Json]:
        """Current payloads of the (non-deleted) messages in a channel, oldest first."""
        channel_id = channel if isinstance(channel, int) else channel.id
        ids = self.channel_message_ids.get(channel_id, [])
        return [self.messages[i] for i in ids if i in self.messages]

    def hold_responses(self, method: str, path: str) -> asyncio.Event:
        """Act on matching requests at once but answer them only once the event is set."""
        release = asyncio.Event()
        self.holds.append((method, re.compile(path), release))
        return release

    def delete_channel(self, channel: FakeChannel) -> None:
        """The channel is gone (REST answers 404); the bot's cache still has it."""
        self.guilds[channel.guild_id].channels.pop(channel.id, None)

    def fail_requests(
        self,
        method: str | None,
        path: str,
        *,
        status: int,
        code: int = 0,
        message: str = "Injected failure",
        times: int | None = 1,
    ) -> FailureRule:
        """Make requests whose path fully matches the regex `path` fail (a 5xx triggers
        discord.py's retry-with-sleep, so prefer 4xx in fast tests)."""
        rule = FailureRule(
            method, re.compile(path), status, {"code": code, "message": message}, times
        )
        self.failure_rules.append(rule)
        return rule

    # ----------------------------------------------------------------- lifecycle

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """Value for discord.http.Route.BASE."""
        return f"{self.http_base}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_rest)
        app.router.add_route("*", "/{tail:.*}", self._handle_rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        # Bind ourselves (port 0: any free one) so the port is known without private aiohttp
        # attributes.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", self.port or 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        for session in self.gateway_sessions:
            if not session.ws.closed:
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        await self.close()
        if self.internal_errors and exc_type is None:
            raise RuntimeError("fake_discord failed internally") from self.internal_errors[0]

    # ----------------------------------------------------------------- waiting

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def _wait_until(self, find: Callable[[], T | None], timeout: float, what: str) -> T:
        async with self._cond:
            try:
                async with asyncio.timeout(timeout):
                    while (result := find()) is None:
                        await self._cond.wait()
                    return result
            except TimeoutError:
                recent = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-10:]]
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}; last requests: {recent}"
                ) from None

    def mark(self) -> int:
        """Index of the next request to be recorded; pass as `since` to only see newer ones."""
        return len(self.requests)

    def requests_matching(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        route: str | None = None,
        since: int = 0,
    ) -> list[RecordedRequest]:
        """Recorded requests (index >= since) matching method, a full-match path regex and route."""
        pattern = re.compile(path) if path is not None else None
        return [
            r
            for r in self.requests[since:]
            if (method is None or r.method == method)
            and (pattern is None or pattern.fullmatch(r.path))
            and (route is None or r.route == route)
        ]

    async def wait_for_request(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        route: str | None = None,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        since: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RecordedRequest:
        """First recorded request with index >= since that matches; waits for it if needed."""

        def find() -> RecordedRequest | None:
            hits = self.requests_matching(method, path, route=route, since=since)
            return next((r for r in hits if predicate is None or predicate(r)), None)

        return await self._wait_until(find, timeout, f"{method} {path} route={route}")

    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests the fake had no route for (answered 404)."""
        return [r for r in self.requests if r.route is None]

    async def wait_until_connected(
        self, *, since: int = 0, timeout: float = DEFAULT_TIMEOUT
    ) -> GatewaySession:
        """First gateway session (index >= since) that has processed READY and all GUILD_CREATEs."""

        def find() -> GatewaySession | None:
            return next(
                (s for s in self.gateway_sessions[since:] if s.synced and not s.closed), None
            )

        return await self._wait_until(find, timeout, "a synced gateway session")

    async def wait_until_sharded(
        self, shard_count: int, *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[GatewaySession]:
        """A synced, open session for every shard of `shard_count`, by shard id."""

        def find() -> list[GatewaySession] | None:
            by_shard = {s.shard: s for s in self.gateway_sessions if s.synced and not s.closed}
            wanted = [(shard_id, shard_count) for shard_id in range(shard_count)]
            if not all(shard in by_shard for shard in wanted):
                return None
            return [by_shard[shard] for shard in wanted]

        return await self._wait_until(find, timeout, f"{shard_count} sharded sessions")

    def _live_sessions(self) -> list[GatewaySession]:
        """Open sessions past READY, newest first."""
        return [session for session in reversed(self.gateway_sessions)
                if session.ready_seq is not None and not session.closed]

    def _live_session(self, guild_id: int | None = None) -> GatewaySession:
        """The newest open session that Discord would send the guild's events to."""
        for session in self._live_sessions():
            if session.owns(guild_id):
                return session
        raise RuntimeError(
            "no client is connected to the fake gateway (use running_bot)" if guild_id is None
            else f"no client connected to the fake gateway has the shard of guild {guild_id}")

    async def dispatch(self, event: str, data: Any, *, guild_id: int | None = None) -> int:
        """Sends a gateway DISPATCH to the connected client whose shard owns `guild_id`
        (default: the event's own "guild_id"); returns its sequence number."""
        if guild_id is None and isinstance(data, dict) and data.get("guild_id"):
            guild_id = int(data["guild_id"])
        seq, _ = await self._live_session(guild_id).dispatch(event, data)
        return seq

    async def sync_gateway(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Waits until the client has handled every event dispatched so far.

        Sends op 1 (HEARTBEAT request); discord.py answers with a heartbeat carrying the last
        sequence it parsed, and parsing is synchronous, so d >= seq proves the events were handled.
        discord.py rate-limits its gateway sends (~110/min), so don't call this in a hot loop.
        """
        sessions = self._live_sessions()
        if not sessions:
            self._live_session()  # raises: no client is connected
        targets = [(session, session.seq) for session in sessions]
        for session, _target in targets:
            await session.send({"op": 1, "d": None})
        await self._wait_until(
            lambda: True if all(s.processed_seq >= t for s, t in targets) else None, timeout,
            "gateway sync",
        )

    async def drop_gateway(self) -> None:
        """An outage: closes every gateway connection (code 4000, after which discord.py
        reconnects) and answers new ones 503 until `gateway_refused` is set back to False."""
        self.gateway_refused = True
        for session in self.gateway_sessions:
            if not session.ws.closed:
                await session.ws.close(code=4000)

    # ----------------------------------------------------------------- gateway server

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        if self.gateway_refused:
            raise web.HTTPServiceUnavailable()
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(ws=ws, query=dict(request.query), session_id=uuid.uuid4().hex)
        self.gateway_sessions.append(session)
        # Always send TEXT frames: discord.py only runs its zlib/zstd decompressor on BINARY
        # frames, so the `compress=` it asks for can be ignored.
        await session.send(
            {
                "op": 10,
                "s": None,
                "t": None,
                "d": {"heartbeat_interval": self.heartbeat_interval_ms},
            }
        )
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                session.received.append(payload)
                op = payload.get("op")
                if op == 1:  # heartbeat; d = last sequence the client has processed
                    await session.send({"op": 11, "s": None, "t": None, "d": None})
                    if isinstance(payload.get("d"), int) and payload["d"] > session.processed_seq:
                        session.processed_seq = payload["d"]
                        await self._notify()
                elif op == 2:
                    session.identify = payload["d"]
                    await self._send_ready(session)
                elif op == 6:  # resume: nothing was missed in-process
                    await session.dispatch("RESUMED", {})
                    session.ready_seq = session.seq
                # op 3 presence, 4 voice, 8 member requests: recorded in session.received only.
        finally:
            session.closed = True
            await self._notify()
        return ws

    async def _send_ready(self, session: GatewaySession) -> None:
        assert session.identify is not None
        # Discord sends a shard only the guilds its formula puts on it.
        guilds = [guild for guild in self.guilds.values() if session.owns(guild.id)]
        ready: Json = {
            "v": 10,
            "user": self.bot_user.to_payload()
            | {"verified": True, "mfa_enabled": False, "email": None, "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        }
        if "shard" in session.identify:  # AutoShardedClient reads data["shard"]
            ready["shard"] = session.identify["shard"]
        await session.dispatch("READY", ready)
        for guild in guilds:
            await session.dispatch("GUILD_CREATE", self._guild_create_payload(guild))
        session.ready_seq = session.seq
        # Barrier: the heartbeat this op 1 provokes proves the GUILD_CREATEs were parsed.
        await session.send({"op": 1, "d": None})

    def _member_payload(
        self,
        guild: FakeGuild,
        user: FakeUser,
        *,
        permissions: int | None = None,
        with_user: bool = True,
    ) -> Json:
        payload: Json = {
            "roles": [str(r) for r in guild.members.get(user.id, [])],
            "joined_at": _now_iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = user.to_payload()
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload

    def _guild_create_payload(self, guild: FakeGuild) -> Json:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "roles": [r.to_payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": _now_iso(),
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            # Without the privileged members intent Discord only sends the bot's own member.
            "members": [self._member_payload(guild, self.bot_user)],
            "channels": [
                c.to_payload(bot_user_id=self.bot_user.id)
                for c in guild.channels.values()
                if c.type not in THREAD_TYPES
            ],
            "threads": [c.to_payload() for c in guild.channels.values() if c.type in THREAD_TYPES],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # ----------------------------------------------------------------- interaction dispatch

    def _find_command(self, name: str, guild: FakeGuild | None, scope: str) -> Json:
        if scope not in ("auto", "guild", "global"):
            raise ValueError(f"scope must be 'auto', 'guild' or 'global', not {scope!r}")
        guild_commands = self.guild_commands.get(guild.id, []) if guild else []
        # Like a user picking from the Discord UI: a guild command shadows a global one
        # of the same name unless the test asks for a specific scope.
        candidates = {
            "auto": guild_commands + self.global_commands,
            "guild": guild_commands,
            "global": self.global_commands,
        }[scope]
        for command in candidates:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
        synced = [c["name"] for c in candidates]
        raise LookupError(f"slash command {name!r} was never synced (synced: {synced})")

    def _resolve_value(
        self, opt_type: int, value: Any, guild: FakeGuild | None, resolved: Json
    ) -> Any:
        """Converts a test-friendly value to the wire value and fills `resolved` for entities."""
        if opt_type == 3:
            return str(value)
        if opt_type == 4:
            return int(value)
        if opt_type == 5:
            return bool(value)
        if opt_type == 10:
            return float(value)
        if opt_type in (6, 7, 8, 9):
            entity_id = int(getattr(value, "id", value))
            if entity_id in self.users and opt_type in (6, 9):
                user = self.users[entity_id]
                resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
                if guild is not None and user.id in guild.members:
                    resolved.setdefault("members", {})[str(user.id)] = self._member_payload(
                        guild, user, permissions=guild.permissions_for(user.id), with_user=False
                    )
            elif guild is not None and entity_id in guild.roles and opt_type in (8, 9):
                resolved.setdefault("roles", {})[str(entity_id)] = guild.roles[
                    entity_id
                ].to_payload()
            elif (channel := self.find_channel(entity_id)) is not None and opt_type == 7:
                payload = channel.to_payload() | {
                    "permissions": str(self._app_permissions(channel))
                }
                resolved.setdefault("channels", {})[str(entity_id)] = payload
            else:
                raise LookupError(f"no fake entity with id {entity_id} for option type {opt_type}")
            return str(entity_id)
        raise NotImplementedError(f"option type {opt_type} is not supported by the fake")

    def _build_options(
        self,
        option_defs: list[Json],
        values: Mapping[str, Any],
        guild: FakeGuild | None,
        resolved: Json,
        *,
        focused: str | None,
        where: str,
    ) -> list[Json]:
        defs = {d["name"]: d for d in option_defs}
        out: list[Json] = []
        for name, value in values.items():
            if name not in defs:
                raise KeyError(f"{where} has no option {name!r} (has {sorted(defs)})")
            opt_type = defs[name]["type"]
            if name == focused:
                # The Discord client sends the raw partially-typed text of the focused option.
                out.append({"name": name, "type": opt_type, "value": str(value), "focused": True})
                continue
            wire = self._resolve_value(opt_type, value, guild, resolved)
            if focused is None:
                _check_option_value(defs[name], wire, f"{where} option {name!r}")
            out.append({"name": name, "type": opt_type, "value": wire})
        if focused is None:
            missing = [
                d["name"] for d in option_defs if d.get("required") and d["name"] not in values
            ]
            if missing:
                raise ValueError(f"{where} is missing required options {missing}")
        elif focused not in values:
            if focused not in defs:
                raise KeyError(f"{where} has no option {focused!r}")
            out.append(
                {"name": focused, "type": defs[focused]["type"], "value": "", "focused": True}
            )
        return out

    def _command_data(
        self,
        command: str,
        options: Mapping[str, Any] | None,
        guild: FakeGuild | None,
        *,
        group: str | None,
        subcommand: str | None,
        focused: str | None,
        scope: str,
    ) -> Json:
        path = command.split() + [p for p in (group, subcommand) if p]
        root = self._find_command(path[0], guild, scope)
        resolved: Json = {}
        defs: list[Json] = root.get("options", [])
        chain: list[Json] = []  # subcommand group / subcommand option dicts, outermost first
        for part in path[1:]:
            node = next((d for d in defs if d["name"] == part and d["type"] in (1, 2)), None)
            if node is None:
                raise LookupError(f"/{' '.join(path)}: {part!r} is not a subcommand (group)")
            chain.append({"name": part, "type": node["type"], "options": []})
            defs = node.get("options", [])
        if any(d["type"] in (1, 2) for d in defs):
            raise ValueError(f"/{' '.join(path)} needs a subcommand")
        leaf = self._build_options(
            defs, options or {}, guild, resolved, focused=focused, where=f"/{' '.join(path)}"
        )
        if chain:
            chain[-1]["options"] = leaf
            for outer, inner in itertools.pairwise(chain):
                outer["options"] = [inner]
            top = [chain[0]]
        else:
            top = leaf
        data: Json = {"id": root["id"], "name": root["name"], "type": 1, "options": top}
        if "guild_id" in root:
            data["guild_id"] = root["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    def _app_permissions(self, channel: FakeChannel | None) -> int:
        if channel is None:
            return EVERYONE_PERMISSIONS
        perms = self.guilds[channel.guild_id].permissions_for(self.bot_user.id)
        return perms & ~SEND_PERMISSIONS if channel.forbidden else perms

    def _interaction_payload(
        self,
        itype: int,
        data: Json,
        *,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        dm_channel_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        message: Json | None = None,
    ) -> Json:
        interaction_id = snowflake()
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": f"fake-interaction-token-{interaction_id}",
            "version": 1,
            "locale": locale,
            "app_permissions": str(self._app_permissions(channel)),
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild is not None and channel is not None:
            member_perms = guild.permissions_for(user.id) if permissions is None else permissions
            payload |= {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": self._member_payload(guild, user, permissions=member_perms),
                "channel_id": str(channel.id),
                "channel": channel.to_payload() | {"permissions": str(member_perms)},
                "authorizing_integration_owners": {"0": str(guild.id)},
                "context": 0,
            }
        else:
            dm_id = dm_channel_id or snowflake()
            payload |= {
                "user": user.to_payload(),
                "channel_id": str(dm_id),
                "channel": {"id": str(dm_id), "type": DM, "recipients": [user.to_payload()]},
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,
            }
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        return payload

    async def _send_interaction(self, payload: Json, user: FakeUser) -> InteractionHandle:
        handle = InteractionHandle(self, payload, user)
        # Register before sending so no response can arrive for an unknown token.
        self.interactions[handle.token] = handle
        guild_id = int(payload["guild_id"]) if "guild_id" in payload else None
        session = self._live_session(guild_id)
        _, handle.dispatched_at = await session.dispatch("INTERACTION_CREATE", payload)
        return handle

    def _context(
        self, guild: FakeGuild | None, channel: FakeChannel | None, dm: bool
    ) -> tuple[FakeGuild | None, FakeChannel | None]:
        if dm:
            return None, None
        guild = guild or (self.guilds[channel.guild_id] if channel else self.guild)
        if channel is None:
            channel = next(c for c in guild.channels.values() if c.type == TEXT)
        return guild, channel

    async def slash(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        group: str | None = None,
        subcommand: str | None = None,
        user: FakeUser | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | None = None,
        dm: bool = False,
        permissions: int | None = None,
        locale: str = "en-US",
        scope: str = "auto",
    ) -> InteractionHandle:
        """Dispatches a chat-input command, e.g. slash("news latest", {"count": 3}) or
        slash("news", {"count": 3}, subcommand="latest").

        Option types, required options, choices and min/max come from the last command sync
        and are enforced like the Discord client does (ValueError/KeyError/LookupError).
        `permissions` overrides the member's computed permission integer; `scope` picks the
        guild or global registration when both exist ("auto" prefers the guild one).
        """
        return await self._command_interaction(
            APPLICATION_COMMAND, command, options, focused=None, group=group,
            subcommand=subcommand, user=user, guild=guild, channel=channel, dm=dm,
            permissions=permissions, locale=locale, scope=scope,
        )

    async def _command_interaction(
        self,
        kind: int,
        command: str,
        options: Mapping[str, Any] | None,
        *,
        focused: str | None,
        group: str | None,
        subcommand: str | None,
        user: FakeUser | None,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        dm: bool,
        permissions: int | None,
        locale: str,
        scope: str,
    ) -> InteractionHandle:
        """Builds and sends a command (or autocomplete) interaction; see slash()."""
        guild, channel = self._context(guild, channel, dm)
        data = self._command_data(
            command, options, guild, group=group, subcommand=subcommand, focused=focused,
            scope=scope,
        )
        user = user or self.member
        payload = self._interaction_payload(
            kind, data, user=user, guild=guild, channel=channel, permissions=permissions,
            locale=locale,
        )
        return await self._send_interaction(payload, user)

    async def autocomplete(
        self,
        command: str,
        focused: str,
        options: Mapping[str, Any] | None = None,
        *,
        group: str | None = None,
        subcommand: str | None = None,
        user: FakeUser | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | None = None,
        dm: bool = False,
        permissions: int | None = None,
        locale: str = "en-US",
        scope: str = "auto",
    ) -> InteractionHandle:
        """Dispatches an autocomplete (type 4) for option `focused` (value from options or "")."""
        return await self._command_interaction(
            AUTOCOMPLETE, command, options, focused=focused, group=group,
            subcommand=subcommand, user=user, guild=guild, channel=channel, dm=dm,
            permissions=permissions, locale=locale, scope=scope,
        )

    def _message_for(self, message: Any) -> Json:
        if isinstance(message, InteractionHandle):
            message_id = message.original_message_id
        elif isinstance(message, Mapping):
            message_id = int(message["id"])
        else:
            message_id = int(getattr(message, "id", message))
        if message_id is None or message_id not in self.messages:
            raise LookupError(f"the fake has no message {message_id} (was it sent / deleted?)")
        return self.messages[message_id]

    def _component_context(
        self, message: Json, user: FakeUser | None
    ) -> tuple[FakeUser, FakeGuild | None, FakeChannel | None, int | None]:
        channel = self.find_channel(int(message["channel_id"]))
        guild = self.guilds[channel.guild_id] if channel else None
        return user or self.member, guild, channel, None if channel else int(message["channel_id"])

    async def click(
        self,
        message: Any,
        custom_id: str,
        *,
        user: FakeUser | None = None,
        permissions: int | None = None,
    ) -> InteractionHandle:
        """Clicks a button. `message` is an InteractionHandle (its @original), a payload dict,
        a discord.Message or an id; the current stored version of the message is sent."""
        msg = self._message_for(message)
        component = _find_component(msg, custom_id)
        if component["type"] != 2:
            raise ValueError(f"component {custom_id!r} is not a button (type {component['type']})")
        if component.get("disabled"):
            raise ValueError(f"button {custom_id!r} is disabled")
        data = {"custom_id": custom_id, "component_type": 2}
        if "id" in component:
            data["id"] = component["id"]
        return await self._send_component(msg, data, user, permissions)

    async def _send_component(
        self, msg: Json, data: Json, user: FakeUser | None, permissions: int | None
    ) -> InteractionHandle:
        """Sends a component interaction (type 3) on `msg` with `data`, as `user`."""
        user, guild, channel, dm_id = self._component_context(msg, user)
        payload = self._interaction_payload(
            MESSAGE_COMPONENT, data, user=user, guild=guild, channel=channel,
            dm_channel_id=dm_id, permissions=permissions, message=msg,
        )
        return await self._send_interaction(payload, user)

    async def select(
        self,
        message: Any,
        custom_id: str,
        values: Sequence[Any],
        *,
        user: FakeUser | None = None,
        permissions: int | None = None,
    ) -> InteractionHandle:
        """Chooses `values` in a select menu (string selects: option values; entity selects:
        FakeUser/FakeRole/FakeChannel or ids)."""
        msg = self._message_for(message)
        component = _find_component(msg, custom_id)
        ctype = component["type"]
        if ctype not in SELECT_TYPES:
            raise ValueError(f"component {custom_id!r} is not a select (type {ctype})")
        if component.get("disabled"):
            raise ValueError(f"select {custom_id!r} is disabled")
        if not component.get("min_values", 1) <= len(values) <= component.get("max_values", 1):
            raise ValueError(f"select {custom_id!r} needs between min_values and max_values values")
        data: Json = {"custom_id": custom_id, "component_type": ctype}
        if ctype == 3:
            allowed = [o["value"] for o in component.get("options", [])]
            if any(v not in allowed for v in values):
                raise ValueError(f"{list(values)} not all in options {allowed} of {custom_id!r}")
            data["values"] = list(values)
        else:
            resolved: Json = {}
            opt_type = {5: 6, 6: 8, 7: 9, 8: 7}[ctype]
            _user, guild, _channel, _dm = self._component_context(msg, user)
            data["values"] = [self._resolve_value(opt_type, v, guild, resolved) for v in values]
            data["resolved"] = resolved
        return await self._send_component(msg, data, user, permissions)

    async def submit_modal(
        self,
        source: InteractionHandle,
        values: Mapping[str, str | Sequence[str]],
        *,
        user: FakeUser | None = None,
    ) -> InteractionHandle:
        """Submits the modal `source` answered with (type 9): text inputs get str values,
        selects get lists. Unfilled required text inputs raise like the Discord client would."""
        modal = source.modal
        if modal is None:
            raise ValueError(f"{source!r} was not answered with a modal")

        def submitted(comp: Json) -> Json:
            custom_id = comp.get("custom_id")
            if comp["type"] == 4:
                value = values.get(custom_id, comp.get("value") or "")
                if not value and comp.get("required", True):
                    raise ValueError(f"required text input {custom_id!r} left empty")
                return {"type": 4, "id": comp.get("id"), "custom_id": custom_id, "value": value}
            if comp["type"] in SELECT_TYPES:
                return {
                    "type": comp["type"],
                    "custom_id": custom_id,
                    "values": list(values.get(custom_id, [])),
                }
            return {"type": comp["type"], "id": comp.get("id")}

        components: list[Json] = []
        for comp in modal.get("components", []):
            if comp["type"] == 1:
                components.append(
                    {"type": 1, "components": [submitted(c) for c in comp["components"]]}
                )
            elif comp["type"] == 18:
                components.append(
                    {"type": 18, "id": comp.get("id"), "component": submitted(comp["component"])}
                )
        guild = self.guilds.get(source.guild_id) if source.guild_id else None
        channel = self.find_channel(source.channel_id)
        message = self.messages.get(source.source_message_id) if source.source_message_id else None
        user = user or source.user
        payload = self._interaction_payload(
            MODAL_SUBMIT,
            {"custom_id": modal["custom_id"], "components": components},
            user=user,
            guild=guild,
            channel=channel,
            dm_channel_id=None if channel else source.channel_id,
            message=message,
        )
        return await self._send_interaction(payload, user)

    # ----------------------------------------------------------------- user messages

    def dm_channel(self, user: FakeUser) -> int:
        """The id of the DM channel between `user` and the bot (made on first use)."""
        for channel_id, other in self.dm_channels.items():
            if other.id == user.id:
                return channel_id
        channel_id = snowflake()
        self.dm_channels[channel_id] = user
        return channel_id

    async def send_message(
        self,
        content: str,
        *,
        user: FakeUser | None = None,
        channel: FakeChannel | None = None,
        dm: bool = False,
        mention_bot: bool = False,
        message_id: int | None = None,
    ) -> Json:
        """A user posts a message (MESSAGE_CREATE): in `channel` (default the first text
        channel) or, with `dm`, in their DM with the bot. `mention_bot` lists the bot in
        `mentions`, as Discord does for a `<@bot id>` in the content (add it to `content`
        yourself). `message_id` re-sends a message the gateway already delivered. Returns
        the message payload; the bot's replies are in `replies_to(message)`."""
        user = user or self.member
        if dm:
            channel_id, guild_id = self.dm_channel(user), None
        else:
            channel = channel or next(c for c in self.guild.channels.values() if c.type == TEXT)
            channel_id, guild_id = channel.id, channel.guild_id
        message: Json = {
            "id": str(message_id or snowflake()),
            "channel_id": str(channel_id),
            "author": user.to_payload(),
            "content": content,
            "embeds": [],
            "components": [],
            "attachments": [],
            "mentions": [self.bot_user.to_payload()] if mention_bot else [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": 0,
            "type": 0,
        }
        if guild_id is not None:
            guild = self.guilds[guild_id]
            message["guild_id"] = str(guild_id)
            message["member"] = self._member_payload(guild, user, with_user=False)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    def replies_to(self, message: Json) -> list[Json]:
        """The bot's messages that reply to `message` (its message_reference), oldest first."""
        return [msg for msg in self.channel_messages(int(message["channel_id"]))
                if str((msg.get("message_reference") or {}).get("message_id")) == message["id"]]

    async def wait_for_reply(self, message: Json, timeout: float = DEFAULT_TIMEOUT) -> Json:
        """The bot's first reply to `message`; waits for it if needed."""
        return await self._wait_until(lambda: next(iter(self.replies_to(message)), None),
                                      timeout, f"a reply to message {message['id']}")

    # ----------------------------------------------------------------- REST server

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        received_at = time.perf_counter()
        body: Any = None
        files: list[UploadedFile] = []
        body_error: _HttpError | None = None
        try:
            body, files = await _read_body(request)
        except ValueError:
            body_error = _HttpError(400, 50109, "The request body contains invalid JSON.")
        path = (
            request.path.removeprefix(API_PREFIX)
            if request.path.startswith(API_PREFIX + "/")
            else request.path
        )
        record = RecordedRequest(
            index=-1,
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body,
            files=files,
            headers=dict(request.headers),
            received_at=received_at,
        )
        try:
            if body_error is not None:
                raise body_error
            status, response = self._route(record, is_api=request.path.startswith(API_PREFIX + "/"))
        except _HttpError as exc:
            status, response = exc.status, exc.body
        except Exception as exc:
            # A bug in the fake. Answer 400, not 500: discord.py retries 5xx with sleeps of
            # up to 9 s, which would turn a clear failure into a slow, confusing one.
            self.internal_errors.append(exc)
            status, response = 400, {"code": 0, "message": f"fake_discord internal error: {exc!r}"}
        record.status, record.response = status, response
        record.index = len(self.requests)
        self.requests.append(record)
        if record.interaction is not None:
            record.interaction.requests.append(record)
        await self._notify()
        for method, pattern, release in self.holds:
            if method == record.method and pattern.fullmatch(record.path):
                await release.wait()
        if response is None:
            return web.Response(status=status)
        # discord.py only parses JSON when Content-Type is exactly "application/json"
        # (web.json_response appends "; charset=utf-8", which makes it return raw text).
        return web.Response(
            body=json.dumps(response).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
        )

    def _route(self, rec: RecordedRequest, *, is_api: bool) -> tuple[int, Any]:
        route: tuple[Callable[..., tuple[int, Any]], tuple[str, ...]] | None = None
        if is_api:
            for method, pattern, name in ROUTES:
                if method == rec.method and (match := pattern.fullmatch(rec.path)):
                    rec.route, route = name, (getattr(self, f"_{name}"), match.groups())
                    if name.startswith(("interaction_", "webhook_")):
                        # Link early so injected failures also show up on the handle.
                        rec.interaction = self.interactions.get(match.group(2))
                    break
        for rule in self.failure_rules:
            if rule.matches(rec.method, rec.path):
                if rule.remaining is not None:
                    rule.remaining -= 1
                rec.injected = True
                return rule.status, copy.deepcopy(rule.body)
        if route is None:
            return 404, {"code": 0, "message": "404: Not Found"}
        handler, groups = route
        return handler(rec, *groups)

    # Handlers return (status, json-or-None); raising _HttpError produces Discord's error shape.

    def _get_gateway(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    def _get_current_user(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, self.bot_user.to_payload() | {
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
        }

    def _get_application(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "Fake application",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot_user.to_payload(),
            "owner": self.owner.to_payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
        }

    def _get_gateway_bot(self, rec: RecordedRequest) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    def _store_commands(self, body: Any, guild_id: int | None) -> list[Json]:
        if not isinstance(body, list):
            raise _invalid_form()
        previous = self.guild_commands.get(guild_id, []) if guild_id else self.global_commands
        # Discord keeps a command's id stable across overwrites with the same name and type.
        old_ids = {(c["name"], c.get("type", 1)): c["id"] for c in previous}
        stored: list[Json] = []
        for raw in body:
            command = copy.deepcopy(raw)
            command.setdefault("type", 1)
            command.setdefault("description", "")
            command.setdefault("default_member_permissions", None)
            command.setdefault("nsfw", False)
            command["id"] = old_ids.get((command["name"], command["type"]), str(snowflake()))
            command["application_id"] = str(self.application_id)
            command["version"] = str(snowflake())
            if guild_id:
                command["guild_id"] = str(guild_id)
            stored.append(command)
        if guild_id:
            self.guild_commands[guild_id] = stored
        else:
            self.global_commands = stored
        return copy.deepcopy(stored)

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise _HttpError(403, 50001, "Missing Access")

    def _put_global_commands(self, rec: RecordedRequest, app_id: str) -> tuple[int, Any]:
        self._check_app(app_id)
        return 200, self._store_commands(rec.json, None)

    def _get_global_commands(self, rec: RecordedRequest, app_id: str) -> tuple[int, Any]:
        self._check_app(app_id)
        return 200, copy.deepcopy(self.global_commands)

    def _put_guild_commands(
        self, rec: RecordedRequest, app_id: str, guild_id: str
    ) -> tuple[int, Any]:
        self._check_app(app_id)
        if int(guild_id) not in self.guilds:
            raise _HttpError(404, 10004, "Unknown Guild")
        return 200, self._store_commands(rec.json, int(guild_id))

    def _get_guild_commands(
        self, rec: RecordedRequest, app_id: str, guild_id: str
    ) -> tuple[int, Any]:
        self._check_app(app_id)
        return 200, copy.deepcopy(self.guild_commands.get(int(guild_id), []))

    # -- messages

    def _attachments(
        self, channel_id: int, body: Json, files: list[UploadedFile], keep: list[Json]
    ) -> list[Json]:
        """Builds attachment objects: existing ones listed in body["attachments"] plus uploads."""
        result = [
            a for a in keep if any(str(x.get("id")) == a["id"] for x in body.get("attachments", []))
        ]
        for upload in files:
            attachment_id = snowflake()
            url = f"{self.http_base}/attachments/{channel_id}/{attachment_id}/{upload.filename}"
            result.append(
                {
                    "id": str(attachment_id),
                    "filename": upload.filename,
                    "size": len(upload.data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": upload.content_type,
                }
            )
        return result

    def _create_message(
        self,
        channel_id: int,
        body: Json,
        files: list[UploadedFile],
        *,
        interaction: InteractionHandle | None = None,
        flags: int = 0,
        message_id: int | None = None,
        original: bool = False,
    ) -> Json:
        channel = self.find_channel(channel_id)
        message_id = message_id or snowflake()
        msg: Json = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.bot_user.to_payload(),
            "content": body.get("content") or "",
            "embeds": copy.deepcopy(body.get("embeds") or []),
            "components": copy.deepcopy(body.get("components") or []),
            "attachments": self._attachments(channel_id, body, files, []),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts")),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": int(body.get("flags") or 0) | flags,
            "type": 0,
        }
        if channel is not None:
            msg["guild_id"] = str(channel.guild_id)
        if body.get("poll"):
            msg["poll"] = copy.deepcopy(body["poll"])
        if body.get("message_reference"):  # a reply; its pings as the bot asked for them
            msg["message_reference"] = {"channel_id": str(channel_id),
                                        **copy.deepcopy(body["message_reference"])}
            msg["allowed_mentions"] = copy.deepcopy(body.get("allowed_mentions"))
        if interaction is not None:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            if original and interaction.type == APPLICATION_COMMAND:
                msg["type"] = 20  # CHAT_INPUT_COMMAND
            msg["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.to_payload(),
                "authorizing_integration_owners": interaction.payload[
                    "authorizing_integration_owners"
                ],
            }
        self.messages[message_id] = msg
        self.channel_message_ids.setdefault(channel_id, []).append(message_id)
        return msg

    def _edit_message(
        self, msg: Json, body: Json, files: list[UploadedFile], *, finish_loading: bool = False
    ) -> Json:
        for key in ("content", "embeds", "components"):
            if key in body:
                msg[key] = (
                    copy.deepcopy(body[key])
                    if body[key] is not None
                    else ([] if key != "content" else "")
                )
        if "attachments" in body or files:
            msg["attachments"] = self._attachments(
                int(msg["channel_id"]), body, files, msg["attachments"]
            )
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS can be toggled on edit; EPHEMERAL/LOADING are sticky.
            msg["flags"] = (msg["flags"] & ~4) | (int(body["flags"]) & 4)
        if finish_loading and msg["flags"] & LOADING:
            msg["flags"] &= ~LOADING  # completing a deferred response is not an "edit"
        else:
            msg["edited_timestamp"] = _now_iso()
        return msg

    def _delete_message(self, message_id: int) -> None:
        self.messages.pop(message_id, None)

    def _channel_or_error(self, channel_id: str) -> FakeChannel:
        channel = self.find_channel(int(channel_id))
        if channel is None:
            raise _unknown_channel()
        if channel.forbidden:
            raise _HttpError(403, 50013, "Missing Permissions")
        return channel

    def _check_embeds(self, body: Json) -> None:
        for number, embed in enumerate(body.get("embeds") or []):
            if embed.get("url") in self.refused_embed_urls:
                raise _invalid_form(f"embeds.{number}.url: Not a well formed URL.")

    def _channel_create_message(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        if int(channel_id) in self.dm_channels:
            body = rec.json or {}
            _require_content(body, rec.files)
            return 200, copy.deepcopy(self._create_message(int(channel_id), body, rec.files))
        channel = self._channel_or_error(channel_id)
        if channel.type in (CATEGORY, FORUM, MEDIA):
            raise _HttpError(400, 50008, "Cannot send messages in a non-text channel")
        body = rec.json or {}
        _require_content(body, rec.files)
        self._check_embeds(body)
        nonce = str(body["nonce"]) if body.get("enforce_nonce") and body.get("nonce") else None
        if nonce is not None:
            seen = self._nonces.get((channel.id, nonce))
            if seen and time.monotonic() - seen[1] < self.nonce_window and seen[0] in self.messages:
                return 200, copy.deepcopy(self.messages[seen[0]])
        msg = self._create_message(channel.id, body, rec.files)
        if nonce is not None:
            msg["nonce"] = nonce
            self._nonces[(channel.id, nonce)] = (int(msg["id"]), time.monotonic())
        return 200, copy.deepcopy(msg)

    def _channel_history(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        """Newest first, like Discord; `before`, `after` and `limit` (at most 100)."""
        channel = self._channel_or_error(channel_id)
        limit = min(int(rec.query.get("limit", 50)), 100)
        before, after = int(rec.query.get("before", 1 << 63)), int(rec.query.get("after", 0))
        found = [m for m in reversed(self.channel_messages(channel))
                 if after < int(m["id"]) < before]
        if "after" in rec.query:  # the oldest after it, still sent newest first
            found = found[-limit:]
        return 200, copy.deepcopy(found[:limit])

    def _guild_active_threads(self, rec: RecordedRequest, guild_id: str) -> tuple[int, Any]:
        guild = self.guilds.get(int(guild_id))
        if guild is None:
            raise _HttpError(404, 10004, "Unknown Guild")
        threads = [c.to_payload() for c in guild.channels.values() if c.type in THREAD_TYPES]
        return 200, {"threads": threads, "members": []}

    def _channel_get(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        channel = self._channel_or_error(channel_id)
        return 200, channel.to_payload(bot_user_id=self.bot_user.id)

    def _channel_message(self, channel_id: str, message_id: str) -> Json:
        if int(channel_id) not in self.dm_channels:
            self._channel_or_error(channel_id)
        msg = self.messages.get(int(message_id))
        if msg is None or msg["channel_id"] != channel_id:
            raise _unknown_message()
        return msg

    def _channel_get_message(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._channel_message(channel_id, message_id))

    def _channel_edit_message(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        msg = self._channel_message(channel_id, message_id)
        return 200, copy.deepcopy(self._edit_message(msg, rec.json or {}, rec.files))

    def _channel_delete_message(
        self, rec: RecordedRequest, channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        self._channel_message(channel_id, message_id)
        self._delete_message(int(message_id))
        return 204, None

    def _channel_typing(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        self._channel_or_error(channel_id)
        return 204, None

    def _channel_create_thread(self, rec: RecordedRequest, channel_id: str) -> tuple[int, Any]:
        parent = self._channel_or_error(channel_id)
        body = rec.json or {}
        if not body.get("name"):
            raise _invalid_form("name is required")
        guild = self.guilds[parent.guild_id]
        is_forum = parent.type in (FORUM, MEDIA)
        if not is_forum and parent.type not in (TEXT, NEWS):
            raise _invalid_form("threads can only be created in text, news and forum channels")
        if is_forum and not isinstance(body.get("message"), dict):
            raise _invalid_form("message is required for forum posts")
        if is_forum:
            self._check_embeds(body["message"])
        thread_type = PUBLIC_THREAD if is_forum else int(body.get("type") or PUBLIC_THREAD)
        thread = FakeChannel(
            snowflake(),
            guild.id,
            body["name"],
            type=thread_type,
            parent_id=parent.id,
            owner_id=self.bot_user.id,
        )
        guild.channels[thread.id] = thread
        payload = thread.to_payload()
        payload["applied_tags"] = [str(t) for t in body.get("applied_tags", [])]
        payload["member"] = {
            "id": str(thread.id),
            "user_id": str(self.bot_user.id),
            "join_timestamp": _now_iso(),
            "flags": 0,
        }
        if is_forum:
            # A forum post's starter message has the same id as the thread.
            payload["message"] = copy.deepcopy(
                self._create_message(thread.id, body["message"], rec.files, message_id=thread.id)
            )
            payload["message_count"] = payload["total_message_sent"] = 1
            payload["last_message_id"] = str(thread.id)
        return 201, payload

    # -- interactions and their webhooks

    def _interaction_callback(
        self, rec: RecordedRequest, interaction_id: str, token: str
    ) -> tuple[int, Any]:
        handle = self.interactions.get(token)
        if handle is None or handle.id != int(interaction_id):
            rec.interaction = None
            raise _HttpError(404, 10062, "Unknown interaction")
        rec.interaction = handle
        expired = (
            self.callback_deadline is not None
            and handle.dispatched_at is not None
            and rec.received_at - handle.dispatched_at > self.callback_deadline
        )
        if expired:
            raise _HttpError(404, 10062, "Unknown interaction")
        if handle.acknowledged:
            raise _HttpError(400, 40060, "Interaction has already been acknowledged.")
        body = rec.json or {}
        cb_type = body.get("type")
        data: Json = body.get("data") or {}
        is_autocomplete = handle.type == AUTOCOMPLETE
        if is_autocomplete != (cb_type == CB_AUTOCOMPLETE):
            raise _invalid_form(
                f"callback type {cb_type} is invalid for interaction type {handle.type}"
            )
        if cb_type in (CB_DEFER_UPDATE, CB_UPDATE) and handle.source_message_id is None:
            raise _invalid_form(
                f"callback type {cb_type} needs a component/modal interaction on a message"
            )
        if cb_type == CB_MODAL and handle.type == MODAL_SUBMIT:
            raise _invalid_form("cannot answer a modal submit with a modal")
        if cb_type not in (
            CB_MESSAGE,
            CB_DEFER,
            CB_DEFER_UPDATE,
            CB_UPDATE,
            CB_AUTOCOMPLETE,
            CB_MODAL,
        ):
            raise _invalid_form(f"unsupported callback type {cb_type}")

        message: Json | None = None
        if cb_type == CB_MESSAGE:
            _require_content(data, rec.files)
            message = self._create_message(
                handle.channel_id, data, rec.files, interaction=handle, original=True
            )
            handle.original_message_id = int(message["id"])
        elif cb_type == CB_DEFER:
            # Discord creates a "Bot is thinking..." message straight away.
            message = self._create_message(
                handle.channel_id,
                {},
                [],
                interaction=handle,
                original=True,
                flags=LOADING | (int(data.get("flags") or 0) & EPHEMERAL),
            )
            handle.original_message_id = int(message["id"])
        elif cb_type in (CB_DEFER_UPDATE, CB_UPDATE):
            # For component interactions @original is the message the component lives on.
            handle.original_message_id = handle.source_message_id
            target = self.messages.get(handle.source_message_id)  # type: ignore[arg-type]
            if target is None:
                raise _unknown_message()
            if cb_type == CB_UPDATE:
                message = self._edit_message(target, data, rec.files)
        elif cb_type == CB_MODAL:
            handle.modal = copy.deepcopy(data)
        handle.callback_type = cb_type

        if rec.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        response_message = self.messages.get(handle.original_message_id or 0)
        result: Json = {
            "interaction": {
                "id": str(handle.id),
                "type": handle.type,
                "response_message_id": str(handle.original_message_id)
                if handle.original_message_id
                else None,
                "response_message_loading": cb_type == CB_DEFER,
                "response_message_ephemeral": bool(
                    response_message and response_message["flags"] & EPHEMERAL
                ),
            }
        }
        if message is not None:
            result["resource"] = {"type": cb_type, "message": copy.deepcopy(message)}
        elif cb_type == CB_MODAL:
            result["resource"] = {"type": cb_type}
        return 200, result

    def _webhook_handle(self, rec: RecordedRequest, app_id: str, token: str) -> InteractionHandle:
        handle = self.interactions.get(token)
        if handle is None or int(app_id) != self.application_id:
            rec.interaction = None
            raise _unknown_webhook()
        rec.interaction = handle
        # The interaction webhook only exists once the interaction was acknowledged.
        if not handle.acknowledged or handle.callback_type == CB_AUTOCOMPLETE:
            raise _unknown_webhook()
        return handle

    def _webhook_message(self, handle: InteractionHandle, message_id: str) -> Json:
        if message_id == "@original":
            mid = handle.original_message_id
        else:
            mid = int(message_id)
            if mid != handle.original_message_id and mid not in handle.followup_ids:
                raise _unknown_message()
        msg = self.messages.get(mid) if mid is not None else None
        if msg is None:
            raise _unknown_message()
        return msg

    def _webhook_execute(self, rec: RecordedRequest, app_id: str, token: str) -> tuple[int, Any]:
        handle = self._webhook_handle(rec, app_id, token)
        body = rec.json or {}
        _require_content(body, rec.files)
        msg = self._create_message(handle.channel_id, body, rec.files, interaction=handle)
        handle.followup_ids.append(int(msg["id"]))
        if rec.query.get("wait") in ("0", "false", "False"):
            return 204, None
        return 200, copy.deepcopy(msg)

    def _webhook_get_message(
        self, rec: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        handle = self._webhook_handle(rec, app_id, token)
        return 200, copy.deepcopy(self._webhook_message(handle, message_id))

    def _webhook_edit_message(
        self, rec: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        handle = self._webhook_handle(rec, app_id, token)
        msg = self._webhook_message(handle, message_id)
        return 200, copy.deepcopy(
            self._edit_message(msg, rec.json or {}, rec.files, finish_loading=True)
        )

    def _webhook_delete_message(
        self, rec: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        handle = self._webhook_handle(rec, app_id, token)
        self._delete_message(int(self._webhook_message(handle, message_id)["id"]))
        return 204, None


# --------------------------------------------------------------------------- helpers


def _iter_components(components: Sequence[Json]) -> Iterator[Json]:
    for comp in components:
        yield comp
        yield from _iter_components(comp.get("components", []))
        for key in ("accessory", "component"):  # sections and labels (components v2)
            if key in comp:
                yield from _iter_components([comp[key]])


def _require_content(body: Json, files: list[UploadedFile]) -> None:
    if not (files or any(body.get(k) for k in ("content", "embeds", "components", "poll"))):
        raise _HttpError(400, 50006, "Cannot send an empty message")


def _check_option_value(definition: Json, wire: Any, where: str) -> None:
    """Rejects values the Discord client would not let a user submit."""
    choices = definition.get("choices")
    if choices and wire not in [c["value"] for c in choices]:
        raise ValueError(f"{wire!r} is not one of the choices of {where}")
    if isinstance(wire, int | float) and not isinstance(wire, bool):
        low, high = definition.get("min_value"), definition.get("max_value")
        if (low is not None and wire < low) or (high is not None and wire > high):
            raise ValueError(f"{wire!r} is outside [{low}, {high}] for {where}")
    if definition["type"] == 3:
        low, high = definition.get("min_length"), definition.get("max_length")
        if (low is not None and len(wire) < low) or (high is not None and len(wire) > high):
            raise ValueError(f"{wire!r} length is outside [{low}, {high}] for {where}")


def _find_component(message: Json, custom_id: str) -> Json:
    for comp in _iter_components(message.get("components", [])):
        if comp.get("custom_id") == custom_id:
            return comp
    ids = [c.get("custom_id") for c in _iter_components(message.get("components", []))]
    raise LookupError(f"message {message['id']} has no component {custom_id!r} (has {ids})")


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """Parses a JSON body or a multipart body (payload_json + files[n])."""
    if not request.can_read_body:
        return None, []
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # discord.py never nests multiparts
                continue
            data = await part.read()
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(data)
            else:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                files.append(UploadedFile(name, part.filename or name, content_type, bytes(data)))
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    return json.loads(raw), []


@contextlib.contextmanager
def patch_discord_urls(fake: FakeDiscord) -> Iterator[None]:
    """Points discord.py's REST base and default gateway at the fake, restoring them on exit.

    Both are process-global, so only one fake can be targeted at a time. A plain Client never
    calls GET /gateway/bot (only AutoShardedClient does), it connects straight to
    DiscordWebSocket.DEFAULT_GATEWAY, hence that is patched too.
    """
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


async def _until(task: asyncio.Task[Any], waiter: Any, timeout: float, what: str) -> None:
    """Awaits `waiter`, failing fast if the bot task ends (e.g. login error) first."""
    wait_task = asyncio.ensure_future(waiter)
    done, _ = await asyncio.wait(
        {task, wait_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if wait_task in done:
        wait_task.result()
        return
    wait_task.cancel()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await wait_task
    if task in done:
        task.result()  # re-raises the bot's startup exception
        raise RuntimeError(f"bot.start() returned before {what}")
    raise TimeoutError(f"bot did not reach {what} within {timeout}s")


C = TypeVar("C", bound=discord.Client)


@contextlib.asynccontextmanager
async def running_bot(
    bot: C,
    fake: FakeDiscord,
    *,
    token: str = BOT_TOKEN,
    timeout: float = 10.0,
    guild_ready_timeout: float | None = 0.05,
) -> AsyncIterator[C]:
    """Runs bot.start() against the fake until the body exits, then closes the bot cleanly.

    On entry waits until the gateway session has processed READY + every GUILD_CREATE (so all
    fake guilds are cached) and the bot is ready. discord.py dispatches on_ready only after
    `guild_ready_timeout` seconds without a new GUILD_CREATE (default 2 s), so it is lowered
    here (None keeps the bot's own value); all GUILD_CREATEs are written back-to-back with READY.
    """
    if guild_ready_timeout is not None:
        bot._connection.guild_ready_timeout = guild_ready_timeout
    with patch_discord_urls(fake):
        first_session = len(fake.gateway_sessions)
        task = asyncio.create_task(bot.start(token), name="fake-discord-bot")
        in_flight: BaseException | None = None
        try:
            await _until(
                task,
                fake.wait_until_connected(since=first_session, timeout=timeout),
                timeout,
                "the gateway",
            )
            await _until(task, bot.wait_until_ready(), timeout, "on_ready")
            yield bot
        except BaseException as exc:
            in_flight = exc
            raise
        finally:
            await bot.close()
            # start() returns once close() has run; a crash of the bot surfaces here, unless
            # an exception (possibly that very one, re-raised by _until) is already propagating.
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                if in_flight is None:
                    raise TimeoutError("bot.start() did not return after bot.close()")
            elif not task.cancelled() and (error := task.exception()) and in_flight is None:
                raise error
