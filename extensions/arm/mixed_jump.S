/* A Thumb tail jump (B.W, R_ARM_THM_JUMP24) to A32 code in the same extension: a B.W cannot
 * change instruction set and the target, placed with the caller, has no veneer. */
	.syntax unified
	.arch	armv7-a
	.section .text.thumb, "ax", %progbits
	.thumb
	.global	jump_to_arm
	.type	jump_to_arm, %function
	.thumb_func
jump_to_arm:
	b.w	arm_code

	.section .text.arm, "ax", %progbits
	.arm
	.type	arm_code, %function
arm_code:
	bx	lr
