/* cmd_help.c - `mlp help [TOPIC]`: the commands' own --help, and short pages on the concepts behind
 * them. The man page (docs/mlp.1) holds the same facts at more length. */
#include "cli.h"

#include <string.h>

typedef struct help_topic {
    const char *name, *summary, *text;
} help_topic;

static const help_topic topics[] = {
    {"data", "the datasets, where they are looked for, how pixels are scaled",
     "Datasets: MNIST (handwritten digits) and Fashion-MNIST (clothing: 0 T-shirt/top, 1 Trouser,\n"
     "2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot). Both are 60000\n"
     "training and 10000 test images of 28x28 gray pixels, in four IDX files:\n"
     "  train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte\n"
     "raw or gzipped (.gz). `mlp fetch mnist|fashion-mnist [DIR]` (or `make data` in the source tree)\n"
     "downloads and verifies them.\n"
     "Folder: --data DIR, else $MLP_DATA/<dataset>, else data/<dataset>.\n"
     "Every header field is validated; labels must be 0..9. Pixels p (0..255) become x = (p - 128) / 255,\n"
     "recorded in each model file (input_offset, input_scale) so predictions scale the same way.\n"},
    {"formats", "files mlp reads and writes",
     "Run folder (mlp train --out DIR):\n"
     "  config.json           every option of the run, the command line, the version\n"
     "  metrics.csv           epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds (one line per epoch)\n"
     "  checkpoint.safetensors  the full training state, for --resume\n"
     "  model.safetensors     the trained network\n"
     "Model files are safetensors: 8 bytes little-endian N, N bytes of JSON header, then raw little-endian\n"
     "float32 tensors fc1.weight [out, in], fc1.bias [out], fc2.weight, ... (PyTorch nn.Linear names and\n"
     "shapes). __metadata__ holds strings: widths, activation, loss, input_offset, input_scale, dataset.\n"
     "Every file is written atomically (temporary file, fsync, rename).\n"
     "Pictures for predict: PNG (all colour types and bit depths), JPEG and PGM (P2, P5). See `mlp help images`.\n"
     "IDX data files: see `mlp help data`. Python: docs/PYTHON.md.\n"},
    {"losses", "mse, ce, hinge, focal: formulas",
     "Per image with logits x (K = 10), label t, h = softmax(x); the epoch loss is the mean over images.\n"
     "  mse    ||x - onehot(t)||^2                        gradient 2 (x - onehot(t))\n"
     "  ce     -ln h_t                                    gradient h - onehot(t)\n"
     "  hinge  sum_{k != t} max(0, D - x_t + x_k), D = --hinge-margin (5)\n"
     "  focal  -alpha_t (1 - h_t)^g ln h_t, g = --focal-gamma (2), alpha = --focal-alpha (0.1)\n"
     "With --grad-reduction sum (the reference) the gradients are summed over the batch; with mean they\n"
     "are the gradient of the batch's mean loss (use a learning rate about batch times larger).\n"},
    {"activations", "relu, sigmoid, tanh, selu, swish, gelu: formulas",
     "Applied after every hidden layer (none after the output layer):\n"
     "  relu     max(0, u)\n"
     "  sigmoid  1 / (1 + e^-u)\n"
     "  tanh     tanh u\n"
     "  selu     l u (u > 0), l a (e^u - 1) (u <= 0); l = 1.0507009873554805, a = 1.6732632423543772\n"
     "  swish    u sigmoid(u)\n"
     "  gelu     0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3)))   (the tanh form)\n"},
    {"semantics", "what one epoch does, exactly",
     "One epoch: a fresh permutation of the training set (seeded, --no-shuffle keeps the order), then\n"
     "consecutive batches of --batch images (the last one may be smaller); per batch: forward, loss,\n"
     "backward, one SGD step for every parameter, biases included:\n"
     "  v <- momentum v + (g + wd p);   p <- p - lr v\n"
     "(or the --optimizer's rule: see `mlp help optimizers`; the rate may follow a --schedule).\n"
     "train_loss and train_acc are the means of the per-batch values measured before each update; the\n"
     "test set is evaluated after the epoch. Weights start as N(0, init_std^2), biases 0. Results are\n"
     "bitwise identical for any --threads and across runs with the same seed. docs/SEMANTICS.md has it all.\n"},
    {"optimizers", "sgd, nesterov, adam, adamw, the learning-rate schedules, dropout: formulas",
     "Per parameter p (biases too) with gradient g, states from 0, t = 1, 2, ... the update count:\n"
     "  sgd       v <- m v + (g + wd p);  p <- p - lr v                (the reference; m = --momentum)\n"
     "  nesterov  d = g + wd p;  v <- m v + d;  p <- p - lr (d + m v)   (--nesterov)\n"
     "  adam      d = g + wd p;  m1 <- b1 m1 + (1-b1) d;  m2 <- b2 m2 + (1-b2) d^2;\n"
     "            p <- p - lr/(1-b1^t) m1 / (sqrt(m2)/sqrt(1-b2^t) + eps)   (torch.optim.Adam)\n"
     "  adamw     p <- p (1 - lr wd), then adam with wd = 0             (torch.optim.AdamW)\n"
     "adam/adamw defaults: lr 1e-3, wd 0 (adam) or 1e-2 (adamw), --beta1 0.9, --beta2 0.999, --eps 1e-8.\n"
     "Schedules, per epoch e (W = --warmup-epochs, i = e - W - 1, E = --epochs):\n"
     "  warm-up   e <= W: lr e / (W + 1)\n"
     "  constant  lr\n"
     "  step      lr gamma^floor(i / N)           (--step-gamma 0.1, --step-epochs 30)\n"
     "  cosine    lo + (lr - lo)(1 + cos(pi i / (E - W))) / 2   (lo = --min-lr, 0)\n"
     "The epoch's rate is the lr column of metrics.csv.\n"
     "--dropout P: while training, each hidden unit's output is 0 with probability P, else scaled by\n"
     "1/(1-P); the masks are a function of (seed, epoch, step, row, layer, unit); evaluation never drops.\n"
     "--early-stop N: stop after N epochs in a row without a strict improvement of the test --monitor\n"
     "(loss or acc); best.safetensors always holds the model of the best epoch.\n"},
    {"images", "how predict turns a picture into a network input",
     "1. Read: PNG (gray, RGB, palette, with alpha; 1-16 bits; interlaced), JPEG (libjpeg-turbo) or\n"
     "   PGM, by content. Colour becomes gray by ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B.\n"
     "2. Ink, light on black (as MNIST): when the border is mostly transparent, transparency is the\n"
     "   background and the opaque part the ink, whatever its colour; else transparent parts go on\n"
     "   white and --invert auto inverts a dark-on-light picture (a light border brighter than the\n"
     "   centre, or a light page around a small digit); --invert yes / no: the ink is dark / light.\n"
     "3. Levels: the border's most frequent value is the background, its noise is ignored, a faint\n"
     "   picture is stretched to full contrast; the ink's bounding box is found.\n"
     "4. Size, --prepare mnist (MNIST models): the box fitted into 20x20 keeping its aspect ratio, placed\n"
     "   by its centre of mass in 28x28; fashion-mnist (Fashion-MNIST models): fitted into 28x28, centred;\n"
     "   whole: the whole picture centred on a square canvas and resized to 28x28.\n"
     "5. Scale: x = (v - 128) / 255, the model's recorded input scaling.\n"
     "A blank or nearly blank picture (contrast < 10%, or < 10 pixels of ink) gets a warning.\n"},
    {"environment", "environment variables and output conventions",
     "  MLP_DATA      root folder of the datasets (default data)\n"
     "  MLP_KERNELS   auto | portable | avx2 | avx512, the default of --kernels\n"
     "  NO_COLOR      when set to a non-empty value, no colours, even on a terminal (empty: ignored)\n"
     "On a terminal, train draws a progress bar on stderr (epoch k/N, steps, running loss, last test\n"
     "accuracy, the run's ETA), as wide as the terminal, and colours its\n"
     "table; when the output is a file or pipe it prints plain lines only. --quiet prints the summary,\n"
     "--json one JSON object per epoch on stdout. Errors go to stderr as `mlp: error: ...` (exit 1);\n"
     "usage errors exit 2.\n"},
    {"library", "using libmlp from C",
     "  make install PREFIX=$HOME/.local\n"
     "  cc prog.c $(pkg-config --cflags --libs mlp)\n"
     "One header, mlp.h: datasets, networks, training, model files, images. Functions never print or\n"
     "exit; they return an mlp_status and fill an mlp_error with one line. No global state: separate\n"
     "networks may be used from separate threads. See docs/LIBRARY.md and examples/.\n"},
    {"python", "loading a model in Python / PyTorch",
     "model.safetensors loads with safetensors.torch.load_file into\n"
     "  nn.Sequential(nn.Linear(784, 128), nn.GELU(approximate='tanh'), nn.Linear(128, 10))\n"
     "(state-dict keys fc1.weight -> 0.weight, fc2.weight -> 2.weight, ...). Feed x = (p - 128) / 255.\n"
     "With no dependencies: read 8 bytes (header length), the JSON header, then the float32 data with\n"
     "struct. docs/PYTHON.md has the code, tests/python/interop.py a working check.\n"},
};

/* Commands whose help is their own --help. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {{"train", cmd_train}, {"eval", cmd_eval},     {"predict", cmd_predict}, {"info", cmd_info},
                {"sweep", cmd_sweep}, {"report", cmd_report}, {"plot", cmd_plot},     {"fetch", cmd_fetch}};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static void list_topics(FILE *f) {
    fprintf(f, "usage: mlp help TOPIC\n\ncommands (the same as `mlp COMMAND --help`):\n ");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "%s %s", i ? "," : "", commands[i].name);
    fprintf(f, "\n\ntopics:\n");
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
        fprintf(f, "  %-12s %s\n", topics[i].name, topics[i].summary);
    fprintf(f, "\nThe manual page has everything: man mlp (or man -l docs/mlp.1).\n");
}

int cmd_help(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        list_topics(stdout);
        return 0;
    }
    if (argc > 2) die_usage("help: one TOPIC only");
    const char *t = argv[1];
    char help_opt[] = "--help";
    char *sub[3] = {argv[1], help_opt, NULL};
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(t, commands[i].name)) return commands[i].run(2, sub);
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
        if (!strcmp(t, topics[i].name)) {
            fputs(topics[i].text, stdout);
            return 0;
        }
    char names[512] = "";
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, commands[i].name, sizeof names - strlen(names) - 1);
    }
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++) {
        strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, topics[i].name, sizeof names - strlen(names) - 1);
    }
    die_usage("help: unknown topic '%s' (choose one of: %s)", t, names);
    return EXIT_USAGE;
}
