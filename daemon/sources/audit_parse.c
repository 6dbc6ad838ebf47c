/*
 * audit_parse.c - audit records parsed in one pass into one arena each, and
 * assembled into events by audit(TIME:SERIAL).
 *
 * Parsing.  The header (node=, type=, audit(TIME:SERIAL):) is read without
 * allocating; then one malloc holds the record, its field array and every
 * string, sized from the line: fields are at most one per '=' in the body
 * (plus "text"), and the strings are copies of disjoint spans of the line,
 * never longer than the span (hex decoding halves it), each with a NUL.  The
 * body is then read once, left to right, writing names and decoded values
 * straight into the arena.  A bare word continuing an unquoted value
 * re-copies the value's span, which is always the last string written, so
 * the bound still holds.  Malformed input stops at the first error with a
 * static reason and the offset; nothing depends on NUL termination of the
 * input.
 *
 * Assembling.  Open events live in a chained hash on the serial (compared
 * with time and node, so rebooted or forwarded hosts do not mix) and on one
 * list ordered by last activity: its head is the idlest event, which is the
 * one a timeout, max_open or max_bytes closes first, so tick is O(closed).
 * The events of the standalone records emitted last are remembered (serial,
 * time, node hash) in a small ring to flag the syscall records that may
 * follow them as a trailer.  EXECVE chunks are joined when an event closes,
 * since they may span records; that is the only copy an event ever makes.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_parse.h"
#include "util.h"

#define GS '\x1d'			/* auditd's AUDIT_INTERP_SEPARATOR */
#define TYPE_BASE 1000u			/* lowest number in the type table */
#define EV_INLINE 8			/* records an event holds before it allocates */
#define RECENT 32			/* standalone events remembered for trailers */

#define DEF_TIMEOUT_MS 2000
#define DEF_MAX_RECORDS 256
#define DEF_MAX_OPEN 1024
#define DEF_MAX_BYTES (64u * 1024 * 1024)

/*
 * Every record type auditd names (linux/audit.h and libaudit.h), sorted by
 * name for the binary search of ht_audit_parse_line; test_audit_parse checks
 * the order.  One list, so the two lookups cannot drift apart.
 */
#define TYPES(X) \
	X(1135, ACCT_LOCK) X(1136, ACCT_UNLOCK) X(1003, ADD) X(1116, ADD_GROUP) \
	X(1011, ADD_RULE) X(1114, ADD_USER) X(1701, ANOM_ABEND) X(2111, ANOM_ACCESS_FS) \
	X(2114, ANOM_ADD_ACCT) X(2107, ANOM_AMTU_FAIL) X(1703, ANOM_CREAT) \
	X(2110, ANOM_CRYPTO_FAIL) X(2115, ANOM_DEL_ACCT) X(2112, ANOM_EXEC) X(1702, ANOM_LINK) \
	X(2103, ANOM_LOGIN_ACCT) X(2100, ANOM_LOGIN_FAILURES) X(2104, ANOM_LOGIN_LOCATION) \
	X(2119, ANOM_LOGIN_ROOT) X(2118, ANOM_LOGIN_SERVICE) X(2102, ANOM_LOGIN_SESSIONS) \
	X(2101, ANOM_LOGIN_TIME) X(2105, ANOM_MAX_DAC) X(2106, ANOM_MAX_MAC) \
	X(2113, ANOM_MK_EXEC) X(2116, ANOM_MOD_ACCT) X(2120, ANOM_ORIGIN_FAILURES) \
	X(1700, ANOM_PROMISCUOUS) X(2108, ANOM_RBAC_FAIL) X(2109, ANOM_RBAC_INTEGRITY_FAIL) \
	X(2117, ANOM_ROOT_TRANS) X(2121, ANOM_SESSION) X(1500, APPARMOR) \
	X(1502, APPARMOR_ALLOWED) X(1501, APPARMOR_AUDIT) X(1503, APPARMOR_DENIED) \
	X(1506, APPARMOR_ERROR) X(1504, APPARMOR_HINT) X(1507, APPARMOR_KILL) \
	X(1505, APPARMOR_STATUS) X(1400, AVC) X(1402, AVC_PATH) X(1334, BPF) X(1321, BPRM_FCAPS) \
	X(1322, CAPSET) X(1119, CHGRP_ID) X(1125, CHUSER_ID) X(1305, CONFIG_CHANGE) \
	X(1103, CRED_ACQ) X(1104, CRED_DISP) X(1110, CRED_REFR) X(2405, CRYPTO_FAILURE_USER) \
	X(2408, CRYPTO_IKE_SA) X(2409, CRYPTO_IPSEC_SA) X(2404, CRYPTO_KEY_USER) \
	X(2402, CRYPTO_LOGIN) X(2403, CRYPTO_LOGOUT) X(2401, CRYPTO_PARAM_CHANGE_USER) \
	X(2406, CRYPTO_REPLAY_USER) X(2407, CRYPTO_SESSION) X(2400, CRYPTO_TEST_USER) \
	X(1307, CWD) X(1118, DAC_CHECK) X(1202, DAEMON_ABORT) X(1207, DAEMON_ACCEPT) \
	X(1208, DAEMON_CLOSE) X(1203, DAEMON_CONFIG) X(1201, DAEMON_END) X(1209, DAEMON_ERR) \
	X(1204, DAEMON_RECONFIG) X(1206, DAEMON_RESUME) X(1205, DAEMON_ROTATE) \
	X(1200, DAEMON_START) X(1004, DEL) X(1117, DEL_GROUP) X(1012, DEL_RULE) \
	X(1115, DEL_USER) X(2307, DEV_ALLOC) X(2308, DEV_DEALLOC) X(1338, DM_CTRL) \
	X(1339, DM_EVENT) X(1320, EOE) X(1335, EVENT_LISTENER) X(1309, EXECVE) X(1331, FANOTIFY) \
	X(1317, FD_PAIR) X(1328, FEATURE_CHANGE) X(1308, FS_INODE) X(2309, FS_RELABEL) \
	X(1301, FS_WATCH) X(1000, GET) X(1019, GET_FEATURE) X(1126, GRP_AUTH) \
	X(1133, GRP_CHAUTHTOK) X(1132, GRP_MGMT) X(1800, INTEGRITY_DATA) \
	X(1806, INTEGRITY_EVM_XATTR) X(1803, INTEGRITY_HASH) X(1801, INTEGRITY_METADATA) \
	X(1804, INTEGRITY_PCR) X(1807, INTEGRITY_POLICY_RULE) X(1805, INTEGRITY_RULE) \
	X(1802, INTEGRITY_STATUS) X(1303, IPC) X(1311, IPC_SET_PERM) X(2000, KERNEL) \
	X(1316, KERNEL_OTHER) X(1330, KERN_MODULE) X(2304, LABEL_LEVEL_CHANGE) \
	X(2303, LABEL_OVERRIDE) X(1002, LIST) X(1013, LIST_RULES) X(1006, LOGIN) \
	X(1418, MAC_CALIPSO_ADD) X(1419, MAC_CALIPSO_DEL) X(1134, MAC_CHECK) \
	X(1407, MAC_CIPSOV4_ADD) X(1408, MAC_CIPSOV4_DEL) X(1405, MAC_CONFIG_CHANGE) \
	X(1411, MAC_IPSEC_ADDSA) X(1413, MAC_IPSEC_ADDSPD) X(1412, MAC_IPSEC_DELSA) \
	X(1414, MAC_IPSEC_DELSPD) X(1415, MAC_IPSEC_EVENT) X(1409, MAC_MAP_ADD) \
	X(1410, MAC_MAP_DEL) X(1421, MAC_OBJ_CONTEXTS) X(1403, MAC_POLICY_LOAD) \
	X(1404, MAC_STATUS) X(1420, MAC_TASK_CONTEXTS) X(1406, MAC_UNLBL_ALLOW) \
	X(1416, MAC_UNLBL_STCADD) X(1417, MAC_UNLBL_STCDEL) X(1015, MAKE_EQUIV) X(1323, MMAP) \
	X(1315, MQ_GETSETATTR) X(1314, MQ_NOTIFY) X(1312, MQ_OPEN) X(1313, MQ_SENDRECV) \
	X(1325, NETFILTER_CFG) X(1324, NETFILTER_PKT) X(1318, OBJ_PID) X(1337, OPENAT2) \
	X(1302, PATH) X(1327, PROCTITLE) X(1329, REPLACE) X(2207, RESP_ACCT_LOCK) \
	X(2205, RESP_ACCT_LOCK_TIMED) X(2204, RESP_ACCT_REMOTE) X(2206, RESP_ACCT_UNLOCK_TIMED) \
	X(2201, RESP_ALERT) X(2200, RESP_ANOMALY) X(2210, RESP_EXEC) X(2212, RESP_HALT) \
	X(2202, RESP_KILL_PROC) X(2213, RESP_ORIGIN_BLOCK) X(2214, RESP_ORIGIN_BLOCK_TIMED) \
	X(2215, RESP_ORIGIN_UNBLOCK_TIMED) X(2209, RESP_SEBOOL) X(2211, RESP_SINGLE) \
	X(2203, RESP_TERM_ACCESS) X(2208, RESP_TERM_LOCK) X(2301, ROLE_ASSIGN) \
	X(2311, ROLE_MODIFY) X(2302, ROLE_REMOVE) X(1326, SECCOMP) X(1401, SELINUX_ERR) \
	X(1130, SERVICE_START) X(1131, SERVICE_STOP) X(1001, SET) X(1018, SET_FEATURE) \
	X(1010, SIGNAL_INFO) X(1306, SOCKADDR) X(1304, SOCKETCALL) X(1138, SOFTWARE_UPDATE) \
	X(1300, SYSCALL) X(1127, SYSTEM_BOOT) X(1129, SYSTEM_RUNLEVEL) X(1128, SYSTEM_SHUTDOWN) \
	X(1120, TEST) X(1333, TIME_ADJNTPVAL) X(1332, TIME_INJOFFSET) X(1014, TRIM) \
	X(1121, TRUSTED_APP) X(1319, TTY) X(1016, TTY_GET) X(1017, TTY_SET) X(1336, URINGOP) \
	X(1005, USER) X(1101, USER_ACCT) X(1100, USER_AUTH) X(1107, USER_AVC) \
	X(1108, USER_CHAUTHTOK) X(1123, USER_CMD) X(1137, USER_DEVICE) X(1106, USER_END) \
	X(1109, USER_ERR) X(2305, USER_LABELED_EXPORT) X(1112, USER_LOGIN) X(1113, USER_LOGOUT) \
	X(2312, USER_MAC_CONFIG_CHANGE) X(2310, USER_MAC_POLICY_LOAD) X(2313, USER_MAC_STATUS) \
	X(1102, USER_MGMT) X(2300, USER_ROLE_CHANGE) X(1122, USER_SELINUX_ERR) \
	X(1105, USER_START) X(1124, USER_TTY) X(2306, USER_UNLABELED_EXPORT) \
	X(1111, USYS_CONFIG) X(2500, VIRT_CONTROL) X(2504, VIRT_CREATE) X(2505, VIRT_DESTROY) \
	X(2503, VIRT_INTEGRITY_CHECK) X(2502, VIRT_MACHINE_ID) X(2506, VIRT_MIGRATE_IN) \
	X(2507, VIRT_MIGRATE_OUT) X(2501, VIRT_RESOURCE) X(1007, WATCH_INS) X(1009, WATCH_LIST) \
	X(1008, WATCH_REM)

struct type_entry {
	const char *name;
	unsigned type;
};

#define X_BY_NAME(n, s) { #s, n },
static const struct type_entry types_by_name[] = { TYPES(X_BY_NAME) };
#define X_BY_NUM(n, s) [(n) - TYPE_BASE] = #s,
static const char *const types_by_num[] = { TYPES(X_BY_NUM) };

#define N_BY_NAME (sizeof(types_by_name) / sizeof(types_by_name[0]))
#define N_BY_NUM (sizeof(types_by_num) / sizeof(types_by_num[0]))

/* A record as allocated: the public part first, so a record pointer is a
 * pointer to this, then fields and strings in the same block. */
struct rec_priv {
	struct ht_audit_record pub;
	size_t size;			/* bytes of the block, for max_bytes */
	bool chunked;			/* EXECVE with aN[i] or aN_len: join at close */
};

/* ---- types ---------------------------------------------------------------- */

const char *
ht_audit_type_name(unsigned type)
{
	if (type < TYPE_BASE || type - TYPE_BASE >= N_BY_NUM)
		return NULL;
	return types_by_num[type - TYPE_BASE];
}

/* The entry of the n bytes at s, or NULL. */
static const struct type_entry *
type_by_name(const char *s, size_t n)
{
	size_t lo = 0, hi = N_BY_NAME;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *name = types_by_name[mid].name;
		int c = strncmp(name, s, n);

		if (c == 0 && name[n] != '\0')
			c = 1;
		if (c == 0)
			return &types_by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool
ht_audit_type_standalone(unsigned type)
{
	/* 0 is a name this table does not know, most likely a newer kernel
	 * record: waiting for its EOE (or the timeout) loses nothing. */
	if (type == 0)
		return false;
	if (type < 1300 || type == HT_AUDIT_CONFIG_CHANGE)
		return true;
	/* netlabel configuration, as auparse has it */
	if (type >= 1406 && type <= 1419)
		return true;
	return (type >= 1700 && type <= 1799) || type >= 2000;
}

/* ---- one record ------------------------------------------------------------- */

struct pctx {
	const char *line;		/* start of the input, for error offsets */
	unsigned type;
	struct rec_priv *rp;
	struct ht_audit_field *f;
	size_t nf, cap;
	char *out;			/* next free byte of the arena's strings */
	long ext;			/* the field a bare word would continue, or -1 */
	const char *ext_src;		/* where that field's value starts in the input */
	bool text;			/* the field "text" exists */
	size_t interp_at;		/* where the next interpretation's field is likely */
	const char *why;		/* -EINVAL: the reason, */
	const char *at;			/* and where */
};

static int
fail(struct pctx *c, const char *why, const char *at)
{
	c->why = why;
	c->at = at;
	return -EINVAL;
}

static inline bool
is_digit(char ch)
{
	return (unsigned char)(ch - '0') < 10;
}

static inline bool
is_alpha(char ch)
{
	return (unsigned char)((ch | 0x20) - 'a') < 26;
}

/* Characters of a field name: a0[1], old-auid, cap_fp, SADDR. */
static inline bool
is_name(char ch)
{
	return is_alpha(ch) || is_digit(ch) || ch == '_' || ch == '-' || ch == '[' || ch == ']';
}

/* The end of a value or word: a space, the ENRICHED separator, and inside
 * msg='...' its closing quote. */
static inline bool
is_stop(char ch, bool in_msg)
{
	return ch == ' ' || ch == GS || (in_msg && ch == '\'');
}

static inline int
hexval(char ch)
{
	if (is_digit(ch))
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Only upper case: the kernel's audit_log_n_hex writes upper case, while
 * lower case is what numbers (a0=7ffd...) and other fields look like. */
static bool
is_hex_upper(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || n % 2 != 0)
		return false;
	for (i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return false;
	return true;
}

#define NAME_IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, n) == 0)

/* Fields whose value audit may hex-encode (audit_log_untrustedstring and
 * auparse's AUPARSE_TYPE_ESCAPED), other than the EXECVE arguments. */
static bool
hex_name(const char *name, size_t n)
{
	switch (n) {
	case 2:
		return NAME_IS("sw") || NAME_IS("vm");
	case 3:
		return NAME_IS("exe") || NAME_IS("cwd") || NAME_IS("key") || NAME_IS("cmd") ||
		    NAME_IS("dir") || NAME_IS("grp");
	case 4:
		return NAME_IS("name") || NAME_IS("comm") || NAME_IS("data") ||
		    NAME_IS("path") || NAME_IS("file") || NAME_IS("acct");
	case 5:
		return NAME_IS("ocomm") || NAME_IS("watch");
	case 6:
		return NAME_IS("device") || NAME_IS("cgroup") || NAME_IS("old-fs") ||
		    NAME_IS("new-fs");
	case 7:
		return NAME_IS("profile") || NAME_IS("old-net") || NAME_IS("new-net") ||
		    NAME_IS("old-rng") || NAME_IS("new-rng");
	case 8:
		return NAME_IS("root_dir") || NAME_IS("old-disk") || NAME_IS("new-disk");
	case 9:
		return NAME_IS("proctitle") || NAME_IS("new_group");
	case 11:
		return NAME_IS("old-chardev") || NAME_IS("new-chardev");
	case 15:
		return NAME_IS("invalid_context");
	}
	return false;
}

/* EXECVE's a0, a12 (an argument) and a12[3] (a chunk of one): 1, 2; else 0. */
static int
execve_arg(const char *name, size_t n)
{
	size_t i = 1, d;

	if (n < 2 || name[0] != 'a' || !is_digit(name[1]))
		return 0;
	while (i < n && is_digit(name[i]))
		i++;
	if (i == n)
		return 1;
	if (name[i] != '[')
		return 0;
	d = ++i;
	while (i < n && is_digit(name[i]))
		i++;
	return i > d && i == n - 1 && name[i] == ']' ? 2 : 0;
}

/* Copy n bytes to the arena, NUL-terminated. */
static char *
put(struct pctx *c, const char *s, size_t n)
{
	char *d = c->out;

	memcpy(d, s, n);
	d[n] = '\0';
	c->out += n + 1;
	return d;
}

/* Decode n hex digits (checked by is_hex_upper) into the arena; proctitle's
 * NUL separators become spaces, its trailing ones go. */
static size_t
put_unhex(struct pctx *c, const char *s, size_t n, bool proctitle, const char **ret)
{
	char *d = c->out;
	size_t i, len = n / 2;

	for (i = 0; i < len; i++)
		d[i] = (char)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
	if (proctitle) {
		while (len > 0 && d[len - 1] == '\0')
			len--;
		for (i = 0; i < len; i++)
			if (d[i] == '\0')
				d[i] = ' ';
	}
	d[len] = '\0';
	c->out += len + 1;
	*ret = d;
	return len;
}

static struct ht_audit_field *
new_field(struct pctx *c, const char *at)
{
	struct ht_audit_field *f;

	if (c->nf == c->cap) {
		fail(c, "too many fields", at);
		return NULL;
	}
	f = &c->f[c->nf++];
	f->interp = NULL;
	f->hex = false;
	return f;
}

/* name=value, value still raw: quoted says it was in quotes (now gone). */
static int
add_field(struct pctx *c, const char *name, size_t n, const char *v, size_t vlen, bool quoted)
{
	struct ht_audit_field *f = new_field(c, name);
	bool hexable;
	int arg = 0;

	if (f == NULL)
		return -EINVAL;
	f->name = put(c, name, n);
	if (c->type == HT_AUDIT_EXECVE) {
		arg = execve_arg(name, n);
		if (arg == 2 || (n > 5 && name[0] == 'a' && memcmp(name + n - 4, "_len", 4) == 0))
			c->rp->chunked = true;
	}
	hexable = !quoted && (arg != 0 || hex_name(name, n)) && is_hex_upper(v, vlen);
	if (hexable) {
		f->hex = true;
		f->len = put_unhex(c, v, vlen, NAME_IS("proctitle"), &f->value);
		c->ext = -1;
		return 0;
	}
	f->value = put(c, v, vlen);
	f->len = vlen;
	c->ext = quoted ? -1 : (long)(c->nf - 1);
	c->ext_src = v;
	return 0;
}

/* A word without "=" from w to e: it continues the unquoted value before it,
 * or starts the field "text" if there is none yet, else it is dropped. */
static int
bare_word(struct pctx *c, const char *w, const char *e)
{
	struct ht_audit_field *f;
	char *v;

	if (c->ext >= 0) {
		/* the value is the last string in the arena: copy it again,
		 * longer, from its start in the input */
		f = &c->f[c->ext];
		v = (char *)f->value;
		c->out = v;
		f->len = (size_t)(e - c->ext_src);
		f->value = put(c, c->ext_src, f->len);
		return 0;
	}
	if (c->text)
		return 0;
	f = new_field(c, w);
	if (f == NULL)
		return -EINVAL;
	c->text = true;
	f->name = "text";
	f->len = (size_t)(e - w);
	f->value = put(c, w, f->len);
	c->ext = (long)(c->nf - 1);
	c->ext_src = w;
	return 0;
}

/* Same name, ASCII case folded: AUID matches auid. */
static bool
name_eq_fold(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((a[i] | 0x20) != (b[i] | 0x20) || a[i] == '\0')
			return false;
	return a[n] == '\0';
}

/* NAME=interp after the separator: to the first field of that name without
 * one.  auditd appends them in field order, so the search starts after the
 * last match and is one step in the usual case. */
static int
add_interp(struct pctx *c, const char *name, size_t n, const char *v, size_t vlen)
{
	struct ht_audit_field *f;
	size_t i, k;

	for (k = 0; k < c->nf; k++) {
		i = (c->interp_at + k) % c->nf;
		f = &c->f[i];
		if (f->interp == NULL && name_eq_fold(f->name, name, n)) {
			f->interp = put(c, v, vlen);
			c->interp_at = i + 1;
			return 0;
		}
	}
	f = new_field(c, name);
	if (f == NULL)
		return -EINVAL;
	f->name = put(c, name, n);
	f->value = put(c, v, vlen);
	f->len = vlen;
	f->interp = f->value;
	return 0;
}

/* The ENRICHED part: NAME="x", NAME={ a=b c=d } or NAME=x, space-separated. */
static int
parse_interps(struct pctx *c, const char *p, const char *end)
{
	const char *name, *v, *q;
	size_t n;
	int r;

	while (p < end) {
		if (*p == ' ' || *p == GS) {
			p++;
			continue;
		}
		name = p;
		while (p < end && is_name(*p))
			p++;
		if (p == name || p == end || *p != '=') {
			while (p < end && !is_stop(*p, false))
				p++;
			continue;
		}
		n = (size_t)(p - name);
		p++;
		if (p < end && (*p == '"' || *p == '{')) {
			q = memchr(p + 1, *p == '"' ? '"' : '}', (size_t)(end - p - 1));
			if (q == NULL)
				return fail(c, "unterminated interpretation", p);
			v = p + 1;
			p = q + 1;
			/* SADDR={ fam=inet laddr=10.0.0.1 lport=22 }: the inside */
			while (v < q && *v == ' ')
				v++;
			while (q > v && q[-1] == ' ')
				q--;
		} else {
			v = p;
			while (p < end && !is_stop(*p, false))
				p++;
			q = p;
		}
		r = add_interp(c, name, n, v, (size_t)(q - v));
		if (r < 0)
			return r;
	}
	return 0;
}

/* One name=value of the body at *pp (name already read up to the '=').
 * A msg='...' opens the nested list instead: *in_msg. */
static int
parse_value(struct pctx *c, const char *name, size_t n, const char **pp, const char *end,
    bool *in_msg)
{
	const char *p = *pp, *v, *q;
	bool quoted = false;
	int r;

	if (p < end && *p == '\'' && !*in_msg && n == 3 && memcmp(name, "msg", 3) == 0) {
		*in_msg = true;
		c->ext = -1;
		*pp = p + 1;
		return 0;
	}
	if (p < end && (*p == '"' || (*p == '\'' && !*in_msg))) {
		q = memchr(p + 1, *p, (size_t)(end - p - 1));
		if (q == NULL)
			return fail(c, *p == '"' ? "unterminated \"" : "unterminated '", p);
		v = p + 1;
		p = q + 1;
		quoted = true;
	} else {
		v = p;
		while (p < end && !is_stop(*p, *in_msg))
			p++;
		q = p;
	}
	r = add_field(c, name, n, v, (size_t)(q - v), quoted);
	*pp = p;
	return r;
}

/* The fields after "audit(...): ", up to the end or the ENRICHED part. */
static int
parse_body(struct pctx *c, const char *p, const char *end)
{
	const char *t, *msg = NULL;
	bool in_msg = false;
	int r;

	while (p < end) {
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == GS)
			break;
		if (in_msg && *p == '\'') {
			in_msg = false;
			c->ext = -1;
			p++;
			continue;
		}
		t = p;
		while (p < end && is_name(*p))
			p++;
		if (p > t && p < end && *p == '=' && is_alpha(*t)) {
			if (!in_msg)
				msg = p + 1;
			p++;
			r = parse_value(c, t, (size_t)(p - 1 - t), &p, end, &in_msg);
		} else {
			while (p < end && !is_stop(*p, in_msg))
				p++;
			r = bare_word(c, t, p);
		}
		if (r < 0)
			return r;
	}
	if (in_msg)
		return fail(c, "unterminated msg='", msg);
	if (p < end)
		return parse_interps(c, p + 1, end);
	return 0;
}

/* The decimal number at *pp, at most max. */
static bool
parse_u64(const char **pp, const char *end, uint64_t max, uint64_t *ret)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p == end || !is_digit(*p))
		return false;
	for (; p < end && is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*pp = p;
	*ret = v;
	return true;
}

struct header {
	const char *node;
	size_t node_len;
	unsigned type;
	const char *type_name;		/* static, or NULL: copy tn/tn_len */
	const char *tn;
	size_t tn_len;
	int64_t time_ms;
	uint64_t serial;
	const char *body;
};

/* "audit(SECONDS.MMM:SERIAL):" at p (after the "audit(" prefix check). */
static int
parse_stamp(struct pctx *c, const char *p, const char *end, struct header *h)
{
	const char *at = p;
	uint64_t sec, ms, serial;

	if (!parse_u64(&p, end, (uint64_t)INT64_MAX / 1000 - 1, &sec) || p == end || *p != '.')
		return fail(c, "bad audit(TIME:SERIAL)", at);
	p++;
	if (end - p < 3 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
		return fail(c, "bad audit(TIME:SERIAL)", at);
	ms = (uint64_t)(p[0] - '0') * 100 + (uint64_t)(p[1] - '0') * 10 + (uint64_t)(p[2] - '0');
	p += 3;
	if (p == end || *p != ':')
		return fail(c, "bad audit(TIME:SERIAL)", at);
	p++;
	if (!parse_u64(&p, end, UINT64_MAX, &serial) || end - p < 2 || p[0] != ')' ||
	    p[1] != ':')
		return fail(c, "bad audit(TIME:SERIAL)", at);
	p += 2;
	while (p < end && *p == ' ')
		p++;
	h->time_ms = (int64_t)(sec * 1000 + ms);
	h->serial = serial;
	h->body = p;
	return 0;
}

static bool
has_prefix(const char *p, const char *end, const char *lit, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

#define PREFIX(p, end, lit) has_prefix(p, end, lit, sizeof(lit) - 1)

/* type=NAME or type=UNKNOWN[N] at p. */
static int
parse_type(struct pctx *c, const char **pp, const char *end, struct header *h)
{
	const char *p = *pp, *name = p;
	const struct type_entry *te;
	uint64_t n;

	while (p < end && (is_alpha(*p) || is_digit(*p) || *p == '_'))
		p++;
	if (p == name)
		return fail(c, "bad type", name);
	h->tn = name;
	if (p < end && *p == '[' && p - name == 7 && memcmp(name, "UNKNOWN", 7) == 0) {
		p++;
		if (!parse_u64(&p, end, UINT32_MAX, &n) || p == end || *p != ']')
			return fail(c, "bad type", name);
		p++;
		h->type = (unsigned)n;
	} else if ((te = type_by_name(name, (size_t)(p - name))) != NULL) {
		h->type = te->type;
		h->type_name = te->name;
	}
	h->tn_len = (size_t)(p - name);
	*pp = p;
	return 0;
}

/* [node=NAME ]type=NAME msg=audit(...): of an audit.log line. */
static int
parse_line_header(struct pctx *c, const char *p, const char *end, struct header *h)
{
	const char *q;
	int r;

	while (p < end && *p == ' ')
		p++;
	if (p == end)
		return fail(c, "empty line", p);
	if (PREFIX(p, end, "node=")) {
		p += 5;
		q = p;
		while (p < end && *p != ' ')
			p++;
		h->node = q;
		h->node_len = (size_t)(p - q);
		while (p < end && *p == ' ')
			p++;
	}
	if (!PREFIX(p, end, "type="))
		return fail(c, "expected type=", p);
	p += 5;
	r = parse_type(c, &p, end, h);
	if (r < 0)
		return r;
	if (p == end || *p != ' ')
		return fail(c, "bad type", h->tn);
	while (p < end && *p == ' ')
		p++;
	if (!PREFIX(p, end, "msg=audit("))
		return fail(c, "expected msg=audit(", p);
	return parse_stamp(c, p + 10, end, h);
}

/* Upper bound on the fields of the body: one per '=', plus "text". */
static size_t
count_fields(const char *p, const char *end)
{
	size_t n = 1;

	while (p < end && (p = memchr(p, '=', (size_t)(end - p))) != NULL) {
		n++;
		p++;
		if (n > HT_AUDIT_FIELDS_MAX)
			break;
	}
	return n;
}

/* The record of header h and the body up to end, in one allocation. */
static int
build_record(struct pctx *c, const struct header *h, const char *end, size_t len,
    struct ht_audit_record **ret)
{
	struct ht_audit_record *r;
	size_t cap, size;
	char num[32];
	int e;

	cap = count_fields(h->body, end);
	if (cap > HT_AUDIT_FIELDS_MAX)
		cap = HT_AUDIT_FIELDS_MAX;
	/* every string is a span of the input plus a NUL: name, value,
	 * interp per field, node, type name; num covers UNKNOWN[N] */
	size = sizeof(*c->rp) + cap * sizeof(struct ht_audit_field) + len + 3 * cap +
	    sizeof(num) + 2;
	c->rp = malloc(size);
	if (c->rp == NULL)
		return -ENOMEM;
	c->rp->size = size;
	c->rp->chunked = false;
	r = &c->rp->pub;
	c->f = (struct ht_audit_field *)(c->rp + 1);
	c->cap = cap;
	c->out = (char *)(c->f + cap);
	c->ext = -1;
	r->type = h->type;
	r->time_ms = h->time_ms;
	r->serial = h->serial;
	r->tag = 0;
	r->node = h->node != NULL ? put(c, h->node, h->node_len) : NULL;
	if (h->type_name != NULL) {
		r->type_name = h->type_name;
	} else if (h->tn != NULL) {
		r->type_name = put(c, h->tn, h->tn_len);
	} else {
		e = snprintf(num, sizeof(num), "UNKNOWN[%u]", h->type);
		r->type_name = put(c, num, (size_t)e);
	}
	c->type = h->type;
	e = parse_body(c, h->body, end);
	if (e < 0) {
		free(c->rp);
		return e;
	}
	r->fields = c->f;
	r->n_fields = c->nf;
	*ret = r;
	return 0;
}

static void
set_error(const struct pctx *c, char *errbuf, size_t errlen)
{
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "%s at byte %zu", c->why, (size_t)(c->at - c->line));
}

int
ht_audit_parse_line(const char *line, size_t len, struct ht_audit_record **ret,
    char *errbuf, size_t errlen)
{
	struct pctx c = { .line = line };
	struct header h = { 0 };
	const char *end;
	int r;

	if (len > HT_AUDIT_LINE_MAX) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "line of %zu bytes, more than %d", len,
			    HT_AUDIT_LINE_MAX);
		return -E2BIG;
	}
	end = line + len;
	if (end > line && end[-1] == '\n')
		end--;
	if (end > line && end[-1] == '\r')
		end--;
	r = parse_line_header(&c, line, end, &h);
	if (r == 0)
		r = build_record(&c, &h, end, len, ret);
	if (r == -EINVAL)
		set_error(&c, errbuf, errlen);
	return r;
}

int
ht_audit_parse_netlink(unsigned type, const char *payload, size_t len,
    struct ht_audit_record **ret, char *errbuf, size_t errlen)
{
	struct pctx c = { .line = payload };
	struct header h = { 0 };
	const char *end;
	int r;

	if (len > HT_AUDIT_LINE_MAX) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "message of %zu bytes, more than %d", len,
			    HT_AUDIT_LINE_MAX);
		return -E2BIG;
	}
	end = payload + len;
	while (end > payload && (end[-1] == '\0' || end[-1] == '\n'))
		end--;
	h.type = type;
	h.type_name = ht_audit_type_name(type);
	if (!PREFIX(payload, end, "audit("))
		r = fail(&c, "expected audit(", payload);
	else
		r = parse_stamp(&c, payload + 6, end, &h);
	if (r == 0)
		r = build_record(&c, &h, end, len, ret);
	if (r == -EINVAL)
		set_error(&c, errbuf, errlen);
	return r;
}

void
ht_audit_record_free(struct ht_audit_record *r)
{
	free(r);
}

const struct ht_audit_field *
ht_audit_field(const struct ht_audit_record *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_fields; i++)
		if (r->fields[i].name[0] == name[0] && strcmp(r->fields[i].name, name) == 0)
			return &r->fields[i];
	return NULL;
}

/* ---- events ----------------------------------------------------------------- */

struct asm_event {
	struct ht_audit_event pub;	/* first: ht_audit_event_free frees this block */
	struct asm_event *hnext;	/* hash chain */
	struct asm_event *prev, *next;	/* by last activity, idlest first */
	int64_t last_ms;
	size_t cap;			/* of pub.records */
	size_t bytes;			/* of its records */
	uint32_t node_hash;
	bool merge;			/* EXECVE records to join at close */
	bool has_execve;
	struct ht_audit_record *inl[EV_INLINE];
};

struct recent {
	int64_t time_ms;
	uint64_t serial;
	uint32_t node_hash;
	bool used;
};

struct ht_audit_asm {
	struct ht_audit_asm_conf conf;
	ht_audit_event_fn fn;
	void *arg;
	struct asm_event **buckets;
	size_t mask;			/* buckets - 1, a power of two minus one */
	struct asm_event *head, *tail;
	size_t n_open;
	struct recent recent[RECENT];
	unsigned recent_pos;
	struct ht_audit_asm_stats stats;
};

const struct ht_audit_record *
ht_audit_event_record(const struct ht_audit_event *e, unsigned type)
{
	size_t i;

	for (i = 0; i < e->n_records; i++)
		if (e->records[i]->type == type)
			return e->records[i];
	return NULL;
}

void
ht_audit_event_free(struct ht_audit_event *e)
{
	struct asm_event *ev = (struct asm_event *)e;
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n_records; i++)
		ht_audit_record_free(e->records[i]);
	if (e->records != ev->inl)
		free(e->records);
	free(ev);
}

/* FNV-1a of the node name, 0 for none: part of the event key. */
static uint32_t
node_hash(const char *node)
{
	return node != NULL ? ht_fnv1a32_str(node) | 1 : 0;
}

static size_t
bucket(const struct ht_audit_asm *a, uint64_t serial)
{
	return (size_t)((serial * 0x9E3779B97F4A7C15ull) >> 32) & a->mask;
}

static bool
same_key(const struct asm_event *ev, const struct ht_audit_record *r, uint32_t nh)
{
	const char *n = ev->pub.node;

	return ev->pub.serial == r->serial && ev->pub.time_ms == r->time_ms &&
	    ev->node_hash == nh && (n == r->node || (n != NULL && r->node != NULL &&
	    strcmp(n, r->node) == 0));
}

static struct asm_event *
lookup(const struct ht_audit_asm *a, const struct ht_audit_record *r, uint32_t nh)
{
	struct asm_event *ev;

	for (ev = a->buckets[bucket(a, r->serial)]; ev != NULL; ev = ev->hnext)
		if (same_key(ev, r, nh))
			return ev;
	return NULL;
}

static void
lru_unlink(struct ht_audit_asm *a, struct asm_event *ev)
{
	if (ev->prev != NULL)
		ev->prev->next = ev->next;
	else
		a->head = ev->next;
	if (ev->next != NULL)
		ev->next->prev = ev->prev;
	else
		a->tail = ev->prev;
	ev->prev = ev->next = NULL;
}

static void
lru_append(struct ht_audit_asm *a, struct asm_event *ev)
{
	ev->prev = a->tail;
	ev->next = NULL;
	if (a->tail != NULL)
		a->tail->next = ev;
	else
		a->head = ev;
	a->tail = ev;
}

static void
hash_unlink(struct ht_audit_asm *a, struct asm_event *ev)
{
	struct asm_event **pp = &a->buckets[bucket(a, ev->pub.serial)];

	while (*pp != NULL && *pp != ev)
		pp = &(*pp)->hnext;
	if (*pp != NULL)
		*pp = ev->hnext;
	ev->hnext = NULL;
}

static bool
recent_has(const struct ht_audit_asm *a, const struct ht_audit_record *r, uint32_t nh)
{
	const struct recent *s;
	unsigned i;

	for (i = 0; i < RECENT; i++) {
		s = &a->recent[i];
		if (s->used && s->serial == r->serial && s->time_ms == r->time_ms &&
		    s->node_hash == nh)
			return true;
	}
	return false;
}

static void
recent_add(struct ht_audit_asm *a, const struct ht_audit_record *r, uint32_t nh)
{
	struct recent *s = &a->recent[a->recent_pos++ % RECENT];

	s->serial = r->serial;
	s->time_ms = r->time_ms;
	s->node_hash = nh;
	s->used = true;
}

static struct asm_event *
event_new(const struct ht_audit_record *r, uint32_t nh)
{
	struct asm_event *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return NULL;
	ev->pub.time_ms = r->time_ms;
	ev->pub.serial = r->serial;
	ev->pub.node = r->node;
	ev->pub.records = ev->inl;
	ev->pub.first_tag = UINT64_MAX;
	ev->cap = EV_INLINE;
	ev->node_hash = nh;
	return ev;
}

/* Append r to ev, which owns it from then on.  0 or -ENOMEM (r not taken). */
static int
event_add(struct asm_event *ev, struct ht_audit_record *r)
{
	struct ht_audit_record **n;
	size_t cap;

	if (ev->pub.n_records == ev->cap) {
		cap = ev->cap * 2;
		if (ev->pub.records == ev->inl) {
			n = malloc(cap * sizeof(*n));
			if (n != NULL)
				memcpy(n, ev->inl, sizeof(ev->inl));
		} else {
			n = realloc(ev->pub.records, cap * sizeof(*n));
		}
		if (n == NULL)
			return -ENOMEM;
		ev->pub.records = n;
		ev->cap = cap;
	}
	ev->pub.records[ev->pub.n_records++] = r;
	if (r->tag < ev->pub.first_tag)
		ev->pub.first_tag = r->tag;
	ev->bytes += ((struct rec_priv *)r)->size;
	if (r->type == HT_AUDIT_EXECVE) {
		if (ev->has_execve || ((struct rec_priv *)r)->chunked)
			ev->merge = true;
		ev->has_execve = true;
	}
	return 0;
}

/* ---- EXECVE chunks ---------------------------------------------------------- */

/* Is f the aN_len of an EXECVE record? */
static bool
is_arg_len(const struct ht_audit_field *f)
{
	size_t n = strlen(f->name);

	return n > 5 && f->name[0] == 'a' && strcmp(f->name + n - 4, "_len") == 0 &&
	    execve_arg(f->name, n - 4) == 1;
}

/* Bytes and fields of the joined record, an upper bound. */
static size_t
merge_size(const struct asm_event *ev, size_t *ret_nf)
{
	const struct ht_audit_record *r;
	size_t i, k, bytes = 0, nf = 0;

	for (i = 0; i < ev->pub.n_records; i++) {
		r = ev->pub.records[i];
		if (r->type != HT_AUDIT_EXECVE)
			continue;
		nf += r->n_fields;
		for (k = 0; k < r->n_fields; k++) {
			const struct ht_audit_field *f = &r->fields[k];

			bytes += strlen(f->name) + f->len + 2;
			if (f->interp != NULL)
				bytes += strlen(f->interp) + 1;
		}
		bytes += strlen(r->type_name) + 1;
		if (r->node != NULL)
			bytes += strlen(r->node) + 1;
	}
	*ret_nf = nf;
	return bytes;
}

/* Copy field f of an EXECVE record into the joined one, appending a chunk
 * aN[i] to the aN before it.  *chunk_of: the field the last chunk went to. */
static void
merge_field(struct pctx *c, const struct ht_audit_field *f, struct ht_audit_field **chunk_of)
{
	struct ht_audit_field *d = *chunk_of;
	size_t n = strlen(f->name);
	const char *br;

	if (is_arg_len(f))
		return;
	if (execve_arg(f->name, n) == 2) {
		br = strchr(f->name, '[');
		if (d != NULL && strlen(d->name) == (size_t)(br - f->name) &&
		    memcmp(d->name, f->name, (size_t)(br - f->name)) == 0) {
			/* d->value is the last string written: grow it in place */
			memcpy((char *)d->value + d->len, f->value, f->len);
			d->len += f->len;
			((char *)d->value)[d->len] = '\0';
			c->out = (char *)d->value + d->len + 1;
			d->hex = d->hex || f->hex;
			return;
		}
		n = (size_t)(br - f->name);
	}
	d = &c->f[c->nf++];
	d->name = put(c, f->name, n);
	d->value = put(c, f->value, f->len);
	d->len = f->len;
	d->hex = f->hex;
	d->interp = f->interp != NULL ? put(c, f->interp, strlen(f->interp)) : NULL;
	/* a chunk grows only while its value is the last string written */
	*chunk_of = execve_arg(f->name, strlen(f->name)) == 2 && d->interp == NULL ? d : NULL;
}


/* Join the EXECVE records of ev into one, in place of the first.  On -ENOMEM
 * ev is left as it was: the chunks still say everything. */
static int
merge_execve(struct asm_event *ev)
{
	struct ht_audit_field *chunk_of = NULL;
	struct ht_audit_record *r, *first = NULL, *m;
	struct pctx c = { 0 };
	uint64_t tag = UINT64_MAX;
	size_t i, k, nf, size, n = 0;

	size = merge_size(ev, &nf);
	size += sizeof(struct rec_priv) + nf * sizeof(struct ht_audit_field);
	c.rp = malloc(size);
	if (c.rp == NULL)
		return -ENOMEM;
	c.f = (struct ht_audit_field *)(c.rp + 1);
	c.cap = nf;
	c.out = (char *)(c.f + nf);
	for (i = 0; i < ev->pub.n_records; i++) {
		r = ev->pub.records[i];
		if (r->type != HT_AUDIT_EXECVE)
			continue;
		if (first == NULL)
			first = r;
		if (r->tag < tag)
			tag = r->tag;
		for (k = 0; k < r->n_fields; k++)
			merge_field(&c, &r->fields[k], &chunk_of);
	}
	m = &c.rp->pub;
	*m = *first;
	m->type_name = put(&c, first->type_name, strlen(first->type_name));
	m->node = first->node != NULL ? put(&c, first->node, strlen(first->node)) : NULL;
	m->fields = c.f;
	m->n_fields = c.nf;
	m->tag = tag;
	c.rp->size = size;
	c.rp->chunked = false;
	for (i = 0; i < ev->pub.n_records; i++) {
		r = ev->pub.records[i];
		if (r->type != HT_AUDIT_EXECVE) {
			ev->pub.records[n++] = r;
			continue;
		}
		if (r == first)
			ev->pub.records[n++] = m;
		ev->bytes -= ((struct rec_priv *)r)->size;
		ht_audit_record_free(r);
	}
	ev->pub.n_records = n;
	ev->bytes += size;
	ev->pub.node = ev->pub.records[0]->node;
	return 0;
}

/* ---- the assembler ---------------------------------------------------------- */

int
ht_audit_asm_new(const struct ht_audit_asm_conf *conf, ht_audit_event_fn fn, void *arg,
    struct ht_audit_asm **ret)
{
	struct ht_audit_asm *a;
	size_t n = 16;

	if (fn == NULL)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	if (conf != NULL)
		a->conf = *conf;
	if (a->conf.timeout_ms == 0)
		a->conf.timeout_ms = DEF_TIMEOUT_MS;
	if (a->conf.max_records == 0)
		a->conf.max_records = DEF_MAX_RECORDS;
	if (a->conf.max_open == 0)
		a->conf.max_open = DEF_MAX_OPEN;
	if (a->conf.max_bytes == 0)
		a->conf.max_bytes = DEF_MAX_BYTES;
	/* chains of about one event at max_open; capped so a huge max_open
	 * does not cost memory up front */
	while (n < a->conf.max_open && n < (1u << 20))
		n *= 2;
	a->buckets = calloc(n, sizeof(*a->buckets));
	if (a->buckets == NULL) {
		free(a);
		return -ENOMEM;
	}
	a->mask = n - 1;
	a->fn = fn;
	a->arg = arg;
	*ret = a;
	return 0;
}

/* Hand ev to the callback (it may no longer be open). */
static void
emit(struct ht_audit_asm *a, struct asm_event *ev, bool complete)
{
	if (ev->merge)
		(void)merge_execve(ev);
	ev->pub.complete = complete;
	a->stats.events++;
	if (!complete)
		a->stats.incomplete++;
	a->fn(&ev->pub, a->arg);
}

/* Close an open event. */
static void
close_event(struct ht_audit_asm *a, struct asm_event *ev, bool complete)
{
	hash_unlink(a, ev);
	lru_unlink(a, ev);
	a->n_open--;
	a->stats.bytes -= ev->bytes;
	emit(a, ev, complete);
}

/* A standalone record: an event of its own, emitted now. */
static int
feed_standalone(struct ht_audit_asm *a, struct ht_audit_record *r, uint32_t nh)
{
	struct asm_event *ev = event_new(r, nh);

	if (ev == NULL) {
		ht_audit_record_free(r);
		return -ENOMEM;
	}
	(void)event_add(ev, r);		/* fits inline */
	recent_add(a, r, nh);
	emit(a, ev, true);
	return 0;
}

/* The open event of r's key, created (evicting the idlest if at max_open). */
static struct asm_event *
open_event(struct ht_audit_asm *a, const struct ht_audit_record *r, uint32_t nh)
{
	struct asm_event *ev = lookup(a, r, nh);
	size_t b;

	if (ev != NULL)
		return ev;
	ev = event_new(r, nh);
	if (ev == NULL)
		return NULL;
	if (a->n_open >= a->conf.max_open)
		close_event(a, a->head, false);
	ev->pub.trailer = recent_has(a, r, nh);
	b = bucket(a, r->serial);
	ev->hnext = a->buckets[b];
	a->buckets[b] = ev;
	lru_append(a, ev);
	a->n_open++;
	return ev;
}

int
ht_audit_asm_feed(struct ht_audit_asm *a, struct ht_audit_record *r, int64_t now_ms)
{
	struct asm_event *ev;
	uint32_t nh;

	if (r == NULL)
		return -EINVAL;
	a->stats.records++;
	nh = node_hash(r->node);
	if (r->type == HT_AUDIT_EOE) {
		ev = lookup(a, r, nh);
		if (ev != NULL)
			close_event(a, ev, true);
		else
			a->stats.orphans++;
		ht_audit_record_free(r);
		return 0;
	}
	if (ht_audit_type_standalone(r->type))
		return feed_standalone(a, r, nh);
	ev = open_event(a, r, nh);
	if (ev == NULL || event_add(ev, r) < 0) {
		/* an event left empty by a failed add goes with its record */
		if (ev != NULL && ev->pub.n_records == 0) {
			hash_unlink(a, ev);
			lru_unlink(a, ev);
			a->n_open--;
			ht_audit_event_free(&ev->pub);
		}
		ht_audit_record_free(r);
		return -ENOMEM;
	}
	a->stats.bytes += ((struct rec_priv *)r)->size;
	ev->last_ms = now_ms;
	if (a->tail != ev) {
		lru_unlink(a, ev);
		lru_append(a, ev);
	}
	if (ev->pub.n_records >= a->conf.max_records) {
		close_event(a, ev, false);
		return 0;
	}
	while (a->stats.bytes > a->conf.max_bytes && a->head != NULL)
		close_event(a, a->head, false);
	return 0;
}

void
ht_audit_asm_tick(struct ht_audit_asm *a, int64_t now_ms)
{
	/* idle = now - last, in any order of the clock: a clock that went
	 * back leaves events open rather than closing them early */
	while (a->head != NULL && now_ms >= a->head->last_ms &&
	    (uint64_t)(now_ms - a->head->last_ms) >= a->conf.timeout_ms)
		close_event(a, a->head, false);
}

void
ht_audit_asm_flush(struct ht_audit_asm *a)
{
	while (a->head != NULL)
		close_event(a, a->head, false);
}

uint64_t
ht_audit_asm_low_tag(const struct ht_audit_asm *a)
{
	const struct asm_event *ev;
	uint64_t low = UINT64_MAX;

	for (ev = a->head; ev != NULL; ev = ev->next)
		if (ev->pub.first_tag < low)
			low = ev->pub.first_tag;
	return low;
}

void
ht_audit_asm_stats(const struct ht_audit_asm *a, struct ht_audit_asm_stats *ret)
{
	*ret = a->stats;
	ret->open = (unsigned)a->n_open;
}

void
ht_audit_asm_free(struct ht_audit_asm *a)
{
	struct asm_event *ev, *next;

	if (a == NULL)
		return;
	for (ev = a->head; ev != NULL; ev = next) {
		next = ev->next;
		ht_audit_event_free(&ev->pub);
	}
	free(a->buckets);
	free(a);
}
