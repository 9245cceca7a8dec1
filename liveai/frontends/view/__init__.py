"""The live view: a page on 127.0.0.1 that shows what plays and steers the agents' params (never code)."""
