"""Does the live view cost the clock anything? Dispatch lateness with the view open and pages connected, and without.

One realtime session plays 8 voices of 16ths, each a 32nd after the last (64 notes
at 64 separate times a second) with a drums agent
registered (so frames carry an agent's state). The run alternates segments: "off"
(no view at all: no server, no tap) and "on" (a ViewServer, its tap, and N pages
connected from another process, as browsers are, each reading every frame). The
lateness of every send is the scheduler's own measurement; each arm's p50/p99/max
is taken over all its segments. The half second after each switch (the view
starting or closing, pages connecting) is measured apart ("switching"): a
performer opens the view once, so its start is not what the view costs while
it is open. The pages also count the frames they get: the update rate a page sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from liveai.bench.load import BusyCores, wait_seconds
from liveai.core.patterns import seq
from liveai.runtime.session import Session

GOAL_P99_RATIO = 1.1
GOAL_UPDATE_HZ = 20.0
SETTLE_S = 0.5          # after the view starts (or closes) and before a segment is measured


class Pages:
    """Pages in a child process (as browsers are): `connect(url, n)` opens n websockets that read every
    frame; `close()` returns (frames per page, seconds, mean frame bytes). Commands go as lines on its stdin."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "liveai.bench.view"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def _ask(self, cmd: list) -> list:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the pages' process ended")
        return json.loads(line)

    def connect(self, url: str, n: int) -> None:
        self._ask(["connect", url, n])

    def close(self) -> tuple[list[int], float, float]:
        _, frames, elapsed, mean_bytes = self._ask(["close"])
        return frames, elapsed, mean_bytes

    def quit(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class BrowserPage:
    """One of the pages as a real headless Chromium (Debian's chromium + chromedriver, via selenium): it
    reports the update rate the page itself counts. None when those are not installed."""

    FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage")

    def __init__(self) -> None:
        import shutil
        import tempfile

        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
        if not (chromium and driver):
            raise RuntimeError("chromium or chromedriver not found")
        self._profile = tempfile.TemporaryDirectory(prefix="liveai-bench-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for flag in (*self.FLAGS, f"--user-data-dir={self._profile.name}"):
            opts.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(driver), options=opts)
        self._t0, self._f0 = 0.0, 0

    def open(self, url: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(url)
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script(
            "return window.liveaiView && window.liveaiView.frames > 0"))
        self._t0, self._f0 = time.monotonic(), self.driver.execute_script("return window.liveaiView.frames")

    def rate(self) -> float:
        """Frames a second the page received since open()."""
        frames = self.driver.execute_script("return window.liveaiView.frames")
        rate = (frames - self._f0) / max(time.monotonic() - self._t0, 1e-9)
        self.driver.get("about:blank")
        return rate

    def quit(self) -> None:
        self.driver.quit()
        self._profile.cleanup()


def _pages_main() -> None:
    """The child: reads commands from stdin, answers each with one JSON line."""
    import aiohttp

    async def reader(ws: Any, counts: dict, key: int) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                counts[key] += 1
                counts["bytes"] += len(msg.data)

    def answer(*values: Any) -> None:
        print(json.dumps(list(values)), flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            _, url, n = json.loads(line)
            async with aiohttp.ClientSession() as http:
                socks = [await http.ws_connect(url) for _ in range(n)]
                counts: dict = {i: 0 for i in range(n)}
                counts["bytes"] = 0
                tasks = [asyncio.create_task(reader(ws, counts, i)) for i, ws in enumerate(socks)]
                t0 = time.monotonic()
                answer("connected")
                await loop.run_in_executor(None, sys.stdin.readline)       # ["close"]
                elapsed = time.monotonic() - t0
                frames = [counts[i] for i in range(n)]
                for ws in socks:
                    await ws.close()
                for t in tasks:
                    t.cancel()
                answer("closed", frames, elapsed, counts["bytes"] / max(1, sum(frames)))

    asyncio.run(main())


def _slice(stats: Any, start: int, end: int) -> np.ndarray:
    """The lateness of sends number start..end-1 (the stats ring holds the last 65536)."""
    ring = stats.recent()
    if stats.count <= ring.size:
        return ring[start:end]
    base = stats.count - ring.size
    return ring[max(start - base, 0):max(end - base, 0)]


def _summary(lat: np.ndarray, segments: list[np.ndarray] | None = None) -> dict:
    """p50/p99/max over all the arm's sends; counts over 100 us and 1 ms; and the median of the segments'
    own p99s, which one bad segment (a stall of the VM) cannot move."""
    if lat.size == 0:
        return {"events": 0, "p50_us": 0.0, "p99_us": 0.0, "max_us": 0.0}
    out = {"events": int(lat.size), "p50_us": round(float(np.percentile(lat, 50)) * 1e6, 1),
           "p99_us": round(float(np.percentile(lat, 99)) * 1e6, 1), "max_us": round(float(lat.max()) * 1e6, 1),
           "over_100us": int((lat > 100e-6).sum()), "over_1ms": int((lat > 1e-3).sum())}
    if segments:
        p99s = [float(np.percentile(seg, 99)) for seg in segments if seg.size]
        out["segment_p99_median_us"] = round(float(np.median(p99s)) * 1e6, 1) if p99s else 0.0
    return out


def run(seconds: float = 60.0, segment_s: float = 5.0, clients: int = 3, load: bool = False,
        browser: bool = True, naive: bool = False, pages_nice: int | None = None) -> dict:
    """`clients` pages while the view is on; with `browser`, one of them is a real headless Chromium.
    With `naive`, a third arm interleaved with the others: the view with free-running ticks and no quiet
    wait (ViewServer(keep_clear=False)), the design before its wake-ups were planned between sends."""
    from liveai.agents.drums.agent import DrumsAgent
    from liveai.frontends.view.server import ViewServer

    pages = Pages()
    if pages_nice is not None:            # the pages' process at this nice value (a performer may nice a browser)
        os.setpriority(os.PRIO_PROCESS, pages.proc.pid, pages_nice)
    pages_nice_used = os.getpriority(os.PRIO_PROCESS, pages.proc.pid)
    page: "BrowserPage | None" | None = None
    browser_note = "not asked"
    if browser and clients > 0:
        try:
            page = BrowserPage()
            browser_note = "one of the pages is headless Chromium"
        except Exception as exc:       # no chromium here: the pages are all websocket readers, and we say so
            browser_note = f"no browser ({type(exc).__name__}: {exc})"
    browser_rates: list[float] = []
    session = Session(bpm=120, realtime=True)
    session.agents["drums"] = DrumsAgent(name="drums")
    for i in range(8):   # each voice a 32nd after the last: 64 separate send times a second, not 8 chords
        session.play(f"v{i}", seq(*range(60 + 2 * i, 76 + 2 * i)).shift(i / 32), quantum=1)
    busy = BusyCores(2) if load else None
    arms: dict[str, list[np.ndarray]] = {"off": [], "on": [], "naive": [], "switch": []}
    cycle = ("off", "on", "naive") if naive else ("off", "on")
    rates: list[float] = []
    frame_bytes: list[float] = []
    n_segments = max(len(cycle), int(round(seconds / segment_s)))
    try:
        if busy:
            busy.__enter__()
        session.start()
        wait_seconds(1.0)                   # the first bar (voices start on the next beat)
        stats = session.scheduler.stats
        last_end = stats.count
        for k in range(n_segments):
            arm = cycle[k % len(cycle)]
            view = None
            if arm != "off":
                view = ViewServer(session, keep_clear=arm == "on").start()
                readers = clients - (1 if page is not None else 0)
                pages.connect(f"ws://127.0.0.1:{view.port}/ws?token={view.token}", readers)
                if page is not None:
                    page.open(view.url)
            wait_seconds(SETTLE_S)          # starting the view and connecting the pages: reported apart
            start = stats.count
            wait_seconds(segment_s)
            end = stats.count
            arms["switch"].append(_slice(stats, last_end, start))   # from the last segment's end: its closing too
            if view is not None:
                if page is not None:
                    rate = page.rate()
                    if arm == "on":
                        browser_rates.append(rate)
                frames, elapsed, mean_bytes = pages.close()
                if arm == "on":
                    rates.extend(f / elapsed for f in frames)
                if frames:
                    frame_bytes.append(mean_bytes)
                view.close()
            arms[arm].append(_slice(stats, start, end))
            last_end = end
        session.clock.stop()
    finally:
        pages.quit()
        if page is not None:
            page.quit()
        if busy:
            busy.__exit__()
        session.close()
    off, on = (_summary(np.concatenate(arms[a]), arms[a]) for a in ("off", "on"))
    switch = _summary(np.concatenate(arms["switch"]))
    extra = {}
    if naive:
        free = _summary(np.concatenate(arms["naive"]), arms["naive"])
        extra = {"with_view_free_running": free, "p99_ratio_free_running":
                 round(free["p99_us"] / off["p99_us"], 3) if off["p99_us"] > 0 else None}
    ratio = round(on["p99_us"] / off["p99_us"], 3) if off["p99_us"] > 0 else None
    seg_ratio = (round(on["segment_p99_median_us"] / off["segment_p99_median_us"], 3)
                 if off.get("segment_p99_median_us") else None)
    return {
        "seconds": round(n_segments * segment_s, 1), "segment_s": segment_s, "segments": n_segments,
        "clients": clients, "notes_per_s": 64,
        "pages_nice": pages_nice_used, "bench_nice": os.getpriority(os.PRIO_PROCESS, 0), "load": "2 busy processes" if load else "none (the machine as it is)",
        "priority": session.clock.priority, "without_view": off, "with_view": on, "p99_ratio": ratio, "segment_p99_median_ratio": seg_ratio, **extra,
        "switching": {**switch, "settle_s": SETTLE_S, "what": "the view starting or closing, pages connecting"},
        "goal_p99_ratio": GOAL_P99_RATIO, "p99_ok": ratio is not None and ratio <= GOAL_P99_RATIO,
        "browser": browser_note,
        "browser_update_hz_min": round(min(browser_rates), 1) if browser_rates else None,
        "browser_update_hz_mean": round(float(np.mean(browser_rates)), 1) if browser_rates else None,
        "update_hz_min": round(min(rates + browser_rates), 1) if rates or browser_rates else 0.0,
        "update_hz_mean": round(float(np.mean(rates)), 1) if rates else 0.0, "goal_update_hz": GOAL_UPDATE_HZ,
        "frame_bytes_mean": round(float(np.mean(frame_bytes)), 0) if frame_bytes else 0.0,
    }


if __name__ == "__main__":
    _pages_main()
