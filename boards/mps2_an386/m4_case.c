#include "m4_case.h"

#include <string.h>

#include "reds_budget.h"

int m4_case_prepare(const m4_case *c, m4_op_state *st, int32_t *multiplier, int32_t *shift, reds_requant_ch *ch)
{
    memset(st, 0, sizeof *st);
    int s = reds_options_parse(c->options, c->options_len, c->op, c->out_c, &st->opts);
    if (s != REDS_OK) return s;
    const reds_quant_params_s8 qp = {c->in_scale, c->in_zp, c->w_scales, c->n_w_scales, 0,
                                     c->out_scale, c->out_zp, st->opts.activation};
    st->rq.multiplier = multiplier;
    st->rq.shift = shift;
    st->rq.ch = ch;
    if (c->op == REDS_OP_FC) {
        st->fc.batches = 1;
        st->fc.in_repeat = c->in_w;
        st->fc.in_channels = c->in_c;
        st->fc.out_channels = c->out_c;
        if ((s = reds_options_check_fc(&st->opts, &st->fc)) != REDS_OK) return s;
        s = reds_fc_s8_prepare(&st->fc, &qp, &st->rq);
    } else {
        reds_conv_dims *d = &st->conv;
        d->batches = 1;
        d->in_h = c->in_h;
        d->in_w = c->in_w;
        d->in_c = c->in_c;
        d->out_h = c->out_h;
        d->out_w = c->out_w;
        d->out_c = c->out_c;
        d->filter_h = c->filter_h;
        d->filter_w = c->filter_w;
        d->stride_h = st->opts.stride_h;
        d->stride_w = st->opts.stride_w;
        d->dilation_h = st->opts.dilation_h;
        d->dilation_w = st->opts.dilation_w;
        d->padding = st->opts.padding;
        if ((s = reds_options_check_conv(&st->opts, d)) != REDS_OK) return s;
        s = (c->op == REDS_OP_CONV) ? reds_conv_s8_prepare(d, &qp, &st->rq) : reds_dwconv_s8_prepare(d, &qp, &st->rq);
    }
    if (s != REDS_OK) return s;
    return reds_budget_register(st->opts.budgets);
}

int m4_case_eval(const m4_case *c, const m4_op_state *st, const int8_t *input, int8_t *output)
{
    int32_t ow, iw;
    const int s = reds_options_widths(&st->opts, reds_get_budget(), &ow, &iw);
    if (s != REDS_OK) return s;
    switch (c->op) {
    case REDS_OP_FC: return reds_fc_s8(&st->fc, &st->rq, input, c->weights, c->bias, output, ow, iw);
    case REDS_OP_CONV: {
        /* The packed weights of a narrow slice, as a TFLM arena scratch buffer would hold them. */
        static int8_t scratch[M4_CONV_SCRATCH_BYTES];
        if (reds_conv_s8_scratch_size(&st->conv, ow, iw) > (int32_t)sizeof scratch) return REDS_ERR_ARG;
        return reds_conv_s8(&st->conv, &st->rq, input, c->weights, c->bias, output, ow, iw, scratch,
                            (int32_t)sizeof scratch);
    }
    default: return reds_dwconv_s8(&st->conv, &st->rq, input, c->weights, c->bias, output, ow, iw);
    }
}
