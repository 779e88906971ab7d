#include "reds_bench.h"

#include <stddef.h>

typedef enum { MEASURE_NOTHING, MEASURE_SET_BUDGET, MEASURE_INVOKE } measure_kind;

/* Median duration of `repeats` timed actions; the timer's own cost is subtracted (never below 0). */
static int time_median(const reds_bench_hooks *h, int repeats, uint32_t overhead, int k, measure_kind kind,
                       uint32_t *median) {
  uint32_t samples[REDS_BENCH_MAX_REPEATS];
  int i;
  for (i = 0; i < repeats; ++i) {
    int status = REDS_OK;
    uint32_t t0 = h->ticks(h->ctx), dt;
    if (kind == MEASURE_SET_BUDGET) {
      status = h->set_budget(h->ctx, k);
    } else if (kind == MEASURE_INVOKE) {
      status = h->invoke(h->ctx);
    }
    dt = reds_ticks_between(t0, h->ticks(h->ctx));
    if (status != REDS_OK) return status;
    samples[i] = dt > overhead ? dt - overhead : 0;
  }
  *median = reds_median_u32(samples, repeats);
  return REDS_OK;
}

int reds_bench_run(const reds_bench_hooks *hooks, int n, int repeats, reds_bench_result *out) {
  int k, status;
  if (hooks == NULL || out == NULL || hooks->ticks == NULL || hooks->set_budget == NULL || hooks->invoke == NULL ||
      n < 1 || n > REDS_MAX_BUDGETS || repeats < 1 || repeats > REDS_BENCH_MAX_REPEATS)
    return REDS_ERR_ARG;
  out->n = n;
  /* timing nothing gives the cost of reading the counter twice, removed from every other sample */
  status = time_median(hooks, repeats, 0, 0, MEASURE_NOTHING, &out->overhead_ticks);
  /* switching to the budget that is already active costs the same as any other switch: one compare, one store */
  if (status == REDS_OK) status = time_median(hooks, repeats, out->overhead_ticks, n - 1, MEASURE_SET_BUDGET,
                                               &out->set_budget_ticks);
  for (k = 0; k < n && status == REDS_OK; ++k) {
    status = hooks->set_budget(hooks->ctx, k);
    /* the first inference after a switch is timed like every other: the budget register holds no cache */
    if (status == REDS_OK)
      status = time_median(hooks, repeats, out->overhead_ticks, k, MEASURE_INVOKE, &out->invoke_ticks[k]);
  }
  if (status == REDS_OK) status = hooks->set_budget(hooks->ctx, 0);
  return status;
}

int reds_bench_rows(const reds_bench_result *res, const float *fraction, const uint32_t *macs,
                    reds_budget_row *rows) {
  int k;
  if (res == NULL || fraction == NULL || macs == NULL || rows == NULL || res->n < 1 || res->n > REDS_MAX_BUDGETS)
    return REDS_ERR_ARG;
  for (k = 0; k < res->n; ++k) {
    rows[k].fraction = fraction[k];
    rows[k].macs = macs[k];
    rows[k].ticks = res->invoke_ticks[k];
  }
  return REDS_OK;
}
