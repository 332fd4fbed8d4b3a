/* RISC-V relocation oracle: what gcc emits for ordinary C in every code model (medlow:
 * lui/addi HI20/LO12, medany: auipc PCREL_HI20/LO12, -fPIC: GOT_HI20), with and without
 * linker relaxation: calls to host and local functions, tail calls, loads and stores of
 * globals, a jump table, loops and branches, and data holding addresses. */
extern int host_add(int a, int b);
extern int host_print(const char *msg);
extern int host_counter;

int values[16] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3};
static long long big = 0x123456789abcdefLL;
short halves[3];
const char *const words[] = {"zero", "one", "two"};
int (*const hooks[])(int, int) = {host_add};
static volatile int sink;

static __attribute__((noinline)) int square(int x)
{
	return x * x;
}

int pick(int x)
{
	switch (x) {
	case 0: return host_print(words[0]);
	case 1: return square(x + 7);
	case 2: return values[x] + 11;
	case 3: return host_counter * 2;
	case 4: return (int)big;
	case 5: return halves[1] - 3;
	case 6: return hooks[0](x, 2);
	default: return -1;
	}
}

int sum(int n)
{
	int s = 0;
	for (int i = 0; i < n && i < 16; i++) {
		if (values[i] & 1)
			s += values[i];
		else
			s -= square(values[i]);
	}
	halves[2] = (short)s;
	big += s;
	host_counter += s;
	sink = s;
	return s;
}

int forward(int a, int b)
{
	/* A tail call at -O2. */
	return host_add(a + sum(b), b);
}
