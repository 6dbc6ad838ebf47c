/*
 * fuzz_sigv4.c - signed requests as an attacker may shape them, through the
 * SigV4 verifier.  The input is split on "\n": the first line is the
 * request URI, the next lines "Name: value" headers, and after an empty
 * line the body.  Nothing may crash, and a made-up request must not verify.
 */
#include "ht_build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 32

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const services[] = { "cloudtrail", NULL };
	struct ht_sigv4_header hv[MAX_HEADERS];
	struct ht_sigv4_store *store = NULL;
	struct ht_sigv4_identity id;
	struct ht_sigv4_error err;
	struct ht_sigv4_request req = { .method = "POST" };
	struct ht_sigv4_expect ex = { .region = "us-east-1", .services = services,
		.now = 1795000000 };
	char *buf = malloc(size + 1), *p, *line;
	size_t n = 0;

	if (buf == NULL || ht_sigv4_store_new(&store) < 0 ||
	    ht_sigv4_store_add(store, "AKIDEXAMPLE", "secret", 6, HT_ACCESS_ADMIN) < 0)
		goto out;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	req.uri = strsep(&p, "\n");
	while (p && (line = strsep(&p, "\n")) != NULL && *line && n < MAX_HEADERS) {
		char *colon = strchr(line, ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		hv[n++] = (struct ht_sigv4_header){ line, colon + 1 };
	}
	req.headers = hv;
	req.n_headers = n;
	req.body = p;
	req.body_len = p ? strlen(p) : 0;
	/* The secret is unknown to the fuzzer: only a 2^-256 guess verifies. */
	if (ht_sigv4_verify(store, &req, &ex, &id, &err) == 0)
		__builtin_trap();
out:
	ht_sigv4_store_free(store);
	free(buf);
	return 0;
}
