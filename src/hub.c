/*
 * listen -k: many clients at once around one stdin and one stdout. What
 * any client sends goes to stdout (a chunk read from one client is never
 * split by another's); what stdin gives is copied to every client. With
 * --broker, what a client sends is copied to every other client too, by
 * the same path as stdin (hub_send): each chunk whole, in order, into each
 * client's backlog.
 *
 *  what happens          what the hub does
 *  --------------------  ---------------------------------------------------
 *  no client connected   stdin is not read (nothing is thrown away)
 *  stdin readable        read only while every client's backlog is under
 *                        the high-water mark: one slow client holds back
 *                        stdin for all (bytes are never dropped)
 *  client readable       read only while stdout's backlog is under the mark
 *                        (--broker: and every other client's backlog too;
 *                        its own backlog does not hold it back)
 *  stdin EOF             each client gets a FIN once its backlog is sent;
 *                        a client that arrives later gets one at once
 *                        (--broker: no FIN, the others still send to it)
 *  client FIN            socket.end; default: send its backlog, FIN, close;
 *                        --allow-half-open: keep sending stdin until EOF
 *                        (--broker: and the others' bytes until then)
 *  client error          socket.error, close that client only
 *  stdout write error    one line, close everything, exit 1
 */

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

struct hub_client {
	struct hub *hub;
	struct conn *conn;
	struct event *rev;
	struct event *wev;
	struct buf out; /* stdin (and --broker) bytes not yet sent to it */
	struct hexdump *hex; /* --hexdump */
	int peer_eof;
	int shut;
	int above;
	LIST_ENTRY(hub_client) entry;
};

struct hub {
	struct event_base *base;
	const struct options *o;
	struct server *server;
	struct stdio_end in;
	struct stdio_end out;
	struct io_end out_io;
	struct event *in_ev;
	struct event *out_ev;
	struct buf stdout_buf; /* client bytes not yet on stdout */
	int in_eof;
	int status;
	int closing;
	LIST_HEAD(, hub_client) clients;
};

static char hub_scratch[NETKIT_CHUNK];

static void hub_client_close(struct hub_client *);
static int hub_client_room(struct hub_client *);
static void hub_want_stdin(struct hub *);
static void hub_want_clients(struct hub *);
static void hub_send(struct hub *, const char *, size_t, struct hub_client *);

/* stdout failed: say so once and close everything. */
static void
hub_stdout_failed(struct hub *h, int err)
{
	struct hub_client *c;

	if (h->closing)
		return;
	log_error(h->o->name, "stdout", err);
	h->status = EXIT_RUNTIME;
	h->closing = 1;
	server_stop(h->server);
	while ((c = LIST_FIRST(&h->clients)) != NULL)
		hub_client_close(c);
}

/* Write the stdout backlog; resume the clients when it is low. */
static void
hub_flush_stdout(struct hub *h)
{
	struct buf *b = &h->stdout_buf;
	ssize_t n;

	if (b->len > 0) {
		n = io_write(&h->out_io, b->p + b->off, b->len);
		if (n == -1) {
			hub_stdout_failed(h, errno);
			return;
		}
		buf_drop(b, (size_t)n);
	}
	if (b->len > 0 && h->out_ev != NULL)
		event_add(h->out_ev, NULL);
	else if (h->out_ev != NULL)
		event_del(h->out_ev);
	hub_want_clients(h);
}

/* Bytes from a client for stdout, kept in order, never interleaved. */
static void
hub_to_stdout(struct hub *h, const char *data, size_t len)
{
	ssize_t n = 0;

	if (h->out.fd == -1)
		return; /* stdout closed: discard */
	if (h->stdout_buf.len == 0) {
		n = io_write(&h->out_io, data, len);
		if (n == -1) {
			hub_stdout_failed(h, errno);
			return;
		}
	}
	if ((size_t)n < len) {
		if (buf_add(&h->stdout_buf, data + n, len - (size_t)n)) {
			hub_stdout_failed(h, ENOMEM);
			return;
		}
		hub_flush_stdout(h);
	}
}

/* stdout is writable again. */
static void
hub_out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hub_flush_stdout(arg);
}

/*
 * The client's backlog is sent: FIN when stdin ended (or it did). Returns 1
 * when the client was closed (and freed).
 */
static int
hub_client_maybe_end(struct hub_client *c)
{
	struct hub *h = c->hub;
	int end;

	if (c->out.len > 0 || c->shut)
		return (0);
	if (h->o->broker) /* stdin's EOF alone ends no client */
		end = (c->conn->flags & CONN_ENDING) ||
		    (c->peer_eof && (!h->o->allow_half_open || h->in_eof));
	else
		end = h->in_eof || (c->conn->flags & CONN_ENDING) ||
		    (c->peer_eof && !h->o->allow_half_open);
	if (!end)
		return (0);
	if (!h->o->no_shutdown)
		conn_shutdown(c->conn);
	c->shut = 1;
	if (c->peer_eof) {
		hub_client_close(c);
		return (1);
	}
	return (0);
}

/* An error on a client: report it and close that client. */
static void
hub_client_error(struct hub_client *c, int err)
{
	conn_error(c->conn, err);
	hub_client_close(c);
}

/* Send a client its backlog. */
static void
hub_client_flush(struct hub_client *c)
{
	struct hub *h = c->hub;
	ssize_t n;

	if (c->out.len > 0) {
		n = io_write(&c->conn->io, c->out.p + c->out.off, c->out.len);
		if (n == -1) {
			hub_client_error(c, errno);
			return;
		}
		if (n > 0) {
			conn_io(c->conn);
			c->conn->nwritten += (uint64_t)n;
			if (c->hex != NULL)
				hexdump_feed(c->hex, HEXDUMP_SENT,
				    c->out.p + c->out.off, (size_t)n);
			buf_drop(&c->out, (size_t)n);
		}
	}
	if (c->out.len > 0) {
		event_add(c->wev, NULL);
		return;
	}
	event_del(c->wev);
	if (c->above) {
		c->above = 0;
		EVENT("socket.drain", EVI("id", c->conn->id));
	}
	hub_want_stdin(h);
	hub_client_maybe_end(c);
}

/* A client is writable again. */
static void
hub_client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hub_client_flush(arg);
}

/* A client is readable. */
static void
hub_client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hub_client *c = arg;
	struct hub *h = c->hub;
	ssize_t n;

	(void)fd;
	(void)what;
	if (!hub_client_room(c)) {
		event_del(c->rev);
		return;
	}
	n = io_read(&c->conn->io, hub_scratch, sizeof hub_scratch);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			hub_client_error(c, errno);
		return;
	}
	if (n < 0)
		return; /* IO_WANT_*: nothing to read yet */
	if (n == 0) {
		event_del(c->rev);
		c->peer_eof = 1;
		hexdump_end(c->hex, HEXDUMP_RECEIVED);
		conn_end(c->conn);
		if (c->shut)
			hub_client_close(c);
		else if (!hub_client_maybe_end(c))
			hub_want_stdin(h); /* it may take no more stdin */
		return;
	}
	conn_io(c->conn);
	c->conn->nread += (uint64_t)n;
	if (c->hex != NULL)
		hexdump_feed(c->hex, HEXDUMP_RECEIVED, hub_scratch, (size_t)n);
	EVENT("socket.data", EVI("id", c->conn->id), EVI("bytes", n));
	if (h->o->broker) {
		hub_send(h, hub_scratch, (size_t)n, c);
		hub_want_stdin(h); /* a backlog may be full now */
	}
	/* Last: a stdout failure closes every client, this one too. */
	hub_to_stdout(h, hub_scratch, (size_t)n);
}

/* Whether a client takes stdin (and --broker bytes): not ended, not ending. */
static int
hub_client_takes(const struct hub_client *c)
{
	return (!c->shut && !(c->conn->flags & CONN_ENDING) &&
	    (!c->peer_eof || c->hub->o->allow_half_open));
}

/* Whether a client that takes has its backlog at the mark (noted for drain). */
static int
hub_client_full(struct hub_client *c)
{
	if (!hub_client_takes(c) || c->out.len < c->hub->o->buffer_size)
		return (0);
	c->above = 1;
	return (1);
}

/*
 * Whether a client may be read: stdout keeps up and, with --broker, no
 * other client's backlog is at the mark.
 */
static int
hub_client_room(struct hub_client *c)
{
	struct hub *h = c->hub;
	struct hub_client *o;

	if (h->stdout_buf.len >= h->o->buffer_size)
		return (0);
	if (!h->o->broker)
		return (1);
	LIST_FOREACH(o, &h->clients, entry) {
		if (o != c && hub_client_full(o))
			return (0);
	}
	return (1);
}

/* Read from each client only while hub_client_room says so. */
static void
hub_want_clients(struct hub *h)
{
	struct hub_client *c;
	int on = h->stdout_buf.len < h->o->buffer_size, full = 0;

	/* Count the full backlogs once, not once per client. */
	if (on && h->o->broker) {
		LIST_FOREACH(c, &h->clients, entry)
			full += hub_client_full(c);
	}
	LIST_FOREACH(c, &h->clients, entry) {
		if (c->peer_eof)
			continue;
		/* Its own full backlog does not hold a client back. */
		if (on && (!h->o->broker || full == hub_client_full(c))) {
			if (!event_pending(c->rev, EV_READ, NULL))
				event_add(c->rev, NULL);
		} else
			event_del(c->rev);
	}
}

/* Whether stdin may be read: a client to send to, room in every backlog. */
static int
hub_stdin_ok(struct hub *h)
{
	struct hub_client *c;
	int on = !h->in_eof && !h->closing && h->in.fd != -1;
	int any = 0;

	LIST_FOREACH(c, &h->clients, entry) {
		if (!hub_client_takes(c))
			continue;
		any = 1;
		if (hub_client_full(c))
			on = 0;
	}
	return (on && any);
}

/*
 * Read stdin only while hub_stdin_ok says so; with --broker, the clients
 * too, by the backlogs that hold stdin back.
 */
static void
hub_want_stdin(struct hub *h)
{
	if (h->o->broker)
		hub_want_clients(h);
	if (!hub_stdin_ok(h)) {
		event_del(h->in_ev);
		return;
	}
	if (h->in.flags & STDIO_POLL) {
		if (!event_pending(h->in_ev, EV_READ, NULL))
			event_add(h->in_ev, NULL);
	} else
		io_again(h->in_ev);
}

/*
 * A chunk to every client that takes it but from (NULL: a chunk of stdin),
 * whole, after what each one's backlog holds.
 */
static void
hub_send(struct hub *h, const char *data, size_t len, struct hub_client *from)
{
	struct hub_client *c, *next;

	for (c = LIST_FIRST(&h->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry); /* a flush closes c at most */
		if (c == from || !hub_client_takes(c))
			continue;
		if (buf_add(&c->out, data, len) == -1) {
			hub_client_error(c, ENOMEM);
			continue;
		}
		hub_client_flush(c);
	}
}

/* stdin is readable: copy a chunk to every client. */
static void
hub_in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hub *h = arg;
	struct hub_client *c, *next;
	struct io_end in = { h->in.fd, NULL, NULL };
	ssize_t n;

	(void)fd;
	(void)what;
	if (!hub_stdin_ok(h)) {
		event_del(h->in_ev);
		return;
	}
	n = io_read(&in, hub_scratch, sizeof hub_scratch);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_error(h->o->name, "stdin", errno);
		h->status = EXIT_RUNTIME;
		n = 0;
	}
	if (n == 0) {
		h->in_eof = 1;
		event_del(h->in_ev);
		for (c = LIST_FIRST(&h->clients); c != NULL; c = next) {
			next = LIST_NEXT(c, entry);
			hub_client_maybe_end(c);
		}
		return;
	}
	hub_send(h, hub_scratch, (size_t)n, NULL);
	hub_want_stdin(h);
}

/*
 * The idle timeout of a client: end (as stdin's EOF for this client: its
 * backlog, then FIN) or close now.
 */
static void
hub_client_timeout(struct conn *cn, int what, void *arg)
{
	struct hub_client *c = arg;

	(void)cn;
	if (what == CONN_END && !c->shut) {
		if (!hub_client_maybe_end(c))
			hub_want_stdin(c->hub); /* it takes no more */
		return;
	}
	hub_client_close(c);
}

static const struct conn_cb hub_conn_cb = { hub_client_timeout };

/* Close a client and tell the server. */
static void
hub_client_close(struct hub_client *c)
{
	struct hub *h = c->hub;

	conn_close(c->conn);
	LIST_REMOVE(c, entry);
	event_free(c->rev);
	event_free(c->wev);
	conn_free(c->conn);
	buf_free(&c->out);
	hexdump_free(c->hex);
	free(c);
	server_conn_closed(h->server);
	if (!h->closing)
		hub_want_stdin(h);
}

/* A new client: it gets stdin from now on. */
void
hub_accept(struct hub *h, struct conn *conn)
{
	struct hub_client *c;
	int fd = conn->io.fd;

	c = calloc(1, sizeof *c);
	if (c != NULL) {
		c->hex = hexdump_new();
		c->rev = event_new(h->base, fd, EV_READ | EV_PERSIST,
		    hub_client_read_cb, c);
		c->wev = event_new(h->base, fd, EV_WRITE | EV_PERSIST,
		    hub_client_write_cb, c);
	}
	if (c == NULL || c->rev == NULL || c->wev == NULL) {
		if (c != NULL) {
			if (c->rev != NULL)
				event_free(c->rev);
			if (c->wev != NULL)
				event_free(c->wev);
			hexdump_free(c->hex);
			free(c);
		}
		conn_error(conn, ENOMEM);
		conn_close(conn);
		conn_free(conn);
		server_conn_closed(h->server);
		return;
	}
	c->hub = h;
	c->conn = conn;
	conn->cb = &hub_conn_cb;
	conn->arg = c;
	LIST_INSERT_HEAD(&h->clients, c, entry);
	conn_start(conn);
	hub_want_clients(h);
	hub_client_maybe_end(c);
	hub_want_stdin(h);
}

/* Make the hub of listen -k over stdin and stdout. */
struct hub *
hub_new(struct event_base *base, const struct options *o, struct server *server)
{
	struct hub *h;

	h = calloc(1, sizeof *h);
	if (h == NULL)
		return (NULL);
	h->base = base;
	h->o = o;
	h->server = server;
	LIST_INIT(&h->clients);
	stdio_open(&h->in, 0);
	stdio_open(&h->out, 1);
	h->out_io.fd = h->out.fd;
	if (h->in.fd == -1)
		h->in_eof = 1;
	if (h->in.fd != -1 && (h->in.flags & STDIO_POLL))
		h->in_ev = event_new(base, h->in.fd, EV_READ | EV_PERSIST,
		    hub_in_cb, h);
	else
		h->in_ev = io_again_new(base, hub_in_cb, h);
	if (h->out.fd != -1 && (h->out.flags & STDIO_POLL))
		h->out_ev = event_new(base, h->out.fd, EV_WRITE | EV_PERSIST,
		    hub_out_cb, h);
	if (h->in_ev == NULL ||
	    (h->out.fd != -1 && (h->out.flags & STDIO_POLL) &&
		h->out_ev == NULL)) {
		hub_free(h);
		return (NULL);
	}
	return (h);
}

/* Close every client at once (a second signal). */
void
hub_close_all(struct hub *h)
{
	struct hub_client *c;

	h->closing = 1;
	event_del(h->in_ev);
	while ((c = LIST_FIRST(&h->clients)) != NULL)
		hub_client_close(c);
}

/*
 * At exit: write what stdout still holds, waiting for it (the loop is
 * over). Returns the exit status the hub earned.
 */
int
hub_finish(struct hub *h)
{
	struct buf *b = &h->stdout_buf;
	ssize_t n;

	stdio_restore(&h->out);
	while (b->len > 0 && !h->closing) {
		n = write(h->out.fd, b->p + b->off, b->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Still non-blocking (shared with another process). */
			usleep(1000);
			continue;
		}
		if (n == -1) {
			hub_stdout_failed(h, errno);
			break;
		}
		buf_drop(b, (size_t)n);
	}
	return (h->status);
}

/* Free the hub; its clients must be closed. */
void
hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	if (h->in_ev != NULL)
		event_free(h->in_ev);
	if (h->out_ev != NULL)
		event_free(h->out_ev);
	buf_free(&h->stdout_buf);
	stdio_restore(&h->in);
	stdio_restore(&h->out);
	free(h);
}
