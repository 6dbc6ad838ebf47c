/*
 * fim.h - the file integrity source (type: fim): inotify watches on the
 * configured paths (recursively, new directories included at once, with
 * fnmatch excludes), and a record for every file or directory that is
 * created, written, deleted, renamed, or changes mode, owner or times,
 * with the SHA-256 of the new content (files up to hash_max), its owner
 * and mode.  They are data events (eventCategory Data, eventSource
 * host.file, the audit mapping's eventNames) whose resources are the files.
 * Its ops table is ht_src_fim_ops (sources/source.h); several fim sources
 * may run, one inotify instance each, told apart by their paths.
 *
 * What is known of each path is kept in memory (path -> type, size,
 * mtime, mode, owner, hash), taken when the source starts (the baseline:
 * no records) and kept up to date by the events.  When the kernel's event
 * queue overflows (IN_Q_OVERFLOW) the trees are walked again and compared
 * with it: every difference is a record, and a FileIntegrityRescan record
 * says that a rescan happened, why, and what it found.  Watches refused
 * for the inotify limit (fs.inotify.max_user_watches) are counted and
 * named in one warning; changes there are seen by rescans only.  Symbolic
 * links are recorded as links and never followed.
 *
 * No one is known to have made a change (inotify does not say who):
 * userIdentity is {"type":"Unknown"}; the owner is in responseElements.
 *
 * The pure parts (excludes, comparing two states, building records, and
 * observing one path) are exported for the unit tests.
 */
#ifndef HT_FIM_H
#define HT_FIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/source.h"

struct ht_record;

enum ht_fim_kind { HT_FIM_FILE, HT_FIM_DIR, HT_FIM_SYMLINK, HT_FIM_OTHER };

/* Why a state has no content hash. */
enum ht_fim_hash {
	HT_FIM_HASHED,
	HT_FIM_HASH_NONE,	/* not a regular file or symlink */
	HT_FIM_HASH_TOO_LARGE,	/* size > hash_max */
	HT_FIM_HASH_OFF,	/* hash_max is 0 */
	HT_FIM_HASH_UNREADABLE,	/* open or read failed */
};

/* What is known of one path.  A symlink's hash is that of its target's
 * name (the link is never followed). */
struct ht_fim_state {
	enum ht_fim_kind kind;
	uint32_t mode;			/* permission bits, 07777 */
	uint32_t uid, gid;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
	uint64_t dev, ino;
	enum ht_fim_hash hash;
	uint8_t sha256[32];
};

/* What differs between two states (ht_fim_diff). */
enum ht_fim_change_bit {
	HT_FIM_CREATED = 0x01,	/* no old state */
	HT_FIM_DELETED = 0x02,	/* no new state */
	HT_FIM_CONTENT = 0x04,	/* hash, size (or, unhashed, mtime) */
	HT_FIM_MODE = 0x08,
	HT_FIM_OWNER = 0x10,
	HT_FIM_TIMES = 0x20,	/* mtime alone (touch) */
	HT_FIM_TYPE = 0x40,	/* another kind of file at the path */
	HT_FIM_RENAMED = 0x80,	/* set by the caller for a rename */
};

/* The changes from old to new; NULL old: unknown before, NULL new: gone.
 * A directory's content is its entries, which have records of their own:
 * a directory only changes mode, owner or type. */
unsigned ht_fim_diff(const struct ht_fim_state *old, const struct ht_fim_state *new);

/* Does path match one of the fnmatch(3) patterns (flags 0: '*' also
 * matches '/')? */
bool ht_fim_excluded(char *const *patterns, size_t n, const char *path);

/* One change, for ht_fim_record.  Strings are borrowed. */
struct ht_fim_change {
	const char *path;
	const char *new_path;		/* renames: where it went */
	const struct ht_fim_state *old;	/* NULL: not known before */
	const struct ht_fim_state *cur;	/* NULL: gone */
	unsigned bits;			/* ht_fim_diff's, plus HT_FIM_RENAMED */
	const char *detected;		/* "inotify", "scan" (a new directory),
					 * "rescan" */
	const char *link_target;	/* a symlink's target, or NULL */
	const char *owner, *group;	/* names of cur's uid and gid, or NULL */
	int64_t time_s;			/* when it was seen */
};

/* The eventName of a change: CreateFile, CreateDirectory, CreateLink,
 * WriteFile, DeleteFile, DeleteDirectory, RenameFile,
 * ChangeFilePermissions, ChangeFileOwner or SetFileAttributes. */
const char *ht_fim_event_name(const struct ht_fim_change *c);
/* The record of c: host.file, eventType AwsServiceEvent, eventCategory
 * Data, readOnly false, userIdentity Unknown, resources Host::File (both
 * names of a rename), requestParameters {path[, newPath]},
 * responseElements the new state (type, size, mode "0644", uid, owner,
 * gid, group, mtime, sha256 or hashSkipped, linkTarget), additionalEventData
 * {source "fim", detectedBy, changes[], previous state}.  0 with *ret, or
 * -ENOMEM. */
int ht_fim_record(const struct ht_fim_change *c, struct ht_record **ret);

/* What one rescan of a tree found, for ht_fim_rescan_record. */
struct ht_fim_rescan {
	const char *root;
	const char *reason;		/* "overflow" (IN_Q_OVERFLOW), "reload" */
	uint64_t entries;		/* files and directories seen */
	uint64_t created, changed, deleted;
	uint64_t unreadable;		/* directories that could not be read */
	int64_t duration_ms;
	int64_t time_s;
};

/* host.file FileIntegrityRescan, a management event: serviceEventDetails
 * has the counts.  0 with *ret, or -ENOMEM. */
int ht_fim_rescan_record(const struct ht_fim_rescan *r, struct ht_record **ret);

/* Observe name in the directory dirfd without following a symlink: type,
 * owner, mode, times, and the SHA-256 of a regular file of at most
 * hash_max bytes (0: never), reused from known when its inode, size, mtime
 * and ctime are unchanged.  A symlink's target goes to *ret_link
 * (malloc'd) when ret_link is not NULL.  1 with *ret, 0 when there is no
 * such entry, or -errno. */
int ht_fim_observe(int dirfd, const char *name, uint64_t hash_max,
    const struct ht_fim_state *known, struct ht_fim_state *ret, char **ret_link);

#endif
