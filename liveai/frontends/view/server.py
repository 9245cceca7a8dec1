"""The live view's server: aiohttp on its own thread and event loop, bound to 127.0.0.1, behind a token.

GET /?token=T serves the page; /ws?token=T is its websocket: frames out at
UPDATE_HZ, param changes in (never code). A wrong or missing token gets HTTP
403 (the page) or a websocket closed with 4403 (the socket). The clock thread
only feeds the note ring (tap.py); building and sending frames happens here.
This thread keeps out of the clock's way: each tick's wake-up is planned
between the clock's queued sends (waking takes the GIL from the dispatcher
spinning towards a send), and no frame is built or sent in the quiet window
before a send (runtime/sendgate.py).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from liveai.frontends.view import snapshot
from liveai.frontends.view.controls import ControlError, TokenBucket, apply_control, parse_control
from liveai.frontends.view.settings import HISTORY_BEATS, TOKEN_BYTES, UPDATE_HZ
from liveai.limits import (VIEW_ERROR_BURST, VIEW_ERRORS_PER_S, VIEW_MAX_FRAME_BYTES, VIEW_MAX_NOTES_PER_FRAME,
                           VIEW_MAX_PAGES)
from liveai.frontends.view.tap import NoteRing, for_page
from liveai.runtime import priority
from liveai.runtime.sendgate import quiet_wait

STATIC = Path(__file__).parent / "static"
QUIET_S = 0.002          # no frame is built or sent this close before a send of the clock
WAKE_JITTER_S = 0.0015   # the loop's timers wake up to ~1 ms late (epoll's millisecond timeout)
AFTER_SEND_S = 0.0005    # a tick due at a send waits until this long after it
MAX_SHIFT_S = 0.015      # a tick is put off by at most this much to find a gap between sends
START_TIMEOUT_S = 10.0
PING, PONG = '{"t":"ping"}', '{"t":"pong"}'   # answered in order with the replies to controls, never limited
CLOSE_TOKEN = 4403       # websocket close code for a wrong or missing token (4000-4999: the application's own)


class Client:
    """One page: where it is in the note ring, its rate limits, what it is owed."""

    def __init__(self, ws: web.WebSocketResponse, cursor: int) -> None:
        self.ws = ws
        self.cursor = cursor
        self.schema_version = -1
        self.bucket = TokenBucket()
        self.errors = TokenBucket(VIEW_ERRORS_PER_S, VIEW_ERROR_BURST)
        self.errors_dropped = 0
        self.notes_dropped = 0
        self.outbox: deque[str] = deque(maxlen=64)   # replies, sent before the next frame
        self.wake = asyncio.Event()
        self.frames = 0


class ViewServer:
    def __init__(self, session: Any, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 update_hz: float = UPDATE_HZ, keep_clear: bool = True) -> None:
        self.session = session
        self.host, self.port = host, port
        self.token = token or secrets.token_urlsafe(TOKEN_BYTES)
        self.update_hz = update_hz
        self.keep_clear = keep_clear           # False: free-running ticks, no quiet wait (the bench's "naive" arm)
        self.ring = NoteRing()
        self.clients: set[Client] = set()
        self.frames_built = 0
        self.controls_applied = 0
        self._latest: tuple[str, list] = ("{}", [])
        self._sends: list[float] = []          # perf_counter times of the clock's next sends, from the last frame
        self._schema: dict[str, Any] = {}
        self._schema_key: tuple = ()
        self._schema_version = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.priority = "not started"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/?token={self.token}"

    def __str__(self) -> str:
        return self.url

    # -- lifecycle (any thread) ----------------------------------------------------------------
    def start(self) -> "ViewServer":
        self.ring.attach(self.session)
        self._thread = threading.Thread(target=self._run, name="liveai-view", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"live view did not start within {START_TIMEOUT_S:g} s")
        if self._error is not None:
            self.ring.detach(self.session)
            raise OSError(f"live view not started on {self.host}:{self.port}: {self._error}")
        return self

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(5.0)
        self.ring.detach(self.session)
        self._thread = None

    def __enter__(self) -> "ViewServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        return {"clients": len(self.clients), "frames_built": self.frames_built,
                "frames_sent": [c.frames for c in list(self.clients)], "controls_applied": self.controls_applied}

    # -- the view's thread ---------------------------------------------------------------------
    def _run(self) -> None:
        # Bursty work holding the GIL (a frame every 33 ms): SCHED_FIFO 1 where allowed, as the agents'
        # workers and the OSC apply thread run, so the OS never deschedules it mid-frame while the
        # clock waits for the GIL (runtime/priority.py). The loop sleeps in epoll between frames.
        self.priority = priority.worker()
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:      # reported by start(); a failing view never takes the session down
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self._has_clients = asyncio.Event()
        app = web.Application(client_max_size=VIEW_MAX_FRAME_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            ticker = asyncio.create_task(self._tick())
            await self._stop.wait()
            ticker.cancel()
            for client in list(self.clients):
                await client.ws.close(code=1001, message=b"liveai view closing")
        finally:
            await runner.cleanup()

    def _token_ok(self, request: web.Request) -> bool:
        return secrets.compare_digest(request.query.get("token", "").encode(), self.token.encode())

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if not self._token_ok(request):
            return web.Response(status=403, text="liveai view: wrong or missing token; open the URL liveai printed\n")
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=VIEW_MAX_FRAME_BYTES, compress=False, heartbeat=None)
        if not self._token_ok(request):
            await ws.prepare(request)
            await ws.close(code=CLOSE_TOKEN, message=b"wrong or missing token")
            return ws
        if len(self.clients) >= VIEW_MAX_PAGES:
            return web.Response(status=503, text=f"liveai view: at most {VIEW_MAX_PAGES} pages at once\n")
        await ws.prepare(request)
        client = Client(ws, self._history_cursor())
        self.clients.add(client)
        self._has_clients.set()
        sender = asyncio.create_task(self._send_loop(client))
        client.wake.set()                      # the first frame now: history and schema
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._control(client, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._error_to(client, "binary message refused: send JSON text")
                else:
                    break
        finally:
            self.clients.discard(client)
            if not self.clients:
                self._has_clients.clear()
            sender.cancel()
        return ws

    def _history_cursor(self) -> int:
        """The seq before the notes of the last HISTORY_BEATS, so a new page starts with them."""
        entries = self.ring.copy()
        since_beat = self.session.clock.now_beat() - HISTORY_BEATS
        older = [e[0] for e in entries if e[1] < since_beat]
        return older[-1] if older else 0

    def _control(self, client: Client, text: str) -> None:
        if text == PING:                     # a marker a page (or a test, or the bench) can wait for
            client.outbox.append(PONG)
            client.wake.set()
            return
        try:
            control = parse_control(text)
            if not client.bucket.allow(time.monotonic(), len(control.values)):
                raise ControlError(f"too many control changes: at most {client.bucket.rate_hz:g} a second "
                                   f"(bursts of {client.bucket.burst}); this one was dropped")
            values = apply_control(self.session.agents, control)
        except ValueError as exc:            # ControlError, or the agent's own range error
            self._error_to(client, str(exc))
            return
        self.controls_applied += 1
        client.outbox.append(json.dumps({"t": "ok", "agent": control.agent, "values": values}))
        client.wake.set()

    def _error_to(self, client: Client, message: str) -> None:
        if not client.errors.allow(time.monotonic()):
            client.errors_dropped += 1
            return
        more = f" (and {client.errors_dropped} more errors)" if client.errors_dropped else ""
        client.errors_dropped = 0
        client.outbox.append(json.dumps({"t": "error", "message": message + more}))
        client.wake.set()

    async def _quiet(self) -> None:
        """Wait (without the GIL) while a send of the clock is near or under way: until the dispatcher
        has published its next send time, or the send is GRACE_S overdue (a stalled or stopped clock)."""
        gate = getattr(self.session.clock, "send_gate", None)
        if gate is None or not self.keep_clear:
            return
        while (wait := quiet_wait(time.perf_counter(), gate.read(), QUIET_S)) > 0:
            await asyncio.sleep(wait)

    async def _sleep_clear_of_sends(self, delay: float) -> None:
        """Sleep about `delay`, planning the wake-up clear of the clock's sends (those queued, as the last
        frame read them, and the one the dispatcher published): waking takes the GIL from the dispatcher
        spinning towards a send, so a wake-up at a send would make it late. Moved by MAX_SHIFT_S at most."""
        gate = getattr(self.session.clock, "send_gate", None)
        if gate is not None and self.keep_clear:
            now = time.perf_counter()
            wake = planned = now + delay
            for send in sorted({*self._sends, gate.read()}):
                if send - QUIET_S - WAKE_JITTER_S <= wake <= send + AFTER_SEND_S:
                    wake = send + AFTER_SEND_S
                if wake - planned > MAX_SHIFT_S:
                    wake = planned             # sends too dense to find a gap: as planned
                    break
            delay = max(0.0, wake - now)
        await asyncio.sleep(delay)

    async def _tick(self) -> None:
        period = 1.0 / self.update_hz
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            next_t += period
            delay = next_t - loop.time()
            if delay < -period:              # far behind (a stall): skip ahead, do not burst
                next_t = loop.time()
            await self._sleep_clear_of_sends(max(delay, 0.0))
            if not self.clients:              # no page: no wake-ups at all until one connects
                await self._has_clients.wait()
                next_t = loop.time()
                continue
            await self._quiet()
            try:
                self._build()
            except Exception as exc:         # keep ticking: the next frame may be fine
                for client in list(self.clients):
                    self._error_to(client, f"live view: could not read the session: {exc!r}")
                continue
            for client in list(self.clients):
                client.wake.set()

    def _build(self) -> None:
        agents = self.session.agents
        key = tuple((name, id(agent)) for name, agent in list(agents.items()))
        if key != self._schema_key:
            self._schema, self._schema_key = snapshot.schema(agents), key
            self._schema_version += 1
        queued = self.session.scheduler.upcoming()
        self._sends = snapshot.release_times(self.session, queued, 2.0 / self.update_hz + MAX_SHIFT_S)
        base = json.dumps(snapshot.frame(self.session, queued), separators=(",", ":"))
        self._latest = (base, self.ring.copy())
        self.frames_built += 1

    async def _send_loop(self, client: Client) -> None:
        ws = client.ws
        try:
            while not ws.closed:
                await client.wake.wait()
                client.wake.clear()
                await self._quiet()
                while client.outbox:
                    await ws.send_str(client.outbox.popleft())
                base, entries = self._latest
                if base == "{}":
                    continue
                new, client.cursor, dropped = for_page(entries, client.cursor, VIEW_MAX_NOTES_PER_FRAME)
                client.notes_dropped += dropped
                extra = {"notes": snapshot.notes(new), "notes_dropped": client.notes_dropped}
                if client.schema_version != self._schema_version:
                    extra["schema"] = self._schema
                    client.schema_version = self._schema_version
                await ws.send_str(base[:-1] + "," + json.dumps(extra, separators=(",", ":"))[1:])
                client.frames += 1
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return                           # the page went away mid-send: nothing else to do
