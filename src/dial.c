/*
 * The connect phase: turn the address the options name (HOST PORT, or a
 * UNIX socket path) into a connected socket, and hand it to whoever asked
 * (connect; forward and scan use the same). In order:
 *
 *  step        what it does
 *  ----------  -------------------------------------------------------------
 *  resolve     HOST (or, with --proxy, the proxy's host) to its addresses;
 *              -4/-6 and -s narrow the family; the access lists (dial_acl)
 *              take out the addresses they refuse, and when none is left
 *              the phase fails with ERR_IP_BLOCKED, naming the last one
 *  attempts    Happy Eyeballs (RFC 8305): the addresses in the resolver's
 *              order with the families interleaved, IPv6 first; each attempt
 *              starts --attempt-delay ms after the one before unless one has
 *              connected, or at once when one fails; earlier attempts keep
 *              running; the first to connect wins, the others are closed.
 *              Each binds -s / --source-port first. A datagram socket
 *              (connect -u) has one attempt, the first address: it cannot
 *              tell which one answers.
 *  proxy       with --proxy, the SOCKS5 or HTTP CONNECT handshake on the
 *              winning connection (proxy.c)
 *  TLS         with a TLS configuration (dial_tls), the client handshake,
 *              SNI and the checked name the target's: HOST as given (none
 *              for a UNIX socket or an inherited one), or --tls-servername;
 *              the caller hears of the reached peer first (dial_cb.reached)
 *              and takes the session with the socket (dial_tls_take)
 *
 * An inherited connected socket (dial_adopt) starts at the TLS step.
 * -w bounds everything; --retry starts a new round every second after a
 * round whose last failure was a refused or absent peer. Every outcome
 * comes back through struct dial_cb, always from the event loop (never
 * from inside dial_start). The module writes the events of the phase
 * (socket.attempt, socket.attempt_failed, socket.proxy) and no line: the
 * caller writes those, with dial_where naming the address.
 */

#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

struct dial_attempt {
	struct dial *d;
	int fd; /* -1 once over */
	struct event *ev;
	char remote[ENDPOINT_ADDRSTRLEN];
};

struct dial {
	struct event_base *base;
	const struct options *o;
	int id; /* of the socket, for the events */
	struct addrinfo *res; /* from getaddrinfo */
	struct addrinfo unix_ai; /* -U: the one address */
	struct sockaddr_storage unix_addr;
	struct addrinfo **order; /* the addresses in the order tried */
	size_t norder;
	size_t next; /* the next one to try */
	struct dial_attempt *att; /* one per address of the round */
	int inflight;
	int err; /* the last failure's errno */
	const char *code; /* a code without errno (a resolver failure) */
	char message[256];
	char last[ENDPOINT_ADDRSTRLEN]; /* the last address that failed */
	long tries;
	struct event *stagger; /* the next attempt is due */
	struct event *timer; /* -w */
	struct event *retry; /* the next round */
	struct event *fail; /* report a failure from the loop */
	struct proxy_session *ps; /* --proxy: the handshake */
	int pfd; /* its socket */
	struct event *pev;
	const struct acl *acl; /* dial_acl: the addresses allowed */
	struct tls_config *tls; /* dial_tls: the client's settings */
	struct tls *t; /* the handshake, then the session until taken */
	int tfd; /* its socket */
	struct event *adopt; /* dial_adopt: start from the loop */
	char codebuf[64]; /* the failure's code, when not an errno's */
	char where[ENDPOINT_ADDRSTRLEN * 2 + 32];
	char peer[ENDPOINT_ADDRSTRLEN]; /* --proxy: the target, HOST:PORT */
	const struct dial_cb *cb;
	void *arg;
};

static void dial_next(struct dial *);

/* Close every attempt in flight. */
static void
dial_close_attempts(struct dial *d)
{
	size_t i;

	for (i = 0; d->att != NULL && i < d->norder; i++) {
		if (d->att[i].fd == -1)
			continue;
		event_del(d->att[i].ev);
		close(d->att[i].fd);
		d->att[i].fd = -1;
	}
	d->inflight = 0;
}

/* Stop everything in progress. */
static void
dial_stop(struct dial *d)
{
	dial_close_attempts(d);
	event_del(d->stagger);
	event_del(d->timer);
	event_del(d->retry);
	if (d->pev != NULL)
		event_del(d->pev);
	if (d->pfd != -1)
		close(d->pfd);
	d->pfd = -1;
	if (d->tfd != -1) {
		tls_free(d->t);
		d->t = NULL;
		close(d->tfd);
	}
	d->tfd = -1;
}

/* Report the failure kept in d (from the loop). */
static void
dial_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	const char *code = d->code, *msg = d->message;

	(void)fd;
	(void)what;
	dial_stop(d);
	if (code == NULL) {
		code = log_errno_name(d->err);
		msg = strerror(d->err);
	}
	d->cb->failed(d, code, msg, d->arg);
}

/* Fail with an errno value. */
static void
dial_fail(struct dial *d, int err)
{
	d->err = err;
	d->code = NULL;
	event_active(d->fail, EV_TIMEOUT, 0);
}

/* Fail with a code and message of the proxy or TLS step. */
static void
dial_fail_code(struct dial *d, const char *code, const char *msg)
{
	snprintf(d->message, sizeof d->message, "%s", msg);
	snprintf(d->codebuf, sizeof d->codebuf, "%s", code);
	d->code = d->codebuf;
	event_active(d->fail, EV_TIMEOUT, 0);
}

/* The TLS handshake is over: the socket and its session, or the failure. */
static void
dial_tls_done(struct tls *t, int r, void *arg)
{
	struct dial *d = arg;
	int fd;

	if (r == -1) {
		dial_fail_code(d, tls_code(t), tls_message(t));
		return;
	}
	fd = d->tfd;
	d->tfd = -1; /* the session stays in d->t for dial_tls_take */
	dial_stop(d);
	d->cb->connected(d, fd, d->arg);
}

/*
 * The peer (or the tunnel to it) is reached on fd: hand it over, or first
 * run the TLS handshake on it.
 */
static void
dial_reached(struct dial *d, int fd)
{
	const struct options *o = d->o;

	if (d->tls == NULL) {
		dial_stop(d);
		d->cb->connected(d, fd, d->arg);
		return;
	}
	d->tfd = fd;
	if (d->cb->reached != NULL)
		d->cb->reached(d, fd, d->arg);
	d->t = tls_new(d->tls, fd,
	    o->unix_path != NULL || o->fd != -1 ? NULL
		: o->host != NULL               ? o->host
						: "localhost");
	if (d->t == NULL || tls_drive(d->t, d->base, 0, dial_tls_done, d) == -1)
		dial_fail(d, ENOMEM);
}

/* The proxy handshake moves on; the tunnel, or its failure. */
static void
dial_proxy_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	char where[ENDPOINT_ADDRSTRLEN];
	int r;

	(void)fd;
	(void)what;
	r = proxy_step(d->ps);
	if (r == PROXY_WANT_READ || r == PROXY_WANT_WRITE) {
		event_assign(d->pev, d->base, d->pfd,
		    r == PROXY_WANT_READ ? EV_READ : EV_WRITE, dial_proxy_cb,
		    d);
		event_add(d->pev, NULL);
		return;
	}
	if (r == PROXY_FAILED) {
		dial_fail_code(d, proxy_session_code(d->ps),
		    proxy_session_message(d->ps));
		return;
	}
	proxy_where(&d->o->proxy, where, sizeof where);
	EVENT("socket.proxy", EVI("id", d->id), EVS("proxy", where),
	    EVS("type", proxy_type_name(d->o->proxy.type)));
	fd = d->pfd;
	d->pfd = -1;
	dial_reached(d, fd);
}

/* An attempt connected first: the others end, the socket goes on. */
static void
dial_won(struct dial *d, struct dial_attempt *a)
{
	int fd = a->fd;

	event_del(a->ev);
	a->fd = -1;
	dial_close_attempts(d);
	event_del(d->stagger);
	if (d->o->proxy_url == NULL) {
		dial_reached(d, fd);
		return;
	}
	d->pfd = fd;
	d->ps = proxy_session_new(&d->o->proxy, fd,
	    d->o->host != NULL ? d->o->host : "localhost", d->o->port,
	    d->o->family);
	if (d->ps == NULL) {
		dial_fail(d, ENOMEM);
		return;
	}
	dial_proxy_cb(fd, EV_WRITE, d);
}

/* An attempt failed with err: say so, and start the next at once. */
static void
dial_attempt_failed(struct dial *d, struct dial_attempt *a, int err)
{
	if (!d->o->udp)
		EVENT("socket.attempt_failed", EVI("id", d->id),
		    EVS("remote", a->remote), EVS("code", log_errno_name(err)));
	d->err = err;
	snprintf(d->last, sizeof d->last, "%s", a->remote);
	if (a->fd != -1) {
		event_del(a->ev);
		close(a->fd);
		a->fd = -1;
		d->inflight--;
	}
	event_del(d->stagger);
	dial_next(d);
}

/* An attempt in progress finished, one way or the other. */
static void
dial_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial_attempt *a = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		a->d->inflight--;
		dial_won(a->d, a);
	} else
		dial_attempt_failed(a->d, a, err);
}

/* Time for another round after a refused or absent peer. */
static void
dial_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;

	(void)fd;
	(void)what;
	d->next = 0;
	dial_next(d);
}

/* The attempt delay is over and nothing has connected: the next one. */
static void
dial_stagger_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dial_next(arg);
}

/*
 * One attempt: a non-blocking socket of the options' type (-u: a
 * datagram socket), bound as -s and --source-port ask, connecting to sa.
 * -1 with errno when it failed at once. scan makes its attempts here too.
 */
int
dial_socket(const struct options *o, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage src;
	socklen_t srclen = 0;

	if (endpoint_source(o, sa->sa_family, &src, &srclen) == -1)
		return (-1);
	return (endpoint_connect_start(sa, len,
	    o->udp ? SOCK_DGRAM : SOCK_STREAM,
	    srclen > 0 ? (struct sockaddr *)&src : NULL, srclen));
}

/*
 * Start the attempt for the next address; 0 when one is in flight, -1
 * when it failed at once (reported) or no address is left.
 */
static int
dial_attempt(struct dial *d)
{
	struct dial_attempt *a;
	struct addrinfo *ai;

	if (d->next >= d->norder)
		return (-1);
	a = &d->att[d->next];
	ai = d->order[d->next++];
	a->d = d;
	if (d->o->unix_path != NULL)
		snprintf(a->remote, sizeof a->remote, "%s", d->o->unix_path);
	else
		endpoint_format(ai->ai_addr, ai->ai_addrlen, a->remote,
		    sizeof a->remote);
	if (!d->o->udp) /* a datagram socket's connect is no attempt */
		EVENT("socket.attempt", EVI("id", d->id),
		    EVS("remote", a->remote));
	if ((a->fd = dial_socket(d->o, ai->ai_addr, ai->ai_addrlen)) == -1) {
		a->fd = -1;
		dial_attempt_failed(d, a, errno);
		return (-1);
	}
	if (a->ev == NULL)
		a->ev = event_new(d->base, -1, 0, dial_ready_cb, a);
	if (a->ev == NULL) {
		close(a->fd);
		a->fd = -1;
		dial_fail(d, ENOMEM);
		return (0);
	}
	event_assign(a->ev, d->base, a->fd, EV_WRITE, dial_ready_cb, a);
	event_add(a->ev, NULL);
	d->inflight++;
	return (0);
}

/*
 * Start the next attempt and time the one after it; when no address is
 * left and nothing is in flight, the round has failed: retry or fail.
 */
static void
dial_next(struct dial *d)
{
	struct timeval tv = { 1, 0 };
	long ms = d->o->attempt_delay_ms;

	if (d->next < d->norder) {
		if (dial_attempt(d) == 0 && d->next < d->norder) {
			tv.tv_sec = ms / 1000;
			tv.tv_usec = (ms % 1000) * 1000;
			evtimer_add(d->stagger, &tv);
		}
		return; /* a failure at once came back through here */
	}
	if (d->inflight > 0)
		return;
	if (d->last[0] != '\0' && d->o->proxy_url == NULL)
		snprintf(d->where, sizeof d->where, "%s", d->last);
	if ((d->err == ECONNREFUSED || d->err == ENOENT) &&
	    (d->o->retry == -1 || d->tries < d->o->retry)) {
		d->tries++;
		if (d->cb->retrying != NULL)
			d->cb->retrying(d, d->err, d->arg);
		evtimer_add(d->retry, &tv);
		return;
	}
	dial_fail(d, d->err);
}

/* -w expired. */
static void
dial_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;

	(void)fd;
	(void)what;
	if (d->tfd != -1)
		dial_fail_code(d, "ETIMEDOUT", "TLS handshake timed out");
	else
		dial_fail(d, ETIMEDOUT);
}

/* An adopted socket: on to the TLS step, from the loop. */
static void
dial_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;

	(void)what;
	dial_reached(d, fd);
}

/*
 * Make a connect phase for the address in o, for the socket of id; NULL
 * when out of memory.
 */
struct dial *
dial_new(struct event_base *base, const struct options *o, int id,
    const struct dial_cb *cb, void *arg)
{
	struct dial *d;

	d = calloc(1, sizeof *d);
	if (d == NULL)
		return (NULL);
	d->base = base;
	d->o = o;
	d->id = id;
	d->pfd = -1;
	d->tfd = -1;
	d->cb = cb;
	d->arg = arg;
	d->stagger = evtimer_new(base, dial_stagger_cb, d);
	d->timer = evtimer_new(base, dial_timeout_cb, d);
	d->retry = evtimer_new(base, dial_retry_cb, d);
	d->fail = event_new(base, -1, 0, dial_fail_cb, d);
	d->pev = event_new(base, -1, 0, dial_proxy_cb, d);
	d->adopt = event_new(base, -1, 0, dial_adopt_cb, d);
	if (d->stagger == NULL || d->timer == NULL || d->retry == NULL ||
	    d->fail == NULL || d->pev == NULL || d->adopt == NULL) {
		dial_free(d);
		return (NULL);
	}
	return (d);
}

/*
 * Take the addresses the access lists refuse out of the order; the last
 * one taken out is d->last, for the message if nothing is left.
 */
static void
dial_filter(struct dial *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->norder; i++) {
		if (d->order[i]->ai_family == AF_UNIX ||
		    acl_allows(d->acl, d->order[i]->ai_addr)) {
			d->order[n++] = d->order[i];
			continue;
		}
		endpoint_format(d->order[i]->ai_addr, d->order[i]->ai_addrlen,
		    d->last, sizeof d->last);
	}
	d->norder = n;
}

/*
 * The resolved addresses in the order to try them: the families
 * interleaved, IPv6 first, each in the resolver's order (RFC 8305 4),
 * without those the access lists refuse. A datagram socket tries only
 * the first the resolver gave.
 */
static int
dial_order(struct dial *d, struct addrinfo *list)
{
	struct addrinfo *ai, *v6 = NULL, *v4 = NULL;
	size_t n = 0;

	for (ai = list; ai != NULL; ai = ai->ai_next)
		n++;
	d->order = calloc(n, sizeof *d->order);
	d->att = calloc(n, sizeof *d->att);
	if (d->order == NULL || d->att == NULL)
		return (-1);
	d->norder = n;
	for (n = 0; n < d->norder; n++)
		d->att[n].fd = -1;
	if (d->o->udp || d->o->unix_path != NULL) {
		for (n = 0, ai = list; ai != NULL; ai = ai->ai_next)
			d->order[n++] = ai;
		goto out;
	}
	v6 = list;
	v4 = list;
	for (n = 0; n < d->norder;) {
		while (v6 != NULL && v6->ai_family != AF_INET6)
			v6 = v6->ai_next;
		while (v4 != NULL && v4->ai_family == AF_INET6)
			v4 = v4->ai_next;
		if (v6 != NULL) {
			d->order[n++] = v6;
			v6 = v6->ai_next;
		}
		if (v4 != NULL && n < d->norder) {
			d->order[n++] = v4;
			v4 = v4->ai_next;
		}
	}
out:
	if (d->acl != NULL)
		dial_filter(d);
	if (d->o->udp && d->norder > 1)
		d->norder = 1;
	return (0);
}

/* Start: resolve, then the first attempt; the outcome comes later. */
void
dial_start(struct dial *d)
{
	struct endpoint_error err;
	struct options ro;
	struct timeval tv;
	socklen_t len;
	char pw[ENDPOINT_ADDRSTRLEN];
	const struct options *o = d->o;

	if (o->unix_path != NULL) {
		snprintf(d->where, sizeof d->where, "%s", o->unix_path);
		if (endpoint_unix_addr(o->unix_path, &d->unix_addr, &len) ==
		    -1) {
			dial_fail(d, errno);
			return;
		}
		d->unix_ai.ai_family = AF_UNIX;
		d->unix_ai.ai_addr = (struct sockaddr *)&d->unix_addr;
		d->unix_ai.ai_addrlen = len;
		if (dial_order(d, &d->unix_ai) == -1) {
			dial_fail(d, ENOMEM);
			return;
		}
	} else {
		ro = *o;
		if (o->proxy_url != NULL) {
			/* Reach the proxy; the target is its business. */
			ro.host = o->proxy.host;
			ro.port = o->proxy.port;
			ro.family = AF_UNSPEC;
			if (o->source != NULL)
				ro.family = strchr(o->source, ':') != NULL
				    ? AF_INET6
				    : AF_INET;
		}
		d->res = endpoint_resolve(&ro, &err);
		snprintf(d->where, sizeof d->where, "%s", err.where);
		if (o->proxy_url != NULL) {
			/* "TARGET via TYPE PROXY" */
			snprintf(d->peer, sizeof d->peer, "%s%s%s:%d",
			    o->host != NULL && strchr(o->host, ':') ? "[" : "",
			    o->host != NULL ? o->host : "localhost",
			    o->host != NULL && strchr(o->host, ':') ? "]" : "",
			    o->port);
			proxy_where(&o->proxy, pw, sizeof pw);
			snprintf(d->where, sizeof d->where, "%s via %s %s",
			    d->peer, proxy_type_name(o->proxy.type), pw);
		}
		if (d->res == NULL) {
			if (err.err != 0) {
				dial_fail(d, err.err);
				return;
			}
			d->code = err.code;
			snprintf(d->message, sizeof d->message, "%s",
			    err.message);
			event_active(d->fail, EV_TIMEOUT, 0);
			return;
		}
		if (dial_order(d, d->res) == -1) {
			dial_fail(d, ENOMEM);
			return;
		}
		if (d->norder == 0) {
			/* Every address is refused: none is attempted. */
			if (o->proxy_url == NULL)
				snprintf(d->where, sizeof d->where, "%s",
				    d->last);
			dial_fail_code(d, "ERR_IP_BLOCKED", "blocked");
			return;
		}
	}
	if (o->connect_timeout_ms > 0) {
		tv.tv_sec = o->connect_timeout_ms / 1000;
		tv.tv_usec = (o->connect_timeout_ms % 1000) * 1000;
		evtimer_add(d->timer, &tv);
	}
	d->next = 0;
	dial_next(d);
}

/* Run the TLS handshake (client side, settings cfg) once the peer is reached. */
void
dial_tls(struct dial *d, struct tls_config *cfg)
{
	d->tls = cfg;
}

/*
 * Attempt only the addresses the access lists acl allow (connect's
 * --allow, --deny; with --proxy, the proxy's addresses).
 */
void
dial_acl(struct dial *d, const struct acl *acl)
{
	d->acl = acl;
}

/*
 * Start from a socket already connected (inherited, --fd): the TLS step
 * if any, then the socket is handed back. -w bounds the handshake.
 */
void
dial_adopt(struct dial *d, int fd)
{
	struct timeval tv;

	if (d->o->connect_timeout_ms > 0) {
		tv.tv_sec = d->o->connect_timeout_ms / 1000;
		tv.tv_usec = (d->o->connect_timeout_ms % 1000) * 1000;
		evtimer_add(d->timer, &tv);
	}
	event_assign(d->adopt, d->base, fd, 0, dial_adopt_cb, d);
	event_active(d->adopt, EV_TIMEOUT, 0);
}

/* The TLS session of the socket handed over; the caller owns it now. */
struct tls *
dial_tls_take(struct dial *d)
{
	struct tls *t = d->t;

	d->t = NULL;
	return (t);
}

/*
 * The address for messages: HOST:PORT as named or a path; once every
 * attempt has failed, the last address tried; with --proxy, "TARGET via
 * TYPE PROXY".
 */
const char *
dial_where(const struct dial *d)
{
	return (d->where);
}

/* With --proxy, the target (HOST:PORT) the tunnel reaches; else NULL. */
const char *
dial_peer(const struct dial *d)
{
	return (d->o->proxy_url != NULL ? d->peer : NULL);
}

/* Free a connect phase; attempts in progress are closed. */
void
dial_free(struct dial *d)
{
	size_t i;

	if (d == NULL)
		return;
	dial_close_attempts(d);
	if (d->pfd != -1)
		close(d->pfd);
	for (i = 0; d->att != NULL && i < d->norder; i++) {
		if (d->att[i].ev != NULL)
			event_free(d->att[i].ev);
	}
	free(d->att);
	free(d->order);
	proxy_session_free(d->ps);
	tls_free(d->t);
	if (d->adopt != NULL)
		event_free(d->adopt);
	if (d->res != NULL)
		freeaddrinfo(d->res);
	if (d->pev != NULL)
		event_free(d->pev);
	if (d->fail != NULL)
		event_free(d->fail);
	if (d->retry != NULL)
		event_free(d->retry);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->stagger != NULL)
		event_free(d->stagger);
	free(d);
}
