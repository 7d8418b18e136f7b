"""mmap, munmap, mprotect as a Mac guest sees them.

The syscall layer changes the address space through ``Kernel.vm`` (the
VirtualMemory protocol in syscalls/kernel.py).  emu/machine.py does not
give it one yet, so these tests attach ``UnicornVM`` below -- the adapter
machine.py is to adopt as it stands -- to the guest's Machine before it
runs, and check what a Mac would: a page-aligned address in x0 (x1 = 0),
zero-filled memory the guest can use, EINVAL for unknown MAP_ flags, and
SIGBUS once a page is made read-only.
"""

from __future__ import annotations

import os
from pathlib import Path

from guest import GuestRun, err, guest_source, ok

from emu.assembler import assemble_text
from emu.host import Host
from emu.loader import load_macho
from emu.machine import Machine
from emu.macho import build_macho
from emu.vm import UnicornVM

EINVAL, ENOMEM, EBADF = 22, 12, 9
PAGE = 0x4000


def run_with_vm(tmp_path: Path, body: str, data: str = "") -> GuestRun:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    asm = assemble_text(guest_source(ASM + body, data=data), "guest.s")
    exe = tmp_path / f"guest-{os.getpid()}"
    exe.write_bytes(build_macho(asm, identifier=exe.name))
    image = load_macho(exe)
    machine = Machine(image, Host(str(root)), ["guest"], assembly=asm, name="guest")
    assert isinstance(machine.kernel.vm, UnicornVM)  # a Machine wires mmap to its own memory
    status = machine.run()
    return GuestRun(status, machine, asm)


ASM = """
.equ PROT_READ, 1
.equ PROT_WRITE, 2
.equ MAP_PRIVATE, 2
.equ MAP_FIXED, 0x10
.equ MAP_ANON, 0x1000
"""


def mmap(addr: str, size: str, prot: str, flags: str, fd: str = "#-1") -> str:
    return f"""
        ldr     x0, ={addr}
        ldr     x1, ={size}
        mov     x2, #{prot}
        ldr     x3, ={flags}
        mov     x4, {fd}
        mov     x5, #0
        SYSCALL SYS_mmap
        RECORD
"""


def test_anonymous_mmap_gives_zeroed_page_aligned_memory_the_guest_can_use(tmp_path: Path) -> None:
    run = run_with_vm(
        tmp_path,
        mmap("0", "40000", "PROT_READ|PROT_WRITE", "MAP_ANON|MAP_PRIVATE")
        + """
        mov     x19, x0
        ldr     x9, [x19, #8]
        ldr     x10, =0x1122334455667788
        str     x10, [x19, #8]
        ldr     x11, [x19, #8]
        adr     x12, seen
        stp     x9, x11, [x12]
        // the kernel writes into it too (a read syscall would; the dispatcher checks writability)
    """
        + mmap("0", "0", "PROT_READ", "MAP_ANON|MAP_PRIVATE")
        + mmap("0", "4096", "PROT_READ", "MAP_ANON|MAP_PRIVATE|0x100000")
        + mmap("0x300004001", "4096", "PROT_READ", "MAP_ANON|MAP_FIXED")
        + mmap("0", "4096", "8", "MAP_ANON|MAP_PRIVATE")
        + mmap("0", "4096", "PROT_READ", "MAP_PRIVATE", fd="#77")
        + """
        mov     x0, x19
        ldr     x1, =40000
        SYSCALL SYS_munmap
        RECORD
        mov     x0, x19
        mov     x1, #0
        SYSCALL SYS_munmap
        RECORD
        add     x0, x19, #1
        mov     x1, #16
        SYSCALL SYS_munmap
        RECORD
    """,
        data=".p2align 3\nseen: .zero 16\n",
    )
    addr = run.results[0][0]
    assert run.results == [
        ok(addr),
        err(EINVAL),
        err(EINVAL),
        err(EINVAL),
        err(EINVAL),
        err(EBADF),
        ok(),
        err(EINVAL),
        err(EINVAL),
    ]
    assert addr % PAGE == 0 and addr >= 0x1_0000_0000
    assert run.read("seen", 16) == bytes(8) + (0x1122334455667788).to_bytes(8, "little")
    assert not any(lo <= addr < hi for lo, hi, _ in run.machine.kernel.vm.regions())  # unmapped again


def test_mprotect_read_only_then_a_write_is_sigbus(tmp_path: Path) -> None:
    run = run_with_vm(
        tmp_path,
        mmap("0", "16384", "PROT_READ|PROT_WRITE", "MAP_ANON|MAP_PRIVATE")
        + """
        mov     x19, x0
        mov     x9, #7
        str     x9, [x19]
        mov     x0, x19
        mov     x1, #16384
        mov     x2, #PROT_READ
        SYSCALL SYS_mprotect
        RECORD
        add     x0, x19, #1
        mov     x1, #16
        mov     x2, #PROT_READ
        SYSCALL SYS_mprotect
        RECORD
        ldr     x0, =0x6000000000
        mov     x1, #16384
        mov     x2, #PROT_READ
        SYSCALL SYS_mprotect
        RECORD
        ldr     x9, [x19]
        adr     x10, seen
        str     x9, [x10]
        str     x9, [x19]
    """,
        data=".p2align 3\nseen: .zero 8\n",
    )
    addr = run.results[0][0]
    assert run.results == [ok(addr), ok(), err(EINVAL), err(ENOMEM)]
    assert run.u64("seen") == 7  # still readable
    assert run.status == 128 + 10  # the write after mprotect: SIGBUS, as a Mac sends


def test_map_fixed_replaces_and_a_file_can_be_mapped_privately(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"file contents\n")
    run = run_with_vm(
        tmp_path,
        mmap("0x380000000", "16384", "PROT_READ|PROT_WRITE", "MAP_ANON|MAP_FIXED")
        + mmap("0x380000000", "16384", "PROT_READ|PROT_WRITE", "MAP_ANON|MAP_FIXED")
        + """
        adr     x0, p_f
        mov     x1, #0
        mov     x2, #0
        SYSCALL SYS_open
        mov     x20, x0
    """
        + mmap("0", "100", "PROT_READ", "MAP_PRIVATE", fd="x20")
        + """
        ldr     x9, [x0]
        adr     x10, seen
        str     x9, [x10]
    """,
        data='p_f: .asciz "/f"\n.p2align 3\nseen: .zero 8\n',
    )
    assert run.results[:2] == [ok(0x380000000), ok(0x380000000)]
    assert run.results[2][2] is False and run.results[2][0] % PAGE == 0
    assert run.read("seen", 8) == b"file con"


def test_every_machine_has_mmap(tmp_path: Path) -> None:
    from guest import run_guest

    run = run_guest(ASM + mmap("0", "4096", "PROT_READ", "MAP_ANON|MAP_PRIVATE"), root=tmp_path, tmp=tmp_path)
    ((addr, x1, carry),) = run.results
    assert not carry and x1 == 0 and addr % PAGE == 0
