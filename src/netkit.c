/*
 * main: global options, find the command, run it, return its status.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "netkit.h"

/* Print the version line. */
static int
netkit_version(void)
{
	printf("netkit %s\n", PACKAGE_VERSION);
	return (EXIT_OK);
}

/* "netkit help [COMMAND]". */
static int
netkit_help(int argc, char **argv)
{
	const struct cmd_entry *cmd;

	if (argc < 2) {
		cmd_usage(stdout);
		return (EXIT_OK);
	}
	if (argc > 2)
		return (cmd_usage_error(NULL, "help: too many arguments"));
	cmd = cmd_find(argv[1]);
	if (cmd == NULL)
		return (cmd_usage_error(NULL, "help: unknown command '%s'",
		    argv[1]));
	cmd_help(cmd, stdout);
	return (EXIT_OK);
}

/*
 * "netkit --complete [COMMAND]", for the shell completion script and left
 * out of --help: the commands, or a command's options (cmd_complete,
 * opts_complete).
 */
static int
netkit_complete(int argc, char **argv)
{
	const struct cmd_entry *cmd;

	if (argc < 2) {
		cmd_complete(stdout);
		return (EXIT_OK);
	}
	if (argc > 2)
		return (cmd_usage_error(NULL,
		    "--complete: too many arguments"));
	if ((cmd = cmd_find(argv[1])) == NULL)
		return (cmd_usage_error(NULL,
		    "--complete: unknown command '%s'", argv[1]));
	opts_complete(cmd, stdout);
	return (EXIT_OK);
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *cmd;
	int status;

	signal(SIGPIPE, SIG_IGN);
	stdio_init();

	if (argc < 2) {
		cmd_usage(stderr);
		return (EXIT_USAGE);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cmd_usage(stdout);
		status = EXIT_OK;
	} else if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "-V") == 0) {
		if (argc > 2)
			return (cmd_usage_error(NULL,
			    "--version: unexpected "
			    "argument '%s'",
			    argv[2]));
		status = netkit_version();
	} else if (strcmp(argv[1], "--complete") == 0)
		status = netkit_complete(argc - 1, argv + 1);
	else if (strcmp(argv[1], "help") == 0)
		status = netkit_help(argc - 1, argv + 1);
	else if (argv[1][0] == '-')
		return (cmd_usage_error(NULL, "unknown option '%s'", argv[1]));
	else if ((cmd = cmd_find(argv[1])) == NULL)
		return (cmd_usage_error(NULL, "unknown command '%s'", argv[1]));
	else
		status = cmd->exec(cmd, argc - 1, argv + 1);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("stdout", NULL, errno);
		if (status == EXIT_OK)
			status = EXIT_RUNTIME;
	}
	return (status);
}
