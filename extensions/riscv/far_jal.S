/* JAL to a host function beyond ±1 MiB: elfext must route both jumps through a veneer. */
	.option	norvc
	.text
	.globl	go
go:
	jal	ra, far_func			/* call */
	j	far_func			/* tail jump */
