"""Ableton Link (through aalink): join a session, follow and set tempo, align the bar, sync start/stop.

aalink needs an asyncio loop, so LinkSync runs one on its own thread and
looks at Link every `poll_s` (10 ms). The rules it applies are pure
(core/link_rules.py): joining adopts the session's tempo and phase and never
changes them; a tempo change made here goes to the peers; a start lands on
the session's next quantum boundary. It moves the clock only through
`clock.follow` (tempo and phase in one step, never backwards) and
`clock.start_at`: the clock thread never waits for Link.

Phase: liveai's beat is kept equal to Link's beat modulo `quantum` (the bar),
so bar lines agree across peers. Link's clock (CLOCK_MONOTONIC_RAW on Linux)
and liveai's (perf_counter) are related by sampling both back to back.
"""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from dataclasses import dataclass
from typing import Any

from liveai.core.link_rules import TempoAgreement, check_quantum, link_tempo, phase_match_time, wrap
from liveai.limits import MAX_CATCHUP_S
from liveai.runtime.clock import PAUSED, PLAYING

POLL_S = 0.01

__all__ = ["LinkSync", "LinkState", "wrap", "POLL_S"]


@dataclass
class LinkState:
    peers: int = 0
    tempo: float = 0.0
    playing: bool = False
    phase_error_beats: float = 0.0
    aligned: int = 0
    tempo_from_link: int = 0
    tempo_to_link: int = 0
    adopted_at_s: float = 0.0   # clock time liveai last took a tempo from Link
    pushed_at_s: float = 0.0    # clock time liveai last gave Link a tempo changed here
    starts_from_link: int = 0
    refused_tempi: int = 0


class LinkSync:
    """Keeps a Session in a Link session. `with LinkSync(session, quantum=4): ...`

    While attached, `session.start()` and `session.resume()` go through `start_transport`
    (the start waits for the session's next bar); `session.pause()` reaches the peers at
    the next poll."""

    def __init__(self, session: Any, *, quantum: float = 4.0, start_stop: bool = True, poll_s: float = POLL_S,
                 max_phase_s: float = 0.0001) -> None:
        self.session = session
        self.quantum = check_quantum(quantum)
        self.start_stop = start_stop
        self.poll_s = poll_s
        self.max_phase_s = max_phase_s
        self.state = LinkState()
        self.changed = threading.Condition()  # notified after every poll: wait on it, don't sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._link: Any = None
        self._lock = threading.Lock()   # poll vs a performer's start; never taken by the clock thread
        self._agree: TempoAgreement | None = None
        self._wake: asyncio.Event | None = None
        self._last_link_playing: bool | None = None
        self._last_session_playing: bool | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "LinkSync":
        self._thread = threading.Thread(target=self._run, name="liveai-link", daemon=True)
        self._thread.start()
        if not self._ready.wait(5.0):
            raise RuntimeError("Link did not start within 5 s")
        if self._error is not None:
            raise RuntimeError(f"Link failed to start: {self._error}") from self._error
        return self

    def close(self) -> None:
        if getattr(self.session, "transport", None) is self:
            self.session.transport = None
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(5.0)
        self._thread = None

    def __enter__(self) -> "LinkSync":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_until(self, predicate: Any, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    # -- commands from other threads -------------------------------------------------------------
    def set_tempo(self, bpm: float) -> None:
        """Propose a tempo to every peer (the session follows when Link confirms it)."""
        self._call(lambda: setattr(self._link, "tempo", float(bpm)))

    def wake(self) -> None:
        """Look at Link now rather than at the next poll (the session's tempo or transport changed
        here). Any thread; never waits."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:   # the loop has closed
                pass

    def _call(self, fn: Any) -> None:
        if self._loop is None:
            raise RuntimeError("LinkSync is not started")
        self._loop.call_soon_threadsafe(fn)

    # -- the Link thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as e:  # aalink missing, no loop support...
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        task = loop.create_task(self._poll_forever())
        try:
            loop.run_forever()
        finally:
            task.cancel()
            try:
                loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
            finally:
                self._link.enabled = False
                self._link = None
                loop.close()

    async def _open(self) -> None:
        from aalink import Link

        self.attach(Link(self.session.bpm))

    def attach(self, link: Any) -> None:
        """Take over `link` (an aalink.Link, not yet enabled) and enable it.

        Before enabling, Link's own timeline is made ours (tempo, beat, transport):
        alone, nothing moves; joining peers, Link replaces it with the session's,
        which liveai then adopts. Nothing of ours reaches a session we join."""
        ses, clock = self.session, self.session.clock
        link.quantum = self.quantum
        link.start_stop_sync_enabled = self.start_stop
        link.tempo = ses.bpm
        if clock.state == PLAYING:
            link.force_beat(clock.now_beat())
        if self.start_stop:
            link.playing = clock.state == PLAYING
        self._link = link
        self._agree = TempoAgreement(link.tempo)
        self._agree.adopted(ses.bpm)
        self._last_link_playing = link.playing
        self._last_session_playing = clock.state == PLAYING
        ses.transport = self
        link.enabled = True

    async def _poll_forever(self) -> None:
        # Link says when tempo, transport or peers change (through this loop): look at once, not at the next poll.
        wake = self._wake = asyncio.Event()
        for add in ("add_tempo_callback", "add_start_stop_callback", "add_num_peers_callback"):
            getattr(self._link, add)(lambda *_: wake.set())
        while True:
            wake.clear()
            self._poll_once()
            try:
                await asyncio.wait_for(wake.wait(), self.poll_s)
            except asyncio.TimeoutError:
                pass

    def _poll_once(self) -> None:
        try:
            self.poll()
        except Exception as e:  # keep following; say what went wrong once
            self.session.reporter.report(f"link:{type(e).__name__}", f"Link sync: {e}")
        with self.changed:
            self.changed.notify_all()

    def sample(self) -> tuple[float, float, float]:
        """(link beat, clock seconds it sounds at, Link time minus clock time), sampled tightly."""
        link, clock = self._link, self.session.clock
        best = None
        for _ in range(3):
            c1 = clock.now_s()
            t1 = link.time.total_seconds()
            beat = link.beat
            t2 = link.time.total_seconds()
            c2 = clock.now_s()
            spread = c2 - c1
            if best is None or spread < best[0]:
                best = (spread, beat, (c1 + c2) / 2, (t1 + t2) / 2 - (c1 + c2) / 2)
        _, beat, at_s, offset = best  # type: ignore[misc]
        return beat, at_s, offset

    def _link_bpm(self) -> float | None:
        bpm, problem = link_tempo(self._link.tempo)
        if problem:
            self.state.refused_tempi += 1
            self.session.reporter.report("link:tempo", f"Link sync: {problem}")
        return bpm

    def poll(self) -> None:
        """One look at Link: tempo both ways, transport both ways, then tempo and phase in one step."""
        with self._lock:
            self._poll()

    def _poll(self) -> None:
        link, ses, st, agree = self._link, self.session, self.state, self._agree
        clock = ses.clock
        st.peers = link.num_peers
        link_bpm = self._link_bpm()
        what = agree.decide(link_bpm, clock.bpm())   # type: ignore[union-attr]
        if what == "push":  # the performer changed tempo here: tell the peers
            bpm = clock.bpm()
            link.tempo = bpm
            st.pushed_at_s = clock.now_s()
            agree.pushed(bpm, link.tempo)   # type: ignore[union-attr]
            st.tempo_to_link += 1

        if self.start_stop:
            self._transport()

        if what == "adopt":  # a peer changed tempo, or we joined a session: Link's tempo and phase, one step
            st.tempo_from_link += 1
            st.adopted_at_s = clock.now_s()
            agree.adopted(link_bpm)   # type: ignore[union-attr, arg-type]
        if clock.state == PLAYING:
            beat, at_s, _ = self.sample()
            tm = clock.tempo_map
            ours = tm.beat(at_s)
            # Holding (a start waiting for its bar, or a hold after a correction): compare where our beat
            # moves again, on Link's timeline extrapolated there at its tempo.
            moves_s = tm.seconds(ours)
            if moves_s > at_s:
                beat += (moves_s - at_s) * (link_bpm or clock.bpm()) / 60.0
                at_s = moves_s
            error = wrap(beat - ours, self.quantum)
            st.phase_error_beats = error
            if what == "adopt" or abs(error) * 60.0 / clock.tempo_map.bpm_at(ours) > self.max_phase_s:
                clock.follow(ours + error, at_s, link_bpm if what == "adopt" else None,
                             keep_later=what != "adopt")
                st.aligned += 1
        elif what == "adopt":
            clock.set_tempo(link_bpm, quantum=0)
        st.tempo = link.tempo

    def _transport(self) -> None:
        link, clock = self._link, self.session.clock
        playing = clock.state == PLAYING
        link_playing = link.playing
        if link_playing != self._last_link_playing:   # a peer started or stopped (or the session we joined)
            if link_playing and not playing:
                self._start_clock(from_link=True)
            elif not link_playing and playing:
                clock.pause()
        elif playing != self._last_session_playing:   # changed here, not through start_transport
            link.playing = playing
        self._last_link_playing = link.playing
        self._last_session_playing = clock.state == PLAYING
        self.state.playing = self._last_link_playing

    # -- starting on the session's bar ---------------------------------------------------------------
    def start_transport(self, resume: bool = False) -> None:
        """Start from beat 0 (or, `resume` and paused, from the held beat) on the session's next bar.

        Called by Session.start/resume while attached; safe from any thread but the clock's."""
        with self._lock:
            self._start_clock(from_link=False, resume=resume)

    def _start_clock(self, *, from_link: bool, resume: bool = True) -> None:
        link, clock, q = self._link, self.session.clock, self.quantum
        if clock.state == PLAYING:
            return
        resume = resume and clock.state == PAUSED
        target = clock.beat_at(0.0) if resume else 0.0   # the held beat, or the top
        bpm = self._link_bpm() or clock.bpm()
        beat, at_s, offset = self.sample()
        now = clock.now_s()
        peers = link.num_peers
        if from_link:
            # A peer started at a moment Link does not tell us (aalink has no timeForIsPlaying); its
            # bar is the first at or after it, and we hear of it a little later: at most Link's 50 ms
            # broadcast period. A bar that passed within MAX_CATCHUP_S is taken as theirs (what we
            # missed of it is skipped, not burst); else the next one.
            earliest = now - MAX_CATCHUP_S
            self.state.starts_from_link += 1
        else:
            earliest = now + clock.start_latency_s()
        at = phase_match_time(beat, at_s, bpm, target, q, earliest) if peers or from_link else earliest
        clock.start_at(target, at, bpm, from_start=not resume)
        if not from_link:
            # Tell Link without renumbering its beats downwards: Link lets a timeline with larger beat
            # numbers win over its session's (a session whose beats were renumbered down is taken over
            # by the next peer that joins, with that peer's tempo). So the beat requested is Link's
            # own beat at our start (peers: no change at all), or alone the next bar line above it.
            link_at = beat + (at - at_s) * bpm / 60.0
            if not peers:
                link_at = raise_to_phase(link_at, target, q)
            if self.start_stop and not link.playing:
                # Peers (Live, LinkHut) start at their first bar at or after `earliest`: ours, `at`.
                link.set_is_playing_and_request_beat_at_time(
                    True, datetime.timedelta(seconds=earliest + offset), link_at)
            elif not peers:
                now2 = clock.now_s()
                link.force_beat(link_at - (at - now2) * bpm / 60.0)   # alone: Link's bar is ours
        self._last_link_playing = link.playing
        self._last_session_playing = clock.state == PLAYING


def raise_to_phase(x: float, target: float, q: float) -> float:
    """The smallest value at or above `x` with `target`'s phase in `q`."""
    return x + (target - x) % q


def peer_main(bpm: float, quantum: float = 4.0) -> None:  # pragma: no cover - runs in a subprocess
    """A bare Link peer for the two-process check: prints `time beat tempo playing` lines;
    reads `tempo X`, `start`, `stop`, `quit` commands on stdin."""
    import sys

    async def main() -> None:
        from aalink import Link

        link = Link(bpm)
        link.quantum = quantum
        link.start_stop_sync_enabled = True
        link.enabled = True
        link.playing = True
        # Changes as they happen (Link's callbacks, through this loop): `T link_time bpm`, `S link_time playing`
        link.add_tempo_callback(lambda bpm: print(f"T {link.time.total_seconds():.9f} {bpm:.6f}", flush=True))
        link.add_start_stop_callback(lambda p: print(f"S {link.time.total_seconds():.9f} {int(p)}", flush=True))
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue = asyncio.Queue()
        threading.Thread(target=lambda: [loop.call_soon_threadsafe(lines.put_nowait, ln) for ln in sys.stdin],
                         daemon=True).start()
        while True:
            try:
                cmd = lines.get_nowait().split()
            except asyncio.QueueEmpty:
                cmd = []
            if cmd[:1] == ["tempo"]:
                link.tempo = float(cmd[1])
            elif cmd[:1] == ["start"]:
                link.playing = True
            elif cmd[:1] == ["stop"]:
                link.playing = False
            elif cmd[:1] == ["quit"]:
                return
            best = None
            for _ in range(3):   # the tightest of three readings: a preempted one would look off by the gap
                t1 = link.time.total_seconds()
                beat = link.beat
                t2 = link.time.total_seconds()
                if best is None or t2 - t1 < best[0]:
                    best = (t2 - t1, (t1 + t2) / 2, beat)
            _, t, beat = best
            print(f"{t:.9f} {beat:.9f} {link.tempo:.6f} {int(link.playing)} {link.num_peers}", flush=True)
            await asyncio.sleep(0.02)

    asyncio.run(main())


def two_peer_check(samples: int = 50, peer_bpm: float = 130.0, quantum: float = 4.0,
                   timeout: float = 15.0) -> dict:
    """Run a session with LinkSync beside a bare Link peer process and measure them.

    Run it only inside a private network namespace (Link multicasts):
    `unshare -n bash -c 'ip link set lo up; python -c "..."'`. Returns what
    was checked: joining, following the peer's tempo, setting ours, start/stop
    both ways, and the phase agreement (beats and ms) over `samples` readings
    the peer took at its own times.
    """
    import os
    import queue
    import subprocess
    import sys

    import numpy as np

    from liveai.core.patterns import seq
    from liveai.runtime.session import Session

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    peer = subprocess.Popen([sys.executable, "-c", f"from liveai.ports.link import peer_main; peer_main({peer_bpm}, {quantum})"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in peer.stdout:  # type: ignore[union-attr]
            if len(line.split()) != 5:
                continue   # a `T`/`S` change line
            t, beat, tempo, playing, peers = line.split()
            lines.put((float(t), float(beat), float(tempo), bool(int(playing)), int(peers)))

    threading.Thread(target=read, daemon=True).start()

    def peer_reading(pred: Any, wait: float = timeout) -> tuple:
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the Link peer never showed the expected state")
            r = lines.get(timeout=left)
            if pred(r):
                return r

    def command(text: str) -> None:
        peer.stdin.write(text + "\n")  # type: ignore[union-attr]
        peer.stdin.flush()  # type: ignore[union-attr]

    lines.get(timeout=timeout)  # the peer runs its Link session: we join it, so its tempo wins
    session = Session(bpm=120, realtime=True, outputs={})
    result: dict = {"peer_bpm": peer_bpm, "quantum": quantum}
    sync = LinkSync(session, quantum=quantum)
    try:
        session.play("tick", seq(60), quantum=1)
        session.start()
        sync.start()
        result["joined"] = sync.wait_until(lambda: sync.state.peers >= 1, timeout)
        # Link decides which of the two timelines the joined session keeps; we must end up on it.
        peer_now = peer_reading(lambda r: r[4] >= 1)
        # Followed: on Link's tempo, the last measured phase error within 1 ms. (Two sessions founded
        # within 0.5 s of each other: Link keeps either, by session id; then nothing of ours may move.
        # Not within max_phase_s: on a busy machine one reading's own noise can exceed 0.1 ms at every
        # poll, and each such poll re-aligns. The agreement itself is measured next, from the peer's readings.)
        result["followed_tempo"] = sync.wait_until(
            lambda: abs(session.bpm - sync.state.tempo) < 0.01
            and abs(sync.state.phase_error_beats) * 60 / session.bpm < 0.001, timeout)
        result["after_join"] = {"bpm": session.bpm, "link_bpm": sync.state.tempo, "aligned": sync.state.aligned,
                                "phase_error_ms": sync.state.phase_error_beats * 60 / session.bpm * 1000}
        peer_now = peer_reading(lambda r: True)
        result["bpm_after_join"] = {"ours": round(session.bpm, 4), "peer": round(peer_now[2], 4)}
        errors = []
        while len(errors) < samples:
            t, beat, tempo, playing, _ = lines.get(timeout=timeout)
            _, _, offset = sync.sample()
            ours = session.clock.tempo_map.beat(t - offset)
            errors.append(wrap(beat - ours, quantum))
        err = np.abs(np.array(errors))
        ms = err * 60.0 / session.bpm * 1000.0
        result.update({"phase_error_beats_p50": float(np.percentile(err, 50)), "phase_error_beats_max": float(err.max()),
                       "phase_error_ms_p50": float(np.percentile(ms, 50)), "phase_error_ms_max": float(ms.max()),
                       "phase_samples": len(errors)})
        session.set_tempo(100, quantum=0)
        result["set_tempo_reached_peer"] = abs(peer_reading(lambda r: abs(r[2] - 100) < 0.01)[2] - 100) < 0.01
        command("tempo 90")
        result["peer_tempo_followed"] = sync.wait_until(lambda: abs(session.bpm - 90) < 0.01, timeout)
        command("stop")
        result["peer_stop_paused_us"] = sync.wait_until(lambda: session.clock.state == "paused", timeout)
        command("start")
        result["peer_start_resumed_us"] = sync.wait_until(lambda: session.clock.state == "playing", timeout)
        peer_reading(lambda r: r[3])
        session.pause()
        result["our_stop_reached_peer"] = not peer_reading(lambda r: not r[3])[3]
    finally:
        try:
            command("quit")
            peer.wait(5)
        except Exception:
            peer.kill()
        sync.close()
        session.close()
    return result
