/*
 * netkit listen: accept one connection, stop listening, relay it to
 * stdin/stdout, exit. With -k, keep accepting and serve every client at
 * once through the hub; with -e, give each connection to a command.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

static int cmd_listen_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_listen_entry = {
	.name = "listen",
	.summary = "accept a connection and relay it to stdin/stdout",
	.synopsis = "listen [OPTIONS] [HOST] PORT\n"
		    "listen [OPTIONS] -U PATH\n"
		    "listen [OPTIONS] --fd N",
	.exec = cmd_listen_exec,
	.mask = CMD_LISTEN,
	.args = CMD_ARGS_HOST_PORT,
	.address = CMD_ADDRESS_LISTEN,
	.buffer_size = NETKIT_BUFFER_SIZE,
};

struct listen {
	struct event_base *base;
	struct options o;
	struct server *server;
	struct relay *relay;
	struct hub *hub;
	struct udp *udp; /* -u */
	struct stdio_end in;
	struct stdio_end out;
	int status;
	int executing;
	int aborted; /* a second signal: exit 1, whatever the command says */
};

/* The relay is over. */
static void
listen_relay_done(struct relay *r, void *arg)
{
	struct listen *l = arg;

	l->status = relay_status(r);
	server_conn_closed(l->server);
}

static const struct relay_cb listen_relay_cb = { listen_relay_done };

/*
 * A connection: to its command (-e), to the hub (-k), or the one relay
 * (the server stopped listening when it arrived).
 */
static void
listen_accept(struct server *s, struct conn *conn, void *arg)
{
	struct listen *l = arg;

	if (l->o.exec_cmd != NULL) {
		/* The command owns the connection from now on (exec.c). */
		if (exec_start_conn(l->o.exec_cmd, &l->o, conn, 0,
			l->o.unix_path) == -1) {
			log_error(l->o.name, "exec", errno);
			if (!l->o.keep_open)
				l->status = EXIT_RUNTIME;
			server_conn_closed(s);
		} else
			l->executing++;
		return;
	}
	if (l->hub != NULL) {
		hub_accept(l->hub, conn);
		return;
	}
	stdio_open(&l->in, 0);
	stdio_open(&l->out, 1);
	l->relay = relay_new(l->base, &l->o, conn, &l->in, &l->out,
	    &listen_relay_cb, l);
	if (l->relay == NULL) {
		log_errorx("listen: out of memory");
		conn_free(conn);
		l->status = EXIT_RUNTIME;
		server_conn_closed(s);
		return;
	}
	relay_start(l->relay);
}

/* The one connection failed its TLS handshake: one line, exit 1. */
static void
listen_refused(struct server *s, struct conn *conn, const char *code,
    const char *message, void *arg)
{
	struct listen *l = arg;

	(void)s;
	if (l->o.keep_open)
		return; /* the events say it; the server goes on */
	log_error_code(l->o.name, conn->remote, message, code);
	l->status = EXIT_RUNTIME;
}

/* The --exec command ended: its status is ours. */
static void
listen_exec_done(int id, int status, uint64_t nread, uint64_t nwritten,
    int lost, int reported, void *arg)
{
	struct listen *l = arg;

	if (!reported)
		conn_close_event(id, lost, nread, nwritten);
	if (!l->o.keep_open && !l->aborted)
		l->status = status;
	l->executing--;
	server_conn_closed(l->server);
}

/* A second signal: cut every connection and command short. */
static void
listen_abort(struct server *s, void *arg)
{
	struct listen *l = arg;

	(void)s;
	l->status = EXIT_RUNTIME;
	l->aborted = 1;
	if (l->executing)
		exec_kill(SIGTERM);
	if (l->relay != NULL)
		relay_abort(l->relay);
	if (l->hub != NULL)
		hub_close_all(l->hub);
	if (l->udp != NULL)
		udp_abort(l->udp);
}

/* The first signal on a datagram server: every peer ends now. */
static void
listen_stop(struct server *s, void *arg)
{
	struct listen *l = arg;

	(void)s;
	if (l->udp != NULL)
		udp_stop(l->udp);
}

static const struct server_cb listen_server_cb = { listen_accept, listen_abort,
	listen_refused, listen_stop };

/* -u: the datagram relay is over (stdin ended, the last peer gone). */
static void
listen_udp_done(struct udp *u, void *arg)
{
	struct listen *l = arg;

	if (!l->aborted)
		l->status = udp_status(u);
	server_stop(l->server);
}

static const struct udp_cb listen_udp_cb = { listen_udp_done };

/* netkit listen. */
static int
cmd_listen_exec(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct listen l;
	int r;

	memset(&l, 0, sizeof l);
	l.in.fd = l.out.fd = -1;
	if ((r = opts_parse(cmd, argc, argv, &l.o)) != 0)
		return (r == -1 ? EXIT_OK : r);

	if ((l.base = event_base_new()) == NULL) {
		log_errorx("listen: cannot make an event loop");
		opts_free(&l.o);
		return (EXIT_RUNTIME);
	}
	if (meter_start(l.base, &l.o) == -1) {
		log_error(l.o.name, l.o.hexdump_path, errno);
		meter_stop();
		event_base_free(l.base);
		return (EXIT_RUNTIME);
	}
	l.server = server_start(l.base, &l.o, &listen_server_cb, &l,
	    !l.o.keep_open, &r);
	if (l.server == NULL) {
		meter_stop();
		event_base_free(l.base);
		opts_free(&l.o);
		return (r);
	}
	if ((l.o.exec_cmd != NULL &&
		exec_init(l.base, listen_exec_done, &l) == -1) ||
	    (l.o.udp &&
		((l.udp = udp_new(l.base, &l.o, &listen_udp_cb, &l)) == NULL ||
		    udp_serve(l.udp, l.server) == -1)) ||
	    (l.o.keep_open && l.o.exec_cmd == NULL && !l.o.udp &&
		(l.hub = hub_new(l.base, &l.o, l.server)) == NULL)) {
		log_errorx("listen: out of memory");
		l.status = EXIT_RUNTIME;
		goto out;
	}
	server_announce(l.server);
	event_base_dispatch(l.base);
	if (l.hub != NULL && (r = hub_finish(l.hub)) != EXIT_OK)
		l.status = r;

out:
	exec_cleanup();
	relay_free(l.relay);
	hub_free(l.hub);
	udp_free(l.udp);
	server_free(l.server);
	stdio_restore(&l.in);
	stdio_restore(&l.out);
	meter_stop();
	event_base_free(l.base);
	opts_free(&l.o);
	return (l.status);
}
