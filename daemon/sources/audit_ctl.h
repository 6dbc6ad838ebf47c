/*
 * audit_ctl.h - the control side of the kernel audit source: audit rules in
 * auditctl's syntax compiled with libaudit, the kernel's audit status, and
 * taking over as the host's audit daemon (unicast mode) and giving it back.
 *
 * Rules.  One rule per line, as auditctl takes it on the command line or
 * reads it with -R: "-a always,exit -F arch=b64 -S execve -k exec" or
 * "-w /etc/shadow -p wa -k shadow".  Supported: -a/-A LIST,ACTION (either
 * order; lists exit, task, user, exclude, filesystem; actions always,
 * never), -S (names or numbers, comma-separated, repeatable, "all"; only on
 * the exit list), -F NAME OP VALUE for every field libaudit knows (OP one of
 * = != < > <= >= & &=; -F arch= must come before -S, whose names it
 * selects), -C (field comparisons), -k KEY (as -F key=; several keys are
 * joined with 0x01 as auditctl does, AUDIT_MAX_KEY_LEN bytes in all), and
 * -w PATH [-p rwxa] [-k KEY] watches (rwxa when -p is missing).  An option's
 * value is the next word or the rest of its own ("-Sexecve"); values are not
 * quoted.  A rule on any list but task that names no syscall gets all of
 * them, as auditctl does.  Everything else auditctl takes (-D -d -W -e -b -r
 * -f -s -l -R -i -c --backlog_wait_time ...) is refused: control settings
 * are config keys and hosttrail removes only the rules it added.  Duplicates
 * are kept (the kernel answers EEXIST for the second one).
 *
 * Rule compilation and the takeover use libaudit, whose rule builders keep
 * per-rule state in process globals: call them from one thread at a time.
 * libaudit may ask the kernel for its feature bitmap (AUDIT_GET, read-only)
 * the first time a field depends on it (exe, sessionid, the exclude list).
 * Nothing here logs: errors go to errbuf as one line naming what and where
 * (errbuf may be NULL).
 */
#ifndef HT_AUDIT_CTL_H
#define HT_AUDIT_CTL_H

#include <stddef.h>
#include <stdint.h>

#define HT_AUDIT_RULE_MAX 8192			/* bytes in one rule line */
#define HT_AUDIT_RULES_FILE_MAX (4u << 20)	/* bytes in a rules file */
#define HT_AUDIT_STATE_FILE_MAX (16u << 20)	/* bytes in a state file */
#define HT_AUDIT_CTL_TIMEOUT_MS 2000		/* wait for a status reply */

struct audit_rule_data;		/* linux/audit.h */

/* ---- rules ---------------------------------------------------------------- */

/* An ordered list of compiled rules, each with its text and origin. */
struct ht_audit_rules;

/* A new empty list.  0 or -ENOMEM. */
int ht_audit_rules_new(struct ht_audit_rules **ret);
/* Compile one rule line and append it.  A blank line or a '#' comment adds
 * nothing and returns 0; a line break inside is refused.  origin names the
 * rule in errors and later messages ("rules[2]",
 * "/etc/hosttrail/audit.rules:7"); errors read "ORIGIN: OPTION: why", e.g.
 * "rules[2]: -S: unknown syscall \"exeve\"".
 * 0, -EINVAL (errbuf says why; rs unchanged), -ENOMEM. */
int ht_audit_rules_add(struct ht_audit_rules *rs, const char *line, const char *origin,
    char *errbuf, size_t errlen);
/* Every line of a rules file, as auditctl -R reads it; each rule's origin is
 * "PATH:LINE".  All or nothing: on error rs is as before.  0, -errno when it
 * cannot be read ("rules_file PATH: why"), -EFBIG past
 * HT_AUDIT_RULES_FILE_MAX, -EINVAL at the first bad line ("rules_file
 * PATH:LINE: OPTION: why"), -ENOMEM. */
int ht_audit_rules_add_file(struct ht_audit_rules *rs, const char *path, char *errbuf,
    size_t errlen);
/* How many rules rs holds. */
size_t ht_audit_rules_count(const struct ht_audit_rules *rs);
/* Rule i as written, without surrounding blanks; i < count. */
const char *ht_audit_rules_text(const struct ht_audit_rules *rs, size_t i);
/* Where rule i came from, as given to ht_audit_rules_add; i < count. */
const char *ht_audit_rules_origin(const struct ht_audit_rules *rs, size_t i);
/* Rule i compiled, with flags (list, AUDIT_FILTER_PREPEND for -A) and
 * action set, as it goes to the kernel; i < count.  Borrowed. */
const struct audit_rule_data *ht_audit_rules_data(const struct ht_audit_rules *rs, size_t i);
/* NULL is a no-op. */
void ht_audit_rules_free(struct ht_audit_rules *rs);

/* ---- status --------------------------------------------------------------- */

/* struct audit_status as the kernel reports it (AUDIT_GET). */
struct ht_audit_status {
	uint32_t mask, enabled, failure, pid, rate_limit, backlog_limit, lost, backlog,
	    backlog_wait_time;
};

/* Parse an AUDIT_GET reply's payload (struct audit_status).  Older kernels
 * send a shorter struct: members past len are 0; len must reach at least
 * backlog (32 bytes).  Pure.  0 or -EINVAL. */
int ht_audit_status_parse(const void *payload, size_t len, struct ht_audit_status *ret);
/* Ask for the status on fd (a NETLINK_AUDIT control socket, not the event
 * socket: other messages read while waiting are discarded) and wait up to
 * timeout_ms for the reply.  0, -ETIMEDOUT, or -errno from the kernel
 * (-ECONNREFUSED, -EPERM in a container). */
int ht_audit_status_get(int fd, int timeout_ms, struct ht_audit_status *ret);

/* ---- the saved state of a takeover ------------------------------------------ */

/* What a takeover writes to its state file before it changes anything: the
 * settings to restore and the text of every rule it adds. */
struct ht_audit_saved {
	struct ht_audit_status status;	/* enabled, failure, backlog_limit and
					 * rate_limit; the rest 0 */
	char **rules;
	size_t n_rules;
};

/* The state file's text (JSON, one line, newline-terminated); *ret is
 * malloc'd.  0 or -ENOMEM. */
int ht_audit_saved_format(const struct ht_audit_saved *s, char **ret, size_t *ret_len);
/* Parse text from ht_audit_saved_format.  0 with *ret filled (free with
 * ht_audit_saved_clear), -EINVAL if it is not a complete, valid state (errbuf
 * says what is wrong), -ENOMEM.  *ret untouched on failure. */
int ht_audit_saved_parse(const char *text, size_t len, struct ht_audit_saved *ret,
    char *errbuf, size_t errlen);
/* Free what s holds and zero it. */
void ht_audit_saved_clear(struct ht_audit_saved *s);

/* ---- unicast takeover ------------------------------------------------------- */

struct ht_audit_unicast_conf {
	uint32_t backlog_limit;			/* always set */
	uint32_t rate_limit;			/* messages/s; 0 = unlimited */
	int failure;				/* -1 leave as is, else 0 silent, 1 printk,
						 * 2 panic */
	const struct ht_audit_rules *rules;	/* borrowed for the call; NULL = none */
};

struct ht_audit_takeover;

/*
 * Make this process the kernel's audit daemon, receiving on event_fd (a
 * NETLINK_AUDIT socket the caller reads; the pid set is getpid(), sent
 * through event_fd so the kernel delivers there).  Other requests go
 * through a control socket of its own.  In order:
 *   - read the status; -EBUSY when another live process is the audit
 *     daemon (or the kernel answers EEXIST later); -EPERM when the audit
 *     configuration is locked (enabled 2);
 *   - write state_path (atomically) with the status to restore and the
 *     rules about to be added.  If state_path exists, an earlier run ended
 *     without restoring: its saved status is kept as the one to restore and
 *     the rules it lists are deleted first (those already gone are fine);
 *   - set failure (unless -1), backlog_limit, rate_limit; add each rule (one
 *     the kernel already has is not ours: counted as present, never
 *     deleted; state_path is rewritten without it); set the pid; enable.
 * On failure what was done is undone and errbuf names the step ("adding
 * rule rules[1] (-a always,exit ...): Invalid argument"); state_path stays
 * only if the undo failed too.  The caller's reader should ignore netlink
 * acks (NLMSG_ERROR with error 0) on event_fd: the one answering the pid
 * request may arrive after the first events.  0 with *ret, or -errno.
 */
int ht_audit_takeover(int event_fd, const struct ht_audit_unicast_conf *c,
    const char *state_path, struct ht_audit_takeover **ret, char *errbuf, size_t errlen);
/* What the takeover did, for the log: rules added, rules the kernel already
 * had, and the status ht_audit_restore will restore.  Any of the three
 * output pointers may be NULL. */
void ht_audit_takeover_info(const struct ht_audit_takeover *t, size_t *added, size_t *present,
    struct ht_audit_status *saved);
/* Give audit back, from the process that took it over: delete the rules it
 * added (those already gone are fine), restore enabled, failure,
 * backlog_limit and rate_limit, set the pid to 0, and remove state_path;
 * through a control socket of its own.  Each step is tried even when one
 * fails; state_path stays then, so the next takeover finishes the job.
 * 0 or the first -errno (errbuf names the step).  Frees t; NULL is a
 * no-op returning 0. */
int ht_audit_restore(struct ht_audit_takeover *t, char *errbuf, size_t errlen);

#endif
