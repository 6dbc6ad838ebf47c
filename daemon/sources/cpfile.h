/*
 * cpfile.h - a source's checkpoint file: where the source stands in its
 * input, rewritten whenever that position becomes durable, without putting
 * fsync on the event loop.
 *
 * The source says "dirty" each time a new position is durable; at most
 * every HT_CPFILE_SAVE_MS the file is rewritten (ht_write_file_atomic: a
 * temporary file, fsync, rename, fsync of the directory) on a thread of its
 * own, with the text format() gives at that moment, so a burst of batches
 * costs one write.  A failed write is logged and retried every
 * HT_CPFILE_RETRY_MS.  At start and stop the source writes synchronously
 * (ht_cpfile_sync).
 */
#ifndef HT_CPFILE_H
#define HT_CPFILE_H

#include <stddef.h>

#define HT_CPFILE_SAVE_MS 200
#define HT_CPFILE_RETRY_MS 1000

struct event_base;
struct ht_cpfile;

/* The checkpoint's current text, malloc'd, in *ret_text / *ret_len; called
 * on the loop.  0 or -errno (the write is retried later). */
typedef int (*ht_cpfile_format_fn)(void *arg, char **ret_text, size_t *ret_len);

/* A checkpoint file at path (absolute; copied), written with format(arg)'s
 * text; what names the source in messages ("journal /var/log/journal").
 * The file's directory is created (0750) if missing.  0, -EIO (the
 * directory: logged), -ENOMEM or -errno (the thread). */
int ht_cpfile_new(struct event_base *base, const char *path, const char *what,
    ht_cpfile_format_fn format, void *arg, struct ht_cpfile **ret);
/* A newer position is durable: write it soon. */
void ht_cpfile_dirty(struct ht_cpfile *c);
/* Write now, on the loop, whether dirty or not (start, stop), after a
 * write in progress finished (it holds an older text).  0 or -EIO
 * (logged). */
int ht_cpfile_sync(struct ht_cpfile *c);
/* Is a position not yet written? */
int ht_cpfile_pending(const struct ht_cpfile *c);
/* Finish a write in progress (not a pending one: sync first to keep it)
 * and free.  NULL is a no-op. */
void ht_cpfile_free(struct ht_cpfile *c);

#endif
