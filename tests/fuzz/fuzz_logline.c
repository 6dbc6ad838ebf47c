/*
 * fuzz_logline.c - libFuzzer target for ht_logline_parse and the host
 * message mapping (ht_hostmsg_map, ht_hostmsg_map_dpkg).
 *
 * The input is a log file: each line is split by ht_logline_parse (the
 * formats accepted, the zone and the reference time picked from the first
 * byte and the size) and, when it splits, mapped as its format says.  Each
 * line is also mapped directly as a message under one program name after
 * another (sshd, sudo, su, shadow-utils, systemd with and without a unit
 * job MESSAGE_ID...), and as a dpkg.log action, so the table's patterns
 * see every input whatever its stamp.
 *
 * Checks the contract, not just memory safety: a refused line says why
 * and where and hands back nothing; a split line's parts are consistent
 * (format accepted, host only for syslog formats, message_len its
 * length); every record serializes to JSON that ht_record_parse reads back
 * to the same bytes; mapping a message twice gives the same bytes; only dpkg lines
 * are ever skipped, and then without a record.  Leaks are LeakSanitizer's.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"
#include "sources/hostmsg.h"
#include "sources/logline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_MS 1795500156000LL	/* 2026-11-24T06:02:36Z */
#define DAY_MS 86400000LL

static const char *const idents[] = {
	"sshd", "sudo", "su", "useradd", "usermod", "userdel", "groupadd", "groupdel",
	"gpasswd", "passwd", "chage", "chsh", "systemd", "sshd-session", "CRON", NULL,
};

#define N_IDENTS (sizeof(idents) / sizeof(idents[0]))

static const char *const message_ids[] = {
	NULL, "39f53479d3a045ac8e11786248231fbf", "be02cf6855d2428ba40df7e9d022f03d",
	"9d1aaa27d60140bd96365438aad20286", "7b05ebc668384222baa8881179cfda54",
	"d9b373ed55a64feb8242e02dbe79a49c",
};

#define N_IDS (sizeof(message_ids) / sizeof(message_ids[0]))

/* rec serializes, reads back to the same bytes; returns the text. */
static char *
check_record(const struct ht_record *rec)
{
	struct printbuf *pb = printbuf_new(), *pb2 = printbuf_new();
	struct ht_record *back = NULL;
	char err[256], *text;

	if (pb == NULL || pb2 == NULL)
		abort();
	if (ht_record_serialize(rec, pb) != 0)
		abort();
	if (ht_record_parse(pb->buf, (size_t)pb->bpos, &back, err, sizeof(err)) != 0)
		abort();
	if (ht_record_serialize(back, pb2) != 0 || strcmp(pb->buf, pb2->buf) != 0)
		abort();
	if (rec->event_source == NULL || rec->event_name == NULL || rec->user_identity == NULL ||
	    rec->request_parameters == NULL || rec->additional_event_data == NULL)
		abort();
	text = strdup(pb->buf);
	if (text == NULL)
		abort();
	ht_record_free(back);
	printbuf_free(pb);
	printbuf_free(pb2);
	return text;
}

/* Maps m times times (1 or 2; as a dpkg line if dpkg) and checks the
 * results, and that they are the same. */
static void
map_check(const struct ht_hostmsg *m, bool dpkg, int times)
{
	struct ht_record *rec[2] = { NULL, NULL };
	enum ht_hostmsg_kind kind[2];
	char *text[2] = { NULL, NULL };
	int i, r;

	for (i = 0; i < times; i++) {
		r = dpkg ? ht_hostmsg_map_dpkg(m, &rec[i], &kind[i]) :
		    ht_hostmsg_map(m, &rec[i], &kind[i]);
		if (r == -ENOMEM)
			goto out;
		if (r != 0)
			abort();
		if (kind[i] == HT_HOSTMSG_SKIPPED) {
			if (!dpkg || rec[i] != NULL)
				abort();
			continue;
		}
		if (rec[i] == NULL || (kind[i] != HT_HOSTMSG_MAPPED &&
		    kind[i] != HT_HOSTMSG_GENERIC))
			abort();
		text[i] = check_record(rec[i]);
	}
	if (times == 2 && (kind[0] != kind[1] || (text[0] == NULL) != (text[1] == NULL) ||
	    (text[0] != NULL && strcmp(text[0], text[1]) != 0)))
		abort();
out:
	for (i = 0; i < 2; i++) {
		ht_record_free(rec[i]);
		free(text[i]);
	}
}

/* One line through the splitter, then the mapping its format calls for. */
static void
split_line(const char *p, size_t len, const struct ht_logline_ctx *ctx)
{
	struct ht_logline *l = NULL;
	struct ht_hostmsg m;
	char err[128];
	unsigned fmts = ctx->formats != 0 ? ctx->formats : 7;
	int r;

	err[0] = '\0';
	r = ht_logline_parse(p, len, ctx, &l, err, sizeof(err));
	if (r < 0) {
		if (l != NULL || (r != -EINVAL && r != -E2BIG && r != -ENOMEM) ||
		    (r != -ENOMEM && strstr(err, " at byte ") == NULL))
			abort();
		return;
	}
	if (r != 0 || l == NULL || l->message == NULL || strlen(l->message) != l->message_len ||
	    (l->format & fmts) == 0 || l->pid < -1 ||
	    ((l->format == HT_LOGLINE_DPKG) != (l->hostname == NULL)) ||
	    (l->ident != NULL && l->ident[0] == '\0'))
		abort();
	ht_hostmsg_from_logline(l, "/var/log/fuzz.log", &m);
	map_check(&m, l->format == HT_LOGLINE_DPKG, 1);
	ht_logline_free(l);
}

/* The raw line as a message (up to a NUL) from program n, as journal
 * entries come. */
static void
map_raw(const char *p, size_t len, unsigned n)
{
	struct ht_hostmsg m;
	char *text = strndup(p, len);

	if (text == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.time_ms = n % 5 == 4 ? -1 : REF_MS + n;
	m.hostname = n % 3 == 0 ? NULL : "fuzzhost";
	m.ident = idents[n % N_IDENTS];
	m.message = text;
	m.pid = n % 4 == 0 ? -1 : (int64_t)n;
	m.uid = n % 2 == 0 ? -1 : 0;
	m.message_id = message_ids[n % N_IDS];
	if (m.message_id != NULL && n % 7 != 0) {
		m.unit = "fuzz.service";
		m.job_type = n % 2 == 0 ? "start" : "stop";
		m.job_result = n % 3 == 0 ? "done" : "failed";
	}
	m.origin = "journal";
	map_check(&m, false, 2);
	map_check(&m, true, 1);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct ht_logline_ctx ctx = { 0 };
	unsigned n = size > 0 ? data[0] : 0;

	/* Text inputs (the corpus) accept every format in UTC; others pick. */
	if (size > 0 && (data[0] & 0x80) != 0) {
		ctx.formats = data[0] & 7;
		ctx.local_tz = (data[0] & 8) != 0;
		ctx.utc_offset_s = (int32_t)((data[0] >> 4 & 7) * 3600) - 3 * 3600;
	}
	ctx.ref_ms = REF_MS + (int64_t)(size * 7919 % 400) * DAY_MS - 200 * DAY_MS;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		split_line(p, (size_t)(nl - p), &ctx);
		map_raw(p, (size_t)(nl - p), n++);
		if (nl == end)
			break;
		p = nl + 1;
	}
	return 0;
}
