/*
 * crypto.c - SHA-256, base64 and hex on top of OpenSSL 3's libcrypto.
 *
 * libcrypto's EVP_EncodeBlock/EVP_DecodeBlock take int lengths and are
 * lenient in ways our callers must not be: EVP_DecodeBlock skips leading and
 * trailing whitespace, does not subtract padding from its result (a quad
 * ending in "==" still counts three bytes) and writes whole quads even when
 * the caller's buffer only fits the unpadded result.  So decoding validates the text here
 * first (alphabet, length, padding only at the end), works out the true
 * length itself, and decodes the last quad through a small local buffer.
 */
#include "ht_build.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.h"

/* Base64 text is fed to libcrypto in pieces of at most this many characters
 * (a multiple of 4), which keeps every length well inside an int. */
#define B64_CHUNK (1 << 20)

int
ht_sha256(const void *data, size_t len, uint8_t out[HT_SHA256_LEN])
{
	unsigned int outlen = 0;

	if (EVP_Digest(len ? data : "", len, out, &outlen, EVP_sha256(), NULL) != 1 ||
	    outlen != HT_SHA256_LEN)
		return -EIO;
	return 0;
}

char *
ht_base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	size_t quads, done = 0, pos = 0;
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	quads = (len + 2) / 3;
	out = malloc(quads * 4 + 1);
	if (out == NULL)
		return NULL;
	out[0] = '\0';
	/* Whole groups of 3 bytes encode independently, so chunking by a
	 * multiple of 3 gives the same text as one call would. */
	while (done < len) {
		size_t n = len - done;

		if (n > B64_CHUNK / 4 * 3)
			n = B64_CHUNK / 4 * 3;
		pos += (size_t)EVP_EncodeBlock((unsigned char *)out + pos, in + done, (int)n);
		done += n;
	}
	out[pos] = '\0';
	return out;
}

static int
b64_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

/* Checks s (n characters) is padded standard base64 and returns the number
 * of '=' at its end (0-2), or -EINVAL. */
static int
b64_validate(const char *s, size_t n)
{
	size_t i, pad = 0;

	if (n % 4 != 0)
		return -EINVAL;
	if (n >= 1 && s[n - 1] == '=')
		pad++;
	if (n >= 2 && s[n - 2] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!b64_is_alpha((unsigned char)s[i]))
			return -EINVAL;
	return (int)pad;
}

int
ht_base64_decode(const char *s, uint8_t *out, size_t cap, size_t *ret_len)
{
	unsigned char last[3];
	size_t n, body, done = 0, pos = 0, outlen;
	int pad;

	n = strlen(s);
	pad = b64_validate(s, n);
	if (pad < 0)
		return pad;
	if (n == 0) {
		*ret_len = 0;
		return 0;
	}
	outlen = n / 4 * 3 - (size_t)pad;
	if (outlen > cap)
		return -ENOSPC;

	/* Every quad but the last decodes to exactly three bytes, all of
	 * which fit in out. */
	body = n - 4;
	while (done < body) {
		size_t k = body - done;
		int r;

		if (k > B64_CHUNK)
			k = B64_CHUNK;
		r = EVP_DecodeBlock(out + pos, (const unsigned char *)s + done, (int)k);
		if (r < 0)
			return -EINVAL;
		pos += (size_t)r;
		done += k;
	}
	if (EVP_DecodeBlock(last, (const unsigned char *)s + body, 4) != 3)
		return -EINVAL;
	memcpy(out + pos, last, 3 - (size_t)pad);
	*ret_len = outlen;
	return 0;
}

void
ht_hex(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int
ht_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
    uint8_t out[HT_SHA256_LEN])
{
	size_t out_len = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, data, len, out,
	    HT_SHA256_LEN, &out_len) == NULL || out_len != HT_SHA256_LEN)
		return -EIO;
	return 0;
}

int
ht_memeq_consttime(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
