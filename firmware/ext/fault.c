/*
 * Faults the firmware must report instead of hanging. Loaded persistent, `fault_target`
 * (no relocations) stays in flash and runs in place, while `fault_write_text` (which takes
 * its address) is copied to RAM and linked: calling it writes into the extension's own text
 * in flash. `fault_call` jumps to an address nothing is mapped at.
 */
__attribute__((noinline)) int fault_target(void) { return 7; }

int fault_write_text(void)
{
	volatile unsigned char *text = (volatile unsigned char *)(unsigned long)&fault_target;
	text[0] = 0;
	return fault_target();
}

int fault_call(unsigned long address)
{
	int (*f)(void) = (int (*)(void))address;
	return f() + 1;
}
