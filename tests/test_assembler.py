"""emu/assembler.py: bytes, labels, line map, file:line errors, crash isolation, lint, cache.

Keystone 0.9.2 facts these tests lean on are in /work/shared/notes/keystone-aarch64.md.
Only sources known not to crash or hang Keystone are assembled in-process (``ks_bytes``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keystone import KS_ARCH_ARM64, KS_MODE_LITTLE_ENDIAN, Ks

import emu.assembler as assembler
from emu.assembler import DEFAULT_BASE, Assembly, AssemblyError, assemble_file, assemble_text, cache_dir

ROOT = Path(__file__).resolve().parent.parent
NOP = bytes.fromhex("1f2003d5")


def ks_bytes(src: str, base: int = DEFAULT_BASE) -> bytes:
    """What Keystone itself gives for ``src`` (only for sources that cannot crash it)."""
    enc, _ = Ks(KS_ARCH_ARM64, KS_MODE_LITTLE_ENDIAN).asm(src.encode(), base, as_bytes=True)
    return enc or b""


def asm(src: str, base: int = DEFAULT_BASE) -> Assembly:
    return assemble_text(src, "t.s", base, cache=False)


def error_of(src: str, path: str = "t.s") -> AssemblyError:
    with pytest.raises(AssemblyError) as info:
        assemble_text(src, path, cache=False)
    return info.value


def assert_error_at(src: str, line: int, *fragments: str) -> AssemblyError:
    e = error_of(src)
    assert str(e).startswith(f"t.s:{line}: "), str(e)
    assert e.path == "t.s" and e.line == line
    for fragment in fragments:
        assert fragment in e.message, e.message
    return e


def quad(a: Assembly, addr: int) -> int:
    off = addr - a.base
    return int.from_bytes(a.code[off : off + 8], "little")


@pytest.fixture
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("YMAWKY_CACHE_DIR", str(d))
    return d


@pytest.fixture
def ks_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every source handed to Keystone during the test."""
    calls: list[bytes] = []
    real = assembler._ks_asm

    def counting(source: bytes, base: int, timeout: float | None = None) -> bytes:
        calls.append(source)
        return real(source, base) if timeout is None else real(source, base, timeout)

    monkeypatch.setattr(assembler, "_ks_asm", counting)
    yield calls


# ---------------------------------------------------------------- bytes, labels, lines

PROGRAM = """\
// a small program: every line's offset is written next to it
.equ COUNT, 3
.macro TWICE reg
    add \\reg, \\reg, #1
    add \\reg, \\reg, #1
.endm
start:                          // 0x00
    b       later               // 0x00  forward reference
    nop                         // 0x04
mid: add x0, x0, #COUNT         // 0x08  label and instruction on one line
    TWICE   x1                  // 0x0c, 0x10
    adr     x2, msg             // 0x14
    ldr     x3, =later          // 0x18  pool at the end
.p2align 4                      // pad 0x1c..0x20
table:  .quad later - start     // 0x20
        .quad start             // 0x28  absolute
msg:    .ascii "hello"          // 0x30..0x35
after_msg:                      // 0x35
        .byte 1                 // 0x35
after_byte: .p2align 2          // 0x36, padded to 0x38
later:  ret                     // 0x38
a: b:   nop                     // 0x3c  two labels on one line
"""
PROGRAM_LABELS = {
    "start": 0x00,
    "mid": 0x08,
    "table": 0x20,
    "msg": 0x30,
    "after_msg": 0x35,
    "after_byte": 0x36,
    "later": 0x38,
    "a": 0x3C,
    "b": 0x3C,
}


@pytest.mark.parametrize("base", [DEFAULT_BASE, 0x4000, 0])
def test_bytes_equal_keystone(base: int) -> None:
    a = asm(PROGRAM, base)
    assert a.code == ks_bytes(PROGRAM, base)
    assert a.base == base and a.path == "t.s"
    assert len(a.code) == 0x48  # 0x40 of code and data, then the 8-byte pool


def test_symbols_at_hand_computed_offsets() -> None:
    a = asm(PROGRAM)
    assert a.symbols == {name: DEFAULT_BASE + off for name, off in PROGRAM_LABELS.items()}
    assert quad(a, a.symbols["table"]) == 0x38  # later - start
    assert quad(a, a.symbols["table"] + 8) == DEFAULT_BASE  # .quad start
    assert a.code[0x30:0x36] == b"hello\x01"
    assert quad(a, DEFAULT_BASE + 0x40) == a.symbols["later"]  # the literal pool entry


def test_line_map_gives_every_instruction_its_line() -> None:
    a = asm(PROGRAM)
    lines = PROGRAM.split("\n")
    expect = {0x00: 8, 0x04: 9, 0x08: 10, 0x0C: 11, 0x10: 11, 0x14: 12, 0x18: 13, 0x38: 21, 0x3C: 22}
    for off, line in expect.items():
        assert a.line_of(DEFAULT_BASE + off) == line, (hex(off), lines[line - 1])
        assert a.line_of(DEFAULT_BASE + off + 3) == line  # any byte of the instruction
    # the macro's two instructions both map to the invoking line, not to the body lines 4-5
    assert "TWICE" in lines[11 - 1]
    # data and padding map to the line that emits them
    assert a.line_of(DEFAULT_BASE + 0x1C) == 14  # .p2align 4 padding
    assert a.line_of(DEFAULT_BASE + 0x20) == 15
    assert a.line_of(DEFAULT_BASE + 0x28) == 16
    assert a.line_of(DEFAULT_BASE + 0x34) == 17
    assert a.line_of(DEFAULT_BASE + 0x35) == 19  # .byte 1
    assert a.line_of(DEFAULT_BASE + 0x37) == 20  # .p2align 2 padding
    # outside the image
    for addr in (DEFAULT_BASE - 4, DEFAULT_BASE - 1, DEFAULT_BASE + len(a.code), DEFAULT_BASE + 0x1000, 0):
        assert a.line_of(addr) is None


def test_line_map_of_blocks() -> None:
    src = "\n".join(
        [
            "    nop",  # 1
            "rep: .rept 3",  # 2  label on a block opener
            "    add x0, x0, #1",  # 3
            ".endr",  # 4
            ".if 1",  # 5
            "yes: mov x1, #1",  # 6
            ".else",  # 7
            "no: mov x1, #2",  # 8
            ".endif",  # 9
            ".ifdef APPLE",  # 10
            "apple: adrp x0, yes@PAGE",  # 11
            ".else",  # 12
            "ks: mov x2, #3",  # 13
            ".endif",  # 14
            "    ret",  # 15
        ]
    )
    a = asm(src)
    assert a.code == ks_bytes(src)
    assert len(a.code) == 7 * 4
    assert [a.line_of(DEFAULT_BASE + 4 * i) for i in range(7)] == [1, 2, 2, 2, 6, 13, 15]
    # labels in a taken branch are known; those in a skipped one are not
    assert a.symbols == {"rep": DEFAULT_BASE + 4, "yes": DEFAULT_BASE + 16, "ks": DEFAULT_BASE + 20}


def test_comment_stripping() -> None:
    quoted = "; // /* adrp :lo12: .text"
    src = "\n".join(
        [
            "    mov w0, #'\"'    // a quote as a character literal; not a string",  # 1
            '    .ascii "a\\\\"   // ends in an escaped backslash; adrp .text',  # 2
            f'    .ascii "{quoted}"',  # 3  forbidden forms inside a string
            "    .p2align 2",  # 4
            "    /* a comment",  # 5
            "    spanning: lines with adrp, .text and ; and 1:",  # 6
            "    ends here */ nop",  # 7
            "# a line comment with .text ; adrp",  # 8
            "    nop /* inline */ // trailing",  # 9
            "after: /* c */ nop",  # 10
            "// é and ü in a comment",  # 11
            '    .ascii "é"',  # 12
        ]
    )
    a = asm(src)
    assert a.code == ks_bytes(src)
    assert a.code[:4] == ks_bytes("mov w0, #0x22")
    assert a.code[4 : 6 + len(quoted)] == b"a\\" + quoted.encode()
    assert a.code.endswith("é".encode())
    after = DEFAULT_BASE + (6 + len(quoted) + 3) // 4 * 4 + 8
    assert "spanning" not in a.symbols and a.symbols == {"after": after}
    assert [a.line_of(after - 8), a.line_of(after - 4), a.line_of(after), a.line_of(after + 4)] == [7, 9, 10, 12]


def test_utf8_in_comment_and_string_from_file(tmp_path: Path) -> None:
    f = tmp_path / "u.s"
    f.write_text('// café: é in a comment\nmsg: .asciz "naïve"\n', encoding="utf-8")
    a = assemble_file(f, cache=False)
    assert a.code == "naïve\0".encode()
    assert a.path == "u.s" and a.symbols == {"msg": DEFAULT_BASE}
    f.write_bytes(b"nop\n// caf\xe9 in Latin-1\n")
    e = pytest.raises(AssemblyError, assemble_file, f, cache=False).value
    assert str(e).startswith("u.s:2: ") and "UTF-8" in e.message


def test_globl_lines_are_stripped() -> None:
    src = "\n".join(
        [
            ".globl _main",  # 1
            ".global msg",  # 2
            "_main: adr x0, msg",  # 3
            "    ldr x1, =msg",  # 4
            "    ret",  # 5
            ".private_extern msg_len",  # 6
            'msg: .ascii "hi!"',  # 7
            "msg_end:",  # 8
            ".p2align 3",  # 9
            "msg_len: .quad msg_end - msg",  # 10
            "msg_at:  .quad msg",  # 11
        ]
    )
    a = asm(src)
    msg = DEFAULT_BASE + 12
    assert a.symbols["msg"] == msg and a.symbols["msg_len"] == DEFAULT_BASE + 16
    assert quad(a, a.symbols["msg_len"]) == 3
    assert quad(a, a.symbols["msg_at"]) == msg  # 0 if Keystone had seen the .globl
    assert quad(a, DEFAULT_BASE + 32) == msg  # the ldr's pool entry
    assert ks_bytes(src)[24:32] == bytes(8)  # what Keystone alone would give
    without = "\n".join("" if ".glob" in line or ".private" in line else line for line in src.split("\n"))
    assert a.code == ks_bytes(without)
    assert [a.line_of(DEFAULT_BASE + off) for off in (0, 4, 8, 12, 16, 24)] == [3, 4, 5, 7, 10, 11]


# ---------------------------------------------------------------- errors at file:line


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("frobnicate x0, x1", "unknown instruction"),
        ("b nowhere", "undefined symbol"),
        ("add x0, x0, #5000", "out of range"),
        ("movz x0, #1, lsl #7", "out of range"),
        ("add x0, x1", "invalid operand"),
        ("svc", "invalid operand"),
        (".byte 300", "out of range"),
        ("    mov x0, #UNDEFINED_CONSTANT", ""),
        # Keystone gives up on these without an error: no bytes and no statements
        ("    mov x0, #0o077", "0o17"),
        ("    mov x0, #1_000", "cannot read"),
    ],
)
def test_bad_line_is_reported_at_its_line(bad: str, fragment: str) -> None:
    src = "start:\n    nop\n    b start\n" + bad + "\n    nop\nend: ret\n"
    e = assert_error_at(src, 4, fragment)
    assert e.message and "KS_ERR" not in e.message
    assert str(e).endswith("\n    " + bad.strip())


def test_bad_line_in_macro_body_is_reported_at_the_invocation() -> None:
    src = "\n".join(
        [
            ".macro SYSCALL num",  # 1
            "    mov x16, #\\num",  # 2
            "    svc #0x80",  # 3
            ".endm",  # 4
            ".macro BROKEN",  # 5
            "    nop",  # 6
            "    frobnicate x0",  # 7
            "    nop",  # 8
            ".endm",  # 9
            "    SYSCALL 4",  # 10
            "    BROKEN",  # 11
        ]
    )
    e = assert_error_at(src, 11, "unknown instruction", "macro BROKEN, line 7: frobnicate x0")
    assert e.text.strip() == "BROKEN"
    # a good body with a bad argument: still the invocation, naming the body line it breaks
    assert_error_at(
        "\n".join(src.split("\n")[:4] + ["nop", "    SYSCALL 0x123456"]), 6, "out of range", "macro SYSCALL, line 2"
    )


def test_bad_line_in_nested_macro_names_the_outer_body_line() -> None:
    src = "\n".join(
        [
            ".ifdef APPLE",  # 1
            ".macro LOAD_ADDR reg, sym",  # 2
            "    adrp \\reg, \\sym@PAGE",  # 3
            ".endm",  # 4
            ".else",  # 5
            ".macro LOAD_ADDR reg, sym",  # 6
            "    adr \\reg, \\sym",  # 7
            ".endm",  # 8
            ".endif",  # 9
            ".macro SEND, fd, text",  # 10  GAS allows a comma after the name
            "    mov x0, \\fd",  # 11
            "    LOAD_ADDR x1, \\text",  # 12
            ".endm",  # 13
            'msg: .ascii "hi"',  # 14
            ".p2align 2",  # 15
            "    LOAD_ADDR x2, msg",  # 16
            "    SEND x19, msg",  # 17
            "    SEND x19, nowhere",  # 18
        ]
    )
    assert_error_at(src, 18, "undefined symbol", "macro SEND, line 12: LOAD_ADDR x1, \\text")
    assert_error_at(src.replace("adr \\reg", "adrx \\reg"), 16, "unknown instruction", "macro LOAD_ADDR, line 7: adrx")
    ok = asm("\n".join(src.split("\n")[:17]))
    assert [ok.line_of(ok.base + off) for off in (4, 8, 12)] == [16, 17, 17]


def test_bad_line_in_rept_or_if_block_is_reported_at_that_line() -> None:
    assert_error_at("nop\n.rept 2\n  nop\n  frobnicate\n  nop\n.endr\n", 4, "unknown instruction")
    assert_error_at("nop\n.if 1\n  nop\n.else\n  nop\n.endif\n.if 1\n  b nowhere\n.endif\n", 8, "undefined symbol")


def test_duplicate_label_and_unclosed_block() -> None:
    assert_error_at("a: nop\nb: nop\na: nop\n", 3, "already defined on line 1")
    assert_error_at("nop\n.rept 2\nnop\n", 2, ".endr")
    assert_error_at("nop\n.if 1\nnop\n", 2, ".endif")


def big_source(n: int, bad_at: int | None) -> list[str]:
    """n lines with forward and backward branches; line bad_at (1-based) is wrong."""
    last = n - (n - 5) % 10
    lines = []
    for i in range(1, n + 1):
        if i == bad_at:
            lines.append("    frobnicate x0")
        elif i % 10 == 5:
            lines.append(f"L{i}: b L{min(i + 500, last)}" if i % 20 == 5 else f"L{i}: b L{max(i - 500, 5)}")
        elif i % 7 == 0:
            lines.append(f"    // comment {i}")
        else:
            lines.append(f"    add x{i % 28}, x{i % 28}, #{i % 4096}")
    return lines


@pytest.mark.parametrize("bad_at", [1, 1234, 2999, 3000])
def test_bisection_in_a_large_source(bad_at: int, ks_calls: list[bytes]) -> None:
    src = "\n".join(big_source(3000, bad_at)) + "\n"
    t0 = time.monotonic()
    e = error_of(src, "big.s")
    took = time.monotonic() - t0
    assert str(e).startswith(f"big.s:{bad_at}: unknown instruction\n    frobnicate x0")
    assert took < 5.0
    assert len(ks_calls) <= 1 + 12  # the whole source, then log2(3000) prefixes


def test_large_source_assembles() -> None:
    lines = big_source(3000, None)
    a = asm("\n".join(lines))
    insns = [n for n, line in enumerate(lines, 1) if "//" not in line]
    assert len(a.code) == 4 * len(insns)
    assert {a.line_of(a.base + 4 * k) for k in range(len(insns))} == set(insns)
    assert all(a.line_of(a.base + 4 * k) == n for k, n in enumerate(insns))
    assert a.symbols["L15"] == a.base + 4 * insns.index(15)
    assert len(a.symbols) == 300


# ---------------------------------------------------------------- Keystone crashes and hangs


def test_ks_asm_survives_a_segfault() -> None:
    pid = os.getpid()
    with pytest.raises(assembler._KsFailure, match="SIGSEGV"):
        assembler._ks_asm(b".text\nnop\n", DEFAULT_BASE)
    assert os.getpid() == pid
    assert assembler._ks_asm(b"nop\n", DEFAULT_BASE) == NOP


@pytest.mark.parametrize(
    ("src", "line", "fragment"),
    [
        # past 2 MiB Keystone aborts with "LLVM ERROR: fixup value out of range" (exit 1)
        ("    adr x0, far\n    .zero 0x300000\nfar: nop\n", 2, "out of range"),
        ("    b.eq far\n    .zero 0x300000\nfar: nop\n", 2, "out of range"),
        ("    ldr x0, =far\n    nop\n    .zero 0x300000\nfar: nop\n", 3, "out of range"),
        ("near: nop\n    .zero 0x300000\n    cbz x0, near\n", 3, "out of range"),
    ],
)
def test_keystone_abort_becomes_an_error(src: str, line: int, fragment: str) -> None:
    assert_error_at(src, line, fragment)
    assert asm("nop").code == NOP  # and this process goes on


@pytest.mark.parametrize(
    ("src", "line", "fragment"),
    [
        ("nop\n.text\nnop\n", 2, "crashed (SIGSEGV)"),  # segfault
        ("nop\nadd x0, x0, :lo12:msg\nmsg: nop\n", 2, "offset out of range"),  # LLVM ERROR at a high address
    ],
)
def test_crash_past_the_lint_becomes_an_error(
    src: str, line: int, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assembler, "_FORBIDDEN", [])
    assert_error_at(src, line, fragment)
    assert asm("nop").code == NOP


def children() -> list[int]:
    """Processes whose parent is this one (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_keystone_hang_becomes_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assembler, "KS_TIMEOUT", 0.5)
    before = children()
    t0 = time.monotonic()
    assert_error_at("nop\n.equ N, -1\n.zero N\nnop\n", 3, "did not finish")
    assert time.monotonic() - t0 < 5.0
    if Path("/proc/self/stat").exists():
        assert set(children()) <= set(before)  # the looping worker was ended and reaped (a new one starts on demand)


# ---------------------------------------------------------------- lint of forms Keystone gets wrong

LINTED = [
    ".text",
    ".data",
    ".bss",
    ".section __DATA,__data",
    "fp .req x29",
    ".inst 0xd503201f",
    '.file 1 "t.s"',
    ".loc 1 2",
    ".comm buf, 16",
    ".lcomm buf, 16",
    ".zerofill __DATA,__bss,buf,16",
    '.include "other.s"',
    '.incbin "blob"',
    "adrp x0, msg",
    "add x0, x0, :lo12:msg",
    "ldr x0, [x0, msg@PAGEOFF]",
    "1:",
    "1: nop",
    "mov x0, #1 ; mov x1, #2",
    "nop ; // two statements",
    ".err",
    '.error "no"',
    ".end",
]
LINT_ONLY = ["\\@: nop", ".zero -1", "ADRP x0, msg", ".END"]  # hang or trip Keystone too


@pytest.mark.parametrize("form", LINTED + LINT_ONLY)
def test_lint_refuses_form_with_file_line(form: str, ks_calls: list[bytes]) -> None:
    e = assert_error_at(f"msg: nop\n    nop // fine\n    {form}\n    nop\n", 3)
    assert len(e.message) > 10 and e.text.strip() == form
    assert ks_calls == []  # refused before Keystone could get it wrong
    # a label in front does not hide it
    assert_error_at(f"nop\nlbl: {form}\n", 2)


@pytest.mark.parametrize(
    ("src", "line", "fragment"),
    [
        ('nop\n.ascii "never closed\nnop\n', 2, "unterminated string"),
        ("nop\nnop /* never closed\nnop\n", 2, "never closed"),
        ("nop\n// a \0 in a comment\nnop\n", 2, "NUL"),
    ],
)
def test_lint_refuses_what_hangs_or_truncates(src: str, line: int, fragment: str, ks_calls: list[bytes]) -> None:
    assert_error_at(src, line, fragment)
    assert ks_calls == []


def test_lint_ignores_forms_in_strings_and_comments() -> None:
    src = '.ascii ".text ; adrp :lo12: 1: .req"  // .text ; adrp\n/* .section ; */ nop\n'
    assert asm(src).code == b".text ; adrp :lo12: 1: .req" + NOP


@pytest.mark.parametrize("form", LINTED)
def test_forms_allowed_in_apple_block_not_in_else(form: str) -> None:
    apple = f"nop\n.ifdef APPLE\n    {form}\n.else\n    mov x0, #1\n.endif\nret\n"
    a = asm(apple)
    assert a.code == NOP + ks_bytes("mov x0, #1") + ks_bytes("ret")
    ifndef = f"nop\n.ifndef APPLE\n    mov x0, #1\n.else\n    {form}\n.endif\nret\n"
    assert asm(ifndef).code == a.code
    nested = f".ifdef APPLE\n.if 1\n.macro M\n    {form}\n.endm\n.endif\n.endif\nnop\n"
    assert asm(nested).code == NOP
    assert_error_at(f"nop\n.ifdef APPLE\n    nop\n.else\n    {form}\n.endif\n", 5)
    assert_error_at(f"nop\n.ifndef APPLE\n    {form}\n.else\n    nop\n.endif\n", 3)
    assert_error_at(f"nop\n.ifdef OTHER\n    {form}\n.endif\n", 3)


# ---------------------------------------------------------------- the 1 MiB range trap


def test_image_over_1_mib_is_refused() -> None:
    e = assert_error_at("start: adr x0, far\n    .zero 0x100000\nfar: nop\n", 2, "1 MiB")
    assert "1048584 bytes" in e.message
    # adr across 1.5 MiB: Keystone alone encodes it without error, and wrongly
    src = "adr x0, far\n.zero 0x180000\nfar: nop\n"
    assert len(ks_bytes(src)) == 0x180008
    assert_error_at(src, 2, "more than 1048576")
    assert len(asm("nop\n.zero 0x100000 - 4\n").code) == 1 << 20  # exactly 1 MiB is fine


# ---------------------------------------------------------------- cache

SMALL = 'start: nop\n    b start\nmsg: .ascii "x"\n'


def test_cache_hit_does_not_call_keystone(cache_in: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = assemble_text(SMALL, "a.s")
    assert cache_dir() == cache_in and len(list(cache_in.glob("asm-*.json"))) == 1

    def no_keystone(source: bytes, base: int, timeout: float | None = None) -> bytes:
        raise AssertionError("Keystone called on a cache hit")

    monkeypatch.setattr(assembler, "_ks_asm", no_keystone)
    again = assemble_text(SMALL, "b.s")
    assert (again.code, again.symbols, again.line_addrs, again.line_nums) == (
        first.code,
        first.symbols,
        first.line_addrs,
        first.line_nums,
    )
    assert again.path == "b.s" and again.line_of(first.base + 4) == 2
    with pytest.raises(AssertionError):  # a changed source misses
        assemble_text(SMALL + "nop\n", "a.s")
    with pytest.raises(AssertionError):  # so does another base
        assemble_text(SMALL, "a.s", base=0x4000)
    with pytest.raises(AssertionError):  # and cache=False never looks
        assemble_text(SMALL, "a.s", cache=False)


def test_cache_off_writes_nothing(cache_in: Path) -> None:
    assemble_text(SMALL, cache=False)
    assert not cache_in.exists()


@pytest.mark.parametrize(
    "damage",
    [
        "not json at all",
        '{"base": 1',
        "[1, 2, 3]",
        "{}",
        "flip-code",
        "drop-line",
    ],
)
def test_corrupt_cache_is_ignored_and_rewritten(damage: str, cache_in: Path, ks_calls: list[bytes]) -> None:
    good = assemble_text(SMALL)
    (f,) = cache_in.glob("asm-*.json")
    written = json.loads(f.read_text())
    doc = json.loads(f.read_text())
    if damage == "flip-code":
        doc["code"] = doc["code"].replace(doc["code"][0], "A" if doc["code"][0] != "A" else "B", 1)
        f.write_text(json.dumps(doc))
    elif damage == "drop-line":
        doc["line_nums"].pop()
        f.write_text(json.dumps(doc))
    else:
        f.write_text(damage)
    calls = len(ks_calls)
    again = assemble_text(SMALL)
    assert len(ks_calls) > calls  # assembled afresh
    assert (again.code, again.symbols, again.line_addrs, again.line_nums) == (
        good.code,
        good.symbols,
        good.line_addrs,
        good.line_nums,
    )
    assert json.loads(f.read_text()) == written
    calls = len(ks_calls)
    assemble_text(SMALL)
    assert len(ks_calls) == calls  # and the rewritten file is a hit


def test_unusable_cache_only_costs_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ks_calls: list[bytes]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("YMAWKY_CACHE_DIR", str(blocker / "cache"))  # cannot be created, even by root
    a = assemble_text(SMALL)
    b = assemble_text(SMALL)
    assert a.code == b.code and len(ks_calls) == 4  # two runs each, nothing cached
    assert list(tmp_path.iterdir()) == [blocker]


def test_cache_entry_that_is_a_directory(cache_in: Path) -> None:
    good = assemble_text(SMALL)
    (f,) = cache_in.glob("asm-*.json")
    f.unlink()
    f.mkdir()
    assert assemble_text(SMALL).code == good.code


# ---------------------------------------------------------------- ymawky.s itself


def statement(line: str) -> str:
    """The line without its // comment and leading labels (ymawky.s has no /* */ or ';')."""
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', line).split("//")[0]
    while (m := re.match(r"\s*[A-Za-z_.$][\w.$]*\s*:(?!:)", code)) is not None:
        code = code[m.end() :]
    return code.strip()


def test_ymawky_assembles_with_labels_and_lines() -> None:
    a = assemble_file(ROOT / "ymawky.s", cache=False)
    text = (ROOT / "ymawky.s").read_text(encoding="utf-8")
    lines = text.split("\n")
    assert a.path == "ymawky.s" and a.code and len(a.code) <= assembler.MAX_IMAGE

    # every label outside the APPLE-only branch has an address inside the image
    labels: dict[str, int] = {}
    apple = False
    for n, line in enumerate(lines, 1):
        s = statement(line)
        if s.startswith(".ifdef APPLE"):
            apple = True
        elif s.startswith((".else", ".endif")):
            apple = False
        code = line.split("//")[0]
        while not apple and (m := re.match(r"\s*([A-Za-z_.$][\w.$]*)\s*:(?!:)", code)) is not None:
            labels[m.group(1)] = n
            code = code[m.end() :]
    assert len(labels) > 50 and "_main" in labels
    for name in labels:
        assert name in a.symbols, name
        assert a.base <= a.symbols[name] <= a.base + len(a.code), name
    assert set(a.symbols) == set(labels)

    # the code part: from the start up to the first data directive
    macros = set(re.findall(r"^\s*\.macro\s+(\w+)", text, re.M))
    data_from = next(
        addr
        for addr, n in zip(a.line_addrs, a.line_nums, strict=True)
        if re.match(r"\.(ascii|asciz|string|byte|hword|short|word|long|int|quad|zero|space)\b", statement(lines[n - 1]))
    )
    assert data_from - a.base > 400
    kinds: set[str] = set()
    for addr in range(a.base, data_from, 4):
        n = a.line_of(addr)
        assert n is not None, hex(addr)
        s = statement(lines[n - 1])
        word = s.split()[0] if s else ""
        assert word and (not word.startswith(".") or word in (".ltorg", ".p2align", ".align")), (hex(addr), n, s)
        kinds.add("macro" if word in macros else word if word.startswith(".") else "insn")
    assert {"macro", "insn"} <= kinds

    # a label in the code maps to the first instruction after it
    for name, n in labels.items():
        addr = a.symbols[name]
        if addr >= data_from:
            continue
        at = a.line_of(addr)
        assert at is not None and at >= n, name
        assert all(not statement(lines[k - 1]) for k in range(n + 1, at)), name


def test_ymawky_bytes_equal_keystone_without_globl() -> None:
    text = (ROOT / "ymawky.s").read_text(encoding="utf-8")
    plain = "\n".join("" if re.match(r"\s*\.(globl|global)\b", line) else line for line in text.split("\n"))
    assert assemble_file(ROOT / "ymawky.s", cache=False).code == ks_bytes(plain)
