/*
 * journal.h - the journal source: reads the systemd journal (the system's,
 * or the files of one directory) through sd-journal, keeps the entries its
 * matches select, maps each one to a CloudTrail record
 * (sources/hostmsg.h) and hands them to the pipeline.  Its ops table is
 * ht_src_journal_ops (sources/source.h).
 *
 * Where it is in the journal survives restarts as a journal cursor in a
 * checkpoint file, advanced only when the pipeline says the entries up to
 * it are durable.  The pure parts (what is kept of an entry's fields, the
 * checkpoint's format, recognizing this source's records in history) are
 * exported for the unit tests.
 */
#ifndef HT_JOURNAL_H
#define HT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/source.h"

struct ht_hostmsg;

/* The longest field value kept (sd_journal_set_data_threshold too); a
 * longer one is cut there (sd-journal cuts compressed ones itself). */
#define HT_JOURNAL_FIELD_MAX (64 * 1024)

/* The fields of an entry the mapping uses. */
enum ht_journal_field {
	HT_JF_MESSAGE,
	HT_JF_HOSTNAME,
	HT_JF_SYSLOG_IDENTIFIER,
	HT_JF_COMM,
	HT_JF_PID,
	HT_JF_SYSLOG_PID,
	HT_JF_UID,
	HT_JF_SYSTEMD_UNIT,
	HT_JF_MESSAGE_ID,
	HT_JF_UNIT,
	HT_JF_USER_UNIT,
	HT_JF_JOB_TYPE,
	HT_JF_JOB_RESULT,
	HT_JF_COUNT
};

/* What was wrong with an entry's data (ht_journal_fields.bad). */
enum ht_journal_bad {
	HT_JBAD_SHAPE = 0x1,		/* a field without '=' or with an empty name */
	HT_JBAD_NUL = 0x2,		/* a kept value held NUL bytes (kept as the text \x00) */
	HT_JBAD_NUMBER = 0x4,		/* _PID, SYSLOG_PID or _UID not a number */
	HT_JBAD_CUT = 0x8,		/* a kept value was longer than HT_JOURNAL_FIELD_MAX */
	HT_JBAD_READ = 0x10,		/* sd-journal could not read (all of) the entry */
	HT_JBAD_TIME = 0x20,		/* no usable __REALTIME_TIMESTAMP */
	HT_JBAD_SENDER = 0x40,		/* SYSLOG_IDENTIFIER is not the sender's _COMM:
					 * mapped under _COMM instead */
};

/*
 * The kept fields of one entry, copied (sd-journal's data is valid only
 * until its next call) into one buffer reused from entry to entry.  Zero
 * it before first use; ht_journal_fields_reset between entries.
 */
struct ht_journal_fields {
	char *buf;			/* the values, each NUL-terminated */
	size_t len, cap;
	size_t off[HT_JF_COUNT];	/* offset + 1 in buf; 0: absent */
	unsigned bad;			/* HT_JBAD_* seen in this entry */
};

/* Forget the values (the buffer stays for the next entry). */
void ht_journal_fields_reset(struct ht_journal_fields *f);
/* One "FIELD=value" item of len bytes (sd_journal_enumerate_data's form,
 * not NUL-terminated, binary allowed): kept if FIELD is one of
 * ht_journal_field and not already present (the first wins), ignored
 * otherwise.  0, or -ENOMEM (f unchanged).  Malformed items set f->bad. */
int ht_journal_fields_add(struct ht_journal_fields *f, const void *data, size_t len);
/* The value of field k, or NULL. */
const char *ht_journal_fields_get(const struct ht_journal_fields *f, enum ht_journal_field k);
/* *ret (pointing into f, which must outlive it) for realtime_us
 * (__REALTIME_TIMESTAMP; 0: unknown): ident SYSLOG_IDENTIFIER else _COMM,
 * pid _PID else SYSLOG_PID, unit UNIT else USER_UNIT, origin "journal".
 * A number that does not parse is -1 (and sets HT_JBAD_NUMBER). */
void ht_journal_fields_hostmsg(struct ht_journal_fields *f, uint64_t realtime_us,
    struct ht_hostmsg *ret);
/* Free the buffer and zero f; NULL is a no-op. */
void ht_journal_fields_free(struct ht_journal_fields *f);

/*
 * The checkpoint: every entry up to and including cursor is in durable
 * records (cursor NULL: none yet, start at the journal's head).  A crash
 * can leave records of later entries in history before the checkpoint
 * file says so: history from (hist_day, hist_off) on holds every record
 * submitted after this checkpoint's, and their entries are not sent again.
 */
struct ht_journal_checkpoint {
	char *cursor;			/* sd_journal_get_cursor's text, or NULL */
	uint32_t hist_day;		/* YYYYMMDD; 0: unknown (no history scan) */
	uint64_t hist_off;
};

/* The checkpoint as text (what names the journal read, informational).
 * 0 with *ret (malloc'd, NUL-terminated) and *ret_len, or -ENOMEM. */
int ht_journal_checkpoint_format(const struct ht_journal_checkpoint *cp, const char *what,
    char **ret, size_t *ret_len);
/* Parse text from ht_journal_checkpoint_format.  0 with *ret filled (free
 * with ht_journal_checkpoint_clear), -EINVAL if it is not a complete
 * checkpoint, -ENOMEM. */
int ht_journal_checkpoint_parse(const char *text, size_t len, struct ht_journal_checkpoint *ret);
/* Free what cp holds and zero it. */
void ht_journal_checkpoint_clear(struct ht_journal_checkpoint *cp);

/* The id a source writes into additionalEventData.journalSource: 8 hex
 * digits of a hash of its checkpoint path as configured (unique among
 * sources, the config makes sure), into buf (9 bytes). */
void ht_journal_source_id(const char *checkpoint, char buf[9]);
/* Is the serialized record json (len bytes) one of source id's?  1 with
 * *ret_hash (the 64-bit hash of its journalCursor, as the source keys
 * entries by), 0 if not, -ENOMEM. */
int ht_journal_record_key(const char *json, size_t len, const char *id, uint64_t *ret_hash);
/* The 64-bit hash of a cursor that ht_journal_record_key gives. */
uint64_t ht_journal_cursor_hash(const char *cursor);

#endif
