"""Stopping the child processes liveai starts (jackd, the audio engine, Pd, the OSC receiver, bench clients)."""

from __future__ import annotations

import subprocess


def reap(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Wait for a child that was asked to stop; kill it if it has not within timeout_s, so none outlives us."""
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def ask_to_stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Say "stop" on its stdin (our children's way to end cleanly), or terminate it without one; then reap."""
    if proc.stdin is not None:
        try:
            proc.stdin.write(b"stop\n")
            proc.stdin.close()
        except (OSError, ValueError):   # BrokenPipeError is an OSError; ValueError: already closed
            pass
    else:
        proc.terminate()
    reap(proc, timeout_s)
