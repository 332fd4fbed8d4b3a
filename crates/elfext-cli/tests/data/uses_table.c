/* Calls a function the firmware exports only through its exports! table. */
extern int table_only_function(int x);

int call_table_function(int x) { return table_only_function(x) * 2; }
