/*
 * pipeline.c - see pipeline.h.  A batch is serialized into one printbuf and
 * handed to history as an iovec per record, so history writes the whole
 * batch with one write(2).
 */
#include "ht_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <json-c/printbuf.h>

#include "conf.h"
#include "history/history.h"
#include "pipeline.h"
#include "record.h"
#include "util.h"

struct ht_pipeline {
	struct ht_history *history;
	const struct ht_conf *conf;
	struct ht_pipeline_stats stats;
	ht_pipeline_gate_fn gate;
	void *gate_arg;
};

struct submission {
	struct ht_pipeline *p;
	size_t n;
	uint64_t bytes;
	ht_pipeline_done_fn done;
	void *arg;
};

int
ht_pipeline_new(struct ht_history *h, const struct ht_conf *conf, struct ht_pipeline **ret)
{
	struct ht_pipeline *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->history = h;
	p->conf = conf;
	*ret = p;
	return 0;
}

void
ht_pipeline_set_conf(struct ht_pipeline *p, const struct ht_conf *conf)
{
	p->conf = conf;
}

static int
set_if_unset(char **field, const char *value)
{
	if (*field != NULL)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

/* Fill the fields every record carries. */
static int
pipeline_stamp(const struct ht_pipeline *p, struct ht_record *rec, time_t now)
{
	char id[HT_UUID_LEN];
	int v;

	/* eventID is always ours: a source cannot pick another record's ID. */
	v = ht_uuid_v4(id);
	if (v < 0)
		return v;
	free(rec->event_id);
	rec->event_id = strdup(id);
	if (rec->event_id == NULL)
		return -ENOMEM;
	if (rec->event_time == 0)
		rec->event_time = now;
	if (set_if_unset(&rec->event_version, HT_EVENT_VERSION) < 0 ||
	    set_if_unset(&rec->aws_region, p->conf->region) < 0 ||
	    set_if_unset(&rec->recipient_account_id, p->conf->account_id) < 0)
		return -ENOMEM;
	return 0;
}

static void
pipeline_durable_cb(int err, void *arg)
{
	struct submission *s = arg;

	if (err < 0) {
		s->p->stats.failed += s->n;
	} else {
		s->p->stats.records += s->n;
		s->p->stats.bytes += s->bytes;
	}
	s->done(err, s->arg);
	free(s);
}

static int
pipeline_serialize(struct ht_pipeline *p, struct ht_record *const *recs, size_t n,
    struct printbuf *pb, size_t *offs)
{
	time_t now = time(NULL);
	int v;

	for (size_t i = 0; i < n; i++) {
		v = pipeline_stamp(p, recs[i], now);
		if (v < 0)
			return v;
		offs[i] = (size_t)pb->bpos;
		v = ht_record_serialize(recs[i], pb);
		if (v < 0)
			return v;
	}
	offs[n] = (size_t)pb->bpos;
	return 0;
}

int
ht_pipeline_submit(struct ht_pipeline *p, struct ht_record *const *recs, size_t n,
    ht_pipeline_done_fn done, void *arg)
{
	struct submission *s = NULL;
	struct iovec *iov = NULL;
	struct printbuf *pb;
	size_t *offs = NULL;
	int v = -ENOMEM;

	if (n == 0) {
		done(0, arg);
		return 0;
	}
	pb = printbuf_new();
	offs = calloc(n + 1, sizeof(*offs));
	iov = calloc(n, sizeof(*iov));
	s = calloc(1, sizeof(*s));
	if (pb == NULL || offs == NULL || iov == NULL || s == NULL)
		goto out;
	v = pipeline_serialize(p, recs, n, pb, offs);
	if (v < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = pb->buf + offs[i];
		iov[i].iov_len = offs[i + 1] - offs[i];
	}
	*s = (struct submission){ .p = p, .n = n, .bytes = offs[n], .done = done, .arg = arg };
	v = ht_history_append_records(p->history, iov, (const struct ht_record *const *)recs, n,
	    pipeline_durable_cb, s);
	if (v == 0)
		s = NULL;	/* owned by the durable callback now */
out:
	if (v < 0)
		p->stats.failed += n;
	free(s);
	free(iov);
	free(offs);
	if (pb)
		printbuf_free(pb);
	return v;
}

void
ht_pipeline_set_gate(struct ht_pipeline *p, ht_pipeline_gate_fn gate, void *arg)
{
	p->gate = gate;
	p->gate_arg = arg;
}

bool
ht_pipeline_blocked(const struct ht_pipeline *p, char *why, size_t len)
{
	return p->gate != NULL && p->gate(why, len, p->gate_arg);
}

void
ht_pipeline_stats(const struct ht_pipeline *p, struct ht_pipeline_stats *ret)
{
	*ret = p->stats;
}

void
ht_pipeline_free(struct ht_pipeline *p)
{
	free(p);
}
