/*
 * Error and warning lines: one line each on stderr, in the form
 * "netkit: <what> <where>: <message> (<ERRNO NAME>)".
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netkit.h"

static int log_quiet;

static const struct {
	int err;
	const char *name;
} log_errnos[] = {
	{ EACCES, "EACCES" },
	{ EADDRINUSE, "EADDRINUSE" },
	{ EADDRNOTAVAIL, "EADDRNOTAVAIL" },
	{ EAFNOSUPPORT, "EAFNOSUPPORT" },
	{ EAGAIN, "EAGAIN" },
	{ EALREADY, "EALREADY" },
	{ EBADF, "EBADF" },
	{ ECONNABORTED, "ECONNABORTED" },
	{ ECONNREFUSED, "ECONNREFUSED" },
	{ ECONNRESET, "ECONNRESET" },
	{ EDESTADDRREQ, "EDESTADDRREQ" },
	{ EEXIST, "EEXIST" },
	{ EFAULT, "EFAULT" },
	{ EFBIG, "EFBIG" },
	{ EHOSTDOWN, "EHOSTDOWN" },
	{ EHOSTUNREACH, "EHOSTUNREACH" },
	{ EINPROGRESS, "EINPROGRESS" },
	{ EILSEQ, "EILSEQ" },
	{ EINTR, "EINTR" },
	{ EINVAL, "EINVAL" },
	{ EIO, "EIO" },
	{ EISCONN, "EISCONN" },
	{ EISDIR, "EISDIR" },
	{ ELOOP, "ELOOP" },
	{ EMFILE, "EMFILE" },
	{ EMSGSIZE, "EMSGSIZE" },
	{ ENAMETOOLONG, "ENAMETOOLONG" },
	{ ENETDOWN, "ENETDOWN" },
	{ ENETRESET, "ENETRESET" },
	{ ENETUNREACH, "ENETUNREACH" },
	{ ENFILE, "ENFILE" },
	{ ENOBUFS, "ENOBUFS" },
	{ ENODEV, "ENODEV" },
	{ ENOENT, "ENOENT" },
	{ ENOMEM, "ENOMEM" },
	{ ENOSPC, "ENOSPC" },
	{ ENOTCONN, "ENOTCONN" },
	{ ENOTDIR, "ENOTDIR" },
	{ ENOTSOCK, "ENOTSOCK" },
	{ ENOTSUP, "ENOTSUP" },
	{ ENXIO, "ENXIO" },
	{ EOPNOTSUPP, "EOPNOTSUPP" },
	{ EPERM, "EPERM" },
	{ EPIPE, "EPIPE" },
	{ EPROTO, "EPROTO" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT" },
	{ EPROTOTYPE, "EPROTOTYPE" },
	{ EROFS, "EROFS" },
	{ ESHUTDOWN, "ESHUTDOWN" },
	{ ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT" },
	{ ETIMEDOUT, "ETIMEDOUT" },
	{ EXDEV, "EXDEV" },
};

/* Set whether warnings are shown (-q turns them off). */
void
log_init(int quiet)
{
	log_quiet = quiet;
}

/* The symbolic name of an errno value, such as "ECONNREFUSED". */
const char *
log_errno_name(int err)
{
	size_t i;

	for (i = 0; i < sizeof log_errnos / sizeof log_errnos[0]; i++) {
		if (log_errnos[i].err == err)
			return (log_errnos[i].name);
	}
	return ("EUNKNOWN");
}

/* Write one finished line to stderr in a single write. */
void
log_write(const char *line, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, line, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

/*
 * Write "netkit: " and a message as one line: control bytes in it (a
 * newline in a host the user typed, say) are escaped, so that a message is
 * always exactly one line.
 */
static void
log_emit(const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	char line[2048];
	size_t n = 0;
	unsigned char c;

	memcpy(line, "netkit: ", 8);
	n = 8;
	for (; *msg != '\0' && n < sizeof line - 5; msg++) {
		c = (unsigned char)*msg;
		if (c >= 0x20 && c != 0x7f) {
			line[n++] = (char)c;
			continue;
		}
		line[n++] = '\\';
		if (c == '\n')
			line[n++] = 'n';
		else if (c == '\t')
			line[n++] = 't';
		else if (c == '\r')
			line[n++] = 'r';
		else {
			line[n++] = 'x';
			line[n++] = hex[c >> 4];
			line[n++] = hex[c & 0xf];
		}
	}
	line[n++] = '\n';
	log_write(line, n);
}

/* Print a failure: what failed, where, and the errno it failed with. */
void
log_error(const char *what, const char *where, int err)
{
	char msg[1024];

	if (where != NULL && *where != '\0') {
		snprintf(msg, sizeof msg, "%s %s: %s (%s)", what, where,
		    strerror(err), log_errno_name(err));
	} else {
		snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err),
		    log_errno_name(err));
	}
	log_emit(msg);
}

/* Print "netkit: " and a formatted message as one line. */
void
log_vline(const char *fmt, va_list ap)
{
	char msg[1024];

	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		return;
	log_emit(msg);
}

/* Print a failure line that has no errno. */
void
log_errorx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
}

/* Print a warning line, unless -q was given. */
void
log_warn(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
}

/* Print a failure whose message and code are given as strings. */
void
log_error_code(const char *what, const char *where, const char *message,
    const char *code)
{
	if (where != NULL && *where != '\0')
		log_errorx("%s %s: %s (%s)", what, where, message, code);
	else
		log_errorx("%s: %s (%s)", what, message, code);
}
