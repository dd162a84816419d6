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

/* The one connection: stop listening and relay it. */
static void
listen_accept(struct server *s, int fd, int id, const char *remote,
    void *arg)
{
	struct listen *l = arg;

	if (l->o.exec_cmd != NULL) {
		if (!l->o.keep_open)
			server_stop(s);
		if (exec_start(l->o.exec_cmd, fd, id, 0,
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
		hub_accept(l->hub, fd, id, remote);
		return;
	}
	server_stop(s);
	stdio_open(&l->in, 0);
	stdio_open(&l->out, 1);
	l->relay = relay_new(l->base, &l->o, fd, id, remote, &l->in, &l->out,
	    &listen_relay_cb, l);
	if (l->relay == NULL) {
		log_errorx("listen: out of memory");
		close(fd);
		l->status = EXIT_RUNTIME;
		server_conn_closed(s);
		return;
	}
	relay_start(l->relay);
}

/* The --exec command ended: its status is ours. */
static void
listen_exec_done(int id, int status, uint64_t nread, uint64_t nwritten,
    int lost, void *arg)
{
	struct listen *l = arg;

	EVENT("socket.close", EVI("id", id), EVB("had_error", lost),
	    EVI("bytes_read", nread), EVI("bytes_written", nwritten));
	if (!l->o.keep_open && !l->aborted)
		l->status = status;
	l->executing--;
	server_conn_closed(l->server);
}

/* Stopped listening and the connection (if any) is over. */
static void
listen_closed(struct server *s, void *arg)
{
	struct listen *l = arg;

	(void)s;
	event_base_loopbreak(l->base);
}

/* First signal: stop waiting, or let the connection finish; second: cut. */
static void
listen_signal(int count, void *arg)
{
	struct listen *l = arg;

	if (count == 1) {
		/* Stop accepting; what is connected goes on. */
		server_stop(l->server);
		return;
	}
	l->status = EXIT_RUNTIME;
	l->aborted = 1;
	if (l->executing)
		exec_kill(SIGTERM);
	if (l->relay != NULL)
		relay_abort(l->relay);
	if (l->hub != NULL)
		hub_close_all(l->hub);
}

static const struct server_cb listen_server_cb = { listen_accept,
	listen_closed };

/* netkit listen. */
static int
cmd_listen_exec(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct listen l;
	int fd, r;

	memset(&l, 0, sizeof l);
	l.in.fd = l.out.fd = -1;
	if ((r = opts_parse(cmd, argc, argv, &l.o)) != 0)
		return (r == -1 ? EXIT_OK : r);

	if ((fd = server_open(&l.o)) < 0)
		return (fd == -2 ? EXIT_USAGE : EXIT_RUNTIME);
	l.base = event_base_new();
	if (l.base == NULL) {
		close(fd);
		log_errorx("listen: cannot make an event loop");
		return (EXIT_RUNTIME);
	}
	l.server = server_new(l.base, fd, &l.o, &listen_server_cb, &l);
	if (l.server == NULL ||
	    signals_watch(l.base, listen_signal, &l) == -1 ||
	    (l.o.exec_cmd != NULL &&
	    exec_init(l.base, listen_exec_done, &l) == -1)) {
		log_errorx("listen: out of memory");
		server_free(l.server);
		event_base_free(l.base);
		return (EXIT_RUNTIME);
	}
	if (l.o.keep_open && l.o.exec_cmd == NULL &&
	    (l.hub = hub_new(l.base, &l.o, l.server)) == NULL) {
		log_errorx("listen: out of memory");
		exec_cleanup();
		signals_unwatch();
		server_free(l.server);
		event_base_free(l.base);
		return (EXIT_RUNTIME);
	}
	endpoint_listening_event(fd);
	event_base_dispatch(l.base);
	if (l.hub != NULL && (r = hub_finish(l.hub)) != EXIT_OK)
		l.status = r;

	exec_cleanup();
	signals_unwatch();
	relay_free(l.relay);
	hub_free(l.hub);
	server_free(l.server);
	stdio_restore(&l.in);
	stdio_restore(&l.out);
	event_base_free(l.base);
	return (l.status);
}
