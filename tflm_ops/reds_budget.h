/* The REDS budget register: one global "active budget" read by every REDS op at Eval.
 *
 * Life cycle: each REDS op's Prepare calls reds_budget_register(n) with its model's number of budgets; all ops
 * of a model must agree. After the interpreter is prepared (AllocateTensors), the application selects a
 * subnetwork with reds_set_budget(k), 0 <= k < reds_budget_count(); k = 0 is the full network. Before any op
 * registered, the count is 0 and every reds_set_budget call fails. reds_budget_reset() forgets the count (and
 * sets the budget back to 0): call it before preparing a different model. The register is not thread-safe; on a
 * microcontroller set it between invocations, never during one. */
#ifndef REDS_BUDGET_H_
#define REDS_BUDGET_H_

#include "reds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REDS_MAX_BUDGETS 16

/* Select budget k. Returns REDS_OK, or REDS_ERR_BUDGET (active budget unchanged) if k < 0 or k >= count. */
int reds_set_budget(int k);

/* The active budget index (0 until set). */
int reds_get_budget(void);

/* Number of budgets registered by the model's ops (0 before any op was prepared). */
int reds_budget_count(void);

/* Called by each REDS op's Prepare: declare the model's number of budgets n (1..REDS_MAX_BUDGETS).
 * REDS_ERR_ARG for n out of range, REDS_ERR_BUDGET_MISMATCH if an earlier op registered another n. */
int reds_budget_register(int n);

/* Forget the registered count and reset the active budget to 0 (new model, tests). */
void reds_budget_reset(void);

#ifdef __cplusplus
}
#endif

#endif /* REDS_BUDGET_H_ */
