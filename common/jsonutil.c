/*
 * jsonutil.c - see jsonutil.h.
 */
#include "ht_build.h"

#include <errno.h>

#include <json-c/json.h>

#include "jsonutil.h"

int
ht_json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int
ht_json_push(struct json_object *a, struct json_object *v)
{
	if (v == NULL)
		return -ENOMEM;
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int
ht_json_add_str(struct json_object *o, const char *key, const char *s)
{
	return s != NULL ? ht_json_add(o, key, json_object_new_string(s)) : 0;
}

int
ht_json_add_int(struct json_object *o, const char *key, int64_t v)
{
	return ht_json_add(o, key, json_object_new_int64(v));
}
