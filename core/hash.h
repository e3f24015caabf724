/*
 * hash.h - keyed hashing of ids chosen outside the hub (by clients or sources).
 *
 * Tables keyed by such ids hash them with SipHash-1-3 under a random key drawn once per
 * process, so nobody can choose ids that collide (hash flooding).
 */
#ifndef HERALD_HASH_H
#define HERALD_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct hash_key {
	uint64_t k0, k1;
} hash_key;

/* A random key (getrandom; the clock if the kernel has no entropy to give). */
void hash_key_random(hash_key *key);

/* SipHash-1-3 of the 8 bytes of `x` (as one message word) under `key`. */
uint64_t hash_u64(const hash_key *key, uint64_t x);

/* SipHash-1-3 of the `len` bytes at `data` under `key`. */
uint64_t hash_bytes(const hash_key *key, const void *data, size_t len);

#endif
