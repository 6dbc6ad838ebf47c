/*
 * creds.c - see creds.h.
 *
 * A provider holds copies of its bucket's credentials settings and up to
 * three cached files: the secret_file, the session_token_file and the shared
 * credentials file (the last one's path may change between calls with
 * $AWS_SHARED_CREDENTIALS_FILE or $HOME, so the path is part of the key).
 * Each cached file keeps the stat it was read with; a get stats the path
 * and re-reads only when that identity changed.  File times are coarse (a
 * kernel tick, a second or two on some filesystems), so a same-size rewrite
 * within the tick of our read would look unchanged: a file whose mtime or
 * ctime is within CREDS_RACY_S of when it was read is re-read every time
 * until it settles (git's "racy clean" entries, handled the same way).
 *
 * Invariants: cached bytes are wiped before they are freed or replaced, and
 * so is every buffer a secret passed through; error and log text is built
 * only from paths, profile and key names, fixed reasons and strerror(),
 * never from file contents or environment values.  A mutex serialises gets,
 * since the cache is the provider's only mutable state.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/sigv4.h"
#include "deliver/creds.h"
#include "log.h"

_Static_assert(HT_CREDS_SECRET_MAX <= HT_SIGV4_SECRET_MAX, "the signer must take any secret");
_Static_assert(HT_CREDS_KEY_ID_MAX <= HT_SIGV4_KEY_ID_MAX, "the signer must take any key ID");

/* A file changed this recently (seconds) before we read it may change again
 * without its stat changing: do not trust the cache for it. */
#define CREDS_RACY_S 2
/* A secret or token file may end in "\r\n". */
#define SECRET_FILE_MAX (HT_CREDS_SECRET_MAX + 2)
#define TOKEN_FILE_MAX (HT_CREDS_TOKEN_MAX - 1 + 2)
#define WHY_MAX 96
#define KEY_ID_RULE "is not 1-128 characters of A-Z a-z 0-9 : _ -"

enum creds_slot { SLOT_SECRET, SLOT_TOKEN, SLOT_SHARED, SLOT_N };

/* One cached file.  path NULL: empty. */
struct creds_file {
	char *path;
	struct stat st; /* as read */
	time_t read_at;
	char *data; /* len bytes plus a NUL, wiped before free */
	size_t len;
};

struct ht_creds_provider {
	pthread_mutex_t lock;
	char *access_key_id;
	char *secret_file;
	char *session_token_file;
	char *profile;
	char *shared_file;
	struct creds_file files[SLOT_N];
};

/* Write "fmt..." into errbuf and return r. */
static int __attribute__((format(printf, 4, 5)))
fail(char *errbuf, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* ---- validation ---- */

static bool
key_id_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > HT_CREDS_KEY_ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == ':' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* 0, or -EINVAL/-EFBIG with the reason in why (WHY_MAX bytes). */
static int
secret_check(const uint8_t *s, size_t n, char *why)
{
	size_t i;

	if (n == 0) {
		snprintf(why, WHY_MAX, "is empty");
		return -EINVAL;
	}
	if (n > HT_CREDS_SECRET_MAX) {
		snprintf(why, WHY_MAX, "is longer than %d bytes", HT_CREDS_SECRET_MAX);
		return -EFBIG;
	}
	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(why, WHY_MAX, "holds a control character");
			return -EINVAL;
		}
	}
	return 0;
}

/* A session token goes into a header as is: printable ASCII, no spaces.
 * 0 (n == 0 too: no token), or -EINVAL/-EFBIG with why. */
static int
token_check(const char *s, size_t n, char *why)
{
	size_t i;

	if (n > HT_CREDS_TOKEN_MAX - 1) {
		snprintf(why, WHY_MAX, "is longer than %d bytes", HT_CREDS_TOKEN_MAX - 1);
		return -EFBIG;
	}
	for (i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e) {
			snprintf(why, WHY_MAX, "holds a character other than printable ASCII");
			return -EINVAL;
		}
	}
	return 0;
}

/* Fill c from checked parts; source is left empty for the caller. */
static void
creds_fill(struct ht_creds *c, const char *id, size_t id_len, const void *secret, size_t secret_len,
    const char *token, size_t token_len)
{
	ht_creds_clear(c);
	memcpy(c->access_key_id, id, id_len);
	memcpy(c->secret, secret, secret_len);
	c->secret_len = secret_len;
	if (token_len > 0)
		memcpy(c->session_token, token, token_len);
}

void
ht_creds_clear(struct ht_creds *c)
{
	if (c != NULL)
		OPENSSL_cleanse(c, sizeof(*c));
}

/* ---- the shared credentials file ---- */

struct ini_val {
	const char *p;
	size_t n;
	bool set;
};

/* What one profile's section(s) hold. */
struct ini_found {
	bool section;
	struct ini_val id, secret, session, security;
};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && is_blank(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_blank((*p)[*n - 1]))
		(*n)--;
}

static bool
key_is(const char *k, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp(k, name, n) == 0;
}

/* "key = value" or "key: value" (configparser splits at the first of the
 * two); a line with neither is ignored. */
static void
ini_pair(const char *line, size_t n, struct ini_found *f)
{
	const char *eq = memchr(line, '=', n), *colon = memchr(line, ':', n), *d, *v;
	struct ini_val *dst = NULL;
	size_t kn, vn;

	d = eq == NULL ? colon : colon == NULL || eq < colon ? eq : colon;
	if (d == NULL)
		return;
	kn = (size_t)(d - line);
	trim(&line, &kn);
	if (key_is(line, kn, "aws_access_key_id"))
		dst = &f->id;
	else if (key_is(line, kn, "aws_secret_access_key"))
		dst = &f->secret;
	else if (key_is(line, kn, "aws_session_token"))
		dst = &f->session;
	else if (key_is(line, kn, "aws_security_token"))
		dst = &f->security;
	if (dst == NULL)
		return;
	v = d + 1;
	vn = n - (size_t)(v - line);
	trim(&v, &vn);
	*dst = (struct ini_val){ v, vn, true };
}

/* One pass over the text, recording the keys of profile's sections.  No
 * line buffer, so no line is too long: values are checked afterwards. */
static void
ini_scan(const char *text, size_t len, const char *profile, struct ini_found *f)
{
	const char *p = text, *end = text + len, *nl, *line, *name, *close;
	size_t plen = strlen(profile), n, nn;
	bool in = false;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		line = p;
		n = (size_t)((nl != NULL ? nl : end) - p);
		p = nl != NULL ? nl + 1 : end;
		trim(&line, &n);
		if (n == 0 || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] != '[') {
			if (in)
				ini_pair(line, n, f);
			continue;
		}
		/* A broken header still ends the section before it, so the
		 * keys under it are never taken for that section's. */
		close = memrchr(line, ']', n);
		in = false;
		if (close == NULL)
			continue;
		name = line + 1;
		nn = (size_t)(close - name);
		trim(&name, &nn);
		in = nn == plen && memcmp(name, profile, plen) == 0;
		f->section |= in;
	}
}

/* The keys that are missing, comma-separated, into buf; false if none. */
static bool
ini_missing(const struct ini_found *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", f->id.set ? "" : "aws_access_key_id",
	    !f->id.set && !f->secret.set ? ", " : "", f->secret.set ? "" : "aws_secret_access_key");
	return buf[0] != '\0';
}

int
ht_creds_parse_ini(const char *text, size_t len, const char *profile, struct ht_creds *ret,
    char *errbuf, size_t errlen)
{
	struct ini_found f;
	const struct ini_val *tok;
	char why[WHY_MAX], missing[64];
	int r;

	memset(&f, 0, sizeof(f));
	if (profile == NULL)
		profile = "default";
	if (text != NULL)
		ini_scan(text, len, profile, &f);
	if (!f.section)
		return fail(errbuf, errlen, -ENOKEY, "no profile [%s]", profile);
	if (ini_missing(&f, missing, sizeof(missing)))
		return fail(errbuf, errlen, -EINVAL, "profile %s: %s missing", profile, missing);
	if (!key_id_valid(f.id.p, f.id.n))
		return fail(errbuf, errlen, -EINVAL, "profile %s: aws_access_key_id " KEY_ID_RULE,
		    profile);
	r = secret_check((const uint8_t *)f.secret.p, f.secret.n, why);
	if (r < 0)
		return fail(errbuf, errlen, r, "profile %s: aws_secret_access_key %s", profile,
		    why);
	/* botocore looks for the old name first; an empty one is no token. */
	tok = f.security.set && f.security.n > 0 ? &f.security : &f.session;
	r = token_check(tok->p, tok->n, why);
	if (r < 0)
		return fail(errbuf, errlen, r, "profile %s: %s %s", profile,
		    tok == &f.security ? "aws_security_token" : "aws_session_token", why);
	creds_fill(ret, f.id.p, f.id.n, f.secret.p, f.secret.n, tok->p, tok->n);
	snprintf(ret->source, sizeof(ret->source), "profile %s", profile);
	return 0;
}

/* ---- cached files ---- */

static void
file_drop(struct creds_file *f)
{
	if (f->data != NULL)
		OPENSSL_cleanse(f->data, f->len + 1);
	free(f->data);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static bool
same_ts(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool
same_ident(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mode == b->st_mode && same_ts(&a->st_mtim, &b->st_mtim) &&
	    same_ts(&a->st_ctim, &b->st_ctim);
}

/* Usable as cached for path, whose stat is now st. */
static bool
file_fresh(const struct creds_file *f, const char *path, const struct stat *st)
{
	time_t newest;

	if (f->path == NULL || strcmp(f->path, path) != 0 || !same_ident(&f->st, st))
		return false;
	newest = f->st.st_mtim.tv_sec > f->st.st_ctim.tv_sec ? f->st.st_mtim.tv_sec :
							       f->st.st_ctim.tv_sec;
	return f->read_at - newest >= CREDS_RACY_S;
}

/* Read the regular file path (at most max bytes) into a malloc'd,
 * NUL-terminated buffer.  0, or -errno; -EINVAL: not a regular file. */
static int
file_read(const char *path, size_t max, struct stat *ret_st, char **ret_data, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t got;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO put there must not hang the caller. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	/* A file growing as we read is cut at the size it had: its stat
	 * changes, so the next call reads it again. */
	cap = (size_t)st.st_size;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (n < cap) {
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	*ret_st = st;
	*ret_data = buf;
	*ret_len = n;
	buf = NULL;
out:
	if (buf != NULL)
		OPENSSL_cleanse(buf, cap + 1);
	free(buf);
	close(fd);
	return r;
}

/* Make f hold path's current content (at most max bytes), reading it only
 * when it changed.  label names it in errbuf ("label: reason") and in the
 * warning about a file others may read, logged when the file is new or
 * changed.  On failure f is emptied. 0 or -errno. */
static int
file_load(struct creds_file *f, const char *path, size_t max, const char *label, char *errbuf,
    size_t errlen)
{
	struct stat st, prev = f->st;
	char *data = NULL, *copy = NULL;
	bool had = f->path != NULL && strcmp(f->path, path) == 0;
	size_t len = 0;
	int r;

	if (stat(path, &st) < 0) {
		r = -errno;
		file_drop(f);
		return fail(errbuf, errlen, r, "%s: %s", label, strerror(-r));
	}
	if (file_fresh(f, path, &st))
		return 0;
	r = file_read(path, max, &st, &data, &len);
	if (r == 0 && (copy = strdup(path)) == NULL)
		r = -ENOMEM;
	file_drop(f);
	if (r < 0) {
		if (data != NULL)
			OPENSSL_cleanse(data, len + 1);
		free(data);
		if (r == -EFBIG)
			return fail(errbuf, errlen, r, "%s: larger than %zu bytes", label, max);
		return fail(errbuf, errlen, r, "%s: %s", label,
		    r == -EINVAL ? "not a regular file" : strerror(-r));
	}
	f->path = copy;
	f->st = st;
	f->read_at = time(NULL);
	f->data = data;
	f->len = len;
	if ((st.st_mode & (S_IROTH | S_IWOTH)) && !(had && same_ident(&prev, &st)))
		log_warnx("%s: the file is %s by others (chmod o-rw it), using it anyway", label,
		    st.st_mode & S_IWOTH ? "world-writable" : "world-readable");
	return 0;
}

/* A secret or token file's length without one trailing "\n" or "\r\n"
 * (sigv4.c's rule for the API's secret files). */
static size_t
trim_newline(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	return n;
}

/* ---- the chain ---- */

/* (1) access_key_id + secret_file [+ session_token_file]. */
static int
step_secret_file(struct ht_creds_provider *p, struct ht_creds *ret, char *errbuf, size_t errlen)
{
	struct creds_file *sf = &p->files[SLOT_SECRET], *tf = &p->files[SLOT_TOKEN];
	char label[PATH_MAX + 32], why[WHY_MAX];
	size_t slen, tlen = 0;
	int r;

	if (!key_id_valid(p->access_key_id, strlen(p->access_key_id)))
		return fail(errbuf, errlen, -EINVAL, "access_key_id " KEY_ID_RULE);
	snprintf(label, sizeof(label), "secret_file %s", p->secret_file);
	r = file_load(sf, p->secret_file, SECRET_FILE_MAX, label, errbuf, errlen);
	if (r < 0)
		return r;
	slen = trim_newline(sf->data, sf->len);
	r = secret_check((const uint8_t *)sf->data, slen, why);
	if (r < 0)
		return fail(errbuf, errlen, r, "%s: %s (one trailing newline is allowed)", label,
		    why);
	if (p->session_token_file != NULL) {
		snprintf(label, sizeof(label), "session_token_file %s", p->session_token_file);
		r = file_load(tf, p->session_token_file, TOKEN_FILE_MAX, label, errbuf, errlen);
		if (r < 0)
			return r;
		tlen = trim_newline(tf->data, tf->len);
		r = tlen == 0 ? -EINVAL : token_check(tf->data, tlen, why);
		if (r < 0)
			return fail(errbuf, errlen, r, "%s: %s", label,
			    tlen == 0 ? "is empty" : why);
	}
	creds_fill(ret, p->access_key_id, strlen(p->access_key_id), sf->data, slen,
	    tlen > 0 ? tf->data : "", tlen);
	snprintf(ret->source, sizeof(ret->source), "secret_file %s", p->secret_file);
	return 0;
}

/* The shared credentials file's path into buf: the configured one, else
 * $AWS_SHARED_CREDENTIALS_FILE, else $HOME (or the passwd entry's home)
 * /.aws/credentials.  0, -ENOENT (no home) or -ENAMETOOLONG. */
static int
shared_path(const struct ht_creds_provider *p, char *buf, size_t len)
{
	const char *env = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	int n;

	if (p->shared_file != NULL)
		n = snprintf(buf, len, "%s", p->shared_file);
	else if (env != NULL && env[0] != '\0')
		n = snprintf(buf, len, "%s", env);
	else {
		if ((home == NULL || home[0] == '\0') &&
		    getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp != NULL)
			home = pw.pw_dir;
		if (home == NULL || home[0] == '\0')
			return -ENOENT;
		n = snprintf(buf, len, "%s/.aws/credentials", home);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* (2) and (4): profile in the shared credentials file. */
static int
step_shared(struct ht_creds_provider *p, const char *profile, struct ht_creds *ret, char *errbuf,
    size_t errlen)
{
	struct creds_file *f = &p->files[SLOT_SHARED];
	char path[PATH_MAX], label[PATH_MAX + 64], why[256];
	int r;

	r = shared_path(p, path, sizeof(path));
	if (r == -ENOENT)
		return fail(errbuf, errlen, r,
		    "profile %s: no shared credentials file (no "
		    "AWS_SHARED_CREDENTIALS_FILE and no home directory)",
		    profile);
	if (r < 0)
		return fail(errbuf, errlen, r, "profile %s: shared credentials file: %s", profile,
		    strerror(-r));
	snprintf(label, sizeof(label), "shared credentials file %s", path);
	r = file_load(f, path, HT_CREDS_FILE_MAX, label, errbuf, errlen);
	if (r < 0)
		return r;
	r = ht_creds_parse_ini(f->data, f->len, profile, ret, why, sizeof(why));
	if (r < 0)
		return fail(errbuf, errlen, r, "%s: %s", label, why);
	snprintf(ret->source, sizeof(ret->source), "profile %s in %s", profile, path);
	return 0;
}

/* (3) the environment.  1 with *ret filled, 0 when the key ID and secret
 * are not both set, or -EINVAL/-EFBIG. */
static int
step_env(struct ht_creds *ret, char *errbuf, size_t errlen)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	char why[WHY_MAX];
	int r;

	if (id == NULL || id[0] == '\0' || secret == NULL || secret[0] == '\0')
		return 0;
	if (token == NULL)
		token = "";
	if (!key_id_valid(id, strlen(id)))
		return fail(errbuf, errlen, -EINVAL, "environment: AWS_ACCESS_KEY_ID " KEY_ID_RULE);
	r = secret_check((const uint8_t *)secret, strlen(secret), why);
	if (r < 0)
		return fail(errbuf, errlen, r, "environment: AWS_SECRET_ACCESS_KEY %s", why);
	r = token_check(token, strlen(token), why);
	if (r < 0)
		return fail(errbuf, errlen, r, "environment: AWS_SESSION_TOKEN %s", why);
	creds_fill(ret, id, strlen(id), secret, strlen(secret), token, strlen(token));
	snprintf(ret->source, sizeof(ret->source), "environment");
	return 1;
}

/* Nothing configured: (3) the environment, then (4) the shared file with
 * $AWS_PROFILE or "default", as the aws CLI.  A file or profile that is
 * not there is "nothing found" (-ENOKEY); one that is there but unreadable
 * or broken is its own error. */
static int
step_unconfigured(struct ht_creds_provider *p, struct ht_creds *ret, char *errbuf, size_t errlen)
{
	const char *profile = getenv("AWS_PROFILE");
	char why[PATH_MAX + 256];
	bool from_env = profile != NULL && profile[0] != '\0';
	int r;

	r = step_env(ret, errbuf, errlen);
	if (r != 0)
		return r;
	r = step_shared(p, from_env ? profile : "default", ret, why, sizeof(why));
	if (r == 0 || (r != -ENOENT && r != -ENOTDIR && r != -ENOKEY))
		return r < 0 ? fail(errbuf, errlen, r, "%s", why) : 0;
	return fail(errbuf, errlen, -ENOKEY,
	    "no credentials found: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set, "
	    "and %s%s",
	    why, from_env ? " (profile from AWS_PROFILE)" : "");
}

int
ht_creds_get(struct ht_creds_provider *p, struct ht_creds *ret, char *errbuf, size_t errlen)
{
	int r;

	pthread_mutex_lock(&p->lock);
	if (p->access_key_id != NULL)
		r = step_secret_file(p, ret, errbuf, errlen);
	else if (p->profile != NULL || p->shared_file != NULL)
		r = step_shared(p, p->profile != NULL ? p->profile : "default", ret, errbuf,
		    errlen);
	else
		r = step_unconfigured(p, ret, errbuf, errlen);
	pthread_mutex_unlock(&p->lock);
	return r < 0 ? r : 0;
}

/* ---- the provider ---- */

static int
dup_opt(const char *s, char **ret)
{
	if (s == NULL)
		return 0;
	*ret = strdup(s);
	return *ret != NULL ? 0 : -ENOMEM;
}

int
ht_creds_provider_new(const struct ht_conf_s3_credentials *conf, struct ht_creds_provider **ret)
{
	const struct ht_conf_s3_credentials none = { 0 };
	struct ht_creds_provider *p;
	int r;

	if (conf == NULL)
		conf = &none;
	if ((conf->access_key_id == NULL) != (conf->secret_file == NULL) ||
	    (conf->session_token_file != NULL && conf->access_key_id == NULL) ||
	    (conf->access_key_id != NULL &&
		(conf->profile != NULL || conf->shared_credentials_file != NULL)))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	r = pthread_mutex_init(&p->lock, NULL);
	if (r != 0) {
		free(p);
		return -r;
	}
	r = dup_opt(conf->access_key_id, &p->access_key_id);
	if (r == 0)
		r = dup_opt(conf->secret_file, &p->secret_file);
	if (r == 0)
		r = dup_opt(conf->session_token_file, &p->session_token_file);
	if (r == 0)
		r = dup_opt(conf->profile, &p->profile);
	if (r == 0)
		r = dup_opt(conf->shared_credentials_file, &p->shared_file);
	if (r < 0) {
		ht_creds_provider_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

void
ht_creds_provider_free(struct ht_creds_provider *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < SLOT_N; i++)
		file_drop(&p->files[i]);
	pthread_mutex_destroy(&p->lock);
	free(p->access_key_id);
	free(p->secret_file);
	free(p->session_token_file);
	free(p->profile);
	free(p->shared_file);
	free(p);
}
