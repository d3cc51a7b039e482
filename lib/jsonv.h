/*
 * jsonv: safe JSON input over jansson.
 *
 * Request bodies are parsed with a size cap checked before parsing, a nesting
 * depth cap, duplicate keys rejected (jansson keeps the last one otherwise), and
 * then checked against a small field table: unknown fields, missing required
 * fields and wrong types are errors that name the field.
 */
#ifndef MISSIVE_JSONV_H
#define MISSIVE_JSONV_H

#include <jansson.h>
#include <stddef.h>

enum jsonv_type {
    JV_STRING = 1,
    JV_INT,    /* integer that fits int64 */
    JV_ID,     /* integer >= 1 */
    JV_BOOL,
    JV_ARRAY,
    JV_OBJECT,
    JV_ANY,
};

struct jsonv_field {
    const char *name;
    enum jsonv_type type;
    int required;
    long long min;  /* strings: min length in code points; ints: min value */
    long long max;  /* strings: max length in code points; ints: max value; 0 = none */
    int nullable;   /* JSON null accepted (treated as absent) */
};

#define JSONV_END {0}

/* What went wrong, for the problem+json detail. */
struct jsonv_error {
    char field[64];   /* "" when the whole body is at fault */
    char detail[192];
    int too_large;    /* 1 when the body is over the size limit (HTTP 413) */
};

/*
 * Parses buf[0..len). Fails if len > max_len, the text is not one JSON object,
 * it nests deeper than max_depth, or it repeats a key. Returns a new reference.
 */
json_t *jsonv_parse_object(const char *buf, size_t len, size_t max_len, int max_depth,
                           struct jsonv_error *err);

/* Checks obj against fields (terminated by JSONV_END). 0 ok, -1 with err filled. */
int jsonv_check(const json_t *obj, const struct jsonv_field *fields, struct jsonv_error *err);

/* Nesting depth of a value (scalar = 0). */
int jsonv_depth(const json_t *v);

/* Borrowed getters that return def when absent or null. */
const char *jsonv_str(const json_t *obj, const char *key, const char *def);
long long jsonv_int(const json_t *obj, const char *key, long long def);
int jsonv_has(const json_t *obj, const char *key);

/* Number of Unicode code points in valid UTF-8 s, or -1 if s is not valid UTF-8. */
long long utf8_length(const char *s, size_t n);

#endif
