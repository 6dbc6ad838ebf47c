/*
 * audit_parse.h - Linux audit records, as the kernel sends them over
 * NETLINK_AUDIT and as auditd writes them to audit.log (raw or ENRICHED
 * format), parsed and assembled into events.
 *
 * A record is one line: "type=SYSCALL msg=audit(1700000000.123:4567): k=v
 * k=v ..." (audit.log), or a netlink message whose type is the message type
 * and whose payload starts at "audit(" (netlink).  Records sharing
 * audit(TIME:SERIAL) form one event; the event closes at its EOE record,
 * at once for record types that stand alone (no EOE follows them: USER_*,
 * CRED_*, LOGIN, SERVICE_*, DAEMON_*, CONFIG_CHANGE, ANOM_*, ...), after the
 * end-of-event timeout (auditd's 2 s), when it reaches the size bound, or at
 * flush.  Events of different serials may interleave.
 *
 * A record that stands alone may still be followed by the records of the
 * syscall that carried it (USER_* sent while the sender's syscalls are
 * audited, LOGIN written to /proc/self/loginuid, CONFIG_CHANGE from
 * auditctl): SYSCALL, SOCKADDR, PROCTITLE and EOE with the same serial.
 * Those form a second event, flagged trailer, so the standalone record is
 * never held back waiting for an EOE that may not come.
 *
 * Values are decoded: a double-quoted value loses its quotes, an unquoted
 * even-length upper-case hex string in a field that audit hex-encodes
 * (proctitle, execve a0.. and a0[0].., name, cwd, comm, exe, data, key,
 * acct, cmd, path, ...) is decoded to its bytes (NUL bytes in proctitle
 * become spaces; a key holding several keys keeps their 0x01 separators),
 * "(null)" and "?" are kept as written, numbers are left as written
 * (auid=4294967295 stays a number).  In the ENRICHED format the interpreted
 * part after the 0x1d separator (UID="root" ...) goes to the interp of the
 * field of the same name, compared case-insensitively; an interpretation
 * whose field is missing becomes a field of its own, under its upper-case
 * name, with value and interp both set.  Inside msg='...' (USER_* and
 * other user-space records) the key=value pairs are fields of the record
 * too (op, acct, exe, hostname, addr, terminal, res, ...); there is no
 * field "msg" then.  A word without "=" after an unquoted value continues
 * that value ("op=adding user", "subj=/usr/sbin/cupsd (enforce)"); words
 * before the first field ("avc:  denied  { read } for") become the field
 * "text".
 *
 * EXECVE arguments too long for one record come as a1_len=N a1[0]=..
 * a1[1]=.., possibly over several EXECVE records; the assembler joins them
 * when the event closes, into one EXECVE record holding a1 (a*_len
 * dropped).  ht_audit_parse_* alone leaves the chunks as they came.
 *
 * Nothing here does I/O, logs or allocates per field: a record's strings
 * live in one arena owned by the record.  Pure and thread-compatible: one
 * assembler per source.
 */
#ifndef HT_AUDIT_PARSE_H
#define HT_AUDIT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HT_AUDIT_LINE_MAX (64 * 1024)	/* longer lines are refused */
#define HT_AUDIT_FIELDS_MAX 2048	/* more fields in one record are refused */

/* Record types used by name elsewhere (linux/audit.h numbers). */
enum {
	HT_AUDIT_USER = 1005,
	HT_AUDIT_LOGIN = 1006,
	HT_AUDIT_USER_AUTH = 1100,
	HT_AUDIT_USER_ACCT = 1101,
	HT_AUDIT_USER_MGMT = 1102,
	HT_AUDIT_CRED_ACQ = 1103,
	HT_AUDIT_CRED_DISP = 1104,
	HT_AUDIT_USER_START = 1105,
	HT_AUDIT_USER_END = 1106,
	HT_AUDIT_USER_AVC = 1107,
	HT_AUDIT_USER_CHAUTHTOK = 1108,
	HT_AUDIT_USER_LOGIN = 1112,
	HT_AUDIT_USER_LOGOUT = 1113,
	HT_AUDIT_ADD_USER = 1114,
	HT_AUDIT_DEL_USER = 1115,
	HT_AUDIT_ADD_GROUP = 1116,
	HT_AUDIT_DEL_GROUP = 1117,
	HT_AUDIT_CRED_REFR = 1110,
	HT_AUDIT_USER_CMD = 1123,
	HT_AUDIT_USER_TTY = 1124,
	HT_AUDIT_SERVICE_START = 1130,
	HT_AUDIT_SERVICE_STOP = 1131,
	HT_AUDIT_DAEMON_START = 1200,
	HT_AUDIT_DAEMON_END = 1201,
	HT_AUDIT_DAEMON_ABORT = 1202,
	HT_AUDIT_DAEMON_CONFIG = 1203,
	HT_AUDIT_SYSCALL = 1300,
	HT_AUDIT_PATH = 1302,
	HT_AUDIT_CONFIG_CHANGE = 1305,
	HT_AUDIT_SOCKADDR = 1306,
	HT_AUDIT_CWD = 1307,
	HT_AUDIT_EXECVE = 1309,
	HT_AUDIT_TTY = 1319,
	HT_AUDIT_EOE = 1320,
	HT_AUDIT_PROCTITLE = 1327,
	HT_AUDIT_AVC = 1400,
	HT_AUDIT_ANOM_PROMISCUOUS = 1700,
	HT_AUDIT_ANOM_ABEND = 1701,
	HT_AUDIT_KERNEL = 2000,
	HT_AUDIT_FIRST_ANOM = 1700,	/* 1700-1799: kernel anomalies */
	HT_AUDIT_FIRST_USER_ANOM = 2100,	/* 2100-2199: user-space anomalies */
};

struct ht_audit_field {
	const char *name;
	const char *value;	/* decoded, NUL-terminated; may hold NULs when hex-decoded:
				 * see len */
	size_t len;		/* bytes of value */
	const char *interp;	/* ENRICHED format's interpretation, or NULL */
	bool hex;		/* value was hex-encoded */
};

struct ht_audit_record {
	unsigned type;			/* 1300; 0 when only a name was given and unknown */
	const char *type_name;		/* "SYSCALL", "UNKNOWN[1234]" as written */
	int64_t time_ms;		/* from audit(SECONDS.MILLIS:SERIAL) */
	uint64_t serial;
	const char *node;		/* node=NAME prefix, or NULL */
	struct ht_audit_field *fields;
	size_t n_fields;
	uint64_t tag;			/* the caller's tag of the line (e.g. file offset);
					 * 0 from the parser, set it before feeding */
	/* owned storage follows */
};

/* The value of field name in r (first match), or NULL. */
const struct ht_audit_field *ht_audit_field(const struct ht_audit_record *r, const char *name);
/* Parse one line of audit.log (no trailing newline needed; a trailing "\n"
 * or "\r\n" is ignored).  0 with *ret (free with ht_audit_record_free), or
 * -EINVAL (not an audit record: errbuf says why and where, "reason at byte
 * N"), -E2BIG (longer than HT_AUDIT_LINE_MAX), -ENOMEM.  errbuf may be NULL. */
int ht_audit_parse_line(const char *line, size_t len, struct ht_audit_record **ret,
    char *errbuf, size_t errlen);
/* Parse one netlink message of type type whose payload is
 * "audit(TIME:SERIAL): fields" (trailing NULs and newline ignored).  As
 * ht_audit_parse_line; type_name is the table's name or "UNKNOWN[type]". */
int ht_audit_parse_netlink(unsigned type, const char *payload, size_t len,
    struct ht_audit_record **ret, char *errbuf, size_t errlen);
/* Free a record from ht_audit_parse_*; NULL is a no-op. */
void ht_audit_record_free(struct ht_audit_record *r);
/* "SYSCALL" for 1300, ...; NULL for a type without a known name. */
const char *ht_audit_type_name(unsigned type);
/* Does type stand alone (no EOE follows it)?  Below 1300 (user-space and
 * daemon messages, LOGIN), CONFIG_CHANGE, the netlabel configuration types
 * 1406-1419, 1700-1799 and 2000-2999; not type 0 (an unknown name). */
bool ht_audit_type_standalone(unsigned type);

/* One assembled event: every record of one audit(TIME:SERIAL), in arrival
 * order, without the EOE. */
struct ht_audit_event {
	int64_t time_ms;
	uint64_t serial;
	const char *node;		/* of the first record, or NULL */
	struct ht_audit_record **records;
	size_t n_records;
	bool complete;			/* closed by EOE or as a standalone type; false:
					 * timeout, size bound or flush */
	bool trailer;			/* its audit(TIME:SERIAL) was just emitted by a
					 * standalone record: these are the records of the
					 * syscall that carried it */
	uint64_t first_tag;		/* smallest record tag (e.g. file offset of its
					 * first line) */
};

/* The first record of type in e, or NULL. */
const struct ht_audit_record *ht_audit_event_record(const struct ht_audit_event *e,
    unsigned type);
/* Free an event handed out by an assembler, with its records; NULL is a no-op. */
void ht_audit_event_free(struct ht_audit_event *e);

struct ht_audit_asm;

struct ht_audit_asm_conf {
	uint64_t timeout_ms;		/* end-of-event timeout; 0 = 2000 */
	size_t max_records;		/* records per event before it is closed; 0 = 256 */
	size_t max_open;		/* open events before the oldest is closed; 0 = 1024 */
	size_t max_bytes;		/* bytes of records in open events before the oldest
					 * is closed; 0 = 64 MiB */
};

struct ht_audit_asm_stats {
	uint64_t records;		/* records fed */
	uint64_t events;		/* events emitted */
	uint64_t incomplete;		/* emitted without their EOE */
	uint64_t orphans;		/* EOE records without an open event (it had timed
					 * out or was evicted: timeout too short?) */
	unsigned open;			/* events open now */
	size_t bytes;			/* bytes of records held in open events */
};

/* Called for each closed event, which the callee owns (ht_audit_event_free).
 * It must not call back into the assembler that emits it. */
typedef void (*ht_audit_event_fn)(struct ht_audit_event *e, void *arg);

/* A new assembler emitting to fn(e, arg); conf NULL or its zero members take
 * the defaults.  0, -EINVAL (fn NULL) or -ENOMEM. */
int ht_audit_asm_new(const struct ht_audit_asm_conf *conf, ht_audit_event_fn fn, void *arg,
    struct ht_audit_asm **ret);
/* Feed one parsed record (taken over in every case) at time now_ms (any
 * monotonic clock; only differences matter).  Events it closes are emitted
 * before it returns: its own (EOE, standalone, size bound) and the ones
 * evicted to stay within max_open and max_bytes, the idlest first.
 * 0 or -ENOMEM (the record is freed). */
int ht_audit_asm_feed(struct ht_audit_asm *a, struct ht_audit_record *r, int64_t now_ms);
/* Close events idle for timeout_ms or longer as of now_ms (no record fed
 * for them since now_ms - timeout_ms), the idlest first. */
void ht_audit_asm_tick(struct ht_audit_asm *a, int64_t now_ms);
/* Close every open event (shutdown, end of a batch of input). */
void ht_audit_asm_flush(struct ht_audit_asm *a);
/* The smallest first_tag of the open events, or UINT64_MAX when none is open
 * (a file source never checkpoints past an event still being assembled). */
uint64_t ht_audit_asm_low_tag(const struct ht_audit_asm *a);
void ht_audit_asm_stats(const struct ht_audit_asm *a, struct ht_audit_asm_stats *ret);
/* Free a; events still open are dropped without being emitted (flush first
 * to keep them).  NULL is a no-op. */
void ht_audit_asm_free(struct ht_audit_asm *a);

#endif
