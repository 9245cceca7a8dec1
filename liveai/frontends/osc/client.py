"""A small blocking OSC client: what a patch does, for tests, benchmarks and scripts.

Waiting is done on the socket with a timeout (never a sleep), so a test that
expects a reply fails after the timeout instead of hanging.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from pythonosc.osc_message import OscMessage

from liveai.ports.osc import encode_message


class OscClient:
    def __init__(self, server: tuple[str, int], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, port))

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(encode_message(address, *args), self.server)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def recv(self, timeout: float = 2.0) -> tuple[str, list[Any]]:
        """The next message, or TimeoutError."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            raise TimeoutError(f"no OSC message within {timeout} s") from None
        msg = OscMessage(data)
        return msg.address, list(msg.params)

    def expect(self, address: str, timeout: float = 2.0) -> list[Any]:
        """Read until a message to `address` comes (others are dropped); its arguments."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {address} within {timeout} s")
            got, params = self.recv(left)
            if got == address:
                return params

    def request(self, address: str, *args: Any, reply: str, timeout: float = 2.0) -> list[Any]:
        self.send(address, *args)
        return self.expect(reply, timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "OscClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
