/*
 * fuzz_conf.c - libFuzzer target for the config loader: arbitrary bytes go
 * to ht_conf_load_string().  Besides the sanitizers' memory checks it
 * enforces the loader's contract: a failure writes exactly one line naming
 * the input ("fuzz.yaml:LINE:COL: ..." or "fuzz.yaml: out of memory") and
 * leaves *ret alone; a success yields a config whose invariants hold.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -I. -Icommon \
 *       tests/fuzz/fuzz_conf.c common/conf.c common/util.c common/conf_default.c -lyaml
 *   ./a.out tests/fuzz/corpus/conf
 */
#include "ht_build.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_conf(const struct ht_conf *c)
{
	char *p;

	if (!ht_account_id_valid(c->account_id) || c->region == NULL || c->state_dir == NULL ||
	    c->state_dir[0] != '/' || c->n_trails > HT_MAX_TRAILS_PER_REGION)
		__builtin_trap();
	for (size_t i = 0; i < c->n_trails; i++) {
		if (ht_trail_name_invalid(c->trails[i].name) != NULL ||
		    ht_conf_bucket(c, c->trails[i].s3_bucket_name) == NULL)
			__builtin_trap();
		if (c->trails[i].sns_topic_name != NULL &&
		    ht_conf_topic(c, c->trails[i].sns_topic_name) == NULL)
			__builtin_trap();
	}
	for (size_t i = 0; i < c->n_buckets; i++) {
		if (c->buckets[i].path == NULL)
			__builtin_trap();
		p = ht_conf_path(c, c->buckets[i].path);
		free(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_conf *conf = NULL;
	char err[256];
	int r;

	r = ht_conf_load_string("fuzz.yaml", (const char *)data, size, &conf, err, sizeof(err));
	if (r == 0) {
		check_conf(conf);
		ht_conf_free(conf);
		return 0;
	}
	if (conf != NULL || (r != -EINVAL && r != -ENOMEM) || strchr(err, '\n') != NULL ||
	    strncmp(err, "fuzz.yaml:", 10) != 0)
		__builtin_trap();
	return 0;
}
