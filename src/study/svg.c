/* svg.c - line charts as plain SVG 1.1 (see report.h): no scripts, no CSS, no external fonts. */
#include "report.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Okabe & Ito (2008), "Color Universal Design": distinguishable with every common color-vision deficiency.
 * Yellow (#F0E442) is faint on white, so it comes last; black is used before it. */
static const char *const palette[MLP_SVG_PALETTE] = {
    "#0072B2", /* blue */
    "#D55E00", /* vermillion */
    "#009E73", /* bluish green */
    "#CC79A7", /* reddish purple */
    "#E69F00", /* orange */
    "#56B4E9", /* sky blue */
    "#000000", /* black */
    "#F0E442", /* yellow */
};

const char *mlp_svg_color(int i) {
    i %= MLP_SVG_PALETTE;
    if (i < 0) i += MLP_SVG_PALETTE;
    return palette[i];
}

static const char *dash_array(int dash) {
    switch (dash) {
    case 1:
        return "7 4";
    case 2:
        return "2 3";
    case 3:
        return "9 3 2 3";
    default:
        return NULL;
    }
}

void mlp_xml_escape(sbuf *out, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            sbuf_puts(out, "&amp;");
            break;
        case '<':
            sbuf_puts(out, "&lt;");
            break;
        case '>':
            sbuf_puts(out, "&gt;");
            break;
        case '"':
            sbuf_puts(out, "&quot;");
            break;
        case '\'':
            sbuf_puts(out, "&apos;");
            break;
        default:
            /* control characters other than tab/newline are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') sbuf_putc(out, ' ');
            else sbuf_putc(out, *s);
        }
    }
}

/* Marker shapes, one per series of a panel (by its index), so lines that run on top of each other (mse under
 * ce at 0.97) stay distinguishable by shape as well as colour and dash: circle, square, triangle, diamond,
 * inverted triangle, cross. Each appends a closed subpath of a <path> centred on (x, y). */
#define N_MARKERS 6
#define MARKS_PER_LINE 10
static void marker_path(sbuf *o, int shape, double x, double y) {
    const double r = 3.4;
    switch (shape % N_MARKERS) {
    case 0: /* circle: two half arcs */
        sbuf_printf(o, "M%.2f %.2fa%.1f %.1f 0 1 0 %.1f 0a%.1f %.1f 0 1 0 %.1f 0z", x - r, y, r, r, 2 * r, r, r,
                    -2 * r);
        break;
    case 1: /* square (side 2 r 0.85, same visual weight as the circle) */
        sbuf_printf(o, "M%.2f %.2fh%.1fv%.1fh%.1fz", x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r, -1.7 * r);
        break;
    case 2: /* triangle */
        sbuf_printf(o, "M%.2f %.2fl%.1f %.1fh%.1fz", x, y - 1.15 * r, 1.1 * r, 1.9 * r, -2.2 * r);
        break;
    case 3: /* diamond */
        sbuf_printf(o, "M%.2f %.2fl%.1f %.1fl%.1f %.1fl%.1f %.1fz", x, y - 1.2 * r, 1.2 * r, 1.2 * r, -1.2 * r, 1.2 * r,
                    -1.2 * r, -1.2 * r);
        break;
    case 4: /* inverted triangle */
        sbuf_printf(o, "M%.2f %.2fl%.1f %.1fh%.1fz", x, y + 1.15 * r, 1.1 * r, -1.9 * r, -2.2 * r);
        break;
    default: /* cross (an x of two bars, as one closed outline) */
    {
        const double a = 0.45 * r, b = 1.15 * r;
        sbuf_printf(o,
                    "M%.2f %.2fl%.2f %.2fl%.2f %.2fl%.2f %.2fl%.2f %.2fl%.2f %.2fl%.2f %.2fl%.2f %.2fl%.2f %.2fl%.2f "
                    "%.2fl%.2f %.2fl%.2f %.2fz",
                    x, y - a, b - a, -(b - a), a, a, -(b - a), b - a, b - a, b - a, -a, a, -(b - a), -(b - a),
                    -(b - a), b - a, -a, -a, b - a, -(b - a), -(b - a), -(b - a), a, -a);
    }
    }
}

/* ------------------------------------------------------------------ axes */

/* The 1-2-5 value at index i: ..., 0.1, 0.2, 0.5, 1, 2, 5, 10, ... (i = 3k + j <-> {1,2,5}[j] x 10^k) */
static double seq125(int i) {
    static const double m[3] = {1, 2, 5};
    int k = i >= 0 ? i / 3 : -((-i + 2) / 3);
    int j = i - 3 * k;
    return m[j] * pow(10.0, k);
}

/* index of the largest 1-2-5 value <= v (v > 0) */
static int idx125_floor(double v) {
    int i = 3 * (int)floor(log10(v)) - 3;
    while (seq125(i + 1) <= v * (1 + 1e-12)) i++;
    while (seq125(i) > v * (1 + 1e-12)) i--;
    return i;
}

void mlp_axis_nice(mlp_axis *a, double dmin, double dmax, int max_ticks, int integer_step, int log) {
    memset(a, 0, sizeof *a);
    if (max_ticks < 2) max_ticks = 2;
    if (max_ticks > MLP_AXIS_MAX_TICKS) max_ticks = MLP_AXIS_MAX_TICKS;
    if (!isfinite(dmin) || !isfinite(dmax)) dmin = 0, dmax = 1;
    if (dmax < dmin) {
        double t = dmin;
        dmin = dmax;
        dmax = t;
    }
    if (log && dmin > 0) {
        a->log = 1;
        if (dmax <= dmin * (1 + 1e-9)) dmin /= 1.5, dmax *= 1.5;
        int ilo = idx125_floor(dmin);
        int ihi = idx125_floor(dmax);
        if (seq125(ihi) < dmax * (1 - 1e-12)) ihi++;
        double decades = log10(seq125(ihi) / seq125(ilo));
        if (decades <= 2.5 && ihi - ilo + 1 <= max_ticks) {
            for (int i = ilo; i <= ihi; i++) a->ticks[a->n_ticks++] = seq125(i);
            a->lo = seq125(ilo);
            a->hi = seq125(ihi);
        } else {
            /* powers of ten only, every `every` decades */
            int klo = (int)floor(log10(dmin) + 1e-12), khi = (int)ceil(log10(dmax) - 1e-12);
            if (khi <= klo) khi = klo + 1;
            int every = 1;
            while ((khi - klo) / every + 1 > max_ticks) every++;
            while ((khi - klo) % every) khi++;
            for (int k = klo; k <= khi; k += every) a->ticks[a->n_ticks++] = pow(10.0, k);
            a->lo = pow(10.0, klo);
            a->hi = pow(10.0, khi);
        }
        if (a->lo > dmin) a->lo = dmin;
        if (a->hi < dmax) a->hi = dmax;
        return;
    }
    if (dmax - dmin <= fabs(dmax) * 1e-9 || dmax - dmin < DBL_MIN * 1e3) {
        double pad = fabs(dmin) > 0 ? fabs(dmin) * 0.05 : 0.5;
        dmin -= pad;
        dmax += pad;
    }
    /* the smallest 1-2-5 step giving at most max_ticks ticks */
    int i = idx125_floor((dmax - dmin) / (max_ticks - 1)) - 1;
    if (integer_step && seq125(i) < 1) i = 0;
    for (;; i++) {
        double step = seq125(i);
        double lo = floor(dmin / step + 1e-9) * step, hi = ceil(dmax / step - 1e-9) * step;
        int n = (int)lround((hi - lo) / step) + 1;
        if (n <= max_ticks) {
            a->step = step;
            a->n_ticks = n;
            for (int t = 0; t < n; t++) {
                double v = lo + t * step;
                if (fabs(v) < step * 1e-9) v = 0; /* no "-0.00" */
                a->ticks[t] = v;
            }
            /* the range covers the data exactly, even where rounding put a tick a hair inside it */
            a->lo = lo < dmin ? lo : dmin;
            a->hi = hi > dmax ? hi : dmax;
            return;
        }
    }
}

/* data -> pixel along an axis spanning [p0, p1] (p1 < p0 for the y axis) */
static double axis_map(const mlp_axis *a, double v, double p0, double p1) {
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo)) : (v - a->lo) / (a->hi - a->lo);
    return p0 + t * (p1 - p0);
}

static void tick_label(char *buf, size_t size, const mlp_axis *a, double v) {
    if (a->log) {
        snprintf(buf, size, "%g", v);
        return;
    }
    /* as many decimals as the step needs: 0.05 -> 2, 0.2 -> 1, 5 -> 0 */
    int dec = (int)ceil(-log10(a->step) - 1e-9);
    if (dec < 0) dec = 0;
    if (dec > 12) dec = 12;
    snprintf(buf, size, "%.*f", dec, v);
}

/* ------------------------------------------------------------------ layout */

/* Pixel sizes. Text widths are estimated at 7.6 px per character of the 12 px font (a DejaVu Sans digit is
 * 7.6 px wide; most letters are narrower), so legends never run past the figure's edge. */
#define FIG_TITLE_H 34.0
#define PANEL_TITLE_H 24.0
#define PLOT_LEFT 74.0 /* y tick labels and the y label */
#define PLOT_W 430.0
#define PLOT_H 260.0
#define PLOT_BOTTOM 50.0 /* x tick labels and the x label */
#define PANEL_RIGHT 16.0
#define CHAR_W 7.6
#define LEGEND_ROW 18.0
#define LEGEND_SIDE_MAX 250.0 /* a legend up to this wide sits beside the plot (labels of up to 27 characters) */

static double legend_width(const mlp_svg_panel *p) {
    size_t longest = 0;
    for (int s = 0; s < p->n_series; s++) {
        size_t n = strlen(p->series[s].label ? p->series[s].label : "");
        if (n > longest) longest = n;
    }
    double w = 44.0 + CHAR_W * (double)longest;
    return w < 90 ? 90 : w;
}

static int same_legend(const mlp_svg_panel *a, const mlp_svg_panel *b) {
    if (a->n_series != b->n_series) return 0;
    for (int s = 0; s < a->n_series; s++) {
        const mlp_svg_series *x = &a->series[s], *y = &b->series[s];
        if (strcmp(x->label ? x->label : "", y->label ? y->label : "") || x->color != y->color || x->dash != y->dash)
            return 0;
    }
    return 1;
}

static void text_el(sbuf *o, double x, double y, const char *anchor, const char *extra, const char *s) {
    sbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", x, y, anchor, extra ? " " : "",
                extra ? extra : "");
    mlp_xml_escape(o, s);
    sbuf_puts(o, "</text>\n");
}

/* The label of an entry cut into lines of at most `width` characters, broken after a space, '_', '-', '/' or ','
 * when there is one in the second half of the line (run names are long words joined by those). Returns the
 * number of lines; starts[k] and lens[k] give line k (at most max_lines; the rest are dropped). */
static int wrap_label(const char *s, int width, int *starts, int *lens, int max_lines) {
    int n = 0, pos = 0, len = (int)strlen(s);
    if (width < 4) width = 4;
    while (pos < len && n < max_lines) {
        int take = len - pos;
        if (take > width) {
            take = width;
            for (int k = width; k > width / 2; k--)
                if (strchr(" _-/,", s[pos + k - 1])) {
                    take = k;
                    break;
                }
        }
        starts[n] = pos;
        lens[n++] = take;
        pos += take;
        while (pos < len && s[pos] == ' ') pos++;
    }
    if (n == 0) starts[0] = 0, lens[0] = 0, n = 1;
    return n;
}

#define LEGEND_MAX_LINES 4
#define LEGEND_SAMPLE 34.0 /* the line-and-marker sample before each label */

/* One legend entry (sample + label lines) at (x, y) = the sample's centre line. */
static void legend_entry(sbuf *o, const mlp_svg_series *se, int s, double x, double y, int chars) {
    const char *da = dash_array(se->dash);
    sbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.2\"", x, y,
                x + 28, y, mlp_svg_color(se->color));
    if (da) sbuf_printf(o, " stroke-dasharray=\"%s\"", da);
    sbuf_puts(o, "/>\n");
    sbuf_printf(o, "<path fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.7\" d=\"", mlp_svg_color(se->color));
    marker_path(o, s, x + 14, y);
    sbuf_puts(o, "\"/>\n");
    const char *label = se->label ? se->label : "";
    int st[LEGEND_MAX_LINES], ln[LEGEND_MAX_LINES];
    int nl = wrap_label(label, chars, st, ln, LEGEND_MAX_LINES);
    for (int k = 0; k < nl; k++) {
        char line[512];
        snprintf(line, sizeof line, "%.*s", ln[k], label + st[k]);
        text_el(o, x + LEGEND_SAMPLE, y + 4 + LEGEND_ROW * k, "start", NULL, line);
    }
}

/* A legend beside a plot: one entry per row from (x, y). */
static void legend(sbuf *o, const mlp_svg_panel *p, double x, double y) {
    sbuf_puts(o, "<g class=\"legend\">\n");
    for (int s = 0; s < p->n_series; s++) legend_entry(o, &p->series[s], s, x, y + LEGEND_ROW * s, 1 << 20);
    sbuf_puts(o, "</g>\n");
}

/* A legend under the plots, within `width` pixels from x: entries in as many equal columns as the longest
 * label allows, labels wrapped to the column. Returns its height; draws only when o is not NULL. */
static double legend_below(sbuf *o, const mlp_svg_panel *p, double x, double y, double width) {
    double entry_w = legend_width(p) + 12;
    int cols = (int)(width / entry_w);
    if (cols < 1) cols = 1;
    if (cols > p->n_series) cols = p->n_series;
    const double col_w = width / cols;
    int chars = (int)((col_w - LEGEND_SAMPLE - 8) / CHAR_W);
    double h = 0, row_h = 0;
    if (o) sbuf_puts(o, "<g class=\"legend\">\n");
    for (int s = 0; s < p->n_series; s++) {
        int st[LEGEND_MAX_LINES], ln[LEGEND_MAX_LINES];
        const char *label = p->series[s].label ? p->series[s].label : "";
        int nl = wrap_label(label, chars, st, ln, LEGEND_MAX_LINES);
        if (s % cols == 0) h += row_h, row_h = 0;
        if (o) legend_entry(o, &p->series[s], s, x + (s % cols) * col_w, y + h + LEGEND_ROW / 2, chars);
        if (LEGEND_ROW * nl > row_h) row_h = LEGEND_ROW * nl;
    }
    if (o) sbuf_puts(o, "</g>\n");
    return h + row_h + 6;
}

static void draw_panel(sbuf *o, const mlp_svg_panel *p, const mlp_axis *ax, const mlp_axis *ay, double px, double py,
                       int own_legend /* 0 none (shared), 1 beside, 2 below */) {
    const double L = px + PLOT_LEFT, T = py + PANEL_TITLE_H, R = L + PLOT_W, B = T + PLOT_H;
    sbuf_puts(o, "<g class=\"panel\">\n");
    if (p->title && *p->title)
        text_el(o, (L + R) / 2, py + 16, "middle", "font-size=\"13\" font-weight=\"bold\"", p->title);
    /* grid and ticks */
    sbuf_puts(o, "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    for (int t = 0; t < ay->n_ticks; t++) {
        double y = axis_map(ay, ay->ticks[t], B, T);
        sbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\"/>\n", L, y, R, y);
    }
    for (int t = 0; t < ax->n_ticks; t++) {
        double x = axis_map(ax, ax->ticks[t], L, R);
        sbuf_printf(o, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>\n", x, T, x, B);
    }
    sbuf_puts(o, "</g>\n");
    char lab[64];
    sbuf_puts(o, "<g class=\"yticks\" fill=\"#222222\">\n");
    for (int t = 0; t < ay->n_ticks; t++) {
        double y = axis_map(ay, ay->ticks[t], B, T);
        sbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#444444\"/>\n", L - 5, y, L, y);
        tick_label(lab, sizeof lab, ay, ay->ticks[t]);
        text_el(o, L - 8, y + 4, "end", NULL, lab);
    }
    sbuf_puts(o, "</g>\n<g class=\"xticks\" fill=\"#222222\">\n");
    for (int t = 0; t < ax->n_ticks; t++) {
        double x = axis_map(ax, ax->ticks[t], L, R);
        sbuf_printf(o, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#444444\"/>\n", x, B, x, B + 5);
        tick_label(lab, sizeof lab, ax, ax->ticks[t]);
        text_el(o, x, B + 19, "middle", NULL, lab);
    }
    sbuf_puts(o, "</g>\n");
    if (p->xlabel) text_el(o, (L + R) / 2, B + 40, "middle", NULL, p->xlabel);
    if (p->ylabel) {
        double x = px + 16, y = (T + B) / 2;
        char tr[96];
        snprintf(tr, sizeof tr, "transform=\"rotate(-90 %.1f %.1f)\"", x, y);
        text_el(o, x, y, "middle", tr, p->ylabel);
    }
    /* bands, then lines, then markers on short series */
    for (int s = 0; s < p->n_series; s++) {
        const mlp_svg_series *se = &p->series[s];
        if (!se->band_lo || !se->band_hi) continue;
        sbuf_printf(o, "<polygon class=\"band\" fill=\"%s\" fill-opacity=\"0.16\" stroke=\"none\" points=\"",
                    mlp_svg_color(se->color));
        for (int i = 0; i < se->n; i++)
            sbuf_printf(o, "%s%.2f,%.2f", i ? " " : "", axis_map(ax, se->x ? se->x[i] : i + 1, L, R),
                        axis_map(ay, se->band_hi[i], B, T));
        for (int i = se->n - 1; i >= 0; i--)
            sbuf_printf(o, " %.2f,%.2f", axis_map(ax, se->x ? se->x[i] : i + 1, L, R),
                        axis_map(ay, se->band_lo[i], B, T));
        sbuf_puts(o, "\"/>\n");
    }
    for (int s = 0; s < p->n_series; s++) {
        const mlp_svg_series *se = &p->series[s];
        const char *da = dash_array(se->dash);
        sbuf_puts(o, "<polyline class=\"series\" data-label=\"");
        mlp_xml_escape(o, se->label ? se->label : "");
        sbuf_printf(o, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" stroke-linejoin=\"round\"",
                    mlp_svg_color(se->color));
        if (da) sbuf_printf(o, " stroke-dasharray=\"%s\"", da);
        sbuf_puts(o, " points=\"");
        for (int i = 0; i < se->n; i++)
            sbuf_printf(o, "%s%.2f,%.2f", i ? " " : "", axis_map(ax, se->x ? se->x[i] : i + 1, L, R),
                        axis_map(ay, se->y[i], B, T));
        sbuf_puts(o, "\"/>\n");
    }
    /* markers over every line: all points of short series; on long ones MARKS_PER_LINE evenly spaced points,
     * shifted by a fraction of the spacing per series so that coinciding lines show all their markers */
    for (int s = 0; s < p->n_series; s++) {
        const mlp_svg_series *se = &p->series[s];
        sbuf_printf(o, "<path class=\"markers\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.7\" d=\"",
                    mlp_svg_color(se->color));
        if (se->n <= 25) {
            for (int i = 0; i < se->n; i++)
                marker_path(o, s, axis_map(ax, se->x ? se->x[i] : i + 1, L, R), axis_map(ay, se->y[i], B, T));
        } else {
            const double gap = (double)(se->n - 1) / MARKS_PER_LINE;
            for (int j = 0; j < MARKS_PER_LINE; j++) {
                int i = (int)lround((j + (s + 0.5) / p->n_series) * gap);
                if (i >= se->n) i = se->n - 1;
                marker_path(o, s, axis_map(ax, se->x ? se->x[i] : i + 1, L, R), axis_map(ay, se->y[i], B, T));
            }
        }
        sbuf_puts(o, "\"/>\n");
    }
    /* the frame last, so lines at the edges do not hide it */
    sbuf_printf(o,
                "<rect class=\"plot-area\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                "stroke=\"#444444\" stroke-width=\"1\"/>\n",
                L, T, PLOT_W, PLOT_H);
    if (own_legend == 1) legend(o, p, R + 14, T + 8);
    if (own_legend == 2) legend_below(o, p, L, B + PLOT_BOTTOM, PLOT_W + PANEL_RIGHT);
    sbuf_puts(o, "</g>\n");
}

mlp_status mlp_svg_render(sbuf *o, const mlp_svg_figure *fig, mlp_error *err) {
    if (!fig || fig->n_panels < 1) return mlp_fail(err, MLP_ERR_ARG, "svg: a figure needs at least one panel");
    const int np = fig->n_panels, cols = fig->cols < 1 ? 1 : (fig->cols > np ? np : fig->cols);
    const int rows = (np + cols - 1) / cols;
    mlp_axis ax[64], ay[64];
    if (np > 64) return mlp_fail(err, MLP_ERR_ARG, "svg: %d panels (at most 64)", np);
    /* axes from the data */
    for (int k = 0; k < np; k++) {
        const mlp_svg_panel *p = &fig->panels[k];
        if (p->n_series < 1)
            return mlp_fail(err, MLP_ERR_ARG, "svg: panel '%s' has no series", p->title ? p->title : "");
        double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
        for (int s = 0; s < p->n_series; s++) {
            const mlp_svg_series *se = &p->series[s];
            if (se->n < 1 || !se->y)
                return mlp_fail(err, MLP_ERR_ARG, "svg: series '%s' has no points", se->label ? se->label : "");
            for (int i = 0; i < se->n; i++) {
                double x = se->x ? se->x[i] : i + 1, y = se->y[i];
                double lo = se->band_lo ? se->band_lo[i] : y, hi = se->band_hi ? se->band_hi[i] : y;
                if (!isfinite(x) || !isfinite(y) || !isfinite(lo) || !isfinite(hi))
                    return mlp_fail(err, MLP_ERR_ARG, "svg: series '%s' has a non-finite value at point %d",
                                    se->label ? se->label : "", i + 1);
                if (x < xmin) xmin = x;
                if (x > xmax) xmax = x;
                double y0 = fmin(y, fmin(lo, hi)), y1 = fmax(y, fmax(lo, hi));
                if (y0 < ymin) ymin = y0;
                if (y1 > ymax) ymax = y1;
            }
        }
        int logy = p->log_y;
        if (logy < 0) logy = ymin > 0 && ymax / ymin > 20;
        if (logy && ymin <= 0) logy = 0;
        /* epochs: on long runs start the axis at 0 (round ticks 0, 50, 100, ...); short runs start at 1 */
        int given_x = 0;
        for (int s = 0; s < p->n_series; s++) given_x |= p->series[s].x != NULL;
        if (p->integer_x && !given_x && xmin >= 1 && xmax >= 10) xmin = 0;
        mlp_axis_nice(&ax[k], xmin, xmax, 9, p->integer_x, 0);
        mlp_axis_nice(&ay[k], ymin, ymax, 9, 0, logy);
    }
    int shared = np > 1;
    for (int k = 1; k < np && shared; k++) shared = same_legend(&fig->panels[0], &fig->panels[k]);
    double leg_w = 0;
    for (int k = 0; k < np; k++) {
        double w = legend_width(&fig->panels[k]);
        if (w > leg_w) leg_w = w;
    }
    /* A legend wider than LEGEND_SIDE_MAX goes under the plots instead of beside them: the plot areas keep
     * their size and the figure its width whatever the labels' length, so a viewer that scales the figure
     * to its page never shrinks the plots for a long run name. */
    const int below = leg_w > LEGEND_SIDE_MAX;
    const double panel_w = PLOT_LEFT + PLOT_W + PANEL_RIGHT + (shared || below ? 0 : leg_w);
    const double panel_h = PANEL_TITLE_H + PLOT_H + PLOT_BOTTOM;
    double ph = panel_h;
    for (int k = 0; k < np && !shared; k++) {
        double need = below ? panel_h + legend_below(NULL, &fig->panels[k], 0, 0, panel_w - PLOT_LEFT)
                            : PANEL_TITLE_H + 8 + LEGEND_ROW * fig->panels[k].n_series + 8;
        if (need > ph) ph = need;
    }
    const double top = fig->title && *fig->title ? FIG_TITLE_H : 8;
    const double W = 10 + cols * panel_w + (shared && !below ? leg_w + 10 : 0) + (below ? 10 : 0);
    const double shared_below_h = shared && below ? legend_below(NULL, &fig->panels[0], 0, 0, W - 20 - PLOT_LEFT) : 0;
    const double H = top + rows * ph + 6 + shared_below_h;

    mlp_svg_begin(o, W, H, fig->title);
    if (fig->title && *fig->title)
        text_el(o, W / 2, 23, "middle", "font-size=\"16\" font-weight=\"bold\" fill=\"#111111\"", fig->title);
    for (int k = 0; k < np; k++) {
        double px = 10 + (k % cols) * panel_w, py = top + (k / cols) * ph;
        draw_panel(o, &fig->panels[k], &ax[k], &ay[k], px, py, shared ? 0 : below ? 2 : 1);
    }
    if (shared && !below) legend(o, &fig->panels[0], 10 + cols * panel_w + 4, top + PANEL_TITLE_H + 8);
    if (shared && below) legend_below(o, &fig->panels[0], 10 + PLOT_LEFT, top + rows * ph, W - 20 - PLOT_LEFT);
    sbuf_puts(o, "</svg>\n");
    if (o->oom) return mlp_fail(err, MLP_ERR_NOMEM, "svg: out of memory");
    return MLP_OK;
}

void mlp_svg_begin(sbuf *o, double W, double H, const char *title) {
    sbuf_printf(o,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
                "version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
                W, H, W, H);
    if (title) {
        sbuf_puts(o, "<title>");
        mlp_xml_escape(o, title);
        sbuf_puts(o, "</title>\n");
    }
    sbuf_printf(o, "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", W,
                H);
}

void mlp_svg_text(sbuf *o, double x, double y, const char *anchor, const char *extra, const char *s) {
    text_el(o, x, y, anchor, extra, s);
}
