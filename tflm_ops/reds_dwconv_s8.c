/* REDS DEPTHWISE_CONV_2D, int8, depth multiplier 1 (TFLM reference_integer_ops::DepthwiseConvPerChannel on the
 * sliced layer). Per output pixel, four channels at a time run over all valid taps with their accumulators in
 * registers (one 4-byte input load and one 4-byte weight load per tap on the DSP path); integer sums are exact, so
 * this order gives TFLM's result bit for bit. */
#include <stddef.h>

#include "reds_dot_s8.h"
#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_dwconv_s8_prepare(reds_conv_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq) {
  const int st = reds_conv_geometry(d, 1);
  if (st != REDS_OK) return st;
  return reds_prepare_requant_s8(d->out_c, qp, 0, rq);
}

#if defined(REDS_ARCH_CORTEX_M4)
/* The valid taps fy0..fy1-1 x fx0..fx1-1 of a border pixel (3x3, dilation 1) for four channels, the weights
 * pre-widened (reds_dw3x3_widen_w); in: the input at tap (fy0, fx0). Per tap one load, two extends and four
 * SMLABB/SMLATT, as in the unrolled interior. */
static inline __attribute__((always_inline)) void dw3x3_tap_wide_s8(const int8_t *p, const uint32_t *k, uint32_t off2,
                                                                    int32_t acc[4]) {
  const uint32_t x = reds_m4_load4(p);
  const uint32_t x02 = __sxtab16(off2, x), x13 = reds_m4_sxtab16_ror8(off2, x);
  acc[0] = __smlabb((int32_t)x02, (int32_t)k[0], acc[0]);
  acc[1] = __smlabb((int32_t)x13, (int32_t)k[1], acc[1]);
  acc[2] = __smlatt((int32_t)x02, (int32_t)k[0], acc[2]);
  acc[3] = __smlatt((int32_t)x13, (int32_t)k[1], acc[3]);
}

static inline void dw3x3_taps_wide_s8(const int8_t *in, const uint32_t wk[18], int32_t C, int32_t in_row_step,
                                      int32_t fy0, int32_t fy1, int32_t fx0, int32_t fx1, uint32_t off2,
                                      int32_t acc[4]) {
  const uint32_t *k = wk + 2 * (fy0 * 3 + fx0);
  const int32_t nx = fx1 - fx0;
  for (int32_t fy = fy0; fy < fy1; ++fy, in += in_row_step, k += 6) {
    /* a border row has two or three valid columns (one only for an input narrower than the kernel) */
    dw3x3_tap_wide_s8(in, k, off2, acc);
    if (nx > 1) dw3x3_tap_wide_s8(in + C, k + 2, off2, acc);
    if (nx > 2) dw3x3_tap_wide_s8(in + 2 * C, k + 4, off2, acc);
  }
}

static inline void dw3x3_store4_s8(int8_t *y, const int32_t acc[4], const reds_requant_ch *q) {
  y[0] = (int8_t)reds_sat_s8(reds_requant_fast(acc[0], &q[0]));
  y[1] = (int8_t)reds_sat_s8(reds_requant_fast(acc[1], &q[1]));
  y[2] = (int8_t)reds_sat_s8(reds_requant_fast(acc[2], &q[2]));
  y[3] = (int8_t)reds_sat_s8(reds_requant_fast(acc[3], &q[3]));
}

/* One border pixel (output column ox of the row whose first input row is iy0, valid kernel rows fy0..fy1-1) of
 * four channels: bias, valid taps, requantisation. */
static inline void dw3x3_border_px_s8(const int8_t *in_img, const uint32_t wk[18], const reds_conv_dims *d,
                                      int32_t iy0, int32_t fy0, int32_t fy1, int32_t ox, int32_t b0, int32_t b1,
                                      int32_t b2, int32_t b3, const reds_requant_ch *q, uint32_t off2, int8_t *y) {
  int32_t acc[4] = {b0, b1, b2, b3};
  const int32_t ix0 = ox * d->stride_w - d->pad_w;
  int32_t fx0, fx1;
  reds_tap_range(ix0, 1, d->in_w, 3, &fx0, &fx1);
  if (fy0 < fy1 && fx0 < fx1)
    dw3x3_taps_wide_s8(in_img + ((size_t)(iy0 + fy0) * d->in_w + (ix0 + fx0)) * d->in_c, wk, d->in_c,
                       d->in_w * d->in_c, fy0, fy1, fx0, fx1, off2, acc);
  dw3x3_store4_s8(y, acc, q);
}

/* Channel groups c < c_run (a multiple of 4) of a 3x3, dilation 1 depthwise with fast requantisation and a bias,
 * group by group over the whole image: a group's nine weight words are widened once for every pixel
 * (reds_dw3x3_widen_w); pixels whose taps are all inside take the unrolled asm, border pixels their valid taps on
 * the same widened weights. Out of line: inside the op's pixel loop GCC kept the loop's values on the stack and
 * reloaded them around every group (about 90 instructions per group besides the taps). Border pixels had gone
 * through the general tap walk, which widened the weights at every tap and cost about twice an interior pixel. */
REDS_NOINLINE static void dw3x3_groups_s8(const reds_conv_dims *d, const int8_t *input, const int8_t *w,
                                          const int32_t *bias, const reds_requant_ch *ch, int8_t *output,
                                          int32_t off, int32_t c_run) {
  const int32_t C = d->in_c, in_w = d->in_w, in_row_step = in_w * C, sw = d->stride_w, px_step = sw * C;
  const uint32_t off2 = reds_m4_offset2(off);
  /* Output columns [ox_a, ox_b) have all three input columns inside. */
  int32_t ox_a = (d->pad_w + sw - 1) / sw, ox_b = in_w >= 3 ? (in_w - 3 + d->pad_w) / sw + 1 : 0;
  if (ox_a > d->out_w) ox_a = d->out_w;
  if (ox_b > d->out_w) ox_b = d->out_w;
  if (ox_b < ox_a) ox_b = ox_a;
  uint32_t wk[18];
  for (int32_t c0 = 0; c0 < c_run; c0 += 4) {
    reds_dw3x3_widen_w(w + c0, C, wk);
    const int32_t b0 = bias[c0], b1 = bias[c0 + 1], b2 = bias[c0 + 2], b3 = bias[c0 + 3];
    const reds_requant_ch *q = ch + c0;
    for (int32_t b = 0; b < d->batches; ++b) {
      const int8_t *in_img = input + (size_t)b * d->in_h * in_row_step + c0;
      for (int32_t oy = 0; oy < d->out_h; ++oy) {
        const int32_t iy0 = oy * d->stride_h - d->pad_h;
        int32_t fy0, fy1;
        reds_tap_range(iy0, 1, d->in_h, 3, &fy0, &fy1);
        const int full_rows = fy0 == 0 && fy1 == 3;
        int8_t *const y = output + ((size_t)b * d->out_h + oy) * d->out_w * C + c0;
        int32_t ox = 0;
        if (full_rows) { /* border columns left, then the interior run in a loop of its own */
          for (; ox < ox_a; ++ox)
            dw3x3_border_px_s8(in_img, wk, d, iy0, fy0, fy1, ox, b0, b1, b2, b3, q, off2, y + (size_t)ox * C);
          const int8_t *px = in_img + ((size_t)iy0 * in_w + (ox * sw - d->pad_w)) * C;
          int8_t *yo = y + (size_t)ox * C;
          for (; ox < ox_b; ++ox, px += px_step, yo += C) {
            int32_t acc[4] = {b0, b1, b2, b3};
            reds_dw3x3_wide_s8(px, wk, C, in_row_step, off, acc);
            dw3x3_store4_s8(yo, acc, q);
          }
        }
        for (; ox < d->out_w; ++ox)
          dw3x3_border_px_s8(in_img, wk, d, iy0, fy0, fy1, ox, b0, b1, b2, b3, q, off2, y + (size_t)ox * C);
      }
    }
  }
}

/* Input columns a lane's row buffers hold (dw3x3_lane_s8: 3 rows on the stack); wider layers keep the partial group. */
#define REDS_DW_LANE_MAX_COLS 132

/* One channel c of a 3x3, dilation 1 depthwise over the whole image (x, w, y point at channel c; C bytes between
 * pixels): the channels past the last whole group of four. As a four-lane group such a channel cost what four do
 * (about 150 instructions per pixel; ds_cnn's 14x14 layer cut to one channel: 29,459 in the group loop). Alone,
 * each output row's three input rows of the channel are copied into contiguous buffers with the input zero point in
 * the padding columns and rows, so that every pixel, border or not, is three word loads: per kernel row SXTB16
 * gives taps (0, 2), SXTB16 ROR 8 taps (1, 3), and one SMLAD and one SMLABB add the three products (the fourth byte
 * meets a zero weight half). The taps go in raw and the bias holds the input offset times the weight sum: a padding
 * tap, the zero point, adds (zp + offset) * w = 0, as TFLM skips it. cols: the buffers' length, (out_w - 1) *
 * stride + 3 (<= REDS_DW_LANE_MAX_COLS, checked by the caller). */
REDS_NOINLINE static void dw3x3_lane_s8(const reds_conv_dims *d, const int8_t *x, const int8_t *w, int32_t bias,
                                        const reds_requant_ch *q, int8_t *y, int32_t off, int32_t cols) {
  const int32_t C = d->in_c, in_w = d->in_w, sw = d->stride_w, pw = d->pad_w;
  const int8_t zp = (int8_t)(-off);
  /* rows at a word-aligned stride L, each with one slack byte for the word load of its last pixel */
  enum { L = (REDS_DW_LANE_MAX_COLS + 4) & ~3 };
  int8_t rows[3 * L];
  uint32_t w02[3], w1;
  int32_t sum = 0;
  for (int r = 0; r < 3; ++r) {
    const int8_t *k = w + (size_t)r * 3 * C;
    w02[r] = reds_m4_pair16(k[0], k[2 * C]);
    sum += k[0] + k[C] + k[2 * C];
  }
  w1 = reds_m4_pair16(w[C], w[4 * C]); /* kernel rows 0 and 1's middle taps; row 2's below */
  const uint32_t w1r2 = (uint32_t)w[7 * C] & 0xFFFFu;
  const int32_t bias_raw = (int32_t)((uint32_t)bias + (uint32_t)(off * sum));
  const reds_requant_ch rq = *q;
  const int32_t c0 = pw < cols ? pw : cols, c1 = pw + in_w < cols ? pw + in_w : cols; /* columns inside */
  for (int32_t b = 0; b < d->batches; ++b) {
    const int8_t *img = x + (size_t)b * d->in_h * in_w * C;
    int32_t prev = -d->in_h - 8; /* first input row of the rows buffered for the last output row: none yet */
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      const int32_t iy0 = oy * d->stride_h - d->pad_h;
      for (int32_t r = 0; r < 3; ++r) {
        int8_t *dst = rows + r * L;
        const int32_t iy = iy0 + r, held = iy - prev; /* the buffer row that holds input row iy, if < 3 */
        if (held < 3) { /* held > r: rows move up, earlier ones first */
          reds_copy_s8(dst, rows + held * L, cols + 1);
          continue;
        }
        if (iy < 0 || iy >= d->in_h) {
          reds_fill_s8(dst, zp, cols + 1);
          continue;
        }
        const int8_t *src = img + (size_t)iy * in_w * C;
        int32_t j = 0;
        for (; j < c0; ++j) {
          REDS_KEEP_LOOP(); /* one or two bytes: no memset call */
          dst[j] = zp;
        }
        for (const int8_t *s = src + (size_t)(j - pw) * C; j < c1; ++j, s += C) dst[j] = *s;
        for (; j <= cols; ++j) {
          REDS_KEEP_LOOP();
          dst[j] = zp;
        }
      }
      prev = iy0;
      int8_t *yr = y + ((size_t)b * d->out_h + oy) * d->out_w * C;
      const int8_t *p = rows;
      for (int32_t ox = 0; ox < d->out_w; ++ox, p += sw, yr += C) {
        const uint32_t r0 = reds_m4_load4(p), r1 = reds_m4_load4(p + L), r2 = reds_m4_load4(p + 2 * L);
        int32_t acc = __smlad(__sxtb16(r0), w02[0], bias_raw);
        acc = __smlabb((int32_t)reds_m4_sxtb16_ror8(r0), (int32_t)w1, acc);
        acc = __smlad(__sxtb16(r1), w02[1], acc);
        acc = __smlabt((int32_t)reds_m4_sxtb16_ror8(r1), (int32_t)w1, acc);
        acc = __smlad(__sxtb16(r2), w02[2], acc);
        acc = __smlabb((int32_t)reds_m4_sxtb16_ror8(r2), (int32_t)w1r2, acc);
        *yr = (int8_t)reds_sat_s8(reds_requant_fast(acc, &rq));
      }
    }
  }
}

/* Whether n lanes (dw3x3_lane_s8) cost less than one more group of four: a group costs about 150 instructions per
 * pixel, a lane about 45 plus, per output row, 6 per byte of the input rows it buffers anew and 60 (measured on
 * ds_cnn's 14x14 stride-1 and 7x7 stride-2 depthwise: one lane 10.7 k and 4.4 k instructions, a group 29.4 k and
 * 7.7 k). Only evaluated when a partial group is left. */
static int dw3x3_lanes_pay(const reds_conv_dims *d, int32_t n, int32_t cols) {
  const int64_t rows_out = (int64_t)d->batches * d->out_h, px = rows_out * d->out_w;
  const int64_t lane = 45 * px + rows_out * ((d->stride_h < 3 ? d->stride_h : 3) * (int64_t)(cols + 1) * 6 + 60);
  return n * lane < 150 * px;
}
#endif

/* One channel's nine taps of a 3x3 kernel, all inside, dilation 1 (channels past the last group of four: a layer cut
 * to 1..3 channels): unrolled, about 4 instructions per tap instead of the row and tap loops' 16. */
static inline int32_t dw3x3_chan_s8(const int8_t *in, const int8_t *w, int32_t C, size_t in_row_step, int32_t off,
                                    int32_t acc) {
  uint32_t a = (uint32_t)acc;
  for (int r = 0; r < 3; ++r, in += in_row_step, w += 3 * (size_t)C) {
    a += (uint32_t)(((int32_t)in[0] + off) * (int32_t)w[0]);
    a += (uint32_t)(((int32_t)in[C] + off) * (int32_t)w[C]);
    a += (uint32_t)(((int32_t)in[2 * C] + off) * (int32_t)w[2 * C]);
  }
  return (int32_t)a;
}

REDS_ALWAYS_INLINE int dwconv_s8_run(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                     const int8_t *weights, const int32_t *bias, int8_t *output, int32_t out_width,
                                     int32_t in_width, int fast) {
  if (d == NULL || rq == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width != in_width || out_width < 1 || out_width > d->out_c) return REDS_ERR_WIDTH;
  const reds_conv_dims dd = *d; /* locals: int8 output stores could alias *d and force reloads */
  const int8_t zero = (int8_t)rq->output_offset;
  const reds_requant_view v = reds_requant_view_of(rq, fast);
  const int32_t C = dd.in_c, fw = dd.filter_w, off = rq->input_offset;
  const size_t in_tap_step = (size_t)dd.dilation_w * C; /* input bytes between horizontal taps */
  const int32_t c4 = out_width & ~3;
#if defined(REDS_ARCH_CORTEX_M4)
  /* The unrolled 3x3 (one asm statement) for pixels whose taps are all inside; in plain C the row loop below is
   * as fast. */
  const int interior3x3 = dd.filter_h == 3 && fw == 3 && dd.dilation_h == 1 && dd.dilation_w == 1;
#else
  const int interior3x3 = 0;
#endif
  /* The 3x3 path: whole groups of four group-major, the 1..3 channels past them one lane each where that is
   * cheaper (else, as before, a last partial group of four where the tensor has its four channels: the extra lanes
   * land in inactive outputs, filled with the zero point below). The pixel walk does what is left. */
  int32_t c_first = 0;
#if defined(REDS_ARCH_CORTEX_M4)
  if (interior3x3 && fast && bias != NULL) {
    const int32_t cols = (dd.out_w - 1) * dd.stride_w + 3;
    const int lanes = c4 < out_width && cols <= REDS_DW_LANE_MAX_COLS && dw3x3_lanes_pay(&dd, out_width - c4, cols);
    const int32_t c_run = lanes || c4 == out_width || c4 + 4 > C ? c4 : c4 + 4;
    if (c_run > 0) dw3x3_groups_s8(&dd, input, weights, bias, v.ch, output, off, c_run);
    c_first = c_run;
    if (lanes) {
      for (int32_t c = c4; c < out_width; ++c)
        dw3x3_lane_s8(&dd, input + c, weights + c, bias[c], v.ch + c, output + c, off, cols);
      c_first = out_width;
    }
  }
#endif
  if (c_first >= out_width) { /* only the inactive channels' zero point is left */
    if (out_width < C)
      for (int32_t p = 0, n = dd.batches * dd.out_h * dd.out_w; p < n; ++p)
        reds_fill_s8(output + (size_t)p * C + out_width, zero, C - out_width);
    return REDS_OK;
  }
  for (int32_t b = 0; b < dd.batches; ++b) {
    const int8_t *in_img = input + (size_t)b * dd.in_h * dd.in_w * C;
    for (int32_t oy = 0; oy < dd.out_h; ++oy) {
      const int32_t iy0 = oy * dd.stride_h - dd.pad_h;
      int32_t fy0, fy1;
      reds_tap_range(iy0, dd.dilation_h, dd.in_h, dd.filter_h, &fy0, &fy1);
      for (int32_t ox = 0; ox < dd.out_w; ++ox) {
        const int32_t ix0 = ox * dd.stride_w - dd.pad_w;
        int32_t fx0, fx1;
        reds_tap_range(ix0, dd.dilation_w, dd.in_w, fw, &fx0, &fx1);
        const int32_t py1 = fx0 < fx1 ? fy1 : fy0; /* no valid column: no valid tap */
        const int32_t ntaps_x = fx1 - fx0;
        int8_t *out_px = output + (((size_t)b * dd.out_h + oy) * dd.out_w + ox) * C;
        /* Input and weights of the first valid tap (only read when a valid tap exists). */
        const int8_t *in0 = in_img, *w0 = weights;
        if (fy0 < py1) {
          in0 = in_img + ((size_t)(iy0 + dd.dilation_h * fy0) * dd.in_w + (size_t)(ix0 + dd.dilation_w * fx0)) * C;
          w0 = weights + ((size_t)fy0 * fw + (size_t)fx0) * C;
        }
        const size_t in_row_step = (size_t)dd.dilation_h * dd.in_w * C, w_row_step = (size_t)fw * C;
        for (int32_t c0 = c_first; c0 < c4; c0 += 4) {
          int32_t acc[4] = {reds_bias_or_zero(bias, c0), reds_bias_or_zero(bias, c0 + 1),
                            reds_bias_or_zero(bias, c0 + 2), reds_bias_or_zero(bias, c0 + 3)};
          const int8_t *in_r = in0 + c0, *w_r = w0 + c0;
          if (interior3x3 && py1 - fy0 == 3 && ntaps_x == 3) { /* every tap inside: the unrolled 3x3 */
            reds_dw3x3_s8(in_r, w_r, C, (int32_t)in_row_step, off, acc);
            reds_requant4_at(out_px + c0, acc, &v, c0);
            continue;
          }
          for (int32_t fy = fy0; fy < py1; ++fy, in_r += in_row_step, w_r += w_row_step) {
            if (ntaps_x == 3) { /* the common 3-wide row, unrolled */
              reds_mac4_chan_s8(in_r, w_r, off, acc);
              reds_mac4_chan_s8(in_r + in_tap_step, w_r + C, off, acc);
              reds_mac4_chan_s8(in_r + 2 * in_tap_step, w_r + 2 * C, off, acc);
            } else {
              const int8_t *pi = in_r, *pw = w_r;
              for (int32_t t = 0; t < ntaps_x; ++t, pi += in_tap_step, pw += C) reds_mac4_chan_s8(pi, pw, off, acc);
            }
          }
          reds_requant4_at(out_px + c0, acc, &v, c0);
        }
        for (int32_t ch = c_first > c4 ? c_first : c4; ch < out_width; ++ch) {
          int32_t acc = reds_bias_or_zero(bias, ch);
          const int8_t *in_r = in0 + ch, *w_r = w0 + ch;
          if (interior3x3 && py1 - fy0 == 3 && ntaps_x == 3) {
            acc = dw3x3_chan_s8(in_r, w_r, C, in_row_step, off, acc);
          } else {
            for (int32_t fy = fy0; fy < py1; ++fy, in_r += in_row_step, w_r += w_row_step)
              for (int32_t t = 0; t < ntaps_x; ++t)
                acc = (int32_t)((uint32_t)acc +
                                (uint32_t)(((int32_t)in_r[t * in_tap_step] + off) * (int32_t)w_r[t * C]));
          }
          out_px[ch] = reds_requant_at(acc, &v, ch);
        }
        reds_fill_s8(out_px + out_width, zero, C - out_width);
      }
    }
  }
  return REDS_OK;
}

int reds_dwconv_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
                   const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width) {
  if (reds_use_fast_requant(rq)) return dwconv_s8_run(d, rq, input, weights, bias, output, out_width, in_width, 1);
  return dwconv_s8_run(d, rq, input, weights, bias, output, out_width, in_width, 0);
}
