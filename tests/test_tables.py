"""The tables of ymawky.s read back through the field names section 1 declares.

Each table is decoded from the Keystone bytes with its .equ offsets and entry
size (MT_*, HT_*, STT_*, ET_*, MX_*, HE_*), so a name that does not describe
its table, or an entry of the wrong size, shows here as garbage.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

import pytest
import ymawky_regs as regs

from emu.assembler import Assembly

_EQU = re.compile(r"^\.equ\s+(\w+),\s*(0x[0-9a-f]+|\d+)\s*(?://.*)?$", re.M)


@pytest.fixture(scope="module")
def equ() -> dict[str, int]:
    return {name: int(value, 0) for name, value in _EQU.findall(regs.SOURCE.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def asm() -> Assembly:
    return regs.assembly()


def entries(a: Assembly, table: str, size: int) -> Iterator[bytes]:
    at = a.symbols[table] - a.base
    while True:
        yield a.code[at : at + size]
        at += size


def u8(entry: bytes, off: int) -> int:
    return entry[off]


def u16(entry: bytes, off: int) -> int:
    return struct.unpack_from("<H", entry, off)[0]


def text(a: Assembly, block: str, off: int, n: int) -> str:
    at = a.symbols[block] - a.base + off
    return a.code[at : at + n].decode("ascii")


def test_method_table_names_each_method_once(asm: Assembly, equ: dict[str, int]) -> None:
    found = {}
    for e in entries(asm, "method_table", equ["MT_SIZE"]):
        if not u8(e, equ["MT_LEN"]):
            break
        found[text(asm, "Lmethod_names", u16(e, equ["MT_NAME"]), u8(e, equ["MT_LEN"]))] = u8(e, equ["MT_METHOD"])
    assert found == {m: equ[f"M_{m}"] for m in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")}


def test_header_table_keeps_each_header_in_its_request_field(asm: Assembly, equ: dict[str, int]) -> None:
    found = {}
    for e in entries(asm, "header_table", equ["HT_SIZE"]):
        if not u8(e, equ["HT_LEN"]):
            break
        found[text(asm, "Lheader_names", u16(e, equ["HT_NAME"]), u8(e, equ["HT_LEN"]))] = u8(e, equ["HT_FIELD"])
    assert found == {
        "host": equ["REQ_H_HOST"],
        "content-length": equ["REQ_H_CLEN"],
        "transfer-encoding": equ["REQ_H_TE"],
        "connection": equ["REQ_H_CONN"],
        "expect": equ["REQ_H_EXPECT"],
        "range": equ["REQ_H_RANGE"],
        "if-none-match": equ["REQ_H_INM"],
        "if-modified-since": equ["REQ_H_IMS"],
        "if-range": equ["REQ_H_IFRANGE"],
    }


def test_status_table_has_a_reason_for_every_status_the_code_sends(asm: Assembly, equ: dict[str, int]) -> None:
    found = {}
    for e in entries(asm, "status_table", equ["STT_SIZE"]):
        status = u16(e, equ["STT_STATUS"])
        found[status] = text(asm, "Lstatus_texts", u16(e, equ["STT_TEXT"]), u16(e, equ["STT_LEN"]))
        if not status:
            break
    assert {v for k, v in equ.items() if k.startswith("HTTP_")} | {0} == set(found)
    assert (found[200], found[404], found[416], found[0]) == ("OK", "Not Found", "Range Not Satisfiable", "Unknown")


def test_errno_table_ends_with_the_fallback(asm: Assembly, equ: dict[str, int]) -> None:
    found = {}
    for e in entries(asm, "errno_table", equ["ET_SIZE"]):
        found[u16(e, equ["ET_ERRNO"])] = u16(e, equ["ET_STATUS"])
        if not u16(e, equ["ET_ERRNO"]):
            break
    assert found[equ["ENOENT"]] == found[equ["ENOTDIR"]] == 404
    assert found[equ["ELOOP"]] == found[equ["EACCES"]] == 403
    assert found[0] == 500


def test_mime_table_pairs_extensions_with_types(asm: Assembly, equ: dict[str, int]) -> None:
    found = {}
    for e in entries(asm, "mime_table", equ["MX_SIZE"]):
        if not u8(e, equ["MX_EXT_LEN"]):
            break
        ext = text(asm, "Lmime_names", u16(e, equ["MX_EXT"]), u8(e, equ["MX_EXT_LEN"]))
        found[ext] = text(asm, "Lmime_names", u16(e, equ["MX_TYPE"]), u8(e, equ["MX_TYPE_LEN"]))
    assert len(found) > 40
    assert (found["html"], found["png"], found["json"]) == ("text/html; charset=utf-8", "image/png", "application/json")


def test_html_escapes_give_each_special_character_its_reference(asm: Assembly, equ: dict[str, int]) -> None:
    found = {}
    for e in entries(asm, "html_escapes", equ["HE_SIZE"]):
        if not u8(e, equ["HE_CHAR"]):
            break
        found[chr(u8(e, equ["HE_CHAR"]))] = e[equ["HE_TEXT"] : equ["HE_TEXT"] + u8(e, equ["HE_LEN"])].decode()
    assert found == {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
