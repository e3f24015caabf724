/*
 * cluster.c - see cluster.h.
 *
 * Two threads, each with its own synchronous hiredis connection: the writer appends batches of
 * queued notifications, the reader follows the stream with XREAD BLOCK. Both reconnect by
 * themselves with a capped exponential backoff.
 *
 * Exactly-once appends. A batch whose reply is lost (connection cut, Redis killed, timeout)
 * may or may not be in the log, and it is sent again. To keep that retry from duplicating
 * entries, a batch is appended by a small Lua script together with its sequence number in the
 * key "<log>:w:<writer id>": the script skips a batch whose number is not above the stored one.
 * Script effects are atomic in memory, in the AOF and on replicas, so the entries and their
 * number are kept or lost together. A retried batch is always the same entries with the same
 * number. An append acked HERALD_ESHUTDOWN may still be in the log (its batch was cut by the
 * stop): the source redelivers it at the next start, the one duplicate this design allows.
 *
 * The epoch key "<log>:epoch" is decided by another script, so that nodes starting together
 * agree. A new epoch always comes with the stream itself (an entry added and trimmed at once
 * leaves an empty stream), so "stream missing, epoch present" means the log was deleted.
 */
#define _GNU_SOURCE /* memrchr */
#include "cluster.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "herald/plugin.h"
#include "log.h"

enum {
	CONNECT_TIMEOUT_MS = 2000,
	WRITE_TIMEOUT_MS = 3000,                /* a batch's reply; then it is retried */
	READ_BLOCK_MS = 1000,                   /* XREAD BLOCK; bounds how long a stop waits */
	READ_TIMEOUT_MS = READ_BLOCK_MS + 2000, /* no reply to a blocked XREAD: reconnect */
	READ_COUNT = 512,
	WARM_PAGE = 1000,
	BATCH_MAX = 256,
	BATCH_BYTES = 1 << 20,
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 5000,
	ID_MAX = 48, /* "ms-seq" of two uint64 */
};

/* KEYS: log, writer key. ARGV: maxlen, batch number, then payload and route of each entry.
 * Returns the number of entries added, 0 for a batch already in the log. */
static const char append_script[] =
    "local done = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "if done >= tonumber(ARGV[2]) then return 0 end\n"
    "for i = 3, #ARGV, 2 do\n"
    "  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'n', ARGV[i], 'r', ARGV[i + 1])\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[2], 'EX', 86400)\n"
    "return #ARGV / 2 - 1\n";

/* KEYS: log, epoch key. ARGV: a candidate epoch, "1" at start ("0" on a reconnect: an epoch
 * present is kept whatever the stream). Returns {epoch, case, previous epoch}; case 0: the
 * epoch in place, 1: the stream had none, 2: the stream was gone (reset), 3: a new log. */
static const char epoch_script[] =
    "local e = redis.call('GET', KEYS[2])\n"
    "local live = redis.call('EXISTS', KEYS[1]) == 1\n"
    "if e and (live or ARGV[2] == '0') then return {e, 0, e} end\n"
    "if not live then\n"
    "  redis.call('XADD', KEYS[1], 'MAXLEN', '0', '*', 'epoch', ARGV[1])\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "if e then return {ARGV[1], 2, e} end\n"
    "return {ARGV[1], live and 1 or 3, ''}\n";

/* One queued append. */
typedef struct pending {
	char *payload, *route;
	size_t len, route_len;
	uint32_t source;
	uint64_t tag;
} pending;

struct cluster {
	/* Where and how to connect, and the keys. */
	char *host, *path, *user, *password;
	size_t user_len, password_len;
	int port, db;
	char where[320]; /* the url without credentials, for messages */
	char *log_key, *epoch_key, *writer_key;
	char maxlen[24];
	char epoch[17];
	void (*wake)(void *arg);
	void *arg;

	pthread_mutex_t lock;
	pthread_cond_t wcond; /* the writer: appends queued, or stop */
	pthread_cond_t rcond; /* the reader: room in the entries queue, or stop */
	/* Appends not yet in the log (the writer's batch is at the front until it is written). */
	pending *appends;
	size_t cap, ahead, alen;
	/* Acks not yet polled; appends + acks <= cap, so neither ring can overflow. */
	cluster_ack *acks;
	size_t khead, klen;
	/* Entries read, not yet polled. */
	cluster_entry *entries;
	size_t ecap, ehead, elen;
	int acks_woken, entries_woken; /* a wake is pending for that queue */
	atomic_int stopping;
	int rfd; /* the reader's socket, shut down by cluster_stop; -1: none */

	atomic_int writer_up, reader_up;
	redisContext *wctx, *rctx;
	pthread_t writer, reader;
	int writer_started, reader_started;
	log_id last;       /* the reader's position */
	const char **argv; /* the writer's command, BATCH_MAX entries long */
	size_t *argvlen;
	cluster_entry *batch; /* the reader's entries of one XREAD */
};

static void id_format(log_id id, char *buf)
{
	snprintf(buf, ID_MAX, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
}

void cluster_entry_free(cluster_entry *e)
{
	if (!e)
		return;
	free(e->payload);
	free(e->route);
	e->payload = e->route = NULL;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
		return (ch | 0x20) - 'a' + 10;
	return -1;
}

/* Decodes the %XX escapes of n bytes into a new string; NULL with *bad set on a bad escape. */
static char *pct_decode(const char *s, size_t n, size_t *len, int *bad)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; out && i < n; i++) {
		if (s[i] != '%') {
			out[j++] = s[i];
		} else if (i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			free(out);
			*bad = 1;
			return NULL;
		}
	}
	if (out) {
		out[j] = '\0';
		*len = j;
	}
	return out;
}

/* A decimal number of [s, e) from 0 to max, or -1. */
static int number(const char *s, const char *e, int max)
{
	long v = 0;

	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > max)
			return -1;
	}
	return (int)v;
}

/* Parses redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N] into c.
 * Returns 0, or HERALD_ECONFIG / HERALD_ENOMEM with the reason in *why. */
static int cl_parse_url(cluster *c, const char *url, const char **why)
{
	const char *s, *end, *at, *colon, *host, *hend;
	int bad = 0;

	if (strncmp(url, "unix://", 7) == 0) {
		s = url + 7;
		end = s + strcspn(s, "?");
		if (*s != '/' || end == s + 1) {
			*why = "a unix socket url is unix:///path/to/socket[?db=N]";
			return HERALD_ECONFIG;
		}
		if (*end && (strncmp(end, "?db=", 4) != 0 ||
		             (c->db = number(end + 4, end + strlen(end), INT_MAX)) < 0)) {
			*why = "the only query of a unix socket url is ?db=N";
			return HERALD_ECONFIG;
		}
		if (!(c->path = strndup(s, (size_t)(end - s))))
			goto nomem;
		snprintf(c->where, sizeof c->where, "unix://%s?db=%d", c->path, c->db);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		*why = "the url must start with redis:// or unix://";
		return HERALD_ECONFIG;
	}
	s = url + 8;
	end = s + strcspn(s, "/?#");
	if ((at = memrchr(s, '@', (size_t)(end - s)))) {
		if (!(colon = memchr(s, ':', (size_t)(at - s)))) {
			*why = "credentials in the url are :password@ or user:password@";
			return HERALD_ECONFIG;
		}
		if ((colon > s &&
		     !(c->user = pct_decode(s, (size_t)(colon - s), &c->user_len, &bad))) ||
		    !(c->password = pct_decode(colon + 1, (size_t)(at - colon - 1),
		                               &c->password_len, &bad))) {
			if (!bad)
				goto nomem;
			*why = "a bad %-escape in the url's credentials";
			return HERALD_ECONFIG;
		}
		s = at + 1;
	}
	if (*s == '[') {
		host = s + 1;
		if (!(hend = memchr(s, ']', (size_t)(end - s)))) {
			*why = "an IPv6 address needs its closing ]";
			return HERALD_ECONFIG;
		}
		s = hend + 1;
	} else {
		host = s;
		s = hend = s + strcspn(s, ":/?#");
	}
	c->port = 6379;
	if ((s != end && *s != ':') || (*s == ':' && (c->port = number(s + 1, end, 65535)) < 1) ||
	    hend == host) {
		*why = hend == host ? "the url has no host" : "the url's port must be 1 to 65535";
		return HERALD_ECONFIG;
	}
	if (*end && strcmp(end, "/") != 0 &&
	    (*end != '/' || (c->db = number(end + 1, end + strlen(end), INT_MAX)) < 0)) {
		*why = "the url's path must be the database number: redis://host:port/0";
		return HERALD_ECONFIG;
	}
	if (!(c->host = strndup(host, (size_t)(hend - host))))
		goto nomem;
	snprintf(c->where, sizeof c->where,
	         strchr(c->host, ':') ? "redis://[%s]:%d/%d" : "redis://%s:%d/%d", c->host, c->port,
	         c->db);
	return 0;
nomem:
	*why = "out of memory";
	return HERALD_ENOMEM;
}

/* One command's reply, or NULL with "what: reason" in err (an error reply included). */
static redisReply *cl_call(redisContext *ctx, int argc, const char **argv, const size_t *lens,
                           const char *what, char *err, size_t errlen)
{
	redisReply *r = redisCommandArgv(ctx, argc, argv, lens);

	if (!r) {
		snprintf(err, errlen, "%s: %s", what, ctx->errstr[0] ? ctx->errstr : "no reply");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %s", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* A new connection, authenticated, on the right database, with replies awaited at most
 * timeout_ms; NULL with the reason in err. */
static redisContext *cl_connect(cluster *c, int timeout_ms, char *err, size_t errlen)
{
	struct timeval ct = {CONNECT_TIMEOUT_MS / 1000, 0};
	struct timeval io = {timeout_ms / 1000, timeout_ms % 1000 * 1000};
	redisContext *ctx = c->path ? redisConnectUnixWithTimeout(c->path, ct)
	                            : redisConnectWithTimeout(c->host, c->port, ct);
	const char *argv[3] = {"AUTH"};
	size_t lens[3] = {4};
	char db[16];
	redisReply *r;
	int argc = 1;

	if (!ctx || ctx->err) {
		snprintf(err, errlen, "connect: %s", ctx ? ctx->errstr : "out of memory");
		goto fail;
	}
	if (redisSetTimeout(ctx, io) != REDIS_OK) {
		snprintf(err, errlen, "setting the socket timeout: %s", ctx->errstr);
		goto fail;
	}
	if (c->password) {
		if (c->user) {
			argv[argc] = c->user;
			lens[argc++] = c->user_len;
		}
		argv[argc] = c->password;
		lens[argc++] = c->password_len;
		if (!(r = cl_call(ctx, argc, argv, lens, "AUTH", err, errlen)))
			goto fail;
		freeReplyObject(r);
	}
	if (c->db) {
		snprintf(db, sizeof db, "%d", c->db);
		if (!(r = cl_call(ctx, 2, (const char *[]){"SELECT", db}, NULL, "SELECT", err,
		                  errlen)))
			goto fail;
		freeReplyObject(r);
	}
	return ctx;
fail:
	redisFree(ctx);
	return NULL;
}

static int random_hex(char out[17])
{
	uint64_t v;

	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		return -1;
	snprintf(out, 17, "%016" PRIx64, v);
	return 0;
}

/* At start (start = 1), decides c->epoch; on a reconnect, checks that the log still has it
 * (a Redis restarted without persistence gets it back, so nodes starting later agree). */
static int cl_epoch(cluster *c, redisContext *ctx, int start, char *err, size_t errlen)
{
	char fresh[17];
	const char *argv[] = {"EVAL",           epoch_script, "2",
	                      c->log_key,       c->epoch_key, start ? fresh : c->epoch,
	                      start ? "1" : "0"};
	redisReply *r;
	const char *e, *old;
	long long how;

	if (start && random_hex(fresh)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return HERALD_EIO;
	}
	if (!(r = cl_call(ctx, 7, argv, NULL, "epoch", err, errlen)))
		return HERALD_EIO;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_INTEGER ||
	    r->element[2]->type != REDIS_REPLY_STRING) {
		snprintf(err, errlen, "epoch: unexpected reply");
		freeReplyObject(r);
		return HERALD_EIO;
	}
	e = r->element[0]->str;
	how = r->element[1]->integer;
	old = r->element[2]->str;
	if (!start) {
		if (strcmp(e, c->epoch) != 0)
			LOG_ERROR(
			    "cluster: log %s now has epoch %s while this node serves epoch %s: "
			    "restart the node",
			    c->log_key, e, c->epoch);
		else if (how)
			LOG_WARN("cluster: log %s had lost its %s (Redis restarted without "
			         "persistence?): epoch %s restored",
			         c->log_key, how == 1 ? "epoch" : "stream and epoch", e);
		freeReplyObject(r);
		return 0;
	}
	if (!*e || strlen(e) > 16 || strspn(e, "0123456789abcdef") != strlen(e)) {
		snprintf(err, errlen, "the key %s holds \"%.32s\", not an epoch", c->epoch_key, e);
		freeReplyObject(r);
		return HERALD_EIO;
	}
	strcpy(c->epoch, e);
	if (how == 0)
		LOG_INFO("cluster: log %s at %s, epoch %s", c->log_key, c->where, e);
	else if (how == 1)
		LOG_WARN("cluster: log %s had no epoch: new epoch %s", c->log_key, e);
	else if (how == 2)
		LOG_WARN("cluster: log %s was reset (its stream is gone, epoch %s): new epoch %s",
		         c->log_key, old, e);
	else
		LOG_INFO("cluster: new log %s at %s, epoch %s", c->log_key, c->where, e);
	freeReplyObject(r);
	return 0;
}

/* Parses a stream entry [id, [field, value, ...]]: 0 with *out filled, 1 when it has no
 * "n" or "r" field (skipped; *id is still set), HERALD_EIO when it is not an entry,
 * HERALD_ENOMEM. */
static int cl_entry(const cluster *c, const redisReply *r, log_id *id, cluster_entry *out)
{
	const redisReply *f, *n = NULL, *rt = NULL;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || log_id_parse(r->element[0]->str, id))
		return HERALD_EIO;
	f = r->element[1];
	for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		const redisReply *k = f->element[i], *v = f->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || k->len != 1)
			continue;
		if (k->str[0] == 'n' && !n)
			n = v;
		else if (k->str[0] == 'r' && !rt)
			rt = v;
	}
	if (!n || !rt) {
		LOG_WARN("cluster: entry %s of log %s has no notification and route: skipped",
		         r->element[0]->str, c->log_key);
		return 1;
	}
	out->id = *id;
	out->len = n->len;
	out->payload = malloc(n->len + 1);
	out->route = strndup(rt->str, rt->len);
	if (!out->payload || !out->route) {
		cluster_entry_free(out);
		return HERALD_ENOMEM;
	}
	memcpy(out->payload, n->str, n->len);
	out->payload[n->len] = '\0';
	return 0;
}

/* Reads the newest `want` entries into *warm, oldest first, and sets c->last to the newest
 * id of the log (0-0 for an empty log), paging with XREVRANGE. */
static int cl_warm(cluster *c, long long want, cluster_entry **warm, size_t *n_warm, char *err,
                   size_t errlen)
{
	cluster_entry *v = NULL, *grown;
	size_t n = 0, cap = 0;
	long long seen = 0;
	char end[ID_MAX] = "+", count[24];
	const char *argv[] = {"XREVRANGE", c->log_key, end, "-", "COUNT", count};
	log_id id = {0, 0};
	redisReply *r;
	int rc = 0, more = 1;

	while (more) {
		long long ask = want - seen < WARM_PAGE ? want - seen : WARM_PAGE;
		snprintf(count, sizeof count, "%lld", ask > 0 ? ask : 1);
		if (!(r = cl_call(c->wctx, 6, argv, NULL, "XREVRANGE", err, errlen)))
			return HERALD_EIO;
		if (r->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "XREVRANGE: unexpected reply");
			rc = HERALD_EIO;
		}
		for (size_t i = 0; !rc && i < r->elements; i++) {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				if (!(grown = realloc(v, cap * sizeof *v))) {
					rc = HERALD_ENOMEM;
					break;
				}
				v = grown;
			}
			rc = cl_entry(c, r->element[i], &id, &v[n]);
			if (rc == HERALD_EIO)
				snprintf(err, errlen, "XREVRANGE: unexpected entry");
			if (seen++ == 0)
				c->last = id;
			if (rc == 0 && want > 0)
				n++;
			else if (rc == 0)
				cluster_entry_free(&v[n]);
			rc = rc > 0 ? 0 : rc;
		}
		more = !rc && seen < want && r->elements == (size_t)ask && (id.ms || id.seq);
		freeReplyObject(r);
		/* The next page ends just before the oldest entry seen. */
		if (id.seq)
			id.seq--;
		else if (id.ms)
			id = (log_id){id.ms - 1, UINT64_MAX};
		id_format(id, end);
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			cluster_entry_free(&v[i]);
		free(v);
		return rc;
	}
	for (size_t i = 0; i < n / 2; i++) {
		cluster_entry t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	*warm = v;
	*n_warm = n;
	return 0;
}

/* Marks one connection down, logging the first failure of a series. */
static void cl_down(atomic_int *up, const char *who, const char *where, const char *why)
{
	if (atomic_exchange(up, 0))
		LOG_WARN("cluster: %s lost Redis at %s (%s); retrying", who, where, why);
	else
		LOG_DEBUG("cluster: %s: %s", who, why);
}

static void cl_up(atomic_int *up, const char *who)
{
	if (!atomic_exchange(up, 1))
		LOG_INFO("cluster: %s connected to Redis again", who);
}

/* Waits *delay_ms unless stopped, then doubles it. Called with the lock held. */
static void cl_backoff(cluster *c, pthread_cond_t *cond, int *delay_ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += *delay_ms / 1000;
	t.tv_nsec += *delay_ms % 1000 * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	while (!atomic_load(&c->stopping) &&
	       pthread_cond_timedwait(cond, &c->lock, &t) != ETIMEDOUT)
		;
	*delay_ms = *delay_ms * 2 < BACKOFF_MAX_MS ? *delay_ms * 2 : BACKOFF_MAX_MS;
}

/*
 * Appends the k appends from index `first` of the ring as batch number `seq`. Returns 0 when
 * they are in the log, 1 when a connection that had worked failed (try again at once, on a new
 * one), -1 otherwise (back off).
 */
static int cl_write(cluster *c, size_t first, size_t k, uint64_t seq)
{
	char err[512], num[24];
	int fresh = !c->wctx;
	size_t argc = 7;
	redisReply *r;

	if (fresh && !(c->wctx = cl_connect(c, WRITE_TIMEOUT_MS, err, sizeof err))) {
		cl_down(&c->writer_up, "writer", c->where, err);
		return -1;
	}
	snprintf(num, sizeof num, "%" PRIu64, seq);
	c->argv[6] = num;
	c->argvlen[6] = strlen(num);
	for (size_t i = 0; i < k; i++, argc += 2) {
		const pending *p = &c->appends[(first + i) % c->cap];
		c->argv[argc] = p->payload;
		c->argvlen[argc] = p->len;
		c->argv[argc + 1] = p->route;
		c->argvlen[argc + 1] = p->route_len;
	}
	r = redisCommandArgv(c->wctx, (int)argc, c->argv, c->argvlen);
	if (!r) {
		cl_down(&c->writer_up, "writer", c->where, c->wctx->errstr);
		redisFree(c->wctx);
		c->wctx = NULL;
		return fresh ? -1 : 1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, sizeof err, "append: %s", r->str);
		cl_down(&c->writer_up, "writer", c->where, err);
		freeReplyObject(r);
		return -1;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		LOG_INFO("cluster: a batch of %zu sent again was already in the log", k);
	freeReplyObject(r);
	cl_up(&c->writer_up, "writer");
	return 0;
}

static void *cl_writer(void *arg)
{
	cluster *c = arg;
	int delay = BACKOFF_MIN_MS, rc, wake;
	size_t k = 0, first = 0, bytes;
	uint64_t seq = 0;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!atomic_load(&c->stopping) && !c->alen)
			pthread_cond_wait(&c->wcond, &c->lock);
		if (atomic_load(&c->stopping))
			break;
		/* A batch that failed is sent again unchanged, under the same number. */
		if (!k) {
			for (bytes = 0; k < c->alen && k < BATCH_MAX; k++) {
				const pending *p = &c->appends[(c->ahead + k) % c->cap];
				if (k && bytes + p->len + p->route_len > BATCH_BYTES)
					break;
				bytes += p->len + p->route_len;
			}
			seq++;
			first = c->ahead;
		}
		pthread_mutex_unlock(&c->lock);
		rc = cl_write(c, first, k, seq);
		pthread_mutex_lock(&c->lock);
		if (rc < 0) {
			cl_backoff(c, &c->wcond, &delay);
			continue;
		}
		if (rc > 0)
			continue;
		for (; k; k--) {
			pending *p = &c->appends[c->ahead];
			c->acks[(c->khead + c->klen++) % c->cap] =
			    (cluster_ack){.source = p->source, .tag = p->tag, .status = 0};
			free(p->payload);
			free(p->route);
			c->ahead = (c->ahead + 1) % c->cap;
			c->alen--;
		}
		delay = BACKOFF_MIN_MS;
		wake = !c->acks_woken;
		c->acks_woken = 1;
		if (wake) {
			pthread_mutex_unlock(&c->lock);
			c->wake(c->arg);
			pthread_mutex_lock(&c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Queues n entries for the loop, waiting for room; frees those a stop leaves over. */
static void cl_push_entries(cluster *c, cluster_entry *v, size_t n)
{
	size_t i = 0;
	int wake;

	for (; i < n; i++) {
		pthread_mutex_lock(&c->lock);
		while (c->elen == c->ecap && !atomic_load(&c->stopping))
			pthread_cond_wait(&c->rcond, &c->lock);
		if (atomic_load(&c->stopping)) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		c->entries[(c->ehead + c->elen++) % c->ecap] = v[i];
		wake = !c->entries_woken;
		c->entries_woken = 1;
		pthread_mutex_unlock(&c->lock);
		if (wake)
			c->wake(c->arg);
	}
	for (; i < n; i++)
		cluster_entry_free(&v[i]);
}

/* One XREAD. Returns 0, 1 when the connection failed (reconnect), -1 for an error reply or
 * an unexpected reply (back off). */
static int cl_read(cluster *c)
{
	char after[ID_MAX], err[512], count[16], block[16];
	const char *argv[] = {"XREAD", "COUNT",   count,      "BLOCK",
	                      block,   "STREAMS", c->log_key, after};
	const redisReply *list = NULL;
	redisReply *r;
	log_id id = c->last;
	size_t n = 0;
	int rc = 0;

	snprintf(count, sizeof count, "%d", READ_COUNT);
	snprintf(block, sizeof block, "%d", READ_BLOCK_MS);
	id_format(c->last, after);
	if (!(r = redisCommandArgv(c->rctx, 8, argv, NULL))) {
		if (!atomic_load(&c->stopping))
			cl_down(&c->reader_up, "reader", c->where, c->rctx->errstr);
		return 1;
	}
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 0;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, sizeof err, "XREAD: %s", r->str);
		cl_down(&c->reader_up, "reader", c->where, err);
		freeReplyObject(r);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2 ||
	    (list = r->element[0]->element[1])->type != REDIS_REPLY_ARRAY)
		rc = HERALD_EIO;
	for (size_t i = 0; !rc && i < list->elements && i < READ_COUNT; i++) {
		rc = cl_entry(c, list->element[i], &id, &c->batch[n]);
		n += rc == 0;
		rc = rc > 0 ? 0 : rc;
	}
	freeReplyObject(r);
	if (rc) {
		/* Nothing of this reply is queued: it is read again from c->last. */
		for (size_t i = 0; i < n; i++)
			cluster_entry_free(&c->batch[i]);
		cl_down(&c->reader_up, "reader", c->where,
		        rc == HERALD_ENOMEM ? "out of memory" : "unexpected XREAD reply");
		return -1;
	}
	cl_push_entries(c, c->batch, n);
	c->last = id;
	return 0;
}

static void cl_drop_reader(cluster *c)
{
	pthread_mutex_lock(&c->lock);
	c->rfd = -1;
	pthread_mutex_unlock(&c->lock);
	redisFree(c->rctx);
	c->rctx = NULL;
}

static void *cl_reader(void *arg)
{
	cluster *c = arg;
	int delay = BACKOFF_MIN_MS, rc, fresh = 0;
	char err[512];
	redisContext *ctx;

	while (!atomic_load(&c->stopping)) {
		if (!c->rctx) {
			fresh = 1;
			ctx = cl_connect(c, READ_TIMEOUT_MS, err, sizeof err);
			if (ctx && cl_epoch(c, ctx, 0, err, sizeof err)) {
				redisFree(ctx);
				ctx = NULL;
			}
			pthread_mutex_lock(&c->lock);
			if (!ctx) {
				cl_down(&c->reader_up, "reader", c->where, err);
				cl_backoff(c, &c->rcond, &delay);
				pthread_mutex_unlock(&c->lock);
				continue;
			}
			/* Published under the lock, so that a stop shuts down this socket (or
			 * finds it shut down already). */
			c->rctx = ctx;
			c->rfd = ctx->fd;
			if (atomic_load(&c->stopping))
				shutdown(ctx->fd, SHUT_RDWR);
			pthread_mutex_unlock(&c->lock);
			cl_up(&c->reader_up, "reader");
		}
		rc = cl_read(c);
		if (rc == 0) {
			delay = BACKOFF_MIN_MS;
			fresh = 0;
			continue;
		}
		cl_drop_reader(c);
		/* A connection that had worked is replaced at once; a new one that fails waits. */
		if (rc < 0 || fresh) {
			pthread_mutex_lock(&c->lock);
			cl_backoff(c, &c->rcond, &delay);
			pthread_mutex_unlock(&c->lock);
		}
	}
	return NULL;
}

/* "<log><suffix>" in a new string. */
static char *key_of(const char *log, const char *suffix)
{
	size_t a = strlen(log), b = strlen(suffix);
	char *k = malloc(a + b + 1);

	if (k) {
		memcpy(k, log, a);
		memcpy(k + a, suffix, b + 1);
	}
	return k;
}

int cluster_create(const herald_config *cfg, void (*wake)(void *arg), void *arg, cluster **out,
                   cluster_entry **warm, size_t *n_warm, char *err, size_t errlen)
{
	cluster *c = calloc(1, sizeof *c);
	pthread_condattr_t ca;
	char why[512], wid[17 + 3];
	const char *what = NULL;
	redisReply *r;
	int rc;

	*out = NULL;
	*warm = NULL;
	*n_warm = 0;
	if (!c) {
		snprintf(err, errlen, "cluster: out of memory");
		return HERALD_ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wcond, &ca);
	pthread_cond_init(&c->rcond, &ca);
	pthread_condattr_destroy(&ca);
	c->rfd = -1;
	c->wake = wake;
	c->arg = arg;
	if ((rc = cl_parse_url(c, cfg->cluster_url, &what))) {
		snprintf(err, errlen, "cluster.url: %s", what);
		goto fail;
	}
	if (cfg->cluster_password) {
		free(c->password);
		c->password = malloc(cfg->cluster_password_len + 1);
		if (!c->password)
			goto nomem;
		memcpy(c->password, cfg->cluster_password, cfg->cluster_password_len);
		c->password[cfg->cluster_password_len] = '\0';
		c->password_len = cfg->cluster_password_len;
	}
	snprintf(c->maxlen, sizeof c->maxlen, "%lld", cfg->cluster_log_max);
	strcpy(wid, ":w:");
	if (random_hex(wid + 3)) {
		snprintf(err, errlen, "cluster: getrandom: %s", strerror(errno));
		rc = HERALD_EIO;
		goto fail;
	}
	c->cap = (size_t)cfg->queue_size;
	c->ecap = 4 * c->cap;
	if (!(c->log_key = strdup(cfg->cluster_log)) ||
	    !(c->epoch_key = key_of(cfg->cluster_log, ":epoch")) ||
	    !(c->writer_key = key_of(cfg->cluster_log, wid)) ||
	    !(c->appends = calloc(c->cap, sizeof *c->appends)) ||
	    !(c->acks = calloc(c->cap, sizeof *c->acks)) ||
	    !(c->entries = calloc(c->ecap, sizeof *c->entries)) ||
	    !(c->batch = calloc(READ_COUNT, sizeof *c->batch)) ||
	    !(c->argv = calloc(7 + 2 * BATCH_MAX, sizeof *c->argv)) ||
	    !(c->argvlen = calloc(7 + 2 * BATCH_MAX, sizeof *c->argvlen)))
		goto nomem;
	c->argv[0] = "EVAL";
	c->argv[1] = append_script;
	c->argv[2] = "2";
	c->argv[3] = c->log_key;
	c->argv[4] = c->writer_key;
	c->argv[5] = c->maxlen;
	for (int i = 0; i < 6; i++)
		c->argvlen[i] = strlen(c->argv[i]);

	rc = HERALD_EIO;
	if (!(c->wctx = cl_connect(c, WRITE_TIMEOUT_MS, why, sizeof why)))
		goto unreachable;
	if (!(r = cl_call(c->wctx, 2, (const char *[]){"TYPE", c->log_key}, NULL, "TYPE", why,
	                  sizeof why)))
		goto unreachable;
	if (r->type != REDIS_REPLY_STATUS ||
	    (strcmp(r->str, "stream") != 0 && strcmp(r->str, "none") != 0)) {
		snprintf(err, errlen, "cluster: the key %s at %s is a %s, not a stream", c->log_key,
		         c->where, r->type == REDIS_REPLY_STATUS ? r->str : "?");
		freeReplyObject(r);
		rc = HERALD_ECONFIG;
		goto fail;
	}
	freeReplyObject(r);
	if (!(c->rctx = cl_connect(c, READ_TIMEOUT_MS, why, sizeof why)))
		goto unreachable;
	c->rfd = c->rctx->fd;
	if ((rc = cl_epoch(c, c->wctx, 1, why, sizeof why)) ||
	    (rc = cl_warm(c, cfg->history_warm, warm, n_warm, why, sizeof why)))
		goto unreachable;
	atomic_store(&c->writer_up, 1);
	atomic_store(&c->reader_up, 1);
	*out = c;
	return 0;

unreachable:
	snprintf(err, errlen, "cluster: Redis at %s: %s", c->where,
	         rc == HERALD_ENOMEM ? "out of memory" : why);
	goto fail;
nomem:
	snprintf(err, errlen, "cluster: out of memory");
	rc = HERALD_ENOMEM;
fail:
	cluster_destroy(c);
	return rc;
}

const char *cluster_epoch(const cluster *c)
{
	return c->epoch;
}

int cluster_start(cluster *c)
{
	if (pthread_create(&c->writer, NULL, cl_writer, c))
		return HERALD_EIO;
	c->writer_started = 1;
	if (pthread_create(&c->reader, NULL, cl_reader, c))
		return HERALD_EIO;
	c->reader_started = 1;
	return 0;
}

int cluster_append(cluster *c, const char *payload, size_t len, const char *route_text, uint32_t source,
                   uint64_t tag)
{
	pending p = {.len = len, .route_len = strlen(route_text), .source = source, .tag = tag};
	int rc = 0;

	p.payload = malloc(len ? len : 1);
	p.route = strdup(route_text);
	if (!p.payload || !p.route) {
		free(p.payload);
		free(p.route);
		return HERALD_ENOMEM;
	}
	memcpy(p.payload, payload, len);
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->stopping)) {
		rc = HERALD_ESHUTDOWN;
	} else if (c->alen + c->klen >= c->cap) {
		rc = HERALD_EFULL;
	} else {
		c->appends[(c->ahead + c->alen++) % c->cap] = p;
		pthread_cond_signal(&c->wcond);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		free(p.payload);
		free(p.route);
	}
	return rc;
}

/* Like ingest_drain: when a poll leaves its queue empty, the next push wakes the loop again;
 * when it does not, the caller must come back. */
size_t cluster_poll_acks(cluster *c, cluster_ack *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	for (; n < max && c->klen; n++, c->klen--) {
		out[n] = c->acks[c->khead];
		c->khead = (c->khead + 1) % c->cap;
	}
	if (!c->klen)
		c->acks_woken = 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

size_t cluster_poll_entries(cluster *c, cluster_entry *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	for (; n < max && c->elen; n++, c->elen--) {
		out[n] = c->entries[c->ehead];
		c->ehead = (c->ehead + 1) % c->ecap;
	}
	if (!c->elen)
		c->entries_woken = 0;
	if (n)
		pthread_cond_signal(&c->rcond);
	pthread_mutex_unlock(&c->lock);
	return n;
}

int cluster_healthy(const cluster *c)
{
	return atomic_load(&c->writer_up) && atomic_load(&c->reader_up);
}

void cluster_stop(cluster *c)
{
	int wake;

	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stopping, 1);
	/* Ends a blocked XREAD now rather than when its BLOCK times out. */
	if (c->rfd >= 0)
		shutdown(c->rfd, SHUT_RDWR);
	pthread_cond_broadcast(&c->wcond);
	pthread_cond_broadcast(&c->rcond);
	pthread_mutex_unlock(&c->lock);
	if (c->writer_started)
		pthread_join(c->writer, NULL);
	if (c->reader_started)
		pthread_join(c->reader, NULL);
	c->writer_started = c->reader_started = 0;
	atomic_store(&c->writer_up, 0);
	atomic_store(&c->reader_up, 0);

	pthread_mutex_lock(&c->lock);
	wake = c->alen && !c->acks_woken;
	for (; c->alen; c->alen--, c->ahead = (c->ahead + 1) % c->cap) {
		pending *p = &c->appends[c->ahead];
		c->acks[(c->khead + c->klen++) % c->cap] =
		    (cluster_ack){.source = p->source, .tag = p->tag, .status = HERALD_ESHUTDOWN};
		free(p->payload);
		free(p->route);
	}
	c->acks_woken |= wake;
	pthread_mutex_unlock(&c->lock);
	if (wake)
		c->wake(c->arg);
}

void cluster_destroy(cluster *c)
{
	if (!c)
		return;
	cluster_stop(c);
	for (; c->elen; c->elen--, c->ehead = (c->ehead + 1) % c->ecap)
		cluster_entry_free(&c->entries[c->ehead]);
	redisFree(c->wctx);
	redisFree(c->rctx);
	pthread_cond_destroy(&c->wcond);
	pthread_cond_destroy(&c->rcond);
	pthread_mutex_destroy(&c->lock);
	free(c->host);
	free(c->path);
	free(c->user);
	if (c->password)
		explicit_bzero(c->password, c->password_len);
	free(c->password);
	free(c->log_key);
	free(c->epoch_key);
	free(c->writer_key);
	free(c->appends);
	free(c->acks);
	free(c->entries);
	free(c->batch);
	free(c->argv);
	free(c->argvlen);
	free(c);
}

/* --- the cluster as a notification log (nlog.h) ----------------------------------------- */

typedef struct redislog {
	nlog base;
	cluster *c;
	cluster_entry *warm; /* the newest entries read at start, handed out first */
	size_t n_warm, warm_at;
} redislog;

static int redislog_start(nlog *l)
{
	return cluster_start(((redislog *)l)->c);
}

static int redislog_append(nlog *l, char *payload, size_t len, const route *r, const char *id,
			   size_t id_len, uint32_t source, uint64_t tag, int64_t ingest_ns)
{
	char *text;
	int rc = route_format(r, &text);

	(void)id; /* not yet de-duplicated across nodes */
	(void)id_len;
	(void)ingest_ns; /* the entry comes back through Redis: latency counts from there */
	if (rc == 0)
		rc = cluster_append(((redislog *)l)->c, payload, len, text, source, tag);
	free(text);
	free(payload);
	return rc;
}

static size_t redislog_poll_acks(nlog *l, nlog_ack *out, size_t max)
{
	cluster_ack acks[256];
	size_t n = cluster_poll_acks(((redislog *)l)->c, acks, max < 256 ? max : 256);

	for (size_t i = 0; i < n; i++)
		out[i] = (nlog_ack){acks[i].source, acks[i].tag, acks[i].status};
	return n;
}

/* Move a cluster entry into an nlog entry; 0, or HERALD_EINVAL for a bad route (logged). */
static int redislog_take(cluster_entry *e, nlog_entry *out, int64_t ingest_ns)
{
	int rc = route_parse(e->route, &out->route);

	if (rc != 0) {
		LOG_ERROR("log entry %" PRIu64 "-%" PRIu64 " not delivered: bad route \"%.64s\"",
			  e->id.ms, e->id.seq, e->route);
		cluster_entry_free(e);
		return rc;
	}
	out->id = e->id;
	out->payload = e->payload;
	out->len = e->len;
	out->ingest_ns = ingest_ns;
	free(e->route);
	return 0;
}

static size_t redislog_poll_entries(nlog *l, nlog_entry *out, size_t max)
{
	redislog *rl = (redislog *)l;
	cluster_entry got[64];
	size_t n = 0, k;

	while (n < max && rl->warm_at < rl->n_warm)
		if (redislog_take(&rl->warm[rl->warm_at++], &out[n], 0) == 0)
			n++;
	if (n == max)
		return n;
	k = cluster_poll_entries(rl->c, got, max - n < 64 ? max - n : 64);
	for (size_t i = 0; i < k; i++)
		if (redislog_take(&got[i], &out[n], clock_mono_ns()) == 0)
			n++;
	return n;
}

static int redislog_healthy(const nlog *l)
{
	return cluster_healthy(((const redislog *)l)->c);
}

static void redislog_stop(nlog *l)
{
	cluster_stop(((redislog *)l)->c);
}

static void redislog_destroy(nlog *l)
{
	redislog *rl = (redislog *)l;

	if (!rl)
		return;
	while (rl->warm_at < rl->n_warm)
		cluster_entry_free(&rl->warm[rl->warm_at++]);
	free(rl->warm);
	cluster_destroy(rl->c);
	free(rl);
}

static const nlog_ops redislog_ops = {
	.start = redislog_start,
	.append = redislog_append,
	.poll_acks = redislog_poll_acks,
	.poll_entries = redislog_poll_entries,
	.healthy = redislog_healthy,
	.stop = redislog_stop,
	.destroy = redislog_destroy,
};

int cluster_log_create(const herald_config *cfg, void (*wake)(void *arg), void *arg, nlog **out,
		       char *err, size_t errlen)
{
	redislog *rl = calloc(1, sizeof *rl);
	int rc;

	if (!rl)
		return HERALD_ENOMEM;
	rc = cluster_create(cfg, wake, arg, &rl->c, &rl->warm, &rl->n_warm, err, errlen);
	if (rc) {
		free(rl);
		return rc;
	}
	rl->base.ops = &redislog_ops;
	rl->base.name = "redis";
	snprintf(rl->base.epoch, sizeof rl->base.epoch, "%s", cluster_epoch(rl->c));
	LOG_INFO("cluster: log %s at %s, epoch %s, %zu notifications to read into the history",
		 cfg->cluster_log, cfg->cluster_url, rl->base.epoch, rl->n_warm);
	*out = &rl->base;
	return 0;
}
