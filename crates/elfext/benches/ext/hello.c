/* hello: one call to a host export, one string. The smallest useful extension. */
extern int host_print(const char *msg);

int hello(void)
{
	return host_print("hello from an extension");
}
