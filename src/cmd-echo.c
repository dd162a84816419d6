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
	struct udp_batch *batch; /* -u */
	struct event *rev; /* -u: datagrams wait */
	struct event *wev; /* -u: room for the replies left */
	int status;
};

/* Batches of datagrams echo -u takes per readiness callback. */
#define ECHO_UDP_BURST 16

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

/*
 * -u: send the batch's replies that are left; when the socket has no room,
 * stop reading until it has.
 */
static int
echo_udp_reply(struct echo *e)
{
	if (udp_batch_reply(e->batch, server_fd(e->server)) == 0)
		return (0);
	event_del(e->rev);
	event_add(e->wev, NULL);
	return (1);
}

/* -u: datagrams wait: each goes back to its sender. */
static void
echo_udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct echo *e = arg;
	char remote[ENDPOINT_ADDRSTRLEN];
	size_t len;
	int i, j, n, report;

	(void)what;
	for (i = 0; i < ECHO_UDP_BURST; i++) {
		if ((n = udp_batch_recv(e->batch, fd, e->o.acl)) <= 0)
			break; /* none waits; an error is one datagram's */
		/*
		 * A socket.message per datagram, or server.drop (and with
		 * -v a line) when the access lists refuse its sender.
		 */
		report = events_enabled() || (e->o.verbose && e->o.acl != NULL);
		for (j = 0; report && j < n; j++) {
			len = udp_batch_msg(e->batch, j, remote, sizeof remote);
			if (udp_batch_blocked(e->batch, j))
				server_peer(e->server, NULL, remote, "blocked");
			else
				EVENT("socket.message", EVS("remote", remote),
				    EVI("bytes", len));
		}
		if (echo_udp_reply(e))
			return;
		if (n < UDP_BATCH)
			break; /* the socket is empty */
	}
}

/* -u: the socket has room for the replies left. */
static void
echo_udp_room(evutil_socket_t fd, short what, void *arg)
{
	struct echo *e = arg;

	(void)fd;
	(void)what;
	if (echo_udp_reply(e))
		return;
	event_add(e->rev, NULL);
}

/* -u: the first signal: the socket is about to close. */
static void
echo_stop(struct server *s, void *arg)
{
	struct echo *e = arg;

	(void)s;
	if (e->rev != NULL)
		event_del(e->rev);
	if (e->wev != NULL)
		event_del(e->wev);
}

/* -u: read the server's datagram socket. -1 when out of memory. */
static int
echo_udp_start(struct echo *e)
{
	int fd = server_fd(e->server);

	e->batch = udp_batch_new();
	e->rev = event_new(e->base, fd, EV_READ | EV_PERSIST, echo_udp_read, e);
	e->wev = event_new(e->base, fd, EV_WRITE, echo_udp_room, e);
	if (e->batch == NULL || e->rev == NULL || e->wev == NULL)
		return (-1);
	event_add(e->rev, NULL);
	return (0);
}

static const struct server_cb echo_server_cb = { echo_accept, echo_abort, NULL,
	echo_stop };

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
		opts_free(&e.o);
		return (EXIT_RUNTIME);
	}
	e.server = server_start(e.base, &e.o, &echo_server_cb, &e, 0, &r);
	if (e.server == NULL) {
		event_base_free(e.base);
		opts_free(&e.o);
		return (r);
	}
	if (e.o.udp && echo_udp_start(&e) == -1) {
		log_errorx("echo: out of memory");
		e.status = EXIT_RUNTIME;
	} else {
		server_announce(e.server);
		event_base_dispatch(e.base);
	}

	if (e.rev != NULL)
		event_free(e.rev);
	if (e.wev != NULL)
		event_free(e.wev);
	udp_batch_free(e.batch);
	server_free(e.server);
	event_base_free(e.base);
	opts_free(&e.o);
	return (e.status);
}
