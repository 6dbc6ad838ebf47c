/*
 * test_fim.c - the pure parts of daemon/sources/fim.c: exclude patterns,
 * comparing two states (what counts as content, mode, owner, times, type),
 * event names, the records (data events with the state, the previous state,
 * both names of a rename, JSON null for a deletion), the rescan record,
 * observing paths in a scratch directory (SHA-256, hash_max, symlinks never
 * followed, a FIFO never opened, the hash reused for an unchanged file),
 * and every allocation of a record failing in turn.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "alloc_fail.h"
#include "crypto.h"
#include "record.h"
#include "sources/fim.h"

#define UNUSED __attribute__((unused))

static struct ht_fim_state
file_state(uint64_t size, uint8_t fill)
{
	struct ht_fim_state s;

	memset(&s, 0, sizeof(s));
	s.kind = HT_FIM_FILE;
	s.mode = 0644;
	s.uid = 1000;
	s.gid = 1000;
	s.size = size;
	s.mtime_ns = 1700000000LL * 1000000000;
	s.ctime_ns = s.mtime_ns;
	s.ino = 42;
	s.hash = HT_FIM_HASHED;
	memset(s.sha256, fill, sizeof(s.sha256));
	return s;
}

/* The record as compact JSON (caller frees). */
static char *
json_of(const struct ht_record *rec)
{
	struct printbuf *pb = printbuf_new();
	char *s;

	assert_int_equal(ht_record_serialize(rec, pb), 0);
	s = strdup(pb->buf);
	printbuf_free(pb);
	return s;
}

static const char *
jpath(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_get_string(v);
}

/* ---- excludes ---- */

static void
test_excluded(void **state UNUSED)
{
	char p0[] = "*.swp", p1[] = "/etc/ssl/private*", p2[] = "/var/cache";
	char *pats[] = { p0, p1, p2 };

	assert_true(ht_fim_excluded(pats, 3, "/etc/.passwd.swp"));
	assert_true(ht_fim_excluded(pats, 3, "/etc/a/b/c.swp"));	/* '*' matches '/' */
	assert_true(ht_fim_excluded(pats, 3, "/etc/ssl/private/key.pem"));
	assert_true(ht_fim_excluded(pats, 3, "/var/cache"));
	assert_false(ht_fim_excluded(pats, 3, "/var/cache/x"));	/* not walked anyway */
	assert_false(ht_fim_excluded(pats, 3, "/etc/passwd"));
	assert_false(ht_fim_excluded(pats, 3, "/etc/x.swpx"));
	assert_false(ht_fim_excluded(pats, 0, "/etc/a.swp"));
}

/* ---- comparing ---- */

static void
test_diff(void **state UNUSED)
{
	struct ht_fim_state a = file_state(10, 1), b;

	assert_int_equal(ht_fim_diff(NULL, NULL), 0);
	assert_int_equal(ht_fim_diff(NULL, &a), HT_FIM_CREATED);
	assert_int_equal(ht_fim_diff(&a, NULL), HT_FIM_DELETED);
	b = a;
	assert_int_equal(ht_fim_diff(&a, &b), 0);
	b.ctime_ns++;	/* ctime alone (a link count, a rename): nothing to say */
	assert_int_equal(ht_fim_diff(&a, &b), 0);
	b = a;
	b.sha256[5] ^= 1;
	b.mtime_ns++;
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_CONTENT);
	b = a;
	b.mtime_ns++;	/* touch */
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_TIMES);
	b = a;
	b.mode = 0600;
	b.uid = 0;
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_MODE | HT_FIM_OWNER);
	b = a;
	b.gid = 4;
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_OWNER);
	/* unhashed (too large): size, else mtime, stands for the content */
	b = a;
	a.hash = b.hash = HT_FIM_HASH_TOO_LARGE;
	b.mtime_ns++;
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_CONTENT);
	b = a;
	b.size++;
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_CONTENT);
	/* a directory's entries have records of their own */
	a = file_state(4096, 0);
	a.kind = HT_FIM_DIR;
	a.hash = HT_FIM_HASH_NONE;
	b = a;
	b.size = 8192;
	b.mtime_ns++;
	assert_int_equal(ht_fim_diff(&a, &b), 0);
	b.mode = 0700;
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_MODE);
	b = file_state(1, 1);
	assert_int_equal(ht_fim_diff(&a, &b), HT_FIM_TYPE);
}

static void
test_event_names(void **state UNUSED)
{
	struct ht_fim_state f = file_state(1, 1), d = f, l = f;
	struct ht_fim_change c = { "/x", NULL, NULL, &f, HT_FIM_CREATED, "inotify", NULL, NULL,
		NULL, 0 };

	d.kind = HT_FIM_DIR;
	l.kind = HT_FIM_SYMLINK;
	assert_string_equal(ht_fim_event_name(&c), "CreateFile");
	c.cur = &d;
	assert_string_equal(ht_fim_event_name(&c), "CreateDirectory");
	c.cur = &l;
	assert_string_equal(ht_fim_event_name(&c), "CreateLink");
	c.cur = NULL;
	c.old = &d;
	c.bits = HT_FIM_DELETED;
	assert_string_equal(ht_fim_event_name(&c), "DeleteDirectory");
	c.old = &f;
	assert_string_equal(ht_fim_event_name(&c), "DeleteFile");
	c.cur = &f;
	c.bits = HT_FIM_CONTENT | HT_FIM_MODE;	/* the content matters most */
	assert_string_equal(ht_fim_event_name(&c), "WriteFile");
	c.bits = HT_FIM_MODE | HT_FIM_OWNER;
	assert_string_equal(ht_fim_event_name(&c), "ChangeFileOwner");
	c.bits = HT_FIM_MODE;
	assert_string_equal(ht_fim_event_name(&c), "ChangeFilePermissions");
	c.bits = HT_FIM_TIMES;
	assert_string_equal(ht_fim_event_name(&c), "SetFileAttributes");
	c.bits = HT_FIM_RENAMED | HT_FIM_CONTENT;
	assert_string_equal(ht_fim_event_name(&c), "RenameFile");
}

/* ---- records ---- */

static void
test_record_write(void **state UNUSED)
{
	struct ht_fim_state old = file_state(10, 0xab), cur = file_state(12, 0xcd);
	struct ht_fim_change c = { "/etc/hosts", NULL, &old, &cur, HT_FIM_CONTENT | HT_FIM_MODE,
		"inotify", NULL, "alice", "staff", 1700000100 };
	struct ht_record *rec = NULL;
	struct json_object *o, *r;
	char *text;

	cur.mode = 04750;
	assert_int_equal(ht_fim_record(&c, &rec), 0);
	text = json_of(rec);
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_string_equal(jpath(o, "eventSource", NULL), "host.file");
	assert_string_equal(jpath(o, "eventName", NULL), "WriteFile");
	assert_string_equal(jpath(o, "eventType", NULL), "AwsServiceEvent");
	assert_string_equal(jpath(o, "eventCategory", NULL), "Data");
	assert_string_equal(jpath(o, "readOnly", NULL), "false");
	assert_string_equal(jpath(o, "managementEvent", NULL), "false");
	assert_string_equal(jpath(o, "eventTime", NULL), "2023-11-14T22:15:00Z");
	assert_string_equal(jpath(o, "userIdentity", "type"), "Unknown");
	assert_string_equal(jpath(o, "requestParameters", "path"), "/etc/hosts");
	assert_string_equal(jpath(o, "responseElements", "mode"), "4750");
	assert_string_equal(jpath(o, "responseElements", "owner"), "alice");
	assert_string_equal(jpath(o, "responseElements", "group"), "staff");
	assert_string_equal(jpath(o, "responseElements", "size"), "12");
	assert_string_equal(jpath(o, "responseElements", "sha256"),
	    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd");
	assert_string_equal(jpath(o, "responseElements", "fileType"), "file");
	assert_true(json_object_object_get_ex(o, "additionalEventData", &r));
	assert_string_equal(jpath(r, "source", NULL), "fim");
	assert_string_equal(jpath(r, "detectedBy", NULL), "inotify");
	assert_string_equal(jpath(r, "changes", NULL), "[ \"content\", \"mode\" ]");
	assert_string_equal(jpath(r, "previous", "sha256"),
	    "abababababababababababababababababababababababababababababababab");
	assert_null(jpath(r, "previous", "owner"));	/* names are of the new state */
	assert_non_null(strstr(text, "\"resources\":[{\"type\":\"Host::File\","
	    "\"ARN\":\"/etc/hosts\"}]"));
	assert_int_equal(ht_record_flags(rec), HT_RF_KNOWN | HT_RF_DATA | HT_RF_WRITE);
	json_object_put(o);
	free(text);
	ht_record_free(rec);
}

static void
test_record_delete_rename(void **state UNUSED)
{
	struct ht_fim_state old = file_state(10, 1), big = file_state(1 << 30, 0);
	struct ht_fim_change c = { "/srv/a", NULL, &old, NULL, HT_FIM_DELETED, "rescan", NULL,
		NULL, NULL, 0 };
	struct ht_record *rec = NULL;
	struct json_object *o;
	char *text;

	assert_int_equal(ht_fim_record(&c, &rec), 0);
	text = json_of(rec);
	assert_non_null(strstr(text, "\"eventName\":\"DeleteFile\""));
	assert_non_null(strstr(text, "\"responseElements\":null"));
	assert_non_null(strstr(text, "\"detectedBy\":\"rescan\""));
	free(text);
	ht_record_free(rec);

	big.hash = HT_FIM_HASH_TOO_LARGE;
	c = (struct ht_fim_change){ "/srv/a", "/srv/b", &old, &big, HT_FIM_RENAMED, "inotify",
		NULL, NULL, NULL, 0 };
	assert_int_equal(ht_fim_record(&c, &rec), 0);
	text = json_of(rec);
	assert_non_null(strstr(text, "\"eventName\":\"RenameFile\""));
	assert_non_null(strstr(text, "\"requestParameters\":{\"path\":\"/srv/a\","
	    "\"newPath\":\"/srv/b\"}"));
	assert_non_null(strstr(text, "{\"type\":\"Host::File\",\"ARN\":\"/srv/a\"},"
	    "{\"type\":\"Host::File\",\"ARN\":\"/srv/b\"}"));
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_string_equal(jpath(o, "responseElements", "hashSkipped"), "tooLarge");
	assert_null(jpath(o, "responseElements", "sha256"));
	assert_string_equal(jpath(o, "responseElements", "size"), "1073741824");
	json_object_put(o);
	free(text);
	ht_record_free(rec);
}

static void
test_rescan_record(void **state UNUSED)
{
	struct ht_fim_rescan rs = { "/etc", "overflow", 1234, 3, 2, 1, 0, 57, 1700000000 };
	struct ht_record *rec = NULL;
	char *text;

	assert_int_equal(ht_fim_rescan_record(&rs, &rec), 0);
	text = json_of(rec);
	assert_non_null(strstr(text, "\"eventName\":\"FileIntegrityRescan\""));
	assert_non_null(strstr(text, "\"eventCategory\":\"Management\""));
	assert_non_null(strstr(text, "\"serviceEventDetails\":{\"path\":\"/etc\",\"reason\":"
	    "\"overflow\",\"entries\":1234,\"created\":3,\"changed\":2,\"deleted\":1,"
	    "\"unreadableDirectories\":0,\"durationMs\":57}"));
	assert_int_equal(ht_record_flags(rec) & HT_RF_DATA, 0);
	free(text);
	ht_record_free(rec);
}

/* ---- observing ---- */

static void
write_file(int dir, const char *name, const char *data)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void
test_observe(void **state UNUSED)
{
	char tmpl[] = "/tmp/test_fim.XXXXXX", hex[65], want[65], *link = NULL;
	uint8_t sha[HT_SHA256_LEN];
	struct ht_fim_state s, known;
	int dir;

	assert_non_null(mkdtemp(tmpl));
	dir = open(tmpl, O_RDONLY | O_DIRECTORY);
	assert_true(dir >= 0);
	write_file(dir, "f", "hello\n");
	assert_int_equal(fchmodat(dir, "f", 0640, 0), 0);
	assert_int_equal(symlinkat("/etc/passwd", dir, "l"), 0);
	assert_int_equal(mkfifoat(dir, "p", 0600), 0);

	assert_int_equal(ht_fim_observe(dir, "f", 1024, NULL, &s, NULL), 1);
	assert_int_equal(s.kind, HT_FIM_FILE);
	assert_int_equal(s.mode, 0640);
	assert_int_equal(s.size, 6);
	assert_int_equal(s.hash, HT_FIM_HASHED);
	ht_sha256("hello\n", 6, sha);
	assert_memory_equal(s.sha256, sha, sizeof(sha));
	assert_int_equal(ht_fim_observe(dir, "f", 5, NULL, &s, NULL), 1);
	assert_int_equal(s.hash, HT_FIM_HASH_TOO_LARGE);
	assert_int_equal(ht_fim_observe(dir, "f", 0, NULL, &s, NULL), 1);
	assert_int_equal(s.hash, HT_FIM_HASH_OFF);

	/* unchanged since known: the known hash is used, the file not read */
	assert_int_equal(ht_fim_observe(dir, "f", 1024, NULL, &known, NULL), 1);
	memset(known.sha256, 0x5a, sizeof(known.sha256));
	assert_int_equal(ht_fim_observe(dir, "f", 1024, &known, &s, NULL), 1);
	assert_int_equal(s.sha256[0], 0x5a);
	known.ctime_ns--;	/* changed: hashed again */
	assert_int_equal(ht_fim_observe(dir, "f", 1024, &known, &s, NULL), 1);
	assert_memory_equal(s.sha256, sha, sizeof(sha));

	/* a symlink is a link: its target's name, never the target */
	assert_int_equal(ht_fim_observe(dir, "l", 1 << 20, NULL, &s, &link), 1);
	assert_int_equal(s.kind, HT_FIM_SYMLINK);
	assert_string_equal(link, "/etc/passwd");
	ht_sha256("/etc/passwd", 11, sha);
	ht_hex(sha, sizeof(sha), want);
	ht_hex(s.sha256, sizeof(s.sha256), hex);
	assert_string_equal(hex, want);
	free(link);

	/* a FIFO is not opened (that would block) */
	assert_int_equal(ht_fim_observe(dir, "p", 1 << 20, NULL, &s, NULL), 1);
	assert_int_equal(s.kind, HT_FIM_OTHER);
	assert_int_equal(s.hash, HT_FIM_HASH_NONE);
	assert_int_equal(ht_fim_observe(dir, "missing", 1024, NULL, &s, NULL), 0);
	assert_int_equal(ht_fim_observe(dir, "f/x", 1024, NULL, &s, NULL), 0);

	unlinkat(dir, "f", 0);
	unlinkat(dir, "l", 0);
	unlinkat(dir, "p", 0);
	close(dir);
	rmdir(tmpl);
}

/* ---- allocation failures ---- */

static void
test_out_of_memory(void **state UNUSED)
{
	struct ht_fim_state old = file_state(10, 1), cur = file_state(11, 2);
	struct ht_fim_change c = { "/a", "/b", &old, &cur, HT_FIM_RENAMED | HT_FIM_CONTENT,
		"inotify", "/t", "u", "g", 0 };
	struct ht_fim_rescan rs = { "/etc", "reload", 1, 0, 0, 0, 0, 0, 0 };
	struct ht_record *rec = NULL;
	unsigned n, calls;
	int v;

	alloc_calls = 0;
	assert_int_equal(ht_fim_record(&c, &rec), 0);
	ht_record_free(rec);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	for (int which = 0; which < 2; which++)
		for (n = 1;; n++) {
			rec = NULL;
			alloc_calls = 0;
			alloc_fail_at = n;
			v = which == 0 ? ht_fim_record(&c, &rec) : ht_fim_rescan_record(&rs, &rec);
			alloc_fail_at = 0;
			calls = alloc_calls;
			if (calls < n) {
				assert_int_equal(v, 0);
				ht_record_free(rec);
				break;
			}
			assert_int_equal(v, -ENOMEM);
			assert_null(rec);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excluded),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_record_write),
		cmocka_unit_test(test_record_delete_rename),
		cmocka_unit_test(test_rescan_record),
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
