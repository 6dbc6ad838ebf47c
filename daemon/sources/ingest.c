/*
 * ingest.c - see ingest.h.
 *
 * One request = one pipeline batch: the reply is sent when history says the
 * accepted records are durable, so an eventID in a reply is a promise that
 * the event will be delivered.  A client that disconnects before the reply
 * loses nothing: its records are already appended.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "api/http.h"
#include "api/reply.h"
#include "conf.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "sources/ingest.h"
#include "sources/ingest_parse.h"
#include "util.h"

struct ingest {
	const struct ht_source_env *env;
	char **channels;
	size_t n_channels;
	bool draining;
	unsigned inflight;
	uint64_t requests, accepted, rejected, refused_requests;
};

/* One request waiting for its records to become durable. */
struct ingest_req {
	struct ingest *in;
	struct evhttp_request *req;
	struct ht_ingest_batch *batch;
};

static void
channels_free(char **ch, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ch[i]);
	free(ch);
}

static int
ingest_set_channels(struct ingest *in, const struct ht_conf_source *sc)
{
	char **ch = calloc(sc->n_channels ? sc->n_channels : 1, sizeof(*ch));

	if (ch == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sc->n_channels; i++) {
		ch[i] = strdup(sc->channels[i]);
		if (ch[i] == NULL) {
			channels_free(ch, i);
			return -ENOMEM;
		}
	}
	channels_free(in->channels, in->n_channels);
	in->channels = ch;
	in->n_channels = sc->n_channels;
	return 0;
}

static bool
ingest_has_channel(const struct ingest *in, const char *name)
{
	for (size_t i = 0; i < in->n_channels; i++)
		if (strcmp(in->channels[i], name) == 0)
			return true;
	return false;
}

/* Resolve channelArn (an ARN or a bare channel id) to the channel's ARN.
 * On error replies and returns NULL. */
static char *
ingest_channel(struct ingest *in, struct evhttp_request *req)
{
	const struct ht_conf *conf = in->env->conf;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params = { 0 };
	const char *arn, *name = NULL;
	char *want, *out = NULL;
	size_t plen;

	if (query == NULL || evhttp_parse_query_str(query, &params) < 0 ||
	    (arn = evhttp_find_header(&params, "channelArn")) == NULL || *arn == '\0') {
		ht_reply_error(req, 400, "ValidationException",
		    "the channelArn query parameter is required");
		goto out;
	}
	want = ht_channel_arn(conf->region, conf->account_id, "");
	if (want == NULL) {
		ht_reply_error(req, 500, "InternalFailure", "out of memory");
		goto out;
	}
	plen = strlen(want);
	if (strncmp(arn, "arn:", 4) != 0)
		name = arn;
	else if (strncmp(arn, want, plen) == 0)
		name = arn + plen;
	free(want);
	if (name == NULL || *name == '\0') {
		ht_reply_error(req, 400, "InvalidChannelARN", "%.300s is not a channel ARN of "
		    "this host (arn:aws:cloudtrail:%s:%s:channel/NAME)", arn, conf->region,
		    conf->account_id);
		goto out;
	}
	if (!ingest_has_channel(in, name)) {
		ht_reply_error(req, 400, "ChannelNotFound", "channel %.200s is not configured "
		    "(sources[].channels)", name);
		goto out;
	}
	out = ht_channel_arn(conf->region, conf->account_id, name);
	if (out == NULL)
		ht_reply_error(req, 500, "InternalFailure", "out of memory");
out:
	evhttp_clear_headers(&params);
	return out;
}

static struct json_object *
ingest_result(const struct ht_ingest_batch *b, int err)
{
	struct json_object *root = json_object_new_object();
	struct json_object *ok = json_object_new_array(), *failed = json_object_new_array();

	for (size_t i = 0; i < b->n_items; i++) {
		const struct ht_ingest_item *it = &b->items[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", it->id ? json_object_new_string(it->id) : NULL);
		if (it->rec && err == 0) {
			json_object_object_add(o, "eventID", json_object_new_string(it->rec->event_id));
			json_object_array_add(ok, o);
			continue;
		}
		json_object_object_add(o, "errorCode", json_object_new_string(it->rec ?
		    "InternalFailure" : it->error_code));
		json_object_object_add(o, "errorMessage", json_object_new_string(it->rec ?
		    "the event could not be stored durably; retry it" :
		    (it->error_message ? it->error_message : it->error_code)));
		json_object_array_add(failed, o);
	}
	json_object_object_add(root, "successful", ok);
	json_object_object_add(root, "failed", failed);
	return root;
}

static void
ingest_reply(struct ingest_req *r, int err)
{
	struct json_object *res = ingest_result(r->batch, err);
	struct ht_ingest_batch *b = r->batch;

	for (size_t i = 0; i < b->n_items; i++) {
		if (b->items[i].rec && err == 0)
			r->in->accepted++;
		else
			r->in->rejected++;
	}
	ht_reply_json(r->req, 200, res);
	json_object_put(res);
	ht_ingest_batch_free(r->batch);
	free(r);
}

static void
ingest_durable_cb(int err, void *arg)
{
	struct ingest_req *r = arg;

	r->in->inflight--;
	ingest_reply(r, err);
}

/* Hand the accepted records to the pipeline; reply when durable. */
static void
ingest_submit(struct ingest *in, struct ingest_req *r)
{
	struct ht_ingest_batch *b = r->batch;
	struct ht_record **recs;
	size_t n = 0;
	int v;

	recs = calloc(b->n_items ? b->n_items : 1, sizeof(*recs));
	if (recs == NULL) {
		ingest_reply(r, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < b->n_items; i++)
		if (b->items[i].rec)
			recs[n++] = b->items[i].rec;
	in->inflight++;
	v = ht_pipeline_submit(in->env->pipeline, recs, n, ingest_durable_cb, r);
	free(recs);
	if (v < 0) {
		in->inflight--;
		log_msg(HT_LOG_ERR, -v, "ingest: cannot append %zu events to history", n);
		ingest_reply(r, v);
	}
}

static void
ingest_handle(struct evhttp_request *req, void *arg)
{
	struct ingest *in = arg;
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct ht_ingest_context ctx;
	struct ht_ingest_error err = { 0 };
	struct ht_api_caller caller;
	struct ingest_req *r;
	char why[256];
	size_t len = evbuffer_get_length(body);
	char *arn;
	int v;

	in->requests++;
	if (ht_api_authorize(in->env->api, req, "cloudtrail-data", "PutAuditEvents", &caller) < 0) {
		in->refused_requests++;
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		ht_reply_error(req, 400, "ValidationException", "PutAuditEvents takes POST");
		return;
	}
	if (in->draining) {
		ht_reply_error(req, 503, "ServiceUnavailableException", "hosttraild is stopping");
		return;
	}
	if (ht_pipeline_blocked(in->env->pipeline, why, sizeof(why))) {
		/* Nothing is lost: the client keeps the events and retries
		 * (the AWS SDKs retry ThrottlingException by themselves). */
		in->refused_requests++;
		ht_reply_error(req, 400, "ThrottlingException", "hosttraild is holding back new "
		    "events: %s; retry later", why);
		return;
	}
	if (len > HT_INGEST_MAX_BODY) {
		in->refused_requests++;
		ht_reply_error(req, 400, "ValidationException", "the request body is %zu bytes; "
		    "at most %d are allowed", len, HT_INGEST_MAX_BODY);
		return;
	}
	arn = ingest_channel(in, req);
	if (arn == NULL) {
		in->refused_requests++;
		return;
	}
	ctx = (struct ht_ingest_context){ .channel_arn = arn, .region = in->env->conf->region,
		.account_id = in->env->conf->account_id, .now_ms = ht_now_ms() };
	r = calloc(1, sizeof(*r));
	v = r ? ht_ingest_parse((const char *)evbuffer_pullup(body, -1), len, &ctx, &r->batch, &err)
	      : -ENOMEM;
	free(arn);
	if (v < 0) {
		in->refused_requests++;
		free(r);
		if (v == -ENOMEM)
			ht_reply_error(req, 500, "InternalFailure", "out of memory");
		else
			ht_reply_error(req, 400, err.type, "%s", err.message);
		return;
	}
	r->in = in;
	r->req = req;
	ingest_submit(in, r);
}

static int
ingest_start(const struct ht_source_env *env, const struct ht_conf_source *sc, void **ret)
{
	struct ingest *in = calloc(1, sizeof(*in));
	int v;

	if (in == NULL)
		return -ENOMEM;
	in->env = env;
	v = ingest_set_channels(in, sc);
	if (v == 0)
		v = ht_api_route(env->api, HT_INGEST_PATH, ingest_handle, in);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "ingest: cannot start");
		channels_free(in->channels, in->n_channels);
		free(in);
		return v;
	}
	*ret = in;
	return 0;
}

static int
ingest_reconfigure(void *state, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct ingest *in = state;
	int v = ingest_set_channels(in, sc);

	if (v < 0)
		log_msg(HT_LOG_ERR, -v, "ingest: cannot apply new channels; keeping the old ones");
	return v;
}

static void
ingest_drain(void *state)
{
	((struct ingest *)state)->draining = true;
}

static unsigned
ingest_inflight(void *state)
{
	return ((struct ingest *)state)->inflight;
}

static void
ingest_status(void *state, char *buf, size_t len)
{
	struct ingest *in = state;

	snprintf(buf, len, "ingest: %llu requests, %llu events accepted, %llu rejected, "
	    "%llu requests refused", (unsigned long long)in->requests,
	    (unsigned long long)in->accepted, (unsigned long long)in->rejected,
	    (unsigned long long)in->refused_requests);
}

static void
ingest_stop(void *state)
{
	struct ingest *in = state;

	ht_api_unroute(in->env->api, HT_INGEST_PATH);
	channels_free(in->channels, in->n_channels);
	free(in);
}

const struct ht_source_ops ht_src_ingest_ops = {
	.type = "ingest",
	.start = ingest_start,
	.reconfigure = ingest_reconfigure,
	.drain = ingest_drain,
	.inflight = ingest_inflight,
	.status = ingest_status,
	.stop = ingest_stop,
};
