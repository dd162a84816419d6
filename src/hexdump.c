/*
 * --hexdump[=FILE]: every byte relayed, as `hexdump -C` prints it, one
 * dump per direction of each connection, each line prefixed with the
 * direction ("> " sent to the peer, "< " received from it):
 *
 *   > 00000000  68 65 6c 6c 6f 0a                                 |hello.|
 *   > 00000006
 *
 * Offsets count per direction. A line is written once its 16 bytes are
 * known, or when its direction ends (the partial line, then the final
 * offset, as hexdump prints them at the end of its input); a full line
 * equal to the one before is "*" once, as hexdump -C squeezes repeats.
 * Lines of every connection go to one sink (stderr, or FILE opened for
 * appending), whole lines only, written out at the end of each chunk.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netkit.h"

/* The sink's buffer: written out when full and after each chunk. */
#define HEXDUMP_BUF (256 * 1024)

/* The longest line: prefix, a 16-digit offset, 16 bytes, ASCII, newline. */
#define HEXDUMP_LINE 96

struct hexdump_dir {
	uint64_t off; /* bytes seen */
	unsigned char line[16]; /* the line being filled */
	size_t n;
	unsigned char prev[16]; /* the last full line */
	int have_prev;
	int star; /* "*" written for the repeats of prev */
	int ended;
};

struct hexdump {
	struct hexdump_dir dir[2]; /* HEXDUMP_SENT, HEXDUMP_RECEIVED */
};

static struct {
	int fd; /* -1: no --hexdump */
	int own; /* opened here */
	char *buf;
	size_t len;
} hexdump_sink = { -1, 0, NULL, 0 };

static const char hexdump_digits[] = "0123456789abcdef";
static const char hexdump_prefix[2] = { '>', '<' };

/* Write the buffer out, waiting when the sink is a full non-blocking pipe. */
static void
hexdump_write(void)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t n;

	while (off < hexdump_sink.len) {
		n = write(hexdump_sink.fd, hexdump_sink.buf + off,
		    hexdump_sink.len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = hexdump_sink.fd;
			pfd.events = POLLOUT;
			poll(&pfd, 1, -1);
			continue;
		}
		break; /* the sink is gone: the dump is lost, not the relay */
	}
	hexdump_sink.len = 0;
}

/* Room for one more line. */
static char *
hexdump_room(void)
{
	if (hexdump_sink.len + HEXDUMP_LINE > HEXDUMP_BUF)
		hexdump_write();
	return (hexdump_sink.buf + hexdump_sink.len);
}

/* The offset: 8 hex digits, more when it needs them. Returns the end. */
static char *
hexdump_offset(char *p, uint64_t off)
{
	int digits = 8, i;

	while (digits < 16 && (off >> (digits * 4)) != 0)
		digits++;
	for (i = digits - 1; i >= 0; i--)
		*p++ = hexdump_digits[(off >> (i * 4)) & 0xf];
	return (p);
}

/* Each byte as "xx " (with a fourth byte to copy 4 at a time), and its
 * character in the ASCII column; made once. */
static char hexdump_hex[256][4];
static char hexdump_ascii[256];

/* Fill the tables. */
static void
hexdump_tables(void)
{
	int i;

	for (i = 0; i < 256; i++) {
		hexdump_hex[i][0] = hexdump_digits[i >> 4];
		hexdump_hex[i][1] = hexdump_digits[i & 0xf];
		hexdump_hex[i][2] = ' ';
		hexdump_hex[i][3] = ' ';
		hexdump_ascii[i] = (i >= 0x20 && i < 0x7f) ? (char)i : '.';
	}
}

/* One line of n (1 to 16) bytes at offset off. */
static void
hexdump_line(int d, uint64_t off, const unsigned char *b, size_t n)
{
	char *start = hexdump_room(), *p = start, *hex;
	size_t i;

	*p++ = hexdump_prefix[d];
	*p++ = ' ';
	p = hexdump_offset(p, off);
	*p++ = ' ';
	*p++ = ' ';
	hex = p;
	if (n < 16)
		memset(hex, ' ', 49);
	for (i = 0; i < 8 && i < n; i++)
		memcpy(hex + i * 3, hexdump_hex[b[i]], 4);
	hex[24] = ' ';
	for (; i < n; i++)
		memcpy(hex + i * 3 + 1, hexdump_hex[b[i]], 4);
	p = hex + 49;
	p[-1] = ' ';
	*p++ = ' ';
	*p++ = '|';
	for (i = 0; i < n; i++)
		*p++ = hexdump_ascii[b[i]];
	*p++ = '|';
	*p++ = '\n';
	hexdump_sink.len += (size_t)(p - start);
}

/* A line of its own: "*" or the final offset. */
static void
hexdump_short(int d, const char *text, uint64_t off, int with_off)
{
	char *start = hexdump_room(), *p = start;

	*p++ = hexdump_prefix[d];
	*p++ = ' ';
	if (with_off)
		p = hexdump_offset(p, off);
	else {
		memcpy(p, text, strlen(text));
		p += strlen(text);
	}
	*p++ = '\n';
	hexdump_sink.len += (size_t)(p - start);
}

/* A full line: printed, or squeezed when it repeats the one before. */
static void
hexdump_full(struct hexdump *h, int d, const unsigned char *b)
{
	struct hexdump_dir *s = &h->dir[d];

	if (s->have_prev && memcmp(s->prev, b, 16) == 0) {
		if (!s->star)
			hexdump_short(d, "*", 0, 0);
		s->star = 1;
	} else {
		hexdump_line(d, s->off, b, 16);
		memcpy(s->prev, b, 16);
		s->have_prev = 1;
		s->star = 0;
	}
	s->off += 16;
}

/*
 * Open the sink: FILE for appending, or stderr (path NULL). -1 with errno
 * when FILE cannot be opened.
 */
int
hexdump_open(const char *path)
{
	int fd = 2;

	if (path != NULL) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0666);
		if (fd == -1)
			return (-1);
	}
	hexdump_tables();
	if ((hexdump_sink.buf = malloc(HEXDUMP_BUF)) == NULL) {
		if (path != NULL)
			close(fd);
		errno = ENOMEM;
		return (-1);
	}
	hexdump_sink.fd = fd;
	hexdump_sink.own = path != NULL;
	hexdump_sink.len = 0;
	return (0);
}

/* Write out what is left and close the sink. */
void
hexdump_close(void)
{
	if (hexdump_sink.fd == -1)
		return;
	hexdump_write();
	if (hexdump_sink.own)
		close(hexdump_sink.fd);
	free(hexdump_sink.buf);
	hexdump_sink.buf = NULL;
	hexdump_sink.fd = -1;
}

/* The dump of one connection; NULL without --hexdump (or out of memory). */
struct hexdump *
hexdump_new(void)
{
	if (hexdump_sink.fd == -1)
		return (NULL);
	return (calloc(1, sizeof(struct hexdump)));
}

/* Bytes of direction d (HEXDUMP_SENT or HEXDUMP_RECEIVED). */
void
hexdump_feed(struct hexdump *h, int d, const void *data, size_t len)
{
	struct hexdump_dir *s = &h->dir[d];
	const unsigned char *b = data;
	size_t take;

	if (s->ended || len == 0)
		return;
	if (s->n > 0) {
		take = 16 - s->n < len ? 16 - s->n : len;
		memcpy(s->line + s->n, b, take);
		s->n += take;
		b += take;
		len -= take;
		if (s->n < 16) {
			hexdump_write();
			return;
		}
		hexdump_full(h, d, s->line);
		s->n = 0;
	}
	for (; len >= 16; b += 16, len -= 16)
		hexdump_full(h, d, b);
	memcpy(s->line, b, len);
	s->n = len;
	hexdump_write();
}

/* Direction d has ended: its partial line and its final offset. */
void
hexdump_end(struct hexdump *h, int d)
{
	struct hexdump_dir *s;

	if (h == NULL || (s = &h->dir[d])->ended)
		return;
	s->ended = 1;
	if (s->n > 0)
		hexdump_line(d, s->off, s->line, s->n);
	s->off += s->n;
	if (s->off > 0)
		hexdump_short(d, NULL, s->off, 1);
	hexdump_write();
}

/* End both directions and free the dump. */
void
hexdump_free(struct hexdump *h)
{
	if (h == NULL)
		return;
	hexdump_end(h, HEXDUMP_SENT);
	hexdump_end(h, HEXDUMP_RECEIVED);
	free(h);
}
