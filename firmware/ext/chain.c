/*
 * Call chains: extension code calling itself, the firmware, and back. `chain_sum` walks a
 * chain of local calls; `chain_callback` hands one of its own functions to the firmware
 * (`host_apply`), which calls it back; `chain_fib` recurses through the firmware on every
 * level. The firmware checks each result.
 */
extern int host_add(int a, int b);
extern int host_apply(int (*f)(int), int x);

static __attribute__((noinline)) int step3(int x) { return host_add(x, 3); }
static __attribute__((noinline)) int step2(int x) { return step3(x * 2); }
static __attribute__((noinline)) int step1(int x) { return step2(x + 1); }

/* ((x + 1) * 2) + 3 */
int chain_sum(int x) { return step1(x); }

static int triple(int x) { return 3 * x; }

/* The firmware calls `triple` back: 3 * x + 1. */
int chain_callback(int x) { return host_apply(triple, x) + 1; }

/* Fibonacci, each level going through the firmware and back into this extension. */
int chain_fib(int n)
{
	if (n < 2)
		return n;
	return host_add(host_apply(chain_fib, n - 1), host_apply(chain_fib, n - 2));
}
