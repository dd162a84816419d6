/*
 * A pump moves bytes one way, from a source descriptor to a destination
 * descriptor, on the event loop. It is the bulk path of every relay and of
 * each echo connection.
 *
 * Reads go to a shared scratch buffer and are written on at once; only
 * what the destination does not take is kept, in a buffer of the pump's
 * own (so an idle or fast connection holds no buffer). Reading stops while
 * that buffer holds the high-water mark or more and resumes below it; when
 * it empties after being above, the pump reports a drain.
 *
 * A descriptor whose readiness the loop cannot tell (a regular file,
 * /dev/null: epoll refuses them) is read or written whenever wanted: after
 * each chunk a zero timer brings the pump back once the loop has polled
 * its other events, so they still run between chunks.
 *
 * An end that is the socket of the pump's connection (pump_conn) is read
 * and written through the connection's struct io_end: plainly, or through
 * its ops (a TLS session), whose IO_WANT_POLLIN / IO_WANT_POLLOUT answers
 * make the pump wait for that readiness of the descriptor under it. The
 * zero-copy paths (sendfile, splice) are taken only between plain
 * descriptors. What moves to or from the connection's socket is counted
 * in the connection, and any I/O is noted for its idle timer. A pump
 * between two connections (forward) counts in both.
 *
 * Between two plain sockets, a pump made with PUMP_SPLICE moves the bytes
 * through a pipe of its own with splice(2): socket to pipe, pipe to
 * socket, never through this process. The pipe, made on the first bytes,
 * is the direction's buffer: what the destination has not taken stays in
 * it, and the source is not read until it has gone.
 *
 * Callbacks: PUMP_DATA, PUMP_F_EOF, PUMP_DRAIN and PUMP_READ_ERROR leave the
 * pump running; PUMP_FLUSHED (the source is done and everything it gave is
 * written, with a descriptor to send) and PUMP_WRITE_ERROR are final: the
 * callback may free the pump.
 */

#include <sys/sendfile.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

#define PUMP_F_EOF 0x10 /* the source is done: EOF or a read error */
#define PUMP_F_STOPPED 0x20 /* no more reading wanted */
#define PUMP_F_ABOVE 0x40 /* the buffer reached the high-water mark */
#define PUMP_F_FINAL 0x80 /* a final callback was made */

/* Reads per callback before giving other events a turn. */
#define PUMP_BURST 8

struct pump {
	struct event_base *base;
	int src;
	int dst;
	int flags;
	struct io_end plain_src; /* the ends as plain descriptors */
	struct io_end plain_dst;
	const struct io_end *sio; /* how the source is read */
	const struct io_end *dio; /* how the destination is written */
	struct conn *sconn; /* the source is this connection's socket */
	struct conn *dconn; /* the destination is this one's */
	struct event *rev;
	struct event *wev;
	struct event *again; /* a zero timer: read again after other events,
			      * made when first wanted (most pumps never do) */
	struct event *rwant; /* the source wants to write before reading */
	struct event *wwant; /* the destination wants to read before writing */
	struct buf buf; /* read but not yet written */
	size_t hwm;
	size_t rmax;
	int err;
	uint64_t bad_offset;
	struct codec *codec;
	int send_fd; /* to send with the next bytes, or -1 */
	int recv_fds; /* read with recvmsg, copy what arrives */
	int fdq[FDPASS_MAX * 2]; /* received descriptors to copy */
	int nfdq;
	int copy_saved; /* the socket while a descriptor is copied, or -1 */
	int copy_socket;
	int zc; /* PUMP_ZC_*: the kernel moves the bytes */
	int zpipe[2]; /* PUMP_ZC_SPLICE_PIPE: its pipe, -1 until made */
	size_t zpend; /* bytes in that pipe */
	size_t zcap; /* what the pipe holds */
	void (*tap)(void *, const char *, size_t); /* sees the bytes */
	void *tap_arg;
	int tap_where; /* PUMP_TAP_READ or PUMP_TAP_WRITE */
	int crlf; /* LF is delivered as CRLF */
	void (*cb)(struct pump *, int, size_t, void *);
	void *arg;
};

static char pump_scratch[NETKIT_CHUNK];
static char pump_tscratch[NETKIT_CHUNK * 4 + 16]; /* codec output */

/* Zero-copy paths, used while nothing is kept and nothing transforms. */
#define PUMP_ZC_NONE 0
#define PUMP_ZC_SENDFILE 1 /* a regular file to a socket */
#define PUMP_ZC_SPLICE_IN 2 /* a pipe to a socket */
#define PUMP_ZC_SPLICE_OUT 3 /* a socket to a pipe */
#define PUMP_ZC_SPLICE_PIPE 4 /* a socket to a socket, through a pipe */
#define PUMP_ZC_MAX (1024 * 1024) /* bytes per call: a full 1 MiB pipe */

static void pump_read_cb(evutil_socket_t, short, void *);
static void pump_write_cb(evutil_socket_t, short, void *);

/*
 * Which zero-copy path fits a source and a destination, if any; splice:
 * the caller allows a pipe of the pump's own between two sockets.
 */
static int
pump_zc_kind(int src, int dst, int splice)
{
	struct stat ss, ds;

	if (src == -1 || dst == -1 || fstat(src, &ss) == -1 ||
	    fstat(dst, &ds) == -1)
		return (PUMP_ZC_NONE);
	if (S_ISREG(ss.st_mode) && S_ISSOCK(ds.st_mode))
		return (PUMP_ZC_SENDFILE);
	if (S_ISFIFO(ss.st_mode) && S_ISSOCK(ds.st_mode))
		return (PUMP_ZC_SPLICE_IN);
	if (S_ISSOCK(ss.st_mode) && S_ISFIFO(ds.st_mode))
		return (PUMP_ZC_SPLICE_OUT);
	if (splice && src != dst && S_ISSOCK(ss.st_mode) &&
	    S_ISSOCK(ds.st_mode))
		return (PUMP_ZC_SPLICE_PIPE);
	return (PUMP_ZC_NONE);
}

/* Make a pump from src to dst (-1: closed source, or discard). */
struct pump *
pump_new(struct event_base *base, int src, int dst, int flags, size_t hwm,
    void (*cb)(struct pump *, int, size_t, void *), void *arg)
{
	struct pump *p;

	p = calloc(1, sizeof *p);
	if (p == NULL)
		return (NULL);
	p->base = base;
	p->src = src;
	p->dst = dst;
	p->plain_src.fd = src;
	p->plain_dst.fd = dst;
	p->sio = &p->plain_src;
	p->dio = &p->plain_dst;
	p->flags = flags & (PUMP_SRC_POLL | PUMP_DST_POLL | PUMP_KEEPBUF);
	p->zpipe[0] = p->zpipe[1] = -1;
	p->hwm = hwm;
	p->rmax = hwm < 16384 ? 16384 : hwm;
	if (p->rmax > NETKIT_CHUNK)
		p->rmax = NETKIT_CHUNK;
	p->cb = cb;
	p->arg = arg;
	p->send_fd = -1;
	p->copy_saved = -1;
	p->zc = pump_zc_kind(src, dst, flags & PUMP_SPLICE);
	if (src != -1 && (flags & PUMP_SRC_POLL))
		p->rev = event_new(base, src, EV_READ | EV_PERSIST,
		    pump_read_cb, p);
	else
		p->rev = event_new(base, -1, 0, pump_read_cb, p);
	if (dst != -1 && (flags & PUMP_DST_POLL))
		p->wev = event_new(base, dst, EV_WRITE | EV_PERSIST,
		    pump_write_cb, p);
	if (p->rev == NULL ||
	    (dst != -1 && (flags & PUMP_DST_POLL) && p->wev == NULL)) {
		pump_free(p);
		return (NULL);
	}
	return (p);
}

/*
 * Count what the pump moves to and from a connection's socket in the
 * connection, and read and write that socket through the connection's
 * io_end (so a TLS session set on it later is used). Called for each
 * connection whose socket is an end.
 */
void
pump_conn(struct pump *p, struct conn *c)
{
	if (c->io.fd == p->src && p->src != -1) {
		p->sconn = c;
		p->sio = &c->io;
	}
	if (c->io.fd == p->dst && p->dst != -1) {
		p->dconn = c;
		p->dio = &c->io;
	}
}

/* Free a pump; it does not close its descriptors. */
void
pump_free(struct pump *p)
{
	if (p == NULL)
		return;
	if (p->send_fd != -1)
		close(p->send_fd);
	if (p->zpipe[0] != -1) {
		close(p->zpipe[0]);
		close(p->zpipe[1]);
	}
	if (p->copy_saved != -1)
		close(p->src);
	while (p->nfdq > 0)
		close(p->fdq[--p->nfdq]);
	codec_free(p->codec);
	if (p->wwant != NULL)
		event_free(p->wwant);
	if (p->rwant != NULL)
		event_free(p->rwant);
	if (p->again != NULL)
		event_free(p->again);
	if (p->wev != NULL)
		event_free(p->wev);
	if (p->rev != NULL)
		event_free(p->rev);
	buf_free(&p->buf);
	free(p);
}

/* Send a descriptor with the next bytes (the pump owns it from now on). */
void
pump_send_fd(struct pump *p, int fd)
{
	p->send_fd = fd;
}

/* Accept descriptors from the source and copy what each one reads. */
void
pump_recv_fds(struct pump *p)
{
	p->recv_fds = 1;
}

/* Pass what is read through a codec (the pump owns it from now on). */
void
pump_codec(struct pump *p, struct codec *codec)
{
	p->codec = codec;
}

/*
 * Show fn every byte: as read from the source (PUMP_TAP_READ) or as
 * delivered to the destination (PUMP_TAP_WRITE). The bytes then pass
 * through this process: no zero-copy path.
 */
void
pump_tap(struct pump *p, int where, void (*fn)(void *, const char *, size_t),
    void *arg)
{
	p->tap = fn;
	p->tap_arg = arg;
	p->tap_where = where;
}

/* Deliver each LF read as CR LF (--crlf). */
void
pump_crlf(struct pump *p)
{
	p->crlf = 1;
}

/* Where malformed input was found (after PUMP_READ_ERROR with EILSEQ). */
uint64_t
pump_bad_offset(const struct pump *p)
{
	return (p->bad_offset);
}

/* Bytes read but not yet written. */
size_t
pump_pending(const struct pump *p)
{
	return (p->buf.len + p->zpend);
}

/* The errno of the last failure. */
int
pump_error(const struct pump *p)
{
	return (p->err);
}

/* Whether an end goes through ops (not a plain descriptor). */
#define PUMP_OPS(e) ((e)->ops != NULL)

/* Note I/O for the idle timers of the pump's connections. */
static void
pump_note_io(struct pump *p)
{
	if (p->sconn != NULL)
		conn_io(p->sconn);
	if (p->dconn != NULL && p->dconn != p->sconn)
		conn_io(p->dconn);
}

/* Note n bytes read from the source: counted when it is a socket. */
static void
pump_note_read(struct pump *p, size_t n)
{
	if (p->sconn != NULL && p->copy_saved == -1)
		p->sconn->nread += n;
	if (n > 0)
		pump_note_io(p);
}

/* Note n bytes written to the destination. */
static void
pump_note_write(struct pump *p, size_t n)
{
	if (n == 0)
		return;
	if (p->dconn != NULL)
		p->dconn->nwritten += n;
	pump_note_io(p);
}

/* Wait once for an event on a descriptor, then run cb (for IO_WANT_*). */
static void
pump_want(struct pump *p, struct event **ev, int fd, short what,
    void (*cb)(evutil_socket_t, short, void *))
{
	if (*ev == NULL)
		*ev = event_new(p->base, fd, what, cb, p);
	if (*ev == NULL)
		event_active(p->rev, EV_READ, 0); /* out of memory */
	else
		event_add(*ev, NULL);
}

/* Come back to reading once the loop has polled its other events. */
static void
pump_again(struct pump *p)
{
	if (p->again == NULL)
		p->again = io_again_new(p->base, pump_read_cb, p);
	if (p->again == NULL)
		event_active(p->rev, EV_READ, 0); /* out of memory: go on */
	else
		io_again(p->again);
}

/* Ask for the next read: from the loop, or at once for a manual source. */
static void
pump_want_read(struct pump *p)
{
	if (p->flags & (PUMP_F_EOF | PUMP_F_STOPPED | PUMP_F_FINAL))
		return;
	if (p->buf.len >= p->hwm) {
		p->flags |= PUMP_F_ABOVE;
		if (p->flags & PUMP_SRC_POLL)
			event_del(p->rev);
		return;
	}
	if ((p->flags & PUMP_SRC_POLL) && p->src != -1) {
		if (!event_pending(p->rev, EV_READ, NULL))
			event_add(p->rev, NULL);
	} else
		pump_again(p);
}

/* Wait until the destination takes bytes again. */
static void
pump_want_write(struct pump *p)
{
	if (p->wev != NULL) {
		if (!event_pending(p->wev, EV_WRITE, NULL))
			event_add(p->wev, NULL);
	} else
		pump_again(p);
}

/* Start moving bytes. */
void
pump_start(struct pump *p)
{
	if (p->src == -1) {
		/* A closed source is at its end at once. */
		p->flags |= PUMP_F_STOPPED;
		event_active(p->rev, EV_READ, 0);
		return;
	}
	pump_want_read(p);
}

/* Stop reading; PUMP_FLUSHED follows once the buffer is written. */
void
pump_stop(struct pump *p)
{
	if (p->flags & (PUMP_F_STOPPED | PUMP_F_FINAL))
		return;
	p->flags |= PUMP_F_STOPPED;
	if (p->flags & PUMP_SRC_POLL)
		event_del(p->rev);
	if (pump_pending(p) == 0)
		event_active(p->rev, EV_READ, 0);
}

/* Stop every event of the pump. */
static void
pump_quiet(struct pump *p)
{
	event_del(p->rev);
	if (p->again != NULL)
		event_del(p->again);
	if (p->wev != NULL)
		event_del(p->wev);
	if (p->rwant != NULL)
		event_del(p->rwant);
	if (p->wwant != NULL)
		event_del(p->wwant);
}

/* Give up at once: no more callbacks, nothing more written. */
void
pump_abort(struct pump *p)
{
	p->flags |= PUMP_F_STOPPED | PUMP_F_FINAL;
	pump_quiet(p);
}

/*
 * Write what the destination takes now. Returns the bytes written, or -1
 * on an error (p->err); an end that must read first is waited for.
 */
static ssize_t
pump_write(struct pump *p, const char *data, size_t len)
{
	ssize_t n;

	if (p->dst == -1) {
		pump_note_write(p, len);
		return ((ssize_t)len);
	}
	if (p->send_fd != -1) {
		/* The descriptor travels with the first bytes. */
		do
			n = fdpass_send(p->dst, data, len, p->send_fd);
		while (n == -1 && errno == EINTR);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			p->err = errno;
			return (-1);
		}
		if (n <= 0)
			return (0);
		close(p->send_fd);
		p->send_fd = -1;
		pump_note_write(p, (size_t)n);
		return (n);
	}
	n = io_write(p->dio, data, len);
	if (n == IO_WANT_POLLIN) {
		pump_want(p, &p->wwant, p->dst, EV_READ, pump_write_cb);
		return (0);
	}
	if (n == -1) {
		p->err = errno;
		return (-1);
	}
	pump_note_write(p, (size_t)n);
	return (n);
}

/* Keep bytes the destination did not take, after those already kept. */
static int
pump_keep(struct pump *p, const char *data, size_t len)
{
	if (buf_add(&p->buf, data, len) == -1) {
		p->err = ENOMEM;
		return (-1);
	}
	return (0);
}

/* Report a final event; the pump may be gone afterwards. */
static void
pump_final(struct pump *p, int what)
{
	p->flags |= PUMP_F_FINAL;
	pump_quiet(p);
	p->cb(p, what, 0, p->arg);
}

/*
 * The source is done and everything is written: send a descriptor that no
 * byte took along yet, with a single NUL byte (a descriptor cannot travel
 * alone on a stream socket), waiting on the loop while the socket is
 * full; then report PUMP_FLUSHED.
 */
static void
pump_flushed(struct pump *p)
{
	ssize_t n;

	if (p->send_fd != -1 && p->dst != -1) {
		do
			n = fdpass_send(p->dst, "", 1, p->send_fd);
		while (n == -1 && errno == EINTR);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			p->err = errno;
			pump_final(p, PUMP_WRITE_ERROR);
			return;
		}
		if (n != 1) {
			pump_want_write(p);
			return;
		}
		close(p->send_fd);
		p->send_fd = -1;
		pump_note_write(p, 1);
	}
	pump_final(p, PUMP_FLUSHED);
}

/* splice(2), again after a signal. */
static ssize_t
pump_splice(int in, int out, size_t len)
{
	ssize_t n;

	do
		n = splice(in, NULL, out, NULL, len,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	while (n == -1 && errno == EINTR);
	return (n);
}

/*
 * Make the pipe of a socket-to-socket pump, as large as the high-water
 * mark where the system allows. -1 when it cannot be made (the pump
 * copies instead).
 */
static int
pump_zc_pipe(struct pump *p)
{
	int size;

	if (pipe2(p->zpipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		p->zpipe[0] = p->zpipe[1] = -1;
		return (-1);
	}
	if (p->hwm > 65536)
		fcntl(p->zpipe[1], F_SETPIPE_SZ,
		    (int)(p->hwm < PUMP_ZC_MAX ? p->hwm : PUMP_ZC_MAX));
	size = fcntl(p->zpipe[1], F_GETPIPE_SZ);
	p->zcap = size > 0 ? (size_t)size : 65536;
	return (0);
}

/* Move what the pipe holds to the destination. -1 on an error (p->err). */
static int
pump_zc_pipe_out(struct pump *p)
{
	ssize_t n;

	n = pump_splice(p->zpipe[0], p->dst, p->zpend);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		p->err = errno;
		return (-1);
	}
	p->zpend -= (size_t)n;
	pump_note_write(p, (size_t)n);
	return (0);
}

/*
 * Write the buffer on, then decide what comes next: wait for the
 * destination, read more, or report the end. Returns 1 when the pump is
 * done (a final callback was made, or the last descriptor is waiting).
 */
static int
pump_flush(struct pump *p)
{
	ssize_t n;

	if (p->zpend > 0) {
		if (pump_zc_pipe_out(p) == -1) {
			pump_final(p, PUMP_WRITE_ERROR);
			return (1);
		}
		if (p->zpend > 0) {
			pump_want_write(p);
			if (p->zpend < p->zcap)
				pump_want_read(p); /* room again in the pipe */
			return (0);
		}
	}
	if (p->buf.len > 0) {
		n = pump_write(p, p->buf.p + p->buf.off, p->buf.len);
		if (n == -1) {
			pump_final(p, PUMP_WRITE_ERROR);
			return (1);
		}
		buf_drop(&p->buf, (size_t)n);
	}
	if (p->buf.len > 0) {
		if (p->wwant == NULL || !event_pending(p->wwant, EV_READ, NULL))
			pump_want_write(p);
		pump_want_read(p);
		return (0);
	}
	if (!(p->flags & PUMP_KEEPBUF))
		buf_release(&p->buf);
	if (p->wev != NULL)
		event_del(p->wev);
	if (p->flags & PUMP_F_ABOVE) {
		p->flags &= ~PUMP_F_ABOVE;
		p->cb(p, PUMP_DRAIN, 0, p->arg);
		if (p->flags & PUMP_F_FINAL)
			return (1);
	}
	if (p->flags & (PUMP_F_EOF | PUMP_F_STOPPED)) {
		pump_flushed(p);
		return (1);
	}
	pump_want_read(p);
	return (0);
}

/* Hand bytes read to the destination: at once, or after what is kept. */
static int
pump_deliver(struct pump *p, const char *data, size_t n)
{
	ssize_t w = 0;

	if (p->tap != NULL && p->tap_where == PUMP_TAP_WRITE)
		p->tap(p->tap_arg, data, n);
	if (p->buf.len == 0) {
		w = pump_write(p, data, n);
		if (w == -1)
			return (-1);
	}
	if ((size_t)w < n) {
		if (pump_keep(p, data + w, n - (size_t)w) == -1)
			return (-1);
		if (p->wwant == NULL || !event_pending(p->wwant, EV_READ, NULL))
			pump_want_write(p);
	}
	return (0);
}

/* Copy n bytes to out with each LF as CR LF; out holds 2n. The length. */
static size_t
pump_crlf_expand(const char *in, size_t n, char *out)
{
	const char *lf;
	char *o = out;
	size_t k;

	while (n > 0 && (lf = memchr(in, '\n', n)) != NULL) {
		k = (size_t)(lf - in);
		memcpy(o, in, k);
		o += k;
		*o++ = '\r';
		*o++ = '\n';
		in += k + 1;
		n -= k + 1;
	}
	memcpy(o, in, n);
	return ((size_t)(o - out) + n);
}

/*
 * Pass bytes through the codec, if any, and deliver them; at_eof flushes
 * the codec. Returns 1 when a final callback was made, 2 when the input
 * was malformed (what came before it is delivered).
 */
static int
pump_transform(struct pump *p, const char *data, size_t n, int at_eof)
{
	size_t out;
	int bad = 0;

	if (p->codec == NULL) {
		if (p->crlf && n > 0) {
			n = pump_crlf_expand(data, n, pump_tscratch);
			data = pump_tscratch;
		}
		if (n > 0 && pump_deliver(p, data, n) == -1) {
			pump_final(p, PUMP_WRITE_ERROR);
			return (1);
		}
		return (0);
	}
	if (at_eof)
		out = codec_finish(p->codec, pump_tscratch, &bad,
		    &p->bad_offset);
	else
		out = codec_feed(p->codec, data, n, pump_tscratch, &bad,
		    &p->bad_offset);
	if (out > 0 && pump_deliver(p, pump_tscratch, out) == -1) {
		pump_final(p, PUMP_WRITE_ERROR);
		return (1);
	}
	return (bad ? 2 : 0);
}

/* The source ended (EOF, or err != 0): flush the codec, then report. */
static void
pump_source_done(struct pump *p, int err)
{
	int r;

	p->flags |= PUMP_F_EOF;
	if (p->flags & PUMP_SRC_POLL)
		event_del(p->rev);
	if (err == 0) {
		r = pump_transform(p, NULL, 0, 1);
		if (r == 1)
			return;
		if (r == 2)
			err = EILSEQ;
	}
	if (err != 0) {
		p->err = err;
		p->cb(p, PUMP_READ_ERROR, 0, p->arg);
	} else
		p->cb(p, PUMP_EOF, 0, p->arg);
	if (p->flags & PUMP_F_FINAL)
		return;
	if (pump_pending(p) == 0)
		pump_flushed(p);
	else
		pump_flush(p);
}

/* A received descriptor is copied: go back to the socket when it ends. */
static void
pump_copy_done(struct pump *p)
{
	close(p->src);
	p->src = p->copy_saved;
	p->copy_saved = -1;
	if (p->nfdq > 0) {
		p->src = p->fdq[0];
		p->copy_saved = p->copy_socket;
		memmove(p->fdq, p->fdq + 1, --p->nfdq * sizeof p->fdq[0]);
		return;
	}
	p->flags |= PUMP_SRC_POLL;
}

/* Start copying the first received descriptor instead of the socket. */
static void
pump_copy_start(struct pump *p)
{
	if (p->copy_saved != -1 || p->nfdq == 0)
		return;
	p->copy_socket = p->src;
	p->copy_saved = p->src;
	p->src = p->fdq[0];
	memmove(p->fdq, p->fdq + 1, --p->nfdq * sizeof p->fdq[0]);
	p->flags &= ~PUMP_SRC_POLL;
	event_del(p->rev);
}

/* Whether the destination can take bytes now. */
static int
pump_dst_writable(struct pump *p)
{
	struct pollfd pfd = { p->dst, POLLOUT, 0 };

	return (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT));
}

/*
 * Move up to rmax bytes without copying them through this process. Returns
 * the bytes moved, 0 at the source's EOF, PUMP_ZC_WAIT_SRC or
 * PUMP_ZC_WAIT_DST when one side is not ready, PUMP_ZC_FAIL_SRC or
 * PUMP_ZC_FAIL_DST on an error (p->err), or PUMP_ZC_UNSUPPORTED.
 */
#define PUMP_ZC_WAIT_SRC (-1)
#define PUMP_ZC_WAIT_DST (-2)
#define PUMP_ZC_FAIL_SRC (-3)
#define PUMP_ZC_FAIL_DST (-4)
#define PUMP_ZC_UNSUPPORTED (-5)
static ssize_t
pump_zc_move(struct pump *p)
{
	ssize_t n;

	do {
		if (p->zc == PUMP_ZC_SENDFILE)
			n = sendfile(p->dst, p->src, NULL, PUMP_ZC_MAX);
		else
			n = splice(p->src, NULL, p->dst, NULL, PUMP_ZC_MAX,
			    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return (n);
	if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
		return (PUMP_ZC_UNSUPPORTED);
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		if (p->zc == PUMP_ZC_SENDFILE)
			return (PUMP_ZC_WAIT_DST);
		/* Either side may be the one not ready: ask the destination. */
		return (pump_dst_writable(p) ? PUMP_ZC_WAIT_SRC
					     : PUMP_ZC_WAIT_DST);
	}
	p->err = errno;
	/* Only a socket source fails on its side (a reset); a broken pipe,
	 * or any failure toward a socket, is the destination's. */
	if (p->zc == PUMP_ZC_SPLICE_OUT && errno != EPIPE)
		return (PUMP_ZC_FAIL_SRC);
	return (PUMP_ZC_FAIL_DST);
}

/*
 * One zero-copy step of the read callback. Returns 1 when the callback
 * should return, 0 to go on with the next step, -1 to fall back to copying.
 */
static int
pump_zc_step(struct pump *p, size_t *moved)
{
	ssize_t n;

	*moved = 0;
	n = pump_zc_move(p);
	switch (n) {
	case PUMP_ZC_UNSUPPORTED:
		p->zc = PUMP_ZC_NONE;
		return (-1);
	case PUMP_ZC_WAIT_SRC:
		return (1); /* the read event stays armed */
	case PUMP_ZC_WAIT_DST:
		/* The kernel's buffer toward the destination is full: a
		 * drain follows when it takes bytes again. */
		p->flags |= PUMP_F_ABOVE;
		if (p->flags & PUMP_SRC_POLL)
			event_del(p->rev);
		pump_want_write(p);
		return (1);
	case PUMP_ZC_FAIL_DST:
		pump_final(p, PUMP_WRITE_ERROR);
		return (1);
	case PUMP_ZC_FAIL_SRC:
		pump_source_done(p, p->err);
		return (1);
	case 0:
		pump_source_done(p, 0);
		return (1);
	}
	*moved = (size_t)n;
	pump_note_read(p, (size_t)n);
	pump_note_write(p, (size_t)n);
	p->cb(p, PUMP_DATA, (size_t)n, p->arg);
	if (p->flags & PUMP_F_FINAL)
		return (1);
	return (0);
}

/*
 * One step of a socket-to-socket pump: fill its pipe from the source as
 * far as it has room, then empty it into the destination. Returns as
 * pump_zc_step; *moved is what was read.
 */
static int
pump_zc_pipe_step(struct pump *p, size_t *moved)
{
	ssize_t n;

	*moved = 0;
	if (p->zpipe[0] == -1 && pump_zc_pipe(p) == -1) {
		p->zc = PUMP_ZC_NONE;
		return (-1);
	}
	if (p->zpend < p->zcap) {
		n = pump_splice(p->src, p->zpipe[1], p->zcap - p->zpend);
		if (n == 0) {
			pump_source_done(p, 0); /* the pipe is flushed first */
			return (1);
		}
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			if (p->zpend == 0 &&
			    (errno == EINVAL || errno == ENOSYS ||
				errno == EOPNOTSUPP)) {
				p->zc = PUMP_ZC_NONE;
				return (-1);
			}
			pump_source_done(p, errno);
			return (1);
		}
		if (n > 0) {
			p->zpend += (size_t)n;
			*moved = (size_t)n;
			pump_note_read(p, (size_t)n);
			p->cb(p, PUMP_DATA, (size_t)n, p->arg);
			if (p->flags & PUMP_F_FINAL)
				return (1);
		}
	}
	if (p->zpend > 0 && pump_zc_pipe_out(p) == -1) {
		pump_final(p, PUMP_WRITE_ERROR);
		return (1);
	}
	if (p->zpend >= p->zcap) {
		/* Full, and the destination takes no more: a drain follows
		 * when it does. */
		p->flags |= PUMP_F_ABOVE;
		if (p->flags & PUMP_SRC_POLL)
			event_del(p->rev);
		pump_want_write(p);
		return (1);
	}
	if (p->zpend > 0)
		pump_want_write(p); /* the rest goes when there is room */
	return (*moved == 0 ? 1 : 0); /* nothing read: the source is dry */
}

/*
 * Read once from the source into dst: through the source's ops, with
 * recvmsg when descriptors may come, or read(2). IO_WANT_* as io_read.
 */
static ssize_t
pump_read_src(struct pump *p, char *dst, size_t room, int *fds, int *nfds)
{
	if (p->copy_saved != -1) {
		/* A received descriptor: plain, whatever the socket is. */
		struct io_end e = { p->src, NULL, NULL };

		return (io_read(&e, dst, room));
	}
	if (p->recv_fds)
		return (fdpass_recv(p->src, dst, room, fds, FDPASS_MAX, nfds));
	return (io_read(p->sio, dst, room));
}

/* The source is readable (or a manual source is wanted): move bytes. */
static void
pump_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pump *p = arg;
	char *dst;
	size_t room;
	ssize_t n;
	int i, r, fds[FDPASS_MAX], nfds = 0, copying;

	(void)fd;
	(void)what;
	if (p->flags & PUMP_F_FINAL)
		return;
	for (i = 0; i < PUMP_BURST; i++) {
		if (p->flags & (PUMP_F_EOF | PUMP_F_STOPPED)) {
			if (pump_pending(p) == 0)
				pump_flushed(p);
			return;
		}
		if (p->buf.len >= p->hwm) {
			pump_want_read(p);
			return;
		}
		if (p->zc != PUMP_ZC_NONE && p->buf.len == 0 &&
		    p->codec == NULL && p->tap == NULL && !p->crlf &&
		    p->send_fd == -1 && !p->recv_fds && !PUMP_OPS(p->sio) &&
		    !PUMP_OPS(p->dio)) {
			r = p->zc == PUMP_ZC_SPLICE_PIPE
			    ? pump_zc_pipe_step(p, &room)
			    : pump_zc_step(p, &room);
			if (r == 1)
				return;
			if (r == 0) {
				if (!(p->flags & PUMP_SRC_POLL))
					break;
				if (room < (p->zc == PUMP_ZC_SPLICE_PIPE
						   ? p->zcap
						   : PUMP_ZC_MAX))
					return; /* drained the source for now */
				continue;
			}
		}
		if (p->buf.len == 0 || p->codec != NULL || p->crlf ||
		    p->tap != NULL) {
			dst = pump_scratch;
			room = p->rmax;
		} else {
			/* Bytes are waiting: read in behind them. */
			if (buf_reserve(&p->buf, p->rmax) == -1) {
				pump_want_read(p);
				return;
			}
			dst = p->buf.p + p->buf.off + p->buf.len;
			room = p->rmax;
		}
		copying = p->copy_saved != -1;
		n = pump_read_src(p, dst, room, fds, &nfds);
		if (copying && n <= 0) {
			/* The end of what a received descriptor had. */
			if (n == -1 && errno == EINTR)
				continue;
			pump_copy_done(p);
			break;
		}
		if (n == IO_WANT_POLLIN)
			return; /* the read event stays armed */
		if (n == IO_WANT_POLLOUT) {
			pump_want(p, &p->rwant, p->src, EV_WRITE, pump_read_cb);
			return;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			pump_source_done(p, errno);
			return;
		}
		for (r = 0; r < nfds; r++) {
			/* Copy what it has now: never wait on it. */
			fcntl(fds[r], F_SETFL,
			    fcntl(fds[r], F_GETFL) | O_NONBLOCK);
			p->fdq[p->nfdq++] = fds[r];
			p->cb(p, PUMP_FD, (size_t)fds[r], p->arg);
		}
		if (n == 0 && p->nfdq == 0) {
			pump_source_done(p, 0);
			return;
		}
		if (!copying && n > 0 && p->tap != NULL &&
		    p->tap_where == PUMP_TAP_READ)
			p->tap(p->tap_arg, dst, (size_t)n);
		if (!copying) {
			pump_note_read(p, (size_t)n);
			if (n > 0)
				p->cb(p, PUMP_DATA, (size_t)n, p->arg);
			if (p->flags & PUMP_F_FINAL)
				return;
		}
		if (dst == pump_scratch) {
			r = pump_transform(p, dst, (size_t)n, 0);
			if (r == 1)
				return;
			if (r == 2) {
				pump_source_done(p, EILSEQ);
				return;
			}
		} else {
			p->buf.len += (size_t)n;
			if (pump_flush(p))
				return;
		}
		if (p->nfdq > 0 && !copying) {
			pump_copy_start(p);
			break;
		}
		if (!(p->flags & PUMP_SRC_POLL))
			break;
		/* A plain source read short is drained for now; an end with
		 * ops may hold more than its descriptor shows: read on. */
		if ((size_t)n < room && !PUMP_OPS(p->sio))
			return;
	}
	/* A manual source, or a busy one: come back after other events. */
	if (!(p->flags & (PUMP_F_EOF | PUMP_F_STOPPED)) &&
	    p->buf.len < p->hwm &&
	    (!(p->flags & PUMP_SRC_POLL) || PUMP_OPS(p->sio)))
		pump_again(p);
	else
		pump_want_read(p);
}

/* The destination is writable again. */
static void
pump_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pump *p = arg;

	(void)fd;
	(void)what;
	if (p->flags & PUMP_F_FINAL)
		return;
	pump_flush(p);
}
