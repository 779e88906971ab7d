/* The measuring loop of the example firmware, in plain C so it builds and is tested on the host.
 *
 * The board supplies three hooks (a free-running tick counter, "set budget k", "run one inference"); the loop
 * times the empty measurement (timer overhead), the cost of switching the budget, and `repeats` inferences per
 * budget, and keeps the medians. Everything it needs lives in caller-owned memory. */
#ifndef REDS_BENCH_H_
#define REDS_BENCH_H_

#include <stdint.h>

#include "reds_budget.h"
#include "reds_policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REDS_BENCH_MAX_REPEATS 32

typedef struct {
  uint32_t (*ticks)(void *ctx);            /* free-running 32-bit counter (DWT CYCCNT, micros(), ...) */
  int (*set_budget)(void *ctx, int k);     /* reds_set_budget(k) or a wrapper; REDS_OK on success */
  int (*invoke)(void *ctx);                /* one inference at the active budget; 0 on success */
  void *ctx;
} reds_bench_hooks;

typedef struct {
  int n;                                   /* budgets measured */
  uint32_t overhead_ticks;                 /* median of an empty measurement, subtracted from the others */
  uint32_t set_budget_ticks;               /* median cost of one set_budget call */
  uint32_t invoke_ticks[REDS_MAX_BUDGETS]; /* median latency of one inference per budget */
} reds_bench_result;

/* Measure budgets 0..n-1 with `repeats` (1..REDS_BENCH_MAX_REPEATS) samples each; leaves the budget at 0.
 * Returns REDS_OK; REDS_ERR_ARG for a NULL argument or hook, n outside 1..REDS_MAX_BUDGETS or repeats out of
 * range; the hook's status when set_budget or invoke fails (measurement stops there). */
int reds_bench_run(const reds_bench_hooks *hooks, int n, int repeats, reds_bench_result *out);

/* Fill table rows from a result and the model's budget table (fraction and MACs per budget, n entries). */
int reds_bench_rows(const reds_bench_result *res, const float *fraction, const uint32_t *macs,
                    reds_budget_row *rows);

#ifdef __cplusplus
}
#endif

#endif /* REDS_BENCH_H_ */
