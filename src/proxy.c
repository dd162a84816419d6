/*
 * Proxies, a step of the connect phase (dial.c): the --proxy URL, and the
 * handshake that turns a connection to the proxy into a tunnel to the
 * target, SOCKS5 (RFC 1928, with RFC 1929 username/password) or HTTP
 * CONNECT (with Basic authentication).
 *
 * The handshake reads exactly the proxy's reply and not a byte more: SOCKS5
 * replies have a length known from their first bytes, and an HTTP reply's
 * header is found by peeking, so what the target sends right after the
 * reply stays in the socket for the relay (or the TLS handshake) to read.
 *
 * Nothing here prints. proxy_step reports done, "call again when the
 * socket is readable/writable", or a failure with a code (an errno name,
 * ERR_PROXY_AUTH or ERR_PROXY_STATUS) and a message.
 */

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netkit.h"

/* The longest HTTP reply header we read. */
#define PROXY_HTTP_MAX 8192

enum proxy_state {
	PS_SEND, /* write out[] */
	PS_METHOD, /* SOCKS5: the method the proxy chose */
	PS_AUTH, /* SOCKS5: the username/password verdict */
	PS_REPLY, /* SOCKS5: the reply's first 5 bytes */
	PS_REPLY_REST, /* SOCKS5: the rest of the reply */
	PS_HTTP, /* HTTP: the reply header */
	PS_DONE,
};

struct proxy_session {
	const struct proxy *p;
	const char *host; /* the target */
	int port;
	int family; /* -4/-6, for socks5's own resolution */
	int fd;
	enum proxy_state state;
	enum proxy_state after; /* what follows PS_SEND */
	char out[1024];
	size_t outlen, outoff;
	unsigned char in[PROXY_HTTP_MAX + 1];
	size_t inlen, want;
	char code[32];
	char message[256];
};

/* A %XX-decoded copy of s[0..len) into out (size n); -1 if it is bad. */
static int
proxy_unescape(const char *s, size_t len, char *out, size_t n)
{
	size_t i, o = 0;
	unsigned int v;

	for (i = 0; i < len; i++) {
		if (o + 1 >= n)
			return (-1);
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]) ||
		    sscanf(s + i + 1, "%2x", &v) != 1)
			return (-1);
		out[o++] = (char)v;
		i += 2;
	}
	out[o] = '\0';
	return (0);
}

/*
 * Parse a --proxy URL: socks5://, socks5h:// or http://, then
 * [USER:PASS@]HOST[:PORT] (HOST an IPv6 literal in brackets), an optional
 * "/" at the end. Ports default to 1080 (SOCKS) and 8080 (HTTP). -1 when
 * it is not such a URL.
 */
int
proxy_parse(const char *url, struct proxy *p)
{
	static const struct {
		const char *scheme;
		enum proxy_type type;
		int port;
	} schemes[] = {
		{ "socks5://", PROXY_SOCKS5, 1080 },
		{ "socks5h://", PROXY_SOCKS5H, 1080 },
		{ "http://", PROXY_HTTP, 8080 },
	};
	const char *s = NULL, *at, *colon, *hend, *end;
	size_t i, n;

	memset(p, 0, sizeof *p);
	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		n = strlen(schemes[i].scheme);
		if (strncasecmp(url, schemes[i].scheme, n) == 0) {
			s = url + n;
			p->type = schemes[i].type;
			p->port = schemes[i].port;
		}
	}
	if (s == NULL)
		return (-1);
	end = s + strlen(s);
	if (end > s && end[-1] == '/')
		end--;
	if ((at = memrchr(s, '@', (size_t)(end - s))) != NULL) {
		colon = memchr(s, ':', (size_t)(at - s));
		if (colon == NULL ||
		    proxy_unescape(s, (size_t)(colon - s), p->user,
			sizeof p->user) == -1 ||
		    proxy_unescape(colon + 1, (size_t)(at - colon - 1), p->pass,
			sizeof p->pass) == -1 ||
		    *p->user == '\0' || strlen(p->user) > 255 ||
		    strlen(p->pass) > 255)
			return (-1);
		p->auth = 1;
		s = at + 1;
	}
	if (*s == '[') {
		if ((hend = memchr(s, ']', (size_t)(end - s))) == NULL)
			return (-1);
		n = (size_t)(hend - s - 1);
		if (n == 0 || n >= sizeof p->host)
			return (-1);
		memcpy(p->host, s + 1, n);
		p->host[n] = '\0';
		if (!isip_v6(p->host, n))
			return (-1);
		s = hend + 1;
		if (s < end && *s != ':')
			return (-1);
	} else {
		hend = memchr(s, ':', (size_t)(end - s));
		if (hend == NULL)
			hend = end;
		n = (size_t)(hend - s);
		if (n == 0 || n >= sizeof p->host || memchr(s, '/', n) != NULL)
			return (-1);
		memcpy(p->host, s, n);
		p->host[n] = '\0';
		s = hend;
	}
	if (s < end) {
		char port[8];

		n = (size_t)(end - s - 1);
		if (n == 0 || n >= sizeof port)
			return (-1);
		memcpy(port, s + 1, n);
		port[n] = '\0';
		if (opts_port(port, &p->port) != 0 || p->port == 0)
			return (-1);
	}
	return (0);
}

/* The name of a proxy type, as in events and messages. */
const char *
proxy_type_name(enum proxy_type t)
{
	switch (t) {
	case PROXY_SOCKS5:
		return ("socks5");
	case PROXY_SOCKS5H:
		return ("socks5h");
	case PROXY_HTTP:
		return ("http");
	}
	return ("?");
}

/* "HOST:PORT" of the proxy, IPv6 in brackets. */
void
proxy_where(const struct proxy *p, char *buf, size_t len)
{
	int v6 = strchr(p->host, ':') != NULL;

	snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", p->host, v6 ? "]" : "",
	    p->port);
}

/* Fail the handshake with a code and message. */
static int proxy_fail(struct proxy_session *s, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int
proxy_fail(struct proxy_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(s->code, sizeof s->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(s->message, sizeof s->message, fmt, ap);
	va_end(ap);
	return (PROXY_FAILED);
}

/* Queue bytes to send, then go on to state next. */
static int
proxy_queue(struct proxy_session *s, const void *data, size_t len,
    enum proxy_state next)
{
	if (len > sizeof s->out)
		return (proxy_fail(s, "EINVAL", "proxy request too long"));
	memcpy(s->out, data, len);
	s->outlen = len;
	s->outoff = 0;
	s->state = PS_SEND;
	s->after = next;
	s->inlen = 0;
	s->want = next == PS_HTTP ? 0 : 2;
	if (next == PS_REPLY)
		s->want = 5;
	return (0);
}

/* The SOCKS5 CONNECT request for the target. */
static int
proxy_socks_request(struct proxy_session *s)
{
	unsigned char req[4 + 1 + 255 + 2];
	struct addrinfo hints, *res;
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = 4, hl = strlen(s->host);
	int gai;

	req[0] = 5;
	req[1] = 1; /* CONNECT */
	req[2] = 0;
	if (inet_pton(AF_INET, s->host, &a4) == 1) {
		req[3] = 1;
		memcpy(req + n, &a4, 4);
		n += 4;
	} else if (inet_pton(AF_INET6, s->host, &a6) == 1) {
		req[3] = 4;
		memcpy(req + n, &a6, 16);
		n += 16;
	} else if (s->p->type == PROXY_SOCKS5H) {
		if (hl > 255)
			return (proxy_fail(s, "EINVAL",
			    "name too long for SOCKS5"));
		req[3] = 3;
		req[n++] = (unsigned char)hl;
		memcpy(req + n, s->host, hl);
		n += hl;
	} else {
		/* socks5://: the name is resolved here. */
		memset(&hints, 0, sizeof hints);
		hints.ai_family = s->family;
		hints.ai_socktype = SOCK_STREAM;
		if ((gai = getaddrinfo(s->host, NULL, &hints, &res)) != 0)
			return (proxy_fail(s,
			    gai == EAI_NONAME || gai == EAI_NODATA ? "ENOTFOUND"
								   : "EAI_FAIL",
			    "%s", gai_strerror(gai)));
		if (res->ai_family == AF_INET) {
			req[3] = 1;
			memcpy(req + n,
			    &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
			n += 4;
		} else {
			req[3] = 4;
			memcpy(req + n,
			    &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
			    16);
			n += 16;
		}
		freeaddrinfo(res);
	}
	req[n++] = (unsigned char)(s->port >> 8);
	req[n++] = (unsigned char)(s->port & 0xff);
	return (proxy_queue(s, req, n, PS_REPLY));
}

/* A SOCKS5 reply code as a code and message (RFC 1928). */
static int
proxy_socks_reply_fail(struct proxy_session *s, unsigned int rep)
{
	static const struct {
		const char *code;
		const char *message;
	} reps[] = {
		{ "EPROTO", "succeeded" },
		{ "EPROTO", "general SOCKS server failure" },
		{ "EACCES", "connection not allowed by ruleset" },
		{ "ENETUNREACH", "network unreachable" },
		{ "EHOSTUNREACH", "host unreachable" },
		{ "ECONNREFUSED", "connection refused" },
		{ "ETIMEDOUT", "TTL expired" },
		{ "EPROTO", "command not supported" },
		{ "EPROTO", "address type not supported" },
	};

	if (rep < sizeof reps / sizeof reps[0])
		return (proxy_fail(s, reps[rep].code, "%s", reps[rep].message));
	return (proxy_fail(s, "EPROTO", "unknown SOCKS5 reply %u", rep));
}

/* The HTTP CONNECT request for the target. */
static int
proxy_http_request(struct proxy_session *s)
{
	char req[1024], cred[520], b64[720], target[300];
	struct codec *c;
	size_t n;
	int len, v6 = strchr(s->host, ':') != NULL;

	snprintf(target, sizeof target, "%s%s%s:%d", v6 ? "[" : "", s->host,
	    v6 ? "]" : "", s->port);
	len = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n",
	    target, target);
	if (s->p->auth) {
		snprintf(cred, sizeof cred, "%s:%s", s->p->user, s->p->pass);
		if ((c = codec_new(ENC_BASE64, 0)) == NULL)
			return (proxy_fail(s, "ENOMEM", "%s",
			    strerror(ENOMEM)));
		n = codec_feed(c, cred, strlen(cred), b64, NULL, NULL);
		n += codec_finish(c, b64 + n, NULL, NULL);
		codec_free(c);
		len += snprintf(req + len, sizeof req - (size_t)len,
		    "Proxy-Authorization: Basic %.*s\r\n", (int)n, b64);
	}
	len += snprintf(req + len, sizeof req - (size_t)len, "\r\n");
	return (proxy_queue(s, req, (size_t)len, PS_HTTP));
}

/* Read the HTTP reply header: peek, and take no byte past its end. */
static int
proxy_http_read(struct proxy_session *s)
{
	unsigned char *p;
	size_t from, i, take;
	ssize_t n;
	unsigned int status;
	char line[200];

	n = recv(s->fd, s->in + s->inlen, PROXY_HTTP_MAX - s->inlen, MSG_PEEK);
	if (n == -1)
		return (errno == EAGAIN || errno == EINTR
			? PROXY_WANT_READ
			: proxy_fail(s, log_errno_name(errno), "%s",
			      strerror(errno)));
	if (n == 0)
		return (proxy_fail(s, "EPROTO",
		    "proxy closed the connection before its reply"));
	take = (size_t)n;
	from = s->inlen > 3 ? s->inlen - 3 : 0;
	for (i = from; i + 4 <= s->inlen + (size_t)n; i++) {
		if (memcmp(s->in + i, "\r\n\r\n", 4) == 0) {
			take = i + 4 - s->inlen;
			break;
		}
	}
	n = recv(s->fd, s->in + s->inlen, take, 0);
	if (n != (ssize_t)take)
		return (proxy_fail(s, "EPROTO", "proxy reply lost"));
	s->inlen += take;
	s->in[s->inlen] = '\0';
	if (s->inlen < 4 || memcmp(s->in + s->inlen - 4, "\r\n\r\n", 4) != 0) {
		if (s->inlen >= PROXY_HTTP_MAX)
			return (proxy_fail(s, "EPROTO",
			    "proxy reply header too long"));
		return (PROXY_WANT_READ);
	}
	p = memchr(s->in, '\r', s->inlen);
	snprintf(line, sizeof line, "%.*s", (int)(p - s->in), s->in);
	if (sscanf(line, "HTTP/1.%*1[01] %3u", &status) != 1)
		return (proxy_fail(s, "EPROTO", "not an HTTP reply: %s", line));
	if (status == 407 || status == 401)
		return (proxy_fail(s, "ERR_PROXY_AUTH", "%s", line));
	if (status < 200 || status > 299)
		return (proxy_fail(s, "ERR_PROXY_STATUS", "%s", line));
	s->state = PS_DONE;
	return (PROXY_OK);
}

/* Read toward s->want bytes; PROXY_OK once they are all in. */
static int
proxy_read_want(struct proxy_session *s)
{
	ssize_t n;

	while (s->inlen < s->want) {
		n = recv(s->fd, s->in + s->inlen, s->want - s->inlen, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (PROXY_WANT_READ);
		if (n == -1)
			return (proxy_fail(s, log_errno_name(errno), "%s",
			    strerror(errno)));
		if (n == 0)
			return (proxy_fail(s, "EPROTO",
			    "proxy closed the connection before its reply"));
		s->inlen += (size_t)n;
	}
	return (PROXY_OK);
}

/* Start a handshake on fd, connected to the proxy, for HOST PORT. */
struct proxy_session *
proxy_session_new(const struct proxy *p, int fd, const char *host, int port,
    int family)
{
	struct proxy_session *s;
	unsigned char greet[4];

	if ((s = calloc(1, sizeof *s)) == NULL)
		return (NULL);
	s->p = p;
	s->fd = fd;
	s->host = host;
	s->port = port;
	s->family = family;
	if (p->type == PROXY_HTTP) {
		proxy_http_request(s); /* a failure is kept for proxy_step */
		return (s);
	}
	greet[0] = 5;
	greet[1] = p->auth ? 2 : 1;
	greet[2] = 0; /* no authentication */
	greet[3] = 2; /* username/password */
	proxy_queue(s, greet, p->auth ? 4 : 3, PS_METHOD);
	return (s);
}

/* Free a handshake (the descriptor is not its). */
void
proxy_session_free(struct proxy_session *s)
{
	free(s);
}

/*
 * Go on with the handshake: PROXY_OK when the tunnel is up,
 * PROXY_WANT_READ / PROXY_WANT_WRITE to be called again once the socket
 * is readable / writable, PROXY_FAILED (proxy_session_code/_message).
 */
int
proxy_step(struct proxy_session *s)
{
	unsigned char auth[3 + 255 + 255];
	size_t ul, pl;
	ssize_t n;
	int r;

	if (s->code[0] != '\0')
		return (PROXY_FAILED);
	for (;;) {
		switch (s->state) {
		case PS_SEND:
			while (s->outoff < s->outlen) {
				n = send(s->fd, s->out + s->outoff,
				    s->outlen - s->outoff, MSG_NOSIGNAL);
				if (n == -1 && errno == EINTR)
					continue;
				if (n == -1 &&
				    (errno == EAGAIN || errno == EWOULDBLOCK))
					return (PROXY_WANT_WRITE);
				if (n == -1)
					return (proxy_fail(s,
					    log_errno_name(errno), "%s",
					    strerror(errno)));
				s->outoff += (size_t)n;
			}
			s->state = s->after;
			break;
		case PS_METHOD:
			if ((r = proxy_read_want(s)) != PROXY_OK)
				return (r);
			if (s->in[0] != 5)
				return (proxy_fail(s, "EPROTO",
				    "not a SOCKS5 proxy"));
			if (s->in[1] == 0xff || (s->in[1] == 2 && !s->p->auth))
				return (proxy_fail(s, "ERR_PROXY_AUTH",
				    "no acceptable authentication method"));
			if (s->in[1] == 0) {
				if (proxy_socks_request(s) == PROXY_FAILED)
					return (PROXY_FAILED);
				break;
			}
			if (s->in[1] != 2)
				return (proxy_fail(s, "EPROTO",
				    "unknown SOCKS5 method %u", s->in[1]));
			ul = strlen(s->p->user);
			pl = strlen(s->p->pass);
			auth[0] = 1;
			auth[1] = (unsigned char)ul;
			memcpy(auth + 2, s->p->user, ul);
			auth[2 + ul] = (unsigned char)pl;
			memcpy(auth + 3 + ul, s->p->pass, pl);
			proxy_queue(s, auth, 3 + ul + pl, PS_AUTH);
			break;
		case PS_AUTH:
			if ((r = proxy_read_want(s)) != PROXY_OK)
				return (r);
			if (s->in[1] != 0)
				return (proxy_fail(s, "ERR_PROXY_AUTH",
				    "proxy authentication failed"));
			if (proxy_socks_request(s) == PROXY_FAILED)
				return (PROXY_FAILED);
			break;
		case PS_REPLY:
			if ((r = proxy_read_want(s)) != PROXY_OK)
				return (r);
			if (s->in[0] != 5)
				return (proxy_fail(s, "EPROTO",
				    "not a SOCKS5 reply"));
			if (s->in[1] != 0)
				return (proxy_socks_reply_fail(s, s->in[1]));
			/* BND.ADDR and BND.PORT: their length by ATYP. */
			switch (s->in[3]) {
			case 1:
				s->want = 4 + 4 + 2;
				break;
			case 4:
				s->want = 4 + 16 + 2;
				break;
			case 3:
				s->want = 5 + s->in[4] + 2;
				break;
			default:
				return (proxy_fail(s, "EPROTO",
				    "bad SOCKS5 address type %u", s->in[3]));
			}
			s->state = PS_REPLY_REST;
			break;
		case PS_REPLY_REST:
			if ((r = proxy_read_want(s)) != PROXY_OK)
				return (r);
			s->state = PS_DONE;
			return (PROXY_OK);
		case PS_HTTP:
			return (proxy_http_read(s));
		case PS_DONE:
			return (PROXY_OK);
		}
	}
}

/* The failure's code (an errno name, ERR_PROXY_AUTH, ERR_PROXY_STATUS). */
const char *
proxy_session_code(const struct proxy_session *s)
{
	return (s->code);
}

/* The failure's message. */
const char *
proxy_session_message(const struct proxy_session *s)
{
	return (s->message);
}
