/*
 * Reads and writes data the host exports. With -fPIC the accesses go through the GOT and
 * link wherever the host is; with -fno-pic they are 32-bit PC-relative (R_X86_64_PC32) and
 * cannot reach a host that lies further than 2 GiB away (a RelocationOverflow error).
 */
extern int host_limit;
extern int host_counter;

int limit_plus(int x)
{
	return host_limit + x;
}

void count_up(void)
{
	host_counter++;
}
