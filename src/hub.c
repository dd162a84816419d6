/*
 * listen -k: many clients at once around one stdin and one stdout. What
 * any client sends goes to stdout (a chunk read from one client is never
 * split by another's); what stdin gives is copied to every client.
 *
 *  what happens          what the hub does
 *  --------------------  ---------------------------------------------------
 *  no client connected   stdin is not read (nothing is thrown away)
 *  stdin readable        read only while every client's backlog is under
 *                        the high-water mark: one slow client holds back
 *                        stdin for all (bytes are never dropped)
 *  client readable       read only while stdout's backlog is under the mark
 *  stdin EOF             each client gets a FIN once its backlog is sent;
 *                        a client that arrives later gets one at once
 *  client FIN            socket.end; default: send its backlog, FIN, close;
 *                        --allow-half-open: keep sending stdin until EOF
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

struct hub_buf {
	char *p;
	size_t off;
	size_t len;
	size_t cap;
};

struct hub_client {
	struct hub *hub;
	int fd;
	int id;
	char remote[ENDPOINT_ADDRSTRLEN];
	struct event *rev;
	struct event *wev;
	struct hub_buf out; /* stdin bytes not yet sent to this client */
	struct idle *idle;
	struct timeval last_io;
	uint64_t nread;
	uint64_t nwritten;
	int peer_eof;
	int shut;
	int above;
	int had_error;
	int timed_out;
	LIST_ENTRY(hub_client) entry;
};

struct hub {
	struct event_base *base;
	const struct options *o;
	struct server *server;
	struct stdio_end in;
	struct stdio_end out;
	struct event *in_ev;
	struct event *out_ev;
	struct hub_buf stdout_buf; /* client bytes not yet on stdout */
	int in_eof;
	int status;
	int closing;
	LIST_HEAD(, hub_client) clients;
};

static char hub_scratch[NETKIT_CHUNK];

static void hub_client_close(struct hub_client *);
static void hub_want_stdin(struct hub *);
static void hub_want_clients(struct hub *);

/* Append bytes to a buffer; -1 when out of memory. */
static int
hub_buf_add(struct hub_buf *b, const char *data, size_t len)
{
	char *np;
	size_t cap;

	if (b->off > 0 && b->off + b->len + len > b->cap) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	if (b->len + len > b->cap) {
		cap = b->cap == 0 ? 65536 : b->cap;
		while (cap < b->len + len)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return (-1);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->off + b->len, data, len);
	b->len += len;
	return (0);
}

/* Forget the first n bytes of a buffer. */
static void
hub_buf_drop(struct hub_buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

/* Write what fd takes of data; -1 on an error, else the bytes written. */
static ssize_t
hub_write(int fd, const char *data, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, data + done, len - done);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return (-1);
		}
		done += (size_t)n;
	}
	return ((ssize_t)done);
}

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
	struct hub_buf *b = &h->stdout_buf;
	ssize_t n;

	if (b->len > 0) {
		n = hub_write(h->out.fd, b->p + b->off, b->len);
		if (n == -1) {
			hub_stdout_failed(h, errno);
			return;
		}
		hub_buf_drop(b, (size_t)n);
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
		n = hub_write(h->out.fd, data, len);
		if (n == -1) {
			hub_stdout_failed(h, errno);
			return;
		}
	}
	if ((size_t)n < len) {
		if (hub_buf_add(&h->stdout_buf, data + n, len - (size_t)n)) {
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
	end = h->in_eof || c->timed_out ||
	    (c->peer_eof && !h->o->allow_half_open);
	if (!end)
		return (0);
	if (!h->o->no_shutdown)
		shutdown(c->fd, SHUT_WR);
	c->shut = 1;
	if (c->peer_eof) {
		hub_client_close(c);
		return (1);
	}
	return (0);
}

/* Note I/O on a client for its idle timer. */
static void
hub_client_io(struct hub_client *c)
{
	event_base_gettimeofday_cached(c->hub->base, &c->last_io);
}

/* An error on a client: report it and close that client. */
static void
hub_client_error(struct hub_client *c, int err)
{
	if (!c->had_error) {
		c->had_error = 1;
		EVENT("socket.error", EVI("id", c->id),
		    EVS("code", log_errno_name(err)),
		    EVS("message", strerror(err)));
	}
	hub_client_close(c);
}

/* Send a client its backlog. */
static void
hub_client_flush(struct hub_client *c)
{
	struct hub *h = c->hub;
	ssize_t n;

	if (c->out.len > 0) {
		n = hub_write(c->fd, c->out.p + c->out.off, c->out.len);
		if (n == -1) {
			hub_client_error(c, errno);
			return;
		}
		if (n > 0)
			hub_client_io(c);
		c->nwritten += (uint64_t)n;
		hub_buf_drop(&c->out, (size_t)n);
	}
	if (c->out.len > 0) {
		event_add(c->wev, NULL);
		return;
	}
	event_del(c->wev);
	if (c->above) {
		c->above = 0;
		EVENT("socket.drain", EVI("id", c->id));
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

	(void)what;
	if (h->stdout_buf.len >= h->o->buffer_size) {
		event_del(c->rev);
		return;
	}
	n = read(fd, hub_scratch, sizeof hub_scratch);
	if (n == -1) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			hub_client_error(c, errno);
		return;
	}
	if (n == 0) {
		event_del(c->rev);
		c->peer_eof = 1;
		EVENT("socket.end", EVI("id", c->id));
		if (c->shut)
			hub_client_close(c);
		else if (!hub_client_maybe_end(c))
			hub_want_stdin(h); /* it may take no more stdin */
		return;
	}
	hub_client_io(c);
	c->nread += (uint64_t)n;
	EVENT("socket.data", EVI("id", c->id), EVI("bytes", n));
	hub_to_stdout(h, hub_scratch, (size_t)n);
}

/* Read from the clients only while stdout keeps up. */
static void
hub_want_clients(struct hub *h)
{
	struct hub_client *c;
	int on = h->stdout_buf.len < h->o->buffer_size;

	LIST_FOREACH(c, &h->clients, entry) {
		if (c->peer_eof)
			continue;
		if (on && !event_pending(c->rev, EV_READ, NULL))
			event_add(c->rev, NULL);
		else if (!on)
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
		if (c->shut || c->timed_out ||
		    (c->peer_eof && !h->o->allow_half_open))
			continue;
		any = 1;
		if (c->out.len >= h->o->buffer_size) {
			c->above = 1;
			on = 0;
		}
	}
	return (on && any);
}

/* Read stdin only while hub_stdin_ok says so. */
static void
hub_want_stdin(struct hub *h)
{
	static const struct timeval zero = { 0, 0 };

	if (!hub_stdin_ok(h)) {
		event_del(h->in_ev);
		return;
	}
	if (h->in.flags & STDIO_POLL) {
		if (!event_pending(h->in_ev, EV_READ, NULL))
			event_add(h->in_ev, NULL);
	} else {
		/* A file: again once the loop has polled the clients (not
		 * event_active, which would starve them). */
		evtimer_add(h->in_ev, &zero);
	}
}

/* stdin is readable: copy a chunk to every client. */
static void
hub_in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hub *h = arg;
	struct hub_client *c, *next;
	ssize_t n;

	(void)fd;
	(void)what;
	if (!hub_stdin_ok(h)) {
		event_del(h->in_ev);
		return;
	}
	n = read(h->in.fd, hub_scratch, sizeof hub_scratch);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
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
	for (c = LIST_FIRST(&h->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->shut || c->timed_out ||
		    (c->peer_eof && !h->o->allow_half_open))
			continue;
		if (hub_buf_add(&c->out, hub_scratch, (size_t)n) == -1) {
			hub_client_error(c, ENOMEM);
			continue;
		}
		hub_client_flush(c);
	}
	hub_want_stdin(h);
}

/* No I/O on a client for --timeout ms. */
static void
hub_client_idle(void *arg)
{
	struct hub_client *c = arg;

	EVENT("socket.timeout", EVI("id", c->id));
	switch (c->hub->o->on_timeout) {
	case ON_TIMEOUT_IGNORE:
		break;
	case ON_TIMEOUT_END:
		if (!c->timed_out && !c->shut) {
			/* As stdin's EOF for this client: its backlog, then
			 * FIN; closed if idle once more. */
			c->timed_out = 1;
			idle_again(c->idle);
			if (!hub_client_maybe_end(c))
				hub_want_stdin(c->hub); /* it takes no more */
			break;
		}
		/* FALLTHROUGH */
	case ON_TIMEOUT_DESTROY:
		hub_client_close(c);
		break;
	}
}

/* Close a client and tell the server. */
static void
hub_client_close(struct hub_client *c)
{
	struct hub *h = c->hub;

	EVENT("socket.close", EVI("id", c->id), EVB("had_error", c->had_error),
	    EVI("bytes_read", c->nread), EVI("bytes_written", c->nwritten));
	LIST_REMOVE(c, entry);
	idle_free(c->idle);
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	free(c->out.p);
	free(c);
	server_conn_closed(h->server);
	if (!h->closing)
		hub_want_stdin(h);
}

/* A new client: it gets stdin from now on. */
void
hub_accept(struct hub *h, int fd, int id, const char *remote)
{
	struct hub_client *c;

	c = calloc(1, sizeof *c);
	if (c == NULL) {
		close(fd);
		server_conn_closed(h->server);
		return;
	}
	c->hub = h;
	c->fd = fd;
	c->id = id;
	snprintf(c->remote, sizeof c->remote, "%s", remote);
	hub_client_io(c);
	c->rev = event_new(h->base, fd, EV_READ | EV_PERSIST,
	    hub_client_read_cb, c);
	c->wev = event_new(h->base, fd, EV_WRITE | EV_PERSIST,
	    hub_client_write_cb, c);
	if (h->o->timeout_ms > 0)
		c->idle = idle_new(h->base, h->o->timeout_ms, &c->last_io, NULL,
		    hub_client_idle, c);
	LIST_INSERT_HEAD(&h->clients, c, entry);
	if (c->rev == NULL || c->wev == NULL ||
	    (h->o->timeout_ms > 0 && c->idle == NULL)) {
		c->had_error = 1;
		hub_client_close(c);
		return;
	}
	if (h->stdout_buf.len < h->o->buffer_size)
		event_add(c->rev, NULL);
	hub_client_maybe_end(c);
	hub_want_stdin(h);
}

/* Make the hub of listen -k over stdin and stdout. */
struct hub *
hub_new(struct event_base *base, const struct options *o,
    struct server *server)
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
	if (h->in.fd == -1)
		h->in_eof = 1;
	if (h->in.fd != -1 && (h->in.flags & STDIO_POLL))
		h->in_ev = event_new(base, h->in.fd, EV_READ | EV_PERSIST,
		    hub_in_cb, h);
	else
		h->in_ev = event_new(base, -1, 0, hub_in_cb, h);
	if (h->out.fd != -1 && (h->out.flags & STDIO_POLL))
		h->out_ev = event_new(base, h->out.fd, EV_WRITE | EV_PERSIST,
		    hub_out_cb, h);
	if (h->in_ev == NULL || (h->out.fd != -1 &&
	    (h->out.flags & STDIO_POLL) && h->out_ev == NULL)) {
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
	struct hub_buf *b = &h->stdout_buf;
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
		hub_buf_drop(b, (size_t)n);
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
	free(h->stdout_buf.p);
	stdio_restore(&h->in);
	stdio_restore(&h->out);
	free(h);
}
