/* A conditional branch to a label 8 KiB away (beyond ±4 KiB): a range error naming
 * R_RISCV_BRANCH, .text and offset 0. (gas would rewrite a plain `beq` as `bne; j`.) */
	.text
	.globl	go
go:
	.reloc	., R_RISCV_BRANCH, far
	.4byte	0x00b50063			/* beq a0, a1, far */
	ret
	.skip	8192
far:
	ret
