/* bss: a big zero-initialized buffer (16 KiB) and a little code using it. */
static unsigned char ring[16384];
static unsigned int head;

int bss_put(unsigned char b)
{
	ring[head++ % sizeof ring] = b;
	return (int)head;
}

int bss_sum(void)
{
	unsigned int s = 0;
	for (unsigned int i = 0; i < sizeof ring; i++)
		s += ring[i];
	return (int)s;
}
