"""Benchmark the audio engine: callback load, onset error and xruns through JACK, offline speed.

Runs on private jackd servers (dummy driver, 48 kHz) that it starts and stops
itself, one per block size, so it never disturbs a server already running:
1. offline render speed with 16 held notes and a 16th-note drum line;
2. callback time per block / block duration (p50, p99, max; wall and thread
   CPU) at each block size, with 16 notes held and a realtime session's drums;
3. onset error through JACK: hits at odd frame offsets captured by jack_rec
   (a second JACK client) and located by matched filtering, in samples;
4. xruns over `--seconds` at 128 frames (`--xrun-blocks` for others) with a
   torch LSTM inferring flat out on a worker thread of this process, the
   performer's process (or, with --torch-in process, in another process),
   plus the same load as in 2; the engine's callback runs in its own child
   process (engine.py), so the model's thread never holds its GIL;
   the floor: jackd's xruns over the same span and load with a C client
   (jack_simple_client) where the engine was, what the machine itself allows;
   at 128 frames the two arms are interleaved in `--rounds` rounds (order
   alternating), and the engine's xruns are reported as a ratio to the floor's;
5. xruns over `--agents-seconds` with the real agents (drums, interp, duet)
   inferring in a realtime session, a phrase played to the duet every 4 bars,
   interleaved the same way with its own floor: the same session and agents
   with the C client where the engine was;
6. only with `--attribution-rounds N`: the xrun attribution
   (`liveai.bench.xrun_attribution`): jackd's xruns with bare JACK clients (C,
   a numba cfunc, JACK-Client, PortAudio) and the engine's variants in its
   place, under the torch load, interleaved in N rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from liveai.bench.xrun_attribution import DEFAULT_VARIANTS, VARIANTS


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="liveai bench audio", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--seconds", type=float, default=300.0, help="length of the xrun run with torch (default 300)")
    p.add_argument("--load-seconds", type=float, default=10.0, help="length of each callback-load run (default 10)")
    p.add_argument("--blocks", default="64,128,256", help="block sizes for the load runs (default 64,128,256)")
    p.add_argument("--onset-hits", type=int, default=48, help="hits captured for the onset error (default 48)")
    p.add_argument("--offline-seconds", type=float, default=20.0, help="audio rendered for the offline speed")
    p.add_argument("--no-torch", action="store_true", help="xrun run without the torch model")
    p.add_argument("--torch-in", choices=("thread", "process"), default="thread",
                   help="where the model infers during the xrun run: a thread of this process (default; the "
                        "issue's case) or a child process (no GIL shared with the callback)")
    p.add_argument("--torch-fifo", type=int, default=0, metavar="PRIO",
                   help="run the model's thread at SCHED_FIFO PRIO (1: below JACK), see liveai.runtime.priority")
    p.add_argument("--xrun-blocks", default="128", help="block sizes for the xrun run with torch (default 128)")
    p.add_argument("--agents-seconds", type=float, default=60.0, help="length of the run with the real agents")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds the xrun and agents runs are split into, each arm interleaved with its floor "
                        "(default 3: floor/engine, engine/floor, floor/engine)")
    p.add_argument("--attribution-rounds", type=int, default=0, metavar="N",
                   help="run the xrun attribution for N rounds (default 0: not run)")
    p.add_argument("--attribution-seconds", type=float, default=40.0, help="span of each attribution run")
    p.add_argument("--attribution-variants", default=",".join(DEFAULT_VARIANTS),
                   help=f"comma list, in round order, of: {', '.join(VARIANTS)} (default: {','.join(DEFAULT_VARIANTS)})")
    p.add_argument("--xrun-samples", action="store_true",
                   help="the xrun run also plays 32 looping sample voices (compare with the floor run)")
    p.add_argument("--samples-seconds", type=float, default=10.0, help="length of the samples part's load run")
    p.add_argument("--skip", default="",
                   help="comma list of parts to skip: offline,load,onsets,xruns,floor,agents,samples")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    from liveai.bench import audio_probe as probe

    out: dict = {"machine": {"cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}}
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    if "offline" not in skip:
        out["offline"] = probe.offline_speed(args.offline_seconds)
        say(f"offline render: {out['offline']['x_realtime_wall']}x real time (wall), "
            f"{out['offline']['x_realtime_cpu']}x (CPU)")
    if "load" not in skip:
        out["callback_load"] = {}
        for bs in [int(b) for b in args.blocks.split(",") if b.strip()]:
            with probe.private_server(bs) as srv:
                r = probe.run_engine(bs, args.load_seconds, torch_load=False, server=srv.name)
                r["jackd_xruns"] = srv.xruns()
            out["callback_load"][str(bs)] = _pick(r, ("load_p50", "load_p99", "load_max", "cpu_p50", "cpu_p99",
                                                      "cpu_max", "xruns", "voices_p50", "voices_min",
                                                      "blocks_counted", "jackd_xruns"))
            say(f"block {bs}: callback p50 {r['load_p50']:.3f} p99 {r['load_p99']:.3f} max {r['load_max']:.3f} "
                f"of the block, {r['voices_p50']:.0f} voices, {r['xruns']} xruns")
    if "samples" not in skip:
        from liveai.bench import samples as sample_bench

        out["samples"] = sample_bench.run(args.samples_seconds)
        sm = out["samples"]
        say(f"samples: callback p99 {sm['load']['load_p99']:.3f} of the block with 32 sample voices + 16 synth notes "
            f"({sm['load']['xruns']} xruns); a {sm['bank_files']}-file bank loaded in {sm['loading']['load_s']} s "
            f"while a pattern played: {sm['loading']['engine_late']} notes late, {sm['loading']['refused']} refused")
    if "onsets" not in skip:
        with probe.private_server(128) as srv:
            out["onsets"] = probe.measure_onsets(srv.name, hits=args.onset_hits)
        o = out["onsets"]
        say(f"onsets through JACK: max error {o['max_abs_error']} samples, {o['exact']}/{o['count']} exact, "
            f"{o['block_jumps']} whole-block jump(s) with {o['xruns']} xrun(s)")
    if "xruns" not in skip:
        out["xrun_runs"] = {}
        for bs in [int(b) for b in args.xrun_blocks.split(",") if b.strip()]:
            t0 = time.perf_counter()
            if bs == 128 and "floor" not in skip:
                continue                              # measured below, interleaved with its floor
            with probe.private_server(bs) as srv:
                r = probe.run_engine(bs, args.seconds, torch_load=not args.no_torch, server=srv.name,
                                     torch_style=args.torch_in, torch_fifo=args.torch_fifo,
                                     samples=args.xrun_samples, jack=srv)
                r["jackd_xruns"] = r["jackd_xruns_span"]
            out["xrun_runs"][str(bs)] = _xrun_run(r, args, time.perf_counter() - t0)
            say(f"xrun run ({args.seconds:g} s, {bs} frames, torch={'off' if args.no_torch else args.torch_in}): "
                f"{r['xruns']} xruns (jackd {r['jackd_xruns']}), callback p99 {r['load_p99']:.3f} (cpu {r['cpu_p99']:.3f})")
    if "xruns" not in skip and "floor" not in skip:
        seg = args.seconds / max(1, args.rounds)
        t0 = time.perf_counter()
        both = probe.interleaved({
            "floor": lambda srv: probe.run_floor(seg, torch_load=not args.no_torch, server=srv),
            "engine": lambda srv: probe.run_engine(128, seg, torch_load=not args.no_torch, server=srv.name,
                                                   torch_style=args.torch_in, torch_fifo=args.torch_fifo,
                                                   samples=args.xrun_samples, jack=srv)}, args.rounds)
        engine_runs = both["runs"]["engine"]
        merged = dict(engine_runs[-1])
        for k in ("xruns", "xruns_startup", "resyncs", "lost_frames", "late"):
            if k in merged:
                merged[k] = sum(int(r.get(k, 0)) for r in engine_runs)
        for k in ("load_p99", "load_max", "cpu_p99", "cpu_max", "entry_late_p99_ms", "entry_late_max_ms"):
            if k in merged:
                merged[k] = max(r[k] for r in engine_runs if r.get(k) is not None)
        merged["seconds"] = args.seconds
        merged["jackd_xruns"] = both["jackd_xruns"]["engine"]
        out["xrun_runs"]["128"] = _xrun_run(merged, args, time.perf_counter() - t0)
        out["xrun_run"] = out["xrun_runs"]["128"]
        out["xrun_run"]["floor_jackd_xruns"] = both["jackd_xruns"]["floor"]
        out["xrun_run"]["ratio_to_floor"] = both["ratio_to_floor"]["engine"]
        out["xrun_run"]["rounds"] = [{"engine": e["jackd_xruns_span"], "floor": f["jackd_xruns_span"]}
                                     for e, f in zip(engine_runs, both["runs"]["floor"])]
        out["floor_run"] = {"seconds": args.seconds, "jackd_xruns": both["jackd_xruns"]["floor"],
                            "client": "jack_simple_client", "torch": not args.no_torch, "interleaved": True,
                            "client_survived": all(f.get("client_survived") for f in both["runs"]["floor"])}
        say(f"xrun run ({args.seconds:g} s in {args.rounds} rounds, 128 frames, interleaved with the floor): "
            f"engine jackd {both['jackd_xruns']['engine']} xruns, the C client's floor {both['jackd_xruns']['floor']}, "
            f"ratio {both['ratio_to_floor']['engine']}")
    elif "floor" not in skip:
        with probe.private_server(128) as srv:
            out["floor_run"] = probe.run_floor(args.seconds, torch_load=not args.no_torch, server=srv)
    if "agents" not in skip and args.agents_seconds > 0:
        seg = args.agents_seconds / max(1, args.rounds)
        both = probe.interleaved({
            "floor": lambda srv: probe.run_agents(128, seg, server=srv.name, jack=srv, floor=True),
            "engine": lambda srv: probe.run_agents(128, seg, server=srv.name, jack=srv)}, args.rounds)
        runs = both["runs"]["engine"]
        r = _pick(runs[-1], (*XRUN_KEYS, "reporter_sample"))
        r.update({"seconds": args.agents_seconds, "xruns": sum(int(x.get("xruns", 0)) for x in runs),
                  "phrases": sum(x["phrases"] for x in runs), "reporter_lines": sum(x["reporter_lines"] for x in runs),
                  "load_p99": max(x["load_p99"] for x in runs), "jackd_xruns": both["jackd_xruns"]["engine"],
                  "floor_jackd_xruns": both["jackd_xruns"]["floor"],
                  "ratio_to_floor": both["ratio_to_floor"]["engine"],
                  "rounds": [{"engine": e["jackd_xruns_span"], "floor": f.get("jackd_xruns_span")}
                             for e, f in zip(runs, both["runs"]["floor"])],
                  "floor_scheduler": both["runs"]["floor"][-1].get("scheduler")})
        out["agents_run"] = r
        say(f"agents run ({args.agents_seconds:g} s in {args.rounds} rounds, 128 frames, interleaved with its floor): "
            f"engine jackd {r['jackd_xruns']} xruns, floor {r['floor_jackd_xruns']}, ratio {r['ratio_to_floor']}; "
            f"callback p99 {r['load_p99']:.3f}, {r['phrases']} phrases to the duet")
    if args.attribution_rounds > 0:
        from liveai.bench import xrun_attribution as attribution

        def progress(r: dict) -> None:
            say("attribution " + json.dumps(r))

        out["attribution"] = attribution.run_rounds([v.strip() for v in args.attribution_variants.split(",")
                                                     if v.strip()], args.attribution_rounds,
                                                    args.attribution_seconds, torch_load=not args.no_torch,
                                                    progress=progress)
        for v, r in out["attribution"]["per_variant"].items():
            say(f"attribution {v}: jackd xruns {r['jackd_xruns_sum']} in {r['seconds_total']:g} s, "
                f"per round {r['jackd_xruns_per_round']}")
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["targets"] = _targets(out)
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out["targets"], indent=1))
    return 0


XRUN_KEYS = ("seconds", "xruns", "xruns_startup", "jackd_xruns", "resyncs", "lost_frames", "load_p50", "load_p99",
             "load_max", "cpu_p50", "cpu_p99", "cpu_max", "entry_late_p99_ms", "entry_late_max_ms", "voices_p50",
             "torch_steps_per_s", "torch_priority", "late", "callback_priority", "scheduler")


def _xrun_run(r: dict, args: argparse.Namespace, wall_s: float) -> dict:
    run = _pick(r, XRUN_KEYS)
    run.update({"torch": not args.no_torch, "torch_in": args.torch_in, "sample_voices": 32 * args.xrun_samples,
                "wall_s": round(wall_s, 1)})
    return run


def _pick(d: dict, keys: tuple[str, ...]) -> dict:
    return {k: d[k] for k in keys if k in d}


def _targets(out: dict) -> dict:
    """The issue's figures, each with whether this run reached it."""
    t: dict = {}
    if "offline" in out:
        t["offline_x_realtime>=50"] = out["offline"]["x_realtime_wall"] >= 50
    if "callback_load" in out and "128" in out["callback_load"]:
        t["callback_p99<=0.25@128"] = out["callback_load"]["128"]["load_p99"] <= 0.25
    if "onsets" in out:
        t["onset_error<=1"] = out["onsets"]["max_abs_error"] <= 1
    if "xrun_run" in out:
        t["xruns==0"] = out["xrun_run"]["xruns"] == 0
        if "floor_jackd_xruns" in out["xrun_run"]:
            t["xruns<=floor*1.2"] = out["xrun_run"]["jackd_xruns"] <= 1.2 * out["xrun_run"]["floor_jackd_xruns"]
    if "agents_run" in out:
        t["xruns==0 (agents)"] = out["agents_run"]["xruns"] == 0
        t["xruns<=floor*1.2 (agents)"] = out["agents_run"]["jackd_xruns"] <= 1.2 * out["agents_run"]["floor_jackd_xruns"]
    return t
