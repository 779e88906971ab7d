/* The Cortex-M4 DSP inner loops (tflm_ops/arch/cortex_m4) against the plain definition of their result, on
 * random and extreme data, every length 0..67, every pointer misalignment, and 32-bit wrap-around. Also prints
 * their instruction counts next to the plain loops' for a 64-element call. Exit status 0 only if all agree. */
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

__attribute__((noinline)) static int32_t dsp_dot(const int8_t *in, const int8_t *w, int32_t n, int32_t off,
                                                 int32_t acc)
{
    return reds_dot_s8(in, w, n, off, acc);
}

__attribute__((noinline)) static void dsp_mac(int32_t *acc, const int8_t *in, const int8_t *w, int32_t n, int32_t off)
{
    reds_mac_chan_s8(acc, in, w, n, off);
}

static int8_t buf_in[80], buf_w[80];
static int32_t acc_a[72], acc_b[72];

static void fill(int mode)
{
    for (int i = 0; i < 80; ++i) {
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
                        cases += 3;
                    }
                }
            }
        }
    }
    m4_put_kv("cases", cases);

    /* Cost of one 64-element call (including call and return), plain loop versus DSP. */
    fill(0);
    struct call c = {64, -3, 0};
    m4_put_kv("instructions_dot64_plain", (int32_t)m4_icount_call(run_dot, &c));
    c.dsp = 1;
    m4_put_kv("instructions_dot64_dsp", (int32_t)m4_icount_call(run_dot, &c));
    c.dsp = 0;
    m4_put_kv("instructions_mac_chan64_plain", (int32_t)m4_icount_call(run_mac, &c));
    c.dsp = 1;
    m4_put_kv("instructions_mac_chan64_dsp", (int32_t)m4_icount_call(run_mac, &c));

    m4_put_kv("failures", failures);
    return failures == 0 ? 0 : 1;
}
