"""ymawky.s keeps the register convention stated at its top, routine by routine.

The headers are checked against the bytes Keystone makes (decoded by
Capstone, tests/ymawky_regs.py), so a header cannot drift from its code.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
import ymawky_regs as regs
from server import build_with_apple_toolchain

# main and accept_loop never return: nothing is clobbered for a caller
NEVER_RETURN = {"_main", "accept_loop"}
# the routine that answers each method (HEAD is GET without the body)
ANSWERS = {"M_GET": "do_get", "M_HEAD": "do_get", "M_PUT": "do_put", "M_DELETE": "do_delete", "M_OPTIONS": "do_options"}
# the routines that set the connection's registers
CONNECTION = {"_main": {28}, "accept_loop": {19}, "handle_connection": {19, 28}}


@pytest.fixture(scope="module")
def routines() -> dict[str, regs.Routine]:
    return regs.routines()


def test_every_routine_has_a_header_with_in_out_and_clobbers(routines: dict[str, regs.Routine]) -> None:
    heads = regs.headers()
    assert len(routines) > 80
    for name in routines:
        assert name in heads, f"{name} has no // --- {name} --- header"
        text = heads[name].text
        assert "in:" in text and "out:" in text, name
        assert "clobbers:" in text or name in NEVER_RETURN, name


def test_each_header_names_exactly_the_registers_its_code_changes() -> None:
    wrong = {n: d for n, d in regs.differences().items() if n not in NEVER_RETURN}
    report = [
        f"{n}: the code changes {regs.show(code)}, the header says {regs.show(said)}"
        for n, (code, said) in wrong.items()
    ]
    assert not report, "\n".join(report)


def test_a_header_that_leaves_out_a_register_is_caught() -> None:
    text = regs.SOURCE.read_text(encoding="utf-8")
    line = "//   out: x0 = 1 yes, 0 no                clobbers: x1, x9-x11\nstarts_with:"
    assert line in text
    heads = regs.headers(text.replace(line, line.replace("x1, x9-x11", "x9-x11")))
    assert regs.differences(heads)["starts_with"] == ({1, 9, 10, 11}, frozenset({9, 10, 11}))


def test_only_the_connection_routines_change_x19_and_x28(routines: dict[str, regs.Routine]) -> None:
    own = {n: (r.writes - (r.stored_first & r.loaded)) & {19, 28} for n, r in routines.items()}
    assert {n: w for n, w in own.items() if w} == CONNECTION


def test_nothing_uses_x17_or_x18(routines: dict[str, regs.Routine]) -> None:
    assert not [n for n, r in routines.items() if r.touches_x18]
    assert not [n for n, r in routines.items() if 17 in r.writes]


def test_a_routine_that_calls_another_makes_a_frame_first(routines: dict[str, regs.Routine]) -> None:
    frameless = {n for n, r in routines.items() if r.has_call and not r.frame}
    assert frameless == NEVER_RETURN


def test_no_routine_reads_a_register_its_callee_just_changed() -> None:
    assert regs.stale_reads() == []


def test_method_routines_answer_each_method_by_its_number() -> None:
    a = regs.assembly()
    m = regs.methods()
    assert set(m) == set(ANSWERS)
    assert regs.dispatch_targets(a) == {m[name]: a.symbols[r] for name, r in ANSWERS.items()}


def test_characters_are_named_not_numbered() -> None:
    """An immediate that is a printable character on a byte register is a CH_* constant."""
    code = [line.split("//")[0] for line in regs.SOURCE.read_text(encoding="utf-8").splitlines()]
    bare = re.compile(r"^\s+(cmp|mov|sub|add|orr)\s+w\d+,.*#(0x[2-7][0-9a-f]|3[2-9]|[4-9]\d|1[01]\d|12[0-6])\b")
    assert [line.strip() for line in code if bare.match(line)] == []


def test_each_local_helper_names_the_registers_it_changes_and_makes_its_frame() -> None:
    found = regs.helpers()
    assert set(found) >= {"Lparse_range_number", "Lsend_error_title", "Lformat_imf_date_clock"}
    for name, helper in found.items():
        h = regs.helper_header(name)
        assert "in:" in h.text and "out:" in h.text, name
        assert (regs.show(helper.writes - h.outs), name) == (regs.show(h.clobbers - h.outs), name)
        assert helper.frame or not helper.has_call, name


def wrong_ins(heads: dict[str, regs.Header]) -> dict[str, tuple[str, str]]:
    """Routines whose in: differs from what the code reads first (x19, x28 aside: every routine may)."""
    connection = {19, 28}
    return {
        n: (regs.show(reads - connection), regs.show(heads[n].ins - connection))
        for n, reads in regs.live_in().items()
        if reads - connection != heads[n].ins - connection
    }


def test_each_header_names_exactly_the_registers_its_code_takes() -> None:
    assert wrong_ins(regs.headers()) == {}


def test_a_header_that_leaves_out_an_argument_is_caught() -> None:
    text = regs.SOURCE.read_text(encoding="utf-8")
    line = "//   in:  x0 = value, x1 = length, x2 = file size\n"
    assert text.count(line) == 1
    heads = regs.headers(text.replace(line, "//   in:  x0 = value, x1 = length\n"))
    assert wrong_ins(heads) == {"parse_range": ("x0-x2", "x0, x1")}


def test_method_routines_resolve_the_same_in_the_apple_build(tmp_path: Path) -> None:
    """clang writes the table's differences as relocations; ld64.lld must resolve them to the routines."""
    import lief

    exe = build_with_apple_toolchain(tmp_path)
    binary = lief.parse(str(exe))
    symbols = {s.name: s.value for s in binary.symbols}
    at = symbols["method_routines"]
    m = regs.methods()
    raw = bytes(binary.get_content_from_virtual_address(at, 4 * (max(m.values()) + 1)))
    got = {v: at + struct.unpack_from("<i", raw, 4 * v)[0] for v in m.values()}
    want = {
        "M_GET": "do_get",
        "M_HEAD": "do_get",
        "M_PUT": "do_put",
        "M_DELETE": "do_delete",
        "M_OPTIONS": "do_options",
    }
    assert got == {m[name]: symbols[r] for name, r in want.items()}
