/* Runs every C unit test of the REDS core and prints 'N passed, N failed'. Exit status 1 if any failed.
 * An optional argument runs only the tests whose name contains it. */
#include <stdio.h>
#include <string.h>

#include "reds_test.h"

int reds_test_current_failed = 0;

int main(int argc, char **argv) {
  const reds_test_case *tables[] = {reds_tests_budget, reds_tests_quant, reds_tests_options, reds_tests_ops,
                                    reds_tests_requant};
  int passed = 0, failed = 0;
  for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); ++t) {
    for (const reds_test_case *c = tables[t]; c->name != NULL; ++c) {
      if (argc > 1 && strstr(c->name, argv[1]) == NULL) continue;
      reds_test_current_failed = 0;
      c->fn();
      if (reds_test_current_failed) {
        printf("FAIL %s\n", c->name);
        ++failed;
      } else {
        ++passed;
      }
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
