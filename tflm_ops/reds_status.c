#include "reds_status.h"

const char *reds_status_str(int status) {
  switch (status) {
    case REDS_OK: return "ok";
    case REDS_ERR_ARG: return "invalid argument";
    case REDS_ERR_BUDGET: return "budget index out of range";
    case REDS_ERR_BUDGET_MISMATCH: return "ops declare different numbers of budgets";
    case REDS_ERR_FLEX: return "custom options are not a well-formed FlexBuffer";
    case REDS_ERR_NOT_MAP: return "custom options root is not a FlexBuffer map";
    case REDS_ERR_MISSING_KEY: return "custom options lack a required key";
    case REDS_ERR_TYPE: return "custom options value has the wrong type";
    case REDS_ERR_LENGTH: return "widths vector length does not match the number of budgets";
    case REDS_ERR_WIDTH: return "width out of range";
    case REDS_ERR_NESTING: return "widths not nested (increase with the budget index)";
    case REDS_ERR_VERSION: return "unknown custom options format version";
    case REDS_ERR_VALUE: return "custom options value out of range";
    case REDS_ERR_SHAPE: return "tensor shapes inconsistent";
    case REDS_ERR_QUANT: return "unusable quantisation parameters";
    default: return "unknown status";
  }
}
