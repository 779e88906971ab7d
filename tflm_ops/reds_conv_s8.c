/* REDS CONV_2D, int8 (TFLM reference_integer_ops::ConvPerChannel on the sliced layer; per-tensor weights are
 * broadcast to per-channel multipliers exactly as TFLM's PopulateConvolutionQuantizationParams does). */
#include <stddef.h>

#include "reds_dot_s8.h"
#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_conv_s8_prepare(reds_conv_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq) {
  const int st = reds_conv_geometry(d, 0);
  if (st != REDS_OK) return st;
  return reds_prepare_requant_s8(d->out_c, qp, 0, rq);
}

/* Stack buffers (bytes): one output pixel's receptive field gathered into a contiguous vector, and, for a narrow
 * active input slice, the active weights packed contiguously so that one dot product covers all taps. Packed
 * weights that exceed the stack buffer go to the caller's scratch (reds_conv_s8_scratch_size) when given. */
#define REDS_CONV_PATCH_MAX 256
#define REDS_CONV_WPACK_MAX 1024

/* Fields of at least REDS_CONV_PAIR_MIN bytes (and at most REDS_CONV_PAIR_MAX, the stack buffers) go in pixel
 * pairs through reds_dot2x2_s8 on the DSP build; the portable reds_dot2x2_s8 is no faster than reds_dot4_s8, so
 * the pairs' extra gathering would only cost there (cnn_flatten's 3x3 conv: +11 %). The same switch pads a 1x1
 * pair's last partial word (conv_1x1_s8_body). */
#define REDS_CONV_PAIR_MIN 8
#define REDS_CONV_PAIR_MAX 160
#if !defined(REDS_CONV_PAIRS) && defined(REDS_ARCH_CORTEX_M4)
#define REDS_CONV_PAIRS 1
#elif !defined(REDS_CONV_PAIRS)
#define REDS_CONV_PAIRS 0 /* the sanitizer tests set 1 to run the path on the host */
#endif

/* 1x1 convs take pixel triples (reds_dot3x2_s8) before pairs on the DSP build, where the 3x2 loop shares each
 * widened weight word among three pixels; the portable reds_dot3x2_s8 is a plain loop, slower than the pairs'. */
#if !defined(REDS_CONV_TRIPLES) && defined(REDS_ARCH_CORTEX_M4)
#define REDS_CONV_TRIPLES 1
#elif !defined(REDS_CONV_TRIPLES)
#define REDS_CONV_TRIPLES 0 /* the sanitizer tests set 1 to run the path on the host */
#endif

static int pair_field(int64_t k, int32_t channels) {
  return REDS_CONV_PAIRS && k >= REDS_CONV_PAIR_MIN && k <= REDS_CONV_PAIR_MAX && channels >= 2;
}

/* Row stride of packed weights for a field of k bytes: on the pair path rounded up to a word with zero weights in
 * the pad, so that reds_dot2x2_s8 runs whole words (the pad lanes of the widened fields meet zero weights) instead
 * of its byte tail, about 20 instructions per byte per call. */
static int32_t packed_stride(int32_t k) {
  return pair_field(k, 2) ? (k + 3) & ~3 : k;
}

/* Bytes of packed weights the narrow-slice PATCH path uses at these widths (0: another path, nothing packed).
 * The one place that decides it, for eval and for reds_conv_s8_scratch_size. */
static int64_t packed_bytes(const reds_conv_dims *d, int32_t out_width, int32_t in_width) {
  const int32_t taps = d->filter_h * d->filter_w;
  const int64_t k = (int64_t)taps * in_width;
  if (taps == 1 || in_width == d->in_c || k > REDS_CONV_PATCH_MAX || out_width < 4 || in_width >= 16) return 0;
  return (int64_t)packed_stride((int32_t)k) * out_width;
}

/* 1x1 convs: three pixels' widened inputs (int16 each; the pixel pairs use two of them), 4-byte aligned inside
 * the scratch. The same size on every build (a caller may size the arena on the host for the target). */
#define REDS_CONV_WIDE_MIN 8
static int is_pointwise(const reds_conv_dims *d) {
  return d->filter_h == 1 && d->filter_w == 1 && d->pad_h == 0 && d->pad_w == 0;
}
static int32_t wide_bytes(int32_t in_width) {
  return in_width >= REDS_CONV_WIDE_MIN && in_width <= (INT32_MAX - 16) / 6 ? 6 * ((in_width + 3) & ~3) + 4 : 0;
}

int32_t reds_conv_s8_scratch_size(const reds_conv_dims *d, int32_t out_width, int32_t in_width) {
  if (d == NULL || out_width < 1 || out_width > d->out_c || in_width < 1 || in_width > d->in_c) return 0;
  if (is_pointwise(d)) return wide_bytes(in_width);
  const int64_t n = packed_bytes(d, out_width, in_width);
  return n > REDS_CONV_WPACK_MAX ? (int32_t)n : 0; /* what fits the stack buffer needs no scratch */
}


/* A conv at full input depth that conv_patch_s8 runs, gathering the field and reading the weight rows in place:
 * a short field (a first layer: 1..3 input channels; rows shorter than a word make per-row dot products mostly
 * set-up and tail, so even a single output channel gains from the gathered field), or one for pixel pairs. */
static int is_full_depth_patch(const reds_conv_dims *d, int32_t out_width, int32_t in_width) {
  const int32_t taps = d->filter_h * d->filter_w;
  const int64_t k = (int64_t)taps * in_width;
  if (in_width != d->in_c || taps == 1 || k > REDS_CONV_PATCH_MAX) return 0;
  return (d->filter_w * d->in_c < 16 && (out_width >= 4 || d->filter_w * in_width < 4)) || pair_field(k, out_width);
}

/* How a pixel's dot products walk the taps.
 *   PATCH (conv_patch_s8): the pixel's taps are gathered (padding taps = input zero point, which contributes 0)
 *          into one contiguous vector of K = taps * in_width bytes, and each channel's weights are K contiguous
 *          bytes: the tensor itself at full input depth (is_full_depth_patch), else a packed copy of a narrow
 *          slice's active weights (packed_bytes). One dot product per channel group. When the packed weights of all
 *          active channels fit neither the caller's scratch nor the stack buffer, the channels are done in chunks
 *          (one pass over all pixels per chunk, the patch gathered again in each pass).
 *   ROWS:  full input width, dilation_w 1: the valid taps of one kernel row are contiguous in the input and in the
 *          weights: one dot product per valid kernel row.
 *   TAPS:  one dot product of in_width per valid tap.
 * 1x1 kernels have loops of their own (conv_1x1_s8, conv_1x1_few). */
enum { CONV_ROWS, CONV_TAPS };

typedef struct {
  reds_conv_dims d;     /* a copy: int8 output stores could alias *d and force reloads */
  const int8_t *in_img; /* the batch's input image */
  int32_t in_width;
  int32_t iy0, ix0, fy0, fy1, fx0, fx1; /* the current pixel's origin and valid tap ranges */
  size_t in_tap_step, in_row_step;      /* input bytes between taps of a row and between kernel rows */
  /* ROWS and TAPS only: per pixel the first valid tap (input pointer, weight offset) and how many rows and
   * columns; per call the weights' steps between output channels and between kernel rows. */
  int32_t mode, off;
  const int8_t *in0;
  size_t w0, w_stride, w_row_step;
  int32_t rows, cols;
} conv_ctx;

/* PATCH weights: rows of K bytes, `stride` bytes apart (>= K: packed_stride), for output channels o0..o1-1, the
 * first at w. */
typedef struct {
  const int8_t *w;
  int32_t stride, o0, o1;
} conv_rows;

static inline const int8_t *tap_in(const conv_ctx *c, int32_t fy, int32_t fx) {
  const reds_conv_dims *d = &c->d;
  return c->in_img +
         ((size_t)(c->iy0 + d->dilation_h * fy) * d->in_w + (size_t)(c->ix0 + d->dilation_w * fx)) * d->in_c;
}

/* acc[r] += the pixel's sum for output channels o..o+3 (w_o: weights of channel o). */
static inline void pixel_dot4(const conv_ctx *c, const int8_t *w_o, int32_t acc[4]) {
  const int32_t ws = (int32_t)c->w_stride;
  const int8_t *in_r = c->in0, *w_r = w_o + c->w0;
  if (c->mode == CONV_ROWS) {
    const int32_t n = c->cols * c->d.in_c;
    for (int32_t r = 0; r < c->rows; ++r, in_r += c->in_row_step, w_r += c->w_row_step)
      reds_dot4_s8(in_r, w_r, ws, n, c->off, acc);
    return;
  }
  for (int32_t r = 0; r < c->rows; ++r, in_r += c->in_row_step, w_r += c->w_row_step) {
    const int8_t *pi = in_r, *pw = w_r;
    for (int32_t t = 0; t < c->cols; ++t, pi += c->in_tap_step, pw += c->d.in_c)
      reds_dot4_s8(pi, pw, ws, c->in_width, c->off, acc);
  }
}

static inline int32_t pixel_dot1(const conv_ctx *c, const int8_t *w_o, int32_t acc) {
  const int8_t *in_r = c->in0, *w_r = w_o + c->w0;
  if (c->mode == CONV_ROWS) {
    const int32_t n = c->cols * c->d.in_c;
    for (int32_t r = 0; r < c->rows; ++r, in_r += c->in_row_step, w_r += c->w_row_step)
      acc = reds_dot_s8(in_r, w_r, n, c->off, acc);
    return acc;
  }
  for (int32_t r = 0; r < c->rows; ++r, in_r += c->in_row_step, w_r += c->w_row_step) {
    const int8_t *pi = in_r, *pw = w_r;
    for (int32_t t = 0; t < c->cols; ++t, pi += c->in_tap_step, pw += c->d.in_c)
      acc = reds_dot_s8(pi, pw, c->in_width, c->off, acc);
  }
  return acc;
}

/* The pixel's receptive field, tap by tap (in_width bytes each), padding taps set to the input zero point (border
 * pixels of conv_patch_s8, every pixel of a narrow slice in the general loop). */
static void gather_patch(const conv_ctx *c, int8_t *patch, int8_t zp) {
  const reds_conv_dims *d = &c->d;
  const int32_t fw = d->filter_w, n = c->in_width;
  for (int32_t fy = 0; fy < d->filter_h; ++fy) {
    int8_t *dst = patch + (size_t)fy * fw * n;
    if (fy < c->fy0 || fy >= c->fy1 || c->fx0 >= c->fx1) {
      reds_fill_s8(dst, zp, fw * n);
      continue;
    }
    reds_fill_s8(dst, zp, c->fx0 * n);
    if (d->dilation_w == 1 && n == d->in_c) {
      reds_copy_s8(dst + (size_t)c->fx0 * n, tap_in(c, fy, c->fx0), (c->fx1 - c->fx0) * n);
    } else {
      /* Whole words per tap when the pixel has room (n4 <= in_c): the bytes past n land where the next tap (or
       * fill) is written next, or in the patch's slack after the last tap. */
      const int32_t n4 = (n + 3) & ~3;
      const int32_t nc = n4 <= d->in_c ? n4 : n;
      const int8_t *src = tap_in(c, fy, c->fx0);
      int8_t *out = dst + (size_t)c->fx0 * n;
      for (int32_t fx = c->fx0; fx < c->fx1; ++fx, src += c->in_tap_step, out += n) reds_copy_s8(out, src, nc);
    }
    reds_fill_s8(dst + (size_t)c->fx1 * n, zp, (fw - c->fx1) * n);
  }
}

/* 1x1 kernel without padding (every 1x1 conv: TFLM's SAME padding of a 1x1 kernel is 0): pixel p's input is the
 * in_width bytes at its origin, channel o's weights the first in_width bytes of row o. A function of its own, not
 * inlined into the general loop: there GCC spilled and reloaded the loop's values around every group of four
 * channels, and the DSP kernels' asm needs 14 registers.
 *
 * Pixels go in pairs through reds_dot2x2_s8 (two pixels times two channels: each weight word is loaded and widened
 * once for both pixels; the pixels' inputs are widened once per pair, into the caller's scratch) when the input
 * slice is long enough to repay the widening and the scratch holds it (wide_bytes); otherwise, and for a last odd
 * pixel, one pixel at a time, four channels per reds_dot4_s8. On the DSP build triples come first
 * (conv_1x1_triples_s8: three pixels per weight word). */

/* Input of output pixel p (batch-major, then rows, then columns). */
static inline const int8_t *pixel_input(const reds_conv_dims *d, const int8_t *input, int32_t p) {
  const int32_t per_image = d->out_h * d->out_w;
  const int32_t b = p / per_image, r = p - b * per_image, oy = r / d->out_w, ox = r - oy * d->out_w;
  return input + (((size_t)b * d->in_h + (size_t)oy * d->stride_h) * d->in_w + (size_t)ox * d->stride_w) * d->in_c;
}

/* Output channels o0..o1-1 of one pixel: four per reds_dot4_s8, the rest one by one (x: the pixel's n input bytes;
 * w: channel o0's weight row, rows w_stride bytes apart; y: the pixel's outputs). */
REDS_ALWAYS_INLINE void pixel_channels_s8(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t n, int32_t off,
                                          const int32_t *bias, const reds_requant_view *v, int32_t o0, int32_t o1,
                                          int8_t *y) {
  const int32_t o4 = o0 + ((o1 - o0) & ~3);
  for (int32_t o = o0; o < o4; o += 4, w += 4 * (size_t)w_stride) {
    int32_t acc[4] = {reds_bias_or_zero(bias, o), reds_bias_or_zero(bias, o + 1),
                      reds_bias_or_zero(bias, o + 2), reds_bias_or_zero(bias, o + 3)};
    reds_dot4_s8(x, w, w_stride, n, off, acc);
    reds_requant4_at(y + o, acc, v, o);
  }
  for (int32_t o = o4; o < o1; ++o, w += w_stride)
    y[o] = reds_requant_at(reds_dot_s8(x, w, n, off, reds_bias_or_zero(bias, o)), v, o);
}

/* The pixel-block loops' outputs (pair_channels_s8, triple_channels_s8): channels o and o + 1 of one pixel from its
 * two accumulators, and the last odd channel o of one pixel from its n input bytes r. */
REDS_ALWAYS_INLINE void channel_pair_out_s8(int8_t *y, const int32_t acc[2], const reds_requant_view *v, int32_t o) {
  y[o] = reds_requant_at(acc[0], v, o);
  y[o + 1] = reds_requant_at(acc[1], v, o + 1);
}
REDS_ALWAYS_INLINE void last_channel_out_s8(int8_t *y, const int8_t *r, const int8_t *w, int32_t n, int32_t off,
                                            int32_t bias, const reds_requant_view *v, int32_t o) {
  y[o] = reds_requant_at(reds_dot_s8(r, w, n, off, bias), v, o);
}

/* Output channels o0..o1-1 of two pixels: two per reds_dot2x2_s8 over n widened inputs (xa, xb), a last odd one per
 * pixel from the n_bytes input bytes (ra, rb), which also serve the 2x2 loop's byte tail. */
REDS_ALWAYS_INLINE void pair_channels_s8(const int16_t *xa, const int16_t *xb, const int8_t *ra, const int8_t *rb,
                                         const int8_t *w, int32_t w_stride, int32_t n, int32_t n_bytes, int32_t off,
                                         const int32_t *bias, const reds_requant_view *v, int32_t o0, int32_t o1,
                                         int8_t *ya, int8_t *yb) {
  const int32_t o2 = o0 + ((o1 - o0) & ~1);
  for (int32_t o = o0; o < o2; o += 2, w += 2 * (size_t)w_stride) {
    const int32_t b0 = reds_bias_or_zero(bias, o), b1 = reds_bias_or_zero(bias, o + 1);
    int32_t acc[4] = {b0, b1, b0, b1};
    reds_dot2x2_s8(xa, xb, ra, rb, w, w_stride, n, off, acc);
    channel_pair_out_s8(ya, acc, v, o);
    channel_pair_out_s8(yb, acc + 2, v, o);
  }
  if (o2 < o1) {
    const int32_t b0 = reds_bias_or_zero(bias, o2);
    last_channel_out_s8(ya, ra, w, n_bytes, off, b0, v, o2);
    last_channel_out_s8(yb, rb, w, n_bytes, off, b0, v, o2);
  }
}

/* Output channels o0..o1-1 of three pixels: two per reds_dot3x2_s8 over n widened inputs (x3, interleaved), a last
 * odd one per pixel from the n_bytes input bytes (ra, rb, rc), which also serve the 3x2 loop's byte tail. One
 * out-of-line copy for the 1x1 and the gathered-field triples, in the fast requantisation where it is built (the
 * callers only come here then) and the general one elsewhere: inlined, it added about 2 KB of code per caller. */
REDS_NOINLINE static void triple_channels_s8(const int16_t *x3, const int8_t *ra, const int8_t *rb, const int8_t *rc,
                                             const int8_t *w, int32_t w_stride, int32_t n, int32_t n_bytes,
                                             int32_t off, const int32_t *bias, const reds_requant_view *view,
                                             int32_t o0, int32_t o1, int8_t *ya, int8_t *yb, int8_t *yc) {
  reds_requant_view vf = *view;
  vf.fast = REDS_FAST_REQUANT_BUILD; /* a constant, so the requantisation inlines in one form only */
  const reds_requant_view *const v = &vf;
  const int32_t o2 = o0 + ((o1 - o0) & ~1);
#if REDS_FAST_REQUANT_BUILD
  /* whole words and evenly spaced pixels (always, from both callers): the block with its requantisation in asm */
  if (n > 0 && (n & 3) == 0 && yb - ya == yc - yb) {
    const int32_t y_step = (int32_t)(yb - ya);
    for (int32_t o = o0; o < o2; o += 2, w += 2 * (size_t)w_stride)
      reds_block3x2_s8(x3, w, w_stride, n, reds_bias_or_zero(bias, o), reds_bias_or_zero(bias, o + 1), vf.ch + o,
                       ya + o, y_step);
  } else
#endif
  for (int32_t o = o0; o < o2; o += 2, w += 2 * (size_t)w_stride) {
    const int32_t b0 = reds_bias_or_zero(bias, o), b1 = reds_bias_or_zero(bias, o + 1);
    int32_t acc[6] = {b0, b1, b0, b1, b0, b1};
    reds_dot3x2_s8(x3, ra, rb, rc, w, w_stride, n, off, acc);
    channel_pair_out_s8(ya, acc, v, o);
    channel_pair_out_s8(yb, acc + 2, v, o);
    channel_pair_out_s8(yc, acc + 4, v, o);
  }
  if (o2 < o1) {
    const int32_t b0 = reds_bias_or_zero(bias, o2);
    last_channel_out_s8(ya, ra, w, n_bytes, off, b0, v, o2);
    last_channel_out_s8(yb, rb, w, n_bytes, off, b0, v, o2);
    last_channel_out_s8(yc, rc, w, n_bytes, off, b0, v, o2);
  }
}

/* The pixel triples of conv_1x1_s8_body (with the fast requantisation where it is built): the first
 * 3 * (pixels / 3) pixels through reds_dot3x2_s8; returns how many pixels it did. n: the widened length (in_width,
 * or its word-rounded length when the last partial word is padded with the input zero point). */
REDS_NOINLINE static int32_t conv_1x1_triples_s8(const reds_conv_dims *d, const reds_requant_view *v,
                                                 const int8_t *input, const int8_t *weights, const int32_t *bias,
                                                 int8_t *output, int32_t out_width, int32_t in_width, int32_t n,
                                                 int32_t off, int16_t *wide) {
  const int32_t in_c = d->in_c, out_c = d->out_c;
  const int32_t pixels = d->batches * d->out_h * d->out_w, n0 = in_width & ~3;
  const int8_t zero = (int8_t)v->output_offset, in_zp = (int8_t)(-off);
  int32_t p = 0;
  for (; p + 2 < pixels; p += 3) {
    const int8_t *xa = pixel_input(d, input, p), *xb = pixel_input(d, input, p + 1),
                 *xc = pixel_input(d, input, p + 2);
    int8_t *ya = output + (size_t)p * out_c, *yb = ya + out_c, *yc = yb + out_c;
    reds_widen3_s8(xa, xb, xc, in_width, off, wide);
    if (n != in_width) {
      int8_t last[3][4];
      for (int32_t i = 0; i < 4; ++i) {
        last[0][i] = n0 + i < in_width ? xa[n0 + i] : in_zp;
        last[1][i] = n0 + i < in_width ? xb[n0 + i] : in_zp;
        last[2][i] = n0 + i < in_width ? xc[n0 + i] : in_zp;
      }
      reds_widen3_s8(last[0], last[1], last[2], 4, off, wide + 3 * n0);
    }
    triple_channels_s8(wide, xa, xb, xc, weights, in_c, n, in_width, off, bias, v, 0, out_width, ya, yb, yc);
    reds_fill_s8(ya + out_width, zero, out_c - out_width);
    reds_fill_s8(yb + out_width, zero, out_c - out_width);
    reds_fill_s8(yc + out_width, zero, out_c - out_width);
  }
  return p;
}

REDS_ALWAYS_INLINE void conv_1x1_s8_body(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                         const int8_t *weights, const int32_t *bias, int8_t *output,
                                         int32_t out_width, int32_t in_width, int16_t *wide_a, int fast) {
  const reds_requant_view v = reds_requant_view_of(rq, fast);
  const int32_t in_c = d->in_c, out_c = d->out_c;
  const int32_t off = rq->input_offset, pixels = d->batches * d->out_h * d->out_w;
  const int8_t zero = (int8_t)v.output_offset;
  int32_t p = 0;
  if (wide_a != NULL) {
    int16_t *const wide_b = wide_a + ((in_width + 3) & ~3);
    /* A slice that ends inside a word, with the word's bytes in the tensor (n4 <= in_c): its last partial word is
     * widened with zero-point bytes in the lanes past in_width (so those lanes are 0) and the 2x2 loop runs over
     * n4, reading weights of inactive inputs times 0; on the DSP build cheaper than the byte-wise tail's 4 products
     * per byte (the portable 2x2 loop goes byte by byte anyway). */
    const int32_t n4 = (in_width + 3) & ~3, n = REDS_CONV_PAIRS && n4 <= in_c ? n4 : in_width, n0 = in_width & ~3;
    const int8_t in_zp = (int8_t)(-off);
    /* Pixel triples first (each weight word widened once for three pixels), then a pair, then one. Out of line
     * (inlined, the triples doubled the 1x1 loop's code), in the fast requantisation's instantiation only where
     * that form is built (elsewhere, e.g. the host's sanitizer tests, with the general form). */
    if (REDS_CONV_TRIPLES && (fast || !REDS_FAST_REQUANT_BUILD) && pixels >= 3)
      p = conv_1x1_triples_s8(d, &v, input, weights, bias, output, out_width, in_width, n, off, wide_a);
    for (; p + 1 < pixels; p += 2) {
      const int8_t *xa = pixel_input(d, input, p), *xb = pixel_input(d, input, p + 1);
      int8_t *ya = output + (size_t)p * out_c, *yb = ya + out_c;
      reds_widen_s8(xa, in_width, off, wide_a);
      reds_widen_s8(xb, in_width, off, wide_b);
      if (n != in_width) {
        int8_t last_a[4], last_b[4];
        for (int32_t i = 0; i < 4; ++i) {
          last_a[i] = n0 + i < in_width ? xa[n0 + i] : in_zp;
          last_b[i] = n0 + i < in_width ? xb[n0 + i] : in_zp;
        }
        reds_widen_s8(last_a, 4, off, wide_a + n0);
        reds_widen_s8(last_b, 4, off, wide_b + n0);
      }
      pair_channels_s8(wide_a, wide_b, xa, xb, weights, in_c, n, in_width, off, bias, &v, 0, out_width, ya, yb);
      reds_fill_s8(ya + out_width, zero, out_c - out_width);
      reds_fill_s8(yb + out_width, zero, out_c - out_width);
    }
  }
  for (; p < pixels; ++p) {
    const int8_t *x = pixel_input(d, input, p);
    int8_t *y = output + (size_t)p * out_c;
    pixel_channels_s8(x, weights, in_c, in_width, off, bias, &v, 0, out_width, y);
    reds_fill_s8(y + out_width, zero, out_c - out_width);
  }
}

#if defined(REDS_ARCH_CORTEX_M4)
#define REDS_FEW_CHUNK 32

/* The DSP build's fast form for K = 1, 2 with a bias (the caller checks those): pixels in pairs through
 * reds_pointwise_few2_m4 from a stack table of the active channels (requantisation, bias, weight pair;
 * REDS_FEW_CHUNK channels per pass), a last odd pixel through reds_pointwise_few_s8. Returns 0 (nothing done) for
 * a single pixel, which the one-pixel loop does as well. */
REDS_NOINLINE static int conv_1x1_few_pairs_s8(const reds_conv_dims *d, const reds_requant_view *v,
                                               const int8_t *input, const int8_t *weights, const int32_t *bias,
                                               int8_t *output, int32_t out_width, int32_t off, int k) {
  const int32_t in_c = d->in_c, out_c = d->out_c, pixels = d->batches * d->out_h * d->out_w;
  if (pixels < 2) return 0;
  const int8_t zero = (int8_t)v->output_offset;
  reds_few_row tab[REDS_FEW_CHUNK];
  for (int32_t o0 = 0; o0 < out_width; o0 += REDS_FEW_CHUNK) {
    const int32_t n = out_width - o0 < REDS_FEW_CHUNK ? out_width - o0 : REDS_FEW_CHUNK;
    const int fill = o0 + n == out_width; /* the last pass writes the inactive outputs */
    for (int32_t o = 0; o < n; ++o) {
      const int8_t *w = weights + (size_t)(o0 + o) * in_c;
      tab[o].rq = v->ch[o0 + o];
      tab[o].bias = bias[o0 + o];
      tab[o].w01 = reds_m4_pair16(w[0], k > 1 ? w[1] : 0);
    }
    int32_t p = 0;
    for (; p + 1 < pixels; p += 2) {
      const int8_t *xa = pixel_input(d, input, p), *xb = pixel_input(d, input, p + 1);
      const uint32_t xa01 = reds_m4_pair16(xa[0] + off, k > 1 ? xa[1] + off : 0);
      const uint32_t xb01 = reds_m4_pair16(xb[0] + off, k > 1 ? xb[1] + off : 0);
      int8_t *ya = output + (size_t)p * out_c;
      reds_pointwise_few2_m4(xa01, xb01, tab, ya + o0, out_c, n);
      if (fill) {
        reds_fill_s8(ya + out_width, zero, out_c - out_width);
        reds_fill_s8(ya + out_c + out_width, zero, out_c - out_width);
      }
    }
    if (p < pixels) {
      const int8_t *x = pixel_input(d, input, p);
      int8_t *y = output + (size_t)p * out_c;
      reds_pointwise_few_s8(bias + o0, weights + (size_t)o0 * in_c, in_c, v->ch + o0, x[0] + off,
                            k > 1 ? x[1] + off : 0, k, y + o0, n);
      if (fill) reds_fill_s8(y + out_width, zero, out_c - out_width);
    }
  }
  return 1;
}
#endif

/* 1x1 conv reading K = 1..3 active inputs (the layer after a group cut to a few channels): one to three MACs per
 * output, so the per-output work is what counts. The pixel's K inputs (offset added) stay in registers; each output
 * channel is its bias, K byte loads and multiply-adds, the requantisation and a byte store. On the DSP build, with
 * the fast requantisation and a bias, that is one asm loop (reds_pointwise_few_s8): 15 instructions per output for
 * K = 1, 17 for K = 2, against 26 and 29 through reds_dot4_s8, whose set-up and byte tail every group of four
 * channels pays; for K <= 2 pixel pairs share each channel's loads (conv_1x1_few_pairs_s8): 11.5 per output. */
REDS_ALWAYS_INLINE void conv_1x1_few_s8(const reds_conv_dims *d, const reds_requant_view *v, const int8_t *input,
                                        const int8_t *weights, const int32_t *bias, int8_t *output,
                                        int32_t out_width, int32_t off, const int k) {
  const int32_t in_c = d->in_c, out_c = d->out_c, pixels = d->batches * d->out_h * d->out_w;
  const int8_t zero = (int8_t)v->output_offset;
#if defined(REDS_ARCH_CORTEX_M4)
  /* one out-of-line copy for K = 1 and 2 (inlined, each of the kernel's instantiations carried one: +2 KB) */
  if (v->fast && k < 3 && bias != NULL && conv_1x1_few_pairs_s8(d, v, input, weights, bias, output, out_width, off, k))
    return;
#endif
  for (int32_t p = 0; p < pixels; ++p) {
    const int8_t *x = pixel_input(d, input, p);
    const int32_t x0 = x[0] + off, x1 = k > 1 ? x[1] + off : 0, x2 = k > 2 ? x[2] + off : 0;
    int8_t *y = output + (size_t)p * out_c;
    const int8_t *w = weights;
    if (v->fast && bias != NULL && k < 3) {
      reds_pointwise_few_s8(bias, w, in_c, v->ch, x0, x1, k, y, out_width);
      reds_fill_s8(y + out_width, zero, out_c - out_width);
      continue;
    }
    for (int32_t o = 0; o < out_width; ++o, w += in_c) {
      uint32_t acc = (uint32_t)reds_bias_or_zero(bias, o) + (uint32_t)(x0 * (int32_t)w[0]);
      if (k > 1) acc += (uint32_t)(x1 * (int32_t)w[1]);
      if (k > 2) acc += (uint32_t)(x2 * (int32_t)w[2]);
      y[o] = reds_requant_at((int32_t)acc, v, o);
    }
    reds_fill_s8(y + out_width, zero, out_c - out_width);
  }
}

REDS_ALWAYS_INLINE void conv_1x1_few_body(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                          const int8_t *weights, const int32_t *bias, int8_t *output,
                                          int32_t out_width, int32_t in_width, int fast) {
  const reds_requant_view v = reds_requant_view_of(rq, fast);
  const int32_t off = rq->input_offset;
  if (in_width == 1) conv_1x1_few_s8(d, &v, input, weights, bias, output, out_width, off, 1);
  else if (in_width == 2) conv_1x1_few_s8(d, &v, input, weights, bias, output, out_width, off, 2);
  else conv_1x1_few_s8(d, &v, input, weights, bias, output, out_width, off, 3);
}

/* Out of line like conv_1x1_s8, so that neither loop's registers burden the other's. */
REDS_NOINLINE static void conv_1x1_few(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                       const int8_t *weights, const int32_t *bias, int8_t *output,
                                       int32_t out_width, int32_t in_width) {
  if (reds_use_fast_requant(rq)) conv_1x1_few_body(d, rq, input, weights, bias, output, out_width, in_width, 1);
  else conv_1x1_few_body(d, rq, input, weights, bias, output, out_width, in_width, 0);
}

REDS_NOINLINE static void conv_1x1_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                      const int8_t *weights, const int32_t *bias, int8_t *output, int32_t out_width,
                                      int32_t in_width, int8_t *scratch, int32_t scratch_size) {
  const int32_t need = wide_bytes(in_width);
  int16_t *wide = NULL;
  if (need > 0 && scratch != NULL && scratch_size >= need)
    wide = (int16_t *)(void *)(scratch + ((4u - ((uintptr_t)scratch & 3u)) & 3u));
  if (reds_use_fast_requant(rq)) conv_1x1_s8_body(d, rq, input, weights, bias, output, out_width, in_width, wide, 1);
  else conv_1x1_s8_body(d, rq, input, weights, bias, output, out_width, in_width, wide, 0);
}

/* An interior field (every tap inside) of a narrow slice, tap by tap: a slice of at most 4 bytes whose word lies in
 * the tensor (in_c >= 4) is one word copy per tap, the bytes past the slice overwritten by the next tap or left in
 * the patch's slack; wider slices copy whole words where the pixel has room (as gather_patch). gather_patch's walk
 * (tap ranges, three fills and a copy call per kernel row) cost about 350 instructions for a 2-channel 3x3 field. */
static inline void gather_slice_interior(const conv_ctx *c, int8_t *patch) {
  const reds_conv_dims *d = &c->d;
  const int32_t n = c->in_width, fw = d->filter_w;
  const int8_t *row = c->in_img + ((size_t)c->iy0 * d->in_w + (size_t)c->ix0) * d->in_c;
  if (n <= 4 && d->in_c >= 4) {
    for (int32_t fy = 0; fy < d->filter_h; ++fy, row += c->in_row_step) {
      const int8_t *src = row;
      for (int32_t fx = 0; fx < fw; ++fx, src += c->in_tap_step, patch += n) {
        uint32_t word;
        REDS_KEEP_LOOP();
        memcpy(&word, src, 4);
        memcpy(patch, &word, 4);
      }
    }
    return;
  }
  const int32_t n4 = (n + 3) & ~3, nc = n4 <= d->in_c ? n4 : n;
  for (int32_t fy = 0; fy < d->filter_h; ++fy, row += c->in_row_step) {
    const int8_t *src = row;
    for (int32_t fx = 0; fx < fw; ++fx, src += c->in_tap_step, patch += n) reds_copy_s8(patch, src, nc);
  }
}

/* The field of output pixel ox of the current row (c->iy0, c->fy0/fy1 set) into `patch`. */
static inline void load_field(conv_ctx *c, int32_t ox, int full_depth, int rows_inside, int8_t *patch, int8_t in_zp) {
  const reds_conv_dims *d = &c->d;
  c->ix0 = ox * d->stride_w - d->pad_w;
  reds_tap_range(c->ix0, d->dilation_w, d->in_w, d->filter_w, &c->fx0, &c->fx1);
  if (!full_depth && rows_inside && c->fx0 == 0 && c->fx1 == d->filter_w) {
    gather_slice_interior(c, patch);
  } else if (full_depth && rows_inside && c->fx0 == 0 && c->fx1 == d->filter_w && d->dilation_w == 1) {
    /* Interior: each kernel row is one run of filter_w * in_c input bytes (gather_patch's walk pays three calls
     * per row, mostly on empty fills: about 260 instructions for a 1-channel 3x3 field). */
    const int32_t row = d->filter_w * d->in_c;
    const int8_t *src = c->in_img + ((size_t)c->iy0 * d->in_w + (size_t)c->ix0) * d->in_c;
    if (row == 3) { /* a 1-channel 3-wide kernel: fixed-size copies, a halfword and a byte each */
      for (int32_t fy = 0; fy < d->filter_h; ++fy, src += c->in_row_step, patch += 3) memcpy(patch, src, 3);
    } else {
      for (int32_t fy = 0; fy < d->filter_h; ++fy, src += c->in_row_step, patch += row) reds_copy_s8(patch, src, row);
    }
  } else {
    gather_patch(c, patch, in_zp);
  }
}


/* PATCH convs (see the modes above): per pixel the field is gathered once (at full depth, interior pixels with one
 * copy per kernel row) and every output channel is one dot product of K bytes with its weight row. A function of
 * its own like the 1x1 loop: in the general loop the walk's context lived in memory and its mode tests ran per
 * channel group, about 340 instructions per pixel beyond the dot products.
 *
 * Fields of REDS_CONV_PAIR_MIN..REDS_CONV_PAIR_MAX bytes go two horizontally adjacent pixels at a time through
 * reds_dot2x2_s8 (both fields widened once, each weight word loaded and widened once for both pixels: 20 instead
 * of 25 instructions per 16 MACs), as the 1x1 loop does; shorter fields do not repay the widening. */
REDS_ALWAYS_INLINE void conv_patch_s8_body(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                           const conv_rows *wr, const int32_t *bias, int8_t *output,
                                           int32_t out_width, int32_t in_width, int fast) {
  const reds_requant_view v = reds_requant_view_of(rq, fast);
  const int8_t zero = (int8_t)rq->output_offset, in_zp = (int8_t)(-rq->input_offset);
  const int32_t off = rq->input_offset, fh = d->filter_h;
  /* k: the weight rows' length, the field's taps * in_width bytes or, packed, that rounded up to a word with zero
   * weights in the pad (packed_stride): the dot products run over the pad, whose field bytes (the slack after
   * the field) meet zero weights. */
  const int32_t k = wr->stride, o0 = wr->o0, o1 = wr->o1, out_c = d->out_c;
  const int full_depth = in_width == d->in_c;
  const int pairs = pair_field(k, o1 - o0);
  /* + slack for word-rounded copies; the third field only where pixel triples run */
  int8_t patch[REDS_CONV_PATCH_MAX + 4], patch_b[REDS_CONV_PAIR_MAX + 4],
      patch_c[REDS_CONV_TRIPLES ? REDS_CONV_PAIR_MAX + 4 : 4];
  if (k > d->filter_h * d->filter_w * in_width) { /* defined bytes in the pad lanes before the first gather */
    memset(patch + k - 4, 0, 4);
    memset(patch_b + k - 4, 0, 4);
    if (REDS_CONV_TRIPLES) memset(patch_c + k - 4, 0, 4);
  }
  /* widened fields, int16, word-aligned: two pixels' (pairs) or three pixels' interleaved (triples) */
  uint32_t wide[(REDS_CONV_TRIPLES ? 3 : 2) * REDS_CONV_PAIR_MAX / 2];
  const int triples = REDS_CONV_TRIPLES && pairs && (fast || !REDS_FAST_REQUANT_BUILD);
  conv_ctx c = {*d, input, in_width, 0, 0, 0, 0, 0, 0, (size_t)d->dilation_w * d->in_c,
                (size_t)d->dilation_h * d->in_w * d->in_c, CONV_TAPS, off, input, 0, 0, 0, 0, 0};
  int8_t *out_px = output;
  for (int32_t b = 0; b < d->batches; ++b) {
    c.in_img = input + (size_t)b * d->in_h * d->in_w * d->in_c;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      c.iy0 = oy * d->stride_h - d->pad_h;
      reds_tap_range(c.iy0, d->dilation_h, d->in_h, fh, &c.fy0, &c.fy1);
      const int rows_inside = c.fy0 == 0 && c.fy1 == fh;
      int32_t ox = 0;
      if (triples) {
        int16_t *const x3 = (int16_t *)(void *)wide;
        for (; ox + 2 < d->out_w; ox += 3, out_px += 3 * out_c) {
          load_field(&c, ox, full_depth, rows_inside, patch, in_zp);
          load_field(&c, ox + 1, full_depth, rows_inside, patch_b, in_zp);
          load_field(&c, ox + 2, full_depth, rows_inside, patch_c, in_zp);
          reds_widen3_s8(patch, patch_b, patch_c, k, off, x3);
          int8_t *const ya = out_px, *const yb = ya + out_c, *const yc = yb + out_c;
          triple_channels_s8(x3, patch, patch_b, patch_c, wr->w, k, k, k, off, bias, &v, o0, o1, ya, yb, yc);
          if (o1 == out_width) {
            reds_fill_s8(ya + out_width, zero, out_c - out_width);
            reds_fill_s8(yb + out_width, zero, out_c - out_width);
            reds_fill_s8(yc + out_width, zero, out_c - out_width);
          }
        }
      }
      if (pairs) {
        int16_t *const xa = (int16_t *)(void *)wide, *const xb = xa + REDS_CONV_PAIR_MAX;
        for (; ox + 1 < d->out_w; ox += 2, out_px += 2 * out_c) {
          load_field(&c, ox, full_depth, rows_inside, patch, in_zp);
          load_field(&c, ox + 1, full_depth, rows_inside, patch_b, in_zp);
          reds_widen_s8(patch, k, off, xa);
          reds_widen_s8(patch_b, k, off, xb);
          int8_t *const ya = out_px, *const yb = out_px + out_c;
          pair_channels_s8(xa, xb, patch, patch_b, wr->w, k, k, k, off, bias, &v, o0, o1, ya, yb);
          if (o1 == out_width) {
            reds_fill_s8(ya + out_width, zero, out_c - out_width);
            reds_fill_s8(yb + out_width, zero, out_c - out_width);
          }
        }
      }
      for (; ox < d->out_w; ++ox, out_px += out_c) {
        load_field(&c, ox, full_depth, rows_inside, patch, in_zp);
        pixel_channels_s8(patch, wr->w, k, k, off, bias, &v, o0, o1, out_px);
        if (o1 == out_width) reds_fill_s8(out_px + out_width, zero, out_c - out_width);
      }
    }
  }
}

REDS_NOINLINE static void conv_patch_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                        const conv_rows *wr, const int32_t *bias, int8_t *output, int32_t out_width,
                                        int32_t in_width) {
  if (reds_use_fast_requant(rq)) conv_patch_s8_body(d, rq, input, wr, bias, output, out_width, in_width, 1);
  else conv_patch_s8_body(d, rq, input, wr, bias, output, out_width, in_width, 0);
}

#if defined(REDS_ARCH_CORTEX_M4)
/* First layers on one input channel (grayscale images, spectrograms): 3x3 kernel, dilation 1, the fast
 * requantisation. A pixel's nine taps are read once into five registers of int16 pairs; every output channel is
 * then four SMLADs and an SMLABB against its weights, widened once per eval into a stack table next to its bias.
 * The bias there includes input offset times the channel's weight sum, so the taps go in raw: a tap outside the
 * image holds the input zero point, -offset, and adds 0 as in TFLM (integer sums: bit-exact). The PATCH walk paid
 * per pixel a field gather and widening, and per output a 2x2 block's share of a 12-byte padded field (ds_cnn's
 * first conv: 41 instructions per output, the costliest op per MAC). Channels go in chunks of the table's size. */
#define REDS_C1_CHUNK 32

REDS_NOINLINE static void conv_c1_3x3_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                         const int8_t *weights, const int32_t *bias, int8_t *output,
                                         int32_t out_width) {
  reds_c1_row tab[REDS_C1_CHUNK];
  const int32_t off = rq->input_offset, out_c = d->out_c, in_w = d->in_w, in_h = d->in_h;
  const int8_t zero = (int8_t)rq->output_offset, in_zp = (int8_t)(-off);
  const reds_requant_ch *const ch = rq->ch;
  for (int32_t o0 = 0; o0 < out_width; o0 += REDS_C1_CHUNK) {
    const int32_t n = out_width - o0 < REDS_C1_CHUNK ? out_width - o0 : REDS_C1_CHUNK;
    for (int32_t o = 0; o < n; ++o) {
      const int8_t *w = weights + (size_t)(o0 + o) * 9;
      int32_t sum = 0;
      for (int t = 0; t < 9; ++t) sum += w[t];
      tab[o].rq = ch[o0 + o];
      tab[o].w02 = reds_m4_pair16(w[0], w[2]);
      tab[o].w35 = reds_m4_pair16(w[3], w[5]);
      tab[o].w68 = reds_m4_pair16(w[6], w[8]);
      tab[o].w14 = reds_m4_pair16(w[1], w[4]);
      tab[o].w7 = reds_m4_pair16(w[7], 0);
      tab[o].bias = (int32_t)((uint32_t)reds_bias_or_zero(bias, o0 + o) + (uint32_t)(off * sum));
    }
    int8_t *y = output;
    for (int32_t b = 0; b < d->batches; ++b) {
      const int8_t *img = input + (size_t)b * in_h * in_w;
      for (int32_t oy = 0; oy < d->out_h; ++oy) {
        const int32_t iy0 = oy * d->stride_h - d->pad_h;
        const int rows_inside = iy0 >= 0 && iy0 + 3 <= in_h;
        for (int32_t ox = 0; ox < d->out_w; ++ox, y += out_c) {
          const int32_t ix0 = ox * d->stride_w - d->pad_w;
          uint32_t x02, x35, x68, x14, x7;
          /* all taps inside and a fourth byte in the row: one word load per kernel row, whose bytes 0 and 2 are
           * the outer taps (SXTB16) and byte 1 the middle one (SXTB16 ROR 8; byte 3 lands in a half no weight
           * reads) */
          if (rows_inside && ix0 >= 0 && ix0 + 4 <= in_w) {
            const int8_t *r0 = img + (size_t)iy0 * in_w + ix0;
            const uint32_t k0 = reds_m4_load4(r0), k1 = reds_m4_load4(r0 + in_w),
                           k2 = reds_m4_load4(r0 + 2 * in_w);
            x02 = __sxtb16(k0);
            x35 = __sxtb16(k1);
            x68 = __sxtb16(k2);
            x14 = reds_m4_pair16((int32_t)reds_m4_sxtb16_ror8(k0), (int32_t)reds_m4_sxtb16_ror8(k1));
            x7 = reds_m4_sxtb16_ror8(k2);
          } else { /* a border pixel, or one whose kernel rows end on the image row's last byte: taps outside
                    * hold the input zero point */
            int8_t f[9];
            for (int32_t fy = 0; fy < 3; ++fy)
              for (int32_t fx = 0; fx < 3; ++fx) {
                const int32_t iy = iy0 + fy, ix = ix0 + fx;
                f[fy * 3 + fx] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? img[(size_t)iy * in_w + ix] : in_zp;
              }
            x02 = reds_m4_pair16(f[0], f[2]);
            x35 = reds_m4_pair16(f[3], f[5]);
            x68 = reds_m4_pair16(f[6], f[8]);
            x14 = reds_m4_pair16(f[1], f[4]);
            x7 = reds_m4_pair16(f[7], 0);
          }
          reds_c1_3x3_outputs_m4(x02, x35, x68, x14, x7, tab, y + o0, n);
        }
      }
    }
  }
  /* The inactive outputs in a pass of their own: inside the pixel loop the fill's pointers and count cost GCC
   * spills of the loop's live registers (about 12 instructions per pixel on top of the stores). */
  if (out_width < out_c)
    for (int32_t p = 0, np = d->batches * d->out_h * d->out_w; p < np; ++p)
      reds_fill_s8(output + (size_t)p * out_c + out_width, zero, out_c - out_width);
}

/* First layers on one input channel with kernel rows 4 taps wide (keyword spotting's 10x4 DS-CNN conv), dilation
 * 1, up to REDS_C1K4_MAX_H rows, no clamp narrower than int8 (a ReLU whose output zero point is -128 qualifies).
 * A kernel row's taps are one word load, SXTB16 and SXTB16 ROR 8 make them the pairs (t0, t2), (t1, t3); pixels go
 * in pairs so that each weight pair loaded serves two SMLADs (reds_c1_kx4_pair_m4), against the patch walk's
 * per-use widening of the weights and its 2x2 blocks' set-up (2.4 instructions per MAC at 10x4). As in
 * conv_c1_3x3_s8 the table's bias holds input offset times the weight sum and the taps go in raw (outside the
 * image: the input zero point, adding 0). The table, REDS_C1K4_TABLE_WORDS words on the stack, takes as many
 * channels per pass as fit; it carries its own requantisation terms (right shifts 1..31, zero point added after
 * the shift: see the loop), so a layer with a dead channel (a tiny multiplier) runs here too. Returns 0 (nothing
 * written) when a channel's requantisation does not fit that form (a multiplier of 1/2 or more). */
#define REDS_C1K4_MAX_H 16
#define REDS_C1K4_TABLE_WORDS 400

/* One pixel's taps into its half (0: words 4r, 4r + 1; 2: words 4r + 2, 4r + 3) of the pair patch. Kernel rows
 * above or below the image are the zero point's pair (SAME padding of a 10-row kernel: up to four per pixel); a
 * row inside is one word load unless the pixel's columns cross the left or right edge. */
static inline void c1_kx4_taps(const reds_conv_dims *d, const int8_t *img, int32_t oy, int32_t ox, int8_t in_zp,
                               uint32_t *patch) {
  const int32_t in_w = d->in_w, kh = d->filter_h;
  const int32_t iy0 = oy * d->stride_h - d->pad_h, ix0 = ox * d->stride_w - d->pad_w;
  const int32_t r0 = iy0 < 0 ? (-iy0 < kh ? -iy0 : kh) : 0;
  const int32_t r1 = d->in_h - iy0 < kh ? (d->in_h - iy0 > r0 ? d->in_h - iy0 : r0) : kh;
  const uint32_t zz = reds_m4_pair16(in_zp, in_zp);
  int32_t r = 0;
  for (; r < r0; ++r) patch[4 * r] = zz, patch[4 * r + 1] = zz;
  int32_t at = (iy0 + r) * in_w + ix0; /* an index, not a pointer: left of the image it is below the row's start */
  if (ix0 >= 0 && ix0 + 4 <= in_w) {
    for (; r < r1; ++r, at += in_w) {
      const uint32_t k = reds_m4_load4(img + at);
      patch[4 * r] = __sxtb16(k);
      patch[4 * r + 1] = reds_m4_sxtb16_ror8(k);
    }
  } else {
    for (; r < r1; ++r, at += in_w) {
      int8_t f[4];
      uint32_t k;
      for (int32_t c = 0; c < 4; ++c) f[c] = ix0 + c >= 0 && ix0 + c < in_w ? img[at + c] : in_zp;
      memcpy(&k, f, sizeof k);
      patch[4 * r] = __sxtb16(k);
      patch[4 * r + 1] = reds_m4_sxtb16_ror8(k);
    }
  }
  for (; r < kh; ++r) patch[4 * r] = zz, patch[4 * r + 1] = zz;
}

REDS_NOINLINE static int conv_c1_kx4_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                        const int8_t *weights, const int32_t *bias, int8_t *output,
                                        int32_t out_width) {
  if (rq->act_min != -128 || rq->act_max != 127) return 0;
  for (int32_t o = 0; o < out_width; ++o)
    if (rq->multiplier[o] < 0 || (rq->multiplier[o] > 0 && (rq->shift[o] > -1 || rq->shift[o] < -31))) return 0;
  uint32_t tab[REDS_C1K4_TABLE_WORDS];
  uint32_t patch[4 * (REDS_C1K4_MAX_H + 1)];
  const int32_t kh = d->filter_h, rows = kh + (kh & 1); /* an even number of kernel rows for the pair loop */
  const int32_t row_words = 1 + 2 * rows + 4, per_pass = REDS_C1K4_TABLE_WORDS / row_words;
  const int32_t off = rq->input_offset, z = rq->output_offset, out_c = d->out_c, out_w = d->out_w;
  const int32_t pixels = d->batches * d->out_h * out_w, img_size = d->in_h * d->in_w;
  const int8_t in_zp = (int8_t)(-off);
  memset(patch + 4 * kh, 0, sizeof(uint32_t) * 4 * (size_t)(rows - kh)); /* the padding row's taps */
  for (int32_t o0 = 0; o0 < out_width; o0 += per_pass) {
    const int32_t n = out_width - o0 < per_pass ? out_width - o0 : per_pass;
    for (int32_t o = 0; o < n; ++o) {
      const int8_t *w = weights + (size_t)(o0 + o) * kh * 4;
      uint32_t *t = tab + (size_t)o * row_words;
      int32_t sum = 0;
      for (int32_t r = 0; r < rows; ++r) {
        const int8_t *wr = w + 4 * r;
        const int real = r < kh;
        t[1 + 2 * r] = real ? reds_m4_pair16(wr[0], wr[2]) : 0;
        t[2 + 2 * r] = real ? reds_m4_pair16(wr[1], wr[3]) : 0;
        if (real) sum += wr[0] + wr[1] + wr[2] + wr[3];
      }
      t[0] = (uint32_t)reds_bias_or_zero(bias, o0 + o) + (uint32_t)(off * sum);
      /* TFLM's double rounding for a right shift e as one 64-bit sum (reds_ops_internal.h), z added after it;
       * a zero multiplier (TFLM flushes tiny ones) with e = 1 gives z */
      const int32_t m = rq->multiplier[o0 + o], e = m > 0 ? -rq->shift[o0 + o] : 1;
      const int64_t round = ((int64_t)1 << 30) + ((int64_t)1 << (30 + e));
      memcpy(t + 1 + 2 * rows, &round, sizeof round);
      t[3 + 2 * rows] = (uint32_t)m;
      t[4 + 2 * rows] = (uint32_t)(e - 1) | ((uint32_t)z << 8);
    }
    int32_t b = 0, oy = 0, ox = 0; /* the next pixel's position */
    for (int32_t p = 0; p < pixels; p += 2) {
      c1_kx4_taps(d, input + (size_t)b * img_size, oy, ox, in_zp, patch);
      if (++ox == out_w && (ox = 0, ++oy == d->out_h)) oy = 0, ++b;
      int32_t b_off = 0; /* a last odd pixel goes in both halves and is written twice */
      if (p + 1 < pixels) {
        c1_kx4_taps(d, input + (size_t)b * img_size, oy, ox, in_zp, patch + 2);
        if (++ox == out_w && (ox = 0, ++oy == d->out_h)) oy = 0, ++b;
        b_off = out_c;
      } else {
        for (int32_t r = 0; r < kh; ++r) patch[4 * r + 2] = patch[4 * r], patch[4 * r + 3] = patch[4 * r + 1];
      }
      reds_c1_kx4_pair_m4(tab, patch, patch + 4 * rows, output + (size_t)p * out_c + o0, b_off, n);
    }
  }
  if (out_width < out_c)
    for (int32_t p = 0; p < pixels; ++p)
      reds_fill_s8(output + (size_t)p * out_c + out_width, (int8_t)z, out_c - out_width);
  return 1;
}
#endif

REDS_ALWAYS_INLINE int conv_s8_run(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                   const int8_t *weights, const int32_t *bias, int8_t *output, int32_t out_width,
                                   int32_t in_width, int8_t *scratch, int32_t scratch_size, int fast) {
  if (d == NULL || rq == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width < 1 || out_width > d->out_c || in_width < 1 || in_width > d->in_c) return REDS_ERR_WIDTH;
  if (is_pointwise(d)) {
    if (in_width < 4) conv_1x1_few(d, rq, input, weights, bias, output, out_width, in_width);
    else conv_1x1_s8(d, rq, input, weights, bias, output, out_width, in_width, scratch, scratch_size);
    return REDS_OK;
  }
#if defined(REDS_ARCH_CORTEX_M4)
  if (fast && d->in_c == 1 && d->filter_h == 3 && d->filter_w == 3 && d->dilation_h == 1 && d->dilation_w == 1) {
    conv_c1_3x3_s8(d, rq, input, weights, bias, output, out_width);
    return REDS_OK;
  }
#if !REDS_SINGLE_ROUNDING
  if (d->in_c == 1 && d->filter_w == 4 && d->filter_h <= REDS_C1K4_MAX_H && d->dilation_h == 1 &&
      d->dilation_w == 1 && conv_c1_kx4_s8(d, rq, input, weights, bias, output, out_width))
    return REDS_OK;
#endif
#endif
  const int64_t need = packed_bytes(d, out_width, in_width);
  if (is_full_depth_patch(d, out_width, in_width)) {
    const conv_rows all = {weights, d->filter_h * d->filter_w * in_width, 0, out_width};
    conv_patch_s8(d, rq, input, &all, bias, output, out_width, in_width);
    return REDS_OK;
  }
  const size_t w_out_stride = (size_t)d->filter_h * d->filter_w * d->in_c;
  const int32_t taps = d->filter_h * d->filter_w;
  if (need > 0) {
    /* Narrow slice: the active weights packed so that each channel is one contiguous vector: all channels into
     * the caller's scratch when it is large enough (one pass over the pixels), else as many as fit (whole groups
     * of 4, or all the rest) into the stack buffer per pass. */
    int8_t wpack[REDS_CONV_WPACK_MAX];
    const int32_t k = taps * in_width; /* <= REDS_CONV_PATCH_MAX (packed_bytes) */
    const int32_t ks = packed_stride(k);
    int8_t *pack = wpack;
    int32_t chunk = out_width;
    if (need > REDS_CONV_WPACK_MAX && scratch != NULL && scratch_size >= need) {
      pack = scratch;
    } else {
      const int32_t cap = REDS_CONV_WPACK_MAX / ks; /* >= 4 */
      if (out_width > cap) chunk = cap & ~3;
    }
    for (int32_t o0 = 0; o0 < out_width;) {
      const int32_t o1 = out_width - o0 <= chunk ? out_width : o0 + chunk;
      for (int32_t o = o0; o < o1; ++o) {
        int8_t *row = pack + (size_t)(o - o0) * ks;
        for (int32_t t = 0; t < taps; ++t)
          reds_copy_s8(row + (size_t)t * in_width, weights + o * w_out_stride + (size_t)t * d->in_c, in_width);
        for (int32_t i = k; i < ks; ++i) row[i] = 0;
      }
      const conv_rows part = {pack, ks, o0, o1};
      conv_patch_s8(d, rq, input, &part, bias, output, out_width, in_width);
      o0 = o1;
    }
    return REDS_OK;
  }
  const int8_t zero = (int8_t)rq->output_offset;
  const reds_requant_view v = reds_requant_view_of(rq, fast);
  conv_ctx c = {*d, input, in_width, 0, 0, 0, 0, 0, 0, (size_t)d->dilation_w * d->in_c,
                (size_t)d->dilation_h * d->in_w * d->in_c, CONV_TAPS, rq->input_offset, input, 0, w_out_stride,
                (size_t)d->filter_w * d->in_c, 0, 0};
  if (in_width == d->in_c && d->dilation_w == 1) c.mode = CONV_ROWS;
  const int32_t o4 = out_width & ~3;
  for (int32_t b = 0; b < d->batches; ++b) {
    c.in_img = input + (size_t)b * d->in_h * d->in_w * d->in_c;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      c.iy0 = oy * d->stride_h - d->pad_h;
      reds_tap_range(c.iy0, d->dilation_h, d->in_h, d->filter_h, &c.fy0, &c.fy1);
      for (int32_t ox = 0; ox < d->out_w; ++ox) {
        c.ix0 = ox * d->stride_w - d->pad_w;
        reds_tap_range(c.ix0, d->dilation_w, d->in_w, d->filter_w, &c.fx0, &c.fx1);
        int8_t *out_px = output + (((size_t)b * d->out_h + oy) * d->out_w + ox) * d->out_c;
        c.rows = c.fx0 < c.fx1 ? c.fy1 - c.fy0 : 0;
        c.cols = c.fx1 - c.fx0;
        if (c.rows > 0) {
          c.in0 = tap_in(&c, c.fy0, c.fx0);
          c.w0 = ((size_t)c.fy0 * d->filter_w + (size_t)c.fx0) * d->in_c;
        }
        const int8_t *w = weights;
        for (int32_t o = 0; o < o4; o += 4, w += 4 * w_out_stride) {
          int32_t acc[4] = {reds_bias_or_zero(bias, o), reds_bias_or_zero(bias, o + 1),
                            reds_bias_or_zero(bias, o + 2), reds_bias_or_zero(bias, o + 3)};
          pixel_dot4(&c, w, acc);
          reds_requant4_at(out_px + o, acc, &v, o);
        }
        for (int32_t o = o4; o < out_width; ++o, w += w_out_stride)
          out_px[o] = reds_requant_at(pixel_dot1(&c, w, reds_bias_or_zero(bias, o)), &v, o);
        reds_fill_s8(out_px + out_width, zero, d->out_c - out_width);
      }
    }
  }
  return REDS_OK;
}

int reds_conv_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
                 const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width, int8_t *scratch,
                 int32_t scratch_size) {
  if (reds_use_fast_requant(rq))
    return conv_s8_run(d, rq, input, weights, bias, output, out_width, in_width, scratch, scratch_size, 1);
  return conv_s8_run(d, rq, input, weights, bias, output, out_width, in_width, scratch, scratch_size, 0);
}
