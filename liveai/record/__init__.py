"""Rehearsal takes: a crash-safe journal of everything a session does, recovery, export, replay, learning.

recorder (Recorder, --record, record()/stop_record()), journal (the file format), take (reading a take),
recover, export, replay, learn (the human's part for fine-tuning), audioring (the audio callback's tap), bench.
"""
