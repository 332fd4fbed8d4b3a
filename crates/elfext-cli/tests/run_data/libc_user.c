/* An extension using the host's C library: strlen, snprintf, qsort, printf, strtol. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t c_strlen(const char *s) { return strlen(s); }

static int by_value(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Sort the digits of `n` with qsort, print them with printf, and return them as a number
   formatted by snprintf and parsed back by strtol. */
int64_t sort_digits(int64_t n) {
    int digits[20];
    int count = 0;
    do {
        digits[count++] = (int)(n % 10);
        n /= 10;
    } while (n && count < 20);
    qsort(digits, count, sizeof digits[0], by_value);
    char text[32];
    int len = 0;
    for (int i = 0; i < count; i++)
        len += snprintf(text + len, sizeof text - len, "%d", digits[i]);
    printf("sorted %d digits: %s (%.1f%%)\n", count, text, 100.0);
    return strtol(text, 0, 10);
}
