#include "reds_policy.h"

#include <stdio.h>

#include "reds_budget.h"

int reds_select_budget(const uint32_t *latency, int n, uint32_t deadline, int *k_out) {
  int k, fastest = 0;
  if (latency == NULL || k_out == NULL || n < 1 || n > REDS_MAX_BUDGETS) return REDS_ERR_ARG;
  for (k = 0; k < n; ++k) {
    if (latency[k] <= deadline) {
      *k_out = k;
      return REDS_OK;
    }
    if (latency[k] < latency[fastest]) fastest = k;
  }
  *k_out = fastest;
  return REDS_POLICY_MISS;
}

uint32_t reds_ticks_between(uint32_t start, uint32_t end) {
  return end - start; /* unsigned arithmetic is modulo 2^32: one wrap of the counter is harmless */
}

uint32_t reds_ticks_to_us(uint32_t ticks, uint32_t tick_hz) {
  uint64_t us;
  if (tick_hz == 0) return 0;
  us = ((uint64_t)ticks * 1000000u + tick_hz / 2u) / tick_hz;
  return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

uint32_t reds_us_to_ticks(uint32_t us, uint32_t tick_hz) {
  uint64_t t = (uint64_t)us * tick_hz / 1000000u;
  return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

uint32_t reds_median_u32(uint32_t *v, int n) {
  int i, j;
  if (v == NULL || n < 1) return 0;
  for (i = 1; i < n; ++i) { /* insertion sort: n is a handful of repetitions */
    uint32_t x = v[i];
    for (j = i; j > 0 && v[j - 1] > x; --j) v[j] = v[j - 1];
    v[j] = x;
  }
  return v[(n - 1) / 2];
}

/* The length a table needs grows by what snprintf reports, even past cap (snprintf(NULL, 0, ...) is valid C99). */
static size_t grow(size_t len, int written) { return written > 0 ? len + (size_t)written : len; }

int reds_format_table(char *buf, size_t cap, const reds_budget_row *rows, int n, uint32_t tick_hz,
                      uint32_t deadline_us, int selected) {
  size_t len = 0;
  int k;
  if (rows == NULL || n < 1 || n > REDS_MAX_BUDGETS || (buf == NULL && cap > 0)) return REDS_ERR_ARG;
  if (cap > 0) buf[0] = '\0';
#define REDS_AT (len < cap ? buf + len : NULL), (len < cap ? cap - len : 0)
  len = grow(len, snprintf(REDS_AT, " k   frac       MACs      ticks         us  fit\n"));
  for (k = 0; k < n; ++k) {
    uint32_t us = reds_ticks_to_us(rows[k].ticks, tick_hz);
    float f = rows[k].fraction;
    /* fraction as d.ddd from an integer: newlib-nano's printf has no %f */
    unsigned long milli = (f <= 0.0f) ? 0ul : (f >= 1000.0f ? 999999ul : (unsigned long)(f * 1000.0f + 0.5f));
    len = grow(len,
               snprintf(REDS_AT, "%2d  %lu.%03lu %10lu %10lu %10lu  %s%s\n", k, milli / 1000ul, milli % 1000ul,
                        (unsigned long)rows[k].macs, (unsigned long)rows[k].ticks, (unsigned long)us,
                        us <= deadline_us ? "yes" : "no", k == selected ? "  <- selected" : ""));
  }
#undef REDS_AT
  return len > (size_t)0x7fffffff ? REDS_ERR_ARG : (int)len;
}
