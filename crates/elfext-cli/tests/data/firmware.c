/* A tiny firmware: the functions and data it exports to extensions are its global
 * symbols. Built with -DWITHOUT_COUNTER it lacks host_counter. */
#ifndef WITHOUT_COUNTER
int host_counter;
#endif
int host_print(const char *msg)
{
    int n = 0;
    while (msg[n])
        n++;
    return n;
}
static int private_helper(int x) { return x * 3; }
int firmware_add(int a, int b) { return a + b + private_helper(0); }
void _start(void)
{
    host_print("boot");
    for (;;) {
    }
}

#ifdef EXPORT_TABLE
/* A table as elfext's exports! macro declares it in a Rust firmware: the function's own
 * symbol is local, the table (an `ENTRIES` array of name and address) exports it. */
static int table_only_function(int x) { return x + 1; }
struct export {
    const char *name;
    unsigned long len;
    const void *addr;
};
__attribute__((used)) const struct export
    entries[] __asm__("_ZN8firmware7exports4HOST7ENTRIES17h0123456789abcdefE") = {
        {"table_only_function", 19, (const void *)table_only_function},
};
#endif
