/* Functions of every argument and return type `elfext run --call` supports. */
#include <stdint.h>
#include <stdio.h>

int32_t add(int32_t a, int32_t b) { return a + b; }
int64_t mul_i64(int64_t a, int64_t b) { return a * b; }

/* Narrow results: the printed value must be the type's, whatever the upper bits hold. */
int8_t neg_i8(int8_t x) { return (int8_t)-x; }
int16_t neg_i16(int16_t x) { return (int16_t)-x; }
uint8_t add_u8(uint8_t a, uint8_t b) { return (uint8_t)(a + b); }
uint16_t add_u16(uint16_t a, uint16_t b) { return (uint16_t)(a + b); }
uint32_t not_u32(uint32_t x) { return ~x; }
uint64_t id_u64(uint64_t x) { return x; }

/* Narrow arguments seen as 64-bit values: sign or zero extension must be right. */
int64_t widen_i8(int8_t x) { return x; }
int64_t widen_i16(int16_t x) { return x; }
uint64_t widen_u8(uint8_t x) { return x; }

float tenth_f32(void) { return 0.1f; }
float third_f32(float x) { return x / 3.0f; }
double third_f64(double x) { return x / 3.0; }
double scale(double x) { return x * 2.0; }
float tiny_f32(void) { return 1e-7f; }

/* Integer and float arguments interleaved: each class fills its own registers. */
double mixed(int8_t a, float x, uint64_t b, double y, int16_t c) {
    return a + x + (double)b + y + c;
}

/* The most a native call takes: 6 integer-class and 8 float arguments. */
double all_registers(int64_t i1, int64_t i2, int64_t i3, int64_t i4, int64_t i5, int64_t i6,
                     double f1, double f2, double f3, double f4, double f5, double f6,
                     float f7, double f8) {
    return (double)(i1 + 2 * i2 + 3 * i3 + 4 * i4 + 5 * i5 + 6 * i6) +
           f1 + 2 * f2 + 3 * f3 + 4 * f4 + 5 * f5 + 6 * f6 + 7 * f7 + 8 * f8;
}

uint64_t length(const char *s) {
    uint64_t n = 0;
    while (s[n]) n++;
    return n;
}
const char *greeting(void) { return "hello from C"; }
const char *nothing(void) { return 0; }
uint64_t ptr_value(const void *p) { return (uint64_t)(uintptr_t)p; }
void *make_ptr(uint64_t x) { return (void *)(uintptr_t)x; }

static int counter;
void bump(int32_t by) { counter += by; printf("counter is %d\n", counter); }

int32_t a_variable = 7;

/* Reads through its argument: called with null, it crashes. */
int32_t read_through(const int32_t *p) { return *p; }
