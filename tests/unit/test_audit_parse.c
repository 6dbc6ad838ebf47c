/*
 * test_audit_parse.c - daemon/sources/audit_parse.c: every record shape
 * auditd writes (raw and ENRICHED, node= prefix, msg='...', UNKNOWN[n]) and
 * the netlink payloads, the hex decoding rules and their negative cases,
 * refused lines with their reasons, then the assembler: EOE, standalone
 * types and their trailers, interleaved serials, timeout, the three bounds,
 * flush, low_tag, stats, EXECVE chunks joined across records, and every
 * allocation failing in turn.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sources/audit_parse.h"

#define UNUSED __attribute__((unused))

#include "alloc_fail.h"

#define GS "\x1d"

static char errbuf[256];

/* ---- helpers ---- */

static struct ht_audit_record *
parse_ok(const char *line)
{
	struct ht_audit_record *r = NULL;
	int e;

	e = ht_audit_parse_line(line, strlen(line), &r, errbuf, sizeof(errbuf));
	if (e != 0)
		print_message("refused (%d: %s): %s\n", e, errbuf, line);
	assert_int_equal(e, 0);
	assert_non_null(r);
	return r;
}

/* line is refused with e and a reason containing why. */
static void
parse_bad_n(const char *line, size_t len, int e, const char *why)
{
	struct ht_audit_record *r = NULL;

	errbuf[0] = '\0';
	assert_int_equal(ht_audit_parse_line(line, len, &r, errbuf, sizeof(errbuf)), e);
	assert_null(r);
	if (strstr(errbuf, why) == NULL)
		print_message("reason \"%s\", wanted \"%s\"\n", errbuf, why);
	assert_non_null(strstr(errbuf, why));
}

static void
parse_bad(const char *line, int e, const char *why)
{
	parse_bad_n(line, strlen(line), e, why);
}

static void
assert_field(const struct ht_audit_record *r, const char *name, const char *value)
{
	const struct ht_audit_field *f = ht_audit_field(r, name);

	if (f == NULL)
		print_message("no field %s\n", name);
	assert_non_null(f);
	assert_string_equal(f->value, value);
	assert_int_equal(f->len, strlen(value));
}

static void
assert_interp(const struct ht_audit_record *r, const char *name, const char *interp)
{
	const struct ht_audit_field *f = ht_audit_field(r, name);

	assert_non_null(f);
	if (interp == NULL) {
		assert_null(f->interp);
		return;
	}
	assert_non_null(f->interp);
	assert_string_equal(f->interp, interp);
}

static bool
field_hex(const struct ht_audit_record *r, const char *name)
{
	const struct ht_audit_field *f = ht_audit_field(r, name);

	assert_non_null(f);
	return f->hex;
}

/* ---- record shapes ---- */

#define SYSCALL_RAW \
	"type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 " \
	"success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=1000 pid=1234 " \
	"auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 " \
	"ses=3 comm=\"sudo\" exe=\"/usr/bin/sudo\" subj=unconfined key=\"exec\""

static void
test_syscall_raw(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(SYSCALL_RAW "\n");

	assert_int_equal(r->type, HT_AUDIT_SYSCALL);
	assert_string_equal(r->type_name, "SYSCALL");
	assert_int_equal(r->time_ms, 1700000000123LL);
	assert_int_equal(r->serial, 4567);
	assert_null(r->node);
	assert_int_equal(r->tag, 0);
	assert_int_equal(r->n_fields, 26);
	assert_string_equal(r->fields[0].name, "arch");
	assert_string_equal(r->fields[25].name, "key");
	assert_field(r, "arch", "c000003e");
	assert_field(r, "syscall", "59");
	assert_field(r, "comm", "sudo");
	assert_field(r, "exe", "/usr/bin/sudo");
	assert_field(r, "key", "exec");
	assert_field(r, "tty", "pts0");
	/* SYSCALL's a0..a3 are numbers, never decoded */
	assert_field(r, "a0", "55d1");
	assert_false(field_hex(r, "a0"));
	assert_false(field_hex(r, "comm"));
	assert_interp(r, "uid", NULL);
	assert_null(ht_audit_field(r, "nope"));
	ht_audit_record_free(r);
}

static void
test_syscall_enriched(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "type=SYSCALL msg=audit(1615114232.375:15558): arch=c000003e syscall=59 "
	    "success=yes exit=0 a0=63b2 a1=63b3 a2=63b4 a3=fffffffffffff000 items=2 "
	    "ppid=10883 pid=10884 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
	    "sgid=0 fsgid=0 tty=pts1 ses=1 comm=\"whoami\" exe=\"/usr/bin/whoami\" "
	    "key=(null)" GS "ARCH=x86_64 SYSCALL=execve AUID=\"user\" UID=\"root\" "
	    "GID=\"root\" EUID=\"root\" SUID=\"root\" FSUID=\"root\" EGID=\"root\" "
	    "SGID=\"root\" FSGID=\"root\"\n");

	/* the interpretations add no fields */
	assert_int_equal(r->n_fields, 25);
	assert_field(r, "key", "(null)");
	assert_interp(r, "arch", "x86_64");
	assert_interp(r, "syscall", "execve");
	assert_interp(r, "auid", "user");
	assert_interp(r, "uid", "root");
	assert_interp(r, "fsgid", "root");
	assert_interp(r, "pid", NULL);
	assert_interp(r, "key", NULL);
	ht_audit_record_free(r);
}

static void
test_execve(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "type=EXECVE msg=audit(1700000000.123:4567): argc=3 a0=\"ls\" a1=\"-l\" "
	    "a2=2F746D702F612062");

	assert_int_equal(r->type, HT_AUDIT_EXECVE);
	assert_field(r, "argc", "3");
	assert_field(r, "a0", "ls");
	assert_field(r, "a1", "-l");
	assert_field(r, "a2", "/tmp/a b");
	assert_true(field_hex(r, "a2"));
	assert_false(field_hex(r, "a0"));
	ht_audit_record_free(r);
}

static void
test_execve_chunks_parsed(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "type=EXECVE msg=audit(1700000000.123:4567): argc=2 a0=\"echo\" a1_len=6 "
	    "a1[0]=616263 a1[1]=\"def\"");

	/* the parser leaves chunks as they came: the assembler joins them */
	assert_field(r, "a1_len", "6");
	assert_field(r, "a1[0]", "abc");
	assert_true(field_hex(r, "a1[0]"));
	assert_field(r, "a1[1]", "def");
	assert_null(ht_audit_field(r, "a1"));
	ht_audit_record_free(r);
}

static void
test_hex_rules(void **state UNUSED)
{
	struct ht_audit_record *r;

	/* lower case, odd length, quoted: kept as written */
	r = parse_ok("type=EXECVE msg=audit(1.000:1): argc=4 a0=2f746d70 a1=2F746D7 "
	    "a2=\"2F746D70\" a3=ZZ a4=2F");
	assert_field(r, "a0", "2f746d70");
	assert_false(field_hex(r, "a0"));
	assert_field(r, "a1", "2F746D7");
	assert_false(field_hex(r, "a1"));
	assert_field(r, "a2", "2F746D70");
	assert_false(field_hex(r, "a2"));
	assert_field(r, "a3", "ZZ");
	assert_field(r, "a4", "/");
	assert_true(field_hex(r, "a4"));
	ht_audit_record_free(r);

	/* hex-looking numbers in fields audit never encodes */
	r = parse_ok("type=PATH msg=audit(1.000:1): item=0 name=2F746D702F782079 inode=1234 "
	    "dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0");
	assert_field(r, "name", "/tmp/x y");
	assert_true(field_hex(r, "name"));
	assert_field(r, "inode", "1234");
	assert_false(field_hex(r, "inode"));
	assert_field(r, "mode", "0100755");
	ht_audit_record_free(r);

	/* "(null)" and "?" stay; several keys keep their 0x01 separators */
	r = parse_ok("type=SYSCALL msg=audit(1.000:1): comm=3F exe=? key=6101620163 "
	    "cwd=(null)");
	assert_field(r, "comm", "?");
	assert_field(r, "exe", "?");
	assert_field(r, "cwd", "(null)");
	assert_field(r, "key", "a\001b\001c");
	ht_audit_record_free(r);

	/* a NUL decoded outside proctitle stays, and len says so */
	r = parse_ok("type=TTY msg=audit(1.000:1): data=6100620D");
	assert_int_equal(ht_audit_field(r, "data")->len, 4);
	assert_memory_equal(ht_audit_field(r, "data")->value, "a\0b\r", 4);
	ht_audit_record_free(r);
}

static void
test_cwd_path(void **state UNUSED)
{
	struct ht_audit_record *r;

	r = parse_ok("type=CWD msg=audit(1700000000.123:4567): cwd=\"/root\"");
	assert_int_equal(r->type, HT_AUDIT_CWD);
	assert_field(r, "cwd", "/root");
	ht_audit_record_free(r);

	r = parse_ok("type=CWD msg=audit(1700000000.123:4567): cwd=2F686F6D652F6120622F63");
	assert_field(r, "cwd", "/home/a b/c");
	ht_audit_record_free(r);

	r = parse_ok("type=PATH msg=audit(1700000000.123:4567): item=0 name=\"/usr/bin/ls\" "
	    "inode=123 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL "
	    "cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0" GS "OUID=\"root\" OGID=\"root\"");
	assert_int_equal(r->type, HT_AUDIT_PATH);
	assert_field(r, "name", "/usr/bin/ls");
	assert_field(r, "nametype", "NORMAL");
	assert_field(r, "cap_fver", "0");
	assert_interp(r, "ouid", "root");
	assert_interp(r, "ogid", "root");
	ht_audit_record_free(r);
}

static void
test_proctitle(void **state UNUSED)
{
	struct ht_audit_record *r;

	r = parse_ok("type=PROCTITLE msg=audit(1.000:1): proctitle=6C73002D6C");
	assert_field(r, "proctitle", "ls -l");
	assert_true(field_hex(r, "proctitle"));
	ht_audit_record_free(r);

	/* trailing NULs go, not into trailing spaces */
	r = parse_ok("type=PROCTITLE msg=audit(1.000:1): proctitle=6C73002D6C0000");
	assert_field(r, "proctitle", "ls -l");
	ht_audit_record_free(r);

	r = parse_ok("type=PROCTITLE msg=audit(1.000:1): proctitle=\"whoami\"");
	assert_field(r, "proctitle", "whoami");
	assert_false(field_hex(r, "proctitle"));
	ht_audit_record_free(r);
}

static void
test_eoe(void **state UNUSED)
{
	struct ht_audit_record *r;

	r = parse_ok("type=EOE msg=audit(1700000000.123:4567):");
	assert_int_equal(r->type, HT_AUDIT_EOE);
	assert_int_equal(r->n_fields, 0);
	ht_audit_record_free(r);
	r = parse_ok("type=EOE msg=audit(1700000000.123:4567): \r\n");
	assert_int_equal(r->n_fields, 0);
	ht_audit_record_free(r);
}

static void
test_user_login_enriched(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "type=USER_LOGIN msg=audit(1700000000.500:4568): pid=900 uid=0 auid=1000 ses=3 "
	    "subj=unconfined msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=10.0.0.5 "
	    "addr=10.0.0.5 terminal=ssh res=success'" GS "UID=\"root\" AUID=\"alice\" "
	    "ID=\"alice\"\n");

	assert_int_equal(r->type, HT_AUDIT_USER_LOGIN);
	assert_int_equal(r->n_fields, 12);
	assert_field(r, "pid", "900");
	assert_field(r, "op", "login");
	assert_field(r, "id", "1000");
	assert_field(r, "exe", "/usr/sbin/sshd");
	assert_field(r, "hostname", "10.0.0.5");
	assert_field(r, "addr", "10.0.0.5");
	assert_field(r, "terminal", "ssh");
	assert_field(r, "res", "success");
	assert_null(ht_audit_field(r, "msg"));
	assert_interp(r, "uid", "root");
	assert_interp(r, "auid", "alice");
	assert_interp(r, "id", "alice");
	ht_audit_record_free(r);
}

static void
test_user_auth(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "type=USER_AUTH msg=audit(1700000001.000:4569): pid=901 uid=1000 auid=1000 ses=3 "
	    "subj=unconfined msg='op=PAM:authentication grantors=pam_unix acct=\"alice\" "
	    "exe=\"/usr/bin/sudo\" hostname=? addr=? terminal=/dev/pts/0 res=failed'");

	assert_int_equal(r->type, HT_AUDIT_USER_AUTH);
	assert_field(r, "op", "PAM:authentication");
	assert_field(r, "grantors", "pam_unix");
	assert_field(r, "acct", "alice");
	assert_field(r, "hostname", "?");
	assert_field(r, "addr", "?");
	assert_field(r, "terminal", "/dev/pts/0");
	assert_field(r, "res", "failed");
	ht_audit_record_free(r);

	/* acct hex-encoded by the PAM module when it has a space */
	r = parse_ok("type=USER_AUTH msg=audit(1.000:1): pid=1 msg='op=PAM:authentication "
	    "acct=6A6F686E20646F65 res=failed'");
	assert_field(r, "acct", "john doe");
	ht_audit_record_free(r);
}

static void
test_add_user(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "type=ADD_USER msg=audit(1700000002.000:4570): pid=950 uid=0 auid=1000 ses=3 "
	    "subj=unconfined msg='op=adding user id=1001 exe=\"/usr/sbin/useradd\" hostname=h "
	    "addr=? terminal=pts/0 res=success'");

	assert_int_equal(r->type, HT_AUDIT_ADD_USER);
	/* a bare word continues the unquoted value before it */
	assert_field(r, "op", "adding user");
	assert_field(r, "id", "1001");
	assert_field(r, "exe", "/usr/sbin/useradd");
	assert_field(r, "terminal", "pts/0");
	ht_audit_record_free(r);
}

static void
test_unknown_type(void **state UNUSED)
{
	struct ht_audit_record *r;

	r = parse_ok("type=UNKNOWN[1334] msg=audit(1700000003.000:4571): prog-id=75 op=LOAD");
	assert_int_equal(r->type, 1334);
	assert_string_equal(r->type_name, "UNKNOWN[1334]");
	assert_field(r, "prog-id", "75");
	ht_audit_record_free(r);

	/* a name this table does not know: type 0, name as written */
	r = parse_ok("type=FUTURE_THING msg=audit(1.000:1): x=1");
	assert_int_equal(r->type, 0);
	assert_string_equal(r->type_name, "FUTURE_THING");
	assert_false(ht_audit_type_standalone(r->type));
	ht_audit_record_free(r);
}

static void
test_daemon_start(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "type=DAEMON_START msg=audit(1700000000.000:1234): op=start ver=3.0.9 "
	    "format=enriched kernel=6.1.0 auid=4294967295 pid=1 uid=0 ses=4294967295 "
	    "subj=unconfined res=success" GS "AUID=\"unset\" UID=\"root\"");

	assert_int_equal(r->type, HT_AUDIT_DAEMON_START);
	assert_field(r, "auid", "4294967295");
	assert_interp(r, "auid", "unset");
	assert_field(r, "format", "enriched");
	ht_audit_record_free(r);
}

static void
test_node_prefix(void **state UNUSED)
{
	struct ht_audit_record *r = parse_ok(
	    "node=web-01.example.com type=CWD msg=audit(1615114232.375:15558): cwd=\"/tmp\"");

	assert_non_null(r->node);
	assert_string_equal(r->node, "web-01.example.com");
	assert_int_equal(r->serial, 15558);
	assert_field(r, "cwd", "/tmp");
	ht_audit_record_free(r);
}

static void
test_odd_shapes(void **state UNUSED)
{
	struct ht_audit_record *r;

	/* SELinux AVC: the words before the first field are "text" */
	r = parse_ok("type=AVC msg=audit(1631798689.083:65686): avc:  denied  { setuid } for  "
	    "pid=15381 comm=\"laurel\" capability=7  scontext=system_u:system_r:auditd_t:s0 "
	    "tclass=capability permissive=1");
	assert_string_equal(r->fields[0].name, "text");
	assert_field(r, "text", "avc:  denied  { setuid } for");
	assert_field(r, "pid", "15381");
	assert_field(r, "permissive", "1");
	ht_audit_record_free(r);

	/* AppArmor's subj with a space, and "==" */
	r = parse_ok("type=ANOM_ABEND msg=audit(1703677054.334:4223663): auid=4294967295 uid=0 "
	    "subj==/usr/bin/man//&man_groff (enforce) pid=109919 comm=\"preconv\" sig=31 "
	    "res=1" GS "AUID=\"unset\" UID=\"root\"");
	assert_field(r, "subj", "=/usr/bin/man//&man_groff (enforce)");
	assert_field(r, "pid", "109919");
	assert_interp(r, "auid", "unset");
	ht_audit_record_free(r);

	/* a braced interpretation; one whose field is missing */
	r = parse_ok("type=SOCKADDR msg=audit(1708689989.768:339749193): "
	    "saddr=100000000000000000000000" GS "SADDR={ fam=netlink nlnk-fam=16 nlnk-pid=0 } "
	    "EXTRA=\"x y\"");
	assert_interp(r, "saddr", "fam=netlink nlnk-fam=16 nlnk-pid=0");
	assert_field(r, "EXTRA", "x y");
	assert_interp(r, "EXTRA", "x y");
	ht_audit_record_free(r);

	/* USER_AVC's free text inside msg='...' */
	r = parse_ok("type=USER_AVC msg=audit(1.000:1): pid=1 uid=0 msg='avc:  received "
	    "policyload notice (seqno=2)  exe=\"/usr/lib/systemd/systemd\" sauid=0 "
	    "hostname=? addr=? terminal=?'");
	assert_field(r, "text", "avc:  received policyload notice (seqno=2)");
	assert_field(r, "exe", "/usr/lib/systemd/systemd");
	assert_field(r, "terminal", "?");
	ht_audit_record_free(r);

	/* an empty value, a single-quoted value that is not msg */
	r = parse_ok("type=USER_CMD msg=audit(1.000:1): pid=1 msg='cwd=\"/\" cmd=6C73 "
	    "terminal= res=success' x='a b'");
	assert_field(r, "cmd", "ls");
	assert_field(r, "terminal", "");
	assert_field(r, "res", "success");
	assert_field(r, "x", "a b");
	ht_audit_record_free(r);
}

static void
test_netlink(void **state UNUSED)
{
	static const char p1[] = "audit(1700000000.123:4567): arch=c000003e syscall=59 "
	    "comm=\"ls\" exe=\"/usr/bin/ls\" key=(null)";
	static const char p2[] = "audit(1700000000.123:4567): cwd=\"/root\"\n";
	struct ht_audit_record *r = NULL;

	/* the kernel's payload may end in a NUL */
	assert_int_equal(ht_audit_parse_netlink(HT_AUDIT_SYSCALL, p1, sizeof(p1), &r, errbuf,
	    sizeof(errbuf)), 0);
	assert_string_equal(r->type_name, "SYSCALL");
	assert_int_equal(r->serial, 4567);
	assert_field(r, "key", "(null)");
	assert_field(r, "exe", "/usr/bin/ls");
	ht_audit_record_free(r);

	assert_int_equal(ht_audit_parse_netlink(1999, p2, strlen(p2), &r, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(r->type, 1999);
	assert_string_equal(r->type_name, "UNKNOWN[1999]");
	assert_field(r, "cwd", "/root");
	ht_audit_record_free(r);

	r = NULL;
	assert_int_equal(ht_audit_parse_netlink(HT_AUDIT_CWD, "type=CWD msg=audit(1.000:1): ",
	    29, &r, errbuf, sizeof(errbuf)), -EINVAL);
	assert_null(r);
	assert_non_null(strstr(errbuf, "expected audit( at byte 0"));
}

static void
test_refused(void **state UNUSED)
{
	static const char *const long_fields = "type=EXECVE msg=audit(1.000:1):";
	struct ht_audit_record *r = NULL;
	char *big;
	size_t i, n;

	parse_bad("", -EINVAL, "empty line");
	parse_bad("\n", -EINVAL, "empty line");
	parse_bad("hello world", -EINVAL, "expected type= at byte 0");
	parse_bad("----", -EINVAL, "expected type=");
	parse_bad("type=", -EINVAL, "bad type at byte 5");
	parse_bad("type=SYSCALL", -EINVAL, "bad type");
	parse_bad("type=SYSCALL arch=x", -EINVAL, "expected msg=audit( at byte 13");
	parse_bad("type=SYSCALL msg=audit(", -EINVAL, "bad audit(TIME:SERIAL) at byte 23");
	parse_bad("type=SYSCALL msg=audit(1700000000.1:5): x=1", -EINVAL,
	    "bad audit(TIME:SERIAL)");
	parse_bad("type=SYSCALL msg=audit(1700000000.123:): x=1", -EINVAL,
	    "bad audit(TIME:SERIAL)");
	parse_bad("type=SYSCALL msg=audit(1700000000.123:5) x=1", -EINVAL,
	    "bad audit(TIME:SERIAL)");
	parse_bad("type=SYSCALL msg=audit(1700000000.123:99999999999999999999999): ", -EINVAL,
	    "bad audit(TIME:SERIAL)");
	parse_bad("type=SYSCALL msg=audit(99999999999999999.123:1): ", -EINVAL,
	    "bad audit(TIME:SERIAL)");
	parse_bad("type=UNKNOWN[x] msg=audit(1.000:1): ", -EINVAL, "bad type");
	/* truncated in the middle of a value */
	parse_bad("type=PATH msg=audit(1.000:1): item=0 name=\"/usr/b", -EINVAL,
	    "unterminated \" at byte 42");
	parse_bad("type=USER_LOGIN msg=audit(1.000:1): pid=1 msg='op=login res=succ", -EINVAL,
	    "unterminated msg='");
	parse_bad("type=SOCKADDR msg=audit(1.000:1): saddr=01" GS "SADDR={ fam=inet", -EINVAL,
	    "unterminated interpretation");

	/* absurd sizes */
	n = HT_AUDIT_LINE_MAX + 1;
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	parse_bad_n(big, n, -E2BIG, "more than");
	n = strlen(long_fields);
	memcpy(big, long_fields, n);
	for (i = 0; i < HT_AUDIT_FIELDS_MAX + 10; i++)
		n += (size_t)sprintf(big + n, " a=b");
	parse_bad_n(big, n, -EINVAL, "too many fields");
	free(big);

	/* a NULL errbuf is fine */
	assert_int_equal(ht_audit_parse_line("x", 1, &r, NULL, 0), -EINVAL);
	assert_null(r);
}

static void
test_types(void **state UNUSED)
{
	struct ht_audit_record *r;
	const char *name;
	char line[128];
	unsigned t, named = 0;

	/* every name in the table parses back to its number: this fails if
	 * the table is out of order for its binary search */
	for (t = 0; t < 3000; t++) {
		name = ht_audit_type_name(t);
		if (name == NULL)
			continue;
		named++;
		snprintf(line, sizeof(line), "type=%s msg=audit(1.000:1): ", name);
		r = parse_ok(line);
		assert_int_equal(r->type, t);
		assert_ptr_equal(r->type_name, name);
		ht_audit_record_free(r);
	}
	assert_true(named > 200);
	assert_string_equal(ht_audit_type_name(1300), "SYSCALL");
	assert_string_equal(ht_audit_type_name(1327), "PROCTITLE");
	assert_null(ht_audit_type_name(0));
	assert_null(ht_audit_type_name(1999));
	assert_null(ht_audit_type_name(99999));

	assert_true(ht_audit_type_standalone(HT_AUDIT_USER_LOGIN));
	assert_true(ht_audit_type_standalone(HT_AUDIT_LOGIN));
	assert_true(ht_audit_type_standalone(HT_AUDIT_DAEMON_START));
	assert_true(ht_audit_type_standalone(HT_AUDIT_SERVICE_START));
	assert_true(ht_audit_type_standalone(HT_AUDIT_CONFIG_CHANGE));
	assert_true(ht_audit_type_standalone(HT_AUDIT_ANOM_ABEND));
	assert_true(ht_audit_type_standalone(HT_AUDIT_KERNEL));
	assert_true(ht_audit_type_standalone(2100));
	assert_true(ht_audit_type_standalone(2500));
	assert_false(ht_audit_type_standalone(0));
	assert_false(ht_audit_type_standalone(HT_AUDIT_SYSCALL));
	assert_false(ht_audit_type_standalone(HT_AUDIT_EXECVE));
	assert_false(ht_audit_type_standalone(HT_AUDIT_PROCTITLE));
	assert_false(ht_audit_type_standalone(HT_AUDIT_EOE));
	assert_false(ht_audit_type_standalone(HT_AUDIT_AVC));
	assert_false(ht_audit_type_standalone(1334));
}

/* ---- the assembler ---- */

struct sink {
	struct ht_audit_event *ev[64];
	size_t n;
};

static void
sink_fn(struct ht_audit_event *e, void *arg)
{
	struct sink *s = arg;
	size_t i;

	assert_true(s->n < 64);
	/* every record shares the event's audit(TIME:SERIAL) */
	for (i = 0; i < e->n_records; i++) {
		assert_int_equal(e->records[i]->serial, e->serial);
		assert_int_equal(e->records[i]->time_ms, e->time_ms);
		assert_int_not_equal(e->records[i]->type, HT_AUDIT_EOE);
	}
	assert_true(e->n_records > 0);
	s->ev[s->n++] = e;
}

static void
sink_clear(struct sink *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		ht_audit_event_free(s->ev[i]);
	s->n = 0;
}

static struct ht_audit_asm *
asm_new(const struct ht_audit_asm_conf *conf, struct sink *s)
{
	struct ht_audit_asm *a = NULL;

	memset(s, 0, sizeof(*s));
	assert_int_equal(ht_audit_asm_new(conf, sink_fn, s, &a), 0);
	return a;
}

/* Feed "type=T msg=audit(1.SSS:SERIAL): body" with tag and clock now. */
static void
feed(struct ht_audit_asm *a, const char *type, unsigned serial, const char *body,
    uint64_t tag, int64_t now)
{
	struct ht_audit_record *r;
	char line[512];

	snprintf(line, sizeof(line), "type=%s msg=audit(1700000000.%03u:%u): %s", type,
	    serial % 1000, serial, body);
	r = parse_ok(line);
	r->tag = tag;
	assert_int_equal(ht_audit_asm_feed(a, r, now), 0);
}

static void
test_asm_eoe(void **state UNUSED)
{
	struct ht_audit_asm_stats st;
	struct ht_audit_asm *a;
	struct sink s;

	a = asm_new(NULL, &s);
	feed(a, "SYSCALL", 10, "syscall=59 exe=\"/bin/ls\"", 100, 0);
	feed(a, "EXECVE", 10, "argc=1 a0=\"ls\"", 200, 0);
	feed(a, "CWD", 10, "cwd=\"/\"", 300, 0);
	feed(a, "PROCTITLE", 10, "proctitle=6C73", 400, 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(ht_audit_asm_low_tag(a), 100);
	feed(a, "EOE", 10, "", 500, 0);
	assert_int_equal(s.n, 1);
	assert_true(s.ev[0]->complete);
	assert_false(s.ev[0]->trailer);
	assert_int_equal(s.ev[0]->serial, 10);
	assert_int_equal(s.ev[0]->time_ms, 1700000000010LL);
	assert_int_equal(s.ev[0]->n_records, 4);
	assert_int_equal(s.ev[0]->first_tag, 100);
	assert_null(s.ev[0]->node);
	assert_int_equal(s.ev[0]->records[0]->type, HT_AUDIT_SYSCALL);
	assert_int_equal(s.ev[0]->records[3]->type, HT_AUDIT_PROCTITLE);
	assert_ptr_equal(ht_audit_event_record(s.ev[0], HT_AUDIT_CWD), s.ev[0]->records[2]);
	assert_null(ht_audit_event_record(s.ev[0], HT_AUDIT_PATH));
	assert_int_equal(ht_audit_asm_low_tag(a), UINT64_MAX);

	/* an EOE whose event is gone */
	feed(a, "EOE", 10, "", 600, 0);
	ht_audit_asm_stats(a, &st);
	assert_int_equal(st.records, 6);
	assert_int_equal(st.events, 1);
	assert_int_equal(st.incomplete, 0);
	assert_int_equal(st.orphans, 1);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.bytes, 0);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_standalone(void **state UNUSED)
{
	struct ht_audit_asm *a;
	struct sink s;

	a = asm_new(NULL, &s);
	feed(a, "USER_LOGIN", 20, "pid=1 msg='op=login res=success'", 1, 0);
	assert_int_equal(s.n, 1);
	assert_true(s.ev[0]->complete);
	assert_false(s.ev[0]->trailer);
	assert_int_equal(s.ev[0]->n_records, 1);
	assert_int_equal(s.ev[0]->records[0]->type, HT_AUDIT_USER_LOGIN);

	/* the syscall that carried it follows: an event of its own, flagged */
	feed(a, "SYSCALL", 20, "syscall=44 exe=\"/usr/sbin/sshd\"", 2, 0);
	feed(a, "SOCKADDR", 20, "saddr=100000000000000000000000", 3, 0);
	feed(a, "EOE", 20, "", 4, 0);
	assert_int_equal(s.n, 2);
	assert_true(s.ev[1]->complete);
	assert_true(s.ev[1]->trailer);
	assert_int_equal(s.ev[1]->n_records, 2);

	/* a standalone record while its serial is open: emitted alone, the
	 * open event stays */
	feed(a, "SYSCALL", 21, "syscall=1", 5, 0);
	feed(a, "LOGIN", 21, "pid=1 old-auid=4294967295 auid=1000", 6, 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ev[2]->records[0]->type, HT_AUDIT_LOGIN);
	feed(a, "EOE", 21, "", 7, 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.ev[3]->records[0]->type, HT_AUDIT_SYSCALL);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_interleaved(void **state UNUSED)
{
	struct ht_audit_asm_stats st;
	struct ht_audit_asm *a;
	struct sink s;

	a = asm_new(NULL, &s);
	feed(a, "SYSCALL", 30, "syscall=59", 10, 0);
	feed(a, "SYSCALL", 31, "syscall=2", 20, 0);
	feed(a, "CWD", 30, "cwd=\"/a\"", 30, 0);
	feed(a, "PATH", 31, "item=0 name=\"/b\"", 40, 0);
	feed(a, "CWD", 31, "cwd=\"/b\"", 50, 0);
	ht_audit_asm_stats(a, &st);
	assert_int_equal(st.open, 2);
	assert_true(st.bytes > 0);
	assert_int_equal(ht_audit_asm_low_tag(a), 10);
	feed(a, "EOE", 31, "", 60, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0]->serial, 31);
	assert_int_equal(s.ev[0]->n_records, 3);
	assert_int_equal(s.ev[0]->first_tag, 20);
	assert_int_equal(ht_audit_asm_low_tag(a), 10);
	feed(a, "EOE", 30, "", 70, 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[1]->serial, 30);
	assert_int_equal(s.ev[1]->n_records, 2);
	assert_string_equal(ht_audit_field(s.ev[1]->records[1], "cwd")->value, "/a");
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_nodes(void **state UNUSED)
{
	static const char *const lines[] = {
		"node=a type=SYSCALL msg=audit(1.000:7): syscall=1",
		"node=b type=SYSCALL msg=audit(1.000:7): syscall=2",
		"type=SYSCALL msg=audit(1.000:7): syscall=3",
		"type=SYSCALL msg=audit(2.000:7): syscall=4",
		"node=b type=EOE msg=audit(1.000:7): ",
		"node=a type=EOE msg=audit(1.000:7): ",
		"type=EOE msg=audit(2.000:7): ",
		"type=EOE msg=audit(1.000:7): ",
	};
	struct ht_audit_asm *a;
	struct sink s;
	size_t i;

	/* one serial on two nodes, without a node, at another time: 4 events */
	a = asm_new(NULL, &s);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(ht_audit_asm_feed(a, parse_ok(lines[i]), 0), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.ev[0]->node, "b");
	assert_field(s.ev[0]->records[0], "syscall", "2");
	assert_string_equal(s.ev[1]->node, "a");
	assert_field(s.ev[1]->records[0], "syscall", "1");
	assert_null(s.ev[2]->node);
	assert_field(s.ev[2]->records[0], "syscall", "4");
	assert_field(s.ev[3]->records[0], "syscall", "3");
	for (i = 0; i < 4; i++)
		assert_true(s.ev[i]->complete);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_timeout(void **state UNUSED)
{
	struct ht_audit_asm_conf conf = { .timeout_ms = 0 };	/* 2000 */
	struct ht_audit_asm_stats st;
	struct ht_audit_asm *a;
	struct sink s;

	a = asm_new(&conf, &s);
	feed(a, "SYSCALL", 40, "syscall=1", 1, 1000);
	feed(a, "SYSCALL", 41, "syscall=2", 2, 1500);
	feed(a, "CWD", 40, "cwd=\"/\"", 3, 2000);	/* 40 is busy again */
	ht_audit_asm_tick(a, 3499);
	assert_int_equal(s.n, 0);
	ht_audit_asm_tick(a, 3500);	/* 41: idle since 1500 */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0]->serial, 41);
	assert_false(s.ev[0]->complete);
	ht_audit_asm_tick(a, 3999);
	assert_int_equal(s.n, 1);
	/* a clock gone back closes nothing */
	ht_audit_asm_tick(a, -5000);
	assert_int_equal(s.n, 1);
	ht_audit_asm_tick(a, 4000);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[1]->serial, 40);
	assert_int_equal(s.ev[1]->n_records, 2);
	ht_audit_asm_stats(a, &st);
	assert_int_equal(st.incomplete, 2);
	assert_int_equal(st.open, 0);
	sink_clear(&s);
	ht_audit_asm_free(a);

	conf.timeout_ms = 50;
	a = asm_new(&conf, &s);
	feed(a, "SYSCALL", 42, "syscall=1", 1, 0);
	ht_audit_asm_tick(a, 49);
	assert_int_equal(s.n, 0);
	ht_audit_asm_tick(a, 50);
	assert_int_equal(s.n, 1);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_max_records(void **state UNUSED)
{
	struct ht_audit_asm_conf conf = { .max_records = 3 };
	struct ht_audit_asm *a;
	struct sink s;

	a = asm_new(&conf, &s);
	feed(a, "SYSCALL", 50, "syscall=1", 1, 0);
	feed(a, "PATH", 50, "item=0", 2, 0);
	assert_int_equal(s.n, 0);
	feed(a, "PATH", 50, "item=1", 3, 0);
	assert_int_equal(s.n, 1);
	assert_false(s.ev[0]->complete);
	assert_int_equal(s.ev[0]->n_records, 3);
	/* the rest starts over */
	feed(a, "PATH", 50, "item=2", 4, 0);
	feed(a, "EOE", 50, "", 5, 0);
	assert_int_equal(s.n, 2);
	assert_true(s.ev[1]->complete);
	assert_int_equal(s.ev[1]->n_records, 1);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_max_open(void **state UNUSED)
{
	struct ht_audit_asm_conf conf = { .max_open = 3 };
	struct ht_audit_asm_stats st;
	struct ht_audit_asm *a;
	struct sink s;

	a = asm_new(&conf, &s);
	feed(a, "SYSCALL", 60, "syscall=1", 1, 0);
	feed(a, "SYSCALL", 61, "syscall=1", 2, 1);
	feed(a, "SYSCALL", 62, "syscall=1", 3, 2);
	feed(a, "CWD", 60, "cwd=\"/\"", 4, 3);	/* 61 is now the idlest */
	assert_int_equal(s.n, 0);
	feed(a, "SYSCALL", 63, "syscall=1", 5, 4);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0]->serial, 61);
	assert_false(s.ev[0]->complete);
	ht_audit_asm_stats(a, &st);
	assert_int_equal(st.open, 3);
	assert_int_equal(ht_audit_asm_low_tag(a), 1);

	ht_audit_asm_flush(a);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.ev[1]->serial, 62);
	assert_int_equal(s.ev[2]->serial, 60);
	assert_int_equal(s.ev[3]->serial, 63);
	ht_audit_asm_stats(a, &st);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.events, 4);
	assert_int_equal(st.incomplete, 4);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(ht_audit_asm_low_tag(a), UINT64_MAX);
	ht_audit_asm_flush(a);
	assert_int_equal(s.n, 4);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_max_bytes(void **state UNUSED)
{
	struct ht_audit_asm_conf conf = { .max_bytes = 1 };
	struct ht_audit_asm *a;
	struct sink s;

	/* every record is over the bound: each event goes as it comes */
	a = asm_new(&conf, &s);
	feed(a, "SYSCALL", 70, "syscall=1", 1, 0);
	assert_int_equal(s.n, 1);
	assert_false(s.ev[0]->complete);
	feed(a, "SYSCALL", 71, "syscall=1", 1, 0);
	assert_int_equal(s.n, 2);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

static void
test_asm_free_open(void **state UNUSED)
{
	struct ht_audit_asm *a;
	struct sink s;

	/* open events are dropped, without a leak (ASan checks) */
	a = asm_new(NULL, &s);
	feed(a, "SYSCALL", 80, "syscall=1", 1, 0);
	feed(a, "SYSCALL", 81, "syscall=1", 1, 0);
	ht_audit_asm_free(a);
	assert_int_equal(s.n, 0);
	ht_audit_asm_free(NULL);
	ht_audit_event_free(NULL);
	ht_audit_record_free(NULL);
	a = asm_new(NULL, &s);
	assert_int_equal(ht_audit_asm_feed(a, NULL, 0), -EINVAL);
	ht_audit_asm_free(a);
	a = NULL;
	assert_int_equal(ht_audit_asm_new(NULL, NULL, NULL, &a), -EINVAL);
	assert_null(a);
}

static void
test_asm_execve_joined(void **state UNUSED)
{
	const struct ht_audit_record *x;
	struct ht_audit_asm *a;
	struct sink s;

	a = asm_new(NULL, &s);
	feed(a, "SYSCALL", 90, "syscall=59", 10, 0);
	feed(a, "EXECVE", 90, "argc=4 a0=\"echo\" a1_len=9 a1[0]=616263", 20, 0);
	feed(a, "EXECVE", 90, " a1[1]=646566", 30, 0);
	feed(a, "EXECVE", 90, " a1[2]=\"ghi\" a2=\"x\" a3_len=2 a3[0]=\"y\" a3[1]=7A", 40, 0);
	feed(a, "CWD", 90, "cwd=\"/\"", 50, 0);
	feed(a, "EOE", 90, "", 60, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0]->n_records, 3);
	assert_int_equal(s.ev[0]->records[0]->type, HT_AUDIT_SYSCALL);
	assert_int_equal(s.ev[0]->records[2]->type, HT_AUDIT_CWD);
	x = ht_audit_event_record(s.ev[0], HT_AUDIT_EXECVE);
	assert_ptr_equal(x, s.ev[0]->records[1]);
	assert_string_equal(x->type_name, "EXECVE");
	assert_int_equal(x->serial, 90);
	assert_int_equal(x->tag, 20);
	assert_int_equal(x->n_fields, 5);
	assert_field(x, "argc", "4");
	assert_field(x, "a0", "echo");
	assert_field(x, "a1", "abcdefghi");
	assert_true(ht_audit_field(x, "a1")->hex);
	assert_field(x, "a2", "x");
	assert_field(x, "a3", "yz");
	assert_null(ht_audit_field(x, "a1_len"));
	assert_null(ht_audit_field(x, "a1[0]"));
	assert_int_equal(s.ev[0]->first_tag, 10);
	sink_clear(&s);

	/* one EXECVE without chunks is handed on as parsed */
	feed(a, "EXECVE", 91, "argc=1 a0=\"ls\"", 1, 0);
	feed(a, "EOE", 91, "", 2, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0]->records[0]->n_fields, 2);
	sink_clear(&s);

	/* chunks in one record, the event closed by flush */
	assert_int_equal(ht_audit_asm_feed(a, parse_ok("node=n1 type=EXECVE "
	    "msg=audit(1.000:92): argc=1 a0_len=4 a0[0]=\"ab\" a0[1]=\"cd\""), 0), 0);
	ht_audit_asm_flush(a);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ev[0]->node, "n1");
	x = s.ev[0]->records[0];
	assert_field(x, "a0", "abcd");
	assert_int_equal(x->n_fields, 2);
	sink_clear(&s);
	ht_audit_asm_free(a);
}

/* ---- out of memory ---- */

static void
test_out_of_memory(void **state UNUSED)
{
	static const char *const lines[] = {
		"type=SYSCALL msg=audit(1.000:1): syscall=59",
		"type=EXECVE msg=audit(1.000:1): argc=2 a0=\"a\" a1_len=2 a1[0]=\"b\"",
		"type=EXECVE msg=audit(1.000:1): a1[1]=\"c\"",
		"type=PATH msg=audit(1.000:1): item=0", "type=PATH msg=audit(1.000:1): item=1",
		"type=PATH msg=audit(1.000:1): item=2", "type=PATH msg=audit(1.000:1): item=3",
		"type=PATH msg=audit(1.000:1): item=4", "type=PATH msg=audit(1.000:1): item=5",
		"type=PATH msg=audit(1.000:1): item=6", "type=PATH msg=audit(1.000:1): item=7",
		"type=USER_LOGIN msg=audit(1.000:2): pid=1",
		"type=EOE msg=audit(1.000:1): ",
	};
	struct ht_audit_record *r;
	struct ht_audit_asm *a;
	struct sink s;
	unsigned n, fails;
	size_t i;
	int e;

	alloc_calls = 0;
	r = parse_ok(lines[0]);
	ht_audit_record_free(r);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	for (n = 1;; n++) {
		memset(&s, 0, sizeof(s));
		a = NULL;
		fails = 0;
		alloc_calls = 0;
		alloc_fail_at = n;
		e = ht_audit_asm_new(NULL, sink_fn, &s, &a);
		for (i = 0; e == 0 && i < sizeof(lines) / sizeof(lines[0]); i++) {
			r = NULL;
			if (ht_audit_parse_line(lines[i], strlen(lines[i]), &r, NULL, 0) < 0) {
				fails++;
				continue;
			}
			if (ht_audit_asm_feed(a, r, 0) < 0)
				fails++;
		}
		if (a != NULL)
			ht_audit_asm_flush(a);
		alloc_fail_at = 0;
		ht_audit_asm_free(a);
		if (alloc_calls < n) {
			assert_int_equal(e, 0);
			assert_int_equal(fails, 0);
			/* SYSCALL+EXECVE(joined)+8 PATH, and the login */
			assert_int_equal(s.n, 2);
			assert_int_equal(s.ev[0]->n_records, 1);
			assert_int_equal(s.ev[1]->n_records, 10);
			assert_field(s.ev[1]->records[1], "a1", "bc");
			sink_clear(&s);
			break;
		}
		/* a failure is reported, or absorbed by the EXECVE join */
		assert_true(e == -ENOMEM || fails > 0 || s.n == 2);
		sink_clear(&s);
	}
	print_message("failed each of %u allocations\n", n - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscall_raw),
		cmocka_unit_test(test_syscall_enriched),
		cmocka_unit_test(test_execve),
		cmocka_unit_test(test_execve_chunks_parsed),
		cmocka_unit_test(test_hex_rules),
		cmocka_unit_test(test_cwd_path),
		cmocka_unit_test(test_proctitle),
		cmocka_unit_test(test_eoe),
		cmocka_unit_test(test_user_login_enriched),
		cmocka_unit_test(test_user_auth),
		cmocka_unit_test(test_add_user),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_daemon_start),
		cmocka_unit_test(test_node_prefix),
		cmocka_unit_test(test_odd_shapes),
		cmocka_unit_test(test_netlink),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_asm_eoe),
		cmocka_unit_test(test_asm_standalone),
		cmocka_unit_test(test_asm_interleaved),
		cmocka_unit_test(test_asm_nodes),
		cmocka_unit_test(test_asm_timeout),
		cmocka_unit_test(test_asm_max_records),
		cmocka_unit_test(test_asm_max_open),
		cmocka_unit_test(test_asm_max_bytes),
		cmocka_unit_test(test_asm_free_open),
		cmocka_unit_test(test_asm_execve_joined),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
