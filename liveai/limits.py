"""Every limit on what liveai reads from outside, in one place (documented in docs/osc.md "Limits").

Why one module: a limit is only useful if a user can find it, and a test or
a fuzzer can reach it by name. Each one is checked *before* the work it
bounds (sizes before allocating, lengths before reading), and what is over
it is refused with a line that names the file, the value and the constant.
No imports: the pure core may read these too.
"""

from __future__ import annotations

# -- MIDI files (GMD drums, melody folders) --------------------------------------------------------------------
MAX_MIDI_FILE_BYTES = 2 << 20       # GMD files are <= 0.16 MB; mido holds ~260 B per message (3 MB: 260 MB, 9 s)
MAX_MIDI_BEATS = 20_000.0           # latest note, in beats (~2.8 h at 120 BPM); a huge delta time ends here
MAX_MIDI_NOTES = 200_000            # notes kept from one file
MIN_TICKS_PER_BEAT = 1              # 0 (or SMPTE timing read as <= 0) would divide by zero

# -- the GMD index (info.csv) ---------------------------------------------------------------------------------
MAX_INFO_CSV_BYTES = 32 << 20       # GMD's is 120 KB
INFO_COLUMNS = ("drummer", "session", "id", "style", "bpm", "beat_type", "time_signature",
                "midi_filename", "duration", "split")

# -- derived arrays (.npz caches, melody files) ---------------------------------------------------------------
MAX_NPZ_ARRAY_BYTES = 512 << 20     # one array of an .npz, uncompressed, checked from the zip header first
MAX_MELODY_NOTES = 100_000          # notes of one melody (a folk tune has ~100)

# -- weights --------------------------------------------------------------------------------------------------
MAX_WEIGHTS_BYTES = 256 << 20       # a .pt file (ours are < 10 MB), checked before it is hashed or loaded

# -- takes (journal records) ----------------------------------------------------------------------------------
MAX_JOURNAL_LINE_BYTES = 4 << 20    # one record; a longer line is damaged (the reader never holds more of it)
MAX_CLOCK_SECONDS = 1e8            # the clock time a take starts at (~3 years of a running session)
MAX_CLOCK_BEATS = 1e10              # the beat a take starts at
MAX_TAKE_SECONDS = 2 * 24 * 3600.0  # any time in a record, from the take's start (and any duration, lateness)
MAX_TAKE_BEATS = 500_000.0          # any beat in a record, from the take's start (fits a MIDI delta at 480 tpb)
MAX_NOTE_BEATS = 1e4                # a note's duration in beats
MAX_RERENDER_SECONDS = 1800.0       # a take without recorded audio is re-rendered to WAV up to this long
EXPORT_CHUNK_FRAMES = 1 << 16       # audio frames converted per step when a take's WAV is written
EXPORT_LOCK_WAIT_S = 600.0          # how long recover waits for an export already running on the take
RECORD_EXIT_WAIT_S = 30.0           # `liveai run`/`repl` at exit: retry a full disk this long, then write elsewhere

# -- pattern text (the mini-notation: the prompt, scripts, OSC) ------------------------------------------------
MAX_PATTERN_CHARS = 4096            # characters of one pattern text
MAX_PATTERN_DEPTH = 8               # nested brackets ([ ], < >, ( ))
MAX_PATTERN_COUNT = 64              # the largest n in *n, /n, !n, @n and (k,n,r)
MAX_EVENTS_PER_CYCLE = 4096         # events one cycle may hold, computed from the parse tree before expanding
MAX_EVENTS_PER_BEAT = 1024          # ... and one beat, once the cycle's length is known ([c4*16]*16 at 16ths: 1024)

# -- samples and SoundFonts -----------------------------------------------------------------------------------
MAX_SOUND_NAME = 64                 # characters in "bank:index"
MAX_SOUND_INDEX = 1 << 20           # an index past a bank's end wraps; this only bounds the number written
MIN_SAMPLE_SPEED = 1.0 / 64         # |speed| below this is refused (a note would last hours)
MAX_SAMPLE_SECONDS = 60.0           # one file after decoding; a longer one is refused (play it as a track)
MAX_SAMPLE_BANKS = 4096             # banks kept from all sample folders together
MAX_FILES_PER_BANK = 1024           # files kept per bank (name order); more are left out and counted
MIN_SAMPLE_RATE = 1000              # a file's sample rate, Hz ...
MAX_SAMPLE_RATE = 384000            # ... accepted (others are resampled to the engine's)
MAX_SAMPLES_LOADED = 4096           # distinct files (or SoundFont samples) in the pool at once
MAX_SAMPLE_POOL_MB = 512            # decoded audio held, all files together (float32 at the engine's rate)
MAX_SAMPLE_NOTE_SECONDS = 600.0     # one sampled note (slowed, looped or held) is cut here
MAX_SF2_MB = 1024                   # an .sf2 file
MAX_SF2_RECORDS = 1 << 20           # records in one of an .sf2's preset-data chunks

# -- the clock and voices (the prompt, scripts, OSC: runtime/session.py, runtime/scheduler.py) -----------------
MIN_QUANTUM_BEATS = 1.0 / 64        # a tempo change's or a voice's quantum, and a voice's cycle length (0 = now) ...
MAX_QUANTUM_BEATS = 1024.0          # ... up to this (5e-324 made beat / quantum overflow)
MAX_VOICE_EVENTS_PER_BEAT = 1024    # events one voice may produce per beat (counted per cycle and per window)
VOICE_DEADLINE_MARGIN_S = 0.01      # a Python voice's cycle must be ready this long before its window is due
MAX_STUCK_VOICE_CALLS = 2           # calls of one Python voice given up but still running (a sleep): no more start

# -- Ableton Link (core/link_rules.py, ports/link.py; the tempo range is core/tempo.py's MIN_BPM..MAX_BPM) -------
MAX_LINK_QUANTUM = 64.0             # beats: the longest quantum (bar) LinkSync accepts
LINK_TEMPO_ROUNDING_BPM = 0.01      # Link sends tempo as microseconds a beat: 999 BPM arrives as 999.000999
MAX_CATCHUP_S = 0.02                # a jump of the beat (Link) up to this sends what it passed, late; longer: skipped

# -- the live view's websocket (liveai/frontends/view) ------------------------------------------------------
VIEW_MAX_PAGES = 8                  # pages open at once; more are refused (HTTP 503)
VIEW_MAX_MESSAGE_BYTES = 1024       # a control message longer than this is refused with an error, before parsing
VIEW_MAX_FRAME_BYTES = 64 << 10     # a websocket message longer than this closes the socket (1009) before it is read
VIEW_MAX_VALUES_PER_MESSAGE = 4     # params set by one message (the XY pad sends two)
VIEW_CONTROL_RATE_HZ = 60.0         # control changes a second per page (token bucket refill)...
VIEW_CONTROL_BURST = 30             # ...and how many may come at once; the rest are dropped with an error
VIEW_ERRORS_PER_S = 4.0             # error replies a second per page, after a burst of...
VIEW_ERROR_BURST = 10               # ...this many; the rest are counted and shown with the next
VIEW_RING_NOTES = 4096              # notes kept for the piano roll (a bounded deque filled by a scheduler tap)
VIEW_MAX_NOTES_PER_FRAME = 512      # notes in one frame; older ones are dropped (counted) for a page far behind

# -- the OSC server (liveai/frontends/osc; docs/osc.md "What is never answered") ----------------------------------
OSC_MAX_VOICE_NAME = 64             # characters of a voice name in any OSC message (a 60,000-character one was taken)
OSC_MAX_VOICES = 64                 # voices defined over OSC at once (redefining one is not a new one)
OSC_MAX_EVENTS_PER_BEAT = 1024      # events a beat of all voices defined over OSC together (one [c4*16]*16 at 16ths)
OSC_MAX_SUBSCRIPTIONS_PER_HOST = 16 # /liveai/subscribe targets (host, port) of one host ...
OSC_MAX_SUBSCRIPTIONS = 64          # ... and of all hosts: each note is sent once per subscriber, on the clock thread
OSC_ERROR_REPLIES_PER_S = 20.0      # /liveai/error replies a second to one sender, after a burst of ...
OSC_ERROR_REPLY_BURST = 50          # ... this many; the rest are counted and said in the next one's reason
OSC_ERROR_REPLIES_TOTAL_PER_S = 200.0  # ... and to all senders together (a burst of as many)
OSC_LOG_LINES_PER_S = 1.0           # log lines a second about one sender, after a burst of ...
OSC_LOG_LINE_BURST = 4              # ... this many; the rest are counted and said in the next line
OSC_LOG_LINES_TOTAL_PER_S = 10.0    # ... and about all senders together (a burst of twice as many)
OSC_INBOX_DATAGRAMS = 16384         # datagrams the receiver process reads ahead of its work (all senders), so it
OSC_INBOX_BYTES = 16 << 20          # ... takes them in turns; past either, the socket holds the rest (the kernel's drops)
