"""Front ends: the REPL, the script runner and the OSC server."""
