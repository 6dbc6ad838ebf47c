/*
 * hostmsg.h - one host log message (a journal entry, or a line of
 * auth.log, secure, syslog or dpkg.log) as a CloudTrail record.  Pure: no
 * I/O, no logging, no clock, no NSS: the same message always makes the
 * same record.
 *
 * The mapping is one table (hostmsg.c, and the README's copy, "Host log
 * mapping"), in the conventions of audit_map.h: logins are host.login
 * (UserLogin, UserLogout, CheckAccount, Authenticate, StartSession,
 * EndSession; AwsConsoleSignIn), sudo and su are host.privilege
 * (RunCommand, SwitchUser), account changes are HT_GLOBAL_EVENT_SOURCE
 * (CreateUser, DeleteUser, UpdateUser, CreateGroup, DeleteGroup,
 * UpdateGroup, ChangePassword), systemd's unit jobs are host.service
 * (StartService, StopService, ReloadService; AwsServiceEvent) and dpkg's
 * actions are host.package (InstallPackage, UpgradePackage,
 * RemovePackage, PurgePackage).  Anything else is a generic record,
 * host.syslog / LogMessage, so nothing a source reads is dropped; only
 * dpkg.log's bookkeeping lines are skipped.
 */
#ifndef HT_HOSTMSG_H
#define HT_HOSTMSG_H

#include <stdint.h>

struct ht_logline;
struct ht_record;

/* What a journal entry or a parsed log line says; all borrowed.  NULL or
 * -1 means unknown. */
struct ht_hostmsg {
	int64_t time_ms;		/* Unix ms (__REALTIME_TIMESTAMP / 1000); < 0: unknown */
	const char *hostname;		/* _HOSTNAME */
	const char *ident;		/* SYSLOG_IDENTIFIER, or the tag of a log line */
	const char *message;		/* MESSAGE */
	int64_t pid, uid;		/* _PID, _UID */
	const char *systemd_unit;	/* _SYSTEMD_UNIT */
	const char *message_id;		/* MESSAGE_ID (systemd's unit job ids are mapped) */
	const char *unit, *job_type, *job_result;	/* UNIT=, JOB_TYPE=, JOB_RESULT= */
	const char *origin;		/* "journal" or the file's path: additionalEventData.source */
};

enum ht_hostmsg_kind {
	HT_HOSTMSG_MAPPED,		/* a row of the table matched */
	HT_HOSTMSG_GENERIC,		/* host.syslog / LogMessage */
	HT_HOSTMSG_SKIPPED,		/* no record: dpkg.log bookkeeping */
};

/* Fills *ret from a parsed log line l (borrowed: ret points into it) and
 * origin, the file's path: uid and the journal-only fields unknown. */
void ht_hostmsg_from_logline(const struct ht_logline *l, const char *origin,
    struct ht_hostmsg *ret);

/* A new record for m: eventVersion, eventTime (the message's second),
 * eventSource, eventName, eventType, eventCategory Management, readOnly,
 * userIdentity, userAgent (the program), sourceIPAddress, errorCode and
 * errorMessage, requestParameters, resources and additionalEventData as
 * the table says; eventID, awsRegion and recipientAccountId are left to
 * the pipeline.  A NULL message is an empty one.  0 with *ret (free with
 * ht_record_free) and *kind MAPPED or GENERIC, or -ENOMEM; outputs are
 * written only on success. */
int ht_hostmsg_map(const struct ht_hostmsg *m, struct ht_record **ret,
    enum ht_hostmsg_kind *kind);

/* The same for a dpkg.log line: m->message is what follows its time
 * ("install curl:amd64 <none> 7.88.1-10"), m->ident may be NULL.
 * install/upgrade/remove/purge are MAPPED; status, startup, configure and
 * trigproc lines are SKIPPED with *ret NULL (they restate an action
 * already recorded, or none); anything else is GENERIC. */
int ht_hostmsg_map_dpkg(const struct ht_hostmsg *m, struct ht_record **ret,
    enum ht_hostmsg_kind *kind);

#endif
