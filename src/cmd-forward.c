/*
 * netkit forward: a port forwarder. It listens on FROM and, for every
 * client, runs the connect phase to TO (Happy Eyeballs, -s, --proxy,
 * --tls-to) and forwards the two sockets to each other, one pump each way,
 * until both directions have ended. Between two plain sockets the pumps
 * splice through a pipe (the bytes never enter this process); a TLS end
 * (--tls from clients, --tls-to toward TO) is read and written through
 * its session.
 *
 * A pair's termination rules:
 *
 *  what happens                  what follows
 *  ----------------------------  -----------------------------------------
 *  the client's FIN              what is pending reaches TO, then TO's
 *  (close_notify with --tls)     write half ends (FIN; close_notify first
 *                                with --tls-to); TO -> client goes on
 *  TO's FIN                      the same toward the client
 *  both directions ended         both sockets closed, one socket.close
 *  a read or write error on      socket.error with its code; both sockets
 *  either side (a reset)         are reset; socket.close had_error=true
 *  TO cannot be reached          socket.error with the connect phase's
 *                                code; the client is reset; socket.close
 *                                had_error=true; forwarding goes on
 *  -t, idle MS ms (both sides    socket.timeout; end: both directions end
 *  count)                        as by FINs (pending bytes first), then if
 *                                idle again, closed; destroy: closed at
 *                                once; ignore: nothing
 *  the first SIGINT/SIGTERM      no more clients; open pairs go on; the
 *                                exit (0) follows the last pair
 *  a second one                  every pair is closed at once, exit 1
 *
 * Events: server.*, and per pair (the client's id) server.connection, the
 * connect phase's socket.attempt/attempt_failed/proxy, socket.connect
 * (TO's side), socket.secure (per TLS side), socket.timeout, socket.error
 * and one socket.close with bytes_up and bytes_down. Forwarded bytes make
 * no socket.data.
 */

#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

static int cmd_forward_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_forward_entry = {
	.name = "forward",
	.summary = "listen on FROM and forward each connection to TO",
	.synopsis = "forward [OPTIONS] FROM TO",
	.exec = cmd_forward_exec,
	.mask = CMD_FORWARD,
	.args = CMD_ARGS_FROM_TO,
	.address = CMD_ADDRESS_NONE,
	.buffer_size = NETKIT_BUFFER_SIZE,
};

struct forward;

/* A client and its connection to TO. */
struct fwd_pair {
	struct forward *f;
	struct conn *client;
	struct conn *up; /* TO's side, once reached */
	struct dial *dial; /* until then */
	struct pump *pup; /* client to TO */
	struct pump *pdown; /* TO to client */
	struct event *finish;
	struct hexdump *hex; /* --hexdump: seen from the client's side */
	int up_done;
	int down_done;
	int reset; /* an error: both sockets end with a reset */
	LIST_ENTRY(fwd_pair) entry;
};

struct forward {
	struct event_base *base;
	struct options o; /* FROM, and every option */
	struct options to; /* TO, for the connect phase */
	struct server *server;
	struct tls_config *tls_to; /* --tls-to */
	LIST_HEAD(, fwd_pair) pairs;
	int status;
};

/* Leave a pair from a callback: it ends outside any pump. */
static void
fwd_schedule_finish(struct fwd_pair *p)
{
	event_active(p->finish, EV_TIMEOUT, 0);
}

/* Free a pair (its sockets closed and reported, or never opened). */
static void
fwd_pair_free(struct fwd_pair *p)
{
	pump_free(p->pup);
	pump_free(p->pdown);
	dial_free(p->dial);
	conn_free(p->up);
	conn_free(p->client);
	hexdump_free(p->hex);
	if (p->finish != NULL)
		event_free(p->finish);
	free(p);
}

/* End a pair now: close both sockets, socket.close, free it. */
static void
fwd_pair_close(struct fwd_pair *p)
{
	struct forward *f = p->f;

	if (p->pup != NULL)
		pump_abort(p->pup);
	if (p->pdown != NULL)
		pump_abort(p->pdown);
	conn_close_pair(p->client, p->up, p->reset);
	LIST_REMOVE(p, entry);
	fwd_pair_free(p);
	server_conn_closed(f->server);
}

/* The scheduled end of a pair. */
static void
fwd_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fwd_pair_close(arg);
}

/* A failure on one side (c): the pair's socket.error, then resets. */
static void
fwd_pair_error(struct fwd_pair *p, struct conn *c, int err)
{
	const char *code, *message;

	conn_error_text(c, err, &code, &message);
	if (conn_error_code(p->client, code, message))
		events_verbose("%s %s: %s (%s)", p->f->o.name, c->remote,
		    message, code);
	p->reset = 1;
	fwd_schedule_finish(p);
}

/* A direction is over; when both are, the pair ends. */
static void
fwd_pair_check(struct fwd_pair *p)
{
	if (p->up_done && p->down_done)
		fwd_schedule_finish(p);
}

/*
 * What a pump of the pair reports: from is the side it reads, to the side
 * it writes; done is its direction's flag.
 */
static void
fwd_pump(struct fwd_pair *p, struct pump *pump, int what, struct conn *from,
    struct conn *to, int *done)
{
	switch (what) {
	case PUMP_READ_ERROR:
		fwd_pair_error(p, from, pump_error(pump));
		break;
	case PUMP_FLUSHED:
		hexdump_end(p->hex,
		    from == p->client ? HEXDUMP_RECEIVED : HEXDUMP_SENT);
		/* The FIN passes on: the other side's write half ends (after
		 * a failure, the reset coming is what passes on). */
		if (!p->reset)
			conn_shutdown(to);
		*done = 1;
		fwd_pair_check(p);
		break;
	case PUMP_WRITE_ERROR:
		*done = 1;
		fwd_pair_error(p, to, pump_error(pump));
		break;
	}
}

/* The client to TO. */
static void
fwd_up_cb(struct pump *pump, int what, size_t n, void *arg)
{
	struct fwd_pair *p = arg;

	(void)n;
	fwd_pump(p, pump, what, p->client, p->up, &p->up_done);
}

/* TO to the client. */
static void
fwd_down_cb(struct pump *pump, int what, size_t n, void *arg)
{
	struct fwd_pair *p = arg;

	(void)n;
	fwd_pump(p, pump, what, p->up, p->client, &p->down_done);
}

/* The idle timeout: end both directions (pending bytes first), or close. */
static void
fwd_timeout(struct conn *c, int what, void *arg)
{
	struct fwd_pair *p = arg;

	(void)c;
	if (what == CONN_END && p->pup != NULL) {
		pump_stop(p->pup);
		pump_stop(p->pdown);
		return;
	}
	fwd_schedule_finish(p);
}

static const struct conn_cb fwd_conn_cb = { fwd_timeout };

/* --hexdump: what the client sent. */
static void
fwd_hex_received(void *arg, const char *data, size_t n)
{
	struct fwd_pair *p = arg;

	hexdump_feed(p->hex, HEXDUMP_RECEIVED, data, n);
}

/* --hexdump: what the client was sent. */
static void
fwd_hex_sent(void *arg, const char *data, size_t n)
{
	struct fwd_pair *p = arg;

	hexdump_feed(p->hex, HEXDUMP_SENT, data, n);
}

/* TO is reached (fd, with its TLS session with --tls-to): forward. */
static void
fwd_dial_connected(struct dial *d, int fd, void *arg)
{
	struct fwd_pair *p = arg;
	struct forward *f = p->f;
	struct tls *t = dial_tls_take(d);
	char local[ENDPOINT_ADDRSTRLEN], remote[ENDPOINT_ADDRSTRLEN];
	int flags = PUMP_SRC_POLL | PUMP_DST_POLL | PUMP_SPLICE;

	endpoint_sockopts(fd, &f->o);
	endpoint_local(fd, local, sizeof local);
	if (f->to.unix_path != NULL)
		snprintf(remote, sizeof remote, "%s", f->to.unix_path);
	else if (dial_peer(d) != NULL)
		snprintf(remote, sizeof remote, "%s", dial_peer(d));
	else
		endpoint_remote(fd, remote, sizeof remote);
	p->up = conn_new(f->base, &f->to, p->client->id, fd, remote, NULL, p);
	if (p->up == NULL) {
		tls_free(t);
		close(fd);
		fwd_pair_error(p, p->client, ENOMEM);
		return;
	}
	p->up->flags |= CONN_UNCOUNTED; /* the client's counts are the pair's */
	if (t != NULL) {
		p->up->io.ops = &tls_io_ops;
		p->up->io.ctx = t;
	}
	EVENT("socket.connect", EVI("id", p->client->id), EVS("local", local),
	    EVS("remote", remote));
	if (t != NULL)
		tls_event_secure(t, p->client->id);
	events_verbose("forwarding %s to %s", p->client->remote, remote);
	p->pup = pump_new(f->base, p->client->io.fd, fd, flags,
	    f->o.buffer_size, fwd_up_cb, p);
	p->pdown = pump_new(f->base, fd, p->client->io.fd, flags,
	    f->o.buffer_size, fwd_down_cb, p);
	if (p->pup == NULL || p->pdown == NULL) {
		fwd_pair_error(p, p->client, ENOMEM);
		return;
	}
	pump_conn(p->pup, p->client);
	pump_conn(p->pup, p->up);
	pump_conn(p->pdown, p->client);
	pump_conn(p->pdown, p->up);
	if (f->o.hexdump && (p->hex = hexdump_new()) != NULL) {
		pump_tap(p->pup, PUMP_TAP_READ, fwd_hex_received, p);
		pump_tap(p->pdown, PUMP_TAP_WRITE, fwd_hex_sent, p);
	}
	conn_start(p->client);
	pump_start(p->pup);
	pump_start(p->pdown);
}

/* TO cannot be reached: the client is reset, forwarding goes on. */
static void
fwd_dial_failed(struct dial *d, const char *code, const char *msg, void *arg)
{
	struct fwd_pair *p = arg;

	if (conn_error_code(p->client, code, msg))
		events_verbose("%s %s: %s (%s)", p->f->o.name, dial_where(d),
		    msg, code);
	p->reset = 1;
	fwd_schedule_finish(p);
}

static const struct dial_cb fwd_dial_cb = { fwd_dial_connected, fwd_dial_failed,
	NULL, NULL };

/* A client (its TLS handshake done with --tls): connect to TO. */
static void
fwd_accept(struct server *s, struct conn *conn, void *arg)
{
	struct forward *f = arg;
	struct fwd_pair *p;

	if ((p = calloc(1, sizeof *p)) != NULL)
		p->finish = event_new(f->base, -1, 0, fwd_finish_cb, p);
	if (p != NULL && p->finish != NULL)
		p->dial = dial_new(f->base, &f->to, conn->id, &fwd_dial_cb, p);
	if (p == NULL || p->dial == NULL) {
		if (p != NULL && p->finish != NULL)
			event_free(p->finish);
		free(p);
		conn_error(conn, ENOMEM);
		endpoint_reset(conn->io.fd);
		conn_close(conn);
		conn_free(conn);
		server_conn_closed(s);
		return;
	}
	p->f = f;
	p->client = conn;
	conn->cb = &fwd_conn_cb;
	conn->arg = p;
	LIST_INSERT_HEAD(&f->pairs, p, entry);
	dial_tls(p->dial, f->tls_to);
	dial_start(p->dial);
}

/* A second signal: close every pair at once. */
static void
fwd_abort(struct server *s, void *arg)
{
	struct forward *f = arg;
	struct fwd_pair *p;

	(void)s;
	f->status = EXIT_RUNTIME;
	while ((p = LIST_FIRST(&f->pairs)) != NULL)
		fwd_pair_close(p);
}

static const struct server_cb fwd_server_cb = { fwd_accept, fwd_abort, NULL,
	NULL };

/*
 * The options of the connect phase to TO: forward's own, with TO as the
 * address; -s narrows TO's family (FROM keeps its own).
 */
static void
fwd_to_options(struct forward *f)
{
	struct options *to = &f->to;

	*to = f->o;
	to->host = f->o.to_host;
	to->port = f->o.to_unix != NULL ? -1 : f->o.to_port;
	to->unix_path = f->o.to_unix;
	to->fd = -1;
	to->timeout_ms = 0; /* the pair's idle timer is the client's */
	to->acl = NULL; /* the access lists are about clients, not TO */
	to->tls = f->o.tls_to;
	if (f->o.tls) {
		/* The certificate is the one shown to clients. */
		to->tls_cert = NULL;
		to->tls_key = NULL;
		to->tls_verify_client = 0;
	}
	if (to->source != NULL && to->proxy_url == NULL &&
	    to->family == AF_UNSPEC)
		to->family = strchr(to->source, ':') != NULL ? AF_INET6
							     : AF_INET;
}

/*
 * Each pair holds up to six descriptors (two sockets, two pipes): take
 * the hard limit of descriptors, not the soft one.
 */
static void
fwd_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* netkit forward. */
static int
cmd_forward_exec(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct forward f;
	struct tls_error terr;
	int r;

	memset(&f, 0, sizeof f);
	if ((r = opts_parse(cmd, argc, argv, &f.o)) != 0)
		return (r == -1 ? EXIT_OK : r);
	LIST_INIT(&f.pairs);
	fwd_to_options(&f);
	fwd_raise_nofile();
	if (f.o.tls_to &&
	    (f.tls_to = tls_config_new(&f.to, 0, &terr)) == NULL) {
		log_error_code(f.o.name, terr.where, terr.message, terr.code);
		opts_free(&f.o);
		return (EXIT_RUNTIME);
	}
	if (f.o.tls_to && f.o.tls_insecure)
		log_warn("forward: --tls-insecure: TO's certificate is not "
			 "verified");
	if ((f.base = event_base_new()) == NULL) {
		log_errorx("forward: cannot make an event loop");
		tls_config_free(f.tls_to);
		opts_free(&f.o);
		return (EXIT_RUNTIME);
	}
	if (meter_start(f.base, &f.o) == -1) {
		log_error(f.o.name, f.o.hexdump_path, errno);
		f.status = EXIT_RUNTIME;
	} else if ((f.server = server_start(f.base, &f.o, &fwd_server_cb, &f, 0,
			&r)) == NULL) {
		f.status = r;
	} else {
		server_announce(f.server);
		event_base_dispatch(f.base);
	}

	while (!LIST_EMPTY(&f.pairs)) {
		struct fwd_pair *p = LIST_FIRST(&f.pairs);

		LIST_REMOVE(p, entry);
		fwd_pair_free(p);
	}
	server_free(f.server);
	tls_config_free(f.tls_to);
	meter_stop();
	event_base_free(f.base);
	opts_free(&f.o);
	return (f.status);
}
