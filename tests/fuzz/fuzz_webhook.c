/* fuzz_webhook.c - the webhook's HTTP request handling (plugins/webhook/request.c) on arbitrary
 * connections: the bytes of one connection fed in arbitrary pieces, with the plugin's side
 * (submit, acknowledgements, 503, 504, stop) played by the harness as webhook.c plays it.
 *
 * Input: [config][n][stream ...][n control bytes]. config: bits 0-1 the credentials (none,
 * bearer, HMAC, both), bit 2 max_body 16 (else 1 MiB), bit 3 stop the plugin after the piece
 * number in bits 4-6. A control byte: bits 0-6 the size of the next piece minus one, bit 7
 * write the pending answer only after the next piece (so bytes arrive before it); a control
 * byte is also taken at each submission, its bits 0-1 choosing what the core does (queued and
 * acknowledged at once, queued and acknowledged after the next piece, refused with an error
 * text taken from the body, queue full; a request still waiting when the input ends gets 504).
 *
 * Beyond "no crash, no leak, no UB", an oracle written apart from request.c frames each
 * request from the raw stream (end of head, Transfer-Encoding and Content-Length lines) and
 * checks: a submitted body is exactly the bytes the Content-Length names; a connection is kept
 * after an answer only when that request ended exactly where the oracle says, had no
 * Transfer-Encoding and at most one well-formed Content-Length, and nothing came after it;
 * every answer is well-formed HTTP/1.1 with a JSON body of its Content-Length and says
 * `Connection: close` exactly when the connection closes. */
#include <ctype.h>
#include <herald/plugin.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "../../plugins/webhook/request.h"
#include "fuzz.h"

#define TOKEN "fuzz-token"
#define HMAC_KEY "fuzz-hmac-key"

static request_config cfg;
static const uint8_t *stream;
static size_t stream_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* --- the oracle: how the request starting at `start` is framed -------------------------- */

typedef struct framing {
	int complete;      /* the head's end is in the stream */
	size_t body_start; /* the byte after the head */
	int te;            /* a Transfer-Encoding line */
	int n_cl;          /* Content-Length lines */
	int cl_ok;         /* the one Content-Length is plain digits */
	unsigned long long cl;
} framing;

/* 1 when the line [p, e) names the header `name` (any case, optional blanks before ':'). */
static int names(const uint8_t *p, const uint8_t *e, const char *name, const uint8_t **value)
{
	size_t n = strlen(name);

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(e - p) < n || strncasecmp((const char *)p, name, n) != 0)
		return 0;
	p += n;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p == e || *p != ':')
		return 0;
	*value = p + 1;
	return 1;
}

static framing oracle(size_t start)
{
	framing f;
	size_t i = start, line = start;
	int nonempty = 0;

	memset(&f, 0, sizeof f);
	for (; i < stream_len; i++) {
		const uint8_t *p = stream + line, *e = stream + i, *v;
		if (stream[i] != '\n')
			continue;
		if (e > p && e[-1] == '\r')
			e--;
		line = i + 1;
		if (e == p) {
			if (!nonempty)
				continue;
			f.complete = 1;
			f.body_start = i + 1;
			return f;
		}
		if (!nonempty++)
			continue; /* the request line: its method may look like a header name */
		if (names(p, e, "transfer-encoding", &v))
			f.te = 1;
		if (names(p, e, "content-length", &v)) {
			f.n_cl++;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			f.cl_ok = v < e;
			f.cl = 0;
			for (; v < e; v++) {
				if (!isdigit(*v))
					f.cl_ok = 0;
				else if (f.cl < 1ULL << 62) /* saturates: no body that long fits */
					f.cl = f.cl * 10 + (unsigned)(*v - '0');
			}
		}
	}
	return f;
}

/* --- the answer ------------------------------------------------------------------------- */

static void check_answer(const request *q, uint64_t start)
{
	char out[REQUEST_RENDER_MAX];
	int n = request_render(q, out, sizeof out);
	const char *p, *end, *body;
	long long length = -1;
	int close = 0;

	REQUIRE(n > 0 && (size_t)n < sizeof out);
	out[n] = '\0';
	end = strstr(out, "\r\n\r\n");
	REQUIRE(end);
	REQUIRE(strncmp(out, "HTTP/1.1 ", 9) == 0 && isdigit((unsigned char)out[9]) &&
	        out[12] == ' ');
	REQUIRE(atoi(out + 9) == q->status);
	for (p = strstr(out, "\r\n") + 2; p < end; p = strstr(p, "\r\n") + 2) {
		const char *eol = strstr(p, "\r\n"), *colon = memchr(p, ':', (size_t)(eol - p));
		REQUIRE(colon && colon > p);
		for (const char *c = p; c < eol; c++)
			REQUIRE((unsigned char)*c >= 0x20 && *c != 0x7f);
		if (strncasecmp(p, "Content-Length: ", 16) == 0)
			length = atoll(p + 16);
		if (strncasecmp(p, "Connection: close\r\n", 19) == 0)
			close = 1;
	}
	REQUIRE(close == q->close);
	body = end + 4;
	if (q->head_only) {
		REQUIRE(*body == '\0' && length >= 0);
	} else {
		json_error_t err;
		json_t *j = json_loads(body, JSON_REJECT_DUPLICATES, &err);
		REQUIRE(length == (long long)strlen(body));
		REQUIRE(json_is_object(j));
		json_decref(j);
	}

	/* Kept alive: the request ended exactly where the oracle frames it, and nothing came
	 * after it. */
	if (!q->close) {
		framing f = oracle((size_t)start);
		REQUIRE(f.complete && !f.te && f.n_cl <= 1 && (f.n_cl == 0 || f.cl_ok));
		REQUIRE(q->pos == f.body_start + (f.n_cl ? f.cl : 0));
		REQUIRE(!q->pipelined);
	}
}

/* --- the plugin's side ------------------------------------------------------------------ */

typedef struct owner {
	request q;
	const uint8_t *ctl;
	size_t n_ctl;
	int acks_later; /* a waiting request is acknowledged after the next piece */
} owner;

static unsigned next_ctl(owner *o)
{
	if (!o->n_ctl)
		return 0;
	o->n_ctl--;
	return *o->ctl++;
}

static void submit(owner *o)
{
	request *q = &o->q;
	framing f = oracle((size_t)q->start);
	char err[REQUEST_ERR_MAX];

	/* The body handed to the core is exactly the bytes the Content-Length names. */
	REQUIRE(f.complete && !f.te && f.n_cl == 1 && f.cl_ok && f.cl == q->len);
	REQUIRE(f.body_start + q->len <= stream_len);
	REQUIRE(q->len == 0 || memcmp(q->body, stream + f.body_start, q->len) == 0);
	switch (next_ctl(o) & 3) {
	case 0:
		request_wait(q);
		request_answer(q, 202, NULL, NULL, "{\"accepted\":%zu}", q->len);
		break;
	case 1:
		request_wait(q);
		o->acks_later = 1;
		break;
	case 2: {
		size_t n = q->len < sizeof err - 1 ? q->len : sizeof err - 1;
		memcpy(err, q->body ? q->body : "", n);
		err[n] = '\0';
		request_refuse_events(q, err, q->len);
		break;
	}
	default:
		request_unavailable(q, "ingest queue full");
		break;
	}
}

static void stop(owner *o)
{
	request *q = &o->q;

	cfg.stopping = 1;
	if (q->state == REQUEST_ANSWER || q->state == REQUEST_CLOSING ||
	    (q->state == REQUEST_HEAD && !q->head_len))
		return;
	o->acks_later = 0;
	request_unavailable(q, "shutting down");
	REQUIRE(q->close);
}

/* Writes the answer when there is one: what webhook.c does in its writable callback. */
static void write_answer(owner *o)
{
	request *q = &o->q;
	uint64_t start = q->start;

	if (q->state != REQUEST_ANSWER)
		return;
	check_answer(q, start);
	if (request_sent(q)) {
		REQUIRE(q->state == REQUEST_CLOSING);
	} else {
		REQUIRE(q->state == REQUEST_HEAD && !q->head_len && !q->body && q->start == q->pos);
	}
}

static void feed(owner *o, const uint8_t *data, size_t len)
{
	request *q = &o->q;
	uint64_t before = q->pos;

	REQUIRE(request_feed(q, (const char *)data, len) == 0);
	REQUIRE(q->pos == before + len);
	REQUIRE(q->state >= REQUEST_HEAD && q->state <= REQUEST_CLOSING);
	q->note[0] = '\0';
	if (q->state == REQUEST_SUBMIT)
		submit(o);
	REQUIRE(q->state != REQUEST_SUBMIT);
	if (q->state == REQUEST_BODY)
		REQUIRE(q->body && q->len + q->remain == q->cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char hash[32];
	owner o;
	size_t pos = 0, piece = 0;
	unsigned config, stop_at;

	if (size < 2)
		return 0;
	config = data[0];
	memset(&cfg, 0, sizeof cfg);
	cfg.path = "/events";
	cfg.max_body = config & 4 ? 16 : 1 << 20;
	cfg.challenge = "Bearer realm=\"herald\"";
	cfg.retry_after = 1;
	if (config & 1) {
		EVP_Digest(TOKEN, strlen(TOKEN), hash, NULL, EVP_sha256(), NULL);
		cfg.has_bearer = 1;
		memcpy(cfg.bearer_hash, hash, sizeof hash);
	}
	if (config & 2) {
		cfg.hmac_key = HMAC_KEY;
		cfg.hmac_len = strlen(HMAC_KEY);
	}
	stop_at = config & 8 ? (config >> 4 & 7) : ~0u;

	memset(&o, 0, sizeof o);
	o.n_ctl = data[1] < size - 2 ? data[1] : size - 2;
	stream = data + 2;
	stream_len = size - 2 - o.n_ctl;
	o.ctl = stream + stream_len;
	request_init(&o.q, &cfg);

	while (pos < stream_len) {
		unsigned c = next_ctl(&o);
		size_t n = o.n_ctl || c ? (c & 0x7f) + 1u : stream_len - pos;
		int acks = o.acks_later;

		if (n > stream_len - pos)
			n = stream_len - pos;
		if (piece++ == stop_at)
			stop(&o);
		feed(&o, stream + pos, n);
		pos += n;
		if (acks && o.acks_later && o.q.state == REQUEST_WAIT) {
			o.acks_later = 0;
			request_answer(&o.q, 202, NULL, NULL, "{\"accepted\":1}");
		}
		if (!(c & 0x80))
			write_answer(&o);
		if (o.q.state == REQUEST_CLOSING)
			REQUIRE(o.q.close);
	}
	if (o.q.state == REQUEST_WAIT)
		request_answer(&o.q, 504, NULL, NULL, "{\"error\":\"timeout\"}");
	write_answer(&o);
	request_free(&o.q);
	return 0;
}
