"""What each incoming OSC address does to the session.

Each handler gets the sender (host, port) and the already-checked arguments
(space.coerce). A handler raises ValueError/KeyError with a reason a
performer can read; the server turns it into `/liveai/error` and a log line.
Handlers run on the server's apply thread and only call Session methods
that are safe from any thread. The pure checks of human input (no session)
live in items.py, which the receiver process also runs.
"""

from __future__ import annotations

from typing import Any, Callable

from liveai.frontends.osc.items import cc_item, control_item, note_item
from liveai.frontends.osc.space import ADDRESSES
from liveai.limits import OSC_MAX_SUBSCRIPTIONS, OSC_MAX_SUBSCRIPTIONS_PER_HOST

Sender = tuple[str, int]
Handler = Callable[[Sender, list[Any]], None]

INPUT_SOURCE = "osc"


def table(server: Any) -> dict[str, Handler]:
    """The handlers of `server` (an OscServer: typed loosely so this module does not import it)."""
    s = server

    def session() -> Any:
        return s.session

    # -- transport
    def tempo(sender: Sender, a: list[Any]) -> None:
        bpm, quantum = a
        session().set_tempo(bpm, quantum=1.0 if quantum is None else quantum)

    def start(sender: Sender, a: list[Any]) -> None:
        ses = session()
        ses.resume() if ses.clock.state == "paused" else ses.start()

    def stop(sender: Sender, a: list[Any]) -> None:
        session().pause()  # holds the position; the scheduler silences sounding notes

    def panic(sender: Sender, a: list[Any]) -> None:
        session().panic()

    def position(sender: Sender, a: list[Any]) -> None:
        ses = session()
        beat = ses.clock.now_beat()
        tmap = ses.clock.tempo_map
        bar, within = tmap.bar_beat(beat)
        s.reply(sender, "/liveai/position", float(beat), int(bar), float(within), float(tmap.bpm_at(beat)),
                int(ses.clock.state == "playing"))

    # -- human input
    def note(sender: Sender, a: list[Any]) -> None:
        session().input(note_item(a), source=INPUT_SOURCE)

    def cc(sender: Sender, a: list[Any]) -> None:
        session().input(cc_item(a), source=INPUT_SOURCE)

    def control(sender: Sender, a: list[Any]) -> None:
        session().input(control_item(a), source=INPUT_SOURCE)

    # -- voices
    def voice_play(sender: Sender, a: list[Any]) -> None:
        name, text = a
        if text is None:
            raise ValueError("give a pattern, e.g. /liveai/voice/play bass c2 ~ g1 ~")
        s.voices.define(name, text)
        s.reply(sender, "/liveai/ok", "/liveai/voice/play")

    def voice_call(method: str) -> Handler:
        def call(sender: Sender, a: list[Any]) -> None:
            getattr(session(), method)(a[0])  # KeyError names the known voices
            if method == "stop":
                s.voices.forget(a[0])

        return call

    def unsolo(sender: Sender, a: list[Any]) -> None:
        session().unsolo()

    def voice_param(sender: Sender, a: list[Any]) -> None:
        name, param, value = a
        s.voices.set_param(name, param, value)

    def voices(sender: Sender, a: list[Any]) -> None:
        s.reply(sender, "/liveai/voices", *session().voices)

    def voice_state(sender: Sender, a: list[Any]) -> None:
        name = a[0]
        state = s.voices.describe(name)
        s.reply(sender, "/liveai/voice", name, " ".join(f"{k}={v}" for k, v in state.items()))

    # -- agents
    def agent_set(sender: Sender, a: list[Any]) -> None:
        name, param, value = a
        _agent(session(), name).set(param, value)

    def agents(sender: Sender, a: list[Any]) -> None:
        s.reply(sender, "/liveai/agents", *sorted(session().agents))

    def agent(sender: Sender, a: list[Any]) -> None:
        name = a[0]
        ag = _agent(session(), name)
        for param in ag.PARAMS:
            value = ag.get(param)
            s.reply(sender, "/liveai/agent/param", name, str(param), float(value))

    # -- subscriptions
    def subscribe(sender: Sender, a: list[Any]) -> None:
        port, words = a
        names = frozenset((words or "*").replace(",", " ").split())
        if s.own is not None:
            s.own.refuse((sender[0], port), "notes")
        _check_room(s.subscribers.subscribers, sender[0], port)
        s.subscribers.subscribe(sender[0], port, None if "*" in names or not names else names)
        s.reply(sender, "/liveai/ok", "/liveai/subscribe")

    def unsubscribe(sender: Sender, a: list[Any]) -> None:
        if not s.subscribers.unsubscribe(sender[0], a[0]):
            raise ValueError(f"no subscription for {sender[0]}:{a[0]}")
        s.reply(sender, "/liveai/ok", "/liveai/unsubscribe")

    def replyto(sender: Sender, a: list[Any]) -> None:
        s.set_reply_port(sender, a[0])
        s.reply(sender, "/liveai/ok", "/liveai/replyto")

    # -- introspection
    def ping(sender: Sender, a: list[Any]) -> None:
        s.reply(sender, "/liveai/pong", *([a[0]] if a[0] is not None else []))

    def addresses(sender: Sender, a: list[Any]) -> None:
        for spec in ADDRESSES:
            s.reply(sender, "/liveai/address", spec.path, spec.direction, spec.signature, spec.doc)
        s.reply(sender, "/liveai/addresses/end", len(ADDRESSES))

    return {
        "/liveai/tempo": tempo,
        "/liveai/start": start,
        "/liveai/stop": stop,
        "/liveai/panic": panic,
        "/liveai/query/position": position,
        "/liveai/note": note,
        "/liveai/cc": cc,
        "/liveai/control": control,
        "/liveai/voice/play": voice_play,
        "/liveai/voice/mute": voice_call("mute"),
        "/liveai/voice/unmute": voice_call("unmute"),
        "/liveai/voice/solo": voice_call("solo"),
        "/liveai/voice/unsolo": unsolo,
        "/liveai/voice/stop": voice_call("stop"),
        "/liveai/voice/param": voice_param,
        "/liveai/query/voices": voices,
        "/liveai/query/voice": voice_state,
        "/liveai/agent/set": agent_set,
        "/liveai/query/agents": agents,
        "/liveai/query/agent": agent,
        "/liveai/subscribe": subscribe,
        "/liveai/unsubscribe": unsubscribe,
        "/liveai/replyto": replyto,
        "/liveai/ping": ping,
        "/liveai/query/addresses": addresses,
    }


def _check_room(subs: Any, host: str, port: int) -> None:
    """A new subscription fits OSC_MAX_SUBSCRIPTIONS_PER_HOST and OSC_MAX_SUBSCRIPTIONS (a renewed one always does)."""
    if any((sub.host, sub.port) == (host, port) for sub in subs):
        return
    mine = sum(1 for sub in subs if sub.host == host)
    if mine >= OSC_MAX_SUBSCRIPTIONS_PER_HOST:
        raise ValueError(f"{host} has {mine} subscriptions; the limit is {OSC_MAX_SUBSCRIPTIONS_PER_HOST} "
                         f"(OSC_MAX_SUBSCRIPTIONS_PER_HOST): /liveai/unsubscribe one first")
    if len(subs) >= OSC_MAX_SUBSCRIPTIONS:
        raise ValueError(f"the server has {len(subs)} subscriptions; the limit is {OSC_MAX_SUBSCRIPTIONS} "
                         f"(OSC_MAX_SUBSCRIPTIONS)")


def _agent(session: Any, name: str) -> Any:
    try:
        return session.agents[name]
    except KeyError:
        known = ", ".join(sorted(session.agents)) or "none"
        raise ValueError(f"no agent named {name!r:.70} (agents: {known})") from None
