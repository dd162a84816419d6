/*
 * Datagrams (-u). connect -u and listen -u relay datagrams between the
 * socket and stdin/stdout; echo -u sends every datagram back in batches
 * (udp_batch_*).
 *
 * A datagram is never split or merged: what one receive returns goes to
 * stdout whole (nothing added), and each chunk read from stdin (at most
 * UDP_MAX bytes; with --lines, one line) is sent as one datagram. The
 * socket belongs to the server (listen -u) or to the connection
 * (connect -u), never to this module.
 *
 * A peer is a struct conn (its id, counters, idle timer, socket.close)
 * without a descriptor of its own, plus its address and the local address
 * its datagrams arrived on, which everything sent to it leaves from
 * (IP_PKTINFO / IPV6_PKTINFO: a wildcard listener answers from the address
 * it was asked on). connect -u has one peer, the connected address;
 * listen -u makes the first address that sends its one peer, and with -k
 * every sending address is a peer.
 *
 *  what happens                     what follows
 *  -------------------------------  ------------------------------------------
 *  a datagram from a new address    listen: a new peer (server.connection),
 *                                   or dropped (server.drop: -m; reason=peer
 *                                   when the one peer is taken,
 *                                   reason=blocked by the access lists)
 *  a datagram from a peer           socket.message; its bytes to stdout; the
 *                                   socket is not read while stdout's backlog
 *                                   is over --buffer-size
 *  stdin has a chunk                one datagram to every peer; stdin is not
 *                                   read while there is no peer, nor while a
 *                                   datagram waits for room in the socket
 *  stdin's EOF                      the idle timers of the peers that wait
 *                                   for it start: connect's reply wait (-t,
 *                                   1000 ms by default), listen's one peer
 *  a peer idle for -t ms            it ends (socket.timeout, socket.close):
 *                                   -k peers at any time, the others only
 *                                   after stdin's EOF
 *  the last peer ended after EOF    connect: exit 0; listen: the server
 *                                   stops (server.close), exit 0
 *  an error on the socket           connect: socket.error, socket.close, one
 *  (ECONNREFUSED)                   line, exit 1
 *  an error sending to a peer       that peer: socket.error, socket.close;
 *                                   without -k, one line and exit 1
 *  a stdout write error             one line, everything closes, exit 1
 *  a signal                         every peer closes at once
 */

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

/* Datagrams read from the socket per readiness callback. */
#define UDP_BURST 64

/* Peer table buckets (a power of two). */
#define UDP_BUCKETS 256

/* Room for the one control message we read: where a datagram arrived. */
#define UDP_CMSG_SPACE                                                         \
	(CMSG_SPACE(sizeof(struct in6_pktinfo)) +                              \
	    CMSG_SPACE(sizeof(struct in_pktinfo)))

/* A socket address, as received. */
struct udp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Where a datagram arrived: what a reply leaves from (family 0: unknown). */
struct udp_dst {
	int family;
	struct in_pktinfo v4;
	struct in6_pktinfo v6;
};

struct udp_peer {
	struct udp *udp;
	struct conn *conn;
	struct udp_addr addr;
	struct udp_dst dst;
	unsigned int hash;
	LIST_ENTRY(udp_peer) bucket;
	TAILQ_ENTRY(udp_peer) entry;
};

struct udp {
	struct event_base *base;
	const struct options *o;
	int fd; /* the socket (not ours) */
	struct server *server; /* listen -u */
	struct conn *conn; /* connect -u: the connection (ours) */
	const struct udp_cb *cb;
	void *arg;

	TAILQ_HEAD(, udp_peer) peers;
	LIST_HEAD(, udp_peer) buckets[UDP_BUCKETS];
	int npeers;
	int had_peer; /* a peer came at some time */
	struct udp_peer *resume; /* the next peer to get the pending datagram */

	struct stdio_end in;
	struct stdio_end out;
	struct event *sock_ev; /* the socket is readable */
	struct event *room_ev; /* the socket has room again */
	struct event *in_ev; /* stdin is readable */
	struct event *out_ev; /* stdout has room */
	struct event *again; /* stdin or stdout the loop cannot poll */
	char *rbuf; /* one datagram received */
	struct buf inb; /* stdin's bytes not yet sent */
	size_t dlen; /* bytes at the head of inb that are the next datagram */
	int blocked; /* the pending datagram waits for room */
	struct buf outb; /* received bytes not yet on stdout */
	int in_eof;
	int stdout_blocked;
	int truncated; /* warned about a datagram too large */
	int done;
	int status;
};

/* The pktinfo of a received datagram, to send from where it arrived. */
static void
udp_dst_get(struct msghdr *m, struct udp_dst *d)
{
	struct cmsghdr *c;

	d->family = 0;
	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&d->v4, CMSG_DATA(c), sizeof d->v4);
			d->v4.ipi_spec_dst = d->v4.ipi_addr;
			d->v4.ipi_ifindex = 0;
			d->family = AF_INET;
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&d->v6, CMSG_DATA(c), sizeof d->v6);
			if (IN6_IS_ADDR_V4MAPPED(&d->v6.ipi6_addr))
				d->v6.ipi6_ifindex = 0;
			d->family = AF_INET6;
			return;
		}
	}
}

/* Set m's control data to send from d (buf has UDP_CMSG_SPACE bytes). */
static void
udp_dst_put(struct msghdr *m, const struct udp_dst *d, void *buf)
{
	struct cmsghdr *c;

	m->msg_control = NULL;
	m->msg_controllen = 0;
	if (d->family == 0)
		return;
	m->msg_control = buf;
	if (d->family == AF_INET) {
		m->msg_controllen = CMSG_SPACE(sizeof d->v4);
		c = CMSG_FIRSTHDR(m);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof d->v4);
		memcpy(CMSG_DATA(c), &d->v4, sizeof d->v4);
	} else {
		m->msg_controllen = CMSG_SPACE(sizeof d->v6);
		c = CMSG_FIRSTHDR(m);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof d->v6);
		memcpy(CMSG_DATA(c), &d->v6, sizeof d->v6);
	}
}

/*
 * Whether a sender can be answered: a UNIX datagram socket that bound no
 * address (a bare sendto) cannot.
 */
static int
udp_addr_named(const struct udp_addr *a)
{
	return (a->ss.ss_family != AF_UNIX ||
	    a->len > offsetof(struct sockaddr_un, sun_path));
}

/* Send one datagram to a (NULL: the connected peer) from d. */
static ssize_t
udp_sendto(int fd, const void *data, size_t len, const struct udp_addr *a,
    const struct udp_dst *d)
{
	char cbuf[UDP_CMSG_SPACE];
	struct msghdr m;
	struct iovec iov;
	ssize_t n;

	memset(&m, 0, sizeof m);
	memset(cbuf, 0, sizeof cbuf);
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (a != NULL) {
		m.msg_name = (void *)&a->ss;
		m.msg_namelen = a->len;
		udp_dst_put(&m, d, cbuf);
	}
	do
		n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return (n);
}

/* A hash of an address, for the peer table. */
static unsigned int
udp_hash(const struct udp_addr *a)
{
	const unsigned char *p = (const unsigned char *)&a->ss;
	unsigned int h = 2166136261u;
	socklen_t i;

	for (i = 0; i < a->len; i++)
		h = (h ^ p[i]) * 16777619u;
	return (h);
}

/* The peer of an address, or NULL. */
static struct udp_peer *
udp_peer_find(struct udp *u, const struct udp_addr *a, unsigned int h)
{
	struct udp_peer *p;

	LIST_FOREACH(p, &u->buckets[h & (UDP_BUCKETS - 1)], bucket) {
		if (p->hash == h && p->addr.len == a->len &&
		    memcmp(&p->addr.ss, &a->ss, a->len) == 0)
			return (p);
	}
	return (NULL);
}

static void udp_want(struct udp *);
static void udp_finish(struct udp *, int);

/* End a peer: socket.close, out of the table, and the server's count. */
static void
udp_peer_close(struct udp_peer *p)
{
	struct udp *u = p->udp;

	if (u->resume == p)
		u->resume = TAILQ_NEXT(p, entry);
	conn_close(p->conn);
	TAILQ_REMOVE(&u->peers, p, entry);
	if (u->server != NULL)
		LIST_REMOVE(p, bucket);
	u->npeers--;
	if (p->conn != u->conn)
		conn_free(p->conn);
	free(p);
	if (u->server != NULL)
		server_conn_closed(u->server);
}

/* All is over: the owner's turn (once). */
static void
udp_finish(struct udp *u, int status)
{
	struct udp_peer *p;

	if (u->done)
		return;
	u->done = 1;
	u->status = status;
	while ((p = TAILQ_FIRST(&u->peers)) != NULL)
		udp_peer_close(p);
	udp_want(u);
	u->cb->done(u, u->arg);
}

/* Whether the relay has run its course: stdin ended, no peer left. */
static void
udp_maybe_done(struct udp *u)
{
	if (u->in_eof && u->had_peer && u->npeers == 0)
		udp_finish(u, u->status);
}

/* A peer's idle timer: it ends, if it may (see the table above). */
static void
udp_peer_timeout(struct conn *c, int what, void *arg)
{
	struct udp_peer *p = arg;
	struct udp *u = p->udp;

	(void)c;
	(void)what;
	if (!u->o->keep_open && !u->in_eof)
		return;
	udp_peer_close(p);
	udp_maybe_done(u);
	udp_want(u);
}

static const struct conn_cb udp_peer_cb = { udp_peer_timeout };

/* A new peer for a; NULL when out of memory. */
static struct udp_peer *
udp_peer_new(struct udp *u, struct conn *conn, const struct udp_addr *a,
    unsigned int h)
{
	struct udp_peer *p;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return (NULL);
	p->udp = u;
	p->conn = conn;
	p->addr = *a;
	p->hash = h;
	conn->cb = &udp_peer_cb;
	conn->arg = p;
	TAILQ_INSERT_TAIL(&u->peers, p, entry);
	if (u->server != NULL)
		LIST_INSERT_HEAD(&u->buckets[h & (UDP_BUCKETS - 1)], p, bucket);
	u->npeers++;
	u->had_peer = 1;
	/* A -k peer expires on its own; the others wait for stdin's EOF. */
	if (u->o->keep_open || u->in_eof)
		conn_start(conn);
	else
		conn_io(conn);
	return (p);
}

/*
 * The peer a datagram from a belongs to (listen: admitted now if new), or
 * NULL when it is dropped.
 */
static struct udp_peer *
udp_peer_of(struct udp *u, const struct udp_addr *a, const struct udp_dst *d)
{
	char remote[ENDPOINT_ADDRSTRLEN];
	struct udp_peer *p;
	struct conn *c;
	unsigned int h;
	int id;

	if (u->server == NULL)
		return (TAILQ_FIRST(&u->peers));
	h = udp_hash(a);
	if ((p = udp_peer_find(u, a, h)) != NULL)
		return (p);
	endpoint_format((const struct sockaddr *)&a->ss, a->len, remote,
	    sizeof remote);
	id = server_peer(u->server, (const struct sockaddr *)&a->ss, remote,
	    !u->o->keep_open && u->had_peer ? "peer" : NULL);
	if (id <= 0)
		return (NULL);
	c = conn_new(u->base, u->o, id, -1, remote, NULL, NULL);
	if (c == NULL || (p = udp_peer_new(u, c, a, h)) == NULL) {
		conn_free(c);
		server_conn_closed(u->server);
		return (NULL);
	}
	p->dst = *d;
	return (p);
}

/* stdout failed: one line, and everything ends. */
static void
udp_stdout_failed(struct udp *u, int err)
{
	log_error(u->o->name, "stdout", err);
	udp_finish(u, EXIT_RUNTIME);
}

/* Write stdout's backlog as far as it goes. */
static void
udp_flush_out(struct udp *u)
{
	ssize_t n;

	u->stdout_blocked = 0;
	while (u->outb.len > 0) {
		if (u->out.flags & STDIO_CLOSED) {
			buf_drop(&u->outb, u->outb.len);
			break;
		}
		n = write(u->out.fd, u->outb.p + u->outb.off, u->outb.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			u->stdout_blocked = 1;
			break;
		}
		if (n == -1) {
			udp_stdout_failed(u, errno);
			return;
		}
		buf_drop(&u->outb, (size_t)n);
	}
	if (u->outb.len == 0)
		buf_release(&u->outb);
}

/* A failure on the socket itself (connect -u): report it and end. */
static void
udp_socket_failed(struct udp *u, int err)
{
	struct udp_peer *p = TAILQ_FIRST(&u->peers);
	const char *code = log_errno_name(err);

	if (p != NULL) {
		conn_error(p->conn, err);
		log_error_code(u->o->name, p->conn->remote, strerror(err),
		    code);
	} else
		log_error(u->o->name, "socket", err);
	udp_finish(u, EXIT_RUNTIME);
}

/* The socket is readable: take what waits, up to a burst. */
static void
udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp *u = arg;
	char cbuf[UDP_CMSG_SPACE];
	struct udp_addr a;
	struct udp_dst d;
	struct udp_peer *p;
	struct msghdr m;
	struct iovec iov;
	ssize_t n;
	size_t len;
	int i;

	(void)what;
	for (i = 0; i < UDP_BURST && !u->done; i++) {
		if (u->outb.len >= u->o->buffer_size)
			break; /* stdout is behind: let the kernel hold them */
		memset(&m, 0, sizeof m);
		iov.iov_base = u->rbuf;
		iov.iov_len = UDP_RECV_MAX;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_name = &a.ss;
		m.msg_namelen = sizeof a.ss;
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (u->conn != NULL) {
				udp_socket_failed(u, errno);
				return;
			}
			/* An unconnected socket: the error is one datagram's. */
			continue;
		}
		len = (size_t)n;
		if (len > UDP_RECV_MAX) {
			if (!u->truncated)
				log_warn("%s: a datagram of %zu bytes cut to "
					 "%d",
				    u->o->name, len, UDP_RECV_MAX);
			u->truncated = 1;
			len = UDP_RECV_MAX;
		}
		a.len = m.msg_namelen;
		udp_dst_get(&m, &d);
		if ((p = udp_peer_of(u, &a, &d)) == NULL)
			continue;
		p->conn->nread += len;
		conn_io(p->conn);
		EVENT("socket.message", EVI("id", p->conn->id),
		    EVS("remote", p->conn->remote), EVI("bytes", len));
		if (len > 0 && !(u->out.flags & STDIO_CLOSED) &&
		    buf_add(&u->outb, u->rbuf, len) == -1) {
			udp_stdout_failed(u, ENOMEM);
			return;
		}
		udp_flush_out(u);
	}
	udp_want(u);
}

/*
 * The length of the next datagram at the head of stdin's bytes, or 0 when
 * there is none yet: a read's worth, or with --lines a line (or UDP_MAX
 * bytes of one, or what is left at EOF).
 */
static size_t
udp_next(const struct udp *u)
{
	const char *p = u->inb.p + u->inb.off, *nl;
	size_t n = u->inb.len < UDP_MAX ? u->inb.len : UDP_MAX;

	if (u->inb.len == 0)
		return (0);
	if (!u->o->lines)
		return (n);
	if ((nl = memchr(p, '\n', n)) != NULL)
		return ((size_t)(nl - p) + 1);
	if (n == UDP_MAX || u->in_eof)
		return (n);
	return (0);
}

/*
 * Send the pending datagram to every peer from the one to resume at.
 * Returns 0 when it is sent, 1 when the socket has no room.
 */
static int
udp_send_pending(struct udp *u)
{
	const char *data = u->inb.p + u->inb.off;
	struct udp_peer *p, *next;
	ssize_t n;
	int err;

	for (p = u->resume; p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (!udp_addr_named(&p->addr))
			continue;
		n = udp_sendto(u->fd, data, u->dlen,
		    u->server != NULL ? &p->addr : NULL, &p->dst);
		if (n == -1 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK ||
			errno == ENOBUFS)) {
			u->resume = p;
			return (1);
		}
		if (n == -1) {
			err = errno;
			if (u->conn != NULL) {
				udp_socket_failed(u, err);
				return (0);
			}
			conn_error(p->conn, err);
			if (!u->o->keep_open) {
				/* The one peer is gone: nothing is left. */
				log_error_code(u->o->name, p->conn->remote,
				    strerror(err), log_errno_name(err));
				udp_finish(u, EXIT_RUNTIME);
				return (0);
			}
			udp_peer_close(p);
			continue;
		}
		p->conn->nwritten += (size_t)n;
		conn_io(p->conn);
	}
	return (0);
}

/* Send the datagrams stdin has given, as far as the socket takes them. */
static void
udp_send_in(struct udp *u)
{
	while (!u->done) {
		if (u->dlen == 0) {
			if ((u->dlen = udp_next(u)) == 0)
				break;
			u->resume = TAILQ_FIRST(&u->peers);
		}
		u->blocked = udp_send_pending(u);
		if (u->blocked || u->done)
			break;
		buf_drop(&u->inb, u->dlen);
		u->dlen = 0;
	}
	if (u->inb.len == 0)
		buf_release(&u->inb);
}

/* stdin has ended: the peers that waited for it start their idle timers. */
static void
udp_in_eof(struct udp *u)
{
	struct udp_peer *p, *next;
	struct timeval now, idle;
	long ms;

	u->in_eof = 1;
	udp_send_in(u); /* a last line without its newline */
	if (u->done || u->o->keep_open) {
		udp_maybe_done(u);
		return;
	}
	event_base_gettimeofday_cached(u->base, &now);
	for (p = TAILQ_FIRST(&u->peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (u->conn != NULL) {
			/* connect: the reply wait starts now. */
			conn_start(p->conn);
			continue;
		}
		timersub(&now, &p->conn->last_io, &idle);
		ms = idle.tv_sec * 1000 + idle.tv_usec / 1000;
		if (u->o->timeout_ms > 0 && ms >= u->o->timeout_ms) {
			EVENT("socket.timeout", EVI("id", p->conn->id));
			udp_peer_close(p);
		} else if (p->conn->timer != NULL)
			conn_start(p->conn);
	}
	udp_maybe_done(u);
}

/* stdin is readable (or, unpolled, may be read). */
static void
udp_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct udp *u = arg;
	ssize_t n;

	(void)fd;
	(void)what;
	if (u->done || u->in_eof || u->dlen > 0 || u->npeers == 0)
		return;
	if (buf_reserve(&u->inb, UDP_MAX) == -1) {
		log_error(u->o->name, "stdin", ENOMEM);
		udp_finish(u, EXIT_RUNTIME);
		return;
	}
	do
		n = read(u->in.fd, u->inb.p + u->inb.off + u->inb.len, UDP_MAX);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		udp_want(u);
		return;
	}
	if (n == -1) {
		log_error(u->o->name, "stdin", errno);
		udp_finish(u, EXIT_RUNTIME);
		return;
	}
	if (n == 0) {
		udp_in_eof(u);
		udp_want(u);
		return;
	}
	u->inb.len += (size_t)n;
	udp_send_in(u);
	udp_want(u);
}

/* The socket has room again: go on with the pending datagram. */
static void
udp_room(evutil_socket_t fd, short what, void *arg)
{
	struct udp *u = arg;

	(void)fd;
	(void)what;
	udp_send_in(u);
	if (u->in_eof)
		udp_maybe_done(u);
	udp_want(u);
}

/* stdout has room again. */
static void
udp_stdout(evutil_socket_t fd, short what, void *arg)
{
	struct udp *u = arg;

	(void)fd;
	(void)what;
	udp_flush_out(u);
	udp_want(u);
}

/* An unpolled stdin gets its turn after the loop's other events. */
static void
udp_again_cb(evutil_socket_t fd, short what, void *arg)
{
	udp_stdin(fd, what, arg);
}

/*
 * Put the events in line with the state: read the socket while stdout
 * keeps up, stdin while there is a peer and no datagram waits, and wait
 * for room where a write is blocked.
 */
static void
udp_want(struct udp *u)
{
	int read_in = !u->done && !u->in_eof && u->npeers > 0 && u->dlen == 0 &&
	    !(u->in.flags & STDIO_CLOSED);

	if (u->sock_ev == NULL)
		return; /* not open yet */
	if (!u->done && u->fd != -1 && u->outb.len < u->o->buffer_size)
		event_add(u->sock_ev, NULL);
	else
		event_del(u->sock_ev);
	if (!u->done && u->blocked)
		event_add(u->room_ev, NULL);
	else
		event_del(u->room_ev);
	if (!u->done && u->stdout_blocked)
		event_add(u->out_ev, NULL);
	else
		event_del(u->out_ev);
	if (read_in && (u->in.flags & STDIO_POLL))
		event_add(u->in_ev, NULL);
	else
		event_del(u->in_ev);
	if (read_in && !(u->in.flags & STDIO_POLL))
		io_again(u->again);
	if (!read_in)
		event_del(u->again);
	if (!u->done && !u->in_eof && (u->in.flags & STDIO_CLOSED) &&
	    u->npeers > 0)
		udp_in_eof(u); /* a closed stdin is an empty one */
}

/* Make a datagram relay; NULL when out of memory. */
struct udp *
udp_new(struct event_base *base, const struct options *o,
    const struct udp_cb *cb, void *arg)
{
	struct udp *u;
	int i;

	if ((u = calloc(1, sizeof *u)) == NULL)
		return (NULL);
	u->base = base;
	u->o = o;
	u->fd = -1;
	u->cb = cb;
	u->arg = arg;
	TAILQ_INIT(&u->peers);
	for (i = 0; i < UDP_BUCKETS; i++)
		LIST_INIT(&u->buckets[i]);
	u->in.fd = u->out.fd = -1;
	u->rbuf = malloc(UDP_RECV_MAX);
	u->again = io_again_new(base, udp_again_cb, u);
	if (u->rbuf == NULL || u->again == NULL) {
		udp_free(u);
		return (NULL);
	}
	return (u);
}

/* Open stdin, stdout and the socket's events. */
static int
udp_open(struct udp *u, int fd)
{
	u->fd = fd;
	stdio_open(&u->in, 0);
	stdio_open(&u->out, 1);
	u->sock_ev = event_new(u->base, fd, EV_READ | EV_PERSIST, udp_readable,
	    u);
	u->room_ev = event_new(u->base, fd, EV_WRITE, udp_room, u);
	u->in_ev = event_new(u->base, u->in.fd, EV_READ | EV_PERSIST, udp_stdin,
	    u);
	u->out_ev = event_new(u->base, u->out.fd, EV_WRITE, udp_stdout, u);
	if (u->sock_ev == NULL || u->room_ev == NULL || u->in_ev == NULL ||
	    u->out_ev == NULL)
		return (-1);
	return (0);
}

/*
 * connect -u: relay the connected socket of conn, which becomes the one
 * peer (the relay owns conn from now on). -1 when out of memory.
 */
int
udp_connect(struct udp *u, struct conn *conn)
{
	struct udp_addr a;
	struct udp_peer *p;

	memset(&a, 0, sizeof a);
	if (udp_open(u, conn->io.fd) == -1 ||
	    (p = udp_peer_new(u, conn, &a, 0)) == NULL) {
		conn_free(conn);
		return (-1);
	}
	u->conn = conn;
	udp_want(u);
	return (0);
}

/* listen -u: serve the server's datagram socket. -1 when out of memory. */
int
udp_serve(struct udp *u, struct server *s)
{
	u->server = s;
	if (udp_open(u, server_fd(s)) == -1)
		return (-1);
	udp_want(u);
	return (0);
}

/* The server stops (a signal): every peer ends now; the socket is gone. */
void
udp_stop(struct udp *u)
{
	udp_finish(u, u->status);
	u->fd = -1;
}

/* End everything at once with exit status 1 (connect: a signal). */
void
udp_abort(struct udp *u)
{
	udp_finish(u, EXIT_RUNTIME);
}

/* The exit status the relay asks for. */
int
udp_status(const struct udp *u)
{
	return (u->status);
}

/* Free a relay: its peers without events, its buffers and events. */
void
udp_free(struct udp *u)
{
	struct udp_peer *p;

	if (u == NULL)
		return;
	while ((p = TAILQ_FIRST(&u->peers)) != NULL) {
		TAILQ_REMOVE(&u->peers, p, entry);
		if (p->conn != u->conn)
			conn_free(p->conn);
		free(p);
	}
	conn_free(u->conn);
	if (u->sock_ev != NULL)
		event_free(u->sock_ev);
	if (u->room_ev != NULL)
		event_free(u->room_ev);
	if (u->in_ev != NULL)
		event_free(u->in_ev);
	if (u->out_ev != NULL)
		event_free(u->out_ev);
	if (u->again != NULL)
		event_free(u->again);
	stdio_restore(&u->in);
	stdio_restore(&u->out);
	buf_free(&u->inb);
	buf_free(&u->outb);
	free(u->rbuf);
	free(u);
}

/*
 * echo -u's batches: up to UDP_BATCH datagrams taken with one recvmmsg and
 * sent back with one sendmmsg, each from the address it arrived on.
 */
struct udp_batch {
	struct mmsghdr in[UDP_BATCH];
	struct mmsghdr out[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct udp_addr from[UDP_BATCH];
	struct udp_dst dst[UDP_BATCH];
	char cin[UDP_BATCH][UDP_CMSG_SPACE];
	char cout[UDP_BATCH][UDP_CMSG_SPACE];
	unsigned char blocked[UDP_BATCH]; /* the access lists refuse it */
	char *data;
	int n; /* datagrams taken */
	int nout; /* replies to send */
	int sent; /* replies sent */
};

/* Make a batch; NULL when out of memory. */
struct udp_batch *
udp_batch_new(void)
{
	struct udp_batch *b;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (NULL);
	if ((b->data = malloc((size_t)UDP_BATCH * UDP_RECV_MAX)) == NULL) {
		free(b);
		return (NULL);
	}
	return (b);
}

/* Free a batch. */
void
udp_batch_free(struct udp_batch *b)
{
	if (b == NULL)
		return;
	free(b->data);
	free(b);
}

/*
 * Take the datagrams waiting on fd (at most UDP_BATCH) and make their
 * replies, but for senders the access lists acl (or NULL) refuse.
 * Returns how many were taken (0: none waits), -1 with errno.
 */
int
udp_batch_recv(struct udp_batch *b, int fd, const struct acl *acl)
{
	struct msghdr *m;
	int i, n;

	for (i = 0; i < UDP_BATCH; i++) {
		m = &b->in[i].msg_hdr;
		b->iov[i].iov_base = b->data + (size_t)i * UDP_RECV_MAX;
		b->iov[i].iov_len = UDP_RECV_MAX;
		m->msg_iov = &b->iov[i];
		m->msg_iovlen = 1;
		m->msg_name = &b->from[i].ss;
		m->msg_namelen = sizeof b->from[i].ss;
		m->msg_control = b->cin[i];
		m->msg_controllen = UDP_CMSG_SPACE;
		m->msg_flags = 0;
	}
	do
		n = recvmmsg(fd, b->in, UDP_BATCH, MSG_DONTWAIT, NULL);
	while (n == -1 && errno == EINTR);
	b->n = b->nout = b->sent = 0;
	if (n == -1)
		return (errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1);
	b->n = n;
	for (i = 0; i < n; i++) {
		m = &b->in[i].msg_hdr;
		b->from[i].len = m->msg_namelen;
		b->iov[i].iov_len = b->in[i].msg_len;
		udp_dst_get(m, &b->dst[i]);
		b->blocked[i] = acl != NULL &&
		    !acl_allows(acl, (struct sockaddr *)&b->from[i].ss);
		if (b->blocked[i] || !udp_addr_named(&b->from[i]))
			continue; /* nobody to answer */
		m = &b->out[b->nout].msg_hdr;
		memset(m, 0, sizeof *m);
		m->msg_iov = &b->iov[i];
		m->msg_iovlen = 1;
		m->msg_name = &b->from[i].ss;
		m->msg_namelen = b->from[i].len;
		udp_dst_put(m, &b->dst[i], b->cout[b->nout]);
		b->nout++;
	}
	return (n);
}

/* Datagram i of the batch: its sender, formatted, and its length. */
size_t
udp_batch_msg(const struct udp_batch *b, int i, char *remote, size_t len)
{
	endpoint_format((const struct sockaddr *)&b->from[i].ss, b->from[i].len,
	    remote, len);
	return (b->in[i].msg_len);
}

/* Whether datagram i of the batch came from a sender the lists refuse. */
int
udp_batch_blocked(const struct udp_batch *b, int i)
{
	return (b->blocked[i]);
}

/*
 * Send the batch's replies that are left. Returns 0 when all are sent, 1
 * when the socket has no room for the rest (call again once it has). A
 * reply the kernel refuses for itself (its sender is gone) is dropped.
 */
int
udp_batch_reply(struct udp_batch *b, int fd)
{
	int n;

	while (b->sent < b->nout) {
		n = sendmmsg(fd, b->out + b->sent,
		    (unsigned int)(b->nout - b->sent),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return (1);
			n = 1; /* this reply cannot go: drop it */
		}
		b->sent += n;
	}
	return (0);
}
