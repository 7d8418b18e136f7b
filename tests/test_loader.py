"""The loader: our ymawky executable, a guest at a slide (position
independence), an ld64.lld-built program run through the command line,
LC_UNIXTHREAD, fat files, and clean refusals of bad input.
"""

from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import lief
import pytest
from guest import guest_source, run_guest

from emu.assembler import Assembly, assemble_file, assemble_text
from emu.host import Host
from emu.loader import Image, LoadError, load_macho
from emu.machine import Machine
from emu.macho import adhoc_signature, build_macho, write_macho

ROOT = Path(__file__).resolve().parent.parent
PROGS = Path(__file__).resolve().parent / "progs"
LLD = "ld64.lld-14"
SLIDE = 0x40000
LC_MAIN, LC_UNIXTHREAD, LC_CODE_SIGNATURE = 0x80000028, 0x5, 0x1D


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: clang lld llvm)")


def link(tmp: Path, source: str, arch: str = "arm64", name: str | None = None) -> Path:
    """clang + ld64.lld-14 for a tests/progs program (no libSystem)."""
    need("clang", LLD)
    out = tmp / (name or Path(source).stem)
    obj = out.with_suffix(".o")
    subprocess.run(
        ["clang", "-target", f"{arch}-apple-macos11", "-c", str(PROGS / source), "-o", str(obj)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [LLD, "-arch", arch, "-platform_version", "macos", "11.0", "11.0", "-e", "_main", "-o", str(out), str(obj)],
        check=True,
        capture_output=True,
    )
    return out


def raw_segments(f: bytes) -> dict[str, tuple[int, int, int, int, int]]:
    """name -> (vmaddr, vmsize, fileoff, filesize, initprot), read with struct, not LIEF."""
    ncmds = struct.unpack_from("<I", f, 16)[0]
    out, off = {}, 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", f, off)
        if cmd == 0x19:
            name, vmaddr, vmsize, fileoff, filesize, _maxprot, initprot = struct.unpack_from("<16sQQQQii", f, off + 8)
            out[name.rstrip(b"\0").decode()] = (vmaddr, vmsize, fileoff, filesize, initprot)
        off += size
    return out


def layout(image: Image) -> list[tuple[str, int, int, int, bytes]]:
    return [(s.name, s.vmaddr, s.vmsize, s.prot, s.data) for s in image.segments]


def refusal(path: Path, slide: int = 0) -> str:
    """load_macho's LoadError message for ``path``, without the path (test folder names say "truncated")."""
    with pytest.raises(LoadError) as e:
        load_macho(path, slide=slide)
    text = str(e.value)
    return text[len(f"{path}: ") :] if text.startswith(f"{path}: ") else text


@pytest.fixture(scope="module")
def ymawky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Assembly]:
    asm = assemble_file(ROOT / "ymawky.s")
    return write_macho(asm, tmp_path_factory.mktemp("ymawky") / "ymawky"), asm


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return link(tmp_path_factory.mktemp("lld"), "hello_arm64.s")


# ------------------------------------------------------------ our executable


@pytest.mark.parametrize("slide", [0, SLIDE])
def test_load_ymawky(ymawky: tuple[Path, Assembly], slide: int) -> None:
    path, asm = ymawky
    f = path.read_bytes()
    image = load_macho(path, slide=slide)
    raw = raw_segments(f)
    assert [(s.name, s.prot) for s in image.segments] == [("__TEXT", 5), ("__DATA", 3), ("__LINKEDIT", 1)]
    for s in image.segments:
        vmaddr, vmsize, fileoff, filesize, _ = raw[s.name]
        assert s.vmaddr == vmaddr + slide
        assert s.vmsize % 0x4000 == 0 and s.vmsize >= vmsize
        assert s.data == f[fileoff : fileoff + filesize]
    assert image.header == 0x1_0000_0000 + slide
    assert image.entry_kind == "LC_MAIN"
    assert image.entry == asm.symbols["_main"] + slide
    assert image.slide == slide
    assert {n: image.symbols.get(n) for n in asm.symbols} == {n: a + slide for n, a in asm.symbols.items()}
    assert image.symbols["__mh_execute_header"] == image.header


# ------------------------------------------------------------ position independence

PIC_BODY = """
    adr     x0, msg                  // the address the code sees, recorded
    RECORD
    mov     x0, #1
    adr     x1, msg
    ldr     x2, msg_len
    SYSCALL 4
    RECORD
    adr     x9, values               // status = values[0] + values[1], via a stored sum
    ldr     x10, [x9]
    ldr     x11, [x9, #8]
    add     x10, x10, x11
    adr     x12, total
    str     x10, [x12]
    ldr     x0, [x12]
    SYSCALL 1
"""
PIC_TEXT = """
msg: .ascii "position independent\\n"
msg_end:
.p2align 3
msg_len: .quad msg_end - msg
"""
PIC_DATA = "values: .quad 30\n.quad 12\ntotal: .quad 0\n"


def test_guest_runs_the_same_at_a_slide(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    here = run_guest(PIC_BODY, text=PIC_TEXT, data=PIC_DATA, tmp=tmp_path)
    out_here = capfd.readouterr().out
    there = run_guest(PIC_BODY, text=PIC_TEXT, data=PIC_DATA, slide=SLIDE, tmp=tmp_path)
    out_there = capfd.readouterr().out
    assert there.machine.image.slide == SLIDE
    assert out_here == out_there == "position independent\n"
    assert here.status == there.status == 42
    assert here.results[1] == there.results[1] == (21, 0, False)
    # the code really ran elsewhere: adr gave addresses exactly one slide apart
    assert here.results[0][0] == here.asm.symbols["msg"]
    assert there.results[0][0] == here.asm.symbols["msg"] + SLIDE


def test_an_absolute_pointer_is_caught_at_a_slide(tmp_path: Path) -> None:
    # the counter-example: `.quad msg` is not PIE; at a slide it points at unmapped memory (EFAULT)
    body = """
    mov     x0, #1
    ldr     x1, msg_ptr
    mov     x2, #3
    SYSCALL 4
    RECORD
    SYSCALL 1
"""
    text = 'msg: .ascii "hi\\n"\n.p2align 3\nmsg_ptr: .quad msg\n'
    assert run_guest(body, text=text, tmp=tmp_path).results == [(3, 0, False)]
    assert run_guest(body, text=text, slide=SLIDE, tmp=tmp_path).results == [(14, 0, True)]


# ------------------------------------------------------------ an ld64.lld-built program


@pytest.mark.parametrize("extra", [[], ["--slide", hex(SLIDE)]])
def test_lld_program_runs_through_the_command_line(hello: Path, extra: list[str]) -> None:
    p = subprocess.run(
        [sys.executable, "run_emulated.py", "--macho", str(hello), *extra], cwd=ROOT, capture_output=True, timeout=60
    )
    assert p.stderr == b""
    assert p.stdout == b"hello from ld64.lld\n"
    assert p.returncode == 42


def test_lld_program_loads(hello: Path) -> None:
    f = hello.read_bytes()
    b = lief.parse(str(hello))
    syms = {s.name: s.value for s in b.symbols}
    assert "_main" in syms
    image = load_macho(hello, slide=SLIDE)
    assert image.entry_kind == "LC_MAIN"
    assert image.symbols["_main"] == syms["_main"] + SLIDE == image.entry
    assert image.entry % 0x4000 != 0  # lld puts __text right after the commands
    raw = raw_segments(f)
    assert raw["__LINKEDIT"][1] % 0x4000 != 0  # lld leaves it unrounded ...
    seg = {s.name: s for s in image.segments}
    assert seg["__LINKEDIT"].vmsize % 0x4000 == 0  # ... the loader rounds it for mem_map
    data = seg["__DATA"]
    assert data.prot == 3 and data.data.startswith(b"hello from ld64.lld\n")


def test_fat_file_uses_the_arm64_slice(hello: Path, tmp_path: Path) -> None:
    # segment offsets in a slice count from the slice, not from the fat file's start
    need("llvm-lipo-14")
    x86 = link(tmp_path, "exit_x86_64.s", arch="x86_64")
    fat = tmp_path / "fat"
    subprocess.run(
        ["llvm-lipo-14", "-create", str(x86), str(hello), "-output", str(fat)], check=True, capture_output=True
    )
    thin, universal = load_macho(hello), load_macho(fat)
    assert universal.entry == thin.entry and universal.symbols == thin.symbols
    assert layout(universal) == layout(thin)
    only_x86 = tmp_path / "fat-x86"
    subprocess.run(["llvm-lipo-14", "-create", str(x86), "-output", str(only_x86)], check=True, capture_output=True)
    assert only_x86.read_bytes()[:8] == bytes.fromhex("cafebabe00000001")  # a fat file with one slice
    assert refusal(only_x86) == "no arm64 slice (has x86_64)"


# ------------------------------------------------------------ LC_UNIXTHREAD


def with_unixthread(f: bytes, flavor: int = 6, count: int = 68) -> bytes:
    """``f`` with LC_MAIN replaced by LC_UNIXTHREAD (ARM_THREAD_STATE64, pc = entry), re-signed.

    ld64.lld-14 always writes LC_MAIN on arm64 (-static is unimplemented, -no_pie still
    gives LC_MAIN), so the test builds this form itself.
    """
    out = bytearray(f)
    ncmds, sizeofcmds = struct.unpack_from("<II", f, 16)
    cmds, off, sig = [], 32, (0, 0)
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", f, off)
        body = f[off : off + size]
        if cmd == LC_MAIN:
            pc = 0x1_0000_0000 + struct.unpack_from("<Q", body, 8)[0]
            state = struct.pack("<33QII", *([0] * 32), pc, 0, 0)  # x0-x28 fp lr sp pc cpsr pad
            assert len(state) == 68 * 4
            body = struct.pack("<IIII", LC_UNIXTHREAD, 16 + len(state), flavor, count) + state
        elif cmd == LC_CODE_SIGNATURE:
            sig = struct.unpack_from("<II", body, 8)
        cmds.append(body)
        off += size
    blob = b"".join(cmds)
    assert 32 + len(blob) <= 0x4000  # still before __text
    out[32 : 32 + max(len(blob), sizeofcmds)] = blob.ljust(sizeofcmds, b"\0")
    struct.pack_into("<I", out, 20, len(blob))
    dataoff, datasize = sig  # the signature covers the header: sign again
    new_sig = adhoc_signature(bytes(out[:dataoff]), "thread", 0, raw_segments(bytes(out))["__TEXT"][3])
    assert len(new_sig) == datasize
    out[dataoff:] = new_sig
    return bytes(out)


THREAD_BODY = """
    mov     x0, #1
    adr     x1, msg
    mov     x2, #7
    SYSCALL 4
    mov     x0, #9
    SYSCALL 1
"""


@pytest.mark.parametrize("slide", [0, SLIDE])
def test_unixthread_entry_is_honoured(tmp_path: Path, capfd: pytest.CaptureFixture[str], slide: int) -> None:
    asm = assemble_text(guest_source(THREAD_BODY, text='msg: .ascii "thread\\n"\n'), "thread.s")
    path = tmp_path / "thread"
    path.write_bytes(with_unixthread(build_macho(asm, identifier="thread")))
    if shutil.which("llvm-objdump"):  # the patched file is well-formed to LLVM too
        p = subprocess.run(["llvm-objdump", "--macho", "--private-headers", str(path)], capture_output=True, text=True)
        assert p.returncode == 0 and "warning" not in p.stderr
        assert "LC_UNIXTHREAD" in p.stdout and "LC_MAIN" not in p.stdout
        assert re.search(rf"\bpc\s+{asm.symbols['_main']:#018x}\b", p.stdout)
    image = load_macho(path, slide=slide)
    assert image.entry_kind == "LC_UNIXTHREAD"
    assert image.entry == asm.symbols["_main"] + slide
    machine = Machine(image, Host(str(tmp_path)), ["thread"], assembly=asm, name="thread")
    assert machine.run() == 9
    assert capfd.readouterr().out == "thread\n"


def test_unixthread_with_another_flavor_is_refused(tmp_path: Path) -> None:
    asm = assemble_text(guest_source(THREAD_BODY, text='msg: .ascii "thread\\n"\n'), "thread.s")
    path = tmp_path / "thread"
    path.write_bytes(with_unixthread(build_macho(asm, identifier="thread"), flavor=1))
    assert refusal(path) == "LC_UNIXTHREAD flavor 1 count 68, not ARM_THREAD_STATE64"


# ------------------------------------------------------------ bad input


def test_text_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("GET / HTTP/1.1\r\n" * 20)
    assert refusal(p) == "not a Mach-O file"


def test_x86_64_macho_is_refused(tmp_path: Path) -> None:
    x86 = link(tmp_path, "exit_x86_64.s", arch="x86_64")
    assert struct.unpack_from("<I", x86.read_bytes(), 4)[0] == 0x01000007  # really x86_64
    assert refusal(x86) == "a Mach-O for x86_64, not arm64"


def test_patched_cputype_is_refused(ymawky: tuple[Path, Assembly], tmp_path: Path) -> None:
    f = bytearray(ymawky[0].read_bytes())
    struct.pack_into("<i", f, 4, 0x01000007)
    (tmp_path / "x").write_bytes(f)
    assert refusal(tmp_path / "x") == "a Mach-O for x86_64, not arm64"


def test_truncated_files_are_refused(ymawky: tuple[Path, Assembly], tmp_path: Path) -> None:
    f = ymawky[0].read_bytes()
    sizeofcmds = struct.unpack_from("<I", f, 20)[0]
    cuts = [0, 3, 4, 20, 31, 32, 200, 32 + sizeofcmds - 1, 32 + sizeofcmds, 0x4000 + 8, 0x8000 + 16, len(f) - 1]
    for cut in cuts:
        p = tmp_path / f"cut{cut}"
        p.write_bytes(f[:cut])
        msg = refusal(p)
        assert re.fullmatch(r"truncated: .*" if cut >= 4 else rf"not a Mach-O file \({cut} bytes\)", msg), (cut, msg)


def test_malformed_load_commands_are_refused(ymawky: tuple[Path, Assembly], tmp_path: Path) -> None:
    f = ymawky[0].read_bytes()
    bad = bytearray(f)
    struct.pack_into("<I", bad, 32 + 4, 3)  # first cmdsize: not a multiple of 8
    (tmp_path / "a").write_bytes(bad)
    assert refusal(tmp_path / "a") == "malformed: load command 0 has size 3"
    bad = bytearray(f)
    struct.pack_into("<I", bad, 16, 0xFFFF)  # ncmds far beyond sizeofcmds
    (tmp_path / "b").write_bytes(bad)
    assert refusal(tmp_path / "b").startswith("malformed: load command ")


def test_bad_slide_is_refused(ymawky: tuple[Path, Assembly]) -> None:
    assert refusal(ymawky[0], slide=0x1000) == "slide 0x1000 is not a non-negative multiple of 16 KiB"


def test_command_line_reports_a_load_error_without_a_traceback(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("not an executable\n")
    r = subprocess.run(
        [sys.executable, "run_emulated.py", "--macho", str(p)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 66
    assert "not a Mach-O file" in r.stderr and "Traceback" not in r.stderr


def test_corrupted_load_commands_never_escape_as_other_errors(ymawky: tuple[Path, Assembly], tmp_path: Path) -> None:
    # random byte changes in the header and load commands: a clean load or a LoadError, nothing else
    f = ymawky[0].read_bytes()
    end = 32 + struct.unpack_from("<I", f, 20)[0]
    rng = random.Random(1)
    p = tmp_path / "fuzzed"
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(300):
        bad = bytearray(f)
        for _ in range(rng.randint(1, 4)):
            bad[rng.randrange(end)] = rng.randrange(256)
        p.write_bytes(bad)
        try:
            load_macho(p)
            outcomes["loaded"] += 1
        except LoadError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0
