/* request.c - the webhook's HTTP/1.1 server side of one connection, without a socket (see
 * request.h). The plugin parses its requests itself rather than through libwebsockets' HTTP
 * server: lws 4.1.6 reads ahead into buffers it frees while rx flow control is off (a pipelined
 * body was read from freed memory) and frames bodies by its own rules, so the plugin could not
 * know which bytes it had been given. Here every byte of the connection goes through one state
 * machine that decides, by Content-Length alone, where a request ends. */
#include "request.h"

#include <herald/plugin.h>
#include <herald/text.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEALTHZ "/healthz"
/* Content-Length values above this are malformed (they would not fit the arithmetic anyway). */
#define LENGTH_MAX (1ULL << 62)

/* The header fields the checks read: pointers into q->head (NUL-terminated in place), with how
 * many times each came. */
typedef struct fields {
	const char *method, *target, *version;
	const char *length, *encoding, *type, *auth, *sig, *connection, *idem;
	int n_length, n_encoding, n_type, n_auth, n_sig, n_idem;
} fields;

/* --- small helpers ----------------------------------------------------------------------- */

static void note(request *q, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds a line for the owner's log; several in one feed are joined with "; ". */
static void note(request *q, int level, const char *fmt, ...)
{
	size_t n = strlen(q->note);
	va_list ap;

	if (n && n + 2 < sizeof q->note) {
		memcpy(q->note + n, "; ", 3);
		n += 2;
	}
	if (!n || level < q->note_level)
		q->note_level = level;
	va_start(ap, fmt);
	vsnprintf(q->note + n, sizeof q->note - n, fmt, ap);
	va_end(ap);
}

void request_json_escape(char *out, const char *s)
{
	text_json_escape(out, 6 * strlen(s) + 1, s, TEXT_ASCII);
}

/* A tchar of RFC 9110: what a method and a header name are made of. */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
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

/* 1 when the comma-separated list `v` holds the token `t` (case-insensitive). */
static int has_token(const char *v, const char *t)
{
	size_t n = strlen(t);

	while (*v) {
		size_t len;
		v += strspn(v, " \t,");
		len = strcspn(v, ",");
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(v, t, n) == 0)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

/* The value of a Content-Length: 1*DIGIT and nothing else (no sign, no list, no space inside;
 * the surrounding whitespace is already gone). -1 when malformed. */
static long long parse_length(const char *v)
{
	unsigned long long n = 0;

	if (!*v)
		return -1;
	for (; *v; v++) {
		unsigned d = (unsigned)(*v - '0');
		if (*v < '0' || *v > '9')
			return -1;
		/* Checked before the step: a value that wrapped around 2^64 would be a small
		 * length of its own (a proxy reading it otherwise: request smuggling). */
		if (n > (LENGTH_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	return (long long)n;
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
	EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
}

/* 1 when the Authorization value carries the bearer token. */
static int bearer_ok(const request_config *cfg, const char *v)
{
	unsigned char hash[32];

	if (!v || strncasecmp(v, "Bearer ", 7) != 0)
		return 0;
	v += 7 + strspn(v + 7, " ");
	sha256(v, strlen(v), hash);
	return CRYPTO_memcmp(hash, cfg->bearer_hash, sizeof hash) == 0;
}

/* Reads "sha256=<64 hex digits>" into q->sig; 0 on success. */
static int signature_read(request *q, const char *v)
{
	if (!v || strncasecmp(v, "sha256=", 7) != 0 || strlen(v + 7) != 2 * sizeof q->sig)
		return -1;
	v += 7;
	for (size_t i = 0; i < sizeof q->sig; i++) {
		int hi = text_hexval(v[2 * i]), lo = text_hexval(v[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		q->sig[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int signature_ok(const request *q)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	return HMAC(EVP_sha256(), q->cfg->hmac_key, (int)q->cfg->hmac_len,
	            (const unsigned char *)(q->body ? q->body : ""), q->len, mac, &n) &&
	       n == sizeof q->sig && CRYPTO_memcmp(mac, q->sig, sizeof q->sig) == 0;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Error";
	}
}

/* --- answers ----------------------------------------------------------------------------- */

void request_answer(request *q, int status, const char *hdr_name, const char *hdr_value,
                    const char *fmt, ...)
{
	va_list ap;

	if (q->cfg->stopping)
		q->close = 1; /* a stopping plugin answers what it has and lets the connection go */
	q->status = status;
	q->hdr_name = hdr_name;
	snprintf(q->hdr_value, sizeof q->hdr_value, "%s", hdr_value ? hdr_value : "");
	va_start(ap, fmt);
	vsnprintf(q->answer, sizeof q->answer, fmt, ap);
	va_end(ap);
	free(q->body);
	q->body = NULL;
	q->len = q->cap = 0;
	/* The rest of the body is read and dropped before the answer, unless it is too long to
	 * wait for: then the answer goes at once and the connection closes. */
	if (q->remain > REQUEST_DISCARD_MAX)
		q->close = 1;
	q->state = q->remain && !q->close ? REQUEST_DRAIN : REQUEST_ANSWER;
}

void request_unavailable(request *q, const char *why)
{
	char secs[16];
	snprintf(secs, sizeof secs, "%d", q->cfg->retry_after);
	request_answer(q, 503, "Retry-After", secs, "{\"error\":\"%s\"}", why);
}

static void unauthorized(request *q, const char *why)
{
	note(q, HERALD_LOG_INFO, "401: %s", why);
	request_answer(q, 401, "WWW-Authenticate", q->cfg->challenge, "{\"error\":\"%s\"}", why);
}

/* A request whose framing cannot be trusted: answered, then the connection closes, so none of
 * what follows its head is ever read as a request. */
static void refuse_framing(request *q, int status, const char *why)
{
	q->close = 1;
	note(q, HERALD_LOG_INFO, "%d: %s; closing", status, why);
	request_answer(q, status, NULL, NULL, "{\"error\":\"%s\"}", why);
}

void request_refuse_events(request *q, const char *err, size_t index)
{
	char esc[6 * REQUEST_ERR_MAX + 1], text[REQUEST_ERR_MAX];

	snprintf(text, sizeof text, "%s", err);
	request_json_escape(esc, text);
	note(q, HERALD_LOG_INFO, "400: %s", text);
	/* An error about one event names it ("[2].project.id: ..." or "project.id: ..." for a
	 * lone object); one about the whole body starts with "body:". */
	if (strncmp(text, "body:", 5) == 0)
		request_answer(q, 400, NULL, NULL, "{\"error\":\"%s\"}", esc);
	else
		request_answer(q, 400, NULL, NULL, "{\"error\":\"%s\",\"index\":%zu}", esc, index);
}

void request_wait(request *q)
{
	free(q->body);
	q->body = NULL;
	q->len = q->cap = 0;
	q->state = REQUEST_WAIT;
}

int request_render(const request *q, char *out, size_t size)
{
	size_t body = strlen(q->answer);
	int n;

	if (q->state != REQUEST_ANSWER)
		return -1;
	n = snprintf(out, size,
	             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	             "Cache-Control: no-store\r\n%s%s%s%s%s\r\n",
	             q->status, reason_of(q->status), body, q->hdr_name ? q->hdr_name : "",
	             q->hdr_name ? ": " : "", q->hdr_name ? q->hdr_value : "",
	             q->hdr_name ? "\r\n" : "", q->close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= size)
		return -1;
	if (q->head_only) /* the answer to HEAD is the head of the answer to GET */
		return n;
	if (body > size - (size_t)n)
		return -1;
	memcpy(out + n, q->answer, body);
	return n + (int)body;
}

/* Forgets the request: the next one starts at the current byte. */
static void request_reset(request *q)
{
	OPENSSL_cleanse(q->head, q->head_len); /* it held the credentials */
	OPENSSL_cleanse(q->sig, sizeof q->sig);
	free(q->body);
	q->body = NULL;
	q->len = q->cap = 0;
	q->head_len = q->line_len = 0;
	q->lines = 0;
	q->state = REQUEST_HEAD;
	q->close = q->head_only = q->pipelined = 0;
	q->remain = 0;
	q->start = q->pos;
	q->status = 0;
	q->hdr_name = NULL;
	q->answer[0] = '\0';
}

int request_sent(request *q)
{
	if (q->close) {
		OPENSSL_cleanse(q->head, q->head_len);
		q->state = REQUEST_CLOSING;
		return 1;
	}
	request_reset(q);
	return 0;
}

void request_init(request *q, const request_config *cfg)
{
	memset(q, 0, sizeof *q);
	q->cfg = cfg;
	q->state = REQUEST_HEAD;
}

void request_free(request *q)
{
	OPENSSL_cleanse(q->head, sizeof q->head);
	free(q->body);
	q->body = NULL;
}

/* --- the head ---------------------------------------------------------------------------- */

/* Splits the head into the request line and header fields (NUL-terminating them in place) and
 * records the fields of interest. Returns NULL, or why the head is malformed. Strict where
 * parsers disagree: no whitespace before a colon, no folded lines, no control characters (a
 * bare CR included), HTTP/1.0 or 1.1 only. */
static const char *head_parse(request *q, fields *f)
{
	char *p = q->head, *end = q->head + q->head_len;
	int first = 1;

	/* Empty lines before the request line are ignored (RFC 9112 section 2.2). */
	while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
		p += *p == '\r' ? 2 : 1;
	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *le, *colon, *v, *ve;

		if (!eol)
			return "malformed head"; /* cannot happen: the head ends with a newline */
		le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		*le = '\0';
		*eol = '\0';
		for (char *c = p; c < le; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
				return "control character in the head";
		if (first) {
			char *sp1 = strchr(p, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

			first = 0;
			if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == p || sp2 == sp1 + 1)
				return "malformed request line";
			*sp1 = *sp2 = '\0';
			for (char *c = p; *c; c++)
				if (!is_tchar((unsigned char)*c))
					return "malformed method";
			for (char *c = sp1 + 1; *c; c++)
				if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
					return "malformed request target";
			if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0)
				return "unsupported HTTP version";
			f->method = p;
			f->target = sp1 + 1;
			f->version = sp2 + 1;
			p = eol + 1;
			continue;
		}
		if (le == p)
			break; /* the empty line that ends the head */
		if (*p == ' ' || *p == '\t')
			return "folded header line";
		colon = p;
		while (is_tchar((unsigned char)*colon))
			colon++;
		if (*colon != ':' || colon == p)
			return "malformed header line";
		*colon = '\0';
		v = colon + 1;
		v += strspn(v, " \t");
		ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*ve = '\0';
		if (strcasecmp(p, "content-length") == 0) {
			f->length = v;
			f->n_length++;
		} else if (strcasecmp(p, "transfer-encoding") == 0) {
			f->encoding = v;
			f->n_encoding++;
		} else if (strcasecmp(p, "content-type") == 0) {
			f->type = v;
			f->n_type++;
		} else if (strcasecmp(p, "authorization") == 0) {
			f->auth = v;
			f->n_auth++;
		} else if (strcasecmp(p, "x-herald-signature") == 0) {
			f->sig = v;
			f->n_sig++;
		} else if (strcasecmp(p, "idempotency-key") == 0) {
			f->idem = v;
			f->n_idem++;
		} else if (strcasecmp(p, "connection") == 0) {
			/* Several Connection fields make one list; "close" in any of them counts.
			 */
			if (!f->connection || has_token(v, "close"))
				f->connection = v;
		}
		p = eol + 1;
	}
	return f->method ? NULL : "no request line";
}

/* The whole body is in: verify the signature, then let the owner submit it. */
static void body_done(request *q)
{
	if (q->state == REQUEST_DRAIN) {
		q->state = REQUEST_ANSWER;
		return;
	}
	if (q->cfg->hmac_key && !signature_ok(q))
		return unauthorized(q, "X-Herald-Signature does not match the body");
	q->state = REQUEST_SUBMIT;
}

/* Checks a POST to the path before its body is read: credentials, size, type. */
static void head_post(request *q, const fields *f, long long length)
{
	const request_config *cfg = q->cfg;

	if (cfg->has_bearer && (f->n_auth != 1 || !bearer_ok(cfg, f->auth)))
		return unauthorized(q, "missing or invalid bearer token");
	if (cfg->hmac_key && (f->n_sig != 1 || signature_read(q, f->sig) != 0))
		return unauthorized(q, "missing or malformed X-Herald-Signature "
		                       "(expected sha256=<64 hex digits>)");
	if (length < 0) {
		note(q, HERALD_LOG_INFO, "411: no Content-Length");
		return request_answer(q, 411, NULL, NULL,
		                      "{\"error\":\"a Content-Length is required (no chunked "
		                      "bodies)\"}");
	}
	if ((unsigned long long)length > cfg->max_body) {
		note(q, HERALD_LOG_INFO, "413: body of %lld bytes", length);
		return request_answer(q, 413, NULL, NULL,
		                      "{\"error\":\"body larger than %zu bytes\",\"max_body\":%zu}",
		                      cfg->max_body, cfg->max_body);
	}
	/* The id of the one event of the body: printable ASCII that needs no JSON escape. */
	q->idem[0] = '\0';
	if (f->n_idem) {
		size_t n = strlen(f->idem);
		if (f->n_idem > 1 || n < 1 || n > REQUEST_IDEM_MAX ||
		    strcspn(f->idem, "\"\\") != n) {
			note(q, HERALD_LOG_INFO, "400: malformed Idempotency-Key");
			return request_answer(
			    q, 400, NULL, NULL,
			    "{\"error\":\"Idempotency-Key must be one value of 1 to 128 "
			    "printable characters, without quotes or backslashes\"}");
		}
		for (size_t i = 0; i < n; i++)
			if (f->idem[i] < 0x20 || f->idem[i] > 0x7e)
				return request_answer(
				    q, 400, NULL, NULL,
				    "{\"error\":\"Idempotency-Key must be printable "
				    "ASCII\"}");
		memcpy(q->idem, f->idem, n + 1);
	}
	if (f->n_type != 1 || !is_json_type(f->type)) {
		note(q, HERALD_LOG_INFO, "415: Content-Type is not application/json");
		return request_answer(q, 415, NULL, NULL,
		                      "{\"error\":\"Content-Type must be application/json\"}");
	}
	q->cap = (size_t)length;
	if (!(q->body = malloc(q->cap ? q->cap : 1))) {
		note(q, HERALD_LOG_WARN, "503: out of memory");
		return request_unavailable(q, "out of memory");
	}
	q->len = 0;
	q->state = REQUEST_BODY;
	if (!q->remain)
		body_done(q);
}

/* The head is in: decide how the request is framed, then check it. */
static void head_done(request *q)
{
	fields f;
	const char *why, *path;
	long long length = -1;
	size_t path_len;
	int post, body_method;

	memset(&f, 0, sizeof f);
	if ((why = head_parse(q, &f)))
		return refuse_framing(q, 400, why);
	post = strcmp(f.method, "POST") == 0;
	body_method = post || strcmp(f.method, "PUT") == 0 || strcmp(f.method, "PATCH") == 0;
	q->head_only = strcmp(f.method, "HEAD") == 0;
	if (strcmp(f.version, "HTTP/1.0") == 0 ||
	    (f.connection && has_token(f.connection, "close")))
		q->close = 1;

	/* Framing first: whatever the answer, where this request ends must be certain, or the
	 * connection closes after it. Transfer-Encoding is not supported at all, so a request
	 * carrying it (with a Content-Length: request smuggling, RFC 9112 section 6.3) has a body
	 * of unknown length. */
	if (f.n_encoding && f.n_length)
		return refuse_framing(q, 400, "Transfer-Encoding and Content-Length together");
	if (f.n_encoding) {
		q->close = 1;
		note(q, HERALD_LOG_INFO, "411: Transfer-Encoding is not supported; closing");
		return request_answer(q, 411, NULL, NULL,
		                      "{\"error\":\"a Content-Length is required (no "
		                      "Transfer-Encoding, no chunked bodies)\"}");
	}
	if (f.n_length > 1)
		return refuse_framing(q, 400, "more than one Content-Length");
	if (f.n_length && (length = parse_length(f.length)) < 0)
		return refuse_framing(q, 400, "invalid Content-Length");
	q->remain = length > 0 ? (uint64_t)length : 0;
	/* Without a Content-Length a request has no body (RFC 9112 section 6.3), but a client that
	 * sends a POST without one likely sends a body all the same, until it closes. */
	if (length < 0 && body_method)
		q->close = 1;

	path = f.target;
	path_len = strcspn(path, "?");
	if (q->cfg->stopping) {
		note(q, HERALD_LOG_INFO, "503: stopping");
		request_unavailable(q, "shutting down");
	} else if (path_len == strlen(HEALTHZ) && strncmp(path, HEALTHZ, path_len) == 0) {
		if (strcmp(f.method, "GET") == 0 || q->head_only)
			request_answer(q, 200, NULL, NULL, "{\"status\":\"ok\"}");
		else
			request_answer(q, 405, "Allow", "GET",
			               "{\"error\":\"method not allowed\"}");
	} else if (path_len != strlen(q->cfg->path) || strncmp(path, q->cfg->path, path_len) != 0) {
		request_answer(q, 404, NULL, NULL, "{\"error\":\"not found\"}");
	} else if (!post) {
		request_answer(q, 405, "Allow", "POST", "{\"error\":\"method not allowed\"}");
	} else {
		head_post(q, &f, length);
	}
}

/* Takes the bytes of the head; returns how many it took. The head ends at the first empty line
 * after a non-empty one (lines end with LF or CRLF). */
static size_t head_take(request *q, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		int empty;

		if (q->head_len == sizeof q->head) {
			q->close = 1;
			note(q, HERALD_LOG_INFO, "431: request head over %d bytes; closing",
			     REQUEST_HEAD_MAX);
			request_answer(q, 431, NULL, NULL,
			               "{\"error\":\"request line and headers over %d bytes\"}",
			               REQUEST_HEAD_MAX);
			return i;
		}
		q->head[q->head_len++] = c;
		if (c != '\n') {
			q->line_len++;
			continue;
		}
		empty = q->line_len == 0 || (q->line_len == 1 && q->head[q->head_len - 2] == '\r');
		q->line_len = 0;
		if (!empty)
			q->lines++;
		else if (q->lines) {
			head_done(q);
			return i + 1;
		}
	}
	return len;
}

/* --- bytes in ---------------------------------------------------------------------------- */

int request_feed(request *q, const char *data, size_t len)
{
	while (len) {
		size_t n;

		switch (q->state) {
		case REQUEST_HEAD:
			n = head_take(q, data, len);
			break;
		case REQUEST_BODY:
		case REQUEST_DRAIN:
			n = len < q->remain ? len : (size_t)q->remain;
			if (q->state == REQUEST_BODY) {
				/* head_post() sized the body by the Content-Length: it fits. */
				memcpy(q->body + q->len, data, n);
				q->len += n;
			}
			q->remain -= n;
			if (!q->remain)
				body_done(q);
			break;
		case REQUEST_CLOSING:
			q->dropped += len;
			q->pos += len;
			return q->dropped > REQUEST_DISCARD_MAX ? -1 : 0;
		default:
			/* SUBMIT, WAIT, ANSWER: a request sent before this one was answered. It is
			 * never read: this one is answered, then the connection closes (HTTP/1.1
			 * lets a server close instead of serving pipelined requests). */
			if (!q->close)
				note(q, HERALD_LOG_INFO,
				     "pipelined requests are not supported: closing after this "
				     "answer");
			q->close = 1;
			q->pipelined = 1;
			q->dropped += len;
			q->pos += len;
			return q->dropped > REQUEST_DISCARD_MAX ? -1 : 0;
		}
		data += n;
		len -= n;
		q->pos += n;
	}
	return 0;
}
