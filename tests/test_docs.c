/* test_docs.c - the documentation cannot drift from the parser: every option each command's parser
 * accepts (`mlp COMMAND --list-options`, recorded from the parser's own comparisons) must appear in the
 * man page (docs/mlp.1) and in `mlp COMMAND --help`; the short forms, "--" and -V work. */
#include "check.h"
#include "mlp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* name occurs in text as a whole option (not as the prefix of a longer one: --init vs --init-std) */
static int has_option(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n) {
        const char after = p[n], before = p > text ? p[-1] : ' ';
        if ((isalnum((unsigned char)after) || after == '-') || isalnum((unsigned char)before) || before == '-')
            continue;
        return 1;
    }
    return 0;
}

/* The man page's text with roff's escaped hyphens (\-) as plain ones. */
static char *man_text(void) {
    char *raw = check_read_text("docs/mlp.1");
    if (!raw) return NULL;
    char *w = raw;
    for (const char *r = raw; *r; r++) {
        if (r[0] == '\\' && r[1] == '-') continue;
        *w++ = *r;
    }
    *w = '\0';
    return raw;
}

TEST(docs_every_option_in_man_page_and_help) {
    char *man = man_text();
    if (!man) {
        check_skip("docs/mlp.1 not found (not run from the repository root)");
        return;
    }
    static const char *const commands[] = {"train", "eval", "predict", "sweep", "report", "plot", "fetch"};
    static char list[8192], help[65536];
    int total = 0;
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++) {
        int st = check_sh(list, sizeof list, 0, "'%s' %s --list-options", check_mlp_bin(), commands[c]);
        CHECK_MSG(st == 0, "%s --list-options: exit %d", commands[c], st);
        st = check_sh(help, sizeof help, 1, "'%s' %s --help", check_mlp_bin(), commands[c]);
        CHECK_INT(st, 0);
        int n = 0;
        for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
            char *sp = strchr(line, ' ');
            if (sp) *sp = '\0';
            n++;
            CHECK_MSG(has_option(man, line), "mlp %s %s is not in the man page (docs/mlp.1)", commands[c], line);
            CHECK_MSG(!strcmp(line, "--help") || has_option(help, line), "mlp %s %s is not in `mlp %s --help`", commands[c],
                      line, commands[c]);
        }
        CHECK_MSG(n >= 1, "%s: no options listed", commands[c]);
        total += n;
    }
    printf("    %d options of %zu commands found in the man page and in --help\n", total,
           sizeof commands / sizeof *commands);
    free(man);
}

TEST(cli_short_forms_double_dash_and_V) {
    static char out[8192];
    CHECK_INT(check_sh(out, sizeof out, 1, "'%s' -V", check_mlp_bin()), 0);
    CHECK_CONTAINS(out, "mlp " MLP_VERSION);
    /* after --, a name starting with '-' is a file, not an option: a runtime error naming it (exit 1) */
    int st = check_sh(out, sizeof out, 1, "'%s' predict no-such-model.safetensors -- --top", check_mlp_bin());
    CHECK_INT(st, 1);
    CHECK(strstr(out, "unknown option") == NULL);
    /* the same without -- is a usage error */
    st = check_sh(out, sizeof out, 1, "'%s' predict no-such-model.safetensors --top", check_mlp_bin());
    CHECK_INT(st, 2);
    /* short forms: -k for --top, -o for --out (a usage error names the short form the user typed) */
    st = check_sh(out, sizeof out, 1, "'%s' predict m.safetensors x.png -k 0", check_mlp_bin());
    CHECK_INT(st, 2);
    CHECK_CONTAINS(out, "-k");
    st = check_sh(out, sizeof out, 1, "'%s' eval m.safetensors -o x", check_mlp_bin());
    CHECK_INT(st, 2);
    CHECK_CONTAINS(out, "unknown option '-o'");
    const char *data = check_mnist_dir();
    if (!data) return;
    const char *dir = check_tmpdir();
    st = check_sh(out, sizeof out, 1, "'%s' train -d '%s' -e 1 --hidden 16 -s 3 -t 1 -q -o '%s/run'", check_mlp_bin(), data,
                  dir);
    CHECK_MSG(st == 0, "train with short options: %s", out);
    char *cfg;
    char path[600];
    snprintf(path, sizeof path, "%s/run/config.json", dir);
    cfg = check_read_text(path);
    CHECK(cfg && strstr(cfg, "\"epochs\": 1") && strstr(cfg, "\"seed\": 3"));
    free(cfg);
}

/* completions/mlp.bash: commands, option names from the binary, values of the enumerated options */
TEST(bash_completion_offers_commands_options_values) {
    static char out[8192];
    struct {
        const char *words;
        int cword;
        const char *want;
    } cases[] = {{"pre", 1, "predict"},           {"train --no-sh", 2, "--no-shuffle"}, {"predict m.safetensors --pre", 3, "--prepare"},
                 {"train --act s", 3, "swish"}, {"fetch f", 2, "fashion-mnist"},    {"help ima", 2, "images"},
                 {"plot --metric test_a", 3, "test_acc"}};
    if (check_sh(out, sizeof out, 1, "command -v bash") != 0) {
        check_skip("bash is not installed");
        return;
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = check_sh(out, sizeof out, 1,
                          "bash -c 'source completions/mlp.bash && COMP_WORDS=(\"%s\" %s) && COMP_CWORD=%d && _mlp && "
                          "echo \"${COMPREPLY[*]}\"'",
                          check_mlp_bin(), cases[i].words, cases[i].cword);
        CHECK_MSG(st == 0 && strstr(out, cases[i].want), "completing `mlp %s`: \"%s\", expected %s", cases[i].words, out,
                  cases[i].want);
    }
}
