/*
 * Addresses, resolution, listeners and outgoing sockets. Nothing here
 * prints: failures come back as -1 or NULL with a struct endpoint_error.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netkit.h"

/* The receive queue asked for a datagram server's socket, in bytes. */
#define ENDPOINT_DGRAM_RCVBUF (4 * 1024 * 1024)

/* The UNIX socket file this process made, to remove on exit. */
static char endpoint_made_path[sizeof((struct sockaddr_un *)0)->sun_path];
static dev_t endpoint_made_dev;
static ino_t endpoint_made_ino;

/* Fill an error from errno. */
static void
endpoint_fail(struct endpoint_error *e, int err)
{
	e->err = err;
	e->code = NULL;
	e->message[0] = '\0';
}

/* The error's code, such as "ECONNREFUSED". */
const char *
endpoint_error_code(const struct endpoint_error *e)
{
	if (e->code != NULL)
		return (e->code);
	return (log_errno_name(e->err));
}

/* The error's human message. */
const char *
endpoint_error_message(const struct endpoint_error *e)
{
	if (e->message[0] != '\0')
		return (e->message);
	return (strerror(e->err));
}

/* "ADDR:PORT", "[ADDR]:PORT" or the path of a socket address. */
void
endpoint_format(const struct sockaddr *sa, socklen_t len, char *buf,
    size_t size)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_un *sun;
	char addr[INET6_ADDRSTRLEN];
	size_t plen;

	if (len < sizeof sa->sa_family) {
		/* An unnamed sender (a UNIX datagram's bare sendto). */
		if (size > 0)
			buf[0] = '\0';
		return;
	}
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
		snprintf(buf, size, "%s:%u", addr, ntohs(sin->sin_port));
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* An IPv4 peer of a dual-stack socket: show it as IPv4. */
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr,
			    sizeof addr);
			snprintf(buf, size, "%s:%u", addr,
			    ntohs(sin6->sin6_port));
			break;
		}
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr);
		snprintf(buf, size, "[%s]:%u", addr, ntohs(sin6->sin6_port));
		break;
	case AF_UNIX:
		sun = (const struct sockaddr_un *)sa;
		plen = 0;
		if (len > offsetof(struct sockaddr_un, sun_path))
			plen = len - offsetof(struct sockaddr_un, sun_path);
		if (plen > 0 && sun->sun_path[0] == '\0') {
			/* An abstract name (Linux), such as an autobound one. */
			snprintf(buf, size, "@%.*s", (int)(plen - 1),
			    sun->sun_path + 1);
			break;
		}
		plen = strnlen(sun->sun_path, plen);
		snprintf(buf, size, "%.*s", (int)plen, sun->sun_path);
		break;
	default:
		snprintf(buf, size, "?");
		break;
	}
}

/* The local address of a socket, formatted. */
void
endpoint_local(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(buf, size, "?");
		return;
	}
	endpoint_format((struct sockaddr *)&ss, len, buf, size);
}

/* The remote address of a socket; an unnamed UNIX peer gets the local path. */
void
endpoint_remote(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(buf, size, "?");
		return;
	}
	endpoint_format((struct sockaddr *)&ss, len, buf, size);
	if (*buf == '\0' && ss.ss_family == AF_UNIX)
		endpoint_local(fd, buf, size);
}

/* Whether a -U PATH is "@NAME", the abstract name NAME (Linux). */
int
endpoint_abstract(const char *path)
{
	return (path[0] == '@');
}

/*
 * Make a UNIX socket address; -1 when the path does not fit. "@NAME" is
 * the abstract name NAME: sun_path[0] is 0, then NAME's bytes, and the
 * length ends there (not padded, as socat's ABSTRACT-* addresses).
 */
int
endpoint_unix_addr(const char *path, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	size_t plen = strlen(path);

	if (endpoint_abstract(path)) {
#ifndef __linux__
		errno = EAFNOSUPPORT;
		return (-1);
#endif
		if (plen == 1) {
			errno = EINVAL; /* opts_check refuses "@" before */
			return (-1);
		}
	}
	/* A path needs its NUL; "@NAME" takes its length exactly. */
	if (plen + !endpoint_abstract(path) > sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	memset(ss, 0, sizeof *ss);
	sun->sun_family = AF_UNIX;
	if (endpoint_abstract(path)) {
		memcpy(sun->sun_path + 1, path + 1, plen - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    plen);
		return (0);
	}
	memcpy(sun->sun_path, path, plen + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
	return (0);
}

/*
 * Ask a datagram socket to say where each datagram arrived (IP_PKTINFO,
 * IPV6_RECVPKTINFO), so that replies leave from that address.
 */
void
endpoint_pktinfo(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int one = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
	else if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof one);
}

/*
 * Bind one address and listen on it (a stream socket) or ready it to
 * receive (a datagram socket); -1 with errno on failure.
 */
static int
endpoint_bind(const struct sockaddr *sa, socklen_t len, int v6only, int type)
{
	int fd, one = 1, saved, rcvbuf = ENDPOINT_DGRAM_RCVBUF;

	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	/* Not for datagrams: two UDP sockets would share the port. */
	if (sa->sa_family != AF_UNIX && type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (sa->sa_family == AF_INET6 && v6only != -1)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof v6only);
	if (bind(fd, sa, len) == -1 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	if (type == SOCK_DGRAM) {
		/*
		 * A server's one socket takes every peer's datagrams: a
		 * larger queue than the default rides out bursts (the
		 * kernel caps it at net.core.rmem_max).
		 */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
		endpoint_pktinfo(fd);
	}
	return (fd);
}

/*
 * A UNIX socket path that exists: a stale socket (nothing accepts there)
 * is removed; a live one is EADDRINUSE; anything else (a file, a symlink,
 * a directory) is left alone and refused with EEXIST.
 */
static int
endpoint_unix_clear(const char *path, const struct sockaddr_storage *ss,
    socklen_t len, int type)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return (-1);
	}
	/*
	 * Non-blocking: a live server with a full backlog is EAGAIN. A
	 * datagram socket connects to a bound one at once.
	 */
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return (-1);
	r = connect(fd, (const struct sockaddr *)ss, len);
	close(fd);
	if (r == 0 || errno != ECONNREFUSED) {
		errno = EADDRINUSE;
		return (-1);
	}
	if (unlink(path) == -1 && errno != ENOENT)
		return (-1);
	return (0);
}

/*
 * Listen on a UNIX socket path, or an abstract name: no file, so nothing
 * to clear first or to remove at exit (a name in use is EADDRINUSE).
 */
static int
endpoint_listen_unix(const char *path, int type, struct endpoint_error *e)
{
	struct sockaddr_storage ss;
	struct stat st;
	socklen_t len;
	int fd, abstract = endpoint_abstract(path);

	snprintf(e->where, sizeof e->where, "%s", path);
	if (endpoint_unix_addr(path, &ss, &len) == -1 ||
	    (!abstract && endpoint_unix_clear(path, &ss, len, type) == -1) ||
	    (fd = endpoint_bind((struct sockaddr *)&ss, len, -1, type)) == -1) {
		endpoint_fail(e, errno);
		return (-1);
	}
	if (!abstract && lstat(path, &st) == 0) {
		snprintf(endpoint_made_path, sizeof endpoint_made_path, "%s",
		    path);
		endpoint_made_dev = st.st_dev;
		endpoint_made_ino = st.st_ino;
	}
	return (fd);
}

/* Remove the UNIX socket file this process made, if it is still ours. */
void
endpoint_unlink(void)
{
	struct stat st;

	if (endpoint_made_path[0] == '\0')
		return;
	if (lstat(endpoint_made_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == endpoint_made_dev && st.st_ino == endpoint_made_ino)
		unlink(endpoint_made_path);
	endpoint_made_path[0] = '\0';
}

/* Fill an error from a getaddrinfo failure. */
static void
endpoint_gai_fail(struct endpoint_error *e, int gai)
{
	if (gai == EAI_SYSTEM) {
		endpoint_fail(e, errno);
		return;
	}
	e->err = 0;
	switch (gai) {
	case EAI_NONAME:
	case EAI_NODATA:
		e->code = "ENOTFOUND"; /* as Node says */
		break;
	case EAI_AGAIN:
		e->code = "EAI_AGAIN";
		break;
	case EAI_FAMILY:
		e->code = "EAI_FAMILY";
		break;
	case EAI_ADDRFAMILY:
		e->code = "EAI_ADDRFAMILY";
		break;
	case EAI_SERVICE:
		e->code = "EAI_SERVICE";
		break;
	case EAI_MEMORY:
		e->code = "EAI_MEMORY";
		break;
	default:
		e->code = "EAI_FAIL";
		break;
	}
	snprintf(e->message, sizeof e->message, "%s", gai_strerror(gai));
}

/* Listen on TCP or UDP: the given host, or every address (dual-stack). */
static int
endpoint_listen_ip(const struct options *o, int type, struct endpoint_error *e)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char port[8];
	int fd, gai;

	if (o->host == NULL) {
		snprintf(e->where, sizeof e->where, "%s%d",
		    o->family == AF_INET ? "0.0.0.0:" : "[::]:", o->port);
		if (o->family != AF_INET) {
			memset(&sin6, 0, sizeof sin6);
			sin6.sin6_family = AF_INET6;
			sin6.sin6_addr = in6addr_any;
			sin6.sin6_port = htons((uint16_t)o->port);
			fd = endpoint_bind((struct sockaddr *)&sin6,
			    sizeof sin6, o->family == AF_INET6, type);
			if (fd != -1 || o->family == AF_INET6 ||
			    (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL)) {
				if (fd == -1)
					endpoint_fail(e, errno);
				return (fd);
			}
			snprintf(e->where, sizeof e->where, "0.0.0.0:%d",
			    o->port);
		}
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
		sin.sin_port = htons((uint16_t)o->port);
		fd = endpoint_bind((struct sockaddr *)&sin, sizeof sin, -1,
		    type);
		if (fd == -1)
			endpoint_fail(e, errno);
		return (fd);
	}

	snprintf(e->where, sizeof e->where, "%s%s%s:%d",
	    strchr(o->host, ':') ? "[" : "", o->host,
	    strchr(o->host, ':') ? "]" : "", o->port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = o->family;
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof port, "%d", o->port);
	if ((gai = getaddrinfo(o->host, port, &hints, &res)) != 0) {
		endpoint_gai_fail(e, gai);
		return (-1);
	}
	fd = -1;
	errno = EADDRNOTAVAIL;
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = endpoint_bind(ai->ai_addr, ai->ai_addrlen, 1, type);
	if (fd == -1)
		endpoint_fail(e, errno);
	freeaddrinfo(res);
	return (fd);
}

/*
 * Open the listening socket that the options ask for: a stream socket, or
 * with -u a bound datagram socket.
 */
int
endpoint_listen(const struct options *o, struct endpoint_error *e)
{
	int type = o->udp ? SOCK_DGRAM : SOCK_STREAM;

	if (o->unix_path != NULL)
		return (endpoint_listen_unix(o->unix_path, type, e));
	return (endpoint_listen_ip(o, type, e));
}

/* Resolve the address to connect to: HOST (default localhost) and PORT. */
struct addrinfo *
endpoint_resolve(const struct options *o, struct endpoint_error *e)
{
	struct addrinfo hints, *res;
	const char *host = o->host != NULL ? o->host : "localhost";
	char port[8];
	int gai;

	snprintf(e->where, sizeof e->where, "%s%s%s:%d",
	    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
	    o->port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = o->family;
	hints.ai_socktype = o->udp ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof port, "%d", o->port);
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		endpoint_gai_fail(e, gai);
		return (NULL);
	}
	return (res);
}

/*
 * The address to bind before connecting to an address of family: -s and
 * --source-port (either may be missing). 0 with *len 0 when there is
 * nothing to bind; -1 with errno when -s is not of that family.
 */
int
endpoint_source(const struct options *o, int family,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	int port = o->source_port > 0 ? o->source_port : 0;

	*len = 0;
	if ((o->source == NULL && o->source_port == -1) ||
	    (family != AF_INET && family != AF_INET6))
		return (0);
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (o->source != NULL &&
		    inet_pton(AF_INET, o->source, &sin->sin_addr) != 1) {
			errno = EAFNOSUPPORT;
			return (-1);
		}
		*len = sizeof *sin;
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (o->source != NULL &&
		    inet_pton(AF_INET6, o->source, &sin6->sin6_addr) != 1) {
			errno = EAFNOSUPPORT;
			return (-1);
		}
		*len = sizeof *sin6;
	}
	return (0);
}

/*
 * Start a non-blocking connect of a socket of type from src (NULL: any)
 * to sa (a datagram socket is connected at once); -1 with errno when it
 * failed at once. A UNIX datagram client binds an address of its own
 * first (Linux autobind), or replies could not reach it.
 */
int
endpoint_connect_start(const struct sockaddr *sa, socklen_t len, int type,
    const struct sockaddr *src, socklen_t srclen)
{
	struct sockaddr_un self = { .sun_family = AF_UNIX };
	int fd, saved, one = 1;

	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (src != NULL) {
		/*
		 * Attempts of both families may share a source port, and
		 * attempts of one family race with the same one.
		 */
		if (src->sa_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	}
	if ((src != NULL && bind(fd, src, srclen) == -1) ||
	    (type == SOCK_DGRAM && sa->sa_family == AF_UNIX &&
		bind(fd, (struct sockaddr *)&self, sizeof(sa_family_t)) ==
		    -1) ||
	    (connect(fd, sa, len) == -1 && errno != EINPROGRESS &&
		errno != EINTR)) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* Make the coming close(2) of a connected socket a reset (RST), not a FIN. */
void
endpoint_reset(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* Apply --no-delay and --keepalive to a connected TCP socket. */
void
endpoint_sockopts(int fd, const struct options *o)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int one = 1, secs;

	if (!o->no_delay && !o->keepalive)
		return;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	if (o->no_delay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (o->keepalive) {
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
		if (o->keepalive_ms > 0) {
			/* The kernel counts whole seconds, at least one. */
			secs = (int)((o->keepalive_ms + 999) / 1000);
			setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs,
			    sizeof secs);
		}
	}
}

/*
 * Check an inherited descriptor (--fd): a socket of type want; a stream socket
 * listening when listening is set, any socket connected otherwise (a
 * datagram socket to serve on needs only to be bound). Made non-blocking
 * and close-on-exec. -1 with a message in e on the wrong kind.
 */
int
endpoint_inherit(int fd, int listening, int want, struct endpoint_error *e)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int type, acc, fl;

	snprintf(e->where, sizeof e->where, "--fd %d", fd);
	e->err = 0;
	e->code = "EINVAL";
	if (fcntl(fd, F_GETFD) == -1) {
		endpoint_fail(e, errno);
		return (-1);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		endpoint_fail(e, errno);
		return (-1);
	}
	if (type != want) {
		snprintf(e->message, sizeof e->message, "not a %s socket",
		    want == SOCK_STREAM ? "stream" : "datagram");
		return (-1);
	}
	len = sizeof acc;
	if (type == SOCK_DGRAM)
		acc = listening; /* bound is all it needs */
	else if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == -1)
		acc = 0;
	if (listening && !acc) {
		snprintf(e->message, sizeof e->message,
		    "not a listening socket");
		return (-1);
	}
	len = sizeof ss;
	if (!listening &&
	    (acc || getpeername(fd, (struct sockaddr *)&ss, &len) == -1)) {
		snprintf(e->message, sizeof e->message,
		    "not a connected socket");
		return (-1);
	}
	fl = fcntl(fd, F_GETFL);
	if (fl != -1)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (type == SOCK_DGRAM && listening)
		endpoint_pktinfo(fd);
	return (0);
}
