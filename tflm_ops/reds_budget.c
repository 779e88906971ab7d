#include "reds_budget.h"

/* Two words of state; reds_set_budget is one unsigned compare and one store so that switching subnetworks costs
 * nothing measurable next to an inference. */
static int g_budget_active = 0;
static int g_budget_count = 0;

int reds_set_budget(int k) {
  /* One unsigned comparison rejects both k < 0 and k >= count (and every k while count is 0). */
  if ((unsigned)k >= (unsigned)g_budget_count) return REDS_ERR_BUDGET;
  g_budget_active = k;
  return REDS_OK;
}

int reds_get_budget(void) { return g_budget_active; }

int reds_budget_count(void) { return g_budget_count; }

int reds_budget_register(int n) {
  if (n < 1 || n > REDS_MAX_BUDGETS) return REDS_ERR_ARG;
  if (g_budget_count == 0) {
    g_budget_count = n;
    return REDS_OK;
  }
  return (g_budget_count == n) ? REDS_OK : REDS_ERR_BUDGET_MISMATCH;
}

void reds_budget_reset(void) {
  g_budget_count = 0;
  g_budget_active = 0;
}
