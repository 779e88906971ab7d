#include <float.h>
#include <math.h>

#include "../reds_quant.h"
#include "reds_test.h"

static void test_quantize_multiplier_exact_powers(void) {
  int32_t m = -1, s = -1;
  reds_quantize_multiplier(0.5, &m, &s);
  CHECK_EQ_INT(m, 1 << 30);
  CHECK_EQ_INT(s, 0);
  reds_quantize_multiplier(1.0, &m, &s);
  CHECK_EQ_INT(m, 1 << 30);
  CHECK_EQ_INT(s, 1);
  reds_quantize_multiplier(0.75 / 1024.0, &m, &s);
  CHECK_EQ_INT(m, 3 << 29);
  CHECK_EQ_INT(s, -10);
  reds_quantize_multiplier(0.0, &m, &s);
  CHECK_EQ_INT(m, 0);
  CHECK_EQ_INT(s, 0);
}

static void test_quantize_multiplier_round_up_fixup(void) {
  /* q rounds to 2^31: TFLM halves it and bumps the shift. */
  int32_t m = 0, s = 0;
  reds_quantize_multiplier((1.0 - ldexp(1.0, -40)) * 0.125, &m, &s);
  CHECK_EQ_INT(m, 1 << 30);
  CHECK_EQ_INT(s, -2);
}

static void test_quantize_multiplier_flushes_tiny(void) {
  int32_t m = 1, s = 1;
  reds_quantize_multiplier(ldexp(1.0, -40), &m, &s);
  CHECK_EQ_INT(m, 0);
  CHECK_EQ_INT(s, 0);
  reds_quantize_multiplier(ldexp(1.0, -32), &m, &s); /* frexp exponent -31: kept */
  CHECK_EQ_INT(m, 1 << 30);
  CHECK_EQ_INT(s, -31);
}

static void test_quantize_multiplier_rounds_half_away(void) {
  /* 0.5 + 2^-32 has q * 2^31 = 2^30 + 0.5: std::round goes up. */
  int32_t m = 0, s = 0;
  reds_quantize_multiplier(0.5 + ldexp(1.0, -32), &m, &s);
  CHECK_EQ_INT(m, (1 << 30) + 1);
  CHECK_EQ_INT(s, 0);
}

#if !REDS_SINGLE_ROUNDING
static void test_srdhm_and_rounding_divide(void) {
  CHECK_EQ_INT(reds_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
  CHECK_EQ_INT(reds_srdhm(100, 1 << 30), 50);
  CHECK_EQ_INT(reds_srdhm(3, 1 << 30), 2);   /* 1.5 -> 2 */
  CHECK_EQ_INT(reds_srdhm(-3, 1 << 30), -1); /* gemmlowp nudge + truncation: -1.5 -> -1 */
  CHECK_EQ_INT(reds_rounding_divide_by_pot(5, 1), 3);
  CHECK_EQ_INT(reds_rounding_divide_by_pot(-5, 1), -3);
  CHECK_EQ_INT(reds_rounding_divide_by_pot(6, 2), 2);
  CHECK_EQ_INT(reds_rounding_divide_by_pot(-6, 2), -2);
  CHECK_EQ_INT(reds_rounding_divide_by_pot(-7, 2), -2);
  CHECK_EQ_INT(reds_rounding_divide_by_pot(7, 0), 7);
  CHECK_EQ_INT(reds_rounding_divide_by_pot(INT32_MIN, 31), -1);
}
#endif

static void test_multiply_by_quantized_multiplier(void) {
  /* 1000 * 0.75 * 2^-3 = 93.75 -> 94 */
  CHECK_EQ_INT(reds_multiply_by_quantized_multiplier(1000, 3 << 29, -3), 94);
  CHECK_EQ_INT(reds_multiply_by_quantized_multiplier(-1000, 3 << 29, -3), -94);
  /* left shifts: 7 * 0.5 * 2^2 = 14 */
  CHECK_EQ_INT(reds_multiply_by_quantized_multiplier(7, 1 << 30, 2), 14);
  CHECK_EQ_INT(reds_multiply_by_quantized_multiplier(0, 123456789, -5), 0);
}

static void test_activation_range_s8(void) {
  int32_t lo = 0, hi = 0;
  CHECK_EQ_INT(reds_activation_range_s8(REDS_ACT_NONE, 0.1f, -5, &lo, &hi), REDS_OK);
  CHECK_EQ_INT(lo, -128);
  CHECK_EQ_INT(hi, 127);
  CHECK_EQ_INT(reds_activation_range_s8(REDS_ACT_RELU, 0.1f, -5, &lo, &hi), REDS_OK);
  CHECK_EQ_INT(lo, -5);
  CHECK_EQ_INT(hi, 127);
  CHECK_EQ_INT(reds_activation_range_s8(REDS_ACT_RELU6, 0.1f, -5, &lo, &hi), REDS_OK);
  CHECK_EQ_INT(lo, -5);
  CHECK_EQ_INT(hi, 55);
  CHECK_EQ_INT(reds_activation_range_s8(REDS_ACT_RELU6, 0.01f, -5, &lo, &hi), REDS_OK);
  CHECK_EQ_INT(hi, 127);
  CHECK_EQ_INT(reds_activation_range_s8(REDS_ACT_RELU_N1_TO_1, 0.5f, 0, &lo, &hi), REDS_OK);
  CHECK_EQ_INT(lo, -2);
  CHECK_EQ_INT(hi, 2);
  CHECK_EQ_INT(reds_activation_range_s8(REDS_ACT_RELU, 0.1f, -128, &lo, &hi), REDS_OK);
  CHECK_EQ_INT(lo, -128);
  CHECK_EQ_INT(reds_activation_range_s8(7, 0.1f, 0, &lo, &hi), REDS_ERR_VALUE);
  /* A scale so small that 6 / scale overflows int32. */
  CHECK_EQ_INT(reds_activation_range_s8(REDS_ACT_RELU6, 1e-30f, 0, &lo, &hi), REDS_ERR_QUANT);
}

static void test_activation_range_f32(void) {
  float lo = 0, hi = 0;
  CHECK_EQ_INT(reds_activation_range_f32(REDS_ACT_NONE, &lo, &hi), REDS_OK);
  CHECK(lo == -FLT_MAX && hi == FLT_MAX);
  CHECK_EQ_INT(reds_activation_range_f32(REDS_ACT_RELU, &lo, &hi), REDS_OK);
  CHECK(lo == 0.0f && hi == FLT_MAX);
  CHECK_EQ_INT(reds_activation_range_f32(REDS_ACT_RELU_N1_TO_1, &lo, &hi), REDS_OK);
  CHECK(lo == -1.0f && hi == 1.0f);
  CHECK_EQ_INT(reds_activation_range_f32(REDS_ACT_RELU6, &lo, &hi), REDS_OK);
  CHECK(lo == 0.0f && hi == 6.0f);
  CHECK_EQ_INT(reds_activation_range_f32(4, &lo, &hi), REDS_ERR_VALUE);
}

const reds_test_case reds_tests_quant[] = {
    {"quantize_multiplier_exact_powers", test_quantize_multiplier_exact_powers},
    {"quantize_multiplier_round_up_fixup", test_quantize_multiplier_round_up_fixup},
    {"quantize_multiplier_flushes_tiny", test_quantize_multiplier_flushes_tiny},
    {"quantize_multiplier_rounds_half_away", test_quantize_multiplier_rounds_half_away},
#if !REDS_SINGLE_ROUNDING
    {"srdhm_and_rounding_divide", test_srdhm_and_rounding_divide},
#endif
    {"multiply_by_quantized_multiplier", test_multiply_by_quantized_multiplier},
    {"activation_range_s8", test_activation_range_s8},
    {"activation_range_f32", test_activation_range_f32},
    {NULL, NULL}};
