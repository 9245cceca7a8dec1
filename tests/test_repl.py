"""The REPL driven through prompt_toolkit's pipe input, on an offline session (exact, no sleeping)."""

from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from liveai.core.events import Note
from liveai.frontends.evaluate import is_complete
from liveai.frontends.repl import completions, run_repl, toolbar_text
from liveai.prelude import namespace
from liveai.runtime.session import Session


def drive(session, keys: str) -> list[str]:
    shown: list[str] = []
    with create_pipe_input() as inp, create_app_session(input=inp, output=DummyOutput()):
        inp.send_text(keys + "\x04")   # Ctrl-D on an empty line ends the REPL
        run_repl(session, namespace(session), input=inp, output=DummyOutput(), echo=shown.append)
    return shown


def test_repl_evaluates_code_multiline_and_survives_errors():
    s = Session(bpm=120)
    cap = s.capture()
    evaluated = []
    s.eval_listeners.append(evaluated.append)
    keys = ("play('a', seq(60, 62))\r"
            "1/0\r"                                # an exception at the prompt
            "x = = 1\r"                            # a syntax error
            "def lead(cycle):\r    return seq(72)\r\r"   # a multi-line definition, ended by a blank line
            "play('lead', lead)\r"
            "tempo(90)\r")
    out = "\n".join(drive(s, keys))
    assert "ZeroDivisionError" in out and "SyntaxError" in out
    assert s.voices == ["a", "lead"]
    s.run_until(beat=1)
    assert {(e.voice, e.item.pitch) for e in cap.sent if isinstance(e.item, Note)} == {("a", 60), ("a", 62), ("lead", 72)}
    assert s.clock.tempo_map.bpm_at(2.0) == 90
    assert "play('a', seq(60, 62))" in evaluated and any("def lead" in e for e in evaluated)


def test_enter_runs_only_complete_statements():
    assert is_complete("play('a', seq(60))")
    assert not is_complete("def f(c):")
    assert not is_complete("seq(60,")
    assert is_complete("def f(c):\n    return 1\n\n")
    assert is_complete("1 +* 2")    # a syntax error runs, so it is reported


def test_completion_offers_names_voices_and_parameters():
    s = Session()
    ns = namespace(s)
    s.play("bassline", ns["seq"](40))
    assert "seq" in completions("se", ns, s.voices)
    assert "bassline" in completions("mute('ba", ns, s.voices)
    assert "swing=" in completions("play('x', seq(60), sw", ns, s.voices)
    assert "step=" in completions("euclid(3, 8, st", ns, s.voices)


def test_toolbar_shows_position_tempo_voices_and_lateness():
    s = Session(bpm=100)
    s.capture()
    s.play("a", namespace(s)["seq"](60))
    s.run_until(beat=5)
    text = toolbar_text(s)
    assert "2:2" in text and "100 BPM" in text and "voices: a" in text and "late 0" in text and "xruns 0" in text
