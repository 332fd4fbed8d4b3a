/*
 * Zero-initialized data: a large static array and an exported one in .bss, and with
 * -fcommon, tentative definitions that become common symbols (SHN_COMMON) the loader
 * must allocate itself. The host checks everything starts zero (also after a reload into
 * reused, dirty memory) and is writable.
 */
#define BIG (256 * 1024)

static unsigned char big_static[BIG];
unsigned int big_exported[16 * 1024];

/* Common symbols with -fcommon (plain .bss without it). */
int common_int;
long common_array[100];
char common_bytes[3];

/* Sum of every zeroed byte/word: 0 on a fresh load. */
unsigned long bss_sum(void)
{
	unsigned long s = 0;
	for (unsigned i = 0; i < BIG; i++)
		s += big_static[i];
	for (unsigned i = 0; i < sizeof big_exported / sizeof big_exported[0]; i++)
		s += big_exported[i];
	for (unsigned i = 0; i < 100; i++)
		s += (unsigned long)common_array[i];
	return s + (unsigned long)common_int + common_bytes[0] + common_bytes[1] + common_bytes[2];
}

/* Dirty every zeroed object; returns the new sum. */
unsigned long bss_fill(void)
{
	for (unsigned i = 0; i < BIG; i += 4096)
		big_static[i] = 1;
	big_exported[16 * 1024 - 1] = 7;
	common_int = 3;
	common_array[99] = 5;
	common_bytes[2] = 9;
	return bss_sum();
}
