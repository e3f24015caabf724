/*
 * config.c - see config.h.
 *
 * The YAML text becomes a tree of cfg_node (libyaml's event API), which is then walked against
 * tables of `field`: the core's tables below, and for each plugin a table built from its
 * herald_option array. One converter turns a node into a typed value and one function formats
 * every error, so the core and the plugins accept and refuse values the same way.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#ifndef HERALD_DEFAULT_PLUGIN_DIR
#define HERALD_DEFAULT_PLUGIN_DIR "/usr/local/lib/herald/plugins"
#endif

/* Deeper nesting than this is refused rather than risking the stack on a hostile file. */
#define MAX_DEPTH 64

enum { NODE_SCALAR, NODE_MAP, NODE_SEQ };

typedef struct cfg_node {
	int kind;
	int line, col;          /* 1-based */
	bool plain;             /* an unquoted scalar: only those can be null */
	char *text;             /* NODE_SCALAR */
	struct cfg_node **kids; /* NODE_SEQ: the items; NODE_MAP: key, value, key, value, ... */
	size_t n;               /* entries in kids */
} cfg_node;

struct cfg_doc {
	cfg_node *root; /* NULL for an empty document */
	char *dir;      /* relative paths resolve against it */
};

/* Value types: the plugin ABI's first, so a herald_option's type is used as is. */
enum {
	T_STRING = HERALD_OPT_STRING,
	T_INT = HERALD_OPT_INT,
	T_BOOL = HERALD_OPT_BOOL,
	T_SECRET = HERALD_OPT_SECRET,
	T_LIST = HERALD_OPT_LIST,
	T_OPTSTR = 16, /* a string; null or "" leaves it unset */
	T_PATH,        /* a string resolved against the config file's directory */
	T_CHOICE,      /* one of `sub` (names); the value is its index */
	T_FLAGS,       /* one or more of `sub` (names); bit i stands for name i */
	T_MAP,         /* a mapping kept as a node, checked later (plugin options) */
	T_SECTION,     /* a mapping checked against the field table `sub` */
	T_PLUGINS,     /* the `plugins:` list */
};

/* One converted value. Strings are owned. */
typedef struct cfg_value {
	bool set;
	char *str;     /* STRING, OPTSTR, PATH, SECRET */
	size_t len;    /* of str */
	long long num; /* INT, BOOL, CHOICE, FLAGS */
	char **items;  /* LIST */
	size_t n_items;
	const cfg_node *node; /* MAP */
} cfg_value;

/* One key of a schema. A table of them ends with a NULL name. */
typedef struct field {
	const char *name;
	int type;
	const char *def;    /* the default as YAML text; NULL: unset unless given */
	long long min, max; /* bounds of an INT (none when both are 0) */
	const void *sub;    /* SECTION: a field table; CHOICE, FLAGS: NULL-ended names */
	const char *(*check)(const char *s); /* STRING: NULL if s is fine, else what it must be */
	size_t off, size;                    /* where the value goes in the target struct */
	size_t len_off; /* SECRET: offset of a size_t receiving the length, or 0 */
	bool required;
	bool whole; /* store the cfg_value itself at `off` (plugin options) */
	const char *description;
} field;

struct plugin_opts {
	const herald_option *schema; /* borrowed from the plugin */
	size_t n;
	cfg_value *values; /* one per schema entry */
};

typedef struct loader {
	const char *file; /* for messages */
	const char *dir;  /* relative paths resolve against it */
	char *err;
	size_t errlen;
	const cfg_node *at; /* while a default is converted, errors point here */
	bool in_default;
} loader;

static int walk(loader *ld, const cfg_node *map, const cfg_node *where, const char *label,
                const char *sep, const char *noun, const field *fields, void *base);
static int plugins_load(loader *ld, const cfg_node *n, const char *path, herald_config *cfg);

/* ---- Small helpers ---- */

__attribute__((format(printf, 4, 0))) static size_t vput(char *buf, size_t len, size_t k,
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

__attribute__((format(printf, 4, 5))) static size_t put(char *buf, size_t len, size_t k,
                                                        const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	k = vput(buf, len, k, fmt, ap);
	va_end(ap);
	return k;
}

__attribute__((format(printf, 1, 2))) static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(s = malloc((size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static char *path_join(const char *dir, const char *p)
{
	size_t n = strlen(dir);

	if (p[0] == '/' || n == 0)
		return strdup(p);
	return str_printf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", p);
}

/* Read a whole file into a NUL-terminated buffer. Returns 0 or an errno value; *opened tells
 * whether the failure came after the file was opened. */
static int file_read(const char *path, char **out, size_t *outlen, bool *opened)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, r;
	int rc = 0;

	*opened = f != NULL;
	if (!f)
		return errno;
	for (;;) {
		if (cap - len < 4097) {
			cap = cap ? cap * 2 : 8192;
			if (!(nb = realloc(buf, cap))) {
				rc = ENOMEM;
				break;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0) {
			if (ferror(f))
				rc = errno ? errno : EIO;
			break;
		}
	}
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static bool parse_int(const char *s, long long *out)
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

/* YAML 1.1's booleans, as operators expect them. Returns 1, 0, or -1 for neither. */
static int parse_bool(const char *s)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off"};

	for (int i = 0; i < 6; i++)
		if (strcasecmp(s, words[i]) == 0)
			return i % 2 == 0;
	return -1;
}

static int name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static void names_join(char *buf, size_t len, const char *const *names)
{
	size_t k = 0;

	buf[0] = '\0';
	for (int i = 0; names[i]; i++)
		k = put(buf, len, k, "%s%s", i ? ", " : "", names[i]);
}

/* ---- The tree ---- */

static void node_free(cfg_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static bool is_null(const cfg_node *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};

	return n && n->kind == NODE_SCALAR && n->plain && name_index(nulls, n->text) >= 0;
}

/* The value of `key` in mapping `map`, or NULL. */
static const cfg_node *map_get(const cfg_node *map, const char *key)
{
	if (!map || map->kind != NODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (strcmp(map->kids[i]->text, key) == 0)
			return map->kids[i + 1];
	return NULL;
}

/* Where and why the YAML could not be read. */
typedef struct yerr {
	int line, col;
	char msg[256];
} yerr;

static int yerr_at(yerr *e, const yaml_mark_t *m, const char *msg)
{
	e->line = (int)m->line + 1;
	e->col = (int)m->column + 1;
	snprintf(e->msg, sizeof e->msg, "%s", msg);
	return HERALD_ECONFIG;
}

static int yerr_parser(yerr *e, const yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_MEMORY_ERROR) {
		e->line = e->col = 0;
		snprintf(e->msg, sizeof e->msg, "out of memory");
		return HERALD_ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		/* The reader (bad encoding) reports a byte offset, not a mark. */
		e->line = e->col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			e->col = buf[i] == '\n' ? 1 : e->col + 1;
			e->line += buf[i] == '\n';
		}
		snprintf(e->msg, sizeof e->msg, "%s", problem);
		return HERALD_ECONFIG;
	}
	yerr_at(e, &p->problem_mark, problem);
	if (p->context)
		snprintf(e->msg, sizeof e->msg, "%s (%s at %zu:%zu)", problem, p->context,
		         p->context_mark.line + 1, p->context_mark.column + 1);
	return HERALD_ECONFIG;
}

/* Build the node that event `ev` starts, reading the events of its children from p. */
static int tree_node(yaml_parser_t *p, const yaml_event_t *ev, int depth, cfg_node **out, yerr *e,
                     const char *buf, size_t len)
{
	yaml_char_t *anchor, *tag;
	yaml_event_type_t end;
	cfg_node *n, *kid, **nk;
	size_t cap = 0;
	int rc;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		end = YAML_NO_EVENT;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		end = YAML_SEQUENCE_END_EVENT;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		end = YAML_MAPPING_END_EVENT;
		break;
	default: /* YAML_ALIAS_EVENT: nothing else can start a node */
		return yerr_at(e, &ev->start_mark, "aliases are not supported");
	}
	if (anchor)
		return yerr_at(e, &ev->start_mark, "anchors and aliases are not supported");
	if (tag)
		return yerr_at(e, &ev->start_mark, "tags are not supported");
	if (depth > MAX_DEPTH)
		return yerr_at(e, &ev->start_mark, "nested too deeply");
	if (!(n = calloc(1, sizeof *n)))
		goto nomem;
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	if (end == YAML_NO_EVENT) {
		n->kind = NODE_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n->text)
			goto nomem;
		*out = n;
		return 0;
	}
	n->kind = end == YAML_MAPPING_END_EVENT ? NODE_MAP : NODE_SEQ;
	for (;;) {
		yaml_event_t child;

		if (!yaml_parser_parse(p, &child)) {
			rc = yerr_parser(e, p, buf, len);
			goto fail;
		}
		if (child.type == end) {
			yaml_event_delete(&child);
			break;
		}
		kid = NULL;
		rc = tree_node(p, &child, depth + 1, &kid, e, buf, len);
		yaml_event_delete(&child);
		if (rc)
			goto fail;
		if (n->n == cap) {
			cap = cap ? cap * 2 : 8;
			if (!(nk = realloc(n->kids, cap * sizeof *nk))) {
				node_free(kid);
				goto nomem;
			}
			n->kids = nk;
		}
		n->kids[n->n++] = kid;
		if (n->kind == NODE_MAP && n->n % 2 == 1 && kid->kind != NODE_SCALAR) {
			e->line = kid->line;
			e->col = kid->col;
			snprintf(e->msg, sizeof e->msg, "a key must be a plain value");
			rc = HERALD_ECONFIG;
			goto fail;
		}
	}
	*out = n;
	return 0;
nomem:
	e->line = e->col = 0;
	snprintf(e->msg, sizeof e->msg, "out of memory");
	rc = HERALD_ENOMEM;
fail:
	node_free(n);
	return rc;
}

/* Parse one YAML document into *root (NULL when the text holds no document). */
static int tree_parse(const char *buf, size_t len, cfg_node **root, yerr *e)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int docs = 0, rc = 0;
	bool done = false;

	*root = NULL;
	if (!yaml_parser_initialize(&p)) {
		e->line = e->col = 0;
		snprintf(e->msg, sizeof e->msg, "out of memory");
		return HERALD_ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = yerr_parser(e, &p, buf, len);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc =
				    yerr_at(e, &ev.start_mark, "only one YAML document is allowed");
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_ALIAS_EVENT:
			rc = tree_node(&p, &ev, 0, root, e, buf, len);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (rc) {
		node_free(*root);
		*root = NULL;
	}
	return rc;
}

/* ---- Errors ---- */

/* Write "FILE:LINE:COL: PATH: message" into ld->err. Returns HERALD_ECONFIG. */
__attribute__((format(printf, 4, 5))) static int fail(loader *ld, const cfg_node *n,
                                                      const char *path, const char *fmt, ...)
{
	const cfg_node *at = ld->in_default ? ld->at : n;
	size_t k;
	va_list ap;

	if (!ld->err || !ld->errlen)
		return HERALD_ECONFIG;
	if (at && at->line > 0)
		k = put(ld->err, ld->errlen, 0, "%s:%d:%d: ", ld->file, at->line, at->col);
	else
		k = put(ld->err, ld->errlen, 0, "%s: ", ld->file);
	if (path && *path)
		k = put(ld->err, ld->errlen, k, "%s: ", path);
	va_start(ap, fmt);
	vput(ld->err, ld->errlen, k, fmt, ap);
	va_end(ap);
	return HERALD_ECONFIG;
}

static int oom(loader *ld)
{
	fail(ld, NULL, NULL, "out of memory");
	return HERALD_ENOMEM;
}

/* How a node looks in a message. A secret's text is never shown. */
static const char *got(const cfg_node *n, bool hide, char *buf, size_t len)
{
	if (n->kind == NODE_MAP)
		return "a mapping";
	if (n->kind == NODE_SEQ)
		return "a list";
	if (is_null(n))
		return "null";
	if (hide)
		return "a plain value";
	snprintf(buf, len, "\"%.64s%s\"", n->text, strlen(n->text) > 64 ? "..." : "");
	return buf;
}

/* What a field accepts, as the end of "must be ...". */
static const char *expect(const field *f, char *buf, size_t len)
{
	switch (f->type) {
	case T_STRING:
	case T_OPTSTR:
		return "a string";
	case T_PATH:
		return "a path";
	case T_INT:
		if (!f->min && !f->max)
			return "an integer";
		snprintf(buf, len, "an integer from %lld to %lld", f->min, f->max);
		return buf;
	case T_BOOL:
		return "true or false";
	case T_SECRET:
		return "a mapping with `env` or `file`";
	case T_LIST:
		return "a list of strings";
	case T_CHOICE:
	case T_FLAGS: {
		size_t k =
		    put(buf, len, 0, "%s", f->type == T_CHOICE ? "one of " : "one or more of ");
		names_join(buf + k, len - k, f->sub);
		return buf;
	}
	case T_PLUGINS:
		return "a list of mappings";
	default:
		return "a mapping";
	}
}

static int type_error(loader *ld, const cfg_node *n, const field *f, const char *path)
{
	char want[256], seen[96];

	return fail(ld, n, path, "must be %s, got %s", expect(f, want, sizeof want),
	            got(n, f->type == T_SECRET, seen, sizeof seen));
}

/* ---- Values ---- */

static void value_free(cfg_value *v)
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

static const char *nonempty(const char *s)
{
	return *s ? NULL : "a non-empty string";
}

typedef struct secret_src {
	char *env, *file;
} secret_src;

#define AT(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* clang-format off */
static const field secret_fields[] = {
	{.name = "env", .type = T_STRING, .check = nonempty, AT(secret_src, env),
	 .description = "environment variable that holds the value"},
	{.name = "file", .type = T_PATH, AT(secret_src, file),
	 .description = "file that holds the value"},
	{0},
};
/* clang-format on */

/* A secret: a mapping naming exactly one of an environment variable or a file. */
static int secret_read(loader *ld, const cfg_node *n, const char *path, cfg_value *v)
{
	secret_src src = {0};
	bool opened;
	int rc, e;

	rc = walk(ld, n, n, path, ".", "key", secret_fields, &src);
	if (rc == 0 && !src.env == !src.file)
		rc = fail(ld, n, path, "must have exactly one of `env` or `file`");
	if (rc == 0 && src.env) {
		const char *val = getenv(src.env);
		if (!val || !*val)
			rc = fail(ld, map_get(n, "env"), path, "environment variable %s is %s",
			          src.env, val ? "empty" : "not set");
		else if (!(v->str = strdup(val)))
			rc = oom(ld);
		else
			v->len = strlen(val);
	} else if (rc == 0) {
		if ((e = file_read(src.file, &v->str, &v->len, &opened)) != 0) {
			rc = fail(ld, map_get(n, "file"), path, "cannot read file %s: %s", src.file,
			          strerror(e));
		} else {
			if (v->len > 0 && v->str[v->len - 1] == '\n')
				v->len -= v->len > 1 && v->str[v->len - 2] == '\r' ? 2 : 1;
			v->str[v->len] = '\0';
			if (v->len == 0)
				rc = fail(ld, map_get(n, "file"), path, "file %s is empty",
				          src.file);
		}
	}
	free(src.env);
	free(src.file);
	return rc;
}

/* A LIST or FLAGS value: a sequence of plain values, or one plain value as a list of one. */
static int convert_items(loader *ld, const cfg_node *n, const field *f, const char *path,
                         cfg_value *v)
{
	size_t count = n->kind == NODE_SEQ ? n->n : 1;
	char ipath[256], want[256], seen[96];

	if (n->kind == NODE_MAP)
		return type_error(ld, n, f, path);
	if (f->type == T_FLAGS && count == 0)
		return fail(ld, n, path, "must be %s, got an empty list",
		            expect(f, want, sizeof want));
	if (f->type == T_LIST && count && !(v->items = calloc(count, sizeof *v->items)))
		return oom(ld);
	for (size_t i = 0; i < count; i++) {
		const cfg_node *it = n->kind == NODE_SEQ ? n->kids[i] : n;
		int k;

		if (n->kind == NODE_SEQ)
			put(ipath, sizeof ipath, 0, "%s[%zu]", path, i);
		else
			put(ipath, sizeof ipath, 0, "%s", path);
		if (f->type == T_FLAGS) {
			if (it->kind != NODE_SCALAR || (k = name_index(f->sub, it->text)) < 0) {
				names_join(want, sizeof want, f->sub);
				return fail(ld, it, ipath, "must be one of %s, got %s", want,
				            got(it, false, seen, sizeof seen));
			}
			v->num |= 1LL << k;
		} else {
			if (it->kind != NODE_SCALAR)
				return fail(ld, it, ipath, "must be a string, got %s",
				            got(it, false, seen, sizeof seen));
			if (!(v->items[i] = strdup(it->text)))
				return oom(ld);
			v->n_items = i + 1;
		}
	}
	return 0;
}

/* Convert node n (never a null meant as absent) into *v, which the caller frees on error. */
static int convert(loader *ld, const cfg_node *n, const field *f, const char *path, cfg_value *v)
{
	char seen[96];
	const char *why;
	int b;

	v->set = true;
	switch (f->type) {
	case T_SECRET:
		if (n->kind != NODE_MAP)
			return type_error(ld, n, f, path);
		return secret_read(ld, n, path, v);
	case T_MAP:
		if (n->kind != NODE_MAP)
			return type_error(ld, n, f, path);
		v->node = n;
		return 0;
	case T_LIST:
	case T_FLAGS:
		return convert_items(ld, n, f, path, v);
	case T_STRING:
	case T_OPTSTR:
	case T_PATH:
	case T_INT:
	case T_BOOL:
	case T_CHOICE:
		break;
	default:
		return fail(ld, n, path, "has an unknown type %d in the schema", f->type);
	}
	if (n->kind != NODE_SCALAR)
		return type_error(ld, n, f, path);
	switch (f->type) {
	case T_INT:
		if (!parse_int(n->text, &v->num) ||
		    ((f->min || f->max) && (v->num < f->min || v->num > f->max)))
			return type_error(ld, n, f, path);
		return 0;
	case T_BOOL:
		if ((b = parse_bool(n->text)) < 0)
			return type_error(ld, n, f, path);
		v->num = b;
		return 0;
	case T_CHOICE:
		if ((v->num = name_index(f->sub, n->text)) < 0)
			return type_error(ld, n, f, path);
		return 0;
	case T_OPTSTR:
		if (is_null(n) || !*n->text) {
			v->set = false;
			return 0;
		}
		break;
	case T_PATH:
		if (!*n->text)
			return type_error(ld, n, f, path);
		break;
	}
	if (f->check && (why = f->check(n->text)) != NULL)
		return fail(ld, n, path, "must be %s, got %s", why,
		            got(n, false, seen, sizeof seen));
	v->str = f->type == T_PATH ? path_join(ld->dir, n->text) : strdup(n->text);
	if (!v->str)
		return oom(ld);
	v->len = strlen(v->str);
	return 0;
}

/* The value of field f: node n, or the field's default when n is NULL. Errors in a default
 * point at `where`. */
static int field_value(loader *ld, const cfg_node *n, const cfg_node *where, const field *f,
                       const char *path, cfg_value *v)
{
	static char empty_text[1];
	cfg_node empty = {.kind = NODE_SCALAR, .plain = true, .text = empty_text}, *d;
	char dpath[256];
	yerr e;
	int rc;

	if (n)
		rc = convert(ld, n, f, path, v);
	else if (!f->def)
		return 0;
	else if ((rc = tree_parse(f->def, strlen(f->def), &d, &e)) != 0)
		return fail(ld, where, path, "invalid default `%s` in the schema: %s", f->def,
		            e.msg);
	else {
		put(dpath, sizeof dpath, 0, "%s (default)", path);
		ld->at = where;
		ld->in_default = true;
		rc = convert(ld, d ? d : &empty, f, dpath, v);
		ld->in_default = false;
		node_free(d);
	}
	if (rc)
		value_free(v);
	return rc;
}

static void store(const field *f, void *base, cfg_value *v)
{
	char *p = (char *)base + f->off;

	if (f->whole) {
		memcpy(p, v, sizeof *v);
		return;
	}
	switch (f->type) {
	case T_INT:
	case T_BOOL:
	case T_CHOICE:
	case T_FLAGS:
		if (!v->set)
			return;
		if (f->size == sizeof(int)) {
			int x = (int)v->num;
			memcpy(p, &x, sizeof x);
		} else {
			memcpy(p, &v->num, sizeof v->num);
		}
		return;
	case T_MAP:
		memcpy(p, &v->node, sizeof v->node);
		return;
	case T_LIST:
		memcpy(p, &v->items, sizeof v->items);
		memcpy((char *)base + f->len_off, &v->n_items, sizeof v->n_items);
		return;
	default:
		memcpy(p, &v->str, sizeof v->str);
		if (f->len_off)
			memcpy((char *)base + f->len_off, &v->len, sizeof v->len);
	}
}

static const field *field_find(const field *fields, const char *name)
{
	for (; fields->name; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

/*
 * Check mapping `map` (NULL: absent, all defaults) against `fields` and store the values into
 * `base`. `label` names the mapping in messages, `sep` joins it to a key, `noun` is what its
 * keys are called. Errors about missing keys and defaults point at `where`.
 */
static int walk(loader *ld, const cfg_node *map, const cfg_node *where, const char *label,
                const char *sep, const char *noun, const field *fields, void *base)
{
	char path[256], seen[96], valid[512];
	size_t k = 0;
	cfg_value v;
	int rc;

	if (map && map->kind != NODE_MAP)
		return fail(ld, map, label, "must be a mapping, got %s",
		            got(map, false, seen, sizeof seen));
	for (size_t i = 0; map && i < map->n; i += 2) {
		const cfg_node *key = map->kids[i];
		if (!field_find(fields, key->text)) {
			valid[0] = '\0';
			for (const field *f = fields; f->name; f++)
				k = put(valid, sizeof valid, k, "%s%s", f == fields ? "" : ", ",
				        f->name);
			return fail(ld, key, label, "unknown %s `%s` (valid: %s)", noun, key->text,
			            fields->name ? valid : "none");
		}
		for (size_t j = 0; j < i; j += 2) {
			if (strcmp(map->kids[j]->text, key->text) == 0) {
				put(path, sizeof path, 0, "%s%s%s", label, *label ? sep : "",
				    key->text);
				return fail(ld, key, path, "duplicate key, first given at %d:%d",
				            map->kids[j]->line, map->kids[j]->col);
			}
		}
	}
	for (const field *f = fields; f->name; f++) {
		const cfg_node *n = map_get(map, f->name);

		put(path, sizeof path, 0, "%s%s%s", label, *label ? sep : "", f->name);
		/* A null value stands for the default, except where null has a meaning. */
		if (is_null(n) && f->type != T_OPTSTR)
			n = NULL;
		memset(&v, 0, sizeof v);
		if (f->type == T_SECTION)
			rc = walk(ld, n, n ? n : where, path, ".", "key", f->sub, base);
		else if (f->type == T_PLUGINS)
			rc = plugins_load(ld, n, path, base);
		else if (f->required && !n)
			rc = fail(ld, where, label, "missing key `%s` (%s)", f->name,
			          f->description);
		else if ((rc = field_value(ld, n, where, f, path, &v)) == 0)
			store(f, base, &v);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- The core's schema ---- */

static const char *const alg_names[] = {"HS256", "HS384", "HS512", "RS256", "ES256", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const format_names[] = {"plain", "json", NULL};

_Static_assert(AUTH_HS256 == 1 << 0 && AUTH_HS384 == 1 << 1 && AUTH_HS512 == 1 << 2 &&
                   AUTH_RS256 == 1 << 3 && AUTH_ES256 == 1 << 4,
               "alg_names lists the algorithms in the order of their AUTH_* bits");
_Static_assert(HERALD_LOG_ERROR == 0 && HERALD_LOG_WARN == 1 && HERALD_LOG_INFO == 2 &&
                   HERALD_LOG_DEBUG == 3,
               "level_names lists the levels in the order of their values");

#define HS_ALGS (AUTH_HS256 | AUTH_HS384 | AUTH_HS512)
#define PK_ALGS (AUTH_RS256 | AUTH_ES256)

static const char *url_path(const char *s)
{
	return s[0] == '/' ? NULL : "a path starting with '/'";
}

static const char *plugin_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n >= 1 && n <= 32 && !s[n] ? NULL : "1 to 32 of the characters a-z, 0-9, _ and -";
}

#define CFG(member) AT(herald_config, member)

/* clang-format off */
static const field server_fields[] = {
	{.name = "listen", .type = T_STRING, .def = "0.0.0.0", .check = nonempty, CFG(listen),
	 .description = "address to bind"},
	{.name = "port", .type = T_INT, .def = "8000", .min = 1, .max = 65535, CFG(port),
	 .description = "TCP port to listen on"},
	{.name = "ws_path", .type = T_STRING, .def = "/ws/notifications/", .check = url_path,
	 CFG(ws_path), .description = "URL path of the WebSocket endpoint"},
	{.name = "max_connections", .type = T_INT, .def = "1000", .min = 1, .max = 1000000,
	 CFG(max_connections), .description = "connections served at once"},
	{.name = "max_message_size", .type = T_INT, .def = "1048576", .min = 16, .max = 67108864,
	 CFG(max_message_size), .description = "largest client message, in bytes"},
	{.name = "ping_interval", .type = T_INT, .def = "25", .min = 1, .max = 3600,
	 CFG(ping_interval), .description = "seconds between pings"},
	{.name = "idle_timeout", .type = T_INT, .def = "60", .min = 2, .max = 7200,
	 CFG(idle_timeout), .description = "seconds of silence before a connection is closed"},
	{.name = "send_queue_bytes", .type = T_INT, .def = "1048576", .min = 4096,
	 .max = 1073741824, CFG(send_queue_bytes),
	 .description = "bytes queued for one connection before it is dropped"},
	{.name = "max_notification_size", .type = T_INT, .def = "262144", .min = 1024,
	 .max = 536870912, CFG(max_notification_size),
	 .description = "largest event and notification, in bytes (under send_queue_bytes)"},
	{.name = "max_subscriptions", .type = T_INT, .def = "128", .min = 1, .max = 100000,
	 CFG(max_subscriptions), .description = "project rooms per connection"},
	{.name = "max_room_members", .type = T_INT, .def = "100", .min = 1, .max = 1000000,
	 CFG(max_room_members), .description = "connections per project room"},
	{.name = "max_header_size", .type = T_INT, .def = "16384", .min = 1024, .max = 65535,
	 CFG(max_header_size), .description = "bytes of HTTP request line and headers"},
	{.name = "max_connections_per_user", .type = T_INT, .def = "0", .min = 0, .max = 1000000,
	 CFG(max_connections_per_user), .description = "connections of one user (0: no limit)"},
	{.name = "message_rate", .type = T_INT, .def = "20", .min = 0, .max = 1000000,
	 CFG(message_rate), .description = "client messages per second (0: no limit)"},
	{.name = "message_burst", .type = T_INT, .def = "40", .min = 1, .max = 1000000,
	 CFG(message_burst), .description = "client messages allowed in a burst"},
	{.name = "allowed_origins", .type = T_LIST, CFG(allowed_origins),
	 .len_off = offsetof(herald_config, n_allowed_origins),
	 .description = "Origin values accepted at the handshake (none: any)"},
	{.name = "demo", .type = T_BOOL, .def = "false", CFG(demo),
	 .description = "serve the demo page at /demo/"},
	{.name = "tls_cert", .type = T_PATH, CFG(tls_cert),
	 .description = "PEM certificate: serve wss:// (with tls_key)"},
	{.name = "tls_key", .type = T_PATH, CFG(tls_key),
	 .description = "PEM private key of tls_cert"},
	{0},
};

static const field auth_fields[] = {
	{.name = "algorithms", .type = T_FLAGS, .def = "HS256", .sub = alg_names, CFG(auth_algs),
	 .description = "accepted JWT algorithms"},
	{.name = "secret", .type = T_SECRET, CFG(auth_secret),
	 .len_off = offsetof(herald_config, auth_secret_len),
	 .description = "HMAC secret of the HS algorithms"},
	{.name = "public_key", .type = T_SECRET, CFG(auth_public_key),
	 .description = "PEM public key of RS256 and ES256"},
	{.name = "user_claim", .type = T_STRING, .def = "user_id", .check = nonempty,
	 CFG(auth_user_claim), .description = "claim that holds the user id"},
	{.name = "leeway", .type = T_INT, .def = "0", .min = 0, .max = 3600, CFG(auth_leeway),
	 .description = "seconds of clock skew allowed on exp and nbf"},
	{.name = "issuer", .type = T_OPTSTR, CFG(auth_issuer), .description = "required iss"},
	{.name = "audience", .type = T_OPTSTR, CFG(auth_audience), .description = "required aud"},
	{.name = "token_type", .type = T_OPTSTR, .def = "access", CFG(auth_token_type),
	 .description = "required token_type claim"},
	{.name = "close_on_expiry", .type = T_BOOL, .def = "false", CFG(auth_close_on_expiry),
	 .description = "close a connection when its token expires (code 4001)"},
	{0},
};

static const char *const policy_names[] = {"open", "claim", "lua", NULL};

static const field subscriptions_fields[] = {
	{.name = "policy", .type = T_CHOICE, .def = "open", .sub = policy_names, CFG(sub_policy),
	 .description = "who may subscribe to a project: open, claim or lua"},
	{.name = "claim", .type = T_STRING, .def = "projects", .check = nonempty, CFG(sub_claim),
	 .description = "token claim listing the project ids a user may subscribe to"},
	{0},
};

static const field history_fields[] = {
	{.name = "size", .type = T_INT, .def = "100", .min = 0, .max = 1000000, CFG(history_size),
	 .description = "notifications kept per room for resuming clients (0: none)"},
	{.name = "ttl", .type = T_INT, .def = "300", .min = 1, .max = 86400 * 7, CFG(history_ttl),
	 .description = "seconds a notification stays in the history"},
	{.name = "max_bytes", .type = T_INT, .def = "268435456", .min = 0,
	 .max = 1099511627776LL, CFG(history_max_bytes),
	 .description = "bytes of rooms and history in all (0: no bound)"},
	{0},
};

static const field cluster_fields[] = {
	{.name = "url", .type = T_OPTSTR, CFG(cluster_url),
	 .description = "Redis of the cluster: redis://[:password@]host:port/db or unix:///path"},
	{.name = "password", .type = T_SECRET, CFG(cluster_password),
	 .len_off = offsetof(herald_config, cluster_password_len),
	 .description = "Redis password (overrides the URL's)"},
	{.name = "log", .type = T_STRING, .def = "herald:log", .check = nonempty, CFG(cluster_log),
	 .description = "stream key of the shared notification log"},
	{.name = "log_max", .type = T_INT, .def = "100000", .min = 100, .max = 1000000000,
	 CFG(cluster_log_max), .description = "entries kept in the log (approximately)"},
	{.name = "warm", .type = T_INT, .def = "10000", .min = 0, .max = 10000000,
	 CFG(history_warm), .description = "log entries read at start to fill the history"},
	{0},
};

static const field scripts_fields[] = {
	{.name = "dir", .type = T_PATH, .def = "scripts", CFG(scripts_dir),
	 .description = "directory of the Lua formatters"},
	{.name = "instructions", .type = T_INT, .def = "1000000", .min = 1000, .max = 1000000000,
	 CFG(lua_instructions), .description = "Lua instructions per formatter call"},
	{.name = "memory", .type = T_INT, .def = "16777216", .min = 65536, .max = 4294967296LL,
	 CFG(lua_memory), .description = "bytes of memory per Lua state"},
	{0},
};

static const field ingest_fields[] = {
	{.name = "queue_size", .type = T_INT, .def = "65536", .min = 16, .max = 16777216,
	 CFG(queue_size), .description = "events waiting for the event loop"},
	{0},
};

static const field log_fields[] = {
	{.name = "level", .type = T_CHOICE, .def = "info", .sub = level_names, CFG(log_level),
	 .description = "most verbose level written"},
	{.name = "format", .type = T_CHOICE, .def = "plain", .sub = format_names, CFG(log_json),
	 .description = "plain text or one JSON object per line"},
	{0},
};

static const field top_fields[] = {
	{.name = "server", .type = T_SECTION, .sub = server_fields},
	{.name = "auth", .type = T_SECTION, .sub = auth_fields},
	{.name = "subscriptions", .type = T_SECTION, .sub = subscriptions_fields},
	{.name = "history", .type = T_SECTION, .sub = history_fields},
	{.name = "cluster", .type = T_SECTION, .sub = cluster_fields},
	{.name = "scripts", .type = T_SECTION, .sub = scripts_fields},
	{.name = "ingest", .type = T_SECTION, .sub = ingest_fields},
	{.name = "log", .type = T_SECTION, .sub = log_fields},
	{.name = "plugin_dir", .type = T_PATH, CFG(plugin_dir),
	 .description = "where plugins named without a path are found"},
	{.name = "plugins", .type = T_PLUGINS, .description = "source plugins to load"},
	{0},
};

static const field plugin_fields[] = {
	{.name = "name", .type = T_STRING, .check = plugin_name, .required = true,
	 AT(plugin_conf, name), .description = "the plugin to load"},
	{.name = "path", .type = T_PATH, AT(plugin_conf, path),
	 .description = "its shared object, by default <plugin_dir>/<name>.so"},
	{.name = "options", .type = T_MAP, AT(plugin_conf, options),
	 .description = "options of the plugin"},
	{0},
};
/* clang-format on */

static int plugins_load(loader *ld, const cfg_node *n, const char *path, herald_config *cfg)
{
	char label[64];
	int rc;

	if (!n)
		return 0;
	if (n->kind != NODE_SEQ)
		return type_error(ld, n, field_find(top_fields, "plugins"), path);
	if (n->n == 0)
		return 0;
	if (!(cfg->plugins = calloc(n->n, sizeof *cfg->plugins)))
		return oom(ld);
	for (size_t i = 0; i < n->n; i++) {
		plugin_conf *pc = &cfg->plugins[i];

		cfg->n_plugins = i + 1;
		pc->line = n->kids[i]->line;
		pc->col = n->kids[i]->col;
		put(label, sizeof label, 0, "%s[%zu]", path, i);
		if ((rc = walk(ld, n->kids[i], n->kids[i], label, ".", "key", plugin_fields, pc)))
			return rc;
	}
	return 0;
}

/* The error for an auth section that accepts algorithms `algs` without their key `key`. */
static int auth_needs(loader *ld, const herald_config *cfg, const cfg_node *at, const char *key,
                      unsigned algs)
{
	char names[64];
	size_t k = 0;

	names[0] = '\0';
	for (int b = 0; alg_names[b]; b++)
		if (cfg->auth_algs & algs & (1u << b))
			k = put(names, sizeof names, k, "%s%s", k ? ", " : "", alg_names[b]);
	return fail(ld, at, key, "required when auth.algorithms accepts %s", names);
}

/* Fill what depends on other keys, then check what no single key can. */
static int config_finish(loader *ld, herald_config *cfg, const cfg_node *root)
{
	const cfg_node *server = map_get(root, "server"), *auth = map_get(root, "auth"), *at;
	const char *env = getenv("HERALD_PLUGIN_DIR");

	if (!cfg->plugin_dir &&
	    !(cfg->plugin_dir = strdup(env && *env ? env : HERALD_DEFAULT_PLUGIN_DIR)))
		return oom(ld);
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		plugin_conf *pc = &cfg->plugins[i];
		if (!pc->path && !(pc->path = str_printf("%s/%s.so", cfg->plugin_dir, pc->name)))
			return oom(ld);
	}
	if (cfg->idle_timeout <= cfg->ping_interval) {
		at = map_get(server, "idle_timeout");
		return fail(ld, at ? at : map_get(server, "ping_interval"), "server.idle_timeout",
		            "must be greater than server.ping_interval (%d), got %d",
		            cfg->ping_interval, cfg->idle_timeout);
	}
	if (cfg->max_notification_size >= cfg->send_queue_bytes) {
		at = map_get(server, "max_notification_size");
		return fail(ld, at ? at : map_get(server, "send_queue_bytes"),
		            "server.max_notification_size",
		            "must be smaller than server.send_queue_bytes (%d), got %d",
		            cfg->send_queue_bytes, cfg->max_notification_size);
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		at = map_get(server, cfg->tls_cert ? "tls_cert" : "tls_key");
		return fail(ld, at, cfg->tls_cert ? "server.tls_cert" : "server.tls_key",
		            "needs server.%s as well", cfg->tls_cert ? "tls_key" : "tls_cert");
	}
	/* Without an auth section the defaults stand and auth_create() reports what is
	 * missing; a file that configures auth must configure it completely. */
	if (!auth || is_null(auth))
		return 0;
	at = map_get(auth, "algorithms");
	if (!at)
		at = auth;
	if ((cfg->auth_algs & HS_ALGS) && !cfg->auth_secret)
		return auth_needs(ld, cfg, at, "auth.secret", HS_ALGS);
	if ((cfg->auth_algs & PK_ALGS) && !cfg->auth_public_key)
		return auth_needs(ld, cfg, at, "auth.public_key", PK_ALGS);
	return 0;
}

/* ---- Public functions ---- */

int config_load_string(const char *yaml, size_t len, const char *name, const char *dir,
                       herald_config **out, char *err, size_t errlen)
{
	loader ld = {.file = name ? name : "(defaults)",
	             .dir = dir ? dir : ".",
	             .err = err,
	             .errlen = errlen};
	herald_config *cfg = calloc(1, sizeof *cfg);
	cfg_node *root;
	char seen[96];
	yerr e;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!cfg || !(cfg->file = strdup(ld.file)) || !(cfg->doc = calloc(1, sizeof *cfg->doc)) ||
	    !(cfg->doc->dir = strdup(ld.dir))) {
		rc = oom(&ld);
		goto fail;
	}
	if ((rc = tree_parse(yaml, len, &cfg->doc->root, &e)) != 0) {
		cfg_node at = {.line = e.line, .col = e.col};
		fail(&ld, &at, NULL, "%s", e.msg);
		goto fail;
	}
	root = is_null(cfg->doc->root) ? NULL : cfg->doc->root;
	if (root && root->kind != NODE_MAP) {
		rc = fail(&ld, root, NULL, "the top level must be a mapping of sections, got %s",
		          got(root, false, seen, sizeof seen));
		goto fail;
	}
	rc = walk(&ld, root, root, "", ".", "key", top_fields, cfg);
	if (rc == 0)
		rc = config_finish(&ld, cfg, root);
	if (rc)
		goto fail;
	*out = cfg;
	return 0;
fail:
	config_free(cfg);
	return rc;
}

int config_load(const char *path, herald_config **out, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *buf, *dir;
	size_t len;
	bool opened;
	int e, rc;

	*out = NULL;
	if ((e = file_read(path, &buf, &len, &opened)) != 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot %s: %s", path, opened ? "read" : "open",
			         strerror(e));
		return e == ENOMEM ? HERALD_ENOMEM : HERALD_EIO;
	}
	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir) {
		free(buf);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return HERALD_ENOMEM;
	}
	rc = config_load_string(buf, len, path, dir, out, err, errlen);
	free(dir);
	free(buf);
	return rc;
}

static void secret_free(char *s, size_t len)
{
	if (s) {
		explicit_bzero(s, len);
		free(s);
	}
}

void config_free(herald_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->file);
	free(cfg->listen);
	free(cfg->ws_path);
	secret_free(cfg->auth_secret, cfg->auth_secret_len);
	secret_free(cfg->auth_public_key, cfg->auth_public_key ? strlen(cfg->auth_public_key) : 0);
	free(cfg->auth_user_claim);
	free(cfg->auth_issuer);
	free(cfg->auth_audience);
	free(cfg->auth_token_type);
	free(cfg->scripts_dir);
	free(cfg->plugin_dir);
	free(cfg->sub_claim);
	free(cfg->cluster_url);
	secret_free(cfg->cluster_password, cfg->cluster_password_len);
	free(cfg->cluster_log);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	for (size_t i = 0; i < cfg->n_allowed_origins; i++)
		free(cfg->allowed_origins[i]);
	free(cfg->allowed_origins);
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		free(cfg->plugins[i].name);
		free(cfg->plugins[i].path);
	}
	free(cfg->plugins);
	if (cfg->doc) {
		node_free(cfg->doc->root);
		free(cfg->doc->dir);
		free(cfg->doc);
	}
	free(cfg);
}

int config_plugin_options(const herald_config *cfg, size_t idx, const herald_option *schema,
                          plugin_opts **out, char *err, size_t errlen)
{
	loader ld = {.file = cfg->file, .dir = cfg->doc->dir, .err = err, .errlen = errlen};
	const plugin_conf *pc;
	cfg_node where;
	plugin_opts *o = NULL;
	field *fields = NULL;
	char label[64];
	size_t n = 0;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (idx >= cfg->n_plugins) {
		fail(&ld, NULL, NULL, "there is no plugin number %zu", idx);
		return HERALD_EINVAL;
	}
	pc = &cfg->plugins[idx];
	where = (cfg_node){.line = pc->line, .col = pc->col};
	put(label, sizeof label, 0, "plugin %s", pc->name);
	while (schema && schema[n].name)
		n++;
	if (!(o = calloc(1, sizeof *o)) || !(fields = calloc(n + 1, sizeof *fields)) ||
	    !(o->values = calloc(n + 1, sizeof *o->values))) {
		rc = oom(&ld);
		goto fail;
	}
	o->schema = schema;
	o->n = n;
	for (size_t i = 0; i < n; i++) {
		const herald_option *opt = &schema[i];
		if (opt->type < HERALD_OPT_STRING || opt->type > HERALD_OPT_LIST) {
			rc = fail(&ld, &where, label, "option `%s` has an unknown type %d",
			          opt->name, opt->type);
			goto fail;
		}
		fields[i] = (field){.name = opt->name,
		                    .type = opt->type,
		                    .def = opt->def,
		                    .min = opt->min,
		                    .max = opt->max,
		                    .off = i * sizeof(cfg_value),
		                    .size = sizeof(cfg_value),
		                    .whole = true,
		                    .description = opt->description};
	}
	rc = walk(&ld, pc->options, &where, label, ": ", "option", fields, o->values);
	if (rc)
		goto fail;
	free(fields);
	*out = o;
	return 0;
fail:
	free(fields);
	plugin_opts_free(o);
	return rc;
}

void plugin_opts_free(plugin_opts *o)
{
	if (!o)
		return;
	for (size_t i = 0; o->values && i < o->n; i++)
		value_free(&o->values[i]);
	free(o->values);
	free(o);
}

static const cfg_value *opt_find(const plugin_opts *o, const char *name)
{
	for (size_t i = 0; o && name && i < o->n; i++)
		if (strcmp(o->schema[i].name, name) == 0)
			return &o->values[i];
	return NULL;
}

const char *plugin_opts_string(const plugin_opts *o, const char *name)
{
	const cfg_value *v = opt_find(o, name);
	return v ? v->str : NULL;
}

long long plugin_opts_int(const plugin_opts *o, const char *name)
{
	const cfg_value *v = opt_find(o, name);
	return v ? v->num : 0;
}

int plugin_opts_bool(const plugin_opts *o, const char *name)
{
	const cfg_value *v = opt_find(o, name);
	return v ? v->num != 0 : 0;
}

size_t plugin_opts_list_len(const plugin_opts *o, const char *name)
{
	const cfg_value *v = opt_find(o, name);
	return v ? v->n_items : 0;
}

const char *plugin_opts_list_item(const plugin_opts *o, const char *name, size_t i)
{
	const cfg_value *v = opt_find(o, name);
	return v && i < v->n_items ? v->items[i] : NULL;
}

int plugin_opts_isset(const plugin_opts *o, const char *name)
{
	const cfg_value *v = opt_find(o, name);
	return v ? v->set : 0;
}
