/*
 * fuzz_disklog.c - the on-disk log's record decoder, disklog_record_decode() (core/disklog.c),
 * on arbitrary bytes, then the same bytes as the segment file a start reads back
 * (disklog_create()).
 *
 * Decoder: records are read back to back until the first that is not whole and sound. Each
 * accepted record lies within the bytes, encodes back to exactly the same bytes, and is refused
 * once any byte after its length is changed (the checksum covers them all).
 * Start: the file is the magic and the input. The start succeeds; it hands out exactly the
 * records the decoder accepted before its first refusal (those whose route parses), with the
 * same ids and payloads, and cuts the file right after them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "disklog.h"
#include "fuzz.h"
#include "herald/plugin.h"
#include "log.h"
#include "metrics.h"
#include "route.h"

/* disklog.c shows its figures on the metrics page, which is not linked here. */
void metrics_storage_attach(const metrics_storage *s)
{
	(void)s;
}

static char dir[64], seg[128];

static void config(herald_config *cfg)
{
	*cfg = (herald_config){.storage_dir = dir,
	                       .storage_max_bytes = 1LL << 40,
	                       .storage_max_age = 31536000,
	                       .history_size = 100,
	                       .history_ttl = (int)time(NULL)};
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	snprintf(dir, sizeof dir, "/dev/shm/fuzz_disklog.XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof dir, "/tmp/fuzz_disklog.XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(seg, sizeof seg, "%s/0000000000000000-0000000000000000.log", dir);
	/* The directory's epoch, made once: a directory without one has its segments deleted. */
	herald_config cfg;
	char err[256] = "";
	nlog *l = NULL;
	config(&cfg);
	if (disklog_create(&cfg, &l, err, sizeof err) != 0)
		abort();
	l->ops->destroy(l);
	return 0;
}

/* Does the route text of rec parse (a start skips a record whose route does not)? */
static int route_ok(const disklog_record *rec)
{
	char *text = malloc(rec->route_len + 1);
	route r;
	int ok;

	REQUIRE(text);
	memcpy(text, rec->route, rec->route_len);
	text[rec->route_len] = '\0';
	ok = route_parse(text, &r) == 0;
	if (ok)
		route_free(&r);
	free(text);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	herald_config cfg;
	disklog_record recs[64], rec;
	size_t at = 0, n = 0, used, served = 0;
	unsigned char *copy;
	nlog_entry e[16];
	char err[256] = "";
	struct stat st;
	nlog *l = NULL;
	int fd, what, loose = 0;

	while ((what = disklog_record_decode(data + at, size - at, &rec, &used)) ==
	       DISKLOG_REC_OK) {
		REQUIRE(used >= DISKLOG_HEAD + DISKLOG_BODY_MIN && used <= size - at);
		REQUIRE(used == disklog_record_size(rec.route_len, rec.idem_len, rec.len));
		REQUIRE(rec.idem_len <= 128 && rec.route_len >= 1);
		copy = malloc(used);
		REQUIRE(copy);
		disklog_record_encode(copy, &rec);
		REQUIRE(memcmp(copy, data + at, used) == 0);
		/* a changed byte after the length, chosen by the record itself */
		copy[4 + (copy[used - 1] + used) % (used - 4)] ^= 0x10;
		REQUIRE(disklog_record_decode(copy, used, &rec, &used) == DISKLOG_REC_BAD);
		free(copy);
		disklog_record_decode(data + at, size - at, &rec, &used);
		/* history.ttl is the time since 1970 in seconds: records of 1970 on are served,
		 * those of its first second maybe (the clock's milliseconds decide). */
		loose |= (int64_t)rec.id.ms >= 0 && rec.id.ms < 1000;
		if (n < 64 && route_ok(&rec) && (int64_t)rec.id.ms >= 0)
			recs[n++] = rec;
		else if (n < 64)
			recs[n++] = (disklog_record){.len = SIZE_MAX}; /* not served */
		at += used;
		if (n == 64)
			break;
	}
	REQUIRE(what == DISKLOG_REC_OK || what == DISKLOG_REC_SHORT || what == DISKLOG_REC_BAD);

	/* The same bytes as a segment file read back at start. */
	if ((fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		abort();
	REQUIRE(write(fd, DISKLOG_MAGIC, DISKLOG_MAGIC_LEN) == DISKLOG_MAGIC_LEN);
	REQUIRE(write(fd, data, size) == (ssize_t)size);
	close(fd);
	config(&cfg);
	REQUIRE(disklog_create(&cfg, &l, err, sizeof err) == 0);
	for (size_t got; (got = l->ops->poll_entries(l, e, 16)) > 0;)
		for (size_t i = 0; i < got; i++) {
			while (served < n && recs[served].len == SIZE_MAX)
				served++;
			if (!loose && (n < 64 || served < n)) {
				REQUIRE(served < n);
				REQUIRE(log_id_cmp(e[i].id, recs[served].id) == 0);
				REQUIRE(e[i].len == recs[served].len &&
				        memcmp(e[i].payload, recs[served].payload, e[i].len) == 0);
			}
			served++;
			nlog_entry_free(&e[i]);
		}
	while (served < n && recs[served].len == SIZE_MAX)
		served++;
	REQUIRE(loose || n == 64 || served == n);
	l->ops->destroy(l);
	/* The file ends right after the last sound record (or is gone when none was). */
	if (stat(seg, &st) == 0) {
		REQUIRE(n == 64 || (uint64_t)st.st_size == DISKLOG_MAGIC_LEN + at);
		unlink(seg);
	} else {
		REQUIRE(at == 0);
	}
	return 0;
}
