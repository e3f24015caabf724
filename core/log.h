/* log.h - leveled logging to stderr, plain text or one JSON object per line. */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdarg.h>

#include "herald/plugin.h"

/* A static, human-readable name for a herald_status code (defined in plugin_loader.c, whose
 * host table hands it to plugins). */
const char *herald_strerror(int status);

/* The current level (enum herald_log_level); lines above it are not formatted at all. */
extern int log_level;

/* Set the level and the format (json != 0: one JSON object per line). Call before threads. */
void log_setup(int level, int json);

/* Parse "error", "warn", "info", "debug"; returns the level or -1. */
int log_level_parse(const char *name);

/* Write one line. `who` names the plugin or subsystem (NULL: the core). Thread-safe. */
void log_emit(int level, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vemit(int level, const char *who, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define LOG_AT(lvl, ...)                                                                           \
	do {                                                                                       \
		if (log_level >= (lvl))                                                            \
			log_emit((lvl), NULL, __VA_ARGS__);                                        \
	} while (0)
#define LOG_ERROR(...) LOG_AT(HERALD_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(HERALD_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(HERALD_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(HERALD_LOG_DEBUG, __VA_ARGS__)

#endif
