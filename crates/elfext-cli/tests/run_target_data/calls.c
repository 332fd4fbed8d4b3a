/* Functions `elfext run --target` calls on the QEMU boards (tests/run_target.rs). Built
 * without a C library: strlen comes from the firmware's exports, the soft-float and 64-bit
 * division helpers from its run-time exports. */

typedef __SIZE_TYPE__ size_t;
size_t strlen(const char *s);

int add(int a, int b) { return a + b; }

/* The argument arrives sign-extended to a word. */
int widen(signed char c) { return c; }

/* Only the low byte of the result counts. */
signed char narrow(int x) { return (signed char)x; }

/* On Cortex-M the i64 skips r1 and arrives in r2:r3; on RV32 it arrives in a1:a2. */
long long mix(int a, long long b) { return a * b + 7; }

/* 64-bit division: __aeabi_ldivmod / __divdi3. */
long long ratio(long long a, long long b) { return a / b; }

/* Soft-float double: __aeabi_dmul, __aeabi_dadd / __muldf3, __adddf3. */
double muladd(double a, double b) { return a * b + 0.1; }

/* Soft-float float: __aeabi_fdiv / __divsf3. */
float scale(float x, float by) { return x / by; }

int lengths(const char *s, const char *t) { return (int)(strlen(s) * 100 + strlen(t)); }

/* Calls whatever address it is given. */
int jump(int (*f)(void)) { return f(); }
