/* Archive member: `foo`, the function `run` is asked to call. Needs `helper`. */
int helper(int x);
int foo(int x) { return helper(x) + 1; }
