"""A tiny OpenAI-compatible chat endpoint on 127.0.0.1 for the written-answer tests.

    async with FakeLlm(reply="Meta picked Azure [1].") as llm:
        ...  # point NEWS_LLM_URL at llm.url
        assert llm.requests[0].body["messages"][0]["role"] == "system"

`hang=True` accepts each request and never answers it (until the server closes); `status`
answers with that HTTP status and an error body instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True)
class ChatRequest:
    """One request the endpoint received."""

    path: str
    authorization: str | None
    body: Any


class FakeLlm:
    """Answers POST /v1/chat/completions (and /custom/chat/completions) with `reply`."""

    def __init__(self, reply: str = "", *, hang: bool = False, status: int = 200) -> None:
        self.reply = reply
        self.hang = hang
        self.status = status
        self.requests: list[ChatRequest] = []
        self._received = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/custom/chat/completions", self._chat)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def received(self, timeout: float = 10.0) -> ChatRequest:
        """The first request, once it has arrived."""
        async with asyncio.timeout(timeout):
            await self._received.wait()
        return self.requests[0]

    async def _chat(self, request: web.Request) -> web.Response:
        self.requests.append(ChatRequest(request.path, request.headers.get("Authorization"),
                                         await request.json()))
        self._received.set()
        if self.hang:
            await self._closing.wait()
        if self.status != 200:
            return web.json_response({"error": {"message": "model 'nope' not found"}},
                                     status=self.status)
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.reply}}],
        })
