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

/* Input columns a lane's row buffers hold (REDS_DW_LANE_STRIDE bytes per row, one slack byte for the last pixel's
 * word load and word-rounded); wider layers keep the groups. */
#define REDS_DW_LANE_MAX_COLS (REDS_DW_LANE_STRIDE - 4)

/* Input row iy of one channel (src: its first inside column; C bytes between pixels) into both of its slots
 * (dst and dst + 3 row strides, see dw3x3_lane_s8): n bytes, four per word store. */
static inline void lane_row_s8(int8_t *dst, const int8_t *src, int32_t C, int32_t n) {
  enum { S = 3 * REDS_DW_LANE_STRIDE };
  for (; n >= 4; n -= 4, dst += 4, src += 4 * (size_t)C) {
    const uint32_t word = (uint32_t)(uint8_t)src[0] | (uint32_t)(uint8_t)src[C] << 8 |
                          (uint32_t)(uint8_t)src[2 * C] << 16 | (uint32_t)(uint8_t)src[3 * C] << 24;
    memcpy(dst, &word, 4);
    memcpy(dst + S, &word, 4);
  }
  for (; n > 0; --n, ++dst, src += C) {
    REDS_KEEP_LOOP();
    dst[0] = dst[S] = *src;
  }
}

/* n output pixels of a lane one at a time (stride 2, or the last of an odd row), from the window's first buffer p
 * (pixels sw bytes apart) and the kernel kp of reds_dw3x3_lane_pairs_s8: per kernel row one word load, SXTB16
 * gives taps (0, 2), SXTB16 ROR 8 taps (1, 3), one SMLAD and one SMLABB add the three products (the fourth byte
 * meets no weight). Out of line: its kernel and requantisation values, hoisted, crowded the row loop's registers. */
REDS_NOINLINE static void lane_pixels_s8(const int8_t *p, int32_t n, int32_t sw, const uint32_t kp[12], int8_t *y,
                                         int32_t C) {
  enum { L = REDS_DW_LANE_STRIDE };
  reds_requant_ch rq;
  memcpy(&rq, kp + 8, sizeof rq);
  for (; n > 0; --n, p += sw, y += C) {
    const uint32_t r0 = reds_m4_load4(p), r1 = reds_m4_load4(p + L), r2 = reds_m4_load4(p + 2 * L);
    int32_t acc = __smlad(__sxtb16(r0), kp[0], (int32_t)kp[6]);
    acc = __smlabb((int32_t)reds_m4_sxtb16_ror8(r0), (int32_t)kp[1], acc);
    acc = __smlad(__sxtb16(r1), kp[2], acc);
    acc = __smlabb((int32_t)reds_m4_sxtb16_ror8(r1), (int32_t)kp[3], acc);
    acc = __smlad(__sxtb16(r2), kp[4], acc);
    acc = __smlabb((int32_t)reds_m4_sxtb16_ror8(r2), (int32_t)kp[5], acc);
    *y = (int8_t)reds_sat_s8(reds_requant_fast(acc, &rq));
  }
}

/* reds_dw3x3_lane_pairs_s8 out of line: inlined, its twelve registers pushed the row loop's values to the stack. */
REDS_NOINLINE static void lane_pairs_s8(const int8_t *p, const int8_t *end, const uint32_t kp[12], int8_t *y,
                                        int32_t C) {
  reds_dw3x3_lane_pairs_s8(p, end, kp, y, C);
}

/* One channel c of a 3x3, dilation 1 depthwise over the whole image (x, w, y point at channel c; C bytes between
 * pixels), on row buffers of that channel alone so that every pixel, border or not, is word loads: at stride 1 two
 * pixels per word and kernel row (reds_dw3x3_lane_pairs_s8, 45 instructions per pair), otherwise, and for a last
 * odd pixel, one (per kernel row SXTB16 gives taps (0, 2), SXTB16 ROR 8 taps (1, 3), and one SMLAD and one SMLABB
 * add the three products). The taps go in raw and the bias holds the input offset times the weight sum: a padding
 * tap, the zero point, adds (zp + offset) * w = 0, as TFLM skips it.
 * rows: six buffers of REDS_DW_LANE_STRIDE bytes, every byte the input zero point when the op starts (the caller
 * fills them once; padding columns are never written, so they stay so). Input row iy lives in buffers iy mod 3 and
 * iy mod 3 + 3, written once as a gathered word to both, so that the three rows of any output row are three
 * consecutive buffers (from iy0 mod 3) and nothing is copied when the window moves down. cols: the buffers' length,
 * (out_w - 1) * stride + 3 (<= REDS_DW_LANE_MAX_COLS, checked by the caller). */
REDS_NOINLINE static void dw3x3_lane_s8(const reds_conv_dims *d, const int8_t *x, const int8_t *w, int32_t bias,
                                        const reds_requant_ch *q, int8_t *y, int32_t off, int32_t cols,
                                        int8_t *rows) {
  enum { L = REDS_DW_LANE_STRIDE };
  const int32_t C = d->in_c, in_w = d->in_w, sw = d->stride_w, pw = d->pad_w;
  /* the kernel as reds_dw3x3_lane_pairs_s8 reads it: per row (k0, k2) and k1, the raw-tap bias, the requantisation */
  uint32_t kp[12] __attribute__((aligned(8)));
  int32_t sum = 0;
  for (int r = 0; r < 3; ++r) {
    const int8_t *k = w + (size_t)r * 3 * C;
    kp[2 * r] = reds_m4_pair16(k[0], k[2 * C]);
    kp[2 * r + 1] = reds_m4_pair16(k[C], 0);
    sum += k[0] + k[C] + k[2 * C];
  }
  kp[6] = (uint32_t)bias + (uint32_t)(off * sum);
  kp[7] = 0;
  memcpy(kp + 8, q, sizeof *q);
  const int32_t c0 = pw < cols ? pw : cols, c1 = pw + in_w < cols ? pw + in_w : cols; /* columns inside */
  const int32_t pairs = sw == 1 ? d->out_w & ~1 : 0; /* pixels the pair loop does per row */
  const int32_t n_in = c1 - c0, sh = d->stride_h, s_step = sh % 3;
  const int32_t s_first = (3 - d->pad_h % 3) % 3; /* the buffer of input row -pad_h (pad_h >= 0) */
  const size_t row_bytes = (size_t)in_w * C;
  for (int32_t b = 0; b < d->batches; ++b) {
    const int8_t *img = x + (size_t)b * d->in_h * row_bytes + (size_t)(c0 - pw) * C;
    /* the next input row to buffer, its buffer and source; the window's first buffer */
    int32_t have = -d->pad_h, s_have = s_first, s_win = s_first;
    const int8_t *src = img + (ptrdiff_t)have * (ptrdiff_t)row_bytes;
    int8_t *yr = y + (size_t)b * d->out_h * d->out_w * C;
    for (int32_t oy = 0, iy_end = 3 - d->pad_h; oy < d->out_h; ++oy, iy_end += sh) {
      for (; have < iy_end; ++have, src += row_bytes, s_have = s_have == 2 ? 0 : s_have + 1) {
        int8_t *dst = rows + s_have * L + c0;
        if ((uint32_t)have < (uint32_t)d->in_h) {
          lane_row_s8(dst, src, C, n_in);
        } else { /* a padding row: the zero point where the last channel or row left data */
          reds_fill_s8(dst, (int8_t)(-off), n_in);
          reds_fill_s8(dst + 3 * L, (int8_t)(-off), n_in);
        }
      }
      const int8_t *p = rows + s_win * L;
      s_win += s_step;
      if (s_win >= 3) s_win -= 3;
      if (pairs > 0) lane_pairs_s8(p, p + pairs, kp, yr, C);
      p += pairs; /* pairs > 0: stride 1 */
      yr += (size_t)pairs * C;
      if (pairs < d->out_w) {
        lane_pixels_s8(p, d->out_w - pairs, sw, kp, yr, C);
        yr += (size_t)(d->out_w - pairs) * C;
      }
    }
  }
}

/* Channels c0..c1-1 as lanes, with their row buffers (816 bytes of stack, only on this path). */
REDS_NOINLINE static void dw3x3_lanes_s8(const reds_conv_dims *d, const int8_t *input, const int8_t *w,
                                         const int32_t *bias, const reds_requant_ch *ch, int8_t *output, int32_t off,
                                         int32_t cols, int32_t c0, int32_t c1) {
  int8_t rows[6 * REDS_DW_LANE_STRIDE] __attribute__((aligned(4)));
  reds_fill_s8(rows, (int8_t)(-off), (int32_t)sizeof rows);
  for (int32_t c = c0; c < c1; ++c) dw3x3_lane_s8(d, input + c, w + c, bias[c], ch + c, output + c, off, cols, rows);
}

/* Whether, at stride 1, every channel as a lane costs less than the groups of four: per output row a lane costs
 * about 100 instructions of bookkeeping, 4 per input byte it buffers and 45 per pixel pair (one pixel alone about
 * 40), against about 37 per pixel and channel in a group with its border pixels (measured on 14x14 layers: 432,601
 * instructions for 64 lanes, 470,447 for 16 groups). Rows of 7 pixels stay with the groups, rows of 14 go by lanes. */
static int dw3x3_lanes_s1_pay(const reds_conv_dims *d, int32_t cols) {
  const int32_t w = d->out_w;
  return 100 + 4 * cols * d->stride_h + 45 * (w >> 1) + 40 * (w & 1) < 37 * w;
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
    const int fits = cols <= REDS_DW_LANE_MAX_COLS;
    /* the channels from c_lane on go by lanes: all of them at stride 1 on wide enough rows, else those past the
     * last group where that is cheaper */
    const int32_t c_lane = fits && dd.stride_w == 1 && dw3x3_lanes_s1_pay(&dd, cols) ? 0
                           : fits && c4 < out_width && dw3x3_lanes_pay(&dd, out_width - c4, cols) ? c4
                                                                                                    : out_width;
    const int lanes = c_lane < out_width;
    const int32_t c_run = lanes ? c_lane : c4 == out_width || c4 + 4 > C ? c4 : c4 + 4;
    if (c_run > 0) dw3x3_groups_s8(&dd, input, weights, bias, v.ch, output, off, c_run);
    c_first = c_run;
    if (lanes) {
      dw3x3_lanes_s8(&dd, input, weights, bias, v.ch, output, off, cols, c_lane, out_width);
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
