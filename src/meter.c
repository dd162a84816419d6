/*
 * What the bytes moved look like to a person: --stats, a line at exit
 * and on SIGUSR1,
 *
 *   netkit: sent N bytes, received M bytes in S.SSS s
 *
 * (with --events, a socket.stats event per connection instead, from
 * conn.c), and --progress, a one-line meter on stderr redrawn at most ten
 * times a second while stderr is a terminal (nothing otherwise): bytes
 * and rate each way, the time elapsed, and with a regular file on stdin
 * the percent sent and the time left. The meter is erased at exit. The
 * counts are the connections' (conn_totals): sent to the peers, received
 * from them.
 */

#include <sys/stat.h>
#include <sys/time.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

/* The meter's period. */
#define METER_TICK_MS 100

static struct {
	struct event_base *base;
	const struct options *o;
	struct timeval start;
	struct event *usr1; /* --stats */
	struct event *tick; /* --progress on a terminal */
	int shown; /* the meter is on the screen */
	uint64_t last_sent; /* at the last tick, for the rates */
	uint64_t last_recv;
	double rate_sent; /* bytes per second, smoothed */
	double rate_recv;
	struct timeval last;
	off_t size; /* stdin's size when a regular file, else -1 */
} meter;

/* Seconds since t. */
static double
meter_since(const struct timeval *t)
{
	struct timeval now, d;

	gettimeofday(&now, NULL);
	timersub(&now, t, &d);
	return ((double)d.tv_sec + (double)d.tv_usec / 1e6);
}

/* The --stats line. */
static void
meter_line(void)
{
	char line[160];
	uint64_t nread, nwritten;
	int n;

	conn_totals(&nread, &nwritten);
	n = snprintf(line, sizeof line,
	    "netkit: sent %llu bytes, received %llu bytes in %.3f s\n",
	    (unsigned long long)nwritten, (unsigned long long)nread,
	    meter_since(&meter.start));
	if (n > 0)
		log_write(line,
		    (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* SIGUSR1: the stats now. */
static void
meter_usr1_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (events_enabled())
		conn_stats_all();
	else
		meter_line();
}

/* A byte count for people: 512 B, 1.5 KiB, 12.0 MiB. */
static void
meter_bytes(char *buf, size_t len, double v)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f %s", v, units[u]);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* A time for people: MM:SS, or H:MM:SS. */
static void
meter_time(char *buf, size_t len, double secs)
{
	long s = (long)secs;

	if (s >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(buf, len, "%02ld:%02ld", s / 60, s % 60);
}

/* Redraw the meter. */
static void
meter_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	char line[256], a[32], b[32], c[32], d[32], e[32], f[32];
	uint64_t nread, nwritten;
	double dt = meter_since(&meter.last), elapsed;
	int n;

	(void)fd;
	(void)what;
	(void)arg;
	conn_totals(&nread, &nwritten);
	if (dt > 0) {
		/* Smoothed over about a second. */
		meter.rate_sent = 0.7 * meter.rate_sent +
		    0.3 * (double)(nwritten - meter.last_sent) / dt;
		meter.rate_recv = 0.7 * meter.rate_recv +
		    0.3 * (double)(nread - meter.last_recv) / dt;
	}
	gettimeofday(&meter.last, NULL);
	meter.last_sent = nwritten;
	meter.last_recv = nread;
	elapsed = meter_since(&meter.start);
	meter_bytes(a, sizeof a, (double)nwritten);
	meter_bytes(b, sizeof b, meter.rate_sent);
	meter_bytes(c, sizeof c, (double)nread);
	meter_bytes(d, sizeof d, meter.rate_recv);
	meter_time(e, sizeof e, elapsed);
	n = snprintf(line, sizeof line, "\r> %s %s/s  < %s %s/s  %s", a, b, c,
	    d, e);
	if (meter.size > 0 && n > 0 && (size_t)n < sizeof line) {
		double left = (double)meter.size - (double)nwritten;

		if (left < 0)
			left = 0;
		if (meter.rate_sent > 1)
			meter_time(f, sizeof f, left / meter.rate_sent);
		else
			snprintf(f, sizeof f, "--:--");
		n += snprintf(line + n, sizeof line - (size_t)n,
		    "  %3.0f%% ETA %s",
		    100.0 *
			(double)(nwritten > (uint64_t)meter.size
				? (uint64_t)meter.size
				: nwritten) /
			(double)meter.size,
		    f);
	}
	if (n > 0 && (size_t)n < sizeof line - 4) {
		memcpy(line + n, "\033[K", 3);
		log_write(line, (size_t)n + 3);
		meter.shown = 1;
	}
}

/*
 * Start what a command shows of its bytes: the --hexdump sink, --stats
 * (SIGUSR1) and --progress (a meter, when stderr is a terminal); nothing
 * without them. -1 with errno when the --hexdump FILE cannot be opened or
 * memory runs out.
 */
int
meter_start(struct event_base *base, const struct options *o)
{
	struct timeval tv = { 0, METER_TICK_MS * 1000 };
	struct stat st;

	if (o->hexdump && hexdump_open(o->hexdump_path) == -1)
		return (-1);

	memset(&meter, 0, sizeof meter);
	meter.base = base;
	meter.o = o;
	meter.size = -1;
	gettimeofday(&meter.start, NULL);
	meter.last = meter.start;
	if (o->stats) {
		meter.usr1 = evsignal_new(base, SIGUSR1, meter_usr1_cb, NULL);
		if (meter.usr1 == NULL || evsignal_add(meter.usr1, NULL) == -1)
			return (-1);
	}
	if (o->progress && isatty(STDERR_FILENO)) {
		if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
			meter.size = st.st_size;
		meter.tick = event_new(base, -1, EV_PERSIST, meter_tick_cb,
		    NULL);
		if (meter.tick == NULL || event_add(meter.tick, &tv) == -1)
			return (-1);
	}
	return (0);
}

/*
 * At exit: erase the meter; the --stats line (without --events); the
 * rest of the hexdump.
 */
void
meter_stop(void)
{
	hexdump_close();
	if (meter.tick != NULL) {
		event_free(meter.tick);
		meter.tick = NULL;
		if (meter.shown)
			log_write("\r\033[K", 4);
	}
	if (meter.o != NULL && meter.o->stats && !events_enabled())
		meter_line();
	if (meter.usr1 != NULL) {
		event_free(meter.usr1);
		meter.usr1 = NULL;
	}
	meter.o = NULL;
}
