/* The browser files built into the binary: every file of core/web is there byte for byte, under
 * the path and Content-Type Herald serves it with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "web/web_assets.h"

static const struct {
	const char *file, *path, *type;
} expected[] = {
    {"herald-client.js", "/herald-client.js", "text/javascript; charset=utf-8"},
    {"herald-client.d.ts", "/herald-client.d.ts", "text/plain; charset=utf-8"},
    {"demo.html", "/demo/", "text/html; charset=utf-8"},
    {"demo.js", "/demo/demo.js", "text/javascript; charset=utf-8"},
    {"demo.css", "/demo/demo.css", "text/css; charset=utf-8"},
};
#define N_EXPECTED (sizeof expected / sizeof expected[0])

/* The whole file, or NULL. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, f) == (size_t)size) {
		*len = (size_t)size;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static const web_asset *find(const char *path)
{
	const web_asset *found = NULL;
	for (size_t i = 0; i < web_assets_count; i++) {
		if (strcmp(web_assets[i].path, path) == 0) {
			CHECK(found == NULL); /* each path once */
			found = &web_assets[i];
		}
	}
	return found;
}

int main(void)
{
	const char *src = getenv("HERALD_SOURCE_DIR");
	char path[4096];

	CHECK(src != NULL);
	if (!src)
		return check_done();
	CHECK_INT(web_assets_count, N_EXPECTED);
	for (size_t i = 0; i < N_EXPECTED; i++) {
		const web_asset *a = find(expected[i].path);
		size_t len = 0;
		char *want;

		CHECK(a != NULL);
		if (!a) {
			fprintf(stderr, "no asset at %s\n", expected[i].path);
			continue;
		}
		CHECK_STR(a->content_type, expected[i].type);
		snprintf(path, sizeof path, "%s/core/web/%s", src, expected[i].file);
		want = slurp(path, &len);
		CHECK(want != NULL);
		if (!want)
			continue;
		CHECK(len > 0);
		CHECK_INT(a->len, len);
		CHECK(a->len == len && memcmp(a->data, want, len) == 0);
		CHECK_INT(a->data[a->len], 0);
		free(want);
	}
	return check_done();
}
