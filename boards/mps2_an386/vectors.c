/* Every generated op case (VECTORS header, see m4gen.py) at every budget, compared byte for byte with the output of
 * the tflite-micro interpreter on the builtin layer sliced to that budget. Exit status 0 only if all match. */
#include <stdint.h>
#include <string.h>

#include M4_VECTORS_HEADER
#include "m4_case.h"
#include "reds_budget.h"
#include "semihost.h"

static int32_t multiplier[M4_MAX_OUT_C], shift[M4_MAX_OUT_C];
static reds_requant_ch requant_ch[M4_MAX_OUT_C];
static int8_t output[M4_MAX_OUT_ELEMS];

int main(void)
{
    int passed = 0, failed = 0, fast_cases = 0;
    /* Every case twice: with the per-channel requantisation parameters (the fast form, where prepare allows it)
     * and without them (the general form). */
    for (unsigned i = 0; i < 2 * (sizeof m4_cases / sizeof m4_cases[0]); ++i) {
        const m4_case *c = &m4_cases[i / 2];
        m4_op_state st;
        reds_budget_reset();
        int s = m4_case_prepare(c, &st, multiplier, shift, (i & 1) ? requant_ch : NULL);
        fast_cases += st.rq.fast;
        if (s != REDS_OK) {
            m4_puts("FAIL ");
            m4_puts(c->name);
            m4_put_kv(" prepare status", s);
            ++failed;
            continue;
        }
        const uint32_t n = m4_case_out_elems(c);
        for (int k = 0; k < st.opts.budgets; ++k) {
            memset(output, 0x5A, n); /* stale bytes must not pass for inactive channels */
            if ((s = reds_set_budget(k)) == REDS_OK) s = m4_case_eval(c, &st, c->input, output);
            const int8_t *want = c->expected + (uint32_t)k * n;
            uint32_t bad = 0, first = 0;
            for (uint32_t j = 0; j < n; ++j)
                if (output[j] != want[j] && bad++ == 0) first = j;
            m4_puts(s == REDS_OK && bad == 0 ? "ok   " : "FAIL ");
            m4_puts(c->name);
            m4_puts(" budget ");
            m4_put_i32(k);
            if (s != REDS_OK) m4_put_kv(" status", s);
            else if (bad) {
                m4_puts(" mismatches=");
                m4_put_u32(bad);
                m4_puts(" first at ");
                m4_put_u32(first);
                m4_puts(": got ");
                m4_put_i32(output[first]);
                m4_puts(" want ");
                m4_put_i32(want[first]);
                m4_puts("\n");
            } else
                m4_puts("\n");
            if (s == REDS_OK && bad == 0) ++passed;
            else ++failed;
        }
    }
    m4_put_kv("fast_requant_cases", fast_cases);
    m4_puts("vectors: ");
    m4_put_i32(passed);
    m4_puts(" passed, ");
    m4_put_i32(failed);
    m4_puts(" failed\n");
    return failed == 0 && passed > 0 ? 0 : 1;
}
