// ymawky.s -- a static HTTP/1.1 server in AArch64 assembly for macOS.
//
// No libc: every effect is a raw Darwin syscall (svc #0x80, number in
// x16, failure = carry flag set with the errno in x0).  One process per
// connection: the parent accepts and forks, the child answers and exits.
//
// It assembles two ways from this one file:
//   Keystone (the emulator):  one section, adr for addresses.
//   clang -target arm64-apple-macos11 -Wa,-defsym,APPLE=1:  the same
//   program for a real Mac, with adrp/add and a __DATA section.
//
// Contents
//   1. Constants    syscall numbers, flags, struct offsets, limits
//   2. Macros       SYSCALL, LOAD_ADDR, SEND
//   3. Start-up     main: port from argv[1], socket, bind, listen
//   4. Accept loop  accept, reap finished children, fork
//   5. Connection   what the child does: read, parse, answer, exit
//   6. Files        open under www/, fstat64, send headers and body
//   7. Utilities    write_all, copy, utoa, parse_port
//   8. Texts        response lines and pages (read-only)
//   9. Buffers      writable data and zero-filled buffers, last

// ===== 1. Constants =========================================================
// Values from xnu bsd/kern/syscalls.master and bsd/sys/*.h.

// syscalls: number        prototype
.equ SYS_exit,       1     // void exit(int status)
.equ SYS_fork,       2     // int fork(void): x1 = 1 in the child
.equ SYS_read,       3     // ssize_t read(int fd, void *buf, size_t n)
.equ SYS_write,      4     // ssize_t write(int fd, const void *buf, size_t n)
.equ SYS_open,       5     // int open(const char *path, int flags, int mode)
.equ SYS_close,      6     // int close(int fd)
.equ SYS_wait4,      7     // int wait4(int pid, int *status, int options, struct rusage *ru)
.equ SYS_accept,    30     // int accept(int s, struct sockaddr *addr, socklen_t *len)
.equ SYS_socket,    97     // int socket(int domain, int type, int protocol)
.equ SYS_bind,     104     // int bind(int s, const struct sockaddr *addr, socklen_t len)
.equ SYS_setsockopt, 105   // int setsockopt(int s, int level, int name, const void *val, socklen_t len)
.equ SYS_listen,   106     // int listen(int s, int backlog)
.equ SYS_fstat64,  339     // int fstat64(int fd, struct stat64 *sb)

// file descriptors and open(2) flags -- bsd/sys/fcntl.h
.equ STDOUT,         1
.equ STDERR,         2
.equ O_RDONLY,       0x0
.equ O_NOFOLLOW_ANY, 0x20000000   // fail with ELOOP on a symlink anywhere in the path

// sockets -- bsd/sys/socket.h, bsd/netinet/in.h
.equ AF_INET,        2
.equ SOCK_STREAM,    1
.equ SOL_SOCKET,     0xffff
.equ SO_REUSEADDR,   0x4
.equ SO_NOSIGPIPE,   0x1022       // EPIPE instead of SIGPIPE when the client has gone
.equ SOCKADDR_IN_LEN, 16
.equ LOOPBACK_BE,    0x0100007f   // 127.0.0.1 as stored little-endian in sin_addr
.equ BACKLOG,        128          // SOMAXCONN

// wait4(2) -- bsd/sys/wait.h
.equ WAIT_ANY,       -1
.equ WNOHANG,        1

// struct stat64 -- bsd/sys/stat.h (144 bytes)
.equ STAT64_SIZE,    144
.equ ST_MODE,        4            // uint16
.equ ST_SIZE,        96           // off_t
.equ S_IFMT,         0xf000
.equ S_IFREG,        0x8000

// errno -- bsd/sys/errno.h
.equ EINTR,          4

// limits
.equ DEFAULT_PORT,   8080
.equ MAX_PORT,       65535
.equ REQ_MAX,        8192         // request head we accept
.equ PATH_MAX,       1024         // Darwin MAXPATHLEN, NUL included
.equ IO_SIZE,        65536        // file -> socket copy chunk
.equ HDR_MAX,        256
.equ EXIT_USAGE,     64           // sysexits.h EX_USAGE
.equ EXIT_OSERR,     71           // sysexits.h EX_OSERR

// characters
.equ CH_SPACE,       0x20
.equ CH_SLASH,       0x2f
.equ CH_DOT,         0x2e
.equ CH_QUESTION,    0x3f
.equ CH_CR,          0x0d
.equ CH_LF,          0x0a
.equ CH_0,           0x30
.equ END_OF_HEAD,    0x0a0d0a0d   // "\r\n\r\n" as a little-endian word

// ===== 2. Macros ============================================================

// SYSCALL num: trap into the kernel; carry set on failure (x0 = errno).
.macro SYSCALL num
    mov     x16, #\num
    svc     #0x80
.endm

// LOAD_ADDR reg, sym: the address of sym, position-independent.
.ifdef APPLE
.macro LOAD_ADDR reg, sym
    adrp    \reg, \sym@PAGE
    add     \reg, \reg, \sym@PAGEOFF
.endm
.else
.macro LOAD_ADDR reg, sym
    adr     \reg, \sym
.endm
.endif

// SEND fdreg, text, text_len: write a constant text to a descriptor.
.macro SEND fdreg, text, text_len
    mov     x0, \fdreg
    LOAD_ADDR x1, \text
    ldr     x2, \text_len
    bl      write_all
.endm

// ===== 3. Start-up ==========================================================
// Owns: the listening socket.  Holds x20 = listening fd from here on.

.globl _main
.p2align 2
// --- main -------------------------------------------------------------------
// Entered as dyld calls main.
//   in:  x0 = argc, x1 = argv
//   out: never returns (the accept loop runs until the process is killed)
_main:
    bl      parse_port                   // x0 = port, carry set = bad argument
    b.cs    Lmain_usage
    mov     x21, x0                      // x21 = port

    mov     x0, #AF_INET
    mov     x1, #SOCK_STREAM
    mov     x2, #0
    SYSCALL SYS_socket
    b.cs    Lmain_fail
    mov     x20, x0                      // x20 = listening socket

    // setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4): restart without waiting for TIME_WAIT
    sub     sp, sp, #32
    mov     w9, #1
    str     w9, [sp]
    mov     x0, x20
    mov     x1, #SOL_SOCKET
    mov     x2, #SO_REUSEADDR
    mov     x3, sp
    mov     x4, #4
    SYSCALL SYS_setsockopt
    b.cs    Lmain_fail

    // struct sockaddr_in { len, family, port (big-endian), addr } for 127.0.0.1:port
    mov     w9, #SOCKADDR_IN_LEN
    strb    w9, [sp, #0]
    mov     w9, #AF_INET
    strb    w9, [sp, #1]
    rev16   w9, w21
    strh    w9, [sp, #2]
    ldr     w9, =LOOPBACK_BE
    str     w9, [sp, #4]
    str     xzr, [sp, #8]
    mov     x0, x20
    mov     x1, sp
    mov     x2, #SOCKADDR_IN_LEN
    SYSCALL SYS_bind
    b.cs    Lmain_fail

    mov     x0, x20
    mov     x1, #BACKLOG
    SYSCALL SYS_listen
    b.cs    Lmain_fail
    add     sp, sp, #32

    // "ymawky: listening on http://127.0.0.1:PORT/"
    SEND    #STDOUT, t_listening, t_listening_len
    LOAD_ADDR x0, hdr_buf
    mov     x1, x21
    bl      utoa
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
    mov     w9, #CH_LF
    strb    w9, [x0], #1
    LOAD_ADDR x1, hdr_buf
    sub     x2, x0, x1
    mov     x0, #STDOUT
    bl      write_all
    b       accept_loop

Lmain_usage:
    SEND    #STDERR, t_usage, t_usage_len
    mov     x0, #EXIT_USAGE
    SYSCALL SYS_exit
Lmain_fail:
    SEND    #STDERR, t_startup_failed, t_startup_failed_len
    mov     x0, #EXIT_OSERR
    SYSCALL SYS_exit

// ===== 4. Accept loop =======================================================
// Owns: accepting, forking one child per connection, reaping children.
//   x20 = listening socket (kept), x19 = the accepted client.

// --- accept_loop ------------------------------------------------------------
//   in:  x20 = listening socket
//   out: never returns
accept_loop:
    mov     x0, x20
    mov     x1, #0                       // peer address not needed
    mov     x2, #0
    SYSCALL SYS_accept
    b.cs    accept_loop                  // EINTR, ECONNABORTED...: try again
    mov     x19, x0                      // x19 = client socket

    bl      reap_children
    SYSCALL SYS_fork
    b.cs    Laccept_loop_close           // no process for it: drop the connection
    cbnz    x1, Laccept_loop_child       // Darwin: x1 = 1 in the child, 0 in the parent
Laccept_loop_close:
    mov     x0, x19                      // parent: the child owns the connection now
    SYSCALL SYS_close
    b       accept_loop
Laccept_loop_child:
    mov     x0, x20                      // the child never accepts
    SYSCALL SYS_close
    mov     x0, x19
    bl      handle_connection
    mov     x0, #0
    SYSCALL SYS_exit

// --- reap_children ----------------------------------------------------------
// Collect every child that has finished, without blocking.
//   in:  -
//   out: -                               clobbers: x0-x3, x16
reap_children:
    mov     x0, #WAIT_ANY
    mov     x1, #0
    mov     x2, #WNOHANG
    mov     x3, #0
    SYSCALL SYS_wait4
    b.cs    Lreap_children_done          // ECHILD: none left
    cbnz    x0, reap_children            // one reaped: look for more
Lreap_children_done:
    ret

// ===== 5. Connection ========================================================
// Owns: one request on one connection, in the child.
//   x19 = client socket for the whole phase.

// --- handle_connection ------------------------------------------------------
//   in:  x0 = client socket
//   out: -                               clobbers: x0-x17, x19-x23
handle_connection:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x19, x0

    // SO_NOSIGPIPE: a client that leaves mid-answer gives EPIPE, not a signal
    sub     sp, sp, #16
    mov     w9, #1
    str     w9, [sp]
    mov     x0, x19
    mov     x1, #SOL_SOCKET
    mov     x2, #SO_NOSIGPIPE
    mov     x3, sp
    mov     x4, #4
    SYSCALL SYS_setsockopt
    add     sp, sp, #16

    bl      read_request                 // x0 = bytes of the request head
    cbz     x0, Lhandle_connection_done  // client closed before sending a request
    bl      parse_request_line           // x0 = target, x1 = target length; x23 = 1 for HEAD
    b.cs    Lhandle_connection_bad
    bl      build_path                   // path_buf = "www" + target (+ index.html)
    b.cs    Lhandle_connection_forbidden
    bl      serve_file
    b       Lhandle_connection_done

Lhandle_connection_bad:
    SEND    x19, t_400, t_400_len
    b       Lhandle_connection_done
Lhandle_connection_forbidden:
    SEND    x19, t_403, t_403_len
Lhandle_connection_done:
    mov     x0, x19
    SYSCALL SYS_close
    ldp     x29, x30, [sp], #16
    ret

// --- read_request -----------------------------------------------------------
// Read until the blank line that ends the request head, EOF or a full buffer.
//   in:  x19 = client socket
//   out: x0 = bytes in req_buf (0 = nothing arrived)   clobbers: x1-x5, x9-x12, x16
read_request:
    LOAD_ADDR x4, req_buf
    mov     x5, #0                       // bytes so far
Lread_request_more:
    mov     x0, x19
    add     x1, x4, x5
    mov     x2, #REQ_MAX
    sub     x2, x2, x5
    cbz     x2, Lread_request_done       // full: parse what we have
    SYSCALL SYS_read
    b.cs    Lread_request_error
    cbz     x0, Lread_request_done       // EOF
    add     x5, x5, x0
    // look for "\r\n\r\n" in what we have
    mov     x9, #0
    ldr     w12, =END_OF_HEAD
Lread_request_scan:
    add     x10, x9, #4
    cmp     x10, x5
    b.hi    Lread_request_more
    ldr     w11, [x4, x9]
    cmp     w11, w12
    b.eq    Lread_request_done
    add     x9, x9, #1
    b       Lread_request_scan
Lread_request_error:
    cmp     x0, #EINTR
    b.eq    Lread_request_more
    mov     x5, #0
Lread_request_done:
    mov     x0, x5
    ret

// --- parse_request_line -----------------------------------------------------
// Split "METHOD SP target SP ..." in req_buf.
//   in:  x0 = bytes in req_buf
//   out: x0 = target pointer, x1 = target length, x23 = 1 for HEAD, 0 for GET;
//        carry set = malformed or unsupported         clobbers: x2-x7, x9-x12
parse_request_line:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x6, req_buf
    add     x7, x6, x0                   // x7 = end of data
    // method: "GET " or "HEAD "
    mov     x23, #0
    mov     x0, x6
    mov     x1, x7
    LOAD_ADDR x2, t_get
    ldr     x3, t_get_len
    bl      starts_with
    cbnz    x0, Lparse_request_line_target
    mov     x23, #1
    mov     x0, x6
    mov     x1, x7
    LOAD_ADDR x2, t_head
    ldr     x3, t_head_len
    bl      starts_with
    cbz     x0, Lparse_request_line_bad
Lparse_request_line_target:
    add     x0, x6, x3                   // target starts after "METHOD "
    ldrb    w9, [x0]
    cmp     w9, #CH_SLASH
    b.ne    Lparse_request_line_bad
    mov     x6, x0
Lparse_request_line_scan:
    cmp     x6, x7
    b.hs    Lparse_request_line_bad
    ldrb    w9, [x6]
    cmp     w9, #CH_SPACE
    b.eq    Lparse_request_line_end
    cmp     w9, #CH_QUESTION             // the query string is not part of the path
    b.eq    Lparse_request_line_end
    cmp     w9, #CH_CR
    b.eq    Lparse_request_line_bad
    add     x6, x6, #1
    b       Lparse_request_line_scan
Lparse_request_line_end:
    sub     x1, x6, x0
    cmn     xzr, xzr                     // carry clear: 0 + 0 carries nothing
    ldp     x29, x30, [sp], #16
    ret
Lparse_request_line_bad:
    cmp     xzr, xzr                     // carry set: 0 - 0 borrows nothing
    ldp     x29, x30, [sp], #16
    ret

// ===== 6. Files =============================================================
// Owns: mapping a target to a file under www/ and sending it.

// --- build_path -------------------------------------------------------------
// path_buf = "www" + target, plus "index.html" when the target ends in "/".
//   in:  x0 = target (starts with "/"), x1 = target length
//   out: path_buf NUL-terminated; carry set = refused (a ".." segment or too long)
//        clobbers: x0-x6, x9-x11
build_path:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x5, x0
    mov     x6, x1
    ldr     x9, t_index_len
    add     x9, x9, x6
    add     x9, x9, #4                   // "www" and the NUL
    cmp     x9, #PATH_MAX
    b.hi    Lbuild_path_refuse
    // refuse a ".." segment: "/.." followed by "/" or the end
    mov     x9, #0
Lbuild_path_dots:
    add     x10, x9, #3
    cmp     x10, x6
    b.hi    Lbuild_path_copy
    ldrb    w11, [x5, x9]
    cmp     w11, #CH_SLASH
    b.ne    Lbuild_path_dots_next
    add     x10, x5, x9
    ldrb    w11, [x10, #1]
    cmp     w11, #CH_DOT
    b.ne    Lbuild_path_dots_next
    ldrb    w11, [x10, #2]
    cmp     w11, #CH_DOT
    b.ne    Lbuild_path_dots_next
    add     x11, x9, #3
    cmp     x11, x6
    b.eq    Lbuild_path_refuse           // ends in "/.."
    ldrb    w11, [x10, #3]
    cmp     w11, #CH_SLASH
    b.eq    Lbuild_path_refuse           // "/../"
Lbuild_path_dots_next:
    add     x9, x9, #1
    b       Lbuild_path_dots
Lbuild_path_copy:
    LOAD_ADDR x0, path_buf
    LOAD_ADDR x1, t_www
    ldr     x2, t_www_len
    bl      copy
    mov     x1, x5
    mov     x2, x6
    bl      copy
    ldurb   w9, [x0, #-1]
    cmp     w9, #CH_SLASH
    b.ne    Lbuild_path_nul
    LOAD_ADDR x1, t_index
    ldr     x2, t_index_len
    bl      copy
Lbuild_path_nul:
    strb    wzr, [x0]
    cmn     xzr, xzr                     // carry clear: accepted
    ldp     x29, x30, [sp], #16
    ret
Lbuild_path_refuse:
    cmp     xzr, xzr                     // carry set: refused
    ldp     x29, x30, [sp], #16
    ret

// --- serve_file -------------------------------------------------------------
// Open path_buf, answer 200 with its length and (for GET) its bytes, else 404.
//   in:  x19 = client socket, x23 = 1 for HEAD
//   out: -                               clobbers: x0-x17, x21, x22
serve_file:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x0, path_buf
    mov     x1, #(O_RDONLY | O_NOFOLLOW_ANY)
    mov     x2, #0
    SYSCALL SYS_open
    b.cs    Lserve_file_404
    mov     x21, x0                      // x21 = file
    LOAD_ADDR x1, stat_buf
    SYSCALL SYS_fstat64
    b.cs    Lserve_file_close_404
    LOAD_ADDR x9, stat_buf
    ldrh    w10, [x9, #ST_MODE]
    and     w10, w10, #S_IFMT
    cmp     w10, #S_IFREG
    b.ne    Lserve_file_close_404        // directories and devices are not served yet
    ldr     x22, [x9, #ST_SIZE]          // x22 = size

    // "HTTP/1.1 200 OK\r\nContent-Length: N\r\nConnection: close\r\n\r\n"
    LOAD_ADDR x0, hdr_buf
    LOAD_ADDR x1, t_200
    ldr     x2, t_200_len
    bl      copy
    mov     x1, x22
    bl      utoa
    LOAD_ADDR x1, t_200_tail
    ldr     x2, t_200_tail_len
    bl      copy
    LOAD_ADDR x1, hdr_buf
    sub     x2, x0, x1
    mov     x0, x19
    bl      write_all
    b.cs    Lserve_file_close
    cbnz    x23, Lserve_file_close       // HEAD: headers only

Lserve_file_body:
    mov     x0, x21
    LOAD_ADDR x1, io_buf
    mov     x2, #IO_SIZE
    SYSCALL SYS_read
    b.cs    Lserve_file_close
    cbz     x0, Lserve_file_close        // EOF
    mov     x2, x0
    mov     x0, x19
    LOAD_ADDR x1, io_buf
    bl      write_all
    b.cs    Lserve_file_close            // the client went away
    b       Lserve_file_body

Lserve_file_close_404:
    mov     x0, x21
    SYSCALL SYS_close
Lserve_file_404:
    SEND    x19, t_404, t_404_len
    ldp     x29, x30, [sp], #16
    ret
Lserve_file_close:
    mov     x0, x21
    SYSCALL SYS_close
    ldp     x29, x30, [sp], #16
    ret

// ===== 7. Utilities =========================================================

// --- starts_with ------------------------------------------------------------
// Does the data begin with the prefix?
//   in:  x0 = data, x1 = data end, x2 = prefix, x3 = prefix length
//   out: x0 = 1 yes, 0 no                  clobbers: x9-x11
starts_with:
    add     x9, x0, x3
    cmp     x9, x1
    b.hi    Lstarts_with_no              // shorter than the prefix
    mov     x9, #0
Lstarts_with_loop:
    cmp     x9, x3
    b.eq    Lstarts_with_yes
    ldrb    w10, [x0, x9]
    ldrb    w11, [x2, x9]
    add     x9, x9, #1
    cmp     w10, w11
    b.eq    Lstarts_with_loop
Lstarts_with_no:
    mov     x0, #0
    ret
Lstarts_with_yes:
    mov     x0, #1
    ret

// --- write_all --------------------------------------------------------------
// Write every byte, looping over short writes.
//   in:  x0 = fd, x1 = buffer, x2 = length
//   out: carry set = failed (x0 = errno)   clobbers: x0-x2, x9-x11, x16
write_all:
    mov     x9, x0
    mov     x10, x1
    mov     x11, x2
Lwrite_all_loop:
    cbz     x11, Lwrite_all_done
    mov     x0, x9
    mov     x1, x10
    mov     x2, x11
    SYSCALL SYS_write
    b.cs    Lwrite_all_error
    add     x10, x10, x0
    sub     x11, x11, x0
    b       Lwrite_all_loop
Lwrite_all_error:
    cmp     x0, #EINTR
    b.eq    Lwrite_all_loop
    cmp     xzr, xzr                     // carry set
    ret
Lwrite_all_done:
    cmn     xzr, xzr                     // carry clear
    ret

// --- copy -------------------------------------------------------------------
// Copy bytes forward.
//   in:  x0 = destination, x1 = source, x2 = length
//   out: x0 = destination end              clobbers: x1, x2, x9
copy:
    cbz     x2, Lcopy_done
    ldrb    w9, [x1], #1
    strb    w9, [x0], #1
    sub     x2, x2, #1
    b       copy
Lcopy_done:
    ret

// --- utoa -------------------------------------------------------------------
// Write an unsigned number in decimal.
//   in:  x0 = destination, x1 = value
//   out: x0 = destination end              clobbers: x1, x9-x13
utoa:
    mov     x9, x0
    mov     x12, #10
Lutoa_digits:                            // digits come out backwards...
    udiv    x10, x1, x12
    msub    x11, x10, x12, x1
    add     w11, w11, #CH_0
    strb    w11, [x9], #1
    mov     x1, x10
    cbnz    x1, Lutoa_digits
    mov     x10, x0                      // ...so reverse them in place
    sub     x11, x9, #1
Lutoa_reverse:
    cmp     x10, x11
    b.hs    Lutoa_done
    ldrb    w12, [x10]
    ldrb    w13, [x11]
    strb    w13, [x10], #1
    strb    w12, [x11], #-1
    b       Lutoa_reverse
Lutoa_done:
    mov     x0, x9
    ret

// --- parse_port -------------------------------------------------------------
// The port from argv[1], or DEFAULT_PORT when there is none.
//   in:  x0 = argc, x1 = argv
//   out: x0 = port; carry set = not a number in 1..65535   clobbers: x1, x9-x12
parse_port:
    cmp     x0, #2
    b.lo    Lparse_port_default
    ldr     x9, [x1, #8]                 // argv[1]
    mov     x0, #0
    mov     x12, #10
    ldrb    w10, [x9]
    cbz     w10, Lparse_port_bad         // empty string
Lparse_port_digit:
    ldrb    w10, [x9], #1
    cbz     w10, Lparse_port_check
    sub     w10, w10, #CH_0
    cmp     w10, #9
    b.hi    Lparse_port_bad
    madd    x0, x0, x12, x10
    mov     x11, #MAX_PORT
    cmp     x0, x11
    b.hi    Lparse_port_bad
    b       Lparse_port_digit
Lparse_port_check:
    cbz     x0, Lparse_port_bad
    cmn     xzr, xzr                     // carry clear
    ret
Lparse_port_default:
    mov     x0, #DEFAULT_PORT
    cmn     xzr, xzr
    ret
Lparse_port_bad:
    cmp     xzr, xzr                     // carry set
    ret
.ltorg

// ===== 8. Texts =============================================================
// Read-only.  Each text is followed by its length, loaded with ldr.

t_listening:   .ascii "ymawky: listening on http://127.0.0.1:"
t_listening_end:
t_usage:       .ascii "usage: ymawky [port]   (port 1-65535, default 8080)\n"
t_usage_end:
t_startup_failed: .ascii "ymawky: cannot listen (socket, bind or listen failed)\n"
t_startup_failed_end:
t_get:         .ascii "GET "
t_get_end:
t_head:        .ascii "HEAD "
t_head_end:
t_www:         .ascii "www"
t_www_end:
t_index:       .ascii "index.html"
t_index_end:
t_200:         .ascii "HTTP/1.1 200 OK\r\nServer: ymawky\r\nContent-Length: "
t_200_end:
t_200_tail:    .ascii "\r\nConnection: close\r\n\r\n"
t_200_tail_end:
t_400:         .ascii "HTTP/1.1 400 Bad Request\r\nServer: ymawky\r\nContent-Type: text/html\r\nContent-Length: 50\r\nConnection: close\r\n\r\n"
               .ascii "<html><body><h1>400 Bad Request</h1></body></html>"
t_400_end:
t_403:         .ascii "HTTP/1.1 403 Forbidden\r\nServer: ymawky\r\nContent-Type: text/html\r\nContent-Length: 48\r\nConnection: close\r\n\r\n"
               .ascii "<html><body><h1>403 Forbidden</h1></body></html>"
t_403_end:
t_404:         .ascii "HTTP/1.1 404 Not Found\r\nServer: ymawky\r\nContent-Type: text/html\r\nContent-Length: 48\r\nConnection: close\r\n\r\n"
               .ascii "<html><body><h1>404 Not Found</h1></body></html>"
t_404_end:

.p2align 3
t_listening_len:      .quad t_listening_end - t_listening
t_usage_len:          .quad t_usage_end - t_usage
t_startup_failed_len: .quad t_startup_failed_end - t_startup_failed
t_get_len:            .quad t_get_end - t_get
t_head_len:           .quad t_head_end - t_head
t_www_len:            .quad t_www_end - t_www
t_index_len:          .quad t_index_end - t_index
t_200_len:            .quad t_200_end - t_200
t_200_tail_len:       .quad t_200_tail_end - t_200_tail
t_400_len:            .quad t_400_end - t_400
t_403_len:            .quad t_403_end - t_403
t_404_len:            .quad t_404_end - t_404

// ===== 9. Buffers ===========================================================
// Writable; a page boundary keeps them off the code's pages (no W+X page).

.ifdef APPLE
.section __DATA,__data
.else
.p2align 14
.endif
data_start:
bss_start:
req_buf:   .zero REQ_MAX + 8
path_buf:  .zero PATH_MAX + 16
hdr_buf:   .zero HDR_MAX
stat_buf:  .zero STAT64_SIZE
io_buf:    .zero IO_SIZE
