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
	struct conn *conn;
	struct pump *pump;
	LIST_ENTRY(echo_conn) entry;
};

struct echo {
	struct event_base *base;
	struct options o;
	struct server *server;
	LIST_HEAD(, echo_conn) conns;
	int status;
};

/* Close a connection, report it and free it. */
static void
echo_conn_close(struct echo_conn *c)
{
	struct echo *e = c->echo;

	pump_abort(c->pump);
	conn_close(c->conn);
	LIST_REMOVE(c, entry);
	pump_free(c->pump);
	conn_free(c->conn);
	free(c);
	server_conn_closed(e->server);
}

/* What the connection's pump reports. */
static void
echo_conn_cb(struct pump *p, int what, size_t n, void *arg)
{
	struct echo_conn *c = arg;

	switch (what) {
	case PUMP_DATA:
		EVENT("socket.data", EVI("id", c->conn->id), EVI("bytes", n));
		break;
	case PUMP_EOF:
		conn_end(c->conn);
		break;
	case PUMP_DRAIN:
		EVENT("socket.drain", EVI("id", c->conn->id));
		break;
	case PUMP_READ_ERROR:
		conn_error(c->conn, pump_error(p));
		break;
	case PUMP_FLUSHED:
		/* The client ended and has its whole echo: end our side. */
		conn_shutdown(c->conn);
		echo_conn_close(c);
		break;
	case PUMP_WRITE_ERROR:
		conn_error(c->conn, pump_error(p));
		echo_conn_close(c);
		break;
	}
}

/* The idle timeout: end (flush the echo, then FIN) or close now. */
static void
echo_conn_timeout(struct conn *cn, int what, void *arg)
{
	struct echo_conn *c = arg;

	if (what == CONN_END && pump_pending(c->pump) > 0) {
		pump_stop(c->pump);
		return;
	}
	conn_shutdown(cn);
	echo_conn_close(c);
}

static const struct conn_cb echo_conn_cb_timeout = { echo_conn_timeout };

/* A new client. */
static void
echo_accept(struct server *s, struct conn *conn, void *arg)
{
	struct echo *e = arg;
	struct echo_conn *c;
	int fd = conn->io.fd;

	c = calloc(1, sizeof *c);
	if (c != NULL)
		c->pump = pump_new(e->base, fd, fd,
		    PUMP_SRC_POLL | PUMP_DST_POLL, e->o.buffer_size,
		    echo_conn_cb, c);
	if (c == NULL || c->pump == NULL) {
		free(c);
		conn_error(conn, ENOMEM);
		conn_close(conn);
		conn_free(conn);
		server_conn_closed(s);
		return;
	}
	c->echo = e;
	c->conn = conn;
	conn->cb = &echo_conn_cb_timeout;
	conn->arg = c;
	pump_conn(c->pump, conn);
	LIST_INSERT_HEAD(&e->conns, c, entry);
	conn_start(conn);
	pump_start(c->pump);
}

/* A second signal: close every client at once. */
static void
echo_abort(struct server *s, void *arg)
{
	struct echo *e = arg;
	struct echo_conn *c;

	(void)s;
	e->status = EXIT_RUNTIME;
	while ((c = LIST_FIRST(&e->conns)) != NULL)
		echo_conn_close(c);
}

static const struct server_cb echo_server_cb = { echo_accept, echo_abort,
	NULL };

/* netkit echo. */
static int
cmd_echo_exec(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct echo e;
	int r;

	memset(&e, 0, sizeof e);
	if ((r = opts_parse(cmd, argc, argv, &e.o)) != 0)
		return (r == -1 ? EXIT_OK : r);
	LIST_INIT(&e.conns);

	if ((e.base = event_base_new()) == NULL) {
		log_errorx("echo: cannot make an event loop");
		return (EXIT_RUNTIME);
	}
	e.server = server_start(e.base, &e.o, &echo_server_cb, &e, 0, &r);
	if (e.server == NULL) {
		event_base_free(e.base);
		return (r);
	}
	server_announce(e.server);
	event_base_dispatch(e.base);

	server_free(e.server);
	event_base_free(e.base);
	return (e.status);
}
