/* Thread-local storage (.tbss / .tdata): not supported yet, so loading must fail cleanly. */
__thread int per_thread;
__thread int per_thread_init = 5;

int tls_get(void) { return per_thread + per_thread_init; }
