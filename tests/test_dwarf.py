"""Source lines for debuggers: the DWARF in the Mach-O and in ``OUT.debug``.

Oracles from outside: llvm-dwarfdump (verify, line table, DIEs), llvm-readelf
(the ELF symbol file), gdb-multiarch reading ``OUT.debug`` and lldb reading
the Mach-O.  Expected lines come from ymawky.s itself (where ``do_get:`` is
written) and from the assembler's line map, never from emu/dwarf.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emu.assembler import Assembly, assemble_file, assemble_text
from emu.dwarf import routines
from emu.elf_debug import write_elf_debug
from emu.loader import load_macho
from emu.macho import build_macho
from emu.run import build_ymawky, debug_path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "ymawky.s"
DW_LANG_MIPS_ASSEMBLER = "DW_LANG_Mips_Assembler"  # 0x8001, what clang -g writes for a .s file


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"needs {tool} (Debian: apt-get install {package})")
    return path


def tool(*argv: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def label_line(name: str) -> int:
    """The line of ymawky.s where ``name:`` is written."""
    lines = SOURCE.read_text().split("\n")
    return next(n for n, text in enumerate(lines, 1) if re.match(rf"\s*{re.escape(name)}\s*:", text))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Assembly]:
    """``--build OUT``'s two files (through the code the command runs) and the assembly."""
    out = tmp_path_factory.mktemp("build") / "ymawky"
    exe, asm = build_ymawky(SOURCE, out)
    return exe, debug_path(exe), asm


def addr_of(asm: Assembly, name: str) -> int:
    return asm.symbols[name]


# ------------------------------------------------------------ which labels are routines


def test_routines_are_the_labels_that_start_code(built: tuple[Path, Path, Assembly]) -> None:
    _, _, asm = built
    code_end = asm.symbols["data_start"]
    found = routines(asm, code_end)
    names = [r.name for r in found]
    assert names[0] == "_main" and "do_get" in names and "write_all" in names
    assert "method_table" not in names and "mime_table" not in names  # tables in __text are data
    assert not any(n.startswith("L") for n in names)  # inner labels belong to their routine
    do_get = found[names.index("do_get")]
    assert do_get.low == asm.symbols["do_get"] and do_get.line == label_line("do_get")
    assert do_get.high == found[names.index("do_get") + 1].low  # up to the next routine
    for a, b in zip(found, found[1:], strict=False):
        assert a.low < a.high <= b.low
    assert found[-1].high <= asm.symbols["method_table"]  # the last routine stops before the tables


def test_a_data_label_between_routines_ends_the_routine_before_it() -> None:
    src = """
.globl _main
_main:
    mov x0, #0
    ret
table:
    .quad 1, 2
helper:
    add x0, x0, #1
Lhelper_done:
    ret
"""
    asm = assemble_text(src, "small.s")
    end = asm.base + len(asm.code)
    found = {r.name: r for r in routines(asm, end)}
    assert list(found) == ["_main", "helper"]
    assert (found["_main"].low, found["_main"].high) == (asm.symbols["_main"], asm.symbols["table"])
    helper = found["helper"]
    assert (helper.low, helper.high, helper.line) == (asm.symbols["helper"], end, src.split("\n").index("helper:") + 1)


# ------------------------------------------------------------ llvm-dwarfdump


def test_dwarfdump_verify_accepts_both_files(built: tuple[Path, Path, Assembly]) -> None:
    dump = need("llvm-dwarfdump", "llvm")
    for path in built[:2]:
        out = tool(dump, "--verify", str(path))
        assert "No errors." in out, out


def test_call_frame_info_ends_a_backtrace_at_the_routines_that_never_return(
    built: tuple[Path, Path, Assembly],
) -> None:
    """.debug_frame has one FDE per routine whose header says "never returns" (main, the accept
    loop), each with its return address undefined; every other routine is left to gdb's prologue
    reading (a CFI guessed for all would be wrong in leaf routines)."""
    dump = need("llvm-dwarfdump", "llvm")
    asm = built[2]
    for path in built[:2]:
        out = tool(dump, "--debug-frame", str(path))
        fdes = re.findall(r"FDE cie=00000000 pc=([0-9a-f]+)\.\.\.([0-9a-f]+)\n(?:.*\n)*?\s+DW_CFA_undefined: W30", out)
        assert [int(lo, 16) for lo, _ in fdes] == [asm.symbols["_main"], asm.symbols["accept_loop"]], out


def test_macho_debug_sections_are_in_the_dwarf_segment(built: tuple[Path, Path, Assembly]) -> None:
    readobj = need("llvm-readobj", "llvm")
    out = tool(readobj, "--sections", str(built[0]))
    found = []
    for block in out.split("Section {")[1:]:
        field = dict(re.findall(r"^\s+(Name|Segment|Attributes):? (?:\[ \(0x)?(\w+)", block, re.M))
        if field["Name"].startswith("__debug_"):
            found.append((field["Name"], field["Segment"], field["Attributes"]))
    names = {name for name, _, _ in found}
    want = {"__debug_abbrev", "__debug_info", "__debug_line", "__debug_aranges", "__debug_str", "__debug_frame"}
    assert want == names
    # S_ATTR_DEBUG (0x02000000, loader.h), printed by llvm-readobj without its low byte
    assert all(seg == "__DWARF" and flags == "20000" for _, seg, flags in found), found


def test_a_small_program_gets_valid_dwarf(tmp_path: Path) -> None:
    dump = need("llvm-dwarfdump", "llvm")
    src = ".globl _main\n_main:\n    mov x0, #0\n    mov x16, #1\n    svc #0x80\n"
    asm = assemble_text(src, "tiny.s")
    exe = tmp_path / "tiny"
    exe.write_bytes(build_macho(asm, identifier="tiny"))
    write_elf_debug(asm, tmp_path / "tiny.debug")
    for path in (exe, tmp_path / "tiny.debug"):
        assert "No errors." in tool(dump, "--verify", str(path))
        assert line_rows(dump, path) == [(asm.base + 4 * i, 3 + i) for i in range(3)]


def line_rows(dump: str, path: Path) -> list[tuple[int, int]]:
    out = tool(dump, "--debug-line", str(path))
    return [
        (int(m.group(1), 16), int(m.group(2)))
        for m in re.finditer(r"^0x([0-9a-f]{16})\s+(\d+)\s+\d+\s+1\s", out, re.M)
        if "end_sequence" not in out[m.start() : out.index("\n", m.start())]
    ]


def test_line_table_holds_every_line_of_text_and_maps_do_get_to_its_label(
    built: tuple[Path, Path, Assembly],
) -> None:
    dump = need("llvm-dwarfdump", "llvm")
    exe, debug, asm = built
    code_end = asm.symbols["data_start"]
    want = [(a, n) for a, n in zip(asm.line_addrs, asm.line_nums, strict=True) if a < code_end]
    for path in (exe, debug):
        rows = line_rows(dump, path)
        assert rows == want
        # do_get's first row is the instruction right under its label
        at = dict(rows)[addr_of(asm, "do_get")]
        assert at == label_line("do_get") + 1
        assert SOURCE.read_text().split("\n")[at - 1].split()[0] == "stp"


def test_debug_info_has_the_unit_and_do_get(built: tuple[Path, Path, Assembly]) -> None:
    dump = need("llvm-dwarfdump", "llvm")
    exe, debug, asm = built
    for path in (exe, debug):
        out = tool(dump, "--debug-info", str(path))
        assert f'DW_AT_name\t("{SOURCE.name}")' in out
        assert f'DW_AT_comp_dir\t("{SOURCE.parent}")' in out
        assert f"DW_AT_language\t({DW_LANG_MIPS_ASSEMBLER})" in out
        assert f"DW_AT_low_pc\t(0x{asm.base:016x})" in out
        die = out[out.index('DW_AT_name\t("do_get")') :].split("\n\n")[0]
        assert f"DW_AT_decl_line\t({label_line('do_get')})" in die
        assert f"DW_AT_low_pc\t(0x{addr_of(asm, 'do_get'):016x})" in die
        assert out.count("DW_TAG_subprogram") == len(routines(asm, asm.symbols["data_start"]))


def test_cached_executable_names_no_folder(built: tuple[Path, Path, Assembly]) -> None:
    """The build a recording is made with must be the same bytes in every checkout."""
    dump = need("llvm-dwarfdump", "llvm")
    exe, _ = build_ymawky(SOURCE)
    assert 'DW_AT_comp_dir\t(".")' in tool(dump, "--debug-info", str(exe))
    assert build_macho(assemble_file(SOURCE)) == exe.read_bytes()


# ------------------------------------------------------------ the ELF symbol file


def test_elf_symbol_file_has_every_label(built: tuple[Path, Path, Assembly]) -> None:
    readelf = need("llvm-readelf", "llvm")
    _, debug, asm = built
    out = tool(readelf, "--file-header", "--sections", "--symbols", str(debug))
    assert re.search(r"Class:\s+ELF64", out) and re.search(r"Machine:\s+AArch64", out)
    text = re.search(r"\]\s+\.text\s+NOBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out)
    assert text and int(text.group(1), 16) == asm.base
    assert int(text.group(2), 16) == asm.symbols["data_start"] - asm.base
    syms = {
        m.group(5): (int(m.group(1), 16), int(m.group(2)), m.group(3), m.group(4))
        for m in re.finditer(r"^\s*\d+: ([0-9a-f]{16})\s+(\d+) (\w+)\s+(\w+)\s+\w+\s+\S+ (\S+)$", out, re.M)
    }
    for name, addr in asm.symbols.items():
        assert syms[name][0] == addr, name
    for r in routines(asm, asm.symbols["data_start"]):
        assert syms[r.name][1:3] == (r.high - r.low, "FUNC"), r.name
    assert syms["_main"][3] == "GLOBAL" and syms["method_table"][2] == "OBJECT"
    assert syms["Ldo_get_file"][2] == "NOTYPE"


# ------------------------------------------------------------ debuggers


def test_gdb_reads_lines_symbols_and_source_from_the_debug_file(
    built: tuple[Path, Path, Assembly], tmp_path: Path
) -> None:
    gdb = need("gdb-multiarch", "gdb-multiarch")
    _, debug, asm = built
    do_get = addr_of(asm, "do_get")
    line = label_line("do_get")
    out = tool(
        gdb, "-nx", "-batch",
        "-ex", f"info line *{do_get:#x}",
        "-ex", f"info symbol {do_get + 8:#x}",
        "-ex", "list do_get",
        "-ex", f"break ymawky.s:{line + 3}",
        str(debug),
        cwd=tmp_path,  # the folder comes from the DWARF, not from where gdb runs
    )  # fmt: skip
    assert f'Line {line + 1} of "ymawky.s" starts at address {do_get:#x} <do_get>' in out
    assert "do_get + 8 in section .text" in out
    assert re.search(rf"^{line}\s+do_get:$", out, re.M)  # list shows the label's line and its neighbours
    assert re.search(rf"^{line + 1}\s+stp\s+x29, x30", out, re.M)
    assert f"Breakpoint 1 at {asm.line_addrs[asm.line_nums.index(line + 3)]:#x}: file ymawky.s, line {line + 3}." in out


def test_lldb_shows_the_source_line_from_the_macho(built: tuple[Path, Path, Assembly], tmp_path: Path) -> None:
    lldb = need("lldb", "lldb")
    exe, _, asm = built
    do_get = addr_of(asm, "do_get")
    line = label_line("do_get")
    out = tool(lldb, "-b", "-o", f"image lookup -v -a {do_get + 8:#x}", str(exe), cwd=tmp_path)
    assert "Summary: ymawky`do_get + 8" in out
    assert re.search(rf"LineEntry: \[0x0*{do_get + 8:x}-0x0*{do_get + 12:x}\): {SOURCE}:{line + 3}\b", out), out
    assert f'CompileUnit: id = {{0x00000000}}, file = "{SOURCE}", language = "assembler"' in out


# ------------------------------------------------------------ the program is untouched


def test_loader_maps_no_debug_info(built: tuple[Path, Path, Assembly]) -> None:
    exe, _, asm = built
    image = load_macho(exe, cache=False)
    assert [s.name for s in image.segments] == ["__TEXT", "__DATA", "__LINKEDIT"]
    code = asm.code[: asm.symbols["data_start"] - asm.base]
    assert image.segments[0].data[asm.base - image.header :][: len(code)] == code


def test_build_command_names_both_files(tmp_path: Path) -> None:
    out = tmp_path / "y"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_emulated.py"), "--build", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout and f"{out}.debug" in proc.stdout
    assert out.read_bytes()[:4] == bytes.fromhex("cffaedfe")
    assert Path(f"{out}.debug").read_bytes()[:4] == b"\x7fELF"
