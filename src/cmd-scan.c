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
 * Attempts are made by the connect phase's dial_socket (-s applies). The
 * number in flight is --concurrency, at most what the descriptor limit
 * leaves after a reserve, so a scan never meets EMFILE. stdout gets each
 * open port as soon as every lower port is decided, so the order is
 * ascending whatever order the answers come in.
 */

#include <sys/resource.h>
#include <sys/socket.h>

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

enum scan_state {
	SCAN_PENDING,
	SCAN_OPEN,
	SCAN_CLOSED,
	SCAN_FILTERED, /* -u: open|filtered */
};

struct scan;

struct scan_probe {
	struct scan *s;
	int fd; /* -1: the slot is free */
	size_t idx; /* the port's index */
	struct timeval start;
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
	size_t count[4]; /* per enum scan_state */
	struct timeval t0;
	int failed; /* stdout failed, or an attempt could not be made */
};

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
	return (cmd_usage_error(cmd, "bad port list '%s' (ports 1-65535: N, "
				     "A-B with A <= B, comma lists)",
	    argv[i]));
}

/* Whether stdout took the line; a failure ends the scan. */
static void
scan_print(struct scan *s, unsigned int port)
{
	if (s->failed)
		return;
	if (printf("%u\n", port) < 0) {
		log_error(s->o.name, "stdout", errno);
		s->failed = 1;
		event_base_loopbreak(s->base);
	}
}

/* Print the open ports whose lower ports are all decided. */
static void
scan_advance(struct scan *s)
{
	int any = 0;

	while (s->printed < s->nports &&
	    s->state[s->printed] != SCAN_PENDING) {
		if (s->state[s->printed] == SCAN_OPEN) {
			scan_print(s, s->ports[s->printed]);
			any = 1;
		}
		s->printed++;
	}
	if (any && fflush(stdout) == EOF && !s->failed) {
		log_error(s->o.name, "stdout", errno);
		s->failed = 1;
		event_base_loopbreak(s->base);
	}
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
scan_result(struct scan *s, size_t idx, int state, const struct timeval *start)
{
	struct timeval now, d;
	char remote[ENDPOINT_ADDRSTRLEN + 8];

	s->state[idx] = (unsigned char)state;
	s->count[state]++;
	s->done++;
	if (events_enabled()) {
		event_base_gettimeofday_cached(s->base, &now);
		timersub(&now, start, &d);
		snprintf(remote, sizeof remote, "%s%s%s:%u",
		    s->addr.ss_family == AF_INET6 ? "[" : "", s->remote,
		    s->addr.ss_family == AF_INET6 ? "]" : "", s->ports[idx]);
		EVENT("scan.result", EVS("remote", remote),
		    EVI("port", s->ports[idx]),
		    EVS("state", scan_state_name(s, state)),
		    EVI("ms", d.tv_sec * 1000 + d.tv_usec / 1000));
	}
	if (s->o.udp && state == SCAN_FILTERED)
		events_verbose("%u open|filtered", s->ports[idx]);
	scan_advance(s);
	if (s->done == s->nports)
		event_base_loopbreak(s->base);
}

/* Close a probe's socket (a reset when it connected) and free its slot. */
static void
scan_probe_end(struct scan_probe *p, int reset)
{
	struct linger lg = { 1, 0 };

	event_del(p->ev);
	if (reset)
		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(p->fd);
	p->fd = -1;
	p->s->free[p->s->nfree++] = (size_t)(p - p->s->probes);
}

static void scan_fill(struct scan *);

/* A probe's socket is ready, or its time is up. */
static void
scan_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct scan_probe *p = arg;
	struct scan *s = p->s;
	socklen_t len = sizeof(int);
	char b;
	int err = 0, state;
	ssize_t n;

	if (what & EV_TIMEOUT)
		state = SCAN_FILTERED;
	else if (s->o.udp) {
		n = recv(fd, &b, 1, MSG_DONTWAIT);
		if (n >= 0)
			state = SCAN_OPEN;
		else if (errno == EAGAIN || errno == EINTR)
			return; /* not yet: the event stays */
		else
			state = errno == ECONNREFUSED ? SCAN_CLOSED
						      : SCAN_FILTERED;
	} else {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		state = err == 0	   ? SCAN_OPEN
		    : err == ECONNREFUSED ? SCAN_CLOSED
					  : SCAN_FILTERED;
	}
	scan_probe_end(p, state == SCAN_OPEN && !s->o.udp);
	scan_result(s, p->idx, state, &p->start);
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
	struct timeval tv;
	size_t idx = s->next;
	int fd, err;

	if (s->addr.ss_family == AF_INET)
		sin->sin_port = htons(s->ports[idx]);
	else
		sin6->sin6_port = htons(s->ports[idx]);
	event_base_gettimeofday_cached(s->base, &p->start);
	if ((fd = dial_socket(&s->o, (struct sockaddr *)&s->addr, s->addrlen)) ==
	    -1) {
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
	tv.tv_sec = s->o.connect_timeout_ms / 1000;
	tv.tv_usec = (s->o.connect_timeout_ms % 1000) * 1000;
	event_assign(p->ev, s->base, fd, s->o.udp ? EV_READ | EV_PERSIST : EV_WRITE,
	    scan_probe_cb, p);
	event_add(p->ev, &tv);
	return (0);
}

/* Start attempts while ports are left and slots are free. */
static void
scan_fill(struct scan *s)
{
	while (!s->failed && s->next < s->nports && s->nfree > 0) {
		if (scan_start(s) == -1) {
			if (s->nfree == s->nprobes) {
				/* Nothing in flight to wait for. */
				log_error(s->o.name, s->host, errno);
				s->failed = 1;
				event_base_loopbreak(s->base);
			}
			return;
		}
	}
}

/* How many attempts may be in flight: --concurrency within the limit. */
static size_t
scan_concurrency(const struct scan *s)
{
	struct rlimit rl;
	size_t max = 1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > SCAN_RESERVE + 1)
		max = (size_t)rl.rlim_cur - SCAN_RESERVE;
	else if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur == RLIM_INFINITY)
		max = 65536;
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
	struct timeval end, d;
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
	gettimeofday(&s.t0, NULL);
	scan_fill(&s);
	if (!s.failed && s.done < s.nports)
		event_base_dispatch(s.base);
	if (s.failed)
		goto out;
	gettimeofday(&end, NULL);
	timersub(&end, &s.t0, &d);
	events_verbose("scanned %zu ports in %ld ms: %zu open, %zu closed, "
			 "%zu %s",
		    s.nports, (long)(d.tv_sec * 1000 + d.tv_usec / 1000),
		    s.count[SCAN_OPEN], s.count[SCAN_CLOSED],
		    s.count[SCAN_FILTERED], s.o.udp ? "open|filtered" : "filtered");
	status = s.count[SCAN_OPEN] > 0 ? EXIT_OK : EXIT_RUNTIME;

out:
	for (i = 0; s.probes != NULL && i < s.nprobes; i++) {
		if (s.probes[i].fd != -1)
			close(s.probes[i].fd);
		if (s.probes[i].ev != NULL)
			event_free(s.probes[i].ev);
	}
	free(s.probes);
	free(s.free);
	free(s.ports);
	free(s.state);
	free(map);
	if (s.base != NULL)
		event_base_free(s.base);
	return (status);
}
