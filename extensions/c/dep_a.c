/* Dependency provider: exports a function and data other extensions link against. */
int a_value = 100;
const char a_name[] = "extension A";

int a_twice(int x) { return 2 * x; }

int a_bump(void) { return ++a_value; }
