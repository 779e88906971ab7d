/* A minimal test harness: CHECK records a failure and continues, so the runner can count failed tests. */
#ifndef REDS_TEST_H_
#define REDS_TEST_H_

#include <stdio.h>

extern int reds_test_current_failed;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      printf("    check failed %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
      reds_test_current_failed = 1;                                          \
    }                                                                        \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                                   \
  do {                                                                                                      \
    const long long va_ = (long long)(a), vb_ = (long long)(b);                                             \
    if (va_ != vb_) {                                                                                       \
      printf("    check failed %s:%d: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, va_, vb_);      \
      reds_test_current_failed = 1;                                                                         \
    }                                                                                                       \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
} reds_test_case;

/* Each test file exposes its table. */
extern const reds_test_case reds_tests_budget[];
extern const reds_test_case reds_tests_quant[];
extern const reds_test_case reds_tests_options[];
extern const reds_test_case reds_tests_ops[];
extern const reds_test_case reds_tests_requant[];

#endif /* REDS_TEST_H_ */
