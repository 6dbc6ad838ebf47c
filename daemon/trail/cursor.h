/*
 * cursor.h - a trail's persisted state: how far into history it has
 * delivered, and the batch it is about to build.
 *
 * Exactly-once without two-phase commit: before a batch is built, its
 * object key and history range are stored here ("the plan").  A crash
 * between writing the log file and advancing the position leaves the plan
 * behind, and the restarted trail rebuilds the same range under the same
 * key, overwriting rather than duplicating.  Stored as a small JSON file,
 * replaced atomically.
 */
#ifndef HT_CURSOR_H
#define HT_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "history/history.h"

#define HT_CURSOR_KEY_MAX 1024

struct ht_cursor {
	struct ht_history_pos pos;	/* everything before pos is delivered */
	bool has_plan;
	char plan_key[HT_CURSOR_KEY_MAX];	/* object key of the batch being built */
	struct ht_history_pos plan_to;	/* the batch covers [pos, plan_to) at most */
	bool logging;
	bool has_stop;			/* logging stopped: deliver up to stop_at only */
	struct ht_history_pos stop_at;
	int64_t start_logging_time;	/* epoch seconds, 0 = never */
	int64_t stop_logging_time;
	/* Delivery times live in the outbox's status.json; older cursor files
	 * carrying latestDelivery* keys still load (unknown keys are ignored). */
};

/* Load path into *ret.  -ENOENT if there is none, -EBADMSG if it does not
 * parse (the message names the file and what is wrong, in errbuf). */
int ht_cursor_load(const char *path, struct ht_cursor *ret, char *errbuf, size_t errlen);
/* Store c at path atomically (temp, fsync, rename, fsync dir). 0 or -errno. */
int ht_cursor_store(const char *path, const struct ht_cursor *c);

#endif
