/*
 * web_assets.h - the browser files of core/web, built into the binary (the C source is
 * generated at build time by core/web/embed.cmake), so that Herald serves its client and demo
 * page without any file on disk.
 *
 * Paths: "/herald-client.js", "/herald-client.d.ts", "/demo/" (demo.html), "/demo/demo.js",
 * "/demo/demo.css". `data` holds `len` bytes (followed by a NUL that `len` does not count);
 * `content_type` is a complete Content-Type value. All of it is static and read-only.
 */
#ifndef HERALD_WEB_ASSETS_H
#define HERALD_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
	const char *path;
	const char *content_type;
	const unsigned char *data;
	size_t len;
} web_asset;

extern const web_asset web_assets[];
extern const size_t web_assets_count;

#endif
