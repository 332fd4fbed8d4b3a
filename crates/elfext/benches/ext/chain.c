/* chain: functions in different sections (built with -ffunction-sections) calling each
 * other, so every call is a relocation between sections. */
extern int host_add(int a, int b);

__attribute__((noinline)) int chain_d(int x) { return host_add(x, 4); }
__attribute__((noinline)) int chain_c(int x) { return chain_d(x * 3) + 3; }
__attribute__((noinline)) int chain_b(int x) { return chain_c(x + 2) ^ chain_d(x); }
__attribute__((noinline)) int chain_a(int x) { return chain_b(x) + chain_c(x - 1); }
static __attribute__((noinline)) int helper(int x) { return chain_a(x) * 2 + chain_d(x); }

int chain_run(int x)
{
	return helper(x) + chain_b(x);
}
