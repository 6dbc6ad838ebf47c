/*
 * fuzz_audit.c - libFuzzer target for ht_audit_parse_* and the assembler.
 *
 * The input is a log: each line goes to ht_audit_parse_line, or, when it
 * starts with "audit(", to ht_audit_parse_netlink under a type taken in turn
 * from a few (kernel, standalone, EOE, unknown).  Parsed records are fed
 * with a clock that mostly moves forward, ticks come every few lines, and a
 * flush ends the input.  The first byte picks small bounds so eviction,
 * timeouts and the size bound all happen.
 *
 * Checks the contract, not just memory safety: a refused line says why and
 * where and hands back nothing; every field is NUL-terminated at its len;
 * every emitted event has records, all of its audit(TIME:SERIAL) and node,
 * none of them EOE, at most max_records, first_tag their smallest tag; a
 * standalone event has one record and is complete; and after the flush
 * nothing is open and the counts add up.  Leaks are LeakSanitizer's.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/audit_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	size_t max_records;
	uint64_t events;
};

static void
check_record(const struct ht_audit_record *r)
{
	size_t i;

	if (r->type_name == NULL || (r->n_fields > 0 && r->fields == NULL))
		abort();
	for (i = 0; i < r->n_fields; i++) {
		const struct ht_audit_field *f = &r->fields[i];

		if (f->name == NULL || f->name[0] == '\0' || f->value == NULL ||
		    f->value[f->len] != '\0')
			abort();
		if (ht_audit_field(r, f->name) == NULL)
			abort();
	}
}

static bool
same_node(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
check_event(struct ht_audit_event *e, void *arg)
{
	struct check *c = arg;
	uint64_t low = UINT64_MAX;
	size_t i;

	if (e->n_records == 0 || e->n_records > c->max_records)
		abort();
	for (i = 0; i < e->n_records; i++) {
		const struct ht_audit_record *r = e->records[i];

		if (r->serial != e->serial || r->time_ms != e->time_ms ||
		    !same_node(r->node, e->node) || r->type == HT_AUDIT_EOE)
			abort();
		if (ht_audit_type_standalone(r->type) && (e->n_records != 1 || !e->complete))
			abort();
		if (r->tag < low)
			low = r->tag;
		check_record(r);
	}
	if (e->first_tag != low || ht_audit_event_record(e, e->records[0]->type) == NULL)
		abort();
	c->events++;
	ht_audit_event_free(e);
}

static const unsigned nl_types[] = {
	HT_AUDIT_SYSCALL, HT_AUDIT_EXECVE, HT_AUDIT_EOE, HT_AUDIT_USER_LOGIN,
	HT_AUDIT_PROCTITLE, 1999, 0, HT_AUDIT_PATH,
};

/* One line: parsed, checked, fed. */
static void
one_line(struct ht_audit_asm *a, const char *p, size_t len, uint64_t tag, int64_t now,
    unsigned *nl)
{
	struct ht_audit_record *r = NULL;
	char err[128];
	int e;

	err[0] = '\0';
	if (len >= 6 && memcmp(p, "audit(", 6) == 0)
		e = ht_audit_parse_netlink(nl_types[(*nl)++ % 8], p, len, &r, err, sizeof(err));
	else
		e = ht_audit_parse_line(p, len, &r, err, sizeof(err));
	if (e < 0) {
		if (r != NULL || (e != -EINVAL && e != -E2BIG && e != -ENOMEM) ||
		    (e == -EINVAL && strstr(err, " at byte ") == NULL))
			abort();
		return;
	}
	if (e != 0 || r == NULL)
		abort();
	check_record(r);
	r->tag = tag;
	if (ht_audit_asm_feed(a, r, now) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct ht_audit_asm_conf conf = { 0 };
	struct ht_audit_asm_stats st;
	struct ht_audit_asm *a = NULL;
	struct check c = { 0 };
	unsigned n = 0, types = 0;
	int64_t now = 0;

	if (size > 0 && (data[0] & 1)) {
		conf.max_open = 1 + (data[0] >> 1 & 3);
		conf.max_records = 1 + (data[0] >> 3 & 7);
		conf.timeout_ms = 5;
		conf.max_bytes = (data[0] & 0x80) ? 2048 : 0;
	}
	c.max_records = conf.max_records != 0 ? conf.max_records : 256;
	if (ht_audit_asm_new(&conf, check_event, &c, &a) < 0)
		return 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		one_line(a, p, (size_t)(nl - p), (uint64_t)(p - (const char *)data), now, &types);
		/* mostly forward, sometimes back */
		now += (n % 7 == 6) ? -3 : 1;
		if (++n % 4 == 0) {
			ht_audit_asm_tick(a, now);
			ht_audit_asm_stats(a, &st);
			if (st.open > 0 && ht_audit_asm_low_tag(a) == UINT64_MAX)
				abort();
		}
		if (nl == end)
			break;
		p = nl + 1;
	}
	ht_audit_asm_flush(a);
	ht_audit_asm_stats(a, &st);
	if (st.open != 0 || st.bytes != 0 || st.events != c.events ||
	    st.incomplete > st.events || ht_audit_asm_low_tag(a) != UINT64_MAX)
		abort();
	ht_audit_asm_free(a);
	return 0;
}
