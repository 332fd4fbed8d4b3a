/* Thread-local storage, local-exec model: build with -ftls-model=local-exec. The host
 * reserves the thread-local area; .tdata is the initial template, .tbss starts zeroed. */
__thread int per_thread;
__thread int per_thread_init = 5;
__thread long long wide[3] = {-1, 0x123456789ll, 7};
__thread char aligned_buf[16] __attribute__((aligned(16)));

int tls_get(void) { return per_thread + per_thread_init; }

int tls_bump(int by) {
    per_thread += by;
    return per_thread;
}

long long tls_wide_sum(void) { return wide[0] + wide[1] + wide[2]; }

/* The address of one thread's copy, to check it against the host's area. */
int *tls_addr(void) { return &per_thread_init; }

char *tls_buf(void) {
    aligned_buf[15] = 'x';
    return aligned_buf;
}

/* A template that itself needs relocating: the address of a (non thread-local) global. */
static int anchor = 42;
__thread int *tls_ptr = &anchor;

int tls_deref(void) { return *tls_ptr; }
