/*
 * conf.c - see conf.h.
 *
 * libyaml's document API turns the file into a node graph; the parser below
 * walks it with per-section field tables (struct cp_field), so the schema is
 * data: each table row names a key, the parser for its value and where the
 * value goes.  Loading runs in three steps over one struct ht_conf:
 *
 *   1. defaults (conf_defaults, trail_defaults), as documented in conf.h;
 *   2. parse: every value is converted and checked on its own (type, syntax,
 *      range); unknown, duplicate and missing keys are refused here;
 *   3. validate: rules that relate values to each other (a trail's bucket and
 *      topic must exist, trail names are unique, at most five trails, an
 *      organization trail needs organization_id).  The document is still
 *      alive, so these errors point at the offending value too.  Rules
 *      within one section (retry_min <= retry_max, an s3 bucket's
 *      credentials, a topic's signing key) are checked as soon as that
 *      section is parsed, by the section's own item or parse function.
 *
 * The first error stops the load and becomes the one-line message
 * "FILE:LINE:COL: KEY.PATH: message"; cp->path tracks the key path as the
 * walk descends.  Nothing here touches the filesystem beyond reading the
 * config itself: directories are created, and secret files opened, by the
 * modules that use them.  Files named in the config (secret_file, ca_file,
 * signing_key_file, ...) are made absolute against the config file's
 * directory at the end (resolve_files), so a config and its keys can move
 * together; spool and socket paths stay relative to state_dir.
 *
 * YAML aliases are refused: libyaml resolves them into shared (even cyclic)
 * nodes, and a few aliases to large lists would multiply the work of the
 * walk; cp->seen marks each node as it is used, so reuse is caught at once.
 */
#include "ht_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include <json-c/json.h>

#include "conf.h"
#include "util.h"

#define CONF_EMBEDDED_NAME "<embedded default>"
#define CONF_MAX_FILE (1024 * 1024)	/* far above any real config */
#define CONF_QUOTE_MAX 64		/* longest value quoted in an error */

/* Parser state for one load.  Borrowed pointers only, except seen. */
struct cp {
	const char *name;		/* file name for messages */
	const char *basedir;		/* for relative secret_file; NULL = keep */
	yaml_document_t *doc;
	struct ht_conf *conf;
	unsigned char *seen;		/* one flag per document node */
	char *err;
	size_t errlen;
	bool failed;			/* an error has been written; keep the first */
	char path[256];			/* key path of the value being parsed */
	size_t plen;
	char quote[CONF_QUOTE_MAX * 4 + 8];
};

struct cp_field;
typedef int cp_parse_fn(struct cp *cp, yaml_node_t *node, void *base, const struct cp_field *f);
typedef int cp_item_fn(struct cp *cp, yaml_node_t *node, void *items, size_t idx);

/* One key of a mapping: where its value goes and how it is parsed. */
struct cp_field {
	const char *key;
	cp_parse_fn *parse;
	size_t off;			/* member offset in the parent struct */
	size_t size;			/* member size, for integers and enums */
	size_t noff;			/* lists and named maps: offset of the count */
	uint64_t min, max;		/* integers, durations and sizes */
	const void *arg;		/* parser-specific, see each cp_* parser */
	bool required;
};

/* A string's rule: NULL when valid, else a short reason. */
struct cp_check {
	const char *what;
	const char *(*invalid)(const char *s);
};

struct cp_enum {
	const char *what;
	const char *const *names;	/* index = enum value, NULL-terminated */
};

/* A list of items, or a mapping of name -> item, each item_size bytes. */
struct cp_items {
	size_t item_size;
	cp_item_fn *item;
	size_t name_off;		/* named maps: offset of the char *name */
	const struct cp_check *name_check;
};

static const yaml_mark_t cp_top = { 0, 0, 0 };	/* 1:1, for the file as a whole */

/* ---- messages ---- */

static void
buf_vadd(char *buf, size_t len, size_t *n, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void
buf_vadd(char *buf, size_t len, size_t *n, const char *fmt, va_list ap)
{
	int r;

	if (*n >= len)
		return;
	r = vsnprintf(buf + *n, len - *n, fmt, ap);
	if (r > 0)
		*n = *n + (size_t)r < len ? *n + (size_t)r : len - 1;
}

static void
buf_add(char *buf, size_t len, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
buf_add(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vadd(buf, len, n, fmt, ap);
	va_end(ap);
}

/* The message must stay one line whatever the input held. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int
cp_verr(struct cp *cp, const yaml_mark_t *mark, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int
cp_verr(struct cp *cp, const yaml_mark_t *mark, const char *fmt, va_list ap)
{
	size_t n = 0;

	if (cp->failed || cp->errlen == 0) {
		cp->failed = true;
		return -EINVAL;
	}
	cp->failed = true;
	cp->err[0] = '\0';
	buf_add(cp->err, cp->errlen, &n, "%s:%zu:%zu: ", cp->name, mark->line + 1,
	    mark->column + 1);
	if (cp->plen > 0)
		buf_add(cp->err, cp->errlen, &n, "%s: ", cp->path);
	buf_vadd(cp->err, cp->errlen, &n, fmt, ap);
	one_line(cp->err);
	return -EINVAL;
}

static int
cp_err_mark(struct cp *cp, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
cp_err_mark(struct cp *cp, const yaml_mark_t *mark, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cp_verr(cp, mark, fmt, ap);
	va_end(ap);
	return r;
}

static int
cp_err(struct cp *cp, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
cp_err(struct cp *cp, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cp_verr(cp, &node->start_mark, fmt, ap);
	va_end(ap);
	return r;
}

/* s in double quotes, escaped and shortened, in cp->quote (one per message). */
static const char *
cp_q(struct cp *cp, const char *s)
{
	size_t n = 0, len = sizeof(cp->quote);

	buf_add(cp->quote, len, &n, "\"");
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == CONF_QUOTE_MAX) {
			buf_add(cp->quote, len, &n, "...");
			break;
		}
		if (c == '"' || c == '\\')
			buf_add(cp->quote, len, &n, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_add(cp->quote, len, &n, "\\x%02x", c);
		else
			buf_add(cp->quote, len, &n, "%c", c);
	}
	buf_add(cp->quote, len, &n, "\"");
	return cp->quote;
}

/* ---- key path ---- */

static size_t
path_push(struct cp *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t
path_push(struct cp *cp, const char *fmt, ...)
{
	size_t old = cp->plen;
	va_list ap;

	va_start(ap, fmt);
	buf_vadd(cp->path, sizeof(cp->path), &cp->plen, fmt, ap);
	va_end(ap);
	return old;
}

static size_t
path_key(struct cp *cp, const char *key)
{
	return path_push(cp, cp->plen > 0 ? ".%s" : "%s", key);
}

static void
path_pop(struct cp *cp, size_t old)
{
	cp->plen = old;
	cp->path[old] = '\0';
}

/* ---- nodes ---- */

/* YAML 1.1's spellings of null, plain only: a quoted "" or "null" is a
 * string the rules below judge like any other. */
static bool
is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *
kind(const yaml_node_t *n)
{
	if (is_null(n))
		return "an empty value";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return "a single value";
}

/* Fetch node id and mark it used; a second use means an alias. */
static int
cp_node(struct cp *cp, int id, yaml_node_t **ret)
{
	yaml_node_t *n = yaml_document_get_node(cp->doc, id);
	size_t i;

	if (n == NULL)
		return cp_err_mark(cp, &cp_top, "internal error: YAML node %d is missing", id);
	i = (size_t)(n - cp->doc->nodes.start);
	if (cp->seen[i])
		return cp_err(cp, n, "YAML aliases are not supported; write the value out in full");
	cp->seen[i] = 1;
	*ret = n;
	return 0;
}

/* The value of key in mapping map, or NULL.  Does not mark anything used. */
static yaml_node_t *
cp_find(struct cp *cp, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cp->doc, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(cp->doc, p->value);
	}
	return NULL;
}

/* An error about key's value in map (at the map itself if the key is absent). */
static int
cp_err_key(struct cp *cp, yaml_node_t *map, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
cp_err_key(struct cp *cp, yaml_node_t *map, const char *key, const char *fmt, ...)
{
	yaml_node_t *v = cp_find(cp, map, key);
	size_t old = path_key(cp, key);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cp_verr(cp, v != NULL ? &v->start_mark : &map->start_mark, fmt, ap);
	va_end(ap);
	path_pop(cp, old);
	return r;
}

static int
cp_scalar(struct cp *cp, yaml_node_t *n, const char *what, const char **ret)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return cp_err(cp, n, "expected %s, found %s", what, kind(n));
	/* "\0" in a quoted scalar would silently cut the C string short. */
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return cp_err(cp, n, "must not contain NUL characters");
	*ret = (const char *)n->data.scalar.value;
	return 0;
}

/* ---- formatting limits for messages ---- */

static void
fmt_ms(uint64_t ms, char *buf, size_t len)
{
	static const struct { const char *u; uint64_t m; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].m == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].m),
			    units[i].u);
			return;
		}
	}
	snprintf(buf, len, "%llums", (unsigned long long)ms);
}

static void
fmt_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

	for (int i = 0; i < 4; i++) {
		uint64_t m = 1ULL << (10 * (4 - i));

		if (b != 0 && b % m == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(b / m), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%lluB", (unsigned long long)b);
}

/* ---- scalar parsers ---- */

static void
store_u(void *base, const struct cp_field *f, uint64_t v)
{
	char *p = (char *)base + f->off;

	if (f->size == sizeof(uint32_t)) {
		uint32_t v32 = (uint32_t)v;

		memcpy(p, &v32, sizeof(v32));
	} else {
		memcpy(p, &v, sizeof(v));
	}
}

/* arg: const struct cp_check * or NULL.  Replaces a default. */
static int
cp_str(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	const struct cp_check *check = f->arg;
	char **dst = (char **)((char *)base + f->off);
	const char *v, *why;
	char *copy;
	int r;

	r = cp_scalar(cp, n, "a string", &v);
	if (r < 0)
		return r;
	if (check != NULL && (why = check->invalid(v)) != NULL)
		return cp_err(cp, n, "%s is not a valid %s: %s", cp_q(cp, v), check->what, why);
	copy = strdup(v);
	if (copy == NULL)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

static int
cp_bool(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	bool *dst = (bool *)((char *)base + f->off);
	const char *v;
	int r;

	r = cp_scalar(cp, n, "true or false", &v);
	if (r < 0)
		return r;
	for (int i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*dst = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return cp_err(cp, n, "%s is not a boolean (use true or false)", cp_q(cp, v));
}

/* Plain decimal: no sign, no leading zeros (YAML 1.1 would read 010 as
 * octal), no underscores, no hex.  -ERANGE past UINT64_MAX. */
static int
parse_dec(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

static int
cp_uint(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	const char *v;
	uint64_t u;
	int r;

	r = cp_scalar(cp, n, "a number", &v);
	if (r < 0)
		return r;
	r = parse_dec(v, &u);
	if (r == -EINVAL)
		return cp_err(cp, n, "%s is not a plain decimal integer", cp_q(cp, v));
	if (r < 0 || u < f->min || u > f->max)
		return cp_err(cp, n, "%s is out of range (%llu to %llu)", cp_q(cp, v),
		    (unsigned long long)f->min, (unsigned long long)f->max);
	store_u(base, f, u);
	return 0;
}

static int
cp_duration(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	char lo[32], hi[32];
	const char *v;
	uint64_t ms;
	int r;

	r = cp_scalar(cp, n, "a duration", &v);
	if (r < 0)
		return r;
	r = ht_parse_duration_ms(v, &ms);
	if (r == -EINVAL)
		return cp_err(cp, n, "%s is not a valid duration (a number with ms, s, m, h or d)",
		    cp_q(cp, v));
	if (r < 0 || ms < f->min || ms > f->max) {
		fmt_ms(f->min, lo, sizeof(lo));
		fmt_ms(f->max, hi, sizeof(hi));
		return cp_err(cp, n, "%s is out of range (%s to %s)", cp_q(cp, v), lo, hi);
	}
	store_u(base, f, ms);
	return 0;
}

static int
cp_size(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	char lo[32], hi[32];
	const char *v;
	uint64_t b;
	int r;

	r = cp_scalar(cp, n, "a size", &v);
	if (r < 0)
		return r;
	r = ht_parse_size(v, &b);
	if (r == -EINVAL)
		return cp_err(cp, n, "%s is not a valid size (bytes, or a number with kB, MB, "
		    "GB, TB, KiB, MiB, GiB or TiB)", cp_q(cp, v));
	if (r < 0 || b < f->min || b > f->max) {
		fmt_bytes(f->min, lo, sizeof(lo));
		fmt_bytes(f->max, hi, sizeof(hi));
		return cp_err(cp, n, "%s is out of range (%s to %s)", cp_q(cp, v), lo, hi);
	}
	store_u(base, f, b);
	return 0;
}

/* arg: const struct cp_enum *. */
/* Names are matched exactly: "Always" is refused rather than guessed at. */
static int
cp_enumv(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	const struct cp_enum *e = f->arg;
	char known[128];
	size_t len = 0;
	const char *v;
	int r;

	r = cp_scalar(cp, n, e->what, &v);
	if (r < 0)
		return r;
	known[0] = '\0';
	for (size_t i = 0; e->names[i] != NULL; i++) {
		if (strcmp(v, e->names[i]) == 0) {
			store_u(base, f, i);
			return 0;
		}
		buf_add(known, sizeof(known), &len, "%s%s", i > 0 ? ", " : "", e->names[i]);
	}
	return cp_err(cp, n, "unknown %s %s; expected one of: %s", e->what, cp_q(cp, v), known);
}

/* ---- mappings ---- */

/* The key of pair p, which must be a plain string. */
static int
cp_key(struct cp *cp, const yaml_node_pair_t *p, yaml_node_t **ret_k, const char **ret_key)
{
	int r;

	r = cp_node(cp, p->key, ret_k);
	if (r == 0)
		r = cp_scalar(cp, *ret_k, "a key name", ret_key);
	return r;
}

static void
join_keys(const struct cp_field *fields, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; fields[i].key != NULL; i++)
		buf_add(buf, len, &n, "%s%s", i > 0 ? ", " : "", fields[i].key);
}

static int
cp_pair(struct cp *cp, const yaml_node_pair_t *p, const struct cp_field *fields, void *base,
    uint64_t *have)
{
	yaml_node_t *k, *v;
	const char *key;
	char known[512];
	size_t i, old;
	int r;

	r = cp_key(cp, p, &k, &key);
	if (r < 0)
		return r;
	for (i = 0; fields[i].key != NULL; i++)
		if (strcmp(fields[i].key, key) == 0)
			break;
	old = path_key(cp, key);
	if (fields[i].key == NULL) {
		join_keys(fields, known, sizeof(known));
		r = cp_err(cp, k, "unknown key %s; expected one of: %s", cp_q(cp, key), known);
	} else if (*have & (1ULL << i)) {
		r = cp_err(cp, k, "duplicate key %s", cp_q(cp, key));
	} else {
		*have |= 1ULL << i;
		r = cp_node(cp, p->value, &v);
		if (r == 0)
			r = fields[i].parse(cp, v, base, &fields[i]);
	}
	path_pop(cp, old);
	return r;
}

/* Parse mapping node into base by fields.  An empty value counts as an
 * empty mapping, so a section whose keys are all commented out is fine. */
static int
cp_map(struct cp *cp, yaml_node_t *node, const struct cp_field *fields, void *base)
{
	const yaml_mark_t *mark = &node->start_mark;
	uint64_t have = 0;
	yaml_node_pair_t *p;
	size_t old;
	int r;

	if (!is_null(node)) {
		if (node->type != YAML_MAPPING_NODE)
			return cp_err(cp, node, "expected a mapping, found %s", kind(node));
		for (p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
			r = cp_pair(cp, p, fields, base, &have);
			if (r < 0)
				return r;
		}
	}
	/* A key missing from the whole file is the file's fault, not line N's. */
	if (node == yaml_document_get_root_node(cp->doc))
		mark = &cp_top;
	for (size_t i = 0; fields[i].key != NULL; i++) {
		if (fields[i].required && !(have & (1ULL << i))) {
			old = path_key(cp, fields[i].key);
			r = cp_err_mark(cp, mark, "required key is missing");
			path_pop(cp, old);
			return r;
		}
	}
	return 0;
}

/* arg: the sub-table (const struct cp_field *). */
static int
cp_sub(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	return cp_map(cp, n, f->arg, (char *)base + f->off);
}

/* ---- lists and named maps ---- */

/* Allocate count zeroed items into the array at f->off.  The count at
 * f->noff grows as items are parsed, so a failed load frees only what was
 * filled in. */
static int
items_alloc(void *base, const struct cp_field *f, size_t count, void **ret)
{
	const struct cp_items *it = f->arg;
	void **arr = (void **)((char *)base + f->off);
	void *items;

	if (count == 0) {
		*ret = NULL;
		return 0;
	}
	items = calloc(count, it->item_size);
	if (items == NULL)
		return -ENOMEM;
	*arr = items;
	*ret = items;
	return 0;
}

/* arg: const struct cp_items *; a YAML sequence. */
static int
cp_list(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	const struct cp_items *it = f->arg;
	size_t *count = (size_t *)((char *)base + f->noff);
	yaml_node_item_t *id;
	yaml_node_t *item;
	void *items;
	size_t old;
	int r;

	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return cp_err(cp, n, "expected a list, found %s", kind(n));
	id = n->data.sequence.items.start;
	r = items_alloc(base, f, (size_t)(n->data.sequence.items.top - id), &items);
	for (; r == 0 && id < n->data.sequence.items.top; id++) {
		old = path_push(cp, "[%zu]", *count);
		r = cp_node(cp, *id, &item);
		if (r == 0) {
			(*count)++;
			r = it->item(cp, item, items, *count - 1);
		}
		path_pop(cp, old);
	}
	return r;
}

static int
cp_named_item(struct cp *cp, const yaml_node_pair_t *p, const struct cp_items *it, void *items,
    size_t *count)
{
	yaml_node_t *k, *v;
	const char *name, *why;
	char *copy, **slot;
	size_t old;
	int r;

	r = cp_key(cp, p, &k, &name);
	if (r < 0)
		return r;
	old = path_key(cp, name);
	if ((r = cp_node(cp, p->value, &v)) < 0)
		goto out;
	if ((why = it->name_check->invalid(name)) != NULL) {
		r = cp_err(cp, k, "%s is not a valid %s: %s", cp_q(cp, name), it->name_check->what,
		    why);
		goto out;
	}
	for (size_t i = 0; i < *count; i++) {
		slot = (char **)((char *)items + i * it->item_size + it->name_off);
		if (strcmp(*slot, name) == 0) {
			r = cp_err(cp, k, "duplicate %s %s", it->name_check->what, cp_q(cp, name));
			goto out;
		}
	}
	r = -ENOMEM;
	if ((copy = strdup(name)) == NULL)
		goto out;
	slot = (char **)((char *)items + *count * it->item_size + it->name_off);
	*slot = copy;
	(*count)++;
	r = it->item(cp, v, items, *count - 1);
out:
	path_pop(cp, old);
	return r;
}

/* arg: const struct cp_items *; a YAML mapping of name -> item. */
static int
cp_named(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	size_t *count = (size_t *)((char *)base + f->noff);
	yaml_node_pair_t *p;
	void *items;
	int r;

	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return cp_err(cp, n, "expected a mapping of names, found %s", kind(n));
	p = n->data.mapping.pairs.start;
	r = items_alloc(base, f, (size_t)(n->data.mapping.pairs.top - p), &items);
	for (; r == 0 && p < n->data.mapping.pairs.top; p++)
		r = cp_named_item(cp, p, f->arg, items, count);
	return r;
}

/* ---- value rules ---- */

static bool
all_of(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

static const char *
bad_account(const char *s)
{
	return ht_account_id_valid(s) ? NULL : "must be exactly 12 digits";
}

static const char *
bad_region(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 64 || !all_of(s, LOWER_DIGITS "-"))
		return "must be 1 to 64 lowercase letters, numbers or dashes";
	return NULL;
}

static const char *
bad_org(const char *s)
{
	size_t len = strlen(s);

	if (strncmp(s, "o-", 2) != 0 || len < 12 || len > 34 || !all_of(s + 2, LOWER_DIGITS))
		return "must be \"o-\" followed by 10 to 32 lowercase letters or numbers";
	return NULL;
}

static const char *
bad_abs_path(const char *s)
{
	return s[0] == '/' ? NULL : "must be an absolute path";
}

/* FIELD=value as sd_journal_add_match takes it (FIELD: upper-case letters,
 * digits and '_', not starting with a digit), or "+" for a disjunction. */
static const char *
bad_match(const char *s)
{
	const char *eq = strchr(s, '=');

	if (strcmp(s, "+") == 0)
		return NULL;
	if (eq == NULL || eq == s)
		return "expected FIELD=value (e.g. _SYSTEMD_UNIT=ssh.service) or +";
	if (*s >= '0' && *s <= '9')
		return "a field name does not start with a digit";
	for (const char *c = s; c < eq; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return "a field name has only upper-case letters, digits and '_'";
	return NULL;
}

static const char *
bad_empty(const char *s)
{
	return s[0] != '\0' ? NULL : "must not be empty";
}

static const char *
bad_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (colon == NULL || colon == s || parse_dec(colon + 1, &port) < 0 || port < 1 ||
	    port > 65535)
		return "must be HOST:PORT with a port from 1 to 65535";
	/* An IPv6 host needs brackets, or the last colon is ambiguous. */
	if (memchr(s, ':', (size_t)(colon - s)) != NULL && (s[0] != '[' || colon[-1] != ']'))
		return "an IPv6 address must be in brackets, e.g. [::1]:8149";
	return NULL;
}

static const char *
bad_access_key(const char *s)
{
	size_t len = strlen(s);

	if (len < 16 || len > 128 || !all_of(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
		return "must be 16 to 128 uppercase letters or numbers";
	return NULL;
}

/* S3-compatible servers are laxer than AWS: MinIO takes any key name
 * ("minioadmin"), Swift's s3api uses "account:user".  The same set as
 * deliver/creds.c accepts. */
static const char *
bad_s3_access_key(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 128 || !all_of(s, LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ:_-"))
		return "must be 1 to 128 letters, numbers, ':', '_' or '-'";
	return NULL;
}

/* Only the scheme is checked here; libcurl judges the rest when it sends. */
static const char *
bad_url(const char *s)
{
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return "must start with http:// or https://";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return "must not contain spaces or control characters";
	return NULL;
}

/* The daemon checks the same shape again when it loads the key
 * (sns.c); checking here makes --check-config catch it. */
static const char *
bad_cert_url(const char *s)
{
	size_t len = strlen(s);
	const char *host;

	if (strncmp(s, "https://", strlen("https://")) != 0)
		return "must start with https://";
	host = s + strlen("https://");
	if (*host == '\0' || *host == '/' || strchr(host, '/') == NULL || len < 4 ||
	    strcmp(s + len - 4, ".pem") != 0)
		return "must be https://HOST/PATH with a path ending in .pem";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '"' || *s == '\\')
			return "must not contain spaces, quotes, backslashes or control characters";
	return NULL;
}

/* An endpoint's host: a DNS name, an IPv4 address, or [IPv6]; the end of
 * it in *ret_end. */
static const char *
bad_endpoint_host(const char *h, const char **ret_end)
{
	struct in6_addr a6;
	char ip[INET6_ADDRSTRLEN + 1];
	const char *end;

	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL || (size_t)(end - h - 1) >= sizeof(ip))
			return "an IPv6 host must be in brackets, e.g. https://[::1]:9000";
		memcpy(ip, h + 1, (size_t)(end - h - 1));
		ip[end - h - 1] = '\0';
		if (inet_pton(AF_INET6, ip, &a6) != 1)
			return "the host in brackets is not an IPv6 address";
		*ret_end = end + 1;
		return NULL;
	}
	end = h + strspn(h, LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-");
	if (end == h)
		return "must have a host after the scheme";
	if (end - h > 253)
		return "the host name is longer than 253 characters";
	if (*end != '\0' && strchr(":/?#", *end) == NULL)
		return "the host may contain only letters, numbers, periods and dashes (an IPv6 "
		    "address goes in brackets)";
	*ret_end = end;
	return NULL;
}

/* scheme://HOST[:PORT], and at most a trailing "/" (what deliver/s3.c
 * accepts): the bucket and key are added per request. */
static const char *
bad_endpoint(const char *s)
{
	const char *p, *why;
	char *end;
	unsigned long port;

	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else
		return "must start with http:// or https://";
	if (memchr(p, '@', strcspn(p, "/?#")) != NULL)
		return "must not contain user info (user@host); keys go in credentials:";
	if ((why = bad_endpoint_host(p, &p)) != NULL)
		return why;
	if (*p == ':') {
		if (p[1] < '1' || p[1] > '9')
			return "the port must be a number from 1 to 65535";
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (errno != 0 || port > 65535 || (*end != '\0' && strchr("/?#", *end) == NULL))
			return "the port must be a number from 1 to 65535";
		p = end;
	}
	if (*p == '\0' || strcmp(p, "/") == 0)
		return NULL;
	return "must be only http(s)://HOST[:PORT], with no path, query or fragment";
}

static const char *
bad_storage_class(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 64 || !all_of(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))
		return "must be 1 to 64 uppercase letters, numbers or underscores, "
		    "e.g. STANDARD_IA";
	return NULL;
}

static const char *
bad_ip(const char *s)
{
	struct in6_addr a;

	if (inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1)
		return NULL;
	return "must be a numeric IPv4 or IPv6 address (no brackets, no host name)";
}

/* A file the daemon opens; "~" would be taken literally, so refuse it. */
static const char *
bad_file(const char *s)
{
	if (s[0] == '\0')
		return "must not be empty";
	if (s[0] == '~')
		return "\"~\" is not expanded; write the full path";
	return NULL;
}

/* Section names of the shared credentials file: no brackets or blanks. */
static const char *
bad_profile(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 128)
		return "must be 1 to 128 characters";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '[' || *s == ']')
			return "must be printable ASCII without spaces or brackets";
	return NULL;
}

/* A key ID, key ARN, alias name or alias ARN: KMS judges which. */
static const char *
bad_kms_key(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 2048)
		return "must be 1 to 2048 characters";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return "must be printable ASCII without spaces";
	return NULL;
}

static const char *
bad_prefix(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 200 ? NULL : "must be 1 to 200 characters";
}

static const char *
bad_topic(const char *s)
{
	return ht_topic_name_valid(s) ? NULL
	    : "must be 1 to 256 letters, numbers, underscores or dashes";
}

static const char *
bad_channel(const char *s)
{
	return ht_channel_name_valid(s) ? NULL
	    : "must be 1 to 128 letters, numbers, underscores or dashes";
}

static const struct cp_check chk_account = { "account ID", bad_account };
static const struct cp_check chk_region = { "region", bad_region };
static const struct cp_check chk_org = { "organization ID", bad_org };
static const struct cp_check chk_state_dir = { "state directory", bad_abs_path };
static const struct cp_check chk_log_file = { "log file path", bad_abs_path };
static const struct cp_check chk_path = { "path", bad_empty };
static const struct cp_check chk_listen = { "listen address", bad_listen };
static const struct cp_check chk_access_key = { "access key ID", bad_access_key };
static const struct cp_check chk_s3_access_key = { "access key ID", bad_s3_access_key };
static const struct cp_check chk_url = { "URL", bad_url };
static const struct cp_check chk_prefix = { "S3 key prefix", bad_prefix };
static const struct cp_check chk_name = { "name", bad_empty };
static const struct cp_check chk_trail = { "trail name", ht_trail_name_invalid };
static const struct cp_check chk_bucket = { "bucket name", ht_bucket_name_invalid };
static const struct cp_check chk_topic = { "topic name", bad_topic };
static const struct cp_check chk_channel = { "channel name", bad_channel };
static const struct cp_check chk_cert_url = { "certificate URL", bad_cert_url };
static const struct cp_check chk_endpoint = { "endpoint", bad_endpoint };
static const struct cp_check chk_storage_class = { "storage class", bad_storage_class };
static const struct cp_check chk_ip = { "IP address", bad_ip };
static const struct cp_check chk_file = { "file name", bad_file };
static const struct cp_check chk_profile = { "profile name", bad_profile };
static const struct cp_check chk_kms_key = { "KMS key ID", bad_kms_key };
static const struct cp_check chk_rule = { "audit rule", bad_empty };
static const struct cp_check chk_match = { "journal match", bad_match };
static const struct cp_check chk_abs_path = { "path", bad_abs_path };
static const struct cp_check chk_pattern = { "pattern", bad_empty };

static const char *const fsync_names[] = { "always", "interval", "off", NULL };
static const char *const access_names[] = { "admin", "read", NULL };
static const char *const bucket_type_names[] = { "spool", "s3", NULL };
static const char *const source_type_names[] = { "ingest", "auditlog", "audit", "journal", "file",
	"fim", "logins", NULL };
static const char *const file_format_names[] = { "syslog", "dpkg", NULL };
static const char *const audit_mode_names[] = { "multicast", "unicast", NULL };
static const char *const audit_bp_names[] = { "drop", "block", NULL };
static const char *const audit_failure_names[] = { "silent", "printk", "panic", NULL };
static const char *const source_start_names[] = { "end", "beginning", NULL };
static const char *const sse_names[] = { "none", "AES256", "aws:kms", NULL };
static const char *const backoff_names[] = { "linear", "arithmetic", "geometric", "exponential",
	NULL };

static const struct cp_enum enum_fsync = { "fsync policy", fsync_names };
static const struct cp_enum enum_access = { "access level", access_names };
static const struct cp_enum enum_bucket_type = { "bucket type", bucket_type_names };
static const struct cp_enum enum_source_type = { "source type", source_type_names };
static const struct cp_enum enum_source_start = { "start position", source_start_names };
static const struct cp_enum enum_audit_mode = { "audit mode", audit_mode_names };
static const struct cp_enum enum_file_format = { "file format", file_format_names };
static const struct cp_enum enum_audit_bp = { "backpressure policy", audit_bp_names };
static const struct cp_enum enum_audit_failure = { "audit failure mode", audit_failure_names };
static const struct cp_enum enum_sse = { "server-side encryption", sse_names };
static const struct cp_enum enum_backoff = { "backoff function", backoff_names };

_Static_assert(HT_FSYNC_INTERVAL == 1 && HT_ACCESS_READ == 1 && HT_BUCKET_S3 == 1 &&
    HT_SOURCE_AUDITLOG == 1 && HT_SOURCE_AUDIT == 2 && HT_SOURCE_START_BEGINNING == 1 &&
    HT_AUDIT_UNICAST == 1 && HT_AUDIT_BP_BLOCK == 1 && HT_AUDIT_FAILURE_PANIC == 2 &&
    HT_SOURCE_LOGINS == 6 && HT_FILE_DPKG == 1 &&
    HT_SSE_KMS == 2 &&
    HT_CONF_BACKOFF_EXPONENTIAL == 3,
    "enum order must match the name tables");
_Static_assert(sizeof(enum ht_fsync_policy) == sizeof(uint32_t), "enums are stored as 32 bits");

/* ---- items ---- */

#define MEMBER(type, m) .off = offsetof(type, m), .size = sizeof(((type *)0)->m)
#define KIB 1024ULL
#define MIB (1024ULL * 1024)

static int
check_unique_key(struct cp *cp, yaml_node_t *node, const struct ht_conf_credential *c, size_t idx)
{
	for (size_t j = 0; j < idx; j++)
		if (strcmp(c[j].access_key_id, c[idx].access_key_id) == 0)
			return cp_err_key(cp, node, "access_key_id", "duplicate access key ID %s",
			    cp_q(cp, c[idx].access_key_id));
	return 0;
}

static const struct cp_field credential_fields[] = {
	{ "access_key_id", cp_str, MEMBER(struct ht_conf_credential, access_key_id),
	    .arg = &chk_access_key, .required = true },
	{ "secret_file", cp_str, MEMBER(struct ht_conf_credential, secret_file), .arg = &chk_path,
	    .required = true },
	{ "access", cp_enumv, MEMBER(struct ht_conf_credential, access), .arg = &enum_access },
	{ .key = NULL },
};

static int
credential_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	struct ht_conf_credential *c = items;
	int r;

	r = cp_map(cp, node, credential_fields, &c[idx]);
	if (r == 0)
		r = check_unique_key(cp, node, c, idx);
	return r;
}

/* lo_key's value must not exceed hi_key's (both durations, defaults
 * included).  The error points at whichever of the two the file sets,
 * preferring hi_key. */
static int
check_order(struct cp *cp, yaml_node_t *map, const char *lo_key, uint64_t lo, const char *hi_key,
    uint64_t hi)
{
	char a[32], b[32];

	if (lo <= hi)
		return 0;
	fmt_ms(lo, a, sizeof(a));
	fmt_ms(hi, b, sizeof(b));
	if (cp_find(cp, map, hi_key) != NULL || cp_find(cp, map, lo_key) == NULL)
		return cp_err_key(cp, map, hi_key, "%s is less than %s (%s)", b, lo_key, a);
	return cp_err_key(cp, map, lo_key, "%s is more than %s (%s)", a, hi_key, b);
}

/* ---- topics ---- */

#define POLICY(m) MEMBER(struct ht_conf_delivery_policy, m)

/* SNS's healthyRetryPolicy limits (HTTP/S): at most 100 retries, delays
 * from 1 s to 3600 s; a duration here may also be finer than a second. */
static const struct cp_field delivery_policy_fields[] = {
	{ "num_retries", cp_uint, POLICY(num_retries), .min = 0, .max = 100 },
	{ "num_no_delay_retries", cp_uint, POLICY(num_no_delay_retries), .min = 0, .max = 100 },
	{ "num_min_delay_retries", cp_uint, POLICY(num_min_delay_retries), .min = 0,
	    .max = 100 },
	{ "num_max_delay_retries", cp_uint, POLICY(num_max_delay_retries), .min = 0,
	    .max = 100 },
	{ "min_delay", cp_duration, POLICY(min_delay_ms), .min = 1, .max = 3600 * 1000 },
	{ "max_delay", cp_duration, POLICY(max_delay_ms), .min = 1, .max = 3600 * 1000 },
	{ "backoff", cp_enumv, POLICY(backoff), .arg = &enum_backoff },
	{ .key = NULL },
};

/* SNS's default policy: 3 retries, 20 s apart. */
static void
delivery_policy_defaults(struct ht_conf_delivery_policy *p)
{
	p->num_retries = 3;
	p->num_no_delay_retries = 0;
	p->num_min_delay_retries = 0;
	p->num_max_delay_retries = 0;
	p->min_delay_ms = 20 * 1000;
	p->max_delay_ms = 20 * 1000;
	p->backoff = HT_CONF_BACKOFF_LINEAR;
}

/* The phases are part of num_retries, so they cannot add up to more. */
static int
cp_delivery_policy(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	struct ht_conf_delivery_policy *p = (void *)((char *)base + f->off);
	unsigned phases;
	int r;

	r = cp_map(cp, n, delivery_policy_fields, p);
	if (r < 0)
		return r;
	phases = p->num_no_delay_retries + p->num_min_delay_retries + p->num_max_delay_retries;
	if (phases > p->num_retries)
		return cp_err_key(cp, n, "num_retries", "%u is less than num_no_delay_retries + "
		    "num_min_delay_retries + num_max_delay_retries (%u)", p->num_retries, phases);
	return check_order(cp, n, "min_delay", p->min_delay_ms, "max_delay", p->max_delay_ms);
}

static const struct cp_field subscription_fields[] = {
	{ "url", cp_str, MEMBER(struct ht_conf_subscription, url), .arg = &chk_url,
	    .required = true },
	{ "delivery_policy", cp_delivery_policy,
	    MEMBER(struct ht_conf_subscription, delivery_policy) },
	{ .key = NULL },
};

static int
subscription_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	struct ht_conf_subscription *s = (struct ht_conf_subscription *)items + idx;

	delivery_policy_defaults(&s->delivery_policy);
	return cp_map(cp, node, subscription_fields, s);
}

static const struct cp_items subscription_items = { sizeof(struct ht_conf_subscription),
	subscription_item, 0, NULL };

#define TOPIC(m) MEMBER(struct ht_conf_topic, m)

static const struct cp_field topic_fields[] = {
	{ "subscriptions", cp_list, TOPIC(subscriptions),
	    .noff = offsetof(struct ht_conf_topic, n_subscriptions), .arg = &subscription_items },
	{ "signing_key_file", cp_str, TOPIC(signing_key_file), .arg = &chk_file },
	{ "signing_cert_url", cp_str, TOPIC(signing_cert_url), .arg = &chk_cert_url },
	{ "signature_version", cp_uint, TOPIC(signature_version), .min = 1, .max = 2 },
	{ "ca_file", cp_str, TOPIC(ca_file), .arg = &chk_file },
	{ "timeout", cp_duration, TOPIC(timeout_ms), .min = 1000, .max = 5 * 60 * 1000 },
	{ .key = NULL },
};

/* Every notification is signed (SNS's Signature), so a topic that sends
 * any needs the key and the URL receivers fetch the certificate from. */
static int
check_topic_signing(struct cp *cp, yaml_node_t *node, const struct ht_conf_topic *t)
{
	if (t->signing_key_file == NULL && t->n_subscriptions > 0)
		return cp_err_key(cp, node, "signing_key_file", "required key is missing: topic %s "
		    "has subscriptions, and every notification is signed", cp_q(cp, t->name));
	if (t->signing_key_file != NULL && t->signing_cert_url == NULL)
		return cp_err_key(cp, node, "signing_cert_url",
		    "required key is missing: it goes with signing_key_file");
	if (t->signing_cert_url != NULL && t->signing_key_file == NULL)
		return cp_err_key(cp, node, "signing_cert_url", "needs signing_key_file");
	return 0;
}

static int
topic_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	struct ht_conf_topic *t = (struct ht_conf_topic *)items + idx;
	int r;

	t->signature_version = 2;
	t->timeout_ms = 15 * 1000;	/* SNS's HTTP/S delivery timeout */
	r = cp_map(cp, node, topic_fields, t);
	if (r == 0)
		r = check_topic_signing(cp, node, t);
	return r;
}

/* ---- buckets ---- */

#define S3CRED(m) MEMBER(struct ht_conf_s3_credentials, m)

static const struct cp_field s3_credentials_fields[] = {
	{ "access_key_id", cp_str, S3CRED(access_key_id), .arg = &chk_s3_access_key },
	{ "secret_file", cp_str, S3CRED(secret_file), .arg = &chk_file },
	{ "session_token_file", cp_str, S3CRED(session_token_file), .arg = &chk_file },
	{ "profile", cp_str, S3CRED(profile), .arg = &chk_profile },
	{ "shared_credentials_file", cp_str, S3CRED(shared_credentials_file), .arg = &chk_file },
	{ .key = NULL },
};

/* Keys come from exactly one place: given here (access_key_id with
 * secret_file, perhaps a session token), or a profile of the shared
 * credentials file, or (nothing set) the environment and [default]. */
static int
cp_s3_credentials(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	const struct ht_conf_s3_credentials *c = (void *)((char *)base + f->off);
	const char *given;
	int r;

	r = cp_map(cp, n, s3_credentials_fields, (char *)base + f->off);
	if (r < 0)
		return r;
	given = c->access_key_id != NULL ? "access_key_id" : c->secret_file != NULL ?
	    "secret_file" : c->session_token_file != NULL ? "session_token_file" : NULL;
	if (c->profile != NULL && given != NULL)
		return cp_err_key(cp, n, "profile", "cannot be combined with %s; take the keys "
		    "from a profile or give them here, not both", given);
	if (c->access_key_id != NULL && c->secret_file == NULL)
		return cp_err_key(cp, n, "access_key_id",
		    "needs secret_file (the file holding the secret access key)");
	if (c->secret_file != NULL && c->access_key_id == NULL)
		return cp_err_key(cp, n, "secret_file", "needs access_key_id");
	if (c->session_token_file != NULL && c->access_key_id == NULL)
		return cp_err_key(cp, n, "session_token_file",
		    "needs access_key_id and secret_file");
	if (c->shared_credentials_file != NULL && c->access_key_id != NULL)
		return cp_err_key(cp, n, "shared_credentials_file",
		    "is not read when access_key_id is given; remove one of them");
	return 0;
}

#define BUCKET(m) MEMBER(struct ht_conf_bucket, m)

/* "type" first, "path" second (the only spool key); every other key is
 * s3's (bucket_keys_fit_type relies on this order). */
static const struct cp_field bucket_fields[] = {
	{ "type", cp_enumv, BUCKET(type), .arg = &enum_bucket_type, .required = true },
	{ "path", cp_str, BUCKET(path), .arg = &chk_path },
	{ "bucket", cp_str, BUCKET(bucket), .arg = &chk_bucket },
	{ "endpoint", cp_str, BUCKET(endpoint), .arg = &chk_endpoint },
	{ "region", cp_str, BUCKET(region), .arg = &chk_region },
	{ "path_style", cp_bool, BUCKET(path_style) },
	{ "ca_file", cp_str, BUCKET(ca_file), .arg = &chk_file },
	{ "server_side_encryption", cp_enumv, BUCKET(server_side_encryption), .arg = &enum_sse },
	{ "storage_class", cp_str, BUCKET(storage_class), .arg = &chk_storage_class },
	{ "resolve_to", cp_str, BUCKET(resolve_to), .arg = &chk_ip },
	{ "timeout", cp_duration, BUCKET(timeout_ms), .min = 1000, .max = 3600 * 1000 },
	{ "concurrency", cp_uint, BUCKET(concurrency), .min = 1, .max = 64 },
	{ "credentials", cp_s3_credentials, BUCKET(credentials) },
	{ .key = NULL },
};

/* A key of the other type is refused by name before any value is parsed:
 * "endpoint is only for type: s3" says more than a range error in it.  An
 * unknown or missing type is left for cp_map to report. */
static int
bucket_keys_fit_type(struct cp *cp, yaml_node_t *node)
{
	yaml_node_t *type = cp_find(cp, node, "type"), *k;
	const char *key;
	yaml_node_pair_t *p;
	bool s3;
	size_t old;
	int r;

	if (type == NULL || type->type != YAML_SCALAR_NODE)
		return 0;
	if (strcmp((const char *)type->data.scalar.value, "s3") == 0)
		s3 = true;
	else if (strcmp((const char *)type->data.scalar.value, "spool") == 0)
		s3 = false;
	else
		return 0;
	for (p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(cp->doc, p->key);
		if (k == NULL || k->type != YAML_SCALAR_NODE)
			continue;
		key = (const char *)k->data.scalar.value;
		for (size_t i = 1; bucket_fields[i].key != NULL; i++) {
			if (strcmp(bucket_fields[i].key, key) != 0 || s3 != (i == 1))
				continue;
			old = path_key(cp, key);
			r = cp_err(cp, k, "%s is only for type: %s", key, s3 ? "spool" : "s3");
			path_pop(cp, old);
			return r;
		}
	}
	return 0;
}

static int
bucket_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	struct ht_conf_bucket *b = (struct ht_conf_bucket *)items + idx;
	int r;

	b->timeout_ms = 5 * 60 * 1000;
	b->concurrency = 4;
	b->server_side_encryption = HT_SSE_NONE;
	b->path_style = false;
	r = bucket_keys_fit_type(cp, node);
	if (r == 0)
		r = cp_map(cp, node, bucket_fields, b);
	if (r < 0)
		return r;
	if (b->type == HT_BUCKET_SPOOL && b->path == NULL)
		return cp_err_key(cp, node, "path", "required key is missing for type: spool");
	/* The map key is already a valid bucket name (cp_named checked it). */
	if (b->type == HT_BUCKET_S3 && b->bucket == NULL && (b->bucket = strdup(b->name)) == NULL)
		return -ENOMEM;
	return 0;
}

/* ---- sources ---- */

static int
channel_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	static const struct cp_field f = { "channel", cp_str, 0, .arg = &chk_channel };
	char **ch = items;
	int r;

	r = cp_str(cp, node, &ch[idx], &f);
	for (size_t j = 0; r == 0 && j < idx; j++)
		if (strcmp(ch[j], ch[idx]) == 0)
			r = cp_err(cp, node, "duplicate channel name %s", cp_q(cp, ch[idx]));
	return r;
}

static const struct cp_items channel_items = { sizeof(char *), channel_item, 0, NULL };

/* Item idx of a list of strings, checked by check; unique: no repeats. */
static int
str_item(struct cp *cp, yaml_node_t *node, char **items, size_t idx,
    const struct cp_check *check, bool unique)
{
	const struct cp_field f = { "item", cp_str, 0, .arg = check };
	int r;

	r = cp_str(cp, node, &items[idx], &f);
	for (size_t j = 0; r == 0 && unique && j < idx; j++)
		if (strcmp(items[j], items[idx]) == 0)
			r = cp_err(cp, node, "%s is listed twice", cp_q(cp, items[idx]));
	return r;
}

/* One rule in auditctl's syntax; compiled (and checked) by the source. */
static int
audit_rule_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	return str_item(cp, node, items, idx, &chk_rule, false);
}

static int
match_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	return str_item(cp, node, items, idx, &chk_match, false);
}

static int
watch_path_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	return str_item(cp, node, items, idx, &chk_abs_path, true);
}

static int
pattern_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	return str_item(cp, node, items, idx, &chk_pattern, false);
}

static const struct cp_items audit_rule_items = { sizeof(char *), audit_rule_item, 0, NULL };
static const struct cp_items match_items = { sizeof(char *), match_item, 0, NULL };
static const struct cp_items watch_path_items = { sizeof(char *), watch_path_item, 0, NULL };
static const struct cp_items pattern_items = { sizeof(char *), pattern_item, 0, NULL };

#define SOURCE(m) MEMBER(struct ht_conf_source, m)

/* "type" first; every other key belongs to the source types in
 * source_key_types at the same index (source_keys_fit_type). */
static const struct cp_field source_fields[] = {
	{ "type", cp_enumv, SOURCE(type), .arg = &enum_source_type, .required = true },
	{ "channels", cp_list, SOURCE(channels),
	    .noff = offsetof(struct ht_conf_source, n_channels), .arg = &channel_items },
	{ "path", cp_str, SOURCE(path), .arg = &chk_log_file },
	{ "checkpoint", cp_str, SOURCE(checkpoint), .arg = &chk_file },
	/* auditd's own timeout is 2 s; below 100 ms events of a busy system
	 * would be cut, past a minute a lost EOE holds an event too long */
	{ "eoe_timeout", cp_duration, SOURCE(eoe_timeout_ms), .min = 100, .max = 60 * 1000 },
	{ "max_event_records", cp_uint, SOURCE(max_event_records), .min = 8, .max = 65536 },
	{ "start", cp_enumv, SOURCE(start), .arg = &enum_source_start },
	{ "mode", cp_enumv, SOURCE(mode), .arg = &enum_audit_mode },
	/* the kernel drops what does not fit (ENOBUFS); SO_RCVBUFFORCE
	 * takes up to what memory allows */
	{ "socket_buffer", cp_size, SOURCE(socket_buffer), .min = 64 * KIB, .max = 1024 * MIB },
	{ "backpressure", cp_enumv, SOURCE(backpressure), .arg = &enum_audit_bp },
	{ "queue_max", cp_uint, SOURCE(queue_max), .min = 100, .max = 10000000 },
	{ "loss_report_interval", cp_duration, SOURCE(loss_report_interval_ms), .min = 1000,
	    .max = 24 * 3600 * 1000 },
	{ "status_interval", cp_duration, SOURCE(status_interval_ms), .min = 100,
	    .max = 3600 * 1000 },
	/* the kernel's own bounds: backlog_limit any u32, rate_limit msgs/s */
	{ "backlog_limit", cp_uint, SOURCE(backlog_limit), .min = 1, .max = UINT32_MAX },
	{ "rate_limit", cp_uint, SOURCE(rate_limit), .min = 0, .max = UINT32_MAX },
	{ "failure", cp_enumv, SOURCE(failure), .arg = &enum_audit_failure },
	{ "rules", cp_list, SOURCE(rules), .noff = offsetof(struct ht_conf_source, n_rules),
	    .arg = &audit_rule_items },
	{ "rules_file", cp_str, SOURCE(rules_file), .arg = &chk_log_file },
	{ "state_file", cp_str, SOURCE(state_file), .arg = &chk_file },
	{ "matches", cp_list, SOURCE(matches), .noff = offsetof(struct ht_conf_source, n_matches),
	    .arg = &match_items },
	{ "directory", cp_str, SOURCE(directory), .arg = &chk_abs_path },
	{ "format", cp_enumv, SOURCE(format), .arg = &enum_file_format },
	{ "paths", cp_list, SOURCE(paths), .noff = offsetof(struct ht_conf_source, n_paths),
	    .arg = &watch_path_items },
	{ "exclude", cp_list, SOURCE(exclude), .noff = offsetof(struct ht_conf_source, n_exclude),
	    .arg = &pattern_items },
	{ "hash_max", cp_size, SOURCE(hash_max), .min = 0, .max = 1024 * MIB },
	{ "wtmp", cp_str, SOURCE(wtmp), .arg = &chk_log_file },
	{ "btmp", cp_str, SOURCE(btmp), .arg = &chk_log_file },
	{ .key = NULL },
};

#define T_INGEST (1u << HT_SOURCE_INGEST)
#define T_AUDITLOG (1u << HT_SOURCE_AUDITLOG)
#define T_AUDIT (1u << HT_SOURCE_AUDIT)
#define T_JOURNAL (1u << HT_SOURCE_JOURNAL)
#define T_FILE (1u << HT_SOURCE_FILE)
#define T_FIM (1u << HT_SOURCE_FIM)
#define T_LOGINS (1u << HT_SOURCE_LOGINS)
#define T_POSITIONED (T_AUDITLOG | T_FILE | T_JOURNAL | T_LOGINS)	/* checkpoint, start */

static const unsigned source_key_types[] = { T_INGEST, T_INGEST, T_AUDITLOG | T_FILE,
	T_POSITIONED, T_AUDITLOG | T_AUDIT, T_AUDITLOG | T_AUDIT, T_POSITIONED, T_AUDIT, T_AUDIT,
	T_AUDIT, T_AUDIT, T_AUDIT, T_AUDIT, T_AUDIT, T_AUDIT, T_AUDIT, T_AUDIT, T_AUDIT, T_AUDIT,
	T_JOURNAL, T_JOURNAL, T_FILE, T_FIM, T_FIM, T_FIM, T_LOGINS, T_LOGINS };

_Static_assert(sizeof(source_key_types) / sizeof(source_key_types[0]) ==
    sizeof(source_fields) / sizeof(source_fields[0]) - 1, "types for every source key");

/* The keys of type: audit that only mode: unicast uses (it alone changes
 * the kernel's audit settings). */
static const char *const audit_unicast_keys[] = { "backlog_limit", "rate_limit", "failure",
	"rules", "rules_file", "state_file", NULL };

/* "auditlog or audit": the type names in mask. */
static const char *
source_types_text(unsigned mask, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t t = 0; source_type_names[t] != NULL; t++)
		if (mask & (1u << t))
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s",
			    n > 0 ? " or " : "", source_type_names[t]);
	return buf;
}

/* A key of another source type is refused by name before any value is
 * parsed ("channels is only for type: ingest").  An unknown or missing type
 * is left for cp_map to report. */
static int
source_keys_fit_type(struct cp *cp, yaml_node_t *node)
{
	char types[64], keys[512];
	yaml_node_t *type = cp_find(cp, node, "type"), *k;
	yaml_node_pair_t *p;
	const char *key;
	size_t t, old, i, n;
	int r;

	if (type == NULL || type->type != YAML_SCALAR_NODE || node->type != YAML_MAPPING_NODE)
		return 0;
	for (t = 0; source_type_names[t] != NULL; t++)
		if (strcmp((const char *)type->data.scalar.value, source_type_names[t]) == 0)
			break;
	if (source_type_names[t] == NULL)
		return 0;
	for (p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(cp->doc, p->key);
		if (k == NULL || k->type != YAML_SCALAR_NODE)
			continue;
		key = (const char *)k->data.scalar.value;
		for (i = 0; source_fields[i].key != NULL; i++)
			if (strcmp(source_fields[i].key, key) == 0)
				break;
		if (i == 0 || (source_fields[i].key != NULL && (source_key_types[i] & (1u << t))))
			continue;
		old = path_key(cp, key);
		if (source_fields[i].key != NULL) {
			r = cp_err(cp, k, "%s is only for type: %s", key,
			    source_types_text(source_key_types[i], types, sizeof(types)));
		} else {
			/* unknown: name this type's keys only */
			n = (size_t)snprintf(keys, sizeof(keys), "type");
			for (i = 1; source_fields[i].key != NULL; i++)
				if (source_key_types[i] & (1u << t))
					n += (size_t)snprintf(keys + n, n < sizeof(keys) ?
					    sizeof(keys) - n : 0, ", %s", source_fields[i].key);
			r = cp_err(cp, k, "unknown key %s; expected one of: %s", cp_q(cp, key),
			    keys);
		}
		path_pop(cp, old);
		return r;
	}
	return 0;
}

static int
source_channels_default(struct cp *cp, yaml_node_t *node, struct ht_conf_source *s)
{
	if (s->n_channels > 0)
		return 0;
	if (cp_find(cp, node, "channels") != NULL)
		return cp_err_key(cp, node, "channels", "at least one channel is required");
	s->channels = calloc(1, sizeof(char *));
	if (s->channels == NULL || (s->channels[0] = strdup("default")) == NULL)
		return -ENOMEM;
	s->n_channels = 1;
	return 0;
}

/* sources/auditlog-BASENAME-HASH.checkpoint: the name says which log it
 * follows, the hash (FNV-1a of the whole path) keeps two logs with the same
 * base name apart. */
static int
checkpoint_default(struct ht_conf_source *s, const char *type)
{
	static const char keep[] = LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-";
	const char *base = strrchr(s->path, '/') + 1;
	uint32_t h = ht_fnv1a32_str(s->path);
	char name[64];
	size_t n = 0;

	for (; base[n] != '\0' && n < sizeof(name) - 1; n++)
		name[n] = strchr(keep, base[n]) ? base[n] : '_';
	name[n] = '\0';
	if (asprintf(&s->checkpoint, "sources/%s-%s-%08x.checkpoint", type, name, h) < 0) {
		s->checkpoint = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* FNV-1a of a journal source's directory and matches. */
static uint32_t
journal_hash(const struct ht_conf_source *a)
{
	uint32_t h = 2166136261u;
	const char *dir = a->directory ? a->directory : "(system)";

	for (size_t i = 0; i <= a->n_matches; i++) {
		for (const char *c = i == 0 ? dir : a->matches[i - 1]; *c != '\0'; c++)
			h = (h ^ (unsigned char)*c) * 16777619u;
		h = (h ^ '\n') * 16777619u;
	}
	return h;
}

/* Two sources reading one log would deliver it twice; two sharing a
 * checkpoint would overwrite each other's position.  Sources with a path
 * (auditlog, file) have a checkpoint named after it. */
static int
positioned_check(struct cp *cp, yaml_node_t *node, struct ht_conf_source *s, size_t idx)
{
	struct ht_conf_source *a = &s[idx];

	switch (a->type) {
	case HT_SOURCE_AUDITLOG:
		if (a->path == NULL && (a->path = strdup(HT_AUDITLOG_DEFAULT_PATH)) == NULL)
			return -ENOMEM;
		if (a->checkpoint == NULL && checkpoint_default(a, "auditlog") < 0)
			return -ENOMEM;
		break;
	case HT_SOURCE_FILE:
		if (a->path == NULL)
			return cp_err(cp, node, "path is required for type: file");
		if (a->checkpoint == NULL && checkpoint_default(a, "file") < 0)
			return -ENOMEM;
		if (cp_find(cp, node, "format") == NULL)
			a->format = strncmp(strrchr(a->path, '/') + 1, "dpkg.log", 8) == 0 ?
			    HT_FILE_DPKG : HT_FILE_SYSLOG;
		break;
	case HT_SOURCE_JOURNAL:
		/* named after what it reads: reordering sources keeps cursors */
		if (a->checkpoint == NULL && asprintf(&a->checkpoint, "sources/journal-%08x.cursor",
		    journal_hash(a)) < 0) {
			a->checkpoint = NULL;
			return -ENOMEM;
		}
		break;
	default:	/* logins */
		if ((a->wtmp == NULL && (a->wtmp = strdup(HT_WTMP_DEFAULT_PATH)) == NULL) ||
		    (a->btmp == NULL && (a->btmp = strdup(HT_BTMP_DEFAULT_PATH)) == NULL) ||
		    (a->checkpoint == NULL &&
		    (a->checkpoint = strdup("sources/logins.checkpoint")) == NULL))
			return -ENOMEM;
		for (size_t j = 0; j < idx; j++)
			if (s[j].type == HT_SOURCE_LOGINS)
				return cp_err_key(cp, node, "type", "only one source of type "
				    "logins is allowed (sources[%zu] is one)", j);
		break;
	}
	for (size_t j = 0; j < idx; j++) {
		if (s[j].path != NULL && a->path != NULL && strcmp(s[j].path, a->path) == 0)
			return cp_err_key(cp, node, "path", "%s is already read by sources[%zu]",
			    cp_q(cp, a->path), j);
		if (s[j].checkpoint != NULL && strcmp(s[j].checkpoint, a->checkpoint) == 0)
			return cp_err_key(cp, node, "checkpoint", "%s is also the checkpoint of "
			    "sources[%zu]", cp_q(cp, a->checkpoint), j);
	}
	return 0;
}

static int
fim_check(struct cp *cp, yaml_node_t *node, struct ht_conf_source *a)
{
	if (a->n_paths == 0)
		return cp_err(cp, node, "paths is required for type: fim (the files and "
		    "directories to watch)");
	if (cp_find(cp, node, "hash_max") == NULL)
		a->hash_max = 16 * MIB;
	return 0;
}

/* Defaults of type: audit; one kernel, so one audit source. */
static int
audit_check(struct cp *cp, yaml_node_t *node, struct ht_conf_source *s, size_t idx)
{
	struct ht_conf_source *a = &s[idx];

	for (size_t j = 0; j < idx; j++)
		if (s[j].type == HT_SOURCE_AUDIT)
			return cp_err_key(cp, node, "type", "only one source of type audit is "
			    "allowed (sources[%zu] is one)", j);
	if (a->mode == HT_AUDIT_MULTICAST)
		for (size_t i = 0; audit_unicast_keys[i] != NULL; i++)
			if (cp_find(cp, node, audit_unicast_keys[i]) != NULL)
				return cp_err_key(cp, node, audit_unicast_keys[i], "%s is only for "
				    "mode: unicast (a multicast listener changes no kernel "
				    "setting)", audit_unicast_keys[i]);
	if (cp_find(cp, node, "socket_buffer") == NULL)
		a->socket_buffer = 8 * MIB;
	if (cp_find(cp, node, "queue_max") == NULL)
		a->queue_max = 100000;
	if (cp_find(cp, node, "loss_report_interval") == NULL)
		a->loss_report_interval_ms = 60 * 1000;
	if (cp_find(cp, node, "status_interval") == NULL)
		a->status_interval_ms = 5000;
	if (cp_find(cp, node, "backlog_limit") == NULL)
		a->backlog_limit = 8192;
	if (cp_find(cp, node, "failure") == NULL)
		a->failure = HT_AUDIT_FAILURE_PRINTK;
	if (a->state_file == NULL &&
	    (a->state_file = strdup("sources/audit-kernel-state.json")) == NULL)
		return -ENOMEM;
	return 0;
}

static int
source_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	struct ht_conf_source *s = items;
	int r;

	if (idx >= HT_MAX_SOURCES)
		return cp_err(cp, node, "at most %d sources", HT_MAX_SOURCES);
	r = source_keys_fit_type(cp, node);
	if (r == 0)
		r = cp_map(cp, node, source_fields, &s[idx]);
	if (r < 0)
		return r;
	if (s[idx].type == HT_SOURCE_AUDITLOG || s[idx].type == HT_SOURCE_AUDIT) {
		if (cp_find(cp, node, "eoe_timeout") == NULL)
			s[idx].eoe_timeout_ms = 2000;
		if (cp_find(cp, node, "max_event_records") == NULL)
			s[idx].max_event_records = 256;
	}
	switch (s[idx].type) {
	case HT_SOURCE_AUDIT:
		return audit_check(cp, node, s, idx);
	case HT_SOURCE_FIM:
		return fim_check(cp, node, &s[idx]);
	case HT_SOURCE_AUDITLOG:
	case HT_SOURCE_FILE:
	case HT_SOURCE_JOURNAL:
	case HT_SOURCE_LOGINS:
		return positioned_check(cp, node, s, idx);
	case HT_SOURCE_INGEST:
		break;
	}
	/* One ingest endpoint serves every channel; two would fight over it. */
	for (size_t j = 0; j < idx; j++)
		if (s[j].type == HT_SOURCE_INGEST && s[idx].type == HT_SOURCE_INGEST)
			return cp_err_key(cp, node, "type",
			    "only one source of type ingest is allowed (sources[%zu] is one); "
			    "list all channels there", j);
	return source_channels_default(cp, node, &s[idx]);
}

/* CloudTrail itself delivers about every 5 minutes and caps a file at 50 MB
 * compressed; 100MiB of JSON stays well inside that. */
static const struct cp_field delivery_fields[] = {
	{ "interval", cp_duration, MEMBER(struct ht_conf_delivery, interval_ms), .min = 1000,
	    .max = 3600 * 1000 },
	{ "max_events", cp_uint, MEMBER(struct ht_conf_delivery, max_events), .min = 1,
	    .max = 1000000 },
	{ "max_bytes", cp_size, MEMBER(struct ht_conf_delivery, max_bytes), .min = KIB,
	    .max = 100 * MIB },
	{ "retry_min", cp_duration, MEMBER(struct ht_conf_delivery, retry_min_ms), .min = 100,
	    .max = 3600 * 1000 },
	{ "retry_max", cp_duration, MEMBER(struct ht_conf_delivery, retry_max_ms), .min = 1000,
	    .max = 24 * 3600 * 1000 },
	{ .key = NULL },
};

/* The backoff grows from retry_min up to retry_max, so they must be in order. */
static int
cp_delivery(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	const struct ht_conf_delivery *d = (void *)((char *)base + f->off);
	int r;

	r = cp_map(cp, n, delivery_fields, (char *)base + f->off);
	if (r == 0)
		r = check_order(cp, n, "retry_min", d->retry_min_ms, "retry_max", d->retry_max_ms);
	return r;
}

#define OUTBOX_MAX_DEFAULT 10000
#define OUTBOX_MAX_FIELD(type) { "outbox_max", cp_uint, MEMBER(type, outbox_max), .min = 1, \
	.max = 10000000 }

/* The defaults of a trail's delivery settings, for trails in the file and
 * for trail_defaults alike. */
static void
delivery_defaults(struct ht_conf_delivery *d, uint64_t *outbox_max)
{
	d->interval_ms = 5 * 60 * 1000;
	d->max_events = 10000;
	d->max_bytes = 50 * MIB;
	d->retry_min_ms = 1000;
	d->retry_max_ms = 5 * 60 * 1000;
	*outbox_max = OUTBOX_MAX_DEFAULT;
}

#define TRAIL_BOOL(k) { #k, cp_bool, MEMBER(struct ht_conf_trail, k) }

/* "read_write_type" -> "ReadWriteType"; a key already in CloudTrail's
 * spelling (ReadWriteType) stays as it is. */
static char *
cloudtrail_key(const char *k)
{
	char *out = malloc(strlen(k) + 1), *o = out;
	bool up = true;

	if (out == NULL)
		return NULL;
	for (; *k != '\0'; k++) {
		if (*k == '_') {
			up = true;
			continue;
		}
		*o++ = up && *k >= 'a' && *k <= 'z' ? (char)(*k - 'a' + 'A') : *k;
		up = false;
	}
	*o = '\0';
	return out;
}

/* The YAML value n as JSON: mappings with CloudTrail's key names, plain
 * true/false as booleans, every other scalar a string (selectors hold
 * nothing else).  NULL with an error reported, or on ENOMEM (*oom). */
static struct json_object *
yaml_to_json(struct cp *cp, yaml_node_t *n, bool *oom)
{
	struct json_object *o = NULL, *v;
	yaml_node_t *k, *child;

	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)n->data.scalar.value;
		bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		if (plain && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
			o = json_object_new_boolean(s[0] == 't');
		else
			o = json_object_new_string(s);
		break;
	}
	case YAML_SEQUENCE_NODE:
		o = json_object_new_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		    o != NULL && i < n->data.sequence.items.top; i++) {
			if (cp_node(cp, *i, &child) < 0 || (v = yaml_to_json(cp, child, oom)) == NULL) {
				json_object_put(o);
				return NULL;
			}
			json_object_array_add(o, v);
		}
		break;
	case YAML_MAPPING_NODE:
		o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		    o != NULL && p < n->data.mapping.pairs.top; p++) {
			char *key;

			k = NULL;
			if (cp_node(cp, p->key, &k) < 0 || cp_node(cp, p->value, &child) < 0 ||
			    k->type != YAML_SCALAR_NODE) {
				if (k != NULL && k->type != YAML_SCALAR_NODE)
					cp_err(cp, k, "a key must be a plain string");
				json_object_put(o);
				return NULL;
			}
			if ((v = yaml_to_json(cp, child, oom)) == NULL) {
				json_object_put(o);
				return NULL;
			}
			key = cloudtrail_key((const char *)k->data.scalar.value);
			if (key == NULL) {
				json_object_put(v);
				break;
			}
			json_object_object_add(o, key, v);
			free(key);
		}
		break;
	default:
		cp_err(cp, n, "unexpected YAML node");
		return NULL;
	}
	if (o == NULL)
		*oom = true;
	return o;
}

/* arg: the request member, "EventSelectors" or "AdvancedEventSelectors".
 * The list is stored as PutEventSelectors' request; what it says is
 * checked by the daemon, which knows the selector rules. */
static int
cp_selectors(struct cp *cp, yaml_node_t *n, void *base, const struct cp_field *f)
{
	char **dst = (char **)((char *)base + f->off);
	struct json_object *req, *list;
	bool oom = false;
	const char *text;

	if (*dst != NULL)
		return cp_err(cp, n, "use event_selectors or advanced_event_selectors, not both "
		    "(as PutEventSelectors)");
	if (n->type != YAML_SEQUENCE_NODE)
		return cp_err(cp, n, "expected a list of selectors, found %s", kind(n));
	if ((list = yaml_to_json(cp, n, &oom)) == NULL)
		return oom ? -ENOMEM : -EINVAL;
	req = json_object_new_object();
	if (req == NULL) {
		json_object_put(list);
		return -ENOMEM;
	}
	json_object_object_add(req, (const char *)f->arg, list);
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	*dst = text ? strdup(text) : NULL;
	json_object_put(req);
	return *dst ? 0 : -ENOMEM;
}

static const struct cp_field trail_fields[] = {
	{ "name", cp_str, MEMBER(struct ht_conf_trail, name), .arg = &chk_trail,
	    .required = true },
	{ "s3_bucket_name", cp_str, MEMBER(struct ht_conf_trail, s3_bucket_name),
	    .arg = &chk_name, .required = true },
	{ "s3_key_prefix", cp_str, MEMBER(struct ht_conf_trail, s3_key_prefix),
	    .arg = &chk_prefix },
	{ "sns_topic_name", cp_str, MEMBER(struct ht_conf_trail, sns_topic_name),
	    .arg = &chk_name },
	TRAIL_BOOL(is_multi_region_trail),
	TRAIL_BOOL(include_global_service_events),
	TRAIL_BOOL(enable_log_file_validation),
	TRAIL_BOOL(is_organization_trail),
	TRAIL_BOOL(start_logging),
	{ "kms_key_id", cp_str, MEMBER(struct ht_conf_trail, kms_key_id), .arg = &chk_kms_key },
	OUTBOX_MAX_FIELD(struct ht_conf_trail),
	{ "delivery", cp_delivery, MEMBER(struct ht_conf_trail, delivery) },
	{ "event_selectors", cp_selectors, MEMBER(struct ht_conf_trail, event_selectors),
	    .arg = "EventSelectors" },
	{ "advanced_event_selectors", cp_selectors, MEMBER(struct ht_conf_trail, event_selectors),
	    .arg = "AdvancedEventSelectors" },
	{ .key = NULL },
};

static void
trail_defaults(struct ht_conf_trail *t)
{
	t->include_global_service_events = true;
	t->start_logging = true;
	delivery_defaults(&t->delivery, &t->outbox_max);
}

static int
trail_item(struct cp *cp, yaml_node_t *node, void *items, size_t idx)
{
	struct ht_conf_trail *t = (struct ht_conf_trail *)items + idx;

	trail_defaults(t);
	return cp_map(cp, node, trail_fields, t);
}

/* ---- top level ---- */

/* The 10ms floor keeps fsync: interval a batching policy; per-write
 * durability is what fsync: always is for. */
static const struct cp_field history_fields[] = {
	{ "retention_days", cp_uint, MEMBER(struct ht_conf_history, retention_days), .min = 1,
	    .max = 3650 },
	{ "max_disk", cp_size, MEMBER(struct ht_conf_history, max_disk), .min = 0,
	    .max = UINT64_MAX },
	{ "fsync", cp_enumv, MEMBER(struct ht_conf_history, fsync), .arg = &enum_fsync },
	{ "fsync_interval", cp_duration, MEMBER(struct ht_conf_history, fsync_interval_ms),
	    .min = 10, .max = 3600 * 1000 },
	{ "lookup_data_events", cp_bool, MEMBER(struct ht_conf_history, lookup_data_events) },
	{ .key = NULL },
};

static const struct cp_items credential_items = { sizeof(struct ht_conf_credential),
	credential_item, 0, NULL };

/* Requests per second per access key on the TCP listener (CloudTrail's
 * quotas by default). */
static const struct cp_field rate_fields[] = {
	{ "lookup_events", cp_uint, MEMBER(struct ht_conf_rates, lookup_events), .min = 1,
	    .max = 100000 },
	{ "read", cp_uint, MEMBER(struct ht_conf_rates, read), .min = 1, .max = 100000 },
	{ "write", cp_uint, MEMBER(struct ht_conf_rates, write), .min = 1, .max = 100000 },
	{ .key = NULL },
};

static const struct cp_field api_fields[] = {
	{ "socket", cp_str, MEMBER(struct ht_conf_api, socket), .arg = &chk_path },
	{ "listen", cp_str, MEMBER(struct ht_conf_api, listen), .arg = &chk_listen },
	{ "credentials", cp_list, MEMBER(struct ht_conf_api, credentials),
	    .noff = offsetof(struct ht_conf_api, n_credentials), .arg = &credential_items },
	{ "rate_limits", cp_sub, MEMBER(struct ht_conf_api, rate_limits), .arg = rate_fields },
	{ .key = NULL },
};

static const struct cp_items bucket_items = { sizeof(struct ht_conf_bucket), bucket_item,
	offsetof(struct ht_conf_bucket, name), &chk_bucket };
static const struct cp_items topic_items = { sizeof(struct ht_conf_topic), topic_item,
	offsetof(struct ht_conf_topic, name), &chk_topic };
static const struct cp_items source_items = { sizeof(struct ht_conf_source), source_item, 0,
	NULL };
static const struct cp_items trail_items = { sizeof(struct ht_conf_trail), trail_item, 0,
	NULL };

/* trail_defaults: what trails created through the API get (the API has no
 * member for these). */
static const struct cp_field trail_defaults_fields[] = {
	{ "delivery", cp_delivery, MEMBER(struct ht_conf_trail_defaults, delivery) },
	OUTBOX_MAX_FIELD(struct ht_conf_trail_defaults),
	{ .key = NULL },
};

#define CONF_LIST(k, fn, items) { #k, fn, MEMBER(struct ht_conf, k), \
	.noff = offsetof(struct ht_conf, n_##k), .arg = &items }

static const struct cp_field root_fields[] = {
	{ "account_id", cp_str, MEMBER(struct ht_conf, account_id), .arg = &chk_account,
	    .required = true },
	{ "region", cp_str, MEMBER(struct ht_conf, region), .arg = &chk_region,
	    .required = true },
	{ "organization_id", cp_str, MEMBER(struct ht_conf, organization_id), .arg = &chk_org },
	{ "state_dir", cp_str, MEMBER(struct ht_conf, state_dir), .arg = &chk_state_dir },
	{ "history", cp_sub, MEMBER(struct ht_conf, history), .arg = history_fields },
	{ "api", cp_sub, MEMBER(struct ht_conf, api), .arg = api_fields },
	CONF_LIST(buckets, cp_named, bucket_items),
	CONF_LIST(topics, cp_named, topic_items),
	CONF_LIST(sources, cp_list, source_items),
	CONF_LIST(trails, cp_list, trail_items),
	{ "trail_defaults", cp_sub, MEMBER(struct ht_conf, trail_defaults),
	    .arg = trail_defaults_fields },
	{ .key = NULL },
};

static int
conf_defaults(struct ht_conf *c)
{
	c->history.retention_days = 90;
	c->history.max_disk = 0;
	c->history.fsync = HT_FSYNC_INTERVAL;
	c->history.fsync_interval_ms = 1000;
	delivery_defaults(&c->trail_defaults.delivery, &c->trail_defaults.outbox_max);
	c->state_dir = strdup("/var/lib/hosttrail");
	c->api.socket = strdup("api.sock");
	c->api.rate_limits.lookup_events = 2;
	c->api.rate_limits.read = 10;
	c->api.rate_limits.write = 1;
	if (c->state_dir == NULL || c->api.socket == NULL)
		return -ENOMEM;
	return 0;
}

/* ---- validation: rules across values ---- */

static int
validate_trail(struct cp *cp, yaml_node_t *node, size_t i)
{
	const struct ht_conf *c = cp->conf;
	const struct ht_conf_trail *t = &c->trails[i];
	const struct ht_conf_bucket *b;

	/* CloudTrail's own wording, so scripts that know it recognise it. */
	if (i >= HT_MAX_TRAILS_PER_REGION)
		return cp_err(cp, node, "MaximumNumberOfTrailsExceededException: User: %s already "
		    "has %d trails in %s.", c->account_id, HT_MAX_TRAILS_PER_REGION, c->region);
	for (size_t j = 0; j < i; j++)
		if (strcmp(c->trails[j].name, t->name) == 0)
			return cp_err_key(cp, node, "name", "duplicate trail name %s (also "
			    "trails[%zu].name)", cp_q(cp, t->name), j);
	if ((b = ht_conf_bucket(c, t->s3_bucket_name)) == NULL)
		return cp_err_key(cp, node, "s3_bucket_name",
		    "bucket %s is not defined in buckets:", cp_q(cp, t->s3_bucket_name));
	/* Only an aws:kms bucket uses the key; anywhere else it would be
	 * silently ignored. */
	if (t->kms_key_id != NULL && (b->type != HT_BUCKET_S3 ||
	    b->server_side_encryption != HT_SSE_KMS))
		return cp_err_key(cp, node, "kms_key_id", "bucket %s does not use "
		    "server_side_encryption: aws:kms, so it would not use the key",
		    cp_q(cp, t->s3_bucket_name));
	if (t->sns_topic_name != NULL && ht_conf_topic(c, t->sns_topic_name) == NULL)
		return cp_err_key(cp, node, "sns_topic_name", "topic %s is not defined in topics:",
		    cp_q(cp, t->sns_topic_name));
	if (t->is_organization_trail && c->organization_id == NULL)
		return cp_err_key(cp, node, "is_organization_trail",
		    "an organization trail needs organization_id to be set");
	return 0;
}

static int
cp_validate(struct cp *cp, yaml_node_t *root)
{
	yaml_node_t *seq = cp_find(cp, root, "trails");
	size_t old;
	int r = 0;

	for (size_t i = 0; r == 0 && i < cp->conf->n_trails; i++) {
		yaml_node_t *item = yaml_document_get_node(cp->doc,
		    seq->data.sequence.items.start[i]);

		old = path_push(cp, "trails[%zu]", i);
		r = validate_trail(cp, item, i);
		path_pop(cp, old);
	}
	return r;
}

/* Make *p absolute against the config file's directory (NULL, absolute:
 * left alone). */
static int
resolve_file(const struct cp *cp, char **p)
{
	char *s;

	if (*p == NULL || (*p)[0] == '/')
		return 0;
	if (asprintf(&s, "%s%s%s", cp->basedir, strcmp(cp->basedir, "/") == 0 ? "" : "/",
	    *p) < 0)
		return -ENOMEM;
	free(*p);
	*p = s;
	return 0;
}

/* Files named in the config are relative to the config file (conf.h), so a
 * config and its keys can move together; resolve them while the file's
 * location is known.  From a string (no file) they are kept as written. */
static int
resolve_files(struct cp *cp)
{
	struct ht_conf *c = cp->conf;
	int r = 0;

	if (cp->basedir == NULL)
		return 0;
	for (size_t i = 0; r == 0 && i < c->api.n_credentials; i++)
		r = resolve_file(cp, &c->api.credentials[i].secret_file);
	for (size_t i = 0; r == 0 && i < c->n_buckets; i++) {
		struct ht_conf_bucket *b = &c->buckets[i];
		char **files[] = { &b->ca_file, &b->credentials.secret_file,
			&b->credentials.session_token_file,
			&b->credentials.shared_credentials_file };

		for (size_t j = 0; r == 0 && j < sizeof(files) / sizeof(files[0]); j++)
			r = resolve_file(cp, files[j]);
	}
	for (size_t i = 0; r == 0 && i < c->n_topics; i++) {
		r = resolve_file(cp, &c->topics[i].signing_key_file);
		if (r == 0)
			r = resolve_file(cp, &c->topics[i].ca_file);
	}
	return r;
}

static int
conf_build(struct cp *cp, struct ht_conf **ret)
{
	yaml_node_t *root = yaml_document_get_root_node(cp->doc);
	struct ht_conf *conf;
	int r = -ENOMEM;

	if (root == NULL)
		return cp_err_mark(cp, &cp_top, "the configuration is empty");
	conf = calloc(1, sizeof(*conf));
	if (conf == NULL)
		return -ENOMEM;
	cp->conf = conf;
	cp->seen = calloc((size_t)(cp->doc->nodes.top - cp->doc->nodes.start), 1);
	if (cp->seen == NULL || (conf->path = strdup(cp->name)) == NULL)
		goto out;
	cp->seen[root - cp->doc->nodes.start] = 1;
	r = conf_defaults(conf);
	if (r == 0)
		r = cp_map(cp, root, root_fields, conf);
	if (r == 0)
		r = cp_validate(cp, root);
	if (r == 0)
		r = resolve_files(cp);
out:
	free(cp->seen);
	cp->seen = NULL;
	if (r < 0)
		ht_conf_free(conf);
	else
		*ret = conf;
	return r;
}

/* ---- loading ---- */

/* Reader errors (bad UTF-8, control characters) carry a byte offset only. */
static yaml_mark_t
offset_mark(const char *text, size_t len, size_t offset)
{
	yaml_mark_t m = { offset, 0, 0 };

	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else {
			m.column++;
		}
	}
	return m;
}

static int
syntax_error(struct cp *cp, const yaml_parser_t *p, const char *text, size_t len)
{
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem != NULL ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		m = offset_mark(text, len, p->problem_offset);
		if (p->problem_value != -1)
			return cp_err_mark(cp, &m, "YAML syntax error: %s (byte 0x%02x)", problem,
			    (unsigned)p->problem_value);
	}
	if (p->context != NULL)
		return cp_err_mark(cp, &m, "YAML syntax error: %s (%s that started at %zu:%zu)",
		    problem, p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	return cp_err_mark(cp, &m, "YAML syntax error: %s", problem);
}

/* A second document would be silently ignored; refuse it instead. */
static int
single_document(struct cp *cp, yaml_parser_t *parser, const char *text, size_t len)
{
	yaml_document_t extra;
	yaml_node_t *root;
	int r = 0;

	if (!yaml_parser_load(parser, &extra))
		return syntax_error(cp, parser, text, len);
	root = yaml_document_get_root_node(&extra);
	if (root != NULL)
		r = cp_err(cp, root, "only one YAML document is allowed");
	yaml_document_delete(&extra);
	return r;
}

static int
conf_load(const char *name, const char *basedir, const char *text, size_t len,
    struct ht_conf **ret, char *errbuf, size_t errlen)
{
	struct cp cp = { .name = name, .basedir = basedir, .err = errbuf, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc;
	struct ht_conf *conf = NULL;
	int r;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	else
		cp.errlen = 0;
	if (!yaml_parser_initialize(&parser)) {
		r = -ENOMEM;
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = syntax_error(&cp, &parser, text, len);
		yaml_parser_delete(&parser);
		goto out;
	}
	cp.doc = &doc;
	r = single_document(&cp, &parser, text, len);
	if (r == 0)
		r = conf_build(&cp, &conf);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
out:
	if (r == -ENOMEM && cp.errlen > 0)
		snprintf(errbuf, errlen, "%s: out of memory", name);
	if (r == 0)
		*ret = conf;
	return r;
}

int
ht_conf_load_string(const char *name, const char *yaml, size_t len, struct ht_conf **ret,
    char *errbuf, size_t errlen)
{
	return conf_load(name, NULL, yaml, len, ret, errbuf, errlen);
}

static int
read_file(const char *path, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nbuf;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				r = -ENOMEM;
				break;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
		if (len > CONF_MAX_FILE) {
			r = -EFBIG;
			break;
		}
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* The directory holding path, made absolute so it survives a chdir(). */
static char *
conf_basedir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char cwd[4096], *s;
	bool have_cwd = path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL;
	int dlen;

	if (slash == NULL)
		return strdup(have_cwd ? cwd : ".");
	if (slash == path)
		return strdup("/");
	dlen = (int)(slash - path);
	if (!have_cwd)
		return strndup(path, (size_t)dlen);
	if (asprintf(&s, "%s%s%.*s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", dlen, path) < 0)
		return NULL;
	return s;
}

int
ht_conf_load(const char *path, struct ht_conf **ret, char *errbuf, size_t errlen)
{
	char *text = NULL, *base = NULL;
	size_t len = 0;
	int r;

	if (path == NULL)
		return conf_load(CONF_EMBEDDED_NAME, NULL, ht_conf_default_yaml,
		    strlen(ht_conf_default_yaml), ret, errbuf, errlen);
	r = read_file(path, &text, &len);
	if (r == 0 && (base = conf_basedir(path)) == NULL)
		r = -ENOMEM;
	if (r == 0)
		r = conf_load(path, base, text, len, ret, errbuf, errlen);
	else if (errbuf != NULL && errlen > 0 && r == -ENOMEM)
		snprintf(errbuf, errlen, "%s: out of memory", path);
	else if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "%s: cannot read: %s", path, strerror(-r));
	free(base);
	free(text);
	return r;
}

/* ---- accessors ---- */

int
ht_conf_set_state_dir(struct ht_conf *conf, const char *dir)
{
	char *s;

	if (dir == NULL || dir[0] == '\0')
		return -EINVAL;
	s = strdup(dir);
	if (s == NULL)
		return -ENOMEM;
	free(conf->state_dir);
	conf->state_dir = s;
	return 0;
}

char *
ht_conf_path(const struct ht_conf *conf, const char *path)
{
	size_t n = strlen(conf->state_dir);
	char *s;

	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&s, "%s%s%s", conf->state_dir,
	    n > 0 && conf->state_dir[n - 1] == '/' ? "" : "/", path) < 0)
		return NULL;
	return s;
}

const struct ht_conf_bucket *
ht_conf_bucket(const struct ht_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_buckets; i++)
		if (strcmp(conf->buckets[i].name, name) == 0)
			return &conf->buckets[i];
	return NULL;
}

const struct ht_conf_topic *
ht_conf_topic(const struct ht_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_topics; i++)
		if (strcmp(conf->topics[i].name, name) == 0)
			return &conf->topics[i];
	return NULL;
}

static void
free_topics(struct ht_conf *conf)
{
	for (size_t i = 0; i < conf->n_topics; i++) {
		struct ht_conf_topic *t = &conf->topics[i];

		for (size_t j = 0; j < t->n_subscriptions; j++)
			free(t->subscriptions[j].url);
		free(t->subscriptions);
		free(t->name);
		free(t->signing_key_file);
		free(t->signing_cert_url);
		free(t->ca_file);
	}
	free(conf->topics);
}

static void
free_buckets(struct ht_conf *conf)
{
	for (size_t i = 0; i < conf->n_buckets; i++) {
		struct ht_conf_bucket *b = &conf->buckets[i];

		free(b->name);
		free(b->path);
		free(b->bucket);
		free(b->endpoint);
		free(b->region);
		free(b->ca_file);
		free(b->storage_class);
		free(b->resolve_to);
		free(b->credentials.access_key_id);
		free(b->credentials.secret_file);
		free(b->credentials.session_token_file);
		free(b->credentials.profile);
		free(b->credentials.shared_credentials_file);
	}
	free(conf->buckets);
}

static void
free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
free_lists(struct ht_conf *conf)
{
	for (size_t i = 0; i < conf->api.n_credentials; i++) {
		free(conf->api.credentials[i].access_key_id);
		free(conf->api.credentials[i].secret_file);
	}
	free(conf->api.credentials);
	free_buckets(conf);
	for (size_t i = 0; i < conf->n_sources; i++) {
		for (size_t j = 0; j < conf->sources[i].n_channels; j++)
			free(conf->sources[i].channels[j]);
		free(conf->sources[i].channels);
		free(conf->sources[i].path);
		free(conf->sources[i].checkpoint);
		free_strs(conf->sources[i].rules, conf->sources[i].n_rules);
		free(conf->sources[i].rules_file);
		free(conf->sources[i].state_file);
		free_strs(conf->sources[i].matches, conf->sources[i].n_matches);
		free(conf->sources[i].directory);
		free_strs(conf->sources[i].paths, conf->sources[i].n_paths);
		free_strs(conf->sources[i].exclude, conf->sources[i].n_exclude);
		free(conf->sources[i].wtmp);
		free(conf->sources[i].btmp);
	}
	free(conf->sources);
	for (size_t i = 0; i < conf->n_trails; i++) {
		free(conf->trails[i].name);
		free(conf->trails[i].s3_bucket_name);
		free(conf->trails[i].s3_key_prefix);
		free(conf->trails[i].sns_topic_name);
		free(conf->trails[i].kms_key_id);
		free(conf->trails[i].event_selectors);
	}
	free(conf->trails);
}

void
ht_conf_free(struct ht_conf *conf)
{
	if (conf == NULL)
		return;
	free_lists(conf);
	free_topics(conf);
	free(conf->api.socket);
	free(conf->api.listen);
	free(conf->path);
	free(conf->account_id);
	free(conf->region);
	free(conf->organization_id);
	free(conf->state_dir);
	free(conf);
}
