/*
 * netkit isip: classify IP addresses as Node's net.isIP() does.
 *
 * With ADDRESS operands, one answer line per operand. Without, one answer
 * line per line of stdin; this is the batch path and it is built for
 * speed: large read()s into one buffer, lines found with memchr(), answers
 * gathered in one output buffer written with large write()s, nothing
 * allocated. Pending answers are written before each read, so a program
 * that feeds one line at a time gets its answer at once.
 *
 * A line longer than the input buffer is still one address and one answer.
 * Only an IPv6 address with a long zone id can be valid then: the address,
 * the '%' and the first zone character are kept at the start of the buffer
 * in place of the discarded part, which are all zone characters, so the
 * line is judged as if it were whole.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "netkit.h"

#define ISIP_INBUF (1024 * 1024)
#define ISIP_OUTBUF (256 * 1024)

/* The answer for one IP version: its line, padded for 8-byte copies. */
struct isip_answer {
	char text[8];
	size_t len; /* 0 with -q */
	int invalid; /* makes the exit status 1 */
};

struct isip_state {
	int family; /* 0 (any), 4 (-4) or 6 (-6) */
	int quiet;
	int invalid; /* some address was not valid */
	struct isip_answer answer[7]; /* by IP version found: 0, 4 or 6 */
	size_t olen;
	char obuf[ISIP_OUTBUF];
	char ibuf[ISIP_INBUF];
};

static struct isip_state isip_state;

/* Wait until fd is ready for events, after EAGAIN on a non-blocking fd. */
static void
isip_wait(int fd, short events)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = events;
	pfd.revents = 0;
	while (poll(&pfd, 1, -1) == -1 && errno == EINTR)
		;
}

/* Write the pending answers to stdout; -1 (reported) on a write error. */
static int
isip_flush(struct isip_state *st)
{
	const char *p = st->obuf;
	size_t left = st->olen;
	ssize_t n;

	while (left > 0) {
		n = write(STDOUT_FILENO, p, left);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				isip_wait(STDOUT_FILENO, POLLOUT);
				continue;
			}
			log_error("isip", "stdout", errno);
			return (-1);
		}
		p += n;
		left -= (size_t)n;
	}
	st->olen = 0;
	return (0);
}

/* Set the answer for each IP version (0 for none), after the options. */
static void
isip_answers(struct isip_state *st)
{
	struct isip_answer *a;
	char version[3];
	const char *text;
	int v;

	for (v = 0; v < 7; v++) {
		a = &st->answer[v];
		if (st->family == 0) {
			version[0] = '0' + v;
			version[1] = '\n';
			version[2] = '\0';
			text = version;
			a->invalid = (v == 0);
		} else {
			text = (v == st->family ? "true\n" : "false\n");
			a->invalid = (v != st->family);
		}
		memset(a->text, 0, sizeof a->text);
		memcpy(a->text, text, strlen(text));
		a->len = st->quiet ? 0 : strlen(text);
	}
}

/* Record one answer: v is the IP version found (4 or 6), or 0. */
static inline int
isip_answer(struct isip_state *st, int v)
{
	const struct isip_answer *a = &st->answer[v];

	st->invalid |= a->invalid;
	if (__builtin_expect(st->olen > sizeof st->obuf - 8, 0) &&
	    isip_flush(st) != 0)
		return (-1);
	/* Always the 8 bytes, so the copy is one store. */
	memcpy(st->obuf + st->olen, a->text, sizeof a->text);
	st->olen += a->len;
	return (0);
}

/* Classify one address of len bytes and record the answer. */
static inline int
isip_one(struct isip_state *st, const char *s, size_t len)
{
	/* isip() tells both versions apart: -4 and -6 are in the answers. */
	return (isip_answer(st, isip(s, len)));
}

/* Read stdin into buf; the count, 0 at end of input, -1 (reported). */
static ssize_t
isip_read(char *buf, size_t size)
{
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf, size);
		if (n >= 0)
			return (n);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			isip_wait(STDIN_FILENO, POLLIN);
			continue;
		}
		if (errno == EBADF)
			return (0); /* stdin is closed: no input */
		log_error("isip", "stdin", errno);
		return (-1);
	}
}

/* Answer for each line of stdin; 0, or -1 on a reported error. */
static int
isip_stdin(struct isip_state *st)
{
	char *buf = st->ibuf, *p, *end, *nl, *zone;
	size_t have = 0; /* bytes of an unfinished line at buf */
	int skip = 0; /* discarding the rest of an overlong invalid line */
	ssize_t n;

	for (;;) {
		if (isip_flush(st) != 0)
			return (-1);
		n = isip_read(buf + have, sizeof st->ibuf - have);
		if (n == -1)
			return (-1);
		if (n == 0)
			break;
		p = buf;
		end = buf + have + n;

		if (skip) {
			nl = memchr(p, '\n', end - p);
			if (nl == NULL) {
				have = 0;
				continue;
			}
			skip = 0;
			if (isip_answer(st, 0) != 0)
				return (-1);
			p = nl + 1;
		}
		while ((nl = memchr(p, '\n', end - p)) != NULL) {
			if (isip_one(st, p, nl - p) != 0)
				return (-1);
			p = nl + 1;
		}

		have = end - p;
		if (have == sizeof st->ibuf) {
			/* One line fills the buffer: see the comment on top. */
			zone = NULL;
			if (st->family != 4 && isip_v6(buf, have))
				zone = memchr(buf, '%', have);
			if (zone != NULL)
				have = zone - buf + 2;
			else {
				skip = 1;
				have = 0;
			}
		} else if (have > 0 && p != buf)
			memmove(buf, p, have);
	}

	/* A last line without a newline is an address too. */
	if (skip) {
		if (isip_answer(st, 0) != 0)
			return (-1);
	} else if (have > 0) {
		if (isip_one(st, buf, have) != 0)
			return (-1);
	}
	return (isip_flush(st));
}

/* Run "netkit isip": parse the options, then answer for each address. */
static int
cmd_isip_exec(const struct cmd_entry *self, int argc, char **argv)
{
	struct isip_state *st = &isip_state;
	struct options o;
	int i, r;

	if ((r = opts_parse(self, argc, argv, &o)) != 0)
		return (r == -1 ? EXIT_OK : r);
	st->quiet = o.quiet;
	st->family = o.family == AF_INET ? 4 : (o.family == AF_INET6 ? 6 : 0);
	isip_answers(st);
	argc = o.argc;
	argv = o.argv;

	if (argc == 0) {
		if (isip_stdin(st) != 0)
			return (EXIT_RUNTIME);
	} else {
		for (i = 0; i < argc; i++) {
			if (isip_one(st, argv[i], strlen(argv[i])) != 0)
				return (EXIT_RUNTIME);
		}
		if (isip_flush(st) != 0)
			return (EXIT_RUNTIME);
	}
	return (st->invalid ? EXIT_RUNTIME : EXIT_OK);
}

const struct cmd_entry cmd_isip_entry = {
	.name = "isip",
	.summary = "classify IP addresses as net.isIP does",
	.synopsis = "isip [-4 | -6] [-q] [ADDRESS ...]",
	.exec = cmd_isip_exec,
	.mask = CMD_ISIP,
	.args = CMD_ARGS_OWN,
	.address = CMD_ADDRESS_NONE,
	.buffer_size = 0,
};
