/*
 * The connect phase: turn the address the options name (HOST PORT, or a
 * UNIX socket path) into a connected socket, and hand it to whoever asked
 * (connect today; forward and scan use the same). It resolves the name,
 * tries each address in turn with a non-blocking connect, bounds the
 * whole phase by -w, and with --retry starts over every second after a
 * refused or absent peer.
 *
 * Nothing here prints: every outcome comes back through struct dial_cb,
 * always from the event loop (never from inside dial_start), so the
 * caller writes the events and lines in its own context.
 */

#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

struct dial {
	struct event_base *base;
	const struct options *o;
	struct addrinfo *res; /* from getaddrinfo */
	struct addrinfo unix_ai; /* -U: the one address */
	struct sockaddr_storage unix_addr;
	struct addrinfo *list; /* the addresses to try: res or &unix_ai */
	struct addrinfo *cur; /* the next one */
	int fd; /* the attempt in progress, or -1 */
	int err; /* the last attempt's error */
	const char *code; /* a code without errno (a resolver failure) */
	char message[128];
	long tries;
	struct event *wev; /* the attempt is done */
	struct event *timer; /* -w */
	struct event *retry; /* the next round */
	struct event *fail; /* report a failure from the loop */
	char where[ENDPOINT_ADDRSTRLEN + 16];
	const struct dial_cb *cb;
	void *arg;
};

static void dial_next(struct dial *);

/* Stop everything in progress. */
static void
dial_stop(struct dial *d)
{
	event_del(d->wev);
	event_del(d->timer);
	event_del(d->retry);
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
}

/* Report the failure kept in d (from the loop). */
static void
dial_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	const char *code = d->code, *msg = d->message;

	(void)fd;
	(void)what;
	dial_stop(d);
	if (code == NULL) {
		code = log_errno_name(d->err);
		msg = strerror(d->err);
	}
	d->cb->failed(d, code, msg, d->arg);
}

/* Fail with an errno value. */
static void
dial_fail(struct dial *d, int err)
{
	d->err = err;
	d->code = NULL;
	event_active(d->fail, EV_TIMEOUT, 0);
}

/* The attempt in progress finished, one way or the other. */
static void
dial_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	socklen_t len = sizeof d->err;
	int err = 0;

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		fd = d->fd;
		d->fd = -1;
		dial_stop(d);
		d->cb->connected(d, fd, d->arg);
		return;
	}
	d->err = err;
	close(d->fd);
	d->fd = -1;
	dial_next(d);
}

/* Time for another round after a refused or absent peer. */
static void
dial_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;

	(void)fd;
	(void)what;
	d->cur = d->list;
	dial_next(d);
}

/* Try the next address; when none is left, retry or fail. */
static void
dial_next(struct dial *d)
{
	const struct sockaddr *sa;
	struct timeval tv = { 1, 0 };
	socklen_t len;

	while (d->cur != NULL) {
		sa = d->cur->ai_addr;
		len = d->cur->ai_addrlen;
		d->cur = d->cur->ai_next;
		d->fd = endpoint_connect_start(sa, len,
		    d->o->udp ? SOCK_DGRAM : SOCK_STREAM);
		if (d->fd == -1) {
			d->err = errno;
			continue;
		}
		event_assign(d->wev, d->base, d->fd, EV_WRITE, dial_ready_cb,
		    d);
		event_add(d->wev, NULL);
		return;
	}
	if ((d->err == ECONNREFUSED || d->err == ENOENT) &&
	    (d->o->retry == -1 || d->tries < d->o->retry)) {
		d->tries++;
		if (d->cb->retrying != NULL)
			d->cb->retrying(d, d->err, d->arg);
		evtimer_add(d->retry, &tv);
		return;
	}
	dial_fail(d, d->err);
}

/* -w expired. */
static void
dial_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;

	(void)fd;
	(void)what;
	dial_fail(d, ETIMEDOUT);
}

/* Make a connect phase for the address in o; NULL when out of memory. */
struct dial *
dial_new(struct event_base *base, const struct options *o,
    const struct dial_cb *cb, void *arg)
{
	struct dial *d;

	d = calloc(1, sizeof *d);
	if (d == NULL)
		return (NULL);
	d->base = base;
	d->o = o;
	d->fd = -1;
	d->cb = cb;
	d->arg = arg;
	d->wev = event_new(base, -1, 0, dial_ready_cb, d);
	d->timer = evtimer_new(base, dial_timeout_cb, d);
	d->retry = evtimer_new(base, dial_retry_cb, d);
	d->fail = event_new(base, -1, 0, dial_fail_cb, d);
	if (d->wev == NULL || d->timer == NULL || d->retry == NULL ||
	    d->fail == NULL) {
		dial_free(d);
		return (NULL);
	}
	return (d);
}

/* Start: resolve, then the first attempt; the outcome comes later. */
void
dial_start(struct dial *d)
{
	struct endpoint_error err;
	struct timeval tv;
	socklen_t len;

	if (d->o->unix_path != NULL) {
		snprintf(d->where, sizeof d->where, "%s", d->o->unix_path);
		if (endpoint_unix_addr(d->o->unix_path, &d->unix_addr, &len) ==
		    -1) {
			dial_fail(d, errno);
			return;
		}
		d->unix_ai.ai_addr = (struct sockaddr *)&d->unix_addr;
		d->unix_ai.ai_addrlen = len;
		d->list = &d->unix_ai;
	} else {
		d->res = endpoint_resolve(d->o, &err);
		snprintf(d->where, sizeof d->where, "%s", err.where);
		if (d->res == NULL) {
			if (err.err != 0) {
				dial_fail(d, err.err);
				return;
			}
			d->code = err.code;
			snprintf(d->message, sizeof d->message, "%s",
			    err.message);
			event_active(d->fail, EV_TIMEOUT, 0);
			return;
		}
		d->list = d->res;
	}
	if (d->o->connect_timeout_ms > 0) {
		tv.tv_sec = d->o->connect_timeout_ms / 1000;
		tv.tv_usec = (d->o->connect_timeout_ms % 1000) * 1000;
		evtimer_add(d->timer, &tv);
	}
	d->cur = d->list;
	dial_next(d);
}

/* The address as the user named it, for messages: HOST:PORT or a path. */
const char *
dial_where(const struct dial *d)
{
	return (d->where);
}

/* Free a connect phase; an attempt in progress is closed. */
void
dial_free(struct dial *d)
{
	if (d == NULL)
		return;
	if (d->fd != -1)
		close(d->fd);
	if (d->res != NULL)
		freeaddrinfo(d->res);
	if (d->fail != NULL)
		event_free(d->fail);
	if (d->retry != NULL)
		event_free(d->retry);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->wev != NULL)
		event_free(d->wev);
	free(d);
}
