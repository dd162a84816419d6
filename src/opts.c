/*
 * The command line of every command, from one table of options. Each row
 * gives an option's names, its argument, the commands it applies to, how
 * its value is stored in struct options and its --help line. From the
 * rows come the getopt tables (built once), "does not apply" errors, and
 * each command's --help: its rows in table order.
 *
 * An option whose --help text or meaning differs between commands has a
 * row for each, with its own commands; the rows of one option agree on its
 * letter and argument. A row without help text shares the line of the row
 * above ("-4, -6").
 *
 * A new option: its row here and its field in struct options, the code
 * that uses the field, and its item in the man page with a test.
 */

#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "netkit.h"

/* The getopt value of a long option: OPTS_LONG + its index in opts_long. */
#define OPTS_LONG 256

/* Width of the option column of --help; wider options take two spaces. */
#define OPTS_HELP_WIDTH 23

/* The field of struct options a generic setter stores into. */
#define OPTS_FIELD(f) offsetof(struct options, f)
#define OPTS_AT(o, r, type) ((type *)(void *)((char *)(o) + (r)->off))

struct opts_row {
	const char *name; /* long name, or NULL */
	int letter; /* short option, or 0 */
	int has_arg; /* no_argument, required_argument, optional_argument */
	const char *arg; /* the argument's name in --help */
	int cmds; /* CMD_* bits of the commands it applies to */
	/* Store the value: 0, EXIT_USAGE (reported), or -1 (--help printed). */
	int (*set)(const struct cmd_entry *, const struct opts_row *,
	    const char *, struct options *);
	size_t off; /* the field, for opts_set_flag, _string, _ms, _size */
	const char *help; /* --help text; NULL: on the line of the row above */
};

static int opts_set_flag(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_string(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_ms(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_timeout(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_size(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_port(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_fd(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_family(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_on_timeout(const struct cmd_entry *,
    const struct opts_row *, const char *, struct options *);
static int opts_set_keepalive(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_max_connections(const struct cmd_entry *,
    const struct opts_row *, const char *, struct options *);
static int opts_set_retry(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_encoding(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_source_port(const struct cmd_entry *,
    const struct opts_row *, const char *, struct options *);
static int opts_set_proxy(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_concurrency(const struct cmd_entry *,
    const struct opts_row *, const char *, struct options *);
static int opts_set_acl(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_check_tls(const struct cmd_entry *, struct options *);
static int opts_check_source(const struct cmd_entry *, struct options *);
static int opts_source_mismatch(const struct cmd_entry *,
    const struct options *);
static int opts_check_udp(const struct cmd_entry *, struct options *);
static int opts_set_tls_version(const struct cmd_entry *,
    const struct opts_row *, const char *, struct options *);
static int opts_set_events(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_hexdump(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);
static int opts_set_help(const struct cmd_entry *, const struct opts_row *,
    const char *, struct options *);

/* The commands the access lists apply to: peers, or connect's target. */
#define OPTS_ACL_CMDS (CMD_LISTEN | CMD_CONNECT | CMD_ECHO | CMD_FORWARD)

static const struct opts_row opts_table[] = {
	{ "port", 'p', required_argument, "PORT", CMD_LISTEN | CMD_ECHO,
	    opts_set_port, 0, "TCP port to listen on (0: any free port)" },
	{ "port", 'p', required_argument, "PORT", CMD_CONNECT, opts_set_port, 0,
	    "TCP port to connect to" },
	{ "host", 'H', required_argument, "HOST", CMD_LISTEN | CMD_ECHO,
	    opts_set_string, OPTS_FIELD(host),
	    "address to listen on (default: all)" },
	{ "host", 'H', required_argument, "HOST", CMD_CONNECT, opts_set_string,
	    OPTS_FIELD(host), "host to connect to (default: localhost)" },
	{ "unix", 'U', required_argument, "PATH", CMD_LISTEN | CMD_ECHO,
	    opts_set_string, OPTS_FIELD(unix_path), "listen on a UNIX socket" },
	{ "unix", 'U', required_argument, "PATH", CMD_CONNECT, opts_set_string,
	    OPTS_FIELD(unix_path), "connect to a UNIX socket" },
	{ "fd", 0, required_argument, "N", CMD_LISTEN | CMD_ECHO, opts_set_fd,
	    0, "accept on an inherited listening socket" },
	{ "fd", 0, required_argument, "N", CMD_CONNECT, opts_set_fd, 0,
	    "relay an inherited connected socket" },
	{ NULL, '4', no_argument, NULL, CMD_SOCKETS | CMD_SCAN | CMD_FORWARD,
	    opts_set_family, 0, "IPv4 or IPv6 only" },
	{ NULL, '6', no_argument, NULL, CMD_SOCKETS | CMD_SCAN | CMD_FORWARD,
	    opts_set_family, 0, NULL },
	{ "udp", 'u', no_argument, NULL, CMD_SOCKETS, opts_set_flag,
	    OPTS_FIELD(udp), "datagrams: UDP (with -U: UNIX datagram)" },
	{ "udp", 'u', no_argument, NULL, CMD_SCAN, opts_set_flag,
	    OPTS_FIELD(udp), "scan UDP ports" },
	{ "connect-timeout", 'w', required_argument, "MS", CMD_SCAN,
	    opts_set_ms, OPTS_FIELD(connect_timeout_ms),
	    "a port silent for MS ms is filtered (1000)" },
	{ "concurrency", 0, required_argument, "N", CMD_SCAN,
	    opts_set_concurrency, 0,
	    "N attempts in flight (default: as many as fit)" },
	{ "lines", 0, no_argument, NULL, CMD_LISTEN | CMD_CONNECT,
	    opts_set_flag, OPTS_FIELD(lines),
	    "-u: each line of stdin is one datagram" },
	{ "connect-timeout", 'w', required_argument, "MS",
	    CMD_CONNECT | CMD_FORWARD, opts_set_ms,
	    OPTS_FIELD(connect_timeout_ms), "give up connecting after MS ms" },
	{ "retry", 0, optional_argument, "N", CMD_CONNECT, opts_set_retry, 0,
	    "retry a refused or absent peer every second" },
	{ "attempt-delay", 0, required_argument, "MS",
	    CMD_CONNECT | CMD_FORWARD, opts_set_ms,
	    OPTS_FIELD(attempt_delay_ms),
	    "start the next address after MS ms (250)" },
	{ "source", 's', required_argument, "ADDR",
	    CMD_CONNECT | CMD_SCAN | CMD_FORWARD, opts_set_string,
	    OPTS_FIELD(source), "bind to the address ADDR before connecting" },
	{ "source-port", 0, required_argument, "PORT",
	    CMD_CONNECT | CMD_FORWARD, opts_set_source_port, 0,
	    "bind to PORT before connecting" },
	{ "proxy", 0, required_argument, "URL", CMD_CONNECT | CMD_FORWARD,
	    opts_set_proxy, 0,
	    "through a socks5://, socks5h:// or http:// proxy" },
	{ "allow", 0, required_argument, "SPEC", OPTS_ACL_CMDS, opts_set_acl, 0,
	    "allow only addresses in SPEC (ADDR, CIDR, A-B)" },
	{ "deny", 0, required_argument, "SPEC", OPTS_ACL_CMDS, opts_set_acl, 0,
	    "deny the addresses in SPEC" },
	{ "allow-file", 0, required_argument, "PATH", OPTS_ACL_CMDS,
	    opts_set_acl, 0, "--allow each SPEC in PATH, one a line" },
	{ "deny-file", 0, required_argument, "PATH", OPTS_ACL_CMDS,
	    opts_set_acl, 0, "--deny each SPEC in PATH, one a line" },
	{ "allow-half-open", 0, no_argument, NULL, CMD_LISTEN | CMD_CONNECT,
	    opts_set_flag, OPTS_FIELD(allow_half_open),
	    "after the peer's FIN, keep sending stdin" },
	{ "no-shutdown", 0, no_argument, NULL, CMD_LISTEN | CMD_CONNECT,
	    opts_set_flag, OPTS_FIELD(no_shutdown), "no FIN at stdin's EOF" },
	{ "keep-open", 'k', no_argument, NULL, CMD_LISTEN, opts_set_flag,
	    OPTS_FIELD(keep_open),
	    "keep accepting: clients at once, stdin to all" },
	{ "broker", 0, no_argument, NULL, CMD_LISTEN, opts_set_flag,
	    OPTS_FIELD(broker), "-k: each client's data to the others too" },
	{ "exec", 'e', required_argument, "CMD", CMD_LISTEN, opts_set_string,
	    OPTS_FIELD(exec_cmd), "run /bin/sh -c CMD for each connection" },
	{ "exec", 'e', required_argument, "CMD", CMD_CONNECT, opts_set_string,
	    OPTS_FIELD(exec_cmd), "run /bin/sh -c CMD on the connection" },
	{ "allow-half-open", 0, no_argument, NULL, CMD_ECHO, opts_set_flag,
	    OPTS_FIELD(allow_half_open),
	    "accepted; echo always ends after the echo" },
	{ "retry", 0, optional_argument, "N",
	    CMD_LISTEN | CMD_ECHO | CMD_FORWARD, opts_set_retry, 0,
	    "on EADDRINUSE retry every second, N times" },
	{ "timeout", 't', required_argument, "MS", CMD_SOCKETS | CMD_FORWARD,
	    opts_set_timeout, OPTS_FIELD(timeout_ms),
	    "idle timeout: socket.timeout after MS ms" },
	{ "on-timeout", 0, required_argument, "ACTION",
	    CMD_SOCKETS | CMD_FORWARD, opts_set_on_timeout, 0,
	    "end (default), destroy or ignore" },
	{ "no-delay", 0, no_argument, NULL, CMD_SOCKETS | CMD_FORWARD,
	    opts_set_flag, OPTS_FIELD(no_delay), "TCP_NODELAY" },
	{ "keepalive", 0, optional_argument, "MS", CMD_SOCKETS | CMD_FORWARD,
	    opts_set_keepalive, 0,
	    "SO_KEEPALIVE, first probe after MS ms idle" },
	{ "max-connections", 'm', required_argument, "N",
	    CMD_LISTEN | CMD_ECHO | CMD_FORWARD, opts_set_max_connections, 0,
	    "close connections beyond N at once" },
	{ "encoding", 0, required_argument, "ENC", CMD_LISTEN | CMD_CONNECT,
	    opts_set_encoding, OPTS_FIELD(encoding),
	    "received bytes to stdout as binary, utf8,\n"
	    "ascii, base64 or hex" },
	{ "write-encoding", 0, required_argument, "ENC",
	    CMD_LISTEN | CMD_CONNECT, opts_set_encoding,
	    OPTS_FIELD(write_encoding),
	    "decode stdin as binary, utf8, base64 or hex" },
	{ "send-fd", 0, required_argument, "PATH", CMD_LISTEN | CMD_CONNECT,
	    opts_set_string, OPTS_FIELD(send_fd_path),
	    "UNIX: send PATH's descriptor with the first data" },
	{ "recv-fd", 0, no_argument, NULL, CMD_LISTEN | CMD_CONNECT,
	    opts_set_flag, OPTS_FIELD(recv_fd),
	    "UNIX: copy received descriptors' content to stdout" },
	{ "tls", 0, no_argument, NULL, CMD_SOCKETS, opts_set_flag,
	    OPTS_FIELD(tls), "TLS on every connection" },
	{ "tls", 0, no_argument, NULL, CMD_FORWARD, opts_set_flag,
	    OPTS_FIELD(tls), "TLS from clients (--tls-cert, --tls-key)" },
	{ "tls-to", 0, no_argument, NULL, CMD_FORWARD, opts_set_flag,
	    OPTS_FIELD(tls_to), "TLS to TO, verified as connect does" },
	{ "tls-cert", 0, required_argument, "PATH", CMD_SOCKETS | CMD_FORWARD,
	    opts_set_string, OPTS_FIELD(tls_cert),
	    "own certificate chain (PEM)" },
	{ "tls-key", 0, required_argument, "PATH", CMD_SOCKETS | CMD_FORWARD,
	    opts_set_string, OPTS_FIELD(tls_key), "own private key (PEM)" },
	{ "tls-ca", 0, required_argument, "PATH", CMD_SOCKETS | CMD_FORWARD,
	    opts_set_string, OPTS_FIELD(tls_ca),
	    "trusted CAs: a PEM file or a hashed directory" },
	{ "tls-servername", 0, required_argument, "NAME",
	    CMD_CONNECT | CMD_FORWARD, opts_set_string,
	    OPTS_FIELD(tls_servername),
	    "SNI and the name to verify (default: HOST)" },
	{ "tls-insecure", 0, no_argument, NULL, CMD_CONNECT | CMD_FORWARD,
	    opts_set_flag, OPTS_FIELD(tls_insecure),
	    "go on even if the peer does not verify" },
	{ "tls-verify-client", 0, no_argument, NULL,
	    CMD_LISTEN | CMD_ECHO | CMD_FORWARD, opts_set_flag,
	    OPTS_FIELD(tls_verify_client),
	    "require a client certificate (--tls-ca)" },
	{ "tls-alpn", 0, required_argument, "LIST", CMD_SOCKETS | CMD_FORWARD,
	    opts_set_string, OPTS_FIELD(tls_alpn),
	    "ALPN protocols, comma-separated" },
	{ "tls-min-version", 0, required_argument, "VER",
	    CMD_SOCKETS | CMD_FORWARD, opts_set_tls_version, 0,
	    "1.2 (default) or 1.3" },
	{ "buffer-size", 0, required_argument, "N",
	    CMD_LISTEN | CMD_CONNECT | CMD_FORWARD, opts_set_size,
	    OPTS_FIELD(buffer_size),
	    "high-water mark of each direction, bytes" },
	{ "buffer-size", 0, required_argument, "N", CMD_ECHO, opts_set_size,
	    OPTS_FIELD(buffer_size), "echo backlog per client before pausing" },
	{ "hexdump", 0, optional_argument, "FILE",
	    CMD_LISTEN | CMD_CONNECT | CMD_FORWARD, opts_set_hexdump, 0,
	    "every byte as hexdump -C, to stderr or FILE" },
	{ "stats", 0, no_argument, NULL, CMD_LISTEN | CMD_CONNECT | CMD_FORWARD,
	    opts_set_flag, OPTS_FIELD(stats),
	    "bytes moved at exit and on SIGUSR1" },
	{ "progress", 0, no_argument, NULL,
	    CMD_LISTEN | CMD_CONNECT | CMD_FORWARD, opts_set_flag,
	    OPTS_FIELD(progress), "a meter on stderr when it is a terminal" },
	{ "crlf", 0, no_argument, NULL, CMD_LISTEN | CMD_CONNECT, opts_set_flag,
	    OPTS_FIELD(crlf), "send each LF of stdin as CRLF" },
	{ "verbose", 'v', no_argument, NULL, CMD_SOCKETS | CMD_FORWARD,
	    opts_set_flag, OPTS_FIELD(verbose), "human lines on stderr" },
	{ "verbose", 'v', no_argument, NULL, CMD_SCAN, opts_set_flag,
	    OPTS_FIELD(verbose),
	    "a summary, and open|filtered ports, on stderr" },
	{ "events", 0, optional_argument, "FORMAT",
	    CMD_SOCKETS | CMD_SCAN | CMD_FORWARD, opts_set_events, 0,
	    "event lines on stderr (text or json)" },
	{ "quiet", 'q', no_argument, NULL, CMD_SOCKETS | CMD_SCAN | CMD_FORWARD,
	    opts_set_flag, OPTS_FIELD(quiet), "no warnings" },
	{ "help", 'h', no_argument, NULL, CMD_SOCKETS | CMD_SCAN | CMD_FORWARD,
	    opts_set_help, 0, "this help" },

	{ NULL, '4', no_argument, NULL, CMD_ISIP, opts_set_family, 0,
	    "print true or false: is it an IPv4 address (net.isIPv4)" },
	{ NULL, '6', no_argument, NULL, CMD_ISIP, opts_set_family, 0,
	    "print true or false: is it an IPv6 address (net.isIPv6)" },
	{ NULL, 'q', no_argument, NULL, CMD_ISIP, opts_set_flag,
	    OPTS_FIELD(quiet), "print nothing; the exit status tells" },
	{ "help", 'h', no_argument, NULL, CMD_ISIP, opts_set_help, 0,
	    "print this help" },
};
#define OPTS_NROWS (sizeof opts_table / sizeof opts_table[0])

/* A word an option takes as its value, and what it stands for. */
struct opts_word {
	const char *word;
	int value;
};

/* The words of --on-timeout, --events and --tls-min-version. */
static const struct opts_word opts_on_timeout_words[] = {
	{ "end", ON_TIMEOUT_END },
	{ "destroy", ON_TIMEOUT_DESTROY },
	{ "ignore", ON_TIMEOUT_IGNORE },
	{ NULL, 0 },
};
static const struct opts_word opts_events_words[] = {
	{ "text", EVENTS_TEXT },
	{ "json", EVENTS_JSON },
	{ NULL, 0 },
};
static const struct opts_word opts_tls_version_words[] = {
	{ "1.2", 12 },
	{ "1.3", 13 },
	{ NULL, 0 },
};

/* Built from the rows by opts_build: each long name and letter once. */
static struct option opts_long[OPTS_NROWS + 1];
static char opts_short[2 + 3 * OPTS_NROWS + 1]; /* "+:", then "x::" */

/* Parse a decimal number from min to max: digits only, no sign or space. */
int
opts_number(const char *s, long min, long max, long *out)
{
	long v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return (-1);
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return (-1);
		if (v > (LONG_MAX - (*p - '0')) / 10)
			return (-1);
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

/* Parse a port: 1 to 5 decimal digits, 0 to 65535. */
int
opts_port(const char *s, int *port)
{
	long v;

	if (s == NULL || strlen(s) > 5 || opts_number(s, 0, 65535, &v) != 0)
		return (-1);
	*port = (int)v;
	return (0);
}

/* Build the getopt tables from the rows, once. */
static void
opts_build(void)
{
	static int built;
	const struct opts_row *r, *p;
	struct option *l;
	char *s = opts_short;

	if (built)
		return;
	built = 1;
	*s++ = '+'; /* dropped for commands whose options and operands mix */
	*s++ = ':';
	for (r = opts_table; r < opts_table + OPTS_NROWS; r++) {
		for (p = opts_table; p < r; p++) {
			if (((p->name != NULL && r->name != NULL &&
				 strcmp(p->name, r->name) == 0) ||
				(p->letter != 0 && p->letter == r->letter)) &&
			    p->has_arg != r->has_arg)
				abort(); /* the rows of one option disagree */
		}
		if (r->name != NULL) {
			for (l = opts_long; l->name != NULL; l++) {
				if (strcmp(l->name, r->name) == 0)
					break;
			}
			if (l->name == NULL) {
				l->name = r->name;
				l->has_arg = r->has_arg;
				l->val = OPTS_LONG + (int)(l - opts_long);
			}
		}
		if (r->letter != 0 &&
		    strchr(opts_short + 2, r->letter) == NULL) {
			*s++ = (char)r->letter;
			if (r->has_arg != no_argument)
				*s++ = ':';
			if (r->has_arg == optional_argument)
				*s++ = ':';
		}
	}
	*s = '\0';
}

/*
 * The row of an option getopt returned (a letter, or OPTS_LONG plus the
 * index of a long option) that applies to a command of mask; NULL if none.
 */
static const struct opts_row *
opts_row(int ch, int mask)
{
	const struct opts_row *r;

	for (r = opts_table; r < opts_table + OPTS_NROWS; r++) {
		if ((r->cmds & mask) == 0)
			continue;
		if (ch >= OPTS_LONG
			? (r->name != NULL &&
			      strcmp(r->name, opts_long[ch - OPTS_LONG].name) ==
				  0)
			: r->letter == ch)
			return (r);
	}
	return (NULL);
}

/* The name of an option in messages: "--name", or "-x" without one. */
static const char *
opts_name(const struct opts_row *r, char *buf, size_t len)
{
	if (r->name != NULL)
		snprintf(buf, len, "--%s", r->name);
	else
		snprintf(buf, len, "-%c", r->letter);
	return (buf);
}

/* Report an option getopt refused: unknown, or a value given to a flag. */
static int
opts_unknown(const struct cmd_entry *cmd, const char *arg)
{
	const struct option *l;
	size_t len;

	if (strncmp(arg, "--", 2) == 0 && strchr(arg, '=') != NULL) {
		len = (size_t)(strchr(arg, '=') - arg - 2);
		for (l = opts_long; l->name != NULL; l++) {
			if (l->has_arg == no_argument &&
			    strncmp(l->name, arg + 2, len) == 0 &&
			    l->name[len] == '\0')
				return (cmd_usage_error(cmd,
				    "--%s takes no value", l->name));
		}
	}
	if (strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 256)
		return (cmd_usage_error(cmd, "unknown option -%c", optopt));
	return (cmd_usage_error(cmd, "unknown option '%s'", arg));
}

/* The value of arg among words into *out; -1 when it is none of them. */
static int
opts_word(const struct opts_word *words, const char *arg, int *out)
{
	for (; words->word != NULL; words++) {
		if (strcmp(words->word, arg) == 0) {
			*out = words->value;
			return (0);
		}
	}
	return (-1);
}

/* A flag: its int field becomes 1. */
static int
opts_set_flag(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)cmd;
	(void)arg;
	*OPTS_AT(o, r, int) = 1;
	return (0);
}

/* A string: its field points at the argument. */
static int
opts_set_string(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)cmd;
	*OPTS_AT(o, r, const char *) = arg;
	return (0);
}

/* Parse a time in milliseconds into out. */
static int
opts_ms(const struct cmd_entry *cmd, const struct opts_row *r, const char *arg,
    long *out)
{
	char name[64];

	if (opts_number(arg, 0, INT_MAX, out) != 0) {
		return (cmd_usage_error(cmd, "%s: bad time '%s' (milliseconds)",
		    opts_name(r, name, sizeof name), arg));
	}
	return (0);
}

/* A time in milliseconds: its long field. */
static int
opts_set_ms(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	return (opts_ms(cmd, r, arg, OPTS_AT(o, r, long)));
}

/* -t, --timeout: the idle timeout, noted as given. */
static int
opts_set_timeout(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	o->timeout_set = 1;
	return (opts_set_ms(cmd, r, arg, o));
}

/* A size in bytes, 1 to 1 GiB: its size_t field. */
static int
opts_set_size(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	char name[64];
	long n;

	if (opts_number(arg, 1, 1L << 30, &n) != 0)
		return (cmd_usage_error(cmd, "%s: bad size '%s'",
		    opts_name(r, name, sizeof name), arg));
	*OPTS_AT(o, r, size_t) = (size_t)n;
	return (0);
}

/* -p, --port. */
static int
opts_set_port(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	if (opts_port(arg, &o->port) != 0)
		return (cmd_usage_error(cmd, "bad port '%s'", arg));
	return (0);
}

/* --fd: an inherited descriptor, 3 or more. */
static int
opts_set_fd(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	char name[64];
	long n;

	if (opts_number(arg, 3, INT_MAX, &n) != 0)
		return (cmd_usage_error(cmd,
		    "%s: bad descriptor '%s' "
		    "(3 or more)",
		    opts_name(r, name, sizeof name), arg));
	o->fd = (int)n;
	return (0);
}

/* --source-port PORT: 1 to 65535. */
static int
opts_set_source_port(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	if (opts_port(arg, &o->source_port) != 0 || o->source_port == 0)
		return (cmd_usage_error(cmd, "--source-port: bad port '%s'",
		    arg));
	return (0);
}

/* --concurrency N: 1 or more. */
static int
opts_set_concurrency(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	if (opts_number(arg, 1, INT_MAX, &o->concurrency) != 0)
		return (cmd_usage_error(cmd,
		    "--concurrency: bad count '%s' (1 or more)", arg));
	return (0);
}

/* --proxy URL. */
static int
opts_set_proxy(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	if (proxy_parse(arg, &o->proxy) != 0)
		return (cmd_usage_error(cmd,
		    "--proxy: bad URL '%s' (socks5://, socks5h:// or "
		    "http://[USER:PASS@]HOST:PORT)",
		    arg));
	o->proxy_url = arg;
	return (0);
}

/*
 * --allow, --deny SPEC and --allow-file, --deny-file PATH: rules added to
 * the options' access lists, made at the first.
 */
static int
opts_set_acl(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	int allow = strncmp(r->name, "allow", 5) == 0;
	int file = strchr(r->name, '-') != NULL;
	char name[64];

	opts_name(r, name, sizeof name);
	if (o->acl == NULL && (o->acl = acl_new()) == NULL)
		return (cmd_usage_error(cmd, "%s: out of memory", name));
	if (file && acl_add_file(o->acl, arg, allow) == -1)
		return (cmd_usage_error(cmd, "%s %s", name, acl_error(o->acl)));
	if (!file && acl_add(o->acl, arg, allow) == -1)
		return (cmd_usage_error(cmd, "%s: %s", name,
		    acl_error(o->acl)));
	return (0);
}

/* -4 and -6; both is an error once all options are read. */
static int
opts_set_family(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	int family = (r->letter == '4' ? AF_INET : AF_INET6);

	(void)cmd;
	(void)arg;
	if (o->family != AF_UNSPEC && o->family != family)
		o->family_conflict = 1;
	o->family = family;
	return (0);
}

/* --on-timeout end|destroy|ignore. */
static int
opts_set_on_timeout(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	char name[64];
	int v;

	o->on_timeout_set = 1;
	if (opts_word(opts_on_timeout_words, arg, &v) == 0)
		o->on_timeout = v;
	else
		return (cmd_usage_error(cmd,
		    "%s: '%s' is not end, destroy "
		    "or ignore",
		    opts_name(r, name, sizeof name), arg));
	return (0);
}

/* --keepalive[=MS]. */
static int
opts_set_keepalive(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	o->keepalive = 1;
	o->keepalive_ms = -1;
	if (arg != NULL)
		return (opts_ms(cmd, r, arg, &o->keepalive_ms));
	return (0);
}

/* -m, --max-connections N: 1 or more. */
static int
opts_set_max_connections(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	if (opts_number(arg, 1, INT_MAX, &o->max_connections) != 0)
		return (cmd_usage_error(cmd, "-m: bad count '%s' (1 or more)",
		    arg));
	return (0);
}

/* --retry[=N]: N more attempts, or without N until success. */
static int
opts_set_retry(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	char name[64];

	if (arg == NULL)
		o->retry = -1;
	else if (opts_number(arg, 0, INT_MAX, &o->retry) != 0)
		return (cmd_usage_error(cmd, "%s: bad count '%s'",
		    opts_name(r, name, sizeof name), arg));
	return (0);
}

/* --encoding and --write-encoding: the int field gets the encoding. */
static int
opts_set_encoding(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	int writing = (r->off == OPTS_FIELD(write_encoding));
	enum encoding enc;
	char name[64];

	if (encoding_parse(arg, writing, &enc) != 0)
		return (cmd_usage_error(cmd, "%s: unknown encoding '%s'",
		    opts_name(r, name, sizeof name), arg));
	*OPTS_AT(o, r, int) = (int)enc;
	if (writing)
		o->write_encoding_name = arg;
	return (0);
}

/* --tls-min-version 1.2|1.3. */
static int
opts_set_tls_version(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	if (opts_word(opts_tls_version_words, arg, &o->tls_min_version) != 0)
		return (cmd_usage_error(cmd,
		    "--tls-min-version: '%s' is not 1.2 or 1.3", arg));
	return (0);
}

/* --events[=text|json]. */
static int
opts_set_events(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	char name[64];
	int v;

	if (arg == NULL)
		o->events = EVENTS_TEXT;
	else if (opts_word(opts_events_words, arg, &v) == 0)
		o->events = v;
	else
		return (cmd_usage_error(cmd, "%s: unknown format '%s'",
		    opts_name(r, name, sizeof name), arg));
	return (0);
}

/* --hexdump[=FILE]: an empty FILE is a usage error. */
static int
opts_set_hexdump(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	if (arg != NULL && *arg == '\0')
		return (cmd_usage_error(cmd, "--hexdump: empty file name"));
	o->hexdump = 1;
	o->hexdump_path = arg;
	return (0);
}

/* -h, --help: print the command's help and stop. */
static int
opts_set_help(const struct cmd_entry *cmd, const struct opts_row *r,
    const char *arg, struct options *o)
{
	(void)r;
	(void)arg;
	(void)o;
	cmd_help(cmd, stdout);
	return (-1);
}

/*
 * Split "HOST:PORT", "[V6]:PORT" or (host optional) "PORT" in place;
 * *host stays NULL when none is given. -1 when it is not of that form.
 */
static int
opts_host_port(char *spec, int need_host, const char **host, int *port)
{
	char *colon;

	*host = NULL;
	if (*spec == '[') {
		if ((colon = strstr(spec, "]:")) == NULL)
			return (-1);
		*colon = '\0';
		*host = spec + 1;
		colon++;
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		if (memchr(spec, ':', (size_t)(colon - spec)) != NULL)
			return (-1); /* an IPv6 address needs brackets */
		*colon = '\0';
		*host = spec;
	} else if (need_host)
		return (-1);
	if (*host != NULL && **host == '\0')
		return (-1);
	return (opts_port(colon != NULL ? colon + 1 : spec, port));
}

/*
 * forward's FROM ([HOST:]PORT, unix:PATH or fd:N: the address it listens
 * on) and TO (HOST:PORT or unix:PATH).
 */
static int
opts_from_to(const struct cmd_entry *cmd, char *from, char *to,
    struct options *o)
{
	char from_s[ENDPOINT_ADDRSTRLEN], to_s[ENDPOINT_ADDRSTRLEN];
	long n;

	/* As given, for messages: parsing splits them in place. */
	snprintf(from_s, sizeof from_s, "%s", from);
	snprintf(to_s, sizeof to_s, "%s", to);
	if (strncmp(from, "unix:", 5) == 0)
		o->unix_path = from + 5;
	else if (strncmp(from, "fd:", 3) == 0) {
		if (opts_number(from + 3, 3, INT_MAX, &n) != 0)
			return (cmd_usage_error(cmd,
			    "bad FROM '%s' (fd:N, N 3 or more)", from_s));
		o->fd = (int)n;
	} else if (opts_host_port(from, 0, &o->host, &o->port) != 0)
		return (cmd_usage_error(cmd,
		    "bad FROM '%s' ([HOST:]PORT, unix:PATH or fd:N)", from_s));
	if (strncmp(to, "unix:", 5) == 0) {
		o->to_unix = to + 5;
		if (*o->to_unix == '\0')
			return (cmd_usage_error(cmd, "TO: empty path"));
		if (strcmp(o->to_unix, "@") == 0)
			return (cmd_usage_error(cmd,
			    "TO unix:@: empty abstract name"));
	} else if (opts_host_port(to, 1, &o->to_host, &o->to_port) != 0 ||
	    o->to_port == 0)
		return (cmd_usage_error(cmd,
		    "bad TO '%s' (HOST:PORT or unix:PATH)", to_s));
	return (0);
}

/* The operands, as the command's entry says. */
static int
opts_operands(const struct cmd_entry *cmd, int argc, char **argv,
    struct options *o)
{
	int nargs = argc - optind;

	switch (cmd->args) {
	case CMD_ARGS_NONE:
		if (nargs > 0)
			return (cmd_usage_error(cmd, "unexpected argument '%s'",
			    argv[optind]));
		break;
	case CMD_ARGS_HOST_PORT:
		if (nargs > 2)
			return (cmd_usage_error(cmd, "too many arguments"));
		if (nargs == 2)
			o->host = argv[optind++];
		if (nargs >= 1 && opts_port(argv[optind], &o->port) != 0)
			return (cmd_usage_error(cmd, "bad port '%s'",
			    argv[optind]));
		break;
	case CMD_ARGS_FROM_TO:
		if (nargs < 2)
			return (cmd_usage_error(cmd,
			    "FROM and TO are required"));
		if (nargs > 2)
			return (cmd_usage_error(cmd, "too many arguments"));
		return (opts_from_to(cmd, argv[optind], argv[optind + 1], o));
	case CMD_ARGS_OWN:
	case CMD_ARGS_MIXED:
		o->argc = nargs;
		o->argv = argv + optind;
		break;
	}
	return (0);
}

/* Check the options against each other once all are parsed. */
static int
opts_check(const struct cmd_entry *cmd, struct options *o)
{
	if (o->family_conflict)
		return (cmd_usage_error(cmd, "-4 and -6 conflict"));
	if (o->unix_path != NULL && (o->host != NULL || o->port != -1))
		return (cmd_usage_error(cmd,
		    "-U conflicts with a host or port"));
	if (o->unix_path != NULL && o->family != AF_UNSPEC)
		return (cmd_usage_error(cmd, "-U conflicts with -4 and -6"));
	if (o->unix_path != NULL && *o->unix_path == '\0')
		return (cmd_usage_error(cmd, "-U: empty path"));
	if (o->unix_path != NULL && strcmp(o->unix_path, "@") == 0)
		return (cmd_usage_error(cmd, "%s: empty abstract name",
		    cmd->mask == CMD_FORWARD ? "FROM unix:@" : "-U @"));
	if (o->fd != -1 &&
	    (o->host != NULL || o->port != -1 || o->unix_path != NULL))
		return (cmd_usage_error(cmd,
		    "--fd conflicts with a host, a port or -U"));
	if (o->host != NULL && *o->host == '\0')
		return (cmd_usage_error(cmd, "empty host"));
	if (cmd->address != CMD_ADDRESS_NONE && o->unix_path == NULL &&
	    o->fd == -1 && o->port == -1) {
		return (cmd_usage_error(cmd,
		    "a port, -U PATH or --fd N is required"));
	}
	if ((o->send_fd_path != NULL || o->recv_fd) && o->port != -1)
		return (cmd_usage_error(cmd,
		    "--send-fd and --recv-fd need a UNIX socket (-U or --fd)"));
	if ((o->send_fd_path != NULL || o->recv_fd ||
		o->encoding != ENC_BINARY || o->write_encoding != ENC_BINARY) &&
	    (o->keep_open || o->exec_cmd != NULL))
		return (cmd_usage_error(cmd,
		    "--encoding, --write-encoding, "
		    "--send-fd and --recv-fd do not go with -k or -e"));
	if ((o->hexdump || o->crlf) && o->exec_cmd != NULL)
		return (cmd_usage_error(cmd,
		    "--hexdump and --crlf do not go with -e"));
	if (o->crlf && (o->keep_open || o->write_encoding != ENC_BINARY))
		return (cmd_usage_error(cmd,
		    "--crlf does not go with -k or --write-encoding"));
	if (o->broker && !o->keep_open)
		return (cmd_usage_error(cmd, "--broker needs -k"));
	if (o->broker && o->exec_cmd != NULL)
		return (cmd_usage_error(cmd, "--broker does not go with -e"));
	if (cmd->address == CMD_ADDRESS_CONNECT && o->port == 0)
		return (cmd_usage_error(cmd, "cannot connect to port 0"));
	if (o->acl != NULL && o->unix_path != NULL)
		return (cmd_usage_error(cmd,
		    "--allow and --deny need IP addresses, not a UNIX socket"));
	if (o->acl != NULL && cmd->mask == CMD_CONNECT && o->fd != -1)
		return (cmd_usage_error(cmd,
		    "--allow and --deny need HOST PORT, not --fd"));
	if (opts_check_udp(cmd, o) != 0 || opts_check_source(cmd, o) != 0)
		return (EXIT_USAGE);
	return (opts_check_tls(cmd, o));
}

/*
 * -u: the options that make no sense for datagrams are errors. Of the
 * timeouts, echo -u keeps no state to time out, and a UDP connect
 * happens at once (nothing to bound or retry).
 */
static int
opts_check_udp(const struct cmd_entry *cmd, struct options *o)
{
	const char *bad = NULL;

	if (!o->udp) {
		if (o->lines)
			return (cmd_usage_error(cmd, "--lines needs -u"));
		return (0);
	}
	if (o->allow_half_open)
		bad = "--allow-half-open";
	else if (o->no_shutdown)
		bad = "--no-shutdown";
	else if (o->no_delay)
		bad = "--no-delay";
	else if (o->keepalive)
		bad = "--keepalive";
	else if (o->tls)
		bad = "--tls";
	else if (o->exec_cmd != NULL)
		bad = "--exec";
	else if (o->send_fd_path != NULL)
		bad = "--send-fd";
	else if (o->recv_fd)
		bad = "--recv-fd";
	else if (o->encoding != ENC_BINARY)
		bad = "--encoding";
	else if (o->write_encoding != ENC_BINARY)
		bad = "--write-encoding";
	else if (o->on_timeout_set)
		bad = "--on-timeout";
	else if (o->proxy_url != NULL)
		bad = "--proxy";
	else if (o->hexdump)
		bad = "--hexdump";
	else if (o->crlf)
		bad = "--crlf";
	else if (o->progress)
		bad = "--progress";
	else if (o->broker)
		bad = "--broker";
	else if (cmd->mask == CMD_CONNECT && o->retry != 0)
		bad = "--retry";
	else if (cmd->mask == CMD_CONNECT && o->connect_timeout_ms != 0)
		bad = "-w";
	else if (cmd->mask == CMD_ECHO && o->max_connections != -1)
		bad = "-m";
	else if (cmd->mask == CMD_ECHO && o->timeout_set)
		bad = "-t";
	if (bad != NULL)
		return (cmd_usage_error(cmd, "%s does not go with -u", bad));
	if (cmd->mask == CMD_CONNECT && !o->timeout_set)
		o->timeout_ms = UDP_REPLY_WAIT_MS;
	return (0);
}

/*
 * -s, --source-port and --proxy: an address of the family of the target,
 * and none of them with a UNIX socket or an inherited one. A source
 * address narrows the target's addresses to its family.
 */
static int
opts_check_source(const struct cmd_entry *cmd, struct options *o)
{
	/* With a proxy, the bound socket connects to the proxy; forward's
	 * target is TO. */
	int fwd = cmd->mask == CMD_FORWARD;
	const char *h = o->proxy_url != NULL ? o->proxy.host
	    : fwd                            ? o->to_host
					     : o->host;
	int fam = AF_UNSPEC;

	if ((o->source != NULL || o->source_port != -1 ||
		o->proxy_url != NULL) &&
	    (fwd ? o->to_unix != NULL : o->unix_path != NULL || o->fd != -1))
		return (cmd_usage_error(cmd,
		    fwd ? "-s, --source-port and --proxy need TO as HOST:PORT"
			: "-s, --source-port and --proxy need HOST PORT"));
	if (o->source == NULL)
		return (0);
	if (isip_v4(o->source, strlen(o->source)))
		fam = AF_INET;
	else if (isip_v6(o->source, strlen(o->source)))
		fam = AF_INET6;
	else
		return (cmd_usage_error(cmd, "-s: '%s' is not an IP address",
		    o->source));
	if (o->family != AF_UNSPEC && o->family != fam)
		return (opts_source_mismatch(cmd, o));
	if (o->proxy_url == NULL && !fwd)
		o->family = fam; /* forward narrows TO's alone */
	return (opts_check_source_host(cmd, o, h));
}

/* -s of the other family than the host it connects to. */
static int
opts_source_mismatch(const struct cmd_entry *cmd, const struct options *o)
{
	return (cmd_usage_error(cmd, "-s %s: not of the %s's family", o->source,
	    o->proxy_url != NULL ? "proxy" : "target"));
}

/*
 * -s against the host it connects to (NULL: none known yet; scan names
 * its host among its operands): an IP literal of the other family is a
 * usage error. 0 or EXIT_USAGE.
 */
int
opts_check_source_host(const struct cmd_entry *cmd, const struct options *o,
    const char *h)
{
	int v4;

	if (o->source == NULL || h == NULL)
		return (0);
	v4 = isip_v4(o->source, strlen(o->source));
	if ((v4 && isip_v6(h, strlen(h))) || (!v4 && isip_v4(h, strlen(h))))
		return (opts_source_mismatch(cmd, o));
	return (0);
}

/* Whether an ALPN list is names of 1 to 255 bytes, comma-separated. */
static int
opts_alpn_ok(const char *list)
{
	size_t n = 0;

	for (;; list++) {
		if (*list == ',' || *list == '\0') {
			if (n == 0 || n > 255)
				return (0);
			if (*list == '\0')
				return (1);
			n = 0;
		} else
			n++;
	}
}

/*
 * forward: --tls-servername and --tls-insecure are about TO (--tls-to),
 * --tls-verify-client about clients (--tls).
 */
static int
opts_check_tls_forward(const struct cmd_entry *cmd, struct options *o)
{
	if (!o->tls_to && (o->tls_servername != NULL || o->tls_insecure))
		return (cmd_usage_error(cmd,
		    "--tls-servername and --tls-insecure need --tls-to"));
	if (!o->tls && o->tls_verify_client)
		return (cmd_usage_error(cmd,
		    "--tls-verify-client needs --tls"));
	if (!o->tls && !o->tls_to &&
	    (o->tls_cert != NULL || o->tls_key != NULL || o->tls_ca != NULL ||
		o->tls_alpn != NULL || o->tls_min_version != 0))
		return (cmd_usage_error(cmd,
		    "the --tls-* options need --tls or --tls-to"));
	return (0);
}

/* The TLS options need --tls, and a server its certificate and key. */
static int
opts_check_tls(const struct cmd_entry *cmd, struct options *o)
{
	int server = cmd->address == CMD_ADDRESS_LISTEN ||
	    (cmd->mask == CMD_FORWARD && o->tls);

	if (cmd->mask == CMD_FORWARD) {
		if (opts_check_tls_forward(cmd, o) != 0)
			return (EXIT_USAGE);
		if (!o->tls && !o->tls_to)
			return (0);
	} else if (!o->tls) {
		if (o->tls_cert != NULL || o->tls_key != NULL ||
		    o->tls_ca != NULL || o->tls_servername != NULL ||
		    o->tls_insecure || o->tls_verify_client ||
		    o->tls_alpn != NULL || o->tls_min_version != 0)
			return (cmd_usage_error(cmd,
			    "the --tls-* options need --tls"));
		return (0);
	}
	if (server && (o->tls_cert == NULL || o->tls_key == NULL))
		return (cmd_usage_error(cmd,
		    "--tls needs --tls-cert and --tls-key"));
	if ((o->tls_cert == NULL) != (o->tls_key == NULL))
		return (cmd_usage_error(cmd,
		    "--tls-cert and --tls-key go together"));
	if (o->tls_alpn != NULL && !opts_alpn_ok(o->tls_alpn))
		return (cmd_usage_error(cmd,
		    "--tls-alpn: bad list '%s' (names of 1 to 255 bytes, "
		    "comma-separated)",
		    o->tls_alpn));
	if (o->tls_verify_client && o->tls_ca == NULL)
		return (cmd_usage_error(cmd,
		    "--tls-verify-client needs --tls-ca"));
	if (o->send_fd_path != NULL || o->recv_fd)
		return (cmd_usage_error(cmd,
		    "--send-fd and --recv-fd do not go with --tls"));

	return (0);
}

/* Read the options and operands of a command into o (opts_parse). */
static int
opts_read(const struct cmd_entry *cmd, int argc, char **argv, struct options *o)
{
	const struct opts_row *r;
	const char *shorts;
	char name[64];
	int ch, error;

	opts_build();
	memset(o, 0, sizeof *o);
	o->cmd = cmd->mask;
	o->name = cmd->name;
	o->port = -1;
	o->fd = -1;
	o->family = AF_UNSPEC;
	o->keepalive_ms = -1;
	o->max_connections = -1;
	o->buffer_size = cmd->buffer_size;
	o->attempt_delay_ms = 250;
	o->source_port = -1;

	/* "+": options end at the first operand the command keeps. */
	shorts = (cmd->args == CMD_ARGS_OWN ? opts_short : opts_short + 1);
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, opts_long, NULL)) != -1) {
		if (ch == '?')
			return (opts_unknown(cmd, argv[optind - 1]));
		if (ch == ':') {
			return (cmd_usage_error(cmd, "%s needs a value",
			    argv[optind - 1]));
		}
		if ((r = opts_row(ch, cmd->mask)) == NULL) {
			r = opts_row(ch, ~0);
			return (cmd_usage_error(cmd, "%s does not apply to %s",
			    opts_name(r, name, sizeof name), cmd->name));
		}
		if ((error = r->set(cmd, r, optarg, o)) != 0)
			return (error);
	}
	if (opts_operands(cmd, argc, argv, o) != 0 || opts_check(cmd, o) != 0)
		return (EXIT_USAGE);
	return (0);
}

/*
 * Parse the options and operands of a command into o; opts_free frees
 * what they hold. Returns 0, EXIT_USAGE after printing a usage error, or
 * -1 when --help was printed (nothing is left to free then).
 */
int
opts_parse(const struct cmd_entry *cmd, int argc, char **argv,
    struct options *o)
{
	int r;

	if ((r = opts_read(cmd, argc, argv, o)) != 0) {
		opts_free(o);
		return (r);
	}
	log_init(o->quiet);
	events_init(o->events, o->verbose);
	return (0);
}

/* Free what parsed options hold (the access lists). */
void
opts_free(struct options *o)
{
	acl_free(o->acl);
	o->acl = NULL;
}

/* A row's names in --help: "-p, --port PORT", "--retry[=N]", "-4". */
static void
opts_help_names(const struct opts_row *r, char *buf, size_t len)
{
	size_t n;

	buf[0] = '\0';
	if (r->letter != 0)
		snprintf(buf, len, "-%c%s", r->letter, r->name ? ", " : "");
	n = strlen(buf);
	if (r->name != NULL)
		snprintf(buf + n, len - n, "--%s", r->name);
	n = strlen(buf);
	if (r->has_arg == required_argument)
		snprintf(buf + n, len - n, " %s", r->arg);
	else if (r->has_arg == optional_argument)
		snprintf(buf + n, len - n, "[=%s]", r->arg);
}

/*
 * The option column of the --help line that starts at row r: its names,
 * then those of the rows of the command that share its line. Returns the
 * row after the line's last one.
 */
static const struct opts_row *
opts_help_column(const struct opts_row *r, int mask, char *buf, size_t len)
{
	const struct opts_row *end = opts_table + OPTS_NROWS;
	size_t n;

	/* Long-only options line up with the long names after "-x, ". */
	snprintf(buf, len, "%s", r->letter == 0 ? "      " : "  ");
	n = strlen(buf);
	opts_help_names(r, buf + n, len - n);
	for (r++; r < end && ((r->cmds & mask) == 0 || r->help == NULL); r++) {
		if ((r->cmds & mask) == 0)
			continue;
		n = strlen(buf);
		snprintf(buf + n, len - n, ", ");
		n = strlen(buf);
		opts_help_names(r, buf + n, len - n);
	}
	return (r);
}

/* The options part of a command's --help: its rows in table order. */
void
opts_help(const struct cmd_entry *cmd, FILE *f)
{
	const struct opts_row *r, *next, *end = opts_table + OPTS_NROWS;
	const char *text, *nl;
	char col[128];
	int width = 0;

	for (r = opts_table; r < end; r = next) {
		next = r + 1;
		if ((r->cmds & cmd->mask) == 0)
			continue;
		next = opts_help_column(r, cmd->mask, col, sizeof col);
		if ((int)strlen(col) > width)
			width = (int)strlen(col);
	}
	if (width == 0)
		return;
	if (width > OPTS_HELP_WIDTH)
		width = OPTS_HELP_WIDTH;
	fprintf(f, "\nOptions:\n");
	for (r = opts_table; r < end; r = next) {
		next = r + 1;
		if ((r->cmds & cmd->mask) == 0)
			continue;
		next = opts_help_column(r, cmd->mask, col, sizeof col);
		fprintf(f, "%-*s", width, col);
		text = (r->help != NULL ? r->help : "");
		for (; (nl = strchr(text, '\n')) != NULL; text = nl + 1) {
			fprintf(f, "  %.*s\n%*s", (int)(nl - text), text, width,
			    "");
		}
		fprintf(f, "  %s\n", text);
	}
}

/*
 * The words a row's value can be (NULL: any), for shell completion; the
 * same tables its setter parses with.
 */
static const struct opts_word *
opts_row_words(const struct opts_row *r)
{
	if (r->set == opts_set_on_timeout)
		return (opts_on_timeout_words);
	if (r->set == opts_set_events)
		return (opts_events_words);
	if (r->set == opts_set_tls_version)
		return (opts_tls_version_words);
	return (NULL);
}

/* Whether r is the first row of the command of mask with r's long name. */
static int
opts_complete_first(const struct opts_row *r, int mask)
{
	const struct opts_row *p;

	for (p = opts_table; p < r; p++) {
		if ((p->cmds & mask) != 0 && p->name != NULL &&
		    strcmp(p->name, r->name) == 0)
			return (0);
	}
	return (1);
}

/* One line of opts_complete: a name, its kind and its values. */
static void
opts_complete_line(const struct opts_row *r, const char *name, FILE *f)
{
	static const char *kinds[] = {
		[no_argument] = "none",
		[required_argument] = "required",
		[optional_argument] = "optional",
	};
	const struct opts_word *w;
	const char *enc;
	size_t i;

	fprintf(f, "%s %s", name, kinds[r->has_arg]);
	if (r->set == opts_set_encoding) {
		for (i = 0; (enc = encoding_name(i,
				 r->off == OPTS_FIELD(write_encoding))) != NULL;
		     i++)
			fprintf(f, " %s", enc);
	} else if ((w = opts_row_words(r)) != NULL) {
		for (; w->word != NULL; w++)
			fprintf(f, " %s", w->word);
	} else if (r->arg != NULL &&
	    (strcmp(r->arg, "PATH") == 0 || strcmp(r->arg, "FILE") == 0))
		fprintf(f, " @file");
	fputc('\n', f);
}

/*
 * For shell completion (netkit --complete COMMAND): each option of a
 * command on a line, "NAME KIND [VALUE...]": NAME "-x" or "--name", KIND
 * none, required or optional (a value after "="), and the VALUEs the
 * words it takes, or "@file" when it names a file. Not in --help: it is
 * for the completion script, which reads it instead of parsing --help.
 */
void
opts_complete(const struct cmd_entry *cmd, FILE *f)
{
	const struct opts_row *r, *end = opts_table + OPTS_NROWS;
	char name[64];

	for (r = opts_table; r < end; r++) {
		if ((r->cmds & cmd->mask) == 0)
			continue;
		/* Each name once: the row the parser uses for it. */
		if (r->letter != 0 && opts_row(r->letter, cmd->mask) == r) {
			snprintf(name, sizeof name, "-%c", r->letter);
			opts_complete_line(r, name, f);
		}
		if (r->name != NULL && opts_complete_first(r, cmd->mask)) {
			snprintf(name, sizeof name, "--%s", r->name);
			opts_complete_line(r, name, f);
		}
	}
}
