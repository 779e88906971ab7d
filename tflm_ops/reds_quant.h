/* Quantisation arithmetic identical to TensorFlow Lite Micro's reference kernels.
 *
 * - reds_quantize_multiplier: TFLM QuantizeMultiplier (frexp, round half away from zero, q == 2^31 fix-up,
 *   flush of shifts < -31 to zero).
 * - reds_multiply_by_quantized_multiplier: TFLM MultiplyByQuantizedMultiplier. By default the double-rounding
 *   variant (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT), which is what TFLM builds use unless
 *   TFLITE_SINGLE_ROUNDING is defined; build with -DREDS_SINGLE_ROUNDING=1 to match a TFLM built with
 *   -DTFLITE_SINGLE_ROUNDING=1.
 * - activation ranges: TFLM CalculateActivationRangeQuantized (float division, roundf) and CalculateActivationRange.
 *
 * Right shifts of negative int32/int64 values are arithmetic on every compiler this targets (gcc, clang, armcc),
 * as TFLM itself assumes. */
#ifndef REDS_QUANT_H_
#define REDS_QUANT_H_

#include <stdint.h>

#include "reds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef REDS_SINGLE_ROUNDING
#define REDS_SINGLE_ROUNDING 0
#endif

/* Fused activations, numbered as TFLite's ActivationFunctionType. */
enum { REDS_ACT_NONE = 0, REDS_ACT_RELU = 1, REDS_ACT_RELU_N1_TO_1 = 2, REDS_ACT_RELU6 = 3 };

/* real_multiplier -> (quantized_multiplier, shift) with real ~= quantized_multiplier * 2^(shift - 31). */
void reds_quantize_multiplier(double real_multiplier, int32_t *quantized_multiplier, int32_t *shift);

/* int8 output clamp range for a fused activation: [act_min, act_max] within [-128, 127].
 * REDS_ERR_VALUE for an unknown activation, REDS_ERR_QUANT if a bound overflows int32 (absurd scale). */
int reds_activation_range_s8(int activation, float output_scale, int32_t output_zero_point, int32_t *act_min,
                             int32_t *act_max);

/* float clamp range: NONE -> [-FLT_MAX, FLT_MAX], RELU -> [0, FLT_MAX], RELU_N1_TO_1 -> [-1, 1], RELU6 -> [0, 6]. */
int reds_activation_range_f32(int activation, float *act_min, float *act_max);

#if REDS_SINGLE_ROUNDING
static inline int32_t reds_multiply_by_quantized_multiplier(int32_t x, int32_t quantized_multiplier, int32_t shift) {
  const int64_t total_shift = 31 - shift;
  const int64_t round = (int64_t)1 << (total_shift - 1);
  int64_t result = (int64_t)x * (int64_t)quantized_multiplier + round;
  return (int32_t)(result >> total_shift);
}
#else
/* gemmlowp SaturatingRoundingDoublingHighMul: (a * b * 2 + 2^31) >> 32 with round-half-away-from-zero nudging,
 * saturating the single overflow case INT32_MIN * INT32_MIN. */
static inline int32_t reds_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  /* C division truncates toward zero, exactly as the C++ original. */
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero. */
static inline int32_t reds_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
  return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

static inline int32_t reds_multiply_by_quantized_multiplier(int32_t x, int32_t quantized_multiplier, int32_t shift) {
  const int32_t left_shift = shift > 0 ? shift : 0;
  const int32_t right_shift = shift > 0 ? 0 : -shift;
  /* TFLM computes x * (1 << left_shift) in int; do it in uint32 so a (pathological) overflow wraps the same way
   * instead of being undefined behaviour. */
  const int32_t shifted = (int32_t)((uint32_t)x * ((uint32_t)1 << left_shift));
  return reds_rounding_divide_by_pot(reds_srdhm(shifted, quantized_multiplier), right_shift);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* REDS_QUANT_H_ */
