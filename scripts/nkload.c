/*
 * nkload: the load client of netkit's benchmarks. Plain POSIX and Linux
 * epoll, one thread, no libevent, so that it measures servers without
 * sharing their code.
 *
 *   nkload pingpong [-U PATH | -H HOST -p PORT] -c CONNS -s SIZE -d SECONDS
 *                   [-w WARMUP] [--json]
 *   nkload connrate [-U PATH | -H HOST -p PORT] -c CONCURRENCY -s SIZE
 *                   -d SECONDS [-w WARMUP] [--json]
 *   nkload idle [-U PATH | -H HOST -p PORT] -n N [-t HOLD] [--pid PID]
 *                   [--json]
 *   nkload udp [-U PATH | -H HOST -p PORT] -c SOCKETS -s SIZE -d SECONDS
 *                   [-w WARMUP] [--window N] [--json]
 *
 * pingpong: CONNS connections, each sending SIZE bytes and waiting for the
 * whole echo, over and over. connrate: CONCURRENCY workers, each
 * connecting, sending SIZE bytes, reading the echo and closing, over and
 * over. idle: N connections held open HOLD seconds (the server's VmRSS
 * read before and after when --pid is given), then each must still echo.
 * udp: SOCKETS datagram sockets connected to the server (UDP, or UNIX
 * datagram with -U, bound to an autobind address so that the server can
 * answer), each keeping up to N datagrams of SIZE bytes in flight (default
 * 1: ping-pong) and sending the next as each reply comes. A datagram whose
 * reply has not come within 200 ms is lost: counted, not sent again, its
 * place in the window freed. A reply that comes after that is late, counted
 * apart from errors. Loss is reported, not an error.
 *
 * Every echoed byte is checked. Each message is a window of a fixed
 * pseudo-random pattern whose offset changes with every message of every
 * connection, so a corrupted, stale, short or extra echo is an error.
 * udp matches each reply to the datagrams of its socket in flight by its
 * bytes (oldest first), so a reply that is not a whole copy of one of them
 * (a duplicate, a stale or merged one, other bytes) is an error. Below 8
 * bytes two datagrams in flight may look alike; the oldest is taken.
 *
 * Every wait has a deadline: connecting 5 s plus 1 ms a connection, the
 * last echoes 2 s after the run, idle's check 5 s plus 1 ms a connection.
 * A server that stops answering ends the run at a deadline with errors
 * (udp: with every datagram lost; the run ends 200 ms after the last send).
 *
 * One summary line on stdout (or one JSON object with --json); failures on
 * stderr. Exit 0 when errors == 0 and every connection was made, 1
 * otherwise, 2 on a usage error. Loopback and UNIX sockets only.
 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define NS_S 1000000000ULL
#define NS_MS 1000000ULL

/* clang-format off */
#define UDP_LOSS_NS (200 * NS_MS)  /* a reply later than this: lost */
#define UDP_TICK_NS (10 * NS_MS)   /* losses looked for this often */
#define UDP_MAX_SIZE 65507	   /* the largest UDP payload over IPv4 */
#define UDP_MAX_WINDOW 1024	   /* < PAT_SPAN: datagrams in flight differ */
#define UDP_RECV_BATCH 64	   /* replies taken by one recvmmsg() */
#define CONNECT_BATCH 128	   /* connects in flight at once */
#define CONNECT_BASE_NS (5 * NS_S) /* connect deadline: this ... */
#define PER_CONN_NS NS_MS	   /* ... plus this per connection */
#define DRAIN_NS (2 * NS_S)	   /* echoes outstanding at the end */
#define RETRY_NS NS_MS		   /* UNIX backlog full: retry after */
#define MAX_SIZE (16 << 20)
#define MAX_CONNS 1000000
#define MAX_SECONDS 86400.0
#define IDLE_SIZE 16 /* bytes each idle connection echoes at the end */
#define PAT_SPAN 4093 /* message offsets into the pattern; prime */
#define RBUF_MIN (256 << 10)
#define NEVENTS 1024
#define ERRORS_SHOWN 10

/*
 * Latency histogram, log-linear in nanoseconds: exact below 1024 ns, then
 * 512 buckets for each power of two, so every value is within 0.2%.
 */
#define HIST_BITS 10
#define HIST_SUB (1U << HIST_BITS)
#define HIST_HALF (HIST_SUB / 2)
#define HIST_N ((64 - HIST_BITS + 1) * HIST_HALF + HIST_HALF)

struct hist {
	uint64_t	 count;
	uint64_t	 max;
	uint64_t	 bucket[HIST_N];
};

enum mode {
	M_PINGPONG,
	M_CONNRATE,
	M_IDLE,
	M_UDP
};

enum state {
	C_NEW,	      /* no socket yet */
	C_RETRY,      /* UNIX backlog was full: waiting to connect again */
	C_CONNECTING, /* non-blocking connect in progress */
	C_IDLE,	      /* connected, no message outstanding */
	C_MSG,	      /* a message being sent and echoed */
	C_CLOSED      /* closed after an error */
};

struct conn {
	int		 fd;
	enum state	 state;
	uint32_t	 id;
	uint32_t	 seq;	/* messages started on this connection */
	size_t		 off;	/* into the pattern */
	size_t		 sent;
	size_t		 got;
	uint64_t	 t0;	/* message (connrate: cycle) start */

	/* udp */
	struct slot	*slot;	/* the window: l->window datagrams */
	uint32_t	 inflight;
	int		 wantout; /* sending met EAGAIN: waiting for EPOLLOUT */
	unsigned char	*gone;	/* bit per pattern offset: lost, unanswered */
};

/* A datagram in flight (udp), or a free place in the window (t0 == 0). */
struct slot {
	uint64_t	 t0;
	uint32_t	 seq;
	uint32_t	 off;
};

struct load {
	enum mode	 mode;
	const char	*name;
	int		 json;

	/* Where to connect. */
	struct sockaddr_storage ss;
	socklen_t	 sslen;
	int		 family;
	char		 where[128];

	/* Options. */
	size_t		 nconns;	/* -c or -n, as asked */
	size_t		 size;
	uint64_t	 dur_ns;
	uint64_t	 warm_ns;
	uint64_t	 hold_ns;
	long		 pid;
	size_t		 window;	/* udp: datagrams in flight a socket */

	/* Run state. */
	int		 ep;
	struct epoll_event evs[NEVENTS];
	struct conn	*conns;
	size_t		 n;		/* connections we may open */
	size_t		 connected;	/* pingpong, idle: made */
	size_t		 connecting;
	size_t		 active;	/* in C_CONNECTING or C_MSG */
	unsigned char	*pat;
	unsigned char	*rbuf;
	size_t		 rbuflen;
	uint64_t	 t_meas;	/* measurement window start ... */
	uint64_t	 t_end;		/* ... and end */
	uint64_t	 done;		/* messages (cycles) in it */
	uint64_t	 verified;	/* idle: echoed at the end */
	uint64_t	 errors;

	/* udp */
	struct slot	*slots;		/* n * window */
	struct mmsghdr	*mm;		/* UDP_MAX_WINDOW for sending, ... */
	struct iovec	*iov;		/* ... UDP_RECV_BATCH for receiving */
	uint64_t	 inflight;
	uint64_t	 sent;
	uint64_t	 lost;
	uint64_t	 late;		/* replies after they were lost */
	struct hist	 hist;
};
/* clang-format on */

/* Nanoseconds on the monotonic clock. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * NS_S + (uint64_t)ts.tv_nsec);
}

/* The synopsis, to f. */
static void
usage_print(FILE *f)
{
	fputs(
	    "usage: nkload pingpong [-U PATH | -H HOST -p PORT] -c CONNS"
	    " -s SIZE -d SECONDS\n"
	    "                       [-w WARMUP] [--json]\n"
	    "       nkload connrate [-U PATH | -H HOST -p PORT] -c CONCURRENCY"
	    " -s SIZE\n"
	    "                       -d SECONDS [-w WARMUP] [--json]\n"
	    "       nkload idle [-U PATH | -H HOST -p PORT] -n N [-t HOLD]"
	    " [--pid PID] [--json]\n"
	    "       nkload udp [-U PATH | -H HOST -p PORT] -c SOCKETS -s SIZE"
	    " -d SECONDS\n"
	    "                       [-w WARMUP] [--window N] [--json]\n",
	    f);
}

/* A usage error: one line saying what, the synopsis, exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list ap;

	fputs("nkload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_print(stderr);
	exit(EXIT_USAGE);
}

/* A failure outside any connection (no memory, epoll): exit 1. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("nkload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAIL);
}

/* The symbolic name of an errno value, for error lines. */
static const char *
errname(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return ("ECONNREFUSED");
	case ECONNRESET:
		return ("ECONNRESET");
	case EPIPE:
		return ("EPIPE");
	case ETIMEDOUT:
		return ("ETIMEDOUT");
	case ENOENT:
		return ("ENOENT");
	case EADDRNOTAVAIL:
		return ("EADDRNOTAVAIL");
	case EMFILE:
		return ("EMFILE");
	case ENFILE:
		return ("ENFILE");
	case ENOBUFS:
		return ("ENOBUFS");
	case EAGAIN:
		return ("EAGAIN");
	case ECONNABORTED:
		return ("ECONNABORTED");
	case EMSGSIZE:
		return ("EMSGSIZE");
	default:
		return ("errno");
	}
}

/* A whole number from min to max for option opt, or a usage error. */
static unsigned long long
arg_num(const char *opt, const char *s, unsigned long long min,
    unsigned long long max)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		usage("%s: not a number: '%s'", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		usage("%s: '%s' is not from %llu to %llu", opt, s, min, max);
	return (v);
}

/* Seconds (decimals allowed) for option opt, as nanoseconds. */
static uint64_t
arg_secs(int opt, const char *s, int zero_ok)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		usage("-%c: not a number of seconds: '%s'", opt, s);
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v <= MAX_SECONDS) ||
	    (v <= 0 && !zero_ok))
		usage("-%c: '%s' is not a number of seconds up to %.0f%s", opt,
		    s, MAX_SECONDS, zero_ok ? "" : ", above 0");
	return ((uint64_t)(v * 1e9));
}

/* Fill in the address to connect to; loopback only, else a usage error. */
static void
addr_set(struct load *l, const char *path, const char *host, long port)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&l->ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;

	memset(&l->ss, 0, sizeof l->ss);
	if (path != NULL) {
		if (strlen(path) >= sizeof sun->sun_path)
			usage("-U: path too long: %s", path);
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		l->family = AF_UNIX;
		l->sslen = sizeof *sun;
		snprintf(l->where, sizeof l->where, "%s", path);
		return;
	}
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			goto refuse;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		l->family = AF_INET;
		l->sslen = sizeof *sin;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			goto refuse;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		l->family = AF_INET6;
		l->sslen = sizeof *sin6;
	} else
		goto refuse;
	snprintf(l->where, sizeof l->where, "%s%s%s:%ld",
	    l->family == AF_INET6 ? "[" : "", host,
	    l->family == AF_INET6 ? "]" : "", port);
	return;

refuse:
	usage("-H %s: loopback only (127.0.0.0/8, ::1 or localhost)", host);
}

/*
 * Raise the descriptor limit to the hard limit and cap the connections at
 * what it allows; the shortfall is reported and counted as errors.
 */
static void
limit_raise(struct load *l)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)l->nconns + 16;

	l->n = l->nconns;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= need)
		return;
	l->n = rl.rlim_cur > 16 ? (size_t)(rl.rlim_cur - 16) : 0;
	fprintf(stderr,
	    "nkload: RLIMIT_NOFILE hard limit is %llu: only %zu of"
	    " %zu connections possible\n",
	    (unsigned long long)rl.rlim_cur, l->n, l->nconns);
	l->errors += l->nconns - l->n;
}

/* Record one latency. */
static void
hist_add(struct hist *h, uint64_t v)
{
	unsigned s;

	h->count++;
	if (v > h->max)
		h->max = v;
	if (v < HIST_SUB) {
		h->bucket[v]++;
		return;
	}
	s = (unsigned)(64 - __builtin_clzll(v)) - HIST_BITS;
	h->bucket[s * HIST_HALF + (v >> s)]++;
}

/* The latency at quantile q (0..1): the middle of its bucket, <= max. */
static uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, lo, width, v;
	unsigned i, s;

	if (h->count == 0)
		return (0);
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < HIST_N; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	if (i < HIST_SUB)
		return (i);
	s = i / HIST_HALF - 1;
	lo = (uint64_t)(i - s * HIST_HALF) << s;
	width = 1ULL << s;
	v = lo + width / 2;
	return (v < h->max ? v : h->max);
}

/*
 * The pattern: size + PAT_SPAN pseudo-random bytes (xorshift, fixed seed).
 * Message seq of connection id is the size bytes at pat_off(id, seq).
 */
static void
pat_init(struct load *l)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i, len = l->size + PAT_SPAN;

	if ((l->pat = malloc(len)) == NULL)
		fatal("out of memory");
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		l->pat[i] = (unsigned char)(x >> 32);
	}
}

/* The offset of a message: consecutive messages never share one. */
static size_t
pat_off(uint32_t id, uint32_t seq)
{
	return ((size_t)(((uint64_t)id * 2654435761ULL + (uint64_t)seq * 131) %
	    PAT_SPAN));
}

/* Move c to state st, keeping the busy count. */
static void
conn_state(struct load *l, struct conn *c, enum state st)
{
	int was, is;

	was = c->state == C_CONNECTING || c->state == C_MSG;
	is = st == C_CONNECTING || st == C_MSG;
	if (c->state == C_CONNECTING)
		l->connecting--;
	if (st == C_CONNECTING)
		l->connecting++;
	l->active += is - was;
	c->state = st;
}

/* Close c's socket, if any; c is then in state st. */
static void
conn_close(struct load *l, struct conn *c, enum state st)
{
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->slot != NULL) {
		memset(c->slot, 0, l->window * sizeof *c->slot);
		l->inflight -= c->inflight;
		c->inflight = 0;
	}
	conn_state(l, c, st);
}

/* Count an error on c, say what (the first few), and close c. */
static void __attribute__((format(printf, 3, 4)))
conn_fail(struct load *l, struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (l->errors < ERRORS_SHOWN) {
		fprintf(stderr, "nkload: %s %s %s %u: ", l->name, l->where,
		    l->mode == M_UDP ? "socket" : "conn", c->id);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	l->errors++;
	conn_close(l, c, C_CLOSED);
}

/*
 * Open c's socket and start connecting: 0 connected, 1 in progress, 2 the
 * UNIX backlog is full (try again later), -1 failed (errno set, c closed).
 * Edge-triggered for everything, so the registration never changes; it is
 * made after connect(), as an unconnected socket polls as hung up.
 */
static int
conn_open(struct load *l, struct conn *c)
{
	struct epoll_event ev;
	int fd, one = 1, err, r;

	fd = socket(l->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	c->fd = fd;
	if (l->family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&l->ss, l->sslen) == 0)
		r = 0;
	else if (errno == EINPROGRESS)
		r = 1;
	else if (errno == EAGAIN && l->family == AF_UNIX) {
		conn_close(l, c, C_RETRY);
		return (2);
	} else
		goto fail;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = c->id;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	conn_state(l, c, r == 0 ? C_IDLE : C_CONNECTING);
	return (r);

fail:
	err = errno;
	conn_close(l, c, C_NEW);
	errno = err;
	return (-1);
}

/* A non-blocking connect finished: 0 connected, -1 failed (c closed). */
static int
conn_finish(struct load *l, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		conn_state(l, c, C_IDLE);
		return (0);
	}
	conn_fail(l, c, "connect: %s (%s)", strerror(err), errname(err));
	return (-1);
}

/* Send what is left of c's message; an error closes c. */
static void
msg_write(struct load *l, struct conn *c)
{
	ssize_t n;

	while (c->sent < l->size) {
		n = send(c->fd, l->pat + c->off + c->sent, l->size - c->sent,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_fail(l, c,
			    "write: %s (%s) with %zu of %zu bytes"
			    " of message %u sent",
			    strerror(errno), errname(errno), c->sent, l->size,
			    c->seq);
			return;
		}
		c->sent += (size_t)n;
	}
}

/* Start the next message on c, begun at t0. */
static void
msg_start(struct load *l, struct conn *c, uint64_t t0)
{
	c->seq++;
	c->off = pat_off(c->id, c->seq);
	c->sent = 0;
	c->got = 0;
	c->t0 = t0;
	conn_state(l, c, C_MSG);
	msg_write(l, c);
}

/*
 * Read c's echo and check every byte: 1 when the message is whole, 0 when
 * more is to come, -1 on an error (c closed). One read drains the socket:
 * the buffer is larger than any message, so a read that fills it is extra
 * bytes, and a shorter one took all there was (more data is a new edge).
 */
static int
msg_read(struct load *l, struct conn *c)
{
	const unsigned char *want;
	ssize_t n;
	size_t i, left = l->size - c->got;

	for (;;) {
		n = read(c->fd, l->rbuf, l->rbuflen);
		if (n > 0)
			break;
		if (n == 0) {
			conn_fail(l, c,
			    "closed by the server with %zu of %zu"
			    " bytes of message %u echoed",
			    c->got, l->size, c->seq);
			return (-1);
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		conn_fail(l, c,
		    "read: %s (%s) with %zu of %zu bytes of"
		    " message %u echoed",
		    strerror(errno), errname(errno), c->got, l->size, c->seq);
		return (-1);
	}
	if ((size_t)n > left) {
		conn_fail(l, c, "%zu bytes echoed for message %u of %zu bytes",
		    c->got + (size_t)n, c->seq, l->size);
		return (-1);
	}
	want = l->pat + c->off + c->got;
	if (memcmp(l->rbuf, want, (size_t)n) != 0) {
		for (i = 0; l->rbuf[i] == want[i]; i++)
			;
		conn_fail(l, c,
		    "wrong echo: message %u byte %zu is 0x%02x,"
		    " sent 0x%02x",
		    c->seq, c->got + i, l->rbuf[i], want[i]);
		return (-1);
	}
	c->got += (size_t)n;
	return (c->got == l->size);
}

/* Bytes (or the end of the stream) on a connection not expecting any. */
static void
conn_unexpected(struct load *l, struct conn *c)
{
	ssize_t n;

	for (;;) {
		n = read(c->fd, l->rbuf, l->rbuflen);
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	if (n > 0)
		conn_fail(l, c, "%zd bytes from the server unasked", n);
	else if (n == 0)
		conn_fail(l, c, "closed by the server while idle");
	else if (errno != EAGAIN && errno != EWOULDBLOCK)
		conn_fail(l, c, "read: %s (%s)", strerror(errno),
		    errname(errno));
}

/* Start a connrate cycle on worker c at t0; a failure ends the worker. */
static void
cycle_start(struct load *l, struct conn *c, uint64_t t0)
{
	int r;

	c->t0 = t0;
	r = conn_open(l, c);
	if (r == 0)
		msg_start(l, c, t0);
	else if (r == 2)
		conn_fail(l, c, "connect: UNIX backlog full (EAGAIN)");
	else if (r == -1)
		conn_fail(l, c, "connect: %s (%s)", strerror(errno),
		    errname(errno));
}

/* A whole echo came back on c: count it and go on, or stop after t_end. */
static void
msg_done(struct load *l, struct conn *c)
{
	uint64_t now;

	if (l->mode == M_IDLE) {
		l->verified++;
		conn_state(l, c, C_IDLE);
		return;
	}
	now = now_ns();
	if (now >= l->t_meas && now < l->t_end) {
		hist_add(&l->hist, now - c->t0);
		l->done++;
	}
	if (l->mode == M_CONNRATE) {
		conn_close(l, c, C_IDLE);
		if (now < l->t_end)
			cycle_start(l, c, now);
		return;
	}
	if (now < l->t_end)
		msg_start(l, c, now);
	else
		conn_state(l, c, C_IDLE);
}

/*
 * Open c's datagram socket and connect it to the server (UNIX: bound to an
 * autobind address first, so that replies have somewhere to go): 0, or -1
 * (counted, c closed). Edge-triggered for input; output only when wanted.
 */
static int
udp_open(struct load *l, struct conn *c)
{
	struct epoll_event ev;
	struct sockaddr_un sun;
	int fd;

	fd = socket(l->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		conn_fail(l, c, "socket: %s (%s)", strerror(errno),
		    errname(errno));
		return (-1);
	}
	c->fd = fd;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (l->family == AF_UNIX &&
	    bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) == -1) {
		conn_fail(l, c, "bind (autobind): %s (%s)", strerror(errno),
		    errname(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&l->ss, l->sslen) == -1) {
		conn_fail(l, c, "connect: %s (%s)", strerror(errno),
		    errname(errno));
		return (-1);
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = c->id;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		conn_fail(l, c, "epoll_ctl: %s (%s)", strerror(errno),
		    errname(errno));
		return (-1);
	}
	conn_state(l, c, C_IDLE);
	return (0);
}

/* Wait for c to become writable (on), or stop waiting; a failure closes c. */
static void
udp_wantout(struct load *l, struct conn *c, int on)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLET | (on ? EPOLLOUT : 0);
	ev.data.u64 = c->id;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
		conn_fail(l, c, "epoll_ctl: %s (%s)", strerror(errno),
		    errname(errno));
		return;
	}
	c->wantout = on;
}

/* Fill c's window with new datagrams until it is full or the run is over. */
static void
udp_fill(struct load *l, struct conn *c)
{
	uint32_t idx[UDP_MAX_WINDOW];
	struct slot *s;
	uint64_t now;
	size_t i, k, room;
	int r;

	while (c->state == C_IDLE && !c->wantout && c->inflight < l->window) {
		if ((now = now_ns()) >= l->t_end)
			return;
		room = l->window - c->inflight;
		for (i = 0, k = 0; i < l->window && k < room; i++) {
			if (c->slot[i].t0 != 0)
				continue;
			idx[k] = (uint32_t)i;
			l->iov[k].iov_base = l->pat +
			    pat_off(c->id, c->seq + 1 + (uint32_t)k);
			l->iov[k].iov_len = l->size;
			k++;
		}
		r = sendmmsg(c->fd, l->mm, (unsigned)k, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				udp_wantout(l, c, 1);
			else
				conn_fail(l, c,
				    "send: %s (%s) with %u datagrams in flight",
				    strerror(errno), errname(errno),
				    c->inflight);
			return;
		}
		for (i = 0; i < (size_t)r; i++) {
			s = &c->slot[idx[i]];
			s->seq = ++c->seq;
			s->off = (uint32_t)pat_off(c->id, c->seq);
			s->t0 = now;
			if (c->gone != NULL)
				c->gone[s->off / 8] &= ~(1U << (s->off % 8));
		}
		c->inflight += (uint32_t)r;
		l->inflight += (uint64_t)r;
		l->sent += (uint64_t)r;
	}
}

/*
 * A reply on c that is no datagram in flight: late when it is a copy of
 * one lost, else an error (a copy of another one sent, or other bytes).
 */
static void
udp_stray(struct load *l, struct conn *c, const unsigned char *buf)
{
	size_t o;

	for (o = 0; o < PAT_SPAN; o++)
		if (memcmp(buf, l->pat + o, l->size) == 0)
			break;
	if (o < PAT_SPAN && c->gone != NULL &&
	    (c->gone[o / 8] & (1U << (o % 8)))) {
		c->gone[o / 8] &= ~(1U << (o % 8));
		l->late++;
		return;
	}
	if (l->errors < ERRORS_SHOWN)
		fprintf(stderr, "nkload: %s %s socket %u: %s (%zu bytes)\n",
		    l->name, l->where, c->id,
		    o < PAT_SPAN ? "a reply to no datagram in flight: a"
				   " duplicate or a stale one"
				 : "a reply that is no datagram sent",
		    l->size);
	l->errors++;
}

/* One reply of len bytes on c (its first size + 1 in buf), come at now. */
static void
udp_reply(struct load *l, struct conn *c, const unsigned char *buf, size_t len,
    uint64_t now)
{
	struct slot *s, *best = NULL;
	size_t i;

	if (len != l->size) {
		if (l->errors < ERRORS_SHOWN)
			fprintf(stderr,
			    "nkload: %s %s socket %u: a reply of %zu bytes to"
			    " datagrams of %zu (merged or cut?)\n",
			    l->name, l->where, c->id, len, l->size);
		l->errors++;
		return;
	}
	for (i = 0; i < l->window; i++) {
		s = &c->slot[i];
		if (s->t0 != 0 && (best == NULL || s->seq < best->seq) &&
		    memcmp(buf, l->pat + s->off, l->size) == 0)
			best = s;
	}
	if (best == NULL) {
		udp_stray(l, c, buf);
		return;
	}
	if (now >= l->t_meas && now < l->t_end) {
		hist_add(&l->hist, now - best->t0);
		l->done++;
	}
	best->t0 = 0;
	c->inflight--;
	l->inflight--;
}

/*
 * Take every reply waiting on c; a socket error closes c. MSG_TRUNC: the
 * length of each is its whole length, however much of it was kept.
 */
static void
udp_read(struct load *l, struct conn *c)
{
	struct mmsghdr *mm = l->mm + UDP_MAX_WINDOW;
	uint64_t now;
	int i, n;

	for (;;) {
		n = recvmmsg(c->fd, mm, UDP_RECV_BATCH,
		    MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_fail(l, c,
				    "receive: %s (%s) with %u datagrams in"
				    " flight",
				    strerror(errno), errname(errno),
				    c->inflight);
			return;
		}
		now = now_ns();
		for (i = 0; i < n; i++)
			udp_reply(l, c, mm[i].msg_hdr.msg_iov->iov_base,
			    mm[i].msg_len, now);
		if (n < UDP_RECV_BATCH)
			return;
	}
}

/* One readiness event on udp socket c: take the replies, send more. */
static void
udp_event(struct load *l, struct conn *c, uint32_t ev)
{
	if (c->state != C_IDLE)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		udp_read(l, c);
	if (c->state == C_IDLE && c->wantout &&
	    (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		udp_wantout(l, c, 0);
	udp_fill(l, c);
}

/* Count the datagrams without a reply for UDP_LOSS_NS as lost; send more. */
static void
udp_expire(struct load *l, uint64_t now)
{
	struct conn *c;
	struct slot *s;
	size_t i, j;
	int lost;

	for (i = 0; i < l->n && l->inflight > 0; i++) {
		c = &l->conns[i];
		if (c->state != C_IDLE || c->inflight == 0)
			continue;
		lost = 0;
		for (j = 0; j < l->window; j++) {
			s = &c->slot[j];
			if (s->t0 == 0 || s->t0 + UDP_LOSS_NS > now)
				continue;
			if (c->gone == NULL &&
			    (c->gone = calloc(PAT_SPAN / 8 + 1, 1)) == NULL)
				fatal("out of memory");
			c->gone[s->off / 8] |= 1U << (s->off % 8);
			s->t0 = 0;
			c->inflight--;
			l->inflight--;
			l->lost++;
			lost = 1;
		}
		if (lost)
			udp_fill(l, c);
	}
}

/* One readiness event on c. */
static void
conn_event(struct load *l, struct conn *c, uint32_t ev)
{
	const uint32_t rd = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
	const uint32_t wr = EPOLLOUT | EPOLLHUP | EPOLLERR;

	if (l->mode == M_UDP) {
		udp_event(l, c, ev);
		return;
	}
	switch (c->state) {
	case C_CONNECTING:
		if ((ev & wr) == 0 || conn_finish(l, c) == -1)
			return;
		if (l->mode == M_CONNRATE)
			msg_start(l, c, c->t0);
		else if (ev & rd)
			conn_unexpected(l, c);
		return;
	case C_MSG:
		if ((ev & wr) && c->sent < l->size) {
			msg_write(l, c);
			if (c->state != C_MSG)
				return;
		}
		if ((ev & rd) && msg_read(l, c) == 1)
			msg_done(l, c);
		return;
	case C_IDLE:
		if (ev & rd)
			conn_unexpected(l, c);
		return;
	default:
		return;
	}
}

/* Wait for events until no later than until, and handle them. */
static void
load_poll(struct load *l, uint64_t until)
{
	uint64_t now = now_ns(), ms = 0;
	int i, n;

	if (until > now)
		ms = (until - now + NS_MS - 1) / NS_MS;
	if (ms > 100)
		ms = 100;
	n = epoll_wait(l->ep, l->evs, NEVENTS, (int)ms);
	if (n == -1) {
		if (errno == EINTR)
			return;
		fatal("epoll_wait: %s", strerror(errno));
	}
	for (i = 0; i < n; i++)
		conn_event(l, &l->conns[l->evs[i].data.u64], l->evs[i].events);
}

/* Run until until, or sooner once nothing is busy when idle_stop. */
static void
load_run(struct load *l, uint64_t until, int idle_stop)
{
	while (!(idle_stop && l->active == 0) && now_ns() < until)
		load_poll(l, until);
}

/* Count the connections still busy at a deadline as errors; close them. */
static void
load_expire(struct load *l, const char *deadline)
{
	struct conn *c;
	size_t i;

	for (i = 0; i < l->n && l->active > 0; i++) {
		c = &l->conns[i];
		if (c->state == C_CONNECTING)
			conn_fail(l, c, "connect: not done by the %s",
			    deadline);
		else if (c->state == C_MSG)
			conn_fail(l, c,
			    "%zu of %zu bytes of message %u echoed"
			    " by the %s",
			    c->got, l->size, c->seq, deadline);
	}
}

/*
 * Connect all l->n connections, CONNECT_BATCH in flight at a time, before
 * a deadline; the ones that fail or are late are errors.
 */
static void
connect_all(struct load *l)
{
	struct conn *c;
	size_t next = 0, nretry = 0, *retry, i, late = 0;
	uint64_t now, deadline, retry_at = 0, until;
	int r;

	if ((retry = calloc(l->n + 1, sizeof *retry)) == NULL)
		fatal("out of memory");
	deadline = now_ns() + CONNECT_BASE_NS + l->n * PER_CONN_NS;
	for (;;) {
		now = now_ns();
		while (l->connecting < CONNECT_BATCH &&
		    (next < l->n || (nretry > 0 && now >= retry_at))) {
			if (nretry > 0 && now >= retry_at)
				c = &l->conns[retry[--nretry]];
			else
				c = &l->conns[next++];
			r = conn_open(l, c);
			if (r == 2) {
				retry[nretry++] = c->id;
				retry_at = now + RETRY_NS;
				break;
			}
			if (r == -1)
				conn_fail(l, c, "connect: %s (%s)",
				    strerror(errno), errname(errno));
		}
		if ((next == l->n && nretry == 0 && l->connecting == 0) ||
		    now >= deadline)
			break;
		until = deadline;
		if (nretry > 0 && retry_at < until)
			until = retry_at;
		load_poll(l, until);
	}
	load_expire(l, "connect deadline");
	for (i = 0; i < nretry; i++) {
		conn_state(l, &l->conns[retry[i]], C_NEW);
		late++;
	}
	late += l->n - next;
	if (late > 0) {
		fprintf(stderr,
		    "nkload: %s %s: %zu connections not made by"
		    " the connect deadline\n",
		    l->name, l->where, late);
		l->errors += late;
	}
	for (i = 0; i < l->n; i++)
		if (l->conns[i].state == C_IDLE)
			l->connected++;
	free(retry);
}

/* pingpong: connect all, then every connection echoes messages in turn. */
static void
run_pingpong(struct load *l)
{
	uint64_t now;
	size_t i;

	connect_all(l);
	now = now_ns();
	l->t_meas = now + l->warm_ns;
	l->t_end = l->t_meas + l->dur_ns;
	for (i = 0; i < l->n; i++)
		if (l->conns[i].state == C_IDLE)
			msg_start(l, &l->conns[i], now);
	load_run(l, l->t_end, 1);
	load_run(l, l->t_end + DRAIN_NS, 1);
	load_expire(l, "end of the run");
}

/* connrate: each worker connects, echoes one message, closes, repeats. */
static void
run_connrate(struct load *l)
{
	uint64_t now;
	size_t i;

	now = now_ns();
	l->t_meas = now + l->warm_ns;
	l->t_end = l->t_meas + l->dur_ns;
	for (i = 0; i < l->n; i++)
		cycle_start(l, &l->conns[i], now_ns());
	load_run(l, l->t_end, 1);
	load_run(l, l->t_end + DRAIN_NS, 1);
	load_expire(l, "end of the run");
}

/* The VmRSS of process pid in kB, or -1. */
static long
rss_kb(long pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return (kb);
}

/* idle: hold N connections, measure the server, check each still echoes. */
static void
run_idle(struct load *l, long *before, long *after)
{
	uint64_t now;
	size_t i;

	if (l->pid > 0 && (*before = rss_kb(l->pid)) == -1)
		fatal("--pid %ld: no VmRSS in /proc/%ld/status", l->pid,
		    l->pid);
	connect_all(l);
	load_run(l, now_ns() + l->hold_ns, 0);
	if (l->pid > 0 && (*after = rss_kb(l->pid)) == -1) {
		fprintf(stderr, "nkload: idle: process %ld gone\n", l->pid);
		l->errors++;
	}
	now = now_ns();
	for (i = 0; i < l->n; i++)
		if (l->conns[i].state == C_IDLE)
			msg_start(l, &l->conns[i], now);
	load_run(l, now + CONNECT_BASE_NS + l->n * PER_CONN_NS, 1);
	load_expire(l, "echo deadline");
}

/*
 * udp: open every socket, fill every window, then send a datagram for each
 * reply or loss until the end; then wait for the last replies, each until
 * it is lost (the run ends at most UDP_LOSS_NS and a tick after the end).
 */
static void
run_udp(struct load *l)
{
	uint64_t now, tick;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (udp_open(l, &l->conns[i]) == 0)
			l->connected++;
	now = now_ns();
	l->t_meas = now + l->warm_ns;
	l->t_end = l->t_meas + l->dur_ns;
	for (i = 0; i < l->n; i++)
		udp_fill(l, &l->conns[i]);
	tick = now + UDP_TICK_NS;
	while ((now = now_ns()) < l->t_end || l->inflight > 0) {
		if (now >= tick) {
			udp_expire(l, now);
			tick = now + UDP_TICK_NS;
		}
		load_poll(l, tick);
	}
}

/* Nanoseconds as milliseconds. */
static double
ms(uint64_t ns)
{
	return ((double)ns / 1e6);
}

/* The summary: one line, or one JSON object. */
static void
report(struct load *l, long before, long after)
{
	const struct hist *h = &l->hist;
	double secs = (double)l->dur_ns / 1e9, rate;
	uint64_t p50, p99, p999;
	long per = -1;

	p50 = hist_quantile(h, 0.50);
	p99 = hist_quantile(h, 0.99);
	p999 = hist_quantile(h, 0.999);
	rate = (double)l->done / secs;
	if (l->mode == M_PINGPONG && l->json)
		printf("{\"mode\":\"pingpong\",\"conns\":%zu,\"connected\":%zu,"
		       "\"size\":%zu,\"seconds\":%.3f,\"msgs\":%llu,"
		       "\"msg_per_s\":%.0f,\"mb_per_s\":%.3f,\"p50_ms\":%.4f,"
		       "\"p99_ms\":%.4f,\"p999_ms\":%.4f,\"max_ms\":%.4f,"
		       "\"errors\":%llu}\n",
		    l->nconns, l->connected, l->size, secs,
		    (unsigned long long)l->done, rate,
		    rate * (double)l->size / 1e6, ms(p50), ms(p99), ms(p999),
		    ms(h->max), (unsigned long long)l->errors);
	else if (l->mode == M_PINGPONG) {
		printf("pingpong conns=%zu", l->nconns);
		if (l->connected < l->nconns)
			printf(" connected=%zu", l->connected);
		printf(" size=%zu msgs=%llu msg/s=%.0f MB/s=%.2f p50=%.3fms"
		       " p99=%.3fms p99.9=%.3fms max=%.3fms errors=%llu\n",
		    l->size, (unsigned long long)l->done, rate,
		    rate * (double)l->size / 1e6, ms(p50), ms(p99), ms(p999),
		    ms(h->max), (unsigned long long)l->errors);
	} else if (l->mode == M_CONNRATE && l->json)
		printf("{\"mode\":\"connrate\",\"concurrency\":%zu,"
		       "\"size\":%zu,"
		       "\"seconds\":%.3f,\"conns\":%llu,\"conn_per_s\":%.0f,"
		       "\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"p999_ms\":%.4f,"
		       "\"max_ms\":%.4f,\"errors\":%llu}\n",
		    l->nconns, l->size, secs, (unsigned long long)l->done, rate,
		    ms(p50), ms(p99), ms(p999), ms(h->max),
		    (unsigned long long)l->errors);
	else if (l->mode == M_CONNRATE)
		printf("connrate concurrency=%zu size=%zu conns=%llu"
		       " conn/s=%.0f p50=%.3fms p99=%.3fms p99.9=%.3fms"
		       " max=%.3fms errors=%llu\n",
		    l->nconns, l->size, (unsigned long long)l->done, rate,
		    ms(p50), ms(p99), ms(p999), ms(h->max),
		    (unsigned long long)l->errors);
	else if (l->mode == M_UDP && l->json)
		printf("{\"mode\":\"udp\",\"sockets\":%zu,\"opened\":%zu,"
		       "\"window\":%zu,\"size\":%zu,\"seconds\":%.3f,"
		       "\"sent\":%llu,\"msgs\":%llu,\"msg_per_s\":%.0f,"
		       "\"mb_per_s\":%.3f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
		       "\"p999_ms\":%.4f,\"max_ms\":%.4f,\"lost\":%llu,"
		       "\"late\":%llu,\"errors\":%llu}\n",
		    l->nconns, l->connected, l->window, l->size, secs,
		    (unsigned long long)l->sent, (unsigned long long)l->done,
		    rate, rate * (double)l->size / 1e6, ms(p50), ms(p99),
		    ms(p999), ms(h->max), (unsigned long long)l->lost,
		    (unsigned long long)l->late, (unsigned long long)l->errors);
	else if (l->mode == M_UDP) {
		printf("udp sockets=%zu", l->nconns);
		if (l->connected < l->nconns)
			printf(" opened=%zu", l->connected);
		printf(" window=%zu size=%zu sent=%llu msgs=%llu msg/s=%.0f"
		       " MB/s=%.2f p50=%.3fms p99=%.3fms p99.9=%.3fms"
		       " max=%.3fms lost=%llu late=%llu errors=%llu\n",
		    l->window, l->size, (unsigned long long)l->sent,
		    (unsigned long long)l->done, rate,
		    rate * (double)l->size / 1e6, ms(p50), ms(p99), ms(p999),
		    ms(h->max), (unsigned long long)l->lost,
		    (unsigned long long)l->late, (unsigned long long)l->errors);
	} else {
		if (before >= 0 && after >= 0 && l->connected > 0)
			per = (after - before) * 1024 / (long)l->connected;
		if (l->json) {
			printf("{\"mode\":\"idle\",\"conns\":%zu,"
			       "\"connected\":%zu,\"hold_s\":%.3f,",
			    l->nconns, l->connected, (double)l->hold_ns / 1e9);
			if (per != -1)
				printf("\"rss_before_kb\":%ld,"
				       "\"rss_after_kb\":%ld,"
				       "\"bytes_per_conn\":%ld,",
				    before, after, per);
			printf("\"verified\":%llu,\"errors\":%llu}\n",
			    (unsigned long long)l->verified,
			    (unsigned long long)l->errors);
		} else {
			printf("idle conns=%zu connected=%zu hold=%.3gs",
			    l->nconns, l->connected, (double)l->hold_ns / 1e9);
			if (per != -1)
				printf(" rss_before=%ldkB rss_after=%ldkB"
				       " bytes/conn=%ld",
				    before, after, per);
			printf(" verified=%llu errors=%llu\n",
			    (unsigned long long)l->verified,
			    (unsigned long long)l->errors);
		}
	}
	if (l->errors > ERRORS_SHOWN)
		fprintf(stderr,
		    "nkload: %s %s: %llu errors, the first %d"
		    " shown\n",
		    l->name, l->where, (unsigned long long)l->errors,
		    ERRORS_SHOWN);
}

/* The udp window of every socket, and the message headers; exit 1. */
static void
udp_init(struct load *l)
{
	struct mmsghdr *mm;
	size_t i, stride = l->size + 1;

	l->slots = calloc(l->n * l->window + 1, sizeof *l->slots);
	l->mm = calloc(UDP_MAX_WINDOW + UDP_RECV_BATCH, sizeof *l->mm);
	l->iov = calloc(UDP_MAX_WINDOW + UDP_RECV_BATCH, sizeof *l->iov);
	if (l->slots == NULL || l->mm == NULL || l->iov == NULL)
		fatal("out of memory");
	for (i = 0; i < l->n; i++)
		l->conns[i].slot = l->slots + i * l->window;
	for (i = 0; i < UDP_MAX_WINDOW + UDP_RECV_BATCH; i++) {
		l->mm[i].msg_hdr.msg_iov = &l->iov[i];
		l->mm[i].msg_hdr.msg_iovlen = 1;
	}
	/* Receiving: one more byte than a datagram, so a longer one shows. */
	mm = l->mm + UDP_MAX_WINDOW;
	for (i = 0; i < UDP_RECV_BATCH; i++) {
		mm[i].msg_hdr.msg_iov->iov_base = l->rbuf + i * stride;
		mm[i].msg_hdr.msg_iov->iov_len = stride;
	}
}

/* Parse the command line into l, or exit 2. */
static void
parse(struct load *l, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "pid", required_argument, NULL, 'P' },
		{ "window", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *host = NULL, *allowed;
	long port = -1;
	int ch;

	if (argc < 2)
		usage("no mode: pingpong, connrate, idle or udp");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage_print(stdout);
		exit(0);
	}
	l->name = argv[1];
	if (strcmp(argv[1], "pingpong") == 0) {
		l->mode = M_PINGPONG;
		allowed = "UHpcsdwJ";
	} else if (strcmp(argv[1], "connrate") == 0) {
		l->mode = M_CONNRATE;
		allowed = "UHpcsdwJ";
	} else if (strcmp(argv[1], "idle") == 0) {
		l->mode = M_IDLE;
		allowed = "UHpntPJ";
	} else if (strcmp(argv[1], "udp") == 0) {
		l->mode = M_UDP;
		allowed = "UHpcsdwJW";
	} else
		usage("unknown mode '%s'", argv[1]);
	l->nconns = l->mode == M_IDLE ? 100 : 1;
	l->size = l->mode == M_IDLE ? IDLE_SIZE : 64;
	l->dur_ns = 2 * NS_S;
	l->hold_ns = 2 * NS_S;
	l->window = 1;

	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "U:H:p:c:s:d:w:n:t:h", longopts,
		    NULL)) != -1) {
		if (ch == '?')
			usage("bad option");
		if (ch == 'h') {
			usage_print(stdout);
			exit(0);
		}
		if (strchr(allowed, ch) == NULL) {
			if (ch == 'J')
				usage("%s: --json does not apply", l->name);
			if (ch == 'P')
				usage("%s: --pid does not apply", l->name);
			if (ch == 'W')
				usage("%s: --window does not apply", l->name);
			usage("%s: -%c does not apply", l->name, ch);
		}
		switch (ch) {
		case 'U':
			path = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = (long)arg_num("-p", optarg, 1, 65535);
			break;
		case 'c':
		case 'n':
			l->nconns = arg_num(ch == 'c' ? "-c" : "-n", optarg, 1,
			    MAX_CONNS);
			break;
		case 's':
			l->size = arg_num("-s", optarg, 1, MAX_SIZE);
			break;
		case 'd':
			l->dur_ns = arg_secs('d', optarg, 0);
			break;
		case 'w':
			l->warm_ns = arg_secs('w', optarg, 1);
			break;
		case 't':
			l->hold_ns = arg_secs('t', optarg, 1);
			break;
		case 'P':
			l->pid = (long)arg_num("--pid", optarg, 1, 1 << 30);
			break;
		case 'J':
			l->json = 1;
			break;
		case 'W':
			l->window = arg_num("--window", optarg, 1,
			    UDP_MAX_WINDOW);
			break;
		}
	}
	if (optind != argc)
		usage("unexpected argument '%s'", argv[optind]);
	if (path != NULL && (host != NULL || port != -1))
		usage("-U and -H/-p: one address only");
	if (path == NULL && port == -1)
		usage("%s: no address: -U PATH or -p PORT", l->name);
	if (l->mode == M_UDP && l->size > UDP_MAX_SIZE)
		usage("udp: -s %zu: datagrams of %d bytes at most", l->size,
		    UDP_MAX_SIZE);
	addr_set(l, path, host != NULL ? host : "127.0.0.1", port);
}

int
main(int argc, char **argv)
{
	struct load *l;
	long before = -1, after = -1;
	size_t i;
	int status;

	if ((l = calloc(1, sizeof *l)) == NULL)
		fatal("out of memory");
	parse(l, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	limit_raise(l);

	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1: %s", strerror(errno));
	if ((l->conns = calloc(l->n + 1, sizeof *l->conns)) == NULL)
		fatal("out of memory");
	for (i = 0; i < l->n; i++) {
		l->conns[i].fd = -1;
		l->conns[i].id = (uint32_t)i;
	}
	pat_init(l);
	l->rbuflen = l->size + 1 > RBUF_MIN ? l->size + 1 : RBUF_MIN;
	if (l->mode == M_UDP && UDP_RECV_BATCH * (l->size + 1) > l->rbuflen)
		l->rbuflen = UDP_RECV_BATCH * (l->size + 1);
	if ((l->rbuf = malloc(l->rbuflen)) == NULL)
		fatal("out of memory");
	if (l->mode == M_UDP)
		udp_init(l);

	switch (l->mode) {
	case M_PINGPONG:
		run_pingpong(l);
		break;
	case M_CONNRATE:
		run_connrate(l);
		break;
	case M_IDLE:
		run_idle(l, &before, &after);
		break;
	case M_UDP:
		run_udp(l);
		break;
	}
	report(l, before, after);
	fflush(stdout);

	status = l->errors > 0 ||
		(l->mode != M_CONNRATE && l->connected < l->nconns)
	    ? EXIT_FAIL
	    : 0;
	for (i = 0; i < l->n; i++) {
		if (l->conns[i].fd != -1)
			close(l->conns[i].fd);
		free(l->conns[i].gone);
	}
	close(l->ep);
	free(l->slots);
	free(l->mm);
	free(l->iov);
	free(l->rbuf);
	free(l->pat);
	free(l->conns);
	free(l);
	return (status);
}
