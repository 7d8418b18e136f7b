"""Socket syscalls: socket, bind, listen, accept, connect, get/setsockopt,
getsockname/getpeername, recvfrom, sendto, shutdown, sendfile.

Owns: sockaddr copy-in/copy-out (sin_len, clipping to ``*addrlen`` and
writing back the full length), SOL_SOCKET/SO_* and MSG_* translation, the
Darwin shapes of option values (timeval with an int32 tv_usec, linger in
ticks, flag options that read back as their own bit) and sendfile's
argument order and ``*len`` in/out.  SIGPIPE is decided in signals.py.
"""

from __future__ import annotations

import socket
import struct

from syscalls.consts import AF, LEVELS, MSG_FLAGS, SHUT, SO_FLAG_OPTIONS, SOCK_TYPE, SOCKOPTS, SOL_SOCKET
from syscalls.errno import DarwinError
from syscalls.kernel import BadAddress, Kernel, Ret
from syscalls.kinds import INT_MAX
from syscalls.signals import broken_pipe
from syscalls.structs import (
    LINGER,
    SF_HDTR,
    SOCKADDR_IN6_LEN,
    SOCKADDR_MAX,
    pack_sockaddr,
    pack_timeval,
    unpack_sockaddr,
    unpack_timeval,
)

MSG_NOSIGNAL = 0x80000


def sys_socket(k: Kernel, domain: int, type_: int, proto: int) -> Ret:
    if domain not in AF or domain == 0:
        raise DarwinError("EAFNOSUPPORT", f"domain {domain}")
    if type_ not in SOCK_TYPE:  # socreate_internal: no protosw of that type, protocol 0
        raise DarwinError("EPROTONOSUPPORT", f"type {type_}")
    return Ret(k.host.socket(AF[domain][1], SOCK_TYPE[type_][1], proto))


def sys_bind(k: Kernel, fd: int, addr: bytes, n: int) -> Ret:
    _, host_addr = unpack_sockaddr(addr, k.host.sock_family(fd))
    k.host.bind(fd, host_addr)
    return Ret(0)


def sys_connect(k: Kernel, fd: int, addr: bytes, n: int) -> Ret:
    _, host_addr = unpack_sockaddr(addr, k.host.sock_family(fd))
    k.host.connect(fd, host_addr)
    return Ret(0)


def sys_listen(k: Kernel, fd: int, backlog: int) -> Ret:
    k.host.listen(fd, backlog)
    return Ret(0)


def _addr_room(k: Kernel, addr_ptr: int, len_ptr: int) -> int:
    """Copy *addrlen in and check both destinations before anything is consumed."""
    room = struct.unpack("<I", k.mem.read(len_ptr, 4))[0]
    k.probe_writable(len_ptr, 4)
    k.probe_writable(addr_ptr, min(room, SOCKADDR_IN6_LEN))  # the longest address we return
    return room


def _addr_out(addr_ptr: int, len_ptr: int, room: int, family: int, addr: tuple | None) -> list:
    raw = pack_sockaddr(family, addr) if addr is not None else b""
    writes = [(addr_ptr, raw[:room])] if room and raw else []
    # the full length, even when the address was cut short (XNU accept_nocancel, getsockname1)
    writes.append((len_ptr, struct.pack("<I", len(raw))))
    return writes


def sys_accept(k: Kernel, fd: int, addr_ptr: int, len_ptr: int) -> Ret:
    room = _addr_room(k, addr_ptr, len_ptr) if addr_ptr else 0
    new, family, addr = k.host.accept(fd)
    return Ret(new, writes=_addr_out(addr_ptr, len_ptr, room, family, addr) if addr_ptr else [])


def sys_getsockname(k: Kernel, fd: int, addr_ptr: int, len_ptr: int) -> Ret:
    return _name(k, fd, addr_ptr, len_ptr, peer=False)


def sys_getpeername(k: Kernel, fd: int, addr_ptr: int, len_ptr: int) -> Ret:
    return _name(k, fd, addr_ptr, len_ptr, peer=True)


def _name(k: Kernel, fd: int, addr_ptr: int, len_ptr: int, peer: bool) -> Ret:
    room = _addr_room(k, addr_ptr, len_ptr)
    family, addr = k.host.sockname(fd, peer=peer)
    # getsockname1: the copy is min(*len, sa_len), and *len is set to that copy's size
    raw = pack_sockaddr(family, addr)
    n = min(room, len(raw))
    return Ret(
        0, writes=[(addr_ptr, raw[:n]), (len_ptr, struct.pack("<I", n))] if n else [(len_ptr, struct.pack("<I", 0))]
    )


def sys_recvfrom(k: Kernel, fd: int, buf: int, n: int, flags: int, from_ptr: int, len_ptr: int) -> Ret:
    if n > INT_MAX:
        raise DarwinError("EINVAL", f"recvfrom of {n} bytes")
    room = _addr_room(k, from_ptr, len_ptr) if from_ptr and len_ptr else 0
    k.probe_writable(buf, min(n, 1))
    data, addr = k.host.recvfrom(fd, n, MSG_FLAGS.to_host(flags, allow_unknown=True))
    k.probe_writable(buf, len(data))
    writes = [(buf, data)] if data else []
    if from_ptr and len_ptr:
        if addr is None:  # a stream socket returns no address: *fromlen = 0
            writes.append((len_ptr, struct.pack("<I", 0)))
        else:
            writes += _addr_out(from_ptr, len_ptr, room, k.host.sock_family(fd), addr)
    return Ret(len(data), writes=writes)


def sys_sendto(k: Kernel, fd: int, data: bytes, n: int, flags: int, to_ptr: int, tolen: int) -> Ret:
    addr = None
    if to_ptr:
        if tolen > SOCKADDR_MAX:
            raise DarwinError("ENAMETOOLONG")
        _, addr = unpack_sockaddr(k.mem.read(to_ptr, tolen), k.host.sock_family(fd))
    try:
        return Ret(k.host.sendto(fd, data, MSG_FLAGS.to_host(flags, allow_unknown=True), addr))
    except BrokenPipeError:
        raise broken_pipe(k, fd, nosignal=bool(flags & MSG_NOSIGNAL)) from None


def sys_shutdown(k: Kernel, fd: int, how: int) -> Ret:
    k.host.sock_family(fd)  # ENOTSOCK first
    if how not in SHUT:
        raise DarwinError("EINVAL", f"how {how}")
    k.host.shutdown(fd, SHUT[how][1])
    return Ret(0)


def _option(level: int, name: int) -> tuple[str, int | None]:
    if level not in LEVELS:
        raise DarwinError("ENOPROTOOPT", f"level {level:#x}")
    opt = SOCKOPTS.get((level, name))
    if opt is None:
        raise DarwinError("ENOPROTOOPT", f"option {name:#x}")
    return opt


def sys_setsockopt(k: Kernel, fd: int, level: int, name: int, value: bytes, size: int) -> Ret:
    k.host.sock_family(fd)  # ENOTSOCK before the option is looked at
    optname, host_opt = _option(level, name)
    if optname in ("SO_SNDTIMEO", "SO_RCVTIMEO"):
        if len(value) < 16:
            raise DarwinError("EINVAL", f"{optname} value of {len(value)} bytes")
        sec, usec = unpack_timeval(value)
        if sec < 0 or usec < 0 or usec >= 1_000_000:
            raise DarwinError("EDOM", f"{optname} {sec}.{usec}")
        value = struct.pack("@ll", sec, usec)
    elif optname in ("SO_LINGER", "SO_LINGER_SEC"):
        if len(value) < LINGER.size:
            raise DarwinError("EINVAL", f"{optname} value of {len(value)} bytes")
        onoff, linger = LINGER.unpack(value[:8])
        secs = linger if optname == "SO_LINGER_SEC" else -(-linger // 100)
        value = struct.pack("@ii", onoff, secs)
    elif len(value) < 4:  # every other option is an int (sooptcopyin)
        raise DarwinError("EINVAL", f"{optname} value of {len(value)} bytes")
    else:
        value = value[:4]
    if host_opt is None:
        if optname == "SO_NOSIGPIPE":
            k.host.sock_type(fd)  # ENOTSOCK for a file, as for any socket option
            k.host.set_nosigpipe(fd, bool(int.from_bytes(value[:4], "little")))
            return Ret(0)
        raise DarwinError("ENOPROTOOPT", f"{optname} cannot be set")
    k.host.setsockopt(fd, LEVELS[level][1], host_opt, value)
    return Ret(0)


def sys_getsockopt(k: Kernel, fd: int, level: int, name: int, val_ptr: int, len_ptr: int) -> Ret:
    k.host.sock_family(fd)
    optname, host_opt = _option(level, name)
    room = 0
    if val_ptr and len_ptr:
        room = struct.unpack("<I", k.mem.read(len_ptr, 4))[0]
    if optname in ("SO_SNDTIMEO", "SO_RCVTIMEO"):
        sec, usec = struct.unpack("@ll", k.host.getsockopt(fd, socket.SOL_SOCKET, host_opt, 16))
        raw = pack_timeval(sec, usec)
    elif optname in ("SO_LINGER", "SO_LINGER_SEC"):
        onoff, secs = struct.unpack("@ii", k.host.getsockopt(fd, socket.SOL_SOCKET, host_opt, 8))
        raw = LINGER.pack(onoff, secs * 100 if optname == "SO_LINGER" else secs)
    else:
        if optname == "SO_NOSIGPIPE":
            v = int(k.host.nosigpipe(fd))
        elif optname == "SO_NREAD":
            v = k.host.nread(fd)
        elif optname == "SO_NWRITE":
            v = k.host.nwrite(fd)
        else:
            v = struct.unpack("<i", k.host.getsockopt(fd, LEVELS[level][1], host_opt, 4))[0]
            if level == SOL_SOCKET and name in SO_FLAG_OPTIONS and v:
                v = name  # sogetoptlock: so_options & name
            elif optname == "SO_TYPE":
                v = next(d for d, (_, h) in SOCK_TYPE.items() if h == v)
            elif optname == "SO_ERROR" and v:
                from syscalls.errno import from_host

                v = from_host(v, socket=True)
        raw = struct.pack("<i", v)
    n = min(room, len(raw))
    writes = []
    if val_ptr and len_ptr:
        k.probe_writable(val_ptr, n)
        writes = [(val_ptr, raw[:n]), (len_ptr, struct.pack("<I", n))]
    return Ret(0, writes=writes)


def sys_sendfile(k: Kernel, fd: int, s: int, offset: int, len_ptr: int, hdtr: int, flags: int) -> Ret:
    """sendfile(file, socket, offset, *len, hdtr, flags), as uipc_syscalls.c does it.

    ``*len`` in: bytes wanted, headers included (0: to the end of the file);
    out: bytes sent, headers and trailers included -- written back even
    when the call fails.  The file's own offset does not move.
    """
    sent = 0
    try:
        if k.host.kind(fd) != "file":
            raise DarwinError("ENOTSUP", "sendfile from a non-file")
        if k.host.sock_type(s) != socket.SOCK_STREAM:  # ENOTSOCK for a file
            raise DarwinError("EINVAL", "sendfile to a non-stream socket")
        k.host.sockname(s, peer=True)  # ENOTCONN unless connected
        if offset < 0 or not len_ptr or flags != 0:
            raise DarwinError("EINVAL", f"offset {offset} flags {flags}")
        want = struct.unpack("<q", k.mem.read(len_ptr, 8))[0]
        headers, trailers = _hdtr(k, hdtr)
        if headers:
            sent += k.host.write(s, headers)
        size = k.host.fstat(fd).st_size
        pos = offset
        while pos < size and (want == 0 or sent < want):
            n = k.host.sendfile(s, fd, pos, (size - pos) if want == 0 else min(want - sent, size - pos))
            if n == 0:
                break
            sent += n
            pos += n
        if trailers:
            sent += k.host.write(s, trailers)
    except (DarwinError, OSError) as e:
        if len_ptr:
            try:
                k.mem.write(len_ptr, struct.pack("<q", sent))
            except BadAddress:
                pass
        if isinstance(e, BrokenPipeError):
            raise broken_pipe(k, s) from None
        raise
    return Ret(0, writes=[(len_ptr, struct.pack("<q", sent))])


def _hdtr(k: Kernel, hdtr: int) -> tuple[bytes, bytes]:
    """The header and trailer bytes of a struct sf_hdtr (each an iovec array)."""
    if not hdtr:
        return b"", b""
    from syscalls.iov import iovecs

    h_ptr, h_cnt, t_ptr, t_cnt = SF_HDTR.unpack(k.mem.read(hdtr, SF_HDTR.size))
    parts = []
    for ptr, cnt in ((h_ptr, h_cnt), (t_ptr, t_cnt)):
        parts.append(b"".join(k.mem.read(b, n) for b, n in iovecs(k, ptr, cnt) if n) if ptr else b"")
    return parts[0], parts[1]
