"""Read HTTP answers with h11, a strict HTTP/1.1 implementation, as the oracle.

The one HTTP client of the tests and of bench/ (bench/load.py).  The request
bytes are ours (they may be malformed on purpose); h11 is told only the
method, so that it frames the answer as a client must: no body after HEAD,
204 or 304, Content-Length or chunked or close-delimited.  Any framing
error, a header given twice where once is allowed, or bytes left over after
the last answer fail the test.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

import h11


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]  # names in lower case, in the order sent
    body: bytes
    chunked: bool
    closes: bool = False  # the server closes the connection after it (Connection: close, HTTP/1.0)

    def header(self, name: str) -> str | None:
        """The one value of a header (None when absent); a repeated header fails."""
        values = [v for k, v in self.headers if k == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None

    @property
    def fields(self) -> dict[str, str]:
        """The headers by name; a header sent twice fails."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            assert k not in out, f"{k} sent twice: {out[k]!r}, {v!r}"
            out[k] = v
        return out


def client(method: str = "GET") -> h11.Connection:
    """An h11 client that has sent ``method`` (only HEAD changes how the answer is framed)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    return conn


def next_answer(
    conn: h11.Connection, more: Callable[[], bytes], version: bytes | None = b"1.1", informational: bool = False
) -> Answer:
    """The next whole answer h11 reads on ``conn``; ``more`` gives bytes from the wire (b"":
    closed).  ``version``: the HTTP version every answer must have (None: any).
    ``informational``: a 1xx is an answer of its own (else it is skipped)."""
    head: h11.Response | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(more())
        elif isinstance(event, h11.InformationalResponse):
            if informational:
                return Answer(event.status_code, _headers(event), b"", False)
        elif isinstance(event, h11.Response):
            assert version is None or event.http_version == version, event
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            headers = _headers(head)
            chunked = any(k == "transfer-encoding" and "chunked" in v for k, v in headers)
            return Answer(head.status_code, headers, bytes(body), chunked, conn.their_state is h11.MUST_CLOSE)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("closed before an answer")
        else:
            raise AssertionError(f"unexpected {event!r}")


def _headers(event: h11.Response | h11.InformationalResponse) -> list[tuple[str, str]]:
    return [(k.decode().lower(), v.decode("latin-1")) for k, v in event.headers]


def receiver(sock: socket.socket) -> Callable[[], bytes]:
    def more() -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a whole answer")
        return chunk

    return more


def receive(sock: socket.socket, method: str = "GET", closes: bool = False) -> list[Answer]:
    """Read one answer per method in ``method`` ("GET" or "HEAD,GET" for pipelined requests).

    ``closes``: the server must then close the connection with no byte more.
    """
    answers = []
    conn = h11.Connection(h11.CLIENT)
    for m in method.split(","):
        conn.send(h11.Request(method=m, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        answers.append(next_answer(conn, lambda: sock.recv(65536), version=None))
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


def parse(raw: bytes, method: str = "GET") -> Answer:
    """The one answer on a connection the server then closed (``raw``: all it sent)."""
    conn = client(method)
    chunks = [raw, b""]
    answer = next_answer(conn, lambda: chunks.pop(0) if chunks else b"", informational=True)
    left, _ = conn.trailing_data
    assert not left, f"bytes after the answer: {left[:200]!r}"
    return answer


def read_one(sock: socket.socket, buffered: bytearray, method: str = "GET", version: bytes | None = b"1.1") -> Answer:
    """Exactly one answer from a kept-alive connection; what came after it stays in
    ``buffered`` for the next."""
    conn = client(method)
    if buffered:  # (h11 takes b"" as the end of the connection)
        conn.receive_data(bytes(buffered))
    del buffered[:]
    answer = next_answer(conn, receiver(sock), version=version, informational=True)
    buffered += conn.trailing_data[0]
    return answer


def parse_response(raw: bytes, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """``parse`` as (status, headers by name, body)."""
    a = parse(raw, method)
    return a.status, a.fields, a.body


def read_response(
    sock: socket.socket, buffered: bytearray, head_only: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """``read_one`` as (status, headers by name, body)."""
    a = read_one(sock, buffered, "HEAD" if head_only else "GET")
    return a.status, a.fields, a.body
