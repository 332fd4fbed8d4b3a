/* counter.c: global state with a constructor and a destructor.
 *
 * `count` is initialized data (DATA) and `history` is zero-initialized (BSS). The constructor
 * runs when the host calls bringup(), the destructor when it calls teardown(). */

void host_print(const char *message);

static int count = 10;
static int history[16];

__attribute__((constructor)) static void counter_start(void)
{
    count = 100;
    host_print("counter.o: constructor ran, count = 100");
}

__attribute__((destructor)) static void counter_stop(void)
{
    host_print("counter.o: destructor ran");
}

/* The current value. */
int counter_get(void)
{
    return count;
}

/* Count one more event, remember it, and return the new value. */
int counter_next(void)
{
    count += 1;
    history[count & 15] = count;
    return count;
}

/* The value remembered when the count was `n` (modulo 16), 0 if none. */
int counter_history(int n)
{
    return history[n & 15];
}
