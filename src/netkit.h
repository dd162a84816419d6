/*
 * netkit: a netcat-like toolkit on libevent.
 *
 * The only project header: structs, enums and prototypes, grouped by the
 * file that defines them.
 */

#ifndef NETKIT_H
#define NETKIT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct event_base;
struct event;
struct conn;
struct acl;

#include <event2/util.h>

/* Exit statuses. */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* Default high-water mark of a relay direction, in bytes. */
#define NETKIT_BUFFER_SIZE (256 * 1024)

/* Size of one read or write on the bulk path. */
#define NETKIT_CHUNK (256 * 1024)

/*
 * A command's bit (struct cmd_entry.mask); an option row names the
 * commands it applies to by these bits. A new command takes the next bit
 * (scan 0x10, forward 0x20) and is added to the rows of the options it
 * takes.
 */
#define CMD_LISTEN 0x01
#define CMD_CONNECT 0x02
#define CMD_ECHO 0x04
#define CMD_ISIP 0x08
#define CMD_SCAN 0x10
#define CMD_FORWARD 0x20
#define CMD_SOCKETS (CMD_LISTEN | CMD_CONNECT | CMD_ECHO) /* open sockets */

enum on_timeout {
	ON_TIMEOUT_END,
	ON_TIMEOUT_DESTROY,
	ON_TIMEOUT_IGNORE,
};

enum events_format {
	EVENTS_OFF,
	EVENTS_TEXT,
	EVENTS_JSON,
};

/* A --proxy URL, parsed (proxy.c). */
enum proxy_type {
	PROXY_SOCKS5, /* names resolved here */
	PROXY_SOCKS5H, /* names resolved by the proxy */
	PROXY_HTTP, /* HTTP CONNECT */
};
struct proxy {
	enum proxy_type type;
	char host[256];
	int port;
	int auth; /* a username and password were given */
	char user[256];
	char pass[256];
};

/* The parsed command line of a command (opts_parse). */
struct options {
	int cmd; /* CMD_* bit of the running command */
	const char *name; /* its name, for messages */
	int argc; /* operands left to the command (CMD_ARGS_OWN) */
	char **argv;

	const char *host;
	int port; /* -1: not given */
	const char *unix_path;
	int fd; /* --fd, -1: not given */
	int family; /* AF_UNSPEC, AF_INET or AF_INET6 */
	int family_conflict; /* both -4 and -6 given */

	int allow_half_open;
	int no_shutdown;
	long timeout_ms; /* 0: none */
	enum on_timeout on_timeout;
	int no_delay;
	int keepalive;
	long keepalive_ms; /* -1: not given */
	long max_connections; /* -1: no limit */
	long retry; /* 0: none, -1: forever */
	long connect_timeout_ms; /* 0: none */
	long attempt_delay_ms; /* Happy Eyeballs: between attempts */
	long concurrency; /* scan: attempts in flight, 0: as many as fit */
	const char *source; /* -s: the address to bind before connecting */
	int source_port; /* --source-port, -1: not given */
	const char *proxy_url; /* --proxy, as given */
	struct proxy proxy; /* --proxy, parsed */
	struct acl *acl; /* --allow, --deny and their files; NULL: none */
	size_t buffer_size;
	int keep_open;
	int broker; /* listen -k --broker: each client's bytes to the others */
	const char *exec_cmd;
	const char *send_fd_path;
	int recv_fd;
	int encoding; /* enum encoding of what is written to stdout */
	int write_encoding; /* enum encoding of stdin */
	const char *write_encoding_name;

	int udp; /* -u: datagrams */
	int lines; /* --lines: each line of stdin one datagram */
	int timeout_set; /* -t was given */
	int on_timeout_set; /* --on-timeout was given */

	int tls; /* --tls (forward: from clients) */
	int tls_to; /* forward --tls-to: TLS to TO */
	const char *to_host; /* forward: TO, HOST:PORT or unix:PATH */
	int to_port;
	const char *to_unix;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	const char *tls_servername;
	int tls_insecure;
	int tls_verify_client;
	const char *tls_alpn;
	int tls_min_version; /* 0 (1.2), 12 or 13 */

	int hexdump; /* --hexdump */
	const char *hexdump_path; /* its FILE, or NULL: stderr */
	int stats; /* --stats */
	int progress; /* --progress */
	int crlf; /* --crlf */

	int verbose;
	int quiet;
	enum events_format events;
};

/* acl.c: access lists (--allow, --deny), Node's BlockList */
struct acl *acl_new(void);
void acl_free(struct acl *);
int acl_add(struct acl *, const char *, int);
int acl_add_file(struct acl *, const char *, int);
const char *acl_error(const struct acl *);
int acl_allows(const struct acl *, const struct sockaddr *);

/* cmd.c */
/*
 * How a command's operands are parsed (struct cmd_entry.args). Operands
 * left to the command are data, so options end at the first one.
 */
enum cmd_args {
	CMD_ARGS_NONE, /* none */
	CMD_ARGS_HOST_PORT, /* [HOST] PORT, the same as -H HOST -p PORT */
	CMD_ARGS_OWN, /* left to the command: o->argc, o->argv */
	CMD_ARGS_MIXED, /* the same, with options anywhere among them */
	CMD_ARGS_FROM_TO, /* forward's FROM (into the address) and TO */
};

/* What the address of a command is for (-p, -H, -U, --fd, [HOST] PORT). */
enum cmd_address {
	CMD_ADDRESS_NONE, /* the command takes none */
	CMD_ADDRESS_LISTEN, /* listen on it: required, port 0 binds any */
	CMD_ADDRESS_CONNECT, /* connect to it: required, not port 0 */
};

/* A command: its facts, and the function that runs it. */
struct cmd_entry {
	const char *name;
	const char *summary; /* its line under "Commands:" in netkit --help */
	const char *synopsis; /* lines after "netkit ", newline separated */
	int (*exec)(const struct cmd_entry *, int, char **);

	/* What opts_parse needs to know. */
	int mask; /* its CMD_* bit: the option rows that apply to it */
	enum cmd_args args;
	enum cmd_address address;
	size_t buffer_size; /* default --buffer-size */
};
extern const struct cmd_entry *cmd_table[];
const struct cmd_entry *cmd_find(const char *);
void cmd_usage(FILE *);
void cmd_help(const struct cmd_entry *, FILE *);
void cmd_complete(FILE *);
int cmd_usage_error(const struct cmd_entry *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* opts.c */
int opts_parse(const struct cmd_entry *, int, char **, struct options *);
void opts_free(struct options *);
void opts_help(const struct cmd_entry *, FILE *);
void opts_complete(const struct cmd_entry *, FILE *);
int opts_number(const char *, long, long, long *);
int opts_port(const char *, int *);
int opts_check_source_host(const struct cmd_entry *, const struct options *,
    const char *);

/* cmd-*.c */
extern const struct cmd_entry cmd_listen_entry;
extern const struct cmd_entry cmd_connect_entry;
extern const struct cmd_entry cmd_echo_entry;
extern const struct cmd_entry cmd_isip_entry;
extern const struct cmd_entry cmd_scan_entry;
extern const struct cmd_entry cmd_forward_entry;

/* isip.c */
int isip_v4(const char *, size_t);
int isip_v6(const char *, size_t);
int isip(const char *, size_t);

/* encoding.c */
enum encoding {
	ENC_BINARY,
	ENC_UTF8,
	ENC_ASCII,
	ENC_BASE64,
	ENC_HEX,
};
struct codec;
int encoding_parse(const char *, int, enum encoding *);
const char *encoding_name(size_t, int);
struct codec *codec_new(enum encoding, int);
void codec_free(struct codec *);
size_t codec_max_out(const struct codec *, size_t);
size_t codec_feed(struct codec *, const char *, size_t, char *, int *,
    uint64_t *);
size_t codec_finish(struct codec *, char *, int *, uint64_t *);

/* exec.c */
int exec_status(int);
int exec_init(struct event_base *,
    void (*)(int, int, uint64_t, uint64_t, int, int, void *), void *);
int exec_start_conn(const char *, const struct options *, struct conn *, int,
    const char *);
int exec_start(const char *, int, int, int, int, const char *);
void exec_kill(int);
void exec_cleanup(void);

/* log.c */
void log_init(int);
void log_error(const char *, const char *, int);
void log_error_code(const char *, const char *, const char *, const char *);
void log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
const char *log_errno_name(int);
void log_write(const char *, size_t);
void log_vline(const char *, va_list);

/* events.c */
#define EVF_STR 's'
#define EVF_INT 'i'
#define EVF_BOOL 'b'
struct ev_field {
	const char *key;
	int type;
	const char *s;
	long long n;
};
/* clang-format off */
#define EVS(k, v) { (k), EVF_STR, (v), 0 }
#define EVI(k, v) { (k), EVF_INT, NULL, (long long)(v) }
#define EVB(k, v) { (k), EVF_BOOL, NULL, (v) ? 1 : 0 }
#define EVENT(name, ...)                                                   \
	do {                                                               \
		if (events_enabled()) {                                    \
			struct ev_field ev_f_[] = { __VA_ARGS__ };         \
			events_emit((name), ev_f_,                         \
			    sizeof ev_f_ / sizeof ev_f_[0]);               \
		}                                                          \
	} while (0)
/* clang-format on */
void events_init(enum events_format, int);
int events_enabled(void);
void events_emit(const char *, const struct ev_field *, size_t);
void events_verbose(const char *, ...) __attribute__((format(printf, 1, 2)));
size_t events_format_line(char *, size_t, enum events_format, const char *,
    const struct ev_field *, size_t);

/* endpoint.c */
#define ENDPOINT_ADDRSTRLEN 128 /* also holds a UNIX path */
struct endpoint_error {
	int err; /* errno value, or 0 when code and message say it */
	const char *code; /* such as "ENOTFOUND" when err is 0 */
	char message[128];
	char where[ENDPOINT_ADDRSTRLEN + 16];
};
const char *endpoint_error_code(const struct endpoint_error *);
const char *endpoint_error_message(const struct endpoint_error *);
void endpoint_format(const struct sockaddr *, socklen_t, char *, size_t);
void endpoint_local(int, char *, size_t);
void endpoint_remote(int, char *, size_t);
int endpoint_listen(const struct options *, struct endpoint_error *);
void endpoint_unlink(void);
struct addrinfo *endpoint_resolve(const struct options *,
    struct endpoint_error *);
int endpoint_abstract(const char *);
int endpoint_unix_addr(const char *, struct sockaddr_storage *, socklen_t *);
int endpoint_source(const struct options *, int, struct sockaddr_storage *,
    socklen_t *);
int endpoint_connect_start(const struct sockaddr *, socklen_t, int,
    const struct sockaddr *, socklen_t);
void endpoint_sockopts(int, const struct options *);
void endpoint_reset(int);
void endpoint_pktinfo(int);
int endpoint_inherit(int, int, int, struct endpoint_error *);

/* server.c: the accept loop shared by listen and echo */
struct server;
struct server_cb {
	/* a connection was accepted (and its TLS handshake is done) */
	void (*accept)(struct server *, struct conn *, void *);
	/* a second signal: close every connection at once */
	void (*abort)(struct server *, void *);
	/* a connection failed before accept (may be NULL): code, message */
	void (*refused)(struct server *, struct conn *, const char *,
	    const char *, void *);
	/* a datagram server stops: end every peer now (may be NULL) */
	void (*stop)(struct server *, void *);
};
struct server *server_start(struct event_base *, const struct options *,
    const struct server_cb *, void *, int, int *);
struct server *server_new(struct event_base *, int, const struct options *,
    const struct server_cb *, void *);
void server_free(struct server *);
void server_announce(struct server *);
void server_stop(struct server *);
void server_conn_closed(struct server *);
#define SERVER_BLOCKED (-1) /* server_peer: the access lists refuse it */
int server_peer(struct server *, const struct sockaddr *, const char *,
    const char *);
int server_fd(const struct server *);

/* buf.c */
struct buf {
	char *p;
	size_t off; /* where the data starts */
	size_t len; /* bytes of data */
	size_t cap; /* bytes allocated */
};
int buf_reserve(struct buf *, size_t);
int buf_add(struct buf *, const void *, size_t);
void buf_drop(struct buf *, size_t);
void buf_release(struct buf *);
void buf_free(struct buf *);

/* io.c: the ends of a pump; an end with ops is not a plain descriptor */
#define IO_WANT_POLLIN (-2) /* call again once the descriptor is readable */
#define IO_WANT_POLLOUT (-3) /* call again once it is writable */
struct io_ops {
	ssize_t (*read)(void *, void *, size_t);
	ssize_t (*write)(void *, const void *, size_t);
	int (*shutdown)(void *); /* end the write side (before the FIN) */
	void (*close)(void *); /* free the session; the descriptor stays */
};
struct io_end {
	int fd;
	const struct io_ops *ops; /* NULL: a plain descriptor */
	void *ctx;
};
ssize_t io_read(const struct io_end *, void *, size_t);
ssize_t io_write(const struct io_end *, const void *, size_t);
struct event *io_again_new(struct event_base *,
    void (*)(evutil_socket_t, short, void *), void *);
void io_again(struct event *);

/* conn.c: a connection's life */
#define CONN_END 1 /* the idle timeout asks for a graceful end */
#define CONN_DESTROY 2 /* the idle timeout asks to close at once */
struct conn;
struct conn_cb {
	void (*timeout)(struct conn *, int, void *); /* CONN_END or DESTROY */
};
struct conn {
	struct event_base *base;
	const struct options *o;
	int id;
	struct io_end io; /* the socket; io.fd is -1 once closed */
	char *remote; /* the peer, for messages ("" when unknown) */
	uint64_t nread; /* bytes received from the peer */
	uint64_t nwritten; /* bytes sent to the peer */
	struct timeval last_io;
	int flags;
#define CONN_ERROR 0x1 /* socket.error was reported */
#define CONN_ENDING 0x2 /* the idle timeout asked for an end */
#define CONN_CLOSED 0x4 /* socket.close was reported */
#define CONN_UNCOUNTED 0x8 /* forward's upstream side: not in the totals */
	int timeouts; /* idle periods that asked for an end or a close */
	struct event *timer;
	struct event *shut_ev; /* close_notify waits for room */
	struct timeval reported; /* the last I/O time reported idle */
	const struct conn_cb *cb;
	void *arg;
	struct timespec started; /* CLOCK_MONOTONIC, for socket.stats */
	LIST_ENTRY(conn) live; /* every connection not yet freed */
};
struct conn *conn_new(struct event_base *, const struct options *, int, int,
    const char *, const struct conn_cb *, void *);
void conn_set_fd(struct conn *, int, const char *);
void conn_start(struct conn *);
void conn_io(struct conn *);
int conn_error(struct conn *, int);
void conn_error_text(const struct conn *, int, const char **, const char **);
int conn_error_code(struct conn *, const char *, const char *);
int conn_end(struct conn *);
void conn_shutdown(struct conn *);
void conn_close(struct conn *);
void conn_close_pair(struct conn *, struct conn *, int);
void conn_totals(uint64_t *, uint64_t *);
void conn_stats_all(void);
void conn_close_event(int, int, uint64_t, uint64_t);
void conn_free(struct conn *);

/* pump.c */
#define PUMP_SRC_POLL 0x1 /* the loop tells when the source is readable */
#define PUMP_DST_POLL 0x2 /* the loop tells when the destination is writable */
#define PUMP_KEEPBUF 0x4 /* keep the buffer once made */
#define PUMP_SPLICE 0x8 /* socket to socket: through a pipe of its own */
#define PUMP_DATA 1
#define PUMP_EOF 2
#define PUMP_DRAIN 3
#define PUMP_READ_ERROR 4
#define PUMP_FLUSHED 5
#define PUMP_WRITE_ERROR 6
#define PUMP_FD 7 /* a descriptor arrived (n is its number) */
struct pump;
struct pump *pump_new(struct event_base *, int, int, int, size_t,
    void (*)(struct pump *, int, size_t, void *), void *);
void pump_free(struct pump *);
void pump_conn(struct pump *, struct conn *);
void pump_start(struct pump *);
void pump_stop(struct pump *);
void pump_abort(struct pump *);
void pump_send_fd(struct pump *, int);
void pump_recv_fds(struct pump *);
void pump_codec(struct pump *, struct codec *);
#define PUMP_TAP_READ 1 /* the tap sees the bytes as read */
#define PUMP_TAP_WRITE 2 /* as delivered to the destination */
void pump_tap(struct pump *, int, void (*)(void *, const char *, size_t),
    void *);
void pump_crlf(struct pump *);
uint64_t pump_bad_offset(const struct pump *);
size_t pump_pending(const struct pump *);
int pump_error(const struct pump *);

/* fdpass.c */
#define FDPASS_MAX 8 /* descriptors taken from one message */
ssize_t fdpass_send(int, const char *, size_t, int);
ssize_t fdpass_recv(int, char *, size_t, int *, int, int *);

/* hub.c: listen -k */
struct hub;
struct hub *hub_new(struct event_base *, const struct options *,
    struct server *);
void hub_free(struct hub *);
void hub_accept(struct hub *, struct conn *);
void hub_close_all(struct hub *);
int hub_finish(struct hub *);

/* stdio.c */
#define STDIO_CLOSED 0x1 /* the descriptor was closed at start */
#define STDIO_POLL 0x2 /* readiness comes from the event loop */
struct stdio_end {
	int fd;
	int flags;
	int saved_flags; /* O_* flags to restore, -1 if untouched */
};
void stdio_init(void);
void stdio_open(struct stdio_end *, int);
void stdio_restore(struct stdio_end *);

/* relay.c */
struct relay;
struct relay_cb {
	void (*done)(struct relay *, void *);
};
struct relay *relay_new(struct event_base *, const struct options *,
    struct conn *, const struct stdio_end *, const struct stdio_end *,
    const struct relay_cb *, void *);
void relay_free(struct relay *);
void relay_bridge(struct relay *);
void relay_start(struct relay *);
void relay_abort(struct relay *);
int relay_status(const struct relay *);

/* tls.c: TLS sessions (OpenSSL) as io_ops ends */
struct tls_config;
struct tls;
struct tls_error {
	char where[ENDPOINT_ADDRSTRLEN + 16];
	char code[64];
	char message[256];
};
extern const struct io_ops tls_io_ops;
struct tls_config *tls_config_new(const struct options *, int,
    struct tls_error *);
void tls_config_free(struct tls_config *);
struct tls *tls_new(struct tls_config *, int, const char *);
void tls_free(struct tls *);
int tls_handshake(struct tls *);
int tls_drive(struct tls *, struct event_base *, long,
    void (*)(struct tls *, int, void *), void *);
const char *tls_code(const struct tls *);
const char *tls_message(const struct tls *);
int tls_close_notify(const struct tls *);
void tls_event_secure(const struct tls *, int);

/* dial.c: the connect phase */
struct dial;
struct dial_cb {
	void (*connected)(struct dial *, int, void *); /* the socket is yours */
	void (*failed)(struct dial *, const char *, const char *, void *);
	void (*retrying)(struct dial *, int, void *); /* after this errno */
	void (*reached)(struct dial *, int, void *); /* TLS starts (or NULL) */
};
struct dial *dial_new(struct event_base *, const struct options *, int,
    const struct dial_cb *, void *);
void dial_start(struct dial *);
void dial_tls(struct dial *, struct tls_config *);
void dial_acl(struct dial *, const struct acl *);
void dial_adopt(struct dial *, int);
struct tls *dial_tls_take(struct dial *);
const char *dial_where(const struct dial *);
const char *dial_peer(const struct dial *);
int dial_socket(const struct options *, const struct sockaddr *, socklen_t);
void dial_free(struct dial *);

/* udp.c: datagrams (-u) */
#define UDP_MAX 65507 /* the largest datagram sent (UDP over IPv4) */
#define UDP_RECV_MAX 65536 /* the largest datagram received whole */
#define UDP_REPLY_WAIT_MS 1000 /* connect -u: replies awaited after EOF */
#define UDP_BATCH 64 /* datagrams echo -u moves with one system call */
struct udp;
struct udp_batch;
struct udp_cb {
	void (*done)(struct udp *, void *); /* every peer has ended */
};
struct udp *udp_new(struct event_base *, const struct options *,
    const struct udp_cb *, void *);
int udp_connect(struct udp *, struct conn *);
int udp_serve(struct udp *, struct server *);
void udp_stop(struct udp *);
void udp_abort(struct udp *);
int udp_status(const struct udp *);
void udp_free(struct udp *);
struct udp_batch *udp_batch_new(void);
void udp_batch_free(struct udp_batch *);
int udp_batch_recv(struct udp_batch *, int, const struct acl *);
size_t udp_batch_msg(const struct udp_batch *, int, char *, size_t);
int udp_batch_blocked(const struct udp_batch *, int);
int udp_batch_reply(struct udp_batch *, int);

/* proxy.c: the proxy step of the connect phase */
#define PROXY_OK 0
#define PROXY_WANT_READ 1
#define PROXY_WANT_WRITE 2
#define PROXY_FAILED (-1)
struct proxy_session;
int proxy_parse(const char *, struct proxy *);
const char *proxy_type_name(enum proxy_type);
void proxy_where(const struct proxy *, char *, size_t);
struct proxy_session *proxy_session_new(const struct proxy *, int, const char *,
    int, int);
void proxy_session_free(struct proxy_session *);
int proxy_step(struct proxy_session *);
const char *proxy_session_code(const struct proxy_session *);
const char *proxy_session_message(const struct proxy_session *);

/* hexdump.c: --hexdump */
#define HEXDUMP_SENT 0 /* "> ": bytes sent to the peer */
#define HEXDUMP_RECEIVED 1 /* "< ": bytes received from it */
struct hexdump;
int hexdump_open(const char *);
void hexdump_close(void);
struct hexdump *hexdump_new(void);
void hexdump_feed(struct hexdump *, int, const void *, size_t);
void hexdump_end(struct hexdump *, int);
void hexdump_free(struct hexdump *);

/* meter.c: --stats and --progress */
int meter_start(struct event_base *, const struct options *);
void meter_stop(void);

/* signals.c: SIGINT and SIGTERM as loop events; the callback gets the count */
int signals_watch(struct event_base *, void (*)(int, void *), void *);
void signals_unwatch(void);

#endif
