/*
 * Alignment from 8 to 512 bytes: read-only, writable and zeroed data and functions, each
 * aligned with __attribute__((aligned(N))). The host checks every address `symbol()`
 * returns is a multiple of N, and that the code and data work.
 */
#define ALIGNED(n) __attribute__((aligned(n)))

const char pad_ro = 1; /* pushes the next object off any natural alignment */
ALIGNED(8)   const long ro_8 = 8;
ALIGNED(64)  const long ro_64 = 64;
ALIGNED(512) const long ro_512 = 512;

char pad_rw = 2;
ALIGNED(16)  long rw_16 = 16;
ALIGNED(128) long rw_128 = 128;
ALIGNED(256) long rw_256 = 256;

char pad_bss;
ALIGNED(32)  long bss_32;
ALIGNED(512) long bss_512[3];

ALIGNED(16)  int fn_16(void) { return 16; }
ALIGNED(32)  int fn_32(void) { return 32; }
ALIGNED(256) int fn_256(void) { return 256; }
ALIGNED(512) int fn_512(void) { return 512; }

/* Sum of every aligned object, read through code (checks relocations to them). */
long aligned_sum(void)
{
	bss_32 += 1;
	bss_512[2] += 2;
	return ro_8 + ro_64 + ro_512 + rw_16 + rw_128 + rw_256 + bss_32 + bss_512[2] +
	       fn_16() + fn_32() + fn_256() + fn_512() + pad_ro + pad_rw + pad_bss;
}
