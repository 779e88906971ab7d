#include "reds_quant.h"

#include <float.h>
#include <math.h>

void reds_quantize_multiplier(double real_multiplier, int32_t *quantized_multiplier, int32_t *shift) {
  if (real_multiplier == 0.0) {
    *quantized_multiplier = 0;
    *shift = 0;
    return;
  }
  int exponent = 0;
  const double q = frexp(real_multiplier, &exponent);
  /* TfLiteRound(double) is std::round: half away from zero. */
  int64_t q_fixed = (int64_t)round(q * (double)(1LL << 31));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    ++exponent;
  }
  if (exponent < -31) {
    /* TFLM flushes multipliers below ~2^-31 to zero rather than shifting by more than 31. */
    exponent = 0;
    q_fixed = 0;
  }
#if REDS_SINGLE_ROUNDING
  if (exponent > 30) {
    exponent = 30;
    q_fixed = (1LL << 31) - 1;
  }
#endif
  *quantized_multiplier = (int32_t)q_fixed;
  *shift = (int32_t)exponent;
}

/* TFLM's Quantize helper of CalculateActivationRangeQuantized: zero_point + (int32)roundf(f / scale), with the
 * division in float and an overflow check on the rounded value. */
static int quantize_bound(float scale, int32_t zero_point, float f, int32_t *q) {
  const float tmp = roundf(f / scale);
  if (!(tmp >= (float)INT32_MIN && tmp <= (float)INT32_MAX)) return REDS_ERR_QUANT;
  *q = zero_point + (int32_t)tmp;
  return REDS_OK;
}

int reds_activation_range_s8(int activation, float output_scale, int32_t output_zero_point, int32_t *act_min,
                             int32_t *act_max) {
  const int32_t qmin = -128, qmax = 127;
  int32_t lo = qmin, hi = qmax, t = 0;
  int st = REDS_OK;
  switch (activation) {
    case REDS_ACT_NONE:
      break;
    case REDS_ACT_RELU:
      st = quantize_bound(output_scale, output_zero_point, 0.0f, &t);
      lo = t > qmin ? t : qmin;
      break;
    case REDS_ACT_RELU6:
      st = quantize_bound(output_scale, output_zero_point, 0.0f, &t);
      lo = t > qmin ? t : qmin;
      if (st == REDS_OK) st = quantize_bound(output_scale, output_zero_point, 6.0f, &t);
      hi = t < qmax ? t : qmax;
      break;
    case REDS_ACT_RELU_N1_TO_1:
      st = quantize_bound(output_scale, output_zero_point, -1.0f, &t);
      lo = t > qmin ? t : qmin;
      if (st == REDS_OK) st = quantize_bound(output_scale, output_zero_point, 1.0f, &t);
      hi = t < qmax ? t : qmax;
      break;
    default:
      return REDS_ERR_VALUE;
  }
  if (st != REDS_OK) return st;
  *act_min = lo;
  *act_max = hi;
  return REDS_OK;
}

int reds_activation_range_f32(int activation, float *act_min, float *act_max) {
  switch (activation) {
    case REDS_ACT_NONE: *act_min = -FLT_MAX; *act_max = FLT_MAX; return REDS_OK;
    case REDS_ACT_RELU: *act_min = 0.0f; *act_max = FLT_MAX; return REDS_OK;
    case REDS_ACT_RELU_N1_TO_1: *act_min = -1.0f; *act_max = 1.0f; return REDS_OK;
    case REDS_ACT_RELU6: *act_min = 0.0f; *act_max = 6.0f; return REDS_OK;
    default: return REDS_ERR_VALUE;
  }
}
