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
/* The interior pixels of one output row, 3x3, dilation 1, fast requantisation, with a bias: for npx pixels (input
 * px_step bytes apart) the channel groups c < c4 through the unrolled 3x3 and straight into the requantisation.
 * Channel groups outside, pixels inside: a group's nine weight words are widened once for the row
 * (reds_dw3x3_widen_w) instead of at every pixel. Out of line: inside the op's pixel loop GCC kept the loop's values
 * on the stack and reloaded them around every group (about 90 instructions per group besides the taps). */
REDS_NOINLINE static void dw3x3_interior_s8(const int8_t *in, const int8_t *w, const int32_t *bias,
                                            const reds_requant_ch *ch, int8_t *out, int32_t C, int32_t in_row_step,
                                            int32_t px_step, int32_t out_step, int32_t off, int32_t npx, int32_t c4) {
  uint32_t wk[18];
  for (int32_t c0 = 0; c0 < c4; c0 += 4) {
    reds_dw3x3_widen_w(w + c0, C, wk);
    const int32_t b0 = bias[c0], b1 = bias[c0 + 1], b2 = bias[c0 + 2], b3 = bias[c0 + 3];
    const int8_t *px = in + c0;
    int8_t *y = out + c0;
    for (int32_t p = 0; p < npx; ++p, px += px_step, y += out_step) {
      int32_t acc[4] = {b0, b1, b2, b3};
      reds_dw3x3_wide_s8(px, wk, C, in_row_step, off, acc);
      y[0] = (int8_t)reds_sat_s8(reds_requant_fast(acc[0], &ch[c0]));
      y[1] = (int8_t)reds_sat_s8(reds_requant_fast(acc[1], &ch[c0 + 1]));
      y[2] = (int8_t)reds_sat_s8(reds_requant_fast(acc[2], &ch[c0 + 2]));
      y[3] = (int8_t)reds_sat_s8(reds_requant_fast(acc[3], &ch[c0 + 3]));
    }
  }
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
  /* Output columns [ox_a, ox_b) have all three input columns inside (3x3, dilation 1). */
  const int32_t ox_a = (dd.pad_w + dd.stride_w - 1) / dd.stride_w;
  const int32_t ox_b = dd.in_w >= 3 ? (dd.in_w - 3 + dd.pad_w) / dd.stride_w + 1 : 0;
  /* The run also takes a last partial group where the tensor has its four channels: the extra lanes land in
   * inactive outputs, which the pixel loop fills with the zero point afterwards. (A layer cut to one channel is
   * cheaper in the byte-wise loop than four lanes, their requantisation and the run's set-up.) */
  const int32_t c_run = out_width > 1 && c4 < out_width && c4 + 4 <= C ? c4 + 4 : c4;
  const int interior_run = interior3x3 && fast && bias != NULL && c_run > 0 && ox_a < ox_b && ox_b <= dd.out_w;
  for (int32_t b = 0; b < dd.batches; ++b) {
    const int8_t *in_img = input + (size_t)b * dd.in_h * dd.in_w * C;
    for (int32_t oy = 0; oy < dd.out_h; ++oy) {
      const int32_t iy0 = oy * dd.stride_h - dd.pad_h;
      int32_t fy0, fy1;
      reds_tap_range(iy0, dd.dilation_h, dd.in_h, dd.filter_h, &fy0, &fy1);
      const int run = interior_run && fy0 == 0 && fy1 == 3;
#if defined(REDS_ARCH_CORTEX_M4)
      if (run)
        dw3x3_interior_s8(in_img + ((size_t)iy0 * dd.in_w + (size_t)(ox_a * dd.stride_w - dd.pad_w)) * C, weights,
                          bias, v.ch, output + (((size_t)b * dd.out_h + oy) * dd.out_w + ox_a) * C, C,
                          dd.in_w * C, dd.stride_w * C, C, off, ox_b - ox_a, c_run);
#endif
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
        /* The interior run already did this pixel's channel groups. */
        const int32_t c_first = run && ox >= ox_a && ox < ox_b ? c_run : 0;
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
