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

/* Print a failure: what failed, where, and the errno it failed with. */
void
log_error(const char *what, const char *where, int err)
{
	char line[1024];
	int n;

	if (where != NULL && *where != '\0') {
		n = snprintf(line, sizeof line, "netkit: %s %s: %s (%s)\n",
		    what, where, strerror(err), log_errno_name(err));
	} else {
		n = snprintf(line, sizeof line, "netkit: %s: %s (%s)\n", what,
		    strerror(err), log_errno_name(err));
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) {
		n = sizeof line - 1;
		line[n - 1] = '\n';
	}
	log_write(line, (size_t)n);
}

/* Print "netkit: " and a formatted line, in one write. */
void
log_vline(const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	memcpy(line, "netkit: ", 8);
	n = vsnprintf(line + 8, sizeof line - 9, fmt, ap);
	if (n < 0)
		return;
	n += 8;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	log_write(line, (size_t)n);
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
