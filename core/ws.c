/* ws.c - see ws.h. One lws protocol serves both the HTTP endpoints and the WebSocket, because
 * browsers connect without naming a subprotocol. */
#include "ws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "protocol.h"

#define TOKEN_MAX 8192

/* Per-connection state; lws allocates it (zeroed) as the session's user data. */
struct conn {
	hub *hub;
	struct lws *wsi;
	int64_t user_id;  /* set at the handshake */
	member *user_room;
	member **subs;    /* project rooms joined */
	uint32_t n_subs, cap_subs;

	notif **q;        /* send queue: a ring of shared frames */
	uint32_t q_head, q_len, q_cap;
	size_t q_bytes;

	char *rx;         /* a client message being reassembled from fragments */
	size_t rx_len;
	int rx_binary;

	int close_code;   /* non-zero: close with this code */
	int close_flush;  /* ... after the queue is written */
	const char *close_reason;
	struct conn *prev, *next; /* hub->conns */
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

/* Answer a plain HTTP request with a small JSON body. */
static int http_answer(struct lws *wsi, unsigned status, const char *body)
{
	unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
					   *end = buf + sizeof buf - 1;
	size_t len = strlen(body);

	if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	memcpy(p, body, len);
	if (lws_write(wsi, p, len, LWS_WRITE_HTTP_FINAL) != (int)len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_request(hub *h, struct lws *wsi, const char *path)
{
	char body[256];

	if (strcmp(path, "/healthz") == 0) {
		snprintf(body, sizeof body,
			 "{\"status\":\"%s\",\"connections\":%zu,\"rooms\":%zu,\"queue\":%zu}\n",
			 h->stopping ? "stopping" : "ok", h->n_conns,
			 rooms_count(h->rooms, ROOM_USER) + rooms_count(h->rooms, ROOM_PROJECT),
			 ingest_depth(h->queue));
		return http_answer(wsi, h->stopping ? 503 : 200, body);
	}
	if (strcmp(path, h->cfg->ws_path) == 0)
		return http_answer(wsi, 426, "{\"error\":\"WebSocket upgrade required\"}\n");
	return http_answer(wsi, 404, "{\"error\":\"not found\"}\n");
}

/* --- the handshake ---------------------------------------------------------------------- */

/* The user of the token in the request's URL, or 0 with the reason in why. */
static int64_t ws_authenticate(hub *h, struct lws *wsi, char *why, size_t whylen)
{
	char *buf = (char *)h->scratch + LWS_PRE; /* TOKEN_MAX < WS_CHUNK; one loop thread */
	const char *token = lws_get_urlarg_by_name(wsi, "token=", buf, TOKEN_MAX);
	auth_claims claims = {0};

	/* NULL also when the value does not fit the buffer. */
	if (!token)
		snprintf(why, whylen, "no token (or longer than %d bytes)", TOKEN_MAX - 1);
	else if (auth_verify(h->auth, token, time(NULL), &claims, why, whylen) != 0)
		claims.user_id = 0;
	memset(buf, 0, TOKEN_MAX);
	return claims.user_id;
}

/* Refuse the upgrade with an HTTP status, or accept it and remember the user for
 * LWS_CALLBACK_ESTABLISHED: lws allocates the session's data only after this callback. */
static int ws_handshake(hub *h, struct lws *wsi)
{
	char path[512], why[128];

	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(path, h->cfg->ws_path) != 0)
		return http_refuse(wsi, 404, "Not Found", NULL);
	if (h->stopping || h->n_conns >= (size_t)h->cfg->max_connections) {
		h->stats.handshakes_refused++;
		LOG_INFO("handshake refused: %s", h->stopping ? "shutting down" : "server full");
		return http_refuse(wsi, 503, "Service Unavailable", "Retry-After: 5\r\n");
	}
	h->pending_user = ws_authenticate(h, wsi, why, sizeof why);
	if (h->pending_user) {
		h->pending_wsi = wsi;
		return 0;
	}
	h->stats.handshakes_refused++;
	LOG_INFO("handshake refused: %s", why);
	return http_refuse(wsi, 403, "Forbidden", NULL);
}

/* --- sending ---------------------------------------------------------------------------- */

static void conn_close(struct conn *c, int code, const char *reason, int flush)
{
	if (c->close_code)
		return;
	c->close_code = code;
	c->close_reason = reason;
	c->close_flush = flush;
	lws_callback_on_writable(c->wsi);
}

static void conn_send(hub *h, struct conn *c, notif *n)
{
	if (c->close_code)
		return;
	if (c->q_bytes + n->len > (size_t)h->cfg->send_queue_bytes) {
		h->stats.slow_disconnects++;
		LOG_WARN("user %lld: send queue over %d bytes, disconnecting", (long long)c->user_id,
			 h->cfg->send_queue_bytes);
		conn_close(c, WS_CLOSE_RECONNECT, "send queue full, reconnect", 0);
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
	h->stats.deliveries++;
	if (c->q_len == 1)
		lws_callback_on_writable(c->wsi);
}

static notif *conn_pop(struct conn *c)
{
	notif *n = c->q[c->q_head];
	c->q_head = (c->q_head + 1) % c->q_cap;
	c->q_len--;
	c->q_bytes -= n->len;
	return n;
}

/* Write queued frames: several whole frames per write (they are complete WebSocket frames, so
 * LWS_WRITE_RAW sends them unchanged), or one large frame in place. */
static int conn_writable(hub *h, struct conn *c)
{
	unsigned char *out = h->scratch + LWS_PRE;
	size_t len = 0;
	int rc;

	if (c->close_code && (!c->close_flush || !c->q_len || h->deadline_passed)) {
		lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	if (!c->q_len)
		return 0;
	if (c->q[c->q_head]->len > WS_CHUNK) {
		notif *n = conn_pop(c);
		rc = lws_write(c->wsi, n->frame, n->len, LWS_WRITE_RAW);
		notif_unref(n);
	} else {
		while (c->q_len && len + c->q[c->q_head]->len <= WS_CHUNK) {
			notif *n = conn_pop(c);
			memcpy(out + len, n->frame, n->len);
			len += n->len;
			notif_unref(n);
		}
		rc = lws_write(c->wsi, out, len, LWS_WRITE_RAW);
	}
	if (rc < 0)
		return -1;
	if (c->q_len || c->close_code)
		lws_callback_on_writable(c->wsi);
	return 0;
}

void ws_deliver(hub *h, const room *r, notif *n, int64_t exclude)
{
	for (member *m = r->head; m; m = m->next)
		if (m->conn->user_id != exclude)
			conn_send(h, m->conn, n);
}

void ws_close_all(hub *h, int code)
{
	for (struct conn *c = h->conns; c; c = c->next)
		conn_close(c, code, "server shutting down", 1);
}

/* --- client messages -------------------------------------------------------------------- */

static void reply_error(hub *h, struct conn *c, const char *code, const char *message)
{
	char text[256];
	int n = snprintf(text, sizeof text, "{\"type\":\"error\",\"message\":\"%s\",\"code\":\"%s\"}",
			 message, code);
	notif *f = notif_frame(text, (size_t)n);
	if (f) {
		conn_send(h, c, f);
		notif_unref(f);
	}
}

static uint32_t conn_find_sub(const struct conn *c, int64_t project)
{
	uint32_t i = 0;
	while (i < c->n_subs && c->subs[i]->room->id != project)
		i++;
	return i;
}

static void conn_subscribe(hub *h, struct conn *c, int64_t project)
{
	const room *r;
	member *m;

	if (conn_find_sub(c, project) < c->n_subs)
		return; /* already a member: harmless */
	if (c->n_subs >= (uint32_t)h->cfg->max_subscriptions)
		return reply_error(h, c, "too_many_subscriptions",
				   "this connection has reached its subscription limit");
	r = rooms_find(h->rooms, ROOM_PROJECT, project);
	if (r && r->count >= (size_t)h->cfg->max_room_members)
		return reply_error(h, c, "room_full", "this project room is full");
	if (c->n_subs == c->cap_subs) {
		uint32_t cap = c->cap_subs ? c->cap_subs * 2 : 4;
		member **subs = realloc(c->subs, cap * sizeof *subs);
		if (!subs)
			return reply_error(h, c, "internal", "out of memory");
		c->subs = subs;
		c->cap_subs = cap;
	}
	if (rooms_join(h->rooms, ROOM_PROJECT, project, c, &m) != 0)
		return reply_error(h, c, "internal", "out of memory");
	c->subs[c->n_subs++] = m;
}

static void conn_unsubscribe(hub *h, struct conn *c, int64_t project)
{
	uint32_t i = conn_find_sub(c, project);
	if (i == c->n_subs)
		return; /* not a member: harmless */
	rooms_leave(h->rooms, c->subs[i]);
	c->subs[i] = c->subs[--c->n_subs];
}

static void conn_message(hub *h, struct conn *c, const char *in, size_t len)
{
	proto_msg m;
	int rc = proto_parse(in, len, &m);

	if (rc)
		reply_error(h, c, proto_error_code(rc), proto_error_message(rc));
	else if (m.type == PROTO_SUBSCRIBE)
		conn_subscribe(h, c, m.project_id);
	else
		conn_unsubscribe(h, c, m.project_id);
}

/* Reassemble fragments into whole messages, refusing any over the size limit. */
static int conn_receive(hub *h, struct conn *c, struct lws *wsi, const char *in, size_t len)
{
	int last = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);

	if (lws_is_first_fragment(wsi) && !c->rx_len)
		c->rx_binary = lws_frame_is_binary(wsi);
	if (c->rx_len + len > (size_t)h->cfg->max_message_size) {
		static const char reason[] = "message too big";
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason,
				 sizeof reason - 1);
		return -1;
	}
	if (!last || c->rx_len) {
		char *rx = realloc(c->rx, c->rx_len + len);
		if (!rx)
			return -1;
		memcpy(rx + c->rx_len, in, len);
		c->rx = rx;
		c->rx_len += len;
		if (!last)
			return 0;
		in = c->rx;
		len = c->rx_len;
	}
	if (c->rx_binary)
		reply_error(h, c, "unsupported", "binary messages are not supported");
	else
		conn_message(h, c, in, len);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = 0;
	return 0;
}

/* --- connection lifetime ---------------------------------------------------------------- */

static int conn_open(hub *h, struct conn *c, struct lws *wsi)
{
	char why[128];

	/* ESTABLISHED follows CONFIRM_UPGRADE in the same read of the request, so the pending user
	 * is this connection's; verifying again covers any other order. */
	c->user_id = h->pending_wsi == wsi ? h->pending_user : ws_authenticate(h, wsi, why, sizeof why);
	h->pending_wsi = NULL;
	if (!c->user_id)
		return -1;
	if (rooms_join(h->rooms, ROOM_USER, c->user_id, c, &c->user_room) != 0)
		return -1;
	c->hub = h;
	c->wsi = wsi;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->n_conns++;
	h->stats.connections_total++;
	LOG_DEBUG("user %lld connected (%zu open)", (long long)c->user_id, h->n_conns);
	return 0;
}

static void conn_free(hub *h, struct conn *c)
{
	if (!c->wsi)
		return; /* never established */
	for (uint32_t i = 0; i < c->n_subs; i++)
		rooms_leave(h->rooms, c->subs[i]);
	rooms_leave(h->rooms, c->user_room);
	while (c->q_len)
		notif_unref(conn_pop(c));
	free(c->q);
	free(c->subs);
	free(c->rx);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->n_conns--;
	LOG_DEBUG("user %lld disconnected (%zu open)", (long long)c->user_id, h->n_conns);
	c->wsi = NULL;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	hub *h = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (!in || strcmp(in, "websocket") != 0)
			return http_refuse(wsi, 400, "Bad Request", NULL);
		return ws_handshake(h, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return conn_open(h, c, wsi);
	case LWS_CALLBACK_RECEIVE:
		return conn_receive(h, c, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return conn_writable(h, c);
	case LWS_CALLBACK_CLOSED:
		conn_free(h, c);
		return 0;
	case LWS_CALLBACK_HTTP:
		return http_request(h, wsi, in ? in : "");
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		hub_process(h);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{.name = "herald",
	 .callback = ws_callback,
	 .per_session_data_size = sizeof(struct conn),
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

int ws_create(hub *h, char *err, size_t errlen)
{
	static lws_retry_bo_t retry; /* read by lws for the context's lifetime */
	struct lws_context_creation_info info;
	const herald_config *cfg = h->cfg;

	lws_set_log_level(log_level >= HERALD_LOG_DEBUG ? LLL_ERR | LLL_WARN : LLL_ERR, ws_log);
	h->scratch = malloc(LWS_PRE + WS_CHUNK);
	if (!h->scratch)
		return HERALD_ENOMEM;
	retry.secs_since_valid_ping = (uint16_t)cfg->ping_interval;
	retry.secs_since_valid_hangup = (uint16_t)cfg->idle_timeout;

	memset(&info, 0, sizeof info);
	info.port = cfg->port;
	info.iface = strcmp(cfg->listen, "0.0.0.0") == 0 ? NULL : cfg->listen;
	info.protocols = protocols;
	info.user = h;
	info.max_http_header_data = (unsigned short)cfg->max_header_size;
	info.retry_and_idle_policy = &retry;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.vhost_name = "herald";
	h->lws = lws_create_context(&info);
	if (!h->lws) {
		snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available?)",
			 cfg->listen, cfg->port);
		return HERALD_EIO;
	}
	return 0;
}

void ws_destroy(hub *h)
{
	if (h->lws)
		lws_context_destroy(h->lws);
	h->lws = NULL;
	free(h->scratch);
	h->scratch = NULL;
}
