/* ws.c - see ws.h. One lws protocol serves both the HTTP endpoints and the WebSocket, because
 * browsers connect without naming a subprotocol. */
#define _GNU_SOURCE /* accept4 */
#include "ws.h"

#include <errno.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "clock.h"
#include "log.h"
#include "protocol.h"
#include "web/web_assets.h"

/* Bytes a token may take in the URL, with its NUL: one more than auth.c accepts, so that a
 * longer token is refused by auth_verify() with a reason rather than read as "no token". */
#define TOKEN_MAX (AUTH_MAX_TOKEN + 2)
_Static_assert(TOKEN_MAX < WS_CHUNK, "tokens are read into the scratch buffer");

/* How long a resume waits for this node to deliver the client's position (cluster mode: the
 * client saw it on a node that is ahead). */
#define WS_RESUME_WAIT_MS 10000

/* Seconds a closing connection has to take its queued notifications and close frame. */
#define WS_CLOSE_FLUSH_S 3
/* Close code for a token that expired (auth.close_on_expiry): refresh it, then reconnect. */
#define WS_CLOSE_TOKEN_EXPIRED 4001

/* Connections handed to lws per wake-up at most, once their first bytes arrived: lws inserts
 * each one's handshake timeout into a sorted list of those not yet upgraded, walking it, so
 * small batches whose requests are read before the next keep that list short (a storm of
 * 15,000: ~15% less CPU than batches of 256). And how long an accepted connection may stay
 * silent before it is closed (lws' own limit for a request's head, 10 s). See ws_accept. */
#define WS_ADOPT_BATCH 16
#define WS_SILENT_MS 10000

/* Per-connection state; lws allocates it (zeroed) as the session's user data. */
struct conn {
	ws *ws;
	struct lws *wsi;
	int64_t user_id;               /* set at the handshake */
	auth_claims claims;            /* of the token: expiry, allowed projects */
	lws_sorted_usec_list_t expiry; /* closes the connection at claims.exp */
	member *user_room;
	member **subs; /* project rooms joined */
	uint32_t n_subs, cap_subs;
	struct replay *replays; /* rooms whose history is being replayed, as the queue drains */
	uint32_t n_replays;

	notif **q; /* send queue: a ring of shared frames */
	uint32_t q_head, q_len, q_cap;
	size_t q_bytes;

	char *rx; /* a client message being reassembled from fragments */
	size_t rx_len, rx_cap;
	int rx_open; /* between a message's first fragment and its last */
	int rx_binary;
	double tokens; /* message rate limit: a token bucket */
	int64_t refilled_ms;
	int strikes;                /* messages refused in a row for the rate */
	int64_t active_ms;          /* the last message or pong: idle connections are closed */
	int64_t pinged_ms;          /* when the last ping was queued */
	struct conn *dprev, *dnext; /* ws->dirty, while dirty */
	int dirty;                  /* frames were queued since the last write: see ws_flush */

	int close_code;  /* non-zero: close with this code */
	int close_flush; /* ... after the queue is written */
	const char *close_reason;
	struct conn *prev, *next; /* ws->conns */
};

/* A resume in progress: room m's history after `after` goes out as the connection's queue
 * drains (never more than half its bound at a time), then the live stream follows. */
struct replay {
	member *m;
	log_id after;        /* the last position queued */
	int64_t deadline_ms; /* while the log is behind `after`: when to give up waiting */
};

struct ws {
	ws_env env;
	const herald_config *cfg; /* env.cfg */
	uv_loop_t loop;           /* the event loop: lws runs on it (a foreign libuv loop) */
	int loop_ready;
	int listen_fd;           /* server.listen:port, accepted here and adopted by lws */
	uv_poll_t listen_poll;   /* readable: connections wait to be accepted */
	uv_timer_t resume_timer; /* after running out of descriptors (ws_accept_resume) */
	int accept_paused;
	int destroying;
	/* Accepted connections whose first bytes have not arrived: an epoll set of their own
	 * (watched by the loop as one descriptor), the accept time of each by descriptor (0: not
	 * waiting), and a FIFO of (descriptor, accept time) by which the silent ones are closed. */
	int wait_ep;
	uv_poll_t wait_poll;
	int64_t *since;
	size_t n_since;
	struct ws_waiter {
		int fd;
		int64_t since;
	} * fifo;
	size_t fifo_head, fifo_len, fifo_cap;
	size_t n_waiting;        /* descriptors waiting now (the FIFO also holds adopted ones) */
	struct lws_vhost *vhost; /* "herald", which adopts them */
	struct lws_context *lws;
	unsigned char *scratch; /* LWS_PRE + WS_CHUNK bytes where frames are coalesced */
	notif *ping;            /* the ping frame every connection shares */
	struct conn *conns;     /* every established connection, a doubly linked list */
	int stopping;           /* handshakes are refused with 503 */
	int deadline_passed;    /* closing connections no longer wait for their queues */
	struct conn *dirty; /* connections with frames queued, written at the end of the round */
	struct lws *pending_wsi; /* the handshake just accepted, and its token's claims */
	auth_claims pending_claims;
	ws_stats stats;
};

/* --- HTTP ------------------------------------------------------------------------------ */

/* A complete HTTP/1.1 answer written raw, used on the upgrade path where lws' own status
 * answer is HTTP/1.0 (see LIBRARIES.md). The caller returns non-zero to close. */
static int http_refuse(struct lws *wsi, int status, const char *text, const char *extra)
{
	unsigned char buf[LWS_PRE + 512];
	char *p = (char *)buf + LWS_PRE;
	char body[96];
	int blen = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", text);
	int n = snprintf(p, 512,
	                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %d\r\n%sConnection: close\r\n\r\n%s",
	                 status, text, blen, extra ? extra : "", body);
	lws_write(wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_RAW);
	return 1;
}

/* Answer a plain HTTP request: headers, then the body in one write. */
static int http_answer_cors(struct lws *wsi, unsigned status, const char *type, const char *body,
                            size_t len, int cors)
{
	unsigned char head[LWS_PRE + 1024], *start = head + LWS_PRE, *p = start,
	                                    *end = head + sizeof head - 1;
	unsigned char *out;
	int n;

	if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (const unsigned char *)"no-store", 8, &p, end) ||
	    (cors &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
	                                 (const unsigned char *)"*", 1, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (!(out = malloc(LWS_PRE + len)))
		return -1;
	memcpy(out + LWS_PRE, body, len);
	n = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
	free(out);
	if (n != (int)len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_answer(struct lws *wsi, unsigned status, const char *type, const char *body,
                       size_t len)
{
	return http_answer_cors(wsi, status, type, body, len, 0);
}

static int http_json(struct lws *wsi, unsigned status, const char *body)
{
	return http_answer(wsi, status, "application/json", body, strlen(body));
}

/* A strong validator of an asset's bytes (FNV-1a), written into buf[24]. */
static const char *asset_etag(size_t i, char buf[24])
{
	uint64_t x = 0xcbf29ce484222325ull;

	for (size_t k = 0; k < web_assets[i].len; k++)
		x = (x ^ web_assets[i].data[k]) * 0x100000001b3ull;
	snprintf(buf, 24, "\"%016llx\"", (unsigned long long)x);
	return buf;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	                                   (const unsigned char *)value, (int)strlen(value), p,
	                                   end);
}

/* Serve a built-in browser file: the client module to any origin, the demo page under a CSP
 * that forbids inline scripts and styles; revalidated with its ETag. */
static int http_asset(struct lws *wsi, size_t i)
{
	static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
	                          "connect-src 'self'; img-src 'self'; base-uri 'none'; "
	                          "form-action 'none'; frame-ancestors 'none'";
	unsigned char head[LWS_PRE + 2048], *start = head + LWS_PRE, *p = start,
	                                    *end = head + sizeof head - 1;
	const web_asset *a = &web_assets[i];
	char etag_buf[24];
	const char *etag = asset_etag(i, etag_buf);
	int demo = strncmp(a->path, "/demo/", 6) == 0;
	char match[64] = "";
	unsigned status = 200;
	size_t len = a->len;
	unsigned char *out;
	int n;

	if (etag && lws_hdr_copy(wsi, match, sizeof match, WSI_TOKEN_HTTP_IF_NONE_MATCH) > 0 &&
	    strcmp(match, etag) == 0) {
		status = 304;
		len = 0;
	}
	if (lws_add_http_common_headers(wsi, status, a->content_type,
	                                status == 304 ? LWS_ILLEGAL_HTTP_CONTENT_LEN : len, &p,
	                                end) ||
	    add_header(wsi, "cache-control:", "no-cache", &p, end) ||
	    (etag && add_header(wsi, "etag:", etag, &p, end)) ||
	    add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
	    (demo ? add_header(wsi, "content-security-policy:", csp, &p, end)
	          : add_header(wsi, "access-control-allow-origin:", "*", &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (status == 304)
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	if (!(out = malloc(LWS_PRE + len)))
		return -1;
	memcpy(out + LWS_PRE, a->data, len);
	n = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
	free(out);
	if (n != (int)len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int ws_authenticate(ws *w, struct lws *wsi, auth_claims *claims, char *why, size_t whylen);

/* A plain GET of the WebSocket path: 403 when the handshake would refuse its ?token=, else 426.
 * Browsers cannot read the status of a refused WebSocket handshake, so clients ask this way to
 * tell a bad token from a network failure; any origin may read the answer. */
static int http_ws_path(ws *w, struct lws *wsi)
{
	static const char upgrade[] = "{\"error\":\"WebSocket upgrade required\"}\n";
	static const char refused[] = "{\"error\":\"invalid or expired token\"}\n";
	auth_claims claims = {0};
	char why[128];

	if (ws_authenticate(w, wsi, &claims, why, sizeof why) != 0)
		return http_answer_cors(wsi, 403, "application/json", refused, sizeof refused - 1,
		                        1);
	auth_claims_free(&claims);
	return http_answer_cors(wsi, 426, "application/json", upgrade, sizeof upgrade - 1, 1);
}

/* 1 when wsi came through the separate listener of /metrics and /healthz. */
static int ws_is_metrics_vhost(struct lws *wsi)
{
	return strcmp(lws_get_vhost_name(lws_get_vhost(wsi)), "herald-metrics") == 0;
}

static int http_request(ws *w, struct lws *wsi, const char *path)
{
	char body[256];
	int metrics_here = w->cfg->metrics_listen[0] ? ws_is_metrics_vhost(wsi) : 1;

	/* With server.metrics_listen, /metrics and /healthz are served there only ("off":
	 * nowhere), and that listener serves nothing else. */
	if (!metrics_here && (strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0))
		return http_json(wsi, 404, "{\"error\":\"not found\"}\n");
	if (w->cfg->metrics_listen[0] && metrics_here && strcmp(path, "/healthz") != 0 &&
	    strcmp(path, "/metrics") != 0)
		return http_json(wsi, 404, "{\"error\":\"not found\"}\n");

	if (strcmp(path, "/healthz") == 0) {
		int status = w->env.health(w->env.arg, body, sizeof body);
		return http_json(wsi, (unsigned)status, body);
	}
	if (strcmp(path, "/metrics") == 0) {
		size_t len;
		char *text = w->env.metrics(w->env.arg, &len);
		int rc = text ? http_answer(wsi, 200, "text/plain; version=0.0.4", text, len)
		              : http_json(wsi, 500, "{\"error\":\"out of memory\"}\n");
		free(text);
		return rc;
	}
	if (strcmp(path, "/favicon.ico") == 0) /* browsers ask; there is none */
		return http_answer(wsi, 204, "text/plain", "", 0);
	if (w->cfg->demo && strcmp(path, "/demo") == 0) {
		unsigned char head[LWS_PRE + 512], *p = head + LWS_PRE,
		                                   *end = head + sizeof head - 1;
		if (lws_http_redirect(wsi, 301, (const unsigned char *)"/demo/", 6, &p, end) < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	for (size_t i = 0; i < web_assets_count; i++)
		if (strcmp(path, web_assets[i].path) == 0 &&
		    (w->cfg->demo || strncmp(path, "/demo/", 6) != 0))
			return http_asset(wsi, i);
	if (strcmp(path, w->cfg->ws_path) == 0)
		return http_ws_path(w, wsi);
	return http_json(wsi, 404, "{\"error\":\"not found\"}\n");
}

/* --- the handshake ---------------------------------------------------------------------- */

/* Verify the token in the request's URL into *claims; 0, or an error with the reason in why. */
static int ws_authenticate(ws *w, struct lws *wsi, auth_claims *claims, char *why, size_t whylen)
{
	char *buf = (char *)w->scratch + LWS_PRE; /* TOKEN_MAX < WS_CHUNK; one loop thread */
	const char *token = lws_get_urlarg_by_name(wsi, "token=", buf, TOKEN_MAX);
	int rc = HERALD_EINVAL;

	/* NULL also when the value does not fit the buffer. */
	if (!token)
		snprintf(why, whylen, "no token (or longer than %d bytes)", TOKEN_MAX - 1);
	else
		rc = auth_verify(w->env.auth, token, time(NULL), claims, why, whylen);
	memset(buf, 0, TOKEN_MAX);
	return rc;
}

/* 1 when the request has no Origin header or one of server.allowed_origins. */
static int origin_allowed(ws *w, struct lws *wsi, char *origin, size_t len)
{
	if (!w->cfg->n_allowed_origins || lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return 1;
	if (lws_hdr_copy(wsi, origin, (int)len, WSI_TOKEN_ORIGIN) <= 0)
		return 0;
	for (size_t i = 0; i < w->cfg->n_allowed_origins; i++)
		if (strcmp(origin, w->cfg->allowed_origins[i]) == 0)
			return 1;
	return 0;
}

/* 1 when `ip` is one of server.trusted_proxies. */
static int ws_trusted(const ws *w, const char *ip)
{
	for (size_t i = 0; i < w->cfg->n_trusted_proxies; i++)
		if (strcmp(ip, w->cfg->trusted_proxies[i]) == 0)
			return 1;
	return 0;
}

/* The client's address into buf[len]: the peer's, or, when the peer is a trusted proxy, the
 * nearest address of X-Forwarded-For that is not a trusted proxy (read right to left, so a
 * client cannot pose as another by writing the header itself). */
static const char *ws_remote(ws *w, struct lws *wsi, char *buf, size_t len)
{
	char xff[512];

	lws_get_peer_simple(wsi, buf, len);
	if (!w->cfg->n_trusted_proxies || !ws_trusted(w, buf) ||
	    lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) <= 0)
		return buf;
	for (;;) {
		char *comma = strrchr(xff, ','), *item = comma ? comma + 1 : xff, *end;

		while (*item == ' ')
			item++;
		for (end = item + strlen(item); end > item && end[-1] == ' ';)
			*--end = '\0';
		if (*item && !ws_trusted(w, item)) {
			snprintf(buf, len, "%s", item);
			return buf;
		}
		if (!comma)
			return buf;
		*comma = '\0';
	}
}

/* One log line for a refused handshake, with its fields (JSON logs carry them as keys). */
static int ws_refused(ws *w, struct lws *wsi, int reason, int status, const char *extra,
                      int64_t user, const char *why)
{
	static const char *const texts[] = {[403] = "Forbidden",
	                                    [404] = "Not Found",
	                                    [429] = "Too Many Requests",
	                                    [503] = "Service Unavailable"};
	char remote[128];
	log_field kv[] = {LOG_STR("remote", ws_remote(w, wsi, remote, sizeof remote)),
	                  LOG_INT("code", status), LOG_INT("user", user)};

	if (reason >= 0)
		w->stats.refused[reason]++;
	LOG_FIELDS(HERALD_LOG_INFO, kv, "handshake from %s refused (%d): %s", remote, status, why);
	return http_refuse(wsi, status, texts[status], extra);
}

/* Refuse the upgrade with an HTTP status, or accept it and keep the claims for
 * LWS_CALLBACK_ESTABLISHED: lws allocates the session's data only after this callback. */
static int ws_handshake(ws *w, struct lws *wsi)
{
	char path[512], why[128], origin[256] = "", text[160];
	auth_claims claims = {0};
	const room *r;

	if (ws_is_metrics_vhost(wsi) ||
	    lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(path, w->cfg->ws_path) != 0)
		return http_refuse(wsi, 404, "Not Found", NULL);
	if (w->stopping || w->stats.connections >= (size_t)w->cfg->max_connections)
		return ws_refused(w, wsi, REFUSE_FULL, 503, "Retry-After: 5\r\n", 0,
		                  w->stopping ? "shutting down" : "server full");
	if (!origin_allowed(w, wsi, origin, sizeof origin)) {
		snprintf(text, sizeof text, "origin %.120s not allowed", origin);
		return ws_refused(w, wsi, REFUSE_ORIGIN, 403, NULL, 0, text);
	}
	if (ws_authenticate(w, wsi, &claims, why, sizeof why) != 0)
		return ws_refused(w, wsi, REFUSE_AUTH, 403, NULL, 0, why);
	r = rooms_find(w->env.rooms, ROOM_USER, claims.user_id);
	if (w->cfg->max_connections_per_user && r &&
	    r->count >= (size_t)w->cfg->max_connections_per_user) {
		snprintf(text, sizeof text, "the user has %zu connections", r->count);
		auth_claims_free(&claims);
		return ws_refused(w, wsi, REFUSE_USER_LIMIT, 429, "Retry-After: 5\r\n",
		                  claims.user_id, text);
	}
	auth_claims_free(&w->pending_claims);
	w->pending_claims = claims;
	w->pending_wsi = wsi;
	return 0;
}

/* --- sending ---------------------------------------------------------------------------- */

static notif *conn_pop(struct conn *c);

static void conn_close(struct conn *c, int code, const char *reason, int flush)
{
	if (c->close_code)
		return;
	c->close_code = code;
	c->close_reason = reason;
	c->close_flush = flush;
	/* Closed without its queue: the close frame is the next thing written, and the memory
	 * goes now, not when the reader comes back. */
	while (!flush && c->q_len)
		notif_unref(conn_pop(c));
	lws_callback_on_writable(c->wsi);
	/* Every close has a deadline: a reader that stopped reading may never be writable again.
	 * It gets WS_CLOSE_FLUSH_S to take its close frame (after the queued notifications when
	 * they go first); then it is dropped. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, WS_CLOSE_FLUSH_S);
}

static void conn_arm_expiry(ws *w, struct conn *c);

/* The expiry timer fired: close, or wait again when it fired early (delays are capped). */
static void conn_expired(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, expiry);

	if (c->claims.exp > (int64_t)time(NULL))
		return conn_arm_expiry(c->ws, c);
	c->ws->stats.disconnects[DISC_EXPIRED]++;
	conn_close(c, WS_CLOSE_TOKEN_EXPIRED, "token expired", 0);
}

/* With auth.close_on_expiry, (re)arm the timer that closes the connection at its token's exp. */
static void conn_arm_expiry(ws *w, struct conn *c)
{
	if (!w->cfg->auth_close_on_expiry)
		return;
	lws_sul_schedule(w->lws, 0, &c->expiry, conn_expired,
	                 auth_expiry_delay_us(c->claims.exp, time(NULL)));
}

static void observe(ws *w, const notif *n, int64_t now_ns);
static int conn_writable(ws *w, struct conn *c);

static void conn_send(ws *w, struct conn *c, notif *n)
{
	if (c->close_code)
		return;
	if (c->q_bytes + n->len > (size_t)w->cfg->send_queue_bytes) {
		w->stats.disconnects[DISC_SLOW]++;
		LOG_WARN("user %lld: send queue over %d bytes, disconnecting",
		         (long long)c->user_id, w->cfg->send_queue_bytes);
		conn_close(c, WS_CLOSE_RECONNECT, "send queue full, reconnect", 0);
		return;
	}
	/* A full write's worth is queued: it leaves now rather than at the end of the round, so
	 * a burst to one connection waits for its socket (not for the round) and a connection
	 * holds at most one write's worth that its socket could take. */
	if (c->q_len && c->q_bytes + n->len > WS_CHUNK && !c->n_replays &&
	    !lws_partial_buffered(c->wsi) && conn_writable(w, c) < 0) {
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
		return;
	}
	if (c->q_len == c->q_cap) {
		uint32_t cap = c->q_cap ? c->q_cap * 2 : 8;
		notif **q = malloc(cap * sizeof *q);
		if (!q) {
			conn_close(c, WS_CLOSE_RECONNECT, "out of memory, reconnect", 0);
			return;
		}
		for (uint32_t i = 0; i < c->q_len; i++)
			q[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = q;
		c->q_head = 0;
		c->q_cap = cap;
	}
	c->q[(c->q_head + c->q_len) % c->q_cap] = notif_ref(n);
	c->q_len++;
	c->q_bytes += n->len;
	if (n->ingest_ns)
		w->stats.deliveries++; /* a notification, not an error reply */
	if (!c->dirty) {
		/* Written at the end of this round of the loop (ws_flush), with whatever else the
		 * round queues for it. */
		c->dirty = 1;
		c->dprev = NULL;
		c->dnext = w->dirty;
		if (w->dirty)
			w->dirty->dprev = c;
		w->dirty = c;
	}
}

static void conn_undirty(ws *w, struct conn *c)
{
	if (!c->dirty)
		return;
	if (c->dprev)
		c->dprev->dnext = c->dnext;
	else
		w->dirty = c->dnext;
	if (c->dnext)
		c->dnext->dprev = c->dprev;
	c->dirty = 0;
}

/* Count the ingest-to-write latency of a frame that reached the socket. */
static void observe(ws *w, const notif *n, int64_t now_ns)
{
	static const double bounds[WS_LATENCY_BUCKETS] = WS_LATENCY_BOUNDS;
	double s;
	int i = 0;

	if (!n->ingest_ns)
		return; /* not a notification (an error reply) */
	s = (double)(now_ns - n->ingest_ns) / 1e9;
	while (i < WS_LATENCY_BUCKETS && s > bounds[i])
		i++;
	w->stats.latency[i]++;
	w->stats.latency_count++;
	w->stats.latency_sum += s;
}

static notif *conn_pop(struct conn *c)
{
	notif *n = c->q[c->q_head];
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_len--;
	c->q_bytes -= n->len;
	return n;
}

static void conn_fill(ws *w, struct conn *c);

/* Write the close frame (code and reason) ourselves, like every other frame, then let lws
 * close the connection: lws on a libuv loop drops a connection closed from the writeable
 * callback without sending the close frame lws_close_reason() prepared. */
static int conn_write_close(struct conn *c)
{
	unsigned char frame[LWS_PRE + 4 + 123], *p = frame + LWS_PRE;
	size_t len = strnlen(c->close_reason ? c->close_reason : "", 123);

	p[0] = 0x88; /* FIN, close */
	p[1] = (unsigned char)(2 + len);
	p[2] = (unsigned char)(c->close_code >> 8);
	p[3] = (unsigned char)c->close_code;
	memcpy(p + 4, c->close_reason ? c->close_reason : "", len);
	lws_write(c->wsi, p, 4 + len, LWS_WRITE_RAW);
	return -1;
}

/* Write queued frames: several whole frames per write (they are complete WebSocket frames, so
 * LWS_WRITE_RAW sends them unchanged), or one large frame in place. */
static int conn_writable(ws *w, struct conn *c)
{
	unsigned char *out = w->scratch + LWS_PRE;
	size_t len = 0;
	int64_t now = clock_mono_ns();
	int rc;

	if (c->close_code && (!c->close_flush || !c->q_len || w->deadline_passed)) {
		if (lws_partial_buffered(c->wsi)) { /* lws still holds part of a write */
			lws_callback_on_writable(c->wsi);
			return 0;
		}
		return conn_write_close(c);
	}
	if (c->n_replays && c->q_bytes < (size_t)w->cfg->send_queue_bytes / 2)
		conn_fill(w, c);
	if (!c->q_len)
		return 0;
	if (c->q[c->q_head]->len > WS_CHUNK) {
		notif *n = conn_pop(c);
		rc = lws_write(c->wsi, n->frame, n->len, LWS_WRITE_RAW);
		observe(w, n, now);
		notif_unref(n);
	} else {
		while (c->q_len && len + c->q[c->q_head]->len <= WS_CHUNK) {
			notif *n = conn_pop(c);
			memcpy(out + len, n->frame, n->len);
			len += n->len;
			observe(w, n, now);
			notif_unref(n);
		}
		rc = lws_write(c->wsi, out, len, LWS_WRITE_RAW);
	}
	if (rc < 0)
		return -1;
	if (c->q_len || c->close_code || c->n_replays)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* The end of a round of the loop: write what the round queued, one write per connection (up to
 * WS_CHUNK bytes of frames, the rest through the writeable callback). No round trip through
 * lws' writeable callback (and its poll changes) for a connection lws holds nothing for. */
static void ws_flush(ws *w)
{
	int64_t start = w->dirty ? clock_mono_ns() : 0;

	while (w->dirty) {
		struct conn *c = w->dirty;

		conn_undirty(w, c);
		if (!c->q_len)
			continue;
		if (c->close_code || c->n_replays || lws_partial_buffered(c->wsi))
			lws_callback_on_writable(c->wsi); /* the usual way */
		else if (conn_writable(w, c) < 0)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	}
	if (start)
		w->stats.flush_ns = clock_mono_ns() - start;
}

void ws_deliver(ws *w, const room *r, notif *n, int64_t exclude)
{
	for (member *m = r->head; m; m = m->next) {
		if (m->conn->user_id == exclude)
			continue;
		if (m->replaying) /* it comes through the replay, in order */
			lws_callback_on_writable(m->conn->wsi);
		else if (log_id_cmp(n->id, m->skip_until) > 0)
			conn_send(w, m->conn, n);
	}
}

static void ws_close_silent(ws *w, int64_t now_ms);

void ws_sweep(ws *w)
{
	int64_t now = lws_now_usecs() / 1000, ping = w->cfg->ping_interval * 1000LL;

	ws_close_silent(w, clock_mono_ns() / 1000000);
	int64_t idle_before = now - w->cfg->idle_timeout * 1000LL;

	for (struct conn *c = w->conns; c; c = c->next) {
		if (c->close_code)
			continue;
		if (c->active_ms < idle_before) {
			LOG_DEBUG("user %lld: silent for %d s, closing", (long long)c->user_id,
			          w->cfg->idle_timeout);
			/* Silent for that long, it takes no close frame either. */
			c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
			c->close_reason = "idle";
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
		} else if (now - c->active_ms >= ping && now - c->pinged_ms >= ping) {
			c->pinged_ms = now;
			conn_send(w, c, w->ping);
		}
	}
}

void ws_close_all(ws *w, int code)
{
	for (struct conn *c = w->conns; c; c = c->next)
		conn_close(c, code, "server shutting down", 1);
}

/* --- client messages -------------------------------------------------------------------- */

/* {"type":"error","message":...,"code":...} and, for an error about a project, its
 * "project_id" so the client can tell which subscription was refused (0: none). */
static void reply_error(ws *w, struct conn *c, const char *code, const char *message,
                        int64_t project)
{
	char text[384], id[48] = "";
	int n;
	notif *f;

	if (project)
		snprintf(id, sizeof id, ",\"project_id\":%lld", (long long)project);
	n = snprintf(text, sizeof text, "{\"type\":\"error\",\"message\":\"%s\",\"code\":\"%s\"%s}",
	             message, code, id);
	if (n > 0 && (size_t)n < sizeof text && (f = notif_frame(text, (size_t)n))) {
		conn_send(w, c, f);
		notif_unref(f);
	}
}

static void conn_resume_failed(ws *w, struct conn *c, const room *r, const char *reason)
{
	char text[160];
	notif *f;

	snprintf(text, sizeof text,
	         "{\"type\":\"resume_failed\",\"room\":\"%s_%lld\",\"reason\":\"%s\"}",
	         r->kind == ROOM_USER ? "user" : "project", (long long)r->id, reason);
	if ((f = notif_frame(text, strlen(text)))) {
		conn_send(w, c, f);
		notif_unref(f);
	}
}

/* Queue one replayed notification, or refuse it (non-zero) while the queue is half full. */
static int replay_one(notif *n, void *arg)
{
	struct conn *c = arg;
	size_t limit = (size_t)c->ws->cfg->send_queue_bytes;

	if (c->close_code || (c->q_len && c->q_bytes + n->len > limit / 2))
		return 1;
	if (n->exclude != c->user_id)
		conn_send(c->ws, c, n);
	return 0;
}

static void replay_end(struct conn *c, uint32_t i)
{
	c->replays[i].m->replaying = 0;
	c->replays[i] = c->replays[--c->n_replays];
}

/* Move the replays on as far as the queue allows; a replay that reached the end of the
 * history while the log has delivered its position hands over to the live stream. */
static void conn_fill(ws *w, struct conn *c)
{
	int64_t now = clock_real_ms();

	for (uint32_t i = 0; i < c->n_replays && !c->close_code;) {
		struct replay *rp = &c->replays[i];
		const room *r = rp->m->room;
		int rc = rooms_replay(w->env.rooms, r->kind, r->id, &rp->after, now, replay_one, c);
		int state = nlog_behind(w->env.log, rp->m->skip_until);

		if (rc == ROOMS_REPLAY_MORE)
			return; /* the queue is half full: more when it drains */
		if (rc == ROOMS_REPLAY_GAP || state == NLOG_MISSED) {
			conn_resume_failed(w, c, r, "expired");
		} else if (state == NLOG_BEHIND && now < rp->deadline_ms) {
			i++; /* the log has not delivered the client's position here yet: wait */
			continue;
		} else if (state == NLOG_BEHIND) {
			/* Given up; what the client has (up to skip_until) is still never sent. */
			conn_resume_failed(w, c, r, "unavailable");
		}
		replay_end(c, i);
	}
}

/* Resume room m after position `since`, or tell the client why it cannot be had:
 * {"type":"resume_failed","room":...,"reason":"expired"|"reset"|"invalid"|"unavailable"}. */
static void conn_resume(ws *w, struct conn *c, member *m, const char *since)
{
	static const char *const reasons[] = {[POS_INVALID] = "invalid", [POS_RESET] = "reset"};
	log_id after;
	int rc = pos_parse(since, w->env.log->epoch, &after);
	struct replay *grown;

	if (rc)
		return conn_resume_failed(w, c, m->room, reasons[rc]);
	grown = realloc(c->replays, (c->n_replays + 1) * sizeof *c->replays);
	if (!grown)
		return conn_resume_failed(w, c, m->room, "unavailable");
	c->replays = grown;
	c->replays[c->n_replays++] = (struct replay){
	    .m = m, .after = after, .deadline_ms = clock_real_ms() + WS_RESUME_WAIT_MS};
	m->replaying = 1;
	m->skip_until = after;
	/* One thread: nothing is delivered between the join, the replay and the live stream. */
	conn_fill(w, c);
	if (c->q_len)
		lws_callback_on_writable(c->wsi);
}

/* A membership leaves: so does its replay. */
static void conn_forget_replay(struct conn *c, const member *m)
{
	for (uint32_t i = 0; i < c->n_replays; i++)
		if (c->replays[i].m == m)
			return replay_end(c, i);
}

static uint32_t conn_find_sub(const struct conn *c, int64_t project)
{
	uint32_t i = 0;
	while (i < c->n_subs && c->subs[i]->room->id != project)
		i++;
	return i;
}

static int id_order(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* subscriptions.policy: may this connection's user hear `project`? */
static int conn_may_subscribe(ws *w, struct conn *c, int64_t project)
{
	char err[256];
	int rc;

	switch (w->cfg->sub_policy) {
	case SUB_CLAIM:
		return c->claims.n_projects &&
		       bsearch(&project, c->claims.projects, c->claims.n_projects, sizeof project,
		               id_order) != NULL;
	case SUB_LUA:
		rc = formatter_authorize(w->env.fmt, c->user_id, project, err, sizeof err);
		if (rc < 0)
			LOG_WARN("subscription of user %lld to project %lld refused: %s",
			         (long long)c->user_id, (long long)project, err);
		return rc == 1;
	default:
		return 1;
	}
}

static void conn_subscribe(ws *w, struct conn *c, int64_t project, const char *since)
{
	const room *r;
	member *m;

	if (conn_find_sub(c, project) < c->n_subs)
		return; /* already a member: harmless */
	if (!conn_may_subscribe(w, c, project))
		return reply_error(w, c, "forbidden", "you may not subscribe to this project",
		                   project);
	if (c->n_subs >= (uint32_t)w->cfg->max_subscriptions)
		return reply_error(w, c, "too_many_subscriptions",
		                   "this connection has reached its subscription limit", project);
	r = rooms_find(w->env.rooms, ROOM_PROJECT, project);
	if (r && r->count >= (size_t)w->cfg->max_room_members)
		return reply_error(w, c, "room_full", "this project room is full", project);
	if (c->n_subs == c->cap_subs) {
		uint32_t cap = c->cap_subs ? c->cap_subs * 2 : 4;
		member **subs = realloc(c->subs, cap * sizeof *subs);
		if (!subs)
			return reply_error(w, c, "internal", "out of memory", project);
		c->subs = subs;
		c->cap_subs = cap;
	}
	if (rooms_join(w->env.rooms, ROOM_PROJECT, project, c, &m) != 0)
		return reply_error(w, c, "internal", "out of memory", project);
	c->subs[c->n_subs++] = m;
	w->stats.subscriptions++;
	/* One thread: nothing is delivered between the replay and the live stream. */
	if (since)
		conn_resume(w, c, m, since);
}

static void conn_unsubscribe(ws *w, struct conn *c, int64_t project)
{
	uint32_t i = conn_find_sub(c, project);
	if (i == c->n_subs)
		return; /* not a member: harmless */
	conn_forget_replay(c, c->subs[i]);
	rooms_leave(w->env.rooms, c->subs[i]);
	c->subs[i] = c->subs[--c->n_subs];
	w->stats.subscriptions--;
}

/* A new token of the same user replaces the connection's claims (expiry, allowed projects);
 * rooms already joined are kept. */
static void conn_refresh(ws *w, struct conn *c, const char *token)
{
	auth_claims claims = {0};
	char why[128];

	if (auth_verify(w->env.auth, token, time(NULL), &claims, why, sizeof why) != 0 ||
	    claims.user_id != c->user_id) {
		LOG_INFO("user %lld: token refresh refused: %s", (long long)c->user_id,
		         claims.user_id && claims.user_id != c->user_id ? "another user's token"
		                                                        : why);
		auth_claims_free(&claims);
		return reply_error(w, c, proto_error_code(PROTO_INVALID_TOKEN),
		                   proto_error_message(PROTO_INVALID_TOKEN), 0);
	}
	auth_claims_free(&c->claims);
	c->claims = claims;
	conn_arm_expiry(w, c);
}

static void conn_message(ws *w, struct conn *c, const char *in, size_t len)
{
	proto_msg m;
	int why = 0;

	if (proto_parse(in, len, &m, &why) != 0)
		return reply_error(w, c, proto_error_code(why), proto_error_message(why), 0);
	for (size_t i = 0; i < m.n_ids; i++)
		if (m.type == PROTO_SUBSCRIBE)
			conn_subscribe(w, c, m.ids[i], m.since ? m.since[i] : NULL);
		else
			conn_unsubscribe(w, c, m.ids[i]);
	if (m.type == PROTO_REFRESH)
		conn_refresh(w, c, m.token);
	proto_msg_free(&m);
}

/* server.message_rate: take one token from the connection's bucket, refilled at the rate. */
static int conn_rate_ok(ws *w, struct conn *c)
{
	int64_t now = lws_now_usecs() / 1000;
	double burst = w->cfg->message_burst;

	if (!w->cfg->message_rate)
		return 1;
	c->tokens += (double)(now - c->refilled_ms) * w->cfg->message_rate / 1000.0;
	if (c->tokens > burst)
		c->tokens = burst;
	c->refilled_ms = now;
	if (c->tokens < 1)
		return 0;
	c->tokens -= 1;
	c->strikes = 0;
	return 1;
}

/* Append to the message being reassembled. The buffer only grows, never to zero bytes (a
 * zero-length realloc frees the block), and never past server.max_message_size. */
static int conn_rx_append(struct conn *c, const char *in, size_t len, size_t max)
{
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 256;
		char *rx;

		while (cap < c->rx_len + len)
			cap *= 2;
		if (cap > max)
			cap = max; /* the caller checked that rx_len + len <= max */
		if (!(rx = realloc(c->rx, cap)))
			return HERALD_ENOMEM;
		c->rx = rx;
		c->rx_cap = cap;
	}
	if (len)
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	return 0;
}

/* Reassemble fragments into whole messages, refusing any over the size limit. lws hands a
 * message over in pieces (fragments, and parts of a frame larger than the receive buffer);
 * `rx_open` says whether a piece continues a message, whatever the pieces' lengths. */
static int conn_receive(ws *w, struct conn *c, struct lws *wsi, const char *in, size_t len)
{
	size_t max = (size_t)w->cfg->max_message_size;
	int last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);

	c->active_ms = lws_now_usecs() / 1000;
	if (c->close_code)
		return 0; /* closing: what it still sends is not read */

	if (!c->rx_open)
		c->rx_binary = lws_frame_is_binary(wsi);
	if (c->rx_len + len > max) {
		static const char reason[] = "message too big";
		w->stats.disconnects[DISC_TOO_BIG]++;
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason,
		                 sizeof reason - 1);
		return -1;
	}
	if (!last || c->rx_open) {
		if (conn_rx_append(c, in, len, max) != 0)
			return -1;
		c->rx_open = !last;
		if (!last)
			return 0;
		in = c->rx;
		len = c->rx_len;
	}
	if (!conn_rate_ok(w, c)) {
		if (++c->strikes >= w->cfg->message_burst) {
			/* After the answers already queued for it. */
			w->stats.disconnects[DISC_RATE]++;
			conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many messages", 1);
		} else {
			reply_error(w, c, "rate_limited", "too many messages: slow down", 0);
		}
	} else if (c->rx_binary) {
		reply_error(w, c, "unsupported", "binary messages are not supported", 0);
	} else {
		conn_message(w, c, in ? in : "", len);
	}
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
	return 0;
}

/* --- connection lifetime ---------------------------------------------------------------- */

static int conn_open(ws *w, struct conn *c, struct lws *wsi)
{
	char why[128];
	const char *since;

	/* ESTABLISHED follows CONFIRM_UPGRADE in the same read of the request, so the pending
	 * claims are this connection's; verifying again covers any other order. */
	if (w->pending_wsi == wsi) {
		c->claims = w->pending_claims;
		w->pending_claims = (auth_claims){0};
	} else if (ws_authenticate(w, wsi, &c->claims, why, sizeof why) != 0) {
		return -1;
	}
	w->pending_wsi = NULL;
	c->user_id = c->claims.user_id;
	if (rooms_join(w->env.rooms, ROOM_USER, c->user_id, c, &c->user_room) != 0) {
		auth_claims_free(&c->claims);
		return -1;
	}
	c->ws = w;
	c->wsi = wsi;
	c->tokens = w->cfg->message_burst;
	c->refilled_ms = c->active_ms = lws_now_usecs() / 1000;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->stats.connections++;
	w->stats.connections_total++;
	conn_arm_expiry(w, c);
	LOG_DEBUG("user %lld connected (%zu open)", (long long)c->user_id, w->stats.connections);
	/* The buffer must hold every argument it walks past, the token included. */
	since = lws_get_urlarg_by_name(wsi, "since=", (char *)w->scratch + LWS_PRE, TOKEN_MAX);
	if (since) {
		char pos[POS_MAX];
		snprintf(pos, sizeof pos, "%s", since);
		memset(w->scratch + LWS_PRE, 0, TOKEN_MAX);
		conn_resume(w, c, c->user_room, pos);
	}
	return 0;
}

static void conn_free(ws *w, struct conn *c)
{
	if (!c->wsi)
		return; /* never established */
	lws_sul_cancel(&c->expiry);
	auth_claims_free(&c->claims);
	for (uint32_t i = 0; i < c->n_subs; i++)
		rooms_leave(w->env.rooms, c->subs[i]);
	w->stats.subscriptions -= c->n_subs;
	rooms_leave(w->env.rooms, c->user_room);
	conn_undirty(w, c);
	while (c->q_len)
		notif_unref(conn_pop(c));
	free(c->q);
	free(c->subs);
	free(c->replays);
	free(c->rx);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->stats.connections--;
	LOG_DEBUG("user %lld disconnected (%zu open)", (long long)c->user_id, w->stats.connections);
	c->wsi = NULL;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
	ws *w = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (!in || strcasecmp(in, "websocket") != 0)
			return http_refuse(wsi, 400, "Bad Request", NULL);
		return ws_handshake(w, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return conn_open(w, c, wsi);
	case LWS_CALLBACK_RECEIVE:
		return conn_receive(w, c, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return conn_writable(w, c);
	case LWS_CALLBACK_RECEIVE_PONG:
		c->active_ms = lws_now_usecs() / 1000;
		return 0;
	case LWS_CALLBACK_CLOSED:
		conn_free(w, c);
		return 0;
	case LWS_CALLBACK_HTTP:
		return http_request(w, wsi, in ? in : "");
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		w->env.wake(w->env.arg);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
    {.name = "herald",
     .callback = ws_callback,
     .per_session_data_size = sizeof(struct conn),
     /* lws gives every connection a receive buffer of this size: clients send small
      * messages (larger ones arrive in pieces, reassembled by conn_receive). */
     .rx_buffer_size = 512,
     .tx_packet_size = WS_CHUNK},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void ws_log(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	log_emit(level == LLL_ERR ? HERALD_LOG_ERROR : HERALD_LOG_WARN, "lws", "%.*s", (int)n,
	         line);
}

/* The second listener, of /metrics and /healthz only: server.metrics_listen "HOST:PORT". */
static int ws_listen_metrics(ws *w, struct lws_context_creation_info *info, char *err,
                             size_t errlen)
{
	char host[128];
	const char *colon = strrchr(w->cfg->metrics_listen, ':');
	long port = colon ? strtol(colon + 1, NULL, 10) : 0;

	if (!colon || port < 1 || port > 65535 ||
	    (size_t)(colon - w->cfg->metrics_listen) >= sizeof host) {
		snprintf(err, errlen, "server.metrics_listen: \"%s\" is not HOST:PORT",
		         w->cfg->metrics_listen);
		return HERALD_ECONFIG;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - w->cfg->metrics_listen),
	         w->cfg->metrics_listen);
	info->port = (int)port;
	info->iface = strcmp(host, "0.0.0.0") == 0 ? NULL : host;
	info->vhost_name = "herald-metrics";
	if (!lws_create_vhost(w->lws, info)) {
		snprintf(err, errlen, "cannot listen on %s for /metrics and /healthz",
		         w->cfg->metrics_listen);
		return HERALD_EIO;
	}
	return 0;
}

static void ws_accept(uv_poll_t *h, int status, int events);
static void ws_accept_resume(uv_timer_t *t);

/* Stop waiting for fd's first bytes; close it unless lws takes it. */
static void ws_unwait(ws *w, int fd, int adopt)
{
	epoll_ctl(w->wait_ep, EPOLL_CTL_DEL, fd, NULL);
	w->since[fd] = 0;
	w->n_waiting--;
	if (!adopt)
		close(fd);
	else
		lws_adopt_socket_vhost(w->vhost, fd); /* on failure lws closes fd */
}

/* Connections whose first bytes arrived go to lws, which reads their request at once. */
static void ws_waiters_ready(uv_poll_t *h, int status, int events)
{
	ws *w = h->data;
	struct epoll_event evs[WS_ADOPT_BATCH];
	int n;

	(void)events;
	if (status < 0)
		return;
	n = epoll_wait(w->wait_ep, evs, WS_ADOPT_BATCH, 0);
	for (int i = 0; i < n; i++)
		ws_unwait(w, evs[i].data.fd, 1);
}

/* Take the oldest entry of the FIFO, closing its connection if it still waits (it may have
 * been adopted since, and its descriptor may even belong to a newer one). */
static void ws_close_oldest(ws *w)
{
	struct ws_waiter x = w->fifo[w->fifo_head];

	w->fifo_head = (w->fifo_head + 1) % w->fifo_cap;
	w->fifo_len--;
	if ((size_t)x.fd < w->n_since && w->since[x.fd] == x.since)
		ws_unwait(w, x.fd, 0);
}

/* Close the connections accepted more than WS_SILENT_MS ago that never sent a byte. */
static void ws_close_silent(ws *w, int64_t now_ms)
{
	while (w->fifo_len && w->fifo[w->fifo_head].since < now_ms - WS_SILENT_MS)
		ws_close_oldest(w);
}

/* Note fd as waiting for its first bytes; non-zero when it cannot be. */
static int ws_wait(ws *w, int fd, int64_t now_ms)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};

	if ((size_t)fd >= w->n_since) {
		size_t n = w->n_since ? w->n_since : 1024;
		int64_t *since;

		while (n <= (size_t)fd)
			n *= 2;
		if (!(since = realloc(w->since, n * sizeof *since)))
			return -1;
		memset(since + w->n_since, 0, (n - w->n_since) * sizeof *since);
		w->since = since;
		w->n_since = n;
	}
	if (w->fifo_len == w->fifo_cap) {
		size_t cap = w->fifo_cap ? w->fifo_cap * 2 : 1024;
		struct ws_waiter *fifo = malloc(cap * sizeof *fifo);

		if (!fifo)
			return -1;
		for (size_t i = 0; i < w->fifo_len; i++)
			fifo[i] = w->fifo[(w->fifo_head + i) % w->fifo_cap];
		free(w->fifo);
		w->fifo = fifo;
		w->fifo_head = 0;
		w->fifo_cap = cap;
	}
	if (epoll_ctl(w->wait_ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	w->since[fd] = now_ms;
	w->n_waiting++;
	w->fifo[(w->fifo_head + w->fifo_len++) % w->fifo_cap] = (struct ws_waiter){fd, now_ms};
	return 0;
}

/* The listening socket is readable: accept every connection that waits, and hand each to lws
 * only once its first bytes arrived (ws_waiters_ready). lws' own listener accepts all the
 * backlog holds and adopts each connection at once; until its upgrade lws keeps a connection
 * in lists it walks linearly (its HTTP header tables, and the one sorted list of timers where
 * each handshake's timeout goes), so in a storm of thousands of connections at once, whose
 * requests come later, each handshake walked thousands of entries (600 µs of CPU a
 * connection, BENCHMARKS.md, scenario 7). Connections adopted with their request waiting are
 * upgraded in the same wake-up, so those lists stay short. Accepting everything at once
 * empties the kernel's backlog, which drops connection attempts when full. */
static void ws_accept(uv_poll_t *h, int status, int events)
{
	ws *w = h->data;
	int64_t now = clock_mono_ns() / 1000000; /* monotonic: never 0 */

	(void)events;
	if (status < 0)
		return;
	/* At most a backlog's worth a wake-up, so that the loop serves the others in between. */
	for (int i = 0; i < SOMAXCONN; i++) {
		int one = 1, fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: the kernel's backlog waits, and the poll
				 * (which would spin) stops for a second. */
				LOG_WARN("cannot accept connections: %s", strerror(errno));
				w->accept_paused = 1;
				uv_poll_stop(&w->listen_poll);
				uv_timer_start(&w->resume_timer, ws_accept_resume, 1000, 0);
			}
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* Silent connections are bounded by server.max_connections: past it the oldest
		 * is closed, so a client opening sockets it never writes to cannot take every
		 * descriptor (a real client writes its request at once and is not waiting). */
		while (w->n_waiting >= (size_t)w->cfg->max_connections && w->fifo_len)
			ws_close_oldest(w);
		if (ws_wait(w, fd, now) != 0)
			lws_adopt_socket_vhost(w->vhost, fd); /* as lws would have */
	}
}

/* After running out of descriptors: listen again. */
static void ws_accept_resume(uv_timer_t *t)
{
	ws *w = t->data;

	if (w->accept_paused && !w->destroying) {
		w->accept_paused = 0;
		uv_poll_start(&w->listen_poll, UV_READABLE, ws_accept);
	}
}

/* The listening socket of server.listen:port, IPv4, with the backlog lws would give it. */
static int ws_listen(ws *w, char *err, size_t errlen)
{
	const herald_config *cfg = w->cfg;
	struct addrinfo hints = {.ai_family = AF_INET,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE},
	                *ai = NULL;
	char port[8];
	int one = 1, rc;

	snprintf(port, sizeof port, "%d", cfg->port);
	rc = getaddrinfo(strcmp(cfg->listen, "0.0.0.0") == 0 ? NULL : cfg->listen, port, &hints,
	                 &ai);
	if (rc != 0) {
		snprintf(err, errlen, "server.listen: cannot resolve %s: %s", cfg->listen,
		         gai_strerror(rc));
		return HERALD_ECONFIG;
	}
	w->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->listen_fd < 0 ||
	    setsockopt(w->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(w->listen_fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(w->listen_fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->listen, cfg->port,
		         strerror(errno));
		freeaddrinfo(ai);
		return HERALD_EIO;
	}
	freeaddrinfo(ai);
	if (uv_poll_init(&w->loop, &w->listen_poll, w->listen_fd) != 0)
		return HERALD_EIO;
	w->listen_poll.data = w;
	if (uv_timer_init(&w->loop, &w->resume_timer) != 0)
		return HERALD_EIO;
	w->resume_timer.data = w;
	if ((w->wait_ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    uv_poll_init(&w->loop, &w->wait_poll, w->wait_ep) != 0 ||
	    uv_poll_start(&w->wait_poll, UV_READABLE, ws_waiters_ready) != 0)
		return HERALD_EIO;
	w->wait_poll.data = w;
	return uv_poll_start(&w->listen_poll, UV_READABLE, ws_accept) == 0 ? 0 : HERALD_EIO;
}

int ws_create(const ws_env *env, ws **out, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	const herald_config *cfg = env->cfg;
	ws *w = calloc(1, sizeof *w);
	int rc;

	*out = NULL;
	if (!w)
		return HERALD_ENOMEM;
	w->env = *env;
	w->cfg = cfg;
	w->listen_fd = w->wait_ep = -1;
	lws_set_log_level(log_level >= HERALD_LOG_DEBUG ? LLL_ERR | LLL_WARN : LLL_ERR, ws_log);
	w->scratch = malloc(LWS_PRE + WS_CHUNK);
	w->ping = notif_frame("h", 1);
	if (!w->scratch || !w->ping) {
		ws_destroy(w);
		return HERALD_ENOMEM;
	}
	w->ping->frame[0] = 0x89; /* FIN, ping: a payload, so that the pong is reported */
	/* No lws pings or hang-ups (lws would count only pongs as signs of life, and tells of
	 * no pong to an empty ping): ws_sweep pings with a payload and counts messages too. */

	/* lws runs on a libuv loop Herald owns: epoll underneath, and no scan of every
	 * descriptor at each wake-up as lws' own poll() loop does (see core/README.md). */
	if (uv_loop_init(&w->loop) != 0) {
		ws_destroy(w);
		return HERALD_EIO;
	}
	w->loop_ready = 1;
	memset(&info, 0, sizeof info);
	info.foreign_loops = (void *[]){&w->loop};
	info.pcontext = &w->lws; /* lws sets it to NULL once the context is really freed */
	/* No lws validity (ping) timer per connection: lws keeps every timer in one sorted list,
	 * so each would cost a walk of all connections at every handshake and pong. ws_sweep
	 * pings and times out idle connections from one timer instead. */
	static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
	                                           .secs_since_valid_hangup = 0};
	info.retry_and_idle_policy = &no_validity;
	/* A server vhost without a listener: ws_listen accepts and lws adopts (ws_accept). */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.user = w;
	info.max_http_header_data = (unsigned short)cfg->max_header_size;
	/* Text messages that are not UTF-8 are closed with 1007 by lws (RFC 6455 8.1). */
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8 |
	               LWS_SERVER_OPTION_LIBUV;
	if (cfg->tls_cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
	}
	info.vhost_name = "herald";
	w->lws = lws_create_context(&info);
	if (!w->lws || !(w->vhost = lws_get_vhost_by_name(w->lws, "herald"))) {
		snprintf(err, errlen, "cannot create the libwebsockets context on %s:%d",
		         cfg->listen, cfg->port);
		ws_destroy(w);
		return HERALD_EIO;
	}
	if ((rc = ws_listen(w, err, errlen)) != 0) {
		ws_destroy(w);
		return rc;
	}
	if (w->cfg->metrics_listen[0] && strcmp(w->cfg->metrics_listen, "off") != 0 &&
	    ws_listen_metrics(w, &info, err, errlen) != 0) {
		ws_destroy(w);
		return HERALD_EIO;
	}
	*out = w;
	return 0;
}

int ws_service(ws *w)
{
	ws_flush(w);                   /* what was delivered between two rounds */
	uv_run(&w->loop, UV_RUN_ONCE); /* until something happened */
	ws_flush(w);
	return 0;
}

int ws_adopt(ws *w, int fd)
{
	return lws_adopt_socket_vhost(w->vhost, fd) ? 0 : HERALD_EIO;
}

void ws_cancel(ws *w)
{
	if (w && w->lws)
		lws_cancel_service(w->lws);
}

void ws_schedule(ws *w, lws_sorted_usec_list_t *sul, sul_cb_t cb, int64_t us)
{
	lws_sul_schedule(w->lws, 0, sul, cb, us);
}

void ws_refuse_new(ws *w)
{
	w->stopping = 1;
}

void ws_close_now(ws *w)
{
	w->deadline_passed = 1;
	for (struct conn *c = w->conns; c; c = c->next)
		lws_callback_on_writable(c->wsi);
}

void ws_tell_missed(ws *w, const char *reason)
{
	for (struct conn *c = w->conns; c; c = c->next) {
		conn_resume_failed(w, c, c->user_room->room, reason);
		for (uint32_t i = 0; i < c->n_subs; i++)
			conn_resume_failed(w, c, c->subs[i]->room, reason);
	}
}

const ws_stats *ws_stats_get(const ws *w)
{
	return &w->stats;
}

static void ws_close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void ws_destroy(ws *w)
{
	if (!w)
		return;
	w->destroying = 1; /* the connections lws closes now do not restart accepting */
	if (w->lws)
		lws_context_destroy(w->lws); /* closes what is still open, which leaves its rooms */
	if (w->loop_ready) {
		/* lws closes its handles on the loop: let it finish, then close what is left. */
		for (int i = 0; i < 100 && uv_run(&w->loop, UV_RUN_NOWAIT); i++)
			;
		/* On a foreign loop lws 4.1 finishes freeing the context at a second call, once
		 * the loop let its handles close (w->lws is NULL if it already has). */
		if (w->lws)
			lws_context_destroy(w->lws);
		uv_walk(&w->loop, ws_close_handle, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
	}
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	for (size_t fd = 0; fd < w->n_since; fd++)
		if (w->since[fd])
			close((int)fd);
	if (w->wait_ep >= 0)
		close(w->wait_ep);
	free(w->since);
	free(w->fifo);
	auth_claims_free(&w->pending_claims);
	free(w->scratch);
	notif_unref(w->ping);
	free(w);
}
