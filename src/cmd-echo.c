/*
 * netkit echo: a concurrent echo server. Every connection is one pump from
 * the socket back to itself, flow-controlled on its own: a client that
 * sends but does not read is paused once its echo backlog reaches the
 * high-water mark.
 */

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

/* Default echo backlog per connection before reading pauses. */
#define ECHO_BUFFER_SIZE (64 * 1024)

static int cmd_echo_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_echo_entry = {
	.name = "echo",
	.summary = "a concurrent echo server",
	.synopsis = "echo [OPTIONS] [-p PORT] [-H HOST] | -U PATH | --fd N",
	.exec = cmd_echo_exec,
	.mask = CMD_ECHO,
	.args = CMD_ARGS_NONE,
	.address = CMD_ADDRESS_LISTEN,
	.buffer_size = ECHO_BUFFER_SIZE,
};

struct echo_conn {
	struct echo *echo;
	int fd;
	int id;
	int had_error;
	int ended;
	struct pump *pump;
	struct idle *idle;
	LIST_ENTRY(echo_conn) entry;
};

struct echo {
	struct event_base *base;
	struct options o;
	struct server *server;
	LIST_HEAD(, echo_conn) conns;
	int status;
};

/* Close a connection and report it. */
static void
echo_conn_close(struct echo_conn *c)
{
	struct echo *e = c->echo;

	EVENT("socket.close", EVI("id", c->id), EVB("had_error", c->had_error),
	    EVI("bytes_read", pump_nread(c->pump)),
	    EVI("bytes_written", pump_nwritten(c->pump)));
	LIST_REMOVE(c, entry);
	idle_free(c->idle);
	pump_free(c->pump);
	close(c->fd);
	free(c);
	server_conn_closed(e->server);
}

/* Report an error on a connection. */
static void
echo_conn_error(struct echo_conn *c, int err)
{
	if (c->had_error)
		return;
	c->had_error = 1;
	EVENT("socket.error", EVI("id", c->id), EVS("code", log_errno_name(err)),
	    EVS("message", strerror(err)));
}

/* What the connection's pump reports. */
static void
echo_conn_cb(struct pump *p, int what, size_t n, void *arg)
{
	struct echo_conn *c = arg;

	switch (what) {
	case PUMP_DATA:
		EVENT("socket.data", EVI("id", c->id), EVI("bytes", n));
		break;
	case PUMP_EOF:
		EVENT("socket.end", EVI("id", c->id));
		break;
	case PUMP_DRAIN:
		EVENT("socket.drain", EVI("id", c->id));
		break;
	case PUMP_READ_ERROR:
		echo_conn_error(c, pump_error(p));
		break;
	case PUMP_FLUSHED:
		/* The client ended and has its whole echo: end our side. */
		shutdown(c->fd, SHUT_WR);
		echo_conn_close(c);
		break;
	case PUMP_WRITE_ERROR:
		echo_conn_error(c, pump_error(p));
		echo_conn_close(c);
		break;
	}
}

/* No I/O for --timeout ms: end (flush the echo, FIN), destroy, or ignore. */
static void
echo_conn_idle(void *arg)
{
	struct echo_conn *c = arg;

	EVENT("socket.timeout", EVI("id", c->id));
	if (c->echo->o.on_timeout == ON_TIMEOUT_END && !c->ended &&
	    pump_pending(c->pump)) {
		/* Flush the echo first; close if idle once more. */
		c->ended = 1;
		pump_stop(c->pump);
		idle_again(c->idle);
	} else if (c->echo->o.on_timeout != ON_TIMEOUT_IGNORE) {
		pump_abort(c->pump);
		shutdown(c->fd, SHUT_WR);
		echo_conn_close(c);
	}
}

/* A new client. */
static void
echo_accept(struct server *s, int fd, int id, const char *remote, void *arg)
{
	struct echo *e = arg;
	struct echo_conn *c;

	(void)s;
	(void)remote;
	c = calloc(1, sizeof *c);
	if (c != NULL)
		c->pump = pump_new(e->base, fd, fd,
		    PUMP_SRC_POLL | PUMP_DST_POLL, e->o.buffer_size,
		    echo_conn_cb, c);
	if (c == NULL || c->pump == NULL) {
		free(c);
		close(fd);
		server_conn_closed(e->server);
		return;
	}
	c->echo = e;
	c->fd = fd;
	c->id = id;
	LIST_INSERT_HEAD(&e->conns, c, entry);
	if (e->o.timeout_ms > 0) {
		c->idle = idle_new(e->base, e->o.timeout_ms,
		    pump_last_io(c->pump), NULL, echo_conn_idle, c);
		if (c->idle == NULL) {
			echo_conn_close(c);
			return;
		}
	}
	pump_start(c->pump);
}

/* Stopped accepting and the last client is gone. */
static void
echo_closed(struct server *s, void *arg)
{
	struct echo *e = arg;

	(void)s;
	event_base_loopbreak(e->base);
}

/* First signal: stop accepting, let clients finish. Second: close all. */
static void
echo_signal(int count, void *arg)
{
	struct echo *e = arg;
	struct echo_conn *c;

	if (count == 1) {
		server_stop(e->server);
		return;
	}
	e->status = EXIT_RUNTIME;
	while ((c = LIST_FIRST(&e->conns)) != NULL) {
		pump_abort(c->pump);
		echo_conn_close(c);
	}
}

static const struct server_cb echo_server_cb = { echo_accept, echo_closed };

/* netkit echo. */
static int
cmd_echo_exec(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct echo e;
	int fd, r;

	memset(&e, 0, sizeof e);
	if ((r = opts_parse(cmd, argc, argv, &e.o)) != 0)
		return (r == -1 ? EXIT_OK : r);
	LIST_INIT(&e.conns);

	if ((fd = server_open(&e.o)) < 0)
		return (fd == -2 ? EXIT_USAGE : EXIT_RUNTIME);
	e.base = event_base_new();
	if (e.base == NULL) {
		close(fd);
		log_errorx("echo: cannot make an event loop");
		return (EXIT_RUNTIME);
	}
	e.server = server_new(e.base, fd, &e.o, &echo_server_cb, &e);
	if (e.server == NULL || signals_watch(e.base, echo_signal, &e) == -1) {
		log_errorx("echo: out of memory");
		server_free(e.server);
		event_base_free(e.base);
		return (EXIT_RUNTIME);
	}
	endpoint_listening_event(fd);
	event_base_dispatch(e.base);

	signals_unwatch();
	server_free(e.server);
	event_base_free(e.base);
	return (e.status);
}
