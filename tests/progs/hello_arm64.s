// A syscall-only arm64 macOS program in Apple's dialect, for the loader and
// signature tests: clang -target arm64-apple-macos11 + ld64.lld-14, no libSystem.
// write(1, msg, msg_len) with msg in __DATA, then exit with the status stored
// in __DATA (42).  adrp/add @PAGE/@PAGEOFF and a zero-fill __bss on purpose.
.section __TEXT,__text,regular,pure_instructions
.globl _main
.p2align 2
_main:
    mov     x0, #1
    adrp    x1, msg@PAGE
    add     x1, x1, msg@PAGEOFF
    adrp    x9, msg_len@PAGE
    add     x9, x9, msg_len@PAGEOFF
    ldr     x2, [x9]
    mov     x16, #4                     // SYS_write
    svc     #0x80
    adrp    x9, status@PAGE
    add     x9, x9, status@PAGEOFF
    ldr     w0, [x9]
    mov     x16, #1                     // SYS_exit
    svc     #0x80

.section __DATA,__data
msg:
    .ascii  "hello from ld64.lld\n"
msg_end:
.p2align 3
msg_len:
    .quad   msg_end - msg
status:
    .long   42
.zerofill __DATA,__bss,scratch,4096,3
