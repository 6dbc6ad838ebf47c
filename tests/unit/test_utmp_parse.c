/*
 * test_utmp_parse.c - daemon/sources/utmp_parse.c: decoding struct utmp
 * (strings cut at their arrays, cleaned to printable UTF-8, addresses),
 * what is no utmp record, records fed in any chunking (a partial record
 * waits, offsets are right), the mapping (sessions opened and closed by
 * terminal, a boot forgetting them, failed logins, boots, shutdowns,
 * runlevels, skipped bookkeeping, generic records for garbage and for a
 * partial record at the end of a finished file), the sessions kept for the
 * checkpoint, the history key of a record, and every allocation failing in
 * turn.
 */
#include "ht_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <utmp.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "alloc_fail.h"
#include "record.h"
#include "sources/utmp_parse.h"

#define UNUSED __attribute__((unused))
#define REC HT_UTMP_RECORD_SIZE

static struct utmp
ut(short type, const char *user, const char *line, const char *host, int pid, int32_t sec)
{
	struct utmp u;

	memset(&u, 0, sizeof(u));
	u.ut_type = type;
	u.ut_pid = pid;
	strncpy(u.ut_user, user, sizeof(u.ut_user));
	strncpy(u.ut_line, line, sizeof(u.ut_line));
	strncpy(u.ut_host, host, sizeof(u.ut_host));
	u.ut_tv.tv_sec = sec;
	u.ut_session = pid;
	return u;
}

/* What the emit callback collected. */
struct got {
	struct ht_record *rec[32];
	uint64_t off[32];
	bool bad[32];
	size_t n;
};

static int
collect(struct ht_record *rec, uint64_t offset, bool bad, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < 32);
	g->rec[g->n] = rec;
	g->off[g->n] = offset;
	g->bad[g->n++] = bad;
	return 0;
}

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		ht_record_free(g->rec[i]);
	g->n = 0;
}

static struct ht_utmp_reader *
reader(enum ht_utmp_file f)
{
	struct ht_utmp_reader *r = NULL;

	assert_int_equal(ht_utmp_reader_new(f, NULL, NULL, &r), 0);
	assert_int_equal(ht_utmp_reader_reset(r, f == HT_UTMP_WTMP ? "/var/log/wtmp" :
	    "/var/log/btmp", 77, 0), 0);
	return r;
}

static void
feed_all(struct ht_utmp_reader *r, const void *data, size_t len, struct got *g)
{
	size_t used;

	assert_int_equal(ht_utmp_feed(r, data, len, collect, g, &used), 0);
	assert_int_equal(used, len);
}

static const char *
jget(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static int64_t
jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

/* ---- decoding ---- */

static void
test_decode(void **state UNUSED)
{
	struct utmp u = ut(USER_PROCESS, "alice", "pts/3", "host.example", 4242, 1700000000);
	struct ht_utmp_entry e;
	const char *why = NULL;

	assert_int_equal(REC, 384);	/* glibc's x86_64 layout, the one files use */
	memcpy(u.ut_id, "ts/3", 4);
	u.ut_tv.tv_usec = 5;
	inet_pton(AF_INET, "192.0.2.7", &u.ut_addr_v6[0]);
	assert_int_equal(ht_utmp_decode(&u, REC, &e, &why), 0);
	assert_int_equal(e.type, USER_PROCESS);
	assert_int_equal(e.pid, 4242);
	assert_string_equal(e.user, "alice");
	assert_string_equal(e.line, "pts/3");
	assert_string_equal(e.id, "ts/3");
	assert_string_equal(e.host, "host.example");
	assert_string_equal(e.addr, "192.0.2.7");
	assert_int_equal(e.sec, 1700000000);
	assert_int_equal(e.usec, 5);

	/* full arrays have no NUL; bytes that are not printable UTF-8 become '?' */
	memset(u.ut_user, 'u', sizeof(u.ut_user));
	memcpy(u.ut_line, "p\x01t\xff" "\xc3\xa9", 6);
	u.ut_line[6] = '\0';
	memcpy(u.ut_id, "\x01\x02\x03\x04", 4);
	inet_pton(AF_INET6, "2001:db8::5", u.ut_addr_v6);
	assert_int_equal(ht_utmp_decode(&u, REC, &e, &why), 0);
	assert_int_equal(strlen(e.user), sizeof(u.ut_user));
	assert_string_equal(e.line, "p?t?\xc3\xa9");
	assert_string_equal(e.id, "01020304");
	assert_string_equal(e.addr, "2001:db8::5");

	/* seconds are 32-bit unsigned in the file: past 2038 still positive */
	u.ut_tv.tv_sec = (int32_t)0x90000000u;
	assert_int_equal(ht_utmp_decode(&u, REC, &e, &why), 0);
	assert_int_equal(e.sec, 0x90000000LL);
}

static void
test_not_utmp(void **state UNUSED)
{
	struct utmp u = ut(USER_PROCESS, "a", "b", "", 1, 1);
	struct ht_utmp_entry e;
	const char *why = NULL;

	u.ut_type = 4660;
	assert_int_equal(ht_utmp_decode(&u, REC, &e, &why), -EINVAL);
	assert_non_null(strstr(why, "ut_type"));
	u = ut(USER_PROCESS, "a", "b", "", 1, 1);
	u.ut_tv.tv_usec = 1000000;
	assert_int_equal(ht_utmp_decode(&u, REC, &e, &why), -EINVAL);
	assert_non_null(strstr(why, "usec"));
	assert_int_equal(ht_utmp_decode(&u, REC - 1, &e, &why), -EINVAL);
}

/* ---- reading ---- */

static void
test_chunks_and_offsets(void **state UNUSED)
{
	struct utmp u[3] = {
		ut(USER_PROCESS, "alice", "pts/1", "", 10, 100),
		ut(USER_PROCESS, "bob", "pts/2", "", 11, 200),
		ut(DEAD_PROCESS, "", "pts/1", "", 10, 300),
	};
	struct ht_utmp_reader *r = reader(HT_UTMP_WTMP);
	const uint8_t *p = (const uint8_t *)u;
	struct ht_utmp_stats st;
	struct got g = { .n = 0 };
	size_t i;

	/* one byte at a time: nothing until a record is whole */
	for (i = 0; i < REC - 1; i++)
		feed_all(r, p + i, 1, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(ht_utmp_offset(r), REC - 1);
	assert_int_equal(ht_utmp_resume_offset(r), 0);
	feed_all(r, p + i, 1, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.off[0], 0);
	assert_int_equal(ht_utmp_resume_offset(r), REC);
	/* the rest in odd pieces */
	feed_all(r, p + REC, 100, &g);
	feed_all(r, p + REC + 100, 2 * REC - 100, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.off[1], REC);
	assert_int_equal(g.off[2], 2 * REC);
	for (i = 0; i < 3; i++)
		assert_false(g.bad[i]);
	ht_utmp_stats(r, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.records, 3);
	got_free(&g);
	ht_utmp_reader_free(r);
}

static void
test_sessions(void **state UNUSED)
{
	struct utmp u[] = {
		ut(USER_PROCESS, "alice", "pts/1", "192.0.2.7", 10, 1000),
		ut(USER_PROCESS, "bob", "tty1", "", 11, 1010),
		ut(DEAD_PROCESS, "", "pts/1", "", 10, 1060),
		ut(DEAD_PROCESS, "", "pts/7", "", 12, 1070),	/* never opened */
		ut(BOOT_TIME, "reboot", "~", "6.1.0", 0, 2000),
		ut(DEAD_PROCESS, "", "tty1", "", 11, 2010),	/* closed by the boot */
	};
	struct ht_utmp_reader *r = reader(HT_UTMP_WTMP);
	struct got g = { .n = 0 };
	struct ht_record *rec;
	struct json_object *a;
	size_t n;

	feed_all(r, u, sizeof(u), &g);
	assert_int_equal(g.n, 6);
	rec = g.rec[0];
	assert_string_equal(rec->event_source, "host.login");
	assert_string_equal(rec->event_name, "StartSession");
	assert_string_equal(rec->event_type, "AwsConsoleSignIn");
	assert_string_equal(rec->event_category, "Management");
	assert_string_equal(rec->source_ip_address, "192.0.2.7");	/* ut_host: no address */
	assert_int_equal(rec->event_time, 1000);
	assert_string_equal(jget(rec->user_identity, "type"), "IAMUser");
	assert_string_equal(jget(rec->user_identity, "userName"), "alice");
	assert_null(jget(rec->user_identity, "principalId"));	/* no NSS here */
	assert_string_equal(jget(rec->request_parameters, "terminal"), "pts/1");
	assert_string_equal(jget(rec->request_parameters, "pid"), "10");
	a = rec->additional_event_data;
	assert_string_equal(jget(a, "source"), "utmp");
	assert_string_equal(jget(a, "file"), "wtmp");
	assert_string_equal(jget(a, "utmpType"), "USER_PROCESS");
	assert_int_equal(jint(a, "inode"), 77);
	assert_int_equal(jint(a, "offset"), 0);
	assert_int_equal(json_object_array_length(rec->resources), 1);

	rec = g.rec[2];
	assert_string_equal(rec->event_name, "EndSession");
	assert_string_equal(jget(rec->user_identity, "userName"), "alice");
	assert_string_equal(rec->source_ip_address, "192.0.2.7");
	assert_int_equal(jint(rec->additional_event_data, "sessionSeconds"), 60);
	assert_string_equal(jget(rec->additional_event_data, "sessionStart"),
	    "1970-01-01T00:16:40Z");

	rec = g.rec[3];
	assert_string_equal(rec->event_name, "EndSession");
	assert_string_equal(jget(rec->user_identity, "type"), "Unknown");
	assert_string_equal(jget(rec->additional_event_data, "sessionFound"), "false");

	rec = g.rec[4];
	assert_string_equal(rec->event_source, "host.system");
	assert_string_equal(rec->event_name, "SystemBoot");
	assert_string_equal(rec->event_type, "AwsServiceEvent");
	assert_string_equal(jget(rec->request_parameters, "kernel"), "6.1.0");
	assert_null(rec->source_ip_address);
	assert_string_equal(jget(rec->user_identity, "type"), "AWSService");

	rec = g.rec[5];
	assert_string_equal(jget(rec->additional_event_data, "sessionFound"), "false");
	(void)ht_utmp_sessions(r, &n);
	assert_int_equal(n, 0);
	got_free(&g);
	ht_utmp_reader_free(r);
}

static void
test_system_and_skipped(void **state UNUSED)
{
	struct utmp u[] = {
		ut(RUN_LVL, "shutdown", "~~", "6.1.0", 0, 1),
		ut(RUN_LVL, "runlevel", "~~", "6.1.0", '3' | 'N' << 8, 2),
		ut(NEW_TIME, "", "|", "", 0, 3),
		ut(INIT_PROCESS, "", "tty2", "", 5, 4),
		ut(LOGIN_PROCESS, "LOGIN", "tty2", "", 5, 5),
		ut(EMPTY, "", "", "", 0, 0),
	};
	struct ht_utmp_reader *r = reader(HT_UTMP_WTMP);
	struct ht_utmp_stats st;
	struct got g = { .n = 0 };

	feed_all(r, u, sizeof(u), &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.rec[0]->event_name, "SystemShutdown");
	assert_string_equal(g.rec[1]->event_name, "ChangeRunlevel");
	assert_string_equal(jget(g.rec[1]->request_parameters, "runlevel"), "3");
	assert_string_equal(jget(g.rec[1]->request_parameters, "previousRunlevel"), "N");
	assert_string_equal(g.rec[2]->event_name, "SetSystemTime");
	assert_string_equal(jget(g.rec[2]->request_parameters, "clock"), "new");
	ht_utmp_stats(r, &st);
	assert_int_equal(st.entries, 6);
	assert_int_equal(st.skipped, 3);
	assert_int_equal(st.bad, 0);
	got_free(&g);
	ht_utmp_reader_free(r);
}

static bool
fake_uid(const char *user, uint32_t *ret_uid, void *arg)
{
	if (strcmp(user, "root") == 0) {
		*ret_uid = 0;
		return true;
	}
	if (strcmp(user, "carol") == 0) {
		*ret_uid = 1001;
		return true;
	}
	return false;
}

static void
test_failed_logins(void **state UNUSED)
{
	struct utmp u[] = {
		ut(LOGIN_PROCESS, "mallory", "ssh:notty", "2001:db8::5", 7, 50),
		ut(USER_PROCESS, "carol", "tty1", "", 8, 51),
		ut(LOGIN_PROCESS, "root", "ssh:notty", "", 9, 52),
	};
	struct ht_utmp_reader *r = NULL;
	struct got g = { .n = 0 };

	inet_pton(AF_INET6, "2001:db8::5", u[0].ut_addr_v6);
	assert_int_equal(ht_utmp_reader_new(HT_UTMP_BTMP, fake_uid, NULL, &r), 0);
	assert_int_equal(ht_utmp_reader_reset(r, "/var/log/btmp", 5, 384), 0);
	feed_all(r, u, sizeof(u), &g);
	assert_int_equal(g.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(g.rec[i]->event_name, "UserLogin");
		assert_string_equal(g.rec[i]->error_code, "AccessDenied");
		assert_string_equal(g.rec[i]->error_message, "login failed");
		assert_string_equal(jget(g.rec[i]->additional_event_data, "file"), "btmp");
		assert_int_equal(jint(g.rec[i]->additional_event_data, "offset"), 384 + i * REC);
	}
	assert_string_equal(g.rec[0]->source_ip_address, "2001:db8::5");
	assert_string_equal(jget(g.rec[1]->user_identity, "principalId"), "1001");
	assert_string_equal(jget(g.rec[1]->user_identity, "type"), "IAMUser");
	assert_string_equal(jget(g.rec[2]->user_identity, "type"), "Root");
	assert_string_equal(jget(g.rec[2]->user_identity, "principalId"), "0");
	assert_null(g.rec[2]->source_ip_address);
	got_free(&g);
	ht_utmp_reader_free(r);
}

static void
test_garbage_and_partial_end(void **state UNUSED)
{
	uint8_t junk[REC + 100];
	struct ht_utmp_reader *r = reader(HT_UTMP_WTMP);
	struct ht_utmp_stats st;
	struct got g = { .n = 0 };
	const char *hex;

	memset(junk, 0xff, sizeof(junk));
	feed_all(r, junk, sizeof(junk), &g);
	assert_int_equal(g.n, 1);
	assert_true(g.bad[0]);
	assert_string_equal(g.rec[0]->event_name, "UnknownLoginRecord");
	hex = jget(g.rec[0]->additional_event_data, "bytes");
	assert_int_equal(strlen(hex), 2 * REC);
	assert_non_null(strstr(jget(g.rec[0]->additional_event_data, "unparsed"), "ut_type"));
	/* the file ends (rotated): the partial record is not lost */
	assert_int_equal(ht_utmp_flush(r, collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_true(g.bad[1]);
	assert_int_equal(g.off[1], REC);
	assert_int_equal(strlen(jget(g.rec[1]->additional_event_data, "bytes")), 200);
	assert_int_equal(ht_utmp_flush(r, collect, &g), 0);	/* nothing left */
	assert_int_equal(g.n, 2);
	ht_utmp_stats(r, &st);
	assert_int_equal(st.bad, 2);
	got_free(&g);
	ht_utmp_reader_free(r);
}

static void
test_sessions_carried(void **state UNUSED)
{
	struct utmp open_ = ut(USER_PROCESS, "dave", "pts/5", "198.51.100.1", 9, 500);
	struct utmp close_ = ut(DEAD_PROCESS, "", "pts/5", "", 9, 530);
	struct ht_utmp_reader *a = reader(HT_UTMP_WTMP), *b = reader(HT_UTMP_WTMP);
	const struct ht_utmp_session *s;
	struct got g = { .n = 0 };
	size_t n;

	feed_all(a, &open_, REC, &g);
	s = ht_utmp_sessions(a, &n);
	assert_int_equal(n, 1);
	assert_string_equal(s[0].user, "dave");
	/* a restart: the checkpoint's sessions close with their user */
	assert_int_equal(ht_utmp_set_sessions(b, s, n), 0);
	feed_all(b, &close_, REC, &g);
	assert_string_equal(jget(g.rec[1]->user_identity, "userName"), "dave");
	assert_int_equal(jint(g.rec[1]->additional_event_data, "sessionSeconds"), 30);
	(void)ht_utmp_sessions(b, &n);
	assert_int_equal(n, 0);
	got_free(&g);
	ht_utmp_reader_free(a);
	ht_utmp_reader_free(b);
}

static void
test_record_key(void **state UNUSED)
{
	struct utmp u = ut(USER_PROCESS, "erin", "pts/6", "", 3, 10);
	struct ht_utmp_reader *r = reader(HT_UTMP_BTMP);
	struct got g = { .n = 0 };
	struct printbuf *pb = printbuf_new();
	enum ht_utmp_file f;
	uint64_t ino, off;
	const char *other = "{\"eventSource\":\"host.file\",\"additionalEventData\":"
	    "{\"source\":\"fim\"}}";

	assert_int_equal(ht_utmp_reader_reset(r, "/b", 123456, 7680), 0);
	feed_all(r, &u, REC, &g);
	assert_int_equal(ht_record_serialize(g.rec[0], pb), 0);
	assert_true(ht_utmp_record_key(pb->buf, (size_t)pb->bpos, &f, &ino, &off));
	assert_int_equal(f, HT_UTMP_BTMP);
	assert_int_equal(ino, 123456);
	assert_int_equal(off, 7680);
	assert_false(ht_utmp_record_key(other, strlen(other), &f, &ino, &off));
	assert_false(ht_utmp_record_key("{\"utmp\"", 7, &f, &ino, &off));
	printbuf_free(pb);
	got_free(&g);
	ht_utmp_reader_free(r);
}

/* ---- allocation failures ---- */

static void
test_out_of_memory(void **state UNUSED)
{
	struct utmp u[2] = { ut(USER_PROCESS, "alice", "pts/1", "h", 1, 1),
		ut(DEAD_PROCESS, "", "pts/1", "", 1, 2) };
	struct ht_utmp_reader *r;
	struct got g = { .n = 0 };
	size_t used, total;
	unsigned n, calls;
	int v;

	alloc_calls = 0;
	r = reader(HT_UTMP_WTMP);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		ht_utmp_reader_free(r);
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	ht_utmp_reader_free(r);
	for (n = 1;; n++) {
		r = reader(HT_UTMP_WTMP);
		alloc_calls = 0;
		alloc_fail_at = n;
		v = ht_utmp_feed(r, u, sizeof(u), collect, &g, &used);
		alloc_fail_at = 0;
		calls = alloc_calls;
		total = used;
		if (v == 0) {
			assert_int_equal(used, sizeof(u));
		} else {
			/* what failed is not consumed: feeding the rest again completes */
			assert_int_equal(v, -ENOMEM);
			assert_int_equal(used % REC, 0);
			assert_int_equal(g.n, used / REC);
			assert_int_equal(ht_utmp_feed(r, (uint8_t *)u + used, sizeof(u) - used,
			    collect, &g, &used), 0);
			total += used;
		}
		assert_int_equal(total, sizeof(u));
		assert_int_equal(g.n, 2);
		/* the session survived the failure: the logout has its user */
		assert_string_equal(jget(g.rec[1]->user_identity, "userName"), "alice");
		got_free(&g);
		ht_utmp_reader_free(r);
		if (calls < n)
			break;	/* nothing left to fail */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_not_utmp),
		cmocka_unit_test(test_chunks_and_offsets),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_system_and_skipped),
		cmocka_unit_test(test_failed_logins),
		cmocka_unit_test(test_garbage_and_partial_end),
		cmocka_unit_test(test_sessions_carried),
		cmocka_unit_test(test_record_key),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
