/* A thread-local variable reached with the general-dynamic TLS model (built with -fPIC):
 * relocation types elfext does not apply. */
__thread int per_thread = 5;

int read_per_thread(void) { return per_thread; }
