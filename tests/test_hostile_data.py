"""Damaged data files (issue 20): every reader says which file and what is wrong in one line, skips it with a
count when others are usable, and refuses absurd times and sizes before allocating for them.

Every file here is generated in a tmp dir: truncated, empty, ticks-per-beat 0, a huge delta time, a zero
tempo, info.csv without its columns, .npz caches with damaged or hostile headers.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from liveai import limits
from liveai.data import melodies
from liveai.data.drumgrid import to_grid
from liveai.data.gmd import CorruptFile, Hit, Performance, read_info, read_performance
from liveai.data.melodic_loops import read_loops_cache
from liveai.data.npzcheck import load_arrays

HEADER = "drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split\n"


def drum_midi(path: Path, hits: int = 8, tpb: int = 480, first_delta: int = 0, note: int = 36) -> Path:
    mid = mido.MidiFile(ticks_per_beat=max(tpb, 1))
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)))
    for i in range(hits):
        tr.append(mido.Message("note_on", note=note, velocity=100, time=first_delta if i == 0 else max(tpb, 1)))
        tr.append(mido.Message("note_off", note=note, velocity=0, time=10))
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(path)
    if tpb != max(tpb, 1):   # mido refuses nothing, but write the header field by hand to be sure of it
        raw = bytearray(path.read_bytes())
        raw[12:14] = struct.pack(">H", tpb)
        path.write_bytes(bytes(raw))
    return path


def melody_midi(path: Path, notes: int = 12, tpb: int = 480, first_delta: int = 0) -> Path:
    mid = mido.MidiFile(ticks_per_beat=tpb)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    for i in range(notes):
        tr.append(mido.Message("note_on", note=60 + i % 12, velocity=90, time=first_delta if i == 0 else 0))
        tr.append(mido.Message("note_off", note=60 + i % 12, velocity=0, time=tpb))
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(path)
    return path


def gmd_folder(root: Path, files: dict[str, Path | None]) -> Path:
    """info.csv naming each file (by id) in the validation split."""
    lines = [HEADER] + [f"drummer1,drummer1/s,{i},rock,100,beat,4-4,d/{i}.mid,,5,validation\n" for i in files]
    (root / "info.csv").write_text("".join(lines))
    return root


# -- MIDI (GMD drums) -------------------------------------------------------------------------------------------

def one_line(exc: BaseException, name: str) -> str:
    text = str(exc)
    assert "\n" not in text and name in text, text
    return text


def test_zero_ticks_per_beat_is_named(tmp_path: Path):
    path = drum_midi(tmp_path / "z.mid", tpb=0)
    assert mido.MidiFile(str(path)).ticks_per_beat == 0
    with pytest.raises(CorruptFile) as err:
        read_performance(path)
    assert "ticks per beat is 0" in one_line(err.value, "z.mid")


@pytest.mark.parametrize("cut", [0, 5, 14, 30])
def test_truncated_and_empty_midi_is_named_with_a_reason(tmp_path: Path, cut: int):
    good = drum_midi(tmp_path / "good.mid")
    bad = tmp_path / "cut.mid"
    bad.write_bytes(good.read_bytes()[:cut])
    with pytest.raises(CorruptFile) as err:
        read_performance(bad)
    text = one_line(err.value, "cut.mid")
    assert text.split("cut.mid: ", 1)[1].strip(), "the reason is never blank"


def test_a_huge_delta_time_is_refused_before_the_grid_is_allocated(tmp_path: Path):
    path = drum_midi(tmp_path / "far.mid", tpb=1, first_delta=0x0FFFFFFF)   # the largest MIDI delta
    with pytest.raises(CorruptFile) as err:
        read_performance(path)
    assert "MAX_MIDI_BEATS" in one_line(err.value, "far.mid")
    # and a Performance built by hand (a take, a test) cannot make to_grid allocate for it either
    with pytest.raises(ValueError, match="MAX_MIDI_BEATS"):
        to_grid(Performance((Hit(1e12, 0, 100),), 120.0, (4, 4), 0))
    with pytest.raises(ValueError, match="MAX_MIDI_BEATS"):
        to_grid(Performance((Hit(float("nan"), 0, 100),), 120.0, (4, 4), 0))


def test_a_delta_just_inside_the_limit_still_reads(tmp_path: Path):
    beats = int(limits.MAX_MIDI_BEATS) - 10
    path = drum_midi(tmp_path / "long.mid", hits=2, tpb=4, first_delta=beats * 4)
    perf = read_performance(path)
    assert perf.hits[0].beat == beats
    assert to_grid(perf).steps >= beats * 4


def test_zero_tempo_and_impossible_meter_are_named(tmp_path: Path):
    mid = mido.MidiFile()
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=0))
    tr.append(mido.Message("note_on", note=36, velocity=100, time=0))
    mid.save(tmp_path / "t0.mid")
    with pytest.raises(CorruptFile, match="tempo"):
        read_performance(tmp_path / "t0.mid")


def test_an_oversized_file_is_refused_before_mido_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import liveai.data.gmd as gmd

    path = drum_midi(tmp_path / "big.mid")
    monkeypatch.setattr(gmd, "MAX_MIDI_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(CorruptFile, match="MAX_MIDI_FILE_BYTES"):
        read_performance(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_corruption_of_a_midi_file_never_escapes_as_anything_but_corruptfile(tmp_path: Path, data):
    raw = bytearray(drum_midi(tmp_path / "base.mid", hits=4).read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path / "fuzz.mid"
    path.write_bytes(bytes(raw))
    try:
        perf = read_performance(path)
    except CorruptFile as exc:
        one_line(exc, "fuzz.mid")
        return
    assert all(0 <= h.beat <= limits.MAX_MIDI_BEATS for h in perf.hits)
    assert to_grid(perf).steps <= (limits.MAX_MIDI_BEATS + 1) * 4 + 64


# -- info.csv ---------------------------------------------------------------------------------------------------

def test_info_csv_missing_columns_is_one_line(tmp_path: Path):
    (tmp_path / "info.csv").write_text("drummer,id,midi_filename\ndrummer1,a,d/a.mid\n")
    with pytest.raises(ValueError) as err:
        read_info(tmp_path)
    text = one_line(err.value, "info.csv")
    assert "missing column(s)" in text and "split" in text and "bpm" in text


def test_info_csv_bad_rows_are_skipped_and_counted(tmp_path: Path):
    drum_midi(tmp_path / "d" / "a.mid")
    drum_midi(tmp_path / "d" / "b.mid")
    (tmp_path / "info.csv").write_text(
        HEADER + "drummer1,s,a,rock,100,beat,4-4,d/a.mid,,5,validation\n"
        "drummer1,s,b,rock,nan,beat,4-4,d/b.mid,,5,validation\n"
        "drummer1,s,c,rock,100,beat,four,d/b.mid,,5,validation\n"
        "drummer1,s,d,rock,100,beat,4-4,d/missing.mid,,5,validation\n"
        "drummer1,s,e\n")
    problems: list[str] = []
    rows = read_info(tmp_path, "validation", problems=problems)
    assert [r.id for r in rows] == ["a"]
    assert len(problems) == 3, problems
    assert any("2 row(s) skipped" in p and "bad value" in p for p in problems)
    assert any("MIDI file not found" in p and "line 5" in p for p in problems)
    assert all("info.csv" in p for p in problems)


# -- the CLI: one line, non-zero exit, no traceback ---------------------------------------------------------------

def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    from liveai.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_eval_drums_on_a_folder_with_nothing_readable_exits_nonzero(tmp_path: Path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.mid").write_bytes(b"")
    drum_midi(tmp_path / "d" / "b.mid", tpb=0)
    gmd_folder(tmp_path, {"a": None, "b": None})
    rc, out, err = run_cli(["eval", "drums", "--data", str(tmp_path), "--json"], capsys)
    assert rc != 0 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "no usable file" in err and "2 skipped" in err and ".mid" in err


def test_eval_drums_skips_bad_files_with_reasons_when_others_are_usable(tmp_path: Path, capsys):
    import json

    drum_midi(tmp_path / "d" / "good.mid", hits=40)
    drum_midi(tmp_path / "d" / "zero.mid", tpb=0)
    drum_midi(tmp_path / "d" / "far.mid", tpb=1, first_delta=0x0FFFFFFF)
    (tmp_path / "d" / "empty.mid").write_bytes(b"")
    gmd_folder(tmp_path, {"good": None, "zero": None, "far": None, "empty": None})
    rc, out, err = run_cli(["eval", "drums", "--data", str(tmp_path), "--json"], capsys)
    assert rc == 0, err
    result = json.loads(out)
    assert result["files"] == 1
    skipped = result["skipped"]
    assert len(skipped) == 3 and all(s.split(": ", 1)[1].strip() for s in skipped)
    assert any("zero.mid" in s and "ticks per beat" in s for s in skipped)
    assert any("far.mid" in s and "MAX_MIDI_BEATS" in s for s in skipped)
    assert any("empty.mid" in s and "empty" in s for s in skipped)


def test_eval_drums_missing_columns_is_one_line(tmp_path: Path, capsys):
    (tmp_path / "info.csv").write_text("id,midi_filename\n")
    rc, out, err = run_cli(["eval", "drums", "--data", str(tmp_path)], capsys)
    assert rc != 0 and len(err.strip().splitlines()) == 1 and "missing column" in err


# -- melody folders ---------------------------------------------------------------------------------------------

def test_melody_folder_skips_bad_files_and_names_them(tmp_path: Path):
    melody_midi(tmp_path / "good.mid")
    (tmp_path / "cut.mid").write_bytes((tmp_path / "good.mid").read_bytes()[:20])
    melody_midi(tmp_path / "far.mid", tpb=1, first_delta=0x0FFFFFFF)
    raw = bytearray(melody_midi(tmp_path / "zero.mid").read_bytes())
    raw[12:14] = b"\x00\x00"
    (tmp_path / "zero.mid").write_bytes(bytes(raw))
    melody_midi(tmp_path / "short.mid", notes=3)
    got = melodies.read_midi_folder(tmp_path)
    assert got.names == [str(tmp_path / "good.mid")]
    assert got.skipped == 4 and len(got.problems) == 4
    for name in ("cut.mid", "far.mid", "zero.mid", "short.mid"):
        assert any(name in p and p.split(name, 1)[1].strip(": ") for p in got.problems), (name, got.problems)


def test_melody_folder_with_nothing_usable_is_one_error(tmp_path: Path, capsys):
    (tmp_path / "a.mid").write_bytes(b"MThd")
    with pytest.raises(ValueError, match="no usable melody in 1 MIDI file"):
        melodies.read_midi_folder(tmp_path)
    rc, out, err = run_cli(["eval", "duet", "--data", str(tmp_path)], capsys)
    assert rc != 0 and len(err.strip().splitlines()) == 1 and "a.mid" in err, err


# -- .npz -------------------------------------------------------------------------------------------------------

def test_melody_npz_damage_is_one_line(tmp_path: Path):
    good = melodies.MelodySet([np.array([[60, 1, 1, 0]] * 8, np.float32)], ["t"], ["test"])
    good.save(tmp_path / "m.npz")
    raw = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError) as err:
        melodies.MelodySet.load(tmp_path / "cut.npz")
    one_line(err.value, "cut.npz")
    np.savez(tmp_path / "nolen.npz", notes=np.zeros((8, 4), np.float32))
    with pytest.raises(ValueError, match="no array 'lengths'"):
        melodies.MelodySet.load(tmp_path / "nolen.npz")
    np.savez(tmp_path / "sum.npz", notes=np.zeros((8, 4), np.float32), lengths=np.array([9]),
             names=np.array(["a"]), splits=np.array(["test"]))
    with pytest.raises(ValueError, match="not a melody file"):
        melodies.MelodySet.load(tmp_path / "sum.npz")


def test_melody_npz_nonfinite_tunes_are_skipped_and_counted(tmp_path: Path):
    ok = np.array([[60, 1, 1, 0]] * 8, np.float32)
    bad = ok.copy()
    bad[3, 1] = np.nan
    far = ok.copy()
    far[2, 0] = 1e30
    melodies.MelodySet([ok, bad, far], ["a", "b", "c"], ["test"] * 3).save(tmp_path / "m.npz")
    got = melodies.MelodySet.load(tmp_path / "m.npz")
    assert got.names == ["a"] and got.skipped == 2


def _npz_with_header(path: Path, name: str, shape: tuple[int, ...]) -> None:
    """An .npz whose one member claims `shape` float64 but holds 16 bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}.npy", buf.getvalue() + b"\0" * 16)


def test_a_hostile_npz_header_is_refused_before_allocating(tmp_path: Path):
    _npz_with_header(tmp_path / "huge.npz", "train", (10**12, 32))   # 256 TB declared
    with pytest.raises(ValueError) as err:
        load_arrays(tmp_path / "huge.npz", {"train": 2})
    assert "MAX_NPZ_ARRAY_BYTES" in one_line(err.value, "huge.npz")
    with pytest.raises(ValueError, match="huge.npz"):
        read_loops_cache(tmp_path / "huge.npz")


def test_a_pickled_npz_is_never_unpickled(tmp_path: Path):
    np.savez(tmp_path / "obj.npz", train=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="objects"):
        load_arrays(tmp_path / "obj.npz", {"train": 1})


def test_loop_cache_with_tokens_out_of_range_is_named(tmp_path: Path):
    np.savez(tmp_path / "c.npz", train=np.full((2, 32), 999, np.int64), validation=np.zeros((1, 32), np.int64))
    with pytest.raises(ValueError, match="tokens"):
        read_loops_cache(tmp_path / "c.npz")


# -- the interp and drums pipelines ------------------------------------------------------------------------------

def test_interp_split_with_nothing_usable_is_one_line(tmp_path: Path, capsys, monkeypatch):
    from liveai.data import DataError
    from liveai.agents.interp.data import load_split

    monkeypatch.setenv("LIVEAI_CACHE", str(tmp_path / "cache"))
    drum_midi(tmp_path / "d" / "zero.mid", tpb=0)
    (tmp_path / "d" / "cut.mid").write_bytes(b"MThd\x00\x00\x00\x06")
    gmd_folder(tmp_path, {"zero": None, "cut": None})
    with pytest.raises(DataError) as err:
        load_split(tmp_path, "validation", progress=False)
    assert "no usable 2-bar loop" in one_line(err.value, str(tmp_path)) and "2 skipped" in str(err.value)
    capsys.readouterr()
    rc, out, err_text = run_cli(["eval", "interp", "--data", str(tmp_path), "--json"], capsys)
    lines = err_text.strip().splitlines()
    assert rc != 0 and out == "" and lines[-1].startswith("liveai eval interp: no usable 2-bar loop"), err_text
    assert len(lines) == 2 and "skipped 2 file(s)" in lines[0]      # the skip, then the verdict


def test_interp_damaged_cache_is_named_and_rebuilt(tmp_path: Path, capsys, monkeypatch):
    from liveai.agents.interp.data import load_split

    monkeypatch.setenv("LIVEAI_CACHE", str(tmp_path / "cache"))
    drum_midi(tmp_path / "d" / "a.mid", hits=64)
    gmd_folder(tmp_path, {"a": None})
    first = load_split(tmp_path, "validation", progress=False)
    (cache,) = (tmp_path / "cache").glob("interp_drums_validation_*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    capsys.readouterr()
    again = load_split(tmp_path, "validation", progress=False)
    said = capsys.readouterr().err
    assert "not a readable .npz file" in said and cache.name in said and "reading the MIDI files again" in said
    assert np.array_equal(first.hits, again.hits)
    assert np.array_equal(load_split(tmp_path, "validation", progress=False).hits, first.hits)   # the rebuilt cache


def test_drums_load_files_names_files_without_hits(tmp_path: Path):
    from liveai.agents.drums.data import load_files

    drum_midi(tmp_path / "d" / "good.mid")
    drum_midi(tmp_path / "d" / "keys.mid", note=60)          # no drum class: no hits
    gmd_folder(tmp_path, {"good": None, "keys": None, "gone": None})
    files, problems = load_files(tmp_path, "validation")
    assert [f.name for f in files] == ["good"]
    assert any("keys.mid" in p and "no drum hits" in p for p in problems)
    assert any("MIDI file not found" in p for p in problems)


def test_an_interp_corner_from_a_damaged_midi_is_one_valueerror(tmp_path: Path):
    from liveai.agents.interp.loops import notes_from_midi

    with pytest.raises(ValueError) as err:
        notes_from_midi(drum_midi(tmp_path / "z.mid", tpb=0))
    assert "ticks per beat is 0" in one_line(err.value, "z.mid")
    far = notes_from_midi(drum_midi(tmp_path / "far.mid", hits=3, tpb=1, first_delta=0x0FFFFFF0))
    assert far == []                                           # nothing in the first 8 beats, nothing kept


def test_train_drums_from_a_folder_of_damaged_takes_is_one_line(tmp_path: Path, capsys):
    (tmp_path / "a.mid").write_bytes(b"MThd")
    drum_midi(tmp_path / "z.mid", tpb=0)
    rc, out, err = run_cli(["train", "drums", "--from-takes", str(tmp_path), "--out", str(tmp_path / "x.pt")], capsys)
    assert rc != 0 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "2 of 2 file(s) skipped" in err and ".mid" in err and not (tmp_path / "x.pt").exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_to_a_melody_file_is_a_valueerror_or_a_checked_set(tmp_path: Path, data):
    import tempfile

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    mels = [np.array([[60 + i, 1, 1, i % 4] for i in range(8)], np.float32) for _ in range(3)]
    melodies.MelodySet(mels, ["a", "b", "c"], ["test"] * 3).save(folder / "m.npz")
    raw = bytearray((folder / "m.npz").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    (folder / "m.npz").write_bytes(bytes(raw))
    try:
        got = melodies.MelodySet.load(folder / "m.npz")
    except ValueError as exc:
        one_line(exc, "m.npz")
        return
    assert len(got) + got.skipped == 3 and all(melodies._melody_ok(m) for m in got.melodies)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list('abc,"\n\r-4 0.5nanNaNinf/\x00é')), max_size=300))
def test_any_info_csv_gives_rows_or_one_valueerror(tmp_path: Path, text: str):
    (tmp_path / "info.csv").write_text(HEADER + text, encoding="utf-8")
    problems: list[str] = []
    try:
        rows = read_info(tmp_path, problems=problems)
    except ValueError as exc:
        one_line(exc, "info.csv")
        return
    assert rows == [] or all(r.path.is_file() for r in rows)
    assert all("\n" not in p and "info.csv" in p for p in problems)


def test_a_damaged_melody_cache_is_named_and_rebuilt_or_refused(tmp_path: Path, capsys, monkeypatch):
    cache = tmp_path / "m.npz"
    cache.write_bytes(b"PK\x03\x04 damaged")
    with pytest.raises(ValueError, match="m.npz"):
        melodies.load_cache(cache, build=False)
    monkeypatch.setattr(melodies, "build_cache", lambda path: melodies.MelodySet(names=["rebuilt"]))
    assert melodies.load_cache(cache).names == ["rebuilt"]       # the corpus parse itself is not this test's
    assert "m.npz" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["train", "interp", "--kind", "drums"], ["train", "drums"],
                                  ["eval", "interp", "--json"], ["eval", "drums"]])
def test_every_gmd_command_says_missing_columns_in_one_line(tmp_path: Path, capsys, monkeypatch, argv):
    monkeypatch.setenv("LIVEAI_CACHE", str(tmp_path / "cache"))
    (tmp_path / "info.csv").write_text("id,midi_filename,split\na,d/a.mid,train\n")
    rc, out, err = run_cli(argv + ["--data", str(tmp_path)], capsys)
    assert rc != 0 and len(err.strip().splitlines()) == 1, err
    assert "missing column(s)" in err and "info.csv" in err and "Traceback" not in err
