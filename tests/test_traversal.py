"""Crafted targets that try to reach outside www/: none may return a byte from outside it.

The secrets sit beside www/ (inside the emulator's root, so only ymawky's own
checks stand in the way) and outside the root altogether (the sandbox's job).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from http1 import parse_response
from server import Server

MARK = b"TOPSECRET-7f3a"

TARGETS = [
    "/../secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/docs/../../secret.txt",
    "/docs/%2e%2e/%2e%2e/secret.txt",
    "/docs/..%2f..%2fsecret.txt",
    "/..\\secret.txt",
    "/....//secret.txt",
    "//../secret.txt",
    "/./../secret.txt",
    "/%2f..%2fsecret.txt",
    "http://x/../secret.txt",
    "http://x/%2e%2e/secret.txt",
    "HTTP://x/docs/%2E%2E/../secret.txt",
    "/%252e%252e/secret.txt",
    "/link.txt",
    "/linkdir/secret.txt",
    "/linkdir/www/hello.txt",
    "/abs-link",
    "/outside-link",
    "/..;/secret.txt",
    "/..",
    "/../",
    "/%2e%2e",
    "/docs/..",
    "/?/../secret.txt",
    "/hello.txt/../../secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/..%00/secret.txt",
    "/etc/passwd",
    "/www/../secret.txt",
    "/docs/./.././../secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/.%2E/.%2E/secret.txt",
    "/%2e%2e/%2e%2e/%2e%2e/outside.txt",
    "/dirlink/",
    "/dirlink/hello.txt",
    "/.ymawky-tmp-1",
]


@pytest.fixture(scope="module")
def jail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    base = tmp_path_factory.mktemp("jail")
    (base / "outside.txt").write_bytes(MARK + b" outside the root")
    root = base / "root"
    www = root / "www"
    (www / "docs").mkdir(parents=True)
    (www / "hello.txt").write_text("hello")
    (www / "docs" / "page.html").write_text("page")
    (root / "secret.txt").write_bytes(MARK + b" beside www")
    (www / "link.txt").symlink_to(root / "secret.txt")
    (www / "linkdir").symlink_to(root)
    (www / "abs-link").symlink_to("/etc/passwd")
    (www / "outside-link").symlink_to(base / "outside.txt")
    (www / "dirlink").symlink_to(www / "docs")
    server = Server(root=root)
    (www / ".ymawky-tmp-1").write_bytes(MARK + b" a temp file")  # after start-up, which sweeps temp files
    yield server, root
    server.stop()


@pytest.mark.parametrize("target", TARGETS)
def test_get_never_leaks(jail: tuple[Server, Path], target: str) -> None:
    server, _ = jail
    for method in ("GET", "HEAD"):
        raw = server.request(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert MARK not in raw
        code, _, _ = parse_response(raw, method)
        assert code in (200, 301, 400, 403, 404), (method, target, code)  # 200: e.g. "/?..." is "/"


def test_there_are_at_least_30_targets() -> None:
    assert len(set(TARGETS)) >= 30


@pytest.mark.parametrize(
    "target",
    ["/../secret.txt", "/%2e%2e/secret.txt", "/link.txt", "/linkdir/secret.txt", "/outside-link", "/.ymawky-tmp-1"],
)
def test_put_and_delete_never_touch_outside(jail: tuple[Server, Path], target: str) -> None:
    server, root = jail
    before = (root / "secret.txt").read_bytes(), (root.parent / "outside.txt").read_bytes()
    for method, body in (("PUT", b"pwned"), ("DELETE", b"")):
        raw = server.request(
            f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + body
        )
        code, _, _ = parse_response(raw)
        assert code in (400, 403, 404, 409), (method, target, code)
    assert ((root / "secret.txt").read_bytes(), (root.parent / "outside.txt").read_bytes()) == before
    assert (root / "www" / ".ymawky-tmp-1").read_bytes().startswith(MARK)
    assert (root / "www" / "link.txt").is_symlink()
