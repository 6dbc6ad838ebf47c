/*
 * fuzz_record.c - libFuzzer target for ht_record_parse.
 *
 * Beyond "no crash, no leak", every record that parses must come back the
 * same through its own output: serialize, parse again, serialize again and
 * the two texts are equal; and the json-c tree writer agrees with the fast
 * serializer byte for byte.  A mismatch aborts, so the fuzzer reports it.
 */
#include "ht_build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
serialize(const struct ht_record *rec)
{
	struct printbuf *pb = printbuf_new();
	char *s;

	if (pb == NULL || ht_record_serialize(rec, pb) < 0)
		abort();
	s = strdup(pb->buf);
	printbuf_free(pb);
	if (s == NULL)
		abort();
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_record *rec = NULL, *again = NULL;
	struct json_object *tree;
	char err[256], *first, *second;
	const char *user;

	if (ht_record_parse((const char *)data, size, &rec, err, sizeof(err)) < 0)
		return 0;
	user = ht_record_username(rec);
	if (user != NULL && strlen(user) > size)
		abort();

	first = serialize(rec);
	tree = ht_record_to_json(rec);
	if (tree == NULL || strcmp(first, json_object_to_json_string_ext(tree,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) != 0)
		abort();
	json_object_put(tree);

	if (ht_record_parse(first, strlen(first), &again, err, sizeof(err)) < 0)
		abort();
	second = serialize(again);
	if (strcmp(first, second) != 0)
		abort();

	free(first);
	free(second);
	ht_record_free(again);
	ht_record_free(rec);
	return 0;
}
