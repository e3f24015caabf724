/*
 * cluster.c - see cluster.h.
 *
 * Two threads, each with its own synchronous hiredis connection: the writer appends batches of
 * queued notifications, the reader follows the stream. Both reconnect by themselves with a
 * capped exponential backoff. The hand-offs between them and the loop are queue.c queues:
 * appends to the writer, acks and read items back to the loop.
 *
 * Exactly-once appends. A batch whose reply is lost (connection cut, Redis killed, timeout)
 * may or may not be in the log, and it is sent again. To keep that retry from duplicating
 * entries, a batch is appended by a Lua script together with its sequence number in the key
 * "<log>:w:<writer id>": the script skips a batch whose number is not above the stored one.
 * The same script refuses an event whose idempotency id it took within the window (a key
 * "<log>:id:<id>" set NX with an expiry), so a source may resend through any node. Script
 * effects are atomic in memory, in the AOF and on replicas, so entries, batch number and ids
 * are kept or lost together. An append acked HERALD_ESHUTDOWN may still be in the log (its
 * batch was cut by the stop): its id, when it has one, makes the source's resend harmless.
 *
 * Epochs: positions mean the same on every node, and the epoch changes exactly when the log
 * lost entries. The key "<log>:epoch" holds "<epoch> <id>", the id of a marker entry
 * ("epoch" field) the epoch's maker appended to the stream: the entries after the marker are
 * the epoch's, so every node switches at the same place in the log. A node finds that the log
 * lost entries when the stream or the epoch key is gone (FLUSHALL, DEL, Redis restarted
 * without persistence), or when the last entry it read (the writer: appended) left the stream
 * other than by trimming (Redis restarted from an older snapshot): trimming only ever removes
 * the oldest entries. It then runs the epoch script: the first node to notice makes a new
 * epoch, the others adopt it; nobody restores an epoch over a log that lost entries. The
 * reader checks on every read (and so at every reconnect), in the same script as it reads,
 * so no entry of a lost log is taken for one of the old epoch. A read whose first entry is
 * the stream's first while XINFO's entries-added (Redis 7) says more were added since the
 * last one read is a gap: this node fell behind MAXLEN and cannot serve resumes from before
 * it (NLOG_MISSED: "expired").
 */
#include "cluster.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "herald/plugin.h"
#include "herald/redis_url.h"
#include "limit.h"
#include "log.h"
#include "queue.h"

enum {
	CONNECT_TIMEOUT_MS = 2000,
	WRITE_TIMEOUT_MS = 3000,                /* a batch's reply; then it is retried */
	READ_BLOCK_MS = 1000,                   /* XREAD BLOCK; bounds how long a stop waits,
	                                         * and how soon an idle node sees a lost log */
	READ_TIMEOUT_MS = READ_BLOCK_MS + 2000, /* no reply to a blocked XREAD: reconnect */
	READ_COUNT = 512,
	WARM_PAGE = 1000,
	BATCH_MAX = 256,
	BATCH_BYTES = 1 << 20,
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 5000,
	ID_MAX = 48,    /* "ms-seq" of two uint64 */
	EPOCH_LEN = 16, /* hex digits */
	ARGV_MAX = 10 + 4 * BATCH_MAX,
};

/* Lua shared by the scripts: stream ids compared; the stream's first entry, last id and count
 * of entries ever added; whether an entry left the stream other than by trimming (trimming
 * removes the oldest entries, so an entry gone at or after the first one, or after the last
 * id, was lost: Redis restarted from an older snapshot, or the stream deleted and made
 * again). */
#define LUA_IDS                                                                                    \
	"local function before(a, b)\n"                                                            \
	"  local am, as = string.match(a, '^(%d+)-(%d+)$')\n"                                      \
	"  local bm, bs = string.match(b, '^(%d+)-(%d+)$')\n"                                      \
	"  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)\n"              \
	"  return am < bm or (am == bm and as < bs)\n"                                             \
	"end\n"                                                                                    \
	"local function info(key)\n"                                                               \
	"  local i, t, first = redis.call('XINFO', 'STREAM', key), {}, ''\n"                       \
	"  for k = 1, #i, 2 do t[i[k]] = i[k + 1] end\n"                                           \
	"  if type(t['first-entry']) == 'table' then first = t['first-entry'][1] end\n"            \
	"  return first, t['last-generated-id'], t['entries-added'] or -1, t['length']\n"          \
	"end\n"                                                                                    \
	"local function gone(key, id)\n"                                                           \
	"  if id == '' then return false end\n"                                                    \
	"  local first, last = info(key)\n"                                                        \
	"  if before(last, id) then return true end\n"                                             \
	"  return first ~= '' and not before(id, first) and\n"                                     \
	"         #redis.call('XRANGE', key, id, id) == 0\n"                                       \
	"end\n"

/* KEYS: log, epoch key, writer key, then the id key of each entry with an id. ARGV: maxlen,
 * batch number, the last id this writer appended ('' none), the ids' expiry in seconds, then
 * per entry its notification, route and the index of its id key in KEYS (0: none). Returns
 * {'lost'} when the log lost entries (make a new epoch, then send the batch again), {'done'}
 * for a batch already in the log, else {'ok', id of the last entry added or '', a flag per
 * entry: 1 added, 0 dropped as a duplicate}. */
static const char append_script[] =
    LUA_IDS "if not redis.call('GET', KEYS[2]) or redis.call('EXISTS', KEYS[1]) == 0 or\n"
            "   gone(KEYS[1], ARGV[3]) then return {'lost'} end\n"
            "if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[2]) then\n"
            "  return {'done'}\n"
            "end\n"
            "local last, added = '', {}\n"
            "for i = 5, #ARGV, 3 do\n"
            "  local k = tonumber(ARGV[i + 2])\n"
            "  if k > 0 and not redis.call('SET', KEYS[k], '1', 'NX', 'EX', ARGV[4]) then\n"
            "    added[#added + 1] = 0\n"
            "  else\n"
            "    last = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'n', ARGV[i],\n"
            "                      'r', ARGV[i + 1])\n"
            "    added[#added + 1] = 1\n"
            "  end\n"
            "end\n"
            "redis.call('SET', KEYS[3], ARGV[2], 'EX', 86400)\n"
            "return {'ok', last, added}\n";

/* KEYS: log, epoch key. ARGV: the epoch the caller knows ('' at start), a fresh epoch,
 * maxlen. An epoch in place over a live stream, other than the caller's, is adopted (the log
 * was not lost since it was made: another node made it, or it is the log's at start);
 * otherwise the fresh one is made and its marker appended. Returns {epoch key's value,
 * 1 when made here else 0, the previous value or ''}. */
static const char epoch_script[] =
    "local cur = redis.call('GET', KEYS[2])\n"
    "if cur and redis.call('EXISTS', KEYS[1]) == 1 and\n"
    "   string.match(cur, '^%x*') ~= ARGV[1] then return {cur, 0, cur} end\n"
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'epoch', ARGV[2])\n"
    "redis.call('SET', KEYS[2], ARGV[2] .. ' ' .. id)\n"
    "return {ARGV[2] .. ' ' .. id, 1, cur or ''}\n";

/* KEYS: log, epoch key. ARGV: read after this id, the last id read ('' none), count.
 * Returns {'lost'} when the stream is gone or the last entry read left it other than by
 * trimming; {'noepoch'} when the epoch key is gone; else {'ok', epoch key's value, entries
 * ever added, the ordinal of the first entry read when it is the stream's first (its
 * predecessors trimmed: compared with the reader's count, a gap) else -1, the entries}. */
static const char read_script[] = LUA_IDS
    "if redis.call('EXISTS', KEYS[1]) == 0 or gone(KEYS[1], ARGV[2]) then return {'lost'} end\n"
    "local e = redis.call('GET', KEYS[2])\n"
    "if not e then return {'noepoch'} end\n"
    "local first, _, added, len = info(KEYS[1])\n"
    "local v = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[3])\n"
    "local at = -1\n"
    "if #v > 0 and v[1][1] == first and added >= 0 then at = added - len + 1 end\n"
    "return {'ok', e, added, at, v}\n";

/* One queued append. */
typedef struct pending {
	char *payload, *route, *idkey; /* idkey: "<log>:id:<id>", or NULL */
	size_t len, route_len, idkey_len;
	uint32_t source;
	uint64_t tag;
} pending;

struct cluster {
	/* Where and how to connect, and the keys. */
	redis_url url;
	char *log_key, *epoch_key, *writer_key;
	size_t log_len;
	char maxlen[24], window[24];
	int dedup;                 /* ids are checked */
	char epoch[EPOCH_LEN + 1]; /* at create */
	void (*wake)(void *arg);
	void *arg;

	queue *appends;      /* pending: loop -> writer */
	queue *acks;         /* cluster_ack: writer -> loop */
	queue *items;        /* cluster_entry: reader -> loop */
	size_t cap, unacked; /* appends not yet polled as acks (loop thread): <= cap, so the
	                      * acks queue (cap) never refuses the writer */
	atomic_int stopping;
	pthread_mutex_t lock; /* rfd, and the backoff sleeps */
	pthread_cond_t cond;  /* signalled by cluster_stop */
	int rfd;              /* the reader's socket, shut down by cluster_stop; -1: none */

	atomic_int writer_up, reader_up;
	redisContext *wctx, *rctx;
	pthread_t writer, reader;
	int writer_started, reader_started;

	/* The writer's (writer thread only). */
	char wepoch[EPOCH_LEN + 1];
	char wlast[ID_MAX]; /* the last entry it appended, "" none */
	const char **argv;
	size_t *argvlen;
	/* The reader's (reader thread only). */
	char repoch[EPOCH_LEN + 1]; /* the epoch of what it reads */
	log_id last;                /* the last entry it read */
	int has_last;               /* last is an entry's id (0: nothing read yet) */
	long long ordinal;          /* last's place among the entries ever added; -1 unknown */
	log_id start;               /* last at create, for the loop (cluster_start_id) */
	cluster_entry *batch;       /* the items of one read */
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

static void cl_free_entry(void *e)
{
	cluster_entry_free(e);
}

static void cl_free_pending(void *v)
{
	pending *p = v;

	free(p->payload);
	free(p->route);
	free(p->idkey);
}

/* Whether s[0..n) is an epoch: EPOCH_LEN hex digits, then a space or the end. */
static bool cl_epoch_ok(const char *s, size_t n)
{
	return n == EPOCH_LEN && strspn(s, "0123456789abcdef") >= n && (!s[n] || s[n] == ' ');
}

/* Splits an epoch key's value "<epoch> <marker id>" (an older "<epoch>" has marker 0-0).
 * 0, or HERALD_EINVAL when it is not one. */
static int cl_epoch_value(const char *v, char epoch[EPOCH_LEN + 1], log_id *marker)
{
	size_t n = strcspn(v, " ");

	if (!cl_epoch_ok(v, n))
		return HERALD_EINVAL;
	*marker = (log_id){0, 0};
	if (v[n] && log_id_parse(v + n + 1, marker))
		return HERALD_EINVAL;
	memcpy(epoch, v, n);
	epoch[n] = '\0';
	return 0;
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

/* The value of one CONFIG GET parameter in buf ("" when CONFIG is refused: renamed or
 * disabled); 0 or HERALD_EIO (the connection failed). */
static int cl_config_get(redisContext *ctx, const char *name, char *buf, size_t len)
{
	redisReply *r = redisCommand(ctx, "CONFIG GET %s", name);

	if (!r)
		return HERALD_EIO;
	buf[0] = '\0';
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING)
		snprintf(buf, len, "%s", r->element[1]->str);
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(buf, len, "?%s", r->str);
	freeReplyObject(r);
	return 0;
}

/* Says what a restart of this Redis would cost the log: at start and at every reconnect of
 * the writer, since Redis may have been reconfigured meanwhile. */
static void cl_persistence(cluster *c, redisContext *ctx)
{
	char aof[64], fsync[64], save[256];

	if (cl_config_get(ctx, "appendonly", aof, sizeof aof) ||
	    cl_config_get(ctx, "appendfsync", fsync, sizeof fsync) ||
	    cl_config_get(ctx, "save", save, sizeof save))
		return;
	if (aof[0] == '?' || !aof[0])
		LOG_INFO(
		    "cluster: cannot tell whether Redis at %s persists the log (CONFIG GET: %s)",
		    c->url.where, aof[0] ? aof + 1 : "no answer");
	else if (strcmp(aof, "yes") == 0 && strcmp(fsync, "always") == 0)
		LOG_INFO("cluster: Redis at %s persists every append (appendonly yes, appendfsync "
		         "always)",
		         c->url.where);
	else if (strcmp(aof, "yes") == 0)
		LOG_INFO("cluster: Redis at %s keeps an append-only file (appendfsync %s): a "
		         "crash of its host may lose the last second of the log, then every node "
		         "starts a new epoch",
		         c->url.where, fsync);
	else if (save[0])
		LOG_WARN(
		    "cluster: Redis at %s keeps only snapshots (appendonly no, save \"%s\"): a "
		    "crash loses the log since the last one; every node then starts a new epoch "
		    "and clients resuming from before are answered resume_failed reset",
		    c->url.where, save);
	else
		LOG_WARN("cluster: Redis at %s keeps no persistence (appendonly no, save \"\"): a "
		         "restart of Redis loses the whole log; every node then starts a new epoch "
		         "and clients resuming from before are answered resume_failed reset",
		         c->url.where);
}

/* A new connection, authenticated, on the right database, with replies awaited at most
 * timeout_ms; NULL with the reason in err. */
static redisContext *cl_connect(cluster *c, int timeout_ms, char *err, size_t errlen)
{
	struct timeval ct = {CONNECT_TIMEOUT_MS / 1000, 0};
	struct timeval io = {timeout_ms / 1000, timeout_ms % 1000 * 1000};
	redisContext *ctx = c->url.path ? redisConnectUnixWithTimeout(c->url.path, ct)
	                                : redisConnectWithTimeout(c->url.host, c->url.port, ct);
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
	if (c->url.password) {
		if (c->url.user) {
			argv[argc] = c->url.user;
			lens[argc++] = c->url.user_len;
		}
		argv[argc] = c->url.password;
		lens[argc++] = c->url.password_len;
		if (!(r = cl_call(ctx, argc, argv, lens, "AUTH", err, errlen)))
			goto fail;
		freeReplyObject(r);
	}
	if (c->url.db) {
		snprintf(db, sizeof db, "%d", c->url.db);
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

static int random_hex(char out[EPOCH_LEN + 1])
{
	uint64_t v;

	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		return HERALD_EIO;
	snprintf(out, EPOCH_LEN + 1, "%016" PRIx64, v);
	return 0;
}

/*
 * Runs the epoch script: `old` is the epoch the caller knew ("" at start). On success the
 * log's epoch is in epoch[] and the id of its marker in *marker. `why` says what the caller
 * found, for the log line when a new epoch is made here. 0 or HERALD_EIO (err says why).
 */
static int cl_new_epoch(cluster *c, redisContext *ctx, const char *old, const char *why,
                        char epoch[EPOCH_LEN + 1], log_id *marker, char *err, size_t errlen)
{
	char fresh[EPOCH_LEN + 1], before[EPOCH_LEN + 1], known[EPOCH_LEN + 1];
	const char *argv[] = {"EVAL",       epoch_script, "2",   c->log_key,
	                      c->epoch_key, known,        fresh, c->maxlen};
	redisReply *r;
	log_id was;
	int made;

	snprintf(known, sizeof known, "%s", old); /* old may be epoch[], written below */
	old = known;
	if (random_hex(fresh)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return HERALD_EIO;
	}
	if (!(r = cl_call(ctx, 8, argv, NULL, "epoch", err, errlen)))
		return HERALD_EIO;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_INTEGER ||
	    r->element[2]->type != REDIS_REPLY_STRING ||
	    cl_epoch_value(r->element[0]->str, epoch, marker)) {
		snprintf(err, errlen, "the key %s holds \"%.40s\", not an epoch", c->epoch_key,
		         r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->str
		             ? r->element[0]->str
		             : "?");
		freeReplyObject(r);
		return HERALD_EIO;
	}
	made = r->element[1]->integer == 1;
	if (cl_epoch_value(r->element[2]->str, before, &was))
		strcpy(before, "none");
	freeReplyObject(r);
	if (!*old && !made)
		LOG_INFO("cluster: log %s at %s, epoch %s", c->log_key, c->url.where, epoch);
	else if (!*old && !strcmp(before, "none"))
		LOG_INFO("cluster: log %s at %s: new epoch %s", c->log_key, c->url.where, epoch);
	else if (made)
		LOG_WARN("cluster: log %s lost entries (%s): new epoch %s after %s; positions of "
		         "%s are answered resume_failed reset",
		         c->log_key, why, epoch, *old ? old : before, *old ? old : before);
	else
		LOG_INFO("cluster: log %s lost entries (%s): another node made epoch %s",
		         c->log_key, why, epoch);
	return 0;
}

/* Parses a stream entry [id, [field, value, ...]] into *out: a notification (fields n, r) or
 * an epoch marker (field epoch). 0; 1 when it is neither (skipped, logged; *id still set);
 * HERALD_EIO when it is not an entry; HERALD_ENOMEM. */
static int cl_entry(const cluster *c, const redisReply *r, log_id *id, cluster_entry *out)
{
	const redisReply *f, *n = NULL, *rt = NULL, *ep = NULL;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || log_id_parse(r->element[0]->str, id))
		return HERALD_EIO;
	f = r->element[1];
	for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		const redisReply *k = f->element[i], *v = f->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (k->len == 1 && k->str[0] == 'n' && !n)
			n = v;
		else if (k->len == 1 && k->str[0] == 'r' && !rt)
			rt = v;
		else if (k->len == 5 && !memcmp(k->str, "epoch", 5) && !ep)
			ep = v;
	}
	memset(out, 0, sizeof *out);
	out->id = *id;
	if (ep && !n && cl_epoch_ok(ep->str, ep->len)) {
		out->kind = CLUSTER_EPOCH;
		if (!(out->payload = strndup(ep->str, ep->len)))
			return HERALD_ENOMEM;
		out->len = ep->len;
		return 0;
	}
	if (!n || !rt) {
		LOG_WARN("cluster: entry %s of log %s has no notification and route: skipped",
		         r->element[0]->str, c->log_key);
		return 1;
	}
	out->kind = CLUSTER_ENTRY;
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

/* Where notification_limit's windows must be read from at start (INT64_MAX: it is off). */
static int64_t cl_limit_from(const herald_config *cfg)
{
	return cfg->notify_limit ? limit_rebuild_from(cfg->notify_limit_window * 1000LL,
	                                              clock_real_ms(), INT64_MAX)
	                         : INT64_MAX;
}

/* Reads the newest `want` entries of the epoch whose marker is `marker` into *warm, oldest
 * first, and any older ones at or after `from_ms`, paging with XREVRANGE, and sets c->last to
 * the newest id of the log. */
static int cl_warm(cluster *c, long long want, int64_t from_ms, log_id marker, cluster_entry **warm,
                   size_t *n_warm, char *err, size_t errlen)
{
	cluster_entry *v = NULL, *grown, e;
	size_t n = 0, cap = 0;
	long long seen = 0; /* entries looked at, skipped ones included */
	char end[ID_MAX] = "+", count[24];
	const char *argv[] = {"XREVRANGE", c->log_key, end, "-", "COUNT", count};
	log_id id = {0, 0};
	redisReply *r;
	int rc = 0, more = 1, done = 0;

	while (more) {
		long long ask = seen < want && want - seen < WARM_PAGE ? want - seen : WARM_PAGE;
		snprintf(count, sizeof count, "%lld", ask > 0 ? ask : 1);
		if (!(r = cl_call(c->wctx, 6, argv, NULL, "XREVRANGE", err, errlen)))
			return HERALD_EIO;
		if (r->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "XREVRANGE: unexpected reply");
			rc = HERALD_EIO;
		}
		for (size_t i = 0; !rc && !done && i < r->elements; i++) {
			if ((rc = cl_entry(c, r->element[i], &id, &e)) == HERALD_EIO)
				snprintf(err, errlen, "XREVRANGE: unexpected entry");
			if (!c->has_last && rc >= 0) {
				c->last = id;
				c->has_last = 1;
			}
			seen += rc >= 0;
			/* Entries before the epoch's marker are of an older one. */
			if (rc == 0 && (e.kind != CLUSTER_ENTRY || log_id_cmp(id, marker) <= 0 ||
			                (seen > want && (int64_t)id.ms < from_ms))) {
				cluster_entry_free(&e);
				done = 1;
			} else if (rc == 0 && n == cap) {
				cap = cap ? 2 * cap : 64;
				if (!(grown = realloc(v, cap * sizeof *v))) {
					cluster_entry_free(&e);
					rc = HERALD_ENOMEM;
				} else {
					v = grown;
				}
			}
			if (rc == 0 && !done)
				v[n++] = e;
			rc = rc > 0 ? 0 : rc;
		}
		more = !rc && !done && (seen < want || (int64_t)id.ms >= from_ms) &&
		       r->elements == (size_t)ask && (id.ms || id.seq);
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

/* Waits *delay_ms unless stopped, then doubles it. */
static void cl_backoff(cluster *c, int *delay_ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += *delay_ms / 1000;
	t.tv_nsec += *delay_ms % 1000 * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&c->stopping) &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &t) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&c->lock);
	*delay_ms = *delay_ms * 2 < BACKOFF_MAX_MS ? *delay_ms * 2 : BACKOFF_MAX_MS;
}

/* Gives up the writer's connection after a failure (err says which). */
static int cl_drop_writer(cluster *c, const char *err)
{
	cl_down(&c->writer_up, "writer", c->url.where, err);
	redisFree(c->wctx);
	c->wctx = NULL;
	return HERALD_EIO;
}

/*
 * Appends the k appends of batch as batch number `seq`, setting added[i] to 0 for those the
 * log dropped as duplicates. 0 when they are in the log; HERALD_EIO when the connection was
 * given up (the caller sends the same batch again: at once when the connection had worked).
 */
static int cl_write(cluster *c, const pending *batch, size_t k, uint64_t seq, int *added)
{
	char err[512], num[24], keys[16], idx[BATCH_MAX][8];
	size_t argc, nkeys;
	redisReply *r, *flags;
	log_id marker;

	if (!c->wctx) {
		if (!(c->wctx = cl_connect(c, WRITE_TIMEOUT_MS, err, sizeof err)))
			return cl_drop_writer(c, err);
		cl_persistence(c, c->wctx);
	}
	snprintf(num, sizeof num, "%" PRIu64, seq);
	for (int attempt = 0; attempt < 2; attempt++) {
		/* EVAL script n log epoch writer idkeys... maxlen seq wlast window entries... */
		argc = 6;
		for (size_t i = 0; i < k; i++)
			if (batch[i].idkey) {
				c->argv[argc] = batch[i].idkey;
				c->argvlen[argc++] = batch[i].idkey_len;
			}
		nkeys = argc - 3;
		snprintf(keys, sizeof keys, "%zu", nkeys);
		const char *head[] = {c->maxlen, num, c->wlast, c->window};
		for (size_t i = 0; i < 4; i++, argc++) {
			c->argv[argc] = head[i];
			c->argvlen[argc] = strlen(head[i]);
		}
		for (size_t i = 0, key = 4; i < k; i++, argc += 3) {
			snprintf(idx[i], sizeof idx[i], "%zu", batch[i].idkey ? key++ : 0);
			c->argv[argc] = batch[i].payload;
			c->argvlen[argc] = batch[i].len;
			c->argv[argc + 1] = batch[i].route;
			c->argvlen[argc + 1] = batch[i].route_len;
			c->argv[argc + 2] = idx[i];
			c->argvlen[argc + 2] = strlen(idx[i]);
		}
		c->argv[2] = keys;
		c->argvlen[2] = strlen(keys);
		if (!(r = redisCommandArgv(c->wctx, (int)argc, c->argv, c->argvlen)))
			return cl_drop_writer(c, c->wctx->errstr);
		if (r->type == REDIS_REPLY_ERROR || r->type != REDIS_REPLY_ARRAY || !r->elements ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			snprintf(err, sizeof err, "append: %s",
			         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			freeReplyObject(r);
			return cl_drop_writer(c, err);
		}
		if (strcmp(r->element[0]->str, "lost") == 0) {
			freeReplyObject(r);
			if (cl_new_epoch(
			        c, c->wctx, c->wepoch,
			        "found by a writer: the log or its epoch key is gone, or its last "
			        "append is",
			        c->wepoch, &marker, err, sizeof err))
				return cl_drop_writer(c, err);
			c->wlast[0] = '\0';
			continue;
		}
		for (size_t i = 0; i < k; i++)
			added[i] = 1;
		if (strcmp(r->element[0]->str, "done") == 0) {
			LOG_INFO("cluster: a batch of %zu sent again was already in the log", k);
		} else if (r->elements == 3 && r->element[1]->type == REDIS_REPLY_STRING &&
		           (flags = r->element[2])->type == REDIS_REPLY_ARRAY &&
		           flags->elements == k) {
			if (r->element[1]->len && r->element[1]->len < ID_MAX)
				memcpy(c->wlast, r->element[1]->str, r->element[1]->len + 1);
			for (size_t i = 0; i < k; i++)
				added[i] = flags->element[i]->type != REDIS_REPLY_INTEGER ||
				           flags->element[i]->integer != 0;
		}
		freeReplyObject(r);
		cl_up(&c->writer_up, "writer");
		return 0;
	}
	return cl_drop_writer(c, "the log lost entries again while a new epoch was made");
}

static size_t pending_bytes(const pending *p)
{
	return p->len + p->route_len + p->idkey_len;
}

static void *cl_writer(void *arg)
{
	cluster *c = arg;
	pending batch[BATCH_MAX];
	cluster_ack acks[BATCH_MAX];
	int added[BATCH_MAX], delay = BACKOFF_MIN_MS, fresh;
	size_t k = 0, bytes;
	uint64_t seq = 0;

	for (;;) {
		/* A batch that failed is sent again unchanged, under the same number. */
		if (!k) {
			if (!(k = queue_wait(c->appends, batch, 1)))
				break; /* closed */
			for (bytes = pending_bytes(&batch[0]);
			     k < BATCH_MAX && bytes < BATCH_BYTES &&
			     queue_drain(c->appends, &batch[k], 1);
			     bytes += pending_bytes(&batch[k++]))
				;
			seq++;
		}
		if (atomic_load(&c->stopping))
			break;
		fresh = !c->wctx;
		if (cl_write(c, batch, k, seq, added) == 0) {
			for (size_t i = 0; i < k; i++) {
				acks[i] =
				    (cluster_ack){batch[i].source, batch[i].tag, 0, !added[i]};
				cl_free_pending(&batch[i]);
			}
			/* Never refused: no more than c->cap appends are unacknowledged. */
			queue_push(c->acks, acks, k);
			k = 0;
			delay = BACKOFF_MIN_MS;
		} else if (fresh) { /* a connection that had worked is replaced at once */
			cl_backoff(c, &delay);
		}
	}
	for (size_t i = 0; i < k; i++) {
		acks[i] = (cluster_ack){batch[i].source, batch[i].tag, HERALD_ESHUTDOWN, 0};
		cl_free_pending(&batch[i]);
	}
	queue_push(c->acks, acks, k);
	return NULL;
}

/* Hands n items to the loop, waiting for room; frees what a stop leaves over. 0 or
 * HERALD_ESHUTDOWN. */
static int cl_hand_on(cluster *c, cluster_entry *v, size_t n)
{
	size_t cap = queue_capacity(c->items), i = 0;

	for (size_t k; i < n; i += k) {
		k = n - i < cap ? n - i : cap;
		if (queue_push_wait(c->items, v + i, k) != 0)
			break;
	}
	for (; i < n; i++)
		cluster_entry_free(&v[i]);
	return i == n ? 0 : HERALD_ESHUTDOWN;
}

/* Gives up the reader's connection after a failure (err says which). */
static int cl_reader_failed(cluster *c, const char *err)
{
	if (!atomic_load(&c->stopping))
		cl_down(&c->reader_up, "reader", c->url.where, err);
	return HERALD_EIO;
}

/*
 * The log lost entries (lost: what followed the last entry read is gone too) or its epoch key:
 * make or adopt the new epoch. After a loss the reader goes on from the new epoch's marker
 * (the loop switches there); otherwise the marker comes in order after what it reads.
 */
static int cl_read_lost(cluster *c, int lost)
{
	char err[512], epoch[EPOCH_LEN + 1];
	cluster_entry e = {.kind = CLUSTER_EPOCH};
	log_id marker;

	if (cl_new_epoch(c, c->rctx, c->repoch,
	                 lost ? "found by a reader: the log is gone, or the last entry it read is"
	                      : "found by a reader: its epoch key is gone",
	                 epoch, &marker, err, sizeof err))
		return cl_reader_failed(c, err);
	if (!lost)
		return 0;
	c->last = marker;
	c->has_last = 1;
	c->ordinal = -1;
	if (!strcmp(epoch, c->repoch))
		return 0;
	strcpy(c->repoch, epoch);
	e.id = marker;
	e.len = strlen(epoch);
	if (!(e.payload = strdup(epoch)))
		return HERALD_ENOMEM;
	return cl_hand_on(c, &e, 1);
}

/*
 * One read: the read script (new entries after c->last, checked against a lost log), then,
 * when there was nothing new, a blocking XREAD that only waits for the next entry (what it
 * returns is read by the next script, which checks it). 0, HERALD_EIO (the connection was
 * given up), HERALD_ENOMEM or HERALD_ESHUTDOWN.
 */
static int cl_read(cluster *c)
{
	char after[ID_MAX], check[ID_MAX] = "", count[16], block[16], kepoch[EPOCH_LEN + 1];
	const char *argv[] = {"EVAL",       read_script, "2",   c->log_key,
	                      c->epoch_key, after,       check, count};
	const redisReply *list = NULL, *st;
	redisReply *r;
	log_id id, kmarker, last0 = c->last;
	char repoch0[EPOCH_LEN + 1];
	size_t n = 0, k;
	long long added, at;
	int rc = 0, has0 = c->has_last;

	strcpy(repoch0, c->repoch);
	snprintf(count, sizeof count, "%d", READ_COUNT);
	id_format(c->last, after);
	if (c->has_last)
		id_format(c->last, check);
	if (!(r = redisCommandArgv(c->rctx, 8, argv, NULL)))
		return cl_reader_failed(c, c->rctx->errstr);
	if (r->type != REDIS_REPLY_ARRAY || !r->elements ||
	    (st = r->element[0])->type != REDIS_REPLY_STRING) {
		rc =
		    cl_reader_failed(c, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return rc;
	}
	if (!strcmp(st->str, "lost") || !strcmp(st->str, "noepoch")) {
		rc = !strcmp(st->str, "lost");
		freeReplyObject(r);
		return cl_read_lost(c, rc);
	}
	if (r->elements != 5 || r->element[1]->type != REDIS_REPLY_STRING ||
	    cl_epoch_value(r->element[1]->str, kepoch, &kmarker) ||
	    r->element[2]->type != REDIS_REPLY_INTEGER ||
	    r->element[3]->type != REDIS_REPLY_INTEGER ||
	    (list = r->element[4])->type != REDIS_REPLY_ARRAY ||
	    (list->elements &&
	     (list->element[0]->type != REDIS_REPLY_ARRAY || !list->element[0]->elements ||
	      list->element[0]->element[0]->type != REDIS_REPLY_STRING ||
	      log_id_parse(list->element[0]->element[0]->str, &id)))) {
		freeReplyObject(r);
		return cl_reader_failed(c, "unexpected reply to the read");
	}
	added = r->element[2]->integer;
	at = r->element[3]->integer;
	k = list->elements < READ_COUNT ? list->elements : READ_COUNT;
	/* The first entry read is the stream's first, and more entries were added between the
	 * last one read and it than it is from the last one: they were trimmed before this node
	 * read them. */
	if (at >= 0 && c->ordinal >= 0 && at > c->ordinal + 1) {
		if (strcmp(kepoch, c->repoch) && log_id_cmp(kmarker, id) < 0) {
			/* and the marker of a new epoch with them */
			strcpy(c->repoch, kepoch);
			c->batch[n++] = (cluster_entry){.kind = CLUSTER_EPOCH,
			                                .id = kmarker,
			                                .payload = strdup(kepoch),
			                                .len = EPOCH_LEN};
		}
		c->batch[n++] = (cluster_entry){.kind = CLUSTER_GAP, .id = id};
	}
	/* Where the last entry read now stands among all added: exact once a read reached the
	 * end of the stream. */
	if (list->elements < READ_COUNT)
		c->ordinal = added;
	else if (at >= 0)
		c->ordinal = at + (long long)k - 1;
	else if (c->ordinal >= 0)
		c->ordinal += (long long)k;
	for (size_t i = 0; !rc && i < list->elements && i < READ_COUNT; i++) {
		rc = cl_entry(c, list->element[i], &id, &c->batch[n]);
		if (rc >= 0) {
			c->last = id;
			c->has_last = 1;
		}
		if (rc || c->batch[n].kind == CLUSTER_ENTRY) {
			n += rc == 0;
		} else if (strcmp(c->batch[n].payload, c->repoch)) {
			strcpy(c->repoch, c->batch[n++].payload);
		} else {
			cluster_entry_free(&c->batch[n]); /* the marker of the epoch it serves */
		}
		rc = rc > 0 ? 0 : rc;
	}
	for (size_t i = 0; !rc && i < n; i++)
		if (c->batch[i].kind == CLUSTER_EPOCH && !c->batch[i].payload)
			rc = HERALD_ENOMEM;
	int empty = !list->elements;
	freeReplyObject(r);
	if (rc) {
		/* Nothing of this read goes on: the connection is given up and read again. */
		for (size_t i = 0; i < n; i++)
			cluster_entry_free(&c->batch[i]);
		c->last = last0;
		c->has_last = has0;
		c->ordinal = -1;
		strcpy(c->repoch, repoch0);
		return cl_reader_failed(c, rc == HERALD_ENOMEM ? "out of memory"
		                                               : "unexpected entry in the log");
	}
	if ((rc = cl_hand_on(c, c->batch, n)) || !empty)
		return rc;
	snprintf(block, sizeof block, "%d", READ_BLOCK_MS);
	id_format(c->last, after);
	const char *wait[] = {"XREAD", "COUNT", "1", "BLOCK", block, "STREAMS", c->log_key, after};
	if (!(r = redisCommandArgv(c->rctx, 8, wait, NULL)))
		return cl_reader_failed(c, c->rctx->errstr);
	if (r->type == REDIS_REPLY_ERROR)
		rc = cl_reader_failed(c, r->str);
	freeReplyObject(r);
	return rc;
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
			if (!(ctx = cl_connect(c, READ_TIMEOUT_MS, err, sizeof err))) {
				cl_down(&c->reader_up, "reader", c->url.where, err);
				cl_backoff(c, &delay);
				continue;
			}
			/* Published under the lock, so that a stop shuts down this socket (or
			 * finds it shut down already). */
			pthread_mutex_lock(&c->lock);
			c->rctx = ctx;
			c->rfd = ctx->fd;
			if (atomic_load(&c->stopping))
				shutdown(ctx->fd, SHUT_RDWR);
			pthread_mutex_unlock(&c->lock);
		}
		/* The first read of a connection checks the log before anything else. */
		if ((rc = cl_read(c)) == 0) {
			cl_up(&c->reader_up, "reader");
			delay = BACKOFF_MIN_MS;
			fresh = 0;
			continue;
		}
		if (rc == HERALD_ESHUTDOWN)
			break;
		cl_drop_reader(c);
		/* A connection that had worked is replaced at once; a new one that fails waits. */
		if (fresh)
			cl_backoff(c, &delay);
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

/* Refuses a Redis older than 7.0: the checks for a trimmed log need XINFO's
 * entries-added. 0, HERALD_EIO or HERALD_ECONFIG (err says why). */
static int cl_version(cluster *c, char *err, size_t errlen)
{
	redisReply *r =
	    cl_call(c->wctx, 2, (const char *[]){"INFO", "server"}, NULL, "INFO", err, errlen);
	const char *v;
	int rc = 0;

	if (!r)
		return HERALD_EIO;
	if (r->type == REDIS_REPLY_STRING && (v = strstr(r->str, "redis_version:")) &&
	    atoi(v + 14) < 7) {
		snprintf(err, errlen,
		         "Redis %.16s is too old: the cluster needs Redis 7.0 or later", v + 14);
		rc = HERALD_ECONFIG;
	}
	freeReplyObject(r);
	return rc;
}

/* The count of entries ever added to the log (XINFO), which places c->last, the newest entry
 * at start, for telling a gap later; -1 when it cannot be had. */
static long long cl_added(cluster *c)
{
	redisReply *r = redisCommand(c->wctx, "XINFO STREAM %s", c->log_key);
	long long added = -1;

	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    !strcmp(r->element[i]->str, "entries-added") &&
		    r->element[i + 1]->type == REDIS_REPLY_INTEGER)
			added = r->element[i + 1]->integer;
	freeReplyObject(r);
	return added;
}

int cluster_create(const herald_config *cfg, void (*wake)(void *arg), void *arg, cluster **out,
                   cluster_entry **warm, size_t *n_warm, char *err, size_t errlen)
{
	cluster *c = calloc(1, sizeof *c);
	pthread_condattr_t ca;
	char why[512], wid[EPOCH_LEN + 4];
	const char *what = NULL;
	log_id marker;
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
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->rfd = -1;
	c->wake = wake;
	c->arg = arg;
	if ((rc = redis_url_parse(cfg->cluster_url, &c->url, &what))) {
		snprintf(err, errlen, "cluster.url: %s", what);
		goto fail;
	}
	if (cfg->cluster_password) {
		if (c->url.password)
			explicit_bzero(c->url.password, c->url.password_len);
		free(c->url.password);
		if (!(c->url.password = malloc(cfg->cluster_password_len + 1)))
			goto nomem;
		memcpy(c->url.password, cfg->cluster_password, cfg->cluster_password_len);
		c->url.password[cfg->cluster_password_len] = '\0';
		c->url.password_len = cfg->cluster_password_len;
	}
	if (c->url.user && !c->url.password) {
		snprintf(err, errlen,
		         "cluster.url: the user named in the url needs a password (in "
		         "the url or in cluster.password)");
		rc = HERALD_ECONFIG;
		goto fail;
	}
	snprintf(c->maxlen, sizeof c->maxlen, "%lld", cfg->cluster_log_max);
	snprintf(c->window, sizeof c->window, "%d", cfg->dedup_window);
	c->dedup = cfg->dedup_window > 0;
	strcpy(wid, ":w:");
	if (random_hex(wid + 3)) {
		snprintf(err, errlen, "cluster: getrandom: %s", strerror(errno));
		rc = HERALD_EIO;
		goto fail;
	}
	c->cap = (size_t)cfg->queue_size;
	c->log_len = strlen(cfg->cluster_log);
	if (!(c->log_key = strdup(cfg->cluster_log)) ||
	    !(c->epoch_key = key_of(cfg->cluster_log, ":epoch")) ||
	    !(c->writer_key = key_of(cfg->cluster_log, wid)) ||
	    queue_create(c->cap, sizeof(pending), NULL, NULL, &c->appends) ||
	    queue_create(c->cap, sizeof(cluster_ack), wake, arg, &c->acks) ||
	    queue_create(4 * c->cap, sizeof(cluster_entry), wake, arg, &c->items) ||
	    !(c->batch = calloc(READ_COUNT + 2, sizeof *c->batch)) ||
	    !(c->argv = calloc(ARGV_MAX, sizeof *c->argv)) ||
	    !(c->argvlen = calloc(ARGV_MAX, sizeof *c->argvlen)))
		goto nomem;
	c->argv[0] = "EVAL";
	c->argv[1] = append_script;
	c->argv[3] = c->log_key;
	c->argv[4] = c->epoch_key;
	c->argv[5] = c->writer_key;
	for (int i = 0; i < 6; i++)
		c->argvlen[i] = i == 2 ? 0 : strlen(c->argv[i]);

	rc = HERALD_EIO;
	if (!(c->wctx = cl_connect(c, WRITE_TIMEOUT_MS, why, sizeof why)))
		goto unreachable;
	if ((rc = cl_version(c, why, sizeof why)))
		goto unreachable;
	if (!(r = cl_call(c->wctx, 2, (const char *[]){"TYPE", c->log_key}, NULL, "TYPE", why,
	                  sizeof why)))
		goto unreachable;
	if (r->type != REDIS_REPLY_STATUS ||
	    (strcmp(r->str, "stream") != 0 && strcmp(r->str, "none") != 0)) {
		snprintf(err, errlen, "cluster: the key %s at %s is a %s, not a stream", c->log_key,
		         c->url.where, r->type == REDIS_REPLY_STATUS ? r->str : "?");
		freeReplyObject(r);
		rc = HERALD_ECONFIG;
		goto fail;
	}
	freeReplyObject(r);
	cl_persistence(c, c->wctx);
	if (!(c->rctx = cl_connect(c, READ_TIMEOUT_MS, why, sizeof why)))
		goto unreachable;
	c->rfd = c->rctx->fd;
	if ((rc = cl_new_epoch(c, c->wctx, "", "its stream is gone", c->epoch, &marker, why,
	                       sizeof why)) ||
	    (rc = cl_warm(c, cfg->history_warm, cl_limit_from(cfg), marker, warm, n_warm, why,
	                  sizeof why)))
		goto unreachable;
	strcpy(c->wepoch, c->epoch);
	strcpy(c->repoch, c->epoch);
	c->ordinal = c->has_last ? cl_added(c) : -1;
	c->start = c->last;
	atomic_store(&c->writer_up, 1);
	atomic_store(&c->reader_up, 1);
	*out = c;
	return 0;

unreachable:
	snprintf(err, errlen, "cluster: Redis at %s: %s", c->url.where,
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

const char *cluster_where(const cluster *c)
{
	return c->url.where;
}

log_id cluster_start_id(const cluster *c)
{
	return c->start;
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

int cluster_append(cluster *c, const char *payload, size_t len, const char *route_text,
                   const char *id, size_t id_len, uint32_t source, uint64_t tag)
{
	pending p = {.len = len, .route_len = strlen(route_text), .source = source, .tag = tag};
	int rc;

	if (atomic_load(&c->stopping))
		return HERALD_ESHUTDOWN;
	if (c->unacked >= c->cap)
		return HERALD_EFULL;
	p.payload = malloc(len ? len : 1);
	p.route = strdup(route_text);
	if (id && c->dedup) {
		p.idkey_len = c->log_len + 4 + id_len;
		if ((p.idkey = malloc(p.idkey_len))) {
			memcpy(p.idkey, c->log_key, c->log_len);
			memcpy(p.idkey + c->log_len, ":id:", 4);
			memcpy(p.idkey + c->log_len + 4, id, id_len);
		}
	}
	if (!p.payload || !p.route || (id && c->dedup && !p.idkey)) {
		cl_free_pending(&p);
		return HERALD_ENOMEM;
	}
	memcpy(p.payload, payload, len);
	if ((rc = queue_push(c->appends, &p, 1))) {
		cl_free_pending(&p);
		return rc;
	}
	c->unacked++;
	return 0;
}

/* Like ingest_drain: when a poll leaves its queue empty, the next push wakes the loop again;
 * when it does not, the caller must come back. */
size_t cluster_poll_acks(cluster *c, cluster_ack *out, size_t max)
{
	size_t n = queue_drain(c->acks, out, max);

	c->unacked -= n;
	return n;
}

size_t cluster_poll_entries(cluster *c, cluster_entry *out, size_t max)
{
	return queue_drain(c->items, out, max);
}

int cluster_healthy(const cluster *c)
{
	return atomic_load(&c->writer_up) && atomic_load(&c->reader_up);
}

void cluster_stop(cluster *c)
{
	pending p;
	cluster_ack a;

	pthread_mutex_lock(&c->lock);
	atomic_store(&c->stopping, 1);
	/* Ends a blocked read now rather than when its BLOCK times out. */
	if (c->rfd >= 0)
		shutdown(c->rfd, SHUT_RDWR);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->appends)
		queue_close(c->appends);
	if (c->items)
		queue_close(c->items);
	if (c->writer_started)
		pthread_join(c->writer, NULL);
	if (c->reader_started)
		pthread_join(c->reader, NULL);
	c->writer_started = c->reader_started = 0;
	atomic_store(&c->writer_up, 0);
	atomic_store(&c->reader_up, 0);
	/* What the writer never took. */
	while (c->appends && queue_drain(c->appends, &p, 1)) {
		a = (cluster_ack){.source = p.source, .tag = p.tag, .status = HERALD_ESHUTDOWN};
		cl_free_pending(&p);
		queue_push(c->acks, &a, 1);
	}
}

void cluster_destroy(cluster *c)
{
	if (!c)
		return;
	cluster_stop(c);
	queue_destroy(c->appends, cl_free_pending);
	queue_destroy(c->acks, NULL);
	queue_destroy(c->items, cl_free_entry);
	redisFree(c->wctx);
	redisFree(c->rctx);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	redis_url_free(&c->url);
	free(c->log_key);
	free(c->epoch_key);
	free(c->writer_key);
	free(c->batch);
	free(c->argv);
	free(c->argvlen);
	free(c);
}
