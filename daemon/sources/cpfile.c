/*
 * cpfile.c - see cpfile.h.
 */
#include "ht_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "fileio.h"
#include "log.h"
#include "sources/cpfile.h"
#include "worker.h"

struct ht_cpfile {
	char *path, *what;
	ht_cpfile_format_fn format;
	void *arg;
	struct ht_worker *writer;	/* one thread: writes never overlap */
	struct event *timer;
	bool dirty, writing, closing;
};

struct job {
	struct ht_cpfile *c;
	char *text;
	size_t len;
	int err;
};

static void
arm(struct ht_cpfile *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!c->closing && !evtimer_pending(c->timer, NULL))
		evtimer_add(c->timer, &tv);
}

static void
write_work(void *arg)
{
	struct job *j = arg;

	j->err = ht_write_file_atomic(j->c->path, j->text, j->len, 0640);
}

static void
write_done(void *arg)
{
	struct job *j = arg;
	struct ht_cpfile *c = j->c;

	c->writing = false;
	if (j->err < 0) {
		log_msg(HT_LOG_WARNING, -j->err, "%s: cannot write the checkpoint %s; retrying",
		    c->what, c->path);
		c->dirty = true;
	}
	if (c->dirty)
		arm(c, j->err < 0 ? HT_CPFILE_RETRY_MS : HT_CPFILE_SAVE_MS);
	free(j->text);
	free(j);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ht_cpfile *c = arg;
	struct job *j;

	if (c->writing || !c->dirty)
		return;
	j = calloc(1, sizeof(*j));
	if (j == NULL || c->format(c->arg, &j->text, &j->len) < 0) {
		free(j);
		arm(c, HT_CPFILE_RETRY_MS);
		return;
	}
	j->c = c;
	if (ht_worker_submit(c->writer, write_work, write_done, j) < 0) {
		free(j->text);
		free(j);
		arm(c, HT_CPFILE_RETRY_MS);
		return;
	}
	c->dirty = false;
	c->writing = true;
}

/* The directory path is in (path is absolute: ht_conf_path). */
static int
make_parent(const char *path, const char *what)
{
	char *dir = strdup(path), *slash;
	int v;

	if (dir == NULL)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	v = slash != NULL ? ht_mkdir_p(dir, 0750) : 0;
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "%s: cannot create %s for the checkpoint", what, dir);
		v = -EIO;
	}
	free(dir);
	return v;
}

int
ht_cpfile_new(struct event_base *base, const char *path, const char *what,
    ht_cpfile_format_fn format, void *arg, struct ht_cpfile **ret)
{
	struct ht_cpfile *c;
	int v = make_parent(path, what);

	if (v < 0)
		return v;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	v = -ENOMEM;
	c->format = format;
	c->arg = arg;
	if ((c->path = strdup(path)) == NULL || (c->what = strdup(what)) == NULL ||
	    (c->timer = evtimer_new(base, timer_cb, c)) == NULL ||
	    (v = ht_worker_new(base, 1, "ht-checkpoint", &c->writer)) < 0) {
		ht_cpfile_free(c);
		return v;
	}
	*ret = c;
	return 0;
}

void
ht_cpfile_dirty(struct ht_cpfile *c)
{
	c->dirty = true;
	if (!c->writing)
		arm(c, HT_CPFILE_SAVE_MS);
}

int
ht_cpfile_sync(struct ht_cpfile *c)
{
	char *text;
	size_t len;
	int v;

	/* a write in progress holds an older text: it must not land after
	 * this one */
	ht_worker_drain(c->writer);
	v = c->format(c->arg, &text, &len);
	if (v == 0) {
		v = ht_write_file_atomic(c->path, text, len, 0640);
		free(text);
	}
	if (v < 0) {
		log_msg(HT_LOG_ERR, -v, "%s: cannot write the checkpoint %s", c->what, c->path);
		return -EIO;
	}
	c->dirty = false;
	return 0;
}

int
ht_cpfile_pending(const struct ht_cpfile *c)
{
	return c->dirty;
}

void
ht_cpfile_free(struct ht_cpfile *c)
{
	if (c == NULL)
		return;
	c->closing = true;
	ht_worker_free(c->writer);	/* a write in progress finishes */
	if (c->timer)
		event_free(c->timer);
	free(c->path);
	free(c->what);
	free(c);
}
