/* loadclient.c - the load client of Herald's benchmark.
 *
 * Opens many WebSocket connections (RFC 6455, masked client frames) on one or two epoll
 * threads, optionally subscribes each to a project, publishes events carrying their send time,
 * counts what every connection receives and measures the end-to-end latency. It can sample a
 * server's CPU time and memory around each phase. See usage() or `loadclient --help`.
 *
 * It shares the machine with the server it measures, so the receive path is lean: one read per
 * readiness event into a per-thread buffer, frames parsed in place, and the send time found with
 * a fixed key search instead of a JSON parser. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (256 * 1024) /* one read per readiness event, per thread */
#define MAX_PIDS 16
#define MAX_HEADERS 4
#define MAX_ATTEMPTS 50
#define TS_KEY "\"t\":" /* the send time: data.t, nanoseconds of CLOCK_REALTIME */

enum { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED, C_FAILED };

static struct {
	const char *url;
	uint32_t conns, projects, inflight, events, pub_window, batch, probe, publishers;
	int64_t user_base, project_base;
	int ready, subscribe, threads, notification_body, n_headers, n_pids, stamp_send, show;
	const char *secret, *publish, *template, *headers[MAX_HEADERS];
	double rate, hold, settle, event_rate, timeout, connect_timeout;
	pid_t pids[MAX_PIDS];
} o = {
    .conns = 1,
    .projects = 1,
    .inflight = 256,
    .pub_window = 1,
    .batch = 1,
    .user_base = 1,
    .project_base = 1,
    .threads = 1,
    .rate = 2000,
    .settle = 1,
    .timeout = 10,
    .connect_timeout = 300,
};

/* The WebSocket URL, split once. */
static struct sockaddr_in ws_addr;
static char ws_host[256], ws_path[2048];
static char iso_now[32]; /* the notification's timestamp in published notification bodies */

struct conn {
	int fd;
	uint8_t state, attempts, frag_op, ready;
	uint32_t idx; /* connection number, 0 .. conns-1 */
	uint32_t received;
	uint32_t retry_at; /* ms since the start */
	uint32_t in_len, in_cap, out_len, msg_len, msg_cap;
	char *in, *out, *msg; /* carried-over input, unsent output, message being reassembled */
};

struct worker {
	int id, ep;
	pthread_t th;
	struct conn *c;
	uint32_t n, next, inflight;
	uint32_t limit; /* connections this phase may open: the first ones, then all (--probe) */
	int phase;
	uint32_t *retry, r_head, r_len; /* ring of connections waiting to try again */
	uint64_t issued, rng;
	char *rbuf;
	uint32_t *lat; /* latencies in µs */
	size_t n_lat, cap_lat;
	_Atomic uint32_t opened, failed, dropped, open_now, pending_out;
	_Atomic uint64_t delivered, other, bytes, last_rx_ns, retries;
	_Atomic uint32_t readied;       /* connections whose --ready pong came back */
	_Atomic uint64_t last_ready_ns; /* CLOCK_MONOTONIC */
	_Atomic uint32_t last_close, last_status;
	char first_other[160];
};

static struct worker *workers;
static _Atomic int stopping;
static _Atomic int phase; /* 1: the --probe connections may open */
static uint64_t t_start_ms;

struct publisher {
	pthread_t th;
	uint64_t first_ns, last_ns;
	uint32_t errors, reconnects;
	_Atomic uint32_t sent;
	_Atomic int done;
	double cpu;
	char first_error[200];
};
static struct publisher pub;
/* Guards pub's plain fields when several publishing connections run (--publishers). */
static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;

/* --- small helpers -------------------------------------------------------------------- */

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t mono_ms(void)
{
	return (uint32_t)(now_ns(CLOCK_MONOTONIC) / 1000000u - t_start_ms);
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadclient: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t base64(char *out, const unsigned char *in, size_t n, int url)
{
	const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	                      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o_len = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o_len++] = abc[v >> 18];
		out[o_len++] = abc[(v >> 12) & 63];
		out[o_len++] = abc[(v >> 6) & 63];
		out[o_len++] = abc[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o_len++] = abc[v >> 18];
		out[o_len++] = abc[(v >> 12) & 63];
		if (i + 1 < n)
			out[o_len++] = abc[(v >> 6) & 63];
		else if (!url)
			out[o_len++] = '=';
		if (!url)
			out[o_len++] = '=';
	}
	out[o_len] = '\0';
	return o_len;
}

/* An HS256 JWT for `user` with the claims of a Django SimpleJWT access token. */
static size_t mint_token(char *out, int64_t user, uint64_t *rng)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char claims[256];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	time_t now = time(NULL);
	int n = snprintf(claims, sizeof claims,
	                 "{\"token_type\":\"access\",\"exp\":%lld,\"iat\":%lld,"
	                 "\"jti\":\"%016" PRIx64 "%016" PRIx64 "\",\"user_id\":%lld}",
	                 (long long)now + 86400, (long long)now, splitmix(rng), splitmix(rng),
	                 (long long)user);
	size_t len = base64(out, (const unsigned char *)header, sizeof header - 1, 1);

	out[len++] = '.';
	len += base64(out + len, (const unsigned char *)claims, (size_t)n, 1);
	HMAC(EVP_sha256(), o.secret, (int)strlen(o.secret), (unsigned char *)out, len, mac,
	     &mac_len);
	out[len++] = '.';
	len += base64(out + len, mac, mac_len, 1);
	return len;
}

static int64_t conn_user(uint32_t idx)
{
	return o.user_base + idx;
}

static int64_t conn_project(uint32_t idx)
{
	return o.project_base + idx % o.projects;
}

static int64_t event_project(uint32_t j)
{
	return o.project_base + j % o.projects;
}

/* Notifications connection idx should receive: events j with j % projects == idx % projects. */
static uint32_t conn_expected(uint32_t idx)
{
	return o.events / o.projects + (idx % o.projects < o.events % o.projects);
}

/* Copy template `t` into out, replacing {u}, {p} and {token}. */
static size_t expand(char *out, size_t cap, const char *t, uint32_t idx, int64_t project,
                     uint64_t *rng)
{
	size_t len = 0;

	while (*t && len + 600 < cap) {
		if (strncmp(t, "{u}", 3) == 0) {
			len += (size_t)sprintf(out + len, "%lld", (long long)conn_user(idx));
			t += 3;
		} else if (strncmp(t, "{p}", 3) == 0) {
			len += (size_t)sprintf(out + len, "%lld", (long long)project);
			t += 3;
		} else if (strncmp(t, "{token}", 7) == 0) {
			len += mint_token(out + len, conn_user(idx), rng);
			t += 7;
		} else {
			out[len++] = *t++;
		}
	}
	out[len] = '\0';
	return len;
}

/* --- the connections ----------------------------------------------------------------- */

static void ws_key(const struct conn *c, char *key, char *accept)
{
	uint64_t s = (uint64_t)c->idx << 8 | c->attempts, r[2] = {splitmix(&s), splitmix(&s)};
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char sha[SHA_DIGEST_LENGTH];
	char buf[64];

	base64(key, (const unsigned char *)r, 16, 0);
	memcpy(buf, key, 24);
	memcpy(buf + 24, guid, sizeof guid - 1);
	SHA1((const unsigned char *)buf, 24 + sizeof guid - 1, sha);
	base64(accept, sha, sizeof sha, 0);
}

static void conn_arm(struct worker *w, struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(w->ep, op, c->fd, &ev);
}

static int grow(char **buf, uint32_t *cap, uint32_t need)
{
	if (need <= *cap)
		return 0;
	uint32_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	char *p = realloc(*buf, n);
	if (!p)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

/* Write now what the socket takes and keep the rest for EPOLLOUT. */
static void conn_write(struct worker *w, struct conn *c, const char *data, size_t len)
{
	ssize_t n = 0;
	uint32_t cap = c->out_len; /* out is allocated exactly; grow() doubles from here */

	if (!c->out_len) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return; /* the read side sees the error */
		if (n < 0)
			n = 0;
		if ((size_t)n == len)
			return;
	}
	if (grow(&c->out, &cap, c->out_len + (uint32_t)(len - (size_t)n)))
		return;
	memcpy(c->out + c->out_len, data + n, len - (size_t)n);
	if (!c->out_len) {
		atomic_fetch_add(&w->pending_out, 1);
		conn_arm(w, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
	}
	c->out_len += (uint32_t)(len - (size_t)n);
}

static void conn_flush(struct worker *w, struct conn *c)
{
	ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
	if (n <= 0)
		return;
	memmove(c->out, c->out + n, c->out_len - (size_t)n);
	c->out_len -= (uint32_t)n;
	if (!c->out_len) {
		free(c->out);
		c->out = NULL;
		atomic_fetch_sub(&w->pending_out, 1);
		conn_arm(w, c, EPOLLIN, EPOLL_CTL_MOD);
	}
}

/* A masked client frame: FIN + opcode, payload under 64 KiB. */
static void conn_frame(struct worker *w, struct conn *c, int op, const char *p, size_t len)
{
	char f[14 + 1024];
	size_t h = 2;
	uint32_t mask = (uint32_t)splitmix(&w->rng);

	if (len > sizeof f - 14)
		return;
	f[0] = (char)(0x80 | op);
	if (len < 126) {
		f[1] = (char)(0x80 | len);
	} else {
		f[1] = (char)(0x80 | 126);
		f[2] = (char)(len >> 8);
		f[3] = (char)len;
		h = 4;
	}
	memcpy(f + h, &mask, 4);
	for (size_t i = 0; i < len; i++)
		f[h + 4 + i] = p[i] ^ f[h + (i & 3)];
	conn_write(w, c, f, h + 4 + len);
}

static void conn_reset(struct worker *w, struct conn *c)
{
	if (c->fd >= 0) {
		struct linger l = {1, 0}; /* RST: no TIME_WAIT left behind by the benchmark */
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		close(c->fd);
	}
	if (c->out_len)
		atomic_fetch_sub(&w->pending_out, 1);
	free(c->in);
	free(c->out);
	free(c->msg);
	c->in = c->out = c->msg = NULL;
	c->in_len = c->in_cap = c->out_len = c->msg_len = c->msg_cap = 0;
	c->frag_op = 0;
	c->fd = -1;
}

/* A failed attempt: try again later unless it was refused for good or tried too often. */
static void conn_fail(struct worker *w, struct conn *c, int permanent)
{
	if (c->state == C_CONNECTING || c->state == C_HANDSHAKE)
		w->inflight--;
	if (c->state == C_OPEN) {
		atomic_fetch_sub(&w->open_now, 1);
		atomic_fetch_add(&w->dropped, 1);
		c->state = C_CLOSED;
		conn_reset(w, c);
		return;
	}
	conn_reset(w, c);
	if (permanent || ++c->attempts >= MAX_ATTEMPTS) {
		c->state = C_FAILED;
		atomic_fetch_add(&w->failed, 1);
		return;
	}
	c->state = C_IDLE;
	c->retry_at = mono_ms() + 50u * c->attempts;
	w->retry[(w->r_head + w->r_len++) % w->n] = (uint32_t)(c - w->c);
	atomic_fetch_add(&w->retries, 1);
}

static void conn_start(struct worker *w, struct conn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_fail(w, c, 0);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->state = C_CONNECTING;
	w->inflight++;
	w->issued++;
	if (connect(c->fd, (struct sockaddr *)&ws_addr, sizeof ws_addr) && errno != EINPROGRESS) {
		conn_fail(w, c, 0);
		return;
	}
	conn_arm(w, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
}

static void conn_connected(struct worker *w, struct conn *c)
{
	char req[4096 + 1024], path[4096], key[32], accept[32];
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		conn_fail(w, c, 0);
		return;
	}
	expand(path, sizeof path, ws_path, c->idx, conn_project(c->idx), &w->rng);
	ws_key(c, key, accept);
	int n = snprintf(req, sizeof req,
	                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	                 "Sec-WebSocket-Version: 13\r\n\r\n",
	                 path, ws_host, key);
	c->state = C_HANDSHAKE;
	conn_arm(w, c, EPOLLIN, EPOLL_CTL_MOD);
	conn_write(w, c, req, (size_t)n);
}

static void conn_message(struct worker *w, struct conn *c, const char *p, size_t len,
                         uint64_t rx_ns)
{
	const char *k = memmem(p, len, TS_KEY, sizeof TS_KEY - 1);
	uint64_t t = 0;

	if (k) {
		const char *e = p + len;
		for (k += sizeof TS_KEY - 1; k < e && *k >= '0' && *k <= '9'; k++)
			t = t * 10 + (uint64_t)(*k - '0');
	}
	if (!t) {
		if (atomic_fetch_add(&w->other, 1) == 0)
			snprintf(w->first_other, sizeof w->first_other, "%.*s",
			         (int)(len < 150 ? len : 150), p);
		return;
	}
	if (w->n_lat == w->cap_lat) {
		size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
		uint32_t *l = realloc(w->lat, cap * sizeof *l);
		if (!l)
			return;
		w->lat = l;
		w->cap_lat = cap;
	}
	if (o.show && w->id == 0 && w->delivered == 0)
		fprintf(stderr, "loadclient: first notification (%zu bytes): %.*s\n", len, (int)len,
		        p);
	w->lat[w->n_lat++] = rx_ns > t ? (uint32_t)((rx_ns - t) / 1000) : 0;
	c->received++;
	atomic_store_explicit(&w->bytes, w->bytes + len, memory_order_relaxed);
	atomic_store_explicit(&w->last_rx_ns, rx_ns, memory_order_relaxed);
	atomic_store_explicit(&w->delivered, w->delivered + 1, memory_order_release);
}

/* Handle one complete frame. Returns -1 when the connection is finished. */
static int conn_on_frame(struct worker *w, struct conn *c, int fin, int op, const char *p,
                         size_t len, uint64_t rx_ns)
{
	switch (op) {
	case 0x9: /* ping */
		conn_frame(w, c, 0xA, p, len);
		return 0;
	case 0xA:
		/* The answer to the ping sent after the subscription: the server has read the
		 * subscription (it reads a connection's frames in order). */
		if (o.ready && !c->ready && len == 5 && memcmp(p, "ready", 5) == 0) {
			c->ready = 1;
			atomic_store(&w->last_ready_ns, now_ns(CLOCK_MONOTONIC));
			atomic_fetch_add(&w->readied, 1);
		}
		return 0;
	case 0x8: /* close: answer with the same code, then drop the connection */
		atomic_store(&w->last_close,
		             len >= 2 ? (uint32_t)((uint8_t)p[0] << 8 | (uint8_t)p[1]) : 1005);
		conn_frame(w, c, 0x8, p, len >= 2 ? 2 : 0);
		return -1;
	case 0x1:
	case 0x2:
		if (fin && !c->frag_op) {
			conn_message(w, c, p, len, rx_ns);
			return 0;
		}
		c->frag_op = (uint8_t)op;
		c->msg_len = 0;
		break;
	case 0x0:
		if (!c->frag_op)
			return -1; /* a continuation of nothing */
		break;
	default:
		return -1;
	}
	if (grow(&c->msg, &c->msg_cap, c->msg_len + (uint32_t)len))
		return -1;
	memcpy(c->msg + c->msg_len, p, len);
	c->msg_len += (uint32_t)len;
	if (fin) {
		conn_message(w, c, c->msg, c->msg_len, rx_ns);
		c->frag_op = 0;
		c->msg_len = 0;
	}
	return 0;
}

/* Parse the frames in buf; returns the bytes consumed, or -1 to drop the connection. */
static long conn_parse(struct worker *w, struct conn *c, char *buf, size_t len, uint64_t rx_ns)
{
	size_t pos = 0;

	while (len - pos >= 2) {
		unsigned char *f = (unsigned char *)buf + pos;
		size_t h = 2;
		uint64_t plen = f[1] & 0x7f;

		if (plen == 126) {
			if (len - pos < 4)
				break;
			plen = (uint64_t)f[2] << 8 | f[3];
			h = 4;
		} else if (plen == 127) {
			if (len - pos < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | f[2 + i];
			h = 10;
		}
		if (f[1] & 0x80) { /* a server must not mask, but the bytes are still a frame */
			if (len - pos < h + 4 + plen)
				break;
			for (uint64_t i = 0; i < plen; i++)
				f[h + 4 + i] ^= f[h + (i & 3)];
			h += 4;
		}
		if (plen > (1u << 30))
			return -1;
		if (len - pos < h + plen)
			break;
		if (conn_on_frame(w, c, f[0] >> 7, f[0] & 0x0f, (char *)f + h, plen, rx_ns))
			return -1;
		pos += h + plen;
	}
	return (long)pos;
}

/* The handshake answer: returns bytes consumed, 0 when incomplete, -1 to retry, -2 refused. */
static long conn_handshake(struct worker *w, struct conn *c, const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *a;
	char key[32], accept[32];
	int status;

	if (!end)
		return len > 16384 ? -1 : 0;
	status = len > 12 ? atoi(buf + 9) : 0;
	if (status != 101) {
		atomic_store(&w->last_status, (uint32_t)status);
		if (status == 403 || status == 404 || status == 400)
			return -2;
		return -1;
	}
	ws_key(c, key, accept);
	for (a = buf; a < end; a++)
		if (strncasecmp(a, "\nSec-WebSocket-Accept:", 22) == 0)
			break;
	if (a == end)
		return -2;
	for (a += 22; *a == ' '; a++)
		;
	if (strncmp(a, accept, 28) != 0)
		return -2;
	c->state = C_OPEN;
	w->inflight--;
	atomic_fetch_add(&w->opened, 1);
	atomic_fetch_add(&w->open_now, 1);
	if (o.subscribe) {
		char msg[96];
		int n = snprintf(msg, sizeof msg,
		                 "{\"type\":\"subscribe_project\",\"project_id\":%lld}",
		                 (long long)conn_project(c->idx));
		conn_frame(w, c, 0x1, msg, (size_t)n);
	}
	if (o.ready)
		conn_frame(w, c, 0x9, "ready", 5);
	return end + 4 - buf;
}

static long conn_consume(struct worker *w, struct conn *c, char *buf, size_t len, uint64_t rx_ns)
{
	long used = 0, n;

	if (c->state == C_HANDSHAKE) {
		used = conn_handshake(w, c, buf, len);
		if (used <= 0)
			return used;
	}
	n = conn_parse(w, c, buf + used, len - (size_t)used, rx_ns);
	return n < 0 ? n : used + n;
}

static void conn_readable(struct worker *w, struct conn *c)
{
	char *buf = w->rbuf;
	size_t have = 0, cap = RBUF_SIZE;
	ssize_t n;
	long used;

	if (c->in_len) { /* a partial frame from the previous read comes first */
		if (grow(&c->in, &c->in_cap, c->in_len + 65536)) {
			conn_fail(w, c, 0);
			return;
		}
		buf = c->in;
		have = c->in_len;
		cap = c->in_cap;
	}
	n = recv(c->fd, buf + have, cap - have, 0);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		conn_fail(w, c, 0);
		return;
	}
	have += (size_t)n;
	used = conn_consume(w, c, buf, have, now_ns(CLOCK_REALTIME));
	if (used < 0) {
		conn_fail(w, c, used == -2);
		return;
	}
	if ((size_t)used == have) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
		return;
	}
	if (buf == c->in) {
		memmove(c->in, c->in + used, have - (size_t)used);
	} else if (grow(&c->in, &c->in_cap, (uint32_t)(have - (size_t)used))) {
		conn_fail(w, c, 0);
		return;
	} else {
		memcpy(c->in, buf + used, have - (size_t)used);
	}
	c->in_len = (uint32_t)(have - (size_t)used);
}

/* Start the attempts that pacing and the in-flight bound allow. */
static void worker_pace(struct worker *w, double elapsed)
{
	double rate = o.rate / o.threads;
	uint32_t now = mono_ms();

	while (w->inflight < o.inflight / (uint32_t)o.threads + 1 &&
	       (double)w->issued < rate * elapsed + 1) {
		struct conn *c;
		if (w->r_len && (int32_t)(now - w->c[w->retry[w->r_head]].retry_at) >= 0) {
			c = &w->c[w->retry[w->r_head]];
			w->r_head = (w->r_head + 1) % w->n;
			w->r_len--;
		} else if (w->next < w->limit) {
			c = &w->c[w->next++];
		} else {
			break;
		}
		conn_start(w, c);
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);

	while (!atomic_load(&stopping)) {
		if (atomic_load(&phase) != w->phase) { /* the probe: paced from now on */
			w->phase = atomic_load(&phase);
			w->limit = w->n;
			w->issued = 0;
			t0 = now_ns(CLOCK_MONOTONIC);
		}
		int connecting = w->next < w->limit || w->r_len;
		if (connecting)
			worker_pace(w, (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
		int n = epoll_wait(w->ep, evs, 256, connecting ? 1 : 50);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->state == C_CONNECTING) {
				conn_connected(w, c);
				continue;
			}
			if (c->fd >= 0 && (evs[i].events & EPOLLOUT) && c->out_len)
				conn_flush(w, c);
			if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				conn_readable(w, c);
		}
	}
	return NULL;
}

/* --- the publisher ------------------------------------------------------------------- */

/* One event as Herald's sources take it, or the notification Herald makes of it (what the peer
 * server is given to publish, so both send the same bytes to their subscribers). */
static size_t build_body(char *out, size_t cap, uint32_t j, uint64_t t)
{
	long long p = (long long)event_project(j);
	if (o.template) { /* {t} the send time, {p} the project, {j} the event's number */
		size_t len = 0;
		for (const char *s = o.template; *s && len + 32 < cap;) {
			if (strncmp(s, "{t}", 3) == 0)
				len += (size_t)sprintf(out + len, "%" PRIu64, t);
			else if (strncmp(s, "{p}", 3) == 0)
				len += (size_t)sprintf(out + len, "%lld", p);
			else if (strncmp(s, "{j}", 3) == 0)
				len += (size_t)sprintf(out + len, "%u", j + 1);
			else {
				out[len++] = *s++;
				continue;
			}
			s += 3;
		}
		out[len] = '\0';
		return len;
	}
	static const char actor[] = "{\"id\":5,\"username\":\"jane_smith\",\"first_name\":\"Jane\","
	                            "\"last_name\":\"Smith\"}";
	if (o.notification_body)
		return (size_t)snprintf(
		    out, cap,
		    "{\"type\":\"notification_received\",\"title\":\"Milestone Progress\","
		    "\"message\":\"Milestone Progress in 'Mobile App Development'\","
		    "\"event_type\":\"milestone_progress\",\"timestamp\":\"%s\",\"actor\":%s,"
		    "\"project_id\":%lld,\"project_title\":\"Mobile App Development\","
		    "\"data\":{\"title\":\"Sprint Planning\",\"t\":%" PRIu64
		    ",\"progress\":50,\"id\":%u}}",
		    iso_now, actor, p, t, j + 1);
	return (size_t)snprintf(
	    out, cap,
	    "{\"event_type\":\"milestone_progress\",\"project\":{\"id\":%lld,"
	    "\"title\":\"Mobile App Development\"},\"actor\":%s,\"data\":{\"id\":%u,"
	    "\"title\":\"Sprint Planning\",\"progress\":50,\"t\":%" PRIu64 "}}",
	    p, actor, j + 1, t);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void pub_error(const char *what, const char *detail)
{
	pthread_mutex_lock(&pub_lock);
	if (pub.errors++ == 0)
		snprintf(pub.first_error, sizeof pub.first_error, "%s%.150s", what, detail);
	pthread_mutex_unlock(&pub_lock);
}

/* The publishing phase's start, on both clocks. */
static uint64_t pub_t0, pub_rt0;

/* When event j is due, in CLOCK_MONOTONIC ns: the phase's start at full speed, its slot when
 * paced. */
static uint64_t pub_due(uint32_t j)
{
	return pub_t0 + (o.event_rate > 0 ? (uint64_t)((double)j * 1e9 / o.event_rate) : 0);
}

/* Wait until event j is due and return its send time (CLOCK_REALTIME ns): when it was due, or
 * with --stamp send the moment it is written. Stamping the due time counts the time an event
 * waits in the publisher, which the HTTP publisher's window and the FIFO's buffer would
 * otherwise hide, each differently. */
static uint64_t pub_slot(uint32_t j)
{
	uint64_t due = pub_due(j), now, t;

	while ((now = now_ns(CLOCK_MONOTONIC)) < due)
		sleep_s((double)(due - now) / 1e9);
	t = o.stamp_send ? now_ns(CLOCK_REALTIME) : pub_rt0 + (due - pub_t0);
	pthread_mutex_lock(&pub_lock);
	if (!pub.first_ns)
		pub.first_ns = t;
	pthread_mutex_unlock(&pub_lock);
	return t;
}

/* Events as lines into a file or FIFO (Herald's stdin source). At full speed, lines are written
 * up to 64 KiB at a time with one send time per batch. */
static void pub_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	char *buf = malloc(65536 + 1024);

	if (fd < 0 || !buf) {
		pub_error("cannot open ", path);
		free(buf);
		if (fd >= 0)
			close(fd);
		return;
	}
	for (uint32_t j = 0; j < o.events;) {
		size_t len = 0;
		uint64_t t = pub_slot(j);
		do {
			len += build_body(buf + len, 1024, j++, t);
			buf[len++] = '\n';
		} while (o.event_rate <= 0 && j < o.events && len < 65536);
		if (write_all(fd, buf, len)) {
			pub_error("write failed: ", strerror(errno));
			break;
		}
		atomic_store(&pub.sent, j);
	}
	free(buf);
	close(fd);
}

static int pub_connect(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)addr, sizeof *addr)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Length of the first complete HTTP response in buf (0: incomplete); its status and whether
 * the server closes after it. */
static size_t http_response(const char *buf, size_t len, int *status, int *closing)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *h;
	size_t body = 0, hlen;

	if (!end)
		return 0;
	hlen = (size_t)(end + 4 - buf);
	*status = atoi(buf + 9);
	*closing = 0;
	for (h = buf; h < end; h++) {
		if (*h != '\n')
			continue;
		if (strncasecmp(h + 1, "Content-Length:", 15) == 0)
			body = strtoul(h + 16, NULL, 10);
		else if (strncasecmp(h + 1, "Connection: close", 17) == 0)
			*closing = 1;
		else if (strncasecmp(h + 1, "Transfer-Encoding: chunked", 26) == 0)
			body = SIZE_MAX;
	}
	if (body != SIZE_MAX)
		return hlen + body <= len ? hlen + body : 0;
	for (size_t pos = hlen;;) { /* chunks, then the last one of size 0 and an empty line */
		char *eol;
		size_t size = strtoul(buf + pos, &eol, 16);
		const char *nl = memmem(buf + pos, len - pos, "\r\n", 2);
		if (!nl)
			return 0;
		pos = (size_t)(nl + 2 - buf);
		if (size == 0) {
			nl = memmem(buf + pos, len - pos, "\r\n", 2);
			return nl ? (size_t)(nl + 2 - buf) : 0;
		}
		if (pos + size + 2 > len)
			return 0;
		pos += size + 2;
	}
}

static void pub_reconnected(void)
{
	pthread_mutex_lock(&pub_lock);
	pub.reconnects++;
	pthread_mutex_unlock(&pub_lock);
}

/* Events [first, end) as HTTP POSTs on one keep-alive connection, up to pub_window requests in
 * flight. */
static void pub_http(const char *url, uint32_t first, uint32_t end)
{
	char host[256], path[2048], rsp[65536], tpath[2048];
	char *body = malloc((size_t)o.batch * 1024 + 16),
	     *req = malloc((size_t)o.batch * 1024 + 8192);
	struct sockaddr_in addr = {.sin_family = AF_INET};
	struct addrinfo *ai = NULL, hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	const char *p = url + 7, *slash = strchr(p, '/');
	const char *colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
	uint32_t acked = first, sent = first;
	uint64_t rng = 1;
	size_t have = 0;
	int fd;

	memset(rsp, 0, sizeof rsp);
	if (!body || !req) {
		pub_error("out of memory", "");
		goto done;
	}
	snprintf(host, sizeof host, "%.*s", (int)((slash ? slash : p + strlen(p)) - p), p);
	snprintf(tpath, sizeof tpath, "%s", slash ? slash : "/");
	*strchrnul(host, ':') = '\0';
	if (getaddrinfo(host, NULL, &hints, &ai) || !ai) {
		pub_error("cannot resolve ", host);
		goto done;
	}
	addr.sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	addr.sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 80);
	freeaddrinfo(ai);
	snprintf(host, sizeof host, "%.*s", (int)((slash ? slash : p + strlen(p)) - p), p);
	if ((fd = pub_connect(&addr)) < 0) {
		pub_error("cannot connect to ", url);
		goto done;
	}
	while (acked < end) {
		while (sent < end && sent - acked < o.pub_window * o.batch &&
		       pub_due(sent) <= now_ns(CLOCK_MONOTONIC)) {
			uint64_t t = pub_slot(sent);
			uint32_t k = end - sent < o.batch ? end - sent : o.batch;
			size_t blen = 0;
			if (o.batch > 1) /* a JSON array of events */
				body[blen++] = '[';
			for (uint32_t i = 0; i < k; i++) {
				if (i)
					body[blen++] = ',';
				blen += build_body(body + blen, 1024, sent + i, t);
			}
			if (o.batch > 1)
				body[blen++] = ']';
			expand(path, sizeof path, tpath, 0, event_project(sent), &rng);
			int n = snprintf(
			    req, 8192,
			    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
			    "Content-Length: %zu\r\n",
			    path, host, blen);
			for (int i = 0; i < o.n_headers; i++)
				n += snprintf(req + n, 8192 - (size_t)n, "%s\r\n", o.headers[i]);
			n += snprintf(req + n, 8192 - (size_t)n, "\r\n");
			memcpy(req + n, body, blen);
			if (write_all(fd, req, (size_t)n + blen)) {
				pub_error("send failed: ", strerror(errno));
				goto out;
			}
			sent += k;
		}
		if (sent == acked) { /* nothing in flight: the next event is not due yet */
			pub_slot(sent);
			continue;
		}
		/* Wait for an answer, or until the next event is due if the window has room. */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int wait_ms = -1;
		if (sent < end && sent - acked < o.pub_window) {
			uint64_t due = pub_due(sent), now = now_ns(CLOCK_MONOTONIC);
			wait_ms = due > now ? (int)((due - now + 999999) / 1000000) : 0;
		}
		if (poll(&pfd, 1, wait_ms) <= 0)
			continue;
		ssize_t r = recv(fd, rsp + have, sizeof rsp - have, 0);
		if (r <= 0) { /* the server closed: what it did not answer is sent again */
			close(fd);
			pub_reconnected();
			have = 0;
			sent = acked;
			if (pub.reconnects > 1000 || (fd = pub_connect(&addr)) < 0) {
				pub_error("connection lost: ", url);
				goto done;
			}
			continue;
		}
		have += (size_t)r;
		for (;;) {
			int status, closing;
			size_t n = http_response(rsp, have, &status, &closing);
			if (!n)
				break;
			if (status < 200 || status > 299)
				pub_error("HTTP error: ", rsp);
			uint32_t k = end - acked < o.batch ? end - acked : o.batch;
			acked += k;
			atomic_fetch_add(&pub.sent, k);
			memmove(rsp, rsp + n, have - n);
			have -= n;
			if (closing) {
				close(fd);
				pub_reconnected();
				have = 0;
				sent = acked;
				if ((fd = pub_connect(&addr)) < 0) {
					pub_error("cannot reconnect to ", url);
					goto done;
				}
				break;
			}
		}
		if (have == sizeof rsp) {
			pub_error("response too large from ", url);
			break;
		}
	}
out:
	close(fd);
done:
	free(body);
	free(req);
}

/* One of --publishers connections: its share of the events, whole batches each. */
struct pub_share {
	pthread_t th;
	uint32_t first, end;
	double cpu;
};

static void *pub_share_run(void *arg)
{
	struct pub_share *sh = arg;
	pub_http(o.publish, sh->first, sh->end);
	sh->cpu = (double)now_ns(CLOCK_THREAD_CPUTIME_ID) / 1e9;
	return NULL;
}

static void *pub_run(void *arg)
{
	(void)arg;
	pub_t0 = now_ns(CLOCK_MONOTONIC);
	pub_rt0 = now_ns(CLOCK_REALTIME);
	pub.cpu = 0;
	if (strncmp(o.publish, "file:", 5) == 0) {
		pub_file(o.publish + 5);
	} else if (o.publishers <= 1) {
		pub_http(o.publish, 0, o.events);
	} else {
		struct pub_share sh[64];
		uint32_t n = o.publishers < 64 ? o.publishers : 64;
		uint32_t batches = (o.events + o.batch - 1) / o.batch, per = (batches + n - 1) / n;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t first = (uint64_t)i * per * o.batch,
			         end = first + (uint64_t)per * o.batch;
			sh[i].first = first < o.events ? (uint32_t)first : o.events;
			sh[i].end = end < o.events ? (uint32_t)end : o.events;
			pthread_create(&sh[i].th, NULL, pub_share_run, &sh[i]);
		}
		for (uint32_t i = 0; i < n; i++) {
			pthread_join(sh[i].th, NULL);
			pub.cpu += sh[i].cpu;
		}
	}
	pub.last_ns = now_ns(CLOCK_REALTIME); /* the last event written, or acknowledged */
	pub.cpu += (double)now_ns(CLOCK_THREAD_CPUTIME_ID) / 1e9;
	atomic_store(&pub.done, 1);
	return NULL;
}

/* --- the server's figures ------------------------------------------------------------ */

/* CPU seconds of the server processes: every thread's run time from schedstat (ns), or
 * utime + stime from stat (clock ticks) where schedstat is missing. */
static double server_cpu(void)
{
	double total = 0;

	for (int i = 0; i < o.n_pids; i++) {
		char path[64];
		DIR *d;
		struct dirent *e;
		int found = 0;

		snprintf(path, sizeof path, "/proc/%d/task", (int)o.pids[i]);
		if ((d = opendir(path))) {
			while ((e = readdir(d))) {
				char f[384];
				unsigned long long run;
				FILE *fp;
				if (e->d_name[0] == '.')
					continue;
				snprintf(f, sizeof f, "%s/%s/schedstat", path, e->d_name);
				if (!(fp = fopen(f, "r")))
					continue;
				if (fscanf(fp, "%llu", &run) == 1) {
					total += (double)run / 1e9;
					found = 1;
				}
				fclose(fp);
			}
			closedir(d);
		}
		if (found)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)o.pids[i]);
		FILE *fp = fopen(path, "r");
		char line[1024];
		if (fp && fgets(line, sizeof line, fp)) {
			const char *s = strrchr(line, ')');
			unsigned long ut = 0, st = 0;
			if (s &&
			    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			           &ut, &st) == 2)
				total += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		}
		if (fp)
			fclose(fp);
	}
	return total;
}

static long server_rss_kb(void)
{
	long total = 0;

	for (int i = 0; i < o.n_pids; i++) {
		char path[64], line[256];
		snprintf(path, sizeof path, "/proc/%d/status", (int)o.pids[i]);
		FILE *fp = fopen(path, "r");
		while (fp && fgets(line, sizeof line, fp))
			if (strncmp(line, "VmRSS:", 6) == 0)
				total += atol(line + 6);
		if (fp)
			fclose(fp);
	}
	return total;
}

/* --- main ---------------------------------------------------------------------------- */

static uint64_t sum_u64(size_t off)
{
	uint64_t s = 0;
	for (int i = 0; i < o.threads; i++)
		s += atomic_load((_Atomic uint64_t *)((char *)&workers[i] + off));
	return s;
}

static uint32_t sum_u32(size_t off)
{
	uint32_t s = 0;
	for (int i = 0; i < o.threads; i++)
		s += atomic_load((_Atomic uint32_t *)((char *)&workers[i] + off));
	return s;
}

#define SUM64(field) sum_u64(offsetof(struct worker, field))
#define SUM32(field) sum_u32(offsetof(struct worker, field))

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double cpu_self(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: loadclient --url URL [options]\n"
	    "\n"
	    "Opens many WebSocket connections, optionally publishes events, counts the\n"
	    "notifications every connection receives and their end-to-end latency, and prints\n"
	    "a report (and a last line `RESULT {json}` for scripts).\n"
	    "\n"
	    "Connections:\n"
	    "  -u, --url URL          ws://HOST:PORT/PATH?QUERY; in it {u} is the connection's "
	    "user\n"
	    "                         id, {p} its project id, {token} an HS256 JWT for {u}\n"
	    "  -n, --connections N    connections to open (default 1)\n"
	    "  -k, --projects K       connection i belongs to project BASE + i %% K (default 1)\n"
	    "      --user-base ID     user id of connection 0 (default 1); connection i is ID + i\n"
	    "      --project-base ID  first project id (default 1)\n"
	    "  -s, --subscribe        send {\"type\":\"subscribe_project\",\"project_id\":P} once "
	    "open\n"
	    "      --secret TEXT      HMAC secret that signs {token} (or env HERALD_JWT_SECRET)\n"
	    "  -r, --rate R           connection attempts per second (default 2000)\n"
	    "      --inflight N       handshakes in progress at once (default 256)\n"
	    "  -T, --threads T        epoll threads, 1 or 2 (default 1)\n"
	    "      --connect-timeout S give up connecting after S seconds (default 300)\n"
	    "      --settle S         wait S seconds once all are open (default 1)\n"
	    "      --hold S           then hold the connections S seconds (default 0)\n"
	    "      --ready            ping each connection after its subscription; it is ready\n"
	    "                         (subscribed) when the pong comes back: report when the\n"
	    "                         last one was\n"
	    "      --probe M          after the hold, open M more connections at --rate and\n"
	    "                         report the server's CPU time for them alone\n"
	    "\n"
	    "Events (event j goes to project BASE + j %% K, carrying data.t = CLOCK_REALTIME ns):\n"
	    "  -e, --events M         events to publish (default 0)\n"
	    "  -R, --event-rate R     events per second (default 0: as fast as possible)\n"
	    "  -p, --publish TARGET   file:PATH  one event JSON per line into PATH (a FIFO that\n"
	    "                                    Herald's stdin source reads)\n"
	    "                         http://HOST:PORT/PATH  one POST per event on a keep-alive\n"
	    "                                    connection; {p} in PATH is the event's project\n"
	    "      --body KIND        event (what Herald's sources take, the default) or\n"
	    "                         notification (the message Herald would send, for a peer)\n"
	    "      --stamp WHEN       the send time carried by an event: due (the default: the\n"
	    "                         phase's start at full speed, the event's slot when paced) "
	    "or\n"
	    "                         send (when it is written)\n"
	    "      --template TEXT    the body instead, with {t} the send time, {p} the project "
	    "and\n"
	    "                         {j} the event's number (1, 2, ...) replaced\n"
	    "  -w, --window W         HTTP requests in flight, pipelined (default 1)\n"
	    "      --publishers P     P keep-alive HTTP connections, each with its share\n"
	    "                         of the events in whole batches (default 1)\n"
	    "  -b, --batch B          events per HTTP request, as a JSON array (default 1: one\n"
	    "                         event object); at full speed and with --body event only\n"
	    "  -H, --header 'K: V'    extra HTTP header for the POSTs (up to %d)\n"
	    "  -t, --timeout S        stop waiting after S seconds without a delivery (default "
	    "10)\n"
	    "\n"
	    "Server figures:\n"
	    "  -P, --pid PID[,PID..]  server processes: CPU time (per-thread schedstat) over the\n"
	    "                         publishing phase, VmRSS before and after connecting\n"
	    "      --show             print the first notification received\n"
	    "  -h, --help             this text\n"
	    "\n"
	    "Exit status: 0 when every connection opened and every notification arrived, 1 when\n"
	    "not, 2 on a usage error.\n",
	    MAX_HEADERS);
}

static void parse_url(void)
{
	struct addrinfo *ai = NULL, hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	const char *p, *slash;
	char host[256];

	if (!o.url || strncmp(o.url, "ws://", 5) != 0)
		die("--url must start with ws:// (got %s)", o.url ? o.url : "nothing");
	p = o.url + 5;
	slash = strchr(p, '/');
	snprintf(ws_host, sizeof ws_host, "%.*s", (int)(slash ? slash - p : (long)strlen(p)), p);
	snprintf(ws_path, sizeof ws_path, "%s", slash ? slash : "/");
	snprintf(host, sizeof host, "%s", ws_host);
	char *colon = strchr(host, ':');
	if (colon)
		*colon = '\0';
	if (getaddrinfo(host, NULL, &hints, &ai) || !ai)
		die("cannot resolve %s", host);
	ws_addr = *(struct sockaddr_in *)ai->ai_addr;
	ws_addr.sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 80);
	freeaddrinfo(ai);
	if (strstr(ws_path, "{token}") && !o.secret)
		die("%s needs --secret or HERALD_JWT_SECRET", "{token}");
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", 1, 0, 'u'},
	    {"connections", 1, 0, 'n'},
	    {"projects", 1, 0, 'k'},
	    {"user-base", 1, 0, 1},
	    {"project-base", 1, 0, 2},
	    {"subscribe", 0, 0, 's'},
	    {"secret", 1, 0, 3},
	    {"rate", 1, 0, 'r'},
	    {"inflight", 1, 0, 4},
	    {"threads", 1, 0, 'T'},
	    {"connect-timeout", 1, 0, 5},
	    {"settle", 1, 0, 6},
	    {"hold", 1, 0, 7},
	    {"events", 1, 0, 'e'},
	    {"event-rate", 1, 0, 'R'},
	    {"publish", 1, 0, 'p'},
	    {"body", 1, 0, 8},
	    {"window", 1, 0, 'w'},
	    {"publishers", 1, 0, 14},
	    {"header", 1, 0, 'H'},
	    {"timeout", 1, 0, 't'},
	    {"pid", 1, 0, 'P'},
	    {"stamp", 1, 0, 9},
	    {"template", 1, 0, 11},
	    {"show", 0, 0, 10},
	    {"batch", 1, 0, 'b'},
	    {"ready", 0, 0, 12},
	    {"probe", 1, 0, 13},
	    {"help", 0, 0, 'h'},
	    {0, 0, 0, 0},
	};
	int c;

	o.secret = getenv("HERALD_JWT_SECRET");
	while ((c = getopt_long(argc, argv, "u:n:k:sr:T:e:R:p:w:b:H:t:P:h", lo, NULL)) != -1) {
		switch (c) {
		case 'u':
			o.url = optarg;
			break;
		case 'n':
			o.conns = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o.projects = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 1:
			o.user_base = strtoll(optarg, NULL, 10);
			break;
		case 2:
			o.project_base = strtoll(optarg, NULL, 10);
			break;
		case 's':
			o.subscribe = 1;
			break;
		case 3:
			o.secret = optarg;
			break;
		case 'r':
			o.rate = atof(optarg);
			break;
		case 4:
			o.inflight = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			o.threads = atoi(optarg);
			break;
		case 5:
			o.connect_timeout = atof(optarg);
			break;
		case 6:
			o.settle = atof(optarg);
			break;
		case 7:
			o.hold = atof(optarg);
			break;
		case 'e':
			o.events = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			o.event_rate = atof(optarg);
			break;
		case 'p':
			o.publish = optarg;
			break;
		case 8:
			if (strcmp(optarg, "event") && strcmp(optarg, "notification"))
				die("--body is event or notification, not %s", optarg);
			o.notification_body = strcmp(optarg, "notification") == 0;
			break;
		case 9:
			if (strcmp(optarg, "due") && strcmp(optarg, "send"))
				die("--stamp is due or send, not %s", optarg);
			o.stamp_send = strcmp(optarg, "send") == 0;
			break;
		case 10:
			o.show = 1;
			break;
		case 11:
			if (strlen(optarg) > 900 || !strstr(optarg, "{t}"))
				die("%s", "--template must hold {t} and stay under 900 bytes");
			o.template = optarg;
			break;
		case 12:
			o.ready = 1;
			break;
		case 13:
			o.probe = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 14:
			o.publishers = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o.batch = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o.pub_window = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'H':
			if (o.n_headers == MAX_HEADERS)
				die("too many --header options (%d at most)", MAX_HEADERS);
			o.headers[o.n_headers++] = optarg;
			break;
		case 't':
			o.timeout = atof(optarg);
			break;
		case 'P':
			for (char *s = optarg; *s && o.n_pids < MAX_PIDS; s += strspn(s, ","))
				o.pids[o.n_pids++] = (pid_t)strtol(s, &s, 10);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument %s", argv[optind]);
	if (!o.conns || !o.projects || o.rate <= 0 || !o.inflight || !o.pub_window)
		die("%s", "--connections, --projects, --rate, --inflight and --window must be > 0");
	if (o.threads < 1 || o.threads > 2)
		die("%s", "--threads is 1 or 2");
	if (!o.batch || o.batch > 10000 ||
	    (o.batch > 1 && (o.event_rate > 0 || o.notification_body)))
		die("%s",
		    "--batch is 1 to 10000, and above 1 only at full speed with --body event");
	if (o.events && !o.publish)
		die("%s", "--events needs --publish");
	if (o.publish && strncmp(o.publish, "file:", 5) && strncmp(o.publish, "http://", 7))
		die("--publish is file:PATH or http://..., not %s", o.publish);
	parse_url();
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	uint64_t expected = 0, delivered, last, t_conn0, t_connected;
	uint32_t short_conns = 0, over_conns = 0;
	double cpu0 = 0, cpu1 = 0, ccpu0 = 0, ccpu1 = 0, connect_s, conn_cpu0, conn_cpu1,
	       hold_cpu = 0, ready_s = 0, probe_s = 0, probe_cpu = 0, probe_window = 0,
	       probe_idle = 0;
	uint32_t total, probe_opened = 0;
	long rss0, rss1;
	uint32_t held = 0;
	int ok;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < o.conns + o.probe + 64)
			fprintf(stderr, "loadclient: warning: file limit %lu < %u connections\n",
			        (unsigned long)rl.rlim_cur, o.conns);
	}
	time_t tnow = time(NULL);
	strftime(iso_now, sizeof iso_now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tnow));
	t_start_ms = now_ns(CLOCK_MONOTONIC) / 1000000u;

	rss0 = server_rss_kb();
	conn_cpu0 = server_cpu();
	total = o.conns + o.probe;
	workers = calloc((size_t)o.threads, sizeof *workers);
	if (!workers)
		die("%s", "out of memory");
	for (int i = 0; i < o.threads; i++) {
		struct worker *w = &workers[i];
		w->id = i;
		/* Connection i is worker i % threads' number i / threads: a worker's first `limit`
		 * connections are those below o.conns, the --probe ones follow. */
		w->n = total / (uint32_t)o.threads + ((uint32_t)i < total % (uint32_t)o.threads);
		w->limit =
		    o.conns / (uint32_t)o.threads + ((uint32_t)i < o.conns % (uint32_t)o.threads);
		w->c = calloc(w->n ? w->n : 1, sizeof *w->c);
		w->retry = calloc(w->n ? w->n : 1, sizeof *w->retry);
		w->rbuf = malloc(RBUF_SIZE);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->rng = 0x5eed0000u + (uint64_t)i;
		if (!w->c || !w->retry || !w->rbuf || w->ep < 0)
			die("%s", "out of memory");
		for (uint32_t k = 0; k < w->n; k++) {
			w->c[k].fd = -1;
			w->c[k].idx = (uint32_t)i + k * (uint32_t)o.threads;
		}
	}
	t_conn0 = now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < o.threads; i++)
		pthread_create(&workers[i].th, NULL, worker_run, &workers[i]);

	/* Connect. */
	while (SUM32(opened) + SUM32(failed) < o.conns &&
	       (double)(now_ns(CLOCK_MONOTONIC) - t_conn0) / 1e9 < o.connect_timeout)
		sleep_s(0.01);
	t_connected = now_ns(CLOCK_MONOTONIC);
	connect_s = (double)(t_connected - t_conn0) / 1e9;
	/* --ready: until every open connection's subscription was read by the server. */
	while (o.ready && SUM32(readied) < SUM32(opened) &&
	       (double)(now_ns(CLOCK_MONOTONIC) - t_connected) / 1e9 < 30)
		sleep_s(0.001);
	for (int i = 0; i < o.threads && o.ready; i++)
		if (workers[i].last_ready_ns > t_conn0 &&
		    (double)(workers[i].last_ready_ns - t_conn0) / 1e9 > ready_s)
			ready_s = (double)(workers[i].last_ready_ns - t_conn0) / 1e9;
	while (SUM32(pending_out) && (double)(now_ns(CLOCK_MONOTONIC) - t_connected) / 1e9 < 10)
		sleep_s(0.01);
	fprintf(stderr, "loadclient: %u/%u open in %.1f s (%" PRIu64 " retries), settling\n",
	        SUM32(opened), o.conns, connect_s, SUM64(retries));
	sleep_s(o.settle);
	rss1 = server_rss_kb();
	conn_cpu1 = server_cpu();
	if (o.hold > 0) {
		fprintf(stderr, "loadclient: holding %.0f s\n", o.hold);
		sleep_s(o.hold);
		hold_cpu = server_cpu() - conn_cpu1;
	}
	held = SUM32(open_now);

	/* --probe: M more handshakes (and subscriptions) while the others are held. */
	if (o.probe) {
		uint64_t tp0;
		double pcpu0 = server_cpu();

		/* What the held connections cost meanwhile, measured just before (--settle s). */
		sleep_s(o.settle);
		probe_idle = (server_cpu() - pcpu0) / o.settle;
		tp0 = now_ns(CLOCK_MONOTONIC);
		pcpu0 = server_cpu();
		uint32_t opened0 = SUM32(opened), base = opened0 + SUM32(failed);

		atomic_store(&phase, 1);
		while (SUM32(opened) + SUM32(failed) < base + o.probe &&
		       (double)(now_ns(CLOCK_MONOTONIC) - tp0) / 1e9 < o.connect_timeout)
			sleep_s(0.01);
		probe_s = (double)(now_ns(CLOCK_MONOTONIC) - tp0) / 1e9;
		while (o.ready && SUM32(readied) < SUM32(opened) &&
		       (double)(now_ns(CLOCK_MONOTONIC) - tp0) / 1e9 < o.connect_timeout + 30)
			sleep_s(0.001);
		sleep_s(o.settle);
		probe_cpu = server_cpu() - pcpu0;
		probe_window = (double)(now_ns(CLOCK_MONOTONIC) - tp0) / 1e9;
		probe_opened = SUM32(opened) - opened0;
		fprintf(stderr, "loadclient: probe: %u more open in %.1f s\n", probe_opened,
		        probe_s);
	}

	/* Publish and wait for the deliveries. */
	for (uint32_t i = 0; i < o.conns && o.events; i++)
		expected += conn_expected(i);
	if (o.events) {
		uint64_t t_progress;
		cpu0 = server_cpu();
		ccpu0 = cpu_self();
		pthread_create(&pub.th, NULL, pub_run, NULL);
		t_progress = now_ns(CLOCK_MONOTONIC);
		last = 0;
		for (;;) {
			sleep_s(0.002);
			delivered = SUM64(delivered);
			if (delivered != last || !atomic_load(&pub.done)) {
				last = delivered;
				t_progress = now_ns(CLOCK_MONOTONIC);
			}
			if (delivered >= expected && atomic_load(&pub.done))
				break;
			if ((double)(now_ns(CLOCK_MONOTONIC) - t_progress) / 1e9 > o.timeout)
				break;
		}
		cpu1 = server_cpu();
		ccpu1 = cpu_self();
		pthread_join(pub.th, NULL);
	}
	atomic_store(&stopping, 1);
	for (int i = 0; i < o.threads; i++)
		pthread_join(workers[i].th, NULL);

	/* Report. */
	size_t n_lat = 0;
	uint64_t bytes = SUM64(bytes), last_rx = 0;
	for (int i = 0; i < o.threads; i++) {
		n_lat += workers[i].n_lat;
		if (workers[i].last_rx_ns > last_rx)
			last_rx = workers[i].last_rx_ns;
	}
	uint32_t *lat = malloc((n_lat ? n_lat : 1) * sizeof *lat);
	n_lat = 0;
	for (int i = 0; i < o.threads; i++) {
		struct worker *w = &workers[i];
		if (lat)
			memcpy(lat + n_lat, w->lat, w->n_lat * sizeof *lat);
		n_lat += w->n_lat;
		for (uint32_t k = 0; k < w->n; k++) {
			uint32_t want = o.events ? conn_expected(w->c[k].idx) : 0;
			short_conns += w->c[k].received < want;
			over_conns += w->c[k].received > want;
		}
	}
	if (lat)
		qsort(lat, n_lat, sizeof *lat, cmp_u32);
	delivered = SUM64(delivered);
	double span = last_rx > pub.first_ns ? (double)(last_rx - pub.first_ns) / 1e9 : 0;
	double pub_span = (double)(pub.last_ns - pub.first_ns) / 1e9;
	uint32_t p50 = n_lat && lat ? lat[n_lat / 2] : 0;
	uint32_t p99 = n_lat && lat ? lat[(size_t)((double)(n_lat - 1) * 0.99)] : 0;
	uint32_t pmax = n_lat && lat ? lat[n_lat - 1] : 0;
	uint32_t opened = SUM32(opened);

	uint32_t last_close = 0, last_status = 0;
	for (int i = 0; i < o.threads; i++) {
		if (workers[i].last_close)
			last_close = workers[i].last_close;
		if (workers[i].last_status)
			last_status = workers[i].last_status;
	}
	ok = opened == total && SUM32(dropped) == 0 && held == o.conns && delivered == expected &&
	     (!o.ready || SUM32(readied) == total) && !short_conns && !over_conns && !pub.errors;
	printf("connections: %u/%u opened in %.2f s, %" PRIu64 " retries, %u failed, %u dropped "
	       "(last close code %u, last HTTP status %u), %u open after %.0f s\n",
	       opened, o.conns, connect_s, SUM64(retries), SUM32(failed), SUM32(dropped),
	       last_close, last_status, held, o.settle + o.hold);
	if (o.n_pids)
		printf("server: RSS %ld kB before, %ld kB after connecting: %.0f bytes/connection; "
		       "CPU %.3f s to connect (and subscribe): %.1f us/connection\n",
		       rss0, rss1, (double)(rss1 - rss0) * 1024.0 / o.conns, conn_cpu1 - conn_cpu0,
		       (conn_cpu1 - conn_cpu0) * 1e6 / o.conns);
	if (o.ready)
		printf(
		    "ready: %u subscribed (their ping answered) %.2f s after the first connect\n",
		    SUM32(readied), ready_s);
	if (o.probe)
		printf("probe: %u/%u more connections with %u held, in %.2f s: server CPU %.3f s "
		       "over %.2f s (%.2f%% of a core before), %.1f us/connection net of that\n",
		       probe_opened, o.probe, held, probe_s, probe_cpu, probe_window,
		       probe_idle * 100,
		       probe_opened ? (probe_cpu - probe_idle * probe_window) * 1e6 / probe_opened
		                    : 0);
	if (o.n_pids && o.hold > 0)
		printf(
		    "server: CPU %.3f s while holding the connections %.0f s (%.1f%% of a core)\n",
		    hold_cpu, o.hold, hold_cpu * 100 / o.hold);
	if (o.events) {
		printf(
		    "events: %u published in %.3f s (%.0f/s, publisher CPU %.3f s), %u errors%s%s, "
		    "%u reconnects\n",
		    atomic_load(&pub.sent), pub_span,
		    pub_span > 0 ? atomic_load(&pub.sent) / pub_span : 0, pub.cpu, pub.errors,
		    pub.errors ? ": " : "", pub.first_error, pub.reconnects);
		printf("deliveries: %" PRIu64 "/%" PRIu64 " %s, %u connections short, %u over, "
		       "%" PRIu64 " other messages%s%s\n",
		       delivered, expected, delivered == expected ? "(all)" : "(MISSING)",
		       short_conns, over_conns, SUM64(other), SUM64(other) ? ", first: " : "",
		       SUM64(other) ? workers[0].first_other : "");
		printf("rate: %.0f deliveries/s over %.3f s; payload %.0f bytes average\n",
		       span > 0 ? (double)delivered / span : 0, span,
		       delivered ? (double)bytes / (double)delivered : 0);
		printf("latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50 / 1e3, p99 / 1e3,
		       pmax / 1e3);
		printf("CPU: server %.3f s (%.2f us/delivery), client %.3f s\n", cpu1 - cpu0,
		       delivered ? (cpu1 - cpu0) * 1e6 / (double)delivered : 0, ccpu1 - ccpu0);
	}
	printf("RESULT {\"ok\":%s,\"connections\":%u,\"opened\":%u,\"failed\":%u,\"dropped\":%u,"
	       "\"held\":%u,\"retries\":%" PRIu64 ",\"connect_s\":%.3f,\"rss_before_kb\":%ld,"
	       "\"rss_after_kb\":%ld,\"connect_cpu_s\":%.4f,\"hold_cpu_s\":%.4f,\"hold_s\":%.1f,"
	       "\"events\":%u,\"published\":%u,\"pub_errors\":%u,"
	       "\"pub_s\":%.4f,\"pub_cpu_s\":%.4f,\"expected\":%" PRIu64 ",\"delivered\":%" PRIu64
	       ",\"short_conns\":%u,\"over_conns\":%u,\"other\":%" PRIu64 ",\"span_s\":%.4f,"
	       "\"payload\":%.1f,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,\"server_cpu_s\":%.4f,"
	       "\"client_cpu_s\":%.4f,\"ready\":%u,\"ready_s\":%.3f,\"probe\":%u,"
	       "\"probe_opened\":%u,\"probe_s\":%.3f,\"probe_cpu_s\":%.4f,"
	       "\"probe_window_s\":%.3f,\"probe_idle_cpu\":%.5f}\n",
	       ok ? "true" : "false", o.conns, opened, SUM32(failed), SUM32(dropped), held,
	       SUM64(retries), connect_s, rss0, rss1, conn_cpu1 - conn_cpu0, hold_cpu, o.hold,
	       o.events, atomic_load(&pub.sent), pub.errors, pub_span, pub.cpu, expected, delivered,
	       short_conns, over_conns, SUM64(other), span,
	       delivered ? (double)bytes / (double)delivered : 0, p50, p99, pmax, cpu1 - cpu0,
	       ccpu1 - ccpu0, SUM32(readied), ready_s, o.probe, probe_opened, probe_s, probe_cpu,
	       probe_window, probe_idle);
	fflush(stdout);
	fprintf(stderr,
	        "loadclient: closing the connections\n"); /* what comes next is not measured */
	for (int i = 0; i < o.threads; i++) {
		for (uint32_t k = 0; k < workers[i].n; k++)
			conn_reset(&workers[i], &workers[i].c[k]);
		free(workers[i].c);
		free(workers[i].retry);
		free(workers[i].rbuf);
		free(workers[i].lat);
		close(workers[i].ep);
	}
	free(workers);
	free(lat);
	return ok ? 0 : 1;
}
