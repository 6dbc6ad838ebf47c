/*
 * select.c - see select.h for the rules as users see them.
 *
 * Data structure.  A struct ht_select is a list of basic selectors or a
 * list of advanced selectors, built once by the parser and never changed
 * afterwards, so builder threads share it without locks; an atomic
 * reference count decides when it is freed.  Every string is copied out of
 * json-c together with its length, so matching compares lengths and bytes
 * and never allocates.
 *
 * An advanced selector keeps its field conditions in the caller's order so
 * that GetEventSelectors returns them as they were given; its eventCategory
 * condition is compiled into the selector's category (and skipped when
 * matching), and its resources.* conditions are marked so they are
 * evaluated together, once per resource of the record.
 *
 * Which field may be used how, per category, is one table (rules[]) that
 * follows shared/reference/cloudtrail.md §6 with the host's changes noted
 * there; validation and the error messages are driven by it.
 *
 * Workload: ht_select_match runs for every record x logging trail on a
 * builder thread (well over 200k checks/s).  A check is a few strcmp()s
 * for the record's category and region, then, per selector, at most one
 * pass over its values.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonutil.h"
#include "record.h"
#include "trail/select.h"

#define STATE_VERSION 1
#define MAX_NAME 1000  /* AdvancedEventSelector.Name, characters */
#define MAX_VALUE 2048 /* operator values and basic Values, characters */
#define SHOW 80	       /* bytes of a value quoted in a message */

#define RW_READ 1u
#define RW_WRITE 2u
#define RW_ALL (RW_READ | RW_WRITE)

enum sel_op {
	OP_EQUALS,
	OP_STARTS_WITH,
	OP_ENDS_WITH,
	OP_NOT_EQUALS, /* the negations are the positives + OP_NOT_EQUALS */
	OP_NOT_STARTS_WITH,
	OP_NOT_ENDS_WITH,
	N_OPS
};
#define OPB(op) (1u << (op))
#define OPS_ANY (OPB(N_OPS) - 1)
#define OPS_EQ_NE (OPB(OP_EQUALS) | OPB(OP_NOT_EQUALS))

static const char *const op_names[N_OPS] = {
	"Equals",
	"StartsWith",
	"EndsWith",
	"NotEquals",
	"NotStartsWith",
	"NotEndsWith",
};

enum sel_field {
	FLD_EVENT_CATEGORY,
	FLD_READ_ONLY,
	FLD_EVENT_SOURCE,
	FLD_EVENT_NAME,
	FLD_EVENT_TYPE,
	FLD_RESOURCES_TYPE,
	FLD_RESOURCES_ARN,
	FLD_USER_ARN,
	FLD_ERROR_CODE,
	FLD_SESSION_CONSOLE,
	FLD_VPC_ENDPOINT_ID,
	N_FIELDS
};

static const char *const field_names[N_FIELDS] = {
	"eventCategory",
	"readOnly",
	"eventSource",
	"eventName",
	"eventType",
	"resources.type",
	"resources.ARN",
	"userIdentity.arn",
	"errorCode",
	"sessionCredentialFromConsole",
	"vpcEndpointId",
};

/* A record's class, and the eventCategory values a trail's advanced
 * selector may name (the first N_SEL_CATS). */
enum sel_cat { CAT_MANAGEMENT, CAT_DATA, CAT_NETWORK, N_SEL_CATS, CAT_INSIGHT = N_SEL_CATS };

static const char *const cat_names[N_SEL_CATS] = { "Management", "Data", "NetworkActivity" };

/* eventCategory values CloudTrail allows only on event data stores. */
static const char *const eds_cats[] = { "Insight", "ConfigurationItem", "Evidence",
	"ActivityAuditLog" };

/* Host resource types (select.h). */
static const char *const res_types[] = { "Host::File", "Host::Process" };
#define N_RES_TYPES (sizeof(res_types) / sizeof(res_types[0]))
#define RES_TYPE_LIST "Host::File, Host::Process"

enum val_kind {
	V_ANY,
	V_BOOL,	    /* "true" or "false" */
	V_RES_TYPE, /* one of res_types */
	V_PATH,	    /* absolute path with Equals/StartsWith and their negations */
	V_VPCE,	    /* "VpceAccessDenied" only */
};

struct field_rule {
	unsigned ops; /* allowed operators; 0 = field not allowed */
	bool required;
	bool single; /* exactly one value in all */
	enum val_kind kind;
};

#define EQ OPB(OP_EQUALS)
/* cloudtrail.md §6, adapted to a host: management eventSource takes any
 * source; data events also take errorCode (failed opens and execs). */
static const struct field_rule rules[N_SEL_CATS][N_FIELDS] = {
	[CAT_MANAGEMENT] = {
		[FLD_EVENT_CATEGORY] = { EQ, true, true, V_ANY },
		[FLD_READ_ONLY] = { EQ, false, false, V_BOOL },
		[FLD_EVENT_SOURCE] = { OPB(OP_NOT_EQUALS), false, false, V_ANY },
	},
	[CAT_DATA] = {
		[FLD_EVENT_CATEGORY] = { EQ, true, true, V_ANY },
		[FLD_READ_ONLY] = { EQ, false, false, V_BOOL },
		[FLD_EVENT_SOURCE] = { OPS_ANY, false, false, V_ANY },
		[FLD_EVENT_NAME] = { OPS_ANY, false, false, V_ANY },
		[FLD_EVENT_TYPE] = { OPS_ANY, false, false, V_ANY },
		[FLD_RESOURCES_TYPE] = { EQ, true, true, V_RES_TYPE },
		[FLD_RESOURCES_ARN] = { OPS_ANY, false, false, V_PATH },
		[FLD_USER_ARN] = { OPS_ANY, false, false, V_ANY },
		[FLD_ERROR_CODE] = { OPS_ANY, false, false, V_ANY },
		[FLD_SESSION_CONSOLE] = { OPS_EQ_NE, false, false, V_BOOL },
	},
	[CAT_NETWORK] = {
		[FLD_EVENT_CATEGORY] = { EQ, true, true, V_ANY },
		[FLD_EVENT_SOURCE] = { EQ, true, true, V_ANY },
		[FLD_EVENT_NAME] = { OPS_ANY, false, false, V_ANY },
		[FLD_ERROR_CODE] = { EQ, false, false, V_VPCE },
		[FLD_VPC_ENDPOINT_ID] = { OPS_ANY, false, false, V_ANY },
		[FLD_USER_ARN] = { OPS_ANY, false, false, V_ANY },
	},
};
#undef EQ

struct str {
	char *s;
	size_t len;
};

struct strv {
	struct str *v;
	size_t n;
};

struct data_res {
	size_t type; /* index into res_types */
	struct strv values;
};

struct basic {
	unsigned rw; /* RW_* */
	bool mgmt;   /* IncludeManagementEvents */
	struct data_res *res;
	size_t n_res;
	struct strv exclude; /* ExcludeManagementEventSources */
};

struct cond {
	enum sel_field field;
	bool resource;		/* resources.type / resources.ARN */
	struct strv ops[N_OPS]; /* n == 0: operator absent */
};

struct adv {
	char *name; /* NULL: no Name given */
	enum sel_cat cat;
	bool has_res; /* some cond is a resources.* one */
	struct cond *conds;
	size_t n_conds;
};

struct ht_select {
	atomic_uint refs;
	bool advanced;
	size_t n; /* entries of basic or adv */
	struct basic *basic;
	struct adv *adv;
};

/* What GetEventSelectors shows for a trail without custom selectors. */
static const struct basic default_basic = { RW_ALL, true, NULL, 0, { NULL, 0 } };

/* ---- errors ---- */

static int __attribute__((format(printf, 3, 4)))
fail(struct ht_select_error *err, const char *type, const char *fmt, ...)
{
	va_list ap;

	err->type = type;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* How many bytes of s to quote in a message: at most SHOW, cut on a UTF-8
 * character boundary so the JSON error body stays valid. */
static int
show_len(const char *s)
{
	size_t n = strnlen(s, SHOW + 1);

	if (n <= SHOW)
		return (int)n;
	n = SHOW;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

/* Format a member path ("EventSelectors[0].DataResources[1]") for
 * messages.  Paths are short; a cut one would still name the place. */
static void __attribute__((format(printf, 3, 4)))
where_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* "a, b, c" from the names whose bit is set in mask. */
static void
join_names(char *buf, size_t size, const char *const *names, size_t n, unsigned mask)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < size; i++) {
		if (!(mask & (1u << i)))
			continue;
		off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "", names[i]);
	}
}

/* ---- JSON input ---- */

/* Member key of o; NULL if absent or JSON null. */
static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int
want_type(struct json_object *v, enum json_type t, const char *where, struct ht_select_error *err)
{
	if (json_object_is_type(v, t))
		return 0;
	return fail(err, HT_SELECT_SERIALIZATION, "%s must be a JSON %s", where,
	    json_type_to_name(t));
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Whether s has a line terminator, which the pattern ".+" excludes:
 * \n, \r, U+0085, U+2028, U+2029. */
static bool
has_line_break(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < len; i++) {
		if (u[i] == '\n' || u[i] == '\r')
			return true;
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] == 0x85)
			return true;
		if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
		    (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
			return true;
	}
	return false;
}

/* Copy the JSON string v (min..max characters; one line unless multiline)
 * into *ret.  0, -EINVAL (err filled) or -ENOMEM. */
static int
copy_str(struct json_object *v, size_t min, size_t max, bool multiline, const char *where,
    struct ht_select_error *err, struct str *ret)
{
	const char *s;
	size_t len, chars;
	int r;

	if ((r = want_type(v, json_type_string, where, err)) < 0)
		return r;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (memchr(s, '\0', len) != NULL)
		return fail(err, HT_SELECT_INVALID, "%s contains a NUL character", where);
	chars = utf8_chars(s, len);
	if (chars < min || chars > max)
		return fail(err, HT_SELECT_INVALID,
		    "%s must be %zu to %zu characters long, not %zu", where, min, max, chars);
	if (!multiline && has_line_break(s, len))
		return fail(err, HT_SELECT_INVALID, "%s must not contain a line break", where);
	ret->s = malloc(len + 1);
	if (ret->s == NULL)
		return -ENOMEM;
	memcpy(ret->s, s, len + 1);
	ret->len = len;
	return 0;
}

/* Copy the JSON array of strings arr (at least min_items; each 1..MAX_VALUE
 * characters on one line) into *ret, which owns what was copied even on
 * failure. */
static int
copy_strv(struct json_object *arr, size_t min_items, const char *where, struct ht_select_error *err,
    struct strv *ret)
{
	char w[160];
	size_t i, n;
	int r;

	if ((r = want_type(arr, json_type_array, where, err)) < 0)
		return r;
	n = json_object_array_length(arr);
	if (n < min_items)
		return fail(err, HT_SELECT_INVALID, "%s must have at least %zu value", where,
		    min_items);
	if (n == 0)
		return 0;
	ret->v = calloc(n, sizeof(*ret->v));
	if (ret->v == NULL)
		return -ENOMEM;
	ret->n = n;
	for (i = 0; i < n; i++) {
		where_fmt(w, sizeof(w), "%s[%zu]", where, i);
		r = copy_str(json_object_array_get_idx(arr, i), 1, MAX_VALUE, false, w, err,
		    &ret->v[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- basic selectors ---- */

static int
parse_rw(struct json_object *v, const char *where, struct ht_select_error *err, unsigned *ret)
{
	static const char *const names[] = { "ReadOnly", "WriteOnly", "All" };
	static const unsigned rw[] = { RW_READ, RW_WRITE, RW_ALL };
	const char *s;
	size_t i;
	int r;

	if (v == NULL) {
		*ret = RW_ALL;
		return 0;
	}
	if ((r = want_type(v, json_type_string, where, err)) < 0)
		return r;
	s = json_object_get_string(v);
	for (i = 0; i < 3; i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret = rw[i];
			return 0;
		}
	}
	return fail(err, HT_SELECT_INVALID,
	    "%s: Value %.*s for ReadWriteType is invalid; "
	    "valid values are ReadOnly, WriteOnly, All",
	    where, show_len(s), s);
}

/* One DataResource; *n_counted grows by the values that count toward the
 * 250 limit (all but "/"). */
static int
parse_data_resource(struct json_object *o, const char *where, struct ht_select_error *err,
    struct data_res *dr, size_t *n_counted)
{
	struct json_object *type, *values;
	char w[160];
	const char *t;
	size_t i;
	int r;

	if ((r = want_type(o, json_type_object, where, err)) < 0)
		return r;
	type = member(o, "Type");
	if (type == NULL)
		return fail(err, HT_SELECT_INVALID,
		    "%s: Type is required; valid types are " RES_TYPE_LIST, where);
	where_fmt(w, sizeof(w), "%s.Type", where);
	if ((r = want_type(type, json_type_string, w, err)) < 0)
		return r;
	t = json_object_get_string(type);
	for (dr->type = 0; dr->type < N_RES_TYPES; dr->type++)
		if (strcmp(t, res_types[dr->type]) == 0)
			break;
	if (dr->type == N_RES_TYPES)
		return fail(err, HT_SELECT_INVALID,
		    "%s: Value %.*s for DataResources.Type is invalid; "
		    "valid types are " RES_TYPE_LIST,
		    where, show_len(t), t);
	if ((values = member(o, "Values")) == NULL)
		return 0;
	where_fmt(w, sizeof(w), "%s.Values", where);
	if ((r = copy_strv(values, 0, w, err, &dr->values)) < 0)
		return r;
	for (i = 0; i < dr->values.n; i++) {
		const struct str *v = &dr->values.v[i];

		if (v->s[0] != '/')
			return fail(err, HT_SELECT_INVALID,
			    "%s: Value %.*s for DataResources.Values is invalid; "
			    "use an absolute path or path prefix such as /etc/ (/ for all)",
			    w, show_len(v->s), v->s);
		if (v->len > 1)
			(*n_counted)++;
	}
	return 0;
}

static int
parse_basic(struct json_object *o, const char *where, struct ht_select_error *err, struct basic *b,
    size_t *n_counted)
{
	struct json_object *v;
	char w[160];
	size_t i;
	int r;

	if ((r = want_type(o, json_type_object, where, err)) < 0)
		return r;
	where_fmt(w, sizeof(w), "%s.ReadWriteType", where);
	if ((r = parse_rw(member(o, "ReadWriteType"), w, err, &b->rw)) < 0)
		return r;
	b->mgmt = true;
	if ((v = member(o, "IncludeManagementEvents")) != NULL) {
		where_fmt(w, sizeof(w), "%s.IncludeManagementEvents", where);
		if ((r = want_type(v, json_type_boolean, w, err)) < 0)
			return r;
		b->mgmt = json_object_get_boolean(v);
	}
	if ((v = member(o, "ExcludeManagementEventSources")) != NULL) {
		where_fmt(w, sizeof(w), "%s.ExcludeManagementEventSources", where);
		if ((r = copy_strv(v, 0, w, err, &b->exclude)) < 0)
			return r;
	}
	if ((v = member(o, "DataResources")) == NULL)
		return 0;
	where_fmt(w, sizeof(w), "%s.DataResources", where);
	if ((r = want_type(v, json_type_array, w, err)) < 0)
		return r;
	if ((b->n_res = json_object_array_length(v)) == 0)
		return 0;
	if ((b->res = calloc(b->n_res, sizeof(*b->res))) == NULL) {
		b->n_res = 0;
		return -ENOMEM;
	}
	for (i = 0; i < b->n_res; i++) {
		where_fmt(w, sizeof(w), "%s.DataResources[%zu]", where, i);
		r = parse_data_resource(json_object_array_get_idx(v, i), w, err, &b->res[i],
		    n_counted);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
parse_basic_list(struct json_object *arr, struct ht_select_error *err, struct ht_select *s)
{
	char w[64];
	size_t i, n, counted = 0;
	int r;

	if ((r = want_type(arr, json_type_array, "EventSelectors", err)) < 0)
		return r;
	n = json_object_array_length(arr);
	if (n > HT_SELECT_MAX_BASIC)
		return fail(err, HT_SELECT_INVALID,
		    "A trail can have at most %d event selectors; %zu were given",
		    HT_SELECT_MAX_BASIC, n);
	if (n == 0)
		return 0;
	if ((s->basic = calloc(n, sizeof(*s->basic))) == NULL)
		return -ENOMEM;
	s->n = n;
	for (i = 0; i < n; i++) {
		where_fmt(w, sizeof(w), "EventSelectors[%zu]", i);
		r = parse_basic(json_object_array_get_idx(arr, i), w, err, &s->basic[i], &counted);
		if (r < 0)
			return r;
	}
	/* §4: the cap does not apply to "all resources" values (arn:aws:s3
	 * there, "/" here), and it spans all of a trail's selectors. */
	if (counted > HT_SELECT_MAX_DATA_RESOURCES)
		return fail(err, HT_SELECT_INVALID,
		    "Specify a valid number of DataResources.Values "
		    "(0 to %d) for all your selectors; %zu were given (\"/\" does not count)",
		    HT_SELECT_MAX_DATA_RESOURCES, counted);
	return 0;
}

/* ---- advanced selectors ---- */

static int
parse_field_selector(struct json_object *o, const char *where, struct ht_select_error *err,
    struct cond *c, size_t *n_values)
{
	struct json_object *f, *v;
	char w[160], list[256];
	const char *name;
	size_t op;
	bool any = false;
	int r;

	if ((r = want_type(o, json_type_object, where, err)) < 0)
		return r;
	if ((f = member(o, "Field")) == NULL)
		return fail(err, HT_SELECT_INVALID, "%s: Field is required", where);
	where_fmt(w, sizeof(w), "%s.Field", where);
	if ((r = want_type(f, json_type_string, w, err)) < 0)
		return r;
	name = json_object_get_string(f);
	for (c->field = 0; c->field < N_FIELDS; c->field++)
		if (strcmp(name, field_names[c->field]) == 0)
			break;
	if (c->field == N_FIELDS) {
		join_names(list, sizeof(list), field_names, N_FIELDS, OPB(N_FIELDS) - 1);
		return fail(err, HT_SELECT_INVALID,
		    "%s: Field %.*s is not valid; valid fields are %s", where, show_len(name), name,
		    list);
	}
	c->resource = c->field == FLD_RESOURCES_TYPE || c->field == FLD_RESOURCES_ARN;
	for (op = 0; op < N_OPS; op++) {
		if ((v = member(o, op_names[op])) == NULL)
			continue;
		where_fmt(w, sizeof(w), "%s.%s", where, op_names[op]);
		if ((r = copy_strv(v, 1, w, err, &c->ops[op])) < 0)
			return r;
		*n_values += c->ops[op].n;
		any = true;
	}
	if (!any)
		return fail(err, HT_SELECT_INVALID,
		    "%s: the condition on %s has no operator; use "
		    "Equals, StartsWith, EndsWith, NotEquals, NotStartsWith or NotEndsWith",
		    where, field_names[c->field]);
	return 0;
}

static bool
in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* The eventCategory condition c sets a->cat. */
static int
check_category(const struct cond *c, const char *where, struct ht_select_error *err, struct adv *a)
{
	const char *v;
	size_t op;

	for (op = OP_STARTS_WITH; op < N_OPS; op++)
		if (c->ops[op].n > 0)
			return fail(err, HT_SELECT_INVALID,
			    "%s: eventCategory supports only the Equals operator, not %s", where,
			    op_names[op]);
	if (c->ops[OP_EQUALS].n != 1)
		return fail(err, HT_SELECT_INVALID, "%s: eventCategory takes exactly one value",
		    where);
	v = c->ops[OP_EQUALS].v[0].s;
	for (a->cat = 0; a->cat < N_SEL_CATS; a->cat++)
		if (strcmp(v, cat_names[a->cat]) == 0)
			return 0;
	if (in_list(v, eds_cats, sizeof(eds_cats) / sizeof(eds_cats[0])))
		return fail(err, HT_SELECT_INVALID,
		    "%s: eventCategory %s is for event data stores only; "
		    "a trail takes Management, Data or NetworkActivity",
		    where, v);
	return fail(err, HT_SELECT_INVALID,
	    "%s: Value %.*s for eventCategory is invalid; "
	    "valid values are Management, Data, NetworkActivity",
	    where, show_len(v), v);
}

/* Whether value v suits kind under operator op; the message on failure
 * says what would. */
static const char *
value_problem(enum val_kind kind, size_t op, const struct str *v)
{
	switch (kind) {
	case V_BOOL:
		return strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0 ?
		    NULL :
		    "use true or false";
	case V_RES_TYPE:
		return in_list(v->s, res_types, N_RES_TYPES) ? NULL :
							       "valid types are " RES_TYPE_LIST;
	case V_PATH:
		if (op == OP_ENDS_WITH || op == OP_NOT_ENDS_WITH || v->s[0] == '/')
			return NULL;
		return "use an absolute path";
	case V_VPCE:
		return strcmp(v->s, "VpceAccessDenied") == 0 ? NULL :
							       "the only value is VpceAccessDenied";
	case V_ANY:
		break;
	}
	return NULL;
}

/* Condition c against the rules of category cat. */
static int
check_cond(const struct cond *c, enum sel_cat cat, const char *where, struct ht_select_error *err)
{
	const struct field_rule *rule = &rules[cat][c->field];
	const char *field = field_names[c->field], *why;
	char list[256];
	size_t op, i, n = 0;

	if (rule->ops == 0) {
		unsigned mask = 0;

		for (i = 0; i < N_FIELDS; i++)
			mask |= rules[cat][i].ops != 0 ? 1u << i : 0;
		join_names(list, sizeof(list), field_names, N_FIELDS, mask);
		return fail(err, HT_SELECT_INVALID,
		    "%s: Field %s is not supported for %s events; supported fields are %s", where,
		    field, cat_names[cat], list);
	}
	for (op = 0; op < N_OPS; op++) {
		if (c->ops[op].n == 0)
			continue;
		if (!(rule->ops & OPB(op))) {
			join_names(list, sizeof(list), op_names, N_OPS, rule->ops);
			return fail(err, HT_SELECT_INVALID,
			    "%s: %s supports only %s for %s events, not %s", where, field, list,
			    cat_names[cat], op_names[op]);
		}
		for (i = 0; i < c->ops[op].n; i++) {
			const struct str *v = &c->ops[op].v[i];

			if ((why = value_problem(rule->kind, op, v)) != NULL)
				return fail(err, HT_SELECT_INVALID,
				    "%s: Value %.*s for %s is invalid; %s", where, show_len(v->s),
				    v->s, field, why);
		}
		n += c->ops[op].n;
	}
	if (rule->single && n != 1)
		return fail(err, HT_SELECT_INVALID, "%s: %s takes exactly one value for %s events",
		    where, field, cat_names[cat]);
	return 0;
}

/* The rules that span a selector's conditions: eventCategory first (it
 * decides the rest), then each condition, then required and once-only
 * fields. */
static int
check_adv(struct adv *a, const char *where, struct ht_select_error *err)
{
	size_t count[N_FIELDS] = { 0 }, i, cat_at = 0;
	char w[160];
	int r;

	for (i = 0; i < a->n_conds; i++) {
		if (a->conds[i].field == FLD_EVENT_CATEGORY)
			cat_at = i;
		count[a->conds[i].field]++;
		a->has_res |= a->conds[i].resource;
	}
	if (count[FLD_EVENT_CATEGORY] == 0)
		return fail(err, HT_SELECT_INVALID,
		    "%s: eventCategory is required in every advanced event selector", where);
	where_fmt(w, sizeof(w), "%s.FieldSelectors[%zu]", where, cat_at);
	if (count[FLD_EVENT_CATEGORY] > 1)
		return fail(err, HT_SELECT_INVALID, "%s: eventCategory appears more than once", w);
	if ((r = check_category(&a->conds[cat_at], w, err, a)) < 0)
		return r;
	for (i = 0; i < a->n_conds; i++) {
		where_fmt(w, sizeof(w), "%s.FieldSelectors[%zu]", where, i);
		if ((r = check_cond(&a->conds[i], a->cat, w, err)) < 0)
			return r;
	}
	for (i = 0; i < N_FIELDS; i++) {
		if (rules[a->cat][i].required && count[i] == 0)
			return fail(err, HT_SELECT_INVALID, "%s: %s is required for %s events",
			    where, field_names[i], cat_names[a->cat]);
		if (rules[a->cat][i].single && count[i] > 1)
			return fail(err, HT_SELECT_INVALID,
			    "%s: %s may appear only once in a selector", where, field_names[i]);
	}
	return 0;
}

static int
parse_adv(struct json_object *o, const char *where, struct ht_select_error *err, struct adv *a,
    size_t *n_values)
{
	struct json_object *v;
	struct str name;
	char w[160];
	size_t i;
	int r;

	if ((r = want_type(o, json_type_object, where, err)) < 0)
		return r;
	if ((v = member(o, "Name")) != NULL) {
		where_fmt(w, sizeof(w), "%s.Name", where);
		if ((r = copy_str(v, 0, MAX_NAME, true, w, err, &name)) < 0)
			return r;
		a->name = name.s;
	}
	where_fmt(w, sizeof(w), "%s.FieldSelectors", where);
	if ((v = member(o, "FieldSelectors")) == NULL)
		return fail(err, HT_SELECT_INVALID, "%s is required", w);
	if ((r = want_type(v, json_type_array, w, err)) < 0)
		return r;
	if ((a->n_conds = json_object_array_length(v)) == 0)
		return fail(err, HT_SELECT_INVALID,
		    "%s must have at least one field selector (eventCategory is required)", w);
	if ((a->conds = calloc(a->n_conds, sizeof(*a->conds))) == NULL) {
		a->n_conds = 0;
		return -ENOMEM;
	}
	for (i = 0; i < a->n_conds; i++) {
		where_fmt(w, sizeof(w), "%s.FieldSelectors[%zu]", where, i);
		r = parse_field_selector(json_object_array_get_idx(v, i), w, err, &a->conds[i],
		    n_values);
		if (r < 0)
			return r;
	}
	return check_adv(a, where, err);
}

static int
parse_adv_list(struct json_object *arr, struct ht_select_error *err, struct ht_select *s)
{
	char w[64];
	size_t i, n, n_values = 0;
	int r;

	if ((r = want_type(arr, json_type_array, "AdvancedEventSelectors", err)) < 0)
		return r;
	s->advanced = true;
	/* An empty list is accepted and selects nothing, as an empty basic
	 * list does; the model sets no minimum. */
	if ((n = json_object_array_length(arr)) == 0)
		return 0;
	if ((s->adv = calloc(n, sizeof(*s->adv))) == NULL)
		return -ENOMEM;
	s->n = n;
	for (i = 0; i < n; i++) {
		where_fmt(w, sizeof(w), "AdvancedEventSelectors[%zu]", i);
		r = parse_adv(json_object_array_get_idx(arr, i), w, err, &s->adv[i], &n_values);
		if (r < 0)
			return r;
	}
	if (n_values > HT_SELECT_MAX_VALUES)
		return fail(err, HT_SELECT_INVALID,
		    "Specify a valid number of values (at most %d) "
		    "for all conditions of all your advanced event selectors; %zu were given",
		    HT_SELECT_MAX_VALUES, n_values);
	return 0;
}

/* ---- lifetime ---- */

static void
strv_clear(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i].s);
	free(sv->v);
}

static void
select_destroy(struct ht_select *s)
{
	size_t i, j, op;

	for (i = 0; s->basic != NULL && i < s->n; i++) {
		for (j = 0; j < s->basic[i].n_res; j++)
			strv_clear(&s->basic[i].res[j].values);
		free(s->basic[i].res);
		strv_clear(&s->basic[i].exclude);
	}
	for (i = 0; s->adv != NULL && i < s->n; i++) {
		for (j = 0; j < s->adv[i].n_conds; j++)
			for (op = 0; op < N_OPS; op++)
				strv_clear(&s->adv[i].conds[j].ops[op]);
		free(s->adv[i].conds);
		free(s->adv[i].name);
	}
	free(s->basic);
	free(s->adv);
	free(s);
}

/* Parse the EventSelectors / AdvancedEventSelectors members of o. */
static int
parse_members(struct json_object *o, struct ht_select **ret, struct ht_select_error *err)
{
	struct json_object *es = member(o, "EventSelectors");
	struct json_object *aes = member(o, "AdvancedEventSelectors");
	struct ht_select *s;
	int r;

	/* §6: one kind or the other.  PutEventSelectors' modelled errors have
	 * no InvalidParameterCombination, so this is InvalidEventSelectors. */
	if (es != NULL && aes != NULL)
		return fail(err, HT_SELECT_INVALID,
		    "Specify EventSelectors or AdvancedEventSelectors, not both");
	if (es == NULL && aes == NULL)
		return fail(err, HT_SELECT_INVALID,
		    "Specify EventSelectors or AdvancedEventSelectors");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	r = es != NULL ? parse_basic_list(es, err, s) : parse_adv_list(aes, err, s);
	if (r < 0) {
		select_destroy(s);
		return r;
	}
	*ret = s;
	return 0;
}

int
ht_select_parse(struct json_object *req, struct ht_select **ret, struct ht_select_error *err)
{
	int r;

	if ((r = want_type(req, json_type_object, "The request", err)) < 0)
		return r;
	return parse_members(req, ret, err);
}

int
ht_select_from_state(struct json_object *obj, struct ht_select **ret, struct ht_select_error *err)
{
	struct json_object *v;
	int r;

	if ((r = want_type(obj, json_type_object, "Selector state", err)) < 0)
		return r;
	v = member(obj, "version");
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != STATE_VERSION)
		return fail(err, HT_SELECT_INVALID, "Selector state: version must be %d",
		    STATE_VERSION);
	return parse_members(obj, ret, err);
}

struct ht_select *
ht_select_ref(struct ht_select *s)
{
	if (s != NULL)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void
ht_select_free(struct ht_select *s)
{
	if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		select_destroy(s);
}

bool
ht_select_is_advanced(const struct ht_select *s)
{
	return s != NULL && s->advanced;
}

static struct json_object *
strv_to_json(const struct strv *sv)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a != NULL && i < sv->n; i++) {
		if (ht_json_push(a, json_object_new_string_len(sv->v[i].s, (int)sv->v[i].len)) < 0) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static struct json_object *
data_res_to_json(const struct data_res *dr)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL || ht_json_add(o, "Type", json_object_new_string(res_types[dr->type])) < 0 ||
	    ht_json_add(o, "Values", strv_to_json(&dr->values)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A basic selector with every member, in CloudTrail's order. */
static struct json_object *
basic_to_json(const struct basic *b)
{
	const char *rw = b->rw == RW_ALL ? "All" : b->rw == RW_READ ? "ReadOnly" : "WriteOnly";
	struct json_object *o = json_object_new_object(), *res = NULL;
	size_t i;

	if (o == NULL || ht_json_add(o, "ReadWriteType", json_object_new_string(rw)) < 0 ||
	    ht_json_add(o, "IncludeManagementEvents", json_object_new_boolean(b->mgmt)) < 0 ||
	    ht_json_add(o, "DataResources", res = json_object_new_array()) < 0)
		goto fail;
	for (i = 0; i < b->n_res; i++)
		if (ht_json_push(res, data_res_to_json(&b->res[i])) < 0)
			goto fail;
	if (ht_json_add(o, "ExcludeManagementEventSources", strv_to_json(&b->exclude)) < 0)
		goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static struct json_object *
cond_to_json(const struct cond *c)
{
	struct json_object *o = json_object_new_object();
	size_t op;

	if (o == NULL || ht_json_add(o, "Field", json_object_new_string(field_names[c->field])) < 0)
		goto fail;
	for (op = 0; op < N_OPS; op++)
		if (c->ops[op].n > 0 && ht_json_add(o, op_names[op], strv_to_json(&c->ops[op])) < 0)
			goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static struct json_object *
adv_to_json(const struct adv *a)
{
	struct json_object *o = json_object_new_object(), *fs;
	size_t i;

	if (o == NULL)
		return NULL;
	if (a->name != NULL && ht_json_add(o, "Name", json_object_new_string(a->name)) < 0)
		goto fail;
	if (ht_json_add(o, "FieldSelectors", fs = json_object_new_array()) < 0)
		goto fail;
	for (i = 0; i < a->n_conds; i++)
		if (ht_json_push(fs, cond_to_json(&a->conds[i])) < 0)
			goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

int
ht_select_add_json(const struct ht_select *s, struct json_object *obj)
{
	struct json_object *list = json_object_new_array();
	size_t i, n = s != NULL ? s->n : 1;
	bool adv = ht_select_is_advanced(s);
	int r;

	if (list == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (adv)
			r = ht_json_push(list, adv_to_json(&s->adv[i]));
		else
			r = ht_json_push(list, basic_to_json(s != NULL ? &s->basic[i] : &default_basic));
		if (r < 0) {
			json_object_put(list);
			return r;
		}
	}
	return ht_json_add(obj, adv ? "AdvancedEventSelectors" : "EventSelectors", list);
}

int
ht_select_to_state(const struct ht_select *s, struct json_object **ret)
{
	struct json_object *o = json_object_new_object();
	int r;

	if (o == NULL)
		return -ENOMEM;
	if ((r = ht_json_add(o, "version", json_object_new_int(STATE_VERSION))) < 0 ||
	    (r = ht_select_add_json(s, o)) < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* ---- matching (no allocation from here on) ---- */

/* The string member key of o, or NULL. */
static const char *
json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A record's class.  ActivityAuditLog (PutAuditEvents) counts as
 * management: CloudTrail lets only event data stores select that category
 * (cloudtrail.md §6), and a trail with default selectors must still
 * deliver what applications post.  Insight records are delivered through
 * insight selectors (their own CloudTrail-Insight/ keys, §8), never here. */
static enum sel_cat
record_category(const char *cat)
{
	if (cat == NULL)
		return CAT_MANAGEMENT;
	if (strcmp(cat, "Data") == 0)
		return CAT_DATA;
	if (strcmp(cat, "NetworkActivity") == 0)
		return CAT_NETWORK;
	if (strcmp(cat, "Insight") == 0)
		return CAT_INSIGHT;
	return CAT_MANAGEMENT; /* Management, ActivityAuditLog, anything else */
}

/* CloudTrail's global services are IAM, STS, CloudFront and Route 53
 * (seed, "Global Service Events"); a host's are its identity changes
 * (DESIGN.md), which sources name "<something>.identity". */
bool
ht_select_global_event(const struct ht_record *rec)
{
	/* One definition for the whole daemon (also behind HT_RF_GLOBAL). */
	return ht_record_is_global(rec);
}

/* The trail-level filters (cloudtrail.md §4): a single-region trail logs
 * its home region only; global service events need
 * IncludeGlobalServiceEvents.  A record without awsRegion is taken as
 * local (the pipeline stamps every record). */
static bool
scope_allows(const struct ht_select_scope *sc, const struct ht_record *rec)
{
	if (sc == NULL)
		return true;
	if (!sc->multi_region && sc->home_region != NULL && rec->aws_region != NULL &&
	    strcmp(rec->aws_region, sc->home_region) != 0)
		return false;
	return sc->include_global || !ht_select_global_event(rec);
}

static size_t
resource_count(const struct ht_record *rec)
{
	if (!json_object_is_type(rec->resources, json_type_array))
		return 0;
	return json_object_array_length(rec->resources);
}

/* Resource i's type and name (ARN, else ARNPrefix); false if either is
 * missing. */
static bool
resource_get(const struct ht_record *rec, size_t i, const char **type, const char **arn)
{
	struct json_object *r = json_object_array_get_idx(rec->resources, i);

	*type = json_str(r, "type");
	*arn = json_str(r, "ARN");
	if (*arn == NULL)
		*arn = json_str(r, "ARNPrefix");
	return *type != NULL && *arn != NULL;
}

static bool
has_prefix(const char *s, size_t len, const struct str *p)
{
	return p->len <= len && memcmp(s, p->s, p->len) == 0;
}

static bool
basic_data_match(const struct basic *b, const struct ht_record *rec)
{
	const char *type, *arn;
	size_t i, j, k, n = resource_count(rec), len;

	for (i = 0; i < n && b->n_res > 0; i++) {
		if (!resource_get(rec, i, &type, &arn))
			continue;
		len = strlen(arn);
		for (j = 0; j < b->n_res; j++) {
			if (strcmp(type, res_types[b->res[j].type]) != 0)
				continue;
			for (k = 0; k < b->res[j].values.n; k++)
				if (has_prefix(arn, len, &b->res[j].values.v[k]))
					return true;
		}
	}
	return false;
}

static bool
strv_has(const struct strv *sv, const char *s)
{
	size_t i, len = strlen(s);

	for (i = 0; i < sv->n; i++)
		if (sv->v[i].len == len && memcmp(sv->v[i].s, s, len) == 0)
			return true;
	return false;
}

/* ReadWriteType applies to management and data events alike.  readOnly is
 * optional in a record (§7) and only true marks a read, so a record
 * without it counts as a write: a WriteOnly trail (the usual security
 * trail) never misses an action of unknown kind. */
static bool
basic_match(const struct basic *b, enum sel_cat cat, const struct ht_record *rec)
{
	unsigned rw = rec->read_only == HT_TRUE ? RW_READ : RW_WRITE;

	if (!(b->rw & rw))
		return false;
	if (cat == CAT_MANAGEMENT)
		return b->mgmt &&
		    (rec->event_source == NULL || !strv_has(&b->exclude, rec->event_source));
	return cat == CAT_DATA && basic_data_match(b, rec);
}

/* Whether some value of sv matches val (len bytes) under the positive
 * operator op. */
static bool
values_match(const struct strv *sv, size_t op, const char *val, size_t len)
{
	const struct str *v;
	size_t i;

	for (i = 0; i < sv->n; i++) {
		v = &sv->v[i];
		if (v->len > len)
			continue;
		if (op == OP_EQUALS	     ? v->len == len && memcmp(val, v->s, len) == 0 :
			op == OP_STARTS_WITH ? memcmp(val, v->s, v->len) == 0 :
					       memcmp(val + len - v->len, v->s, v->len) == 0)
			return true;
	}
	return false;
}

/* Every operator of c holds for val (NULL: the record lacks the field,
 * which no value matches).  So "errorCode NotEquals X" keeps successful
 * events, and "userIdentity.arn Equals Y" drops events without an arn. */
static bool
cond_holds(const struct cond *c, const char *val)
{
	size_t op, len = val != NULL ? strlen(val) : 0;
	bool neg, any;

	for (op = 0; op < N_OPS; op++) {
		if (c->ops[op].n == 0)
			continue;
		neg = op >= OP_NOT_EQUALS;
		any = val != NULL &&
		    values_match(&c->ops[op], neg ? op - OP_NOT_EQUALS : op, val, len);
		if (any == neg)
			return false;
	}
	return true;
}

static const char *
record_field(const struct ht_record *rec, enum sel_field f)
{
	switch (f) {
	case FLD_READ_ONLY:
		return rec->read_only == HT_TRUE ? "true" : "false";
	case FLD_EVENT_SOURCE:
		return rec->event_source;
	case FLD_EVENT_NAME:
		return rec->event_name;
	case FLD_EVENT_TYPE:
		return rec->event_type;
	case FLD_USER_ARN:
		return json_str(rec->user_identity, "arn");
	case FLD_ERROR_CODE:
		return rec->error_code;
	case FLD_SESSION_CONSOLE:
		return rec->session_credential_from_console ? "true" : "false";
	case FLD_VPC_ENDPOINT_ID:
		return rec->vpc_endpoint_id;
	default:
		return NULL; /* eventCategory and resources.* are not read here */
	}
}

/* Some resource of rec satisfies every resources.* condition of a.  Per
 * resource, not per record: a process exec that also names the file it
 * read must not match "Host::Process whose ARN starts with /etc/". */
static bool
resources_match(const struct adv *a, const struct ht_record *rec)
{
	const char *type, *arn;
	size_t i, j, n = resource_count(rec);
	bool ok;

	for (i = 0; i < n; i++) {
		if (!resource_get(rec, i, &type, &arn))
			continue;
		ok = true;
		for (j = 0; ok && j < a->n_conds; j++)
			if (a->conds[j].resource)
				ok = cond_holds(&a->conds[j],
				    a->conds[j].field == FLD_RESOURCES_TYPE ? type : arn);
		if (ok)
			return true;
	}
	return false;
}

static bool
adv_match(const struct adv *a, enum sel_cat cat, const struct ht_record *rec)
{
	const struct cond *c;
	size_t i;

	if (a->cat != cat)
		return false;
	for (i = 0; i < a->n_conds; i++) {
		c = &a->conds[i];
		if (c->field == FLD_EVENT_CATEGORY || c->resource)
			continue;
		if (!cond_holds(c, record_field(rec, c->field)))
			return false;
	}
	return !a->has_res || resources_match(a, rec);
}

bool
ht_select_match(const struct ht_select *s, const struct ht_select_scope *sc,
    const struct ht_record *rec)
{
	enum sel_cat cat;
	size_t i;

	if (!scope_allows(sc, rec))
		return false;
	cat = record_category(rec->event_category);
	if (s == NULL)
		return cat == CAT_MANAGEMENT;
	for (i = 0; i < s->n; i++)
		if (s->advanced ? adv_match(&s->adv[i], cat, rec) :
				  basic_match(&s->basic[i], cat, rec))
			return true;
	return false;
}
