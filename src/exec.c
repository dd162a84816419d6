/*
 * --exec: run "/bin/sh -c CMD" for a connection, with the socket itself as
 * the command's stdin and stdout (no relay in between, so nothing the
 * command writes can be cut short by netkit), the NETKIT_* address
 * variables in its environment, and no other descriptor than stdio.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <linux/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netkit.h"

/* Split a socket address into an address string and a port string. */
static void
exec_addr(const struct sockaddr_storage *ss, socklen_t len, char *addr,
    size_t asize, char *port, size_t psize)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char full[ENDPOINT_ADDRSTRLEN];

	*addr = *port = '\0';
	switch (ss->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &sin->sin_addr, addr, asize);
		snprintf(port, psize, "%u", ntohs(sin->sin_port));
		break;
	case AF_INET6:
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr,
			    asize);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr, asize);
		snprintf(port, psize, "%u", ntohs(sin6->sin6_port));
		break;
	case AF_UNIX:
		endpoint_format((const struct sockaddr *)ss, len, full,
		    sizeof full);
		snprintf(addr, asize, "%s", full);
		break;
	}
}

/* Put the NETKIT_* variables of a connection into the environment. */
static void
exec_environ(int fd, const char *unix_path)
{
	static const struct {
		int (*get)(int, struct sockaddr *, socklen_t *);
		const char *addr_var;
		const char *port_var;
	} sides[] = {
		{ getpeername, "NETKIT_REMOTE_ADDR", "NETKIT_REMOTE_PORT" },
		{ getsockname, "NETKIT_LOCAL_ADDR", "NETKIT_LOCAL_PORT" },
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[ENDPOINT_ADDRSTRLEN], port[8];
	size_t i;

	for (i = 0; i < sizeof sides / sizeof sides[0]; i++) {
		len = sizeof ss;
		if (sides[i].get(fd, (struct sockaddr *)&ss, &len) != 0)
			continue;
		exec_addr(&ss, len, addr, sizeof addr, port, sizeof port);
		if (*addr == '\0' && unix_path != NULL)
			snprintf(addr, sizeof addr, "%s", unix_path);
		setenv(sides[i].addr_var, addr, 1);
		setenv(sides[i].port_var, port, 1);
	}
}

/*
 * Start the command on a connected socket fd, with the addresses of
 * env_fd in its environment. The child gets its own process group (so the
 * whole group can be killed) and the default signal dispositions. The
 * caller keeps fd and must close it. -1 on failure.
 */
static pid_t
exec_spawn(const char *cmd, int fd, int env_fd, const char *unix_path)
{
	sigset_t all, old;
	pid_t pid;
	int fl;
#ifndef HAVE_CLOSEFROM
	long cfd, maxfd;
#endif

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid != 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return (pid);
	}

	/* The child. */
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	exec_environ(env_fd, unix_path);
	fl = fcntl(fd, F_GETFL);
	if (fl != -1)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1)
		_exit(127);
#ifdef HAVE_CLOSEFROM
	closefrom(STDERR_FILENO + 1);
#else
	/* No descriptor is above the soft limit (netkit never lowers it). */
	maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0)
		maxfd = 1024;
	for (cfd = STDERR_FILENO + 1; cfd < maxfd; cfd++)
		close((int)cfd);
#endif
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* The exit status to report for a child: its code, or 128 + its signal. */
int
exec_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return (WEXITSTATUS(wstatus));
	if (WIFSIGNALED(wstatus))
		return (128 + WTERMSIG(wstatus));
	return (EXIT_RUNTIME);
}

/* The commands running, for reaping and for killing their groups. */
struct exec_child {
	pid_t pid;
	int id;
	int fd; /* our copy of the socket, for the byte counts at the end */
	int active; /* made by connect (its SYN is in the kernel's count) */
	int killed; /* signals sent since the connection went away */
	struct relay *relay; /* the bridge to a TLS connection, or NULL */
	int relay_fd; /* netkit's end of the command's socket */
	int exited; /* reaped, waiting for the bridge to end */
	int status;
	LIST_ENTRY(exec_child) entry;
};
/* clang-format off */
static LIST_HEAD(, exec_child) exec_children =
    LIST_HEAD_INITIALIZER(exec_children);
/* clang-format on */
static struct event *exec_sigchld;
static struct event_base *exec_base;

static void exec_bridge_finish(struct exec_child *);
static struct event *exec_watch;
static void (*exec_done)(int, int, uint64_t, uint64_t, int, int, void *);
static void *exec_arg;

/* TCP states (the kernel's tcp_states.h), for reading struct tcp_info. */
#define EXEC_TCP_FIN_WAIT2 5
#define EXEC_TCP_TIME_WAIT 6
#define EXEC_TCP_CLOSE 7
#define EXEC_TCP_CLOSE_WAIT 8
#define EXEC_TCP_LAST_ACK 9
#define EXEC_TCP_CLOSING 11

/*
 * The bytes a command moved over its TCP socket, as the kernel counted
 * them (received; sent and acknowledged). A UNIX socket keeps no counts:
 * 0 and 0.
 */
static void
exec_counts(int fd, int active, uint64_t *nread, uint64_t *nwritten)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	uint64_t ctl;

	*nread = *nwritten = 0;
	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return;
	/* The kernel counts a FIN received as a byte ... */
	ctl = ti.tcpi_state == EXEC_TCP_CLOSE_WAIT ||
	    ti.tcpi_state == EXEC_TCP_LAST_ACK ||
	    ti.tcpi_state == EXEC_TCP_CLOSING ||
	    ti.tcpi_state == EXEC_TCP_TIME_WAIT;
	*nread = ti.tcpi_bytes_received > ctl ? ti.tcpi_bytes_received - ctl
					      : 0;
	/* ... and a SYN (of a connect) or FIN of ours, once acknowledged. */
	ctl = (active ? 1 : 0) +
	    (ti.tcpi_state == EXEC_TCP_FIN_WAIT2 ||
		ti.tcpi_state == EXEC_TCP_TIME_WAIT ||
		ti.tcpi_state == EXEC_TCP_CLOSE);
	*nwritten = ti.tcpi_bytes_acked > ctl ? ti.tcpi_bytes_acked - ctl : 0;
}

/* SIGCHLD: reap every command that ended and report it. */
static void
exec_reap_cb(evutil_socket_t sig, short what, void *arg)
{
	struct exec_child *c, *next;
	uint64_t nread, nwritten;
	int wstatus;
	pid_t pid;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		for (c = LIST_FIRST(&exec_children); c != NULL; c = next) {
			next = LIST_NEXT(c, entry);
			if (c->pid != pid)
				continue;
			if (c->relay != NULL) {
				/* Done once the bridge is over too. */
				c->exited = 1;
				c->status = exec_status(wstatus);
				if (c->relay_fd == -1)
					exec_bridge_finish(c);
				break;
			}
			LIST_REMOVE(c, entry);
			exec_counts(c->fd, c->active, &nread, &nwritten);
			close(c->fd);
			exec_done(c->id, exec_status(wstatus), nread, nwritten,
			    c->killed > 0, 0, exec_arg);
			free(c);
			break;
		}
	}
}

/* How often the connections of running commands are looked at. */
#define EXEC_WATCH_MS 250

/*
 * Every EXEC_WATCH_MS: a command whose connection has gone away (reset,
 * or closed in both directions: POLLHUP or POLLERR on our copy, which
 * reads nothing) gets SIGTERM on its process group, then SIGKILL.
 */
static void
exec_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, EXEC_WATCH_MS * 1000 };
	struct exec_child *c;
	struct pollfd pfd;

	(void)fd;
	(void)what;
	(void)arg;
	LIST_FOREACH(c, &exec_children, entry) {
		pfd.fd = c->fd;
		pfd.events = 0;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 1 ||
		    !(pfd.revents & (POLLHUP | POLLERR)))
			continue;
		kill(-c->pid, c->killed++ < 4 ? SIGTERM : SIGKILL);
	}
	if (!LIST_EMPTY(&exec_children))
		evtimer_add(exec_watch, &tv);
}

/*
 * Watch for commands ending; done gets the connection id, the status, the
 * byte counts and whether the connection went away under the command.
 */
int
exec_init(struct event_base *base,
    void (*done)(int, int, uint64_t, uint64_t, int, int, void *), void *arg)
{
	exec_done = done;
	exec_arg = arg;
	exec_base = base;
	exec_sigchld = evsignal_new(base, SIGCHLD, exec_reap_cb, NULL);
	exec_watch = evtimer_new(base, exec_watch_cb, NULL);
	if (exec_sigchld == NULL || exec_watch == NULL ||
	    evsignal_add(exec_sigchld, NULL) == -1)
		return (-1);
	return (0);
}

/*
 * Run the command for connection id on socket fd (active: made by
 * connect, not accepted), with the NETKIT_* addresses of env_fd (fd
 * itself, or the connection that netkit relays to fd). Our copy of fd is
 * kept until the command ends (the connection closes then), to read the
 * byte counts. -1 with errno when the command could not start (fd closed).
 */
int
exec_start(const char *cmd, int fd, int env_fd, int id, int active,
    const char *unix_path)
{
	struct exec_child *c;
	int saved;

	c = calloc(1, sizeof *c);
	if (c == NULL) {
		close(fd);
		errno = ENOMEM;
		return (-1);
	}
	c->pid = exec_spawn(cmd, fd, env_fd, unix_path);
	if (c->pid == -1) {
		saved = errno;
		close(fd);
		free(c);
		errno = saved;
		return (-1);
	}
	c->id = id;
	c->fd = fd;
	c->active = active;
	LIST_INSERT_HEAD(&exec_children, c, entry);
	if (!evtimer_pending(exec_watch, NULL))
		exec_watch_cb(-1, 0, NULL);
	return (0);
}

/* Send a signal to the process group of every running command. */
void
exec_kill(int sig)
{
	struct exec_child *c;

	LIST_FOREACH(c, &exec_children, entry) {
		if (!c->exited)
			kill(-c->pid, sig);
		if (c->relay != NULL)
			relay_abort(c->relay);
	}
}

/* Stop watching; forget the children (they are not waited for). */
void
exec_cleanup(void)
{
	struct exec_child *c;

	if (exec_sigchld != NULL)
		event_free(exec_sigchld);
	exec_sigchld = NULL;
	if (exec_watch != NULL)
		event_free(exec_watch);
	exec_watch = NULL;
	while ((c = LIST_FIRST(&exec_children)) != NULL) {
		LIST_REMOVE(c, entry);
		close(c->fd);
		if (c->relay != NULL) {
			relay_free(c->relay);
			close(c->relay_fd);
		}
		free(c);
	}
}

/*
 * The bridge of a command is over (the TLS connection ended, its
 * socket.close written): done once the command has exited too.
 */
static void
exec_bridge_done(struct relay *r, void *arg)
{
	struct exec_child *c = arg;

	(void)r;
	close(c->relay_fd); /* the command's EOF */
	c->relay_fd = -1;
	if (!c->exited) {
		/* The connection has ended both ways: as the watch would. */
		kill(-c->pid, SIGTERM);
		c->killed++;
		return;
	}
	exec_bridge_finish(c);
}

/* A bridged command has exited and its bridge is over: report it. */
static void
exec_bridge_finish(struct exec_child *c)
{
	LIST_REMOVE(c, entry);
	relay_free(c->relay);
	exec_done(c->id, c->status, 0, 0, 0, 1, exec_arg);
	free(c);
}

static const struct relay_cb exec_bridge_cb = { exec_bridge_done };

/*
 * Run the command for a connection, which it owns from now on (also on
 * failure). A plain socket becomes the command's stdin and stdout. A
 * connection that is not a plain socket (TLS) is bridged: the command gets
 * one end of a socket pair, and a relay moves plaintext between the other
 * end and the connection; the NETKIT_* variables name the connection. -1
 * with errno when it could not start; the connection is closed then.
 */
int
exec_start_conn(const char *cmd, const struct options *o, struct conn *conn,
    int active, const char *unix_path)
{
	struct stdio_end end = { -1, STDIO_POLL, -1 };
	struct exec_child *c;
	int sp[2], id = conn->id, fd = conn->io.fd, err;

	if (conn->io.ops == NULL) {
		conn_set_fd(conn, -1, NULL); /* the command's */
		conn_free(conn);
		return (exec_start(cmd, fd, fd, id, active, unix_path));
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		sp) == -1) {
		err = errno;
		conn_close(conn);
		conn_free(conn);
		errno = err;
		return (-1);
	}
	if (exec_start(cmd, sp[1], conn->io.fd, id, active, unix_path) == -1) {
		err = errno;
		close(sp[0]);
		conn_close(conn);
		conn_free(conn);
		errno = err;
		return (-1);
	}
	/*
	 * exec_start put the child first in the list. Its copy of the pair's
	 * end goes: the relay reads the command's EOF only once the command
	 * holds the last one, and the bridge's end tells when the connection
	 * has gone.
	 */
	c = LIST_FIRST(&exec_children);
	close(c->fd);
	c->fd = -1;
	c->relay_fd = sp[0];
	end.fd = sp[0];
	c->relay = relay_new(exec_base, o, conn, &end, &end, &exec_bridge_cb,
	    c);
	if (c->relay == NULL) {
		conn_close(conn);
		conn_free(conn);
		close(sp[0]);
		c->relay_fd = -1;
		kill(-c->pid, SIGTERM);
		return (0); /* reaped as a command whose connection is gone */
	}
	relay_bridge(c->relay);
	relay_start(c->relay);
	return (0);
}
