/*
 * stdin and stdout as ends of a relay, whatever they are: a pipe, a
 * socket, a tty (the loop can watch these), a regular file or a device
 * such as /dev/null (it cannot: they are read and written whenever
 * wanted), or closed.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "netkit.h"

static int stdio_closed[3];

/*
 * Note which of fds 0-2 were closed at start, and put /dev/null in their
 * place so that no socket can take their number.
 */
void
stdio_init(void)
{
	int fd, nfd;

	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		stdio_closed[fd] = 1;
		nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nfd != -1 && nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
}

/* Describe fd 0 or 1 as an end: closed, watched by the loop, or not. */
void
stdio_open(struct stdio_end *end, int fd)
{
	struct stat st;
	int fl;

	end->fd = fd;
	end->flags = 0;
	end->saved_flags = -1;
	if (stdio_closed[fd]) {
		end->fd = -1;
		end->flags = STDIO_CLOSED;
		return;
	}
	if (fstat(fd, &st) == -1)
		return;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && isatty(fd)))
		end->flags |= STDIO_POLL;
	if (!(end->flags & STDIO_POLL))
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl != -1 && !(fl & O_NONBLOCK)) {
		if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
			end->saved_flags = fl;
	}
#ifdef F_SETPIPE_SZ
	/* Larger pipes mean fewer, larger reads and writes. */
	if (S_ISFIFO(st.st_mode))
		fcntl(fd, F_SETPIPE_SZ, 1024 * 1024);
#endif
}

/* Put back the descriptor flags changed by stdio_open. */
void
stdio_restore(struct stdio_end *end)
{
	if (end->fd != -1 && end->saved_flags != -1) {
		fcntl(end->fd, F_SETFL, end->saved_flags);
		end->saved_flags = -1;
	}
}
