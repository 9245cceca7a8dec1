"""Damaged takes (issue 20): records with valid checksums but impossible values, a damaged header, a full
disk at export, and recover racing a running export. Nothing that was recorded intact is lost, every skip is
counted and said, and the commands print one line and exit non-zero where they cannot finish.

Takes are recorded for real (an offline Session and the Recorder), then damaged in a tmp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from liveai.core.patterns import seq
from liveai.record import journal as journal_mod
from liveai.record.export import MIDI_NAME, SUMMARY_NAME, export_take, summarize, write_take_midi
from liveai.record.journal import JOURNAL_NAME, decode_line, encode_record, read_journal
from liveai.record.take import TakeError, load_take
from test_record_fixtures import _tmpfs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base_take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real take: two voices for 8 beats on the offline clock, no export."""
    from liveai.record.recorder import Recorder
    from liveai.runtime.session import Session

    where = tmp_path_factory.mktemp("takes")
    s = Session(bpm=120, outputs={}, realtime=False)
    s.capture("cap")
    s.play("bass", seq(36, None, 43, None), quantum=0)
    s.play("lead", seq(72, 74, 76, 79, step=0.5), quantum=0)
    with Recorder(s, where, name="base", export=False) as rec:
        s.start()
        s.run_until(beat=8)
    s.close()
    return rec.take_dir


@pytest.fixture
def tmpfs_2m(tmp_path: Path):
    """A real 2 MiB tmpfs, to fill the disk for real (skipped with the reason where mount is refused)."""
    yield from _tmpfs(tmp_path / "disk", "size=2m", "the disk-full export test needs a real small disk")


def copy_take(base: Path, where: Path, name: str = "t") -> Path:
    dst = where / name
    shutil.copytree(base, dst)
    return dst


def records_of(take_dir: Path) -> list[dict]:
    return read_journal(take_dir / JOURNAL_NAME).records


def rewrite(take_dir: Path, records: list[dict]) -> None:
    """Write records back with valid checksums: damage the reader cannot see in the CRC."""
    (take_dir / JOURNAL_NAME).write_bytes(b"".join(encode_record(r) for r in records))


def cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    from liveai.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# -- records with valid checksums and impossible values -----------------------------------------------------------

@pytest.mark.parametrize("field,value,reason", [
    ("b", float("nan"), "non-finite value"),
    ("due", 1e308, "time out of range"),
    ("sent", float("inf"), "non-finite value"),
    ("e", float("nan"), "non-finite value"),
    ("late", -1e308, "time out of range"),
])
def test_a_bad_value_in_a_send_is_skipped_counted_and_said(base_take, tmp_path, capsys, field, value, reason):
    take_dir = copy_take(base_take, tmp_path)
    records = records_of(take_dir)
    outs = [i for i, r in enumerate(records) if r["k"] == "out"]
    records[outs[3]][field] = value
    rewrite(take_dir, records)
    assert decode_line((take_dir / JOURNAL_NAME).read_bytes().split(b"\n")[outs[3]]) is not None   # CRC is valid
    take = load_take(take_dir)
    assert len(take.sends) == len(outs) - 1
    assert take.loss.rejected == {reason: 1}
    rc, out, err = cli(["export", str(take_dir), "--no-picture"], capsys)
    assert rc == 0, err
    assert "1 record(s) with unusable values skipped" in err and reason in err
    summary = json.loads((take_dir / SUMMARY_NAME).read_text())
    assert summary["journal"]["skipped_values"] == {reason: 1}
    rc, out, err = cli(["recover", str(take_dir)], capsys)   # exported and finished: nothing to do, and says so
    assert rc == 0 and "stopped cleanly" in out


@pytest.mark.parametrize("item", [
    {"type": "Note", "pitch": 60, "velocity": 100, "duration": float("nan"), "channel": 0, "instrument": None},
    {"type": "Note", "pitch": 60, "velocity": 100, "duration": 1e308, "channel": 0, "instrument": None},
    {"type": "Note", "pitch": 1000, "velocity": 100, "duration": 0.5, "channel": 0, "instrument": None},
])
def test_a_note_with_impossible_values_is_skipped_not_exported(base_take, tmp_path, item):
    take_dir = copy_take(base_take, tmp_path)
    records = records_of(take_dir)
    first_out = next(i for i, r in enumerate(records) if r["k"] == "out")
    records[first_out]["i"] = item
    rewrite(take_dir, records)
    take = load_take(take_dir)
    assert sum(take.loss.rejected.values()) == 1
    summary = export_take(take_dir, picture=False)
    assert summary["journal"]["lost"] and "unusable values" in summary["journal"]["lost"]
    assert (take_dir / MIDI_NAME).is_file()


def test_the_audio_record_cannot_point_outside_the_take(base_take, tmp_path):
    take_dir = copy_take(base_take, tmp_path)
    records = records_of(take_dir)
    records.insert(1, {"k": "audio", "sr": 48000, "ch": 2, "file": "../../etc/passwd", "dtype": "float32"})
    rewrite(take_dir, records)
    take = load_take(take_dir)
    assert take.audio is None and take.loss.rejected == {"unusable fields": 1}


# -- the header -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["bytes", "nan_start", "bpm_zero"])
def test_a_damaged_header_loses_only_itself(base_take, tmp_path, capsys, damage):
    take_dir = copy_take(base_take, tmp_path)
    intact = load_take(take_dir)
    path = take_dir / JOURNAL_NAME
    if damage == "bytes":
        raw = bytearray(path.read_bytes())
        raw[3:40] = b"\x00" * 37
        path.write_bytes(bytes(raw))
    else:
        records = records_of(take_dir)
        records[0].update({"s": float("nan")} if damage == "nan_start" else {"bpm": 0})
        rewrite(take_dir, records)
    take = load_take(take_dir)
    assert take.loss.head_lost
    assert [(e.beat, e.item) for e in take.sends] == [(e.beat, e.item) for e in intact.sends]
    assert take.start_beat == pytest.approx(intact.sends[0].beat, abs=8) and take.finished
    rc, out, err = cli(["recover", str(take_dir)], capsys)
    assert rc == 0, err
    assert "header record was damaged" in out
    assert (take_dir / MIDI_NAME).is_file()


def test_a_journal_with_nothing_readable_is_one_line_and_exit_1(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / JOURNAL_NAME).write_bytes(b"\x00" * 100 + b"\n")
    rc, out, err = cli(["recover", str(tmp_path / "t")], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1 and JOURNAL_NAME in err
    rc, out, err = cli(["export", str(tmp_path / "t")], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1


def test_an_overlong_line_is_skipped_without_being_held(base_take, tmp_path, monkeypatch):
    take_dir = copy_take(base_take, tmp_path)
    lines = (take_dir / JOURNAL_NAME).read_bytes().split(b"\n")
    monkeypatch.setattr(journal_mod, "MAX_JOURNAL_LINE_BYTES", 4096)
    long = encode_record({"k": "eval", "b": 1.0, "s": 0.5, "code": "x" * 10_000, "error": None})
    (take_dir / JOURNAL_NAME).write_bytes(b"\n".join(lines[:3]) + b"\n" + long + b"\n".join(lines[3:]))
    read = read_journal(take_dir / JOURNAL_NAME, chunk=1000)    # small chunks: the line spans many
    assert read.bad_lines == [4] and read.bad_bytes == len(long)
    assert len(read.records) == len(lines) - 1


# -- the property: random damage never raises and never costs an intact record ------------------------------------

@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_byte_damage_never_raises_and_keeps_every_intact_record(base_take, tmp_path, data):
    raw = bytearray((base_take / JOURNAL_NAME).read_bytes())
    originals = raw.split(b"\n")[:-1]
    for _ in range(data.draw(st.integers(1, 12), label="hits")):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.sampled_from([0, 10, 32, 48, 123, 255, raw[pos] ^ 1]))
    raw = raw[: data.draw(st.integers(len(raw) // 2, len(raw)))]
    import tempfile

    take_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    (take_dir / JOURNAL_NAME).write_bytes(bytes(raw))
    complete = bytes(raw).split(b"\n")[:-1]          # a cut last line is not complete
    intact = [decode_line(line) for line in complete if line in originals]
    try:
        take = load_take(take_dir)
    except TakeError:
        assert not [r for r in intact if r["k"] != "head"] or not intact
        return
    kept = take.loss.records
    it = iter(kept)
    assert all(any(r == k for k in it) for r in intact), "an intact record was lost"
    n_out = sum(1 for r in intact if r["k"] == "out")
    assert len(take.sends) >= n_out
    summarize(take)
    write_take_midi(take, take_dir / MIDI_NAME)


# -- disk full at export ----------------------------------------------------------------------------------------

def test_disk_full_at_export_keeps_the_journal_removes_partials_and_says_how_to_finish(base_take, tmpfs_2m, capsys):
    small_tmpfs = tmpfs_2m
    take_dir = copy_take(base_take, small_tmpfs)
    # 10 s of recorded stereo audio (640 KB of raw frames) so the WAV needs more room than is left
    frames = np.random.default_rng(0).uniform(-0.5, 0.5, (80_000, 2)).astype("<f4")
    (take_dir / "audio.f32").write_bytes(frames.tobytes())
    records = records_of(take_dir)
    records.insert(1, {"k": "audio", "sr": 8000, "ch": 2, "file": "audio.f32", "dtype": "float32"})
    rewrite(take_dir, records)
    journal_before = (take_dir / JOURNAL_NAME).read_bytes()
    free = shutil.disk_usage(small_tmpfs).free
    filler = small_tmpfs / "filler"
    filler.write_bytes(b"\0" * max(0, free - 200_000))       # room for the MIDI, not for the WAV
    rc, out, err = cli(["export", str(take_dir), "--no-picture"], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1, err
    assert "journal is intact" in err and f"liveai recover {take_dir}" in err and "Traceback" not in err
    assert (take_dir / JOURNAL_NAME).read_bytes() == journal_before
    assert not list(take_dir.glob("*partial*")) and not (take_dir / "take.wav").exists()
    assert not (take_dir / SUMMARY_NAME).exists()
    rc, out, err = cli(["recover", str(take_dir)], capsys)       # still full: the same one line
    assert rc == 1 and "liveai recover" in err and not list(take_dir.glob("*partial*"))
    filler.unlink()
    rc, out, err = cli(["recover", str(take_dir)], capsys)
    assert rc == 0, err
    assert (take_dir / "take.wav").is_file() and (take_dir / SUMMARY_NAME).is_file()
    import soundfile as sf

    assert np.array_equal(sf.read(str(take_dir / "take.wav"), dtype="float32")[0], frames)


def test_export_on_an_oversized_take_without_audio_says_it_did_not_rerender(base_take, tmp_path, monkeypatch):
    import liveai.record.export as export_mod

    take_dir = copy_take(base_take, tmp_path)
    monkeypatch.setattr(export_mod, "MAX_RERENDER_SECONDS", 1.0)
    summary = export_take(take_dir, picture=False)
    assert summary["audio"]["file"] is None and "MAX_RERENDER_SECONDS" in summary["audio"]["source"]
    assert not (take_dir / "take.wav").exists() and not list(take_dir.glob("*partial*"))


# -- recover waits for a running export --------------------------------------------------------------------------

def test_recover_waits_for_an_export_holding_the_take(base_take, tmp_path):
    """A second real process holds the take's lock (as the recorder's background export does after a kill -9);
    `liveai recover` says it waits, and exports only once the holder is done."""
    take_dir = copy_take(base_take, tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from liveai.record.lock import take_lock
        with take_lock({str(take_dir)!r}):
            print("locked", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rec = subprocess.Popen([sys.executable, "-m", "liveai", "recover", str(take_dir)], stderr=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env)
        line = rec.stderr.readline()
        assert "an export of this take is running; waiting" in line
        assert not (take_dir / SUMMARY_NAME).exists()            # nothing written while the holder runs
        holder.stdin.write("\n")
        holder.stdin.flush()
        out, err = rec.communicate(timeout=120)
        assert rec.returncode == 0, err
        assert (take_dir / SUMMARY_NAME).is_file() and "Traceback" not in err
    finally:
        holder.kill()
        holder.wait()


def test_a_write_failing_half_way_removes_the_partial_wav(base_take, tmp_path):
    """The precheck cannot see every failure (another writer fills the disk meanwhile): a file-size limit on a
    real child `liveai export` makes libsndfile fail mid-WAV ("System error."), and the same one line follows."""
    import resource
    import signal

    take_dir = copy_take(base_take, tmp_path)
    frames = np.random.default_rng(1).uniform(-0.5, 0.5, (40_000, 2)).astype("<f4")   # a 320 KB WAV
    (take_dir / "audio.f32").write_bytes(frames.tobytes())
    records = records_of(take_dir)
    records.insert(1, {"k": "audio", "sr": 8000, "ch": 2, "file": "audio.f32", "dtype": "float32"})
    rewrite(take_dir, records)
    journal_before = (take_dir / JOURNAL_NAME).read_bytes()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # write() then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    r = subprocess.run([sys.executable, "-m", "liveai", "export", str(take_dir), "--no-picture"],
                       capture_output=True, text=True, preexec_fn=limit, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                       timeout=120)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "journal is intact" in r.stderr and "liveai recover" in r.stderr and "Traceback" not in r.stderr
    assert (take_dir / JOURNAL_NAME).read_bytes() == journal_before
    assert not list(take_dir.glob("*partial*")) and not (take_dir / SUMMARY_NAME).exists()


# -- `liveai run` never exits with the end of a take only in memory ------------------------------------------------

FILL_SCRIPT = '''
import os
play("bass", seq(36, 38, 43, 41))
play("lead", seq(72, None, 74, 76, step=0.5))
if os.environ.get("LIVEAI_TEST_FILL"):          # the disk fills up during the take (the head is already written)
    try:
        with open(os.environ["LIVEAI_TEST_FILL"], "wb") as f:
            while True:
                f.write(b"\\0" * 4096)
                f.flush()
    except OSError:
        pass
'''


def test_run_writes_the_end_of_a_take_elsewhere_when_the_disk_stays_full(tmp_path, tmpfs_2m, capsys, monkeypatch):
    import liveai.limits

    script = tmp_path / "set.py"
    script.write_text(FILL_SCRIPT)
    rc, out, err = cli(["run", str(script), "--offline", "--seconds", "8", "--record", str(tmp_path / "ref")], capsys)
    assert rc == 0, err
    (reference,) = (tmp_path / "ref").iterdir()

    monkeypatch.setattr(liveai.limits, "RECORD_EXIT_WAIT_S", 0.0)     # no waiting for space in a test
    monkeypatch.setenv("LIVEAI_RESCUE_DIR", str(tmp_path / "rescue"))
    monkeypatch.setenv("LIVEAI_TEST_FILL", str(tmpfs_2m / "filler"))
    rc, out, err = cli(["run", str(script), "--offline", "--seconds", "8", "--record", str(tmpfs_2m / "takes")],
                       capsys)
    assert rc == 0, err
    (take_dir,) = (tmpfs_2m / "takes").iterdir()
    assert "the disk refuses the end of take" in err and "stayed full" in err, err
    join = err.split("To finish it once there is space: ", 1)[1].strip().splitlines()[0]
    assert join.startswith("cat ") and join.endswith(f"liveai recover {take_dir}")
    assert not load_take(take_dir).finished                           # on its own disk: only the beginning
    (tmpfs_2m / "filler").unlink()
    cats = join.rsplit(" && liveai recover", 1)[0]
    assert subprocess.run(cats, shell=True).returncode == 0          # the command as printed
    take, ref = load_take(take_dir), load_take(reference)
    assert take.finished and take.loss.clean
    assert [(n.beat, n.note, n.player) for n in take.notes()] == [(n.beat, n.note, n.player) for n in ref.notes()]
    assert len(take.notes()) > 40
    rc, out, err = cli(["export", str(take_dir), "--no-picture", "--out", str(tmp_path / "out")], capsys)
    assert rc == 0 and (tmp_path / "out" / take_dir.name / MIDI_NAME).is_file(), err


def test_recover_redoes_an_export_whose_files_are_missing(base_take, tmp_path, capsys):
    """take.json alone does not make a take 'cleanly exported': every file it lists must be there."""
    take_dir = copy_take(base_take, tmp_path)
    export_take(take_dir, picture=False)
    rc, out, err = cli(["recover", str(take_dir)], capsys)
    assert rc == 0 and "stopped cleanly" in out
    (take_dir / MIDI_NAME).unlink()
    rc, out, err = cli(["recover", str(take_dir)], capsys)
    assert rc == 0 and "finished normally" in out and (take_dir / MIDI_NAME).is_file()


def test_a_recorder_left_running_at_exit_rescues_the_end_of_its_take(tmp_path, tmpfs_2m):
    """A real child process records onto a disk that fills, and exits without stop(): its atexit hook writes
    the end of the take elsewhere and says how to join it."""
    code = textwrap.dedent(f"""
        from liveai.core.patterns import seq
        from liveai.record.recorder import Recorder
        from liveai.runtime.session import Session
        s = Session(bpm=120, outputs={{}}, realtime=False)
        s.capture("cap")
        s.play("bass", seq(36, 38, 43, 41), quantum=0)
        rec = Recorder(s, {str(tmpfs_2m)!r}, name="left", export=False).start()
        s.start()
        try:
            with open({str(tmpfs_2m / "filler")!r}, "wb") as f:
                while True:
                    f.write(b"\\0" * 4096)
                    f.flush()
        except OSError:
            pass
        s.run_until(beat=64)
        assert rec.wait_cycle()
        print(len(s.outputs["cap"].sent), flush=True)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT), LIVEAI_RESCUE_DIR=str(tmp_path / "rescue"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    sent = int(r.stdout.strip())
    assert "stayed full" in r.stderr and "To finish it" in r.stderr, r.stderr
    (tmpfs_2m / "filler").unlink()
    join = r.stderr.split("To finish it once there is space: ", 1)[1].splitlines()[0].rsplit(" && liveai recover", 1)[0]
    assert subprocess.run(join, shell=True).returncode == 0
    take = load_take(tmpfs_2m / "left")
    assert take.finished and take.loss.clean and len(take.sends) == sent > 0


HOSTILE_VALUES = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 5e-324, 0, -1, 2**63, True, None,
                     "", "x" * 50, [], {}, [1, 2, 3], {"type": "Note"}]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**70, 2**70), st.text(max_size=8))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_value_with_a_valid_checksum_never_breaks_reading_or_export(base_take, tmp_path, data):
    """Records rewritten with valid checksums but any values in any field: loading, the summary and the MIDI
    writer never raise, and every record left untouched is still read."""
    import tempfile

    take_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    records = records_of(base_take)
    touched = set()
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        i = data.draw(st.integers(0, len(records) - 1), label="record")
        record = records[i]
        keys = sorted(k for k in record if k != "k")
        if not keys:
            continue
        key = data.draw(st.sampled_from(keys), label="field")
        if key == "i" and isinstance(record[key], dict) and data.draw(st.booleans()):
            sub = data.draw(st.sampled_from(sorted(record[key])), label="item field")
            record[key] = dict(record[key], **{sub: data.draw(HOSTILE_VALUES)})
        else:
            record[key] = data.draw(HOSTILE_VALUES, label="value")
        touched.add(i)
    (take_dir / JOURNAL_NAME).write_bytes(b"".join(encode_record(r) for r in records))
    take = load_take(take_dir)
    intact_outs = [r for j, r in enumerate(records) if r["k"] == "out" and j not in touched]
    assert len(take.sends) >= len(intact_outs)
    if 0 not in touched:
        assert not take.loss.head_lost
    summarize(take)
    write_take_midi(take, take_dir / MIDI_NAME)


def test_replay_says_what_it_skipped_and_plays_the_rest(base_take, tmp_path, capsys):
    take_dir = copy_take(base_take, tmp_path)
    records = records_of(take_dir)
    first_out = next(i for i, r in enumerate(records) if r["k"] == "out")
    records[first_out]["b"] = float("nan")
    rewrite(take_dir, records)
    rc, out, err = cli(["replay", str(take_dir), "--offline", str(tmp_path / "out"), "--json"], capsys)
    assert rc == 0, err
    assert "1 record(s) with unusable values skipped (1 non-finite value)" in err
    assert json.loads(out)["players"]
