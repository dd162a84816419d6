/*
 * netkit scan: connect-scan the ports of a host, many attempts in flight at
 * once, and print the open ones in ascending order.
 *
 *  an attempt (TCP)               its port is
 *  -----------------------------  ---------------------------------------
 *  connects                       open: closed at once with a reset (no
 *                                 TIME_WAIT here, no CLOSE_WAIT there)
 *  is refused                     closed
 *  has no answer within -w ms,    filtered
 *  or an unreachable error
 *
 *  an attempt (-u: an empty       its port is
 *  datagram on a connected
 *  socket)
 *  -----------------------------  ---------------------------------------
 *  gets a datagram back           open
 *  gets ICMP port unreachable     closed (ECONNREFUSED)
 *  gets nothing within -w ms      open|filtered
 *
 * A socket that connects to itself (the kernel chose the scanned port as
 * its own, a TCP simultaneous open) is not an open port: it is closed.
 *
 * Attempts are started in bursts of SCAN_BURST; one poll(2) of the burst
 * then takes the answers that are there at once (on loopback, most), and
 * only the rest wait in the event loop, which gets its turn between
 * bursts, so no answer waits behind thousands of starts. A timer that
 * fires looks at the socket once more before calling the port filtered.
 *
 * Attempts are made by the connect phase's dial_socket (-s applies). The
 * number in flight is --concurrency, at most what the descriptor limit
 * leaves after a reserve, so a scan never meets EMFILE. stdout gets each
 * open port as soon as every lower port is decided, so the order is
 * ascending whatever order the answers come in.
 */

#include <sys/resource.h>
#include <sys/socket.h>

#include <poll.h>
#include <time.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

static int cmd_scan_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_scan_entry = {
	.name = "scan",
	.summary = "connect-scan the ports of a host",
	.synopsis = "scan [OPTIONS] HOST PORTS...",
	.exec = cmd_scan_exec,
	.mask = CMD_SCAN,
	.args = CMD_ARGS_MIXED,
	.address = CMD_ADDRESS_NONE,
	.buffer_size = 0,
};

/* Descriptors kept free of attempts: stdio, the loop, the resolver. */
#define SCAN_RESERVE 32

/* -w when not given (or 0). */
#define SCAN_TIMEOUT_MS 1000

/* Attempts started before the loop gets a turn. */
#define SCAN_BURST 256

enum scan_state {
	SCAN_PENDING,
	SCAN_OPEN,
	SCAN_CLOSED,
	SCAN_FILTERED, /* -u: open|filtered */
	SCAN_SELF, /* connected to itself: closed, after a reset */
};

struct scan;

struct scan_probe {
	struct scan *s;
	int fd; /* -1: the slot is free */
	size_t idx; /* the port's index */
	struct timespec start;
	struct event *ev;
};

struct scan {
	struct event_base *base;
	struct options o;
	const char *host;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char remote[ENDPOINT_ADDRSTRLEN]; /* the host's address, no port */
	uint16_t *ports; /* ascending, each once */
	unsigned char *state; /* enum scan_state per port */
	size_t nports;
	size_t next; /* the next port to start */
	size_t printed; /* ports up to here are decided and printed */
	size_t done;
	struct scan_probe *probes;
	size_t nprobes;
	size_t *free; /* a stack of free probe slots */
	size_t nfree;
	size_t count[5]; /* per enum scan_state */
	struct timespec t0;
	struct event *more; /* the next burst, after the loop's turn */
	char out[8192]; /* open ports not yet written */
	size_t outlen;
	int failed; /* stdout failed, or an attempt could not be made */
};

/* Milliseconds from a to now (CLOCK_MONOTONIC). */
static long
scan_ms_since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long)(now.tv_sec - a->tv_sec) * 1000 +
	    (now.tv_nsec - a->tv_nsec) / 1000000);
}

/*
 * Parse the port operands: numbers 1-65535, ranges A-B, comma lists, in
 * any mix. Fills a bitmap; -1 on a bad one (the message printed).
 */
static int
scan_parse_ports(const struct cmd_entry *cmd, int argc, char **argv,
    unsigned char *map)
{
	char *item, *dash, *copy, *save = NULL;
	long a, b, p;
	int i;

	for (i = 0; i < argc; i++) {
		if (argv[i][0] == '\0' || (copy = strdup(argv[i])) == NULL)
			return (cmd_usage_error(cmd, "bad port list '%s'",
			    argv[i]));
		if (copy[strlen(copy) - 1] == ',' || copy[0] == ',' ||
		    strstr(copy, ",,") != NULL)
			goto bad;
		for (item = strtok_r(copy, ",", &save); item != NULL;
		     item = strtok_r(NULL, ",", &save)) {
			dash = strchr(item, '-');
			if (dash != NULL)
				*dash = '\0';
			if (opts_number(item, 1, 65535, &a) != 0 ||
			    strlen(item) > 5)
				goto bad;
			b = a;
			if (dash != NULL &&
			    (opts_number(dash + 1, 1, 65535, &b) != 0 ||
				strlen(dash + 1) > 5 || b < a))
				goto bad;
			for (p = a; p <= b; p++)
				map[p] = 1;
		}
		free(copy);
	}
	return (0);
bad:
	free(copy);
	return (cmd_usage_error(cmd,
	    "bad port list '%s' (ports 1-65535: N, "
	    "A-B with A <= B, comma lists)",
	    argv[i]));
}

/* Write the open ports held; a failure is one line and ends the scan. */
static void
scan_flush(struct scan *s)
{
	size_t off = 0;
	ssize_t n;

	while (off < s->outlen && !s->failed) {
		n = write(1, s->out + off, s->outlen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_error(s->o.name, "stdout", errno);
			s->failed = 1;
			event_base_loopbreak(s->base);
			break;
		}
		off += (size_t)n;
	}
	s->outlen = 0;
}

/* Print the open ports whose lower ports are all decided. */
static void
scan_advance(struct scan *s)
{
	while (s->printed < s->nports && s->state[s->printed] != SCAN_PENDING) {
		if (s->state[s->printed] == SCAN_OPEN) {
			if (s->outlen + 8 > sizeof s->out)
				scan_flush(s);
			s->outlen += (size_t)snprintf(s->out + s->outlen,
			    sizeof s->out - s->outlen, "%u\n",
			    s->ports[s->printed]);
		}
		s->printed++;
	}
	if (s->outlen > 0)
		scan_flush(s);
}

/* The name of a state, in events and the -v lines. */
static const char *
scan_state_name(const struct scan *s, int state)
{
	switch (state) {
	case SCAN_OPEN:
		return ("open");
	case SCAN_CLOSED:
		return ("closed");
	default:
		return (s->o.udp ? "open|filtered" : "filtered");
	}
}

/* A port is decided. */
static void
scan_result(struct scan *s, size_t idx, int state, const struct timespec *start)
{
	char remote[ENDPOINT_ADDRSTRLEN + 8];

	s->state[idx] = (unsigned char)state;
	s->count[state]++;
	s->done++;
	if (events_enabled()) {
		snprintf(remote, sizeof remote, "%s%s%s:%u",
		    s->addr.ss_family == AF_INET6 ? "[" : "", s->remote,
		    s->addr.ss_family == AF_INET6 ? "]" : "", s->ports[idx]);
		EVENT("scan.result", EVS("remote", remote),
		    EVI("port", s->ports[idx]),
		    EVS("state", scan_state_name(s, state)),
		    EVI("ms", scan_ms_since(start)));
	}
	if (s->o.udp && state == SCAN_FILTERED)
		events_verbose("%u open|filtered", s->ports[idx]);
	scan_advance(s);
	if (s->done == s->nports)
		event_base_loopbreak(s->base);
}

/*
 * The state of a TCP attempt whose socket is done (writable): open, or
 * closed when refused or connected to itself, else filtered.
 */
static int
scan_tcp_state(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof a, blen = sizeof b, len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == ECONNREFUSED)
		return (SCAN_CLOSED);
	if (err != 0)
		return (SCAN_FILTERED);
	if (getsockname(fd, (struct sockaddr *)&a, &alen) == 0 &&
	    getpeername(fd, (struct sockaddr *)&b, &blen) == 0 &&
	    alen == blen && memcmp(&a, &b, alen) == 0)
		return (SCAN_SELF);
	return (SCAN_OPEN);
}

/* The state of a UDP attempt that is readable; -1: not yet. */
static int
scan_udp_state(int fd)
{
	char b;

	if (recv(fd, &b, 1, MSG_DONTWAIT) >= 0)
		return (SCAN_OPEN);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return (-1);
	return (errno == ECONNREFUSED ? SCAN_CLOSED : SCAN_FILTERED);
}

/*
 * Whether the socket of an attempt is done now (without waiting): its
 * state, or -1.
 */
static int
scan_now(const struct scan *s, int fd)
{
	struct pollfd pfd = { fd, s->o.udp ? POLLIN : POLLOUT, 0 };

	if (poll(&pfd, 1, 0) != 1)
		return (-1);
	return (s->o.udp ? scan_udp_state(fd) : scan_tcp_state(fd));
}

/* Close a probe's socket (a reset when it connected) and free its slot. */
static void
scan_probe_end(struct scan_probe *p, int reset)
{
	event_del(p->ev);
	if (reset)
		endpoint_reset(p->fd);
	close(p->fd);
	p->fd = -1;
	p->s->free[p->s->nfree++] = (size_t)(p - p->s->probes);
}

static void scan_fill(struct scan *);

/*
 * An attempt is decided: end it (a TCP connection with a reset, so that
 * no TIME_WAIT is left) and record its port.
 */
static void
scan_decide(struct scan *s, struct scan_probe *p, int state)
{
	scan_probe_end(p,
	    !s->o.udp && (state == SCAN_OPEN || state == SCAN_SELF));
	scan_result(s, p->idx, state == SCAN_SELF ? SCAN_CLOSED : state,
	    &p->start);
}

/* A probe's socket is ready, or its time is up. */
static void
scan_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct scan_probe *p = arg;
	struct scan *s = p->s;
	int state;

	if (what & EV_TIMEOUT) {
		/* The loop may have been late: look once more. */
		if ((state = scan_now(s, fd)) == -1)
			state = SCAN_FILTERED;
	} else if (s->o.udp) {
		if ((state = scan_udp_state(fd)) == -1)
			return; /* not yet: the event stays */
	} else
		state = scan_tcp_state(fd);
	scan_decide(s, p, state);
	scan_fill(s);
}

/*
 * Start an attempt for the next port in a free slot. Returns 0 when one is
 * in flight or decided at once, -1 when no descriptor is to be had now.
 */
static int
scan_start(struct scan *s)
{
	struct scan_probe *p = &s->probes[s->free[s->nfree - 1]];
	struct sockaddr_in *sin = (struct sockaddr_in *)&s->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s->addr;
	size_t idx = s->next;
	int fd, err;

	if (s->addr.ss_family == AF_INET)
		sin->sin_port = htons(s->ports[idx]);
	else
		sin6->sin6_port = htons(s->ports[idx]);
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	if ((fd = dial_socket(&s->o, (struct sockaddr *)&s->addr,
		 s->addrlen)) == -1) {
		err = errno;
		if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
		    err == ENOMEM || err == EADDRNOTAVAIL || err == EAGAIN)
			return (-1); /* wait for an attempt to end */
		s->next++;
		scan_result(s, idx,
		    err == ECONNREFUSED ? SCAN_CLOSED : SCAN_FILTERED,
		    &p->start);
		return (0);
	}
	s->next++;
	s->nfree--;
	p->fd = fd;
	p->idx = idx;
	if (s->o.udp && send(fd, "", 0, 0) == -1 && errno != EAGAIN) {
		err = errno;
		scan_probe_end(p, 0);
		scan_result(s, idx,
		    err == ECONNREFUSED ? SCAN_CLOSED : SCAN_FILTERED,
		    &p->start);
		return (0);
	}
	return (0);
}

/* Wait in the loop for an attempt's answer, for -w at most. */
static void
scan_wait(struct scan *s, struct scan_probe *p)
{
	struct timeval tv;
	long left = s->o.connect_timeout_ms - scan_ms_since(&p->start);

	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	event_assign(p->ev, s->base, p->fd,
	    s->o.udp ? EV_READ | EV_PERSIST : EV_WRITE, scan_probe_cb, p);
	event_add(p->ev, &tv);
}

/*
 * Start a burst of attempts while ports are left and slots are free, take
 * the answers already there with one poll(2), and leave the rest to the
 * loop; the next burst comes after the loop's turn.
 */
static void
scan_fill(struct scan *s)
{
	static const struct timeval zero = { 0, 0 };
	struct pollfd pfd[SCAN_BURST];
	struct scan_probe *started[SCAN_BURST];
	struct scan_probe *p;
	int n = 0, i, state;

	while (!s->failed && s->next < s->nports && s->nfree > 0 &&
	    n < SCAN_BURST) {
		p = &s->probes[s->free[s->nfree - 1]];
		if (scan_start(s) == -1) {
			if (s->nfree == s->nprobes && n == 0) {
				/* Nothing in flight to wait for. */
				log_error(s->o.name, s->host, errno);
				s->failed = 1;
				event_base_loopbreak(s->base);
				return;
			}
			break;
		}
		if (p->fd != -1 && (n == 0 || started[n - 1] != p)) {
			pfd[n].fd = p->fd;
			pfd[n].events = s->o.udp ? POLLIN : POLLOUT;
			pfd[n].revents = 0;
			started[n++] = p;
		}
	}
	if (n > 0 && poll(pfd, (nfds_t)n, 0) == -1) {
		for (i = 0; i < n; i++)
			pfd[i].revents = 0;
	}
	for (i = 0; i < n; i++) {
		p = started[i];
		state = -1;
		if (pfd[i].revents != 0)
			state = s->o.udp ? scan_udp_state(p->fd)
					 : scan_tcp_state(p->fd);
		if (state == -1) {
			scan_wait(s, p);
			continue;
		}
		scan_decide(s, p, state);
	}
	if (!s->failed && s->next < s->nports && s->nfree > 0)
		evtimer_add(s->more, &zero);
}

/* The loop has had its turn: the next burst. */
static void
scan_more_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	scan_fill(arg);
}

/* How many attempts may be in flight: --concurrency within the limit. */
static size_t
scan_concurrency(const struct scan *s)
{
	struct rlimit rl;
	size_t max = 1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur == RLIM_INFINITY)
			max = 65536;
		else if (rl.rlim_cur > SCAN_RESERVE + 1)
			max = (size_t)rl.rlim_cur - SCAN_RESERVE;
	}
	if (s->o.concurrency > 0 && (size_t)s->o.concurrency < max)
		max = (size_t)s->o.concurrency;
	if (max > s->nports)
		max = s->nports;
	return (max);
}

/* Resolve HOST: its first address of the family asked for. */
static int
scan_resolve(struct scan *s)
{
	struct endpoint_error err;
	struct addrinfo *res;
	struct options ro = s->o;

	ro.host = s->host;
	ro.port = 1;
	if ((res = endpoint_resolve(&ro, &err)) == NULL) {
		log_error_code(s->o.name, s->host, endpoint_error_message(&err),
		    endpoint_error_code(&err));
		return (-1);
	}
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	endpoint_format((struct sockaddr *)&s->addr, s->addrlen, s->remote,
	    sizeof s->remote);
	/* "ADDR:1" or "[ADDR]:1": keep ADDR. */
	*strrchr(s->remote, ':') = '\0';
	if (s->addr.ss_family == AF_INET6) {
		memmove(s->remote, s->remote + 1, strlen(s->remote));
		s->remote[strlen(s->remote) - 1] = '\0';
	}
	return (0);
}

/* netkit scan. */
static int
cmd_scan_exec(const struct cmd_entry *cmd, int argc, char **argv)
{
	struct scan s;
	unsigned char *map = NULL;
	size_t i;
	long p;
	int r, status = EXIT_RUNTIME;

	memset(&s, 0, sizeof s);
	if ((r = opts_parse(cmd, argc, argv, &s.o)) != 0)
		return (r == -1 ? EXIT_OK : r);
	if (s.o.argc < 2)
		return (cmd_usage_error(cmd, "a host and ports are needed"));
	s.host = s.o.argv[0];
	if (*s.host == '\0')
		return (cmd_usage_error(cmd, "empty host"));
	if (opts_check_source_host(cmd, &s.o, s.host) != 0)
		return (EXIT_USAGE);
	if ((map = calloc(65536, 1)) == NULL) {
		log_errorx("scan: out of memory");
		return (EXIT_RUNTIME);
	}
	if (scan_parse_ports(cmd, s.o.argc - 1, s.o.argv + 1, map) != 0) {
		free(map);
		return (EXIT_USAGE);
	}
	if (s.o.connect_timeout_ms == 0)
		s.o.connect_timeout_ms = SCAN_TIMEOUT_MS;
	for (p = 1; p <= 65535; p++)
		s.nports += map[p];
	s.ports = calloc(s.nports, sizeof *s.ports);
	s.state = calloc(s.nports, 1);
	if (s.ports == NULL || s.state == NULL) {
		log_errorx("scan: out of memory");
		goto out;
	}
	for (i = 0, p = 1; p <= 65535; p++) {
		if (map[p])
			s.ports[i++] = (uint16_t)p;
	}
	if (scan_resolve(&s) == -1)
		goto out;

	if ((s.base = event_base_new()) == NULL) {
		log_errorx("scan: cannot make an event loop");
		goto out;
	}
	s.nprobes = scan_concurrency(&s);
	s.probes = calloc(s.nprobes, sizeof *s.probes);
	s.free = calloc(s.nprobes, sizeof *s.free);
	if (s.probes == NULL || s.free == NULL) {
		log_errorx("scan: out of memory");
		goto out;
	}
	for (i = 0; i < s.nprobes; i++) {
		s.probes[i].s = &s;
		s.probes[i].fd = -1;
		s.probes[i].ev = event_new(s.base, -1, 0, scan_probe_cb,
		    &s.probes[i]);
		if (s.probes[i].ev == NULL) {
			log_errorx("scan: out of memory");
			goto out;
		}
		s.free[s.nfree++] = s.nprobes - 1 - i;
	}
	clock_gettime(CLOCK_MONOTONIC, &s.t0);
	if ((s.more = evtimer_new(s.base, scan_more_cb, &s)) == NULL) {
		log_errorx("scan: out of memory");
		goto out;
	}
	scan_fill(&s);
	if (!s.failed && s.done < s.nports)
		event_base_dispatch(s.base);
	if (s.failed)
		goto out;
	events_verbose("scanned %zu ports in %ld ms: %zu open, %zu closed, "
		       "%zu %s",
	    s.nports, scan_ms_since(&s.t0), s.count[SCAN_OPEN],
	    s.count[SCAN_CLOSED], s.count[SCAN_FILTERED],
	    s.o.udp ? "open|filtered" : "filtered");
	status = s.count[SCAN_OPEN] > 0 ? EXIT_OK : EXIT_RUNTIME;

out:
	for (i = 0; s.probes != NULL && i < s.nprobes; i++) {
		if (s.probes[i].fd != -1)
			close(s.probes[i].fd);
		if (s.probes[i].ev != NULL)
			event_free(s.probes[i].ev);
	}
	if (s.more != NULL)
		event_free(s.more);
	free(s.probes);
	free(s.free);
	free(s.ports);
	free(s.state);
	free(map);
	if (s.base != NULL)
		event_base_free(s.base);
	return (status);
}
