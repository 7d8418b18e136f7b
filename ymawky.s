// ymawky.s -- a static HTTP/1.1 server in AArch64 assembly for macOS.
//
// No libc: every effect is a raw Darwin syscall (svc #0x80, number in
// x16, failure = carry flag set with the errno in x0).  One process per
// connection: the parent accepts and forks, the child answers requests on
// that connection (keep-alive, pipelining) and exits.
//
// It assembles two ways from this one file:
//   Keystone (the emulator):  one section, adr for addresses.
//   clang -target arm64-apple-macos11 -Wa,-defsym,APPLE=1:  the same
//   program for a real Mac, with adrp/add and a __DATA section.
//
// Contents
//   1. Constants      syscall numbers, flags, struct and table layouts, limits
//   2. Macros         SYSCALL, LOAD_ADDR, SEND, SET_CARRY, CLEAR_CARRY
//   3. Start-up       main: port from argv[1], stale temp files swept, listen
//   4. Accept loop    accept, reap finished children, fork, 503 when full
//   5. Connection     the child: read a request head, answer, repeat
//   6. Parsing        request line, headers, target
//   7. GET and HEAD   files, conditionals, ranges, directories
//   8. PUT, DELETE, OPTIONS
//   9. Responses      status line, headers, error pages, access log
//  10. Dates          IMF-fixdate and Common Log Format from epoch seconds
//  11. Utilities      write_all, copy, numbers, strings
//  12. Tables         statuses, MIME types, header names (read-only)
//  13. Texts          fixed response pieces (read-only)
//  14. Buffers        writable data and zero-filled buffers, last
//
// Registers: one rule for every routine (tests/test_registers.py checks
// each header against the code).
//   x0-x7    arguments and results.
//   x8-x16   scratch; x16 also carries the syscall number (SYSCALL).
//            x17 is not used; x18 never is (the kernel zeroes it).
//   x19, x28 the connection: x19 = client socket, x28 = the request record
//            (req, section 14).  accept_loop and handle_connection set them
//            (main sets x28 for the parent's 503); no other routine writes
//            them, and every routine may read them.
//   x20-x27  the state of one phase, named under each section's banner
//            (the listening socket; the file being served; PUT's folder and
//            temp file).  A routine either saves the ones it writes and
//            restores them, or names them under clobbers: and its callers
//            keep nothing there across the call.
//   x29, x30 a routine that calls another first makes a frame
//            (stp x29, x30, [sp, #-N]! then mov x29, sp) and undoes it
//            before ret; a leaf makes none.  Only main and accept_loop,
//            which never return, have no frame.
// A routine's header says what it takes (in:), what it gives back (out:,
// with the carry flag: set = failed, as the kernel does) and, under
// clobbers:, every register it or anything it calls changes that out:
// does not name.  Every register not named there comes back as it went in.
// frame: names what a routine keeps on its stack.  A local helper that a
// routine calls (bl Lroutine_helper) has the same lines above its label.

// ===== 1. Constants =========================================================
// Values from xnu bsd/kern/syscalls.master and bsd/sys/*.h.

// syscalls: number         prototype
.equ SYS_exit,         1    // void exit(int status)
.equ SYS_fork,         2    // int fork(void): x1 = 1 in the child
.equ SYS_read,         3    // ssize_t read(int fd, void *buf, size_t n)
.equ SYS_write,        4    // ssize_t write(int fd, const void *buf, size_t n)
.equ SYS_open,         5    // int open(const char *path, int flags, int mode)
.equ SYS_close,        6    // int close(int fd)
.equ SYS_wait4,        7    // int wait4(int pid, int *status, int options, struct rusage *ru)
.equ SYS_getpid,      20    // int getpid(void)
.equ SYS_accept,      30    // int accept(int s, struct sockaddr *addr, socklen_t *len)
.equ SYS_fcntl,       92    // int fcntl(int fd, int cmd, long arg)
.equ SYS_socket,      97    // int socket(int domain, int type, int protocol)
.equ SYS_bind,       104    // int bind(int s, const struct sockaddr *addr, socklen_t len)
.equ SYS_setsockopt, 105    // int setsockopt(int s, int level, int name, const void *val, socklen_t len)
.equ SYS_listen,     106    // int listen(int s, int backlog)
.equ SYS_gettimeofday, 116  // int gettimeofday(struct timeval *tp, struct timezone *tz, uint64_t *abs)
.equ SYS_lseek,      199    // off_t lseek(int fd, off_t off, int whence)
.equ SYS_poll,       230    // int poll(struct pollfd *fds, u_int n, int timeout_ms)
.equ SYS_sendfile,   337    // int sendfile(int fd, int s, off_t off, off_t *len, struct sf_hdtr *hdtr, int flags)
.equ SYS_fstat64,    339    // int fstat64(int fd, struct stat64 *sb)
.equ SYS_getdirentries64, 344 // ssize_t getdirentries64(int fd, void *buf, size_t n, off_t *basep)
.equ SYS_openat,     463    // int openat(int dirfd, const char *path, int flags, int mode)
.equ SYS_renameat,   465    // int renameat(int fromfd, const char *from, int tofd, const char *to)
.equ SYS_fstatat64,  470    // int fstatat64(int dirfd, const char *path, struct stat64 *sb, int flag)
.equ SYS_unlinkat,   472    // int unlinkat(int dirfd, const char *path, int flag)
.equ SYS_getentropy, 500    // int getentropy(void *buf, size_t n)

// file descriptors and open(2) flags -- bsd/sys/fcntl.h
.equ STDOUT,           1
.equ STDERR,           2
.equ O_RDONLY,         0x0
.equ O_WRONLY,         0x1
.equ O_NONBLOCK,       0x4          // a FIFO's open returns at once instead of waiting for a writer
.equ O_CREAT,          0x200
.equ O_EXCL,           0x800        // with O_CREAT: fail (EEXIST) if the name exists, even as a link
.equ O_DIRECTORY,      0x100000
.equ O_NOFOLLOW_ANY,   0x20000000   // ELOOP on a symlink anywhere in the path
.equ O_SERVE,          O_RDONLY | O_NONBLOCK | O_NOFOLLOW_ANY   // opening a file to send it
.equ AT_SYMLINK_NOFOLLOW, 0x20
.equ F_SETFL,          4            // fcntl: set the status flags (O_NONBLOCK)
.equ FILE_MODE,        0x1a4        // 0644, rw-r--r--, for files made by PUT
.equ SEEK_SET,         0

// sockets -- bsd/sys/socket.h, bsd/netinet/in.h
.equ AF_INET,          2
.equ SOCK_STREAM,      1
.equ SOL_SOCKET,       0xffff
.equ SO_REUSEADDR,     0x4
.equ SO_NOSIGPIPE,     0x1022       // EPIPE instead of SIGPIPE when the client has gone
.equ IPPROTO_TCP,      6
.equ TCP_NODELAY,      0x1          // bsd/netinet/tcp.h
// struct sockaddr_in -- uint8 sin_len, uint8 sin_family, uint16 port (big-endian),
// uint32 addr, 8 zero bytes
.equ SOCKADDR_IN_LEN,  16
.equ SIN_LEN,          0
.equ SIN_FAMILY,       1
.equ SIN_PORT,         2
.equ SIN_ADDR,         4
.equ SIN_ZERO,         8
.equ IPV4_BYTES,       4
.equ LOOPBACK_BE,      0x0100007f   // 127.0.0.1 as stored little-endian in sin_addr
.equ BACKLOG,          128          // SOMAXCONN

// poll(2) -- bsd/sys/poll.h: struct pollfd { int fd, short events, short revents }
.equ POLLIN,           0x1
.equ POLLOUT,          0x4
.equ POLLFD_SIZE,      8
.equ PFD_FD,           0            // int32
.equ PFD_EVENTS,       4            // int16
.equ PFD_REVENTS,      6            // int16

// wait4(2) -- bsd/sys/wait.h
.equ WAIT_ANY,         -1
.equ WNOHANG,          1

// struct stat64 -- bsd/sys/stat.h (144 bytes)
.equ STAT64_SIZE,      144
.equ ST_MODE,          4            // uint16
.equ ST_MTIME,         48           // st_mtimespec.tv_sec
.equ ST_SIZE,          96           // off_t
.equ S_IFMT,           0xf000
.equ S_IFREG,          0x8000
.equ S_IFDIR,          0x4000
.equ S_IFLNK,          0xa000

// struct direntry -- bsd/sys/dirent.h, from getdirentries64
.equ D_RECLEN,         16           // uint16
.equ D_NAMLEN,         18           // uint16
.equ D_TYPE,           20           // uint8
.equ D_NAME,           21
.equ DT_DIR,           4

// a listing's records in list_pool (list_keep), 8-byte aligned
.equ LREC_SIZE,        0            // st_size, or -1 for a folder
.equ LREC_MTIME,       8            // st_mtime, seconds
.equ LREC_NAME,        16           // the name, "/" after a folder's, NUL

// struct timeval -- int64 tv_sec, int32 tv_usec
.equ TV_SEC,           0
.equ TV_USEC,          8

// main's argv: 8-byte pointers
.equ ARGV_PORT,        8            // argv[1]

// errno -- bsd/sys/errno.h
.equ ENOENT,           2
.equ EINTR,            4
.equ EACCES,           13
.equ EEXIST,           17
.equ ENOTDIR,          20
.equ EISDIR,           21
.equ EPIPE,            32
.equ EAGAIN,           35
.equ ECONNABORTED,     53
.equ ECONNRESET,       54
.equ ELOOP,            62
.equ ENAMETOOLONG,     63
.equ ENOTEMPTY,        66

// methods, as stored in REQ_METHOD; each indexes method_routines (section 12)
.equ M_GET,            1
.equ M_HEAD,           2
.equ M_PUT,            3
.equ M_DELETE,         4
.equ M_OPTIONS,        5

// limits and timeouts
.equ DEFAULT_PORT,     8080
.equ MAX_PORT,         65535
.equ MAX_PROCS,        64           // live children; beyond that the parent answers 503
.equ HEAD_MAX,         8192         // request head: larger gets 431
.equ IN_SIZE,          16384        // receive buffer: a head plus pipelined bytes
.equ PATH_MAX,         1024         // Darwin MAXPATHLEN, NUL included: longer targets get 414
.equ IO_SIZE,          65536        // file <-> socket copy chunk
.equ HDR_SIZE,         4096         // response head
.equ MAX_BODY_SHIFT,   30           // PUT bodies up to 1 GiB
.equ HEAD_TIMEOUT_MS,  10000        // a whole request head must arrive within 10 s
.equ IDLE_TIMEOUT_MS,  5000         // an idle keep-alive connection closes after 5 s
.equ SKIP_MAX,         1048576      // a body we skip (not PUT's) may be this large; more: close
.equ BODY_IDLE_MS,     10000        // a request body that moves no byte for 10 s: 408 (any length)
.equ SEND_IDLE_MS,     10000        // an answer the client takes no byte of for 10 s: give up
.equ ACCEPT_PAUSE_MS,  10           // after an accept error that would only repeat
.equ BUSY_DRAIN_MS,    50           // the parent waits this long for a request it answers 503
.equ LIST_MAX,         4096         // folder entries listed; the page counts the rest
.equ LIST_POOL,        524288       // bytes of records kept for a listing (the image stays < 1 MiB)
.equ LIST_REC_MAX,     1056         // one record: size, mtime, a d_name (1024 with NUL), "/", padding
.equ LIST_BODY,        32768        // listing HTML is sent in chunks of at most this many bytes
.equ LIST_ROW_MAX,     10240        // one row: a name 3x in the href, 6x escaped, plus markup
.equ CHUNK_ROOM,       16           // before a chunk: its size line ("8000\r\n"), right-aligned
.equ DIRBUF_SIZE,      8192
.equ SWEEP_BUF,        4096         // start-up temp sweep: records per read, per folder level
.equ SWEEP_DEPTH_MAX,  16           // folders deeper than this are not swept
.equ TEMP_TRIES,       8            // random temp names tried before a PUT gives up (500)
.equ TEMP_RANDOM,      8            // bytes of getentropy in a temp name (16 hex digits)
.equ EXIT_USAGE,       64           // sysexits.h EX_USAGE
.equ EXIT_OSERR,       71           // sysexits.h EX_OSERR
.equ MS_PER_S,         1000
.equ SECS_PER_DAY,     86400
.equ DAYS_0000_TO_1970, 719468      // days from 0000-03-01 to 1970-01-01 (civil calendar)
.equ DAYS_PER_ERA,     146097       // 400 Gregorian years
.equ YEARS_PER_ERA,    400
.equ YEARS_PER_CENTURY, 100
.equ DAYS_PER_YEAR,    365          // a common year
.equ DAYS_PER_4_YEARS, 1460         // four common years: a leap day is due
.equ DAYS_PER_CENTURY, 36524        // 100 years with 24 leap days
.equ SECS_PER_HOUR,    3600
.equ SECS_PER_MINUTE,  60
.equ DAYS_PER_WEEK,    7
.equ EPOCH_WEEKDAY,    4            // 1970-01-01 was a Thursday (0 = Sunday)
.equ EPOCH_YEAR,       1970
.equ IMF_DATE_LEN,     29           // "Sun, 06 Nov 1994 08:49:37 GMT"
.equ IMF_COMMA,        3            // where each field of it starts
.equ IMF_DAY,          5
.equ IMF_MONTH,        8
.equ IMF_YEAR,         12
.equ IMF_HOUR,         17
.equ IMF_MINUTE,       20
.equ IMF_SECOND,       23
.equ ABBR_LEN,         3            // "Sun", "Nov": day_names, month_names ...
.equ ABBR_SIZE,        4            // ... hold one every 4 bytes (indexed as "lsl #2")
.equ LOG_LINE_MAX,     512          // request-line bytes kept in a log line
.equ RANGES_MAX,       16           // more byte ranges than this: the header is ignored
.equ RANGE_HUGE,       0x4000000000000000  // a range number of more than 18 digits, saturated
.equ DECIMAL_DIGITS_MAX, 18         // fits in 63 bits

// characters
.equ CH_TAB,           0x09
.equ CH_LF,            0x0a
.equ CH_CR,            0x0d
.equ CH_SPACE,         0x20
.equ CH_QUOTE,         0x22
.equ CH_HASH,          0x23
.equ CH_PERCENT,       0x25
.equ CH_AMP,           0x26
.equ CH_APOS,          0x27
.equ CH_STAR,          0x2a
.equ CH_COMMA,         0x2c
.equ CH_DASH,          0x2d
.equ CH_DOT,           0x2e
.equ CH_SLASH,         0x2f
.equ CH_0,             0x30
.equ CH_9,             0x39
.equ CH_COLON,         0x3a
.equ CH_LT,            0x3c
.equ CH_EQUALS,        0x3d
.equ CH_GT,            0x3e
.equ CH_QUESTION,      0x3f
.equ CH_A,             0x41
.equ CH_Z,             0x5a
.equ CH_LBRACKET,      0x5b
.equ CH_a,             0x61
.equ CH_f,             0x66
.equ CH_w,             0x77
.equ CH_z,             0x7a
.equ CH_TILDE,         0x7e
.equ CH_DEL,           0x7f
.equ CASE_BIT,         0x20         // 'A' | 0x20 = 'a'
.equ CRLF_LE,          (CH_LF << 8) | CH_CR         // "\r\n" as a little-endian halfword
.equ DOTDOT_LE,        (CH_DOT << 8) | CH_DOT       // ".." as a little-endian halfword
.equ END_OF_HEAD,      (CRLF_LE << 16) | CRLF_LE    // "\r\n\r\n" as a little-endian word

// HTTP statuses (RFC 9110 15) used by the code; their texts are in status_table
.equ HTTP_CONTINUE,               100
.equ HTTP_OK,                     200
.equ HTTP_CREATED,                201
.equ HTTP_NO_CONTENT,             204
.equ HTTP_PARTIAL,                206
.equ HTTP_MOVED,                  301
.equ HTTP_NOT_MODIFIED,           304
.equ HTTP_BAD_REQUEST,            400
.equ HTTP_FORBIDDEN,              403
.equ HTTP_NOT_FOUND,              404
.equ HTTP_BAD_METHOD,             405
.equ HTTP_TIMEOUT,                408
.equ HTTP_CONFLICT,               409
.equ HTTP_LENGTH_REQUIRED,        411
.equ HTTP_TOO_LARGE,              413
.equ HTTP_URI_TOO_LONG,           414
.equ HTTP_RANGE_NOT_SATISFIABLE,  416
.equ HTTP_HEAD_TOO_LARGE,         431
.equ HTTP_SERVER_ERROR,           500
.equ HTTP_NOT_IMPLEMENTED,        501
.equ HTTP_UNAVAILABLE,            503
.equ HTTP_BAD_VERSION,            505

// the request record (req, section 14): what parsing found, 8 bytes a field
.equ REQ_METHOD,       0            // M_*
.equ REQ_MINOR,        8            // HTTP/1.<minor>
.equ REQ_TARGET,       16           // raw target: pointer into in_buf ...
.equ REQ_TARGET_LEN,   24           // ... and length
.equ REQ_PATH_LEN,     32           // bytes in path_buf ("www" + decoded path)
.equ REQ_CLEN,         40           // Content-Length value
.equ REQ_CLOSE,        48           // 1 = close after this response
.equ REQ_HEAD_LEN,     56           // bytes of the head, blank line included
.equ REQ_LINE_LEN,     64           // bytes of the request line (for the log)
.equ REQ_STATUS,       72           // status sent (for the log)
.equ REQ_SENT,         80           // body bytes sent (for the log)
.equ REQ_BODY_USED,    88           // body bytes taken from in_buf (PUT)
.equ REQ_STAR,         96           // 1 = the target was "*"
.equ REQ_NO_BODY,      104          // 1 = send headers only (HEAD)
// headers kept as (pointer, length) pairs; pointer 0 = absent
.equ REQ_H_HOST,       112
.equ REQ_H_CLEN,       128
.equ REQ_H_TE,         144
.equ REQ_H_CONN,       160
.equ REQ_H_EXPECT,     176
.equ REQ_H_RANGE,      192
.equ REQ_H_INM,        208          // If-None-Match
.equ REQ_H_IMS,        224          // If-Modified-Since
.equ REQ_H_IFRANGE,    240
.equ REQ_SIZE,         256
.equ PAIR_LEN,         8            // in a (pointer, length) pair: the length

// the version at the end of the request line: "HTTP/1.1"
.equ VERSION_LEN,      8
.equ VERSION_MAJOR,    5            // after "HTTP/"
.equ VERSION_DOT,      6
.equ VERSION_MINOR,    7

// path_buf: "www" + the decoded target
.equ ROOT_LEN,         3            // "www"

// date_parts (section 14): split_time's calendar fields, 8 bytes each
.equ DP_YEAR,          0
.equ DP_MONTH,         8            // 1-12
.equ DP_DAY,           16           // 1-31
.equ DP_HOUR,          24
.equ DP_MINUTE,        32
.equ DP_SECOND,        40
.equ DP_WEEKDAY,       48           // 0 = Sunday

// range_list (section 14): (first, last) byte pairs, 16 bytes a range
.equ RANGE_FIRST,      0
.equ RANGE_LAST,       8
.equ RANGE_SIZE,       16           // indexed as "lsl #4": Keystone takes no name for a shift

// Entries of the tables in section 12.  A name is an offset (uint16) into the
// table's text block, so no entry holds an address.
// method_table: a method name and the M_* it means; length 0 ends it
.equ MT_NAME,          0            // uint16: offset in Lmethod_names
.equ MT_LEN,           2            // uint8
.equ MT_METHOD,        3            // uint8: M_*
.equ MT_SIZE,          4
// method_routines: per M_*, answer_request's routine as an int32 offset from
// the table (4 bytes, so ldrsw's "lsl #2" indexes it)
// header_table: a request header we keep and its req field; length 0 ends it
.equ HT_NAME,          0            // uint16: offset in Lheader_names (lowercase)
.equ HT_LEN,           2            // uint8
.equ HT_FIELD,         3            // uint8: REQ_H_*, a (pointer, length) pair
.equ HT_SIZE,          4
// status_table: a status and its reason phrase; status 0 ends it (the fallback)
.equ STT_STATUS,       0            // uint16
.equ STT_TEXT,         2            // uint16: offset in Lstatus_texts
.equ STT_LEN,          4            // uint16
.equ STT_SIZE,         8
// errno_table: errno 0 ends it with the fallback status
.equ ET_ERRNO,         0            // uint16
.equ ET_STATUS,        2            // uint16
.equ ET_SIZE,          4
// mime_table: an extension and its Content-Type; length 0 ends it
.equ MX_EXT,           0            // uint16: offset in Lmime_names
.equ MX_EXT_LEN,       2            // uint8
.equ MX_TYPE_LEN,      3            // uint8
.equ MX_TYPE,          4            // uint16: offset in Lmime_names
.equ MX_SIZE,          8
// html_escapes: a character and its reference; character 0 ends it
.equ HE_CHAR,          0            // uint8
.equ HE_LEN,           1            // uint8
.equ HE_TEXT,          2            // up to 6 bytes
.equ HE_SIZE,          8

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

// APPEND text, text_len: copy a constant text to the cursor in x0 (x0 advances).
.macro APPEND text, text_len
    LOAD_ADDR x1, \text
    ldr     x2, \text_len
    bl      copy
.endm

// The carry flag is how routines here say "failed", as the kernel does.
.macro SET_CARRY
    cmp     xzr, xzr                     // 0 - 0 borrows nothing: C = 1
.endm
.macro CLEAR_CARRY
    cmn     xzr, xzr                     // 0 + 0 carries nothing: C = 0
.endm

// ===== 3. Start-up ==========================================================
// Owns: the listening socket, and the sweep of temp files that killed PUTs
// left behind.  x20 = listening socket from here on.

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
    bl      sweep_temp_files             // before any child exists: none is in use
    mov     x0, x21
    bl      open_listener                // x0 = listening socket
    b.cs    Lmain_fail
    mov     x20, x0
    LOAD_ADDR x28, req                   // the parent answers 503 itself

    // "ymawky: listening on http://127.0.0.1:PORT/"
    LOAD_ADDR x0, hdr_buf
    APPEND  t_listening, t_listening_len
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

// --- open_listener ----------------------------------------------------------
// socket, SO_REUSEADDR, bind 127.0.0.1:port, listen.
//   in:  x0 = port
//   out: x0 = listening socket; carry set = failed   clobbers: x1-x4, x9-x11, x16
//   frame: [sp, #16] the option value, then the sockaddr_in
open_listener:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    mov     x11, x0                      // port
    mov     x0, #AF_INET
    mov     x1, #SOCK_STREAM
    mov     x2, #0
    SYSCALL SYS_socket
    b.cs    Lopen_listener_done
    mov     x10, x0                      // socket
    // setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4): restart without waiting for TIME_WAIT
    mov     w9, #1
    str     w9, [sp, #16]
    mov     x1, #SOL_SOCKET
    mov     x2, #SO_REUSEADDR
    add     x3, sp, #16
    mov     x4, #4
    SYSCALL SYS_setsockopt
    b.cs    Lopen_listener_done
    // struct sockaddr_in { len, family, port (big-endian), addr } for 127.0.0.1:port
    mov     w9, #SOCKADDR_IN_LEN
    strb    w9, [sp, #16 + SIN_LEN]
    mov     w9, #AF_INET
    strb    w9, [sp, #16 + SIN_FAMILY]
    rev16   w9, w11
    strh    w9, [sp, #16 + SIN_PORT]
    ldr     w9, =LOOPBACK_BE
    str     w9, [sp, #16 + SIN_ADDR]
    str     xzr, [sp, #16 + SIN_ZERO]
    mov     x0, x10
    add     x1, sp, #16
    mov     x2, #SOCKADDR_IN_LEN
    SYSCALL SYS_bind
    b.cs    Lopen_listener_done
    mov     x0, x10
    mov     x1, #BACKLOG
    SYSCALL SYS_listen
    b.cs    Lopen_listener_done
    mov     x0, x10                      // carry is clear from listen
Lopen_listener_done:
    ldp     x29, x30, [sp], #32
    ret

// --- sweep_temp_files -------------------------------------------------------
// Remove the temp files that PUTs left behind when their process was killed:
// every ".ymawky-tmp-*" in www/ and in its folders, SWEEP_DEPTH_MAX deep.
//   in:  -
//   out: -                               clobbers: x0-x3, x9-x11, x16
sweep_temp_files:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x0, t_www
    ldr     x1, =O_RDONLY | O_DIRECTORY | O_NOFOLLOW_ANY
    mov     x2, #0
    SYSCALL SYS_open
    b.cs    Lsweep_temp_files_done       // no www/: nothing to sweep
    mov     x1, #SWEEP_DEPTH_MAX
    bl      sweep_folder
Lsweep_temp_files_done:
    ldp     x29, x30, [sp], #16
    ret

// --- sweep_folder -----------------------------------------------------------
// Unlink the temp files in one folder and sweep its sub-folders (opened with
// O_NOFOLLOW_ANY, so a symlinked folder is never entered), then close it.
// Recursive: each level reads its records into its own stack frame.
//   in:  x0 = open folder (closed on return), x1 = levels left below it
//   out: -                               clobbers: x0-x3, x9-x11, x16
//   frame: x19-x24 saved at [x29, #16], basep at [x29, #64], the records below
sweep_folder:
    stp     x29, x30, [sp, #-80]!
    mov     x29, sp
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]          // [x29, #64]: getdirentries64's basep
    sub     sp, sp, #SWEEP_BUF           // the records
    mov     x19, x0                      // folder
    mov     x20, x1                      // levels left
Lsweep_folder_read:
    mov     x0, x19
    mov     x1, sp
    mov     x2, #SWEEP_BUF
    add     x3, x29, #64
    SYSCALL SYS_getdirentries64
    b.cs    Lsweep_folder_close
    cbz     x0, Lsweep_folder_close      // end of the folder
    mov     x21, sp                      // x21 = record, x22 = end of the records
    add     x22, x21, x0
Lsweep_folder_entry:
    cmp     x21, x22
    b.hs    Lsweep_folder_read
    ldrh    w23, [x21, #D_RECLEN]
    cbz     w23, Lsweep_folder_close     // a zero record length would loop forever
    add     x24, x21, #D_NAME            // x24 = the name, NUL-terminated
    ldrb    w9, [x21, #D_TYPE]
    cmp     w9, #DT_DIR
    b.eq    Lsweep_folder_sub
    mov     x0, x24
    ldrh    w1, [x21, #D_NAMLEN]
    add     x1, x0, x1
    LOAD_ADDR x2, t_temp_prefix
    ldr     x3, t_temp_prefix_len
    bl      starts_with
    cbz     x0, Lsweep_folder_next
    mov     x0, x19
    mov     x1, x24
    mov     x2, #0
    SYSCALL SYS_unlinkat
    b       Lsweep_folder_next
Lsweep_folder_sub:
    cbz     x20, Lsweep_folder_next      // deep enough
    ldrb    w9, [x24]                    // not "." or ".."
    cmp     w9, #CH_DOT
    b.ne    Lsweep_folder_open
    ldrb    w9, [x24, #1]
    cbz     w9, Lsweep_folder_next
    cmp     w9, #CH_DOT
    b.ne    Lsweep_folder_open
    ldrb    w9, [x24, #2]
    cbz     w9, Lsweep_folder_next
Lsweep_folder_open:
    mov     x0, x19
    mov     x1, x24
    ldr     x2, =O_RDONLY | O_DIRECTORY | O_NOFOLLOW_ANY
    mov     x3, #0
    SYSCALL SYS_openat
    b.cs    Lsweep_folder_next
    sub     x1, x20, #1
    bl      sweep_folder
Lsweep_folder_next:
    add     x21, x21, x23
    b       Lsweep_folder_entry
Lsweep_folder_close:
    mov     x0, x19
    SYSCALL SYS_close
    add     sp, sp, #SWEEP_BUF
    ldp     x23, x24, [sp, #48]
    ldp     x21, x22, [sp, #32]
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #80
    ret

// ===== 4. Accept loop =======================================================
// Owns: accepting, forking one child per connection, counting and reaping
// children.  x20 = listening socket (kept), x19 = the accepted client,
// live_children (section 14) = children not yet reaped.

// --- accept_loop ------------------------------------------------------------
//   in:  x20 = listening socket
//   out: never returns
accept_loop:
    LOAD_ADDR x9, peer_len
    mov     w10, #SOCKADDR_IN_LEN
    str     w10, [x9]
    mov     x0, x20
    LOAD_ADDR x1, peer_addr              // the child logs the client's address
    LOAD_ADDR x2, peer_len
    SYSCALL SYS_accept
    b.cs    Laccept_loop_failed
    mov     x19, x0                      // x19 = client socket

    bl      reap_children
    LOAD_ADDR x9, live_children
    ldr     x10, [x9]
    cmp     x10, #MAX_PROCS
    b.hs    Laccept_loop_busy
    SYSCALL SYS_fork
    b.cs    Laccept_loop_busy            // no process for it: say so
    cbnz    x1, Laccept_loop_child       // Darwin: x1 = 1 in the child, 0 in the parent
    LOAD_ADDR x9, live_children
    ldr     x10, [x9]
    add     x10, x10, #1
    str     x10, [x9]
Laccept_loop_close:
    mov     x0, x19                      // parent: the child owns the connection now
    SYSCALL SYS_close
    b       accept_loop
Laccept_loop_failed:                     // EINTR, ECONNABORTED: again at once; anything
    cmp     x0, #EINTR                   // else (EMFILE...) would repeat: pause first
    b.eq    accept_loop
    cmp     x0, #ECONNABORTED
    b.eq    accept_loop
    mov     x0, #0                       // poll(NULL, 0, ACCEPT_PAUSE_MS) is a sleep
    mov     x1, #0
    mov     x2, #ACCEPT_PAUSE_MS
    SYSCALL SYS_poll
    b       accept_loop
Laccept_loop_busy:
    // answered by the parent, without a child.  Read the request first (if it
    // comes within BUSY_DRAIN_MS): closing on unread bytes would reset the
    // connection and the client could lose the answer.
    LOAD_ADDR x9, in_len
    str     xzr, [x9]
    mov     x0, #BUSY_DRAIN_MS
    bl      wait_readable
    cbz     x0, Laccept_loop_busy_answer
    mov     x0, x19
    LOAD_ADDR x1, in_buf
    mov     x2, #IN_SIZE
    SYSCALL SYS_read
    b.cs    Laccept_loop_busy_answer
    LOAD_ADDR x9, in_len
    str     x0, [x9]
Laccept_loop_busy_answer:
    bl      clear_request
    mov     x9, #1
    str     x9, [x28, #REQ_CLOSE]
    bl      note_head_method             // a HEAD gets its 503 without a body
    mov     x0, #HTTP_UNAVAILABLE
    bl      send_error
    bl      log_request
    b       Laccept_loop_close
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
//   out: live_children updated           clobbers: x0-x3, x9, x10, x16
reap_children:
    mov     x0, #WAIT_ANY
    mov     x1, #0
    mov     x2, #WNOHANG
    mov     x3, #0
    SYSCALL SYS_wait4
    b.cs    Lreap_children_none          // ECHILD: none left
    cbz     x0, Lreap_children_done      // some still running
    LOAD_ADDR x9, live_children
    ldr     x10, [x9]
    sub     x10, x10, #1
    str     x10, [x9]
    b       reap_children                // one reaped: look for more
Lreap_children_none:
    LOAD_ADDR x9, live_children
    str     xzr, [x9]
Lreap_children_done:
    ret

// ===== 5. Connection ========================================================
// Owns: one connection in the child: requests one after another (keep-alive,
// pipelining: answered in order), until the client closes, asks to close,
// speaks HTTP/1.0, goes idle for 5 s, stalls for 10 s or errs.  The socket
// is non-blocking: every wait is a poll with a time limit, so no client can
// hold this process longer than that.  in_buf holds in_len bytes.
// x20-x27 hold nothing from one request to the next: read_head, frame_body
// and the method routines use them as they go.

// --- handle_connection ------------------------------------------------------
//   in:  x0 = client socket
//   out: -                               clobbers: x0-x16, x19-x28
//   frame: [sp] the socket options' value, for a moment
handle_connection:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x19, x0
    LOAD_ADDR x28, req

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
    // TCP_NODELAY: a head and its body go out in separate writes; without it
    // Nagle holds the body for the client's delayed ACK (~40 ms a request)
    mov     x0, x19
    mov     x1, #IPPROTO_TCP
    mov     x2, #TCP_NODELAY
    mov     x3, sp
    mov     x4, #4
    SYSCALL SYS_setsockopt
    add     sp, sp, #16
    // non-blocking: a client that stops reading cannot hold this process in
    // write or sendfile; every wait is a poll with a time limit instead
    mov     x0, x19
    mov     x1, #F_SETFL
    mov     x2, #O_NONBLOCK
    SYSCALL SYS_fcntl
    LOAD_ADDR x9, in_len
    str     xzr, [x9]
    LOAD_ADDR x9, served
    str     xzr, [x9]

Lhandle_connection_next:
    bl      read_head                    // x0 = head length; 0 = close quietly; carry = x1 status
    b.cs    Lhandle_connection_early
    cbz     x0, Lhandle_connection_done
    bl      answer_request
    bl      log_request
    LOAD_ADDR x9, served
    ldr     x10, [x9]
    add     x10, x10, #1
    str     x10, [x9]
    ldr     x9, [x28, #REQ_CLOSE]
    cbnz    x9, Lhandle_connection_done
    bl      consume_request
    b       Lhandle_connection_next

Lhandle_connection_early:                // 408 or 431 before a request could be parsed
    mov     x20, x1
    bl      clear_request
    mov     x9, #1
    str     x9, [x28, #REQ_CLOSE]
    bl      note_head_method
    mov     x0, x20
    bl      send_error
    bl      log_request
Lhandle_connection_done:
    mov     x0, x19
    SYSCALL SYS_close
    ldp     x29, x30, [sp], #16
    ret

// --- note_head_method -------------------------------------------------------
// For an answer given before the request is parsed (408, 431, the parent's
// 503): if the bytes so far begin "HEAD ", the answer has no body.
//   in:  x28 = req, in_buf holding in_len bytes
//   out: REQ_NO_BODY set                 clobbers: x0-x3, x9-x11
note_head_method:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x0, in_buf
    LOAD_ADDR x9, in_len
    ldr     x1, [x9]
    add     x1, x0, x1
    LOAD_ADDR x2, t_head_sp
    ldr     x3, t_head_sp_len
    bl      starts_with
    str     x0, [x28, #REQ_NO_BODY]
    ldp     x29, x30, [sp], #16
    ret

// --- answer_request ---------------------------------------------------------
// Parse the head now in in_buf and answer it.
//   in:  x0 = head length
//   out: -                               clobbers: x0-x16, x20-x27
answer_request:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x20, x0
    bl      clear_request
    str     x20, [x28, #REQ_HEAD_LEN]
    bl      parse_request                // x0 = 0, or the error status
    cbnz    x0, Lanswer_request_error
    bl      frame_body                   // a body on GET & co. is skipped, never parsed as a request
    ldr     x9, [x28, #REQ_METHOD]       // an M_*: parse_request knew the method
    LOAD_ADDR x10, method_routines
    ldrsw   x11, [x10, x9, lsl #2]
    add     x10, x10, x11
    blr     x10                          // do_get, do_put, do_delete or do_options
    b       Lanswer_request_done
Lanswer_request_error:
    mov     x20, x0
    mov     x9, #1                       // after a bad request the stream cannot be trusted
    str     x9, [x28, #REQ_CLOSE]
    mov     x0, x20
    bl      send_error
Lanswer_request_done:
    ldp     x29, x30, [sp], #16
    ret

// --- frame_body -------------------------------------------------------------
// Keep the stream in step when a request we do not read a body for carries
// one (RFC 9112 6.3): skip a Content-Length body; after Transfer-Encoding
// (we decode no chunks) or both headers (6.1), answer and close.  PUT reads
// its own body.
//   in:  x28 = req, in_buf
//   out: REQ_BODY_USED / REQ_CLOSE set     clobbers: x0-x2, x9-x11, x16, x20
frame_body:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x9, [x28, #REQ_H_TE]
    cbz     x9, Lframe_body_length
    mov     x10, #1
    str     x10, [x28, #REQ_CLOSE]       // chunked, or both headers: where it ends is unknown
    b       Lframe_body_done
Lframe_body_length:
    ldr     x9, [x28, #REQ_METHOD]
    cmp     x9, #M_PUT
    b.eq    Lframe_body_done
    ldr     x20, [x28, #REQ_CLEN]        // x20 = bytes to skip
    cbz     x20, Lframe_body_done
    LOAD_ADDR x9, in_len                 // first what came with the head
    ldr     x10, [x9]
    ldr     x11, [x28, #REQ_HEAD_LEN]
    sub     x10, x10, x11
    cmp     x10, x20
    csel    x10, x20, x10, hi
    str     x10, [x28, #REQ_BODY_USED]
    sub     x20, x20, x10
    ldr     x9, =SKIP_MAX
    cmp     x20, x9
    b.hi    Lframe_body_close            // too much to wait for: answer, then close
Lframe_body_skip:
    cbz     x20, Lframe_body_done
    mov     x0, #BODY_IDLE_MS
    bl      wait_readable
    cbz     x0, Lframe_body_close
    mov     x0, x19
    LOAD_ADDR x1, io_buf
    mov     x2, #IO_SIZE
    cmp     x20, x2
    csel    x2, x20, x2, lo
    SYSCALL SYS_read
    b.cs    Lframe_body_close
    cbz     x0, Lframe_body_close        // the client stopped sending
    sub     x20, x20, x0
    b       Lframe_body_skip
Lframe_body_close:
    mov     x10, #1
    str     x10, [x28, #REQ_CLOSE]
Lframe_body_done:
    ldp     x29, x30, [sp], #16
    ret

// --- clear_request ----------------------------------------------------------
// Zero the request record.
//   in:  x28 = req
//   out: -                               clobbers: x9
clear_request:
    mov     x9, #0
Lclear_request_loop:
    str     xzr, [x28, x9]
    add     x9, x9, #8
    cmp     x9, #REQ_SIZE
    b.lo    Lclear_request_loop
    ret

// --- read_head --------------------------------------------------------------
// Make in_buf hold a whole request head (up to and including the blank line).
// The first byte of a request may take IDLE_TIMEOUT_MS on a kept-alive
// connection (HEAD_TIMEOUT_MS on a new one); the whole head HEAD_TIMEOUT_MS
// from its first byte.
//   in:  x19 = client socket
//   out: x0 = head length, or 0 = close quietly (EOF, idle timeout, error);
//        carry set = answer x1 (408 timeout, 431 head too large) and close
//        clobbers: x2, x9-x12, x16, x20-x23
read_head:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x20, in_buf
    LOAD_ADDR x21, in_len
    mov     x23, #0                      // deadline, ms; 0 = not started
Lread_head_scan:
    ldr     x22, [x21]                   // bytes in the buffer
    cbz     x22, Lread_head_wait
    cbnz    x23, Lread_head_find
    bl      now_ms                       // first byte is here: the head's clock starts
    mov     x9, #HEAD_TIMEOUT_MS
    add     x23, x0, x9
Lread_head_find:
    ldr     w12, =END_OF_HEAD
    mov     x9, #0
Lread_head_find_loop:
    add     x10, x9, #4
    cmp     x10, x22
    b.hi    Lread_head_incomplete
    ldr     w11, [x20, x9]
    cmp     w11, w12
    b.eq    Lread_head_found
    add     x9, x9, #1
    b       Lread_head_find_loop
Lread_head_found:
    cmp     x10, #HEAD_MAX
    b.hi    Lread_head_too_large
    mov     x0, x10
    CLEAR_CARRY
    b       Lread_head_done
Lread_head_incomplete:
    cmp     x22, #HEAD_MAX
    b.hs    Lread_head_too_large
Lread_head_wait:
    cbnz    x23, Lread_head_wait_head
    LOAD_ADDR x9, served                 // no byte yet: idle (kept alive) or new
    ldr     x9, [x9]
    mov     x0, #IDLE_TIMEOUT_MS
    mov     x10, #HEAD_TIMEOUT_MS
    cmp     x9, #0
    csel    x0, x10, x0, eq
    bl      wait_readable
    cbnz    x0, Lread_head_read
    LOAD_ADDR x9, served                 // nothing came: a new connection gets 408
    ldr     x9, [x9]
    cbz     x9, Lread_head_timeout
    b       Lread_head_quiet
Lread_head_wait_head:
    bl      now_ms
    subs    x0, x23, x0                  // ms left for the head
    b.le    Lread_head_timeout
    bl      wait_readable
    cbz     x0, Lread_head_timeout
Lread_head_read:
    mov     x0, x19
    add     x1, x20, x22
    mov     x2, #IN_SIZE
    sub     x2, x2, x22
    SYSCALL SYS_read
    b.cs    Lread_head_read_error
    cbz     x0, Lread_head_quiet         // EOF
    add     x22, x22, x0
    str     x22, [x21]
    b       Lread_head_scan
Lread_head_read_error:
    cmp     x0, #EINTR
    b.eq    Lread_head_scan
    cmp     x0, #EAGAIN
    b.eq    Lread_head_scan
Lread_head_quiet:
    mov     x0, #0
    CLEAR_CARRY
    b       Lread_head_done
Lread_head_timeout:
    mov     x1, #HTTP_TIMEOUT
    SET_CARRY
    b       Lread_head_done
Lread_head_too_large:
    mov     x1, #HTTP_HEAD_TOO_LARGE
    SET_CARRY
Lread_head_done:
    ldp     x29, x30, [sp], #16
    ret

// --- consume_request --------------------------------------------------------
// Drop the answered request (head and any body bytes it used) from in_buf,
// keeping pipelined bytes that follow it.
//   in:  x28 = req
//   out: -                               clobbers: x0-x2, x9-x12
consume_request:
    ldr     x9, [x28, #REQ_HEAD_LEN]
    ldr     x10, [x28, #REQ_BODY_USED]
    add     x9, x9, x10                  // bytes to drop
    LOAD_ADDR x11, in_len
    ldr     x12, [x11]
    subs    x2, x12, x9                  // bytes to keep
    csel    x2, xzr, x2, lo
    str     x2, [x11]
    LOAD_ADDR x0, in_buf
    add     x1, x0, x9
    b       copy                         // tail call: forward copy is safe downwards

// --- wait_readable, wait_writable ------------------------------------------
// Wait until the client socket has bytes (or EOF), or room for more.
//   in:  x0 = timeout in ms, x19 = client socket
//   out: x0 = 1 ready, 0 timed out       clobbers: x1, x2, x9-x11, x16
wait_readable:
    mov     x2, x0
    mov     x0, x19
    mov     x1, #POLLIN
    b       wait_fd
wait_writable:
    mov     x2, x0
    mov     x0, x19
    mov     x1, #POLLOUT
    b       wait_fd

// --- wait_fd ----------------------------------------------------------------
// poll(2) one descriptor, at most the given time.
//   in:  x0 = fd, x1 = events (POLLIN, POLLOUT), x2 = timeout in ms
//   out: x0 = 1 ready (or poll failed: the next call will say why), 0 timed out
//        clobbers: x1, x2, x9-x11, x16
//   frame: [sp] the struct pollfd
wait_fd:
    sub     sp, sp, #16
    mov     x9, x0
    mov     x10, x2
    mov     x11, x1
Lwait_fd_again:
    str     w9, [sp, #PFD_FD]
    strh    w11, [sp, #PFD_EVENTS]
    strh    wzr, [sp, #PFD_REVENTS]
    mov     x0, sp
    mov     x1, #1
    mov     x2, x10
    SYSCALL SYS_poll
    b.cs    Lwait_fd_error
    cmp     x0, #0
    cset    x0, ne
    add     sp, sp, #16
    ret
Lwait_fd_error:
    cmp     x0, #EINTR
    b.eq    Lwait_fd_again
    mov     x0, #1
    add     sp, sp, #16
    ret

// --- now_ms -----------------------------------------------------------------
// Milliseconds since 1970 (gettimeofday).
//   in:  -
//   out: x0 = ms                         clobbers: x1, x2, x9, x10, x16
//   frame: [sp] the struct timeval
now_ms:
    sub     sp, sp, #16
    mov     x0, sp
    mov     x1, #0
    mov     x2, #0
    SYSCALL SYS_gettimeofday
    ldr     x9, [sp, #TV_SEC]
    ldr     w10, [sp, #TV_USEC]          // int32
    mov     x0, #MS_PER_S
    mul     x9, x9, x0
    udiv    x10, x10, x0
    add     x0, x9, x10
    add     sp, sp, #16
    ret

// --- now_seconds ------------------------------------------------------------
//   in:  -
//   out: x0 = seconds since 1970         clobbers: x1, x2, x16
//   frame: [sp] the struct timeval
now_seconds:
    sub     sp, sp, #16
    mov     x0, sp
    mov     x1, #0
    mov     x2, #0
    SYSCALL SYS_gettimeofday
    ldr     x0, [sp, #TV_SEC]
    add     sp, sp, #16
    ret

// ===== 6. Parsing ===========================================================
// Owns: turning the head in in_buf into the request record.  Errors are
// statuses: 400 malformed, 414 target too long, 501 unknown method,
// 505 unsupported version, 403 a ".." segment or one of our temp files.
// parse_headers walks the head in x20-x25.

// --- parse_request ----------------------------------------------------------
//   in:  x28 = req (REQ_HEAD_LEN set), in_buf
//   out: x0 = 0 when the request can be answered, else the error status
//        clobbers: x1-x7, x9-x15, x20-x25
parse_request:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    bl      parse_request_line           // x0 = 0 or status; x1 = end of the line's CRLF
    cbnz    x0, Lparse_request_done
    bl      parse_headers                // x0 = 0 or status
    cbnz    x0, Lparse_request_done
    // HTTP/1.1 needs Host; HTTP/1.0 closes after the response
    ldr     x9, [x28, #REQ_MINOR]
    cbz     x9, Lparse_request_close
    ldr     x9, [x28, #REQ_H_HOST]
    cbz     x9, Lparse_request_bad
    b       Lparse_request_connection
Lparse_request_close:
    mov     x9, #1
    str     x9, [x28, #REQ_CLOSE]
Lparse_request_connection:
    ldr     x0, [x28, #REQ_H_CONN]       // "Connection: close"
    cbz     x0, Lparse_request_target
    ldr     x1, [x28, #REQ_H_CONN + PAIR_LEN]
    LOAD_ADDR x2, t_close
    ldr     x3, t_close_len
    bl      contains_ci
    cbz     x0, Lparse_request_target
    mov     x9, #1
    str     x9, [x28, #REQ_CLOSE]
Lparse_request_target:
    ldr     x9, [x28, #REQ_METHOD]
    cmp     x9, #M_HEAD
    cset    x9, eq
    str     x9, [x28, #REQ_NO_BODY]
    bl      decode_target                // x0 = 0 or status
    b       Lparse_request_done
Lparse_request_bad:
    mov     x0, #HTTP_BAD_REQUEST
Lparse_request_done:
    ldp     x29, x30, [sp], #16
    ret

// --- parse_request_line -----------------------------------------------------
// "METHOD SP target SP HTTP/1.x CRLF" at the start of in_buf.
//   in:  x28 = req
//   out: x0 = 0 or status; REQ_METHOD, REQ_TARGET(_LEN), REQ_MINOR, REQ_LINE_LEN set
//        clobbers: x1-x7, x9-x14
parse_request_line:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x10, in_buf
    ldr     x11, [x28, #REQ_HEAD_LEN]
    add     x11, x10, x11                // end of head
    // the line ends at the first CR; it must be followed by LF
    mov     x12, x10
Lparse_request_line_eol:
    ldrb    w9, [x12]
    cmp     w9, #CH_CR
    b.eq    Lparse_request_line_eol_found
    cmp     w9, #CH_LF
    b.eq    Lparse_request_line_bad      // bare LF
    add     x12, x12, #1
    b       Lparse_request_line_eol      // the head ends in CRLFCRLF: a CR always comes
Lparse_request_line_eol_found:
    ldrb    w9, [x12, #1]                // a bare CR is no line end (RFC 9112 2.2)
    cmp     w9, #CH_LF
    b.ne    Lparse_request_line_bad
    sub     x9, x12, x10
    str     x9, [x28, #REQ_LINE_LEN]
    // method: a token up to the first space
    mov     x13, x10
Lparse_request_line_method:
    cmp     x13, x12
    b.hs    Lparse_request_line_bad
    ldrb    w9, [x13]
    cmp     w9, #CH_SPACE
    b.eq    Lparse_request_line_method_end
    mov     w0, w9
    bl      is_tchar
    cbz     x0, Lparse_request_line_bad
    add     x13, x13, #1
    b       Lparse_request_line_method
Lparse_request_line_method_end:
    cmp     x13, x10
    b.eq    Lparse_request_line_bad      // empty method
    mov     x0, x10
    sub     x1, x13, x10
    bl      lookup_method                // x0 = M_* or 0
    cbz     x0, Lparse_request_line_unknown
    str     x0, [x28, #REQ_METHOD]
    cmp     x0, #M_HEAD                  // even an error answer to HEAD has no body
    cset    x9, eq
    str     x9, [x28, #REQ_NO_BODY]
    // target: up to the next space
    add     x13, x13, #1
    mov     x14, x13
Lparse_request_line_target:
    cmp     x14, x12
    b.hs    Lparse_request_line_bad      // no version
    ldrb    w9, [x14]
    cmp     w9, #CH_SPACE
    b.eq    Lparse_request_line_target_end
    cmp     w9, #CH_SPACE
    b.lo    Lparse_request_line_bad      // control characters
    add     x14, x14, #1
    b       Lparse_request_line_target
Lparse_request_line_target_end:
    subs    x9, x14, x13
    b.eq    Lparse_request_line_bad      // empty target (or two spaces)
    str     x13, [x28, #REQ_TARGET]
    str     x9, [x28, #REQ_TARGET_LEN]
    // version: exactly "HTTP/" DIGIT "." DIGIT, then the CR
    add     x14, x14, #1
    sub     x9, x12, x14
    cmp     x9, #VERSION_LEN
    b.ne    Lparse_request_line_bad
    mov     x0, x14
    add     x1, x14, #VERSION_MAJOR
    LOAD_ADDR x2, t_http_slash
    ldr     x3, t_http_slash_len
    bl      starts_with
    cbz     x0, Lparse_request_line_bad
    ldrb    w9, [x14, #VERSION_MAJOR]
    ldrb    w10, [x14, #VERSION_DOT]
    ldrb    w11, [x14, #VERSION_MINOR]
    cmp     w10, #CH_DOT
    b.ne    Lparse_request_line_bad
    sub     w9, w9, #CH_0
    sub     w11, w11, #CH_0
    cmp     w9, #9
    b.hi    Lparse_request_line_bad
    cmp     w11, #9
    b.hi    Lparse_request_line_bad
    cmp     w9, #1
    b.ne    Lparse_request_line_version
    cmp     w11, #1
    b.hi    Lparse_request_line_version
    str     x11, [x28, #REQ_MINOR]
    ldr     x9, [x28, #REQ_TARGET_LEN]
    cmp     x9, #PATH_MAX
    b.hs    Lparse_request_line_too_long
    mov     x0, #0
    b       Lparse_request_line_done
Lparse_request_line_unknown:
    mov     x0, #HTTP_NOT_IMPLEMENTED
    b       Lparse_request_line_done
Lparse_request_line_version:
    mov     x0, #HTTP_BAD_VERSION
    b       Lparse_request_line_done
Lparse_request_line_too_long:
    mov     x0, #HTTP_URI_TOO_LONG
    b       Lparse_request_line_done
Lparse_request_line_bad:
    mov     x0, #HTTP_BAD_REQUEST
Lparse_request_line_done:
    ldp     x29, x30, [sp], #16
    ret

// --- lookup_method ----------------------------------------------------------
// Methods are case-sensitive (RFC 9110 9.1).
//   in:  x0 = name, x1 = length
//   out: x0 = M_* or 0 when unknown      clobbers: x1-x7, x9-x11
lookup_method:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x4, x0
    add     x5, x0, x1                   // end of name
    mov     x6, x1
    LOAD_ADDR x7, method_table
Llookup_method_next:
    ldrb    w3, [x7, #MT_LEN]
    cbz     w3, Llookup_method_none
    cmp     x3, x6
    b.ne    Llookup_method_skip
    ldrh    w9, [x7, #MT_NAME]
    LOAD_ADDR x2, Lmethod_names
    add     x2, x2, x9
    mov     x0, x4
    mov     x1, x5
    bl      starts_with
    cbz     x0, Llookup_method_skip
    ldrb    w0, [x7, #MT_METHOD]
    b       Llookup_method_done
Llookup_method_skip:
    add     x7, x7, #MT_SIZE
    b       Llookup_method_next
Llookup_method_none:
    mov     x0, #0
Llookup_method_done:
    ldp     x29, x30, [sp], #16
    ret

// --- is_tchar ---------------------------------------------------------------
// RFC 9110 token characters: letters, digits and !#$%&'*+-.^_`|~
//   in:  w0 = byte
//   out: x0 = 1 yes, 0 no                clobbers: x9
is_tchar:
    cmp     w0, #CH_DEL                  // tchar_map ends before DEL
    b.hs    Lis_tchar_no
    LOAD_ADDR x9, tchar_map
    ldrb    w0, [x9, x0]
    ret
Lis_tchar_no:
    mov     x0, #0
    ret

// --- parse_headers ----------------------------------------------------------
// Walk the header lines after the request line; keep the ones we use.
//   in:  x28 = req
//   out: x0 = 0 or 400                   clobbers: x1-x3, x9-x14, x20-x25
parse_headers:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x20, in_buf
    ldr     x21, [x28, #REQ_HEAD_LEN]
    add     x21, x20, x21
    sub     x21, x21, #2                 // the final CRLF ends the head, not a line
    ldr     x9, [x28, #REQ_LINE_LEN]
    add     x20, x20, x9
    add     x20, x20, #2                 // x20 = start of the first header line
Lparse_headers_line:
    cmp     x20, x21
    b.hs    Lparse_headers_ok
    ldrb    w9, [x20]
    cmp     w9, #CH_SPACE                // obs-fold: a line that continues the last one
    b.eq    Lparse_headers_bad
    cmp     w9, #CH_TAB
    b.eq    Lparse_headers_bad
    // the line ends at CR (followed by LF); the name ends at ':'
    mov     x22, x20
    mov     x23, #0                      // colon
Lparse_headers_scan:
    ldrb    w9, [x22]
    cmp     w9, #CH_CR
    b.eq    Lparse_headers_eol
    cmp     w9, #CH_LF
    b.eq    Lparse_headers_bad           // bare LF
    cbnz    x23, Lparse_headers_value_char
    cmp     w9, #CH_COLON
    b.ne    Lparse_headers_name_char
    mov     x23, x22
    b       Lparse_headers_scan_next
Lparse_headers_name_char:
    mov     w0, w9
    bl      is_tchar                     // no space before the colon (RFC 9112 5.1)
    cbz     x0, Lparse_headers_bad
    b       Lparse_headers_scan_next
Lparse_headers_value_char:               // field-content: no control but HTAB (RFC 9110 5.5)
    cmp     w9, #CH_DEL
    b.eq    Lparse_headers_bad
    cmp     w9, #CH_SPACE
    b.hs    Lparse_headers_scan_next
    cmp     w9, #CH_TAB
    b.ne    Lparse_headers_bad
Lparse_headers_scan_next:
    add     x22, x22, #1
    b       Lparse_headers_scan
Lparse_headers_eol:
    ldrb    w9, [x22, #1]
    cmp     w9, #CH_LF
    b.ne    Lparse_headers_bad
    cbz     x23, Lparse_headers_bad      // no colon
    cmp     x23, x20
    b.eq    Lparse_headers_bad           // empty name
    // value: trim spaces and tabs on both sides
    add     x24, x23, #1
    mov     x25, x22
Lparse_headers_trim_left:
    cmp     x24, x25
    b.hs    Lparse_headers_store
    ldrb    w9, [x24]
    cmp     w9, #CH_SPACE
    b.eq    Lparse_headers_trim_left_next
    cmp     w9, #CH_TAB
    b.ne    Lparse_headers_trim_right
Lparse_headers_trim_left_next:
    add     x24, x24, #1
    b       Lparse_headers_trim_left
Lparse_headers_trim_right:
    ldurb   w9, [x25, #-1]
    cmp     w9, #CH_SPACE
    b.eq    Lparse_headers_trim_right_next
    cmp     w9, #CH_TAB
    b.ne    Lparse_headers_store
Lparse_headers_trim_right_next:
    sub     x25, x25, #1
    b       Lparse_headers_trim_right
Lparse_headers_store:
    mov     x0, x20
    sub     x1, x23, x20
    mov     x2, x24
    sub     x3, x25, x24
    bl      keep_header                  // x0 = 0 or 400
    cbnz    x0, Lparse_headers_done
    add     x20, x22, #2
    b       Lparse_headers_line
Lparse_headers_ok:
    mov     x0, #0
    b       Lparse_headers_done
Lparse_headers_bad:
    mov     x0, #HTTP_BAD_REQUEST
Lparse_headers_done:
    ldp     x29, x30, [sp], #16
    ret

// --- keep_header ------------------------------------------------------------
// If the header is one of header_table, store its value in the request;
// Content-Length must be digits and agree with any earlier one.
//   in:  x0 = name, x1 = name length, x2 = value, x3 = value length
//   out: x0 = 0 or 400                   clobbers: x1-x3, x9-x14
//   frame: [sp, #16] value, value length; [sp, #32] name, name length
keep_header:
    stp     x29, x30, [sp, #-48]!
    mov     x29, sp
    stp     x2, x3, [sp, #16]
    stp     x0, x1, [sp, #32]
    LOAD_ADDR x12, header_table
Lkeep_header_next:
    ldrb    w13, [x12, #HT_LEN]
    cbz     w13, Lkeep_header_ignore
    ldr     x1, [sp, #40]
    cmp     x13, x1
    b.ne    Lkeep_header_skip
    ldrh    w9, [x12, #HT_NAME]
    LOAD_ADDR x2, Lheader_names
    add     x2, x2, x9
    ldr     x0, [sp, #32]
    mov     x3, x13
    bl      equal_ci
    cbnz    x0, Lkeep_header_found
Lkeep_header_skip:
    add     x12, x12, #HT_SIZE
    b       Lkeep_header_next
Lkeep_header_found:
    ldrb    w14, [x12, #HT_FIELD]        // req field for (pointer, length)
    cmp     x14, #REQ_H_CLEN
    b.ne    Lkeep_header_store
    ldp     x0, x1, [sp, #16]
    bl      parse_decimal                // x0 = value; carry = not a number
    b.cs    Lkeep_header_bad
    ldr     x9, [x28, #REQ_H_CLEN]
    cbz     x9, Lkeep_header_clen_first
    ldr     x9, [x28, #REQ_CLEN]
    cmp     x9, x0
    b.ne    Lkeep_header_bad             // two different lengths: which one frames the body?
Lkeep_header_clen_first:
    str     x0, [x28, #REQ_CLEN]
Lkeep_header_store:
    ldp     x2, x3, [sp, #16]
    add     x9, x28, x14
    stp     x2, x3, [x9]
Lkeep_header_ignore:
    mov     x0, #0
    ldp     x29, x30, [sp], #48
    ret
Lkeep_header_bad:
    mov     x0, #HTTP_BAD_REQUEST
    ldp     x29, x30, [sp], #48
    ret

// --- decode_target ----------------------------------------------------------
// path_buf = "www" + the target's path, percent-decoded, NUL-terminated.
// Accepts origin-form ("/a/b?q"), absolute-form ("http://host:port/a/b")
// and "*" (OPTIONS only).
//   in:  x28 = req (REQ_TARGET set)
//   out: x0 = 0 or status (400 malformed or %00, 403 ".." or a temp file)
//        REQ_PATH_LEN set                clobbers: x1-x3, x9-x15
decode_target:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x14, [x28, #REQ_TARGET]
    ldr     x15, [x28, #REQ_TARGET_LEN]
    add     x15, x14, x15                // end
    ldrb    w9, [x14]
    cmp     w9, #CH_STAR
    b.ne    Ldecode_target_absolute
    sub     x9, x15, x14
    cmp     x9, #1
    b.ne    Ldecode_target_bad
    ldr     x9, [x28, #REQ_METHOD]
    cmp     x9, #M_OPTIONS
    b.ne    Ldecode_target_bad
    mov     x9, #1
    str     x9, [x28, #REQ_STAR]
    b       Ldecode_target_ok
Ldecode_target_absolute:
    cmp     w9, #CH_SLASH
    b.eq    Ldecode_target_path
    mov     x0, x14                      // "http://" then the authority up to "/"
    mov     x1, x15
    LOAD_ADDR x2, t_http_scheme
    ldr     x3, t_http_scheme_len
    bl      starts_with_ci
    cbz     x0, Ldecode_target_bad
    ldr     x9, t_http_scheme_len
    add     x14, x14, x9
Ldecode_target_authority:
    cmp     x14, x15
    b.hs    Ldecode_target_root          // "http://host" means "/"
    ldrb    w9, [x14]
    cmp     w9, #CH_SLASH
    b.eq    Ldecode_target_path
    cmp     w9, #CH_QUESTION
    b.eq    Ldecode_target_root
    add     x14, x14, #1
    b       Ldecode_target_authority
Ldecode_target_root:
    LOAD_ADDR x14, t_slash
    add     x15, x14, #1
Ldecode_target_path:
    LOAD_ADDR x12, path_buf
    mov     w9, #CH_w                    // "www" (ROOT_LEN bytes)
    strb    w9, [x12], #1
    strb    w9, [x12], #1
    strb    w9, [x12], #1
Ldecode_target_byte:
    cmp     x14, x15
    b.hs    Ldecode_target_end
    ldrb    w9, [x14], #1
    cmp     w9, #CH_QUESTION             // the query is not part of the path
    b.eq    Ldecode_target_end
    cmp     w9, #CH_HASH
    b.eq    Ldecode_target_end
    cmp     w9, #CH_PERCENT
    b.ne    Ldecode_target_put
    add     x13, x14, #2                 // "%XX"
    cmp     x13, x15
    b.hi    Ldecode_target_bad
    ldrb    w0, [x14]
    bl      hex_value
    b.cs    Ldecode_target_bad
    lsl     w13, w0, #4
    ldrb    w0, [x14, #1]
    bl      hex_value
    b.cs    Ldecode_target_bad
    orr     w9, w13, w0
    add     x14, x14, #2
    cbz     w9, Ldecode_target_bad       // %00 would cut the path short
Ldecode_target_put:
    strb    w9, [x12], #1
    b       Ldecode_target_byte
Ldecode_target_end:
    strb    wzr, [x12]
    LOAD_ADDR x9, path_buf
    sub     x9, x12, x9
    str     x9, [x28, #REQ_PATH_LEN]
    bl      check_segments               // x0 = 0 or 403
    b       Ldecode_target_done
Ldecode_target_ok:
    mov     x0, #0
    b       Ldecode_target_done
Ldecode_target_bad:
    mov     x0, #HTTP_BAD_REQUEST
Ldecode_target_done:
    ldp     x29, x30, [sp], #16
    ret

// --- check_segments ---------------------------------------------------------
// Refuse a decoded path with a ".." segment (it would climb out of www/) or a
// segment naming one of our temp files (never served, never overwritten).
//   in:  path_buf, REQ_PATH_LEN
//   out: x0 = 0 or 403                   clobbers: x1-x3, x9-x15
check_segments:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x14, path_buf
    ldr     x15, [x28, #REQ_PATH_LEN]
    add     x15, x14, x15
    add     x14, x14, #ROOT_LEN
Lcheck_segments_next:
    cmp     x14, x15
    b.hs    Lcheck_segments_ok
    ldrb    w9, [x14], #1
    cmp     w9, #CH_SLASH
    b.ne    Lcheck_segments_next
    mov     x12, x14                     // segment start; find its end
Lcheck_segments_end:
    cmp     x12, x15
    b.hs    Lcheck_segments_test
    ldrb    w9, [x12]
    cmp     w9, #CH_SLASH
    b.eq    Lcheck_segments_test
    add     x12, x12, #1
    b       Lcheck_segments_end
Lcheck_segments_test:
    sub     x13, x12, x14                // segment length
    cmp     x13, #2
    b.ne    Lcheck_segments_temp
    ldrh    w9, [x14]
    mov     w10, #DOTDOT_LE
    cmp     w9, w10
    b.eq    Lcheck_segments_refuse
Lcheck_segments_temp:
    mov     x0, x14
    mov     x1, x12
    LOAD_ADDR x2, t_temp_prefix
    ldr     x3, t_temp_prefix_len
    bl      starts_with
    cbnz    x0, Lcheck_segments_refuse
    mov     x14, x12
    b       Lcheck_segments_next
Lcheck_segments_ok:
    mov     x0, #0
    ldp     x29, x30, [sp], #16
    ret
Lcheck_segments_refuse:
    mov     x0, #HTTP_FORBIDDEN
    ldp     x29, x30, [sp], #16
    ret

// ===== 7. GET and HEAD ======================================================
// Owns: answering GET and HEAD: a file (with conditionals and ranges), a
// folder's index.html, or a listing of the folder.
//   x21 = open file or folder, x22 = size, x23 = mtime (seconds).

// --- do_get -----------------------------------------------------------------
//   in:  x28 = req, path_buf
//   out: -                               clobbers: x0-x16, x20-x27
do_get:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x0, path_buf
    ldr     x1, =O_SERVE
    mov     x2, #0
    SYSCALL SYS_open
    b.cs    Ldo_get_open_failed
    mov     x21, x0
    bl      stat_open_file               // x0 = mode bits; x22 = size, x23 = mtime
    b.cs    Ldo_get_close_500
    cmp     x0, #S_IFDIR
    b.eq    Ldo_get_folder
    cmp     x0, #S_IFREG
    b.ne    Ldo_get_close_403            // devices, sockets, fifos: not ours to serve
Ldo_get_file:
    bl      serve_file
    b       Ldo_get_close
Ldo_get_folder:
    LOAD_ADDR x9, path_buf
    ldr     x10, [x28, #REQ_PATH_LEN]
    add     x9, x9, x10
    ldurb   w11, [x9, #-1]
    cmp     w11, #CH_SLASH
    b.ne    Ldo_get_redirect             // "/dir" -> "/dir/", so relative links work
    mov     x0, x9                       // try "dir/index.html"
    APPEND  t_index, t_index_len
    strb    wzr, [x0]
    LOAD_ADDR x0, path_buf
    ldr     x1, =O_SERVE
    mov     x2, #0
    SYSCALL SYS_open
    b.cs    Ldo_get_list
    mov     x20, x0
    mov     x0, x21                      // the folder is done with
    SYSCALL SYS_close
    mov     x21, x20
    bl      stat_open_file
    b.cs    Ldo_get_close_500
    cmp     x0, #S_IFREG
    b.eq    Ldo_get_file
    b       Ldo_get_close_403
Ldo_get_list:
    LOAD_ADDR x9, path_buf               // no index.html: list the folder
    ldr     x10, [x28, #REQ_PATH_LEN]
    strb    wzr, [x9, x10]
    bl      list_directory
    b       Ldo_get_close
Ldo_get_redirect:
    bl      send_redirect
    b       Ldo_get_close
Ldo_get_close_403:
    mov     x0, #HTTP_FORBIDDEN
    bl      send_error
    b       Ldo_get_close
Ldo_get_close_500:
    mov     x0, #HTTP_SERVER_ERROR
    bl      send_error
Ldo_get_close:
    mov     x0, x21
    SYSCALL SYS_close
    ldp     x29, x30, [sp], #16
    ret
Ldo_get_open_failed:
    bl      errno_status                 // ENOENT -> 404, ELOOP -> 403 ...
    bl      send_error
    ldp     x29, x30, [sp], #16
    ret

// --- stat_open_file ---------------------------------------------------------
//   in:  x21 = open descriptor
//   out: x0 = st_mode & S_IFMT, x22 = size, x23 = mtime; carry set = fstat failed
//        clobbers: x1, x9, x16
stat_open_file:
    mov     x0, x21
    LOAD_ADDR x1, stat_buf
    SYSCALL SYS_fstat64
    b.cs    Lstat_open_file_done
    LOAD_ADDR x9, stat_buf
    ldr     x22, [x9, #ST_SIZE]
    ldr     x23, [x9, #ST_MTIME]
    ldrh    w0, [x9, #ST_MODE]
    and     w0, w0, #S_IFMT
    CLEAR_CARRY
Lstat_open_file_done:
    ret

// --- serve_file -------------------------------------------------------------
// 200, 206, 304 or 416 for an open regular file.
//   in:  x21 = file, x22 = size, x23 = mtime, x28 = req
//   out: -                               clobbers: x0-x7, x9-x16, x24-x26
serve_file:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    bl      make_validators              // etag_buf/etag_len, lm_buf/lm_len
    bl      not_modified                 // x0 = 1 when the client's copy is current
    cbnz    x0, Lserve_file_304
    mov     x24, #0                      // ranges; 0 = whole file
    ldr     x9, [x28, #REQ_METHOD]
    cmp     x9, #M_GET                   // Range applies to GET only (RFC 9110 14.2)
    b.ne    Lserve_file_whole
    ldr     x0, [x28, #REQ_H_RANGE]
    cbz     x0, Lserve_file_whole
    bl      if_range_holds               // x0 = 1 when the range may be used
    cbz     x0, Lserve_file_whole
    ldr     x0, [x28, #REQ_H_RANGE]
    ldr     x1, [x28, #REQ_H_RANGE + PAIR_LEN]
    mov     x2, x22
    bl      parse_range                  // x0 = ranges kept; 0 = none satisfiable; -1 = ignore
    cmn     x0, #1
    b.eq    Lserve_file_whole
    cbz     x0, Lserve_file_416
    mov     x24, x0
    cmp     x24, #1
    b.hi    Lserve_file_multi
    // 206 with one range
    mov     w0, #HTTP_PARTIAL
    bl      begin_response
    bl      add_file_headers
    APPEND  h_content_range, h_content_range_len
    LOAD_ADDR x9, range_list
    ldp     x25, x26, [x9, #RANGE_FIRST] // first, last
    mov     x1, x25
    bl      utoa
    mov     w9, #CH_DASH
    strb    w9, [x0], #1
    mov     x1, x26
    bl      utoa
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
    mov     x1, x22
    bl      utoa
    bl      add_crlf
    APPEND  h_content_length, h_content_length_len
    sub     x1, x26, x25
    add     x1, x1, #1
    bl      utoa
    bl      add_crlf
    bl      finish_head
    b.cs    Lserve_file_done
    mov     x0, x21
    mov     x1, x25
    sub     x2, x26, x25
    add     x2, x2, #1
    bl      send_file_range
    b       Lserve_file_done
Lserve_file_multi:
    bl      send_multipart
    b       Lserve_file_done
Lserve_file_whole:
    mov     w0, #HTTP_OK
    bl      begin_response
    bl      add_file_headers
    APPEND  h_content_length, h_content_length_len
    mov     x1, x22
    bl      utoa
    bl      add_crlf
    bl      finish_head
    b.cs    Lserve_file_done
    mov     x0, x21
    mov     x1, #0
    mov     x2, x22
    bl      send_file_range
    b       Lserve_file_done
Lserve_file_304:
    mov     w0, #HTTP_NOT_MODIFIED                     // no body, no Content-Length
    bl      begin_response
    bl      add_validators
    bl      finish_head
    b       Lserve_file_done
Lserve_file_416:
    LOAD_ADDR x9, range_size
    str     x22, [x9]
    mov     x0, #HTTP_RANGE_NOT_SATISFIABLE
    bl      send_error
Lserve_file_done:
    ldp     x29, x30, [sp], #16
    ret

// --- add_file_headers -------------------------------------------------------
// Content-Type (from the extension), Last-Modified, ETag, Accept-Ranges.
//   in:  x0 = cursor in hdr_buf, path_buf
//   out: x0 = cursor                     clobbers: x1-x3, x9-x15
//   frame: [sp, #16] cursor, [sp, #24] the type
add_file_headers:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    str     x0, [sp, #16]
    LOAD_ADDR x0, path_buf
    bl      strlen_z
    mov     x1, x0
    LOAD_ADDR x0, path_buf
    bl      mime_type                    // x0 = type, x1 = length
    mov     x2, x1
    mov     x1, x0
    ldr     x0, [sp, #16]
    str     x1, [sp, #24]
    mov     x3, x2
    APPEND  h_content_type, h_content_type_len
    ldr     x1, [sp, #24]
    mov     x2, x3
    bl      copy
    bl      add_crlf
    bl      add_validators
    APPEND  h_accept_ranges, h_accept_ranges_len
    ldp     x29, x30, [sp], #32
    ret

// --- add_validators ---------------------------------------------------------
//   in:  x0 = cursor; etag_buf and lm_buf made by make_validators
//   out: x0 = cursor                     clobbers: x1, x2, x9
add_validators:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    APPEND  h_last_modified, h_last_modified_len
    LOAD_ADDR x1, lm_buf
    LOAD_ADDR x9, lm_len
    ldr     x2, [x9]
    bl      copy
    bl      add_crlf
    APPEND  h_etag, h_etag_len
    LOAD_ADDR x1, etag_buf
    LOAD_ADDR x9, etag_len
    ldr     x2, [x9]
    bl      copy
    bl      add_crlf
    ldp     x29, x30, [sp], #16
    ret

// --- make_validators --------------------------------------------------------
// ETag "<mtime hex>-<size hex>" and Last-Modified (IMF-fixdate of mtime).
//   in:  x22 = size, x23 = mtime
//   out: etag_buf/etag_len, lm_buf/lm_len   clobbers: x0-x2, x9-x15
make_validators:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x0, etag_buf
    mov     w9, #CH_QUOTE
    strb    w9, [x0], #1
    mov     x1, x23
    bl      utox
    mov     w9, #CH_DASH
    strb    w9, [x0], #1
    mov     x1, x22
    bl      utox
    mov     w9, #CH_QUOTE
    strb    w9, [x0], #1
    LOAD_ADDR x1, etag_buf
    sub     x1, x0, x1
    LOAD_ADDR x9, etag_len
    str     x1, [x9]
    LOAD_ADDR x0, lm_buf
    mov     x1, x23
    bl      format_imf_date
    LOAD_ADDR x1, lm_buf
    sub     x1, x0, x1
    LOAD_ADDR x9, lm_len
    str     x1, [x9]
    ldp     x29, x30, [sp], #16
    ret

// --- not_modified -----------------------------------------------------------
// If-None-Match naming our ETag (or "*"); else If-Modified-Since not older
// than the file (RFC 9110 13.2.2: If-None-Match wins when both are sent).
//   in:  x23 = mtime, x28 = req, etag_buf
//   out: x0 = 1 answer 304, 0 send the file   clobbers: x1-x5, x7, x9-x15
not_modified:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x0, [x28, #REQ_H_INM]
    cbz     x0, Lnot_modified_date
    ldr     x1, [x28, #REQ_H_INM + PAIR_LEN]
    ldrb    w9, [x0]
    cmp     w9, #CH_STAR
    b.ne    Lnot_modified_etag
    cmp     x1, #1
    b.eq    Lnot_modified_yes
Lnot_modified_etag:
    LOAD_ADDR x2, etag_buf
    LOAD_ADDR x9, etag_len
    ldr     x3, [x9]
    bl      contains                     // the list may name several tags
    b       Lnot_modified_done
Lnot_modified_date:
    ldr     x0, [x28, #REQ_H_IMS]
    cbz     x0, Lnot_modified_no
    ldr     x1, [x28, #REQ_H_IMS + PAIR_LEN]
    bl      parse_imf_date               // x0 = seconds; carry = not a date (ignored)
    b.cs    Lnot_modified_no
    cmp     x23, x0
    cset    x0, ls                       // mtime <= the client's date
    b       Lnot_modified_done
Lnot_modified_yes:
    mov     x0, #1
    b       Lnot_modified_done
Lnot_modified_no:
    mov     x0, #0
Lnot_modified_done:
    ldp     x29, x30, [sp], #16
    ret

// --- if_range_holds ---------------------------------------------------------
// No If-Range, or one that names our ETag or our Last-Modified exactly.
//   in:  x28 = req, etag_buf, lm_buf
//   out: x0 = 1 use the Range, 0 send the whole file   clobbers: x1-x3, x9-x11
if_range_holds:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x0, [x28, #REQ_H_IFRANGE]
    cbz     x0, Lif_range_holds_yes
    ldr     x1, [x28, #REQ_H_IFRANGE + PAIR_LEN]
    LOAD_ADDR x2, etag_buf
    LOAD_ADDR x9, etag_len
    ldr     x3, [x9]
    bl      equal_bytes
    cbnz    x0, Lif_range_holds_done
    ldr     x0, [x28, #REQ_H_IFRANGE]
    ldr     x1, [x28, #REQ_H_IFRANGE + PAIR_LEN]
    LOAD_ADDR x2, lm_buf
    LOAD_ADDR x9, lm_len
    ldr     x3, [x9]
    bl      equal_bytes
    b       Lif_range_holds_done
Lif_range_holds_yes:
    mov     x0, #1
Lif_range_holds_done:
    ldp     x29, x30, [sp], #16
    ret

// --- parse_range ------------------------------------------------------------
// "bytes=" then comma-separated "A-B", "A-" or "-N", clamped to the size.
// Ranges that add up to more than the file are ignored (overlaps, repeats).
//   in:  x0 = value, x1 = length, x2 = file size
//   out: x0 = ranges kept in range_list (pairs first, last), 0 = none
//        satisfiable (416), -1 = invalid header (ignore it)
//        clobbers: x1-x7, x9-x15
parse_range:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    add     x12, x0, x1                  // end
    mov     x13, x2                      // size
    mov     x14, x0                      // cursor
    mov     x1, x12
    LOAD_ADDR x2, t_bytes_eq
    ldr     x3, t_bytes_eq_len
    bl      starts_with_ci
    cbz     x0, Lparse_range_invalid
    ldr     x9, t_bytes_eq_len
    add     x14, x14, x9
    mov     x15, #0                      // ranges kept
    mov     x7, #0                       // specs seen
Lparse_range_spec:
    bl      Lparse_range_skip_ows
    cmp     x14, x12
    b.hs    Lparse_range_invalid         // empty spec
    add     x7, x7, #1
    cmp     x7, #RANGES_MAX              // more specs than anyone needs: ignore them all
    b.hi    Lparse_range_invalid
    ldrb    w9, [x14]
    cmp     w9, #CH_DASH
    b.eq    Lparse_range_suffix
    bl      Lparse_range_number          // x5 = first
    b.cs    Lparse_range_invalid
    mov     x6, x5
    cmp     x14, x12
    b.hs    Lparse_range_invalid
    ldrb    w9, [x14], #1
    cmp     w9, #CH_DASH
    b.ne    Lparse_range_invalid
    cmp     x14, x12                     // "A-": to the end
    b.hs    Lparse_range_open
    ldrb    w9, [x14]
    sub     w9, w9, #CH_0
    cmp     w9, #9
    b.hi    Lparse_range_open
    bl      Lparse_range_number          // x5 = last
    b.cs    Lparse_range_invalid
    cmp     x5, x6
    b.lo    Lparse_range_invalid         // last before first
    b       Lparse_range_have
Lparse_range_open:
    mov     x5, #-1
    b       Lparse_range_have
Lparse_range_suffix:
    add     x14, x14, #1                 // "-N": the last N bytes
    bl      Lparse_range_number
    b.cs    Lparse_range_invalid
    cbz     x5, Lparse_range_next        // "-0" is satisfiable by nothing
    cmp     x5, x13
    csel    x5, x13, x5, hi
    sub     x6, x13, x5
    mov     x5, #-1
Lparse_range_have:
    cmp     x6, x13
    b.hs    Lparse_range_next            // starts past the end: not satisfiable
    sub     x9, x13, #1
    cmp     x5, x9
    csel    x5, x9, x5, hi               // clamp the end to the size
    LOAD_ADDR x9, range_list
    add     x9, x9, x15, lsl #4
    stp     x6, x5, [x9, #RANGE_FIRST]
    add     x15, x15, #1
Lparse_range_next:
    bl      Lparse_range_skip_ows
    cmp     x14, x12
    b.hs    Lparse_range_end
    ldrb    w9, [x14], #1
    cmp     w9, #CH_COMMA
    b.ne    Lparse_range_invalid
    b       Lparse_range_spec
Lparse_range_end:
    mov     x0, x15                      // ranges kept; their total length must not
    mov     x9, #0                       // pass the file's (overlapping or repeated
    LOAD_ADDR x10, range_list            // ranges), else the header is ignored, as
    mov     x11, x15                     // nginx does: the answer stays no larger
Lparse_range_total:                      // than the file and its part heads
    cbz     x11, Lparse_range_total_done
    ldp     x3, x4, [x10], #RANGE_SIZE
    sub     x4, x4, x3
    add     x4, x4, #1
    add     x9, x9, x4
    sub     x11, x11, #1
    b       Lparse_range_total
Lparse_range_total_done:
    cmp     x9, x13
    b.ls    Lparse_range_done
Lparse_range_invalid:
    mov     x0, #-1
Lparse_range_done:
    ldp     x29, x30, [sp], #16
    ret
// helper of parse_range: skip spaces and tabs.
//   in:  x14 = cursor, x12 = end
//   out: x14 = after them                clobbers: x9
Lparse_range_skip_ows:
    cmp     x14, x12
    b.hs    Lparse_range_skip_ows_done
    ldrb    w9, [x14]
    cmp     w9, #CH_SPACE
    b.eq    Lparse_range_skip_ows_next
    cmp     w9, #CH_TAB
    b.ne    Lparse_range_skip_ows_done
Lparse_range_skip_ows_next:
    add     x14, x14, #1
    b       Lparse_range_skip_ows
Lparse_range_skip_ows_done:
    ret
// helper of parse_range: the decimal number at the cursor.  A number too
// large for 63 bits stays at RANGE_HUGE: past the end of any file, so it
// clamps like any other (RFC 9110 14.1.1).
//   in:  x14 = cursor, x12 = end
//   out: x5 = the number, x14 = after it; carry set = no digits
//        clobbers: x3, x9-x11
Lparse_range_number:
    mov     x5, #0
    mov     x10, x14
    mov     x11, #10
Lparse_range_number_digit:
    cmp     x14, x12
    b.hs    Lparse_range_number_end
    ldrb    w9, [x14]
    sub     w9, w9, #CH_0
    cmp     w9, #9
    b.hi    Lparse_range_number_end
    add     x14, x14, #1
    lsr     x3, x5, #58                  // another digit could overflow: saturate
    cbnz    x3, Lparse_range_number_huge
    madd    x5, x5, x11, x9
    b       Lparse_range_number_digit
Lparse_range_number_huge:
    mov     x5, #RANGE_HUGE
    b       Lparse_range_number_digit
Lparse_range_number_end:
    cmp     x14, x10
    b.eq    Lparse_range_number_bad
    CLEAR_CARRY
    ret
Lparse_range_number_bad:
    SET_CARRY
    ret

// --- send_multipart ---------------------------------------------------------
// 206 multipart/byteranges: each range as a part with its own Content-Type
// and Content-Range.  The length is summed first, from the same part heads.
//   in:  x21 = file, x22 = size, x24 = ranges in range_list
//   out: -                               clobbers: x0-x5, x9-x16, x25, x26
send_multipart:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x0, path_buf
    bl      strlen_z
    mov     x1, x0
    LOAD_ADDR x0, path_buf
    bl      mime_type
    LOAD_ADDR x9, part_type
    stp     x0, x1, [x9]
    // pass 1: Content-Length = part heads + part bytes + closing line
    mov     x25, #0                      // range index
    mov     x26, #0                      // total
Lsend_multipart_size:
    cmp     x25, x24
    b.hs    Lsend_multipart_sized
    mov     x0, x25
    bl      format_part_head             // x0 = head length in part_buf
    add     x26, x26, x0
    LOAD_ADDR x9, range_list
    add     x9, x9, x25, lsl #4
    ldp     x10, x11, [x9, #RANGE_FIRST]
    sub     x11, x11, x10
    add     x11, x11, #1
    add     x26, x26, x11
    add     x25, x25, #1
    b       Lsend_multipart_size
Lsend_multipart_sized:
    ldr     x9, t_part_end_len
    add     x26, x26, x9
    mov     w0, #HTTP_PARTIAL
    bl      begin_response
    APPEND  h_multipart, h_multipart_len
    bl      add_validators
    APPEND  h_accept_ranges, h_accept_ranges_len
    APPEND  h_content_length, h_content_length_len
    mov     x1, x26
    bl      utoa
    bl      add_crlf
    bl      finish_head
    b.cs    Lsend_multipart_done
    ldr     x9, [x28, #REQ_NO_BODY]
    cbnz    x9, Lsend_multipart_done
    // pass 2: the parts
    mov     x25, #0
Lsend_multipart_part:
    cmp     x25, x24
    b.hs    Lsend_multipart_end
    mov     x0, x25
    bl      format_part_head
    mov     x2, x0
    LOAD_ADDR x1, part_buf
    bl      send_body
    b.cs    Lsend_multipart_done
    LOAD_ADDR x9, range_list
    add     x9, x9, x25, lsl #4
    ldp     x1, x11, [x9, #RANGE_FIRST]
    sub     x2, x11, x1
    add     x2, x2, #1
    mov     x0, x21
    bl      send_file_range
    b.cs    Lsend_multipart_done
    add     x25, x25, #1
    b       Lsend_multipart_part
Lsend_multipart_end:
    LOAD_ADDR x1, t_part_end
    ldr     x2, t_part_end_len
    bl      send_body
Lsend_multipart_done:
    ldp     x29, x30, [sp], #16
    ret

// --- format_part_head -------------------------------------------------------
// "\r\n--BOUNDARY\r\nContent-Type: T\r\nContent-Range: bytes A-B/SIZE\r\n\r\n"
//   in:  x0 = range index, x22 = size, part_type
//   out: x0 = length of the head in part_buf   clobbers: x1, x2, x9-x13
//   frame: [sp, #16] first, last
format_part_head:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    LOAD_ADDR x9, range_list
    add     x9, x9, x0, lsl #4
    ldp     x10, x11, [x9, #RANGE_FIRST]
    stp     x10, x11, [sp, #16]
    LOAD_ADDR x0, part_buf
    APPEND  t_part_start, t_part_start_len
    APPEND  h_content_type, h_content_type_len
    LOAD_ADDR x9, part_type
    ldp     x1, x2, [x9]
    bl      copy
    bl      add_crlf
    APPEND  h_content_range, h_content_range_len
    ldr     x1, [sp, #16]
    bl      utoa
    mov     w9, #CH_DASH
    strb    w9, [x0], #1
    ldr     x1, [sp, #24]
    bl      utoa
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
    mov     x1, x22
    bl      utoa
    bl      add_crlf
    bl      add_crlf
    LOAD_ADDR x1, part_buf
    sub     x0, x0, x1
    ldp     x29, x30, [sp], #32
    ret

// --- send_file_range --------------------------------------------------------
// Send COUNT bytes of a file from OFFSET to the client and count them in
// REQ_SENT; nothing for HEAD.  sendfile(2) moves the bytes inside the
// kernel; where it is refused (not a socket it can use), a read/write loop
// of IO_SIZE chunks does the same.  Either way the file is never held whole
// in memory.  When the socket is full, wait for room: SEND_IDLE_MS without
// any is a stalled client, and the answer ends there.
//   in:  x0 = file, x1 = offset, x2 = count, x19 = client
//   out: carry set = failed (client gone, read error)   clobbers: x0-x5, x9-x11, x16
//   frame: x20-x23 saved at [sp, #16]; [sp, #48] sendfile's *len
send_file_range:
    stp     x29, x30, [sp, #-64]!
    mov     x29, sp
    stp     x20, x21, [sp, #16]
    stp     x22, x23, [sp, #32]
    ldr     x9, [x28, #REQ_NO_BODY]
    cbnz    x9, Lsend_file_range_ok
    mov     x20, x0                      // file
    mov     x21, x1                      // offset
    mov     x22, x2                      // left to send
    mov     x23, x1                      // where we started
Lsend_file_range_sendfile:
    cbz     x22, Lsend_file_range_ok
    str     x22, [sp, #48]               // *len in: bytes wanted; out: bytes sent
    mov     x0, x20
    mov     x1, x19
    mov     x2, x21
    add     x3, sp, #48
    mov     x4, #0                       // no header/trailer iovecs
    mov     x5, #0
    SYSCALL SYS_sendfile
    ldr     x9, [sp, #48]                // *len out: what went, also on failure
    b.cc    Lsend_file_range_sent
    cmp     x0, #EAGAIN                  // the socket is full (it is non-blocking)
    b.eq    Lsend_file_range_full
    cmp     x0, #EINTR
    b.eq    Lsend_file_range_full
    cmp     x0, #EPIPE
    b.eq    Lsend_file_range_gone
    cmp     x0, #ECONNRESET
    b.eq    Lsend_file_range_gone
    cmp     x21, x23
    b.eq    Lsend_file_range_copy        // refused before any byte: copy by hand
Lsend_file_range_gone:                   // failed half-way: the client is gone
    bl      Lsend_file_range_moved
    b       Lsend_file_range_short
Lsend_file_range_full:
    bl      Lsend_file_range_moved
    mov     x0, #SEND_IDLE_MS            // wait for room; none for that long: stalled
    bl      wait_writable
    cbz     x0, Lsend_file_range_short
    b       Lsend_file_range_sendfile
Lsend_file_range_sent:
    cbz     x9, Lsend_file_range_short   // nothing more: the file shrank under us
    bl      Lsend_file_range_moved
    b       Lsend_file_range_sendfile
Lsend_file_range_copy:
    mov     x0, x20
    mov     x1, x21
    mov     x2, #SEEK_SET
    SYSCALL SYS_lseek
    b.cs    Lsend_file_range_done
Lsend_file_range_loop:
    cbz     x22, Lsend_file_range_ok
    mov     x0, x20
    LOAD_ADDR x1, io_buf
    mov     x2, #IO_SIZE
    cmp     x22, x2
    csel    x2, x22, x2, lo
    SYSCALL SYS_read
    b.cs    Lsend_file_range_done
    cbz     x0, Lsend_file_range_short
    mov     x21, x0
    mov     x2, x0
    LOAD_ADDR x1, io_buf
    bl      send_body
    b.cs    Lsend_file_range_done
    sub     x22, x22, x21
    b       Lsend_file_range_loop
Lsend_file_range_short:
    mov     x9, #1                       // Content-Length was a promise: close to show it broke
    str     x9, [x28, #REQ_CLOSE]
    SET_CARRY
    b       Lsend_file_range_done
Lsend_file_range_ok:
    CLEAR_CARRY
Lsend_file_range_done:
    ldp     x20, x21, [sp, #16]
    ldp     x22, x23, [sp, #32]
    ldp     x29, x30, [sp], #64
    ret
// helper of send_file_range: bytes went out; move on past them, count them.
//   in:  x9 = bytes sent, x21 = offset, x22 = left to send
//   out: x21, x22 moved on; REQ_SENT counts them   clobbers: x10
Lsend_file_range_moved:
    add     x21, x21, x9
    sub     x22, x22, x9
    ldr     x10, [x28, #REQ_SENT]
    add     x10, x10, x9
    str     x10, [x28, #REQ_SENT]
    ret

// --- send_redirect ----------------------------------------------------------
// 301 to the folder's path with a "/" added, made from the decoded path (not
// the raw target): percent-encoded again, runs of "/" made one, so neither
// "//host" nor a "#fragment" or query can get into Location.
//   in:  x28 = req, path_buf
//   out: -                               clobbers: x0-x4, x9-x16
send_redirect:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     w0, #HTTP_MOVED
    bl      begin_response
    APPEND  h_location, h_location_len
    LOAD_ADDR x1, path_buf
    add     x1, x1, #ROOT_LEN            // after "www"
    ldr     x2, [x28, #REQ_PATH_LEN]
    sub     x2, x2, #ROOT_LEN
    LOAD_ADDR x4, path_map
    bl      append_url_encoded
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
    bl      add_crlf
    APPEND  h_content_length_0, h_content_length_0_len
    bl      finish_head
    ldp     x29, x30, [sp], #16
    ret

// --- list_directory ---------------------------------------------------------
// 200 with an HTML page: a table of the folder's entries sorted by name, with
// size and modification time, "../" first except at the root; folders end in
// "/", names are HTML-escaped and hrefs percent-encoded; names starting with
// "." (".", "..", dotfiles, our temp files) are not shown.  The page is
// bounded by design, whatever the names: it goes out as it is made, in
// chunks of at most LIST_BODY bytes (HTTP/1.1), or until the close (1.0);
// entries beyond LIST_MAX or LIST_POOL are not shown but counted on it.
//   in:  x21 = open folder, path_buf = "www" + its path (ends in "/")
//   out: -                               clobbers: x0-x16, x20, x22, x24-x27
list_directory:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x24, #0                      // records kept
    mov     x25, #0                      // bytes used in list_pool
    mov     x22, #0                      // entries left out
Llist_directory_read:
    mov     x0, x21
    LOAD_ADDR x1, dir_buf
    mov     x2, #DIRBUF_SIZE
    LOAD_ADDR x3, dir_base
    SYSCALL SYS_getdirentries64
    b.cs    Llist_directory_500
    cbz     x0, Llist_directory_sort     // end of the folder
    LOAD_ADDR x26, dir_buf
    add     x27, x26, x0                 // end of these records
Llist_directory_entry:
    cmp     x26, x27
    b.hs    Llist_directory_read
    ldrh    w20, [x26, #D_RECLEN]
    cbz     w20, Llist_directory_sort    // a zero record length would loop forever
    ldrb    w9, [x26, #D_NAME]
    cmp     w9, #CH_DOT
    b.eq    Llist_directory_skip
    bl      list_keep
Llist_directory_skip:
    add     x26, x26, x20
    b       Llist_directory_entry
Llist_directory_sort:
    mov     x0, x24
    bl      sort_names
    mov     w0, #HTTP_OK
    bl      begin_response
    APPEND  h_content_type, h_content_type_len
    APPEND  t_text_html, t_text_html_len
    bl      add_crlf
    ldr     x9, [x28, #REQ_MINOR]        // HTTP/1.0: the close ends the body
    cbz     x9, Llist_directory_head
    APPEND  h_chunked, h_chunked_len
Llist_directory_head:
    bl      finish_head
    b.cs    Llist_directory_done
    ldr     x9, [x28, #REQ_NO_BODY]
    cbnz    x9, Llist_directory_done
    LOAD_ADDR x0, list_body
    add     x0, x0, #CHUNK_ROOM
    APPEND  t_list_head, t_list_head_len
    bl      add_list_title
    APPEND  t_list_mid, t_list_mid_len
    bl      add_list_title
    APPEND  t_list_table, t_list_table_len
    ldr     x9, [x28, #REQ_PATH_LEN]
    cmp     x9, #ROOT_LEN + 1            // "www/": the root has no parent to link
    b.eq    Llist_directory_rows
    APPEND  t_list_up, t_list_up_len
Llist_directory_rows:
    mov     x20, #0
Llist_directory_row:
    cmp     x20, x24
    b.hs    Llist_directory_end
    bl      list_make_room
    b.cs    Llist_directory_done         // the client is gone
    LOAD_ADDR x9, list_index
    ldr     w10, [x9, x20, lsl #2]
    LOAD_ADDR x27, list_pool
    add     x27, x27, x10
    bl      list_row
    add     x20, x20, #1
    b       Llist_directory_row
Llist_directory_end:
    APPEND  t_list_end, t_list_end_len
    cbz     x22, Llist_directory_foot
    APPEND  t_list_more, t_list_more_len
    mov     x1, x22
    bl      utoa
    APPEND  t_list_more_tail, t_list_more_tail_len
Llist_directory_foot:
    APPEND  t_list_foot, t_list_foot_len
    bl      send_chunk
    b.cs    Llist_directory_done
    ldr     x9, [x28, #REQ_MINOR]
    cbz     x9, Llist_directory_done
    LOAD_ADDR x1, t_last_chunk
    ldr     x2, t_last_chunk_len
    bl      send_body
    b       Llist_directory_done
Llist_directory_500:
    mov     x0, #HTTP_SERVER_ERROR
    bl      send_error
Llist_directory_done:
    ldp     x29, x30, [sp], #16
    ret

// --- list_keep --------------------------------------------------------------
// Keep one folder entry for the listing: a list_pool record (size, -1 for a
// folder; mtime; the name, "/" after a folder's, NUL; 8-byte aligned) and its
// offset in list_index.  An entry gone before it is looked at is left out;
// one that finds no room (LIST_MAX records, LIST_POOL bytes) is counted.
//   in:  x21 = folder, x26 = the entry's direntry,
//        x24 = records, x25 = pool bytes used, x22 = entries left out
//   out: x22, x24, x25 updated           clobbers: x0-x3, x9-x12, x16
list_keep:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    cmp     x24, #LIST_MAX
    b.hs    Llist_keep_full
    ldr     x9, =LIST_POOL - LIST_REC_MAX
    cmp     x25, x9
    b.hi    Llist_keep_full
    mov     x0, x21
    add     x1, x26, #D_NAME
    LOAD_ADDR x2, stat_buf
    mov     x3, #AT_SYMLINK_NOFOLLOW     // a symlink is listed as itself
    SYSCALL SYS_fstatat64
    b.cs    Llist_keep_done
    LOAD_ADDR x9, stat_buf
    ldr     x10, [x9, #ST_SIZE]
    ldr     x11, [x9, #ST_MTIME]
    cmp     x11, #0
    csel    x11, xzr, x11, lt            // the calendar here starts in 1970
    ldrh    w12, [x9, #ST_MODE]
    and     w12, w12, #S_IFMT
    cmp     w12, #S_IFDIR
    csinv   x10, x10, xzr, ne            // a folder's size: -1
    LOAD_ADDR x9, list_index
    str     w25, [x9, x24, lsl #2]
    add     x24, x24, #1
    LOAD_ADDR x0, list_pool
    add     x0, x0, x25
    stp     x10, x11, [x0], #LREC_NAME
    add     x1, x26, #D_NAME
    ldrh    w2, [x26, #D_NAMLEN]
    bl      copy
    cmp     w12, #S_IFDIR
    b.ne    Llist_keep_nul
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
Llist_keep_nul:
    strb    wzr, [x0], #1
    add     x0, x0, #7                   // the next record starts 8-byte aligned
    and     x0, x0, #-8
    LOAD_ADDR x9, list_pool
    sub     x25, x0, x9
    b       Llist_keep_done
Llist_keep_full:
    add     x22, x22, #1
Llist_keep_done:
    ldp     x29, x30, [sp], #16
    ret

// --- list_row ---------------------------------------------------------------
// One row of the table: the link, the size ("-" for a folder), the date.
// At most LIST_ROW_MAX bytes, whatever the name.
//   in:  x0 = cursor, x27 = list_pool record
//   out: x0 = cursor                     clobbers: x1-x4, x9-x15
//   frame: [sp, #16] cursor, [sp, #24] the name's length
list_row:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    str     x0, [sp, #16]
    add     x0, x27, #LREC_NAME
    bl      strlen_z
    str     x0, [sp, #24]                // the name's length, a folder's "/" included
    ldr     x0, [sp, #16]
    APPEND  t_row_href, t_row_href_len
    add     x1, x27, #LREC_NAME
    ldr     x2, [sp, #24]
    ldr     x9, [x27, #LREC_SIZE]
    cmn     x9, #1
    cset    x9, eq                       // a folder's "/" is not part of its name:
    sub     x2, x2, x9                   // it is not encoded
    LOAD_ADDR x4, unreserved_map
    bl      append_url_encoded
    ldr     x9, [x27, #LREC_SIZE]
    cmn     x9, #1
    b.ne    Llist_row_text
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
Llist_row_text:
    APPEND  t_row_text, t_row_text_len
    add     x1, x27, #LREC_NAME
    ldr     x2, [sp, #24]
    bl      append_html_escaped
    APPEND  t_row_size, t_row_size_len
    ldr     x1, [x27, #LREC_SIZE]
    cmn     x1, #1
    b.eq    Llist_row_folder
    bl      utoa
    b       Llist_row_date
Llist_row_folder:
    mov     w9, #CH_DASH
    strb    w9, [x0], #1
Llist_row_date:
    APPEND  t_row_date, t_row_date_len
    ldr     x1, [x27, #LREC_MTIME]
    bl      format_imf_date
    APPEND  t_row_end, t_row_end_len
    ldp     x29, x30, [sp], #32
    ret

// --- list_make_room ---------------------------------------------------------
// Before a row: send what the page holds if fewer than LIST_ROW_MAX bytes of
// list_body are left.
//   in:  x0 = cursor in list_body
//   out: x0 = cursor; carry set = the client is gone   clobbers: x1, x2, x9-x13, x16
list_make_room:
    LOAD_ADDR x9, list_body
    ldr     x10, =CHUNK_ROOM + LIST_BODY - LIST_ROW_MAX
    add     x9, x9, x10
    cmp     x0, x9
    b.hs    send_chunk                   // tail call
    CLEAR_CARRY
    ret

// --- send_chunk -------------------------------------------------------------
// Send the text from list_body + CHUNK_ROOM to the cursor: as one chunk of a
// chunked body (its size line made in the room before the text, CRLF after
// it), or as it is when the close ends the body (HTTP/1.0).
//   in:  x0 = cursor, x19 = client, x28 = req
//   out: x0 = list_body + CHUNK_ROOM (empty again); carry set = client gone
//        clobbers: x1, x2, x9-x13, x16
//   frame: x20, x21 saved at [sp, #16]; [sp, #32] end of the chunk, [sp, #40] its start
send_chunk:
    stp     x29, x30, [sp, #-48]!
    mov     x29, sp
    stp     x20, x21, [sp, #16]
    LOAD_ADDR x20, list_body
    add     x21, x20, #CHUNK_ROOM        // x21 = the text
    subs    x11, x0, x21                 // its length
    b.eq    Lsend_chunk_empty
    mov     x1, x21
    ldr     x9, [x28, #REQ_MINOR]
    cbz     x9, Lsend_chunk_send
    bl      add_crlf
    str     x0, [sp, #32]                // end of the chunk
    mov     x0, x20                      // "<hex size>\r\n" at the start of the room ...
    mov     x1, x11
    bl      utox
    bl      add_crlf
    sub     x2, x0, x20
    sub     x0, x21, x2                  // ... moved up against the text
    str     x0, [sp, #40]
    mov     x1, x20
    bl      copy
    ldr     x0, [sp, #32]                // x0 = end of the chunk
    ldr     x1, [sp, #40]                // x1 = its start
Lsend_chunk_send:                        // x1 = start, x0 = end
    sub     x2, x0, x1
    bl      send_body
    b       Lsend_chunk_done
Lsend_chunk_empty:
    CLEAR_CARRY
Lsend_chunk_done:
    mov     x0, x21
    ldp     x20, x21, [sp, #16]
    ldp     x29, x30, [sp], #48
    ret

// --- add_list_title ---------------------------------------------------------
// The folder's path as the client asked for it ("/docs/"), HTML-escaped.
//   in:  x0 = cursor, path_buf
//   out: x0 = cursor                     clobbers: x1-x3, x9-x12
add_list_title:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x1, path_buf
    add     x1, x1, #ROOT_LEN            // after "www"
    ldr     x2, [x28, #REQ_PATH_LEN]
    sub     x2, x2, #ROOT_LEN
    bl      append_html_escaped
    ldp     x29, x30, [sp], #16
    ret

// --- sort_names -------------------------------------------------------------
// Insertion sort of list_index by the bytes of the names it points at.
//   in:  x0 = count
//   out: -                               clobbers: x0, x1, x6-x15
sort_names:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x12, x0
    LOAD_ADDR x13, list_index
    LOAD_ADDR x14, list_pool
    add     x14, x14, #LREC_NAME         // offset + x14 = a record's name
    mov     x15, #1                      // i
Lsort_names_outer:
    cmp     x15, x12
    b.hs    Lsort_names_done
    ldr     w7, [x13, x15, lsl #2]       // key
    mov     x6, x15                      // j
Lsort_names_inner:
    cbz     x6, Lsort_names_place
    sub     x9, x6, #1
    ldr     w8, [x13, x9, lsl #2]
    add     x0, x14, x8
    add     x1, x14, x7
    bl      compare_z                    // x0 < 0, 0, > 0
    cmp     x0, #0
    b.le    Lsort_names_place
    sub     x9, x6, #1
    ldr     w8, [x13, x9, lsl #2]
    str     w8, [x13, x6, lsl #2]
    sub     x6, x6, #1
    b       Lsort_names_inner
Lsort_names_place:
    str     w7, [x13, x6, lsl #2]
    add     x15, x15, #1
    b       Lsort_names_outer
Lsort_names_done:
    ldp     x29, x30, [sp], #16
    ret

// ===== 8. PUT, DELETE, OPTIONS ==============================================
// Owns: changing files under www/.  Every change goes through a descriptor
// of the parent folder opened with O_NOFOLLOW_ANY (openat, fstatat64,
// renameat, unlinkat), so no symlink on the path is ever followed.
//   x21 = parent folder, x22 = temp file, x23 = 1 if the target existed.

// --- open_parent ------------------------------------------------------------
// Split path_buf at its last "/" and open the folder before it.
//   in:  path_buf ("www/..."), REQ_PATH_LEN
//   out: x0 = folder descriptor, x1 = the last name (NUL-terminated, in
//        path_buf); carry set = x0 is the status to answer
//        clobbers: x2, x9-x11, x16
open_parent:
    LOAD_ADDR x9, path_buf
    ldr     x10, [x28, #REQ_PATH_LEN]
Lopen_parent_scan:
    subs    x10, x10, #1
    b.lo    Lopen_parent_conflict
    ldrb    w11, [x9, x10]
    cmp     w11, #CH_SLASH
    b.ne    Lopen_parent_scan
    add     x11, x9, x10
    ldrb    w2, [x11, #1]
    cbz     w2, Lopen_parent_conflict    // ends in "/": that names a folder
    strb    wzr, [x11]                   // "www/a/b" -> "www/a" + "b"
    add     x11, x11, #1
    mov     x0, x9
    ldr     x1, =O_RDONLY | O_DIRECTORY | O_NOFOLLOW_ANY
    mov     x2, #0
    SYSCALL SYS_open                     // the kernel keeps x11
    b.cs    Lopen_parent_failed
    mov     x1, x11
    ret                                  // carry clear from open
Lopen_parent_failed:
    cmp     x0, #ELOOP
    b.eq    Lopen_parent_forbidden
    cmp     x0, #EACCES
    b.eq    Lopen_parent_forbidden
Lopen_parent_conflict:
    mov     x0, #HTTP_CONFLICT                     // no such folder to put it in
    SET_CARRY
    ret
Lopen_parent_forbidden:
    mov     x0, #HTTP_FORBIDDEN
    SET_CARRY
    ret

// --- do_put -----------------------------------------------------------------
// Body into a temp file in the same folder, then renamed over the target:
// readers see the old file or the new one, never half of one.  A client that
// stops early or is too slow leaves the old file as it was, and no temp file.
//   in:  x28 = req, in_buf (head, maybe body bytes after it)
//   out: -                               clobbers: x0-x5, x7, x9-x16, x20-x26
do_put:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x10, [x28, #REQ_H_TE]
    cbnz    x10, Ldo_put_501             // we do not decode chunked bodies
    ldr     x10, [x28, #REQ_H_CLEN]
    cbz     x10, Ldo_put_411
    ldr     x24, [x28, #REQ_CLEN]        // x24 = body length
    mov     x10, #1
    lsl     x10, x10, #MAX_BODY_SHIFT
    cmp     x24, x10
    b.hi    Ldo_put_413
    bl      open_parent                  // x0 = folder, x1 = name
    b.cs    Ldo_put_status_close
    mov     x21, x0
    mov     x25, x1                      // x25 = name
    // does the target exist, and is it a file?
    mov     x0, x21
    mov     x1, x25
    LOAD_ADDR x2, stat_buf
    mov     x3, #AT_SYMLINK_NOFOLLOW
    SYSCALL SYS_fstatat64
    mov     x23, #0
    b.cs    Ldo_put_new
    mov     x23, #1
    LOAD_ADDR x9, stat_buf
    ldrh    w10, [x9, #ST_MODE]
    and     w10, w10, #S_IFMT
    cmp     w10, #S_IFLNK
    b.eq    Ldo_put_403_link
    cmp     w10, #S_IFREG
    b.ne    Ldo_put_409_folder
Ldo_put_new:
    bl      create_temp_file             // x0 = temp file, temp_name = its name
    b.cs    Ldo_put_500_folder
    mov     x22, x0
    // "Expect: 100-continue": tell the client to go on
    ldr     x0, [x28, #REQ_H_EXPECT]
    cbz     x0, Ldo_put_body
    ldr     x1, [x28, #REQ_H_EXPECT + PAIR_LEN]
    LOAD_ADDR x2, t_100_continue
    ldr     x3, t_100_continue_len
    bl      contains_ci
    cbz     x0, Ldo_put_body
    SEND    x19, t_100, t_100_len
Ldo_put_body:
    bl      receive_body                 // x0 = 0 done, else the status (408) or 1 (gone)
    mov     x26, x0
    mov     x0, x22
    SYSCALL SYS_close
    cbnz    x26, Ldo_put_abort
    mov     x0, x21
    LOAD_ADDR x1, temp_name
    mov     x2, x21
    mov     x3, x25
    SYSCALL SYS_renameat
    b.cs    Ldo_put_rename_failed
    mov     x0, x21
    SYSCALL SYS_close
    cbnz    x23, Ldo_put_replaced
    mov     w0, #HTTP_CREATED
    bl      begin_response
    APPEND  h_content_length_0, h_content_length_0_len
    b       Ldo_put_head
Ldo_put_replaced:
    mov     w0, #HTTP_NO_CONTENT         // no body, so no Content-Length (RFC 9110 8.6)
    bl      begin_response
Ldo_put_head:
    bl      finish_head
    b       Ldo_put_done
Ldo_put_rename_failed:
    mov     x26, #HTTP_CONFLICT
Ldo_put_abort:
    mov     x0, x21                      // leave no temp file behind
    LOAD_ADDR x1, temp_name
    mov     x2, #0
    SYSCALL SYS_unlinkat
    mov     x0, x21
    SYSCALL SYS_close
    mov     x9, #1
    str     x9, [x28, #REQ_CLOSE]
    cmp     x26, #1
    b.eq    Ldo_put_done                 // the client left: nobody to answer
    mov     x0, x26
    bl      send_error
    b       Ldo_put_done
Ldo_put_409_folder:
    mov     x0, x21
    SYSCALL SYS_close
    mov     x0, #HTTP_CONFLICT
    b       Ldo_put_status_close
Ldo_put_403_link:
    mov     x0, x21
    SYSCALL SYS_close
    mov     x0, #HTTP_FORBIDDEN
    b       Ldo_put_status_close
Ldo_put_500_folder:
    mov     x0, x21
    SYSCALL SYS_close
    mov     x0, #HTTP_SERVER_ERROR
    b       Ldo_put_status_close
Ldo_put_501:
    mov     x0, #HTTP_NOT_IMPLEMENTED
    b       Ldo_put_status_close
Ldo_put_411:
    mov     x0, #HTTP_LENGTH_REQUIRED
    b       Ldo_put_status_close
Ldo_put_413:
    mov     x0, #HTTP_TOO_LARGE
Ldo_put_status_close:
    mov     x9, #1                       // the body (if any) was not read: close after
    str     x9, [x28, #REQ_CLOSE]
    bl      send_error
Ldo_put_done:
    ldp     x29, x30, [sp], #16
    ret

// --- receive_body -----------------------------------------------------------
// Copy the request body (Content-Length bytes) to the temp file: first what
// already sits in in_buf after the head, then from the socket.  Each wait
// for more is at most BODY_IDLE_MS: the time limit is on a stall, not on the
// length the client declared.
//   in:  x22 = temp file, x24 = body length, x19 = client, x28 = req
//   out: x0 = 0 all stored, 408 stalled, 500 write failed, 1 client gone
//        clobbers: x1, x2, x9-x11, x16, x20, x26
receive_body:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x26, x24                     // left
    LOAD_ADDR x9, in_len
    ldr     x10, [x9]
    ldr     x11, [x28, #REQ_HEAD_LEN]
    sub     x2, x10, x11                 // bytes after the head
    cmp     x2, x26
    csel    x2, x26, x2, hi
    str     x2, [x28, #REQ_BODY_USED]
    sub     x26, x26, x2
    LOAD_ADDR x1, in_buf
    add     x1, x1, x11
    mov     x0, x22
    bl      write_all
    b.cs    Lreceive_body_500
Lreceive_body_loop:
    cbz     x26, Lreceive_body_ok
    mov     x0, #BODY_IDLE_MS
    bl      wait_readable
    cbz     x0, Lreceive_body_408
    mov     x0, x19
    LOAD_ADDR x1, io_buf
    mov     x2, #IO_SIZE
    cmp     x26, x2
    csel    x2, x26, x2, lo
    SYSCALL SYS_read
    b.cs    Lreceive_body_read_error
    cbz     x0, Lreceive_body_gone       // EOF before the whole body
    mov     x20, x0
    mov     x2, x0
    mov     x0, x22
    LOAD_ADDR x1, io_buf
    bl      write_all
    b.cs    Lreceive_body_500
    sub     x26, x26, x20
    b       Lreceive_body_loop
Lreceive_body_read_error:
    cmp     x0, #EINTR
    b.eq    Lreceive_body_loop
    cmp     x0, #EAGAIN
    b.eq    Lreceive_body_loop
Lreceive_body_gone:
    mov     x0, #1
    b       Lreceive_body_done
Lreceive_body_408:
    mov     x0, #HTTP_TIMEOUT
    b       Lreceive_body_done
Lreceive_body_500:
    mov     x0, #HTTP_SERVER_ERROR
    b       Lreceive_body_done
Lreceive_body_ok:
    mov     x0, #0
Lreceive_body_done:
    ldp     x29, x30, [sp], #16
    ret

// --- create_temp_file -------------------------------------------------------
// A new, empty temp file in the target's folder.  O_CREAT|O_EXCL opens
// nothing that is already there (a file, a hard link to one elsewhere, a
// symlink): a name that exists is tried again with new random bytes.
//   in:  x21 = folder
//   out: x0 = temp file, temp_name = its name; carry set = failed
//        clobbers: x0-x3, x9-x13, x16
//   frame: x20 saved at [sp, #16]
create_temp_file:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    str     x20, [sp, #16]
    mov     x20, #TEMP_TRIES
Lcreate_temp_file_try:
    bl      make_temp_name
    b.cs    Lcreate_temp_file_done
    mov     x0, x21
    LOAD_ADDR x1, temp_name
    ldr     x2, =O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW_ANY
    mov     x3, #FILE_MODE
    SYSCALL SYS_openat
    b.cc    Lcreate_temp_file_done
    cmp     x0, #EEXIST
    b.ne    Lcreate_temp_file_failed
    subs    x20, x20, #1
    b.ne    Lcreate_temp_file_try
Lcreate_temp_file_failed:
    SET_CARRY
Lcreate_temp_file_done:
    ldr     x20, [sp, #16]               // loads leave the carry alone
    ldp     x29, x30, [sp], #32
    ret

// --- make_temp_name ---------------------------------------------------------
// temp_name = ".ymawky-tmp-" + TEMP_RANDOM bytes of getentropy in hex:
// hidden from listings, refused as a request target, swept at start-up,
// and not guessable by someone who could plant a link under it.
//   in:  -
//   out: temp_name NUL-terminated; carry set = no random bytes
//        clobbers: x0-x2, x9-x13, x16
//   frame: [sp, #16] the random bytes
make_temp_name:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    add     x0, sp, #16
    mov     x1, #TEMP_RANDOM
    SYSCALL SYS_getentropy
    b.cs    Lmake_temp_name_done
    LOAD_ADDR x0, temp_name
    APPEND  t_temp_prefix, t_temp_prefix_len
    ldr     x1, [sp, #16]
    bl      utox
    strb    wzr, [x0]
    CLEAR_CARRY
Lmake_temp_name_done:
    ldp     x29, x30, [sp], #32
    ret

// --- do_delete --------------------------------------------------------------
// 204 when the file is gone, 404 when it was not there, 409 for a folder.
//   in:  x28 = req, path_buf
//   out: -                               clobbers: x0-x5, x9-x16, x21, x25
do_delete:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    bl      open_parent
    b.cs    Ldo_delete_status
    mov     x21, x0
    mov     x25, x1
    mov     x0, x21
    mov     x1, x25
    LOAD_ADDR x2, stat_buf
    mov     x3, #AT_SYMLINK_NOFOLLOW
    SYSCALL SYS_fstatat64
    b.cs    Ldo_delete_errno
    LOAD_ADDR x9, stat_buf
    ldrh    w10, [x9, #ST_MODE]
    and     w10, w10, #S_IFMT
    cmp     w10, #S_IFDIR
    b.eq    Ldo_delete_folder
    cmp     w10, #S_IFLNK
    b.eq    Ldo_delete_link              // a symlink on the path: 403, as for GET
    mov     x0, x21
    mov     x1, x25
    mov     x2, #0
    SYSCALL SYS_unlinkat
    b.cs    Ldo_delete_errno
    mov     x0, x21
    SYSCALL SYS_close
    mov     w0, #HTTP_NO_CONTENT
    bl      begin_response
    bl      finish_head
    b       Ldo_delete_done
Ldo_delete_folder:
    mov     x0, #HTTP_CONFLICT
    b       Ldo_delete_close
Ldo_delete_link:
    mov     x0, #HTTP_FORBIDDEN
    b       Ldo_delete_close
Ldo_delete_errno:
    bl      errno_status
Ldo_delete_close:
    mov     x25, x0
    mov     x0, x21
    SYSCALL SYS_close
    mov     x0, x25
Ldo_delete_status:
    bl      send_error
Ldo_delete_done:
    ldp     x29, x30, [sp], #16
    ret

// --- do_options -------------------------------------------------------------
// 204 with the methods we allow, for any target and for "*".
//   in:  x28 = req
//   out: -                               clobbers: x0-x2, x9-x16
do_options:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     w0, #HTTP_NO_CONTENT
    bl      begin_response
    APPEND  h_allow, h_allow_len
    bl      finish_head
    ldp     x29, x30, [sp], #16
    ret

// ===== 9. Responses =========================================================
// Owns: the status line and common headers (hdr_buf), error answers with
// their pages, and the access log.

// --- begin_response ---------------------------------------------------------
// "HTTP/1.1 NNN Reason\r\nDate: ...\r\nServer: ymawky\r\n" into hdr_buf.
//   in:  w0 = status
//   out: x0 = cursor in hdr_buf; REQ_STATUS set   clobbers: x1, x2, x9-x16
//   frame: [sp, #16] status, [sp, #24] cursor
begin_response:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    and     x0, x0, #0xffff
    str     x0, [x28, #REQ_STATUS]
    str     x0, [sp, #16]
    LOAD_ADDR x0, hdr_buf
    APPEND  t_http11, t_http11_len
    ldr     x1, [sp, #16]
    bl      utoa
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    str     x0, [sp, #24]
    ldr     x0, [sp, #16]
    bl      status_reason                // x0 = text, x1 = length
    mov     x2, x1
    mov     x1, x0
    ldr     x0, [sp, #24]
    bl      copy
    bl      add_crlf
    APPEND  h_date, h_date_len
    str     x0, [sp, #24]
    bl      now_seconds
    mov     x1, x0
    ldr     x0, [sp, #24]
    bl      format_imf_date
    bl      add_crlf
    APPEND  h_server, h_server_len
    ldp     x29, x30, [sp], #32
    ret

// --- finish_head ------------------------------------------------------------
// Add "Connection: close" when this is the last response, the blank line,
// and send hdr_buf.
//   in:  x0 = cursor in hdr_buf, x19 = client, x28 = req
//   out: carry set = the client is gone   clobbers: x0-x2, x9-x11, x16
finish_head:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x9, [x28, #REQ_CLOSE]
    cbz     x9, Lfinish_head_blank
    APPEND  h_connection_close, h_connection_close_len
Lfinish_head_blank:
    bl      add_crlf
    LOAD_ADDR x1, hdr_buf
    sub     x2, x0, x1
    mov     x0, x19
    bl      write_all
    b.cc    Lfinish_head_done
    mov     x9, #1                       // nobody listens: stop after this request
    str     x9, [x28, #REQ_CLOSE]
    SET_CARRY
Lfinish_head_done:
    ldp     x29, x30, [sp], #16
    ret

// --- add_crlf ---------------------------------------------------------------
//   in:  x0 = cursor
//   out: x0 = cursor + 2                 clobbers: x9
add_crlf:
    mov     w9, #CRLF_LE
    strh    w9, [x0], #2
    ret

// --- send_error -------------------------------------------------------------
// A complete error answer: its page is err/NNN.html when that file exists,
// else a built-in one; Content-Length is always the page's length.  405 and
// 501 carry Allow, 503 Retry-After, 416 Content-Range (range_size).
// It saves the x20-x23 it uses: the parent's listening socket and the
// callers' files live there.
//   in:  x0 = status, x19 = client, x28 = req
//   out: -                               clobbers: x0-x5, x9-x16
//   frame: x20-x23 saved at [sp, #16]
send_error:
    stp     x29, x30, [sp, #-48]!
    mov     x29, sp
    stp     x20, x21, [sp, #16]
    stp     x22, x23, [sp, #32]
    mov     x20, x0                      // status
    mov     x21, #-1                     // page file; -1 = built in
    // "err/NNN.html"
    LOAD_ADDR x0, err_path
    APPEND  t_err_dir, t_err_dir_len
    mov     x1, x20
    bl      utoa
    APPEND  t_err_ext, t_err_ext_len
    strb    wzr, [x0]
    LOAD_ADDR x0, err_path
    ldr     x1, =O_SERVE
    mov     x2, #0
    SYSCALL SYS_open
    b.cs    Lsend_error_builtin
    mov     x21, x0
    bl      stat_open_file               // x22 = size
    b.cs    Lsend_error_drop_file
    cmp     x0, #S_IFREG
    b.eq    Lsend_error_head
Lsend_error_drop_file:
    mov     x0, x21
    SYSCALL SYS_close
    mov     x21, #-1
Lsend_error_builtin:
    LOAD_ADDR x0, err_page               // "<!DOCTYPE html>...<h1>NNN Reason</h1>..."
    APPEND  t_page_head, t_page_head_len
    bl      Lsend_error_title
    APPEND  t_page_mid, t_page_mid_len
    bl      Lsend_error_title
    APPEND  t_page_foot, t_page_foot_len
    LOAD_ADDR x1, err_page
    sub     x22, x0, x1
Lsend_error_head:
    mov     x0, x20
    bl      begin_response
    APPEND  h_content_type, h_content_type_len
    APPEND  t_text_html, t_text_html_len
    bl      add_crlf
    APPEND  h_content_length, h_content_length_len
    mov     x1, x22
    bl      utoa
    bl      add_crlf
    cmp     x20, #HTTP_BAD_METHOD
    b.eq    Lsend_error_allow
    cmp     x20, #HTTP_NOT_IMPLEMENTED
    b.eq    Lsend_error_allow
    cmp     x20, #HTTP_UNAVAILABLE
    b.eq    Lsend_error_retry
    cmp     x20, #HTTP_RANGE_NOT_SATISFIABLE
    b.ne    Lsend_error_finish
    APPEND  h_content_range_star, h_content_range_star_len
    LOAD_ADDR x9, range_size
    ldr     x1, [x9]
    bl      utoa
    bl      add_crlf
    b       Lsend_error_finish
Lsend_error_allow:
    APPEND  h_allow, h_allow_len
    b       Lsend_error_finish
Lsend_error_retry:
    APPEND  h_retry_after, h_retry_after_len
Lsend_error_finish:
    bl      finish_head
    b.cs    Lsend_error_close
    ldr     x9, [x28, #REQ_NO_BODY]
    cbnz    x9, Lsend_error_close
    cmn     x21, #1
    b.eq    Lsend_error_builtin_body
    mov     x0, x21
    mov     x1, #0
    mov     x2, x22
    bl      send_file_range
    b       Lsend_error_close
Lsend_error_builtin_body:
    LOAD_ADDR x1, err_page
    mov     x2, x22
    bl      send_body
Lsend_error_close:
    cmn     x21, #1
    b.eq    Lsend_error_done
    mov     x0, x21
    SYSCALL SYS_close
Lsend_error_done:
    ldp     x20, x21, [sp, #16]
    ldp     x22, x23, [sp, #32]
    ldp     x29, x30, [sp], #48
    ret
// helper of send_error: "NNN Reason" at the cursor.
//   in:  x0 = cursor, x20 = status
//   out: x0 = cursor                     clobbers: x1, x2, x9-x13
Lsend_error_title:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    mov     x1, x20
    bl      utoa
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    str     x0, [sp, #16]                // the cursor
    mov     x0, x20
    bl      status_reason
    mov     x2, x1
    mov     x1, x0
    ldr     x0, [sp, #16]
    bl      copy
    ldp     x29, x30, [sp], #32
    ret

// --- status_reason ----------------------------------------------------------
//   in:  x0 = status
//   out: x0 = reason phrase, x1 = its length   clobbers: x9, x10
status_reason:
    LOAD_ADDR x9, status_table
Lstatus_reason_next:
    ldrh    w10, [x9, #STT_STATUS]
    cbz     w10, Lstatus_reason_found    // the last entry is the fallback
    cmp     x10, x0
    b.eq    Lstatus_reason_found
    add     x9, x9, #STT_SIZE
    b       Lstatus_reason_next
Lstatus_reason_found:
    ldrh    w10, [x9, #STT_TEXT]
    ldrh    w1, [x9, #STT_LEN]
    LOAD_ADDR x0, Lstatus_texts
    add     x0, x0, x10
    ret

// --- errno_status -----------------------------------------------------------
// The answer for a failed open/stat/unlink: ENOENT and ENOTDIR 404, ELOOP
// (a symlink on the path) and EACCES 403, ENAMETOOLONG 414, else 500.
//   in:  x0 = errno
//   out: x0 = status                     clobbers: x9, x10
errno_status:
    LOAD_ADDR x9, errno_table
Lerrno_status_next:
    ldrh    w10, [x9, #ET_ERRNO]         // 0: the fallback
    cbz     w10, Lerrno_status_found
    cmp     x10, x0
    b.eq    Lerrno_status_found
    add     x9, x9, #ET_SIZE
    b       Lerrno_status_next
Lerrno_status_found:
    ldrh    w0, [x9, #ET_STATUS]
    ret

// --- mime_type --------------------------------------------------------------
// Content-Type from the file name's extension (case-insensitive), from
// mime_table; application/octet-stream when unknown.
//   in:  x0 = path, x1 = length
//   out: x0 = type, x1 = length          clobbers: x2, x3, x9-x15
mime_type:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    add     x12, x0, x1                  // end
    mov     x13, x12                     // find the last '.' after the last '/'
Lmime_type_dot:
    cmp     x13, x0
    b.ls    Lmime_type_unknown
    ldurb   w9, [x13, #-1]
    cmp     w9, #CH_SLASH
    b.eq    Lmime_type_unknown
    sub     x13, x13, #1
    cmp     w9, #CH_DOT
    b.ne    Lmime_type_dot
    add     x13, x13, #1                 // x13 = extension, x12 = its end
    sub     x14, x12, x13
    LOAD_ADDR x15, mime_table
Lmime_type_next:
    ldrb    w3, [x15, #MX_EXT_LEN]
    cbz     w3, Lmime_type_unknown
    cmp     x3, x14
    b.ne    Lmime_type_skip
    ldrh    w9, [x15, #MX_EXT]
    LOAD_ADDR x2, Lmime_names
    add     x2, x2, x9
    mov     x0, x13
    bl      equal_ci
    cbnz    x0, Lmime_type_found
Lmime_type_skip:
    add     x15, x15, #MX_SIZE
    b       Lmime_type_next
Lmime_type_found:
    ldrh    w9, [x15, #MX_TYPE]
    ldrb    w1, [x15, #MX_TYPE_LEN]
    LOAD_ADDR x0, Lmime_names
    add     x0, x0, x9
    b       Lmime_type_done
Lmime_type_unknown:
    LOAD_ADDR x0, t_octet_stream
    ldr     x1, t_octet_stream_len
Lmime_type_done:
    ldp     x29, x30, [sp], #16
    ret

// --- log_request ------------------------------------------------------------
// One Common Log Format line on stdout:
//   127.0.0.1 - - [01/Dec/2026:19:31:27 +0000] "GET / HTTP/1.1" 200 591
//   in:  x28 = req, peer_addr, in_buf (the request line)
//   out: -                               clobbers: x0-x2, x9-x16
//   frame: x9, x10 pushed around utoa, x0 around now_seconds
log_request:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    LOAD_ADDR x0, log_buf
    LOAD_ADDR x9, peer_addr              // sin_addr, one byte at a time
    mov     x10, #0
Llog_request_ip:
    add     x11, x9, #SIN_ADDR
    ldrb    w1, [x11, x10]
    stp     x9, x10, [sp, #-16]!
    bl      utoa
    ldp     x9, x10, [sp], #16
    add     x10, x10, #1
    cmp     x10, #IPV4_BYTES
    b.eq    Llog_request_ip_done
    mov     w11, #CH_DOT
    strb    w11, [x0], #1
    b       Llog_request_ip
Llog_request_ip_done:
    APPEND  t_log_dashes, t_log_dashes_len
    str     x0, [sp, #-16]!
    bl      now_seconds
    mov     x1, x0
    ldr     x0, [sp], #16
    bl      format_clf_date
    APPEND  t_log_quote, t_log_quote_len
    LOAD_ADDR x1, in_buf                 // the request line, quotes and controls made "?"
    ldr     x2, [x28, #REQ_LINE_LEN]
    cmp     x2, #LOG_LINE_MAX
    mov     x9, #LOG_LINE_MAX
    csel    x2, x9, x2, hi
Llog_request_line:
    cbz     x2, Llog_request_line_done
    ldrb    w9, [x1], #1
    cmp     w9, #CH_QUOTE
    b.eq    Llog_request_odd
    cmp     w9, #CH_SPACE
    b.lo    Llog_request_odd
    cmp     w9, #CH_TILDE                // the last printable byte
    b.ls    Llog_request_put
Llog_request_odd:
    mov     w9, #CH_QUESTION
Llog_request_put:
    strb    w9, [x0], #1
    sub     x2, x2, #1
    b       Llog_request_line
Llog_request_line_done:
    mov     w9, #CH_QUOTE
    strb    w9, [x0], #1
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    ldr     x1, [x28, #REQ_STATUS]
    bl      utoa
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    ldr     x1, [x28, #REQ_SENT]
    cbz     x1, Llog_request_no_bytes
    bl      utoa
    b       Llog_request_end
Llog_request_no_bytes:
    mov     w9, #CH_DASH                 // CLF writes "-" for no body
    strb    w9, [x0], #1
Llog_request_end:
    mov     w9, #CH_LF
    strb    w9, [x0], #1
    LOAD_ADDR x1, log_buf
    sub     x2, x0, x1
    mov     x0, #STDOUT
    bl      write_all
    ldp     x29, x30, [sp], #16
    ret

// ===== 10. Dates ============================================================
// Owns: the civil calendar, from and to seconds since 1970 (UTC), with the
// days <-> (year, month, day) algorithms of Howard Hinnant's "chrono-
// compatible low-level date algorithms".

// --- civil_from_days --------------------------------------------------------
//   in:  x0 = days since 1970-01-01 (not before it)
//   out: x0 = year, x1 = month 1-12, x2 = day 1-31   clobbers: x9-x13
civil_from_days:
    ldr     x9, =DAYS_0000_TO_1970
    add     x9, x0, x9                   // z: days since 0000-03-01
    ldr     x10, =DAYS_PER_ERA
    udiv    x11, x9, x10                 // era
    msub    x12, x11, x10, x9            // doe: day of era, 0..146096
    mov     x13, #DAYS_PER_4_YEARS       // yoe = (doe - doe/1460 + doe/36524 - doe/146096) / 365
    udiv    x9, x12, x13
    sub     x9, x12, x9
    ldr     x13, =DAYS_PER_CENTURY
    udiv    x10, x12, x13
    add     x9, x9, x10
    ldr     x13, =DAYS_PER_ERA - 1
    udiv    x10, x12, x13
    sub     x9, x9, x10
    mov     x13, #DAYS_PER_YEAR
    udiv    x9, x9, x13                  // yoe, 0..399
    mov     x13, #YEARS_PER_ERA
    madd    x0, x11, x13, x9             // year counted from March
    mov     x13, #DAYS_PER_YEAR          // doy = doe - (365*yoe + yoe/4 - yoe/100)
    mul     x10, x9, x13
    add     x10, x10, x9, lsr #2
    mov     x13, #YEARS_PER_CENTURY
    udiv    x11, x9, x13
    sub     x10, x10, x11
    sub     x12, x12, x10                // doy, 0..365 (March 1 = 0)
    mov     x13, #5                      // mp = (5*doy + 2) / 153
    mul     x9, x12, x13
    add     x9, x9, #2
    mov     x13, #153
    udiv    x9, x9, x13
    mul     x10, x9, x13                 // d = doy - (153*mp + 2)/5 + 1
    add     x10, x10, #2
    mov     x13, #5
    udiv    x10, x10, x13
    sub     x2, x12, x10
    add     x2, x2, #1
    cmp     x9, #10                      // m = mp < 10 ? mp + 3 : mp - 9
    add     x1, x9, #3
    sub     x10, x9, #9
    csel    x1, x10, x1, hs
    cmp     x1, #2                       // January and February belong to the next year
    cinc    x0, x0, ls
    ret

// --- days_from_civil --------------------------------------------------------
//   in:  x0 = year (1970 or later), x1 = month 1-12, x2 = day 1-31
//   out: x0 = days since 1970-01-01      clobbers: x9-x13
days_from_civil:
    cmp     x1, #2
    cset    x9, ls
    sub     x0, x0, x9                   // years start in March
    mov     x13, #YEARS_PER_ERA
    udiv    x10, x0, x13                 // era
    msub    x11, x10, x13, x0            // yoe
    add     x12, x1, #9                  // m > 2 ? m - 3 : m + 9
    sub     x9, x1, #3
    cmp     x1, #2
    csel    x12, x9, x12, hi
    mov     x13, #153                    // doy = (153*m' + 2)/5 + d - 1
    mul     x12, x12, x13
    add     x12, x12, #2
    mov     x13, #5
    udiv    x12, x12, x13
    add     x12, x12, x2
    sub     x12, x12, #1
    mov     x13, #DAYS_PER_YEAR          // doe = yoe*365 + yoe/4 - yoe/100 + doy
    mul     x9, x11, x13
    add     x9, x9, x11, lsr #2
    mov     x13, #YEARS_PER_CENTURY
    udiv    x13, x11, x13
    sub     x9, x9, x13
    add     x9, x9, x12
    ldr     x13, =DAYS_PER_ERA
    mul     x10, x10, x13
    add     x0, x10, x9
    ldr     x13, =DAYS_0000_TO_1970
    sub     x0, x0, x13
    ret

// --- split_time -------------------------------------------------------------
// Seconds since 1970 into calendar fields, stored in date_parts:
// year, month, day, hour, minute, second, weekday (0 = Sunday).
//   in:  x1 = seconds
//   out: date_parts                      clobbers: x0-x2, x9-x15
split_time:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x9, =SECS_PER_DAY
    udiv    x0, x1, x9                   // days
    msub    x14, x0, x9, x1              // seconds into the day
    LOAD_ADDR x15, date_parts
    add     x9, x0, #EPOCH_WEEKDAY
    mov     x10, #DAYS_PER_WEEK
    udiv    x11, x9, x10
    msub    x9, x11, x10, x9
    str     x9, [x15, #DP_WEEKDAY]
    bl      civil_from_days
    stp     x0, x1, [x15, #DP_YEAR]      // year, month
    str     x2, [x15, #DP_DAY]
    mov     x9, #SECS_PER_HOUR
    udiv    x10, x14, x9                 // hour
    msub    x14, x10, x9, x14
    mov     x9, #SECS_PER_MINUTE
    udiv    x11, x14, x9                 // minute
    msub    x12, x11, x9, x14            // second
    stp     x10, x11, [x15, #DP_HOUR]    // hour, minute
    str     x12, [x15, #DP_SECOND]
    ldp     x29, x30, [sp], #16
    ret

// --- format_imf_date --------------------------------------------------------
// RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
//   in:  x0 = destination, x1 = seconds since 1970
//   out: x0 = end                        clobbers: x1, x2, x9-x15
//   frame: [sp, #16] destination
format_imf_date:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    str     x0, [sp, #16]
    bl      split_time
    ldr     x0, [sp, #16]
    LOAD_ADDR x15, date_parts
    ldr     x9, [x15, #DP_WEEKDAY]       // "Sun, "
    LOAD_ADDR x10, day_names
    add     x1, x10, x9, lsl #2
    mov     x2, #ABBR_LEN
    bl      copy
    mov     w9, #CH_COMMA
    strb    w9, [x0], #1
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    ldr     x1, [x15, #DP_DAY]           // "06 "
    bl      two_digits
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    bl      Lformat_imf_date_month       // "Nov "
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    ldr     x1, [x15, #DP_YEAR]          // "1994 "
    bl      utoa
    mov     w9, #CH_SPACE
    strb    w9, [x0], #1
    bl      Lformat_imf_date_clock       // "08:49:37"
    APPEND  t_gmt, t_gmt_len
    ldp     x29, x30, [sp], #32
    ret
// helper of format_imf_date and format_clf_date: "Nov" from date_parts.
//   in:  x0 = cursor, x15 = date_parts
//   out: x0 = cursor                     clobbers: x1, x2, x9, x10
Lformat_imf_date_month:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x9, [x15, #DP_MONTH]
    sub     x9, x9, #1
    LOAD_ADDR x10, month_names
    add     x1, x10, x9, lsl #2
    mov     x2, #ABBR_LEN
    bl      copy
    ldp     x29, x30, [sp], #16
    ret
// helper of format_imf_date and format_clf_date: "HH:MM:SS" from date_parts.
//   in:  x0 = cursor, x15 = date_parts
//   out: x0 = cursor                     clobbers: x1, x9, x10
Lformat_imf_date_clock:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    ldr     x1, [x15, #DP_HOUR]
    bl      two_digits
    mov     w9, #CH_COLON
    strb    w9, [x0], #1
    ldr     x1, [x15, #DP_MINUTE]
    bl      two_digits
    mov     w9, #CH_COLON
    strb    w9, [x0], #1
    ldr     x1, [x15, #DP_SECOND]
    bl      two_digits
    ldp     x29, x30, [sp], #16
    ret

// --- format_clf_date --------------------------------------------------------
// Common Log Format: "[10/Oct/2000:13:55:36 +0000]".
//   in:  x0 = destination, x1 = seconds since 1970
//   out: x0 = end                        clobbers: x1, x2, x9-x15
//   frame: [sp, #16] destination
format_clf_date:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    str     x0, [sp, #16]
    bl      split_time
    ldr     x0, [sp, #16]
    LOAD_ADDR x15, date_parts
    mov     w9, #CH_LBRACKET
    strb    w9, [x0], #1
    ldr     x1, [x15, #DP_DAY]
    bl      two_digits
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
    bl      Lformat_imf_date_month
    mov     w9, #CH_SLASH
    strb    w9, [x0], #1
    ldr     x1, [x15, #DP_YEAR]
    bl      utoa
    mov     w9, #CH_COLON
    strb    w9, [x0], #1
    bl      Lformat_imf_date_clock
    APPEND  t_clf_zone, t_clf_zone_len
    ldp     x29, x30, [sp], #32
    ret

// --- parse_imf_date ---------------------------------------------------------
// Read an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form every
// HTTP/1.1 sender must use (RFC 9110 5.6.7).
//   in:  x0 = text, x1 = length
//   out: x0 = seconds since 1970; carry set = not such a date
//        clobbers: x1-x3, x9-x15
//   frame: [sp, #16] month, day
parse_imf_date:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    cmp     x1, #IMF_DATE_LEN
    b.ne    Lparse_imf_date_bad
    mov     x14, x0
    ldrb    w9, [x14, #IMF_COMMA]        // "Www, "
    cmp     w9, #CH_COMMA
    b.ne    Lparse_imf_date_bad
    add     x0, x14, #IMF_DAY
    mov     x1, #2
    bl      parse_decimal
    b.cs    Lparse_imf_date_bad
    mov     x15, x0
    mov     x12, #0                      // month: compare with month_names
Lparse_imf_date_month:
    cmp     x12, #12
    b.hs    Lparse_imf_date_bad
    LOAD_ADDR x2, month_names
    add     x2, x2, x12, lsl #2
    add     x0, x14, #IMF_MONTH
    mov     x1, #ABBR_LEN
    mov     x3, #ABBR_LEN
    stp     x12, x15, [sp, #16]
    bl      equal_bytes
    ldp     x12, x15, [sp, #16]
    cbnz    x0, Lparse_imf_date_year
    add     x12, x12, #1
    b       Lparse_imf_date_month
Lparse_imf_date_year:
    add     x13, x12, #1
    stp     x13, x15, [sp, #16]          // month, day
    add     x0, x14, #IMF_YEAR
    mov     x1, #4
    bl      parse_decimal
    b.cs    Lparse_imf_date_bad
    cmp     x0, #EPOCH_YEAR
    b.lo    Lparse_imf_date_bad
    ldp     x1, x2, [sp, #16]
    bl      days_from_civil
    ldr     x9, =SECS_PER_DAY
    mul     x15, x0, x9                  // seconds at midnight
    add     x0, x14, #IMF_HOUR           // "HH:MM:SS"
    mov     x1, #2
    bl      parse_decimal
    b.cs    Lparse_imf_date_bad
    mov     x9, #SECS_PER_HOUR
    madd    x15, x0, x9, x15
    add     x0, x14, #IMF_MINUTE
    mov     x1, #2
    bl      parse_decimal
    b.cs    Lparse_imf_date_bad
    mov     x9, #SECS_PER_MINUTE
    madd    x15, x0, x9, x15
    add     x0, x14, #IMF_SECOND
    mov     x1, #2
    bl      parse_decimal
    b.cs    Lparse_imf_date_bad
    add     x0, x15, x0
    CLEAR_CARRY
    b       Lparse_imf_date_done
Lparse_imf_date_bad:
    SET_CARRY
Lparse_imf_date_done:
    ldp     x29, x30, [sp], #32
    ret

// --- two_digits -------------------------------------------------------------
//   in:  x0 = destination, x1 = 0..99
//   out: x0 = destination + 2            clobbers: x9, x10
two_digits:
    mov     x9, #10
    udiv    x10, x1, x9
    msub    x9, x10, x9, x1
    add     w10, w10, #CH_0
    add     w9, w9, #CH_0
    strb    w10, [x0], #1
    strb    w9, [x0], #1
    ret

// ===== 11. Utilities ========================================================
// Small routines that touch only x0-x16 and the bytes they are given.

// --- write_all --------------------------------------------------------------
// Write every byte, looping over short writes.  A descriptor that would
// block (the client's is non-blocking) is waited for, SEND_IDLE_MS at most
// each time: a client that takes no byte for that long has stalled.
//   in:  x0 = fd, x1 = buffer, x2 = length
//   out: carry set = failed or stalled (x0 = errno); x1 = bytes not written
//        clobbers: x0-x2, x9-x11, x16
//   frame: [sp, #16] fd, cursor; [sp, #32] bytes left
write_all:
    stp     x29, x30, [sp, #-48]!
    mov     x29, sp
    stp     x0, x1, [sp, #16]            // fd, cursor
    str     x2, [sp, #32]                // bytes left
Lwrite_all_loop:
    ldp     x0, x1, [sp, #16]
    ldr     x2, [sp, #32]
    cbz     x2, Lwrite_all_done
    SYSCALL SYS_write
    b.cs    Lwrite_all_error
    ldr     x10, [sp, #24]
    add     x10, x10, x0
    str     x10, [sp, #24]
    ldr     x11, [sp, #32]
    sub     x11, x11, x0
    str     x11, [sp, #32]
    b       Lwrite_all_loop
Lwrite_all_error:
    cmp     x0, #EINTR
    b.eq    Lwrite_all_loop
    cmp     x0, #EAGAIN
    b.ne    Lwrite_all_failed
    ldr     x0, [sp, #16]                // full: wait for room
    mov     x1, #POLLOUT
    mov     x2, #SEND_IDLE_MS
    bl      wait_fd
    cbnz    x0, Lwrite_all_loop
    mov     x0, #EAGAIN
Lwrite_all_failed:
    ldr     x1, [sp, #32]
    SET_CARRY
    b       Lwrite_all_return
Lwrite_all_done:
    mov     x1, #0
    CLEAR_CARRY
Lwrite_all_return:
    ldp     x29, x30, [sp], #48
    ret

// --- send_body --------------------------------------------------------------
// write_all to the client, adding the bytes that went out to REQ_SENT (the
// access log's size) even when the client leaves half-way; a body cut short
// closes the connection.
//   in:  x1 = buffer, x2 = length, x19 = client, x28 = req
//   out: carry set = failed              clobbers: x0-x2, x9-x11, x16
//   frame: [sp, #16] length
send_body:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    str     x2, [sp, #16]
    mov     x0, x19
    bl      write_all                    // x1 = bytes not written
    ldr     x2, [sp, #16]                // (loads, stores and sub leave the carry)
    sub     x2, x2, x1
    ldr     x9, [x28, #REQ_SENT]
    add     x9, x9, x2
    str     x9, [x28, #REQ_SENT]
    b.cc    Lsend_body_done
    mov     x9, #1
    str     x9, [x28, #REQ_CLOSE]
Lsend_body_done:
    ldp     x29, x30, [sp], #32
    ret

// --- copy -------------------------------------------------------------------
// Copy bytes forward (safe when the destination is below the source).
//   in:  x0 = destination, x1 = source, x2 = length
//   out: x0 = destination end            clobbers: x1, x2, x9
copy:
    cbz     x2, Lcopy_done
    ldrb    w9, [x1], #1
    strb    w9, [x0], #1
    sub     x2, x2, #1
    b       copy
Lcopy_done:
    ret

// --- strlen_z ---------------------------------------------------------------
//   in:  x0 = NUL-terminated string
//   out: x0 = its length                 clobbers: x9, x10
strlen_z:
    mov     x9, x0
Lstrlen_z_loop:
    ldrb    w10, [x9], #1
    cbnz    w10, Lstrlen_z_loop
    sub     x0, x9, x0
    sub     x0, x0, #1
    ret

// --- compare_z --------------------------------------------------------------
// Byte order of two NUL-terminated strings.
//   in:  x0 = a, x1 = b
//   out: x0 < 0, = 0, > 0 as a sorts before, with, after b   clobbers: x1, x9-x11
compare_z:
    ldrb    w9, [x0], #1
    ldrb    w10, [x1], #1
    subs    x11, x9, x10
    b.ne    Lcompare_z_done
    cbnz    w9, compare_z
Lcompare_z_done:
    mov     x0, x11
    ret

// --- utoa -------------------------------------------------------------------
// Write an unsigned number in decimal.
//   in:  x0 = destination, x1 = value
//   out: x0 = destination end            clobbers: x1, x9-x13
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
    mov     x1, x9                       // ...so put them the right way round
    b       reverse_digits

// --- utox -------------------------------------------------------------------
// Write an unsigned number in lowercase hexadecimal.
//   in:  x0 = destination, x1 = value
//   out: x0 = destination end            clobbers: x1, x9-x13
utox:
    mov     x9, x0
Lutox_digits:
    and     x11, x1, #0xf
    LOAD_ADDR x12, hex_digits
    ldrb    w11, [x12, x11]
    strb    w11, [x9], #1
    lsr     x1, x1, #4
    cbnz    x1, Lutox_digits
    mov     x1, x9
    b       reverse_digits

// --- reverse_digits ---------------------------------------------------------
// Reverse bytes in place: utoa and utox write their digits lowest first.
//   in:  x0 = start, x1 = end
//   out: x0 = end                        clobbers: x10-x13
reverse_digits:
    mov     x10, x0
    sub     x11, x1, #1
    mov     x0, x1
Lreverse_digits_loop:
    cmp     x10, x11
    b.hs    Lreverse_digits_done
    ldrb    w12, [x10]
    ldrb    w13, [x11]
    strb    w13, [x10], #1
    strb    w12, [x11], #-1
    b       Lreverse_digits_loop
Lreverse_digits_done:
    ret

// --- hex_value --------------------------------------------------------------
//   in:  w0 = "0"-"9", "a"-"f" or "A"-"F"
//   out: x0 = 0..15; carry set = not a hex digit   clobbers: nothing else
hex_value:
    sub     w0, w0, #CH_0
    cmp     w0, #9
    b.ls    Lhex_value_ok
    orr     w0, w0, #CASE_BIT            // 'A'-'0' | 0x20 = 'a'-'0'
    sub     w0, w0, #(CH_a - CH_0)
    cmp     w0, #5
    b.hi    Lhex_value_bad
    add     w0, w0, #10
Lhex_value_ok:
    and     x0, x0, #0xff
    CLEAR_CARRY
    ret
Lhex_value_bad:
    SET_CARRY
    ret

// --- parse_decimal ----------------------------------------------------------
// Digits only, at least one, at most 18 of them.
//   in:  x0 = text, x1 = length
//   out: x0 = value; carry set = not a plain number   clobbers: x1, x9-x11
parse_decimal:
    cbz     x1, Lparse_decimal_bad
    cmp     x1, #DECIMAL_DIGITS_MAX
    b.hi    Lparse_decimal_bad
    add     x1, x0, x1
    mov     x10, x0
    mov     x0, #0
    mov     x11, #10
Lparse_decimal_digit:
    cmp     x10, x1
    b.hs    Lparse_decimal_ok
    ldrb    w9, [x10], #1
    sub     w9, w9, #CH_0
    cmp     w9, #9
    b.hi    Lparse_decimal_bad
    madd    x0, x0, x11, x9
    b       Lparse_decimal_digit
Lparse_decimal_ok:
    CLEAR_CARRY
    ret
Lparse_decimal_bad:
    SET_CARRY
    ret

// --- parse_port -------------------------------------------------------------
// The port from argv[1], or DEFAULT_PORT when there is none.
//   in:  x0 = argc, x1 = argv
//   out: x0 = port; carry set = not a number in 1..65535   clobbers: x1, x9-x11
parse_port:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    cmp     x0, #2
    b.lo    Lparse_port_default
    ldr     x11, [x1, #ARGV_PORT]
    mov     x0, x11
    bl      strlen_z
    mov     x1, x0
    mov     x0, x11
    bl      parse_decimal
    b.cs    Lparse_port_done
    cbz     x0, Lparse_port_bad
    mov     x9, #MAX_PORT
    cmp     x0, x9
    b.hi    Lparse_port_bad
    CLEAR_CARRY
    b       Lparse_port_done
Lparse_port_default:
    mov     x0, #DEFAULT_PORT
    CLEAR_CARRY
    b       Lparse_port_done
Lparse_port_bad:
    SET_CARRY
Lparse_port_done:
    ldp     x29, x30, [sp], #16
    ret

// --- starts_with ------------------------------------------------------------
// Does the data begin with the prefix?
//   in:  x0 = data, x1 = data end, x2 = prefix, x3 = prefix length
//   out: x0 = 1 yes, 0 no                clobbers: x1, x9-x11
starts_with:
    add     x9, x0, x3
    cmp     x9, x1
    b.hi    Lstarts_with_no              // shorter than the prefix
    mov     x1, x3                       // then: are its first x3 bytes the prefix?
    b       equal_bytes
Lstarts_with_no:
    mov     x0, #0
    ret

// --- starts_with_ci ---------------------------------------------------------
// starts_with, ignoring ASCII case (the prefix is lowercase).
//   in:  x0 = data, x1 = data end, x2 = prefix, x3 = prefix length
//   out: x0 = 1 yes, 0 no                clobbers: x1, x9-x11
starts_with_ci:
    add     x9, x0, x3
    cmp     x9, x1
    b.hi    Lequal_ci_no                 // shorter than the prefix: equal_ci's "no"
    mov     x1, x3
    b       equal_ci

// --- equal_ci ---------------------------------------------------------------
// Are LEN bytes at a equal to LEN bytes at b, ignoring ASCII case?  (b is
// lowercase.)
//   in:  x0 = a, x2 = b (lowercase), x3 = length
//   out: x0 = 1 yes, 0 no                clobbers: x9-x11
equal_ci:
    mov     x9, #0
Lequal_ci_loop:
    cmp     x9, x3
    b.eq    Lequal_ci_yes
    ldrb    w10, [x0, x9]
    ldrb    w11, [x2, x9]
    add     x9, x9, #1
    cmp     w10, #CH_A
    b.lo    Lequal_ci_compare
    cmp     w10, #CH_Z
    b.hi    Lequal_ci_compare
    orr     w10, w10, #CASE_BIT
Lequal_ci_compare:
    cmp     w10, w11
    b.eq    Lequal_ci_loop
Lequal_ci_no:
    mov     x0, #0
    ret
Lequal_ci_yes:
    mov     x0, #1
    ret

// --- equal_bytes ------------------------------------------------------------
// Is the text (x0, x1) exactly the LEN bytes at x2?
//   in:  x0 = text, x1 = its length, x2 = other, x3 = its length
//   out: x0 = 1 yes, 0 no                clobbers: x9-x11
equal_bytes:
    cmp     x1, x3
    b.ne    Lequal_bytes_no
    mov     x9, #0
Lequal_bytes_loop:
    cmp     x9, x3
    b.eq    Lequal_bytes_yes
    ldrb    w10, [x0, x9]
    ldrb    w11, [x2, x9]
    add     x9, x9, #1
    cmp     w10, w11
    b.eq    Lequal_bytes_loop
Lequal_bytes_no:
    mov     x0, #0
    ret
Lequal_bytes_yes:
    mov     x0, #1
    ret

// --- contains ---------------------------------------------------------------
// Does the text contain the needle (exact bytes)?
//   in:  x0 = text, x1 = its length, x2 = needle, x3 = its length
//   out: x0 = 1 yes, 0 no                clobbers: x1, x4, x5, x7, x9-x11
contains:
    mov     x7, #0                       // case-sensitive
    b       Lcontains_start

// --- contains_ci ------------------------------------------------------------
// contains, ignoring ASCII case (the needle is lowercase).
//   in:  x0 = text, x1 = its length, x2 = needle, x3 = its length
//   out: x0 = 1 yes, 0 no                clobbers: x1, x4, x5, x7, x9-x11
contains_ci:
    mov     x7, #1
Lcontains_start:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    mov     x4, x0
    add     x5, x0, x1                   // end
Lcontains_at:
    add     x9, x4, x3
    cmp     x9, x5
    b.hi    Lcontains_no
    mov     x0, x4
    mov     x1, x3
    cbz     x7, Lcontains_exact
    bl      equal_ci
    b       Lcontains_test
Lcontains_exact:
    bl      equal_bytes
Lcontains_test:
    cbnz    x0, Lcontains_yes
    add     x4, x4, #1
    b       Lcontains_at
Lcontains_no:
    mov     x0, #0
    ldp     x29, x30, [sp], #16
    ret
Lcontains_yes:
    mov     x0, #1
    ldp     x29, x30, [sp], #16
    ret

// --- append_html_escaped ----------------------------------------------------
// Copy text, writing & < > " ' as character references.
//   in:  x0 = cursor, x1 = text, x2 = length
//   out: x0 = cursor                     clobbers: x1, x3, x9-x12
append_html_escaped:
    add     x3, x1, x2
Lappend_html_escaped_byte:
    cmp     x1, x3
    b.hs    Lappend_html_escaped_done
    ldrb    w9, [x1], #1
    LOAD_ADDR x10, html_escapes
Lappend_html_escaped_find:
    ldrb    w11, [x10, #HE_CHAR]
    cbz     w11, Lappend_html_escaped_plain
    cmp     w11, w9
    b.eq    Lappend_html_escaped_entity
    add     x10, x10, #HE_SIZE
    b       Lappend_html_escaped_find
Lappend_html_escaped_entity:
    ldrb    w11, [x10, #HE_LEN]
    add     x10, x10, #HE_TEXT
Lappend_html_escaped_copy:
    ldrb    w12, [x10], #1
    strb    w12, [x0], #1
    subs    w11, w11, #1
    b.ne    Lappend_html_escaped_copy
    b       Lappend_html_escaped_byte
Lappend_html_escaped_plain:
    strb    w9, [x0], #1
    b       Lappend_html_escaped_byte
Lappend_html_escaped_done:
    ret

// --- append_url_encoded -----------------------------------------------------
// Copy bytes for a URL: those the map marks as they are, every other as %XX.
// A run of "/" (kept by path_map) becomes one: a Location beginning "//"
// would name another host.
//   in:  x0 = cursor, x1 = text, x2 = length, x4 = map (unreserved_map, path_map)
//   out: x0 = cursor                     clobbers: x1, x3, x9-x12
append_url_encoded:
    add     x3, x1, x2
    mov     w11, #0                      // the byte before
Lappend_url_encoded_byte:
    cmp     x1, x3
    b.hs    Lappend_url_encoded_done
    ldrb    w9, [x1], #1
    cmp     w9, #CH_SLASH
    b.ne    Lappend_url_encoded_class
    cmp     w11, #CH_SLASH
    b.eq    Lappend_url_encoded_byte     // a second "/" in a row
Lappend_url_encoded_class:
    mov     w11, w9
    cmp     w9, #CH_DEL
    b.hs    Lappend_url_encoded_pct
    ldrb    w10, [x4, x9]
    cbnz    w10, Lappend_url_encoded_plain
Lappend_url_encoded_pct:
    mov     w10, #CH_PERCENT
    strb    w10, [x0], #1
    LOAD_ADDR x12, hex_digits_upper
    lsr     w10, w9, #4
    ldrb    w10, [x12, x10]
    strb    w10, [x0], #1
    and     w10, w9, #0xf
    ldrb    w10, [x12, x10]
    strb    w10, [x0], #1
    b       Lappend_url_encoded_byte
Lappend_url_encoded_plain:
    strb    w9, [x0], #1
    b       Lappend_url_encoded_byte
Lappend_url_encoded_done:
    ret
// The literal pool: constants that ldr xN, =VALUE loads (no mov can make them).
Lliterals:
.ltorg

// ===== 12. Tables ===========================================================
// Read-only.  Offsets (not addresses) keep the program position-independent.

// Methods: MT_SIZE bytes an entry (MT_NAME, MT_LEN, MT_METHOD); 0 ends.
.p2align 2
method_table:
    .hword Lmn_get - Lmethod_names
    .byte  Lmn_get_end - Lmn_get, M_GET
    .hword Lmn_head - Lmethod_names
    .byte  Lmn_head_end - Lmn_head, M_HEAD
    .hword Lmn_put - Lmethod_names
    .byte  Lmn_put_end - Lmn_put, M_PUT
    .hword Lmn_delete - Lmethod_names
    .byte  Lmn_delete_end - Lmn_delete, M_DELETE
    .hword Lmn_options - Lmethod_names
    .byte  Lmn_options_end - Lmn_options, M_OPTIONS
    .hword 0, 0
Lmethod_names:
Lmn_get:     .ascii "GET"
Lmn_get_end:
Lmn_head:    .ascii "HEAD"
Lmn_head_end:
Lmn_put:     .ascii "PUT"
Lmn_put_end:
Lmn_delete:  .ascii "DELETE"
Lmn_delete_end:
Lmn_options: .ascii "OPTIONS"
Lmn_options_end:

// The routine that answers each method, indexed by M_*: offsets from the
// table (int32), which the assembler works out in both builds.
.p2align 2
method_routines:
    .word 0                              // 0: not a method
    .word do_get - method_routines       // M_GET
    .word do_get - method_routines       // M_HEAD: do_get sends the head only
    .word do_put - method_routines       // M_PUT
    .word do_delete - method_routines    // M_DELETE
    .word do_options - method_routines   // M_OPTIONS

// Request headers we use: HT_SIZE bytes an entry (HT_NAME, lowercase;
// HT_LEN; HT_FIELD, the req field that keeps (pointer, length)); 0 ends.
.p2align 2
header_table:
    .hword Lhn_host - Lheader_names
    .byte  Lhn_host_end - Lhn_host, REQ_H_HOST
    .hword Lhn_content_length - Lheader_names
    .byte  Lhn_content_length_end - Lhn_content_length, REQ_H_CLEN
    .hword Lhn_transfer_encoding - Lheader_names
    .byte  Lhn_transfer_encoding_end - Lhn_transfer_encoding, REQ_H_TE
    .hword Lhn_connection - Lheader_names
    .byte  Lhn_connection_end - Lhn_connection, REQ_H_CONN
    .hword Lhn_expect - Lheader_names
    .byte  Lhn_expect_end - Lhn_expect, REQ_H_EXPECT
    .hword Lhn_range - Lheader_names
    .byte  Lhn_range_end - Lhn_range, REQ_H_RANGE
    .hword Lhn_if_none_match - Lheader_names
    .byte  Lhn_if_none_match_end - Lhn_if_none_match, REQ_H_INM
    .hword Lhn_if_modified_since - Lheader_names
    .byte  Lhn_if_modified_since_end - Lhn_if_modified_since, REQ_H_IMS
    .hword Lhn_if_range - Lheader_names
    .byte  Lhn_if_range_end - Lhn_if_range, REQ_H_IFRANGE
    .hword 0, 0
Lheader_names:
Lhn_host:              .ascii "host"
Lhn_host_end:
Lhn_content_length:    .ascii "content-length"
Lhn_content_length_end:
Lhn_transfer_encoding: .ascii "transfer-encoding"
Lhn_transfer_encoding_end:
Lhn_connection:        .ascii "connection"
Lhn_connection_end:
Lhn_expect:            .ascii "expect"
Lhn_expect_end:
Lhn_range:             .ascii "range"
Lhn_range_end:
Lhn_if_none_match:     .ascii "if-none-match"
Lhn_if_none_match_end:
Lhn_if_modified_since: .ascii "if-modified-since"
Lhn_if_modified_since_end:
Lhn_if_range:          .ascii "if-range"
Lhn_if_range_end:

// errno -> status for failed file operations: ET_SIZE bytes an entry
// (ET_ERRNO, ET_STATUS); errno 0 ends it with the fallback.
.p2align 2
errno_table:
    .hword ENOENT, HTTP_NOT_FOUND
    .hword ENOTDIR, HTTP_NOT_FOUND
    .hword ELOOP, HTTP_FORBIDDEN
    .hword EACCES, HTTP_FORBIDDEN
    .hword ENAMETOOLONG, HTTP_URI_TOO_LONG
    .hword EISDIR, HTTP_CONFLICT
    .hword ENOTEMPTY, HTTP_CONFLICT
    .hword 0, HTTP_SERVER_ERROR

// HTML character references: HE_SIZE bytes an entry (HE_CHAR, HE_LEN,
// HE_TEXT padded to 6); 0 ends.
.p2align 3
html_escapes:
    .byte CH_AMP, 5
    .ascii "&amp; "
    .byte CH_LT, 4
    .ascii "&lt;  "
    .byte CH_GT, 4
    .ascii "&gt;  "
    .byte CH_QUOTE, 6
    .ascii "&quot;"
    .byte CH_APOS, 5
    .ascii "&#39; "
    .byte 0, 0
    .ascii "      "

// RFC 9110 tchar (1 = allowed), for bytes 0x00-0x7e.
tchar_map:
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0     // 0x00
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0     // 0x10
    .byte 0,1,0,1,1,1,1,1, 0,0,1,1,0,1,1,0     // 0x20  !#$%&'*+-.
    .byte 1,1,1,1,1,1,1,1, 1,1,0,0,0,0,0,0     // 0x30  0-9
    .byte 0,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1     // 0x40  A-O
    .byte 1,1,1,1,1,1,1,1, 1,1,1,0,0,0,1,1     // 0x50  P-Z ^ _
    .byte 1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1     // 0x60  ` a-o
    .byte 1,1,1,1,1,1,1,1, 1,1,1,0,1,0,1,0     // 0x70  p-z | ~

// RFC 3986 unreserved (1 = as is in an href): A-Z a-z 0-9 - . _ ~
unreserved_map:
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0     // 0x00
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0     // 0x10
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,1,1,0     // 0x20  - .
    .byte 1,1,1,1,1,1,1,1, 1,1,0,0,0,0,0,0     // 0x30  0-9
    .byte 0,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1     // 0x40  A-O
    .byte 1,1,1,1,1,1,1,1, 1,1,1,0,0,0,0,1     // 0x50  P-Z _
    .byte 0,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1     // 0x60  a-o
    .byte 1,1,1,1,1,1,1,1, 1,1,1,0,0,0,1,0     // 0x70  p-z ~

// A path in a URL (Location): unreserved and "/" as they are.
path_map:
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0     // 0x00
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0     // 0x10
    .byte 0,0,0,0,0,0,0,0, 0,0,0,0,0,1,1,1     // 0x20  - . /
    .byte 1,1,1,1,1,1,1,1, 1,1,0,0,0,0,0,0     // 0x30  0-9
    .byte 0,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1     // 0x40  A-O
    .byte 1,1,1,1,1,1,1,1, 1,1,1,0,0,0,0,1     // 0x50  P-Z _
    .byte 0,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1     // 0x60  a-o
    .byte 1,1,1,1,1,1,1,1, 1,1,1,0,0,0,1,0     // 0x70  p-z ~

hex_digits:       .ascii "0123456789abcdef"
hex_digits_upper: .ascii "0123456789ABCDEF"
day_names:        .ascii "Sun Mon Tue Wed Thu Fri Sat "
month_names:      .ascii "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec "

// Statuses: STT_SIZE bytes an entry (STT_STATUS, STT_TEXT, STT_LEN, 0);
// the final entry (status 0) is the fallback reason.
.p2align 3
status_table:
    .hword 100, Ls_100 - Lstatus_texts, Ls_100_end - Ls_100, 0
    .hword 200, Ls_200 - Lstatus_texts, Ls_200_end - Ls_200, 0
    .hword 201, Ls_201 - Lstatus_texts, Ls_201_end - Ls_201, 0
    .hword 204, Ls_204 - Lstatus_texts, Ls_204_end - Ls_204, 0
    .hword 206, Ls_206 - Lstatus_texts, Ls_206_end - Ls_206, 0
    .hword 301, Ls_301 - Lstatus_texts, Ls_301_end - Ls_301, 0
    .hword 304, Ls_304 - Lstatus_texts, Ls_304_end - Ls_304, 0
    .hword 400, Ls_400 - Lstatus_texts, Ls_400_end - Ls_400, 0
    .hword 403, Ls_403 - Lstatus_texts, Ls_403_end - Ls_403, 0
    .hword 404, Ls_404 - Lstatus_texts, Ls_404_end - Ls_404, 0
    .hword 405, Ls_405 - Lstatus_texts, Ls_405_end - Ls_405, 0
    .hword 408, Ls_408 - Lstatus_texts, Ls_408_end - Ls_408, 0
    .hword 409, Ls_409 - Lstatus_texts, Ls_409_end - Ls_409, 0
    .hword 411, Ls_411 - Lstatus_texts, Ls_411_end - Ls_411, 0
    .hword 413, Ls_413 - Lstatus_texts, Ls_413_end - Ls_413, 0
    .hword 414, Ls_414 - Lstatus_texts, Ls_414_end - Ls_414, 0
    .hword 416, Ls_416 - Lstatus_texts, Ls_416_end - Ls_416, 0
    .hword 431, Ls_431 - Lstatus_texts, Ls_431_end - Ls_431, 0
    .hword 500, Ls_500 - Lstatus_texts, Ls_500_end - Ls_500, 0
    .hword 501, Ls_501 - Lstatus_texts, Ls_501_end - Ls_501, 0
    .hword 503, Ls_503 - Lstatus_texts, Ls_503_end - Ls_503, 0
    .hword 505, Ls_505 - Lstatus_texts, Ls_505_end - Ls_505, 0
    .hword 0, Ls_other - Lstatus_texts, Ls_other_end - Ls_other, 0
Lstatus_texts:
Ls_100: .ascii "Continue"
Ls_100_end:
Ls_200: .ascii "OK"
Ls_200_end:
Ls_201: .ascii "Created"
Ls_201_end:
Ls_204: .ascii "No Content"
Ls_204_end:
Ls_206: .ascii "Partial Content"
Ls_206_end:
Ls_301: .ascii "Moved Permanently"
Ls_301_end:
Ls_304: .ascii "Not Modified"
Ls_304_end:
Ls_400: .ascii "Bad Request"
Ls_400_end:
Ls_403: .ascii "Forbidden"
Ls_403_end:
Ls_404: .ascii "Not Found"
Ls_404_end:
Ls_405: .ascii "Method Not Allowed"
Ls_405_end:
Ls_408: .ascii "Request Timeout"
Ls_408_end:
Ls_409: .ascii "Conflict"
Ls_409_end:
Ls_411: .ascii "Length Required"
Ls_411_end:
Ls_413: .ascii "Content Too Large"
Ls_413_end:
Ls_414: .ascii "URI Too Long"
Ls_414_end:
Ls_416: .ascii "Range Not Satisfiable"
Ls_416_end:
Ls_431: .ascii "Request Header Fields Too Large"
Ls_431_end:
Ls_500: .ascii "Internal Server Error"
Ls_500_end:
Ls_501: .ascii "Not Implemented"
Ls_501_end:
Ls_503: .ascii "Service Unavailable"
Ls_503_end:
Ls_505: .ascii "HTTP Version Not Supported"
Ls_505_end:
Ls_other: .ascii "Unknown"
Ls_other_end:
// MIME types by extension: MX_SIZE bytes an entry (MX_EXT, MX_EXT_LEN,
// MX_TYPE_LEN, MX_TYPE, 0), offsets into Lmime_names; 0 ends.
.p2align 3
mime_table:
    .hword Lmx_html - Lmime_names
    .byte  Lmx_html_end - Lmx_html, Lmt_html_end - Lmt_html
    .hword Lmt_html - Lmime_names, 0
    .hword Lmx_htm - Lmime_names
    .byte  Lmx_htm_end - Lmx_htm, Lmt_htm_end - Lmt_htm
    .hword Lmt_htm - Lmime_names, 0
    .hword Lmx_css - Lmime_names
    .byte  Lmx_css_end - Lmx_css, Lmt_css_end - Lmt_css
    .hword Lmt_css - Lmime_names, 0
    .hword Lmx_js - Lmime_names
    .byte  Lmx_js_end - Lmx_js, Lmt_js_end - Lmt_js
    .hword Lmt_js - Lmime_names, 0
    .hword Lmx_mjs - Lmime_names
    .byte  Lmx_mjs_end - Lmx_mjs, Lmt_mjs_end - Lmt_mjs
    .hword Lmt_mjs - Lmime_names, 0
    .hword Lmx_json - Lmime_names
    .byte  Lmx_json_end - Lmx_json, Lmt_json_end - Lmt_json
    .hword Lmt_json - Lmime_names, 0
    .hword Lmx_map - Lmime_names
    .byte  Lmx_map_end - Lmx_map, Lmt_map_end - Lmt_map
    .hword Lmt_map - Lmime_names, 0
    .hword Lmx_xml - Lmime_names
    .byte  Lmx_xml_end - Lmx_xml, Lmt_xml_end - Lmt_xml
    .hword Lmt_xml - Lmime_names, 0
    .hword Lmx_txt - Lmime_names
    .byte  Lmx_txt_end - Lmx_txt, Lmt_txt_end - Lmt_txt
    .hword Lmt_txt - Lmime_names, 0
    .hword Lmx_md - Lmime_names
    .byte  Lmx_md_end - Lmx_md, Lmt_md_end - Lmt_md
    .hword Lmt_md - Lmime_names, 0
    .hword Lmx_csv - Lmime_names
    .byte  Lmx_csv_end - Lmx_csv, Lmt_csv_end - Lmt_csv
    .hword Lmt_csv - Lmime_names, 0
    .hword Lmx_wasm - Lmime_names
    .byte  Lmx_wasm_end - Lmx_wasm, Lmt_wasm_end - Lmt_wasm
    .hword Lmt_wasm - Lmime_names, 0
    .hword Lmx_svg - Lmime_names
    .byte  Lmx_svg_end - Lmx_svg, Lmt_svg_end - Lmt_svg
    .hword Lmt_svg - Lmime_names, 0
    .hword Lmx_png - Lmime_names
    .byte  Lmx_png_end - Lmx_png, Lmt_png_end - Lmt_png
    .hword Lmt_png - Lmime_names, 0
    .hword Lmx_jpg - Lmime_names
    .byte  Lmx_jpg_end - Lmx_jpg, Lmt_jpg_end - Lmt_jpg
    .hword Lmt_jpg - Lmime_names, 0
    .hword Lmx_jpeg - Lmime_names
    .byte  Lmx_jpeg_end - Lmx_jpeg, Lmt_jpeg_end - Lmt_jpeg
    .hword Lmt_jpeg - Lmime_names, 0
    .hword Lmx_gif - Lmime_names
    .byte  Lmx_gif_end - Lmx_gif, Lmt_gif_end - Lmt_gif
    .hword Lmt_gif - Lmime_names, 0
    .hword Lmx_webp - Lmime_names
    .byte  Lmx_webp_end - Lmx_webp, Lmt_webp_end - Lmt_webp
    .hword Lmt_webp - Lmime_names, 0
    .hword Lmx_avif - Lmime_names
    .byte  Lmx_avif_end - Lmx_avif, Lmt_avif_end - Lmt_avif
    .hword Lmt_avif - Lmime_names, 0
    .hword Lmx_ico - Lmime_names
    .byte  Lmx_ico_end - Lmx_ico, Lmt_ico_end - Lmt_ico
    .hword Lmt_ico - Lmime_names, 0
    .hword Lmx_bmp - Lmime_names
    .byte  Lmx_bmp_end - Lmx_bmp, Lmt_bmp_end - Lmt_bmp
    .hword Lmt_bmp - Lmime_names, 0
    .hword Lmx_tif - Lmime_names
    .byte  Lmx_tif_end - Lmx_tif, Lmt_tif_end - Lmt_tif
    .hword Lmt_tif - Lmime_names, 0
    .hword Lmx_tiff - Lmime_names
    .byte  Lmx_tiff_end - Lmx_tiff, Lmt_tiff_end - Lmt_tiff
    .hword Lmt_tiff - Lmime_names, 0
    .hword Lmx_woff - Lmime_names
    .byte  Lmx_woff_end - Lmx_woff, Lmt_woff_end - Lmt_woff
    .hword Lmt_woff - Lmime_names, 0
    .hword Lmx_woff2 - Lmime_names
    .byte  Lmx_woff2_end - Lmx_woff2, Lmt_woff2_end - Lmt_woff2
    .hword Lmt_woff2 - Lmime_names, 0
    .hword Lmx_ttf - Lmime_names
    .byte  Lmx_ttf_end - Lmx_ttf, Lmt_ttf_end - Lmt_ttf
    .hword Lmt_ttf - Lmime_names, 0
    .hword Lmx_otf - Lmime_names
    .byte  Lmx_otf_end - Lmx_otf, Lmt_otf_end - Lmt_otf
    .hword Lmt_otf - Lmime_names, 0
    .hword Lmx_eot - Lmime_names
    .byte  Lmx_eot_end - Lmx_eot, Lmt_eot_end - Lmt_eot
    .hword Lmt_eot - Lmime_names, 0
    .hword Lmx_mp4 - Lmime_names
    .byte  Lmx_mp4_end - Lmx_mp4, Lmt_mp4_end - Lmt_mp4
    .hword Lmt_mp4 - Lmime_names, 0
    .hword Lmx_webm - Lmime_names
    .byte  Lmx_webm_end - Lmx_webm, Lmt_webm_end - Lmt_webm
    .hword Lmt_webm - Lmime_names, 0
    .hword Lmx_ogv - Lmime_names
    .byte  Lmx_ogv_end - Lmx_ogv, Lmt_ogv_end - Lmt_ogv
    .hword Lmt_ogv - Lmime_names, 0
    .hword Lmx_mov - Lmime_names
    .byte  Lmx_mov_end - Lmx_mov, Lmt_mov_end - Lmt_mov
    .hword Lmt_mov - Lmime_names, 0
    .hword Lmx_mp3 - Lmime_names
    .byte  Lmx_mp3_end - Lmx_mp3, Lmt_mp3_end - Lmt_mp3
    .hword Lmt_mp3 - Lmime_names, 0
    .hword Lmx_ogg - Lmime_names
    .byte  Lmx_ogg_end - Lmx_ogg, Lmt_ogg_end - Lmt_ogg
    .hword Lmt_ogg - Lmime_names, 0
    .hword Lmx_oga - Lmime_names
    .byte  Lmx_oga_end - Lmx_oga, Lmt_oga_end - Lmt_oga
    .hword Lmt_oga - Lmime_names, 0
    .hword Lmx_wav - Lmime_names
    .byte  Lmx_wav_end - Lmx_wav, Lmt_wav_end - Lmt_wav
    .hword Lmt_wav - Lmime_names, 0
    .hword Lmx_flac - Lmime_names
    .byte  Lmx_flac_end - Lmx_flac, Lmt_flac_end - Lmt_flac
    .hword Lmt_flac - Lmime_names, 0
    .hword Lmx_m4a - Lmime_names
    .byte  Lmx_m4a_end - Lmx_m4a, Lmt_m4a_end - Lmt_m4a
    .hword Lmt_m4a - Lmime_names, 0
    .hword Lmx_aac - Lmime_names
    .byte  Lmx_aac_end - Lmx_aac, Lmt_aac_end - Lmt_aac
    .hword Lmt_aac - Lmime_names, 0
    .hword Lmx_opus - Lmime_names
    .byte  Lmx_opus_end - Lmx_opus, Lmt_opus_end - Lmt_opus
    .hword Lmt_opus - Lmime_names, 0
    .hword Lmx_pdf - Lmime_names
    .byte  Lmx_pdf_end - Lmx_pdf, Lmt_pdf_end - Lmt_pdf
    .hword Lmt_pdf - Lmime_names, 0
    .hword Lmx_zip - Lmime_names
    .byte  Lmx_zip_end - Lmx_zip, Lmt_zip_end - Lmt_zip
    .hword Lmt_zip - Lmime_names, 0
    .hword Lmx_gz - Lmime_names
    .byte  Lmx_gz_end - Lmx_gz, Lmt_gz_end - Lmt_gz
    .hword Lmt_gz - Lmime_names, 0
    .hword Lmx_tar - Lmime_names
    .byte  Lmx_tar_end - Lmx_tar, Lmt_tar_end - Lmt_tar
    .hword Lmt_tar - Lmime_names, 0
    .hword Lmx_bz2 - Lmime_names
    .byte  Lmx_bz2_end - Lmx_bz2, Lmt_bz2_end - Lmt_bz2
    .hword Lmt_bz2 - Lmime_names, 0
    .hword Lmx_xz - Lmime_names
    .byte  Lmx_xz_end - Lmx_xz, Lmt_xz_end - Lmt_xz
    .hword Lmt_xz - Lmime_names, 0
    .hword Lmx_7z - Lmime_names
    .byte  Lmx_7z_end - Lmx_7z, Lmt_7z_end - Lmt_7z
    .hword Lmt_7z - Lmime_names, 0
    .hword Lmx_rtf - Lmime_names
    .byte  Lmx_rtf_end - Lmx_rtf, Lmt_rtf_end - Lmt_rtf
    .hword Lmt_rtf - Lmime_names, 0
    .hword Lmx_epub - Lmime_names
    .byte  Lmx_epub_end - Lmx_epub, Lmt_epub_end - Lmt_epub
    .hword Lmt_epub - Lmime_names, 0
    .hword Lmx_ics - Lmime_names
    .byte  Lmx_ics_end - Lmx_ics, Lmt_ics_end - Lmt_ics
    .hword Lmt_ics - Lmime_names, 0
    .hword Lmx_webmanifest - Lmime_names
    .byte  Lmx_webmanifest_end - Lmx_webmanifest, Lmt_webmanifest_end - Lmt_webmanifest
    .hword Lmt_webmanifest - Lmime_names, 0
    .hword Lmx_atom - Lmime_names
    .byte  Lmx_atom_end - Lmx_atom, Lmt_atom_end - Lmt_atom
    .hword Lmt_atom - Lmime_names, 0
    .hword Lmx_rss - Lmime_names
    .byte  Lmx_rss_end - Lmx_rss, Lmt_rss_end - Lmt_rss
    .hword Lmt_rss - Lmime_names, 0
    .hword Lmx_yaml - Lmime_names
    .byte  Lmx_yaml_end - Lmx_yaml, Lmt_yaml_end - Lmt_yaml
    .hword Lmt_yaml - Lmime_names, 0
    .hword Lmx_yml - Lmime_names
    .byte  Lmx_yml_end - Lmx_yml, Lmt_yml_end - Lmt_yml
    .hword Lmt_yml - Lmime_names, 0
    .hword Lmx_toml - Lmime_names
    .byte  Lmx_toml_end - Lmx_toml, Lmt_toml_end - Lmt_toml
    .hword Lmt_toml - Lmime_names, 0
    .hword Lmx_sh - Lmime_names
    .byte  Lmx_sh_end - Lmx_sh, Lmt_sh_end - Lmt_sh
    .hword Lmt_sh - Lmime_names, 0
    .hword Lmx_s - Lmime_names
    .byte  Lmx_s_end - Lmx_s, Lmt_s_end - Lmt_s
    .hword Lmt_s - Lmime_names, 0
    .hword 0, 0, 0, 0
Lmime_names:
Lmx_html: .ascii "html"
Lmx_html_end:
Lmt_html: .ascii "text/html; charset=utf-8"
Lmt_html_end:
Lmx_htm: .ascii "htm"
Lmx_htm_end:
Lmt_htm: .ascii "text/html; charset=utf-8"
Lmt_htm_end:
Lmx_css: .ascii "css"
Lmx_css_end:
Lmt_css: .ascii "text/css; charset=utf-8"
Lmt_css_end:
Lmx_js: .ascii "js"
Lmx_js_end:
Lmt_js: .ascii "text/javascript; charset=utf-8"
Lmt_js_end:
Lmx_mjs: .ascii "mjs"
Lmx_mjs_end:
Lmt_mjs: .ascii "text/javascript; charset=utf-8"
Lmt_mjs_end:
Lmx_json: .ascii "json"
Lmx_json_end:
Lmt_json: .ascii "application/json"
Lmt_json_end:
Lmx_map: .ascii "map"
Lmx_map_end:
Lmt_map: .ascii "application/json"
Lmt_map_end:
Lmx_xml: .ascii "xml"
Lmx_xml_end:
Lmt_xml: .ascii "application/xml"
Lmt_xml_end:
Lmx_txt: .ascii "txt"
Lmx_txt_end:
Lmt_txt: .ascii "text/plain; charset=utf-8"
Lmt_txt_end:
Lmx_md: .ascii "md"
Lmx_md_end:
Lmt_md: .ascii "text/markdown; charset=utf-8"
Lmt_md_end:
Lmx_csv: .ascii "csv"
Lmx_csv_end:
Lmt_csv: .ascii "text/csv; charset=utf-8"
Lmt_csv_end:
Lmx_wasm: .ascii "wasm"
Lmx_wasm_end:
Lmt_wasm: .ascii "application/wasm"
Lmt_wasm_end:
Lmx_svg: .ascii "svg"
Lmx_svg_end:
Lmt_svg: .ascii "image/svg+xml"
Lmt_svg_end:
Lmx_png: .ascii "png"
Lmx_png_end:
Lmt_png: .ascii "image/png"
Lmt_png_end:
Lmx_jpg: .ascii "jpg"
Lmx_jpg_end:
Lmt_jpg: .ascii "image/jpeg"
Lmt_jpg_end:
Lmx_jpeg: .ascii "jpeg"
Lmx_jpeg_end:
Lmt_jpeg: .ascii "image/jpeg"
Lmt_jpeg_end:
Lmx_gif: .ascii "gif"
Lmx_gif_end:
Lmt_gif: .ascii "image/gif"
Lmt_gif_end:
Lmx_webp: .ascii "webp"
Lmx_webp_end:
Lmt_webp: .ascii "image/webp"
Lmt_webp_end:
Lmx_avif: .ascii "avif"
Lmx_avif_end:
Lmt_avif: .ascii "image/avif"
Lmt_avif_end:
Lmx_ico: .ascii "ico"
Lmx_ico_end:
Lmt_ico: .ascii "image/vnd.microsoft.icon"
Lmt_ico_end:
Lmx_bmp: .ascii "bmp"
Lmx_bmp_end:
Lmt_bmp: .ascii "image/bmp"
Lmt_bmp_end:
Lmx_tif: .ascii "tif"
Lmx_tif_end:
Lmt_tif: .ascii "image/tiff"
Lmt_tif_end:
Lmx_tiff: .ascii "tiff"
Lmx_tiff_end:
Lmt_tiff: .ascii "image/tiff"
Lmt_tiff_end:
Lmx_woff: .ascii "woff"
Lmx_woff_end:
Lmt_woff: .ascii "font/woff"
Lmt_woff_end:
Lmx_woff2: .ascii "woff2"
Lmx_woff2_end:
Lmt_woff2: .ascii "font/woff2"
Lmt_woff2_end:
Lmx_ttf: .ascii "ttf"
Lmx_ttf_end:
Lmt_ttf: .ascii "font/ttf"
Lmt_ttf_end:
Lmx_otf: .ascii "otf"
Lmx_otf_end:
Lmt_otf: .ascii "font/otf"
Lmt_otf_end:
Lmx_eot: .ascii "eot"
Lmx_eot_end:
Lmt_eot: .ascii "application/vnd.ms-fontobject"
Lmt_eot_end:
Lmx_mp4: .ascii "mp4"
Lmx_mp4_end:
Lmt_mp4: .ascii "video/mp4"
Lmt_mp4_end:
Lmx_webm: .ascii "webm"
Lmx_webm_end:
Lmt_webm: .ascii "video/webm"
Lmt_webm_end:
Lmx_ogv: .ascii "ogv"
Lmx_ogv_end:
Lmt_ogv: .ascii "video/ogg"
Lmt_ogv_end:
Lmx_mov: .ascii "mov"
Lmx_mov_end:
Lmt_mov: .ascii "video/quicktime"
Lmt_mov_end:
Lmx_mp3: .ascii "mp3"
Lmx_mp3_end:
Lmt_mp3: .ascii "audio/mpeg"
Lmt_mp3_end:
Lmx_ogg: .ascii "ogg"
Lmx_ogg_end:
Lmt_ogg: .ascii "audio/ogg"
Lmt_ogg_end:
Lmx_oga: .ascii "oga"
Lmx_oga_end:
Lmt_oga: .ascii "audio/ogg"
Lmt_oga_end:
Lmx_wav: .ascii "wav"
Lmx_wav_end:
Lmt_wav: .ascii "audio/wav"
Lmt_wav_end:
Lmx_flac: .ascii "flac"
Lmx_flac_end:
Lmt_flac: .ascii "audio/flac"
Lmt_flac_end:
Lmx_m4a: .ascii "m4a"
Lmx_m4a_end:
Lmt_m4a: .ascii "audio/mp4"
Lmt_m4a_end:
Lmx_aac: .ascii "aac"
Lmx_aac_end:
Lmt_aac: .ascii "audio/aac"
Lmt_aac_end:
Lmx_opus: .ascii "opus"
Lmx_opus_end:
Lmt_opus: .ascii "audio/opus"
Lmt_opus_end:
Lmx_pdf: .ascii "pdf"
Lmx_pdf_end:
Lmt_pdf: .ascii "application/pdf"
Lmt_pdf_end:
Lmx_zip: .ascii "zip"
Lmx_zip_end:
Lmt_zip: .ascii "application/zip"
Lmt_zip_end:
Lmx_gz: .ascii "gz"
Lmx_gz_end:
Lmt_gz: .ascii "application/gzip"
Lmt_gz_end:
Lmx_tar: .ascii "tar"
Lmx_tar_end:
Lmt_tar: .ascii "application/x-tar"
Lmt_tar_end:
Lmx_bz2: .ascii "bz2"
Lmx_bz2_end:
Lmt_bz2: .ascii "application/x-bzip2"
Lmt_bz2_end:
Lmx_xz: .ascii "xz"
Lmx_xz_end:
Lmt_xz: .ascii "application/x-xz"
Lmt_xz_end:
Lmx_7z: .ascii "7z"
Lmx_7z_end:
Lmt_7z: .ascii "application/x-7z-compressed"
Lmt_7z_end:
Lmx_rtf: .ascii "rtf"
Lmx_rtf_end:
Lmt_rtf: .ascii "application/rtf"
Lmt_rtf_end:
Lmx_epub: .ascii "epub"
Lmx_epub_end:
Lmt_epub: .ascii "application/epub+zip"
Lmt_epub_end:
Lmx_ics: .ascii "ics"
Lmx_ics_end:
Lmt_ics: .ascii "text/calendar; charset=utf-8"
Lmt_ics_end:
Lmx_webmanifest: .ascii "webmanifest"
Lmx_webmanifest_end:
Lmt_webmanifest: .ascii "application/manifest+json"
Lmt_webmanifest_end:
Lmx_atom: .ascii "atom"
Lmx_atom_end:
Lmt_atom: .ascii "application/atom+xml"
Lmt_atom_end:
Lmx_rss: .ascii "rss"
Lmx_rss_end:
Lmt_rss: .ascii "application/rss+xml"
Lmt_rss_end:
Lmx_yaml: .ascii "yaml"
Lmx_yaml_end:
Lmt_yaml: .ascii "application/yaml"
Lmt_yaml_end:
Lmx_yml: .ascii "yml"
Lmx_yml_end:
Lmt_yml: .ascii "application/yaml"
Lmt_yml_end:
Lmx_toml: .ascii "toml"
Lmx_toml_end:
Lmt_toml: .ascii "application/toml"
Lmt_toml_end:
Lmx_sh: .ascii "sh"
Lmx_sh_end:
Lmt_sh: .ascii "application/x-sh"
Lmt_sh_end:
Lmx_s: .ascii "s"
Lmx_s_end:
Lmt_s: .ascii "text/plain; charset=utf-8"
Lmt_s_end:
// ===== 13. Texts ============================================================
// Read-only.  Each text is followed by its length, loaded with ldr.

t_listening:      .ascii "ymawky: listening on http://127.0.0.1:"
t_listening_end:
t_usage:          .ascii "usage: ymawky [port]   (port 1-65535, default 8080)\n"
t_usage_end:
t_startup_failed: .ascii "ymawky: cannot listen (socket, bind or listen failed)\n"
t_startup_failed_end:
t_http11:         .ascii "HTTP/1.1 "
t_http11_end:
t_http_slash:     .ascii "HTTP/"
t_http_slash_end:
t_http_scheme:    .ascii "http://"
t_http_scheme_end:
t_slash:          .ascii "/"
t_close:          .ascii "close"
t_close_end:
t_100_continue:   .ascii "100-continue"
t_100_continue_end:
t_head_sp:        .ascii "HEAD "
t_head_sp_end:
t_bytes_eq:       .ascii "bytes="
t_bytes_eq_end:
t_www:            .asciz "www"
t_index:          .ascii "index.html"
t_index_end:
t_temp_prefix:    .ascii ".ymawky-tmp-"
t_temp_prefix_end:
t_err_dir:        .ascii "err/"
t_err_dir_end:
t_err_ext:        .ascii ".html"
t_err_ext_end:
t_text_html:      .ascii "text/html; charset=utf-8"
t_text_html_end:
t_octet_stream:   .ascii "application/octet-stream"
t_octet_stream_end:
t_gmt:            .ascii " GMT"
t_gmt_end:
t_clf_zone:       .ascii " +0000]"
t_clf_zone_end:
t_log_dashes:     .ascii " - - "
t_log_dashes_end:
t_log_quote:      .ascii " \""
t_log_quote_end:
t_100:            .ascii "HTTP/1.1 100 Continue\r\n\r\n"
t_100_end:
t_part_start:     .ascii "\r\n--ymawky-byteranges\r\n"
t_part_start_end:
t_part_end:       .ascii "\r\n--ymawky-byteranges--\r\n"
t_part_end_end:
t_page_head:      .ascii "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
t_page_head_end:
t_page_mid:       .ascii "</title></head>\n<body><h1>"
t_page_mid_end:
t_page_foot:      .ascii "</h1><p>ymawky</p></body></html>\n"
t_page_foot_end:
t_list_head:      .ascii "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of "
t_list_head_end:
t_list_mid:       .ascii "</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em}"
                  .ascii "table{border-collapse:collapse}th,td{padding:.2em 1.5em .2em 0;text-align:left}"
                  .ascii "td.size{text-align:right}a{text-decoration:none}a:hover{text-decoration:underline}"
                  .ascii "</style></head>\n<body><h1>Index of "
t_list_mid_end:
t_list_table:     .ascii "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n"
t_list_table_end:
t_list_up:        .ascii "<tr><td><a href=\"../\">../</a></td><td class=\"size\">-</td><td></td></tr>\n"
t_list_up_end:
t_row_href:       .ascii "<tr><td><a href=\""
t_row_href_end:
t_row_text:       .ascii "\">"
t_row_text_end:
t_row_size:       .ascii "</a></td><td class=\"size\">"
t_row_size_end:
t_row_date:       .ascii "</td><td>"
t_row_date_end:
t_row_end:        .ascii "</td></tr>\n"
t_row_end_end:
t_list_end:       .ascii "</table>\n"
t_list_end_end:
t_list_more:      .ascii "<p>And "
t_list_more_end:
t_list_more_tail: .ascii " more entries, not listed.</p>\n"
t_list_more_tail_end:
t_list_foot:      .ascii "</body></html>\n"
t_list_foot_end:
t_last_chunk:     .ascii "0\r\n\r\n"
t_last_chunk_end:

// header lines
h_date:               .ascii "Date: "
h_date_end:
h_server:             .ascii "Server: ymawky\r\n"
h_server_end:
h_content_type:       .ascii "Content-Type: "
h_content_type_end:
h_content_length:     .ascii "Content-Length: "
h_content_length_end:
h_content_length_0:   .ascii "Content-Length: 0\r\n"
h_content_length_0_end:
h_content_range:      .ascii "Content-Range: bytes "
h_content_range_end:
h_content_range_star: .ascii "Content-Range: bytes */"
h_content_range_star_end:
h_last_modified:      .ascii "Last-Modified: "
h_last_modified_end:
h_etag:               .ascii "ETag: "
h_etag_end:
h_accept_ranges:      .ascii "Accept-Ranges: bytes\r\n"
h_accept_ranges_end:
h_location:           .ascii "Location: "
h_location_end:
h_allow:              .ascii "Allow: GET, HEAD, PUT, DELETE, OPTIONS\r\n"
h_allow_end:
h_retry_after:        .ascii "Retry-After: 1\r\n"
h_retry_after_end:
h_connection_close:   .ascii "Connection: close\r\n"
h_connection_close_end:
h_multipart:          .ascii "Content-Type: multipart/byteranges; boundary=ymawky-byteranges\r\n"
h_multipart_end:
h_chunked:            .ascii "Transfer-Encoding: chunked\r\n"
h_chunked_end:

.p2align 3
t_listening_len:      .quad t_listening_end - t_listening
t_usage_len:          .quad t_usage_end - t_usage
t_startup_failed_len: .quad t_startup_failed_end - t_startup_failed
t_http11_len:         .quad t_http11_end - t_http11
t_http_slash_len:     .quad t_http_slash_end - t_http_slash
t_http_scheme_len:    .quad t_http_scheme_end - t_http_scheme
t_close_len:          .quad t_close_end - t_close
t_100_continue_len:   .quad t_100_continue_end - t_100_continue
t_head_sp_len:        .quad t_head_sp_end - t_head_sp
t_bytes_eq_len:       .quad t_bytes_eq_end - t_bytes_eq
t_index_len:          .quad t_index_end - t_index
t_temp_prefix_len:    .quad t_temp_prefix_end - t_temp_prefix
t_err_dir_len:        .quad t_err_dir_end - t_err_dir
t_err_ext_len:        .quad t_err_ext_end - t_err_ext
t_text_html_len:      .quad t_text_html_end - t_text_html
t_octet_stream_len:   .quad t_octet_stream_end - t_octet_stream
t_gmt_len:            .quad t_gmt_end - t_gmt
t_clf_zone_len:       .quad t_clf_zone_end - t_clf_zone
t_log_dashes_len:     .quad t_log_dashes_end - t_log_dashes
t_log_quote_len:      .quad t_log_quote_end - t_log_quote
t_100_len:            .quad t_100_end - t_100
t_part_start_len:     .quad t_part_start_end - t_part_start
t_part_end_len:       .quad t_part_end_end - t_part_end
t_page_head_len:      .quad t_page_head_end - t_page_head
t_page_mid_len:       .quad t_page_mid_end - t_page_mid
t_page_foot_len:      .quad t_page_foot_end - t_page_foot
t_list_head_len:      .quad t_list_head_end - t_list_head
t_list_mid_len:       .quad t_list_mid_end - t_list_mid
t_list_table_len:     .quad t_list_table_end - t_list_table
t_list_up_len:        .quad t_list_up_end - t_list_up
t_row_href_len:       .quad t_row_href_end - t_row_href
t_row_text_len:       .quad t_row_text_end - t_row_text
t_row_size_len:       .quad t_row_size_end - t_row_size
t_row_date_len:       .quad t_row_date_end - t_row_date
t_row_end_len:        .quad t_row_end_end - t_row_end
t_list_end_len:       .quad t_list_end_end - t_list_end
t_list_more_len:      .quad t_list_more_end - t_list_more
t_list_more_tail_len: .quad t_list_more_tail_end - t_list_more_tail
t_list_foot_len:      .quad t_list_foot_end - t_list_foot
t_last_chunk_len:     .quad t_last_chunk_end - t_last_chunk
h_date_len:           .quad h_date_end - h_date
h_server_len:         .quad h_server_end - h_server
h_content_type_len:   .quad h_content_type_end - h_content_type
h_content_length_len: .quad h_content_length_end - h_content_length
h_content_length_0_len: .quad h_content_length_0_end - h_content_length_0
h_content_range_len:  .quad h_content_range_end - h_content_range
h_content_range_star_len: .quad h_content_range_star_end - h_content_range_star
h_last_modified_len:  .quad h_last_modified_end - h_last_modified
h_etag_len:           .quad h_etag_end - h_etag
h_accept_ranges_len:  .quad h_accept_ranges_end - h_accept_ranges
h_location_len:       .quad h_location_end - h_location
h_allow_len:          .quad h_allow_end - h_allow
h_retry_after_len:    .quad h_retry_after_end - h_retry_after
h_connection_close_len: .quad h_connection_close_end - h_connection_close
h_multipart_len:      .quad h_multipart_end - h_multipart
h_chunked_len:        .quad h_chunked_end - h_chunked

// ===== 14. Buffers ==========================================================
// Writable; a page boundary keeps them off the code's pages (no W+X page).
// Zero-filled: in the file they take no room.

.ifdef APPLE
.section __DATA,__data
.else
.p2align 14
.endif
data_start:
bss_start:
live_children: .zero 8                   // parent: children not yet reaped
served:        .zero 8                   // child: requests answered on this connection
in_len:        .zero 8                   // bytes in in_buf
dir_base:      .zero 8                   // getdirentries64's basep
range_size:    .zero 8                   // file size for a 416's Content-Range
etag_len:      .zero 8
lm_len:        .zero 8
part_type:     .zero 16                  // (pointer, length) of a multipart part's type
peer_len:      .zero 8
peer_addr:     .zero 16                  // struct sockaddr_in of the client
date_parts:    .zero 56                  // year, month, day, hour, minute, second, weekday
req:           .zero REQ_SIZE
range_list:    .zero 256                 // up to 16 (first, last) pairs
etag_buf:      .zero 48
lm_buf:        .zero 48
temp_name:     .zero 48
err_path:      .zero 32
err_page:      .zero 512
part_buf:      .zero 256
log_buf:       .zero 1024
hdr_buf:       .zero HDR_SIZE
path_buf:      .zero PATH_MAX + 32
stat_buf:      .zero STAT64_SIZE
in_buf:        .zero IN_SIZE + 16
io_buf:        .zero IO_SIZE
dir_buf:       .zero DIRBUF_SIZE
list_index:    .zero LIST_MAX * 4
list_pool:     .zero LIST_POOL
list_body:     .zero CHUNK_ROOM + LIST_BODY + 16   // room for a size line, the text, its CRLF
