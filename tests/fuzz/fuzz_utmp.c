/*
 * fuzz_utmp.c - libFuzzer target for the utmp reader (daemon/sources/
 * utmp_parse.c): wtmp/btmp bytes to records.
 *
 * The first byte picks the file (wtmp or btmp) and how the rest is cut into
 * chunks (one byte, a prime, whole records, all at once, or sizes taken
 * from the input), so partial records are held across every boundary; a
 * flush ends the input as a rotated file would.
 *
 * Checks the contract, not just memory safety: all bytes are consumed;
 * records come at increasing offsets, each a multiple of the record size
 * and inside the input; entries are whole records and each makes a record
 * or is skipped; every record serializes to valid JSON whose history key
 * is (file, inode, offset) again; a generic record is flagged bad exactly
 * when the bytes were no utmp record; at most HT_UTMP_SESSIONS_MAX
 * sessions stay open and they survive a copy into a second reader.  Leaks
 * are LeakSanitizer's.
 */
#include "ht_build.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"
#include "sources/utmp_parse.h"

#define INODE 4242
#define BASE 768		/* the reader starts here, as after a checkpoint */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	enum ht_utmp_file file;
	const uint8_t *input;
	size_t size;
	uint64_t last_off;
	bool any;
	uint64_t records, bad;
};

static void
check_record(struct check *c, struct ht_record *rec, uint64_t off, bool bad)
{
	struct printbuf *pb = printbuf_new();
	struct json_object *o;
	enum ht_utmp_file f;
	uint64_t ino, at;

	if (pb == NULL || ht_record_serialize(rec, pb) != 0)
		abort();
	o = json_tokener_parse(pb->buf);
	if (o == NULL)
		abort();	/* not valid JSON */
	json_object_put(o);
	if (!ht_utmp_record_key(pb->buf, (size_t)pb->bpos, &f, &ino, &at) || f != c->file ||
	    ino != INODE || at != off)
		abort();
	if (rec->event_name == NULL || rec->event_source == NULL || rec->user_identity == NULL)
		abort();
	if (bad != (strcmp(rec->event_name, "UnknownLoginRecord") == 0))
		abort();
	printbuf_free(pb);
}

static int
emit(struct ht_record *rec, uint64_t off, bool bad, void *arg)
{
	struct check *c = arg;

	if (off < BASE || off - BASE >= c->size || (c->any && off <= c->last_off))
		abort();
	/* whole records start on a record boundary; only a flush's partial
	 * record may not be whole */
	if ((off - BASE) % HT_UTMP_RECORD_SIZE != 0)
		abort();
	c->any = true;
	c->last_off = off;
	c->records++;
	c->bad += bad;
	check_record(c, rec, off, bad);
	ht_record_free(rec);
	return 0;
}

static size_t
chunk_size(uint8_t mode, const uint8_t *data, size_t i, size_t left)
{
	size_t n;

	switch (mode % 5) {
	case 0:
		n = 1;
		break;
	case 1:
		n = 97;
		break;
	case 2:
		n = HT_UTMP_RECORD_SIZE;
		break;
	case 3:
		n = left;
		break;
	default:
		n = 1 + (size_t)data[i] * 3;	/* sizes from the input itself */
		break;
	}
	return n < left ? n : left;
}

static void
check_sessions(const struct ht_utmp_reader *r)
{
	struct ht_utmp_reader *copy = NULL;
	const struct ht_utmp_session *s, *t;
	size_t n, m;

	s = ht_utmp_sessions(r, &n);
	if (n > HT_UTMP_SESSIONS_MAX)
		abort();
	if (ht_utmp_reader_new(HT_UTMP_WTMP, NULL, NULL, &copy) != 0 ||
	    ht_utmp_set_sessions(copy, s, n) != 0)
		abort();
	t = ht_utmp_sessions(copy, &m);
	if (m != n || (n > 0 && memcmp(s, t, n * sizeof(*s)) != 0))
		abort();
	for (size_t i = 0; i < n; i++)
		if (memchr(s[i].user, '\0', sizeof(s[i].user)) == NULL ||
		    memchr(s[i].line, '\0', sizeof(s[i].line)) == NULL)
			abort();
	ht_utmp_reader_free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check c = { 0 };
	struct ht_utmp_reader *r = NULL;
	struct ht_utmp_stats st;
	size_t i = 0, n, used;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	c.file = (mode & 0x80) ? HT_UTMP_BTMP : HT_UTMP_WTMP;
	c.input = data + 1;
	c.size = size - 1;
	if (ht_utmp_reader_new(c.file, NULL, NULL, &r) != 0 ||
	    ht_utmp_reader_reset(r, "/var/log/fuzz", INODE, BASE) != 0)
		abort();
	while (i < c.size) {
		n = chunk_size(mode, c.input, i, c.size - i);
		if (ht_utmp_feed(r, c.input + i, n, emit, &c, &used) != 0 || used != n)
			abort();
		i += n;
	}
	if (ht_utmp_offset(r) != BASE + c.size ||
	    ht_utmp_resume_offset(r) != BASE + c.size - c.size % HT_UTMP_RECORD_SIZE)
		abort();
	ht_utmp_stats(r, &st);
	if (st.entries != c.size / HT_UTMP_RECORD_SIZE || st.records + st.skipped != st.entries ||
	    st.records != c.records || st.bad != c.bad)
		abort();
	if (c.file == HT_UTMP_WTMP)
		check_sessions(r);
	if (ht_utmp_flush(r, emit, &c) != 0 || ht_utmp_resume_offset(r) != BASE + c.size)
		abort();
	ht_utmp_stats(r, &st);
	if (st.bad != c.bad || st.records != c.records)
		abort();
	ht_utmp_reader_free(r);
	return 0;
}
