/*
 * test_audit_map.c - daemon/sources/audit_map.c: events built by hand (no
 * parser) for every row of the mapping table, checked field by field, one
 * checked whole; the identity shapes; errors from res= and from exit=;
 * paths and resources; values that are not text; the name cache (NSS,
 * TTL, bound, misses); and every allocation failing in turn.
 *
 * Every mapped record is also serialized and read back with
 * ht_record_parse, so it is one hosttrail accepts.  The NSS and allocation
 * parts need the link flags
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 *   --wrap=strndup,--wrap=asprintf,--wrap=getpwuid_r,--wrap=getgrgid_r
 * and are skipped without them.
 */
#include "ht_build.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "alloc_fail.h"
#include "record.h"
#include "sources/audit_map.h"
#include "sources/audit_parse.h"

#define UNUSED __attribute__((unused))
#define MAX_RECS 8
#define MAX_FIELDS 48
#define T0 1700000000123LL	/* 2023-11-14T22:13:20.123Z */

/* ---- NSS seam ---- */

int __real_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, struct passwd **ret)
    __attribute__((weak));
int __real_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, struct group **ret)
    __attribute__((weak));
int __wrap_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
    struct passwd **ret);
int __wrap_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, struct group **ret);

static unsigned nss_calls;	/* lookups that reached NSS */
static int nss_error;		/* make NSS fail with this */

/* uid 4242 is "fake4242" here whatever the host's passwd says, so the test
 * knows a non-root name; other ids go to the real NSS. */
int
__wrap_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, struct passwd **ret)
{
	nss_calls++;
	*ret = NULL;
	if (nss_error != 0)
		return nss_error;
	if (uid == 4242) {
		if (len < 16)
			return ERANGE;
		memset(pw, 0, sizeof(*pw));
		strcpy(buf, "fake4242");
		pw->pw_name = buf;
		pw->pw_uid = uid;
		*ret = pw;
		return 0;
	}
	return __real_getpwuid_r(uid, pw, buf, len, ret);
}

int
__wrap_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, struct group **ret)
{
	nss_calls++;
	*ret = NULL;
	if (nss_error != 0)
		return nss_error;
	return __real_getgrgid_r(gid, gr, buf, len, ret);
}

static bool
nss_wrapped(void)
{
	return __real_getpwuid_r != NULL;
}

/* ---- events by hand ---- */

struct tev {
	struct ht_audit_event e;
	struct ht_audit_record rec[MAX_RECS];
	struct ht_audit_record *recs[MAX_RECS];
	struct ht_audit_field fields[MAX_RECS][MAX_FIELDS];
	char *owned[MAX_RECS * MAX_FIELDS];
	size_t n_owned;
};

static struct tev *
ev_new(int64_t time_ms, uint64_t serial)
{
	struct tev *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->e.time_ms = time_ms;
	t->e.serial = serial;
	t->e.records = t->recs;
	t->e.complete = true;
	return t;
}

static void
ev_free(struct tev *t)
{
	size_t i;

	for (i = 0; i < t->n_owned; i++)
		free(t->owned[i]);
	free(t);
}

/* A record of type (0: only the name is known) with fields given as
 * "name=value" or "name=value\x1dinterp", NULL-terminated. */
static struct ht_audit_record *
ev_add(struct tev *t, unsigned type, const char *type_name, ...)
{
	struct ht_audit_record *r;
	struct ht_audit_field *f;
	const char *kv;
	char *s, *eq, *gs;
	va_list ap;

	assert_true(t->e.n_records < MAX_RECS);
	r = &t->rec[t->e.n_records];
	t->recs[t->e.n_records++] = r;
	r->type = type;
	r->type_name = type_name;
	r->time_ms = t->e.time_ms;
	r->serial = t->e.serial;
	r->fields = t->fields[t->e.n_records - 1];
	va_start(ap, type_name);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		assert_true(r->n_fields < MAX_FIELDS);
		f = &r->fields[r->n_fields++];
		s = strdup(kv);
		assert_non_null(s);
		t->owned[t->n_owned++] = s;
		eq = strchr(s, '=');
		assert_non_null(eq);
		*eq = '\0';
		f->name = s;
		f->value = eq + 1;
		if ((gs = strchr(eq + 1, '\x1d')) != NULL) {
			*gs = '\0';
			f->interp = gs + 1;
		}
		f->len = strlen(f->value);
	}
	va_end(ap);
	return r;
}

/* ---- mapping and looking at the result ---- */

/* Fails the test at file:line with a formatted message. */
static void failf_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
failf_at(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("%s:%d: %s\n", file, line, msg);
	_fail(file, line);
}

#define failf(...) failf_at(__FILE__, __LINE__, __VA_ARGS__)


static const struct ht_audit_map_ctx raw_ctx = { .names = NULL, .source = "auditlog" };

/* Maps t, checks the record reads back the same, and returns its JSON
 * (and the record itself in *ret_rec if asked for). */
static struct json_object *
map_ctx(const struct tev *t, const struct ht_audit_map_ctx *ctx, struct ht_record **ret_rec)
{
	struct ht_record *rec = NULL, *back = NULL;
	struct printbuf *pb = printbuf_new(), *pb2 = printbuf_new();
	struct json_object *obj;
	char err[256] = "";

	assert_non_null(pb);
	assert_non_null(pb2);
	assert_int_equal(ht_audit_map(&t->e, ctx, &rec), 0);
	assert_int_equal(ht_record_serialize(rec, pb), 0);
	if (ht_record_parse(pb->buf, (size_t)pb->bpos, &back, err, sizeof(err)) != 0)
		failf("does not parse back: %s\n%s", err, pb->buf);
	assert_int_equal(ht_record_serialize(back, pb2), 0);
	assert_string_equal(pb->buf, pb2->buf);
	obj = json_tokener_parse(pb->buf);
	assert_non_null(obj);
	ht_record_free(back);
	printbuf_free(pb);
	printbuf_free(pb2);
	if (ret_rec != NULL)
		*ret_rec = rec;
	else
		ht_record_free(rec);
	return obj;
}

static struct json_object *
map(const struct tev *t)
{
	return map_ctx(t, &raw_ctx, NULL);
}

/* The member at a dotted path ("resources.0.ARN"), or NULL. */
static struct json_object *
jget(struct json_object *o, const char *path)
{
	char buf[256], *part, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part != NULL && o != NULL;
	    part = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			size_t i = (size_t)strtoul(part, NULL, 10);

			o = i < json_object_array_length(o) ? json_object_array_get_idx(o, i) :
			    NULL;
		} else if (!json_object_object_get_ex(o, part, &o)) {
			o = NULL;
		}
	}
	return o;
}

/* The string at path equals want (NULL: the member is absent). */
#define assert_jstr(o, path, want) check_jstr(o, path, want, __FILE__, __LINE__)

static void
check_jstr(struct json_object *o, const char *path, const char *want, const char *file,
    int line)
{
	struct json_object *v = jget(o, path);

	if (want == NULL) {
		if (v != NULL)
			failf_at(file, line, "%s: want absent, got %s", path,
			    json_object_to_json_string(v));
		return;
	}
	if (v == NULL || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), want) != 0)
		failf_at(file, line, "%s: want \"%s\", got %s", path, want,
		    v != NULL ? json_object_to_json_string(v) : "(absent)");
}

static bool
jbool(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

static size_t
jlen(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	if (v == NULL)
		return 0;
	assert_true(json_object_is_type(v, json_type_array));
	return json_object_array_length(v);
}

/* eventSource, eventName, eventType, eventCategory and readOnly at once. */
static void
assert_kind(struct json_object *o, const char *source, const char *name, const char *type,
    const char *category, bool read_only)
{
	assert_jstr(o, "eventSource", source);
	assert_jstr(o, "eventName", name);
	assert_jstr(o, "eventType", type);
	assert_jstr(o, "eventCategory", category);
	assert_true(jbool(o, "readOnly") == read_only);
	assert_true(jbool(o, "managementEvent") == (strcmp(category, "Management") == 0));
	assert_jstr(o, "eventVersion", HT_EVENT_VERSION);
}

/* A USER_* record from sshd/sudo with the usual fields. */
static struct tev *
user_event(unsigned type, const char *name, const char *auid, const char *op, const char *res)
{
	struct tev *t = ev_new(T0, 100);
	char a[64], o[64], r[64];
	const char *ses = strcmp(auid, "4294967295") == 0 ? "ses=4294967295" : "ses=7";

	snprintf(a, sizeof(a), "auid=%s", auid);
	snprintf(o, sizeof(o), "op=%s", op);
	snprintf(r, sizeof(r), "res=%s", res);
	ev_add(t, type, name, "pid=2301", "uid=0", a, ses, "subj=unconfined", o,
	    "grantors=pam_unix", "acct=alice", "exe=/usr/sbin/sshd", "hostname=203.0.113.5",
	    "addr=203.0.113.5", "terminal=ssh", r, NULL);
	return t;
}

/* ---- the login family ---- */

static void
test_login_family(void **state UNUSED)
{
	static const struct {
		unsigned type;
		const char *type_name, *event_name;
		bool read_only;
	} rows[] = {
		{ 1112, "USER_LOGIN", "UserLogin", false },
		{ 1113, "USER_LOGOUT", "UserLogout", false },
		{ 1100, "USER_AUTH", "Authenticate", true },
		{ 1101, "USER_ACCT", "CheckAccount", true },
		{ 1103, "CRED_ACQ", "AcquireCredentials", false },
		{ 1110, "CRED_REFR", "RefreshCredentials", false },
		{ 1104, "CRED_DISP", "DisposeCredentials", false },
		{ 1105, "USER_START", "StartSession", false },
		{ 1106, "USER_END", "EndSession", false },
	};
	struct json_object *o;
	struct tev *t;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t = user_event(rows[i].type, rows[i].type_name, "1000", "PAM:x", "success");
		o = map(t);
		assert_kind(o, "host.login", rows[i].event_name, "AwsConsoleSignIn", "Management",
		    rows[i].read_only);
		assert_jstr(o, "userIdentity.type", "IAMUser");
		assert_jstr(o, "userIdentity.principalId", "1000");
		assert_jstr(o, "userIdentity.sessionContext.attributes.sessionId", "7");
		assert_jstr(o, "userIdentity.sessionContext.attributes.uid", "0");
		assert_jstr(o, "sourceIPAddress", "203.0.113.5");
		assert_jstr(o, "userAgent", "/usr/sbin/sshd");
		assert_jstr(o, "errorCode", NULL);
		assert_jstr(o, "requestParameters.acct", "alice");
		assert_jstr(o, "requestParameters.op", "PAM:x");
		assert_jstr(o, "requestParameters.auid", NULL);
		assert_jstr(o, "requestParameters.subj", NULL);
		assert_jstr(o, "requestParameters.res", NULL);
		assert_jstr(o, "resources.0.type", "Host::User");
		assert_jstr(o, "resources.0.ARN", "alice");
		assert_jstr(o, "additionalEventData.auditRecordTypes.0", rows[i].type_name);
		json_object_put(o);
		ev_free(t);
	}
}

/* Before the login: auid unset, the account signing in is the user. */
static void
test_login_failed(void **state UNUSED)
{
	struct json_object *o;
	struct ht_record *rec;
	struct tev *t;

	t = user_event(1100, "USER_AUTH", "4294967295", "PAM:authentication", "failed");
	o = map_ctx(t, &raw_ctx, &rec);
	assert_jstr(o, "userIdentity.type", "IAMUser");
	assert_jstr(o, "userIdentity.userName", "alice");
	assert_jstr(o, "userIdentity.principalId", NULL);
	assert_jstr(o, "userIdentity.sessionContext.attributes.sessionId", NULL);
	assert_jstr(o, "errorCode", "AccessDenied");
	assert_jstr(o, "errorMessage", "PAM:authentication failed");
	assert_int_equal(ht_record_flags(rec), HT_RF_KNOWN | HT_RF_READ);
	assert_string_equal(ht_record_username(rec), "alice");
	ht_record_free(rec);
	json_object_put(o);
	ev_free(t);

	/* sshd's USER_LOGIN for root, and for an invalid user: acct hex-decoded
	 * by the parser into "(invalid user)" */
	t = ev_new(T0, 101);
	ev_add(t, 1112, "USER_LOGIN", "pid=2211", "uid=0", "auid=4294967295",
	    "ses=4294967295", "op=login", "acct=root", "exe=/usr/sbin/sshd", "hostname=?",
	    "addr=198.51.100.23", "terminal=sshd", "res=failed", NULL);
	o = map(t);
	assert_jstr(o, "userIdentity.type", "Root");
	assert_jstr(o, "userIdentity.userName", "root");
	assert_jstr(o, "sourceIPAddress", "198.51.100.23");
	assert_jstr(o, "requestParameters.hostname", NULL);
	assert_jstr(o, "errorMessage", "login failed");
	json_object_put(o);
	ev_free(t);

	/* id= instead of acct=: the principal is that uid */
	t = ev_new(T0, 102);
	ev_add(t, 1112, "USER_LOGIN", "uid=0", "auid=-1", "op=login", "id=0",
	    "exe=/usr/bin/login", "hostname=debian", "addr=?", "terminal=/dev/tty1",
	    "res=failed", NULL);
	o = map(t);
	assert_jstr(o, "userIdentity.type", "Root");
	assert_jstr(o, "userIdentity.principalId", "0");
	assert_jstr(o, "userIdentity.userName", NULL);
	assert_jstr(o, "sourceIPAddress", "debian");		/* hostname when no addr */
	assert_jstr(o, "resources.0.ARN", "0");
	json_object_put(o);
	ev_free(t);
}

/* The kernel's LOGIN, here with the SYSCALL that carried it in one event. */
static void
test_login_uid(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t = ev_new(T0, 1013);

	ev_add(t, 1006, "LOGIN", "pid=2301", "uid=0", "subj=unconfined", "old-auid=4294967295",
	    "auid=1000\x1d\"alice\"", "tty=(none)", "old-ses=4294967295", "ses=7", "res=1", NULL);
	ev_add(t, 1300, "SYSCALL", "arch=c000003e", "syscall=1", "success=yes", "exit=4",
	    "ppid=612", "pid=2301", "auid=1000", "uid=0", "euid=0", "ses=7", "comm=sshd",
	    "exe=/usr/sbin/sshd", "key=(null)", NULL);
	ev_add(t, 1327, "PROCTITLE", "proctitle=sshd: alice [priv]", NULL);
	o = map(t);
	assert_kind(o, "host.login", "SetLoginUid", "AwsConsoleSignIn", "Management", false);
	assert_jstr(o, "userIdentity.type", "IAMUser");
	assert_jstr(o, "userIdentity.principalId", "1000");
	assert_jstr(o, "userIdentity.userName", "alice");
	assert_jstr(o, "userIdentity.sessionContext.attributes.euid", "0");
	assert_jstr(o, "userAgent", "/usr/sbin/sshd");
	assert_jstr(o, "requestParameters.old-auid", "4294967295");
	assert_jstr(o, "requestParameters.tty", NULL);
	assert_jstr(o, "requestParameters.syscall", "write");
	assert_jstr(o, "requestParameters.ppid", "612");
	assert_jstr(o, "requestParameters.pid", "2301");
	assert_jstr(o, "requestParameters.commandLine", "sshd: alice [priv]");
	assert_null(jget(o, "requestParameters.SYSCALL"));
	assert_null(jget(o, "requestParameters.PROCTITLE"));
	assert_jstr(o, "errorCode", NULL);
	json_object_put(o);
	ev_free(t);
}

/* ---- identity: the host's global service events ---- */

static void
test_identity_family(void **state UNUSED)
{
	static const struct {
		unsigned type;
		const char *type_name, *event_name, *res_type;
	} rows[] = {
		{ 1114, "ADD_USER", "CreateUser", "Host::User" },
		{ 1115, "DEL_USER", "DeleteUser", "Host::User" },
		{ 1116, "ADD_GROUP", "CreateGroup", "Host::Group" },
		{ 1117, "DEL_GROUP", "DeleteGroup", "Host::Group" },
		{ 1108, "USER_CHAUTHTOK", "ChangePassword", "Host::User" },
		{ 1102, "USER_MGMT", "UpdateUser", "Host::User" },
		{ 1132, "GRP_MGMT", "UpdateGroup", "Host::Group" },
		{ 1133, "GRP_CHAUTHTOK", "ChangeGroupPassword", "Host::Group" },
	};
	struct json_object *o;
	struct ht_record *rec;
	struct tev *t;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t = ev_new(T0, 200 + i);
		ev_add(t, rows[i].type, rows[i].type_name, "pid=3002", "uid=0", "auid=1000",
		    "ses=7", "op=some-op", "acct=bob", "exe=/usr/sbin/useradd", "hostname=?",
		    "addr=?", "terminal=pts/1", "res=success", NULL);
		o = map_ctx(t, &raw_ctx, &rec);
		assert_kind(o, HT_GLOBAL_EVENT_SOURCE, rows[i].event_name, "AwsApiCall",
		    "Management", false);
		assert_true(ht_record_is_global(rec));
		assert_int_equal(ht_record_flags(rec), HT_RF_KNOWN | HT_RF_WRITE | HT_RF_GLOBAL);
		/* the actor is the login user, not the account changed */
		assert_jstr(o, "userIdentity.principalId", "1000");
		assert_jstr(o, "userIdentity.userName", NULL);
		assert_jstr(o, "resources.0.type", rows[i].res_type);
		assert_jstr(o, "resources.0.ARN", "bob");
		assert_jstr(o, "sourceIPAddress", NULL);
		assert_jstr(o, "requestParameters.terminal", "pts/1");
		ht_record_free(rec);
		json_object_put(o);
		ev_free(t);
	}
}

static void
test_identity_ids(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t;

	/* "op=add-user id=1001": the id, then its ENRICHED name */
	t = ev_new(T0, 210);
	ev_add(t, 1114, "ADD_USER", "uid=0", "auid=1000", "op=add-user", "id=1001",
	    "exe=/usr/sbin/useradd", "res=success", NULL);
	o = map(t);
	assert_jstr(o, "resources.0.ARN", "1001");
	assert_jstr(o, "requestParameters.ID", NULL);
	json_object_put(o);
	ev_free(t);

	t = ev_new(T0, 211);
	ev_add(t, 1117, "DEL_GROUP", "uid=0\x1d\"root\"", "auid=1000\x1d\"alice\"",
	    "op=delete-group", "id=1001\x1d\"bob\"", "exe=/usr/sbin/userdel", "res=failed", NULL);
	o = map(t);
	assert_jstr(o, "resources.0.type", "Host::Group");
	assert_jstr(o, "resources.0.ARN", "bob");
	assert_jstr(o, "requestParameters.id", "1001");
	assert_jstr(o, "requestParameters.ID", "bob");
	assert_jstr(o, "userIdentity.userName", "alice");
	assert_jstr(o, "userIdentity.sessionContext.attributes.uidName", "root");
	assert_jstr(o, "errorCode", "Failed");
	assert_jstr(o, "errorMessage", "delete-group failed");
	json_object_put(o);
	ev_free(t);

	/* no login user (a package script at boot): the system, by its program */
	t = ev_new(T0, 212);
	ev_add(t, 1114, "ADD_USER", "pid=4100", "uid=0", "auid=4294967295",
	    "ses=4294967295", "op=add-user", "id=998", "exe=/usr/sbin/useradd",
	    "res=success", NULL);
	o = map(t);
	assert_jstr(o, "userIdentity.type", "AWSService");
	assert_jstr(o, "userIdentity.principalId", "0");
	assert_jstr(o, "userIdentity.invokedBy", "/usr/sbin/useradd");
	assert_jstr(o, "userIdentity.userName", NULL);
	json_object_put(o);
	ev_free(t);
}

/* ---- sudo, services ---- */

static void
test_user_cmd(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t = ev_new(T0, 300);

	ev_add(t, 1123, "USER_CMD", "pid=3001", "uid=1000", "auid=1000", "ses=7",
	    "cwd=/home/alice", "cmd=cat /etc/shadow", "exe=/usr/bin/sudo", "terminal=pts/1",
	    "res=failed", NULL);
	o = map(t);
	assert_kind(o, "host.privilege", "RunCommand", "AwsApiCall", "Management", false);
	assert_jstr(o, "requestParameters.cmd", "cat /etc/shadow");
	assert_jstr(o, "requestParameters.cwd", "/home/alice");
	assert_jstr(o, "errorCode", "AccessDenied");
	assert_jstr(o, "errorMessage", "RunCommand failed");
	assert_int_equal(jlen(o, "resources"), 0);
	json_object_put(o);
	ev_free(t);
}

static void
test_service(void **state UNUSED)
{
	static const struct {
		unsigned type;
		const char *type_name, *event_name, *res;
	} rows[] = {
		{ 1130, "SERVICE_START", "StartService", "success" },
		{ 1131, "SERVICE_STOP", "StopService", "failed" },
	};
	struct json_object *o;
	struct tev *t;
	size_t i;

	for (i = 0; i < 2; i++) {
		char res[32];

		snprintf(res, sizeof(res), "res=%s", rows[i].res);
		t = ev_new(T0, 400 + i);
		ev_add(t, rows[i].type, rows[i].type_name, "pid=1", "uid=0", "auid=4294967295",
		    "ses=4294967295", "subj=unconfined", "unit=nginx", "comm=systemd",
		    "exe=/usr/lib/systemd/systemd", "hostname=?", "addr=?", "terminal=?", res,
		    NULL);
		o = map(t);
		assert_kind(o, "host.service", rows[i].event_name, "AwsServiceEvent", "Management",
		    false);
		assert_jstr(o, "userIdentity.type", "AWSService");
		assert_jstr(o, "userIdentity.invokedBy", "/usr/lib/systemd/systemd");
		assert_jstr(o, "userIdentity.sessionContext.attributes.sessionId", NULL);
		assert_jstr(o, "resources.0.type", "Host::Service");
		assert_jstr(o, "resources.0.ARN", "nginx");
		assert_jstr(o, "sourceIPAddress", NULL);
		assert_jstr(o, "requestParameters.terminal", NULL);
		assert_jstr(o, "errorCode", i == 0 ? NULL : "Failed");
		assert_jstr(o, "errorMessage", i == 0 ? NULL : "StopService failed");
		json_object_put(o);
		ev_free(t);
	}
}

/* ---- syscalls: process ---- */

static void
add_exec_syscall(struct tev *t, const char *success, const char *exit_, const char *exe)
{
	char s[32], x[32], e[128];

	snprintf(s, sizeof(s), "success=%s", success);
	snprintf(x, sizeof(x), "exit=%s", exit_);
	snprintf(e, sizeof(e), "exe=%s", exe);
	ev_add(t, 1300, "SYSCALL", "arch=c000003e", "syscall=59", s, x, "a0=55d5c2a8e0b0",
	    "a1=55d5c2a8e2d0", "a2=55d5c2a8d1a0", "a3=8", "items=2", "ppid=2323", "pid=3101",
	    "auid=1000", "uid=1000", "gid=1000", "euid=1000", "suid=1000", "fsuid=1000",
	    "egid=1000", "sgid=1000", "fsgid=1000", "tty=pts1", "ses=7", "comm=cat", e,
	    "subj=unconfined", "key=exec", NULL);
}

/* One record checked whole: the shape every exec has. */
static void
test_exec_whole(void **state UNUSED)
{
	static const char want[] =
	    "{\"eventVersion\":\"1.11\","
	    "\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":\"1000\","
	    "\"sessionContext\":{\"attributes\":{\"sessionId\":\"7\",\"uid\":\"1000\","
	    "\"euid\":\"1000\"}}},"
	    "\"eventTime\":\"2023-11-14T22:13:20Z\","
	    "\"eventSource\":\"host.process\",\"eventName\":\"ExecuteProcess\","
	    "\"userAgent\":\"/usr/bin/cat\","
	    "\"requestParameters\":{\"syscall\":\"execve\",\"key\":\"exec\","
	    "\"exe\":\"/usr/bin/cat\",\"comm\":\"cat\",\"pid\":\"3101\",\"ppid\":\"2323\","
	    "\"tty\":\"pts1\",\"cwd\":\"/home/alice\",\"commandLine\":\"cat /etc/shadow\","
	    "\"arguments\":[\"cat\",\"/etc/shadow\"],"
	    "\"paths\":[{\"name\":\"/usr/bin/cat\",\"nametype\":\"NORMAL\",\"mode\":\"0100755\","
	    "\"ouid\":\"0\",\"ogid\":\"0\"}]},"
	    "\"additionalEventData\":{\"auditSerial\":3001,\"auditTime\":\"1700000000.123\","
	    "\"auditRecordTypes\":[\"SYSCALL\",\"EXECVE\",\"CWD\",\"PATH\",\"PROCTITLE\"],"
	    "\"node\":\"web1\",\"source\":\"auditlog\"},"
	    "\"readOnly\":false,"
	    "\"resources\":[{\"type\":\"Host::Process\",\"ARN\":\"/usr/bin/cat\"}],"
	    "\"eventType\":\"AwsApiCall\",\"managementEvent\":false,\"eventCategory\":\"Data\"}";
	struct printbuf *pb = printbuf_new();
	struct ht_record *rec;
	struct tev *t = ev_new(T0, 3001);

	t->e.node = "web1";
	add_exec_syscall(t, "yes", "0", "/usr/bin/cat");
	ev_add(t, 1309, "EXECVE", "argc=2", "a0=cat", "a1=/etc/shadow", NULL);
	ev_add(t, 1307, "CWD", "cwd=/home/alice", NULL);
	ev_add(t, 1302, "PATH", "item=0", "name=/usr/bin/cat", "inode=1179698", "dev=08:01",
	    "mode=0100755", "ouid=0", "ogid=0", "rdev=00:00", "nametype=NORMAL", "cap_fp=0",
	    NULL);
	ev_add(t, 1327, "PROCTITLE", "proctitle=cat /etc/shadow", NULL);
	assert_int_equal(ht_audit_map(&t->e, &raw_ctx, &rec), 0);
	assert_int_equal(ht_record_serialize(rec, pb), 0);
	assert_string_equal(pb->buf, want);
	assert_int_equal(ht_record_flags(rec), HT_RF_KNOWN | HT_RF_DATA | HT_RF_WRITE);
	ht_record_free(rec);
	printbuf_free(pb);
	ev_free(t);
}

static void
test_exec_variants(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t;

	/* a failed exec: exe= is the caller, the program is PATH item 0 */
	t = ev_new(T0, 3005);
	add_exec_syscall(t, "no", "-13", "/usr/bin/bash");
	ev_add(t, 1307, "CWD", "cwd=/tmp", NULL);
	ev_add(t, 1302, "PATH", "item=0", "name=./tool", "nametype=NORMAL", NULL);
	ev_add(t, 1327, "PROCTITLE", "proctitle=-bash", NULL);
	o = map(t);
	assert_kind(o, "host.process", "ExecuteProcess", "AwsApiCall", "Data", false);
	assert_jstr(o, "errorCode", "EACCES");
	assert_jstr(o, "errorMessage", "Permission denied");
	assert_jstr(o, "resources.0.type", "Host::Process");
	assert_jstr(o, "resources.0.ARN", "/tmp/tool");
	assert_jstr(o, "requestParameters.exe", "/usr/bin/bash");
	assert_jstr(o, "requestParameters.commandLine", "-bash");
	assert_null(jget(o, "requestParameters.arguments"));
	json_object_put(o);
	ev_free(t);

	/* a long argument in chunks the assembler did not join, still hex;
	 * an empty argument stays an argument */
	t = ev_new(T0, 3006);
	add_exec_syscall(t, "yes", "0", "/usr/bin/python3.11");
	ev_add(t, 1309, "EXECVE", "argc=4", "a0=python3", "a1=-c", "a2_len=11",
	    "a2[0]=696D706F7274", "a2[1]=206F733B", NULL);
	ev_add(t, 1309, "EXECVE", "a2[2]=20", "a3=", NULL);
	o = map(t);
	assert_jstr(o, "requestParameters.commandLine", "python3 -c import os;  ");
	assert_int_equal(jlen(o, "requestParameters.arguments"), 4);
	assert_jstr(o, "requestParameters.arguments.2", "import os; ");
	assert_jstr(o, "requestParameters.arguments.3", "");
	json_object_put(o);
	ev_free(t);

	/* a rule with two keys: the parser keeps their 0x01 separator */
	t = ev_new(T0, 3008);
	add_exec_syscall(t, "yes", "0", "/usr/bin/id");
	t->rec[0].fields[t->rec[0].n_fields - 1].value = "exec\x01priv";
	t->rec[0].fields[t->rec[0].n_fields - 1].len = 9;
	o = map(t);
	assert_jstr(o, "requestParameters.key", "exec,priv");
	json_object_put(o);
	ev_free(t);

	/* EXECVE alone, the SYSCALL lost: still an exec */
	t = ev_new(T0, 3007);
	t->e.complete = false;
	ev_add(t, 1309, "EXECVE", "argc=1", "a0=ls", NULL);
	o = map(t);
	assert_kind(o, "host.process", "ExecuteProcess", "AwsApiCall", "Data", false);
	assert_jstr(o, "userIdentity.type", "Unknown");
	assert_true(jbool(o, "additionalEventData.incomplete"));
	json_object_put(o);
	ev_free(t);
}

/* ---- syscalls: files ---- */

struct file_case {
	const char *syscall, *a1, *a2;
	const char *nametypes;	/* one letter per PATH: N(ormal) P(arent) C(reate) D(elete) */
	const char *event_name;
	bool read_only;
};

static void
check_file_case(const struct file_case *c)
{
	static const char *const names[] = { "/etc/a", "/etc/b", "/etc/c" };
	char sc[32], a1[32], a2[32], item[16], name[32], nt[32];
	struct json_object *o;
	struct tev *t = ev_new(T0, 500);
	size_t i;

	snprintf(sc, sizeof(sc), "syscall=%s", c->syscall);
	snprintf(a1, sizeof(a1), "a1=%s", c->a1);
	snprintf(a2, sizeof(a2), "a2=%s", c->a2);
	ev_add(t, 1300, "SYSCALL", "arch=c000003e", sc, "success=yes", "exit=0",
	    "a0=ffffff9c", a1, a2, "a3=0", "pid=1", "auid=1000", "uid=0", "euid=0", "ses=3",
	    "comm=x", "exe=/usr/bin/x", "key=watch", NULL);
	for (i = 0; c->nametypes[i] != '\0'; i++) {
		snprintf(item, sizeof(item), "item=%zu", i);
		snprintf(name, sizeof(name), "name=%s", names[i]);
		snprintf(nt, sizeof(nt), "nametype=%s", c->nametypes[i] == 'N' ? "NORMAL" :
		    c->nametypes[i] == 'P' ? "PARENT" : c->nametypes[i] == 'C' ? "CREATE" :
		    "DELETE");
		ev_add(t, 1302, "PATH", item, name, nt, NULL);
	}
	o = map(t);
	assert_kind(o, "host.file", c->event_name, "AwsApiCall", "Data", c->read_only);
	for (i = 0; c->nametypes[i] != '\0'; i++) {
		snprintf(name, sizeof(name), "requestParameters.paths.%zu.name", i);
		assert_jstr(o, name, names[i]);
	}
	assert_jstr(o, "resources.0.type", "Host::File");
	json_object_put(o);
	ev_free(t);
}

static void
test_file_ops(void **state UNUSED)
{
	static const struct file_case cases[] = {
		{ "2", "0", "0", "N", "ReadFile", true },		/* open O_RDONLY */
		{ "2", "1", "0", "N", "WriteFile", false },		/* open O_WRONLY */
		{ "2", "200", "0", "N", "WriteFile", false },		/* O_RDONLY|O_TRUNC */
		{ "257", "0", "80000", "N", "ReadFile", true },		/* O_CLOEXEC */
		{ "257", "0", "241", "N", "WriteFile", false },		/* existing file */
		{ "257", "0", "241", "PC", "CreateFile", false },	/* made it */
		{ "257", "0", "zz", "N", "OpenFile", false },		/* flags unreadable */
		{ "437", "0", "0", "N", "OpenFile", false },		/* openat2 */
		{ "437", "0", "0", "PC", "CreateFile", false },
		{ "85", "0", "0", "N", "WriteFile", false },		/* creat, existing */
		{ "85", "0", "0", "PC", "CreateFile", false },
		{ "87", "0", "0", "PD", "DeleteFile", false },		/* unlink */
		{ "263", "0", "0", "PD", "DeleteFile", false },		/* unlinkat */
		{ "263", "0", "200", "PD", "DeleteDirectory", false },	/* AT_REMOVEDIR */
		{ "84", "0", "0", "PD", "DeleteDirectory", false },	/* rmdir */
		{ "83", "0", "0", "PC", "CreateDirectory", false },	/* mkdir */
		{ "82", "0", "0", "PPD", "RenameFile", false },		/* rename */
		{ "316", "0", "0", "PPC", "RenameFile", false },	/* renameat2 */
		{ "268", "0", "0", "N", "ChangeFilePermissions", false },
		{ "260", "0", "0", "N", "ChangeFileOwner", false },	/* fchownat */
		{ "188", "0", "0", "N", "SetFileAttributes", false },	/* setxattr */
		{ "280", "0", "0", "N", "SetFileAttributes", false },	/* utimensat */
		{ "265", "0", "0", "NPC", "CreateLink", false },	/* linkat */
		{ "332", "0", "0", "N", "GetFileAttributes", true },	/* statx */
		{ "21", "0", "0", "N", "GetFileAttributes", true },	/* access */
		{ "76", "0", "0", "N", "WriteFile", false },		/* truncate */
		{ "9999", "0", "0", "N", "AccessFile", false },		/* unknown */
		{ "9999", "0", "0", "PC", "CreateFile", false },
		{ "9999", "0", "0", "PD", "DeleteFile", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("syscall %s a1=%s a2=%s %s\n", cases[i].syscall, cases[i].a1,
		    cases[i].a2, cases[i].nametypes);
		check_file_case(&cases[i]);
	}
}

/* Names become absolute and normalized; PARENT items are no resource;
 * the same file twice is one resource. */
static void
test_file_paths(void **state UNUSED)
{
	static const struct {
		const char *cwd, *name, *want;
	} cases[] = {
		{ "/home/alice", "../../etc/hosts", "/etc/hosts" },
		{ "/home/alice", "./notes//todo.txt", "/home/alice/notes/todo.txt" },
		{ "/", "../../../etc/shadow", "/etc/shadow" },
		{ "/tmp", "/etc/cron.d/", "/etc/cron.d" },
		{ "/tmp", "/", "/" },
		{ "/tmp", "x/../../y", "/y" },
		{ NULL, "rel/../../x", "../x" },
		{ NULL, ".", "." },
		{ "/srv", "a/./b/.", "/srv/a/b" },
	};
	struct json_object *o;
	struct tev *t;
	char cwd[64], name[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = ev_new(T0, 600 + i);
		ev_add(t, 1300, "SYSCALL", "syscall=2", "success=yes", "exit=3", "a1=0", "auid=0",
		    "uid=0", "exe=/usr/bin/cat", NULL);
		if (cases[i].cwd != NULL) {
			snprintf(cwd, sizeof(cwd), "cwd=%s", cases[i].cwd);
			ev_add(t, 1307, "CWD", cwd, NULL);
		}
		snprintf(name, sizeof(name), "name=%s", cases[i].name);
		ev_add(t, 1302, "PATH", "item=0", name, "nametype=NORMAL", NULL);
		o = map(t);
		assert_jstr(o, "requestParameters.paths.0.name", cases[i].want);
		assert_jstr(o, "resources.0.ARN", cases[i].want);
		json_object_put(o);
		ev_free(t);
	}

	t = ev_new(T0, 650);
	ev_add(t, 1300, "SYSCALL", "syscall=82", "success=yes", "exit=0", "auid=0", "uid=0",
	    "exe=/usr/sbin/useradd", NULL);
	ev_add(t, 1302, "PATH", "item=0", "name=/etc/", "nametype=PARENT", NULL);
	ev_add(t, 1302, "PATH", "item=1", "name=/etc/", "nametype=PARENT", NULL);
	ev_add(t, 1302, "PATH", "item=2", "name=/etc/passwd+", "nametype=DELETE", NULL);
	ev_add(t, 1302, "PATH", "item=3", "name=/etc/passwd", "nametype=DELETE", NULL);
	ev_add(t, 1302, "PATH", "item=4", "name=/etc/passwd", "objtype=CREATE", NULL);
	ev_add(t, 1302, "PATH", "item=5", "name=(null)", "nametype=UNKNOWN", NULL);
	o = map(t);
	assert_jstr(o, "eventName", "RenameFile");
	assert_int_equal(jlen(o, "resources"), 2);
	assert_jstr(o, "resources.0.ARN", "/etc/passwd+");
	assert_jstr(o, "resources.1.ARN", "/etc/passwd");
	assert_int_equal(jlen(o, "requestParameters.paths"), 6);
	assert_jstr(o, "requestParameters.paths.4.nametype", "CREATE");
	assert_jstr(o, "requestParameters.paths.5.name", NULL);
	assert_jstr(o, "requestParameters.paths.5.nametype", "UNKNOWN");
	json_object_put(o);
	ev_free(t);
}

/* ---- syscalls: errors, names, the rest ---- */

static void
test_syscall_errors(void **state UNUSED)
{
	static const struct {
		const char *success, *exit_, *code, *message;
	} cases[] = {
		{ "success=no", "exit=-13", "EACCES", "Permission denied" },
		{ "success=no", "exit=-2", "ENOENT", "No such file or directory" },
		{ "success=no", "exit=-1", "EPERM", "Operation not permitted" },
		{ "success=no", "exit=-4000", "Errno4000", "Error 4000" },
		{ "success=no", "exit=-9999", "Failed", "openat failed" },
		{ "success=no", "exit=?", "Failed", "openat failed" },
		{ "success=yes", "exit=-13", NULL, NULL },	/* success= decides */
		{ "items=0", "exit=-13", "EACCES", "Permission denied" },
		{ "items=0", "exit=3", NULL, NULL },
	};
	struct json_object *o;
	struct tev *t;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = ev_new(T0, 700 + i);
		ev_add(t, 1300, "SYSCALL", "arch=c000003e", "syscall=257", cases[i].success,
		    cases[i].exit_, "a2=0", "auid=1000", "uid=1000", "exe=/usr/bin/cat", NULL);
		ev_add(t, 1302, "PATH", "item=0", "name=/etc/shadow", "nametype=NORMAL", NULL);
		o = map(t);
		assert_jstr(o, "errorCode", cases[i].code);
		assert_jstr(o, "errorMessage", cases[i].message);
		json_object_put(o);
		ev_free(t);
	}
}

static void
test_syscall_named(void **state UNUSED)
{
	static const struct {
		const char *arch, *syscall, *want_syscall, *event_name;
	} cases[] = {
		{ "arch=c000003e", "syscall=62", "kill", "SignalProcess" },
		{ "arch=c000003e", "syscall=175", "init_module", "LoadKernelModule" },
		{ "arch=c000003e", "syscall=313", "finit_module", "LoadKernelModule" },
		{ "arch=c000003e", "syscall=176", "delete_module", "UnloadKernelModule" },
		{ "arch=c000003e", "syscall=165", "mount", "MountFilesystem" },
		{ "arch=c000003e", "syscall=166", "umount2", "UnmountFilesystem" },
		{ "arch=c000003e", "syscall=101", "ptrace", "TraceProcess" },
		{ "arch=c000003e", "syscall=105", "setuid", "ChangeProcessIdentity" },
		{ "arch=c000003e", "syscall=227", "clock_settime", "SetSystemTime" },
		{ "arch=c000003e", "syscall=170", "sethostname", "SetHostname" },
		{ "arch=c000003e", "syscall=169", "reboot", "Reboot" },
		{ "arch=c000003e", "syscall=246", "kexec_load", "LoadKernel" },
		{ "arch=c000003e", "syscall=42", "connect", "Connect" },
		{ "arch=c000003e", "syscall=49", "bind", "Bind" },
		{ "arch=c000003e", "syscall=288", "accept4", "Accept" },
		{ "arch=c000003e", "syscall=161", "chroot", "ChangeRoot" },
		{ "arch=c000003e", "syscall=41", "socket", "SystemCall" },
		{ "arch=c000003e", "syscall=9999", "syscall_9999", "SystemCall" },
		/* another architecture: numbers mean something else there */
		{ "arch=c00000b7", "syscall=62", "syscall_62", "SystemCall" },
		/* ENRICHED named it: the name wins, on any architecture */
		{ "arch=c00000b7", "syscall=129\x1dkill", "kill", "SignalProcess" },
		{ "items=0", "syscall=62", "kill", "SignalProcess" },	/* no arch: x86_64 */
	};
	struct json_object *o;
	struct tev *t;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = ev_new(T0, 800 + i);
		ev_add(t, 1300, "SYSCALL", cases[i].arch, cases[i].syscall, "success=yes",
		    "exit=0", "a0=4d2", "a1=9", "a2=0", "a3=0", "items=0", "pid=9", "auid=0",
		    "uid=0", "euid=0", "ses=1", "comm=kill", "exe=/usr/bin/kill", "key=(null)",
		    NULL);
		ev_add(t, 1327, "PROCTITLE", "proctitle=kill -9 1234", NULL);
		o = map(t);
		assert_kind(o, "host.process", cases[i].event_name, "AwsApiCall", "Data", false);
		assert_jstr(o, "requestParameters.syscall", cases[i].want_syscall);
		assert_jstr(o, "requestParameters.a0", "4d2");
		assert_jstr(o, "requestParameters.a1", "9");
		assert_jstr(o, "requestParameters.key", NULL);
		assert_jstr(o, "requestParameters.commandLine", "kill -9 1234");
		assert_jstr(o, "resources.0.type", "Host::Process");
		assert_jstr(o, "resources.0.ARN", "/usr/bin/kill");
		assert_jstr(o, "userIdentity.type", "Root");
		json_object_put(o);
		ev_free(t);
	}
}

/* The syscall that carried a standalone record: only a carrier. */
static void
test_trailer(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t = ev_new(T0, 5002);

	t->e.trailer = true;
	ev_add(t, 1300, "SYSCALL", "arch=c000003e", "syscall=257", "success=yes", "exit=3",
	    "a2=241", "auid=4294967295", "uid=0", "comm=auditctl", "exe=/usr/sbin/auditctl", NULL);
	ev_add(t, 1306, "SOCKADDR", "saddr=100000000000000000000000\x1d"
	    "saddr_fam=netlink nlnk-fam=16 nlnk-pid=0", NULL);
	ev_add(t, 1302, "PATH", "item=0", "name=/etc/", "nametype=PARENT", NULL);
	o = map(t);
	assert_kind(o, "host.process", "SystemCall", "AwsApiCall", "Data", false);
	assert_true(jbool(o, "additionalEventData.trailer"));
	assert_jstr(o, "requestParameters.syscall", "openat");
	assert_jstr(o, "requestParameters.SOCKADDR.0.saddr", "100000000000000000000000");
	assert_jstr(o, "requestParameters.SOCKADDR.0.SADDR",
	    "saddr_fam=netlink nlnk-fam=16 nlnk-pid=0");
	assert_jstr(o, "resources.0.ARN", "/usr/sbin/auditctl");
	assert_jstr(o, "userIdentity.type", "AWSService");
	assert_jstr(o, "userIdentity.invokedBy", "/usr/sbin/auditctl");
	json_object_put(o);
	ev_free(t);
}

/* ---- kernel and daemon events ---- */

static void
test_anomaly(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t;

	t = ev_new(T0, 900);
	ev_add(t, 1701, "ANOM_ABEND", "auid=1000", "uid=1000", "gid=1000", "ses=7",
	    "subj=unconfined", "pid=4242", "comm=crashme", "exe=/home/alice/crashme",
	    "sig=11\x1dSIGSEGV", "res=1", NULL);
	o = map(t);
	assert_kind(o, "host.anomaly", "Anomaly", "AwsServiceEvent", "Management", false);
	assert_jstr(o, "requestParameters.anomaly", "ANOM_ABEND");
	assert_jstr(o, "requestParameters.sig", "11");
	assert_jstr(o, "requestParameters.SIG", "SIGSEGV");
	assert_jstr(o, "requestParameters.gid", "1000");
	assert_jstr(o, "resources.0.type", "Host::Process");
	assert_jstr(o, "resources.0.ARN", "/home/alice/crashme");
	assert_jstr(o, "errorCode", NULL);
	json_object_put(o);
	ev_free(t);

	/* user-space anomalies name their reporter, no process resource */
	t = ev_new(T0, 901);
	ev_add(t, 2100, "ANOM_LOGIN_FAILURES", "pid=2401", "uid=0", "auid=4294967295",
	    "op=pam_faillock", "suid=1001", "exe=/usr/sbin/sshd", "addr=198.51.100.23",
	    "res=success", NULL);
	o = map(t);
	assert_kind(o, "host.anomaly", "Anomaly", "AwsServiceEvent", "Management", false);
	assert_jstr(o, "sourceIPAddress", "198.51.100.23");
	assert_int_equal(jlen(o, "resources"), 0);
	json_object_put(o);
	ev_free(t);

	/* a name the parser did not know (type 0): matched by its prefix;
	 * ANOM_ before the SYSCALL that came with it */
	t = ev_new(T0, 902);
	ev_add(t, 0, "ANOM_SOMETHING_NEW", "dev=eth0", "auid=1000", "uid=0", NULL);
	ev_add(t, 1300, "SYSCALL", "syscall=54", "success=yes", "exit=0", "auid=1000", "uid=0",
	    "comm=tcpdump", "exe=/usr/bin/tcpdump", NULL);
	o = map(t);
	assert_jstr(o, "eventName", "Anomaly");
	assert_jstr(o, "requestParameters.anomaly", "ANOM_SOMETHING_NEW");
	assert_jstr(o, "requestParameters.syscall", "setsockopt");
	assert_jstr(o, "requestParameters.exe", "/usr/bin/tcpdump");
	json_object_put(o);
	ev_free(t);
}

static void
test_config_change(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t;

	t = ev_new(T0, 1000);
	ev_add(t, 1305, "CONFIG_CHANGE", "op=set", "audit_enabled=0", "old=2", "auid=1000",
	    "ses=7", "subj=unconfined", "res=0", NULL);
	o = map(t);
	assert_kind(o, "host.audit", "ChangeAuditConfig", "AwsApiCall", "Management", false);
	assert_jstr(o, "errorCode", "Failed");
	assert_jstr(o, "errorMessage", "set failed");
	assert_jstr(o, "requestParameters.audit_enabled", "0");
	assert_jstr(o, "userIdentity.sessionContext.attributes.sessionId", "7");
	json_object_put(o);
	ev_free(t);

	/* with its syscall (netlink delivers them together) */
	t = ev_new(T0, 1001);
	ev_add(t, 1305, "CONFIG_CHANGE", "auid=4294967295", "ses=4294967295", "op=add_rule",
	    "key=identity", "list=4", "res=1", NULL);
	ev_add(t, 1300, "SYSCALL", "arch=c000003e", "syscall=44", "success=yes", "exit=1076",
	    "ppid=520", "pid=531", "auid=4294967295", "uid=0", "comm=auditctl",
	    "exe=/usr/sbin/auditctl", NULL);
	ev_add(t, 1306, "SOCKADDR", "saddr=100000000000000000000000", NULL);
	ev_add(t, 1327, "PROCTITLE", "proctitle=auditctl -R /etc/audit/audit.rules", NULL);
	o = map(t);
	assert_jstr(o, "eventName", "ChangeAuditConfig");
	assert_jstr(o, "errorCode", NULL);
	assert_jstr(o, "userAgent", "/usr/sbin/auditctl");
	assert_jstr(o, "userIdentity.type", "AWSService");
	assert_jstr(o, "requestParameters.key", "identity");
	assert_jstr(o, "requestParameters.syscall", "sendto");
	assert_jstr(o, "requestParameters.commandLine", "auditctl -R /etc/audit/audit.rules");
	assert_int_equal(jlen(o, "requestParameters.SOCKADDR"), 1);
	json_object_put(o);
	ev_free(t);
}

static void
test_daemon(void **state UNUSED)
{
	static const struct {
		unsigned type;
		const char *type_name, *event_name;
	} rows[] = {
		{ 1200, "DAEMON_START", "StartAuditDaemon" },
		{ 1201, "DAEMON_END", "StopAuditDaemon" },
		{ 1202, "DAEMON_ABORT", "AbortAuditDaemon" },
		{ 1203, "DAEMON_CONFIG", "ReconfigureAuditDaemon" },
		{ 1204, "DAEMON_RECONFIG", "AuditDaemonEvent" },
		{ 1205, "DAEMON_ROTATE", "RotateAuditLog" },
		{ 1206, "DAEMON_RESUME", "ResumeAuditDaemon" },
		{ 1207, "DAEMON_ACCEPT", "AuditDaemonEvent" },
		{ 1209, "DAEMON_ERR", "AuditDaemonEvent" },
		{ 0, "DAEMON_LATER", "AuditDaemonEvent" },
	};
	struct json_object *o;
	struct tev *t;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t = ev_new(T0, 1100 + i);
		ev_add(t, rows[i].type, rows[i].type_name, "op=terminate", "auid=1000",
		    "pid=3600", "subj=unconfined", "res=success", NULL);
		o = map(t);
		assert_kind(o, "host.audit", rows[i].event_name, "AwsServiceEvent", "Management",
		    false);
		assert_jstr(o, "requestParameters.op", "terminate");
		assert_jstr(o, "userIdentity.principalId", "1000");
		json_object_put(o);
		ev_free(t);
	}
}

/* ---- whatever the table does not know ---- */

static void
test_unknown(void **state UNUSED)
{
	struct json_object *o;
	struct tev *t;

	t = ev_new(T0, 1200);
	t->e.complete = false;
	ev_add(t, 1107, "USER_AVC", "pid=1", "uid=0", "auid=4294967295",
	    "apparmor=DENIED", "operation=dbus_method_call", "res=failed", NULL);
	ev_add(t, 1999, NULL, "some=thing", NULL);
	o = map(t);
	assert_kind(o, "host.audit", "AuditEvent", "AwsServiceEvent", "Management", false);
	assert_jstr(o, "requestParameters.apparmor", "DENIED");
	assert_jstr(o, "requestParameters.UNKNOWN[1999].0.some", "thing");
	assert_jstr(o, "additionalEventData.auditRecordTypes.0", "USER_AVC");
	assert_jstr(o, "additionalEventData.auditRecordTypes.1", "UNKNOWN[1999]");
	assert_true(jbool(o, "additionalEventData.incomplete"));
	assert_jstr(o, "errorCode", "Failed");
	assert_jstr(o, "errorMessage", "AuditEvent failed");
	json_object_put(o);
	ev_free(t);

	/* a record type only named (type 0) and one with no fields at all */
	t = ev_new(T0, 1201);
	ev_add(t, 0, "BRAND_NEW", NULL);
	o = map(t);
	assert_jstr(o, "eventName", "AuditEvent");
	assert_jstr(o, "userIdentity.type", "Unknown");
	assert_non_null(jget(o, "requestParameters"));
	assert_jstr(o, "additionalEventData.auditRecordTypes.0", "BRAND_NEW");
	json_object_put(o);
	ev_free(t);

	/* an event without records still maps */
	t = ev_new(T0, 1202);
	o = map(t);
	assert_jstr(o, "eventName", "AuditEvent");
	assert_int_equal(jlen(o, "additionalEventData.auditRecordTypes"), 0);
	json_object_put(o);
	ev_free(t);
}

/* ---- values ---- */

static void
test_binary_values(void **state UNUSED)
{
	struct json_object *o;
	struct ht_audit_record *r;
	struct tev *t = ev_new(T0, 1300);

	r = ev_add(t, 1123, "USER_CMD", "uid=1000", "auid=1000", "cmd=x",
	    "exe=/usr/bin/sudo", "cwd=x", "bad=x", "res=success", NULL);
	/* cmd decoded from hex holds a NUL; cwd is not UTF-8; a name is not either */
	r->fields[2].value = "a\0b";
	r->fields[2].len = 3;
	r->fields[2].hex = true;
	r->fields[4].value = "/tmp/\xff\xfe";
	r->fields[4].len = 7;
	r->fields[5].name = "b\xff" "d";
	o = map(t);
	assert_jstr(o, "requestParameters.cmd", "610062");
	assert_jstr(o, "requestParameters.cwd", "2F746D702FFFFE");
	assert_int_equal(json_object_object_length(jget(o, "requestParameters")), 3);
	json_object_put(o);
	ev_free(t);

	/* overlong UTF-8 and surrogates are not clean either; real UTF-8 is */
	t = ev_new(T0, 1301);
	r = ev_add(t, 1123, "USER_CMD", "uid=1000", "cmd=x", "cwd=x", "exe=/usr/bin/é", NULL);
	r->fields[1].value = "\xc0\xaf";
	r->fields[1].len = 2;
	r->fields[2].value = "\xed\xa0\x80";
	r->fields[2].len = 3;
	o = map(t);
	assert_jstr(o, "requestParameters.cmd", "C0AF");
	assert_jstr(o, "requestParameters.cwd", "EDA080");
	assert_jstr(o, "requestParameters.exe", "/usr/bin/é");
	assert_jstr(o, "userAgent", "/usr/bin/é");
	json_object_put(o);
	ev_free(t);
}

static void
test_additional(void **state UNUSED)
{
	struct json_object *o, *v;
	struct tev *t = ev_new(1732003260313LL, 18446744073709551ULL);
	struct ht_audit_map_ctx ctx = { .names = NULL, .source = NULL };

	t->e.node = "web1";
	ev_add(t, 1112, "USER_LOGIN", "auid=0", "res=success", NULL);
	o = map_ctx(t, &ctx, NULL);
	v = jget(o, "additionalEventData.auditSerial");
	assert_non_null(v);
	assert_int_equal(json_object_get_int64(v), 18446744073709551LL);
	assert_jstr(o, "additionalEventData.auditTime", "1732003260.313");
	assert_jstr(o, "additionalEventData.node", "web1");
	assert_jstr(o, "additionalEventData.source", NULL);
	assert_null(jget(o, "additionalEventData.incomplete"));
	assert_null(jget(o, "additionalEventData.trailer"));
	assert_jstr(o, "eventTime", "2024-11-19T08:01:00Z");
	json_object_put(o);

	/* a NULL ctx is all zero */
	o = map_ctx(t, NULL, NULL);
	assert_jstr(o, "additionalEventData.source", NULL);
	json_object_put(o);
	ev_free(t);
}

/* ---- names ---- */

static void
test_names_basic(void **state UNUSED)
{
	struct ht_audit_names *n;

	assert_int_equal(ht_audit_names_new(0, 0, &n), 0);
	assert_string_equal(ht_audit_names_user(n, 0, 1), "root");
	assert_string_equal(ht_audit_names_group(n, 0, 1), "root");
	assert_null(ht_audit_names_user(n, 4294967295u, 1));
	assert_null(ht_audit_names_group(n, 4294967295u, 1));
	assert_null(ht_audit_names_user(n, 3999999999u, 1));	/* nobody has it */
	assert_null(ht_audit_names_user(n, 3999999999u, 2));
	assert_string_equal(ht_audit_names_user(n, 0, 2), "root");
	ht_audit_names_free(n);
	assert_null(ht_audit_names_user(NULL, 0, 1));
	ht_audit_names_free(NULL);
}

/* With names: the login user and the process's users get their names,
 * the ENRICHED interpretation still wins, "unset" says nothing. */
static void
test_names_in_records(void **state UNUSED)
{
	struct ht_audit_map_ctx ctx = { .source = "netlink", .now_ms = 5 };
	struct json_object *o;
	struct tev *t;

	assert_int_equal(ht_audit_names_new(0, 0, &ctx.names), 0);
	t = ev_new(T0, 1400);
	ev_add(t, 1116, "ADD_GROUP", "uid=0", "auid=0", "euid=0\x1d\"toor\"", "ses=1",
	    "op=add-group", "id=0", "res=success", NULL);
	o = map_ctx(t, &ctx, NULL);
	assert_jstr(o, "userIdentity.type", "Root");
	assert_jstr(o, "userIdentity.userName", "root");
	assert_jstr(o, "userIdentity.sessionContext.attributes.uidName", "root");
	assert_jstr(o, "userIdentity.sessionContext.attributes.euidName", "toor");
	assert_jstr(o, "resources.0.ARN", "root");	/* gid 0's name */
	assert_jstr(o, "additionalEventData.source", "netlink");
	json_object_put(o);
	ev_free(t);

	t = ev_new(T0, 1401);
	ev_add(t, 1112, "USER_LOGIN", "uid=0\x1d\"unset\"", "auid=4294967295\x1dunset",
	    "op=login", "id=0", "res=failed", NULL);
	o = map_ctx(t, &ctx, NULL);
	assert_jstr(o, "userIdentity.type", "Root");
	assert_jstr(o, "userIdentity.principalId", "0");
	assert_jstr(o, "userIdentity.userName", "root");
	assert_jstr(o, "userIdentity.sessionContext.attributes.uidName", "root");
	assert_jstr(o, "resources.0.ARN", "root");
	json_object_put(o);
	ev_free(t);
	ht_audit_names_free(ctx.names);
}

static void
test_names_cache(void **state UNUSED)
{
	struct ht_audit_names *n;
	unsigned i;

	if (!nss_wrapped()) {
		print_message("getpwuid_r not wrapped (-Wl,--wrap=getpwuid_r); skipping\n");
		skip();
	}
	assert_int_equal(ht_audit_names_new(1000, 2, &n), 0);
	nss_calls = 0;
	assert_string_equal(ht_audit_names_user(n, 4242, 0), "fake4242");
	assert_string_equal(ht_audit_names_user(n, 4242, 999), "fake4242");
	assert_int_equal(nss_calls, 1);				/* cached */
	assert_string_equal(ht_audit_names_user(n, 4242, 1000), "fake4242");
	assert_int_equal(nss_calls, 2);				/* expired */
	assert_string_equal(ht_audit_names_user(n, 4242, -5), "fake4242");
	assert_int_equal(nss_calls, 3);				/* a clock that went back */

	/* misses are cached too */
	assert_null(ht_audit_names_user(n, 3999999999u, 2000));
	assert_null(ht_audit_names_user(n, 3999999999u, 2001));
	assert_int_equal(nss_calls, 4);
	/* users and groups of one id are two entries */
	assert_string_equal(ht_audit_names_group(n, 0, 2002), "root");
	assert_int_equal(nss_calls, 5);

	/* at most 2 entries: the oldest goes first */
	nss_calls = 0;
	assert_string_equal(ht_audit_names_user(n, 0, 3000), "root");
	assert_string_equal(ht_audit_names_user(n, 4242, 3000), "fake4242");
	assert_string_equal(ht_audit_names_user(n, 0, 3001), "root");
	assert_int_equal(nss_calls, 2);
	assert_string_equal(ht_audit_names_group(n, 0, 3002), "root");	/* evicts user 0 */
	assert_string_equal(ht_audit_names_user(n, 4242, 3003), "fake4242");
	assert_int_equal(nss_calls, 3);
	assert_string_equal(ht_audit_names_user(n, 0, 3004), "root");
	assert_int_equal(nss_calls, 4);

	/* NSS failing: no name, cached like a miss; then it comes back */
	nss_error = EIO;
	assert_null(ht_audit_names_user(n, 7, 10000));
	nss_error = 0;
	assert_null(ht_audit_names_user(n, 7, 10001));
	assert_int_equal(nss_calls, 5);
	ht_audit_names_free(n);

	/* many ids through a small cache, every answer right */
	assert_int_equal(ht_audit_names_new(0, 3, &n), 0);
	for (i = 0; i < 100; i++)
		assert_string_equal(ht_audit_names_user(n, i % 2 ? 4242 : 0, i), i % 2 ?
		    "fake4242" : "root");
	ht_audit_names_free(n);
}

/* ---- out of memory ---- */

static struct tev *
big_event(void)
{
	struct tev *t = ev_new(T0, 1500);

	t->e.node = "web1";
	t->e.complete = false;
	add_exec_syscall(t, "no", "-13", "/usr/bin/bash");
	ev_add(t, 1309, "EXECVE", "argc=3", "a0=sh", "a1=-c", "a2[0]=6563686F", "a2[1]=206869",
	    NULL);
	ev_add(t, 1307, "CWD", "cwd=/tmp", NULL);
	ev_add(t, 1302, "PATH", "item=0", "name=../bin/sh", "nametype=NORMAL", "mode=0100755",
	    NULL);
	ev_add(t, 1302, "PATH", "item=1", "name=/etc/x", "nametype=CREATE", NULL);
	ev_add(t, 1400, "AVC", "apparmor=DENIED\x1d" "DENIED!", NULL);
	ev_add(t, 1327, "PROCTITLE", "proctitle=sh -c echo hi", NULL);
	return t;
}

static void
oom_loop(const struct tev *t, const struct ht_audit_map_ctx *ctx)
{
	struct ht_record *rec;
	unsigned n;
	int r;

	for (n = 1;; n++) {
		rec = NULL;
		alloc_calls = 0;
		alloc_fail_at = n;
		r = ht_audit_map(&t->e, ctx, &rec);
		alloc_fail_at = 0;
		if (alloc_calls < n) {		/* nothing left to fail */
			assert_int_equal(r, 0);
			ht_record_free(rec);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(rec);
	}
	print_message("failed each of %u allocations\n", n - 1);
}

static void
test_out_of_memory(void **state UNUSED)
{
	struct ht_audit_map_ctx ctx = { .source = "auditlog" };
	struct ht_audit_names *n;
	struct tev *t = big_event();
	struct ht_record *rec = NULL;

	alloc_calls = 0;
	assert_int_equal(ht_audit_map(&t->e, &raw_ctx, &rec), 0);
	ht_record_free(rec);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		ev_free(t);
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	oom_loop(t, &raw_ctx);
	ev_free(t);

	/* names failing to allocate only go unnamed: fill the cache first */
	t = user_event(1114, "ADD_USER", "0", "add-user", "failed");
	assert_int_equal(ht_audit_names_new(0, 0, &ctx.names), 0);
	assert_int_equal(ht_audit_map(&t->e, &ctx, &rec), 0);
	ht_record_free(rec);
	oom_loop(t, &ctx);
	ev_free(t);
	ht_audit_names_free(ctx.names);

	/* a cache that cannot be made, and lookups that cannot allocate */
	for (unsigned i = 1; i <= 3; i++) {
		alloc_calls = 0;
		alloc_fail_at = i;
		n = NULL;
		if (ht_audit_names_new(0, 0, &n) == 0) {
			alloc_fail_at = 0;
			ht_audit_names_free(n);
			continue;
		}
		alloc_fail_at = 0;
		assert_null(n);
	}
	assert_int_equal(ht_audit_names_new(0, 0, &n), 0);
	alloc_calls = 0;
	alloc_fail_at = 1;
	assert_null(ht_audit_names_user(n, 0, 1));	/* its buffer */
	alloc_calls = 0;
	alloc_fail_at = 2;
	assert_null(ht_audit_names_user(n, 0, 1));	/* the name */
	alloc_fail_at = 0;
	assert_string_equal(ht_audit_names_user(n, 0, 1), "root");
	ht_audit_names_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_family),
		cmocka_unit_test(test_login_failed),
		cmocka_unit_test(test_login_uid),
		cmocka_unit_test(test_identity_family),
		cmocka_unit_test(test_identity_ids),
		cmocka_unit_test(test_user_cmd),
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_exec_whole),
		cmocka_unit_test(test_exec_variants),
		cmocka_unit_test(test_file_ops),
		cmocka_unit_test(test_file_paths),
		cmocka_unit_test(test_syscall_errors),
		cmocka_unit_test(test_syscall_named),
		cmocka_unit_test(test_trailer),
		cmocka_unit_test(test_anomaly),
		cmocka_unit_test(test_config_change),
		cmocka_unit_test(test_daemon),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_binary_values),
		cmocka_unit_test(test_additional),
		cmocka_unit_test(test_names_basic),
		cmocka_unit_test(test_names_in_records),
		cmocka_unit_test(test_names_cache),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
