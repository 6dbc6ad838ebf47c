/*
 * fuzz_audit_rules.c - libFuzzer target for audit_ctl's rule compiler and
 * its state file: the input is both a list of rule lines and a state file.
 *
 * Each line goes to ht_audit_rules_add.  Checked: it answers 0 or -EINVAL;
 * a refusal adds nothing and says why in one line that starts with the
 * origin; an accepted rule keeps its text trimmed, is on a known list with
 * a known action, and holds no more fields or string bytes than the kernel
 * takes.  Then the texts of the accepted rules go through the state file
 * (format, parse) and are compiled again, as a takeover's crash recovery
 * does: the result must be byte for byte the rule compiled the first time,
 * or recovery would fail to delete what an earlier run added.  The whole
 * input is also parsed as a state file; what parses must format and parse
 * back to the same.  Nothing here talks to the kernel beyond libaudit's
 * read-only feature query.  Leaks are LeakSanitizer's.
 */
#include "ht_build.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libaudit.h>

#include "sources/audit_ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64

static bool
saved_equal(const struct ht_audit_saved *a, const struct ht_audit_saved *b)
{
	size_t i;

	if (memcmp(&a->status, &b->status, sizeof(a->status)) != 0 || a->n_rules != b->n_rules)
		return false;
	for (i = 0; i < a->n_rules; i++)
		if (strcmp(a->rules[i], b->rules[i]) != 0)
			return false;
	return true;
}

/* s formats, parses back the same, and formats to the same text again. */
static void
check_round_trip(const struct ht_audit_saved *s)
{
	struct ht_audit_saved back = { 0 };
	char *text, *again;
	size_t len, len2;

	if (ht_audit_saved_format(s, &text, &len) < 0 || strlen(text) != len)
		abort();
	if (ht_audit_saved_parse(text, len, &back, NULL, 0) < 0 || !saved_equal(s, &back))
		abort();
	if (ht_audit_saved_format(&back, &again, &len2) < 0 || len != len2 ||
	    memcmp(text, again, len) != 0)
		abort();
	ht_audit_saved_clear(&back);
	free(text);
	free(again);
}

static void
check_rule(const struct ht_audit_rules *rs, size_t i, const char *line)
{
	const struct audit_rule_data *d = ht_audit_rules_data(rs, i);
	const char *text = ht_audit_rules_text(rs, i);
	uint32_t list = d->flags & ~(uint32_t)AUDIT_FILTER_PREPEND;

	if (text[0] == '\0' || text[0] == '#' || strstr(line, text) == NULL ||
	    strchr(" \t\r\n\v\f", text[0]) != NULL ||
	    strchr(" \t\r\n\v\f", text[strlen(text) - 1]) != NULL)
		abort();
	if (list != AUDIT_FILTER_EXIT && list != AUDIT_FILTER_TASK && list != AUDIT_FILTER_USER &&
	    list != AUDIT_FILTER_EXCLUDE && list != AUDIT_FILTER_FS)
		abort();
	if ((d->action != AUDIT_ALWAYS && d->action != AUDIT_NEVER) ||
	    d->field_count >= AUDIT_MAX_FIELDS || d->buflen > HT_AUDIT_RULE_MAX + PATH_MAX)
		abort();
}

/* Compile the accepted rules' texts again, from a state file. */
static void
check_recompile(const struct ht_audit_rules *rs)
{
	struct ht_audit_saved s = { .status = { .backlog_limit = 64, .failure = 1 } };
	struct ht_audit_saved back = { 0 };
	struct ht_audit_rules *again = NULL;
	char err[1024], *text;
	size_t i, len;

	s.n_rules = ht_audit_rules_count(rs);
	s.rules = calloc(s.n_rules + 1, sizeof(*s.rules));
	if (s.rules == NULL)
		abort();
	for (i = 0; i < s.n_rules; i++)
		s.rules[i] = (char *)ht_audit_rules_text(rs, i);
	check_round_trip(&s);
	if (ht_audit_saved_format(&s, &text, &len) < 0 ||
	    ht_audit_saved_parse(text, len, &back, NULL, 0) < 0 || ht_audit_rules_new(&again) < 0)
		abort();
	for (i = 0; i < back.n_rules; i++) {
		const struct audit_rule_data *a = ht_audit_rules_data(rs, i), *b;

		if (ht_audit_rules_add(again, back.rules[i], "again", err, sizeof(err)) != 0 ||
		    ht_audit_rules_count(again) != i + 1)
			abort();
		b = ht_audit_rules_data(again, i);
		if (a->buflen != b->buflen || memcmp(a, b, sizeof(*a) + a->buflen) != 0)
			abort();
	}
	ht_audit_rules_free(again);
	ht_audit_saved_clear(&back);
	free(text);
	free(s.rules);
}

/* Each line of the input as a rule. */
static void
fuzz_rules(const char *p, size_t size)
{
	const char *end = p + size, *nl;
	struct ht_audit_rules *rs = NULL;
	char err[1024], origin[32], *line;
	size_t n = 0, before;
	int e;

	if (ht_audit_rules_new(&rs) < 0)
		abort();
	while (p < end && n < MAX_LINES) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		line = strndup(p, (size_t)(nl - p));	/* stops at a NUL: fine */
		if (line == NULL)
			abort();
		snprintf(origin, sizeof(origin), "fuzz[%zu]", n++);
		before = ht_audit_rules_count(rs);
		err[0] = '\0';
		e = ht_audit_rules_add(rs, line, origin, err, sizeof(err));
		if (e == 0 && ht_audit_rules_count(rs) > before)
			check_rule(rs, before, line);
		else if (e == 0 && ht_audit_rules_count(rs) != before)
			abort();
		if (e < 0 && (e != -EINVAL || ht_audit_rules_count(rs) != before ||
		    strncmp(err, origin, strlen(origin)) != 0 || err[strlen(origin)] != ':' ||
		    strchr(err, '\n') != NULL))
			abort();
		free(line);
		p = nl + 1;
	}
	check_recompile(rs);
	ht_audit_rules_free(rs);
}

/* The whole input as a state file. */
static void
fuzz_state(const char *p, size_t size)
{
	struct ht_audit_saved s = { 0 };
	char err[512];
	size_t i;
	int e;

	e = ht_audit_saved_parse(p, size, &s, err, sizeof(err));
	if (e == -EINVAL)
		return;
	if (e != 0 || s.status.enabled > 1 || s.status.failure > 2)
		abort();
	for (i = 0; i < s.n_rules; i++)
		if (s.rules[i][0] == '\0' || strlen(s.rules[i]) > HT_AUDIT_RULE_MAX)
			abort();
	check_round_trip(&s);
	ht_audit_saved_clear(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_state((const char *)data, size);
	fuzz_rules((const char *)data, size);
	return 0;
}
