/* mathlib.c: a library extension. Other extensions link against its exports. */

/* x squared. */
int square(int x)
{
    return x * x;
}

/* The n-th Fibonacci number, computed iteratively (fib(0) = 0, fib(1) = 1). */
long fib(int n)
{
    long a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        long t = a + b;
        a = b;
        b = t;
    }
    return a;
}
