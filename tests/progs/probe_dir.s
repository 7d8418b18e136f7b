// A syscall-only arm64 macOS program in Apple's dialect, built outside the
// emulator: clang -target arm64-apple-macos11 -c + ld64.lld-14 -e _main.
// It lists the working directory with getdirentries64 (one line per record:
// name, d_type, d_namlen, d_reclen), stat64s every regular file it lists
// (size, mode in octal), prints *basep and the EOF flag word of each call,
// then copies data.txt to copy.txt with read/write and fstat64s the copy.
// Darwin numbers only; output on fd 1; exit 0, or 1 on the first failure.
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 2

// x19 = directory fd, x20 = bytes in dirbuf, x21 = record offset,
// x22 = source fd, x23 = copy fd, x24 = bytes copied
_main:
    stp     x29, x30, [sp, #-96]!
    mov     x29, sp
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    adrp    x0, dot@PAGE
    add     x0, x0, dot@PAGEOFF
    mov     x1, #0x100000               // O_RDONLY | O_DIRECTORY
    mov     x2, #0
    mov     x16, #5                     // SYS_open
    svc     #0x80
    b.cs    fail
    mov     x19, x0
list_more:
    mov     x0, x19
    adrp    x1, dirbuf@PAGE
    add     x1, x1, dirbuf@PAGEOFF
    mov     x2, #4096
    adrp    x3, basep@PAGE
    add     x3, x3, basep@PAGEOFF
    mov     x16, #344                   // SYS_getdirentries64
    svc     #0x80
    b.cs    fail
    mov     x20, x0
    // "call base <basep> eof <flag word> bytes <n>"
    adrp    x0, s_call@PAGE
    add     x0, x0, s_call@PAGEOFF
    bl      puts
    adrp    x9, basep@PAGE
    add     x9, x9, basep@PAGEOFF
    ldr     x0, [x9]
    bl      putdec
    adrp    x0, s_eof@PAGE
    add     x0, x0, s_eof@PAGEOFF
    bl      puts
    adrp    x9, dirbuf@PAGE
    add     x9, x9, dirbuf@PAGEOFF
    add     x9, x9, #4092
    ldr     w0, [x9]
    bl      putdec
    adrp    x0, s_bytes@PAGE
    add     x0, x0, s_bytes@PAGEOFF
    bl      puts
    mov     x0, x20
    bl      putdec
    bl      newline
    cbz     x20, list_done
    mov     x21, #0
record_loop:
    cmp     x21, x20
    b.hs    list_more
    adrp    x9, dirbuf@PAGE
    add     x9, x9, dirbuf@PAGEOFF
    add     x22, x9, x21                // x22 = this record (reused before the copy)
    adrp    x0, s_ent@PAGE
    add     x0, x0, s_ent@PAGEOFF
    bl      puts
    add     x0, x22, #21                // d_name
    bl      puts
    adrp    x0, s_type@PAGE
    add     x0, x0, s_type@PAGEOFF
    bl      puts
    ldrb    w0, [x22, #20]              // d_type
    bl      putdec
    adrp    x0, s_namlen@PAGE
    add     x0, x0, s_namlen@PAGEOFF
    bl      puts
    ldrh    w0, [x22, #18]              // d_namlen
    bl      putdec
    adrp    x0, s_reclen@PAGE
    add     x0, x0, s_reclen@PAGEOFF
    bl      puts
    ldrh    w0, [x22, #16]              // d_reclen
    bl      putdec
    bl      newline
    ldrb    w9, [x22, #20]
    cmp     w9, #8                      // DT_REG: stat64 it
    b.ne    record_next
    add     x0, x22, #21
    adrp    x1, st@PAGE
    add     x1, x1, st@PAGEOFF
    mov     x16, #338                   // SYS_stat64
    svc     #0x80
    b.cs    fail
    adrp    x0, s_stat@PAGE
    add     x0, x0, s_stat@PAGEOFF
    bl      puts
    add     x0, x22, #21
    bl      puts
    adrp    x0, s_size@PAGE
    add     x0, x0, s_size@PAGEOFF
    bl      puts
    adrp    x9, st@PAGE
    add     x9, x9, st@PAGEOFF
    ldr     x0, [x9, #96]               // st_size
    bl      putdec
    adrp    x0, s_mode@PAGE
    add     x0, x0, s_mode@PAGEOFF
    bl      puts
    adrp    x9, st@PAGE
    add     x9, x9, st@PAGEOFF
    ldrh    w0, [x9, #4]                // st_mode
    bl      putoct
    bl      newline
record_next:
    ldrh    w9, [x22, #16]
    add     x21, x21, x9
    b       record_loop
list_done:
    mov     x0, x19
    mov     x16, #6                     // SYS_close
    svc     #0x80
    // copy data.txt -> copy.txt
    adrp    x0, src@PAGE
    add     x0, x0, src@PAGEOFF
    mov     x1, #0                      // O_RDONLY
    mov     x2, #0
    mov     x16, #5
    svc     #0x80
    b.cs    fail
    mov     x22, x0
    adrp    x0, dst@PAGE
    add     x0, x0, dst@PAGEOFF
    mov     x1, #0x601                  // O_WRONLY | O_CREAT | O_TRUNC
    mov     x2, #420                    // 0644
    mov     x16, #5
    svc     #0x80
    b.cs    fail
    mov     x23, x0
    mov     x24, #0
copy_loop:
    mov     x0, x22
    adrp    x1, iobuf@PAGE
    add     x1, x1, iobuf@PAGEOFF
    mov     x2, #1000                   // not a divisor of the file size, on purpose
    mov     x16, #3                     // SYS_read
    svc     #0x80
    b.cs    fail
    cbz     x0, copy_done
    mov     x2, x0
    add     x24, x24, x0
    mov     x0, x23
    adrp    x1, iobuf@PAGE
    add     x1, x1, iobuf@PAGEOFF
    mov     x16, #4                     // SYS_write
    svc     #0x80
    b.cs    fail
    b       copy_loop
copy_done:
    mov     x0, x23
    adrp    x1, st@PAGE
    add     x1, x1, st@PAGEOFF
    mov     x16, #339                   // SYS_fstat64
    svc     #0x80
    b.cs    fail
    adrp    x0, s_copied@PAGE
    add     x0, x0, s_copied@PAGEOFF
    bl      puts
    mov     x0, x24
    bl      putdec
    adrp    x0, s_size@PAGE
    add     x0, x0, s_size@PAGEOFF
    bl      puts
    adrp    x9, st@PAGE
    add     x9, x9, st@PAGEOFF
    ldr     x0, [x9, #96]
    bl      putdec
    bl      newline
    mov     x0, #0
    mov     x16, #1                     // SYS_exit
    svc     #0x80
fail:
    mov     x0, #1
    mov     x16, #1
    svc     #0x80

// puts: write the NUL-terminated string at x0 to fd 1.  clobbers x0-x2, x9, x16
puts:
    mov     x1, x0
    mov     x2, #0
puts_len:
    ldrb    w9, [x1, x2]
    cbz     w9, puts_write
    add     x2, x2, #1
    b       puts_len
puts_write:
    mov     x0, #1
    mov     x16, #4
    svc     #0x80
    ret

// newline: write "\n" to fd 1.  clobbers x0-x2, x16
newline:
    mov     x0, #1
    adrp    x1, s_nl@PAGE
    add     x1, x1, s_nl@PAGEOFF
    mov     x2, #1
    mov     x16, #4
    svc     #0x80
    ret

// putdec / putoct: x0 in base 10 / 8 to fd 1.  clobbers x0-x2, x9-x12, x16
putdec:
    mov     x10, #10
    b       putnum
putoct:
    mov     x10, #8
putnum:
    adrp    x11, numend@PAGE
    add     x11, x11, numend@PAGEOFF
    mov     x1, x11
putnum_loop:
    udiv    x12, x0, x10
    msub    x9, x12, x10, x0
    add     x9, x9, #48
    sub     x1, x1, #1
    strb    w9, [x1]
    mov     x0, x12
    cbnz    x0, putnum_loop
    sub     x2, x11, x1
    mov     x0, #1
    mov     x16, #4
    svc     #0x80
    ret

.section __TEXT,__cstring,cstring_literals
dot:      .asciz "."
src:      .asciz "data.txt"
dst:      .asciz "copy.txt"
s_call:   .asciz "call base "
s_eof:    .asciz " eof "
s_bytes:  .asciz " bytes "
s_ent:    .asciz "entry "
s_type:   .asciz " type "
s_namlen: .asciz " namlen "
s_reclen: .asciz " reclen "
s_stat:   .asciz "stat "
s_size:   .asciz " size "
s_mode:   .asciz " mode "
s_copied: .asciz "copied "
s_nl:     .asciz "\n"

.section __DATA,__data
.p2align 3
basep:    .quad 0x5555
numbuf:   .space 24
numend:   .byte 0
.zerofill __DATA,__bss,dirbuf,4096,4
.zerofill __DATA,__bss,st,144,3
.zerofill __DATA,__bss,iobuf,1024,3
