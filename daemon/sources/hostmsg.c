/*
 * hostmsg.c - one host log message as one CloudTrail record.
 *
 * The mapping is data.  rules[] holds the wordings of sshd, su and
 * shadow-utils (useradd, usermod, userdel, groupadd, groupdel, gpasswd,
 * passwd, chage, chfn, chsh) as small patterns, each with the event it
 * makes and the part each captured piece plays (the user signing in, the
 * group changed, the source address...).  sudo's "user : KEY=value ; ..."
 * lines, PAM's "pam_MODULE(SERVICE:TYPE): ..." lines and systemd's unit
 * jobs (by journal MESSAGE_ID, else by wording) have a parser each;
 * dpkg.log lines have their own entry point.  The README's "Host log
 * mapping" section is a copy of all this: change both together.
 *
 * Patterns.  Literal text matches itself, except that ' also matches `
 * (older shadow-utils quoted `like this').  %w is a run of non-spaces,
 * %n of digits, %q of anything but ', %r the rest.  %l and %g take text
 * up to the next literal, at its first (%l) or last (%g) occurrence from
 * which the rest of the pattern matches: sshd writes the user name, which
 * a client chooses, before "from <address> port <port>", so %g keeps a
 * name like "x from 6.6.6.6 port 1" from faking the address.  A pattern
 * has at most one %l or %g, so matching is linear in the message; messages
 * over MATCH_MAX are not matched at all (no program of the table writes
 * one) and become generic records.
 *
 * Messages are trimmed of the spaces sudo puts before its user and of a
 * trailing newline (or rsyslog's "#012" for it), and rsyslog's "message
 * repeated N times: [ ... ]" is unwrapped: the inner message is mapped and
 * additionalEventData.repeated says N.
 *
 * Record shape, after audit_map.c: userIdentity is the user the message
 * names as acting ({"type":"Root"|"IAMUser","principalId":uid if the
 * message gives it,"userName":...}; "(invalid user)" for a name sshd
 * does not know), else the program itself ({"type":"AWSService",
 * "principalId":"<_UID>","invokedBy":"<ident>"}), else {"type":"Unknown"};
 * sessionContext.attributes.uid is the logging process's _UID.
 * userAgent is the program.  Denials are AccessDenied, other failures
 * Failed.  Strings that are not UTF-8 keep their valid characters and
 * show other bytes as the text \xNN, so every record is valid JSON; every
 * value has a length bound (VALUE_MAX...), the message in a mapped record
 * MSG_MAPPED_MAX (additionalEventData is small in CloudTrail).
 *
 * The only error is -ENOMEM; what is allocated is the record and, for a
 * moment, clean copies of strings that are not.
 */
#include "ht_build.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "hostmsg.h"
#include "logline.h"
#include "jsonutil.h"
#include "record.h"

#define MATCH_MAX (16 * 1024)		/* longer messages are generic */
#define NAME_MAX_LEN 256		/* user, group, host, address, tty */
#define VALUE_MAX 4096			/* other values */
#define CMD_MAX (32 * 1024)		/* sudo's command, as audit_map's commandLine */
#define MSG_MAPPED_MAX (16 * 1024)	/* the message in additionalEventData */
#define MSG_GENERIC_MAX (64 * 1024)	/* the message of a generic record */
#define AGENT_MAX 1024			/* CloudTrail's userAgent bound */
#define ERRMSG_MAX 1024			/* and errorMessage's */
#define MAX_CAPS 6
#define MAX_KV 16
#define MAX_RES 4

#define T_CALL "AwsApiCall"
#define T_SERVICE "AwsServiceEvent"
#define T_SIGNIN "AwsConsoleSignIn"
#define SRC_LOGIN "host.login"
#define SRC_PRIVILEGE "host.privilege"
#define SRC_IDENTITY HT_GLOBAL_EVENT_SOURCE
#define SRC_SERVICE "host.service"
#define SRC_PACKAGE "host.package"
#define SRC_SYSLOG "host.syslog"
#define DENIED "AccessDenied"
#define FAILED "Failed"

/* ---- the events ---- */

enum evid {
	E_LOGIN, E_LOGOUT, E_CHECK, E_AUTH, E_SESSION_START, E_SESSION_END,
	E_RUN_COMMAND, E_SWITCH_USER,
	E_CREATE_USER, E_DELETE_USER, E_UPDATE_USER, E_CREATE_GROUP, E_DELETE_GROUP,
	E_UPDATE_GROUP, E_CHANGE_PASSWORD,
	E_START_SERVICE, E_STOP_SERVICE, E_RELOAD_SERVICE,
	E_INSTALL, E_UPGRADE, E_REMOVE, E_PURGE,
	E_LOG,
	N_EVS
};

struct evdef {
	const char *source, *name, *type;
	bool read_only;
};

/* readOnly as audit_map's rows: checking an account and authenticating
 * change nothing. */
static const struct evdef evdefs[N_EVS] = {
	[E_LOGIN] = { SRC_LOGIN, "UserLogin", T_SIGNIN, false },
	[E_LOGOUT] = { SRC_LOGIN, "UserLogout", T_SIGNIN, false },
	[E_CHECK] = { SRC_LOGIN, "CheckAccount", T_SIGNIN, true },
	[E_AUTH] = { SRC_LOGIN, "Authenticate", T_SIGNIN, true },
	[E_SESSION_START] = { SRC_LOGIN, "StartSession", T_SIGNIN, false },
	[E_SESSION_END] = { SRC_LOGIN, "EndSession", T_SIGNIN, false },
	[E_RUN_COMMAND] = { SRC_PRIVILEGE, "RunCommand", T_CALL, false },
	[E_SWITCH_USER] = { SRC_PRIVILEGE, "SwitchUser", T_CALL, false },
	[E_CREATE_USER] = { SRC_IDENTITY, "CreateUser", T_CALL, false },
	[E_DELETE_USER] = { SRC_IDENTITY, "DeleteUser", T_CALL, false },
	[E_UPDATE_USER] = { SRC_IDENTITY, "UpdateUser", T_CALL, false },
	[E_CREATE_GROUP] = { SRC_IDENTITY, "CreateGroup", T_CALL, false },
	[E_DELETE_GROUP] = { SRC_IDENTITY, "DeleteGroup", T_CALL, false },
	[E_UPDATE_GROUP] = { SRC_IDENTITY, "UpdateGroup", T_CALL, false },
	[E_CHANGE_PASSWORD] = { SRC_IDENTITY, "ChangePassword", T_CALL, false },
	[E_START_SERVICE] = { SRC_SERVICE, "StartService", T_SERVICE, false },
	[E_STOP_SERVICE] = { SRC_SERVICE, "StopService", T_SERVICE, false },
	[E_RELOAD_SERVICE] = { SRC_SERVICE, "ReloadService", T_SERVICE, false },
	[E_INSTALL] = { SRC_PACKAGE, "InstallPackage", T_CALL, false },
	[E_UPGRADE] = { SRC_PACKAGE, "UpgradePackage", T_CALL, false },
	[E_REMOVE] = { SRC_PACKAGE, "RemovePackage", T_CALL, false },
	[E_PURGE] = { SRC_PACKAGE, "PurgePackage", T_CALL, false },
	[E_LOG] = { SRC_SYSLOG, "LogMessage", T_SERVICE, false },
};

/* ---- the programs ---- */

enum ident_class {
	ID_SSHD = 0x01,
	ID_SU = 0x02,
	ID_SHADOW = 0x04,
	ID_SUDO = 0x08,
	ID_SYSTEMD = 0x10,
};

static unsigned
ident_class(const char *ident)
{
	static const char *const shadow[] = {
		"useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod",
		"gpasswd", "groupmems", "passwd", "chpasswd", "chgpasswd", "chage", "chfn",
		"chsh", "newusers",
	};
	size_t i;

	if (ident == NULL)
		return 0;
	/* OpenSSH 9.8 split sshd into sshd-session and sshd-auth. */
	if (strcmp(ident, "sshd") == 0 || strncmp(ident, "sshd-", 5) == 0)
		return ID_SSHD;
	if (strcmp(ident, "su") == 0)
		return ID_SU;
	if (strcmp(ident, "sudo") == 0)
		return ID_SUDO;
	if (strcmp(ident, "systemd") == 0)
		return ID_SYSTEMD;
	for (i = 0; i < sizeof(shadow) / sizeof(shadow[0]); i++)
		if (strcmp(ident, shadow[i]) == 0)
			return ID_SHADOW;
	return 0;
}

/* ---- text views ---- */

/* Part of a message: any bytes, not NUL-terminated. */
struct sv {
	const char *p;
	size_t len;
};

static struct sv
sv_of(const char *s)
{
	struct sv v = { s != NULL ? s : "", s != NULL ? strlen(s) : 0 };

	return v;
}

static bool
sv_eq(struct sv s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

static bool
sv_starts(struct sv s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len >= n && memcmp(s.p, lit, n) == 0;
}

static bool
sv_ends(struct sv s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len >= n && memcmp(s.p + s.len - n, lit, n) == 0;
}

static struct sv
sv_sub(struct sv s, size_t from, size_t len)
{
	struct sv v = { s.p + from, len };

	return v;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Without the blanks around it, a trailing newline, or rsyslog's escape
 * of one ("#012"). */
static struct sv
sv_trim(struct sv s)
{
	for (;;) {
		while (s.len > 0 && is_blank(s.p[0])) {
			s.p++;
			s.len--;
		}
		while (s.len > 0 && (is_blank(s.p[s.len - 1]) || s.p[s.len - 1] == '\n' ||
		    s.p[s.len - 1] == '\r'))
			s.len--;
		if (!sv_ends(s, "#012"))
			return s;
		s.len -= 4;
	}
}

/* Up to the first occurrence of sep: *head before, *tail after (or all
 * of s in *head, and false, when sep does not occur). */
static bool
sv_split(struct sv s, const char *sep, struct sv *head, struct sv *tail)
{
	size_t n = strlen(sep), i;

	for (i = 0; n <= s.len && i <= s.len - n; i++)
		if (memcmp(s.p + i, sep, n) == 0) {
			*head = sv_sub(s, 0, i);
			*tail = sv_sub(s, i + n, s.len - i - n);
			return true;
		}
	*head = s;
	tail->p = s.p + s.len;
	tail->len = 0;
	return false;
}

/* Decimal digits only, as a number below 10^18. */
static bool
sv_num(struct sv s, int64_t *ret)
{
	int64_t v = 0;
	size_t i;

	if (s.len == 0 || s.len > 18)
		return false;
	for (i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (s.p[i] - '0');
	}
	*ret = v;
	return true;
}

/* ---- patterns ---- */

struct caps {
	struct sv c[MAX_CAPS];
	size_t n;
};

/* Pattern character pc against text character tc: ' also matches `. */
static bool
lit_eq(char pc, char tc)
{
	return pc == tc || (pc == '\'' && tc == '`');
}

static bool
lit_at(const char *lit, size_t n, const char *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!lit_eq(lit[i], p[i]))
			return false;
	return true;
}

static bool
cap_add(struct caps *c, const char *from, const char *to)
{
	if (c->n == MAX_CAPS)
		return false;
	c->c[c->n].p = from;
	c->c[c->n].len = (size_t)(to - from);
	c->n++;
	return true;
}

static bool match_at(const char *pat, const char *p, const char *end, struct caps *c,
    bool nested);

/* %l / %g at p: the text up to an occurrence of the literal that follows
 * in the pattern, trying first occurrences first (%l) or last first (%g). */
static bool
match_var(const char *pat, bool greedy, const char *p, const char *end, struct caps *c)
{
	size_t lit = strcspn(pat, "%"), span = (size_t)(end - p), i, n0 = c->n;
	const char *q;

	if (lit == 0) {
		if (*pat != '\0')
			return false;	/* two captures in a row: not a pattern */
		return cap_add(c, p, end);
	}
	if (lit > span)
		return false;
	for (i = 0; i <= span - lit; i++) {
		q = greedy ? end - lit - i : p + i;
		if (!lit_at(pat, lit, q))
			continue;
		c->n = n0;
		if (cap_add(c, p, q) && match_at(pat, q, end, c, true))
			return true;
	}
	c->n = n0;
	return false;
}

/* The rest of pattern pat against [p, end), captures appended to c; nested:
 * inside a %l/%g, where another one is not allowed. */
static bool
match_at(const char *pat, const char *p, const char *end, struct caps *c, bool nested)
{
	const char *q;

	while (*pat != '\0') {
		if (*pat != '%') {
			if (p == end || !lit_eq(*pat, *p))
				return false;
			pat++;
			p++;
			continue;
		}
		switch (pat[1]) {
		case 'w':
			for (q = p; q < end && *q != ' '; q++)
				;
			if (q == p)
				return false;
			break;
		case 'n':
			for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
				;
			if (q == p)
				return false;
			break;
		case 'q':
			for (q = p; q < end && *q != '\''; q++)
				;
			break;
		case 'r':
			q = end;
			break;
		case 'l':
		case 'g':
			return !nested && match_var(pat + 2, pat[1] == 'g', p, end, c);
		default:
			return false;
		}
		if (!cap_add(c, p, q))
			return false;
		p = q;
		pat += 2;
	}
	return p == end;
}

/* s matches pat whole; c holds the captures. */
static bool
match(const char *pat, struct sv s, struct caps *c)
{
	c->n = 0;
	return match_at(pat, s.p, s.p + s.len, c, false);
}

/* ---- the record being assembled ---- */

struct kv {
	const char *key;
	struct sv val;
	bool is_true;		/* the JSON value true, not val */
	size_t max;		/* val's bound */
};

struct res {
	const char *type;
	struct sv arn;
	size_t max;
};

struct ev {
	enum evid id;
	bool generic;
	const char *error_code;		/* NULL: success */
	char error_msg[ERRMSG_MAX];
	struct sv actor;		/* the acting user's name, if named */
	int64_t actor_uid;		/* and uid, -1 if unknown */
	bool actor_set, actor_invalid;
	struct sv ip;
	struct kv params[MAX_KV];
	size_t n_params;
	struct kv extra[MAX_KV];	/* additionalEventData */
	size_t n_extra;
	struct res res[MAX_RES];
	size_t n_res;
	int64_t repeated;		/* rsyslog's count, 0: none */
	char num[2][24];		/* uids written out, for params */
};

static void
ev_init(struct ev *ev, enum evid id)
{
	int64_t repeated = ev->repeated;

	memset(ev, 0, sizeof(*ev));
	ev->id = id;
	ev->actor_uid = -1;
	ev->repeated = repeated;
}

/* A full table drops the pair: the message, kept whole, still has it. */
static void
kv_add(struct kv *arr, size_t *n, const char *key, struct sv val, size_t max)
{
	if (*n == MAX_KV)
		return;
	arr[*n].key = key;
	arr[*n].val = val;
	arr[*n].is_true = false;
	arr[*n].max = max;
	(*n)++;
}

static void
param(struct ev *ev, const char *key, struct sv val)
{
	kv_add(ev->params, &ev->n_params, key, val, VALUE_MAX);
}

static void
param_true(struct ev *ev, const char *key)
{
	kv_add(ev->params, &ev->n_params, key, sv_of(""), 0);
	if (ev->n_params > 0 && ev->params[ev->n_params - 1].key == key)
		ev->params[ev->n_params - 1].is_true = true;
}

static void
extra(struct ev *ev, const char *key, struct sv val)
{
	kv_add(ev->extra, &ev->n_extra, key, val, VALUE_MAX);
}

static void
resource_max(struct ev *ev, const char *type, struct sv arn, size_t max)
{
	size_t i;

	if (arn.len == 0 || ev->n_res == MAX_RES)
		return;
	for (i = 0; i < ev->n_res; i++)
		if (strcmp(ev->res[i].type, type) == 0 && ev->res[i].arn.len == arn.len &&
		    memcmp(ev->res[i].arn.p, arn.p, arn.len) == 0)
			return;
	ev->res[ev->n_res].type = type;
	ev->res[ev->n_res].arn = arn;
	ev->res[ev->n_res].max = max;
	ev->n_res++;
}

/* Users, groups, services and packages are names. */
static void
resource(struct ev *ev, const char *type, struct sv arn)
{
	resource_max(ev, type, arn, NAME_MAX_LEN);
}

static void
actor(struct ev *ev, struct sv name, int64_t uid)
{
	if (name.len == 0 && uid < 0)
		return;
	ev->actor = name;
	ev->actor_uid = uid;
	ev->actor_set = true;
}

static void
fail(struct ev *ev, const char *code, struct sv msg)
{
	size_t n = msg.len < sizeof(ev->error_msg) - 1 ? msg.len : sizeof(ev->error_msg) - 1;

	ev->error_code = code;
	memcpy(ev->error_msg, msg.p, n);
	ev->error_msg[n] = '\0';
}

/* "name(uid=1000)" (Linux-PAM 1.5 and later), "name", or "(uid=0)". */
static void
user_uid(struct sv s, struct sv *name, int64_t *uid)
{
	struct sv head, tail, num;

	*name = s;
	*uid = -1;
	if (!sv_ends(s, ")") || !sv_split(s, "(uid=", &head, &tail))
		return;
	num = sv_sub(tail, 0, tail.len - 1);
	if (sv_num(num, uid))
		*name = head;
}

/* ---- the table ---- */

enum role {
	R_NONE,
	R_LOGIN_USER,		/* the account signing in: the actor, userName, Host::User */
	R_INVALID_USER,		/* an account sshd does not know: userName, invalidUser */
	R_USER,			/* the account changed: userName, Host::User */
	R_ACTOR,		/* who acted, by name */
	R_RUNAS,		/* the account run as: runAsUser, Host::User */
	R_GROUP,		/* groupName, Host::Group */
	R_OWNER,		/* the group's owner */
	R_NEW_NAME,		/* newUserName, Host::User */
	R_IP,			/* sourceIPAddress */
	R_PORT,			/* additionalEventData.port */
	R_METHOD,		/* additionalEventData.authMethod */
	R_PROTO,		/* additionalEventData.protocol ("ssh2:" loses its colon) */
	R_KEY,			/* "ED25519 SHA256:...": keyType, keyFingerprint */
	R_TTY,
	R_DB,			/* the file changed: database */
	R_FIELD,		/* what changed: field, oldValue, newValue */
	R_OLD,
	R_NEW,
	R_USER_KV,		/* useradd's "name=bob, UID=1001, ..." */
	R_GROUP_KV,		/* "name=dev, GID=1002" */
	R_MEMBERS,
};

struct fixed {
	const char *key, *val;	/* val NULL: the value true */
};

struct rule {
	unsigned idents;	/* ID_* the program must be */
	const char *pattern;
	enum evid ev;
	unsigned char roles[MAX_CAPS];
	const char *error_code;	/* NULL: a success */
	const char *error_msg;	/* "%1".."%6" are the captures */
	struct fixed fixed[2];
};

#define SSHD_PRE(by, msg)						\
	{ ID_SSHD, "Connection " by " authenticating user %g %w port %n [preauth]", E_LOGIN, \
	  { R_LOGIN_USER, R_IP, R_PORT }, DENIED, msg, { { 0 } } },		\
	{ ID_SSHD, "Connection " by " invalid user %g %w port %n [preauth]", E_LOGIN, \
	  { R_INVALID_USER, R_IP, R_PORT }, DENIED, msg, { { 0 } } }

#define SSHD_MAX(pre)							\
	{ ID_SSHD, pre "maximum authentication attempts exceeded for invalid user %g from %w" \
	  " port %n %w [preauth]", E_LOGIN, { R_INVALID_USER, R_IP, R_PORT, R_PROTO }, DENIED, \
	  "Maximum authentication attempts exceeded", { { 0 } } },		\
	{ ID_SSHD, pre "maximum authentication attempts exceeded for %g from %w port %n %w" \
	  " [preauth]", E_LOGIN, { R_LOGIN_USER, R_IP, R_PORT, R_PROTO }, DENIED,	\
	  "Maximum authentication attempts exceeded", { { 0 } } }

/* First match wins: the "invalid user" forms precede the general ones. */
static const struct rule rules[] = {
	/* OpenSSH (Debian 12: 9.2p1, RHEL 9: 8.7p1) */
	{ ID_SSHD, "Accepted %w for %l from %w port %n %w %r", E_LOGIN,
	  { R_METHOD, R_LOGIN_USER, R_IP, R_PORT, R_PROTO, R_KEY }, NULL, NULL, { { 0 } } },
	{ ID_SSHD, "Accepted %w for %l from %w port %n %w", E_LOGIN,
	  { R_METHOD, R_LOGIN_USER, R_IP, R_PORT, R_PROTO }, NULL, NULL, { { 0 } } },
	{ ID_SSHD, "Failed %w for invalid user %g from %w port %n %w", E_LOGIN,
	  { R_METHOD, R_INVALID_USER, R_IP, R_PORT, R_PROTO }, DENIED, "Failed %1", { { 0 } } },
	{ ID_SSHD, "Failed %w for %g from %w port %n %w", E_LOGIN,
	  { R_METHOD, R_LOGIN_USER, R_IP, R_PORT, R_PROTO }, DENIED, "Failed %1", { { 0 } } },
	/* With the key after "ssh2: ": after the forms without, so that a
	 * name holding "... ssh2 x" cannot pass for the key. */
	{ ID_SSHD, "Failed %w for invalid user %g from %w port %n %w %r", E_LOGIN,
	  { R_METHOD, R_INVALID_USER, R_IP, R_PORT, R_PROTO, R_KEY }, DENIED, "Failed %1",
	  { { 0 } } },
	{ ID_SSHD, "Failed %w for %g from %w port %n %w %r", E_LOGIN,
	  { R_METHOD, R_LOGIN_USER, R_IP, R_PORT, R_PROTO, R_KEY }, DENIED, "Failed %1",
	  { { 0 } } },
	{ ID_SSHD, "Invalid user %g from %w port %n", E_CHECK,
	  { R_INVALID_USER, R_IP, R_PORT }, DENIED, "Invalid user", { { 0 } } },
	{ ID_SSHD, "Invalid user %g from %w", E_CHECK,
	  { R_INVALID_USER, R_IP }, DENIED, "Invalid user", { { 0 } } },
	{ ID_SSHD, "User %g from %w not allowed because %r", E_CHECK,
	  { R_LOGIN_USER, R_IP, R_NONE }, DENIED, "not allowed because %3", { { 0 } } },
	SSHD_PRE("closed by", "Connection closed before authentication"),
	SSHD_PRE("reset by", "Connection reset before authentication"),
	{ ID_SSHD, "Disconnected from authenticating user %g %w port %n [preauth]", E_LOGIN,
	  { R_LOGIN_USER, R_IP, R_PORT }, DENIED, "Disconnected before authentication",
	  { { 0 } } },
	{ ID_SSHD, "Disconnected from invalid user %g %w port %n [preauth]", E_LOGIN,
	  { R_INVALID_USER, R_IP, R_PORT }, DENIED, "Disconnected before authentication",
	  { { 0 } } },
	SSHD_MAX("error: "),
	SSHD_MAX(""),
	{ ID_SSHD, "Disconnected from user %g %w port %n", E_LOGOUT,
	  { R_LOGIN_USER, R_IP, R_PORT }, NULL, NULL, { { 0 } } },

	/* util-linux su (both distributions), then shadow-utils su */
	{ ID_SU, "(to %l) %w on %r", E_SWITCH_USER, { R_RUNAS, R_ACTOR, R_TTY }, NULL, NULL,
	  { { 0 } } },
	{ ID_SU, "FAILED SU (to %l) %w on %r", E_SWITCH_USER, { R_RUNAS, R_ACTOR, R_TTY },
	  DENIED, "FAILED SU", { { 0 } } },
	{ ID_SU, "Successful su for %w by %w", E_SWITCH_USER, { R_RUNAS, R_ACTOR }, NULL, NULL,
	  { { 0 } } },
	{ ID_SU, "FAILED su for %w by %w", E_SWITCH_USER, { R_RUNAS, R_ACTOR }, DENIED,
	  "FAILED su", { { 0 } } },

	/* shadow-utils (Debian 12: 4.13, RHEL 9: 4.9).  groupadd and groupdel
	 * write a line per database and one for the whole change; each is a
	 * record, as each of their audit records is. */
	{ ID_SHADOW, "new user: %r", E_CREATE_USER, { R_USER_KV }, NULL, NULL, { { 0 } } },
	{ ID_SHADOW, "new group: %r", E_CREATE_GROUP, { R_GROUP_KV }, NULL, NULL, { { 0 } } },
	{ ID_SHADOW, "group added to %l: %r", E_CREATE_GROUP, { R_DB, R_GROUP_KV }, NULL, NULL,
	  { { 0 } } },
	{ ID_SHADOW, "delete user '%q'", E_DELETE_USER, { R_USER }, NULL, NULL, { { 0 } } },
	{ ID_SHADOW, "removed group '%q' owned by '%q'", E_DELETE_GROUP, { R_GROUP, R_OWNER },
	  NULL, NULL, { { 0 } } },
	{ ID_SHADOW, "removed shadow group '%q' owned by '%q'", E_DELETE_GROUP,
	  { R_GROUP, R_OWNER }, NULL, NULL, { { "shadow", NULL } } },
	{ ID_SHADOW, "group '%q' removed from %r", E_DELETE_GROUP, { R_GROUP, R_DB }, NULL, NULL,
	  { { 0 } } },
	{ ID_SHADOW, "group '%q' removed", E_DELETE_GROUP, { R_GROUP }, NULL, NULL, { { 0 } } },
	{ ID_SHADOW, "add '%q' to group '%q'", E_UPDATE_GROUP, { R_USER, R_GROUP }, NULL, NULL,
	  { { "operation", "add-member" } } },
	{ ID_SHADOW, "add '%q' to shadow group '%q'", E_UPDATE_GROUP, { R_USER, R_GROUP }, NULL,
	  NULL, { { "operation", "add-member" }, { "shadow", NULL } } },
	{ ID_SHADOW, "delete '%q' from group '%q'", E_UPDATE_GROUP, { R_USER, R_GROUP }, NULL,
	  NULL, { { "operation", "remove-member" } } },
	{ ID_SHADOW, "delete '%q' from shadow group '%q'", E_UPDATE_GROUP, { R_USER, R_GROUP },
	  NULL, NULL, { { "operation", "remove-member" }, { "shadow", NULL } } },
	{ ID_SHADOW, "user %w added by %w to group %w%r", E_UPDATE_GROUP,
	  { R_USER, R_ACTOR, R_GROUP, R_NONE }, NULL, NULL, { { "operation", "add-member" } } },
	{ ID_SHADOW, "user %w removed by %w from group %w%r", E_UPDATE_GROUP,
	  { R_USER, R_ACTOR, R_GROUP, R_NONE }, NULL, NULL,
	  { { "operation", "remove-member" } } },
	{ ID_SHADOW, "members of group %w set by %w to %r", E_UPDATE_GROUP,
	  { R_GROUP, R_ACTOR, R_MEMBERS }, NULL, NULL, { { "operation", "set-members" } } },
	{ ID_SHADOW, "change user name '%q' to '%q'", E_UPDATE_USER, { R_USER, R_NEW_NAME }, NULL,
	  NULL, { { "operation", "rename" } } },
	{ ID_SHADOW, "change user '%q' %w from '%q' to '%q'", E_UPDATE_USER,
	  { R_USER, R_FIELD, R_OLD, R_NEW }, NULL, NULL, { { "operation", "change" } } },
	{ ID_SHADOW, "change user '%q' password", E_CHANGE_PASSWORD, { R_USER }, NULL, NULL,
	  { { 0 } } },
	{ ID_SHADOW, "lock user '%q' password", E_UPDATE_USER, { R_USER }, NULL, NULL,
	  { { "operation", "lock" } } },
	{ ID_SHADOW, "unlock user '%q' password", E_UPDATE_USER, { R_USER }, NULL, NULL,
	  { { "operation", "unlock" } } },
	{ ID_SHADOW, "password locked for '%q'", E_UPDATE_USER, { R_USER }, NULL, NULL,
	  { { "operation", "lock" } } },
	{ ID_SHADOW, "password for '%q' changed by '%q'", E_CHANGE_PASSWORD, { R_USER, R_ACTOR },
	  NULL, NULL, { { 0 } } },
	{ ID_SHADOW, "changed password expiry for %w", E_UPDATE_USER, { R_USER }, NULL, NULL,
	  { { "operation", "change" }, { "field", "password expiry" } } },
	{ ID_SHADOW, "changed user '%q' information", E_UPDATE_USER, { R_USER }, NULL, NULL,
	  { { "operation", "change" }, { "field", "information" } } },
	{ ID_SHADOW, "changed user '%q' shell to '%q'", E_UPDATE_USER, { R_USER, R_NEW }, NULL,
	  NULL, { { "operation", "change" }, { "field", "shell" } } },
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

/* "name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0"
 * (or a group's "name=dev, GID=1002") into requestParameters. */
static void
apply_kv_list(struct ev *ev, struct sv s, bool group)
{
	static const struct {
		const char *from, *to;
	} keys[] = {
		{ "UID", "uid" }, { "GID", "gid" }, { "home", "home" }, { "shell", "shell" },
		{ "from", "from" },
	};
	struct sv item, rest = s, k, v;
	size_t i;

	while (rest.len > 0) {
		(void)sv_split(rest, ", ", &item, &rest);
		if (!sv_split(item, "=", &k, &v))
			continue;
		if (sv_eq(k, "name")) {
			param(ev, group ? "groupName" : "userName", v);
			resource(ev, group ? "Host::Group" : "Host::User", v);
			continue;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (sv_eq(k, keys[i].from))
				param(ev, keys[i].to, v);
	}
}

/* "ED25519 SHA256:..." after sshd's "ssh2: ". */
static void
apply_key(struct ev *ev, struct sv s)
{
	struct sv type, rest, fp;

	(void)sv_split(s, " ", &type, &rest);
	(void)sv_split(rest, " ", &fp, &rest);
	if (type.len > 0)
		extra(ev, "keyType", type);
	if (fp.len > 0)
		extra(ev, "keyFingerprint", fp);
}

static void
apply_role(struct ev *ev, enum role role, struct sv v)
{
	switch (role) {
	case R_LOGIN_USER:
		actor(ev, v, -1);
		param(ev, "userName", v);
		resource(ev, "Host::User", v);
		break;
	case R_INVALID_USER:
		ev->actor_invalid = true;
		param(ev, "userName", v);
		param_true(ev, "invalidUser");
		break;
	case R_USER:
		param(ev, "userName", v);
		resource(ev, "Host::User", v);
		break;
	case R_ACTOR:
		actor(ev, v, -1);
		break;
	case R_RUNAS:
		param(ev, "runAsUser", v);
		resource(ev, "Host::User", v);
		break;
	case R_GROUP:
		param(ev, "groupName", v);
		resource(ev, "Host::Group", v);
		break;
	case R_OWNER:
		param(ev, "owner", v);
		break;
	case R_NEW_NAME:
		param(ev, "newUserName", v);
		resource(ev, "Host::User", v);
		break;
	case R_IP:
		ev->ip = v;
		break;
	case R_PORT:
		extra(ev, "port", v);
		break;
	case R_METHOD:
		extra(ev, "authMethod", v);
		break;
	case R_PROTO:
		if (sv_ends(v, ":"))
			v.len--;
		extra(ev, "protocol", v);
		break;
	case R_KEY:
		apply_key(ev, v);
		break;
	case R_TTY:
		param(ev, "tty", v);
		break;
	case R_DB:
		param(ev, "database", v);
		break;
	case R_FIELD:
		param(ev, "field", v);
		break;
	case R_OLD:
		param(ev, "oldValue", v);
		break;
	case R_NEW:
		param(ev, "newValue", v);
		break;
	case R_USER_KV:
	case R_GROUP_KV:
		apply_kv_list(ev, v, role == R_GROUP_KV);
		break;
	case R_MEMBERS:
		param(ev, "members", v);
		break;
	case R_NONE:
		break;
	}
}

/* errorMessage from a rule's template: "%N" is capture N. */
static void
rule_error(struct ev *ev, const struct rule *r, const struct caps *c)
{
	const char *t = r->error_msg;
	size_t o = 0, n, k;

	ev->error_code = r->error_code;
	for (; *t != '\0' && o < sizeof(ev->error_msg) - 1; t++) {
		if (t[0] == '%' && t[1] >= '1' && t[1] <= '0' + MAX_CAPS) {
			k = (size_t)(t[1] - '1');
			t++;
			if (k >= c->n)
				continue;
			n = c->c[k].len;
			if (n > sizeof(ev->error_msg) - 1 - o)
				n = sizeof(ev->error_msg) - 1 - o;
			memcpy(ev->error_msg + o, c->c[k].p, n);
			o += n;
		} else {
			ev->error_msg[o++] = *t;
		}
	}
	ev->error_msg[o] = '\0';
}

static bool
map_rules(unsigned cls, struct sv msg, struct ev *ev)
{
	const struct rule *r;
	struct caps c;
	size_t i, k;

	for (i = 0; i < N_RULES; i++) {
		r = &rules[i];
		if ((r->idents & cls) == 0 || !match(r->pattern, msg, &c))
			continue;
		ev_init(ev, r->ev);
		for (k = 0; k < c.n; k++)
			apply_role(ev, (enum role)r->roles[k], c.c[k]);
		for (k = 0; k < 2 && r->fixed[k].key != NULL; k++) {
			if (r->fixed[k].val == NULL)
				param_true(ev, r->fixed[k].key);
			else
				param(ev, r->fixed[k].key, sv_of(r->fixed[k].val));
		}
		if (r->error_code != NULL)
			rule_error(ev, r, &c);
		return true;
	}
	return false;
}

/* ---- sudo ---- */

/* sudo's KEY=value pairs, under our names. */
static const struct {
	const char *key, *name;
} sudo_keys[] = {
	{ "TTY", "tty" }, { "PWD", "cwd" }, { "USER", "runAsUser" }, { "GROUP", "runAsGroup" },
	{ "ENV", "environment" }, { "TSID", "ioLogId" }, { "CHROOT", "chroot" },
	{ "CWD", "runCwd" },
};

/* "KEY=value" with an upper-case KEY. */
static bool
sudo_pair(struct sv seg, struct sv *key, struct sv *val)
{
	size_t i;

	if (!sv_split(seg, "=", key, val) || key->len == 0)
		return false;
	for (i = 0; i < key->len; i++)
		if ((key->p[i] < 'A' || key->p[i] > 'Z') && key->p[i] != '_')
			return false;
	return true;
}

static void
sudo_command(struct ev *ev, struct sv cmd)
{
	struct sv prog, rest;

	kv_add(ev->params, &ev->n_params, "command", cmd, CMD_MAX);
	(void)sv_split(cmd, " ", &prog, &rest);
	if (prog.len > 0 && prog.p[0] == '/')
		resource_max(ev, "Host::Process", prog, VALUE_MAX);
}

/* "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u",
 * or with a refusal first: "alice : user NOT in sudoers ; TTY=...".
 * COMMAND= is last and takes the rest, " ; " and all. */
static bool
map_sudo(struct sv msg, struct ev *ev)
{
	struct sv user, rest, seg, key, val, reason = { NULL, 0 };
	bool first = true, pairs = false;
	size_t i;

	if (!sv_split(msg, " : ", &user, &rest) || user.len == 0 ||
	    memchr(user.p, ' ', user.len) != NULL)
		return false;
	ev_init(ev, E_RUN_COMMAND);
	while (rest.len > 0) {
		if (sv_starts(rest, "COMMAND=")) {
			sudo_command(ev, sv_sub(rest, 8, rest.len - 8));
			pairs = true;
			break;
		}
		(void)sv_split(rest, " ; ", &seg, &rest);
		if (sudo_pair(seg, &key, &val)) {
			pairs = true;
			for (i = 0; i < sizeof(sudo_keys) / sizeof(sudo_keys[0]); i++)
				if (sv_eq(key, sudo_keys[i].key))
					param(ev, sudo_keys[i].name, val);
			if (sv_eq(key, "USER"))
				resource(ev, "Host::User", val);
		} else if (first) {
			reason = seg;
		}
		first = false;
	}
	if (!pairs)
		return false;
	actor(ev, user, -1);
	if (reason.len > 0)
		fail(ev, DENIED, reason);
	return true;
}

/* ---- PAM ---- */

struct pam {
	struct sv module, service, type, text;
};

/* "pam_unix(sshd:session): text" (any module). */
static bool
pam_split(struct sv msg, struct pam *p)
{
	struct caps c;

	if (!match("pam_%l(%r", msg, &c))
		return false;
	p->module = sv_sub(msg, 0, c.c[0].len + 4);
	if (!match("%l:%r", c.c[1], &c))
		return false;
	p->service = c.c[0];
	if (!match("%l): %r", c.c[1], &c))
		return false;
	p->type = c.c[0];
	p->text = c.c[1];
	return memchr(p->module.p, ' ', p->module.len) == NULL &&
	    memchr(p->service.p, ' ', p->service.len) == NULL &&
	    memchr(p->type.p, ' ', p->type.len) == NULL;
}

static void
pam_common(struct ev *ev, const struct pam *p, enum evid id)
{
	ev_init(ev, id);
	param(ev, "service", p->service);
	param(ev, "module", p->module);
}

/* key: uid as text, kept in ev->num[slot]. */
static void
uid_param(struct ev *ev, const char *key, int64_t uid, int slot)
{
	if (uid < 0)
		return;
	snprintf(ev->num[slot], sizeof(ev->num[slot]), "%" PRId64, uid);
	param(ev, key, sv_of(ev->num[slot]));
}

/* "session opened for user root(uid=0) by alice(uid=1000)": the user who
 * opened it acts, else (sshd's "by (uid=0)") the session's user. */
static bool
pam_session(const struct pam *p, struct ev *ev)
{
	struct sv name, by_name;
	int64_t uid, by_uid;
	struct caps c;

	if (match("session opened for user %l by %r", p->text, &c)) {
		user_uid(c.c[0], &name, &uid);
		user_uid(c.c[1], &by_name, &by_uid);
		pam_common(ev, p, E_SESSION_START);
		param(ev, "userName", name);
		uid_param(ev, "uid", uid, 0);
		param(ev, "byUserName", by_name);
		uid_param(ev, "byUid", by_uid, 1);
		resource(ev, "Host::User", name);
		if (by_name.len > 0)
			actor(ev, by_name, by_uid);
		else
			actor(ev, name, uid);
		return true;
	}
	if (match("session closed for user %r", p->text, &c)) {
		user_uid(c.c[0], &name, &uid);
		pam_common(ev, p, E_SESSION_END);
		param(ev, "userName", name);
		uid_param(ev, "uid", uid, 0);
		resource(ev, "Host::User", name);
		actor(ev, name, uid);
		return true;
	}
	return false;
}

/* "authentication failure; logname=alice uid=1000 euid=0 tty=pts/0
 * ruser=alice rhost=  user=root": ruser (else logname) is who tried, with
 * uid; sshd has neither, so the account is.  rhost is the address. */
static bool
pam_auth_failure(const struct pam *p, struct ev *ev)
{
	/* The fields pam_unix writes, under the names they get. */
	static const struct {
		const char *key, *name;
	} keys[] = {
		{ "logname", "logname" }, { "uid", "uid" }, { "euid", "euid" }, { "tty", "tty" },
		{ "ruser", "ruser" }, { "rhost", "rhost" }, { "user", "userName" },
	};
	struct sv rest, tok, k, v, ruser = { NULL, 0 }, logname = { NULL, 0 }, user = { NULL, 0 };
	int64_t uid = -1;
	struct caps c;
	size_t i;

	if (!match("authentication failure; %r", p->text, &c))
		return false;
	pam_common(ev, p, E_AUTH);
	for (rest = c.c[0]; rest.len > 0;) {
		(void)sv_split(rest, " ", &tok, &rest);
		if (!sv_split(tok, "=", &k, &v) || v.len == 0)
			continue;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (sv_eq(k, keys[i].key))
				param(ev, keys[i].name, v);
		if (sv_eq(k, "user"))
			user = v;
		else if (sv_eq(k, "ruser"))
			ruser = v;
		else if (sv_eq(k, "logname"))
			logname = v;
		else if (sv_eq(k, "rhost"))
			ev->ip = v;
		else if (sv_eq(k, "uid") && !sv_num(v, &uid))
			uid = -1;
	}
	resource(ev, "Host::User", user);
	if (ruser.len > 0)
		actor(ev, ruser, uid);
	else if (logname.len > 0)
		actor(ev, logname, uid);
	else
		actor(ev, user, -1);
	fail(ev, DENIED, sv_of("authentication failure"));
	return true;
}

static bool
map_pam(struct sv msg, struct ev *ev)
{
	struct pam p;
	struct caps c;

	if (!pam_split(msg, &p))
		return false;
	if (sv_eq(p.type, "session"))
		return pam_session(&p, ev);
	if (sv_eq(p.type, "auth"))
		return pam_auth_failure(&p, ev);
	if (sv_eq(p.type, "chauthtok") && match("password changed for %w", p.text, &c)) {
		pam_common(ev, &p, E_CHANGE_PASSWORD);
		param(ev, "userName", c.c[0]);
		resource(ev, "Host::User", c.c[0]);
		return true;
	}
	return false;
}

/* ---- systemd ---- */

/* Job completions by MESSAGE_ID (systemd's sd-messages.h); the job's
 * JOB_TYPE/JOB_RESULT come with them. */
static const struct {
	const char *id;
	enum evid ev;
	const char *job;	/* the job type when JOB_TYPE is missing */
	bool failed;		/* a failure whatever JOB_RESULT says */
} unit_ids[] = {
	{ "39f53479d3a045ac8e11786248231fbf", E_START_SERVICE, "start", false },	/* started */
	{ "be02cf6855d2428ba40df7e9d022f03d", E_START_SERVICE, "start", true },	/* failed */
	{ "9d1aaa27d60140bd96365438aad20286", E_STOP_SERVICE, "stop", false },	/* stopped */
	{ "7b05ebc668384222baa8881179cfda54", E_RELOAD_SERVICE, "reload", false },	/* reloaded */
	{ "d9b373ed55a64feb8242e02dbe79a49c", E_STOP_SERVICE, NULL, true },	/* failure result */
};

/* The same in words (systemd 252: "Started ssh.service - OpenBSD Secure
 * Shell server."; 250 on RHEL 9.0-9.2: "Started OpenSSH server daemon."). */
static const struct {
	const char *pattern;
	enum evid ev;
	const char *error;	/* errorMessage, NULL: a success */
	bool result;		/* captures the unit and its result, not "unit - description" */
} unit_texts[] = {
	{ "Started %r", E_START_SERVICE, NULL, false },
	{ "Reached target %r", E_START_SERVICE, NULL, false },	/* a target's "Started" */
	{ "Failed to start %r", E_START_SERVICE, "start failed", false },
	{ "Dependency failed for %r", E_START_SERVICE, "start dependency", false },
	{ "Timed out starting %r", E_START_SERVICE, "start timeout", false },
	{ "Stopped %r", E_STOP_SERVICE, NULL, false },
	{ "Failed to stop %r", E_STOP_SERVICE, "stop failed", false },
	{ "Timed out stopping %r", E_STOP_SERVICE, "stop timeout", false },
	{ "Reloaded %r", E_RELOAD_SERVICE, NULL, false },
	{ "Reload failed for %r", E_RELOAD_SERVICE, "reload failed", false },
	{ "%l: Failed with result '%q'.", E_STOP_SERVICE, "failed", true },
};

static bool
unit_like(struct sv s)
{
	static const char *const suffix[] = {
		".service", ".socket", ".target", ".device", ".mount", ".automount", ".swap",
		".timer", ".path", ".slice", ".scope",
	};
	size_t i;

	if (memchr(s.p, ' ', s.len) != NULL)
		return false;
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if (s.len > strlen(suffix[i]) && sv_ends(s, suffix[i]))
			return true;
	return false;
}

/* "ssh.service - OpenBSD Secure Shell server." into unit and description;
 * a bare description leaves the unit empty.  Targets say "Stopped target
 * graphical.target - Graphical Interface.". */
static void
unit_desc(struct sv s, struct sv *unit, struct sv *desc)
{
	struct sv head, tail;

	if (sv_ends(s, "."))
		s.len--;
	if (sv_starts(s, "target "))
		s = sv_sub(s, 7, s.len - 7);
	unit->len = desc->len = 0;
	if (sv_split(s, " - ", &head, &tail) && unit_like(head)) {
		*unit = head;
		*desc = tail;
	} else if (unit_like(s)) {
		*unit = s;
	} else {
		*desc = s;
	}
}

static int
unit_id(const char *id)
{
	size_t i;

	if (id == NULL)
		return -1;
	for (i = 0; i < sizeof(unit_ids) / sizeof(unit_ids[0]); i++)
		if (strcasecmp(id, unit_ids[i].id) == 0)
			return (int)i;
	return -1;
}

static int
unit_text(struct sv msg, struct caps *c)
{
	size_t i;

	for (i = 0; i < sizeof(unit_texts) / sizeof(unit_texts[0]); i++)
		if (match(unit_texts[i].pattern, msg, c))
			return (int)i;
	return -1;
}

/* errorMessage of a job: "start failed", "stop timeout", or the unit's
 * "Failed with result 'exit-code'". */
static void
unit_error(struct ev *ev, const struct ht_hostmsg *m, int id, int text, struct sv result)
{
	const char *job = m->job_type != NULL ? m->job_type : id >= 0 ? unit_ids[id].job : NULL;
	char buf[ERRMSG_MAX];
	int n;

	if (text >= 0 && unit_texts[text].result)
		n = snprintf(buf, sizeof(buf), "Failed with result '%.*s'",
		    (int)(result.len < 200 ? result.len : 200), result.p);
	else if (m->job_result != NULL && job != NULL)
		n = snprintf(buf, sizeof(buf), "%.64s %.64s", job, m->job_result);
	else if (text >= 0 && unit_texts[text].error != NULL)
		n = snprintf(buf, sizeof(buf), "%s", unit_texts[text].error);
	else
		n = snprintf(buf, sizeof(buf), "%.64s failed", job != NULL ? job : "job");
	fail(ev, FAILED, sv_sub(sv_of(buf), 0, n > 0 ? (size_t)n : 0));
}

static bool
map_systemd(const struct ht_hostmsg *m, unsigned cls, struct sv msg, struct ev *ev)
{
	struct sv unit = { NULL, 0 }, desc = { NULL, 0 }, result = { NULL, 0 };
	int id = unit_id(m->message_id), text = -1;
	bool failed;
	struct caps c;

	if (id < 0 && (cls & ID_SYSTEMD) == 0)
		return false;
	text = unit_text(msg, &c);
	if (id < 0 && text < 0)
		return false;
	if (text >= 0 && unit_texts[text].result) {
		unit = c.c[0];
		result = c.c[1];
	} else if (text >= 0) {
		unit_desc(c.c[0], &unit, &desc);
	}
	if (m->unit != NULL)
		unit = sv_of(m->unit);
	ev_init(ev, id >= 0 ? unit_ids[id].ev : unit_texts[text].ev);
	param(ev, "unit", unit);
	param(ev, "description", desc);
	param(ev, "jobType", sv_of(m->job_type));
	param(ev, "jobResult", sv_of(m->job_result));
	param(ev, "result", result);
	resource(ev, "Host::Service", unit);
	if (id >= 0)
		failed = unit_ids[id].failed ||
		    (m->job_result != NULL && strcmp(m->job_result, "done") != 0);
	else
		failed = unit_texts[text].error != NULL;
	if (failed)
		unit_error(ev, m, id, text, result);
	return true;
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 character at p (not NUL, not overlong, no
 * surrogate, at most U+10FFFF), or 0. */
static size_t
utf8_char(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], n, i;
	uint32_t cp;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static bool
utf8_clean(struct sv s)
{
	const unsigned char *p = (const unsigned char *)s.p, *end = p + s.len;
	size_t n;

	for (; p < end; p += n)
		if ((n = utf8_char(p, end)) == 0)
			return false;
	return true;
}

/* s fit for JSON in at most max bytes: valid characters as they are, any
 * other byte as the text \xNN; cut at a character boundary (*cut set).
 * NULL on ENOMEM. */
static char *
clean_dup(struct sv s, size_t max, bool *cut)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s.p, *end = p + s.len;
	size_t cap = s.len > max / 4 ? max : s.len * 4, o = 0, n;
	char *out;

	if ((out = malloc(cap + 1)) == NULL)
		return NULL;
	*cut = false;
	while (p < end) {
		n = utf8_char(p, end);
		if (o + (n > 0 ? n : 4) > cap) {
			*cut = true;
			break;
		}
		if (n > 0) {
			memcpy(out + o, p, n);
			o += n;
			p += n;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0xf];
			p++;
		}
	}
	out[o] = '\0';
	return out;
}

/* A JSON string of s (see clean_dup), or NULL on ENOMEM. */
static struct json_object *
jstr(struct sv s, size_t max, bool *cut)
{
	struct json_object *o;
	bool dummy;
	char *c;

	if (s.len <= max && utf8_clean(s)) {	/* the usual case: no copy to make */
		if (cut != NULL)
			*cut = false;
		return json_object_new_string_len(s.p, (int)s.len);
	}
	if ((c = clean_dup(s, max, cut != NULL ? cut : &dummy)) == NULL)
		return NULL;
	o = json_object_new_string(c);
	free(c);
	return o;
}

/* key: s, unless s is empty. */
static int
jadd_sv(struct json_object *o, const char *key, struct sv s, size_t max)
{
	return s.len > 0 ? ht_json_add(o, key, jstr(s, max, NULL)) : 0;
}

static int
jadd_num(struct json_object *o, const char *key, int64_t v)
{
	char buf[24];

	if (v < 0)
		return 0;
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return jadd_sv(o, key, sv_of(buf), sizeof(buf));
}

static int
jadd_kvs(struct json_object *o, const struct kv *kv, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (kv[i].is_true)
			r = ht_json_add(o, kv[i].key, json_object_new_boolean(1));
		else
			r = jadd_sv(o, kv[i].key, kv[i].val, kv[i].max);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A new object in *ret, or -ENOMEM. */
static int
jnew(struct json_object **ret)
{
	*ret = json_object_new_object();
	return *ret != NULL ? 0 : -ENOMEM;
}

/* ---- the record ---- */

/* What build_record needs besides the event. */
struct src {
	const struct ht_hostmsg *m;
	struct sv msg;			/* the whole message, as received */
	const char *ident;		/* m->ident, or the default of the entry point */
};

static int
build_identity(const struct src *s, const struct ev *ev, struct json_object **ret)
{
	struct json_object *ui, *sc, *attrs;
	bool root;
	int r;

	if ((r = jnew(&ui)) < 0)
		return r;
	if (ev->actor_invalid) {
		r = ht_json_add(ui, "type", json_object_new_string("IAMUser"));
		if (r >= 0)
			r = ht_json_add(ui, "userName", json_object_new_string("(invalid user)"));
	} else if (ev->actor_set) {
		root = ev->actor_uid == 0 || (ev->actor_uid < 0 && sv_eq(ev->actor, "root"));
		if ((r = ht_json_add(ui, "type", json_object_new_string(root ? "Root" : "IAMUser"))) >= 0 &&
		    (r = jadd_num(ui, "principalId", ev->actor_uid)) >= 0)
			r = jadd_sv(ui, "userName", ev->actor, NAME_MAX_LEN);
	} else if (s->ident != NULL || s->m->uid >= 0) {
		if ((r = ht_json_add(ui, "type", json_object_new_string("AWSService"))) >= 0 &&
		    (r = jadd_num(ui, "principalId", s->m->uid)) >= 0)
			r = jadd_sv(ui, "invokedBy", sv_of(s->ident), NAME_MAX_LEN);
	} else {
		r = ht_json_add(ui, "type", json_object_new_string("Unknown"));
	}
	/* The process that logged: sshd's 0, like audit_map's uid. */
	if (r >= 0 && s->m->uid >= 0 && (r = jnew(&sc)) >= 0 &&
	    (r = ht_json_add(ui, "sessionContext", sc)) >= 0 && (r = jnew(&attrs)) >= 0 &&
	    (r = ht_json_add(sc, "attributes", attrs)) >= 0)
		r = jadd_num(attrs, "uid", s->m->uid);
	if (r < 0) {
		json_object_put(ui);
		return r;
	}
	*ret = ui;
	return 0;
}

/* The message, at most max bytes, and messageTruncated when cut. */
static int
add_message(struct json_object *o, struct sv msg, size_t max)
{
	bool cut = false;
	int r;

	if ((r = ht_json_add(o, "message", jstr(msg, max, &cut))) < 0 || !cut)
		return r;
	return ht_json_add(o, "messageTruncated", json_object_new_boolean(1));
}

/* What a generic record holds: the message and where it came from. */
static int
generic_params(const struct src *s, struct json_object *o)
{
	const struct ht_hostmsg *m = s->m;
	int r;

	if ((r = jadd_sv(o, "ident", sv_of(s->ident), NAME_MAX_LEN)) < 0 ||
	    (r = jadd_num(o, "pid", m->pid)) < 0 ||
	    (r = add_message(o, s->msg, MSG_GENERIC_MAX)) < 0 ||
	    (r = jadd_sv(o, "systemdUnit", sv_of(m->systemd_unit), NAME_MAX_LEN)) < 0 ||
	    (r = jadd_sv(o, "messageId", sv_of(m->message_id), NAME_MAX_LEN)) < 0 ||
	    (r = jadd_sv(o, "unit", sv_of(m->unit), NAME_MAX_LEN)) < 0 ||
	    (r = jadd_sv(o, "jobType", sv_of(m->job_type), NAME_MAX_LEN)) < 0)
		return r;
	return jadd_sv(o, "jobResult", sv_of(m->job_result), NAME_MAX_LEN);
}

static int
build_params(const struct src *s, const struct ev *ev, struct json_object **ret)
{
	struct json_object *o;
	int r;

	if ((r = jnew(&o)) < 0)
		return r;
	r = ev->generic ? generic_params(s, o) : jadd_kvs(o, ev->params, ev->n_params);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* resources, or NULL in *ret when the event names none. */
static int
build_resources(const struct ev *ev, struct json_object **ret)
{
	struct json_object *arr, *o;
	size_t i;
	int r = 0;

	*ret = NULL;
	if (ev->n_res == 0)
		return 0;
	if ((arr = json_object_new_array()) == NULL)
		return -ENOMEM;
	for (i = 0; i < ev->n_res && r >= 0; i++) {
		if ((r = jnew(&o)) < 0)
			break;
		if (json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			r = -ENOMEM;
			break;
		}
		if ((r = ht_json_add(o, "type", json_object_new_string(ev->res[i].type))) >= 0)
			r = jadd_sv(o, "ARN", ev->res[i].arn, ev->res[i].max);
	}
	if (r < 0) {
		json_object_put(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

/* source, node and logTime for all; the program and the message itself
 * too when requestParameters does not hold them. */
static int
build_additional(const struct src *s, const struct ev *ev, struct json_object **ret)
{
	const struct ht_hostmsg *m = s->m;
	struct json_object *o;
	char when[40];
	int r;

	if ((r = jnew(&o)) < 0)
		return r;
	if ((r = jadd_sv(o, "source", sv_of(m->origin), VALUE_MAX)) < 0 ||
	    (r = jadd_sv(o, "node", sv_of(m->hostname), NAME_MAX_LEN)) < 0)
		goto fail;
	if (m->time_ms >= 0) {
		snprintf(when, sizeof(when), "%" PRId64 ".%03d", m->time_ms / 1000,
		    (int)(m->time_ms % 1000));
		if ((r = jadd_sv(o, "logTime", sv_of(when), sizeof(when))) < 0)
			goto fail;
	}
	if (!ev->generic &&
	    ((r = jadd_sv(o, "ident", sv_of(s->ident), NAME_MAX_LEN)) < 0 ||
	    (r = jadd_num(o, "pid", m->pid)) < 0 ||
	    (r = jadd_sv(o, "systemdUnit", sv_of(m->systemd_unit), NAME_MAX_LEN)) < 0 ||
	    (r = jadd_sv(o, "messageId", sv_of(m->message_id), NAME_MAX_LEN)) < 0 ||
	    (r = add_message(o, s->msg, MSG_MAPPED_MAX)) < 0))
		goto fail;
	if (ev->repeated > 0 &&
	    (r = ht_json_add(o, "repeated", json_object_new_int64(ev->repeated))) < 0)
		goto fail;
	if ((r = jadd_kvs(o, ev->extra, ev->n_extra)) < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	json_object_put(o);
	return r;
}

/* A record field from s; NULL stays NULL.  0 or -ENOMEM. */
static int
set_field(char **dst, struct sv s, size_t max)
{
	bool cut;

	if (s.len == 0)
		return 0;
	*dst = clean_dup(s, max, &cut);
	return *dst != NULL ? 0 : -ENOMEM;
}

static int
fill_record(const struct src *s, const struct ev *ev, struct ht_record *rec)
{
	const struct evdef *d = &evdefs[ev->id];
	int r;

	if (s->m->time_ms >= 0)
		rec->event_time = (time_t)(s->m->time_ms / 1000);
	rec->read_only = d->read_only ? HT_TRUE : HT_FALSE;
	rec->management_event = HT_TRUE;
	if ((r = set_field(&rec->event_version, sv_of(HT_EVENT_VERSION), 16)) < 0 ||
	    (r = set_field(&rec->event_source, sv_of(d->source), 64)) < 0 ||
	    (r = set_field(&rec->event_name, sv_of(d->name), 64)) < 0 ||
	    (r = set_field(&rec->event_type, sv_of(d->type), 64)) < 0 ||
	    (r = set_field(&rec->event_category, sv_of("Management"), 16)) < 0 ||
	    (r = set_field(&rec->user_agent, sv_of(s->ident), AGENT_MAX)) < 0 ||
	    (r = set_field(&rec->source_ip_address, ev->ip, NAME_MAX_LEN)) < 0 ||
	    (r = set_field(&rec->error_code, sv_of(ev->error_code), 64)) < 0 ||
	    (r = set_field(&rec->error_message, sv_of(ev->error_code != NULL ?
	    ev->error_msg : NULL), ERRMSG_MAX)) < 0)
		return r;
	if ((r = build_identity(s, ev, &rec->user_identity)) < 0 ||
	    (r = build_params(s, ev, &rec->request_parameters)) < 0 ||
	    (r = build_resources(ev, &rec->resources)) < 0)
		return r;
	return build_additional(s, ev, &rec->additional_event_data);
}

static int
build_record(const struct src *s, const struct ev *ev, struct ht_record **ret)
{
	struct ht_record *rec;
	int r;

	if ((rec = ht_record_new()) == NULL)
		return -ENOMEM;
	if ((r = fill_record(s, ev, rec)) < 0) {
		ht_record_free(rec);
		return r;
	}
	*ret = rec;
	return 0;
}

/* ---- entry points ---- */

/* rsyslog's "message repeated 3 times: [ Failed password for ...]". */
static struct sv
unwrap_repeated(struct sv msg, struct ev *ev)
{
	struct caps c;
	struct sv inner;
	int64_t n;

	if (!sv_ends(msg, "]") || !match("message repeated %n times: [%r", msg, &c) ||
	    !sv_num(c.c[0], &n) || n <= 0)
		return msg;
	inner = c.c[1];
	inner.len--;			/* the ']' */
	ev->repeated = n;
	return sv_trim(inner);
}

/* The table's event for msg, if a row matches. */
static bool
map_message(const struct ht_hostmsg *m, struct sv msg, struct ev *ev)
{
	unsigned cls = ident_class(m->ident);

	if (msg.len > MATCH_MAX)
		return false;
	if (map_systemd(m, cls, msg, ev))
		return true;
	msg = unwrap_repeated(msg, ev);
	if ((cls & ID_SUDO) != 0 && map_sudo(msg, ev))
		return true;
	if (sv_starts(msg, "pam_") && map_pam(msg, ev))
		return true;
	return cls != 0 && map_rules(cls, msg, ev);
}

void
ht_hostmsg_from_logline(const struct ht_logline *l, const char *origin, struct ht_hostmsg *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->time_ms = l->time_ms;
	ret->hostname = l->hostname;
	ret->ident = l->ident;
	ret->message = l->message;
	ret->pid = l->pid;
	ret->uid = -1;
	ret->origin = origin;
}

int
ht_hostmsg_map(const struct ht_hostmsg *m, struct ht_record **ret, enum ht_hostmsg_kind *kind)
{
	struct src s = { m, sv_of(m->message), m->ident };
	struct ev ev;
	bool mapped;
	int r;

	ev.repeated = 0;
	ev_init(&ev, E_LOG);
	mapped = map_message(m, sv_trim(s.msg), &ev);
	if (!mapped) {
		ev.repeated = 0;
		ev_init(&ev, E_LOG);
		ev.generic = true;
	}
	if ((r = build_record(&s, &ev, ret)) < 0)
		return r;
	*kind = mapped ? HT_HOSTMSG_MAPPED : HT_HOSTMSG_GENERIC;
	return 0;
}

/* dpkg's action words and what they make; NULL event: skipped. */
static const struct {
	const char *word;
	int ev;			/* enum evid, or -1: skipped */
} dpkg_actions[] = {
	{ "install", E_INSTALL }, { "upgrade", E_UPGRADE }, { "remove", E_REMOVE },
	{ "purge", E_PURGE },
	/* Bookkeeping: the state machine of an action already recorded
	 * (status, configure, trigproc), or a run starting (startup). */
	{ "status", -1 }, { "configure", -1 }, { "trigproc", -1 }, { "startup", -1 },
};

/* "install curl:amd64 <none> 7.88.1-10": the package (name:arch as dpkg
 * writes it), the version before and after (<none>: not installed). */
static void
dpkg_action(struct ev *ev, const struct caps *c, int id)
{
	struct sv name, arch;

	ev_init(ev, (enum evid)id);
	if (sv_split(c->c[1], ":", &name, &arch)) {
		param(ev, "package", name);
		param(ev, "architecture", arch);
	} else {
		param(ev, "package", c->c[1]);
	}
	if (!sv_eq(c->c[3], "<none>"))
		param(ev, "version", c->c[3]);
	if (!sv_eq(c->c[2], "<none>"))
		param(ev, "previousVersion", c->c[2]);
	resource(ev, "Host::Package", c->c[1]);
}

int
ht_hostmsg_map_dpkg(const struct ht_hostmsg *m, struct ht_record **ret,
    enum ht_hostmsg_kind *kind)
{
	struct src s = { m, sv_of(m->message), m->ident != NULL ? m->ident : "dpkg" };
	struct sv msg = sv_trim(s.msg), word, rest;
	struct caps c;
	struct ev ev;
	size_t i;
	int r, id = -2;

	ev.repeated = 0;
	ev_init(&ev, E_LOG);
	ev.generic = true;
	(void)sv_split(msg, " ", &word, &rest);
	for (i = 0; i < sizeof(dpkg_actions) / sizeof(dpkg_actions[0]); i++)
		if (sv_eq(word, dpkg_actions[i].word))
			id = dpkg_actions[i].ev;
	if (id == -1) {
		*ret = NULL;
		*kind = HT_HOSTMSG_SKIPPED;
		return 0;
	}
	if (id >= 0 && msg.len <= MATCH_MAX && match("%w %w %w %w", msg, &c))
		dpkg_action(&ev, &c, id);
	if ((r = build_record(&s, &ev, ret)) < 0)
		return r;
	*kind = ev.generic ? HT_HOSTMSG_GENERIC : HT_HOSTMSG_MAPPED;
	return 0;
}
