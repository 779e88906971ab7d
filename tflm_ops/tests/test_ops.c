/* Op tests: each REDS op at random widths against a naive, independent implementation of TFLM's reference
 * kernel run on explicitly SLICED copies of the tensors, plus geometry and argument checks. (The Python tests
 * compare against the real TFLM interpreter; this keeps the C core self-checking without Python.)
 * Tensors are exact-size heap blocks so that AddressSanitizer flags any access outside them. */
#include <stdlib.h>
#include <string.h>

#include "../reds_ops.h"
#include "reds_test.h"

static uint32_t g_rng = 12345u;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 17;
  g_rng ^= g_rng << 5;
  return g_rng;
}
static int32_t rnd_range(int32_t lo, int32_t hi) { return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rnd_float(void) { return (float)rnd_range(-1000, 1000) / 337.0f; }

static int8_t *rand_s8(size_t n) {
  int8_t *p = (int8_t *)malloc(n ? n : 1);
  for (size_t i = 0; i < n; ++i) p[i] = (int8_t)rnd_range(-128, 127);
  return p;
}
static float *rand_f32(size_t n) {
  float *p = (float *)malloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; ++i) p[i] = rnd_float();
  return p;
}

/* ------------------------------------------------------------------ naive sliced references (TFLM-style) */

static int32_t ref_requant(int32_t acc, int32_t m, int32_t s, int32_t off, int32_t lo, int32_t hi) {
  acc = reds_multiply_by_quantized_multiplier(acc, m, s) + off;
  return acc < lo ? lo : (acc > hi ? hi : acc);
}

/* Conv on sliced tensors: input [N,H,W,IC], weights [OC,KH,KW,IC] (dw: [1,KH,KW,C], oc == ic). */
static void ref_conv_s8(const reds_conv_dims *d, int dw, int32_t ic, int32_t oc, const int8_t *in, const int8_t *w,
                        const int32_t *bias, const reds_requant_s8 *rq, int8_t *out) {
  for (int32_t b = 0; b < d->batches; ++b)
    for (int32_t oy = 0; oy < d->out_h; ++oy)
      for (int32_t ox = 0; ox < d->out_w; ++ox)
        for (int32_t o = 0; o < oc; ++o) {
          int32_t acc = 0;
          for (int32_t fy = 0; fy < d->filter_h; ++fy)
            for (int32_t fx = 0; fx < d->filter_w; ++fx) {
              const int32_t iy = oy * d->stride_h - d->pad_h + d->dilation_h * fy;
              const int32_t ix = ox * d->stride_w - d->pad_w + d->dilation_w * fx;
              if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w) continue;
              if (dw) {
                acc += w[(fy * d->filter_w + fx) * oc + o] * (in[((b * d->in_h + iy) * d->in_w + ix) * ic + o] +
                                                              rq->input_offset);
              } else {
                for (int32_t c = 0; c < ic; ++c)
                  acc += w[((o * d->filter_h + fy) * d->filter_w + fx) * ic + c] *
                         (in[((b * d->in_h + iy) * d->in_w + ix) * ic + c] + rq->input_offset);
              }
            }
          if (bias) acc += bias[o];
          out[((b * d->out_h + oy) * d->out_w + ox) * oc + o] =
              (int8_t)ref_requant(acc, rq->multiplier[o], rq->shift[o], rq->output_offset, rq->act_min, rq->act_max);
        }
}

static void ref_conv_f32(const reds_conv_dims *d, int dw, int32_t ic, int32_t oc, const float *in, const float *w,
                         const float *bias, const reds_act_f32 *act, float *out) {
  for (int32_t b = 0; b < d->batches; ++b)
    for (int32_t oy = 0; oy < d->out_h; ++oy)
      for (int32_t ox = 0; ox < d->out_w; ++ox)
        for (int32_t o = 0; o < oc; ++o) {
          float total = 0.0f;
          for (int32_t fy = 0; fy < d->filter_h; ++fy)
            for (int32_t fx = 0; fx < d->filter_w; ++fx) {
              const int32_t iy = oy * d->stride_h - d->pad_h + d->dilation_h * fy;
              const int32_t ix = ox * d->stride_w - d->pad_w + d->dilation_w * fx;
              if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w) continue;
              if (dw) {
                total += in[((b * d->in_h + iy) * d->in_w + ix) * ic + o] * w[(fy * d->filter_w + fx) * oc + o];
              } else {
                for (int32_t c = 0; c < ic; ++c)
                  total += in[((b * d->in_h + iy) * d->in_w + ix) * ic + c] *
                           w[((o * d->filter_h + fy) * d->filter_w + fx) * ic + c];
              }
            }
          float v = total + (bias ? bias[o] : 0.0f);
          v = v < act->act_min ? act->act_min : v;
          v = act->act_max < v ? act->act_max : v;
          out[((b * d->out_h + oy) * d->out_w + ox) * oc + o] = v;
        }
}

/* Copy channel prefix [0, w) of the last axis (length full) of `rows` rows. */
static void slice_last(const void *src, void *dst, size_t rows, int32_t full, int32_t w, size_t elem) {
  for (size_t r = 0; r < rows; ++r) memcpy((char *)dst + r * w * elem, (const char *)src + r * full * elem, w * elem);
}

/* wide: more channels (conv: in 8..24, out 16..48), so that a narrow slice's packed weights exceed the conv's
 * 1 KB stack buffer and it packs and runs the output channels in chunks. */
static void random_conv_dims(reds_conv_dims *d, int dw, int wide) {
  for (;;) {
    memset(d, 0, sizeof(*d));
    d->batches = rnd_range(1, 2);
    d->in_h = rnd_range(1, 7);
    d->in_w = rnd_range(1, 7);
    d->in_c = wide ? rnd_range(8, wide == 2 ? 40 : 24) : rnd_range(1, dw ? 40 : 12); /* > REDS_DW_BLOCK */
    d->out_c = dw ? d->in_c : (wide ? rnd_range(wide == 2 ? 1 : 16, 48) : rnd_range(1, 10));
    d->filter_h = wide == 2 ? 1 : rnd_range(1, 3); /* wide == 2: pointwise, the 1x1 loop's pixel pairs */
    d->filter_w = wide == 2 ? 1 : rnd_range(1, 3);
    d->stride_h = rnd_range(1, 3);
    d->stride_w = rnd_range(1, 3);
    d->dilation_h = rnd_range(1, 2);
    d->dilation_w = rnd_range(1, 2);
    d->padding = rnd_range(0, 1);
    if (wide == 3) { /* a first layer: one input channel, 3x3, dilation 1, up to 48 outputs (the DSP build's
                      * one-channel loop, whose weight table holds 32 channels per pass) */
      d->in_c = 1;
      d->out_c = rnd_range(1, 48);
      d->filter_h = d->filter_w = 3;
      d->dilation_h = d->dilation_w = 1;
      d->in_h = rnd_range(1, 9);
      d->in_w = rnd_range(1, 9);
    }
    if (dw && (rnd() & 1)) { /* half the depthwise cases 3x3, dilation 1: the DSP build's unrolled-3x3 paths */
      d->filter_h = d->filter_w = 3;
      d->dilation_h = d->dilation_w = 1;
      d->in_h = rnd_range(3, 7);
      d->in_w = rnd_range(3, 7);
    }
    d->out_h = reds_conv_out_size(d->padding, d->in_h, d->filter_h, d->stride_h, d->dilation_h);
    d->out_w = reds_conv_out_size(d->padding, d->in_w, d->filter_w, d->stride_w, d->dilation_w);
    if (d->out_h >= 1 && d->out_w >= 1) return;
  }
}

static void random_quant(reds_quant_params_s8 *qp, float *scales, int32_t out_c) {
  qp->input_scale = (float)rnd_range(1, 1000) / 20000.0f;
  qp->input_zero_point = rnd_range(-128, 127);
  qp->num_filter_scales = (rnd() & 1) ? out_c : 1;
  for (int32_t i = 0; i < out_c; ++i) scales[i] = (float)rnd_range(1, 1000) / 50000.0f;
  qp->filter_scales = scales;
  qp->filter_zero_point = 0;
  qp->output_scale = (float)rnd_range(1, 1000) / 5000.0f;
  qp->output_zero_point = rnd_range(-128, 127);
  qp->activation = rnd_range(0, 3);
}

/* How many int8 cases ran the general and the fast requantisation (both must occur: test_requant_forms_seen). */
static long g_requant_forms[2];
/* Conv cases that ran the 1x1 loop's pixel pairs (1x1 kernel, scratch given, in_width >= 8, two pixels or more). */
static long g_pointwise_pairs;
/* ... and three pixels or more (pixel triples on the DSP build when fast, and in the sanitizer tests). */
static long g_pointwise_triples;
/* Depthwise 3x3 cases (dilation 1) with a bias, the fast requantisation and a channel group of four to run (the
 * DSP build's group-major path), and those of them with padding (border pixels on the path's tap loop). */
static long g_dw3x3_groups, g_dw3x3_border;
/* Conv cases that ran the 1x1 loop for 1..3 active inputs with a bias (the DSP build's asm loop when fast), and
 * those with 1..2 inputs, the fast form and two pixels or more (the DSP build's pixel pairs from a table; its
 * second pass, past 32 outputs, is in the on-target vector case conv1x1_few). */
static long g_pointwise_few, g_pointwise_few_pairs;
/* First-layer cases (one input channel, 3x3, dilation 1) with the fast requantisation, some with more than 32
 * output channels (the DSP build's one-channel loop and its second pass). */
static long g_c1_fast, g_c1_chunked;
/* KxK cases of a packed narrow slice with an interior pixel (gather_slice_interior), those whose slice is one word
 * copy per tap (at most 4 bytes, in_c >= 4), and those whose field is not a whole number of words (on the pair
 * path the packed rows are padded to a word with zero weights). */
static long g_slice_interior, g_slice_word, g_slice_padded;

/* Some output pixel has every tap inside the input (pad_h/pad_w as reds_conv_geometry set them). */
static int has_interior_pixel(const reds_conv_dims *d) {
  int y = 0, x = 0;
  for (int32_t oy = 0; oy < d->out_h; ++oy) {
    const int32_t iy = oy * d->stride_h - d->pad_h;
    y |= iy >= 0 && iy + (d->filter_h - 1) * d->dilation_h < d->in_h;
  }
  for (int32_t ox = 0; ox < d->out_w; ++ox) {
    const int32_t ix = ox * d->stride_w - d->pad_w;
    x |= ix >= 0 && ix + (d->filter_w - 1) * d->dilation_w < d->in_w;
  }
  return y && x;
}

static void conv_s8_case(int dw, int wide) {
  reds_conv_dims d;
  random_conv_dims(&d, dw, wide);
  const size_t in_n = (size_t)d.batches * d.in_h * d.in_w * d.in_c;
  const size_t w_n = (size_t)(dw ? 1 : d.out_c) * d.filter_h * d.filter_w * d.in_c;
  const size_t px = (size_t)d.batches * d.out_h * d.out_w;
  int8_t *in = rand_s8(in_n), *w = rand_s8(w_n);
  int32_t *bias = (int32_t *)malloc(d.out_c * sizeof(int32_t));
  for (int32_t i = 0; i < d.out_c; ++i) bias[i] = rnd_range(-20000, 20000);
  const int use_bias = rnd() & 1;
  float *scales = (float *)malloc(d.out_c * sizeof(float));
  int32_t *mult = (int32_t *)malloc(d.out_c * sizeof(int32_t)), *shift = (int32_t *)malloc(d.out_c * sizeof(int32_t));
  reds_quant_params_s8 qp;
  random_quant(&qp, scales, d.out_c);
  reds_requant_s8 rq = {0};
  rq.multiplier = mult;
  rq.shift = shift;
  reds_requant_ch *ch = (reds_requant_ch *)malloc(d.out_c * sizeof(reds_requant_ch));
  rq.ch = rnd() % 3 ? ch : NULL; /* the fast form where prepare allows it, or the general one */
  if ((wide == 3 && rnd() % 4) || ((wide == 2 || dw) && (rnd() & 1))) {
    /* first layers mostly, pointwise and depthwise cases half the time, in the fast form (no clamp beyond int8):
     * the DSP build has loops of their own for it */
    rq.ch = ch;
    qp.activation = 0;
  }
  CHECK_EQ_INT(dw ? reds_dwconv_s8_prepare(&d, &qp, &rq) : reds_conv_s8_prepare(&d, &qp, &rq), REDS_OK);
  ++g_requant_forms[rq.fast];
  /* Pointwise: a third of the cases read 1..3 inputs (the few-input loop), the rest any width. */
  const int32_t iw = wide == 2 ? (rnd() % 3 == 0 ? rnd_range(1, 3) : rnd_range(1, d.in_c)) : wide ? rnd_range(1, d.in_c < 15 ? d.in_c : 15)
                                                              : rnd_range(1, d.in_c);
  const int32_t ow = dw ? iw : wide == 3 && (rnd() & 1) ? d.out_c : rnd_range(1, d.out_c);
  int8_t *out = (int8_t *)malloc(px * d.out_c);
  memset(out, 0x5a, px * d.out_c);
  /* Half the conv cases get the scratch they ask for (a 1x1's widened pixel pairs, a narrow slice's packed
   * weights in one pass), at any byte alignment; half none (one pixel at a time, stack passes). */
  const int32_t scratch_n = dw ? 0 : reds_conv_s8_scratch_size(&d, ow, iw);
  int8_t *scratch_mem = (scratch_n > 0 && (rnd() & 1)) ? (int8_t *)malloc((size_t)scratch_n + 3) : NULL;
  int8_t *scratch = scratch_mem ? scratch_mem + rnd() % 4u : NULL;
  const int st = dw ? reds_dwconv_s8(&d, &rq, in, w, use_bias ? bias : NULL, out, ow, iw)
                    : reds_conv_s8(&d, &rq, in, w, use_bias ? bias : NULL, out, ow, iw, scratch,
                                   scratch ? scratch_n : 0);
  g_pointwise_pairs += !dw && d.filter_h == 1 && d.filter_w == 1 && scratch != NULL && iw >= 8 && px >= 2;
  g_pointwise_triples += !dw && d.filter_h == 1 && d.filter_w == 1 && scratch != NULL && iw >= 8 && px >= 3 &&
                         rq.fast;
  const int dw_groups = dw && d.filter_h == 3 && d.filter_w == 3 && d.dilation_w == 1 && d.dilation_h == 1 &&
                        use_bias && rq.fast && (iw >= 4 || (iw & ~3) + 4 <= d.in_c);
  g_dw3x3_groups += dw_groups;
  g_dw3x3_border += dw_groups && (d.pad_h > 0 || d.pad_w > 0);
  g_pointwise_few += !dw && d.filter_h == 1 && d.filter_w == 1 && iw < 4 && use_bias;
  g_pointwise_few_pairs += !dw && d.filter_h == 1 && d.filter_w == 1 && iw <= 2 && use_bias && rq.fast &&
                           px >= 2;
  g_c1_fast += wide == 3 && rq.fast;
  g_c1_chunked += wide == 3 && rq.fast && ow > 32;
  {
    const int32_t taps = d.filter_h * d.filter_w, k = taps * iw;
    const int packed = !dw && taps > 1 && iw < d.in_c && iw < 16 && ow >= 4 && k <= 256;
    g_slice_interior += packed && has_interior_pixel(&d);
    g_slice_word += packed && has_interior_pixel(&d) && iw <= 4 && d.in_c >= 4;
    g_slice_padded += packed && k >= 8 && k <= 160 && (k & 3) != 0;
  }
  free(scratch_mem);
  CHECK_EQ_INT(st, REDS_OK);
  /* Sliced copies and the reference on them. */
  int8_t *s_in = (int8_t *)malloc(in_n), *s_w = (int8_t *)malloc(w_n), *s_out = (int8_t *)malloc(px * ow);
  slice_last(in, s_in, in_n / d.in_c, d.in_c, iw, 1);
  if (dw) {
    slice_last(w, s_w, w_n / d.in_c, d.in_c, iw, 1);
  } else {
    for (int32_t o = 0; o < ow; ++o)
      slice_last(w + (size_t)o * d.filter_h * d.filter_w * d.in_c, s_w + (size_t)o * d.filter_h * d.filter_w * iw,
                 (size_t)d.filter_h * d.filter_w, d.in_c, iw, 1);
  }
  ref_conv_s8(&d, dw, iw, ow, s_in, s_w, use_bias ? bias : NULL, &rq, s_out);
  int mismatches = 0;
  for (size_t p = 0; p < px; ++p)
    for (int32_t o = 0; o < d.out_c; ++o) {
      const int8_t got = out[p * d.out_c + o];
      const int8_t want = o < ow ? s_out[p * ow + o] : (int8_t)qp.output_zero_point;
      mismatches += got != want;
    }
  CHECK_EQ_INT(mismatches, 0);
  free(in); free(w); free(bias); free(scales); free(mult); free(shift); free(out); free(s_in); free(s_w); free(s_out);
  free(ch);
}

static void conv_f32_case(int dw) {
  reds_conv_dims d;
  random_conv_dims(&d, dw, 0);
  const size_t in_n = (size_t)d.batches * d.in_h * d.in_w * d.in_c;
  const size_t w_n = (size_t)(dw ? 1 : d.out_c) * d.filter_h * d.filter_w * d.in_c;
  const size_t px = (size_t)d.batches * d.out_h * d.out_w;
  float *in = rand_f32(in_n), *w = rand_f32(w_n), *bias = rand_f32(d.out_c);
  const int use_bias = rnd() & 1;
  reds_act_f32 act;
  const int32_t activation = rnd_range(0, 3);
  CHECK_EQ_INT(dw ? reds_dwconv_f32_prepare(&d, activation, &act) : reds_conv_f32_prepare(&d, activation, &act),
               REDS_OK);
  const int32_t iw = rnd_range(1, d.in_c);
  const int32_t ow = dw ? iw : rnd_range(1, d.out_c);
  float *out = (float *)malloc(px * d.out_c * sizeof(float));
  for (size_t i = 0; i < px * d.out_c; ++i) out[i] = 99.0f;
  const int st = dw ? reds_dwconv_f32(&d, &act, in, w, use_bias ? bias : NULL, out, ow, iw)
                    : reds_conv_f32(&d, &act, in, w, use_bias ? bias : NULL, out, ow, iw);
  CHECK_EQ_INT(st, REDS_OK);
  float *s_in = (float *)malloc(in_n * sizeof(float)), *s_w = (float *)malloc(w_n * sizeof(float));
  float *s_out = (float *)malloc(px * ow * sizeof(float));
  slice_last(in, s_in, in_n / d.in_c, d.in_c, iw, sizeof(float));
  if (dw) {
    slice_last(w, s_w, w_n / d.in_c, d.in_c, iw, sizeof(float));
  } else {
    for (int32_t o = 0; o < ow; ++o)
      slice_last(w + (size_t)o * d.filter_h * d.filter_w * d.in_c, s_w + (size_t)o * d.filter_h * d.filter_w * iw,
                 (size_t)d.filter_h * d.filter_w, d.in_c, iw, sizeof(float));
  }
  ref_conv_f32(&d, dw, iw, ow, s_in, s_w, use_bias ? bias : NULL, &act, s_out);
  int mismatches = 0;
  for (size_t p = 0; p < px; ++p)
    for (int32_t o = 0; o < d.out_c; ++o) {
      const float got = out[p * d.out_c + o];
      const float want = o < ow ? s_out[p * ow + o] : 0.0f;
      mismatches += memcmp(&got, &want, sizeof(float)) != 0; /* bitwise: same summation order */
    }
  CHECK_EQ_INT(mismatches, 0);
  free(in); free(w); free(bias); free(out); free(s_in); free(s_w); free(s_out);
}

static void fc_case(int is_float) {
  reds_fc_dims d;
  d.batches = rnd_range(1, 3);
  d.in_repeat = rnd_range(1, 5);
  d.in_channels = rnd_range(1, 12);
  d.out_channels = rnd_range(1, 12);
  const int32_t row = d.in_repeat * d.in_channels;
  const int32_t iw = rnd_range(1, d.in_channels), ow = rnd_range(1, d.out_channels);
  const int32_t srow = d.in_repeat * iw;
  const int use_bias = rnd() & 1;
  int mismatches = 0;
  if (!is_float) {
    int8_t *in = rand_s8((size_t)d.batches * row), *w = rand_s8((size_t)d.out_channels * row);
    int32_t *bias = (int32_t *)malloc(d.out_channels * sizeof(int32_t));
    for (int32_t i = 0; i < d.out_channels; ++i) bias[i] = rnd_range(-5000, 5000);
    float *scales = (float *)malloc(d.out_channels * sizeof(float));
    int32_t *mult = (int32_t *)malloc(d.out_channels * 4), *shift = (int32_t *)malloc(d.out_channels * 4);
    reds_quant_params_s8 qp;
    random_quant(&qp, scales, d.out_channels);
    reds_requant_s8 rq = {0};
    rq.multiplier = mult;
    rq.shift = shift;
    reds_requant_ch *ch = (reds_requant_ch *)malloc(d.out_channels * sizeof(reds_requant_ch));
    rq.ch = rnd() % 3 ? ch : NULL;
    CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_OK);
    ++g_requant_forms[rq.fast];
    int8_t *out = (int8_t *)malloc((size_t)d.batches * d.out_channels);
    CHECK_EQ_INT(reds_fc_s8(&d, &rq, in, w, use_bias ? bias : NULL, out, ow, iw), REDS_OK);
    int8_t *s_in = (int8_t *)malloc((size_t)d.batches * srow), *s_w = (int8_t *)malloc((size_t)ow * srow);
    slice_last(in, s_in, (size_t)d.batches * d.in_repeat, d.in_channels, iw, 1);
    slice_last(w, s_w, (size_t)ow * d.in_repeat, d.in_channels, iw, 1);
    for (int32_t b = 0; b < d.batches; ++b)
      for (int32_t o = 0; o < d.out_channels; ++o) {
        int8_t want = (int8_t)qp.output_zero_point;
        if (o < ow) {
          int32_t acc = 0;
          for (int32_t i = 0; i < srow; ++i) acc += s_w[o * srow + i] * (s_in[b * srow + i] + rq.input_offset);
          if (use_bias) acc += bias[o];
          want = (int8_t)ref_requant(acc, mult[o], shift[o], rq.output_offset, rq.act_min, rq.act_max);
        }
        mismatches += out[b * d.out_channels + o] != want;
      }
    free(in); free(w); free(bias); free(scales); free(mult); free(shift); free(out); free(s_in); free(s_w);
    free(ch);
  } else {
    float *in = rand_f32((size_t)d.batches * row), *w = rand_f32((size_t)d.out_channels * row);
    float *bias = rand_f32(d.out_channels);
    reds_act_f32 act;
    CHECK_EQ_INT(reds_fc_f32_prepare(&d, rnd_range(0, 3), &act), REDS_OK);
    float *out = (float *)malloc((size_t)d.batches * d.out_channels * sizeof(float));
    CHECK_EQ_INT(reds_fc_f32(&d, &act, in, w, use_bias ? bias : NULL, out, ow, iw), REDS_OK);
    float *s_in = (float *)malloc((size_t)d.batches * srow * 4), *s_w = (float *)malloc((size_t)ow * srow * 4);
    slice_last(in, s_in, (size_t)d.batches * d.in_repeat, d.in_channels, iw, sizeof(float));
    slice_last(w, s_w, (size_t)ow * d.in_repeat, d.in_channels, iw, sizeof(float));
    for (int32_t b = 0; b < d.batches; ++b)
      for (int32_t o = 0; o < d.out_channels; ++o) {
        float want = 0.0f;
        if (o < ow) {
          float total = 0.0f;
          for (int32_t i = 0; i < srow; ++i) total += s_in[b * srow + i] * s_w[o * srow + i];
          want = total + (use_bias ? bias[o] : 0.0f);
          want = want < act.act_min ? act.act_min : want;
          want = act.act_max < want ? act.act_max : want;
        }
        mismatches += memcmp(&out[b * d.out_channels + o], &want, sizeof(float)) != 0;
      }
    free(in); free(w); free(bias); free(out); free(s_in); free(s_w);
  }
  CHECK_EQ_INT(mismatches, 0);
}

#define REPEAT 150
static void test_fc_s8_matches_sliced_reference(void) { for (int i = 0; i < REPEAT; ++i) fc_case(0); }
static void test_fc_f32_matches_sliced_reference(void) { for (int i = 0; i < REPEAT; ++i) fc_case(1); }
static void test_conv_s8_matches_sliced_reference(void) { for (int i = 0; i < REPEAT; ++i) conv_s8_case(0, 0); }
static void test_conv_s8_wide_matches_sliced_reference(void) {
  for (int i = 0; i < REPEAT / 3; ++i) conv_s8_case(0, 1);
  CHECK(g_slice_interior > 10);
  CHECK(g_slice_word > 3);
  CHECK(g_slice_padded > 5);
}
static void test_conv_s8_pointwise_matches_sliced_reference(void) {
  for (int i = 0; i < REPEAT; ++i) conv_s8_case(0, 2);
  CHECK(g_pointwise_pairs > 20);
  CHECK(g_pointwise_triples > 8);
  CHECK(g_pointwise_few > 3);
  CHECK(g_pointwise_few_pairs > 2);
}
static void test_conv_s8_first_layer_matches_sliced_reference(void) {
  for (int i = 0; i < REPEAT; ++i) conv_s8_case(0, 3);
  CHECK(g_c1_fast > 60);
  CHECK(g_c1_chunked > 8);
}
static void test_conv_f32_matches_sliced_reference(void) { for (int i = 0; i < REPEAT; ++i) conv_f32_case(0); }
static void test_dwconv_s8_matches_sliced_reference(void) {
  for (int i = 0; i < REPEAT; ++i) conv_s8_case(1, 0);
  CHECK(g_dw3x3_groups > 10);
  CHECK(g_dw3x3_border > 5);
}
static void test_dwconv_f32_matches_sliced_reference(void) { for (int i = 0; i < REPEAT; ++i) conv_f32_case(1); }

static void test_requant_forms_seen(void) {
  CHECK(g_requant_forms[0] > 10);
  CHECK(g_requant_forms[1] > 10);
}

static void test_conv_geometry_tflm_padding(void) {
  reds_conv_dims d;
  memset(&d, 0, sizeof(d));
  d.batches = 1; d.in_h = 5; d.in_w = 6; d.in_c = 1; d.out_c = 1; d.filter_h = 3; d.filter_w = 3;
  d.stride_h = 2; d.stride_w = 1; d.dilation_h = 1; d.dilation_w = 2; d.padding = REDS_PADDING_SAME;
  d.out_h = 3; d.out_w = 6;
  CHECK_EQ_INT(reds_conv_geometry(&d, 0), REDS_OK);
  CHECK_EQ_INT(d.pad_h, 1); /* total ((3-1)*2 + 3 - 5) = 2 */
  CHECK_EQ_INT(d.pad_w, 2); /* effective filter 5: total (5*1 + 5 - 6) = 4 */
  d.padding = REDS_PADDING_VALID;
  d.out_h = 2; d.out_w = 2;
  CHECK_EQ_INT(reds_conv_geometry(&d, 0), REDS_OK);
  CHECK_EQ_INT(d.pad_h, 0);
  CHECK_EQ_INT(d.pad_w, 0);
  /* SAME with stride 2 over an even size: total padding 1 -> leading 0 (TFLM puts the odd pixel at the end). */
  d.padding = REDS_PADDING_SAME; d.in_h = 4; d.out_h = 2; d.filter_h = 2; d.stride_h = 2; d.out_w = 6;
  CHECK_EQ_INT(reds_conv_geometry(&d, 0), REDS_OK);
  CHECK_EQ_INT(d.pad_h, 0);
  d.out_h = 3; /* wrong output extent */
  CHECK_EQ_INT(reds_conv_geometry(&d, 0), REDS_ERR_SHAPE);
  d.out_h = 2; d.stride_w = 0;
  CHECK_EQ_INT(reds_conv_geometry(&d, 0), REDS_ERR_VALUE);
  d.stride_w = 1; d.out_c = 2;
  CHECK_EQ_INT(reds_conv_geometry(&d, 1), REDS_ERR_SHAPE); /* depthwise needs out_c == in_c */
  /* VALID with a filter larger than the input: no output. */
  CHECK_EQ_INT(reds_conv_out_size(REDS_PADDING_VALID, 2, 3, 1, 1), 0);
}

static void test_ops_reject_bad_widths_and_args(void) {
  int8_t in[8] = {0}, w[8] = {0}, out[8];
  int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {0, 0};
  reds_requant_s8 rq = {0, 0, -128, 127, mult, shift, NULL, 0};
  reds_fc_dims d = {1, 1, 4, 2};
  CHECK_EQ_INT(reds_fc_s8(&d, &rq, in, w, NULL, out, 0, 4), REDS_ERR_WIDTH);
  CHECK_EQ_INT(reds_fc_s8(&d, &rq, in, w, NULL, out, 3, 4), REDS_ERR_WIDTH);
  CHECK_EQ_INT(reds_fc_s8(&d, &rq, in, w, NULL, out, 2, 5), REDS_ERR_WIDTH);
  CHECK_EQ_INT(reds_fc_s8(&d, &rq, NULL, w, NULL, out, 2, 4), REDS_ERR_ARG);
  CHECK_EQ_INT(reds_fc_s8(&d, &rq, in, w, NULL, out, 2, 4), REDS_OK);
  reds_conv_dims c;
  memset(&c, 0, sizeof(c));
  c.batches = 1; c.in_h = 1; c.in_w = 1; c.in_c = 2; c.out_c = 2; c.filter_h = 1; c.filter_w = 1;
  c.stride_h = c.stride_w = c.dilation_h = c.dilation_w = 1; c.out_h = 1; c.out_w = 1;
  CHECK_EQ_INT(reds_dwconv_s8(&c, &rq, in, w, NULL, out, 2, 1), REDS_ERR_WIDTH); /* dw widths must agree */
  CHECK_EQ_INT(reds_dwconv_s8(&c, &rq, in, w, NULL, out, 2, 2), REDS_OK);
}

static void test_prepare_rejects_bad_quant(void) {
  reds_fc_dims d = {1, 1, 4, 2};
  float scales[2] = {0.01f, 0.02f};
  int32_t mult[2], shift[2];
  reds_requant_s8 rq = {0, 0, 0, 0, mult, shift, NULL, 0};
  reds_quant_params_s8 qp = {0.1f, 0, scales, 2, 0, 0.2f, 0, REDS_ACT_NONE};
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_OK);
  qp.filter_zero_point = 3;
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_ERR_QUANT);
  qp.filter_zero_point = 0;
  qp.num_filter_scales = 3;
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_ERR_QUANT);
  qp.num_filter_scales = 2;
  qp.output_scale = 0.0f;
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_ERR_QUANT);
  qp.output_scale = 0.2f;
  qp.input_zero_point = 200;
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_ERR_QUANT);
  qp.input_zero_point = 0;
  qp.activation = 9;
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_ERR_VALUE);
  qp.activation = 0;
  rq.multiplier = NULL;
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_ERR_ARG);
  d.in_channels = 0;
  rq.multiplier = mult;
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_ERR_SHAPE);
}

static void test_fc_per_tensor_uses_float_product(void) {
  /* Per-tensor FC: TFLM multiplies input_scale * filter_scale in float before widening; per-channel (and conv)
   * multiply in double. Pick scales whose float product differs from the double product. */
  reds_fc_dims d = {1, 1, 1, 1};
  float s = 0.1f;
  int32_t m1, s1, m2, s2;
  reds_requant_s8 rq = {0, 0, 0, 0, &m1, &s1, NULL, 0};
  reds_quant_params_s8 qp = {0.3f, 0, &s, 1, 0, 0.7f, 0, REDS_ACT_NONE};
  CHECK_EQ_INT(reds_fc_s8_prepare(&d, &qp, &rq), REDS_OK);
  int32_t em, es;
  const float prod = 0.3f * 0.1f;
  reds_quantize_multiplier((double)prod / (double)0.7f, &em, &es);
  CHECK_EQ_INT(m1, em);
  CHECK_EQ_INT(s1, es);
  reds_conv_dims c;
  memset(&c, 0, sizeof(c));
  c.batches = c.in_h = c.in_w = c.in_c = c.out_c = c.filter_h = c.filter_w = c.out_h = c.out_w = 1;
  c.stride_h = c.stride_w = c.dilation_h = c.dilation_w = 1;
  rq.multiplier = &m2;
  rq.shift = &s2;
  CHECK_EQ_INT(reds_conv_s8_prepare(&c, &qp, &rq), REDS_OK);
  reds_quantize_multiplier((double)0.3f * (double)0.1f / (double)0.7f, &em, &es);
  CHECK_EQ_INT(m2, em);
  CHECK_EQ_INT(s2, es);
  CHECK(m1 != m2); /* the two derivations really differ for these scales */
}

static void test_options_check_against_dims(void) {
  reds_options o;
  memset(&o, 0, sizeof(o));
  o.op = REDS_OP_FC; o.budgets = 2; o.out_widths[0] = 4; o.out_widths[1] = 2; o.in_widths[0] = 3;
  o.in_widths[1] = 1; o.in_channels = 3; o.in_repeat = 2;
  reds_fc_dims d = {1, 2, 3, 4};
  CHECK_EQ_INT(reds_options_check_fc(&o, &d), REDS_OK);
  d.out_channels = 3;
  CHECK_EQ_INT(reds_options_check_fc(&o, &d), REDS_ERR_WIDTH);
  d.out_channels = 4; d.in_repeat = 1;
  CHECK_EQ_INT(reds_options_check_fc(&o, &d), REDS_ERR_SHAPE);
}

const reds_test_case reds_tests_ops[] = {
    {"fc_s8_matches_sliced_reference", test_fc_s8_matches_sliced_reference},
    {"fc_f32_matches_sliced_reference", test_fc_f32_matches_sliced_reference},
    {"conv_s8_matches_sliced_reference", test_conv_s8_matches_sliced_reference},
    {"conv_s8_wide_matches_sliced_reference", test_conv_s8_wide_matches_sliced_reference},
    {"conv_s8_pointwise_matches_sliced_reference", test_conv_s8_pointwise_matches_sliced_reference},
    {"conv_s8_first_layer_matches_sliced_reference", test_conv_s8_first_layer_matches_sliced_reference},
    {"conv_f32_matches_sliced_reference", test_conv_f32_matches_sliced_reference},
    {"dwconv_s8_matches_sliced_reference", test_dwconv_s8_matches_sliced_reference},
    {"dwconv_f32_matches_sliced_reference", test_dwconv_f32_matches_sliced_reference},
    {"requant_forms_seen", test_requant_forms_seen},
    {"conv_geometry_tflm_padding", test_conv_geometry_tflm_padding},
    {"ops_reject_bad_widths_and_args", test_ops_reject_bad_widths_and_args},
    {"prepare_rejects_bad_quant", test_prepare_rejects_bad_quant},
    {"fc_per_tensor_uses_float_product", test_fc_per_tensor_uses_float_product},
    {"options_check_against_dims", test_options_check_against_dims},
    {NULL, NULL}};
