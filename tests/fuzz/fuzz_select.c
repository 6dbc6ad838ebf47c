/*
 * fuzz_select.c - PutEventSelectors input, as a client may send it, through
 * the selector parser; whatever parses must survive the persisted form and
 * GetEventSelectors' shape, and be matchable.
 */
#include "ht_build.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"
#include "trail/select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req, *state = NULL, *out;
	struct ht_select *sel = NULL, *back = NULL;
	struct ht_select_error err;
	struct ht_record *rec = ht_record_new();

	req = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (req && json_object_is_type(req, json_type_object) &&
	    ht_select_parse(req, &sel, &err) == 0) {
		if (ht_select_to_state(sel, &state) == 0 &&
		    ht_select_from_state(state, &back, &err) != 0)
			__builtin_trap();	/* its own persisted form must load */
		out = json_object_new_object();
		(void)ht_select_add_json(sel, out);
		json_object_put(out);
		if (rec) {
			struct ht_select_scope sc = { .home_region = "us-east-1" };

			rec->event_category = strdup("Data");
			rec->event_source = strdup("host.identity");
			(void)ht_select_match(sel, &sc, rec);
		}
	}
	ht_select_free(back);
	ht_select_free(sel);
	json_object_put(state);
	json_object_put(req);
	ht_record_free(rec);
	return 0;
}
