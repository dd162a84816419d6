/*
 * Descriptor passing over UNIX sockets (SCM_RIGHTS): Node's
 * write(data, encoding, fd) and its 'fd' event.
 */

#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "netkit.h"

/* Send data with a descriptor attached to it; as write(2) otherwise. */
ssize_t
fdpass_send(int sock, const char *data, size_t len, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;

	memset(&msg, 0, sizeof msg);
	memset(&cmsg, 0, sizeof cmsg);
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof cmsg.buf;
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return (sendmsg(sock, &msg, MSG_NOSIGNAL));
}

/*
 * Read data and any descriptors that came with it (at most max, the rest
 * closed); as read(2) otherwise. *nfds is the number received.
 */
ssize_t
fdpass_recv(int sock, char *buf, size_t len, int *fds, int max, int *nfds)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cmsg;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;
	size_t i, count;
	int fd;

	*nfds = 0;
	memset(&msg, 0, sizeof msg);
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof cmsg.buf;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n == -1)
		return (-1);
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (*nfds < max)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	return (n);
}
