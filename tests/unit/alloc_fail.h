/*
 * alloc_fail.h - allocation-failure injection for unit tests, shared by the
 * tests whose Makefile.am entries link with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=asprintf
 * Set alloc_fail_at to N to make the Nth allocation after resetting
 * alloc_calls fail; 0 fails none.  Without the link flags the wrappers are
 * never called (the __real_ symbols are weak), so tests can tell and skip.
 * Include it in exactly one file of a test program.
 */
#ifndef HT_TEST_ALLOC_FAIL_H
#define HT_TEST_ALLOC_FAIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n) __attribute__((weak));
void *__real_calloc(size_t n, size_t size) __attribute__((weak));
void *__real_realloc(void *p, size_t n) __attribute__((weak));
char *__real_strdup(const char *s) __attribute__((weak));
char *__real_strndup(const char *s, size_t n) __attribute__((weak));
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static unsigned alloc_calls;	/* allocations seen since the last reset */
static unsigned alloc_fail_at;	/* fail exactly this call (1-based); 0 = none */

static bool
alloc_fails(void)
{
	return ++alloc_calls == alloc_fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return alloc_fails() ? NULL : __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	return alloc_fails() ? NULL : __real_strndup(s, n);
}

int
__wrap_asprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (alloc_fails())
		return -1;
	va_start(ap, fmt);
	r = vasprintf(ret, fmt, ap);
	va_end(ap);
	return r;
}

#endif
