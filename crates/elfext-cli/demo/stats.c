/* stats.c: depends on another extension. `square` is not defined here nor exported by the
 * host: it comes from mathlib.o, which must be loaded first. */

int square(int x);

static const int samples[] = { 3, 1, 4, 1, 5, 9, 2, 6 };

/* 1*1 + 2*2 + ... + n*n, each square computed by mathlib. */
long sum_squares(int n)
{
    long sum = 0;
    for (int i = 1; i <= n; i++)
        sum += square(i);
    return sum;
}

/* Sum of the squares of a fixed sample set (read-only data). */
long sample_energy(void)
{
    long sum = 0;
    for (unsigned i = 0; i < sizeof samples / sizeof samples[0]; i++)
        sum += square(samples[i]);
    return sum;
}
