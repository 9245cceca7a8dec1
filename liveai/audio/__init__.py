"""liveai's own sound: a realtime callback engine, built-in instruments, offline render.

Layout: `dsp` (tables and helpers), `instrument` (the voice pool every
instrument shares), `drums`, `fm_synth`, `hnoise` (the instruments),
`renderer` (events -> blocks; the one code path the callback and the offline
render share), `engine` (the handle of the engine's child process), `child` (that
process: the sounddevice stream and its callback), `shm` (the memory they
share: event ring, counters, audio ring), `port`
(the "audio" output backend), `offline`, `jack` (server and capture helpers),
`onsets` (finding onsets in captured audio). Nothing here runs at import.
"""
