"""Export a take: a Standard MIDI File with one track per player, the WAV, a piano roll, a JSON summary.

The MIDI and piano-roll writers are the project's shared ones
(liveai/export), so a take and a demo render look and read the same.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from liveai.core.events import Scheduled
from liveai.limits import EXPORT_CHUNK_FRAMES, MAX_RERENDER_SECONDS
from liveai.record.lock import take_lock
from liveai.record.take import Take, load_take

WAV_NAME = "take.wav"
MIDI_NAME = "take.mid"
PNG_NAME = "take.png"
SUMMARY_NAME = "take.json"


def take_events(take: Take, origin: float = 0.0) -> list[Scheduled]:
    """Every note of the take (machine voices and humans) as Scheduled events, beats counted from
    `origin`; `voice` names the player."""
    out = []
    for n in take.notes():
        dur_s = take.tempo_map.seconds(n.beat + n.note.duration) - take.tempo_map.seconds(n.beat)
        out.append(Scheduled(n.beat - origin, n.note, n.player, n.beat - origin, 0, n.seconds, dur_s, n.seconds))
    return out


def write_take_midi(take: Take, path: str | os.PathLike[str]) -> Path:
    """One MIDI track per player (each voice, each human source), with the take's tempo map."""
    from liveai.export.midifile import write_midi

    path = Path(path)
    origin = take.origin_beat
    write_midi(path, take_events(take, origin), take.tempo_map_from(origin), track_of=lambda ev: ev.voice)
    return path


def write_take_pianoroll(take: Take, path: str | os.PathLike[str]) -> Path:
    """A picture of who played what: one colour per player."""
    from liveai.export.pianoroll import write_pianoroll

    path = Path(path)
    origin = take.origin_beat
    write_pianoroll(path, take_events(take, origin), take.tempo_map_from(origin), label_of=lambda ev: ev.voice,
                    title=f"{take.name}: who played what (beat 0 = take beat {origin:g})")
    return path


def audio_raw_path(take: Take) -> Path | None:
    if take.audio is None:
        return None
    path = take.dir / str(take.audio.get("file", "audio.f32"))
    return path if path.is_file() else None


def write_take_wav(take: Take, path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The recorded audio output as WAV (32-bit float); None when the take has no audio.

    The raw file is append-only float32 frames; a crash can cut its last
    frame, which is dropped here. It is converted EXPORT_CHUNK_FRAMES at a
    time, so memory stays bounded however long the take; non-finite samples
    (damage) are written as silence and counted.
    """
    raw = audio_raw_path(take)
    if raw is None or take.audio is None:
        return None
    import soundfile as sf

    channels = int(take.audio["ch"])
    sr = int(take.audio["sr"])
    frames = raw.stat().st_size // (4 * channels)
    need = frames * channels * 4 + 4096
    free = _free_bytes(Path(path).parent)
    if free is not None and free < need:    # libsndfile would only say "System error." half way through
        raise OSError(errno.ENOSPC, f"no space for {Path(path).name}: it needs {need} bytes, {free} are free")
    data = np.memmap(raw, dtype="<f4", mode="r", shape=(frames, channels)) if frames else np.zeros((0, channels), "<f4")
    peak, bad = 0.0, 0
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=channels, subtype="FLOAT", format="WAV") as f:
        for start in range(0, frames, EXPORT_CHUNK_FRAMES):
            block = np.array(data[start:start + EXPORT_CHUNK_FRAMES], dtype=np.float32)
            finite = np.isfinite(block)
            if not finite.all():
                bad += int(block.size - finite.sum())
                block[~finite] = 0.0
            peak = max(peak, float(np.abs(block).max()))
            f.write(block)
    del data
    return {"file": Path(path).name, "samplerate": sr, "channels": channels, "frames": frames,
            "seconds": frames / sr, "peak": peak, "nonfinite_samples_silenced": bad,
            "source": "the audio engine's output, recorded during the take"}


def write_rerendered_wav(take: Take, path: str | os.PathLike[str], sr: int = 48000) -> dict[str, Any] | None:
    """No audio was tapped (no audio engine in the session): render the take's notes offline instead.

    Uses the engine's own offline renderer (liveai.audio.offline), so it is
    what the built-in instruments would have played; the summary says so.
    """
    try:
        from liveai.audio.offline import render, write_wav
    except ModuleNotFoundError:   # the audio engine is not part of this install
        return None

    origin = take.origin_beat
    origin_s = take.tempo_map.seconds(origin)
    events = take_events(take, origin)
    for ev in events:
        ev.due_s -= origin_s
    if not events:
        return None
    span = max(ev.due_s + ev.dur_s for ev in events)
    if span > MAX_RERENDER_SECONDS:   # checked before the renderer allocates the whole take's audio
        return {"file": None, "seconds": span, "source": f"not re-rendered: the notes span {span:.0f} s, over "
                f"{MAX_RERENDER_SECONDS:g} s (liveai.limits.MAX_RERENDER_SECONDS); the MIDI file holds them"}
    audio = render(events, sr=sr)
    need, free = audio.nbytes + 4096, _free_bytes(Path(path).parent)
    if free is not None and free < need:
        raise OSError(errno.ENOSPC, f"no space for {Path(path).name}: it needs {need} bytes, {free} are free")
    write_wav(path, audio, sr)
    return {"file": Path(path).name, "samplerate": sr, "channels": int(audio.shape[1]), "frames": len(audio),
            "seconds": len(audio) / sr, "peak": float(np.abs(audio).max()) if len(audio) else 0.0,
            "source": "offline re-render of the recorded notes (no audio engine output was tapped)"}


def summarize(take: Take) -> dict[str, Any]:
    """The JSON summary: players and their note counts, lateness per port, evaluations, agents, what was lost."""
    notes = take.notes()
    humans, agents = set(take.sources()), {name for _, described in take.agents for name in described}
    players: dict[str, dict[str, Any]] = {}
    for n in notes:
        kind = "human" if n.player in humans else ("agent" if n.player in agents else "voice")
        p = players.setdefault(n.player, {"notes": 0, "first_beat": n.beat, "last_beat": n.beat, "kind": kind})
        p["notes"] += 1
        p["last_beat"] = n.beat
    return {
        "take": take.name,
        "started_utc": take.head.get("started_utc"),
        "finished": take.finished,
        "duration_s": take.end_s - take.start_s,
        "midi_origin_beat": take.origin_beat,
        "beats": [take.start_beat, max([n.beat for n in notes], default=take.start_beat)],
        "tempo": [[s.beat, s.seconds, s.bpm] for s in take.tempo_map.segments],
        "players": players,
        "sends": len(take.sends),
        "inputs": len(take.inputs),
        "evaluations": [{"beat": e.beat, "seconds": e.seconds, "code": e.code, "error": e.error}
                        for e in take.evals],
        "agents": take.final_agents,
        "lateness_ms": take.lateness_ms(),
        "recorder": (take.end or {}).get("stats"),
        "journal": {"bytes": take.loss.size, "records": len(take.loss.records),
                    "lost": take.loss.loss_message() or None, "skipped_values": dict(take.loss.rejected),
                    "header_rebuilt": take.loss.head_lost},
    }


PARTIAL_WAV = "take.partial.wav"


class ExportError(RuntimeError):
    """An export that could not finish (a full disk, a folder gone): one line naming the take, the cause and
    how to finish it later. The journal and raw audio are never touched, and no partial file is left."""


def _replace(write: Any, final: Path) -> str:
    """Write to a partial file, then rename: a crash mid-export never leaves a half file under the real name."""
    partial = final.with_name(final.stem + ".partial" + final.suffix)
    write(partial)
    os.replace(partial, final)
    return final.name


def _remove_partials(out: Path) -> list[str]:
    removed = []
    for p in [out / PARTIAL_WAV, out / (SUMMARY_NAME + ".tmp")] + list(out.glob("take.partial.*")):
        try:
            p.unlink()
            removed.append(p.name)
        except FileNotFoundError:
            pass
        except OSError:
            pass   # nothing more can be done; the message names the folder
    return removed


def _free_bytes(folder: Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):   # AttributeError: no statvfs (Windows)
        return None
    return st.f_bavail * st.f_frsize


def export_take(path: str | os.PathLike[str] | Take, out_dir: str | os.PathLike[str] | None = None,
                *, picture: bool = True, lock: bool = True) -> dict[str, Any]:
    """Write take.mid, take.wav (if audio was recorded), take.png and take.json; return the summary.

    Holds the take's lock (liveai.record.lock) unless the caller does
    (`lock=False`). A write that fails (disk full...) removes every partial
    file and raises ExportError; the journal is never changed.
    """
    take = path if isinstance(path, Take) else load_take(path)
    if not lock:
        return _export(take, out_dir, picture)
    with take_lock(take.dir):
        return _export(take, out_dir, picture)


def _export(take: Take, out_dir: str | os.PathLike[str] | None, picture: bool) -> dict[str, Any]:
    out = Path(out_dir) if out_dir is not None else take.dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _write_all(take, out, picture)
    except (OSError, RuntimeError) as exc:   # soundfile's LibsndfileError is a RuntimeError ("System error.")
        _remove_partials(out)
        free = _free_bytes(out)
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        disk = f"; {free} bytes free on that disk" if free is not None and "free" not in cause else ""
        raise ExportError(f"cannot export {take.dir}: {cause}{disk}. The journal is intact and no partial file is "
                          f"left: free some space, then run `liveai recover {take.dir}`") from exc


def _write_all(take: Take, out: Path, picture: bool) -> dict[str, Any]:
    summary = summarize(take)
    files = {"midi": _replace(lambda p: write_take_midi(take, p), out / MIDI_NAME)}
    wav = write_take_wav(take, out / PARTIAL_WAV) or write_rerendered_wav(take, out / PARTIAL_WAV)
    if wav and wav.get("file"):
        os.replace(out / PARTIAL_WAV, out / WAV_NAME)
        wav["file"] = files["wav"] = WAV_NAME
    summary["audio"] = wav
    if picture and take.notes():
        files["pianoroll"] = _replace(lambda p: write_take_pianoroll(take, p), out / PNG_NAME)
    summary["files"] = files
    tmp = out / (SUMMARY_NAME + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=repr))
    os.replace(tmp, out / SUMMARY_NAME)     # never a half-written summary
    return summary


def export_in_background(take_dir: str | os.PathLike[str]) -> subprocess.Popen:
    """Start `liveai export TAKE --background` (low priority) and return the process.

    In a performer's process, matplotlib and mido would hold the GIL for
    tens of milliseconds and make the clock late (measured: 29 ms); a child
    process cannot. Its stderr is a pipe: `communicate()` gives the error.
    """
    import liveai

    root = str(Path(liveai.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    return subprocess.Popen([sys.executable, "-m", "liveai", "export", str(take_dir), "--background"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
