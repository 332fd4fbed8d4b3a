/*
 * Sections of one kind interleaved in the file: code in .text, then initialized data in
 * .data, then more code in .text.late and more data in .data.late. The loader must gather
 * each kind into its region whatever the file order, and keep the calls and data
 * references between them right.
 */
/* Create .data before any .text.* section also where the compiler would emit all code
 * first (clang): gas creates .text and .data up front anyway. */
__asm__(".pushsection .data\n\t.popsection");

#ifdef __clang__
#define HOP __attribute__((noinline))
#else
#define HOP __attribute__((noinline, noipa))
#endif

int early_data[4] = { 1, 2, 3, 4 };

HOP int early_sum(void)
{
	return early_data[0] + early_data[1] + early_data[2] + early_data[3];
}

__attribute__((section(".data.late"))) int late_data[2] = { 100, 200 };

HOP __attribute__((section(".text.late"))) int late_sum(void)
{
	return early_sum() + late_data[0] + late_data[1];
}

/* Back in .text, calling forward into .text.late. */
HOP int total(void) { return late_sum() * 2; }
