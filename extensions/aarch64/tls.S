// Every local-exec TLS relocation type (AAELF64 TLSLE_*), most of which gcc never emits:
// ADD (HI12, LO12, LO12_NC), MOVZ/MOVK (G2, G1, G1_NC, G0, G0_NC) and LDST8..64 (checked
// and _NC; binutils 2.40 cannot write LDST128), at offsets past the TCB.
	.text
	.globl	tls_all
	.type	tls_all, %function
tls_all:
	mrs	x0, tpidr_el0
	add	x1, x0, #:tprel_hi12:var, lsl #12
	add	x1, x1, #:tprel_lo12:var
	add	x1, x1, #:tprel_lo12_nc:var+8
	movz	x2, #:tprel_g2:var
	movk	x2, #:tprel_g1_nc:var
	movk	x2, #:tprel_g0_nc:var
	movz	x3, #:tprel_g1:var
	movz	x3, #:tprel_g0:var
	ldrb	w4, [x0, #:tprel_lo12:var]
	ldrb	w4, [x0, #:tprel_lo12_nc:var+1]
	ldrh	w4, [x0, #:tprel_lo12:var]
	ldrh	w4, [x0, #:tprel_lo12_nc:var+2]
	ldr	w4, [x0, #:tprel_lo12:var]
	ldr	w4, [x0, #:tprel_lo12_nc:var+4]
	ldr	x4, [x0, #:tprel_lo12:var]
	ldr	x4, [x0, #:tprel_lo12_nc:var+8]
	add	x5, x0, #:tprel_lo12_nc:first
	ret
	.size	tls_all, .-tls_all

	.section .tdata,"awT",%progbits
	.p2align 4
first:	.quad	1, 2
	.section .tbss,"awT",%nobits
	.p2align 4
var:	.zero	48
