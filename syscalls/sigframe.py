"""The arm64 Darwin signal frame: what sendsig writes below the stack, what sigreturn reads back.

Owns: the layout of XNU's 64-bit signal frame, declared once, field by
field; building it for a signal about to be delivered (``build_frame``,
XNU's ``sendsig``); checking and reading it for ``sigreturn`` (184)
(``read_frame``, ``sys_sigreturn``).  Source: ``bsd/dev/arm/unix_signal.c``.

Does not own: which signal is delivered when, the mask a handler runs
under, or Unicorn's registers.  Both directions hand back a ``CpuState``
and the machine writes every register from it.  sigaltstack is not
modelled: the frame always goes on the interrupted stack, ``uc_onstack``
is 0, and sigreturn's two alt-stack requests change nothing.

The frame, from the lowest address (``struct user_sigframe64``):

    frame+0     user64_siginfo      104 bytes
    frame+104   user_ucontext64      56 bytes  (x4 points here; the token is made from it)
    frame+160   mcontext64          816 bytes  (uc_mcontext64 points here)
    frame+976   128-byte red zone, then the interrupted sp

and ``frame = (sp - 976 - 128) & ~15``.
"""

from __future__ import annotations

from collections.abc import Callable
from ctypes import LittleEndianStructure, c_int32, c_int64, c_uint32, c_uint64, sizeof
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from syscalls.consts import SIGNAL_NUMBER
from syscalls.errno import DarwinError
from syscalls.kernel import Ret
from syscalls.signals import CANT_MASK

if TYPE_CHECKING:
    from syscalls.kernel import Kernel

MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1

# infostyle, x1 at the trampoline and sigreturn's second argument (unix_signal.c)
UC_TRAD = 1  # handler(signo)
UC_FLAVOR = 30  # SA_SIGINFO: handler(signo, &siginfo, &ucontext)
UC_SET_ALT_STACK = 0x40000000  # sigreturn requests that only flip the thread's SA_ONSTACK
UC_RESET_ALT_STACK = 0x80000000

RED_ZONE = 128  # C_64_REDZONE_LEN: left untouched below the interrupted sp

# cpsr -- osfmk/arm64/proc_reg.h
PSR64_NZCV_MASK = 0xF0000000  # = PSR64_USER_MASK: the only bits a thread state may set
PSR64_MODE_MASK = 0x1F  # M[4:0]; 0 = EL0t, AArch64
PSR64_USER64_DEFAULT = 0  # EL0t, AArch64, flags clear (plus SSBS on CPUs with FEAT_SSBS2)

# arm_thread_state64.flags as an arm64 (not arm64e) process sees it: its pointers are
# not signed (machine_thread_state_convert_to_user, osfmk/arm64/status.c)
THREAD_STATE64_FLAGS_NO_PTRAUTH = 0x1

# exception_return (osfmk/arm64/locore.s) zeroes x18 on every return to EL0
X18 = 18

# si_code for the signals sendsig fills itself -- bsd/sys/signal.h
SIGILL, SIGFPE, SIGBUS, SIGSEGV = (SIGNAL_NUMBER[n] for n in ("SIGILL", "SIGFPE", "SIGBUS", "SIGSEGV"))
ILL_ILLTRP, BUS_ADRALN, SEGV_ACCERR = 2, 1, 2
FAULT_SI_CODE = {SIGILL: ILL_ILLTRP, SIGBUS: BUS_ADRALN, SIGSEGV: SEGV_ACCERR}


# ----------------------------------------------------------------- layouts
class ExceptionState64(LittleEndianStructure):
    """struct arm_exception_state64 (osfmk/mach/arm/_structs.h)."""

    _fields_ = [("far", c_uint64), ("esr", c_uint32), ("exception", c_uint32)]


class ThreadState64(LittleEndianStructure):
    """struct arm_thread_state64; user headers call ``flags`` ``__pad``."""

    _fields_ = [
        ("x", c_uint64 * 29),
        ("fp", c_uint64),
        ("lr", c_uint64),
        ("sp", c_uint64),
        ("pc", c_uint64),
        ("cpsr", c_uint32),
        ("flags", c_uint32),
    ]


class NeonState64(LittleEndianStructure):
    """struct arm_neon_state64: __uint128_t v[32] (low half first), fpsr, fpcr.

    The 128-bit members make the C struct 16-byte aligned, so it ends in
    8 bytes of padding (520 -> 528); ctypes has no 128-bit type, hence ``_tail``.
    """

    _fields_ = [("v", (c_uint64 * 2) * 32), ("fpsr", c_uint32), ("fpcr", c_uint32), ("_tail", c_uint64)]


class MContext64(LittleEndianStructure):
    """struct mcontext64 (bsd/arm/_mcontext.h): __es, __ss, __ns."""

    _fields_ = [("es", ExceptionState64), ("ss", ThreadState64), ("ns", NeonState64)]


class SigAltStack64(LittleEndianStructure):
    """struct user64_sigaltstack: ss_sp, ss_size, ss_flags (then 4 bytes of padding)."""

    _fields_ = [("ss_sp", c_uint64), ("ss_size", c_uint64), ("ss_flags", c_int32)]


class UContext64(LittleEndianStructure):
    """struct user_ucontext64 (bsd/sys/ucontext.h)."""

    _fields_ = [
        ("uc_onstack", c_int32),
        ("uc_sigmask", c_uint32),
        ("uc_stack", SigAltStack64),
        ("uc_link", c_uint64),
        ("uc_mcsize", c_uint64),
        ("uc_mcontext64", c_uint64),
    ]


class SigInfo64(LittleEndianStructure):
    """struct user64_siginfo (bsd/sys/signal.h); sendsig puts the interrupted sp in pad[0]."""

    _fields_ = [
        ("si_signo", c_int32),
        ("si_errno", c_int32),
        ("si_code", c_int32),
        ("si_pid", c_int32),
        ("si_uid", c_uint32),
        ("si_status", c_int32),
        ("si_addr", c_uint64),
        ("si_value", c_uint64),
        ("si_band", c_int64),
        ("pad", c_uint64 * 7),
    ]


class SigFrame64(LittleEndianStructure):
    """struct user_sigframe64 (bsd/dev/arm/unix_signal.c)."""

    _fields_ = [("sinfo", SigInfo64), ("uctx", UContext64), ("mctx", MContext64)]


# UC_FLAVOR_SIZE64 = (ARM_THREAD_STATE64_COUNT 68 + ARM_EXCEPTION_STATE64_COUNT 4
#                     + ARM_NEON_STATE64_COUNT 132) * sizeof(int); sigreturn accepts no other uc_mcsize
UC_FLAVOR_SIZE64 = (68 + 4 + 132) * 4
assert sizeof(ThreadState64) == 68 * 4 and sizeof(ExceptionState64) == 4 * 4 and sizeof(NeonState64) == 132 * 4
assert sizeof(MContext64) == UC_FLAVOR_SIZE64 == 816
assert sizeof(SigInfo64) == 104 and sizeof(UContext64) == 56 and sizeof(SigFrame64) == 976
assert SigFrame64.uctx.offset == 104 and SigFrame64.mctx.offset == 160 and MContext64.ns.offset == 288


# ----------------------------------------------------------------- register state
@dataclass
class CpuState:
    """The user registers a signal saves and sigreturn restores (arm_thread_state64 + arm_neon_state64)."""

    x: list[int] = field(default_factory=lambda: [0] * 29)  # x0..x28
    fp: int = 0
    lr: int = 0
    sp: int = 0
    pc: int = 0
    cpsr: int = 0  # u32: NZCV in bits 31..28
    v: list[int] = field(default_factory=lambda: [0] * 32)  # q0..q31, 128 bits each
    fpsr: int = 0
    fpcr: int = 0

    def __post_init__(self) -> None:
        if len(self.x) != 29 or len(self.v) != 32:
            raise ValueError(f"CpuState needs 29 x and 32 v registers, got {len(self.x)} and {len(self.v)}")

    def copy(self) -> CpuState:
        return CpuState(list(self.x), self.fp, self.lr, self.sp, self.pc, self.cpsr, list(self.v), self.fpsr, self.fpcr)


def _user_cpsr(asked: int, live: int) -> int:
    """The cpsr a thread-state write leaves (thread_state64_to_saved_state).

    N, Z, C and V come from the state being written; M is forced to EL0t,
    AArch64; every other bit (DAIF, PAN, SS, IL, SSBS...) stays as the live
    thread had it.  So no saved frame can raise its privilege or mask
    interrupts.
    """
    return (asked & PSR64_NZCV_MASK) | (live & ~(PSR64_NZCV_MASK | PSR64_MODE_MASK) & MASK32)


def _store(mc: MContext64, cpu: CpuState, far: int) -> None:
    """The mcontext sendsig_get_state64 fills: the live thread state, as it is."""
    ss = mc.ss
    ss.x[:] = [r & MASK64 for r in cpu.x]
    ss.fp, ss.lr, ss.sp, ss.pc = cpu.fp & MASK64, cpu.lr & MASK64, cpu.sp & MASK64, cpu.pc & MASK64
    ss.cpsr = cpu.cpsr & MASK32
    ss.flags = THREAD_STATE64_FLAGS_NO_PTRAUTH
    mc.es.far = far & MASK64
    for i, q in enumerate(cpu.v):
        mc.ns.v[i][0], mc.ns.v[i][1] = q & MASK64, (q >> 64) & MASK64
    mc.ns.fpsr, mc.ns.fpcr = cpu.fpsr & MASK32, cpu.fpcr & MASK32


def _load(mc: MContext64) -> CpuState:
    ss = mc.ss
    return CpuState(
        list(ss.x), ss.fp, ss.lr, ss.sp, ss.pc, ss.cpsr, [lo | hi << 64 for lo, hi in mc.ns.v], mc.ns.fpsr, mc.ns.fpcr
    )


def _fill_siginfo(
    si: SigInfo64, cpu: CpuState, signo: int, code: int, pid: int, uid: int, addr: int, status: int | None
) -> None:
    """sendsig's siginfo: some fields by signal, as its switch (sig) does."""
    si.si_signo = signo
    si.si_addr = cpu.pc & MASK64  # the interrupted instruction ...
    si.pad[0] = cpu.sp & MASK64
    if signo in (SIGBUS, SIGSEGV):
        si.si_addr = addr & MASK64  # ... except for a memory fault: the faulting address
    if signo in FAULT_SI_CODE:
        si.si_code = FAULT_SI_CODE[signo]
    elif signo == SIGFPE:
        si.si_code = code  # XNU derives FPE_* from the exception; the caller did
    else:
        # what the sender recorded in the proc (psignal: sender's pid and ruid, code 0,
        # status W_EXITCODE(signo, 0), which sendsig shifts back to signo; SIGCHLD: the child's)
        si.si_pid, si.si_uid, si.si_code = pid, uid & MASK32, code
        si.si_status = signo if status is None else status


# ----------------------------------------------------------------- sendsig
def build_frame(
    write: Callable[[int, bytes], None],
    cpu: CpuState,
    *,
    signo: int,
    code: int,
    pid: int,
    uid: int,
    addr: int,
    handler: int,
    tramp: int,
    siginfo_style: bool,
    mask: int,
    token_key: int,
    status: int | None = None,
) -> CpuState:
    """Write the signal frame below ``cpu.sp``; return the state the guest enters ``tramp`` with.

    ``cpu`` is the interrupted state (``pc`` = where execution resumes after
    the handler).  ``mask`` is the mask sigreturn will restore (uc_sigmask),
    not the one the handler runs under.  ``addr`` is the fault address: it
    becomes ``__es.__far`` and, for SIGSEGV and SIGBUS, ``si_addr``; every
    other signal gets ``si_addr`` = pc.  SIGILL/SIGBUS/SIGSEGV take XNU's
    fixed si_code and leave pid/uid/status 0; other signals take ``code``,
    ``pid``, ``uid`` and ``status`` (None: the signal number, which is what
    XNU reports for a signal sent by kill or a timer).  ``token_key`` is
    the per-process secret: x5 = &ucontext ^ token_key.

    The frame goes out in one write, as XNU's single copyout; if it raises,
    nothing else changes (XNU then resets SIGILL to SIG_DFL and sends it:
    the caller's move).
    """
    sp = (cpu.sp - sizeof(SigFrame64) - RED_ZONE) & ~0xF & MASK64
    frame = SigFrame64()  # zero-filled, as XNU's bzero
    _fill_siginfo(frame.sinfo, cpu, signo, code, pid, uid, addr, status)
    uc = frame.uctx  # sendsig_fill_uctx64, not on an alt stack
    uc.uc_sigmask = mask & MASK32
    uc.uc_stack.ss_sp = sp  # the frame's own address, size 0
    uc.uc_mcsize = UC_FLAVOR_SIZE64
    uc.uc_mcontext64 = sp + SigFrame64.mctx.offset
    _store(frame.mctx, cpu, addr)
    write(sp, bytes(frame))

    uctx = sp + SigFrame64.uctx.offset
    entry = cpu.copy()  # sendsig_set_thread_state64: only these change
    entry.x[0:6] = [
        handler & MASK64,
        UC_FLAVOR if siginfo_style else UC_TRAD,
        signo,
        sp + SigFrame64.sinfo.offset,
        uctx,
        (uctx ^ token_key) & MASK64,
    ]
    entry.pc, entry.sp = tramp & MASK64, sp
    entry.cpsr = _user_cpsr(PSR64_USER64_DEFAULT, cpu.cpsr)
    entry.x[X18] = 0
    return entry


# ----------------------------------------------------------------- sigreturn
def read_frame(
    read: Callable[[int, int], bytes], uctx: int, infostyle: int, token: int, token_key: int, *, validate: bool = True
) -> tuple[CpuState, int]:
    """sigreturn(uctx, infostyle, token): (state to resume, mask to restore), or DarwinError.

    In XNU's order: copy in the ucontext (a bad pointer is ``read``'s own
    error, EFAULT to the guest); uc_mcsize must be UC_FLAVOR_SIZE64 (else
    EINVAL); copy in the mcontext from uc_mcontext64; then the token must
    equal uctx ^ token_key (else EINVAL).  ``infostyle`` is not looked at:
    XNU reads it only for the two alt-stack requests (see sys_sigreturn).
    ``validate=False`` is XNU's PS_SIGRETURN_VALIDATION_DISABLED (the
    process's first sigaction lacked SA_VALIDATE_SIGRETURN_FROM_SIGTRAMP).

    Not reproduced: XNU installs the frame's mask *before* it checks the
    token, so a rejected sigreturn still changes the mask.  Here an
    EINVAL changes nothing.

    The state's cpsr holds only the frame's N, Z, C, V: XNU takes nothing
    else from it (EL0t, AArch64 forced; the other bits stay the live
    thread's, which the machine keeps).  x18 is 0, as on every return to EL0.
    """
    uc = UContext64.from_buffer_copy(read(uctx, sizeof(UContext64)))
    if uc.uc_mcsize != UC_FLAVOR_SIZE64:
        raise DarwinError("EINVAL", f"sigreturn: uc_mcsize {uc.uc_mcsize}, not {UC_FLAVOR_SIZE64}")
    mc = MContext64.from_buffer_copy(read(uc.uc_mcontext64, sizeof(MContext64)))
    mask = uc.uc_sigmask & ~CANT_MASK & MASK32  # sigcantmask: SIGKILL and SIGSTOP
    if validate and (token & MASK64) != ((uctx ^ token_key) & MASK64):
        raise DarwinError("EINVAL", f"sigreturn: token {token & MASK64:#x} does not match uctx {uctx:#x}")
    state = _load(mc)
    state.cpsr = _user_cpsr(mc.ss.cpsr, 0)
    state.x[X18] = 0
    return state, mask


class SigReturn(Exception):
    """sigreturn succeeded: resume at ``state`` with ``mask`` as the signal mask.

    XNU answers EJUSTRETURN: no x0/x1/carry is written, every register
    comes from the frame.  The machine catches this, writes ``state`` whole,
    installs ``mask`` and delivers anything it unblocks.
    """

    def __init__(self, state: CpuState, mask: int) -> None:
        super().__init__(f"sigreturn to {state.pc:#x}, mask {mask:#x}")
        self.state = state
        self.mask = mask


def sys_sigreturn(k: Kernel, uctx: int, infostyle: int, token: int) -> Ret:
    """sigreturn (184): raises SigReturn, or DarwinError; returns only for an alt-stack request.

    UC_SET_ALT_STACK / UC_RESET_ALT_STACK (exactly, as XNU compares) only
    flip the thread's SA_ONSTACK and return 0, reading no frame; with no
    sigaltstack here they change nothing.
    """
    if (infostyle & MASK32) in (UC_SET_ALT_STACK, UC_RESET_ALT_STACK):
        return Ret(0)
    state, mask = read_frame(k.mem.read, uctx, infostyle, token, k.signals.token_key)
    raise SigReturn(state, mask)
