/* The fast requantisation of the int8 kernels (reds_requant_mul and the requantise-offset-clamp helpers of
 * reds_ops_internal.h) against the literal TFLM double-rounding sequence (reds_multiply_by_quantized_multiplier:
 * SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), whose own values are pinned in test_quant.c.
 *
 * Inputs: accumulators at and next to INT32_MIN / INT32_MAX, 0, +-1, powers of two and their neighbours, odd
 * multiples of powers of two (the rounding ties of both steps), and random values; every shift from -31 to +30
 * (left shifts wrap in 32 bits in both forms); multipliers 0, at and just above 2^30, just below 2^31 and random in
 * [2^30, 2^31), the range QuantizeMultiplier produces. The same program runs on the host and, through
 * tests/test_m4.py, on the Cortex-M4 for the portable and the DSP build. */
#include <stdint.h>

#include "../reds_ops_internal.h"
#include "../reds_quant.h"
#include "reds_test.h"

static uint32_t rq_rng = 0x9E3779B9u;
static uint32_t rq_rand(void) {
  rq_rng ^= rq_rng << 13;
  rq_rng ^= rq_rng >> 17;
  rq_rng ^= rq_rng << 5;
  return rq_rng;
}

/* A random value of random magnitude (1..31 bits) and sign. */
static int32_t rq_any_magnitude(uint32_t r) {
  const int32_t v = (int32_t)(r >> (1u + (r & 31u) % 31u)); /* < 2^31: negating cannot overflow */
  return (r & 32u) ? -v : v;
}

/* Compares one input; prints the first few mismatches. Returns 1 on a mismatch. */
static int rq_compare(int32_t x, int32_t m, int32_t s, long *mismatches) {
  const int32_t want = reds_multiply_by_quantized_multiplier(x, m, s);
  const int32_t got = reds_requant_mul(x, m, s);
  if (want == got) return 0;
  if (*mismatches < 5)
    printf("    requant x=%ld m=%ld shift=%ld: literal %ld, fast %ld\n", (long)x, (long)m, (long)s, (long)want,
           (long)got);
  ++*mismatches;
  return 1;
}

/* Accumulator edge values: extremes, small values, 2^k and 2^k +- 1, odd multiples of 2^k (ties), both signs. */
static int32_t rq_edge_x(int i) {
  static const int32_t fixed[] = {INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, INT32_MAX, INT32_MAX - 1, INT32_MAX - 2,
                                  0, 1, -1, 2, -2, 3, -3};
  const int nfixed = (int)(sizeof fixed / sizeof fixed[0]);
  if (i < nfixed) return fixed[i];
  i -= nfixed;
  const int k = (i / 10) % 31, kind = i % 10; /* 31 exponents x 10 forms */
  const int32_t p = (int32_t)1 << k;
  switch (kind) {
    case 0: return p;
    case 1: return -p;
    case 2: return p + 1;
    case 3: return -p - 1;
    case 4: return p - 1;
    case 5: return 1 - p;
    case 6: return k < 29 ? 3 * p : p + 7;
    case 7: return k < 29 ? -3 * p : -p - 7;
    case 8: return k < 28 ? 5 * p + 1 : INT32_MAX - p;
    default: return k < 28 ? -5 * p - 1 : INT32_MIN + p;
  }
}
#define RQ_NUM_EDGE_X (13 + 31 * 10)

static const int32_t rq_edge_m[] = {0,          1 << 30, (1 << 30) + 1, (1 << 30) + 2, 3 << 29, 0x5A827999,
                                    0x7FFFFFFE, 0x7FFFFFFF};
#define RQ_NUM_EDGE_M ((int)(sizeof rq_edge_m / sizeof rq_edge_m[0]))

static void test_requant_mul_edges(void) {
  long mismatches = 0, cases = 0;
  for (int32_t s = -31; s <= 30; ++s)
    for (int mi = 0; mi < RQ_NUM_EDGE_M; ++mi)
      for (int xi = 0; xi < RQ_NUM_EDGE_X; ++xi, ++cases) rq_compare(rq_edge_x(xi), rq_edge_m[mi], s, &mismatches);
  CHECK_EQ_INT(cases, 62L * RQ_NUM_EDGE_M * RQ_NUM_EDGE_X);
  CHECK_EQ_INT(mismatches, 0);
}

static void test_requant_mul_random(void) {
  long mismatches = 0, cases = 0;
  for (int32_t s = -31; s <= 30; ++s) {
    for (int i = 0; i < 2000; ++i, ++cases) {
      const uint32_t r = rq_rand();
      int32_t x;
      switch (i & 3) {
        case 0: x = (int32_t)r; break;                          /* anywhere */
        case 1: x = rq_any_magnitude(r); break;                 /* every magnitude */
        case 2: x = (int32_t)((r >> 8) & 0xFFFFu) - 0x8000; break; /* typical accumulators */
        default: x = (int32_t)(((r >> 5) | 1u) << (r & 31u));   /* odd multiples of 2^k: ties */
      }
      /* Multipliers as QuantizeMultiplier makes them: [2^30, 2^31). */
      const int32_t m = (int32_t)(0x40000000u | (rq_rand() & 0x3FFFFFFFu));
      rq_compare(x, m, s, &mismatches);
    }
  }
  CHECK_EQ_INT(cases, 62L * 2000);
  CHECK_EQ_INT(mismatches, 0);
}

/* Hand-computed anchors, so that the fast form is also pinned independently of the literal one. */
static void test_requant_mul_values(void) {
#if !REDS_SINGLE_ROUNDING
  CHECK_EQ_INT(reds_requant_mul(1000, 3 << 29, -3), 94);   /* 1000 * 0.75 / 8 = 93.75 */
  CHECK_EQ_INT(reds_requant_mul(-1000, 3 << 29, -3), -94);
  CHECK_EQ_INT(reds_requant_mul(3, 1 << 30, -1), 1);       /* 3 * 0.5 = 1.5 -> 2 (SRDHM), 2 / 2 = 1 */
  CHECK_EQ_INT(reds_requant_mul(5, 1 << 30, -1), 2);       /* 2.5 -> 3, 3 / 2 = 1.5 -> 2 (single rounding: 1) */
  CHECK_EQ_INT(reds_requant_mul(-3, 1 << 30, 0), -1);      /* SRDHM nudge: -1.5 -> -1 */
  CHECK_EQ_INT(reds_requant_mul(7, 1 << 30, 2), 14);       /* left shift: 7 * 4 * 0.5 */
  CHECK_EQ_INT(reds_requant_mul(INT32_MAX, 0x7FFFFFFF, 0), INT32_MAX - 1);
  CHECK_EQ_INT(reds_requant_mul(INT32_MIN, 0x7FFFFFFF, -31), -1);
  CHECK_EQ_INT(reds_requant_mul(INT32_MAX, 1 << 30, -31), 1);
  CHECK_EQ_INT(reds_requant_mul(12345, 0, -5), 0);
#endif
}

/* The full tail (requantise, add the output offset, clamp) of one and four channels against the literal sequence,
 * with per-channel multipliers and shifts and clamp ranges that cut. */
static void test_requant_tail(void) {
  enum { CH = 8 };
  int32_t mult[CH], shift[CH];
  long mismatches = 0;
  for (int rep = 0; rep < 4000; ++rep) {
    for (int c = 0; c < CH; ++c) {
      mult[c] = (rq_rand() & 7u) == 0 ? 0 : (int32_t)(0x40000000u | (rq_rand() & 0x3FFFFFFFu));
      shift[c] = (int32_t)(rq_rand() % 40u) - 31; /* -31..8 */
    }
    const int32_t off = (int32_t)(rq_rand() % 256u) - 128;
    int32_t lo = (int32_t)(rq_rand() % 256u) - 128, hi = (int32_t)(rq_rand() % 256u) - 128;
    if (lo > hi) {
      const int32_t t = lo;
      lo = hi;
      hi = t;
    }
    const reds_requant_view v = {mult, shift, NULL, off, lo, hi, 0};
    int32_t acc[CH];
    for (int c = 0; c < CH; ++c) {
      const uint32_t r = rq_rand();
      acc[c] = (rep & 1) ? (int32_t)r : rq_any_magnitude(r);
    }
    int8_t got1[CH], got4[CH];
    for (int c = 0; c < CH; ++c) got1[c] = reds_requant_at(acc[c], &v, c);
    reds_requant4_at(got4, acc, &v, 0);
    reds_requant4_at(got4 + 4, acc + 4, &v, 4);
    for (int c = 0; c < CH; ++c) {
      int32_t want = reds_multiply_by_quantized_multiplier(acc[c], mult[c], shift[c]) + off;
      want = want < lo ? lo : (want > hi ? hi : want);
      if (got1[c] != want || got4[c] != want) {
        if (mismatches < 5)
          printf("    tail acc=%ld m=%ld shift=%ld off=%ld [%ld,%ld]: want %ld, one %d, four %d\n", (long)acc[c],
                 (long)mult[c], (long)shift[c], (long)off, (long)lo, (long)hi, (long)want, got1[c], got4[c]);
        ++mismatches;
      }
    }
  }
  CHECK_EQ_INT(mismatches, 0);
}

/* The per-channel fast form (reds_requant_ch, as prepare fills it) against the literal TFLM sequence: every shift
 * from -1 to -31, edge and random accumulators, multipliers 0, 2^30, 2^31-1 and random; and the fast tail
 * (saturate, lower clamp) against the literal tail with an upper bound of 127. */
static void test_requant_fast(void) {
#if !REDS_SINGLE_ROUNDING
  static const int32_t edges[] = {0, 1, -1, 2, -2, 3, -3, 127, -128, 1 << 20, -(1 << 20), INT32_MAX, INT32_MIN,
                                  INT32_MAX - 1, INT32_MIN + 1, 0x40000000, -0x40000000, 12345, -12345};
  const int32_t mults[] = {0, 1 << 30, 0x7FFFFFFF, 0x5A5A5A5A, 0x40000001};
  long mismatches = 0;
  const int32_t zs[] = {-128, 127, 0, -1};
  for (int32_t e = 1; e <= 31; ++e) {
    for (size_t mi = 0; mi < sizeof mults / sizeof mults[0] + 200; ++mi) {
      const int32_t m = mi < sizeof mults / sizeof mults[0] ? mults[mi]
                                                            : (int32_t)(0x40000000u | (rq_rand() & 0x3FFFFFFFu));
      const int32_t z = mi < 4 ? zs[mi] : (int32_t)(rq_rand() % 256u) - 128;
      reds_requant_ch c = {0, 0, 0};
      const int made = reds_make_requant_ch(m, -e, z, &c);
      CHECK_EQ_INT(made, e <= REDS_FAST_REQUANT_MAX_E); /* beyond, the offset term could overflow 64 bits */
      if (!made) continue;
      for (size_t xi = 0; xi < sizeof edges / sizeof edges[0] + 20; ++xi) {
        const uint32_t r = rq_rand();
        const int32_t x = xi < sizeof edges / sizeof edges[0] ? edges[xi] : ((xi & 1) ? (int32_t)r : rq_any_magnitude(r));
        const int32_t want = reds_multiply_by_quantized_multiplier(x, m, -e) + z;
        const int32_t got = reds_requant_fast(x, &c);
        if (got != want) {
          if (mismatches < 5) printf("    fast x=%ld m=%ld e=%ld z=%ld: want %ld got %ld\n", (long)x, (long)m,
                                     (long)e, (long)z, (long)want, (long)got);
          ++mismatches;
        }
      }
    }
  }
  enum { CH = 8 };
  int32_t mult[CH], shift[CH];
  reds_requant_ch ch[CH];
  for (int rep = 0; rep < 4000; ++rep) {
    for (int c = 0; c < CH; ++c) {
      mult[c] = (int32_t)(0x40000000u | (rq_rand() & 0x3FFFFFFFu));
      shift[c] = -1 - (int32_t)(rq_rand() % REDS_FAST_REQUANT_MAX_E);
    }
    const int32_t off = (int32_t)(rq_rand() % 256u) - 128, lo = -128; /* the fast form's clamp range */
    for (int c = 0; c < CH; ++c) CHECK(reds_make_requant_ch(mult[c], shift[c], off, &ch[c]));
    const reds_requant_view v = {mult, shift, ch, off, lo, 127, 1};
    for (int c = 0; c < CH; ++c) {
      const uint32_t r = rq_rand();
      const int32_t acc = (rep & 1) ? (int32_t)r : rq_any_magnitude(r);
      int32_t want = reds_multiply_by_quantized_multiplier(acc, mult[c], shift[c]) + off;
      want = want < lo ? lo : (want > 127 ? 127 : want);
      const int8_t got = reds_requant_at(acc, &v, c);
      if (got != want) {
        if (mismatches < 5) printf("    fast tail acc=%ld: want %ld got %d\n", (long)acc, (long)want, got);
        ++mismatches;
      }
    }
  }
  CHECK_EQ_INT(mismatches, 0);
#endif
}

/* prepare enables the fast form exactly when it is exact: clamp range [-128, 127] and every shift in -22..-1. */
static void test_requant_fast_prepare(void) {
  enum { CH = 3 };
  float scales[CH] = {0.01f, 0.02f, 0.005f};
  int32_t mult[CH], shift[CH];
  reds_requant_ch ch[CH];
  reds_quant_params_s8 qp = {0.05f, 5, scales, CH, 0, 0.1f, -128, REDS_ACT_RELU};
  reds_requant_s8 rq = {0, 0, 0, 0, mult, shift, ch, 0};
  CHECK_EQ_INT(reds_prepare_requant_s8(CH, &qp, 0, &rq), REDS_OK);
  CHECK_EQ_INT(rq.fast, 1); /* ReLU with zero point -128: act_min = -128 */
  CHECK_EQ_INT((int32_t)(ch[1].round >> (31 + ch[1].rshift + 1)), -128); /* the offset rides in the round term */
  qp.output_zero_point = -20;                                          /* ReLU now clamps at -20 */
  CHECK_EQ_INT(reds_prepare_requant_s8(CH, &qp, 0, &rq), REDS_OK);
  CHECK_EQ_INT(rq.act_min, -20);
  CHECK_EQ_INT(rq.fast, 0);
  qp.activation = REDS_ACT_NONE;
  CHECK_EQ_INT(reds_prepare_requant_s8(CH, &qp, 0, &rq), REDS_OK);
  CHECK_EQ_INT(rq.fast, 1);
  scales[2] = 1e-9f; /* multiplier about 2^-31: beyond REDS_FAST_REQUANT_MAX_E */
  CHECK_EQ_INT(reds_prepare_requant_s8(CH, &qp, 0, &rq), REDS_OK);
  CHECK(shift[2] < -REDS_FAST_REQUANT_MAX_E);
  CHECK_EQ_INT(rq.fast, 0);
  rq.ch = NULL;
  scales[2] = 0.005f;
  CHECK_EQ_INT(reds_prepare_requant_s8(CH, &qp, 0, &rq), REDS_OK);
  CHECK_EQ_INT(rq.fast, 0);
}

const reds_test_case reds_tests_requant[] = {{"requant_fast", test_requant_fast},
                                             {"requant_fast_prepare", test_requant_fast_prepare},
                                             {"requant_mul_edges", test_requant_mul_edges},
                                             {"requant_mul_random", test_requant_mul_random},
                                             {"requant_mul_values", test_requant_mul_values},
                                             {"requant_tail", test_requant_tail},
                                             {NULL, NULL}};
