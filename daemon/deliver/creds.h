/*
 * creds.h - where an s3 bucket's access keys come from, resolved again on
 * every upload so that rotated keys are used without a restart.
 *
 * The chain, first match wins:
 *  1. the bucket's credentials: access_key_id + secret_file (and
 *     session_token_file);
 *  2. the bucket's credentials: profile (default "default") in its
 *     shared_credentials_file, else $AWS_SHARED_CREDENTIALS_FILE, else
 *     $HOME/.aws/credentials;
 *  3. only when the bucket configures neither: AWS_ACCESS_KEY_ID +
 *     AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), when both are set and
 *     non-empty;
 *  4. then the shared credentials file (as in 2), profile $AWS_PROFILE or
 *     "default", as the aws CLI does.
 * A configured step that fails is an error: an operator who named a
 * secret_file or a profile wants those keys, not whatever the environment
 * happens to hold.  The environment is read on each call, never cached.
 *
 * Files are cached and re-read when their identity changes (device, inode,
 * size, mtime, ctime, mode), so an edited, replaced or re-linked file (a
 * Kubernetes secret's ..data swap) is picked up by the next call.
 *
 * Secrets never appear in an error message, a log line or ht_creds.source,
 * and are wiped from every buffer that held them.  A file readable by others
 * is used, with a warning logged once per change of the file.
 */
#ifndef HT_DELIVER_CREDS_H
#define HT_DELIVER_CREDS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Longest access key ID, in characters. */
#define HT_CREDS_KEY_ID_MAX 128
/* Longest secret access key, in bytes (the signer's limit, HT_SIGV4_SECRET_MAX). */
#define HT_CREDS_SECRET_MAX 1024
/* Size of the session token buffer: tokens up to HT_CREDS_TOKEN_MAX - 1
 * characters (STS tokens run to 2-4 KB). */
#define HT_CREDS_TOKEN_MAX 8192
/* Size of ht_creds.source. */
#define HT_CREDS_SOURCE_MAX (PATH_MAX + 64)
/* Largest shared credentials file read, in bytes. */
#define HT_CREDS_FILE_MAX (1024 * 1024)

/* One set of keys.  access_key_id is 1..HT_CREDS_KEY_ID_MAX characters of
 * [A-Za-z0-9:_-] (':' for Swift's "account:user"); secret is 1..
 * HT_CREDS_SECRET_MAX bytes without control characters, not NUL-terminated;
 * session_token is "" for none, else printable ASCII without spaces.  Wipe
 * it with ht_creds_clear() when done. */
struct ht_creds {
	char access_key_id[HT_CREDS_KEY_ID_MAX + 1];
	uint8_t secret[HT_CREDS_SECRET_MAX];
	size_t secret_len;
	char session_token[HT_CREDS_TOKEN_MAX];
	/* Where the keys came from, for logs; never secret: "secret_file
	 * /etc/x", "environment", "profile prod in /root/.aws/credentials". */
	char source[HT_CREDS_SOURCE_MAX];
};

struct ht_creds_provider;

/* A provider for one bucket's credentials: conf.  conf is borrowed for the
 * call only (what is needed is copied; NULL: nothing configured); its paths
 * are used as given, so relative ones are relative to the working
 * directory.  0 with *ret set, -EINVAL for a combination conf.c refuses
 * (access_key_id without secret_file or the reverse, session_token_file
 * without access_key_id, access_key_id together with profile or
 * shared_credentials_file), or -ENOMEM. */
int ht_creds_provider_new(const struct ht_conf_s3_credentials *conf,
    struct ht_creds_provider **ret);

/* Resolve the chain now (see the top of this file) into *ret.  May stat and
 * read small files (blocking, a few KB); safe to call from several threads.
 * 0, or -errno with a one-line reason in errbuf naming the source and file
 * (never any secret text): -ENOENT, -EACCES, ... for an unusable file,
 * -EINVAL or -EFBIG for bad content, -ENOKEY when nothing was found (the
 * reason lists where it looked; also a profile absent from its file).
 * *ret is written only on success. */
int ht_creds_get(struct ht_creds_provider *p, struct ht_creds *ret, char *errbuf, size_t errlen);

/* Free a provider, wiping every cached file.  NULL is a no-op. */
void ht_creds_provider_free(struct ht_creds_provider *p);

/* Wipe c (all of it).  NULL is a no-op. */
void ht_creds_clear(struct ht_creds *c);

/* Read [profile]'s keys from the text of a shared credentials file, as the
 * aws CLI reads it: "[name]" section headers (name trimmed), "key = value"
 * or "key: value" lines (key case-insensitive, both trimmed), comment lines
 * whose first non-blank is '#' or ';', blank lines, CRLF or LF endings, a
 * leading UTF-8 BOM.  Keys aws_access_key_id, aws_secret_access_key and
 * aws_session_token (the old name aws_security_token wins when both are
 * set, as in botocore, unless it is empty); an empty token means none.
 * Sections of the same name merge and the last value of a key wins (the
 * SDKs' rule; the aws CLI refuses such a file).  Other lines are ignored:
 * they cannot make up a key, only leave one missing.  text need not be
 * NUL-terminated and may hold anything; profile NULL means "default".
 * 0 with *ret filled (source "profile NAME"), -ENOKEY when there is no such
 * section, -EINVAL or -EFBIG when a key is missing, empty or invalid; the
 * reason in errbuf names the profile and the key, never a value. */
int ht_creds_parse_ini(const char *text, size_t len, const char *profile, struct ht_creds *ret,
    char *errbuf, size_t errlen);

#endif
