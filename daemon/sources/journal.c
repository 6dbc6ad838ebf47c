/*
 * journal.c - see journal.h.
 *
 * Reading.  sd-journal is driven from the loop: its fd (inotify on the
 * journal's directories) wakes a callback that calls sd_journal_process,
 * which also notices rotation and vacuuming (SD_JOURNAL_INVALIDATE: files
 * added or removed; reading simply goes on from the current entry).  A
 * pass reads at most JN_BATCH_MAX entries (and JN_BATCH_BYTES of
 * messages), maps each (sources/hostmsg.h), submits them as one batch and
 * queues the next pass, so the API stays responsive while a large journal
 * is read.  A tick calls sd_journal_process too (sd_journal_get_timeout),
 * checks that a configured directory is still the one opened, and
 * restarts reading that back-pressure held.  A journal that cannot be
 * opened (missing directory, no permission) is a warning and a retry
 * every JN_RETRY_MS, never a failed start.
 *
 * Exactly once.  Each batch carries the checkpoint that holds once it and
 * every batch before it are durable: the cursor of its last entry.  At
 * start the reader seeks to that cursor and skips the entry it names
 * (sd_journal_test_cursor); an entry vacuumed meanwhile leaves the reader
 * on the next one, which is then read.  The checkpoint file is rewritten
 * by cpfile.h (at most every HT_CPFILE_SAVE_MS, fsync off the loop), and
 * at stop.  History has records before the checkpoint file says so;
 * each checkpoint therefore also names where history ended when its
 * batch was submitted, and every record carries its entry's cursor
 * and this source's id (additionalEventData.journalCursor, journalSource):
 * after a crash, or a failed append, the records found in history beyond
 * the checkpoint are not sent again (by a hash of the cursor).  A first
 * run writes its starting point at once, so a crash before the first
 * batch does not skip ahead.
 *
 * Entries whose data cannot be read whole, or holds NUL bytes or bad
 * numbers, still become records (of what could be read) and are counted
 * as bad; only -ENOMEM leaves an entry to be read again by the next pass.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <systemd/sd-journal.h>

#include "conf.h"
#include "fileio.h"
#include "history/history.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "sources/cpfile.h"
#include "sources/hostmsg.h"
#include "sources/journal.h"
#include "util.h"

#define JN_BATCH_MAX 1000		/* entries per pass, and per pipeline batch */
#define JN_BATCH_BYTES (4u * 1024 * 1024)	/* message bytes per pass */
#define JN_INFLIGHT_MAX 64		/* batches not yet durable before reading pauses */
#define JN_TICK_MS 1000			/* sd_journal_process, directory check, resume */
#define JN_RETRY_MS 1000		/* reopen, rewind */
#define JN_CP_MAX (64u * 1024)		/* a checkpoint file larger than this is damaged */
#define JN_CURSOR_MAX 1024		/* sd-journal's are ~150 bytes */
#define JN_SEEN_MAX 1000000		/* entries remembered from history's tail */
#define JN_RL_BURST 5			/* bad-entry messages per JN_RL_MS */
#define JN_RL_MS 10000

#define CP_MAGIC "hosttrail-journal-checkpoint 1"

/* One pipeline batch and the checkpoint that holds once it is durable. */
struct jn_batch {
	struct jn_batch *next;
	struct journal_src *js;
	struct ht_journal_checkpoint cp;
	bool has_cp;			/* false: no cursor to advance to */
	bool done;
	int err;
	size_t n;
};

/* Messages on the data path: JN_RL_BURST per JN_RL_MS, then a count. */
struct jn_rl {
	int64_t start;
	unsigned n;
	uint64_t dropped;
};

struct jn_stats {
	uint64_t read, mapped, generic, bad, skipped, submitted, durable, errors, changes;
};

enum jn_pass { JN_MORE, JN_IDLE, JN_HELD };

struct journal_src {
	const struct ht_source_env *env;
	char *dir;			/* NULL: the system journal */
	char **matches;
	size_t n_matches;
	char *checkpoint, *checkpoint_conf, *hist_dir;
	const char *what;		/* dir, or "system journal": for messages */
	char id[9];
	enum ht_source_start start;
	uint32_t hist_day;		/* the newest history day seen */
	/* the journal */
	sd_journal *j;
	dev_t dir_dev;
	ino_t dir_ino;
	int open_err;			/* the failure last logged, 0: none */
	bool redo;			/* the current entry is not consumed yet */
	bool fresh;			/* unreadable when we started: all it has is new */
	bool consumed;			/* entries consumed since the last batch */
	char *read_cursor;		/* the last entry consumed; NULL: none (head) */
	struct ht_journal_fields fields;
	/* hashes of the cursors history has beyond the checkpoint, sorted */
	uint64_t *seen;
	size_t n_seen, cap_seen, seen_left;
	/* records of this pass, then the batches not yet complete */
	struct ht_record **recs;
	size_t n_recs, cap_recs;
	struct jn_batch *head, *tail;
	unsigned inflight;
	/* the durable checkpoint */
	struct ht_journal_checkpoint durable;
	bool have_durable;
	struct ht_cpfile *cp;		/* writes it off the loop */
	/* "caught up" is logged once per start */
	bool catchup_done, catchup_wait;
	int64_t started_ms;
	/* loop */
	struct event *read_ev, *fd_ev, *tick_ev, *retry_ev;
	bool blocked, failed, draining, stopping;
	struct jn_stats st;
	struct jn_rl rl;
};

static void jn_kick(struct journal_src *js);
static void jn_stop_now(struct journal_src *js);

/* ---- the fields of an entry ---- */

static const char *const field_names[HT_JF_COUNT] = {
	[HT_JF_MESSAGE] = "MESSAGE",
	[HT_JF_HOSTNAME] = "_HOSTNAME",
	[HT_JF_SYSLOG_IDENTIFIER] = "SYSLOG_IDENTIFIER",
	[HT_JF_COMM] = "_COMM",
	[HT_JF_PID] = "_PID",
	[HT_JF_SYSLOG_PID] = "SYSLOG_PID",
	[HT_JF_UID] = "_UID",
	[HT_JF_SYSTEMD_UNIT] = "_SYSTEMD_UNIT",
	[HT_JF_MESSAGE_ID] = "MESSAGE_ID",
	[HT_JF_UNIT] = "UNIT",
	[HT_JF_USER_UNIT] = "USER_UNIT",
	[HT_JF_JOB_TYPE] = "JOB_TYPE",
	[HT_JF_JOB_RESULT] = "JOB_RESULT",
};

void
ht_journal_fields_reset(struct ht_journal_fields *f)
{
	f->len = 0;
	memset(f->off, 0, sizeof(f->off));
	f->bad = 0;
}

static int
field_index(const char *name, size_t len)
{
	for (int k = 0; k < HT_JF_COUNT; k++)
		if (strlen(field_names[k]) == len && memcmp(field_names[k], name, len) == 0)
			return k;
	return -1;
}

/* Room for need more bytes in f->buf.  0 or -ENOMEM. */
static int
fields_reserve(struct ht_journal_fields *f, size_t need)
{
	size_t cap = f->cap ? f->cap : 4096;
	char *p;

	if (f->len + need <= f->cap)
		return 0;
	while (cap < f->len + need)
		cap *= 2;
	if ((p = realloc(f->buf, cap)) == NULL)
		return -ENOMEM;
	f->buf = p;
	f->cap = cap;
	return 0;
}

int
ht_journal_fields_add(struct ht_journal_fields *f, const void *data, size_t len)
{
	const char *p = data, *eq = memchr(p, '=', len);
	size_t vlen, nuls = 0, o;
	int k;

	if (eq == NULL || eq == p) {
		f->bad |= HT_JBAD_SHAPE;
		return 0;
	}
	k = field_index(p, (size_t)(eq - p));
	if (k < 0 || f->off[k] != 0)
		return 0;	/* not used, or repeated: the first one counts */
	vlen = len - (size_t)(eq - p) - 1;
	if (vlen > HT_JOURNAL_FIELD_MAX) {
		vlen = HT_JOURNAL_FIELD_MAX;
		f->bad |= HT_JBAD_CUT;
	}
	for (size_t i = 0; i < vlen; i++)
		nuls += eq[1 + i] == '\0';
	/* hostmsg takes C strings: a NUL is kept as the text hostmsg shows
	 * other non-text bytes as */
	if (fields_reserve(f, vlen + 3 * nuls + 1) < 0)
		return -ENOMEM;
	o = f->len;
	for (size_t i = 0; i < vlen; i++) {
		if (eq[1 + i] != '\0') {
			f->buf[o++] = eq[1 + i];
			continue;
		}
		memcpy(f->buf + o, "\\x00", 4);
		o += 4;
	}
	f->buf[o++] = '\0';
	if (nuls > 0)
		f->bad |= HT_JBAD_NUL;
	f->off[k] = f->len + 1;
	f->len = o;
	return 0;
}

const char *
ht_journal_fields_get(const struct ht_journal_fields *f, enum ht_journal_field k)
{
	return f->off[k] != 0 ? f->buf + f->off[k] - 1 : NULL;
}

/* A decimal field: -1 when absent, or (flagged bad) when not a number. */
static int64_t
fields_num(struct ht_journal_fields *f, enum ht_journal_field k)
{
	const char *s = ht_journal_fields_get(f, k);
	int64_t v = 0;

	if (s == NULL)
		return -1;
	for (const char *c = s; ; c++) {
		if (*c == '\0' && c > s)
			return v;
		if (*c < '0' || *c > '9' || c - s >= 18) {
			f->bad |= HT_JBAD_NUMBER;
			return -1;
		}
		v = v * 10 + (*c - '0');
	}
}

/* Does the sender's own program name (_COMM: journald reads it from the
 * kernel, 15 bytes at most) agree with the name it logged under
 * (SYSLOG_IDENTIFIER: anything the sender likes, `logger -t sshd`)?
 * OpenSSH's privilege-separated processes log as sshd from sshd-session
 * and sshd-auth. */
static bool
sender_agrees(const char *ident, const char *comm)
{
	if (comm == NULL || ident == NULL)
		return true;	/* nothing trusted to compare with */
	if (strncmp(ident, comm, 15) == 0)
		return true;
	return strncmp(ident, "sshd", 4) == 0 && strncmp(comm, "sshd", 4) == 0;
}

void
ht_journal_fields_hostmsg(struct ht_journal_fields *f, uint64_t realtime_us,
    struct ht_hostmsg *ret)
{
	const char *comm = ht_journal_fields_get(f, HT_JF_COMM);
	const char *ident = ht_journal_fields_get(f, HT_JF_SYSLOG_IDENTIFIER);
	const char *unit = ht_journal_fields_get(f, HT_JF_UNIT);
	int64_t pid = fields_num(f, HT_JF_PID);

	memset(ret, 0, sizeof(*ret));
	if (realtime_us == 0) {
		ret->time_ms = -1;
		f->bad |= HT_JBAD_TIME;
	} else {
		ret->time_ms = (int64_t)(realtime_us / 1000);
	}
	ret->hostname = ht_journal_fields_get(f, HT_JF_HOSTNAME);
	/* A record names what really sent it: a program claiming to be sshd
	 * or sudo gets a generic record under its own name, not a login or a
	 * privilege use. */
	if (!sender_agrees(ident, comm)) {
		f->bad |= HT_JBAD_SENDER;
		ident = comm;
	}
	ret->ident = ident != NULL ? ident : comm;
	ret->message = ht_journal_fields_get(f, HT_JF_MESSAGE);
	ret->pid = pid >= 0 ? pid : fields_num(f, HT_JF_SYSLOG_PID);
	ret->uid = fields_num(f, HT_JF_UID);
	ret->systemd_unit = ht_journal_fields_get(f, HT_JF_SYSTEMD_UNIT);
	/* systemd's job message IDs count only from systemd itself */
	ret->message_id = comm == NULL || strcmp(comm, "systemd") == 0 ?
	    ht_journal_fields_get(f, HT_JF_MESSAGE_ID) : NULL;
	/* a user manager's jobs name their unit USER_UNIT= */
	ret->unit = unit != NULL ? unit : ht_journal_fields_get(f, HT_JF_USER_UNIT);
	ret->job_type = ht_journal_fields_get(f, HT_JF_JOB_TYPE);
	ret->job_result = ht_journal_fields_get(f, HT_JF_JOB_RESULT);
	ret->origin = "journal";
}

void
ht_journal_fields_free(struct ht_journal_fields *f)
{
	if (f == NULL)
		return;
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* ---- the checkpoint ---- */

void
ht_journal_checkpoint_clear(struct ht_journal_checkpoint *cp)
{
	free(cp->cursor);
	memset(cp, 0, sizeof(*cp));
}

/* sd-journal's cursors are "key=value;..." in plain ASCII: anything with
 * a space or a control character is not one of them. */
static bool
cursor_ok(const char *s, size_t len)
{
	if (len == 0 || len > JN_CURSOR_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int
ht_journal_checkpoint_format(const struct ht_journal_checkpoint *cp, const char *what,
    char **ret, size_t *ret_len)
{
	char *text = NULL;
	int n;

	/* the name is informational, and must stay one line */
	n = asprintf(&text, CP_MAGIC "\njournal %.*s\ncursor %s\nhistory %" PRIu32 " %" PRIu64
	    "\n", (int)strcspn(what, "\n"), what, cp->cursor != NULL ? cp->cursor : "-",
	    cp->hist_day, cp->hist_off);
	if (n < 0)
		return -ENOMEM;
	*ret = text;
	*ret_len = (size_t)n;
	return 0;
}

/* A decimal number spanning exactly [s, end).  0 or -EINVAL. */
static int
parse_u64(const char *s, const char *end, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (s == end || end - s > 20)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

/* One "key value" line into cp; seen tracks which keys came.  0 or -errno. */
static int
cp_line(const char *l, size_t len, struct ht_journal_checkpoint *cp, unsigned *seen)
{
	const char *sp = memchr(l, ' ', len), *end = l + len, *sp2;
	uint64_t day, off;

	if (sp == NULL)
		return -EINVAL;
	if (sp - l == 7 && memcmp(l, "journal", 7) == 0 && !(*seen & 1)) {
		*seen |= 1;
		return 0;
	}
	if (sp - l == 6 && memcmp(l, "cursor", 6) == 0 && !(*seen & 2)) {
		*seen |= 2;
		if (end - sp == 2 && sp[1] == '-')
			return 0;
		if (!cursor_ok(sp + 1, (size_t)(end - sp - 1)))
			return -EINVAL;
		cp->cursor = strndup(sp + 1, (size_t)(end - sp - 1));
		return cp->cursor != NULL ? 0 : -ENOMEM;
	}
	if (sp - l == 7 && memcmp(l, "history", 7) == 0 && !(*seen & 4)) {
		*seen |= 4;
		sp2 = memchr(sp + 1, ' ', (size_t)(end - sp - 1));
		if (sp2 == NULL || parse_u64(sp + 1, sp2, UINT32_MAX, &day) < 0 ||
		    parse_u64(sp2 + 1, end, UINT64_MAX, &off) < 0)
			return -EINVAL;
		cp->hist_day = (uint32_t)day;
		cp->hist_off = off;
		return 0;
	}
	return -EINVAL;
}

int
ht_journal_checkpoint_parse(const char *text, size_t len, struct ht_journal_checkpoint *ret)
{
	struct ht_journal_checkpoint cp = { 0 };
	size_t magic = strlen(CP_MAGIC);
	const char *p = text + magic + 1, *end = text + len, *nl;
	unsigned seen = 0;
	int v = 0;

	if (len <= magic || memcmp(text, CP_MAGIC, magic) != 0 || text[magic] != '\n' ||
	    text[len - 1] != '\n' || memchr(text, '\0', len) != NULL)
		return -EINVAL;
	for (; p < end && v == 0; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		v = cp_line(p, (size_t)(nl - p), &cp, &seen);
	}
	if (v == 0 && (seen & 6) != 6)
		v = -EINVAL;	/* the cursor and history lines are required */
	if (v < 0) {
		ht_journal_checkpoint_clear(&cp);
		return v;
	}
	*ret = cp;
	return 0;
}

/* ---- this source's records in history ---- */

void
ht_journal_source_id(const char *checkpoint, char buf[9])
{
	snprintf(buf, 9, "%08" PRIx32, ht_fnv1a32_str(checkpoint));
}

uint64_t
ht_journal_cursor_hash(const char *cursor)
{
	return ht_fnv1a64(cursor, strlen(cursor));
}

/* additionalEventData's string key of rec, or NULL. */
static const char *
aed_string(struct json_object *aed, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(aed, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
ht_journal_record_key(const char *json, size_t len, const char *id, uint64_t *ret_hash)
{
	struct json_tokener *tok;
	struct json_object *rec, *aed;
	const char *src, *cur;
	int v = 0;

	/* most of history is other sources': not worth parsing */
	if (memmem(json, len, id, strlen(id)) == NULL || len > INT32_MAX)
		return 0;
	if ((tok = json_tokener_new()) == NULL)
		return -ENOMEM;
	rec = json_tokener_parse_ex(tok, json, (int)len);
	if (rec != NULL && json_object_object_get_ex(rec, "additionalEventData", &aed) &&
	    (src = aed_string(aed, "journalSource")) != NULL && strcmp(src, id) == 0 &&
	    (cur = aed_string(aed, "journalCursor")) != NULL) {
		*ret_hash = ht_journal_cursor_hash(cur);
		v = 1;
	}
	json_object_put(rec);
	json_tokener_free(tok);
	return v;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
seen_free(struct journal_src *js)
{
	free(js->seen);
	js->seen = NULL;
	js->n_seen = js->cap_seen = js->seen_left = 0;
}

static int
seen_scan_cb(uint64_t seq, uint32_t flags, const char *data, size_t len, void *arg)
{
	struct journal_src *js = arg;
	size_t cap = js->cap_seen ? js->cap_seen * 2 : 1024;
	uint64_t h, *p;
	int v;

	if ((v = ht_journal_record_key(data, len, js->id, &h)) <= 0)
		return v < 0 ? v : HT_SCAN_NEXT;
	if (js->n_seen >= JN_SEEN_MAX) {
		log_warnx("journal %s: more than %d records in history beyond the checkpoint; "
		    "later entries may be delivered twice", js->what, JN_SEEN_MAX);
		return HT_SCAN_STOP;
	}
	if (js->n_seen == js->cap_seen) {
		if ((p = realloc(js->seen, cap * sizeof(*p))) == NULL)
			return -ENOMEM;
		js->seen = p;
		js->cap_seen = cap;
	}
	js->seen[js->n_seen++] = h;
	return HT_SCAN_NEXT;
}

/* Before reading on from cp: remember the entries history has beyond it. */
static void
seen_load(struct journal_src *js, const struct ht_journal_checkpoint *cp)
{
	struct ht_history_pos from = { cp->hist_day, cp->hist_off }, reached;
	struct ht_history_pos to = { UINT32_MAX, UINT64_MAX };
	size_t n = 0;
	int v;

	seen_free(js);
	if (cp->hist_day == 0)
		return;
	v = ht_history_scan(js->hist_dir, &from, &to, seen_scan_cb, js, &reached, NULL);
	if (v < 0) {
		log_msg(HT_LOG_WARNING, -v, "journal %s: cannot read history beyond the "
		    "checkpoint; entries after it may be delivered twice", js->what);
		seen_free(js);
		return;
	}
	if (js->n_seen > 1)	/* none read: seen is NULL, which qsort may not take */
		qsort(js->seen, js->n_seen, sizeof(*js->seen), u64_cmp);
	for (size_t i = 0; i < js->n_seen; i++)
		if (n == 0 || js->seen[n - 1] != js->seen[i])
			js->seen[n++] = js->seen[i];
	js->n_seen = js->seen_left = n;
	if (n > 0)
		log_info("journal %s: history already has %zu entries from beyond the checkpoint; "
		    "they are not delivered again", js->what, n);
	else
		seen_free(js);
}

/* Is the entry of cursor in history already?  Each is found once. */
static bool
seen_take(struct journal_src *js, const char *cursor)
{
	uint64_t h;

	if (js->seen_left == 0 || cursor == NULL)
		return false;
	h = ht_journal_cursor_hash(cursor);
	if (bsearch(&h, js->seen, js->n_seen, sizeof(h), u64_cmp) == NULL)
		return false;
	if (--js->seen_left == 0)
		seen_free(js);
	return true;
}

/* ---- helpers ---- */

static bool
rl_ok(struct journal_src *js)
{
	int64_t now = ht_mono_ms();

	if (now - js->rl.start >= JN_RL_MS) {
		if (js->rl.dropped > 0)
			log_warnx("journal %s: %" PRIu64 " more messages about bad entries "
			    "suppressed", js->what, js->rl.dropped);
		js->rl.start = now;
		js->rl.n = 0;
		js->rl.dropped = 0;
	}
	if (js->rl.n < JN_RL_BURST) {
		js->rl.n++;
		return true;
	}
	js->rl.dropped++;
	return false;
}

static void
jn_arm(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ev != NULL)
		evtimer_add(ev, &tv);
}

/* Where history ends now (history.h). */
static void
jn_hist_pos(struct journal_src *js, uint32_t *ret_day, uint64_t *ret_off)
{
	struct ht_history_pos pos;

	ht_history_end_pos(js->hist_dir, &js->hist_day, &pos);
	*ret_day = pos.day;
	*ret_off = pos.offset;
}

/* "t=HEX" of a cursor: its entry's wall-clock time, as ISO 8601 in buf. */
static const char *
cursor_time(const char *cursor, char buf[HT_ISO8601_LEN])
{
	const char *t = cursor != NULL ? strstr(cursor, ";t=") : NULL;
	unsigned long long us;

	if (t == NULL || sscanf(t + 3, "%llx", &us) != 1)
		return "the journal's start";
	ht_time_iso8601((time_t)(us / 1000000), buf);
	return buf;
}

/* ---- saving the checkpoint ---- */

/* With nothing in flight, history holds none of this source's records past
 * its end: later scans can start there. */
static void
refresh_hist_pos(struct journal_src *js)
{
	if (js->inflight == 0 && js->head == NULL && !js->failed && js->n_recs == 0)
		jn_hist_pos(js, &js->durable.hist_day, &js->durable.hist_off);
}

/* cpfile's format, on the loop: the durable checkpoint's text. */
static int
jn_format(void *arg, char **ret_text, size_t *ret_len)
{
	struct journal_src *js = arg;

	if (!js->have_durable)
		return -EAGAIN;
	refresh_hist_pos(js);
	return ht_journal_checkpoint_format(&js->durable, js->what, ret_text, ret_len);
}

/* cp (taken over) is durable now. */
static void
jn_advance(struct journal_src *js, struct ht_journal_checkpoint *cp)
{
	ht_journal_checkpoint_clear(&js->durable);
	js->durable = *cp;
	memset(cp, 0, sizeof(*cp));
	js->have_durable = true;
	ht_cpfile_dirty(js->cp);
}

/* ---- batches ---- */

static void
recs_drop(struct journal_src *js)
{
	for (size_t i = 0; i < js->n_recs; i++)
		ht_record_free(js->recs[i]);
	js->n_recs = 0;
}

static void
log_caught_up(struct journal_src *js)
{
	js->catchup_wait = false;
	js->catchup_done = true;
	log_info("journal %s: caught up: %" PRIu64 " entries read since start, all in history "
	    "(%.1f s); following", js->what, js->st.read, (double)(ht_mono_ms() -
	    js->started_ms) / 1000);
}

/* Pop the batches that are done, in order, advancing the checkpoint. */
static void
jn_complete(struct journal_src *js)
{
	struct jn_batch *b;

	while ((b = js->head) != NULL && b->done) {
		js->head = b->next;
		if (js->head == NULL)
			js->tail = NULL;
		if (b->err < 0) {
			if (!js->failed)
				log_msg(HT_LOG_ERR, -b->err, "journal %s: %zu entries could not "
				    "be stored; reading again from the last durable checkpoint",
				    js->what, b->n);
			js->failed = true;
		} else {
			js->st.durable += b->n;
			if (!js->failed && b->has_cp)
				jn_advance(js, &b->cp);
		}
		ht_journal_checkpoint_clear(&b->cp);
		free(b);
	}
	if (js->stopping) {
		if (js->inflight == 0)
			jn_stop_now(js);
		return;
	}
	if (js->failed && js->inflight == 0 && !js->draining)
		jn_arm(js->retry_ev, JN_RETRY_MS);
	else if (js->inflight == JN_INFLIGHT_MAX / 2)
		jn_kick(js);
	if (js->catchup_wait && js->inflight == 0 && !js->failed)
		log_caught_up(js);
}

static void
jn_durable_cb(int err, void *arg)
{
	struct jn_batch *b = arg;

	b->done = true;
	b->err = err;
	b->js->inflight--;
	jn_complete(b->js);
}

/* Submit this pass's records with the checkpoint they complete.  The
 * durable callback may run before ht_pipeline_submit returns; it only
 * pops batches and arms timers, so nothing here is re-entered. */
static void
jn_submit(struct journal_src *js)
{
	struct jn_batch *b;
	int v;

	if (!js->consumed || js->failed)
		return;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return;	/* the records wait for the next pass */
	b->js = js;
	b->n = js->n_recs;
	if (js->read_cursor != NULL) {
		if ((b->cp.cursor = strdup(js->read_cursor)) == NULL) {
			free(b);
			return;
		}
		b->has_cp = true;
		jn_hist_pos(js, &b->cp.hist_day, &b->cp.hist_off);
	}
	if (js->tail)
		js->tail->next = b;
	else
		js->head = b;
	js->tail = b;
	js->inflight++;
	js->consumed = false;
	js->st.submitted += js->n_recs;
	v = ht_pipeline_submit(js->env->pipeline, js->recs, js->n_recs, jn_durable_cb, b);
	recs_drop(js);
	if (v < 0) {
		b->done = true;
		b->err = v;
		js->inflight--;
		jn_complete(js);
	}
}

/* ---- entries ---- */

/* Queue rec (taken over).  0 or -ENOMEM (rec freed). */
static int
recs_push(struct journal_src *js, struct ht_record *rec)
{
	if (js->n_recs == js->cap_recs) {
		size_t cap = js->cap_recs ? js->cap_recs * 2 : 256;
		struct ht_record **p = realloc(js->recs, cap * sizeof(*p));

		if (p == NULL) {
			ht_record_free(rec);
			return -ENOMEM;
		}
		js->recs = p;
		js->cap_recs = cap;
	}
	js->recs[js->n_recs++] = rec;
	return 0;
}

/* The entry's kept fields into js->fields.  0 or -ENOMEM; read errors
 * are flagged bad (what was read before them is kept). */
static int
read_fields(struct journal_src *js, uint64_t *ret_realtime)
{
	const void *data;
	size_t len;
	int r;

	ht_journal_fields_reset(&js->fields);
	if (sd_journal_get_realtime_usec(js->j, ret_realtime) < 0)
		*ret_realtime = 0;
	sd_journal_restart_data(js->j);
	while ((r = sd_journal_enumerate_available_data(js->j, &data, &len)) > 0)
		if (ht_journal_fields_add(&js->fields, data, len) < 0)
			return -ENOMEM;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		js->fields.bad |= HT_JBAD_READ;
	return 0;
}

/* Where this record came from, for the history scan after a restart and
 * for people who want to find the entry (journalctl --cursor). */
static int
tag_record(struct journal_src *js, struct ht_record *rec, const char *cursor)
{
	struct json_object *aed = rec->additional_event_data, *v;

	if (aed == NULL && (aed = rec->additional_event_data = json_object_new_object()) == NULL)
		return -ENOMEM;
	if (cursor != NULL) {
		if ((v = json_object_new_string(cursor)) == NULL)
			return -ENOMEM;
		if (json_object_object_add(aed, "journalCursor", v) < 0) {
			json_object_put(v);
			return -ENOMEM;
		}
	}
	if ((v = json_object_new_string(js->id)) == NULL)
		return -ENOMEM;
	if (json_object_object_add(aed, "journalSource", v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static void
bad_entry(struct journal_src *js, const char *cursor, unsigned bad)
{
	js->st.bad++;
	if (!rl_ok(js))
		return;
	log_warnx("journal %s: entry %s:%s%s%s%s%s%s%s; recorded with what could be read",
	    js->what, cursor != NULL ? cursor : "(no cursor)",
	    bad & HT_JBAD_READ ? " its data could not all be read" : "",
	    bad & HT_JBAD_SHAPE ? " a field is not FIELD=value" : "",
	    bad & HT_JBAD_NUL ? " a value holds NUL bytes" : "",
	    bad & HT_JBAD_NUMBER ? " _PID, SYSLOG_PID or _UID is not a number" : "",
	    bad & HT_JBAD_CUT ? " a value was cut at 64 KiB" : "",
	    bad & HT_JBAD_TIME ? " no timestamp" : "",
	    bad & HT_JBAD_SENDER ? " SYSLOG_IDENTIFIER names another program than the sender "
	    "(_COMM), so it is recorded under _COMM" : "");
}

/* The entry under the reader as a record in js->recs.  *bytes grows by its
 * message.  0 (consumed), or -ENOMEM (not consumed: read it again). */
static int
jn_entry(struct journal_src *js, size_t *bytes)
{
	enum ht_hostmsg_kind kind;
	struct ht_record *rec = NULL;
	struct ht_hostmsg m;
	uint64_t rt;
	char *cursor = NULL;
	int r;

	r = sd_journal_get_cursor(js->j, &cursor);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		cursor = NULL;	/* recorded; the checkpoint stays at the one before */
	if (seen_take(js, cursor)) {
		js->st.skipped++;
		goto consumed;
	}
	if ((r = read_fields(js, &rt)) < 0)
		goto fail;
	if (cursor == NULL)
		js->fields.bad |= HT_JBAD_READ;
	ht_journal_fields_hostmsg(&js->fields, rt, &m);
	if ((r = ht_hostmsg_map(&m, &rec, &kind)) < 0)
		goto fail;
	if ((r = tag_record(js, rec, cursor)) < 0) {
		ht_record_free(rec);
		goto fail;
	}
	if ((r = recs_push(js, rec)) < 0)
		goto fail;	/* rec freed */
	js->st.read++;
	if (kind == HT_HOSTMSG_MAPPED)
		js->st.mapped++;
	else
		js->st.generic++;
	if (js->fields.bad != 0)
		bad_entry(js, cursor, js->fields.bad);
	*bytes += m.message != NULL ? strlen(m.message) : 0;
consumed:
	js->consumed = true;
	if (cursor != NULL) {
		free(js->read_cursor);
		js->read_cursor = cursor;
	}
	return 0;
fail:
	free(cursor);
	return r;
}

/* ---- reading ---- */

/* Should reading wait (pipeline back-pressure, too much not yet durable)? */
static bool
jn_held(struct journal_src *js)
{
	char why[256];

	if (js->inflight >= JN_INFLIGHT_MAX)
		return true;
	if (!ht_pipeline_blocked(js->env->pipeline, why, sizeof(why))) {
		if (js->blocked)
			log_info("journal %s: reading again", js->what);
		js->blocked = false;
		return false;
	}
	if (!js->blocked)
		log_warnx("journal %s: holding back: %s; the entries wait in the journal",
		    js->what, why);
	js->blocked = true;
	return true;
}

/* Read at most one batch of entries and submit it. */
static enum jn_pass
jn_pass(struct journal_src *js)
{
	enum jn_pass res = JN_MORE;
	size_t bytes = 0;
	int r;

	if (js->j == NULL || js->failed || js->draining || js->stopping || jn_held(js))
		return JN_HELD;
	for (unsigned i = 0; i < JN_BATCH_MAX && bytes < JN_BATCH_BYTES; i++) {
		if (!js->redo) {
			r = sd_journal_next(js->j);
			if (r == 0) {
				res = JN_IDLE;
				break;
			}
			if (r < 0) {
				js->st.errors++;
				if (rl_ok(js))
					log_msg(HT_LOG_WARNING, -r, "journal %s: cannot read "
					    "the next entry; retrying", js->what);
				res = JN_HELD;
				break;
			}
		}
		js->redo = true;	/* until it is consumed */
		if (jn_entry(js, &bytes) < 0) {
			if (rl_ok(js))
				log_warnx("journal %s: out of memory reading an entry; reading it "
				    "again", js->what);
			res = JN_HELD;
			break;
		}
		js->redo = false;
	}
	jn_submit(js);
	return res;
}

static void
jn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal_src *js = arg;
	enum jn_pass v = jn_pass(js);

	if (v == JN_MORE) {
		jn_kick(js);
	} else if (v == JN_IDLE && !js->catchup_done && !js->catchup_wait) {
		js->catchup_wait = true;
		if (js->inflight == 0)
			log_caught_up(js);
	}
}

static void
jn_kick(struct journal_src *js)
{
	if (js->read_ev != NULL && !js->stopping && !js->draining)
		event_active(js->read_ev, EV_TIMEOUT, 0);
}

/* The journal's fd: files written, added or removed. */
static void
jn_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal_src *js = arg;
	int r;

	if (js->j == NULL)
		return;
	r = sd_journal_process(js->j);
	if (r == SD_JOURNAL_INVALIDATE) {
		js->st.changes++;	/* rotated or vacuumed: reading goes on */
		log_debug("journal %s: journal files added or removed", js->what);
	} else if (r < 0 && rl_ok(js)) {
		log_msg(HT_LOG_WARNING, -r, "journal %s: processing journal changes", js->what);
	}
	jn_kick(js);
}

/* ---- opening and positioning ---- */

/* Put the reader after cursor (NULL: before the journal's first entry).
 * 0 or -errno. */
static int
jn_seek(struct journal_src *js, const char *cursor)
{
	int r;

	js->redo = false;
	if (cursor == NULL)
		return sd_journal_seek_head(js->j);
	if ((r = sd_journal_seek_cursor(js->j, cursor)) < 0)
		return r;
	/* On the entry itself if it is still there (consumed), else on the
	 * first one after it (not consumed), else nowhere yet: new entries
	 * come after the position. */
	r = sd_journal_next(js->j);
	if (r <= 0)
		return r;
	if (sd_journal_test_cursor(js->j, cursor) > 0)
		return 0;
	js->redo = true;
	log_warnx("journal %s: the entry of the checkpoint is gone (vacuumed?); reading on "
	    "from the next one", js->what);
	return 0;
}

/* A first run: the journal's end (start: end) or its start.  The starting
 * point is the durable checkpoint from now on (*ret_new: not written
 * yet).  0 or -errno. */
static int
jn_first_position(struct journal_src *js, const char **ret_how, bool *ret_new)
{
	char *cursor = NULL;
	int r;

	*ret_how = "its start (start: beginning)";
	if (js->start == HT_SOURCE_START_END && js->fresh) {
		*ret_how = "its start: it was not there when hosttraild started, so all of it "
		    "is new";
	} else if (js->start == HT_SOURCE_START_END) {
		if ((r = sd_journal_seek_tail(js->j)) < 0)
			return r;
		/* on the last entry; an empty journal reads from its head, or new
		 * entries would never be seen after a seek to the tail */
		r = sd_journal_previous(js->j);
		if (r < 0)
			return r;
		if (r > 0 && (r = sd_journal_get_cursor(js->j, &cursor)) < 0)
			return r;
		*ret_how = cursor != NULL ? "its end: first run, earlier entries are not "
		    "replayed" : "its start: it is empty";
	}
	if (cursor == NULL && (r = sd_journal_seek_head(js->j)) < 0)
		return r;
	free(js->read_cursor);
	js->read_cursor = cursor;
	ht_journal_checkpoint_clear(&js->durable);
	if (cursor != NULL && (js->durable.cursor = strdup(cursor)) == NULL)
		return -ENOMEM;
	jn_hist_pos(js, &js->durable.hist_day, &js->durable.hist_off);
	js->have_durable = true;
	*ret_new = true;	/* the caller writes it before reading */
	return 0;
}

/* Entries of files the reader cannot open are silently missing: say so. */
static void
check_readable(struct journal_src *js)
{
	struct dirent *de;
	size_t n;
	DIR *d;

	if (js->dir == NULL || (d = opendir(js->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if ((n > 8 && strcmp(de->d_name + n - 8, ".journal") == 0) ||
		    (n > 9 && strcmp(de->d_name + n - 9, ".journal~") == 0))
			if (faccessat(dirfd(d), de->d_name, R_OK, AT_EACCESS) < 0)
				log_warn("journal %s: %s is not readable; its entries are not read",
				    js->what, de->d_name);
	}
	closedir(d);
}

static void
jn_close(struct journal_src *js)
{
	if (js->fd_ev != NULL)
		event_free(js->fd_ev);
	js->fd_ev = NULL;
	sd_journal_close(js->j);	/* NULL is a no-op */
	js->j = NULL;
}

/* sd_journal_open* with the matches.  0 or -errno (not logged). */
static int
jn_open_journal(struct journal_src *js)
{
	struct stat st = { 0 };
	int r, fd;

	if (js->dir != NULL && stat(js->dir, &st) < 0)
		return -errno;
	/* The system journal: this machine's, without the users' own journals
	 * (with SplitMode=uid, what a user logs, e.g. with logger -t sshd, goes
	 * there and cannot pose as a system program's entry). */
	r = js->dir != NULL ? sd_journal_open_directory(&js->j, js->dir, 0) :
	    sd_journal_open(&js->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0) {
		js->j = NULL;
		return r;
	}
	for (size_t i = 0; i < js->n_matches && r >= 0; i++)
		r = strcmp(js->matches[i], "+") == 0 ? sd_journal_add_disjunction(js->j) :
		    sd_journal_add_match(js->j, js->matches[i], 0);
	if (r >= 0)
		r = sd_journal_set_data_threshold(js->j, HT_JOURNAL_FIELD_MAX);
	/* the watches go in before anything is read, so no file added
	 * meanwhile is missed */
	if (r >= 0 && (r = fd = sd_journal_get_fd(js->j)) >= 0) {
		js->fd_ev = event_new(js->env->base, fd, EV_READ | EV_PERSIST, jn_fd_cb, js);
		if (js->fd_ev == NULL || event_add(js->fd_ev, NULL) < 0)
			r = -ENOMEM;
	}
	if (r < 0) {
		jn_close(js);
		return r;
	}
	if (js->dir != NULL) {
		js->dir_dev = st.st_dev;
		js->dir_ino = st.st_ino;
	}
	return 0;
}

/* Open the journal and put the reader where it left off; *ret_new: a
 * first run's starting point, not written yet.  0, or -errno (logged when
 * the failure is new). */
static int
jn_open(struct journal_src *js, bool *ret_new)
{
	const char *how = NULL;
	char when[HT_ISO8601_LEN];
	int r;

	r = jn_open_journal(js);
	if (r == 0 && js->have_durable) {
		r = jn_seek(js, js->read_cursor);
		if (r == -EINVAL) {
			log_warnx("journal %s: the checkpoint's cursor is not one this journal "
			    "understands; starting as on a first run", js->what);
			js->have_durable = false;
			free(js->read_cursor);
			js->read_cursor = NULL;
		}
	}
	if (r == 0 && !js->have_durable)
		r = jn_first_position(js, &how, ret_new);
	if (r < 0) {
		jn_close(js);
		if (r != js->open_err)
			log_msg(HT_LOG_WARNING, -r, "journal %s: cannot open%s; retrying every "
			    "%d ms", js->what, r == -ENOENT ? " (no such directory)" : "",
			    JN_RETRY_MS);
		js->open_err = r;
		return r;
	}
	js->open_err = 0;
	check_readable(js);
	if (how != NULL)
		log_info("journal %s: reading from %s; %zu matches, checkpoint %s", js->what, how,
		    js->n_matches, js->checkpoint);
	else
		log_info("journal %s: reading from the checkpoint (after the entry of %s); %zu "
		    "matches, checkpoint %s", js->what, cursor_time(js->read_cursor, when),
		    js->n_matches, js->checkpoint);
	jn_kick(js);
	return 0;
}

/* jn_open after start: a first run's starting point is written before
 * entries are read (the read pass is only queued), or retried. */
static void
jn_open_later(struct journal_src *js)
{
	bool first = false;

	if (jn_open(js, &first) < 0) {
		jn_arm(js->retry_ev, JN_RETRY_MS);
		return;
	}
	if (first && ht_cpfile_sync(js->cp) < 0)
		ht_cpfile_dirty(js->cp);	/* logged; retried */
}

/* After a failed batch: back to the durable checkpoint, skipping what
 * history got of later batches. */
static int
jn_rewind(struct journal_src *js)
{
	char *c = NULL;

	if (js->durable.cursor != NULL && (c = strdup(js->durable.cursor)) == NULL)
		return -ENOMEM;
	recs_drop(js);
	free(js->read_cursor);
	js->read_cursor = c;
	js->consumed = false;
	seen_load(js, &js->durable);
	if (js->j != NULL && jn_seek(js, c) < 0)
		jn_close(js);	/* the retry timer opens it again */
	js->failed = false;
	log_info("journal %s: reading again from the last durable checkpoint", js->what);
	return 0;
}

static void
jn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal_src *js = arg;

	if (js->draining || js->stopping)
		return;
	if (js->failed && (js->inflight > 0 || jn_rewind(js) < 0)) {
		jn_arm(js->retry_ev, JN_RETRY_MS);
		return;
	}
	if (js->j == NULL)
		jn_open_later(js);
}

/* Is the configured directory still the one open?  A directory removed or
 * replaced is opened again from where reading stands. */
static void
check_directory(struct journal_src *js)
{
	struct stat st;

	if (js->dir == NULL || js->j == NULL)
		return;
	if (stat(js->dir, &st) == 0 && st.st_dev == js->dir_dev && st.st_ino == js->dir_ino)
		return;
	log_warnx("journal %s: the directory was removed or replaced; opening it again", js->what);
	jn_close(js);
	js->open_err = 0;
	jn_open_later(js);
}

static void
jn_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal_src *js = arg;
	unsigned ms = JN_TICK_MS;
	uint64_t t;
	struct timespec now;

	if (js->draining || js->stopping)
		return;
	check_directory(js);
	if (js->j != NULL) {
		if (sd_journal_process(js->j) == SD_JOURNAL_INVALIDATE)
			js->st.changes++;
		/* sd-journal may want to look again sooner (e.g. no inotify) */
		if (sd_journal_get_timeout(js->j, &t) >= 0 && t != UINT64_MAX &&
		    clock_gettime(CLOCK_MONOTONIC, &now) == 0) {
			uint64_t now_us = (uint64_t)now.tv_sec * 1000000 +
			    (uint64_t)now.tv_nsec / 1000;
			uint64_t left = t > now_us ? (t - now_us) / 1000 : 0;

			ms = left < 10 ? 10 : left < JN_TICK_MS ? (unsigned)left : JN_TICK_MS;
		}
	}
	jn_kick(js);
	jn_arm(js->tick_ev, ms);
}

/* ---- start, stop ---- */

static void
jn_free(struct journal_src *js)
{
	struct jn_batch *b;

	if (js == NULL)
		return;
	jn_close(js);
	if (js->read_ev)
		event_free(js->read_ev);
	if (js->tick_ev)
		event_free(js->tick_ev);
	if (js->retry_ev)
		event_free(js->retry_ev);
	ht_cpfile_free(js->cp);
	while ((b = js->head) != NULL) {
		js->head = b->next;
		ht_journal_checkpoint_clear(&b->cp);
		free(b);
	}
	recs_drop(js);
	free(js->recs);
	seen_free(js);
	ht_journal_fields_free(&js->fields);
	ht_journal_checkpoint_clear(&js->durable);
	free(js->read_cursor);
	for (size_t i = 0; i < js->n_matches; i++)
		free(js->matches[i]);
	free(js->matches);
	free(js->dir);
	free(js->checkpoint);
	free(js->checkpoint_conf);
	free(js->hist_dir);
	free(js);
}

/* Copy what the source keeps of sc.  0 or -ENOMEM. */
static int
jn_setup(struct journal_src *js, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	char *what;
	int v;

	js->env = env;
	js->start = sc->start;
	js->started_ms = ht_mono_ms();
	if (sc->directory != NULL && (js->dir = strdup(sc->directory)) == NULL)
		return -ENOMEM;
	js->what = js->dir != NULL ? js->dir : "system journal";
	if (sc->n_matches > 0 && (js->matches = calloc(sc->n_matches, sizeof(char *))) == NULL)
		return -ENOMEM;
	for (; js->n_matches < sc->n_matches; js->n_matches++)
		if ((js->matches[js->n_matches] = strdup(sc->matches[js->n_matches])) == NULL)
			return -ENOMEM;
	js->checkpoint = ht_conf_path(env->conf, sc->checkpoint);
	js->checkpoint_conf = strdup(sc->checkpoint);
	if (asprintf(&js->hist_dir, "%s/history", env->conf->state_dir) < 0)
		js->hist_dir = NULL;
	if (js->checkpoint == NULL || js->checkpoint_conf == NULL || js->hist_dir == NULL)
		return -ENOMEM;
	ht_journal_source_id(sc->checkpoint, js->id);
	if (asprintf(&what, "journal %s", js->what) < 0)
		return -ENOMEM;
	v = ht_cpfile_new(env->base, js->checkpoint, what, jn_format, js, &js->cp);
	free(what);
	if (v < 0)
		return v;
	js->read_ev = event_new(env->base, -1, 0, jn_read_cb, js);
	js->tick_ev = evtimer_new(env->base, jn_tick_cb, js);
	js->retry_ev = evtimer_new(env->base, jn_retry_cb, js);
	if (js->read_ev == NULL || js->tick_ev == NULL || js->retry_ev == NULL)
		return -ENOMEM;
	return 0;
}

/* The checkpoint file into js->durable: 1, 0 when there is none (or it is
 * unusable: logged), -errno. */
static int
jn_load(struct journal_src *js)
{
	struct ht_journal_checkpoint cp;
	char *text;
	size_t len;
	int v;

	v = ht_read_file(js->checkpoint, JN_CP_MAX, &text, &len);
	if (v == -ENOENT)
		return 0;
	if (v == 0) {
		v = ht_journal_checkpoint_parse(text, len, &cp);
		free(text);
	}
	if (v == -ENOMEM)
		return v;
	if (v < 0) {
		log_msg(HT_LOG_WARNING, v == -EINVAL ? 0 : -v, "journal %s: checkpoint %s is %s; "
		    "starting as on a first run", js->what, js->checkpoint,
		    v == -EINVAL ? "damaged" : "unreadable");
		return 0;
	}
	if (cp.cursor != NULL && (js->read_cursor = strdup(cp.cursor)) == NULL) {
		ht_journal_checkpoint_clear(&cp);
		return -ENOMEM;
	}
	js->durable = cp;
	js->have_durable = true;
	return 1;
}

static int
jn_start(const struct ht_source_env *env, const struct ht_conf_source *sc, void **ret)
{
	struct journal_src *js = calloc(1, sizeof(*js));
	bool first = false;
	int v;

	if (js == NULL)
		return -ENOMEM;
	v = jn_setup(js, env, sc);
	if (v == 0)
		v = jn_load(js);
	if (v == 1)
		seen_load(js, &js->durable);	/* history knows what it has */
	if (v >= 0 && jn_open(js, &first) < 0) {
		/* not there yet: retried; on a first run all it will have is new */
		js->fresh = true;
		jn_arm(js->retry_ev, JN_RETRY_MS);
	}
	/* a first run's starting point, before anything is read */
	if (v >= 0 && first)
		v = ht_cpfile_sync(js->cp);
	if (v < 0) {
		if (v != -EIO)	/* logged where decided */
			log_msg(HT_LOG_ERR, -v, "journal %s: cannot start", js->what);
		jn_free(js);
		return v;
	}
	jn_arm(js->tick_ev, JN_TICK_MS);
	*ret = js;
	return 0;
}

static int
jn_reconfigure(void *state, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct journal_src *js = state;

	js->env = env;
	if (strcmp(sc->checkpoint, js->checkpoint_conf) != 0) {
		log_warnx("journal %s: a new checkpoint takes effect at the next start; reading "
		    "on as before", js->what);
		return -EINVAL;
	}
	return 0;
}

static void
jn_drain(void *state)
{
	struct journal_src *js = state;

	/* what is not read stays in the journal for the next start */
	js->draining = true;
	evtimer_del(js->retry_ev);
	jn_submit(js);
}

static unsigned
jn_inflight(void *state)
{
	struct journal_src *js = state;

	return js->inflight + (js->n_recs > 0 && !js->failed ? 1 : 0);
}

static void
jn_status(void *state, char *buf, size_t len)
{
	struct journal_src *js = state;
	char when[HT_ISO8601_LEN], err[96] = "";

	if (js->j == NULL)
		snprintf(err, sizeof(err), "; NOT OPEN%s%s", js->open_err ? ": " : "",
		    js->open_err ? strerror(-js->open_err) : "");
	snprintf(buf, len, "journal %.120s: %" PRIu64 " entries read (%" PRIu64 " mapped, %"
	    PRIu64 " generic, %" PRIu64 " bad), %" PRIu64 " durable, %" PRIu64 " already in "
	    "history, %" PRIu64 " read errors, %" PRIu64 " journal file changes; at %s%s%s%s",
	    js->what, js->st.read, js->st.mapped, js->st.generic, js->st.bad, js->st.durable,
	    js->st.skipped, js->st.errors, js->st.changes,
	    cursor_time(js->have_durable ? js->durable.cursor : NULL, when), err,
	    js->blocked ? ", holding back" : "", js->failed ? ", rewinding" : "");
}

/* Write the last checkpoint and free (no batch in flight). */
static void
jn_stop_now(struct journal_src *js)
{
	/* even if not dirty: with nothing in flight, jn_format moves the
	 * history position to its end, and the next start scans nothing */
	if (js->have_durable && (ht_cpfile_pending(js->cp) || !js->failed))
		(void)ht_cpfile_sync(js->cp);
	jn_free(js);
}

static void
jn_stop(void *state)
{
	struct journal_src *js = state;

	js->stopping = true;
	/* no more loop callbacks, except the durable ones of batches in flight */
	jn_close(js);
	event_free(js->read_ev);
	event_free(js->tick_ev);
	event_free(js->retry_ev);
	js->read_ev = js->tick_ev = js->retry_ev = NULL;
	if (js->inflight > 0) {
		log_warnx("journal %s: stopping with %u batches not yet durable; the checkpoint "
		    "stays where they began", js->what, js->inflight);
		return;	/* the last durable callback frees */
	}
	jn_stop_now(js);
}

static bool
str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The same journal with the same matches (a new checkpoint is refused by
 * reconfigure). */
static bool
jn_same(void *state, const struct ht_conf_source *sc)
{
	struct journal_src *js = state;

	if (!str_eq(js->dir, sc->directory) || js->n_matches != sc->n_matches)
		return false;
	for (size_t i = 0; i < js->n_matches; i++)
		if (strcmp(js->matches[i], sc->matches[i]) != 0)
			return false;
	return true;
}

const struct ht_source_ops ht_src_journal_ops = {
	.type = "journal",
	.start = jn_start,
	.reconfigure = jn_reconfigure,
	.drain = jn_drain,
	.inflight = jn_inflight,
	.status = jn_status,
	.stop = jn_stop,
	.same = jn_same,
};
