/* ARMv4T: GNU as marks every `bx` with R_ARM_V4BX so that a linker may rewrite it for
 * ARMv4 (`--fix-v4bx`); without that option the instruction stays as it is. */
	.syntax unified
	.arch	armv4t
	.arm
	.text
	.global	ret_via_bx
	.type	ret_via_bx, %function
ret_via_bx:
	mov	r0, #7
	bl	helper
	bx	lr
	.type	helper, %function
	.section .text.helper, "ax", %progbits
helper:
	add	r0, r0, #1
	bxne	r1
	bx	lr
