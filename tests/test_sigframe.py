"""The arm64 signal frame as XNU's sendsig lays it out and sigreturn reads it back.

Offsets are checked by reading raw bytes at the places XNU's headers put
them (bsd/sys/signal.h user64_siginfo, bsd/sys/ucontext.h user_ucontext64,
osfmk/mach/arm/_structs.h for mcontext64's parts), not through the module's
own ctypes declarations.
"""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest
from fakemem import FakeMem as Memory
from fakemem import Unmapped

from syscalls.errno import DarwinError
from syscalls.sigframe import (
    UC_FLAVOR,
    UC_RESET_ALT_STACK,
    UC_SET_ALT_STACK,
    UC_TRAD,
    CpuState,
    SigReturn,
    build_frame,
    read_frame,
    sys_sigreturn,
)
from syscalls.sigstate import SignalState

BASE, SIZE = 0x10000, 0x10000
SIGKILL, SIGSEGV, SIGALRM, SIGUSR1 = 9, 11, 14, 30
KEY = 0x0123_4567_89AB_CDEF
HANDLER, TRAMP = 0x1_0000_4000, 0x1_0000_5000

# XNU offsets, from the frame's start
SINFO, UCTX, MCTX, FRAME_SIZE, RED_ZONE = 0, 104, 160, 976, 128
SS, NS = MCTX + 16, MCTX + 288  # mcontext64: __es (16), __ss (272), __ns (528)


def FakeMem() -> Memory:  # noqa: N802 - the tests' name for a fresh one
    return Memory(BASE, SIZE)


def interrupted(sp: int = BASE + 0x8008) -> CpuState:
    """A state with every register distinct; x18 is 0, as user code always sees it after a kernel return."""
    x = [0x1000_0000_0000 + i for i in range(29)]
    x[18] = 0
    v = [((0xA0 + i) << 120) | (i << 64) | (0xFFFF_0000 + i) for i in range(32)]
    return CpuState(
        x=x, fp=sp + 0x40, lr=0x1_0000_1234, sp=sp, pc=0x1_0000_2468, cpsr=0x6000_0000, v=v, fpsr=0x10, fpcr=0x0200_0000
    )


def deliver(
    mem: FakeMem,
    cpu: CpuState,
    signo: int = SIGUSR1,
    *,
    siginfo: bool = True,
    mask: int = 0x2000,
    addr: int = 0,
    code: int = 0,
    pid: int = 77,
    uid: int = 501,
) -> CpuState:
    return build_frame(
        mem.write,
        cpu,
        signo=signo,
        code=code,
        pid=pid,
        uid=uid,
        addr=addr,
        handler=HANDLER,
        tramp=TRAMP,
        siginfo_style=siginfo,
        mask=mask,
        token_key=KEY,
    )


def test_frame_goes_below_the_red_zone_16_aligned_in_one_write():
    mem, cpu = FakeMem(), interrupted()
    entry = deliver(mem, cpu)
    assert entry.sp == (cpu.sp - FRAME_SIZE - RED_ZONE) & ~0xF
    assert entry.sp % 16 == 0
    assert mem.writes == [(entry.sp, FRAME_SIZE)]


def test_trampoline_entry_registers():
    mem, cpu = FakeMem(), interrupted()
    entry = deliver(mem, cpu)
    frame = entry.sp
    assert entry.pc == TRAMP
    assert entry.x[:6] == [HANDLER, UC_FLAVOR, SIGUSR1, frame + SINFO, frame + UCTX, (frame + UCTX) ^ KEY]
    assert entry.x[6:] == cpu.x[6:]
    assert (entry.fp, entry.lr, entry.v, entry.fpsr, entry.fpcr) == (cpu.fp, cpu.lr, cpu.v, cpu.fpsr, cpu.fpcr)
    assert entry.cpsr == 0  # PSR64_USER64_DEFAULT: flags clear


def test_without_sa_siginfo_infostyle_is_uc_trad():
    entry = deliver(FakeMem(), interrupted(), siginfo=False)
    assert entry.x[1] == UC_TRAD


def test_siginfo_fields_for_a_sent_signal():
    mem, cpu = FakeMem(), interrupted()
    s = deliver(mem, cpu, SIGALRM, pid=0, uid=0).sp + SINFO
    assert mem.i32(s + 0) == SIGALRM  # si_signo
    assert mem.i32(s + 4) == 0  # si_errno
    assert mem.i32(s + 8) == 0  # si_code
    assert (mem.i32(s + 12), mem.u32(s + 16)) == (0, 0)  # si_pid, si_uid
    assert mem.i32(s + 20) == SIGALRM  # si_status: what psignal records
    assert mem.u64(s + 24) == cpu.pc  # si_addr: the interrupted pc
    assert mem.u64(s + 48) == cpu.sp  # __pad[0]: the interrupted sp


def test_siginfo_from_kill_carries_sender():
    mem = FakeMem()
    s = deliver(mem, interrupted(), SIGUSR1, pid=4242, uid=501).sp + SINFO
    assert (mem.i32(s + 12), mem.u32(s + 16), mem.i32(s + 20)) == (4242, 501, SIGUSR1)


def test_sigsegv_siginfo_has_fault_address_and_accerr():
    mem, cpu = FakeMem(), interrupted()
    frame = deliver(mem, cpu, SIGSEGV, addr=0xDEAD_BEE0, pid=99, uid=99).sp
    assert mem.u64(frame + 24) == 0xDEAD_BEE0  # si_addr = __es.__far
    assert mem.i32(frame + 8) == 2  # SEGV_ACCERR
    assert (mem.i32(frame + 12), mem.u32(frame + 16), mem.i32(frame + 20)) == (0, 0, 0)
    assert mem.u64(frame + MCTX) == 0xDEAD_BEE0  # __es.__far


def test_ucontext_fields():
    mem = FakeMem()
    frame = deliver(mem, interrupted(), mask=0x4001).sp
    u = frame + UCTX
    assert mem.i32(u + 0) == 0  # uc_onstack
    assert mem.u32(u + 4) == 0x4001  # uc_sigmask: the mask to restore
    assert mem.u64(u + 8) == frame  # uc_stack.ss_sp
    assert (mem.u64(u + 16), mem.i32(u + 24)) == (0, 0)  # uc_stack.ss_size, ss_flags
    assert mem.u64(u + 32) == 0  # uc_link
    assert mem.u64(u + 40) == 816  # uc_mcsize = UC_FLAVOR_SIZE64
    assert mem.u64(u + 48) == frame + MCTX  # uc_mcontext64


def test_mcontext_holds_the_interrupted_state():
    mem, cpu = FakeMem(), interrupted()
    frame = deliver(mem, cpu).sp
    assert [mem.u64(frame + SS + 8 * i) for i in range(29)] == cpu.x
    assert mem.u64(frame + SS + 232) == cpu.fp
    assert mem.u64(frame + SS + 240) == cpu.lr
    assert mem.u64(frame + SS + 248) == cpu.sp
    assert mem.u64(frame + SS + 256) == cpu.pc
    assert mem.u32(frame + SS + 264) == cpu.cpsr
    assert mem.u32(frame + SS + 268) == 1  # flags: NO_PTRAUTH, an arm64 process
    q = mem.read(frame + NS, 512)
    assert [int.from_bytes(q[16 * i : 16 * i + 16], "little") for i in range(32)] == cpu.v
    assert (mem.u32(frame + NS + 512), mem.u32(frame + NS + 516)) == (cpu.fpsr, cpu.fpcr)


def test_round_trip_gives_back_the_state_and_mask():
    mem, cpu = FakeMem(), interrupted()
    entry = deliver(mem, cpu, mask=0x2000)
    state, mask = read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5], KEY)
    assert state == cpu
    assert mask == 0x2000


def test_sigreturn_drops_sigkill_and_sigstop_from_the_mask():
    mem = FakeMem()
    entry = deliver(mem, interrupted(), mask=0xFFFF_FFFF)
    _, mask = read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5], KEY)
    assert mask == 0xFFFF_FFFF & ~(1 << (SIGKILL - 1)) & ~(1 << (17 - 1))


def test_bad_token_is_einval():
    mem = FakeMem()
    entry = deliver(mem, interrupted())
    with pytest.raises(DarwinError) as e:
        read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5] ^ 1, KEY)
    assert e.value.name == "EINVAL"
    with pytest.raises(DarwinError):
        read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5], KEY ^ 1)  # another process's key


def test_bad_token_is_accepted_when_validation_is_off():
    mem, cpu = FakeMem(), interrupted()
    entry = deliver(mem, cpu)
    state, _ = read_frame(mem.read, entry.x[4], entry.x[1], 0, KEY, validate=False)
    assert state == cpu


def test_wrong_mcsize_is_einval():
    mem = FakeMem()
    entry = deliver(mem, interrupted())
    mem.write(entry.x[4] + 40, struct.pack("<Q", 816 - 16))
    with pytest.raises(DarwinError) as e:
        read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5], KEY)
    assert e.value.name == "EINVAL"


def test_sigreturn_follows_uc_mcontext64_and_takes_edits():
    mem, cpu = FakeMem(), interrupted()
    entry = deliver(mem, cpu)
    mem.write(entry.sp + SS + 256, struct.pack("<Q", 0x1_0000_9999))  # a handler moving the pc on
    state, _ = read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5], KEY)
    assert state.pc == 0x1_0000_9999


def test_sigreturn_keeps_only_nzcv_from_the_frame_cpsr():
    mem = FakeMem()
    entry = deliver(mem, interrupted())
    mem.write(entry.sp + SS + 264, struct.pack("<I", 0xFFFF_FFFF))  # EL1h, DAIF, PAN, SS...
    state, _ = read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5], KEY)
    assert state.cpsr == 0xF000_0000


def test_x18_is_saved_but_zero_on_every_return_to_user():
    mem, cpu = FakeMem(), interrupted()
    cpu.x[18] = 0xBAD
    entry = deliver(mem, cpu)
    assert mem.u64(entry.sp + SS + 8 * 18) == 0xBAD
    assert entry.x[18] == 0
    state, _ = read_frame(mem.read, entry.x[4], entry.x[1], entry.x[5], KEY)
    assert state.x[18] == 0


def test_frame_write_to_unmapped_memory_propagates():
    mem = FakeMem()
    with pytest.raises(Unmapped):
        deliver(mem, interrupted(sp=BASE + 0x100))
    assert mem.buf == bytearray(SIZE)


def test_sigreturn_with_an_unmapped_uctx_propagates():
    with pytest.raises(Unmapped):
        read_frame(FakeMem().read, 0x8, UC_FLAVOR, 0x8 ^ KEY, KEY)


def test_sys_sigreturn_raises_sigreturn_with_state_and_mask():
    mem, cpu = FakeMem(), interrupted()
    k = SimpleNamespace(mem=mem, signals=SignalState())
    entry = build_frame(
        mem.write,
        cpu,
        signo=SIGALRM,
        code=0,
        pid=0,
        uid=0,
        addr=0,
        handler=HANDLER,
        tramp=TRAMP,
        siginfo_style=False,
        mask=0x10,
        token_key=k.signals.token_key,
    )
    with pytest.raises(SigReturn) as e:
        sys_sigreturn(k, entry.x[4], entry.x[1], entry.x[5])
    assert e.value.state == cpu
    assert e.value.mask == 0x10


def test_sys_sigreturn_with_another_key_is_einval():
    mem = FakeMem()
    entry = deliver(mem, interrupted())
    k = SimpleNamespace(mem=mem, signals=SignalState())
    with pytest.raises(DarwinError):
        sys_sigreturn(k, entry.x[4], entry.x[1], entry.x[5])


@pytest.mark.parametrize("style", [UC_SET_ALT_STACK, UC_RESET_ALT_STACK])
def test_alt_stack_requests_return_zero_and_read_nothing(style):
    k = SimpleNamespace(mem=FakeMem(), signals=SignalState())
    assert sys_sigreturn(k, 0, style, 0).value == 0  # uctx 0 is never read


def test_each_process_gets_its_own_token_key():
    assert SignalState().token_key != SignalState().token_key
