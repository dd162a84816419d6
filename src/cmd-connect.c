/*
 * netkit connect: connect to HOST PORT (each resolved address in turn) or
 * a UNIX socket, and relay the connection to stdin/stdout.
 */

#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

static int cmd_connect_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_connect_entry = {
	.name = "connect",
	.summary = "connect and relay the connection to stdin/stdout",
	.synopsis = "connect [OPTIONS] HOST PORT\n"
		    "connect [OPTIONS] PORT\n"
		    "connect [OPTIONS] -U PATH\n"
		    "connect [OPTIONS] --fd N",
	.exec = cmd_connect_exec,
	.mask = CMD_CONNECT,
	.args = CMD_ARGS_HOST_PORT,
	.address = CMD_ADDRESS_CONNECT,
	.buffer_size = NETKIT_BUFFER_SIZE,
};

/* The id of the one socket connect makes. */
#define CONNECT_ID 1

struct connect {
	struct event_base *base;
	struct options o;
	struct addrinfo *res; /* from getaddrinfo, freed at the end */
	struct addrinfo unix_ai; /* -U: the one address */
	struct addrinfo *list; /* the addresses to try: res or &unix_ai */
	struct addrinfo *cur;
	struct sockaddr_storage unix_addr;
	socklen_t unix_len;
	int fd;
	int err;
	long tries;
	struct event *wev;
	struct event *timer;
	struct event *retry;
	struct relay *relay;
	struct stdio_end in;
	struct stdio_end out;
	char where[ENDPOINT_ADDRSTRLEN + 16];
	int status;
	int failed;
	int executing;
	int aborted; /* a signal: exit 1, whatever the command says */
};

static void connect_next(struct connect *);

/* The connection failed for good: report it as a socket that erred. */
static void
connect_fail(struct connect *c, int err, const char *code, const char *msg)
{
	if (code == NULL)
		code = log_errno_name(err);
	if (msg == NULL)
		msg = strerror(err);
	EVENT("socket.error", EVI("id", CONNECT_ID), EVS("code", code),
	    EVS("message", msg));
	EVENT("socket.close", EVI("id", CONNECT_ID), EVB("had_error", 1),
	    EVI("bytes_read", 0), EVI("bytes_written", 0));
	log_error_code(c->o.name, c->where, msg, code);
	c->status = EXIT_RUNTIME;
	c->failed = 1;
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	event_del(c->wev);
	event_del(c->timer);
	event_base_loopbreak(c->base);
}

/* The relay is over. */
static void
connect_relay_done(struct relay *r, void *arg)
{
	struct connect *c = arg;

	c->status = relay_status(r);
	event_base_loopbreak(c->base);
}

static const struct relay_cb connect_relay_cb = { connect_relay_done };

/* The --exec command ended: its status is ours. */
static void
connect_exec_done(int id, int status, uint64_t nread, uint64_t nwritten,
    int lost, void *arg)
{
	struct connect *c = arg;

	EVENT("socket.close", EVI("id", id), EVB("had_error", lost),
	    EVI("bytes_read", nread), EVI("bytes_written", nwritten));
	if (!c->aborted)
		c->status = status;
	c->executing = 0;
	event_base_loopbreak(c->base);
}

/* Connected: report it and relay. */
static void
connect_established(struct connect *c)
{
	char local[ENDPOINT_ADDRSTRLEN], remote[ENDPOINT_ADDRSTRLEN];
	int fd = c->fd;

	event_del(c->timer);
	c->fd = -1;
	endpoint_sockopts(fd, &c->o);
	endpoint_local(fd, local, sizeof local);
	endpoint_remote(fd, remote, sizeof remote);
	if (c->o.unix_path != NULL) {
		/* A client UNIX socket is unnamed: name the path. */
		snprintf(remote, sizeof remote, "%s", c->o.unix_path);
	}
	EVENT("socket.connect", EVI("id", CONNECT_ID), EVS("local", local),
	    EVS("remote", remote));
	events_verbose("connected to %s", remote);
	if (c->o.exec_cmd != NULL) {
		if (exec_start(c->o.exec_cmd, fd, CONNECT_ID, 1,
		    c->o.unix_path) == -1)
			connect_fail(c, errno, NULL, NULL);
		else
			c->executing = 1;
		return;
	}
	stdio_open(&c->in, 0);
	stdio_open(&c->out, 1);
	c->relay = relay_new(c->base, &c->o, fd, CONNECT_ID, remote, &c->in,
	    &c->out, &connect_relay_cb, c);
	if (c->relay == NULL) {
		close(fd);
		connect_fail(c, ENOMEM, NULL, NULL);
		return;
	}
	relay_start(c->relay);
}

/* The pending connect finished, one way or the other. */
static void
connect_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connect *c = arg;
	socklen_t len = sizeof c->err;
	int err = 0;

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		connect_established(c);
		return;
	}
	c->err = err;
	close(c->fd);
	c->fd = -1;
	connect_next(c);
}

/* Time to try again after a refused or absent peer. */
static void
connect_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connect *c = arg;

	(void)fd;
	(void)what;
	c->cur = c->list;
	connect_next(c);
}

/* Try the next address; when none is left, retry or fail. */
static void
connect_next(struct connect *c)
{
	const struct sockaddr *sa;
	struct timeval tv = { 1, 0 };
	socklen_t len;

	while (c->cur != NULL) {
		sa = c->cur->ai_addr;
		len = c->cur->ai_addrlen;
		c->cur = c->cur->ai_next;
		c->fd = endpoint_connect_start(sa, len);
		if (c->fd == -1) {
			c->err = errno;
			continue;
		}
		event_assign(c->wev, c->base, c->fd, EV_WRITE,
		    connect_ready_cb, c);
		event_add(c->wev, NULL);
		return;
	}
	if ((c->err == ECONNREFUSED || c->err == ENOENT) &&
	    (c->o.retry == -1 || c->tries < c->o.retry)) {
		c->tries++;
		log_warn("connect %s: %s (%s), retrying", c->where,
		    strerror(c->err), log_errno_name(c->err));
		evtimer_add(c->retry, &tv);
		return;
	}
	connect_fail(c, c->err, NULL, NULL);
}

/* -w expired. */
static void
connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connect *c = arg;

	(void)fd;
	(void)what;
	event_del(c->retry);
	connect_fail(c, ETIMEDOUT, NULL, NULL);
}

/* A signal: cut the connection (or the attempt) short. */
static void
connect_signal(int count, void *arg)
{
	struct connect *c = arg;

	(void)count;
	c->status = EXIT_RUNTIME;
	c->aborted = 1;
	if (c->relay != NULL) {
		relay_abort(c->relay);
		return;
	}
	if (c->executing) {
		/* Its socket.close comes when it is reaped. */
		exec_kill(SIGTERM);
		return;
	}
	event_base_loopbreak(c->base);
}

/* netkit connect. */
static int
cmd_connect_exec(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct connect c;
	struct endpoint_error err;
	struct timeval tv;
	int r;

	memset(&c, 0, sizeof c);
	c.fd = -1;
	c.in.fd = c.out.fd = -1;
	if ((r = opts_parse(cmd, argc, argv, &c.o)) != 0)
		return (r == -1 ? EXIT_OK : r);
	c.base = event_base_new();
	if (c.base == NULL) {
		log_errorx("connect: cannot make an event loop");
		return (EXIT_RUNTIME);
	}
	c.wev = event_new(c.base, -1, 0, connect_ready_cb, &c);
	c.timer = evtimer_new(c.base, connect_timeout_cb, &c);
	c.retry = evtimer_new(c.base, connect_retry_cb, &c);
	if (c.wev == NULL || c.timer == NULL || c.retry == NULL ||
	    signals_watch(c.base, connect_signal, &c) == -1 ||
	    (c.o.exec_cmd != NULL &&
	    exec_init(c.base, connect_exec_done, &c) == -1)) {
		log_errorx("connect: out of memory");
		c.status = EXIT_RUNTIME;
		goto out;
	}

	if (c.o.fd != -1) {
		/* An inherited, connected socket: relay it as it is. */
		if (endpoint_inherit(c.o.fd, 0, &err) == -1) {
			log_error_code(c.o.name, err.where,
			    endpoint_error_message(&err),
			    endpoint_error_code(&err));
			c.status = EXIT_USAGE;
			goto out;
		}
		c.fd = c.o.fd;
		connect_established(&c);
		if (!c.failed)
			event_base_dispatch(c.base);
		goto out;
	}
	if (c.o.unix_path != NULL) {
		snprintf(c.where, sizeof c.where, "%s", c.o.unix_path);
		if (endpoint_unix_addr(c.o.unix_path, &c.unix_addr,
		    &c.unix_len) == -1) {
			connect_fail(&c, errno, NULL, NULL);
			goto out;
		}
		c.unix_ai.ai_addr = (struct sockaddr *)&c.unix_addr;
		c.unix_ai.ai_addrlen = c.unix_len;
		c.list = &c.unix_ai;
	} else {
		c.res = endpoint_resolve(&c.o, &err);
		snprintf(c.where, sizeof c.where, "%s", err.where);
		if (c.res == NULL) {
			connect_fail(&c, err.err, err.err ? NULL :
			    err.code, err.err ? NULL : err.message);
			goto out;
		}
		c.list = c.res;
	}
	if (c.o.connect_timeout_ms > 0) {
		tv.tv_sec = c.o.connect_timeout_ms / 1000;
		tv.tv_usec = (c.o.connect_timeout_ms % 1000) * 1000;
		evtimer_add(c.timer, &tv);
	}
	c.cur = c.list;
	connect_next(&c);
	if (!c.failed)
		event_base_dispatch(c.base);

out:
	exec_cleanup();
	signals_unwatch();
	relay_free(c.relay);
	if (c.fd != -1)
		close(c.fd);
	if (c.res != NULL)
		freeaddrinfo(c.res);
	if (c.wev != NULL)
		event_free(c.wev);
	if (c.timer != NULL)
		event_free(c.timer);
	if (c.retry != NULL)
		event_free(c.retry);
	stdio_restore(&c.in);
	stdio_restore(&c.out);
	event_base_free(c.base);
	return (c.status);
}
