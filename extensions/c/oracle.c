/* Relocation oracle for x86-64: every relocation type gcc emits for ordinary C, in
 * sections of every kind, linked by elfext and by GNU ld at the same addresses; the bytes
 * must be identical. Host functions are only called (never their data read), so GNU ld's
 * GOT relaxations and elfext's coincide. */
extern int host_print(const char *msg);
extern int host_add(int a, int b);

static int counter = 5;
int table[4] = {1, 2, 3, 4};
int *ptr = &table[2];
const char *msg = "oracle";
const char *const names[] = {"alpha", "beta", "gamma"};
int (*const ops[2])(int, int) = {host_add, 0};
long long wide = (long long)&table[1];
static char zeros[64];

static int helper(int x)
{
	return x * 3 + counter + zeros[x & 63];
}

__attribute__((section(".text.late"))) int late(int x)
{
	return helper(x) + *ptr;
}

__attribute__((aligned(64))) int run(int x)
{
	counter++;
	host_print(msg);
	host_print(names[x % 3]);
	return late(x) + table[x & 3] + ops[0](x, 1) + (int)(wide & 0xff);
}
