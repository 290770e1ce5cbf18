/* SPDX-License-Identifier: GPL-2.0 */
/* tests/test.h - the tiny assertion kit shared by every C test runner.
 *
 * Each runner is one binary with a table of test functions; every ASSERT
 * counts one pass or one fail and prints actual vs expected on failure.
 * The runner's last line is "N passed, N failed" and its exit code is
 * non-zero on any failure. Nothing here may hide a failure.
 */
#ifndef XDPFENCE_TEST_H
#define XDPFENCE_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern int n_pass, n_fail;
extern const char *test_current;

#define TEST_FAIL_AT(fmt, ...)                                                  \
	fprintf(stderr, "FAIL %s: %s:%d: " fmt "\n", test_current, __FILE__,  \
		__LINE__, ##__VA_ARGS__)

#define ASSERT_EQ(a, b, name) ({                                               \
	long long _a = (long long)(a), _b = (long long)(b);                    \
	bool _ok = _a == _b;                                                   \
	if (_ok)                                                               \
		n_pass++;                                                      \
	else {                                                                 \
		n_fail++;                                                      \
		TEST_FAIL_AT("%s: got %lld, want %lld", name, _a, _b);         \
	}                                                                      \
	_ok; })

#define ASSERT_TRUE(c, name) ASSERT_EQ(!!(c), 1, name)

#define ASSERT_STREQ(a, b, name) ({                                            \
	const char *_a = (a), *_b = (b);                                       \
	bool _ok = _a && _b && strcmp(_a, _b) == 0;                            \
	if (_ok)                                                               \
		n_pass++;                                                      \
	else {                                                                 \
		n_fail++;                                                      \
		TEST_FAIL_AT("%s: got \"%s\", want \"%s\"", name,              \
			     _a ? _a : "(null)", _b ? _b : "(null)");          \
	}                                                                      \
	_ok; })

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* Runs every case (or only those whose name contains argv[1]), prints
 * "N passed, N failed" and returns the exit code. */
int test_main(const struct test_case *cases, int argc, char **argv);

#define TEST_MAIN(...)                                                         \
	int n_pass, n_fail;                                                    \
	const char *test_current;                                              \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		static const struct test_case cases[] = { __VA_ARGS__, { 0 } };\
		return test_main(cases, argc, argv);                           \
	}

#define T(fn) { #fn, fn }

#endif
