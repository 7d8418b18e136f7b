"""Socket syscalls: socket, bind, listen, accept, setsockopt."""

from __future__ import annotations

import struct

from syscalls.consts import AF, LEVELS, SOCK_TYPE, SOCKOPTS
from syscalls.errno import DarwinError
from syscalls.kernel import Kernel, Ret
from syscalls.structs import pack_sockaddr, unpack_sockaddr


def sys_socket(k: Kernel, domain: int, type_: int, proto: int) -> Ret:
    if domain not in AF or domain == 0:
        raise DarwinError("EAFNOSUPPORT", f"domain {domain}")
    if type_ not in SOCK_TYPE:
        raise DarwinError("EPROTOTYPE" if type_ > 0 else "EINVAL", f"type {type_}")
    return Ret(k.host.socket(AF[domain][1], SOCK_TYPE[type_][1], proto))


def sys_bind(k: Kernel, fd: int, addr: bytes, n: int) -> Ret:
    if len(addr) > 255:
        raise DarwinError("ENAMETOOLONG")
    _, host_addr = unpack_sockaddr(addr)
    k.host.bind(fd, host_addr)
    return Ret(0)


def sys_listen(k: Kernel, fd: int, backlog: int) -> Ret:
    k.host.listen(fd, backlog)
    return Ret(0)


def sys_accept(k: Kernel, fd: int, addr_ptr: int, len_ptr: int) -> Ret:
    new, family, addr = k.host.accept(fd)
    writes = []
    if addr_ptr and len_ptr:
        raw = pack_sockaddr(family, addr)
        room = struct.unpack("<I", k.mem.read(len_ptr, 4))[0]
        writes = [(addr_ptr, raw[:room]), (len_ptr, struct.pack("<I", len(raw)))]
    return Ret(new, writes=writes)


def sys_setsockopt(k: Kernel, fd: int, level: int, name: int, value: bytes, size: int) -> Ret:
    if level not in LEVELS:
        raise DarwinError("ENOPROTOOPT", f"level {level:#x}")
    opt = SOCKOPTS.get((level, name))
    if opt is None:
        raise DarwinError("ENOPROTOOPT", f"option {name:#x}")
    optname, host_opt = opt
    if host_opt is None:  # emulated options
        if optname == "SO_NOSIGPIPE":
            k.host.set_nosigpipe(fd, bool(int.from_bytes(value[:4], "little")))
        return Ret(0)
    k.host.setsockopt(fd, LEVELS[level][1], host_opt, value)
    return Ret(0)
