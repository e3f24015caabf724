/*
 * The key reference of config/README.md against the core's schema tables (config_schema()):
 * every key of every table has exactly one row, every row names a key that exists, and each
 * row states the key's type, its bounds and its default as the table has them. A key added to
 * a table without its row fails here, naming the key.
 *
 * The rows are those of the tables headed `| key | type | default | meaning |` under
 * "## Keys". The first cell names one or more keys in backticks (`server.port`, or
 * `plugins[].name` for a key of each entry of a list); the type cell starts with the type's
 * word ("integer, MIN–MAX" for a bounded integer); the default cell is the default in
 * backticks, "required", or words ("none", "not checked", ...) when the table has no default.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "schema.h"

#define MAX_ROWS 256

typedef struct row {
	char key[96];
	char type[256];
	char def[256];
	int line;
	int seen;
} row;

typedef struct reference {
	row rows[MAX_ROWS];
	size_t n;
	int problems;
	char first[512]; /* the first problem, for the tests of the checker itself */
	int quiet;
} reference;

/* Report a problem at README line `line` (0: none). */
__attribute__((format(printf, 3, 4))) static void problem(reference *r, int line, const char *fmt,
                                                          ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!r->problems++)
		snprintf(r->first, sizeof r->first, "%s", msg);
	if (r->quiet)
		return;
	if (line)
		fprintf(stderr, "config/README.md:%d: %s\n", line, msg);
	else
		fprintf(stderr, "config/README.md: %s\n", msg);
}

/* Copy the cell that starts at s (after a '|') into out, trimmed; returns its closing '|', or
 * NULL when there is none. */
static char *cell(char *s, char *out, size_t len)
{
	char *end = strchr(s, '|');
	size_t n;

	if (!end)
		return NULL;
	while (s < end && *s == ' ')
		s++;
	n = (size_t)(end - s);
	while (n && s[n - 1] == ' ')
		n--;
	snprintf(out, len, "%.*s", (int)n, s);
	return end;
}

/* One row: a key cell naming one or more keys in backticks, then the type and default. */
static void row_read(reference *r, char *line, int lineno)
{
	char keys[256], type[256], def[256], *s, *k, *end;

	if (!(s = cell(line + 1, keys, sizeof keys)) || !(s = cell(s + 1, type, sizeof type)) ||
	    !cell(s + 1, def, sizeof def)) {
		problem(r, lineno, "a row of the key tables with fewer than 4 cells");
		return;
	}
	for (k = strchr(keys, '`'); k && (end = strchr(k + 1, '`')); k = strchr(end + 1, '`')) {
		row *rw;

		if (r->n == MAX_ROWS) {
			problem(r, lineno, "more than %d keys", MAX_ROWS);
			return;
		}
		rw = &r->rows[r->n++];
		memset(rw, 0, sizeof *rw);
		snprintf(rw->key, sizeof rw->key, "%.*s", (int)(end - k - 1), k + 1);
		snprintf(rw->type, sizeof rw->type, "%s", type);
		snprintf(rw->def, sizeof rw->def, "%s", def);
		rw->line = lineno;
	}
}

/* The rows of the key tables of README text `text`. */
static void rows_read(reference *r, const char *text)
{
	int lineno = 0, in_keys = 0, in_table = 0;
	char buf[4096];

	r->n = 0;
	for (const char *line = text; line && *line;) {
		const char *next = strchr(line, '\n');
		size_t n = next ? (size_t)(next - line) : strlen(line);

		lineno++;
		snprintf(buf, sizeof buf, "%.*s", (int)n, line);
		line = next ? next + 1 : NULL;
		if (strncmp(buf, "## ", 3) == 0)
			in_keys = strcmp(buf, "## Keys") == 0;
		if (in_keys && strcmp(buf, "| key | type | default | meaning |") == 0)
			in_table = 1;
		else if (buf[0] != '|')
			in_table = 0;
		else if (in_table && strncmp(buf, "| `", 3) == 0)
			row_read(r, buf, lineno);
	}
}

/* Whether `text` holds each of the NULL-ended `names` in backticks. */
static int names_shown(const char *text, const char *const *names)
{
	char want[64];

	for (size_t i = 0; names[i]; i++) {
		snprintf(want, sizeof want, "`%s`", names[i]);
		if (!strstr(text, want))
			return 0;
	}
	return 1;
}

/* What the type cell of field f must start with, or NULL when any start will do. */
static const char *type_word(const schema_field *f, char *buf, size_t len)
{
	switch (f->type) {
	case SCHEMA_INT:
		if (!f->min && !f->max)
			return "integer";
		snprintf(buf, len, "integer, %lld–%lld", f->min, f->max);
		return buf;
	case SCHEMA_BOOL:
		return "boolean";
	case SCHEMA_STRING:
	case SCHEMA_OPTSTR:
		return "string";
	case SCHEMA_PATH:
		return "path";
	case SCHEMA_SECRET:
		return "secret";
	case SCHEMA_LIST:
		return "list of strings";
	case SCHEMA_FLAGS:
		return "list of";
	case SCHEMA_RECORDS:
		return "list of mappings";
	case SCHEMA_MAP:
		return "mapping";
	default: /* SCHEMA_CHOICE: its names, in any words */
		return NULL;
	}
}

/* One key of the schema against its row. */
static void key_check(reference *r, const char *key, const schema_field *f)
{
	char want[128];
	const char *word;
	row *rw = NULL;

	if (!f->description || !*f->description)
		problem(r, 0, "`%s` has no description in its table", key);
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->rows[i].key, key) != 0)
			continue;
		if (rw)
			problem(r, r->rows[i].line, "`%s` has a second row (first at line %d)", key,
			        rw->line);
		rw = &r->rows[i];
		rw->seen = 1;
	}
	if (!rw) {
		problem(r, 0, "no row for `%s`, a key of the schema", key);
		return;
	}
	word = type_word(f, want, sizeof want);
	if (word && strncmp(rw->type, word, strlen(word)) != 0)
		problem(r, rw->line, "`%s`: the type \"%s\" does not start with \"%s\"", key,
		        rw->type, word);
	if ((f->type == SCHEMA_CHOICE || f->type == SCHEMA_FLAGS) && !names_shown(rw->type, f->sub))
		problem(r, rw->line, "`%s`: the type \"%s\" does not list every accepted name", key,
		        rw->type);
	if (f->def) {
		char bracketed[128];

		snprintf(want, sizeof want, "`%s`", f->def);
		snprintf(bracketed, sizeof bracketed, "`[%s]`", f->def);
		if (strcmp(rw->def, want) != 0 &&
		    !((f->type == SCHEMA_LIST || f->type == SCHEMA_FLAGS) &&
		      strcmp(rw->def, bracketed) == 0))
			problem(r, rw->line, "`%s`: the default \"%s\" is not %s", key, rw->def,
			        want);
	} else if (f->required) {
		if (strcmp(rw->def, "required") != 0)
			problem(r, rw->line, "`%s`: the default \"%s\" is not \"required\"", key,
			        rw->def);
	} else {
		size_t n = strlen(rw->def);
		/* One value in backticks would be a default the schema does not have. */
		if (n >= 2 && rw->def[0] == '`' && rw->def[n - 1] == '`' &&
		    !memchr(rw->def + 1, '`', n - 2))
			problem(r, rw->line,
			        "`%s`: the default %s is not in the schema (none there)", key,
			        rw->def);
	}
}

/* Walk the tables from `top`: sections as `section.key`, lists of entries as `list[].key`. */
static void keys_check(reference *r, const schema_field *fields, const char *prefix)
{
	char key[96], sub[100];

	for (const schema_field *f = fields; f->name; f++) {
		snprintf(key, sizeof key, "%s%s", prefix, f->name);
		if (f->type == SCHEMA_SECTION) {
			snprintf(sub, sizeof sub, "%s.", key);
			keys_check(r, f->sub, sub);
			continue;
		}
		key_check(r, key, f);
		if (f->type == SCHEMA_RECORDS) {
			snprintf(sub, sizeof sub, "%s[].", key);
			keys_check(r, f->sub, sub);
		}
	}
}

/* Check README text against the tables from `top`; returns the number of problems. */
static int reference_check(reference *r, const char *text, const schema_field *top)
{
	r->problems = 0;
	r->first[0] = '\0';
	rows_read(r, text);
	if (r->n == 0)
		problem(r, 0, "no key tables under \"## Keys\"");
	keys_check(r, top, "");
	for (size_t i = 0; i < r->n; i++)
		if (!r->rows[i].seen)
			problem(r, r->rows[i].line, "`%s` is documented but no table has it",
			        r->rows[i].key);
	return r->problems;
}

static char *file_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
		buf[n] = '\0';
	else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* `text` with the first line containing `needle` replaced by `with` (a whole line, or ""). */
static char *text_edit(const char *text, const char *needle, const char *with)
{
	const char *at = strstr(text, needle), *start, *end;
	char *out;

	if (!at)
		return NULL;
	for (start = at; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(at, '\n');
	end = end ? end + 1 : at + strlen(at);
	out = malloc(strlen(text) + strlen(with) + 1);
	if (!out)
		return NULL;
	sprintf(out, "%.*s%s%s", (int)(start - text), text, with, end);
	return out;
}

/* The checker on doctored copies: each must fail, naming the key. */
static void test_checker(const char *text, const schema_field *top)
{
	static reference r;
	char *doc;

	r.quiet = 1;
	CHECK_INT(reference_check(&r, text, top), 0);

	doc = text_edit(text, "| `history.max_bytes` |", "");
	CHECK(doc != NULL);
	if (doc) {
		CHECK_INT(reference_check(&r, doc, top), 1);
		CHECK_CONTAINS(r.first, "no row for `history.max_bytes`");
		free(doc);
	}
	doc = text_edit(text, "| `server.port` |",
	                "| `server.port` | integer, 1–65535 | `8080` | TCP port. |\n");
	if (doc) {
		CHECK_INT(reference_check(&r, doc, top), 1);
		CHECK_CONTAINS(r.first, "`server.port`: the default \"`8080`\" is not `8000`");
		free(doc);
	}
	doc = text_edit(text, "| `server.port` |",
	                "| `server.port` | integer, 0–65535 | `8000` | TCP port. |\n");
	if (doc) {
		CHECK_INT(reference_check(&r, doc, top), 1);
		CHECK_CONTAINS(r.first, "does not start with \"integer, 1–65535\"");
		free(doc);
	}
	doc = text_edit(text, "| `server.port` |",
	                "| `server.port` | integer, 1–65535 | `8000` | TCP port. |\n"
	                "| `server.portt` | integer | none | A typo. |\n");
	if (doc) {
		CHECK_INT(reference_check(&r, doc, top), 1);
		CHECK_CONTAINS(r.first, "`server.portt` is documented but no table has it");
		free(doc);
	}

	/* A key added to a table (here a copy of `scripts`) without its row. */
	static schema_field scripts[16], tops[32];
	size_t n = 0, t = 0;
	for (; top[t].name; t++) {
		tops[t] = top[t];
		if (strcmp(top[t].name, "scripts") == 0) {
			const schema_field *f = top[t].sub;
			for (n = 0; f[n].name; n++)
				scripts[n] = f[n];
			scripts[n] = (schema_field){.name = "added_without_row",
			                            .type = SCHEMA_INT,
			                            .def = "100",
			                            .min = 1,
			                            .max = 10000,
			                            .description = "a key nobody documented"};
			tops[t].sub = scripts;
		}
	}
	CHECK(n > 0);
	CHECK_INT(reference_check(&r, text, tops), 1);
	CHECK_STR(r.first, "no row for `scripts.added_without_row`, a key of the schema");
}

int main(void)
{
	static reference r;
	const char *src = getenv("HERALD_SOURCE_DIR");
	char path[4096];
	char *text;

	snprintf(path, sizeof path, "%s/config/README.md", src ? src : "../..");
	text = file_read(path);
	CHECK(text != NULL);
	if (!text)
		return check_done();
	/* The reference itself; each problem is printed as README:LINE: what. */
	CHECK_INT(reference_check(&r, text, config_schema()), 0);
	CHECK(r.n > 40);
	/* The checker's own tests start from an up-to-date reference. */
	if (r.problems == 0)
		test_checker(text, config_schema());
	free(text);
	return check_done();
}
