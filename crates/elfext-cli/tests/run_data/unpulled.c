/* Archive member nobody needs. It refers to a symbol nothing defines, so loading it would
   fail: `run` must leave it out. */
int not_defined_anywhere(int);
int unused(int x) { return not_defined_anywhere(x); }
