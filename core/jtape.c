/* jtape.c - see jtape.h. */
#include "jtape.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "herald/plugin.h"

/* Keys of one object looked at one by one for duplicates; past this many the object's keys are
 * sorted once at its end, so a huge object costs n log n, not n^2. */
#define DUP_LINEAR 16

int jtape_reserve(jtape *t, size_t n)
{
	size_t cap = t->cap ? t->cap : 256;
	unsigned char *p;

	if (t->cap - t->len >= n)
		return 0;
	while (cap - t->len < n) {
		if (cap > SIZE_MAX / 2)
			return HERALD_ENOMEM;
		cap *= 2;
	}
	if (!(p = realloc(t->p, cap)))
		return HERALD_ENOMEM;
	t->p = p;
	t->cap = cap;
	return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}

/* ---- The parser ---- */

struct parser {
	const unsigned char *text, *p, *end;
	jtape *t;
	jtape_error *e;
	int nomem;
};

static int fail(struct parser *ps, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, const unsigned char *at, const char *fmt, ...)
{
	va_list ap;
	int line = 1, column = 1;

	for (const unsigned char *q = ps->text; q < at && q < ps->end; q++) {
		if (*q == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(ps->e->text, sizeof ps->e->text, fmt, ap);
	va_end(ap);
	ps->e->line = line;
	ps->e->column = column;
	return -1;
}

static int nomem(struct parser *ps)
{
	ps->nomem = 1;
	return -1;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

/* "near 'x'" for messages: the byte at p, or the end. */
static int fail_token(struct parser *ps, const char *what)
{
	if (ps->p >= ps->end)
		return fail(ps, ps->p, "%s near end of file", what);
	if (*ps->p >= 0x20 && *ps->p < 0x7f)
		return fail(ps, ps->p, "%s near '%c'", what, *ps->p);
	return fail(ps, ps->p, "%s near byte 0x%02x", what, *ps->p);
}

static int hex4(const unsigned char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return 0;
	}
	*out = v;
	return 1;
}

static unsigned char *put_utf8(unsigned char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xC0 | cp >> 6);
		*o++ = (unsigned char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xE0 | cp >> 12);
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (unsigned char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (unsigned char)(0xF0 | cp >> 18);
		*o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (unsigned char)(0x80 | (cp & 0x3F));
	}
	return o;
}

/* The length of the UTF-8 sequence at p (< end), or 0 when it is not valid UTF-8. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t k = *p >= 0xC2 && *p <= 0xDF   ? 2
	           : *p >= 0xE0 && *p <= 0xEF ? 3
	           : *p >= 0xF0 && *p <= 0xF4 ? 4
	                                      : 0;
	return k && (size_t)(end - p) >= k && jsonw_utf8_valid((const char *)p, k) ? k : 0;
}

/*
 * The string at ps->p (its opening quote), decoded and appended with a u32 length in front and
 * a NUL after (a key) or the tag 's' before that (a value). The decoded bytes are never more
 * than the text's, so one reservation of what is left of the text covers them.
 */
static int parse_string(struct parser *ps, int tagged)
{
	const unsigned char *p = ps->p + 1, *end = ps->end;
	size_t at = ps->t->len, head = tagged ? 5 : 4;
	unsigned char *o, *start;

	if (jtape_reserve(ps->t, head + (size_t)(end - p) + 1))
		return nomem(ps);
	start = ps->t->p + at + head;
	if (tagged)
		ps->t->p[at] = JT_STRING;
	o = start;
	for (;;) {
		const unsigned char *run = p;
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		if (p >= end)
			return fail(ps, p, "premature end of input");
		if (*p == '"')
			break;
		if (*p >= 0x80) {
			size_t k = utf8_len(p, end);
			if (!k)
				return fail(ps, p, "unable to decode byte 0x%02x", *p);
			memcpy(o, p, k);
			o += k;
			p += k;
			continue;
		}
		if (*p < 0x20)
			return fail(ps, p, "control character 0x%x", *p);
		/* A backslash. */
		if (end - p < 2)
			return fail(ps, p, "premature end of input");
		uint32_t cp;
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
			*o++ = p[1];
			p += 2;
			continue;
		case 'b':
			*o++ = '\b';
			p += 2;
			continue;
		case 'f':
			*o++ = '\f';
			p += 2;
			continue;
		case 'n':
			*o++ = '\n';
			p += 2;
			continue;
		case 'r':
			*o++ = '\r';
			p += 2;
			continue;
		case 't':
			*o++ = '\t';
			p += 2;
			continue;
		case 'u':
			if (end - p < 6 || !hex4(p + 2, &cp))
				return fail(ps, p, "invalid escape");
			break;
		default:
			return fail(ps, p, "invalid escape");
		}
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return fail(ps, p, "invalid Unicode '\\u%04X'", (unsigned)cp);
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			uint32_t lo;
			if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &lo))
				return fail(ps, p, "invalid Unicode '\\u%04X'", (unsigned)cp);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return fail(ps, p, "invalid Unicode '\\u%04X\\u%04X'", (unsigned)cp,
				            (unsigned)lo);
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			p += 6;
		} else if (cp == 0) {
			return fail(ps, p, "\\u0000 is not allowed");
		}
		o = put_utf8(o, cp);
		p += 6;
	}
	*o = '\0';
	put_u32(ps->t->p + at + head - 4, (uint32_t)(o - start));
	ps->t->len = (size_t)(o + 1 - ps->t->p);
	ps->p = p + 1;
	return 0;
}

static int parse_number(struct parser *ps)
{
	const unsigned char *p = ps->p, *start = p, *end = ps->end;
	int neg = 0, real = 0;
	unsigned char *o;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return fail_token(ps, "invalid token");
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return fail(ps, start, "invalid token");
	} else {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && *p == '.') {
		real = 1;
		if (++p >= end || *p < '0' || *p > '9')
			return fail(ps, start, "invalid token");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = 1;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(ps, start, "invalid token");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (jtape_reserve(ps->t, 9))
		return nomem(ps);
	o = ps->t->p + ps->t->len;
	if (!real) {
		/* The magnitude in uint64: up to 2^63 - 1, or 2^63 for a negative number. */
		uint64_t m = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (const unsigned char *d = start + neg; d < p; d++) {
			unsigned digit = *d - '0';
			if (m > (lim - digit) / 10)
				return fail(ps, start,
				            neg ? "too big negative integer near '%.*s'"
				                : "too big integer near '%.*s'",
				            (int)(p - start < 40 ? p - start : 40), start);
			m = m * 10 + digit;
		}
		int64_t v = neg ? (int64_t)(0 - m) : (int64_t)m;
		*o = JT_INT;
		memcpy(o + 1, &v, sizeof v);
	} else {
		/* strtod needs a terminated copy: the text is not. */
		char buf[64], *copy = buf, *stop;
		size_t n = (size_t)(p - start);
		double d;
		if (n >= sizeof buf && !(copy = malloc(n + 1)))
			return nomem(ps);
		memcpy(copy, start, n);
		copy[n] = '\0';
		errno = 0;
		d = strtod(copy, &stop);
		int over = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
		if (copy != buf)
			free(copy);
		if (over)
			return fail(ps, start, "real number overflow near '%.*s'",
			            (int)(n < 40 ? n : 40), start);
		*o = JT_REAL;
		memcpy(o + 1, &d, sizeof d);
	}
	ps->t->len += 9;
	ps->p = p;
	return 0;
}

static int parse_value(struct parser *ps, int depth);

/* The tape whose keys qsort() is sorting (qsort takes no context; parsers run in several
 * threads). */
static _Thread_local const unsigned char *sort_base;

static int key_cmp_at(const unsigned char *base, size_t a, size_t b)
{
	uint32_t la = jtape_u32(base + a), lb = jtape_u32(base + b);
	int c = memcmp(base + a + 4, base + b + 4, la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

struct keys {
	size_t small[DUP_LINEAR];
	size_t *v, n, cap;
};

static int keys_add(struct keys *k, size_t off)
{
	if (k->n < DUP_LINEAR) {
		k->small[k->n++] = off;
		return 0;
	}
	if (!k->v || k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 4 * DUP_LINEAR;
		size_t *v = realloc(k->v, cap * sizeof *v);
		if (!v)
			return -1;
		if (!k->v)
			memcpy(v, k->small, sizeof k->small);
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = off;
	return 0;
}

static int key_sort_cmp(const void *a, const void *b)
{
	return key_cmp_at(sort_base, *(const size_t *)a, *(const size_t *)b);
}

/* Whether any two keys are equal, for objects past DUP_LINEAR keys. */
static int keys_duplicated(struct keys *k, const unsigned char *base)
{
	sort_base = base;
	qsort(k->v, k->n, sizeof *k->v, key_sort_cmp);
	for (size_t i = 1; i < k->n; i++)
		if (key_cmp_at(base, k->v[i - 1], k->v[i]) == 0)
			return 1;
	return 0;
}

static int parse_container(struct parser *ps, int depth)
{
	int object = *ps->p == '{';
	size_t at = ps->t->len, count = 0;
	struct keys keys = {.n = 0};
	int rc = -1;

	if (jtape_reserve(ps->t, 9))
		return nomem(ps);
	ps->t->p[at] = object ? JT_OBJECT : JT_ARRAY;
	ps->t->len += 9;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
		ps->p++;
		goto done;
	}
	for (;;) {
		if (object) {
			size_t key_at = ps->t->len;
			if (ps->p >= ps->end || *ps->p != '"') {
				fail_token(ps,
				           count ? "string expected" : "string or '}' expected");
				goto out;
			}
			if (parse_string(ps, 0))
				goto out;
			if (keys.n < DUP_LINEAR) {
				for (size_t i = 0; i < keys.n; i++)
					if (key_cmp_at(ps->t->p, keys.small[i], key_at) == 0) {
						fail(ps, ps->p, "duplicate object key");
						goto out;
					}
			}
			if (keys_add(&keys, key_at)) {
				nomem(ps);
				goto out;
			}
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				fail_token(ps, "':' expected");
				goto out;
			}
			ps->p++;
			skip_ws(ps);
		}
		if (parse_value(ps, depth + 1))
			goto out;
		count++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
			ps->p++;
			break;
		}
		fail_token(ps, object ? "'}' expected" : "']' expected");
		goto out;
	}
	if (keys.n > DUP_LINEAR && keys_duplicated(&keys, ps->t->p)) {
		fail(ps, ps->p, "duplicate object key");
		goto out;
	}
done:
	if (ps->t->len - at - 9 > UINT32_MAX) {
		fail(ps, ps->p, "value too large");
		goto out;
	}
	put_u32(ps->t->p + at + 1, (uint32_t)count);
	put_u32(ps->t->p + at + 5, (uint32_t)(ps->t->len - at - 9));
	rc = 0;
out:
	free(keys.v);
	return rc;
}

static int literal(struct parser *ps, const char *word, size_t n, unsigned char tag)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail_token(ps, "invalid token");
	if (jtape_reserve(ps->t, 1))
		return nomem(ps);
	ps->t->p[ps->t->len++] = tag;
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, int depth)
{
	if (depth > JTAPE_MAX_DEPTH)
		return fail(ps, ps->p, "maximum parsing depth reached");
	if (ps->p >= ps->end)
		return fail(ps, ps->p, "'[' or '{' expected near end of file");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, depth);
	case '"':
		return parse_string(ps, 1);
	case 't':
		return literal(ps, "true", 4, JT_TRUE);
	case 'f':
		return literal(ps, "false", 5, JT_FALSE);
	case 'n':
		return literal(ps, "null", 4, JT_NULL);
	default:
		return parse_number(ps);
	}
}

int jtape_parse(jtape *t, const char *text, size_t len, jtape_error *e)
{
	struct parser ps = {.text = (const unsigned char *)text,
	                    .p = (const unsigned char *)text,
	                    .end = (const unsigned char *)text + len,
	                    .t = t,
	                    .e = e};
	size_t at = t->len;

	e->text[0] = '\0';
	e->line = e->column = 0;
	if (len > JTAPE_MAX_TEXT) {
		fail(&ps, ps.p, "text longer than %u bytes", JTAPE_MAX_TEXT);
		return HERALD_EINVAL;
	}
	skip_ws(&ps);
	if (parse_value(&ps, 1) == 0) {
		skip_ws(&ps);
		if (ps.p == ps.end)
			return 0;
		fail_token(&ps, "end of file expected");
	}
	t->len = at;
	if (ps.nomem) {
		snprintf(e->text, sizeof e->text, "out of memory");
		return HERALD_ENOMEM;
	}
	return HERALD_EINVAL;
}

/* ---- From a jansson tree ---- */

static int put_key(jtape *t, const char *s, size_t n, int tagged)
{
	size_t head = tagged ? 5 : 4;
	if (n > UINT32_MAX || jtape_reserve(t, head + n + 1))
		return HERALD_ENOMEM;
	if (tagged)
		t->p[t->len] = JT_STRING;
	put_u32(t->p + t->len + head - 4, (uint32_t)n);
	memcpy(t->p + t->len + head, s, n);
	t->p[t->len + head + n] = '\0';
	t->len += head + n + 1;
	return 0;
}

static int from_json(jtape *t, const json_t *v, int depth)
{
	size_t at = t->len, count = 0, keylen, i;
	const char *key;
	json_t *item;
	int rc;

	if (depth > JTAPE_MAX_DEPTH)
		return HERALD_EINVAL;
	if (jtape_reserve(t, 9))
		return HERALD_ENOMEM;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		t->p[at] = JT_OBJECT;
		t->len += 9;
		json_object_keylen_foreach((json_t *)v, key, keylen, item)
		{
			if ((rc = put_key(t, key, keylen, 0)) ||
			    (rc = from_json(t, item, depth + 1)))
				return rc;
			count++;
		}
		break;
	case JSON_ARRAY:
		t->p[at] = JT_ARRAY;
		t->len += 9;
		json_array_foreach(v, i, item)
		{
			if ((rc = from_json(t, item, depth + 1)))
				return rc;
			count++;
		}
		break;
	case JSON_STRING:
		return put_key(t, json_string_value(v), json_string_length(v), 1);
	case JSON_INTEGER: {
		int64_t n = json_integer_value(v);
		t->p[at] = JT_INT;
		memcpy(t->p + at + 1, &n, sizeof n);
		t->len += 9;
		return 0;
	}
	case JSON_REAL: {
		double d = json_real_value(v);
		t->p[at] = JT_REAL;
		memcpy(t->p + at + 1, &d, sizeof d);
		t->len += 9;
		return 0;
	}
	case JSON_TRUE:
		t->p[t->len++] = JT_TRUE;
		return 0;
	case JSON_FALSE:
		t->p[t->len++] = JT_FALSE;
		return 0;
	case JSON_NULL:
		t->p[t->len++] = JT_NULL;
		return 0;
	}
	if (t->len - at - 9 > UINT32_MAX)
		return HERALD_ENOMEM;
	put_u32(t->p + at + 1, (uint32_t)count);
	put_u32(t->p + at + 5, (uint32_t)(t->len - at - 9));
	return 0;
}

int jtape_from_json(jtape *t, const json_t *v)
{
	size_t at = t->len;
	int rc = from_json(t, v, 1);
	if (rc)
		t->len = at;
	return rc;
}

/* ---- Reading ---- */

const unsigned char *jtape_next(const unsigned char *v)
{
	switch (*v) {
	case JT_INT:
	case JT_REAL:
		return v + 9;
	case JT_STRING:
		return v + 5 + jtape_u32(v + 1) + 1;
	case JT_ARRAY:
	case JT_OBJECT:
		return v + 9 + jtape_u32(v + 5);
	default:
		return v + 1;
	}
}

const unsigned char *jtape_get(const unsigned char *obj, const char *key, size_t len)
{
	const unsigned char *m = jtape_first(obj);

	for (uint32_t i = jtape_count(obj); i > 0; i--) {
		size_t klen;
		const char *k = jtape_key(m, &klen);
		const unsigned char *v = jtape_member_value(m);
		if (klen == len && memcmp(k, key, len) == 0)
			return v;
		m = jtape_next(v);
	}
	return NULL;
}

void jtape_write(jsonw *w, const unsigned char *v)
{
	const unsigned char *m;
	size_t len;
	const char *s;

	switch (*v) {
	case JT_OBJECT:
		jsonw_lit(w, "{");
		m = jtape_first(v);
		for (uint32_t i = 0, n = jtape_count(v); i < n; i++) {
			if (i)
				jsonw_lit(w, ",");
			s = jtape_key(m, &len);
			jsonw_string(w, s, len);
			jsonw_lit(w, ":");
			m = jtape_member_value(m);
			jtape_write(w, m);
			m = jtape_next(m);
		}
		jsonw_lit(w, "}");
		break;
	case JT_ARRAY:
		jsonw_lit(w, "[");
		m = jtape_first(v);
		for (uint32_t i = 0, n = jtape_count(v); i < n; i++) {
			if (i)
				jsonw_lit(w, ",");
			jtape_write(w, m);
			m = jtape_next(m);
		}
		jsonw_lit(w, "]");
		break;
	case JT_STRING:
		s = jtape_str(v, &len);
		jsonw_string(w, s, len);
		break;
	case JT_INT:
		jsonw_int(w, jtape_int(v));
		break;
	case JT_REAL:
		jsonw_real(w, jtape_real(v));
		break;
	case JT_TRUE:
		jsonw_lit(w, "true");
		break;
	case JT_FALSE:
		jsonw_lit(w, "false");
		break;
	default:
		jsonw_lit(w, "null");
	}
}
