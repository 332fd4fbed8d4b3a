/* Archive member: `helper`, needed by `foo`. */
int helper(int x) { return x * 10; }
