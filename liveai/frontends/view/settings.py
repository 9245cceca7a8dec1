"""The live view's settings (its limits on what pages send are in liveai/limits.py, VIEW_*)."""

from __future__ import annotations

UPDATE_HZ = 30                 # frames a second sent to each page (the issue asks >= 20)
HISTORY_BEATS = 16.0           # a page that connects gets this much of what already played
UPCOMING_BEATS = 4.0           # and, every frame, what is queued to play this far ahead
TOKEN_BYTES = 24               # secrets.token_urlsafe(TOKEN_BYTES): 32 characters
