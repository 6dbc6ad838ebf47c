/*
 * test_creds.c - daemon/deliver/creds.c: the shared credentials file parser
 * (as the aws CLI reads it, plus the rules creds.h documents for what it
 * does not accept), the order of the chain, files changing under a running
 * provider, and the promise that no secret text reaches an error message or
 * a log line.  Every test runs in its own mkdtemp directory with HOME
 * pointed at it and the AWS_* variables cleared.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "conf.h"
#include "deliver/creds.h"
#include "log.h"

#define UNUSED __attribute__((unused))

#define KEY_A "AKIAIOSFODNN7EXAMPLE"
#define SECRET_A "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define KEY_B "AKIAI44QH8DHBEXAMPLE"
#define SECRET_B "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
#define KEY_ENV "AKIAENVENVENVEXAMPLE"
#define SECRET_ENV "EnvSecretEnvSecretEnvSecretEnvSecret0000"
#define KEY_PROD "AKIAPRODPRODPEXAMPLE"
#define SECRET_PROD "ProdSecretProdSecretProdSecretProdSecret"
#define TOKEN_A "FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKENaaaa+bbbb/cccc=="

/* Every secret a test uses: none may ever show in an error or a log line. */
static const char *const all_secrets[] = { SECRET_A, SECRET_B, SECRET_ENV, SECRET_PROD, TOKEN_A,
	"SameSizeSecretOne", "SameSizeSecretTwo", "sec\nret", "tab\tsecret", NULL };

static char dir[PATH_MAX];
static char errbuf[PATH_MAX + 512];

static const char *const aws_vars[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", NULL };

/* ---- helpers ---- */

static void
assert_no_secret(const char *text)
{
	size_t i;

	for (i = 0; all_secrets[i] != NULL; i++) {
		if (strstr(text, all_secrets[i]) != NULL)
			fail_msg("secret #%zu appears in \"%s\"", i, text);
	}
	/* A fragment too, in case a message quotes part of a value. */
	assert_null(strstr(text, "EXAMPLEKEY"));
	assert_null(strstr(text, "Secret"));
}

static void
path_in(char *buf, size_t len, const char *name)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", dir, name) < len);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void
write_str(const char *path, const char *s)
{
	write_file(path, s, strlen(s), 0600);
}

/* Give path an mtime of exactly sec (so rewrites never share one). */
static void
set_mtime(const char *path, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
write_home_creds(const char *text)
{
	char path[PATH_MAX];

	path_in(path, sizeof(path), ".aws");
	assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
	path_in(path, sizeof(path), ".aws/credentials");
	write_str(path, text);
}

static void
assert_secret(const struct ht_creds *c, const char *secret)
{
	assert_int_equal(c->secret_len, strlen(secret));
	assert_memory_equal(c->secret, secret, strlen(secret));
}

static int
rm_one(const char *path, const struct stat *st UNUSED, int flag UNUSED, struct FTW *ftw UNUSED)
{
	return remove(path);
}

static int
setup(void **state UNUSED)
{
	size_t i;

	for (i = 0; aws_vars[i] != NULL; i++)
		unsetenv(aws_vars[i]);
	snprintf(dir, sizeof(dir), "%s/test_creds.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	setenv("HOME", dir, 1);
	memset(errbuf, 0, sizeof(errbuf));
	return 0;
}

static int
teardown(void **state UNUSED)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A provider for conf, resolved once: returns ht_creds_get's result. */
static int
get_once(const struct ht_conf_s3_credentials *conf, struct ht_creds *c)
{
	struct ht_creds_provider *p = NULL;
	int r;

	assert_int_equal(ht_creds_provider_new(conf, &p), 0);
	r = ht_creds_get(p, c, errbuf, sizeof(errbuf));
	ht_creds_provider_free(p);
	if (r < 0)
		assert_no_secret(errbuf);
	return r;
}

/* ---- the shared credentials file ---- */

static int
parse(const char *text, const char *profile, struct ht_creds *c)
{
	int r;

	r = ht_creds_parse_ini(text, strlen(text), profile, c, errbuf, sizeof(errbuf));
	if (r < 0)
		assert_no_secret(errbuf);
	return r;
}

static void
test_ini_profiles(void **state UNUSED)
{
	static const char text[] = "[default]\n"
				   "aws_access_key_id = " KEY_A "\n"
				   "aws_secret_access_key = " SECRET_A "\n"
				   "\n"
				   "[prod]\n"
				   "aws_access_key_id=" KEY_PROD "\n"
				   "aws_secret_access_key=" SECRET_PROD "\n"
				   "aws_session_token=" TOKEN_A "\n"
				   "[profile other]\n"
				   "aws_access_key_id = " KEY_B "\n"
				   "aws_secret_access_key = " SECRET_B "\n";
	struct ht_creds c;

	assert_int_equal(parse(text, "default", &c), 0);
	assert_string_equal(c.access_key_id, KEY_A);
	assert_secret(&c, SECRET_A);
	assert_string_equal(c.session_token, "");
	assert_string_equal(c.source, "profile default");
	assert_int_equal(parse(text, NULL, &c), 0);
	assert_string_equal(c.access_key_id, KEY_A);

	assert_int_equal(parse(text, "prod", &c), 0);
	assert_string_equal(c.access_key_id, KEY_PROD);
	assert_secret(&c, SECRET_PROD);
	assert_string_equal(c.session_token, TOKEN_A);
	assert_string_equal(c.source, "profile prod");

	/* The credentials file has bare names: "profile x" is a name of its own. */
	assert_int_equal(parse(text, "profile other", &c), 0);
	assert_string_equal(c.access_key_id, KEY_B);
	assert_int_equal(parse(text, "other", &c), -ENOKEY);
	assert_string_equal(errbuf, "no profile [other]");
	/* Section names are case-sensitive, as in the aws CLI. */
	assert_int_equal(parse(text, "Prod", &c), -ENOKEY);
	assert_int_equal(parse("", "default", &c), -ENOKEY);
	assert_int_equal(ht_creds_parse_ini(NULL, 0, "default", &c, errbuf, sizeof(errbuf)),
	    -ENOKEY);
}

static void
test_ini_syntax(void **state UNUSED)
{
	/* BOM, CRLF, comments with and without indentation, blanks, tabs,
	 * padded header, upper-case keys, ':' as the delimiter. */
	static const char text[] = "\xef\xbb\xbf# a comment\r\n"
				   "; another = comment\r\n"
				   "\r\n"
				   "  [ prod ]  \r\n"
				   "   # aws_access_key_id = AKIACOMMENTEDOUT\r\n"
				   "\tAWS_ACCESS_KEY_ID\t=\t " KEY_PROD " \t\r\n"
				   "aws_secret_access_key: " SECRET_PROD "\r\n"
				   "  ; aws_session_token = nope\r\n"
				   "\r\n";
	struct ht_creds c;

	assert_int_equal(parse(text, "prod", &c), 0);
	assert_string_equal(c.access_key_id, KEY_PROD);
	assert_secret(&c, SECRET_PROD);
	assert_string_equal(c.session_token, "");

	/* A BOM right before the first header (Windows editors write one). */
	assert_int_equal(parse("\xef\xbb\xbf[default]\naws_access_key_id=" KEY_A
			       "\naws_secret_access_key=" SECRET_A "\n",
			     "default", &c),
	    0);
	assert_string_equal(c.access_key_id, KEY_A);

	/* No newline at the end; a value holding '=' and ':' keeps them. */
	assert_int_equal(parse("[default]\naws_access_key_id = account:user\n"
			       "aws_secret_access_key = a=b:c==",
			     "default", &c),
	    0);
	assert_string_equal(c.access_key_id, "account:user");
	assert_secret(&c, "a=b:c==");
}

static void
test_ini_missing_key(void **state UNUSED)
{
	struct ht_creds c;

	assert_int_equal(parse("[prod]\naws_access_key_id = " KEY_PROD "\n", "prod", &c), -EINVAL);
	assert_string_equal(errbuf, "profile prod: aws_secret_access_key missing");
	assert_int_equal(parse("[prod]\naws_secret_access_key = " SECRET_PROD "\n", "prod", &c),
	    -EINVAL);
	assert_string_equal(errbuf, "profile prod: aws_access_key_id missing");
	assert_int_equal(parse("[prod]\n[default]\naws_access_key_id = " KEY_A "\n", "prod", &c),
	    -EINVAL);
	assert_string_equal(errbuf,
	    "profile prod: aws_access_key_id, aws_secret_access_key missing");
	/* Empty values are present but invalid. */
	assert_int_equal(parse("[p]\naws_access_key_id = " KEY_A "\naws_secret_access_key =\n", "p",
			     &c),
	    -EINVAL);
	assert_string_equal(errbuf, "profile p: aws_secret_access_key is empty");
	assert_int_equal(parse("[p]\naws_access_key_id=\naws_secret_access_key=" SECRET_A "\n", "p",
			     &c),
	    -EINVAL);
	assert_non_null(strstr(errbuf, "profile p: aws_access_key_id is not"));
}

static void
test_ini_token_alias(void **state UNUSED)
{
	static const char base[] = "[t]\naws_access_key_id = " KEY_A
				   "\naws_secret_access_key = " SECRET_A "\n";
	char text[1024];
	struct ht_creds c;

	snprintf(text, sizeof(text), "%saws_security_token = " TOKEN_A "\n", base);
	assert_int_equal(parse(text, "t", &c), 0);
	assert_string_equal(c.session_token, TOKEN_A);
	/* Both: the old name wins, as botocore looks for it first. */
	snprintf(text, sizeof(text),
	    "%saws_session_token = newtoken\naws_security_token = oldtoken\n", base);
	assert_int_equal(parse(text, "t", &c), 0);
	assert_string_equal(c.session_token, "oldtoken");
	/* ... unless it is empty. */
	snprintf(text, sizeof(text), "%saws_session_token = newtoken\naws_security_token =\n",
	    base);
	assert_int_equal(parse(text, "t", &c), 0);
	assert_string_equal(c.session_token, "newtoken");
	/* An empty token is no token. */
	snprintf(text, sizeof(text), "%saws_session_token =\n", base);
	assert_int_equal(parse(text, "t", &c), 0);
	assert_string_equal(c.session_token, "");
	snprintf(text, sizeof(text), "%saws_session_token = has space\n", base);
	assert_int_equal(parse(text, "t", &c), -EINVAL);
	assert_string_equal(errbuf,
	    "profile t: aws_session_token holds a character other than printable ASCII");
}

static void
test_ini_garbage(void **state UNUSED)
{
	/* Lines before any section, lines without a delimiter, binary junk,
	 * NULs, an unterminated header (which ends the section before it, so
	 * the key under it is not taken for [default]'s). */
	static const char text[] = "aws_access_key_id = AKIABEFORESECTIONS0\n"
				   "just some words\n"
				   "[default]\n"
				   "aws_access_key_id = " KEY_A "\n"
				   "garbage line without delimiter\n"
				   "\x01\x02\xff\xfe binary\n"
				   "=\n"
				   ":\n"
				   "[]\n"
				   "[default]\n"
				   "aws_secret_access_key = " SECRET_A "\n"
				   "[broken\n"
				   "aws_secret_access_key = " SECRET_B "\n"
				   "]\n"
				   "[x\0y]\n"
				   "aws_secret_access_key = " SECRET_B "\n";
	static const char nul[] = "[d]\naws_access_key_id=AKIA\0X\naws_secret_access_key=s\n";
	struct ht_creds c;

	assert_int_equal(ht_creds_parse_ini(text, sizeof(text) - 1, "default", &c, errbuf,
			     sizeof(errbuf)),
	    0);
	assert_string_equal(c.access_key_id, KEY_A);
	assert_secret(&c, SECRET_A);
	assert_int_equal(ht_creds_parse_ini(text, sizeof(text) - 1, "broken", &c, errbuf,
			     sizeof(errbuf)),
	    -ENOKEY);
	/* A NUL inside a value is refused, not cut short. */
	assert_int_equal(ht_creds_parse_ini(nul, sizeof(nul) - 1, "d", &c, errbuf, sizeof(errbuf)),
	    -EINVAL);
	assert_non_null(strstr(errbuf, "aws_access_key_id is not"));
}

static void
test_ini_long_lines(void **state UNUSED)
{
	size_t big = 200 * 1024, n;
	char *text = malloc(big + 256);
	struct ht_creds c;

	assert_non_null(text);
	/* An overlong line elsewhere is just another line. */
	n = (size_t)sprintf(text, "[junk]\nx = ");
	memset(text + n, 'x', big);
	n += big;
	n += (size_t)sprintf(text + n,
	    "\n[d]\naws_access_key_id = %s\naws_secret_access_key = %s\n", KEY_A, SECRET_A);
	assert_int_equal(ht_creds_parse_ini(text, n, "d", &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, SECRET_A);
	/* An overlong secret or token is refused by its length, not cut. */
	n = (size_t)sprintf(text, "[d]\naws_access_key_id = %s\naws_secret_access_key = ", KEY_A);
	memset(text + n, 's', HT_CREDS_SECRET_MAX + 1);
	n += HT_CREDS_SECRET_MAX + 1;
	assert_int_equal(ht_creds_parse_ini(text, n, "d", &c, errbuf, sizeof(errbuf)), -EFBIG);
	assert_string_equal(errbuf, "profile d: aws_secret_access_key is longer than 1024 bytes");
	assert_int_equal(ht_creds_parse_ini(text, n - 1, "d", &c, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(c.secret_len, HT_CREDS_SECRET_MAX);
	n = (size_t)sprintf(text,
	    "[d]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
	    "aws_session_token = ",
	    KEY_A, SECRET_A);
	memset(text + n, 't', HT_CREDS_TOKEN_MAX);
	assert_int_equal(ht_creds_parse_ini(text, n + HT_CREDS_TOKEN_MAX, "d", &c, errbuf,
			     sizeof(errbuf)),
	    -EFBIG);
	assert_int_equal(ht_creds_parse_ini(text, n + HT_CREDS_TOKEN_MAX - 1, "d", &c, errbuf,
			     sizeof(errbuf)),
	    0);
	assert_int_equal(strlen(c.session_token), HT_CREDS_TOKEN_MAX - 1);
	free(text);
}

static void
test_ini_duplicates(void **state UNUSED)
{
	/* Sections of one name merge and the last value of a key wins (the
	 * SDKs' rule; the aws CLI would refuse the file). */
	static const char text[] = "[default]\n"
				   "aws_access_key_id = " KEY_A "\n"
				   "aws_secret_access_key = " SECRET_A "\n"
				   "aws_session_token = " TOKEN_A "\n"
				   "[prod]\n"
				   "aws_access_key_id = " KEY_PROD "\n"
				   "[default]\n"
				   "aws_secret_access_key = " SECRET_B "\n"
				   "aws_access_key_id = " KEY_B "\n"
				   "aws_access_key_id = " KEY_PROD "\n";
	struct ht_creds c;

	assert_int_equal(parse(text, "default", &c), 0);
	assert_string_equal(c.access_key_id, KEY_PROD);
	assert_secret(&c, SECRET_B);
	assert_string_equal(c.session_token, TOKEN_A);
}

static void
test_ini_validation(void **state UNUSED)
{
	char id[HT_CREDS_KEY_ID_MAX + 2], text[1024];
	struct ht_creds c;

	memset(id, 'A', sizeof(id));
	id[HT_CREDS_KEY_ID_MAX] = '\0';
	snprintf(text, sizeof(text), "[d]\naws_access_key_id=%s\naws_secret_access_key=s\n", id);
	assert_int_equal(parse(text, "d", &c), 0);
	assert_string_equal(c.access_key_id, id);
	id[HT_CREDS_KEY_ID_MAX] = 'A';
	id[HT_CREDS_KEY_ID_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "[d]\naws_access_key_id=%s\naws_secret_access_key=s\n", id);
	assert_int_equal(parse(text, "d", &c), -EINVAL);
	assert_int_equal(parse("[d]\naws_access_key_id=AKIA/X\naws_secret_access_key=s\n", "d", &c),
	    -EINVAL);
	assert_int_equal(parse("[d]\naws_access_key_id=a_b-c:D9\naws_secret_access_key=s\n", "d",
			     &c),
	    0);
	/* A control character inside the secret (a tab survives trimming). */
	assert_int_equal(parse("[d]\naws_access_key_id=" KEY_A
			       "\naws_secret_access_key=tab\tsecret\n",
			     "d", &c),
	    -EINVAL);
	assert_string_equal(errbuf, "profile d: aws_secret_access_key holds a control character");
	/* Bytes past ASCII are allowed in a secret, not in a token. */
	assert_int_equal(parse("[d]\naws_access_key_id=" KEY_A
			       "\naws_secret_access_key=s\xc3\xa9\n",
			     "d", &c),
	    0);
	assert_int_equal(c.secret_len, 3);
	assert_int_equal(parse("[d]\naws_access_key_id=" KEY_A "\naws_secret_access_key=s\n"
			       "aws_session_token=t\xc3\xa9\n",
			     "d", &c),
	    -EINVAL);
}

/* ret is written only on success. */
static void
test_ini_ret_untouched(void **state UNUSED)
{
	struct ht_creds c, before;

	memset(&c, 0xa5, sizeof(c));
	before = c;
	assert_int_equal(parse("[d]\naws_access_key_id=" KEY_A "\n", "d", &c), -EINVAL);
	assert_int_equal(parse("[x]\n", "d", &c), -ENOKEY);
	assert_memory_equal(&c, &before, sizeof(c));
}

/* ---- the chain ---- */

static void
test_chain_secret_file_beats_env(void **state UNUSED)
{
	char sf[PATH_MAX], want[PATH_MAX + 64];
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf };
	struct ht_creds c;

	path_in(sf, sizeof(sf), "a.secret");
	write_str(sf, SECRET_A "\n");
	setenv("AWS_ACCESS_KEY_ID", KEY_ENV, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_ENV, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN_A, 1);
	write_home_creds(
	    "[default]\naws_access_key_id=" KEY_B "\naws_secret_access_key=" SECRET_B "\n");
	assert_int_equal(get_once(&conf, &c), 0);
	assert_string_equal(c.access_key_id, KEY_A);
	assert_secret(&c, SECRET_A);
	/* The environment's token belongs to the environment's key. */
	assert_string_equal(c.session_token, "");
	snprintf(want, sizeof(want), "secret_file %s", sf);
	assert_string_equal(c.source, want);
	ht_creds_clear(&c);
}

static void
test_chain_env_beats_shared(void **state UNUSED)
{
	struct ht_creds c;

	write_home_creds(
	    "[default]\naws_access_key_id=" KEY_B "\naws_secret_access_key=" SECRET_B "\n");
	setenv("AWS_ACCESS_KEY_ID", KEY_ENV, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_ENV, 1);
	assert_int_equal(get_once(NULL, &c), 0);
	assert_string_equal(c.access_key_id, KEY_ENV);
	assert_secret(&c, SECRET_ENV);
	assert_string_equal(c.session_token, "");
	assert_string_equal(c.source, "environment");
	setenv("AWS_SESSION_TOKEN", TOKEN_A, 1);
	assert_int_equal(get_once(NULL, &c), 0);
	assert_string_equal(c.session_token, TOKEN_A);
	/* Only one of the two set, or one empty: not the environment's. */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(get_once(NULL, &c), 0);
	assert_string_equal(c.access_key_id, KEY_B);
	assert_string_equal(c.session_token, "");
	setenv("AWS_SECRET_ACCESS_KEY", "", 1);
	assert_int_equal(get_once(NULL, &c), 0);
	assert_string_equal(c.access_key_id, KEY_B);
	/* Set but invalid is an error, not a reason to look further. */
	setenv("AWS_SECRET_ACCESS_KEY", "sec\nret", 1);
	assert_int_equal(get_once(NULL, &c), -EINVAL);
	assert_string_equal(errbuf, "environment: AWS_SECRET_ACCESS_KEY holds a control character");
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_ENV, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIA EXAMPLE", 1);
	assert_int_equal(get_once(NULL, &c), -EINVAL);
	assert_non_null(strstr(errbuf, "environment: AWS_ACCESS_KEY_ID is not"));
}

static void
test_chain_shared_default_and_profile(void **state UNUSED)
{
	char want[PATH_MAX + 64], other[PATH_MAX];
	struct ht_creds c;

	write_home_creds(
	    "[default]\naws_access_key_id=" KEY_A "\naws_secret_access_key=" SECRET_A
	    "\n[prod]\naws_access_key_id=" KEY_PROD "\naws_secret_access_key=" SECRET_PROD
	    "\naws_session_token=" TOKEN_A "\n");
	assert_int_equal(get_once(NULL, &c), 0);
	assert_string_equal(c.access_key_id, KEY_A);
	snprintf(want, sizeof(want), "profile default in %s/.aws/credentials", dir);
	assert_string_equal(c.source, want);

	setenv("AWS_PROFILE", "prod", 1);
	assert_int_equal(get_once(NULL, &c), 0);
	assert_string_equal(c.access_key_id, KEY_PROD);
	assert_secret(&c, SECRET_PROD);
	assert_string_equal(c.session_token, TOKEN_A);
	snprintf(want, sizeof(want), "profile prod in %s/.aws/credentials", dir);
	assert_string_equal(c.source, want);

	/* AWS_PROFILE naming a profile that is not there: nothing found. */
	setenv("AWS_PROFILE", "nope", 1);
	assert_int_equal(get_once(NULL, &c), -ENOKEY);
	assert_non_null(strstr(errbuf, "no profile [nope]"));
	assert_non_null(strstr(errbuf, "AWS_PROFILE"));
	unsetenv("AWS_PROFILE");

	/* AWS_SHARED_CREDENTIALS_FILE replaces ~/.aws/credentials. */
	path_in(other, sizeof(other), "other-creds");
	write_str(other,
	    "[default]\naws_access_key_id=" KEY_B "\naws_secret_access_key=" SECRET_B "\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", other, 1);
	assert_int_equal(get_once(NULL, &c), 0);
	assert_string_equal(c.access_key_id, KEY_B);
	snprintf(want, sizeof(want), "profile default in %s", other);
	assert_string_equal(c.source, want);
}

static void
test_chain_configured_profile(void **state UNUSED)
{
	char file[PATH_MAX], other[PATH_MAX], want[PATH_MAX + 64];
	struct ht_conf_s3_credentials conf = { .profile = (char[]){ "prod" } };
	struct ht_creds c;

	write_home_creds(
	    "[default]\naws_access_key_id=" KEY_A "\naws_secret_access_key=" SECRET_A
	    "\n[prod]\naws_access_key_id=" KEY_PROD "\naws_secret_access_key=" SECRET_PROD "\n");
	setenv("AWS_PROFILE", "default", 1);
	assert_int_equal(get_once(&conf, &c), 0);
	assert_string_equal(c.access_key_id, KEY_PROD);

	/* The configured file beats AWS_SHARED_CREDENTIALS_FILE. */
	path_in(file, sizeof(file), "bucket-creds");
	path_in(other, sizeof(other), "env-creds");
	write_str(file,
	    "[prod]\naws_access_key_id=" KEY_B "\naws_secret_access_key=" SECRET_B "\n");
	write_str(other,
	    "[prod]\naws_access_key_id=" KEY_A "\naws_secret_access_key=" SECRET_A "\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", other, 1);
	conf.shared_credentials_file = file;
	assert_int_equal(get_once(&conf, &c), 0);
	assert_string_equal(c.access_key_id, KEY_B);
	snprintf(want, sizeof(want), "profile prod in %s", file);
	assert_string_equal(c.source, want);
	/* A configured file without a profile: its [default], not $AWS_PROFILE's. */
	write_str(file,
	    "[default]\naws_access_key_id=" KEY_A "\naws_secret_access_key=" SECRET_A
	    "\n[other]\naws_access_key_id=" KEY_B "\naws_secret_access_key=" SECRET_B "\n");
	setenv("AWS_PROFILE", "other", 1);
	conf.profile = NULL;
	assert_int_equal(get_once(&conf, &c), 0);
	assert_string_equal(c.access_key_id, KEY_A);
}

static void
test_chain_configured_no_fallback(void **state UNUSED)
{
	char sf[PATH_MAX], missing[PATH_MAX + 64];
	struct ht_conf_s3_credentials prof = { .profile = (char[]){ "prod" } };
	struct ht_conf_s3_credentials keyed = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf };
	struct ht_creds c;

	setenv("AWS_ACCESS_KEY_ID", KEY_ENV, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_ENV, 1);
	/* No file at all. */
	assert_int_equal(get_once(&prof, &c), -ENOENT);
	assert_non_null(strstr(errbuf, ".aws/credentials"));
	assert_non_null(strstr(errbuf, "No such file"));
	/* A file without the profile. */
	write_home_creds(
	    "[default]\naws_access_key_id=" KEY_A "\naws_secret_access_key=" SECRET_A "\n");
	assert_int_equal(get_once(&prof, &c), -ENOKEY);
	assert_non_null(strstr(errbuf, "no profile [prod]"));
	assert_non_null(strstr(errbuf, dir));
	/* The profile without its secret. */
	write_home_creds("[prod]\naws_access_key_id=" KEY_PROD "\n");
	assert_int_equal(get_once(&prof, &c), -EINVAL);
	assert_non_null(strstr(errbuf, "profile prod: aws_secret_access_key missing"));
	assert_non_null(strstr(errbuf, "/.aws/credentials"));
	/* A configured secret_file that is missing. */
	path_in(sf, sizeof(sf), "missing.secret");
	assert_int_equal(get_once(&keyed, &c), -ENOENT);
	snprintf(missing, sizeof(missing), "secret_file %s: No such file or directory", sf);
	assert_string_equal(errbuf, missing);
}

static void
test_chain_nothing_found(void **state UNUSED)
{
	char want[PATH_MAX + 64];
	struct ht_creds c;

	assert_int_equal(get_once(NULL, &c), -ENOKEY);
	assert_non_null(strstr(errbuf, "no credentials found"));
	assert_non_null(strstr(errbuf, "AWS_ACCESS_KEY_ID"));
	snprintf(want, sizeof(want), "%s/.aws/credentials", dir);
	assert_non_null(strstr(errbuf, want));
	/* Only the key ID in the environment still finds nothing. */
	setenv("AWS_ACCESS_KEY_ID", KEY_ENV, 1);
	assert_int_equal(get_once(NULL, &c), -ENOKEY);
	/* A file without [default]. */
	write_home_creds(
	    "[prod]\naws_access_key_id=" KEY_PROD "\naws_secret_access_key=" SECRET_PROD "\n");
	assert_int_equal(get_once(NULL, &c), -ENOKEY);
	assert_non_null(strstr(errbuf, "no profile [default]"));
	/* A [default] that is broken is an error of its own. */
	write_home_creds("[default]\naws_access_key_id=" KEY_A "\n");
	assert_int_equal(get_once(NULL, &c), -EINVAL);
	assert_non_null(strstr(errbuf, "aws_secret_access_key missing"));
	/* As is a path that is not a file. */
	write_home_creds("");
	snprintf(want, sizeof(want), "%s/.aws", dir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", want, 1);
	assert_int_equal(get_once(NULL, &c), -EINVAL);
	assert_non_null(strstr(errbuf, "not a regular file"));
}

/* ---- files that change ---- */

static void
test_secret_file_rules(void **state UNUSED)
{
	char sf[PATH_MAX];
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf };
	struct ht_creds c;

	path_in(sf, sizeof(sf), "s");
	write_str(sf, SECRET_A);
	assert_int_equal(get_once(&conf, &c), 0);
	assert_secret(&c, SECRET_A);
	write_str(sf, SECRET_A "\r\n");
	assert_int_equal(get_once(&conf, &c), 0);
	assert_secret(&c, SECRET_A);
	write_str(sf, SECRET_A "\n\n");
	assert_int_equal(get_once(&conf, &c), -EINVAL);
	assert_non_null(strstr(errbuf, "control character (one trailing newline is allowed)"));
	write_str(sf, "\n");
	assert_int_equal(get_once(&conf, &c), -EINVAL);
	assert_non_null(strstr(errbuf, ": is empty"));
	write_str(sf, "sec\nret");
	assert_int_equal(get_once(&conf, &c), -EINVAL);
	/* A directory, a FIFO (which must not block). */
	path_in(sf, sizeof(sf), "adir");
	assert_int_equal(mkdir(sf, 0700), 0);
	assert_int_equal(get_once(&conf, &c), -EINVAL);
	assert_non_null(strstr(errbuf, "not a regular file"));
	path_in(sf, sizeof(sf), "fifo");
	assert_int_equal(mkfifo(sf, 0600), 0);
	assert_int_equal(get_once(&conf, &c), -EINVAL);
	/* Too big to be a secret. */
	path_in(sf, sizeof(sf), "big");
	{
		char big[4096];

		memset(big, 'x', sizeof(big));
		write_file(sf, big, sizeof(big), 0600);
	}
	assert_int_equal(get_once(&conf, &c), -EFBIG);
	/* An invalid configured key ID. */
	conf.access_key_id = (char[]){ "AKIA/BAD" };
	assert_int_equal(get_once(&conf, &c), -EINVAL);
	assert_non_null(strstr(errbuf, "access_key_id is not"));
}

static void
test_session_token_file(void **state UNUSED)
{
	char sf[PATH_MAX], tf[PATH_MAX], want[PATH_MAX + 64];
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf,
		.session_token_file = tf };
	struct ht_creds_provider *p;
	struct ht_creds c;

	path_in(sf, sizeof(sf), "s");
	path_in(tf, sizeof(tf), "t");
	write_str(sf, SECRET_A "\n");
	write_str(tf, TOKEN_A "\n");
	assert_int_equal(ht_creds_provider_new(&conf, &p), 0);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.session_token, TOKEN_A);
	assert_secret(&c, SECRET_A);
	/* The token rotates on its own. */
	write_str(tf, "SecondToken\n");
	set_mtime(tf, 1000000000);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.session_token, "SecondToken");
	write_str(tf, "");
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), -EINVAL);
	snprintf(want, sizeof(want), "session_token_file %s: is empty", tf);
	assert_string_equal(errbuf, want);
	assert_int_equal(unlink(tf), 0);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), -ENOENT);
	snprintf(want, sizeof(want), "session_token_file %s: No such file or directory", tf);
	assert_string_equal(errbuf, want);
	assert_no_secret(errbuf);
	ht_creds_provider_free(p);
	ht_creds_clear(&c);
}

static void
test_file_change_picked_up(void **state UNUSED)
{
	char sf[PATH_MAX], tmp[PATH_MAX], want[PATH_MAX + 64];
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf };
	struct ht_creds_provider *p;
	struct ht_creds c;

	path_in(sf, sizeof(sf), "rotating.secret");
	path_in(tmp, sizeof(tmp), "rotating.tmp");
	write_str(sf, SECRET_A "\n");
	set_mtime(sf, 1000000000);
	assert_int_equal(ht_creds_provider_new(&conf, &p), 0);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, SECRET_A);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, SECRET_A);

	/* Rewritten in place, another size and mtime. */
	write_str(sf, "SameSizeSecretOne");
	set_mtime(sf, 1000000100);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, "SameSizeSecretOne");
	/* Same size, only the mtime differs. */
	write_str(sf, "SameSizeSecretTwo");
	set_mtime(sf, 1000000200);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, "SameSizeSecretTwo");
	/* Replaced by rename (a new inode), same size and mtime as before. */
	write_str(tmp, "SameSizeSecretOne");
	set_mtime(tmp, 1000000200);
	assert_int_equal(rename(tmp, sf), 0);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, "SameSizeSecretOne");

	/* Gone: an error naming it, not the cached secret. */
	assert_int_equal(unlink(sf), 0);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), -ENOENT);
	snprintf(want, sizeof(want), "secret_file %s: No such file or directory", sf);
	assert_string_equal(errbuf, want);
	assert_no_secret(errbuf);
	/* Back again. */
	write_str(sf, SECRET_B);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, SECRET_B);
	ht_creds_provider_free(p);
	ht_creds_clear(&c);
}

static void
test_shared_file_change_picked_up(void **state UNUSED)
{
	char path[PATH_MAX];
	struct ht_creds_provider *p;
	struct ht_creds c;

	write_home_creds(
	    "[default]\naws_access_key_id=" KEY_A "\naws_secret_access_key=" SECRET_A "\n");
	path_in(path, sizeof(path), ".aws/credentials");
	set_mtime(path, 1000000000);
	assert_int_equal(ht_creds_provider_new(NULL, &p), 0);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.access_key_id, KEY_A);
	write_home_creds("[default]\naws_access_key_id=" KEY_B "\naws_secret_access_key=" SECRET_B
			 "\naws_session_token=" TOKEN_A "\n");
	set_mtime(path, 1000000100);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.access_key_id, KEY_B);
	assert_secret(&c, SECRET_B);
	assert_string_equal(c.session_token, TOKEN_A);
	/* The environment is read on each call too. */
	setenv("AWS_ACCESS_KEY_ID", KEY_ENV, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_ENV, 1);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.access_key_id, KEY_ENV);
	unsetenv("AWS_ACCESS_KEY_ID");
	/* So is $HOME: another home, another file. */
	setenv("HOME", "/nonexistent/home", 1);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), -ENOKEY);
	assert_non_null(strstr(errbuf, "/nonexistent/home/.aws/credentials"));
	assert_no_secret(errbuf);
	setenv("HOME", dir, 1);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.access_key_id, KEY_B);
	ht_creds_provider_free(p);
	ht_creds_clear(&c);
}

/* The cache-hit path: a file that has settled (older than the racy window)
 * is served from memory, then still re-read once its stat changes.  Sleeps
 * 2.2 s: file times cannot be set in the past for ctime. */
static void
test_settled_file_cache(void **state UNUSED)
{
	struct timespec nap = { 2, 200000000 };
	char sf[PATH_MAX];
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf };
	struct ht_creds_provider *p;
	struct ht_creds c;
	int i;

	path_in(sf, sizeof(sf), "settled.secret");
	write_str(sf, "SameSizeSecretOne");
	assert_int_equal(ht_creds_provider_new(&conf, &p), 0);
	nanosleep(&nap, NULL);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
		assert_secret(&c, "SameSizeSecretOne");
	}
	/* Same size, and the mtime put back: only ctime tells. */
	{
		struct stat st;

		assert_int_equal(stat(sf, &st), 0);
		write_str(sf, "SameSizeSecretTwo");
		set_mtime(sf, st.st_mtim.tv_sec);
	}
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_secret(&c, "SameSizeSecretTwo");
	ht_creds_provider_free(p);
	ht_creds_clear(&c);
}

/* A same-size rewrite within one timestamp tick of our read leaves the
 * stat unchanged; the racy window must make the next get read it anyway.
 * Kernels with fine-grained (multigrain) timestamps, 6.13 and later, give
 * the rewrite a distinct ctime, so the case cannot be staged there. */
static void
test_same_tick_rewrite(void **state UNUSED)
{
	char sf[PATH_MAX];
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf };
	struct ht_creds_provider *p;
	struct ht_creds c;
	struct stat a, b;
	int i, staged = 0;

	path_in(sf, sizeof(sf), "tick.secret");
	assert_int_equal(ht_creds_provider_new(&conf, &p), 0);
	for (i = 0; i < 200 && staged < 5; i++) {
		write_str(sf, "SameSizeSecretOne");
		assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
		assert_int_equal(stat(sf, &a), 0);
		write_str(sf, "SameSizeSecretTwo");
		assert_int_equal(stat(sf, &b), 0);
		assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
		assert_secret(&c, "SameSizeSecretTwo");
		if (a.st_ino == b.st_ino && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
		    a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
		    a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec)
			staged++;
	}
	ht_creds_provider_free(p);
	ht_creds_clear(&c);
	if (staged == 0) {
		print_message("every rewrite got a new timestamp (fine-grained timestamps); "
			      "skipping\n");
		skip();
	}
}

/* Run n gets with stderr captured; returns what was logged (free it). */
static char *
capture_gets(struct ht_creds_provider *p, int n, int want)
{
	char path[PATH_MAX], *text;
	struct ht_creds c;
	int saved, fd, i;
	FILE *f;
	long len;

	path_in(path, sizeof(path), "stderr.log");
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_setlevel(HT_LOG_DEBUG);
	for (i = 0; i < n; i++)
		assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), want);
	log_setlevel(HT_LOG_ERR);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	ht_creds_clear(&c);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

static size_t
count(const char *text, const char *what)
{
	size_t n = 0;

	for (; (text = strstr(text, what)) != NULL; text++)
		n++;
	return n;
}

static void
test_world_readable_warning(void **state UNUSED)
{
	char sf[PATH_MAX], tf[PATH_MAX], *log;
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf,
		.session_token_file = tf };
	struct ht_creds_provider *p;

	path_in(sf, sizeof(sf), "open.secret");
	path_in(tf, sizeof(tf), "token");
	write_file(sf, SECRET_A "\n", strlen(SECRET_A) + 1, 0644);
	write_str(tf, TOKEN_A);
	assert_int_equal(ht_creds_provider_new(&conf, &p), 0);
	/* Once, however often it is read. */
	log = capture_gets(p, 3, 0);
	assert_int_equal(count(log, "world-readable"), 1);
	assert_non_null(strstr(log, sf));
	assert_no_secret(log);
	free(log);
	/* A change of the file warns again; a private file does not. */
	assert_int_equal(chmod(sf, 0600), 0);
	log = capture_gets(p, 2, 0);
	assert_int_equal(count(log, "world-readable"), 0);
	free(log);
	assert_int_equal(chmod(sf, 0604), 0);
	log = capture_gets(p, 2, 0);
	assert_int_equal(count(log, "world-readable"), 1);
	free(log);
	assert_int_equal(chmod(sf, 0606), 0);
	log = capture_gets(p, 1, 0);
	assert_int_equal(count(log, "world-writable"), 1);
	free(log);
	/* Errors are returned, never logged. */
	assert_int_equal(unlink(tf), 0);
	log = capture_gets(p, 2, -ENOENT);
	assert_string_equal(log, "");
	free(log);
	ht_creds_provider_free(p);
}

/* ---- the provider ---- */

static void
test_provider_new(void **state UNUSED)
{
	struct ht_conf_s3_credentials bad[] = {
		{ .access_key_id = (char[]){ KEY_A } },
		{ .secret_file = (char[]){ "/x" } },
		{ .session_token_file = (char[]){ "/t" } },
		{ .access_key_id = (char[]){ KEY_A },
		    .secret_file = (char[]){ "/x" },
		    .profile = (char[]){ "p" } },
		{ .access_key_id = (char[]){ KEY_A },
		    .secret_file = (char[]){ "/x" },
		    .shared_credentials_file = (char[]){ "/c" } },
	};
	struct ht_conf_s3_credentials conf = { 0 };
	struct ht_creds_provider *p = (void *)1;
	char sf[PATH_MAX];
	struct ht_creds c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ht_creds_provider_new(&bad[i], &p), -EINVAL);
		assert_ptr_equal(p, (void *)1);
	}
	ht_creds_provider_free(NULL);
	ht_creds_clear(NULL);

	/* conf is borrowed: the provider works after it is gone. */
	path_in(sf, sizeof(sf), "s");
	write_str(sf, SECRET_A);
	conf.access_key_id = strdup(KEY_A);
	conf.secret_file = strdup(sf);
	assert_int_equal(ht_creds_provider_new(&conf, &p), 0);
	memset(conf.access_key_id, 'X', strlen(KEY_A));
	memset(conf.secret_file, 'X', strlen(sf));
	free(conf.access_key_id);
	free(conf.secret_file);
	assert_int_equal(ht_creds_get(p, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c.access_key_id, KEY_A);
	assert_secret(&c, SECRET_A);
	ht_creds_provider_free(p);
	/* Cleared means zero, all of it. */
	ht_creds_clear(&c);
	for (i = 0; i < sizeof(c); i++)
		assert_int_equal(((unsigned char *)&c)[i], 0);
}

/* A failed get leaves ret as it was. */
static void
test_get_ret_untouched(void **state UNUSED)
{
	char sf[PATH_MAX];
	struct ht_conf_s3_credentials conf = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf };
	struct ht_creds c, before;

	path_in(sf, sizeof(sf), "missing");
	memset(&c, 0x5a, sizeof(c));
	before = c;
	assert_int_equal(get_once(&conf, &c), -ENOENT);
	assert_int_equal(get_once(NULL, &c), -ENOKEY);
	write_str(sf, "\n");
	assert_int_equal(get_once(&conf, &c), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
}

/* ---- out of memory ---- */

static void
oom_loop(const struct ht_conf_s3_credentials *conf, const char *what)
{
	struct ht_creds_provider *p;
	struct ht_creds c;
	unsigned n;
	int r;

	for (n = 1;; n++) {
		p = NULL;
		alloc_calls = 0;
		alloc_fail_at = n;
		r = ht_creds_provider_new(conf, &p);
		if (r == 0)
			r = ht_creds_get(p, &c, errbuf, sizeof(errbuf));
		alloc_fail_at = 0;
		ht_creds_provider_free(p);
		if (alloc_calls < n) { /* nothing left to fail */
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
	}
	print_message("%s: failed each of %u allocations\n", what, n - 1);
}

static void
test_out_of_memory(void **state UNUSED)
{
	char sf[PATH_MAX], tf[PATH_MAX];
	struct ht_conf_s3_credentials keyed = { .access_key_id = (char[]){ KEY_A },
		.secret_file = sf,
		.session_token_file = tf };
	struct ht_conf_s3_credentials prof = { .profile = (char[]){ "default" } };
	struct ht_creds_provider *p;

	alloc_calls = 0;
	assert_int_equal(ht_creds_provider_new(NULL, &p), 0);
	ht_creds_provider_free(p);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	path_in(sf, sizeof(sf), "s");
	path_in(tf, sizeof(tf), "t");
	write_str(sf, SECRET_A);
	write_str(tf, TOKEN_A);
	write_home_creds(
	    "[default]\naws_access_key_id=" KEY_A "\naws_secret_access_key=" SECRET_A "\n");
	oom_loop(&keyed, "secret_file");
	oom_loop(&prof, "profile");
	oom_loop(NULL, "unconfigured");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ini_profiles),
		T(test_ini_syntax),
		T(test_ini_missing_key),
		T(test_ini_token_alias),
		T(test_ini_garbage),
		T(test_ini_long_lines),
		T(test_ini_duplicates),
		T(test_ini_validation),
		T(test_ini_ret_untouched),
		T(test_chain_secret_file_beats_env),
		T(test_chain_env_beats_shared),
		T(test_chain_shared_default_and_profile),
		T(test_chain_configured_profile),
		T(test_chain_configured_no_fallback),
		T(test_chain_nothing_found),
		T(test_secret_file_rules),
		T(test_session_token_file),
		T(test_file_change_picked_up),
		T(test_shared_file_change_picked_up),
		T(test_settled_file_cache),
		T(test_same_tick_rewrite),
		T(test_world_readable_warning),
		T(test_provider_new),
		T(test_get_ret_untouched),
		T(test_out_of_memory),
	};

	log_init("test_creds", HT_LOG_ERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
