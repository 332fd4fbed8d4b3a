/* Hello world: calls a function the host exports. */
extern int host_print(const char *msg);

int hello(void)
{
	return host_print("hello from an extension");
}
