/*
 * main.c - hosttraild: arguments, config, the event loop, signals and the
 * conversation with systemd (sd_notify).  Everything else lives in
 * daemon.c and the modules it wires; main only sequences start-up and
 * tears down in reverse.  Signals are libevent events, never handlers that
 * touch state.
 */
#include "ht_build.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "conf.h"
#include "daemon.h"
#include "deliver/notify.h"
#include "log.h"
#include "registry.h"

#define STATUS_PERIOD_S 5

struct options {
	const char *config;		/* NULL: default path if present, else embedded */
	const char *state_dir;
	bool foreground;
	bool check;
	bool debug;
};

/* The loop's state: the only mutable globals are log state and this. */
struct main_ctx {
	struct event_base *base;
	struct ht_daemon *daemon;
	struct options opt;
	const char *config_path;	/* what was actually loaded (NULL = embedded) */
	struct event *ev_term, *ev_int, *ev_hup, *ev_status, *ev_watchdog;
	uint64_t watchdog_usec;
	bool stopping;
	int exit_code;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: hosttraild [-c FILE] [-f] [-d] [--state-dir DIR] [--check-config]\n"
	    "\n"
	    "CloudTrail for Linux hosts: records what people and programs do on this\n"
	    "machine as CloudTrail records, keeps them in a local history and delivers\n"
	    "them to trails as CloudTrail log files.\n"
	    "\n"
	    "  -c, --config FILE   configuration (default %s if it exists,\n"
	    "                      else the built-in default, see conf/hosttrail.yaml)\n"
	    "  -f, --foreground    log plainly to stderr (without journal priority prefixes)\n"
	    "  -d, --debug         log debug messages\n"
	    "      --state-dir DIR use DIR as state_dir (relative paths in the config resolve\n"
	    "                      under it)\n"
	    "  -n, --check-config  validate the configuration, print \"configuration OK\", exit\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       print the version\n"
	    "\n"
	    "Signals: SIGHUP reloads the configuration; SIGTERM or SIGINT delivers what is\n"
	    "pending and exits.  A configuration error exits with status 78.\n",
	    HT_CONF_DEFAULT_PATH);
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:fdnhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = true; break;
		case 'd': o->debug = true; break;
		case 'S': o->state_dir = optarg; break;
		case 'n': o->check = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("hosttraild %s\n", PACKAGE_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hosttraild: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	return 0;
}

/* Which file to load: -c, else the default path if it exists, else NULL
 * (the embedded default). */
static const char *
config_path(const struct options *o)
{
	if (o->config)
		return o->config;
	if (access(HT_CONF_DEFAULT_PATH, F_OK) == 0)
		return HT_CONF_DEFAULT_PATH;
	return NULL;
}

/* Load and validate; on error print one line and return NULL. */
static struct ht_conf *
load_config(const char *path, const struct options *o)
{
	struct ht_conf *conf = NULL;
	char err[1024];
	int v;

	v = ht_conf_load(path, &conf, err, sizeof(err));
	if (v == 0) {
		v = ht_notify_check_conf(conf, err, sizeof(err));
		if (v == 0)
			v = ht_registry_check_conf(conf, err, sizeof(err));
		if (v < 0) {
			ht_conf_free(conf);
			conf = NULL;
		}
	}
	if (v < 0) {
		log_warnx("%s", err);
		return NULL;
	}
	if (o->state_dir) {
		char *abs = realpath(o->state_dir, NULL);

		/* A relative or not-yet-existing --state-dir: make it absolute
		 * against the working directory, as the config requires. */
		if (abs == NULL && o->state_dir[0] != '/') {
			char cwd[4096];

			if (getcwd(cwd, sizeof(cwd)) && asprintf(&abs, "%s/%s", cwd, o->state_dir) < 0)
				abs = NULL;
		}
		v = ht_conf_set_state_dir(conf, abs ? abs : o->state_dir);
		free(abs);
		if (v < 0) {
			log_warnx("--state-dir \"%s\": %s", o->state_dir, strerror(-v));
			ht_conf_free(conf);
			return NULL;
		}
	}
	return conf;
}

static void
notify_status(struct main_ctx *m, const char *state)
{
	char status[8192];	/* every source adds its counters */

	ht_daemon_status(m->daemon, status, sizeof(status));
	sd_notifyf(0, "%s%sSTATUS=%s", state ? state : "", state ? "\n" : "", status);
}

static void
stopped_cb(void *arg)
{
	struct main_ctx *m = arg;
	char status[8192];	/* every source adds its counters */

	ht_daemon_status(m->daemon, status, sizeof(status));
	log_info("stopped: %s", status);
	event_base_loopexit(m->base, NULL);
}

static void
on_term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;

	if (m->stopping) {
		log_warnx("second signal %d while stopping: exiting now; undelivered records "
		    "stay in history for the next start", (int)sig);
		m->exit_code = 1;
		event_base_loopbreak(m->base);
		return;
	}
	m->stopping = true;
	log_info("signal %d: stopping, delivering what is pending", (int)sig);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: delivering pending records");
	ht_daemon_shutdown(m->daemon, stopped_cb, m);
}

static void
on_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;
	struct ht_conf *conf;
	char err[1024];

	if (m->stopping)
		return;
	sd_notify(0, "RELOADING=1");
	m->config_path = config_path(&m->opt);
	log_info("SIGHUP: reloading %s", m->config_path ? m->config_path : "the built-in default");
	conf = load_config(m->config_path, &m->opt);
	if (conf == NULL) {
		log_warnx("reload refused: the configuration above is invalid; still running "
		    "with the previous one");
	} else if (ht_daemon_reload(m->daemon, conf, err, sizeof(err)) < 0) {
		log_warnx("reload refused: %s; still running with the previous configuration", err);
		ht_conf_free(conf);
	} else {
		log_info("reload done");
	}
	notify_status(m, "READY=1");
}

static void
on_status_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_status(arg, NULL);
}

static void
on_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	/* The loop turned: the daemon is alive. */
	sd_notify(0, "WATCHDOG=1");
}

static int
setup_events(struct main_ctx *m)
{
	struct timeval status = { STATUS_PERIOD_S, 0 };

	m->ev_term = evsignal_new(m->base, SIGTERM, on_term_cb, m);
	m->ev_int = evsignal_new(m->base, SIGINT, on_term_cb, m);
	m->ev_hup = evsignal_new(m->base, SIGHUP, on_hup_cb, m);
	m->ev_status = event_new(m->base, -1, EV_PERSIST, on_status_cb, m);
	if (!m->ev_term || !m->ev_int || !m->ev_hup || !m->ev_status ||
	    event_add(m->ev_term, NULL) || event_add(m->ev_int, NULL) ||
	    event_add(m->ev_hup, NULL) || event_add(m->ev_status, &status))
		return -ENOMEM;
	if (sd_watchdog_enabled(0, &m->watchdog_usec) > 0) {
		struct timeval wd = { (time_t)(m->watchdog_usec / 2 / 1000000),
			(suseconds_t)(m->watchdog_usec / 2 % 1000000) };

		m->ev_watchdog = event_new(m->base, -1, EV_PERSIST, on_watchdog_cb, m);
		if (m->ev_watchdog == NULL || event_add(m->ev_watchdog, &wd))
			return -ENOMEM;
	}
	return 0;
}

static void
teardown(struct main_ctx *m)
{
	struct event *evs[] = { m->ev_watchdog, m->ev_status, m->ev_hup, m->ev_int, m->ev_term };

	ht_daemon_free(m->daemon);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (m->base)
		event_base_free(m->base);
}

int
main(int argc, char **argv)
{
	struct main_ctx m = { 0 };
	struct ht_conf *conf;
	int v;

	parse_args(argc, argv, &m.opt);
	log_init("hosttraild", m.opt.debug ? HT_LOG_DEBUG : HT_LOG_INFO,
	    !m.opt.foreground && getenv("JOURNAL_STREAM") != NULL);
	m.config_path = config_path(&m.opt);
	conf = load_config(m.config_path, &m.opt);
	if (conf == NULL)
		return HT_EX_CONFIG;
	if (m.opt.check) {
		printf("configuration OK\n");
		ht_conf_free(conf);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	m.base = event_base_new();
	if (m.base == NULL)
		fatalx("cannot create the event loop");
	v = ht_daemon_new(m.base, conf, &m.daemon);
	if (v < 0) {
		ht_conf_free(conf);
		teardown(&m);
		log_msg(HT_LOG_ERR, -v, "cannot start");
		return 1;
	}
	if (setup_events(&m) < 0) {
		teardown(&m);
		fatalx("out of memory setting up signals");
	}
	ht_daemon_log_summary(m.daemon);
	notify_status(&m, "READY=1");
	event_base_dispatch(m.base);
	teardown(&m);
	return m.exit_code;
}
