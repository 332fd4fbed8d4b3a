// Every AArch64 relocation type elfext links that a C compiler does not emit on its own,
// each against a local label and an external symbol where the type allows both.
// Built with `aarch64-linux-gnu-gcc -c`; checked byte for byte against GNU ld.

        .text
        .globl  relocs_entry
        .type   relocs_entry, %function
        .p2align 2
relocs_entry:
        // Calls and tail calls, near (local) and external (host exports).
        bl      local_fn
        bl      host_add
        b       local_fn
        b       host_print
        // Conditional and test-and-branch, to local labels.
        b.eq    local_fn
        cbz     x0, near_label
        cbnz    w1, local_fn
        tbz     x2, #63, near_label
        tbnz    w3, #5, local_fn
        // Literal loads and ADR, to local data.
        ldr     x4, literal
        ldr     w5, literal + 4
        ldr     q6, literal
        prfm    pldl1keep, literal
        adr     x7, literal
        adr     x8, near_label
        // Page + low 12 bits, every access size.
        adrp    x9, bytes
        add     x9, x9, :lo12:bytes
        ldrb    w10, [x9, :lo12:bytes + 1]
        ldrh    w10, [x9, :lo12:halves + 2]
        ldr     w10, [x9, :lo12:words + 4]
        ldr     x10, [x9, :lo12:doubles + 8]
        ldr     q10, [x9, :lo12:quads + 16]
        adrp    x11, host_counter
        ldr     w11, [x11, :lo12:host_counter]
        adrp    x12, :pg_hi21_nc:bytes
        // GOT loads, all of one symbol: GNU ld orders the slots of several symbols its own
        // way, so only a single slot is comparable byte for byte.
        adrp    x13, :got:host_limit
        ldr     x13, [x13, :got_lo12:host_limit]
        adrp    x14, :got:host_limit
        ldr     x14, [x14, :got_lo12:host_limit]
        // Unsigned absolute moves, checked and not.
        movz    x15, #:abs_g0:small_abs
        movz    x15, #:abs_g1:host_add
        movk    x15, #:abs_g0_nc:host_add
        movz    x16, #:abs_g2:doubles
        movk    x16, #:abs_g1_nc:doubles
        movk    x16, #:abs_g0_nc:doubles
        movz    x17, #:abs_g3:doubles
        movk    x17, #:abs_g2_nc:doubles
        movk    x17, #:abs_g1_nc:doubles
        movk    x17, #:abs_g0_nc:doubles
        // Signed absolute moves: positive and negative values (MOVZ or MOVN).
        movz    x18, #:abs_g0_s:small_abs
        movz    x18, #:abs_g0_s:neg_abs
        movz    x19, #:abs_g1_s:host_add
        movz    x19, #:abs_g1_s:neg_big
        movz    x20, #:abs_g2_s:doubles
        movz    x20, #:abs_g2_s:neg_big
        // PC-relative moves, forward and backward.
        movz    x21, #:prel_g0:literal
        movz    x21, #:prel_g0:relocs_entry
        movk    x21, #:prel_g0_nc:literal
        movz    x22, #:prel_g1:host_add
        movz    x22, #:prel_g1:relocs_entry
        movk    x22, #:prel_g1_nc:host_add
        movz    x23, #:prel_g2:host_add
        movz    x23, #:prel_g2:relocs_entry
        movk    x23, #:prel_g2_nc:host_add
        movz    x24, #:prel_g3:host_add
        movz    x24, #:prel_g3:relocs_entry
        ret
        .size   relocs_entry, . - relocs_entry

        // Targets in sections of their own, so that the assembler leaves relocations.
        .section .text.targets, "ax", %progbits
        .globl  local_fn, near_label
        .type   local_fn, %function
local_fn:
        ret
        .size   local_fn, . - local_fn
near_label:
        nop

        .section .rodata
        .p2align 4
        .globl  literal
literal:
        .quad   0x1122334455667788, 0

        .data
        .p2align 4
bytes:  .byte   1, 2, 3, 4
        .p2align 4
halves: .hword  1, 2, 3, 4
        .p2align 4
words:  .word   1, 2, 3, 4
        .p2align 4
doubles: .quad  1, 2, 3, 4
        .p2align 4
quads:  .quad   1, 2, 3, 4, 5, 6
        // Absolute and PC-relative data of every width.
abs64:  .quad   host_add, doubles + 8
abs32:  .word   local_small, small_abs
abs16:  .hword  small_abs, small_abs + 0x8000
        .p2align 3
prel64: .quad   host_add - ., relocs_entry - .
prel32: .word   host_add - ., relocs_entry - ., literal + 8 - .
prel16: .hword  literal - ., near_label - .

        .globl  bytes, halves, words, doubles, quads
        .globl  small_abs, neg_abs, neg_big, local_small
        .set    small_abs, 0x1234
        .set    neg_abs, -0x1234
        .set    neg_big, -0x12345678
        .set    local_small, 0x7fff0000
