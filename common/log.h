/*
 * log.h - hosttrail's logging, OpenBSD style.
 *
 * log_warn() appends strerror(errno); log_warnx() does not.  Messages go to
 * stderr (with a "<N>" syslog priority prefix when running under systemd, so
 * the journal keeps the level) and are limited to one line each.
 * fatal()/fatalx() are for main before the loop runs: they log and exit(1).
 * Log state is the one mutable global besides the active config.
 */
#ifndef HT_LOG_H
#define HT_LOG_H

#include <stdarg.h>

enum ht_log_level {
	HT_LOG_ERR = 3,
	HT_LOG_WARNING = 4,
	HT_LOG_INFO = 6,
	HT_LOG_DEBUG = 7,
};

/* Set the program name, the threshold, and whether to print "<N>" prefixes
 * (systemd's SyslogLevelPrefix). */
void log_init(const char *progname, int level, int journal_prefix);
/* Current threshold (HT_LOG_*). */
int log_level(void);
void log_setlevel(int level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log at an explicit level; errnum > 0 appends strerror(errnum). */
void log_msg(int level, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_vmsg(int level, int errnum, const char *fmt, va_list ap);
__attribute__((noreturn)) void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
