/* A short Thumb branch (B.N, R_ARM_THM_JUMP11: ±2 KiB) to a host function far away: out of
 * reach, with no veneer for so short a branch. */
	.syntax unified
	.thumb
	.text
	.global	jump_far
	.type	jump_far, %function
	.thumb_func
jump_far:
	b.n	far_func
