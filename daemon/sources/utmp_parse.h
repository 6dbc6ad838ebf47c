/*
 * utmp_parse.h - the login accounting files (wtmp: sessions, boots,
 * runlevels; btmp: failed logins) as CloudTrail records.  Both hold fixed
 * size struct utmp records (<utmp.h>, written by login, sshd, init and
 * systemd through the libc API), appended one write each.
 *
 * Pure: bytes in, records out; no I/O, no logging, so the unit tests and
 * the fuzzer drive exactly what the logins source runs.  A reader carries
 * what one file needs between chunks: a partial trailing record (it waits
 * for the rest), the sessions still open (wtmp: a logout record names only
 * the terminal, the user comes from the login record) and counters.
 *
 * Mapping (README, "File integrity and login records"):
 *   wtmp USER_PROCESS   host.login  StartSession   (AwsConsoleSignIn)
 *   wtmp DEAD_PROCESS   host.login  EndSession     the session's user, start
 *   btmp any entry      host.login  UserLogin      errorCode AccessDenied
 *   wtmp BOOT_TIME      host.system SystemBoot     (AwsServiceEvent)
 *   wtmp RUN_LVL        host.system SystemShutdown (user "shutdown") or
 *                                   ChangeRunlevel
 *   wtmp NEW/OLD_TIME   host.system SetSystemTime
 *   wtmp INIT_PROCESS, LOGIN_PROCESS, ACCOUNTING, EMPTY: no record (counted
 *       as skipped: getty and init bookkeeping, no one signed in or out)
 *   anything not a utmp record (type out of range, microseconds or time
 *       impossible, a partial record at the end of a finished file):
 *       host.login UnknownLoginRecord with the bytes in hex, counted bad.
 * Every record: userIdentity as the audit mapping's login rows (Root or
 * IAMUser, principalId the uid when known, userName), sourceIPAddress from
 * ut_addr_v6, else ut_host; resources Host::User; additionalEventData
 * {source "utmp", file, path, inode, offset, utmpType}: (file, inode,
 * offset) names the record, so a restart can tell what history has.
 */
#ifndef HT_UTMP_PARSE_H
#define HT_UTMP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <utmp.h>

struct ht_record;

/* The size of one record: the host's own struct utmp (384 bytes with
 * glibc on x86_64), the layout its libc writes. */
#define HT_UTMP_RECORD_SIZE sizeof(struct utmp)
/* Open sessions remembered per reader; the oldest is forgotten past it. */
#define HT_UTMP_SESSIONS_MAX 256

enum ht_utmp_file { HT_UTMP_WTMP, HT_UTMP_BTMP };

/* One record, decoded: strings NUL-terminated, anything not printable
 * UTF-8 replaced by '?'. */
struct ht_utmp_entry {
	int type;			/* ut_type */
	int32_t pid;
	char line[UT_LINESIZE + 1];
	char id[4 * 4 + 1];		/* ut_id, printable, else hex */
	char user[UT_NAMESIZE + 1];
	char host[UT_HOSTSIZE + 1];
	int exit_termination, exit_status;
	int32_t session;
	int64_t sec;
	int32_t usec;
	char addr[46];			/* ut_addr_v6 as text; "" when all zero */
};

/* A session opened in wtmp and not yet closed. */
struct ht_utmp_session {
	char line[UT_LINESIZE + 1];
	char id[4 * 4 + 1];
	char user[UT_NAMESIZE + 1];
	char host[UT_HOSTSIZE + 1];
	char addr[46];
	int64_t sec;
	int32_t pid;
};

struct ht_utmp_stats {
	uint64_t entries;		/* whole records read */
	uint64_t records;		/* records made */
	uint64_t skipped;		/* entries that make no record */
	uint64_t bad;			/* generic records for what was not a utmp record */
};

/* Where the bytes come from, for the records' additionalEventData. */
struct ht_utmp_origin {
	enum ht_utmp_file file;
	const char *path;		/* borrowed for the call */
	uint64_t inode;
};

/* Resolve a user name to its uid (NSS in the daemon); NULL: no lookups.
 * Returns true with *ret_uid set when the user exists. */
typedef bool (*ht_utmp_uid_fn)(const char *user, uint32_t *ret_uid, void *arg);
/* A record made from the entry at offset (the reader's byte offset of its
 * first byte).  rec is the callee's; bad: it is a generic record for
 * bytes that were no utmp record.  Return 0 to go on, or -errno to stop
 * feeding (the entry counts as consumed). */
typedef int (*ht_utmp_emit_fn)(struct ht_record *rec, uint64_t offset, bool bad, void *arg);

struct ht_utmp_reader;

/* Decode one record of exactly HT_UTMP_RECORD_SIZE bytes.  0 with *ret, or
 * -EINVAL with a static reason in *ret_why when it cannot be a utmp
 * record. */
int ht_utmp_decode(const void *data, size_t len, struct ht_utmp_entry *ret, const char **ret_why);

/* A reader for one file.  uid_of may be NULL.  0 with *ret, or -ENOMEM. */
int ht_utmp_reader_new(enum ht_utmp_file file, ht_utmp_uid_fn uid_of, void *uid_arg,
    struct ht_utmp_reader **ret);
/* NULL is a no-op. */
void ht_utmp_reader_free(struct ht_utmp_reader *r);
/* The bytes that follow come from path (borrowed until the next call) at
 * inode, starting at offset off; a partial record held from before is
 * dropped (the caller flushes first when it matters). */
int ht_utmp_reader_reset(struct ht_utmp_reader *r, const char *path, uint64_t inode,
    uint64_t off);
/* Map the whole records of data[0, len) (following what came before),
 * calling emit for each record made; a trailing partial record is kept for
 * the next call.  0, -ENOMEM (the entry that failed is not consumed: feed
 * again from *ret_used), or emit's error.  *ret_used: bytes consumed,
 * including a kept partial record. */
int ht_utmp_feed(struct ht_utmp_reader *r, const void *data, size_t len, ht_utmp_emit_fn emit,
    void *arg, size_t *ret_used);
/* The file is finished (rotated away): a partial record still held
 * becomes a generic record.  0, -ENOMEM or emit's error. */
int ht_utmp_flush(struct ht_utmp_reader *r, ht_utmp_emit_fn emit, void *arg);
/* The next byte expected: where the partial record, if any, starts plus
 * its length.  The position from which reading resumes after a restart is
 * ht_utmp_resume_offset. */
uint64_t ht_utmp_offset(const struct ht_utmp_reader *r);
/* Where the first byte not yet in a record is (the start of a held
 * partial record). */
uint64_t ht_utmp_resume_offset(const struct ht_utmp_reader *r);
void ht_utmp_stats(const struct ht_utmp_reader *r, struct ht_utmp_stats *ret);

/* Open sessions (wtmp), for the checkpoint: *ret_n sessions, borrowed
 * until the next feed. */
const struct ht_utmp_session *ht_utmp_sessions(const struct ht_utmp_reader *r, size_t *ret_n);
/* Replace the open sessions with s[0, n) (at most HT_UTMP_SESSIONS_MAX
 * are kept, the newest).  0 or -ENOMEM. */
int ht_utmp_set_sessions(struct ht_utmp_reader *r, const struct ht_utmp_session *s, size_t n);

/* The (file, inode, offset) an utmp record in history names, from its
 * JSON text: true with the values, false for any other record. */
bool ht_utmp_record_key(const char *json, size_t len, enum ht_utmp_file *ret_file,
    uint64_t *ret_inode, uint64_t *ret_offset);

#endif
