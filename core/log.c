/* log.c - see log.h. */
#include "log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "herald/text.h"

int log_level = HERALD_LOG_INFO;
static int log_json;
static int log_journal; /* stderr is the journal: priorities, no time stamp */

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities of the levels: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const int level_priorities[] = {3, 4, 6, 7};

/* JOURNAL_STREAM is "DEVICE:INODE" of the journal's socket; it is inherited by children whose
 * stderr is something else, so it counts only when it names stderr itself. */
static int log_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(int level, int json)
{
	log_level = level;
	log_json = json;
	log_journal = log_is_journal();
}

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* Append to buf (of `cap` bytes, `*n` used) without ever running past it. */
static void log_append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void log_append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= cap - 1)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (w > 0)
		*n = *n + (size_t)w < cap - 1 ? *n + (size_t)w : cap - 1;
}

/* The fields, as JSON members (",\"k\":v") or as plain ` k=v` words. */
static void log_fields(char *buf, size_t cap, const log_field *fields, size_t count)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		const log_field *f = &fields[i];
		char key[64], val[1024];

		if (!f->key)
			continue;
		if (log_json) {
			text_json_escape(key, sizeof key, f->key, 0);
			if (!f->str) {
				log_append(buf, cap, &n, ",\"%s\":%lld", key, f->num);
				continue;
			}
			text_json_escape(val, sizeof val, f->str, 0);
			log_append(buf, cap, &n, ",\"%s\":\"%s\"", key, val);
		} else if (!f->str) {
			log_append(buf, cap, &n, " %s=%lld", f->key, f->num);
		} else if (!*f->str || strpbrk(f->str, " \"\t\n")) {
			text_json_escape(val, sizeof val, f->str,
			                 0); /* quoted, with its quotes escaped */
			log_append(buf, cap, &n, " %s=\"%s\"", f->key, val);
		} else {
			log_append(buf, cap, &n, " %s=%s", f->key, f->str);
		}
	}
}

static void log_line(int level, const char *who, const log_field *fields, size_t count,
                     const char *fmt, va_list ap)
{
	char msg[2048], line[8192], ts[64], pri[8] = "", extra[2048];
	struct timespec now;
	struct tm tm;

	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_fields(extra, sizeof extra, fields, count);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         now.tv_nsec / 1000000);
	if (log_journal)
		snprintf(pri, sizeof pri, "<%d>", level_priorities[level]);
	if (log_json) {
		char emsg[4096], ewho[128];
		text_json_escape(emsg, sizeof emsg, msg, 0);
		text_json_escape(ewho, sizeof ewho, who ? who : "core", 0);
		snprintf(line, sizeof line,
		         "%s{\"ts\":\"%s\",\"level\":\"%s\",\"who\":\"%s\",\"msg\":\"%s\"%s}\n",
		         pri, ts, level_names[level], ewho, emsg, extra);
	} else if (log_journal) {
		snprintf(line, sizeof line, "%s%s%s%s%s%s\n", pri, who ? "[" : "", who ? who : "",
		         who ? "] " : "", msg, extra);
	} else {
		snprintf(line, sizeof line, "%s %-5s %s%s%s%s%s\n", ts, level_names[level],
		         who ? "[" : "", who ? who : "", who ? "] " : "", msg, extra);
	}
	/* One fputs per line: stdio locks the stream, so lines of threads never interleave. */
	fputs(line, stderr);
}

void log_vemit(int level, const char *who, const char *fmt, va_list ap)
{
	log_line(level, who, NULL, 0, fmt, ap);
}

void log_emit(int level, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(level, who, fmt, ap);
	va_end(ap);
}

void log_emit_fields(int level, const char *who, const log_field *fields, size_t n, const char *fmt,
                     ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(level, who, fields, n, fmt, ap);
	va_end(ap);
}

int log_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char msg[256];
	struct timespec now;
	size_t plen;
	ssize_t sent;
	int fd, len;

	if (!path || !*path)
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof sa.sun_path)
		return HERALD_EINVAL;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket: the name is the bytes that follow */
	if (strcmp(state, "RELOADING=1") == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		len = snprintf(msg, sizeof msg, "%s\nMONOTONIC_USEC=%llu", state,
		               (unsigned long long)now.tv_sec * 1000000ULL +
		                   (unsigned long long)now.tv_nsec / 1000ULL);
	} else {
		len = snprintf(msg, sizeof msg, "%s", state);
	}
	if (len < 0 || (size_t)len >= sizeof msg)
		return HERALD_EINVAL;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return HERALD_EIO;
	sent = sendto(fd, msg, (size_t)len, MSG_NOSIGNAL, (const struct sockaddr *)&sa,
	              (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
	close(fd);
	return sent == len ? 0 : HERALD_EIO;
}
