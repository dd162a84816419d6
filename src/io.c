/*
 * Reading and writing the ends of a pump or the hub.
 *
 * A plain descriptor is read and written with read(2) and write(2). An end
 * that is not a plain descriptor (a TLS session) reads and writes through
 * a struct io_ops, whose calls return the bytes moved, 0 at the end, -1
 * with errno on an error, or IO_WANT_POLLIN / IO_WANT_POLLOUT when they
 * can go on only once the descriptor under them is readable / writable
 * (libtls's TLS_WANT_POLLIN / TLS_WANT_POLLOUT). Whoever drives the end
 * waits for that readiness, then calls again with the same arguments.
 *
 * A descriptor the loop cannot poll (a regular file, /dev/null: epoll
 * refuses them) is read or written whenever wanted. io_again brings its
 * callback back through a zero timer once the loop has polled its other
 * events, not through event_active, which libevent would run again in the
 * same pass, starving everything else.
 */

#include <errno.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

/* Read from an end: through its ops, or read(2). */
ssize_t
io_read(const struct io_end *e, void *data, size_t len)
{
	ssize_t n;

	if (e->ops != NULL)
		return (e->ops->read(e->ctx, data, len));
	do
		n = read(e->fd, data, len);
	while (n == -1 && errno == EINTR);
	return (n);
}

/*
 * Write what an end takes now. Returns the bytes written (0 when it takes
 * none without waiting on anything else), -1 with errno on an error, or
 * IO_WANT_POLLIN when an end with ops must read before it can write.
 */
ssize_t
io_write(const struct io_end *e, const void *data, size_t len)
{
	const char *p = data;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if (e->ops != NULL)
			n = e->ops->write(e->ctx, p + done, len - done);
		else
			n = write(e->fd, p + done, len - done);
		if (n == IO_WANT_POLLOUT)
			break;
		if (n == IO_WANT_POLLIN)
			return (done > 0 ? (ssize_t)done : IO_WANT_POLLIN);
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

/* A timer that brings a callback back after the loop's other events. */
struct event *
io_again_new(struct event_base *base,
    void (*cb)(evutil_socket_t, short, void *), void *arg)
{
	return (event_new(base, -1, 0, cb, arg));
}

/* Run an io_again_new event's callback once the loop has polled. */
void
io_again(struct event *ev)
{
	static const struct timeval zero = { 0, 0 };

	evtimer_add(ev, &zero);
}
