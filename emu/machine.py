"""One emulated Darwin process: Unicorn, its memory, its run loop, its faults.

Owns: mapping the loaded image with its protections, the initial stack
the way dyld calls ``main`` (darwin-abi.md 6.3), the ``svc #0x80`` trap
into the syscall table, fork (the host forks inside the trap and both
sides go on emulating), and fault reports (pc, symbol+offset, source
line, instruction, registers).  Effects go through the Host only.
"""

from __future__ import annotations

import os
import resource
import signal
import struct
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from unicorn import (
    UC_ARCH_ARM64,
    UC_HOOK_INTR,
    UC_HOOK_MEM_INVALID,
    UC_MODE_ARM,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
    Uc,
    UcError,
)
from unicorn import arm64_const as A
from unicorn import unicorn_const as U

from emu.assembler import Assembly
from emu.host import Host
from emu.loader import Image
from emu.regs import RegisterBatch
from emu.symbols import Symbolizer
from emu.vm import UnicornVM
from syscalls.errno import DarwinError
from syscalls.kernel import BadAddress, GuestExit, Kernel, Unimplemented
from syscalls.table import NAMES, SYSCALLS

if TYPE_CHECKING:
    from emu.trace import Tracer


class SyscallLog(Protocol):
    """Stands between the trap and the kernel: a recording (emu/record.py) or a replay (emu/replay.py)."""

    def call(self, num: int, regs: list[int]) -> tuple[int, int, bool]: ...
    def finish(self, status: int) -> None: ...


STACK_TOP = 0x1_7000_0000       # like macOS arm64 (stacks sit near 0x16f...)
STACK_SIZE = 8 << 20            # 8 MiB, macOS's default main-thread stack
SENTINEL = 0x7F_F000_0000       # main's lr: "mov x16, #SYS_exit; svc #0x80" = exit(w0)
SENTINEL_CODE = struct.pack("<II", 0xD2800030, 0xD4001001)
PAGE = 0x4000
TCG_BUFFER = 64 << 20            # translated-code cache (Unicorn reserves 1 GiB by default)
EXCP_SWI = 2                     # Unicorn's interrupt number for svc
CARRY = 1 << 29                  # NZCV bit C
X_REGS = [getattr(A, f"UC_ARM64_REG_X{i}") for i in range(29)]
ARG_REGS = X_REGS[:8]

_PROT = {1: UC_PROT_READ, 2: UC_PROT_WRITE, 4: UC_PROT_EXEC}
# Unicorn errors -> the signal a Mac would deliver, and a plain description
_FAULTS = {
    U.UC_ERR_READ_UNMAPPED: ("SIGSEGV", "read of unmapped memory"),
    U.UC_ERR_WRITE_UNMAPPED: ("SIGSEGV", "write to unmapped memory"),
    U.UC_ERR_FETCH_UNMAPPED: ("SIGSEGV", "jump to unmapped memory"),
    U.UC_ERR_READ_PROT: ("SIGBUS", "read of protected memory"),
    U.UC_ERR_WRITE_PROT: ("SIGBUS", "write to read-only memory"),
    U.UC_ERR_FETCH_PROT: ("SIGBUS", "jump to non-executable memory"),
    U.UC_ERR_INSN_INVALID: ("SIGILL", "invalid instruction"),
    U.UC_ERR_READ_UNALIGNED: ("SIGBUS", "unaligned read"),
    U.UC_ERR_WRITE_UNALIGNED: ("SIGBUS", "unaligned write"),
    U.UC_ERR_FETCH_UNALIGNED: ("SIGBUS", "unaligned fetch"),
    U.UC_ERR_EXCEPTION: ("SIGILL", "unhandled CPU exception"),
}
# Unicorn access kinds -> (signal a Mac sends, description): unmapped is SIGSEGV, protected SIGBUS
_BAD_ACCESS = {
    U.UC_MEM_READ_UNMAPPED: ("SIGSEGV", "read of unmapped memory"),
    U.UC_MEM_WRITE_UNMAPPED: ("SIGSEGV", "write to unmapped memory"),
    U.UC_MEM_FETCH_UNMAPPED: ("SIGSEGV", "jump to unmapped memory"),
    U.UC_MEM_READ_PROT: ("SIGBUS", "read of protected memory"),
    U.UC_MEM_WRITE_PROT: ("SIGBUS", "write to read-only memory"),
    U.UC_MEM_FETCH_PROT: ("SIGBUS", "jump to non-executable memory"),
}


def _sext(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


def _block_ends(pc: int, insn: int) -> tuple[int, ...]:
    """Block leaders an instruction makes: its branch target, and what follows a branch or trap.

    Decoded from the A64 encodings directly (Arm ARM C4.1.3): B/BL imm26, B.cond and
    CBZ/CBNZ imm19, TBZ/TBNZ imm14, BR/BLR/RET, SVC/BRK.
    """
    if insn & 0x7C000000 == 0x14000000:                 # B, BL
        return pc + 4, pc + 4 * _sext(insn & 0x3FFFFFF, 26)
    if insn & 0xFF000010 == 0x54000000 or insn & 0x7E000000 == 0x34000000:   # B.cond, CBZ/CBNZ
        return pc + 4, pc + 4 * _sext((insn >> 5) & 0x7FFFF, 19)
    if insn & 0x7E000000 == 0x36000000:                 # TBZ, TBNZ
        return pc + 4, pc + 4 * _sext((insn >> 5) & 0x3FFF, 14)
    if insn & 0xFF9FFC1F == 0xD61F0000 or insn & 0xFFE0001F in (0xD4000001, 0xD4200000):  # BR/BLR/RET, SVC, BRK
        return (pc + 4,)
    return ()
SLICE_US = 500_000               # the first process checks for Ctrl-C at least this often
EXIT_INTERNAL = 70               # sysexits.h EX_SOFTWARE: the emulator itself failed
SIGNUM = {"SIGSEGV": 11, "SIGBUS": 10, "SIGILL": 4, "SIGTRAP": 5, "SIGSYS": 12}


class Terminated(KeyboardInterrupt):
    """SIGTERM to the emulator: it stops as for Ctrl-C, and says so by its status."""


INTERRUPT_STATUSES = (130, 143)   # 128 + SIGINT, 128 + SIGTERM: the shell's convention


def interrupt_status(why: BaseException) -> int:
    """The emulator's exit status after Ctrl-C (130) or SIGTERM (143)."""
    return INTERRUPT_STATUSES[1] if isinstance(why, Terminated) else INTERRUPT_STATUSES[0]


@dataclass
class Fault:
    signal: str
    what: str
    address: int | None = None


class GuestMemory:
    """Guest memory as the syscall layer sees it: reads and checked writes."""

    def __init__(self, uc: Uc) -> None:
        self.uc = uc
        self.writable: list[tuple[int, int]] = []

    def read(self, addr: int, n: int) -> bytes:
        try:
            return bytes(self.uc.mem_read(addr, n))
        except UcError:
            raise BadAddress(addr) from None

    def write(self, addr: int, data: bytes) -> None:
        end = addr + len(data)
        if not any(lo <= addr and end <= hi for lo, hi in self.writable):
            raise BadAddress(addr)
        self.uc.mem_write(addr, data)

    def cstr(self, addr: int, limit: int) -> bytes:
        out = b""
        while len(out) < limit:
            chunk = self.read(addr + len(out), min(limit - len(out), PAGE - (addr + len(out)) % PAGE))
            nul = chunk.find(b"\0")
            if nul >= 0:
                return out + chunk[:nul]
            out += chunk
        raise DarwinError("ENAMETOOLONG")


class Machine:
    """An emulated process, ready to ``run()``."""

    def __init__(self, image: Image, host: Host, argv: list[str], envp: list[str] | None = None,
                 assembly: Assembly | None = None, strict: bool = False, name: str = "ymawky-emu",
                 tracer: Tracer | None = None) -> None:
        self.image, self.host, self.name = image, host, name
        self.argv = list(argv)
        self.envp = list(envp) if envp is not None else ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/"]
        self.log: SyscallLog | None = None   # record or replay; None: the kernel answers directly
        self.uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
        self.uc.ctl_set_tcg_buffer_size(TCG_BUFFER)  # a small code cache keeps fork cheap
        self.mem = GuestMemory(self.uc)
        self.symbols = Symbolizer(image.symbols, assembly, image.slide)
        self.origin_pid = os.getpid()
        self.status: int | None = None
        self.fault: Fault | None = None
        self.error: BaseException | None = None
        for seg in image.segments:
            self._map(seg.vmaddr, seg.vmsize, seg.prot)
            if seg.data:
                self.uc.mem_write(seg.vmaddr, seg.data)
        self._map(STACK_TOP - STACK_SIZE, STACK_SIZE, 3)
        self._map(SENTINEL, PAGE, 5)
        self.uc.mem_write(SENTINEL, SENTINEL_CODE)
        self._start_state(self.argv, self.envp)
        self.kernel = Kernel(host, self.mem, SYSCALLS, NAMES, strict, where=self._where_pc)
        self.kernel.vm = UnicornVM(self.uc, self.mem)   # mmap, munmap, mprotect
        self._trap_in = RegisterBatch(self.uc, ARG_REGS + [A.UC_ARM64_REG_X16, A.UC_ARM64_REG_NZCV])
        self._trap_out = RegisterBatch(self.uc, [A.UC_ARM64_REG_X0, A.UC_ARM64_REG_X1, A.UC_ARM64_REG_NZCV])
        self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)
        self.uc.hook_add(UC_HOOK_MEM_INVALID, self._on_bad_access)
        self.tracer = tracer  # None: no trace hook at all (emu/trace.py)
        if tracer is not None:
            tracer.attach(self)

    # ------------------------------------------------------------ set-up
    def _map(self, addr: int, size: int, prot: int) -> None:
        perms = sum(uc for bit, uc in _PROT.items() if prot & bit)
        self.uc.mem_map(addr, size, perms)
        if prot & 2:
            self.mem.writable.append((addr, addr + size))

    def _start_state(self, argv: list[str], envp: list[str]) -> None:
        """Kernel-style argc/argv/envp/apple arrays at the stack top; registers as for main."""
        apple = [f"executable_path={argv[0] if argv else self.name}"]
        strings = b""
        ptrs: dict[str, list[int]] = {"argv": [], "envp": [], "apple": []}
        top = STACK_TOP - 16
        for key, items in (("argv", argv), ("envp", envp), ("apple", apple)):
            for s in items:
                enc = s.encode() + b"\0"
                strings += enc
                ptrs[key].append(len(strings) - len(enc))
        str_base = (top - len(strings)) & ~7
        self.uc.mem_write(str_base, strings)
        words = [self.image.header, len(argv)]
        starts = {}
        for key in ("argv", "envp", "apple"):
            starts[key] = len(words)
            words += [str_base + off for off in ptrs[key]] + [0]
        base = (str_base - 8 * len(words)) & ~15
        self.uc.mem_write(base, struct.pack(f"<{len(words)}Q", *words))
        for reg in X_REGS:
            self.uc.reg_write(reg, 0)
        self.uc.reg_write(A.UC_ARM64_REG_X0, len(argv))
        for i, key in enumerate(("argv", "envp", "apple"), 1):
            self.uc.reg_write(X_REGS[i], base + 8 * starts[key])
        self.uc.reg_write(A.UC_ARM64_REG_SP, base)
        self.uc.reg_write(A.UC_ARM64_REG_LR, SENTINEL)
        self.uc.reg_write(A.UC_ARM64_REG_X29, 0)

    # ------------------------------------------------------------ hooks
    def _on_interrupt(self, uc: Uc, intno: int, _data: object) -> None:
        try:
            if intno != EXCP_SWI:
                self.fault = Fault("SIGTRAP" if intno == 7 else "SIGILL", f"CPU exception {intno}")
                uc.emu_stop()
                return
            self._syscall(uc)
        except GuestExit as e:
            self.status = e.status
            uc.emu_stop()
        except BaseException as e:  # noqa: BLE001 - re-raised after emu_start returns
            self.error = e
            uc.emu_stop()

    def _syscall(self, uc: Uc) -> None:
        *regs, x16, nzcv = self._trap_in.read()   # x0-x7, x16, nzcv in one call
        x16 &= 0xFFFFFFFF
        if x16 & 0x80000000:
            num = -((~x16 & 0xFFFFFFFF) + 1)  # Mach traps are negative; none is implemented yet
        else:
            num = x16 & 0xFFFF
            if num == 0:  # indirect syscall: number in x0, arguments from x1
                num, regs = regs[0] & 0xFFFF, regs[1:] + [0]
        if self.tracer is not None:
            self.tracer.syscall_enter(num, regs)
        x0, x1, carry = (self.kernel if self.log is None else self.log).call(num, regs)
        # only x0, x1 and the carry change (darwin-abi.md 1.1); a handler may have
        # moved no flags (it cannot touch registers), so the nzcv read above holds
        self._trap_out.write([x0, x1, (nzcv | CARRY) if carry else (nzcv & ~CARRY)])
        if self.tracer is not None:  # after the write-back, and in a forked child, in the child
            self.tracer.syscall_exit(x0, x1, carry)

    def _on_bad_access(self, uc: Uc, access: int, addr: int, size: int, value: int, _data: object) -> bool:
        sig, what = _BAD_ACCESS.get(access, ("SIGSEGV", f"bad access {access}"))
        self.fault = Fault(sig, what, addr)
        return False

    # ------------------------------------------------------------ running
    def warm(self) -> int:
        """Translate the program's basic blocks now, so forked children inherit them.

        A child that finds its blocks already translated starts in well under a
        millisecond instead of ~20 (unicorn.md).  Leaders come from a linear sweep
        of the code from its first symbol: symbols, branch targets, and the
        instruction after each branch or trap.  Returns the number of blocks.
        """
        leaders: set[int] = set()
        for seg in self.image.segments:
            if not seg.prot & 4:
                continue
            end = seg.vmaddr + len(seg.data)
            syms = sorted(a for a in self.image.symbols.values() if seg.vmaddr <= a < end)
            if not syms:
                continue
            leaders.update(syms)
            start = syms[0]
            code = seg.data[start - seg.vmaddr: (len(seg.data) // 4) * 4]
            for i, (word,) in enumerate(struct.iter_unpack("<I", code)):
                leaders.update(_block_ends(start + 4 * i, word))
        done = 0
        for addr in sorted(leaders):
            try:
                self.uc.ctl_request_cache(addr)
                done += 1
            except UcError:
                pass  # data that only looked like a block start
        return done

    def run(self) -> int:
        """Emulate until the guest exits; returns its exit status (128+signal on a fault).

        In a process forked by the guest this never returns: the host process exits.
        """
        try:
            status = self._run()
        except BaseException:
            if self.tracer is not None:
                self.tracer.finish(EXIT_INTERNAL)
            if self.log is not None and os.getpid() != self.origin_pid:
                self.log.finish(EXIT_INTERNAL)
            if os.getpid() != self.origin_pid:
                # our bug, in a process nobody will read a traceback from otherwise
                print(f"{self.name}: internal error in process {os.getpid()} at "
                      f"{self._where_pc()}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
                os._exit(EXIT_INTERNAL)
            raise
        if self.tracer is not None:
            self.tracer.finish(status)
        if self.log is not None:
            self.log.finish(status)
        if os.getpid() != self.origin_pid:
            self._exit_child(status)
        return status

    def _run(self) -> int:
        pc = self.image.entry
        try:
            while True:
                # the first process runs in slices, so that Ctrl-C reaches Python even while
                # the guest spins without a syscall (a forked child has no timer thread:
                # Unicorn's timeout is a thread, and it dies by SIGINT itself)
                sliced = os.getpid() == self.origin_pid
                raised = False
                try:
                    self.uc.emu_start(pc, 1, timeout=SLICE_US if sliced else 0)  # "until" an odd address
                except UcError as e:
                    raised = True
                    sig, what = _FAULTS.get(e.errno, ("SIGSEGV", str(e)))
                    if self.fault is None or e.errno == U.UC_ERR_INSN_INVALID:
                        self.fault = Fault(sig, what)
                if raised or self.status is not None or self.error is not None:
                    break
                # a trace filter stopped us to switch its hooks, or the slice ran out: go on
                # where the guest was.  On such a stop Unicorn 2.1.4 may call the invalid-fetch
                # hook for a block it never runs (seen on a warmed cache); emu_start did not
                # fail, so the guest did not fault
                timed_out = sliced and self.uc.query(U.UC_QUERY_TIMEOUT)
                if not (self.tracer is not None and self.tracer.resume()) and not timed_out:
                    break
                self.fault = None
                pc = self.uc.reg_read(A.UC_ARM64_REG_PC)
        except KeyboardInterrupt as e:   # arrived between slices
            return self._interrupted(e)
        if self.status is not None and self.error is None:
            # exit() ends the process: whatever Unicorn did after the stop request
            # (it may go on to take the svc exception) is not the guest's doing
            self.fault = None
            return self.status
        if self.error is not None:
            err, self.error = self.error, None
            if isinstance(err, KeyboardInterrupt):
                return self._interrupted(err)
            if isinstance(err, Unimplemented):
                print(f"{self.name}: --strict: {err}", file=sys.stderr, flush=True)
                return 128 + SIGNUM["SIGSYS"]
            raise err
        if self.fault is not None:
            self._report_fault(self.fault)
            return 128 + SIGNUM[self.fault.signal]
        if self.status is None:
            raise RuntimeError("emulation stopped without exit or fault")
        return self.status

    def _interrupted(self, why: KeyboardInterrupt) -> int:
        """Ctrl-C or SIGTERM: stop this process and the children it forked."""
        for pid in list(self.host.children):
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
        return interrupt_status(why)

    def _exit_child(self, status: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        if self.fault is not None:  # die by the signal, so the guest parent's wait4 sees it
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            host_sig = getattr(signal, self.fault.signal)
            signal.signal(host_sig, signal.SIG_DFL)
            os.kill(os.getpid(), host_sig)
        os._exit(status)

    # ------------------------------------------------------------ reports
    def _where_pc(self) -> str:
        return self.symbols.describe(self.uc.reg_read(A.UC_ARM64_REG_PC))

    def _report_fault(self, fault: Fault) -> None:
        pc = self.uc.reg_read(A.UC_ARM64_REG_PC)
        try:
            from capstone import CS_ARCH_ARM64, CS_MODE_ARM, Cs  # here: the serving process never needs it
            insn = next(Cs(CS_ARCH_ARM64, CS_MODE_ARM).disasm(bytes(self.uc.mem_read(pc, 4)), pc), None)
            text = f"{insn.mnemonic} {insn.op_str}".strip() if insn else "(undecodable)"
        except UcError:
            text = "(pc not mapped)"
        at = f" at {fault.address:#x}" if fault.address is not None else ""
        lines = [f"{self.name}: guest fault in process {os.getpid()}: {fault.what}{at} ({fault.signal})",
                 f"  pc  {self.symbols.describe(pc)}",
                 f"      {text}"]
        regs = [(f"x{i}", self.uc.reg_read(r)) for i, r in enumerate(X_REGS)]
        regs += [("fp", self.uc.reg_read(A.UC_ARM64_REG_X29)), ("lr", self.uc.reg_read(A.UC_ARM64_REG_LR)),
                 ("sp", self.uc.reg_read(A.UC_ARM64_REG_SP)), ("nzcv", self.uc.reg_read(A.UC_ARM64_REG_NZCV))]
        for i in range(0, len(regs), 4):
            lines.append("  " + "  ".join(f"{n:>4} {v:#018x}" for n, v in regs[i:i + 4]))
        print("\n".join(lines), file=sys.stderr, flush=True)
