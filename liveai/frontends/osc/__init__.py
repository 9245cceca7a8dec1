"""The OSC server for Max and Pd patches.

Imports run one way: space (the address table) -> items (pure checks of human
input and voice names) -> packets (bytes to checked messages) -> rules (what
is never answered, quotas on errors and log lines) -> inbox (read-ahead, senders in
turns) -> receiver (the child
process that owns the socket) -> child (that process seen from the server) ->
turns (the apply queue: senders in turns) -> replies (where answers go, how
errors are said) -> handlers (what each address does to the session) ->
voices (patterns defined over OSC) -> server (the parent side that applies
commands on its own thread).
"""
