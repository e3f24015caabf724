/* Unit tests of schema.c and yaml_tree.c (the layers under config.c) on a struct of their own,
 * away from Herald's keys: every type stored and freed by the table (ASan's leak check is the
 * judge of schema_free), a failure halfway through a list of records, the tree's places. */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "yaml_tree.h"

typedef struct item {
	char *label;
	char **tags;
	size_t n_tags;
	int line, col;
} item;

typedef struct thing {
	char *name, *note, *where, *token;
	size_t token_len;
	long long big;
	int small, on, color, flags;
	char **words;
	size_t n_words;
	const yaml_tree_node *extra;
	item *items;
	size_t n_items;
} thing;

static const char *const colors[] = {"red", "green", "blue", NULL};

#define AT(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

static const schema_field item_fields[] = {
    {.name = "label",
     .type = SCHEMA_STRING,
     .required = true,
     AT(item, label),
     .description = "what it is"},
    {.name = "tags", .type = SCHEMA_LIST, AT(item, tags), .len_off = offsetof(item, n_tags)},
    {0},
};

static const schema_field inner_fields[] = {
    {.name = "small", .type = SCHEMA_INT, .def = "7", .min = 1, .max = 9, AT(thing, small)},
    {.name = "note", .type = SCHEMA_OPTSTR, .def = "hello", AT(thing, note)},
    {0},
};

static const schema_field thing_fields[] = {
    {.name = "name", .type = SCHEMA_STRING, .def = "x", .check = schema_nonempty, AT(thing, name)},
    {.name = "where", .type = SCHEMA_PATH, AT(thing, where)},
    {.name = "token",
     .type = SCHEMA_SECRET,
     AT(thing, token),
     .len_off = offsetof(thing, token_len)},
    {.name = "big", .type = SCHEMA_INT, .def = "-5", AT(thing, big)},
    {.name = "on", .type = SCHEMA_BOOL, .def = "no", AT(thing, on)},
    {.name = "color", .type = SCHEMA_CHOICE, .def = "green", .sub = colors, AT(thing, color)},
    {.name = "flags", .type = SCHEMA_FLAGS, .def = "[red, blue]", .sub = colors, AT(thing, flags)},
    {.name = "words", .type = SCHEMA_LIST, AT(thing, words), .len_off = offsetof(thing, n_words)},
    {.name = "extra", .type = SCHEMA_MAP, AT(thing, extra)},
    {.name = "inner", .type = SCHEMA_SECTION, .sub = inner_fields},
    {.name = "items",
     .type = SCHEMA_RECORDS,
     .sub = item_fields,
     AT(thing, items),
     .len_off = offsetof(thing, n_items),
     .elem_size = sizeof(item),
     .mark_off = offsetof(item, line)},
    {0},
};

static char err[512];

/* Walk `yaml` into *t; the tree goes to *root (the caller frees both). */
static int walk(const char *yaml, thing *t, yaml_tree_node **root)
{
	schema_ctx c = {.file = "s.yaml", .dir = "/base", .err = err, .errlen = sizeof err};
	yaml_tree_error e;
	int rc;

	memset(t, 0, sizeof *t);
	err[0] = '\0';
	if ((rc = yaml_tree_parse(yaml, strlen(yaml), root, &e)) != 0)
		return rc;
	return schema_walk(&c, *root, *root, "", ".", "key", thing_fields, t);
}

static void test_every_type(void)
{
	yaml_tree_node *root;
	thing t;

	setenv("SCHEMA_TEST_TOKEN", "t0k3n", 1);
	CHECK_INT(walk("name: n\nwhere: rel/dir\ntoken: {env: SCHEMA_TEST_TOKEN}\nbig: 1\n"
	               "on: yes\ncolor: blue\nflags: green\nwords: [a, b]\nextra: {k: v}\n"
	               "inner: {small: 9, note: ''}\n"
	               "items:\n  - label: one\n    tags: [p, q]\n  - {label: two}\n",
	               &t, &root),
	          0);
	CHECK_STR(t.name, "n");
	CHECK_STR(t.where, "/base/rel/dir");
	CHECK_STR(t.token, "t0k3n");
	CHECK_INT(t.token_len, 5);
	CHECK_INT(t.big, 1);
	CHECK_INT(t.on, 1);
	CHECK_INT(t.color, 2);
	CHECK_INT(t.flags, 2);
	CHECK_INT(t.n_words, 2);
	CHECK_STR(t.words[1], "b");
	CHECK(t.extra && t.extra->kind == YAML_TREE_MAP);
	CHECK_INT(t.small, 9);
	CHECK(t.note == NULL);
	CHECK_INT(t.n_items, 2);
	CHECK_STR(t.items[0].label, "one");
	CHECK_INT(t.items[0].n_tags, 2);
	CHECK_STR(t.items[0].tags[1], "q");
	CHECK_INT(t.items[0].line, 12);
	CHECK_INT(t.items[0].col, 5);
	CHECK_STR(t.items[1].label, "two");
	CHECK_INT(t.items[1].line, 14);
	schema_free(thing_fields, &t);
	CHECK(t.name == NULL && t.token == NULL && t.words == NULL && t.items == NULL);
	yaml_tree_free(root);

	/* Defaults, into the same struct through the section. */
	CHECK_INT(walk("", &t, &root), 0);
	CHECK(root == NULL);
	CHECK_STR(t.name, "x");
	CHECK_INT(t.big, -5);
	CHECK_INT(t.on, 0);
	CHECK_INT(t.color, 1);
	CHECK_INT(t.flags, 5);
	CHECK_INT(t.small, 7);
	CHECK_STR(t.note, "hello");
	CHECK(t.items == NULL && t.n_items == 0);
	schema_free(thing_fields, &t);
}

static void test_partial_failures(void)
{
	yaml_tree_node *root;
	thing t;

	/* The second record fails: the first, and what came before, are freed by the table. */
	CHECK_INT(
	    walk("name: n\nwords: [a]\nitems:\n  - {label: one, tags: [p]}\n  - {tags: [q]}\n", &t,
	         &root),
	    HERALD_ECONFIG);
	CHECK_STR(err, "s.yaml:5:5: items[1]: missing key `label` (what it is)");
	CHECK_INT(t.n_items, 2);
	schema_free(thing_fields, &t);
	yaml_tree_free(root);

	CHECK_INT(walk("inner: {small: 10}\n", &t, &root), HERALD_ECONFIG);
	CHECK_STR(err, "s.yaml:1:16: inner.small: must be an integer from 1 to 9, got \"10\"");
	schema_free(thing_fields, &t);
	yaml_tree_free(root);

	CHECK_INT(walk("token: {env: SCHEMA_TEST_TOKEN}\ncolor: pink\n", &t, &root),
	          HERALD_ECONFIG);
	CHECK_STR(err, "s.yaml:2:8: color: must be one of red, green, blue, got \"pink\"");
	schema_free(thing_fields, &t);
	yaml_tree_free(root);
}

static void test_tree(void)
{
	yaml_tree_node *root;
	yaml_tree_error e;
	const char *yaml = "a: ~\nb: 'null'\nc:\n  - x\n";

	CHECK_INT(yaml_tree_parse(yaml, strlen(yaml), &root, &e), 0);
	CHECK(root && root->kind == YAML_TREE_MAP && root->n == 6);
	CHECK(yaml_tree_is_null(yaml_tree_get(root, "a")));
	CHECK(!yaml_tree_is_null(yaml_tree_get(root, "b")));
	CHECK(yaml_tree_get(root, "d") == NULL);
	CHECK(yaml_tree_get(yaml_tree_get(root, "c"), "x") == NULL);
	CHECK_INT(yaml_tree_get(root, "c")->kids[0]->line, 4);
	CHECK_INT(yaml_tree_get(root, "c")->kids[0]->col, 5);
	yaml_tree_free(root);

	CHECK_INT(yaml_tree_parse("a: [1\n", 6, &root, &e), HERALD_ECONFIG);
	CHECK(root == NULL);
	CHECK_INT(e.line, 2);
	CHECK_CONTAINS(e.msg, "did not find expected ',' or ']'");
	CHECK_INT(yaml_tree_parse("a: *x\n", 6, &root, &e), HERALD_ECONFIG);
	CHECK_STR(e.msg, "aliases are not supported");
	CHECK_INT(e.col, 4);
}

int main(void)
{
	test_every_type();
	test_partial_failures();
	test_tree();
	return check_done();
}
