/*
 * schema.h - checks a YAML tree (yaml_tree.h) against tables of fields and stores the typed
 * values into a C struct; frees what it stored, driven by the same tables.
 *
 * A table is an array of schema_field ended by a field with a NULL name. Each field names a
 * key, its type, its default (as YAML text), its bounds and where its value goes (an offset in
 * the target struct). The engine knows nothing of Herald's keys: config.c holds the core's
 * tables, and a plugin's herald_option array becomes a table of the same kind.
 *
 * Every error is written as "FILE:LINE:COL: PATH: what is wrong" and returned as
 * HERALD_ECONFIG (HERALD_ENOMEM when memory ran out).
 */
#ifndef HERALD_SCHEMA_H
#define HERALD_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/plugin.h"
#include "yaml_tree.h"

/* Value types: the plugin ABI's first, so a herald_option's type is used as is. */
enum schema_type {
	SCHEMA_STRING = HERALD_OPT_STRING, /* char *, owned */
	SCHEMA_INT = HERALD_OPT_INT,       /* int or long long (by the field's size) */
	SCHEMA_BOOL = HERALD_OPT_BOOL,     /* int, 0 or 1 */
	SCHEMA_SECRET = HERALD_OPT_SECRET, /* char *, owned, wiped when freed; length at len_off */
	SCHEMA_LIST = HERALD_OPT_LIST,     /* char **, owned; count (size_t) at len_off */
	SCHEMA_OPTSTR = 16,                /* a string; null or "" leaves it unset (NULL) */
	SCHEMA_PATH = 17,    /* a string resolved against the config file's directory */
	SCHEMA_CHOICE = 18,  /* one of `sub` (names); the value is its index */
	SCHEMA_FLAGS = 19,   /* one or more of `sub` (names); bit i stands for name i */
	SCHEMA_MAP = 20,     /* a mapping kept as a borrowed yaml_tree_node *, checked later */
	SCHEMA_SECTION = 21, /* a mapping checked against the table `sub`, into the same struct */
	SCHEMA_RECORDS = 22, /* a list of mappings, each checked against the table `sub` into its
	                      * own element of an owned array; count (size_t) at len_off */
};

/* One converted value. Strings are owned. */
typedef struct schema_value {
	bool set;
	char *str;     /* STRING, OPTSTR, PATH, SECRET */
	size_t len;    /* of str */
	long long num; /* INT, BOOL, CHOICE, FLAGS */
	char **items;  /* LIST */
	size_t n_items;
	const yaml_tree_node *node; /* MAP */
} schema_value;

/* One key of a table. */
typedef struct schema_field {
	const char *name;
	int type;           /* enum schema_type */
	const char *def;    /* the default as YAML text; NULL: unset unless given */
	long long min, max; /* bounds of an INT (none when both are 0) */
	const void *sub;    /* SECTION, RECORDS: a field table; CHOICE, FLAGS: NULL-ended names */
	const char *(*check)(const char *s); /* STRING: NULL if s is fine, else what it must be */
	size_t off, size;                    /* where the value goes in the target struct */
	size_t len_off;   /* SECRET (optional), LIST, RECORDS: offset of a size_t count, or 0 */
	size_t elem_size; /* RECORDS: the size of one element */
	size_t mark_off;  /* RECORDS: offset in an element of `int line, col;` (where the entry
	                   * starts), or 0 */
	bool required;
	bool whole; /* store the schema_value itself at `off` (plugin options) */
	const char *description;
} schema_field;

/* What one check needs: where messages go and how paths resolve. */
typedef struct schema_ctx {
	const char *file; /* names the text in messages */
	const char *dir;  /* relative paths resolve against it */
	char *err;        /* the message, cut to errlen; may be NULL */
	size_t errlen;
	const yaml_tree_node *at; /* private: while a default is converted, errors point here */
	bool in_default;          /* private */
} schema_ctx;

/*
 * Check mapping `map` (NULL: absent, all defaults) against `fields` and store the values into
 * `base`. `label` names the mapping in messages, `sep` joins it to a key, `noun` is what its
 * keys are called ("key", "option"). Errors about missing keys and defaults point at `where`.
 * Returns 0 or a negative HERALD_E*; on failure `base` holds what was stored so far, for
 * schema_free.
 */
int schema_walk(schema_ctx *c, const yaml_tree_node *map, const yaml_tree_node *where,
                const char *label, const char *sep, const char *noun, const schema_field *fields,
                void *base);

/* Free what `fields` stored into `base` (a partly filled or zeroed struct is fine): strings,
 * secrets (wiped first), lists, records, sections; nothing else is touched. */
void schema_free(const schema_field *fields, void *base);

/* Free what a schema_value owns and zero it. */
void schema_value_free(schema_value *v);

/* The field of `fields` called `name`, or NULL. */
const schema_field *schema_field_find(const schema_field *fields, const char *name);

/* Write "FILE:LINE:COL: PATH: message" (the place of `n`, none when it has no line) into
 * c->err. Returns HERALD_ECONFIG. */
__attribute__((format(printf, 4, 5))) int schema_fail(schema_ctx *c, const yaml_tree_node *n,
                                                      const char *path, const char *fmt, ...);

/* Write "FILE: out of memory" into c->err. Returns HERALD_ENOMEM. */
int schema_oom(schema_ctx *c);

/* How node `n` looks in a message ("a mapping", "a list", "null", or its text quoted and cut
 * to 64 bytes), in `buf` or a constant; a hidden (secret) text is "a plain value". */
const char *schema_describe(const yaml_tree_node *n, bool hide, char *buf, size_t len);

/* A check for STRING fields: refuses "". */
const char *schema_nonempty(const char *s);

/*
 * Read the whole file `path` into a NUL-terminated malloc'd buffer (*out, *outlen bytes before
 * the NUL). Returns 0, or HERALD_EIO / HERALD_ENOMEM with the errno value for a message in
 * *sys_errno, and in *opened whether the file could be opened.
 */
int schema_file_read(const char *path, char **out, size_t *outlen, int *sys_errno, bool *opened);

#endif
