/* Budget policy: which subnetwork fits a deadline, from latencies the application measured on its own board.
 *
 * Plain C99, no TFLM, no heap: the firmware measures one latency per budget (timer ticks: DWT cycles on a
 * Cortex-M4, microseconds elsewhere), then asks reds_select_budget for the largest subnetwork (lowest k) whose
 * latency fits. Helpers convert ticks to microseconds and format the table printed on the serial port. */
#ifndef REDS_POLICY_H_
#define REDS_POLICY_H_

#include <stddef.h>
#include <stdint.h>

#include "reds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Positive (not an error): no budget meets the deadline; the selected k is the fastest budget instead. */
#define REDS_POLICY_MISS 1

/* Pick the lowest k (the largest subnetwork) with latency[k] <= deadline, same unit for both.
 * Latencies need not be monotonic (measurements are noisy): the scan takes the first k that fits.
 * Returns REDS_OK with *k_out set; REDS_POLICY_MISS when nothing fits, with *k_out = the budget of smallest
 * latency (lowest k on ties) so the caller always has a defined budget to run; REDS_ERR_ARG when latency or
 * k_out is NULL or n is outside 1..REDS_MAX_BUDGETS (*k_out untouched). */
int reds_select_budget(const uint32_t *latency, int n, uint32_t deadline, int *k_out);

/* Ticks elapsed from start to end of a free-running 32-bit counter (correct across one wrap-around). */
uint32_t reds_ticks_between(uint32_t start, uint32_t end);

/* ticks at tick_hz -> microseconds, rounded to nearest, saturating at UINT32_MAX; 0 when tick_hz is 0. */
uint32_t reds_ticks_to_us(uint32_t ticks, uint32_t tick_hz);

/* microseconds -> ticks at tick_hz, rounded down (a deadline must not grow), saturating at UINT32_MAX. */
uint32_t reds_us_to_ticks(uint32_t us, uint32_t tick_hz);

/* Median of v[0..n-1] (sorts v in place; the lower middle element for even n); 0 when v is NULL or n < 1. */
uint32_t reds_median_u32(uint32_t *v, int n);

/* One line of the budget table. */
typedef struct {
  float fraction; /* MAC fraction of the full network, from the model's budget table */
  uint32_t macs;  /* multiply-accumulates of this subnetwork */
  uint32_t ticks; /* measured latency of one inference */
} reds_budget_row;

/* Write the table ("k  frac      MACs     ticks       us  fit") into buf (always NUL-terminated when cap > 0),
 * one line per budget, marking the budgets whose latency fits deadline_us and the selected one (-1: none).
 * Uses no floating-point printf (newlib-nano lacks it). Returns the length the full table needs, excluding the
 * NUL, like snprintf: the table was truncated when the result is >= cap. REDS_ERR_ARG for NULL rows, n outside
 * 1..REDS_MAX_BUDGETS, or buf NULL with cap > 0. */
int reds_format_table(char *buf, size_t cap, const reds_budget_row *rows, int n, uint32_t tick_hz,
                      uint32_t deadline_us, int selected);

#ifdef __cplusplus
}
#endif

#endif /* REDS_POLICY_H_ */
