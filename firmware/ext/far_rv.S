/*
 * Far calls on RV32: `jal` reaches ±1 MiB, and the extension heap sits 8 MiB above the
 * firmware's code, so the call and the tail jump below reach `host_add` through veneers
 * elfext builds. (Compiled C calls use auipc+jalr and reach ±2 GiB without one.)
 */
	.option	norvc
	.text

/* int far_call(int a, int b): host_add(a, b) + 1 through a `jal`. */
	.globl	far_call
	.type	far_call, @function
far_call:
	addi	sp, sp, -16
	sw	ra, 12(sp)
	jal	ra, host_add
	addi	a0, a0, 1
	lw	ra, 12(sp)
	addi	sp, sp, 16
	ret

/* int far_tail(int a, int b): host_add(a, 2 * b) through a tail `j`. */
	.globl	far_tail
	.type	far_tail, @function
far_tail:
	slli	a1, a1, 1
	j	host_add
