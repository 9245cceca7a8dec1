"""liveai's own sound: a realtime callback engine, built-in instruments, offline render.

Layout: `dsp` (tables and helpers), `instrument` (the voice pool every
instrument shares), `drums`, `fm_synth`, `hnoise`, `sampler` (the instruments;
the sampler's files: `samples` (folders, banks, decoding), `sample_store` (the
loader), `sample_pool` (decoded audio in shared memory), `soundfont` (.sf2
presets), `default_kit` (the kit rendered from the drum synth)),
`renderer` (events -> blocks; the one code path the callback and the offline
render share), `engine` (the handle of the engine's child process), `child` (that
process: the sounddevice stream and its callback), `shm` (the memory they
share: event ring, counters, audio ring), `port`
(the "audio" output backend), `offline`, `jack` (server and capture helpers),
`onsets` (finding onsets in captured audio). Nothing here runs at import.
"""
