/*
 * audit_map.c - an assembled Linux audit event as one CloudTrail record.
 *
 * The mapping is data: families[] says, for each record family, which
 * eventSource, eventName, eventType, category and readOnly an event gets
 * and which fields make resources; syscalls[] and actions[] name the
 * syscall-driven events (files, processes) by what the syscall did.  The
 * README's "Linux audit mapping" section is a copy of these tables: change
 * both together, and the golden fixtures (tests/fixtures/audit) with them.
 *
 * Choosing the family.  families[] is searched in order and the first row
 * with a record in the event wins, so an event carrying a CONFIG_CHANGE,
 * LOGIN or ANOM_* record next to a SYSCALL is that kind of event and the
 * SYSCALL only adds the process (exe, comm, command line).  The SYSCALL
 * records that follow a standalone record as a separate event (the
 * assembler's trailer flag) are SystemCall, whatever the syscall: they
 * carried a message, they did not act.  An event no row knows still
 * becomes a record, host.audit / AuditEvent.
 *
 * What every record holds (README, "Linux audit mapping"):
 *   userIdentity  the login user (auid): {"type":"Root"|"IAMUser",
 *       "principalId":"<auid>","userName":..}; for the login family with
 *       auid still unset, the account signing in (acct=, id=); with no
 *       login user at all, the system: {"type":"AWSService","principalId":
 *       "<uid>","invokedBy":"<exe>"}; else {"type":"Unknown"}.
 *       sessionContext.attributes: sessionId (ses), uid/uidName and
 *       euid/euidName of the process, as strings.
 *   sourceIPAddress  addr=, else hostname= (not "?").  userAgent: exe=.
 *   errorCode/errorMessage  res=failed|no|0: AccessDenied (logins, sudo)
 *       or Failed, "<op> failed"; success=no: errno's name and text
 *       (EACCES, "Permission denied").
 *   requestParameters  every field of the main record as written, as
 *       strings, with its ENRICHED interpretation under the upper-case name
 *       ("ID":"bob"), without auid/uid/euid/ses/res/subj (above) and blank
 *       values ("?", "(null)", "(none)"); syscall events have a fixed set
 *       instead (syscall, key, exe, comm, pid, ppid, tty, cwd, commandLine,
 *       arguments, paths, a0-a3).  Records the mapping does not use stay,
 *       under their type name: "AVC":[{...}].
 *   resources  Host::File and Host::Process by absolute path (trail/select.h),
 *       Host::User, Host::Group and Host::Service by name (else number).
 *   additionalEventData  auditSerial, auditTime, auditRecordTypes, node,
 *       source, incomplete, trailer.
 * Values that are not clean UTF-8 (binary after hex decoding) are written
 * as audit writes them, upper-case hex, so every record is valid JSON.
 *
 * Names of uids and gids come from the ENRICHED interpretation when the
 * line has one (the name when the event happened), else from the NSS cache
 * (struct ht_audit_names): max slots reused oldest first, chained in
 * power-of-two buckets, each entry good for ttl_ms, misses cached too, so a
 * burst of events from one user costs one NSS lookup a minute.  One cache
 * per source, not locked.
 *
 * Nothing here logs or does I/O besides NSS; allocation failure is -ENOMEM.
 * The parser's values are (pointer, length) pairs that may hold any byte,
 * so they are handled as struct sv views, never as C strings.
 */
#include "ht_build.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit_map.h"
#include "audit_parse.h"
#include "jsonutil.h"
#include "record.h"

#define ID_UNSET 4294967295u		/* auid/uid/ses not set */
#define NAMES_TTL_MS 60000
#define NAMES_MAX 4096
#define NAMES_MAX_LIMIT (1u << 24)	/* slots are uint32_t indexes */
#define NSS_BUF_FIRST 1024
#define NSS_BUF_MAX (1024 * 1024)
#define NO_SLOT UINT32_MAX
#define CMDLINE_MAX (32 * 1024)		/* commandLine bytes kept */
#define USER_AGENT_MAX 1024		/* CloudTrail's userAgent bound */

#define ARCH_X86_64 0xc000003eu

/* ---- the name cache ---- */

struct name_entry {
	uint32_t id;
	bool group;
	int64_t at_ms;		/* when it was resolved */
	char *name;		/* NULL: NSS knows no such id (a negative entry) */
	uint32_t next;		/* next slot in the same bucket, or NO_SLOT */
};

struct ht_audit_names {
	uint64_t ttl_ms;
	size_t max;
	struct name_entry *e;	/* slots [0, n) are in use */
	size_t n;
	size_t oldest;		/* the slot reused next once n == max */
	uint32_t *bucket;
	size_t n_bucket;	/* a power of two */
	char *buf;		/* getpwuid_r/getgrgid_r scratch, grown on ERANGE */
	size_t buf_len;
};

int
ht_audit_names_new(uint64_t ttl_ms, size_t max, struct ht_audit_names **ret)
{
	struct ht_audit_names *n;
	size_t i;

	if (max == 0)
		max = NAMES_MAX;
	if (max > NAMES_MAX_LIMIT)
		max = NAMES_MAX_LIMIT;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->ttl_ms = ttl_ms != 0 ? ttl_ms : NAMES_TTL_MS;
	n->max = max;
	for (n->n_bucket = 1; n->n_bucket < max; n->n_bucket <<= 1)
		;
	n->e = calloc(max, sizeof(*n->e));
	n->bucket = malloc(n->n_bucket * sizeof(*n->bucket));
	if (n->e == NULL || n->bucket == NULL) {
		ht_audit_names_free(n);
		return -ENOMEM;
	}
	for (i = 0; i < n->n_bucket; i++)
		n->bucket[i] = NO_SLOT;
	*ret = n;
	return 0;
}

void
ht_audit_names_free(struct ht_audit_names *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		free(n->e[i].name);
	free(n->e);
	free(n->bucket);
	free(n->buf);
	free(n);
}

static size_t
names_hash(const struct ht_audit_names *n, uint32_t id, bool group)
{
	uint32_t h = id ^ (group ? 0x9e3779b9u : 0);

	/* lowbias32: every bit of id reaches the low bits used. */
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h & (n->n_bucket - 1);
}

static struct name_entry *
names_find(struct ht_audit_names *n, uint32_t id, bool group)
{
	uint32_t i;

	for (i = n->bucket[names_hash(n, id, group)]; i != NO_SLOT; i = n->e[i].next)
		if (n->e[i].id == id && n->e[i].group == group)
			return &n->e[i];
	return NULL;
}

/* A slot for (id, group), linked into its bucket: a free one, else the
 * oldest, emptied. */
static struct name_entry *
names_slot(struct ht_audit_names *n, uint32_t id, bool group)
{
	struct name_entry *e;
	uint32_t slot, *p;
	size_t h;

	if (n->n < n->max) {
		slot = (uint32_t)n->n++;
	} else {
		slot = (uint32_t)n->oldest;
		n->oldest = (n->oldest + 1) % n->max;
		e = &n->e[slot];
		for (p = &n->bucket[names_hash(n, e->id, e->group)]; *p != slot; p = &n->e[*p].next)
			;
		*p = e->next;
		free(e->name);
		e->name = NULL;
	}
	e = &n->e[slot];
	h = names_hash(n, id, group);
	e->id = id;
	e->group = group;
	e->next = n->bucket[h];
	n->bucket[h] = slot;
	return e;
}

/* The name NSS gives id in *ret (malloc'd), or NULL when it gives none:
 * no such id, or NSS failing, which is cached like a miss.  0 or -ENOMEM. */
static int
names_resolve(struct ht_audit_names *n, uint32_t id, bool group, char **ret)
{
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	const char *name;
	char *nb;
	int r;

	for (;;) {
		if (n->buf == NULL) {
			if ((n->buf = malloc(NSS_BUF_FIRST)) == NULL)
				return -ENOMEM;
			n->buf_len = NSS_BUF_FIRST;
		}
		if (group)
			r = getgrgid_r(id, &gr, n->buf, n->buf_len, &grr);
		else
			r = getpwuid_r(id, &pw, n->buf, n->buf_len, &pwr);
		if (r != ERANGE || n->buf_len >= NSS_BUF_MAX)
			break;
		if ((nb = realloc(n->buf, n->buf_len * 2)) == NULL)
			return -ENOMEM;
		n->buf = nb;
		n->buf_len *= 2;
	}
	if (r == ENOMEM)
		return -ENOMEM;
	name = r != 0 ? NULL : group ? (grr != NULL ? grr->gr_name : NULL) :
	    (pwr != NULL ? pwr->pw_name : NULL);
	*ret = NULL;
	if (name != NULL && (*ret = strdup(name)) == NULL)
		return -ENOMEM;
	return 0;
}

static const char *
names_get(struct ht_audit_names *n, uint32_t id, bool group, int64_t now_ms)
{
	struct name_entry *e;
	char *name;

	if (n == NULL || id == ID_UNSET)
		return NULL;
	e = names_find(n, id, group);
	if (e != NULL && now_ms >= e->at_ms && (uint64_t)(now_ms - e->at_ms) < n->ttl_ms)
		return e->name;
	if (names_resolve(n, id, group, &name) < 0)
		return NULL;
	if (e == NULL)
		e = names_slot(n, id, group);
	free(e->name);
	e->name = name;
	e->at_ms = now_ms;
	return name;
}

const char *
ht_audit_names_user(struct ht_audit_names *n, uid_t uid, int64_t now_ms)
{
	return names_get(n, (uint32_t)uid, false, now_ms);
}

const char *
ht_audit_names_group(struct ht_audit_names *n, gid_t gid, int64_t now_ms)
{
	return names_get(n, (uint32_t)gid, true, now_ms);
}

/* ---- the mapping table ---- */

#define SRC_LOGIN "host.login"
#define SRC_PRIVILEGE "host.privilege"
#define SRC_PROCESS "host.process"
#define SRC_FILE "host.file"
#define SRC_IDENTITY HT_GLOBAL_EVENT_SOURCE
#define SRC_SERVICE "host.service"
#define SRC_AUDIT "host.audit"
#define SRC_ANOMALY "host.anomaly"

#define T_CALL "AwsApiCall"
#define T_SERVICE "AwsServiceEvent"
#define T_SIGNIN "AwsConsoleSignIn"

enum fam_flag {
	F_SYSCALL = 0x01,	/* named by syscalls[]/actions[], not by the row */
	F_ACTOR = 0x02,		/* with auid unset, acct= is the user signing in */
	F_DENIED = 0x04,	/* a failure is AccessDenied (else Failed) */
	F_RES_USER = 0x08,	/* acct= (else id=) is a Host::User resource */
	F_RES_GROUP = 0x10,	/* acct= (else id=) is a Host::Group resource */
	F_RES_UNIT = 0x20,	/* unit= is a Host::Service resource */
	F_RES_EXE = 0x40,	/* exe= is a Host::Process resource */
	F_ANOMALY = 0x80,	/* requestParameters.anomaly names the record type */
};

struct family {
	unsigned lo, hi;	/* record types lo..hi */
	const char *match;	/* the type name, for records the parser gave no
				 * number; ending in '_' it is a prefix */
	const char *source;
	const char *name;
	const char *event_type;
	bool data;		/* eventCategory Data, else Management */
	bool read_only;
	unsigned flags;
};

#define LOGIN_FLAGS (F_ACTOR | F_DENIED | F_RES_USER)

/* First match wins: rows whose records come with a SYSCALL record precede
 * the syscall rows. */
static const struct family families[] = {
	{ 1700, 1799, "ANOM_", SRC_ANOMALY, "Anomaly", T_SERVICE, false, false,
	  F_ANOMALY | F_RES_EXE },
	{ 2100, 2199, "ANOM_", SRC_ANOMALY, "Anomaly", T_SERVICE, false, false, F_ANOMALY },
	{ 1305, 1305, "CONFIG_CHANGE", SRC_AUDIT, "ChangeAuditConfig", T_CALL, false, false, 0 },
	{ 1200, 1200, "DAEMON_START", SRC_AUDIT, "StartAuditDaemon", T_SERVICE, false, false, 0 },
	{ 1201, 1201, "DAEMON_END", SRC_AUDIT, "StopAuditDaemon", T_SERVICE, false, false, 0 },
	{ 1202, 1202, "DAEMON_ABORT", SRC_AUDIT, "AbortAuditDaemon", T_SERVICE, false, false, 0 },
	{ 1203, 1203, "DAEMON_CONFIG", SRC_AUDIT, "ReconfigureAuditDaemon", T_SERVICE, false,
	  false, 0 },
	{ 1205, 1205, "DAEMON_ROTATE", SRC_AUDIT, "RotateAuditLog", T_SERVICE, false, false, 0 },
	{ 1206, 1206, "DAEMON_RESUME", SRC_AUDIT, "ResumeAuditDaemon", T_SERVICE, false, false, 0 },
	{ 1200, 1299, "DAEMON_", SRC_AUDIT, "AuditDaemonEvent", T_SERVICE, false, false, 0 },
	{ 1114, 1114, "ADD_USER", SRC_IDENTITY, "CreateUser", T_CALL, false, false, F_RES_USER },
	{ 1115, 1115, "DEL_USER", SRC_IDENTITY, "DeleteUser", T_CALL, false, false, F_RES_USER },
	{ 1116, 1116, "ADD_GROUP", SRC_IDENTITY, "CreateGroup", T_CALL, false, false, F_RES_GROUP },
	{ 1117, 1117, "DEL_GROUP", SRC_IDENTITY, "DeleteGroup", T_CALL, false, false, F_RES_GROUP },
	{ 1108, 1108, "USER_CHAUTHTOK", SRC_IDENTITY, "ChangePassword", T_CALL, false, false,
	  F_RES_USER },
	{ 1102, 1102, "USER_MGMT", SRC_IDENTITY, "UpdateUser", T_CALL, false, false, F_RES_USER },
	{ 1132, 1132, "GRP_MGMT", SRC_IDENTITY, "UpdateGroup", T_CALL, false, false, F_RES_GROUP },
	{ 1133, 1133, "GRP_CHAUTHTOK", SRC_IDENTITY, "ChangeGroupPassword", T_CALL, false, false,
	  F_RES_GROUP },
	{ 1006, 1006, "LOGIN", SRC_LOGIN, "SetLoginUid", T_SIGNIN, false, false, 0 },
	{ 1112, 1112, "USER_LOGIN", SRC_LOGIN, "UserLogin", T_SIGNIN, false, false, LOGIN_FLAGS },
	{ 1113, 1113, "USER_LOGOUT", SRC_LOGIN, "UserLogout", T_SIGNIN, false, false, LOGIN_FLAGS },
	{ 1100, 1100, "USER_AUTH", SRC_LOGIN, "Authenticate", T_SIGNIN, false, true, LOGIN_FLAGS },
	{ 1101, 1101, "USER_ACCT", SRC_LOGIN, "CheckAccount", T_SIGNIN, false, true, LOGIN_FLAGS },
	{ 1103, 1103, "CRED_ACQ", SRC_LOGIN, "AcquireCredentials", T_SIGNIN, false, false,
	  LOGIN_FLAGS },
	{ 1110, 1110, "CRED_REFR", SRC_LOGIN, "RefreshCredentials", T_SIGNIN, false, false,
	  LOGIN_FLAGS },
	{ 1104, 1104, "CRED_DISP", SRC_LOGIN, "DisposeCredentials", T_SIGNIN, false, false,
	  LOGIN_FLAGS },
	{ 1105, 1105, "USER_START", SRC_LOGIN, "StartSession", T_SIGNIN, false, false,
	  LOGIN_FLAGS },
	{ 1106, 1106, "USER_END", SRC_LOGIN, "EndSession", T_SIGNIN, false, false, LOGIN_FLAGS },
	{ 1123, 1123, "USER_CMD", SRC_PRIVILEGE, "RunCommand", T_CALL, false, false, F_DENIED },
	{ 1130, 1130, "SERVICE_START", SRC_SERVICE, "StartService", T_SERVICE, false, false,
	  F_RES_UNIT },
	{ 1131, 1131, "SERVICE_STOP", SRC_SERVICE, "StopService", T_SERVICE, false, false,
	  F_RES_UNIT },
	{ 1300, 1300, "SYSCALL", NULL, NULL, T_CALL, true, false, F_SYSCALL },
	{ 1309, 1309, "EXECVE", NULL, NULL, T_CALL, true, false, F_SYSCALL },
	{ 1302, 1302, "PATH", NULL, NULL, T_CALL, true, false, F_SYSCALL },
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

/* Whatever no row knows. */
static const struct family unknown_family = {
	0, 0, NULL, SRC_AUDIT, "AuditEvent", T_SERVICE, false, false, 0
};

/* What a syscall-driven event did: its eventSource, eventName, readOnly,
 * and whether its resources are the files of its PATH records (else the
 * process). */
enum action {
	A_READ_FILE, A_WRITE_FILE, A_CREATE_FILE, A_DELETE_FILE, A_RENAME_FILE,
	A_CREATE_DIR, A_DELETE_DIR, A_CHMOD, A_CHOWN, A_SET_ATTR, A_LINK,
	A_GET_ATTR, A_OPEN_FILE, A_ACCESS_FILE,
	A_EXEC, A_SYSCALL, A_MODULE_LOAD, A_MODULE_UNLOAD, A_MOUNT, A_UMOUNT,
	A_SIGNAL, A_PTRACE, A_SETID, A_TIME, A_HOSTNAME, A_REBOOT, A_KEXEC,
	A_CONNECT, A_BIND, A_ACCEPT, A_CHROOT,
	N_ACTIONS
};

struct action_def {
	const char *source;
	const char *name;
	bool read_only;
	bool files;
};

static const struct action_def actions[N_ACTIONS] = {
	[A_READ_FILE] = { SRC_FILE, "ReadFile", true, true },
	[A_WRITE_FILE] = { SRC_FILE, "WriteFile", false, true },
	[A_CREATE_FILE] = { SRC_FILE, "CreateFile", false, true },
	[A_DELETE_FILE] = { SRC_FILE, "DeleteFile", false, true },
	[A_RENAME_FILE] = { SRC_FILE, "RenameFile", false, true },
	[A_CREATE_DIR] = { SRC_FILE, "CreateDirectory", false, true },
	[A_DELETE_DIR] = { SRC_FILE, "DeleteDirectory", false, true },
	[A_CHMOD] = { SRC_FILE, "ChangeFilePermissions", false, true },
	[A_CHOWN] = { SRC_FILE, "ChangeFileOwner", false, true },
	[A_SET_ATTR] = { SRC_FILE, "SetFileAttributes", false, true },
	[A_LINK] = { SRC_FILE, "CreateLink", false, true },
	[A_GET_ATTR] = { SRC_FILE, "GetFileAttributes", true, true },
	[A_OPEN_FILE] = { SRC_FILE, "OpenFile", false, true },	/* flags unknown */
	[A_ACCESS_FILE] = { SRC_FILE, "AccessFile", false, true },	/* syscall unknown */
	[A_EXEC] = { SRC_PROCESS, "ExecuteProcess", false, false },
	[A_SYSCALL] = { SRC_PROCESS, "SystemCall", false, false },
	[A_MODULE_LOAD] = { SRC_PROCESS, "LoadKernelModule", false, false },
	[A_MODULE_UNLOAD] = { SRC_PROCESS, "UnloadKernelModule", false, false },
	[A_MOUNT] = { SRC_PROCESS, "MountFilesystem", false, false },
	[A_UMOUNT] = { SRC_PROCESS, "UnmountFilesystem", false, false },
	[A_SIGNAL] = { SRC_PROCESS, "SignalProcess", false, false },
	[A_PTRACE] = { SRC_PROCESS, "TraceProcess", false, false },
	[A_SETID] = { SRC_PROCESS, "ChangeProcessIdentity", false, false },
	[A_TIME] = { SRC_PROCESS, "SetSystemTime", false, false },
	[A_HOSTNAME] = { SRC_PROCESS, "SetHostname", false, false },
	[A_REBOOT] = { SRC_PROCESS, "Reboot", false, false },
	[A_KEXEC] = { SRC_PROCESS, "LoadKernel", false, false },
	[A_CONNECT] = { SRC_PROCESS, "Connect", false, false },
	[A_BIND] = { SRC_PROCESS, "Bind", false, false },
	[A_ACCEPT] = { SRC_PROCESS, "Accept", false, false },
	[A_CHROOT] = { SRC_PROCESS, "ChangeRoot", false, false },
};

/* How a syscall's action is decided beyond its table entry. */
enum how {
	H_FIXED,
	H_OPEN_A1,	/* open flags in a1 (open) */
	H_OPEN_A2,	/* open flags in a2 (openat) */
	H_OPEN_HOW,	/* openat2: the flags are behind a pointer */
	H_CREAT,	/* CreateFile when it made a file, else WriteFile */
	H_UNLINKAT,	/* AT_REMOVEDIR in a2 */
};

struct syscall_def {
	unsigned nr;		/* x86_64 */
	const char *name;
	enum action act;
	enum how how;
};

/* x86_64 numbers (asm/unistd_64.h), sorted.  Any other syscall is named
 * "syscall_N" unless the ENRICHED format named it, and is a file event
 * when it has PATH records. */
static const struct syscall_def syscalls[] = {
	{ 0, "read", A_READ_FILE, H_FIXED },
	{ 1, "write", A_WRITE_FILE, H_FIXED },
	{ 2, "open", A_READ_FILE, H_OPEN_A1 },
	{ 3, "close", A_SYSCALL, H_FIXED },
	{ 4, "stat", A_GET_ATTR, H_FIXED },
	{ 5, "fstat", A_GET_ATTR, H_FIXED },
	{ 6, "lstat", A_GET_ATTR, H_FIXED },
	{ 9, "mmap", A_SYSCALL, H_FIXED },
	{ 10, "mprotect", A_SYSCALL, H_FIXED },
	{ 17, "pread64", A_READ_FILE, H_FIXED },
	{ 18, "pwrite64", A_WRITE_FILE, H_FIXED },
	{ 19, "readv", A_READ_FILE, H_FIXED },
	{ 20, "writev", A_WRITE_FILE, H_FIXED },
	{ 21, "access", A_GET_ATTR, H_FIXED },
	{ 41, "socket", A_SYSCALL, H_FIXED },
	{ 42, "connect", A_CONNECT, H_FIXED },
	{ 43, "accept", A_ACCEPT, H_FIXED },
	{ 44, "sendto", A_SYSCALL, H_FIXED },
	{ 45, "recvfrom", A_SYSCALL, H_FIXED },
	{ 46, "sendmsg", A_SYSCALL, H_FIXED },
	{ 47, "recvmsg", A_SYSCALL, H_FIXED },
	{ 48, "shutdown", A_SYSCALL, H_FIXED },
	{ 49, "bind", A_BIND, H_FIXED },
	{ 50, "listen", A_SYSCALL, H_FIXED },
	{ 54, "setsockopt", A_SYSCALL, H_FIXED },
	{ 56, "clone", A_SYSCALL, H_FIXED },
	{ 57, "fork", A_SYSCALL, H_FIXED },
	{ 58, "vfork", A_SYSCALL, H_FIXED },
	{ 59, "execve", A_EXEC, H_FIXED },
	{ 60, "exit", A_SYSCALL, H_FIXED },
	{ 62, "kill", A_SIGNAL, H_FIXED },
	{ 76, "truncate", A_WRITE_FILE, H_FIXED },
	{ 77, "ftruncate", A_WRITE_FILE, H_FIXED },
	{ 80, "chdir", A_SYSCALL, H_FIXED },
	{ 81, "fchdir", A_SYSCALL, H_FIXED },
	{ 82, "rename", A_RENAME_FILE, H_FIXED },
	{ 83, "mkdir", A_CREATE_DIR, H_FIXED },
	{ 84, "rmdir", A_DELETE_DIR, H_FIXED },
	{ 85, "creat", A_CREATE_FILE, H_CREAT },
	{ 86, "link", A_LINK, H_FIXED },
	{ 87, "unlink", A_DELETE_FILE, H_FIXED },
	{ 88, "symlink", A_LINK, H_FIXED },
	{ 89, "readlink", A_GET_ATTR, H_FIXED },
	{ 90, "chmod", A_CHMOD, H_FIXED },
	{ 91, "fchmod", A_CHMOD, H_FIXED },
	{ 92, "chown", A_CHOWN, H_FIXED },
	{ 93, "fchown", A_CHOWN, H_FIXED },
	{ 94, "lchown", A_CHOWN, H_FIXED },
	{ 95, "umask", A_SYSCALL, H_FIXED },
	{ 101, "ptrace", A_PTRACE, H_FIXED },
	{ 103, "syslog", A_SYSCALL, H_FIXED },
	{ 105, "setuid", A_SETID, H_FIXED },
	{ 106, "setgid", A_SETID, H_FIXED },
	{ 113, "setreuid", A_SETID, H_FIXED },
	{ 114, "setregid", A_SETID, H_FIXED },
	{ 116, "setgroups", A_SETID, H_FIXED },
	{ 117, "setresuid", A_SETID, H_FIXED },
	{ 119, "setresgid", A_SETID, H_FIXED },
	{ 122, "setfsuid", A_SETID, H_FIXED },
	{ 123, "setfsgid", A_SETID, H_FIXED },
	{ 126, "capset", A_SYSCALL, H_FIXED },
	{ 132, "utime", A_SET_ATTR, H_FIXED },
	{ 133, "mknod", A_CREATE_FILE, H_FIXED },
	{ 135, "personality", A_SYSCALL, H_FIXED },
	{ 155, "pivot_root", A_SYSCALL, H_FIXED },
	{ 157, "prctl", A_SYSCALL, H_FIXED },
	{ 159, "adjtimex", A_TIME, H_FIXED },
	{ 161, "chroot", A_CHROOT, H_FIXED },
	{ 164, "settimeofday", A_TIME, H_FIXED },
	{ 165, "mount", A_MOUNT, H_FIXED },
	{ 166, "umount2", A_UMOUNT, H_FIXED },
	{ 167, "swapon", A_SYSCALL, H_FIXED },
	{ 168, "swapoff", A_SYSCALL, H_FIXED },
	{ 169, "reboot", A_REBOOT, H_FIXED },
	{ 170, "sethostname", A_HOSTNAME, H_FIXED },
	{ 171, "setdomainname", A_HOSTNAME, H_FIXED },
	{ 172, "iopl", A_SYSCALL, H_FIXED },
	{ 173, "ioperm", A_SYSCALL, H_FIXED },
	{ 175, "init_module", A_MODULE_LOAD, H_FIXED },
	{ 176, "delete_module", A_MODULE_UNLOAD, H_FIXED },
	{ 188, "setxattr", A_SET_ATTR, H_FIXED },
	{ 189, "lsetxattr", A_SET_ATTR, H_FIXED },
	{ 190, "fsetxattr", A_SET_ATTR, H_FIXED },
	{ 191, "getxattr", A_GET_ATTR, H_FIXED },
	{ 192, "lgetxattr", A_GET_ATTR, H_FIXED },
	{ 193, "fgetxattr", A_GET_ATTR, H_FIXED },
	{ 194, "listxattr", A_GET_ATTR, H_FIXED },
	{ 195, "llistxattr", A_GET_ATTR, H_FIXED },
	{ 196, "flistxattr", A_GET_ATTR, H_FIXED },
	{ 197, "removexattr", A_SET_ATTR, H_FIXED },
	{ 198, "lremovexattr", A_SET_ATTR, H_FIXED },
	{ 199, "fremovexattr", A_SET_ATTR, H_FIXED },
	{ 200, "tkill", A_SIGNAL, H_FIXED },
	{ 217, "getdents64", A_SYSCALL, H_FIXED },
	{ 227, "clock_settime", A_TIME, H_FIXED },
	{ 231, "exit_group", A_SYSCALL, H_FIXED },
	{ 234, "tgkill", A_SIGNAL, H_FIXED },
	{ 235, "utimes", A_SET_ATTR, H_FIXED },
	{ 246, "kexec_load", A_KEXEC, H_FIXED },
	{ 257, "openat", A_READ_FILE, H_OPEN_A2 },
	{ 258, "mkdirat", A_CREATE_DIR, H_FIXED },
	{ 259, "mknodat", A_CREATE_FILE, H_FIXED },
	{ 260, "fchownat", A_CHOWN, H_FIXED },
	{ 261, "futimesat", A_SET_ATTR, H_FIXED },
	{ 262, "newfstatat", A_GET_ATTR, H_FIXED },
	{ 263, "unlinkat", A_DELETE_FILE, H_UNLINKAT },
	{ 264, "renameat", A_RENAME_FILE, H_FIXED },
	{ 265, "linkat", A_LINK, H_FIXED },
	{ 266, "symlinkat", A_LINK, H_FIXED },
	{ 267, "readlinkat", A_GET_ATTR, H_FIXED },
	{ 268, "fchmodat", A_CHMOD, H_FIXED },
	{ 269, "faccessat", A_GET_ATTR, H_FIXED },
	{ 272, "unshare", A_SYSCALL, H_FIXED },
	{ 280, "utimensat", A_SET_ATTR, H_FIXED },
	{ 288, "accept4", A_ACCEPT, H_FIXED },
	{ 298, "perf_event_open", A_SYSCALL, H_FIXED },
	{ 303, "name_to_handle_at", A_SYSCALL, H_FIXED },
	{ 304, "open_by_handle_at", A_SYSCALL, H_FIXED },
	{ 305, "clock_adjtime", A_TIME, H_FIXED },
	{ 308, "setns", A_SYSCALL, H_FIXED },
	{ 310, "process_vm_readv", A_SYSCALL, H_FIXED },
	{ 311, "process_vm_writev", A_SYSCALL, H_FIXED },
	{ 313, "finit_module", A_MODULE_LOAD, H_FIXED },
	{ 316, "renameat2", A_RENAME_FILE, H_FIXED },
	{ 317, "seccomp", A_SYSCALL, H_FIXED },
	{ 319, "memfd_create", A_SYSCALL, H_FIXED },
	{ 320, "kexec_file_load", A_KEXEC, H_FIXED },
	{ 321, "bpf", A_SYSCALL, H_FIXED },
	{ 322, "execveat", A_EXEC, H_FIXED },
	{ 332, "statx", A_GET_ATTR, H_FIXED },
	{ 425, "io_uring_setup", A_SYSCALL, H_FIXED },
	{ 434, "pidfd_open", A_SYSCALL, H_FIXED },
	{ 435, "clone3", A_SYSCALL, H_FIXED },
	{ 437, "openat2", A_OPEN_FILE, H_OPEN_HOW },
	{ 439, "faccessat2", A_GET_ATTR, H_FIXED },
	{ 452, "fchmodat2", A_CHMOD, H_FIXED },
};

#define N_SYSCALLS (sizeof(syscalls) / sizeof(syscalls[0]))

/* Linux open(2) and unlinkat(2) flag bits (the same on x86_64 and arm64). */
#define K_O_ACCMODE 03
#define K_O_TRUNC 01000
#define K_AT_REMOVEDIR 0x200

/* ---- values ---- */

/* A value from the parser: any bytes, not NUL-terminated. */
struct sv {
	const char *p;
	size_t len;
};

static bool
sv_eq(struct sv s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* audit writes "?", "(null)" or "(none)" for a value it does not have. */
static bool
sv_blank(struct sv s)
{
	return s.len == 0 || sv_eq(s, "?") || sv_eq(s, "(null)") || sv_eq(s, "(none)");
}

static bool
sv_num(struct sv s, int base, bool neg_ok, int64_t *ret)
{
	char buf[32], *end;
	long long v;
	unsigned long long u;

	if (s.len == 0 || s.len >= sizeof(buf) || s.p[0] == '+' || s.p[0] == ' ' ||
	    (s.p[0] == '-' && !neg_ok))
		return false;
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	errno = 0;
	if (neg_ok) {
		v = strtoll(buf, &end, base);
	} else {
		u = strtoull(buf, &end, base);
		v = u > INT64_MAX ? -1 : (long long)u;
	}
	if (errno != 0 || *end != '\0' || (!neg_ok && v < 0))
		return false;
	*ret = v;
	return true;
}

static const struct ht_audit_field *
rec_field(const struct ht_audit_record *r, const char *name)
{
	size_t i;

	if (r == NULL)
		return NULL;
	for (i = 0; i < r->n_fields; i++)
		if (r->fields[i].name != NULL && strcmp(r->fields[i].name, name) == 0)
			return &r->fields[i];
	return NULL;
}

static bool
field_sv(const struct ht_audit_field *f, struct sv *ret)
{
	struct sv s;

	if (f == NULL || f->value == NULL)
		return false;
	s.p = f->value;
	s.len = f->len;
	if (sv_blank(s))
		return false;
	*ret = s;
	return true;
}

/* Field name of r, when it has a value that says something. */
static bool
fget(const struct ht_audit_record *r, const char *name, struct sv *ret)
{
	return field_sv(rec_field(r, name), ret);
}

/* A uid/gid/ses field that is set (unset is 4294967295 or -1). */
static bool
fid(const struct ht_audit_record *r, const char *name, uint32_t *ret)
{
	struct sv s;
	int64_t v;

	if (!fget(r, name, &s) || !sv_num(s, 10, false, &v) || v >= ID_UNSET)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* The ENRICHED interpretation of f, without its quotes; not "unset". */
static bool
interp_sv(const struct ht_audit_field *f, struct sv *ret)
{
	struct sv s;

	if (f == NULL || f->interp == NULL)
		return false;
	s.p = f->interp;
	s.len = strlen(f->interp);
	if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"') {
		s.p++;
		s.len -= 2;
	}
	if (sv_blank(s) || sv_eq(s, "unset"))
		return false;
	*ret = s;
	return true;
}

/* Valid UTF-8 without NUL: safe to write into JSON as it is. */
static bool
utf8_clean(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p, *end = s + len;
	unsigned c, need;
	uint32_t cp;

	while (s < end) {
		c = *s++;
		if (c == 0)
			return false;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - s) < need)
			return false;
		for (; need > 0; need--, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*s & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((c >= 0xe0 && c <= 0xef && cp < 0x800) || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (c >= 0xf0 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
	}
	return true;
}

/* A copy of s fit for JSON and C: s itself when clean (cut to at most max
 * bytes at a character boundary), else s in upper-case hex, as audit
 * encodes such values.  NULL on ENOMEM. */
static char *
clean_dup(struct sv s, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out;
	size_t i;

	if (utf8_clean(s.p, s.len)) {
		if (s.len > max) {
			s.len = max;
			while (s.len > 0 && ((unsigned char)s.p[s.len] & 0xc0) == 0x80)
				s.len--;
		}
		return strndup(s.p, s.len);
	}
	if (s.len > max / 2)
		s.len = max / 2;
	if ((out = malloc(s.len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < s.len; i++) {
		out[2 * i] = hex[(unsigned char)s.p[i] >> 4];
		out[2 * i + 1] = hex[(unsigned char)s.p[i] & 0xf];
	}
	out[2 * s.len] = '\0';
	return out;
}

/* ---- JSON ---- */

#define JSON_STR_MAX (64 * 1024)	/* no single value is longer */

static struct json_object *
jstr(struct sv s)
{
	struct json_object *o;
	char *c;

	if (s.len <= JSON_STR_MAX && utf8_clean(s.p, s.len))
		return json_object_new_string_len(s.p, (int)s.len);
	if ((c = clean_dup(s, JSON_STR_MAX)) == NULL)
		return NULL;
	o = json_object_new_string(c);
	free(c);
	return o;
}

static struct sv
sv_of(const char *s)
{
	struct sv v = { s, s != NULL ? strlen(s) : 0 };

	return v;
}

static int
jadd_sv(struct json_object *o, const char *key, struct sv s)
{
	return ht_json_add(o, key, jstr(s));
}

/* A new object or array in *ret, or -ENOMEM. */
static int
jnew(bool array, struct json_object **ret)
{
	*ret = array ? json_object_new_array() : json_object_new_object();
	return *ret != NULL ? 0 : -ENOMEM;
}

/* ---- a growable byte buffer ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static int
buf_add(struct buf *b, const char *p, size_t len)
{
	size_t cap;
	char *np;

	if (len >= SIZE_MAX / 4 - b->len)
		return -ENOMEM;
	if (b->len + len + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 64; cap < b->len + len + 1; cap *= 2)
			;
		if ((np = realloc(b->p, cap)) == NULL)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

/* ---- the event being mapped ---- */

struct path_item {
	const struct ht_audit_record *r;
	char *name;		/* absolute (if a cwd was known) and normalized, or NULL */
	struct sv nametype;	/* "NORMAL", "PARENT", "CREATE", "DELETE", ... or empty */
};

struct map {
	const struct ht_audit_event *e;
	const struct ht_audit_map_ctx *ctx;
	const struct family *fam;
	const struct ht_audit_record *main;	/* the row's record (SYSCALL for syscall rows) */
	const struct ht_audit_record *sys;	/* the SYSCALL record, or NULL */
	const struct ht_audit_record *cwd;
	const struct ht_audit_record *title;	/* PROCTITLE */
	const char *source, *name;
	bool read_only;
	enum action act;			/* syscall rows */
	const struct syscall_def *sc;		/* NULL: not in syscalls[] */
	char sc_name[32];			/* "openat", "syscall_999", or "" */
	struct path_item *paths;
	size_t n_paths;
	bool sys_failed;			/* the SYSCALL record says it failed */
};

static bool
rec_is(const struct ht_audit_record *r, unsigned type, const char *name)
{
	if (r->type != 0)
		return r->type == type;
	return r->type_name != NULL && strcmp(r->type_name, name) == 0;
}

static const struct ht_audit_record *
ev_find(const struct ht_audit_event *e, unsigned type, const char *name)
{
	size_t i;

	for (i = 0; i < e->n_records; i++)
		if (rec_is(e->records[i], type, name))
			return e->records[i];
	return NULL;
}

static bool
family_has(const struct family *f, const struct ht_audit_record *r)
{
	size_t n;

	if (r->type != 0)
		return r->type >= f->lo && r->type <= f->hi;
	if (r->type_name == NULL)
		return false;
	n = strlen(f->match);
	if (f->match[n - 1] == '_')
		return strncmp(r->type_name, f->match, n) == 0;
	return strcmp(r->type_name, f->match) == 0;
}

/* The first row of families[] with a record in the event, and that record. */
static void
find_family(struct map *m)
{
	const struct ht_audit_event *e = m->e;
	size_t i, j;

	for (i = 0; i < N_FAMILIES; i++)
		for (j = 0; j < e->n_records; j++)
			if (family_has(&families[i], e->records[j])) {
				m->fam = &families[i];
				m->main = e->records[j];
				return;
			}
	m->fam = &unknown_family;
	m->main = e->n_records > 0 ? e->records[0] : NULL;
}

/* A field of the main record, else of the SYSCALL record. */
static const struct ht_audit_field *
mfield(const struct map *m, const char *name)
{
	const struct ht_audit_field *f = rec_field(m->main, name);

	return f != NULL ? f : rec_field(m->sys, name);
}

static bool
mget(const struct map *m, const char *name, struct sv *ret)
{
	return field_sv(rec_field(m->main, name), ret) || field_sv(rec_field(m->sys, name), ret);
}

static bool
mid(const struct map *m, const char *name, uint32_t *ret)
{
	return fid(m->main, name, ret) || fid(m->sys, name, ret);
}

/* The name behind id field f: its ENRICHED interpretation, else NSS. */
static bool
id_name(const struct map *m, const struct ht_audit_field *f, uint32_t id, bool group,
    struct sv *ret)
{
	const char *s;

	if (interp_sv(f, ret))
		return true;
	s = names_get(m->ctx->names, id, group, m->ctx->now_ms);
	if (s == NULL)
		return false;
	*ret = sv_of(s);
	return true;
}

/* ---- syscall events ---- */

static const struct syscall_def *
syscall_by_nr(unsigned nr)
{
	size_t lo = 0, hi = N_SYSCALLS, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (syscalls[mid].nr == nr)
			return &syscalls[mid];
		if (syscalls[mid].nr < nr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const struct syscall_def *
syscall_by_name(struct sv name)
{
	size_t i;

	for (i = 0; i < N_SYSCALLS; i++)
		if (sv_eq(name, syscalls[i].name))
			return &syscalls[i];
	return NULL;
}

/* Names the syscall: the ENRICHED SYSCALL= interpretation, else the x86_64
 * table, else "syscall_N". */
static void
identify_syscall(struct map *m)
{
	const struct ht_audit_field *f = rec_field(m->sys, "syscall");
	struct sv s, arch;
	int64_t nr, a = ARCH_X86_64;
	bool x86_64;

	m->sc_name[0] = '\0';
	if (interp_sv(f, &s) && s.len < sizeof(m->sc_name) && utf8_clean(s.p, s.len)) {
		memcpy(m->sc_name, s.p, s.len);
		m->sc_name[s.len] = '\0';
		m->sc = syscall_by_name(s);
		return;
	}
	if (!field_sv(f, &s) || !sv_num(s, 10, false, &nr) || nr > UINT32_MAX)
		return;
	if (fget(m->sys, "arch", &arch))
		(void)sv_num(arch, 16, false, &a);
	x86_64 = a == ARCH_X86_64;
	m->sc = x86_64 ? syscall_by_nr((unsigned)nr) : NULL;
	if (m->sc != NULL)
		snprintf(m->sc_name, sizeof(m->sc_name), "%s", m->sc->name);
	else
		snprintf(m->sc_name, sizeof(m->sc_name), "syscall_%u", (unsigned)nr);
}

static bool
has_nametype(const struct map *m, const char *type)
{
	size_t i;

	for (i = 0; i < m->n_paths; i++)
		if (sv_eq(m->paths[i].nametype, type))
			return true;
	return false;
}

static bool
sys_arg(const struct map *m, const char *name, int64_t *ret)
{
	struct sv s;

	return fget(m->sys, name, &s) && sv_num(s, 16, false, ret);
}

/* The syscall's exit value in *ret, when it has one. */
static bool
sys_exit(const struct map *m, int64_t *ret)
{
	struct sv s;

	return fget(m->sys, "exit", &s) && sv_num(s, 10, true, ret);
}

/* success=no, or no success field and a negative exit. */
static bool
sys_failed(const struct map *m)
{
	struct sv s;
	int64_t ex;

	if (fget(m->sys, "success", &s))
		return sv_eq(s, "no");
	return sys_exit(m, &ex) && ex < 0;
}

/* What the syscall did, from its flags and the PATH records' nametypes. */
static enum action
syscall_action(const struct map *m)
{
	const struct syscall_def *sc = m->sc;
	int64_t flags;

	if (sc == NULL) {
		if (ev_find(m->e, HT_AUDIT_EXECVE, "EXECVE") != NULL)
			return A_EXEC;
		if (m->n_paths == 0)
			return A_SYSCALL;
		if (has_nametype(m, "DELETE"))
			return A_DELETE_FILE;
		return has_nametype(m, "CREATE") ? A_CREATE_FILE : A_ACCESS_FILE;
	}
	switch (sc->how) {
	case H_OPEN_A1:
	case H_OPEN_A2:
		if (has_nametype(m, "CREATE"))
			return A_CREATE_FILE;
		if (!sys_arg(m, sc->how == H_OPEN_A1 ? "a1" : "a2", &flags))
			return A_OPEN_FILE;
		if ((flags & K_O_ACCMODE) != 0 || (flags & K_O_TRUNC) != 0)
			return A_WRITE_FILE;
		return A_READ_FILE;
	case H_OPEN_HOW:
		return has_nametype(m, "CREATE") ? A_CREATE_FILE : A_OPEN_FILE;
	case H_CREAT:
		return has_nametype(m, "CREATE") ? A_CREATE_FILE : A_WRITE_FILE;
	case H_UNLINKAT:
		if (sys_arg(m, "a2", &flags) && (flags & K_AT_REMOVEDIR) != 0)
			return A_DELETE_DIR;
		return A_DELETE_FILE;
	case H_FIXED:
		break;
	}
	return sc->act;
}

/*
 * cwd + "/" + name (name alone when absolute or without a cwd), with "."
 * and ".." resolved lexically and repeated or trailing slashes removed, so
 * that "/tmp/../etc/shadow" is "/etc/shadow" to selectors on "/etc/".
 * NULL on ENOMEM, or when name holds a NUL (no path does).
 */
static char *
path_normalize(const struct sv *cwd, struct sv name)
{
	struct buf raw = { 0 };
	char *out;
	size_t i, j, o, base, depth = 0, n;
	bool abs;

	if (memchr(name.p, '\0', name.len) != NULL)
		return NULL;
	if (name.p[0] != '/' && cwd != NULL && memchr(cwd->p, '\0', cwd->len) == NULL &&
	    (buf_add(&raw, cwd->p, cwd->len) < 0 || buf_add(&raw, "/", 1) < 0))
		goto oom;
	if (buf_add(&raw, name.p, name.len) < 0 || (out = malloc(raw.len + 2)) == NULL)
		goto oom;
	abs = raw.p[0] == '/';
	o = base = abs ? 1 : 0;
	out[0] = '/';
	for (i = 0; i < raw.len; i = j) {
		while (i < raw.len && raw.p[i] == '/')
			i++;
		for (j = i; j < raw.len && raw.p[j] != '/'; j++)
			;
		n = j - i;
		if (n == 0 || (n == 1 && raw.p[i] == '.'))
			continue;
		if (n == 2 && raw.p[i] == '.' && raw.p[i + 1] == '.' && (depth > 0 || abs)) {
			if (depth > 0) {	/* drop the last component */
				while (o > base && out[o - 1] != '/')
					o--;
				o = o > base ? o - 1 : base;
				depth--;
			}
			continue;		/* "/.." is "/" */
		}
		if (o > base)
			out[o++] = '/';
		memcpy(out + o, raw.p + i, n);
		o += n;
		if (!(n == 2 && raw.p[i] == '.' && raw.p[i + 1] == '.'))
			depth++;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	free(raw.p);
	return out;
oom:
	free(raw.p);
	return NULL;
}

/* The PATH records with their normalized names.  0 or -ENOMEM. */
static int
collect_paths(struct map *m)
{
	const struct ht_audit_event *e = m->e;
	struct path_item *p;
	struct sv cwd, name;
	bool have_cwd = fget(m->cwd, "cwd", &cwd);
	size_t i;

	for (i = 0; i < e->n_records; i++)
		if (rec_is(e->records[i], HT_AUDIT_PATH, "PATH"))
			m->n_paths++;
	if (m->n_paths == 0)
		return 0;
	if ((m->paths = calloc(m->n_paths, sizeof(*m->paths))) == NULL) {
		m->n_paths = 0;
		return -ENOMEM;
	}
	for (i = 0, p = m->paths; i < e->n_records; i++) {
		if (!rec_is(e->records[i], HT_AUDIT_PATH, "PATH"))
			continue;
		p->r = e->records[i];
		if (!fget(p->r, "nametype", &p->nametype))
			(void)fget(p->r, "objtype", &p->nametype);	/* before Linux 4.7 */
		if (fget(p->r, "name", &name) &&
		    (p->name = path_normalize(have_cwd ? &cwd : NULL, name)) == NULL &&
		    memchr(name.p, '\0', name.len) == NULL)
			return -ENOMEM;
		p++;
	}
	return 0;
}

static void
free_paths(struct map *m)
{
	size_t i;

	for (i = 0; i < m->n_paths; i++)
		free(m->paths[i].name);
	free(m->paths);
}

/* Sets source, name and readOnly of a syscall-driven event. */
static int
classify_syscall(struct map *m)
{
	int r;

	m->sys = ev_find(m->e, HT_AUDIT_SYSCALL, "SYSCALL");
	m->cwd = ev_find(m->e, HT_AUDIT_CWD, "CWD");
	m->sys_failed = sys_failed(m);
	identify_syscall(m);
	if ((r = collect_paths(m)) < 0)
		return r;
	/* The syscall that carried a standalone record (its event came
	 * first, with the same serial): whatever the syscall, it is only the
	 * carrier, so no file or process action is claimed for it. */
	m->act = m->e->trailer ? A_SYSCALL : syscall_action(m);
	m->source = actions[m->act].source;
	m->name = actions[m->act].name;
	m->read_only = actions[m->act].read_only;
	return 0;
}

/* ---- userIdentity ---- */

/* sessionContext.attributes: the session and the process's real and
 * effective user, as strings like CloudTrail's own attributes. */
static int
add_session(const struct map *m, struct json_object *ui)
{
	static const char *const ids[] = { "uid", "euid" };
	struct json_object *sc, *attrs;
	char key[16], num[16];
	uint32_t id;
	struct sv name;
	size_t i;
	int r;

	if ((r = jnew(false, &attrs)) < 0)
		return r;
	if (mid(m, "ses", &id)) {
		snprintf(num, sizeof(num), "%" PRIu32, id);
		if ((r = ht_json_add_str(attrs, "sessionId", num)) < 0)
			goto out;
	}
	for (i = 0; i < 2; i++) {
		if (!mid(m, ids[i], &id))
			continue;
		snprintf(num, sizeof(num), "%" PRIu32, id);
		snprintf(key, sizeof(key), "%sName", ids[i]);
		if ((r = ht_json_add_str(attrs, ids[i], num)) < 0 ||
		    (id_name(m, mfield(m, ids[i]), id, false, &name) &&
		    (r = jadd_sv(attrs, key, name)) < 0))
			goto out;
	}
	if (json_object_object_length(attrs) == 0)
		goto out;
	if ((r = jnew(false, &sc)) < 0 || (r = ht_json_add(ui, "sessionContext", sc)) < 0)
		goto out;
	r = ht_json_add(sc, "attributes", attrs);
	attrs = NULL;
out:
	json_object_put(attrs);
	return r;
}

/* The login user (auid): Root or IAMUser. */
static int
identity_login(const struct map *m, struct json_object *ui, uint32_t auid)
{
	char num[16];
	struct sv name;
	int r;

	snprintf(num, sizeof(num), "%" PRIu32, auid);
	if ((r = ht_json_add_str(ui, "type", auid == 0 ? "Root" : "IAMUser")) < 0 ||
	    (r = ht_json_add_str(ui, "principalId", num)) < 0)
		return r;
	if (id_name(m, mfield(m, "auid"), auid, false, &name))
		return jadd_sv(ui, "userName", name);
	return 0;
}

/* Before a login has set the auid: the account signing in (acct=, id=). */
static int
identity_acct(const struct map *m, struct json_object *ui, struct sv acct, bool have_acct)
{
	char num[16];
	struct sv name;
	uint32_t id;
	bool have_id = fid(m->main, "id", &id);
	int r;

	if (!have_acct && have_id && id_name(m, rec_field(m->main, "id"), id, false, &name)) {
		acct = name;
		have_acct = true;
	}
	if ((r = ht_json_add_str(ui, "type", (have_id && id == 0) || (have_acct && sv_eq(acct, "root")) ?
	    "Root" : "IAMUser")) < 0)
		return r;
	if (have_id) {
		snprintf(num, sizeof(num), "%" PRIu32, id);
		if ((r = ht_json_add_str(ui, "principalId", num)) < 0)
			return r;
	}
	return have_acct ? jadd_sv(ui, "userName", acct) : 0;
}

/* No login user: the system itself, as the process's uid and program. */
static int
identity_service(const struct map *m, struct json_object *ui, uint32_t uid)
{
	char num[16];
	struct sv exe;
	int r;

	snprintf(num, sizeof(num), "%" PRIu32, uid);
	if ((r = ht_json_add_str(ui, "type", "AWSService")) < 0 ||
	    (r = ht_json_add_str(ui, "principalId", num)) < 0)
		return r;
	if (mget(m, "exe", &exe) || mget(m, "comm", &exe))
		return jadd_sv(ui, "invokedBy", exe);
	return 0;
}

static int
build_identity(const struct map *m, struct json_object **ret)
{
	struct json_object *ui;
	struct sv acct = { NULL, 0 };
	uint32_t id;
	bool have_acct;
	int r;

	if ((r = jnew(false, &ui)) < 0)
		return r;
	have_acct = (m->fam->flags & F_ACTOR) != 0 && fget(m->main, "acct", &acct);
	if (mid(m, "auid", &id))
		r = identity_login(m, ui, id);
	else if ((m->fam->flags & F_ACTOR) != 0 && (have_acct || fid(m->main, "id", &id)))
		r = identity_acct(m, ui, acct, have_acct);
	else if (mid(m, "uid", &id))
		r = identity_service(m, ui, id);
	else
		r = ht_json_add_str(ui, "type", "Unknown");
	if (r >= 0)
		r = add_session(m, ui);
	if (r < 0) {
		json_object_put(ui);
		return r;
	}
	*ret = ui;
	return 0;
}

/* ---- errors ---- */

static bool
res_failed(struct sv res)
{
	return sv_eq(res, "failed") || sv_eq(res, "fail") || sv_eq(res, "no") || sv_eq(res, "0");
}

/* A failed syscall: errno's name and text ("EACCES", "Permission
 * denied"), or Failed when the exit value is no errno. */
static int
syscall_error(const struct map *m, struct ht_record *rec)
{
	const char *name, *desc;
	int64_t ex;
	int err;

	if (!m->sys_failed)
		return 0;
	if (sys_exit(m, &ex) && ex < 0 && ex >= -4095) {
		err = (int)-ex;
		name = strerrorname_np(err);
		desc = strerrordesc_np(err);
		if (name != NULL)
			rec->error_code = strdup(name);
		else if (asprintf(&rec->error_code, "Errno%d", err) < 0)
			rec->error_code = NULL;
		if (desc != NULL)
			rec->error_message = strdup(desc);
		else if (asprintf(&rec->error_message, "Error %d", err) < 0)
			rec->error_message = NULL;
	} else {
		rec->error_code = strdup("Failed");
		if (asprintf(&rec->error_message, "%s failed",
		    m->sc_name[0] != '\0' ? m->sc_name : m->name) < 0)
			rec->error_message = NULL;
	}
	return rec->error_code != NULL && rec->error_message != NULL ? 0 : -ENOMEM;
}

/* res=failed (no, 0): AccessDenied or Failed, "<op> failed". */
static int
msg_error(const struct map *m, struct ht_record *rec)
{
	struct sv res, op;
	char *what = NULL;
	int n;

	if (!fget(m->main, "res", &res) || !res_failed(res))
		return 0;
	if (fget(m->main, "op", &op) && (what = clean_dup(op, 256)) == NULL)
		return -ENOMEM;
	rec->error_code = strdup((m->fam->flags & F_DENIED) != 0 ? "AccessDenied" : "Failed");
	n = asprintf(&rec->error_message, "%s failed", what != NULL ? what : m->name);
	free(what);
	if (n < 0)
		rec->error_message = NULL;
	return rec->error_code != NULL && rec->error_message != NULL ? 0 : -ENOMEM;
}

/* ---- requestParameters ---- */

/* Fields that go elsewhere in the record, or say nothing to a reader. */
static bool
msg_field_skipped(const char *name)
{
	static const char *const skip[] = { "auid", "uid", "euid", "ses", "res", "subj", "msg" };
	size_t i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcmp(name, skip[i]) == 0)
			return true;
	return false;
}

/* An ENRICHED interpretation that says more than its field, under the
 * name auditd gives it there: "SIG":"SIGSEGV", "ID":"bob". */
static int
add_interp(struct json_object *o, const struct ht_audit_field *f, struct sv value)
{
	char key[64];
	struct sv s;
	size_t i, n = strlen(f->name);

	if (!interp_sv(f, &s) || n >= sizeof(key) || (s.len == value.len &&
	    memcmp(s.p, value.p, s.len) == 0))
		return 0;
	for (i = 0; i < n; i++)
		key[i] = f->name[i] >= 'a' && f->name[i] <= 'z' ? (char)(f->name[i] - 32) :
		    f->name[i];
	key[n] = '\0';
	if (strcmp(key, f->name) == 0)
		return 0;
	return jadd_sv(o, key, s);
}

/* Every field of r with a value, as strings, each followed by its ENRICHED
 * interpretation; skip: leave out msg_field_skipped() ones. */
static int
add_fields(struct json_object *o, const struct ht_audit_record *r, bool skip)
{
	struct sv s;
	size_t i;
	int ret;

	for (i = 0; i < r->n_fields; i++) {
		const struct ht_audit_field *f = &r->fields[i];

		if (f->name == NULL || !utf8_clean(f->name, strlen(f->name)) ||
		    (skip && msg_field_skipped(f->name)) || !field_sv(f, &s))
			continue;
		if ((ret = jadd_sv(o, f->name, s)) < 0 || (ret = add_interp(o, f, s)) < 0)
			return ret;
	}
	return 0;
}

static const char *
type_name(const struct ht_audit_record *r, char *buf, size_t len)
{
	if (r->type_name != NULL)
		return r->type_name;
	snprintf(buf, len, "UNKNOWN[%u]", r->type);
	return buf;
}

static bool
consumed(const struct map *m, const struct ht_audit_record *r)
{
	if (r == m->main || r == m->sys || r == m->title || rec_is(r, HT_AUDIT_EOE, "EOE"))
		return true;
	if ((m->fam->flags & F_SYSCALL) == 0)
		return false;
	return r == m->cwd || rec_is(r, HT_AUDIT_PATH, "PATH") ||
	    rec_is(r, HT_AUDIT_EXECVE, "EXECVE");
}

/* The records the mapping did not use, each under its type name, so that
 * nothing of the event is lost: "AVC":[{...}]. */
static int
add_other_records(const struct map *m, struct json_object *params)
{
	struct json_object *arr, *o;
	char tbuf[32];
	const char *t;
	size_t i;
	int r;

	for (i = 0; i < m->e->n_records; i++) {
		const struct ht_audit_record *rec = m->e->records[i];

		if (consumed(m, rec))
			continue;
		t = type_name(rec, tbuf, sizeof(tbuf));
		if (!json_object_object_get_ex(params, t, &arr) &&
		    ((r = jnew(true, &arr)) < 0 || (r = ht_json_add(params, t, arr)) < 0))
			return r;
		if (!json_object_is_type(arr, json_type_array))
			continue;	/* a field of the main record has that name */
		if ((r = jnew(false, &o)) < 0 || (r = ht_json_push(arr, o)) < 0 ||
		    (r = add_fields(o, rec, false)) < 0)
			return r;
	}
	return 0;
}

static bool
is_digits(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return n > 0;
}

/* "a12" -> 12, "a12[3]" -> 12 with *chunk; -1 for any other name. */
static long
arg_index(const char *name, bool *chunk)
{
	const char *br;
	size_t n;

	if (name[0] != 'a')
		return -1;
	n = strlen(name + 1);
	br = strchr(name + 1, '[');
	*chunk = br != NULL;
	if (br != NULL) {
		if (name[n] != ']' || !is_digits(br + 1, (size_t)(name + n - br - 1)))
			return -1;
		n = (size_t)(br - name - 1);
	}
	if (!is_digits(name + 1, n) || n > 6)
		return -1;
	return strtol(name + 1, NULL, 10);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A chunk of a long argument (a1[0]=...) is always hex; decode it unless
 * the parser did. */
static int
add_chunk(struct buf *b, const struct ht_audit_field *f)
{
	char c;
	size_t i;
	int r;

	if (f->hex || f->len % 2 != 0)
		return buf_add(b, f->value, f->len);
	for (i = 0; i < f->len; i++)
		if (hexval(f->value[i]) < 0)
			return buf_add(b, f->value, f->len);
	for (i = 0; i < f->len; i += 2) {
		c = (char)(hexval(f->value[i]) << 4 | hexval(f->value[i + 1]));
		if ((r = buf_add(b, &c, 1)) < 0)
			return r;
	}
	return 0;
}

/* One argument done: into argv while the line is within CMDLINE_MAX. */
static int
end_arg(struct buf *arg, struct buf *line, struct json_object *argv)
{
	struct sv s = { arg->p != NULL ? arg->p : "", arg->len };
	int r;

	if ((line->len > 0 && (r = buf_add(line, " ", 1)) < 0) ||
	    (r = buf_add(line, s.p, s.len)) < 0)
		return r;
	arg->len = 0;
	return line->len <= CMDLINE_MAX ? ht_json_push(argv, jstr(s)) : 0;
}

/* The EXECVE arguments, in argv and joined by spaces in line.  Chunks of a
 * long argument (a2[0], a2[1]) are joined, should the assembler not have
 * done it. */
static int
exec_args(const struct map *m, struct buf *line, struct json_object *argv)
{
	struct buf arg = { 0 };
	long idx, last = -1;
	bool chunk;
	size_t i, j;
	int r = 0;

	for (i = 0; i < m->e->n_records && r >= 0; i++) {
		const struct ht_audit_record *rec = m->e->records[i];

		if (!rec_is(rec, HT_AUDIT_EXECVE, "EXECVE"))
			continue;
		for (j = 0; j < rec->n_fields && r >= 0; j++) {
			const struct ht_audit_field *f = &rec->fields[j];

			if (f->name == NULL || f->value == NULL ||
			    (idx = arg_index(f->name, &chunk)) < 0)
				continue;
			if (idx != last && last >= 0 && (r = end_arg(&arg, line, argv)) < 0)
				break;
			last = idx;
			r = chunk ? add_chunk(&arg, f) : buf_add(&arg, f->value, f->len);
		}
	}
	if (r >= 0 && last >= 0)
		r = end_arg(&arg, line, argv);
	free(arg.p);
	return r;
}

/* commandLine: the EXECVE arguments joined by spaces (and "arguments", the
 * list), else the process title.  At most CMDLINE_MAX bytes are kept. */
static int
add_cmdline(const struct map *m, struct json_object *params)
{
	struct json_object *argv = NULL;
	struct buf line = { 0 };
	struct sv s;
	int r = 0;

	if ((m->fam->flags & F_SYSCALL) != 0 &&
	    ((r = jnew(true, &argv)) < 0 || (r = exec_args(m, &line, argv)) < 0))
		goto out;
	if (line.len > 0) {
		s.p = line.p;
		s.len = line.len;
	} else if (!fget(m->title, "proctitle", &s)) {
		goto out;
	}
	if (s.len > CMDLINE_MAX) {
		s.len = CMDLINE_MAX;
		while (s.len > 0 && ((unsigned char)s.p[s.len] & 0xc0) == 0x80)
			s.len--;
	}
	if ((r = jadd_sv(params, "commandLine", s)) < 0)
		goto out;
	if (line.len > CMDLINE_MAX &&
	    (r = ht_json_add(params, "commandLineTruncated", json_object_new_boolean(1))) < 0)
		goto out;
	if (line.len > 0) {
		r = ht_json_add(params, "arguments", argv);
		argv = NULL;
	}
out:
	json_object_put(argv);
	free(line.p);
	return r;
}

/* "paths": each PATH record's normalized name, nametype, mode and owner. */
static int
add_paths(const struct map *m, struct json_object *params)
{
	static const char *const keep[] = { "mode", "ouid", "ogid" };
	struct json_object *arr, *o;
	struct sv s;
	size_t i, k;
	int r;

	if (m->n_paths == 0)
		return 0;
	if ((r = jnew(true, &arr)) < 0 || (r = ht_json_add(params, "paths", arr)) < 0)
		return r;
	for (i = 0; i < m->n_paths; i++) {
		const struct path_item *p = &m->paths[i];

		if ((r = jnew(false, &o)) < 0 || (r = ht_json_push(arr, o)) < 0 ||
		    (p->name != NULL && (r = jadd_sv(o, "name", sv_of(p->name))) < 0) ||
		    (p->nametype.len > 0 && (r = jadd_sv(o, "nametype", p->nametype)) < 0))
			return r;
		for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (fget(p->r, keep[k], &s) && (r = jadd_sv(o, keep[k], s)) < 0)
				return r;
	}
	return 0;
}

/* The rule key; a rule with several keys has them 0x01-separated: they
 * become "k1,k2". */
static int
add_key(struct json_object *params, struct sv key)
{
	char *k;
	size_t i;
	int r;

	if (memchr(key.p, '\x01', key.len) == NULL)
		return jadd_sv(params, "key", key);
	if ((k = malloc(key.len)) == NULL)
		return -ENOMEM;
	for (i = 0; i < key.len; i++)
		k[i] = key.p[i] == '\x01' ? ',' : key.p[i];
	key.p = k;
	r = jadd_sv(params, "key", key);
	free(k);
	return r;
}

/* Syscall events: a fixed set of fields, in this order. */
static int
syscall_params(const struct map *m, struct json_object *params)
{
	static const char *const sys_keys[] = { "exe", "comm", "pid", "ppid", "tty" };
	static const char *const args[] = { "a0", "a1", "a2", "a3" };
	struct sv s;
	size_t i;
	int r;

	if (m->sc_name[0] != '\0' && (r = ht_json_add_str(params, "syscall", m->sc_name)) < 0)
		return r;
	if (fget(m->sys, "key", &s) && (r = add_key(params, s)) < 0)
		return r;
	for (i = 0; i < sizeof(sys_keys) / sizeof(sys_keys[0]); i++)
		if (fget(m->sys, sys_keys[i], &s) && (r = jadd_sv(params, sys_keys[i], s)) < 0)
			return r;
	if (fget(m->cwd, "cwd", &s) && (r = jadd_sv(params, "cwd", s)) < 0)
		return r;
	if ((r = add_cmdline(m, params)) < 0 || (r = add_paths(m, params)) < 0)
		return r;
	/* Not a file or exec: the raw arguments (kill's pid and signal...). */
	if (!actions[m->act].files && m->act != A_EXEC)
		for (i = 0; i < 4; i++)
			if (fget(m->sys, args[i], &s) && (r = jadd_sv(params, args[i], s)) < 0)
				return r;
	return 0;
}

/* Other events: the main record's fields, plus the process from a SYSCALL
 * record that came with it. */
static int
msg_params(const struct map *m, struct json_object *params)
{
	static const char *const sys_keys[] = { "exe", "comm", "pid", "ppid" };
	char tbuf[32];
	struct sv s;
	size_t i;
	int r;

	if ((m->fam->flags & F_ANOMALY) != 0 &&
	    (r = ht_json_add_str(params, "anomaly", type_name(m->main, tbuf, sizeof(tbuf)))) < 0)
		return r;
	if (m->main != NULL && (r = add_fields(params, m->main, true)) < 0)
		return r;
	if (m->sys != NULL && m->sc_name[0] != '\0' &&
	    (r = ht_json_add_str(params, "syscall", m->sc_name)) < 0)
		return r;
	for (i = 0; i < sizeof(sys_keys) / sizeof(sys_keys[0]); i++)
		if (!json_object_object_get_ex(params, sys_keys[i], NULL) &&
		    fget(m->sys, sys_keys[i], &s) && (r = jadd_sv(params, sys_keys[i], s)) < 0)
			return r;
	return add_cmdline(m, params);
}

static int
build_params(const struct map *m, struct json_object **ret)
{
	struct json_object *params;
	int r;

	if ((r = jnew(false, &params)) < 0)
		return r;
	r = (m->fam->flags & F_SYSCALL) != 0 ? syscall_params(m, params) : msg_params(m, params);
	if (r >= 0)
		r = add_other_records(m, params);
	if (r < 0) {
		json_object_put(params);
		return r;
	}
	*ret = params;
	return 0;
}

/* ---- resources ---- */

static int
add_resource(struct json_object *arr, const char *type, struct sv arn)
{
	struct json_object *o, *v;
	size_t i;
	int r;

	for (i = 0; i < json_object_array_length(arr); i++) {
		o = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(o, "ARN", &v) &&
		    (size_t)json_object_get_string_len(v) == arn.len &&
		    memcmp(json_object_get_string(v), arn.p, arn.len) == 0)
			return 0;
	}
	if ((r = jnew(false, &o)) < 0 || (r = ht_json_push(arr, o)) < 0 ||
	    (r = ht_json_add_str(o, "type", type)) < 0)
		return r;
	return jadd_sv(o, "ARN", arn);
}

static int
syscall_resources(const struct map *m, struct json_object *arr)
{
	struct sv exe;
	size_t i;
	int r;

	if (actions[m->act].files) {
		for (i = 0; i < m->n_paths; i++)
			if (m->paths[i].name != NULL && !sv_eq(m->paths[i].nametype, "PARENT") &&
			    (r = add_resource(arr, "Host::File", sv_of(m->paths[i].name))) < 0)
				return r;
		return 0;
	}
	/* A failed exec leaves exe= at the caller: the program is PATH item 0. */
	if (m->act == A_EXEC && (m->sys == NULL || m->sys_failed) && m->n_paths > 0 &&
	    m->paths[0].name != NULL)
		return add_resource(arr, "Host::Process", sv_of(m->paths[0].name));
	if (fget(m->sys, "exe", &exe))
		return add_resource(arr, "Host::Process", exe);
	return 0;
}

/* The user or group an identity or login event is about: acct=, else the
 * name of id=, else id= itself. */
static int
principal_resource(const struct map *m, struct json_object *arr, bool group)
{
	char num[16];
	struct sv s;
	uint32_t id;

	if (fget(m->main, "acct", &s))
		return add_resource(arr, group ? "Host::Group" : "Host::User", s);
	if (!fid(m->main, "id", &id))
		return 0;
	if (!id_name(m, rec_field(m->main, "id"), id, group, &s)) {
		snprintf(num, sizeof(num), "%" PRIu32, id);
		s = sv_of(num);
	}
	return add_resource(arr, group ? "Host::Group" : "Host::User", s);
}

static int
msg_resources(const struct map *m, struct json_object *arr)
{
	unsigned fl = m->fam->flags;
	struct sv s;
	int r;

	if ((fl & F_RES_USER) != 0 && (r = principal_resource(m, arr, false)) < 0)
		return r;
	if ((fl & F_RES_GROUP) != 0 && (r = principal_resource(m, arr, true)) < 0)
		return r;
	if ((fl & F_RES_UNIT) != 0 && fget(m->main, "unit", &s) &&
	    (r = add_resource(arr, "Host::Service", s)) < 0)
		return r;
	if ((fl & F_RES_EXE) != 0 && mget(m, "exe", &s) &&
	    (r = add_resource(arr, "Host::Process", s)) < 0)
		return r;
	return 0;
}

/* resources, or NULL in *ret when the event names none. */
static int
build_resources(const struct map *m, struct json_object **ret)
{
	struct json_object *arr;
	int r;

	if ((r = jnew(true, &arr)) < 0)
		return r;
	r = (m->fam->flags & F_SYSCALL) != 0 ? syscall_resources(m, arr) : msg_resources(m, arr);
	if (r < 0 || json_object_array_length(arr) == 0) {
		json_object_put(arr);
		arr = NULL;
	}
	*ret = arr;
	return r < 0 ? r : 0;
}

/* ---- additionalEventData ---- */

static int
build_additional(const struct map *m, struct json_object **ret)
{
	const struct ht_audit_event *e = m->e;
	struct json_object *add, *types;
	char tbuf[32], when[32];
	size_t i;
	int r;

	if ((r = jnew(false, &add)) < 0)
		return r;
	snprintf(when, sizeof(when), "%" PRId64 ".%03d", e->time_ms / 1000,
	    (int)(e->time_ms % 1000));
	if ((r = ht_json_add(add, "auditSerial", json_object_new_int64((int64_t)e->serial))) < 0 ||
	    (r = ht_json_add_str(add, "auditTime", when)) < 0 || (r = jnew(true, &types)) < 0 ||
	    (r = ht_json_add(add, "auditRecordTypes", types)) < 0)
		goto fail;
	for (i = 0; i < e->n_records; i++)
		if ((r = ht_json_push(types, json_object_new_string(type_name(e->records[i], tbuf,
		    sizeof(tbuf))))) < 0)
			goto fail;
	if (e->node != NULL && (r = jadd_sv(add, "node", sv_of(e->node))) < 0)
		goto fail;
	if ((r = ht_json_add_str(add, "source", m->ctx->source)) < 0)
		goto fail;
	if (!e->complete && (r = ht_json_add(add, "incomplete", json_object_new_boolean(1))) < 0)
		goto fail;
	if (e->trailer && (r = ht_json_add(add, "trailer", json_object_new_boolean(1))) < 0)
		goto fail;
	*ret = add;
	return 0;
fail:
	json_object_put(add);
	return r;
}

/* ---- the record ---- */

static int
set_str(char **dst, const char *s)
{
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst != NULL ? 0 : -ENOMEM;
}

/* sourceIPAddress: addr=, else hostname=; userAgent: the program. */
static int
set_origin(const struct map *m, struct ht_record *rec)
{
	struct sv s;

	if ((fget(m->main, "addr", &s) || fget(m->main, "hostname", &s)) &&
	    (rec->source_ip_address = clean_dup(s, USER_AGENT_MAX)) == NULL)
		return -ENOMEM;
	if ((mget(m, "exe", &s) || mget(m, "comm", &s)) &&
	    (rec->user_agent = clean_dup(s, USER_AGENT_MAX)) == NULL)
		return -ENOMEM;
	return 0;
}

static int
fill_record(const struct map *m, struct ht_record *rec)
{
	const struct family *f = m->fam;
	int r;

	rec->event_time = (time_t)(m->e->time_ms / 1000);
	rec->read_only = m->read_only ? HT_TRUE : HT_FALSE;
	rec->management_event = f->data ? HT_FALSE : HT_TRUE;
	if ((r = set_str(&rec->event_version, HT_EVENT_VERSION)) < 0 ||
	    (r = set_str(&rec->event_source, m->source)) < 0 ||
	    (r = set_str(&rec->event_name, m->name)) < 0 ||
	    (r = set_str(&rec->event_type, f->event_type)) < 0 ||
	    (r = set_str(&rec->event_category, f->data ? "Data" : "Management")) < 0 ||
	    (r = set_origin(m, rec)) < 0)
		return r;
	r = (f->flags & F_SYSCALL) != 0 ? syscall_error(m, rec) : msg_error(m, rec);
	if (r < 0 || (r = build_identity(m, &rec->user_identity)) < 0 ||
	    (r = build_params(m, &rec->request_parameters)) < 0 ||
	    (r = build_resources(m, &rec->resources)) < 0)
		return r;
	return build_additional(m, &rec->additional_event_data);
}

int
ht_audit_map(const struct ht_audit_event *e, const struct ht_audit_map_ctx *ctx,
    struct ht_record **ret)
{
	static const struct ht_audit_map_ctx no_ctx;
	struct map m;
	struct ht_record *rec = NULL;
	int r;

	memset(&m, 0, sizeof(m));
	m.e = e;
	m.ctx = ctx != NULL ? ctx : &no_ctx;
	find_family(&m);
	m.title = ev_find(e, HT_AUDIT_PROCTITLE, "PROCTITLE");
	if ((m.fam->flags & F_SYSCALL) != 0) {
		if ((r = classify_syscall(&m)) < 0)
			goto out;
	} else {
		m.sys = ev_find(e, HT_AUDIT_SYSCALL, "SYSCALL");
		if (m.sys != NULL)
			identify_syscall(&m);
		m.source = m.fam->source;
		m.name = m.fam->name;
		m.read_only = m.fam->read_only;
	}
	if ((rec = ht_record_new()) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = fill_record(&m, rec)) < 0)
		goto out;
	*ret = rec;
	rec = NULL;
out:
	ht_record_free(rec);
	free_paths(&m);
	return r;
}
