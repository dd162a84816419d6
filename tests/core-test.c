/*
 * core-test: unit checks of the connection core and the pump's seams,
 * linked with every file of src/ but main.
 *
 *  - buf: appends, drops and growth keep the bytes in order.
 *  - relay_new ownership: when any allocation fails, relay_new returns
 *    NULL and the caller still owns the connection and its socket (which
 *    is open, and closed exactly once by the caller); allocation failures
 *    are injected by linking with -Wl,--wrap=calloc.
 *  - a pump whose source or destination reads and writes through struct
 *    io_ops (as a TLS session will): the ops keep bytes of their own
 *    (records read whole from the socket, handed out in small pieces, so
 *    the descriptor shows nothing while the ops still hold data), and
 *    answer IO_WANT_POLLOUT to reads and IO_WANT_POLLIN to writes now and
 *    then; 4 MiB must cross intact both ways, and the connection's
 *    counters must match.
 *  - conn: the idle timer with --on-timeout end asks for an end, then
 *    (idle again) a destroy; socket.error is reported once.
 *
 * Exit 0 when every check passes; one line on stdout per failure.
 */

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "../src/netkit.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("core-test:%d: ", __LINE__);                    \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
			failures++;                                            \
		}                                                              \
	} while (0)

/* Allocation failure injection: the Nth calloc from now fails (0: none). */
static int calloc_fail_at;
static int calloc_calls;
void *__real_calloc(size_t, size_t);
void *__wrap_calloc(size_t, size_t);

/* calloc, failing on the chosen call. */
void *
__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fail_at > 0 && ++calloc_calls == calloc_fail_at)
		return (NULL);
	return (__real_calloc(n, size));
}

/* A simple deterministic generator. */
static uint32_t rnd_state = 0x9e3779b9;
static uint32_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return (rnd_state);
}

/* Options as opts_parse would leave them for a plain relay. */
static void
test_options(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->name = "connect";
	o->port = -1;
	o->fd = -1;
	o->keepalive_ms = -1;
	o->max_connections = -1;
	o->buffer_size = NETKIT_BUFFER_SIZE;
}

/* The buffer keeps bytes in order through appends, drops and growth. */
static void
test_buf(void)
{
	struct buf b = { NULL, 0, 0, 0 };
	static char in[1 << 20], out[1 << 20];
	size_t i, added = 0, taken = 0, n;

	for (i = 0; i < sizeof in; i++)
		in[i] = (char)rnd();
	while (taken < sizeof in) {
		n = rnd() % 100000;
		if (n > sizeof in - added)
			n = sizeof in - added;
		CHECK(buf_add(&b, in + added, n) == 0, "buf_add failed");
		added += n;
		n = rnd() % 120000;
		if (n > b.len)
			n = b.len;
		memcpy(out + taken, b.p + b.off, n);
		buf_drop(&b, n);
		taken += n;
		if (b.len == 0 && rnd() % 2)
			buf_release(&b);
	}
	CHECK(memcmp(in, out, sizeof in) == 0, "buf: bytes out of order");
	CHECK(b.len == 0, "buf: %zu bytes left", b.len);
	buf_free(&b);
	CHECK(b.p == NULL && b.cap == 0, "buf_free left memory");
}

static int relay_done_calls;

/* relay_cb.done for the ownership test (never reached). */
static void
test_relay_done(struct relay *r, void *arg)
{
	(void)r;
	(void)arg;
	relay_done_calls++;
}

static const struct relay_cb test_relay_cb = { test_relay_done };

/* relay_new leaves the connection to the caller when it fails. */
static void
test_relay_ownership(void)
{
	struct event_base *base = event_base_new();
	struct stdio_end in = { -1, STDIO_CLOSED, -1 };
	struct stdio_end out = { -1, STDIO_CLOSED, -1 };
	struct options o;
	struct relay *r;
	struct conn *c;
	int sv[2], k, failed = 0;

	test_options(&o);
	o.encoding = ENC_HEX;
	o.write_encoding = ENC_HEX;
	for (k = 1; k < 20; k++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
			CHECK(0, "socketpair: %s", strerror(errno));
			break;
		}
		c = conn_new(base, &o, 1, sv[0], "peer", NULL, NULL);
		CHECK(c != NULL, "conn_new failed");
		calloc_calls = 0;
		calloc_fail_at = k;
		r = relay_new(base, &o, c, &in, &out, &test_relay_cb, NULL);
		calloc_fail_at = 0;
		if (r == NULL) {
			failed++;
			CHECK(fcntl(sv[0], F_GETFD) != -1,
			    "allocation %d failed: relay_new closed the "
			    "caller's socket",
			    k);
			CHECK(c->io.fd == sv[0], "the connection lost its fd");
			conn_free(c);
		} else
			relay_free(r);
		CHECK(fcntl(sv[0], F_GETFD) == -1, "the socket leaked");
		close(sv[1]);
	}
	CHECK(failed >= 3, "only %d allocations could fail", failed);
	event_base_free(base);
}

/*
 * An end that is not a plain descriptor: it reads the socket in records
 * of up to 64 KiB kept inside, hands them out in pieces of at most 1000
 * bytes, and now and then answers IO_WANT_POLLOUT to a read and
 * IO_WANT_POLLIN to a write (only while the socket has bytes to read, as
 * a TLS session would after a record it must take first).
 */
struct fake {
	int fd;
	char in[65536];
	size_t off;
	size_t len;
	unsigned calls;
	unsigned want_out;
	unsigned want_in;
};

/* Whether fd is readable now. */
static int
readable(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return (poll(&pfd, 1, 0) == 1);
}

/* io_ops.read of the fake end. */
static ssize_t
fake_read(void *arg, void *data, size_t len)
{
	struct fake *f = arg;
	ssize_t n;

	if (++f->calls % 5 == 0) {
		f->want_out++;
		return (IO_WANT_POLLOUT);
	}
	if (f->len == 0) {
		n = read(f->fd, f->in, sizeof f->in);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (IO_WANT_POLLIN);
		if (n <= 0)
			return (n);
		f->off = 0;
		f->len = (size_t)n;
	}
	if (len > 1000)
		len = 1000;
	if (len > f->len)
		len = f->len;
	memcpy(data, f->in + f->off, len);
	f->off += len;
	f->len -= len;
	return ((ssize_t)len);
}

/* io_ops.write of the fake end. */
static ssize_t
fake_write(void *arg, const void *data, size_t len)
{
	struct fake *f = arg;
	char junk[64];
	ssize_t n;

	if (++f->calls % 3 == 0 && readable(f->fd)) {
		f->want_in++;
		return (IO_WANT_POLLIN);
	}
	while (readable(f->fd) && read(f->fd, junk, sizeof junk) > 0)
		; /* what "the session" had to take first */
	if (len > 3000)
		len = 3000;
	n = write(f->fd, data, len);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (IO_WANT_POLLOUT);
	return (n);
}

static const struct io_ops fake_ops = { fake_read, fake_write, NULL, NULL };

struct transfer {
	struct event_base *base;
	int flushed;
	int error;
};

/* The pump's callback in the transfer tests. */
static void
transfer_cb(struct pump *p, int what, size_t n, void *arg)
{
	struct transfer *t = arg;

	(void)p;
	(void)n;
	if (what == PUMP_FLUSHED) {
		t->flushed = 1;
		event_base_loopbreak(t->base);
	} else if (what == PUMP_WRITE_ERROR || what == PUMP_READ_ERROR) {
		t->error = pump_error(p);
		event_base_loopbreak(t->base);
	}
}

/* One side of a transfer's peer: writes data, or reads what comes. */
struct peer {
	int fd;
	const char *data; /* to write, or NULL to read */
	size_t len;
	size_t done;
	char *got;
	int poke; /* reading: answer each read with a byte (IO_WANT_POLLIN) */
	int writer; /* reading: the writer's socket, shut once all arrived */
};

/* Move the peer's bytes (the socket is non-blocking). */
static void
peer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *pe = arg;
	ssize_t n;

	(void)fd;
	(void)what;
	if (pe->data != NULL) {
		n = write(pe->fd, pe->data + pe->done, pe->len - pe->done);
		if (n > 0)
			pe->done += (size_t)n;
		return;
	}
	n = read(pe->fd, pe->got + pe->done, 65536);
	if (n > 0) {
		pe->done += (size_t)n;
		if (pe->poke)
			(void)write(pe->fd, "!", 1);
		/*
		 * The writer ends only once everything arrived: bytes left
		 * inside an end with ops, behind a descriptor that shows
		 * nothing more, would stall the pump here.
		 */
		if (pe->done == pe->len)
			shutdown(pe->writer, SHUT_WR);
	}
}

/*
 * Pump 4 MiB through a fake end: from it (ops_src) or to it, the other end
 * a plain socket; what arrives must be the bytes sent.
 */
static void
test_pump_ops(int ops_src)
{
	static char data[4 << 20];
	const char *what = ops_src ? "from ops" : "to ops";
	struct event_base *base = event_base_new();
	struct transfer t = { base, 0, 0 };
	struct timeval limit = { 30, 0 };
	struct peer w, r;
	struct fake f;
	struct options o;
	struct conn *c;
	struct pump *p;
	struct event *wev, *rev;
	int a[2], b[2], src, dst;
	size_t i;
	ssize_t n;

	for (i = 0; i < sizeof data; i++)
		data[i] = (char)rnd();
	/* a[0]: the fake end, a[1] its peer; b[0] the plain end, b[1]. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b) == -1) {
		CHECK(0, "socketpair: %s", strerror(errno));
		return;
	}
	memset(&f, 0, sizeof f);
	f.fd = a[0];
	memset(&w, 0, sizeof w);
	memset(&r, 0, sizeof r);
	w.data = data;
	w.len = sizeof data;
	r.got = malloc(sizeof data + 65536);
	src = ops_src ? a[0] : b[0];
	dst = ops_src ? b[0] : a[0];
	w.fd = ops_src ? a[1] : b[1];
	r.fd = ops_src ? b[1] : a[1];
	r.poke = !ops_src;
	r.len = sizeof data;
	r.writer = w.fd;
	test_options(&o);
	p = pump_new(base, src, dst, PUMP_SRC_POLL | PUMP_DST_POLL, 65536,
	    transfer_cb, &t);
	c = conn_new(base, &o, 7, a[0], "fake", NULL, NULL);
	c->io.ops = &fake_ops;
	c->io.ctx = &f;
	pump_conn(p, c);
	wev = event_new(base, w.fd, EV_WRITE | EV_PERSIST, peer_cb, &w);
	rev = event_new(base, r.fd, EV_READ | EV_PERSIST, peer_cb, &r);
	event_add(wev, NULL);
	event_add(rev, NULL);
	pump_start(p);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	/* The pump is done: take what is still in the socket. */
	shutdown(w.fd, SHUT_WR);
	shutdown(dst, SHUT_WR);
	fcntl(r.fd, F_SETFL, fcntl(r.fd, F_GETFL) & ~O_NONBLOCK);
	while ((n = read(r.fd, r.got + r.done, 65536)) > 0)
		r.done += (size_t)n;
	CHECK(t.flushed, "%s: the pump did not finish (error %d)", what,
	    t.error);
	CHECK(r.done == sizeof data && memcmp(r.got, data, sizeof data) == 0,
	    "%s: %zu bytes arrived, %s", what, r.done,
	    r.done == sizeof data ? "different" : "not all");
	if (ops_src) {
		CHECK(c->nread == sizeof data, "%s: nread %llu", what,
		    (unsigned long long)c->nread);
		CHECK(f.want_out > 0, "no IO_WANT_POLLOUT was exercised");
	} else {
		CHECK(c->nwritten == sizeof data, "%s: nwritten %llu", what,
		    (unsigned long long)c->nwritten);
		CHECK(f.want_in > 0, "no IO_WANT_POLLIN was exercised");
	}
	event_free(wev);
	event_free(rev);
	pump_free(p);
	conn_free(c); /* closes a[0] */
	close(a[1]);
	close(b[0]);
	close(b[1]);
	free(r.got);
	event_base_free(base);
}

struct idle_log {
	int ends;
	int destroys;
	struct event_base *base;
};

/* conn_cb.timeout of the idle test. */
static void
idle_timeout(struct conn *c, int what, void *arg)
{
	struct idle_log *l = arg;

	(void)c;
	if (what == CONN_END)
		l->ends++;
	else {
		l->destroys++;
		event_base_loopbreak(l->base);
	}
}

static const struct conn_cb idle_cb = { idle_timeout };

/* --timeout with end: an end first, a destroy when idle once more. */
static void
test_conn_idle(void)
{
	struct event_base *base = event_base_new();
	struct idle_log l = { 0, 0, base };
	struct timeval limit = { 20, 0 };
	struct options o;
	struct conn *c;

	test_options(&o);
	o.timeout_ms = 50;
	o.on_timeout = ON_TIMEOUT_END;
	c = conn_new(base, &o, 3, -1, "x", &idle_cb, &l);
	conn_start(c);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	CHECK(l.ends == 1 && l.destroys == 1 && c->timeouts == 2,
	    "idle end: %d ends, %d destroys", l.ends, l.destroys);
	CHECK(conn_error(c, ECONNRESET) == 1, "first error not reported");
	CHECK(conn_error(c, EPIPE) == 0, "second error reported");
	conn_close(c);
	CHECK(c->flags & CONN_CLOSED, "not closed");
	conn_free(c);
	event_base_free(base);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as netkit's main */
	log_init(1);
	events_init(EVENTS_OFF, 0);
	test_buf();
	test_relay_ownership();
	test_pump_ops(1);
	test_pump_ops(0);
	test_conn_idle();
	if (failures == 0)
		printf("core-test: all checks passed\n");
	return (failures == 0 ? 0 : 1);
}
