/* yaml_tree.c - libyaml's event API into a yaml_tree_node tree (see yaml_tree.h). */
#include "yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "herald/plugin.h"

void yaml_tree_free(yaml_tree_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		yaml_tree_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

bool yaml_tree_is_null(const yaml_tree_node *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (!n || n->kind != YAML_TREE_SCALAR || !n->plain)
		return false;
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		if (strcmp(n->text, nulls[i]) == 0)
			return true;
	return false;
}

const yaml_tree_node *yaml_tree_get(const yaml_tree_node *map, const char *key)
{
	if (!map || map->kind != YAML_TREE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (strcmp(map->kids[i]->text, key) == 0)
			return map->kids[i + 1];
	return NULL;
}

static int yaml_tree_fail(yaml_tree_error *e, int line, int col, const char *msg)
{
	e->line = line;
	e->col = col;
	snprintf(e->msg, sizeof e->msg, "%s", msg);
	return HERALD_ECONFIG;
}

static int yaml_tree_fail_at(yaml_tree_error *e, const yaml_mark_t *m, const char *msg)
{
	return yaml_tree_fail(e, (int)m->line + 1, (int)m->column + 1, msg);
}

static int yaml_tree_oom(yaml_tree_error *e)
{
	yaml_tree_fail(e, 0, 0, "out of memory");
	return HERALD_ENOMEM;
}

static int yaml_tree_parser_error(yaml_tree_error *e, const yaml_parser_t *p, const char *buf,
                                  size_t len)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	int line = 1, col = 1;

	if (p->error == YAML_MEMORY_ERROR)
		return yaml_tree_oom(e);
	if (p->error == YAML_READER_ERROR) {
		/* The reader (bad encoding) reports a byte offset, not a mark. */
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			col = buf[i] == '\n' ? 1 : col + 1;
			line += buf[i] == '\n';
		}
		return yaml_tree_fail(e, line, col, problem);
	}
	yaml_tree_fail_at(e, &p->problem_mark, problem);
	if (p->context)
		snprintf(e->msg, sizeof e->msg, "%s (%s at %zu:%zu)", problem, p->context,
		         p->context_mark.line + 1, p->context_mark.column + 1);
	return HERALD_ECONFIG;
}

/* Build the node that event `ev` starts, reading the events of its children from p. */
static int yaml_tree_node_read(yaml_parser_t *p, const yaml_event_t *ev, int depth,
                               yaml_tree_node **out, yaml_tree_error *e, const char *buf,
                               size_t len)
{
	yaml_char_t *anchor, *tag;
	yaml_event_type_t end;
	yaml_tree_node *n, *kid, **nk;
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
		return yaml_tree_fail_at(e, &ev->start_mark, "aliases are not supported");
	}
	if (anchor)
		return yaml_tree_fail_at(e, &ev->start_mark,
		                         "anchors and aliases are not supported");
	if (tag)
		return yaml_tree_fail_at(e, &ev->start_mark, "tags are not supported");
	if (depth > YAML_TREE_MAX_DEPTH)
		return yaml_tree_fail_at(e, &ev->start_mark, "nested too deeply");
	if (!(n = calloc(1, sizeof *n)))
		return yaml_tree_oom(e);
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	if (end == YAML_NO_EVENT) {
		n->kind = YAML_TREE_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n->text) {
			rc = yaml_tree_oom(e);
			goto fail;
		}
		*out = n;
		return 0;
	}
	n->kind = end == YAML_MAPPING_END_EVENT ? YAML_TREE_MAP : YAML_TREE_SEQ;
	for (;;) {
		yaml_event_t child;

		if (!yaml_parser_parse(p, &child)) {
			rc = yaml_tree_parser_error(e, p, buf, len);
			goto fail;
		}
		if (child.type == end) {
			yaml_event_delete(&child);
			break;
		}
		kid = NULL;
		rc = yaml_tree_node_read(p, &child, depth + 1, &kid, e, buf, len);
		yaml_event_delete(&child);
		if (rc)
			goto fail;
		if (n->n == cap) {
			cap = cap ? cap * 2 : 8;
			if (!(nk = realloc(n->kids, cap * sizeof *nk))) {
				yaml_tree_free(kid);
				rc = yaml_tree_oom(e);
				goto fail;
			}
			n->kids = nk;
		}
		n->kids[n->n++] = kid;
		if (n->kind == YAML_TREE_MAP && n->n % 2 == 1 && kid->kind != YAML_TREE_SCALAR) {
			rc = yaml_tree_fail(e, kid->line, kid->col, "a key must be a plain value");
			goto fail;
		}
	}
	*out = n;
	return 0;
fail:
	yaml_tree_free(n);
	return rc;
}

int yaml_tree_parse(const char *buf, size_t len, yaml_tree_node **root, yaml_tree_error *e)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int docs = 0, rc = 0;
	bool done = false;

	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return yaml_tree_oom(e);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = yaml_tree_parser_error(e, &p, buf, len);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = yaml_tree_fail_at(e, &ev.start_mark,
				                       "only one YAML document is allowed");
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_ALIAS_EVENT:
			rc = yaml_tree_node_read(&p, &ev, 0, root, e, buf, len);
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
		yaml_tree_free(*root);
		*root = NULL;
	}
	return rc;
}
