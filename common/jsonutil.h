/*
 * jsonutil.h - the two json-c steps every record builder repeats: add a
 * freshly made value to an object or an array, where "freshly made" may
 * have failed (json_object_new_* returns NULL on ENOMEM) and a failed add
 * must not leak the value.  Chains of them stay one line each:
 *   if ((v = ht_json_add(o, "a", json_object_new_string(s))) < 0) ...
 */
#ifndef HT_JSONUTIL_H
#define HT_JSONUTIL_H

#include <stdint.h>

struct json_object;

/* Add v (taken over; NULL = it could not be made) to object o as key.
 * 0 or -ENOMEM (v is freed). */
int ht_json_add(struct json_object *o, const char *key, struct json_object *v);
/* Append v (taken over; NULL = it could not be made) to array a.
 * 0 or -ENOMEM (v is freed). */
int ht_json_push(struct json_object *a, struct json_object *v);
/* Add the string s (copied) as key; s NULL adds nothing.  0 or -ENOMEM. */
int ht_json_add_str(struct json_object *o, const char *key, const char *s);
/* Add the integer v as key.  0 or -ENOMEM. */
int ht_json_add_int(struct json_object *o, const char *key, int64_t v);

#endif
