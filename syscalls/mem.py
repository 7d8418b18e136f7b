"""Memory syscalls: mmap (anonymous, and private copies of files), munmap, mprotect.

Owns: Darwin's argument checks (unknown MAP_ flags are EINVAL, as a binary
built with a current SDK sees; page alignment; zero length), where a new
mapping goes (the hint if it is free, else the first free range at or
above MMAP_BASE), and PROT_WRITE/EXEC implying PROT_READ.  The address
space itself is ``Kernel.vm`` (a VirtualMemory the Machine provides).
"""

from __future__ import annotations

from syscalls.consts_sys import MAP, MAP_FLAGS, PROT_ALL, PROT_READ, PROT_WRITE
from syscalls.errno import DarwinError
from syscalls.kernel import Kernel, Ret, VirtualMemory

MMAP_BASE = 0x1_0000_0000 * 3  # above a PIE's usual 0x1_0000_0000 image
MMAP_TOP = 0x7F_0000_0000  # below the stack and the exit sentinel


def _vm(k: Kernel) -> VirtualMemory:
    if k.vm is None:
        raise DarwinError("ENOSYS", "this machine gives the syscall layer no address space")
    return k.vm


def _round(vm: VirtualMemory, n: int) -> int:
    return (n + vm.page - 1) // vm.page * vm.page


def _prot(prot: int) -> int:
    if prot & ~PROT_ALL:
        raise DarwinError("EINVAL", f"prot {prot:#x}")
    return prot | PROT_READ if prot & ~PROT_READ else prot  # write or exec implies read


def _free(vm: VirtualMemory, addr: int, size: int) -> bool:
    return all(end <= addr or start >= addr + size for start, end, _ in vm.regions())


def _find(vm: VirtualMemory, hint: int, size: int) -> int:
    if hint and hint % vm.page == 0 and hint >= MMAP_BASE and _free(vm, hint, size):
        return hint
    at = MMAP_BASE
    for start, end, _ in vm.regions():
        if end <= at:
            continue
        if start >= at + size:
            break
        at = _round(vm, end)
    if at + size > MMAP_TOP:
        raise DarwinError("ENOMEM", f"no room for {size:#x} bytes")
    return at


def sys_mmap(k: Kernel, addr: int, size: int, prot: int, flags: int, fd: int, offset: int) -> Ret:
    vm = _vm(k)
    MAP_FLAGS.to_host(flags)  # EINVAL for unknown MAP_ bits
    prot = _prot(prot)
    if size == 0:
        raise DarwinError("EINVAL", "zero length")
    fixed = bool(flags & MAP["MAP_FIXED"])
    if fixed and addr % vm.page:
        raise DarwinError("EINVAL", f"MAP_FIXED at unaligned {addr:#x}")
    length = _round(vm, size)
    data = b""
    if not flags & MAP["MAP_ANON"]:
        kind = k.host.kind(fd)
        if kind != "file":
            raise DarwinError("ENODEV" if kind != "dir" else "EACCES", "mmap of a non-file")
        if offset % vm.page or offset < 0:
            raise DarwinError("EINVAL", f"offset {offset:#x}")
        if flags & MAP["MAP_SHARED"] and prot & PROT_WRITE:
            raise DarwinError("ENOTSUP", "writable MAP_SHARED file mappings are not emulated")
        data = k.host.pread(fd, size, offset)
    if fixed:
        vm.unmap(addr, length)  # MAP_FIXED replaces what was there
        at = addr
    else:
        at = _find(vm, addr, length)
    vm.map(at, length, prot | PROT_WRITE if data else prot)
    if data:
        k.mem.write(at, data)
        if not prot & PROT_WRITE:
            vm.protect(at, length, prot)
    return Ret(at)


def sys_munmap(k: Kernel, addr: int, size: int) -> Ret:
    vm = _vm(k)
    if addr % vm.page or size == 0:
        raise DarwinError("EINVAL", f"munmap {addr:#x} + {size:#x}")
    vm.unmap(addr, _round(vm, size))
    return Ret(0)


def sys_mprotect(k: Kernel, addr: int, size: int, prot: int) -> Ret:
    vm = _vm(k)
    prot = _prot(prot)
    if addr % vm.page:
        raise DarwinError("EINVAL", f"mprotect at unaligned {addr:#x}")
    length = _round(vm, size)
    covered, at = True, addr
    for start, end, _ in vm.regions():
        if end <= at or start >= addr + length:
            continue
        if start > at:
            covered = False
        at = max(at, end)
    if not covered or at < addr + length:
        raise DarwinError("ENOMEM", "mprotect of unmapped memory")
    if length:
        vm.protect(addr, length, prot)
    return Ret(0)
