/*
 * The command table: lookup by exact name and usage printing.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "netkit.h"

const struct cmd_entry *cmd_table[] = {
	&cmd_listen_entry,
	&cmd_connect_entry,
	&cmd_echo_entry,
	&cmd_scan_entry,
	&cmd_forward_entry,
	&cmd_isip_entry,
	NULL,
};

/* Find a command by its exact name. */
const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry **cmd;

	for (cmd = cmd_table; *cmd != NULL; cmd++) {
		if (strcmp((*cmd)->name, name) == 0)
			return (*cmd);
	}
	return (NULL);
}

/* Print each synopsis line of a command, prefixed by "netkit ". */
static void
cmd_synopsis(const struct cmd_entry *cmd, FILE *f, const char *first)
{
	const char *line, *end;

	for (line = cmd->synopsis; *line != '\0'; line = end) {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		fprintf(f, "%s%.*s\n", first, (int)(end - line), line);
		first = "       netkit ";
		if (*end == '\n')
			end++;
	}
}

/* The general usage: every command's synopsis, then every summary. */
void
cmd_usage(FILE *f)
{
	const struct cmd_entry **cmd;
	const char *first = "usage: netkit ";
	int width = 0;

	for (cmd = cmd_table; *cmd != NULL; cmd++) {
		cmd_synopsis(*cmd, f, first);
		first = "       netkit ";
		if ((int)strlen((*cmd)->name) > width)
			width = (int)strlen((*cmd)->name);
	}
	fprintf(f,
	    "       netkit help [COMMAND]\n"
	    "       netkit --help | --version\n"
	    "\n"
	    "Commands:\n");
	for (cmd = cmd_table; *cmd != NULL; cmd++)
		fprintf(f, "  %-*s  %s\n", width, (*cmd)->name,
		    (*cmd)->summary);
	fprintf(f, "\nSee netkit(1), or netkit help COMMAND.\n");
}

/* A command's usage and options, for COMMAND --help and help COMMAND. */
void
cmd_help(const struct cmd_entry *cmd, FILE *f)
{
	cmd_synopsis(cmd, f, "usage: netkit ");
	opts_help(cmd, f);
}

/*
 * For shell completion (netkit --complete): the commands, help, and the
 * options netkit takes before a command, one a line.
 */
void
cmd_complete(FILE *f)
{
	const struct cmd_entry **cmd;

	for (cmd = cmd_table; *cmd != NULL; cmd++)
		fprintf(f, "%s\n", (*cmd)->name);
	fprintf(f, "help\n--help\n--version\n");
}

/* Report a usage error for a command as one line; returns EXIT_USAGE. */
int
cmd_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		log_errorx("%s: %s (see 'netkit %s --help')", cmd->name, msg,
		    cmd->name);
	else
		log_errorx("%s (see 'netkit --help')", msg);
	return (EXIT_USAGE);
}
