/* Internal helpers shared by the op files (not part of the public API). */
#ifndef REDS_OPS_INTERNAL_H_
#define REDS_OPS_INTERNAL_H_

#include <stdint.h>
#include <string.h>

#include "reds_dot_s8.h"
#include "reds_ops.h"
#include "reds_quant.h"

/* Channels handled per pass in the float depthwise kernel: the accumulators live on the stack, no scratch buffer. */
#define REDS_DW_BLOCK 32

#if defined(__GNUC__)
#define REDS_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define REDS_LIKELY(x) (x)
#endif

/* TFLM MultiplyByQuantizedMultiplier (double rounding), bit for bit, in a third of the instructions of the literal
 * form of reds_quant.h (which stays the reference in the unit tests). With P = x*m + 2^30 in 64 bits:
 * - SaturatingRoundingDoublingHighMul(x, m) is y = floor(P / 2^31): gemmlowp's nudge and truncating division give
 *   the same value for both signs (for xm < 0, trunc((xm + 1 - 2^30) / 2^31) = ceil((xm + 1 - 2^30) / 2^31) =
 *   floor((xm + 2^30) / 2^31)). Its one saturating case, x = m = INT32_MIN, needs a multiplier of INT32_MIN, which
 *   prepare never produces (QuantizeMultiplier yields 0 or [2^30, 2^31)): the code relies on m >= 0.
 * - RoundingDivideByPOT(y, e), e = -shift >= 1, round half away from zero, is floor((y + 2^(e-1) - [y<0]) / 2^e).
 *   [y<0] may be replaced by [x<0]: with m >= 0 they differ only when y = 0, where both give 0. Nested floor
 *   divisions compose, so with Y = floor((P - [x<0]*2^31) / 2^31) the result is floor((Y + 2^(e-1)) / 2^e) =
 *   ((Y >> (e-1)) + 1) >> 1. The addend 2^30 - [x<0]*2^31 is +-2^30, so Y costs one SMLAL (64-bit multiply-add)
 *   and two shifts on the M4; |Y| < 2^31 - 1, so nothing overflows. */
static inline int32_t reds_requant_mul(int32_t x, int32_t multiplier, int32_t shift) {
#if REDS_SINGLE_ROUNDING
  return reds_multiply_by_quantized_multiplier(x, multiplier, shift);
#else
  uint64_t addend = (uint64_t)1 << 30;
  if (REDS_LIKELY(shift < 0)) { /* multipliers below 1/2: nearly every layer */
    const uint32_t sign = (uint32_t)(x >> 31); /* all ones when x < 0 */
    addend = ((uint64_t)sign << 32) | ((sign & 0x80000000u) | 0x40000000u); /* +-2^30 in two's complement */
  } else {
    x = (int32_t)((uint32_t)x << shift);
  }
  /* Unsigned 64-bit arithmetic wraps exactly like the two's complement value it holds (|P| < 2^62). */
  const uint64_t p = (uint64_t)((int64_t)x * multiplier) + addend;
  const int32_t y = (int32_t)(uint32_t)(p >> 31); /* floor(P / 2^31), which fits in int32 */
  return shift < 0 ? ((y >> (-shift - 1)) + 1) >> 1 : y;
#endif
}

/* The fast form of reds_requant_mul for shift = -e < 0 (reds_requant_ch), output offset z included. With Y as
 * above, the result is floor((Y + 2^(e-1)) / 2^e); nested floor divisions compose, so it is floor((P - [x<0]*2^31
 * + 2^(30+e)) / 2^(31+e)) with P = x*m + 2^30, and adding z is adding z * 2^(31+e) inside the floor: the result
 * plus z is (x*m + round - [x<0]*2^31) >> (31+e), round = 2^30 + 2^(30+e) + z * 2^(31+e). For e <= 22 the terms
 * stay below 2^62 + 2^52 + 2^60 in magnitude, so the 64-bit sum cannot overflow; on the M4 it is two SMLALs (the
 * sign correction as [x<0] * INT32_MIN) and the result the high word shifted right by e-1. */
#define REDS_FAST_REQUANT_MAX_E 22

/* Fill c for (multiplier, shift) and output offset z; 0 (c untouched) when the fast form does not apply. */
static inline int reds_make_requant_ch(int32_t multiplier, int32_t shift, int32_t z, reds_requant_ch *c) {
  const int32_t e = -shift;
  if (e < 1 || e > REDS_FAST_REQUANT_MAX_E || multiplier < 0 || z < -128 || z > 127) return 0;
  c->multiplier = multiplier;
  c->rshift = e - 1;
  c->round = ((int64_t)1 << 30) + ((int64_t)1 << (30 + e)) + (int64_t)z * ((int64_t)1 << (31 + e));
  return 1;
}

#if defined(REDS_ARCH_CORTEX_M4)
/* reds_requant_fast_m4 and reds_sat_s8_m4: tflm_ops/arch/cortex_m4/reds_dot_s8_cortex_m4.h (via reds_dot_s8.h). */
#define reds_requant_fast reds_requant_fast_m4
#define reds_sat_s8 reds_sat_s8_m4
#else
static inline int32_t reds_requant_fast(int32_t x, const reds_requant_ch *c) {
  /* [x<0]*2^31 subtracted as a second product, [x<0] * INT32_MIN: GCC turns the literal 64-bit form into a
   * longer shift-and-carry sequence. */
  const int64_t p = (int64_t)x * c->multiplier + c->round + (int64_t)((uint32_t)x >> 31) * INT32_MIN;
  return (int32_t)(p >> 32) >> c->rshift;
}

/* Saturate to int8. */
static inline int32_t reds_sat_s8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
#endif

/* The requantisation parameters copied into locals at the start of an eval. Output stores are int8 and may alias
 * anything, so reading rq-> after each store would make the compiler reload every field for every output. `fast`
 * is a compile-time constant in each specialisation of a kernel (see reds_use_fast_requant). */
typedef struct {
  const int32_t *multiplier, *shift;
  const reds_requant_ch *ch;
  int32_t output_offset, act_min, act_max, fast;
} reds_requant_view;

static inline reds_requant_view reds_requant_view_of(const reds_requant_s8 *rq, int fast) {
  const reds_requant_view v = {rq->multiplier, rq->shift, rq->ch, rq->output_offset, rq->act_min, rq->act_max,
                               fast};
  return v;
}

/* Requantise an accumulator that already includes the bias, add the output offset, clamp. In the fast form the
 * offset is part of ch's rounding term and the clamp range is [-128, 127]: the int8 saturation. */
static inline int8_t reds_requant_at(int32_t acc, const reds_requant_view *v, int32_t ch) {
  if (v->fast) return (int8_t)reds_sat_s8(reds_requant_fast(acc, &v->ch[ch]));
  acc = reds_requant_mul(acc, v->multiplier[ch], v->shift[ch]) + v->output_offset;
  acc = acc < v->act_min ? v->act_min : acc;
  acc = acc > v->act_max ? v->act_max : acc;
  return (int8_t)acc;
}

#if !defined(REDS_ARCH_CORTEX_M4)
/* A 1x1 conv's output channels o < n for one pixel with K = 1 or 2 active inputs (x0, x1: the inputs plus the
 * input offset), fast requantisation: y[o] = sat8(requant(bias[o] + x0 * w[o * w_stride] (+ x1 * w[o * w_stride +
 * 1]), ch[o])); n >= 1. The Cortex-M4 DSP build has its own (arch/cortex_m4), the only build that calls it. */
static inline void reds_pointwise_few_s8(const int32_t *bias, const int8_t *w, int32_t w_stride,
                                         const reds_requant_ch *ch, int32_t x0, int32_t x1, int32_t k, int8_t *y,
                                         int32_t n) {
  for (int32_t o = 0; o < n; ++o, w += w_stride) {
    uint32_t acc = (uint32_t)bias[o] + (uint32_t)(x0 * (int32_t)w[0]);
    if (k > 1) acc += (uint32_t)(x1 * (int32_t)w[1]);
    y[o] = (int8_t)reds_sat_s8(reds_requant_fast((int32_t)acc, &ch[o]));
  }
}
#endif

/* Kernels are written once as an always-inlined body taking `fast`, and instantiated twice on the Cortex-M4 DSP
 * path: fast = 1 when prepare enabled the per-channel form (rq->fast), else the general form. Elsewhere only the
 * general form is built: GCC's code for the plain-C fast form is no shorter (27 vs 26 instructions per output on
 * an M4 without the DSP path), and the second copy of every kernel would cost code size for nothing. On the M4
 * the second copy costs about 8 KB of flash at -O2 (3 KB at -Os); -DREDS_NO_FAST_REQUANT keeps one copy. */
#if defined(__GNUC__)
#define REDS_ALWAYS_INLINE static inline __attribute__((always_inline))
#define REDS_NOINLINE __attribute__((noinline))
#else
#define REDS_ALWAYS_INLINE static inline
#define REDS_NOINLINE
#endif
#if defined(REDS_ARCH_CORTEX_M4) && !defined(REDS_NO_FAST_REQUANT)
#define REDS_FAST_REQUANT_BUILD 1
#else
#define REDS_FAST_REQUANT_BUILD 0
#endif

/* Which instantiation an eval runs: the fast one only where it is built and prepare enabled it. */
static inline int reds_use_fast_requant(const reds_requant_s8 *rq) {
  return REDS_FAST_REQUANT_BUILD && rq != NULL && rq->fast;
}

/* Four consecutive channels, written out so that acc[] stays in registers. */
static inline void reds_requant4_at(int8_t *out, const int32_t acc[4], const reds_requant_view *v, int32_t ch) {
  out[0] = reds_requant_at(acc[0], v, ch);
  out[1] = reds_requant_at(acc[1], v, ch + 1);
  out[2] = reds_requant_at(acc[2], v, ch + 2);
  out[3] = reds_requant_at(acc[3], v, ch + 3);
}

/* bias, requantise, add the output offset and clamp: the tail of every TFLM int8 reference kernel. */
static inline int8_t reds_requant_one(int32_t acc, const int32_t *bias, const reds_requant_s8 *rq, int32_t ch) {
  const reds_requant_view v = reds_requant_view_of(rq, 0);
  if (bias) acc = (int32_t)((uint32_t)acc + (uint32_t)bias[ch]);
  return reds_requant_at(acc, &v, ch);
}

/* Accumulators start at the bias (integer addition commutes, so adding it first gives TFLM's sum). */
static inline int32_t reds_bias_or_zero(const int32_t *bias, int32_t ch) { return bias ? bias[ch] : 0; }

#if defined(__GNUC__)
/* An empty asm statement in a loop body keeps GCC from turning the loop into a memset/memcpy call
 * (-ftree-loop-distribute-patterns): for the few bytes moved per pixel here a library call costs more than the loop,
 * and newlib-nano's versions move one byte at a time. It emits no instruction. */
#define REDS_KEEP_LOOP() __asm__("")
#else
#define REDS_KEEP_LOOP() ((void)0)
#endif

/* dst[0..n) = v (the inactive output channels of every pixel): whole words, unaligned (one STR each on the M4),
 * the last one overlapping the previous so that no byte loop is needed once n >= 4. */
static inline void reds_fill_s8(int8_t *dst, int8_t v, int32_t n) {
  const uint32_t word = 0x01010101u * (uint8_t)v;
  if (n >= 4) {
    int8_t *const last = dst + n - 4;
    for (; dst < last; dst += 4) {
      REDS_KEEP_LOOP();
      memcpy(dst, &word, 4);
    }
    memcpy(last, &word, 4);
    return;
  }
  for (; n > 0; --n) {
    REDS_KEEP_LOOP();
    *dst++ = v;
  }
}

/* dst[0..n) = src[0..n), four bytes per load/store (no alignment needed: memcpy of 4 is one LDR/STR on the M4). */
static inline void reds_copy_s8(int8_t *dst, const int8_t *src, int32_t n) {
  for (; n >= 4; n -= 4, dst += 4, src += 4) {
    uint32_t word;
    REDS_KEEP_LOOP();
    memcpy(&word, src, 4);
    memcpy(dst, &word, 4);
  }
  for (; n > 0; --n) {
    REDS_KEEP_LOOP();
    *dst++ = *src++;
  }
}

/* Valid kernel taps of one output position along one axis: f in [*lo, *hi) has 0 <= start + dilation*f < size
 * (the others are zero padding, skipped as TFLM does); *lo == *hi when none is valid. reds_conv_geometry bounds the
 * effective filter extent, so nothing here overflows int32; the divisions are one SDIV on the M4, and only border
 * pixels of dilated kernels reach them. */
static inline void reds_tap_range(int32_t start, int32_t dilation, int32_t size, int32_t filter, int32_t *lo,
                                  int32_t *hi) {
  int32_t l = 0, h = filter;
  if (start < 0) l = dilation == 1 ? -start : (dilation - 1 - start) / dilation;
  if (start + dilation * (filter - 1) >= size) {
    const int32_t room = size - start; /* taps f with dilation * f < room */
    h = room <= 0 ? 0 : (dilation == 1 ? room : (room + dilation - 1) / dilation);
  }
  if (l > filter) l = filter;
  *lo = l;
  *hi = h < l ? l : h;
}

/* TFLM ActivationFunctionWithMinMax: min(max(x, lo), hi) with std::max/std::min semantics (NaN passes). */
static inline float reds_clamp_f32(float x, const reds_act_f32 *act) {
  x = (x < act->act_min) ? act->act_min : x;
  x = (act->act_max < x) ? act->act_max : x;
  return x;
}

/* Shared int8 prepare: requantisation for out_c channels. `float_product` selects TFLM's per-tensor
 * FULLY_CONNECTED derivation (input_scale * filter_scale multiplied in float, then widened to double) instead
 * of the conv/per-channel one (all in double). */
int reds_prepare_requant_s8(int32_t out_c, const reds_quant_params_s8 *qp, int float_product, reds_requant_s8 *rq);

/* Validate FC extents (positive, element counts within int32). */
int reds_fc_dims_check(const reds_fc_dims *d);

#endif /* REDS_OPS_INTERNAL_H_ */
