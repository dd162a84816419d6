/*
 * fuzz-numbers: opts_number() and opts_port() against a strtoul()-based
 * reference, and opts_parse() on fuzzed argument vectors.
 *
 * The first byte picks the mode:
 *	0	opts_number: 8 bytes of min, 8 of max, then the string
 *	1	opts_number with the bounds the options use, on the string
 *	2	opts_port on the string
 *	3	opts_parse: byte 1 picks listen, connect or echo, the rest is
 *		the arguments separated by NUL bytes
 * A string ends at the first NUL byte, as it would in argv.
 *
 * opts.c is linked alone with encoding.c, isip.c, proxy.c and acl.c
 * (--allow-file and --deny-file read the files they name); the few other
 * functions it calls (usage errors, help, log and events setup) are stubs
 * here.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netkit.h"

static int usage_errors;

/* Stub: format the message as cmd.c does, but print nothing. */
int
cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	(void)cmd;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	usage_errors++;
	return (EXIT_USAGE);
}

/* Stub: help would go to stdout. */
void
cmd_help(const struct cmd_entry *cmd, FILE *f)
{
	(void)cmd;
	(void)f;
}

/* Stubs: opts_parse() sets these up on success. */
void
log_init(int quiet)
{
	(void)quiet;
}

void
events_init(enum events_format format, int verbose)
{
	(void)format;
	(void)verbose;
}

/* Stub: proxy.c (--proxy URLs are parsed) names errno values. */
const char *
log_errno_name(int err)
{
	(void)err;
	return ("E");
}

/* The parser's facts of listen, connect and echo, as their entries say. */
static const struct cmd_entry fuzz_cmds[] = {
	{ .name = "listen",
	    .mask = CMD_LISTEN,
	    .args = CMD_ARGS_HOST_PORT,
	    .address = CMD_ADDRESS_LISTEN,
	    .buffer_size = NETKIT_BUFFER_SIZE },
	{ .name = "connect",
	    .mask = CMD_CONNECT,
	    .args = CMD_ARGS_HOST_PORT,
	    .address = CMD_ADDRESS_CONNECT,
	    .buffer_size = NETKIT_BUFFER_SIZE },
	{ .name = "echo",
	    .mask = CMD_ECHO,
	    .args = CMD_ARGS_NONE,
	    .address = CMD_ADDRESS_LISTEN,
	    .buffer_size = 64 * 1024 },
};

/* Stop on a mismatch, showing the string. */
static void
fail(const char *what, const char *s, long min, long max)
{
	const unsigned char *p;

	fprintf(stderr, "fuzz-numbers: %s; min %ld max %ld string:", what, min,
	    max);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		fprintf(stderr, " %02x", *p);
	fprintf(stderr, "\n");
	abort();
}

/* The reference: digits only (no sign, space or prefix), no overflow. */
static int
ref_number(const char *s, long min, long max, long *out)
{
	unsigned long v;
	char *end;
	size_t i;

	if (s[0] == '\0')
		return (-1);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno == ERANGE || *end != '\0' || v > (unsigned long)LONG_MAX)
		return (-1);
	if ((long)v < min || (long)v > max)
		return (-1);
	*out = (long)v;
	return (0);
}

/* opts_number() and the reference must agree, and *out only on success. */
static void
check_number(const char *s, long min, long max)
{
	long got = -12345, want = -12345;
	int r, rr;

	r = opts_number(s, min, max, &got);
	rr = ref_number(s, min, max, &want);
	if (r != rr)
		fail(r == 0 ? "opts_number accepts a bad number"
			    : "opts_number refuses a good number",
		    s, min, max);
	if (got != want)
		fail("opts_number gives the wrong value", s, min, max);
}

/* opts_port(): 1 to 5 digits, 0 to 65535. */
static void
check_port(const char *s)
{
	long want = -1;
	int got = -12345, r, rr;

	r = opts_port(s, &got);
	rr = strlen(s) <= 5 ? ref_number(s, 0, 65535, &want) : -1;
	if (r != rr)
		fail(r == 0 ? "opts_port accepts a bad port"
			    : "opts_port refuses a good port",
		    s, 0, 65535);
	if (r == 0 && got != want)
		fail("opts_port gives the wrong value", s, 0, 65535);
	if (r != 0 && got != -12345)
		fail("opts_port wrote a port on failure", s, 0, 65535);
}

/* Whether p points into one of the n strings of v. */
static int
in_argv(const char *p, char **v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (p >= v[i] && p <= v[i] + strlen(v[i]))
			return (1);
	}
	return (0);
}

/* opts_parse() on fuzzed arguments: no crash, and sane options on success. */
static void
check_parse(const uint8_t *data, size_t size)
{
	const struct cmd_entry *cmd;
	struct options o;
	char *buf, **argv, **orig, *reset_argv[] = { "x", NULL };
	size_t i;
	int argc = 1, r;

	if (size < 1)
		return;
	cmd = &fuzz_cmds[data[0] % 3];
	data++;
	size--;
	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i < size; i++) {
		if (buf[i] == '\0')
			argc++;
	}
	argc++; /* argv[0] */
	if (size == 0)
		argc = 1;
	if ((argv = calloc((size_t)argc + 1, sizeof *argv)) == NULL ||
	    (orig = calloc((size_t)argc + 1, sizeof *orig)) == NULL)
		abort();
	argv[0] = (char *)cmd->name;
	if (size > 0) {
		argc = 1;
		argv[argc++] = buf;
		for (i = 0; i < size; i++) {
			if (buf[i] == '\0')
				argv[argc++] = buf + i + 1;
		}
	}
	memcpy(orig, argv, ((size_t)argc + 1) * sizeof *argv);

	/* Forget getopt's state from the last run (optind 0 reinitializes). */
	optind = 0;
	opterr = 0;
	getopt(1, reset_argv, "");

	usage_errors = 0;
	r = opts_parse(cmd, argc, argv, &o);
	if (r != 0 && r != EXIT_USAGE && r != -1)
		abort();
	if (r == EXIT_USAGE && usage_errors != 1)
		abort(); /* exactly one message before a usage error */
	if (r != EXIT_USAGE && usage_errors != 0)
		abort();
	if (r == 0) {
		if (o.port < -1 || o.port > 65535)
			abort();
		if (o.fd != -1 && o.fd < 3)
			abort();
		if (o.port == -1 && o.fd == -1 && o.unix_path == NULL)
			abort();
		if (o.unix_path != NULL &&
		    (o.host != NULL || o.port != -1 || *o.unix_path == '\0' ||
			!in_argv(o.unix_path, orig, argc)))
			abort();
		if (o.host != NULL &&
		    (*o.host == '\0' || !in_argv(o.host, orig, argc)))
			abort();
		if (o.timeout_ms < 0 || o.timeout_ms > INT_MAX ||
		    o.connect_timeout_ms < 0 ||
		    o.connect_timeout_ms > INT_MAX || o.keepalive_ms < -1 ||
		    o.keepalive_ms > INT_MAX)
			abort();
		if (o.max_connections != -1 &&
		    (o.max_connections < 1 || o.max_connections > INT_MAX))
			abort();
		if (o.retry < -1 || o.retry > INT_MAX)
			abort();
		if (o.buffer_size < 1 || o.buffer_size > (1u << 30))
			abort();
		if (o.encoding < ENC_BINARY || o.encoding > ENC_HEX ||
		    o.write_encoding < ENC_BINARY ||
		    o.write_encoding > ENC_HEX || o.write_encoding == ENC_ASCII)
			abort();
		if (o.cmd == CMD_CONNECT && o.port == 0)
			abort();
		if (o.cmd == CMD_ECHO && o.exec_cmd != NULL)
			abort();
		opts_free(&o);
	}
	free(orig);
	free(argv);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long bounds[][2] = {
		{ 0, 65535 },
		{ 3, INT_MAX },
		{ 0, INT_MAX },
		{ 1, INT_MAX },
		{ 1, 1L << 30 },
		{ 0, LONG_MAX },
		{ LONG_MIN, LONG_MAX },
		{ 5, 4 },
		{ LONG_MAX, LONG_MAX },
		{ 0, 0 },
	};
	long min, max;
	char *s;
	size_t i;
	int mode;

	if (size < 1)
		return (0);
	mode = data[0] % 4;
	data++;
	size--;
	if (mode == 3) {
		check_parse(data, size);
		return (0);
	}

	min = LONG_MIN;
	max = LONG_MAX;
	if (mode == 0) {
		if (size < 16)
			return (0);
		memcpy(&min, data, sizeof min);
		memcpy(&max, data + 8, sizeof max);
		data += 16;
		size -= 16;
	}
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (mode == 0)
		check_number(s, min, max);
	else if (mode == 1) {
		for (i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
			check_number(s, bounds[i][0], bounds[i][1]);
	} else
		check_port(s);
	free(s);
	return (0);
}
