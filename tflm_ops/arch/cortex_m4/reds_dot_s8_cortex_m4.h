/* Cortex-M4 (ARMv7E-M DSP extension) int8 inner loops of the REDS ops, behind the names of tflm_ops/reds_dot_s8.h.
 *
 * Four int8 inputs and four int8 weights are read with one 32-bit load each and widened to two pairs of 16-bit
 * lanes: SXTB16 takes bytes 0 and 2, SXTB16 with ROR #8 takes bytes 1 and 3 (SXTAB16 also adds the input offset to
 * both lanes in the same instruction: in + offset lies in [-255, 255], so a 16-bit lane holds it exactly). One
 * SMLAD then adds two products to the accumulator, so a dot product costs one SMLAD per two MACs. Byte pairs (0,2)
 * and (1,3) of the inputs meet the same pairs of the weights, so the sum is the portable one term for term; integer
 * addition is exact, hence the result is bit-identical to the portable loop, including 32-bit wrap-around (SMLAD
 * and SMLAxy wrap the same way; they only set the sticky Q flag, which nothing reads).
 *
 * GCC 12 does not fold a rotate into SXTB16/SXTAB16, so the rotated forms are written as one-instruction inline
 * assembly (not volatile: the compiler may still schedule, merge or drop them). Loads go through memcpy, which GCC
 * turns into a single LDR (ARMv7-M allows unaligned LDR). */
#ifndef REDS_DOT_S8_CORTEX_M4_H_
#define REDS_DOT_S8_CORTEX_M4_H_

#if !defined(__ARM_FEATURE_DSP) || !defined(__ARM_FEATURE_SIMD32)
#error "REDS_ARCH_CORTEX_M4 needs the ARMv7E-M DSP extension (e.g. -mcpu=cortex-m4 or cortex-m7)"
#endif

#include <arm_acle.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reds_ops.h" /* reds_requant_ch */

static inline uint32_t reds_m4_load4(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Two int16 lanes (GCC emits one PKHBT; its arm_acle.h has no intrinsic for it). */
static inline uint32_t reds_m4_pair16(int32_t lo, int32_t hi) {
  return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

/* Bytes 1 and 3 of x, sign-extended into the two 16-bit lanes. */
static inline uint32_t reds_m4_sxtb16_ror8(uint32_t x) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}

/* Lanes of a plus bytes 1 and 3 of x, sign-extended. */
static inline uint32_t reds_m4_sxtab16_ror8(uint32_t a, uint32_t x) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}

/* The input offset in both 16-bit lanes. */
static inline uint32_t reds_m4_offset2(int32_t input_offset) {
  const uint32_t lo = (uint32_t)input_offset & 0xFFFFu;
  return lo | (lo << 16);
}

/* Two SMLADs: acc + sum over the 4 bytes of x (plus offset) times the 4 bytes of w. */
static inline int32_t reds_m4_mac4(uint32_t x, uint32_t w, uint32_t off2, int32_t acc) {
  const uint32_t x02 = __sxtab16(off2, x);
  const uint32_t x13 = reds_m4_sxtab16_ror8(off2, x);
  const uint32_t w02 = __sxtb16(w);
  const uint32_t w13 = reds_m4_sxtb16_ror8(w);
  acc = __smlad(x02, w02, acc);
  return __smlad(x13, w13, acc);
}

/* acc + sum_{i<n} (in[i] + input_offset) * w[i]. Four per iteration with post-incremented pointers: the loop is
 * 10 instructions per 4 MACs and its set-up stays small, which matters because the ops call this once per
 * (pixel, output channel, kernel tap) with n = the active input width, often only 8..32. */
static inline int32_t reds_dot_s8(const int8_t *in, const int8_t *w, int32_t n, int32_t input_offset,
                                  int32_t acc) {
  if (n >= 4) {
    const uint32_t off2 = reds_m4_offset2(input_offset);
    do {
      acc = reds_m4_mac4(reds_m4_load4(in), reds_m4_load4(w), off2, acc);
      in += 4;
      w += 4;
      n -= 4;
    } while (n >= 4);
  }
  uint32_t a = (uint32_t)acc;
  for (; n > 0; --n) a += (uint32_t)(((int32_t)*in++ + input_offset) * (int32_t)*w++);
  return (int32_t)a;
}

/* acc[r] += sum_{i<n} (in[i] + input_offset) * w[r * w_stride + i] for the four rows r < 4. Each input word is
 * loaded and widened once for four weight rows: per 16 MACs 5 loads, 10 extends, 8 SMLADs and the loop's compare
 * and branch, 25 instructions. Rows 1 and 2 are addressed from row 0's pointer with a register offset (w_stride,
 * and w_stride LSL #1), row 3 has its own pointer. That takes all 14 allocatable registers, more than GCC 12 keeps
 * in registers when the same loop is written with intrinsics (it spilled the stride, the offset and one accumulator,
 * 32 instructions per 16 MACs), hence the loop is one asm statement; the remainder of n % 4 is plain C. */
static inline void reds_dot4_s8(const int8_t *in, const int8_t *w, int32_t w_stride, int32_t n,
                                int32_t input_offset, int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const int8_t *w3 = w + 3 * w_stride;
  if (n >= 4) {
    const uint32_t off2 = reds_m4_offset2(input_offset);
    const int8_t *const end = in + (n & ~3);
    uint32_t x, xh, k, kh;
    int32_t stride = w_stride;
    /* Opaque copies: without them GCC's induction-variable rewriting and loop-invariant motion can hand the loop
     * operands over as related expressions that it then cannot fit into the 14 registers ("impossible
     * constraints" at -O2, e.g. when the caller keeps `in` fixed over a loop of channel groups). */
    uint32_t off2r = off2;
    const int8_t *endr = end;
    __asm__("" : "+r"(in), "+r"(w), "+r"(w3), "+r"(stride), "+r"(off2r), "+r"(endr));
    __asm__(
        "1:\n\t"
        "ldr     %[x], [%[in]], #4\n\t"
        "ldr     %[k], [%[w], %[s]]\n\t"
        "sxtab16 %[xh], %[off2], %[x], ror #8\n\t"
        "sxtab16 %[x], %[off2], %[x]\n\t"
        "sxtb16  %[kh], %[k], ror #8\n\t"
        "sxtb16  %[k], %[k]\n\t"
        "smlad   %[a1], %[x], %[k], %[a1]\n\t"
        "smlad   %[a1], %[xh], %[kh], %[a1]\n\t"
        "ldr     %[k], [%[w], %[s], lsl #1]\n\t"
        "sxtb16  %[kh], %[k], ror #8\n\t"
        "sxtb16  %[k], %[k]\n\t"
        "smlad   %[a2], %[x], %[k], %[a2]\n\t"
        "smlad   %[a2], %[xh], %[kh], %[a2]\n\t"
        "ldr     %[k], [%[w3]], #4\n\t"
        "sxtb16  %[kh], %[k], ror #8\n\t"
        "sxtb16  %[k], %[k]\n\t"
        "smlad   %[a3], %[x], %[k], %[a3]\n\t"
        "smlad   %[a3], %[xh], %[kh], %[a3]\n\t"
        "ldr     %[k], [%[w]], #4\n\t"
        "sxtb16  %[kh], %[k], ror #8\n\t"
        "sxtb16  %[k], %[k]\n\t"
        "smlad   %[a0], %[x], %[k], %[a0]\n\t"
        "smlad   %[a0], %[xh], %[kh], %[a0]\n\t"
        "cmp     %[in], %[end]\n\t"
        "bne     1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [in] "+r"(in), [w] "+r"(w), [w3] "+r"(w3),
          [x] "=&r"(x), [xh] "=&r"(xh), [k] "=&r"(k), [kh] "=&r"(kh)
        : [end] "r"(endr), [s] "r"(stride), [off2] "r"(off2r)
        : "cc", "memory");
  }
  for (n &= 3; n > 0; --n, ++in, ++w, ++w3) {
    const int32_t x = (int32_t)*in + input_offset;
    a0 = (int32_t)((uint32_t)a0 + (uint32_t)(x * (int32_t)w[0]));
    a1 = (int32_t)((uint32_t)a1 + (uint32_t)(x * (int32_t)w[w_stride]));
    a2 = (int32_t)((uint32_t)a2 + (uint32_t)(x * (int32_t)w[2 * w_stride]));
    a3 = (int32_t)((uint32_t)a3 + (uint32_t)(x * (int32_t)w3[0]));
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* Depthwise, one tap of four channels: acc[c] += (in[c] + input_offset) * w[c]. Channels do not mix, so SMLAD's
 * pairwise sum does not apply: one SMLABB/SMLATT per MAC on the widened lanes, 10 instructions per 4 MACs with the
 * two loads. Inlined into the op's tap loop, acc stays in registers. */
static inline void reds_mac4_chan_s8(const int8_t *in, const int8_t *w, int32_t input_offset, int32_t acc[4]) {
  const uint32_t off2 = reds_m4_offset2(input_offset);
  const uint32_t x = reds_m4_load4(in), k = reds_m4_load4(w);
  const uint32_t x02 = __sxtab16(off2, x), x13 = reds_m4_sxtab16_ror8(off2, x);
  const uint32_t w02 = __sxtb16(k), w13 = reds_m4_sxtb16_ror8(k);
  acc[0] = __smlabb((int32_t)x02, (int32_t)w02, acc[0]);
  acc[1] = __smlabb((int32_t)x13, (int32_t)w13, acc[1]);
  acc[2] = __smlatt((int32_t)x02, (int32_t)w02, acc[2]);
  acc[3] = __smlatt((int32_t)x13, (int32_t)w13, acc[3]);
}

/* Depthwise: acc[c] += (in[c] + input_offset) * w[c] for c < n. Channels do not mix, so SMLAD's pairwise sum does
 * not apply; the widened lanes feed one SMLABB/SMLATT per MAC instead, still saving the byte loads and offset adds
 * of the portable loop. */
static inline void reds_mac_chan_s8(int32_t *acc, const int8_t *in, const int8_t *w, int32_t n,
                                    int32_t input_offset) {
  const uint32_t off2 = reds_m4_offset2(input_offset);
  int32_t c = 0;
  for (; c + 4 <= n; c += 4) {
    const uint32_t x = reds_m4_load4(in + c), k = reds_m4_load4(w + c);
    const uint32_t x02 = __sxtab16(off2, x), x13 = reds_m4_sxtab16_ror8(off2, x);
    const uint32_t w02 = __sxtb16(k), w13 = reds_m4_sxtb16_ror8(k);
    acc[c] = __smlabb((int32_t)x02, (int32_t)w02, acc[c]);
    acc[c + 1] = __smlabb((int32_t)x13, (int32_t)w13, acc[c + 1]);
    acc[c + 2] = __smlatt((int32_t)x02, (int32_t)w02, acc[c + 2]);
    acc[c + 3] = __smlatt((int32_t)x13, (int32_t)w13, acc[c + 3]);
  }
  for (; c < n; ++c)
    acc[c] = (int32_t)((uint32_t)acc[c] + (uint32_t)(((int32_t)in[c] + input_offset) * (int32_t)w[c]));
}

/* Depthwise 3x3, one pixel, four channels, every tap inside the input, dilation 1 (see reds_dot_s8.h). One asm
 * statement: the 9 taps unrolled, each two loads, four extends and four SMLABB/SMLATT, plus two pointer steps. The
 * weights of consecutive taps are c bytes apart, also from one kernel row to the next (3 taps of c bytes); the
 * input steps c within a row and in_row_step - 2c to the next. 13 registers. Written in C, GCC spilled the tap
 * loop's pointers and accumulators (about 18 instructions per tap instead of 12). Always inlined: as a call
 * (GCC declined to inline it) the accumulators went through memory and nine registers were saved and restored per
 * group of four channels (depthwise ops 6 % slower). */
#define REDS_M4_DW_TAP                                  \
  "ldr     %[x], [%[in]]\n\t"                           \
  "ldr     %[k], [%[w]]\n\t"                            \
  "sxtab16 %[xh], %[off2], %[x], ror #8\n\t"            \
  "sxtab16 %[x], %[off2], %[x]\n\t"                     \
  "sxtb16  %[kh], %[k], ror #8\n\t"                     \
  "sxtb16  %[k], %[k]\n\t"                              \
  "smlabb  %[a0], %[x], %[k], %[a0]\n\t"                \
  "smlabb  %[a1], %[xh], %[kh], %[a1]\n\t"              \
  "smlatt  %[a2], %[x], %[k], %[a2]\n\t"                \
  "smlatt  %[a3], %[xh], %[kh], %[a3]\n\t"              \
  "add     %[w], %[w], %[c]\n\t"

static inline __attribute__((always_inline)) void reds_dw3x3_s8(const int8_t *in, const int8_t *w, int32_t c,
                                                                int32_t in_row_step, int32_t input_offset,
                                                                int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  uint32_t off2 = reds_m4_offset2(input_offset);
  int32_t row_gap = in_row_step - 2 * c, cr = c;
  uint32_t x, xh, k, kh;
  __asm__("" : "+r"(in), "+r"(w), "+r"(cr), "+r"(row_gap), "+r"(off2)); /* opaque: see reds_dot4_s8 */
  __asm__(REDS_M4_DW_TAP "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAP "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAP "add     %[in], %[in], %[g]\n\t"
          REDS_M4_DW_TAP "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAP "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAP "add     %[in], %[in], %[g]\n\t"
          REDS_M4_DW_TAP "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAP "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAP
          : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [in] "+r"(in), [w] "+r"(w),
            [x] "=&r"(x), [xh] "=&r"(xh), [k] "=&r"(k), [kh] "=&r"(kh)
          : [c] "r"(cr), [g] "r"(row_gap), [off2] "r"(off2)
          : "memory");
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#undef REDS_M4_DW_TAP

/* The nine weight words of a 3x3 depthwise kernel for four channels (tap t at w + t * c), widened once for a run
 * of pixels: wk[2t] = bytes 0 and 2, wk[2t + 1] = bytes 1 and 3 of tap t, as 16-bit lanes. */
static inline void reds_dw3x3_widen_w(const int8_t *w, int32_t c, uint32_t wk[18]) {
  for (int32_t t = 0; t < 9; ++t, w += c) {
    const uint32_t k = reds_m4_load4(w);
    wk[2 * t] = __sxtb16(k);
    wk[2 * t + 1] = reds_m4_sxtb16_ror8(k);
  }
}

/* reds_dw3x3_s8 with the weights pre-widened (reds_dw3x3_widen_w): per tap one input load, two extends with the
 * offset, one LDRD of the widened weight pair at a fixed offset and four SMLABB/SMLATT, 9 instructions with the
 * input step, against 12 when every pixel widens the weights again. 13 registers, one asm statement. */
#define REDS_M4_DW_TAPW(T)                              \
  "ldr     %[x], [%[in]]\n\t"                           \
  "ldrd    %[k], %[kh], [%[wk], #" #T "]\n\t"           \
  "sxtab16 %[xh], %[off2], %[x], ror #8\n\t"            \
  "sxtab16 %[x], %[off2], %[x]\n\t"                     \
  "smlabb  %[a0], %[x], %[k], %[a0]\n\t"                \
  "smlabb  %[a1], %[xh], %[kh], %[a1]\n\t"              \
  "smlatt  %[a2], %[x], %[k], %[a2]\n\t"                \
  "smlatt  %[a3], %[xh], %[kh], %[a3]\n\t"

static inline __attribute__((always_inline)) void reds_dw3x3_wide_s8(const int8_t *in, const uint32_t wk[18],
                                                                     int32_t c, int32_t in_row_step,
                                                                     int32_t input_offset, int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  uint32_t off2 = reds_m4_offset2(input_offset);
  int32_t row_gap = in_row_step - 2 * c, cr = c;
  const uint32_t *wp = wk;
  uint32_t x, xh, k, kh;
  __asm__("" : "+r"(in), "+r"(wp), "+r"(cr), "+r"(row_gap), "+r"(off2)); /* opaque: see reds_dot4_s8 */
  __asm__(REDS_M4_DW_TAPW(0) "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAPW(8) "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAPW(16) "add     %[in], %[in], %[g]\n\t"
          REDS_M4_DW_TAPW(24) "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAPW(32) "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAPW(40) "add     %[in], %[in], %[g]\n\t"
          REDS_M4_DW_TAPW(48) "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAPW(56) "add     %[in], %[in], %[c]\n\t"
          REDS_M4_DW_TAPW(64)
          : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [in] "+r"(in), [x] "=&r"(x),
            [xh] "=&r"(xh), [k] "=&r"(k), [kh] "=&r"(kh)
          : [wk] "r"(wp), [c] "r"(cr), [g] "r"(row_gap), [off2] "r"(off2)
          : "memory");
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#undef REDS_M4_DW_TAPW

/* reds_requant_fast_m4 in asm for the loops below that keep 0x80000000 in a register (MN): accumulator ACC times
 * the multiplier M added to the round already in (LO, HI), minus 2^31 when ACC < 0, the high word shifted right by
 * SH and saturated to int8, left in HI (ACC is clobbered). REDS_M4_REQUANT_SAT (further down) is the same without
 * the MN register, one instruction longer. */
#define REDS_M4_REQUANT_MN(ACC, LO, HI, M, SH, MN)                     \
  "smlal   %[" #LO "], %[" #HI "], %[" #ACC "], %[" #M "]\n\t"        \
  "lsr     %[" #ACC "], %[" #ACC "], #31\n\t"                         \
  "smlal   %[" #LO "], %[" #HI "], %[" #ACC "], %[" #MN "]\n\t"       \
  "asr     %[" #HI "], %[" #HI "], %[" #SH "]\n\t"                    \
  "ssat    %[" #HI "], #8, %[" #HI "]\n\t"

/* One channel of a 3x3, stride-1 depthwise over pairs of output pixels, read from three row buffers of that channel
 * alone (rows `row_stride` bytes apart, raw int8 taps, padding columns holding the input zero point): the word at
 * column j holds taps j..j+3; SXTB16 gives (x0, x2), SXTB16 ROR 8 (x1, x3), so per kernel row with k = (k0, k2)
 * and k1, pixel j gets SMLAD((x0, x2), k) + x1 * k1 and pixel j + 1 SMLAD((x1, x3), k) + x2 * k1: one load, two
 * extends, one LDRD and four multiplies per row for two outputs. Then both outputs' fast requantisation and stores
 * (y, y + c), in the same statement so that nothing is spilled: 45 instructions per pair against about 150 per
 * pixel for a group of four channels. kp (8-byte aligned): kp[2r], kp[2r + 1] = (k0, k2) and k1 of kernel row r,
 * kp[6] the bias with the input offset times the weight sum folded in (a padding tap, the zero point, then adds
 * (zp + offset) * w = 0), kp[8..11] the channel's reds_requant_ch (round, multiplier, rshift). Runs the pairs
 * at columns p, p + 2, ... before end (end - p even, > 0). */
#define REDS_M4_LANE_ROW(OFF)                           \
  "ldr     %[x], [%[p], #" #OFF "]\n\t"                 \
  "sxtb16  %[xo], %[x], ror #8\n\t"                     \
  "sxtb16  %[x], %[x]\n\t"                              \
  "smlad   %[a0], %[x], %[wa], %[a0]\n\t"               \
  "smlabb  %[a0], %[xo], %[wb], %[a0]\n\t"              \
  "smlad   %[a1], %[xo], %[wa], %[a1]\n\t"              \
  "smlatb  %[a1], %[x], %[wb], %[a1]\n\t"
#define REDS_M4_LANE_OUT(A, DST)                        \
  "ldrd    %[x], %[xo], [%[k], #32]\n\t"                \
  REDS_M4_REQUANT_MN(A, x, xo, wa, wb, mn)              \
  "strb    %[xo], " DST "\n\t"
/* Bytes between a lane's row buffers; the asm below has 1 and 2 strides as immediates (136, 272). */
#define REDS_DW_LANE_STRIDE 136
static inline void reds_dw3x3_lane_pairs_s8(const int8_t *p, const int8_t *end, const uint32_t *kp, int8_t *y,
                                            int32_t c) {
  int32_t a0, a1;
  uint32_t x, xo, wa, wb;
  const uint32_t mn = 0x80000000u;
  __asm__("" : "+r"(p), "+r"(y)); /* opaque: see reds_dot4_s8 */
  /* volatile: its only effect is the stores */
  __asm__ volatile("1:\n\t"
          "ldr     %[a0], [%[k], #24]\n\t"
          "ldrd    %[wa], %[wb], [%[k]]\n\t"
          "mov     %[a1], %[a0]\n\t"
          REDS_M4_LANE_ROW(0)
          "ldrd    %[wa], %[wb], [%[k], #8]\n\t"
          REDS_M4_LANE_ROW(136)
          "ldrd    %[wa], %[wb], [%[k], #16]\n\t"
          REDS_M4_LANE_ROW(272)
          "ldrd    %[wa], %[wb], [%[k], #40]\n\t"
          REDS_M4_LANE_OUT(a0, "[%[y]]")
          REDS_M4_LANE_OUT(a1, "[%[y], %[c]]")
          "add     %[y], %[y], %[c], lsl #1\n\t"
          "adds    %[p], %[p], #2\n\t"
          "cmp     %[p], %[end]\n\t"
          "bne     1b\n\t"
          : [p] "+r"(p), [y] "+r"(y), [a0] "=&r"(a0), [a1] "=&r"(a1), [x] "=&r"(x), [xo] "=&r"(xo),
            [wa] "=&r"(wa), [wb] "=&r"(wb)
          : [k] "r"(kp), [c] "r"(c), [end] "r"(end), [mn] "r"(mn)
          : "cc", "memory");
}
#undef REDS_M4_LANE_ROW
#undef REDS_M4_LANE_OUT


/* Widened input for reds_dot2x2_s8: per four bytes x0..x3 two words, SXTAB16 of the offset with bytes (0, 2) and
 * with bytes (1, 3), i.e. the 16-bit values x0, x2, x1, x3 (+ offset): the pairs SMLAD multiplies with the
 * SXTB16 halves of a weight word. */
static inline void reds_widen_s8(const int8_t *in, int32_t n, int32_t input_offset, int16_t *xw) {
  const uint32_t off2 = reds_m4_offset2(input_offset);
  for (int32_t i = 0; i + 4 <= n; i += 4, xw += 4) {
    const uint32_t x = reds_m4_load4(in + i);
    const uint32_t pair[2] = {__sxtab16(off2, x), reds_m4_sxtab16_ror8(off2, x)};
    memcpy(xw, pair, sizeof pair); /* one STRD or two STRs; memcpy keeps the int16 buffer's type rules */
  }
}

/* Fragments of the pixel-block loops below (reds_dot2x2_s8, reds_dot3x2_s8), which name their operands alike: the
 * two weight rows' next word loaded and widened (row 1 at [w + s], row 0 post-incremented), and one pixel's two
 * widened input words, pointer P, into that pixel's accumulators A0 (row 0) and A1 (row 1). */
#define REDS_M4_ROWS2_WIDEN                             \
  "ldr     %[k1], [%[w], %[s]]\n\t"                     \
  "sxtb16  %[k1h], %[k1], ror #8\n\t"                   \
  "sxtb16  %[k1], %[k1]\n\t"                            \
  "ldr     %[k0], [%[w]], #4\n\t"                       \
  "sxtb16  %[k0h], %[k0], ror #8\n\t"                   \
  "sxtb16  %[k0], %[k0]\n\t"
#define REDS_M4_PIXEL_ROWS2(P, A0, A1)                                 \
  "ldr     %[x], [%[" #P "]], #4\n\t"                                 \
  "smlad   %[" #A0 "], %[x], %[k0], %[" #A0 "]\n\t"                   \
  "smlad   %[" #A1 "], %[x], %[k1], %[" #A1 "]\n\t"                   \
  "ldr     %[x], [%[" #P "]], #4\n\t"                                 \
  "smlad   %[" #A0 "], %[x], %[k0h], %[" #A0 "]\n\t"                  \
  "smlad   %[" #A1 "], %[x], %[k1h], %[" #A1 "]\n\t"

/* Two pixels times two weight rows. Per four input bytes: each row's weight word loaded and widened once (3
 * instructions) and shared by both pixels, the pixels' inputs read already widened (4 loads), 8 SMLADs and the
 * loop's compare and branch: 20 instructions per 16 MACs, against 25 in reds_dot4_s8, which widens one pixel's
 * input once for four rows but every weight word for one pixel only. 14 registers, so one asm statement (see
 * reds_dot4_s8). The last n % 4 products are plain C on the bytes. */
static inline void reds_dot2x2_s8(const int16_t *xa, const int16_t *xb, const int8_t *ina, const int8_t *inb,
                                  const int8_t *w, int32_t w_stride, int32_t n, int32_t input_offset,
                                  int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const int32_t n4 = n & ~3;
  if (n4 > 0) {
    const uint32_t *pa = (const uint32_t *)(const void *)xa, *pb = (const uint32_t *)(const void *)xb;
    const uint32_t *end = pa + n4 / 2;
    const int8_t *pw = w;
    int32_t stride = w_stride;
    uint32_t x, k0, k0h, k1, k1h;
    __asm__("" : "+r"(pa), "+r"(pb), "+r"(pw), "+r"(stride), "+r"(end)); /* opaque: see reds_dot4_s8 */
    __asm__(
        "1:\n\t"
        REDS_M4_ROWS2_WIDEN
        REDS_M4_PIXEL_ROWS2(pa, a0, a1)
        REDS_M4_PIXEL_ROWS2(pb, a2, a3)
        "cmp     %[pa], %[end]\n\t"
        "bne     1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [pa] "+r"(pa), [pb] "+r"(pb), [w] "+r"(pw),
          [x] "=&r"(x), [k0] "=&r"(k0), [k0h] "=&r"(k0h), [k1] "=&r"(k1), [k1h] "=&r"(k1h)
        : [end] "r"(end), [s] "r"(stride)
        : "cc", "memory");
  }
  for (int32_t i = n4; i < n; ++i) {
    const int32_t xa_i = (int32_t)ina[i] + input_offset, xb_i = (int32_t)inb[i] + input_offset;
    a0 = (int32_t)((uint32_t)a0 + (uint32_t)(xa_i * (int32_t)w[i]));
    a1 = (int32_t)((uint32_t)a1 + (uint32_t)(xa_i * (int32_t)w[w_stride + i]));
    a2 = (int32_t)((uint32_t)a2 + (uint32_t)(xb_i * (int32_t)w[i]));
    a3 = (int32_t)((uint32_t)a3 + (uint32_t)(xb_i * (int32_t)w[w_stride + i]));
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* Widened input for reds_dot3x2_s8: per four input bytes of each pixel the two words reds_widen_s8 writes, the
 * three pixels interleaved (a02 a13 b02 b13 c02 c13, 24 bytes), so that the loop walks one pointer. xw 4-byte
 * aligned. */
static inline void reds_widen3_s8(const int8_t *a, const int8_t *b, const int8_t *c, int32_t n, int32_t input_offset,
                                  int16_t *xw) {
  const uint32_t off2 = reds_m4_offset2(input_offset);
  for (int32_t i = 0; i + 4 <= n; i += 4, xw += 12) {
    const uint32_t xa = reds_m4_load4(a + i), xb = reds_m4_load4(b + i), xc = reds_m4_load4(c + i);
    const uint32_t six[6] = {__sxtab16(off2, xa), reds_m4_sxtab16_ror8(off2, xa), __sxtab16(off2, xb),
                             reds_m4_sxtab16_ror8(off2, xb), __sxtab16(off2, xc), reds_m4_sxtab16_ror8(off2, xc)};
    memcpy(xw, six, sizeof six);
  }
}

/* Three pixels times two weight rows. Per four input bytes: each row's weight word loaded and widened once (3
 * instructions) for three pixels, the pixels' widened inputs read in one walk (6 loads), 12 SMLADs, and the loop's
 * end test, whose bound lives on the stack (LDR, CMP, BNE): 27 instructions per 24 MACs, against 20 per 16 in
 * reds_dot2x2_s8; the block's bias set-up, call and requantisation loads are shared by six outputs instead of four.
 * Six accumulators, four widened weight halves, the input word and three pointers/strides: all 14 allocatable
 * registers, hence one asm statement with the bound as a memory operand. The last n % 4 products are plain C. */
static inline void reds_dot3x2_s8(const int16_t *x3, const int8_t *ina, const int8_t *inb, const int8_t *inc,
                                  const int8_t *w, int32_t w_stride, int32_t n, int32_t input_offset,
                                  int32_t acc[6]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5];
  const int32_t n4 = n & ~3;
  if (n4 > 0) {
    const uint32_t *p = (const uint32_t *)(const void *)x3;
    const uint32_t *const end = p + (n4 / 4) * 6;
    const int8_t *pw = w;
    int32_t stride = w_stride;
    uint32_t x, k0, k0h, k1, k1h;
    __asm__("" : "+r"(p), "+r"(pw), "+r"(stride)); /* opaque: see reds_dot4_s8 */
    __asm__(
        "1:\n\t"
        REDS_M4_ROWS2_WIDEN
        REDS_M4_PIXEL_ROWS2(p, a0, a1)
        REDS_M4_PIXEL_ROWS2(p, a2, a3)
        REDS_M4_PIXEL_ROWS2(p, a4, a5)
        "ldr     %[x], %[end]\n\t"
        "cmp     %[p], %[x]\n\t"
        "bne     1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5), [p] "+r"(p),
          [w] "+r"(pw), [x] "=&r"(x), [k0] "=&r"(k0), [k0h] "=&r"(k0h), [k1] "=&r"(k1), [k1h] "=&r"(k1h)
        : [end] "m"(end), [s] "r"(stride)
        : "cc", "memory");
  }
  for (int32_t i = n4; i < n; ++i) {
    const int32_t xa = (int32_t)ina[i] + input_offset, xb = (int32_t)inb[i] + input_offset,
                  xc = (int32_t)inc[i] + input_offset, w0 = w[i], w1 = w[w_stride + i];
    a0 = (int32_t)((uint32_t)a0 + (uint32_t)(xa * w0));
    a1 = (int32_t)((uint32_t)a1 + (uint32_t)(xa * w1));
    a2 = (int32_t)((uint32_t)a2 + (uint32_t)(xb * w0));
    a3 = (int32_t)((uint32_t)a3 + (uint32_t)(xb * w1));
    a4 = (int32_t)((uint32_t)a4 + (uint32_t)(xc * w0));
    a5 = (int32_t)((uint32_t)a5 + (uint32_t)(xc * w1));
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
}

/* One output of reds_block3x2_s8's requantisation: accumulator A with the channel's multiplier and shift in k0 and
 * k0h, its round loaded from [q, RND] into (k1, k1h), the int8 result stored by STORE (k1 free for an address). */
#define REDS_M4_BLOCK_OUT(A, RND, STORE)                \
  "ldrd    %[k1], %[k1h], [%[p], #" #RND "]\n\t"        \
  REDS_M4_REQUANT_MN(A, k1, k1h, k0, k0h, x)            \
  STORE

/* reds_dot3x2_s8's loop (n4 > 0 widened inputs, a multiple of 4; accumulators holding the biases) and then, in the
 * same statement, the six outputs' fast requantisation (channels o and o + 1 of three pixels; q: channel o's
 * reds_requant_ch, o + 1's follows) and stores: pixel a's outputs at y, y + 1, pixel b's y_step bytes on, pixel
 * c's 2 * y_step. After the loop its fourteen registers are free for the requantisation, whose three addresses come
 * from memory operands; each channel's multiplier and shift are loaded once for its three pixels. About 52
 * instructions for the six outputs against 73 when GCC requantised after reds_dot3x2_s8 with the output pointers
 * and each output's multiplier reloaded from the stack. */
static inline void reds_block3x2_s8(const int16_t *x3, const int8_t *w, int32_t w_stride, int32_t n4, int32_t b0,
                                    int32_t b1, const reds_requant_ch *q, int8_t *y, int32_t y_step) {
  int32_t a0 = b0, a1 = b1, a2 = b0, a3 = b1, a4 = b0, a5 = b1;
  const uint32_t *p = (const uint32_t *)(const void *)x3;
  const uint32_t *const end = p + (n4 / 4) * 6;
  const int8_t *pw = w;
  int32_t stride = w_stride;
  uint32_t x, k0, k0h, k1, k1h;
  __asm__("" : "+r"(p), "+r"(pw), "+r"(stride)); /* opaque: see reds_dot4_s8 */
  /* The loop runs two steps of four inputs per end test (an odd first step alone: end - p is 24 bytes a step, so
   * its bit 3 is the steps' parity); the test's load, compare and branch were 3 of a step's 27 instructions. */
#define REDS_M4_BLOCK_STEP REDS_M4_ROWS2_WIDEN REDS_M4_PIXEL_ROWS2(p, a0, a1) REDS_M4_PIXEL_ROWS2(p, a2, a3) \
  REDS_M4_PIXEL_ROWS2(p, a4, a5)
  __asm__ volatile(
      "ldr     %[x], %[end]\n\t"
      "sub     %[x], %[x], %[p]\n\t"
      "tst     %[x], #8\n\t"
      "beq     2f\n\t"
      REDS_M4_BLOCK_STEP
      "ldr     %[x], %[end]\n\t"
      "cmp     %[p], %[x]\n\t"
      "beq     3f\n\t"
      "2:\n\t"
      REDS_M4_BLOCK_STEP
      REDS_M4_BLOCK_STEP
      "ldr     %[x], %[end]\n\t"
      "cmp     %[p], %[x]\n\t"
      "bne     2b\n\t"
      "3:\n\t"
      "ldr     %[p], %[q]\n\t"
      "ldr     %[w], %[y]\n\t"
      "ldr     %[s], %[ys]\n\t"
      "mov     %[x], #0x80000000\n\t"
      "ldrd    %[k0], %[k0h], [%[p], #8]\n\t"
      REDS_M4_BLOCK_OUT(a0, 0, "strb    %[k1h], [%[w]]\n\t")
      REDS_M4_BLOCK_OUT(a2, 0, "strb    %[k1h], [%[w], %[s]]\n\t")
      REDS_M4_BLOCK_OUT(a4, 0, "add     %[k1], %[w], %[s], lsl #1\n\tstrb    %[k1h], [%[k1]]\n\t")
      "ldrd    %[k0], %[k0h], [%[p], #24]\n\t"
      REDS_M4_BLOCK_OUT(a1, 16, "strb    %[k1h], [%[w], #1]\n\t")
      REDS_M4_BLOCK_OUT(a3, 16, "add     %[k1], %[w], %[s]\n\tstrb    %[k1h], [%[k1], #1]\n\t")
      REDS_M4_BLOCK_OUT(a5, 16, "add     %[k1], %[w], %[s], lsl #1\n\tstrb    %[k1h], [%[k1], #1]\n\t")
      : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5), [p] "+r"(p),
        [w] "+r"(pw), [s] "+r"(stride), [x] "=&r"(x), [k0] "=&r"(k0), [k0h] "=&r"(k0h), [k1] "=&r"(k1),
        [k1h] "=&r"(k1h)
      : [end] "m"(end), [q] "m"(q), [y] "m"(y), [ys] "m"(y_step)
      : "cc", "memory");
}
#undef REDS_M4_BLOCK_OUT
#undef REDS_M4_BLOCK_STEP
#undef REDS_M4_REQUANT_MN

#undef REDS_M4_ROWS2_WIDEN
#undef REDS_M4_PIXEL_ROWS2

/* The fast requantisation (reds_requant_ch, see reds_ops.h): round + x*m + [x<0]*INT32_MIN as two SMLALs into
 * one 64-bit accumulator, then the high word shifted right by e-1. GCC 12 writes the sign correction of the C form
 * as a 64-bit shift with carries; here it is one LSR and one SMLAL. Exact: the same integer sum. */
static inline int32_t reds_requant_fast_m4(int32_t x, const reds_requant_ch *c) {
  uint32_t lo = (uint32_t)(uint64_t)c->round, hi = (uint32_t)((uint64_t)c->round >> 32);
  const uint32_t neg = (uint32_t)x >> 31;
  const int32_t int_min = INT32_MIN;
  __asm__("smlal %0, %1, %2, %3\n\t"
          "smlal %0, %1, %4, %5"
          : "+&r"(lo), "+&r"(hi)
          : "r"(x), "r"(c->multiplier), "r"(neg), "r"(int_min));
  return (int32_t)hi >> c->rshift;
}

/* The fast requantisation of accumulator ACC into HI as a saturated int8, LO:HI holding the channel's 64-bit round
 * term and M its multiplier (sh its shift): x * m added, the sign term [x < 0] * 2^31 subtracted with borrow
 * (ACC is consumed), the shift, the saturation. Shared by the few-input pair loop and the first-layer loop below. */
#define REDS_M4_REQUANT_SAT(ACC, LO, HI, M)                            \
  "smlal   %[" #LO "], %[" #HI "], %[" #ACC "], %[" #M "]\n\t"        \
  "lsr     %[" #ACC "], %[" #ACC "], #31\n\t"                         \
  "subs    %[" #LO "], %[" #LO "], %[" #ACC "], lsl #31\n\t"          \
  "sbc     %[" #HI "], %[" #HI "], #0\n\t"                            \
  "asr     %[" #HI "], %[" #HI "], %[sh]\n\t"                         \
  "ssat    %[" #HI "], #8, %[" #HI "]\n\t"

/* A 1x1 conv's output channels o < n for one pixel with K = 1 or 2 active inputs (x0, x1: the inputs plus the
 * input offset), fast requantisation: y[o] = sat8(requant(bias[o] + x0 * w[o * w_stride] (+ x1 * w[o * w_stride +
 * 1]), ch[o])). With one or two MACs per output the loop is all per-output work: bias, weights, multiply-add, the
 * 64-bit requantisation of reds_requant_fast_m4, saturation and store: 15 instructions per output for K = 1, 17 for
 * K = 2 (GCC's code for the same C loop spilled its pointers: 23 and 28). K = 2 needs a register more than K = 1,
 * so it adds the sign term [x<0] * INT32_MIN to the 64-bit sum as a subtraction with borrow instead of a second
 * SMLAL with INT32_MIN in a register: the same sum. n >= 1. */
/* Shared by both loops below: the channel's requantisation terms and the product with the multiplier
 * (REDS_M4_FEW_REQUANT), then the shift, saturation, store and loop branch (REDS_M4_FEW_STORE). */
#define REDS_M4_FEW_REQUANT                     \
  "ldrd    %[m], %[sh], [%[c], #8]\n\t"         \
  "ldrd    %[lo], %[hi], [%[c]], #16\n\t"       \
  "lsr     %[t], %[acc], #31\n\t"               \
  "smlal   %[lo], %[hi], %[acc], %[m]\n\t"
#define REDS_M4_FEW_STORE                       \
  "asr     %[hi], %[hi], %[sh]\n\t"             \
  "ssat    %[hi], #8, %[hi]\n\t"                \
  "strb    %[hi], [%[y]], #1\n\t"               \
  "cmp     %[y], %[end]\n\t"                    \
  "bne     1b\n\t"

static inline void reds_pointwise_few_s8(const int32_t *bias, const int8_t *w, int32_t w_stride,
                                         const reds_requant_ch *ch, int32_t x0, int32_t x1, int32_t k, int8_t *y,
                                         int32_t n) {
  const int8_t *const end = y + n;
  int32_t acc, t, m, sh;
  uint32_t lo, hi;
  if (k == 1) {
    const int32_t int_min = INT32_MIN;
    __asm__ volatile(
        "1:\n\t"
        "ldr     %[acc], [%[b]], #4\n\t"
        "ldrsb   %[t], [%[w]]\n\t"
        "add     %[w], %[w], %[s]\n\t"
        "mla     %[acc], %[t], %[x0], %[acc]\n\t"
        REDS_M4_FEW_REQUANT
        "smlal   %[lo], %[hi], %[t], %[imin]\n\t"
        REDS_M4_FEW_STORE
        : [b] "+r"(bias), [w] "+r"(w), [c] "+r"(ch), [y] "+r"(y), [acc] "=&r"(acc), [t] "=&r"(t), [m] "=&r"(m),
          [sh] "=&r"(sh), [lo] "=&r"(lo), [hi] "=&r"(hi)
        : [end] "r"(end), [s] "r"(w_stride), [x0] "r"(x0), [imin] "r"(int_min)
        : "cc", "memory");
    return;
  }
  __asm__ volatile(
      "1:\n\t"
      "ldr     %[acc], [%[b]], #4\n\t"
      "ldrsb   %[t], [%[w], #1]\n\t"
      "mla     %[acc], %[t], %[x1], %[acc]\n\t"
      "ldrsb   %[t], [%[w]]\n\t"
      "add     %[w], %[w], %[s]\n\t"
      "mla     %[acc], %[t], %[x0], %[acc]\n\t"
      REDS_M4_FEW_REQUANT
      "subs    %[lo], %[lo], %[t], lsl #31\n\t"
      "sbc     %[hi], %[hi], #0\n\t"
      REDS_M4_FEW_STORE
      : [b] "+r"(bias), [w] "+r"(w), [c] "+r"(ch), [y] "+r"(y), [acc] "=&r"(acc), [t] "=&r"(t), [m] "=&r"(m),
        [sh] "=&r"(sh), [lo] "=&r"(lo), [hi] "=&r"(hi)
      : [end] "r"(end), [s] "r"(w_stride), [x0] "r"(x0), [x1] "r"(x1)
      : "cc", "memory");
}
/* One output channel of a 1x1 conv reading K = 1 or 2 inputs, for two pixels at a time (reds_conv_s8.c,
 * conv_1x1_few_s8): its requantisation, its bias and its weights as an int16 pair (the second 0 for K = 1). */
typedef struct {
  reds_requant_ch rq; /* round (64-bit), multiplier, rshift */
  int32_t bias;
  uint32_t w01;
} reds_few_row;
_Static_assert(sizeof(reds_few_row) == 24 && offsetof(reds_few_row, bias) == 16, "reds_pointwise_few2_m4 offsets");

/* Two pixels a and b of a 1x1 conv with K <= 2 inputs: ya[o] and ya[o + b_off] (pixel b's outputs) for o < n,
 * n >= 1; xa01, xb01: each pixel's inputs plus the input offset as int16 pairs. One SMLAD per pixel and output,
 * and the row's bias, weights and requantisation terms loaded once for both pixels: 23 instructions per two
 * outputs, against 15 (K = 1) and 17 (K = 2) per output of reds_pointwise_few_s8 one pixel at a time. The
 * requantisation is the one of reds_pointwise_few_s8 (the sign term as a subtraction with borrow); the round
 * term is loaded again for the second pixel, which costs one LDRD and saves the two registers a copy would hold. */
static inline void reds_pointwise_few2_m4(uint32_t xa01, uint32_t xb01, const reds_few_row *row, int8_t *ya,
                                          int32_t b_off, int32_t n) {
  const int8_t *const end = ya + n;
  int32_t acc_a, acc_b, w, sh, lo, hi;
  __asm__ volatile(
      "1:\n\t"
      "ldrd    %[aa], %[w], [%[r], #16]\n\t" /* bias, weights */
      "smlad   %[ab], %[xb], %[w], %[aa]\n\t"
      "smlad   %[aa], %[xa], %[w], %[aa]\n\t"
      "ldrd    %[w], %[sh], [%[r], #8]\n\t"  /* multiplier, rshift */
      "ldrd    %[lo], %[hi], [%[r]]\n\t"     /* round, pixel b */
      REDS_M4_REQUANT_SAT(ab, lo, hi, w)
      "strb    %[hi], [%[y], %[boff]]\n\t"
      "ldrd    %[lo], %[hi], [%[r]], #24\n\t" /* round, pixel a; next row */
      REDS_M4_REQUANT_SAT(aa, lo, hi, w)
      "strb    %[hi], [%[y]], #1\n\t"
      "cmp     %[y], %[end]\n\t"
      "bne     1b\n\t"
      : [r] "+r"(row), [y] "+r"(ya), [aa] "=&r"(acc_a), [ab] "=&r"(acc_b), [w] "=&r"(w), [sh] "=&r"(sh),
        [lo] "=&r"(lo), [hi] "=&r"(hi)
      : [end] "r"(end), [xa] "r"(xa01), [xb] "r"(xb01), [boff] "r"(b_off)
      : "cc", "memory");
}

/* One output channel of a one-input-channel 3x3 conv (reds_conv_s8.c, conv_c1_3x3_s8): its requantisation, its
 * bias (plus input offset times the weight sum) and its nine weights (taps t0..t8, row-major) as int16 pairs in the
 * order the loop below reads them (40 bytes, two LDRDs per line). The pairs follow what one word load of a kernel
 * row gives: SXTB16 of it is the row's outer taps, so w02 / w35 / w68 hold (t0, t2) / (t3, t5) / (t6, t8); the
 * middle taps t1 and t4 pair up in w14 and t7 sits alone in the low half of w7. */
typedef struct {
  reds_requant_ch rq; /* round (64-bit), multiplier, rshift */
  int32_t bias;
  uint32_t w02, w35, w68, w14, w7;
} reds_c1_row;
_Static_assert(sizeof(reds_c1_row) == 40 && offsetof(reds_c1_row, bias) == 16 && offsetof(reds_c1_row, w02) == 20 &&
                   offsetof(reds_requant_ch, multiplier) == 8 && offsetof(reds_requant_ch, rshift) == 12,
               "reds_c1_3x3_outputs_m4 reads reds_c1_row at these offsets");

/* y[o] = sat8(requant(row[o].bias + the nine taps times row[o]'s weights)) for o < n (n >= 1); the taps are the
 * pixel's raw inputs as int16 pairs in reds_c1_row's order (x02 = (t0, t2) ... x14 = (t1, t4); t7 in the low half
 * of x7, its high half ignored). Per output: five LDRDs, four SMLADs and an SMLABB, the 64-bit requantisation with
 * the sign term as a subtraction with borrow (as in the K = 2 loop above), saturation, store and loop: 19
 * instructions (GCC's code for the same C loop: 30, spilling the output pointer). */
static inline void reds_c1_3x3_outputs_m4(uint32_t x02, uint32_t x35, uint32_t x68, uint32_t x14, uint32_t x7,
                                          const reds_c1_row *row, int8_t *y, int32_t n) {
  const int8_t *const end = y + n;
  int32_t acc, a, b, m, sh;
  __asm__ volatile(
      "1:\n\t"
      "ldrd    %[acc], %[a], [%[r], #16]\n\t" /* bias, w02 */
      "ldrd    %[b], %[m], [%[r], #24]\n\t"   /* w35, w68 */
      "smlad   %[acc], %[x02], %[a], %[acc]\n\t"
      "smlad   %[acc], %[x35], %[b], %[acc]\n\t"
      "smlad   %[acc], %[x68], %[m], %[acc]\n\t"
      "ldrd    %[a], %[b], [%[r], #32]\n\t"   /* w14, w7 */
      "smlad   %[acc], %[x14], %[a], %[acc]\n\t"
      "smlabb  %[acc], %[x7], %[b], %[acc]\n\t"
      "ldrd    %[m], %[sh], [%[r], #8]\n\t"   /* multiplier, rshift */
      "ldrd    %[a], %[b], [%[r]], #40\n\t"   /* round (low, high word), next row */
      REDS_M4_REQUANT_SAT(acc, a, b, m)
      "strb    %[b], [%[y]], #1\n\t"
      "cmp     %[y], %[end]\n\t"
      "bne     1b\n\t"
      : [r] "+r"(row), [y] "+r"(y), [acc] "=&r"(acc), [a] "=&r"(a), [b] "=&r"(b), [m] "=&r"(m), [sh] "=&r"(sh)
      : [end] "r"(end), [x02] "r"(x02), [x35] "r"(x35), [x68] "r"(x68), [x14] "r"(x14), [x7] "r"(x7)
      : "cc", "memory");
}

/* Two pixels a and b of a one-input-channel conv whose kernel rows are 4 taps wide (KWS's 10x4 first layer): for
 * o < n, ya[o] (pixel a) and ya[o + b_off] (pixel b) = sat8(requant(bias + the taps times the weights)). `row`:
 * the channels' table rows (reds_conv_s8.c, conv_c1_kx4_s8), each [bias (with input offset times the weight sum),
 * per kernel row its weights as the int16 pairs (t0, t2), (t1, t3), round (64-bit), multiplier, rshift | z << 8];
 * `patch`: per kernel row the raw taps as pairs (a02, a13, b02, b13), up to `patch_end`; an even number of kernel
 * rows (a padding row holds zero weights). The requantisation is the fast form with the output zero point z added
 * after the shift (ADD with ASR #8 of the shift word; ASR by register reads only its low byte), which keeps the
 * 64-bit sum in range for every right shift of 1 to 31 (a dead channel's tiny multiplier needs more than the 22
 * the folded form allows). Per two kernel rows: six LDRDs and eight SMLADs for 16 MACs and the loop branch; per
 * channel the two requantisations: 104 instructions per 80 MACs at 10 rows, against the patch walk's 194. */
static inline void reds_c1_kx4_pair_m4(const uint32_t *row, const uint32_t *patch, const uint32_t *patch_end,
                                       int8_t *ya, int32_t b_off, int32_t n) {
  const int8_t *const end = ya + n;
  int32_t aa, ab, m, sh, lo, hi;
  const uint32_t *xp;
  __asm__ volatile(
      "1:\n\t"
      "ldr     %[aa], [%[r]], #4\n\t"        /* bias */
      "mov     %[xp], %[p0]\n\t"
      "mov     %[ab], %[aa]\n\t"
      "2:\n\t"
      "ldrd    %[m], %[sh], [%[r]], #8\n\t"  /* weights (t0, t2), (t1, t3) of kernel row r */
      "ldrd    %[lo], %[hi], [%[xp], #8]\n\t" /* pixel b's taps */
      "smlad   %[ab], %[lo], %[m], %[ab]\n\t"
      "smlad   %[ab], %[hi], %[sh], %[ab]\n\t"
      "ldrd    %[lo], %[hi], [%[xp]], #16\n\t" /* pixel a's */
      "smlad   %[aa], %[lo], %[m], %[aa]\n\t"
      "smlad   %[aa], %[hi], %[sh], %[aa]\n\t"
      "ldrd    %[m], %[sh], [%[r]], #8\n\t"  /* row r + 1 */
      "ldrd    %[lo], %[hi], [%[xp], #8]\n\t"
      "smlad   %[ab], %[lo], %[m], %[ab]\n\t"
      "smlad   %[ab], %[hi], %[sh], %[ab]\n\t"
      "ldrd    %[lo], %[hi], [%[xp]], #16\n\t"
      "smlad   %[aa], %[lo], %[m], %[aa]\n\t"
      "smlad   %[aa], %[hi], %[sh], %[aa]\n\t"
      "cmp     %[xp], %[pe]\n\t"
      "bne     2b\n\t"
      "ldrd    %[m], %[sh], [%[r], #8]\n\t"  /* multiplier, rshift | z << 8 */
      "ldrd    %[lo], %[hi], [%[r]]\n\t"     /* round, pixel b */
      "smlal   %[lo], %[hi], %[ab], %[m]\n\t"
      "lsr     %[ab], %[ab], #31\n\t"
      "subs    %[lo], %[lo], %[ab], lsl #31\n\t"
      "sbc     %[hi], %[hi], #0\n\t"
      "asr     %[hi], %[hi], %[sh]\n\t"
      "add     %[hi], %[hi], %[sh], asr #8\n\t"
      "ssat    %[hi], #8, %[hi]\n\t"
      "strb    %[hi], [%[y], %[boff]]\n\t"
      "ldrd    %[lo], %[hi], [%[r]], #16\n\t" /* round, pixel a; next channel's row */
      "smlal   %[lo], %[hi], %[aa], %[m]\n\t"
      "lsr     %[aa], %[aa], #31\n\t"
      "subs    %[lo], %[lo], %[aa], lsl #31\n\t"
      "sbc     %[hi], %[hi], #0\n\t"
      "asr     %[hi], %[hi], %[sh]\n\t"
      "add     %[hi], %[hi], %[sh], asr #8\n\t"
      "ssat    %[hi], #8, %[hi]\n\t"
      "strb    %[hi], [%[y]], #1\n\t"
      "cmp     %[y], %[end]\n\t"
      "bne     1b\n\t"
      : [r] "+r"(row), [y] "+r"(ya), [aa] "=&r"(aa), [ab] "=&r"(ab), [m] "=&r"(m), [sh] "=&r"(sh),
        [lo] "=&r"(lo), [hi] "=&r"(hi), [xp] "=&r"(xp)
      : [end] "r"(end), [p0] "r"(patch), [pe] "r"(patch_end), [boff] "r"(b_off)
      : "cc", "memory");
}

#undef REDS_M4_FEW_REQUANT
#undef REDS_M4_FEW_STORE
#undef REDS_M4_REQUANT_SAT

/* Saturate to int8: one SSAT. */
static inline int32_t reds_sat_s8_m4(int32_t x) { return __ssat(x, 8); }

#endif /* REDS_DOT_S8_CORTEX_M4_H_ */
