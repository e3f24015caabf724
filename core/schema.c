/*
 * schema.c - field tables applied to a YAML tree (see schema.h).
 *
 * One converter turns a node into a typed value and one function formats every error, so the
 * core's keys and the plugins' options accept and refuse values the same way.
 */
#include "schema.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Small helpers ---- */

__attribute__((format(printf, 4, 0))) static size_t schema_vput(char *buf, size_t len, size_t k,
                                                                const char *fmt, va_list ap)
{
	int r;

	if (k >= len)
		return k;
	r = vsnprintf(buf + k, len - k, fmt, ap);
	if (r < 0)
		return k;
	return k + (size_t)r < len ? k + (size_t)r : len - 1;
}

/* Append to buf[len] at k, never overflowing; returns the new end. */
__attribute__((format(printf, 4, 5))) static size_t schema_put(char *buf, size_t len, size_t k,
                                                               const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	k = schema_vput(buf, len, k, fmt, ap);
	va_end(ap);
	return k;
}

static char *schema_path_join(const char *dir, const char *p)
{
	size_t n = strlen(dir), plen = strlen(p);
	char *s;

	if (p[0] == '/' || n == 0)
		return strdup(p);
	if (!(s = malloc(n + 1 + plen + 1)))
		return NULL;
	snprintf(s, n + 1 + plen + 1, "%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", p);
	return s;
}

int schema_file_read(const char *path, char **out, size_t *outlen, int *sys_errno, bool *opened)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, r;
	int e = 0;

	*opened = f != NULL;
	if (!f) {
		*sys_errno = errno;
		return errno == ENOMEM ? HERALD_ENOMEM : HERALD_EIO;
	}
	for (;;) {
		if (cap - len < 4097) {
			cap = cap ? cap * 2 : 8192;
			if (!(nb = realloc(buf, cap))) {
				e = ENOMEM;
				break;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0) {
			if (ferror(f))
				e = errno ? errno : EIO;
			break;
		}
	}
	fclose(f);
	if (e) {
		free(buf);
		*sys_errno = e;
		return e == ENOMEM ? HERALD_ENOMEM : HERALD_EIO;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static bool schema_parse_int(const char *s, long long *out)
{
	unsigned long long v = 0, limit = LLONG_MAX;
	bool neg = false;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (neg)
		limit += 1;
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (*s < '0' || *s > '9' || v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (!neg)
		*out = (long long)v;
	else
		*out = v == limit ? LLONG_MIN : -(long long)v;
	return true;
}

/* YAML 1.1's booleans, as operators expect them. False when s is none of them. */
static bool schema_parse_bool(const char *s, bool *out)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off"};

	for (int i = 0; i < 6; i++) {
		if (strcasecmp(s, words[i]) == 0) {
			*out = i % 2 == 0;
			return true;
		}
	}
	return false;
}

/* The index of `s` in NULL-ended `names`, or HERALD_ENOTFOUND. */
static int schema_name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return HERALD_ENOTFOUND;
}

static void schema_names_join(char *buf, size_t len, const char *const *names)
{
	size_t k = 0;

	buf[0] = '\0';
	for (int i = 0; names[i]; i++)
		k = schema_put(buf, len, k, "%s%s", i ? ", " : "", names[i]);
}

const schema_field *schema_field_find(const schema_field *fields, const char *name)
{
	for (; fields->name; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

const char *schema_nonempty(const char *s)
{
	return *s ? NULL : "a non-empty string";
}

/* ---- Errors ---- */

int schema_fail(schema_ctx *c, const yaml_tree_node *n, const char *path, const char *fmt, ...)
{
	const yaml_tree_node *at = c->in_default ? c->at : n;
	size_t k;
	va_list ap;

	if (!c->err || !c->errlen)
		return HERALD_ECONFIG;
	if (at && at->line > 0)
		k = schema_put(c->err, c->errlen, 0, "%s:%d:%d: ", c->file, at->line, at->col);
	else
		k = schema_put(c->err, c->errlen, 0, "%s: ", c->file);
	if (path && *path)
		k = schema_put(c->err, c->errlen, k, "%s: ", path);
	va_start(ap, fmt);
	schema_vput(c->err, c->errlen, k, fmt, ap);
	va_end(ap);
	return HERALD_ECONFIG;
}

int schema_oom(schema_ctx *c)
{
	schema_fail(c, NULL, NULL, "out of memory");
	return HERALD_ENOMEM;
}

const char *schema_describe(const yaml_tree_node *n, bool hide, char *buf, size_t len)
{
	if (n->kind == YAML_TREE_MAP)
		return "a mapping";
	if (n->kind == YAML_TREE_SEQ)
		return "a list";
	if (yaml_tree_is_null(n))
		return "null";
	if (hide)
		return "a plain value";
	snprintf(buf, len, "\"%.64s%s\"", n->text, strlen(n->text) > 64 ? "..." : "");
	return buf;
}

/* What a field accepts, as the end of "must be ...". */
static const char *schema_expect(const schema_field *f, char *buf, size_t len)
{
	switch (f->type) {
	case SCHEMA_STRING:
	case SCHEMA_OPTSTR:
		return "a string";
	case SCHEMA_PATH:
		return "a path";
	case SCHEMA_INT:
		if (!f->min && !f->max)
			return "an integer";
		snprintf(buf, len, "an integer from %lld to %lld", f->min, f->max);
		return buf;
	case SCHEMA_BOOL:
		return "true or false";
	case SCHEMA_SECRET:
		return "a mapping with `env` or `file`";
	case SCHEMA_LIST:
		return "a list of strings";
	case SCHEMA_CHOICE:
	case SCHEMA_FLAGS: {
		size_t k = schema_put(buf, len, 0, "%s",
		                      f->type == SCHEMA_CHOICE ? "one of " : "one or more of ");
		schema_names_join(buf + k, len - k, f->sub);
		return buf;
	}
	case SCHEMA_RECORDS:
		return "a list of mappings";
	default:
		return "a mapping";
	}
}

static int schema_type_error(schema_ctx *c, const yaml_tree_node *n, const schema_field *f,
                             const char *path)
{
	char want[256], seen[96];

	return schema_fail(c, n, path, "must be %s, got %s", schema_expect(f, want, sizeof want),
	                   schema_describe(n, f->type == SCHEMA_SECRET, seen, sizeof seen));
}

/* ---- Values ---- */

void schema_value_free(schema_value *v)
{
	if (v->str) {
		explicit_bzero(v->str, v->len);
		free(v->str);
	}
	for (size_t i = 0; i < v->n_items; i++)
		free(v->items[i]);
	free(v->items);
	memset(v, 0, sizeof *v);
}

typedef struct schema_secret_src {
	char *env, *file;
} schema_secret_src;

#define AT(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* clang-format off */
static const schema_field schema_secret_fields[] = {
	{.name = "env", .type = SCHEMA_STRING, .check = schema_nonempty, AT(schema_secret_src, env),
	 .description = "environment variable that holds the value"},
	{.name = "file", .type = SCHEMA_PATH, AT(schema_secret_src, file),
	 .description = "file that holds the value"},
	{0},
};
/* clang-format on */

/* A secret: a mapping naming exactly one of an environment variable or a file. */
static int schema_secret_read(schema_ctx *c, const yaml_tree_node *n, const char *path,
                              schema_value *v)
{
	schema_secret_src src = {0};
	bool opened;
	int rc, e;

	rc = schema_walk(c, n, n, path, ".", "key", schema_secret_fields, &src);
	if (rc == 0 && !src.env == !src.file)
		rc = schema_fail(c, n, path, "must have exactly one of `env` or `file`");
	if (rc == 0 && src.env) {
		const char *val = getenv(src.env);
		if (!val || !*val)
			rc = schema_fail(c, yaml_tree_get(n, "env"), path,
			                 "environment variable %s is %s", src.env,
			                 val ? "empty" : "not set");
		else if (!(v->str = strdup(val)))
			rc = schema_oom(c);
		else
			v->len = strlen(val);
	} else if (rc == 0) {
		if (schema_file_read(src.file, &v->str, &v->len, &e, &opened) != 0) {
			rc = schema_fail(c, yaml_tree_get(n, "file"), path,
			                 "cannot read file %s: %s", src.file, strerror(e));
		} else {
			if (v->len > 0 && v->str[v->len - 1] == '\n')
				v->len -= v->len > 1 && v->str[v->len - 2] == '\r' ? 2 : 1;
			v->str[v->len] = '\0';
			if (v->len == 0)
				rc = schema_fail(c, yaml_tree_get(n, "file"), path,
				                 "file %s is empty", src.file);
		}
	}
	schema_free(schema_secret_fields, &src);
	return rc;
}

/* A LIST or FLAGS value: a sequence of plain values, or one plain value as a list of one. */
static int schema_convert_items(schema_ctx *c, const yaml_tree_node *n, const schema_field *f,
                                const char *path, schema_value *v)
{
	size_t count = n->kind == YAML_TREE_SEQ ? n->n : 1;
	char ipath[256], want[256], seen[96];

	if (n->kind == YAML_TREE_MAP)
		return schema_type_error(c, n, f, path);
	if (f->type == SCHEMA_FLAGS && count == 0)
		return schema_fail(c, n, path, "must be %s, got an empty list",
		                   schema_expect(f, want, sizeof want));
	if (f->type == SCHEMA_LIST && count && !(v->items = calloc(count, sizeof *v->items)))
		return schema_oom(c);
	for (size_t i = 0; i < count; i++) {
		const yaml_tree_node *it = n->kind == YAML_TREE_SEQ ? n->kids[i] : n;
		int k;

		if (n->kind == YAML_TREE_SEQ)
			schema_put(ipath, sizeof ipath, 0, "%s[%zu]", path, i);
		else
			schema_put(ipath, sizeof ipath, 0, "%s", path);
		if (f->type == SCHEMA_FLAGS) {
			if (it->kind != YAML_TREE_SCALAR ||
			    (k = schema_name_index(f->sub, it->text)) < 0) {
				schema_names_join(want, sizeof want, f->sub);
				return schema_fail(c, it, ipath, "must be one of %s, got %s", want,
				                   schema_describe(it, false, seen, sizeof seen));
			}
			v->num |= 1LL << k;
		} else {
			if (it->kind != YAML_TREE_SCALAR)
				return schema_fail(c, it, ipath, "must be a string, got %s",
				                   schema_describe(it, false, seen, sizeof seen));
			if (!(v->items[i] = strdup(it->text)))
				return schema_oom(c);
			v->n_items = i + 1;
		}
	}
	return 0;
}

/* Convert node n (never a null meant as absent) into *v, which the caller frees on error. */
static int schema_convert(schema_ctx *c, const yaml_tree_node *n, const schema_field *f,
                          const char *path, schema_value *v)
{
	char seen[96];
	const char *why;
	bool b;

	v->set = true;
	switch (f->type) {
	case SCHEMA_SECRET:
		if (n->kind != YAML_TREE_MAP)
			return schema_type_error(c, n, f, path);
		return schema_secret_read(c, n, path, v);
	case SCHEMA_MAP:
		if (n->kind != YAML_TREE_MAP)
			return schema_type_error(c, n, f, path);
		v->node = n;
		return 0;
	case SCHEMA_LIST:
	case SCHEMA_FLAGS:
		return schema_convert_items(c, n, f, path, v);
	case SCHEMA_STRING:
	case SCHEMA_OPTSTR:
	case SCHEMA_PATH:
	case SCHEMA_INT:
	case SCHEMA_BOOL:
	case SCHEMA_CHOICE:
		break;
	default:
		return schema_fail(c, n, path, "has an unknown type %d in the schema", f->type);
	}
	if (n->kind != YAML_TREE_SCALAR)
		return schema_type_error(c, n, f, path);
	switch (f->type) {
	case SCHEMA_INT:
		if (!schema_parse_int(n->text, &v->num) ||
		    ((f->min || f->max) && (v->num < f->min || v->num > f->max)))
			return schema_type_error(c, n, f, path);
		return 0;
	case SCHEMA_BOOL:
		if (!schema_parse_bool(n->text, &b))
			return schema_type_error(c, n, f, path);
		v->num = b;
		return 0;
	case SCHEMA_CHOICE:
		if ((v->num = schema_name_index(f->sub, n->text)) < 0)
			return schema_type_error(c, n, f, path);
		return 0;
	case SCHEMA_OPTSTR:
		if (yaml_tree_is_null(n) || !*n->text) {
			v->set = false;
			return 0;
		}
		break;
	case SCHEMA_PATH:
		if (!*n->text)
			return schema_type_error(c, n, f, path);
		break;
	}
	if (f->check && (why = f->check(n->text)) != NULL)
		return schema_fail(c, n, path, "must be %s, got %s", why,
		                   schema_describe(n, false, seen, sizeof seen));
	v->str = f->type == SCHEMA_PATH ? schema_path_join(c->dir, n->text) : strdup(n->text);
	if (!v->str)
		return schema_oom(c);
	v->len = strlen(v->str);
	return 0;
}

/* The value of field f: node n, or the field's default when n is NULL. Errors in a default
 * point at `where`. */
static int schema_field_value(schema_ctx *c, const yaml_tree_node *n, const yaml_tree_node *where,
                              const schema_field *f, const char *path, schema_value *v)
{
	static char empty_text[1];
	yaml_tree_node empty = {.kind = YAML_TREE_SCALAR, .plain = true, .text = empty_text}, *d;
	char dpath[256];
	yaml_tree_error e;
	int rc;

	if (n)
		rc = schema_convert(c, n, f, path, v);
	else if (!f->def)
		return 0;
	else if ((rc = yaml_tree_parse(f->def, strlen(f->def), &d, &e)) != 0)
		return schema_fail(c, where, path, "invalid default `%s` in the schema: %s", f->def,
		                   e.msg);
	else {
		schema_put(dpath, sizeof dpath, 0, "%s (default)", path);
		c->at = where;
		c->in_default = true;
		rc = schema_convert(c, d ? d : &empty, f, dpath, v);
		c->in_default = false;
		yaml_tree_free(d);
	}
	if (rc)
		schema_value_free(v);
	return rc;
}

static void schema_store(const schema_field *f, void *base, schema_value *v)
{
	char *p = (char *)base + f->off;

	if (f->whole) {
		memcpy(p, v, sizeof *v);
		return;
	}
	switch (f->type) {
	case SCHEMA_INT:
	case SCHEMA_BOOL:
	case SCHEMA_CHOICE:
	case SCHEMA_FLAGS:
		if (!v->set)
			return;
		if (f->size == sizeof(int)) {
			int x = (int)v->num;
			memcpy(p, &x, sizeof x);
		} else {
			memcpy(p, &v->num, sizeof v->num);
		}
		return;
	case SCHEMA_MAP:
		memcpy(p, &v->node, sizeof v->node);
		return;
	case SCHEMA_LIST:
		memcpy(p, &v->items, sizeof v->items);
		memcpy((char *)base + f->len_off, &v->n_items, sizeof v->n_items);
		return;
	default:
		memcpy(p, &v->str, sizeof v->str);
		if (f->len_off)
			memcpy((char *)base + f->len_off, &v->len, sizeof v->len);
	}
}

/* A RECORDS value: each item of the list n is a mapping walked into its own element. The count
 * grows before each walk, so a failure leaves every element touched for schema_free. */
static int schema_records(schema_ctx *c, const yaml_tree_node *n, const schema_field *f,
                          const char *path, void *base)
{
	char label[256], *elems;
	size_t count;

	if (!n)
		return 0;
	if (n->kind != YAML_TREE_SEQ)
		return schema_type_error(c, n, f, path);
	if (n->n == 0)
		return 0;
	if (!(elems = calloc(n->n, f->elem_size)))
		return schema_oom(c);
	memcpy((char *)base + f->off, &elems, sizeof elems);
	for (size_t i = 0; i < n->n; i++) {
		char *elem = elems + i * f->elem_size;
		int mark[2] = {n->kids[i]->line, n->kids[i]->col}, rc;

		count = i + 1;
		memcpy((char *)base + f->len_off, &count, sizeof count);
		if (f->mark_off)
			memcpy(elem + f->mark_off, mark, sizeof mark);
		schema_put(label, sizeof label, 0, "%s[%zu]", path, i);
		if ((rc = schema_walk(c, n->kids[i], n->kids[i], label, ".", "key", f->sub, elem)))
			return rc;
	}
	return 0;
}

int schema_walk(schema_ctx *c, const yaml_tree_node *map, const yaml_tree_node *where,
                const char *label, const char *sep, const char *noun, const schema_field *fields,
                void *base)
{
	char path[256], seen[96], valid[512];
	size_t k = 0;
	schema_value v;
	int rc;

	if (map && map->kind != YAML_TREE_MAP)
		return schema_fail(c, map, label, "must be a mapping, got %s",
		                   schema_describe(map, false, seen, sizeof seen));
	for (size_t i = 0; map && i < map->n; i += 2) {
		const yaml_tree_node *key = map->kids[i];
		if (!schema_field_find(fields, key->text)) {
			valid[0] = '\0';
			for (const schema_field *f = fields; f->name; f++)
				k = schema_put(valid, sizeof valid, k, "%s%s",
				               f == fields ? "" : ", ", f->name);
			return schema_fail(c, key, label, "unknown %s `%s` (valid: %s)", noun,
			                   key->text, fields->name ? valid : "none");
		}
		for (size_t j = 0; j < i; j += 2) {
			if (strcmp(map->kids[j]->text, key->text) == 0) {
				schema_put(path, sizeof path, 0, "%s%s%s", label, *label ? sep : "",
				           key->text);
				return schema_fail(c, key, path,
				                   "duplicate key, first given at %d:%d",
				                   map->kids[j]->line, map->kids[j]->col);
			}
		}
	}
	for (const schema_field *f = fields; f->name; f++) {
		const yaml_tree_node *n = yaml_tree_get(map, f->name);

		schema_put(path, sizeof path, 0, "%s%s%s", label, *label ? sep : "", f->name);
		/* A null value stands for the default, except where null has a meaning. */
		if (yaml_tree_is_null(n) && f->type != SCHEMA_OPTSTR)
			n = NULL;
		memset(&v, 0, sizeof v);
		if (f->type == SCHEMA_SECTION)
			rc = schema_walk(c, n, n ? n : where, path, ".", "key", f->sub, base);
		else if (f->type == SCHEMA_RECORDS)
			rc = schema_records(c, n, f, path, base);
		else if (f->required && !n)
			rc = schema_fail(c, where, label, "missing key `%s` (%s)", f->name,
			                 f->description);
		else if ((rc = schema_field_value(c, n, where, f, path, &v)) == 0)
			schema_store(f, base, &v);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- Freeing ---- */

static void schema_ptr_free(void *at, size_t wipe_len)
{
	char *s;

	memcpy(&s, at, sizeof s);
	if (s && wipe_len)
		explicit_bzero(s, wipe_len);
	free(s);
	s = NULL;
	memcpy(at, &s, sizeof s);
}

void schema_free(const schema_field *fields, void *base)
{
	for (const schema_field *f = fields; f->name; f++) {
		char *p = (char *)base + f->off, *s, **items, *elems;
		size_t n = 0;

		if (f->whole) {
			schema_value_free((schema_value *)(void *)p);
			continue;
		}
		if (f->len_off)
			memcpy(&n, (char *)base + f->len_off, sizeof n);
		switch (f->type) {
		case SCHEMA_SECTION:
			schema_free(f->sub, base);
			break;
		case SCHEMA_STRING:
		case SCHEMA_OPTSTR:
		case SCHEMA_PATH:
			schema_ptr_free(p, 0);
			break;
		case SCHEMA_SECRET:
			memcpy(&s, p, sizeof s);
			schema_ptr_free(p, !s ? 0 : f->len_off ? n : strlen(s));
			break;
		case SCHEMA_LIST:
			memcpy(&items, p, sizeof items);
			for (size_t i = 0; items && i < n; i++)
				free(items[i]);
			schema_ptr_free(p, 0);
			break;
		case SCHEMA_RECORDS:
			memcpy(&elems, p, sizeof elems);
			for (size_t i = 0; elems && i < n; i++)
				schema_free(f->sub, elems + i * f->elem_size);
			schema_ptr_free(p, 0);
			break;
		default: /* numbers, and MAP: a node borrowed from the tree */
			break;
		}
	}
}
