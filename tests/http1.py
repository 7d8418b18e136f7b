"""Read ymawky's answers with h11, a strict HTTP/1.1 implementation, as the oracle.

The request bytes are ours (they may be malformed on purpose); h11 is told
only the method, so that it frames the answer as a client must: no body
after HEAD, 204 or 304, Content-Length or chunked or close-delimited.  Any
framing error, a header given twice where once is allowed, or bytes left
over after the last answer fail the test.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import h11


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunked: bool

    def header(self, name: str) -> str | None:
        """The one value of a header (None when absent); a repeated header fails."""
        values = [v for k, v in self.headers if k == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None


def receive(sock: socket.socket, method: str = "GET", closes: bool = False) -> list[Answer]:
    """Read one answer per method in ``method`` ("GET" or "HEAD,GET" for pipelined requests).

    ``closes``: the server must then close the connection with no byte more.
    """
    answers = []
    conn = h11.Connection(h11.CLIENT)
    for m in method.split(","):
        conn.send(h11.Request(method=m, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        answers.append(_one(sock, conn))
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            break
    assert len(answers) == len(method.split(",")), "the connection ended before every answer"
    if closes:
        rest = bytes(conn.trailing_data[0])
        while chunk := sock.recv(65536):
            rest += chunk
        assert rest == b"", f"bytes after the last answer: {rest[:200]!r}"
    return answers


def _one(sock: socket.socket, conn: h11.Connection) -> Answer:
    head: h11.Response | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
            continue
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            headers = [(k.decode().lower(), v.decode("latin-1")) for k, v in head.headers]
            chunked = any(k == "transfer-encoding" and "chunked" in v for k, v in headers)
            return Answer(head.status_code, headers, bytes(body), chunked)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("closed before an answer")


def exchange(port: int, raw: bytes, method: str = "GET", timeout: float = 20.0, closes: bool | None = None) -> Answer:
    """Send raw request bytes on a new connection and read the one answer.

    ``closes`` (by default: when the request says "Connection: close" or HTTP/1.0):
    the server must close after it, with no byte more.
    """
    if closes is None:
        closes = b"Connection: close" in raw or b"HTTP/1.0" in raw
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        return receive(s, method, closes=closes)[0]
