/* Depends on dep_a.c: calls its function and reads and writes its exported data. */
extern int a_value;
extern const char a_name[];
extern int a_twice(int x);

int b_compute(int x) { return a_twice(x) + a_value; }

int b_name_len(void)
{
	int n = 0;
	while (a_name[n])
		n++;
	return n;
}

void b_set_a(int v) { a_value = v; }
