/* Uses a thread-local variable defined elsewhere: elfext refuses it (thread-local
 * variables are linked only within one extension). */
extern __thread int elsewhere;

int tls_extern_get(void) { return elsewhere; }
