/*
 * tail.h - follows one log file by its name, as `tail -F` does, and hands
 * out its lines one at a time with the position of each.  For sources that
 * read classic log files line by line (sources/logfile.h); nothing here
 * knows what a line says.
 *
 * A file is known by its inode plus a hash of its head (its first line, at
 * most HT_TAIL_HEAD bytes): inodes are reused once a file is deleted, and a
 * copy made by logrotate's copytruncate has a new inode but the same head.
 * A position is such a file identity plus a byte offset, always at the
 * start of a line; it survives restarts (ht_tail_pos_format).
 *
 * What it follows (README, "The log file source"):
 *   - appends; a line without its newline waits until it is complete;
 *   - rotation by rename (any new name: path.1, path-20261124, ...): the
 *     descriptor of the old file is read to its end first, then the new
 *     file at the path from its start;
 *   - copytruncate (the file shrank, or its head changed, under the same
 *     inode): what we had not read yet is in the copy, which is found by its
 *     head and read from our offset on; then the file from its start.
 *     Lines written between the copy and the truncation are in neither
 *     file (logrotate's own window) and are lost;
 *   - truncation without a copy: the file is read again from its start.
 *
 * The handle does no I/O of its own between calls: the caller drives it
 * with ht_tail_read (from its event loop), waking on ht_tail_fd (inotify)
 * or a timer.  Not thread-safe.  It logs rotations and truncations at info
 * and warning level, prefixed with the path.
 */
#ifndef HT_TAIL_H
#define HT_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes of a file's first line that name it. */
#define HT_TAIL_HEAD 256
/* The longest position text, with its NUL. */
#define HT_TAIL_POS_LEN 80

struct ht_tail;

struct ht_tail_id {
	uint64_t ino;
	uint32_t head_len;		/* bytes hashed; 0: no complete first line yet
					 * (matches any head) */
	uint64_t head_hash;		/* ht_tail_head_hash of those bytes */
};

/* Before the line starting at off of the file id. */
struct ht_tail_pos {
	struct ht_tail_id id;
	uint64_t off;
};

struct ht_tail_conf {
	const char *path;		/* absolute; borrowed for ht_tail_open only */
	size_t chunk;			/* most bytes one ht_tail_read reads; 0: 1 MiB */
	size_t max_line;		/* longer lines are cut to this; 0: 64 KiB */
	unsigned rotate_grace_ms;	/* a renamed file nobody wrote to this long, while
					 * its successor stays empty, is finished; 0: 2 s */
	bool watch;			/* inotify (else the caller polls) */
};

enum ht_tail_start {
	HT_TAIL_START_END,		/* the live file, after its last complete line */
	HT_TAIL_START_BEGINNING,	/* the newest rotated file (if any), then the live
					 * one, both from their start */
};

/* What ht_tail_read says about one line. */
struct ht_tail_line {
	struct ht_tail_pos at;		/* where it starts */
	uint64_t end;			/* the offset after it (and its newline) */
	size_t full_len;		/* its length without the newline, before cutting */
	bool cut;			/* longer than max_line: only the first max_line
					 * bytes are passed */
	bool unterminated;		/* the last bytes of a finished file, without a
					 * newline */
};

/* Called for each complete line (len bytes, no newline, not NUL-terminated;
 * a "\r" before the newline is kept).  Return 0 to go on, 1 to stop after
 * this line (the next ht_tail_read goes on with the next one), or -errno
 * to stop with that error. */
typedef int (*ht_tail_line_fn)(const char *line, size_t len, const struct ht_tail_line *info,
    void *arg);

struct ht_tail_stats {
	uint64_t lines;			/* delivered */
	uint64_t bytes;			/* read from files */
	uint64_t cut;			/* lines longer than max_line */
	uint64_t rotations;		/* files finished after a rename */
	uint64_t truncations;		/* files that shrank or changed their head */
	uint64_t copies;		/* ... whose rest was read from a copy */
};

/* FNV-1a 64 of len bytes. */
uint64_t ht_tail_head_hash(const void *data, size_t len);

/* Follow conf->path.  With from (a position from ht_tail_tell, NULL on a
 * first run) reading resumes there: in the file with from's identity at
 * the path or renamed beside it (then the files rotated after it by
 * mtime, oldest first, then the path), or in a copy of it when it was
 * truncated since (then the path from its start).  When from's file was
 * truncated and no copy is here, that file is read from its start; when
 * it is gone, every uncompressed rotated file and then the path are (all
 * of them are newer).  Without from, start says where.  A missing file is
 * waited for (and read from its start once it appears).  Returns 1 when
 * from was found, 0 otherwise, with *ret; or -errno (-EINVAL for a path
 * that is not absolute, -ENOMEM, or an error opening a file); what it
 * decides is logged, errors are not. */
int ht_tail_open(const struct ht_tail_conf *conf, const struct ht_tail_pos *from,
    enum ht_tail_start start, struct ht_tail **ret);

/* Read at most conf->chunk bytes and pass the complete lines to fn; lines
 * left over from a pass fn stopped are passed first.  Returns 1 when there
 * may be more to read at once, 0 when idle (wait for ht_tail_fd or a
 * timer), or -errno: fn's error, or a read error (the position is kept;
 * the next call tries again). */
int ht_tail_read(struct ht_tail *t, ht_tail_line_fn fn, void *arg);

/* The position after the last line passed to fn (during fn: after that
 * line), which is where a restart from it resumes. */
void ht_tail_tell(const struct ht_tail *t, struct ht_tail_pos *ret);

/* Resume after the line starting at off of the file id (or of the file
 * that id's copy stands for), if that is ahead of ht_tail_tell: files
 * before it are dropped.  For records known to be delivered already (a
 * crash after delivery, before the caller saved its position).  1 when
 * the position moved, 0 when it is already past that line, -ENOENT when
 * no file being followed is id, -EINVAL when off is not a line start of
 * it, -errno reading it. */
int ht_tail_skip_past(struct ht_tail *t, const struct ht_tail_id *id, uint64_t off);

/* The inotify descriptor to poll for reading (-1 without conf->watch or
 * when inotify is unavailable: poll with a timer then). */
int ht_tail_fd(const struct ht_tail *t);
/* Consume what the inotify descriptor has; call when it is readable. */
void ht_tail_notified(struct ht_tail *t);
/* True while a renamed file waits for its grace period: poll meanwhile. */
bool ht_tail_pending(const struct ht_tail *t);

/* The name the file being read was opened as (NULL while waiting for the
 * file to appear).  Borrowed until the next call. */
const char *ht_tail_name(const struct ht_tail *t);
void ht_tail_stats(const struct ht_tail *t, struct ht_tail_stats *ret);
/* Closes every descriptor.  NULL is a no-op. */
void ht_tail_free(struct ht_tail *t);

/* pos as "INODE HEADLEN HEADHASH OFFSET" (the hash as 16 hex digits)
 * into buf (at least HT_TAIL_POS_LEN bytes). */
void ht_tail_pos_format(const struct ht_tail_pos *pos, char *buf, size_t len);
/* Parse that text (exactly).  0 with *ret, or -EINVAL. */
int ht_tail_pos_parse(const char *text, struct ht_tail_pos *ret);
/* Same file: inode, head length and hash all equal. */
bool ht_tail_id_eq(const struct ht_tail_id *a, const struct ht_tail_id *b);

#endif
