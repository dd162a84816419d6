/*
 * SIGINT and SIGTERM as loop events: the command's callback gets how many
 * have arrived, so a first signal can end gracefully and a second at once.
 */

#include <signal.h>

#include <event2/event.h>

#include "netkit.h"

static struct event *signals_ev[2];
static int signals_count;
static void (*signals_cb)(int, void *);
static void *signals_arg;

/* A watched signal arrived: count it and tell the command. */
static void
signals_fire(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	signals_count++;
	signals_cb(signals_count, signals_arg);
}

/* Turn SIGINT and SIGTERM into loop events. */
int
signals_watch(struct event_base *base, void (*cb)(int, void *), void *arg)
{
	signals_cb = cb;
	signals_arg = arg;
	signals_ev[0] = evsignal_new(base, SIGINT, signals_fire, NULL);
	signals_ev[1] = evsignal_new(base, SIGTERM, signals_fire, NULL);
	if (signals_ev[0] == NULL || signals_ev[1] == NULL ||
	    evsignal_add(signals_ev[0], NULL) == -1 ||
	    evsignal_add(signals_ev[1], NULL) == -1) {
		signals_unwatch();
		return (-1);
	}
	return (0);
}

/* Stop watching the signals. */
void
signals_unwatch(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (signals_ev[i] != NULL)
			event_free(signals_ev[i]);
		signals_ev[i] = NULL;
	}
}
