/*
 * Global data and pointer relocations: pointers in .data to .rodata strings and arrays
 * (absolute 64-bit relocations), a pointer with an addend into an array, a table of
 * function pointers, read-only pointer tables (.data.rel.ro with -fPIC), and exported
 * globals the host reads and writes directly.
 */
static const char *const colours[] = { "red", "green", "blue" };
static const int primes[] = { 2, 3, 5, 7, 11, 13, 17, 19 };

/* Writable pointers into read-only data. */
const char *greeting = "hello, data";
const int *third_prime = &primes[2];
const char *names[] = { "alpha", "beta", "gamma", 0 };

/* Exported data the host reads and writes through `Extension::data`. */
int counter = 42;
long long wide = 0x1122334455667788LL;
/* In a read-only section of its own without relocations: used in place when persistent. */
__attribute__((section(".rodata.version"))) const char version[] = "data-1.0";

static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }

/* A writable table of function pointers (relocated absolute addresses of local functions). */
int (*ops[])(int, int) = { add, sub, mul };

int apply(int op, int a, int b)
{
	if (op < 0 || op > 2)
		return -1;
	return ops[op](a, b);
}

/* Sum of the prime table, read through a local pointer. */
int prime_sum(void)
{
	int s = 0;
	for (unsigned i = 0; i < sizeof primes / sizeof primes[0]; i++)
		s += primes[i];
	return s;
}

int get_third_prime(void) { return *third_prime; }

/* Length of colour `i`, or -1. */
int colour_len(int i)
{
	if (i < 0 || i > 2)
		return -1;
	int n = 0;
	while (colours[i][n])
		n++;
	return n;
}

/* First character of every name, packed into an int (little-endian). */
int name_initials(void)
{
	int v = 0, shift = 0;
	for (const char **p = names; *p; p++, shift += 8)
		v |= (unsigned char)(*p)[0] << shift;
	return v;
}

const char *get_greeting(void) { return greeting; }

/* Add `by` to the counter and return the new value. */
int bump(int by)
{
	counter += by;
	return counter;
}

long long get_wide(void) { return wide; }
