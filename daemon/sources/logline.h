/*
 * logline.h - one line of a classic log file split into its parts: time,
 * host, program (ident), pid and message.  Pure: no I/O, no logging.
 *
 * Formats understood (README, "Host log mapping"):
 *   HT_LOGLINE_SYSLOG   "Nov 24 06:02:36 host sshd[123]: msg", rsyslog's
 *       traditional format (RHEL's /var/log/secure).  Local time without a
 *       year: the year is the one that puts the line at most a day after
 *       ctx->ref_ms.  The day may be space-padded ("Nov  4").
 *   HT_LOGLINE_RFC3339  "2026-11-24T06:02:36.123456+00:00 host sshd[123]: msg",
 *       rsyslog's default on Debian 12; any offset (also "Z" and "+0000"),
 *       fractional seconds optional (milliseconds kept).
 *   HT_LOGLINE_DPKG     "2026-11-24 06:02:36 install curl:amd64 <none> 7.88.1-10",
 *       /var/log/dpkg.log: local time, no host or program; the message is
 *       everything after the time.
 * The tag of the two syslog formats is "ident[pid]:" or "ident:"; a line
 * without one ("host -- MARK --") has ident NULL and the whole rest as its
 * message.  One space after the tag's colon is dropped, as rsyslog adds it;
 * other leading spaces (sudo's "sudo:    alice : ...") stay.
 *
 * Local time is the process's time zone (mktime: DST-aware, reads TZ or
 * /etc/localtime once) when ctx->local_tz is set, which is what the
 * daemon uses since rsyslog and dpkg write in the host's zone; else the
 * fixed ctx->utc_offset_s (tests, replaying another host's files).
 */
#ifndef HT_LOGLINE_H
#define HT_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest line accepted, without its newline. */
#define HT_LOGLINE_MAX 65536

enum ht_logline_format {
	HT_LOGLINE_SYSLOG = 0x1,
	HT_LOGLINE_RFC3339 = 0x2,
	HT_LOGLINE_DPKG = 0x4,
};

struct ht_logline_ctx {
	unsigned formats;	/* HT_LOGLINE_* accepted; 0: all */
	int64_t ref_ms;		/* now, or the file's mtime: picks the SYSLOG year */
	bool local_tz;		/* local times in the process's zone ... */
	int32_t utc_offset_s;	/* ... else at this offset (east positive) */
};

/* A parsed line; one allocation, the strings inside it. */
struct ht_logline {
	enum ht_logline_format format;
	int64_t time_ms;	/* Unix milliseconds */
	const char *hostname;	/* NULL for DPKG */
	const char *ident;	/* NULL: no tag (and for DPKG) */
	int64_t pid;		/* -1: none */
	const char *message;	/* never NULL, may be empty */
	size_t message_len;
};

/* Split line (len bytes, not NUL-terminated; a trailing "\n" or "\r\n" is
 * ignored; NUL bytes before the line, the padding a crash leaves in log
 * files, are skipped).  ctx NULL: all formats, UTC, reference time 0.
 * 0 with *ret (free with ht_logline_free); -EINVAL for a line of no
 * accepted format, or holding a NUL byte, with "reason at byte N" in
 * errbuf; -E2BIG for a line over HT_LOGLINE_MAX; -ENOMEM.  *ret is set
 * only on success. */
int ht_logline_parse(const char *line, size_t len, const struct ht_logline_ctx *ctx,
    struct ht_logline **ret, char *errbuf, size_t errlen);
/* NULL is a no-op. */
void ht_logline_free(struct ht_logline *l);

#endif
