/*
 * Idle timeouts (Node's socket.setTimeout): a callback after MS
 * milliseconds in which a connection moved no byte, in either direction.
 * The timer is not re-armed on every read or write: the owner notes when
 * it last moved bytes, and the timer, when it fires, either reports or
 * sleeps again for what remains.
 */

#include <stdlib.h>

#include <event2/event.h>

#include "netkit.h"

struct idle {
	struct event_base *base;
	struct event *timer;
	long ms;
	const struct timeval *last[2];
	struct timeval reported; /* the last I/O time already reported */
	void (*cb)(void *);
	void *arg;
};

/* The later of two times. */
static const struct timeval *
idle_later(const struct timeval *a, const struct timeval *b)
{
	return (timercmp(a, b, <) ? b : a);
}

/* Arm the timer for ms milliseconds. */
static void
idle_arm(struct idle *i, long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(i->timer, &tv);
}

/* The timer fired: report the idle time, or wait for what remains. */
static void
idle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct idle *i = arg;
	struct timeval now, last, elapsed;
	long ms;
	int n;

	(void)fd;
	(void)what;
	last = *i->last[0];
	for (n = 1; n < 2; n++) {
		if (i->last[n] != NULL)
			last = *idle_later(&last, i->last[n]);
	}
	event_base_gettimeofday_cached(i->base, &now);
	timersub(&now, &last, &elapsed);
	ms = elapsed.tv_sec * 1000 + elapsed.tv_usec / 1000;
	if (ms < i->ms) {
		idle_arm(i, i->ms - ms);
		return;
	}
	idle_arm(i, i->ms);
	if (!timercmp(&last, &i->reported, !=))
		return; /* this idle period was reported already */
	i->reported = last;
	i->cb(i->arg);
}

/*
 * Watch one or two times of last I/O (b may be NULL), kept up to date by
 * their owner; cb runs after ms without I/O (ms > 0).
 */
struct idle *
idle_new(struct event_base *base, long ms, const struct timeval *a,
    const struct timeval *b, void (*cb)(void *), void *arg)
{
	struct idle *i;

	i = calloc(1, sizeof *i);
	if (i == NULL)
		return (NULL);
	i->base = base;
	i->ms = ms;
	i->last[0] = a;
	i->last[1] = b;
	i->cb = cb;
	i->arg = arg;
	i->timer = evtimer_new(base, idle_timer_cb, i);
	if (i->timer == NULL) {
		free(i);
		return (NULL);
	}
	idle_arm(i, ms);
	return (i);
}

/* Let the current idle period be reported once more, after another ms. */
void
idle_again(struct idle *i)
{
	timerclear(&i->reported);
}

/* Stop watching. */
void
idle_free(struct idle *i)
{
	if (i == NULL)
		return;
	event_free(i->timer);
	free(i);
}
