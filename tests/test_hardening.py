"""The defects an outside attack found in ymawky.s (issue 12), each pinned on the wire.

Every answer is read by h11 (tests/http1.py), so a framing error fails too.
Both builds run: ymawky.s through Keystone, and through clang + ld64.lld.
"""

from __future__ import annotations

import email.utils
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from http1 import exchange, receive
from server import ROOT, Server, build_with_apple_toolchain

BIG = 64 << 20  # larger than any socket buffers between us and the server


def make_site(root: Path) -> None:
    shutil.copytree(ROOT / "www", root / "www")
    www = root / "www"
    (www / "drop").mkdir()  # PUT's hostile names land here
    (www / "many").mkdir()
    (www / "cols").mkdir()
    (www / "cols" / "sub").mkdir()
    (www / "cols" / "five.txt").write_bytes(b"12345")
    (www / "cols" / ".hidden").write_text("dotfile")
    os.utime(www / "cols" / "five.txt", (1_700_000_000, 1_700_000_000))
    (www / "range.txt").write_bytes(bytes(range(48, 48 + 40)))
    with (www / "big.bin").open("wb") as f:
        f.truncate(BIG)
    os.mkfifo(www / "pipe")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hardening")
    make_site(root)
    return root


@pytest.fixture(scope="module", params=["keystone", "clang+ld64.lld"])
def srv(request: pytest.FixtureRequest, site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    macho = None
    if request.param != "keystone":
        macho = build_with_apple_toolchain(tmp_path_factory.mktemp("apple-build"))
    server = Server(root=site, macho=macho, log=tmp_path_factory.mktemp("log") / "access.log")
    yield server
    status, _, err = server.stop()
    assert status == 130, err
    assert "Traceback" not in err and "fault" not in err, err


def get(srv: Server, target: str, headers: str = "", method: str = "GET", version: str = "1.1"):
    raw = f"{method} {target} HTTP/{version}\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode()
    return exchange(srv.port, raw, method)


def rows(body: bytes) -> list[str]:
    return re.findall(r"<tr><td><a href=\"([^\"]*)\">", body.decode())


# ---------------------------------------------------------------- 1. the listing


def test_listing_of_hostile_names_made_by_put_is_whole_and_streamed(srv: Server) -> None:
    """231 names of 250 quotes each: 2.4 KiB of HTML a name, past the old 512 KiB page."""
    names = [f"{'%22' * 250}{i}" for i in range(231)]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        for i, name in enumerate(names):
            last = "Connection: close\r\n" if i == len(names) - 1 else ""
            s.sendall(f"PUT /drop/{name} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n{last}\r\nx".encode())
        answers = receive(s, ",".join(["PUT"] * len(names)), closes=True)
    assert {a.status for a in answers} <= {201, 204}
    page = get(srv, "/drop/")
    assert page.status == 200 and page.chunked and page.header("content-length") is None
    assert len(page.body) > 512 * 1024
    assert sorted(rows(page.body)[1:]) == sorted(names)  # after "../": every name, encoded
    assert page.body.count(b"&quot;" * 250) == 231  # and escaped
    assert page.body.endswith(b"</table>\n</body></html>\n")


def test_listing_shows_every_entry_of_4096_and_counts_the_rest(srv: Server, site: Path) -> None:
    many = site / "www" / "many"
    for i in range(len(list(many.iterdir())), 4096):
        (many / f"entry-{i:05d}.txt").write_bytes(b"")
    page = get(srv, "/many/")
    assert page.status == 200
    assert rows(page.body)[1:] == [f"entry-{i:05d}.txt" for i in range(4096)]
    assert b"more entries" not in page.body
    for i in range(4096, 4100):
        (many / f"entry-{i:05d}.txt").write_bytes(b"")
    try:
        page = get(srv, "/many/")
        assert len(rows(page.body)) == 1 + 4096
        assert b"<p>And 4 more entries, not listed.</p>" in page.body
    finally:
        for i in range(4096, 4100):
            (many / f"entry-{i:05d}.txt").unlink()


def test_listing_has_parent_link_size_date_style_and_hides_dotfiles(srv: Server) -> None:
    page = get(srv, "/cols/")
    text = page.body.decode()
    assert rows(page.body) == ["../", "five.txt", "sub/"]
    assert ".hidden" not in text
    assert "<style>" in text and "<th>Size</th>" in text
    date = email.utils.formatdate(1_700_000_000, usegmt=True)
    assert f'<a href="five.txt">five.txt</a></td><td class="size">5</td><td>{date}</td></tr>' in text
    assert '<a href="sub/">sub/</a></td><td class="size">-</td>' in text


def test_listing_of_the_root_has_no_parent_link(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "a.txt").write_text("a")
    server = Server(root=tmp_path)
    try:
        page = get(server, "/")
        assert rows(page.body) == ["a.txt"]
    finally:
        server.stop()


def test_listing_over_http10_ends_with_the_close_and_head_has_no_body(srv: Server) -> None:
    old = get(srv, "/cols/", version="1.0")
    assert old.status == 200 and not old.chunked and old.header("content-length") is None
    assert old.body == get(srv, "/cols/").body
    head = get(srv, "/cols/", method="HEAD")
    assert head.status == 200 and head.body == b""


# ---------------------------------------------------------------- 2, 3. stalled clients


def _body_bytes(sock: socket.socket) -> int:
    """Read to the close: how many body bytes came after the head."""
    data = bytearray()
    while chunk := sock.recv(1 << 20):
        data += chunk
    return len(data) - data.index(b"\r\n\r\n") - 4


def test_stalled_readers_and_stalled_put_bodies_are_dropped(srv: Server, site: Path) -> None:
    """Two clients that never read a large file, and a PUT that declares 1 GiB and sends a
    byte: each ends after ~10 s without progress, and then the server answers as usual."""
    readers = [srv.connect(timeout=60) for _ in range(2)]
    put = srv.connect(timeout=60)
    try:
        for s in readers:
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        put.sendall(b"PUT /drop/huge HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\nx")
        t0 = time.monotonic()
        answer = receive(put, "PUT", closes=True)[0]
        assert answer.status == 408 and time.monotonic() - t0 < 20
        time.sleep(max(0.0, 14 - (time.monotonic() - t0)))  # the readers' children give up too
        got = [_body_bytes(s) for s in readers]  # then: all that was sent, and the close
    finally:
        for s in (*readers, put):
            s.close()
    assert all(0 < n < BIG for n in got), got
    assert not (site / "www" / "drop" / "huge").exists()
    assert not [p for p in (site / "www" / "drop").iterdir() if p.name.startswith(".ymawky-tmp")]
    assert get(srv, "/range.txt").status == 200
    logged = [int(ln.rsplit(" ", 1)[1]) for ln in _log_lines(srv, '"GET /big.bin HTTP/1.1" 200 ')[-2:]]
    assert sorted(logged) == sorted(got)  # what went on the wire, not "-"


# ---------------------------------------------------------------- 4. temp files


def test_put_temp_files_are_random_and_exclusive(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "www", tmp_path / "www")
    server = Server(root=tmp_path, extra=["--strace", str(tmp_path / "calls.strace")])
    try:
        for i in range(2):
            raw = f"PUT /up{i}.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
            assert exchange(server.port, raw.encode(), "PUT").status == 201
    finally:
        server.stop()
    calls = (tmp_path / "calls.strace").read_text()
    opens = re.findall(r'openat\(\d+, "(\.ymawky-tmp-[^"]*)", ([A-Z_|]+)', calls)
    assert len(opens) == 2, calls
    assert all(re.fullmatch(r"\.ymawky-tmp-[0-9a-f]{1,16}", name) for name, _ in opens)
    assert opens[0][0] != opens[1][0]
    assert all("O_CREAT" in f and "O_EXCL" in f and "O_TRUNC" not in f for _, f in opens)
    assert calls.count("getentropy(") == 2


def test_a_planted_hard_link_at_the_temp_name_is_never_opened(tmp_path: Path) -> None:
    """The attack of issue 12: a hard link, at the name the next PUT will use, to a file outside
    the root.  --entropy-seed makes the names known to the test (and so to the "attacker")."""
    import random

    shutil.copytree(ROOT / "www", tmp_path / "www")
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    rng = random.Random(7)
    first, second = (f".ymawky-tmp-{int.from_bytes(rng.randbytes(8), 'little'):x}" for _ in range(2))
    server = Server(root=tmp_path, extra=["--entropy-seed", "7", "--strace", str(tmp_path / "calls.strace")])
    try:
        os.link(outside, tmp_path / "www" / first)  # after the start-up sweep
        raw = b"PUT /new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\npwned!"
        assert exchange(server.port, raw, "PUT").status == 201
    finally:
        server.stop()
    assert outside.read_text() == "not yours" and (tmp_path / "www" / "new.txt").read_text() == "pwned!"
    calls = (tmp_path / "calls.strace").read_text()
    assert re.search(rf'openat\(\d+, "{first}", O_WRONLY\|O_CREAT\|O_EXCL\S*, 0644\) = -1 EEXIST', calls), calls
    assert re.search(rf'renameat\(\d+, "{second}", \d+, "new.txt"\) = 0', calls), calls


def test_temp_file_of_a_killed_put_is_swept_at_start_up(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "www", tmp_path / "www")
    (tmp_path / "www" / "docs" / "deep").mkdir()
    planted = tmp_path / "www" / "docs" / "deep" / ".ymawky-tmp-0123"
    planted.write_text("left by an older crash")
    server = Server(root=tmp_path)
    try:
        assert not planted.exists()  # swept before the first accept
        with server.connect() as s:
            s.sendall(b"PUT /docs/new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nten bytes.")
            deadline = time.monotonic() + 10
            while not (temps := list((tmp_path / "www" / "docs").glob(".ymawky-tmp-*"))):
                assert time.monotonic() < deadline, "no temp file appeared"
                time.sleep(0.05)
            children = server.live_children()
            assert len(children) == 1, server.processes()
            server.kill_guest(children[0])
            time.sleep(0.5)
    finally:
        server.stop()
    assert temps[0].exists()  # the killed child left it
    again = Server(root=tmp_path)
    again.stop()
    assert not temps[0].exists() and not (tmp_path / "www" / "docs" / "new.txt").exists()


# ---------------------------------------------------------------- 5. ranges


def test_overlapping_ranges_cannot_multiply_the_answer(srv: Server) -> None:
    many = get(srv, "/big.bin", "Range: bytes=" + ",".join(["0-"] * 16) + "\r\n", method="HEAD")
    assert many.status == 200 and many.header("content-length") == str(BIG)
    repeated = get(srv, "/range.txt", "Range: bytes=0-29,10-39\r\n")  # 60 bytes of a 40-byte file
    assert repeated.status == 200 and len(repeated.body) == 40
    fine = get(srv, "/range.txt", "Range: bytes=0-9,5-14\r\n")  # overlapping, within the size
    assert fine.status == 206 and fine.body.count(b"Content-Range: bytes ") == 2


def test_huge_range_numbers_clamp(srv: Server) -> None:
    for spec, first in (("0-99999999999999999999999", 0), ("3-288230376151711744", 3), ("-99999999999999999999", 0)):
        answer = get(srv, "/range.txt", f"Range: bytes={spec}\r\n")
        assert answer.status == 206, spec
        assert answer.header("content-range") == f"bytes {first}-39/40"
        assert answer.body == bytes(range(48 + first, 88))


# ---------------------------------------------------------------- 6. parsing


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /range.txt HTTP/1.1\rXHost: x\r\nConnection: close\r\n\r\n",  # bare CR ends no line
        b"GET /range.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n",
        b"GET /range.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\nConnection: close\r\n\r\n",
        b"GET /range.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\nConnection: close\r\n\r\n",
    ],
)
def test_control_bytes_in_the_head_are_400(srv: Server, raw: bytes) -> None:
    assert exchange(srv.port, raw).status == 400


def test_a_tab_in_a_header_value_is_fine(srv: Server) -> None:
    assert (
        exchange(srv.port, b"GET /range.txt HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\nConnection: close\r\n\r\n").status
        == 200
    )


@pytest.mark.parametrize(
    "target, location",
    [
        ("//cols", "/cols/"),
        ("/cols#frag", "/cols/"),
        ("/cols?q=1", "/cols/"),
        ("///cols//sub", "/cols/sub/"),
        ("http://evil.example//cols", "/cols/"),
    ],
)
def test_location_is_made_from_the_decoded_path(srv: Server, target: str, location: str) -> None:
    answer = get(srv, target)
    assert answer.status == 301 and answer.header("location") == location


def test_location_percent_encodes_the_path(srv: Server, site: Path) -> None:
    (site / "www" / "a b&c").mkdir(exist_ok=True)
    assert get(srv, "/a%20b%26c").header("location") == "/a%20b%26c/"


# ---------------------------------------------------------------- 7. odd files


def test_a_fifo_is_403_at_once(srv: Server) -> None:
    t0 = time.monotonic()
    assert get(srv, "/pipe").status == 403
    assert time.monotonic() - t0 < 5


# ---------------------------------------------------------------- 8. framing and the log


def test_put_that_replaces_is_204_without_content_length(srv: Server) -> None:
    first = get(srv, "/twice.txt", "Content-Length: 0\r\n", "PUT")
    again = get(srv, "/twice.txt", "Content-Length: 0\r\n", "PUT")
    assert {first.status, again.status} <= {201, 204} and again.status == 204
    assert again.header("content-length") is None


def test_the_parents_503_to_head_has_no_body(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "www", tmp_path / "www")
    server = Server(root=tmp_path)
    held = []
    try:
        held = [server.connect() for _ in range(64)]
        time.sleep(1.0)
        head = exchange(server.port, b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", closes=True)
        assert head.status == 503 and head.body == b"" and int(head.header("content-length")) > 0
    finally:
        for s in held:
            s.close()
        server.stop()


def _log_lines(srv: Server, needle: str) -> list[str]:
    time.sleep(0.3)  # the child logs right after its answer
    return [ln for ln in srv.log.read_text().splitlines() if needle in ln]


def test_log_counts_the_bytes_of_a_multipart_answer(srv: Server) -> None:
    multi = get(srv, "/range.txt?multi", "Range: bytes=0-1,5-6\r\n")
    assert multi.status == 206
    assert _log_lines(srv, '"GET /range.txt?multi HTTP/1.1" 206 ')[-1].endswith(f" {len(multi.body)}")
