/*
 * fuzz_creds_ini.c - libFuzzer target for the shared credentials file
 * parser, ht_creds_parse_ini().  The input's first line (at most 64 bytes)
 * is the profile to look up, the rest is the file, passed by length in an
 * exact-size buffer so any read past it is caught.  Besides the sanitizers'
 * checks it enforces the contract: a success yields keys that pass the
 * documented rules; a failure leaves *ret alone and its reason is exactly
 * one of the fixed messages, so no byte of the file (a secret) can leak
 * into it.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -I. -Icommon -Idaemon \
 *       tests/fuzz/fuzz_creds_ini.c daemon/deliver/creds.c common/log.c -lcrypto
 *   ./a.out
 */
#include "ht_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROFILE_MAX 64

static void
check_creds(const struct ht_creds *c, const char *profile)
{
	char want[PROFILE_MAX + 16];
	size_t n = strlen(c->access_key_id), i;

	if (n == 0 || n > HT_CREDS_KEY_ID_MAX ||
	    strspn(c->access_key_id,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789:_-") != n)
		__builtin_trap();
	if (c->secret_len == 0 || c->secret_len > HT_CREDS_SECRET_MAX)
		__builtin_trap();
	for (i = 0; i < c->secret_len; i++)
		if (c->secret[i] < 0x20 || c->secret[i] == 0x7f)
			__builtin_trap();
	for (i = 0; c->session_token[i] != '\0'; i++)
		if (c->session_token[i] < 0x21 || c->session_token[i] > 0x7e)
			__builtin_trap();
	snprintf(want, sizeof(want), "profile %s", profile);
	if (strcmp(c->source, want) != 0)
		__builtin_trap();
}

/* True if msg is one of the parser's fixed reasons for profile. */
static bool
known_reason(const char *msg, const char *profile)
{
	static const char *const tails[] = { "aws_access_key_id missing",
		"aws_secret_access_key missing", "aws_access_key_id, aws_secret_access_key missing",
		"aws_access_key_id is not 1-128 characters of A-Z a-z 0-9 : _ -",
		"aws_secret_access_key is empty", "aws_secret_access_key is longer than 1024 bytes",
		"aws_secret_access_key holds a control character",
		"aws_session_token is longer than 8191 bytes",
		"aws_session_token holds a character other than printable ASCII",
		"aws_security_token is longer than 8191 bytes",
		"aws_security_token holds a character other than printable ASCII", NULL };
	char want[PROFILE_MAX + 128];
	size_t i;

	snprintf(want, sizeof(want), "no profile [%s]", profile);
	if (strcmp(msg, want) == 0)
		return true;
	for (i = 0; tails[i] != NULL; i++) {
		snprintf(want, sizeof(want), "profile %s: %s", profile, tails[i]);
		if (strcmp(msg, want) == 0)
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ht_creds c, before;
	char profile[PROFILE_MAX + 1], errbuf[256];
	const uint8_t *nl = memchr(data, '\n', size < PROFILE_MAX ? size : PROFILE_MAX);
	size_t plen = nl != NULL ? (size_t)(nl - data) : 0, rest;
	char *text;
	int r;

	/* No newline up front: the whole input is the file, profile "default". */
	if (nl == NULL)
		snprintf(profile, sizeof(profile), "default");
	else
		snprintf(profile, sizeof(profile), "%.*s", (int)plen, (const char *)data);
	rest = nl != NULL ? size - plen - 1 : size;
	text = malloc(rest > 0 ? rest : 1);
	if (text == NULL)
		return 0;
	memcpy(text, nl != NULL ? nl + 1 : data, rest);
	memset(&c, 0x5a, sizeof(c));
	before = c;
	errbuf[0] = '\0';
	r = ht_creds_parse_ini(text, rest, profile, &c, errbuf, sizeof(errbuf));
	if (r == 0) {
		check_creds(&c, profile);
	} else {
		if (r != -ENOKEY && r != -EINVAL && r != -EFBIG)
			__builtin_trap();
		if (memcmp(&c, &before, sizeof(c)) != 0 || !known_reason(errbuf, profile))
			__builtin_trap();
	}
	ht_creds_clear(&c);
	free(text);
	return 0;
}
