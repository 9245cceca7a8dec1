"""The journal format: checksummed lines survive cuts and bit rot, and say what was lost."""

from __future__ import annotations

import os

import pytest

from liveai.core.events import Control, Note, NoteOff, Param
from liveai.record.items import UnknownItem, item_from_json, item_to_json
from liveai.record.journal import AppendFile, decode_line, encode_record, read_journal
from test_record_fixtures import small_tmpfs  # noqa: F401  (fixture)


def _write(path, records):
    path.write_bytes(b"".join(encode_record(r) for r in records))


def test_records_round_trip_exactly(tmp_path):
    records = [{"k": "head", "v": 1}, {"k": "out", "b": 0.1 + 0.2, "i": item_to_json(Note(61, 90, 0.125, 9, "kit"))},
               {"k": "eval", "code": "s.play('a', seq(60))\n# ünïcode", "error": None}]
    _write(tmp_path / "j", records)
    read = read_journal(tmp_path / "j")
    assert read.records == records
    assert read.clean and read.loss_message() == ""


def test_items_round_trip_and_unknown_kept():
    for item in (Note(60, 100, 0.5, 3, "fm"), NoteOff(60, 3), Control(7, 100, 1), Param("cutoff", 0.25, "fm")):
        assert item_from_json(item_to_json(item)) == item
    odd = item_from_json({"type": "Chord", "pitches": [60, 64]})
    assert odd == UnknownItem("Chord", {"pitches": [60, 64]})
    # A known type with a bad value is kept as unknown, not dropped or crashed on.
    assert isinstance(item_from_json({"type": "Note", "pitch": 300}), UnknownItem)


def test_cut_final_line_is_dropped_and_reported(tmp_path):
    records = [{"k": "tick", "n": i} for i in range(10)]
    _write(tmp_path / "j", records)
    data = (tmp_path / "j").read_bytes()
    (tmp_path / "j").write_bytes(data[:-7])            # a crash in the middle of the last line
    read = read_journal(tmp_path / "j")
    assert read.records == records[:9]
    assert read.truncated_tail == len(encode_record(records[9])) - 7
    assert "cut final record" in read.loss_message()


def test_damaged_middle_lines_are_skipped_and_counted(tmp_path):
    records = [{"k": "tick", "n": i} for i in range(20)]
    _write(tmp_path / "j", records)
    lines = (tmp_path / "j").read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b'"n":4', b'"n":5')    # bit rot that still parses as JSON
    lines[11] = b"\x00" * len(lines[11])                 # a zeroed block
    (tmp_path / "j").write_bytes(b"\n".join(lines))
    read = read_journal(tmp_path / "j")
    assert [r["n"] for r in read.records] == [i for i in range(20) if i not in (4, 11)]
    assert read.bad_lines == [5, 12]
    assert "2 damaged record(s)" in read.loss_message()


@pytest.mark.parametrize("line", [b"", b"zzzzzzzz {}", b"00000000 {\"k\":1}", b"0000000", b"12345678{\"k\":1}"])
def test_garbage_lines_are_rejected(line):
    assert decode_line(line) is None


def test_append_file_never_overwrites_a_take(tmp_path):
    f = AppendFile(tmp_path / "j")
    f.append(b"abc\n")
    f.close()
    with pytest.raises(FileExistsError):
        AppendFile(tmp_path / "j")
    assert (tmp_path / "j").read_bytes() == b"abc\n"


def test_append_file_on_a_full_disk_keeps_the_file_whole(small_tmpfs):
    """A real 512 KiB tmpfs: the failing append is cut back to the last whole chunk."""
    f = AppendFile(small_tmpfs / "j")
    line = encode_record({"k": "tick", "pad": "x" * 900})
    written = 0
    with pytest.raises(OSError) as info:
        for _ in range(10000):
            f.append(line)
            written += 1
    f.close()
    assert info.value.errno in (28,)   # ENOSPC
    data = (small_tmpfs / "j").read_bytes()
    assert data == line * written
    assert os.path.getsize(small_tmpfs / "j") == f.size
