/* The Cortex-M4 DSP inner loops (tflm_ops/arch/cortex_m4) against the plain definition of their result, on
 * random and extreme data, every length 0..67, every pointer misalignment, and 32-bit wrap-around:
 *   reds_dot_s8        one row, n elements
 *   reds_dot4_s8       four rows, n elements, row strides n, n+1, n+3 and 75 bytes (rows misaligned to each other)
 *   reds_mac_chan_s8   n channels of one depthwise tap
 *   reds_mac4_chan_s8  four channels over n taps, as the depthwise op calls it (tap strides of 4..7 bytes, so
 *                      every tap after the first starts at a different alignment)
 *   reds_dw3x3_s8      four channels over the 9 taps of a 3x3 pixel (channel strides c = 4..7, input row steps
 *                      3c..3c+5: every tap at its own alignment)
 *   reds_dw3x3_widen_w + reds_dw3x3_wide_s8  the same 3x3 pixels with the weights widened beforehand
 *   reds_widen_s8 + reds_dot2x2_s8  two pixels (the second 5 bytes after the first) times two weight rows, the
 *                      same strides as reds_dot4_s8
 *   reds_widen3_s8 + reds_dot3x2_s8  three pixels (5 and 11 bytes after the first) times two weight rows, the
 *                      same strides
 *   reds_pointwise_few_s8  a 1x1 conv's outputs from K = 1 or 2 inputs with the fast requantisation: n = 1..40
 *                      channels, weight strides K..75 at every alignment, random 64-bit rounding terms, multipliers
 *                      and shifts 0..31 (wrap-around and saturation included), nothing written past n
 * Also prints their instruction counts next to the plain loops' for a 64-element call. Exit status 0 only if all
 * agree. */
#include <stdint.h>

#include "icount.h"
#include "reds_dot_s8_cortex_m4.h"
#include "semihost.h"

static uint32_t rng_state = 0x12345678u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* The reference semantics (tflm_ops/reds_dot_s8.h), kept out of line and unvectorised. */
__attribute__((noinline)) static int32_t plain_dot(const int8_t *in, const int8_t *w, int32_t n, int32_t off,
                                                   int32_t acc)
{
    uint32_t a = (uint32_t)acc;
    for (int32_t i = 0; i < n; ++i) a += (uint32_t)(((int32_t)in[i] + off) * (int32_t)w[i]);
    return (int32_t)a;
}

__attribute__((noinline)) static void plain_mac(int32_t *acc, const int8_t *in, const int8_t *w, int32_t n,
                                                int32_t off)
{
    for (int32_t c = 0; c < n; ++c) acc[c] = (int32_t)((uint32_t)acc[c] + (uint32_t)(((int32_t)in[c] + off) * w[c]));
}

__attribute__((noinline)) static void plain_dot4(const int8_t *in, const int8_t *w, int32_t stride, int32_t n,
                                                  int32_t off, int32_t *acc)
{
    for (int32_t r = 0; r < 4; ++r) acc[r] = plain_dot(in, w + r * stride, n, off, acc[r]);
}

/* n taps of four channels; the taps are in_step bytes apart in the input and w_step in the weights. */
__attribute__((noinline)) static void plain_mac4_taps(const int8_t *in, int32_t in_step, const int8_t *w,
                                                      int32_t w_step, int32_t n, int32_t off, int32_t *acc)
{
    for (int32_t t = 0; t < n; ++t) plain_mac(acc, in + t * in_step, w + t * w_step, 4, off);
}

__attribute__((noinline)) static int32_t dsp_dot(const int8_t *in, const int8_t *w, int32_t n, int32_t off,
                                                 int32_t acc)
{
    return reds_dot_s8(in, w, n, off, acc);
}

__attribute__((noinline)) static void dsp_mac(int32_t *acc, const int8_t *in, const int8_t *w, int32_t n, int32_t off)
{
    reds_mac_chan_s8(acc, in, w, n, off);
}

__attribute__((noinline)) static void dsp_dot4(const int8_t *in, const int8_t *w, int32_t stride, int32_t n,
                                                int32_t off, int32_t *acc)
{
    reds_dot4_s8(in, w, stride, n, off, acc);
}

/* Both pixels' inputs widened, then the 2x2 dot product: as the 1x1 conv calls them. */
__attribute__((noinline)) static void dsp_dot2x2(const int8_t *ina, const int8_t *inb, const int8_t *w, int32_t stride,
                                                  int32_t n, int32_t off, int32_t *acc)
{
    static int16_t wa[72], wb[72];
    reds_widen_s8(ina, n, off, wa);
    reds_widen_s8(inb, n, off, wb);
    reds_dot2x2_s8(wa, wb, ina, inb, w, stride, n, off, acc);
}

/* Three pixels' inputs widened (interleaved), then the 3x2 dot product: as the 1x1 conv's triples call them. */
__attribute__((noinline)) static void dsp_dot3x2(const int8_t *ina, const int8_t *inb, const int8_t *inc,
                                                  const int8_t *w, int32_t stride, int32_t n, int32_t off,
                                                  int32_t *acc)
{
    static uint32_t x3[3 * 72 / 2];
    reds_widen3_s8(ina, inb, inc, n, off, (int16_t *)(void *)x3);
    reds_dot3x2_s8((const int16_t *)(const void *)x3, ina, inb, inc, w, stride, n, off, acc);
}

__attribute__((noinline)) static void plain_dot2x2(const int8_t *ina, const int8_t *inb, const int8_t *w,
                                                    int32_t stride, int32_t n, int32_t off, int32_t *acc)
{
    acc[0] = plain_dot(ina, w, n, off, acc[0]);
    acc[1] = plain_dot(ina, w + stride, n, off, acc[1]);
    acc[2] = plain_dot(inb, w, n, off, acc[2]);
    acc[3] = plain_dot(inb, w + stride, n, off, acc[3]);
}

/* The accumulators are locals across the tap loop, as in the depthwise op (where they stay in registers). */
__attribute__((noinline)) static void dsp_mac4_taps(const int8_t *in, int32_t in_step, const int8_t *w,
                                                    int32_t w_step, int32_t n, int32_t off, int32_t *acc)
{
    int32_t a[4] = {acc[0], acc[1], acc[2], acc[3]};
    for (int32_t t = 0; t < n; ++t) reds_mac4_chan_s8(in + t * in_step, w + t * w_step, off, a);
    for (int r = 0; r < 4; ++r) acc[r] = a[r];
}

/* The fast requantisation's definition (reds_requant_ch): the 64-bit sum x*m + round + [x<0]*INT32_MIN modulo
 * 2^64, its high word shifted right arithmetically, saturated to int8. */
__attribute__((noinline)) static void plain_pointwise_few(const int32_t *bias, const int8_t *w, int32_t s,
                                                          const reds_requant_ch *ch, int32_t x0, int32_t x1,
                                                          int32_t k, int8_t *y, int32_t n)
{
    for (int32_t o = 0; o < n; ++o) {
        uint32_t acc = (uint32_t)bias[o] + (uint32_t)(x0 * (int32_t)w[o * s]);
        if (k > 1) acc += (uint32_t)(x1 * (int32_t)w[o * s + 1]);
        uint64_t p = (uint64_t)((int64_t)(int32_t)acc * ch[o].multiplier) + (uint64_t)ch[o].round;
        if (acc >> 31) p += (uint64_t)(int64_t)INT32_MIN;
        const int32_t h = (int32_t)(uint32_t)(p >> 32) >> ch[o].rshift;
        y[o] = (int8_t)(h < -128 ? -128 : (h > 127 ? 127 : h));
    }
}

__attribute__((noinline)) static void dsp_pointwise_few(const int32_t *bias, const int8_t *w, int32_t s,
                                                        const reds_requant_ch *ch, int32_t x0, int32_t x1,
                                                        int32_t k, int8_t *y, int32_t n)
{
    reds_pointwise_few_s8(bias, w, s, ch, x0, x1, k, y, n);
}

static void fail(const char *what, int32_t n, int32_t mis, int32_t off);

#define FEW_N 40
static int check_pointwise_few(void)
{
    static int32_t bias[FEW_N];
    static reds_requant_ch ch[FEW_N];
    static int8_t w[FEW_N * 75 + 4], ya[FEW_N + 4], yb[FEW_N + 4];
    static const int32_t extra_stride[] = {0, 1, 3, 30, -1};
    int cases = 0;
    for (int rep = 0; rep < 6; ++rep) {
        for (int32_t o = 0; o < FEW_N; ++o) {
            bias[o] = rep == 1 ? INT32_MAX - (int32_t)(rnd() & 0xFFFFu) : (int32_t)rnd() >> (rep & 1 ? 0 : 12);
            ch[o].round = (int64_t)(((uint64_t)rnd() << 32) | rnd()) >> (rep < 3 ? 20 : 0);
            ch[o].multiplier = (int32_t)(rnd() | (rep < 3 ? 0x40000000u : 0u));
            ch[o].rshift = (int32_t)(rnd() % (rep < 3 ? 23u : 32u));
        }
        for (int32_t i = 0; i < FEW_N * 75 + 4; ++i) w[i] = (int8_t)(rep == 2 ? -128 : (int8_t)rnd());
        for (int32_t k = 1; k <= 2; ++k)
            for (unsigned si = 0; si < sizeof extra_stride / sizeof extra_stride[0]; ++si)
                for (int32_t mis = 0; mis < 4; ++mis)
                    for (int32_t n = 1; n <= FEW_N; ++n) {
                        const int32_t s = extra_stride[si] < 0 ? 75 : k + extra_stride[si];
                        const int32_t x0 = (int32_t)(rnd() % 511u) - 255, x1 = (int32_t)(rnd() % 511u) - 255;
                        for (int i = 0; i < FEW_N + 4; ++i) ya[i] = yb[i] = (int8_t)0x5A;
                        plain_pointwise_few(bias, w + mis, s, ch, x0, x1, k, ya, n);
                        dsp_pointwise_few(bias, w + mis, s, ch, x0, x1, k, yb, n);
                        for (int i = 0; i < FEW_N + 4; ++i)
                            if (ya[i] != yb[i]) {
                                fail(k == 1 ? "pointwise_few1" : "pointwise_few2", n, mis, x0);
                                break;
                            }
                        ++cases;
                    }
    }
    return cases;
}

#define BUF 512
static int8_t buf_in[BUF], buf_w[BUF];
static int32_t acc_a[72], acc_b[72];

static void fill(int mode)
{
    for (int i = 0; i < BUF; ++i) {
        switch (mode) {
        case 0: buf_in[i] = (int8_t)rnd(); buf_w[i] = (int8_t)rnd(); break;
        case 1: buf_in[i] = -128; buf_w[i] = -128; break;
        case 2: buf_in[i] = 127; buf_w[i] = -128; break;
        default: buf_in[i] = (int8_t)((rnd() & 1u) ? 127 : -128); buf_w[i] = (int8_t)((rnd() & 1u) ? 127 : -127);
        }
    }
}

static const int32_t offsets[] = {0, 128, -127, 1, -1, 77};

static int failures;

static void fail(const char *what, int32_t n, int32_t mis, int32_t off)
{
    if (failures < 10) {
        m4_puts("FAIL ");
        m4_puts(what);
        m4_puts(" n=");
        m4_put_i32(n);
        m4_puts(" misalign=");
        m4_put_i32(mis);
        m4_puts(" offset=");
        m4_put_i32(off);
        m4_puts("\n");
    }
    ++failures;
}

struct call { int32_t n, off; int dsp; };
static void run_dot(void *p)
{
    const struct call *c = p;
    volatile int32_t sink = c->dsp ? dsp_dot(buf_in, buf_w, c->n, c->off, 5) : plain_dot(buf_in, buf_w, c->n, c->off, 5);
    (void)sink;
}
static void run_mac(void *p)
{
    const struct call *c = p;
    if (c->dsp) dsp_mac(acc_a, buf_in, buf_w, c->n, c->off);
    else plain_mac(acc_a, buf_in, buf_w, c->n, c->off);
}
static void run_dot2x2(void *p)
{
    const struct call *c = p;
    if (c->dsp) dsp_dot2x2(buf_in, buf_in + 64, buf_w, c->n, c->n, c->off, acc_a);
    else plain_dot2x2(buf_in, buf_in + 64, buf_w, c->n, c->n, c->off, acc_a);
}
static void run_dot4(void *p)
{
    const struct call *c = p;
    if (c->dsp) dsp_dot4(buf_in, buf_w, c->n, c->n, c->off, acc_a);
    else plain_dot4(buf_in, buf_w, c->n, c->n, c->off, acc_a);
}
static void run_mac4(void *p) /* 16 taps of 4 channels: 64 MACs */
{
    const struct call *c = p;
    if (c->dsp) dsp_mac4_taps(buf_in, 4, buf_w, 4, c->n / 4, c->off, acc_a);
    else plain_mac4_taps(buf_in, 4, buf_w, 4, c->n / 4, c->off, acc_a);
}

static int same4(const int32_t *a, const int32_t *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* The 3x3 depthwise pixel: plain taps in C against the asm. */
__attribute__((noinline)) static void plain_dw3x3(const int8_t *in, const int8_t *w, int32_t c, int32_t row,
                                                  int32_t off, int32_t *acc)
{
    for (int32_t r = 0; r < 3; ++r)
        for (int32_t t = 0; t < 3; ++t)
            for (int32_t ch = 0; ch < 4; ++ch)
                acc[ch] = (int32_t)((uint32_t)acc[ch] +
                                    (uint32_t)(((int32_t)in[r * row + t * c + ch] + off) * (int32_t)w[(3 * r + t) * c + ch]));
}

__attribute__((noinline)) static void dsp_dw3x3(const int8_t *in, const int8_t *w, int32_t c, int32_t row,
                                                int32_t off, int32_t *acc)
{
    reds_dw3x3_s8(in, w, c, row, off, acc);
}

__attribute__((noinline)) static void dsp_dw3x3_wide(const int8_t *in, const int8_t *w, int32_t c, int32_t row,
                                                     int32_t off, int32_t *acc)
{
    uint32_t wk[18];
    reds_dw3x3_widen_w(w, c, wk);
    reds_dw3x3_wide_s8(in, wk, c, row, off, acc);
}

/* reds_dot4_s8 and reds_mac4_chan_s8 for one length, misalignment and offset, from a random start and from
 * accumulators next to INT32_MAX / INT32_MIN (both must wrap identically). Returns the number of cases. */
static int check_four(int32_t n, int32_t mis, int32_t off)
{
    static const int32_t extra_stride[] = {0, 1, 3, -1};
    int cases = 0;
    for (int start = 0; start < 2; ++start) {
        int32_t a[4], b[4];
        for (int r = 0; r < 4; ++r)
            a[r] = start == 0 ? (int32_t)rnd() : (r & 1 ? INT32_MIN + 2 : INT32_MAX - 3);
        for (unsigned si = 0; si < sizeof extra_stride / sizeof extra_stride[0]; ++si) {
            const int32_t stride = extra_stride[si] < 0 ? 75 : n + extra_stride[si];
            const int8_t *in = buf_in + mis, *w = buf_w + (3 - mis);
            for (int r = 0; r < 4; ++r) b[r] = a[r];
            int32_t c[4] = {a[0], a[1], a[2], a[3]};
            plain_dot4(in, w, stride, n, off, b);
            dsp_dot4(in, w, stride, n, off, c);
            if (!same4(b, c)) fail(start ? "dot4-wrap" : "dot4", n, mis, off);
            int32_t b2[4] = {a[0], a[1], a[2], a[3]}, c2[4] = {a[0], a[1], a[2], a[3]};
            plain_dot2x2(in, in + 5, w, stride, n, off, b2);
            dsp_dot2x2(in, in + 5, w, stride, n, off, c2);
            if (!same4(b2, c2)) fail(start ? "dot2x2-wrap" : "dot2x2", n, mis, off);
            int32_t b3[6] = {a[0], a[1], a[2], a[3], a[1], a[0]}, c3[6] = {a[0], a[1], a[2], a[3], a[1], a[0]};
            plain_dot2x2(in, in + 5, w, stride, n, off, b3);
            b3[4] = plain_dot(in + 11, w, n, off, b3[4]);
            b3[5] = plain_dot(in + 11, w + stride, n, off, b3[5]);
            dsp_dot3x2(in, in + 5, in + 11, w, stride, n, off, c3);
            if (!same4(b3, c3) || b3[4] != c3[4] || b3[5] != c3[5])
                fail(start ? "dot3x2-wrap" : "dot3x2", n, mis, off);
            cases += 2;
        }
        /* Depthwise: tap steps of 4 + mis (input) and 7 - mis (weights), so the taps cross every alignment. */
        int32_t d[4] = {a[0], a[1], a[2], a[3]}, e[4] = {a[0], a[1], a[2], a[3]};
        plain_mac4_taps(buf_in + mis, 4 + mis, buf_w + (3 - mis), 7 - mis, n, off, d);
        dsp_mac4_taps(buf_in + mis, 4 + mis, buf_w + (3 - mis), 7 - mis, n, off, e);
        if (!same4(d, e)) fail(start ? "mac4_chan-wrap" : "mac4_chan", n, mis, off);
        ++cases;
        if (n >= 4 && n <= 7) { /* n as the channel stride of the 3x3 pixel, row steps 3n..3n+5 */
            for (int32_t extra = 0; extra <= 5; ++extra) {
                int32_t f[4] = {a[0], a[1], a[2], a[3]}, g[4] = {a[0], a[1], a[2], a[3]};
                plain_dw3x3(buf_in + mis, buf_w + (3 - mis), n, 3 * n + extra, off, f);
                dsp_dw3x3(buf_in + mis, buf_w + (3 - mis), n, 3 * n + extra, off, g);
                if (!same4(f, g)) fail(start ? "dw3x3-wrap" : "dw3x3", n, mis, off);
                int32_t h[4] = {a[0], a[1], a[2], a[3]};
                dsp_dw3x3_wide(buf_in + mis, buf_w + (3 - mis), n, 3 * n + extra, off, h);
                if (!same4(f, h)) fail(start ? "dw3x3_wide-wrap" : "dw3x3_wide", n, mis, off);
                cases += 2;
            }
        }
    }
    return cases;
}

/* Instructions of one 64-element call of `run`, plain loop then DSP. */
static void put_costs(const char *plain_key, const char *dsp_key, void (*run)(void *))
{
    struct call c = {64, -3, 0};
    m4_put_kv(plain_key, (int32_t)m4_icount_call(run, &c));
    c.dsp = 1;
    m4_put_kv(dsp_key, (int32_t)m4_icount_call(run, &c));
}

int main(void)
{
    m4_icount_init();
    int cases = 0;
    for (int mode = 0; mode < 4; ++mode) {
        for (int rep = 0; rep < (mode == 0 ? 4 : 1); ++rep) {
            fill(mode);
            for (unsigned oi = 0; oi < sizeof offsets / sizeof offsets[0]; ++oi) {
                const int32_t off = offsets[oi];
                for (int32_t mis = 0; mis < 4; ++mis) {
                    for (int32_t n = 0; n <= 67; ++n) {
                        const int8_t *in = buf_in + mis, *w = buf_w + (3 - mis);
                        const int32_t acc0 = (int32_t)rnd();
                        if (plain_dot(in, w, n, off, acc0) != dsp_dot(in, w, n, off, acc0)) fail("dot", n, mis, off);
                        /* Accumulator next to INT32_MAX: both must wrap identically. */
                        if (plain_dot(in, w, n, off, INT32_MAX - 3) != dsp_dot(in, w, n, off, INT32_MAX - 3))
                            fail("dot-wrap", n, mis, off);
                        for (int i = 0; i < 72; ++i) acc_a[i] = acc_b[i] = (int32_t)rnd();
                        acc_a[0] = acc_b[0] = INT32_MAX;
                        plain_mac(acc_a, in, w, n, off);
                        dsp_mac(acc_b, in, w, n, off);
                        for (int i = 0; i < 72; ++i)
                            if (acc_a[i] != acc_b[i]) {
                                fail("mac_chan", n, mis, off);
                                break;
                            }
                        cases += 3 + check_four(n, mis, off);
                    }
                }
            }
        }
    }
    cases += check_pointwise_few();
    m4_put_kv("cases", cases);

    /* Cost of one 64-element call (including call and return), plain loop versus DSP. */
    fill(0);
    put_costs("instructions_dot64_plain", "instructions_dot64_dsp", run_dot);
    put_costs("instructions_mac_chan64_plain", "instructions_mac_chan64_dsp", run_mac);
    put_costs("instructions_dot4x64_plain", "instructions_dot4x64_dsp", run_dot4);
    put_costs("instructions_dot2x2x64_plain", "instructions_dot2x2x64_dsp", run_dot2x2);
    put_costs("instructions_mac4_chan16taps_plain", "instructions_mac4_chan16taps_dsp", run_mac4);

    m4_put_kv("failures", failures);
    return failures == 0 ? 0 : 1;
}
