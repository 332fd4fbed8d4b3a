/* Calls, tail calls and data references for AArch64, in every code model: host functions
 * called more than once (one veneer each when they are out of reach), host data read and
 * written, and the extension's own static and global data. */
extern int host_add(int a, int b);
extern int host_print(const char *msg);
extern int host_counter;
extern const int host_limit;

static int calls;
int total = 7;
long long wide = 0x1122334455667788LL;
const char *const greetings[] = {"hello", "world"};
short halves[4] = {1, 2, 3, 4};
unsigned char bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static __attribute__((noinline)) int twice(int x)
{
	return host_add(x, x) + host_add(x, 1);
}

int sum(int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s = host_add(s, i + bytes[i & 7] + halves[i & 3]);
	calls++;
	host_counter += s;
	return s < host_limit ? s : host_limit;
}

int greet(int which)
{
	total += twice(which) + (int)wide;
	host_print(greetings[which & 1]);
	return host_print(greetings[(which + 1) & 1]);
}

int tail(int x)
{
	/* A tail call at -O2 (R_AARCH64_JUMP26). */
	return host_add(x + calls, total);
}
