/*
 * Symbol binding and visibility: weak references to symbols nobody defines (they resolve
 * to null), a weak reference the host does define, a weak definition, a hidden function
 * (not exported), and a host function's address stored in data (a 64-bit absolute
 * relocation that reaches the host from any code model).
 */
extern int host_add(int a, int b);
extern int nobody_defines_this(int) __attribute__((weak));
extern int nobody_defines_this_either __attribute__((weak));

/* Weak reference to a function the host exports. */
extern int host_print(const char *msg) __attribute__((weak));

int (*host_fn)(int, int) = host_add;

__attribute__((weak)) int overridable(void) { return 7; }

__attribute__((visibility("hidden"))) int hidden_helper(int x) { return x + 1; }

/* 1 if the weak undefined function is absent, and call it otherwise. */
int weak_function_is_null(void)
{
	return nobody_defines_this == 0 ? 1 : nobody_defines_this(0);
}

int weak_data_is_null(void)
{
	return &nobody_defines_this_either == 0;
}

#ifdef __PIC__
/*
 * Calls the weakly referenced host function when present: returns its result, or -1.
 * PIC only: without PIC, testing the address is a 32-bit absolute relocation, and the
 * host's functions lie further away than that can reach.
 */
int weak_host_print(void)
{
	return host_print ? host_print("weakly linked") : -1;
}
#endif

int call_host_fn(int a, int b) { return host_fn(a, b); }

int use_hidden(int x) { return hidden_helper(x) + overridable(); }

/*
 * A global symbol in a section that is not loaded (no SHF_ALLOC): it has no address, so it
 * is not exported. And an absolute symbol (SHN_ABS): exported with its value.
 */
__asm__(".pushsection .meta,\"\",@progbits\n"
	"\t.globl meta_marker\n"
	"meta_marker:\n"
	"\t.long 1\n"
	"\t.popsection\n"
	"\t.globl abs_marker\n"
	"\t.set abs_marker, 0x1234\n");
