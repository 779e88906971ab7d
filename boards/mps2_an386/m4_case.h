/* One REDS int8 op as the host generator emits it (m4gen.py), and the glue that prepares and runs it through the
 * C core the way a TFLM kernel does: parse the custom options, validate them against the tensors, prepare the
 * requantisation once, and at eval read the active budget from the global register. */
#ifndef M4_CASE_H
#define M4_CASE_H

#include <stdint.h>

#include "reds_ops.h"
#include "reds_options.h"

/* Working memory of a narrow conv slice's packed weights (reds_conv_s8_scratch_size); a TFLM kernel takes it
 * from the arena, sized for its own widths. */
#ifndef M4_CONV_SCRATCH_BYTES
#define M4_CONV_SCRATCH_BYTES 16384
#endif

typedef struct {
    const char *name;
    int32_t op;                     /* REDS_OP_* */
    const uint8_t *options;         /* FlexBuffer custom options, as in the .tflite */
    uint32_t options_len;
    int32_t in_h, in_w, in_c;       /* FC: in_h = 1, in_w = in_repeat, in_c = channels per block */
    int32_t out_h, out_w, out_c;    /* FC: 1, 1, out_channels */
    int32_t filter_h, filter_w;     /* FC: 1, 1 */
    float in_scale;
    int32_t in_zp;
    const float *w_scales;
    int32_t n_w_scales;
    float out_scale;
    int32_t out_zp;
    const int8_t *input;            /* the op's input (full width) */
    const int8_t *weights;
    const int32_t *bias;
    const int8_t *expected;         /* [budgets][out elements] reference, or NULL */
    uint32_t macs[16];              /* MACs per budget (bench), 0 if unused */
} m4_case;

typedef struct {
    reds_options opts;
    reds_fc_dims fc;
    reds_conv_dims conv;
    reds_requant_s8 rq;
} m4_op_state;

/* multiplier/shift: caller-owned arrays of at least c->out_c entries; ch: the same for the fast requantisation
 * (NULL: the general form only). Returns REDS_OK or the first error. */
int m4_case_prepare(const m4_case *c, m4_op_state *st, int32_t *multiplier, int32_t *shift, reds_requant_ch *ch);

/* Evaluate at the budget in the global register (reds_get_budget()), from `input` into `output`. */
int m4_case_eval(const m4_case *c, const m4_op_state *st, const int8_t *input, int8_t *output);

static inline uint32_t m4_case_out_elems(const m4_case *c)
{
    return (uint32_t)c->out_h * (uint32_t)c->out_w * (uint32_t)c->out_c;
}

static inline uint32_t m4_case_in_elems(const m4_case *c)
{
    return (uint32_t)c->in_h * (uint32_t)c->in_w * (uint32_t)c->in_c;
}

#endif
