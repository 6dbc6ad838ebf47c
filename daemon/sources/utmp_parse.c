/*
 * utmp_parse.c - see utmp_parse.h.
 *
 * A record is copied into a struct utmp before anything is read from it
 * (the bytes may sit at any alignment), then decoded into plain C strings:
 * utmp's fields are fixed arrays that are NUL-terminated only when shorter
 * than the array, and hold whatever bytes the writer put there, so every
 * string is cut at its array's size and anything that is not printable
 * UTF-8 becomes '?' (a record must always be valid JSON).
 *
 * Checks that make a record "not a utmp record" are the ones a real
 * writer never fails: ut_type one of the ten types, microseconds below a
 * million.  Strings and pids are taken as they are.
 *
 * Sessions are matched by terminal (ut_line), else by ut_id: that is how
 * login(1), sshd and init write them (the logout record repeats the line
 * with an empty user).  A boot record closes every session: after a crash
 * there is never a logout.  At most HT_UTMP_SESSIONS_MAX are kept, in an
 * array oldest first, so the oldest goes when it is full.
 */
#include "ht_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crypto.h"
#include "jsonutil.h"
#include "record.h"
#include "sources/utmp_parse.h"
#include "util.h"

#define SRC_LOGIN "host.login"
#define SRC_SYSTEM "host.system"
#define T_SIGNIN "AwsConsoleSignIn"
#define T_SERVICE "AwsServiceEvent"

struct ht_utmp_reader {
	enum ht_utmp_file file;
	ht_utmp_uid_fn uid_of;
	void *uid_arg;
	char *path;
	uint64_t inode;
	uint64_t off;			/* the next byte fed goes here */
	uint8_t part[HT_UTMP_RECORD_SIZE];
	size_t n_part;			/* bytes of a partial record, ending at off */
	struct ht_utmp_session *s;	/* open sessions, oldest first */
	size_t n_s;
	struct ht_utmp_stats st;
};

static const char *const type_names[] = { "EMPTY", "RUN_LVL", "BOOT_TIME", "NEW_TIME",
	"OLD_TIME", "INIT_PROCESS", "LOGIN_PROCESS", "USER_PROCESS", "DEAD_PROCESS",
	"ACCOUNTING" };

/* ---- decoding ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A fixed utmp array of n bytes as a clean C string (out: n + 1 bytes). */
static void
clean_field(const char *in, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t len = strnlen(in, n), i = 0, o = 0, k;

	while (i < len) {
		k = utf8_len(s + i, len - i);
		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
}

/* ut_id: four bytes that are usually text ("ts/0", "~~"), else hex. */
static void
clean_id(const char *in, char out[4 * 4 + 1])
{
	size_t len = strnlen(in, 4), i;
	bool text = true;

	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] >= 0x7f)
			text = false;
	if (text) {
		memcpy(out, in, len);
		out[len] = '\0';
		return;
	}
	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", (unsigned char)in[i]);
	out[2 * len] = '\0';
}

/* ut_addr_v6: IPv4 in the first word alone, else IPv6; "" when zero. */
static void
addr_text(const int32_t a[4], char out[46])
{
	out[0] = '\0';
	if (a[1] == 0 && a[2] == 0 && a[3] == 0) {
		if (a[0] != 0)
			inet_ntop(AF_INET, &a[0], out, 46);
		return;
	}
	inet_ntop(AF_INET6, a, out, 46);
}

int
ht_utmp_decode(const void *data, size_t len, struct ht_utmp_entry *ret, const char **ret_why)
{
	struct ht_utmp_entry e;
	struct utmp u;

	if (len != HT_UTMP_RECORD_SIZE) {
		*ret_why = "a partial record";
		return -EINVAL;
	}
	memcpy(&u, data, sizeof(u));
	if (u.ut_type < EMPTY || u.ut_type > ACCOUNTING) {
		*ret_why = "ut_type is not a utmp record type";
		return -EINVAL;
	}
	if (u.ut_tv.tv_usec < 0 || u.ut_tv.tv_usec > 999999) {
		*ret_why = "ut_tv.tv_usec is not below a second";
		return -EINVAL;
	}
	memset(&e, 0, sizeof(e));
	e.type = u.ut_type;
	e.pid = (int32_t)u.ut_pid;
	clean_field(u.ut_line, sizeof(u.ut_line), e.line);
	clean_id(u.ut_id, e.id);
	clean_field(u.ut_user, sizeof(u.ut_user), e.user);
	clean_field(u.ut_host, sizeof(u.ut_host), e.host);
	e.exit_termination = u.ut_exit.e_termination;
	e.exit_status = u.ut_exit.e_exit;
	e.session = (int32_t)u.ut_session;
	/* 32-bit seconds on 64-bit hosts (the file layout is shared with
	 * 32-bit programs): read as unsigned, good until 2106 */
	e.sec = sizeof(u.ut_tv.tv_sec) == 4 ? (int64_t)(uint32_t)u.ut_tv.tv_sec :
	    (int64_t)u.ut_tv.tv_sec;
	if (e.sec < 0) {
		*ret_why = "ut_tv.tv_sec is negative";
		return -EINVAL;
	}
	e.usec = (int32_t)u.ut_tv.tv_usec;
	addr_text(u.ut_addr_v6, e.addr);
	*ret = e;
	return 0;
}

/* ---- sessions ---- */

static struct ht_utmp_session *
session_find(struct ht_utmp_reader *r, const struct ht_utmp_entry *e)
{
	size_t i;

	for (i = r->n_s; i-- > 0;)
		if (e->line[0] != '\0' ? strcmp(r->s[i].line, e->line) == 0 :
		    (e->id[0] != '\0' && strcmp(r->s[i].id, e->id) == 0))
			return &r->s[i];
	/* a logout naming no line of ours: ut_id alone */
	for (i = r->n_s; e->line[0] != '\0' && e->id[0] != '\0' && i-- > 0;)
		if (strcmp(r->s[i].id, e->id) == 0)
			return &r->s[i];
	return NULL;
}

static void
session_del(struct ht_utmp_reader *r, struct ht_utmp_session *s)
{
	size_t i = (size_t)(s - r->s);

	memmove(&r->s[i], &r->s[i + 1], (r->n_s - i - 1) * sizeof(*r->s));
	r->n_s--;
}

static void
session_open(struct ht_utmp_reader *r, const struct ht_utmp_entry *e)
{
	struct ht_utmp_session *s = session_find(r, e);

	if (s != NULL)
		session_del(r, s);	/* never closed (a crash): replaced */
	if (r->n_s == HT_UTMP_SESSIONS_MAX)
		session_del(r, &r->s[0]);
	s = &r->s[r->n_s++];
	memset(s, 0, sizeof(*s));
	memcpy(s->line, e->line, sizeof(s->line));
	memcpy(s->id, e->id, sizeof(s->id));
	memcpy(s->user, e->user, sizeof(s->user));
	memcpy(s->host, e->host, sizeof(s->host));
	memcpy(s->addr, e->addr, sizeof(s->addr));
	s->sec = e->sec;
	s->pid = e->pid;
}

const struct ht_utmp_session *
ht_utmp_sessions(const struct ht_utmp_reader *r, size_t *ret_n)
{
	*ret_n = r->n_s;
	return r->s;
}

int
ht_utmp_set_sessions(struct ht_utmp_reader *r, const struct ht_utmp_session *s, size_t n)
{
	if (n > HT_UTMP_SESSIONS_MAX) {
		s += n - HT_UTMP_SESSIONS_MAX;
		n = HT_UTMP_SESSIONS_MAX;
	}
	if (n > 0)
		memcpy(r->s, s, n * sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		/* the copies come from a file: make sure every string ends */
		r->s[i].line[sizeof(r->s[i].line) - 1] = '\0';
		r->s[i].id[sizeof(r->s[i].id) - 1] = '\0';
		r->s[i].user[sizeof(r->s[i].user) - 1] = '\0';
		r->s[i].host[sizeof(r->s[i].host) - 1] = '\0';
		r->s[i].addr[sizeof(r->s[i].addr) - 1] = '\0';
	}
	r->n_s = n;
	return 0;
}

/* ---- JSON helpers: each returns 0 or -ENOMEM ---- */

/* A new object in *ret, or -ENOMEM. */
static int
jobj(struct json_object **ret)
{
	*ret = json_object_new_object();
	return *ret != NULL ? 0 : -ENOMEM;
}

static int
set_str(char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst != NULL ? 0 : -ENOMEM;
}

/* ---- the record ---- */

struct mapping {
	const char *source, *name, *type;
	bool denied;			/* btmp: a failed login */
};

/* userIdentity of a login: the account, as the audit mapping's login rows
 * name it; nobody named: Unknown. */
static int
login_identity(const struct ht_utmp_reader *r, const char *user, struct json_object **ret)
{
	struct json_object *ui;
	char num[16];
	uint32_t uid;
	bool known;
	int v;

	if ((v = jobj(&ui)) < 0)
		return v;
	if (user[0] == '\0') {
		v = ht_json_add_str(ui, "type", "Unknown");
		goto out;
	}
	known = r->uid_of != NULL && r->uid_of(user, &uid, r->uid_arg);
	v = ht_json_add_str(ui, "type", strcmp(user, "root") == 0 || (known && uid == 0) ? "Root" : "IAMUser");
	if (v == 0 && known) {
		snprintf(num, sizeof(num), "%" PRIu32, uid);
		v = ht_json_add_str(ui, "principalId", num);
	}
	if (v == 0)
		v = ht_json_add_str(ui, "userName", user);
out:
	if (v < 0) {
		json_object_put(ui);
		return v;
	}
	*ret = ui;
	return 0;
}

/* userIdentity of what init records (boots, runlevels, clock changes). */
static int
system_identity(struct json_object **ret)
{
	struct json_object *ui;
	int v;

	if ((v = jobj(&ui)) < 0)
		return v;
	if ((v = ht_json_add_str(ui, "type", "AWSService")) < 0 || (v = ht_json_add_str(ui, "principalId", "0")) < 0 ||
	    (v = ht_json_add_str(ui, "invokedBy", "init")) < 0) {
		json_object_put(ui);
		return v;
	}
	*ret = ui;
	return 0;
}

static int
add_user_resource(struct ht_record *rec, const char *user)
{
	struct json_object *arr, *o;
	int v;

	if (user[0] == '\0')
		return 0;
	if ((arr = json_object_new_array()) == NULL)
		return -ENOMEM;
	rec->resources = arr;
	if ((v = jobj(&o)) < 0)
		return v;
	if (json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	if ((v = ht_json_add_str(o, "type", "Host::User")) < 0)
		return v;
	return ht_json_add_str(o, "ARN", user);
}

/* additionalEventData every utmp record has. */
static int
base_additional(const struct ht_utmp_reader *r, uint64_t off, const char *type,
    struct json_object **ret)
{
	struct json_object *a;
	int v;

	if ((v = jobj(&a)) < 0)
		return v;
	if ((v = ht_json_add_str(a, "source", "utmp")) < 0 ||
	    (v = ht_json_add_str(a, "file", r->file == HT_UTMP_WTMP ? "wtmp" : "btmp")) < 0 ||
	    (v = ht_json_add_str(a, "path", r->path != NULL ? r->path : "")) < 0 ||
	    (v = ht_json_add_int(a, "inode", (int64_t)r->inode)) < 0 ||
	    (v = ht_json_add_int(a, "offset", (int64_t)off)) < 0 ||
	    (type != NULL && (v = ht_json_add_str(a, "utmpType", type)) < 0)) {
		json_object_put(a);
		return v;
	}
	*ret = a;
	return 0;
}

/* What every record shares: names, category, flags. */
static int
base_record(const struct mapping *m, struct ht_record **ret)
{
	struct ht_record *rec = ht_record_new();
	int v;

	if (rec == NULL)
		return -ENOMEM;
	rec->read_only = HT_FALSE;
	rec->management_event = HT_TRUE;
	if ((v = set_str(&rec->event_version, HT_EVENT_VERSION)) < 0 ||
	    (v = set_str(&rec->event_source, m->source)) < 0 ||
	    (v = set_str(&rec->event_name, m->name)) < 0 ||
	    (v = set_str(&rec->event_type, m->type)) < 0 ||
	    (v = set_str(&rec->event_category, "Management")) < 0) {
		ht_record_free(rec);
		return v;
	}
	*ret = rec;
	return 0;
}

/* requestParameters of a login entry (terminal, id, pid, host, session). */
static int
login_params(const struct ht_utmp_entry *e, struct json_object *p)
{
	char num[16];
	int v = 0;

	if (e->line[0] != '\0')
		v = ht_json_add_str(p, "terminal", e->line);
	if (v == 0 && e->id[0] != '\0')
		v = ht_json_add_str(p, "id", e->id);
	snprintf(num, sizeof(num), "%" PRId32, e->pid);
	if (v == 0 && e->pid != 0)
		v = ht_json_add_str(p, "pid", num);
	if (v == 0 && e->host[0] != '\0')
		v = ht_json_add_str(p, "host", e->host);
	snprintf(num, sizeof(num), "%" PRId32, e->session);
	if (v == 0 && e->session != 0)
		v = ht_json_add_str(p, "session", num);
	if (v == 0 && e->type == DEAD_PROCESS && (e->exit_termination || e->exit_status)) {
		snprintf(num, sizeof(num), "%d", e->exit_termination);
		v = ht_json_add_str(p, "exitTermination", num);
		snprintf(num, sizeof(num), "%d", e->exit_status);
		if (v == 0)
			v = ht_json_add_str(p, "exitStatus", num);
	}
	return v;
}

/* requestParameters of init's entries. */
static int
system_params(const struct ht_utmp_entry *e, struct json_object *p)
{
	char lvl[2] = { 0 }, prev[2] = { 0 };
	int v = 0;

	switch (e->type) {
	case RUN_LVL:
		/* init writes the new runlevel in the low byte of ut_pid, the
		 * previous one in the next */
		lvl[0] = (char)(e->pid & 0xff);
		prev[0] = (char)((e->pid >> 8) & 0xff);
		if (lvl[0] >= 0x21 && lvl[0] < 0x7f)
			v = ht_json_add_str(p, "runlevel", lvl);
		if (v == 0 && prev[0] >= 0x21 && prev[0] < 0x7f)
			v = ht_json_add_str(p, "previousRunlevel", prev);
		break;
	case BOOT_TIME:
		if (e->host[0] != '\0')
			v = ht_json_add_str(p, "kernel", e->host);	/* init puts uname -r there */
		break;
	default:
		v = ht_json_add_str(p, "clock", e->type == NEW_TIME ? "new" : "old");
		break;
	}
	if (v == 0 && e->user[0] != '\0')
		v = ht_json_add_str(p, "user", e->user);
	return v;
}

/* EndSession: who the session was and how long it lasted. */
static int
session_additional(const struct ht_utmp_session *s, const struct ht_utmp_entry *e,
    struct json_object *a)
{
	char when[HT_ISO8601_LEN];

	if (s == NULL)
		return ht_json_add(a, "sessionFound", json_object_new_boolean(0));
	ht_time_iso8601((time_t)s->sec, when);
	if (ht_json_add_str(a, "sessionStart", when) < 0)
		return -ENOMEM;
	return ht_json_add_int(a, "sessionSeconds", e->sec >= s->sec ? e->sec - s->sec : 0);
}

/* Which row of the mapping an entry is; NULL: it makes no record. */
static const struct mapping *
mapping_of(const struct ht_utmp_reader *r, const struct ht_utmp_entry *e)
{
	static const struct mapping failed = { SRC_LOGIN, "UserLogin", T_SIGNIN, true };
	static const struct mapping rows[] = {
		[RUN_LVL] = { SRC_SYSTEM, "ChangeRunlevel", T_SERVICE, false },
		[BOOT_TIME] = { SRC_SYSTEM, "SystemBoot", T_SERVICE, false },
		[NEW_TIME] = { SRC_SYSTEM, "SetSystemTime", T_SERVICE, false },
		[OLD_TIME] = { SRC_SYSTEM, "SetSystemTime", T_SERVICE, false },
		[USER_PROCESS] = { SRC_LOGIN, "StartSession", T_SIGNIN, false },
		[DEAD_PROCESS] = { SRC_LOGIN, "EndSession", T_SIGNIN, false },
	};
	static const struct mapping shutdown = { SRC_SYSTEM, "SystemShutdown", T_SERVICE, false };

	if (e->type == EMPTY)
		return NULL;
	if (r->file == HT_UTMP_BTMP)
		return &failed;
	if (e->type == RUN_LVL && strcmp(e->user, "shutdown") == 0)
		return &shutdown;
	if ((size_t)e->type >= sizeof(rows) / sizeof(rows[0]) || rows[e->type].name == NULL)
		return NULL;
	return &rows[e->type];
}

static bool
is_login_row(const struct mapping *m)
{
	return strcmp(m->source, SRC_LOGIN) == 0;
}

/* Origin and error fields. */
static int
fill_origin(const struct mapping *m, const struct ht_utmp_entry *e, const char *addr,
    const char *host, struct ht_record *rec)
{
	const char *ip = addr[0] != '\0' ? addr : host;

	if (is_login_row(m) && ip[0] != '\0' && set_str(&rec->source_ip_address, ip) < 0)
		return -ENOMEM;
	if (m->denied && (set_str(&rec->error_code, "AccessDenied") < 0 ||
	    set_str(&rec->error_message, "login failed") < 0))
		return -ENOMEM;
	return 0;
}

/* The record of a decoded entry (the session it closes, if any). */
static int
entry_record(struct ht_utmp_reader *r, const struct mapping *m, const struct ht_utmp_entry *e,
    const struct ht_utmp_session *s, uint64_t off, struct ht_record **ret)
{
	struct ht_record *rec;
	const char *user = s != NULL && s->user[0] != '\0' ? s->user : e->user;
	const char *addr = s != NULL && e->addr[0] == '\0' ? s->addr : e->addr;
	const char *host = s != NULL && e->host[0] == '\0' ? s->host : e->host;
	int v;

	if ((v = base_record(m, &rec)) < 0)
		return v;
	rec->event_time = (time_t)e->sec;
	if ((v = fill_origin(m, e, addr, host, rec)) < 0 ||
	    (v = is_login_row(m) ? login_identity(r, user, &rec->user_identity) :
	    system_identity(&rec->user_identity)) < 0 ||
	    (v = jobj(&rec->request_parameters)) < 0 ||
	    (v = is_login_row(m) ? login_params(e, rec->request_parameters) :
	    system_params(e, rec->request_parameters)) < 0 ||
	    (v = base_additional(r, off, type_names[e->type], &rec->additional_event_data)) < 0 ||
	    (e->type == DEAD_PROCESS && r->file == HT_UTMP_WTMP &&
	    (v = session_additional(s, e, rec->additional_event_data)) < 0) ||
	    (is_login_row(m) && (v = add_user_resource(rec, user)) < 0)) {
		ht_record_free(rec);
		return v;
	}
	*ret = rec;
	return 0;
}

/* The generic record of bytes that are no utmp record. */
static int
bad_record(struct ht_utmp_reader *r, const uint8_t *data, size_t len, uint64_t off,
    const char *why, struct ht_record **ret)
{
	static const struct mapping generic = { SRC_LOGIN, "UnknownLoginRecord", T_SERVICE, false };
	struct ht_record *rec;
	char *hex;
	int v;

	if ((v = base_record(&generic, &rec)) < 0)
		return v;
	if ((hex = malloc(2 * len + 1)) == NULL) {
		ht_record_free(rec);
		return -ENOMEM;
	}
	ht_hex(data, len, hex);
	if ((v = jobj(&rec->user_identity)) < 0 ||
	    (v = ht_json_add_str(rec->user_identity, "type", "Unknown")) < 0 ||
	    (v = base_additional(r, off, NULL, &rec->additional_event_data)) < 0 ||
	    (v = ht_json_add_str(rec->additional_event_data, "unparsed", why)) < 0 ||
	    (v = ht_json_add_str(rec->additional_event_data, "bytes", hex)) < 0) {
		free(hex);
		ht_record_free(rec);
		return v;
	}
	free(hex);
	*ret = rec;
	return 0;
}

/* Update the open sessions for e; s is the session it closes (found
 * before its record was made). */
static void
track(struct ht_utmp_reader *r, const struct ht_utmp_entry *e, struct ht_utmp_session *s)
{
	if (r->file != HT_UTMP_WTMP)
		return;
	if (e->type == USER_PROCESS)
		session_open(r, e);
	else if (e->type == DEAD_PROCESS && s != NULL)
		session_del(r, s);
	else if (e->type == BOOT_TIME)
		r->n_s = 0;
}

/* One whole record at off.  Sessions change only once its record exists,
 * so a failed allocation can be retried. */
static int
one(struct ht_utmp_reader *r, const uint8_t *data, uint64_t off, ht_utmp_emit_fn emit,
    void *arg)
{
	struct ht_utmp_session *sp = NULL;
	struct ht_utmp_entry e;
	const struct mapping *m;
	struct ht_record *rec = NULL;
	const char *why;
	int v;

	if (ht_utmp_decode(data, HT_UTMP_RECORD_SIZE, &e, &why) < 0) {
		if ((v = bad_record(r, data, HT_UTMP_RECORD_SIZE, off, why, &rec)) < 0)
			return v;
		r->st.entries++;
		r->st.bad++;
		r->st.records++;
		return emit(rec, off, true, arg);
	}
	if ((m = mapping_of(r, &e)) == NULL) {
		r->st.entries++;
		r->st.skipped++;
		return 0;
	}
	if (e.type == DEAD_PROCESS && r->file == HT_UTMP_WTMP)
		sp = session_find(r, &e);
	if ((v = entry_record(r, m, &e, sp, off, &rec)) < 0)
		return v;
	track(r, &e, sp);
	r->st.entries++;
	r->st.records++;
	return emit(rec, off, false, arg);
}

/* ---- the reader ---- */

int
ht_utmp_reader_new(enum ht_utmp_file file, ht_utmp_uid_fn uid_of, void *uid_arg,
    struct ht_utmp_reader **ret)
{
	struct ht_utmp_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	r->s = calloc(HT_UTMP_SESSIONS_MAX, sizeof(*r->s));
	if (r->s == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->file = file;
	r->uid_of = uid_of;
	r->uid_arg = uid_arg;
	*ret = r;
	return 0;
}

void
ht_utmp_reader_free(struct ht_utmp_reader *r)
{
	if (r == NULL)
		return;
	free(r->path);
	free(r->s);
	free(r);
}

int
ht_utmp_reader_reset(struct ht_utmp_reader *r, const char *path, uint64_t inode, uint64_t off)
{
	char *p = strdup(path != NULL ? path : "");

	if (p == NULL)
		return -ENOMEM;
	free(r->path);
	r->path = p;
	r->inode = inode;
	r->off = off;
	r->n_part = 0;
	return 0;
}

int
ht_utmp_feed(struct ht_utmp_reader *r, const void *data, size_t len, ht_utmp_emit_fn emit,
    void *arg, size_t *ret_used)
{
	const uint8_t *p = data;
	size_t i = 0, k;
	int v = 0;

	if (r->n_part > 0) {
		k = HT_UTMP_RECORD_SIZE - r->n_part;
		if (k > len)
			k = len;
		memcpy(r->part + r->n_part, p, k);
		if (r->n_part + k < HT_UTMP_RECORD_SIZE) {
			r->n_part += k;
			r->off += k;
			*ret_used = k;
			return 0;
		}
		v = one(r, r->part, r->off - r->n_part, emit, arg);
		if (v == -ENOMEM) {
			*ret_used = 0;	/* the part stays as it was */
			return v;
		}
		r->off += k;
		r->n_part = 0;
		i = k;
	}
	while (v == 0 && len - i >= HT_UTMP_RECORD_SIZE) {
		v = one(r, p + i, r->off, emit, arg);
		if (v == -ENOMEM)
			break;
		i += HT_UTMP_RECORD_SIZE;
		r->off += HT_UTMP_RECORD_SIZE;
	}
	if (v == 0 && i < len) {
		memcpy(r->part, p + i, len - i);
		r->n_part = len - i;
		r->off += len - i;
		i = len;
	}
	*ret_used = i;
	return v;
}

int
ht_utmp_flush(struct ht_utmp_reader *r, ht_utmp_emit_fn emit, void *arg)
{
	struct ht_record *rec;
	uint64_t at = r->off - r->n_part;
	int v;

	if (r->n_part == 0)
		return 0;
	v = bad_record(r, r->part, r->n_part, at, "a partial record at the end of the file",
	    &rec);
	if (v < 0)
		return v;
	r->n_part = 0;
	r->st.bad++;
	r->st.records++;
	return emit(rec, at, true, arg);
}

uint64_t
ht_utmp_offset(const struct ht_utmp_reader *r)
{
	return r->off;
}

uint64_t
ht_utmp_resume_offset(const struct ht_utmp_reader *r)
{
	return r->off - r->n_part;
}

void
ht_utmp_stats(const struct ht_utmp_reader *r, struct ht_utmp_stats *ret)
{
	*ret = r->st;
}

/* ---- history ---- */

bool
ht_utmp_record_key(const char *json, size_t len, enum ht_utmp_file *ret_file,
    uint64_t *ret_inode, uint64_t *ret_offset)
{
	static const char mark[] = "\"utmp\"";
	struct json_object *rec = NULL, *a, *v;
	struct json_tokener *tok;
	enum ht_utmp_file f = HT_UTMP_WTMP;
	uint64_t ino = 0, off = 0;
	const char *file;
	bool ok = false;

	if (len > INT32_MAX || memmem(json, len, mark, sizeof(mark) - 1) == NULL)
		return false;	/* another source's record: not worth parsing */
	if ((tok = json_tokener_new()) == NULL)
		return false;
	rec = json_tokener_parse_ex(tok, json, (int)len);
	if (rec != NULL && json_object_object_get_ex(rec, "additionalEventData", &a) &&
	    json_object_object_get_ex(a, "source", &v) &&
	    strcmp(json_object_get_string(v), "utmp") == 0 &&
	    json_object_object_get_ex(a, "file", &v) && (file = json_object_get_string(v)) &&
	    (strcmp(file, "wtmp") == 0 || strcmp(file, "btmp") == 0)) {
		f = strcmp(file, "wtmp") == 0 ? HT_UTMP_WTMP : HT_UTMP_BTMP;
		if (json_object_object_get_ex(a, "inode", &v)) {
			ino = (uint64_t)json_object_get_int64(v);
			ok = json_object_object_get_ex(a, "offset", &v);
			off = ok ? (uint64_t)json_object_get_int64(v) : 0;
		}
	}
	json_object_put(rec);
	json_tokener_free(tok);
	if (ok) {
		*ret_file = f;
		*ret_inode = ino;
		*ret_offset = off;
	}
	return ok;
}
