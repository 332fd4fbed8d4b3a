/* ARM GOT-relative data, with one GOT slot (GNU ld orders several by its own hash table):
 * the host symbol's slot relative to the place (GOT_PREL) and to the GOT (GOT_BREL), a
 * symbol relative to the GOT (GOTOFF32), and the GOT relative to the place (BASE_PREL),
 * read from code through a literal pool as compilers do. */
	.syntax unified
	.thumb
	.text
	.global	got_user
	.type	got_user, %function
	.thumb_func
got_user:
	ldr	r0, 1f
	ldr	r1, 2f
0:	add	r1, pc
	ldr	r0, [r1, r0]
	ldr	r0, [r0]
	bx	lr
	.p2align 2
1:	.word	ext_data(GOT)
2:	.word	_GLOBAL_OFFSET_TABLE_ - (0b + 4)

	.data
	.word	ext_data(GOT_PREL)
	.word	ext_data(GOT) + 4
	.word	ext_data(GOTOFF)
	.word	_GLOBAL_OFFSET_TABLE_ - .
	.word	loc(GOTOFF)
loc:	.word	0
