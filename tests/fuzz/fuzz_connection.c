/*
 * fuzz_connection.c - the WebSocket connection as a state machine: a real hub (every core
 * module) with its libwebsockets context, and one connection per input, adopted from a
 * socketpair after a valid upgrade request. The input is a script of client frames and actions:
 *
 *   byte 0..     records: H L payload[L]
 *     H: FIN (0x80), RSV bits (0x70), opcode (0x0f); the frame is masked
 *     L: payload length 0..253; 254: a 16-bit big-endian length follows;
 *        255: not a frame but an action, named by the low 2 bits of H:
 *          0 deliver a notification to the connection's user room,
 *          1 stop or resume reading what the hub sends (a slow reader),
 *          2 let the loop run a few rounds,
 *          3 send refresh_token with a valid token: of the same user (FIN set) or
 *            another's (FIN clear), expiring in 1 second or in 2^62
 *
 * Limits are small (4 KiB messages, 16 KiB send queue, a burst of 8 messages) so that
 * fragments, too-big messages, rate limits, slow-reader closes and expiry closes are all
 * reached. After each input the client end is closed and the hub must have freed the
 * connection; LeakSanitizer checks that nothing else stayed behind. The served files are not
 * under test here: the asset table is empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fuzz.h"
#include "hub.h"
#include "log.h"
#include "notif.h"
#include "rooms.h"
#include "web/web_assets.h"
#include "ws.h"

#ifndef HERALD_SOURCE_DIR
#error "HERALD_SOURCE_DIR must name the source tree (run.sh defines it)"
#endif

const web_asset web_assets[] = {{"/", "text/plain", (const unsigned char *)"", 0}};
const size_t web_assets_count = 0;

#define USER 7

static hub *h;
static char *token;
static int reading;

static int free_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof ss);
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)in, sizeof *in) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(in->sin_port);
	close(fd);
	REQUIRE(port > 0);
	return port;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char yaml[1024], err[512];
	herald_config *cfg;
	int n;

	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	setenv("FUZZ_JWT_SECRET", "fuzz-secret-0123456789abcdef0123", 1);
	n = snprintf(yaml, sizeof yaml,
	             "server: {listen: 127.0.0.1, port: %d, max_message_size: 4096,\n"
	             "         send_queue_bytes: 16384, max_notification_size: 4096,\n"
	             "         message_rate: 50, message_burst: 8, max_subscriptions: 4}\n"
	             "auth: {algorithms: [HS256], secret: {env: FUZZ_JWT_SECRET},\n"
	             "       close_on_expiry: true}\n"
	             "scripts: {dir: %s/scripts}\n"
	             "history: {size: 8, max_bytes: 65536}\n"
	             "plugins: []\n",
	             free_port(), HERALD_SOURCE_DIR);
	REQUIRE(n > 0 && (size_t)n < sizeof yaml);
	if (config_load_string(yaml, (size_t)n, "fuzz.yaml", "/", &cfg, err, sizeof err) != 0 ||
	    hub_create(cfg, &h, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_connection: %s\n", err);
		exit(1);
	}
	REQUIRE(auth_mint(h->auth, USER, 3600, time(NULL), &token, err, sizeof err) == 0);
	return 0;
}

/* One round of the loop (never blocks: the cancel makes its poll() return at once), then read
 * and drop what the hub sent, unless the client plays a slow reader. */
static void pump(int client, int rounds)
{
	char buf[65536];

	while (rounds-- > 0) {
		ws_cancel(h->ws);
		ws_service(h->ws);
		while (reading && read(client, buf, sizeof buf) > 0)
			;
	}
}

/* Write all of data, running the loop while the socket is full; gives up after a while (the
 * hub stopped reading: it is closing the connection). */
static void send_all(int client, const uint8_t *data, size_t len)
{
	for (int tries = 0; len && tries < 64; tries++) {
		ssize_t n = write(client, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			return;
		}
		pump(client, 1);
	}
}

static void send_frame(int client, uint8_t head, const uint8_t *payload, size_t len)
{
	static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
	uint8_t frame[4 + 4 + 65536];
	size_t at = 0;

	frame[at++] = head;
	if (len < 126) {
		frame[at++] = (uint8_t)(0x80 | len);
	} else {
		frame[at++] = 0x80 | 126;
		frame[at++] = (uint8_t)(len >> 8);
		frame[at++] = (uint8_t)len;
	}
	memcpy(frame + at, mask, 4);
	at += 4;
	for (size_t i = 0; i < len; i++)
		frame[at + i] = payload[i] ^ mask[i % 4];
	send_all(client, frame, at + len);
}

static void deliver(void)
{
	static const char msg[] = "{\"type\":\"notification_received\",\"title\":\"t\"}";
	room *r;
	notif *n;

	static log_id last;

	last = pos_next(last, (uint64_t)clock_real_ms());
	n = notif_frame_pos(msg, sizeof msg - 1, "user_7", "fuzz:1-0");
	REQUIRE(n != NULL);
	n->id = last;
	n->ingest_ns = clock_mono_ns();
	if ((r = rooms_record(h->rooms, ROOM_USER, USER, n)))
		ws_deliver(h->ws, r, n, 0);
	notif_unref(n);
}

static void refresh(int client, uint8_t head)
{
	char err[256], msg[9000], *t = NULL;
	int64_t user = head & 0x80 ? USER : USER + 1;
	long ttl = head & 0x40 ? 1 : (long)((1LL << 62) - time(NULL));
	int n;

	REQUIRE(auth_mint(h->auth, user, ttl, time(NULL), &t, err, sizeof err) == 0);
	n = snprintf(msg, sizeof msg, "{\"type\":\"refresh_token\",\"token\":\"%s\"}", t);
	free(t);
	send_frame(client, 0x81, (const uint8_t *)msg, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char request[9000];
	int sv[2], n, rounds;
	size_t at = 0;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	REQUIRE(ws_adopt(h->ws, sv[0]) == 0);
	n = snprintf(request, sizeof request,
	             "GET /ws/notifications/?token=%s HTTP/1.1\r\nHost: fuzz\r\n"
	             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	             "Sec-WebSocket-Version: 13\r\n\r\n",
	             token);
	reading = 1;
	send_all(sv[1], (const uint8_t *)request, (size_t)n);
	pump(sv[1], 2);

	while (at + 2 <= size) {
		uint8_t head = data[at], lb = data[at + 1];
		size_t len = lb;

		at += 2;
		if (lb == 255) {
			switch (head & 3) {
			case 0:
				deliver();
				break;
			case 1:
				reading = !reading;
				break;
			case 2:
				pump(sv[1], 4);
				break;
			default:
				refresh(sv[1], head);
				break;
			}
			pump(sv[1], 1);
			continue;
		}
		if (lb == 254) {
			if (at + 2 > size)
				break;
			len = (size_t)data[at] << 8 | data[at + 1];
			at += 2;
		}
		if (len > size - at)
			len = size - at;
		send_frame(sv[1], head, data + at, len);
		at += len;
		pump(sv[1], 1);
	}

	/* The client goes away: the hub must notice and free the connection. */
	reading = 1;
	pump(sv[1], 2);
	close(sv[1]);
	for (rounds = 0;
	     rounds < 200 && (ws_stats_get(h->ws)->connections || fcntl(sv[0], F_GETFD) != -1);
	     rounds++)
		pump(-1, 1);
	REQUIRE(ws_stats_get(h->ws)->connections == 0);
	REQUIRE(fcntl(sv[0], F_GETFD) == -1);
	return 0;
}
