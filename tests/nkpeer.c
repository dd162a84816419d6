/*
 * nkpeer: the test peer of the netkit suite. Plain POSIX and poll(), no
 * libevent, so that it does not share netkit's bugs.
 *
 *   nkpeer [-T SECONDS] clients HOST PORT N SIZE      (HOST -U: PORT is a path)
 *   nkpeer [-T SECONDS] script connect HOST PORT ACTION...
 *   nkpeer [-T SECONDS] script connect -U PATH ACTION...
 *   nkpeer [-T SECONDS] script listen PORT|-U PATH ACTION...
 *   nkpeer [-T SECONDS] noread HOST PORT SECONDS | noread -U PATH SECONDS
 *                                          (SIGTERM ends it early, exit 0)
 *   nkpeer rand BYTES SEED                             (the bytes of sendrand)
 *   nkpeer fds PID | nkpeer rss PID
 *
 * Exit 0 on success, 1 on a failed check (one line on stderr saying what),
 * 2 on a usage error. Every mode has a deadline (-T, default 20 s): at the
 * deadline it fails instead of hanging.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define CHUNK 65536

static long deadline_s = 20;
static struct timespec deadline_at;
static char alarm_msg[256];
static const char *listen_path; /* a UNIX socket made, removed on failure */

/* One failure line on stderr, then exit 1. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("nkpeer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (listen_path != NULL)
		unlink(listen_path);
	exit(EXIT_FAIL);
}

/* A usage error: the message and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list ap;

	fputs("nkpeer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (usage: nkpeer [-T SECONDS] clients|script|noread|rand|fds|rss"
	      " ...)\n",
	    stderr);
	exit(EXIT_USAGE);
}

/* The hard deadline: a blocking call that overruns ends here. */
static void
alarm_handler(int sig)
{
	ssize_t r;

	(void)sig;
	r = write(STDERR_FILENO, alarm_msg, strlen(alarm_msg));
	(void)r;
	if (listen_path != NULL)
		unlink(listen_path);
	_exit(EXIT_FAIL);
}

/* Arm the deadline for the mode named what. */
static void
deadline_arm(const char *what)
{
	struct sigaction sa;

	snprintf(alarm_msg, sizeof alarm_msg,
	    "nkpeer: %s: deadline of %ld s passed\n", what, deadline_s);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = alarm_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &deadline_at);
	deadline_at.tv_sec += deadline_s;
	/* A backstop just after the poll deadlines, for blocking calls. */
	alarm((unsigned)deadline_s + 1);
}

/* Milliseconds since an arbitrary start, monotonic. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Milliseconds left before the deadline (0 when passed). */
static int
deadline_left(void)
{
	long long left;

	left = ((long long)deadline_at.tv_sec * 1000 +
		   deadline_at.tv_nsec / 1000000) -
	    now_ms();
	if (left < 0)
		return (0);
	if (left > 1000000000)
		left = 1000000000;
	return ((int)left);
}

/* Sleep for ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Parse a decimal number from min to max; -1 on error. */
static int
parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

/* A number argument or a usage error. */
static long long
num_arg(const char *what, const char *s, long long min, long long max)
{
	long long v;

	if (parse_num(s, min, max, &v) != 0)
		usage("bad %s '%s'", what, s != NULL ? s : "");
	return (v);
}

/* The symbolic name of an errno value, for failure lines. */
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
	case EADDRINUSE:
		return ("EADDRINUSE");
	case ENOTCONN:
		return ("ENOTCONN");
	case EMFILE:
		return ("EMFILE");
	case ENOTSOCK:
		return ("ENOTSOCK");
	case EAGAIN:
		return ("EAGAIN");
	default:
		return ("errno");
	}
}

/*
 * The pseudo-random byte stream (splitmix64): the same seed gives the same
 * bytes whatever the chunking.
 */
struct prng {
	uint64_t s;
	uint64_t word;
	int left; /* bytes of word not yet used */
};

static void
prng_init(struct prng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
	r->left = 0;
}

static uint64_t
prng_next(struct prng *r)
{
	uint64_t z;

	z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static unsigned char
prng_byte(struct prng *r)
{
	unsigned char b;

	if (r->left == 0) {
		r->word = prng_next(r);
		r->left = 8;
	}
	b = (unsigned char)(r->word & 0xff);
	r->word >>= 8;
	r->left--;
	return (b);
}

static void
prng_fill(struct prng *r, unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = prng_byte(r);
}

/* A number from 1 to max. */
static size_t
prng_size(struct prng *r, size_t max)
{
	return ((size_t)(prng_next(r) % max) + 1);
}

/* Write all of buf to a blocking descriptor; -1 with errno on error. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Copy received bytes to stdout. */
static void
out_write(const void *buf, size_t len)
{
	if (write_all(STDOUT_FILENO, buf, len) == -1)
		fail("stdout: %s (%s)", strerror(errno), errname(errno));
}

static void
set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1)
		fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

/* An address to connect to: a resolved TCP address or a UNIX path. */
struct target {
	struct sockaddr_storage ss;
	socklen_t len;
	char name[300];
};

/* Resolve HOST PORT, or -U PATH, into a target. */
static void
target_make(struct target *t, const char *host, const char *port)
{
	struct addrinfo hints, *res;
	struct sockaddr_un *sun = (struct sockaddr_un *)&t->ss;
	int gai;

	memset(t, 0, sizeof *t);
	if (strcmp(host, "-U") == 0) {
		if (strlen(port) >= sizeof sun->sun_path)
			usage("path too long '%s'", port);
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, port);
		t->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(port) + 1);
		snprintf(t->name, sizeof t->name, "%s", port);
		return;
	}
	(void)num_arg("port", port, 1, 65535);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0)
		fail("%s: %s", host, gai_strerror(gai));
	memcpy(&t->ss, res->ai_addr, res->ai_addrlen);
	t->len = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(t->name, sizeof t->name, "%s:%s", host, port);
}

/* Start a non-blocking connect; the descriptor, or -1 with errno. */
static int
target_connect_start(const struct target *t)
{
	int fd, saved;

	fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return (-1);
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) == -1 &&
	    errno != EINPROGRESS && errno != EAGAIN) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* Connect and wait for it, within the deadline; a blocking socket. */
static int
target_connect(const struct target *t)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, r;

	if ((fd = target_connect_start(t)) == -1)
		fail("connect %s: %s (%s)", t->name, strerror(errno),
		    errname(errno));
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while ((r = poll(&pfd, 1, deadline_left())) == -1 && errno == EINTR)
		;
	if (r == 0)
		fail("connect %s: timed out", t->name);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0)
		fail("connect %s: %s (%s)", t->name, strerror(err),
		    errname(err));
	set_nonblock(fd, 0);
	return (fd);
}

/*
 * clients: N connections at once in one poll() loop. Each sends SIZE bytes
 * of its own stream in chunks of random size while reading, then ends its
 * side, and must get exactly its bytes back, then EOF.
 */
struct client {
	int fd;
	int connected;
	int wr_done;
	int eof;
	long long sent;
	long long got;
	struct prng tx; /* the bytes to send */
	struct prng rx; /* the bytes expected back */
	struct prng sizes; /* chunk sizes */
	unsigned char *pend;
	size_t pend_off;
	size_t pend_len;
};

static int
cmd_clients(int argc, char **argv)
{
	struct target t;
	struct client *cl, *c;
	struct pollfd *pfd;
	int *idx;
	unsigned char rbuf[CHUNK];
	long long size;
	long n, i, left;
	nfds_t np;
	ssize_t r;
	int err, pr;
	socklen_t elen;

	if (argc != 5)
		usage("clients HOST PORT N SIZE");
	target_make(&t, argv[1], argv[2]);
	n = (long)num_arg("count", argv[3], 1, 100000);
	size = num_arg("size", argv[4], 0, 1LL << 40);
	deadline_arm("clients");

	cl = calloc((size_t)n, sizeof *cl);
	pfd = calloc((size_t)n, sizeof *pfd);
	idx = calloc((size_t)n, sizeof *idx);
	if (cl == NULL || pfd == NULL || idx == NULL)
		fail("out of memory");
	for (i = 0; i < n; i++) {
		c = &cl[i];
		prng_init(&c->tx, (uint64_t)i + 1);
		prng_init(&c->rx, (uint64_t)i + 1);
		prng_init(&c->sizes, (uint64_t)i + 1000003);
		c->fd = target_connect_start(&t);
		if (c->fd == -1)
			fail("client %ld: connect %s: %s (%s)", i, t.name,
			    strerror(errno), errname(errno));
		c->pend = malloc(CHUNK);
		if (c->pend == NULL)
			fail("out of memory");
	}

	left = n;
	while (left > 0) {
		np = 0;
		for (i = 0; i < n; i++) {
			c = &cl[i];
			if (c->eof)
				continue;
			pfd[np].fd = c->fd;
			pfd[np].events = POLLIN;
			if (!c->connected || !c->wr_done)
				pfd[np].events |= POLLOUT;
			pfd[np].revents = 0;
			idx[np++] = (int)i;
		}
		pr = poll(pfd, np, deadline_left());
		if (pr == -1 && errno == EINTR)
			continue;
		if (pr == -1)
			fail("poll: %s", strerror(errno));
		if (pr == 0) {
			for (i = 0; i < n && cl[i].eof; i++)
				;
			fail("clients: deadline of %ld s passed, %ld of %ld "
			     "clients not done (client %ld: sent %lld, got "
			     "%lld of %lld)",
			    deadline_s, left, n, i, cl[i].sent, cl[i].got,
			    size);
		}
		for (nfds_t k = 0; k < np; k++) {
			if (pfd[k].revents == 0)
				continue;
			i = idx[k];
			c = &cl[i];
			if (!c->connected) {
				err = 0;
				elen = sizeof err;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
				    &elen);
				if (err != 0)
					fail("client %ld: connect %s: %s (%s)",
					    i, t.name, strerror(err),
					    errname(err));
				if (!(pfd[k].revents & (POLLOUT | POLLIN)))
					continue;
				c->connected = 1;
			}
			/* Send a chunk, or what is left of the last one. */
			while ((pfd[k].revents & POLLOUT) && !c->wr_done) {
				if (c->pend_len == 0 && c->sent < size) {
					c->pend_len = prng_size(&c->sizes,
					    CHUNK);
					if ((long long)c->pend_len >
					    size - c->sent)
						c->pend_len = (size_t)(size -
						    c->sent);
					prng_fill(&c->tx, c->pend, c->pend_len);
					c->pend_off = 0;
				}
				if (c->pend_len == 0) {
					if (shutdown(c->fd, SHUT_WR) == -1)
						fail("client %ld: shutdown: %s",
						    i, strerror(errno));
					c->wr_done = 1;
					break;
				}
				r = send(c->fd, c->pend + c->pend_off,
				    c->pend_len, MSG_NOSIGNAL);
				if (r == -1 && errno == EINTR)
					continue;
				if (r == -1 &&
				    (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				if (r == -1)
					fail("client %ld: send after %lld "
					     "bytes: %s (%s)",
					    i, c->sent, strerror(errno),
					    errname(errno));
				c->pend_off += (size_t)r;
				c->pend_len -= (size_t)r;
				c->sent += r;
			}
			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			/* Read what came back and check it. */
			for (;;) {
				r = read(c->fd, rbuf, sizeof rbuf);
				if (r == -1 && errno == EINTR)
					continue;
				if (r == -1 &&
				    (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				if (r == -1)
					fail("client %ld: read after %lld of "
					     "%lld bytes: %s (%s)",
					    i, c->got, size, strerror(errno),
					    errname(errno));
				if (r == 0) {
					if (c->got < size)
						fail("client %ld: early EOF "
						     "after %lld of %lld bytes "
						     "(sent %lld)",
						    i, c->got, size, c->sent);
					c->eof = 1;
					close(c->fd);
					free(c->pend);
					c->pend = NULL;
					left--;
					break;
				}
				if (c->got + r > size)
					fail("client %ld: %lld extra bytes "
					     "after its %lld",
					    i, c->got + r - size, size);
				for (ssize_t j = 0; j < r; j++) {
					if (rbuf[j] != prng_byte(&c->rx))
						fail(
						    "client %ld: wrong byte at "
						    "offset %lld",
						    i, c->got + j);
				}
				c->got += r;
			}
		}
	}
	printf("ok %ld %lld\n", n, size);
	free(cl);
	free(pfd);
	free(idx);
	return (0);
}

/* Decode the escapes of a send: action (\n \r \t \0 \\ \xHH). */
static size_t
unescape(const char *s, char *out)
{
	size_t n = 0;
	unsigned int v;

	while (*s != '\0') {
		if (*s != '\\' || s[1] == '\0') {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n':
			out[n++] = '\n';
			s++;
			break;
		case 'r':
			out[n++] = '\r';
			s++;
			break;
		case 't':
			out[n++] = '\t';
			s++;
			break;
		case '0':
			out[n++] = '\0';
			s++;
			break;
		case '\\':
			out[n++] = '\\';
			s++;
			break;
		case 'x':
			if (isxdigit((unsigned char)s[1]) &&
			    isxdigit((unsigned char)s[2]) &&
			    sscanf(s + 1, "%2x", &v) == 1) {
				out[n++] = (char)v;
				s += 3;
				break;
			}
			/* FALLTHROUGH */
		default:
			out[n++] = '\\';
			break;
		}
	}
	return (n);
}

/* Send bytes on the script's connection. */
static void
sock_send(int fd, const void *buf, size_t len, const char *act)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fail("%s: send: %s (%s)", act, strerror(errno),
			    errname(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Read once from the script's connection, waiting within the deadline. */
static ssize_t
sock_read(int fd, void *buf, size_t len, const char *act)
{
	struct pollfd pfd;
	ssize_t n;
	int r;

	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, deadline_left());
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0)
			fail("%s: deadline of %ld s passed", act, deadline_s);
		n = read(fd, buf, len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			fail("%s: read: %s (%s)", act, strerror(errno),
			    errname(errno));
		return (n);
	}
}

/* Check that the connection is still open for an action. */
static void
need_fd(int fd, const char *act)
{
	if (fd == -1)
		usage("%s: the connection is closed already", act);
}

/* Run one script action. */
static void
script_action(int *fdp, const char *act)
{
	static char buf[CHUNK];
	const char *arg = strchr(act, ':');
	char name[32];
	size_t nlen = arg != NULL ? (size_t)(arg - act) : strlen(act);
	long long n, seed, got;
	ssize_t r;
	int fd = *fdp;

	if (arg != NULL)
		arg++;
	snprintf(name, sizeof name, "%.*s", (int)nlen, act);

	if (strcmp(name, "send") == 0 && arg != NULL) {
		char *out = malloc(strlen(arg) + 1);

		need_fd(fd, act);
		if (out == NULL)
			fail("out of memory");
		sock_send(fd, out, unescape(arg, out), act);
		free(out);
	} else if (strcmp(name, "sendfile") == 0 && arg != NULL) {
		int ffd = open(arg, O_RDONLY);

		need_fd(fd, act);
		if (ffd == -1)
			fail("%s: %s", arg, strerror(errno));
		while ((r = read(ffd, buf, sizeof buf)) != 0) {
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1)
				fail("%s: %s", arg, strerror(errno));
			sock_send(fd, buf, (size_t)r, act);
		}
		close(ffd);
	} else if (strcmp(name, "sendrand") == 0 && arg != NULL) {
		struct prng p;
		const char *colon = strchr(arg, ':');
		char nbuf[32];

		need_fd(fd, act);
		if (colon == NULL || (size_t)(colon - arg) >= sizeof nbuf)
			usage("bad action '%s' (sendrand:BYTES:SEED)", act);
		snprintf(nbuf, sizeof nbuf, "%.*s", (int)(colon - arg), arg);
		n = num_arg("byte count", nbuf, 0, 1LL << 40);
		seed = num_arg("seed", colon + 1, 0, INT64_MAX);
		prng_init(&p, (uint64_t)seed);
		while (n > 0) {
			size_t k = n > CHUNK ? CHUNK : (size_t)n;

			prng_fill(&p, (unsigned char *)buf, k);
			sock_send(fd, buf, k, act);
			n -= (long long)k;
		}
	} else if (strcmp(act, "shut-wr") == 0 || strcmp(act, "shut-rd") == 0) {
		need_fd(fd, act);
		if (shutdown(fd, act[5] == 'w' ? SHUT_WR : SHUT_RD) == -1)
			fail("%s: %s (%s)", act, strerror(errno),
			    errname(errno));
	} else if (strcmp(name, "read") == 0 && arg != NULL) {
		need_fd(fd, act);
		n = num_arg("byte count", arg, 0, 1LL << 40);
		got = 0;
		while (got < n) {
			size_t want = n - got > CHUNK ? CHUNK
						      : (size_t)(n - got);

			r = sock_read(fd, buf, want, act);
			if (r == 0)
				fail("%s: EOF after %lld of %lld bytes", act,
				    got, n);
			out_write(buf, (size_t)r);
			got += r;
		}
	} else if (strcmp(act, "read-all") == 0) {
		need_fd(fd, act);
		while ((r = sock_read(fd, buf, sizeof buf, act)) > 0)
			out_write(buf, (size_t)r);
	} else if (strcmp(act, "expect-eof") == 0) {
		need_fd(fd, act);
		r = sock_read(fd, buf, sizeof buf, act);
		if (r > 0)
			fail("expect-eof: got %zd bytes of data instead", r);
	} else if (strcmp(name, "expect-open") == 0 && arg != NULL) {
		struct pollfd pfd;
		long long end;
		int pr, left;

		need_fd(fd, act);
		n = num_arg("milliseconds", arg, 0, 86400000);
		end = now_ms() + n;
		for (;;) {
			left = (int)(end - now_ms());
			if (left <= 0)
				break;
			pfd.fd = fd;
			pfd.events = POLLIN;
			pr = poll(&pfd, 1, left);
			if (pr == -1 && errno == EINTR)
				continue;
			if (pr == -1)
				fail("poll: %s", strerror(errno));
			if (pr == 0)
				break;
			r = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r == -1)
				fail("%s: %s (%s)", act, strerror(errno),
				    errname(errno));
			if (r == 0)
				fail("%s: EOF after %lld ms", act,
				    n - (end - now_ms()));
			fail("%s: %zd bytes of data arrived", act, r);
		}
	} else if (strcmp(name, "sleep") == 0 && arg != NULL) {
		sleep_ms((long)num_arg("milliseconds", arg, 0, 86400000));
	} else if (strcmp(name, "slowread") == 0 && arg != NULL) {
		long long rate, start, total = 0, due;
		size_t piece;

		need_fd(fd, act);
		rate = num_arg("rate", arg, 1, 1LL << 40);
		/* About twenty reads a second, paced to the rate. */
		piece = rate / 20 > 0 ? (size_t)(rate / 20) : 1;
		if (piece > sizeof buf)
			piece = sizeof buf;
		start = now_ms();
		for (;;) {
			due = start + total * 1000 / rate;
			if (due > now_ms())
				sleep_ms((long)(due - now_ms()));
			r = sock_read(fd, buf, piece, act);
			if (r == 0)
				break;
			out_write(buf, (size_t)r);
			total += r;
		}
	} else if (strcmp(act, "rst") == 0) {
		struct linger l = { 1, 0 };

		need_fd(fd, act);
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == -1)
			fail("rst: SO_LINGER: %s", strerror(errno));
		close(fd);
		*fdp = -1;
	} else if (strcmp(act, "close") == 0) {
		need_fd(fd, act);
		close(fd);
		*fdp = -1;
	} else
		usage("unknown action '%s'", act);
}

/* Check every action before running any, so a typo is a usage error. */
static void
script_check(int argc, char **argv)
{
	static const char *const with_arg[] = { "send:", "sendfile:",
		"sendrand:", "read:", "expect-open:", "sleep:", "slowread:" };
	static const char *const bare[] = { "shut-wr", "shut-rd", "read-all",
		"expect-eof", "rst", "close" };
	size_t k;
	int i, ok;

	for (i = 0; i < argc; i++) {
		ok = 0;
		for (k = 0; k < sizeof with_arg / sizeof with_arg[0]; k++)
			if (strncmp(argv[i], with_arg[k],
				strlen(with_arg[k])) == 0)
				ok = 1;
		for (k = 0; k < sizeof bare / sizeof bare[0]; k++)
			if (strcmp(argv[i], bare[k]) == 0)
				ok = 1;
		if (!ok)
			usage("unknown action '%s'", argv[i]);
	}
}

/* script connect|listen ...: one connection, then the actions in order. */
static int
cmd_script(int argc, char **argv)
{
	struct target t;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	struct pollfd pfd;
	socklen_t len;
	const char *path = NULL;
	int fd = -1, lfd, first, one = 1, i, r;

	if (argc < 2)
		usage("script connect|listen ...");
	if (strcmp(argv[1], "connect") == 0) {
		if (argc < 4)
			usage("script connect HOST PORT|-U PATH ACTION...");
		script_check(argc - 4, argv + 4);
		deadline_arm("script");
		target_make(&t, argv[2], argv[3]);
		fd = target_connect(&t);
		first = 4;
	} else if (strcmp(argv[1], "listen") == 0) {
		if (argc < 3)
			usage("script listen PORT|-U PATH ACTION...");
		memset(&ss, 0, sizeof ss);
		if (strcmp(argv[2], "-U") == 0) {
			if (argc < 4)
				usage("script listen -U PATH ACTION...");
			path = argv[3];
			if (strlen(path) >= sizeof sun->sun_path)
				usage("path too long '%s'", path);
			sun->sun_family = AF_UNIX;
			strcpy(sun->sun_path, path);
			len = (socklen_t)(offsetof(struct sockaddr_un,
					      sun_path) +
			    strlen(path) + 1);
			first = 4;
		} else {
			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sin->sin_port = htons((uint16_t)num_arg("port", argv[2],
			    0, 65535));
			len = sizeof *sin;
			first = 3;
		}
		script_check(argc - first, argv + first);
		deadline_arm("script");
		lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd == -1)
			fail("socket: %s", strerror(errno));
		if (path == NULL)
			setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
			    sizeof one);
		if (bind(lfd, (struct sockaddr *)&ss, len) == -1 ||
		    listen(lfd, 1) == -1)
			fail("listen %s: %s (%s)",
			    path != NULL ? path : argv[2], strerror(errno),
			    errname(errno));
		if (path != NULL) {
			listen_path = path;
			fprintf(stderr, "event=server.listening path=%s\n",
			    path);
		} else {
			len = sizeof ss;
			getsockname(lfd, (struct sockaddr *)&ss, &len);
			fprintf(stderr,
			    "event=server.listening "
			    "address=127.0.0.1 port=%u family=IPv4\n",
			    ntohs(sin->sin_port));
		}
		fflush(stderr);
		pfd.fd = lfd;
		pfd.events = POLLIN;
		while ((r = poll(&pfd, 1, deadline_left())) == -1 &&
		    errno == EINTR)
			;
		if (r == 0)
			fail("listen: no connection within %ld s", deadline_s);
		fd = accept(lfd, NULL, NULL);
		if (fd == -1)
			fail("accept: %s", strerror(errno));
		close(lfd);
		if (path != NULL)
			unlink(path);
		listen_path = NULL;
	} else
		usage("script connect|listen ...");

	for (i = first; i < argc; i++)
		script_action(&fd, argv[i]);
	if (fd != -1)
		close(fd);
	return (0);
}

static volatile sig_atomic_t noread_stop;

static void
noread_term(int sig)
{
	(void)sig;
	noread_stop = 1;
}

/*
 * noread: write as fast as possible without reading, for SECONDS or until
 * SIGTERM (which ends it as a success: the count is printed).
 */
static int
cmd_noread(int argc, char **argv)
{
	static char buf[CHUNK];
	struct target t;
	struct pollfd pfd;
	struct sigaction sa;
	long long secs, total = 0, end;
	ssize_t n;
	int fd, left;

	if (argc != 4)
		usage("noread HOST PORT SECONDS | noread -U PATH SECONDS");
	target_make(&t, argv[1], argv[2]);
	secs = num_arg("seconds", argv[3], 0, 3600);
	if (deadline_s < secs + 5)
		deadline_s = secs + 5;
	deadline_arm("noread");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = noread_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	fd = target_connect(&t);
	set_nonblock(fd, 1);
	memset(buf, 'x', sizeof buf);
	end = now_ms() + secs * 1000;
	while (!noread_stop && (left = (int)(end - now_ms())) > 0) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		/* At most 100 ms: a SIGTERM just before poll is seen soon. */
		if (poll(&pfd, 1, left < 100 ? left : 100) <= 0)
			continue;
		n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1)
			fail("noread: send after %lld bytes: %s (%s)", total,
			    strerror(errno), errname(errno));
		total += n;
	}
	printf("%lld\n", total);
	close(fd);
	return (0);
}

/* rand BYTES SEED: the bytes sendrand:BYTES:SEED sends, on stdout. */
static int
cmd_rand(int argc, char **argv)
{
	static unsigned char buf[CHUNK];
	struct prng p;
	long long n;
	size_t k;

	if (argc != 3)
		usage("rand BYTES SEED");
	n = num_arg("byte count", argv[1], 0, 1LL << 40);
	prng_init(&p, (uint64_t)num_arg("seed", argv[2], 0, INT64_MAX));
	while (n > 0) {
		k = n > CHUNK ? CHUNK : (size_t)n;
		prng_fill(&p, buf, k);
		out_write(buf, k);
		n -= (long long)k;
	}
	return (0);
}

/* fds PID: the number of open descriptors of PID. */
static int
cmd_fds(int argc, char **argv)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	long n = 0;

	if (argc != 2)
		usage("fds PID");
	snprintf(path, sizeof path, "/proc/%lld/fd",
	    num_arg("pid", argv[1], 1, INT32_MAX));
	if ((d = opendir(path)) == NULL)
		fail("%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	printf("%ld\n", n);
	return (0);
}

/* rss PID: VmRSS of PID in KiB. */
static int
cmd_rss(int argc, char **argv)
{
	char path[64], line[256];
	FILE *f;
	long kb;

	if (argc != 2)
		usage("rss PID");
	snprintf(path, sizeof path, "/proc/%lld/status",
	    num_arg("pid", argv[1], 1, INT32_MAX));
	if ((f = fopen(path, "r")) == NULL)
		fail("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld", &kb) == 1) {
			fclose(f);
			printf("%ld\n", kb);
			return (0);
		}
	}
	fclose(f);
	fail("%s: no VmRSS line", path);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	argv++;
	argc--;
	if (argc >= 2 && strcmp(argv[0], "-T") == 0) {
		deadline_s = (long)num_arg("deadline", argv[1], 1, 86400);
		argv += 2;
		argc -= 2;
	}
	if (argc < 1)
		usage("no command");
	if (strcmp(argv[0], "clients") == 0)
		return (cmd_clients(argc, argv));
	if (strcmp(argv[0], "script") == 0)
		return (cmd_script(argc, argv));
	if (strcmp(argv[0], "noread") == 0)
		return (cmd_noread(argc, argv));
	if (strcmp(argv[0], "rand") == 0)
		return (cmd_rand(argc, argv));
	if (strcmp(argv[0], "fds") == 0)
		return (cmd_fds(argc, argv));
	if (strcmp(argv[0], "rss") == 0)
		return (cmd_rss(argc, argv));
	usage("unknown command '%s'", argv[0]);
}
