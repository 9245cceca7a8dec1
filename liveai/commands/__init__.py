"""One module per `liveai` subcommand (see liveai/cli.py)."""
