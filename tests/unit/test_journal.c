/*
 * test_journal.c - the pure parts of daemon/sources/journal.c: what is
 * kept of a journal entry's fields and how it becomes an ht_hostmsg (the
 * fallbacks _COMM, SYSLOG_PID and USER_UNIT; NUL bytes, bad numbers,
 * over-long values and malformed items flagged but kept), the mapping of
 * such entries end to end; the checkpoint file (round trip, a head
 * checkpoint, every damaged or truncated form refused); the source id and
 * the recognition of the source's own records in history; and every
 * allocation failing in turn.  Reading real journal files is the
 * integration test's part (tests/integration/test_journal.py).
 *
 * The allocation part needs the link flags
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 *   --wrap=strndup,--wrap=asprintf
 * and is skipped without them.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "alloc_fail.h"
#include "record.h"
#include "sources/hostmsg.h"
#include "sources/journal.h"

#define UNUSED __attribute__((unused))
#define RT 1795500156123456ULL		/* 2026-11-24T06:02:36.123456Z, in µs */
#define CURSOR "s=0f1e2d3c4b5a69788796a5b4c3d2e1f0;i=1a2b;b=00112233445566778899aabbccddeeff;" \
	"m=4ef6d8;t=660ff124c3498;x=7e44385422c6eecd"

/* Add "FIELD=value" items (NUL-terminated strings) to f. */
static void
add_all(struct ht_journal_fields *f, const char *const *items)
{
	for (; *items != NULL; items++)
		assert_int_equal(ht_journal_fields_add(f, *items, strlen(*items)), 0);
}

/* ---- fields ---- */

static void
test_fields_kept(void **state UNUSED)
{
	static const char *const items[] = {
		"_BOOT_ID=00112233445566778899aabbccddeeff", "PRIORITY=6", "_TRANSPORT=syslog",
		"_HOSTNAME=web1", "SYSLOG_IDENTIFIER=sshd", "_COMM=sshd-session", "_PID=4242",
		"SYSLOG_PID=1", "_UID=0", "_SYSTEMD_UNIT=ssh.service", "MESSAGE_ID=abc",
		"UNIT=u.service", "USER_UNIT=v.service", "JOB_TYPE=start", "JOB_RESULT=done",
		"MESSAGE=Accepted password for alice from 192.0.2.1 port 22 ssh2",
		"CODE_FILE=src/x.c", NULL,
	};
	struct ht_journal_fields f = { 0 };
	struct ht_hostmsg m;

	add_all(&f, items);
	ht_journal_fields_hostmsg(&f, RT, &m);
	assert_int_equal(f.bad, 0);
	assert_int_equal(m.time_ms, (int64_t)(RT / 1000));
	assert_string_equal(m.hostname, "web1");
	assert_string_equal(m.ident, "sshd");
	assert_string_equal(m.message, "Accepted password for alice from 192.0.2.1 port 22 ssh2");
	assert_int_equal(m.pid, 4242);
	assert_int_equal(m.uid, 0);
	assert_string_equal(m.systemd_unit, "ssh.service");
	assert_null(m.message_id);	/* a message ID counts only from systemd */
	assert_string_equal(m.unit, "u.service");
	assert_string_equal(m.job_type, "start");
	assert_string_equal(m.job_result, "done");
	assert_string_equal(m.origin, "journal");
	ht_journal_fields_free(&f);
	ht_journal_fields_free(NULL);
}

static void
test_fields_fallbacks(void **state UNUSED)
{
	static const char *const items[] = {
		"_COMM=useradd", "SYSLOG_PID=77", "USER_UNIT=app.service", "MESSAGE=x", NULL,
	};
	struct ht_journal_fields f = { 0 };
	struct ht_hostmsg m;

	add_all(&f, items);
	ht_journal_fields_hostmsg(&f, RT, &m);
	assert_string_equal(m.ident, "useradd");
	assert_int_equal(m.pid, 77);
	assert_string_equal(m.unit, "app.service");
	assert_int_equal(m.uid, -1);
	assert_null(m.hostname);
	assert_null(m.systemd_unit);
	assert_null(m.message_id);
	assert_int_equal(f.bad, 0);

	/* nothing at all, and no timestamp */
	ht_journal_fields_reset(&f);
	ht_journal_fields_hostmsg(&f, 0, &m);
	assert_int_equal(m.time_ms, -1);
	assert_null(m.ident);
	assert_null(m.message);
	assert_null(m.unit);
	assert_int_equal(m.pid, -1);
	assert_int_equal(f.bad, HT_JBAD_TIME);
	ht_journal_fields_free(&f);
}

static void
test_fields_odd(void **state UNUSED)
{
	static const char nul_msg[] = "MESSAGE=a\0b\0";
	struct ht_journal_fields f = { 0 };
	struct ht_hostmsg m;
	char *big;
	size_t n;

	/* the first of a repeated field counts; '=' inside a value stays */
	add_all(&f, (const char *const[]){ "MESSAGE=k=v", "MESSAGE=second", NULL });
	assert_string_equal(ht_journal_fields_get(&f, HT_JF_MESSAGE), "k=v");
	assert_int_equal(f.bad, 0);

	/* malformed items: flagged, nothing kept */
	ht_journal_fields_reset(&f);
	assert_int_equal(ht_journal_fields_add(&f, "NOEQUALS", 8), 0);
	assert_int_equal(f.bad, HT_JBAD_SHAPE);
	ht_journal_fields_reset(&f);
	assert_int_equal(ht_journal_fields_add(&f, "=value", 6), 0);
	assert_int_equal(f.bad, HT_JBAD_SHAPE);
	assert_null(ht_journal_fields_get(&f, HT_JF_MESSAGE));

	/* NUL bytes: kept as the text \x00 */
	ht_journal_fields_reset(&f);
	assert_int_equal(ht_journal_fields_add(&f, nul_msg, sizeof(nul_msg) - 1), 0);
	assert_string_equal(ht_journal_fields_get(&f, HT_JF_MESSAGE), "a\\x00b\\x00");
	assert_int_equal(f.bad, HT_JBAD_NUL);

	/* numbers that are not */
	ht_journal_fields_reset(&f);
	add_all(&f, (const char *const[]){ "_PID=12x", "_UID=", "SYSLOG_PID=9", NULL });
	ht_journal_fields_hostmsg(&f, RT, &m);
	assert_int_equal(m.pid, 9);	/* _PID unusable: SYSLOG_PID */
	assert_int_equal(m.uid, -1);
	assert_int_equal(f.bad, HT_JBAD_NUMBER);
	ht_journal_fields_reset(&f);
	add_all(&f, (const char *const[]){ "_PID=12345678901234567890", NULL });
	ht_journal_fields_hostmsg(&f, RT, &m);
	assert_int_equal(m.pid, -1);
	assert_int_equal(f.bad, HT_JBAD_NUMBER);

	/* a value over the bound is cut there; the buffer grows and is reused */
	n = 8 + HT_JOURNAL_FIELD_MAX + 100;
	big = malloc(n);
	assert_non_null(big);
	memcpy(big, "MESSAGE=", 8);
	memset(big + 8, 'x', n - 8);
	ht_journal_fields_reset(&f);
	assert_int_equal(ht_journal_fields_add(&f, big, n), 0);
	assert_int_equal(strlen(ht_journal_fields_get(&f, HT_JF_MESSAGE)), HT_JOURNAL_FIELD_MAX);
	assert_int_equal(f.bad, HT_JBAD_CUT);
	ht_journal_fields_reset(&f);
	add_all(&f, (const char *const[]){ "_HOSTNAME=h", NULL });
	assert_string_equal(ht_journal_fields_get(&f, HT_JF_HOSTNAME), "h");
	assert_null(ht_journal_fields_get(&f, HT_JF_MESSAGE));
	free(big);
	ht_journal_fields_free(&f);
}

/* Entry items through hostmsg: kind and eventName. */
static void
map_entry(const char *const *items, enum ht_hostmsg_kind want_kind, const char *want_name,
    const char *want_text)
{
	struct ht_journal_fields f = { 0 };
	enum ht_hostmsg_kind kind;
	struct ht_record *rec = NULL;
	struct ht_hostmsg m;
	const char *json;
	struct json_object *o;

	add_all(&f, items);
	ht_journal_fields_hostmsg(&f, RT, &m);
	assert_int_equal(ht_hostmsg_map(&m, &rec, &kind), 0);
	assert_int_equal(kind, want_kind);
	assert_string_equal(rec->event_name, want_name);
	assert_int_equal(rec->event_time, (time_t)(RT / 1000000));
	o = rec->request_parameters;
	json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strstr(json, want_text) == NULL)
		fail_msg("%s: want %s in %s", want_name, want_text, json);
	ht_record_free(rec);
	ht_journal_fields_free(&f);
}

static void
test_fields_map(void **state UNUSED)
{
	map_entry((const char *const[]){ "SYSLOG_IDENTIFIER=sshd", "_PID=10", "_UID=0",
	    "MESSAGE=Failed password for root from 203.0.113.9 port 2222 ssh2", NULL },
	    HT_HOSTMSG_MAPPED, "UserLogin", "\"userName\":\"root\"");
	map_entry((const char *const[]){ "SYSLOG_IDENTIFIER=systemd", "_PID=1",
	    "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", "UNIT=cron.service",
	    "JOB_TYPE=start", "JOB_RESULT=done",
	    "MESSAGE=Started cron.service - Regular background program processing daemon.",
	    NULL }, HT_HOSTMSG_MAPPED, "StartService", "\"unit\":\"cron.service\"");
	/* a user manager's job: USER_UNIT names the unit */
	map_entry((const char *const[]){ "SYSLOG_IDENTIFIER=systemd", "_PID=900", "_UID=1000",
	    "MESSAGE_ID=9d1aaa27d60140bd96365438aad20286", "USER_UNIT=pipewire.service",
	    "JOB_TYPE=stop", "JOB_RESULT=done", "MESSAGE=Stopped pipewire.service.", NULL },
	    HT_HOSTMSG_MAPPED, "StopService", "\"unit\":\"pipewire.service\"");
	map_entry((const char *const[]){ "_COMM=kworker", "MESSAGE=hello", NULL },
	    HT_HOSTMSG_GENERIC, "LogMessage", "\"message\":\"hello\"");
	/* the sender's own name decides: `logger -t sshd` is no login, and
	 * only systemd's job messages are service changes */
	map_entry((const char *const[]){ "SYSLOG_IDENTIFIER=sshd", "_COMM=logger", "_UID=1000",
	    "MESSAGE=Accepted password for root from 203.0.113.9 port 2222 ssh2", NULL },
	    HT_HOSTMSG_GENERIC, "LogMessage", "\"ident\":\"logger\"");
	map_entry((const char *const[]){ "SYSLOG_IDENTIFIER=sshd", "_COMM=sshd-session",
	    "MESSAGE=Accepted password for root from 203.0.113.9 port 2222 ssh2", NULL },
	    HT_HOSTMSG_MAPPED, "UserLogin", "\"userName\":\"root\"");
	map_entry((const char *const[]){ "SYSLOG_IDENTIFIER=systemd", "_COMM=python3",
	    "MESSAGE_ID=39f53479d3a045ac8e11786248231fbf", "UNIT=cron.service",
	    "JOB_TYPE=start", "JOB_RESULT=done", "MESSAGE=Started cron.service.", NULL },
	    HT_HOSTMSG_GENERIC, "LogMessage", "\"ident\":\"python3\"");
	map_entry((const char *const[]){ "SYSLOG_IDENTIFIER=app", NULL }, HT_HOSTMSG_GENERIC,
	    "LogMessage", "\"message\":\"\"");
}

/* ---- checkpoint ---- */

static void
roundtrip(const struct ht_journal_checkpoint *cp, const char *what, const char *want_text)
{
	struct ht_journal_checkpoint back;
	char *text;
	size_t len;

	assert_int_equal(ht_journal_checkpoint_format(cp, what, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	if (want_text != NULL)
		assert_string_equal(text, want_text);
	assert_int_equal(ht_journal_checkpoint_parse(text, len, &back), 0);
	if (cp->cursor == NULL)
		assert_null(back.cursor);
	else
		assert_string_equal(back.cursor, cp->cursor);
	assert_int_equal(back.hist_day, cp->hist_day);
	assert_true(back.hist_off == cp->hist_off);
	ht_journal_checkpoint_clear(&back);
	assert_null(back.cursor);
	free(text);
}

static void
test_checkpoint_roundtrip(void **state UNUSED)
{
	static char cursor[] = CURSOR;
	struct ht_journal_checkpoint cp = { cursor, 20261124, 123456789 };
	struct ht_journal_checkpoint head = { NULL, 20261124, 0 };
	struct ht_journal_checkpoint far = { cursor, UINT32_MAX, UINT64_MAX };
	struct ht_journal_checkpoint unknown = { cursor, 0, 0 };

	roundtrip(&cp, "/var/log/journal/remote", "hosttrail-journal-checkpoint 1\n"
	    "journal /var/log/journal/remote\ncursor " CURSOR "\nhistory 20261124 123456789\n");
	roundtrip(&head, "system journal", "hosttrail-journal-checkpoint 1\n"
	    "journal system journal\ncursor -\nhistory 20261124 0\n");
	roundtrip(&far, "x", NULL);
	roundtrip(&unknown, "x", NULL);
	/* the name stays one line */
	roundtrip(&cp, "/odd\ndir", "hosttrail-journal-checkpoint 1\njournal /odd\ncursor "
	    CURSOR "\nhistory 20261124 123456789\n");
}

static void
test_checkpoint_damaged(void **state UNUSED)
{
#define HEAD "hosttrail-journal-checkpoint 1\n"
	static const char *const bad[] = {
		"",
		"\n",
		"hosttrail-journal-checkpoint 2\ncursor -\nhistory 1 1\n",
		HEAD,
		HEAD "cursor -\n",				/* no history */
		HEAD "history 20261124 5\n",			/* no cursor */
		HEAD "cursor -\nhistory 20261124 5",		/* no final newline */
		HEAD "cursor -\ncursor -\nhistory 1 1\n",	/* twice */
		HEAD "cursor -\nhistory 1 1\nextra 1\n",	/* unknown key */
		HEAD "cursor -\nhistory 1 1\n\n",		/* empty line */
		HEAD "cursor \nhistory 1 1\n",			/* empty cursor */
		HEAD "cursor s=1 2\nhistory 1 1\n",		/* not a cursor */
		HEAD "cursor s=1\t2\nhistory 1 1\n",
		HEAD "cursor s=\xc3\xa9\nhistory 1 1\n",
		HEAD "cursor -\nhistory 1\n",
		HEAD "cursor -\nhistory x 1\n",
		HEAD "cursor -\nhistory 1 -1\n",
		HEAD "cursor -\nhistory 1  1\n",
		HEAD "cursor -\nhistory 4294967296 1\n",	/* day over 32 bits */
		HEAD "cursor -\nhistory 1 18446744073709551616\n",
		HEAD "cursor -\nhistory 1 1 1\n",
		HEAD "cursor\nhistory 1 1\n",
	};
	static const char good[] = HEAD "journal /j\ncursor " CURSOR "\nhistory 20261124 77\n";
	struct ht_journal_checkpoint cp = { (char *)"untouched", 1, 2 };
	char with_nul[sizeof(good)];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ht_journal_checkpoint_parse(bad[i], strlen(bad[i]), &cp) != -EINVAL)
			fail_msg("accepted damaged checkpoint #%zu: %s", i, bad[i]);
		assert_string_equal(cp.cursor, "untouched");
	}
	/* every truncation of a good one */
	for (i = 0; i < sizeof(good) - 1; i++)
		assert_int_equal(ht_journal_checkpoint_parse(good, i, &cp), -EINVAL);
	memcpy(with_nul, good, sizeof(good));
	with_nul[40] = '\0';
	assert_int_equal(ht_journal_checkpoint_parse(with_nul, sizeof(good) - 1, &cp), -EINVAL);
	/* the journal line is informational and optional; order is free */
	assert_int_equal(ht_journal_checkpoint_parse(HEAD "history 3 4\ncursor -\n",
	    strlen(HEAD "history 3 4\ncursor -\n"), &cp), 0);
	assert_null(cp.cursor);
	assert_int_equal(cp.hist_day, 3);
	ht_journal_checkpoint_clear(&cp);
#undef HEAD
}

/* ---- this source's records ---- */

static void
test_source_id(void **state UNUSED)
{
	char a[9], b[9], c[9];

	ht_journal_source_id("", a);
	assert_string_equal(a, "811c9dc5");	/* FNV-1a 32 offset basis */
	ht_journal_source_id("sources/journal-0badf00d.cursor", a);
	ht_journal_source_id("sources/journal-0badf00d.cursor", b);
	ht_journal_source_id("sources/journal-0badf00e.cursor", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 8);
	assert_true(ht_journal_cursor_hash(CURSOR) == ht_journal_cursor_hash(CURSOR));
	assert_true(ht_journal_cursor_hash(CURSOR) != ht_journal_cursor_hash(CURSOR "0"));
}

static int
key_of(const char *json, const char *id, uint64_t *h)
{
	return ht_journal_record_key(json, strlen(json), id, h);
}

static void
test_record_key(void **state UNUSED)
{
	static const char ours[] = "{\"eventVersion\":\"1.11\",\"eventName\":\"LogMessage\","
	    "\"additionalEventData\":{\"source\":\"journal\",\"journalCursor\":\"" CURSOR "\","
	    "\"journalSource\":\"1234abcd\"},\"eventID\":\"x\"}";
	uint64_t h = 7;

	assert_int_equal(key_of(ours, "1234abcd", &h), 1);
	assert_true(h == ht_journal_cursor_hash(CURSOR));
	h = 7;
	/* another source's, or not a journal record at all */
	assert_int_equal(key_of(ours, "1234abce", &h), 0);
	assert_int_equal(key_of("{\"additionalEventData\":{\"journalSource\":\"1234abcd\"}}",
	    "1234abcd", &h), 0);
	assert_int_equal(key_of("{\"additionalEventData\":{\"journalSource\":\"1234abcd\","
	    "\"journalCursor\":5}}", "1234abcd", &h), 0);
	assert_int_equal(key_of("{\"requestParameters\":{\"journalSource\":\"1234abcd\","
	    "\"journalCursor\":\"c\"}}", "1234abcd", &h), 0);
	assert_int_equal(key_of("not json 1234abcd", "1234abcd", &h), 0);
	assert_int_equal(key_of("{\"additionalEventData\":{\"journalSource\":\"1234abcd\","
	    "\"journalCursor\":\"c\"", "1234abcd", &h), 0);	/* cut short */
	assert_true(h == 7);
}

/* ---- allocation failures ---- */

static void
test_out_of_memory(void **state UNUSED)
{
	static const char msg[] = "MESSAGE=a\0b";
	static char cursor[] = CURSOR;
	struct ht_journal_checkpoint cp = { cursor, 20261124, 5 }, back;
	static const char rec[] = "{\"additionalEventData\":{\"journalCursor\":\"" CURSOR "\","
	    "\"journalSource\":\"1234abcd\"}}";
	struct ht_journal_fields f = { 0 };
	char *text = NULL;
	size_t len;
	uint64_t h;
	unsigned n;
	int r;

	alloc_calls = 0;
	assert_int_equal(ht_journal_checkpoint_format(&cp, "x", &text, &len), 0);
	free(text);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	/* fields: a failed add leaves f as it was */
	alloc_calls = 0;
	alloc_fail_at = 1;
	r = ht_journal_fields_add(&f, msg, sizeof(msg) - 1);
	alloc_fail_at = 0;
	assert_int_equal(r, -ENOMEM);
	assert_null(ht_journal_fields_get(&f, HT_JF_MESSAGE));
	assert_int_equal(f.len, 0);
	assert_int_equal(ht_journal_fields_add(&f, msg, sizeof(msg) - 1), 0);
	ht_journal_fields_free(&f);

	for (n = 1;; n++) {
		text = NULL;
		alloc_calls = 0;
		alloc_fail_at = n;
		r = ht_journal_checkpoint_format(&cp, "x", &text, &len);
		alloc_fail_at = 0;
		if (alloc_calls < n) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(text);
	}
	for (n = 1;; n++) {
		back.cursor = (char *)"untouched";
		alloc_calls = 0;
		alloc_fail_at = n;
		r = ht_journal_checkpoint_parse(text, len, &back);
		alloc_fail_at = 0;
		if (alloc_calls < n) {
			assert_int_equal(r, 0);
			ht_journal_checkpoint_clear(&back);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_string_equal(back.cursor, "untouched");
	}
	free(text);
	for (n = 1;; n++) {
		h = 0;
		alloc_calls = 0;
		alloc_fail_at = n;
		r = ht_journal_record_key(rec, sizeof(rec) - 1, "1234abcd", &h);
		alloc_fail_at = 0;
		if (alloc_calls < n) {
			assert_int_equal(r, 1);
			break;
		}
		/* json-c reports a failed allocation while parsing as a parse
		 * error: not ours, never a crash */
		assert_true(r == -ENOMEM || r == 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_kept),
		cmocka_unit_test(test_fields_fallbacks),
		cmocka_unit_test(test_fields_odd),
		cmocka_unit_test(test_fields_map),
		cmocka_unit_test(test_checkpoint_roundtrip),
		cmocka_unit_test(test_checkpoint_damaged),
		cmocka_unit_test(test_source_id),
		cmocka_unit_test(test_record_key),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
