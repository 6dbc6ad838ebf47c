/*
 * test_batch.c - daemon/trail/batch.c: object keys follow CloudTrail's
 * pattern exactly (prefix, organization level, date directories and minute
 * from the delivery time, a fresh 16-character [A-Za-z0-9] unique part); a
 * build over a history range writes one gzip file at spool_root/key holding
 * exactly {"Records":[...]} with the records in history order; max_events
 * and max_bytes cut the batch with the right `reached`; an empty range
 * writes nothing; no staging file survives; the same range and key rebuild
 * byte for byte.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <zlib.h>

#include "conf.h"
#include "history/history.h"
#include "history/segment.h"
#include "trail/batch.h"

#define ACCOUNT "123456789012"
#define REGION "onprem-1"
#define NRECS 40
#define T_KEY 1714525379	/* 2024-05-01T01:02:59Z */

struct fixture {
	char dir[64];
	char hdir[128];
	char spool[128];
	struct event_base *base;
	struct ht_history *h;
	struct ht_history_pos pos[NRECS + 1];	/* pos[i]: after record i */
	char *text[NRECS + 1];			/* text[i]: record i's JSON */
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
durable_cb(int err, void *arg)
{
	int *calls = arg;

	assert_int_equal(err, 0);
	(*calls)++;
}

/* Append record i (one append each, so pos[i] is known). */
static void
append_record(struct fixture *fx, int i)
{
	struct iovec iov;
	int calls = 0;

	/* Varying lengths and some escaping-relevant content. */
	assert_true(asprintf(&fx->text[i], "{\"eventID\":\"id-%d\",\"eventName\":\"Op%d\","
	    "\"requestParameters\":{\"path\":\"/etc/x\\\"%d\",\"pad\":\"%.*s\"}}", i, i, i,
	    (i * 13) % 50, "..................................................") > 0);
	iov.iov_base = fx->text[i];
	iov.iov_len = strlen(fx->text[i]);
	assert_int_equal(ht_history_append(fx->h, &iov, 1, durable_cb, &calls), 0);
	/* fsync "off": acknowledged before append returns. */
	assert_int_equal(calls, 1);
	ht_history_end(fx->h, &fx->pos[i]);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ht_conf_history conf = { .retention_days = 90, .fsync = HT_FSYNC_OFF,
		.fsync_interval_ms = 1000 };

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/test_batch.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->hdir, sizeof(fx->hdir), "%s/history", fx->dir);
	snprintf(fx->spool, sizeof(fx->spool), "%s/spool", fx->dir);
	fx->base = event_base_new();
	if (fx->base == NULL)
		return -1;
	if (ht_history_open(fx->hdir, &conf, fx->base, NULL, &fx->h) < 0)
		return -1;
	ht_history_end(fx->h, &fx->pos[0]);
	*state = fx;
	for (int i = 1; i <= NRECS; i++)
		append_record(fx, i);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	ht_history_close(fx->h);
	event_base_free(fx->base);
	for (int i = 0; i <= NRECS; i++)
		free(fx->text[i]);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* ---- helpers ---- */

static void
expect_match(const char *s, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, s, 0, NULL, 0) != 0)
		fail_msg("\"%s\" does not match %s", s, pattern);
	regfree(&re);
}

static struct ht_batch_job *
job_new(const struct fixture *fx, const char *key, int from, int to)
{
	struct ht_batch_job *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	j->history_dir = strdup(fx->hdir);
	j->spool_root = strdup(fx->spool);
	j->key = strdup(key);
	assert_true(j->history_dir && j->spool_root && j->key);
	j->from = fx->pos[from];
	j->to = fx->pos[to];
	j->max_events = 10000;
	j->max_bytes = 50 * 1024 * 1024;
	return j;
}

static unsigned char *
read_all(const char *path, size_t *ret_len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		fail_msg("cannot open %s", path);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

/* Inflate a file that must be exactly one gzip member; NUL-terminated. */
static char *
gunzip_file(const char *path, size_t *ret_gz_len)
{
	size_t len, cap = 1 << 20;
	unsigned char *in = read_all(path, &len);
	char *out = malloc(cap);
	z_stream zs;

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 31), Z_OK);
	zs.next_in = in;
	zs.avail_in = (uInt)len;
	zs.next_out = (unsigned char *)out;
	zs.avail_out = (uInt)cap - 1;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0);
	out[zs.total_out] = '\0';
	inflateEnd(&zs);
	free(in);
	if (ret_gz_len)
		*ret_gz_len = len;
	return out;
}

/* The exact text a file with records first..last must hold. */
static char *
expected_json(const struct fixture *fx, int first, int last)
{
	size_t cap = 64;
	char *s;

	for (int i = first; i <= last; i++)
		cap += strlen(fx->text[i]) + 1;
	s = malloc(cap);
	assert_non_null(s);
	strcpy(s, "{\"Records\":[");
	for (int i = first; i <= last; i++) {
		if (i > first)
			strcat(s, ",");
		strcat(s, fx->text[i]);
	}
	strcat(s, "]}");
	return s;
}

static void
expect_file(const struct fixture *fx, const char *key, int first, int last,
    uint64_t bytes_out)
{
	char path[PATH_MAX], *got, *want;
	struct json_object *o, *recs;
	size_t gz_len;

	snprintf(path, sizeof(path), "%s/%s", fx->spool, key);
	got = gunzip_file(path, &gz_len);
	want = expected_json(fx, first, last);
	assert_string_equal(got, want);
	assert_int_equal(gz_len, bytes_out);
	/* And it is the JSON CloudTrail readers expect. */
	o = json_tokener_parse(got);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "Records", &recs));
	assert_int_equal(json_object_array_length(recs), last - first + 1);
	json_object_put(o);
	free(got);
	free(want);
}

static int n_files;

static int
count_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)st;
	(void)ftw;
	if (flag == FTW_F)
		n_files++;
	return 0;
}

/* Regular files anywhere under dir (0 if dir does not exist). */
static int
count_files(const char *dir)
{
	n_files = 0;
	nftw(dir, count_entry, 16, FTW_PHYS);
	return n_files;
}

static void
expect_no_staging(const struct fixture *fx)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s/.tmp", fx->spool);
	assert_int_equal(count_files(tmp), 0);
}

/* ---- keys ---- */

#define UNIQ "[A-Za-z0-9]{16}\\.json\\.gz$"

static void
test_key_pattern(void **state)
{
	char key[1024];

	(void)state;
	assert_int_equal(ht_batch_key(key, sizeof(key), NULL, NULL, ACCOUNT, REGION, T_KEY), 0);
	expect_match(key, "^AWSLogs/123456789012/CloudTrail/onprem-1/2024/05/01/"
	    "123456789012_CloudTrail_onprem-1_20240501T0102Z_" UNIQ);
	/* The unique part is exactly 16 characters. */
	assert_int_equal(strlen(key), strlen("AWSLogs/123456789012/CloudTrail/onprem-1/2024/05/01/"
	    "123456789012_CloudTrail_onprem-1_20240501T0102Z_") + 16 + strlen(".json.gz"));

	assert_int_equal(ht_batch_key(key, sizeof(key), "host-a/logs", NULL, ACCOUNT, REGION,
	    T_KEY), 0);
	expect_match(key, "^host-a/logs/AWSLogs/123456789012/CloudTrail/onprem-1/2024/05/01/"
	    "123456789012_CloudTrail_onprem-1_20240501T0102Z_" UNIQ);

	assert_int_equal(ht_batch_key(key, sizeof(key), NULL, "o-abcdef1234", ACCOUNT, REGION,
	    T_KEY), 0);
	expect_match(key, "^AWSLogs/o-abcdef1234/123456789012/CloudTrail/onprem-1/2024/05/01/"
	    "123456789012_CloudTrail_onprem-1_20240501T0102Z_" UNIQ);

	assert_int_equal(ht_batch_key(key, sizeof(key), "p", "o-abcdef1234", ACCOUNT, REGION,
	    T_KEY), 0);
	expect_match(key, "^p/AWSLogs/o-abcdef1234/123456789012/CloudTrail/onprem-1/2024/05/01/"
	    "123456789012_CloudTrail_onprem-1_20240501T0102Z_" UNIQ);

	/* An empty prefix is no prefix (no leading slash). */
	assert_int_equal(ht_batch_key(key, sizeof(key), "", NULL, ACCOUNT, REGION, T_KEY), 0);
	expect_match(key, "^AWSLogs/123456789012/");
}

static void
test_key_time_fields(void **state)
{
	char key[1024];

	(void)state;
	/* 2024-12-31T23:59:59Z: every field at its maximum, in UTC whatever
	 * the local zone. */
	setenv("TZ", "Pacific/Kiritimati", 1);
	tzset();
	assert_int_equal(ht_batch_key(key, sizeof(key), NULL, NULL, ACCOUNT, REGION, 1735689599),
	    0);
	expect_match(key, "/CloudTrail/onprem-1/2024/12/31/123456789012_CloudTrail_onprem-1_"
	    "20241231T2359Z_" UNIQ);
	/* 2025-01-01T00:00:00Z. */
	assert_int_equal(ht_batch_key(key, sizeof(key), NULL, NULL, ACCOUNT, REGION, 1735689600),
	    0);
	expect_match(key, "/CloudTrail/onprem-1/2025/01/01/123456789012_CloudTrail_onprem-1_"
	    "20250101T0000Z_" UNIQ);
	/* 2024-02-29T09:05:00Z: zero-padded. */
	assert_int_equal(ht_batch_key(key, sizeof(key), NULL, NULL, ACCOUNT, REGION, 1709197500),
	    0);
	expect_match(key, "/2024/02/29/123456789012_CloudTrail_onprem-1_20240229T0905Z_" UNIQ);
	unsetenv("TZ");
	tzset();
}

static void
test_key_unique_and_length(void **state)
{
	char a[1024], b[1024], small[64];
	size_t need;

	(void)state;
	assert_int_equal(ht_batch_key(a, sizeof(a), NULL, NULL, ACCOUNT, REGION, T_KEY), 0);
	assert_int_equal(ht_batch_key(b, sizeof(b), NULL, NULL, ACCOUNT, REGION, T_KEY), 0);
	assert_string_not_equal(a, b);
	/* Only the unique part differs. */
	assert_int_equal(strlen(a), strlen(b));
	assert_memory_equal(a, b, strlen(a) - 16 - strlen(".json.gz"));

	/* The buffer must hold the key and its NUL. */
	need = strlen(a) + 1;
	assert_int_equal(ht_batch_key(small, sizeof(small), NULL, NULL, ACCOUNT, REGION, T_KEY),
	    -ENAMETOOLONG);
	{
		char *exact = malloc(need);

		assert_non_null(exact);
		assert_int_equal(ht_batch_key(exact, need - 1, NULL, NULL, ACCOUNT, REGION, T_KEY),
		    -ENAMETOOLONG);
		assert_int_equal(ht_batch_key(exact, need, NULL, NULL, ACCOUNT, REGION, T_KEY), 0);
		assert_int_equal(strlen(exact), need - 1);
		free(exact);
	}
}

/* ---- builds ---- */

static void
test_build_all(void **state)
{
	struct fixture *fx = *state;
	struct ht_batch_job *j = job_new(fx, "AWSLogs/a/b/all.json.gz", 0, NRECS);
	uint64_t json_len = 0;

	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, NRECS);
	assert_int_equal(j->damaged, 0);
	assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[NRECS]), 0);
	for (int i = 1; i <= NRECS; i++)
		json_len += strlen(fx->text[i]);
	assert_true(j->bytes_in >= json_len);
	assert_true(j->bytes_out > 0);
	expect_file(fx, j->key, 1, NRECS, j->bytes_out);
	expect_no_staging(fx);
	assert_int_equal(count_files(fx->spool), 1);
	ht_batch_job_free(j);
	ht_batch_job_free(NULL);
}

static void
test_build_middle_range(void **state)
{
	struct fixture *fx = *state;
	struct ht_batch_job *j = job_new(fx, "mid.json.gz", 7, 19);

	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 12);
	assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[19]), 0);
	expect_file(fx, j->key, 8, 19, j->bytes_out);
	ht_batch_job_free(j);
}

static void
test_build_max_events(void **state)
{
	struct fixture *fx = *state;
	struct ht_batch_job *j;
	int from = 0, files = 0;
	char key[64];

	/* Cut into files of 7: 7,7,7,7,7,5; each starts where the last
	 * reached. */
	while (from < NRECS) {
		int last = from + 7 > NRECS ? NRECS : from + 7;

		snprintf(key, sizeof(key), "ev/%d.json.gz", files);
		j = job_new(fx, key, from, NRECS);
		j->max_events = 7;
		ht_batch_build(j);
		assert_int_equal(j->err, 0);
		assert_int_equal(j->events, (uint64_t)(last - from));
		assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[last]), 0);
		expect_file(fx, key, from + 1, last, j->bytes_out);
		ht_batch_job_free(j);
		from = last;
		files++;
	}
	assert_int_equal(files, 6);
	assert_int_equal(count_files(fx->spool), 6);
	expect_no_staging(fx);
}

/* Length of {"Records":[...]} holding records first..last. */
static uint64_t
doc_len(const struct fixture *fx, int first, int last)
{
	uint64_t n = strlen("{\"Records\":[") + strlen("]}");

	for (int i = first; i <= last; i++)
		n += strlen(fx->text[i]) + (i > first);
	return n;
}

static void
test_build_max_bytes(void **state)
{
	struct fixture *fx = *state;
	struct ht_batch_job *j;

	/* max_bytes is a ceiling on the uncompressed document: exactly three
	 * records' worth holds three... */
	j = job_new(fx, "exact.json.gz", 0, NRECS);
	j->max_bytes = doc_len(fx, 1, 3);
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 3);
	assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[3]), 0);
	expect_file(fx, j->key, 1, 3, j->bytes_out);
	ht_batch_job_free(j);

	/* ...one byte less holds two, and the third is not reached. */
	j = job_new(fx, "less.json.gz", 0, NRECS);
	j->max_bytes = doc_len(fx, 1, 3) - 1;
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 2);
	assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[2]), 0);
	expect_file(fx, j->key, 1, 2, j->bytes_out);
	ht_batch_job_free(j);

	/* Files cut by max_bytes never exceed it, and the next file starts
	 * at the record that did not fit: every record exactly once. */
	{
		uint64_t limit = doc_len(fx, 1, 5);
		int from = 0, files = 0;
		char key[64], path[PATH_MAX], *got;

		while (from < NRECS) {
			snprintf(key, sizeof(key), "cut/%02d.json.gz", files++);
			j = job_new(fx, key, from, NRECS);
			j->max_bytes = limit;
			ht_batch_build(j);
			assert_int_equal(j->err, 0);
			assert_true(j->events >= 1);
			snprintf(path, sizeof(path), "%s/%s", fx->spool, key);
			got = gunzip_file(path, NULL);
			assert_true(strlen(got) <= limit);
			free(got);
			expect_file(fx, key, from + 1, from + (int)j->events, j->bytes_out);
			assert_int_equal(ht_history_pos_cmp(&j->reached,
			    &fx->pos[from + (int)j->events]), 0);
			from += (int)j->events;
			ht_batch_job_free(j);
		}
		assert_true(files > 1);
	}

	/* A single record larger than max_bytes still gets its file: the
	 * smallest limit makes progress, one record at a time. */
	j = job_new(fx, "one.json.gz", 4, NRECS);
	j->max_bytes = 1;
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 1);
	assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[5]), 0);
	expect_file(fx, j->key, 5, 5, j->bytes_out);
	ht_batch_job_free(j);
}

static void
test_build_empty_range(void **state)
{
	struct fixture *fx = *state;
	struct ht_batch_job *j = job_new(fx, "empty.json.gz", 9, 9);
	char path[PATH_MAX];
	struct stat st;

	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 0);
	assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[9]), 0);
	snprintf(path, sizeof(path), "%s/empty.json.gz", fx->spool);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_files(fx->spool), 0);
	ht_batch_job_free(j);

	/* At the very end of history, too. */
	j = job_new(fx, "empty.json.gz", NRECS, NRECS);
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 0);
	assert_int_equal(count_files(fx->spool), 0);
	ht_batch_job_free(j);
}

static void
test_rebuild_identical(void **state)
{
	struct fixture *fx = *state;
	static const char key[] = "AWSLogs/123456789012/CloudTrail/onprem-1/2024/05/01/x.json.gz";
	struct ht_batch_job *j;
	unsigned char *first, *second;
	size_t first_len, second_len;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fx->spool, key);
	j = job_new(fx, key, 3, 30);
	j->max_events = 20;
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	ht_batch_job_free(j);
	first = read_all(path, &first_len);

	/* The "crash and retry" case: the same range and key again. */
	j = job_new(fx, key, 3, 30);
	j->max_events = 20;
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 20);
	assert_int_equal(ht_history_pos_cmp(&j->reached, &fx->pos[23]), 0);
	ht_batch_job_free(j);
	second = read_all(path, &second_len);
	assert_int_equal(first_len, second_len);
	assert_memory_equal(first, second, first_len);
	/* Replaced, not duplicated. */
	assert_int_equal(count_files(fx->spool), 1);
	expect_no_staging(fx);
	free(first);
	free(second);
}

/* A range whose only record is damaged: no file, the damage counted. */
static void
test_build_only_damaged(void **state)
{
	struct fixture *fx = *state;
	struct ht_batch_job *j = job_new(fx, "dmg.json.gz", 4, 5);
	char seg[PATH_MAX];
	unsigned char c;
	int fd;

	ht_history_segment_path(fx->hdir, fx->pos[4].day, seg, sizeof(seg));
	fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)fx->pos[4].offset + HT_SEG_FRAME_LEN + 3), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)fx->pos[4].offset + HT_SEG_FRAME_LEN + 3), 1);
	close(fd);
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 0);
	assert_int_equal(j->damaged, 1);
	assert_int_equal(count_files(fx->spool), 0);
	ht_batch_job_free(j);

	/* Around it: records 4 and 6 only. */
	j = job_new(fx, "around.json.gz", 3, 6);
	ht_batch_build(j);
	assert_int_equal(j->err, 0);
	assert_int_equal(j->events, 2);
	assert_int_equal(j->damaged, 1);
	{
		char path[PATH_MAX], *got, want[1024];

		snprintf(path, sizeof(path), "%s/around.json.gz", fx->spool);
		got = gunzip_file(path, NULL);
		snprintf(want, sizeof(want), "{\"Records\":[%s,%s]}", fx->text[4], fx->text[6]);
		assert_string_equal(got, want);
		free(got);
	}
	ht_batch_job_free(j);
}

static void
test_build_spool_error(void **state)
{
	struct fixture *fx = *state;
	struct ht_batch_job *j = job_new(fx, "x.json.gz", 0, 3);
	int fd;

	/* spool_root is a regular file: staging cannot be created. */
	fd = open(fx->spool, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	close(fd);
	ht_batch_build(j);
	assert_true(j->err < 0);
	assert_true(strlen(j->errmsg) > 0);
	ht_batch_job_free(j);
	unlink(fx->spool);

	/* The key's directory cannot be made (a file is in the way): the
	 * staged file is cleaned up. */
	assert_int_equal(mkdir(fx->spool, 0750), 0);
	{
		char blocker[PATH_MAX];

		snprintf(blocker, sizeof(blocker), "%s/AWSLogs", fx->spool);
		fd = open(blocker, O_WRONLY | O_CREAT, 0640);
		assert_true(fd >= 0);
		close(fd);
	}
	j = job_new(fx, "AWSLogs/sub/x.json.gz", 0, 3);
	ht_batch_build(j);
	assert_true(j->err < 0);
	assert_non_null(strstr(j->errmsg, "AWSLogs/sub/x.json.gz"));
	expect_no_staging(fx);
	ht_batch_job_free(j);

	/* History cannot be read: an error, and no file. */
	j = job_new(fx, "nohist.json.gz", 0, 3);
	free(j->history_dir);
	j->history_dir = strdup("/nonexistent/history");
	assert_non_null(j->history_dir);
	ht_batch_build(j);
	assert_int_equal(j->err, -ENOENT);
	assert_true(strlen(j->errmsg) > 0);
	assert_int_equal(count_files(fx->spool), 1);	/* just the blocker */
	ht_batch_job_free(j);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_pattern),
		cmocka_unit_test(test_key_time_fields),
		cmocka_unit_test(test_key_unique_and_length),
		T(test_build_all),
		T(test_build_middle_range),
		T(test_build_max_events),
		T(test_build_max_bytes),
		T(test_build_empty_range),
		T(test_rebuild_identical),
		T(test_build_only_damaged),
		T(test_build_spool_error),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
