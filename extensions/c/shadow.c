/* Exports a function with the same name as a host export (and different behaviour):
 * other extensions must still bind to the host's. */
int host_add(int a, int b) { return a - b; }
