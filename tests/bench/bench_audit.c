/*
 * bench_audit.c - `make bench`: hosttrail's audit.log path (parse, assemble,
 * map to a CloudTrail record, serialize to JSON) over one file, as the
 * auditlog source drives it, for bench_audit.py to set against laurel.
 *
 *   bench_audit --input AUDIT.LOG [--output OUT.jsonl] [--read-size BYTES]
 *       [--batch BYTES] [--no-names] [--rounds R]
 *
 * Reads the file with large read(2)s (--read-size, default 4 MiB) into one
 * buffer, splits lines (a line cut by the end of a chunk waits for the next
 * one, as daemon/sources/auditlog.c does), parses each with
 * ht_audit_parse_line, tags it with its byte offset and feeds the assembler
 * (ht_audit_asm_feed, monotonic milliseconds read once per chunk, and
 * ht_audit_asm_tick once per chunk, as a pass of the daemon does), flushing
 * it at the end of the file.  Each event the assembler emits is mapped with
 * ht_audit_map (ctx.names: a real uid/gid name cache from
 * ht_audit_names_new with the daemon's defaults, ctx.source "auditlog"),
 * serialized with ht_record_serialize into one json-c printbuf, one line per
 * record, and the printbuf is written to the output file whenever it holds
 * --batch bytes (default 1 MiB) and at the end: one write(2) per batch, as a
 * consumer that writes in batches would.  No fsync.
 *
 * Printed: events (records written), of which trailers (the syscall records
 * that followed a standalone record under the same audit(TIME:SERIAL): a
 * second event, see daemon/sources/audit_parse.h) and incomplete ones
 * (closed without their EOE: timeout, bound or final flush), lines that did
 * not parse, wall and CPU time (user + system, getrusage), events/s, MB/s
 * of input, the peak RSS (ru_maxrss), and our own read(2) and write(2)
 * counts (every read and write this program makes on the input and output
 * goes through two counters; the NSS lookups of the name cache are not in
 * them: bench_audit.py measures all syscalls with strace on a slice).
 * The last line is machine-readable for bench_audit.py:
 *   RESULT events=N trailers=N incomplete=N bad_lines=N lines=N bytes_in=N
 *   bytes_out=N wall_s=X cpu_s=X user_s=X sys_s=X maxrss_kb=N reads=N
 *   writes=N
 * With --rounds R > 1 the whole file is processed R times (each round with
 * a new assembler, name cache and output file) and the RESULT line carries
 * the round with the median wall time; the figures of every round are
 * printed before it.
 * Exit status 1 when something failed (I/O, out of memory); bad lines are
 * counted, not fatal.
 */
#include "ht_build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "log.h"
#include "record.h"
#include "sources/audit_map.h"
#include "sources/audit_parse.h"
#include "util.h"

#define MAX_ROUNDS 15

struct opts {
	const char *input;
	const char *output;
	size_t read_size;
	size_t batch;
	bool names;
	unsigned rounds;
};

struct run {
	/* configuration */
	const struct opts *o;
	int out_fd;
	struct ht_audit_names *names;
	/* output */
	struct printbuf *pb;
	int err;			/* first error (negative errno) */
	/* counters */
	uint64_t events, trailers, incomplete, map_failed;
	uint64_t lines, bad_lines, bytes_in, bytes_out;
	uint64_t reads, writes;
	int64_t now_ms;
	/* results */
	double wall_s, user_s, sys_s;
	long maxrss_kb;
};

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* write(2) all of buf, counting every call. */
static int
write_all(struct run *r, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w;

		r->writes++;
		w = write(r->out_fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
		r->bytes_out += (uint64_t)w;
	}
	return 0;
}

static void
flush_out(struct run *r)
{
	int v;

	if (r->pb->bpos == 0 || r->err < 0)
		return;
	v = write_all(r, r->pb->buf, (size_t)r->pb->bpos);
	if (v < 0)
		r->err = v;
	printbuf_reset(r->pb);
}

/* The assembler's callback: map, serialize, batch. */
static void
event_cb(struct ht_audit_event *e, void *arg)
{
	struct run *r = arg;
	struct ht_audit_map_ctx ctx = { r->names, "auditlog", r->now_ms };
	struct ht_record *rec = NULL;
	int v;

	r->events++;
	if (e->trailer)
		r->trailers++;
	if (!e->complete)
		r->incomplete++;
	v = ht_audit_map(e, &ctx, &rec);
	if (v == 0) {
		v = ht_record_serialize(rec, r->pb);
		if (v == 0 && printbuf_memappend(r->pb, "\n", 1) < 0)
			v = -ENOMEM;
	}
	if (v < 0) {
		r->map_failed++;
		if (r->err == 0)
			r->err = v;
	}
	ht_record_free(rec);
	ht_audit_event_free(e);
	if ((size_t)r->pb->bpos >= r->o->batch)
		flush_out(r);
}

static void
feed_line(struct run *r, struct ht_audit_asm *a, const char *line, size_t len, uint64_t off)
{
	struct ht_audit_record *rec;
	char why[128];
	int v;

	r->lines++;
	v = ht_audit_parse_line(line, len, &rec, why, sizeof(why));
	if (v < 0) {
		if (v == -ENOMEM && r->err == 0)
			r->err = v;
		if (r->bad_lines++ < 5)
			fprintf(stderr, "bench_audit: line at byte %" PRIu64 ": %s: %.*s\n", off,
			    v == -EINVAL ? why : strerror(-v), (int)(len > 120 ? 120 : len), line);
		return;
	}
	rec->tag = off;
	v = ht_audit_asm_feed(a, rec, r->now_ms);
	if (v < 0 && r->err == 0)
		r->err = v;
}

/* One pass over the file. */
static int
run_once(const struct opts *o, struct run *r)
{
	struct ht_audit_asm *a = NULL;
	struct rusage ru0, ru1;
	char *buf = NULL;
	size_t have = 0, cap = o->read_size + HT_AUDIT_LINE_MAX + 1;
	uint64_t base = 0;		/* file offset of buf[0] */
	int in_fd = -1, v;
	double t0;
	bool eof = false;

	r->o = o;
	r->out_fd = -1;
	buf = malloc(cap);
	r->pb = printbuf_new();
	if (buf == NULL || r->pb == NULL) {
		v = -ENOMEM;
		goto out;
	}
	if (o->names && (v = ht_audit_names_new(0, 0, &r->names)) < 0)
		goto out;
	if ((v = ht_audit_asm_new(NULL, event_cb, r, &a)) < 0)
		goto out;
	in_fd = open(o->input, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0) {
		v = -errno;
		fprintf(stderr, "bench_audit: %s: %s\n", o->input, strerror(errno));
		goto out;
	}
	r->out_fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (r->out_fd < 0) {
		v = -errno;
		fprintf(stderr, "bench_audit: %s: %s\n", o->output, strerror(errno));
		goto out;
	}

	getrusage(RUSAGE_SELF, &ru0);
	t0 = mono_s();
	while (!eof && r->err == 0) {
		size_t start = 0;
		ssize_t n;
		char *nl;

		/* one chunk: one read(2) of up to read_size bytes after what is left */
		for (;;) {
			r->reads++;
			n = read(in_fd, buf + have, o->read_size);
			if (n >= 0 || errno != EINTR)
				break;
		}
		if (n < 0) {
			v = -errno;
			fprintf(stderr, "bench_audit: reading %s: %s\n", o->input, strerror(errno));
			goto out;
		}
		if (n == 0)
			eof = true;
		have += (size_t)n;
		r->bytes_in += (uint64_t)n;
		r->now_ms = ht_mono_ms();
		while (start < have && (nl = memchr(buf + start, '\n', have - start)) != NULL) {
			size_t len = (size_t)(nl - (buf + start));

			feed_line(r, a, buf + start, len, base + start);
			start += len + 1;
		}
		if (eof && start < have) {	/* a last line without its newline */
			feed_line(r, a, buf + start, have - start, base + start);
			start = have;
		}
		if (have - start > HT_AUDIT_LINE_MAX) {	/* no newline in sight: drop it */
			r->lines++;
			r->bad_lines++;
			start = have;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		base += start;
		ht_audit_asm_tick(a, r->now_ms);
	}
	ht_audit_asm_flush(a);
	flush_out(r);
	r->wall_s = mono_s() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	r->user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
	r->sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
	r->maxrss_kb = ru1.ru_maxrss;
	v = r->err;
	if (v < 0)
		fprintf(stderr, "bench_audit: %s\n", strerror(-v));
out:
	if (in_fd >= 0)
		close(in_fd);
	if (r->out_fd >= 0 && close(r->out_fd) < 0 && v == 0)
		v = -errno;
	ht_audit_asm_free(a);
	ht_audit_names_free(r->names);
	r->names = NULL;
	if (r->pb != NULL)
		printbuf_free(r->pb);
	r->pb = NULL;
	free(buf);
	return v;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_audit --input AUDIT.LOG [--output OUT.jsonl] [--read-size BYTES] "
	    "[--batch BYTES] [--no-names] [--rounds R]\n"
	    "  --output     where the JSON lines go (default AUDIT.LOG.hosttrail.jsonl)\n"
	    "  --read-size  bytes per read(2) (default 4194304)\n"
	    "  --batch      bytes of JSON per write(2) (default 1048576)\n"
	    "  --no-names   no uid/gid name cache (ctx.names NULL)\n"
	    "  --rounds R   process the file R times (default 1, at most %d)\n", MAX_ROUNDS);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "read-size", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "no-names", no_argument, NULL, 'N' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char outpath[4096];
	int c;

	*o = (struct opts){ .read_size = 4u << 20, .batch = 1u << 20, .names = true,
		.rounds = 1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->input = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'r':
			o->read_size = (size_t)strtoull(optarg, NULL, 10);
			break;
		case 'b':
			o->batch = (size_t)strtoull(optarg, NULL, 10);
			break;
		case 'N':
			o->names = false;
			break;
		case 'R':
			o->rounds = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || o->input == NULL || o->read_size < 4096 || o->batch == 0 ||
	    o->rounds == 0 || o->rounds > MAX_ROUNDS) {
		usage(stderr);
		return -EINVAL;
	}
	if (o->output == NULL) {
		snprintf(outpath, sizeof(outpath), "%s.hosttrail.jsonl", o->input);
		o->output = outpath;
	}
	return 0;
}

static void
print_run(const char *label, const struct run *r)
{
	double cpu = r->user_s + r->sys_s;

	printf("%-8s %10" PRIu64 " events %8.3f s wall %8.3f s CPU (%.3f user + %.3f sys) "
	    "%10.0f events/s %8.1f MB/s  peak RSS %ld KB  %" PRIu64 " read + %" PRIu64
	    " write calls\n", label, r->events, r->wall_s, cpu, r->user_s, r->sys_s,
	    r->wall_s > 0 ? (double)r->events / r->wall_s : 0,
	    r->wall_s > 0 ? (double)r->bytes_in / 1e6 / r->wall_s : 0, r->maxrss_kb, r->reads,
	    r->writes);
}

int
main(int argc, char **argv)
{
	static struct run runs[MAX_ROUNDS];
	unsigned order[MAX_ROUNDS];
	struct opts o;
	const struct run *m;
	int v = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init("bench_audit", HT_LOG_WARNING, 0);
	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	for (unsigned i = 0; i < o.rounds && v == 0; i++) {
		char label[16];

		v = run_once(&o, &runs[i]);
		snprintf(label, sizeof(label), "round %u", i + 1);
		if (v == 0)
			print_run(label, &runs[i]);
	}
	if (v < 0)
		return 1;
	/* the round with the median wall time */
	for (unsigned i = 0; i < o.rounds; i++)
		order[i] = i;
	for (unsigned i = 1; i < o.rounds; i++)
		for (unsigned j = i; j > 0 && runs[order[j]].wall_s < runs[order[j - 1]].wall_s; j--) {
			unsigned t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	m = &runs[order[o.rounds / 2]];
	printf("bench_audit: %s: %" PRIu64 " lines (%" PRIu64 " did not parse), %.1f MB in, "
	    "%" PRIu64 " events (%" PRIu64 " trailers, %" PRIu64 " incomplete), %.1f MB of JSON "
	    "out to %s\n", o.input, m->lines, m->bad_lines, (double)m->bytes_in / 1e6, m->events,
	    m->trailers, m->incomplete, (double)m->bytes_out / 1e6, o.output);
	print_run(o.rounds > 1 ? "median" : "result", m);
	printf("RESULT events=%" PRIu64 " trailers=%" PRIu64 " incomplete=%" PRIu64
	    " bad_lines=%" PRIu64 " lines=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64
	    " wall_s=%.6f cpu_s=%.6f user_s=%.6f sys_s=%.6f maxrss_kb=%ld reads=%" PRIu64
	    " writes=%" PRIu64 "\n", m->events, m->trailers, m->incomplete, m->bad_lines, m->lines,
	    m->bytes_in, m->bytes_out, m->wall_s, m->user_s + m->sys_s, m->user_s, m->sys_s,
	    m->maxrss_kb, m->reads, m->writes);
	return 0;
}
