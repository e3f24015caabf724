/* redis.c - the redis source: events from pub/sub channels, or from a stream read through a
 * consumer group and acknowledged once the core has taken them (see README.md). */
#define _GNU_SOURCE /* pipe2, GNU strerror_r */
#include <herald/plugin.h>
#include <herald/redis_url.h>

#include <hiredis/hiredis.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The longest BLOCK of a read while entries await their XACK: it bounds how long an
 * acknowledgement of the core waits for the connection, which a blocked read holds. */
#define ACK_BLOCK_MS 20
#define XACK_MAX 512       /* ids per XACK command */
#define FINAL_ACK_MS 1000  /* how long destroy() tries to send the last XACKs */
#define BACKOFF_MIN_MS 100 /* first reconnect delay */
#define FULL_MAX_MS 100    /* longest wait before offering an event to a full queue again */

enum { MODE_STREAM, MODE_PUBSUB };

/* Where a stream entry read by this consumer stands, from reading to XACK. */
enum {
	E_INFLIGHT, /* submitted; the core has not acknowledged it yet */
	E_ACK,      /* to XACK */
	E_SENDING,  /* in an XACK command on its way */
	E_DROP,     /* never to XACK: left pending, so that the next start reads it again */
};

typedef struct entry {
	uint64_t tag;
	int state;
	char id[48]; /* "<ms>-<seq>", two numbers of at most 20 digits */
} entry;

typedef struct redis_src {
	herald_host *host;
	const herald_host_api *api;

	/* Options. Strings are borrowed from the core unless marked owned. */
	int mode;
	char *addr, *path;     /* owned: TCP host, or unix socket path (the other is NULL) */
	char *user, *password; /* owned */
	int port, db;
	char where[320];                   /* the url without credentials, for logs */
	const char **channels, **patterns; /* owned arrays */
	size_t n_channels, n_patterns;
	const char *stream, *group, *consumer, *field, *dead_letter;
	int create_group, batch, block_ms, timeout_ms, backoff_max_ms;
	char hostname[256];

	/* The plugin thread's, and destroy()'s once the thread is joined. */
	redisContext *ctx;
	int owed;     /* replies the connection still owes */
	int ready;    /* the connection is authenticated and on its database */
	int up;       /* the current connection got through its setup and first read */
	int warned;   /* the current outage has been logged */
	int draining; /* destroy() sends the last XACKs: stop() no longer interrupts */
	uint64_t next_tag;
	char cursor[48]; /* the last pending entry read */
	char err[512];   /* why the connection was given up */

	/* The entries between reading and XACK, shared with ack() under `lock`. Only the plugin
	 * thread adds and removes entries (so it reads ids without the lock); tags grow along the
	 * array, which ack() searches. */
	pthread_mutex_t lock;
	entry *entries;
	size_t n_entries, cap_entries;

	atomic_int stopping;
	int wake[2]; /* self-pipe: stop() makes wake[0] readable for good */
	pthread_t thread;
} redis_src;

static const herald_option redis_options[] = {
    {"url", HERALD_OPT_STRING, "redis://127.0.0.1:6379/0", 0, 0,
     "redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket[?db=N]"},
    {"password", HERALD_OPT_SECRET, NULL, 0, 0, "password; overrides the one of the url"},
    {"mode", HERALD_OPT_STRING, "stream", 0, 0, "stream (consumer group) or pubsub"},
    {"channels", HERALD_OPT_LIST, NULL, 0, 0,
     "pubsub: channels to SUBSCRIBE (herald:events when no patterns are given)"},
    {"patterns", HERALD_OPT_LIST, NULL, 0, 0, "pubsub: glob-style patterns to PSUBSCRIBE"},
    {"stream", HERALD_OPT_STRING, "herald:events", 0, 0, "stream: the stream key"},
    {"group", HERALD_OPT_STRING, "herald", 0, 0, "stream: the consumer group"},
    {"consumer", HERALD_OPT_STRING, NULL, 0, 0,
     "stream: this consumer's name, stable across restarts (default: the host name)"},
    {"field", HERALD_OPT_STRING, "event", 0, 0, "stream: the entry field holding the event"},
    {"batch", HERALD_OPT_INT, "100", 1, 100000, "stream: entries per read (COUNT)"},
    {"block_ms", HERALD_OPT_INT, "1000", 1, 600000, "stream: longest wait of a read (BLOCK)"},
    {"dead_letter", HERALD_OPT_STRING, NULL, 0, 0,
     "stream: where refused entries are added, with the reason"},
    {"create_group", HERALD_OPT_BOOL, "true", 0, 0,
     "stream: create the group (at 0, and the stream) when missing"},
    {"timeout_ms", HERALD_OPT_INT, "5000", 100, 600000, "connect and reply timeout"},
    {"backoff_max_ms", HERALD_OPT_INT, "30000", 100, 3600000, "longest wait between reconnects"},
    {NULL, 0, NULL, 0, 0, NULL},
};

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Records why the connection is given up; returns HERALD_EIO. */
__attribute__((format(printf, 2, 3))) static int redis_fail(redis_src *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	return HERALD_EIO;
}

/* Sleeps up to `ms` milliseconds; true as soon as stop() was called. */
static bool redis_wait(redis_src *r, int ms)
{
	struct pollfd p = {.fd = r->wake[0], .events = POLLIN};
	return poll(&p, 1, ms) > 0;
}

/* ------------------------------------------------------------------------- the connection */

/*
 * Every call below returns 0 on success, HERALD_ESHUTDOWN when stop() was called (the thread
 * must end), or HERALD_EIO when the connection is to be given up (r->err says why).
 */

static int redis_connect(redis_src *r)
{
	struct pollfd p[2] = {{.events = POLLOUT}, {.fd = r->wake[0], .events = POLLIN}};
	int n, soerr = 0;
	socklen_t len = sizeof soerr;
	char msg[128];

	r->owed = 0;
	if (r->path)
		r->ctx = redisConnectUnixNonBlock(r->path);
	else
		r->ctx = redisConnectNonBlock(r->addr, r->port);
	if (!r->ctx)
		return redis_fail(r, "out of memory");
	if (r->ctx->err)
		return redis_fail(r, "%s", r->ctx->errstr);
	p[0].fd = r->ctx->fd;
	while ((n = poll(p, 2, r->timeout_ms)) < 0 && errno == EINTR)
		;
	if (n > 0 && p[1].revents)
		return HERALD_ESHUTDOWN;
	if (n == 0)
		return redis_fail(r, "connect: no answer within %d ms", r->timeout_ms);
	if (n < 0 || getsockopt(r->ctx->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr)
		return redis_fail(r, "%s", strerror_r(soerr, msg, sizeof msg));
	/* A pub/sub connection is idle for long: keepalive finds out when its peer is gone. */
	if (!r->path && redisEnableKeepAlive(r->ctx) != REDIS_OK)
		return redis_fail(r, "%s", r->ctx->errstr);
	return 0;
}

static void redis_disconnect(redis_src *r)
{
	if (r->ctx)
		redisFree(r->ctx);
	r->ctx = NULL;
	r->ready = 0;
}

/* Waits up to `ms` milliseconds (-1: no limit) for the next reply, which the caller frees. */
static int redis_receive(redis_src *r, int ms, redisReply **out)
{
	redisContext *c = r->ctx;
	long long deadline = ms < 0 ? -1 : now_ms() + ms;
	char msg[128];

	for (;;) {
		void *reply = NULL;
		int done = 0, n, left = -1;

		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
			return redis_fail(r, "%s", c->errstr);
		if (reply) {
			*out = reply;
			return 0;
		}
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return redis_fail(r, "%s", c->errstr);
		if (deadline >= 0 && (left = (int)(deadline - now_ms())) <= 0)
			return redis_fail(r, "no reply within %d ms", ms);
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN | (done ? 0 : POLLOUT)},
		                      {.fd = r->wake[0], .events = POLLIN}};
		if ((n = poll(p, r->draining ? 1 : 2, left)) < 0 && errno != EINTR)
			return redis_fail(r, "poll: %s", strerror_r(errno, msg, sizeof msg));
		if (n <= 0)
			continue;
		if (!r->draining && p[1].revents)
			return HERALD_ESHUTDOWN;
		if ((p[0].revents & (POLLIN | POLLERR | POLLHUP)) && redisBufferRead(c) != REDIS_OK)
			return redis_fail(r, "%s", c->errstr);
	}
}

/* Sends a command (lens NULL: the arguments are strings) and waits up to `ms` for its reply,
 * first discarding the replies still owed to commands given up by stop(). */
static int redis_call(redis_src *r, int ms, redisReply **out, int argc, const char **argv,
                      const size_t *lens)
{
	int rc;

	if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK)
		return redis_fail(r, "%s", r->ctx->errstr);
	r->owed++;
	while ((rc = redis_receive(r, ms, out)) == 0 && --r->owed > 0)
		freeReplyObject(*out);
	return rc;
}

/* Frees `reply`; an error reply gives the connection up, naming `what`. */
static int redis_check(redis_src *r, redisReply *reply, const char *what)
{
	int rc = 0;
	if (reply->type == REDIS_REPLY_ERROR)
		rc = redis_fail(r, "%s: %s", what, reply->str);
	freeReplyObject(reply);
	return rc;
}

/* AUTH and SELECT. */
static int redis_login(redis_src *r)
{
	redisReply *reply;
	const char *argv[3] = {"AUTH"};
	char db[16];
	int rc, argc = 1;

	if (r->password) {
		if (r->user)
			argv[argc++] = r->user;
		argv[argc++] = r->password;
		if ((rc = redis_call(r, r->timeout_ms, &reply, argc, argv, NULL)) ||
		    (rc = redis_check(r, reply, "AUTH")))
			return rc;
	}
	if (r->db) {
		snprintf(db, sizeof db, "%d", r->db);
		argv[0] = "SELECT";
		argv[1] = db;
		if ((rc = redis_call(r, r->timeout_ms, &reply, 2, argv, NULL)) ||
		    (rc = redis_check(r, reply, "SELECT")))
			return rc;
	}
	r->ready = 1;
	return 0;
}

/* The connection works: say so once per outage. */
static void redis_up(redis_src *r)
{
	const char *how = r->warned ? "connected again to" : "connected to";

	if (r->up)
		return;
	if (r->mode == MODE_PUBSUB)
		r->api->log(r->host, HERALD_LOG_INFO, "%s %s: %zu channels, %zu patterns", how,
		            r->where, r->n_channels, r->n_patterns);
	else
		r->api->log(r->host, HERALD_LOG_INFO, "%s %s: stream %s, group %s, consumer %s",
		            how, r->where, r->stream, r->group, r->consumer);
	r->up = 1;
	r->warned = 0;
}

/* ------------------------------------------------------------------------------ pub/sub */

/* Queues SUBSCRIBE or PSUBSCRIBE for `names`; Redis confirms each name with a reply. */
static int redis_subscribe(redis_src *r, const char *command, const char **names, size_t n)
{
	const char **argv;
	int rc;

	if (!n)
		return 0;
	if (!(argv = malloc((n + 1) * sizeof *argv)))
		return redis_fail(r, "out of memory");
	argv[0] = command;
	memcpy(argv + 1, names, n * sizeof *argv);
	rc = redisAppendCommandArgv(r->ctx, (int)n + 1, argv, NULL);
	free(argv);
	return rc == REDIS_OK ? 0 : redis_fail(r, "%s", r->ctx->errstr);
}

/* Submits one message's payload; a full queue is waited out, never a reason to drop. */
static int redis_publish(redis_src *r, const redisReply *channel, const redisReply *payload)
{
	char err[512];
	int rc, delay = 1;

	while ((rc = r->api->submit(r->host, payload->str, payload->len, 0, err, sizeof err)) ==
	           HERALD_EFULL ||
	       rc == HERALD_ENOMEM) {
		if (delay == 1)
			r->api->log(r->host, HERALD_LOG_DEBUG, "%s: reading paused",
			            r->api->strerror(rc));
		if (redis_wait(r, delay))
			return HERALD_ESHUTDOWN;
		delay = delay * 2 > FULL_MAX_MS ? FULL_MAX_MS : delay * 2;
	}
	if (rc == HERALD_ESHUTDOWN) {
		r->api->log(r->host, HERALD_LOG_INFO, "the core is stopping: reading ended");
		return HERALD_ESHUTDOWN;
	}
	if (rc != HERALD_OK)
		r->api->log(r->host, HERALD_LOG_WARN, "message on channel %.*s refused: %s",
		            (int)channel->len, channel->str,
		            rc == HERALD_EINVAL ? err : r->api->strerror(rc));
	return 0;
}

static int redis_pubsub(redis_src *r)
{
	size_t confirmed = 0, names = r->n_channels + r->n_patterns;
	int rc;

	if ((rc = redis_subscribe(r, "SUBSCRIBE", r->channels, r->n_channels)) ||
	    (rc = redis_subscribe(r, "PSUBSCRIBE", r->patterns, r->n_patterns)))
		return rc;
	for (;;) {
		redisReply *m;
		const char *kind;

		/* The confirmations are timed; messages may take as long as they like. */
		if ((rc = redis_receive(r, r->up ? -1 : r->timeout_ms, &m)))
			return rc;
		if (m->type == REDIS_REPLY_ERROR)
			return redis_check(r, m, "SUBSCRIBE");
		kind = "";
		if (m->type == REDIS_REPLY_ARRAY && m->elements >= 3 &&
		    m->element[0]->type == REDIS_REPLY_STRING)
			kind = m->element[0]->str;
		/* ["message", channel, payload] or ["pmessage", pattern, channel, payload] */
		if ((strcmp(kind, "message") == 0 && m->elements == 3) ||
		    (strcmp(kind, "pmessage") == 0 && m->elements == 4)) {
			if (m->element[m->elements - 1]->type == REDIS_REPLY_STRING)
				rc = redis_publish(r, m->element[m->elements - 2],
				                   m->element[m->elements - 1]);
		} else if ((strcmp(kind, "subscribe") == 0 || strcmp(kind, "psubscribe") == 0) &&
		           ++confirmed == names) {
			redis_up(r);
		}
		freeReplyObject(m);
		if (rc)
			return rc;
	}
}

/* ------------------------------------------------------------------------------ streams */

/* Appends an entry to the table; returns its tag, or 0 when out of memory. */
static uint64_t redis_track(redis_src *r, const char *id, int state)
{
	uint64_t tag = 0;

	pthread_mutex_lock(&r->lock);
	if (r->n_entries == r->cap_entries) {
		size_t cap = r->cap_entries ? r->cap_entries * 2 : 256;
		entry *e = realloc(r->entries, cap * sizeof *e);
		if (!e)
			goto out;
		r->entries = e;
		r->cap_entries = cap;
	}
	tag = r->next_tag++;
	entry *e = &r->entries[r->n_entries++];
	e->tag = tag;
	e->state = state;
	snprintf(e->id, sizeof e->id, "%s", id);
out:
	pthread_mutex_unlock(&r->lock);
	return tag;
}

/* Takes back the entry added last (its submit failed). */
static void redis_untrack_last(redis_src *r)
{
	pthread_mutex_lock(&r->lock);
	r->n_entries--;
	pthread_mutex_unlock(&r->lock);
}

/* True when entry `id` is in the table: it was read before a reconnect and is still in
 * flight. */
static bool redis_tracked(redis_src *r, const char *id)
{
	for (size_t i = 0; i < r->n_entries; i++)
		if (strcmp(r->entries[i].id, id) == 0)
			return true;
	return false;
}

/* After an XACK: its entries (E_SENDING) leave the table, or go back to E_ACK on failure. */
static void redis_settle(redis_src *r, int sent)
{
	size_t j = 0;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_entries; i++) {
		entry *e = &r->entries[i];
		if (e->state == E_SENDING && !sent)
			e->state = E_ACK;
		if (e->state != E_DROP && e->state != E_SENDING)
			r->entries[j++] = *e;
	}
	r->n_entries = j;
	pthread_mutex_unlock(&r->lock);
}

/* XACKs every entry the core has acknowledged, in commands of up to XACK_MAX ids. */
static int redis_flush(redis_src *r, int ms)
{
	const char *argv[3 + XACK_MAX] = {"XACK", r->stream, r->group};
	redisReply *reply;
	int rc, argc;

	for (;;) {
		argc = 3;
		pthread_mutex_lock(&r->lock);
		for (size_t i = 0; i < r->n_entries && argc < 3 + XACK_MAX; i++) {
			if (r->entries[i].state == E_ACK) {
				r->entries[i].state = E_SENDING;
				argv[argc++] = r->entries[i].id;
			}
		}
		pthread_mutex_unlock(&r->lock);
		if (argc == 3) {
			redis_settle(r, 1); /* drops the E_DROP entries */
			return 0;
		}
		rc = redis_call(r, ms, &reply, argc, argv, NULL);
		if (!rc)
			rc = redis_check(r, reply, "XACK");
		redis_settle(r, rc == 0);
		if (rc)
			return rc;
	}
}

/* Waits before offering an event to a full queue again, sending the XACKs due meanwhile. */
static int redis_pause(redis_src *r, int ms)
{
	int rc = redis_flush(r, r->timeout_ms);
	return rc ? rc : redis_wait(r, ms) ? HERALD_ESHUTDOWN : 0;
}

/* An entry the core will never take: logged, added to the dead-letter stream when there is
 * one, and acknowledged so that it is not read again. */
static int redis_reject(redis_src *r, const char *id, const redisReply *fields, const char *why)
{
	const char **argv = NULL;
	size_t *lens = NULL, n = fields ? fields->elements : 0;
	redisReply *reply;
	int rc = 0;

	if (r->dead_letter && fields) {
		const char *head[] = {"XADD", r->dead_letter,  "*",       "herald_error",
		                      why,    "herald_stream", r->stream, "herald_id",
		                      id};
		size_t nhead = sizeof head / sizeof *head;

		if (!(argv = malloc((nhead + n) * sizeof *argv)) ||
		    !(lens = malloc((nhead + n) * sizeof *lens))) {
			rc = redis_fail(r, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < nhead; i++) {
			argv[i] = head[i];
			lens[i] = strlen(head[i]);
		}
		for (size_t i = 0; i < n; i++) {
			argv[nhead + i] = fields->element[i]->str;
			lens[nhead + i] = fields->element[i]->len;
		}
		if ((rc = redis_call(r, r->timeout_ms, &reply, (int)(nhead + n), argv, lens)))
			goto out;
		if (reply->type == REDIS_REPLY_ERROR)
			r->api->log(r->host, HERALD_LOG_ERROR,
			            "entry %s of %s refused (%s); adding it to %s failed: %s", id,
			            r->stream, why, r->dead_letter, reply->str);
		else
			r->api->log(r->host, HERALD_LOG_WARN,
			            "entry %s of %s refused (%s): moved to %s", id, r->stream, why,
			            r->dead_letter);
		freeReplyObject(reply);
	} else {
		r->api->log(r->host, HERALD_LOG_WARN, "entry %s of %s refused (%s): acknowledged",
		            id, r->stream, why);
	}
	if (!redis_track(r, id, E_ACK))
		rc = redis_fail(r, "out of memory");
out:
	free(argv);
	free(lens);
	return rc;
}

/* Hands one entry to the core, tagged so that ack() finds it. */
static int redis_entry(redis_src *r, const redisReply *idr, const redisReply *fields)
{
	const redisReply *event = NULL;
	const char *id = idr->str;
	char err[512];
	uint64_t tag;
	int rc, delay = 1;

	if (redis_tracked(r, id))
		return 0;
	if (fields->type != REDIS_REPLY_ARRAY) /* deleted (XDEL, XTRIM) while pending */
		return redis_reject(r, id, NULL, "deleted from the stream while pending");
	for (size_t i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[i]->str, r->field) == 0 &&
		    fields->element[i + 1]->type == REDIS_REPLY_STRING)
			event = fields->element[i + 1];
	if (!event) {
		snprintf(err, sizeof err, "no field `%s`", r->field);
		return redis_reject(r, id, fields, err);
	}
	if (!(tag = redis_track(r, id, E_INFLIGHT)))
		return redis_fail(r, "out of memory");
	/* A full queue: stop reading and offer the same entry again, as long as it takes. */
	while ((rc = r->api->submit(r->host, event->str, event->len, tag, err, sizeof err)) ==
	           HERALD_EFULL ||
	       rc == HERALD_ENOMEM) {
		int w;
		if (delay == 1)
			r->api->log(r->host, HERALD_LOG_DEBUG, "%s: reading paused at entry %s",
			            r->api->strerror(rc), id);
		if ((w = redis_pause(r, delay))) {
			redis_untrack_last(r);
			return w;
		}
		delay = delay * 2 > FULL_MAX_MS ? FULL_MAX_MS : delay * 2;
	}
	if (rc == HERALD_OK)
		return 0;
	redis_untrack_last(r);
	if (rc == HERALD_ESHUTDOWN) {
		r->api->log(r->host, HERALD_LOG_INFO, "the core is stopping: reading ended");
		return HERALD_ESHUTDOWN;
	}
	return redis_reject(r, id, fields, rc == HERALD_EINVAL ? err : r->api->strerror(rc));
}

/* One XREADGROUP from `start` ("0" and on: this consumer's pending entries; ">": new ones).
 * *count receives the number of entries read. */
static int redis_read(redis_src *r, const char *start, size_t *count)
{
	const char *argv[12] = {"XREADGROUP", "GROUP", r->group, r->consumer, "COUNT"};
	char batch[24], block[24];
	redisReply *reply, *entries;
	int rc, argc = 5, ms = 0;

	*count = 0;
	if ((rc = redis_flush(r, r->timeout_ms)))
		return rc;
	snprintf(batch, sizeof batch, "%d", r->batch);
	argv[argc++] = batch;
	if (strcmp(start, ">") == 0) {
		ms = r->n_entries && r->block_ms > ACK_BLOCK_MS ? ACK_BLOCK_MS : r->block_ms;
		snprintf(block, sizeof block, "%d", ms);
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = r->stream;
	argv[argc++] = start;
	if ((rc = redis_call(r, r->timeout_ms + ms, &reply, argc, argv, NULL)))
		return rc;
	if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_NIL)
		return redis_check(r, reply, "XREADGROUP"); /* nil: nothing new within BLOCK */
	/* [[stream, [[id, [field, value, ...] or nil], ...]]] */
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
	    reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2 ||
	    (entries = reply->element[0]->element[1])->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(reply);
		return redis_fail(r, "XREADGROUP: unexpected reply");
	}
	for (size_t i = 0; i < entries->elements && !rc; i++) {
		redisReply *e = entries->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[0]->len >= sizeof r->cursor) {
			rc = redis_fail(r, "XREADGROUP: unexpected entry");
			break;
		}
		rc = redis_entry(r, e->element[0], e->element[1]);
		snprintf(r->cursor, sizeof r->cursor, "%s", e->element[0]->str);
		++*count;
	}
	freeReplyObject(reply);
	return rc;
}

static int redis_consume(redis_src *r)
{
	redisReply *reply;
	size_t n;
	int rc;

	if (r->create_group) {
		/* At 0, not $: entries added before the group existed are read too. */
		const char *argv[] = {"XGROUP", "CREATE", r->stream, r->group, "0", "MKSTREAM"};
		if ((rc = redis_call(r, r->timeout_ms, &reply, 6, argv, NULL)))
			return rc;
		if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) == 0)
			freeReplyObject(reply); /* it exists already */
		else if ((rc = redis_check(r, reply, "XGROUP CREATE")))
			return rc;
	}
	/* First the entries delivered to this consumer earlier but never acknowledged (a crash,
	 * a lost connection), then new ones. */
	snprintf(r->cursor, sizeof r->cursor, "0");
	do {
		if ((rc = redis_read(r, r->cursor, &n)))
			return rc;
		redis_up(r);
	} while (n);
	while (!r->stopping)
		if ((rc = redis_read(r, ">", &n)))
			return rc;
	return HERALD_ESHUTDOWN;
}

/* ------------------------------------------------------------------------------ thread */

static void *redis_run(void *arg)
{
	redis_src *r = arg;
	int rc, backoff = BACKOFF_MIN_MS;

	while (!r->stopping) {
		if (!(rc = redis_connect(r)) && !(rc = redis_login(r)))
			rc = r->mode == MODE_STREAM ? redis_consume(r) : redis_pubsub(r);
		if (rc == HERALD_ESHUTDOWN)
			break;
		redis_disconnect(r);
		if (r->up) {
			r->api->log(r->host, HERALD_LOG_WARN, "connection lost: %s, retrying",
			            r->err);
			backoff = BACKOFF_MIN_MS;
		} else if (!r->warned) {
			r->api->log(r->host, HERALD_LOG_WARN, "cannot connect to %s: %s, retrying",
			            r->where, r->err);
		} else {
			r->api->log(r->host, HERALD_LOG_DEBUG, "retry failed: %s", r->err);
		}
		r->up = 0;
		r->warned = 1;
		if (redis_wait(r, backoff))
			break;
		backoff = backoff > r->backoff_max_ms / 2 ? r->backoff_max_ms : backoff * 2;
	}
	/* A connection that may hold a command's reply halfway is useless to destroy(). */
	if (r->ctx && (r->ctx->err || !r->ready))
		redis_disconnect(r);
	return NULL;
}

/* ------------------------------------------------------------------------------ options */

static int redis_config_error(redis_src *r, const char *option, const char *why)
{
	r->api->log(r->host, HERALD_LOG_ERROR, "option `%s`: %s", option, why);
	return HERALD_ECONFIG;
}

/* Parses the url option into r (redis_url.h). Strings it takes are freed by destroy(). */
static int redis_parse_url(redis_src *r, const char *url)
{
	redis_url u;
	const char *why;
	int rc = redis_url_parse(url, &u, &why);

	if (rc == HERALD_ECONFIG)
		return redis_config_error(r, "url", why);
	if (rc)
		return rc;
	r->addr = u.host;
	r->path = u.path;
	r->user = u.user;
	r->password = u.password;
	r->port = u.port;
	r->db = u.db;
	memcpy(r->where, u.where, sizeof r->where);
	return 0;
}

/* Copies the items of LIST option `name` (borrowed strings) into a new array. */
static int redis_list(redis_src *r, const char *name, const char ***out, size_t *n)
{
	*n = r->api->opt_list_len(r->host, name);
	if (!*n)
		return 0;
	if (!(*out = calloc(*n, sizeof **out)))
		return HERALD_ENOMEM;
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = r->api->opt_list_item(r->host, name, i);
	return 0;
}

static int redis_configure(redis_src *r)
{
	herald_host *h = r->host;
	const herald_host_api *api = r->api;
	const char *mode = api->opt_string(h, "mode");
	int rc;

	if ((rc = redis_parse_url(r, api->opt_string(h, "url"))))
		return rc;
	if (api->opt_string(h, "password")) {
		free(r->password);
		if (!(r->password = strdup(api->opt_string(h, "password"))))
			return HERALD_ENOMEM;
	}
	if (r->user && !r->password)
		return redis_config_error(r, "password", "needed for the user named in the url");
	if (strcmp(mode, "stream") == 0)
		r->mode = MODE_STREAM;
	else if (strcmp(mode, "pubsub") == 0)
		r->mode = MODE_PUBSUB;
	else
		return redis_config_error(r, "mode", "must be stream or pubsub");
	if ((rc = redis_list(r, "channels", &r->channels, &r->n_channels)) ||
	    (rc = redis_list(r, "patterns", &r->patterns, &r->n_patterns)))
		return rc;
	if (!api->opt_isset(h, "channels") && !api->opt_isset(h, "patterns")) {
		if (!(r->channels = calloc(1, sizeof *r->channels)))
			return HERALD_ENOMEM;
		r->channels[0] = "herald:events";
		r->n_channels = 1;
	}
	if (r->mode == MODE_PUBSUB && !r->n_channels && !r->n_patterns)
		return redis_config_error(r, "channels", "pubsub needs a channel or a pattern");
	r->stream = api->opt_string(h, "stream");
	r->group = api->opt_string(h, "group");
	r->field = api->opt_string(h, "field");
	r->dead_letter = api->opt_string(h, "dead_letter");
	r->consumer = api->opt_string(h, "consumer");
	if (!r->consumer) {
		if (gethostname(r->hostname, sizeof r->hostname - 1) < 0 || !r->hostname[0])
			return redis_config_error(r, "consumer", "needed: no host name");
		r->consumer = r->hostname;
	}
	const char *names[] = {"stream", "group", "consumer", "field"};
	const char *values[] = {r->stream, r->group, r->consumer, r->field};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!values[i][0])
			return redis_config_error(r, names[i], "must not be empty");
	if (r->dead_letter && (!r->dead_letter[0] || strcmp(r->dead_letter, r->stream) == 0))
		return redis_config_error(r, "dead_letter", "must be a stream other than `stream`");
	r->create_group = api->opt_bool(h, "create_group");
	r->batch = (int)api->opt_int(h, "batch");
	r->block_ms = (int)api->opt_int(h, "block_ms");
	r->timeout_ms = (int)api->opt_int(h, "timeout_ms");
	r->backoff_max_ms = (int)api->opt_int(h, "backoff_max_ms");
	return 0;
}

/* ------------------------------------------------------------------------------ lifecycle */

/* The core acknowledged entries after stop() joined the thread: XACK them now, briefly, so
 * that a clean restart does not deliver them again. */
static void redis_final_acks(redis_src *r)
{
	size_t due = 0;

	for (size_t i = 0; i < r->n_entries; i++)
		due += r->entries[i].state == E_ACK;
	if (!due)
		return;
	r->draining = 1;
	if (!r->ctx || redis_flush(r, FINAL_ACK_MS) != 0)
		r->api->log(r->host, HERALD_LOG_WARN,
		            "%zu entries taken by the core could not be acknowledged (%s): they "
		            "will be read again at the next start",
		            due, r->ctx ? r->err : "no connection to Redis");
}

static void redis_destroy(void *self)
{
	redis_src *r = self;
	if (!r)
		return;
	if (r->mode == MODE_STREAM)
		redis_final_acks(r);
	redis_disconnect(r);
	if (r->wake[0] >= 0)
		close(r->wake[0]);
	if (r->wake[1] >= 0)
		close(r->wake[1]);
	pthread_mutex_destroy(&r->lock);
	free(r->entries);
	free(r->channels);
	free(r->patterns);
	free(r->addr);
	free(r->path);
	free(r->user);
	free(r->password);
	free(r);
}

static int redis_create(herald_host *host, const herald_host_api *api, void **self)
{
	redis_src *r = calloc(1, sizeof *r);
	int rc = HERALD_ENOMEM;

	if (!r)
		goto fail;
	r->host = host;
	r->api = api;
	r->wake[0] = r->wake[1] = -1;
	r->next_tag = 1;
	pthread_mutex_init(&r->lock, NULL);
	if ((rc = redis_configure(r)))
		goto fail;
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = HERALD_EIO;
		goto fail;
	}
	*self = r;
	return HERALD_OK;

fail:
	if (rc != HERALD_ECONFIG)
		api->log(host, HERALD_LOG_ERROR, "cannot create: %s", api->strerror(rc));
	redis_destroy(r);
	return rc;
}

static int redis_start(void *self)
{
	redis_src *r = self;
	int err = pthread_create(&r->thread, NULL, redis_run, r);
	if (err) {
		char msg[128];
		r->api->log(r->host, HERALD_LOG_ERROR, "cannot start the reader thread: %s",
		            strerror_r(err, msg, sizeof msg));
		return HERALD_EIO;
	}
	return HERALD_OK;
}

static void redis_stop(void *self)
{
	redis_src *r = self;
	r->stopping = 1;
	/* The pipe is non-blocking and stop() runs once: this write cannot block or fail. */
	(void)!write(r->wake[1], "", 1);
	pthread_join(r->thread, NULL);
}

/* The core's thread: marks the entry for the plugin thread's next XACK. Never blocks on I/O. */
static void redis_ack(void *self, uint64_t tag, int status)
{
	redis_src *r = self;
	size_t lo = 0, hi;

	if (r->mode != MODE_STREAM)
		return;
	pthread_mutex_lock(&r->lock);
	hi = r->n_entries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->entries[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->n_entries && r->entries[lo].tag == tag && r->entries[lo].state == E_INFLIGHT) {
		/* HERALD_EFORMAT: the formatter refuses this event for good; retrying is pointless.
		 * HERALD_ESHUTDOWN (or anything else): left pending for the next start. */
		if (status == HERALD_OK || status == HERALD_EFORMAT)
			r->entries[lo].state = E_ACK;
		else
			r->entries[lo].state = E_DROP;
	}
	pthread_mutex_unlock(&r->lock);
}

HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = {
    .abi = HERALD_PLUGIN_ABI,
    .size = sizeof(herald_plugin),
    .name = "redis",
    .version = "1.0",
    .description = "events from Redis pub/sub channels or a stream consumer group",
    .options = redis_options,
    .create = redis_create,
    .start = redis_start,
    .stop = redis_stop,
    .destroy = redis_destroy,
    .ack = redis_ack,
};
