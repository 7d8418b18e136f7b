"""The Mach-O writer: ymawky.s as a file a Mac would run, checked by LIEF, by
LLVM's stricter tools, by an independent code-signature verifier, and against
ld64.lld's own ad-hoc signature.

Expected values are spelled out as numbers from Apple's headers (loader.h,
cs_blobs.h), not taken from emu.macho, so a wrong constant there fails here.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import lief
import pytest
from guest import guest_source

from emu.assembler import Assembly, assemble_file, assemble_text
from emu.macho import adhoc_signature, build_macho, write_macho

ROOT = Path(__file__).resolve().parent.parent
PROGS = Path(__file__).resolve().parent / "progs"

LLD = "ld64.lld-14"
OBJDUMP_ARGS = ["--macho", "--private-headers", "-h", "-d", "-t"]
READOBJ_ARGS = ["--macho-segment", "--sections", "--symbols"]
# "warning:"/"error:" as LLVM prints them; labels such as "Lwrite_all_error:" do not count
_DIAG = re.compile(r"(^|\s)(warning|error):", re.I | re.M)


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: clang lld llvm)")


# ------------------------------------------------------------ raw Mach-O reading


@dataclass
class Command:
    cmd: int
    offset: int
    data: bytes


def commands(f: bytes) -> list[Command]:
    magic, _cpu, _sub, _ft, ncmds, _size, _flags, _ = struct.unpack_from("<IiiIIIII", f)
    assert magic == 0xFEEDFACF
    out, off = [], 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", f, off)
        out.append(Command(cmd, off, f[off : off + size]))
        off += size
    return out


def segments(f: bytes) -> dict[str, tuple[int, int, int, int, int, int]]:
    """name -> (vmaddr, vmsize, fileoff, filesize, maxprot, initprot), from LC_SEGMENT_64."""
    out = {}
    for c in commands(f):
        if c.cmd == 0x19:
            name, *fields = struct.unpack_from("<16sQQQQii", c.data, 8)
            out[name.rstrip(b"\0").decode()] = tuple(fields)
    return out


def code_signature_cmd(f: bytes) -> tuple[int, int]:
    (c,) = [c for c in commands(f) if c.cmd == 0x1D]  # LC_CODE_SIGNATURE
    return struct.unpack_from("<II", c.data, 8)


def verify_signature(f: bytes, identifier: str) -> list[str]:
    """Problems with the embedded ad-hoc signature of ``f`` ([] = valid).

    Written from cs_blobs.h, independently of emu.macho: every field is
    big-endian; each 4 KiB page up to codeLimit is rehashed with SHA-256.
    """
    problems: list[str] = []
    dataoff, datasize = code_signature_cmd(f)
    text = segments(f)["__TEXT"]
    blob = f[dataoff : dataoff + datasize]
    if len(blob) != datasize:
        return ["signature runs past the end of the file"]
    magic, length, count = struct.unpack_from(">III", blob)
    if magic != 0xFADE0CC0:
        problems.append(f"SuperBlob magic {magic:#x}")
    if length != datasize or count != 1:
        problems.append(f"SuperBlob length {length} count {count}")
    slot, cd_off = struct.unpack_from(">II", blob, 12)
    if slot != 0:
        problems.append(f"first blob is slot {slot}, not the CodeDirectory")
    (
        cd_magic,
        cd_len,
        version,
        flags,
        hash_off,
        ident_off,
        n_special,
        n_code,
        code_limit,
        hash_size,
        hash_type,
        _platform,
        page_shift,
        _spare2,
        scatter,
        team,
        _spare3,
        code_limit64,
        exec_base,
        exec_limit,
        exec_flags,
    ) = struct.unpack_from(">IIIIIIIIIBBBBIIIIQQQQ", blob, cd_off)
    expect = {
        "CodeDirectory magic": (cd_magic, 0xFADE0C02),
        "version": (version, 0x20400),
        "flags": (flags, 0x2 | 0x20000),  # CS_ADHOC | CS_LINKER_SIGNED
        "hashType": (hash_type, 2),  # SHA-256
        "hashSize": (hash_size, 32),
        "pageSize": (page_shift, 12),  # 4 KiB hash pages
        "nSpecialSlots": (n_special, 0),
        "codeLimit": (code_limit, dataoff),
        "codeLimit64": (code_limit64, 0),
        "scatterOffset": (scatter, 0),
        "teamOffset": (team, 0),
        "execSegBase": (exec_base, text[2]),
        "execSegLimit": (exec_limit, text[3]),
        "execSegFlags": (exec_flags, 1),  # CS_EXECSEG_MAIN_BINARY
        "CodeDirectory length": (cd_off + cd_len <= datasize, True),
    }
    problems += [f"{k} is {got:#x}, not {want:#x}" for k, (got, want) in expect.items() if got != want]
    cd = blob[cd_off : cd_off + cd_len]
    ident = cd[ident_off : cd.index(b"\0", ident_off)]
    if ident != identifier.encode():
        problems.append(f"identifier {ident!r}")
    page = 1 << 12
    if n_code != (code_limit + page - 1) // page:
        problems.append(f"nCodeSlots {n_code} for codeLimit {code_limit}")
    for i in range(n_code):
        stored = cd[hash_off + 32 * i : hash_off + 32 * (i + 1)]
        if hashlib.sha256(f[i * page : min((i + 1) * page, code_limit)]).digest() != stored:
            problems.append(f"page {i}: hash differs")
    return problems


def run_tool(tool: str, args: list[str], path: Path) -> tuple[int, str]:
    p = subprocess.run([tool, *args, str(path)], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def tool_complaints(path: Path) -> list[str]:
    """What llvm-objdump and llvm-readobj say is wrong with ``path`` ([] = clean)."""
    out = []
    for tool, args in (("llvm-objdump", OBJDUMP_ARGS), ("llvm-readobj", READOBJ_ARGS)):
        rc, text = run_tool(tool, args, path)
        if rc != 0 or _DIAG.search(text):
            out.append(f"{tool} rc={rc}: {(_DIAG.search(text) or text)!s:.300}")
    return out


# ------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def asm() -> Assembly:
    return assemble_file(ROOT / "ymawky.s")


@pytest.fixture(scope="module")
def exe(asm: Assembly, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_macho(asm, tmp_path_factory.mktemp("macho") / "ymawky")


def lld_link(tmp: Path, name: str, source: str = "hello_arm64.s") -> Path:
    """Assemble and link a tests/progs program with clang + ld64.lld, as on a Mac but without libSystem."""
    need("clang", LLD)
    obj = tmp / f"{name}.o"
    out = tmp / name
    subprocess.run(
        ["clang", "-target", "arm64-apple-macos11", "-c", str(PROGS / source), "-o", str(obj)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [LLD, "-arch", "arm64", "-platform_version", "macos", "11.0", "11.0", "-e", "_main", "-o", str(out), str(obj)],
        check=True,
        capture_output=True,
    )
    return out


# ------------------------------------------------------------ LIEF reads it back


def test_lief_reads_the_layout_a_mac_requires(asm: Assembly, exe: Path) -> None:
    b = lief.parse(str(exe))
    assert b is not None
    assert b.header.cpu_type == lief.MachO.Header.CPU_TYPE.ARM64
    assert b.header.file_type == lief.MachO.Header.FILE_TYPE.EXECUTE
    raw_flags = struct.unpack_from("<I", exe.read_bytes(), 24)[0]
    assert raw_flags & 0x4 and raw_flags & 0x200000  # MH_DYLDLINK | MH_PIE
    assert b.header.has(lief.MachO.Header.FLAGS.PIE) and b.header.has(lief.MachO.Header.FLAGS.DYLDLINK)

    segs = {s.name: s for s in b.segments}
    assert list(segs) == ["__PAGEZERO", "__TEXT", "__DATA", "__DWARF", "__LINKEDIT"]
    zero = segs["__PAGEZERO"]
    assert (zero.virtual_address, zero.virtual_size, zero.file_size) == (0, 0x1_0000_0000, 0)
    assert (zero.init_protection, zero.max_protection) == (0, 0)

    text = segs["__TEXT"]
    assert (text.init_protection, text.max_protection) == (5, 5)  # r-x
    assert text.file_offset == 0 and text.virtual_address == 0x1_0000_0000
    assert [s.name for s in text.sections] == ["__text"]

    data = segs["__DATA"]
    assert (data.init_protection, data.max_protection) == (3, 3)  # rw-
    bss = data.get_section("__bss")
    assert bss.type == lief.MachO.Section.TYPE.ZEROFILL and bss.offset == 0
    assert bss.virtual_address == asm.symbols["bss_start"]
    assert bss.size == asm.base + len(asm.code) - asm.symbols["bss_start"]
    assert data.file_size < data.virtual_size  # the zeros are not in the file
    assert exe.stat().st_size < data.file_offset + bss.size

    for s in b.segments:
        assert not (s.init_protection & 2 and s.init_protection & 4), f"{s.name} is writable and executable"
        assert not (s.max_protection & 2 and s.max_protection & 4), f"{s.name} may become W+X"
        # __LINKEDIT's file size ends with the signature; its vmsize is rounded up
        sizes = [s.virtual_address, s.file_offset, s.virtual_size] + ([] if s.name == "__LINKEDIT" else [s.file_size])
        assert all(v % 0x4000 == 0 for v in sizes), (s.name, [hex(v) for v in sizes])
    dwarf = segs["__DWARF"]  # debug info only: no access, not mapped (emu/loader.py)
    assert (dwarf.init_protection, dwarf.max_protection) == (0, 0)
    assert dwarf.virtual_address == data.virtual_address + data.virtual_size
    assert {s.name for s in dwarf.sections} >= {"__debug_info", "__debug_abbrev", "__debug_line"}
    linkedit = segs["__LINKEDIT"]
    assert linkedit.file_offset + linkedit.file_size == exe.stat().st_size
    assert linkedit.virtual_size >= linkedit.file_size

    assert b.main_command.entrypoint == asm.symbols["_main"] - 0x1_0000_0000
    assert b.dylinker.name == "/usr/lib/dyld"
    assert [lib.name for lib in b.libraries] == ["/usr/lib/libSystem.B.dylib"]
    bv = b.build_version
    assert bv.platform == lief.MachO.BuildVersion.PLATFORMS.MACOS
    assert list(bv.minos) == [11, 0, 0]

    syms = {s.name: s.value for s in b.symbols}
    missing = {n: hex(a) for n, a in asm.symbols.items() if syms.get(n) != a}
    assert not missing, f"labels missing or at the wrong address: {missing}"
    assert len(asm.symbols) > 50 and syms["__mh_execute_header"] == 0x1_0000_0000


def test_every_symbol_points_into_its_section(exe: Path) -> None:
    # n_sect is 1-based over all sections in load-command order;
    # __mh_execute_header (the header, before __text) is in section 1, as ld64 writes it
    b = lief.parse(str(exe))
    sections = list(b.sections)
    for s in b.symbols:
        if s.name == "__mh_execute_header":
            assert s.numberof_sections == 1 and s.value == 0x1_0000_0000
            continue
        sect = sections[s.numberof_sections - 1]
        assert sect.virtual_address <= s.value <= sect.virtual_address + sect.size, (s.name, sect.name)


def test_data_and_bss_split_for_a_program_with_initialised_data(tmp_path: Path) -> None:
    asm = assemble_text(
        guest_source("    mov x0, #0\n", data="value: .quad 0x1122334455667788\n", bss="big: .zero 0x8000\n"), "g.s"
    )
    path = write_macho(asm, tmp_path / "g")
    f = path.read_bytes()
    b = lief.parse(str(path))
    data = b.get_segment("__DATA")
    sec = data.get_section("__data")
    start, bss = asm.symbols["data_start"], asm.symbols["bss_start"]
    assert sec.virtual_address == start == data.virtual_address
    assert f[sec.offset : sec.offset + sec.size] == asm.code[start - asm.base : bss - asm.base]
    assert struct.pack("<Q", 0x1122334455667788) in f[sec.offset : sec.offset + sec.size]
    assert data.get_section("__bss").virtual_address == bss
    assert data.file_size % 0x4000 == 0 and data.file_size < data.virtual_size
    assert verify_signature(f, "g") == []
    if shutil.which("llvm-objdump") and shutil.which("llvm-readobj"):
        assert tool_complaints(path) == []


def test_writer_refuses_layouts_it_cannot_express() -> None:
    base = "\n.globl _main\n_main:\n    mov x0, #0\n"
    with pytest.raises(ValueError, match="16 KiB"):
        build_macho(assemble_text(base + ".p2align 4\ndata_start:\n.quad 1\n", "a.s"))
    with pytest.raises(ValueError, match="zero"):
        build_macho(assemble_text(base + ".p2align 14\ndata_start:\nbss_start:\n.quad 1\n", "b.s"))
    with pytest.raises(ValueError, match="entry"):
        build_macho(assemble_text(base, "c.s"), entry="_start")
    with pytest.raises(ValueError, match="assemble at"):
        build_macho(assemble_text(base, "d.s", base=0x1000))


# ------------------------------------------------------------ LLVM's strict tools


def test_llvm_tools_accept_it_without_warnings(exe: Path) -> None:
    need("llvm-objdump", "llvm-readobj")
    assert tool_complaints(exe) == []


def test_llvm_tools_reject_a_truncated_copy(exe: Path, tmp_path: Path) -> None:
    # proves the check above can fail: same file, cut inside __LINKEDIT and inside __TEXT
    need("llvm-objdump", "llvm-readobj")
    f = exe.read_bytes()
    for cut in (len(f) - 100, 0x4000 + 0x100):
        bad = tmp_path / f"cut{cut}"
        bad.write_bytes(f[:cut])
        assert tool_complaints(bad), f"truncation at {cut:#x} went unnoticed"


def test_objdump_symbol_table_matches_the_labels(asm: Assembly, exe: Path) -> None:
    need("llvm-objdump")
    rc, out = run_tool("llvm-objdump", ["--macho", "-t"], exe)
    assert rc == 0
    listed = {}
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]{16}) .* (\S+)$", line)
        if m:
            listed[m.group(2)] = int(m.group(1), 16)
    assert {n: listed.get(n) for n in asm.symbols} == asm.symbols


# ------------------------------------------------------------ the code is Keystone's


def test_text_section_holds_keystones_bytes(asm: Assembly, exe: Path) -> None:
    code = asm.code[: asm.symbols["data_start"] - asm.base]
    f = exe.read_bytes()
    b = lief.parse(str(exe))
    text = b.get_section("__text")
    assert text.virtual_address == asm.base and text.size == len(code)
    assert f[text.offset : text.offset + text.size] == code
    assert bytes(text.content) == code


def test_objdump_sees_keystones_bytes(asm: Assembly, exe: Path) -> None:
    need("llvm-objdump")
    rc, out = run_tool("llvm-objdump", ["-s", "-j", "__text"], exe)
    assert rc == 0
    dumped, first = bytearray(), None
    for line in out.splitlines():
        m = re.match(r"^ ([0-9a-f]{9,16}) ((?:[0-9a-f]{2,8} ?){1,4})", line)
        if m:
            first = int(m.group(1), 16) if first is None else first
            dumped += bytes.fromhex(m.group(2).replace(" ", ""))
    assert first == asm.base
    assert bytes(dumped) == asm.code[: asm.symbols["data_start"] - asm.base]
    # and the disassembler starts _main at its label with Keystone's first instruction word
    rc, dis = run_tool("llvm-objdump", ["--macho", "-d"], exe)
    m = re.search(r"^_main:\n([0-9a-f]+):\s+([0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2})\s", dis, re.M)
    assert rc == 0 and m, dis[:500]
    main = asm.symbols["_main"]
    assert int(m.group(1), 16) == main
    assert bytes.fromhex(m.group(2)) == asm.code[main - asm.base : main - asm.base + 4]


# ------------------------------------------------------------ code signature


def test_signature_verifies(exe: Path) -> None:
    f = exe.read_bytes()
    dataoff, datasize = code_signature_cmd(f)
    assert dataoff % 16 == 0 and dataoff + datasize == len(f)  # last thing in __LINKEDIT
    link = segments(f)["__LINKEDIT"]
    assert link[2] <= dataoff and dataoff + datasize <= link[2] + link[3]
    assert verify_signature(f, "ymawky") == []


def test_verifier_notices_one_flipped_byte_in_text(asm: Assembly, exe: Path) -> None:
    f = bytearray(exe.read_bytes())
    at = 0x4000 + asm.symbols["_main"] - asm.base + 1  # inside __text
    f[at] ^= 0x01
    assert verify_signature(bytes(f), "ymawky") == [f"page {at // 4096}: hash differs"]
    assert verify_signature(exe.read_bytes(), "other") == ["identifier b'ymawky'"]


@pytest.mark.parametrize("name", ["p", "prog", "a" * 15, "b" * 16, "hello-lld-with-a-long-name.bin"])
def test_signer_reproduces_ld64_lld_signature(tmp_path: Path, name: str) -> None:
    # identifier lengths around the 16-byte alignment of the headers
    prog = lld_link(tmp_path, name)
    f = prog.read_bytes()
    dataoff, datasize = code_signature_cmd(f)
    text = segments(f)["__TEXT"]
    theirs = f[dataoff : dataoff + datasize]
    assert verify_signature(f, name) == []  # the verifier agrees with lld
    ours = adhoc_signature(f[:dataoff], identifier=name, text_fileoff=text[2], text_filesize=text[3])
    assert ours == theirs


# ------------------------------------------------------------ reproducible


def test_build_is_reproducible(asm: Assembly, tmp_path: Path) -> None:
    one = build_macho(asm)
    assert build_macho(asm) == one
    again = assemble_file(ROOT / "ymawky.s", cache=False)  # the whole path, not a cached result
    assert build_macho(again) == one
    written = []
    for folder in ("a", "b"):  # same file name in two places: same bytes (the name is the identifier)
        (tmp_path / folder).mkdir()
        written.append(write_macho(asm, tmp_path / folder / "ymawky").read_bytes())
    assert written == [one, one]
    (uuid,) = [c for c in commands(one) if c.cmd == 0x1B]
    assert uuid.data[8:] != bytes(16)  # content-derived, not left zero
