/* ARMv6-M execute-only code: an address built byte by byte (THM_ALU_ABS_G3..G0_NC, with
 * addends), calls and short branches between sections. */
	.syntax unified
	.cpu	cortex-m0plus
	.thumb
	.section .text.v6m, "ax", %progbits
	.global	v6m_func
	.type	v6m_func, %function
	.thumb_func
v6m_func:
	movs	r0, #:upper8_15:#table + 0x7f
	lsls	r0, r0, #8
	adds	r0, #:upper0_7:#table + 0x7f
	lsls	r0, r0, #8
	adds	r0, #:lower8_15:#table + 0x7f
	lsls	r0, r0, #8
	adds	r0, #:lower0_7:#table + 0x7f
	movs	r1, #:lower0_7:#ext_func
	movs	r1, #:upper8_15:#ext_func
	bl	ext_func		@ THM_CALL
	bl	v6m_helper		@ THM_CALL
	b.n	v6m_helper		@ THM_JUMP11
	bne.n	v6m_helper		@ THM_JUMP8

	.section .text.helper, "ax", %progbits
	.type	v6m_helper, %function
	.thumb_func
v6m_helper:
	bx	lr

	.section .rodata
	.global	table
table:
	.word	v6m_func		@ ABS32 of a Thumb function
	.word	ext_func
