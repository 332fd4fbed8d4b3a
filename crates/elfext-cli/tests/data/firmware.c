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
