"""Socket syscalls: socket, bind, listen, accept, setsockopt."""

from __future__ import annotations

import struct

from syscalls.consts import AF, LEVELS, SOCK_TYPE, SOCKOPTS
from syscalls.errno import DarwinError
from syscalls.kernel import Kernel, Ret
from syscalls.structs import SOCKADDR_IN6_LEN, pack_sockaddr, unpack_sockaddr


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


def sys_listen(k: Kernel, fd: int, backlog: int) -> Ret:
    k.host.listen(fd, backlog)
    return Ret(0)


def sys_accept(k: Kernel, fd: int, addr_ptr: int, len_ptr: int) -> Ret:
    room = 0
    if addr_ptr:
        # XNU copies *addrlen in before it accepts; we also check both
        # destinations now, so a bad pointer never costs the connection
        room = struct.unpack("<I", k.mem.read(len_ptr, 4))[0]
        k.probe_writable(len_ptr, 4)
        k.probe_writable(addr_ptr, min(room, SOCKADDR_IN6_LEN))   # the longest address we return
    new, family, addr = k.host.accept(fd)
    writes = []
    if addr_ptr:
        raw = pack_sockaddr(family, addr)
        if room:
            writes.append((addr_ptr, raw[:room]))
        # the full length, even when the address was cut short (XNU accept_nocancel)
        writes.append((len_ptr, struct.pack("<I", len(raw))))
    return Ret(new, writes=writes)


def sys_setsockopt(k: Kernel, fd: int, level: int, name: int, value: bytes, size: int) -> Ret:
    if level not in LEVELS:
        raise DarwinError("ENOPROTOOPT", f"level {level:#x}")
    opt = SOCKOPTS.get((level, name))
    if opt is None:
        raise DarwinError("ENOPROTOOPT", f"option {name:#x}")
    optname, host_opt = opt
    if host_opt is None:  # emulated options: an int, as sooptcopyin demands
        if len(value) < 4:
            raise DarwinError("EINVAL", f"{optname} value of {len(value)} bytes")
        if optname == "SO_NOSIGPIPE":
            k.host.set_nosigpipe(fd, bool(int.from_bytes(value[:4], "little")))
        return Ret(0)
    k.host.setsockopt(fd, LEVELS[level][1], host_opt, value)
    return Ret(0)
