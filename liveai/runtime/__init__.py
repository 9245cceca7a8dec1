"""The runtime: scheduler, clocks (realtime and offline), voices, session."""
