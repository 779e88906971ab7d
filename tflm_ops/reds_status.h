/* Status codes shared by every function of the REDS C core. 0 is success, every error is negative. */
#ifndef REDS_STATUS_H_
#define REDS_STATUS_H_

#ifdef __cplusplus
extern "C" {
#endif

enum {
  REDS_OK = 0,
  REDS_ERR_ARG = -1,             /* NULL pointer or an argument outside its domain */
  REDS_ERR_BUDGET = -2,          /* budget index outside 0 .. count-1 (or no model registered) */
  REDS_ERR_BUDGET_MISMATCH = -3, /* an op declares a number of budgets different from an earlier op */
  REDS_ERR_FLEX = -10,           /* custom options are not a well-formed FlexBuffer (truncated, bad offset) */
  REDS_ERR_NOT_MAP = -11,        /* the FlexBuffer root is not a map */
  REDS_ERR_MISSING_KEY = -12,    /* a required key is absent */
  REDS_ERR_TYPE = -13,           /* a value has the wrong FlexBuffer type */
  REDS_ERR_LENGTH = -14,         /* a widths vector does not have `budgets` entries, or budgets outside 1..16 */
  REDS_ERR_WIDTH = -15,          /* a width < 1 or larger than its tensor dimension */
  REDS_ERR_NESTING = -16,        /* widths increase with the budget index */
  REDS_ERR_VERSION = -17,        /* unknown major format version */
  REDS_ERR_VALUE = -18,          /* another option out of range (activation, padding, stride, ...) */
  REDS_ERR_SHAPE = -20,          /* tensor dimensions inconsistent with each other or with the options */
  REDS_ERR_QUANT = -21           /* quantisation parameters unusable (scale <= 0, filter zero point != 0, ...) */
};

/* A static, human-readable name for a status code (never NULL). */
const char *reds_status_str(int status);

#ifdef __cplusplus
}
#endif

#endif /* REDS_STATUS_H_ */
