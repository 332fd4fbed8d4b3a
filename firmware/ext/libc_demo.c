/*
 * libc_demo.c -- an elfext extension that uses picolibc's string, search,
 * stdlib and (integer-only) snprintf code.  Built into ONE relocatable object
 * together with the picolibc members it needs (see README.md, "libc recipe"),
 * for thumbv7em-none-eabi (Cortex-M4, soft-float) and riscv32imac (ilp32).
 *
 * Rules this file keeps so that the linked object stays loadable:
 *   - no floats, no malloc, no stdio FILE objects, no crt0 dependency;
 *   - nothing that touches errno: picolibc 1.8 as packaged by Debian keeps
 *     errno in thread-local storage (NEWLIB_TLS / PICOLIBC_TLS), so atoi,
 *     strtol, strtoul, strtok (static TLS state) etc. are NOT used -- they
 *     would bring TLS relocations (R_ARM_TLS_LE32 / R_RISCV_TPREL_*) and
 *     __aeabi_read_tp into the object.  Number parsing is done by hand;
 *   - snprintf is linked against the integer-only printf core
 *     (__i_vfprintf, via --defsym vfprintf=__i_vfprintf in the ld -r step).
 *
 * Every exported function returns an int the firmware can check; the
 * expected value is given in the comment above each one.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exported by the firmware. */
extern int host_print(const char *s);

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/*
 * strcpy, strcat, strlen, strchr, strrchr, strcmp, strncmp, strncpy,
 * memmove (overlapping), memcmp, memset, strstr.
 *
 * libc_string_check() == 12583
 *   12  strlen("hello, world")
 *   5   strchr(',') offset
 *   8   strrchr('o') offset
 *   3   three comparisons that came out right (strcmp, strncmp, memcmp)
 * and -1..-4 when a step fails.
 */
int libc_string_check(void)
{
    char buf[32];
    char tmp[16];
    int ok = 0;

    strcpy(buf, "hello");
    strcat(buf, ", world");
    size_t len = strlen(buf);
    if (len != 12)
        return -1;

    const char *comma = strchr(buf, ',');
    const char *last_o = strrchr(buf, 'o');
    if (comma == NULL || last_o == NULL)
        return -2;

    if (strcmp(buf, "hello, world") == 0 && sign(strcmp("abc", "abd")) == -1)
        ok++;
    if (strncmp(buf, "help", 3) == 0 && sign(strncmp(buf, "help", 4)) == -1)
        ok++;

    /* overlapping move: "hello, world" -> "hhello world" */
    memmove(buf + 1, buf, 5);
    if (memcmp(buf, "hhello world", 13) == 0)
        ok++;

    memset(tmp, 'x', sizeof tmp);
    strncpy(tmp, "abc", 6);            /* pads with NULs up to 6 */
    if (tmp[3] != '\0' || tmp[5] != '\0' || tmp[6] != 'x')
        return -3;

    if (strstr(buf, "world") != buf + 7)
        return -4;

    return (int)len * 1000 + (int)(comma - (buf)) * 100
         + (int)(last_o - buf) * 10 + ok;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/*
 * qsort of five ints, then fold the sorted digits into a number.
 *
 * libc_sort_check() == 12345
 */
int libc_sort_check(void)
{
    int v[5] = { 4, 2, 5, 1, 3 };
    int r = 0;

    qsort(v, 5, sizeof v[0], cmp_int);
    for (int i = 0; i < 5; i++)
        r = r * 10 + v[i];
    return r;
}

static const int table[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 };

/*
 * bsearch in a sorted table of the first twelve primes: index of key, or -1.
 *
 * libc_bsearch_check(2)  == 0
 * libc_bsearch_check(13) == 5
 * libc_bsearch_check(37) == 11
 * libc_bsearch_check(4)  == -1
 */
int libc_bsearch_check(int key)
{
    const int *p = bsearch(&key, table, sizeof table / sizeof table[0],
                           sizeof table[0], cmp_int);
    return p ? (int)(p - table) : -1;
}

/* Decimal parse without atoi/strtol (those set errno, which is TLS here). */
static int parse_int(const char *s)
{
    int neg = 0, v = 0;

    s += strspn(s, " \t");
    if (*s == '-' || *s == '+')
        neg = (*s++ == '-');
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return neg ? -v : v;
}

/*
 * strtok_r + strspn + strcspn tokenising, abs, div.
 * Tokens of "12, -7,300 ,abc,-42": numeric ones are 12 -7 300 -42
 * (strcspn rejects "abc"); the sum of abs() is 361; div(361, 10) = {36, 1}.
 *
 * libc_parse_check() == 3614    (quot * 100 + rem * 10 + numeric tokens)
 */
int libc_parse_check(void)
{
    char text[] = "12, -7,300 ,abc,-42";
    char *save = NULL;
    int sum = 0, count = 0;

    for (char *tok = strtok_r(text, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " ");
        if (strcspn(tok, "-0123456789") != 0)
            continue;                   /* not a number */
        sum += abs(parse_int(tok));
        count++;
    }
    div_t d = div(sum, 10);
    return d.quot * 100 + d.rem * 10 + count;
}

/*
 * snprintf (integer-only core) into a stack buffer, printed once through the
 * firmware's host_print, then read back.  Returns the formatted length if the
 * decimal part parses back to x, else -1.
 *
 * libc_format_check(255) == 8     ("v=255/ff")
 * libc_format_check(-42) == 14    ("v=-42/ffffffd6")
 * libc_format_check(0)   == 5     ("v=0/0")
 */
int libc_format_check(int x)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "v=%d/%x", x, (unsigned)x);

    if (n < 0 || (size_t)n != strlen(buf))
        return -2;
    host_print(buf);
    if (parse_int(buf + 2) != x)
        return -1;
    return n;
}
