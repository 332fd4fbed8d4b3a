/* Relocation types GNU as 2.40 cannot write and GNU ld 2.40 cannot apply: the test retypes
 * the placeholders after assembling (32_PCREL -> PLT32, SET8 -> SET_ULEB128,
 * SUB8 -> SUB_ULEB128) and checks the values it computes itself. */
	.option	relax
	.text
	.globl	start
start:
	addi	a0, a0, 1
	call	ext_func
.Lend:
	ret

	.data
	.globl	table
table:
	.reloc	., R_RISCV_32_PCREL, ext_func	/* becomes PLT32 */
	.word	0
	.reloc	., R_RISCV_SET8, .Lend		/* becomes SET_ULEB128 */
	.reloc	., R_RISCV_SUB8, start		/* becomes SUB_ULEB128 */
	.byte	0x80, 0x80, 0x00		/* a 3-byte ULEB128 field */
