/* Calls and tail jumps to host functions out of reach (Thumb ±16 MiB, A32 ±32 MiB): each
 * goes through a veneer, from Thumb code to its Thumb entry, from A32 code to its A32 one. */
	.syntax unified
	.arch	armv7-a

	.section .text.thumb, "ax", %progbits
	.thumb
	.global	thumb_calls
	.type	thumb_calls, %function
	.thumb_func
thumb_calls:
	bl	far_thumb		@ THM_CALL
	b.w	far_thumb		@ THM_JUMP24
	bl	far_arm			@ THM_CALL to A32 code, through the veneer

	.section .text.arm, "ax", %progbits
	.arm
	.global	arm_calls
	.type	arm_calls, %function
arm_calls:
	bl	far_arm			@ CALL
	b	far_arm			@ JUMP24
	bl	far_thumb		@ CALL to Thumb code, through the veneer
