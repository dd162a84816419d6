/*
 * A connection's life, the same for the relay, each echo client, each
 * client of the -k hub, and (later) each forwarded pair and UDP peer: its
 * id, the socket and how it is read and written (struct io_end), the byte
 * counters, the idle timer with its --on-timeout policy, the error
 * reported once, and the one socket.close that ends it.
 *
 *  state      what brings it                  what follows
 *  ---------  ------------------------------  -------------------------------
 *  open       conn_new, conn_start            I/O noted by conn_io and the
 *                                             pumps; counters grow
 *  idle       no I/O for --timeout ms         socket.timeout; ignore: nothing
 *                                             (once per idle period); destroy:
 *                                             the owner's timeout(CONN_DESTROY)
 *             the first time, with end        CONN_ENDING; the owner's
 *                                             timeout(CONN_END): send what is
 *                                             pending, then end its side
 *             again after an end              timeout(CONN_DESTROY)
 *  erred      conn_error / conn_error_code    socket.error, only the first time
 *  closed     conn_close                      the socket is closed,
 *                                             socket.close (always last)
 *
 * The owner carries out what the timer asks and writes the human lines
 * (a server's client does not print; the relay does): conn itself writes
 * only the events.
 */

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

static void conn_timer_cb(evutil_socket_t, short, void *);

/* Every connection not yet freed, and the bytes of those freed (--stats). */
static LIST_HEAD(, conn) conn_live = LIST_HEAD_INITIALIZER(conn_live);
static uint64_t conn_done_read;
static uint64_t conn_done_written;

/* The remote of a connection whose peer is not known (yet). */
static char conn_noname[] = "";

/*
 * Make a connection with an id. fd may be -1 until the socket is known
 * (conn_set_fd); the connection owns the socket from then on, but not
 * when conn_new fails.
 */
struct conn *
conn_new(struct event_base *base, const struct options *o, int id, int fd,
    const char *remote, const struct conn_cb *cb, void *arg)
{
	struct conn *c;

	c = calloc(1, sizeof *c);
	if (c == NULL)
		return (NULL);
	c->base = base;
	c->o = o;
	c->id = id;
	c->io.fd = -1;
	c->remote = conn_noname;
	c->cb = cb;
	c->arg = arg;
	if (o->timeout_ms > 0) {
		c->timer = evtimer_new(base, conn_timer_cb, c);
		if (c->timer == NULL) {
			free(c);
			return (NULL);
		}
	}
	conn_set_fd(c, fd, remote);
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	LIST_INSERT_HEAD(&conn_live, c, live);
	return (c);
}

/* Give the connection its socket and the peer's address for messages. */
void
conn_set_fd(struct conn *c, int fd, const char *remote)
{
	char *copy;

	c->io.fd = fd;
	if (remote == NULL)
		return;
	if ((copy = strdup(remote)) == NULL)
		return; /* out of memory: keep the one it had */
	if (c->remote != conn_noname)
		free(c->remote);
	c->remote = copy;
}

/* Arm a timer for ms milliseconds. */
static void
conn_arm(struct conn *c, long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

/* Start the idle timer (with --timeout): the connection is live. */
void
conn_start(struct conn *c)
{
	conn_io(c);
	if (c->timer != NULL)
		conn_arm(c, c->o->timeout_ms);
}

/* Note that the connection moved bytes now. */
void
conn_io(struct conn *c)
{
	event_base_gettimeofday_cached(c->base, &c->last_io);
}

/*
 * The idle timer fired. It is not re-armed on every read or write: it
 * sleeps again for what remains since the last I/O, or reports the idle
 * period (once) and applies the --on-timeout policy.
 */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval now, elapsed;
	long ms, limit = c->o->timeout_ms;

	(void)fd;
	(void)what;
	event_base_gettimeofday_cached(c->base, &now);
	timersub(&now, &c->last_io, &elapsed);
	ms = elapsed.tv_sec * 1000 + elapsed.tv_usec / 1000;
	if (ms < limit) {
		conn_arm(c, limit - ms);
		return;
	}
	conn_arm(c, limit);
	if (!timercmp(&c->last_io, &c->reported, !=) || c->cb == NULL)
		return; /* this idle period was reported already */
	c->reported = c->last_io;
	EVENT("socket.timeout", EVI("id", c->id));
	switch (c->o->on_timeout) {
	case ON_TIMEOUT_IGNORE:
		return;
	case ON_TIMEOUT_END:
		if (!(c->flags & CONN_ENDING)) {
			/* The end gets another period; then destroy. */
			c->flags |= CONN_ENDING;
			timerclear(&c->reported);
			c->timeouts++;
			c->cb->timeout(c, CONN_END, c->arg);
			return;
		}
		break;
	case ON_TIMEOUT_DESTROY:
		break;
	}
	c->timeouts++;
	c->cb->timeout(c, CONN_DESTROY, c->arg);
}

/* Report an error with a code and message; 1 the first time, else 0. */
int
conn_error_code(struct conn *c, const char *code, const char *message)
{
	if (c->flags & CONN_ERROR)
		return (0);
	c->flags |= CONN_ERROR;
	EVENT("socket.error", EVI("id", c->id), EVS("code", code),
	    EVS("message", message));
	return (1);
}

/*
 * The code and message of a failure on the connection: its TLS session's
 * own (such as ERR_SSL_TLSV1_ALERT_UNKNOWN_CA) when the session failed,
 * else the errno value's.
 */
void
conn_error_text(const struct conn *c, int err, const char **code,
    const char **message)
{
	if (c->io.ops == &tls_io_ops && *tls_code(c->io.ctx) != '\0') {
		*code = tls_code(c->io.ctx);
		*message = tls_message(c->io.ctx);
		return;
	}
	*code = log_errno_name(err);
	*message = strerror(err);
}

/* Report a failure (errno err) as the connection's error; 1 the first time. */
int
conn_error(struct conn *c, int err)
{
	const char *code, *message;

	conn_error_text(c, err, &code, &message);
	return (conn_error_code(c, code, message));
}

/*
 * The peer ended (Node's end): socket.end, with close_notify for a TLS
 * session. Returns 0 when a TLS peer closed without close_notify (what it
 * sent may be cut short), else 1.
 */
int
conn_end(struct conn *c)
{
	int notify;

	if (c->io.ops != &tls_io_ops) {
		EVENT("socket.end", EVI("id", c->id));
		return (1);
	}
	notify = tls_close_notify(c->io.ctx);
	EVENT("socket.end", EVI("id", c->id), EVB("close_notify", notify));
	return (notify);
}

/* Send what ends our side: close_notify when there is a session, a FIN. */
static void
conn_shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->io.fd == -1)
		return;
	if (c->io.ops != NULL && c->io.ops->shutdown != NULL &&
	    c->io.ops->shutdown(c->io.ctx) == IO_WANT_POLLOUT) {
		/* No room for close_notify yet: the FIN waits behind it. */
		if (c->shut_ev == NULL)
			c->shut_ev = event_new(c->base, c->io.fd, EV_WRITE,
			    conn_shutdown_cb, c);
		if (c->shut_ev != NULL) {
			event_add(c->shut_ev, NULL);
			return;
		}
	}
	shutdown(c->io.fd, SHUT_WR);
}

/* End our side: no more bytes to the peer (close_notify, then a FIN). */
void
conn_shutdown(struct conn *c)
{
	conn_shutdown_cb(-1, 0, c);
}

/* The socket.close event of a connection (also for one run by --exec). */
void
conn_close_event(int id, int had_error, uint64_t nread, uint64_t nwritten)
{
	EVENT("socket.close", EVI("id", id), EVB("had_error", had_error),
	    EVI("bytes_read", nread), EVI("bytes_written", nwritten));
}

/* Close the socket (with a reset if asked) and stop the timers, once. */
static int
conn_release(struct conn *c, int reset)
{
	if (c->flags & CONN_CLOSED)
		return (0);
	c->flags |= CONN_CLOSED;
	if (c->timer != NULL)
		event_del(c->timer);
	if (c->shut_ev != NULL)
		event_del(c->shut_ev);
	if (c->io.ops != NULL && c->io.ops->close != NULL)
		c->io.ops->close(c->io.ctx);
	c->io.ops = NULL;
	if (c->io.fd != -1) {
		if (reset)
			endpoint_reset(c->io.fd);
		close(c->io.fd);
	}
	c->io.fd = -1;
	return (1);
}

/*
 * The bytes every connection received and sent so far, closed or not
 * (the upstream sides of forward's pairs left out: the client's count).
 */
void
conn_totals(uint64_t *nread, uint64_t *nwritten)
{
	struct conn *c;

	*nread = conn_done_read;
	*nwritten = conn_done_written;
	LIST_FOREACH(c, &conn_live, live) {
		if (c->flags & CONN_UNCOUNTED)
			continue;
		*nread += c->nread;
		*nwritten += c->nwritten;
	}
}

/* --stats with --events: socket.stats of a connection. */
static void
conn_stats_event(const struct conn *c)
{
	struct timespec now;
	long long ms;

	/* The monotonic clock: the loop's cached time may lag the start. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - c->started.tv_sec) * 1000 +
	    (now.tv_nsec - c->started.tv_nsec) / 1000000;
	EVENT("socket.stats", EVI("id", c->id), EVI("bytes_read", c->nread),
	    EVI("bytes_written", c->nwritten), EVI("ms", ms < 0 ? 0 : ms));
}

/* socket.stats of every open connection (SIGUSR1 with --events). */
void
conn_stats_all(void)
{
	struct conn *c;

	LIST_FOREACH(c, &conn_live, live) {
		if (!(c->flags & (CONN_UNCOUNTED | CONN_CLOSED)))
			conn_stats_event(c);
	}
}

/* Close the socket and report socket.close, once. */
void
conn_close(struct conn *c)
{
	if (c->o->cmd == CMD_FORWARD) {
		/* A client of forward is a pair, even before TO was tried. */
		conn_close_pair(c, NULL, 0);
		return;
	}
	if (c->o->stats && !(c->flags & CONN_CLOSED))
		conn_stats_event(c);
	if (conn_release(c, 0))
		conn_close_event(c->id, (c->flags & CONN_ERROR) != 0, c->nread,
		    c->nwritten);
}

/*
 * Close a forwarded pair, a client c and its upstream up (NULL when never
 * reached), with resets when reset is set: one socket.close for the two,
 * counted as seen from the client's socket, plus bytes_up (delivered to
 * the upstream) and bytes_down (delivered to the client).
 */
void
conn_close_pair(struct conn *c, struct conn *up, int reset)
{
	uint64_t bytes_up = 0;

	if (c->o->stats && !(c->flags & CONN_CLOSED))
		conn_stats_event(c);
	if (up != NULL) {
		conn_release(up, reset);
		bytes_up = up->nwritten;
	}
	if (!conn_release(c, reset))
		return;
	EVENT("socket.close", EVI("id", c->id),
	    EVB("had_error", (c->flags & CONN_ERROR) != 0),
	    EVI("bytes_read", c->nread), EVI("bytes_written", c->nwritten),
	    EVI("bytes_up", bytes_up), EVI("bytes_down", c->nwritten));
}

/* Free a connection; a socket still open is closed without an event. */
void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	LIST_REMOVE(c, live);
	if (!(c->flags & CONN_UNCOUNTED)) {
		conn_done_read += c->nread;
		conn_done_written += c->nwritten;
	}
	if (c->io.ops != NULL && c->io.ops->close != NULL)
		c->io.ops->close(c->io.ctx);
	if (c->io.fd != -1)
		close(c->io.fd);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->shut_ev != NULL)
		event_free(c->shut_ev);
	if (c->remote != conn_noname)
		free(c->remote);
	free(c);
}
