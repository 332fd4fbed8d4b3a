/* Needs three symbols nobody exports: the load must name all of them in one error. */
extern int undefined_function_one(int);
extern int undefined_function_two(void);
extern int undefined_variable;
extern int host_print(const char *msg);

int uses_missing(void)
{
	host_print("never runs");
	return undefined_function_one(undefined_variable) + undefined_function_two();
}
