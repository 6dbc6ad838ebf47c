/*
 * crypto.h - the digests and encodings hosttrail needs, through OpenSSL's
 * libcrypto.  Thread-safe; no allocation except where stated.
 */
#ifndef HT_CRYPTO_H
#define HT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define HT_SHA256_LEN 32

/* SHA-256 of data into out. 0, or -EIO if libcrypto fails. */
int ht_sha256(const void *data, size_t len, uint8_t out[HT_SHA256_LEN]);
/* Standard base64 (with padding) of data; returns a malloc'd NUL-terminated
 * string, or NULL on ENOMEM. */
char *ht_base64_encode(const void *data, size_t len);
/* Decode standard base64 (padding required, no whitespace).  Writes at most
 * cap bytes to out and the count to *ret_len.  0, -EINVAL for bad input,
 * -ENOSPC if out is too small. */
int ht_base64_decode(const char *s, uint8_t *out, size_t cap, size_t *ret_len);
/* HMAC-SHA256 of data under key into out. 0, or -EIO if libcrypto fails. */
int ht_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
    uint8_t out[HT_SHA256_LEN]);
/* Constant-time comparison of len bytes: 1 if equal, 0 if not. */
int ht_memeq_consttime(const void *a, const void *b, size_t len);
/* Lowercase hex of data into out (2*len+1 bytes). */
void ht_hex(const void *data, size_t len, char *out);

#endif
