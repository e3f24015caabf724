/*
 * jsonw.h - a JSON text writer: a growing buffer and the compact text of values, written the
 * way jansson's json_dumps(JSON_COMPACT) writes them (the same bytes: tests compare), without
 * a tree.
 *
 * Strings escape '"', '\\' and the control characters below 0x20 (\b \f \n \r \t by name, the
 * others as \u00XX); everything else, '/' and non-ASCII included, is written as it is. Reals are
 * "%.17g" with ".0" added to a whole number and the exponent without '+' or leading zeros.
 *
 * A failed allocation is sticky: the writer stops growing, later writes do nothing, and
 * jsonw_take() returns NULL. Not thread-safe; a writer belongs to its caller.
 */
#ifndef HERALD_JSONW_H
#define HERALD_JSONW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct jsonw {
	char *p;    /* the text (not NUL-terminated until jsonw_take) */
	size_t len; /* bytes written */
	size_t cap; /* bytes allocated */
	bool oom;   /* an allocation failed: the text is incomplete */
} jsonw;

#define JSONW_INIT                                                                                 \
	{                                                                                          \
		NULL, 0, 0, false                                                                  \
	}

/* Room for `n` more bytes; false (and oom set) when it cannot be had. */
bool jsonw_grow(jsonw *w, size_t n);

static inline void jsonw_raw(jsonw *w, const char *s, size_t n)
{
	if (w->cap - w->len < n && !jsonw_grow(w, n))
		return;
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

#define jsonw_lit(w, s) jsonw_raw((w), (s), sizeof(s) - 1)

/* Whether s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF); NUL bytes are valid. */
bool jsonw_utf8_valid(const char *s, size_t n);

/* `s` (n bytes, valid UTF-8: the caller checks) as a quoted, escaped JSON string. */
void jsonw_string(jsonw *w, const char *s, size_t n);

void jsonw_int(jsonw *w, int64_t v);

/* A finite double, as jansson writes a real. */
void jsonw_real(jsonw *w, double v);

/* Any jansson value, compact, object members in their order (json_dumps' JSON_COMPACT). */
void jsonw_value(jsonw *w, const json_t *v);

/* Back to empty, keeping the allocation (and clearing oom). */
static inline void jsonw_reset(jsonw *w)
{
	w->len = 0;
	w->oom = false;
}

/* The text, NUL-terminated, its length in *len; the writer is left empty and owns nothing.
 * NULL when an allocation failed (the text is freed). The caller frees the result. */
char *jsonw_take(jsonw *w, size_t *len);

/* Frees the buffer. */
void jsonw_free(jsonw *w);

#endif
