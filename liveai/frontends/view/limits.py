"""Every limit of the live view, in one place (the table in docs/view.md lists them)."""

from __future__ import annotations

UPDATE_HZ = 30                 # frames a second sent to each page (the issue asks >= 20)
RING_NOTES = 4096              # notes kept for the piano roll (a bounded deque filled by a scheduler tap)
HISTORY_BEATS = 16.0           # a page that connects gets this much of what already played
UPCOMING_BEATS = 4.0           # and, every frame, what is queued to play this far ahead
MAX_NOTES_PER_FRAME = 512      # notes in one frame; older ones are dropped (counted) for a page far behind
MAX_CLIENTS = 8                # pages open at once; more are refused (HTTP 503)
MAX_MESSAGE_BYTES = 1024       # a control message longer than this is refused with an error
MAX_FRAME_BYTES = 64 * 1024    # anything longer closes the websocket (1009, message too big) before it is read
MAX_VALUES_PER_MESSAGE = 4     # params set by one message (the XY pad sends two)
CONTROL_RATE_HZ = 60.0         # control changes a second per page (token bucket refill)...
CONTROL_BURST = 30             # ...and how many may come at once; the rest are dropped with an error
ERRORS_PER_S = 4.0             # error replies a second per page, after a burst of...
ERROR_BURST = 10               # ...this many; the rest are counted in the next one shown
TOKEN_BYTES = 24               # secrets.token_urlsafe(TOKEN_BYTES): 32 characters
