/*
 * test_audit_golden.c - audit.log fixtures through the whole audit path:
 * ht_audit_parse_line, the assembler (flushed at the end of the file),
 * ht_audit_map without name resolution and ht_record_serialize.  Each
 * record must equal the next line of NAME.expected.jsonl byte for byte,
 * parse back with ht_record_parse, and serialize again to the same bytes.
 *
 * The fixtures (tests/fixtures/audit/NAME.log) are written in auditd's own
 * raw and ENRICHED formats and together cover every row of the mapping
 * table, with interleaved serials, hex-encoded values, garbage lines and a
 * truncated last line.  Lines the parser refuses are skipped, as the file
 * source skips them; how many is part of the expectation.  The expected
 * records were reviewed by hand: change them only with the same care.
 *
 * HT_SRCDIR is the source tree (make check sets it; default "."), and
 * HT_GOLDEN_OUT=DIR writes each fixture's actual records to DIR/NAME.jsonl
 * for review.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "record.h"
#include "sources/audit_map.h"
#include "sources/audit_parse.h"

struct fixture {
	const char *name;
	unsigned skipped;	/* lines the parser must refuse */
};

struct run {
	struct ht_audit_map_ctx ctx;
	struct printbuf *out;	/* records, one per line */
	unsigned records;
	unsigned failures;
};

static char *
read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (f == NULL) {
		print_error("cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)len + 1)) != NULL) {
		if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		} else {
			buf[len] = '\0';
			*ret_len = (size_t)len;
		}
	}
	fclose(f);
	return buf;
}

static void
fixture_path(char *buf, size_t len, const char *name, const char *suffix)
{
	const char *src = getenv("HT_SRCDIR");

	snprintf(buf, len, "%s/tests/fixtures/audit/%s%s", src != NULL ? src : ".", name, suffix);
}

/* The assembler's callback: map, serialize, check the round trip. */
static void
on_event(struct ht_audit_event *e, void *arg)
{
	struct run *run = arg;
	struct ht_record *rec = NULL, *back = NULL;
	struct printbuf *pb = printbuf_new(), *again = printbuf_new();
	char err[256];
	int start = run->out->bpos;

	assert_non_null(pb);
	assert_non_null(again);
	assert_int_equal(ht_audit_map(e, &run->ctx, &rec), 0);
	assert_int_equal(ht_record_serialize(rec, pb), 0);
	if (ht_record_parse(pb->buf, (size_t)pb->bpos, &back, err, sizeof(err)) != 0) {
		print_error("record %u does not parse back: %s\n%s\n", run->records + 1, err,
		    pb->buf);
		run->failures++;
	} else {
		assert_int_equal(ht_record_serialize(back, again), 0);
		if (strcmp(again->buf, pb->buf) != 0) {
			print_error("record %u changes on a round trip\n", run->records + 1);
			run->failures++;
		}
	}
	assert_int_equal(printbuf_memappend(run->out, pb->buf, pb->bpos), pb->bpos);
	assert_int_equal(printbuf_memappend(run->out, "\n", 1), 1);
	assert_true(run->out->bpos > start);
	run->records++;
	ht_record_free(back);
	ht_record_free(rec);
	printbuf_free(pb);
	printbuf_free(again);
	ht_audit_event_free(e);
}

/* Feed every line of text (the last one even without its newline). */
static unsigned
feed_lines(struct ht_audit_asm *a, const char *text, size_t len)
{
	struct ht_audit_record *r;
	const char *p = text, *nl, *end = text + len;
	unsigned skipped = 0;
	char err[256];

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (ht_audit_parse_line(p, (size_t)(nl - p), &r, err, sizeof(err)) == 0) {
			r->tag = (uint64_t)(p - text);
			assert_int_equal(ht_audit_asm_feed(a, r, 0), 0);
		} else {
			skipped++;
		}
		p = nl < end ? nl + 1 : end;
	}
	return skipped;
}

static void
write_actual(const char *name, const struct printbuf *out)
{
	const char *dir = getenv("HT_GOLDEN_OUT");
	char path[4096];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, name);
	f = fopen(path, "w");
	if (f != NULL) {
		fwrite(out->buf, 1, (size_t)out->bpos, f);
		fclose(f);
	}
}

/* Line by line, naming the first difference. */
static void
compare(const char *name, const char *want, const char *got)
{
	unsigned line = 1;
	const char *wn, *gn;
	size_t wl, gl;

	for (;;) {
		wn = strchr(want, '\n');
		gn = strchr(got, '\n');
		wl = wn != NULL ? (size_t)(wn - want) : strlen(want);
		gl = gn != NULL ? (size_t)(gn - got) : strlen(got);
		if (wl != gl || memcmp(want, got, wl) != 0) {
			print_error("%s.expected.jsonl line %u differs\nwant: %.*s\ngot:  %.*s\n",
			    name, line, (int)wl, want, (int)gl, got);
			fail();
		}
		if (wn == NULL || gn == NULL) {
			assert_true(wn == NULL && gn == NULL);
			return;
		}
		want = wn + 1;
		got = gn + 1;
		line++;
	}
}

static void
test_fixture(void **state)
{
	const struct fixture *fx = *state;
	struct run run = { .ctx = { .names = NULL, .source = "auditlog", .now_ms = 0 } };
	struct ht_audit_asm *a;
	char path[4096];
	char *log, *want;
	size_t log_len, want_len;
	unsigned skipped;

	fixture_path(path, sizeof(path), fx->name, ".log");
	log = read_file(path, &log_len);
	assert_non_null(log);
	fixture_path(path, sizeof(path), fx->name, ".expected.jsonl");
	want = read_file(path, &want_len);
	assert_non_null(want);
	run.out = printbuf_new();
	assert_non_null(run.out);
	assert_int_equal(ht_audit_asm_new(NULL, on_event, &run, &a), 0);

	skipped = feed_lines(a, log, log_len);
	ht_audit_asm_flush(a);
	ht_audit_asm_free(a);
	write_actual(fx->name, run.out);

	assert_int_equal(run.failures, 0);
	assert_int_equal(skipped, fx->skipped);
	compare(fx->name, want, run.out->buf);
	printbuf_free(run.out);
	free(want);
	free(log);
}

static const struct fixture fixtures[] = {
	{ "login", 3 },
	{ "identity", 2 },
	{ "process", 4 },
	{ "system", 2 },
	{ "enriched", 1 },
};

int
main(void)
{
	struct CMUnitTest tests[sizeof(fixtures) / sizeof(fixtures[0])];
	size_t i;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_fixture,
		    (void *)&fixtures[i]);
		tests[i].name = fixtures[i].name;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
