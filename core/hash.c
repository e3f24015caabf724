/* hash.c - see hash.h. SipHash-1-3 specialised to one 64-bit message word. */
#include "hash.h"

#include <sys/random.h>
#include <time.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

void hash_key_random(hash_key *key)
{
	uint64_t k[2];

	if (getrandom(k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
		k[1] = (uint64_t)(uintptr_t)key * 0xbf58476d1ce4e5b9ull ^ k[0];
	}
	key->k0 = k[0];
	key->k1 = k[1];
}

static void sip_init(const hash_key *key, uint64_t v[4])
{
	v[0] = key->k0 ^ 0x736f6d6570736575ull;
	v[1] = key->k1 ^ 0x646f72616e646f6dull;
	v[2] = key->k0 ^ 0x6c7967656e657261ull;
	v[3] = key->k1 ^ 0x7465646279746573ull;
}

static void sip_word(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	v[0] ^= m;
}

static uint64_t sip_final(uint64_t v[4])
{
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t hash_u64(const hash_key *key, uint64_t x)
{
	uint64_t v[4];

	sip_init(key, v);
	sip_word(v, x);
	sip_word(v, (uint64_t)8 << 56); /* the message length, in the last word */
	return sip_final(v);
}

uint64_t hash_bytes(const hash_key *key, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v[4], last = (uint64_t)len << 56;
	size_t i = 0;

	sip_init(key, v);
	for (; i + 8 <= len; i += 8) {
		uint64_t m = 0;
		for (int b = 0; b < 8; b++)
			m |= (uint64_t)p[i + b] << (8 * b);
		sip_word(v, m);
	}
	for (int b = 0; i < len; i++, b++)
		last |= (uint64_t)p[i] << (8 * b);
	sip_word(v, last);
	return sip_final(v);
}
