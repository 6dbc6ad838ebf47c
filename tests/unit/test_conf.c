/*
 * test_conf.c - common/conf.c: the embedded default, every key's parsing
 * and defaults, and the exact "FILE:LINE:COL: KEY.PATH: message" of each
 * kind of error.  Line and column numbers are part of the contract (editors
 * jump to them), so every error case asserts them.
 *
 * Out-of-memory: when the test is linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=asprintf
 * test_out_of_memory fails each allocation in turn and checks that the load
 * returns -ENOMEM with a message and leaks nothing (under ASan).  Without
 * those flags the wrappers are never called and the test is skipped.
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
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define UNUSED __attribute__((unused))
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation failures, active only with --wrap (see Makefile.am). */
#include "alloc_fail.h"

/* ---- helpers ---- */

/* Lines 1-7 of most test configs; cases append from line 8. */
#define BASE \
	"account_id: \"123456789012\"\n" \
	"region: test-1\n" \
	"state_dir: /srv/ht\n" \
	"buckets:\n" \
	"  spool-a:\n" \
	"    type: spool\n" \
	"    path: spool\n"

static char errbuf[512];

static struct ht_conf *
load_ok(const char *yaml)
{
	struct ht_conf *conf = NULL;
	int r;

	r = ht_conf_load_string("t.yaml", yaml, strlen(yaml), &conf, errbuf, sizeof(errbuf));
	if (r != 0)
		print_message("unexpected error: %s\n", errbuf);
	assert_int_equal(r, 0);
	assert_non_null(conf);
	return conf;
}

/* The load must fail with -EINVAL, leave *ret alone, and write one line that
 * starts with prefix. */
static void
expect_error(const char *yaml, const char *prefix)
{
	struct ht_conf *conf = (struct ht_conf *)&errbuf;	/* a sentinel */
	int r;

	memset(errbuf, 'x', sizeof(errbuf));
	r = ht_conf_load_string("t.yaml", yaml, strlen(yaml), &conf, errbuf, sizeof(errbuf));
	if (r != -EINVAL || strncmp(errbuf, prefix, strlen(prefix)) != 0)
		print_message("expected \"%s...\"\n     got \"%s\" (%d)\n", prefix, errbuf, r);
	assert_int_equal(r, -EINVAL);
	assert_ptr_equal(conf, (struct ht_conf *)&errbuf);
	assert_non_null(memchr(errbuf, '\0', sizeof(errbuf)));
	assert_null(strchr(errbuf, '\n'));
	assert_true(strncmp(errbuf, prefix, strlen(prefix)) == 0);
}

static void
expect_exact(const char *yaml, const char *message)
{
	expect_error(yaml, message);
	assert_string_equal(errbuf, message);
}

/* ---- the embedded default ---- */

static void
test_embedded_default(void **state UNUSED)
{
	struct ht_conf *c = NULL;
	const struct ht_conf_trail *t;

	assert_int_equal(ht_conf_load(NULL, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c->path, "<embedded default>");
	assert_string_equal(c->account_id, "000000000000");
	assert_string_equal(c->region, "onprem-1");
	assert_null(c->organization_id);
	assert_string_equal(c->state_dir, "/var/lib/hosttrail");
	assert_int_equal(c->history.retention_days, 90);
	assert_int_equal(c->history.max_disk, 0);
	assert_int_equal(c->history.fsync, HT_FSYNC_INTERVAL);
	assert_int_equal(c->history.fsync_interval_ms, 1000);
	assert_string_equal(c->api.socket, "api.sock");
	assert_null(c->api.listen);
	assert_int_equal(c->api.n_credentials, 0);
	assert_int_equal(c->n_buckets, 1);
	assert_string_equal(c->buckets[0].name, "local-spool");
	assert_int_equal(c->buckets[0].type, HT_BUCKET_SPOOL);
	assert_string_equal(c->buckets[0].path, "spool");
	assert_int_equal(c->n_topics, 0);
	assert_int_equal(c->n_sources, 2);
	assert_int_equal(c->sources[0].type, HT_SOURCE_INGEST);
	assert_int_equal(c->sources[0].n_channels, 1);
	assert_string_equal(c->sources[0].channels[0], "default");
	assert_int_equal(c->sources[1].type, HT_SOURCE_JOURNAL);
	assert_null(c->sources[1].directory);
	assert_int_equal(c->sources[1].start, HT_SOURCE_START_END);
	assert_int_equal(c->n_trails, 1);
	t = &c->trails[0];
	assert_string_equal(t->name, "default");
	assert_string_equal(t->s3_bucket_name, "local-spool");
	assert_null(t->s3_key_prefix);
	assert_null(t->sns_topic_name);
	assert_false(t->is_multi_region_trail);
	assert_true(t->include_global_service_events);
	assert_false(t->enable_log_file_validation);
	assert_false(t->is_organization_trail);
	assert_true(t->start_logging);
	assert_int_equal(t->delivery.interval_ms, 5 * 60 * 1000);
	assert_int_equal(t->delivery.max_events, 10000);
	assert_int_equal(t->delivery.max_bytes, 50 * 1024 * 1024);
	assert_int_equal(t->delivery.retry_min_ms, 1000);
	assert_int_equal(t->delivery.retry_max_ms, 5 * 60 * 1000);
	assert_int_equal(t->outbox_max, 10000);
	assert_null(t->kms_key_id);
	assert_int_equal(c->trail_defaults.delivery.interval_ms, 5 * 60 * 1000);
	assert_int_equal(c->trail_defaults.delivery.retry_min_ms, 1000);
	assert_int_equal(c->trail_defaults.delivery.retry_max_ms, 5 * 60 * 1000);
	assert_int_equal(c->trail_defaults.outbox_max, 10000);
	ht_conf_free(c);
}

/* Keys left out take the defaults documented in conf.h. */
static void
test_defaults(void **state UNUSED)
{
	struct ht_conf *c = load_ok("account_id: \"123456789012\"\nregion: r\n"
	    "buckets: {bkt: {type: spool, path: /abs}}\n"
	    "trails:\n  - {name: tr1, s3_bucket_name: bkt}\n");

	assert_string_equal(c->path, "t.yaml");
	assert_string_equal(c->state_dir, "/var/lib/hosttrail");
	assert_int_equal(c->history.retention_days, 90);
	assert_int_equal(c->history.max_disk, 0);
	assert_int_equal(c->history.fsync, HT_FSYNC_INTERVAL);
	assert_int_equal(c->history.fsync_interval_ms, 1000);
	assert_string_equal(c->api.socket, "api.sock");
	assert_null(c->api.listen);
	assert_int_equal(c->n_sources, 0);
	assert_true(c->trails[0].include_global_service_events);
	assert_true(c->trails[0].start_logging);
	assert_false(c->trails[0].is_multi_region_trail);
	assert_int_equal(c->trails[0].delivery.interval_ms, 300000);
	assert_int_equal(c->trails[0].delivery.max_events, 10000);
	assert_int_equal(c->trails[0].delivery.max_bytes, 52428800);
	assert_int_equal(c->trails[0].delivery.retry_min_ms, 1000);
	assert_int_equal(c->trails[0].delivery.retry_max_ms, 300000);
	assert_int_equal(c->trails[0].outbox_max, 10000);
	assert_null(c->trails[0].kms_key_id);
	/* trail_defaults shares the trails' defaults. */
	assert_int_equal(c->trail_defaults.delivery.interval_ms, 300000);
	assert_int_equal(c->trail_defaults.delivery.max_events, 10000);
	assert_int_equal(c->trail_defaults.delivery.max_bytes, 52428800);
	assert_int_equal(c->trail_defaults.delivery.retry_min_ms, 1000);
	assert_int_equal(c->trail_defaults.delivery.retry_max_ms, 300000);
	assert_int_equal(c->trail_defaults.outbox_max, 10000);
	/* A spool bucket has no s3 settings. */
	assert_null(c->buckets[0].bucket);
	assert_null(c->buckets[0].endpoint);
	ht_conf_free(c);
}

/* Empty sections (every key commented out) are empty, not errors. */
static void
test_empty_sections(void **state UNUSED)
{
	struct ht_conf *c = load_ok("account_id: \"123456789012\"\nregion: r\n"
	    "history:\napi:\nbuckets:\ntopics: ~\nsources: []\ntrails:\n");

	assert_int_equal(c->history.retention_days, 90);
	assert_int_equal(c->n_buckets + c->n_topics + c->n_sources + c->n_trails, 0);
	ht_conf_free(c);
}

static void
test_units(void **state UNUSED)
{
	struct ht_conf *c = load_ok(BASE
	    "history:\n"
	    "  retention_days: 30\n"
	    "  max_disk: 10GB\n"
	    "  fsync: always\n"
	    "  fsync_interval: 200ms\n"
	    "trails:\n"
	    "  - name: tr1\n"
	    "    s3_bucket_name: spool-a\n"
	    "    delivery: {interval: 2m, max_events: 500, max_bytes: 64KiB}\n"
	    "  - name: tr2\n"
	    "    s3_bucket_name: spool-a\n"
	    "    delivery: {interval: 90, max_bytes: 2000000}\n");

	assert_int_equal(c->history.retention_days, 30);
	assert_int_equal(c->history.max_disk, 10000000000ULL);
	assert_int_equal(c->history.fsync, HT_FSYNC_ALWAYS);
	assert_int_equal(c->history.fsync_interval_ms, 200);
	assert_int_equal(c->trails[0].delivery.interval_ms, 120000);
	assert_int_equal(c->trails[0].delivery.max_events, 500);
	assert_int_equal(c->trails[0].delivery.max_bytes, 65536);
	assert_int_equal(c->trails[1].delivery.interval_ms, 90000);	/* bare = seconds */
	assert_int_equal(c->trails[1].delivery.max_bytes, 2000000);	/* bare = bytes */
	ht_conf_free(c);
}

static void
test_everything(void **state UNUSED)
{
	struct ht_conf *c = load_ok(BASE
	    "organization_id: o-abcdefghij\n"
	    "api:\n"
	    "  socket: /run/ht.sock\n"
	    "  listen: 127.0.0.1:8149\n"
	    "  credentials:\n"
	    "    - {access_key_id: AKIAAAAAAAAAAAAAAAAA, secret_file: /etc/a.secret}\n"
	    "    - {access_key_id: AKIAAAAAAAAAAAAAAAAB, secret_file: b.secret, access: read}\n"
	    "topics:\n"
	    "  log_delivered-1:\n"
	    "    signing_key_file: /etc/hosttrail/sns.key\n"
	    "    signing_cert_url: https://certs.example.com/sns.pem\n"
	    "    subscriptions:\n"
	    "      - url: https://siem.example.com/hook\n"
	    "      - url: http://127.0.0.1:9000/\n"
	    "sources:\n"
	    "  - type: ingest\n"
	    "    channels: [one, two]\n"
	    "trails:\n"
	    "  - name: Org.Trail_1\n"
	    "    s3_bucket_name: spool-a\n"
	    "    s3_key_prefix: host-a\n"
	    "    sns_topic_name: log_delivered-1\n"
	    "    is_multi_region_trail: yes\n"
	    "    include_global_service_events: off\n"
	    "    enable_log_file_validation: On\n"
	    "    is_organization_trail: TRUE\n"
	    "    start_logging: no\n");
	const struct ht_conf_trail *t = &c->trails[0];

	assert_string_equal(c->organization_id, "o-abcdefghij");
	assert_string_equal(c->api.socket, "/run/ht.sock");
	assert_string_equal(c->api.listen, "127.0.0.1:8149");
	assert_int_equal(c->api.n_credentials, 2);
	assert_string_equal(c->api.credentials[0].access_key_id, "AKIAAAAAAAAAAAAAAAAA");
	assert_string_equal(c->api.credentials[0].secret_file, "/etc/a.secret");
	assert_int_equal(c->api.credentials[0].access, HT_ACCESS_ADMIN);
	/* From a string there is no file to be relative to: kept as written. */
	assert_string_equal(c->api.credentials[1].secret_file, "b.secret");
	assert_int_equal(c->api.credentials[1].access, HT_ACCESS_READ);
	assert_int_equal(c->n_topics, 1);
	assert_string_equal(c->topics[0].name, "log_delivered-1");
	assert_int_equal(c->topics[0].n_subscriptions, 2);
	assert_string_equal(c->topics[0].subscriptions[1].url, "http://127.0.0.1:9000/");
	assert_int_equal(c->sources[0].n_channels, 2);
	assert_string_equal(c->sources[0].channels[1], "two");
	assert_string_equal(t->name, "Org.Trail_1");
	assert_string_equal(t->s3_key_prefix, "host-a");
	assert_string_equal(t->sns_topic_name, "log_delivered-1");
	assert_true(t->is_multi_region_trail);
	assert_false(t->include_global_service_events);
	assert_true(t->enable_log_file_validation);
	assert_true(t->is_organization_trail);
	assert_false(t->start_logging);
	assert_ptr_equal(ht_conf_bucket(c, "spool-a"), &c->buckets[0]);
	assert_null(ht_conf_bucket(c, "spool-b"));
	assert_ptr_equal(ht_conf_topic(c, "log_delivered-1"), &c->topics[0]);
	assert_null(ht_conf_topic(c, "log"));
	ht_conf_free(c);
}

static void
test_five_trails_ok(void **state UNUSED)
{
	struct ht_conf *c = load_ok(BASE "trails:\n"
	    "  - {name: tr1, s3_bucket_name: spool-a}\n"
	    "  - {name: tr2, s3_bucket_name: spool-a}\n"
	    "  - {name: tr3, s3_bucket_name: spool-a}\n"
	    "  - {name: tr4, s3_bucket_name: spool-a}\n"
	    "  - {name: tr5, s3_bucket_name: spool-a}\n");

	assert_int_equal(c->n_trails, 5);
	ht_conf_free(c);
}

/* ---- errors: the wording the brief and CloudTrail fix, in full ---- */

static void
test_error_bad_trail_name(void **state UNUSED)
{
	expect_exact(BASE "trails:\n"
	    "  - name: tr1\n"
	    "    s3_bucket_name: spool-a\n"
	    "  - name: a..b\n"
	    "    s3_bucket_name: spool-a\n",
	    "t.yaml:11:11: trails[1].name: \"a..b\" is not a valid trail name: must not contain "
	    "adjacent special characters");
	expect_exact(BASE "trails:\n  - name: 10.1.2.3\n    s3_bucket_name: spool-a\n",
	    "t.yaml:9:11: trails[0].name: \"10.1.2.3\" is not a valid trail name: must not look "
	    "like an IPv4 address");
}

static void
test_error_sixth_trail(void **state UNUSED)
{
	expect_exact(BASE "trails:\n"
	    "  - {name: tr1, s3_bucket_name: spool-a}\n"
	    "  - {name: tr2, s3_bucket_name: spool-a}\n"
	    "  - {name: tr3, s3_bucket_name: spool-a}\n"
	    "  - {name: tr4, s3_bucket_name: spool-a}\n"
	    "  - {name: tr5, s3_bucket_name: spool-a}\n"
	    "  -   name: tr6\n"
	    "      s3_bucket_name: spool-a\n",
	    "t.yaml:14:7: trails[5]: MaximumNumberOfTrailsExceededException: User: 123456789012 "
	    "already has 5 trails in test-1.");
}

static void
test_error_undefined_bucket(void **state UNUSED)
{
	expect_exact(BASE "trails:\n"
	    "  - name: tr1\n"
	    "    s3_bucket_name: x-bucket\n",
	    "t.yaml:10:21: trails[0].s3_bucket_name: bucket \"x-bucket\" is not defined in "
	    "buckets:");
}


static void
test_error_malformed(void **state UNUSED)
{
	expect_error("account_id: \"123456789012\"\nregion: [a, b\n",
	    "t.yaml:3:1: YAML syntax error: did not find expected ',' or ']'");
	expect_exact("account_id: \"123456789012\"\n  region: r\n",
	    "t.yaml:2:3: YAML syntax error: did not find expected key (while parsing a block "
	    "mapping that started at 1:1)");
	expect_exact("account_id: \"123456789012\"\nregion: r: x\n",
	    "t.yaml:2:10: YAML syntax error: mapping values are not allowed in this context");
	expect_error("a: \"unterminated\n", "t.yaml:2:1: YAML syntax error: ");
	expect_error("a: *nowhere\n", "t.yaml:1:4: YAML syntax error: found undefined alias");
	/* Reader errors carry a byte offset, turned into line:column too. */
	expect_error("region: r\nx: \"\xff\"\n",
	    "t.yaml:2:5: YAML syntax error: invalid leading UTF-8 octet (byte 0xff)");
	expect_error("region: r\nx: \x01\n",
	    "t.yaml:2:4: YAML syntax error: control characters are not allowed");
}

static void
test_error_keys(void **state UNUSED)
{
	expect_error(BASE "regoin: eu\n",
	    "t.yaml:8:1: regoin: unknown key \"regoin\"; expected one of: account_id, region,");
	expect_error(BASE "history:\n  retention: 5\n",
	    "t.yaml:9:3: history.retention: unknown key \"retention\"; expected one of: "
	    "retention_days, max_disk, fsync, fsync_interval");
	expect_error(BASE "trails:\n  - {name: tr1, s3_bucket_name: spool-a, bucket: x}\n",
	    "t.yaml:9:42: trails[0].bucket: unknown key");
	expect_exact(BASE "region: eu-2\n", "t.yaml:8:1: region: duplicate key \"region\"");
	expect_error(BASE "trails:\n  - name: tr1\n    name: tr2\n",
	    "t.yaml:10:5: trails[0].name: duplicate key");
	expect_exact("region: r\n", "t.yaml:1:1: account_id: required key is missing");
	expect_exact("# comment\n\naccount_id: \"123456789012\"\n",
	    "t.yaml:1:1: region: required key is missing");
	expect_exact(BASE "trails:\n  - s3_bucket_name: spool-a\n",
	    "t.yaml:9:5: trails[0].name: required key is missing");
	expect_exact(BASE "  other:\n    type: spool\n",
	    "t.yaml:9:5: buckets.other.path: required key is missing for type: spool");
	expect_error(BASE "[a]: 1\n", "t.yaml:8:1: expected a key name, found a list");
}

static void
test_error_account_region(void **state UNUSED)
{
	expect_exact("account_id: 12345\nregion: r\n",
	    "t.yaml:1:13: account_id: \"12345\" is not a valid account ID: must be exactly 12 "
	    "digits");
	expect_error("account_id: \"12345678901a\"\nregion: r\n",
	    "t.yaml:1:13: account_id: \"12345678901a\" is not a valid account ID");
	expect_error("account_id: \"123456789012\"\nregion: Eu_1\n",
	    "t.yaml:2:9: region: \"Eu_1\" is not a valid region: ");
	expect_error("account_id: \"123456789012\"\nregion: \"\"\n",
	    "t.yaml:2:9: region: \"\" is not a valid region: ");
	expect_error("account_id: \"123456789012\"\nregion:\n",
	    "t.yaml:2:8: region: expected a string, found an empty value");
	expect_error(BASE "organization_id: o-abc\n",
	    "t.yaml:8:18: organization_id: \"o-abc\" is not a valid organization ID");
	expect_error("account_id: \"123456789012\"\nregion: r\nstate_dir: var/lib\n",
	    "t.yaml:3:12: state_dir: \"var/lib\" is not a valid state directory: must be an "
	    "absolute path");
	/* "\0" would silently cut a C string short. */
	expect_exact("account_id: \"12345678901\\0\"\n",
	    "t.yaml:1:13: account_id: must not contain NUL characters");
}

static void
test_error_wrong_kind(void **state UNUSED)
{
	expect_exact(BASE "history: [90]\n",
	    "t.yaml:8:10: history: expected a mapping, found a list");
	expect_exact(BASE "trails:\n  name: tr1\n",
	    "t.yaml:9:3: trails: expected a list, found a mapping");
	expect_exact(BASE "trails: [tr1]\n",
	    "t.yaml:8:10: trails[0]: expected a mapping, found a single value");
	expect_exact("account_id: \"123456789012\"\nregion: {a: 1}\n",
	    "t.yaml:2:9: region: expected a string, found a mapping");
	expect_exact("account_id: \"123456789012\"\nregion: r\nbuckets: [a]\n",
	    "t.yaml:3:10: buckets: expected a mapping of names, found a list");
	expect_exact("- a\n- b\n", "t.yaml:1:1: expected a mapping, found a list");
	expect_exact("", "t.yaml:1:1: the configuration is empty");
	expect_exact("# only a comment\n", "t.yaml:1:1: the configuration is empty");
}

static void
test_error_numbers(void **state UNUSED)
{
	expect_exact(BASE "history: {fsync_interval: 5x}\n",
	    "t.yaml:8:27: history.fsync_interval: \"5x\" is not a valid duration (a number with "
	    "ms, s, m, h or d)");
	expect_exact(BASE "history: {fsync_interval: 5ms}\n",
	    "t.yaml:8:27: history.fsync_interval: \"5ms\" is out of range (10ms to 1h)");
	expect_error(BASE "history: {fsync_interval: -1s}\n",
	    "t.yaml:8:27: history.fsync_interval: \"-1s\" is not a valid duration");
	expect_error(BASE "history: {fsync_interval: 99999999999999999999d}\n",
	    "t.yaml:8:27: history.fsync_interval: \"99999999999999999999d\" is out of range");
	expect_exact(BASE "history: {max_disk: 10 GB}\n",
	    "t.yaml:8:21: history.max_disk: \"10 GB\" is not a valid size (bytes, or a number "
	    "with kB, MB, GB, TB, KiB, MiB, GiB or TiB)");
	expect_exact(BASE "trails:\n  - name: tr1\n    s3_bucket_name: spool-a\n"
	    "    delivery:\n      max_bytes: 1GiB\n",
	    "t.yaml:12:18: trails[0].delivery.max_bytes: \"1GiB\" is out of range (1KiB to "
	    "100MiB)");
	expect_exact(BASE "trails:\n  - name: tr1\n    s3_bucket_name: spool-a\n"
	    "    delivery: {interval: 500ms}\n",
	    "t.yaml:11:26: trails[0].delivery.interval: \"500ms\" is out of range (1s to 1h)");
	expect_exact(BASE "history: {retention_days: 0}\n",
	    "t.yaml:8:27: history.retention_days: \"0\" is out of range (1 to 3650)");
	expect_exact(BASE "history: {retention_days: 0x10}\n",
	    "t.yaml:8:27: history.retention_days: \"0x10\" is not a plain decimal integer");
	expect_error(BASE "history: {retention_days: 090}\n",
	    "t.yaml:8:27: history.retention_days: \"090\" is not a plain decimal integer");
	expect_error(BASE "history: {retention_days: 99999999999999999999999}\n",
	    "t.yaml:8:27: history.retention_days: \"99999999999999999999999\" is out of range");
	expect_exact(BASE "history: {fsync: sometimes}\n",
	    "t.yaml:8:18: history.fsync: unknown fsync policy \"sometimes\"; expected one of: "
	    "always, interval, off");
	expect_exact(BASE "trails:\n  - {name: tr1, s3_bucket_name: spool-a, start_logging: 1}\n",
	    "t.yaml:9:57: trails[0].start_logging: \"1\" is not a boolean (use true or false)");
}

static void
test_error_cross_references(void **state UNUSED)
{
	expect_exact(BASE "trails:\n"
	    "  - name: tr1\n"
	    "    s3_bucket_name: spool-a\n"
	    "  - name: tr1\n"
	    "    s3_bucket_name: spool-a\n",
	    "t.yaml:11:11: trails[1].name: duplicate trail name \"tr1\" (also trails[0].name)");
	expect_exact(BASE "trails:\n  - name: tr1\n    s3_bucket_name: spool-a\n"
	    "    sns_topic_name: nope\n",
	    "t.yaml:11:21: trails[0].sns_topic_name: topic \"nope\" is not defined in topics:");
	expect_exact(BASE "trails:\n  - name: tr1\n    s3_bucket_name: spool-a\n"
	    "    is_organization_trail: true\n",
	    "t.yaml:11:28: trails[0].is_organization_trail: an organization trail needs "
	    "organization_id to be set");
	/* The trail list comes first in the file; references still resolve. */
	expect_exact("trails: [{name: tr1, s3_bucket_name: spool-a}]\n"
	    "account_id: \"123456789012\"\nregion: r\n"
	    "buckets: {spool-b: {type: spool, path: p}}\n",
	    "t.yaml:1:38: trails[0].s3_bucket_name: bucket \"spool-a\" is not defined in "
	    "buckets:");
}

static void
test_error_sections(void **state UNUSED)
{
	expect_exact(BASE "  Bad_Name: {type: spool, path: p}\n",
	    "t.yaml:8:3: buckets.Bad_Name: \"Bad_Name\" is not a valid bucket name: may contain "
	    "only lowercase letters, numbers, periods and dashes");
	expect_exact(BASE "  spool-a: {type: spool, path: p}\n",
	    "t.yaml:8:3: buckets.spool-a: duplicate bucket name \"spool-a\"");
	expect_exact(BASE "  nfs-b: {type: nfs, path: p}\n",
	    "t.yaml:8:17: buckets.nfs-b.type: unknown bucket type \"nfs\"; expected one of: "
	    "spool, s3");
	expect_exact(BASE "sources:\n  - type: telepathy\n",
	    "t.yaml:9:11: sources[0].type: unknown source type \"telepathy\"; expected one of: "
	    "ingest, auditlog, audit, journal, file, fim, logins");
	expect_error(BASE "sources:\n  - type: ingest\n  - type: ingest\n",
	    "t.yaml:10:11: sources[1].type: only one source of type ingest is allowed");
	expect_exact(BASE "sources:\n  - type: ingest\n    channels: []\n",
	    "t.yaml:10:15: sources[0].channels: at least one channel is required");
	expect_exact(BASE "sources:\n  - type: ingest\n    channels: [a, b/c]\n",
	    "t.yaml:10:19: sources[0].channels[1]: \"b/c\" is not a valid channel name: must be 1 "
	    "to 128 letters, numbers, underscores or dashes");
	expect_exact(BASE "sources:\n  - type: ingest\n    channels: [a, a]\n",
	    "t.yaml:10:19: sources[0].channels[1]: duplicate channel name \"a\"");
	expect_exact(BASE "topics:\n  t.x: {}\n",
	    "t.yaml:9:3: topics.t.x: \"t.x\" is not a valid topic name: must be 1 to 256 "
	    "letters, numbers, underscores or dashes");
	expect_exact(BASE "topics:\n  tt: {subscriptions: [{url: ftp://x}]}\n",
	    "t.yaml:9:30: topics.tt.subscriptions[0].url: \"ftp://x\" is not a valid URL: must "
	    "start with http:// or https://");
	expect_exact(BASE "api: {listen: '::1:80'}\n",
	    "t.yaml:8:15: api.listen: \"::1:80\" is not a valid listen address: an IPv6 address "
	    "must be in brackets, e.g. [::1]:8149");
	expect_error(BASE "api: {listen: 'localhost:0'}\n",
	    "t.yaml:8:15: api.listen: \"localhost:0\" is not a valid listen address");
	expect_exact(BASE "api:\n  credentials:\n    - {access_key_id: akia, secret_file: s}\n",
	    "t.yaml:10:23: api.credentials[0].access_key_id: \"akia\" is not a valid access key "
	    "ID: must be 16 to 128 uppercase letters or numbers");
	expect_exact(BASE "api:\n  credentials:\n"
	    "    - {access_key_id: AKIAAAAAAAAAAAAAAAAA, secret_file: a}\n"
	    "    - {access_key_id: AKIAAAAAAAAAAAAAAAAA, secret_file: b}\n",
	    "t.yaml:11:23: api.credentials[1].access_key_id: duplicate access key ID "
	    "\"AKIAAAAAAAAAAAAAAAAA\"");
	expect_exact(BASE "api:\n  credentials:\n    - {access_key_id: AKIAAAAAAAAAAAAAAAAA}\n",
	    "t.yaml:10:7: api.credentials[0].secret_file: required key is missing");
	expect_exact(BASE "trails:\n  - {name: tr1, s3_bucket_name: spool-a, s3_key_prefix: ''}\n",
	    "t.yaml:9:57: trails[0].s3_key_prefix: \"\" is not a valid S3 key prefix: must be 1 "
	    "to 200 characters");
}

/* type: auditlog, its defaults and keys; a key of the other type is refused
 * by name. */
static void
test_auditlog_source(void **state UNUSED)
{
	struct ht_conf *c;

	c = load_ok(BASE "sources:\n  - type: auditlog\n  - type: ingest\n"
	    "  - type: auditlog\n    path: /srv/audit/audit.log\n    checkpoint: /var/tmp/a.cp\n"
	    "    eoe_timeout: 500ms\n    max_event_records: 1024\n    start: beginning\n"
	    "  - {type: auditlog, path: /other/audit.log}\n");
	assert_int_equal(c->n_sources, 4);
	assert_int_equal(c->sources[0].type, HT_SOURCE_AUDITLOG);
	assert_string_equal(c->sources[0].path, "/var/log/audit/audit.log");
	assert_string_equal(c->sources[0].checkpoint,
	    "sources/auditlog-audit.log-a95e0ada.checkpoint");
	assert_int_equal(c->sources[0].eoe_timeout_ms, 2000);
	assert_int_equal(c->sources[0].max_event_records, 256);
	assert_int_equal(c->sources[0].start, HT_SOURCE_START_END);
	assert_int_equal(c->sources[0].n_channels, 0);
	assert_null(c->sources[0].channels);
	assert_int_equal(c->sources[1].type, HT_SOURCE_INGEST);
	assert_null(c->sources[1].path);
	assert_null(c->sources[1].checkpoint);
	assert_int_equal(c->sources[1].n_channels, 1);
	assert_string_equal(c->sources[2].path, "/srv/audit/audit.log");
	assert_string_equal(c->sources[2].checkpoint, "/var/tmp/a.cp");
	assert_int_equal(c->sources[2].eoe_timeout_ms, 500);
	assert_int_equal(c->sources[2].max_event_records, 1024);
	assert_int_equal(c->sources[2].start, HT_SOURCE_START_BEGINNING);
	/* the same base name elsewhere gets a checkpoint of its own */
	assert_non_null(strstr(c->sources[3].checkpoint, "sources/auditlog-audit.log-"));
	assert_string_not_equal(c->sources[3].checkpoint, c->sources[0].checkpoint);
	ht_conf_free(c);

	/* an odd base name stays one safe file name */
	c = load_ok(BASE "sources: [{type: auditlog, path: '/l/a b*c'}]\n");
	assert_non_null(strstr(c->sources[0].checkpoint, "sources/auditlog-a_b_c-"));
	ht_conf_free(c);
}

static void
test_audit_source(void **state UNUSED)
{
	struct ht_conf *c;

	c = load_ok(BASE "sources:\n  - type: audit\n");
	assert_int_equal(c->n_sources, 1);
	assert_int_equal(c->sources[0].type, HT_SOURCE_AUDIT);
	assert_int_equal(c->sources[0].mode, HT_AUDIT_MULTICAST);
	assert_int_equal(c->sources[0].socket_buffer, 8 * 1024 * 1024);
	assert_int_equal(c->sources[0].backpressure, HT_AUDIT_BP_DROP);
	assert_int_equal(c->sources[0].queue_max, 100000);
	assert_int_equal(c->sources[0].loss_report_interval_ms, 60000);
	assert_int_equal(c->sources[0].status_interval_ms, 5000);
	assert_int_equal(c->sources[0].eoe_timeout_ms, 2000);
	assert_int_equal(c->sources[0].max_event_records, 256);
	assert_int_equal(c->sources[0].backlog_limit, 8192);
	assert_int_equal(c->sources[0].rate_limit, 0);
	assert_int_equal(c->sources[0].failure, HT_AUDIT_FAILURE_PRINTK);
	assert_int_equal(c->sources[0].n_rules, 0);
	assert_null(c->sources[0].rules_file);
	assert_string_equal(c->sources[0].state_file, "sources/audit-kernel-state.json");
	ht_conf_free(c);

	c = load_ok(BASE "sources:\n  - type: audit\n    mode: unicast\n"
	    "    socket_buffer: 32MiB\n    backpressure: block\n    queue_max: 5000\n"
	    "    loss_report_interval: 10s\n    status_interval: 1s\n    eoe_timeout: 1s\n"
	    "    backlog_limit: 65536\n    rate_limit: 1000\n    failure: silent\n"
	    "    rules:\n      - -a always,exit -F arch=b64 -S execve -k exec\n"
	    "      - -w /etc/passwd -p wa -k identity\n"
	    "    rules_file: /etc/hosttrail/audit.rules\n    state_file: /run/ht.json\n");
	assert_int_equal(c->sources[0].mode, HT_AUDIT_UNICAST);
	assert_int_equal(c->sources[0].socket_buffer, 32 * 1024 * 1024);
	assert_int_equal(c->sources[0].backpressure, HT_AUDIT_BP_BLOCK);
	assert_int_equal(c->sources[0].queue_max, 5000);
	assert_int_equal(c->sources[0].loss_report_interval_ms, 10000);
	assert_int_equal(c->sources[0].status_interval_ms, 1000);
	assert_int_equal(c->sources[0].eoe_timeout_ms, 1000);
	assert_int_equal(c->sources[0].backlog_limit, 65536);
	assert_int_equal(c->sources[0].rate_limit, 1000);
	assert_int_equal(c->sources[0].failure, HT_AUDIT_FAILURE_SILENT);
	assert_int_equal(c->sources[0].n_rules, 2);
	assert_string_equal(c->sources[0].rules[0], "-a always,exit -F arch=b64 -S execve -k exec");
	assert_string_equal(c->sources[0].rules[1], "-w /etc/passwd -p wa -k identity");
	assert_string_equal(c->sources[0].rules_file, "/etc/hosttrail/audit.rules");
	assert_string_equal(c->sources[0].state_file, "/run/ht.json");
	ht_conf_free(c);
}

static void
test_error_audit_source(void **state UNUSED)
{
	expect_exact(BASE "sources:\n  - type: audit\n    rules: ['-w /etc']\n",
	    "t.yaml:10:12: sources[0].rules: rules is only for mode: unicast (a multicast "
	    "listener changes no kernel setting)");
	expect_exact(BASE "sources:\n  - type: audit\n    mode: multicast\n    failure: panic\n",
	    "t.yaml:11:14: sources[0].failure: failure is only for mode: unicast (a multicast "
	    "listener changes no kernel setting)");
	expect_exact(BASE "sources:\n  - type: audit\n  - type: audit\n",
	    "t.yaml:10:11: sources[1].type: only one source of type audit is allowed "
	    "(sources[0] is one)");
	expect_exact(BASE "sources:\n  - type: audit\n    mode: broadcast\n",
	    "t.yaml:10:11: sources[0].mode: unknown audit mode \"broadcast\"; expected one of: "
	    "multicast, unicast");
	expect_exact(BASE "sources:\n  - type: audit\n    backpressure: wait\n",
	    "t.yaml:10:19: sources[0].backpressure: unknown backpressure policy \"wait\"; "
	    "expected one of: drop, block");
	expect_exact(BASE "sources:\n  - type: audit\n    socket_buffer: 1KiB\n",
	    "t.yaml:10:20: sources[0].socket_buffer: \"1KiB\" is out of range (64KiB to 1GiB)");
	expect_exact(BASE "sources:\n  - type: audit\n    mode: unicast\n    rules: ['']\n",
	    "t.yaml:11:13: sources[0].rules[0]: \"\" is not a valid audit rule: must not be "
	    "empty");
	expect_exact(BASE "sources:\n  - type: audit\n    path: /x\n",
	    "t.yaml:10:5: sources[0].path: path is only for type: auditlog or file");
	expect_exact(BASE "sources:\n  - type: auditlog\n    mode: unicast\n",
	    "t.yaml:10:5: sources[0].mode: mode is only for type: audit");
}

static void
test_host_sources(void **state UNUSED)
{
	struct ht_conf *c;

	c = load_ok(BASE "sources:\n"
	    "  - type: journal\n"
	    "  - type: journal\n    directory: /srv/j\n"
	    "    matches: [_SYSTEMD_UNIT=ssh.service, +, SYSLOG_IDENTIFIER=sudo]\n"
	    "    start: beginning\n"
	    "  - type: file\n    path: /var/log/auth.log\n"
	    "  - type: file\n    path: /var/log/dpkg.log\n"
	    "  - {type: file, path: /var/log/dpkg.log.txt, format: syslog, checkpoint: d.cp}\n"
	    "  - type: fim\n    paths: [/etc, /usr/local/bin]\n    exclude: ['*.swp']\n"
	    "  - {type: fim, paths: [/srv], hash_max: 0}\n"
	    "  - type: logins\n");
	assert_int_equal(c->n_sources, 8);
	assert_int_equal(c->sources[0].type, HT_SOURCE_JOURNAL);
	assert_null(c->sources[0].directory);
	assert_int_equal(c->sources[0].n_matches, 0);
	assert_int_equal(c->sources[0].start, HT_SOURCE_START_END);
	assert_non_null(strstr(c->sources[0].checkpoint, "sources/journal-"));
	assert_string_equal(c->sources[1].directory, "/srv/j");
	assert_int_equal(c->sources[1].n_matches, 3);
	assert_string_equal(c->sources[1].matches[1], "+");
	assert_int_equal(c->sources[1].start, HT_SOURCE_START_BEGINNING);
	/* named after what each reads */
	assert_string_not_equal(c->sources[0].checkpoint, c->sources[1].checkpoint);
	assert_int_equal(c->sources[2].type, HT_SOURCE_FILE);
	assert_int_equal(c->sources[2].format, HT_FILE_SYSLOG);
	assert_non_null(strstr(c->sources[2].checkpoint, "sources/file-auth.log-"));
	assert_int_equal(c->sources[3].format, HT_FILE_DPKG);
	assert_int_equal(c->sources[4].format, HT_FILE_SYSLOG);
	assert_string_equal(c->sources[4].checkpoint, "d.cp");
	assert_int_equal(c->sources[5].type, HT_SOURCE_FIM);
	assert_int_equal(c->sources[5].n_paths, 2);
	assert_string_equal(c->sources[5].paths[1], "/usr/local/bin");
	assert_int_equal(c->sources[5].n_exclude, 1);
	assert_int_equal(c->sources[5].hash_max, 16 * 1024 * 1024);
	assert_int_equal(c->sources[6].hash_max, 0);
	assert_int_equal(c->sources[7].type, HT_SOURCE_LOGINS);
	assert_string_equal(c->sources[7].wtmp, "/var/log/wtmp");
	assert_string_equal(c->sources[7].btmp, "/var/log/btmp");
	assert_string_equal(c->sources[7].checkpoint, "sources/logins.checkpoint");
	ht_conf_free(c);
}

static void
test_error_host_sources(void **state UNUSED)
{
	expect_exact(BASE "sources:\n  - type: journal\n    matches: [ssh]\n",
	    "t.yaml:10:15: sources[0].matches[0]: \"ssh\" is not a valid journal match: "
	    "expected FIELD=value (e.g. _SYSTEMD_UNIT=ssh.service) or +");
	expect_exact(BASE "sources:\n  - type: journal\n    matches: [unit=x]\n",
	    "t.yaml:10:15: sources[0].matches[0]: \"unit=x\" is not a valid journal match: "
	    "a field name has only upper-case letters, digits and '_'");
	expect_exact(BASE "sources:\n  - type: journal\n    directory: j\n",
	    "t.yaml:10:16: sources[0].directory: \"j\" is not a valid path: must be an absolute "
	    "path");
	expect_exact(BASE "sources:\n  - type: file\n",
	    "t.yaml:9:5: sources[0]: path is required for type: file");
	expect_exact(BASE "sources:\n  - {type: file, path: /l/a}\n  - {type: file, path: /l/a}\n",
	    "t.yaml:10:24: sources[1].path: \"/l/a\" is already read by sources[0]");
	expect_exact(BASE "sources:\n  - {type: file, path: /l/a, format: json}\n",
	    "t.yaml:9:38: sources[0].format: unknown file format \"json\"; expected one of: "
	    "syslog, dpkg");
	expect_exact(BASE "sources:\n  - type: fim\n",
	    "t.yaml:9:5: sources[0]: paths is required for type: fim (the files and "
	    "directories to watch)");
	expect_exact(BASE "sources:\n  - {type: fim, paths: [/etc, /etc]}\n",
	    "t.yaml:9:31: sources[0].paths[1]: \"/etc\" is listed twice");
	expect_exact(BASE "sources:\n  - {type: fim, paths: [etc]}\n",
	    "t.yaml:9:25: sources[0].paths[0]: \"etc\" is not a valid path: must be an absolute "
	    "path");
	expect_exact(BASE "sources:\n  - type: logins\n  - type: logins\n",
	    "t.yaml:10:11: sources[1].type: only one source of type logins is allowed "
	    "(sources[0] is one)");
	expect_exact(BASE "sources:\n  - {type: logins, paths: [/x]}\n",
	    "t.yaml:9:20: sources[0].paths: paths is only for type: fim");
}

static void
test_trail_event_selectors(void **state UNUSED)
{
	struct ht_conf *c;

	c = load_ok(BASE "trails:\n"
	    "  - name: basic\n    s3_bucket_name: spool-a\n    event_selectors:\n"
	    "      - read_write_type: WriteOnly\n        include_management_events: false\n"
	    "        data_resources: [{type: 'Host::Process', values: ['/usr/bin/']}]\n"
	    "  - name: advanced\n    s3_bucket_name: spool-a\n    advanced_event_selectors:\n"
	    "      - Name: etc\n        FieldSelectors:\n"
	    "          - {field: eventCategory, equals: [Data]}\n"
	    "          - {field: resources.ARN, starts_with: ['/etc/', 'true']}\n"
	    "  - name: plain\n    s3_bucket_name: spool-a\n");
	assert_string_equal(c->trails[0].event_selectors,
	    "{\"EventSelectors\":[{\"ReadWriteType\":\"WriteOnly\",\"IncludeManagementEvents\":"
	    "false,\"DataResources\":[{\"Type\":\"Host::Process\",\"Values\":[\"\\/usr\\/bin"
	    "\\/\"]}]}]}");
	/* CloudTrail's own key names pass unchanged; a quoted 'true' stays a string */
	assert_string_equal(c->trails[1].event_selectors,
	    "{\"AdvancedEventSelectors\":[{\"Name\":\"etc\",\"FieldSelectors\":[{\"Field\":"
	    "\"eventCategory\",\"Equals\":[\"Data\"]},{\"Field\":\"resources.ARN\","
	    "\"StartsWith\":[\"\\/etc\\/\",\"true\"]}]}]}");
	assert_null(c->trails[2].event_selectors);
	ht_conf_free(c);

	expect_exact(BASE "trails:\n  - name: both\n    s3_bucket_name: spool-a\n"
	    "    event_selectors: [{read_write_type: All}]\n"
	    "    advanced_event_selectors: [{name: x}]\n",
	    "t.yaml:12:31: trails[0].advanced_event_selectors: use event_selectors or "
	    "advanced_event_selectors, not both (as PutEventSelectors)");
	expect_exact(BASE "trails:\n  - name: notalist\n    s3_bucket_name: spool-a\n"
	    "    event_selectors: {read_write_type: All}\n",
	    "t.yaml:11:22: trails[0].event_selectors: expected a list of selectors, found a "
	    "mapping");
}

static void
test_error_auditlog_source(void **state UNUSED)
{
	expect_exact(BASE "sources:\n  - type: auditlog\n    channels: [a]\n",
	    "t.yaml:10:5: sources[0].channels: channels is only for type: ingest");
	expect_exact(BASE "sources:\n  - type: ingest\n    eoe_timeout: 2s\n",
	    "t.yaml:10:5: sources[0].eoe_timeout: eoe_timeout is only for type: auditlog or audit");
	expect_exact(BASE "sources:\n  - {path: /x, type: ingest}\n",
	    "t.yaml:9:6: sources[0].path: path is only for type: auditlog or file");
	expect_exact(BASE "sources:\n  - type: auditlog\n    path: audit.log\n",
	    "t.yaml:10:11: sources[0].path: \"audit.log\" is not a valid log file path: must be "
	    "an absolute path");
	expect_exact(BASE "sources:\n  - type: auditlog\n    checkpoint: ''\n",
	    "t.yaml:10:17: sources[0].checkpoint: \"\" is not a valid file name: must not be "
	    "empty");
	expect_exact(BASE "sources:\n  - type: auditlog\n    eoe_timeout: 50ms\n",
	    "t.yaml:10:18: sources[0].eoe_timeout: \"50ms\" is out of range (100ms to 1m)");
	expect_exact(BASE "sources:\n  - type: auditlog\n    eoe_timeout: 2m\n",
	    "t.yaml:10:18: sources[0].eoe_timeout: \"2m\" is out of range (100ms to 1m)");
	expect_exact(BASE "sources:\n  - type: auditlog\n    max_event_records: 4\n",
	    "t.yaml:10:24: sources[0].max_event_records: \"4\" is out of range (8 to 65536)");
	expect_exact(BASE "sources:\n  - type: auditlog\n    start: middle\n",
	    "t.yaml:10:12: sources[0].start: unknown start position \"middle\"; expected one "
	    "of: end, beginning");
	expect_exact(BASE "sources:\n  - type: auditlog\n    paht: /x\n",
	    "t.yaml:10:5: sources[0].paht: unknown key \"paht\"; expected one of: type, "
	    "path, checkpoint, eoe_timeout, max_event_records, start");
	expect_exact(BASE "sources:\n  - type: auditlog\n  - type: auditlog\n",
	    "t.yaml:10:5: sources[1].path: \"/var/log/audit/audit.log\" is already read by "
	    "sources[0]");
	expect_exact(BASE "sources:\n  - {type: auditlog, path: /a/x.log, checkpoint: cp}\n"
	    "  - {type: auditlog, path: /b/x.log, checkpoint: cp}\n",
	    "t.yaml:10:50: sources[1].checkpoint: \"cp\" is also the checkpoint of sources[0]");
}

static void
test_error_yaml_structure(void **state UNUSED)
{
	/* Aliases are refused (shared and cyclic nodes). */
	expect_exact(BASE "trails:\n"
	    "  - &t {name: tr1, s3_bucket_name: spool-a}\n"
	    "  - *t\n",
	    "t.yaml:9:5: trails[1]: YAML aliases are not supported; write the value out in full");
	expect_error(BASE "sources: &s [*s]\n",
	    "t.yaml:8:10: sources[0]: YAML aliases are not supported");
	expect_exact(BASE "---\nregion: r2\n", "t.yaml:9:1: only one YAML document is allowed");
}

/* Messages stay on one line and quote control characters. */
static void
test_error_one_line(void **state UNUSED)
{
	expect_exact(BASE "trails:\n  - name: \"a\\nb\\\"c\"\n    s3_bucket_name: spool-a\n",
	    "t.yaml:9:11: trails[0].name: \"a\\x0ab\\\"c\" is not a valid trail name: may contain "
	    "only ASCII letters, numbers, periods, underscores and dashes");
	expect_error(BASE "\"a\\nb\": 1\n", "t.yaml:8:1: a?b: unknown key \"a\\x0ab\"");
}

static void
test_errbuf_sizes(void **state UNUSED)
{
	static const char bad[] = "account_id: 1\nregion: r\n";
	struct ht_conf *c = NULL;
	char small[12];

	memset(small, 'x', sizeof(small));
	assert_int_equal(ht_conf_load_string("t.yaml", bad, strlen(bad), &c, small,
	    sizeof(small)), -EINVAL);
	assert_string_equal(small, "t.yaml:1:13");
	assert_int_equal(ht_conf_load_string("t.yaml", bad, strlen(bad), &c, NULL, 0), -EINVAL);
	assert_null(c);
}

/* ---- s3 buckets ---- */

static void
test_s3_bucket(void **state UNUSED)
{
	struct ht_conf *c = load_ok(BASE
	    "  my-s3:\n"
	    "    type: s3\n"
	    "    bucket: real.bucket-name\n"
	    "    endpoint: https://minio.example.com:9000\n"
	    "    region: eu-west-1\n"
	    "    path_style: true\n"
	    "    ca_file: /etc/ssl/minio.pem\n"
	    "    server_side_encryption: aws:kms\n"
	    "    storage_class: STANDARD_IA\n"
	    "    resolve_to: 127.0.0.1\n"
	    "    timeout: 90s\n"
	    "    concurrency: 16\n"
	    "    credentials:\n"
	    "      access_key_id: AKIAAAAAAAAAAAAAAAAA\n"
	    "      secret_file: /etc/s3.secret\n"
	    "      session_token_file: /etc/s3.token\n"
	    "  by-profile:\n"
	    "    type: s3\n"
	    "    endpoint: 'http://[::1]:8080/'\n"
	    "    server_side_encryption: AES256\n"
	    "    resolve_to: '::1'\n"
	    "    credentials: {profile: backup-writer, shared_credentials_file: /etc/aws.ini}\n"
	    "  minio:\n"
	    "    type: s3\n"
	    "    credentials: {access_key_id: minioadmin, secret_file: minio.secret}\n"
	    "  swift:\n"
	    "    type: s3\n"
	    "    credentials: {access_key_id: 'test:tester', secret_file: swift.secret}\n"
	    "trails:\n"
	    "  - name: tr1\n"
	    "    s3_bucket_name: my-s3\n"
	    "    kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd\n"
	    "    outbox_max: 500\n"
	    "    delivery: {retry_min: 200ms, retry_max: 1h}\n"
	    "trail_defaults:\n"
	    "  outbox_max: 10000000\n"
	    "  delivery: {retry_min: 1h, retry_max: 24h}\n");
	const struct ht_conf_bucket *b = ht_conf_bucket(c, "my-s3");

	assert_non_null(b);
	assert_int_equal(b->type, HT_BUCKET_S3);
	assert_null(b->path);
	assert_string_equal(b->bucket, "real.bucket-name");
	assert_string_equal(b->endpoint, "https://minio.example.com:9000");
	assert_string_equal(b->region, "eu-west-1");
	assert_true(b->path_style);
	assert_string_equal(b->ca_file, "/etc/ssl/minio.pem");
	assert_int_equal(b->server_side_encryption, HT_SSE_KMS);
	assert_string_equal(b->storage_class, "STANDARD_IA");
	assert_string_equal(b->resolve_to, "127.0.0.1");
	assert_int_equal(b->timeout_ms, 90000);
	assert_int_equal(b->concurrency, 16);
	assert_string_equal(b->credentials.access_key_id, "AKIAAAAAAAAAAAAAAAAA");
	assert_string_equal(b->credentials.secret_file, "/etc/s3.secret");
	assert_string_equal(b->credentials.session_token_file, "/etc/s3.token");
	assert_null(b->credentials.profile);
	assert_null(b->credentials.shared_credentials_file);

	b = ht_conf_bucket(c, "by-profile");
	assert_non_null(b);
	assert_string_equal(b->bucket, "by-profile");
	assert_string_equal(b->endpoint, "http://[::1]:8080/");
	assert_int_equal(b->server_side_encryption, HT_SSE_AES256);
	assert_string_equal(b->resolve_to, "::1");
	assert_null(b->credentials.access_key_id);
	assert_string_equal(b->credentials.profile, "backup-writer");
	assert_string_equal(b->credentials.shared_credentials_file, "/etc/aws.ini");

	/* S3-compatible servers' key names. */
	assert_string_equal(ht_conf_bucket(c, "minio")->credentials.access_key_id, "minioadmin");
	assert_string_equal(ht_conf_bucket(c, "swift")->credentials.access_key_id, "test:tester");

	assert_string_equal(c->trails[0].kms_key_id,
	    "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd");
	assert_int_equal(c->trails[0].outbox_max, 500);
	assert_int_equal(c->trails[0].delivery.retry_min_ms, 200);
	assert_int_equal(c->trails[0].delivery.retry_max_ms, 3600000);
	assert_int_equal(c->trail_defaults.outbox_max, 10000000);
	assert_int_equal(c->trail_defaults.delivery.retry_min_ms, 3600000);
	assert_int_equal(c->trail_defaults.delivery.retry_max_ms, 24 * 3600000);
	ht_conf_free(c);
}

static void
test_s3_defaults(void **state UNUSED)
{
	struct ht_conf *c = load_ok(BASE "  logs.example-1:\n    type: s3\n");
	const struct ht_conf_bucket *b = ht_conf_bucket(c, "logs.example-1");

	assert_non_null(b);
	assert_int_equal(b->type, HT_BUCKET_S3);
	assert_string_equal(b->bucket, "logs.example-1");	/* the map key */
	assert_null(b->endpoint);
	assert_null(b->region);
	assert_false(b->path_style);
	assert_null(b->ca_file);
	assert_int_equal(b->server_side_encryption, HT_SSE_NONE);
	assert_null(b->storage_class);
	assert_null(b->resolve_to);
	assert_int_equal(b->timeout_ms, 5 * 60 * 1000);
	assert_int_equal(b->concurrency, 4);
	assert_null(b->credentials.access_key_id);
	assert_null(b->credentials.secret_file);
	assert_null(b->credentials.session_token_file);
	assert_null(b->credentials.profile);
	assert_null(b->credentials.shared_credentials_file);
	ht_conf_free(c);
}

/* Lines 8-9: an s3 bucket "s3b"; cases append its keys from line 10. */
#define S3B BASE "  s3b:\n    type: s3\n"

static void
test_error_s3_keys(void **state UNUSED)
{
	expect_exact(S3B "    path: x\n",
	    "t.yaml:10:5: buckets.s3b.path: path is only for type: spool");
	/* Reported before the value's own error, wherever type is. */
	expect_exact(BASE "  sp-b:\n    endpoint: nope\n    type: spool\n    path: p\n",
	    "t.yaml:9:5: buckets.sp-b.endpoint: endpoint is only for type: s3");
	expect_exact(BASE "  sp-b: {type: spool, path: p, credentials: {profile: x}}\n",
	    "t.yaml:8:32: buckets.sp-b.credentials: credentials is only for type: s3");
	expect_error(S3B "    paths: x\n",
	    "t.yaml:10:5: buckets.s3b.paths: unknown key \"paths\"; expected one of: type, path, "
	    "bucket, endpoint,");
	expect_exact(S3B "    bucket: My_Bucket\n",
	    "t.yaml:10:13: buckets.s3b.bucket: \"My_Bucket\" is not a valid bucket name: may "
	    "contain only lowercase letters, numbers, periods and dashes");
	expect_exact(S3B "    region: EU\n",
	    "t.yaml:10:13: buckets.s3b.region: \"EU\" is not a valid region: must be 1 to 64 "
	    "lowercase letters, numbers or dashes");
	expect_exact(S3B "    path_style: maybe\n",
	    "t.yaml:10:17: buckets.s3b.path_style: \"maybe\" is not a boolean (use true or "
	    "false)");
	expect_exact(S3B "    ca_file: ~/ca.pem\n",
	    "t.yaml:10:14: buckets.s3b.ca_file: \"~/ca.pem\" is not a valid file name: \"~\" is "
	    "not expanded; write the full path");
	expect_exact(S3B "    server_side_encryption: aws:kms:dsse\n",
	    "t.yaml:10:29: buckets.s3b.server_side_encryption: unknown server-side encryption "
	    "\"aws:kms:dsse\"; expected one of: none, AES256, aws:kms");
	expect_exact(S3B "    storage_class: standard\n",
	    "t.yaml:10:20: buckets.s3b.storage_class: \"standard\" is not a valid storage class: "
	    "must be 1 to 64 uppercase letters, numbers or underscores, e.g. STANDARD_IA");
	expect_exact(S3B "    resolve_to: localhost\n",
	    "t.yaml:10:17: buckets.s3b.resolve_to: \"localhost\" is not a valid IP address: must "
	    "be a numeric IPv4 or IPv6 address (no brackets, no host name)");
	expect_error(S3B "    resolve_to: '[::1]'\n",
	    "t.yaml:10:17: buckets.s3b.resolve_to: \"[::1]\" is not a valid IP address");
	expect_exact(S3B "    timeout: 500ms\n",
	    "t.yaml:10:14: buckets.s3b.timeout: \"500ms\" is out of range (1s to 1h)");
	expect_exact(S3B "    timeout: 2h\n",
	    "t.yaml:10:14: buckets.s3b.timeout: \"2h\" is out of range (1s to 1h)");
	expect_exact(S3B "    concurrency: 0\n",
	    "t.yaml:10:18: buckets.s3b.concurrency: \"0\" is out of range (1 to 64)");
	expect_exact(S3B "    concurrency: 65\n",
	    "t.yaml:10:18: buckets.s3b.concurrency: \"65\" is out of range (1 to 64)");
}

static void
test_error_s3_endpoint(void **state UNUSED)
{
	static const struct {
		const char *endpoint, *why;
	} bad[] = {
		{ "ftp://s3.example.com", "must start with http:// or https://" },
		{ "HTTPS://s3.example.com", "must start with http:// or https://" },
		{ "s3.example.com", "must start with http:// or https://" },
		{ "https://", "must have a host after the scheme" },
		{ "https://:9000", "must have a host after the scheme" },
		{ "https://s3.example.com/bucket", "must be only http(s)://HOST[:PORT], with no "
		    "path, query or fragment" },
		{ "https://s3.example.com//", "must be only http(s)://HOST[:PORT], with no path, "
		    "query or fragment" },
		{ "https://s3.example.com?x=1", "must be only http(s)://HOST[:PORT], with no path, "
		    "query or fragment" },
		{ "https://key:secret@s3.example.com", "must not contain user info (user@host); "
		    "keys go in credentials:" },
		{ "https://s3.example.com:0", "the port must be a number from 1 to 65535" },
		{ "https://s3.example.com:65536", "the port must be a number from 1 to 65535" },
		{ "https://s3.example.com:", "the port must be a number from 1 to 65535" },
		{ "https://s3.example.com:80x", "the port must be a number from 1 to 65535" },
		{ "https://s3_example.com", "the host may contain only letters, numbers, periods "
		    "and dashes (an IPv6 address goes in brackets)" },
		{ "https://::1:9000", "must have a host after the scheme" },
		{ "https://[::1", "an IPv6 host must be in brackets, e.g. https://[::1]:9000" },
		{ "https://[zz::1]", "the host in brackets is not an IPv6 address" },
		{ "https://[::1]x", "must be only http(s)://HOST[:PORT], with no path, query or "
		    "fragment" },
		{ "https://[::1]:9000/x", "must be only http(s)://HOST[:PORT], with no path, "
		    "query or fragment" },
		{ "https://a b", "the host may contain only letters, numbers, periods and dashes "
		    "(an IPv6 address goes in brackets)" },
	};
	static const char *const good[] = { "http://127.0.0.1:9000", "https://S3.Example.com/",
		"https://[fe80::1]", "http://h:65535", "https://s3.eu-west-1.amazonaws.com" };
	char yaml[256], want[384];
	struct ht_conf *c;

	for (size_t i = 0; i < N(good); i++) {
		snprintf(yaml, sizeof(yaml), S3B "    endpoint: '%s'\n", good[i]);
		c = load_ok(yaml);
		assert_string_equal(c->buckets[1].endpoint, good[i]);
		ht_conf_free(c);
	}
	for (size_t i = 0; i < N(bad); i++) {
		snprintf(yaml, sizeof(yaml), S3B "    endpoint: '%s'\n", bad[i].endpoint);
		snprintf(want, sizeof(want), "t.yaml:10:15: buckets.s3b.endpoint: \"%s\" is not a "
		    "valid endpoint: %s", bad[i].endpoint, bad[i].why);
		expect_exact(yaml, want);
	}
}

static void
test_error_s3_credentials(void **state UNUSED)
{
	expect_exact(S3B "    credentials:\n      access_key_id: 'AKIA KEY'\n",
	    "t.yaml:11:22: buckets.s3b.credentials.access_key_id: \"AKIA KEY\" is not a valid "
	    "access key ID: must be 1 to 128 letters, numbers, ':', '_' or '-'");
	expect_exact(S3B "    credentials:\n      access_key_id: AKIAAAAAAAAAAAAAAAAA\n",
	    "t.yaml:11:22: buckets.s3b.credentials.access_key_id: needs secret_file (the file "
	    "holding the secret access key)");
	expect_exact(S3B "    credentials:\n      secret_file: s3.secret\n",
	    "t.yaml:11:20: buckets.s3b.credentials.secret_file: needs access_key_id");
	expect_exact(S3B "    credentials:\n      session_token_file: s3.token\n",
	    "t.yaml:11:27: buckets.s3b.credentials.session_token_file: needs access_key_id and "
	    "secret_file");
	expect_exact(S3B "    credentials:\n"
	    "      access_key_id: AKIAAAAAAAAAAAAAAAAA\n"
	    "      secret_file: s3.secret\n"
	    "      profile: prod\n",
	    "t.yaml:13:16: buckets.s3b.credentials.profile: cannot be combined with "
	    "access_key_id; take the keys from a profile or give them here, not both");
	expect_exact(S3B "    credentials:\n"
	    "      profile: prod\n"
	    "      session_token_file: s3.token\n",
	    "t.yaml:11:16: buckets.s3b.credentials.profile: cannot be combined with "
	    "session_token_file; take the keys from a profile or give them here, not both");
	expect_exact(S3B "    credentials:\n"
	    "      access_key_id: AKIAAAAAAAAAAAAAAAAA\n"
	    "      secret_file: s3.secret\n"
	    "      shared_credentials_file: /etc/aws.ini\n",
	    "t.yaml:13:32: buckets.s3b.credentials.shared_credentials_file: is not read when "
	    "access_key_id is given; remove one of them");
	expect_exact(S3B "    credentials:\n      profile: '[prod]'\n",
	    "t.yaml:11:16: buckets.s3b.credentials.profile: \"[prod]\" is not a valid profile "
	    "name: must be printable ASCII without spaces or brackets");
	expect_exact(S3B "    credentials:\n      secret_key: x\n",
	    "t.yaml:11:7: buckets.s3b.credentials.secret_key: unknown key \"secret_key\"; "
	    "expected one of: access_key_id, secret_file, session_token_file, profile, "
	    "shared_credentials_file");
	expect_exact(S3B "    credentials: AKIAAAAAAAAAAAAAAAAA\n",
	    "t.yaml:10:18: buckets.s3b.credentials: expected a mapping, found a single value");
}

/* ---- topics ---- */

/* Lines 8-13: topic "tt" with its signing key and one subscription; cases
 * append the subscription's keys from line 14. */
#define TOPIC_TT BASE "topics:\n  tt:\n" \
	"    signing_key_file: sns.key\n" \
	"    signing_cert_url: https://certs.example.com/tt.pem\n" \
	"    subscriptions:\n" \
	"      - url: https://siem.example.com/hook\n"

static void
test_topic(void **state UNUSED)
{
	struct ht_conf *c = load_ok(BASE "topics:\n"
	    "  tt:\n"
	    "    signing_key_file: /etc/hosttrail/sns.key\n"
	    "    signing_cert_url: https://certs.example.com/x/sns.pem\n"
	    "    signature_version: 1\n"
	    "    ca_file: /etc/ssl/siem.pem\n"
	    "    timeout: 5m\n"
	    "    subscriptions:\n"
	    "      - url: https://siem.example.com/hook\n"
	    "        delivery_policy:\n"
	    "          num_retries: 100\n"
	    "          num_no_delay_retries: 1\n"
	    "          num_min_delay_retries: 2\n"
	    "          num_max_delay_retries: 97\n"
	    "          min_delay: 1\n"
	    "          max_delay: 3600\n"
	    "          backoff: exponential\n"
	    "      - url: http://127.0.0.1:9000/\n"
	    "        delivery_policy: {min_delay: 500ms, max_delay: 20s, backoff: geometric}\n"
	    "      - url: http://127.0.0.1:9001/\n"
	    "  quiet: {}\n");
	const struct ht_conf_topic *t = ht_conf_topic(c, "tt");
	const struct ht_conf_delivery_policy *p;

	assert_non_null(t);
	assert_string_equal(t->signing_key_file, "/etc/hosttrail/sns.key");
	assert_string_equal(t->signing_cert_url, "https://certs.example.com/x/sns.pem");
	assert_int_equal(t->signature_version, 1);
	assert_string_equal(t->ca_file, "/etc/ssl/siem.pem");
	assert_int_equal(t->timeout_ms, 300000);
	assert_int_equal(t->n_subscriptions, 3);
	p = &t->subscriptions[0].delivery_policy;
	assert_int_equal(p->num_retries, 100);
	assert_int_equal(p->num_no_delay_retries, 1);
	assert_int_equal(p->num_min_delay_retries, 2);
	assert_int_equal(p->num_max_delay_retries, 97);
	assert_int_equal(p->min_delay_ms, 1000);	/* bare numbers are seconds, as SNS's */
	assert_int_equal(p->max_delay_ms, 3600000);
	assert_int_equal(p->backoff, HT_CONF_BACKOFF_EXPONENTIAL);
	p = &t->subscriptions[1].delivery_policy;
	assert_int_equal(p->num_retries, 3);
	assert_int_equal(p->min_delay_ms, 500);
	assert_int_equal(p->max_delay_ms, 20000);
	assert_int_equal(p->backoff, HT_CONF_BACKOFF_GEOMETRIC);
	/* SNS's default policy. */
	p = &t->subscriptions[2].delivery_policy;
	assert_int_equal(p->num_retries, 3);
	assert_int_equal(p->num_no_delay_retries, 0);
	assert_int_equal(p->num_min_delay_retries, 0);
	assert_int_equal(p->num_max_delay_retries, 0);
	assert_int_equal(p->min_delay_ms, 20000);
	assert_int_equal(p->max_delay_ms, 20000);
	assert_int_equal(p->backoff, HT_CONF_BACKOFF_LINEAR);

	/* A topic without subscriptions needs no key; the defaults. */
	t = ht_conf_topic(c, "quiet");
	assert_non_null(t);
	assert_int_equal(t->n_subscriptions, 0);
	assert_null(t->signing_key_file);
	assert_null(t->signing_cert_url);
	assert_int_equal(t->signature_version, 2);
	assert_null(t->ca_file);
	assert_int_equal(t->timeout_ms, 15000);
	ht_conf_free(c);
}

static void
test_error_topic(void **state UNUSED)
{
	expect_exact(BASE "topics:\n  tt:\n    subscriptions:\n      - url: https://x.example/\n",
	    "t.yaml:10:5: topics.tt.signing_key_file: required key is missing: topic \"tt\" has "
	    "subscriptions, and every notification is signed");
	expect_exact(BASE "topics:\n  tt: {subscriptions: [{url: 'https://x.example/'}]}\n",
	    "t.yaml:9:7: topics.tt.signing_key_file: required key is missing: topic \"tt\" has "
	    "subscriptions, and every notification is signed");
	expect_exact(BASE "topics:\n  tt:\n    signing_key_file: k.pem\n",
	    "t.yaml:10:5: topics.tt.signing_cert_url: required key is missing: it goes with "
	    "signing_key_file");
	expect_exact(BASE "topics:\n  tt:\n    signing_cert_url: https://c.example/c.pem\n",
	    "t.yaml:10:23: topics.tt.signing_cert_url: needs signing_key_file");
	expect_exact(BASE "topics:\n  tt:\n    signing_cert_url: http://c.example/c.pem\n",
	    "t.yaml:10:23: topics.tt.signing_cert_url: \"http://c.example/c.pem\" is not a valid "
	    "certificate URL: must start with https://");
	expect_exact(BASE "topics:\n  tt:\n    signing_cert_url: https://c.example/c.crt\n",
	    "t.yaml:10:23: topics.tt.signing_cert_url: \"https://c.example/c.crt\" is not a valid "
	    "certificate URL: must be https://HOST/PATH with a path ending in .pem");
	expect_exact(BASE "topics:\n  tt:\n    signing_key_file: ''\n",
	    "t.yaml:10:23: topics.tt.signing_key_file: \"\" is not a valid file name: must not be "
	    "empty");
	expect_exact(BASE "topics:\n  tt:\n    signature_version: 3\n",
	    "t.yaml:10:24: topics.tt.signature_version: \"3\" is out of range (1 to 2)");
	expect_exact(BASE "topics:\n  tt:\n    timeout: 10m\n",
	    "t.yaml:10:14: topics.tt.timeout: \"10m\" is out of range (1s to 5m)");
	expect_exact(BASE "topics:\n  tt:\n    subscriptions:\n      - url: ws://x.example/\n",
	    "t.yaml:11:14: topics.tt.subscriptions[0].url: \"ws://x.example/\" is not a valid "
	    "URL: must start with http:// or https://");
}

static void
test_error_delivery_policy(void **state UNUSED)
{
	expect_exact(TOPIC_TT "        delivery_policy:\n          backoff: quadratic\n",
	    "t.yaml:15:20: topics.tt.subscriptions[0].delivery_policy.backoff: unknown backoff "
	    "function \"quadratic\"; expected one of: linear, arithmetic, geometric, exponential");
	expect_exact(TOPIC_TT "        delivery_policy:\n          num_retries: 101\n",
	    "t.yaml:15:24: topics.tt.subscriptions[0].delivery_policy.num_retries: \"101\" is out "
	    "of range (0 to 100)");
	expect_exact(TOPIC_TT "        delivery_policy:\n"
	    "          num_retries: 2\n"
	    "          num_no_delay_retries: 1\n"
	    "          num_max_delay_retries: 2\n",
	    "t.yaml:15:24: topics.tt.subscriptions[0].delivery_policy.num_retries: 2 is less than "
	    "num_no_delay_retries + num_min_delay_retries + num_max_delay_retries (3)");
	/* Against the default num_retries (3): pointed at the policy. */
	expect_exact(TOPIC_TT "        delivery_policy:\n          num_min_delay_retries: 4\n",
	    "t.yaml:15:11: topics.tt.subscriptions[0].delivery_policy.num_retries: 3 is less than "
	    "num_no_delay_retries + num_min_delay_retries + num_max_delay_retries (4)");
	expect_exact(TOPIC_TT "        delivery_policy: {min_delay: 0}\n",
	    "t.yaml:14:38: topics.tt.subscriptions[0].delivery_policy.min_delay: \"0\" is out of "
	    "range (1ms to 1h)");
	expect_exact(TOPIC_TT "        delivery_policy: {max_delay: 3601}\n",
	    "t.yaml:14:38: topics.tt.subscriptions[0].delivery_policy.max_delay: \"3601\" is out "
	    "of range (1ms to 1h)");
	expect_exact(TOPIC_TT "        delivery_policy: {min_delay: 30s, max_delay: 10s}\n",
	    "t.yaml:14:54: topics.tt.subscriptions[0].delivery_policy.max_delay: 10s is less "
	    "than min_delay (30s)");
	/* max_delay left at its default (20s): pointed at min_delay. */
	expect_exact(TOPIC_TT "        delivery_policy: {min_delay: 1m}\n",
	    "t.yaml:14:38: topics.tt.subscriptions[0].delivery_policy.min_delay: 1m is more than "
	    "max_delay (20s)");
	expect_error(TOPIC_TT "        delivery_policy: {minDelayTarget: 1}\n",
	    "t.yaml:14:27: topics.tt.subscriptions[0].delivery_policy.minDelayTarget: unknown "
	    "key");
}

/* ---- trails' new keys ---- */

/* Lines 8-10: trail tr1 on spool-a; cases append from line 11. */
#define TRAIL_TR1 BASE "trails:\n  - name: tr1\n    s3_bucket_name: spool-a\n"

static void
test_error_trail_delivery(void **state UNUSED)
{
	expect_exact(TRAIL_TR1 "    delivery:\n      retry_min: 10s\n      retry_max: 5s\n",
	    "t.yaml:13:18: trails[0].delivery.retry_max: 5s is less than retry_min (10s)");
	expect_exact(TRAIL_TR1 "    delivery:\n      retry_min: 10m\n",
	    "t.yaml:12:18: trails[0].delivery.retry_min: 10m is more than retry_max (5m)");
	expect_exact(TRAIL_TR1 "    delivery:\n      retry_max: 1s\n      retry_min: 2s\n",
	    "t.yaml:12:18: trails[0].delivery.retry_max: 1s is less than retry_min (2s)");
	expect_exact(TRAIL_TR1 "    delivery:\n      retry_min: 50ms\n",
	    "t.yaml:12:18: trails[0].delivery.retry_min: \"50ms\" is out of range (100ms to 1h)");
	expect_exact(TRAIL_TR1 "    delivery:\n      retry_max: 25h\n",
	    "t.yaml:12:18: trails[0].delivery.retry_max: \"25h\" is out of range (1s to 1d)");
	expect_exact(TRAIL_TR1 "    outbox_max: 0\n",
	    "t.yaml:11:17: trails[0].outbox_max: \"0\" is out of range (1 to 10000000)");
	expect_exact(TRAIL_TR1 "    outbox_max: 10000001\n",
	    "t.yaml:11:17: trails[0].outbox_max: \"10000001\" is out of range (1 to 10000000)");
	expect_exact(BASE "trail_defaults:\n  outbox_max: 0\n",
	    "t.yaml:9:15: trail_defaults.outbox_max: \"0\" is out of range (1 to 10000000)");
	expect_exact(BASE "trail_defaults:\n  delivery: {retry_min: 1h, retry_max: 30m}\n",
	    "t.yaml:9:40: trail_defaults.delivery.retry_max: 30m is less than retry_min (1h)");
}

static void
test_error_trail_kms(void **state UNUSED)
{
	expect_exact(TRAIL_TR1 "    kms_key_id: ''\n",
	    "t.yaml:11:17: trails[0].kms_key_id: \"\" is not a valid KMS key ID: must be 1 to "
	    "2048 characters");
	expect_exact(TRAIL_TR1 "    kms_key_id: 'alias/my key'\n",
	    "t.yaml:11:17: trails[0].kms_key_id: \"alias/my key\" is not a valid KMS key ID: must "
	    "be printable ASCII without spaces");
	expect_exact(TRAIL_TR1 "    kms_key_id: alias/hosttrail\n",
	    "t.yaml:11:17: trails[0].kms_key_id: bucket \"spool-a\" does not use "
	    "server_side_encryption: aws:kms, so it would not use the key");
	expect_exact(BASE "  s3b: {type: s3, server_side_encryption: AES256}\n"
	    "trails:\n  - {name: tr1, s3_bucket_name: s3b, kms_key_id: alias/hosttrail}\n",
	    "t.yaml:10:50: trails[0].kms_key_id: bucket \"s3b\" does not use "
	    "server_side_encryption: aws:kms, so it would not use the key");
}

/* ---- paths ---- */

static void
test_paths(void **state UNUSED)
{
	struct ht_conf *c = load_ok(BASE);
	char *p;

	p = ht_conf_path(c, "spool");
	assert_string_equal(p, "/srv/ht/spool");
	free(p);
	p = ht_conf_path(c, "/abs/dir");
	assert_string_equal(p, "/abs/dir");
	free(p);
	p = ht_conf_path(c, c->api.socket);
	assert_string_equal(p, "/srv/ht/api.sock");
	free(p);

	assert_int_equal(ht_conf_set_state_dir(c, "/tmp/state/"), 0);
	assert_string_equal(c->state_dir, "/tmp/state/");
	p = ht_conf_path(c, c->buckets[0].path);
	assert_string_equal(p, "/tmp/state/spool");
	free(p);
	assert_int_equal(ht_conf_set_state_dir(c, "/x"), 0);
	p = ht_conf_path(c, "a/b");
	assert_string_equal(p, "/x/a/b");
	free(p);
	assert_int_equal(ht_conf_set_state_dir(c, ""), -EINVAL);
	assert_string_equal(c->state_dir, "/x");
	ht_conf_free(c);
	ht_conf_free(NULL);
}

/* ---- files ---- */

struct tmp {
	char dir[64];
	char file[96];
};

static void
write_tmp(struct tmp *t, const char *yaml)
{
	FILE *f;

	strcpy(t->dir, "/tmp/test_conf.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->file, sizeof(t->file), "%s/hosttrail.yaml", t->dir);
	f = fopen(t->file, "w");
	assert_non_null(f);
	assert_int_equal(fputs(yaml, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
rm_tmp(struct tmp *t)
{
	unlink(t->file);
	rmdir(t->dir);
}

static void
test_load_file(void **state UNUSED)
{
	struct tmp t;
	struct ht_conf *c = NULL;
	char want[160];

	write_tmp(&t, BASE "api:\n  credentials:\n"
	    "    - {access_key_id: AKIAAAAAAAAAAAAAAAAA, secret_file: keys/admin.secret}\n"
	    "    - {access_key_id: AKIAAAAAAAAAAAAAAAAB, secret_file: /etc/b.secret}\n");
	assert_int_equal(ht_conf_load(t.file, &c, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(c->path, t.file);
	/* secret_file is relative to the config file, not to state_dir. */
	snprintf(want, sizeof(want), "%s/keys/admin.secret", t.dir);
	assert_string_equal(c->api.credentials[0].secret_file, want);
	assert_string_equal(c->api.credentials[1].secret_file, "/etc/b.secret");
	ht_conf_free(c);
	rm_tmp(&t);

	/* So are an s3 bucket's and a topic's files. */
	write_tmp(&t, BASE "  s3b:\n    type: s3\n    ca_file: ca/s3.pem\n"
	    "    credentials: {access_key_id: AKIAAAAAAAAAAAAAAAAA, secret_file: s3.secret,\n"
	    "      session_token_file: /run/s3.token}\n"
	    "  s3p:\n    type: s3\n"
	    "    credentials: {profile: p1, shared_credentials_file: aws/credentials}\n"
	    "topics:\n  tt:\n    signing_key_file: sns.key\n"
	    "    signing_cert_url: https://c.example/sns.pem\n    ca_file: /etc/ca.pem\n");
	c = NULL;
	assert_int_equal(ht_conf_load(t.file, &c, errbuf, sizeof(errbuf)), 0);
	snprintf(want, sizeof(want), "%s/ca/s3.pem", t.dir);
	assert_string_equal(ht_conf_bucket(c, "s3b")->ca_file, want);
	snprintf(want, sizeof(want), "%s/s3.secret", t.dir);
	assert_string_equal(ht_conf_bucket(c, "s3b")->credentials.secret_file, want);
	assert_string_equal(ht_conf_bucket(c, "s3b")->credentials.session_token_file,
	    "/run/s3.token");
	snprintf(want, sizeof(want), "%s/aws/credentials", t.dir);
	assert_string_equal(ht_conf_bucket(c, "s3p")->credentials.shared_credentials_file, want);
	snprintf(want, sizeof(want), "%s/sns.key", t.dir);
	assert_string_equal(ht_conf_topic(c, "tt")->signing_key_file, want);
	assert_string_equal(ht_conf_topic(c, "tt")->ca_file, "/etc/ca.pem");
	/* A spool path stays relative: it is under state_dir, not the config's. */
	assert_string_equal(ht_conf_bucket(c, "spool-a")->path, "spool");
	ht_conf_free(c);
	rm_tmp(&t);

	/* Errors name the file as it was given. */
	write_tmp(&t, BASE "bogus: 1\n");
	c = NULL;
	assert_int_equal(ht_conf_load(t.file, &c, errbuf, sizeof(errbuf)), -EINVAL);
	snprintf(want, sizeof(want), "%s:8:1: bogus: unknown key", t.file);
	assert_true(strncmp(errbuf, want, strlen(want)) == 0);
	assert_null(c);
	rm_tmp(&t);
}

static void
test_load_unreadable(void **state UNUSED)
{
	struct ht_conf *c = NULL;

	assert_int_equal(ht_conf_load("/nonexistent/hosttrail.yaml", &c, errbuf,
	    sizeof(errbuf)), -ENOENT);
	assert_string_equal(errbuf,
	    "/nonexistent/hosttrail.yaml: cannot read: No such file or directory");
	assert_int_equal(ht_conf_load("/", &c, errbuf, sizeof(errbuf)), -EISDIR);
	assert_string_equal(errbuf, "/: cannot read: Is a directory");
	assert_null(c);
}

/* ---- out of memory ---- */

static void
oom_loop(const char *path)
{
	struct ht_conf *c;
	unsigned n;
	int r;

	for (n = 1;; n++) {
		c = NULL;
		alloc_calls = 0;
		alloc_fail_at = n;
		r = ht_conf_load(path, &c, errbuf, sizeof(errbuf));
		alloc_fail_at = 0;
		if (alloc_calls < n) {		/* nothing left to fail */
			if (r != 0)
				print_message("unexpected error: %s\n", errbuf);
			assert_int_equal(r, 0);
			ht_conf_free(c);
			break;
		}
		if (r != -ENOMEM)
			print_message("allocation %u: r=%d %s\n", n, r, errbuf);
		assert_int_equal(r, -ENOMEM);
		assert_null(c);
		assert_non_null(strstr(errbuf, ": out of memory"));
	}
	print_message("%s: failed each of %u allocations\n", path ? path : "default", n - 1);
}

static void
test_out_of_memory(void **state UNUSED)
{
	struct ht_conf *c = NULL;
	struct tmp t;

	alloc_calls = 0;
	assert_int_equal(ht_conf_load(NULL, &c, errbuf, sizeof(errbuf)), 0);
	ht_conf_free(c);
	if (alloc_calls == 0 || __real_malloc == NULL) {
		print_message("allocation wrappers not linked (-Wl,--wrap=...); skipping\n");
		skip();
	}
	oom_loop(NULL);
	write_tmp(&t, BASE
	    "  s3b:\n    type: s3\n    endpoint: http://127.0.0.1:9000\n    region: r2\n"
	    "    ca_file: ca.pem\n    server_side_encryption: aws:kms\n"
	    "    storage_class: STANDARD\n    resolve_to: 127.0.0.1\n"
	    "    credentials: {access_key_id: AKIAAAAAAAAAAAAAAAAA, secret_file: s3.secret,\n"
	    "      session_token_file: s3.token}\n"
	    "  s3p: {type: s3, bucket: real-bucket,\n"
	    "    credentials: {profile: p, shared_credentials_file: aws.ini}}\n"
	    "api:\n  credentials:\n"
	    "    - {access_key_id: AKIAAAAAAAAAAAAAAAAA, secret_file: admin.secret}\n"
	    "topics: {tt: {signing_key_file: k.pem, signing_cert_url: 'https://c/c.pem',\n"
	    "  ca_file: ca.pem, subscriptions: [{url: 'http://x/',\n"
	    "  delivery_policy: {num_retries: 5, backoff: exponential}}]}}\n"
	    "sources: [{type: ingest}, {type: auditlog, path: /l/audit.log, start: beginning}]\n"
	    "trails: [{name: tr1, s3_bucket_name: spool-a, sns_topic_name: tt},\n"
	    "  {name: tr2, s3_bucket_name: s3b, kms_key_id: alias/k, outbox_max: 5}]\n");
	oom_loop(t.file);
	rm_tmp(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_default),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_five_trails_ok),
		cmocka_unit_test(test_error_bad_trail_name),
		cmocka_unit_test(test_error_sixth_trail),
		cmocka_unit_test(test_error_undefined_bucket),
		cmocka_unit_test(test_error_malformed),
		cmocka_unit_test(test_error_keys),
		cmocka_unit_test(test_error_account_region),
		cmocka_unit_test(test_error_wrong_kind),
		cmocka_unit_test(test_error_numbers),
		cmocka_unit_test(test_error_cross_references),
		cmocka_unit_test(test_error_sections),
		cmocka_unit_test(test_auditlog_source),
		cmocka_unit_test(test_error_auditlog_source),
		cmocka_unit_test(test_audit_source),
		cmocka_unit_test(test_error_audit_source),
		cmocka_unit_test(test_host_sources),
		cmocka_unit_test(test_trail_event_selectors),
		cmocka_unit_test(test_error_host_sources),
		cmocka_unit_test(test_error_yaml_structure),
		cmocka_unit_test(test_error_one_line),
		cmocka_unit_test(test_errbuf_sizes),
		cmocka_unit_test(test_s3_bucket),
		cmocka_unit_test(test_s3_defaults),
		cmocka_unit_test(test_error_s3_keys),
		cmocka_unit_test(test_error_s3_endpoint),
		cmocka_unit_test(test_error_s3_credentials),
		cmocka_unit_test(test_topic),
		cmocka_unit_test(test_error_topic),
		cmocka_unit_test(test_error_delivery_policy),
		cmocka_unit_test(test_error_trail_delivery),
		cmocka_unit_test(test_error_trail_kms),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_unreadable),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
