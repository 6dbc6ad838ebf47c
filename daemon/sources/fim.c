/*
 * fim.c - see fim.h.
 *
 * Threads.  The loop owns everything; the filesystem is touched only by a
 * job on the source's own one-thread worker: stat, hashing, walking trees,
 * adding watches.  One job runs at a time, and while it runs the loop
 * neither reads the inotify descriptor nor changes the known states (the
 * map) or the settings, so the job may read both without a lock (it uses
 * the known states to skip hashing files whose inode, size, mtime and
 * ctime did not change).  Events wait in the kernel meanwhile; should the
 * kernel's queue overflow, the overflow is handled like any other.
 *
 * Events to operations.  The read callback turns events into operations
 * for the next job: EXAMINE a path (stat it and compare with what is
 * known), RENAME (IN_MOVED_FROM and IN_MOVED_TO with one cookie), SCAN a
 * new directory (watch it and everything below, report what is already
 * in it: files made before the watch existed), RESCAN a whole tree
 * (IN_Q_OVERFLOW, reload), BASELINE (at start, no records).  A file being
 * written (IN_MODIFY, IN_CREATE of a non-directory) is examined when it is
 * closed (IN_CLOSE_WRITE) or FIM_SETTLE_MS later, so a burst of writes
 * makes one record.  A watch's path is fixed up as soon as its directory's
 * rename is read, so the events after it name the right files.
 *
 * Results to records.  When the job is done, the loop compares each
 * observation with the map, makes the records (ht_fim_diff, ht_fim_record),
 * updates the map and queues the records for the pipeline as the audit
 * source does; nothing is read while FIM_QUEUE_MAX records wait or the
 * pipeline holds intake back (the kernel's queue may then overflow, which
 * ends in a rescan: nothing is lost, it is only reported later).
 *
 * Symlinks are never followed below a configured path: a tree is walked
 * with openat(O_NOFOLLOW) from the directory descriptors already open,
 * watches are added through /proc/self/fd of the directory that was
 * opened, and a single path is resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) from the configured path's parent.
 */
#include "ht_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "conf.h"
#include "crypto.h"
#include "jsonutil.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "sources/audit_map.h"
#include "sources/fim.h"
#include "util.h"
#include "worker.h"

#define FIM_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | \
	IN_MOVED_FROM | IN_MOVED_TO | IN_EXCL_UNLINK | IN_ONLYDIR)
#define FIM_READ_BUF (64 * 1024)
#define FIM_OPS_MAX 4096		/* operations per job */
#define FIM_SETTLE_MS 500		/* a file being written is examined this long after */
#define FIM_DIRTY_MAX 65536		/* files waiting to settle; past it: examined now */
#define FIM_TICK_MS 100
#define FIM_BATCH_MAX 1000		/* records per pipeline batch */
#define FIM_INFLIGHT_MAX 64		/* batches not yet durable */
#define FIM_QUEUE_MAX 100000		/* records waiting before events wait in the kernel */
#define FIM_ENTRIES_MAX 2000000		/* paths known per source */
#define FIM_DEPTH_MAX 128		/* directories open at once while walking */
#define FIM_HASH_BUF (128 * 1024)
#define FIM_UNWATCHED_KEEP 20		/* refused directories named per job */
#define FIM_RL_BURST 5			/* warnings per FIM_RL_MS */
#define FIM_RL_MS 10000

/* ---- the pure parts ---- */

bool
ht_fim_excluded(char *const *patterns, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(patterns[i], path, 0) == 0)
			return true;
	return false;
}

/* Did a file's (or symlink's) content change?  Without both hashes the
 * size and mtime are all there is. */
static bool
content_differs(const struct ht_fim_state *a, const struct ht_fim_state *b)
{
	if (a->size != b->size)
		return true;
	if (a->hash == HT_FIM_HASHED && b->hash == HT_FIM_HASHED)
		return memcmp(a->sha256, b->sha256, sizeof(a->sha256)) != 0;
	return a->mtime_ns != b->mtime_ns || a->ino != b->ino;
}

unsigned
ht_fim_diff(const struct ht_fim_state *old, const struct ht_fim_state *new)
{
	unsigned bits = 0;

	if (old == NULL)
		return new != NULL ? HT_FIM_CREATED : 0;
	if (new == NULL)
		return HT_FIM_DELETED;
	if (old->kind != new->kind)
		return HT_FIM_TYPE;
	if (old->mode != new->mode)
		bits |= HT_FIM_MODE;
	if (old->uid != new->uid || old->gid != new->gid)
		bits |= HT_FIM_OWNER;
	if (new->kind == HT_FIM_DIR)
		return bits;
	if (new->kind != HT_FIM_OTHER && content_differs(old, new))
		bits |= HT_FIM_CONTENT;
	else if (old->mtime_ns != new->mtime_ns)
		bits |= HT_FIM_TIMES;
	return bits;
}

const char *
ht_fim_event_name(const struct ht_fim_change *c)
{
	const struct ht_fim_state *s = c->cur != NULL ? c->cur : c->old;
	enum ht_fim_kind k = s != NULL ? s->kind : HT_FIM_FILE;

	if (c->bits & HT_FIM_RENAMED)
		return "RenameFile";
	if (c->bits & (HT_FIM_CREATED | HT_FIM_TYPE))
		return k == HT_FIM_DIR ? "CreateDirectory" : k == HT_FIM_SYMLINK ? "CreateLink" :
		    "CreateFile";
	if (c->bits & HT_FIM_DELETED)
		return k == HT_FIM_DIR ? "DeleteDirectory" : "DeleteFile";
	if (c->bits & HT_FIM_CONTENT)
		return "WriteFile";
	if (c->bits & HT_FIM_OWNER)
		return "ChangeFileOwner";
	if (c->bits & HT_FIM_MODE)
		return "ChangeFilePermissions";
	return "SetFileAttributes";
}

/* ---- JSON helpers: 0 or -ENOMEM ---- */

static int
set_str(char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst != NULL ? 0 : -ENOMEM;
}

/* ---- records ---- */

static const char *
kind_name(enum ht_fim_kind k)
{
	static const char *const names[] = { "file", "directory", "symlink", "other" };

	return names[k];
}

static const char *
hash_skipped(enum ht_fim_hash h)
{
	switch (h) {
	case HT_FIM_HASH_TOO_LARGE:
		return "tooLarge";
	case HT_FIM_HASH_OFF:
		return "disabled";
	case HT_FIM_HASH_UNREADABLE:
		return "unreadable";
	default:
		return NULL;
	}
}

/* A state as JSON; names (owner, group, link) only where given. */
static int
state_json(const struct ht_fim_state *s, const struct ht_fim_change *c, bool cur,
    struct json_object **ret)
{
	struct json_object *o = json_object_new_object();
	char mode[8], hex[2 * HT_SHA256_LEN + 1], when[HT_ISO8601_LEN];
	const char *skip = hash_skipped(s->hash);
	int v;

	if (o == NULL)
		return -ENOMEM;
	snprintf(mode, sizeof(mode), "%04o", (unsigned)s->mode & 07777);
	ht_time_iso8601((time_t)(s->mtime_ns / 1000000000), when);
	if ((v = ht_json_add_str(o, "fileType", kind_name(s->kind))) < 0 ||
	    (v = ht_json_add_int(o, "size", (int64_t)s->size)) < 0 || (v = ht_json_add_str(o, "mode", mode)) < 0 ||
	    (v = ht_json_add_int(o, "uid", s->uid)) < 0 ||
	    (cur && c->owner != NULL && (v = ht_json_add_str(o, "owner", c->owner)) < 0) ||
	    (v = ht_json_add_int(o, "gid", s->gid)) < 0 ||
	    (cur && c->group != NULL && (v = ht_json_add_str(o, "group", c->group)) < 0) ||
	    (v = ht_json_add_str(o, "mtime", when)) < 0 || (v = ht_json_add_int(o, "inode", (int64_t)s->ino)) < 0)
		goto fail;
	if (s->hash == HT_FIM_HASHED) {
		ht_hex(s->sha256, sizeof(s->sha256), hex);
		if ((v = ht_json_add_str(o, "sha256", hex)) < 0)
			goto fail;
	} else if (skip != NULL && (v = ht_json_add_str(o, "hashSkipped", skip)) < 0) {
		goto fail;
	}
	if (cur && c->link_target != NULL && (v = ht_json_add_str(o, "linkTarget", c->link_target)) < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_object_put(o);
	return v;
}

static int
changes_json(unsigned bits, struct json_object **ret)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ HT_FIM_CREATED, "created" }, { HT_FIM_DELETED, "deleted" },
		{ HT_FIM_CONTENT, "content" }, { HT_FIM_MODE, "mode" }, { HT_FIM_OWNER, "owner" },
		{ HT_FIM_TIMES, "times" }, { HT_FIM_TYPE, "type" }, { HT_FIM_RENAMED, "renamed" },
	};
	struct json_object *a = json_object_new_array();

	if (a == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((bits & names[i].bit) != 0 &&
		    ht_json_push(a, json_object_new_string(names[i].name)) < 0) {
			json_object_put(a);
			return -ENOMEM;
		}
	*ret = a;
	return 0;
}

static int
add_file_resource(struct json_object *arr, const char *path)
{
	struct json_object *o = json_object_new_object();
	int v;

	if ((v = ht_json_push(arr, o)) < 0 || (v = ht_json_add_str(o, "type", "Host::File")) < 0)
		return v;
	return ht_json_add_str(o, "ARN", path);
}

static int
fim_fields(const struct ht_fim_change *c, struct ht_record *rec)
{
	struct json_object *a, *x;
	int v;

	if ((rec->user_identity = json_object_new_object()) == NULL ||
	    (v = ht_json_add_str(rec->user_identity, "type", "Unknown")) < 0)
		return -ENOMEM;
	if ((rec->request_parameters = json_object_new_object()) == NULL ||
	    (v = ht_json_add_str(rec->request_parameters, "path", c->path)) < 0 ||
	    (c->new_path != NULL &&
	    (v = ht_json_add_str(rec->request_parameters, "newPath", c->new_path)) < 0))
		return -ENOMEM;
	if (c->cur != NULL && (v = state_json(c->cur, c, true, &rec->response_elements)) < 0)
		return v;
	if (c->cur == NULL)
		rec->response_elements = HT_JSON_NULL;
	if ((rec->resources = json_object_new_array()) == NULL ||
	    (v = add_file_resource(rec->resources, c->path)) < 0 ||
	    (c->new_path != NULL && (v = add_file_resource(rec->resources, c->new_path)) < 0))
		return -ENOMEM;
	if ((a = rec->additional_event_data = json_object_new_object()) == NULL ||
	    (v = ht_json_add_str(a, "source", "fim")) < 0 || (v = ht_json_add_str(a, "detectedBy", c->detected)) < 0 ||
	    (v = changes_json(c->bits, &x)) < 0 || (v = ht_json_add(a, "changes", x)) < 0)
		return -ENOMEM;
	if (c->old != NULL && ((v = state_json(c->old, c, false, &x)) < 0 ||
	    (v = ht_json_add(a, "previous", x)) < 0))
		return v;
	return 0;
}

int
ht_fim_record(const struct ht_fim_change *c, struct ht_record **ret)
{
	struct ht_record *rec = ht_record_new();
	int v;

	if (rec == NULL)
		return -ENOMEM;
	rec->event_time = (time_t)c->time_s;
	rec->read_only = HT_FALSE;
	rec->management_event = HT_FALSE;
	if ((v = set_str(&rec->event_version, HT_EVENT_VERSION)) < 0 ||
	    (v = set_str(&rec->event_source, "host.file")) < 0 ||
	    (v = set_str(&rec->event_name, ht_fim_event_name(c))) < 0 ||
	    (v = set_str(&rec->event_type, "AwsServiceEvent")) < 0 ||
	    (v = set_str(&rec->event_category, "Data")) < 0 || (v = fim_fields(c, rec)) < 0) {
		ht_record_free(rec);
		return v;
	}
	*ret = rec;
	return 0;
}

int
ht_fim_rescan_record(const struct ht_fim_rescan *r, struct ht_record **ret)
{
	struct ht_record *rec = ht_record_new();
	struct json_object *d;
	int v = -ENOMEM;

	if (rec == NULL)
		return -ENOMEM;
	rec->event_time = (time_t)r->time_s;
	rec->read_only = HT_TRUE;
	rec->management_event = HT_TRUE;
	if (set_str(&rec->event_version, HT_EVENT_VERSION) < 0 ||
	    set_str(&rec->event_source, "host.file") < 0 ||
	    set_str(&rec->event_name, "FileIntegrityRescan") < 0 ||
	    set_str(&rec->event_type, "AwsServiceEvent") < 0 ||
	    set_str(&rec->event_category, "Management") < 0 ||
	    (rec->user_identity = json_object_new_object()) == NULL ||
	    ht_json_add_str(rec->user_identity, "type", "AWSService") < 0 ||
	    ht_json_add_str(rec->user_identity, "invokedBy", "hosttrail") < 0 ||
	    (d = rec->service_event_details = json_object_new_object()) == NULL ||
	    ht_json_add_str(d, "path", r->root) < 0 || ht_json_add_str(d, "reason", r->reason) < 0 ||
	    ht_json_add_int(d, "entries", (int64_t)r->entries) < 0 ||
	    ht_json_add_int(d, "created", (int64_t)r->created) < 0 ||
	    ht_json_add_int(d, "changed", (int64_t)r->changed) < 0 ||
	    ht_json_add_int(d, "deleted", (int64_t)r->deleted) < 0 ||
	    ht_json_add_int(d, "unreadableDirectories", (int64_t)r->unreadable) < 0 ||
	    ht_json_add_int(d, "durationMs", r->duration_ms) < 0 ||
	    (rec->additional_event_data = json_object_new_object()) == NULL ||
	    ht_json_add_str(rec->additional_event_data, "source", "fim") < 0)
		goto fail;
	*ret = rec;
	return 0;
fail:
	ht_record_free(rec);
	return v;
}

/* ---- observing one path ---- */

static void
state_from_stat(const struct stat *st, struct ht_fim_state *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = S_ISREG(st->st_mode) ? HT_FIM_FILE : S_ISDIR(st->st_mode) ? HT_FIM_DIR :
	    S_ISLNK(st->st_mode) ? HT_FIM_SYMLINK : HT_FIM_OTHER;
	s->mode = (uint32_t)(st->st_mode & 07777);
	s->uid = (uint32_t)st->st_uid;
	s->gid = (uint32_t)st->st_gid;
	s->size = (uint64_t)st->st_size;
	s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	s->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	s->dev = (uint64_t)st->st_dev;
	s->ino = (uint64_t)st->st_ino;
	s->hash = HT_FIM_HASH_NONE;
}

/* SHA-256 of fd's content, at most max bytes: 0, -EFBIG past max, -errno. */
static int
hash_fd(int fd, uint64_t max, uint8_t out[HT_SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(FIM_HASH_BUF);
	uint64_t total = 0;
	unsigned len = 0;
	ssize_t n;
	int v = 0;

	if (ctx == NULL || buf == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		v = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, FIM_HASH_BUF)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			v = -errno;
			goto out;
		}
		total += (uint64_t)n;
		if (total > max) {
			v = -EFBIG;	/* it grew past hash_max while we read */
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			v = -EIO;
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != HT_SHA256_LEN)
		v = -EIO;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return v;
}

/* Hash the regular file name (s: its lstat) into s.  The state is taken
 * again from the descriptor, so hash and state belong together unless the
 * file changes while read (then its next event examines it again). */
static void
hash_file(int dirfd, const char *name, uint64_t max, struct ht_fim_state *s)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	uint8_t sha[HT_SHA256_LEN];
	struct stat st;
	int fd, v;

	/* O_NOATIME keeps hashing from touching atime; refused unless we own
	 * the file or have CAP_FOWNER */
	fd = openat(dirfd, name, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, flags);
	if (fd < 0) {
		s->hash = HT_FIM_HASH_UNREADABLE;
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_ino != s->ino) {
		s->hash = HT_FIM_HASH_UNREADABLE;	/* replaced meanwhile */
		goto out;
	}
	v = hash_fd(fd, max, sha);
	if (fstat(fd, &st) == 0)
		state_from_stat(&st, s);
	memcpy(s->sha256, sha, sizeof(sha));
	s->hash = v == 0 ? HT_FIM_HASHED : v == -EFBIG ? HT_FIM_HASH_TOO_LARGE :
	    HT_FIM_HASH_UNREADABLE;
	if (v != 0)
		memset(s->sha256, 0, sizeof(s->sha256));
out:
	close(fd);
}

/* A symlink's target name: its hash, and the name itself for the record. */
static int
hash_link(int dirfd, const char *name, struct ht_fim_state *s, char **ret_link)
{
	char target[PATH_MAX + 1];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

	if (n < 0) {
		s->hash = HT_FIM_HASH_UNREADABLE;
		return 0;
	}
	target[n] = '\0';
	if (ht_sha256(target, (size_t)n, s->sha256) == 0)
		s->hash = HT_FIM_HASHED;
	if (ret_link != NULL && (*ret_link = strdup(target)) == NULL)
		return -ENOMEM;
	return 0;
}

/* Is known the same file, unchanged since its hash was taken? */
static bool
known_unchanged(const struct ht_fim_state *known, const struct ht_fim_state *s)
{
	return known != NULL && known->hash == HT_FIM_HASHED && known->kind == s->kind &&
	    known->dev == s->dev && known->ino == s->ino && known->size == s->size &&
	    known->mtime_ns == s->mtime_ns && known->ctime_ns == s->ctime_ns;
}

int
ht_fim_observe(int dirfd, const char *name, uint64_t hash_max, const struct ht_fim_state *known,
    struct ht_fim_state *ret, char **ret_link)
{
	struct ht_fim_state s;
	struct stat st;
	char *link = NULL;
	int v;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	state_from_stat(&st, &s);
	if (s.kind == HT_FIM_FILE) {
		if (hash_max == 0)
			s.hash = HT_FIM_HASH_OFF;
		else if (s.size > hash_max)
			s.hash = HT_FIM_HASH_TOO_LARGE;
		else if (known_unchanged(known, &s)) {
			memcpy(s.sha256, known->sha256, sizeof(s.sha256));
			s.hash = HT_FIM_HASHED;
		} else {
			hash_file(dirfd, name, hash_max, &s);
		}
	} else if (s.kind == HT_FIM_SYMLINK) {
		if ((v = hash_link(dirfd, name, &s, ret_link != NULL ? &link : NULL)) < 0)
			return v;
	}
	*ret = s;
	if (ret_link != NULL)
		*ret_link = link;
	return 1;
}

/* ---- hash tables: chained, power-of-two buckets ---- */

struct fim_node {
	struct fim_node *next;
	uint32_t hash;
};

struct fim_table {
	struct fim_node **b;
	size_t nb, n;
};

static uint32_t
hash_str(const char *s)
{
	return ht_fnv1a32_str(s);
}

static uint32_t
hash_int(int v)
{
	uint32_t h = (uint32_t)v;

	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return h;
}

static struct fim_node *
tbl_bucket(const struct fim_table *t, uint32_t h)
{
	return t->nb > 0 ? t->b[h & (t->nb - 1)] : NULL;
}

static int
tbl_grow(struct fim_table *t)
{
	size_t nb = t->nb ? t->nb * 2 : 64;
	struct fim_node **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++) {
		struct fim_node *n = t->b[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

/* Insert n (its hash set).  0 or -ENOMEM. */
static int
tbl_insert(struct fim_table *t, struct fim_node *n)
{
	struct fim_node **slot;

	if (t->n >= t->nb && tbl_grow(t) < 0 && t->nb == 0)
		return -ENOMEM;	/* a full table still works, just slower */
	slot = &t->b[n->hash & (t->nb - 1)];
	n->next = *slot;
	*slot = n;
	t->n++;
	return 0;
}

static void
tbl_remove(struct fim_table *t, struct fim_node *n)
{
	struct fim_node **p = &t->b[n->hash & (t->nb - 1)];

	while (*p != n)
		p = &(*p)->next;
	*p = n->next;
	t->n--;
}

/* Every node, for removing while iterating: a malloc'd array. */
static struct fim_node **
tbl_all(const struct fim_table *t, size_t *ret_n)
{
	struct fim_node **all = malloc((t->n ? t->n : 1) * sizeof(*all));
	size_t k = 0;

	if (all == NULL)
		return NULL;
	for (size_t i = 0; i < t->nb; i++)
		for (struct fim_node *n = t->b[i]; n != NULL; n = n->next)
			all[k++] = n;
	*ret_n = k;
	return all;
}

/* Free every node (allocated as one block each) and the buckets. */
static void
tbl_free_all(struct fim_table *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct fim_node *n = t->b[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(t->b);
	memset(t, 0, sizeof(*t));
}

/* ---- paths ---- */

/* Is path below prefix (strictly)? */
static bool
below(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 1 && prefix[0] == '/')
		return path[0] == '/' && path[1] != '\0';
	return strncmp(path, prefix, n) == 0 && path[n] == '/';
}

static bool
at_or_below(const char *path, const char *prefix)
{
	return strcmp(path, prefix) == 0 || below(path, prefix);
}

/* dir + "/" + name, malloc'd; NULL on ENOMEM. */
static char *
join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name) < 0)
		return NULL;
	return p;
}

/* ---- the source ---- */

struct fim_root {
	char *path;			/* as configured, without a trailing '/' */
	char *parent;			/* its directory */
	char *name;			/* its last component; "." for "/" */
};

/* The settings a reload may change. */
struct fim_conf {
	char **exclude;
	size_t n_exclude;
	uint64_t hash_max;
};

/* A known path.  children counts the entries directly below a directory,
 * so forgetting a directory whose entries went first (rm -r) needs no
 * search of the whole map; a parent is always remembered before its
 * entries (walks go top down, renames move the top first). */
struct fim_entry {
	struct fim_node node;
	uint32_t gen;			/* the last rescan that saw it */
	uint32_t children;
	struct ht_fim_state st;
	char path[];
};

/* A file waiting to settle. */
struct fim_dirty {
	struct fim_node node;
	int64_t due_ms;
	int root;
	char path[];
};

/* One inotify watch: a directory watched for all its entries, or a
 * configured path's parent watched for that one name (the names). */
struct fim_watch {
	struct fim_node node;
	int wd;
	int root;			/* all: the root it was found under */
	bool all;
	char *path;
	char **names;			/* not all: the configured names in it */
	int *name_roots;
	size_t n_names;
};

enum op_kind { OP_EXAMINE, OP_RENAME, OP_SCAN, OP_RESCAN, OP_BASELINE };

struct fim_obs {
	char *path;
	bool present;
	struct ht_fim_state st;
	char *link;
};

struct fim_newwatch {
	int wd;
	int root;
	bool all;
	char *path;
	char *name;			/* not all: the configured name */
};

/* One operation and, once its job ran, what it found. */
struct fim_op {
	enum op_kind kind;
	int root;
	char *path, *to;		/* RENAME: from path to to */
	const char *reason;		/* RESCAN: "overflow", "reload" */
	struct fim_obs *obs;		/* EXAMINE: path; RENAME: to; walks: all */
	size_t n_obs, cap_obs;
	struct fim_newwatch *w;
	size_t n_w, cap_w;
	char **skipped;			/* directories not read: keep what is known */
	size_t n_skipped;
	char *unwatched[FIM_UNWATCHED_KEEP];
	size_t n_unwatched;
	uint64_t limit_hits, watch_errors, unreadable;
	int64_t duration_ms;
	int err;			/* -ENOMEM: the results are incomplete */
};

struct fim_job {
	struct fim_src *fs;
	struct fim_op *ops;
	size_t n;
};

struct fim_batch {
	struct fim_src *fs;
	size_t n;
};

struct fim_stats {
	uint64_t events, overflows, rescans, records, durable, unstored, lost;
	uint64_t limit_hits, watch_errors, unreadable, untracked;
};

struct fim_src {
	const struct ht_source_env *env;
	struct fim_root *roots;
	size_t n_roots;
	struct fim_conf conf;		/* read by jobs: replaced only between them */
	struct fim_conf next_conf;
	bool conf_pending;
	int ifd;
	struct ht_worker *worker;
	struct ht_audit_names *names;
	struct fim_table map, dirty, watches;
	uint32_t gen;
	/* operations for the next job, and the job running */
	struct fim_op *ops;
	size_t n_ops, cap_ops;
	struct fim_job *job;
	atomic_bool cancel;		/* stopping: a walk running gives up */
	/* an IN_MOVED_FROM waiting for its IN_MOVED_TO */
	char *move_from;
	uint32_t move_cookie;
	bool move_dir;
	int move_root;
	/* records waiting for the pipeline */
	struct ht_record **q;
	size_t q_n, q_cap;
	unsigned inflight;
	uint64_t inflight_recs;
	struct event *read_ev, *tick_ev;
	bool reading, ready, draining, stopping, submitting, held_logged, limit_logged;
	bool full_logged;
	struct fim_stats st;
	int64_t rl_start;
	unsigned rl_n;
	char *buf;
};

static void fs_pump(struct fim_src *fs);
static void fs_submit(struct fim_src *fs);

static bool
rl_ok(struct fim_src *fs)
{
	int64_t now = ht_mono_ms();

	if (now - fs->rl_start >= FIM_RL_MS) {
		fs->rl_start = now;
		fs->rl_n = 0;
	}
	return fs->rl_n++ < FIM_RL_BURST;
}

/* ---- the map ---- */

static struct fim_entry *
map_find(const struct fim_src *fs, const char *path)
{
	uint32_t h = hash_str(path);

	for (struct fim_node *n = tbl_bucket(&fs->map, h); n != NULL; n = n->next)
		if (n->hash == h && strcmp(((struct fim_entry *)n)->path, path) == 0)
			return (struct fim_entry *)n;
	return NULL;
}

/* The entry of path's directory, or NULL. */
static struct fim_entry *
map_parent(const struct fim_src *fs, const char *path)
{
	const char *slash = strrchr(path, '/');
	struct fim_entry *e;
	char *dir;

	if (slash == NULL || slash == path)
		return slash == path && path[1] != '\0' ? map_find(fs, "/") : NULL;
	if ((dir = strndup(path, (size_t)(slash - path))) == NULL)
		return NULL;
	e = map_find(fs, dir);
	free(dir);
	return e;
}

/* Remember st for path.  0, or -ENOMEM / -ENOSPC (past FIM_ENTRIES_MAX). */
static int
map_put(struct fim_src *fs, const char *path, const struct ht_fim_state *st)
{
	struct fim_entry *e = map_find(fs, path), *parent;
	size_t len;

	if (e != NULL) {
		e->st = *st;
		e->gen = fs->gen;
		return 0;
	}
	if (fs->map.n >= FIM_ENTRIES_MAX)
		return -ENOSPC;
	len = strlen(path);
	if ((e = malloc(sizeof(*e) + len + 1)) == NULL)
		return -ENOMEM;
	memcpy(e->path, path, len + 1);
	e->st = *st;
	e->gen = fs->gen;
	e->children = 0;
	e->node.hash = hash_str(path);
	if (tbl_insert(&fs->map, &e->node) < 0) {
		free(e);
		return -ENOMEM;
	}
	if ((parent = map_parent(fs, path)) != NULL)
		parent->children++;
	return 0;
}

static void
map_del(struct fim_src *fs, struct fim_entry *e)
{
	struct fim_entry *parent = map_parent(fs, e->path);

	if (parent != NULL && parent->children > 0)
		parent->children--;
	tbl_remove(&fs->map, &e->node);
	free(e);
}

static int
path_cmp_desc(const void *a, const void *b)
{
	const struct fim_entry *x = *(struct fim_entry *const *)a;
	const struct fim_entry *y = *(struct fim_entry *const *)b;

	return strcmp(y->path, x->path);
}

/* The entries strictly below path, deepest names first.  NULL with
 * *ret_n 0 when there are none or on ENOMEM. */
static struct fim_entry **
map_below(const struct fim_src *fs, const char *path, size_t *ret_n)
{
	const struct fim_entry *top = map_find(fs, path);
	struct fim_node **all;
	size_t n = 0, k = 0;

	*ret_n = 0;
	if (top != NULL && top->children == 0)
		return NULL;	/* nothing below it: no search */
	if (fs->map.n == 0 || (all = tbl_all(&fs->map, &n)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (below(((struct fim_entry *)all[i])->path, path))
			all[k++] = all[i];
	qsort(all, k, sizeof(*all), path_cmp_desc);
	*ret_n = k;
	return (struct fim_entry **)all;
}

/* ---- the dirty set ---- */

static struct fim_dirty *
dirty_find(const struct fim_src *fs, const char *path)
{
	uint32_t h = hash_str(path);

	for (struct fim_node *n = tbl_bucket(&fs->dirty, h); n != NULL; n = n->next)
		if (n->hash == h && strcmp(((struct fim_dirty *)n)->path, path) == 0)
			return (struct fim_dirty *)n;
	return NULL;
}

static void
dirty_del(struct fim_src *fs, const char *path)
{
	struct fim_dirty *d = dirty_find(fs, path);

	if (d != NULL) {
		tbl_remove(&fs->dirty, &d->node);
		free(d);
	}
}

/* ---- watches ---- */

static struct fim_watch *
watch_find(const struct fim_src *fs, int wd)
{
	uint32_t h = hash_int(wd);

	for (struct fim_node *n = tbl_bucket(&fs->watches, h); n != NULL; n = n->next)
		if (((struct fim_watch *)n)->wd == wd)
			return (struct fim_watch *)n;
	return NULL;
}

static void
watch_free(struct fim_watch *w)
{
	for (size_t i = 0; i < w->n_names; i++)
		free(w->names[i]);
	free(w->names);
	free(w->name_roots);
	free(w->path);
	free(w);
}

static void
watch_del(struct fim_src *fs, struct fim_watch *w, bool rm)
{
	if (rm)
		(void)inotify_rm_watch(fs->ifd, w->wd);	/* gone already: EINVAL */
	tbl_remove(&fs->watches, &w->node);
	watch_free(w);
}

/* A filtered watch learns one more configured name. */
static int
watch_add_name(struct fim_watch *w, const char *name, int root)
{
	char **names;
	int *roots;

	for (size_t i = 0; i < w->n_names; i++)
		if (strcmp(w->names[i], name) == 0)
			return 0;
	if ((names = realloc(w->names, (w->n_names + 1) * sizeof(*names))) == NULL)
		return -ENOMEM;
	w->names = names;
	if ((roots = realloc(w->name_roots, (w->n_names + 1) * sizeof(*roots))) == NULL)
		return -ENOMEM;
	w->name_roots = roots;
	if ((names[w->n_names] = strdup(name)) == NULL)
		return -ENOMEM;
	roots[w->n_names++] = root;
	return 0;
}

/* Record a watch a job added.  0 or -ENOMEM. */
static int
watch_put(struct fim_src *fs, const struct fim_newwatch *nw)
{
	struct fim_watch *w = watch_find(fs, nw->wd);
	char *p;

	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL || (w->path = strdup(nw->path)) == NULL) {
			free(w);
			return -ENOMEM;
		}
		w->wd = nw->wd;
		w->root = nw->root;
		w->node.hash = hash_int(nw->wd);
		if (tbl_insert(&fs->watches, &w->node) < 0) {
			watch_free(w);
			return -ENOMEM;
		}
	}
	if (!nw->all)
		return w->all ? 0 : watch_add_name(w, nw->name, nw->root);
	if (strcmp(w->path, nw->path) != 0) {
		/* the same directory found under another name (moved meanwhile) */
		if ((p = strdup(nw->path)) == NULL)
			return -ENOMEM;
		free(w->path);
		w->path = p;
	}
	w->all = true;
	w->root = nw->root;
	return 0;
}

/* A directory moved from `from` to `to` within the trees (to is under
 * root): its watches, and those below it, follow at once. */
static void
watches_move(struct fim_src *fs, const char *from, const char *to, int root)
{
	size_t n, flen = strlen(from);
	struct fim_node **all = tbl_all(&fs->watches, &n);
	char *p;

	if (all == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct fim_watch *w = (struct fim_watch *)all[i];

		if (!w->all || !at_or_below(w->path, from))
			continue;
		if (asprintf(&p, "%s%s", to, w->path + (strcmp(from, "/") == 0 ? 0 : flen)) < 0)
			continue;
		free(w->path);
		w->path = p;
		w->root = root;
	}
	free(all);
}

/* A directory left the trees (deleted, moved out, excluded): forget its
 * watches and those below it. */
static void
watches_drop(struct fim_src *fs, const char *path)
{
	size_t n;
	struct fim_node **all = tbl_all(&fs->watches, &n);

	if (all == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct fim_watch *w = (struct fim_watch *)all[i];

		if (w->all && at_or_below(w->path, path))
			watch_del(fs, w, true);
	}
	free(all);
}

/* ---- operations ---- */

static void
op_clear(struct fim_op *op)
{
	free(op->path);
	free(op->to);
	for (size_t i = 0; i < op->n_obs; i++) {
		free(op->obs[i].path);
		free(op->obs[i].link);
	}
	free(op->obs);
	for (size_t i = 0; i < op->n_w; i++) {
		free(op->w[i].path);
		free(op->w[i].name);
	}
	free(op->w);
	for (size_t i = 0; i < op->n_skipped; i++)
		free(op->skipped[i]);
	free(op->skipped);
	for (size_t i = 0; i < op->n_unwatched; i++)
		free(op->unwatched[i]);
	memset(op, 0, sizeof(*op));
}

/* Queue an operation for the next job (path and to are copied).  An
 * EXAMINE right after the same EXAMINE is not queued twice. */
static int
op_add(struct fim_src *fs, enum op_kind kind, int root, const char *path, const char *to,
    const char *reason)
{
	struct fim_op *op;

	if (kind == OP_EXAMINE && fs->n_ops > 0 && fs->ops[fs->n_ops - 1].kind == OP_EXAMINE &&
	    strcmp(fs->ops[fs->n_ops - 1].path, path) == 0)
		return 0;
	if (fs->n_ops == fs->cap_ops) {
		size_t cap = fs->cap_ops ? fs->cap_ops * 2 : 64;

		if ((op = realloc(fs->ops, cap * sizeof(*op))) == NULL)
			return -ENOMEM;
		fs->ops = op;
		fs->cap_ops = cap;
	}
	op = &fs->ops[fs->n_ops];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->root = root;
	op->reason = reason;
	op->path = strdup(path);
	op->to = to != NULL ? strdup(to) : NULL;
	if (op->path == NULL || (to != NULL && op->to == NULL)) {
		op_clear(op);
		return -ENOMEM;
	}
	fs->n_ops++;
	return 0;
}

/* op_add, counting what is lost to ENOMEM (a rescan would find it). */
static void
op_queue(struct fim_src *fs, enum op_kind kind, int root, const char *path, const char *to,
    const char *reason)
{
	if (op_add(fs, kind, root, path, to, reason) < 0) {
		fs->st.lost++;
		if (rl_ok(fs))
			log_warnx("fim: out of memory: a change to %s is not examined", path);
	}
}

/* ---- the job (on the worker thread) ---- */

static int
obs_push(struct fim_op *op, char *path, const struct ht_fim_state *st, char *link, bool present)
{
	struct fim_obs *o;

	if (op->n_obs == op->cap_obs) {
		size_t cap = op->cap_obs ? op->cap_obs * 2 : 16;

		if ((o = realloc(op->obs, cap * sizeof(*o))) == NULL) {
			free(path);
			free(link);
			return -ENOMEM;
		}
		op->obs = o;
		op->cap_obs = cap;
	}
	o = &op->obs[op->n_obs++];
	o->path = path;
	o->present = present;
	if (present)
		o->st = *st;
	else
		memset(&o->st, 0, sizeof(o->st));
	o->link = link;
	return 0;
}

static int
neww_push(struct fim_op *op, int wd, int root, bool all, const char *path, const char *name)
{
	struct fim_newwatch *w;

	if (op->n_w == op->cap_w) {
		size_t cap = op->cap_w ? op->cap_w * 2 : 16;

		if ((w = realloc(op->w, cap * sizeof(*w))) == NULL)
			return -ENOMEM;
		op->w = w;
		op->cap_w = cap;
	}
	w = &op->w[op->n_w];
	*w = (struct fim_newwatch){ wd, root, all, strdup(path), name ? strdup(name) : NULL };
	if (w->path == NULL || (name != NULL && w->name == NULL)) {
		free(w->path);
		free(w->name);
		return -ENOMEM;
	}
	op->n_w++;
	return 0;
}

static int
skipped_push(struct fim_op *op, const char *path)
{
	char **s = realloc(op->skipped, (op->n_skipped + 1) * sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	op->skipped = s;
	if ((s[op->n_skipped] = strdup(path)) == NULL)
		return -ENOMEM;
	op->n_skipped++;
	return 0;
}

/* Where path is under the root's parent: "" for the parent itself, NULL
 * when it is not below it at all. */
static const char *
rel_to(const struct fim_root *r, const char *path)
{
	size_t n = strlen(r->parent);

	if (strcmp(path, r->parent) == 0)
		return "";
	if (!below(path, r->parent))
		return NULL;
	return path + n + (strcmp(r->parent, "/") == 0 ? 0 : 1);
}

/* A descriptor of the directory dir (at or below root's parent), opened
 * with flags, no symlink followed below the parent.  -errno on failure. */
static int
open_beneath(const struct fim_root *r, const char *dir, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_DIRECTORY | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	const char *rel = rel_to(r, dir);
	int base, fd;

	if (rel == NULL)
		return -EINVAL;
	if (*rel == '\0') {
		fd = open(r->parent, flags | O_DIRECTORY | O_CLOEXEC);
		return fd >= 0 ? fd : -errno;
	}
	if ((base = open(r->parent, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, base, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)	/* before Linux 5.6: the last name only */
		fd = openat(base, rel, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	close(base);
	return fd;
}

/* The known state of path, for ht_fim_observe's hash reuse.  Reading the
 * map here is safe: the loop changes it only between jobs. */
static const struct ht_fim_state *
known_of(const struct fim_src *fs, const char *path)
{
	const struct fim_entry *e = map_find(fs, path);

	return e != NULL ? &e->st : NULL;
}

/* Observe one path into op's observations. */
static void
run_observe(const struct fim_src *fs, struct fim_op *op, const char *path)
{
	const struct fim_root *r = &fs->roots[op->root];
	struct ht_fim_state st;
	char *dir, *slash, *link = NULL, *copy;
	const char *name;
	int fd, v;

	if ((copy = strdup(path)) == NULL || (dir = strdup(path)) == NULL) {
		free(copy);
		op->err = -ENOMEM;
		return;
	}
	slash = strrchr(dir, '/');
	name = path + (slash - dir) + 1;
	if (slash == dir)
		slash[1] = '\0';	/* "/x": the directory is "/" */
	else
		*slash = '\0';
	if (*name == '\0')
		name = ".";		/* the root "/" itself */
	fd = open_beneath(r, dir, O_PATH);
	v = fd >= 0 ? ht_fim_observe(fd, name, fs->conf.hash_max, known_of(fs, path), &st, &link) :
	    fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP ? 0 : fd;
	if (fd >= 0)
		close(fd);
	free(dir);
	if (v < 0)
		op->unreadable++;
	/* unreadable counts as absent only when nothing was known before */
	if (v < 0 && known_of(fs, path) != NULL) {
		free(copy);
		return;
	}
	if (obs_push(op, copy, &st, link, v > 0) < 0)
		op->err = -ENOMEM;
}

/* Watch the directory open as fd (its name is path, for /proc-less hosts). */
static void
add_watch(const struct fim_src *fs, struct fim_op *op, int fd, const char *path)
{
	char proc[64];
	int wd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	/* through the descriptor: exactly the directory opened, whatever the
	 * path names by now */
	wd = inotify_add_watch(fs->ifd, proc, FIM_MASK);
	if (wd < 0 && errno == ENOENT)
		wd = inotify_add_watch(fs->ifd, path, FIM_MASK | IN_DONT_FOLLOW);
	if (wd >= 0) {
		if (neww_push(op, wd, op->root, true, path, NULL) < 0)
			op->err = -ENOMEM;
		return;
	}
	if (errno != ENOSPC) {
		op->watch_errors++;
		return;
	}
	if (op->n_unwatched < FIM_UNWATCHED_KEEP)
		op->unwatched[op->n_unwatched++] = strdup(path);
	op->limit_hits++;
}

struct walk_frame {
	DIR *d;
	char *path;
};

/* Open name (a directory observed as st) below the frame's directory. */
static int
walk_open(DIR *parent, const char *name, const struct ht_fim_state *st)
{
	struct stat cur;
	int fd = openat(dirfd(parent), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &cur) < 0 || (uint64_t)cur.st_ino != st->ino) {
		close(fd);
		return -EAGAIN;	/* replaced since it was seen; its events tell */
	}
	return fd;
}

/* One entry of a walk: observe it, and for a directory open and watch it.
 * Returns a frame's DIR to descend into, or NULL. */
static DIR *
walk_entry(const struct fim_src *fs, struct fim_op *op, DIR *parent, const char *path,
    const char *name, bool can_descend)
{
	struct ht_fim_state st;
	char *link = NULL, *copy;
	DIR *d;
	int v, fd;

	if (ht_fim_excluded(fs->conf.exclude, fs->conf.n_exclude, path))
		return NULL;
	v = ht_fim_observe(dirfd(parent), name, fs->conf.hash_max, known_of(fs, path), &st, &link);
	if (v < 0) {
		op->unreadable++;	/* not seen is not gone */
		if (skipped_push(op, path) < 0)
			op->err = -ENOMEM;
	}
	if (v <= 0)
		return NULL;
	if ((copy = strdup(path)) == NULL || obs_push(op, copy, &st, link, true) < 0) {
		op->err = -ENOMEM;
		return NULL;
	}
	if (st.kind != HT_FIM_DIR)
		return NULL;
	if ((fd = walk_open(parent, name, &st)) < 0 || !can_descend) {
		if (fd >= 0)
			close(fd);
		if (fd != -EAGAIN && fd != -ENOENT) {
			op->unreadable++;
			if (skipped_push(op, path) < 0)
				op->err = -ENOMEM;
		}
		return NULL;
	}
	add_watch(fs, op, fd, path);
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/* Walk the tree at path (already observed as a directory, open as d). */
static void
walk_tree(const struct fim_src *fs, struct fim_op *op, DIR *d, const char *path)
{
	struct walk_frame stack[FIM_DEPTH_MAX];
	size_t depth = 0;
	struct dirent *de;

	stack[depth++] = (struct walk_frame){ d, strdup(path) };
	if (stack[0].path == NULL)
		op->err = -ENOMEM;
	while (depth > 0 && op->err == 0) {
		struct walk_frame *top = &stack[depth - 1];
		char *child;
		DIR *sub;

		if (atomic_load_explicit(&fs->cancel, memory_order_relaxed)) {
			op->err = -ECANCELED;	/* its results are dropped */
			break;
		}
		if ((de = readdir(top->d)) == NULL) {
			closedir(top->d);
			free(top->path);
			depth--;
			continue;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((child = join(top->path, de->d_name)) == NULL) {
			op->err = -ENOMEM;
			break;
		}
		sub = walk_entry(fs, op, top->d, child, de->d_name, depth < FIM_DEPTH_MAX);
		if (sub != NULL)
			stack[depth++] = (struct walk_frame){ sub, child };
		else
			free(child);
	}
	while (depth > 0) {
		closedir(stack[depth - 1].d);
		free(stack[--depth].path);
	}
}

/* A configured path's parent, watched for that one name: how a path that
 * does not exist yet, or a single file replaced by rename, is seen. */
static void
watch_parent(const struct fim_src *fs, struct fim_op *op)
{
	const struct fim_root *r = &fs->roots[op->root];
	int wd;

	if (strcmp(r->path, "/") == 0)
		return;
	wd = inotify_add_watch(fs->ifd, r->parent, FIM_MASK);
	if (wd >= 0) {
		if (neww_push(op, wd, op->root, false, r->parent, r->name) < 0)
			op->err = -ENOMEM;
	} else if (errno == ENOSPC) {
		op->limit_hits++;
		if (op->n_unwatched < FIM_UNWATCHED_KEEP)
			op->unwatched[op->n_unwatched++] = strdup(r->parent);
	} else {
		op->watch_errors++;
	}
}

/* SCAN, RESCAN, BASELINE: the path itself, then everything below it. */
static void
run_walk(const struct fim_src *fs, struct fim_op *op)
{
	const struct fim_root *r = &fs->roots[op->root];
	const struct fim_obs *self;
	int fd;
	DIR *d;

	if (op->kind != OP_SCAN)
		watch_parent(fs, op);
	run_observe(fs, op, op->path);
	if (op->n_obs == 0)
		return;
	self = &op->obs[0];
	if (!self->present || self->st.kind != HT_FIM_DIR)
		return;
	fd = open_beneath(r, op->path, O_RDONLY);
	if (fd >= 0 && strcmp(op->path, "/") != 0 && strcmp(op->path, r->parent) != 0) {
		/* open_beneath opened the path's own name: re-check it is the
		 * directory observed */
		struct stat cur;

		if (fstat(fd, &cur) < 0 || (uint64_t)cur.st_ino != self->st.ino) {
			close(fd);
			fd = -EAGAIN;
		}
	}
	if (fd < 0) {
		op->unreadable++;
		if (skipped_push(op, op->path) < 0)
			op->err = -ENOMEM;
		return;
	}
	add_watch(fs, op, fd, op->path);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		op->err = -ENOMEM;
		return;
	}
	walk_tree(fs, op, d, op->path);
}

static void
job_work(void *arg)
{
	struct fim_job *j = arg;
	const struct fim_src *fs = j->fs;

	for (size_t i = 0; i < j->n; i++) {
		struct fim_op *op = &j->ops[i];
		int64_t t0 = ht_mono_ms();

		switch (op->kind) {
		case OP_EXAMINE:
			run_observe(fs, op, op->path);
			break;
		case OP_RENAME:
			run_observe(fs, op, op->to);
			break;
		default:
			run_walk(fs, op);
			break;
		}
		op->duration_ms = ht_mono_ms() - t0;
	}
}

/* ---- results to records (on the loop) ---- */

static void
fs_enqueue(struct fim_src *fs, struct ht_record *rec)
{
	if (fs->q_n == fs->q_cap) {
		size_t cap = fs->q_cap ? fs->q_cap * 2 : 256;
		struct ht_record **q = realloc(fs->q, cap * sizeof(*q));

		if (q == NULL) {
			ht_record_free(rec);
			fs->st.lost++;
			return;
		}
		fs->q = q;
		fs->q_cap = cap;
	}
	fs->q[fs->q_n++] = rec;
	fs->st.records++;
}

/* Make and queue the record of one change. */
static void
emit(struct fim_src *fs, const char *path, const char *new_path,
    const struct ht_fim_state *old, const struct ht_fim_state *cur, unsigned bits,
    const char *detected, const char *link)
{
	int64_t now = ht_mono_ms();
	struct ht_fim_change c = { path, new_path, old, cur, bits, detected, link, NULL, NULL,
		ht_now_ms() / 1000 };
	struct ht_record *rec;

	if (cur != NULL) {
		c.owner = ht_audit_names_user(fs->names, (uid_t)cur->uid, now);
		c.group = ht_audit_names_group(fs->names, (gid_t)cur->gid, now);
	}
	if (ht_fim_record(&c, &rec) < 0) {
		fs->st.lost++;
		if (rl_ok(fs))
			log_warnx("fim: out of memory making the record of a change to %s; it is "
			    "lost", path);
		return;
	}
	fs_enqueue(fs, rec);
}

/* Remember st (or count it as untracked past FIM_ENTRIES_MAX). */
static void
remember(struct fim_src *fs, const char *path, const struct ht_fim_state *st)
{
	int v = map_put(fs, path, st);

	if (v == 0)
		return;
	fs->st.untracked++;
	if (v == -ENOSPC && !fs->full_logged) {
		log_warnx("fim: more than %d paths under watch; %s and later ones are not "
		    "tracked (their changes are reported without what was before)",
		    FIM_ENTRIES_MAX, path);
		fs->full_logged = true;
	}
}

/* Everything known below a directory that is gone: one record each,
 * deepest first, and its watches. */
static void
forget_below(struct fim_src *fs, const char *path, const char *detected, uint64_t *count)
{
	size_t n;
	struct fim_entry **below_it = map_below(fs, path, &n);

	for (size_t i = 0; i < n; i++) {
		emit(fs, below_it[i]->path, NULL, &below_it[i]->st, NULL, HT_FIM_DELETED, detected,
		    NULL);
		map_del(fs, below_it[i]);
		if (count != NULL)
			(*count)++;
	}
	free(below_it);
	watches_drop(fs, path);
}

/* Counters of a rescan. */
struct tally {
	uint64_t created, changed, deleted;
};

/* Compare one observation with what is known: records, then the map.  A
 * directory that is new here and not found by a walk is walked next. */
static void
apply_obs(struct fim_src *fs, int root, const struct fim_obs *o, const char *detected,
    bool walked, struct tally *t)
{
	struct fim_entry *e = map_find(fs, o->path);
	struct ht_fim_state old = { 0 };
	const struct ht_fim_state *cur = o->present ? &o->st : NULL;
	unsigned bits;

	if (e != NULL) {
		old = e->st;
		e->gen = fs->gen;
	}
	bits = ht_fim_diff(e != NULL ? &old : NULL, cur);
	if (bits == 0)
		return;
	if (bits & (HT_FIM_DELETED | HT_FIM_TYPE)) {
		if (old.kind == HT_FIM_DIR)
			forget_below(fs, o->path, detected, t != NULL ? &t->deleted : NULL);
		emit(fs, o->path, NULL, &old, NULL, HT_FIM_DELETED, detected, NULL);
		map_del(fs, e);
		e = NULL;
		if (t != NULL)
			t->deleted++;
		if (cur == NULL)
			return;
		bits = HT_FIM_CREATED;
	}
	emit(fs, o->path, NULL, e != NULL ? &old : NULL, cur, bits, detected, o->link);
	if (t != NULL && (bits & HT_FIM_CREATED))
		t->created++;
	else if (t != NULL)
		t->changed++;
	remember(fs, o->path, cur);
	if (cur->kind == HT_FIM_DIR && (bits & HT_FIM_CREATED) && !walked)
		op_queue(fs, OP_SCAN, root, o->path, NULL, NULL);
}

/* Move what is known below from to below to (whose own entry exists),
 * parents first; then forget from. */
static void
map_move(struct fim_src *fs, const char *from, const char *to)
{
	size_t n, flen = strlen(from);
	struct fim_entry **below_it = map_below(fs, from, &n);
	struct fim_entry *e;
	char *p;

	for (size_t i = n; i-- > 0;) {
		if (asprintf(&p, "%s%s", to, below_it[i]->path + flen) >= 0) {
			remember(fs, p, &below_it[i]->st);
			free(p);
		}
	}
	for (size_t i = 0; i < n; i++)
		map_del(fs, below_it[i]);
	free(below_it);
	if ((e = map_find(fs, from)) != NULL)
		map_del(fs, e);
}

static void
apply_rename(struct fim_src *fs, const struct fim_op *op)
{
	const struct fim_obs *o = op->n_obs > 0 ? &op->obs[0] : NULL;
	struct fim_entry *e = map_find(fs, op->path), *target;
	struct ht_fim_state old;
	unsigned bits;

	if (o == NULL)
		return;
	if (e == NULL || !o->present) {
		/* not known before (or already gone again): what is there now
		 * is what matters */
		struct fim_obs gone = { op->path, false, { 0 }, NULL };

		apply_obs(fs, op->root, &gone, "inotify", false, NULL);
		apply_obs(fs, op->root, o, "inotify", false, NULL);
		return;
	}
	old = e->st;
	bits = HT_FIM_RENAMED | (ht_fim_diff(&old, &o->st) & ~HT_FIM_TIMES);
	emit(fs, op->path, op->to, &old, &o->st, bits, "inotify", o->link);
	if ((target = map_find(fs, op->to)) != NULL) {
		if (target->st.kind == HT_FIM_DIR)
			forget_below(fs, op->to, "inotify", NULL);
		map_del(fs, target);	/* replaced: the rename's record says so */
	}
	remember(fs, op->to, &o->st);
	map_move(fs, op->path, op->to);
}

/* Is path (at or below) what the walk could not read? */
static bool
in_skipped(const struct fim_op *op, const char *path)
{
	for (size_t i = 0; i < op->n_skipped; i++)
		if (at_or_below(path, op->skipped[i]))
			return true;
	return false;
}

/* After a rescan: what is known under the tree and was not seen is gone. */
static void
rescan_deleted(struct fim_src *fs, const struct fim_op *op, struct tally *t)
{
	size_t n;
	struct fim_node **all;

	/* incomplete (or the path itself could not be looked at): deleting
	 * on its word would be wrong */
	if (op->err < 0 || op->n_obs == 0 || (all = tbl_all(&fs->map, &n)) == NULL)
		return;
	qsort(all, n, sizeof(*all), path_cmp_desc);
	for (size_t i = 0; i < n; i++) {
		struct fim_entry *e = (struct fim_entry *)all[i];

		if (e->gen == fs->gen || !at_or_below(e->path, op->path) || in_skipped(op, e->path))
			continue;
		emit(fs, e->path, NULL, &e->st, NULL, HT_FIM_DELETED, "rescan", NULL);
		t->deleted++;
		map_del(fs, e);
	}
	free(all);
}

static void
apply_walk(struct fim_src *fs, struct fim_op *op)
{
	struct tally t = { 0 };
	struct ht_fim_rescan rs;
	struct ht_record *rec;

	if (op->kind == OP_BASELINE) {
		if (op->n_obs > 0 && !op->obs[0].present)
			log_warnx("fim: %s does not exist (yet); it is reported once it does",
			    op->path);
		for (size_t i = 0; i < op->n_obs; i++)
			if (op->obs[i].present)
				remember(fs, op->obs[i].path, &op->obs[i].st);
		return;
	}
	fs->gen++;
	for (size_t i = 0; i < op->n_obs; i++)
		apply_obs(fs, op->root, &op->obs[i], op->kind == OP_RESCAN ? "rescan" : i == 0 ?
		    "inotify" : "scan", true, &t);
	if (op->kind != OP_RESCAN)
		return;
	rescan_deleted(fs, op, &t);
	rs = (struct ht_fim_rescan){ op->path, op->reason, op->n_obs, t.created, t.changed,
		t.deleted, op->unreadable, op->duration_ms, ht_now_ms() / 1000 };
	log_info("fim: rescanned %s (%s): %zu entries, %" PRIu64 " created, %" PRIu64
	    " changed, %" PRIu64 " deleted", op->path, op->reason, op->n_obs, t.created,
	    t.changed, t.deleted);
	if (ht_fim_rescan_record(&rs, &rec) == 0)
		fs_enqueue(fs, rec);
	else
		fs->st.lost++;
}

/* The first line of a small /proc file into buf ("?" when unreadable). */
static void
read_proc(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	if (f == NULL || fgets(buf, (int)len, f) == NULL)
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = '\0';
	if (f != NULL)
		fclose(f);
}

/* The watches a job added, and the ones the kernel refused. */
static void
apply_watches(struct fim_src *fs, const struct fim_op *op)
{
	char limit[32], ns_limit[32], ns[64] = "";

	for (size_t i = 0; i < op->n_w; i++)
		if (watch_put(fs, &op->w[i]) < 0) {
			(void)inotify_rm_watch(fs->ifd, op->w[i].wd);
			fs->st.lost++;
		}
	fs->st.watch_errors += op->watch_errors;
	fs->st.unreadable += op->unreadable;
	if (op->limit_hits == 0)
		return;
	fs->st.limit_hits += op->limit_hits;
	/* the sysctl, and since Linux 5.11 the limit of our user namespace,
	 * which is the one that counts inside a container */
	read_proc("/proc/sys/fs/inotify/max_user_watches", limit, sizeof(limit));
	read_proc("/proc/sys/user/max_inotify_watches", ns_limit, sizeof(ns_limit));
	if (strcmp(ns_limit, "?") != 0 && strcmp(ns_limit, limit) != 0)
		snprintf(ns, sizeof(ns), ", %s in this user namespace", ns_limit);
	if (!fs->limit_logged) {
		log_warnx("fim: the inotify watch limit is reached (fs.inotify.max_user_watches = "
		    "%s%s): %" PRIu64 " directories are not watched, e.g. %s; changes there are "
		    "seen only by rescans; raise fs.inotify.max_user_watches (sysctl) and reload",
		    limit, ns, op->limit_hits, op->n_unwatched > 0 && op->unwatched[0] ?
		    op->unwatched[0] : "?");
		fs->limit_logged = true;
	}
	for (size_t i = 0; i < op->n_unwatched; i++)
		if (op->unwatched[i] != NULL && rl_ok(fs))
			log_warnx("fim: not watched (inotify watch limit): %s", op->unwatched[i]);
}

static void
apply_op(struct fim_src *fs, struct fim_op *op)
{
	apply_watches(fs, op);
	if (op->err == -ENOMEM && rl_ok(fs))
		log_warnx("fim: out of memory examining %s; what was found is used", op->path);
	switch (op->kind) {
	case OP_EXAMINE:
		if (op->n_obs > 0)
			apply_obs(fs, op->root, &op->obs[0], "inotify", false, NULL);
		break;
	case OP_RENAME:
		apply_rename(fs, op);
		break;
	default:
		apply_walk(fs, op);
		break;
	}
}

/* ---- settings ---- */

static void
conf_clear(struct fim_conf *c)
{
	for (size_t i = 0; i < c->n_exclude; i++)
		free(c->exclude[i]);
	free(c->exclude);
	memset(c, 0, sizeof(*c));
}

static int
conf_copy(const struct ht_conf_source *sc, struct fim_conf *ret)
{
	struct fim_conf c = { calloc(sc->n_exclude + 1, sizeof(char *)), 0, sc->hash_max };

	if (c.exclude == NULL)
		return -ENOMEM;
	for (; c.n_exclude < sc->n_exclude; c.n_exclude++)
		if ((c.exclude[c.n_exclude] = strdup(sc->exclude[c.n_exclude])) == NULL) {
			conf_clear(&c);
			return -ENOMEM;
		}
	*ret = c;
	return 0;
}

/* New settings between jobs: forget what is excluded now (silently: it
 * did not change, we stopped looking), then rescan, which also retries
 * the watches the limit refused. */
static void
conf_apply(struct fim_src *fs)
{
	size_t n;
	struct fim_node **all;

	conf_clear(&fs->conf);
	fs->conf = fs->next_conf;
	memset(&fs->next_conf, 0, sizeof(fs->next_conf));
	fs->conf_pending = false;
	if ((all = tbl_all(&fs->map, &n)) != NULL) {
		for (size_t i = 0; i < n; i++) {
			struct fim_entry *e = (struct fim_entry *)all[i];

			if (ht_fim_excluded(fs->conf.exclude, fs->conf.n_exclude, e->path)) {
				if (e->st.kind == HT_FIM_DIR)
					watches_drop(fs, e->path);
				map_del(fs, e);
			}
		}
		free(all);
	}
	for (size_t i = 0; i < fs->n_roots; i++)
		op_queue(fs, OP_RESCAN, (int)i, fs->roots[i].path, NULL, "reload");
}

/* ---- the job's end ---- */

static void
job_free(struct fim_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		op_clear(&j->ops[i]);
	free(j->ops);
	free(j);
}

static void
log_ready(struct fim_src *fs)
{
	size_t dirs = 0, n;
	struct fim_node **all = tbl_all(&fs->map, &n);

	for (size_t i = 0; all != NULL && i < n; i++)
		if (((struct fim_entry *)all[i])->st.kind == HT_FIM_DIR)
			dirs++;
	free(all);
	log_info("fim: baseline taken: %zu paths known (%zu directories), %zu watches, under %s%s",
	    fs->map.n, dirs, fs->watches.n, fs->roots[0].path, fs->n_roots > 1 ? " and more" :
	    "");
	fs->ready = true;
}

static void
job_done(void *arg)
{
	struct fim_job *j = arg;
	struct fim_src *fs = j->fs;

	fs->job = NULL;
	if (fs->stopping) {
		job_free(j);
		return;
	}
	for (size_t i = 0; i < j->n; i++)
		apply_op(fs, &j->ops[i]);
	job_free(j);
	if (!fs->ready && !atomic_load(&fs->cancel))
		log_ready(fs);
	if (fs->conf_pending)
		conf_apply(fs);
	fs_submit(fs);
	fs_pump(fs);
}

/* ---- reading events ---- */

static void
read_enable(struct fim_src *fs, bool on)
{
	if (fs->read_ev == NULL || on == fs->reading)
		return;
	if (on)
		event_add(fs->read_ev, NULL);
	else
		event_del(fs->read_ev);
	fs->reading = on;
}

/* An IN_MOVED_FROM with no IN_MOVED_TO: moved out of the trees. */
static void
move_flush(struct fim_src *fs)
{
	if (fs->move_from == NULL)
		return;
	if (fs->move_dir)
		watches_drop(fs, fs->move_from);
	op_queue(fs, OP_EXAMINE, fs->move_root, fs->move_from, NULL, NULL);
	free(fs->move_from);
	fs->move_from = NULL;
}

/* Examine path once it settles (IN_MODIFY, IN_CREATE of a file). */
static void
settle(struct fim_src *fs, int root, const char *path)
{
	size_t len = strlen(path);
	struct fim_dirty *d;

	if (dirty_find(fs, path) != NULL)
		return;	/* examined at the first write's deadline */
	if (fs->dirty.n >= FIM_DIRTY_MAX || (d = malloc(sizeof(*d) + len + 1)) == NULL) {
		op_queue(fs, OP_EXAMINE, root, path, NULL, NULL);
		return;
	}
	memcpy(d->path, path, len + 1);
	d->due_ms = ht_mono_ms() + FIM_SETTLE_MS;
	d->root = root;
	d->node.hash = hash_str(path);
	if (tbl_insert(&fs->dirty, &d->node) < 0) {
		free(d);
		op_queue(fs, OP_EXAMINE, root, path, NULL, NULL);
	}
}

static void
on_overflow(struct fim_src *fs)
{
	fs->st.overflows++;
	if (rl_ok(fs))
		log_warnx("fim: the inotify event queue overflowed (fs.inotify.max_queued_events); "
		    "rescanning %zu path(s) for what changed meanwhile", fs->n_roots);
	move_flush(fs);
	for (size_t i = 0; i < fs->n_roots; i++) {
		fs->st.rescans++;
		op_queue(fs, OP_RESCAN, (int)i, fs->roots[i].path, NULL, "overflow");
	}
}

/* A rename is queued: the examinations still queued for what moved would
 * find it gone (and report a deletion, then a creation).  The rename's own
 * observation covers the path itself; those below it are examined after
 * the rename, under their new names. */
static void
ops_follow_rename(struct fim_src *fs, const char *from, const char *to, int root)
{
	size_t k = 0, n = fs->n_ops, flen = strlen(from);
	char **moved = NULL;
	size_t n_moved = 0;

	for (size_t i = 0; i < n; i++) {
		struct fim_op *op = &fs->ops[i];
		char **m;

		if (op->kind != OP_EXAMINE || !at_or_below(op->path, from)) {
			fs->ops[k++] = *op;
			continue;
		}
		if (below(op->path, from)) {
			if ((m = realloc(moved, (n_moved + 1) * sizeof(*m))) != NULL)
				moved = m;
			if (m != NULL && asprintf(&m[n_moved], "%s%s", to, op->path + flen) >= 0)
				n_moved++;
			else
				fs->st.lost++;
		}
		op_clear(op);
	}
	fs->n_ops = k;
	op_queue(fs, OP_RENAME, root, from, to, NULL);
	for (size_t i = 0; i < n_moved; i++) {
		op_queue(fs, OP_EXAMINE, root, moved[i], NULL, NULL);
		free(moved[i]);
	}
	free(moved);
}

static void
on_move_to(struct fim_src *fs, const struct inotify_event *ev, int root, const char *path)
{
	if (fs->move_from != NULL && fs->move_cookie == ev->cookie) {
		if (fs->move_dir)
			watches_move(fs, fs->move_from, path, root);
		/* the job observes the new name: under its own root */
		ops_follow_rename(fs, fs->move_from, path, root);
		free(fs->move_from);
		fs->move_from = NULL;
		return;
	}
	move_flush(fs);
	op_queue(fs, (ev->mask & IN_ISDIR) ? OP_SCAN : OP_EXAMINE, root, path, NULL, NULL);
}

/* What one event (not excluded, with a name) asks for. */
static void
on_event(struct fim_src *fs, const struct inotify_event *ev, int root, const char *path)
{
	if (ev->mask & IN_MOVED_TO) {
		on_move_to(fs, ev, root, path);
		return;
	}
	move_flush(fs);
	if (ev->mask & IN_MOVED_FROM) {
		if ((fs->move_from = strdup(path)) == NULL) {
			op_queue(fs, OP_EXAMINE, root, path, NULL, NULL);
			return;
		}
		fs->move_cookie = ev->cookie;
		fs->move_dir = (ev->mask & IN_ISDIR) != 0;
		fs->move_root = root;
		dirty_del(fs, path);
		return;
	}
	if ((ev->mask & IN_CREATE) && (ev->mask & IN_ISDIR)) {
		op_queue(fs, OP_SCAN, root, path, NULL, NULL);
		return;
	}
	if (ev->mask & (IN_MODIFY | IN_CREATE)) {
		settle(fs, root, path);
		return;
	}
	/* a chmod of a file still being written (open(O_CREAT), fchmod,
	 * write, close) is seen with the rest, when it is closed */
	if ((ev->mask & IN_ATTRIB) && dirty_find(fs, path) != NULL)
		return;
	dirty_del(fs, path);	/* IN_CLOSE_WRITE, IN_ATTRIB, IN_DELETE: now */
	op_queue(fs, OP_EXAMINE, root, path, NULL, NULL);
}

/* The root an event in w is about (filtered watches: its name's), or -1. */
static int
event_root(const struct fim_watch *w, const char *name)
{
	if (w->all)
		return w->root;
	for (size_t i = 0; i < w->n_names; i++)
		if (strcmp(w->names[i], name) == 0)
			return w->name_roots[i];
	return -1;
}

static void
handle_event(struct fim_src *fs, const struct inotify_event *ev)
{
	struct fim_watch *w;
	char *path;
	int root;

	fs->st.events++;
	if (ev->mask & IN_Q_OVERFLOW) {
		on_overflow(fs);
		return;
	}
	if ((w = watch_find(fs, ev->wd)) == NULL)
		return;	/* a watch removed already */
	if (ev->mask & IN_IGNORED) {
		watch_del(fs, w, false);
		return;
	}
	/* events about a watched directory itself come from its parent's
	 * watch as well, with the name */
	if (ev->len == 0 || ev->name[0] == '\0' || (root = event_root(w, ev->name)) < 0)
		return;
	if ((path = join(w->path, ev->name)) == NULL) {
		fs->st.lost++;
		return;
	}
	if (ht_fim_excluded(fs->conf.exclude, fs->conf.n_exclude, path)) {
		/* moved to an excluded name: moved out */
		if (ev->mask & (IN_MOVED_TO | IN_MOVED_FROM))
			move_flush(fs);
	} else {
		on_event(fs, ev, root, path);
	}
	free(path);
}

static void
fs_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fim_src *fs = arg;
	ssize_t n;

	while (fs->n_ops < FIM_OPS_MAX) {
		n = read(fs->ifd, fs->buf, FIM_READ_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && rl_ok(fs))
				log_warn("fim: reading inotify events");
			break;
		}
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(fs->buf + off);

			handle_event(fs, ev);
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	/* the kernel queues both halves of a rename at once: a half alone
	 * after everything was read moved out of the trees */
	if (fs->n_ops < FIM_OPS_MAX)
		move_flush(fs);
	fs_pump(fs);
}

/* Files that settled are examined now. */
static void
dirty_due(struct fim_src *fs, bool all_of_them)
{
	int64_t now = ht_mono_ms();
	size_t n;
	struct fim_node **nodes;

	if (fs->dirty.n == 0 || (nodes = tbl_all(&fs->dirty, &n)) == NULL)
		return;
	for (size_t i = 0; i < n && fs->n_ops < FIM_OPS_MAX; i++) {
		struct fim_dirty *d = (struct fim_dirty *)nodes[i];

		if (!all_of_them && d->due_ms > now)
			continue;
		op_queue(fs, OP_EXAMINE, d->root, d->path, NULL, NULL);
		tbl_remove(&fs->dirty, &d->node);
		free(d);
	}
	free(nodes);
}

static void
fs_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fim_src *fs = arg;

	if (fs->job == NULL)
		dirty_due(fs, fs->draining);
	fs_submit(fs);
	fs_pump(fs);
}

/* Start the next job if there is work and room; else read events. */
static void
fs_pump(struct fim_src *fs)
{
	char why[256];
	struct fim_job *j;

	if (fs->job != NULL || fs->stopping)
		return;
	if (fs->q_n + fs->inflight_recs >= FIM_QUEUE_MAX ||
	    (!fs->draining && ht_pipeline_blocked(fs->env->pipeline, why, sizeof(why)))) {
		read_enable(fs, false);	/* events wait in the kernel; the tick retries */
		return;
	}
	if (fs->n_ops == 0) {
		read_enable(fs, !fs->draining);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;	/* the tick tries again */
	j->fs = fs;
	j->ops = fs->ops;
	j->n = fs->n_ops;
	if (ht_worker_submit(fs->worker, job_work, job_done, j) < 0) {
		free(j);
		return;
	}
	fs->ops = NULL;
	fs->n_ops = fs->cap_ops = 0;
	fs->job = j;
	read_enable(fs, false);
}

/* ---- storing ---- */

static void fs_free(struct fim_src *fs);

static void
fs_batch_done(int err, void *arg)
{
	struct fim_batch *b = arg;
	struct fim_src *fs = b->fs;

	fs->inflight--;
	fs->inflight_recs -= b->n;
	if (err < 0) {
		fs->st.unstored += b->n;
		log_msg(HT_LOG_ERR, -err, "fim: %zu records could not be stored in history; they "
		    "are lost", b->n);
	} else {
		fs->st.durable += b->n;
	}
	free(b);
	if (fs->stopping) {
		if (fs->inflight == 0)
			fs_free(fs);
		return;
	}
	fs_submit(fs);
	fs_pump(fs);	/* reading may have waited for the queue to shrink */
}

static void
fs_submit(struct fim_src *fs)
{
	char why[256];

	if (fs->stopping || fs->submitting)
		return;
	fs->submitting = true;
	while (fs->q_n > 0 && fs->inflight < FIM_INFLIGHT_MAX) {
		size_t n = fs->q_n < FIM_BATCH_MAX ? fs->q_n : FIM_BATCH_MAX;
		struct fim_batch *b;
		int v;

		if (!fs->draining && ht_pipeline_blocked(fs->env->pipeline, why, sizeof(why))) {
			if (!fs->held_logged)
				log_warnx("fim: holding %zu records back: %s", fs->q_n, why);
			fs->held_logged = true;
			break;
		}
		if (fs->held_logged)
			log_info("fim: storing records again");
		fs->held_logged = false;
		if ((b = calloc(1, sizeof(*b))) == NULL)
			break;
		b->fs = fs;
		b->n = n;
		fs->inflight++;
		fs->inflight_recs += n;
		v = ht_pipeline_submit(fs->env->pipeline, fs->q, n, fs_batch_done, b);
		for (size_t i = 0; i < n; i++)
			ht_record_free(fs->q[i]);
		memmove(fs->q, fs->q + n, (fs->q_n - n) * sizeof(*fs->q));
		fs->q_n -= n;
		if (v < 0)
			fs_batch_done(v, b);
	}
	fs->submitting = false;
}

/* ---- start and stop ---- */

static int
root_init(struct fim_root *r, const char *path)
{
	size_t len = strlen(path);
	char *slash;

	while (len > 1 && path[len - 1] == '/')
		len--;	/* "/etc/" is "/etc" */
	if ((r->path = strndup(path, len)) == NULL || (r->parent = strdup(r->path)) == NULL)
		return -ENOMEM;
	slash = strrchr(r->parent, '/');
	r->name = strdup(strcmp(r->path, "/") == 0 ? "." : slash + 1);
	if (slash == r->parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	return r->name != NULL ? 0 : -ENOMEM;
}

static void
fs_free(struct fim_src *fs)
{
	size_t n;
	struct fim_node **all;

	if (fs == NULL)
		return;
	ht_worker_free(fs->worker);	/* a job running ends first; job_done frees it */
	if (fs->read_ev)
		event_free(fs->read_ev);
	if (fs->tick_ev)
		event_free(fs->tick_ev);
	if (fs->ifd >= 0)
		close(fs->ifd);
	tbl_free_all(&fs->map);
	tbl_free_all(&fs->dirty);
	if ((all = tbl_all(&fs->watches, &n)) != NULL)
		for (size_t i = 0; i < n; i++)
			watch_free((struct fim_watch *)all[i]);
	free(all);
	free(fs->watches.b);
	for (size_t i = 0; i < fs->n_ops; i++)
		op_clear(&fs->ops[i]);
	free(fs->ops);
	for (size_t i = 0; i < fs->q_n; i++)
		ht_record_free(fs->q[i]);
	free(fs->q);
	for (size_t i = 0; i < fs->n_roots; i++) {
		free(fs->roots[i].path);
		free(fs->roots[i].parent);
		free(fs->roots[i].name);
	}
	free(fs->roots);
	conf_clear(&fs->conf);
	conf_clear(&fs->next_conf);
	ht_audit_names_free(fs->names);
	free(fs->move_from);
	free(fs->buf);
	free(fs);
}

static int
fs_setup(struct fim_src *fs, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	int v;

	fs->env = env;
	if ((fs->roots = calloc(sc->n_paths, sizeof(*fs->roots))) == NULL ||
	    (fs->buf = malloc(FIM_READ_BUF)) == NULL || conf_copy(sc, &fs->conf) < 0 ||
	    ht_audit_names_new(0, 0, &fs->names) < 0)
		return -ENOMEM;
	for (; fs->n_roots < sc->n_paths; fs->n_roots++)
		if (root_init(&fs->roots[fs->n_roots], sc->paths[fs->n_roots]) < 0) {
			fs->n_roots++;	/* freed with the others */
			return -ENOMEM;
		}
	fs->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fs->ifd < 0) {
		v = -errno;
		log_msg(HT_LOG_ERR, -v, "fim: cannot create an inotify instance%s", v == -EMFILE ?
		    " (fs.inotify.max_user_instances is reached)" : "");
		return v;
	}
	if ((v = ht_worker_new(env->base, 1, "ht-fim", &fs->worker)) < 0)
		return v;
	fs->read_ev = event_new(env->base, fs->ifd, EV_READ | EV_PERSIST, fs_read_cb, fs);
	fs->tick_ev = event_new(env->base, -1, EV_PERSIST, fs_tick_cb, fs);
	if (fs->read_ev == NULL || fs->tick_ev == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < fs->n_roots; i++)
		if ((v = op_add(fs, OP_BASELINE, (int)i, fs->roots[i].path, NULL, NULL)) < 0)
			return v;
	event_add(fs->tick_ev, &(struct timeval){ 0, FIM_TICK_MS * 1000 });
	fs_pump(fs);
	return 0;
}

static int
fs_start(const struct ht_source_env *env, const struct ht_conf_source *sc, void **ret)
{
	struct fim_src *fs = calloc(1, sizeof(*fs));
	int v;

	if (fs == NULL)
		return -ENOMEM;
	fs->ifd = -1;
	v = fs_setup(fs, env, sc);
	if (v < 0) {
		if (v == -ENOMEM)
			log_msg(HT_LOG_ERR, ENOMEM, "fim: cannot start");
		fs_free(fs);
		return v;
	}
	log_info("fim: watching %zu path(s) from %s%s, %zu exclude pattern(s), hashing files up "
	    "to %" PRIu64 " bytes; taking the baseline", fs->n_roots, fs->roots[0].path,
	    fs->n_roots > 1 ? " on" : "", fs->conf.n_exclude, fs->conf.hash_max);
	*ret = fs;
	return 0;
}

static int
fs_reconfigure(void *state, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct fim_src *fs = state;
	struct fim_conf c;
	bool same = sc->hash_max == fs->conf.hash_max && sc->n_exclude == fs->conf.n_exclude;

	fs->env = env;
	for (size_t i = 0; same && i < sc->n_exclude; i++)
		same = strcmp(sc->exclude[i], fs->conf.exclude[i]) == 0;
	if (same && fs->st.limit_hits == 0)
		return 0;
	if (conf_copy(sc, &c) < 0)
		return -ENOMEM;
	conf_clear(&fs->next_conf);
	fs->next_conf = c;
	fs->conf_pending = true;
	fs->limit_logged = false;
	if (fs->job == NULL) {
		conf_apply(fs);
		fs_pump(fs);
	}
	return 0;
}

static bool
fs_same(void *state, const struct ht_conf_source *sc)
{
	struct fim_src *fs = state;
	struct fim_root r;
	bool same;

	if (sc->n_paths != fs->n_roots)
		return false;
	for (size_t i = 0; i < sc->n_paths; i++) {
		if (root_init(&r, sc->paths[i]) < 0)
			return false;
		same = strcmp(r.path, fs->roots[i].path) == 0;
		free(r.path);
		free(r.parent);
		free(r.name);
		if (!same)
			return false;
	}
	return true;
}

static void
fs_drain(void *state)
{
	struct fim_src *fs = state;

	fs->draining = true;
	/* a baseline still being taken makes no records: not worth waiting for */
	if (!fs->ready)
		atomic_store(&fs->cancel, true);
	read_enable(fs, false);
	move_flush(fs);
	dirty_due(fs, true);	/* files still settling are examined now */
	fs_submit(fs);
	fs_pump(fs);
}

static unsigned
fs_inflight(void *state)
{
	struct fim_src *fs = state;

	return fs->inflight + (fs->q_n > 0 || fs->n_ops > 0 || fs->job != NULL ? 1 : 0);
}

static void
fs_status(void *state, char *buf, size_t len)
{
	struct fim_src *fs = state;
	const struct fim_stats *s = &fs->st;

	snprintf(buf, len, "fim (%s%s): %zu paths known, %zu watches, %" PRIu64 " events, %"
	    PRIu64 " records (%" PRIu64 " stored, %" PRIu64 " queued), %" PRIu64 " overflows, %"
	    PRIu64 " rescans, %" PRIu64 " directories not watched (watch limit), %" PRIu64
	    " watch errors, %" PRIu64 " unreadable, %" PRIu64 " untracked, %" PRIu64 " lost (%"
	    PRIu64 " not stored)%s", fs->roots[0].path, fs->n_roots > 1 ? " ..." : "", fs->map.n,
	    fs->watches.n, s->events, s->records, s->durable, (uint64_t)fs->q_n +
	    fs->inflight_recs, s->overflows, s->rescans, s->limit_hits, s->watch_errors,
	    s->unreadable, s->untracked, s->lost, s->unstored, fs->ready ? "" :
	    "; taking the baseline");
}

static void
fs_stop(void *state)
{
	struct fim_src *fs = state;

	fs->stopping = true;
	atomic_store(&fs->cancel, true);
	read_enable(fs, false);
	event_free(fs->read_ev);
	event_free(fs->tick_ev);
	fs->read_ev = fs->tick_ev = NULL;
	ht_worker_free(fs->worker);	/* waits for a job running; it is dropped */
	fs->worker = NULL;
	if (fs->inflight > 0) {
		log_warnx("fim: stopping with %u batches not yet stored", fs->inflight);
		return;	/* the last one frees */
	}
	fs_free(fs);
}

const struct ht_source_ops ht_src_fim_ops = {
	.type = "fim",
	.start = fs_start,
	.reconfigure = fs_reconfigure,
	.drain = fs_drain,
	.inflight = fs_inflight,
	.status = fs_status,
	.stop = fs_stop,
	.same = fs_same,
};
