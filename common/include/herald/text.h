/*
 * text.h - small text helpers shared by the core and the plugins (libherald_common).
 */
#ifndef HERALD_TEXT_H
#define HERALD_TEXT_H

#include <stddef.h>

/* The value of hex digit c (0-9, a-f, A-F), or -1. */
int text_hexval(int c);

/*
 * Decodes the %XX escapes of s[0..n) into a new NUL-terminated string *out (malloc'd) of
 * *len bytes (it may hold NULs). 0, HERALD_EINVAL for a '%' not followed by two hex digits, or
 * HERALD_ENOMEM; *out is NULL on failure.
 */
int text_pct_decode(const char *s, size_t n, char **out, size_t *len);

enum {
	TEXT_ASCII = 1, /* DEL escaped too, and every byte outside ASCII written as '?' */
};

/*
 * Writes s into out[cap] as the inside of a JSON string: '"' and '\' escaped, control
 * characters as \u00XX (and per `flags`). Stops before a character that would not fit, so out
 * is always NUL-terminated (cap >= 1). Returns the length written. A cap of 6 * strlen(s) + 1
 * always holds all of s.
 */
size_t text_json_escape(char *out, size_t cap, const char *s, unsigned flags);

#endif
