/*
 * The accept loop shared by listen and echo (and every server to come):
 * accepts in batches, counts connections, applies --max-connections,
 * backs off instead of spinning when descriptors run out, and handles
 * SIGINT/SIGTERM as Node's server.close(): the first signal stops
 * accepting and lets open connections finish, a second one asks the owner
 * to close them all at once. When the server has stopped and its last
 * connection has ended, it reports server.close and leaves the loop.
 *
 * A datagram socket (-u) has no connections to accept: its owner reads it
 * (server_fd) and admits each new peer with server_peer, which counts it
 * as a connection; the first signal asks the owner to stop (its peers end
 * at once) before the socket is closed.
 *
 * Admission (server_peer) is where the access lists (--allow, --deny)
 * are checked, for every server command: a refused connection is accepted
 * and reset at once, a refused sender's datagram dropped, with server.drop
 * reason=blocked and nothing else. echo -u, which keeps no peers, has each
 * datagram's sender checked as it takes them (udp_batch_recv) and reports
 * a refused one here.
 */

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

/* Accepts per readiness callback before other events get a turn. */
#define SERVER_BURST 64

/* How long to stop accepting when descriptors or memory run out. */
#define SERVER_BACKOFF_MS 100

struct server {
	struct event_base *base;
	const struct options *o;
	int fd;
	struct event *ev;
	struct event *backoff;
	long conns;
	int next_id;
	int stopped;
	int closed;
	int warned;
	int once; /* stop accepting after the first connection */
	int datagram; /* a datagram socket: the owner reads it */
	struct tls_config *tls; /* --tls: every connection is a session */
	const struct server_cb *cb;
	void *arg;
};

/* Stopped and the last connection ended: server.close, leave the loop. */
static void
server_maybe_closed(struct server *s)
{
	if (!s->stopped || s->conns > 0 || s->closed)
		return;
	s->closed = 1;
	if (events_enabled())
		events_emit("server.close", NULL, 0);
	event_base_loopbreak(s->base);
}

/* A signal: the first stops accepting, a second closes everything. */
static void
server_signal(int count, void *arg)
{
	struct server *s = arg;

	if (count == 1)
		server_stop(s);
	else
		s->cb->abort(s, s->arg);
}

/* A connection failed before its owner got it (its TLS handshake). */
static void
server_refuse(struct server *s, struct conn *c, const char *code,
    const char *message)
{
	if (s->cb->refused != NULL)
		s->cb->refused(s, c, code, message, s->arg);
	conn_error_code(c, code, message);
	conn_close(c);
	conn_free(c);
	server_conn_closed(s);
}

/* The TLS handshake of an accepted connection is over. */
static void
server_tls_done(struct tls *t, int r, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->arg;

	if (r == -1) {
		server_refuse(s, c, tls_code(t), tls_message(t));
		return;
	}
	tls_event_secure(t, c->id);
	c->arg = NULL;
	s->cb->accept(s, c, s->arg);
}

/*
 * An accepted socket becomes a connection; with --tls its handshake runs
 * first (bounded by --timeout), then the owner gets it.
 */
static void
server_connection(struct server *s, int fd, int id, const char *remote)
{
	struct conn *c;
	struct tls *t;

	c = conn_new(s->base, s->o, id, fd, remote, NULL, s);
	if (c == NULL) {
		close(fd);
		server_conn_closed(s);
		return;
	}
	if (s->tls == NULL) {
		s->cb->accept(s, c, s->arg);
		return;
	}
	if ((t = tls_new(s->tls, fd, NULL)) == NULL) {
		server_refuse(s, c, "ENOMEM", strerror(ENOMEM));
		return;
	}
	c->io.ops = &tls_io_ops;
	c->io.ctx = t;
	if (tls_drive(t, s->base, s->o->timeout_ms, server_tls_done, c) == -1)
		server_refuse(s, c, "ENOMEM", strerror(ENOMEM));
}

/*
 * Admit a new connection from remote (its address sa, or NULL), or a
 * datagram server's new peer. It is refused when the access lists do not
 * allow sa (server.drop reason=blocked; SERVER_BLOCKED: a connection is
 * reset), dropped (server.drop; 0) when reason is given (such as "peer":
 * the one peer is taken) or beyond -m, else counted and reported
 * (server.connection). Returns its id.
 */
int
server_peer(struct server *s, const struct sockaddr *sa, const char *remote,
    const char *reason)
{
	if (sa != NULL && s->o->acl != NULL && !acl_allows(s->o->acl, sa)) {
		server_peer(s, NULL, remote, "blocked");
		return (SERVER_BLOCKED);
	}
	if (reason != NULL) {
		EVENT("server.drop", EVS("remote", remote),
		    EVI("connections", s->conns), EVS("reason", reason));
		events_verbose("dropped %s (%s)", remote, reason);
		return (0);
	}
	if (s->o->max_connections >= 0 && s->conns >= s->o->max_connections) {
		EVENT("server.drop", EVS("remote", remote),
		    EVI("connections", s->conns));
		events_verbose("dropped %s", remote);
		return (0);
	}
	s->conns++;
	s->next_id++;
	EVENT("server.connection", EVI("id", s->next_id), EVS("remote", remote),
	    EVI("connections", s->conns));
	events_verbose("connection from %s", remote);
	return (s->next_id);
}

/* The socket a datagram server's owner reads and writes; -1 once stopped. */
int
server_fd(const struct server *s)
{
	return (s->fd);
}

/* Accept what is waiting. */
static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;
	struct timeval tv = { 0, SERVER_BACKOFF_MS * 1000 };
	char remote[ENDPOINT_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i, id;

	(void)what;
	for (i = 0; i < SERVER_BURST && !s->stopped; i++) {
		len = sizeof ss;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (!s->warned) {
				log_warn("%s accept: %s (%s)", s->o->name,
				    strerror(errno), log_errno_name(errno));
				s->warned = 1;
			}
			/* Out of descriptors or memory: wait, do not spin. */
			event_del(s->ev);
			evtimer_add(s->backoff, &tv);
			return;
		}
		s->warned = 0;
		endpoint_remote(fd, remote, sizeof remote);
		/* Before server.connection: the event means a ready socket. */
		endpoint_sockopts(fd, s->o);
		id = server_peer(s, (struct sockaddr *)&ss, remote, NULL);
		if (id <= 0) {
			if (id == SERVER_BLOCKED)
				endpoint_reset(fd); /* refused: a reset */
			close(fd);
			continue;
		}
		if (s->once)
			server_stop(s);
		server_connection(s, fd, id, remote);
	}
}

/* The back-off is over: accept again. */
static void
server_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	if (!s->stopped)
		event_add(s->ev, NULL);
}

/*
 * Start accepting on a listening socket; the server owns it from now on,
 * even when server_new fails.
 */
struct server *
server_new(struct event_base *base, int fd, const struct options *o,
    const struct server_cb *cb, void *arg)
{
	struct server *s;
	socklen_t len = sizeof(int);
	int type = SOCK_STREAM;

	s = calloc(1, sizeof *s);
	if (s == NULL) {
		close(fd);
		return (NULL);
	}
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	s->datagram = type == SOCK_DGRAM;
	s->base = base;
	s->o = o;
	s->fd = fd;
	s->cb = cb;
	s->arg = arg;
	s->ev = event_new(base, fd, EV_READ | EV_PERSIST, server_accept_cb, s);
	s->backoff = evtimer_new(base, server_backoff_cb, s);
	if (s->ev == NULL || s->backoff == NULL ||
	    signals_watch(base, server_signal, s) == -1) {
		server_free(s);
		return (NULL);
	}
	if (!s->datagram)
		event_add(s->ev, NULL);
	return (s);
}

/* Report server.listening (and the -v line): where the server listens. */
void
server_announce(struct server *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char addr[INET6_ADDRSTRLEN], where[ENDPOINT_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

	const char *proto;

	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	endpoint_format((struct sockaddr *)&ss, len, where, sizeof where);
	if (ss.ss_family == AF_UNIX)
		proto = s->datagram ? "unixgram" : "unix";
	else
		proto = s->datagram ? "udp" : "tcp";
	if (s->datagram)
		events_verbose("listening on %s (%s)", where, proto);
	else
		events_verbose("listening on %s", where);
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
		EVENT("server.listening", EVS("address", addr),
		    EVI("port", ntohs(sin->sin_port)), EVS("family", "IPv4"),
		    EVS("protocol", proto));
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr);
		EVENT("server.listening", EVS("address", addr),
		    EVI("port", ntohs(sin6->sin6_port)), EVS("family", "IPv6"),
		    EVS("protocol", proto));
	} else
		EVENT("server.listening", EVS("path", where),
		    EVS("protocol", proto));
}

/* Stop accepting: close the listening socket and remove its file. */
void
server_stop(struct server *s)
{
	if (s->stopped)
		return;
	s->stopped = 1;
	event_del(s->ev);
	event_del(s->backoff);
	if (s->datagram && s->cb->stop != NULL)
		s->cb->stop(s, s->arg); /* its peers end before the socket */
	close(s->fd);
	s->fd = -1;
	endpoint_unlink();
	server_maybe_closed(s);
}

/* Free a server, closing its listening socket if still open. */
void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	signals_unwatch();
	tls_config_free(s->tls);
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->backoff != NULL)
		event_free(s->backoff);
	if (s->fd != -1)
		close(s->fd);
	endpoint_unlink();
	free(s);
}

/* A connection the server accepted has ended. */
void
server_conn_closed(struct server *s)
{
	s->conns--;
	server_maybe_closed(s);
}

/*
 * Open the listening socket, retrying on EADDRINUSE if asked, or check the
 * inherited one. -1 on a runtime failure, -2 when --fd is not a listening
 * socket (a usage error).
 */
static int
server_open(const struct options *o)
{
	struct endpoint_error err;
	long tries = 0;
	int fd;

	if (o->fd != -1) {
		if (endpoint_inherit(o->fd, 1,
			o->udp ? SOCK_DGRAM : SOCK_STREAM, &err) == -1) {
			log_error_code(o->name, err.where,
			    endpoint_error_message(&err),
			    endpoint_error_code(&err));
			return (-2);
		}
		return (o->fd);
	}
	for (;;) {
		fd = endpoint_listen(o, &err);
		if (fd != -1)
			return (fd);
		if (err.err != EADDRINUSE ||
		    (o->retry != -1 && tries >= o->retry))
			break;
		tries++;
		log_warn("%s %s: address in use, retrying", o->name, err.where);
		sleep(1);
	}
	EVENT("server.error", EVS("code", endpoint_error_code(&err)),
	    EVS("message", endpoint_error_message(&err)));
	log_error_code(o->name, err.where, endpoint_error_message(&err),
	    endpoint_error_code(&err));
	return (-1);
}

/*
 * Open the listener the options name and start a server on it, for a
 * command: its TLS settings first (a key that does not match its
 * certificate fails here), and the failure line is written here. once:
 * stop accepting after the first connection. NULL with *status set
 * (EXIT_USAGE for a bad --fd, else EXIT_RUNTIME) on failure.
 */
struct server *
server_start(struct event_base *base, const struct options *o,
    const struct server_cb *cb, void *arg, int once, int *status)
{
	struct tls_error err;
	struct tls_config *tls = NULL;
	struct server *s;
	int fd;

	if (o->tls && (tls = tls_config_new(o, 1, &err)) == NULL) {
		log_error_code(o->name, err.where, err.message, err.code);
		*status = EXIT_RUNTIME;
		return (NULL);
	}
	if ((fd = server_open(o)) < 0) {
		tls_config_free(tls);
		*status = fd == -2 ? EXIT_USAGE : EXIT_RUNTIME;
		return (NULL);
	}
	if ((s = server_new(base, fd, o, cb, arg)) == NULL) {
		tls_config_free(tls);
		log_errorx("%s: out of memory", o->name);
		*status = EXIT_RUNTIME;
		return (NULL);
	}
	s->tls = tls;
	s->once = once;
	return (s);
}
