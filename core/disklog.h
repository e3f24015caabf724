/*
 * disklog.h - the embedded notification log on disk (see nlog.h and core/README.md,
 * "Storage"): segment files of checksummed records in storage.dir, so that the epoch, the
 * positions, the history and the idempotency ids outlive a restart.
 *
 * A segment is "<first id ms>-<first id seq>.log" (16 hex digits each), an 8-byte magic, then
 * records appended back to back:
 *
 *   u32 body length | u32 CRC32C of the body | body:
 *   u64 ms | u64 seq | u32 route length | u8 id length | route text | id | notification JSON
 *
 * (little-endian). The epoch is the file "epoch", written once when the directory is new.
 */
#ifndef HERALD_DISKLOG_H
#define HERALD_DISKLOG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "nlog.h"

#define DISKLOG_MAGIC "HRLDLOG1"
#define DISKLOG_MAGIC_LEN 8
#define DISKLOG_HEAD 8                 /* length and CRC before each body */
#define DISKLOG_BODY_MIN 21            /* ms, seq, route length, id length */
#define DISKLOG_BODY_MAX (1024u << 20) /* a longer length is a corrupt one */

/* One record, its texts borrowed from the buffer it was decoded from. */
typedef struct disklog_record {
	log_id id;
	const char *route; /* route_len bytes, not NUL-terminated */
	size_t route_len;
	const char *idem; /* the idempotency id, idem_len bytes (0: none) */
	size_t idem_len;
	const char *payload;
	size_t len;
} disklog_record;

enum { DISKLOG_REC_OK = 0, DISKLOG_REC_SHORT = 1, DISKLOG_REC_BAD = 2 };

/* Decode the record at the start of buf[0 .. len): DISKLOG_REC_OK (*rec filled, *used its bytes),
 * DISKLOG_REC_SHORT (the bytes end inside a record: a torn write) or DISKLOG_REC_BAD (a length
 * out of bounds, a checksum that does not match, or fields that do not fit). Never a negative. */
int disklog_record_decode(const unsigned char *buf, size_t len, disklog_record *rec, size_t *used);

/* Bytes the record of these fields takes; disklog_record_encode() writes exactly that many. */
size_t disklog_record_size(size_t route_len, size_t idem_len, size_t len);
void disklog_record_encode(unsigned char *out, const disklog_record *rec);

/* CRC32C (Castagnoli) of buf, continuing from crc (0 to start): with the CPU's instruction where
 * it has one (x86-64 SSE 4.2), else disklog_crc32c_portable, the same by tables (also what the
 * tests compare the instruction's results with). */
uint32_t disklog_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t disklog_crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
