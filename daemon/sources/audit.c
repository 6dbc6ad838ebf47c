/*
 * audit.c - see audit.h.
 *
 * Reading.  One datagram is one audit record (kernel audit never batches
 * them); the read callback takes at most AU_MSGS_PER_CB per wake-up so the
 * API stays responsive under a storm, and the socket stays readable for
 * the next turn of the loop.  Records are parsed, their serials noted for
 * gap counting, and fed to the assembler; closed events are mapped at once
 * (the record is all we keep) and queued.
 *
 * Storing.  The queue goes to the pipeline in batches, at most
 * AU_INFLIGHT_MAX of them not yet durable; nothing is submitted while the
 * pipeline holds intake back (a trail's outbox is full), except at
 * shutdown.  A batch history could not store is lost (the kernel cannot
 * send it again): counted and reported like any other loss.
 *
 * Status.  A second, non-blocking socket asks AUDIT_GET every
 * status_interval; the reply's lost counter, less its value at start, is
 * the kernel's loss.  Its backlog tells how far behind the kernel's queue
 * is.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/netlink.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "conf.h"
#include "fileio.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "sources/audit.h"
#include "sources/audit_ctl.h"
#include "sources/audit_gaps.h"
#include "sources/audit_map.h"
#include "sources/audit_parse.h"
#include "util.h"

#define AU_RECV_MAX (NLMSG_HDRLEN + HT_AUDIT_LINE_MAX)	/* longer records are refused anyway */
#define AU_MSGS_PER_CB 1024		/* records read per wake-up */
#define AU_BATCH_MAX 1000		/* records per pipeline batch */
#define AU_INFLIGHT_MAX 64		/* batches not yet durable */
#define AU_TICK_MS 250			/* end-of-event timeout, gaps, status, reports */
#define AU_GAP_GRACE_MIN_MS 5000	/* a serial this late is lost */
#define AU_CTL_TIMEOUT_MS 2000		/* blocking kernel requests at start/stop */
#define AU_RL_BURST 5			/* messages about bad records per AU_RL_MS */
#define AU_RL_MS 10000

/* Losses of every kind; a report covers the difference to the last one. */
struct au_loss {
	uint64_t kernel;	/* the kernel's lost counter, since start */
	uint64_t overflows;	/* ENOBUFS: our socket buffer overflowed */
	uint64_t gaps;		/* serials never received */
	uint64_t dropped;	/* events discarded by backpressure: drop */
	uint64_t unstored;	/* records history failed to store */
};

struct au_stats {
	uint64_t msgs, bad, events, incomplete, records, durable;
	struct au_loss loss;
};

/* The settings a reload may change without touching the kernel. */
struct au_soft {
	enum ht_audit_backpressure bp;
	uint64_t queue_max, report_ms, status_ms;
	struct ht_audit_asm_conf asm_conf;
};

/* The kernel settings of unicast mode, and the rules loaded with them. */
struct au_kernel {
	uint32_t backlog_limit, rate_limit;
	int failure;
	struct ht_audit_rules *rules;
	char *signature;	/* all of it as text: a reload changes the kernel only
				 * if this differs */
};

struct au_batch {
	struct audit_src *au;
	size_t n;
};

struct audit_src {
	const struct ht_source_env *env;
	enum ht_audit_mode mode;
	struct au_soft soft;
	bool asm_pending;		/* soft.asm_conf changed: swap when nothing is open */
	int fd;				/* records */
	int ctl_fd;			/* AUDIT_GET polling */
	uint64_t rcvbuf;		/* what the kernel granted */
	struct ht_audit_takeover *takeover;	/* unicast */
	char *state_path;		/* unicast */
	struct au_kernel kernel;	/* unicast: what was taken over with */
	uint64_t rcvbuf_want;
	struct ht_audit_asm *assembler;
	struct ht_audit_names *names;
	struct ht_audit_gaps *gaps;
	uint64_t orphans_base;
	/* records waiting for the pipeline */
	struct ht_record **q;
	size_t q_n, q_cap;
	unsigned inflight;
	uint64_t inflight_recs;
	/* kernel status */
	bool have_lost_base, status_asked;
	uint32_t lost_base, backlog, kernel_pid, enabled;
	uint32_t ctl_seq;
	int64_t status_due, report_due;
	struct au_loss reported;
	/* loop */
	struct event *read_ev, *ctl_ev, *tick_ev;
	bool reading, held_logged, draining, stopping;
	bool submitting;		/* in au_submit: a batch may be durable at once,
					 * and its callback must not submit the same
					 * records again */
	struct au_stats st;
	int64_t rl_start;
	unsigned rl_n;
	uint64_t rl_dropped;
	char *buf;
};

static void au_submit(struct audit_src *au);
static void au_free(struct audit_src *au);
static void au_set_rcvbuf(struct audit_src *au, uint64_t want);

/* ---- helpers ---- */

static bool
rl_ok(struct audit_src *au)
{
	int64_t now = ht_mono_ms();

	if (now - au->rl_start >= AU_RL_MS) {
		if (au->rl_dropped > 0)
			log_warnx("audit: %" PRIu64 " more messages about bad records suppressed",
			    au->rl_dropped);
		au->rl_start = now;
		au->rl_n = 0;
		au->rl_dropped = 0;
	}
	if (au->rl_n < AU_RL_BURST) {
		au->rl_n++;
		return true;
	}
	au->rl_dropped++;
	return false;
}

static const char *
mode_name(enum ht_audit_mode m)
{
	return m == HT_AUDIT_UNICAST ? "unicast" : "multicast";
}

static uint64_t
loss_total(const struct au_loss *l)
{
	return l->kernel + l->overflows + l->gaps + l->dropped + l->unstored;
}

static uint64_t
queued(const struct audit_src *au)
{
	return au->q_n + au->inflight_recs;
}

static void
soft_from_conf(const struct ht_conf_source *sc, struct au_soft *ret)
{
	*ret = (struct au_soft){
		.bp = sc->backpressure,
		.queue_max = sc->queue_max,
		.report_ms = sc->loss_report_interval_ms,
		.status_ms = sc->status_interval_ms,
		.asm_conf = { .timeout_ms = sc->eoe_timeout_ms,
		    .max_records = sc->max_event_records },
	};
}

/* Start or stop reading the record socket. */
static void
au_read_enable(struct audit_src *au, bool on)
{
	if (au->read_ev == NULL || on == au->reading)
		return;
	if (on)
		event_add(au->read_ev, NULL);
	else
		event_del(au->read_ev);
	au->reading = on;
}

/* Queue rec (taken over). */
static void
au_enqueue(struct audit_src *au, struct ht_record *rec)
{
	if (au->q_n == au->q_cap) {
		size_t cap = au->q_cap ? au->q_cap * 2 : 1024;
		struct ht_record **q = realloc(au->q, cap * sizeof(*q));

		if (q == NULL) {
			ht_record_free(rec);
			au->st.loss.dropped++;
			return;
		}
		au->q = q;
		au->q_cap = cap;
	}
	au->q[au->q_n++] = rec;
}

/* ---- events ---- */

static void
au_event_cb(struct ht_audit_event *e, void *arg)
{
	struct audit_src *au = arg;
	struct ht_audit_map_ctx ctx = { au->names, "netlink", ht_mono_ms() };
	struct ht_record *rec = NULL;

	au->st.events++;
	if (!e->complete)
		au->st.incomplete++;
	if (au->soft.bp == HT_AUDIT_BP_DROP && queued(au) >= au->soft.queue_max &&
	    !au->draining) {
		au->st.loss.dropped++;
	} else if (ht_audit_map(e, &ctx, &rec) < 0) {
		if (rl_ok(au))
			log_warnx("audit: out of memory making the record of audit(%" PRId64
			    ".%03d:%" PRIu64 "); it is lost", e->time_ms / 1000,
			    (int)(e->time_ms % 1000), e->serial);
		au->st.loss.dropped++;
	} else {
		au->st.records++;
		au_enqueue(au, rec);
	}
	ht_audit_event_free(e);
}

/* Is a message of this type an audit record (not a reply to a request)? */
static bool
is_record_type(unsigned type)
{
	return type >= AUDIT_FIRST_USER_MSG || type == AUDIT_USER || type == AUDIT_LOGIN;
}

static void
au_message(struct audit_src *au, const struct nlmsghdr *nh, size_t got)
{
	struct ht_audit_record *r = NULL;
	char err[256];
	size_t len;
	int v;

	if (!is_record_type(nh->nlmsg_type))
		return;	/* NLMSG_ERROR/DONE, replies to our own requests */
	/* The datagram's size, not nlmsg_len: the kernel sends one record per
	 * datagram, and the records it sends to the audit daemon carry the
	 * payload's length in nlmsg_len, without the header (an old quirk
	 * auditd relies on), while multicast copies carry the full length. */
	len = got - NLMSG_HDRLEN;
	au->st.msgs++;
	v = ht_audit_parse_netlink(nh->nlmsg_type, NLMSG_DATA(nh), len, &r, err, sizeof(err));
	if (v < 0) {
		au->st.bad++;
		if (rl_ok(au))
			log_warnx("audit: record of type %u not understood (%s): %.*s",
			    nh->nlmsg_type, v == -EINVAL ? err : strerror(-v),
			    (int)(len < 200 ? len : 200), (const char *)NLMSG_DATA(nh));
		return;
	}
	if (r->serial != 0)
		ht_audit_gaps_see(au->gaps, r->serial, ht_mono_ms());
	if (ht_audit_asm_feed(au->assembler, r, ht_mono_ms()) < 0) {
		au->st.loss.dropped++;
		if (rl_ok(au))
			log_warnx("audit: out of memory assembling a record; it is lost");
	}
}

static void
au_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_src *au = arg;

	for (unsigned i = 0; i < AU_MSGS_PER_CB && au->reading; i++) {
		ssize_t n = recv(fd, au->buf, AU_RECV_MAX, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* the kernel dropped what did not fit; go on */
				if (au->st.loss.overflows++ == 0)
					log_warnx("audit: the socket buffer (%" PRIu64 " bytes) "
					    "overflowed: records were lost (counted; raise "
					    "socket_buffer)", au->rcvbuf);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && rl_ok(au))
				log_warn("audit: reading the audit socket");
			break;
		}
		if ((size_t)n < NLMSG_HDRLEN)
			continue;
		au_message(au, (const struct nlmsghdr *)au->buf, (size_t)n);
		if (au->soft.bp == HT_AUDIT_BP_BLOCK && queued(au) >= au->soft.queue_max)
			au_read_enable(au, false);	/* resumed by au_batch_done */
	}
	au_submit(au);
}

/* ---- storing ---- */

static void
au_batch_done(int err, void *arg)
{
	struct au_batch *b = arg;
	struct audit_src *au = b->au;

	au->inflight--;
	au->inflight_recs -= b->n;
	if (err < 0) {
		au->st.loss.unstored += b->n;
		log_msg(HT_LOG_ERR, -err, "audit: %zu records could not be stored in history; "
		    "they are lost (the kernel does not send them again)", b->n);
	} else {
		au->st.durable += b->n;
	}
	free(b);
	if (au->stopping) {
		if (au->inflight == 0)
			au_free(au);
		return;
	}
	au_submit(au);
	if (!au->draining && !au->reading && queued(au) <= au->soft.queue_max / 2)
		au_read_enable(au, true);
}

static void
au_submit(struct audit_src *au)
{
	char why[256];

	if (au->stopping || au->submitting)
		return;
	au->submitting = true;
	while (au->q_n > 0 && au->inflight < AU_INFLIGHT_MAX) {
		size_t n = au->q_n < AU_BATCH_MAX ? au->q_n : AU_BATCH_MAX;
		struct au_batch *b;
		int v;

		if (!au->draining && ht_pipeline_blocked(au->env->pipeline, why, sizeof(why))) {
			if (!au->held_logged)
				log_warnx("audit: holding %zu records back: %s (backpressure: %s)",
				    au->q_n, why, au->soft.bp == HT_AUDIT_BP_DROP ? "drop" :
				    "block");
			au->held_logged = true;
			break;	/* the tick tries again */
		}
		if (au->held_logged) {
			log_info("audit: storing records again");
			au->held_logged = false;
		}
		if ((b = calloc(1, sizeof(*b))) == NULL)
			break;
		b->au = au;
		b->n = n;
		au->inflight++;
		au->inflight_recs += n;
		v = ht_pipeline_submit(au->env->pipeline, au->q, n, au_batch_done, b);
		for (size_t i = 0; i < n; i++)
			ht_record_free(au->q[i]);
		memmove(au->q, au->q + n, (au->q_n - n) * sizeof(*au->q));
		au->q_n -= n;
		if (v < 0)
			au_batch_done(v, b);
	}
	au->submitting = false;
}

/* ---- loss reports ---- */

static void
add_count(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

/* A record saying what was lost since the last report. */
static struct ht_record *
loss_record(const struct audit_src *au, const struct au_loss *d)
{
	struct ht_record *rec = ht_record_new();
	struct json_object *det, *tot, *uid, *aed;

	if (rec == NULL)
		return NULL;
	rec->event_version = strdup(HT_EVENT_VERSION);
	rec->event_time = (time_t)(ht_now_ms() / 1000);
	rec->event_source = strdup("host.audit");
	rec->event_name = strdup("AuditRecordsLost");
	rec->event_type = strdup("AwsServiceEvent");
	rec->event_category = strdup("Management");
	rec->read_only = HT_TRUE;
	rec->management_event = HT_TRUE;
	rec->user_identity = uid = json_object_new_object();
	rec->service_event_details = det = json_object_new_object();
	rec->additional_event_data = aed = json_object_new_object();
	tot = json_object_new_object();
	if (!rec->event_version || !rec->event_source || !rec->event_name || !rec->event_type ||
	    !rec->event_category || !uid || !det || !aed || !tot) {
		json_object_put(tot);
		ht_record_free(rec);
		return NULL;
	}
	json_object_object_add(uid, "type", json_object_new_string("AWSService"));
	json_object_object_add(uid, "invokedBy", json_object_new_string("hosttrail"));
	add_count(det, "kernelLost", d->kernel);
	add_count(det, "socketOverflows", d->overflows);
	add_count(det, "missingSerials", d->gaps);
	add_count(det, "droppedByBackpressure", d->dropped);
	add_count(det, "notStored", d->unstored);
	add_count(tot, "kernelLost", au->st.loss.kernel);
	add_count(tot, "socketOverflows", au->st.loss.overflows);
	add_count(tot, "missingSerials", au->st.loss.gaps);
	add_count(tot, "droppedByBackpressure", au->st.loss.dropped);
	add_count(tot, "notStored", au->st.loss.unstored);
	json_object_object_add(det, "sinceStart", tot);
	json_object_object_add(aed, "source", json_object_new_string("netlink"));
	json_object_object_add(aed, "mode", json_object_new_string(mode_name(au->mode)));
	json_object_object_add(aed, "backpressure", json_object_new_string(
	    au->soft.bp == HT_AUDIT_BP_DROP ? "drop" : "block"));
	add_count(aed, "socketBuffer", au->rcvbuf);
	return rec;
}

static void
au_report(struct audit_src *au, int64_t now)
{
	struct au_loss d, *c = &au->st.loss, *r = &au->reported;
	struct ht_record *rec;

	if (now < au->report_due || loss_total(c) == loss_total(r))
		return;
	au->report_due = now + (int64_t)au->soft.report_ms;
	d = (struct au_loss){ c->kernel - r->kernel, c->overflows - r->overflows,
		c->gaps - r->gaps, c->dropped - r->dropped, c->unstored - r->unstored };
	log_warnx("audit: records were lost since the last report: %" PRIu64 " by the kernel "
	    "(lost counter), %" PRIu64 " socket overflows, %" PRIu64 " serials never received, "
	    "%" PRIu64 " events dropped by backpressure, %" PRIu64 " not stored; see STATUS= "
	    "and the AuditRecordsLost record", d.kernel, d.overflows, d.gaps, d.dropped,
	    d.unstored);
	*r = *c;
	rec = loss_record(au, &d);
	if (rec != NULL)
		au_enqueue(au, rec);	/* not subject to the drop policy */
	else
		log_warnx("audit: out of memory making the AuditRecordsLost record");
}

/* ---- kernel status ---- */

static void
au_ask_status(struct audit_src *au)
{
	struct nlmsghdr nh = { .nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = AUDIT_GET,
		.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = ++au->ctl_seq };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };

	if (sendto(au->ctl_fd, &nh, sizeof(nh), MSG_DONTWAIT, (struct sockaddr *)&to,
	    sizeof(to)) < 0) {
		if (rl_ok(au))
			log_warn("audit: asking the kernel for its audit status");
		return;
	}
	au->status_asked = true;
}

static void
au_status_reply(struct audit_src *au, const struct ht_audit_status *s)
{
	if (!au->have_lost_base) {
		au->lost_base = s->lost;
		au->have_lost_base = true;
	}
	if (s->lost < au->lost_base)
		au->lost_base = s->lost;	/* reset by someone: count from here */
	au->st.loss.kernel = s->lost - au->lost_base;
	au->backlog = s->backlog;
	au->enabled = s->enabled;
	au->kernel_pid = s->pid;
}

static void
au_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_src *au = arg;
	char buf[1024];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0 || errno == EINTR) {
		const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
		struct ht_audit_status s;

		if (n < (ssize_t)NLMSG_HDRLEN || nh->nlmsg_type != AUDIT_GET)
			continue;
		if (nh->nlmsg_len > (size_t)n)
			continue;
		if (ht_audit_status_parse(NLMSG_DATA(nh), nh->nlmsg_len - NLMSG_HDRLEN, &s) == 0)
			au_status_reply(au, &s);
		au->status_asked = false;
	}
}

/* ---- the tick ---- */

static void
au_asm_swap(struct audit_src *au)
{
	struct ht_audit_asm_stats s;
	struct ht_audit_asm *a;

	ht_audit_asm_stats(au->assembler, &s);
	if (s.open > 0 || ht_audit_asm_new(&au->soft.asm_conf, au_event_cb, au, &a) < 0)
		return;
	au->orphans_base += s.orphans;
	ht_audit_asm_free(au->assembler);
	au->assembler = a;
	au->asm_pending = false;
}

static int64_t
gap_grace_ms(const struct audit_src *au)
{
	int64_t g = 2 * (int64_t)au->soft.asm_conf.timeout_ms;

	return g > AU_GAP_GRACE_MIN_MS ? g : AU_GAP_GRACE_MIN_MS;
}

static void
au_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_src *au = arg;
	int64_t now = ht_mono_ms();

	ht_audit_asm_tick(au->assembler, now);
	if (au->asm_pending)
		au_asm_swap(au);
	au->st.loss.gaps += ht_audit_gaps_expire(au->gaps, now, gap_grace_ms(au));
	if (now >= au->status_due) {
		au->status_due = now + (int64_t)au->soft.status_ms;
		au_ask_status(au);
	}
	au_report(au, now);
	au_submit(au);
}

/* ---- start ---- */

static int
au_open_socket(struct audit_src *au, const struct ht_conf_source *sc)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	au->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (au->fd < 0) {
		log_warn("audit: cannot open the audit netlink socket (is audit compiled into "
		    "this kernel? a container may refuse it)");
		return -errno;
	}
	if (sc->mode == HT_AUDIT_MULTICAST)
		sa.nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1);
	if (bind(au->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (sc->mode == HT_AUDIT_MULTICAST && (e == EPERM || e == EACCES))
			log_msg(HT_LOG_ERR, e, "audit: cannot join the audit multicast group: "
			    "hosttraild needs CAP_AUDIT_READ (AmbientCapabilities= in the "
			    "unit), or use type: auditlog");
		else
			log_msg(HT_LOG_ERR, e, "audit: cannot bind the audit netlink socket");
		return -e;
	}
	au_set_rcvbuf(au, sc->socket_buffer);
	return 0;
}

static void
kernel_clear(struct au_kernel *k)
{
	ht_audit_rules_free(k->rules);
	free(k->signature);
	*k = (struct au_kernel){ 0 };
}

/* sc's kernel settings and rules (rules[] then rules_file).  0 or -errno
 * (logged). */
static int
kernel_load(const struct ht_conf_source *sc, struct au_kernel *ret)
{
	struct au_kernel k = { (uint32_t)sc->backlog_limit, (uint32_t)sc->rate_limit,
		(int)sc->failure, NULL, NULL };
	char origin[32], err[512];
	size_t len = 0;
	FILE *sig;
	int v;

	if ((v = ht_audit_rules_new(&k.rules)) < 0)
		return v;
	for (size_t i = 0; i < sc->n_rules && v == 0; i++) {
		snprintf(origin, sizeof(origin), "rules[%zu]", i);
		v = ht_audit_rules_add(k.rules, sc->rules[i], origin, err, sizeof(err));
	}
	if (v == 0 && sc->rules_file != NULL)
		v = ht_audit_rules_add_file(k.rules, sc->rules_file, err, sizeof(err));
	if (v == -ENOMEM) {
		log_msg(HT_LOG_ERR, ENOMEM, "audit: loading the rules");
	} else if (v < 0) {
		log_warnx("audit: %s", err);
	} else if ((sig = open_memstream(&k.signature, &len)) == NULL) {
		v = -ENOMEM;
	} else {
		fprintf(sig, "%u %u %d", k.backlog_limit, k.rate_limit, k.failure);
		for (size_t i = 0; i < ht_audit_rules_count(k.rules); i++)
			fprintf(sig, "\n%s", ht_audit_rules_text(k.rules, i));
		if (fclose(sig) != 0)
			v = -ENOMEM;
	}
	if (v < 0) {
		kernel_clear(&k);
		return v;
	}
	*ret = k;
	return 0;
}

/* Become the host's audit daemon with k.  0 or -errno (logged). */
static int
au_take_over(struct audit_src *au, const struct au_kernel *k)
{
	struct ht_audit_unicast_conf uc = { k->backlog_limit, k->rate_limit, k->failure,
		k->rules };
	struct ht_audit_status saved;
	size_t added, present;
	char err[512] = "", *dir;
	int v;

	if ((dir = strdup(au->state_path)) == NULL)
		return -ENOMEM;
	*strrchr(dir, '/') = '\0';
	v = ht_mkdir_p(dir, 0750);
	if (v < 0)
		snprintf(err, sizeof(err), "cannot create %s", dir);
	free(dir);
	if (v == 0)
		v = ht_audit_takeover(au->fd, &uc, au->state_path, &au->takeover, err, sizeof(err));
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "audit: cannot become the host's audit daemon (mode: "
		    "unicast): %s", err);
		return v;
	}
	ht_audit_takeover_info(au->takeover, &added, &present, &saved);
	log_info("audit: hosttraild is the host's audit daemon (pid %d): %zu rules loaded, "
	    "%zu already present, backlog_limit %u, rate_limit %u; at stop audit goes back to "
	    "enabled=%u backlog_limit=%u rate_limit=%u failure=%u", (int)getpid(), added,
	    present, k->backlog_limit, k->rate_limit, saved.enabled, saved.backlog_limit,
	    saved.rate_limit, saved.failure);
	return 0;
}

static void
au_give_back(struct audit_src *au)
{
	char err[512];
	int v;

	if (au->takeover == NULL)
		return;
	v = ht_audit_restore(au->takeover, err, sizeof(err));
	au->takeover = NULL;
	if (v < 0)
		log_msg(HT_LOG_ERR, -v, "audit: restoring the kernel's audit settings: %s", err);
	else
		log_info("audit: the kernel's audit settings and rules are as found at start");
}

static int
au_setup(struct audit_src *au, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct ht_audit_status s;
	int v;

	au->env = env;
	au->mode = sc->mode;
	au->fd = au->ctl_fd = -1;
	soft_from_conf(sc, &au->soft);
	if ((au->buf = malloc(AU_RECV_MAX)) == NULL ||
	    ht_audit_asm_new(&au->soft.asm_conf, au_event_cb, au, &au->assembler) < 0 ||
	    ht_audit_names_new(0, 0, &au->names) < 0 || ht_audit_gaps_new(0, &au->gaps) < 0)
		return -ENOMEM;
	if ((v = au_open_socket(au, sc)) < 0)
		return v;
	au->ctl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_AUDIT);
	if (au->ctl_fd < 0) {
		log_warn("audit: cannot open a second audit socket for status polling");
		return -errno;
	}
	v = ht_audit_status_get(au->ctl_fd, AU_CTL_TIMEOUT_MS, &s);
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "audit: the kernel does not answer AUDIT_GET (%s)",
		    v == -EPERM || v == -EACCES || v == -ECONNREFUSED ? "hosttraild needs "
		    "CAP_AUDIT_CONTROL, and audit does not work in a container's namespace" :
		    "is audit disabled on the kernel command line?");
		return v;
	}
	au_status_reply(au, &s);
	if (sc->mode == HT_AUDIT_UNICAST) {
		if ((au->state_path = ht_conf_path(env->conf, sc->state_file)) == NULL)
			return -ENOMEM;
		if ((v = kernel_load(sc, &au->kernel)) < 0 || (v = au_take_over(au, &au->kernel)) < 0)
			return v;
	} else if (s.enabled == 0) {
		log_warnx("audit: kernel audit is disabled (enabled=0): nothing arrives until "
		    "an audit daemon enables it (auditctl -e 1), or use mode: unicast");
	} else {
		log_info("audit: listening to the audit multicast group beside the audit "
		    "daemon (pid %u)", s.pid);
	}
	if (fcntl(au->fd, F_SETFL, fcntl(au->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	au->read_ev = event_new(env->base, au->fd, EV_READ | EV_PERSIST, au_read_cb, au);
	au->ctl_ev = event_new(env->base, au->ctl_fd, EV_READ | EV_PERSIST, au_ctl_cb, au);
	au->tick_ev = event_new(env->base, -1, EV_PERSIST, au_tick_cb, au);
	if (!au->read_ev || !au->ctl_ev || !au->tick_ev)
		return -ENOMEM;
	event_add(au->ctl_ev, NULL);
	event_add(au->tick_ev, &(struct timeval){ 0, AU_TICK_MS * 1000 });
	au_read_enable(au, true);
	au->status_due = ht_mono_ms() + (int64_t)au->soft.status_ms;
	au->report_due = ht_mono_ms() + (int64_t)au->soft.report_ms;
	return 0;
}

static void
au_free(struct audit_src *au)
{
	if (au == NULL)
		return;
	au_give_back(au);
	if (au->read_ev)
		event_free(au->read_ev);
	if (au->ctl_ev)
		event_free(au->ctl_ev);
	if (au->tick_ev)
		event_free(au->tick_ev);
	if (au->fd >= 0)
		close(au->fd);
	if (au->ctl_fd >= 0)
		close(au->ctl_fd);
	for (size_t i = 0; i < au->q_n; i++)
		ht_record_free(au->q[i]);
	free(au->q);
	ht_audit_asm_free(au->assembler);
	ht_audit_names_free(au->names);
	ht_audit_gaps_free(au->gaps);
	free(au->state_path);
	kernel_clear(&au->kernel);
	free(au->buf);
	free(au);
}

static int
au_start(const struct ht_source_env *env, const struct ht_conf_source *sc, void **ret)
{
	struct audit_src *au = calloc(1, sizeof(*au));
	int v;

	if (au == NULL)
		return -ENOMEM;
	v = au_setup(au, env, sc);
	if (v < 0) {
		au_free(au);	/* closes what was opened, gives back what was taken */
		return v;
	}
	log_info("audit: reading kernel audit records (mode: %s, socket buffer %" PRIu64
	    " bytes, backpressure: %s, queue_max %" PRIu64 ")", mode_name(sc->mode), au->rcvbuf,
	    sc->backpressure == HT_AUDIT_BP_DROP ? "drop" : "block", sc->queue_max);
	*ret = au;
	return 0;
}

/* ---- source ops ---- */

static void
au_set_rcvbuf(struct audit_src *au, uint64_t want)
{
	int size = want > INT32_MAX ? INT32_MAX : (int)want;
	socklen_t sl = sizeof(size);

	/* Past net.core.rmem_max needs CAP_NET_ADMIN (FORCE); fall back. */
	if (setsockopt(au->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
	    setsockopt(au->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		log_warn("audit: cannot set the socket buffer to %d bytes", size);
	if (getsockopt(au->fd, SOL_SOCKET, SO_RCVBUF, &size, &sl) == 0)
		au->rcvbuf = (uint64_t)size;
	au->rcvbuf_want = want;
	if (au->rcvbuf < want)
		log_warnx("audit: socket buffer is %" PRIu64 " bytes, less than socket_buffer "
		    "(%" PRIu64 "): raise net.core.rmem_max or give hosttraild "
		    "CAP_NET_ADMIN", au->rcvbuf, want);
}

/* A changed rule set or kernel setting is applied by giving audit back and
 * taking it over again (a moment without an audit daemon: the kernel holds
 * its records meanwhile).  Should the new set fail, the old one is taken
 * over again. */
static int
au_reconfigure(void *state, const struct ht_source_env *env, const struct ht_conf_source *sc)
{
	struct audit_src *au = state;
	struct au_kernel k;
	struct au_soft soft;
	int v;

	au->env = env;
	if (sc->mode != au->mode) {
		log_warnx("audit: mode %s takes effect at the next restart (still %s)",
		    mode_name(sc->mode), mode_name(au->mode));
		return -EBUSY;
	}
	soft_from_conf(sc, &soft);
	if (memcmp(&soft.asm_conf, &au->soft.asm_conf, sizeof(soft.asm_conf)) != 0)
		au->asm_pending = true;
	au->soft = soft;
	if (sc->socket_buffer != au->rcvbuf_want)
		au_set_rcvbuf(au, sc->socket_buffer);
	if (au->mode != HT_AUDIT_UNICAST)
		return 0;
	if ((v = kernel_load(sc, &k)) < 0) {
		log_warnx("audit: the rules and kernel settings stay as they were");
		return v;
	}
	if (strcmp(k.signature, au->kernel.signature) == 0) {
		kernel_clear(&k);
		return 0;
	}
	au_give_back(au);
	v = au_take_over(au, &k);
	if (v == 0) {
		kernel_clear(&au->kernel);
		au->kernel = k;
		return 0;
	}
	kernel_clear(&k);
	if (au_take_over(au, &au->kernel) == 0)
		log_warnx("audit: the previous rules and settings are in force again");
	return v;
}

static void
au_drain(void *state)
{
	struct audit_src *au = state;

	au->draining = true;
	/* what the socket holds already, then nothing more */
	au_read_enable(au, true);
	au_read_cb(au->fd, EV_READ, au);
	au_read_enable(au, false);
	ht_audit_asm_flush(au->assembler);
	au_submit(au);
}

static unsigned
au_inflight(void *state)
{
	struct audit_src *au = state;

	return au->inflight + (au->q_n > 0 ? 1 : 0);
}

static void
au_status(void *state, char *buf, size_t len)
{
	struct audit_src *au = state;
	struct ht_audit_asm_stats s;
	const struct au_loss *l = &au->st.loss;

	ht_audit_asm_stats(au->assembler, &s);
	snprintf(buf, len, "audit (%s%s): %" PRIu64 " records read (%" PRIu64 " bad), %" PRIu64
	    " events (%" PRIu64 " incomplete, %u open, %" PRIu64 " orphan EOE), %" PRIu64
	    " stored, %" PRIu64 " queued; kernel backlog %u; LOST: %" PRIu64 " by the kernel, %"
	    PRIu64 " socket overflows, %" PRIu64 " missing serials, %" PRIu64 " dropped "
	    "(backpressure), %" PRIu64 " not stored%s",
	    mode_name(au->mode), au->enabled ? "" : ", kernel audit disabled", au->st.msgs,
	    au->st.bad, au->st.events, au->st.incomplete, s.open, au->orphans_base + s.orphans,
	    au->st.durable, queued(au), au->backlog, l->kernel, l->overflows, l->gaps, l->dropped,
	    l->unstored, !au->reading && !au->draining ? "; reading paused (backpressure: block)" :
	    "");
}

static void
au_stop(void *state)
{
	struct audit_src *au = state;

	au->stopping = true;
	au_give_back(au);
	/* no more loop callbacks, except the durable ones of batches in flight */
	au_read_enable(au, false);
	event_free(au->read_ev);
	event_free(au->ctl_ev);
	event_free(au->tick_ev);
	au->read_ev = au->ctl_ev = au->tick_ev = NULL;
	if (au->inflight > 0) {
		log_warnx("audit: stopping with %u batches not yet stored", au->inflight);
		return;	/* the last one frees */
	}
	au_free(au);
}

const struct ht_source_ops ht_src_audit_ops = {
	.type = "audit",
	.start = au_start,
	.reconfigure = au_reconfigure,
	.drain = au_drain,
	.inflight = au_inflight,
	.status = au_status,
	.stop = au_stop,
};
