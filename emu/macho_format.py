"""The Mach-O format's numbers, once, for the writer (emu/macho.py) and the loader (emu/loader.py).

From xnu's EXTERNAL_HEADERS/mach-o/loader.h and fat.h, mach/machine.h,
mach/vm_prot.h, mach-o/nlist.h, and osfmk/kern/cs_blobs.h (code signatures).
"""

from __future__ import annotations

MH_MAGIC, MH_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF
FAT_MAGIC, FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF
CPU_TYPE_ARM64 = 0x0100000C
CPU_SUBTYPE_ARM64_ALL = 0
MH_EXECUTE = 2
MH_NOUNDEFS, MH_DYLDLINK, MH_TWOLEVEL, MH_PIE = 0x1, 0x4, 0x80, 0x200000

LC_SEGMENT_64 = 0x19
LC_UNIXTHREAD = 0x5
LC_SYMTAB = 0x2
LC_DYSYMTAB = 0xB
LC_LOAD_DYLIB = 0xC
LC_LOAD_DYLINKER = 0xE
LC_UUID = 0x1B
LC_CODE_SIGNATURE = 0x1D
LC_SOURCE_VERSION = 0x2A
LC_BUILD_VERSION = 0x32
LC_DYLD_INFO_ONLY = 0x80000022
LC_MAIN = 0x80000028

VM_PROT_READ, VM_PROT_WRITE, VM_PROT_EXECUTE = 1, 2, 4
S_REGULAR, S_ZEROFILL = 0x0, 0x1
S_ATTR_PURE_INSTRUCTIONS, S_ATTR_SOME_INSTRUCTIONS = 0x80000000, 0x400
S_ATTR_DEBUG = 0x02000000  # a debug section: not part of the program
SEG_DWARF = "__DWARF"  # the segment of the debug sections (__debug_line ...), as in a dSYM
N_SECT, N_EXT = 0xE, 0x1
N_STAB, N_TYPE = 0xE0, 0x0E  # n_type masks: a debugger entry; the symbol's kind (N_SECT ...)
REFERENCED_DYNAMICALLY = 0x10
PLATFORM_MACOS = 1
TOOL_LD = 3

ARM_THREAD_STATE64, ARM_THREAD_STATE64_COUNT = 6, 68

# code signatures (osfmk/kern/cs_blobs.h)
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSSLOT_CODEDIRECTORY = 0
CS_SUPPORTSEXECSEG = 0x20400
CS_ADHOC, CS_LINKER_SIGNED = 0x2, 0x20000
CS_HASHTYPE_SHA256 = 2
CS_EXECSEG_MAIN_BINARY = 0x1
CS_PAGE_SHIFT = 12  # 4 KiB hash pages, even on 16 KiB VM pages
CS_HASH_SIZE = 32
