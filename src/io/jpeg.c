/*
 * jpeg.c - read JPEG images as 8-bit grayscale, through libjpeg-turbo (Debian: libjpeg62-turbo-dev).
 *
 * JPEG is what phones, cameras and browsers save, so `mlp predict` must read it; decoding it is the job
 * of a well-kept library, not ours. What this file adds around libjpeg's API:
 *
 *   - errors never exit or print: libjpeg's error_exit is replaced by a longjmp back here, its
 *     output_message by nothing; the message libjpeg formats becomes the mlp_error's text;
 *   - warnings are errors: libjpeg "recovers" from a truncated or corrupt stream by filling the missing
 *     rows with gray and calling emit_message(-1); a picture that is partly invented is refused
 *     (MLP_ERR_FORMAT, naming the file and libjpeg's reason) rather than classified;
 *   - limits: the declared size is checked against MLP_IMAGE_MAX_SIDE / MLP_IMAGE_MAX_PIXELS before
 *     anything is allocated, libjpeg's own memory use is capped (8 bytes per allowed pixel: a progressive
 *     colour image keeps 2-byte coefficients for up to three full-size components), and a progressive
 *     stream may have at most 1000 scans (a valid encoder writes about 10; a hostile one can write
 *     millions of tiny scans that each cost a pass over the image);
 *   - colour: YCbCr and RGB pictures are decoded straight to gray by libjpeg (its JCS_GRAYSCALE output
 *     is the Y channel, i.e. ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B, the same weights as the PNG
 *     reader); CMYK and YCCK (Adobe, stored inverted: 255 = no ink) become R = C K / 255, G = M K / 255,
 *     B = Y K / 255 and then the same luma. JPEG has no transparency.
 * No colour-profile correction is applied (as for PNG).
 */
#include "image_internal.h"
#include "util.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#define JPEG_MAX_FILE_BYTES ((size_t)1 << 30)
#define JPEG_MAX_SCANS 1000

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings (level -1) are fatal here; trace messages (level >= 0) are ignored. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) on_error_exit(cinfo);
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Called by libjpeg during progressive decoding: refuse streams with absurdly many scans. */
static void on_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

static uint8_t luma_byte(unsigned r, unsigned g, unsigned b) {
    return (uint8_t)((299u * r + 587u * g + 114u * b + 500u) / 1000u);
}

/* The decoding itself; no argument is assigned, so none is clobbered by the longjmp. */
static mlp_status decode(const uint8_t *buf, size_t len, const char *name, uint64_t max_pixels, uint8_t **gray,
                         int *w, int *h, mlp_error *err) {
    /* volatile: these change between setjmp and a possible longjmp */
    uint8_t *volatile out = NULL;
    uint8_t *volatile row = NULL;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    jpeg_err jerr;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error_exit;
    jerr.pub.emit_message = on_emit_message;
    jerr.pub.output_message = on_output_message;
    jerr.msg[0] = '\0';
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: corrupt or unsupported JPEG: %s", name, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.mem->max_memory_to_use = (long)(max_pixels * 8 < (uint64_t)1 << 31 ? max_pixels * 8 : (uint64_t)1 << 31);
    progress.progress_monitor = on_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    const uint64_t W = cinfo.image_width, H = cinfo.image_height;
    if (W < 1 || H < 1 || W > MLP_IMAGE_MAX_SIDE || H > MLP_IMAGE_MAX_SIDE || W * H > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: JPEG of %llux%llu pixels is larger than the limit (%llu pixels)",
                        name, (unsigned long long)W, (unsigned long long)H, (unsigned long long)max_pixels);
    }
    const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_GRAYSCALE;
    jpeg_start_decompress(&cinfo);
    out = malloc((size_t)(W * H));
    if (cmyk) row = malloc((size_t)W * 4);
    if (!out || (cmyk && !row)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %llux%llu pixels", name, (unsigned long long)W,
                        (unsigned long long)H);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        const size_t y = cinfo.output_scanline;
        JSAMPROW dst = cmyk ? row : out + y * W;
        if (jpeg_read_scanlines(&cinfo, &dst, 1) != 1) {
            snprintf(jerr.msg, sizeof jerr.msg, "no data for row %zu", y);
            longjmp(jerr.jump, 1);
        }
        if (cmyk)
            for (size_t x = 0; x < W; x++) {
                const uint8_t *p = row + 4 * x;
                unsigned k = p[3];
                out[y * W + x] = luma_byte(p[0] * k / 255u, p[1] * k / 255u, p[2] * k / 255u);
            }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *gray = out;
    *w = (int)W;
    *h = (int)H;
    return MLP_OK;
}

mlp_status mlp_jpeg_parse_limited(const uint8_t *buf, size_t len, const char *name, uint64_t max_pixels,
                                  uint8_t **gray, int *w, int *h, mlp_error *err) {
    if (!gray || !w || !h) return mlp_fail(err, MLP_ERR_ARG, "mlp_jpeg_parse: output pointers must not be NULL");
    *gray = NULL;
    *w = *h = 0;
    if (!name) name = "JPEG";
    if (!buf && len) return mlp_fail(err, MLP_ERR_ARG, "mlp_jpeg_parse: buf is NULL");
    if (len < 3 || buf[0] != 0xFF || buf[1] != 0xD8 || buf[2] != 0xFF)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: not a JPEG file (no start-of-image marker)", name);
    if (len > (unsigned long)-1) return mlp_fail(err, MLP_ERR_FORMAT, "%s: JPEG too large", name);
    return decode(buf, len, name, max_pixels, gray, w, h, err);
}

mlp_status mlp_jpeg_parse(const uint8_t *buf, size_t len, const char *name, uint8_t **gray, int *w, int *h,
                          mlp_error *err) {
    return mlp_jpeg_parse_limited(buf, len, name, MLP_IMAGE_MAX_PIXELS, gray, w, h, err);
}

mlp_status mlp_jpeg_read(const char *path, uint8_t **gray, int *w, int *h, mlp_error *err) {
    if (!gray || !w || !h) return mlp_fail(err, MLP_ERR_ARG, "mlp_jpeg_read: output pointers must not be NULL");
    *gray = NULL;
    *w = *h = 0;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_jpeg_read: path is NULL");
    uint8_t *buf;
    size_t len;
    mlp_status st = mlp_read_file(path, &buf, &len, JPEG_MAX_FILE_BYTES, err);
    if (st) return st;
    st = mlp_jpeg_parse(buf, len, path, gray, w, h, err);
    free(buf);
    return st;
}
