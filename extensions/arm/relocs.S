/* ARM relocation oracle: every type elfext supports that compilers rarely emit, in one
 * ARMv7-A object mixing Thumb and A32 code in separate sections so that every branch
 * between them is a relocation: Thumb BL/BLX/B.W/B<c>.W/B.N/B<c>.N, A32 BL/BLX/B/B<c> and a
 * legacy PC24 BL, MOVW/MOVT absolute and PC-relative in both instruction sets, and data:
 * ABS32, REL32, TARGET1, TARGET2, PREL31. */
	.syntax unified
	.arch	armv7-a

	.section .text.thumb, "ax", %progbits
	.thumb
	.global	thumb_func
	.type	thumb_func, %function
	.thumb_func
thumb_func:
	bl	arm_func		@ THM_CALL to A32 code: BLX
	bl	thumb_near		@ THM_CALL to Thumb code: BL
	blx	arm_func		@ THM_CALL, BLX form
	bl	ext_func		@ THM_CALL to the host
	nop
	bl	arm_func		@ again, at an address 2 mod 4
	b.w	thumb_near		@ THM_JUMP24
	beq.w	thumb_near		@ THM_JUMP19
	bne.w	thumb_near + 8		@ THM_JUMP19 with an addend
	b.n	thumb_near		@ THM_JUMP11
	beq.n	thumb_near		@ THM_JUMP8
	bgt.n	thumb_near + 4		@ THM_JUMP8 with an addend
	movw	r0, #:lower16:data_word		@ THM_MOVW_ABS_NC
	movt	r0, #:upper16:data_word		@ THM_MOVT_ABS
	movw	r1, #:lower16:data_word + 0x1234
	movt	r1, #:upper16:data_word + 0x1234
	movw	r2, #:lower16:(data_word - .)	@ THM_MOVW_PREL_NC
	movt	r2, #:upper16:(data_word - .)	@ THM_MOVT_PREL
	movw	r3, #:lower16:arm_func		@ an A32 function's address
	movt	r3, #:upper16:arm_func
	movw	r3, #:lower16:thumb_near	@ a Thumb function's address (odd)
	movt	r3, #:upper16:thumb_near
	bx	lr

	.section .text.near, "ax", %progbits
	.thumb
	.global	thumb_near
	.type	thumb_near, %function
	.thumb_func
thumb_near:
	nop
	nop
	nop
	bl	thumb_func
	bx	lr

	.section .text.arm, "ax", %progbits
	.arm
	.global	arm_func
	.type	arm_func, %function
arm_func:
	bl	thumb_func		@ CALL to Thumb code: BLX with H clear
	bl	thumb_near		@ CALL to Thumb code at 2 mod 4: BLX with H set
	blx	arm_far			@ CALL, BLX form, to A32 code: BL
	bl	arm_far			@ CALL to A32 code
	bl	ext_func		@ CALL to the host
	b	arm_far			@ JUMP24
	beq	arm_far			@ JUMP24, conditional
	.reloc	., R_ARM_PC24, arm_far	@ legacy PC24 on a BL
	.word	0xebfffffe
	.reloc	., R_ARM_PC24, arm_far	@ legacy PC24 on a conditional B
	.word	0x1afffffe
	movw	r0, #:lower16:data_word		@ MOVW_ABS_NC
	movt	r0, #:upper16:data_word		@ MOVT_ABS
	movw	r1, #:lower16:data_word - 0x10
	movt	r1, #:upper16:data_word - 0x10
	movw	r2, #:lower16:(data_word - .)	@ MOVW_PREL_NC
	movt	r2, #:upper16:(data_word - .)	@ MOVT_PREL
	movw	r3, #:lower16:thumb_func
	movt	r3, #:upper16:thumb_func
	bx	lr

	.section .text.far, "ax", %progbits
	.arm
	.global	arm_far
	.type	arm_far, %function
arm_far:
	mov	r0, #1
	bx	lr

	.data
	.global	data_word
data_word:
	.word	0
	.word	thumb_func		@ ABS32 of a Thumb function: odd
	.word	arm_func + 8		@ ABS32 with an addend
	.word	ext_data		@ ABS32 of a host symbol
	.word	arm_func - .		@ REL32
	.word	thumb_near - . + 4	@ REL32 with an addend
	.word	thumb_func(target1)	@ TARGET1
	.word	arm_func(target2)	@ TARGET2
	.word	ext_data(target2)
	.reloc	., R_ARM_PREL31, arm_far	@ PREL31
	.word	0
	.reloc	., R_ARM_PREL31, thumb_near	@ PREL31 keeps bit 31; addend -8
	.word	0xfffffff8
