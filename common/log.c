/*
 * log.c - see log.h.  Logging is called from the loop thread and from
 * worker threads; each message is formatted into one buffer and written with
 * a single write(2), so lines from different threads never interleave.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "hosttrail";
static int log_threshold = HT_LOG_INFO;
static int log_prefix;

void
log_init(const char *progname, int level, int journal_prefix)
{
	log_progname = progname;
	log_threshold = level;
	log_prefix = journal_prefix;
}

int
log_level(void)
{
	return log_threshold;
}

void
log_setlevel(int level)
{
	log_threshold = level;
}

void
log_vmsg(int level, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0;
	int r;

	if (level > log_threshold)
		return;
	if (log_prefix)
		r = snprintf(line, sizeof(line), "<%d>", level);
	else
		r = snprintf(line, sizeof(line), "%s: ", log_progname);
	if (r > 0)
		n = (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n >= sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (errnum > 0) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (r > 0)
			n += (size_t)r;
		if (n >= sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	/* One line per message: a value quoted from bad input may hold a newline. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
log_msg(int level, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, errnum, fmt, ap);
	va_end(ap);
}

#define HT_LOG_FN(name, level, errexpr)                                                    \
	void name(const char *fmt, ...)                                                    \
	{                                                                                  \
		int saved = errno;                                                         \
		va_list ap;                                                                \
		va_start(ap, fmt);                                                         \
		log_vmsg(level, errexpr, fmt, ap);                                         \
		va_end(ap);                                                                \
		errno = saved;                                                             \
	}

HT_LOG_FN(log_warn, HT_LOG_WARNING, saved)
HT_LOG_FN(log_warnx, HT_LOG_WARNING, 0)
HT_LOG_FN(log_info, HT_LOG_INFO, 0)
HT_LOG_FN(log_debug, HT_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(HT_LOG_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(HT_LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
