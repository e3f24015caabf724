/* fuzz.h - what the libFuzzer targets of tests/fuzz/ share. */
#ifndef HERALD_FUZZ_H
#define HERALD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise of the code under test is a finding like a crash: report it and abort, so
 * libFuzzer saves the input. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* True when the error message in buf[len] is NUL-terminated and not empty. */
static inline int fuzz_message_ok(const char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && buf[n])
		n++;
	return n > 0 && n < len;
}

#endif
