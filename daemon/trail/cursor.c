/*
 * cursor.c - see cursor.h.  The file is JSON so an operator can read it:
 *   {"position":{"day":20261124,"offset":4096},"logging":true,
 *    "startLoggingTime":1795000000,"stopLoggingTime":0,
 *    "plan":{"key":"AWSLogs/...json.gz","to":{"day":20261124,"offset":8192}}}
 */
#include "ht_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fileio.h"
#include "trail/cursor.h"

#define CURSOR_MAX_FILE 65536

static struct json_object *
pos_to_json(const struct ht_history_pos *p)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "day", json_object_new_int64(p->day));
	json_object_object_add(o, "offset", json_object_new_int64((int64_t)p->offset));
	return o;
}

static int
pos_from_json(struct json_object *o, struct ht_history_pos *p)
{
	struct json_object *d, *off;
	int64_t day, offset;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "day", &d) ||
	    !json_object_object_get_ex(o, "offset", &off) || !json_object_is_type(d, json_type_int) ||
	    !json_object_is_type(off, json_type_int))
		return -EBADMSG;
	day = json_object_get_int64(d);
	offset = json_object_get_int64(off);
	if (day < 19700101 || day > 99991231 || offset < 0)
		return -EBADMSG;
	p->day = (uint32_t)day;
	p->offset = (uint64_t)offset;
	return 0;
}

/* An optional integer member; -EBADMSG if present with another type. */
static int
get_int(struct json_object *o, const char *key, int64_t *ret)
{
	struct json_object *v;

	*ret = 0;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EBADMSG;
	*ret = json_object_get_int64(v);
	return 0;
}

static int
cursor_from_json(struct json_object *root, struct ht_cursor *c)
{
	struct json_object *pos, *plan, *key, *to, *logging;

	memset(c, 0, sizeof(*c));
	if (!json_object_object_get_ex(root, "position", &pos) || pos_from_json(pos, &c->pos) < 0)
		return -EBADMSG;
	c->logging = true;
	if (json_object_object_get_ex(root, "logging", &logging)) {
		if (!json_object_is_type(logging, json_type_boolean))
			return -EBADMSG;
		c->logging = json_object_get_boolean(logging);
	}
	if (json_object_object_get_ex(root, "stopAt", &to) && !json_object_is_type(to, json_type_null)) {
		if (pos_from_json(to, &c->stop_at) < 0)
			return -EBADMSG;
		c->has_stop = true;
	}
	if (get_int(root, "startLoggingTime", &c->start_logging_time) < 0 ||
	    get_int(root, "stopLoggingTime", &c->stop_logging_time) < 0)
		return -EBADMSG;
	if (!json_object_object_get_ex(root, "plan", &plan) || json_object_is_type(plan, json_type_null))
		return 0;
	if (!json_object_object_get_ex(plan, "key", &key) || !json_object_is_type(key, json_type_string) ||
	    !json_object_object_get_ex(plan, "to", &to) || pos_from_json(to, &c->plan_to) < 0 ||
	    (size_t)json_object_get_string_len(key) >= sizeof(c->plan_key) ||
	    json_object_get_string_len(key) == 0)
		return -EBADMSG;
	strcpy(c->plan_key, json_object_get_string(key));
	c->has_plan = true;
	return 0;
}

int
ht_cursor_load(const char *path, struct ht_cursor *ret, char *errbuf, size_t errlen)
{
	struct json_object *root = NULL;
	struct ht_cursor c;
	char *text = NULL;
	size_t len;
	int v;

	v = ht_read_file(path, CURSOR_MAX_FILE, &text, &len);
	if (v < 0) {
		snprintf(errbuf, errlen, "%s: cannot read: %s", path, strerror(-v));
		return v;
	}
	root = json_tokener_parse(text);
	if (root == NULL || cursor_from_json(root, &c) < 0) {
		snprintf(errbuf, errlen, "%s: not a valid trail cursor (expected {\"position\":"
		    "{\"day\",\"offset\"},...})", path);
		v = -EBADMSG;
		goto out;
	}
	*ret = c;
out:
	json_object_put(root);
	free(text);
	return v;
}

int
ht_cursor_store(const char *path, const struct ht_cursor *c)
{
	struct json_object *root, *plan;
	const char *text;
	int v;

	root = json_object_new_object();
	if (root == NULL)
		return -ENOMEM;
	json_object_object_add(root, "position", pos_to_json(&c->pos));
	json_object_object_add(root, "logging", json_object_new_boolean(c->logging));
	json_object_object_add(root, "startLoggingTime", json_object_new_int64(c->start_logging_time));
	json_object_object_add(root, "stopLoggingTime", json_object_new_int64(c->stop_logging_time));
	if (c->has_stop)
		json_object_object_add(root, "stopAt", pos_to_json(&c->stop_at));
	if (c->has_plan) {
		plan = json_object_new_object();
		json_object_object_add(plan, "key", json_object_new_string(c->plan_key));
		json_object_object_add(plan, "to", pos_to_json(&c->plan_to));
		json_object_object_add(root, "plan", plan);
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	v = text ? ht_write_file_atomic(path, text, strlen(text), 0640) : -ENOMEM;
	json_object_put(root);
	return v;
}
