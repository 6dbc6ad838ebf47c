/*
 * test_select.c - daemon/trail/select.c.
 *
 * The heart is a table: a fixed set of records (below) against every
 * selector form, each row naming exactly the records that reach the trail.
 * Every row is also run again after a trip through the persisted form, so
 * the state file can never change what a trail selects.  Then validation
 * (each refusal with its AWS error name and a message naming the problem),
 * GetEventSelectors' shape with CloudTrail's defaults filled in, the
 * persisted form, references, and a speed floor for the matcher.
 *
 * JSON in this file is written with single quotes for readability; J()
 * turns them into double quotes before parsing.
 */
#include "ht_build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "record.h"
#include "trail/select.h"

#define HOME "onprem-1"
#define ALICE "arn:aws:iam::000000000000:user/alice"
#define BOB "arn:aws:iam::000000000000:user/bob"

/* A JSON object from single-quoted JSON text; the caller puts it. */
static struct json_object *
J(const char *sq)
{
	struct json_object *o;
	char *s = strdup(sq), *p;

	assert_non_null(s);
	for (p = s; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	o = json_tokener_parse(s);
	if (o == NULL)
		fail_msg("bad test JSON: %s", s);
	free(s);
	return o;
}

/* ------------------------------------------------------------------------
 * The records.  awsRegion is HOME unless the record says otherwise.
 *
 *   MR    management read          systemd.hosttrail ListUnits, readOnly true
 *   MW    management write         systemd.hosttrail StartUnit, readOnly false
 *   MN    management, no readOnly  sshd.hosttrail ConsoleLogin (counts as write)
 *   ME    management error         sshd.hosttrail ConsoleLogin, errorCode AccessDenied
 *   KMS   excludable source        kms.amazonaws.com Decrypt, readOnly true
 *   AAL   ingested                 eventCategory ActivityAuditLog (PutAuditEvents)
 *   OLD   no eventCategory         cron.hosttrail RunJob, readOnly false
 *   GID   global: host identity    hosttrail.identity CreateUser
 *   IAM   global: IAM              iam.amazonaws.com AttachUserPolicy
 *   REG   another region           management write in onprem-2
 *   FR    data file read           /etc/shadow by alice
 *   FW    data file write          /home/bob/notes.txt by bob, console session
 *   FD    data read, denied        /root/.ssh/id_rsa, errorCode AccessDenied, no arn
 *   PX    data process exec        /usr/bin/sudo (+ file /etc/sudoers) by alice
 *   PB    data process exec        /usr/bin/bash
 *   DREG  data, another region     /etc/hosts read in onprem-2
 *   NET   network activity         ssm.amazonaws.com, VpceAccessDenied
 * ---------------------------------------------------------------------- */
struct rec_def {
	const char *id;
	const char *json;
};

static const struct rec_def rec_defs[] = {
	{ "MR", "{'eventCategory':'Management','eventSource':'systemd.hosttrail',"
		"'eventName':'ListUnits','readOnly':true,'eventType':'AwsApiCall'}" },
	{ "MW", "{'eventCategory':'Management','eventSource':'systemd.hosttrail',"
		"'eventName':'StartUnit','readOnly':false,'eventType':'AwsApiCall'}" },
	{ "MN", "{'eventCategory':'Management','eventSource':'sshd.hosttrail',"
		"'eventName':'ConsoleLogin','eventType':'AwsConsoleSignIn'}" },
	{ "ME", "{'eventCategory':'Management','eventSource':'sshd.hosttrail',"
		"'eventName':'ConsoleLogin','readOnly':false,'errorCode':'AccessDenied',"
		"'eventType':'AwsConsoleSignIn'}" },
	{ "KMS", "{'eventCategory':'Management','eventSource':'kms.amazonaws.com',"
		 "'eventName':'Decrypt','readOnly':true,'eventType':'AwsApiCall'}" },
	{ "AAL", "{'eventCategory':'ActivityAuditLog','eventSource':'myapp.example',"
		 "'eventName':'Login','eventType':'ActivityLog'}" },
	{ "OLD", "{'eventSource':'cron.hosttrail','eventName':'RunJob','readOnly':false}" },
	{ "GID", "{'eventCategory':'Management','eventSource':'hosttrail.identity',"
		 "'eventName':'CreateUser','readOnly':false}" },
	{ "IAM", "{'eventCategory':'Management','eventSource':'iam.amazonaws.com',"
		 "'eventName':'AttachUserPolicy','readOnly':false}" },
	{ "REG", "{'eventCategory':'Management','eventSource':'systemd.hosttrail',"
		 "'eventName':'StopUnit','readOnly':false,'awsRegion':'onprem-2'}" },
	{ "FR", "{'eventCategory':'Data','eventSource':'audit.hosttrail','eventName':'ReadFile',"
		"'readOnly':true,'eventType':'AwsApiCall','userIdentity':{'type':'IAMUser',"
		"'arn':'" ALICE "'},'resources':[{'type':'Host::File','ARN':'/etc/shadow'}]}" },
	{ "FW", "{'eventCategory':'Data','eventSource':'fim.hosttrail','eventName':'WriteFile',"
		"'readOnly':false,'eventType':'AwsApiCall','userIdentity':{'type':'IAMUser',"
		"'arn':'" BOB "'},'sessionCredentialFromConsole':'true',"
		"'resources':[{'type':'Host::File','ARN':'/home/bob/notes.txt'}]}" },
	{ "FD", "{'eventCategory':'Data','eventSource':'audit.hosttrail','eventName':'ReadFile',"
		"'readOnly':true,'errorCode':'AccessDenied','eventType':'AwsApiCall',"
		"'userIdentity':{'type':'IAMUser'},"
		"'resources':[{'type':'Host::File','ARN':'/root/.ssh/id_rsa'}]}" },
	{ "PX", "{'eventCategory':'Data','eventSource':'audit.hosttrail','eventName':'ExecProcess',"
		"'readOnly':false,'eventType':'AwsServiceEvent','userIdentity':{'arn':'" ALICE "'},"
		"'resources':[{'type':'Host::Process','ARN':'/usr/bin/sudo'},"
		"{'type':'Host::File','ARN':'/etc/sudoers'}]}" },
	{ "PB", "{'eventCategory':'Data','eventSource':'audit.hosttrail','eventName':'ExecProcess',"
		"'readOnly':false,'eventType':'AwsApiCall',"
		"'resources':[{'type':'Host::Process','ARN':'/usr/bin/bash'}]}" },
	{ "DREG", "{'eventCategory':'Data','eventSource':'audit.hosttrail','eventName':'ReadFile',"
		  "'readOnly':true,'awsRegion':'onprem-2',"
		  "'resources':[{'type':'Host::File','ARN':'/etc/hosts'}]}" },
	{ "NET", "{'eventCategory':'NetworkActivity','eventSource':'ssm.amazonaws.com',"
		 "'eventName':'SendCommand','errorCode':'VpceAccessDenied',"
		 "'vpcEndpointId':'vpce-0123'}" },
};
#define N_RECS (sizeof(rec_defs) / sizeof(rec_defs[0]))

/* Trail scopes: G = CreateTrail's defaults (global events included,
 * single region); g = global events excluded; M = multi-region. */
enum scope { G, g, M, gM };
static const struct ht_select_scope scopes[] = {
	[G] = { HOME, true, false },
	[g] = { HOME, false, false },
	[M] = { HOME, true, true },
	[gM] = { HOME, false, true },
};

/* Selector builders, to keep the table readable. */
#define BASIC(...) "{'EventSelectors':[" __VA_ARGS__ "]}"
#define ADV(...) "{'AdvancedEventSelectors':[" __VA_ARGS__ "]}"
#define SEL(...) "{'FieldSelectors':[" __VA_ARGS__ "]}"
#define F(field, op, ...) "{'Field':'" field "','" op "':[" __VA_ARGS__ "]}"
#define CAT(c) F("eventCategory", "Equals", "'" c "'")
#define MGMT_ CAT("Management") ","
#define FILES_ CAT("Data") "," F("resources.type", "Equals", "'Host::File'") ","
#define PROCS_ CAT("Data") "," F("resources.type", "Equals", "'Host::Process'") ","
#define NETW_ CAT("NetworkActivity") "," F("eventSource", "Equals", "'ssm.amazonaws.com'")
#define DR(type, ...) "{'Type':'" type "','Values':[" __VA_ARGS__ "]}"

#define ALL_MGMT "MR MW MN ME KMS AAL OLD GID IAM"

struct case_def {
	const char *name;
	const char *sel;	/* PutEventSelectors input; NULL = no custom selectors */
	enum scope scope;
	const char *want;	/* ids, in rec_defs order */
};

static const struct case_def cases[] = {
	/* CloudTrail's default: all management events, no data events. */
	{ "default", NULL, G, ALL_MGMT },
	{ "default, no global events", NULL, g, "MR MW MN ME KMS AAL OLD" },
	{ "default, multi-region", NULL, M, ALL_MGMT " REG" },
	{ "default, multi-region, no global", NULL, gM, "MR MW MN ME KMS AAL OLD REG" },
	{ "empty basic list", BASIC(""), G, "" },
	{ "empty advanced list", ADV(""), G, "" },

	/* Basic selectors. */
	{ "basic {} = defaults", BASIC("{}"), G, ALL_MGMT },
	{ "basic {}, no global", BASIC("{}"), g, "MR MW MN ME KMS AAL OLD" },
	{ "basic ReadOnly", BASIC("{'ReadWriteType':'ReadOnly'}"), G, "MR KMS" },
	{ "basic WriteOnly", BASIC("{'ReadWriteType':'WriteOnly'}"), G,
	    "MW MN ME AAL OLD GID IAM" },
	{ "basic no management, no data", BASIC("{'IncludeManagementEvents':false}"), G, "" },
	{ "basic data /etc/ + sudo",
	    BASIC("{'IncludeManagementEvents':false,'DataResources':["
		DR("Host::File", "'/etc/'") "," DR("Host::Process", "'/usr/bin/sudo'") "]}"),
	    G, "FR PX" },
	{ "basic data /etc/ + sudo, multi-region",
	    BASIC("{'IncludeManagementEvents':false,'DataResources':["
		DR("Host::File", "'/etc/'") "," DR("Host::Process", "'/usr/bin/sudo'") "]}"),
	    M, "FR PX DREG" },
	{ "basic WriteOnly, all files",
	    BASIC("{'ReadWriteType':'WriteOnly','IncludeManagementEvents':false,"
		"'DataResources':[" DR("Host::File", "'/'") "]}"), G, "FW PX" },
	{ "basic ReadOnly, all files and processes",
	    BASIC("{'ReadWriteType':'ReadOnly','IncludeManagementEvents':false,'DataResources':["
		DR("Host::File", "'/'") "," DR("Host::Process", "'/'") "]}"), G, "FR FD" },
	{ "basic all management + /home/",
	    BASIC("{'DataResources':[" DR("Host::File", "'/home/'") "]}"), G, ALL_MGMT " FW" },
	{ "basic value is a string prefix",
	    BASIC("{'IncludeManagementEvents':false,'DataResources':["
		DR("Host::File", "'/etc/shadow','/root'") "]}"), G, "FR FD" },
	{ "basic process directory",
	    BASIC("{'IncludeManagementEvents':false,'DataResources':["
		DR("Host::Process", "'/usr/bin/'") "]}"), G, "PX PB" },
	{ "basic exclude kms",
	    BASIC("{'ExcludeManagementEventSources':['kms.amazonaws.com']}"), G,
	    "MR MW MN ME AAL OLD GID IAM" },
	{ "basic exclude kms + sshd",
	    BASIC("{'ExcludeManagementEventSources':['kms.amazonaws.com','sshd.hosttrail']}"), G,
	    "MR MW AAL OLD GID IAM" },
	{ "basic OR: reads | writes under /home/",
	    BASIC("{'ReadWriteType':'ReadOnly'},"
		"{'ReadWriteType':'WriteOnly','IncludeManagementEvents':false,"
		"'DataResources':[" DR("Host::File", "'/home/'") "]}"), G, "MR KMS FW" },
	{ "basic OR: file reads | management writes",
	    BASIC("{'ReadWriteType':'ReadOnly','IncludeManagementEvents':false,"
		"'DataResources':[" DR("Host::File", "'/'") "]},"
		"{'ReadWriteType':'WriteOnly'}"), G, "MW MN ME AAL OLD GID IAM FR FD" },

	/* Advanced: management. */
	{ "adv Management", ADV(SEL(CAT("Management"))), G, ALL_MGMT },
	{ "adv Management, no global", ADV(SEL(CAT("Management"))), g, "MR MW MN ME KMS AAL OLD" },
	{ "adv Management, multi-region", ADV(SEL(CAT("Management"))), M, ALL_MGMT " REG" },
	{ "adv Management readOnly true", ADV(SEL(MGMT_ F("readOnly", "Equals", "'true'"))), G,
	    "MR KMS" },
	{ "adv Management readOnly false", ADV(SEL(MGMT_ F("readOnly", "Equals", "'false'"))), G,
	    "MW MN ME AAL OLD GID IAM" },
	{ "adv Management eventSource NotEquals kms",
	    ADV(SEL(MGMT_ F("eventSource", "NotEquals", "'kms.amazonaws.com'"))), G,
	    "MR MW MN ME AAL OLD GID IAM" },

	/* Advanced: data, resources. */
	{ "adv Data files", ADV(SEL(CAT("Data") "," F("resources.type", "Equals",
	    "'Host::File'"))), G, "FR FW FD PX" },
	{ "adv Data files, no global", ADV(SEL(CAT("Data") "," F("resources.type", "Equals",
	    "'Host::File'"))), g, "FR FW FD PX" },
	{ "adv Data files, multi-region", ADV(SEL(CAT("Data") "," F("resources.type", "Equals",
	    "'Host::File'"))), M, "FR FW FD PX DREG" },
	{ "adv Data processes", ADV(SEL(CAT("Data") "," F("resources.type", "Equals",
	    "'Host::Process'"))), G, "PX PB" },
	{ "adv ARN Equals", ADV(SEL(FILES_ F("resources.ARN", "Equals", "'/etc/shadow'"))), G,
	    "FR" },
	{ "adv ARN StartsWith", ADV(SEL(FILES_ F("resources.ARN", "StartsWith", "'/etc/'"))), G,
	    "FR PX" },
	{ "adv ARN EndsWith", ADV(SEL(FILES_ F("resources.ARN", "EndsWith", "'id_rsa'"))), G,
	    "FD" },
	{ "adv ARN NotEquals", ADV(SEL(FILES_ F("resources.ARN", "NotEquals", "'/etc/shadow'"))),
	    G, "FW FD PX" },
	{ "adv ARN NotStartsWith",
	    ADV(SEL(FILES_ F("resources.ARN", "NotStartsWith", "'/etc/'"))), G, "FW FD" },
	{ "adv ARN NotEndsWith", ADV(SEL(FILES_ F("resources.ARN", "NotEndsWith", "'.txt'"))), G,
	    "FR FD PX" },
	{ "adv type and ARN hold for one resource",
	    ADV(SEL(PROCS_ F("resources.ARN", "StartsWith", "'/etc/'"))), G, "" },
	{ "adv AND of two conditions",
	    ADV(SEL(PROCS_ F("resources.ARN", "StartsWith", "'/usr/bin/'") ","
		F("resources.ARN", "NotEndsWith", "'bash'"))), G, "PX" },
	{ "adv AND of two operators in one condition",
	    ADV(SEL(PROCS_ "{'Field':'resources.ARN','StartsWith':['/usr/'],"
		"'NotEquals':['/usr/bin/bash']}")), G, "PX" },

	/* Advanced: each operator on each free-form field. */
	{ "adv eventName Equals", ADV(SEL(FILES_ F("eventName", "Equals", "'ReadFile'"))), G,
	    "FR FD" },
	{ "adv eventName StartsWith", ADV(SEL(FILES_ F("eventName", "StartsWith", "'Write'"))), G,
	    "FW" },
	{ "adv eventName EndsWith", ADV(SEL(FILES_ F("eventName", "EndsWith", "'File'"))), G,
	    "FR FW FD" },
	{ "adv eventName NotEquals", ADV(SEL(FILES_ F("eventName", "NotEquals", "'ReadFile'"))),
	    G, "FW PX" },
	{ "adv eventName NotStartsWith",
	    ADV(SEL(FILES_ F("eventName", "NotStartsWith", "'Read'"))), G, "FW PX" },
	{ "adv eventName NotEndsWith", ADV(SEL(FILES_ F("eventName", "NotEndsWith", "'File'"))),
	    G, "PX" },
	{ "adv eventName Equals, two values",
	    ADV(SEL(FILES_ F("eventName", "Equals", "'WriteFile','ExecProcess'"))), G, "FW PX" },
	{ "adv eventSource Equals", ADV(SEL(FILES_ F("eventSource", "Equals", "'fim.hosttrail'"))),
	    G, "FW" },
	{ "adv eventSource StartsWith",
	    ADV(SEL(FILES_ F("eventSource", "StartsWith", "'audit.'"))), G, "FR FD PX" },
	{ "adv eventSource EndsWith",
	    ADV(SEL(FILES_ F("eventSource", "EndsWith", "'.hosttrail'"))), G, "FR FW FD PX" },
	{ "adv eventSource NotEquals",
	    ADV(SEL(FILES_ F("eventSource", "NotEquals", "'fim.hosttrail'"))), G, "FR FD PX" },
	{ "adv eventSource NotStartsWith",
	    ADV(SEL(FILES_ F("eventSource", "NotStartsWith", "'audit.'"))), G, "FW" },
	{ "adv eventSource NotEndsWith",
	    ADV(SEL(FILES_ F("eventSource", "NotEndsWith", "'.hosttrail'"))), G, "" },
	{ "adv eventType Equals", ADV(SEL(PROCS_ F("eventType", "Equals", "'AwsServiceEvent'"))),
	    G, "PX" },
	{ "adv eventType StartsWith", ADV(SEL(PROCS_ F("eventType", "StartsWith", "'AwsS'"))), G,
	    "PX" },
	{ "adv eventType EndsWith", ADV(SEL(PROCS_ F("eventType", "EndsWith", "'Call'"))), G,
	    "PB" },
	{ "adv eventType NotEquals",
	    ADV(SEL(PROCS_ F("eventType", "NotEquals", "'AwsServiceEvent'"))), G, "PB" },
	{ "adv eventType NotStartsWith",
	    ADV(SEL(PROCS_ F("eventType", "NotStartsWith", "'AwsS'"))), G, "PB" },
	{ "adv eventType NotEndsWith", ADV(SEL(PROCS_ F("eventType", "NotEndsWith", "'Call'"))),
	    G, "PX" },
	{ "adv userIdentity.arn Equals", ADV(SEL(FILES_ F("userIdentity.arn", "Equals",
	    "'" ALICE "'"))), G, "FR PX" },
	{ "adv userIdentity.arn StartsWith", ADV(SEL(FILES_ F("userIdentity.arn", "StartsWith",
	    "'arn:aws:iam::000000000000:user/'"))), G, "FR FW PX" },
	{ "adv userIdentity.arn EndsWith", ADV(SEL(FILES_ F("userIdentity.arn", "EndsWith",
	    "'/bob'"))), G, "FW" },
	{ "adv userIdentity.arn NotEquals (absent arn matches)",
	    ADV(SEL(FILES_ F("userIdentity.arn", "NotEquals", "'" ALICE "'"))), G, "FW FD" },
	{ "adv userIdentity.arn NotStartsWith", ADV(SEL(FILES_ F("userIdentity.arn",
	    "NotStartsWith", "'arn:aws:iam::000000000000:user/b'"))), G, "FR FD PX" },
	{ "adv userIdentity.arn NotEndsWith", ADV(SEL(FILES_ F("userIdentity.arn", "NotEndsWith",
	    "'/alice'"))), G, "FW FD" },
	{ "adv errorCode Equals", ADV(SEL(FILES_ F("errorCode", "Equals", "'AccessDenied'"))), G,
	    "FD" },
	{ "adv errorCode StartsWith", ADV(SEL(FILES_ F("errorCode", "StartsWith", "'Access'"))),
	    G, "FD" },
	{ "adv errorCode EndsWith", ADV(SEL(FILES_ F("errorCode", "EndsWith", "'Denied'"))), G,
	    "FD" },
	{ "adv errorCode NotEquals (no error matches)",
	    ADV(SEL(FILES_ F("errorCode", "NotEquals", "'AccessDenied'"))), G, "FR FW PX" },
	{ "adv errorCode NotStartsWith",
	    ADV(SEL(FILES_ F("errorCode", "NotStartsWith", "'Access'"))), G, "FR FW PX" },
	{ "adv errorCode NotEndsWith", ADV(SEL(FILES_ F("errorCode", "NotEndsWith", "'Denied'"))),
	    G, "FR FW PX" },
	{ "adv data readOnly true", ADV(SEL(FILES_ F("readOnly", "Equals", "'true'"))), G,
	    "FR FD" },
	{ "adv data readOnly false", ADV(SEL(FILES_ F("readOnly", "Equals", "'false'"))), G,
	    "FW PX" },
	{ "adv sessionCredentialFromConsole Equals",
	    ADV(SEL(FILES_ F("sessionCredentialFromConsole", "Equals", "'true'"))), G, "FW" },
	{ "adv sessionCredentialFromConsole NotEquals",
	    ADV(SEL(FILES_ F("sessionCredentialFromConsole", "NotEquals", "'true'"))), G,
	    "FR FD PX" },

	/* Advanced: combinations, network activity. */
	{ "adv OR: management reads | writes under /home/",
	    ADV(SEL(MGMT_ F("readOnly", "Equals", "'true'")) ","
		SEL(FILES_ F("resources.ARN", "StartsWith", "'/home/'"))), G, "MR KMS FW" },
	{ "adv AND over four fields",
	    ADV(SEL(FILES_ F("readOnly", "Equals", "'true'") ","
		F("eventName", "Equals", "'ReadFile'") ","
		F("errorCode", "NotEquals", "'AccessDenied'"))), G, "FR" },
	{ "adv NetworkActivity", ADV(SEL(NETW_)), G, "NET" },
	{ "adv NetworkActivity, all its fields",
	    ADV(SEL(NETW_ "," F("errorCode", "Equals", "'VpceAccessDenied'") ","
		F("vpcEndpointId", "StartsWith", "'vpce-'") ","
		F("eventName", "NotEquals", "'StartSession'"))), G, "NET" },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

struct records {
	struct ht_record *r[N_RECS];
};

static int
setup_records(void **state)
{
	struct records *rs = calloc(1, sizeof(*rs));
	char errbuf[256];
	size_t i;

	if (rs == NULL)
		return -1;
	for (i = 0; i < N_RECS; i++) {
		struct json_object *o = J(rec_defs[i].json);

		if (ht_record_from_json(o, &rs->r[i], errbuf, sizeof(errbuf)) < 0) {
			fprintf(stderr, "record %s: %s\n", rec_defs[i].id, errbuf);
			json_object_put(o);
			return -1;
		}
		json_object_put(o);
		if (rs->r[i]->aws_region == NULL && (rs->r[i]->aws_region = strdup(HOME)) == NULL)
			return -1;
	}
	*state = rs;
	return 0;
}

static int
teardown_records(void **state)
{
	struct records *rs = *state;
	size_t i;

	for (i = 0; i < N_RECS; i++)
		ht_record_free(rs->r[i]);
	free(rs);
	return 0;
}

/* The ids of the records s selects under scope sc, space-separated. */
static void
selected(const struct ht_select *s, const struct ht_select_scope *sc, const struct records *rs,
    char *buf, size_t size)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < N_RECS; i++)
		if (ht_select_match(s, sc, rs->r[i]))
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? " " : "",
			    rec_defs[i].id);
}

static struct ht_select *
parse_ok(const char *sq)
{
	struct ht_select_error err = { NULL, "" };
	struct ht_select *s = NULL;
	struct json_object *o = J(sq);
	int r = ht_select_parse(o, &s, &err);

	json_object_put(o);
	if (r < 0)
		fail_msg("parse %s: %d %s: %s", sq, r, err.type, err.message);
	return s;
}

/* s after a trip through the persisted form, as text. */
static struct ht_select *
reload(const struct ht_select *s)
{
	struct ht_select_error err = { NULL, "" };
	struct json_object *state, *back;
	struct ht_select *s2 = NULL;
	char *text;

	assert_int_equal(ht_select_to_state(s, &state), 0);
	text = strdup(json_object_to_json_string_ext(state, JSON_C_TO_STRING_PLAIN));
	assert_non_null(text);
	json_object_put(state);
	back = json_tokener_parse(text);
	assert_non_null(back);
	if (ht_select_from_state(back, &s2, &err) < 0)
		fail_msg("reload %s: %s", text, err.message);
	json_object_put(back);
	free(text);
	return s2;
}

static void
test_table(void **state)
{
	struct records *rs = *state;
	char got[256], again[256];
	struct ht_select *s, *s2;
	size_t i, bad = 0;

	for (i = 0; i < N_CASES; i++) {
		const struct case_def *c = &cases[i];

		s = c->sel != NULL ? parse_ok(c->sel) : NULL;
		selected(s, &scopes[c->scope], rs, got, sizeof(got));
		if (strcmp(got, c->want) != 0) {
			fprintf(stderr, "case \"%s\": want [%s], got [%s]\n", c->name, c->want,
			    got);
			bad++;
		}
		if (s != NULL) {
			s2 = reload(s);
			selected(s2, &scopes[c->scope], rs, again, sizeof(again));
			if (strcmp(again, got) != 0) {
				fprintf(stderr, "case \"%s\" after reload: [%s], before [%s]\n",
				    c->name, again, got);
				bad++;
			}
			ht_select_free(s2);
		}
		ht_select_free(s);
	}
	assert_int_equal(bad, 0);
}

/* A NULL scope filters nothing; global events are recognized by source. */
static void
test_scope(void **state)
{
	struct records *rs = *state;
	char got[256];

	selected(NULL, NULL, rs, got, sizeof(got));
	assert_string_equal(got, ALL_MGMT " REG");
	assert_true(ht_select_global_event(rs->r[7]));		/* GID */
	assert_true(ht_select_global_event(rs->r[8]));		/* IAM */
	assert_false(ht_select_global_event(rs->r[0]));		/* MR */
	assert_false(ht_select_global_event(rs->r[5]));		/* AAL */
}

/* ---- validation ---- */

static void
expect_error(const char *sq, const char *type, const char *needle)
{
	struct ht_select_error err = { NULL, "" };
	struct ht_select *s = NULL;
	struct json_object *o = J(sq);
	int r = ht_select_parse(o, &s, &err);

	json_object_put(o);
	if (r != -EINVAL || s != NULL)
		fail_msg("%s: want -EINVAL, got %d", sq, r);
	assert_non_null(err.type);
	if (strcmp(err.type, type) != 0 || strstr(err.message, needle) == NULL)
		fail_msg("%s: want %s containing \"%s\", got %s: %s", sq, type, needle, err.type,
		    err.message);
}

#define INVALID(sq, needle) expect_error(sq, HT_SELECT_INVALID, needle)

/* {'EventSelectors':[...]} with n_sel selectors sharing n_values File
 * values, plus extra "/" values that do not count. */
static char *
many_resources(size_t n_sel, size_t n_values, size_t n_all)
{
	size_t size = 64 + n_sel * 128 + (n_values + n_all) * 32, off = 0, i, v = 0;
	char *s = malloc(size);

	assert_non_null(s);
	off += (size_t)snprintf(s + off, size - off, "{'EventSelectors':[");
	for (i = 0; i < n_sel; i++) {
		size_t k, per = n_values / n_sel + (i < n_values % n_sel);

		off += (size_t)snprintf(s + off, size - off, "%s{'DataResources':[{'Type':"
		    "'Host::File','Values':[", i ? "," : "");
		for (k = 0; k < per; k++, v++)
			off += (size_t)snprintf(s + off, size - off, "%s'/srv/f%zu'", k ? "," : "",
			    v);
		for (k = 0; i == 0 && k < n_all; k++)
			off += (size_t)snprintf(s + off, size - off, "%s'/'", per + k ? "," : "");
		off += (size_t)snprintf(s + off, size - off, "]}]}");
	}
	snprintf(s + off, size - off, "]}");
	return s;
}

static void
test_basic_limits(void **state)
{
	char *sq;

	(void)state;
	INVALID(BASIC("{},{},{},{},{},{}"), "at most 5 event selectors");
	ht_select_free(parse_ok(BASIC("{},{},{},{},{}")));

	sq = many_resources(3, 251, 0);
	INVALID(sq, "Specify a valid number of DataResources.Values (0 to 250)");
	free(sq);
	sq = many_resources(5, 250, 0);
	ht_select_free(parse_ok(sq));
	free(sq);
	sq = many_resources(1, 250, 3);		/* "/" does not count */
	ht_select_free(parse_ok(sq));
	free(sq);
}

static void
test_basic_invalid(void **state)
{
	(void)state;
	INVALID("{'EventSelectors':[],'AdvancedEventSelectors':[]}", "not both");
	INVALID("{'TrailName':'t'}", "Specify EventSelectors or AdvancedEventSelectors");
	INVALID(BASIC("{'DataResources':[" DR("AWS::S3::Object", "'arn:aws:s3'") "]}"),
	    "Value AWS::S3::Object for DataResources.Type is invalid; valid types are "
	    "Host::File, Host::Process");
	INVALID(BASIC("{'DataResources':[{'Values':['/etc/']}]}"), "Type is required");
	INVALID(BASIC("{'DataResources':[" DR("Host::File", "'etc/passwd'") "]}"),
	    "Value etc/passwd for DataResources.Values is invalid");
	INVALID(BASIC("{'DataResources':[" DR("Host::File", "''") "]}"), "Values[0] must be 1");
	INVALID(BASIC("{'ReadWriteType':'Everything'}"),
	    "EventSelectors[0].ReadWriteType: Value Everything for ReadWriteType is invalid");
	INVALID(BASIC("{'ExcludeManagementEventSources':['a\\nb']}"), "line break");
	expect_error(BASIC("{'IncludeManagementEvents':'yes'}"), HT_SELECT_SERIALIZATION,
	    "EventSelectors[0].IncludeManagementEvents must be a JSON boolean");
	expect_error("{'EventSelectors':{}}", HT_SELECT_SERIALIZATION,
	    "EventSelectors must be a JSON array");
	expect_error(BASIC("{'DataResources':[" DR("Host::File", "7") "]}"),
	    HT_SELECT_SERIALIZATION, "Values[0] must be a JSON string");
	/* JSON null is an absent member. */
	ht_select_free(parse_ok("{'EventSelectors':[{'ReadWriteType':null}],"
	    "'AdvancedEventSelectors':null}"));
}

/* {'AdvancedEventSelectors':[...]} with eventCategory Data, resources.type
 * and n eventName values: n + 2 values in all. */
static char *
many_values(size_t n)
{
	size_t size = 256 + n * 16, off = 0, i;
	char *s = malloc(size);

	assert_non_null(s);
	off += (size_t)snprintf(s + off, size - off, "%s", "{'AdvancedEventSelectors':["
	    "{'FieldSelectors':[" FILES_ "{'Field':'eventName','Equals':[");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, size - off, "%s'E%zu'", i ? "," : "", i);
	snprintf(s + off, size - off, "]}]}]}");
	return s;
}

static void
test_advanced_limits(void **state)
{
	char *sq;

	(void)state;
	sq = many_values(499);
	INVALID(sq, "Specify a valid number of values (at most 500) for all conditions of all "
	    "your advanced event selectors; 501 were given");
	free(sq);
	sq = many_values(498);
	ht_select_free(parse_ok(sq));
	free(sq);
}

static void
test_advanced_invalid(void **state)
{
	char big[2100];

	(void)state;
	INVALID(ADV(SEL(F("readOnly", "Equals", "'true'"))),
	    "AdvancedEventSelectors[0]: eventCategory is required in every advanced event "
	    "selector");
	INVALID(ADV(SEL(F("eventCategory", "StartsWith", "'Man'"))),
	    "eventCategory supports only the Equals operator, not StartsWith");
	INVALID(ADV(SEL(CAT("ActivityAuditLog"))), "is for event data stores only");
	INVALID(ADV(SEL(CAT("Everything"))), "Value Everything for eventCategory is invalid");
	INVALID(ADV(SEL(F("eventCategory", "Equals", "'Management','Data'"))),
	    "eventCategory takes exactly one value");
	INVALID(ADV(SEL(MGMT_ CAT("Management"))), "eventCategory appears more than once");
	INVALID(ADV(SEL(MGMT_ F("eventTime", "Equals", "'x'"))),
	    "FieldSelectors[1]: Field eventTime is not valid; valid fields are eventCategory, "
	    "readOnly, eventSource");
	INVALID(ADV(SEL(MGMT_ F("eventName", "Equals", "'x'"))),
	    "Field eventName is not supported for Management events; supported fields are "
	    "eventCategory, readOnly, eventSource");
	INVALID(ADV(SEL(MGMT_ F("eventSource", "Equals", "'sshd.hosttrail'"))),
	    "eventSource supports only NotEquals for Management events, not Equals");
	INVALID(ADV(SEL(MGMT_ F("readOnly", "Equals", "'yes'"))),
	    "Value yes for readOnly is invalid; use true or false");
	INVALID(ADV(SEL(CAT("Data"))), "resources.type is required for Data events");
	INVALID(ADV(SEL(FILES_ F("resources.type", "Equals", "'Host::Process'"))),
	    "resources.type may appear only once in a selector");
	INVALID(ADV(SEL(CAT("Data") "," F("resources.type", "Equals",
	    "'Host::File','Host::Process'"))), "resources.type takes exactly one value");
	INVALID(ADV(SEL(CAT("Data") "," F("resources.type", "Equals", "'Host::Socket'"))),
	    "Value Host::Socket for resources.type is invalid; valid types are Host::File, "
	    "Host::Process");
	INVALID(ADV(SEL(CAT("Data") "," F("resources.type", "StartsWith", "'Host::'"))),
	    "resources.type supports only Equals");
	INVALID(ADV(SEL(FILES_ F("resources.ARN", "StartsWith", "'etc/'"))),
	    "Value etc/ for resources.ARN is invalid; use an absolute path");
	INVALID(ADV(SEL(FILES_ F("sessionCredentialFromConsole", "StartsWith", "'t'"))),
	    "supports only Equals, NotEquals");
	INVALID(ADV(SEL(FILES_ F("vpcEndpointId", "Equals", "'vpce-1'"))),
	    "Field vpcEndpointId is not supported for Data events");
	INVALID(ADV(SEL(CAT("NetworkActivity"))), "eventSource is required for NetworkActivity");
	INVALID(ADV(SEL(NETW_ "," F("errorCode", "Equals", "'AccessDenied'"))),
	    "the only value is VpceAccessDenied");
	INVALID(ADV(SEL(FILES_ F("eventName", "Equals", ""))), "Equals must have at least 1 value");
	INVALID(ADV(SEL(FILES_ "{'Field':'eventName'}")), "has no operator");
	INVALID(ADV(SEL(FILES_ "{'Equals':['x']}")), "FieldSelectors[2]: Field is required");
	INVALID(ADV("{'FieldSelectors':[]}"), "must have at least one field selector");
	INVALID(ADV("{'Name':'x'}"), "AdvancedEventSelectors[0].FieldSelectors is required");
	INVALID(ADV(SEL(FILES_ F("eventName", "Equals", "'a\\u2028b'"))), "line break");

	memset(big, 'a', 2049);
	big[2049] = '\0';
	{
		char sq[2300];

		snprintf(sq, sizeof(sq), ADV(SEL(FILES_ F("eventName", "EndsWith", "'%s'"))), big);
		INVALID(sq, "must be 1 to 2048 characters long, not 2049");
		big[2048] = '\0';
		snprintf(sq, sizeof(sq), ADV(SEL(FILES_ F("eventName", "EndsWith", "'%s'"))), big);
		ht_select_free(parse_ok(sq));
		memset(big, 'n', 1001);
		big[1001] = '\0';
		snprintf(sq, sizeof(sq), ADV("{'Name':'%s','FieldSelectors':["
		    CAT("Management") "]}"), big);
		INVALID(sq, "Name must be 0 to 1000 characters long");
	}
	expect_error(ADV(SEL("{'Field':'eventCategory','Equals':'Data'}")),
	    HT_SELECT_SERIALIZATION, "FieldSelectors[0].Equals must be a JSON array");
}

/* A long bad value is quoted short, cut on a UTF-8 character boundary:
 * "x" then e-acute (2 bytes) repeated puts byte 80 inside a character. */
static void
test_message_truncation(void **state)
{
	struct ht_select_error err = { NULL, "" };
	struct ht_select *s = NULL;
	struct json_object *o;
	char sq[512], val[300], want[300];
	size_t i;

	(void)state;
	strcpy(val, "x");
	for (i = 0; i < 99; i++)
		strcat(val, "\xc3\xa9");
	snprintf(sq, sizeof(sq), BASIC("{'ReadWriteType':'%s'}"), val);
	o = J(sq);
	assert_int_equal(ht_select_parse(o, &s, &err), -EINVAL);
	json_object_put(o);
	strcpy(want, "Value x");
	for (i = 0; i < 39; i++)
		strcat(want, "\xc3\xa9");
	strcat(want, " for ReadWriteType");
	assert_non_null(strstr(err.message, want));
}

/* ---- GetEventSelectors shape and persisted form ---- */

static void
expect_json(const struct ht_select *s, const char *want_sq)
{
	struct json_object *o = json_object_new_object(), *want = J(want_sq);

	assert_non_null(o);
	assert_int_equal(ht_select_add_json(s, o), 0);
	if (!json_object_equal(o, want) ||
	    strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	    json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN)) != 0)
		fail_msg("got %s\nwant %s", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN), json_object_to_json_string_ext(want,
		    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	json_object_put(want);
}

#define DEFAULT_BASIC "{'ReadWriteType':'All','IncludeManagementEvents':true," \
	"'DataResources':[],'ExcludeManagementEventSources':[]}"

static void
test_get_shape(void **state)
{
	struct ht_select *s;

	(void)state;
	expect_json(NULL, BASIC(DEFAULT_BASIC));
	assert_false(ht_select_is_advanced(NULL));

	s = parse_ok(BASIC("{}"));
	expect_json(s, BASIC(DEFAULT_BASIC));
	ht_select_free(s);

	s = parse_ok(BASIC("{'IncludeManagementEvents':false,'DataResources':["
	    DR("Host::File", "'/etc/','/'") "]},{'ReadWriteType':'ReadOnly',"
	    "'ExcludeManagementEventSources':['kms.amazonaws.com']}"));
	expect_json(s, BASIC("{'ReadWriteType':'All','IncludeManagementEvents':false,"
	    "'DataResources':[" DR("Host::File", "'/etc/','/'") "],"
	    "'ExcludeManagementEventSources':[]},"
	    "{'ReadWriteType':'ReadOnly','IncludeManagementEvents':true,'DataResources':[],"
	    "'ExcludeManagementEventSources':['kms.amazonaws.com']}"));
	assert_false(ht_select_is_advanced(s));
	ht_select_free(s);

	/* Advanced: Name kept, fields in the given order, operators in the
	 * model's order. */
	s = parse_ok(ADV("{'Name':'sudo and /etc','FieldSelectors':["
	    "{'Field':'resources.ARN','NotEndsWith':['~'],'StartsWith':['/etc/']},"
	    FILES_ "{'Field':'readOnly','Equals':['false']}]},"
	    SEL(MGMT_ F("eventSource", "NotEquals", "'kms.amazonaws.com'"))));
	expect_json(s, ADV("{'Name':'sudo and /etc','FieldSelectors':["
	    "{'Field':'resources.ARN','StartsWith':['/etc/'],'NotEndsWith':['~']},"
	    FILES_ "{'Field':'readOnly','Equals':['false']}]},"
	    SEL(MGMT_ F("eventSource", "NotEquals", "'kms.amazonaws.com'"))));
	assert_true(ht_select_is_advanced(s));
	ht_select_free(s);

	s = parse_ok(ADV(""));
	expect_json(s, "{'AdvancedEventSelectors':[]}");
	ht_select_free(s);
}

static void
test_state(void **state)
{
	struct ht_select_error err = { NULL, "" };
	struct json_object *st, *o;
	struct ht_select *s, *s2 = NULL;

	(void)state;
	s = parse_ok(BASIC("{'ReadWriteType':'WriteOnly','DataResources':["
	    DR("Host::Process", "'/usr/bin/'") "]}"));
	assert_int_equal(ht_select_to_state(s, &st), 0);
	assert_string_equal(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE),
	    "{\"version\":1,\"EventSelectors\":[{\"ReadWriteType\":\"WriteOnly\","
	    "\"IncludeManagementEvents\":true,\"DataResources\":[{\"Type\":\"Host::Process\","
	    "\"Values\":[\"/usr/bin/\"]}],\"ExcludeManagementEventSources\":[]}]}");
	assert_int_equal(ht_select_from_state(st, &s2, &err), 0);
	json_object_put(st);
	expect_json(s2, BASIC("{'ReadWriteType':'WriteOnly','IncludeManagementEvents':true,"
	    "'DataResources':[" DR("Host::Process", "'/usr/bin/'") "],"
	    "'ExcludeManagementEventSources':[]}"));
	ht_select_free(s2);
	ht_select_free(s);

	s = parse_ok(ADV("{'Name':'n','FieldSelectors':[" FILES_
	    F("userIdentity.arn", "EndsWith", "'/alice'") "]}"));
	s2 = reload(s);
	expect_json(s2, ADV("{'Name':'n','FieldSelectors':[" FILES_
	    F("userIdentity.arn", "EndsWith", "'/alice'") "]}"));
	ht_select_free(s2);
	ht_select_free(s);

	/* A state without a version, or another version, is refused. */
	s2 = NULL;
	o = J("{'EventSelectors':[]}");
	assert_int_equal(ht_select_from_state(o, &s2, &err), -EINVAL);
	assert_null(s2);
	assert_non_null(strstr(err.message, "version must be 1"));
	json_object_put(o);
	o = J("{'version':2,'EventSelectors':[]}");
	assert_int_equal(ht_select_from_state(o, &s2, &err), -EINVAL);
	json_object_put(o);
	o = J("{'version':1,'AdvancedEventSelectors':[" SEL(CAT("Data")) "]}");
	assert_int_equal(ht_select_from_state(o, &s2, &err), -EINVAL);
	assert_string_equal(err.type, HT_SELECT_INVALID);
	json_object_put(o);
	o = J("[]");
	assert_int_equal(ht_select_from_state(o, &s2, &err), -EINVAL);
	json_object_put(o);
}

static void
test_ref(void **state)
{
	struct records *rs = *state;
	struct ht_select *s = parse_ok(BASIC("{'ReadWriteType':'ReadOnly'}")), *r;

	assert_null(ht_select_ref(NULL));
	r = ht_select_ref(s);
	assert_ptr_equal(r, s);
	ht_select_free(s);
	assert_true(ht_select_match(r, &scopes[G], rs->r[0]));	/* still alive */
	ht_select_free(r);
	ht_select_free(NULL);
}

/* The matcher runs per record x trail; it must stay far above 200k/s
 * (the floor holds under ASan too). */
static void
test_speed(void **state)
{
	struct records *rs = *state;
	struct ht_select *s = parse_ok(ADV(SEL(MGMT_ F("readOnly", "Equals", "'false'")) ","
	    SEL(FILES_ F("resources.ARN", "StartsWith", "'/etc/','/root/','/home/'") ","
		F("eventName", "NotEquals", "'StatFile'"))));
	struct timespec t0, t1;
	size_t i, n = 400000, hits = 0;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		hits += ht_select_match(s, &scopes[G], rs->r[i % N_RECS]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("%.0f checks/s\n", (double)n / secs);
	assert_true(hits > 0);
	assert_true((double)n / secs > 200000.0);
	ht_select_free(s);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_records, teardown_records)
	const struct CMUnitTest tests[] = {
		T(test_table),
		T(test_scope),
		cmocka_unit_test(test_basic_limits),
		cmocka_unit_test(test_basic_invalid),
		cmocka_unit_test(test_advanced_limits),
		cmocka_unit_test(test_advanced_invalid),
		cmocka_unit_test(test_message_truncation),
		cmocka_unit_test(test_get_shape),
		cmocka_unit_test(test_state),
		T(test_ref),
		T(test_speed),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
