/* check.h - the few assertion macros of Herald's unit tests. A failed CHECK reports and the
 * test goes on; check_done() prints the tally and gives main's exit status. */
#ifndef HERALD_CHECK_H
#define HERALD_CHECK_H

#include <stdio.h>
#include <string.h>

static int checks_run, checks_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		checks_run++;                                                                      \
		if (!(cond)) {                                                                     \
			checks_failed++;                                                           \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		checks_run++;                                                                      \
		if (check_a_ != check_b_) {                                                        \
			checks_failed++;                                                           \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
			        __LINE__, #a, check_a_, #b, check_b_);                             \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		checks_run++;                                                                      \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                   \
			checks_failed++;                                                           \
			fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,        \
			        __LINE__, #a, check_a_ ? check_a_ : "(null)",                      \
			        check_b_ ? check_b_ : "(null)");                                   \
		}                                                                                  \
	} while (0)

/* Passes when `hay` contains `needle`. */
#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *check_h_ = (hay), *check_n_ = (needle);                                \
		checks_run++;                                                                      \
		if (!check_h_ || !strstr(check_h_, check_n_)) {                                    \
			checks_failed++;                                                           \
			fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,       \
			        __LINE__, check_h_ ? check_h_ : "(null)", check_n_);               \
		}                                                                                  \
	} while (0)

static inline int check_done(void)
{
	printf("%d checks, %d failed\n", checks_run, checks_failed);
	return checks_failed ? 1 : 0;
}

#endif
