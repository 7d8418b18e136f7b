"""ymawky's HTTP/1.1 behaviour, row by row (issue 3), checked on the wire.

One emulated server serves a copy of www/ and err/ plus crafted files in a
temporary root; each test asserts status, headers and exact body bytes (or
the files left on disk).
"""

from __future__ import annotations

import email.utils
import http.client
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from http1 import exchange, parse_response, read_response
from server import ROOT, Server, build_with_apple_toolchain, closed_within

RANGE_TEXT = b"0123456789abcdefghijklmnopqrstuvwxyz"


def make_site(root: Path) -> None:
    shutil.copytree(ROOT / "www", root / "www")
    shutil.copytree(ROOT / "err", root / "err")
    www = root / "www"
    (root / "secret.txt").write_text("outside www")
    for name, data in {
        "with space.txt": b"spaced",
        "ohwell...txt": b"dots",
        "hehe..txt": b"hehe",
        "f.txt": b"eff",
        "data.json": b"{}",
        "pic.png": b"\x89PNG",
        "app.wasm": b"\0asm",
        "style.CSS": b"p{}",
        "unknown.zzz": b"?",
        "range.txt": RANGE_TEXT,
    }.items():
        (www / name).write_bytes(data)
    lst = www / "list"
    (lst / "a dir").mkdir(parents=True)
    (lst / "b.txt").write_text("b")
    (lst / "<b>&.txt").write_text("x")
    (lst / "Zed").write_text("z")
    (lst / ".ymawky-tmp-5").write_text("hidden")
    (www / "up").mkdir()
    (www / "up" / "old.txt").write_text("old contents")
    (www / "link.txt").symlink_to(root / "secret.txt")
    (www / "linkdir").symlink_to(root)
    (www / "docs" / "inner-link.txt").symlink_to("../hello.txt")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    make_site(root)
    return root


@pytest.fixture(scope="module", params=["keystone", "clang+ld64.lld"])
def srv(request: pytest.FixtureRequest, site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """ymawky.s assembled by Keystone (our path), and by Apple's dialect through clang and ld64.lld."""
    macho = None
    if request.param != "keystone":
        macho = build_with_apple_toolchain(tmp_path_factory.mktemp("apple-build"))
    server = Server(root=site, macho=macho)
    yield server
    status, out, err = server.stop()
    assert status == 130, err
    assert "Traceback" not in err


def raw(srv: Server, text: str | bytes) -> tuple[int, dict[str, str], bytes]:
    data = text.encode() if isinstance(text, str) else text
    method = data.split(b" ", 1)[0].decode("latin-1")
    return parse_response(srv.request(data), method if method == "HEAD" else "GET")


# ---------------------------------------------------------------- request line


@pytest.mark.parametrize(
    "line",
    [
        "GET /\r\n",
        "GET  / HTTP/1.1\r\n",
        "GET / HTTP/1.1 x\r\n",
        "GET / HTTX/1.1\r\n",
        "GET / HTTP/1\r\n",
        "GET@ / HTTP/1.1\r\n",
        " GET / HTTP/1.1\r\n",
    ],
)
def test_malformed_request_line_is_400(srv: Server, line: str) -> None:
    assert raw(srv, line + "Host: x\r\n\r\n")[0] == 400


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.1"])
def test_other_versions_are_505(srv: Server, version: str) -> None:
    assert raw(srv, f"GET / {version}\r\nHost: x\r\n\r\n")[0] == 505


def test_http11_without_host_is_400_and_http10_without_host_is_fine(srv: Server) -> None:
    assert raw(srv, "GET /hello.txt HTTP/1.1\r\n\r\n")[0] == 400
    code, _, body = raw(srv, "GET /hello.txt HTTP/1.0\r\n\r\n")
    assert (code, body) == (200, b"hello from ymawky\n")


@pytest.mark.parametrize("method", ["PATCH", "get", "Get", "TRACE", "CONNECT", "BREW"])
def test_unknown_or_lowercase_method_is_501_with_allow(srv: Server, method: str) -> None:
    code, headers, body = raw(srv, f"{method} / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert code == 501
    assert headers["allow"] == "GET, HEAD, PUT, DELETE, OPTIONS"
    assert len(body) == int(headers["content-length"]) > 0


# ---------------------------------------------------------------- limits


def test_head_over_8k_is_431(srv: Server) -> None:
    filler = "X-Filler: " + "a" * 9000 + "\r\n"
    assert raw(srv, f"GET / HTTP/1.1\r\nHost: x\r\n{filler}\r\n")[0] == 431


def test_head_just_under_8k_is_served(srv: Server) -> None:
    base = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Filler: \r\n\r\n"
    filler = "a" * (8192 - len(base))
    req = base.replace("X-Filler: ", "X-Filler: " + filler)
    assert len(req) == 8192
    assert raw(srv, req)[0] == 200


def test_target_longer_than_path_max_is_414(srv: Server) -> None:
    assert raw(srv, "GET /" + "a" * 1100 + " HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 414


@pytest.mark.parametrize(
    "headers",
    [
        "Host: x\r\n folded\r\n",
        "Host: x\r\nNoColonHere\r\n",
        "Host: x\r\nBad Name: v\r\n",
        "Host: x\r\n: empty\r\n",
        "Host: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
        "Host: x\r\nContent-Length: abc\r\n",
    ],
)
def test_bad_header_lines_are_400(srv: Server, headers: str) -> None:
    assert raw(srv, f"GET /hello.txt HTTP/1.1\r\n{headers}\r\n")[0] == 400


def test_repeated_equal_content_length_is_accepted(srv: Server) -> None:
    code, _, _ = raw(
        srv, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert code == 200


# ---------------------------------------------------------------- targets


def test_absolute_form_and_query_string(srv: Server) -> None:
    assert srv.get("http://127.0.0.1:8080/hello.txt?x=1")[2] == b"hello from ymawky\n"
    assert srv.get("HTTP://example/hello.txt")[2] == b"hello from ymawky\n"
    assert srv.get("http://example")[0] == 200  # "/" then index.html


@pytest.mark.parametrize(
    "target,body",
    [
        ("/with%20space.txt", b"spaced"),
        ("/%66.txt", b"eff"),
        ("/ohwell...txt", b"dots"),
        ("/hehe..txt", b"hehe"),
        ("/docs/./../hello.txt".replace("/..", "/%2E%2E"), None),
    ],
)
def test_percent_decoding_and_dotted_names(srv: Server, target: str, body: bytes | None) -> None:
    code, _, got = srv.get(target)
    if body is None:
        assert code == 403
    else:
        assert (code, got) == (200, body)


def test_percent_00_is_400_and_bad_escapes_are_400(srv: Server) -> None:
    assert srv.get("/hello.txt%00.html")[0] == 400
    assert srv.get("/hello%2.txt")[0] == 400
    assert srv.get("/hello%zz.txt")[0] == 400


def test_symlinks_on_the_path_are_403(srv: Server) -> None:
    for target in ("/link.txt", "/linkdir/secret.txt", "/docs/inner-link.txt"):
        code, _, body = srv.get(target)
        assert code == 403, target
        assert b"outside www" not in body


def test_temp_files_are_never_served(srv: Server, site: Path) -> None:
    (site / "www" / ".ymawky-tmp-999").write_bytes(b"half-written")  # made after start-up's sweep
    code, _, body = srv.get("/.ymawky-tmp-999")
    assert code == 403
    assert b"half-written" not in body


# ---------------------------------------------------------------- GET and HEAD


@pytest.mark.parametrize(
    "name,ctype",
    [
        ("index.html", "text/html; charset=utf-8"),
        ("css/site.css", "text/css; charset=utf-8"),
        ("style.CSS", "text/css; charset=utf-8"),
        ("data.json", "application/json"),
        ("pic.png", "image/png"),
        ("app.wasm", "application/wasm"),
        ("hello.txt", "text/plain; charset=utf-8"),
        ("unknown.zzz", "application/octet-stream"),
        ("ohwell...txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_type_from_the_extension(srv: Server, name: str, ctype: str) -> None:
    assert srv.get("/" + name)[1]["content-type"] == ctype


def test_mime_table_has_at_least_45_extensions() -> None:
    src = (ROOT / "ymawky.s").read_text()
    assert src.count("    .hword Lmx_") >= 45
    for ext in (
        "html",
        "css",
        "js",
        "mjs",
        "json",
        "wasm",
        "svg",
        "png",
        "jpg",
        "gif",
        "webp",
        "avif",
        "ico",
        "woff2",
        "mp4",
        "webm",
        "mp3",
        "pdf",
        "txt",
        "zip",
        "gz",
    ):
        assert f'Lmx_{ext}: .ascii "{ext}"' in src


def test_get_headers_are_complete_and_true(srv: Server, site: Path) -> None:
    path = site / "www" / "hello.txt"
    st = path.stat()
    before = time.time()
    code, h, body = srv.get("/hello.txt")
    assert code == 200 and body == path.read_bytes()
    assert h["content-length"] == str(st.st_size)
    assert h["last-modified"] == email.utils.formatdate(int(st.st_mtime), usegmt=True)
    assert h["etag"] == f'"{int(st.st_mtime):x}-{st.st_size:x}"'
    assert h["accept-ranges"] == "bytes"
    assert h["server"] == "ymawky"
    date = email.utils.parsedate_to_datetime(h["date"]).timestamp()
    assert before - 2 <= date <= time.time() + 2
    assert h["date"].endswith(" GMT") and len(h["date"]) == 29


def test_head_has_the_same_headers_and_no_body(srv: Server) -> None:
    _, get_h, _ = srv.get("/index.html")
    code, head_h, body = srv.get("/index.html", method="HEAD")
    assert code == 200 and body == b""
    for name in ("content-length", "content-type", "etag", "last-modified", "accept-ranges"):
        assert head_h[name] == get_h[name]


# ---------------------------------------------------------------- conditionals


def test_if_none_match_with_the_etag_is_304(srv: Server) -> None:
    etag = srv.get("/hello.txt")[1]["etag"]
    code, h, body = srv.get("/hello.txt", headers={"If-None-Match": etag})
    assert (code, body) == (304, b"")
    assert h["etag"] == etag and "content-length" not in h
    assert srv.get("/hello.txt", headers={"If-None-Match": f'"nope", {etag}'})[0] == 304
    assert srv.get("/hello.txt", headers={"If-None-Match": "*"})[0] == 304
    assert srv.get("/hello.txt", headers={"If-None-Match": '"other"'})[0] == 200


def test_if_modified_since(srv: Server) -> None:
    lm = srv.get("/hello.txt")[1]["last-modified"]
    assert srv.get("/hello.txt", headers={"If-Modified-Since": lm})[0] == 304
    assert srv.get("/hello.txt", headers={"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})[0] == 200
    assert srv.get("/hello.txt", headers={"If-Modified-Since": "not a date"})[0] == 200


# ---------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "spec,first,last",
    [
        ("bytes=0-4", 0, 4),
        ("bytes=10-", 10, 35),
        ("bytes=-3", 33, 35),
        ("bytes=30-1000", 30, 35),
        ("bytes=-100", 0, 35),
        ("bytes= 2-2", 2, 2),
    ],
)
def test_single_range_is_206(srv: Server, spec: str, first: int, last: int) -> None:
    code, h, body = srv.get("/range.txt", headers={"Range": spec})
    assert code == 206
    assert h["content-range"] == f"bytes {first}-{last}/{len(RANGE_TEXT)}"
    assert body == RANGE_TEXT[first : last + 1]
    assert h["content-length"] == str(last - first + 1)


@pytest.mark.parametrize("spec", ["bytes=36-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_range_is_416(srv: Server, spec: str) -> None:
    code, h, body = srv.get("/range.txt", headers={"Range": spec})
    assert code == 416
    assert h["content-range"] == f"bytes */{len(RANGE_TEXT)}"
    assert len(body) == int(h["content-length"])


@pytest.mark.parametrize("spec", ["bytes=5-2", "items=0-1", "bytes=a-b", "bytes=", "bytes=1-2-3"])
def test_invalid_range_is_ignored(srv: Server, spec: str) -> None:
    code, _, body = srv.get("/range.txt", headers={"Range": spec})
    assert (code, body) == (200, RANGE_TEXT)


def test_several_ranges_are_multipart(srv: Server) -> None:
    code, h, body = srv.get("/range.txt", headers={"Range": "bytes=0-1, 5-6,-2"})
    assert code == 206
    assert h["content-type"] == "multipart/byteranges; boundary=ymawky-byteranges"
    assert len(body) == int(h["content-length"])
    parts = body.split(b"--ymawky-byteranges")
    assert parts[0] == b"\r\n" and parts[-1] == b"--\r\n"
    got = []
    for part in parts[1:-1]:
        head, _, data = part.partition(b"\r\n\r\n")
        assert b"Content-Type: text/plain; charset=utf-8" in head
        rng = [line for line in head.split(b"\r\n") if line.startswith(b"Content-Range:")][0]
        got.append((rng.decode(), data[:-2]))
    assert got == [
        ("Content-Range: bytes 0-1/36", b"01"),
        ("Content-Range: bytes 5-6/36", b"56"),
        ("Content-Range: bytes 34-35/36", b"yz"),
    ]


def test_if_range(srv: Server) -> None:
    h = srv.get("/range.txt")[1]
    assert srv.get("/range.txt", headers={"Range": "bytes=0-1", "If-Range": h["etag"]})[0] == 206
    assert srv.get("/range.txt", headers={"Range": "bytes=0-1", "If-Range": h["last-modified"]})[0] == 206
    code, _, body = srv.get("/range.txt", headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert (code, body) == (200, RANGE_TEXT)


def test_range_on_head_is_ignored(srv: Server) -> None:
    code, h, _ = srv.get("/range.txt", method="HEAD", headers={"Range": "bytes=0-1"})
    assert code == 200 and h["content-length"] == str(len(RANGE_TEXT))


# ---------------------------------------------------------------- directories


def test_folder_without_slash_redirects(srv: Server) -> None:
    code, h, body = srv.get("/docs?x=1")
    assert code == 301
    assert h["location"] == "/docs/"
    assert body == b"" and h["content-length"] == "0"


def test_folder_with_index_serves_it(srv: Server, site: Path) -> None:
    assert b'<a href="about.html">about.html</a>' in srv.get("/docs/")[2]  # no index.html: a listing
    (site / "www" / "docs" / "index.html").write_text("docs index")
    try:
        assert srv.get("/docs/")[2] == b"docs index"
    finally:
        (site / "www" / "docs" / "index.html").unlink()


def test_listing_sorted_escaped_encoded_and_without_temp_files(srv: Server) -> None:
    answer = exchange(srv.port, b"GET /list/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.status == 200 and answer.header("content-type") == "text/html; charset=utf-8"
    assert answer.chunked
    page = answer.body.decode()
    links = re.findall(r"<tr><td>(<a href=.*?</a>)</td>", page)
    assert links == [
        '<a href="../">../</a>',
        '<a href="%3Cb%3E%26.txt">&lt;b&gt;&amp;.txt</a>',
        '<a href="Zed">Zed</a>',
        '<a href="a%20dir/">a dir/</a>',
        '<a href="b.txt">b.txt</a>',
    ]
    assert "Index of /list/" in page
    assert ".ymawky-tmp" not in page


# ---------------------------------------------------------------- PUT


def test_put_creates_then_replaces(srv: Server, site: Path) -> None:
    target = site / "www" / "up" / "new.txt"
    target.unlink(missing_ok=True)  # the site is shared by both builds
    code, _, _ = srv.get("/up/new.txt", method="PUT", headers={"Content-Length": "5"}, body=b"first")
    assert code == 201 and target.read_bytes() == b"first"
    code, _, _ = srv.get("/up/new.txt", method="PUT", headers={"Content-Length": "6"}, body=b"second")
    assert code == 204 and target.read_bytes() == b"second"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".ymawky-tmp")]


def test_put_errors(srv: Server, site: Path) -> None:
    assert srv.get("/up/x.txt", method="PUT")[0] == 411
    assert srv.get("/up/x.txt", method="PUT", headers={"Transfer-Encoding": "chunked"})[0] == 501
    assert srv.get("/up/x.txt", method="PUT", headers={"Content-Length": str((1 << 30) + 1)})[0] == 413
    assert srv.get("/nofolder/x.txt", method="PUT", headers={"Content-Length": "1"}, body=b"x")[0] == 409
    assert srv.get("/up/", method="PUT", headers={"Content-Length": "1"}, body=b"x")[0] == 409
    (site / "www" / ".ymawky-tmp-999").write_bytes(b"half-written")  # made after start-up's sweep
    assert srv.get("/.ymawky-tmp-999", method="PUT", headers={"Content-Length": "1"}, body=b"x")[0] == 403
    assert (site / "www" / ".ymawky-tmp-999").read_bytes() == b"half-written"
    assert not (site / "www" / "up" / "x.txt").exists()


def test_put_with_expect_100_continue(srv: Server, site: Path) -> None:
    (site / "www" / "up" / "cont.txt").unlink(missing_ok=True)
    with srv.connect() as s:
        s.sendall(
            b"PUT /up/cont.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n"
        )
        buf = bytearray()
        code, _, _ = read_response(s, buf)
        assert code == 100
        s.sendall(b"data")
        code, _, _ = read_response(s, buf)
    assert code == 201
    assert (site / "www" / "up" / "cont.txt").read_bytes() == b"data"


def test_put_client_that_stops_early_leaves_the_old_file(srv: Server, site: Path) -> None:
    old = site / "www" / "up" / "old.txt"
    with srv.connect() as s:
        s.sendall(b"PUT /up/old.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial")
        time.sleep(0.3)
    time.sleep(0.5)
    assert old.read_text() == "old contents"
    assert not [p for p in old.parent.iterdir() if p.name.startswith(".ymawky-tmp")]
    assert srv.get("/up/old.txt")[2] == b"old contents"


# ---------------------------------------------------------------- DELETE, OPTIONS


def test_delete(srv: Server, site: Path) -> None:
    victim = site / "www" / "up" / "victim.txt"
    victim.write_text("bye")
    assert srv.get("/up/victim.txt", method="DELETE")[0] == 204
    assert not victim.exists()
    assert srv.get("/up/victim.txt", method="DELETE")[0] == 404
    assert srv.get("/list/a%20dir", method="DELETE")[0] == 409
    assert (site / "www" / "list" / "a dir").is_dir()
    assert srv.get("/link.txt", method="DELETE")[0] == 403
    assert srv.get("/linkdir/secret.txt", method="DELETE")[0] == 403
    assert srv.get("/link.txt", method="PUT", headers={"Content-Length": "1"}, body=b"x")[0] == 403
    assert (site / "secret.txt").read_text() == "outside www"
    assert (site / "www" / "link.txt").is_symlink()


@pytest.mark.parametrize("target", ["/", "*", "/hello.txt", "/no/such"])
def test_options(srv: Server, target: str) -> None:
    code, h, body = raw(srv, f"OPTIONS {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (code, body) == (204, b"")
    assert h["allow"] == "GET, HEAD, PUT, DELETE, OPTIONS"


def test_star_is_only_for_options(srv: Server) -> None:
    assert raw(srv, "GET * HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 400


# ---------------------------------------------------------------- error pages


def test_error_page_from_err_folder(srv: Server, site: Path) -> None:
    code, h, body = srv.get("/missing.html")
    assert code == 404
    assert body == (site / "err" / "404.html").read_bytes()
    assert h["content-length"] == str(len(body)) and h["content-type"] == "text/html; charset=utf-8"


def test_built_in_error_page_without_err_folder(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    server = Server(root=tmp_path)
    try:
        code, h, body = server.get("/missing.html")
        head_code, head_h, head_body = server.get("/missing.html", method="HEAD")
    finally:
        server.stop()
    assert code == 404 and b"<h1>404 Not Found</h1>" in body
    assert h["content-length"] == str(len(body))
    assert (head_code, head_body) == (404, b"") and head_h["content-length"] == str(len(body))


# ---------------------------------------------------------------- connections


def test_keep_alive_and_pipelining_answer_in_order(srv: Server) -> None:
    with srv.connect() as s:
        s.sendall(
            b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /range.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        buf = bytearray()
        got = [read_response(s, buf)[::2] for _ in range(2)]
        got.append(read_response(s, buf, head_only=True)[::2])
        got.append(read_response(s, buf)[0:1])
        s.sendall(b"GET /hehe..txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        last = read_response(s, buf)
        assert closed_within(s, 5)
    assert got[:3] == [(200, b"hello from ymawky\n"), (200, b"eff"), (200, b"")]
    assert got[3] == (404,)
    assert last[0] == 200 and last[1]["connection"] == "close" and last[2] == b"hehe"


def test_http10_closes_after_the_response(srv: Server) -> None:
    with srv.connect() as s:
        s.sendall(b"GET /f.txt HTTP/1.0\r\n\r\n")
        buf = bytearray()
        code, h, body = read_response(s, buf)
        assert (code, body) == (200, b"eff") and h["connection"] == "close"
        assert closed_within(s, 5)


def test_idle_keep_alive_closes_after_5_seconds(srv: Server) -> None:
    with srv.connect() as s:
        s.sendall(b"GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(s, bytearray())
        t0 = time.monotonic()
        assert closed_within(s, 9)
        assert 4.0 <= time.monotonic() - t0 <= 8.0


def test_slow_clients_get_408_and_a_slow_put_changes_nothing(srv: Server, site: Path) -> None:
    """Three slow clients at once (so the 10 s deadlines run side by side): no byte at all,
    a head that never ends, and a PUT body that stops coming."""
    old = site / "www" / "up" / "slow.txt"
    old.write_text("before the slow PUT")
    silent, partial, put = srv.connect(timeout=20), srv.connect(timeout=20), srv.connect(timeout=20)
    try:
        t0 = time.monotonic()
        partial.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")
        put.sendall(b"PUT /up/slow.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
        results = {}
        for name, sock in (("silent", silent), ("partial", partial), ("put", put)):
            code, _, body = read_response(sock, bytearray())
            results[name] = (code, round(time.monotonic() - t0))
            assert closed_within(sock, 5), name
    finally:
        for sock in (silent, partial, put):
            sock.close()
    assert {name: code for name, (code, _) in results.items()} == {"silent": 408, "partial": 408, "put": 408}
    assert all(9 <= secs <= 14 for _, secs in results.values()), results
    assert old.read_text() == "before the slow PUT"
    assert not [p for p in old.parent.iterdir() if p.name.startswith(".ymawky-tmp")]


def test_http_client_keep_alive(srv: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        for path in ("/hello.txt", "/f.txt", "/index.html"):
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.status == 200
            resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------- access log


def test_access_log_in_common_log_format(site: Path) -> None:
    server = Server(root=site)
    try:
        server.get("/hello.txt")
        server.get("/missing")
        time.sleep(0.2)
    finally:
        _, out, _ = server.stop()
    lines = [line for line in out.splitlines() if line.startswith("127.0.0.1 ")]
    assert len(lines) == 2
    import re

    clf = re.compile(r'^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(.*)" (\d{3}) (\d+|-)$')
    m1, m2 = (clf.match(line) for line in lines)
    assert m1 and m1.group(1) == "GET /hello.txt HTTP/1.1" and m1.group(2) == "200" and m1.group(3) == "18"
    assert m2 and m2.group(2) == "404"


# ---------------------------------------------------------------- processes


def test_max_procs_answers_503_from_the_parent(site: Path) -> None:
    server = Server(root=site)
    held = []
    try:
        for _ in range(64):
            held.append(server.connect())
        time.sleep(1.0)
        code, h, body = server.get("/hello.txt")
        assert code == 503
        assert h["retry-after"] == "1" and len(body) == int(h["content-length"])
        for s in held:
            s.close()
        held.clear()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if server.get("/hello.txt")[0] == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail("server did not recover after the connections closed")
    finally:
        for s in held:
            s.close()
        server.stop()


def test_restart_on_the_same_port_right_away(site: Path) -> None:
    first = Server(root=site)
    with first.connect() as s:
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        read_response(s, bytearray())  # the server closed first: its side is in TIME_WAIT
    first.stop()
    second = Server(root=site, port=first.port)  # SO_REUSEADDR lets it bind at once
    try:
        assert second.get("/hello.txt")[0] == 200
    finally:
        second.stop()


# ---------------------------------------------------------------- large files


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to watch memory")
def test_one_gib_file_streams_with_constant_memory(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    big = tmp_path / "www" / "big.bin"
    with big.open("wb") as f:  # sparse: 1 GiB of zeros and a marker at the end
        f.seek((1 << 30) - 8)
        f.write(b"THE-END!")
    server = Server(root=tmp_path)
    server.get("/")  # warm: what serving itself costs is in the baseline
    base = peak = _rss_kib(server.proc.pid)
    try:
        with server.connect(timeout=60) as s:
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(65536)
            head, _, rest = head.partition(b"\r\n\r\n")
            assert b"Content-Length: 1073741824" in head
            got, tail = len(rest), rest[-8:]
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
                tail = (tail + chunk)[-8:]
                if got % (64 << 20) < len(chunk):
                    peak = max(peak, _rss_kib(server.proc.pid))
    finally:
        server.stop()
    assert got == 1 << 30 and tail == b"THE-END!"
    # the body goes host-side (sendfile): the emulator, whose thread serves it, stays flat
    assert 0 < base <= peak < base + 64 * 1024, f"the emulator grew from {base} to {peak} KiB sending 1 GiB"
