"""Drives the collector app in-process through raw ASGI (lifespan included): byte-exact requests in and out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CASES = Path(__file__).resolve().parent.parent / "cases" / "collector"


@dataclass
class Answer:
    """One HTTP response as the server sent it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name.lower()]


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan startup, yield, then its shutdown (as uvicorn does)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        done = await outbox.get()
        assert done["type"] == "lifespan.shutdown.complete", done
        await task


async def call(
    app: Any,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    client: tuple[str, int] | None = ("203.0.113.9", 40000),
    chunks: int = 1,
) -> Answer:
    """One request; header names are lower-cased as ASGI servers do, the body arrives in `chunks` pieces."""
    pieces = [body]
    if chunks > 1 and body:
        step = max(1, len(body) // chunks)
        pieces = [body[i : i + step] for i in range(0, len(body), step)]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers],
        "client": client,
        "server": ("127.0.0.1", 8080),
    }
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(scope, receive, send)
    start = next(m for m in out if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    hdrs = [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in start.get("headers", [])]
    return Answer(start["status"], hdrs, body_out)


def captured(name: str) -> list[dict[str, Any]]:
    """The captured tracker requests in tests/cases/collector/<name>-tracker-requests.jsonl."""
    lines = (CASES / f"{name}-tracker-requests.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


async def replay(app: Any, request: dict[str, Any], **kwargs: Any) -> Answer:
    """Send one captured request exactly as captured (headers in order, body bytes)."""
    return await call(
        app,
        request["method"],
        request["path"],
        query=request["query"].encode("latin-1"),
        headers=[(n, v) for n, v in request["headers"]],
        body=request["body"].encode("utf-8"),
        **kwargs,
    )
