/* An extension: calls into the firmware, reads and writes its data, and exports
 * functions and data of its own. */
extern int host_print(const char *msg);
extern int host_counter;

static int table[4] = {1, 2, 3, 4};
int samples[64];
const char greeting[] = "hello from an extension";

int ext_hello(void)
{
    host_counter++;
    samples[1] = table[2];
    return host_print(greeting);
}

int ext_add(int a, int b) { return a + b; }
