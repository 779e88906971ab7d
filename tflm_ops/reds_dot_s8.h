/* Internal: the int8 inner loops of the REDS ops, in one place so that an architecture-specific version (e.g.
 * Cortex-M4 SIMD: SXTB16 + SMLAD) can replace them behind the same names. The result must stay bit-identical:
 * integer sums are exact, so any order of accumulation is allowed, but the value must be
 *     acc + sum_i (in[i] + input_offset) * w[i]   (32-bit wrap-around on overflow, as TFLM).
 *
 * The kernels:
 *   reds_dot_s8       one output row:   acc    += sum_{i<n} (in[i] + off) * w[i]
 *   reds_dot4_s8      four output rows: acc[r] += sum_{i<n} (in[i] + off) * w[r * w_stride + i], r < 4
 *                     (one unpacked input shared by four weight rows: FC and conv, groups of 4 output channels)
 *   reds_mac4_chan_s8 depthwise, four channels of one tap: acc[c] += (in[c] + off) * w[c], c < 4
 *   reds_mac_chan_s8  depthwise, n channels of one tap, accumulators in memory (kept for the DSP loop tests)
 *   reds_dw3x3_s8     depthwise, four channels of one pixel over all 9 taps of a 3x3 kernel, all taps inside the
 *                     input, dilation 1: tap (r, t) reads in + r * in_row_step + t * c and w + (3r + t) * c
 *   reds_widen_s8     the first n & ~3 input bytes, plus the offset, as 16-bit values in the order reds_dot2x2_s8
 *                     reads them (the arch's own order; only reds_dot2x2_s8 reads the result)
 *   reds_dot2x2_s8    two pixels times two output rows: acc[2p + r] += sum_{i<n} (x_p[i] + off) * w[r * w_stride
 *                     + i], from both pixels' widened inputs xa, xb and, for the last n % 4, their bytes ina, inb
 *                     (each weight word is loaded and widened once for two pixels)
 *   reds_widen3_s8    three pixels' first n & ~3 input bytes, plus the offset, as 16-bit values interleaved per four
 *                     inputs (12 values per four inputs, in the arch's own order; only reds_dot3x2_s8 reads them)
 *   reds_dot3x2_s8    three pixels times two output rows: acc[2p + r] += sum_{i<n} (x_p[i] + off) * w[r * w_stride
 *                     + i], from reds_widen3_s8's values and, for the last n % 4, the bytes ina, inb, inc */
#ifndef REDS_DOT_S8_H_
#define REDS_DOT_S8_H_

#include <stdint.h>

#if defined(REDS_ARCH_CORTEX_M4)
/* Provided by tflm_ops/arch/cortex_m4/: must define every kernel above with the same semantics. */
#include "arch/cortex_m4/reds_dot_s8_cortex_m4.h"
#else

/* Accumulation is done in uint32 so that wrap-around (never reached by real layers) is defined behaviour. */
static inline uint32_t reds_mac_u32(uint32_t a, int8_t in, int8_t w, int32_t input_offset) {
  return a + (uint32_t)(((int32_t)in + input_offset) * (int32_t)w);
}

static inline int32_t reds_dot_s8(const int8_t *in, const int8_t *w, int32_t n, int32_t input_offset,
                                  int32_t acc) {
  uint32_t a = (uint32_t)acc;
  for (int32_t i = 0; i < n; ++i) a = reds_mac_u32(a, in[i], w[i], input_offset);
  return (int32_t)a;
}

static inline void reds_dot4_s8(const int8_t *in, const int8_t *w, int32_t w_stride, int32_t n,
                                int32_t input_offset, int32_t acc[4]) {
  uint32_t a0 = (uint32_t)acc[0], a1 = (uint32_t)acc[1], a2 = (uint32_t)acc[2], a3 = (uint32_t)acc[3];
  const int8_t *w1 = w + w_stride, *w2 = w1 + w_stride, *w3 = w2 + w_stride;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t x = (int32_t)in[i] + input_offset;
    a0 += (uint32_t)(x * (int32_t)w[i]);
    a1 += (uint32_t)(x * (int32_t)w1[i]);
    a2 += (uint32_t)(x * (int32_t)w2[i]);
    a3 += (uint32_t)(x * (int32_t)w3[i]);
  }
  acc[0] = (int32_t)a0;
  acc[1] = (int32_t)a1;
  acc[2] = (int32_t)a2;
  acc[3] = (int32_t)a3;
}

static inline void reds_mac4_chan_s8(const int8_t *in, const int8_t *w, int32_t input_offset, int32_t acc[4]) {
  for (int32_t c = 0; c < 4; ++c) acc[c] = (int32_t)reds_mac_u32((uint32_t)acc[c], in[c], w[c], input_offset);
}

static inline void reds_mac_chan_s8(int32_t *acc, const int8_t *in, const int8_t *w, int32_t n,
                                    int32_t input_offset) {
  for (int32_t c = 0; c < n; ++c) acc[c] = (int32_t)reds_mac_u32((uint32_t)acc[c], in[c], w[c], input_offset);
}

static inline void reds_dw3x3_s8(const int8_t *in, const int8_t *w, int32_t c, int32_t in_row_step,
                                 int32_t input_offset, int32_t acc[4]) {
  for (int32_t r = 0; r < 3; ++r, in += in_row_step, w += 3 * c)
    for (int32_t t = 0; t < 3; ++t) reds_mac4_chan_s8(in + t * c, w + t * c, input_offset, acc);
}

static inline void reds_widen_s8(const int8_t *in, int32_t n, int32_t input_offset, int16_t *xw) {
  for (int32_t i = 0; i < (n & ~3); ++i) xw[i] = (int16_t)((int32_t)in[i] + input_offset);
}

static inline void reds_dot2x2_s8(const int16_t *xa, const int16_t *xb, const int8_t *ina, const int8_t *inb,
                                  const int8_t *w, int32_t w_stride, int32_t n, int32_t input_offset,
                                  int32_t acc[4]) {
  uint32_t a0 = (uint32_t)acc[0], a1 = (uint32_t)acc[1], a2 = (uint32_t)acc[2], a3 = (uint32_t)acc[3];
  const int8_t *w1 = w + w_stride;
  int32_t i = 0;
  for (; i < (n & ~3); ++i) {
    a0 += (uint32_t)(xa[i] * (int32_t)w[i]);
    a1 += (uint32_t)(xa[i] * (int32_t)w1[i]);
    a2 += (uint32_t)(xb[i] * (int32_t)w[i]);
    a3 += (uint32_t)(xb[i] * (int32_t)w1[i]);
  }
  for (; i < n; ++i) {
    a0 = reds_mac_u32(a0, ina[i], w[i], input_offset);
    a1 = reds_mac_u32(a1, ina[i], w1[i], input_offset);
    a2 = reds_mac_u32(a2, inb[i], w[i], input_offset);
    a3 = reds_mac_u32(a3, inb[i], w1[i], input_offset);
  }
  acc[0] = (int32_t)a0;
  acc[1] = (int32_t)a1;
  acc[2] = (int32_t)a2;
  acc[3] = (int32_t)a3;
}

/* Portable layout: per four inputs, pixel a's four values, then b's, then c's. */
static inline void reds_widen3_s8(const int8_t *a, const int8_t *b, const int8_t *c, int32_t n, int32_t input_offset,
                                  int16_t *xw) {
  for (int32_t i = 0; i + 4 <= n; i += 4, xw += 12)
    for (int32_t t = 0; t < 4; ++t) {
      xw[t] = (int16_t)((int32_t)a[i + t] + input_offset);
      xw[4 + t] = (int16_t)((int32_t)b[i + t] + input_offset);
      xw[8 + t] = (int16_t)((int32_t)c[i + t] + input_offset);
    }
}

static inline void reds_dot3x2_s8(const int16_t *x3, const int8_t *ina, const int8_t *inb, const int8_t *inc,
                                  const int8_t *w, int32_t w_stride, int32_t n, int32_t input_offset,
                                  int32_t acc[6]) {
  uint32_t a[6];
  for (int k = 0; k < 6; ++k) a[k] = (uint32_t)acc[k];
  const int8_t *w1 = w + w_stride;
  int32_t i = 0;
  for (; i < (n & ~3); i += 4, x3 += 12)
    for (int32_t t = 0; t < 4; ++t)
      for (int p = 0; p < 3; ++p) {
        a[2 * p] += (uint32_t)(x3[4 * p + t] * (int32_t)w[i + t]);
        a[2 * p + 1] += (uint32_t)(x3[4 * p + t] * (int32_t)w1[i + t]);
      }
  for (; i < n; ++i) {
    const int8_t *px[3] = {ina, inb, inc};
    for (int p = 0; p < 3; ++p) {
      a[2 * p] = reds_mac_u32(a[2 * p], px[p][i], w[i], input_offset);
      a[2 * p + 1] = reds_mac_u32(a[2 * p + 1], px[p][i], w1[i], input_offset);
    }
  }
  for (int k = 0; k < 6; ++k) acc[k] = (int32_t)a[k];
}

#endif /* REDS_ARCH_CORTEX_M4 */

#endif /* REDS_DOT_S8_H_ */
