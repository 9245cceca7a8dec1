"""The warm-up: what creating and first using an agent would load, loaded before the clock starts.

Why: the clock thread is Python, so while another thread of the process holds
the GIL in one long C call, no note goes out. Importing torch is such a call
(its extension's initialisation held the GIL for ~200 ms at a stretch here,
and typing `humanize(...)` as the first thing in a session made notes up to
0.9 s late); after a fresh install every module is compiled from source on
first import, and a compile holds the GIL for the whole module. First use
loads more: `torch.utils.serialization` on the first weights, oneDNN's
convolution on the first fine-tune of the drums. None of that can be done
"a bit at a time", so the front ends that start a realtime session with a
prompt (`liveai repl`, `liveai run`, the Jupyter kernel) call `warm_up()`
before `session.start()`, when nothing can be late, and say what it cost.

The warm-up plays each agent for a few bars in an offline session (the same
code the realtime voices run: answers, humanized bars, decoded loops, both
interp models), fine-tunes a throwaway duet and drums one step each, and
imports what a take and learning from it use. After it, creating an agent at
the prompt loads its weights (a few ms, checked against their sha256) and
starts its worker; `liveai bench live` measures that no note is late then.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

WARM_AGENTS = ("duet", "drums", "interp")


@contextmanager
def _timed(parts: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        parts[name] = round(time.perf_counter() - t0, 3)


def warm_up(agents: tuple[str, ...] = WARM_AGENTS) -> dict[str, Any]:
    """Load and run once everything the agents' creation and first use need; returns seconds per part.

    An agent whose weights are missing or damaged is left out (its creation at the prompt then says
    so, in one line) and named under "skipped"; the warm-up itself never raises for that.
    """
    parts: dict[str, float] = {}
    skipped: dict[str, str] = {}
    t0 = time.perf_counter()
    with _timed(parts, "torch"):
        import torch  # noqa: F401  (the one long import)

        from liveai.agents.shared import inference_threads

        inference_threads()
    with _timed(parts, "modules"):
        import liveai.agents.duet.agent  # noqa: F401
        import liveai.agents.duet.learn  # noqa: F401
        import liveai.agents.drums.agent  # noqa: F401
        import liveai.agents.drums.finetune  # noqa: F401
        import liveai.agents.interp.agent  # noqa: F401
        import liveai.record.export  # noqa: F401  (stop_record)
        import liveai.record.learn  # noqa: F401  (fine-tuning from takes)
    for name in agents:
        with _timed(parts, name):
            try:
                _REHEARSALS[name]()
            except (OSError, ValueError) as exc:   # missing or damaged weights (WeightsError is a ValueError)
                skipped[name] = str(exc).splitlines()[0][:300]
    out: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 3), "parts": parts}
    if skipped:
        out["skipped"] = skipped
    return out


def _offline_session() -> Any:
    from liveai.runtime.reporter import Reporter
    from liveai.runtime.session import Session

    session = Session(bpm=120, reporter=Reporter(sink=lambda line: None), outputs={})
    session.capture()
    return session


def _rehearse_duet() -> None:
    """A phrase heard, an answer played (offline: computed inline), then one fine-tune step."""
    from liveai.agents.duet.agent import DuetAgent
    from liveai.agents.duet.learn import learn_from_phrases
    from liveai.core.events import Note

    session = _offline_session()
    duet = DuetAgent(session, name="warm-up", pause=0.5)
    session.play("duet", duet, quantum=0)
    phrase = [(0.5 * i, Note(p, 90, 0.4)) for i, p in enumerate((60, 62, 64, 67))]
    for beat, note in phrase:
        session.run_until(beat=beat)
        session.input(note)
    session.run_until(beat=8)
    learn_from_phrases(duet, [phrase, phrase], steps=1)
    session.close()


def _rehearse_drums() -> None:
    """Two humanized bars, then a feel learned from a bar of hits (the drums model's own forward pass)."""
    from liveai.agents.drums.agent import humanize
    from liveai.core.patterns import hits, stack
    from liveai.data.gmd import Hit, Performance

    session = _offline_session()
    drums = humanize(stack(hits("x...x...x...x...", 36), hits("x.x.x.x.x.x.x.x.", 42)))
    session.play("drums", drums, quantum=0)
    session.run_until(beat=8)
    groove = Performance(tuple(Hit(0.5 * i, 0 if i % 4 == 0 else 2, 100) for i in range(32)), 120.0, (4, 4), 0)
    drums.learn([groove], seconds=1.0)
    session.close()


def _rehearse_interp() -> None:
    """Both latent spaces: drums between two corners (decode and morph), a melody from the prior."""
    from liveai.agents.interp.agent import InterpAgent
    from liveai.core.patterns import hits

    session = _offline_session()
    blend = InterpAgent("drums", session=session, name="warm-drums")
    blend.corners(hits("x...x...x...x...", 36), hits("x.x.x.x.x.x.x.x.", 42))
    blend.set("t", 0.5)
    tune = InterpAgent("melody", session=session, name="warm-melody")
    tune.sample()
    session.play("blend", blend, quantum=0)
    session.play("tune", tune, quantum=0)
    session.run_until(beat=8)
    session.close()


_REHEARSALS = {"duet": _rehearse_duet, "drums": _rehearse_drums, "interp": _rehearse_interp}
