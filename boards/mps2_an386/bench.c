/* Exact instruction counts (QEMU -icount shift=0, see icount.S) of the REDS ops of one model (BENCH header from
 * benchmarks/m4.py), each at every budget, and of reds_set_budget(). Every op runs through m4_case_eval, i.e. what a
 * REDS kernel's Eval does: read the budget register, look up the widths, call the C core. Output lines:
 *   set_budget=N
 *   op=I budget=K instructions=N status=S
 *   op=I budget=K stack=BYTES
 */
#include <stdint.h>
#include <string.h>

#include M4_BENCH_HEADER
#include "icount.h"
#include "m4_case.h"
#include "reds_budget.h"
#include "semihost.h"

static int32_t multiplier[M4_NUM_CASES][M4_MAX_OUT_C], shift[M4_NUM_CASES][M4_MAX_OUT_C];
static reds_requant_ch requant_ch[M4_NUM_CASES][M4_MAX_OUT_C];
static m4_op_state states[M4_NUM_CASES];
static int8_t output[M4_MAX_OUT_ELEMS];

typedef struct {
    const m4_case *c;
    const m4_op_state *st;
    int status;
} eval_call;

static void run_eval(void *p)
{
    eval_call *e = p;
    e->status = m4_case_eval(e->c, e->st, e->c->input, output);
}

typedef void (*icount_fn)(void *);

/* "op=I budget=K<key>V", the start of one result line */
static void put_op_value(int i, int k, const char *key, uint32_t v)
{
    m4_puts("op=");
    m4_put_i32(i);
    m4_puts(" budget=");
    m4_put_i32(k);
    m4_puts(key);
    m4_put_u32(v);
}

/* Stack bytes one call uses below its caller's stack pointer: the free stack under this frame is painted with a
 * pattern, the call runs, and the lowest word that no longer holds the pattern is its deepest write (a separate
 * call from the counted one, so painting costs no counted instructions). */
#ifndef M4_BENCH_BUDGET /* not in the profiling build, whose trace attributes every run_eval to its op */
#define STACK_PAINT 0xA5C3E10Fu
extern uint32_t __stack_bottom[];
static __attribute__((noinline)) uint32_t stack_bytes(void (*fn)(void *), void *arg)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    uint32_t *const top = sp - 16; /* a margin for the painting loop's own spills */
    for (uint32_t *p = __stack_bottom; p < top; ++p) *p = STACK_PAINT;
    fn(arg);
    uint32_t *low = __stack_bottom;
    while (low < top && *low == STACK_PAINT) ++low;
    return (uint32_t)((uintptr_t)sp - (uintptr_t)low);
}
#endif

int main(void)
{
    m4_icount_init();
    reds_budget_reset();
    for (int i = 0; i < M4_NUM_CASES; ++i) {
        const int s = m4_case_prepare(&m4_cases[i], &states[i], multiplier[i], shift[i], requant_ch[i]);
        if (s != REDS_OK) {
            m4_puts("FAIL prepare ");
            m4_puts(m4_cases[i].name);
            m4_put_kv(" status", s);
            return 2;
        }
    }
    const int n = reds_budget_count();
    /* reds_set_budget(int) is called directly as the measured function: its argument arrives in r0 like the
     * void * of the measuring interface, so the count is reds_set_budget's own instructions, call to return. */
    const icount_fn set_budget = (icount_fn)(void (*)(void))reds_set_budget;
    m4_put_kv("set_budget", (int32_t)m4_icount_call(set_budget, (void *)(uintptr_t)(n > 1 ? 1 : 0)));
    m4_put_kv("budgets", n);
    int failures = 0;
    for (int k = 0; k < n; ++k) {
#ifdef M4_BENCH_BUDGET /* profiling (qemu -d exec): one budget only */
        if (k != M4_BENCH_BUDGET) continue;
#endif
        if (reds_set_budget(k) != REDS_OK) return 3;
        for (int i = 0; i < M4_NUM_CASES; ++i) {
            eval_call e = {&m4_cases[i], &states[i], -99};
            const uint32_t count = m4_icount_call(run_eval, &e);
            put_op_value(i, k, " instructions=", count);
            m4_puts(" status=");
            m4_put_i32(e.status);
            m4_puts("\n");
            failures += e.status != REDS_OK;
#ifndef M4_BENCH_BUDGET
            /* the same evaluation once more on a painted stack, outside the counted call */
            put_op_value(i, k, " stack=", stack_bytes(run_eval, &e));
            m4_puts("\n");
            failures += e.status != REDS_OK;
#endif
        }
    }
    m4_put_kv("failures", failures);
    return failures == 0 ? 0 : 1;
}
