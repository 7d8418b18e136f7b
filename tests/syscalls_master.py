"""The pinned excerpt of XNU's bsd/kern/syscalls.master: every row our table has.

One copy, for the table's checks (tests/test_syscall_table.py), the check of ymawky.s's own
numbers, and the guests' prelude (tests/guest.py: an ``.equ SYS_name, N`` for every row).
"""

from __future__ import annotations

import re

# --- apple-oss-distributions/xnu @ e3723e1f17661b24996789d8afc084c0c3303b26 (xnu-11417.101.15)
# --- bsd/kern/syscalls.master: every row our table has
SYSCALLS_MASTER = """
1 AUE_EXIT ALL { void exit(int rval) NO_SYSCALL_STUB; }
2 AUE_FORK ALL { int fork(void) NO_SYSCALL_STUB; }
3 AUE_NULL ALL { user_ssize_t read(int fd, user_addr_t cbuf, user_size_t nbyte); }
4 AUE_NULL ALL { user_ssize_t write(int fd, user_addr_t cbuf, user_size_t nbyte); }
5 AUE_OPEN_RWTC ALL { int open(user_addr_t path, int flags, int mode) NO_SYSCALL_STUB; }
6 AUE_CLOSE ALL { int sys_close(int fd); }
7 AUE_WAIT4 ALL { int wait4(int pid, user_addr_t status, int options, user_addr_t rusage) NO_SYSCALL_STUB; }
9 AUE_LINK ALL { int link(user_addr_t path, user_addr_t link); }
10 AUE_UNLINK ALL { int unlink(user_addr_t path) NO_SYSCALL_STUB; }
12 AUE_CHDIR ALL { int sys_chdir(user_addr_t path); }
13 AUE_FCHDIR ALL { int sys_fchdir(int fd); }
20 AUE_GETPID ALL { int getpid(void); }
24 AUE_GETUID ALL { int getuid(void); }
25 AUE_GETEUID ALL { int geteuid(void); }
27 AUE_RECVMSG ALL { int recvmsg(int s, struct msghdr *msg, int flags) NO_SYSCALL_STUB; }
28 AUE_SENDMSG ALL { int sendmsg(int s, caddr_t msg, int flags) NO_SYSCALL_STUB; }
29 AUE_RECVFROM ALL { int recvfrom(int s, void *buf, size_t len, int flags, struct sockaddr *from, int *fromlenaddr) NO_SYSCALL_STUB; }
30 AUE_ACCEPT ALL { int accept(int s, caddr_t name, socklen_t *anamelen) NO_SYSCALL_STUB; }
31 AUE_GETPEERNAME ALL { int getpeername(int fdes, caddr_t asa, socklen_t *alen) NO_SYSCALL_STUB; }
32 AUE_GETSOCKNAME ALL { int getsockname(int fdes, caddr_t asa, socklen_t *alen) NO_SYSCALL_STUB; }
33 AUE_ACCESS ALL { int access(user_addr_t path, int flags); }
37 AUE_KILL ALL { int kill(int pid, int signum, int posix) NO_SYSCALL_STUB; }
39 AUE_GETPPID ALL { int getppid(void); }
41 AUE_DUP ALL { int sys_dup(u_int fd); }
42 AUE_PIPE ALL { int pipe(void); }
43 AUE_GETEGID ALL { int getegid(void); }
46 AUE_SIGACTION ALL { int sigaction(int signum, struct __sigaction *nsa, struct sigaction *osa) NO_SYSCALL_STUB; }
47 AUE_GETGID ALL { int getgid(void); }
48 AUE_SIGPROCMASK ALL { int sigprocmask(int how, user_addr_t mask, user_addr_t omask); }
53 AUE_SIGALTSTACK ALL { int sigaltstack(struct sigaltstack *nss, struct sigaltstack *oss) NO_SYSCALL_STUB ; }
54 AUE_IOCTL ALL { int ioctl(int fd, u_long com, caddr_t data) NO_SYSCALL_STUB; }
57 AUE_SYMLINK ALL { int symlink(char *path, char *link); }
58 AUE_READLINK ALL { int readlink(char *path, char *buf, int count); }
59 AUE_EXECVE ALL { int execve(char *fname, char **argp, char **envp) NO_SYSCALL_STUB; }
60 AUE_UMASK ALL { int umask(int newmask); }
73 AUE_MUNMAP ALL { int munmap(caddr_ut addr, size_ut len) NO_SYSCALL_STUB; }
74 AUE_MPROTECT ALL { int mprotect(caddr_ut addr, size_ut len, int prot) NO_SYSCALL_STUB; }
83 AUE_SETITIMER ALL { int setitimer(u_int which, struct itimerval *itv, struct itimerval *oitv); }
86 AUE_GETITIMER ALL { int getitimer(u_int which, struct itimerval *itv); }
90 AUE_DUP2 ALL { int sys_dup2(u_int from, u_int to); }
92 AUE_FCNTL ALL { int sys_fcntl(int fd, int cmd, long arg) NO_SYSCALL_STUB; }
93 AUE_SELECT ALL { int select(int nd, u_int32_t *in, u_int32_t *ou, u_int32_t *ex, struct timeval *tv) NO_SYSCALL_STUB; }
95 AUE_FSYNC ALL { int fsync(int fd); }
97 AUE_SOCKET ALL { int socket(int domain, int type, int protocol); }
98 AUE_CONNECT ALL { int connect(int s, caddr_t name, socklen_t namelen) NO_SYSCALL_STUB; }
104 AUE_BIND ALL { int bind(int s, caddr_t name, socklen_t namelen) NO_SYSCALL_STUB; }
105 AUE_SETSOCKOPT ALL { int setsockopt(int s, int level, int name, caddr_t val, socklen_t valsize); }
106 AUE_LISTEN ALL { int listen(int s, int backlog) NO_SYSCALL_STUB; }
116 AUE_GETTIMEOFDAY ALL { int gettimeofday(struct timeval *tp, struct timezone *tzp, uint64_t *mach_absolute_time) NO_SYSCALL_STUB; }
117 AUE_GETRUSAGE ALL { int getrusage(int who, struct rusage *rusage); }
118 AUE_GETSOCKOPT ALL { int getsockopt(int s, int level, int name, caddr_t val, socklen_t *avalsize); }
120 AUE_READV ALL { user_ssize_t readv(int fd, struct iovec *iovp, u_int iovcnt); }
121 AUE_WRITEV ALL { user_ssize_t writev(int fd, struct iovec *iovp, u_int iovcnt); }
128 AUE_RENAME ALL { int rename(char *from, char *to) NO_SYSCALL_STUB; }
133 AUE_SENDTO ALL { int sendto(int s, caddr_t buf, size_t len, int flags, caddr_t to, socklen_t tolen) NO_SYSCALL_STUB; }
134 AUE_SHUTDOWN ALL { int shutdown(int s, int how); }
136 AUE_MKDIR ALL { int mkdir(user_addr_t path, int mode); }
137 AUE_RMDIR ALL { int rmdir(char *path) NO_SYSCALL_STUB; }
153 AUE_PREAD ALL { user_ssize_t pread(int fd, user_addr_t buf, user_size_t nbyte, off_t offset); }
154 AUE_PWRITE ALL { user_ssize_t pwrite(int fd, user_addr_t buf, user_size_t nbyte, off_t offset); }
184 AUE_SIGRETURN ALL { int sigreturn(struct ucontext *uctx, int infostyle, user_addr_t token) NO_SYSCALL_STUB; }
188 AUE_STAT ALL { int stat(user_addr_t path, user_addr_t ub); }
189 AUE_FSTAT ALL { int sys_fstat(int fd, user_addr_t ub); }
190 AUE_LSTAT ALL { int lstat(user_addr_t path, user_addr_t ub); }
194 AUE_GETRLIMIT ALL { int getrlimit(u_int which, struct rlimit *rlp) NO_SYSCALL_STUB; }
195 AUE_SETRLIMIT ALL { int setrlimit(u_int which, struct rlimit *rlp) NO_SYSCALL_STUB; }
197 AUE_MMAP ALL { user_addr_t mmap(caddr_ut addr, size_ut len, int prot, int flags, int fd, off_t pos) NO_SYSCALL_STUB; }
199 AUE_LSEEK ALL { off_t lseek(int fd, off_t offset, int whence); }
201 AUE_FTRUNCATE ALL { int ftruncate(int fd, off_t length); }
202 AUE_SYSCTL ALL { int sysctl(int *name, u_int namelen, void *old, size_t *oldlenp, void *new, size_t newlen) NO_SYSCALL_STUB; }
230 AUE_POLL ALL { int poll(struct pollfd *fds, u_int nfds, int timeout); }
337 AUE_SENDFILE ALL { int sendfile(int fd, int s, off_t offset, off_t *nbytes, struct sf_hdtr *hdtr, int flags); }
338 AUE_STAT64 ALL { int stat64(user_addr_t path, user_addr_t ub); }
339 AUE_FSTAT64 ALL { int sys_fstat64(int fd, user_addr_t ub); }
340 AUE_LSTAT64 ALL { int lstat64(user_addr_t path, user_addr_t ub); }
344 AUE_GETDIRENTRIES64 ALL { user_ssize_t getdirentries64(int fd, void *buf, user_size_t bufsize, off_t *position) NO_SYSCALL_STUB; }
396 AUE_NULL ALL { user_ssize_t read_nocancel(int fd, user_addr_t cbuf, user_size_t nbyte) NO_SYSCALL_STUB; }
397 AUE_NULL ALL { user_ssize_t write_nocancel(int fd, user_addr_t cbuf, user_size_t nbyte) NO_SYSCALL_STUB; }
398 AUE_OPEN_RWTC ALL { int open_nocancel(user_addr_t path, int flags, int mode) NO_SYSCALL_STUB; }
399 AUE_CLOSE ALL { int sys_close_nocancel(int fd) NO_SYSCALL_STUB; }
400 AUE_WAIT4 ALL { int wait4_nocancel(int pid, user_addr_t status, int options, user_addr_t rusage) NO_SYSCALL_STUB; }
403 AUE_RECVFROM ALL { int recvfrom_nocancel(int s, void *buf, size_t len, int flags, struct sockaddr *from, int *fromlenaddr) NO_SYSCALL_STUB; }
404 AUE_ACCEPT ALL { int accept_nocancel(int s, caddr_t name, socklen_t *anamelen) NO_SYSCALL_STUB; }
406 AUE_FCNTL ALL { int sys_fcntl_nocancel(int fd, int cmd, long arg) NO_SYSCALL_STUB; }
407 AUE_SELECT ALL { int select_nocancel(int nd, u_int32_t *in, u_int32_t *ou, u_int32_t *ex, struct timeval *tv) NO_SYSCALL_STUB; }
408 AUE_FSYNC ALL { int fsync_nocancel(int fd) NO_SYSCALL_STUB; }
409 AUE_CONNECT ALL { int connect_nocancel(int s, caddr_t name, socklen_t namelen) NO_SYSCALL_STUB; }
411 AUE_READV ALL { user_ssize_t readv_nocancel(int fd, struct iovec *iovp, u_int iovcnt) NO_SYSCALL_STUB; }
412 AUE_WRITEV ALL { user_ssize_t writev_nocancel(int fd, struct iovec *iovp, u_int iovcnt) NO_SYSCALL_STUB; }
413 AUE_SENDTO ALL { int sendto_nocancel(int s, caddr_t buf, size_t len, int flags, caddr_t to, socklen_t tolen) NO_SYSCALL_STUB; }
414 AUE_PREAD ALL { user_ssize_t pread_nocancel(int fd, user_addr_t buf, user_size_t nbyte, off_t offset) NO_SYSCALL_STUB; }
415 AUE_PWRITE ALL { user_ssize_t pwrite_nocancel(int fd, user_addr_t buf, user_size_t nbyte, off_t offset) NO_SYSCALL_STUB; }
417 AUE_POLL ALL { int poll_nocancel(struct pollfd *fds, u_int nfds, int timeout) NO_SYSCALL_STUB; }
463 AUE_OPENAT_RWTC ALL { int openat(int fd, user_addr_t path, int flags, int mode) NO_SYSCALL_STUB; }
464 AUE_OPENAT_RWTC ALL { int openat_nocancel(int fd, user_addr_t path, int flags, int mode) NO_SYSCALL_STUB; }
465 AUE_RENAMEAT ALL { int renameat(int fromfd, char *from, int tofd, char *to) NO_SYSCALL_STUB; }
470 AUE_FSTATAT ALL { int fstatat64(int fd, user_addr_t path, user_addr_t ub, int flag); }
472 AUE_UNLINKAT ALL { int unlinkat(int fd, user_addr_t path, int flag) NO_SYSCALL_STUB; }
475 AUE_MKDIRAT ALL { int mkdirat(int fd, user_addr_t path, int mode); }
488 AUE_RENAMEAT ALL { int renameatx_np(int fromfd, char *from, int tofd, char *to, u_int flags) NO_SYSCALL_STUB; }
500 AUE_NULL ALL { int getentropy(void *buffer, size_t size); }
"""  # noqa: E501 - XNU's lines, kept whole


ROW = re.compile(r"^(\d+)\s+\w+\s+\w+\s+\{\s*(\w+)\s+(\w+)\s*\(([^)]*)\)", re.M)


def master_rows() -> dict[int, tuple[str, str, list[str]]]:
    """number -> (return type, name, argument types) from the pinned syscalls.master lines."""
    rows = {}
    for m in ROW.finditer(SYSCALLS_MASTER):
        args = [] if m.group(4).strip() == "void" else [a.strip() for a in m.group(4).split(",")]
        # "socklen_t *anamelen" -> "socklen_t *": drop the argument's name, keep its type
        types = [" ".join(re.sub(r"\w+$", "", a).replace("*", " * ").split()) for a in args]
        rows[int(m.group(1))] = (m.group(2), m.group(3), types)
    return rows


def user_name(kernel_name: str) -> str:
    """syscalls.master names some kernel functions sys_*; the call's name is the rest."""
    return kernel_name.removeprefix("sys_")
