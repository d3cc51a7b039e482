/*
 * validate: pure checks on decoded input values. Thread-safe, no allocation.
 */
#include "validate.h"

#include "jsonv.h"

#include <string.h>

int validate_display_name(const char *s)
{
    long long n = utf8_length(s, strlen(s));
    if (n < 1 || n > 64)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int validate_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Reads exactly n digits as a number into *out; advances *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

int validate_timestamp(const char *s)
{
    int y, mo, d, h, mi, sec, zh, zm;
    const char *p = s;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d) || (*p != 'T' && *p != 't') || !(++p) || !digits(&p, 2, &h) ||
        *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' || !digits(&p, 2, &sec))
        return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return 0;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            nd++;
        if (nd < 1 || nd > 9)
            return 0;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p != '+' && *p != '-')
        return 0;
    p++;
    if (!digits(&p, 2, &zh) || *p++ != ':' || !digits(&p, 2, &zm))
        return 0;
    return *p == '\0' && zh <= 23 && zm <= 59;
}

/* Decodes one code point of valid UTF-8 at *p (validated beforehand), advancing *p. */
static unsigned next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned cp;
    int n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if (s[0] < 0xE0) {
        cp = s[0] & 0x1F;
        n = 2;
    } else if (s[0] < 0xF0) {
        cp = s[0] & 0x0F;
        n = 3;
    } else {
        cp = s[0] & 0x07;
        n = 4;
    }
    for (int i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3F);
    *p = s + n;
    return cp;
}

/* Unicode White_Space, plus the zero-width characters that render as nothing. */
static int is_blank(unsigned cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200D) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x2060 || cp == 0x3000 || cp == 0xFEFF;
}

int validate_title(const char *s)
{
    long long n = utf8_length(s, strlen(s));
    int blank = 1;
    if (n < 1 || n > 128)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp = next_cp(&p);
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
            return 0;
        if (!is_blank(cp))
            blank = 0;
    }
    return !blank;
}

int validate_body(const char *s)
{
    long long n = utf8_length(s, strlen(s));
    if (n < 1 || n > 4000)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;)
        if (!is_blank(next_cp(&p)))
            return 1;
    return 0;
}
