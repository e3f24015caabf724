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

uint64_t hash_u64(const hash_key *key, uint64_t x)
{
	uint64_t v[4] = {key->k0 ^ 0x736f6d6570736575ull, key->k1 ^ 0x646f72616e646f6dull,
			 key->k0 ^ 0x6c7967656e657261ull, key->k1 ^ 0x7465646279746573ull};
	uint64_t last = (uint64_t)8 << 56; /* the message length, in the last word */

	v[3] ^= x;
	sip_round(v);
	v[0] ^= x;
	v[3] ^= last;
	sip_round(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
