/* An extension needing a function that neither the host nor another extension defines. */
int no_such_host_function(int);
int uses_missing(int x) { return no_such_host_function(x); }
