/*
 * The embedded log on disk (disklog.c) in a directory of its own: records encoded and decoded,
 * appends acknowledged after their batch is written, the epoch, the last position, the history
 * and the idempotency ids taken back by the next start, a torn or corrupt tail cut, old
 * segments deleted past storage.max_bytes, one process per directory, and the `storage`
 * section of the config.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "disklog.h"
#include "herald/plugin.h"
#include "nlog.h"

static char dir[64];

static herald_config *config(const char *extra)
{
	char yaml[1024], err[512];
	herald_config *cfg = NULL;

	snprintf(yaml, sizeof yaml, "history: {size: 1000, ttl: 600}\nstorage: {dir: %s/log%s}\n",
	         dir, extra);
	if (config_load_string(yaml, strlen(yaml), "t.yaml", dir, &cfg, err, sizeof err) != 0)
		fprintf(stderr, "config: %s\n", err);
	return cfg;
}

static nlog *open_log(herald_config *cfg)
{
	char err[512] = "";
	nlog *l = NULL;
	int rc = disklog_create(cfg, &l, err, sizeof err);

	if (rc)
		fprintf(stderr, "disklog_create: %s\n", err);
	CHECK_INT(rc, 0);
	return l;
}

/* Append notification `n` for user n % 5 + 1 with id "id-<n>" (none when n < 0). */
static int append(nlog *l, int n, const char *id)
{
	char text[64], *payload;
	int64_t user = n % 5 + 1;
	route r = {.users = &user, .n_users = 1};

	snprintf(text, sizeof text, "{\"n\":%d}", n);
	payload = strdup(text);
	return l->ops->append(l, payload, strlen(payload), &r, id, id ? strlen(id) : 0, 1,
	                      (uint64_t)n, 1);
}

/* Take every entry: their n in order into ns (up to max), their ids into ids. */
static size_t take(nlog *l, int *ns, log_id *ids, size_t max)
{
	nlog_entry e[16];
	size_t n, k = 0;

	while ((n = l->ops->poll_entries(l, e, 16)) > 0)
		for (size_t i = 0; i < n; i++) {
			if (k < max) {
				ns[k] = atoi(e[i].payload + 5);
				if (ids)
					ids[k] = e[i].id;
			}
			k++;
			nlog_entry_free(&e[i]);
		}
	return k;
}

static size_t acks(nlog *l)
{
	nlog_ack a[64];
	size_t n, k = 0;

	while ((n = l->ops->poll_acks(l, a, 64)) > 0)
		k += n;
	return k;
}

/* The one segment file of the log, its path into buf. */
static int last_segment(char *buf, size_t len)
{
	char logdir[128], best[256] = "";
	struct dirent *de;
	DIR *d;

	snprintf(logdir, sizeof logdir, "%s/log", dir);
	if (!(d = opendir(logdir)))
		return -1;
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".log") && strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof best, "%s", de->d_name);
	closedir(d);
	snprintf(buf, len, "%s/%s", logdir, best);
	return best[0] ? 0 : -1;
}

static void wipe(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s/log", dir);
	CHECK_INT(system(cmd), 0);
}

static void test_records(void)
{
	unsigned char buf[256];
	disklog_record in = {.id = {1796000000000ULL, 7},
	                     .route = "u7,9 x5",
	                     .route_len = 7,
	                     .idem = "order-1",
	                     .idem_len = 7,
	                     .payload = "{\"a\":1}",
	                     .len = 7},
	               out;
	size_t size = disklog_record_size(7, 7, 7), used = 0;

	CHECK_INT(disklog_crc32c(0, "123456789", 9), 0xe3069283u); /* the check value */
	CHECK_INT(disklog_crc32c_portable(0, "123456789", 9), 0xe3069283u);
	/* The CPU's instruction and the tables agree on every length and alignment, continued. */
	{
		unsigned char bytes[300];
		uint32_t x = 12345, agree = 1;

		for (size_t i = 0; i < sizeof bytes; i++)
			bytes[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
		for (size_t off = 0; off < 8; off++)
			for (size_t n = 0; off + n <= sizeof bytes; n++)
				agree &= disklog_crc32c(n, bytes + off, n) ==
				         disklog_crc32c_portable(n, bytes + off, n);
		CHECK(agree);
	}
	disklog_record_encode(buf, &in);
	CHECK_INT(disklog_record_decode(buf, size, &out, &used), DISKLOG_REC_OK);
	CHECK_INT(used, size);
	CHECK(out.id.ms == in.id.ms && out.id.seq == 7);
	CHECK(out.route_len == 7 && memcmp(out.route, "u7,9 x5", 7) == 0);
	CHECK(out.idem_len == 7 && memcmp(out.idem, "order-1", 7) == 0);
	CHECK(out.len == 7 && memcmp(out.payload, "{\"a\":1}", 7) == 0);
	for (size_t cut = 0; cut < size; cut++) /* every torn write is seen as one */
		CHECK_INT(disklog_record_decode(buf, cut, &out, &used), DISKLOG_REC_SHORT);
	for (size_t at = 4; at < size; at++) { /* every changed byte after the length */
		buf[at] ^= 0x01;
		CHECK_INT(disklog_record_decode(buf, size, &out, &used), DISKLOG_REC_BAD);
		buf[at] ^= 0x01;
	}
	memset(buf, 0, sizeof buf); /* zeros, as a crash may leave at the end of a file */
	CHECK_INT(disklog_record_decode(buf, sizeof buf, &out, &used), DISKLOG_REC_BAD);
}

static void test_restart(void)
{
	herald_config *cfg = config("");
	nlog *l = open_log(cfg);
	char epoch[24];
	int ns[64];
	log_id ids[64], last;

	if (!l)
		goto done;
	snprintf(epoch, sizeof epoch, "%s", l->epoch);
	CHECK(strlen(epoch) == 16);
	for (int i = 0; i < 10; i++)
		CHECK_INT(append(l, i, i % 2 ? "odd" : NULL), 0); /* "odd" once, then duplicates */
	CHECK_INT(l->duplicates, 4);
	CHECK_INT(take(l, ns, ids, 64), 6);
	CHECK_INT(acks(l), 10);
	CHECK(ns[0] == 0 && ns[1] == 1 && ns[2] == 2 && ns[5] == 8);
	last = ids[5];
	l->ops->stop(l);
	l->ops->destroy(l);

	/* The next start: same epoch, the records back for the history, the id remembered. */
	l = open_log(cfg);
	if (!l)
		goto done;
	CHECK_STR(l->epoch, epoch);
	CHECK_INT(take(l, ns, ids, 64), 6);
	CHECK(ns[0] == 0 && ns[5] == 8 && log_id_cmp(ids[5], last) == 0);
	CHECK_INT(append(l, 11, "odd"), 0);
	CHECK_INT(l->duplicates, 1);
	CHECK_INT(append(l, 12, NULL), 0);
	CHECK_INT(take(l, ns, ids, 64), 1);
	CHECK_INT(ns[0], 12);
	CHECK(log_id_cmp(ids[0], last) > 0); /* positions go on after the last one */
	CHECK_INT(acks(l), 2);
	l->ops->destroy(l);

	/* A second process on the same directory is refused while the first holds it. */
	l = open_log(cfg);
	if (l) {
		char err[512] = "";
		nlog *other = NULL;
		CHECK_INT(disklog_create(cfg, &other, err, sizeof err), HERALD_ECONFIG);
		CHECK_CONTAINS(err, "in use by another herald");
		l->ops->destroy(l);
	}
	/* A wiped directory is a new log: a new epoch. */
	wipe();
	l = open_log(cfg);
	if (l) {
		CHECK(strcmp(l->epoch, epoch) != 0);
		CHECK_INT(take(l, ns, NULL, 64), 0);
		l->ops->destroy(l);
	}
done:
	config_free(cfg);
	wipe();
}

/* Damage the last segment with `how`, start again: what is left is served, nothing after. */
static void damaged(const char *what, void (*how)(const char *path, long size), int keep)
{
	herald_config *cfg = config("");
	nlog *l = open_log(cfg);
	char path[512];
	struct stat st;
	int ns[64];

	if (!l)
		goto done;
	for (int i = 0; i < 10; i++)
		append(l, i, NULL);
	CHECK_INT(take(l, ns, NULL, 64), 10);
	l->ops->destroy(l);
	CHECK_INT(last_segment(path, sizeof path), 0);
	CHECK_INT(stat(path, &st), 0);
	how(path, (long)st.st_size);
	l = open_log(cfg);
	if (!l)
		goto done;
	if (take(l, ns, NULL, 64) != (size_t)keep || ns[0] != 0 || ns[keep - 1] != keep - 1)
		fprintf(stderr, "%s: not the first %d records back\n", what, keep);
	CHECK_INT(append(l, 50, NULL), 0); /* appends go on after the cut */
	CHECK_INT(take(l, ns, NULL, 64), 1);
	l->ops->destroy(l);
	l = open_log(cfg);
	if (l) {
		CHECK_INT(take(l, ns, NULL, 64), (size_t)keep + 1);
		CHECK_INT(ns[keep], 50);
		l->ops->destroy(l);
	}
done:
	config_free(cfg);
	wipe();
}

static void cut_three_bytes(const char *path, long size)
{
	CHECK_INT(truncate(path, size - 3), 0);
}

/* One byte of the 7th record's payload ({"n":6}): after the magic, records of 38 bytes (8 of
 * length and checksum, 21 of fields, a 2-byte route, a 7-byte payload). */
static void flip_a_byte(const char *path, long size)
{
	int fd = open(path, O_RDWR);
	unsigned char c;
	off_t at = 8 + 6 * 38 + 8 + 21 + 2 + 3;

	(void)size;
	CHECK(fd >= 0 && pread(fd, &c, 1, at) == 1);
	c ^= 0x04;
	CHECK(pwrite(fd, &c, 1, at) == 1);
	close(fd);
}

static void zeros_at_the_end(const char *path, long size)
{
	CHECK_INT(truncate(path, size + 4096), 0);
}

static void test_damage(void)
{
	damaged("torn", cut_three_bytes, 9);
	damaged("flipped", flip_a_byte, 6);
	damaged("zeros", zeros_at_the_end, 10);
}

/* Whole old segments go past storage.max_bytes; what is left starts at a segment's first. */
static void test_retention(void)
{
	herald_config *cfg = config(", max_bytes: 1048576");
	nlog *l = open_log(cfg);
	char *big = malloc(100000);
	int64_t user = 1;
	route r = {.users = &user, .n_users = 1};
	int ns[64];

	if (!l || !big)
		goto done;
	memset(big, 'x', 100000);
	for (int i = 0; i < 40; i++) { /* 4 MB through segments of 1 MiB */
		char *p = malloc(100000);
		memcpy(p, big, 100000);
		CHECK_INT(l->ops->append(l, p, 100000, &r, NULL, 0, 1, (uint64_t)i, 1), 0);
		take(l, ns, NULL, 0);
		if (i % 10 == 9)
			usleep(1100 * 1000); /* retention runs once a second */
	}
	l->ops->destroy(l);
	l = open_log(cfg);
	if (l) {
		size_t back = take(l, ns, NULL, 0);
		CHECK(back >= 10 && back < 30);
		l->ops->destroy(l);
	}
done:
	free(big);
	config_free(cfg);
	wipe();
}

static void test_config(void)
{
	herald_config *cfg = NULL;
	char err[512];
	nlog *l = NULL;
	const char *mem = "storage: memory\nhistory: {size: 3}\n";
	const char *bad = "storage: disk\n";

	CHECK_INT(config_load_string(mem, strlen(mem), "t.yaml", dir, &cfg, err, sizeof err), 0);
	if (cfg) {
		CHECK(cfg->storage_memory && !cfg->storage_default && cfg->history_size == 3);
		CHECK_INT(disklog_create(cfg, &l, err, sizeof err), 0);
		CHECK_STR(l->name, "memory");
		l->ops->destroy(l);
		config_free(cfg);
	}
	CHECK_INT(config_load_string(bad, strlen(bad), "t.yaml", dir, &cfg, err, sizeof err),
	          HERALD_ECONFIG);
	CHECK_STR(err, "t.yaml:1:10: storage: must be `memory` or a mapping, got \"disk\"");
	CHECK_INT(config_load_string("", 0, "t.yaml", "/etc", &cfg, err, sizeof err), 0);
	if (cfg) {
		CHECK(!cfg->storage_memory && cfg->storage_default);
		CHECK_STR(cfg->storage_dir, "/etc/herald-data");
		CHECK_INT(cfg->storage_sync, STORAGE_SYNC_OS);
		CHECK_INT(cfg->storage_max_bytes, 1073741824);
		CHECK_INT(cfg->storage_max_age, 604800);
		config_free(cfg);
	}
	cfg = config(", sync: always");
	if (cfg) {
		CHECK_INT(cfg->storage_sync, STORAGE_SYNC_ALWAYS);
		CHECK(!cfg->storage_default);
		config_free(cfg);
	}
}

/* The shipped configs keep the log: the packaged one in the unit's StateDirectory=. */
static void test_shipped(void)
{
	const char *src = getenv("HERALD_SOURCE_DIR");
	herald_config *cfg = NULL;
	char path[512], want[512], err[512];

	if (!src)
		src = "../..";
	setenv("HERALD_JWT_SECRET", "dev-secret-change-me", 1);
	snprintf(path, sizeof path, "%s/config/herald.yaml", src);
	CHECK_INT(config_load(path, &cfg, err, sizeof err), 0);
	if (cfg) {
		CHECK(!cfg->storage_memory && !cfg->storage_default);
		CHECK_STR(cfg->storage_dir, "/var/lib/herald");
		CHECK_INT(cfg->storage_sync, STORAGE_SYNC_OS);
		config_free(cfg);
	}
	snprintf(path, sizeof path, "%s/config/herald.dev.yaml", src);
	CHECK_INT(config_load(path, &cfg, err, sizeof err), 0);
	if (cfg) {
		snprintf(want, sizeof want, "%s/config/../build/herald-data", src);
		CHECK_STR(cfg->storage_dir, want);
		config_free(cfg);
	}
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_disklog.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_records();
	test_restart();
	test_damage();
	test_retention();
	test_config();
	test_shipped();
	rmdir(dir);
	return check_done();
}
