/*
 * test_crypto.c - common/crypto.c against published vectors (FIPS 180-2
 * for SHA-256, RFC 4648 for base64) and the edge cases libcrypto itself
 * would let through: whitespace, misplaced padding, buffers sized for the
 * unpadded result.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto.h"

static void
sha256_hex(const void *data, size_t len, char out[2 * HT_SHA256_LEN + 1])
{
	uint8_t d[HT_SHA256_LEN];

	assert_int_equal(ht_sha256(data, len, d), 0);
	ht_hex(d, sizeof(d), out);
}

static void
test_sha256_vectors(void **state)
{
	static const char two_blocks[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[2 * HT_SHA256_LEN + 1];
	char *million;

	(void)state;
	sha256_hex("", 0, hex);
	assert_string_equal(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex(NULL, 0, hex);
	assert_string_equal(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex(two_blocks, strlen(two_blocks), hex);
	assert_string_equal(hex,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	million = malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, hex);
	assert_string_equal(hex,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/* The PutAuditEvents checksum, as `openssl dgst -binary -sha256 | base64`
 * computes it. */
static void
test_event_data_checksum(void **state)
{
	uint8_t d[HT_SHA256_LEN];
	char *b64;

	(void)state;
	assert_int_equal(ht_sha256("{\"a\":1}", 7, d), 0);
	b64 = ht_base64_encode(d, sizeof(d));
	assert_non_null(b64);
	assert_string_equal(b64, "AVq9f1zFei3ZS3WQ8ErYCEJzkF7jPsXOvq5iJ2qX+GI=");
	free(b64);
}

static const struct {
	const char *plain;
	const char *b64;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_base64_vectors(void **state)
{
	uint8_t out[16];
	size_t i, len;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		s = ht_base64_encode(rfc4648[i].plain, strlen(rfc4648[i].plain));
		assert_non_null(s);
		assert_string_equal(s, rfc4648[i].b64);
		free(s);

		len = 99;
		assert_int_equal(ht_base64_decode(rfc4648[i].b64, out, sizeof(out), &len), 0);
		assert_int_equal(len, strlen(rfc4648[i].plain));
		assert_memory_equal(out, rfc4648[i].plain, len);
	}
}

static void
test_base64_binary(void **state)
{
	uint8_t all[256], out[256];
	size_t i, len;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	s = ht_base64_encode(all, sizeof(all));
	assert_non_null(s);
	assert_int_equal(strlen(s), 344);
	assert_int_equal(ht_base64_decode(s, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(all));
	assert_memory_equal(out, all, sizeof(all));
	free(s);
}

/* More than one libcrypto chunk each way (the encoder and decoder split
 * their work at about 1 MB). */
static void
test_base64_large(void **state)
{
	size_t n = 3 * 1024 * 1024 + 1, i, len;
	uint8_t *data, *back;
	char *s;

	(void)state;
	data = malloc(n);
	back = malloc(n);
	assert_non_null(data);
	assert_non_null(back);
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	s = ht_base64_encode(data, n);
	assert_non_null(s);
	assert_int_equal(strlen(s), (n + 2) / 3 * 4);
	assert_int_equal(ht_base64_decode(s, back, n, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(back, data, n);
	free(s);
	free(data);
	free(back);
}

static void
test_base64_bad(void **state)
{
	static const char *const bad[] = {
		"Zg=",		/* not a multiple of 4 */
		"Z",
		"Zg=\n",
		"Zm9v\n",	/* no whitespace anywhere */
		" Zm9v",
		"Zm9v ",
		"Zm 9",
		"Z===",		/* at most two '=' */
		"====",
		"Zm=v",		/* '=' only at the end */
		"=m9v",
		"Zg==Zg==",
		"Zm9*",		/* not the standard alphabet */
		"Zm9-",
		"Zm9_",
	};
	uint8_t out[16];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = 4242;
		if (ht_base64_decode(bad[i], out, sizeof(out), &len) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(len, 4242);
	}
}

static void
test_base64_small_buffer(void **state)
{
	uint8_t *out;
	size_t len = 4242;

	(void)state;
	/* Heap buffers of the exact size, so ASan sees any write past them:
	 * libcrypto alone would write whole 3-byte groups. */
	out = malloc(6);
	assert_non_null(out);
	assert_int_equal(ht_base64_decode("Zm9vYmFy", out, 5, &len), -ENOSPC);
	assert_int_equal(len, 4242);
	assert_int_equal(ht_base64_decode("Zm9vYmFy", out, 6, &len), 0);
	assert_int_equal(len, 6);
	free(out);

	out = malloc(4);
	assert_non_null(out);
	assert_int_equal(ht_base64_decode("Zm9vYg==", out, 4, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "foob", 4);
	free(out);

	out = malloc(1);
	assert_non_null(out);
	assert_int_equal(ht_base64_decode("Zg==", out, 1, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 'f');
	assert_int_equal(ht_base64_decode("Zm8=", out, 1, &len), -ENOSPC);
	free(out);

	assert_int_equal(ht_base64_decode("", NULL, 0, &len), 0);
	assert_int_equal(len, 0);
}

static void
test_hex(void **state)
{
	static const uint8_t data[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(data) + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	ht_hex(data, sizeof(data), out);
	assert_string_equal(out, "00017f80abff");
	ht_hex(data, 0, out);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_event_data_checksum),
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_binary),
		cmocka_unit_test(test_base64_large),
		cmocka_unit_test(test_base64_bad),
		cmocka_unit_test(test_base64_small_buffer),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
