/*
 * A chain of calls between functions in different sections. Built with and without
 * -ffunction-sections; some functions also name their section explicitly, so calls cross
 * from .text.* section to .text.* section through relocations against section symbols
 * (static functions) and global symbols alike.
 */
#ifdef __clang__
#define HOP __attribute__((noinline))
#else
#define HOP __attribute__((noinline, noipa))
#endif

extern int host_add(int a, int b);

HOP static int hop_static(int x) { return x * 3; }

HOP __attribute__((section(".text.hop_far")))
int hop_far(int x) { return hop_static(x) + 7; }

HOP __attribute__((section(".text.hop_mid")))
static int hop_mid(int x) { return hop_far(x) - 1; }

HOP int hop_near(int x) { return host_add(hop_mid(x), 1000); }

/* chain(x) = (3x + 7 - 1) + 1000, through four sections and the host. */
int chain(int x) { return hop_near(x); }

/* Mutual recursion between two explicit sections. */
int pong(int n);
HOP __attribute__((section(".text.ping"))) int ping(int n) { return n <= 0 ? 0 : 1 + pong(n - 1); }
HOP __attribute__((section(".text.pong"))) int pong(int n) { return n <= 0 ? 0 : 2 + ping(n - 1); }
