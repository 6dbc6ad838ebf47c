/*
 * logfile.c - see logfile.h.
 *
 * Reading.  The loop never waits on the file: a pass asks the follower for
 * at most one chunk, maps its complete lines and submits them as one batch
 * with the position after its last line, then queues the next pass while
 * there is more.  The follower's inotify descriptor, or a timer, starts
 * passes when the log grows or rotates.  Reading pauses while the pipeline
 * holds sources back or LF_INFLIGHT_MAX batches are not durable yet.
 *
 * Exactly once.  Batches complete in order (a FIFO makes out-of-order
 * completion safe too); each carries the position after its last line and
 * where history ended when it was submitted.  The newest durable one is
 * the checkpoint, rewritten by cpfile.h (at most every 200 ms, fsync off
 * the loop) and at stop.  History has records
 * before the checkpoint file says so: after a crash, or a failed append,
 * history is read from the checkpoint's history position, and the last
 * record of this source found there (by fileId and offset) is where
 * reading resumes, since batches are appended in the order their lines
 * were read.  This reads history's files directly (STATE/history, as
 * daemon.c names it), as auditlog.c does: the pipeline does not say where
 * records went.
 */
#include "ht_build.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "conf.h"
#include "fileio.h"
#include "history/history.h"
#include "jsonutil.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "sources/hostmsg.h"
#include "sources/cpfile.h"
#include "sources/logfile.h"
#include "sources/logline.h"
#include "sources/tail.h"
#include "util.h"
#include "worker.h"

#define LF_BATCH_MAX 1000		/* records per pipeline batch */
#define LF_INFLIGHT_MAX 64		/* batches not yet durable before reading pauses */
#define LF_POLL_MS 250			/* tick without inotify, or with a rotation pending */
#define LF_IDLE_MS 1000			/* tick otherwise: a safety net under inotify */
#define LF_RETRY_MS 1000		/* after a failed append */
#define LF_DRAIN_BUDGET (16u * 1024 * 1024)	/* read at most this much at shutdown */
#define LF_CP_MAX 4096			/* a larger checkpoint file is damaged */
#define LF_HIST_SLACK (64u * 1024 * 1024)	/* history grown by others before an idle
						 * source's checkpoint follows */
#define LF_RL_BURST 5			/* messages about bad lines per LF_RL_MS */
#define LF_RL_MS 10000

#define CP_MAGIC "hosttrail-file-checkpoint 1"

/* A position and where history ended when the records before it went in. */
struct lf_cp {
	struct ht_tail_pos pos;
	uint32_t hist_day;		/* YYYYMMDD; 0: unknown */
	uint64_t hist_off;
};

struct lf_batch {
	struct lf_batch *next;
	struct logfile *lf;
	struct lf_cp cp;
	size_t n;
	bool done;
	int err;
};

struct lf_stats {
	uint64_t lines, mapped, generic, unparsed, skipped, empty, lost;
	uint64_t submitted, durable, seen;
};

struct logfile {
	const struct ht_source_env *env;
	char *path, *checkpoint, *hist_dir;
	enum ht_file_format format;
	enum ht_source_start start;
	struct ht_logline_ctx ctx;
	struct ht_tail *tail;
	uint32_t hist_day;		/* the newest history day seen */
	/* records read, not yet submitted */
	struct ht_record *recs[LF_BATCH_MAX];
	size_t n_recs;
	struct ht_tail_pos sub_pos;	/* the last batch's position */
	bool have_sub;
	struct lf_batch *head, *last;
	unsigned inflight;
	/* the durable checkpoint */
	struct lf_cp durable;
	bool have_durable;
	struct ht_cpfile *cp;		/* writes it off the loop */
	/* loop */
	struct event *read_ev, *tick_ev, *retry_ev, *notify_ev;
	bool blocked, failed, draining, drained, stopping;
	bool submitting;		/* in lf_submit: a batch may be durable at once,
					 * and its callback must not submit again */
	uint64_t drain_left;
	struct lf_stats st;
	int64_t rl_start;
	unsigned rl_n;
	uint64_t rl_dropped;
};

static void lf_kick(struct logfile *lf);
static void lf_stop_now(struct logfile *lf);

/* ---- the checkpoint file ---- */

/* cp as text.  0 with *ret (malloc'd) and *ret_len, or -ENOMEM. */
static int
cp_format(const struct lf_cp *cp, const char *path, char **ret, size_t *ret_len)
{
	char pos[HT_TAIL_POS_LEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int v;

	if (f == NULL)
		return -ENOMEM;
	ht_tail_pos_format(&cp->pos, pos, sizeof(pos));
	fprintf(f, CP_MAGIC "\npath ");
	for (const char *c = path; *c != '\0'; c++)	/* one line, whatever it holds */
		fputc((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c, f);
	fprintf(f, "\nposition %s\n", pos);
	if (cp->hist_day != 0)
		fprintf(f, "history %" PRIu32 " %" PRIu64 "\n", cp->hist_day, cp->hist_off);
	fprintf(f, "end\n");
	v = ferror(f) ? -ENOMEM : 0;
	if (fclose(f) != 0)
		v = -ENOMEM;
	if (v < 0) {
		free(buf);
		return v;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* One line of a checkpoint (NUL-terminated, no newline) into cp; *have
 * collects what was seen.  1 at "end", 0 to go on, -EINVAL. */
static int
cp_parse_line(const char *l, struct lf_cp *cp, unsigned *have)
{
	int n = -1;

	if (strncmp(l, "path ", 5) == 0)
		return 0;	/* informational */
	if (strcmp(l, "end") == 0)
		return 1;
	if (strncmp(l, "position ", 9) == 0 && !(*have & 1) &&
	    ht_tail_pos_parse(l + 9, &cp->pos) == 0) {
		*have |= 1;
		return 0;
	}
	if (sscanf(l, "history %" SCNu32 " %" SCNu64 "%n", &cp->hist_day, &cp->hist_off, &n) == 2 &&
	    l[n] == '\0' && cp->hist_day >= 19700101 && !(*have & 2)) {
		*have |= 2;
		return 0;
	}
	return -EINVAL;
}

/* Parse a checkpoint file's text.  0 with *ret, or -EINVAL. */
static int
cp_parse(const char *text, size_t len, struct lf_cp *ret)
{
	struct lf_cp cp = { 0 };
	const char *p = text, *end = text + len, *nl;
	unsigned have = 0;
	char line[256];
	int v = -EINVAL;

	for (size_t i = 0; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; i++) {
		size_t n = (size_t)(nl - p);

		if (i > 0 && strncmp(p, "path ", 5) == 0) {
			p = nl + 1;	/* the one line that may be long */
			continue;
		}
		if (n >= sizeof(line) || memchr(p, '\0', n) != NULL)
			return -EINVAL;
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (i == 0) {
			if (strcmp(line, CP_MAGIC) != 0)
				return -EINVAL;
			continue;
		}
		v = cp_parse_line(line, &cp, &have);
		if (v != 0)
			break;
	}
	if (v != 1 || p != end || !(have & 1) || cp.pos.id.ino == 0)
		return -EINVAL;
	*ret = cp;
	return 0;
}

/* The checkpoint file: 1 with *cp, 0 when there is none (or it is
 * unusable: logged), -ENOMEM. */
static int
lf_load(struct logfile *lf, struct lf_cp *cp)
{
	char *text;
	size_t len;
	int v;

	v = ht_read_file(lf->checkpoint, LF_CP_MAX, &text, &len);
	if (v == -ENOENT)
		return 0;
	if (v == 0) {
		v = cp_parse(text, len, cp);
		free(text);
	}
	if (v == -ENOMEM)
		return v;
	if (v < 0) {
		log_msg(HT_LOG_WARNING, v == -EINVAL ? 0 : -v, "file %s: checkpoint %s is %s; "
		    "starting as on a first run", lf->path, lf->checkpoint,
		    v == -EINVAL ? "damaged" : "unreadable");
		return 0;
	}
	return 1;
}

static void
lf_arm(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* cpfile's format: the durable checkpoint's text. */
static int
lf_format(void *arg, char **ret_text, size_t *ret_len)
{
	struct logfile *lf = arg;

	if (!lf->have_durable)
		return -EAGAIN;
	return cp_format(&lf->durable, lf->path, ret_text, ret_len);
}

/* Write the durable checkpoint now, on the loop (start and stop only).
 * 0 or -EIO (logged). */
static int
lf_save_sync(struct logfile *lf)
{
	return ht_cpfile_sync(lf->cp);
}

static void
lf_advance(struct logfile *lf, const struct lf_cp *cp)
{
	lf->durable = *cp;
	lf->have_durable = true;
	ht_cpfile_dirty(lf->cp);
}

/* Where history ends now (history.h). */
static void
lf_hist_pos(struct logfile *lf, uint32_t *ret_day, uint64_t *ret_off)
{
	struct ht_history_pos pos;

	ht_history_end_pos(lf->hist_dir, &lf->hist_day, &pos);
	*ret_day = pos.day;
	*ret_off = pos.offset;
}

/* ---- what history has beyond a checkpoint ---- */

struct lf_seen {
	const char *path;
	const struct ht_tail_pos *cp;	/* the checkpoint's position */
	struct ht_tail_id id;		/* of the last record found */
	uint64_t off;
	uint64_t n;			/* records found beyond cp (as far as we can tell) */
};

/* additionalEventData's fileId and offset of a record of this source. */
static bool
seen_key(struct json_object *rec, const char *path, struct ht_tail_id *id, uint64_t *off)
{
	struct json_object *add, *v;
	const char *s;
	int n = -1;

	if (!json_object_object_get_ex(rec, "additionalEventData", &add) ||
	    !json_object_object_get_ex(add, "source", &v) ||
	    (s = json_object_get_string(v)) == NULL || strcmp(s, path) != 0 ||
	    !json_object_object_get_ex(add, "fileId", &v) ||
	    (s = json_object_get_string(v)) == NULL ||
	    sscanf(s, "%" SCNu64 ":%" SCNu32 ":%" SCNx64 "%n", &id->ino, &id->head_len,
	    &id->head_hash, &n) != 3 || s[n] != '\0' ||
	    !json_object_object_get_ex(add, "offset", &v) || !json_object_is_type(v, json_type_int))
		return false;
	*off = (uint64_t)json_object_get_int64(v);
	return true;
}

static int
lf_seen_cb(uint64_t seq, uint32_t flags, const char *data, size_t len, void *arg)
{
	static const char mark[] = "\"fileId\":\"";
	struct lf_seen *s = arg;
	struct json_tokener *tok;
	struct json_object *rec;

	if (memmem(data, len, mark, sizeof(mark) - 1) == NULL)
		return HT_SCAN_NEXT;	/* not a file source's: not worth parsing */
	tok = json_tokener_new();
	if (tok == NULL)
		return -ENOMEM;
	rec = json_tokener_parse_ex(tok, data, (int)len);
	/* the checkpoint's own batch is there too: its lines are before cp */
	if (rec != NULL && seen_key(rec, s->path, &s->id, &s->off) &&
	    !(ht_tail_id_eq(&s->id, &s->cp->id) && s->off < s->cp->off))
		s->n++;
	json_object_put(rec);
	json_tokener_free(tok);
	return HT_SCAN_NEXT;
}

/* Before reading from cp: skip the lines whose records history already
 * has (a crash between their append and the checkpoint write). */
static void
lf_seen_skip(struct logfile *lf, const struct lf_cp *cp, bool found)
{
	struct ht_history_pos from = { cp->hist_day, cp->hist_off }, reached;
	struct ht_history_pos to = { UINT32_MAX, UINT64_MAX };
	struct lf_seen s = { .path = lf->path, .cp = &cp->pos };
	int v;

	if (cp->hist_day == 0)
		return;
	v = ht_history_scan(lf->hist_dir, &from, &to, lf_seen_cb, &s, &reached, NULL);
	if (v < 0) {
		log_msg(HT_LOG_WARNING, -v, "file %s: cannot read history beyond the checkpoint; "
		    "lines after it may be delivered twice", lf->path);
		return;
	}
	if (s.n == 0)
		return;
	v = ht_tail_skip_past(lf->tail, &s.id, s.off);
	if (v == 0)
		return;	/* nothing beyond the checkpoint after all */
	if (v < 0) {
		if (found)
			log_msg(HT_LOG_WARNING, v == -ENOENT ? 0 : -v, "file %s: history has "
			    "%" PRIu64 " records from beyond the checkpoint, but their file is "
			    "not here (inode %" PRIu64 "); they may be delivered twice",
			    lf->path, s.n, s.id.ino);
		return;
	}
	lf->st.seen += s.n;
	log_info("file %s: history already has %" PRIu64 " records from beyond the checkpoint; "
	    "reading on after the last one (inode %" PRIu64 " offset %" PRIu64 ")", lf->path, s.n,
	    s.id.ino, s.off);
}

/* ---- lines to records ---- */

static bool
rl_ok(struct logfile *lf)
{
	int64_t now = ht_mono_ms();

	if (now - lf->rl_start >= LF_RL_MS) {
		if (lf->rl_dropped > 0)
			log_warnx("file %s: %" PRIu64 " more messages about lines suppressed",
			    lf->path, lf->rl_dropped);
		lf->rl_start = now;
		lf->rl_n = 0;
		lf->rl_dropped = 0;
	}
	if (lf->rl_n < LF_RL_BURST) {
		lf->rl_n++;
		return true;
	}
	lf->rl_dropped++;
	return false;
}

/* A line with nothing in it: empty, a lone "\r", or NUL padding. */
static bool
blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != '\0' && !(line[i] == '\r' && i + 1 == len))
			return false;
	return true;
}

/* The generic record of a line that is not in the file's format: the raw
 * line as its message (NUL bytes as "\x00", since the message is a C
 * string), no time (the pipeline stamps now). */
static int
lf_generic(struct logfile *lf, const char *line, size_t len, struct ht_record **ret)
{
	struct ht_hostmsg m = { .time_ms = -1, .pid = -1, .uid = -1, .origin = lf->path };
	enum ht_hostmsg_kind kind;
	char *msg = malloc(len * 4 + 1), *q = msg;
	int v;

	if (msg == NULL)
		return -ENOMEM;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\0') {
			memcpy(q, "\\x00", 4);
			q += 4;
		} else {
			*q++ = line[i];
		}
	}
	*q = '\0';
	m.message = msg;
	v = ht_hostmsg_map(&m, ret, &kind);
	free(msg);
	return v;
}

/* The record of one line.  0 with *ret (NULL: a line that makes none),
 * *ret_unparsed set when it was not in the file's format; -ENOMEM. */
static int
lf_record(struct logfile *lf, const char *line, size_t len, struct ht_record **ret,
    bool *ret_unparsed, char *why, size_t whylen)
{
	enum ht_hostmsg_kind kind;
	struct ht_logline *l;
	struct ht_hostmsg m;
	int v;

	*ret_unparsed = false;
	v = ht_logline_parse(line, len, &lf->ctx, &l, why, whylen);
	if (v == -ENOMEM)
		return v;
	if (v < 0) {
		*ret_unparsed = true;
		lf->st.unparsed++;
		return lf_generic(lf, line, len, ret);
	}
	ht_hostmsg_from_logline(l, lf->path, &m);
	if (lf->format == HT_FILE_DPKG)
		v = ht_hostmsg_map_dpkg(&m, ret, &kind);
	else
		v = ht_hostmsg_map(&m, ret, &kind);
	ht_logline_free(l);
	if (v < 0)
		return v;
	if (kind == HT_HOSTMSG_MAPPED)
		lf->st.mapped++;
	else if (kind == HT_HOSTMSG_GENERIC)
		lf->st.generic++;
	else
		lf->st.skipped++;
	return 0;
}

/* Where the line is, so a record can be traced to it and a restart can
 * find it again; and what was wrong with it. */
static int
lf_annotate(struct ht_record *rec, const struct ht_tail_line *info, const char *why)
{
	struct json_object *o = rec->additional_event_data;
	char id[64];
	int v;

	if (o == NULL && (o = rec->additional_event_data = json_object_new_object()) == NULL)
		return -ENOMEM;
	snprintf(id, sizeof(id), "%" PRIu64 ":%" PRIu32 ":%016" PRIx64, info->at.id.ino,
	    info->at.id.head_len, info->at.id.head_hash);
	if ((v = ht_json_add(o, "fileId", json_object_new_string(id))) < 0 ||
	    (v = ht_json_add(o, "offset", json_object_new_int64((int64_t)info->at.off))) < 0)
		return v;
	if (info->cut && ((v = ht_json_add(o, "lineTruncated", json_object_new_boolean(1))) < 0 ||
	    (v = ht_json_add(o, "lineLength", json_object_new_int64((int64_t)info->full_len))) < 0))
		return v;
	if (why != NULL)
		return ht_json_add(o, "parseError", json_object_new_string(why));
	return 0;
}

static int
lf_line_cb(const char *line, size_t len, const struct ht_tail_line *info, void *arg)
{
	struct logfile *lf = arg;
	struct ht_record *rec = NULL;
	bool unparsed;
	char why[128];
	int v;

	lf->st.lines++;
	if (blank(line, len)) {
		lf->st.empty++;
		return 0;
	}
	v = lf_record(lf, line, len, &rec, &unparsed, why, sizeof(why));
	if (v == 0 && rec != NULL)
		v = lf_annotate(rec, info, unparsed ? why : NULL);
	if (v < 0) {
		ht_record_free(rec);
		lf->st.lost++;
		if (rl_ok(lf))
			log_warnx("file %s: out of memory at %s offset %" PRIu64 "; the line's "
			    "record is lost", lf->path, ht_tail_name(lf->tail), info->at.off);
		return 0;
	}
	if (unparsed && rl_ok(lf))
		log_warnx("file %s: %s offset %" PRIu64 ": not a %s line (%s); kept as a generic "
		    "record", lf->path, ht_tail_name(lf->tail), info->at.off,
		    lf->format == HT_FILE_DPKG ? "dpkg.log" : "syslog", why);
	if (rec == NULL)
		return 0;	/* dpkg bookkeeping */
	lf->recs[lf->n_recs++] = rec;
	return lf->n_recs == LF_BATCH_MAX ? 1 : 0;
}

/* ---- batches ---- */

static void
recs_drop(struct logfile *lf)
{
	for (size_t i = 0; i < lf->n_recs; i++)
		ht_record_free(lf->recs[i]);
	lf->n_recs = 0;
}

/* Pop the batches that are done, in order, advancing the checkpoint. */
static void
lf_complete(struct logfile *lf)
{
	struct lf_batch *b;

	while ((b = lf->head) != NULL && b->done) {
		lf->head = b->next;
		if (lf->head == NULL)
			lf->last = NULL;
		if (b->err < 0) {
			if (!lf->failed)
				log_msg(HT_LOG_ERR, -b->err, "file %s: %zu records could not "
				    "be stored; reading the log again from the last durable "
				    "checkpoint", lf->path, b->n);
			lf->failed = true;
		} else {
			lf->st.durable += b->n;
			if (!lf->failed)
				lf_advance(lf, &b->cp);
		}
		free(b);
	}
	if (lf->stopping) {
		if (lf->inflight == 0)
			lf_stop_now(lf);
		return;
	}
	if (lf->failed && lf->inflight == 0 && !lf->draining)
		lf_arm(lf->retry_ev, LF_RETRY_MS);
	else if (lf->inflight == LF_INFLIGHT_MAX / 2)
		lf_kick(lf);
}

static void
lf_durable_cb(int err, void *arg)
{
	struct lf_batch *b = arg;

	b->done = true;
	b->err = err;
	b->lf->inflight--;
	lf_complete(b->lf);
}

static bool
pos_eq(const struct ht_tail_pos *a, const struct ht_tail_pos *b)
{
	return ht_tail_id_eq(&a->id, &b->id) && a->off == b->off;
}

/* Submit the records read with the position after them (also with no
 * records, when lines that make none moved the position). */
static void
lf_submit(struct logfile *lf)
{
	struct ht_tail_pos pos;
	struct lf_batch *b;
	int v;

	if (lf->submitting || lf->stopping)
		return;
	if (lf->failed) {
		recs_drop(lf);	/* read again after the rewind */
		return;
	}
	ht_tail_tell(lf->tail, &pos);
	if (pos.id.ino == 0 || (lf->n_recs == 0 && lf->have_sub && pos_eq(&pos, &lf->sub_pos)))
		return;	/* no file yet, or nothing new */
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return;	/* the records wait for the next pass */
	b->lf = lf;
	b->cp.pos = pos;
	b->n = lf->n_recs;
	lf_hist_pos(lf, &b->cp.hist_day, &b->cp.hist_off);
	if (lf->last)
		lf->last->next = b;
	else
		lf->head = b;
	lf->last = b;
	lf->inflight++;
	lf->st.submitted += lf->n_recs;
	lf->sub_pos = pos;
	lf->have_sub = true;
	lf->submitting = true;
	v = ht_pipeline_submit(lf->env->pipeline, lf->recs, lf->n_recs, lf_durable_cb, b);
	lf->submitting = false;
	recs_drop(lf);
	if (v < 0) {
		b->done = true;
		b->err = v;
		lf->inflight--;
		lf_complete(lf);
	}
}

/* ---- reading ---- */

/* Should reading wait (pipeline back-pressure, too much not durable yet,
 * records not submitted)? */
static bool
lf_held(struct logfile *lf)
{
	char why[256];

	if (lf->inflight >= LF_INFLIGHT_MAX || lf->n_recs > 0)
		return true;
	if (!ht_pipeline_blocked(lf->env->pipeline, why, sizeof(why))) {
		if (lf->blocked)
			log_info("file %s: reading again", lf->path);
		lf->blocked = false;
		return false;
	}
	if (!lf->blocked)
		log_warnx("file %s: holding back: %s; the lines wait in the log", lf->path, why);
	lf->blocked = true;
	return true;
}

static void
lf_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logfile *lf = arg;
	struct ht_tail_stats a, b;
	int v;

	if (lf->drained)
		return;
	lf_submit(lf);	/* records a failed batch allocation left behind */
	if (lf->failed || lf_held(lf) || (lf->draining && lf->drain_left == 0)) {
		lf->drained = lf->draining;
		return;
	}
	ht_tail_stats(lf->tail, &a);
	lf->ctx.ref_ms = ht_now_ms();
	v = ht_tail_read(lf->tail, lf_line_cb, lf);
	ht_tail_stats(lf->tail, &b);
	if (lf->draining)
		lf->drain_left -= b.bytes - a.bytes < lf->drain_left ? b.bytes - a.bytes :
		    lf->drain_left;
	lf_submit(lf);
	if (v < 0 && rl_ok(lf))
		log_msg(HT_LOG_WARNING, -v, "file %s: cannot read %s; retrying", lf->path,
		    ht_tail_name(lf->tail) ? ht_tail_name(lf->tail) : lf->path);
	if (v > 0)
		lf_kick(lf);
	else if (lf->draining)
		lf->drained = true;
}

static void
lf_kick(struct logfile *lf)
{
	if (!lf->drained && !lf->stopping)
		event_active(lf->read_ev, EV_TIMEOUT, 0);
}

static void
lf_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logfile *lf = arg;

	ht_tail_notified(lf->tail);
	lf_kick(lf);
}

/* While the file is idle, other sources grow history: move the
 * checkpoint's history position along (everything of ours is durable and
 * before history's end), so a restart does not scan all of that. */
static void
lf_follow_history(struct logfile *lf)
{
	struct ht_tail_pos pos;
	uint32_t day;
	uint64_t off;

	if (lf->failed || lf->inflight > 0 || lf->n_recs > 0 || !lf->have_durable)
		return;
	ht_tail_tell(lf->tail, &pos);
	if (!pos_eq(&pos, &lf->durable.pos))
		return;
	lf_hist_pos(lf, &day, &off);
	if (day == lf->durable.hist_day && off < lf->durable.hist_off + LF_HIST_SLACK)
		return;
	lf->durable.hist_day = day;
	lf->durable.hist_off = off;
	lf_advance(lf, &lf->durable);
}

static void
lf_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logfile *lf = arg;

	if (lf->drained)
		return;
	lf_follow_history(lf);
	lf_kick(lf);	/* also the poll when inotify is missing or missed something */
	lf_arm(lf->tick_ev, ht_tail_fd(lf->tail) >= 0 && !ht_tail_pending(lf->tail) &&
	    !lf->blocked && ht_tail_name(lf->tail) != NULL ? LF_IDLE_MS : LF_POLL_MS);
}

/* ---- start, rewind, stop ---- */

/* (Re)register the follower's inotify descriptor. */
static int
lf_watch(struct logfile *lf)
{
	int fd = ht_tail_fd(lf->tail);

	if (lf->notify_ev != NULL)
		event_free(lf->notify_ev);
	lf->notify_ev = NULL;
	if (fd < 0) {
		log_debug("file %s: no inotify; polling every %d ms", lf->path, LF_POLL_MS);
		return 0;
	}
	lf->notify_ev = event_new(lf->env->base, fd, EV_READ | EV_PERSIST, lf_notify_cb, lf);
	if (lf->notify_ev == NULL || event_add(lf->notify_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/* Open the follower at cp (NULL: a first run) and skip what history has
 * beyond it.  1 when cp's position was found, 0 otherwise, -errno (the
 * follower in use, if any, is kept then). */
static int
lf_open_tail(struct logfile *lf, const struct lf_cp *cp)
{
	struct ht_tail_conf tc = { .path = lf->path, .max_line = HT_LOGLINE_MAX, .watch = true };
	struct ht_tail *t;
	int v, found;

	found = ht_tail_open(&tc, cp != NULL ? &cp->pos : NULL,
	    lf->start == HT_SOURCE_START_BEGINNING ? HT_TAIL_START_BEGINNING : HT_TAIL_START_END,
	    &t);
	if (found < 0)
		return found;
	if (lf->notify_ev != NULL)
		event_free(lf->notify_ev);	/* before its descriptor is closed */
	lf->notify_ev = NULL;
	ht_tail_free(lf->tail);
	lf->tail = t;
	if (cp != NULL)
		lf_seen_skip(lf, cp, found == 1);
	v = lf_watch(lf);
	return v < 0 ? v : found;
}

static void
lf_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logfile *lf = arg;
	int v;

	if (lf->draining || lf->inflight > 0)
		return;
	recs_drop(lf);
	v = lf_open_tail(lf, lf->have_durable ? &lf->durable : NULL);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "file %s: cannot reopen the log; retrying", lf->path);
		lf_arm(lf->retry_ev, LF_RETRY_MS);
		return;
	}
	log_info("file %s: reading again from the last durable checkpoint", lf->path);
	lf->failed = false;
	lf->have_sub = false;
	lf_kick(lf);
}

static void
lf_free(struct logfile *lf)
{
	struct lf_batch *b;

	if (lf->notify_ev)
		event_free(lf->notify_ev);
	if (lf->read_ev)
		event_free(lf->read_ev);
	if (lf->tick_ev)
		event_free(lf->tick_ev);
	if (lf->retry_ev)
		event_free(lf->retry_ev);
	ht_cpfile_free(lf->cp);
	while ((b = lf->head) != NULL) {
		lf->head = b->next;
		free(b);
	}
	recs_drop(lf);
	ht_tail_free(lf->tail);
	free(lf->path);
	free(lf->checkpoint);
	free(lf->hist_dir);
	free(lf);
}

static unsigned
formats_of(enum ht_file_format f)
{
	return f == HT_FILE_DPKG ? HT_LOGLINE_DPKG : HT_LOGLINE_SYSLOG | HT_LOGLINE_RFC3339;
}

/* Copy what the source keeps of sc; events and the checkpoint file. */
static int
lf_setup(struct logfile *lf, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	char what[PATH_MAX + 8];
	int v;

	lf->env = env;
	lf->format = sc->format;
	lf->start = sc->start;
	/* rsyslog and dpkg write local time, in the host's zone */
	lf->ctx = (struct ht_logline_ctx){ .formats = formats_of(sc->format), .local_tz = true };
	lf->path = strdup(sc->path);
	lf->checkpoint = ht_conf_path(env->conf, sc->checkpoint);
	if (asprintf(&lf->hist_dir, "%s/history", env->conf->state_dir) < 0)
		lf->hist_dir = NULL;
	if (lf->path == NULL || lf->checkpoint == NULL || lf->hist_dir == NULL)
		return -ENOMEM;
	snprintf(what, sizeof(what), "file %s", lf->path);
	if ((v = ht_cpfile_new(env->base, lf->checkpoint, what, lf_format, lf, &lf->cp)) < 0)
		return v;
	lf->read_ev = event_new(env->base, -1, 0, lf_read_cb, lf);
	lf->tick_ev = evtimer_new(env->base, lf_tick_cb, lf);
	lf->retry_ev = evtimer_new(env->base, lf_retry_cb, lf);
	if (lf->read_ev == NULL || lf->tick_ev == NULL || lf->retry_ev == NULL)
		return -ENOMEM;
	return 0;
}

/* Say where reading starts, once: people look for this after a restart. */
static void
lf_log_start(const struct logfile *lf, int loaded, int found)
{
	struct ht_tail_pos pos;

	ht_tail_tell(lf->tail, &pos);
	if (ht_tail_name(lf->tail) == NULL) {
		log_info("file %s: does not exist yet; waiting for it", lf->path);
		return;
	}
	log_info("file %s: reading from %s offset %" PRIu64 " (%s), %s format, checkpoint %s",
	    lf->path, ht_tail_name(lf->tail), pos.off,
	    found ? "the checkpoint" : loaded ? "the checkpoint's file is gone" :
	    lf->start == HT_SOURCE_START_END ? "its end: first run, earlier lines are not "
	    "replayed" : "first run, start: beginning: the newest rotated file, then the log",
	    lf->format == HT_FILE_DPKG ? "dpkg.log" : "syslog", lf->checkpoint);
}

static int
lf_start(const struct ht_source_env *env, const struct ht_conf_source *sc, void **ret)
{
	struct logfile *lf = calloc(1, sizeof(*lf));
	struct lf_cp cp = { 0 };
	int v, loaded = 0, found = 0;

	if (lf == NULL)
		return -ENOMEM;
	v = lf_setup(lf, env, sc);
	if (v == 0)
		v = loaded = lf_load(lf, &cp);
	if (v >= 0)
		v = found = lf_open_tail(lf, loaded ? &cp : NULL);
	if (v == 1) {
		lf->durable = cp;	/* as on disk: no need to write it again */
		lf->have_durable = true;
	} else if (v == 0 && ht_tail_name(lf->tail) != NULL) {
		/* where a first run starts is durable from the start, so a crash
		 * before the first batch does not skip ahead */
		ht_tail_tell(lf->tail, &lf->durable.pos);
		lf_hist_pos(lf, &lf->durable.hist_day, &lf->durable.hist_off);
		lf->have_durable = true;
		v = lf_save_sync(lf);
	}
	if (v < 0) {
		if (v != -EIO)	/* cpfile logged it */
			log_msg(HT_LOG_ERR, -v, "file %s: cannot start", sc->path);
		lf_free(lf);
		return v;
	}
	lf_log_start(lf, loaded, found);
	lf_kick(lf);
	lf_arm(lf->tick_ev, LF_POLL_MS);
	*ret = lf;
	return 0;
}

static int
lf_reconfigure(void *state, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct logfile *lf = state;
	char *cp = ht_conf_path(env->conf, sc->checkpoint);
	int v = 0;

	if (cp == NULL)
		return -ENOMEM;
	if (strcmp(sc->path, lf->path) != 0 || strcmp(cp, lf->checkpoint) != 0) {
		log_warnx("file %s: a new path or checkpoint takes effect at the next start; "
		    "reading on as before", lf->path);
		v = -EINVAL;
	} else if (sc->format != lf->format) {
		lf->format = sc->format;
		lf->ctx.formats = formats_of(sc->format);
		log_info("file %s: %s format from the next line on", lf->path,
		    sc->format == HT_FILE_DPKG ? "dpkg.log" : "syslog");
	}
	lf->start = sc->start;	/* only used without a checkpoint */
	free(cp);
	return v;
}

static void
lf_drain(void *state)
{
	struct logfile *lf = state;

	lf->draining = true;
	lf->drain_left = LF_DRAIN_BUDGET;
	evtimer_del(lf->retry_ev);
	if (lf->failed || lf->drained)
		lf->drained = true;
	else
		lf_kick(lf);
}

static unsigned
lf_inflight(void *state)
{
	struct logfile *lf = state;

	return lf->inflight + (lf->draining && !lf->drained ? 1 : 0);
}

static void
lf_status(void *state, char *buf, size_t len)
{
	struct logfile *lf = state;
	struct ht_tail_stats ts;
	struct ht_tail_pos pos;
	const char *name = ht_tail_name(lf->tail);

	ht_tail_stats(lf->tail, &ts);
	ht_tail_tell(lf->tail, &pos);
	snprintf(buf, len, "file %s: %" PRIu64 " lines (%" PRIu64 " mapped, %" PRIu64 " generic, "
	    "%" PRIu64 " unparsed, %" PRIu64 " skipped, %" PRIu64 " empty, %" PRIu64 " cut), "
	    "%" PRIu64 " records submitted, %" PRIu64 " durable, %" PRIu64 " already in history, "
	    "%" PRIu64 " lost, %" PRIu64 " rotations, %" PRIu64 " truncations (%" PRIu64
	    " copies); at %s offset %" PRIu64 "%s",
	    lf->path, lf->st.lines, lf->st.mapped, lf->st.generic, lf->st.unparsed,
	    lf->st.skipped, lf->st.empty, ts.cut, lf->st.submitted, lf->st.durable, lf->st.seen,
	    lf->st.lost, ts.rotations, ts.truncations, ts.copies,
	    name ? name : "(waiting for the file)", pos.off, lf->blocked ? ", holding back" : "");
}

/* Write the last checkpoint and free (no batch in flight). */
static void
lf_stop_now(struct logfile *lf)
{
	if (ht_cpfile_pending(lf->cp) && lf->have_durable)
		(void)lf_save_sync(lf);
	lf_free(lf);
}

static void
lf_stop(void *state)
{
	struct logfile *lf = state;

	lf->stopping = true;
	/* no more loop callbacks, except the durable ones of batches in flight */
	event_free(lf->read_ev);
	event_free(lf->tick_ev);
	event_free(lf->retry_ev);
	if (lf->notify_ev)
		event_free(lf->notify_ev);
	lf->read_ev = lf->tick_ev = lf->retry_ev = lf->notify_ev = NULL;
	if (lf->inflight > 0) {
		log_warnx("file %s: stopping with %u batches not yet durable; the checkpoint stays "
		    "where they began", lf->path, lf->inflight);
		return;	/* the last durable callback frees */
	}
	lf_stop_now(lf);
}

static bool
lf_same(void *state, const struct ht_conf_source *sc)
{
	return strcmp(((struct logfile *)state)->path, sc->path) == 0;
}

const struct ht_source_ops ht_src_file_ops = {
	.type = "file",
	.start = lf_start,
	.reconfigure = lf_reconfigure,
	.drain = lf_drain,
	.inflight = lf_inflight,
	.status = lf_status,
	.stop = lf_stop,
	.same = lf_same,
};
