/* data: initialized globals, read-only data and tables of pointers (absolute relocations in
 * data and in read-only data, which is therefore copied even for persistent storage). */
extern int host_print(const char *msg);

int counter = 1;
static int table[16] = { 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987 };
static const int squares[8] = { 0, 1, 4, 9, 16, 25, 36, 49 };
int *const cells[4] = { &counter, &table[3], &table[7], &table[15] };
const char *names[3] = { "alpha", "beta", "gamma" };
static const char banner[] = "data extension";

int data_sum(void)
{
	int s = 0;
	for (int i = 0; i < 4; i++)
		s += *cells[i];
	for (int i = 0; i < 8; i++)
		s += squares[i];
	return s + counter++;
}

const char *data_name(int i)
{
	return i == 3 ? banner : names[i % 3];
}

int data_hello(void)
{
	return host_print(data_name(counter));
}
