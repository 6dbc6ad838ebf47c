/*
 * tail.c - see tail.h.
 *
 * The chain.  files[] holds what is still to be read, oldest first:
 * files[0] is being read, later entries are files that replaced it at the
 * path (the last one is normally the live file).  Every entry keeps its
 * descriptor open, so a file renamed away, or deleted, stays readable to
 * its end.  The chain grows when the path names another inode at the end
 * of the last file, and shrinks when files[0] is finished.
 *
 * When a renamed file is finished.  After logrotate renames the log, the
 * writer (rsyslog) keeps appending to the old inode until it is told to
 * reopen; only then does the new file get data.  So files[0] is finished
 * at its end once its successor has data (checked before the last read of
 * files[0], so nothing written before the switch is missed), or once it
 * has given nothing for rotate_grace_ms (a writer that will never reopen,
 * or an idle log).  A copytruncate copy is finished at its end at once.
 * Finishing passes a last line without its newline as a line.
 *
 * The buffer.  buf[start, have) holds bytes of files[0] not yet passed,
 * beginning at file offset line_off, which is always a line start and is
 * what ht_tail_tell reports; files[0].pos is the next byte to read.  A
 * line longer than max_line is cut: its first max_line bytes stay at
 * buf[0, max_line) (cutting) while the rest is read and dropped up to its
 * newline, so the line's position stays its start and a restart in the
 * middle of it reads it again whole.
 *
 * Truncation.  Before bytes read from files[0] are used, its head is read
 * again: a different head (or a size below what we read) means the file
 * was truncated, possibly written again since, and those bytes may be new
 * ones at an old offset: they are dropped.  The copy logrotate made is
 * the file in the directory, under another inode, whose head is the one
 * we knew and that is long enough; it is read from line_off on, standing
 * for the old file (its alias), then the truncated file from its start.
 * A file whose first line is not complete yet has no head (head_len 0):
 * only its size tells a truncation.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "sources/tail.h"
#include "util.h"

#define TL_CHUNK (1024 * 1024)
#define TL_MAX_LINE (64 * 1024)
#define TL_GRACE_MS 2000
#define TL_MAX_CANDS 256		/* files beside the log considered */
#define TL_MAX_CHAIN (TL_MAX_CANDS + 2)	/* every candidate, and a copy */
#define TL_SKIP_MAX (64ULL * 1024 * 1024)	/* how far skip_past looks for a newline */

/* One file of the chain. */
struct tfile {
	int fd;
	int wd;				/* inotify watch on it, -1 */
	char *name;			/* as opened, for messages */
	struct ht_tail_id id;
	struct ht_tail_id alias;	/* a copy: the file it was copied from (ino 0: none) */
	uint64_t pos;			/* next byte to read */
	bool copy;			/* made by copytruncate: nobody writes it */
};

/* A file beside the log: the path itself or one rotated from it. */
struct cand {
	char *name;
	uint64_t ino, size;
	int64_t mtime_ns;
	bool live;			/* the path itself */
};

struct ht_tail {
	char *path, *dir, *base;
	size_t chunk, max_line;
	unsigned grace_ms;
	struct tfile *files;
	size_t n_files;
	char *buf;
	size_t start, have;
	uint64_t line_off;
	bool cutting;
	uint64_t cut_len;		/* length of the line being cut, so far */
	int64_t idle_since;		/* files[0] (with a successor) last gave data */
	int ino_fd, dir_wd;
	struct ht_tail_stats st;
};

/* ---- identities and positions ---- */

uint64_t
ht_tail_head_hash(const void *data, size_t len)
{
	return ht_fnv1a64(data, len);
}

bool
ht_tail_id_eq(const struct ht_tail_id *a, const struct ht_tail_id *b)
{
	return a->ino == b->ino && a->head_len == b->head_len && a->head_hash == b->head_hash;
}

void
ht_tail_pos_format(const struct ht_tail_pos *pos, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64 " %" PRIu32 " %016" PRIx64 " %" PRIu64, pos->id.ino,
	    pos->id.head_len, pos->id.head_hash, pos->off);
}

/* One number of base (10 or 16) at *s, then a space or the end. */
static int
parse_num(const char **s, unsigned base, unsigned max_digits, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;
	unsigned n = 0;

	for (;; p++, n++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	if (n == 0 || n > max_digits || (*p != ' ' && *p != '\0'))
		return -EINVAL;
	*s = *p == ' ' ? p + 1 : p;
	*ret = v;
	return 0;
}

int
ht_tail_pos_parse(const char *text, struct ht_tail_pos *ret)
{
	const char *p = text;
	uint64_t ino, hlen, hash, off;

	if (parse_num(&p, 10, 20, &ino) < 0 || parse_num(&p, 10, 10, &hlen) < 0 ||
	    parse_num(&p, 16, 16, &hash) < 0 || parse_num(&p, 10, 20, &off) < 0 || *p != '\0' ||
	    p[-1] == ' ' || hlen > HT_TAIL_HEAD)
		return -EINVAL;
	*ret = (struct ht_tail_pos){ { ino, (uint32_t)hlen, hash }, off };
	return 0;
}

/* The identity of the file open on fd: its inode and first line (at most
 * HT_TAIL_HEAD bytes; none yet without a newline in fewer bytes). */
static int
id_of(int fd, struct ht_tail_id *ret)
{
	char head[HT_TAIL_HEAD];
	struct stat st;
	const char *nl;
	size_t got, n = 0;
	int v;

	if (fstat(fd, &st) < 0)
		return -errno;
	v = ht_pread_all(fd, head, sizeof(head), 0, &got);
	if (v < 0)
		return v;
	if ((nl = memchr(head, '\n', got)) != NULL)
		n = (size_t)(nl - head) + 1;
	else if (got == sizeof(head))
		n = got;
	*ret = (struct ht_tail_id){ (uint64_t)st.st_ino, (uint32_t)n, ht_tail_head_hash(head, n) };
	return 0;
}

/* Does the file on fd still begin as id says?  A file with no head yet
 * begins as anything. */
static bool
head_matches(int fd, const struct ht_tail_id *id)
{
	char head[HT_TAIL_HEAD];
	size_t got;

	if (id->head_len == 0)
		return true;
	if (ht_pread_all(fd, head, id->head_len, 0, &got) < 0 || got != id->head_len)
		return false;
	return ht_tail_head_hash(head, got) == id->head_hash;
}

/* ---- the chain ---- */

static void
tfile_close(struct ht_tail *t, struct tfile *f)
{
	if (f->wd >= 0 && t->ino_fd >= 0)
		(void)inotify_rm_watch(t->ino_fd, f->wd);
	if (f->fd >= 0)
		close(f->fd);
	free(f->name);
	f->fd = f->wd = -1;
	f->name = NULL;
}

/* Open name (still inode ino, unless 0) as *ret, to be read from 0.
 * -ESTALE when name is another file by now, -EINVAL when not a regular
 * file, -errno. */
static int
tfile_open(struct ht_tail *t, const char *name, uint64_t ino, struct tfile *ret)
{
	struct tfile f = { .fd = -1, .wd = -1 };
	struct stat st;
	char proc[64];
	int v;

	f.fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f.fd < 0)
		return -errno;
	if (fstat(f.fd, &st) < 0)
		v = -errno;
	else if (!S_ISREG(st.st_mode))
		v = -EINVAL;
	else if (ino != 0 && (uint64_t)st.st_ino != ino)
		v = -ESTALE;
	else if ((v = id_of(f.fd, &f.id)) == 0 && (f.name = strdup(name)) == NULL)
		v = -ENOMEM;
	if (v < 0) {
		close(f.fd);
		return v;
	}
	if (t->ino_fd >= 0) {
		/* through the descriptor: the inode we hold, whatever the name is now */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f.fd);
		f.wd = inotify_add_watch(t->ino_fd, proc, IN_MODIFY);
	}
	*ret = f;
	return 0;
}

static bool
chain_has(const struct ht_tail *t, uint64_t ino)
{
	for (size_t i = 0; i < t->n_files; i++)
		if (t->files[i].id.ino == ino)
			return true;
	return false;
}

/* Put f (taken over) at index at.  0 or -ENOMEM (f closed). */
static int
chain_insert(struct ht_tail *t, size_t at, struct tfile *f)
{
	struct tfile *files;

	if (t->n_files >= TL_MAX_CHAIN ||
	    (files = realloc(t->files, (t->n_files + 1) * sizeof(*files))) == NULL) {
		tfile_close(t, f);
		return t->n_files >= TL_MAX_CHAIN ? -E2BIG : -ENOMEM;
	}
	t->files = files;
	memmove(&files[at + 1], &files[at], (t->n_files - at) * sizeof(*files));
	files[at] = *f;
	t->n_files++;
	return 0;
}

/* Open name and append it.  0, or -errno as tfile_open (nothing added). */
static int
chain_append(struct ht_tail *t, const char *name, uint64_t ino, uint64_t pos)
{
	struct tfile f;
	int v;

	v = tfile_open(t, name, ino, &f);
	if (v < 0)
		return v;
	f.pos = pos;
	return chain_insert(t, t->n_files, &f);
}

/* Close and forget files[0, n). */
static void
chain_drop(struct ht_tail *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tfile_close(t, &t->files[i]);
	memmove(t->files, t->files + n, (t->n_files - n) * sizeof(*t->files));
	t->n_files -= n;
}

static void
buf_reset(struct ht_tail *t)
{
	t->start = t->have = 0;
	t->cutting = false;
	t->cut_len = 0;
	t->line_off = t->n_files > 0 ? t->files[0].pos : 0;
}

/* ---- files beside the log ---- */

static bool
compressed(const char *name)
{
	static const char *const sfx[] = { ".gz", ".xz", ".bz2", ".zst", ".lz4", ".lzma", ".Z",
		".zip", NULL };
	size_t n = strlen(name);

	for (size_t i = 0; sfx[i] != NULL; i++) {
		size_t k = strlen(sfx[i]);

		if (n > k && strcmp(name + n - k, sfx[i]) == 0)
			return true;
	}
	return false;
}

/* Is name (in dir) the log or a file rotated from it, as logrotate names
 * them: BASE, BASE.1, BASE-20261124 (a number after the separator, so an
 * editor's BASE.swp is not taken for one), not compressed? */
static bool
rotated_name(const struct ht_tail *t, const char *name, bool *ret_live)
{
	size_t n = strlen(t->base);

	*ret_live = strcmp(name, t->base) == 0;
	if (*ret_live)
		return true;
	return strncmp(name, t->base, n) == 0 && (name[n] == '.' || name[n] == '-' ||
	    name[n] == '_') && name[n + 1] >= '0' && name[n + 1] <= '9' && !compressed(name);
}

static void
cands_free(struct cand *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

/* The regular files that are the log or rotated from it. */
static int
cands_list(const struct ht_tail *t, struct cand **ret, size_t *ret_n)
{
	struct cand *c = calloc(TL_MAX_CANDS, sizeof(*c));
	DIR *d = opendir(t->dir);
	struct dirent *e;
	struct stat st;
	size_t n = 0;
	bool live;
	int v = 0;

	if (c == NULL || d == NULL) {
		v = c == NULL ? -ENOMEM : -errno;
		goto out;
	}
	while (n < TL_MAX_CANDS && (e = readdir(d)) != NULL) {
		char *name;

		if (!rotated_name(t, e->d_name, &live))
			continue;
		if (asprintf(&name, "%s/%s", t->dir, e->d_name) < 0) {
			v = -ENOMEM;
			goto out;
		}
		if (stat(name, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(name);
			continue;
		}
		c[n++] = (struct cand){ name, (uint64_t)st.st_ino, (uint64_t)st.st_size,
			(int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec, live };
	}
out:
	if (d != NULL)
		closedir(d);
	if (v < 0) {
		cands_free(c, n);
		return v;
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

static int
cand_mtime_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

/* Append what was rotated in after c (newer by mtime, oldest first), then
 * the live file.  Files that vanish meanwhile are skipped. */
static int
chain_successors(struct ht_tail *t, struct cand *c, size_t n, const struct cand *of)
{
	int64_t after = of->mtime_ns;
	bool of_live = of->live;
	int v;

	if (n > 1)	/* of points into c: copied above */
		qsort(c, n, sizeof(*c), cand_mtime_cmp);
	for (size_t i = 0; i < n && !of_live; i++) {
		if (c[i].live || c[i].mtime_ns <= after || chain_has(t, c[i].ino))
			continue;
		v = chain_append(t, c[i].name, c[i].ino, 0);
		if (v < 0 && v != -ENOENT && v != -ESTALE)
			return v;
	}
	for (size_t i = 0; i < n; i++) {
		if (!c[i].live || chain_has(t, c[i].ino))
			continue;
		v = chain_append(t, c[i].name, c[i].ino, 0);
		if (v < 0 && v != -ENOENT && v != -ESTALE)
			return v;
	}
	return 0;
}

/* A copy of the file id, at least min_size long, not in the chain: logrotate's
 * copytruncate copy.  1 with *ret (opened), 0 when there is none. */
static int
find_copy(struct ht_tail *t, const struct ht_tail_id *id, uint64_t min_size,
    struct cand *c, size_t n, struct tfile *ret, size_t *ret_idx)
{
	struct tfile f;
	int v;

	if (id->head_len == 0)
		return 0;	/* nothing to know it by */
	for (size_t i = 0; i < n; i++) {
		if (c[i].ino == id->ino || c[i].size < min_size || c[i].size < id->head_len ||
		    chain_has(t, c[i].ino))
			continue;
		v = tfile_open(t, c[i].name, c[i].ino, &f);
		if (v == -ENOMEM)
			return v;
		if (v < 0)
			continue;
		if (head_matches(f.fd, id)) {
			f.copy = true;
			f.alias = *id;
			*ret = f;
			*ret_idx = i;
			return 1;
		}
		tfile_close(t, &f);
	}
	return 0;
}

/* ---- where to start ---- */

/* The offset after the last complete line of the file on fd (a line being
 * written when we start is then read whole). */
static uint64_t
start_at_end(struct ht_tail *t, int fd)
{
	struct stat st;
	uint64_t size, from;
	size_t got;

	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return 0;
	size = (uint64_t)st.st_size;
	from = size > t->max_line ? size - t->max_line : 0;
	if (ht_pread_all(fd, t->buf, (size_t)(size - from), from, &got) < 0)
		return size;
	for (size_t i = got; i-- > 0;)
		if (t->buf[i] == '\n')
			return from + i + 1;
	return from == 0 ? 0 : size;
}

/* How a start without a usable position reads. */
enum fresh {
	FRESH_END,		/* the live file from its end */
	FRESH_BEGINNING,	/* the newest rotated file, then the live one, from their start */
	FRESH_ALL,		/* every rotated file, oldest first, then the live one */
};

/* Put the copy f (of from's file, opened by find_copy from c[idx]) first,
 * to be read from from->off, then what came after it.  1 or -errno. */
static int
begin_copy(struct ht_tail *t, const struct ht_tail_pos *from, struct tfile *f, struct cand *c,
    size_t n, size_t idx)
{
	struct cand of = c[idx];
	int v;

	f->pos = from->off;
	if ((v = chain_insert(t, 0, f)) < 0)
		return v;
	t->st.copies++;
	log_info("file %s: %s was truncated since the last run; reading the rest from its copy "
	    "%s at offset %" PRIu64, t->path, t->path, t->files[0].name, from->off);
	v = chain_successors(t, c, n, &of);
	return v < 0 ? v : 1;
}

/* from's file is still here (c[i]) but shorter or another text: the rest
 * from a copy if there is one, else the file again from its start. */
static int
begin_rewritten(struct ht_tail *t, const struct ht_tail_pos *from, struct cand *c, size_t n,
    size_t i)
{
	struct tfile f;
	struct cand of = c[i];
	size_t idx;
	int v;

	v = find_copy(t, &from->id, from->off, c, n, &f, &idx);
	if (v != 0)
		return v < 0 ? v : begin_copy(t, from, &f, c, n, idx);
	log_warnx("file %s: %s shrank or was rewritten since the last run, and no copy of it is "
	    "here; reading it from its start (lines after offset %" PRIu64 " written before the "
	    "truncation are lost)", t->path, c[i].name, from->off);
	v = chain_append(t, c[i].name, c[i].ino, 0);
	if (v < 0)
		return v == -ENOENT || v == -ESTALE ? 0 : v;
	v = chain_successors(t, c, n, &of);
	return v < 0 ? v : 0;
}

/* Resume at from: its file by inode (and head), else a copy of it.  1 when
 * found; 0 when not (the chain is left empty when from's file is gone,
 * else it starts at that file's beginning); -errno. */
static int
begin_from(struct ht_tail *t, const struct ht_tail_pos *from, struct cand *c, size_t n)
{
	struct tfile f;
	struct cand of;
	size_t idx;
	int v;

	for (size_t i = 0; i < n; i++) {
		if (c[i].ino != from->id.ino)
			continue;
		v = tfile_open(t, c[i].name, c[i].ino, &f);
		if (v == -ENOMEM)
			return v;
		if (v < 0)
			break;	/* renamed meanwhile: as if gone */
		if (!head_matches(f.fd, &from->id) || c[i].size < from->off) {
			tfile_close(t, &f);
			return begin_rewritten(t, from, c, n, i);
		}
		f.pos = from->off;
		of = c[i];
		if ((v = chain_insert(t, 0, &f)) < 0)
			return v;
		v = chain_successors(t, c, n, &of);
		return v < 0 ? v : 1;
	}
	v = find_copy(t, &from->id, from->off, c, n, &f, &idx);
	if (v != 0)
		return v < 0 ? v : begin_copy(t, from, &f, c, n, idx);
	log_warnx("file %s: the file of the last position (inode %" PRIu64 ") is gone; reading "
	    "every uncompressed rotated file and the log from their start", t->path,
	    from->id.ino);
	return 0;
}

/* No position, or its file is gone. */
static int
begin_fresh(struct ht_tail *t, enum fresh how, struct cand *c, size_t n)
{
	const struct cand *newest = NULL, *live = NULL;
	int v;

	if (n > 1)	/* c may be NULL when there is nothing */
		qsort(c, n, sizeof(*c), cand_mtime_cmp);
	for (size_t i = 0; i < n; i++) {
		if (c[i].live)
			live = &c[i];
		else
			newest = &c[i];
	}
	for (size_t i = 0; i < n && how != FRESH_END; i++) {
		if (c[i].live || (how == FRESH_BEGINNING && &c[i] != newest) ||
		    chain_has(t, c[i].ino) || (live != NULL && c[i].ino == live->ino))
			continue;
		v = chain_append(t, c[i].name, c[i].ino, 0);
		if (v < 0 && v != -ENOENT && v != -ESTALE)
			return v;
	}
	if (live == NULL || chain_has(t, live->ino))
		return 0;
	v = chain_append(t, live->name, live->ino, 0);
	if (v < 0)
		return v == -ENOENT || v == -ESTALE ? 0 : v;
	if (how == FRESH_END)
		t->files[t->n_files - 1].pos = start_at_end(t, t->files[t->n_files - 1].fd);
	return 0;
}

static int
tail_watch(struct ht_tail *t)
{
	t->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (t->ino_fd < 0)
		return 0;	/* the caller polls */
	/* names only: writes are watched on the files themselves */
	t->dir_wd = inotify_add_watch(t->ino_fd, t->dir, IN_CREATE | IN_MOVED_TO |
	    IN_MOVED_FROM | IN_DELETE);
	if (t->dir_wd < 0) {
		close(t->ino_fd);
		t->ino_fd = -1;
	}
	return 0;
}

static int
tail_setup(struct ht_tail *t, const struct ht_tail_conf *conf)
{
	char *slash;

	t->ino_fd = t->dir_wd = -1;
	t->chunk = conf->chunk ? conf->chunk : TL_CHUNK;
	t->max_line = conf->max_line ? conf->max_line : TL_MAX_LINE;
	t->grace_ms = conf->rotate_grace_ms ? conf->rotate_grace_ms : TL_GRACE_MS;
	if (conf->path == NULL || conf->path[0] != '/' || conf->path[1] == '\0')
		return -EINVAL;
	t->path = strdup(conf->path);
	t->dir = strdup(conf->path);
	t->buf = malloc(t->chunk + t->max_line + 1);
	if (t->path == NULL || t->dir == NULL || t->buf == NULL)
		return -ENOMEM;
	slash = strrchr(t->dir, '/');
	t->base = strdup(slash + 1);
	if (t->base == NULL)
		return -ENOMEM;
	if (t->base[0] == '\0')
		return -EINVAL;
	slash[slash == t->dir ? 1 : 0] = '\0';
	return conf->watch ? tail_watch(t) : 0;
}

int
ht_tail_open(const struct ht_tail_conf *conf, const struct ht_tail_pos *from,
    enum ht_tail_start start, struct ht_tail **ret)
{
	struct ht_tail *t = calloc(1, sizeof(*t));
	struct cand *c = NULL;
	size_t n = 0;
	int v, found = 0;

	if (t == NULL)
		return -ENOMEM;
	v = tail_setup(t, conf);
	if (v == 0)
		v = cands_list(t, &c, &n);
	if (v == 0 && from != NULL)
		v = found = begin_from(t, from, c, n);
	if (v == 0 && from == NULL)
		v = begin_fresh(t, start == HT_TAIL_START_END ? FRESH_END : FRESH_BEGINNING, c, n);
	else if (v == 0 && t->n_files == 0)	/* its file is gone: all that is here is newer */
		v = begin_fresh(t, FRESH_ALL, c, n);
	cands_free(c, n);
	if (v < 0) {
		ht_tail_free(t);
		return v;
	}
	buf_reset(t);
	t->idle_since = ht_mono_ms();
	*ret = t;
	return found;
}

/* ---- reading ---- */

/* Pass the complete lines in the buffer.  0 when none is left, else fn's
 * non-zero answer. */
static int
deliver(struct ht_tail *t, ht_tail_line_fn fn, void *arg)
{
	struct ht_tail_line info = { .at.id = t->files[0].id };
	char *p, *nl;
	size_t len;
	int r;

	while ((nl = memchr(t->buf + t->start, '\n', t->have - t->start)) != NULL) {
		p = t->buf + t->start;
		len = (size_t)(nl - p);
		info.at.off = t->line_off;
		info.end = t->line_off + len + 1;
		info.full_len = len;
		info.cut = len > t->max_line;	/* whole in the buffer, but too long */
		t->line_off = info.end;		/* tell, from fn, is after this line */
		t->start += len + 1;
		t->st.lines++;
		t->st.cut += info.cut;
		r = fn(p, info.cut ? t->max_line : len, &info, arg);
		if (r != 0)
			return r;
	}
	if (t->have - t->start > t->max_line) {
		/* over-long: keep its first max_line bytes, drop the rest as it comes */
		memmove(t->buf, t->buf + t->start, t->max_line);
		t->cut_len = t->have - t->start;
		t->start = 0;
		t->have = t->max_line;
		t->cutting = true;
	}
	return 0;
}

/* The line being cut ended after n more bytes at buf[max_line]: pass its
 * first max_line bytes, keep what followed it. */
static int
deliver_cut(struct ht_tail *t, size_t nl_at, size_t n, ht_tail_line_fn fn, void *arg)
{
	struct ht_tail_line info = { .at = { t->files[0].id, t->line_off }, .cut = true };
	int r;

	t->cut_len += nl_at;
	info.full_len = (size_t)t->cut_len;
	info.end = t->line_off + t->cut_len + 1;
	t->line_off = info.end;
	t->cutting = false;
	t->st.lines++;
	t->st.cut++;
	r = fn(t->buf, t->max_line, &info, arg);
	memmove(t->buf, t->buf + t->max_line + nl_at + 1, n - nl_at - 1);
	t->start = 0;
	t->have = n - nl_at - 1;
	return r;
}

/* files[0] is done: its last bytes as a line, then the next file. */
static int
finish_file(struct ht_tail *t, ht_tail_line_fn fn, void *arg)
{
	struct ht_tail_line info = { .at = { t->files[0].id, t->line_off }, .unterminated = true };
	size_t len = t->have - t->start;
	int r = 0;

	if (t->cutting || len > 0) {
		info.full_len = t->cutting ? (size_t)t->cut_len : len;
		info.cut = t->cutting;
		info.end = t->line_off + info.full_len;
		t->line_off = info.end;
		t->st.lines++;
		t->st.cut += t->cutting;
		r = fn(t->buf + t->start, t->cutting ? t->max_line : len, &info, arg);
	}
	if (t->files[0].copy)
		log_info("file %s: read the rest of %s; going on with %s", t->path,
		    t->files[0].name, t->n_files > 1 ? t->files[1].name : "the log");
	else
		t->st.rotations++;
	chain_drop(t, 1);
	buf_reset(t);
	t->idle_since = ht_mono_ms();
	return r < 0 ? r : 1;
}

/* files[0] shrank or changed its head: read the rest from a copy if there
 * is one, then the file again from its start. */
static int
truncated(struct ht_tail *t)
{
	struct tfile *f = &t->files[0], copy;
	struct ht_tail_id old = f->id;
	uint64_t at = t->line_off;
	struct cand *c;
	size_t n, idx;
	int v, found = 0;

	t->st.truncations++;
	f->pos = 0;
	if (id_of(f->fd, &f->id) < 0)
		f->id.head_len = 0;
	if (!f->copy && at > 0 && cands_list(t, &c, &n) == 0) {
		found = find_copy(t, &old, at, c, n, &copy, &idx);
		cands_free(c, n);
	}
	if (found == 1) {
		copy.pos = at;
		v = chain_insert(t, 0, &copy);
		if (v < 0)
			found = v;
	}
	buf_reset(t);
	if (found == 1) {
		t->st.copies++;
		log_info("file %s: %s was truncated (copytruncate); reading the rest from the copy "
		    "%s at offset %" PRIu64, t->path, t->files[1].name, t->files[0].name, at);
		return 1;
	}
	if (at > 0)
		log_warnx("file %s: %s shrank or was rewritten after offset %" PRIu64
		    " and no copy of it is here; reading it again from its start (lines "
		    "written after that offset before the truncation are lost)", t->path,
		    f->name, at);
	return 1;
}

/* At the end of the last file: has the path another file by now? */
static int
follow_rename(struct ht_tail *t)
{
	struct tfile *f = &t->files[t->n_files - 1];
	struct stat st;
	int v;

	if (stat(t->path, &st) < 0 || (uint64_t)st.st_ino == f->id.ino ||
	    chain_has(t, (uint64_t)st.st_ino))
		return 0;	/* not yet recreated, or still ours */
	v = chain_append(t, t->path, (uint64_t)st.st_ino, 0);
	if (v < 0)
		return v == -ENOENT || v == -ESTALE ? 1 : v;	/* renamed again: look again */
	t->idle_since = ht_mono_ms();
	log_info("file %s: rotated; reading the old file (inode %" PRIu64 ") to its end, then "
	    "the new one (inode %" PRIu64 ")", t->path, t->files[0].id.ino, (uint64_t)st.st_ino);
	return 1;
}

/* Read files[0] to its end, read nothing new: truncation, the next file,
 * or a rename. */
static int
at_end(struct ht_tail *t, bool ready, ht_tail_line_fn fn, void *arg)
{
	struct tfile *f = &t->files[0];
	struct stat st;

	if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < f->pos)
		return truncated(t);
	if (!head_matches(f->fd, &f->id))
		return truncated(t);
	if (t->n_files > 1)
		return ready ? finish_file(t, fn, arg) : 0;
	return follow_rename(t);
}

/* May files[0] be finished at its end?  Asked before reading it, so a
 * successor with data means the writer had left files[0] before our read. */
static bool
finish_ready(struct ht_tail *t)
{
	struct stat st;

	if (t->n_files < 2)
		return false;
	if (t->files[0].copy)
		return true;
	if (fstat(t->files[1].fd, &st) == 0 && st.st_size > 0)
		return true;
	return ht_mono_ms() - t->idle_since >= (int64_t)t->grace_ms;
}

/* A file with no head yet gets one once its first line is complete. */
static void
refresh_head(struct tfile *f)
{
	struct ht_tail_id id;

	if (f->id.head_len == 0 && id_of(f->fd, &id) == 0 && id.ino == f->id.ino)
		f->id = id;
}

/* The path did not exist: does it now? */
static int
wait_file(struct ht_tail *t)
{
	int v = chain_append(t, t->path, 0, 0);

	if (v == -ENOENT || v == -ESTALE)
		return 0;
	if (v < 0)
		return v;
	buf_reset(t);
	log_info("file %s: exists now; reading it from its start", t->path);
	return 1;
}

int
ht_tail_read(struct ht_tail *t, ht_tail_line_fn fn, void *arg)
{
	struct tfile *f;
	bool ready;
	size_t at;
	ssize_t n;
	int r;

	if (t->n_files == 0)
		return wait_file(t);
	if (!t->cutting && (r = deliver(t, fn, arg)) != 0)
		return r < 0 ? r : 1;
	ready = finish_ready(t);
	f = &t->files[0];
	if (!t->cutting && t->start > 0) {
		memmove(t->buf, t->buf + t->start, t->have - t->start);
		t->have -= t->start;
		t->start = 0;
	}
	at = t->cutting ? t->max_line : t->have;
	n = pread(f->fd, t->buf + at, t->chunk, (off_t)f->pos);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0)
		return at_end(t, ready, fn, arg);
	refresh_head(f);
	if (!head_matches(f->fd, &f->id))
		return truncated(t);	/* what we just read may be new text at an old offset */
	f->pos += (uint64_t)n;
	t->st.bytes += (uint64_t)n;
	if (t->n_files > 1)
		t->idle_since = ht_mono_ms();
	if (t->cutting) {
		char *nl = memchr(t->buf + at, '\n', (size_t)n);

		if (nl == NULL) {
			t->cut_len += (uint64_t)n;
			return 1;
		}
		r = deliver_cut(t, (size_t)(nl - (t->buf + at)), (size_t)n, fn, arg);
		if (r != 0)
			return r < 0 ? r : 1;
	} else {
		t->have += (size_t)n;
	}
	r = deliver(t, fn, arg);
	return r < 0 ? r : 1;
}

void
ht_tail_tell(const struct ht_tail *t, struct ht_tail_pos *ret)
{
	if (t->n_files == 0) {
		memset(ret, 0, sizeof(*ret));
		return;
	}
	*ret = (struct ht_tail_pos){ t->files[0].id, t->line_off };
}

/* The offset after the line starting at off of f (the file's end when it
 * has no newline).  -EINVAL past the end, -E2BIG when too long to look. */
static int
line_end(struct ht_tail *t, const struct tfile *f, uint64_t off, uint64_t *ret, bool *ret_eof)
{
	uint64_t at = off;
	size_t got;
	char *nl;
	int v;

	for (;;) {
		v = ht_pread_all(f->fd, t->buf, t->chunk, at, &got);
		if (v < 0)
			return v;
		if (got == 0) {
			if (at == off)
				return -EINVAL;
			*ret = at;
			*ret_eof = true;
			return 0;
		}
		if ((nl = memchr(t->buf, '\n', got)) != NULL) {
			*ret = at + (uint64_t)(nl - t->buf) + 1;
			*ret_eof = false;
			return 0;
		}
		at += got;
		if (at - off > TL_SKIP_MAX)
			return -E2BIG;
	}
}

int
ht_tail_skip_past(struct ht_tail *t, const struct ht_tail_id *id, uint64_t off)
{
	size_t i;
	uint64_t end;
	bool eof;
	int v;

	for (i = 0; i < t->n_files; i++)
		if (ht_tail_id_eq(&t->files[i].id, id) ||
		    (t->files[i].alias.ino != 0 && ht_tail_id_eq(&t->files[i].alias, id)))
			break;
	if (i == t->n_files)
		return -ENOENT;
	if (i == 0 && off < t->line_off)
		return 0;	/* already behind us */
	/* line_end uses the buffer: what it held is read again */
	t->files[0].pos = t->line_off;
	buf_reset(t);
	v = line_end(t, &t->files[i], off, &end, &eof);
	if (v < 0)
		return v;
	if (eof && i + 1 == t->n_files)
		return -EINVAL;	/* only a finished file ends without a newline */
	chain_drop(t, eof ? i + 1 : i);
	if (!eof)
		t->files[0].pos = end;
	buf_reset(t);
	return 1;
}

/* ---- the rest ---- */

int
ht_tail_fd(const struct ht_tail *t)
{
	return t->ino_fd;
}

void
ht_tail_notified(struct ht_tail *t)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (t->ino_fd < 0)
		return;
	while (read(t->ino_fd, buf, sizeof(buf)) > 0)
		;
}

bool
ht_tail_pending(const struct ht_tail *t)
{
	return t->n_files > 1;
}

const char *
ht_tail_name(const struct ht_tail *t)
{
	return t->n_files > 0 ? t->files[0].name : NULL;
}

void
ht_tail_stats(const struct ht_tail *t, struct ht_tail_stats *ret)
{
	*ret = t->st;
}

void
ht_tail_free(struct ht_tail *t)
{
	if (t == NULL)
		return;
	chain_drop(t, t->n_files);
	free(t->files);
	if (t->ino_fd >= 0)
		close(t->ino_fd);
	free(t->buf);
	free(t->path);
	free(t->dir);
	free(t->base);
	free(t);
}
