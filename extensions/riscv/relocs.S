/* Every RISC-V relocation type that compilers do not emit on their own, for RV32 and RV64
 * (GNU ld is the oracle). Host symbols: ext_data, ext_func. Linker relaxation is on, so
 * label differences across code are left to the linker (ADD/SUB pairs) and calls carry
 * R_RISCV_RELAX. */
	.option	relax

	.text
	.globl	entry
entry:
	lui	t0, %hi(ext_data)		/* HI20 */
	addi	a0, t0, %lo(ext_data)		/* LO12_I */
	sw	a1, %lo(ext_data)(t0)		/* LO12_S */
.Lpc:	auipc	t1, %pcrel_hi(local_data)	/* PCREL_HI20 */
	addi	a1, a1, 1
	lw	a2, %pcrel_lo(.Lpc)(t1)		/* PCREL_LO12_I, not next to its HI20 */
	addi	a1, a1, 2
	sw	a2, %pcrel_lo(.Lpc)(t1)		/* PCREL_LO12_S */
	.option	push
	.option	pic
	la	a3, ext_data			/* GOT_HI20 + PCREL_LO12_I */
	.option	pop
	call	ext_func			/* CALL_PLT */
	.reloc	., R_RISCV_CALL, ext_func	/* CALL */
	auipc	ra, 0
	jalr	ra, 0(ra)
	.option	push
	.option	norvc				/* no c.jal / c.j: keep JAL */
	jal	ra, near_func			/* JAL */
	j	near_func			/* JAL, rd = x0 */
	.option	pop
	beq	a0, a1, near_func		/* BRANCH */
	c.beqz	a0, near_func			/* RVC_BRANCH */
	c.bnez	a0, near_func			/* RVC_BRANCH */
	c.j	near_func			/* RVC_JUMP */
	c.nop
	c.nop
	.balign	8				/* ALIGN: 6 bytes of padding, all needed */
	.globl	aligned
aligned:
	ret
near_func:				/* in reach, in this section: gas keeps the relocations */
	ret
.Lend:

	.data
	.balign	8
local_data:
	.word	7
	.word	ext_data			/* 32 */
#if __riscv_xlen == 64
	.dword	ext_data			/* 64 */
#endif
	.reloc	., R_RISCV_32_PCREL, ext_data+8	/* 32_PCREL (gas writes ADD32/SUB32 for x - .) */
	.word	0
	.byte	.Lend - entry			/* ADD8 / SUB8 */
	.2byte	.Lend - entry			/* ADD16 / SUB16 */
	.4byte	.Lend - entry			/* ADD32 / SUB32 */
	.8byte	.Lend - entry			/* ADD64 / SUB64 */
	.reloc	., R_RISCV_SET6, .Lend		/* SET6 / SUB6, as DWARF uses them */
	.reloc	., R_RISCV_SUB6, entry
	.byte	0xc0
	.reloc	., R_RISCV_SET8, .Lend		/* SET8 */
	.byte	0
	.reloc	., R_RISCV_SET16, .Lend		/* SET16 */
	.2byte	0
	.reloc	., R_RISCV_SET32, .Lend		/* SET32 */
	.4byte	0
