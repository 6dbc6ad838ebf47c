/*
 * audit_ctl.c - audit rules compiled with libaudit, the kernel's audit
 * status, and the unicast takeover with its state file.
 *
 * Rules.  A line is copied once and split into words in place; the options
 * are read left to right like auditctl's getopt loop, each handled by one
 * helper that feeds libaudit's builders.  What auditctl checks itself
 * (list before field, arch before -S, -S only on exit, keys joined with
 * 0x01) is checked here with our own messages; what libaudit checks comes
 * back as its negative codes, mapped to our words in lib_reason.  libaudit
 * splits "-F name<op>value" at the first of its operators it finds anywhere
 * in the pair, so a value holding an operator would be split in the wrong
 * place: such pairs are refused rather than silently misread.  Its builders
 * also keep per-rule state in globals (the arch chosen by -F arch=, whether
 * a syscall, perm or exe field was added: -k depends on it), which auditctl
 * resets before every rule and so does rule_compile.
 *
 * The list owns, per rule, the compiled struct audit_rule_data (with flags
 * and action set, as sent to the kernel), its size, the trimmed text and the
 * origin.  A watch remembers that it is one: whether its path was a
 * directory (AUDIT_DIR) or not (AUDIT_WATCH) was decided by stat() when it
 * was compiled, and deleting it after the path changed kind must try the
 * other type.
 *
 * Takeover.  Every request but the pid goes through a control socket of our
 * own, so the acks libaudit waits for never mix with events.  The state file
 * is written before the first change and lists the rules about to be added;
 * a crash from then on leaves enough to undo everything at the next start.
 * The one window: a rule the kernel already had (EEXIST) is listed until the
 * file is rewritten after the adds, so a crash just then would delete it at
 * recovery.  Restoring and undoing share give_back, which tries every step
 * and keeps the first error.
 */
#include "ht_build.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libaudit.h>

#include "fileio.h"
#include "util.h"
#include "audit_ctl.h"

/* libaudit's rule-building state: exported, but declared only in its
 * private header.  auditctl clears them before each rule; so do we. */
extern unsigned int _audit_elf;
extern int _audit_syscalladded, _audit_permadded, _audit_archadded, _audit_exeadded,
    _audit_filterfsadded;

#define BLANKS " \t\r\n\v\f"
#define SYSCALL_MAX (AUDIT_BITMASK_SIZE * 32)	/* syscall numbers the mask holds */
#define STATE_VERSION 1
#define PERM_ALL (AUDIT_PERM_READ | AUDIT_PERM_WRITE | AUDIT_PERM_EXEC | AUDIT_PERM_ATTR)

struct rule {
	struct audit_rule_data *data;
	size_t size;			/* sizeof(*data) + data->buflen */
	char *text;
	char *origin;
	bool watch;			/* -w: fields[0] is AUDIT_DIR or AUDIT_WATCH by stat() */
};

struct ht_audit_rules {
	struct rule *v;
	size_t n, cap;
};

struct ht_audit_takeover {
	char *state_path;
	struct ht_audit_status saved;	/* enabled, failure, backlog_limit, rate_limit */
	struct ht_audit_rules *added;	/* copies, in the order they were added */
	size_t present;			/* rules the kernel already had */
};

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static void
quiet_init(void)
{
	set_aumessage_mode(MSG_QUIET, DBG_NO);
}

/* libaudit prints to stderr by default; nothing here may print. */
static void
quiet(void)
{
	pthread_once(&quiet_once, quiet_init);
}

/* ---- the rule list ---------------------------------------------------------- */

static void
rule_clear(struct rule *r)
{
	audit_rule_free_data(r->data);
	free(r->text);
	free(r->origin);
	memset(r, 0, sizeof(*r));
}

int
ht_audit_rules_new(struct ht_audit_rules **ret)
{
	struct ht_audit_rules *rs = calloc(1, sizeof(*rs));

	if (rs == NULL)
		return -ENOMEM;
	quiet();
	*ret = rs;
	return 0;
}

/* Append r, taken over (cleared) on success. */
static int
rules_push(struct ht_audit_rules *rs, struct rule *r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct rule *v = realloc(rs->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

/* Drop the rules past n (a file that failed half way). */
static void
rules_truncate(struct ht_audit_rules *rs, size_t n)
{
	while (rs->n > n)
		rule_clear(&rs->v[--rs->n]);
}

/* A deep copy of src in *ret.  0 or -ENOMEM. */
static int
rule_copy(const struct rule *src, struct rule *ret)
{
	struct rule r = { .size = src->size, .watch = src->watch };

	r.data = malloc(src->size);
	r.text = strdup(src->text);
	r.origin = strdup(src->origin);
	if (r.data == NULL || r.text == NULL || r.origin == NULL) {
		free(r.data);	/* audit_rule_free_data is free() for what it made */
		free(r.text);
		free(r.origin);
		return -ENOMEM;
	}
	memcpy(r.data, src->data, src->size);
	*ret = r;
	return 0;
}

size_t
ht_audit_rules_count(const struct ht_audit_rules *rs)
{
	return rs->n;
}

const char *
ht_audit_rules_text(const struct ht_audit_rules *rs, size_t i)
{
	return rs->v[i].text;
}

const char *
ht_audit_rules_origin(const struct ht_audit_rules *rs, size_t i)
{
	return rs->v[i].origin;
}

const struct audit_rule_data *
ht_audit_rules_data(const struct ht_audit_rules *rs, size_t i)
{
	return rs->v[i].data;
}

void
ht_audit_rules_free(struct ht_audit_rules *rs)
{
	if (rs == NULL)
		return;
	rules_truncate(rs, 0);
	free(rs->v);
	free(rs);
}

/* ---- compiling one rule -------------------------------------------------------- */

struct comp {
	const char *origin;
	char *errbuf;
	size_t errlen;
	struct audit_rule_data *r;
	int list;			/* AUDIT_FILTER_*; -1 until -a, -A or -w */
	int action;
	bool prepend;			/* -A */
	bool watch;			/* -w */
	bool syscalls;			/* -S given (or -w, whose mask is all) */
	const char *arch;		/* -F arch= value, for messages */
	char key[AUDIT_MAX_KEY_LEN + 1];
	size_t keylen;
	char *scratch;			/* libaudit writes NULs into the pairs it parses */
	size_t scratch_len;
};

static int comp_err(struct comp *c, const char *opt, const char *arg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "ORIGIN: OPT ARG: why"; returns -EINVAL. */
static int
comp_err(struct comp *c, const char *opt, const char *arg, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (opt == NULL)
		ht_seterr(c->errbuf, c->errlen, "%s: %s", c->origin, why);
	else if (arg == NULL)
		ht_seterr(c->errbuf, c->errlen, "%s: %s: %s", c->origin, opt, why);
	else
		ht_seterr(c->errbuf, c->errlen, "%s: %s %s: %s", c->origin, opt, arg, why);
	return -EINVAL;
}

/* The next blank-separated word of *p, NUL-terminated in place, or NULL. */
static char *
next_word(char **p)
{
	char *s = *p + strspn(*p, BLANKS), *w = s;

	if (*s == '\0')
		return NULL;
	s += strcspn(s, BLANKS);
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return w;
}

static const char *
list_name(int list)
{
	switch (list) {
	case AUDIT_FILTER_EXIT:
		return "exit";
	case AUDIT_FILTER_TASK:
		return "task";
	case AUDIT_FILTER_USER:
		return "user";
	case AUDIT_FILTER_EXCLUDE:
		return "exclude";
	case AUDIT_FILTER_FS:
		return "filesystem";
	}
	return "?";
}

/* The list named s, or -1.  Only the lists auditctl documents; "entry" is
 * gone from the kernel. */
static int
lookup_list(const char *s)
{
	static const char *const names[] = { "exit", "task", "user", "exclude", "filesystem" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return audit_name_to_flag(s);
	return -1;
}

/* AUDIT_ALWAYS or AUDIT_NEVER for s, or -1 ("possible" is deprecated). */
static int
lookup_action(const char *s)
{
	if (strcmp(s, "always") != 0 && strcmp(s, "never") != 0)
		return -1;
	return audit_name_to_action(s);
}

/* -a / -A LIST,ACTION or ACTION,LIST */
static int
opt_list(struct comp *c, const char *opt, char *arg)
{
	char *comma = strchr(arg, ','), *a = arg, *b;
	int list, action;

	if (c->list != -1)
		return comp_err(c, opt, NULL, c->watch ? "a watch (-w) takes no list" :
		    "one -a or -A per rule");
	if (comma == NULL || strchr(comma + 1, ',') != NULL)
		return comp_err(c, opt, arg, "expected LIST,ACTION (e.g. always,exit)");
	*comma = '\0';
	b = comma + 1;
	if ((action = lookup_action(a)) >= 0) {
		list = lookup_list(b);
	} else {
		list = lookup_list(a);
		action = lookup_action(b);
	}
	if (strcmp(a, "possible") == 0 || strcmp(b, "possible") == 0)
		action = -2;
	*comma = ',';
	if (action == -2)
		return comp_err(c, opt, arg, "the action \"possible\" is deprecated; use always "
		    "or never");
	if (list < 0 || action < 0)
		return comp_err(c, opt, arg, "unknown list or action (lists: exit, task, user, "
		    "exclude, filesystem; actions: always, never)");
	c->list = list;
	c->action = action;
	c->prepend = opt[1] == 'A';
	return 0;
}

/* -w PATH: a watch on the exit list, all syscalls, rwxa until -p. */
static int
opt_watch(struct comp *c, const char *opt, char *path)
{
	size_t len = strlen(path);
	struct stat st;
	int type = AUDIT_WATCH;

	if (c->list != -1)
		return comp_err(c, opt, NULL, c->watch ? "one -w per rule" :
		    "a watch cannot be part of an -a rule (use -F path= or -F dir= there)");
	if (path[0] != '/')
		return comp_err(c, opt, path, "the path must be absolute");
	if (len >= PATH_MAX)
		return comp_err(c, opt, NULL, "the path is longer than %d bytes", PATH_MAX - 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if (strlen(strrchr(path, '/') + 1) > NAME_MAX)
		return comp_err(c, opt, path, "its last component is longer than %d bytes",
		    NAME_MAX);
	/* As auditctl: a directory gets a tree watch; anything else, or a
	 * path that does not exist yet, a watch on that name. */
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		type = AUDIT_DIR;
	if (audit_add_watch_dir(type, &c->r, path) != 0) {
		if (c->r == NULL)
			return -ENOMEM;
		return comp_err(c, opt, path, "libaudit refused the watch");
	}
	c->list = AUDIT_FILTER_EXIT;
	c->action = AUDIT_ALWAYS;
	c->watch = true;
	c->syscalls = true;
	_audit_syscalladded = 1;
	return 0;
}

/* -p rwxa, for a watch */
static int
opt_perm(struct comp *c, const char *opt, const char *arg)
{
	size_t i, len = strlen(arg);
	int perm = 0;

	if (!c->watch)
		return comp_err(c, opt, NULL, "permissions go with a watch (-w PATH); in an -a "
		    "rule use -F perm=");
	if (len == 0 || len > 4)
		return comp_err(c, opt, arg, "expected 1 to 4 of r, w, x, a");
	for (i = 0; i < len; i++) {
		switch (tolower((unsigned char)arg[i])) {
		case 'r':
			perm |= AUDIT_PERM_READ;
			break;
		case 'w':
			perm |= AUDIT_PERM_WRITE;
			break;
		case 'x':
			perm |= AUDIT_PERM_EXEC;
			break;
		case 'a':
			perm |= AUDIT_PERM_ATTR;
			break;
		default:
			return comp_err(c, opt, arg, "permissions are r, w, x and a");
		}
	}
	if (audit_update_watch_perms(c->r, perm) != 0)
		return comp_err(c, opt, arg, "libaudit refused the permissions");
	_audit_permadded = 1;
	return 0;
}

/* Checks shared by -S, -F and -C: a list first, and not a watch. */
static int
need_rule(struct comp *c, const char *opt, const char *arg)
{
	if (c->list == -1)
		return comp_err(c, opt, arg, "the rule's list must come first (-a LIST,ACTION)");
	if (c->watch)
		return comp_err(c, opt, arg, "a watch (-w) takes only -p and -k; for more, write "
		    "an -a always,exit rule with -F path= or -F dir=");
	return 0;
}

static bool
all_digits(const char *s)
{
	return *s != '\0' && s[strspn(s, "0123456789")] == '\0';
}

/* -S NAME[,NAME...] (names, numbers or "all") */
static int
opt_syscall(struct comp *c, const char *opt, char *arg)
{
	char *name, *next;
	int v;

	if ((v = need_rule(c, opt, arg)) < 0)
		return v;
	if (c->list != AUDIT_FILTER_EXIT)
		return comp_err(c, opt, arg, "syscalls go only on the exit list, not %s",
		    list_name(c->list));
	for (name = arg; name != NULL; name = next) {
		next = strchr(name, ',');
		if (next != NULL)
			*next++ = '\0';
		if (*name == '\0')
			return comp_err(c, opt, NULL, "empty syscall name");
		if (all_digits(name) && (strlen(name) > 4 || atoi(name) >= SYSCALL_MAX))
			return comp_err(c, opt, NULL, "syscall number %s is out of range (0-%d)",
			    name, SYSCALL_MAX - 1);
		v = audit_rule_syscallbyname_data(c->r, name);
		if (v == -2)
			return comp_err(c, opt, NULL, "cannot tell this machine's architecture");
		if (v < 0 && c->arch != NULL)
			return comp_err(c, opt, NULL, "unknown syscall \"%s\" for arch %s", name,
			    c->arch);
		if (v < 0)
			return comp_err(c, opt, NULL, "unknown syscall \"%s\"", name);
	}
	c->syscalls = true;
	_audit_syscalladded = 1;
	return 0;
}

/* Where libaudit splits pair: the first match of its operators, tried in
 * its order (two-character ones first), anywhere in the pair. */
static const char *
lib_split(const char *pair, size_t *ret_len)
{
	static const char *const ops[] = { "!=", ">=", "<=", "&=", "=", ">", "<", "&" };
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const char *s = strstr(pair, ops[i]);

		if (s != NULL) {
			*ret_len = strlen(ops[i]);
			return s;
		}
	}
	return NULL;
}

/* Does s hold one of the two-character operators libaudit looks for first? */
static const char *
holds_op2(const char *s)
{
	static const char *const ops[] = { "!=", ">=", "<=", "&=" };
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strstr(s, ops[i]) != NULL)
			return ops[i];
	return NULL;
}

/*
 * libaudit's negative codes (its errormsg.h numbering) in our words, one
 * case per code; name is the field as written.  buf holds a reason that
 * needs the name.
 */
static const char *
lib_reason(int code, const char *name, char *buf, size_t len)
{
	switch (-code) {
	case 1:
		return "missing operator (one of = != < > <= >= & &=)";
	case 2:
		/* an older libaudit also says 2 for an unknown user or group */
		if (audit_name_to_field(name) >= 0)
			return "unknown user or group";
		snprintf(buf, len, "unknown field \"%s\"", name);
		return buf;
	case 3:
		return "-F arch= must come before -S";
	case 4:
	case 5:
		return "unknown arch (b64, b32, x86_64, i386, aarch64, ... or an ELF "
		       "machine number)";
	case 6:
		return "this machine has no such bit width";
	case 7:
	case 17:
		snprintf(buf, len, "the field \"%s\" works only on the exit list", name);
		return buf;
	case 8:
		return "unknown message type";
	case 9:
		return "msgtype works only on the exclude and user lists";
	case 11:
		return "value too long";
	case 12:
		return "the exclude list takes only msgtype, pid, uid, gid, loginuid and "
		       "subj_* fields";
	case 13:
	case 29:
		snprintf(buf, len, "the field \"%s\" does not take this operator", name);
		return buf;
	case 14:
		return "permissions are r, w, x and a";
	case 15:
		return "unknown errno name";
	case 16:
		return "unknown file type";
	case 19:
		return "a key needs a syscall (-S), a watch (-w, -F path=, -F dir=), -F perm= "
		       "or -F exe= in the rule";
	case 20:
		return "missing value";
	case 21:
		return "the value must be a number";
	case 22:
	case 24:
		return "missing field name";
	case 25:
		return "missing right-hand field";
	case 26:
		return "unknown field";
	case 27:
		return "unknown right-hand field, or these two cannot be compared";
	case 28:
		snprintf(buf, len, "too many fields (at most %d)", AUDIT_MAX_FIELDS - 1);
		return buf;
	case 30:
		snprintf(buf, len, "the running kernel does not support \"%s\" here", name);
		return buf;
	case 31:
		snprintf(buf, len, "the field \"%s\" works only on the exclude, user and exit "
		    "lists", name);
		return buf;
	case 32:
		return "no list given";
	case 33:
		return "these two fields cannot be compared";
	case 34:
		snprintf(buf, len, "the field \"%s\" is not valid on this list", name);
		return buf;
	case 35:
		return "the running kernel does not support this list";
	case 36:
		return "unknown file system type";
	case 37:
		return "value too large";
	case 38:
		return "unknown user or group";
	}
	snprintf(buf, len, "libaudit refused it (error %d)", code);
	return buf;
}

/* Copy s into the scratch buffer libaudit may write into. */
static char *
scratch(struct comp *c, const char *prefix, const char *s)
{
	snprintf(c->scratch, c->scratch_len, "%s%s", prefix, s);
	return c->scratch;
}

/* -k KEY, and -F key=KEY: collected, added as one field at the end. */
static int
add_key(struct comp *c, const char *opt, const char *key)
{
	size_t len = strlen(key), sep = c->keylen > 0;
	const char *op;

	if (c->list == -1)
		return comp_err(c, opt, key, "the rule's list or watch must come first "
		    "(-a LIST,ACTION or -w PATH)");
	if (len == 0)
		return comp_err(c, opt, NULL, "empty key");
	if (strchr(key, AUDIT_KEY_SEPARATOR) != NULL)
		return comp_err(c, opt, NULL, "a key cannot hold byte 0x01 (it separates keys)");
	if ((op = holds_op2(key)) != NULL)
		return comp_err(c, opt, key, "a key cannot hold \"%s\" (libaudit would read it "
		    "as the operator)", op);
	if (c->keylen + sep + len > AUDIT_MAX_KEY_LEN)
		return comp_err(c, opt, key, "the rule's keys are longer than %d bytes in all",
		    AUDIT_MAX_KEY_LEN);
	if (sep)
		c->key[c->keylen++] = AUDIT_KEY_SEPARATOR;
	memcpy(c->key + c->keylen, key, len + 1);
	c->keylen += len;
	return 0;
}

/* -F NAME OP VALUE */
static int
opt_field(struct comp *c, const char *opt, const char *pair)
{
	size_t name_len = strcspn(pair, "!=<>&"), op_len = 1, lib_len = 0;
	const char *op = pair + name_len, *value, *lib_op;
	char name[64], reason[160];
	int v, last;

	if (*op == '\0')
		return comp_err(c, opt, pair, "missing operator (one of = != < > <= >= & &=)");
	if (op[1] == '=' && op[0] != '=')
		op_len = 2;
	else if (op[0] == '!')
		return comp_err(c, opt, pair, "unknown operator \"!\" (did you mean !=?)");
	value = op + op_len;
	snprintf(name, sizeof(name), "%.*s", (int)name_len, pair);
	if (strcmp(name, "key") == 0) {
		if (op_len != 1 || *op != '=')
			return comp_err(c, opt, pair, "a key takes only =");
		return add_key(c, opt, value);
	}
	if ((v = need_rule(c, opt, pair)) < 0)
		return v;
	if (strcmp(name, "arch") == 0 && c->syscalls)
		return comp_err(c, opt, pair, "-F arch= must come before -S (it chooses the "
		    "table -S names are looked up in)");
	lib_op = lib_split(pair, &lib_len);
	if (lib_op == NULL)
		return comp_err(c, opt, pair, "missing operator");
	if (lib_op != op || lib_len != op_len)
		return comp_err(c, opt, pair, "the value holds \"%.*s\", which libaudit would "
		    "read as the operator", (int)lib_len, lib_op);
	v = audit_rule_fieldpair_data(&c->r, scratch(c, "", pair), c->list);
	if (c->r == NULL)
		return -ENOMEM;
	if (v != 0)
		return comp_err(c, opt, pair, "%s", lib_reason(v, name, reason, sizeof(reason)));
	/* as auditctl: these let a key follow */
	last = (int)c->r->fields[c->r->field_count - 1];
	if (last == AUDIT_PERM)
		_audit_permadded = 1;
	else if (last == AUDIT_EXE)
		_audit_exeadded = 1;
	else if (last == AUDIT_ARCH)
		c->arch = value;
	return 0;
}

/* -C FIELD OP FIELD */
static int
opt_compare(struct comp *c, const char *opt, const char *pair)
{
	char name[64], reason[160];
	int v;

	if ((v = need_rule(c, opt, pair)) < 0)
		return v;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(pair, "!=<>&"), pair);
	v = audit_rule_interfield_comp_data(&c->r, scratch(c, "", pair), c->list);
	if (c->r == NULL)
		return -ENOMEM;
	if (v != 0)
		return comp_err(c, opt, pair, "%s", lib_reason(v, name, reason, sizeof(reason)));
	return 0;
}

/* An option this module does not take: control settings and deletions. */
static int
refused(struct comp *c, const char *opt)
{
	return comp_err(c, opt, NULL, "not allowed in hosttrail's audit rules: control "
	    "settings are config keys (enabled, backlog_limit, rate_limit, failure), and "
	    "hosttrail removes only the rules it added (no -D)");
}

/* One option with its argument. */
static int
comp_option(struct comp *c, char letter, char *arg)
{
	char opt[3] = { '-', letter, '\0' };

	switch (letter) {
	case 'a':
	case 'A':
		return opt_list(c, opt, arg);
	case 'w':
		return opt_watch(c, opt, arg);
	case 'p':
		return opt_perm(c, opt, arg);
	case 'S':
		return opt_syscall(c, opt, arg);
	case 'F':
		return opt_field(c, opt, arg);
	case 'C':
		return opt_compare(c, opt, arg);
	case 'k':
		return add_key(c, opt, arg);
	}
	return -EINVAL;		/* not reached: comp_words takes only these */
}

/* The rule's words, option by option, as auditctl's getopt loop. */
static int
comp_words(struct comp *c, char *p)
{
	char *w, *arg, opt[3] = "-?";
	int v;

	while ((w = next_word(&p)) != NULL) {
		if (w[0] != '-' || w[1] == '\0')
			return comp_err(c, NULL, NULL, "\"%s\": a value without its option", w);
		if (w[1] == '-')
			return refused(c, w);
		opt[1] = w[1];
		if (strchr("DdWebrfslRicmqtvh", w[1]) != NULL)
			return refused(c, opt);
		if (strchr("aAwpSFCk", w[1]) == NULL)
			return comp_err(c, opt, NULL, "unknown option");
		arg = w[2] != '\0' ? w + 2 : next_word(&p);
		if (arg == NULL)
			return comp_err(c, opt, NULL, "needs a value");
		if ((v = comp_option(c, w[1], arg)) < 0)
			return v;
	}
	return 0;
}

/* After the last word: the defaults auditctl applies, the key, flags. */
static int
comp_finish(struct comp *c)
{
	char reason[160];
	int v;

	if (c->list == -1)
		return comp_err(c, NULL, NULL, "not a rule: it needs -a LIST,ACTION or -w PATH");
	/* as auditctl: a rule naming no syscall applies to all of them */
	if (c->list != AUDIT_FILTER_TASK && !c->syscalls &&
	    audit_rule_syscallbyname_data(c->r, "all") != 0)
		return comp_err(c, NULL, NULL, "libaudit cannot select all syscalls");
	if (c->keylen > 0) {
		v = audit_rule_fieldpair_data(&c->r, scratch(c, "key=", c->key), c->list);
		if (c->r == NULL)
			return -ENOMEM;
		if (v != 0)
			return comp_err(c, "-k", NULL, "%s", lib_reason(v, "key", reason,
			    sizeof(reason)));
	}
	c->r->flags = (uint32_t)c->list | (c->prepend ? AUDIT_FILTER_PREPEND : 0);
	c->r->action = (uint32_t)c->action;
	return 0;
}

/* Compile text (trimmed, non-empty, no comment) into *ret. */
static int
rule_compile(const char *text, const char *origin, struct rule *ret, char *errbuf,
    size_t errlen)
{
	struct comp *c;
	char *words = NULL;
	int v;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->origin = origin;
	c->errbuf = errbuf;
	c->errlen = errlen;
	c->list = -1;
	c->scratch_len = strlen(text) + AUDIT_MAX_KEY_LEN + sizeof("key=");
	c->scratch = malloc(c->scratch_len);
	words = strdup(text);
	c->r = audit_rule_create_data();
	if (c->scratch == NULL || words == NULL || c->r == NULL) {
		v = -ENOMEM;
		goto out;
	}
	_audit_elf = 0;
	_audit_syscalladded = _audit_permadded = _audit_archadded = 0;
	_audit_exeadded = _audit_filterfsadded = 0;
	if ((v = comp_words(c, words)) < 0 || (v = comp_finish(c)) < 0)
		goto out;
	ret->text = strdup(text);
	ret->origin = strdup(origin);
	if (ret->text == NULL || ret->origin == NULL) {
		free(ret->text);
		free(ret->origin);
		v = -ENOMEM;
		goto out;
	}
	ret->data = c->r;
	ret->size = sizeof(*c->r) + c->r->buflen;
	ret->watch = c->watch;
	c->r = NULL;
out:
	audit_rule_free_data(c->r);
	free(c->scratch);
	free(words);
	free(c);
	return v;
}

int
ht_audit_rules_add(struct ht_audit_rules *rs, const char *line, const char *origin,
    char *errbuf, size_t errlen)
{
	struct rule r = { 0 };
	const char *s;
	size_t len;
	char *text;
	int v;

	if (line == NULL) {
		ht_seterr(errbuf, errlen, "audit rule: no text");
		return -EINVAL;
	}
	if (origin == NULL)
		origin = "audit rule";
	s = line + strspn(line, BLANKS);
	len = strlen(s);
	while (len > 0 && strchr(BLANKS, s[len - 1]) != NULL)
		len--;
	if (len == 0 || s[0] == '#')
		return 0;
	if (len > HT_AUDIT_RULE_MAX) {
		ht_seterr(errbuf, errlen, "%s: longer than %d bytes", origin, HT_AUDIT_RULE_MAX);
		return -EINVAL;
	}
	/* one rule per line, so that every message about it is one line */
	if (memchr(s, '\n', len) != NULL) {
		ht_seterr(errbuf, errlen, "%s: holds a line break: one rule per line", origin);
		return -EINVAL;
	}
	text = strndup(s, len);
	if (text == NULL)
		return -ENOMEM;
	v = rule_compile(text, origin, &r, errbuf, errlen);
	free(text);
	if (v == -ENOMEM)
		ht_seterr(errbuf, errlen, "%s: out of memory", origin);
	if (v < 0)
		return v;
	if ((v = rules_push(rs, &r)) < 0) {
		rule_clear(&r);
		ht_seterr(errbuf, errlen, "%s: out of memory", origin);
	}
	return v;
}

/* Each line of the file's text, in order; rs keeps what was added. */
static int
rules_add_lines(struct ht_audit_rules *rs, const char *path, char *text, size_t len,
    char *errbuf, size_t errlen)
{
	char origin[PATH_MAX + 32], why[1024], *line = text, *end = text + len, *nl;
	unsigned lineno = 0;
	int v;

	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		*nl = '\0';
		lineno++;
		snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
		if (strlen(line) != (size_t)(nl - line)) {
			ht_seterr(errbuf, errlen, "rules_file %s: holds a NUL byte", origin);
			return -EINVAL;
		}
		v = ht_audit_rules_add(rs, line, origin, why, sizeof(why));
		if (v < 0) {
			/* named like a config key: "rules_file PATH:LINE: ..." */
			ht_seterr(errbuf, errlen, "rules_file %s", why);
			return v;
		}
		line = nl + 1;
	}
	return 0;
}

int
ht_audit_rules_add_file(struct ht_audit_rules *rs, const char *path, char *errbuf,
    size_t errlen)
{
	size_t before = rs->n, len;
	char *text = NULL;
	int v;

	v = ht_read_file(path, HT_AUDIT_RULES_FILE_MAX, &text, &len);
	if (v == -EFBIG)
		ht_seterr(errbuf, errlen, "rules_file %s: larger than %u bytes", path,
		    HT_AUDIT_RULES_FILE_MAX);
	else if (v < 0)
		ht_seterr(errbuf, errlen, "rules_file %s: %s", path, strerror(-v));
	if (v < 0)
		return v;
	v = rules_add_lines(rs, path, text, len, errbuf, errlen);
	if (v < 0)
		rules_truncate(rs, before);
	free(text);
	return v;
}

/* ---- status ---------------------------------------------------------------------- */

int
ht_audit_status_parse(const void *payload, size_t len, struct ht_audit_status *ret)
{
	struct audit_status s;

	/* every kernel with audit netlink sends at least mask..backlog */
	if (payload == NULL || len < offsetof(struct audit_status, backlog) + sizeof(s.backlog))
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	memcpy(&s, payload, len < sizeof(s) ? len : sizeof(s));
	*ret = (struct ht_audit_status){ .mask = s.mask, .enabled = s.enabled,
		.failure = s.failure, .pid = s.pid, .rate_limit = s.rate_limit,
		.backlog_limit = s.backlog_limit, .lost = s.lost, .backlog = s.backlog,
		.backlog_wait_time = s.backlog_wait_time };
	return 0;
}

int
ht_audit_status_get(int fd, int timeout_ms, struct ht_audit_status *ret)
{
	int64_t deadline = ht_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct audit_reply rep;
	int v, n;

	quiet();
	/* libaudit waits for the ack, which the kernel queues before the
	 * request's sendto returns: it does not wait in practice. */
	v = audit_request_status(fd);
	if (v < 0)
		return v;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - ht_mono_ms();

		n = poll(&p, 1, left > 0 ? (int)left : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		v = audit_get_reply(fd, &rep, GET_REPLY_NONBLOCKING, 0);
		if (v == -EAGAIN)
			continue;
		if (v < 0)
			return v;
		if (v == 0)
			return -EBADMSG;
		if (rep.type == NLMSG_ERROR && rep.error->error != 0)
			return rep.error->error < 0 ? rep.error->error : -EPROTO;
		if (rep.type == AUDIT_GET)
			return ht_audit_status_parse(NLMSG_DATA(rep.nlh), NLMSG_PAYLOAD(rep.nlh, 0),
			    ret);
		/* an ack, or anything else: not the reply */
	}
}

/* ---- the state file ---------------------------------------------------------------- */

void
ht_audit_saved_clear(struct ht_audit_saved *s)
{
	size_t i;

	for (i = 0; i < s->n_rules; i++)
		free(s->rules[i]);
	free(s->rules);
	memset(s, 0, sizeof(*s));
}

/* Add key: value to o, value freshly made (NULL: out of memory). */
static int
json_put(struct json_object *o, const char *key, struct json_object *value)
{
	if (value == NULL || json_object_object_add(o, key, value) != 0) {
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *
saved_status_json(const struct ht_audit_status *st)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL || json_put(o, "enabled", json_object_new_int64(st->enabled)) < 0 ||
	    json_put(o, "failure", json_object_new_int64(st->failure)) < 0 ||
	    json_put(o, "backlog_limit", json_object_new_int64(st->backlog_limit)) < 0 ||
	    json_put(o, "rate_limit", json_object_new_int64(st->rate_limit)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *
saved_rules_json(const struct ht_audit_saved *s)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a != NULL && i < s->n_rules; i++) {
		struct json_object *str = json_object_new_string(s->rules[i]);

		if (str == NULL || json_object_array_add(a, str) != 0) {
			json_object_put(str);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

int
ht_audit_saved_format(const struct ht_audit_saved *s, char **ret, size_t *ret_len)
{
	struct json_object *root = json_object_new_object();
	const char *text;
	char *out;
	size_t len;
	int v = -ENOMEM;

	if (root == NULL || json_put(root, "version", json_object_new_int(STATE_VERSION)) < 0 ||
	    json_put(root, "saved", saved_status_json(&s->status)) < 0 ||
	    json_put(root, "rules", saved_rules_json(s)) < 0)
		goto out;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL)
		goto out;
	len = strlen(text);
	out = malloc(len + 2);
	if (out == NULL)
		goto out;
	memcpy(out, text, len);
	out[len++] = '\n';
	out[len] = '\0';
	*ret = out;
	*ret_len = len;
	v = 0;
out:
	json_object_put(root);
	return v;
}

/* o[key] as an integer in [0, max], or -1. */
static int64_t
json_uint(struct json_object *o, const char *key, int64_t max)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	n = json_object_get_int64(v);
	/* json-c clamps what does not fit and says so through errno */
	if (errno != 0 || n < 0 || n > max)
		return -1;
	return n;
}

static int
saved_status_from(struct json_object *o, struct ht_audit_status *st, const char **why)
{
	int64_t enabled = json_uint(o, "enabled", 1), failure = json_uint(o, "failure", 2);
	int64_t backlog = json_uint(o, "backlog_limit", UINT32_MAX);
	int64_t rate = json_uint(o, "rate_limit", UINT32_MAX);

	if (!json_object_is_type(o, json_type_object) || enabled < 0 || failure < 0 ||
	    backlog < 0 || rate < 0) {
		*why = "\"saved\" needs enabled (0-1), failure (0-2), backlog_limit and "
		       "rate_limit (0-4294967295)";
		return -EINVAL;
	}
	*st = (struct ht_audit_status){ .enabled = (uint32_t)enabled,
		.failure = (uint32_t)failure, .backlog_limit = (uint32_t)backlog,
		.rate_limit = (uint32_t)rate };
	return 0;
}

static int
saved_rules_from(struct json_object *a, struct ht_audit_saved *s, const char **why)
{
	size_t i, n;

	if (!json_object_is_type(a, json_type_array)) {
		*why = "\"rules\" is not an array";
		return -EINVAL;
	}
	n = json_object_array_length(a);
	s->rules = calloc(n ? n : 1, sizeof(*s->rules));
	if (s->rules == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(a, i);
		const char *text = json_object_get_string(r);
		size_t len = (size_t)json_object_get_string_len(r);

		if (!json_object_is_type(r, json_type_string) || len == 0 ||
		    len > HT_AUDIT_RULE_MAX || strlen(text) != len) {
			*why = "a rule is not a non-empty string of at most 8192 bytes";
			return -EINVAL;
		}
		if ((s->rules[i] = strdup(text)) == NULL)
			return -ENOMEM;
		s->n_rules++;
	}
	return 0;
}

int
ht_audit_saved_parse(const char *text, size_t len, struct ht_audit_saved *ret, char *errbuf,
    size_t errlen)
{
	struct ht_audit_saved s = { 0 };
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *o;
	const char *why = "not valid JSON (torn or edited?)";
	size_t end;
	int v = -EINVAL;

	if (len > INT_MAX)
		goto out;
	tok = json_tokener_new();
	if (tok == NULL) {
		v = -ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (root == NULL)
		goto out;
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (text[end] == '\0' || strchr(BLANKS, text[end]) == NULL) {
			why = "text after the JSON object";
			goto out;
		}
	}
	why = "not a hosttrail audit state (version 1)";
	if (!json_object_is_type(root, json_type_object) ||
	    json_uint(root, "version", INT32_MAX) != STATE_VERSION)
		goto out;
	why = "no \"saved\" status";
	if (!json_object_object_get_ex(root, "saved", &o) ||
	    (v = saved_status_from(o, &s.status, &why)) < 0)
		goto out;
	why = "no \"rules\" list";
	if (!json_object_object_get_ex(root, "rules", &o)) {
		v = -EINVAL;
		goto out;
	}
	v = saved_rules_from(o, &s, &why);
	if (v == 0)
		*ret = s;
out:
	if (v == -EINVAL)
		ht_seterr(errbuf, errlen, "%s", why);
	else if (v == -ENOMEM)
		ht_seterr(errbuf, errlen, "out of memory");
	if (v < 0)
		ht_audit_saved_clear(&s);
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return v;
}

/* ---- takeover and restore ---------------------------------------------------------- */

static int step_err(int first, int v, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Keep the first failure: when v is the first, describe it ("WHAT: why")
 * and return it; else return first. */
static int
step_err(int first, int v, char *errbuf, size_t errlen, const char *fmt, ...)
{
	char what[HT_AUDIT_RULE_MAX + 256];
	va_list ap;

	if (v >= 0 || first < 0)
		return first;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ht_seterr(errbuf, errlen, "%s: %s", what, strerror(-v));
	return v;
}

static void
takeover_free(struct ht_audit_takeover *t)
{
	if (t == NULL)
		return;
	ht_audit_rules_free(t->added);
	free(t->state_path);
	free(t);
}

static int
takeover_new(const char *state_path, struct ht_audit_takeover **ret)
{
	struct ht_audit_takeover *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->state_path = strdup(state_path);
	if (t->state_path == NULL || ht_audit_rules_new(&t->added) < 0) {
		takeover_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

/* What restore sets back, and only that. */
static struct ht_audit_status
saved_part(const struct ht_audit_status *st)
{
	return (struct ht_audit_status){ .enabled = st->enabled, .failure = st->failure,
		.backlog_limit = st->backlog_limit, .rate_limit = st->rate_limit };
}

/* Delete r through fd.  0 or -errno (-ENOENT: the kernel does not have it). */
static int
rule_delete(int fd, struct rule *r)
{
	struct audit_rule_data *d = r->data;
	uint32_t flags = d->flags;
	int v;

	/* The kernel keeps a rule without the prepend flag: a -A rule is
	 * found only without it.  libaudit writes flags and action into d. */
	v = audit_delete_rule_data(fd, d, (int)(flags & ~AUDIT_FILTER_PREPEND), (int)d->action);
	if (v == -ENOENT && r->watch) {
		/* the path became (or stopped being) a directory since the
		 * watch was compiled: the kernel has it under the other type */
		d->fields[0] = d->fields[0] == AUDIT_DIR ? AUDIT_WATCH : AUDIT_DIR;
		v = audit_delete_rule_data(fd, d, (int)(flags & ~AUDIT_FILTER_PREPEND),
		    (int)d->action);
		d->fields[0] = d->fields[0] == AUDIT_DIR ? AUDIT_WATCH : AUDIT_DIR;
	}
	d->flags = flags;
	return v < 0 ? v : 0;
}

/* The name of process pid, or "?". */
static void
proc_comm(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* May this process become the audit daemon?  0, -EPERM or -EBUSY. */
static int
check_free(const struct ht_audit_status *st, char *errbuf, size_t errlen)
{
	char comm[64];

	if (st->enabled == 2) {
		ht_seterr(errbuf, errlen, "the kernel's audit settings are locked (enabled 2): audit "
		    "configuration is immutable until reboot");
		return -EPERM;
	}
	/* a daemon that died is no obstacle: the kernel drops it when it
	 * fails to reach its socket */
	if (st->pid != 0 && (kill((pid_t)st->pid, 0) == 0 || errno == EPERM)) {
		proc_comm(st->pid, comm, sizeof(comm));
		ht_seterr(errbuf, errlen, "process %u (%s) is the kernel's audit daemon: stop it "
		    "(systemctl stop auditd) or use mode: multicast", st->pid, comm);
		return -EBUSY;
	}
	return 0;
}

/* Write the state file: t's saved status and the text of rs's rules. */
static int
state_write(const struct ht_audit_takeover *t, const struct ht_audit_rules *rs, char *errbuf,
    size_t errlen)
{
	struct ht_audit_saved s = { .status = t->saved };
	size_t i, n = rs != NULL ? rs->n : 0, len;
	char *text = NULL;
	int v = -ENOMEM;

	s.rules = calloc(n ? n : 1, sizeof(*s.rules));
	if (s.rules == NULL)
		goto out;
	for (i = 0; i < n; i++)
		s.rules[i] = rs->v[i].text;	/* borrowed: format only reads */
	s.n_rules = n;
	v = ht_audit_saved_format(&s, &text, &len);
	if (v == 0)
		v = ht_write_file_atomic(t->state_path, text, len, 0600);
out:
	if (v < 0)
		ht_seterr(errbuf, errlen, "writing state_file %s: %s", t->state_path, strerror(-v));
	free(s.rules);
	free(text);
	return v;
}

static int
state_remove(const char *path, char *errbuf, size_t errlen)
{
	int v = 0;

	if (unlink(path) < 0 && errno != ENOENT)
		v = -errno;
	else
		v = ht_fsync_parent(path);
	if (v < 0)
		ht_seterr(errbuf, errlen, "removing state_file %s: %s", path, strerror(-v));
	return v;
}

/* Delete the rules s lists, compiled again; those already gone are fine. */
static int
recover_rules(const struct ht_audit_takeover *t, int ctl, const struct ht_audit_saved *s,
    char *errbuf, size_t errlen)
{
	struct ht_audit_rules *old = NULL;
	char origin[PATH_MAX + 64];
	size_t i;
	int v, d;

	if ((v = ht_audit_rules_new(&old)) < 0) {
		ht_seterr(errbuf, errlen, "out of memory");
		return v;
	}
	for (i = 0; v == 0 && i < s->n_rules; i++) {
		snprintf(origin, sizeof(origin), "state_file %s rules[%zu]", t->state_path, i);
		v = ht_audit_rules_add(old, s->rules[i], origin, errbuf, errlen);
	}
	for (i = 0; v == 0 && i < old->n; i++) {
		d = rule_delete(ctl, &old->v[i]);
		if (d != -ENOENT)
			v = step_err(0, d, errbuf, errlen, "deleting rule %s (%s) left by an "
			    "earlier run", old->v[i].origin, old->v[i].text);
	}
	ht_audit_rules_free(old);
	return v;
}

/* An earlier run's state file, if any: its saved status becomes t's, its
 * rules are deleted.  0 or -errno. */
static int
recover(struct ht_audit_takeover *t, int ctl, char *errbuf, size_t errlen)
{
	struct ht_audit_saved s = { 0 };
	char *text = NULL, why[256];
	size_t len;
	int v;

	v = ht_read_file(t->state_path, HT_AUDIT_STATE_FILE_MAX, &text, &len);
	if (v == -ENOENT)
		return 0;
	if (v < 0) {
		ht_seterr(errbuf, errlen, "reading state_file %s: %s", t->state_path, strerror(-v));
		return v;
	}
	v = ht_audit_saved_parse(text, len, &s, why, sizeof(why));
	if (v == -EINVAL)
		ht_seterr(errbuf, errlen, "state_file %s is damaged (%s): check the audit rules "
		    "(auditctl -l) and settings (auditctl -s), then remove it", t->state_path, why);
	else if (v < 0)
		ht_seterr(errbuf, errlen, "reading state_file %s: %s", t->state_path, strerror(-v));
	if (v == 0 && (v = recover_rules(t, ctl, &s, errbuf, errlen)) == 0)
		t->saved = s.status;
	ht_audit_saved_clear(&s);
	free(text);
	return v;
}

/* Add rs's rules; the kernel's EEXIST means not ours.  When some were
 * present, the state file is rewritten to list only ours. */
static int
add_rules(struct ht_audit_takeover *t, int ctl, const struct ht_audit_rules *rs, char *errbuf,
    size_t errlen)
{
	struct rule r;
	size_t i;
	int v;

	for (i = 0; rs != NULL && i < rs->n; i++) {
		if ((v = rule_copy(&rs->v[i], &r)) < 0) {
			ht_seterr(errbuf, errlen, "out of memory");
			return v;
		}
		v = audit_add_rule_data(ctl, r.data, (int)r.data->flags, (int)r.data->action);
		if (v == -EEXIST) {
			t->present++;
			rule_clear(&r);
			continue;
		}
		if (v < 0) {
			step_err(0, v, errbuf, errlen, "adding rule %s (%s)", r.origin, r.text);
			rule_clear(&r);
			return v;
		}
		if ((v = rules_push(t->added, &r)) < 0) {
			/* in the kernel but not recorded: take it out again */
			rule_delete(ctl, &r);
			rule_clear(&r);
			ht_seterr(errbuf, errlen, "out of memory");
			return v;
		}
	}
	return t->present > 0 ? state_write(t, t->added, errbuf, errlen) : 0;
}

/* The kernel refused the pid (EEXIST): a daemon started since the status
 * was read.  Name it if the kernel still says who.  -EBUSY. */
static int
busy_late(int ctl, char *errbuf, size_t errlen)
{
	struct ht_audit_status now;
	char comm[64];

	if (ht_audit_status_get(ctl, HT_AUDIT_CTL_TIMEOUT_MS, &now) < 0 || now.pid == 0) {
		ht_seterr(errbuf, errlen, "the kernel already has a live audit daemon: stop it "
		    "(systemctl stop auditd) or use mode: multicast");
		return -EBUSY;
	}
	proc_comm(now.pid, comm, sizeof(comm));
	ht_seterr(errbuf, errlen, "process %u (%s) became the kernel's audit daemon meanwhile: "
	    "stop it (systemctl stop auditd) or use mode: multicast", now.pid, comm);
	return -EBUSY;
}

/* The changes, in order; *pid_set tells the undo whether to unregister. */
static int
takeover_apply(struct ht_audit_takeover *t, int ctl, int event_fd,
    const struct ht_audit_unicast_conf *c, bool *pid_set, char *errbuf, size_t errlen)
{
	int v = 0;

	if (c->failure >= 0)
		v = step_err(0, audit_set_failure(ctl, (uint32_t)c->failure), errbuf, errlen,
		    "setting failure to %d", c->failure);
	if (v == 0)
		v = step_err(0, audit_set_backlog_limit(ctl, c->backlog_limit), errbuf, errlen,
		    "setting backlog_limit to %u", c->backlog_limit);
	if (v == 0)
		v = step_err(0, audit_set_rate_limit(ctl, c->rate_limit), errbuf, errlen,
		    "setting rate_limit to %u", c->rate_limit);
	if (v == 0)
		v = add_rules(t, ctl, c->rules, errbuf, errlen);
	if (v < 0)
		return v;
	/* through event_fd: the kernel sends to the socket that asked */
	v = audit_set_pid(event_fd, (uint32_t)getpid(), WAIT_NO);
	if (v == -EEXIST)
		return busy_late(ctl, errbuf, errlen);
	if ((v = step_err(0, v, errbuf, errlen, "registering as the audit daemon (pid %d)",
	    (int)getpid())) < 0)
		return v;
	*pid_set = true;
	return step_err(0, audit_set_enabled(ctl, 1), errbuf, errlen, "enabling auditing");
}

/* Delete t's rules, newest first, and set the saved status back; with pid,
 * unregister too.  Every step is tried; the first failure is returned. */
static int
give_back(struct ht_audit_takeover *t, int ctl, bool pid, char *errbuf, size_t errlen)
{
	const struct ht_audit_status *s = &t->saved;
	int first = 0, v;
	size_t i;

	for (i = t->added->n; i-- > 0;) {
		struct rule *r = &t->added->v[i];

		v = rule_delete(ctl, r);
		if (v != -ENOENT)
			first = step_err(first, v, errbuf, errlen, "deleting rule %s (%s)",
			    r->origin, r->text);
	}
	first = step_err(first, audit_set_enabled(ctl, s->enabled), errbuf, errlen,
	    "setting enabled back to %u", s->enabled);
	first = step_err(first, audit_set_failure(ctl, s->failure), errbuf, errlen,
	    "setting failure back to %u", s->failure);
	first = step_err(first, audit_set_backlog_limit(ctl, s->backlog_limit), errbuf, errlen,
	    "setting backlog_limit back to %u", s->backlog_limit);
	first = step_err(first, audit_set_rate_limit(ctl, s->rate_limit), errbuf, errlen,
	    "setting rate_limit back to %u", s->rate_limit);
	if (pid)
		first = step_err(first, audit_set_pid(ctl, 0, WAIT_NO), errbuf, errlen,
		    "unregistering as the audit daemon");
	return first;
}

/* After a failed step: undo, and say so in errbuf when that fails too. */
static void
takeover_undo(struct ht_audit_takeover *t, int ctl, bool pid_set, char *errbuf,
    size_t errlen)
{
	char why[512];
	size_t n;

	if (give_back(t, ctl, pid_set, why, sizeof(why)) == 0 &&
	    state_remove(t->state_path, why, sizeof(why)) == 0)
		return;
	if (errbuf == NULL || (n = strlen(errbuf)) + 1 >= errlen)
		return;
	snprintf(errbuf + n, errlen - n, "; undoing it failed too (%s), state_file %s kept",
	    why, t->state_path);
}

int
ht_audit_takeover(int event_fd, const struct ht_audit_unicast_conf *c,
    const char *state_path, struct ht_audit_takeover **ret, char *errbuf, size_t errlen)
{
	struct ht_audit_takeover *t = NULL;
	struct ht_audit_status cur;
	bool changed = false, pid_set = false;
	int ctl = -1, v;

	if (c == NULL || state_path == NULL || c->failure < -1 || c->failure > 2) {
		ht_seterr(errbuf, errlen, "audit takeover: invalid arguments");
		return -EINVAL;
	}
	quiet();
	if ((v = takeover_new(state_path, &t)) < 0) {
		ht_seterr(errbuf, errlen, "out of memory");
		goto out;
	}
	if ((ctl = audit_open()) < 0) {
		v = errno > 0 ? -errno : -EIO;
		ht_seterr(errbuf, errlen, "opening an audit netlink socket: %s", strerror(-v));
		goto out;
	}
	v = ht_audit_status_get(ctl, HT_AUDIT_CTL_TIMEOUT_MS, &cur);
	if (v == -ETIMEDOUT)
		ht_seterr(errbuf, errlen, "reading the kernel's audit status: no answer within %d ms",
		    HT_AUDIT_CTL_TIMEOUT_MS);
	else
		v = step_err(0, v, errbuf, errlen, "reading the kernel's audit status");
	if (v < 0 || (v = check_free(&cur, errbuf, errlen)) < 0)
		goto out;
	t->saved = saved_part(&cur);
	if ((v = recover(t, ctl, errbuf, errlen)) < 0 ||
	    (v = state_write(t, c->rules, errbuf, errlen)) < 0)
		goto out;
	changed = true;
	v = takeover_apply(t, ctl, event_fd, c, &pid_set, errbuf, errlen);
	if (v == 0) {
		*ret = t;
		t = NULL;
	}
out:
	if (v < 0 && changed)
		takeover_undo(t, ctl, pid_set, errbuf, errlen);
	if (ctl >= 0)
		audit_close(ctl);
	takeover_free(t);
	return v;
}

void
ht_audit_takeover_info(const struct ht_audit_takeover *t, size_t *added, size_t *present,
    struct ht_audit_status *saved)
{
	if (added != NULL)
		*added = t->added->n;
	if (present != NULL)
		*present = t->present;
	if (saved != NULL)
		*saved = t->saved;
}

int
ht_audit_restore(struct ht_audit_takeover *t, char *errbuf, size_t errlen)
{
	int ctl, v;

	if (t == NULL)
		return 0;
	quiet();
	ctl = audit_open();
	if (ctl < 0) {
		v = errno > 0 ? -errno : -EIO;
		ht_seterr(errbuf, errlen, "opening an audit netlink socket to give audit back: %s "
		    "(state_file %s kept)", strerror(-v), t->state_path);
		goto out;
	}
	v = give_back(t, ctl, true, errbuf, errlen);
	if (v == 0)
		v = state_remove(t->state_path, errbuf, errlen);
	audit_close(ctl);
out:
	takeover_free(t);
	return v;
}
