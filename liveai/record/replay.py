"""Play a take again: as it was (its recorded events, through outputs), or re-rendered.

Two ways, for two questions:
- `playback_session(take, outputs)` plays the recorded notes as they sounded,
  one voice per player, on a fresh Session (realtime through the same kind of
  outputs, or offline into a capture port): "let me hear that take again".
- `rerender(take)` re-runs the take on an offline Session: the performer's
  evaluations at the beats they were made, and the human's input at the beats
  it came in. Voices and agents are rebuilt by that code, from their seeds
  and the model weights installed now. With the same seeds and model versions
  the agents' notes come out exactly as recorded (`compare_notes` checks);
  with newer weights it answers "what would the duet play now?".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from liveai.core.events import NoteOff
from liveai.core.patterns import Hap
from liveai.ports.base import BACKENDS, CapturePort, OutputPort, open_output
from liveai.record.take import Take, TimedNote, load_take

NamespaceFactory = Callable[[Any], dict[str, Any]]


# -- playback of what was recorded ---------------------------------------------------------
class TakePart:
    """A voice source that plays one player's recorded events at their recorded beats."""

    def __init__(self, events: list[tuple[float, float, Any]]) -> None:
        self._events = sorted(events, key=lambda e: e[0])     # (grid, beat, item)
        self._grids = [e[0] for e in self._events]

    def render(self, start: float, end: float, ctx: Any) -> list[Hap]:
        from bisect import bisect_left

        lo, hi = bisect_left(self._grids, start), bisect_left(self._grids, end)
        return [Hap(g, item, b - g) for g, b, item in self._events[lo:hi]]


def voice_name(player: str) -> str:
    """A player ('human:midi', 'bass') as a voice name (an identifier)."""
    name = re.sub(r"\W", "_", player)
    return name if name.isidentifier() else f"p_{name}"


def playback_session(take: Take, outputs: dict[str, OutputPort], *, realtime: bool,
                     players: list[str] | None = None) -> tuple[Any, float]:
    """A Session that plays the recorded notes (and controls) of `players` (default all).

    Returns (session, the last onset's beat). Beats are shifted so the take's first bar is beat 0.
    """
    from liveai.runtime.session import Session

    origin = take.origin_beat
    parts: dict[str, list[tuple[float, float, Any]]] = {}
    for e in take.unique_sends():
        if isinstance(e.item, NoteOff):
            continue          # the scheduler sends note-offs itself, to the ports that want them
        if players is None or e.voice in players:
            parts.setdefault(e.voice, []).append((e.grid - origin, e.beat - origin, e.item))
    for i in take.inputs:
        if isinstance(i.item, NoteOff):
            continue
        if players is None or i.source in players:
            grid = round(i.beat * 4) / 4                    # a human's grid: the nearest 16th
            parts.setdefault(i.source, []).append((grid - origin, i.beat - origin, i.item))
    session = Session(realtime=realtime, outputs=outputs)
    session.scheduler.tempo_map = take.tempo_map_from(origin)
    last = 0.0
    for player, events in parts.items():
        events = [e for e in events if e[0] >= 0.0]        # the take's first bar on (an early note keeps its offset)
        session.play(voice_name(player), TakePart(events), quantum=0)
        last = max([last] + [b for _, b, _ in events])
    return session, last


def outputs_like(take: Take, overrides: dict[str, OutputPort] | None = None
                 ) -> tuple[dict[str, OutputPort], list[str]]:
    """Ports like the ones the take was played through, or `overrides`; and what could not be opened.

    Ports are found by their recorded name (`liveai run --output osc` names
    them by backend) or class; one that cannot be opened here (a patch
    that is not running) is replaced by a capture port of the same name,
    and the second list says why.
    """
    if overrides:
        return dict(overrides), []
    by_class = {target.rpartition(":")[2]: name for name, target in BACKENDS.items()}
    out: dict[str, OutputPort] = {}
    problems: list[str] = []
    for name, info in (take.head.get("outputs") or {}).items():
        backend = name if name in BACKENDS else by_class.get(str(info.get("type")))
        port: OutputPort | None = None
        if backend is None:
            problems.append(f"output {name!r} ({info.get('type')}): no such backend here; captured instead")
        else:
            try:
                port = open_output(backend)
            except Exception as exc:
                problems.append(f"output {name!r}: {backend} did not open ({exc}); captured instead")
        out[name] = port if port is not None else CapturePort(name, wants_note_offs=bool(info.get("wants_note_offs")),
                                                              lead_s=float(info.get("lead_s", 0.0)))
    return (out or {"capture": CapturePort()}), problems


def render_playback(take: Take) -> CapturePort:
    """The take's recorded notes, played offline into a capture port (a check that playback is faithful)."""
    port = CapturePort("capture")
    session, last = playback_session(take, {"capture": port}, realtime=False)
    session.run_until(beat=last + 1.0)
    session.close()
    return port


# -- re-rendering: run the performer's code and the human's input again -----------------
# The evaluator and the namespace come from the caller (a front end): a take's
# stored code runs only through an explicit call, never by this module reaching up.
Evaluator = Callable[[str, dict[str, Any]], tuple[bool, str]]


@dataclass
class Rerender:
    take: Take                      # the re-rendered take (recorded like the original)
    errors: list[str] = field(default_factory=list)     # evaluations that failed, as the REPL showed them
    warnings: list[str] = field(default_factory=list)   # what the re-render cannot rebuild


def unrecorded_voices(take: Take) -> list[str]:
    """Voices already playing when the take started: the code that made them is not in the take."""
    return sorted(take.head.get("voices") or {})


def rerender(take: Take | str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
             evaluate: Evaluator, namespace_factory: NamespaceFactory, evaluations: bool = True,
             tail_beats: float = 0.0) -> Rerender:
    """Re-run `take` offline into a new take under `out_dir`, and load it.

    Evaluations run at their recorded beats (unless `evaluations` is False,
    e.g. to hear the human part against agents set up in `namespace_factory`),
    human inputs arrive at their recorded beats. Errors in evaluated code
    are collected, as the REPL would show them; the render goes on.
    `evaluate(code, namespace)` runs the stored code (the front ends' evaluator).
    """
    from liveai.record.recorder import Recorder
    from liveai.runtime.session import Session

    original = take if isinstance(take, Take) else load_take(take)
    head = original.head
    ports = {name: CapturePort(name, wants_note_offs=bool(info.get("wants_note_offs")),
                               lead_s=float(info.get("lead_s", 0.0)))
             for name, info in (head.get("outputs") or {"capture": {}}).items()}
    session = Session(bpm=float(head.get("bpm") or 120.0), beats_per_bar=int(head.get("beats_per_bar") or 4),
                      realtime=False, outputs=ports, seed=int(head.get("seed", 0) or 0))
    ns = namespace_factory(session)
    actions: list[tuple[float, int, Any]] = []
    if evaluations:
        actions += [(e.beat, 0, e) for e in original.evals]
    actions += [(i.beat, 1, i) for i in original.inputs]
    actions.sort(key=lambda a: (a[0], a[1]))
    # A realtime clock sounds beat 0 a little after start(): code evaluated just after start() has a
    # negative beat. Start the offline clock as far before beat 0, so it is evaluated at that beat too.
    playing = [a[0] for a in actions if not (a[1] == 0 and a[2].clock == "stopped")]
    first = min(playing, default=0.0)
    if first < 0:
        session.clock.START_LATENCY_S = -first * 60.0 / session.clock.tempo_map.bpm_at(0.0)
    result_errors: list[str] = []
    end_beat = max([original.tempo_map.beat(original.end_s)] + [a[0] for a in actions])
    recorder = Recorder(session, out_dir, name=f"{original.name}-rerender", export=False,
                        meta={"rerender_of": str(original.dir)})
    with recorder:
        for beat, kind, what in actions:
            before_start = kind == 0 and what.clock == "stopped"
            if not before_start and session.clock.state != "playing":
                session.start()
            if beat > session.clock.now_beat():
                session.run_until(beat=beat)
            if kind == 0:
                session.note_eval(what.code)
                ok, shown = evaluate(what.code, ns)
                if not ok:
                    result_errors.append(f"beat {beat:.3f}: {shown}")
            else:
                session.input(what.item, source=what.source)
        session.run_until(beat=end_beat + tail_beats)    # starts the clock if nothing did
    session.close()
    warnings = [f"voice {v!r} was playing before the take started: its code is not in the take, so the "
                f"re-render cannot rebuild it" for v in unrecorded_voices(original)]
    return Rerender(load_take(recorder.take_dir), result_errors, warnings)  # type: ignore[arg-type]


@dataclass
class NoteDiff:
    player: str
    same: int
    only_original: list[TimedNote]
    only_rerender: list[TimedNote]

    @property
    def identical(self) -> bool:
        return not self.only_original and not self.only_rerender


def compare_notes(original: Take, other: Take, players: list[str] | None = None, *,
                  until_beat: float | None = None) -> dict[str, NoteDiff]:
    """Per machine player: notes (beat, pitch, velocity, duration, channel) in both takes, or in one only."""
    names = players if players is not None else original.voices()
    out = {}
    for name in names:
        def key(n: TimedNote) -> tuple:
            return (round(n.beat, 9), n.note.pitch, n.note.velocity, round(n.note.duration, 9), n.note.channel)

        a = {key(n): n for n in original.notes([name]) if until_beat is None or n.beat < until_beat}
        b = {key(n): n for n in other.notes([name]) if until_beat is None or n.beat < until_beat}
        out[name] = NoteDiff(name, len(a.keys() & b.keys()), [a[k] for k in sorted(a.keys() - b.keys())],
                             [b[k] for k in sorted(b.keys() - a.keys())])
    return out


def landed_differently(original: Take, other: Take) -> list[str]:
    """Voice changes that started at another beat in the re-render than in the take.

    A change evaluated within a millisecond or two of a quantum boundary in
    real time can land one quantum later than the beat it was evaluated on
    suggests; this names such cases instead of leaving a silent mismatch.
    """
    a, b = original.definition_starts(), other.definition_starts()
    msgs = []
    for name in sorted(a.keys() | b.keys()):
        if a.get(name, []) != b.get(name, []):
            msgs.append(f"voice {name!r}: changes began at {a.get(name, [])} in the take, {b.get(name, [])} now")
    return msgs


def agents_changed(original: Take, now: dict[str, Any]) -> list[str]:
    """Agents whose seed or model version differ from the take's: their notes will differ, and why."""
    msgs = []
    for name, was in original.final_agents.items():
        cur = now.get(name)
        if cur is None:
            msgs.append(f"agent {name!r} is not set up in the re-render")
            continue
        for key in ("seed", "model_version"):
            if isinstance(was, dict) and isinstance(cur, dict) and was.get(key) != cur.get(key):
                msgs.append(f"agent {name!r}: {key} was {was.get(key)!r}, now {cur.get(key)!r}")
    return msgs
