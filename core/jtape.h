/*
 * jtape.h - strict JSON text (RFC 8259) into a tape: one flat buffer of tagged values in text
 * order, which the event keeps instead of a jansson tree (event.c), pushes onto a Lua stack
 * (formatter.c) and writes back as compact JSON (notif.c).
 *
 * The parser takes what jansson's json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) takes and
 * refuses what it refuses (tests/fuzz/fuzz_jtape.c compares the two): any value at the top,
 * nesting to JTAPE_MAX_DEPTH values, strings of valid UTF-8 without control characters, \u
 * escapes with surrogate pairs (never \u0000), duplicate keys refused, integers that fit int64_t
 * (else "too big integer"), reals as strtod reads them (an overflow is refused).
 *
 * The tape, values back to back, multi-byte fields unaligned (read with memcpy):
 *
 *   'n' 't' 'f'                       null, true, false
 *   'i' int64 | 'r' double            an integer, a real
 *   's' u32 len, bytes, NUL           a string (the NUL is not counted in len)
 *   'a' u32 count, u32 size, values   an array; size: bytes of its values
 *   'o' u32 count, u32 size, members  an object; a member is a key (u32 len, bytes, NUL)
 *                                     followed by its value, in the order of the text
 */
#ifndef HERALD_JTAPE_H
#define HERALD_JTAPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "jsonw.h"

#define JTAPE_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH: values nested, the top one 1 */
#define JTAPE_MAX_TEXT (256u << 20) /* longest text parsed (sizes fit a u32) */

enum jtape_type {
	JT_NULL = 'n',
	JT_TRUE = 't',
	JT_FALSE = 'f',
	JT_INT = 'i',
	JT_REAL = 'r',
	JT_STRING = 's',
	JT_ARRAY = 'a',
	JT_OBJECT = 'o',
};

/* A growing buffer the values are appended to. */
typedef struct jtape {
	unsigned char *p;
	size_t len, cap;
} jtape;

/* Why a text was refused: jansson's way, a message and where (1-based). */
typedef struct jtape_error {
	char text[160];
	int line, column;
} jtape_error;

/* Room for n more bytes: 0 or HERALD_ENOMEM. */
int jtape_reserve(jtape *t, size_t n);

/*
 * Appends the value of JSON text[0..len) to t. Returns 0, HERALD_EINVAL (the text is not one
 * JSON value by the rules above; *e says why and where) or HERALD_ENOMEM. On failure t->len is
 * back where it was.
 */
int jtape_parse(jtape *t, const char *text, size_t len, jtape_error *e);

/* Appends jansson value v (object members in their order). 0, HERALD_EINVAL (nested deeper
 * than JTAPE_MAX_DEPTH) or HERALD_ENOMEM; on failure t->len is back where it was. */
int jtape_from_json(jtape *t, const json_t *v);

/* ---- Reading a tape (values come from jtape_parse/jtape_from_json: no checks) ---- */

static inline uint32_t jtape_u32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline int jtape_type(const unsigned char *v)
{
	return *v;
}

static inline int64_t jtape_int(const unsigned char *v)
{
	int64_t i;
	memcpy(&i, v + 1, sizeof i);
	return i;
}

static inline double jtape_real(const unsigned char *v)
{
	double d;
	memcpy(&d, v + 1, sizeof d);
	return d;
}

/* A string's bytes (NUL-terminated) and length. */
static inline const char *jtape_str(const unsigned char *v, size_t *len)
{
	*len = jtape_u32(v + 1);
	return (const char *)v + 5;
}

/* Elements of an array, members of an object. */
static inline uint32_t jtape_count(const unsigned char *v)
{
	return jtape_u32(v + 1);
}

/* The first element of an array, or the first member (its key) of an object. */
static inline const unsigned char *jtape_first(const unsigned char *v)
{
	return v + 9;
}

/* A member's key, and its value. */
static inline const char *jtape_key(const unsigned char *m, size_t *len)
{
	*len = jtape_u32(m);
	return (const char *)m + 4;
}

static inline const unsigned char *jtape_member_value(const unsigned char *m)
{
	return m + 4 + jtape_u32(m) + 1;
}

/* The value (or member) after value v. */
const unsigned char *jtape_next(const unsigned char *v);

/* v's member named key[0..len), or NULL. */
const unsigned char *jtape_get(const unsigned char *obj, const char *key, size_t len);

/* v as compact JSON text, as json_dumps(JSON_COMPACT) writes the same value. */
void jtape_write(jsonw *w, const unsigned char *v);

#endif
