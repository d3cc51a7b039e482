/*
 * cli: the start-up every Missive program shares.
 *
 * Handles -c/--config FILE, --check-config, -h/--help and --version, loads and
 * validates the configuration, starts logging and logs the effective settings
 * (secrets redacted). Arguments it does not know are left for the program.
 */
#ifndef MISSIVE_CLI_H
#define MISSIVE_CLI_H

#include "config.h"

#define MISSIVE_VERSION "0.1.0"

struct cli_program {
    const char *name;     /* "missive-api" */
    const char *summary;  /* one line: what the program does */
    const char *usage;    /* program-specific arguments, for --help; may be NULL */
};

/*
 * Parses the common options out of argv and loads *cfg. Exits the process on
 * --help, --version, --check-config and on any configuration error (status 2).
 * Returns the new argc; argv[1..argc) then holds the unhandled arguments in order.
 */
int cli_start(const struct cli_program *prog, int argc, char **argv, struct config *cfg);

#endif
