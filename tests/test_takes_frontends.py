"""Recording from the prompt: record() and stop_record() in the REPL's namespace."""

from __future__ import annotations

from liveai.frontends.evaluate import evaluate
from liveai.prelude import namespace
from liveai.record.take import load_take
from liveai.runtime.session import Session


def test_record_and_stop_record_at_the_prompt(tmp_path):
    s = Session(bpm=120, outputs={})
    s.capture()
    ns = namespace(s)
    ok, shown = evaluate(f"rec = record({str(tmp_path)!r})", ns)
    assert ok and shown == ""
    rec = ns["rec"]
    assert repr(rec).endswith("recording>")
    for code in ("play('a', seq(60, 62))", "s.run_until(beat=4)"):
        s.note_eval(code)
        assert evaluate(code, ns)[0]
    ok, shown = evaluate("stop_record()", ns)
    assert ok and shown == repr(rec.take_dir)
    assert evaluate("stop_record()", ns) == (True, "")          # nothing running: nothing to stop
    assert rec.wait_export(60)
    s.close()
    take = load_take(rec.take_dir)
    assert take.finished and [e.code for e in take.evals] == ["play('a', seq(60, 62))", "s.run_until(beat=4)"]
    assert {n.note.pitch for n in take.notes(["a"])} == {60, 62}
    assert (rec.take_dir / "take.mid").is_file()
