/* Internal: the int8 inner loops of the REDS ops, in one place so that an architecture-specific version (e.g.
 * Cortex-M4 SIMD: SXTB16 + SMLAD) can replace them behind the same names. The result must stay bit-identical:
 * integer sums are exact, so any order of accumulation is allowed, but the value must be
 *     acc + sum_i (in[i] + input_offset) * w[i]   (32-bit wrap-around on overflow, as TFLM). */
#ifndef REDS_DOT_S8_H_
#define REDS_DOT_S8_H_

#include <stdint.h>

#if defined(REDS_ARCH_CORTEX_M4)
/* Provided by tflm_ops/arch/cortex_m4/: must define reds_dot_s8() and reds_mac_chan_s8() with the semantics below. */
#include "arch/cortex_m4/reds_dot_s8_cortex_m4.h"
#else

/* acc + sum_{i<n} (in[i] + input_offset) * w[i], over contiguous input channels. */
static inline int32_t reds_dot_s8(const int8_t *in, const int8_t *w, int32_t n, int32_t input_offset,
                                  int32_t acc) {
  /* Accumulate in uint32 so that wrap-around (never reached by real layers) is defined behaviour. */
  uint32_t a = (uint32_t)acc;
  for (int32_t i = 0; i < n; ++i) a += (uint32_t)(((int32_t)in[i] + input_offset) * (int32_t)w[i]);
  return (int32_t)a;
}

/* Per-channel multiply-accumulate for depthwise: acc[c] += (in[c] + input_offset) * w[c] for c < n. */
static inline void reds_mac_chan_s8(int32_t *acc, const int8_t *in, const int8_t *w, int32_t n,
                                    int32_t input_offset) {
  for (int32_t c = 0; c < n; ++c)
    acc[c] = (int32_t)((uint32_t)acc[c] + (uint32_t)(((int32_t)in[c] + input_offset) * (int32_t)w[c]));
}

#endif /* REDS_ARCH_CORTEX_M4 */

#endif /* REDS_DOT_S8_H_ */
