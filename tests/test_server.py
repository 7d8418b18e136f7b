"""ymawky served emulated, checked on the wire."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from http1 import parse_response
from server import ROOT, Server

WWW = ROOT / "www"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    status, _, err = srv.stop()
    assert status == 130, err
    assert "Traceback" not in err


def test_get_root_returns_index_html_byte_for_byte(server: Server) -> None:
    code, headers, body = server.get("/")
    assert code == 200
    assert body == (WWW / "index.html").read_bytes()
    assert headers["content-length"] == str(len(body))
    assert headers["connection"] == "close"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_gets_index_byte_for_byte(server: Server) -> None:
    out = subprocess.run(
        ["curl", "-s", "--max-time", "10", f"http://127.0.0.1:{server.port}/"], capture_output=True, check=True
    ).stdout
    assert out == (WWW / "index.html").read_bytes()


@pytest.mark.parametrize("path", ["/hello.txt", "/docs/about.html", "/css/site.css", "/docs/"])
def test_files_in_folders(server: Server, path: str) -> None:
    code, headers, body = server.get(path)
    want = WWW / path.lstrip("/")
    want = want / "index.html" if path.endswith("/") and want.is_dir() and (want / "index.html").exists() else want
    if want.is_dir():
        assert code == 200 and b"Index of " + path.encode() in body  # no index.html: a listing
    else:
        assert code == 200
        assert body == want.read_bytes()
        assert int(headers["content-length"]) == len(body)


def test_head_sends_headers_without_body(server: Server) -> None:
    code, headers, body = server.get("/hello.txt", method="HEAD")
    assert code == 200
    assert headers["content-length"] == str((WWW / "hello.txt").stat().st_size)
    assert body == b""


def test_missing_file_is_404_with_a_body_of_the_stated_length(server: Server) -> None:
    code, headers, body = server.get("/no-such-file.html")
    assert code == 404
    assert len(body) == int(headers["content-length"]) > 0


@pytest.mark.parametrize("target", ["/../run_emulated.py", "/docs/../../ymawky.s", "/..", "/css/.."])
def test_dot_dot_segments_are_refused(server: Server, target: str) -> None:
    raw = server.request(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    code, _, body = parse_response(raw)
    assert code == 403
    assert b"import" not in body and b"SYSCALL" not in body  # nothing of the files above www/


@pytest.mark.parametrize("raw", [b"BLAH\r\n\r\n", b"GET\r\n\r\n", b"GET nope HTTP/1.1\r\n\r\n", b"\r\n\r\n"])
def test_malformed_request_is_400_and_server_keeps_running(server: Server, raw: bytes) -> None:
    code, _, _ = parse_response(server.request(raw))
    assert code == 400
    assert server.get("/hello.txt")[0] == 200


def test_query_string_is_ignored(server: Server) -> None:
    code, _, body = server.get("/hello.txt?x=1&y=2")
    assert code == 200
    assert body == (WWW / "hello.txt").read_bytes()


def test_client_that_sends_nothing_does_not_hurt(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    assert server.get("/")[0] == 200


def test_sixteen_clients_at_once(server: Server) -> None:
    paths = ["/", "/hello.txt", "/docs/about.html", "/css/site.css"] * 4
    results: dict[int, tuple[int, bytes]] = {}

    def fetch(i: int) -> None:
        code, _, body = server.get(paths[i])
        results[i] = (code, body)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 16
    for i, path in enumerate(paths):
        want = WWW / (path.lstrip("/") or "index.html")
        assert results[i] == (200, want.read_bytes()), path


def test_large_file_arrives_whole(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    blob = bytes(range(256)) * (5 * 4096)  # 5 MiB
    (tmp_path / "www" / "big.bin").write_bytes(blob)
    srv = Server(root=tmp_path)
    try:
        code, headers, body = srv.get("/big.bin")
    finally:
        srv.stop()
    assert code == 200
    assert headers["content-length"] == str(len(blob))
    assert body == blob


def test_symlink_on_the_path_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "www" / "link.txt").symlink_to(tmp_path / "secret.txt")
    srv = Server(root=tmp_path)
    try:
        code, _, body = srv.get("/link.txt")
    finally:
        srv.stop()
    assert code == 403
    assert b"secret" not in body


def test_ctrl_c_stops_server_and_frees_the_port() -> None:
    srv = Server()
    assert srv.get("/")[0] == 200
    status, out, err = srv.stop()
    assert status == 130
    assert "Traceback" not in err
    assert f"listening on http://127.0.0.1:{srv.port}/" in out
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", srv.port))  # nothing of ours still holds it
