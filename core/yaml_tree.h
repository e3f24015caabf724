/*
 * yaml_tree.h - one YAML document (libyaml) as a tree of mappings, sequences and scalars, each
 * node with its line and column. Nothing here knows what the document means.
 *
 * Refused, with the place: anchors, aliases, tags, more than one document, keys that are not
 * scalars, nesting deeper than YAML_TREE_MAX_DEPTH. Scalars stay text: typing them is the
 * reader's business.
 */
#ifndef HERALD_YAML_TREE_H
#define HERALD_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

/* Deeper nesting than this is refused rather than risking the stack on a hostile file. */
#define YAML_TREE_MAX_DEPTH 64

enum yaml_tree_kind { YAML_TREE_SCALAR, YAML_TREE_MAP, YAML_TREE_SEQ };

typedef struct yaml_tree_node {
	enum yaml_tree_kind kind;
	int line, col;                /* 1-based; 0 for a node made up by the caller */
	bool plain;                   /* an unquoted scalar: only those can be null */
	char *text;                   /* YAML_TREE_SCALAR, NUL-terminated */
	struct yaml_tree_node **kids; /* SEQ: the items; MAP: key, value, key, value, ... */
	size_t n;                     /* entries in kids */
} yaml_tree_node;

/* Where and why a text could not be read as a tree. */
typedef struct yaml_tree_error {
	int line, col; /* 1-based; 0 when there is no place (out of memory) */
	char msg[256]; /* libyaml's words for a syntax error, ours for the rest */
} yaml_tree_error;

/*
 * Parse `len` bytes of `buf` (need not be NUL-terminated) into *root, owned by the caller
 * (free with yaml_tree_free); *root is NULL when the text holds no document. Returns 0,
 * HERALD_ECONFIG (the text is not an acceptable document) or HERALD_ENOMEM, with *e filled.
 */
int yaml_tree_parse(const char *buf, size_t len, yaml_tree_node **root, yaml_tree_error *e);

/* Frees a tree; NULL is fine. */
void yaml_tree_free(yaml_tree_node *n);

/* The value of `key` in mapping `map` (borrowed), or NULL when absent or `map` is no mapping. */
const yaml_tree_node *yaml_tree_get(const yaml_tree_node *map, const char *key);

/* Whether `n` is a plain scalar that YAML reads as null: empty, `~`, `null`, `Null`, `NULL`. */
bool yaml_tree_is_null(const yaml_tree_node *n);

#endif
