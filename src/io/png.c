/*
 * png.c - read PNG images as 8-bit grayscale, for classifying pictures with a trained model.
 *
 * Written from the PNG specification (W3C, Portable Network Graphics, 2nd/3rd edition), on top of
 * zlib for the compressed stream. What is read:
 *
 *   file    = signature (137 80 78 71 13 10 26 10), then chunks up to IEND
 *   chunk   = length (4 bytes, big-endian, <= 2^31-1), type (4 ASCII letters), data, CRC-32 over
 *             type + data (the zlib/ISO 3309 CRC). Every chunk's CRC is checked.
 *   IHDR    = first chunk, 13 bytes: width, height (1..2^31-1), bit depth, colour type, compression
 *             method 0, filter method 0, interlace method 0 (none) or 1 (Adam7). Allowed pairs:
 *               colour type 0 gray        bit depth 1, 2, 4, 8, 16
 *               colour type 2 RGB         8, 16
 *               colour type 3 palette     1, 2, 4, 8
 *               colour type 4 gray+alpha  8, 16
 *               colour type 6 RGBA        8, 16
 *   PLTE    = 1..256 RGB entries (required for colour type 3, before IDAT; forbidden for 0 and 4;
 *             ignored for 2 and 6, where it is only a suggestion)
 *   tRNS    = colour type 3: one alpha byte per palette entry (entries beyond default to 255);
 *             colour types 0 / 2: one gray / RGB sample value (2 / 6 bytes) that is fully transparent
 *   IDAT    = consecutive chunks whose concatenated data is one zlib stream: the filtered scanlines
 *   IEND    = the end. Other chunks whose type starts with a lower-case letter (ancillary) are skipped;
 *             an unknown chunk starting with an upper-case letter (critical) is an error.
 *
 * Scanlines: each row is one filter-type byte and then ceil(width * bits_per_pixel / 8) bytes. The
 * filters predict byte x from a = the byte bpp positions to the left (0 at the row start), b = the byte
 * above (0 on the first row of a pass), c = the byte above-left; bpp = max(1, bits_per_pixel / 8):
 *   0 None: x        1 Sub: x + a        2 Up: x + b        3 Average: x + floor((a + b) / 2)
 *   4 Paeth: x + the one of a, b, c closest to p = a + b - c (ties: a, then b, then c)
 * all modulo 256. Samples narrower than a byte are packed most significant bit first; 16-bit samples
 * are big-endian. Adam7 interlacing sends seven reduced images ("passes"), each with its own rows and
 * filters, starting at (x0, y0) with steps (dx, dy):
 *   (0,0,8,8) (4,0,8,8) (0,4,4,8) (2,0,4,4) (0,2,2,4) (1,0,2,2) (0,1,1,2); an empty pass sends nothing.
 *
 * The output is one byte per pixel, 0 (black) .. 255 (white):
 *   - a sample of bit depth d is taken as the fraction v / (2^d - 1) (so 1-bit 1 is white, 4-bit 15 is
 *     white, 16-bit keeps its precision until the final rounding);
 *   - colour becomes gray by ITU-R BT.601 luma: Y = 0.299 R + 0.587 G + 0.114 B;
 *   - alpha (from an alpha channel or tRNS) is composited over a WHITE background, as a viewer shows the
 *     picture on a white page: out = Y a + 1 (1 - a), a = alpha / (2^d - 1). A black digit drawn on a
 *     transparent canvas thus reads as black on white. mlp_image_load asks for luma and alpha apart
 *     instead (mlp_png_parse_alpha), so that image.c can treat transparency as the background whatever
 *     the ink's colour (a white digit on a transparent canvas is a light digit, not a blank page);
 *   - the result is rounded to the nearest of 0..255.
 * No gamma or colour-profile correction is applied (gAMA, sRGB, iCCP, cHRM are skipped): the stored
 * samples are used as they are, which is what drawing programs and MNIST-style pipelines expect.
 *
 * Limits: at most MLP_IMAGE_MAX_PIXELS pixels and MLP_IMAGE_MAX_SIDE per side, checked from IHDR before
 * anything is allocated. Decoding streams the scanlines through two row buffers straight into the
 * gray output, so memory is the output plus two rows however the image is encoded. Compressed data
 * after the last scanline is ignored; missing data is an error.
 */
#include "image_internal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PNG_MAX_FILE_BYTES ((size_t)1 << 30) /* 1 GB: far more than any 64-megapixel PNG needs */
#define PNG_MAX_LEN 0x7fffffffu                /* chunk lengths and IHDR sizes: 2^31 - 1 */

static const uint8_t png_signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};

enum { CT_GRAY = 0, CT_RGB = 2, CT_PALETTE = 3, CT_GRAY_ALPHA = 4, CT_RGBA = 6 };

typedef struct png_dec {
    const char *name; /* for messages: the file name, or "PNG" */
    mlp_error *err;
    const uint8_t *buf;
    size_t len;

    uint32_t w, h;
    int depth, ctype, interlace;
    int channels;     /* samples per pixel */
    int bits_pp;      /* bits per pixel */
    size_t bpp;       /* filter distance in bytes: max(1, bits_pp / 8) */

    uint8_t palette[256][4]; /* RGBA, alpha 255 unless tRNS says otherwise */
    int n_palette;
    int has_trns;
    uint32_t trns[3]; /* gray, or R G B, at the image's bit depth (a value above it matches nothing) */
    uint8_t *alpha;   /* when not NULL: luma and alpha are written apart (no compositing) */

    /* the IDAT stream: chunk walk position and zlib state */
    size_t first_idat;  /* offset of the first IDAT chunk */
    size_t next_chunk;  /* offset of the chunk after the one being fed */
    z_stream zs;
    int z_ready, z_done;
    size_t produced;    /* decompressed bytes handed out so far */
} png_dec;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* ------------------------------------------------------------------ chunks */

typedef struct chunk {
    size_t at;          /* offset of the length field */
    uint32_t length;
    char type[5];
    const uint8_t *data;
} chunk;

/* Read and verify the chunk at d->buf[at]: length, type, bounds, CRC. */
static mlp_status read_chunk(png_dec *d, size_t at, chunk *c) {
    if (d->len - at < 12) {
        if (at == d->len)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: truncated PNG: the file ends before the IEND chunk",
                            d->name);
        return mlp_fail(d->err, MLP_ERR_FORMAT,
                        "%s: truncated PNG: %zu bytes at offset %zu are too few for a chunk (12 at least)", d->name,
                        d->len - at, at);
    }
    const uint8_t *p = d->buf + at;
    c->at = at;
    c->length = be32(p);
    memcpy(c->type, p + 4, 4);
    c->type[4] = '\0';
    for (int i = 0; i < 4; i++)
        if (!is_letter(p[4 + i]))
            return mlp_fail(d->err, MLP_ERR_FORMAT,
                            "%s: corrupt PNG: chunk at offset %zu has an invalid type (bytes %02x %02x %02x %02x)",
                            d->name, at, p[4], p[5], p[6], p[7]);
    if (c->length > PNG_MAX_LEN)
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: chunk %s at offset %zu has length %lu (> 2^31-1)",
                        d->name, c->type, at, (unsigned long)c->length);
    if ((size_t)c->length > d->len - at - 12)
        return mlp_fail(d->err, MLP_ERR_FORMAT,
                        "%s: truncated PNG: chunk %s at offset %zu needs %lu data bytes, the file has %zu left",
                        d->name, c->type, at, (unsigned long)c->length, d->len - at - 12);
    c->data = p + 8;
    uint32_t stored = be32(p + 8 + c->length);
    /* CRC-32 over the type and data bytes (not the length) */
    uLong crc = crc32(0L, p + 4, 4);
    if (c->length) crc = crc32(crc, c->data, (uInt)c->length);
    if ((uint32_t)crc != stored)
        return mlp_fail(d->err, MLP_ERR_FORMAT,
                        "%s: corrupt PNG: CRC mismatch in chunk %s at offset %zu (stored %08lx, computed %08lx)",
                        d->name, c->type, at, (unsigned long)stored, (unsigned long)crc);
    return MLP_OK;
}

static mlp_status parse_ihdr(png_dec *d, const chunk *c) {
    if (c->length != 13)
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: IHDR has %lu bytes, expected 13", d->name,
                        (unsigned long)c->length);
    const uint8_t *p = c->data;
    uint32_t w = be32(p), h = be32(p + 4);
    int depth = p[8], ctype = p[9], comp = p[10], filter = p[11], interlace = p[12];
    if (w == 0 || h == 0 || w > PNG_MAX_LEN || h > PNG_MAX_LEN)
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: image size %lux%lu (each side must be 1..2^31-1)",
                        d->name, (unsigned long)w, (unsigned long)h);
    int ok_depth;
    switch (ctype) {
    case CT_GRAY: ok_depth = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16; d->channels = 1; break;
    case CT_RGB: ok_depth = depth == 8 || depth == 16; d->channels = 3; break;
    case CT_PALETTE: ok_depth = depth == 1 || depth == 2 || depth == 4 || depth == 8; d->channels = 1; break;
    case CT_GRAY_ALPHA: ok_depth = depth == 8 || depth == 16; d->channels = 2; break;
    case CT_RGBA: ok_depth = depth == 8 || depth == 16; d->channels = 4; break;
    default:
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: unknown colour type %d (expected 0, 2, 3, 4 or 6)",
                        d->name, ctype);
    }
    if (!ok_depth)
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: bit depth %d is not allowed with colour type %d",
                        d->name, depth, ctype);
    if (comp != 0)
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: unknown compression method %d (expected 0)",
                        d->name, comp);
    if (filter != 0)
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: unknown filter method %d (expected 0)", d->name,
                        filter);
    if (interlace > 1)
        return mlp_fail(d->err, MLP_ERR_FORMAT,
                        "%s: corrupt PNG: unknown interlace method %d (expected 0 or 1)", d->name, interlace);
    /* our limits, before anything is allocated */
    if (w > MLP_IMAGE_MAX_SIDE || h > MLP_IMAGE_MAX_SIDE || (uint64_t)w * h > MLP_IMAGE_MAX_PIXELS)
        return mlp_fail(d->err, MLP_ERR_FORMAT,
                        "%s: image of %lux%lu pixels is too large (limits: %u per side, %u pixels in all)", d->name,
                        (unsigned long)w, (unsigned long)h, (unsigned)MLP_IMAGE_MAX_SIDE,
                        (unsigned)MLP_IMAGE_MAX_PIXELS);
    d->w = w;
    d->h = h;
    d->depth = depth;
    d->ctype = ctype;
    d->interlace = interlace;
    d->bits_pp = d->channels * depth;
    d->bpp = d->bits_pp >= 8 ? (size_t)d->bits_pp / 8 : 1;
    return MLP_OK;
}

static mlp_status parse_plte(png_dec *d, const chunk *c) {
    if (d->ctype == CT_GRAY || d->ctype == CT_GRAY_ALPHA)
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: a PLTE chunk is not allowed in a grayscale image",
                        d->name);
    if (c->length == 0 || c->length % 3 != 0 || c->length > 3 * 256)
        return mlp_fail(d->err, MLP_ERR_FORMAT,
                        "%s: corrupt PNG: PLTE has %lu bytes (expected 3 per entry, 1 to 256 entries)", d->name,
                        (unsigned long)c->length);
    int n = (int)(c->length / 3);
    if (d->ctype == CT_PALETTE && n > (1 << d->depth))
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: PLTE has %d entries, more than bit depth %d can index",
                        d->name, n, d->depth);
    for (int i = 0; i < n; i++) {
        d->palette[i][0] = c->data[3 * i];
        d->palette[i][1] = c->data[3 * i + 1];
        d->palette[i][2] = c->data[3 * i + 2];
        d->palette[i][3] = 255;
    }
    d->n_palette = n;
    return MLP_OK;
}

static mlp_status parse_trns(png_dec *d, const chunk *c) {
    switch (d->ctype) {
    case CT_PALETTE:
        if (!d->n_palette)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: tRNS before PLTE", d->name);
        if ((int)c->length > d->n_palette)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: tRNS has %lu entries but the palette has %d",
                            d->name, (unsigned long)c->length, d->n_palette);
        for (uint32_t i = 0; i < c->length; i++) d->palette[i][3] = c->data[i];
        break;
    case CT_GRAY:
    case CT_RGB: {
        uint32_t n = d->ctype == CT_GRAY ? 1 : 3;
        if (c->length != 2 * n)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: tRNS has %lu bytes, expected %lu", d->name,
                            (unsigned long)c->length, (unsigned long)(2 * n));
        for (uint32_t i = 0; i < n; i++) {
            d->trns[i] = (uint32_t)c->data[2 * i] << 8 | c->data[2 * i + 1];
        }
        break;
    }
    default:
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: tRNS is not allowed with an alpha channel (colour type %d)",
                        d->name, d->ctype);
    }
    d->has_trns = 1;
    return MLP_OK;
}

/* Walk every chunk from IHDR to IEND: check CRCs and order, read IHDR, PLTE and tRNS, find the IDATs. */
static mlp_status scan_chunks(png_dec *d) {
    size_t at = 8;
    int seen_ihdr = 0, seen_plte = 0, seen_trns = 0, idat_state = 0; /* 0 none yet, 1 in the run, 2 after */
    mlp_status st;
    for (int index = 0;; index++) {
        chunk c;
        if ((st = read_chunk(d, at, &c))) return st;
        size_t next = at + 12 + c.length;
        if (index == 0 && strcmp(c.type, "IHDR") != 0)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: the first chunk is %s, expected IHDR", d->name,
                            c.type);
        if (idat_state == 1 && strcmp(c.type, "IDAT") != 0) idat_state = 2;
        if (!strcmp(c.type, "IHDR")) {
            if (seen_ihdr) return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: a second IHDR chunk", d->name);
            seen_ihdr = 1;
            if ((st = parse_ihdr(d, &c))) return st;
        } else if (!strcmp(c.type, "PLTE")) {
            if (seen_plte) return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: a second PLTE chunk", d->name);
            if (idat_state) return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: PLTE after IDAT", d->name);
            seen_plte = 1;
            if ((st = parse_plte(d, &c))) return st;
        } else if (!strcmp(c.type, "tRNS")) {
            if (seen_trns) return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: a second tRNS chunk", d->name);
            if (idat_state) return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: tRNS after IDAT", d->name);
            seen_trns = 1;
            if ((st = parse_trns(d, &c))) return st;
        } else if (!strcmp(c.type, "IDAT")) {
            if (idat_state == 2)
                return mlp_fail(d->err, MLP_ERR_FORMAT,
                                "%s: corrupt PNG: IDAT chunks are not consecutive (another at offset %zu)", d->name, at);
            if (idat_state == 0) {
                if (d->ctype == CT_PALETTE && !seen_plte)
                    return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: a palette image without a PLTE chunk",
                                    d->name);
                d->first_idat = at;
            }
            idat_state = 1;
        } else if (!strcmp(c.type, "IEND")) {
            if (!idat_state) return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: no IDAT chunk (no image data)", d->name);
            return MLP_OK; /* anything after IEND is ignored */
        } else if (!(c.type[0] & 0x20)) {
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: unsupported PNG: unknown critical chunk %s at offset %zu",
                            d->name, c.type, at);
        }
        at = next;
    }
}

/* ------------------------------------------------------------------ the compressed stream */

/* Point zlib at the next IDAT chunk's data. Returns 0 when the IDAT run is over. The chunks were all
 * verified by scan_chunks. */
static int feed_next_idat(png_dec *d) {
    if (d->len - d->next_chunk < 12) return 0;
    const uint8_t *p = d->buf + d->next_chunk;
    if (memcmp(p + 4, "IDAT", 4) != 0) return 0;
    uint32_t n = be32(p);
    d->zs.next_in = (Bytef *)(uintptr_t)(p + 8); /* zlib's API is not const-correct; it does not write */
    d->zs.avail_in = (uInt)n;
    d->next_chunk += 12 + (size_t)n;
    return 1;
}

/* Exactly n decompressed bytes into dst. */
static mlp_status inflate_exact(png_dec *d, uint8_t *dst, size_t n, size_t total_expected) {
    d->zs.next_out = dst;
    d->zs.avail_out = (uInt)n;
    while (d->zs.avail_out > 0) {
        if (d->z_done)
            return mlp_fail(d->err, MLP_ERR_FORMAT,
                            "%s: corrupt PNG: the image data ends after %zu bytes, %lux%lu pixels need %zu", d->name,
                            d->produced + (n - d->zs.avail_out), (unsigned long)d->w, (unsigned long)d->h,
                            total_expected);
        if (d->zs.avail_in == 0 && !feed_next_idat(d))
            return mlp_fail(d->err, MLP_ERR_FORMAT,
                            "%s: truncated PNG: the compressed data ends after %zu of %zu image bytes", d->name,
                            d->produced + (n - d->zs.avail_out), total_expected);
        if (d->zs.avail_in == 0) continue; /* an empty IDAT chunk */
        const uInt in_before = d->zs.avail_in, out_before = d->zs.avail_out;
        int rc = inflate(&d->zs, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && d->zs.avail_in == in_before && d->zs.avail_out == out_before)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: the compressed image data cannot be decoded",
                            d->name);
        if (rc == Z_STREAM_END) d->z_done = 1;
        else if (rc == Z_NEED_DICT)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: the zlib stream asks for a preset dictionary",
                            d->name);
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return mlp_fail(d->err, rc == Z_MEM_ERROR ? MLP_ERR_NOMEM : MLP_ERR_FORMAT,
                            "%s: corrupt PNG: bad compressed image data (zlib: %s)", d->name,
                            d->zs.msg ? d->zs.msg : "error");
    }
    d->produced += n;
    return MLP_OK;
}

/* ------------------------------------------------------------------ scanlines */

static int paeth(int a, int b, int c) {
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    if (pb <= pc) return b;
    return c;
}

/* Undo the filter of one row in place; prev is the previous row of the same pass (zeros at its top). */
static mlp_status unfilter(png_dec *d, int type, uint8_t *row, const uint8_t *prev, size_t n, uint32_t pass_row,
                           int pass) {
    const size_t bpp = d->bpp;
    switch (type) {
    case 0: break;
    case 1:
        for (size_t i = bpp; i < n; i++) row[i] = (uint8_t)(row[i] + row[i - bpp]);
        break;
    case 2:
        for (size_t i = 0; i < n; i++) row[i] = (uint8_t)(row[i] + prev[i]);
        break;
    case 3:
        for (size_t i = 0; i < n; i++) {
            unsigned a = i >= bpp ? row[i - bpp] : 0;
            row[i] = (uint8_t)(row[i] + ((a + prev[i]) >> 1));
        }
        break;
    case 4:
        for (size_t i = 0; i < n; i++) {
            int a = i >= bpp ? row[i - bpp] : 0, c = i >= bpp ? prev[i - bpp] : 0;
            row[i] = (uint8_t)(row[i] + paeth(a, prev[i], c));
        }
        break;
    default:
        if (d->interlace)
            return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: unknown filter type %d on row %lu of pass %d",
                            d->name, type, (unsigned long)pass_row, pass + 1);
        return mlp_fail(d->err, MLP_ERR_FORMAT, "%s: corrupt PNG: unknown filter type %d on row %lu", d->name, type,
                        (unsigned long)pass_row);
    }
    return MLP_OK;
}

/* Sample i of a row (sample, not pixel: channel c of pixel x is i = x * channels + c). */
static uint32_t sample(const png_dec *d, const uint8_t *row, size_t i) {
    switch (d->depth) {
    case 8: return row[i];
    case 16: return (uint32_t)row[2 * i] << 8 | row[2 * i + 1];
    default: {
        size_t bit = i * (size_t)d->depth;
        unsigned shift = (unsigned)(8 - d->depth - (int)(bit % 8));
        return (uint32_t)(row[bit / 8] >> shift) & ((1u << d->depth) - 1);
    }
    }
}

/* Gray level from luma y and alpha a, both fractions in [0, 1], composited over white, rounded. */
static uint8_t to_byte(double y, double a) {
    double v = y * a + (1.0 - a);
    double r = v * 255.0 + 0.5;
    return r >= 255.0 ? 255 : (uint8_t)r;
}

static uint8_t frac_byte(double v) {
    double r = v * 255.0 + 0.5;
    return r >= 255.0 ? 255 : (uint8_t)r;
}

/* Convert one decoded row of pw pixels to gray, writing pixel x to out[x * step] (and its alpha to
 * d->alpha at the same offset from the image's start, when d->alpha is not NULL). */
static mlp_status convert_row(png_dec *d, const uint8_t *row, uint32_t pw, uint8_t *out, size_t step,
                              uint32_t image_row, uint8_t *alpha_out) {
    const double maxv = (double)((1u << d->depth) - 1);
    const int ch = d->channels;
    if (d->ctype == CT_GRAY && d->depth == 8 && !d->has_trns) { /* the common case: the bytes as they are */
        for (uint32_t x = 0; x < pw; x++) out[x * step] = row[x];
        return MLP_OK;
    }
    for (uint32_t x = 0; x < pw; x++) {
        size_t i = (size_t)x * (size_t)ch;
        double y, a = 1.0;
        switch (d->ctype) {
        case CT_GRAY: {
            uint32_t g = sample(d, row, i);
            y = g / maxv;
            if (d->has_trns && g == d->trns[0]) a = 0.0;
            break;
        }
        case CT_RGB: {
            uint32_t r = sample(d, row, i), g = sample(d, row, i + 1), b = sample(d, row, i + 2);
            /* BT.601 luma with integer weights: exact for r = g = b */
            y = (299.0 * r + 587.0 * g + 114.0 * b) / (1000.0 * maxv);
            if (d->has_trns && r == d->trns[0] && g == d->trns[1] && b == d->trns[2]) a = 0.0;
            break;
        }
        case CT_PALETTE: {
            uint32_t k = sample(d, row, i);
            if ((int)k >= d->n_palette)
                return mlp_fail(d->err, MLP_ERR_FORMAT,
                                "%s: corrupt PNG: palette index %lu at row %lu is out of range (the palette has %d "
                                "entries)",
                                d->name, (unsigned long)k, (unsigned long)image_row, d->n_palette);
            const uint8_t *e = d->palette[k];
            y = (299.0 * e[0] + 587.0 * e[1] + 114.0 * e[2]) / (1000.0 * 255.0);
            a = e[3] / 255.0;
            break;
        }
        case CT_GRAY_ALPHA:
            y = sample(d, row, i) / maxv;
            a = sample(d, row, i + 1) / maxv;
            break;
        default: { /* CT_RGBA */
            uint32_t r = sample(d, row, i), g = sample(d, row, i + 1), b = sample(d, row, i + 2);
            y = (299.0 * r + 587.0 * g + 114.0 * b) / (1000.0 * maxv);
            a = sample(d, row, i + 3) / maxv;
            break;
        }
        }
        if (alpha_out) out[x * step] = frac_byte(y), alpha_out[x * step] = frac_byte(a);
        else out[x * step] = to_byte(y, a);
    }
    return MLP_OK;
}

static size_t row_bytes(const png_dec *d, uint32_t pw) { return ((size_t)pw * (size_t)d->bits_pp + 7) / 8; }

/* Decode every pass into gray[h x w]. */
static mlp_status decode_image(png_dec *d, uint8_t *gray) {
    static const uint8_t adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                        {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    static const uint8_t whole[1][4] = {{0, 0, 1, 1}};
    const uint8_t(*passes)[4] = d->interlace ? adam7 : whole;
    const int n_passes = d->interlace ? 7 : 1;

    /* total decompressed size, for messages */
    size_t total = 0;
    for (int p = 0; p < n_passes; p++) {
        uint32_t pw = (d->w - passes[p][0] + passes[p][2] - 1) / passes[p][2];
        uint32_t ph = (d->h - passes[p][1] + passes[p][3] - 1) / passes[p][3];
        if (d->w > passes[p][0] && d->h > passes[p][1] && pw && ph) total += (size_t)ph * (1 + row_bytes(d, pw));
    }

    size_t max_row = row_bytes(d, d->w);
    uint8_t *rows = malloc(2 * max_row + 1);
    if (!rows)
        return mlp_fail(d->err, MLP_ERR_NOMEM, "%s: cannot allocate two rows of %zu bytes", d->name, max_row);
    uint8_t *cur = rows, *prev = rows + max_row;
    uint8_t *filter_byte = rows + 2 * max_row;
    mlp_status st = MLP_OK;
    for (int p = 0; p < n_passes && st == MLP_OK; p++) {
        const uint32_t x0 = passes[p][0], y0 = passes[p][1], dx = passes[p][2], dy = passes[p][3];
        if (d->w <= x0 || d->h <= y0) continue; /* an empty pass sends no bytes at all */
        const uint32_t pw = (d->w - x0 + dx - 1) / dx, ph = (d->h - y0 + dy - 1) / dy;
        const size_t n = row_bytes(d, pw);
        memset(prev, 0, n);
        for (uint32_t r = 0; r < ph && st == MLP_OK; r++) {
            if ((st = inflate_exact(d, filter_byte, 1, total))) break;
            if ((st = inflate_exact(d, cur, n, total))) break;
            if ((st = unfilter(d, *filter_byte, cur, prev, n, r, p))) break;
            const uint32_t y = y0 + r * dy;
            const size_t at = (size_t)y * d->w + x0;
            st = convert_row(d, cur, pw, gray + at, dx, y, d->alpha ? d->alpha + at : NULL);
            uint8_t *t = cur;
            cur = prev;
            prev = t;
        }
    }
    free(rows);
    return st;
}

/* ------------------------------------------------------------------ entry points */

/* The decoder behind both entry points: with alpha == NULL the picture is composited over white; else
 * *alpha receives the alpha plane (or NULL when the PNG has no transparency: no alpha channel, no tRNS). */
mlp_status mlp_png_parse_alpha(const uint8_t *buf, size_t len, const char *name, uint8_t **gray, uint8_t **alpha,
                               int *w, int *h, mlp_error *err) {
    if (!gray || !w || !h) return mlp_fail(err, MLP_ERR_ARG, "mlp_png_parse: output pointers must not be NULL");
    *gray = NULL;
    if (alpha) *alpha = NULL;
    *w = *h = 0;
    if (!name) name = "PNG";
    if (!buf && len) return mlp_fail(err, MLP_ERR_ARG, "mlp_png_parse: buf is NULL");
    if (len < 8 || memcmp(buf, png_signature, 8) != 0) {
        if (len >= 4 && memcmp(buf + 1, "PNG", 3) == 0)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "%s: damaged PNG signature (the file was probably transferred as text, changing line "
                            "endings)",
                            name);
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: not a PNG file (bad signature)", name);
    }
    png_dec *d = calloc(1, sizeof *d);
    if (!d) return mlp_fail(err, MLP_ERR_NOMEM, "%s: out of memory", name);
    d->name = name;
    d->err = err;
    d->buf = buf;
    d->len = len;
    mlp_status st = scan_chunks(d);
    uint8_t *out = NULL;
    if (st == MLP_OK) {
        size_t n = (size_t)d->w * d->h; /* <= MLP_IMAGE_MAX_PIXELS */
        out = malloc(n);
        const int transparent = d->ctype == CT_GRAY_ALPHA || d->ctype == CT_RGBA || d->has_trns;
        if (out && alpha && transparent && !(d->alpha = malloc(n))) {
            free(out);
            out = NULL;
        }
        if (!out)
            st = mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for %lux%lu pixels", name, n,
                          (unsigned long)d->w, (unsigned long)d->h);
    }
    if (st == MLP_OK) {
        d->next_chunk = d->first_idat;
        if (inflateInit(&d->zs) != Z_OK) st = mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot initialise zlib", name);
        else d->z_ready = 1;
    }
    if (st == MLP_OK) st = decode_image(d, out);
    if (d->z_ready) inflateEnd(&d->zs);
    if (st == MLP_OK) {
        *gray = out;
        if (alpha) *alpha = d->alpha;
        *w = (int)d->w;
        *h = (int)d->h;
    } else {
        free(out);
        free(d->alpha);
    }
    free(d);
    return st;
}

mlp_status mlp_png_parse(const uint8_t *buf, size_t len, const char *name, uint8_t **gray, int *w, int *h,
                         mlp_error *err) {
    return mlp_png_parse_alpha(buf, len, name, gray, NULL, w, h, err);
}

mlp_status mlp_png_read(const char *path, uint8_t **gray, int *w, int *h, mlp_error *err) {
    if (!gray || !w || !h) return mlp_fail(err, MLP_ERR_ARG, "mlp_png_read: output pointers must not be NULL");
    *gray = NULL;
    *w = *h = 0;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_png_read: path is NULL");
    uint8_t *buf;
    size_t len;
    mlp_status st = mlp_read_file(path, &buf, &len, PNG_MAX_FILE_BYTES, err);
    if (st) return st;
    st = mlp_png_parse(buf, len, path, gray, w, h, err);
    free(buf);
    return st;
}
