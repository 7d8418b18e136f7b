"""Signals on a Machine's CPU: entering a guest handler, and sigreturn coming back.

Owns: moving the registers between Unicorn and syscalls/sigframe.py's
CpuState, the mask a handler runs under (its sa_mask, plus the signal
itself unless SA_NODEFER), SA_RESETHAND, and what happens when the frame
cannot be written (XNU: the process gets SIGILL, by its default action).
The frame's layout and the token check are sigframe.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unicorn import Uc
from unicorn import arm64_const as A

from syscalls.consts import SA_FLAGS, SIG_CANT_CATCH, SIGNAL_NUMBER
from syscalls.kernel import BadAddress, GuestKilled
from syscalls.sigframe import CpuState, SigReturn, build_frame
from syscalls.sigstate import Action

if TYPE_CHECKING:
    from emu.machine import Machine

_X = [getattr(A, f"UC_ARM64_REG_X{i}") for i in range(29)]
_Q = [getattr(A, f"UC_ARM64_REG_Q{i}") for i in range(32)]
_FLAG = SA_FLAGS.by_name()
SIGILL = SIGNAL_NUMBER["SIGILL"]
CANT_MASK = sum(1 << (s - 1) for s in SIG_CANT_CATCH)
SI_USER = 0x10001  # bsd/sys/signal.h: sent by kill (or the kernel on its behalf)


def read_cpu(uc: Uc) -> CpuState:
    return CpuState(
        [uc.reg_read(r) for r in _X],
        uc.reg_read(A.UC_ARM64_REG_X29),
        uc.reg_read(A.UC_ARM64_REG_LR),
        uc.reg_read(A.UC_ARM64_REG_SP),
        uc.reg_read(A.UC_ARM64_REG_PC),
        uc.reg_read(A.UC_ARM64_REG_NZCV),
        [uc.reg_read(r) for r in _Q],
        uc.reg_read(A.UC_ARM64_REG_FPSR),
        uc.reg_read(A.UC_ARM64_REG_FPCR),
    )


def write_cpu(uc: Uc, st: CpuState) -> None:
    for r, v in zip(_X, st.x, strict=True):
        uc.reg_write(r, v)
    for r, v in zip(_Q, st.v, strict=True):
        uc.reg_write(r, v)
    uc.reg_write(A.UC_ARM64_REG_X29, st.fp)
    uc.reg_write(A.UC_ARM64_REG_LR, st.lr)
    uc.reg_write(A.UC_ARM64_REG_SP, st.sp)
    uc.reg_write(A.UC_ARM64_REG_NZCV, st.cpsr & 0xF0000000)  # only the flags are the guest's to set
    uc.reg_write(A.UC_ARM64_REG_FPSR, st.fpsr)
    uc.reg_write(A.UC_ARM64_REG_FPCR, st.fpcr)


def enter_handler(m: Machine, sig: int, act: Action) -> None:
    """Deliver ``sig`` to its guest handler: frame on the stack, pc at the trampoline.

    Called between two runs of Unicorn; the next run starts at the new pc.
    If a stop left the process to resume elsewhere (a restarted syscall),
    that is where sigreturn brings it back.
    """
    assert m.proc is not None
    sigs = m.proc.signals
    cpu = read_cpu(m.uc)
    if m._resume is not None:
        cpu.pc, m._resume = m._resume, None
    try:
        # the sender is not kept: si_pid and si_uid are 0, as for a signal the kernel sends (a timer)
        entry = build_frame(
            m.mem.write,
            cpu,
            signo=sig,
            code=SI_USER,
            pid=0,
            uid=0,
            addr=0,
            handler=act.handler,
            tramp=act.tramp,
            siginfo_style=bool(act.flags & _FLAG["SA_SIGINFO"]),
            mask=sigs.mask,
            token_key=sigs.token_key,
        )
    except BadAddress:
        # no room for the frame (a bad sp): as XNU, the process dies by SIGILL
        raise GuestKilled(SIGILL) from None
    with sigs.lock:
        blocked = sigs.mask | act.mask | (0 if act.flags & _FLAG["SA_NODEFER"] else 1 << (sig - 1))
        sigs.mask = blocked & ~CANT_MASK & 0xFFFFFFFF
    if act.flags & _FLAG["SA_RESETHAND"]:
        sigs.set_action(sig, Action())
    write_cpu(m.uc, entry)
    m.uc.reg_write(A.UC_ARM64_REG_PC, entry.pc)


def return_from_handler(m: Machine, back: SigReturn) -> None:
    """sigreturn: every register and the mask as the frame has them (inside the trap)."""
    write_cpu(m.uc, back.state)
    with m.kernel.signals.lock:
        m.kernel.signals.mask = back.mask
    m._resume = back.state.pc
    m.uc.emu_stop()  # the next run starts at the frame's pc, and delivers what is unblocked
