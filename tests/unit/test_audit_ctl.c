/*
 * test_audit_ctl.c - daemon/sources/audit_ctl.c without changing the kernel:
 * every rule form compiled into the struct audit_rule_data the kernel gets
 * (list and action, syscall mask bits, field ids, operators and values,
 * string buffer, watches and their permissions, keys joined with 0x01),
 * every refusal with its message, rules files (line numbers in errors, all
 * or nothing), the state file's round trip and the damaged files it
 * refuses, AUDIT_GET payloads of every length, every allocation failing in
 * turn, and one read-only status request to the real kernel (skipped where
 * the audit socket is refused).  Integration tests use the kernel's audit
 * state at the same time: nothing here may set anything.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libaudit.h>

#include "sources/audit_ctl.h"

#define UNUSED __attribute__((unused))

#include "alloc_fail.h"

static char errbuf[1024];

/* ---- helpers ---- */

/* line compiles into exactly one rule; the list holding it. */
static struct ht_audit_rules *
compile_ok(const char *line)
{
	struct ht_audit_rules *rs = NULL;
	int e;

	assert_int_equal(ht_audit_rules_new(&rs), 0);
	errbuf[0] = '\0';
	e = ht_audit_rules_add(rs, line, "rules[0]", errbuf, sizeof(errbuf));
	if (e != 0)
		print_message("refused (%d: %s): %s\n", e, errbuf, line);
	assert_int_equal(e, 0);
	assert_int_equal(ht_audit_rules_count(rs), 1);
	return rs;
}

/* line is refused with -EINVAL, a reason containing why, and adds nothing. */
static void
compile_bad(const char *line, const char *why)
{
	struct ht_audit_rules *rs = NULL;
	int e;

	assert_int_equal(ht_audit_rules_new(&rs), 0);
	errbuf[0] = '\0';
	e = ht_audit_rules_add(rs, line, "rules[3]", errbuf, sizeof(errbuf));
	if (e != -EINVAL || strstr(errbuf, why) == NULL)
		print_message("line \"%s\": %d \"%s\", wanted \"%s\"\n", line, e, errbuf, why);
	assert_int_equal(e, -EINVAL);
	assert_non_null(strstr(errbuf, why));
	assert_int_equal(strncmp(errbuf, "rules[3]: ", 10), 0);
	assert_null(strchr(errbuf, '\n'));
	assert_int_equal(ht_audit_rules_count(rs), 0);
	ht_audit_rules_free(rs);
}

static bool
has_syscall(const struct audit_rule_data *d, unsigned nr)
{
	return (d->mask[AUDIT_WORD(nr)] & AUDIT_BIT(nr)) != 0;
}

static unsigned
n_syscalls(const struct audit_rule_data *d)
{
	unsigned i, n = 0;

	for (i = 0; i < AUDIT_BITMASK_SIZE * 32; i++)
		n += has_syscall(d, i);
	return n;
}

/* The i-th string field's bytes in d->buf (string fields are packed in
 * field order; values[] holds each one's length). */
static const char *
str_field(const struct audit_rule_data *d, unsigned i, size_t *ret_len)
{
	static const unsigned strs[] = { AUDIT_WATCH, AUDIT_DIR, AUDIT_FILTERKEY, AUDIT_EXE,
		AUDIT_SUBJ_USER, AUDIT_OBJ_USER };
	size_t off = 0, k;
	unsigned j;

	for (j = 0; j < i; j++)
		for (k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			if (d->fields[j] == strs[k])
				off += d->values[j];
	*ret_len = d->values[i];
	return d->buf + off;
}

static void
assert_field(const struct audit_rule_data *d, unsigned i, unsigned field, unsigned op,
    uint32_t value)
{
	assert_true(i < d->field_count);
	assert_int_equal(d->fields[i], field);
	assert_int_equal(d->fieldflags[i], op);
	assert_int_equal(d->values[i], value);
}

static void
assert_str_field(const struct audit_rule_data *d, unsigned i, unsigned field, const char *s)
{
	size_t len;
	const char *p;

	assert_true(i < d->field_count);
	assert_int_equal(d->fields[i], field);
	assert_int_equal(d->fieldflags[i], AUDIT_EQUAL);
	p = str_field(d, i, &len);
	assert_int_equal(len, strlen(s));
	assert_memory_equal(p, s, len);
}

/* ---- rule forms ---- */

static void
test_syscall_rule(void **state UNUSED)
{
#if defined(__x86_64__)
	struct ht_audit_rules *rs = compile_ok("  -a always,exit -F arch=b64 -S execve -k exec \n");
	const struct audit_rule_data *d = ht_audit_rules_data(rs, 0);

	assert_string_equal(ht_audit_rules_text(rs, 0), "-a always,exit -F arch=b64 -S execve -k exec");
	assert_string_equal(ht_audit_rules_origin(rs, 0), "rules[0]");
	assert_int_equal(d->flags, AUDIT_FILTER_EXIT);
	assert_int_equal(d->action, AUDIT_ALWAYS);
	/* execve is 59 on x86_64: word 1, bit 27 */
	assert_int_equal(d->mask[1], 1u << 27);
	assert_int_equal(n_syscalls(d), 1);
	assert_int_equal(d->field_count, 2);
	assert_field(d, 0, AUDIT_ARCH, AUDIT_EQUAL, AUDIT_ARCH_X86_64);
	assert_str_field(d, 1, AUDIT_FILTERKEY, "exec");
	assert_int_equal(d->buflen, 4);
	ht_audit_rules_free(rs);
#else
	skip();
#endif
}

static void
test_lists_and_actions(void **state UNUSED)
{
	struct ht_audit_rules *rs;
	const struct audit_rule_data *d;
	int e;

	/* either order; no -S on exit means every syscall, as auditctl */
	rs = compile_ok("-a exit,never -F uid=0");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(d->flags, AUDIT_FILTER_EXIT);
	assert_int_equal(d->action, AUDIT_NEVER);
	assert_true(has_syscall(d, 0) && has_syscall(d, 59) && has_syscall(d, 400));
	assert_field(d, 0, AUDIT_UID, AUDIT_EQUAL, 0);
	ht_audit_rules_free(rs);

	rs = compile_ok("-A always,exit -S 2");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(d->flags, AUDIT_FILTER_EXIT | AUDIT_FILTER_PREPEND);
	assert_int_equal(n_syscalls(d), 1);
	assert_true(has_syscall(d, 2));
	ht_audit_rules_free(rs);

	/* task rules get no syscall mask */
	rs = compile_ok("-a never,task -F auid=1000");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(d->flags, AUDIT_FILTER_TASK);
	assert_int_equal(d->action, AUDIT_NEVER);
	assert_int_equal(n_syscalls(d), 0);
	assert_field(d, 0, AUDIT_LOGINUID, AUDIT_EQUAL, 1000);
	ht_audit_rules_free(rs);

	rs = compile_ok("-a always,user -F uid=0");
	assert_int_equal(ht_audit_rules_data(rs, 0)->flags, AUDIT_FILTER_USER);
	ht_audit_rules_free(rs);

	rs = compile_ok("-a never,exclude -F msgtype=CWD");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(d->flags, AUDIT_FILTER_EXCLUDE);
	assert_field(d, 0, AUDIT_MSGTYPE, AUDIT_EQUAL, 1307);
	ht_audit_rules_free(rs);

	/* the filesystem list needs a kernel that has it */
	if (audit_name_to_flag("filesystem") >= 0) {
		assert_int_equal(ht_audit_rules_new(&rs), 0);
		e = ht_audit_rules_add(rs, "-a never,filesystem -F fstype=debugfs", "r", errbuf,
		    sizeof(errbuf));
		if (e == 0)
			assert_int_equal(ht_audit_rules_data(rs, 0)->flags, AUDIT_FILTER_FS);
		else
			assert_non_null(strstr(errbuf, "kernel"));
		ht_audit_rules_free(rs);
	}
}

static void
test_syscall_forms(void **state UNUSED)
{
	struct ht_audit_rules *rs;
	const struct audit_rule_data *d;
	unsigned i;

#if defined(__x86_64__)
	/* comma lists, numbers, repeated -S, the option's value attached */
	rs = compile_ok("-a always,exit -F arch=b64 -S open,close -Sexecve -S 101");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(n_syscalls(d), 4);
	assert_true(has_syscall(d, 2) && has_syscall(d, 3) && has_syscall(d, 59) &&
	    has_syscall(d, 101));
	ht_audit_rules_free(rs);

	/* b32 looks names up in the i386 table: execve is 11 there */
	rs = compile_ok("-a always,exit -F arch=b32 -S execve");
	d = ht_audit_rules_data(rs, 0);
	assert_field(d, 0, AUDIT_ARCH, AUDIT_EQUAL, AUDIT_ARCH_I386);
	assert_int_equal(n_syscalls(d), 1);
	assert_true(has_syscall(d, 11));
	ht_audit_rules_free(rs);

	/* and the next rule is back to the machine's own table */
	rs = compile_ok("-a always,exit -S execve");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(d->field_count, 0);
	assert_true(has_syscall(d, 59));
	ht_audit_rules_free(rs);

	rs = compile_ok("-a always,exit -F arch=x86_64 -S execve");
	assert_field(ht_audit_rules_data(rs, 0), 0, AUDIT_ARCH, AUDIT_EQUAL, AUDIT_ARCH_X86_64);
	ht_audit_rules_free(rs);

	rs = compile_ok("-a always,exit -F arch!=b32 -S all");
	assert_field(ht_audit_rules_data(rs, 0), 0, AUDIT_ARCH, AUDIT_NOT_EQUAL, AUDIT_ARCH_I386);
	ht_audit_rules_free(rs);
#endif
	rs = compile_ok("-a always,exit -S all");
	d = ht_audit_rules_data(rs, 0);
	for (i = 0; i < AUDIT_BITMASK_SIZE - 1; i++)
		assert_int_equal(d->mask[i], ~0u);
	ht_audit_rules_free(rs);
}

static void
test_field_operators(void **state UNUSED)
{
	struct ht_audit_rules *rs = compile_ok("-a always,exit -S openat -F auid>=1000 "
	    "-F auid!=unset -F uid=root -F a0&0x10 -F a1&=3 -F exit<0 -F pid>1 -F ppid<=5 "
	    "-F success=1 -F exit=-EPERM -F gid=0 -F filetype=dir");
	const struct audit_rule_data *d = ht_audit_rules_data(rs, 0);

	assert_int_equal(d->field_count, 12);
	assert_field(d, 0, AUDIT_LOGINUID, AUDIT_GREATER_THAN_OR_EQUAL, 1000);
	assert_field(d, 1, AUDIT_LOGINUID, AUDIT_NOT_EQUAL, 4294967295u);
	assert_field(d, 2, AUDIT_UID, AUDIT_EQUAL, 0);
	assert_field(d, 3, AUDIT_ARG0, AUDIT_BIT_MASK, 0x10);
	assert_field(d, 4, AUDIT_ARG1, AUDIT_BIT_TEST, 3);
	assert_field(d, 5, AUDIT_EXIT, AUDIT_LESS_THAN, 0);
	assert_field(d, 6, AUDIT_PID, AUDIT_GREATER_THAN, 1);
	assert_field(d, 7, AUDIT_PPID, AUDIT_LESS_THAN_OR_EQUAL, 5);
	assert_field(d, 8, AUDIT_SUCCESS, AUDIT_EQUAL, 1);
	assert_field(d, 9, AUDIT_EXIT, AUDIT_EQUAL, (uint32_t)-EPERM);
	assert_field(d, 10, AUDIT_GID, AUDIT_EQUAL, 0);
	assert_field(d, 11, AUDIT_FILETYPE, AUDIT_EQUAL, 0040000);	/* S_IFDIR */
	assert_int_equal(d->buflen, 0);
	ht_audit_rules_free(rs);
}

static void
test_path_fields(void **state UNUSED)
{
	struct ht_audit_rules *rs = compile_ok("-a always,exit -F path=/etc/shadow -F perm=wa "
	    "-F dir=/etc/ssh -k shadow");
	const struct audit_rule_data *d = ht_audit_rules_data(rs, 0);

	assert_int_equal(d->field_count, 4);
	assert_str_field(d, 0, AUDIT_WATCH, "/etc/shadow");
	assert_field(d, 1, AUDIT_PERM, AUDIT_EQUAL, AUDIT_PERM_WRITE | AUDIT_PERM_ATTR);
	assert_str_field(d, 2, AUDIT_DIR, "/etc/ssh");
	assert_str_field(d, 3, AUDIT_FILTERKEY, "shadow");
	assert_int_equal(d->buflen, strlen("/etc/shadow") + strlen("/etc/ssh") + strlen("shadow"));
	assert_true(has_syscall(d, 0) && has_syscall(d, 300));
	ht_audit_rules_free(rs);
}

static void
test_compare(void **state UNUSED)
{
	struct ht_audit_rules *rs = compile_ok("-a always,exit -S all -C uid!=euid -C auid=obj_uid");
	const struct audit_rule_data *d = ht_audit_rules_data(rs, 0);

	assert_field(d, 0, AUDIT_FIELD_COMPARE, AUDIT_NOT_EQUAL, AUDIT_COMPARE_UID_TO_EUID);
	assert_field(d, 1, AUDIT_FIELD_COMPARE, AUDIT_EQUAL, AUDIT_COMPARE_AUID_TO_OBJ_UID);
	ht_audit_rules_free(rs);
}

static void
test_keys(void **state UNUSED)
{
	char line[1024], key[AUDIT_MAX_KEY_LEN + 2];
	struct ht_audit_rules *rs;
	const struct audit_rule_data *d;

	/* several keys, -k and -F key= alike, joined as auditctl does */
	rs = compile_ok("-a always,exit -S execve -k a -F key=bb -k c");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(d->field_count, 1);
	assert_str_field(d, 0, AUDIT_FILTERKEY, "a\001bb\001c");
	ht_audit_rules_free(rs);

	/* exactly AUDIT_MAX_KEY_LEN bytes, and one more */
	memset(key, 'k', AUDIT_MAX_KEY_LEN);
	key[AUDIT_MAX_KEY_LEN] = '\0';
	snprintf(line, sizeof(line), "-a always,exit -S execve -k %s", key);
	rs = compile_ok(line);
	assert_int_equal(ht_audit_rules_data(rs, 0)->values[0], AUDIT_MAX_KEY_LEN);
	ht_audit_rules_free(rs);
	snprintf(line, sizeof(line), "-a always,exit -S execve -k %sk", key);
	compile_bad(line, "longer than 256 bytes in all");
	key[AUDIT_MAX_KEY_LEN - 2] = '\0';
	snprintf(line, sizeof(line), "-a always,exit -S execve -k %s -k xy", key);
	compile_bad(line, "longer than 256 bytes in all");

	compile_bad("-a always,exit -S execve -k a\001b", "byte 0x01");
	compile_bad("-a always,exit -S execve -k a!=b", "\"!=\"");
	compile_bad("-a always,exit -S execve -F key!=x", "a key takes only =");
	compile_bad("-a always,exit -S execve -F key=", "empty key");
	/* a key needs something that selects events before it counts */
	compile_bad("-a always,exit -F auid=0 -k x", "-k: a key needs a syscall");
	compile_bad("-k x -w /etc/passwd", "rules[3]: -k x: the rule's list or watch must come first");
}

static void
test_watches(void **state UNUSED)
{
	struct ht_audit_rules *rs;
	const struct audit_rule_data *d;

	rs = compile_ok("-w /etc/passwd -p wa -k passwd");
	d = ht_audit_rules_data(rs, 0);
	assert_int_equal(d->flags, AUDIT_FILTER_EXIT);
	assert_int_equal(d->action, AUDIT_ALWAYS);
	assert_int_equal(d->field_count, 3);
	assert_str_field(d, 0, AUDIT_WATCH, "/etc/passwd");
	assert_field(d, 1, AUDIT_PERM, AUDIT_EQUAL, AUDIT_PERM_WRITE | AUDIT_PERM_ATTR);
	assert_str_field(d, 2, AUDIT_FILTERKEY, "passwd");
	assert_true(has_syscall(d, 0) && has_syscall(d, 59));
	ht_audit_rules_free(rs);

	/* a directory: a tree watch, trailing slashes dropped; rwxa by default */
	rs = compile_ok("-w /etc/// -k etc");
	d = ht_audit_rules_data(rs, 0);
	assert_str_field(d, 0, AUDIT_DIR, "/etc");
	assert_field(d, 1, AUDIT_PERM, AUDIT_EQUAL, AUDIT_PERM_READ | AUDIT_PERM_WRITE |
	    AUDIT_PERM_EXEC | AUDIT_PERM_ATTR);
	ht_audit_rules_free(rs);

	/* a path that does not exist yet is watched by name; -p case-blind */
	rs = compile_ok("-w /nonexistent/hosttrail/x -p RX");
	d = ht_audit_rules_data(rs, 0);
	assert_str_field(d, 0, AUDIT_WATCH, "/nonexistent/hosttrail/x");
	assert_field(d, 1, AUDIT_PERM, AUDIT_EQUAL, AUDIT_PERM_READ | AUDIT_PERM_EXEC);
	ht_audit_rules_free(rs);

	compile_bad("-w etc/passwd", "-w etc/passwd: the path must be absolute");
	compile_bad("-w /etc/passwd -p q", "permissions are r, w, x and a");
	compile_bad("-w /etc/passwd -p rwxar", "expected 1 to 4");
	compile_bad("-w /etc/passwd -w /etc/group", "one -w per rule");
	compile_bad("-w /etc/passwd -a always,exit", "a watch (-w) takes no list");
	compile_bad("-a always,exit -w /etc/passwd", "cannot be part of an -a rule");
	compile_bad("-w /etc/passwd -S open", "a watch (-w) takes only -p and -k");
	compile_bad("-w /etc/passwd -F uid=0", "a watch (-w) takes only -p and -k");
	compile_bad("-a always,exit -p wa", "permissions go with a watch");
}

static void
test_blank_and_comments(void **state UNUSED)
{
	static const char *const lines[] = { "", "   ", "\t\r\n", "# -D", "   # -a always,exit" };
	struct ht_audit_rules *rs = NULL;
	size_t i;

	assert_int_equal(ht_audit_rules_new(&rs), 0);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(ht_audit_rules_add(rs, lines[i], "r", errbuf, sizeof(errbuf)), 0);
	assert_int_equal(ht_audit_rules_count(rs), 0);
	/* duplicates are kept: the kernel's EEXIST is the caller's business */
	assert_int_equal(ht_audit_rules_add(rs, "-a always,exit -S open", "a", NULL, 0), 0);
	assert_int_equal(ht_audit_rules_add(rs, "-a always,exit -S open", "b", NULL, 0), 0);
	assert_int_equal(ht_audit_rules_count(rs), 2);
	assert_string_equal(ht_audit_rules_origin(rs, 1), "b");
	ht_audit_rules_free(rs);
	ht_audit_rules_free(NULL);
}

/* ---- refusals ---- */

static void
test_refused_options(void **state UNUSED)
{
	static const char *const lines[] = { "-D", "-D -k x", "-e 1", "-e 2", "-b 8192",
		"-r 100", "-f 2", "-s", "-l", "-R /etc/audit/audit.rules", "-i", "-c",
		"-d always,exit -S open", "-W /etc/passwd", "-m hello", "-t", "-q /a,/b", "-v",
		"-h", "--backlog_wait_time 0", "--loginuid-immutable", "--reset-lost",
		"-a always,exit -S open -D" };
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		compile_bad(lines[i], "control settings are config keys (enabled, backlog_limit, "
		    "rate_limit, failure)");
		assert_non_null(strstr(errbuf, "hosttrail removes only the rules it added (no -D)"));
	}
	compile_bad("-e 1", "rules[3]: -e: not allowed");
	compile_bad("--reset-lost", "rules[3]: --reset-lost: not allowed");
}

static void
test_refused_rules(void **state UNUSED)
{
	char line[HT_AUDIT_RULE_MAX + 64];
	size_t n;
	int i;

	/* the exact message for an unknown syscall */
	compile_bad("-a always,exit -S exeve", "x");
	assert_string_equal(errbuf, "rules[3]: -S: unknown syscall \"exeve\"");
	compile_bad("-a always,exit -F arch=b32 -S nosuchcall", "unknown syscall \"nosuchcall\" "
	    "for arch b32");
	compile_bad("-a always,exit -S 2048", "syscall number 2048 is out of range (0-2047)");
	compile_bad("-a always,exit -S 99999999999", "out of range");
	compile_bad("-a always,exit -S open,,close", "-S: empty syscall name");

	/* order, as auditctl requires it */
	compile_bad("-S open", "-S open: the rule's list must come first");
	compile_bad("-F uid=0 -a always,exit", "-F uid=0: the rule's list must come first");
	compile_bad("-C uid!=euid", "the rule's list must come first");
	compile_bad("-a always,exit -S execve -F arch=b64", "-F arch=b64: -F arch= must come "
	    "before -S");

	/* syscalls only on the exit list */
	compile_bad("-a always,task -S open", "syscalls go only on the exit list, not task");
	compile_bad("-a always,user -S open", "not user");
	compile_bad("-a never,exclude -S open", "not exclude");
	if (audit_name_to_flag("filesystem") >= 0)
		compile_bad("-a never,filesystem -S open", "not filesystem");

	/* -a itself */
	compile_bad("-a possible,exit", "\"possible\" is deprecated");
	compile_bad("-a always,entry", "-a always,entry: unknown list or action");
	compile_bad("-a always", "expected LIST,ACTION");
	compile_bad("-a always,exit,task", "expected LIST,ACTION");
	compile_bad("-a exit,task", "unknown list or action");
	compile_bad("-a always,exit -A always,exit", "one -a or -A per rule");

	/* words */
	compile_bad("-a always,exit -x 1", "rules[3]: -x: unknown option");
	compile_bad("-a always,exit -F", "-F: needs a value");
	compile_bad("-a always,exit open", "\"open\": a value without its option");
	compile_bad("always,exit", "a value without its option");

	/* fields, in our words */
	compile_bad("-a always,exit -F bogus=1", "-F bogus=1: unknown field \"bogus\"");
	compile_bad("-a always,exit -F uid=nosuchuser_hosttrail", "unknown user or group");
	compile_bad("-a always,exit -F gid=nosuchgroup_hosttrail", "unknown user or group");
	compile_bad("-a always,exit -F a0=abc", "the value must be a number");
	compile_bad("-a always,exit -F uid", "missing operator");
	compile_bad("-a always,exit -F =1", "missing field name");
	compile_bad("-a always,exit -F uid=", "missing value");
	compile_bad("-a always,exit -F uid!0", "unknown operator \"!\"");
	compile_bad("-a always,exit -F path=/a!=b", "holds \"!=\", which libaudit would read "
	    "as the operator");
	compile_bad("-a always,exit -F path=/a>=b", "holds \">=\"");
	compile_bad("-a always,exit -F arch=b99 -S open", "unknown arch");
	compile_bad("-a always,exit -F inode<5", "the field \"inode\" does not take this "
	    "operator");
	compile_bad("-a always,exit -F perm!=w", "does not take this operator");
	compile_bad("-a always,exit -F msgtype=EXECVE", "msgtype works only on the exclude and "
	    "user lists");
	compile_bad("-a always,task -F path=/etc", "the field \"path\" works only on the exit "
	    "list");
	compile_bad("-a always,exit -F exit=-EBOGUS", "unknown errno name");
	compile_bad("-a always,exit -F filetype=bogus", "unknown file type");
	compile_bad("-a always,exit -F perm=q", "permissions are r, w, x and a");
	compile_bad("-a never,exclude -F msgtype=NOSUCHTYPE", "unknown message type");
	compile_bad("-a always,exit -C uid=bogus", "-C uid=bogus: unknown right-hand field");
	compile_bad("-a always,exit -C uid<euid", "does not take this operator");

	/* more fields than the kernel takes */
	n = (size_t)snprintf(line, sizeof(line), "-a always,exit");
	for (i = 0; i < AUDIT_MAX_FIELDS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " -F uid=%d", i);
	compile_bad(line, "too many fields (at most 63)");

	/* longer than a rule may be */
	memset(line, ' ', sizeof(line));
	memcpy(line, "-w /", 4);
	memset(line + 4, 'a', HT_AUDIT_RULE_MAX);
	line[HT_AUDIT_RULE_MAX + 4] = '\0';
	compile_bad(line, "rules[3]: longer than 8192 bytes");
	compile_bad("-a always,exit\n-S open", "rules[3]: holds a line break");

	/* no errbuf at all is fine */
	{
		struct ht_audit_rules *rs = NULL;

		assert_int_equal(ht_audit_rules_new(&rs), 0);
		assert_int_equal(ht_audit_rules_add(rs, "-D", "r", NULL, 0), -EINVAL);
		assert_int_equal(ht_audit_rules_add(rs, NULL, "r", NULL, 0), -EINVAL);
		ht_audit_rules_free(rs);
	}
}

/* ---- rules files ---- */

static char tmpdir[] = "/tmp/test_audit_ctl.XXXXXX";

static const char *
write_tmp(const char *name, const char *text, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void
test_rules_file(void **state UNUSED)
{
	static const char good[] = "# hosttrail rules\n"
				   "\n"
				   "-a always,exit -S execve -k exec\r\n"
				   "   \n"
				   "  -w /etc/shadow -p wa -k shadow  \n"
				   "-a never,exclude -F msgtype=CWD";
	static const char bad[] = "-a always,exit -S execve\n"
				  "# fine so far\n"
				  "-w /etc/passwd\n"
				  "-a always,exit -S exeve\n"
				  "-w /etc/group\n";
	static const char nul[] = "-a always,exit -S execve\n-w /etc\0/passwd\n";
	struct ht_audit_rules *rs = NULL;
	char want[1024], origin[512];
	const char *path;

	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(ht_audit_rules_new(&rs), 0);
	path = write_tmp("good.rules", good, sizeof(good) - 1);
	assert_int_equal(ht_audit_rules_add_file(rs, path, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(ht_audit_rules_count(rs), 3);
	assert_string_equal(ht_audit_rules_text(rs, 0), "-a always,exit -S execve -k exec");
	assert_string_equal(ht_audit_rules_text(rs, 1), "-w /etc/shadow -p wa -k shadow");
	snprintf(origin, sizeof(origin), "%s:3", path);
	assert_string_equal(ht_audit_rules_origin(rs, 0), origin);
	snprintf(origin, sizeof(origin), "%s:6", path);
	assert_string_equal(ht_audit_rules_origin(rs, 2), origin);

	/* the first bad line, by number; nothing of that file is kept */
	path = write_tmp("bad.rules", bad, sizeof(bad) - 1);
	assert_int_equal(ht_audit_rules_add_file(rs, path, errbuf, sizeof(errbuf)), -EINVAL);
	snprintf(want, sizeof(want), "rules_file %s:4: -S: unknown syscall \"exeve\"", path);
	assert_string_equal(errbuf, want);
	assert_int_equal(ht_audit_rules_count(rs), 3);

	path = write_tmp("nul.rules", nul, sizeof(nul) - 1);
	assert_int_equal(ht_audit_rules_add_file(rs, path, errbuf, sizeof(errbuf)), -EINVAL);
	snprintf(want, sizeof(want), "rules_file %s:2: holds a NUL byte", path);
	assert_string_equal(errbuf, want);
	assert_int_equal(ht_audit_rules_count(rs), 3);

	snprintf(origin, sizeof(origin), "%s/missing.rules", tmpdir);
	assert_int_equal(ht_audit_rules_add_file(rs, origin, errbuf, sizeof(errbuf)), -ENOENT);
	snprintf(want, sizeof(want), "rules_file %s: %s", origin, strerror(ENOENT));
	assert_string_equal(errbuf, want);
	assert_int_equal(ht_audit_rules_count(rs), 3);

	/* an empty file adds nothing */
	path = write_tmp("empty.rules", "", 0);
	assert_int_equal(ht_audit_rules_add_file(rs, path, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(ht_audit_rules_count(rs), 3);
	ht_audit_rules_free(rs);

	unlink(write_tmp("good.rules", "", 0));
	unlink(write_tmp("bad.rules", "", 0));
	unlink(write_tmp("nul.rules", "", 0));
	unlink(write_tmp("empty.rules", "", 0));
	assert_int_equal(rmdir(tmpdir), 0);
}

/* ---- the state file ---- */

static void
assert_saved_equal(const struct ht_audit_saved *a, const struct ht_audit_saved *b)
{
	size_t i;

	assert_memory_equal(&a->status, &b->status, sizeof(a->status));
	assert_int_equal(a->n_rules, b->n_rules);
	for (i = 0; i < a->n_rules; i++)
		assert_string_equal(a->rules[i], b->rules[i]);
}

static void
test_saved_round_trip(void **state UNUSED)
{
	char r0[] = "-a always,exit -F arch=b64 -S execve -k exec";
	char r1[] = "-w /etc/\"quoted\"\\back/slash -p wa";
	char r2[] = "-w /tmp/\xc3\xa9t\xc3\xa9\t\x01x";
	char r3[] = "-a never,exclude -F msgtype=CWD";
	char *rules[] = { r0, r1, r2, r3 };
	struct ht_audit_saved s = { .status = { .enabled = 1, .failure = 2,
		.backlog_limit = 4294967295u, .rate_limit = 0 }, .rules = rules, .n_rules = 4 };
	struct ht_audit_saved back = { 0 }, empty = { .status = { .backlog_limit = 64,
		.failure = 1 } };
	char *text;
	size_t len;

	assert_int_equal(ht_audit_saved_format(&s, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_int_equal(text[len - 1], '\n');
	assert_null(memchr(text, '\n', len - 1));
	assert_int_equal(ht_audit_saved_parse(text, len, &back, errbuf, sizeof(errbuf)), 0);
	assert_saved_equal(&s, &back);
	ht_audit_saved_clear(&back);
	assert_null(back.rules);
	free(text);

	assert_int_equal(ht_audit_saved_format(&empty, &text, &len), 0);
	assert_string_equal(text, "{\"version\":1,\"saved\":{\"enabled\":0,\"failure\":1,"
	    "\"backlog_limit\":64,\"rate_limit\":0},\"rules\":[]}\n");
	assert_int_equal(ht_audit_saved_parse(text, len, &back, errbuf, sizeof(errbuf)), 0);
	assert_saved_equal(&empty, &back);
	ht_audit_saved_clear(&back);
	free(text);
}

static void
saved_bad(const char *text, const char *why)
{
	struct ht_audit_saved s = { .n_rules = 12345 };

	errbuf[0] = '\0';
	assert_int_equal(ht_audit_saved_parse(text, strlen(text), &s, errbuf, sizeof(errbuf)),
	    -EINVAL);
	if (strstr(errbuf, why) == NULL)
		print_message("\"%s\": \"%s\", wanted \"%s\"\n", text, errbuf, why);
	assert_non_null(strstr(errbuf, why));
	assert_int_equal(s.n_rules, 12345);	/* untouched */
}

#define ST "\"saved\":{\"enabled\":0,\"failure\":1,\"backlog_limit\":64,\"rate_limit\":0}"

static void
test_saved_damaged(void **state UNUSED)
{
	static const char good[] = "{\"version\":1," ST ",\"rules\":[\"-w /etc/passwd\"]}\n";
	struct ht_audit_saved s;
	size_t n;

	saved_bad("", "not valid JSON");
	saved_bad("{", "not valid JSON");
	saved_bad("[]", "not a hosttrail audit state");
	saved_bad("{}", "not a hosttrail audit state");
	saved_bad("{\"version\":2," ST ",\"rules\":[]}", "not a hosttrail audit state");
	saved_bad("{\"version\":\"1\"," ST ",\"rules\":[]}", "not a hosttrail audit state");
	saved_bad("{\"version\":1,\"rules\":[]}", "no \"saved\" status");
	saved_bad("{\"version\":1," ST "}", "no \"rules\" list");
	saved_bad("{\"version\":1," ST ",\"rules\":{}}", "\"rules\" is not an array");
	saved_bad("{\"version\":1," ST ",\"rules\":[1]}", "a rule is not a non-empty string");
	saved_bad("{\"version\":1," ST ",\"rules\":[\"\"]}", "a rule is not a non-empty string");
	saved_bad("{\"version\":1," ST ",\"rules\":[\"-w /a\\u0000b\"]}", "a rule is not");
	saved_bad("{\"version\":1,\"saved\":{\"enabled\":2,\"failure\":1,\"backlog_limit\":64,"
	    "\"rate_limit\":0},\"rules\":[]}", "\"saved\" needs enabled (0-1)");
	saved_bad("{\"version\":1,\"saved\":{\"enabled\":0,\"failure\":3,\"backlog_limit\":64,"
	    "\"rate_limit\":0},\"rules\":[]}", "\"saved\" needs");
	saved_bad("{\"version\":1,\"saved\":{\"enabled\":0,\"failure\":1,\"backlog_limit\":-1,"
	    "\"rate_limit\":0},\"rules\":[]}", "\"saved\" needs");
	saved_bad("{\"version\":1,\"saved\":{\"enabled\":0,\"failure\":1,"
	    "\"backlog_limit\":4294967296,\"rate_limit\":0},\"rules\":[]}", "\"saved\" needs");
	saved_bad("{\"version\":1,\"saved\":{\"enabled\":0,\"failure\":1,\"backlog_limit\":64,"
	    "\"rate_limit\":99999999999999999999999},\"rules\":[]}", "\"saved\" needs");
	saved_bad("{\"version\":1,\"saved\":{\"enabled\":0,\"failure\":1,\"backlog_limit\":64},"
	    "\"rules\":[]}", "\"saved\" needs");
	saved_bad("{\"version\":1,\"saved\":[]," "\"rules\":[]}", "\"saved\" needs");
	/* json-c's strict mode may refuse it itself */
	saved_bad("{\"version\":1," ST ",\"rules\":[]} {}", "");
	saved_bad("{\"version\":1," ST ",\"rules\":[]}\n\n\"x\"", "");
	saved_bad("{\"version\":1," ST ",\"rules\":[]}x", "not valid JSON");

	/* every prefix of a good file is refused: a torn write is noticed */
	for (n = 0; n + 1 < sizeof(good) - 1; n++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(ht_audit_saved_parse(good, n, &s, NULL, 0), -EINVAL);
	}
	assert_int_equal(ht_audit_saved_parse(good, sizeof(good) - 1, &s, NULL, 0), 0);
	assert_int_equal(s.n_rules, 1);
	assert_int_equal(s.status.backlog_limit, 64);
	ht_audit_saved_clear(&s);
	/* a NUL after the object is not blank */
	assert_int_equal(ht_audit_saved_parse(good, sizeof(good), &s, NULL, 0), -EINVAL);
}

/* ---- status ---- */

static void
test_status_parse(void **state UNUSED)
{
	uint32_t raw[12] = { 0x3ff, 1, 2, 4321, 100, 8192, 7, 3, 0x7f, 60000, 5, 9 };
	struct ht_audit_status st;

	assert_int_equal(ht_audit_status_parse(raw, sizeof(raw), &st), 0);
	assert_int_equal(st.mask, 0x3ff);
	assert_int_equal(st.enabled, 1);
	assert_int_equal(st.failure, 2);
	assert_int_equal(st.pid, 4321);
	assert_int_equal(st.rate_limit, 100);
	assert_int_equal(st.backlog_limit, 8192);
	assert_int_equal(st.lost, 7);
	assert_int_equal(st.backlog, 3);
	assert_int_equal(st.backlog_wait_time, 60000);

	/* the shortest a kernel sends: up to backlog; the rest reads 0 */
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(ht_audit_status_parse(raw, 32, &st), 0);
	assert_int_equal(st.backlog, 3);
	assert_int_equal(st.backlog_wait_time, 0);
	/* with the feature bitmap but not backlog_wait_time */
	assert_int_equal(ht_audit_status_parse(raw, 36, &st), 0);
	assert_int_equal(st.backlog_wait_time, 0);
	assert_int_equal(ht_audit_status_parse(raw, 40, &st), 0);
	assert_int_equal(st.backlog_wait_time, 60000);

	memset(&st, 0xff, sizeof(st));
	assert_int_equal(ht_audit_status_parse(raw, 31, &st), -EINVAL);
	assert_int_equal(ht_audit_status_parse(raw, 0, &st), -EINVAL);
	assert_int_equal(ht_audit_status_parse(NULL, 40, &st), -EINVAL);
	assert_int_equal(st.enabled, 0xffffffffu);	/* untouched */
}

/* Read-only: integration tests may hold the kernel's audit state. */
static void
test_status_get_live(void **state UNUSED)
{
	struct ht_audit_status st;
	int fd, e;

	fd = audit_open();
	if (fd < 0) {
		print_message("no audit netlink socket here (%s); skipping\n", strerror(errno));
		skip();
	}
	e = ht_audit_status_get(fd, 2000, &st);
	close(fd);
	if (e == -ECONNREFUSED || e == -EPERM || e == -EACCES) {
		print_message("the kernel refuses AUDIT_GET here (%s); skipping\n", strerror(-e));
		skip();
	}
	assert_int_equal(e, 0);
	assert_true(st.enabled <= 2);
	assert_true(st.failure <= 2);
	print_message("kernel audit: enabled %u failure %u pid %u backlog_limit %u lost %u\n",
	    st.enabled, st.failure, st.pid, st.backlog_limit, st.lost);
}

/* ---- allocation failures ---- */

/* One pass over everything that allocates; each call fails cleanly or
 * works.  Returns how many failed. */
static unsigned
alloc_pass(const char *file)
{
	static const char *const lines[] = { "-a always,exit -F arch=b64 -S execve -k a -k b",
		"-w /etc/passwd -p wa -k passwd", "-a always,exit -S exeve" };
	char r0[] = "-w /etc/passwd", r1[] = "-a always,exit -S all";
	char *rules[] = { r0, r1 };
	struct ht_audit_saved s = { .rules = rules, .n_rules = 2 }, back;
	struct ht_audit_rules *rs = NULL;
	unsigned fails = 0;
	char *text = NULL;
	size_t i, len;
	int e;

	e = ht_audit_rules_new(&rs);
	if (e < 0) {
		assert_int_equal(e, -ENOMEM);
		return 1;
	}
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		e = ht_audit_rules_add(rs, lines[i], "r", errbuf, sizeof(errbuf));
		assert_true(e == 0 || e == -ENOMEM || (i == 2 && e == -EINVAL));
		fails += e == -ENOMEM;
	}
	assert_true(ht_audit_rules_count(rs) <= 2);
	e = ht_audit_rules_add_file(rs, file, errbuf, sizeof(errbuf));
	assert_true(e == 0 || e == -ENOMEM);
	fails += e == -ENOMEM;
	ht_audit_rules_free(rs);

	e = ht_audit_saved_format(&s, &text, &len);
	assert_true(e == 0 || e == -ENOMEM);
	fails += e == -ENOMEM;
	if (e == 0) {
		e = ht_audit_saved_parse(text, len, &back, NULL, 0);
		assert_true(e == 0 || e == -ENOMEM);
		fails += e == -ENOMEM;
		if (e == 0)
			ht_audit_saved_clear(&back);
	}
	free(text);
	return fails;
}

static void
test_out_of_memory(void **state UNUSED)
{
	static const char text[] = "-a always,exit -S open\n-w /etc/shadow\n";
	char path[] = "/tmp/test_audit_ctl_oom.XXXXXX";
	unsigned n, fails;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	alloc_calls = 0;
	alloc_fail_at = 0;
	assert_int_equal(alloc_pass(path), 0);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		unlink(path);
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	for (n = 1;; n++) {
		alloc_calls = 0;
		alloc_fail_at = n;
		fails = alloc_pass(path);
		alloc_fail_at = 0;
		if (alloc_calls < n) {
			assert_int_equal(fails, 0);
			break;
		}
		assert_true(fails > 0);
	}
	unlink(path);
	print_message("failed each of %u allocations\n", n - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscall_rule),
		cmocka_unit_test(test_lists_and_actions),
		cmocka_unit_test(test_syscall_forms),
		cmocka_unit_test(test_field_operators),
		cmocka_unit_test(test_path_fields),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_watches),
		cmocka_unit_test(test_blank_and_comments),
		cmocka_unit_test(test_refused_options),
		cmocka_unit_test(test_refused_rules),
		cmocka_unit_test(test_rules_file),
		cmocka_unit_test(test_saved_round_trip),
		cmocka_unit_test(test_saved_damaged),
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_status_get_live),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
