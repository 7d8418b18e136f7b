// An x86_64 macOS program (exit(3) by syscall): input the arm64 loader must refuse.
.globl _main
_main:
    movl $0x2000001, %eax
    movl $3, %edi
    syscall
