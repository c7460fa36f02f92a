/* make_seeds.c - writes the seed corpora fuzz/corpus/<target>/ (run by `make fuzz-seeds`; the seeds are
 * kept in the repository, so this only needs running when a format changes). Each seed is a small valid
 * input, so the fuzzer starts from files that reach deep into each parser. */
#include "fuzz_common.h"
#include "json.h"

#include <errno.h>
#include <jpeglib.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *root = "fuzz/corpus";

static void put(const char *target, const char *name, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static uint8_t *slurp(const char *path, size_t *len) {
    uint8_t *buf;
    mlp_error err;
    if (mlp_read_file(path, &buf, len, (size_t)1 << 24, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return buf;
}

/* gzip (RFC 1952) of len bytes into out (cap bytes); returns the compressed length */
static size_t gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    FUZZ_ASSERT(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    FUZZ_ASSERT(deflate(&z, Z_FINISH) == Z_STREAM_END);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static void idx_seeds(void) {
    /* mode byte (0: parse the bytes, 1: through a file, gunzipped) + an IDX file */
    uint8_t img[1 + 16 + 3 * 2 * 2] = {0, 0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    for (int i = 0; i < 12; i++) img[17 + i] = (uint8_t)(i * 21);
    uint8_t lab[1 + 8 + 3] = {0, 0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1};
    put("idx", "images", img, sizeof img);
    put("idx", "labels", lab, sizeof lab);
    uint8_t gz[256];
    gz[0] = 1;
    put("idx", "images.gz", gz, 1 + gzip(img + 1, sizeof img - 1, gz + 1, sizeof gz - 1));
    put("idx", "labels.gz", gz, 1 + gzip(lab + 1, sizeof lab - 1, gz + 1, sizeof gz - 1));
    img[0] = 1;
    put("idx", "images.raw-file", img, sizeof img);
}

static void model_seeds(const char *tmp) {
    const char *hidden[] = {"none", "3", "3,2"};
    const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_GELU, MLP_ACT_TANH};
    for (int i = 0; i < 3; i++) {
        mlp_arch arch;
        mlp_net net;
        mlp_error err;
        FUZZ_ASSERT(mlp_arch_parse(&arch, hidden[i], 4, 10, acts[i], &err) == MLP_OK);
        FUZZ_ASSERT(mlp_net_create(&net, &arch, 1, &err) == MLP_OK);
        mlp_rng rng;
        mlp_rng_seed(&rng, 7, 1);
        mlp_net_init(&net, 0.5f, &rng);
        mlp_model_meta meta;
        memset(&meta, 0, sizeof meta);
        meta.arch = arch;
        meta.loss = mlp_loss_default((mlp_loss)i);
        meta.scaling = mlp_scaling_default();
        snprintf(meta.dataset, sizeof meta.dataset, "mnist");
        FUZZ_ASSERT(mlp_model_save(tmp, &net, &meta, &err) == MLP_OK);
        size_t len;
        uint8_t *buf = slurp(tmp, &len);
        char name[32];
        snprintf(name, sizeof name, "model-%d", i);
        put("safetensors", name, buf, len);
        free(buf);
        mlp_net_free(&net);
    }
}

static void checkpoint_seeds(const char *tmp) {
    fuzz_run r;
    fuzz_run_init(&r);
    mlp_epoch_metrics hist[5];
    mlp_error err;
    int n = 0;
    static volatile int stop = 0;
    for (int e = 0; e < 3; e++) {
        /* after epochs 0, 1 and 2; and one stopped after step 2 of epoch 3 */
        FUZZ_ASSERT(mlp_checkpoint_save(tmp, &r.tr, hist, n, &err) == MLP_OK);
        size_t len;
        uint8_t *buf = slurp(tmp, &len);
        char name[32];
        snprintf(name, sizeof name, "epoch-%d", e);
        put("checkpoint", name, buf, len);
        free(buf);
        FUZZ_ASSERT(mlp_trainer_epoch(&r.tr, &hist[n], &err) == MLP_OK);
        n++;
    }
    stop = 1;
    r.tr.stop_flag = &stop;
    FUZZ_ASSERT(mlp_trainer_epoch(&r.tr, &hist[n], &err) == MLP_ERR_INTERRUPTED);
    FUZZ_ASSERT(mlp_checkpoint_save(tmp, &r.tr, hist, n, &err) == MLP_OK);
    size_t len;
    uint8_t *buf = slurp(tmp, &len);
    put("checkpoint", "mid-epoch", buf, len);
    free(buf);
    fuzz_run_free(&r);
}

static void json_seeds(void) {
    static const char *docs[] = {
        "{\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": \"d\\u00e9\\n\"}}",
        "[0, 1e-7, 9007199254740993, -0.0, \"\\ud83d\\ude00\"]",
        ("{\"__metadata__\":{\"format\":\"mlp\"},\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[10,4],"
         "\"data_offsets\":[0,160]}}"),
        "\"plain string\"",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        char name[16];
        snprintf(name, sizeof name, "doc-%zu", i);
        put("json", name, docs[i], strlen(docs[i]));
    }
}

static void pgm_seeds(void) {
    const char p2[] = "P2\n# a comment\n3 2\n255\n0 128 255\n1 2 3\n";
    put("pgm", "p2", p2, sizeof p2 - 1);
    const uint8_t p5[] = "P5\n2 2\n255\n\x00\x40\x80\xff";
    put("pgm", "p5", p5, sizeof p5 - 1);
    const uint8_t p5w[] = "P5 1 2 65535\n\x12\x34\xff\xff";
    put("pgm", "p5-16bit", p5w, sizeof p5w - 1);
}

/* A small JPEG by libjpeg-turbo's encoder: components 1 (gray), 3 (RGB, stored YCbCr) or 4 (CMYK). */
static void jpeg_seed(const char *name, int w, int h, int comps, int progressive) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *mem = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 50, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[64 * 4];
    while (c.next_scanline < c.image_height) {
        for (int i = 0; i < w * comps; i++) row[i] = (unsigned char)((i * 37 + (int)c.next_scanline * 91) & 255);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    put("jpeg", name, mem, len);
    free(mem);
}

static void jpeg_seeds(void) {
    jpeg_seed("gray8x8.jpg", 8, 8, 1, 0);
    jpeg_seed("rgb16x12.jpg", 16, 12, 3, 0);
    jpeg_seed("rgb16x16-progressive.jpg", 16, 16, 3, 1);
    jpeg_seed("cmyk8x8.jpg", 8, 8, 4, 0);
}

static void csv_seeds(void) {
    /* label byte (even: the default label column, odd: the column named "b") + a CSV file */
    static const char *const seeds[][2] = {
        {"strings", "\0sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n"},
        {"ints", "\0f1,label,f2\n1,10,2\n3,2,4\n5,-1,6e-3\n"},
        {"quoted", "\1\xEF\xBB\xBF\"a\",\"b\",\"c, d\"\r\n 1.5 ,\"2\",\"say \"\"hi\"\"\"\r\n\r\n3,4,x\r\n"},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
        put("csv", seeds[i][0], seeds[i][1], 1 + strlen(seeds[i][1] + 1));
}

int main(int argc, char **argv) {
    if (argc > 1) root = argv[1];
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/mlp-make-seeds-%ld", (long)getpid());
    idx_seeds();
    model_seeds(tmp);
    checkpoint_seeds(tmp);
    json_seeds();
    pgm_seeds();
    jpeg_seeds();
    csv_seeds(); /* the npy corpus is numpy's own files: fuzz/corpus/npy/README */
    unlink(tmp);
    return 0;
}
