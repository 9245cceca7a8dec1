"""A steady voice's lateness next to hostile Python voices, in a realtime session (issue 20; docs/design.md).

Run from the repository root: `.venv/bin/python docs/studies/hostile_voices.py KIND [SECONDS]`, KIND one of
none, sleep (time.sleep(1) per cycle), spin (300 ms busy loop), flood (a million Haps built one by one),
flood2 (a million Haps as one list repeat), flood3 (an agent's render returning a million), flood4
(50,000 a cycle), or several joined with '+'. 120 BPM, a steady pattern of 8 notes a bar, a capture port;
prints one JSON object: the steady voice's events, how many were late over 5 ms / 1 ms, max and median.
"""
import sys, time, json
from liveai.core.events import Note
from liveai.core.patterns import Hap, seq
from liveai.runtime.session import Session

kind = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0

def sleeper(cycle):
    time.sleep(1)
    return [Hap(0.0, Note(50))]

def flood(cycle):
    return [Hap(i * 4.0 / 1_000_000, Note(60)) for i in range(1_000_000)]

def flood2(cycle):
    return [Hap(0.0, Note(60))] * 1_000_000

class Flood3:
    def render(self, start, end, ctx):
        return [Hap(start, Note(60))] * 1_000_000

def flood4(cycle):
    return [Hap(0.0, Note(60))] * 50_000

def spinner(cycle):
    t = time.perf_counter()
    while time.perf_counter() - t < 0.3:
        pass
    return [Hap(0.0, Note(50))]

s = Session(bpm=120, realtime=True)
cap = s.capture()
s.play("steady", seq(*range(60, 68)))        # 8ths... one bar of 8 notes
table = {"sleep": sleeper, "flood": flood, "spin": spinner, "flood2": flood2, "flood3": Flood3(), "flood4": flood4}
for k in (kind.split("+") if kind != "none" else []):
    s.play("hostile_" + k, table[k])
s.start()
t_end = time.monotonic() + seconds
while time.monotonic() < t_end:
    time.sleep(0.2)
s.clock.stop()
steady = [e for e in cap.sent if e.voice == "steady"]
lat = sorted(e.sent_s - e.due_s for e in steady)
s.close()
print(json.dumps({"kind": kind, "steady_events": len(steady),
                  "late_over_5ms": sum(l > 0.005 for l in lat), "late_over_1ms": sum(l > 0.001 for l in lat),
                  "max_ms": round(max(lat) * 1000, 2) if lat else None,
                  "p50_ms": round(lat[len(lat)//2]*1000, 3) if lat else None,
                  "late_beats": [e.beat for e in steady if e.sent_s - e.due_s > 0.005]}))
print("\n".join(s.reporter.history), file=sys.stderr)
