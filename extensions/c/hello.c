/* Hello world: calls a function the host exports, passing a string literal from .rodata. */
extern int host_print(const char *msg);

int hello(void)
{
	return host_print("hello from an extension");
}
