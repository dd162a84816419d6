/*
 * Option parsing shared by listen, connect and echo: one table of long
 * options, each marked with the commands it applies to.
 */

#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "netkit.h"

enum {
	OPT_FD = 256,
	OPT_ALLOW_HALF_OPEN,
	OPT_NO_SHUTDOWN,
	OPT_ON_TIMEOUT,
	OPT_NO_DELAY,
	OPT_KEEPALIVE,
	OPT_RETRY,
	OPT_ENCODING,
	OPT_WRITE_ENCODING,
	OPT_SEND_FD,
	OPT_RECV_FD,
	OPT_EVENTS,
	OPT_BUFFER_SIZE,
};

/* Which commands take an option, and whether it works yet. */
struct opt_spec {
	int val;
	int cmds;
	int implemented;
};

static const struct option opts_long[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "host", required_argument, NULL, 'H' },
	{ "unix", required_argument, NULL, 'U' },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "allow-half-open", no_argument, NULL, OPT_ALLOW_HALF_OPEN },
	{ "no-shutdown", no_argument, NULL, OPT_NO_SHUTDOWN },
	{ "timeout", required_argument, NULL, 't' },
	{ "on-timeout", required_argument, NULL, OPT_ON_TIMEOUT },
	{ "no-delay", no_argument, NULL, OPT_NO_DELAY },
	{ "keepalive", optional_argument, NULL, OPT_KEEPALIVE },
	{ "max-connections", required_argument, NULL, 'm' },
	{ "retry", optional_argument, NULL, OPT_RETRY },
	{ "connect-timeout", required_argument, NULL, 'w' },
	{ "encoding", required_argument, NULL, OPT_ENCODING },
	{ "write-encoding", required_argument, NULL, OPT_WRITE_ENCODING },
	{ "send-fd", required_argument, NULL, OPT_SEND_FD },
	{ "recv-fd", no_argument, NULL, OPT_RECV_FD },
	{ "keep-open", no_argument, NULL, 'k' },
	{ "exec", required_argument, NULL, 'e' },
	{ "buffer-size", required_argument, NULL, OPT_BUFFER_SIZE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "events", optional_argument, NULL, OPT_EVENTS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
static const char opts_short[] = ":p:H:U:46t:m:w:ke:vqh";

static const struct opt_spec opts_specs[] = {
	{ 'p', CMD_ALL, 1 },
	{ 'H', CMD_ALL, 1 },
	{ 'U', CMD_ALL, 1 },
	{ OPT_FD, CMD_ALL, 1 },
	{ '4', CMD_ALL, 1 },
	{ '6', CMD_ALL, 1 },
	{ OPT_ALLOW_HALF_OPEN, CMD_ALL, 1 },
	{ OPT_NO_SHUTDOWN, CMD_LISTEN | CMD_CONNECT, 1 },
	{ 't', CMD_ALL, 1 },
	{ OPT_ON_TIMEOUT, CMD_ALL, 1 },
	{ OPT_NO_DELAY, CMD_ALL, 1 },
	{ OPT_KEEPALIVE, CMD_ALL, 1 },
	{ 'm', CMD_LISTEN | CMD_ECHO, 1 },
	{ OPT_RETRY, CMD_ALL, 1 },
	{ 'w', CMD_CONNECT, 1 },
	{ OPT_ENCODING, CMD_LISTEN | CMD_CONNECT, 1 },
	{ OPT_WRITE_ENCODING, CMD_LISTEN | CMD_CONNECT, 1 },
	{ OPT_SEND_FD, CMD_LISTEN | CMD_CONNECT, 1 },
	{ OPT_RECV_FD, CMD_LISTEN | CMD_CONNECT, 1 },
	{ 'k', CMD_LISTEN, 1 },
	{ 'e', CMD_LISTEN | CMD_CONNECT, 1 },
	{ OPT_BUFFER_SIZE, CMD_ALL, 1 },
	{ 'v', CMD_ALL, 1 },
	{ OPT_EVENTS, CMD_ALL, 1 },
	{ 'q', CMD_ALL, 1 },
	{ 'h', CMD_ALL, 1 },
};

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

/* The display name of an option value, for messages. */
static const char *
opts_name(int val, char *buf, size_t len)
{
	const struct option *o;

	for (o = opts_long; o->name != NULL; o++) {
		if (o->val == val) {
			snprintf(buf, len, "--%s", o->name);
			return (buf);
		}
	}
	snprintf(buf, len, "-%c", val);
	return (buf);
}

/* Report an option getopt refused: unknown, or a value given to a flag. */
static int
opts_unknown(const struct cmd_entry *cmd, const char *arg)
{
	const struct option *o;
	size_t len;

	if (strncmp(arg, "--", 2) == 0 && strchr(arg, '=') != NULL) {
		len = (size_t)(strchr(arg, '=') - arg - 2);
		for (o = opts_long; o->name != NULL; o++) {
			if (o->has_arg == no_argument &&
			    strncmp(o->name, arg + 2, len) == 0 &&
			    o->name[len] == '\0')
				return (cmd_usage_error(cmd,
				    "--%s takes no value", o->name));
		}
	}
	if (strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 256)
		return (cmd_usage_error(cmd, "unknown option -%c", optopt));
	return (cmd_usage_error(cmd, "unknown option '%s'", arg));
}

/* Find the spec of an option. */
static const struct opt_spec *
opts_spec(int val)
{
	size_t i;

	for (i = 0; i < sizeof opts_specs / sizeof opts_specs[0]; i++) {
		if (opts_specs[i].val == val)
			return (&opts_specs[i]);
	}
	return (NULL);
}

/* Parse a time in milliseconds. */
static int
opts_ms(const struct cmd_entry *cmd, int val, const char *arg, long *out)
{
	char name[64];

	if (opts_number(arg, 0, INT_MAX, out) != 0) {
		return (cmd_usage_error(cmd, "%s: bad time '%s' (milliseconds)",
		    opts_name(val, name, sizeof name), arg));
	}
	return (0);
}

/* Check the options against each other once all are parsed. */
static int
opts_check(const struct cmd_entry *cmd, struct options *o, int v4, int v6)
{
	if (v4 && v6)
		return (cmd_usage_error(cmd, "-4 and -6 conflict"));
	if (o->unix_path != NULL && (o->host != NULL || o->port != -1))
		return (cmd_usage_error(cmd, "-U conflicts with a host or port"));
	if (o->unix_path != NULL && (v4 || v6))
		return (cmd_usage_error(cmd, "-U conflicts with -4 and -6"));
	if (o->unix_path != NULL && *o->unix_path == '\0')
		return (cmd_usage_error(cmd, "-U: empty path"));
	if (o->fd != -1 && (o->host != NULL || o->port != -1 ||
	    o->unix_path != NULL))
		return (cmd_usage_error(cmd,
		    "--fd conflicts with a host, a port or -U"));
	if (o->host != NULL && *o->host == '\0')
		return (cmd_usage_error(cmd, "empty host"));
	if (o->unix_path == NULL && o->fd == -1 && o->port == -1) {
		return (cmd_usage_error(cmd,
		    "a port, -U PATH or --fd N is required"));
	}
	if ((o->send_fd_path != NULL || o->recv_fd) && o->port != -1)
		return (cmd_usage_error(cmd,
		    "--send-fd and --recv-fd need a UNIX socket (-U or --fd)"));
	if ((o->send_fd_path != NULL || o->recv_fd ||
	    o->encoding != ENC_BINARY || o->write_encoding != ENC_BINARY) &&
	    (o->keep_open || o->exec_cmd != NULL))
		return (cmd_usage_error(cmd, "--encoding, --write-encoding, "
		    "--send-fd and --recv-fd do not go with -k or -e"));
	if (o->cmd == CMD_CONNECT && o->port == 0)
		return (cmd_usage_error(cmd, "cannot connect to port 0"));
	return (0);
}

/*
 * Parse the options and operands of listen, connect or echo into o.
 * Returns 0, EXIT_USAGE after printing a usage error, or -1 when --help
 * was printed.
 */
int
opts_parse(const struct cmd_entry *cmd, int argc, char **argv,
    struct options *o)
{
	const struct opt_spec *spec;
	enum encoding enc;
	char name[64];
	long n;
	int ch, v4 = 0, v6 = 0, nargs;

	memset(o, 0, sizeof *o);
	o->name = cmd->name;
	if (strcmp(cmd->name, "listen") == 0)
		o->cmd = CMD_LISTEN;
	else if (strcmp(cmd->name, "connect") == 0)
		o->cmd = CMD_CONNECT;
	else
		o->cmd = CMD_ECHO;
	o->port = -1;
	o->fd = -1;
	o->family = AF_UNSPEC;
	o->keepalive_ms = -1;
	o->max_connections = -1;
	o->buffer_size = NETKIT_BUFFER_SIZE;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, opts_short, opts_long,
	    NULL)) != -1) {
		if (ch == '?')
			return (opts_unknown(cmd, argv[optind - 1]));
		if (ch == ':') {
			return (cmd_usage_error(cmd, "%s needs a value",
			    argv[optind - 1]));
		}
		spec = opts_spec(ch);
		if (spec == NULL || (spec->cmds & o->cmd) == 0) {
			return (cmd_usage_error(cmd, "%s does not apply to %s",
			    opts_name(ch, name, sizeof name), cmd->name));
		}
		if (!spec->implemented) {
			return (cmd_usage_error(cmd, "%s is not implemented yet",
			    opts_name(ch, name, sizeof name)));
		}
		switch (ch) {
		case 'p':
			if (opts_port(optarg, &o->port) != 0)
				return (cmd_usage_error(cmd, "bad port '%s'",
				    optarg));
			break;
		case 'H':
			o->host = optarg;
			break;
		case OPT_FD:
			if (opts_number(optarg, 3, INT_MAX, &n) != 0)
				return (cmd_usage_error(cmd, "--fd: bad "
				    "descriptor '%s' (3 or more)", optarg));
			o->fd = (int)n;
			break;
		case 'U':
			o->unix_path = optarg;
			break;
		case '4':
			v4 = 1;
			o->family = AF_INET;
			break;
		case '6':
			v6 = 1;
			o->family = AF_INET6;
			break;
		case OPT_ALLOW_HALF_OPEN:
			o->allow_half_open = 1;
			break;
		case OPT_NO_SHUTDOWN:
			o->no_shutdown = 1;
			break;
		case 't':
			if (opts_ms(cmd, ch, optarg, &o->timeout_ms))
				return (EXIT_USAGE);
			break;
		case OPT_ON_TIMEOUT:
			if (strcmp(optarg, "end") == 0)
				o->on_timeout = ON_TIMEOUT_END;
			else if (strcmp(optarg, "destroy") == 0)
				o->on_timeout = ON_TIMEOUT_DESTROY;
			else if (strcmp(optarg, "ignore") == 0)
				o->on_timeout = ON_TIMEOUT_IGNORE;
			else
				return (cmd_usage_error(cmd, "--on-timeout: "
				    "'%s' is not end, destroy or ignore",
				    optarg));
			break;
		case 'e':
			o->exec_cmd = optarg;
			break;
		case 'k':
			o->keep_open = 1;
			break;
		case OPT_ENCODING:
		case OPT_WRITE_ENCODING:
			if (encoding_parse(optarg, ch == OPT_WRITE_ENCODING,
			    &enc) != 0)
				return (cmd_usage_error(cmd, "%s: unknown "
				    "encoding '%s'", opts_name(ch, name,
				    sizeof name), optarg));
			if (ch == OPT_ENCODING)
				o->encoding = (int)enc;
			else {
				o->write_encoding = (int)enc;
				o->write_encoding_name = optarg;
			}
			break;
		case OPT_SEND_FD:
			o->send_fd_path = optarg;
			break;
		case OPT_RECV_FD:
			o->recv_fd = 1;
			break;
		case OPT_NO_DELAY:
			o->no_delay = 1;
			break;
		case OPT_KEEPALIVE:
			o->keepalive = 1;
			o->keepalive_ms = -1;
			if (optarg != NULL && opts_ms(cmd, ch, optarg,
			    &o->keepalive_ms))
				return (EXIT_USAGE);
			break;
		case 'm':
			if (opts_number(optarg, 1, INT_MAX,
			    &o->max_connections) != 0)
				return (cmd_usage_error(cmd,
				    "-m: bad count '%s' (1 or more)", optarg));
			break;
		case OPT_RETRY:
			if (optarg == NULL)
				o->retry = -1;
			else if (opts_number(optarg, 0, INT_MAX, &o->retry) != 0)
				return (cmd_usage_error(cmd,
				    "--retry: bad count '%s'", optarg));
			break;
		case 'w':
			if (opts_ms(cmd, ch, optarg, &o->connect_timeout_ms))
				return (EXIT_USAGE);
			break;
		case OPT_BUFFER_SIZE:
			if (opts_number(optarg, 1, 1L << 30, &n) != 0)
				return (cmd_usage_error(cmd,
				    "--buffer-size: bad size '%s'", optarg));
			o->buffer_size = (size_t)n;
			o->buffer_size_set = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_EVENTS:
			if (optarg == NULL || strcmp(optarg, "text") == 0)
				o->events = EVENTS_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->events = EVENTS_JSON;
			else
				return (cmd_usage_error(cmd,
				    "--events: unknown format '%s'", optarg));
			break;
		case 'h':
			cmd_help(cmd, stdout);
			return (-1);
		}
	}

	/* Operands: [HOST] PORT for listen and connect. */
	nargs = argc - optind;
	if (nargs > 0 && o->cmd == CMD_ECHO)
		return (cmd_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]));
	if (nargs > 2)
		return (cmd_usage_error(cmd, "too many arguments"));
	if (nargs == 2)
		o->host = argv[optind++];
	if (nargs >= 1) {
		if (opts_port(argv[optind], &o->port) != 0)
			return (cmd_usage_error(cmd, "bad port '%s'",
			    argv[optind]));
	}
	if (opts_check(cmd, o, v4, v6) != 0)
		return (EXIT_USAGE);
	log_init(o->quiet);
	events_init(o->events, o->verbose);
	return (0);
}
