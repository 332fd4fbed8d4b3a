/* greet.c: the smallest useful extension. It calls back into the host program through
 * `host_print`, a function the host exports; its message is read-only data. */

void host_print(const char *message);

static const char message[] = "Hello from greet.o, linked against the host's host_print!";

/* Print the greeting through the host and return its length. */
int greet(void)
{
    host_print(message);
    return (int)(sizeof message - 1);
}
