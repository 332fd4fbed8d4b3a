/* An extension that links against another one (ext.c's ext_add). */
extern int ext_add(int a, int b);

int user_twice(int x) { return ext_add(x, x); }
