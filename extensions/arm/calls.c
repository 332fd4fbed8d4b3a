/* ARM relocation oracle: what arm-none-eabi-gcc emits for ordinary C on Thumb and A32
 * cores: calls and tail calls to host and local functions (BL, B.W, BLX when the
 * instruction sets differ), function addresses in data and in MOVW/MOVT pairs, literal
 * pools of addresses, a jump table, loads and stores of globals. */
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
	case 7: return (int)(long)&square;
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
	sink = s;
	return s;
}

int tail(int x)
{
	return host_add(x, host_counter);
}

int (*get_hook(void))(int, int)
{
	return &host_add;
}

void store(int v)
{
	host_counter = v;
	halves[2] = (short)v;
	sink = v;
}
