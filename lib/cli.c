/*
 * cli: option parsing and configuration loading shared by every program.
 * Runs once at start-up on the main thread.
 */
#include "cli.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(const struct cli_program *prog, FILE *out)
{
    fprintf(out,
            "Usage: %s [-c FILE] [--check-config] [--help] [--version]%s%s\n\n"
            "%s\n\n"
            "Options:\n"
            "  -c, --config FILE  read settings from FILE (key = value lines)\n"
            "      --check-config validate the configuration, print it (secrets redacted) and exit\n"
            "  -h, --help         show this help and exit\n"
            "      --version      show the version and exit\n\n",
            prog->name, prog->usage ? " " : "", prog->usage ? prog->usage : "", prog->summary);
    fprintf(out, "Settings (file key, environment variable, default):\n");
    config_help(out);
}

int cli_start(const struct cli_program *prog, int argc, char **argv, struct config *cfg)
{
    const char *path = NULL;
    int check = 0, kept = 1;
    char err[256];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(prog, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", prog->name, MISSIVE_VERSION);
            exit(0);
        } else if (strcmp(a, "--check-config") == 0) {
            check = 1;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a file name\n", prog->name, a);
                exit(2);
            }
            path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        } else {
            argv[kept++] = argv[i];
        }
    }
    argv[kept] = NULL;

    if (config_load(cfg, path, err, sizeof err) != 0 ||
        config_validate(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s: configuration error: %s\n", prog->name, err);
        exit(2);
    }
    if (check) {
        config_dump(cfg, stdout);
        printf("configuration ok\n");
        exit(0);
    }

    enum log_level lvl = LOG_INFO;
    log_level_parse(cfg->log_level, &lvl);
    log_init(prog->name, lvl);
    log_info("start", "%s %s starting (config %s)", prog->name, MISSIVE_VERSION,
             path ? path : "defaults and environment");
    return kept;
}
