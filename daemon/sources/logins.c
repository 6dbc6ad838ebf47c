/*
 * logins.c - see logins.h.
 *
 * Reading.  A tick (LG_TICK_MS) reads at most LG_CHUNK of each file with
 * pread, feeds it to the file's utmp reader (a partial record waits there
 * for the rest) and queues the records made; when a file had more, the next
 * pass is queued at once.  The files are small and local, and their writers
 * (login, sshd, init) append one record per write, so polling is plenty and
 * needs no inotify watch that rotation would invalidate.
 *
 * Rotation.  At the end of a file, another inode at the path (or none)
 * means the file was renamed away: it is read for LG_ROTATE_GRACE_MS more
 * (a writer that opened it just before the rename still lands there), a
 * partial record left at its end becomes a generic record, and the new
 * file is read from its start.  A file shorter than our offset was
 * truncated: read again from the start.
 *
 * Exactly once.  Records go to the pipeline in batches; a batch that takes
 * everything queued carries the checkpoint that holds once it (and every
 * batch before it: a FIFO) is durable: each file's (dev, inode, offset of
 * the first byte not in a record), the sessions still open, and where
 * history ended at submit.  The checkpoint file is written by cpfile.h (at
 * most every 200 ms, the fsync off the loop), and at stop.  A crash can leave records in history beyond the checkpoint: at
 * start they are found by their (file, inode, offset) in additionalEventData
 * and not queued again (the entries are still fed, so the sessions are
 * right).  A failed append reads again from the durable checkpoint the
 * same way.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "fileio.h"
#include "history/history.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "sources/cpfile.h"
#include "sources/logins.h"
#include "sources/utmp_parse.h"
#include "util.h"
#include "worker.h"

#define LG_CHUNK (256 * 1024)		/* bytes read per file per pass */
#define LG_TICK_MS 250
#define LG_BATCH_MAX 1000		/* records per pipeline batch */
#define LG_INFLIGHT_MAX 16		/* batches not yet durable */
#define LG_QUEUE_MAX 4000		/* records queued before reading pauses */
#define LG_RETRY_MS 1000		/* after a failed append or checkpoint write */
#define LG_ROTATE_GRACE_MS 1000		/* a rotated file is read this long after */
#define LG_DRAIN_BUDGET (4u * 1024 * 1024)	/* read at most this much at shutdown */
#define LG_CP_MAX (1024 * 1024)		/* a larger checkpoint is damaged */
#define LG_SEEN_MAX 1000000		/* records remembered from history's tail */
#define LG_RL_BURST 5			/* warnings per LG_RL_MS */
#define LG_RL_MS 10000

#define CP_MAGIC "hosttrail-logins-checkpoint 1"

/* Where one file is: absent (read it from its start once it appears), or
 * an inode and the offset of the first byte not yet in a record. */
struct lg_pos {
	bool have;			/* false: no position (a first run) */
	bool absent;
	uint64_t dev, ino, off;
};

struct lg_cp {
	struct lg_pos pos[2];		/* wtmp, btmp */
	uint32_t hist_day;		/* YYYYMMDD; 0: unknown */
	uint64_t hist_off;
	struct ht_utmp_session *s;	/* wtmp's open sessions */
	size_t n_s;
};

/* A record history already has (file, inode, offset). */
struct lg_key {
	uint64_t ino, off;
	uint32_t file;
};

struct logins;

struct lg_file {
	struct logins *lg;
	enum ht_utmp_file kind;
	const char *name;		/* "wtmp", "btmp" */
	char *path;
	int fd;				/* -1: not open (absent) */
	uint64_t dev, ino;
	bool rotated;			/* the path names another file: finish this one */
	int64_t rotated_ms;
	bool absent_logged;
	struct ht_utmp_reader *reader;
};

struct lg_batch {
	struct lg_batch *next;
	struct logins *lg;
	struct lg_cp cp;
	bool has_cp, done;
	int err;
	size_t n;
};

struct lg_stats {
	uint64_t durable, in_history, unstored, rotations, truncations, lost_nomem;
};

struct logins {
	const struct ht_source_env *env;
	char *checkpoint, *hist_dir;
	struct lg_file f[2];
	/* records waiting for the pipeline */
	struct ht_record **q;
	size_t q_n, q_cap;
	struct lg_batch *head, *tail;
	unsigned inflight;
	/* history beyond the checkpoint */
	struct lg_key *seen;
	size_t n_seen, cap_seen;
	uint32_t hist_day;
	/* the durable checkpoint */
	struct lg_cp durable;
	bool have_durable;
	struct ht_cpfile *cp;		/* writes it off the loop */
	struct event *tick_ev, *kick_ev;
	bool draining, stopping, submitting, failed, held_logged;
	struct lg_stats st;
	int64_t rl_start;
	unsigned rl_n;
	uint8_t *buf;
};

static void lg_submit(struct logins *lg);
static void lg_free(struct logins *lg);

/* ---- helpers ---- */

static bool
rl_ok(struct logins *lg)
{
	int64_t now = ht_mono_ms();

	if (now - lg->rl_start >= LG_RL_MS) {
		lg->rl_start = now;
		lg->rl_n = 0;
	}
	return lg->rl_n++ < LG_RL_BURST;
}

static void
cp_clear(struct lg_cp *cp)
{
	free(cp->s);
	memset(cp, 0, sizeof(*cp));
}

/* A user's uid through NSS (the records' principalId). */
static bool
lg_uid_of(const char *user, uint32_t *ret_uid, void *arg)
{
	struct passwd pw, *res = NULL;
	char buf[16384];

	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	*ret_uid = (uint32_t)pw.pw_uid;
	return true;
}

/* ---- the checkpoint file ---- */

/* s as hex, "-" when empty. */
static void
put_hex(FILE *out, const char *s)
{
	if (*s == '\0')
		fputc('-', out);
	for (; *s != '\0'; s++)
		fprintf(out, "%02x", (unsigned char)*s);
}

/* Hex (or "-") into out (cap bytes with the NUL).  0 or -EINVAL. */
static int
get_hex(const char *h, char *out, size_t cap)
{
	size_t n = strlen(h), i;
	unsigned b;

	if (strcmp(h, "-") == 0) {
		out[0] = '\0';
		return 0;
	}
	if (n % 2 != 0 || n / 2 >= cap)
		return -EINVAL;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(h + 2 * i, "%2x", &b) != 1 || b == 0)
			return -EINVAL;
		out[i] = (char)b;
	}
	out[n / 2] = '\0';
	return 0;
}

/* The checkpoint as text.  0 with *ret (malloc'd) or -ENOMEM. */
static int
cp_format(const struct lg_cp *cp, char **ret, size_t *ret_len)
{
	static const char *const names[] = { "wtmp", "btmp" };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return -ENOMEM;
	fprintf(out, "%s\n", CP_MAGIC);
	for (int i = 0; i < 2; i++) {
		const struct lg_pos *p = &cp->pos[i];

		if (p->have && p->absent)
			fprintf(out, "file %s absent\n", names[i]);
		else if (p->have)
			fprintf(out, "file %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", names[i],
			    p->dev, p->ino, p->off);
	}
	fprintf(out, "history %" PRIu32 " %" PRIu64 "\n", cp->hist_day, cp->hist_off);
	for (size_t i = 0; i < cp->n_s; i++) {
		const struct ht_utmp_session *s = &cp->s[i];

		fputs("session ", out);
		put_hex(out, s->line);
		fputc(' ', out);
		put_hex(out, s->id);
		fputc(' ', out);
		put_hex(out, s->user);
		fputc(' ', out);
		put_hex(out, s->host);
		fprintf(out, " %s %" PRId64 " %" PRId32 "\n", s->addr[0] ? s->addr : "-", s->sec,
		    s->pid);
	}
	fputs("end\n", out);
	if (fclose(out) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	*ret_len = len;
	return 0;
}

static int
cp_parse_session(const char *l, struct lg_cp *cp)
{
	char line[200], id[200], user[200], host[1024], addr[64];
	struct ht_utmp_session s, *ns;

	memset(&s, 0, sizeof(s));
	if (cp->n_s >= HT_UTMP_SESSIONS_MAX)
		return 0;	/* the oldest are first: keep those */
	if (sscanf(l, "session %199s %199s %199s %1023s %63s %" SCNd64 " %" SCNd32, line, id,
	    user, host, addr, &s.sec, &s.pid) != 7 ||
	    get_hex(line, s.line, sizeof(s.line)) < 0 || get_hex(id, s.id, sizeof(s.id)) < 0 ||
	    get_hex(user, s.user, sizeof(s.user)) < 0 ||
	    get_hex(host, s.host, sizeof(s.host)) < 0 || strlen(addr) >= sizeof(s.addr))
		return -EINVAL;
	if (strcmp(addr, "-") != 0)
		memcpy(s.addr, addr, strlen(addr) + 1);
	if ((ns = realloc(cp->s, (cp->n_s + 1) * sizeof(*ns))) == NULL)
		return -ENOMEM;
	cp->s = ns;
	cp->s[cp->n_s++] = s;
	return 0;
}

/* One line (NUL-terminated) into cp; 1 at "end". */
static int
cp_parse_line(const char *l, struct lg_cp *cp)
{
	char name[8], tail[16];
	struct lg_pos p = { .have = true };
	int i;

	if (strcmp(l, "end") == 0)
		return 1;
	if (strncmp(l, "session ", 8) == 0)
		return cp_parse_session(l, cp);
	if (sscanf(l, "history %" SCNu32 " %" SCNu64 "%15s", &cp->hist_day, &cp->hist_off,
	    tail) == 2)
		return 0;
	if (sscanf(l, "file %7s absent%15s", name, tail) == 1 && strstr(l, " absent") != NULL)
		p.absent = true;
	else if (sscanf(l, "file %7s %" SCNu64 " %" SCNu64 " %" SCNu64 "%15s", name, &p.dev,
	    &p.ino, &p.off, tail) != 4)
		return -EINVAL;
	i = strcmp(name, "wtmp") == 0 ? 0 : strcmp(name, "btmp") == 0 ? 1 : -1;
	if (i < 0 || cp->pos[i].have)
		return -EINVAL;
	cp->pos[i] = p;
	return 0;
}

/* Parse a checkpoint file's text.  0 with *ret, -EINVAL, -ENOMEM. */
static int
cp_parse(char *text, struct lg_cp *ret)
{
	struct lg_cp cp = { 0 };
	char *save = NULL, *l;
	int v = -EINVAL;

	l = strtok_r(text, "\n", &save);
	if (l == NULL || strcmp(l, CP_MAGIC) != 0)
		return -EINVAL;
	while ((l = strtok_r(NULL, "\n", &save)) != NULL) {
		if ((v = cp_parse_line(l, &cp)) != 0)
			break;
	}
	if (v != 1) {
		cp_clear(&cp);
		return v < 0 ? v : -EINVAL;	/* no "end": cut short */
	}
	*ret = cp;
	return 0;
}

/* ---- what history has beyond the checkpoint ---- */

static int
key_cmp(const void *pa, const void *pb)
{
	const struct lg_key *a = pa, *b = pb;

	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off;
}

static int
lg_seen_cb(uint64_t seq, uint32_t flags, const char *data, size_t len, void *arg)
{
	struct logins *lg = arg;
	enum ht_utmp_file file;
	struct lg_key k, *n;

	if (!ht_utmp_record_key(data, len, &file, &k.ino, &k.off))
		return HT_SCAN_NEXT;
	k.file = (uint32_t)file;
	if (lg->n_seen == lg->cap_seen) {
		size_t cap = lg->cap_seen ? lg->cap_seen * 2 : 256;

		if (lg->n_seen >= LG_SEEN_MAX ||
		    (n = realloc(lg->seen, cap * sizeof(*n))) == NULL) {
			log_warnx("logins: more records in history beyond the checkpoint than can "
			    "be remembered; later ones may be delivered twice");
			return HT_SCAN_STOP;
		}
		lg->seen = n;
		lg->cap_seen = cap;
	}
	lg->seen[lg->n_seen++] = k;
	return HT_SCAN_NEXT;
}

/* Before reading from cp: remember the records history has beyond it. */
static void
lg_seen_load(struct logins *lg, const struct lg_cp *cp)
{
	struct ht_history_pos from = { cp->hist_day, cp->hist_off }, reached;
	struct ht_history_pos to = { UINT32_MAX, UINT64_MAX };
	int v;

	free(lg->seen);
	lg->seen = NULL;
	lg->n_seen = lg->cap_seen = 0;
	if (cp->hist_day == 0)
		return;
	v = ht_history_scan(lg->hist_dir, &from, &to, lg_seen_cb, lg, &reached, NULL);
	if (v < 0)
		log_msg(HT_LOG_WARNING, -v, "logins: cannot read history beyond the checkpoint; "
		    "records after it may be delivered twice");
	if (lg->n_seen > 0) {
		qsort(lg->seen, lg->n_seen, sizeof(*lg->seen), key_cmp);
		log_info("logins: %zu records in history since the checkpoint's position there; "
		    "entries found among them are not delivered again", lg->n_seen);
	}
}

static bool
lg_seen(const struct logins *lg, enum ht_utmp_file file, uint64_t ino, uint64_t off)
{
	struct lg_key k = { ino, off, (uint32_t)file };

	return lg->n_seen > 0 &&
	    bsearch(&k, lg->seen, lg->n_seen, sizeof(*lg->seen), key_cmp) != NULL;
}

/* Where history ends now (history.h). */
static void
lg_hist_pos(struct logins *lg, uint32_t *ret_day, uint64_t *ret_off)
{
	struct ht_history_pos pos;

	ht_history_end_pos(lg->hist_dir, &lg->hist_day, &pos);
	*ret_day = pos.day;
	*ret_off = pos.offset;
}

/* ---- checkpoints ---- */

/* Where reading stands now: valid for the durable state once every record
 * queued so far is durable. */
static int
lg_snapshot(struct logins *lg, struct lg_cp *ret)
{
	struct lg_cp cp = { 0 };
	const struct ht_utmp_session *s;
	size_t n;

	for (int i = 0; i < 2; i++) {
		struct lg_file *f = &lg->f[i];

		cp.pos[i].have = true;
		if (f->fd < 0) {
			cp.pos[i].absent = true;
			continue;
		}
		cp.pos[i].dev = f->dev;
		cp.pos[i].ino = f->ino;
		cp.pos[i].off = ht_utmp_resume_offset(f->reader);
	}
	s = ht_utmp_sessions(lg->f[0].reader, &n);
	if (n > 0) {
		if ((cp.s = malloc(n * sizeof(*s))) == NULL)
			return -ENOMEM;
		memcpy(cp.s, s, n * sizeof(*s));
		cp.n_s = n;
	}
	lg_hist_pos(lg, &cp.hist_day, &cp.hist_off);
	*ret = cp;
	return 0;
}

/* cpfile's format: the durable checkpoint's text. */
static int
lg_format(void *arg, char **ret_text, size_t *ret_len)
{
	struct logins *lg = arg;

	return cp_format(&lg->durable, ret_text, ret_len);
}

/* Write the durable checkpoint now, on the loop (start and stop only).
 * 0 or -errno (logged). */
static int
lg_save_sync(struct logins *lg)
{
	return ht_cpfile_sync(lg->cp);
}

/* cp (taken over) is durable now. */
static void
lg_advance(struct logins *lg, struct lg_cp *cp)
{
	cp_clear(&lg->durable);
	lg->durable = *cp;
	memset(cp, 0, sizeof(*cp));
	lg->have_durable = true;
	ht_cpfile_dirty(lg->cp);
}

/* ---- files ---- */

/* Open f's path, reading from off.  0, or -errno (ENOENT: not there). */
static int
file_open(struct lg_file *f, const char *path, uint64_t off, int *ret_fd)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO put there must not block the loop in open() */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	f->dev = (uint64_t)st.st_dev;
	f->ino = (uint64_t)st.st_ino;
	*ret_fd = fd;
	return ht_utmp_reader_reset(f->reader, path, f->ino, off);
}

static void
file_close(struct lg_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->rotated = false;
}

static uint64_t
file_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The file at f's path appeared (or replaced a rotated one): read it all. */
static void
file_appeared(struct logins *lg, struct lg_file *f)
{
	int v = file_open(f, f->path, 0, &f->fd);

	if (v == -ENOENT) {
		f->fd = -1;
		if (!f->absent_logged)
			log_info("logins: %s does not exist (yet); it is read from its start once "
			    "it does", f->path);
		f->absent_logged = true;
		return;
	}
	if (v < 0) {
		f->fd = -1;
		if (rl_ok(lg))
			log_msg(HT_LOG_WARNING, -v, "logins: cannot open %s", f->path);
		return;
	}
	f->absent_logged = false;
	log_info("logins: reading %s from its start (inode %" PRIu64 ")", f->path, f->ino);
}

/* The checkpoint's file, renamed to PATH.1 by a rotation while we were
 * down: finish it first.  0 when found. */
static int
file_begin_rotated(struct lg_file *f, const struct lg_pos *p)
{
	char old[PATH_MAX];
	int fd = -1;

	if (snprintf(old, sizeof(old), "%s.1", f->path) >= (int)sizeof(old) ||
	    file_open(f, old, p->off, &fd) < 0)
		return -ENOENT;
	if (f->ino != p->ino || file_size(fd) < p->off) {
		close(fd);
		return -ENOENT;
	}
	f->fd = fd;
	f->rotated = true;
	f->rotated_ms = ht_mono_ms() - LG_ROTATE_GRACE_MS;	/* renamed long ago */
	log_info("logins: reading %s from offset %" PRIu64 " (the checkpoint's file, rotated "
	    "since), then %s", old, p->off, f->path);
	return 0;
}

/* Where f starts: the checkpoint's position p, else per start. */
static void
file_begin(struct logins *lg, struct lg_file *f, const struct lg_pos *p,
    enum ht_source_start start)
{
	uint64_t size, off;
	int fd = -1, v;

	file_close(f);
	v = file_open(f, f->path, 0, &fd);
	if (p->have && !p->absent && (v < 0 || f->ino != p->ino)) {
		if (fd >= 0)
			close(fd);
		if (file_begin_rotated(f, p) == 0)
			return;
		log_warnx("logins: %s: the checkpoint's file (inode %" PRIu64 ") is gone; "
		    "reading %s from its start", f->name, p->ino, f->path);
		file_appeared(lg, f);
		return;
	}
	if (v < 0) {
		f->fd = -1;
		file_appeared(lg, f);	/* says why */
		return;
	}
	f->fd = fd;
	size = file_size(fd);
	if (p->have && !p->absent) {
		off = p->off;
		if (size < off) {
			log_warnx("logins: %s is shorter than the checkpoint's offset %" PRIu64
			    " (truncated); reading it from its start", f->path, off);
			off = 0;
		}
		log_info("logins: reading %s from offset %" PRIu64 " (the checkpoint)", f->path,
		    off);
	} else if (p->have || start == HT_SOURCE_START_BEGINNING) {
		off = 0;
		log_info("logins: reading %s from its start (%s)", f->path, p->have ?
		    "it appeared since the checkpoint" : "start: beginning");
	} else {
		/* a record being written now is read once it is whole */
		off = size - size % HT_UTMP_RECORD_SIZE;
		log_info("logins: reading %s from offset %" PRIu64 " (its end: first run, "
		    "start: end)", f->path, off);
	}
	(void)ht_utmp_reader_reset(f->reader, f->path, f->ino, off);
}

/* Start reading from cp (NULL: none).  Then the start is the first durable
 * checkpoint, so a crash before the first batch does not skip ahead. */
static int
lg_begin(struct logins *lg, const struct lg_cp *cp, enum ht_source_start start)
{
	static const struct lg_pos none;
	struct lg_cp now;
	int v;

	for (int i = 0; i < 2; i++)
		file_begin(lg, &lg->f[i], cp ? &cp->pos[i] : &none, start);
	if (cp != NULL && (v = ht_utmp_set_sessions(lg->f[0].reader, cp->s, cp->n_s)) < 0)
		return v;
	if (cp != NULL)
		lg_seen_load(lg, cp);
	if ((v = lg_snapshot(lg, &now)) < 0)
		return v;
	lg_advance(lg, &now);
	return 0;
}

/* ---- reading ---- */

static int
lg_enqueue(struct logins *lg, struct ht_record *rec)
{
	if (lg->q_n == lg->q_cap) {
		size_t cap = lg->q_cap ? lg->q_cap * 2 : 256;
		struct ht_record **q = realloc(lg->q, cap * sizeof(*q));

		if (q == NULL)
			return -ENOMEM;
		lg->q = q;
		lg->q_cap = cap;
	}
	lg->q[lg->q_n++] = rec;
	return 0;
}

static int
lg_emit(struct ht_record *rec, uint64_t offset, bool bad, void *arg)
{
	struct lg_file *f = arg;
	struct logins *lg = f->lg;

	if (lg_seen(lg, f->kind, f->ino, offset)) {
		ht_record_free(rec);	/* stored before a crash */
		lg->st.in_history++;
		return 0;
	}
	if (bad && rl_ok(lg))
		log_warnx("logins: %s offset %" PRIu64 " is not a utmp record; stored as "
		    "UnknownLoginRecord", f->path, offset);
	if (lg_enqueue(lg, rec) < 0) {
		ht_record_free(rec);
		lg->st.lost_nomem++;
		if (rl_ok(lg))
			log_warnx("logins: out of memory queueing the record of %s offset %" PRIu64
			    "; it is lost", f->path, offset);
	}
	return 0;
}

/* At the end of f: has it been truncated, or renamed away? */
static void
file_at_end(struct logins *lg, struct lg_file *f)
{
	uint64_t off = ht_utmp_offset(f->reader);
	struct stat st;

	if (file_size(f->fd) < off) {
		lg->st.truncations++;
		log_warnx("logins: %s was truncated; reading it from its start", f->path);
		(void)ht_utmp_reader_reset(f->reader, f->path, f->ino, 0);
		return;
	}
	if (stat(f->path, &st) == 0 && (uint64_t)st.st_ino == f->ino &&
	    (uint64_t)st.st_dev == f->dev)
		return;
	if (!f->rotated) {
		f->rotated = true;
		f->rotated_ms = ht_mono_ms();
		return;
	}
	if (ht_mono_ms() - f->rotated_ms < LG_ROTATE_GRACE_MS && !lg->draining)
		return;
	if (ht_utmp_flush(f->reader, lg_emit, f) < 0)
		return;	/* out of memory: try again next pass */
	lg->st.rotations++;
	log_info("logins: %s was rotated (inode %" PRIu64 " read to its end)", f->path, f->ino);
	file_close(f);
	file_appeared(lg, f);
}

/* One pass over f: bytes read (0 at its end or on error). */
static size_t
file_read(struct logins *lg, struct lg_file *f)
{
	uint64_t off;
	size_t used;
	ssize_t n;

	if (f->fd < 0) {
		struct stat st;

		if (stat(f->path, &st) < 0)
			return 0;
		file_appeared(lg, f);
		if (f->fd < 0)
			return 0;
	}
	off = ht_utmp_offset(f->reader);
	n = pread(f->fd, lg->buf, LG_CHUNK, (off_t)off);
	if (n < 0) {
		if (rl_ok(lg))
			log_warn("logins: reading %s", f->path);
		return 0;
	}
	if (n == 0) {
		file_at_end(lg, f);
		return 0;
	}
	if (ht_utmp_feed(f->reader, lg->buf, (size_t)n, lg_emit, f, &used) == -ENOMEM) {
		if (rl_ok(lg))
			log_warnx("logins: out of memory reading %s; retrying", f->path);
		return 0;
	}
	return used;
}

/* Read while there is room, then submit; true when a file had more. */
static bool
lg_read(struct logins *lg)
{
	char why[256];
	bool more = false;

	if (lg->failed || lg->stopping)
		return false;
	if (!lg->draining && ht_pipeline_blocked(lg->env->pipeline, why, sizeof(why))) {
		if (!lg->held_logged)
			log_warnx("logins: not reading the login files for now: %s", why);
		lg->held_logged = true;
		return false;
	}
	if (lg->held_logged)
		log_info("logins: reading the login files again");
	lg->held_logged = false;
	for (int i = 0; i < 2; i++)
		if (lg->q_n < LG_QUEUE_MAX && lg->inflight < LG_INFLIGHT_MAX &&
		    file_read(lg, &lg->f[i]) == LG_CHUNK)
			more = true;
	lg_submit(lg);
	return more;
}

static void
lg_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logins *lg = arg;

	if (lg_read(lg))
		event_active(lg->kick_ev, EV_TIMEOUT, 0);
}

static void lg_rewind(struct logins *lg);

static void
lg_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logins *lg = arg;

	if (lg->failed && lg->inflight == 0)
		lg_rewind(lg);
	if (lg_read(lg))
		event_active(lg->kick_ev, EV_TIMEOUT, 0);
}

/* ---- batches ---- */

static void lg_stop_now(struct logins *lg);

/* Pop the batches that are done, in order, advancing the checkpoint. */
static void
lg_complete(struct logins *lg)
{
	struct lg_batch *b;

	while ((b = lg->head) != NULL && b->done) {
		lg->head = b->next;
		if (lg->head == NULL)
			lg->tail = NULL;
		if (b->err < 0) {
			lg->st.unstored += b->n;
			if (!lg->failed)
				log_msg(HT_LOG_ERR, -b->err, "logins: %zu records could not be "
				    "stored; reading again from the last durable checkpoint", b->n);
			lg->failed = true;
		} else {
			lg->st.durable += b->n;
			if (!lg->failed && b->has_cp)
				lg_advance(lg, &b->cp);
		}
		cp_clear(&b->cp);
		free(b);
	}
	if (lg->stopping && lg->inflight == 0)
		lg_stop_now(lg);
}

static void
lg_durable_cb(int err, void *arg)
{
	struct lg_batch *b = arg;
	struct logins *lg = b->lg;
	bool stopping = lg->stopping;

	b->done = true;
	b->err = err;
	lg->inflight--;
	lg_complete(lg);	/* when stopping, may free lg */
	if (!stopping)
		lg_submit(lg);
}

static void
q_drop(struct logins *lg)
{
	for (size_t i = 0; i < lg->q_n; i++)
		ht_record_free(lg->q[i]);
	lg->q_n = 0;
}

/* After a failed append, once nothing is in flight: everything from the
 * durable checkpoint is read again (history's copies are skipped). */
static void
lg_rewind(struct logins *lg)
{
	q_drop(lg);
	lg->failed = false;
	if (lg_begin(lg, &lg->durable, HT_SOURCE_START_END) < 0)
		lg->failed = true;	/* out of memory: the next tick tries again */
}

static void
lg_submit(struct logins *lg)
{
	if (lg->stopping || lg->submitting)
		return;
	lg->submitting = true;
	while (lg->q_n > 0 && lg->inflight < LG_INFLIGHT_MAX && !lg->failed) {
		size_t n = lg->q_n < LG_BATCH_MAX ? lg->q_n : LG_BATCH_MAX;
		struct lg_batch *b = calloc(1, sizeof(*b));
		int v;

		if (b == NULL)
			break;
		b->lg = lg;
		b->n = n;
		/* the reading position covers this batch only when it takes all */
		b->has_cp = n == lg->q_n && lg_snapshot(lg, &b->cp) == 0;
		if (lg->tail)
			lg->tail->next = b;
		else
			lg->head = b;
		lg->tail = b;
		lg->inflight++;
		v = ht_pipeline_submit(lg->env->pipeline, lg->q, n, lg_durable_cb, b);
		for (size_t i = 0; i < n; i++)
			ht_record_free(lg->q[i]);
		memmove(lg->q, lg->q + n, (lg->q_n - n) * sizeof(*lg->q));
		lg->q_n -= n;
		if (v < 0)
			lg_durable_cb(v, b);
	}
	lg->submitting = false;
}

/* ---- start and stop ---- */

/* The checkpoint file: 1 with *ret, 0 when there is none (a first run),
 * or -errno (logged). */
static int
lg_load_checkpoint(struct logins *lg, struct lg_cp *ret)
{
	char *text = NULL;
	size_t len;
	int v;

	v = ht_read_file(lg->checkpoint, LG_CP_MAX, &text, &len);
	if (v == -ENOENT)
		return 0;
	if (v == 0) {
		v = cp_parse(text, ret);
		free(text);
		if (v == 0)
			return 1;
	}
	if (v == -EINVAL) {
		log_warnx("logins: the checkpoint %s is damaged; starting as on a first run",
		    lg->checkpoint);
		return 0;
	}
	log_msg(HT_LOG_ERR, -v, "logins: cannot read the checkpoint %s", lg->checkpoint);
	return v;
}

static int
lg_setup(struct logins *lg, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	static const char *const names[] = { "wtmp", "btmp" };
	struct lg_cp cp = { 0 };
	int v, have;

	lg->env = env;
	lg->f[0].path = strdup(sc->wtmp);
	lg->f[1].path = strdup(sc->btmp);
	lg->checkpoint = ht_conf_path(env->conf, sc->checkpoint);
	if (asprintf(&lg->hist_dir, "%s/history", env->conf->state_dir) < 0)
		lg->hist_dir = NULL;
	if (!lg->f[0].path || !lg->f[1].path || !lg->checkpoint || !lg->hist_dir ||
	    (lg->buf = malloc(LG_CHUNK)) == NULL)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		lg->f[i].lg = lg;
		lg->f[i].kind = (enum ht_utmp_file)i;
		lg->f[i].name = names[i];
		if ((v = ht_utmp_reader_new(lg->f[i].kind, lg_uid_of, NULL, &lg->f[i].reader)) < 0)
			return v;
	}
	if ((v = ht_cpfile_new(env->base, lg->checkpoint, "logins", lg_format, lg, &lg->cp)) < 0)
		return v;
	lg->tick_ev = event_new(env->base, -1, EV_PERSIST, lg_tick_cb, lg);
	lg->kick_ev = event_new(env->base, -1, 0, lg_kick_cb, lg);
	if (!lg->tick_ev || !lg->kick_ev)
		return -ENOMEM;
	if ((have = lg_load_checkpoint(lg, &cp)) < 0)
		return have;
	v = lg_begin(lg, have ? &cp : NULL, sc->start);
	cp_clear(&cp);
	if (v < 0 || (v = lg_save_sync(lg)) < 0)
		return v;
	event_add(lg->tick_ev, &(struct timeval){ 0, LG_TICK_MS * 1000 });
	event_active(lg->kick_ev, EV_TIMEOUT, 0);
	return 0;
}

static void
lg_free(struct logins *lg)
{
	if (lg == NULL)
		return;
	ht_cpfile_free(lg->cp);	/* a write in flight completes first */
	if (lg->tick_ev)
		event_free(lg->tick_ev);
	if (lg->kick_ev)
		event_free(lg->kick_ev);
	for (int i = 0; i < 2; i++) {
		file_close(&lg->f[i]);
		free(lg->f[i].path);
		ht_utmp_reader_free(lg->f[i].reader);
	}
	q_drop(lg);
	free(lg->q);
	while (lg->head != NULL) {
		struct lg_batch *b = lg->head;

		lg->head = b->next;
		cp_clear(&b->cp);
		free(b);
	}
	cp_clear(&lg->durable);
	free(lg->seen);
	free(lg->checkpoint);
	free(lg->hist_dir);
	free(lg->buf);
	free(lg);
}

static int
lg_start(const struct ht_source_env *env, const struct ht_conf_source *sc, void **ret)
{
	struct logins *lg = calloc(1, sizeof(*lg));
	int v;

	if (lg == NULL)
		return -ENOMEM;
	for (int i = 0; i < 2; i++)
		lg->f[i].fd = -1;
	v = lg_setup(lg, env, sc);
	if (v < 0) {
		if (v == -ENOMEM)
			log_msg(HT_LOG_ERR, ENOMEM, "logins: cannot start");
		lg_free(lg);
		return v;
	}
	log_info("logins: following %s and %s (checkpoint %s)", sc->wtmp, sc->btmp,
	    lg->checkpoint);
	*ret = lg;
	return 0;
}

static int
lg_reconfigure(void *state, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct logins *lg = state;
	char *cp = ht_conf_path(env->conf, sc->checkpoint);
	bool same;

	if (cp == NULL)
		return -ENOMEM;
	lg->env = env;
	same = strcmp(sc->wtmp, lg->f[0].path) == 0 && strcmp(sc->btmp, lg->f[1].path) == 0 &&
	    strcmp(cp, lg->checkpoint) == 0;
	free(cp);
	if (same)
		return 0;
	log_warnx("logins: new wtmp, btmp or checkpoint paths take effect at the next restart "
	    "(still %s, %s)", lg->f[0].path, lg->f[1].path);
	return -EBUSY;
}

static void
lg_drain(void *state)
{
	struct logins *lg = state;
	size_t budget = LG_DRAIN_BUDGET;

	lg->draining = true;
	event_del(lg->tick_ev);
	event_del(lg->kick_ev);
	/* what the files hold already, within a budget; then nothing more */
	while (budget > 0 && lg->q_n < LG_QUEUE_MAX && lg_read(lg))
		budget = budget > LG_CHUNK ? budget - LG_CHUNK : 0;
	lg_submit(lg);
}

static unsigned
lg_inflight(void *state)
{
	struct logins *lg = state;

	return lg->inflight + (lg->q_n > 0 && !lg->failed ? 1 : 0);
}

static void
lg_status(void *state, char *buf, size_t len)
{
	struct logins *lg = state;
	struct ht_utmp_stats w, b;

	ht_utmp_stats(lg->f[0].reader, &w);
	ht_utmp_stats(lg->f[1].reader, &b);
	snprintf(buf, len, "logins: wtmp %" PRIu64 " entries (%" PRIu64 " bad, %" PRIu64
	    " skipped), btmp %" PRIu64 " entries (%" PRIu64 " bad), %" PRIu64 " stored, %zu "
	    "queued, %" PRIu64 " already in history, %" PRIu64 " rotations, %" PRIu64
	    " truncations, %" PRIu64 " lost (%" PRIu64 " not stored)", w.entries, w.bad,
	    w.skipped, b.entries, b.bad, lg->st.durable, lg->q_n, lg->st.in_history,
	    lg->st.rotations, lg->st.truncations, lg->st.lost_nomem, lg->st.unstored);
}

/* Everything in flight is done: write the checkpoint, free. */
static void
lg_stop_now(struct logins *lg)
{
	if (lg->have_durable && !lg->failed)
		(void)lg_save_sync(lg);
	lg_free(lg);
}

static void
lg_stop(void *state)
{
	struct logins *lg = state;

	lg->stopping = true;
	event_del(lg->tick_ev);
	event_del(lg->kick_ev);
	if (lg->inflight > 0) {
		log_warnx("logins: stopping with %u batches not yet stored", lg->inflight);
		return;	/* the last one frees */
	}
	lg_stop_now(lg);
}

const struct ht_source_ops ht_src_logins_ops = {
	.type = "logins",
	.start = lg_start,
	.reconfigure = lg_reconfigure,
	.drain = lg_drain,
	.inflight = lg_inflight,
	.status = lg_status,
	.stop = lg_stop,
};
