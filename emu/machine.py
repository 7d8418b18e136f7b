"""One emulated Darwin process: Unicorn, its memory, its run loop, its faults.

Owns: mapping the loaded image with its protections, the initial stack
the way dyld calls ``main`` (darwin-abi.md 6.3), the ``svc #0x80`` trap
into the syscall table, the run loop of one process on its thread
(``run_process``), fork's copy of a process (``forked``: a new Unicorn,
the address space and the registers), signal delivery between runs
(``_deliver``, emu/sigdeliver.py) and fault reports (pc, symbol+offset,
source line, instruction, registers).  The processes of a run and their
threads are emu/tree.py's; effects go through the Host only.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from unicorn import (
    UC_ARCH_ARM64,
    UC_HOOK_BLOCK,
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
from emu.native import fastcalls
from emu.regs import GuestBytes, RegisterBatch
from emu.symbols import Symbolizer
from emu.trace_hooks import INTR_CFUNC, Hooks
from emu.vm import UnicornVM
from syscalls.consts import PAGE_SIZE, SA_FLAGS
from syscalls.errno import DARWIN_ERRNO, DarwinError
from syscalls.kernel import BadAddress, GuestExit, GuestKilled, Kernel, Unimplemented
from syscalls.kinds import s32
from syscalls.sigframe import SigReturn
from syscalls.signals import broken_pipe
from syscalls.sigstate import Action
from syscalls.table import SYSCALLS

if TYPE_CHECKING:
    from emu.trace import Tracer
    from emu.tree import ProcessTree
    from syscalls.procs import Proc


class SyscallLog(Protocol):
    """Stands between the trap and the kernel: a recording (emu/record.py) or a replay (emu/replay.py)."""

    def call(self, num: int, regs: list[int]) -> tuple[int, int, bool]: ...
    def signal(self, sig: int, blocks: int, pc: int, key: int) -> None: ...
    def finish(self, status: int) -> None: ...
    def fork(self, child: Machine) -> SyscallLog: ...
    def finish_tree(self, history: list[tuple[str, str]]) -> None: ...


STACK_TOP = 0x1_7000_0000  # like macOS arm64 (stacks sit near 0x16f...)
STACK_SIZE = 8 << 20  # 8 MiB, macOS's default main-thread stack
SENTINEL = 0x7F_F000_0000  # main's lr: "mov x16, #SYS_exit; svc #0x80" = exit(w0)
SENTINEL_CODE = struct.pack("<II", 0xD2800030, 0xD4001001)
PAGE = PAGE_SIZE
TCG_BUFFER = 64 << 20  # translated-code cache (Unicorn reserves 1 GiB by default)
EXCP_SWI = 2  # Unicorn's interrupt number for svc
CARRY = 1 << 29  # NZCV bit C
X_REGS = [getattr(A, f"UC_ARM64_REG_X{i}") for i in range(29)]
ARG_REGS = X_REGS[:8]

EINTR = DARWIN_ERRNO["EINTR"]
SA_RESTART = SA_FLAGS.by_name()["SA_RESTART"]

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
    if insn & 0x7C000000 == 0x14000000:  # B, BL
        return pc + 4, pc + 4 * _sext(insn & 0x3FFFFFF, 26)
    if insn & 0xFF000010 == 0x54000000 or insn & 0x7E000000 == 0x34000000:  # B.cond, CBZ/CBNZ
        return pc + 4, pc + 4 * _sext((insn >> 5) & 0x7FFFF, 19)
    if insn & 0x7E000000 == 0x36000000:  # TBZ, TBNZ
        return pc + 4, pc + 4 * _sext((insn >> 5) & 0x3FFF, 14)
    if insn & 0xFF9FFC1F == 0xD61F0000 or insn & 0xFFE0001F in (0xD4000001, 0xD4200000):  # BR/BLR/RET, SVC, BRK
        return (pc + 4,)
    return ()


STACK_SLACK = 64 << 10  # stack below sp a fork copies (a leaf routine's scratch)
EXIT_INTERNAL = 70  # sysexits.h EX_SOFTWARE: the emulator itself failed
SIGNUM = {"SIGSEGV": 11, "SIGBUS": 10, "SIGILL": 4, "SIGTRAP": 5, "SIGSYS": 12}


class ReplayedSignalMissed(Exception):
    """A replay reached the block where the recording took a signal, at another pc."""

    def __init__(self, sig: int, want: int, got: int) -> None:
        super().__init__(f"the recording took signal {sig} at {want:#x}; the replay is at {got:#x} there")


class Terminated(KeyboardInterrupt):
    """SIGTERM to the emulator: it stops as for Ctrl-C, and says so by its status."""


INTERRUPT_STATUSES = (130, 143)  # 128 + SIGINT, 128 + SIGTERM: the shell's convention


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

    def __init__(self, uc: Uc, fast: GuestBytes | None = None, native: fastcalls.NativeCpu | None = None) -> None:
        self.uc = uc
        self.fast = fast or GuestBytes(uc)
        self.native = native  # fastcalls.c copies out only where this says it may
        self._writable: list[tuple[int, int]] = []

    @property
    def writable(self) -> list[tuple[int, int]]:
        """The writable mappings [lo, hi); change it only by assigning a new list."""
        return self._writable

    @writable.setter
    def writable(self, ranges: list[tuple[int, int]]) -> None:
        self._writable = ranges
        if self.native is not None:
            self.native.ranges(ranges)

    def read(self, addr: int, n: int) -> bytes:
        data = self.fast.read(addr, n) if n >= 0 else None
        if data is None:
            raise BadAddress(addr)
        return data

    def write(self, addr: int, data: bytes) -> None:
        self.probe(addr, len(data))
        if not self.fast.write(addr, bytes(data)):
            raise BadAddress(addr)

    def probe(self, addr: int, n: int) -> None:
        """BadAddress unless ``addr .. addr+n`` lies in one writable mapping (nothing is copied)."""
        end = addr + n
        if not any(lo <= addr and end <= hi for lo, hi in self.writable):
            raise BadAddress(addr)

    def cstr(self, addr: int, limit: int) -> bytes:
        out = b""
        while len(out) < limit:
            chunk = self.read(addr + len(out), min(limit - len(out), PAGE - (addr + len(out)) % PAGE))
            nul = chunk.find(b"\0")
            if nul >= 0:
                return out + chunk[:nul]
            out += chunk
        raise DarwinError("ENAMETOOLONG")


class Cpu:
    """A Unicorn instance and what is bound to it once: the trap's register batches and
    the trap and fault hooks, which call whichever Machine owns it now.  A finished
    process's Cpu goes to the next fork (emu/tree.py), its translated code with it."""

    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
        self.uc.ctl_set_tcg_buffer_size(TCG_BUFFER)  # Unicorn would reserve 1 GiB per instance
        self.owner: Machine | None = None
        self.bytes = GuestBytes(self.uc)
        self.trap_in = RegisterBatch(self.uc, ARG_REGS + [A.UC_ARM64_REG_X16, A.UC_ARM64_REG_NZCV])
        self.trap_out = RegisterBatch(self.uc, [A.UC_ARM64_REG_X0, A.UC_ARM64_REG_X1, A.UC_ARM64_REG_NZCV])
        # the trap, straight through the C library: it is on the path of every syscall;
        # with emu/native/fastcalls.c loaded, C answers the hot calls and hands us the rest
        self.hooks = Hooks(self.uc)
        python = INTR_CFUNC(lambda _h, intno, _d: self.owner._on_interrupt(self.uc, intno, None))
        lib = fastcalls.library()
        self.native: fastcalls.NativeCpu | None = None
        if lib is None:
            self.hooks.interrupt(python)
        else:
            self.native = fastcalls.NativeCpu(
                lib, self.uc, python, ARG_REGS + [A.UC_ARM64_REG_X16, A.UC_ARM64_REG_NZCV],
                [A.UC_ARM64_REG_X0, A.UC_ARM64_REG_X1, A.UC_ARM64_REG_NZCV],
            )  # fmt: skip
            self.hooks.interrupt(self.native.hook, self.native.ptr)
        self.uc.hook_add(
            UC_HOOK_MEM_INVALID,
            lambda uc, access, addr, size, value, d: self.owner._on_bad_access(uc, access, addr, size, value, d),
        )


class Machine:
    """An emulated process, ready to ``run()``."""

    def __init__(
        self,
        image: Image,
        host: Host,
        argv: list[str],
        envp: list[str] | None = None,
        assembly: Assembly | None = None,
        strict: bool = False,
        name: str = "ymawky-emu",
        tracer: Tracer | None = None,
    ) -> None:
        self.image, self.host, self.name = image, host, name
        self.argv = list(argv)
        self.envp = list(envp) if envp is not None else ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/"]
        self.log: SyscallLog | None = None  # record or replay; None: the kernel answers directly
        self.symbols = Symbolizer(image.symbols, assembly, image.slide)
        self._new_cpu()
        for seg in image.segments:
            self._map(seg.vmaddr, seg.vmsize, seg.prot)
            if seg.data:
                self.uc.mem_write(seg.vmaddr, seg.data)
        self._map(STACK_TOP - STACK_SIZE, STACK_SIZE, 3)
        self._map(SENTINEL, PAGE, 5)
        self.uc.mem_write(SENTINEL, SENTINEL_CODE)
        self._start_state(self.argv, self.envp)
        self.kernel = Kernel(host, self.mem, SYSCALLS, strict, where=self._where_pc)
        self.kernel.vm = UnicornVM(self.uc, self.mem)  # mmap, munmap, mprotect
        self.tree: ProcessTree | None = None
        self.proc: Proc | None = None
        from emu.tree import ProcessTree

        ProcessTree(self)  # this is the first process of a run
        self.tracer = tracer  # None: no trace hook at all (emu/trace.py)
        if tracer is not None:
            tracer.attach(self)
        self._bind_native()

    def _new_cpu(self, cpu: Cpu | None = None) -> None:
        """This process's Unicorn: a new one, or ``cpu``, one a finished process left
        (its code still translated)."""
        self.cpu = cpu if cpu is not None else Cpu()
        self.cpu.owner = self
        self.uc = self.cpu.uc
        self._trap_in, self._trap_out = self.cpu.trap_in, self.cpu.trap_out
        self.ended = False  # the process is over: wake() does nothing
        self.cpu_lock = threading.Lock()  # wake() and handing the Unicorn on
        self.mem = GuestMemory(self.uc, self.cpu.bytes, self.cpu.native)
        self.status: int | None = None
        self.fault: Fault | None = None
        self.error: BaseException | None = None
        self.end_signal: int | None = None  # the signal that ended the process
        self._resume: int | None = None  # where to go on after a stop, when not at pc
        self.trapped = False  # a CPU exception ended the last run
        self.killed: int | None = None  # a signal's default action, met in a hook
        self._sig_hook: int | None = None  # the block hook that delivers signals (wake)
        self._signalled = False  # for it: a signal came
        self._blocks = 0  # for it: blocks entered since the last syscall
        self._native_table: fastcalls.NativeTable | None = None  # its closes the Host settles
        self.replay_signals: list[tuple[int, int, int]] = []  # a replay's (blocks, pc, signal) to come

    def forked(self, proc: Proc, host: Host, cpu: Cpu | None = None) -> Machine:
        """The child of a fork in progress (inside this process's trap): its own Unicorn, a copy
        of this address space and these registers, returning from fork with x0 = its pid, x1 = 1."""
        child = object.__new__(Machine)
        child.image, child.host, child.name = self.image, host, self.name
        child.argv, child.envp, child.log = self.argv, self.envp, None
        child.symbols = self.symbols
        child._new_cpu(cpu)
        sp = self.uc.reg_read(A.UC_ARM64_REG_SP)
        # a reused Unicorn (give_cpu) keeps its mappings: the same ones are only written
        # again, and read-only code that is the same stays as it is, translated
        kept = set(child.uc.mem_regions())
        mine = list(self.uc.mem_regions())
        for region in kept.difference(mine):
            child.uc.mem_unmap(region[0], region[1] + 1 - region[0])
        for lo, hi, perms in mine:
            size = hi + 1 - lo
            if (lo, hi, perms) not in kept:
                child.uc.mem_map(lo, size, perms)
            elif not perms & UC_PROT_WRITE:
                self._copy_to(child, lo, size)  # changed code (mprotect): Unicorn drops its translations
                continue
            if lo <= sp <= hi:  # the stack: its live part, and what a leaf may keep below sp
                lo = max(lo, (sp - STACK_SLACK) & ~(PAGE - 1))
            self._copy_to(child, lo, hi + 1 - lo)
        child.mem.writable = list(self.mem.writable)
        child.uc.context_restore(self.uc.context_save())
        child.uc.reg_write(A.UC_ARM64_REG_X0, proc.pid)
        child.uc.reg_write(A.UC_ARM64_REG_X1, 1)
        child.uc.reg_write(A.UC_ARM64_REG_NZCV, child.uc.reg_read(A.UC_ARM64_REG_NZCV) & ~CARRY)
        k = self.kernel
        child.kernel = Kernel(host, child.mem, k.table, k.strict, where=child._where_pc)
        child.kernel.vm = UnicornVM(child.uc, child.mem)
        child.tree, child.proc, child.tracer = None, None, None
        if self._sig_hook is not None:
            child._watch_signals()
        child._bind_native()
        return child

    def _copy_to(self, child: Machine, lo: int, size: int) -> None:
        """Memory [lo, lo+size) into the child's Unicorn, only where it differs; in C without
        the GIL when fastcalls.c is loaded, else with the GIL kept (emu/regs.py)."""
        native = child.cpu.native
        if native is not None and native.copy(self.uc, lo, size):
            return
        now = self.mem.fast.read(lo, size)
        if child.mem.fast.read(lo, size) != now:
            child.mem.fast.write(lo, now)

    def _bind_native(self) -> None:
        """fastcalls.c answers for this process from now on: its descriptors, its wake pipe."""
        native = self.cpu.native
        if native is not None:
            native.sticky(True)  # until run_process knows who else watches the calls
            self._native_table = getattr(getattr(self.host, "fds", None), "native", None)
            native.own(self._native_table, getattr(self.host, "_wake_r", -1))

    def _native_sticky(self) -> None:
        """Every call goes to Python while anything but the kernel must see it: a tracer,
        a recording or replay, a debugger, or signal handlers (whose delivery counts blocks)."""
        native = self.cpu.native
        if native is not None:
            native.sticky(
                self.tracer is not None
                or self.log is not None
                or self.tree is None
                or self.tree.debug is not None
                or self._sig_hook is not None
                or self.proc is None
                or self.proc.signals.catching
                or self.kernel.table is not SYSCALLS
            )

    # ------------------------------------------------------------ set-up
    def _map(self, addr: int, size: int, prot: int) -> None:
        perms = sum(uc for bit, uc in _PROT.items() if prot & bit)
        self.uc.mem_map(addr, size, perms)
        if prot & 2:
            self.mem.writable = [*self.mem.writable, (addr, addr + size)]

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
            if intno == fastcalls.SIGPIPE_UPCALL:  # fastcalls.c met a broken pipe part-way through a write
                broken_pipe(self.kernel, s32(self.cpu.native.pipe_fd()))
                if self.proc.signals.pending and self.proc.signals.deliverable():
                    uc.emu_stop()
                return
            if intno != EXCP_SWI:
                self.fault = Fault("SIGTRAP" if intno == 7 else "SIGILL", f"CPU exception {intno}")
                self.trapped = True  # a real fault, not a stop's stray invalid-fetch report
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
        if self._native_table is not None and self._native_table.pending():
            self.host.settle()  # first: the descriptors fastcalls.c closed are closed here too
        self._blocks = 0  # signals are placed by blocks since the last call
        *regs, x16, nzcv = self._trap_in.read()  # x0-x7, x16, nzcv in one call
        x16 &= 0xFFFFFFFF
        if x16 & 0x80000000:
            num = -((~x16 & 0xFFFFFFFF) + 1)  # Mach traps are negative; none is implemented yet
        else:
            num = x16 & 0xFFFF
            if num == 0:  # indirect syscall: number in x0, arguments from x1
                num, regs = regs[0] & 0xFFFF, regs[1:] + [0]
        if self.tracer is not None:
            self.tracer.syscall_enter(num, regs)
        try:
            x0, x1, carry = (self.kernel if self.log is None else self.log).call(num, regs)
        except SigReturn as back:  # no x0/x1/carry: every register comes from the frame
            from emu.sigdeliver import return_from_handler

            return_from_handler(self, back)
            return
        if carry and x0 == EINTR and self._restarts():
            # as XNU's ERESTART: the svc runs again once the signal has been dealt with
            self._resume = uc.reg_read(A.UC_ARM64_REG_PC) - 4
            uc.emu_stop()
            return
        # only x0, x1 and the carry change (darwin-abi.md 1.1); a handler may have
        # moved no flags (it cannot touch registers), so the nzcv read above holds
        self._trap_out.write([x0, x1, (nzcv | CARRY) if carry else (nzcv & ~CARRY)])
        if self.tracer is not None:  # after the write-back, and in a forked child, in the child
            self.tracer.syscall_exit(x0, x1, carry)
        signals = self.proc.signals
        if self.tree.halted or (signals.pending and signals.deliverable()):
            uc.emu_stop()  # a signal is delivered as the call returns (run_process)
        if self._sig_hook is None and signals.catching:
            self._watch_signals()
            self._native_sticky()  # handlers: every call goes to Python from now on

    def _on_bad_access(self, uc: Uc, access: int, addr: int, size: int, value: int, _data: object) -> bool:
        sig, what = _BAD_ACCESS.get(access, ("SIGSEGV", f"bad access {access}"))
        self.fault = Fault(sig, what, addr)
        return False

    # ------------------------------------------------------------ running
    def warm(self, uc: Uc | None = None) -> int:
        """Translate the program's basic blocks now, in ``uc`` (default: this process's).

        A process that finds its blocks already translated runs its first request
        in well under a millisecond instead of ~20 (unicorn.md); after this, the run
        also translates a spare Unicorn for the first fork (emu/tree.py).  Leaders
        come from a linear sweep of the code from its first symbol: symbols, branch
        targets, and the instruction after each branch or trap.  Returns the number
        of blocks.
        """
        uc = uc or self.uc
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
            code = seg.data[start - seg.vmaddr : (len(seg.data) // 4) * 4]
            for i, (word,) in enumerate(struct.iter_unpack("<I", code)):
                leaders.update(_block_ends(start + 4 * i, word))
        done = 0
        for addr in sorted(leaders):
            try:
                uc.ctl_request_cache(addr)
                done += 1
            except UcError:
                pass  # data that only looked like a block start
        if uc is self.uc:
            self.tree.prepare_spare()
        return done

    def run(self) -> int:
        """Emulate until every guest process has ended; the first one's exit status
        (128 + signal if a fault or a signal ended it; 130/143 after Ctrl-C/SIGTERM).

        Every guest process runs on its own thread (emu/tree.py); this thread
        waits for them all and takes Ctrl-C.
        """
        assert self.tree is not None
        self.uc.reg_write(A.UC_ARM64_REG_PC, self.image.entry)
        return self.tree.run()

    def _outcome(self) -> int:
        """How the last emu_start ended: exit status, or 128 + signal for a fault."""
        if self.status is not None and self.error is None:
            # exit() ends the process: whatever Unicorn did after the stop request
            # (it may go on to take the svc exception) is not the guest's doing
            self.fault = None
            return self.status
        if self.error is not None:
            err, self.error = self.error, None
            if isinstance(err, KeyboardInterrupt):
                return interrupt_status(err)
            if isinstance(err, Unimplemented):
                print(f"{self.name}: --strict: {err}", file=sys.stderr, flush=True)
                self.end_signal = SIGNUM["SIGSYS"]
                return 128 + SIGNUM["SIGSYS"]
            raise err
        if self.fault is not None:
            self._report_fault(self.fault)
            return 128 + SIGNUM[self.fault.signal]
        if self.status is None:
            raise RuntimeError("emulation stopped without exit or fault")
        return self.status

    # ------------------------------------------------------------ one process among others (emu/tree.py)
    def run_process(self) -> int:
        """Emulate this guest process on the calling thread until it ends.

        Returns its exit status, or 128 + the signal that ended it (a fault,
        a signal's default action); ``end_signal`` then names that signal.
        Signals are delivered between runs of Unicorn: a syscall's return
        or a ``wake`` from another thread stops the run first.
        """
        assert self.tree is not None and self.proc is not None
        self._native_sticky()
        try:
            while not self.tree.halted:
                dbg = self.tree.debug  # a debugger (emu/gdb/target.py): it may hold this process here
                count = dbg.gate(self) if dbg is not None else 0
                if self.tree.halted:
                    continue
                self._deliver()  # may move the pc (a handler) or end the process
                pc, self._resume = (self._resume or self.uc.reg_read(A.UC_ARM64_REG_PC)), None
                try:
                    self.uc.emu_start(pc, 1, count=count)  # "until" an odd address: never
                except UcError as e:
                    sig, what = _FAULTS.get(e.errno, ("SIGSEGV", str(e)))
                    if self.fault is None or e.errno == U.UC_ERR_INSN_INVALID:
                        self.fault = Fault(sig, what)
                    if dbg is not None:
                        dbg.faulted(self, SIGNUM[self.fault.signal])
                    break
                if self.killed is not None:
                    raise GuestKilled(self.killed)
                if self.trapped and dbg is not None and self.fault is not None:
                    dbg.faulted(self, SIGNUM[self.fault.signal])
                if self.status is not None or self.error is not None or self.trapped:
                    break
                if dbg is not None:
                    dbg.after_run(self)
                if self.tracer is not None:
                    self.tracer.resume()
                self.fault = None  # see _run: a stop is not a fault
            else:
                return self.tree.halt_status
        except GuestKilled as e:
            self.end_signal = e.signal
            return 128 + e.signal
        status = self._outcome()
        if self.fault is not None and status == 128 + SIGNUM[self.fault.signal]:
            self.end_signal = SIGNUM[self.fault.signal]
        return status

    def give_cpu(self) -> Cpu | None:
        """The process has ended: its Unicorn, for another process to reuse, or None if it
        carries hooks of a tracer or of signal delivery.  Its mappings stay: the next
        owner (``forked``) writes its own contents over them and keeps the translated code."""
        with self.cpu_lock:
            self.ended = True
        if self.tracer is not None or self._sig_hook is not None:
            return None
        if self.cpu.native is not None:
            self.cpu.native.own(None, -1)
        self.cpu.owner = None
        return self.cpu

    def wake(self) -> None:
        """From any thread: a signal (or the end of the run) needs this process now.

        A blocking call ends (EINTR, or a restart).  Code that computes is stopped:
        Unicorn's pc is exact after a stop from another thread only at a hook
        (unicorn.md), so a process with guest handlers has a block hook that
        delivers at the next block; without handlers the signal can only end the
        process, and a stop anywhere will do.
        """
        with self.cpu_lock:
            if self.ended:
                return  # its Unicorn may already run another process
            self.host.interrupt()
            if self.cpu.native is not None:
                self.cpu.native.kick()  # a call C would answer goes to Python, which delivers
            if self._sig_hook is not None and not self.tree.halted:
                self._signalled = True
            else:
                self.uc.emu_stop()

    def _watch_signals(self) -> None:
        """The guest has a handler now: deliver to computing code at block starts (pc exact there)."""

        def on_block(uc: Uc, address: int, _size: int, _data: object) -> None:
            self._blocks += 1
            if self.replay_signals and self.replay_signals[0][0] == self._blocks:
                _, pc, sig = self.replay_signals.pop(0)
                if pc != address:
                    self.error, _ = ReplayedSignalMissed(sig, pc, address), uc.emu_stop()
                    return
                self.proc.signals.pending.add(sig)
                self._signalled = True
            if not self._signalled:
                return
            self._signalled = False
            try:
                uc.reg_write(A.UC_ARM64_REG_PC, address)
                self._deliver()
            except GuestKilled as e:
                self.killed, _ = e.signal, uc.emu_stop()
            except BaseException as e:  # noqa: BLE001 - re-raised after emu_start returns
                self.error, _ = e, uc.emu_stop()

        self._sig_hook = self.uc.hook_add(UC_HOOK_BLOCK, on_block)
        self.uc.ctl_flush_tb()  # blocks translated before the hook would not call it

    def _wants_cpu(self) -> bool:
        """kernel.interrupted: a blocking call should give up (EINTR) for a signal, the end, or a debugger's hold."""
        dbg = self.tree.debug
        return self.tree.halted or self.proc.signals.urgent() or (dbg is not None and not dbg.running)

    def _restarts(self) -> bool:
        """An EINTR from a wait a signal broke: True when the call should run again instead.

        As on a Mac: nothing to deliver (the wake was for a signal since dealt
        with, or ignored), a default action, or a handler with SA_RESTART.
        The end of the run (Ctrl-C) does not restart: the process stops here.
        """
        if self.tree.halted:
            return False
        sig = self.proc.signals.peek()
        if sig is None or self.proc.signals.disposition(sig) != "handler":
            return True
        return bool(self.proc.signals.action(sig).flags & SA_RESTART)

    def _deliver(self) -> None:
        """Act on every pending signal that is not blocked: default action, or enter the handler
        (which a recording notes: where, counted in blocks since the last call returned)."""
        self.host.clear_wake()
        while (sig := self.proc.signals.take()) is not None:
            what = self.proc.signals.disposition(sig)
            if self.tracer is not None and what != "ignore":
                self.tracer.signal(sig, what)
            if what == "kill":
                raise GuestKilled(sig)
            if what == "handler":
                act = self.proc.signals.action(sig)
                if self.log is not None:
                    pc = self._resume if self._resume is not None else self.uc.reg_read(A.UC_ARM64_REG_PC)
                    self.log.signal(sig, self._blocks, pc, self.proc.signals.token_key)
                self._enter_handler(sig, act)

    def _enter_handler(self, sig: int, act: Action) -> None:
        from emu.sigdeliver import enter_handler

        enter_handler(self, sig, act)

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
        who = f"{self.proc.pid} ({self.proc.path})" if self.proc is not None else str(os.getpid())
        lines = [
            f"{self.name}: guest fault in process {who}: {fault.what}{at} ({fault.signal})",
            f"  pc  {self.symbols.describe(pc)}",
            f"      {text}",
        ]
        regs = [(f"x{i}", self.uc.reg_read(r)) for i, r in enumerate(X_REGS)]
        regs += [
            ("fp", self.uc.reg_read(A.UC_ARM64_REG_X29)),
            ("lr", self.uc.reg_read(A.UC_ARM64_REG_LR)),
            ("sp", self.uc.reg_read(A.UC_ARM64_REG_SP)),
            ("nzcv", self.uc.reg_read(A.UC_ARM64_REG_NZCV)),
        ]
        for i in range(0, len(regs), 4):
            lines.append("  " + "  ".join(f"{n:>4} {v:#018x}" for n, v in regs[i : i + 4]))
        print("\n".join(lines), file=sys.stderr, flush=True)
