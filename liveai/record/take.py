"""A recorded take, read back from its journal: who played what, when, and how late.

`load_take(dir)` reads whatever the journal holds, finished or not, and says
what it could not read (`take.loss`). Events sent to several ports are one
musical event: `take.notes()` counts each once, `take.sends` keeps every send
(for lateness per port).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from liveai.core.events import Note
from liveai.core.tempo import Segment, TempoMap
from liveai.record import checks
from liveai.limits import MAX_TAKE_BEATS, MAX_TAKE_SECONDS
from liveai.record.items import UnknownItem
from liveai.record.journal import JOURNAL_NAME, JournalRead, read_journal

HUMAN = "human"


class TimedNote(NamedTuple):
    """A note with when it sounded (beats) and who played it: what learning and export need.

    A tuple that starts (beat, note): the shape the agents' fine-tuning takes.
    """

    beat: float
    note: Note
    player: str
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Send:
    """One event as a port sent it."""

    beat: float
    grid: float
    voice: str
    port: str
    epoch: int
    item: Any
    due_s: float
    dur_s: float
    sent_s: float
    lateness_s: float


@dataclass(frozen=True, slots=True)
class Input:
    """One item of human input, with the beat the session stamped on it."""

    beat: float
    seconds: float
    source: str
    item: Any


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Code the performer evaluated, when, and the error it raised (if any)."""

    beat: float
    seconds: float
    code: str
    error: str | None
    clock: str | None = None    # the clock's state then: "stopped" before the performance started


class TakeError(ValueError):
    """A folder that is not a take, or a journal with no usable header."""


@dataclass
class Take:
    dir: Path
    head: dict[str, Any]
    sends: list[Send] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    evals: list[Evaluation] = field(default_factory=list)
    tempo_maps: list[tuple[float, TempoMap]] = field(default_factory=list)   # (clock s when seen, map)
    agents: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (beat, name -> describe())
    voice_changes: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (clock s, name -> definitions)
    audio: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    last_tick: dict[str, Any] | None = None
    loss: JournalRead = field(default_factory=JournalRead)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def finished(self) -> bool:
        """True when the take was stopped; False after a crash (recover it)."""
        return self.end is not None

    @property
    def tempo_map(self) -> TempoMap:
        """The last tempo map recorded (it holds every earlier segment still in use)."""
        if self.tempo_maps:
            return self.tempo_maps[-1][1]
        return TempoMap(self.head.get("bpm") or 120.0, self.head.get("beats_per_bar") or 4)

    @property
    def start_beat(self) -> float:
        return float(self.head.get("b", 0.0))

    @property
    def start_s(self) -> float:
        return float(self.head.get("s", 0.0))

    @property
    def end_s(self) -> float:
        """Clock seconds of the last thing the journal knows about."""
        last = self.end or self.last_tick
        times = [self.start_s] + ([float(last["s"])] if last else []) + [e.sent_s for e in self.sends[-1:]] \
            + [i.seconds for i in self.inputs[-1:]]
        return max(times)

    @property
    def origin_beat(self) -> float:
        """The bar line of the take's first note (to the 16th): exports and playback start there, at beat 0.

        A note played just before that bar line keeps a slightly negative beat.
        """
        notes = self.notes()
        first = round((notes[0].beat if notes else self.start_beat) * 4) / 4   # an early downbeat is the downbeat
        tm = self.tempo_map
        bar = tm.next_bar(first)
        return bar if bar <= first else bar - tm.beats_per_bar_at(first)

    def tempo_map_from(self, origin: float) -> TempoMap:
        """The take's tempo map with beat `origin` moved to beat 0 (and second 0)."""
        tm = self.tempo_map
        out = [Segment(0.0, 0.0, tm.bpm_at(origin))]
        for seg in tm.segments:
            if seg.beat > origin:
                prev = out[-1]
                beat = seg.beat - origin
                out.append(Segment(beat, prev.seconds + (beat - prev.beat) * 60.0 / prev.bpm, seg.bpm))
        return TempoMap(_segments=tuple(out), _meters=((0.0, tm.beats_per_bar_at(origin)),))

    @property
    def final_agents(self) -> dict[str, Any]:
        return self.agents[-1][1] if self.agents else {}

    def definition_starts(self) -> dict[str, list[tuple[float, str]]]:
        """Per voice, every (grid beat, kind of source) a definition started at during the take."""
        out: dict[str, set[tuple[float, str]]] = {}
        for _, voices in self.voice_changes:
            for name, defs in voices.items():
                out.setdefault(name, set()).update((float(start), str(kind)) for start, _, kind in defs)
        return {name: sorted(starts) for name, starts in out.items()}

    def voices(self) -> list[str]:
        return sorted({e.voice for e in self.sends})

    def sources(self) -> list[str]:
        return sorted({i.source for i in self.inputs})

    def unique_sends(self) -> list[Send]:
        """Each musical event once (the first port that sent it). Computed once per loaded take."""
        return list(self._unique_sends)

    @cached_property
    def _unique_sends(self) -> list[Send]:
        seen: set[tuple] = set()
        out = []
        for e in self.sends:
            key = (e.voice, e.epoch, e.beat, e.grid, repr(e.item))
            if key not in seen:
                seen.add(key)
                out.append(e)
        return out

    def notes(self, players: list[str] | None = None) -> list[TimedNote]:
        """Every note played, machine voices and humans, in time order; `players` filters by name."""
        if players is None:
            return list(self._all_notes)
        return [n for n in self._all_notes if n.player in players]

    @cached_property
    def _all_notes(self) -> list[TimedNote]:
        out = [TimedNote(e.beat, e.item, e.voice, e.due_s) for e in self._unique_sends if isinstance(e.item, Note)]
        out += [TimedNote(i.beat, i.item, i.source, i.seconds) for i in self.inputs if isinstance(i.item, Note)]
        out.sort(key=lambda n: (n.beat, n.player, n.note.pitch))
        return out

    def human_notes(self) -> list[TimedNote]:
        return [TimedNote(i.beat, i.item, i.source, i.seconds) for i in self.inputs if isinstance(i.item, Note)]

    def lateness_ms(self) -> dict[str, dict[str, float]]:
        """Per port: count, p50, p99 and max lateness of sends (ms)."""
        by_port: dict[str, list[float]] = {}
        for e in self.sends:
            by_port.setdefault(e.port, []).append(e.lateness_s * 1000.0)
        out = {}
        for port, values in sorted(by_port.items()):
            arr = np.asarray(values)
            out[port] = {"count": int(arr.size), "p50": float(np.percentile(arr, 50)),
                         "p99": float(np.percentile(arr, 99)), "max": float(arr.max())}
        return out

    def iter_records(self) -> Iterator[Send | Input | Evaluation]:
        """Sends, inputs and evaluations merged in clock-time order."""
        items: list[tuple[float, int, Any]] = [(e.sent_s, 0, e) for e in self.sends]
        items += [(i.seconds, 1, i) for i in self.inputs]
        items += [(v.seconds, 2, v) for v in self.evals]
        items.sort(key=lambda t: (t[0], t[1]))
        for _, _, rec in items:
            yield rec


def is_take_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / JOURNAL_NAME).is_file()


def find_takes(path: str | os.PathLike[str]) -> list[Path]:
    """The take folders at `path`: itself if it is one, else those inside it (sorted by name)."""
    root = Path(path)
    if is_take_dir(root):
        return [root]
    if not root.is_dir():
        raise TakeError(f"{root} is not a folder of takes (no such folder)")
    return sorted(p for p in root.iterdir() if p.is_dir() and is_take_dir(p))


def load_take(path: str | os.PathLike[str]) -> Take:
    """Read a take folder's journal; damaged records are skipped and accounted in `take.loss`.

    Every record is checked: values that are not finite, or times further
    than MAX_TAKE_SECONDS / MAX_TAKE_BEATS from the take's start (see
    liveai.limits), make a record unusable: it is skipped and counted by
    reason in `take.loss.rejected`, and the loss message says so. A damaged
    header loses only itself: the take is rebuilt from its other records.
    """
    folder = Path(path)
    journal = folder / JOURNAL_NAME
    if not journal.is_file():
        raise TakeError(f"{folder} is not a take: it has no {JOURNAL_NAME}")
    try:
        read = read_journal(journal)
    except OSError as exc:
        raise TakeError(f"{journal}: cannot be read ({exc.strerror or exc})") from exc
    heads = [r for r in read.records if r["k"] == "head" and checks.good_head(r)]
    if heads:
        head = heads[0]
    elif any(r["k"] != "head" for r in read.records):
        head = checks.rebuilt_head([r for r in read.records if r["k"] != "head"])
        read.head_lost = True
    else:
        raise TakeError(f"{journal}: no readable record; {read.loss_message() or 'the file is empty'}")
    take = Take(dir=folder, head=head, loss=read)
    b0, s0 = take.start_beat, take.start_s
    beats = lambda v: checks.number(v, b0, MAX_TAKE_BEATS)      # noqa: E731 - two short local checks
    secs = lambda v: checks.number(v, s0, MAX_TAKE_SECONDS)     # noqa: E731
    for r in read.records:
        try:
            k = r["k"]
            if k == "out":
                take.sends.append(Send(beats(r["b"]), beats(r["g"]), str(r["v"]), str(r["p"]),
                                       int(checks.number(r["e"], 0.0, 2.0 ** 53)), checks.item(r["i"]),
                                       secs(r["due"]), checks.number(r["dur"], 0.0, MAX_TAKE_SECONDS),
                                       secs(r["sent"]), checks.number(r["late"], 0.0, MAX_TAKE_SECONDS)))
            elif k == "in":
                take.inputs.append(Input(beats(r["b"]), secs(r["s"]), str(r["src"]), checks.item(r["i"])))
            elif k == "eval":
                take.evals.append(Evaluation(beats(r["b"]), secs(r["s"]), str(r["code"]), r.get("error"),
                                             r.get("clock")))
            elif k == "tempo":
                take.tempo_maps.append((secs(r["s"]), checks.tempo_map(r)))
            elif k == "agents":
                take.agents.append((beats(r["b"]), dict(r["agents"])))
            elif k == "voices":
                take.voice_changes.append((secs(r["s"]), dict(r["voices"])))
            elif k == "audio":
                take.audio = checks.audio(r)
            elif k in ("tick", "end"):
                secs(r["s"])
                if "b" in r:
                    beats(r["b"])
                if k == "tick":
                    take.last_tick = r
                else:
                    take.end = r
        except checks.Unusable as exc:
            read.rejected[exc.reason] = read.rejected.get(exc.reason, 0) + 1
        except (KeyError, TypeError, ValueError):
            # a valid line with fields this version cannot use: counted, not fatal
            read.rejected["unusable fields"] = read.rejected.get("unusable fields", 0) + 1
    take.head = dict(take.head, unreadable_records=sum(read.rejected.values()))
    return take


def is_unknown(item: Any) -> bool:
    return isinstance(item, UnknownItem)
