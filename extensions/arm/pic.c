/* ARM position-independent code with one GOT slot (GNU ld orders several slots by its own
 * hash table, so an oracle object has exactly one): the host counter through the GOT
 * (GOT_BREL), the GOT found PC-relatively (BASE_PREL), local data relative to the code
 * (REL32) or to the GOT (GOTOFF32, when data is not text-relative). */
extern int host_counter;

static int local_count;
static const char msg[] = "pic";
static int table[4] = {1, 2, 3, 4};

static __attribute__((noinline)) int twice(int x)
{
	return 2 * x + table[x & 3];
}

int bump(int x)
{
	local_count += twice(x);
	host_counter += local_count;
	return msg[x & 3];
}
