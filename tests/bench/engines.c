/*
 * engines.c - the measurement behind the choice of the on-disk log's engine (core/README.md,
 * "Storage"): 100,000 records of 400 bytes appended in batches of 100, into a segment file
 * (one write() per batch, and one fdatasync() per batch for `always`) and into LMDB (one
 * transaction per batch, MDB_APPEND; MDB_NOSYNC for `os`), in turns, three rounds.
 *
 *   apt-get install liblmdb-dev
 *   cc -O2 -o /tmp/engines tests/bench/engines.c -llmdb && nice /tmp/engines [DIR]
 *
 * Not built by CMake: Herald does not depend on LMDB. DIR (default /tmp/herald-engines) is
 * emptied and used.
 */
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORDS 100000
#define BATCH 100
#define SIZE 400

static double engines_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void engines_report(const char *engine, int sync, double took)
{
	printf("%-8s %-7s %9.0f records/s  %6.2f ms a batch\n", engine, sync ? "always" : "os",
	       RECORDS / took, took * 1000 / (RECORDS / BATCH));
}

static void engines_segment(const char *dir, int sync)
{
	char path[512], *buf = malloc((size_t)BATCH * (SIZE + 8));
	double t0;
	int fd;

	snprintf(path, sizeof path, "%s/segment.log", dir);
	if (!buf || (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		exit(1);
	memset(buf, 'x', (size_t)BATCH * (SIZE + 8));
	t0 = engines_now();
	for (int i = 0; i < RECORDS; i += BATCH) {
		size_t len = (size_t)BATCH * (SIZE + 8);
		memcpy(buf, &i, sizeof i); /* a header per record would change nothing measurable */
		if (write(fd, buf, len) != (ssize_t)len || (sync && fdatasync(fd) != 0))
			exit(1);
	}
	engines_report("segment", sync, engines_now() - t0);
	close(fd);
	unlink(path);
	free(buf);
}

static void engines_lmdb(const char *dir, int sync)
{
	char path[256], cmd[600], rec[SIZE];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	double t0;

	snprintf(path, sizeof path, "%s/lmdb", dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
	if (system(cmd) != 0 || mdb_env_create(&env) || mdb_env_set_mapsize(env, 1UL << 30) ||
	    mdb_env_open(env, path, sync ? 0 : MDB_NOSYNC, 0600) ||
	    mdb_txn_begin(env, 0, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) ||
	    mdb_txn_commit(txn))
		exit(1);
	memset(rec, 'x', sizeof rec);
	t0 = engines_now();
	for (int i = 0; i < RECORDS; i += BATCH) {
		if (mdb_txn_begin(env, NULL, 0, &txn))
			exit(1);
		for (int j = 0; j < BATCH; j++) {
			uint64_t key =
			    __builtin_bswap64((uint64_t)(i + j) + 1); /* big-endian: sorted */
			MDB_val k = {sizeof key, &key}, v = {sizeof rec, rec};
			if (mdb_put(txn, dbi, &k, &v, MDB_APPEND))
				exit(1);
		}
		if (mdb_txn_commit(txn))
			exit(1);
	}
	engines_report("lmdb", sync, engines_now() - t0);
	mdb_env_close(env);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/herald-engines";

	mkdir(dir, 0700);
	for (int round = 0; round < 3; round++) {
		engines_segment(dir, 0);
		engines_lmdb(dir, 0);
		engines_segment(dir, 1);
		engines_lmdb(dir, 1);
	}
	return 0;
}
