/* webhook.c - the webhook source: events POSTed over HTTP, answered 202 only once the core has
 * taken every one of them (see README.md). */
#define _GNU_SOURCE /* GNU strerror_r */
#include <herald/plugin.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEALTHZ "/healthz"
#define ERR_MAX 512        /* the core's error text of a refused body */
#define ANSWER_MAX 4096    /* an answer's JSON: room for ERR_MAX bytes escaped */
#define HEADER_MAX 8192    /* request line and headers */
#define SIG_HEADER "x-herald-signature:"
/* A refused request's body up to this size is read and dropped before the answer, so that a
 * client that sends its whole body before reading sees the answer and keeps its connection; a
 * longer one is answered at once and the connection closed. */
#define DISCARD_MAX (16u << 20)
/* BODY_COMPLETION repeats that mean a pipelined request (see webhook_callback). */
#define PIPELINE_REPEATS 16
/* How long a stopping plugin gives its last answers to leave. */
#define STOP_GRACE_US (2 * LWS_US_PER_SEC)
/* The tag count of a request whose submit_many() has not returned yet: it owns every tag from
 * its first on, since nothing else submits meanwhile. */
#define COUNT_UNKNOWN UINT64_MAX

enum req_state {
	REQ_BODY,   /* receiving the body */
	REQ_DRAIN,  /* refused: dropping the rest of the body, then answering */
	REQ_WAIT,   /* events queued, waiting for their acknowledgements */
	REQ_ANSWER, /* answer ready, waiting for the socket to be writable */
};

typedef struct webhook webhook;

/* One HTTP transaction. lws allocates it zeroed per transaction and frees it at the next one. */
typedef struct req {
	webhook *w; /* set when the request is seen, NULL again once cleaned up */
	struct lws *wsi;
	struct req *prev, *next; /* w->active (lws thread only) */
	int state;
	int close;        /* close the connection after the answer */
	int body_pending; /* the body has not been read to its end yet */
	int repeats;      /* BODY_COMPLETION callbacks after the first */
	char *body;
	size_t len, cap;
	unsigned char sig[32]; /* the X-Herald-Signature sent */
	lws_sorted_usec_list_t timer; /* ack_timeout_ms */

	/* Guarded by w->lock while the request is in w->pending. */
	struct req *pprev, *pnext;
	int pending;
	uint64_t first, count, acked, dropped, refused;

	int status;
	const char *hdr_name; /* one extra header (WWW-Authenticate, Allow, Retry-After) or NULL */
	char hdr_value[128];
	char answer[ANSWER_MAX];
} req;

struct webhook {
	herald_host *host;
	const herald_host_api *api;
	const char *listen, *path, *hmac_key; /* borrowed from the core, valid until destroy */
	size_t hmac_len;
	int port, has_bearer, retry_after, ack_timeout_ms;
	size_t max_body;
	unsigned char bearer_hash[32]; /* SHA-256 of the bearer token: compared in constant time */
	char challenge[128];           /* WWW-Authenticate of a 401 */

	struct lws_context *ctx;
	pthread_t thread;
	atomic_int stopping;
	/* lws thread only */
	int stop_seen, quit;
	lws_sorted_usec_list_t grace;
	req *active;       /* every request being handled */
	uint64_t next_tag; /* the first tag of the next request */

	/* ack() runs on the core's thread: the requests waiting for acknowledgements, the counters
	 * in them, and whether ctx may be woken are shared under this lock. */
	pthread_mutex_t lock;
	req *pending_head, *pending_tail;
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

/* Writes `s` into out as the contents of a JSON string. Control characters are escaped and any
 * byte outside ASCII becomes '?' (the text may quote malformed input). out holds 6 bytes per
 * byte of s, plus one. */
static void json_escape(char *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			out += sprintf(out, "\\%c", c);
		else if (c < 0x20)
			out += sprintf(out, "\\u%04x", c);
		else
			*out++ = c < 0x80 ? (char)c : '?';
	}
	*out = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "application/json", optionally followed by parameters such as "; charset=utf-8". */
static int is_json_type(const char *ct)
{
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	ct += 16;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

/* The Content-Length of the request: its value, -1 when absent, -2 when not a number. */
static long long content_length(struct lws *wsi)
{
	char v[32], *end;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return -1;
	if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
	    v[strspn(v, " \t")] < '0' || v[strspn(v, " \t")] > '9')
		return -2;
	unsigned long long n = strtoull(v, &end, 10);
	end += strspn(end, " \t");
	return *end || n > (1ULL << 62) ? -2 : (long long)n;
}

enum method { M_GET, M_POST, M_HEAD, M_BODY /* PUT, PATCH */, M_OTHER };

static int method_of(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
		return M_POST;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
		return M_GET;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
		return M_HEAD;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI))
		return M_BODY;
	return M_OTHER;
}

/* --- the requests waiting for acknowledgements (w->lock held) --------------------------- */

static void pending_add(webhook *w, req *r)
{
	r->pending = 1;
	r->pnext = NULL;
	r->pprev = w->pending_tail;
	if (w->pending_tail)
		w->pending_tail->pnext = r;
	else
		w->pending_head = r;
	w->pending_tail = r;
}

static void pending_remove(webhook *w, req *r)
{
	if (!r->pending)
		return;
	if (r->pprev)
		r->pprev->pnext = r->pnext;
	else
		w->pending_head = r->pnext;
	if (r->pnext)
		r->pnext->pprev = r->pprev;
	else
		w->pending_tail = r->pprev;
	r->pending = 0;
}

/* --- answers ----------------------------------------------------------------------------- */

static void req_log(req *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void req_log(req *r, int level, const char *fmt, ...)
{
	char peer[64], msg[ERR_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lws_get_peer_simple(r->wsi, peer, sizeof peer);
	r->w->api->log(r->w->host, level, "%s: %s", peer, msg);
}

/* Asks for a writable callback to send the answer prepared. */
static void req_send(req *r)
{
	if (r->state == REQ_WAIT)
		lws_rx_flow_control(r->wsi, 1); /* lws writes nothing to a flow-controlled socket */
	r->state = REQ_ANSWER;
	lws_callback_on_writable(r->wsi);
}

/* Prepares the answer (`fmt` builds its JSON body); it is sent once the body is in, or at once
 * when the connection closes after it. */
static void req_answer(req *r, int status, const char *hdr_name, const char *hdr_value,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void req_answer(req *r, int status, const char *hdr_name, const char *hdr_value,
		       const char *fmt, ...)
{
	va_list ap;

	if (r->w->stop_seen)
		r->close = 1; /* a stopping plugin answers what it has and lets the connection go */
	r->status = status;
	r->hdr_name = hdr_name;
	snprintf(r->hdr_value, sizeof r->hdr_value, "%s", hdr_value ? hdr_value : "");
	va_start(ap, fmt);
	vsnprintf(r->answer, sizeof r->answer, fmt, ap);
	va_end(ap);
	free(r->body);
	r->body = NULL;
	lws_sul_cancel(&r->timer);
	if (r->body_pending && !r->close)
		r->state = REQ_DRAIN;
	else
		req_send(r);
}

static void req_unavailable(req *r, const char *why)
{
	char secs[16];
	snprintf(secs, sizeof secs, "%d", r->w->retry_after);
	req_answer(r, 503, "Retry-After:", secs, "{\"error\":\"%s\"}", why);
}

static void req_unauthorized(req *r, const char *why)
{
	req_log(r, HERALD_LOG_INFO, "401: %s", why);
	req_answer(r, 401, "WWW-Authenticate:", r->w->challenge, "{\"error\":\"%s\"}", why);
}

/* The answer to a request whose events were all acknowledged (w->lock held). */
static void req_acknowledged(req *r)
{
	if (r->refused) {
		req_log(r, HERALD_LOG_WARN, "503: the core stopped before taking %llu of %llu events",
			(unsigned long long)r->refused, (unsigned long long)r->count);
		req_unavailable(r, "shutting down");
	} else if (r->dropped) {
		req_log(r, HERALD_LOG_INFO, "202: %llu event(s), %llu dropped by the formatter",
			(unsigned long long)r->count, (unsigned long long)r->dropped);
		req_answer(r, 202, NULL, NULL, "{\"accepted\":%llu,\"dropped\":%llu}",
			   (unsigned long long)r->count, (unsigned long long)r->dropped);
	} else {
		req_log(r, HERALD_LOG_DEBUG, "202: %llu event(s)", (unsigned long long)r->count);
		req_answer(r, 202, NULL, NULL, "{\"accepted\":%llu}", (unsigned long long)r->count);
	}
}

static void req_timeout(lws_sorted_usec_list_t *sul)
{
	req *r = lws_container_of(sul, req, timer);
	webhook *w = r->w;

	pthread_mutex_lock(&w->lock);
	pending_remove(w, r);
	req_log(r, HERALD_LOG_ERROR, "504: %llu of %llu events not acknowledged after %d ms",
		(unsigned long long)(r->count - r->acked), (unsigned long long)r->count,
		w->ack_timeout_ms);
	pthread_mutex_unlock(&w->lock);
	req_answer(r, 504, NULL, NULL,
		   "{\"error\":\"the hub did not acknowledge the events in time\"}");
}

static void webhook_maybe_quit(webhook *w)
{
	if (w->stop_seen && !w->active)
		w->quit = 1;
}

/* Forgets the request: it leaves the lists and its timer is cancelled. Idempotent. */
static void req_cleanup(req *r)
{
	webhook *w = r->w;

	if (!w)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		w->active = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pthread_mutex_lock(&w->lock);
	pending_remove(w, r);
	pthread_mutex_unlock(&w->lock);
	lws_sul_cancel(&r->timer);
	free(r->body);
	r->body = NULL;
	r->w = NULL;
	webhook_maybe_quit(w);
}

static int req_write(req *r, struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 1024 + ANSWER_MAX], *start = buf + LWS_PRE, *p = start,
							  *end = buf + sizeof buf - 1;
	size_t len = strlen(r->answer);
	int close = r->close;

	if (lws_add_http_common_headers(wsi, (unsigned)r->status, "application/json", len, &p,
					end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    (r->hdr_name &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)r->hdr_name,
					 (const unsigned char *)r->hdr_value,
					 (int)strlen(r->hdr_value), &p, end)) ||
	    (close && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
						   (const unsigned char *)"close", 5, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	memcpy(p, r->answer, len);
	if (lws_write(wsi, p, len, LWS_WRITE_HTTP_FINAL) != (int)len)
		return -1;
	req_cleanup(r);
	return close || lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* --- requests ---------------------------------------------------------------------------- */

/* 1 when the Authorization header carries the bearer token. */
static int bearer_ok(webhook *w, struct lws *wsi)
{
	char v[HEADER_MAX];
	unsigned char hash[32];
	int n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_AUTHORIZATION), ok = 0;

	if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
		char *token = v + 7 + strspn(v + 7, " ");
		sha256(token, strlen(token), hash);
		ok = CRYPTO_memcmp(hash, w->bearer_hash, sizeof hash) == 0;
	}
	OPENSSL_cleanse(v, sizeof v);
	return ok;
}

/* Reads X-Herald-Signature: sha256=<64 hex digits> into r->sig; 0 on success. */
static int signature_read(req *r, struct lws *wsi)
{
	char v[160], *p = v;
	int n = lws_hdr_custom_copy(wsi, v, sizeof v, SIG_HEADER, (int)strlen(SIG_HEADER));

	if (n <= 0)
		return -1;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0';
	p += strspn(p, " \t");
	if (strncasecmp(p, "sha256=", 7) != 0 || strlen(p + 7) != 2 * sizeof r->sig)
		return -1;
	p += 7;
	for (size_t i = 0; i < sizeof r->sig; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		r->sig[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int signature_ok(webhook *w, req *r)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	return HMAC(EVP_sha256(), w->hmac_key, (int)w->hmac_len, (const unsigned char *)r->body,
		    r->len, mac, &n) &&
	       n == sizeof r->sig && CRYPTO_memcmp(mac, r->sig, sizeof r->sig) == 0;
}

/* Checks a POST to the path before its body is read: credentials, size, type. */
static void req_post(webhook *w, req *r, struct lws *wsi, long long length)
{
	char ct[256];

	if (w->has_bearer && !bearer_ok(w, wsi))
		return req_unauthorized(r, "missing or invalid bearer token");
	if (w->hmac_key && signature_read(r, wsi) != 0)
		return req_unauthorized(r, "missing or malformed X-Herald-Signature "
					   "(expected sha256=<64 hex digits>)");
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 || length == -1) {
		req_log(r, HERALD_LOG_INFO, "411: no Content-Length");
		return req_answer(r, 411, NULL, NULL,
				  "{\"error\":\"a Content-Length is required (no chunked bodies)\"}");
	}
	if (length == -2) {
		req_log(r, HERALD_LOG_INFO, "400: invalid Content-Length");
		return req_answer(r, 400, NULL, NULL, "{\"error\":\"invalid Content-Length\"}");
	}
	if ((unsigned long long)length > w->max_body) {
		req_log(r, HERALD_LOG_INFO, "413: body of %lld bytes", length);
		return req_answer(r, 413, NULL, NULL,
				  "{\"error\":\"body larger than %zu bytes\",\"max_body\":%zu}",
				  w->max_body, w->max_body);
	}
	if (lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0 ||
	    !is_json_type(ct)) {
		req_log(r, HERALD_LOG_INFO, "415: Content-Type is not application/json");
		return req_answer(r, 415, NULL, NULL,
				  "{\"error\":\"Content-Type must be application/json\"}");
	}
	r->cap = (size_t)length;
	if (!(r->body = malloc(r->cap ? r->cap : 1)))
		return req_unavailable(r, "out of memory");
}

static int on_http(webhook *w, req *r, struct lws *wsi, const char *path)
{
	int method = method_of(wsi);
	long long length = content_length(wsi);

	r->w = w;
	r->wsi = wsi;
	r->state = REQ_BODY;
	r->body_pending = length > 0;
	r->next = w->active;
	if (w->active)
		w->active->prev = r;
	w->active = r;
	/* A refused request's body is read and dropped before the answer when it is short enough
	 * and its end is known (lws expects a body of unknown length after a POST, PUT or PATCH
	 * without Content-Length); otherwise the answer goes at once and the connection closes.
	 * An answer to HEAD closes too, since it carries a body all the same. */
	r->close = length == -2 || (length > 0 && (unsigned long long)length > DISCARD_MAX) ||
		   (length == -1 && (method == M_POST || method == M_BODY)) || method == M_HEAD;

	if (w->stop_seen)
		req_unavailable(r, "shutting down");
	else if (strcmp(path, HEALTHZ) == 0 && method == M_GET)
		req_answer(r, 200, NULL, NULL, "{\"status\":\"ok\"}");
	else if (strcmp(path, HEALTHZ) == 0)
		req_answer(r, 405, "Allow:", "GET", "{\"error\":\"method not allowed\"}");
	else if (strcmp(path, w->path) != 0)
		req_answer(r, 404, NULL, NULL, "{\"error\":\"not found\"}");
	else if (method != M_POST)
		req_answer(r, 405, "Allow:", "POST", "{\"error\":\"method not allowed\"}");
	else
		req_post(w, r, wsi, length);
	return 0;
}

static int on_body(webhook *w, req *r, const void *in, size_t len)
{
	if (!r->w || r->state != REQ_BODY)
		return 0; /* refused: the rest is dropped */
	if (len > r->cap - r->len) {
		/* lws stops at Content-Length, so this is only a safeguard. */
		req_log(r, HERALD_LOG_INFO, "413: body over %zu bytes", w->max_body);
		r->close = 1;
		req_answer(r, 413, NULL, NULL, "{\"error\":\"body larger than %zu bytes\"}",
			   w->max_body);
		return 0;
	}
	if (len)
		memcpy(r->body + r->len, in, len);
	r->len += len;
	return 0;
}

/* The whole body is in: verify the signature, then hand the events to the core. */
static void on_body_complete(webhook *w, req *r)
{
	char err[ERR_MAX], esc[6 * ERR_MAX + 1];
	size_t count = 0;
	int rc, done = 0;

	if (!r->w)
		return;
	r->body_pending = 0;
	if (r->state == REQ_DRAIN)
		return req_send(r);
	if (r->state != REQ_BODY)
		return;
	if (w->hmac_key && !signature_ok(w, r))
		return req_unauthorized(r, "X-Herald-Signature does not match the body");

	/* Registered before the call: the core may acknowledge before submit_many() returns. */
	pthread_mutex_lock(&w->lock);
	r->first = w->next_tag;
	r->count = COUNT_UNKNOWN;
	pending_add(w, r);
	pthread_mutex_unlock(&w->lock);

	err[0] = '\0';
	rc = w->api->submit_many(w->host, r->body, r->len, r->first, &count, err, sizeof err);

	if (rc == HERALD_OK)
		req_log(r, HERALD_LOG_DEBUG, "%zu event%s queued", count, count == 1 ? "" : "s");
	pthread_mutex_lock(&w->lock);
	if (rc == HERALD_OK) {
		r->count = count;
		w->next_tag += count;
		done = r->acked == r->count;
		if (done) {
			pending_remove(w, r);
			req_acknowledged(r);
		}
	} else {
		pending_remove(w, r);
	}
	pthread_mutex_unlock(&w->lock);

	if (rc == HERALD_OK && !done) {
		/* While the events wait, lws would hand what the client sends next (a pipelined
		 * request) to this one as more body: hold it back. */
		lws_rx_flow_control(r->wsi, 0);
		r->state = REQ_WAIT;
		free(r->body);
		r->body = NULL;
		lws_sul_schedule(lws_get_context(r->wsi), 0, &r->timer, req_timeout,
				 (lws_usec_t)w->ack_timeout_ms * LWS_US_PER_MS);
	} else if (rc == HERALD_EINVAL) {
		json_escape(esc, err);
		req_log(r, HERALD_LOG_INFO, "400: %s", err);
		/* An error about one event names it ("[2].project.id: ..." or "project.id: ..." for
		 * a lone object); one about the whole body starts with "body:". */
		if (strncmp(err, "body:", 5) == 0)
			req_answer(r, 400, NULL, NULL, "{\"error\":\"%s\"}", esc);
		else
			req_answer(r, 400, NULL, NULL, "{\"error\":\"%s\",\"index\":%zu}", esc,
				   count);
	} else if (rc == HERALD_EFULL) {
		req_log(r, HERALD_LOG_INFO, "503: the ingest queue is full");
		req_unavailable(r, "ingest queue full");
	} else if (rc != HERALD_OK) {
		req_log(r, HERALD_LOG_WARN, "503: %s", w->api->strerror(rc));
		req_unavailable(r, rc == HERALD_ESHUTDOWN ? "shutting down"
							  : w->api->strerror(rc));
	}
}

static void webhook_grace_over(lws_sorted_usec_list_t *sul)
{
	webhook *w = lws_container_of(sul, webhook, grace);
	w->quit = 1;
}

/* stop() was called: every request not answered yet gets a 503, then the thread ends. */
static void webhook_begin_stop(webhook *w)
{
	w->stop_seen = 1;
	for (req *r = w->active; r; r = r->next) {
		if (r->state == REQ_ANSWER)
			continue;
		pthread_mutex_lock(&w->lock);
		pending_remove(w, r);
		pthread_mutex_unlock(&w->lock);
		req_log(r, HERALD_LOG_INFO, "503: stopping");
		req_unavailable(r, "shutting down");
	}
	lws_sul_schedule(w->ctx, 0, &w->grace, webhook_grace_over, STOP_GRACE_US);
	webhook_maybe_quit(w);
}

/* Woken by ack() or stop(): answer the requests whose events are all acknowledged. */
static void webhook_wake(webhook *w)
{
	pthread_mutex_lock(&w->lock);
	for (req *r = w->pending_head, *next; r; r = next) {
		next = r->pnext;
		if (r->acked == r->count) {
			pending_remove(w, r);
			req_acknowledged(r);
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (atomic_load(&w->stopping) && !w->stop_seen)
		webhook_begin_stop(w);
}

static int webhook_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			    void *in, size_t len)
{
	webhook *w = lws_context_user(lws_get_context(wsi));
	req *r = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(w, r, wsi, in ? in : "");
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(w, r, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/* lws repeats this callback while unread bytes follow the body, that is for a
		 * pipelined request (sent before the answer to this one): once per service pass
		 * until the answer is written, but endlessly when that request came out of lws'
		 * buffer, whose body lws 4.1 then also takes from the wrong place. Pipelining is
		 * not supported: such a connection is closed. */
		if (r->w && r->state != REQ_BODY && r->state != REQ_DRAIN &&
		    ++r->repeats > PIPELINE_REPEATS) {
			req_log(r, HERALD_LOG_WARN, "pipelined requests are not supported: closing");
			return -1;
		}
		on_body_complete(w, r);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!r || !r->w || r->state != REQ_ANSWER)
			return 0;
		return req_write(r, wsi);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (r)
			req_cleanup(r);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		webhook_wake(w);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols webhook_protocols[] = {
	{.name = "herald-webhook",
	 .callback = webhook_callback,
	 .per_session_data_size = sizeof(req)},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* --- lifecycle --------------------------------------------------------------------------- */

static void *webhook_run(void *arg)
{
	webhook *w = arg;

	while (!w->quit)
		if (lws_service(w->ctx, 0) < 0) {
			w->api->log(w->host, HERALD_LOG_ERROR, "the HTTP server failed; no more events");
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
	w->path = api->opt_string(host, "path");
	w->hmac_key = api->opt_string(host, "hmac_secret");
	w->hmac_len = w->hmac_key ? strlen(w->hmac_key) : 0;
	w->max_body = (size_t)api->opt_int(host, "max_body");
	w->retry_after = (int)api->opt_int(host, "retry_after");
	w->ack_timeout_ms = (int)api->opt_int(host, "ack_timeout_ms");
	w->next_tag = 1;
	if (bearer) {
		w->has_bearer = 1;
		sha256(bearer, strlen(bearer), w->bearer_hash);
	}
	snprintf(w->challenge, sizeof w->challenge, "%s%s%s",
		 bearer ? "Bearer realm=\"herald\"" : "", bearer && w->hmac_key ? ", " : "",
		 w->hmac_key ? "HMAC-SHA256 header=\"X-Herald-Signature\"" : "");

	if (!w->path || w->path[0] != '/' || strcmp(w->path, HEALTHZ) == 0) {
		api->log(host, HERALD_LOG_ERROR, "option `path` must start with / and differ from %s",
			 HEALTHZ);
		goto fail;
	}
	if (!w->listen || !w->listen[0]) {
		api->log(host, HERALD_LOG_ERROR, "option `listen` must name an address");
		goto fail;
	}
	if (!bearer && !w->hmac_key && !api->opt_bool(host, "allow_unauthenticated")) {
		api->log(host, HERALD_LOG_ERROR,
			 "no credentials configured: set `bearer_token` and/or `hmac_secret` "
			 "(or `allow_unauthenticated: true` to accept anyone who can connect)");
		goto fail;
	}
	if (!bearer && !w->hmac_key)
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
	info.max_http_header_data = HEADER_MAX;
	info.keepalive_timeout = 60;
	info.vhost_name = "webhook";
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
		    w->port, w->path);
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
	req *r;

	pthread_mutex_lock(&w->lock);
	/* Requests are in tag order and acknowledgements come in it too: this finds the head. */
	for (r = w->pending_head; r && !(tag >= r->first && tag - r->first < r->count);
	     r = r->pnext)
		;
	if (r) {
		r->acked++;
		if (status == HERALD_EFORMAT)
			r->dropped++;
		else if (status != HERALD_OK)
			r->refused++;
		if (r->acked == r->count && w->live)
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
