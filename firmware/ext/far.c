/*
 * Far calls: the firmware's code is in flash at 0x0 and this extension runs from RAM at
 * 0x20000000, 512 MiB away, far beyond a Thumb BL (±16 MiB): the call and the tail call
 * below reach `host_add` through veneers elfext builds.
 */
extern int host_add(int a, int b);

/* host_add(a, b) + 1 through a BL. */
int far_call(int a, int b) { return host_add(a, b) + 1; }

/* host_add(a, 2 * b) through a tail jump (B.W). */
int far_tail(int a, int b) { return host_add(a, 2 * b); }
