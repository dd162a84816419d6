/*
 * The relay: stdin to the socket ("up"), the socket to stdout ("down"),
 * both at once, each direction a pump with its own flow control.
 *
 * Termination rules (Node's net.Socket semantics):
 *
 *  what happens              default                 --allow-half-open  --no-shutdown
 *  ------------------------  ----------------------  -----------------  ------------------
 *  stdin EOF                 send what is pending,   same               no FIN: the write
 *                            then FIN (SHUT_WR);                        half stays open
 *                            keep reading the socket
 *  peer FIN (socket.end)     stop reading stdin,     keep sending stdin same as the
 *                            send what is pending,   until its EOF,     default, without
 *                            FIN, exit once stdout   then FIN           the FIN
 *                            has it all
 *  both directions done      close, socket.close, exit 0
 *  socket read error         socket.error; stop stdin; what was received reaches
 *  (ECONNRESET)              stdout; socket.close had_error=true; exit 1
 *  socket write error        socket.error; stop both; what was received reaches
 *  (EPIPE, ECONNRESET)       stdout; socket.close had_error=true; exit 1
 *  stdin read error          one line; treated as stdin EOF; exit 1
 *  stdout write error        one line; close at once; exit 1
 *  relay_abort (a signal)    close at once; exit 1
 *  --timeout, idle MS ms     socket.timeout; with --on-timeout end: as stdin
 *                            EOF (send what is pending, FIN), then if idle
 *                            again, close; destroy: close at once; both
 *                            exit 1 (ETIMEDOUT); ignore: nothing more
 */

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

struct relay {
	struct event_base *base;
	const struct options *o;
	struct conn *conn; /* the socket */
	struct pump *up;
	struct pump *down;
	struct event *finish;
	struct hexdump *hex; /* --hexdump */
	int up_done;
	int down_done;
	int bridge; /* stdin and stdout are a command's socket (relay_bridge) */
	int out_fd;
	int status;
	int closed;
	const struct relay_cb *cb;
	void *arg;
};

/* A failure on the socket: socket.error and one line, the first time. */
static void
relay_socket_error(struct relay *r, int err)
{
	const char *code, *message;

	r->status = EXIT_RUNTIME;
	conn_error_text(r->conn, err, &code, &message);
	if (conn_error_code(r->conn, code, message))
		log_error_code(r->o->name, r->conn->remote, message, code);
}

/* Leave the relay from a callback: the end happens outside any pump. */
static void
relay_schedule_finish(struct relay *r)
{
	event_active(r->finish, EV_TIMEOUT, 0);
}

/* Both directions are done, or the relay was cut short. */
static void
relay_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;

	(void)fd;
	(void)what;
	if (r->closed)
		return;
	r->closed = 1;
	pump_abort(r->up);
	pump_abort(r->down);
	conn_close(r->conn);
	r->cb->done(r, r->arg);
}

/* A direction is over; when both are, finish. */
static void
relay_check(struct relay *r)
{
	if (r->up_done && r->down_done)
		relay_schedule_finish(r);
}

/* stdin to the socket. */
static void
relay_up_cb(struct pump *p, int what, size_t n, void *arg)
{
	struct relay *r = arg;

	(void)n;
	switch (what) {
	case PUMP_DRAIN:
		EVENT("socket.drain", EVI("id", r->conn->id));
		break;
	case PUMP_READ_ERROR:
		if (pump_error(p) == EILSEQ) {
			/* Malformed --write-encoding input: what came before
			 * it is sent, then the connection ends. */
			log_errorx("%s stdin: invalid %s at byte %llu (EILSEQ)",
			    r->o->name, r->o->write_encoding_name,
			    (unsigned long long)pump_bad_offset(p));
		} else
			log_error(r->o->name, "stdin", pump_error(p));
		r->status = EXIT_RUNTIME;
		break;
	case PUMP_FLUSHED:
		hexdump_end(r->hex, HEXDUMP_SENT);
		if (!r->o->no_shutdown)
			conn_shutdown(r->conn);
		r->up_done = 1;
		relay_check(r);
		break;
	case PUMP_WRITE_ERROR:
		relay_socket_error(r, pump_error(p));
		r->up_done = 1;
		pump_stop(r->down);
		relay_check(r);
		break;
	}
}

/* The socket to stdout. */
static void
relay_down_cb(struct pump *p, int what, size_t n, void *arg)
{
	struct relay *r = arg;

	switch (what) {
	case PUMP_DATA:
		EVENT("socket.data", EVI("id", r->conn->id), EVI("bytes", n));
		break;
	case PUMP_FD:
		EVENT("socket.fd", EVI("id", r->conn->id), EVI("fd", n));
		break;
	case PUMP_EOF:
		hexdump_end(r->hex, HEXDUMP_RECEIVED);
		if (!conn_end(r->conn) && !r->bridge)
			log_warn("%s %s: peer closed without close_notify "
				 "(data may be truncated)",
			    r->o->name, r->conn->remote);
		if (!r->o->allow_half_open && !r->bridge)
			pump_stop(r->up);
		break;
	case PUMP_READ_ERROR:
		relay_socket_error(r, pump_error(p));
		pump_stop(r->up);
		break;
	case PUMP_FLUSHED:
		if (r->bridge)
			shutdown(r->out_fd, SHUT_WR); /* the command's EOF */
		r->down_done = 1;
		relay_check(r);
		break;
	case PUMP_WRITE_ERROR:
		log_error(r->o->name, "stdout", pump_error(p));
		r->status = EXIT_RUNTIME;
		r->up_done = r->down_done = 1;
		relay_schedule_finish(r);
		break;
	}
}

/* The idle timeout: end (send what is pending, then FIN) or close now. */
static void
relay_timeout(struct conn *c, int what, void *arg)
{
	struct relay *r = arg;
	char msg[64];

	if (c->timeouts == 1) {
		snprintf(msg, sizeof msg, "idle for %ld ms", r->o->timeout_ms);
		log_error_code(r->o->name, c->remote, msg, "ETIMEDOUT");
		r->status = EXIT_RUNTIME;
	}
	if (what == CONN_END)
		pump_stop(r->up);
	else
		relay_schedule_finish(r);
}

static const struct conn_cb relay_conn_cb = { relay_timeout };

/* --hexdump: the bytes sent to the peer. */
static void
relay_hex_sent(void *arg, const char *data, size_t n)
{
	struct relay *r = arg;

	hexdump_feed(r->hex, HEXDUMP_SENT, data, n);
}

/* --hexdump: the bytes received from the peer. */
static void
relay_hex_received(void *arg, const char *data, size_t n)
{
	struct relay *r = arg;

	hexdump_feed(r->hex, HEXDUMP_RECEIVED, data, n);
}

/*
 * Make a relay between a connection and stdin/stdout. The relay owns the
 * connection once made; when it cannot be made, the caller keeps it.
 */
struct relay *
relay_new(struct event_base *base, const struct options *o, struct conn *conn,
    const struct stdio_end *in, const struct stdio_end *out,
    const struct relay_cb *cb, void *arg)
{
	struct relay *r;
	struct codec *codec;
	int flags, sock = conn->io.fd;

	r = calloc(1, sizeof *r);
	if (r == NULL)
		return (NULL);
	r->base = base;
	r->o = o;
	r->cb = cb;
	r->arg = arg;

	flags = PUMP_DST_POLL | PUMP_KEEPBUF;
	if (in->flags & STDIO_POLL)
		flags |= PUMP_SRC_POLL;
	r->up = pump_new(base, in->fd, sock, flags, o->buffer_size, relay_up_cb,
	    r);
	flags = PUMP_SRC_POLL | PUMP_KEEPBUF;
	if (out->flags & STDIO_POLL)
		flags |= PUMP_DST_POLL;
	r->down = pump_new(base, sock, out->fd, flags, o->buffer_size,
	    relay_down_cb, r);
	r->finish = event_new(base, -1, 0, relay_finish_cb, r);
	if (r->up == NULL || r->down == NULL || r->finish == NULL)
		goto fail;
	if (o->encoding != ENC_BINARY) {
		if ((codec = codec_new(o->encoding, 0)) == NULL)
			goto fail;
		pump_codec(r->down, codec);
	}
	if (o->write_encoding != ENC_BINARY) {
		if ((codec = codec_new(o->write_encoding, 1)) == NULL)
			goto fail;
		pump_codec(r->up, codec);
	}
	if (o->recv_fd)
		pump_recv_fds(r->down);
	if (o->crlf)
		pump_crlf(r->up);
	if (o->hexdump && (r->hex = hexdump_new()) != NULL) {
		pump_tap(r->up, PUMP_TAP_WRITE, relay_hex_sent, r);
		pump_tap(r->down, PUMP_TAP_READ, relay_hex_received, r);
	}
	r->out_fd = out->fd;
	r->conn = conn;
	conn->cb = &relay_conn_cb;
	conn->arg = r;
	pump_conn(r->up, conn);
	pump_conn(r->down, conn);
	return (r);

fail:
	relay_free(r);
	return (NULL);
}

/*
 * The relay stands between a connection and a command's socket (--exec
 * over TLS: the command sees plaintext): the command's socket gets a FIN
 * when the peer ends, and the command's output is sent until its own end,
 * as if the command had the connection itself.
 */
void
relay_bridge(struct relay *r)
{
	r->bridge = 1;
}

/* Start both directions. */
void
relay_start(struct relay *r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd, sock = r->conn->io.fd;

	if (r->o->send_fd_path != NULL || r->o->recv_fd) {
		if (getsockname(sock, (struct sockaddr *)&ss, &len) == -1 ||
		    ss.ss_family != AF_UNIX) {
			log_error_code(r->o->name, r->conn->remote,
			    "descriptors pass only over UNIX sockets",
			    "EAFNOSUPPORT");
			relay_abort(r);
			return;
		}
	}
	if (r->o->send_fd_path != NULL) {
		fd = open(r->o->send_fd_path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			log_error(r->o->name, r->o->send_fd_path, errno);
			relay_abort(r);
			return;
		}
		pump_send_fd(r->up, fd);
	}
	conn_start(r->conn);
	pump_start(r->up);
	pump_start(r->down);
}

/* Cut the relay short: close at once, exit 1. */
void
relay_abort(struct relay *r)
{
	if (r->closed)
		return;
	r->status = EXIT_RUNTIME;
	relay_schedule_finish(r);
}

/* The exit status the relay earned. */
int
relay_status(const struct relay *r)
{
	return (r->status);
}

/* Free a relay; closes its socket if still open. */
void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	conn_free(r->conn);
	hexdump_free(r->hex);
	if (r->finish != NULL)
		event_free(r->finish);
	pump_free(r->down);
	pump_free(r->up);
	free(r);
}
