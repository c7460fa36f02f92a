/* mlp.c - the command-line tool's entry point: one binary, subcommands.
 * Exit status: 0 success, 1 runtime failure (a file, the data, divergence), 2 usage error. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: mlp COMMAND [options]\n"
            "Train multilayer perceptrons on MNIST and Fashion-MNIST.\n\n"
            "commands:\n"
            "  train      train a network, write a run folder          (mlp train --help)\n"
            "  eval       test loss, accuracy, confusion matrix of a model\n"
            "  predict    classify pictures (PNG, JPEG, PGM) with a model\n"
            "  info       architecture and metadata of a model file\n"
            "  sweep      train a grid of configurations, resumable    (mlp sweep --help)\n"
            "  report     REPORT.md and SVG figures from run folders   (mlp report --help)\n"
            "  plot       one metric of any runs as an SVG chart       (mlp plot --help)\n"
            "  fetch      download and verify MNIST or Fashion-MNIST   (mlp fetch mnist [DIR])\n\n"
            "  help       mlp help TOPIC: a command, or data, formats, losses, activations, ...\n\n"
            "  mlp --version     print the version (also -V)\n"
            "Common options have short forms: -o --out, -q --quiet, -e --epochs, -d --data, -t --threads,\n"
            "-j --jobs, -s --seed, -k --top; -h is --help; -- ends the options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") && argc > 2) return cmd_help(argc - 1, argv + 1);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("mlp %s\n", MLP_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "sweep")) return cmd_sweep(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "fetch")) return cmd_fetch(argc - 1, argv + 1);
    die_usage("unknown command '%s' (choose one of: train, eval, predict, info, sweep, report, plot, fetch)", cmd);
    return EXIT_USAGE;
}
