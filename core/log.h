/*
 * log.h - leveled logging to stderr, plain text or one JSON object per line, with optional
 * structured fields; and the service manager's notifications (systemd's sd_notify protocol).
 *
 * Under systemd, when stderr is the journal (JOURNAL_STREAM names it), every line starts with
 * its syslog priority, `<3>` to `<7>`, which journald strips and records; plain lines then carry
 * no time stamp, since the journal keeps its own.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "herald/plugin.h"

/* A static, human-readable name for a herald_status code (defined in plugin_loader.c, whose
 * host table hands it to plugins). */
const char *herald_strerror(int status);

/* The current level (enum herald_log_level); lines above it are not formatted at all. */
extern int log_level;

/* Set the level and the format (json != 0: one JSON object per line), and notice whether
 * stderr is the journal. Call before threads. */
void log_setup(int level, int json);

/* Parse "error", "warn", "info", "debug"; returns the level or -1. */
int log_level_parse(const char *name);

/* Write one line. `who` names the plugin or subsystem (NULL: the core). Thread-safe. */
void log_emit(int level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vemit(int level, const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * A field of a structured line: JSON lines carry it as a member next to "msg" (a string, or a
 * number when `str` is NULL), plain lines append ` key=value` to the message (the value quoted
 * when it holds a space, a quote or nothing). Keys are plain words that are not ts, level,
 * who or msg. Build them with LOG_STR and LOG_INT.
 */
typedef struct log_field {
	const char *key;
	const char *str; /* the value as a string; NULL: `num` is the value */
	long long num;
} log_field;

#define LOG_STR(k, v) ((log_field){.key = (k), .str = (v) ? (v) : ""})
#define LOG_INT(k, v) ((log_field){.key = (k), .num = (long long)(v)})

/* log_emit with `n` fields. */
void log_emit_fields(int level, const char *who, const log_field *fields, size_t n, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));

#define LOG_AT(lvl, ...)                                                                           \
	do {                                                                                       \
		if (log_level >= (lvl))                                                            \
			log_emit((lvl), NULL, __VA_ARGS__);                                        \
	} while (0)
#define LOG_ERROR(...) LOG_AT(HERALD_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(HERALD_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(HERALD_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(HERALD_LOG_DEBUG, __VA_ARGS__)

/*
 * A line with the fields of the array `fields` (an array, not a pointer: its length is taken
 * with sizeof):
 *
 *     log_field kv[] = {LOG_INT("user", 7), LOG_STR("remote", "10.0.0.8"), LOG_INT("code", 1008)};
 *     LOG_FIELDS(HERALD_LOG_INFO, kv, "connection closed: %s", "rate limit");
 */
#define LOG_FIELDS(lvl, fields, ...)                                                               \
	do {                                                                                       \
		if (log_level >= (lvl))                                                            \
			log_emit_fields((lvl), NULL, (fields),                                     \
			                sizeof(fields) / sizeof((fields)[0]), __VA_ARGS__);        \
	} while (0)

/*
 * Tell the service manager `state` ("READY=1", "RELOADING=1", "STOPPING=1") through the
 * datagram socket $NOTIFY_SOCKET names (a path, or an abstract name written with `@`); RELOADING
 * gets the MONOTONIC_USEC systemd asks for. Does nothing (returns 0) without $NOTIFY_SOCKET;
 * otherwise 0 or a negative HERALD_E* (the notification is lost, the caller goes on).
 */
int log_notify(const char *state);

#endif
