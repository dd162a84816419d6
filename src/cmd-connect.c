/*
 * netkit connect: connect to HOST PORT (each resolved address in turn) or
 * a UNIX socket, and relay the connection to stdin/stdout.
 */

#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
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
	struct conn *conn; /* the socket, from the first attempt on */
	struct dial *dial;
	struct relay *relay;
	struct udp *udp; /* -u */
	struct tls_config *tls; /* --tls */
	const char *where; /* the address as given, for messages */
	struct stdio_end in;
	struct stdio_end out;
	int status;
	int executing;
	int aborted; /* a signal: exit 1, whatever the command says */
};

/* The connection failed for good: report it as a socket that erred. */
static void
connect_fail(struct connect *c, const char *where, const char *code,
    const char *msg)
{
	char code_s[64], msg_s[256];

	/* They may live in the session that conn_close frees. */
	snprintf(code_s, sizeof code_s, "%s", code);
	snprintf(msg_s, sizeof msg_s, "%s", msg);
	conn_error_code(c->conn, code_s, msg_s);
	conn_close(c->conn);
	log_error_code(c->o.name, where, msg_s, code_s);
	c->status = EXIT_RUNTIME;
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
    int lost, int reported, void *arg)
{
	struct connect *c = arg;

	(void)id;
	if (!reported) {
		c->conn->nread = nread;
		c->conn->nwritten = nwritten;
		if (lost)
			c->conn->flags |= CONN_ERROR;
		conn_close(c->conn);
	}
	if (!c->aborted)
		c->status = status;
	c->executing = 0;
	event_base_loopbreak(c->base);
}

/* -u: the datagram relay is over. */
static void
connect_udp_done(struct udp *u, void *arg)
{
	struct connect *c = arg;

	if (!c->aborted)
		c->status = udp_status(u);
	event_base_loopbreak(c->base);
}

static const struct udp_cb connect_udp_cb = { connect_udp_done };

static void connect_secure(struct connect *, struct tls *);
static void connect_relay(struct connect *);

/* The peer is reached on fd: socket.connect (before any TLS handshake). */
static void
connect_announce(struct connect *c, int fd)
{
	char local[ENDPOINT_ADDRSTRLEN], remote[ENDPOINT_ADDRSTRLEN];

	endpoint_sockopts(fd, &c->o);
	endpoint_local(fd, local, sizeof local);
	endpoint_remote(fd, remote, sizeof remote);
	if (c->o.unix_path != NULL) {
		/* A client UNIX socket is unnamed: name the path. */
		snprintf(remote, sizeof remote, "%s", c->o.unix_path);
	} else if (c->dial != NULL && dial_peer(c->dial) != NULL) {
		/* Through a proxy: the target the tunnel reaches. */
		snprintf(remote, sizeof remote, "%s", dial_peer(c->dial));
	}
	EVENT("socket.connect", EVI("id", CONNECT_ID), EVS("local", local),
	    EVS("remote", remote));
	events_verbose("connected to %s", remote);
	conn_set_fd(c->conn, -1, remote);
}

/*
 * Connected (fd is ours now, with its TLS session t when --tls): relay,
 * or run the command.
 */
static void
connect_established(struct connect *c, int fd, struct tls *t)
{
	char remote[ENDPOINT_ADDRSTRLEN];
	int err;

	if (t == NULL)
		connect_announce(c, fd);
	snprintf(remote, sizeof remote, "%s", c->conn->remote);
	if (c->o.exec_cmd != NULL && t == NULL) {
		/* The command's process owns the socket (exec.c). */
		conn_set_fd(c->conn, -1, remote);
		if (exec_start(c->o.exec_cmd, fd, fd, CONNECT_ID, 1,
			c->o.unix_path) == -1) {
			err = errno;
			connect_fail(c, remote, log_errno_name(err),
			    strerror(err));
		} else
			c->executing = 1;
		return;
	}
	conn_set_fd(c->conn, fd, remote);
	if (c->o.udp) {
		/* The datagram relay owns the connection, even on failure. */
		c->udp = udp_new(c->base, &c->o, &connect_udp_cb, c);
		if (c->udp == NULL || udp_connect(c->udp, c->conn) == -1) {
			if (c->udp == NULL)
				conn_free(c->conn);
			c->conn = NULL;
			log_errorx("connect: out of memory");
			c->status = EXIT_RUNTIME;
			event_base_loopbreak(c->base);
			return;
		}
		c->conn = NULL;
		return;
	}
	if (t != NULL) {
		c->conn->io.ops = &tls_io_ops;
		c->conn->io.ctx = t;
		connect_secure(c, t);
		return;
	}
	connect_relay(c);
}

/* Relay the connection (its handshake, if any, is done). */
static void
connect_relay(struct connect *c)
{
	stdio_open(&c->in, 0);
	stdio_open(&c->out, 1);
	c->relay = relay_new(c->base, &c->o, c->conn, &c->in, &c->out,
	    &connect_relay_cb, c);
	if (c->relay == NULL) {
		connect_fail(c, c->where, "ENOMEM", strerror(ENOMEM));
		return;
	}
	c->conn = NULL; /* the relay's */
	relay_start(c->relay);
}

/* The TLS handshake is done: relay, or run the command on plaintext. */
static void
connect_secure(struct connect *c, struct tls *t)
{
	struct conn *conn;

	tls_event_secure(t, CONNECT_ID);
	if (*tls_code(t) != '\0')
		log_warn("connect %s: %s (%s), going on: --tls-insecure",
		    c->where, tls_message(t), tls_code(t));
	if (c->o.exec_cmd != NULL) {
		/* The command gets plaintext through a bridge. */
		conn = c->conn;
		c->conn = NULL;
		if (exec_start_conn(c->o.exec_cmd, &c->o, conn, 1,
			c->o.unix_path) == -1) {
			log_error(c->o.name, "exec", errno);
			c->status = EXIT_RUNTIME;
			event_base_loopbreak(c->base);
		} else
			c->executing = 1;
		return;
	}
	connect_relay(c);
}

/* The connect phase has a socket (and its TLS session, with --tls). */
static void
connect_dial_connected(struct dial *d, int fd, void *arg)
{
	connect_established(arg, fd, dial_tls_take(d));
}

/* The peer is reached; the TLS handshake starts. */
static void
connect_dial_reached(struct dial *d, int fd, void *arg)
{
	(void)d;
	connect_announce(arg, fd);
}

/* The connect phase failed for good. */
static void
connect_dial_failed(struct dial *d, const char *code, const char *msg,
    void *arg)
{
	(void)d;
	connect_fail(arg, ((struct connect *)arg)->where, code, msg);
}

/* A refused or absent peer: another round in a second. */
static void
connect_dial_retrying(struct dial *d, int err, void *arg)
{
	(void)arg;
	log_warn("connect %s: %s (%s), retrying", dial_where(d), strerror(err),
	    log_errno_name(err));
}

static const struct dial_cb connect_dial_cb = { connect_dial_connected,
	connect_dial_failed, connect_dial_retrying, connect_dial_reached };

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
	if (c->udp != NULL) {
		udp_abort(c->udp);
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
	struct tls_error terr;
	char where[32];
	int r;

	memset(&c, 0, sizeof c);
	c.in.fd = c.out.fd = -1;
	if ((r = opts_parse(cmd, argc, argv, &c.o)) != 0)
		return (r == -1 ? EXIT_OK : r);
	c.base = event_base_new();
	if (c.base == NULL) {
		log_errorx("connect: cannot make an event loop");
		opts_free(&c.o);
		return (EXIT_RUNTIME);
	}
	if (meter_start(c.base, &c.o) == -1) {
		log_error(c.o.name, c.o.hexdump_path, errno);
		c.status = EXIT_RUNTIME;
		goto out;
	}
	c.conn = conn_new(c.base, &c.o, CONNECT_ID, -1, NULL, NULL, NULL);
	if (c.conn == NULL || signals_watch(c.base, connect_signal, &c) == -1 ||
	    (c.o.exec_cmd != NULL &&
		exec_init(c.base, connect_exec_done, &c) == -1)) {
		log_errorx("connect: out of memory");
		c.status = EXIT_RUNTIME;
		goto out;
	}
	if (c.o.tls && (c.tls = tls_config_new(&c.o, 0, &terr)) == NULL) {
		log_error_code(c.o.name, terr.where, terr.message, terr.code);
		c.status = EXIT_RUNTIME;
		goto out;
	}

	if (c.o.fd != -1 &&
	    endpoint_inherit(c.o.fd, 0, c.o.udp ? SOCK_DGRAM : SOCK_STREAM,
		&err) == -1) {
		log_error_code(c.o.name, err.where,
		    endpoint_error_message(&err), endpoint_error_code(&err));
		c.status = EXIT_USAGE;
		goto out;
	}
	c.dial = dial_new(c.base, &c.o, CONNECT_ID, &connect_dial_cb, &c);
	if (c.dial == NULL) {
		log_errorx("connect: out of memory");
		c.status = EXIT_RUNTIME;
		goto out;
	}
	dial_tls(c.dial, c.tls);
	dial_acl(c.dial, c.o.acl);
	if (c.o.fd != -1) {
		/* An inherited, connected socket: relay it as it is. */
		snprintf(where, sizeof where, "--fd %d", c.o.fd);
		c.where = where;
		dial_adopt(c.dial, c.o.fd);
	} else {
		dial_start(c.dial);
		c.where = dial_where(c.dial);
	}
	if (c.conn == NULL || !(c.conn->flags & CONN_CLOSED))
		event_base_dispatch(c.base);

out:
	exec_cleanup();
	signals_unwatch();
	relay_free(c.relay);
	udp_free(c.udp);
	conn_free(c.conn);
	dial_free(c.dial);
	tls_config_free(c.tls);
	stdio_restore(&c.in);
	stdio_restore(&c.out);
	meter_stop();
	event_base_free(c.base);
	opts_free(&c.o);
	return (c.status);
}
