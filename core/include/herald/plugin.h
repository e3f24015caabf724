/*
 * herald/plugin.h - the whole ABI between Herald's core and a source plugin.
 *
 * A plugin is a shared object that includes this header and nothing else of the core's. It
 * exports exactly one symbol, HERALD_PLUGIN_SYMBOL, a const herald_plugin describing itself.
 * The core refuses a plugin whose `abi` differs from HERALD_PLUGIN_ABI ("built for ABI N, core
 * speaks M") or whose `size` is smaller than HERALD_PLUGIN_MIN_SIZE ("struct of S bytes, the
 * smallest this core accepts is M").
 *
 * Compatibility: herald_plugin and herald_host_api only grow at their end, and each carries its
 * `size`, so a plugin and a core built against different versions of this header with the same
 * HERALD_PLUGIN_ABI work together:
 *   - an older plugin, whose herald_plugin is shorter than the core's: the core reads only the
 *     `size` bytes the plugin declared and treats every later field as absent (NULL);
 *   - an older core, whose herald_host_api is shorter than the plugin's: the plugin calls a host
 *     function added after opt_isset only when HERALD_HOST_HAS(api, field) says the core's
 *     table holds it (submit_many is the first such function).
 * Fields appended later are optional by construction. Any other change (a field removed,
 * reordered or retyped, a semantic change, a new field every plugin must fill) bumps
 * HERALD_PLUGIN_ABI.
 *
 * Lifecycle, all called on the core's main thread:
 *   create(host, api, &self)  read options, allocate; no threads yet, no events submitted.
 *   start(self)               start reading (threads, sockets); may submit from now on.
 *   stop(self)                stop reading; when it returns the plugin's threads are joined and
 *                             it never calls submit() again.
 *   destroy(self)             free everything; accepts a plugin that was created but never
 *                             started, or started and stopped.
 * If create fails, destroy is not called (create cleans up after itself). If start fails, stop
 * is not called but destroy is.
 *
 * Threading: api->submit() is the only host function that may be called from any thread.
 * api->log() may also be called from any thread. Every other host function must be called from
 * create() only.
 */
#ifndef HERALD_PLUGIN_H
#define HERALD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of this header. */
#define HERALD_PLUGIN_ABI 1

/*
 * 1 when the core's host table `api` (the const herald_host_api * given to create(); borrowed,
 * not NULL, evaluated once) has the host function `field`, else 0: e.g.
 * HERALD_HOST_HAS(api, submit_many). It compares the size the core declares in `api->size`
 * with where `field` ends in the layout this header gives, so it answers for the core the
 * plugin runs in, not the one it was built against. Every core speaking this ABI has the
 * fields from `abi` to `opt_isset`; check any later one before calling it, once in create()
 * (the table does not change while the plugin is loaded), then either do without it or log
 * why and return HERALD_ECONFIG. A field the table lacks is not NULL: reading it reads past
 * the core's table. Thread-safe; calls nothing.
 */
#define HERALD_HOST_HAS(api, field)                                                                \
	((size_t)(api)->size >=                                                                    \
	 offsetof(herald_host_api, field) + sizeof(((const herald_host_api *)0)->field))

/* The name of the one symbol a plugin exports, and the attribute that exports it even when
 * the plugin is built with hidden visibility:
 *     HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = { ... };  */
#define HERALD_PLUGIN_SYMBOL herald_plugin_entry
#define HERALD_PLUGIN_SYMBOL_NAME "herald_plugin_entry"
#if defined(__GNUC__)
#define HERALD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define HERALD_PLUGIN_EXPORT
#endif

/* Result codes: 0 is success, every error is negative. api->strerror() names them. */
enum herald_status {
	HERALD_OK = 0,
	HERALD_EINVAL = -1,    /* the input is malformed; err says which field */
	HERALD_EFULL = -2,     /* the ingest queue is full: back off and submit again */
	HERALD_ENOMEM = -3,    /* out of memory */
	HERALD_ESHUTDOWN = -4, /* the core is stopping and takes no more events */
	HERALD_EIO = -5,       /* an I/O or system call failed */
	HERALD_ECONFIG = -6,   /* a configuration value is missing or wrong */
	HERALD_EABI = -7,      /* a plugin was built for another ABI */
	HERALD_EFORMAT = -8,   /* the formatter failed for this event (script error or budget) */
	HERALD_ENOTFOUND = -9, /* something named does not exist */
};

/* Log levels for api->log(), most severe first. */
enum herald_log_level {
	HERALD_LOG_ERROR = 0,
	HERALD_LOG_WARN = 1,
	HERALD_LOG_INFO = 2,
	HERALD_LOG_DEBUG = 3,
};

/* The types an option of a plugin may have (see herald_option). */
enum herald_option_type {
	HERALD_OPT_STRING = 1, /* any scalar, kept as text */
	HERALD_OPT_INT = 2,    /* a whole number; `min`/`max` bound it */
	HERALD_OPT_BOOL = 3,   /* true/false (also yes/no, on/off) */
	HERALD_OPT_SECRET = 4, /* {env: NAME} or {file: PATH}: the value is read from there */
	HERALD_OPT_LIST = 5,   /* a sequence of scalars (a lone scalar counts as a list of one) */
};

/*
 * One option a plugin accepts in its config section. A plugin lists them in an array ended by
 * an entry whose name is NULL. The core checks the section against it before create(): an
 * unknown key, a wrong type or a value out of range is refused naming the file, line and key,
 * and the valid keys. `def` is the default as text (NULL: no default; the option is then
 * unset unless given, see opt_isset).
 */
typedef struct herald_option {
	const char *name;
	int type;                /* enum herald_option_type */
	const char *def;         /* default value as YAML text, or NULL */
	long long min, max;      /* bounds of an INT option (ignored when min == max == 0) */
	const char *description; /* one line, shown in errors and docs */
} herald_option;

/* The core's handle for one plugin instance. Opaque; passed back to every host function. */
typedef struct herald_host herald_host;

/*
 * The host functions, passed to create(). The table and `host` stay valid until destroy()
 * returns. Strings returned by the opt_* functions are borrowed from the core and live as long
 * as `host`.
 */
typedef struct herald_host_api {
	uint32_t abi;  /* HERALD_PLUGIN_ABI of the core */
	uint32_t size; /* sizeof(herald_host_api) of the core: see HERALD_HOST_HAS */

	/*
	 * Hand one event (the JSON text of an event object, see plugins/README.md) to the core.
	 * Thread-safe; never blocks on the event loop. The JSON is parsed and validated before it
	 * returns, and copied: `json` is borrowed for the call only.
	 *
	 * Returns HERALD_OK when the event was queued, HERALD_EINVAL when it is not a valid event
	 * (then `err`, when not NULL, receives a message naming the field, NUL-terminated within
	 * `errlen`), HERALD_EFULL when the ingest queue is full (nothing was queued: back off and
	 * submit the same event again), HERALD_ESHUTDOWN when the core is stopping.
	 *
	 * Each submit that returned HERALD_OK is followed by exactly one call of the plugin's
	 * ack() (when it has one) with the same `tag`.
	 */
	int (*submit)(herald_host *host, const char *json, size_t len, uint64_t tag, char *err,
	              size_t errlen);

	/* Log a line at `level`, prefixed with the plugin's name. Thread-safe. */
	void (*log)(herald_host *host, int level, const char *fmt, ...)
#if defined(__GNUC__)
	    __attribute__((format(printf, 3, 4)))
#endif
	    ;

	/* A static, human-readable name for a herald_status code. Thread-safe. */
	const char *(*strerror)(int status);

	/* Options of the plugin's config section, by name (create() only). A STRING or SECRET
	 * option that is unset reads as NULL, an INT as its default or 0, a BOOL as 0. */
	const char *(*opt_string)(herald_host *host, const char *name);
	long long (*opt_int)(herald_host *host, const char *name);
	int (*opt_bool)(herald_host *host, const char *name);
	/* Items of a LIST option: its length, and item i (borrowed; NULL past the end). */
	size_t (*opt_list_len)(herald_host *host, const char *name);
	const char *(*opt_list_item)(herald_host *host, const char *name, size_t i);
	/* 1 when the option was given in the config (or has a default), else 0. */
	int (*opt_isset)(herald_host *host, const char *name);

	/* ---- Added after the first layout: check HERALD_HOST_HAS(api, field) before use. ---- */

	/*
	 * Like submit(), for a JSON text holding one event object or an array of them, all or
	 * nothing: every event is validated first, then all are queued together or none is.
	 * Thread-safe. Event i gets the tag `first_tag + i` (a lone object: `first_tag`), and each
	 * is acknowledged on its own. On success *count (when not NULL) receives the number of
	 * events queued (0 for an empty array). HERALD_EINVAL: err names the index and the field,
	 * e.g. "[3].project.id: must be a positive integer" (no index for a lone object), and
	 * `*count` the index of the bad event. HERALD_EFULL: the queue has no room for all of them
	 * now; an array larger than the whole queue is HERALD_EINVAL.
	 */
	int (*submit_many)(herald_host *host, const char *json, size_t len, uint64_t first_tag,
	                   size_t *count, char *err, size_t errlen);
} herald_host_api;

/*
 * What a plugin exports as HERALD_PLUGIN_SYMBOL. The core copies the descriptor's first `size`
 * bytes when it loads the plugin; the strings and the option table it points to are borrowed
 * and must stay valid while the shared object is loaded (static data does).
 *
 * `abi` to `destroy` are the fields every plugin must fill: HERALD_PLUGIN_MIN_SIZE bytes. Every
 * later field, from `ack` on, is optional: the core reads it only when `size` covers it and
 * otherwise takes it as NULL, so a plugin whose struct ends before a field appended later (or
 * leaves out `ack` altogether) keeps loading.
 */
typedef struct herald_plugin {
	uint32_t abi;                 /* HERALD_PLUGIN_ABI the plugin was built against */
	uint32_t size;                /* sizeof(herald_plugin) the plugin was built against */
	const char *name;             /* short name used in logs and metrics, e.g. "stdin" */
	const char *version;          /* the plugin's own version string */
	const char *description;      /* one line */
	const herald_option *options; /* accepted options, ended by {NULL}; NULL for none */

	/* Build the plugin from its options. On success stores the plugin's state in *self and
	 * returns HERALD_OK; on failure returns a negative status, has logged why, and has freed
	 * what it allocated. */
	int (*create)(herald_host *host, const herald_host_api *api, void **self);
	/* Begin producing events. May submit before it returns. */
	int (*start)(void *self);
	/* Stop producing events and join the plugin's threads. Never called twice. */
	void (*stop)(void *self);
	/* Free the plugin's state. Accepts a plugin that never started. */
	void (*destroy)(void *self);

	/* ---- Optional fields: absent when `size` does not cover them. ---- */

	/*
	 * Optional (NULL when not needed). Called on the core's main thread once for each event
	 * accepted by submit(): status HERALD_OK when the core has taken the event into fan-out,
	 * HERALD_EFORMAT when the formatter dropped it (it will never succeed: a durable source
	 * should acknowledge it too), HERALD_ESHUTDOWN when the core stopped before taking it (a
	 * durable source should leave it unacknowledged so it is read again after a restart).
	 * It may be called after stop() returned, but never after destroy(). Must not block.
	 */
	void (*ack)(void *self, uint64_t tag, int status);
} herald_plugin;

/* The smallest `size` the core accepts: the fields every plugin has, `abi` to `destroy`. */
#define HERALD_PLUGIN_MIN_SIZE                                                                     \
	(offsetof(herald_plugin, destroy) + sizeof(((const herald_plugin *)0)->destroy))

#ifdef __cplusplus
}
#endif

#endif /* HERALD_PLUGIN_H */
