/* request.h - the webhook's HTTP/1.1 server side of one connection, without a socket: bytes in,
 * decisions and answers out. webhook.c feeds it what the socket received and writes what it
 * renders; tests/fuzz/fuzz_webhook.c drives it the same way.
 *
 * One request at a time. A request's body is read by its Content-Length and by nothing else;
 * a request whose framing cannot be trusted (Transfer-Encoding, a malformed or repeated
 * Content-Length, malformed headers) is answered and the connection closed. Bytes that arrive
 * after a request and before its answer was rendered (pipelining) are never read as a request:
 * they are dropped and the connection is closed after that answer. So no byte is ever taken for
 * a request that a proxy in front could have taken for something else. */
#ifndef HERALD_WEBHOOK_REQUEST_H
#define HERALD_WEBHOOK_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define REQUEST_HEAD_MAX 8192                          /* request line and headers */
#define REQUEST_ERR_MAX 512                            /* an error text quoted in an answer */
#define REQUEST_ANSWER_MAX 4096                        /* an answer's JSON body */
#define REQUEST_RENDER_MAX (REQUEST_ANSWER_MAX + 1024) /* status line, headers and body */
/* A refused request's body up to this size is read and dropped before the answer, so that a
 * client that sends its whole body before reading sees the answer and keeps its connection; a
 * longer one is answered at once and the connection closed. Also the most a closing connection
 * reads and drops before it is cut. */
#define REQUEST_DISCARD_MAX (16u << 20)

enum request_state {
	REQUEST_HEAD,    /* reading the request line and headers */
	REQUEST_BODY,    /* reading the body of a POST that passed the header checks */
	REQUEST_DRAIN,   /* refused: reading the rest of the body and dropping it */
	REQUEST_SUBMIT,  /* the body is in and its signature checked: the owner submits it */
	REQUEST_WAIT,    /* submitted: the owner waits for the acknowledgements */
	REQUEST_ANSWER,  /* the answer is ready: the owner renders and writes it */
	REQUEST_CLOSING, /* answered, the connection closes: bytes are dropped */
};

/* What the checks need; owned by the caller and shared by its connections. */
/* Longest Idempotency-Key (the bytes of an event's `id`). */
#define REQUEST_IDEM_MAX 128

typedef struct request_config {
	const char *path;              /* the path events are POSTed to */
	size_t max_body;               /* largest body accepted */
	int has_bearer;                /* Authorization: Bearer required */
	unsigned char bearer_hash[32]; /* SHA-256 of the token: compared in constant time */
	const char *hmac_key;          /* X-Herald-Signature required when not NULL */
	size_t hmac_len;
	const char *challenge; /* WWW-Authenticate of a 401 */
	int retry_after;       /* Retry-After of a 503 */
	int stopping;          /* set by the owner: every new request is answered 503 */
} request_config;

typedef struct request {
	const request_config *cfg;
	int state;        /* enum request_state */
	int close;        /* close the connection after the answer */
	int head_only;    /* HEAD: the answer has no body */
	uint64_t pos;     /* bytes fed on this connection */
	uint64_t start;   /* pos of the first byte of this request */
	uint64_t remain;  /* bytes of the body still to read (BODY, DRAIN) */
	uint64_t dropped; /* bytes dropped while waiting or closing */
	int pipelined;    /* bytes came after the request before its answer */

	char head[REQUEST_HEAD_MAX];
	size_t head_len;
	size_t line_len; /* bytes of the head's current line */
	int lines;       /* non-empty lines of the head seen */

	char *body; /* the body of a POST being read, NULL otherwise */
	size_t len, cap;
	unsigned char sig[32];           /* the X-Herald-Signature sent */
	char idem[REQUEST_IDEM_MAX + 1]; /* the Idempotency-Key sent ("" when none) */

	/* The answer, and what the owner should log about it (note[0] == 0: nothing). */
	int status;
	const char *hdr_name; /* one extra header (WWW-Authenticate, Allow, Retry-After) or NULL */
	char hdr_value[128];
	char answer[REQUEST_ANSWER_MAX];
	int note_level; /* a HERALD_LOG_* level */
	char note[REQUEST_ERR_MAX + 128];
} request;

/* A fresh connection: no request yet. */
void request_init(request *q, const request_config *cfg);

/* Frees what the connection holds (the body) and wipes the credentials it read. */
void request_free(request *q);

/* Takes every byte the socket received. Returns 0, or -1 when the connection must be closed
 * at once without an answer (a closing connection that keeps sending). Afterwards the state
 * says what the owner does: SUBMIT, ANSWER, or nothing but wait for more. */
int request_feed(request *q, const char *data, size_t len);

/* Prepares the answer; `fmt` builds its JSON body. The rest of a body still to come is read
 * and dropped first (DRAIN) when it is short enough, else the connection closes after the
 * answer. */
void request_answer(request *q, int status, const char *hdr_name, const char *hdr_value,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* 503 with Retry-After; {"error": why}. */
void request_unavailable(request *q, const char *why);

/* 400 for an error text of the core (submit_many): {"error": err} when it is about the whole
 * body ("body: ..."), {"error": err, "index": index} when about one event. */
void request_refuse_events(request *q, const char *err, size_t index);

/* The owner submitted the body: the request waits for its acknowledgements. */
void request_wait(request *q);

/* Writes the answer (status line, headers, JSON body) into out; returns its length, or -1 when
 * there is no answer to render or it does not fit. */
int request_render(const request *q, char *out, size_t size);

/* The answer was written. Returns 1 when the connection now closes (CLOSING), 0 when it waits
 * for the next request (HEAD). */
int request_sent(request *q);

/* Writes `s` into out as the contents of a JSON string: quotes, backslashes and control
 * characters escaped, any byte outside ASCII as '?'. out holds 6 bytes per byte of s, plus 1. */
void request_json_escape(char *out, const char *s);

#endif
