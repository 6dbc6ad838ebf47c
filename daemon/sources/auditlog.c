/*
 * auditlog.c - see auditlog.h.
 *
 * Positions.  Every file read gets a generation number when it is opened;
 * files[] is the chain being read, oldest first (rotated files still to
 * finish, then the live log).  A line's tag is gen << 40 | byte offset, so
 * tags order lines across rotations, and the assembler's low tag (the first
 * line of the oldest open event) names a file and an offset.  A file stays
 * in files[] while a tag may still refer to it.  (Offsets past 1 TiB and
 * more than 16M files in one run are not supported.)
 *
 * Reading.  The loop never waits on the file: a pass reads at most one
 * chunk (pread), feeds its complete lines, submits what closed, and queues
 * the next pass; inotify on the directory, or a timer, starts passes when
 * the log grows or rotates.  A line without its newline waits in buf.  At
 * the end of the live file, another inode at the path means auditd rotated:
 * the files newer than ours are appended to the chain, and ours is read to
 * its end first (our descriptor keeps it readable, even once deleted).
 *
 * Exactly once.  A record goes to the pipeline when its event closes; each
 * batch carries the checkpoint that holds once it and every batch before it
 * are durable.  Events interleave, so low (the oldest open event) can be
 * well before high (the next unread byte); after a restart the lines
 * between them are read again, but only the records of the events that
 * were open are fed, so closed events are not repeated and open ones are
 * not lost.  Open events are tracked here by key, with the tag of their
 * first line, from what is fed and what the assembler emits.
 *
 * Durability.  Batches complete in order (a FIFO makes out-of-order
 * completion safe too); the checkpoint file is rewritten by cpfile.h (at
 * most every 200 ms, fsync off the loop), and at stop.  History has records before the checkpoint file says so; each
 * checkpoint therefore also names where history ended when its batch was
 * submitted, and a start after a crash reads history from there and drops
 * the events found (by audit(TIME:SERIAL) and node) when they close again.
 * A failed append does the same from the last durable checkpoint.  This
 * reads history's files directly (STATE/history, as daemon.c names it):
 * the pipeline does not say where records went.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "conf.h"
#include "fileio.h"
#include "history/history.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "sources/audit_map.h"
#include "sources/audit_parse.h"
#include "sources/auditlog.h"
#include "sources/cpfile.h"
#include "util.h"
#include "worker.h"

#define AL_CHUNK (1024 * 1024)		/* bytes read per pass */
#define AL_BATCH_MAX 1000		/* records per pipeline batch */
#define AL_INFLIGHT_MAX 64		/* batches not yet durable before reading pauses */
#define AL_POLL_MS 250			/* tick with events open, or without inotify */
#define AL_IDLE_MS 1000			/* tick otherwise: a safety net under inotify */
#define AL_RETRY_MS 1000		/* after a failed append or checkpoint write */
#define AL_DRAIN_BUDGET (16u * 1024 * 1024)	/* read at most this much at shutdown */
#define AL_MAX_ROTATED 999		/* auditd's num_logs limit */
#define AL_CP_MAX (16u * 1024 * 1024)	/* a checkpoint file larger than this is damaged */
#define AL_CP_MAX_FILES 1000
#define AL_CP_MAX_OPEN 65536
#define AL_SEEN_MAX 1000000		/* events remembered from history's tail */
#define AL_RL_BURST 5			/* bad-line messages per AL_RL_MS */
#define AL_RL_MS 10000

#define OFF_BITS 40
#define TAG(gen, off) (((uint64_t)(gen) << OFF_BITS) | ((off) & ((1ULL << OFF_BITS) - 1)))
#define TAG_GEN(t) ((uint32_t)((t) >> OFF_BITS))
#define TAG_OFF(t) ((uint64_t)((t) & ((1ULL << OFF_BITS) - 1)))

#define CP_MAGIC "hosttrail-auditlog-checkpoint 1"

/* One file of the chain. */
struct al_file {
	int fd;				/* -1 once read to its end */
	uint32_t gen;
	struct ht_auditlog_file_id id;
	uint64_t pos;			/* next byte to read */
	char *name;			/* as opened, for messages */
};

/* An open event (or, while replaying, one open at the checkpoint). */
struct al_key {
	int64_t time_ms;
	uint64_t serial;
	uint32_t node_hash;
	uint64_t first_tag;		/* its first line; in seen: how many records */
};

/* Keys sorted by key_cmp; at most one per open event. */
struct al_set {
	struct al_key *v;
	size_t n, cap;
};

/* A file at the path or rotated from it (k = 0: the path, k: path.k). */
struct al_cand {
	unsigned k;
	uint64_t dev, ino;
	int64_t mtime_ns;
};

/* One pipeline batch and the checkpoint that holds once it is durable. */
struct al_batch {
	struct al_batch *next;
	struct auditlog *al;
	struct ht_auditlog_checkpoint cp;
	bool has_cp;			/* false after ENOMEM: durable, but no progress */
	bool done;
	int err;
	size_t n;
};

/* Messages on the data path: AL_RL_BURST per AL_RL_MS, then a count. */
struct al_rl {
	int64_t start;
	unsigned n;
	uint64_t dropped;
};

struct al_stats {
	uint64_t lines, bad, events, incomplete, records, submitted, durable, lost, skipped;
};

enum al_pass { AL_MORE, AL_IDLE, AL_HELD };

struct auditlog {
	const struct ht_source_env *env;
	char *path, *dir, *checkpoint, *hist_dir;
	uint32_t hist_day;		/* the newest history day seen */
	struct ht_audit_asm_conf asm_conf, pending_conf;
	bool conf_pending;
	struct ht_audit_asm *assembler;
	struct ht_audit_names *names;
	uint64_t orphans_base;		/* orphans of assemblers replaced by reloads */
	/* the chain */
	struct al_file *files;
	size_t n_files, cur;
	uint32_t next_gen;
	char *buf;			/* [file offset next_tag, + have) of files[cur] */
	size_t have;
	bool skipping;			/* dropping the rest of an over-long line */
	uint64_t next_tag;		/* first byte not yet fed */
	/* open events */
	struct al_set open;
	bool open_lost;			/* ENOMEM tracking them: replay all from low */
	const struct al_key *feeding;	/* the key of the record being fed */
	bool feeding_closed;
	/* after a restart: only these events' records before replay_until */
	struct al_set replay;
	uint64_t replay_until;
	bool replaying;
	struct al_set seen;		/* events history has beyond the checkpoint */
	/* records of closed events, not yet submitted */
	struct ht_record **recs;
	size_t n_recs, cap_recs;
	uint64_t sub_lo, sub_hi;	/* the last batch's positions */
	struct al_batch *head, *tail;
	unsigned inflight;
	/* the durable checkpoint */
	struct ht_auditlog_checkpoint durable;
	bool have_durable;
	struct ht_cpfile *cp;		/* writes durable off the loop */
	/* loop */
	struct event *read_ev, *tick_ev, *retry_ev, *inotify_ev;
	int inotify_fd;
	bool blocked, failed, draining, drained, stopping, waiting_logged;
	uint64_t drain_left;
	struct al_stats st;
	struct al_rl rl;
};

static void al_event_cb(struct ht_audit_event *e, void *arg);
static void al_kick(struct auditlog *al);

/* ---- the checkpoint format ---- */

uint64_t
ht_auditlog_head_hash(const void *data, size_t len)
{
	return ht_fnv1a64(data, len);
}

uint32_t
ht_auditlog_node_hash(const char *node)
{
	return node != NULL ? ht_fnv1a32_str(node) : 0;
}

void
ht_auditlog_checkpoint_clear(struct ht_auditlog_checkpoint *cp)
{
	free(cp->files);
	free(cp->open);
	memset(cp, 0, sizeof(*cp));
}

int
ht_auditlog_checkpoint_copy(const struct ht_auditlog_checkpoint *cp,
    struct ht_auditlog_checkpoint *ret)
{
	struct ht_auditlog_checkpoint c = *cp;

	c.files = malloc((cp->n_files ? cp->n_files : 1) * sizeof(*c.files));
	c.open = malloc((cp->n_open ? cp->n_open : 1) * sizeof(*c.open));
	if (c.files == NULL || c.open == NULL) {
		free(c.files);
		free(c.open);
		return -ENOMEM;
	}
	if (cp->n_files > 0)
		memcpy(c.files, cp->files, cp->n_files * sizeof(*c.files));
	if (cp->n_open > 0)
		memcpy(c.open, cp->open, cp->n_open * sizeof(*c.open));
	*ret = c;
	return 0;
}

int
ht_auditlog_checkpoint_format(const struct ht_auditlog_checkpoint *cp, const char *path,
    char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int v;

	if (f == NULL)
		return -ENOMEM;
	fprintf(f, CP_MAGIC "\npath ");
	for (const char *c = path ? path : ""; *c != '\0'; c++)	/* one line, whatever it holds */
		fputc((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c, f);
	fputc('\n', f);
	for (size_t i = 0; i < cp->n_files; i++)
		fprintf(f, "file %" PRIu64 " %" PRIu64 " %" PRIu32 " %016" PRIx64 "\n",
		    cp->files[i].dev, cp->files[i].ino, cp->files[i].head_len,
		    cp->files[i].head_hash);
	fprintf(f, "low %zu %" PRIu64 "\nhigh %zu %" PRIu64 "\n", cp->low.file, cp->low.off,
	    cp->high.file, cp->high.off);
	if (cp->hist_day != 0)
		fprintf(f, "history %" PRIu32 " %" PRIu64 "\n", cp->hist_day, cp->hist_off);
	for (size_t i = 0; i < cp->n_open; i++) {
		const struct ht_auditlog_open *o = &cp->open[i];

		fprintf(f, "open %" PRId64 " %" PRIu64 " %08" PRIx32 " %zu %" PRIu64 "\n",
		    o->time_ms, o->serial, o->node_hash, o->first.file, o->first.off);
	}
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

static bool
mark_le(const struct ht_auditlog_mark *a, const struct ht_auditlog_mark *b)
{
	return a->file < b->file || (a->file == b->file && a->off <= b->off);
}

/* Does cp hang together: indexes in range, low <= first < high. */
static bool
cp_consistent(const struct ht_auditlog_checkpoint *cp)
{
	if (cp->n_files == 0 || cp->low.file >= cp->n_files || cp->high.file >= cp->n_files ||
	    !mark_le(&cp->low, &cp->high))
		return false;
	for (size_t i = 0; i < cp->n_files; i++)
		if (cp->files[i].head_len > HT_AUDITLOG_HEAD)
			return false;
	for (size_t i = 0; i < cp->n_open; i++)
		if (!mark_le(&cp->low, &cp->open[i].first) ||
		    mark_le(&cp->high, &cp->open[i].first))
			return false;
	return true;
}

/* Append one element to *arr (n items of size sz), growing it. */
static void *
grow(void **arr, size_t *n, size_t *cap, size_t sz)
{
	void *p;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;

		p = realloc(*arr, c * sz);
		if (p == NULL)
			return NULL;
		*arr = p;
		*cap = c;
	}
	return (char *)*arr + (*n)++ * sz;
}

/* One line (NUL-terminated) of a checkpoint into cp.  1 at "end". */
static int
cp_parse_line(const char *l, struct ht_auditlog_checkpoint *cp, size_t *cap_files,
    size_t *cap_open, unsigned *have)
{
	struct ht_auditlog_file_id fid;
	struct ht_auditlog_open o;
	void *p;
	int n = -1;

	if (strncmp(l, "path ", 5) == 0)
		return 0;
	if (strcmp(l, "end") == 0)
		return 1;
	if (sscanf(l, "file %" SCNu64 " %" SCNu64 " %" SCNu32 " %" SCNx64 "%n", &fid.dev, &fid.ino,
	    &fid.head_len, &fid.head_hash, &n) == 4 && l[n] == '\0') {
		if (cp->n_files >= AL_CP_MAX_FILES || (*have & 6) != 0)
			return -EINVAL;
		p = grow((void **)&cp->files, &cp->n_files, cap_files, sizeof(fid));
		if (p == NULL)
			return -ENOMEM;
		memcpy(p, &fid, sizeof(fid));
		return 0;
	}
	if (sscanf(l, "low %zu %" SCNu64 "%n", &cp->low.file, &cp->low.off, &n) == 2 &&
	    l[n] == '\0' && !(*have & 2)) {
		*have |= 2;
		return 0;
	}
	if (sscanf(l, "high %zu %" SCNu64 "%n", &cp->high.file, &cp->high.off, &n) == 2 &&
	    l[n] == '\0' && !(*have & 4)) {
		*have |= 4;
		return 0;
	}
	if (sscanf(l, "history %" SCNu32 " %" SCNu64 "%n", &cp->hist_day, &cp->hist_off, &n) == 2 &&
	    l[n] == '\0' && cp->hist_day != 0 && !(*have & 8)) {
		*have |= 8;
		return 0;
	}
	if (sscanf(l, "open %" SCNd64 " %" SCNu64 " %" SCNx32 " %zu %" SCNu64 "%n", &o.time_ms,
	    &o.serial, &o.node_hash, &o.first.file, &o.first.off, &n) == 5 && l[n] == '\0') {
		if (cp->n_open >= AL_CP_MAX_OPEN)
			return -EINVAL;
		p = grow((void **)&cp->open, &cp->n_open, cap_open, sizeof(o));
		if (p == NULL)
			return -ENOMEM;
		memcpy(p, &o, sizeof(o));
		return 0;
	}
	return -EINVAL;
}

int
ht_auditlog_checkpoint_parse(const char *text, size_t len, struct ht_auditlog_checkpoint *ret)
{
	struct ht_auditlog_checkpoint cp = { 0 };
	size_t cap_files = 0, cap_open = 0;
	const char *p = text, *end = text + len, *nl;
	unsigned have = 0;
	char line[256];
	int v = -EINVAL;

	for (size_t i = 0; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; i++) {
		size_t n = (size_t)(nl - p);

		if (i > 0 && strncmp(p, "path ", 5) == 0) {
			p = nl + 1;	/* informational, and the one line that may be long */
			continue;
		}
		if (n >= sizeof(line) || memchr(p, '\0', n) != NULL)
			goto out;
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (i == 0) {
			if (strcmp(line, CP_MAGIC) != 0)
				goto out;
			continue;
		}
		v = cp_parse_line(line, &cp, &cap_files, &cap_open, &have);
		if (v < 0)
			goto out;
		if (v == 1)
			break;
		v = -EINVAL;
	}
	if (v != 1 || p != end || (have & 6) != 6 || !cp_consistent(&cp)) {
		v = -EINVAL;
		goto out;
	}
	*ret = cp;
	return 0;
out:
	ht_auditlog_checkpoint_clear(&cp);
	return v;
}

/* ---- open events ---- */

static int
key_cmp(const struct al_key *a, const struct al_key *b)
{
	if (a->serial != b->serial)
		return a->serial < b->serial ? -1 : 1;
	if (a->time_ms != b->time_ms)
		return a->time_ms < b->time_ms ? -1 : 1;
	if (a->node_hash != b->node_hash)
		return a->node_hash < b->node_hash ? -1 : 1;
	return 0;
}

static int
key_qsort_cmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

/* Index of k in s, or where it would go (*ret_found false). */
static size_t
set_find(const struct al_set *s, const struct al_key *k, bool *ret_found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(&s->v[mid], k);

		if (c == 0) {
			*ret_found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_found = false;
	return lo;
}

/* Add k unless present (an event's first tag is kept).  0 or -ENOMEM. */
static int
set_add(struct al_set *s, const struct al_key *k)
{
	bool found;
	size_t i = set_find(s, k, &found);

	if (found)
		return 0;
	if (grow((void **)&s->v, &s->n, &s->cap, sizeof(*k)) == NULL)
		return -ENOMEM;
	memmove(&s->v[i + 1], &s->v[i], (s->n - 1 - i) * sizeof(*k));
	s->v[i] = *k;
	return 0;
}

static void
set_del(struct al_set *s, const struct al_key *k)
{
	bool found;
	size_t i = set_find(s, k, &found);

	if (!found)
		return;
	memmove(&s->v[i], &s->v[i + 1], (s->n - 1 - i) * sizeof(*k));
	s->n--;
}

static void
set_free(struct al_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- messages ---- */

static bool
rl_ok(struct auditlog *al)
{
	int64_t now = ht_mono_ms();

	if (now - al->rl.start >= AL_RL_MS) {
		if (al->rl.dropped > 0)
			log_warnx("auditlog %s: %" PRIu64 " more messages about bad lines "
			    "suppressed", al->path, al->rl.dropped);
		al->rl = (struct al_rl){ .start = now };
	}
	if (al->rl.n < AL_RL_BURST) {
		al->rl.n++;
		return true;
	}
	al->rl.dropped++;
	return false;
}

static const char *
cur_name(const struct auditlog *al)
{
	return al->cur < al->n_files ? al->files[al->cur].name : al->path;
}

static void
al_bad_line(struct auditlog *al, uint64_t tag, int err, const char *why)
{
	if (err == -ENOMEM) {
		al->st.lost++;
		if (rl_ok(al))
			log_warnx("auditlog %s: out of memory at %s offset %" PRIu64 "; the "
			    "record is lost", al->path, cur_name(al), TAG_OFF(tag));
		return;
	}
	al->st.bad++;
	if (rl_ok(al))
		log_warnx("auditlog %s: %s offset %" PRIu64 ": not an audit record (%s), ignoring",
		    al->path, cur_name(al), TAG_OFF(tag),
		    err == -E2BIG ? "longer than 64 KiB" : why);
}

/* ---- the chain of files ---- */

static void
al_name(const struct auditlog *al, unsigned k, char *buf, size_t len)
{
	if (k == 0)
		snprintf(buf, len, "%s", al->path);
	else
		snprintf(buf, len, "%s.%u", al->path, k);
}

/* Hash what the file has of its first HT_AUDITLOG_HEAD bytes, once it has
 * more than last time. */
static void
file_refresh_head(struct al_file *f)
{
	char buf[HT_AUDITLOG_HEAD];
	size_t got;

	if (f->fd < 0 || f->id.head_len >= HT_AUDITLOG_HEAD)
		return;
	if (ht_pread_all(f->fd, buf, sizeof(buf), 0, &got) < 0 || got <= f->id.head_len)
		return;
	f->id.head_len = (uint32_t)got;
	f->id.head_hash = ht_auditlog_head_hash(buf, got);
}

/* Does the file open on fd start as id says? */
static bool
fd_matches(int fd, const struct ht_auditlog_file_id *id)
{
	char buf[HT_AUDITLOG_HEAD];
	struct stat st;
	size_t got;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != id->ino)
		return false;
	if (ht_pread_all(fd, buf, id->head_len, 0, &got) < 0 || got != id->head_len)
		return false;
	return ht_auditlog_head_hash(buf, got) == id->head_hash;
}

/* Open name (still inode ino, unless 0) and append it to the chain, to be
 * read from off.  0, -ESTALE when name is another file by now, -errno. */
static int
chain_open(struct auditlog *al, const char *name, uint64_t ino, uint64_t off)
{
	struct al_file *files = NULL, *f;
	struct stat st;
	int fd, v;

	fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		v = -errno;
	else if (!S_ISREG(st.st_mode))
		v = -EINVAL;
	else if (ino != 0 && (uint64_t)st.st_ino != ino)
		v = -ESTALE;
	else if ((files = realloc(al->files, (al->n_files + 1) * sizeof(*files))) == NULL)
		v = -ENOMEM;
	else
		v = 0;
	if (v < 0) {
		close(fd);
		return v;
	}
	al->files = files;
	f = &files[al->n_files];
	*f = (struct al_file){ .fd = fd, .gen = al->next_gen, .pos = off,
		.id = { .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino } };
	f->name = strdup(name);
	if (f->name == NULL) {
		close(fd);
		return -ENOMEM;
	}
	file_refresh_head(f);
	al->next_gen++;
	al->n_files++;
	return 0;
}

static void
chain_pop(struct auditlog *al)
{
	struct al_file *f = &al->files[--al->n_files];

	if (f->fd >= 0)
		close(f->fd);
	free(f->name);
}

static void
chain_free(struct auditlog *al)
{
	while (al->n_files > 0)
		chain_pop(al);
	free(al->files);
	al->files = NULL;
	al->cur = 0;
}

static bool
chain_has(const struct auditlog *al, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < al->n_files; i++)
		if (al->files[i].id.ino == ino && al->files[i].id.dev == dev)
			return true;
	return false;
}

/* Forget finished files older than generation keep. */
static void
chain_prune(struct auditlog *al, uint32_t keep)
{
	size_t n = 0;

	while (n < al->cur && al->files[n].fd < 0 && al->files[n].gen < keep)
		free(al->files[n++].name);
	if (n == 0)
		return;
	memmove(al->files, al->files + n, (al->n_files - n) * sizeof(*al->files));
	al->n_files -= n;
	al->cur -= n;
}

/* The path and its rotated files that exist now, by k (newest first). */
static int
list_files(const struct auditlog *al, struct al_cand **ret, size_t *ret_n)
{
	struct al_cand *c = NULL, *p;
	size_t n = 0, cap = 0;
	char name[PATH_MAX];
	struct stat st;

	for (unsigned k = 0; k <= AL_MAX_ROTATED; k++) {
		al_name(al, k, name, sizeof(name));
		if (stat(name, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (k == 0)
				continue;	/* between auditd's rename and create */
			break;
		}
		p = grow((void **)&c, &n, &cap, sizeof(*c));
		if (p == NULL) {
			free(c);
			return -ENOMEM;
		}
		*p = (struct al_cand){ k, (uint64_t)st.st_dev, (uint64_t)st.st_ino,
			(int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec };
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

/* Append the files auditd rotated in after the chain's last one, oldest
 * first.  While we hold that file open its inode is its own, so it is
 * found by inode; if auditd already deleted its name, every file changed
 * since it was last written is newer. */
static int
chain_follow(struct auditlog *al)
{
	const struct al_file *f = &al->files[al->n_files - 1];
	uint64_t dev = f->id.dev, ino = f->id.ino;
	char name[PATH_MAX];
	struct al_cand *c;
	struct stat st;
	size_t n, at = SIZE_MAX;
	int64_t mtime = 0;
	int v;

	if (fstat(f->fd, &st) == 0)
		mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	v = list_files(al, &c, &n);
	if (v < 0)
		return v;
	for (size_t i = 0; i < n; i++)
		if (c[i].ino == ino && c[i].dev == dev)
			at = i;
	for (size_t i = n; i-- > 0;) {
		if (at != SIZE_MAX ? i >= at : c[i].mtime_ns < mtime)
			continue;
		if (chain_has(al, c[i].dev, c[i].ino))
			continue;
		al_name(al, c[i].k, name, sizeof(name));
		v = chain_open(al, name, c[i].ino, 0);
		if (v < 0)
			break;	/* renamed again meanwhile: the next pass lists again */
		log_info("auditlog %s: auditd rotated the log; %s follows", al->path, name);
	}
	free(c);
	return v == -ENOENT || v == -ESTALE ? 0 : v;
}

/* Where a first run starts reading the live file: after its last complete
 * line, so a line being written is read whole. */
static uint64_t
start_at_end(int fd)
{
	char buf[HT_AUDIT_LINE_MAX];
	struct stat st;
	uint64_t size, from;
	size_t got;

	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return 0;
	size = (uint64_t)st.st_size;
	from = size > sizeof(buf) ? size - sizeof(buf) : 0;
	if (ht_pread_all(fd, buf, (size_t)(size - from), from, &got) < 0)
		return size;
	for (size_t i = got; i-- > 0;)
		if (buf[i] == '\n')
			return from + i + 1;
	return from == 0 ? 0 : size;
}

/* ---- replay after a restart ---- */

/* Map the checkpoint's open events onto the chain: only their records are
 * fed until the checkpoint's high mark. */
static int
replay_setup(struct auditlog *al, const struct ht_auditlog_checkpoint *cp)
{
	uint32_t *gen = calloc(cp->n_files, sizeof(*gen));
	struct al_key k;
	void *p;

	if (gen == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cp->n_files; i++)
		for (size_t j = 0; j < al->n_files && gen[i] == 0; j++)
			if (al->files[j].fd >= 0 && fd_matches(al->files[j].fd, &cp->files[i]))
				gen[i] = al->files[j].gen;
	if (gen[cp->high.file] == 0) {
		log_warnx("auditlog %s: the checkpoint's last file is gone; events around it "
		    "may be delivered twice", al->path);
		free(gen);
		return 0;
	}
	al->replay_until = TAG(gen[cp->high.file], cp->high.off);
	for (size_t i = 0; i < cp->n_open; i++) {
		const struct ht_auditlog_open *o = &cp->open[i];

		if (gen[o->first.file] == 0)
			continue;
		k = (struct al_key){ o->time_ms, o->serial, o->node_hash,
			TAG(gen[o->first.file], o->first.off) };
		p = grow((void **)&al->replay.v, &al->replay.n, &al->replay.cap, sizeof(k));
		if (p == NULL) {
			free(gen);
			return -ENOMEM;
		}
		memcpy(p, &k, sizeof(k));
	}
	free(gen);
	if (al->replay.n > 0)
		qsort(al->replay.v, al->replay.n, sizeof(k), key_qsort_cmp);
	al->replaying = al->replay_until > TAG(al->files[0].gen, al->files[0].pos);
	if (!al->replaying)
		set_free(&al->replay);
	return 0;
}

static void
replay_end(struct auditlog *al)
{
	set_free(&al->replay);
	al->replaying = false;
}

/* Is the line at tag inside the replayed stretch? */
static bool
in_replay(struct auditlog *al, uint64_t tag)
{
	if (!al->replaying)
		return false;
	if (tag < al->replay_until)
		return true;
	replay_end(al);
	return false;
}

static bool
replay_wants(const struct auditlog *al, const struct ht_audit_record *r, uint64_t tag)
{
	struct al_key k = { r->time_ms, r->serial, ht_auditlog_node_hash(r->node), 0 };
	bool found;
	size_t i = set_find(&al->replay, &k, &found);

	return found && tag >= al->replay.v[i].first_tag;
}

/* ---- where to start ---- */

/* Open the checkpoint's first file and the ones rotated after it.  1 when
 * found, 0 when it is gone, -errno. */
static int
begin_from(struct auditlog *al, const struct ht_auditlog_checkpoint *cp,
    const struct al_cand *c, size_t n)
{
	char name[PATH_MAX];
	struct stat st;
	int v;

	for (size_t i = 0; i < n; i++) {
		if (c[i].ino != cp->files[0].ino)
			continue;
		al_name(al, c[i].k, name, sizeof(name));
		v = chain_open(al, name, c[i].ino, cp->low.off);
		if (v == -ENOENT || v == -ESTALE)
			continue;	/* rotated meanwhile */
		if (v < 0)
			return v;
		if (!fd_matches(al->files[al->n_files - 1].fd, &cp->files[0])) {
			chain_pop(al);
			continue;
		}
		v = chain_follow(al);
		if (v < 0)
			return v;
		if (fstat(al->files[0].fd, &st) == 0 && (uint64_t)st.st_size < cp->low.off) {
			log_warnx("auditlog %s: %s is shorter than the checkpoint's offset %" PRIu64
			    "; reading it from the start", al->path, name, cp->low.off);
			al->files[0].pos = 0;
			return 1;
		}
		return replay_setup(al, cp) < 0 ? -ENOMEM : 1;
	}
	return 0;
}

/* Open every file auditd still has, oldest first, from their start; or
 * (all false) the live file from its end. */
static int
begin_fresh(struct auditlog *al, const struct al_cand *c, size_t n, bool all)
{
	struct al_file *f;
	char name[PATH_MAX];
	int v;

	for (size_t i = n; i-- > 0;) {
		if (!all && c[i].k != 0)
			continue;
		al_name(al, c[i].k, name, sizeof(name));
		v = chain_open(al, name, c[i].ino, 0);
		if (v == -ENOENT || v == -ESTALE)
			continue;	/* rotated meanwhile; the chain follows it */
		if (v < 0)
			return v;
		f = &al->files[al->n_files - 1];
		if (!all)
			f->pos = start_at_end(f->fd);
	}
	return 0;
}

/* Build the chain from cp (NULL: none) and set the read position.  1 when
 * the checkpoint was found, 0 otherwise, -errno (logged by the caller). */
static int
al_begin(struct auditlog *al, const struct ht_auditlog_checkpoint *cp, enum ht_source_start start)
{
	struct al_cand *c;
	size_t n;
	int v, found = 0;

	v = list_files(al, &c, &n);
	if (v < 0)
		return v;
	if (cp != NULL)
		found = begin_from(al, cp, c, n);
	if (found == 0 && cp != NULL)
		log_warnx("auditlog %s: the checkpoint's file (inode %" PRIu64 ") is gone; "
		    "reading the %zu files auditd still has from their start", al->path,
		    cp->files[0].ino, n);
	if (found == 0)
		v = begin_fresh(al, c, n, cp != NULL || start == HT_SOURCE_START_BEGINNING);
	free(c);
	if (found < 0 || v < 0) {
		chain_free(al);
		return found < 0 ? found : v;
	}
	al->cur = 0;
	al->have = 0;
	al->skipping = false;
	al->next_tag = al->n_files > 0 ? TAG(al->files[0].gen, al->files[0].pos) : 0;
	return found;
}

/* ---- what history has beyond a checkpoint ---- */

/* Where history ends now (history.h). */
static void
al_hist_pos(struct auditlog *al, uint32_t *ret_day, uint64_t *ret_off)
{
	struct ht_history_pos pos;

	ht_history_end_pos(al->hist_dir, &al->hist_day, &pos);
	*ret_day = pos.day;
	*ret_off = pos.offset;
}

static int
seen_add(struct al_set *s, const struct al_key *k)
{
	bool found;
	size_t i = set_find(s, k, &found);

	if (found) {
		s->v[i].first_tag++;
		return 0;
	}
	if (s->n >= AL_SEEN_MAX || set_add(s, k) < 0)
		return -ENOMEM;
	s->v[i].first_tag = 1;
	return 0;
}

/* Is e in history already?  Each record found there excuses one event. */
static bool
seen_take(struct al_set *s, const struct al_key *k)
{
	bool found;
	size_t i;

	if (s->n == 0)
		return false;
	i = set_find(s, k, &found);
	if (!found)
		return false;
	if (--s->v[i].first_tag == 0)
		set_del(s, k);
	return true;
}

/* The key of an auditlog record in history (additionalEventData's
 * auditSerial, auditTime "SECONDS.MILLIS" and node). */
static bool
record_key(struct json_object *rec, struct al_key *ret)
{
	struct json_object *add, *v;
	const char *t, *node = NULL;
	long long sec;
	int ms, n = -1;

	if (!json_object_object_get_ex(rec, "additionalEventData", &add) ||
	    !json_object_object_get_ex(add, "source", &v) ||
	    strcmp(json_object_get_string(v), "auditlog") != 0 ||
	    !json_object_object_get_ex(add, "auditTime", &v) ||
	    (t = json_object_get_string(v)) == NULL ||
	    sscanf(t, "%lld.%3d%n", &sec, &ms, &n) != 2 || t[n] != '\0')
		return false;
	ret->time_ms = (int64_t)sec * 1000 + ms;
	if (!json_object_object_get_ex(add, "auditSerial", &v))
		return false;
	ret->serial = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(add, "node", &v))
		node = json_object_get_string(v);
	ret->node_hash = ht_auditlog_node_hash(node);
	ret->first_tag = 0;
	return true;
}

static int
al_seen_cb(uint64_t seq, uint32_t flags, const char *data, size_t len, void *arg)
{
	static const char mark[] = "\"auditlog\"";
	struct auditlog *al = arg;
	struct json_tokener *tok;
	struct json_object *rec;
	struct al_key k;
	int v = HT_SCAN_NEXT;

	if (memmem(data, len, mark, sizeof(mark) - 1) == NULL)
		return HT_SCAN_NEXT;	/* another source's: not worth parsing */
	tok = json_tokener_new();
	if (tok == NULL)
		return -ENOMEM;
	rec = json_tokener_parse_ex(tok, data, (int)len);
	if (rec != NULL && record_key(rec, &k) && seen_add(&al->seen, &k) < 0) {
		log_warnx("auditlog %s: more than %d events in history beyond the checkpoint; "
		    "later ones may be delivered twice", al->path, AL_SEEN_MAX);
		v = HT_SCAN_STOP;
	}
	json_object_put(rec);
	json_tokener_free(tok);
	return v;
}

/* Before reading from cp again: remember the events history has beyond it. */
static void
al_seen_load(struct auditlog *al, const struct ht_auditlog_checkpoint *cp)
{
	struct ht_history_pos from = { cp->hist_day, cp->hist_off }, reached;
	struct ht_history_pos to = { UINT32_MAX, UINT64_MAX };
	int v;

	set_free(&al->seen);
	if (cp->hist_day == 0)
		return;
	v = ht_history_scan(al->hist_dir, &from, &to, al_seen_cb, al, &reached, NULL);
	if (v < 0)
		log_msg(HT_LOG_WARNING, -v, "auditlog %s: cannot read history beyond the "
		    "checkpoint; events after it may be delivered twice", al->path);
	else if (al->seen.n > 0)
		log_info("auditlog %s: history already has %zu events from beyond the checkpoint; "
		    "they are not delivered again", al->path, al->seen.n);
}

/* ---- checkpoints ---- */

/* The checkpoint for: everything before lo is in records submitted now,
 * nothing from hi on was read. */
static int
al_snapshot(struct auditlog *al, uint64_t lo, uint64_t hi, struct ht_auditlog_checkpoint *ret)
{
	struct ht_auditlog_checkpoint cp = { 0 };
	uint32_t g0 = al->files[0].gen, glo, ghi;

	if (al->open_lost)
		hi = lo;	/* replay everything from lo: twice rather than never */
	glo = TAG_GEN(lo);
	ghi = TAG_GEN(hi);
	if (glo < g0 || ghi >= g0 + al->n_files)
		return -EINVAL;	/* cannot happen: tags are of files in the chain */
	cp.n_files = ghi - glo + 1;
	cp.files = calloc(cp.n_files, sizeof(*cp.files));
	cp.open = calloc(al->open.n ? al->open.n : 1, sizeof(*cp.open));
	if (cp.files == NULL || cp.open == NULL) {
		ht_auditlog_checkpoint_clear(&cp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cp.n_files; i++) {
		file_refresh_head(&al->files[glo - g0 + i]);
		cp.files[i] = al->files[glo - g0 + i].id;
	}
	al_hist_pos(al, &cp.hist_day, &cp.hist_off);
	cp.low = (struct ht_auditlog_mark){ 0, TAG_OFF(lo) };
	cp.high = (struct ht_auditlog_mark){ ghi - glo, TAG_OFF(hi) };
	for (size_t i = 0; lo < hi && i < al->open.n; i++) {
		const struct al_key *k = &al->open.v[i];

		if (k->first_tag < lo || k->first_tag >= hi)
			continue;	/* cannot happen; never write an inconsistent file */
		cp.open[cp.n_open++] = (struct ht_auditlog_open){ k->time_ms, k->serial,
			k->node_hash, { TAG_GEN(k->first_tag) - glo, TAG_OFF(k->first_tag) } };
	}
	chain_prune(al, glo);
	*ret = cp;
	return 0;
}

static void
al_arm(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* cpfile's format: the durable checkpoint's text. */
static int
al_format(void *arg, char **ret_text, size_t *ret_len)
{
	struct auditlog *al = arg;

	if (!al->have_durable)
		return -EAGAIN;
	return ht_auditlog_checkpoint_format(&al->durable, al->path, ret_text, ret_len);
}

/* Write the durable checkpoint now, on the loop (start and stop only).
 * 0 or -EIO (logged). */
static int
al_save_sync(struct auditlog *al)
{
	return ht_cpfile_sync(al->cp);
}

/* cp (taken over) is durable now. */
static void
al_advance(struct auditlog *al, struct ht_auditlog_checkpoint *cp)
{
	ht_auditlog_checkpoint_clear(&al->durable);
	al->durable = *cp;
	memset(cp, 0, sizeof(*cp));
	al->have_durable = true;
	ht_cpfile_dirty(al->cp);
}

/* The position reading starts from is where a first run stands: durable
 * from the start, so a crash before the first batch does not skip ahead. */
static int
al_mark_start(struct auditlog *al)
{
	struct ht_auditlog_checkpoint cp;
	int v;

	if (al->n_files == 0)
		return 0;
	v = al_snapshot(al, al->next_tag, al->next_tag, &cp);
	if (v == 0)
		al_advance(al, &cp);
	return v;
}

/* ---- batches ---- */

static void al_stop_now(struct auditlog *al);

/* Pop the batches that are done, in order, advancing the checkpoint. */
static void
al_complete(struct auditlog *al)
{
	struct al_batch *b;

	while ((b = al->head) != NULL && b->done) {
		al->head = b->next;
		if (al->head == NULL)
			al->tail = NULL;
		if (b->err < 0) {
			if (!al->failed)
				log_msg(HT_LOG_ERR, -b->err, "auditlog %s: %zu events could not "
				    "be stored; reading the log again from the last durable "
				    "checkpoint (later events may be delivered twice)", al->path,
				    b->n);
			al->failed = true;
		} else {
			al->st.durable += b->n;
			if (!al->failed && b->has_cp)
				al_advance(al, &b->cp);
		}
		ht_auditlog_checkpoint_clear(&b->cp);
		free(b);
	}
	if (al->stopping) {
		if (al->inflight == 0)
			al_stop_now(al);
		return;
	}
	if (al->failed && al->inflight == 0 && !al->draining)
		al_arm(al->retry_ev, AL_RETRY_MS);
	else if (al->inflight == AL_INFLIGHT_MAX / 2)
		al_kick(al);
}

static void
al_durable_cb(int err, void *arg)
{
	struct al_batch *b = arg;

	b->done = true;
	b->err = err;
	b->al->inflight--;
	al_complete(b->al);
}

static void
recs_drop(struct auditlog *al)
{
	for (size_t i = 0; i < al->n_recs; i++)
		ht_record_free(al->recs[i]);
	al->n_recs = 0;
}

/* Submit the records of closed events with the checkpoint they complete.
 * Nothing while replaying: the checkpoint is the one read at start until
 * the replay is over. */
static void
al_submit(struct auditlog *al)
{
	uint64_t hi = al->next_tag, lo = ht_audit_asm_low_tag(al->assembler);
	struct al_batch *b;
	int v;

	if (al->failed) {
		recs_drop(al);	/* read again after the rewind */
		return;
	}
	if (al->replaying || al->n_files == 0)
		return;
	if (lo == UINT64_MAX) {
		al->open.n = 0;	/* nothing open: whatever the tracking thought */
		al->open_lost = false;
	}
	lo = lo < hi ? lo : hi;
	if (al->n_recs == 0 && lo == al->sub_lo && hi == al->sub_hi)
		return;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return;	/* the records wait for the next try */
	b->al = al;
	b->n = al->n_recs;
	b->has_cp = al_snapshot(al, lo, hi, &b->cp) == 0;
	al->sub_lo = lo;
	al->sub_hi = hi;
	if (al->tail)
		al->tail->next = b;
	else
		al->head = b;
	al->tail = b;
	al->inflight++;
	al->st.submitted += al->n_recs;
	v = ht_pipeline_submit(al->env->pipeline, al->recs, al->n_recs, al_durable_cb, b);
	recs_drop(al);
	if (v < 0) {
		b->done = true;
		b->err = v;
		al->inflight--;
		al_complete(al);
	}
}

/* ---- events ---- */

static void
al_event_cb(struct ht_audit_event *e, void *arg)
{
	struct auditlog *al = arg;
	struct al_key k = { e->time_ms, e->serial, ht_auditlog_node_hash(e->node), 0 };
	struct ht_audit_map_ctx ctx = { al->names, "auditlog", ht_mono_ms() };
	struct ht_record **slot;
	int v = -ENOMEM;

	/* a standalone record never joins an open event, even of its key */
	if (e->n_records != 1 || !ht_audit_type_standalone(e->records[0]->type))
		set_del(&al->open, &k);
	if (al->feeding != NULL && key_cmp(al->feeding, &k) == 0)
		al->feeding_closed = true;
	al->st.events++;
	if (!e->complete)
		al->st.incomplete++;
	if (seen_take(&al->seen, &k)) {
		al->st.skipped++;	/* delivered before a crash */
		ht_audit_event_free(e);
		return;
	}
	slot = grow((void **)&al->recs, &al->n_recs, &al->cap_recs, sizeof(*slot));
	if (slot != NULL) {
		v = ht_audit_map(e, &ctx, slot);
		if (v < 0)
			al->n_recs--;
	}
	if (v < 0) {
		al->st.lost++;
		if (rl_ok(al))
			log_warnx("auditlog %s: out of memory making the record of audit(%" PRId64
			    ".%03d:%" PRIu64 "); it is lost", al->path, e->time_ms / 1000,
			    (int)(e->time_ms % 1000), e->serial);
	} else {
		al->st.records++;
	}
	ht_audit_event_free(e);
}

/* Feed r (taken over) and track whether its event is open afterwards. */
static void
al_feed(struct auditlog *al, struct ht_audit_record *r, uint64_t tag)
{
	struct al_key k = { r->time_ms, r->serial, ht_auditlog_node_hash(r->node), tag };
	bool track = r->type != HT_AUDIT_EOE && !ht_audit_type_standalone(r->type);
	int v;

	r->tag = tag;
	al->feeding = track ? &k : NULL;
	al->feeding_closed = false;
	v = ht_audit_asm_feed(al->assembler, r, ht_mono_ms());
	al->feeding = NULL;
	if (v < 0) {
		al_bad_line(al, tag, v, NULL);
		return;
	}
	if (track && !al->feeding_closed && set_add(&al->open, &k) < 0)
		al->open_lost = true;
}

static void
al_line(struct auditlog *al, const char *line, size_t len, uint64_t tag)
{
	struct ht_audit_record *r;
	bool replay = in_replay(al, tag);
	char why[128];
	int v;

	al->st.lines++;
	if (len == 0 || (len == 1 && line[0] == '\r'))
		return;
	v = ht_audit_parse_line(line, len, &r, why, sizeof(why));
	if (v < 0) {
		if (!replay)	/* counted before the restart */
			al_bad_line(al, tag, v, why);
		return;
	}
	if (replay && !replay_wants(al, r, tag)) {
		ht_audit_record_free(r);
		return;
	}
	al_feed(al, r, tag);
}

/* Feed the complete lines in buf; keep a partial last one. */
static void
al_feed_lines(struct auditlog *al)
{
	/* no pointer into files[]: a submit may prune it */
	uint32_t gen = al->files[al->cur].gen;
	uint64_t off = al->files[al->cur].pos - al->have;
	char *p = al->buf, *end = al->buf + al->have, *nl;
	size_t rest;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (al->skipping)
			al->skipping = false;	/* the end of an over-long line */
		else
			al_line(al, p, (size_t)(nl - p), TAG(gen, off));
		off += (uint64_t)(nl - p) + 1;
		p = nl + 1;
		al->next_tag = TAG(gen, off);
		if (al->n_recs >= AL_BATCH_MAX)
			al_submit(al);
	}
	rest = (size_t)(end - p);
	if (rest > HT_AUDIT_LINE_MAX || (al->skipping && rest > 0)) {
		if (!al->skipping)
			al_bad_line(al, TAG(gen, off), -E2BIG, NULL);
		al->skipping = true;
		off += rest;
		rest = 0;
		al->next_tag = TAG(gen, off);
	}
	memmove(al->buf, p, rest);
	al->have = rest;
}

/* ---- reading ---- */

/* A rotated file is done: its last line, newline or not, then the next. */
static void
al_next_file(struct auditlog *al)
{
	struct al_file *f = &al->files[al->cur];

	if (al->have > 0 && !al->skipping)
		al_line(al, al->buf, al->have, al->next_tag);
	close(f->fd);
	f->fd = -1;
	al->cur++;
	al->have = 0;
	al->skipping = false;
	al->next_tag = TAG(al->files[al->cur].gen, al->files[al->cur].pos);
}

static void
al_truncated(struct auditlog *al, uint64_t size)
{
	struct al_file *f = &al->files[al->cur];

	log_warnx("auditlog %s: %s shrank to %" PRIu64 " bytes (we had read %" PRIu64 "); "
	    "reading it again from the start", al->path, f->name, size, f->pos);
	replay_end(al);
	ht_audit_asm_flush(al->assembler);	/* what is gone cannot complete them */
	f->pos = 0;
	f->id.head_len = 0;
	file_refresh_head(f);
	al->have = 0;
	al->skipping = false;
	al->next_tag = TAG(f->gen, 0);
	al_submit(al);
}

/* At the end of files[cur]: go on to the next file, or notice a rotation
 * of the live one. */
static enum al_pass
al_at_end(struct auditlog *al)
{
	struct al_file *f = &al->files[al->cur];
	size_t n = al->n_files;
	struct stat st;
	int v;

	if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < f->pos) {
		al_truncated(al, (uint64_t)st.st_size);
		return AL_MORE;
	}
	if (al->cur + 1 < al->n_files) {
		al_next_file(al);
		return AL_MORE;
	}
	if (al->replaying) {
		log_warnx("auditlog %s: the log ended before the checkpoint's position; "
		    "reading on", al->path);
		replay_end(al);
	}
	if (stat(al->path, &st) < 0 ||
	    ((uint64_t)st.st_ino == f->id.ino && (uint64_t)st.st_dev == f->id.dev))
		return AL_IDLE;
	v = chain_follow(al);
	if (v < 0 && rl_ok(al))
		log_msg(HT_LOG_WARNING, -v, "auditlog %s: cannot open the rotated files",
		    al->path);
	/* ours is read to its end once more before moving on */
	return al->n_files > n ? AL_MORE : AL_IDLE;
}

/* No file yet (auditd not started, or the directory is new). */
static enum al_pass
al_wait_file(struct auditlog *al)
{
	int v = chain_open(al, al->path, 0, 0);

	if (v < 0) {
		if (v != -ENOENT && rl_ok(al))
			log_msg(HT_LOG_WARNING, -v, "auditlog %s: cannot open it", al->path);
		return AL_IDLE;
	}
	log_info("auditlog %s: the log exists now; reading it from the start", al->path);
	al->cur = 0;
	al->next_tag = TAG(al->files[0].gen, 0);
	(void)al_mark_start(al);
	return AL_MORE;
}

/* Should reading wait (pipeline back-pressure, too much not yet durable)? */
static bool
al_held(struct auditlog *al)
{
	char why[256];

	if (al->inflight >= AL_INFLIGHT_MAX)
		return true;
	if (!ht_pipeline_blocked(al->env->pipeline, why, sizeof(why))) {
		if (al->blocked)
			log_info("auditlog %s: reading again", al->path);
		al->blocked = false;
		return false;
	}
	if (!al->blocked)
		log_warnx("auditlog %s: holding back: %s; the events wait in the log", al->path,
		    why);
	al->blocked = true;
	return true;
}

/* Read at most one chunk and feed it. */
static enum al_pass
al_pass(struct auditlog *al)
{
	struct al_file *f;
	size_t want = AL_CHUNK;
	ssize_t n;

	if (al->failed || al_held(al))
		return AL_HELD;
	if (al->cur >= al->n_files)
		return al_wait_file(al);
	if (al->draining)
		want = al->drain_left < want ? al->drain_left : want;
	if (want == 0)
		return AL_HELD;
	f = &al->files[al->cur];
	n = pread(f->fd, al->buf + al->have, want, (off_t)f->pos);
	if (n < 0) {
		if (errno == EINTR)
			return AL_MORE;
		if (rl_ok(al))
			log_warn("auditlog %s: cannot read %s", al->path, f->name);
		return AL_HELD;
	}
	if (n == 0)
		return al_at_end(al);
	f->pos += (uint64_t)n;
	al->have += (size_t)n;
	if (al->draining)
		al->drain_left -= (uint64_t)n;
	al_feed_lines(al);
	al_submit(al);
	return AL_MORE;
}

/* Shutdown: the log was read as far as it goes.  Open events are closed
 * only when the log ended on a complete line; otherwise auditd is still
 * writing them, and the checkpoint has them read again after the restart
 * rather than delivered in two parts. */
static void
al_drain_finish(struct auditlog *al, enum al_pass last)
{
	struct ht_audit_asm_stats s;

	ht_audit_asm_stats(al->assembler, &s);
	if (last == AL_IDLE && al->have == 0 && !al->replaying && !al->failed) {
		ht_audit_asm_flush(al->assembler);
		al_submit(al);
	} else if (s.open > 0) {
		log_info("auditlog %s: %u events still being written are read again after the "
		    "restart", al->path, s.open);
	}
	al->drained = true;
}

static void
al_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auditlog *al = arg;
	enum al_pass v;

	if (al->drained)
		return;
	v = al_pass(al);
	if (v == AL_MORE && !(al->draining && al->drain_left == 0))
		al_kick(al);
	else if (al->draining)
		al_drain_finish(al, v);
}

static void
al_kick(struct auditlog *al)
{
	if (!al->drained && !al->stopping)
		event_active(al->read_ev, EV_TIMEOUT, 0);
}

static void
al_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	al_kick(arg);
}

/* A reload's new eoe_timeout or max_event_records: a new assembler, once
 * the old one holds no event. */
static void
al_conf_swap(struct auditlog *al)
{
	struct ht_audit_asm_stats s;
	struct ht_audit_asm *a;

	if (!al->conf_pending)
		return;
	ht_audit_asm_stats(al->assembler, &s);
	if (s.open > 0 || ht_audit_asm_new(&al->pending_conf, al_event_cb, al, &a) < 0)
		return;
	al->orphans_base += s.orphans;
	ht_audit_asm_free(al->assembler);
	al->assembler = a;
	al->asm_conf = al->pending_conf;
	al->conf_pending = false;
	log_info("auditlog %s: eoe_timeout %" PRIu64 "ms, max_event_records %zu", al->path,
	    al->asm_conf.timeout_ms, al->asm_conf.max_records);
}

static void
al_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auditlog *al = arg;
	struct ht_audit_asm_stats s;

	if (al->drained)
		return;
	if (!al->replaying) {
		ht_audit_asm_tick(al->assembler, ht_mono_ms());
		al_conf_swap(al);
		al_submit(al);
	}
	al_kick(al);	/* also the poll when inotify is missing or missed something */
	ht_audit_asm_stats(al->assembler, &s);
	al_arm(al->tick_ev, al->inotify_fd >= 0 && s.open == 0 && !al->blocked &&
	    al->cur < al->n_files ? AL_IDLE_MS : AL_POLL_MS);
}

/* ---- start, rewind, stop ---- */

/* Drop everything read and not durable; the chain is rebuilt from the
 * durable checkpoint. */
static int
al_reset(struct auditlog *al)
{
	struct ht_audit_asm *a;
	struct ht_audit_asm_stats s;

	if (ht_audit_asm_new(&al->asm_conf, al_event_cb, al, &a) < 0)
		return -ENOMEM;
	ht_audit_asm_stats(al->assembler, &s);
	al->orphans_base += s.orphans;
	ht_audit_asm_free(al->assembler);
	al->assembler = a;
	set_free(&al->open);
	set_free(&al->seen);
	al->open_lost = false;
	replay_end(al);
	recs_drop(al);
	chain_free(al);
	al->sub_lo = al->sub_hi = UINT64_MAX;
	return 0;
}

static void
al_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auditlog *al = arg;
	int v;

	if (al->draining || al->inflight > 0)
		return;
	v = al_reset(al);
	if (v == 0)
		v = al_begin(al, al->have_durable ? &al->durable : NULL, HT_SOURCE_START_END);
	if (v >= 0 && al->have_durable)
		al_seen_load(al, &al->durable);	/* later batches that did make it */
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "auditlog %s: cannot reopen the log; retrying", al->path);
		al_arm(al->retry_ev, AL_RETRY_MS);
		return;
	}
	log_info("auditlog %s: reading again from %s offset %" PRIu64, al->path, cur_name(al),
	    al->n_files > 0 ? al->files[0].pos : 0);
	al->failed = false;
	al_kick(al);
}

static int
al_watch(struct auditlog *al)
{
	al->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (al->inotify_fd < 0 || inotify_add_watch(al->inotify_fd, al->dir, IN_MODIFY |
	    IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE) < 0) {
		log_debug("auditlog %s: no inotify on %s (%s); polling every %d ms", al->path,
		    al->dir, strerror(errno), AL_POLL_MS);
		if (al->inotify_fd >= 0)
			close(al->inotify_fd);
		al->inotify_fd = -1;
		return 0;
	}
	al->inotify_ev = event_new(al->env->base, al->inotify_fd, EV_READ | EV_PERSIST,
	    al_inotify_cb, al);
	if (al->inotify_ev == NULL || event_add(al->inotify_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static void
al_free(struct auditlog *al)
{
	struct al_batch *b;

	if (al->inotify_ev)
		event_free(al->inotify_ev);
	if (al->inotify_fd >= 0)
		close(al->inotify_fd);
	if (al->read_ev)
		event_free(al->read_ev);
	if (al->tick_ev)
		event_free(al->tick_ev);
	if (al->retry_ev)
		event_free(al->retry_ev);
	ht_cpfile_free(al->cp);
	while ((b = al->head) != NULL) {
		al->head = b->next;
		ht_auditlog_checkpoint_clear(&b->cp);
		free(b);
	}
	ht_audit_asm_free(al->assembler);
	ht_audit_names_free(al->names);
	recs_drop(al);
	free(al->recs);
	chain_free(al);
	set_free(&al->open);
	set_free(&al->replay);
	set_free(&al->seen);
	ht_auditlog_checkpoint_clear(&al->durable);
	free(al->buf);
	free(al->path);
	free(al->dir);
	free(al->checkpoint);
	free(al->hist_dir);
	free(al);
}

/* Copy what the source keeps of sc. */
static int
al_setup(struct auditlog *al, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	char *slash, what[PATH_MAX + 16];
	int v;

	al->env = env;
	al->inotify_fd = -1;
	al->next_gen = 1;
	al->sub_lo = al->sub_hi = UINT64_MAX;
	al->path = strdup(sc->path);
	al->dir = strdup(sc->path);
	al->checkpoint = ht_conf_path(env->conf, sc->checkpoint);
	if (asprintf(&al->hist_dir, "%s/history", env->conf->state_dir) < 0)
		al->hist_dir = NULL;
	al->buf = malloc(AL_CHUNK + HT_AUDIT_LINE_MAX + 1);
	al->asm_conf = (struct ht_audit_asm_conf){ .timeout_ms = sc->eoe_timeout_ms,
		.max_records = sc->max_event_records };
	if (al->path == NULL || al->dir == NULL || al->checkpoint == NULL || al->buf == NULL ||
	    al->hist_dir == NULL)
		return -ENOMEM;
	slash = strrchr(al->dir, '/');
	slash[slash == al->dir ? 1 : 0] = '\0';	/* conf.c: path is absolute */
	if ((v = ht_audit_asm_new(&al->asm_conf, al_event_cb, al, &al->assembler)) < 0 ||
	    (v = ht_audit_names_new(0, 0, &al->names)) < 0)
		return v;
	snprintf(what, sizeof(what), "auditlog %s", al->path);
	if ((v = ht_cpfile_new(env->base, al->checkpoint, what, al_format, al, &al->cp)) < 0)
		return v;
	al->read_ev = event_new(env->base, -1, 0, al_read_cb, al);
	al->tick_ev = evtimer_new(env->base, al_tick_cb, al);
	al->retry_ev = evtimer_new(env->base, al_retry_cb, al);
	if (al->read_ev == NULL || al->tick_ev == NULL || al->retry_ev == NULL)
		return -ENOMEM;
	return al_watch(al);
}

/* The checkpoint file: 1 with *cp, 0 when there is none (or it is
 * unusable: logged), -errno. */
static int
al_load(struct auditlog *al, struct ht_auditlog_checkpoint *cp)
{
	char *text;
	size_t len;
	int v;

	v = ht_read_file(al->checkpoint, AL_CP_MAX, &text, &len);
	if (v == -ENOENT)
		return 0;
	if (v == 0) {
		v = ht_auditlog_checkpoint_parse(text, len, cp);
		free(text);
	}
	if (v == -ENOMEM)
		return v;
	if (v < 0) {
		log_msg(HT_LOG_WARNING, v == -EINVAL ? 0 : -v, "auditlog %s: checkpoint %s is %s; "
		    "starting as on a first run", al->path, al->checkpoint,
		    v == -EINVAL ? "damaged" : "unreadable");
		return 0;
	}
	return 1;
}

/* Say where reading starts, once: people look for this after a restart. */
static void
al_log_start(const struct auditlog *al, int found, enum ht_source_start start)
{
	if (al->n_files == 0) {
		log_info("auditlog %s: does not exist yet; waiting for auditd to create it",
		    al->path);
		return;
	}
	log_info("auditlog %s: reading from %s offset %" PRIu64 " (%s%s), checkpoint %s",
	    al->path, al->files[0].name, al->files[0].pos,
	    found ? "the checkpoint" : start == HT_SOURCE_START_END ? "its end: first run, "
	    "earlier events are not replayed" : "the oldest rotated file: first run",
	    al->replaying ? ", re-reading the events open at it" : "", al->checkpoint);
}

static int
al_start(const struct ht_source_env *env, const struct ht_conf_source *sc, void **ret)
{
	struct ht_auditlog_checkpoint cp = { 0 };
	struct auditlog *al = calloc(1, sizeof(*al));
	int v, loaded = 0, found = 0;

	if (al == NULL)
		return -ENOMEM;
	v = al_setup(al, env, sc);
	if (v == 0)
		v = loaded = al_load(al, &cp);
	if (v >= 0)
		v = found = al_begin(al, loaded ? &cp : NULL, sc->start);
	if (v >= 0 && loaded)
		al_seen_load(al, &cp);	/* found or not: history knows what it has */
	if (v == 1)
		al_advance(al, &cp);	/* as on disk: no need to write it again */
	else if (v == 0 && (v = al_mark_start(al)) == 0 && al->have_durable)
		v = al_save_sync(al);
	ht_auditlog_checkpoint_clear(&cp);
	if (v < 0) {
		if (v != -EIO)	/* al_save_sync logged it */
			log_msg(HT_LOG_ERR, -v, "auditlog %s: cannot start", sc->path);
		al_free(al);
		return v;
	}
	al_log_start(al, found, sc->start);
	al_kick(al);
	al_arm(al->tick_ev, AL_POLL_MS);
	*ret = al;
	return 0;
}

static int
al_reconfigure(void *state, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct auditlog *al = state;
	char *cp = ht_conf_path(env->conf, sc->checkpoint);
	int v = 0;

	if (cp == NULL)
		return -ENOMEM;
	if (strcmp(sc->path, al->path) != 0 || strcmp(cp, al->checkpoint) != 0) {
		log_warnx("auditlog %s: a new path or checkpoint takes effect at the next start; "
		    "reading on as before", al->path);
		v = -EINVAL;
	} else if (sc->eoe_timeout_ms != al->asm_conf.timeout_ms ||
	    sc->max_event_records != al->asm_conf.max_records) {
		al->pending_conf = al->asm_conf;
		al->pending_conf.timeout_ms = sc->eoe_timeout_ms;
		al->pending_conf.max_records = sc->max_event_records;
		al->conf_pending = true;
		al_conf_swap(al);
	}
	free(cp);
	return v;
}

static void
al_drain(void *state)
{
	struct auditlog *al = state;

	al->draining = true;
	al->drain_left = AL_DRAIN_BUDGET;
	evtimer_del(al->retry_ev);
	if (al->failed || al->drained)
		al->drained = true;
	else
		al_kick(al);
}

static unsigned
al_inflight(void *state)
{
	struct auditlog *al = state;

	return al->inflight + (al->draining && !al->drained ? 1 : 0);
}

static void
al_status(void *state, char *buf, size_t len)
{
	struct auditlog *al = state;
	struct ht_audit_asm_stats s;
	const struct al_file *f = al->cur < al->n_files ? &al->files[al->cur] : NULL;

	ht_audit_asm_stats(al->assembler, &s);
	snprintf(buf, len, "auditlog %s: %" PRIu64 " lines (%" PRIu64 " bad), %" PRIu64
	    " events (%" PRIu64 " incomplete, %u open, %" PRIu64 " orphan EOE), %" PRIu64
	    " records submitted, %" PRIu64 " durable, %" PRIu64 " already in history, %" PRIu64
	    " lost; at %s offset %" PRIu64 "%s",
	    al->path, al->st.lines, al->st.bad, al->st.events, al->st.incomplete, s.open,
	    al->orphans_base + s.orphans, al->st.submitted, al->st.durable, al->st.skipped,
	    al->st.lost,
	    f ? f->name : "(waiting for the file)", f ? TAG_OFF(al->next_tag) : 0,
	    al->blocked ? ", holding back" : "");
}

/* Write the last checkpoint and free (no batch in flight). */
static void
al_stop_now(struct auditlog *al)
{
	if (ht_cpfile_pending(al->cp) && al->have_durable)
		(void)al_save_sync(al);
	al_free(al);
}

static void
al_stop(void *state)
{
	struct auditlog *al = state;

	al->stopping = true;
	/* no more loop callbacks, except the durable ones of batches in flight */
	event_free(al->read_ev);
	event_free(al->tick_ev);
	event_free(al->retry_ev);
	al->read_ev = al->tick_ev = al->retry_ev = NULL;
	if (al->inflight > 0) {
		log_warnx("auditlog %s: stopping with %u batches not yet durable; the checkpoint "
		    "stays where they began", al->path, al->inflight);
		return;	/* the last durable callback frees */
	}
	al_stop_now(al);
}

static bool
al_same(void *state, const struct ht_conf_source *sc)
{
	return strcmp(((struct auditlog *)state)->path, sc->path) == 0;
}

const struct ht_source_ops ht_src_auditlog_ops = {
	.type = "auditlog",
	.start = al_start,
	.reconfigure = al_reconfigure,
	.drain = al_drain,
	.inflight = al_inflight,
	.status = al_status,
	.stop = al_stop,
	.same = al_same,
};
