/* stdin.c - the stdin source: one event per line of standard input (see README.md). */
#define _GNU_SOURCE /* pipe2, GNU strerror_r */
#include <herald/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct stdin_src {
	herald_host *host;
	const herald_host_api *api;
	size_t max_line;
	char *buf; /* max_line + 2 bytes: a longest line, its '\r' and '\n' */
	size_t len;
	unsigned long long lineno; /* lines ended so far, blank ones included */
	int skipping;              /* discarding the rest of an overlong line */
	int wake[2];               /* self-pipe: stop() makes wake[0] readable for good */
	pthread_t thread;
} stdin_src;

static const herald_option stdin_options[] = {
    {"max_line", HERALD_OPT_INT, "1048576", 64, 67108864, "longest line accepted, bytes"},
    {NULL, 0, NULL, 0, 0, NULL},
};

/* Sleeps up to `ms` milliseconds; returns 1 as soon as stop() was called. */
static int stdin_wait_stop(stdin_src *s, int ms)
{
	struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
	return poll(&p, 1, ms) > 0;
}

static void stdin_too_long(stdin_src *s, unsigned long long lineno)
{
	s->api->log(s->host, HERALD_LOG_WARN,
	            "line %llu: longer than max_line (%zu bytes), skipped", lineno, s->max_line);
}

/* Submits line number s->lineno; returns 1 when reading must stop. */
static int stdin_line(stdin_src *s, const char *line, size_t n)
{
	char err[512];
	int rc, delay = 1;

	if (n && line[n - 1] == '\r')
		n--;
	if (n > s->max_line) {
		stdin_too_long(s, s->lineno);
		return 0;
	}
	size_t blank = 0;
	while (blank < n && (line[blank] == ' ' || line[blank] == '\t'))
		blank++;
	if (blank == n)
		return 0;
	/* A full queue is not a reason to lose an event: wait and offer the same line again. */
	while ((rc = s->api->submit(s->host, line, n, 0, err, sizeof err)) == HERALD_EFULL) {
		if (stdin_wait_stop(s, delay))
			return 1;
		delay = delay * 2 > 100 ? 100 : delay * 2;
	}
	if (rc == HERALD_ESHUTDOWN) {
		s->api->log(s->host, HERALD_LOG_INFO,
		            "the core is stopping: reading ended at line %llu", s->lineno);
		return 1;
	}
	if (rc != HERALD_OK)
		s->api->log(s->host, HERALD_LOG_WARN, "line %llu: %s", s->lineno,
		            rc == HERALD_EINVAL ? err : s->api->strerror(rc));
	return 0;
}

/* Hands every complete line in the buffer to stdin_line; returns 1 when reading must stop. */
static int stdin_drain(stdin_src *s)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(s->buf + start, '\n', s->len - start))) {
		size_t n = (size_t)(nl - (s->buf + start));
		s->lineno++;
		if (s->skipping)
			s->skipping = 0;
		else if (stdin_line(s, s->buf + start, n))
			return 1;
		start += n + 1;
	}
	s->len -= start;
	memmove(s->buf, s->buf + start, s->len);
	if (s->skipping) {
		s->len = 0;
	} else if (s->len == s->max_line + 2) {
		stdin_too_long(s, s->lineno + 1);
		s->skipping = 1;
		s->len = 0;
	}
	return 0;
}

static void *stdin_run(void *arg)
{
	stdin_src *s = arg;
	struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = s->wake[0], .events = POLLIN}};
	char msg[128];

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			s->api->log(s->host, HERALD_LOG_ERROR, "poll: %s",
			            strerror_r(errno, msg, sizeof msg));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (!p[0].revents)
			continue;
		ssize_t r = read(0, s->buf + s->len, s->max_line + 2 - s->len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			s->api->log(s->host, HERALD_LOG_ERROR, "read error after %llu lines: %s",
			            s->lineno, strerror_r(errno, msg, sizeof msg));
			return NULL;
		}
		if (r == 0)
			break;
		s->len += (size_t)r;
		if (stdin_drain(s))
			return NULL;
	}
	/* The last line may lack its newline. */
	if (s->len || s->skipping) {
		s->lineno++;
		if (!s->skipping && stdin_line(s, s->buf, s->len))
			return NULL;
	}
	s->api->log(s->host, HERALD_LOG_INFO, "end of input after %llu lines", s->lineno);
	return NULL;
}

static void stdin_destroy(void *self)
{
	stdin_src *s = self;
	if (!s)
		return;
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	free(s->buf);
	free(s);
}

static int stdin_create(herald_host *host, const herald_host_api *api, void **self)
{
	stdin_src *s = calloc(1, sizeof *s);
	int rc = HERALD_ENOMEM;

	if (!s)
		goto fail;
	s->host = host;
	s->api = api;
	s->wake[0] = s->wake[1] = -1;
	s->max_line = (size_t)api->opt_int(host, "max_line");
	s->buf = malloc(s->max_line + 2);
	if (!s->buf)
		goto fail;
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = HERALD_EIO;
		goto fail;
	}
	*self = s;
	return HERALD_OK;

fail:
	api->log(host, HERALD_LOG_ERROR, "cannot create: %s", api->strerror(rc));
	stdin_destroy(s);
	return rc;
}

static int stdin_start(void *self)
{
	stdin_src *s = self;
	int err = pthread_create(&s->thread, NULL, stdin_run, s);
	if (err) {
		char msg[128];
		s->api->log(s->host, HERALD_LOG_ERROR, "cannot start the reader thread: %s",
		            strerror_r(err, msg, sizeof msg));
		return HERALD_EIO;
	}
	return HERALD_OK;
}

static void stdin_stop(void *self)
{
	stdin_src *s = self;
	/* The pipe is non-blocking and stop() runs once: this write cannot block or fail. */
	(void)!write(s->wake[1], "", 1);
	pthread_join(s->thread, NULL);
}

HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = {
    .abi = HERALD_PLUGIN_ABI,
    .size = sizeof(herald_plugin),
    .name = "stdin",
    .version = "1.0",
    .description = "reads one JSON event per line of standard input",
    .options = stdin_options,
    .create = stdin_create,
    .start = stdin_start,
    .stop = stdin_stop,
    .destroy = stdin_destroy,
    .ack = NULL,
};
