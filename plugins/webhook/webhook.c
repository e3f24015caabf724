/* webhook.c - the webhook source: events POSTed over HTTP, answered 202 only once the core has
 * taken every one of them (see README.md).
 *
 * libwebsockets only carries bytes here: the listener hands every accepted connection over as a
 * raw socket, and request.c reads the HTTP requests out of them. lws 4.1.6's own HTTP server
 * cannot be trusted with request framing: with rx flow control off it handed a pipelined body
 * out of a buffer list it had freed, and the plugin could not tell which bytes lws had taken
 * for a body. Rx is never paused: what arrives while a request waits for its acknowledgements
 * is dropped by request.c, and the connection closes after the answer. */
#define _GNU_SOURCE /* GNU strerror_r */
#include <herald/plugin.h>

#include "request.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HEALTHZ "/healthz"
/* How long a stopping plugin gives its last answers to leave. */
#define STOP_GRACE_US (2 * LWS_US_PER_SEC)
/* The tag count of a request whose submit_many() has not returned yet: it owns every tag from
 * its first on, since nothing else submits meanwhile. */
#define COUNT_UNKNOWN UINT64_MAX
/* Seconds a connection may take: idle between requests (keep-alive); for a request's head
 * from its first byte, for each part of a body, for the client to take an answer; and to close
 * after a last answer (the write side is shut, what still arrives is dropped until the peer
 * closes, so that the answer is not lost to a reset). */
#define IDLE_SECS 60
#define REQUEST_SECS 30
#define LINGER_SECS 2

typedef struct webhook webhook;

/* One connection, with at most one request at a time. lws allocates it zeroed per connection
 * and frees it after LWS_CALLBACK_RAW_CLOSE. */
typedef struct conn {
	webhook *w; /* set when adopted, NULL again once cleaned up */
	struct lws *wsi;
	struct conn *prev, *next;     /* w->conns (lws thread only) */
	int shut;                     /* the last answer left and the write side is shut */
	char peer[64];                /* the client's address, for the log lines */
	lws_sorted_usec_list_t timer; /* ack_timeout_ms */

	/* Guarded by w->lock while the connection is in w->pending. */
	struct conn *pprev, *pnext;
	int pending;
	uint64_t first, count, acked, dropped, refused;

	request q;
} conn;

struct webhook {
	herald_host *host;
	const herald_host_api *api;
	const char *listen; /* borrowed from the core, valid until destroy */
	int port, ack_timeout_ms;
	request_config cfg;  /* cfg.stopping: lws thread only */
	char challenge[128]; /* WWW-Authenticate of a 401 */

	struct lws_context *ctx;
	pthread_t thread;
	atomic_int stopping;
	/* lws thread only */
	int stop_seen, quit;
	lws_sorted_usec_list_t grace;
	conn *conns;       /* every open connection */
	uint64_t next_tag; /* the first tag of the next request */

	/* ack() runs on the core's thread: the requests waiting for acknowledgements, the counters
	 * in them, and whether ctx may be woken are shared under this lock. */
	pthread_mutex_t lock;
	conn *pending_head, *pending_tail;
	int live;
};

static const herald_option webhook_options[] = {
    {"listen", HERALD_OPT_STRING, "127.0.0.1", 0, 0,
     "address to listen on; anyone who reaches it may publish with the secrets"},
    {"port", HERALD_OPT_INT, "8001", 1, 65535, "TCP port"},
    {"path", HERALD_OPT_STRING, "/events", 0, 0, "the path events are POSTed to"},
    {"bearer_token", HERALD_OPT_SECRET, NULL, 0, 0,
     "secret expected as `Authorization: Bearer <secret>`"},
    {"hmac_secret", HERALD_OPT_SECRET, NULL, 0, 0,
     "key of the HMAC-SHA256 of the body expected in X-Herald-Signature"},
    {"allow_unauthenticated", HERALD_OPT_BOOL, "false", 0, 0,
     "accept requests without credentials when no secret is configured"},
    {"max_body", HERALD_OPT_INT, "1048576", 2, 4194304, "largest request body, bytes"},
    {"retry_after", HERALD_OPT_INT, "1", 0, 3600, "Retry-After seconds of a 503"},
    {"ack_timeout_ms", HERALD_OPT_INT, "10000", 10, 600000,
     "how long a request waits for the core to take its events before a 504"},
    {NULL, 0, NULL, 0, 0, NULL},
};

/* --- small helpers ----------------------------------------------------------------------- */

static void sha256(const void *data, size_t len, unsigned char out[32])
{
	EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
}

/* --- the requests waiting for acknowledgements (w->lock held) --------------------------- */

static void pending_add(webhook *w, conn *c)
{
	c->pending = 1;
	c->pnext = NULL;
	c->pprev = w->pending_tail;
	if (w->pending_tail)
		w->pending_tail->pnext = c;
	else
		w->pending_head = c;
	w->pending_tail = c;
}

static void pending_remove(webhook *w, conn *c)
{
	if (!c->pending)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		w->pending_head = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	else
		w->pending_tail = c->pprev;
	c->pending = 0;
}

/* --- connections ------------------------------------------------------------------------- */

static void conn_log(conn *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_log(conn *c, int level, const char *fmt, ...)
{
	char msg[REQUEST_ERR_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->w->api->log(c->w->host, level, "%s: %s", c->peer, msg);
}

/* Logs what request.c noted about the request (refusals, pipelining). */
static void conn_notes(conn *c)
{
	if (!c->q.note[0])
		return;
	conn_log(c, c->q.note_level, "%s", c->q.note);
	c->q.note[0] = '\0';
}

/* 1 while the connection owes an answer or has not finished sending its last one. */
static int conn_busy(const conn *c)
{
	if (c->q.state == REQUEST_CLOSING)
		return !c->shut;
	return c->q.state != REQUEST_HEAD || c->q.head_len > 0;
}

static void webhook_maybe_quit(webhook *w)
{
	if (!w->stop_seen)
		return;
	for (conn *c = w->conns; c; c = c->next)
		if (conn_busy(c))
			return;
	w->quit = 1;
}

/* Acts on the request's state after it changed: an answer is sent once the socket is
 * writable; each state has its own time limit (none while the core holds the events: the ack
 * timer answers 504 then). `started`: a request's head just began (its limit is not extended
 * by each byte, so a slow sender cannot hold the connection forever). */
static void conn_advance(conn *c, int started)
{
	switch (c->q.state) {
	case REQUEST_HEAD:
		if (!c->q.head_len)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, IDLE_SECS);
		else if (started)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, REQUEST_SECS);
		break;
	case REQUEST_BODY:
	case REQUEST_DRAIN:
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, REQUEST_SECS);
		break;
	case REQUEST_WAIT:
		lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
		break;
	case REQUEST_ANSWER:
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, REQUEST_SECS);
		lws_callback_on_writable(c->wsi);
		break;
	default:
		break;
	}
}

/* The answer to a request whose events were all acknowledged (w->lock held). */
static void conn_acknowledged(conn *c)
{
	if (c->refused) {
		conn_log(c, HERALD_LOG_WARN,
		         "503: the core stopped before taking %llu of %llu events",
		         (unsigned long long)c->refused, (unsigned long long)c->count);
		request_unavailable(&c->q, "shutting down");
	} else if (c->dropped) {
		conn_log(c, HERALD_LOG_INFO, "202: %llu event(s), %llu dropped by the formatter",
		         (unsigned long long)c->count, (unsigned long long)c->dropped);
		request_answer(&c->q, 202, NULL, NULL, "{\"accepted\":%llu,\"dropped\":%llu}",
		               (unsigned long long)c->count, (unsigned long long)c->dropped);
	} else {
		conn_log(c, HERALD_LOG_DEBUG, "202: %llu event(s)", (unsigned long long)c->count);
		request_answer(&c->q, 202, NULL, NULL, "{\"accepted\":%llu}",
		               (unsigned long long)c->count);
	}
	lws_sul_cancel(&c->timer);
	conn_advance(c, 0);
}

static void conn_timeout(lws_sorted_usec_list_t *sul)
{
	conn *c = lws_container_of(sul, conn, timer);
	webhook *w = c->w;

	pthread_mutex_lock(&w->lock);
	pending_remove(w, c);
	conn_log(c, HERALD_LOG_ERROR, "504: %llu of %llu events not acknowledged after %d ms",
	         (unsigned long long)(c->count - c->acked), (unsigned long long)c->count,
	         w->ack_timeout_ms);
	pthread_mutex_unlock(&w->lock);
	request_answer(&c->q, 504, NULL, NULL,
	               "{\"error\":\"the hub did not acknowledge the events in time\"}");
	conn_advance(c, 0);
}

/* submit_many() of the body. With an Idempotency-Key, a body of one event without an "id" is
 * submitted with the key as its id; an event's own id wins, and an array's events carry
 * their own (the header is for a single event). */
static int conn_submit_body(conn *c, char *err, size_t errlen, size_t *count)
{
	webhook *w = c->w;
	const char *body = c->q.body ? c->q.body : "";
	json_t *event;
	char *with_id;
	int rc;

	if (!c->q.idem[0] || !(event = json_loadb(body, c->q.len, JSON_REJECT_DUPLICATES, NULL)))
		return w->api->submit_many(w->host, body, c->q.len, c->first, count, err, errlen);
	if (!json_is_object(event) || json_object_get(event, "id") ||
	    json_object_set_new(event, "id", json_string(c->q.idem)) != 0 ||
	    !(with_id = json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		json_decref(event);
		return w->api->submit_many(w->host, body, c->q.len, c->first, count, err, errlen);
	}
	json_decref(event);
	rc = w->api->submit_many(w->host, with_id, strlen(with_id), c->first, count, err, errlen);
	free(with_id);
	return rc;
}

/* The body is in and its signature checked: hand the events to the core. */
static void conn_submit(conn *c)
{
	webhook *w = c->w;
	char err[REQUEST_ERR_MAX];
	size_t count = 0;
	int rc, done = 0;

	/* Registered before the call: the core may acknowledge before submit_many() returns. */
	pthread_mutex_lock(&w->lock);
	c->first = w->next_tag;
	c->count = COUNT_UNKNOWN;
	c->acked = c->dropped = c->refused = 0;
	pending_add(w, c);
	pthread_mutex_unlock(&w->lock);

	err[0] = '\0';
	rc = conn_submit_body(c, err, sizeof err, &count);

	if (rc == HERALD_OK)
		conn_log(c, HERALD_LOG_DEBUG, "%zu event%s queued", count, count == 1 ? "" : "s");
	pthread_mutex_lock(&w->lock);
	if (rc == HERALD_OK) {
		c->count = count;
		w->next_tag += count;
		request_wait(&c->q);
		done = c->acked == c->count;
		if (done) {
			pending_remove(w, c);
			conn_acknowledged(c);
		}
	} else {
		pending_remove(w, c);
	}
	pthread_mutex_unlock(&w->lock);

	if (rc == HERALD_OK && !done) {
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->timer, conn_timeout,
		                 (lws_usec_t)w->ack_timeout_ms * LWS_US_PER_MS);
	} else if (rc == HERALD_EINVAL) {
		request_refuse_events(&c->q, err, count);
		conn_notes(c);
	} else if (rc == HERALD_EFULL) {
		conn_log(c, HERALD_LOG_INFO, "503: the ingest queue is full");
		request_unavailable(&c->q, "ingest queue full");
	} else if (rc != HERALD_OK) {
		conn_log(c, HERALD_LOG_WARN, "503: %s", w->api->strerror(rc));
		request_unavailable(&c->q, rc == HERALD_ESHUTDOWN ? "shutting down"
		                                                  : w->api->strerror(rc));
	}
	conn_advance(c, 0);
}

static int conn_rx(conn *c, const char *in, size_t len)
{
	int idle = c->q.state == REQUEST_HEAD && !c->q.head_len;
	int rc = request_feed(&c->q, in, len);

	conn_notes(c);
	if (rc < 0)
		return -1; /* a closing connection that does not stop sending */
	if (c->q.state == REQUEST_SUBMIT)
		conn_submit(c);
	else
		conn_advance(c, idle);
	return 0;
}

static int conn_write(conn *c)
{
	unsigned char buf[LWS_PRE + REQUEST_RENDER_MAX];
	int n;

	if (c->q.state == REQUEST_CLOSING && !c->shut) {
		/* The answer has left lws (its writable callbacks wait until a partial write is
		 * sent): shut the write side and drop what still comes until the peer closes. */
		c->shut = 1;
		shutdown(lws_get_socket_fd(c->wsi), SHUT_WR);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LINGER_SECS);
		webhook_maybe_quit(c->w);
		return 0;
	}
	if (c->q.state != REQUEST_ANSWER)
		return 0;
	n = request_render(&c->q, (char *)buf + LWS_PRE, REQUEST_RENDER_MAX);
	if (n < 0 || lws_write(c->wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW) != n)
		return -1;
	if (request_sent(&c->q))
		lws_callback_on_writable(c->wsi);
	else
		conn_advance(c, 0);
	webhook_maybe_quit(c->w);
	return 0;
}

/* Forgets the connection: it leaves the lists and its timer is cancelled. Idempotent. */
static void conn_cleanup(conn *c)
{
	webhook *w = c->w;

	if (!w)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_lock(&w->lock);
	pending_remove(w, c);
	pthread_mutex_unlock(&w->lock);
	lws_sul_cancel(&c->timer);
	request_free(&c->q);
	c->w = NULL;
	webhook_maybe_quit(w);
}

static void conn_adopt(webhook *w, conn *c, struct lws *wsi)
{
	c->w = w;
	c->wsi = wsi;
	/* Once: every request logs a line (at debug level), which would cost a getpeername()
	 * each. */
	lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
	request_init(&c->q, &w->cfg);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, IDLE_SECS);
}

/* --- the service thread ------------------------------------------------------------------ */

static void webhook_grace_over(lws_sorted_usec_list_t *sul)
{
	webhook *w = lws_container_of(sul, webhook, grace);
	w->quit = 1;
}

/* stop() was called: every request not answered yet gets a 503, then the thread ends. */
static void webhook_begin_stop(webhook *w)
{
	w->stop_seen = 1;
	w->cfg.stopping = 1;
	for (conn *c = w->conns; c; c = c->next) {
		if (!conn_busy(c) || c->q.state == REQUEST_ANSWER || c->q.state == REQUEST_CLOSING)
			continue;
		pthread_mutex_lock(&w->lock);
		pending_remove(w, c);
		pthread_mutex_unlock(&w->lock);
		lws_sul_cancel(&c->timer);
		conn_log(c, HERALD_LOG_INFO, "503: stopping");
		request_unavailable(&c->q, "shutting down");
		conn_advance(c, 0);
	}
	lws_sul_schedule(w->ctx, 0, &w->grace, webhook_grace_over, STOP_GRACE_US);
	webhook_maybe_quit(w);
}

/* Woken by ack() or stop(): answer the requests whose events are all acknowledged. */
static void webhook_wake(webhook *w)
{
	pthread_mutex_lock(&w->lock);
	for (conn *c = w->pending_head, *next; c; c = next) {
		next = c->pnext;
		if (c->acked == c->count) {
			pending_remove(w, c);
			conn_acknowledged(c);
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (atomic_load(&w->stopping) && !w->stop_seen)
		webhook_begin_stop(w);
}

static int webhook_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
	webhook *w = lws_context_user(lws_get_context(wsi));
	conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		if (!c)
			return -1;
		conn_adopt(w, c, wsi);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		if (!c || !c->w)
			return -1;
		return conn_rx(c, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (!c || !c->w)
			return -1;
		return conn_write(c);
	case LWS_CALLBACK_RAW_CLOSE:
		if (c)
			conn_cleanup(c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		webhook_wake(w);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols webhook_protocols[] = {
    {.name = "herald-webhook",
     .callback = webhook_callback,
     .per_session_data_size = sizeof(conn),
     .tx_packet_size = REQUEST_RENDER_MAX},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* --- lifecycle --------------------------------------------------------------------------- */

static void *webhook_run(void *arg)
{
	webhook *w = arg;

	while (!w->quit)
		if (lws_service(w->ctx, 0) < 0) {
			w->api->log(w->host, HERALD_LOG_ERROR,
			            "the HTTP server failed; no more events");
			break;
		}
	lws_sul_cancel(&w->grace);
	pthread_mutex_lock(&w->lock);
	w->live = 0;
	pthread_mutex_unlock(&w->lock);
	lws_context_destroy(w->ctx);
	w->ctx = NULL;
	return NULL;
}

static void webhook_destroy(void *self)
{
	webhook *w = self;
	if (!w)
		return;
	OPENSSL_cleanse(w->cfg.bearer_hash, sizeof w->cfg.bearer_hash);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static int webhook_create(herald_host *host, const herald_host_api *api, void **self)
{
	webhook *w = calloc(1, sizeof *w);
	const char *bearer = api->opt_string(host, "bearer_token");

	if (!w) {
		api->log(host, HERALD_LOG_ERROR, "cannot create: %s", api->strerror(HERALD_ENOMEM));
		return HERALD_ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	w->host = host;
	w->api = api;
	w->listen = api->opt_string(host, "listen");
	w->port = (int)api->opt_int(host, "port");
	w->cfg.path = api->opt_string(host, "path");
	w->cfg.hmac_key = api->opt_string(host, "hmac_secret");
	w->cfg.hmac_len = w->cfg.hmac_key ? strlen(w->cfg.hmac_key) : 0;
	w->cfg.max_body = (size_t)api->opt_int(host, "max_body");
	w->cfg.retry_after = (int)api->opt_int(host, "retry_after");
	w->ack_timeout_ms = (int)api->opt_int(host, "ack_timeout_ms");
	w->next_tag = 1;
	if (bearer) {
		w->cfg.has_bearer = 1;
		sha256(bearer, strlen(bearer), w->cfg.bearer_hash);
	}
	snprintf(w->challenge, sizeof w->challenge, "%s%s%s",
	         bearer ? "Bearer realm=\"herald\"" : "", bearer && w->cfg.hmac_key ? ", " : "",
	         w->cfg.hmac_key ? "HMAC-SHA256 header=\"X-Herald-Signature\"" : "");
	w->cfg.challenge = w->challenge;

	if (!w->cfg.path || w->cfg.path[0] != '/' || strcmp(w->cfg.path, HEALTHZ) == 0) {
		api->log(host, HERALD_LOG_ERROR,
		         "option `path` must start with / and differ from %s", HEALTHZ);
		goto fail;
	}
	if (!w->listen || !w->listen[0]) {
		api->log(host, HERALD_LOG_ERROR, "option `listen` must name an address");
		goto fail;
	}
	if (!bearer && !w->cfg.hmac_key && !api->opt_bool(host, "allow_unauthenticated")) {
		api->log(host, HERALD_LOG_ERROR,
		         "no credentials configured: set `bearer_token` and/or `hmac_secret` "
		         "(or `allow_unauthenticated: true` to accept anyone who can connect)");
		goto fail;
	}
	if (!bearer && !w->cfg.hmac_key)
		api->log(host, HERALD_LOG_WARN,
		         "allow_unauthenticated: anyone who reaches %s:%d may publish", w->listen,
		         w->port);
	*self = w;
	return HERALD_OK;
fail:
	webhook_destroy(w);
	return HERALD_ECONFIG;
}

static int webhook_start(void *self)
{
	webhook *w = self;
	struct lws_context_creation_info info;
	int any = strcmp(w->listen, "0.0.0.0") == 0 || strcmp(w->listen, "::") == 0, err;

	memset(&info, 0, sizeof info);
	info.port = w->port;
	info.iface = any ? NULL : w->listen;
	info.protocols = webhook_protocols;
	info.user = w;
	info.vhost_name = "webhook";
	/* Accepted connections are raw sockets of our protocol: request.c speaks HTTP. */
	info.options |= LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = webhook_protocols[0].name;
	if (!strchr(w->listen, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	w->ctx = lws_create_context(&info);
	if (!w->ctx) {
		w->api->log(w->host, HERALD_LOG_ERROR,
		            "cannot listen on %s port %d (address in use or not available?)",
		            w->listen, w->port);
		return HERALD_EIO;
	}
	w->live = 1;
	err = pthread_create(&w->thread, NULL, webhook_run, w);
	if (err) {
		char msg[128];
		w->api->log(w->host, HERALD_LOG_ERROR, "cannot start the HTTP thread: %s",
		            strerror_r(err, msg, sizeof msg));
		w->live = 0;
		lws_context_destroy(w->ctx);
		w->ctx = NULL;
		return HERALD_EIO;
	}
	w->api->log(w->host, HERALD_LOG_INFO, "accepting events on http://%s:%d%s", w->listen,
	            w->port, w->cfg.path);
	return HERALD_OK;
}

static void webhook_stop(void *self)
{
	webhook *w = self;

	atomic_store(&w->stopping, 1);
	pthread_mutex_lock(&w->lock);
	if (w->live)
		lws_cancel_service(w->ctx);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
}

/* Called on the core's thread for each event accepted by submit_many(). */
static void webhook_ack(void *self, uint64_t tag, int status)
{
	webhook *w = self;
	conn *c;

	pthread_mutex_lock(&w->lock);
	/* Requests are in tag order and acknowledgements come in it too: this finds the head. */
	for (c = w->pending_head; c && !(tag >= c->first && tag - c->first < c->count);
	     c = c->pnext)
		;
	if (c) {
		c->acked++;
		if (status == HERALD_EFORMAT)
			c->dropped++;
		else if (status != HERALD_OK)
			c->refused++;
		if (c->acked == c->count && w->live)
			lws_cancel_service(w->ctx);
	}
	pthread_mutex_unlock(&w->lock);
}

HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = {
    .abi = HERALD_PLUGIN_ABI,
    .size = sizeof(herald_plugin),
    .name = "webhook",
    .version = "1.0",
    .description = "events POSTed over HTTP, answered once the core has taken them",
    .options = webhook_options,
    .create = webhook_create,
    .start = webhook_start,
    .stop = webhook_stop,
    .destroy = webhook_destroy,
    .ack = webhook_ack,
};
