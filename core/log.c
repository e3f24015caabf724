/* log.c - see log.h. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int log_level = HERALD_LOG_INFO;
static int log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(int level, int json)
{
	log_level = level;
	log_json = json;
}

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* Append `s` to `out` as the inside of a JSON string. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n] = '\0';
	return n;
}

void log_vemit(int level, const char *who, const char *fmt, va_list ap)
{
	char msg[2048], line[4608], ts[64];
	struct timespec now;
	struct tm tm;

	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	vsnprintf(msg, sizeof msg, fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);
	if (log_json) {
		char emsg[4096], ewho[128];
		json_escape(emsg, sizeof emsg, msg);
		json_escape(ewho, sizeof ewho, who ? who : "core");
		snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"who\":\"%s\",\"msg\":\"%s\"}\n",
			 ts, level_names[level], ewho, emsg);
	} else {
		snprintf(line, sizeof line, "%s %-5s %s%s%s%s\n", ts, level_names[level],
			 who ? "[" : "", who ? who : "", who ? "] " : "", msg);
	}
	/* One fputs per line: stdio locks the stream, so lines of threads never interleave. */
	fputs(line, stderr);
}

void log_emit(int level, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(level, who, fmt, ap);
	va_end(ap);
}
