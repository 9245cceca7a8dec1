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
5. xruns over `--agents-seconds` with the real agents (drums, interp, duet)
   inferring in a realtime session, a phrase played to the duet every 4 bars;
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
            with probe.private_server(bs) as srv:
                r = probe.run_engine(bs, args.seconds, torch_load=not args.no_torch, server=srv.name,
                                     torch_style=args.torch_in, torch_fifo=args.torch_fifo,
                                     samples=args.xrun_samples)
                r["jackd_xruns"] = srv.xruns()
            run = _pick(r, XRUN_KEYS)
            run.update({"torch": not args.no_torch, "torch_in": args.torch_in, "sample_voices": 32 * args.xrun_samples,
                        "wall_s": round(time.perf_counter() - t0, 1)})
            out["xrun_runs"][str(bs)] = run
            say(f"xrun run ({args.seconds:g} s, {bs} frames, torch={'off' if args.no_torch else args.torch_in}): "
                f"{r['xruns']} xruns (jackd {r['jackd_xruns']}), callback p99 {r['load_p99']:.3f} (cpu {r['cpu_p99']:.3f})")
        if "128" in out["xrun_runs"]:
            out["xrun_run"] = out["xrun_runs"]["128"]
    if "floor" not in skip:
        with probe.private_server(128) as srv:
            out["floor_run"] = probe.run_floor(args.seconds, torch_load=not args.no_torch, server=srv)
        f = out["floor_run"]
        say(f"floor ({args.seconds:g} s, 128 frames, a C client instead of liveai's engine, same load): "
            + (f"jackd {f['jackd_xruns']} xruns" if "skipped" not in f else f["skipped"]))
    if "agents" not in skip and args.agents_seconds > 0:
        with probe.private_server(128) as srv:
            r = probe.run_agents(128, args.agents_seconds, server=srv.name)
            r["jackd_xruns"] = srv.xruns()
        out["agents_run"] = _pick(r, (*XRUN_KEYS, "phrases", "reporter_lines", "reporter_sample"))
        say(f"agents run ({args.agents_seconds:g} s, 128 frames): {r['xruns']} xruns (jackd {r['jackd_xruns']}), "
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
    if "agents_run" in out:
        t["xruns==0 (agents)"] = out["agents_run"]["xruns"] == 0
    return t
