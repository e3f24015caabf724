/* jsonw.c - see jsonw.h. */
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>

bool jsonw_grow(jsonw *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 256;
	char *p;

	if (w->oom)
		return false;
	while (cap - w->len < n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	if (cap == w->cap)
		return true;
	if (!(p = realloc(w->p, cap)))
		goto fail;
	w->p = p;
	w->cap = cap;
	return true;
fail:
	w->oom = true;
	return false;
}

bool jsonw_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t k = c >= 0xC2 && c <= 0xDF   ? 2
		           : c >= 0xE0 && c <= 0xEF ? 3
		           : c >= 0xF0 && c <= 0xF4 ? 4
		                                    : 0;
		if (!k || (size_t)(e - p) < k)
			return false;
		uint32_t cp = c & (0xFF >> (k + 1));
		for (size_t i = 1; i < k; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += k;
	}
	return true;
}

void jsonw_string(jsonw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, start = 0;

	/* The worst case, every byte a \u00XX, is reserved once: the loop then writes without
	 * checking. */
	if (n > (SIZE_MAX - 2) / 6 || (w->cap - w->len < n * 6 + 2 && !jsonw_grow(w, n * 6 + 2)))
		return;
	char *o = w->p + w->len;
	*o++ = '"';
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(o, s + start, i - start);
		o += i - start;
		start = i + 1;
		*o++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*o++ = (char)c;
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 15];
			o += 5;
		}
	}
	memcpy(o, s + start, n - start);
	o += n - start;
	*o++ = '"';
	w->len = (size_t)(o - w->p);
}

void jsonw_int(jsonw *w, int64_t v)
{
	char buf[24], *e = buf + sizeof buf, *p = e;
	/* Through the unsigned magnitude, so INT64_MIN has one. */
	uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do
		*--p = (char)('0' + m % 10);
	while (m /= 10);
	if (v < 0)
		*--p = '-';
	jsonw_raw(w, p, (size_t)(e - p));
}

void jsonw_real(jsonw *w, double v)
{
	char buf[40];
	int n = snprintf(buf, sizeof buf, "%.17g", v);
	char *e;

	if (n <= 0 || (size_t)n >= sizeof buf - 2)
		return;
	/* A whole number keeps a mark of a real, or it would read back as an integer. */
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	/* "1e+20" is written "1e20", "1e-05" "1e-5". */
	if ((e = strchr(buf, 'e'))) {
		char *d = e + 1, *s = e + 1;
		if (*s == '+')
			s++;
		else if (*s == '-')
			d = ++s;
		while (*s == '0' && s[1])
			s++;
		memmove(d, s, (size_t)(buf + n - s) + 1);
		n = (int)strlen(buf);
	}
	jsonw_raw(w, buf, (size_t)n);
}

void jsonw_value(jsonw *w, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i, keylen;
	int first = 1;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jsonw_lit(w, "{");
		json_object_keylen_foreach((json_t *)v, key, keylen, item)
		{
			if (!first)
				jsonw_lit(w, ",");
			first = 0;
			jsonw_string(w, key, keylen);
			jsonw_lit(w, ":");
			jsonw_value(w, item);
		}
		jsonw_lit(w, "}");
		break;
	case JSON_ARRAY:
		jsonw_lit(w, "[");
		json_array_foreach(v, i, item)
		{
			if (i)
				jsonw_lit(w, ",");
			jsonw_value(w, item);
		}
		jsonw_lit(w, "]");
		break;
	case JSON_STRING:
		jsonw_string(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jsonw_int(w, json_integer_value(v));
		break;
	case JSON_REAL:
		jsonw_real(w, json_real_value(v));
		break;
	case JSON_TRUE:
		jsonw_lit(w, "true");
		break;
	case JSON_FALSE:
		jsonw_lit(w, "false");
		break;
	case JSON_NULL:
		jsonw_lit(w, "null");
		break;
	}
}

char *jsonw_take(jsonw *w, size_t *len)
{
	char *p;

	if (w->cap - w->len < 1)
		jsonw_grow(w, 1);
	if (w->oom) {
		jsonw_free(w);
		return NULL;
	}
	p = w->p;
	p[w->len] = '\0';
	*len = w->len;
	*w = (jsonw)JSONW_INIT;
	return p;
}

void jsonw_free(jsonw *w)
{
	free(w->p);
	*w = (jsonw)JSONW_INIT;
}
