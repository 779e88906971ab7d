/* Geometry and requantisation set-up shared by the op files; runs at prepare time only. */
#include <stddef.h>

#include "reds_ops.h"
#include "reds_ops_internal.h"

int32_t reds_conv_out_size(int32_t padding, int32_t in_size, int32_t filter_size, int32_t stride,
                           int32_t dilation) {
  /* TFLM ComputeOutSize. */
  const int32_t effective = (filter_size - 1) * dilation + 1;
  if (stride <= 0) return 0;
  if (padding == REDS_PADDING_SAME) return (in_size + stride - 1) / stride;
  if (padding == REDS_PADDING_VALID) return (in_size + stride - effective) / stride;
  return 0;
}

/* TFLM ComputePaddingWithOffset, keeping only the leading padding (the reference kernels ignore the offset). */
static int32_t leading_padding(int32_t stride, int32_t dilation, int32_t in_size, int32_t filter_size,
                               int32_t out_size) {
  const int32_t effective = (filter_size - 1) * dilation + 1;
  int32_t total = (out_size - 1) * stride + effective - in_size;
  total = total > 0 ? total : 0;
  return total / 2;
}

/* Extents are bounded so that every index product of the kernels fits in int32. */
#define REDS_MAX_DIM (1 << 20)

/* Effective (dilated) filter extent bound: extent + position stays far below INT32_MAX. */
#define REDS_MAX_EXTENT (1 << 28)

static int dim_ok(int32_t v) { return v >= 1 && v <= REDS_MAX_DIM; }

int reds_conv_geometry(reds_conv_dims *d, int depthwise) {
  if (d == NULL) return REDS_ERR_ARG;
  if (!dim_ok(d->batches) || !dim_ok(d->in_h) || !dim_ok(d->in_w) || !dim_ok(d->in_c) || !dim_ok(d->out_c) ||
      !dim_ok(d->filter_h) || !dim_ok(d->filter_w) || !dim_ok(d->out_h) || !dim_ok(d->out_w))
    return REDS_ERR_SHAPE;
  if (d->stride_h < 1 || d->stride_w < 1 || d->dilation_h < 1 || d->dilation_w < 1 ||
      d->stride_h > REDS_MAX_DIM || d->stride_w > REDS_MAX_DIM || d->dilation_h > REDS_MAX_DIM ||
      d->dilation_w > REDS_MAX_DIM)
    return REDS_ERR_VALUE;
  if (d->padding != REDS_PADDING_SAME && d->padding != REDS_PADDING_VALID) return REDS_ERR_VALUE;
  /* Effective filter extents (filter - 1) * dilation + 1 must fit comfortably in int32: TFLM computes them in int,
   * and the kernels add them to positions (reds_tap_range). */
  if ((int64_t)(d->filter_h - 1) * d->dilation_h + 1 > REDS_MAX_EXTENT ||
      (int64_t)(d->filter_w - 1) * d->dilation_w + 1 > REDS_MAX_EXTENT)
    return REDS_ERR_VALUE;
  if (depthwise && d->out_c != d->in_c) return REDS_ERR_SHAPE;
  /* Element counts must fit in int32 (the kernels index with int32). */
  const int64_t in_elems = (int64_t)d->batches * d->in_h * d->in_w * d->in_c;
  const int64_t out_elems = (int64_t)d->batches * d->out_h * d->out_w * d->out_c;
  const int64_t w_elems = (int64_t)(depthwise ? 1 : d->out_c) * d->filter_h * d->filter_w * d->in_c;
  if (in_elems > INT32_MAX || out_elems > INT32_MAX || w_elems > INT32_MAX) return REDS_ERR_SHAPE;
  const int32_t oh = reds_conv_out_size(d->padding, d->in_h, d->filter_h, d->stride_h, d->dilation_h);
  const int32_t ow = reds_conv_out_size(d->padding, d->in_w, d->filter_w, d->stride_w, d->dilation_w);
  if (oh != d->out_h || ow != d->out_w) return REDS_ERR_SHAPE;
  d->pad_h = leading_padding(d->stride_h, d->dilation_h, d->in_h, d->filter_h, d->out_h);
  d->pad_w = leading_padding(d->stride_w, d->dilation_w, d->in_w, d->filter_w, d->out_w);
  return REDS_OK;
}

int reds_fc_dims_check(const reds_fc_dims *d) {
  if (d == NULL) return REDS_ERR_ARG;
  if (!dim_ok(d->batches) || !dim_ok(d->in_repeat) || !dim_ok(d->in_channels) || !dim_ok(d->out_channels))
    return REDS_ERR_SHAPE;
  const int64_t row = (int64_t)d->in_repeat * d->in_channels;
  if (row * d->batches > INT32_MAX || row * d->out_channels > INT32_MAX ||
      (int64_t)d->batches * d->out_channels > INT32_MAX)
    return REDS_ERR_SHAPE;
  return REDS_OK;
}

int reds_options_check_fc(const reds_options *o, const reds_fc_dims *d) {
  if (o == NULL || d == NULL) return REDS_ERR_ARG;
  if (o->op != REDS_OP_FC) return REDS_ERR_ARG;
  if (o->in_repeat != d->in_repeat || o->in_channels != d->in_channels) return REDS_ERR_SHAPE;
  for (int32_t k = 0; k < o->budgets; ++k)
    if (o->out_widths[k] > d->out_channels || o->in_widths[k] > d->in_channels) return REDS_ERR_WIDTH;
  return REDS_OK;
}

int reds_options_check_conv(const reds_options *o, const reds_conv_dims *d) {
  if (o == NULL || d == NULL) return REDS_ERR_ARG;
  if (o->op != REDS_OP_CONV && o->op != REDS_OP_DWCONV) return REDS_ERR_ARG;
  if (o->in_channels != d->in_c) return REDS_ERR_SHAPE;
  if (o->op == REDS_OP_DWCONV && d->out_c != d->in_c) return REDS_ERR_SHAPE;
  if (o->stride_h != d->stride_h || o->stride_w != d->stride_w || o->dilation_h != d->dilation_h ||
      o->dilation_w != d->dilation_w || o->padding != d->padding)
    return REDS_ERR_VALUE;
  for (int32_t k = 0; k < o->budgets; ++k)
    if (o->out_widths[k] > d->out_c || o->in_widths[k] > d->in_c) return REDS_ERR_WIDTH;
  return REDS_OK;
}

int reds_prepare_requant_s8(int32_t out_c, const reds_quant_params_s8 *qp, int float_product, reds_requant_s8 *rq) {
  if (qp == NULL || rq == NULL || rq->multiplier == NULL || rq->shift == NULL || qp->filter_scales == NULL)
    return REDS_ERR_ARG;
  if (qp->num_filter_scales != 1 && qp->num_filter_scales != out_c) return REDS_ERR_QUANT;
  if (qp->filter_zero_point != 0) return REDS_ERR_QUANT;
  if (!(qp->input_scale > 0.0f) || !(qp->output_scale > 0.0f)) return REDS_ERR_QUANT;
  if (qp->input_zero_point < -128 || qp->input_zero_point > 127 || qp->output_zero_point < -128 ||
      qp->output_zero_point > 127)
    return REDS_ERR_QUANT;
  for (int32_t i = 0; i < qp->num_filter_scales; ++i)
    if (!(qp->filter_scales[i] >= 0.0f)) return REDS_ERR_QUANT;
  const int st = reds_activation_range_s8(qp->activation, qp->output_scale, qp->output_zero_point, &rq->act_min,
                                          &rq->act_max);
  if (st != REDS_OK) return st;
  rq->input_offset = -qp->input_zero_point;
  rq->output_offset = qp->output_zero_point;
  for (int32_t i = 0; i < out_c; ++i) {
    const float fs = qp->filter_scales[qp->num_filter_scales == 1 ? 0 : i];
    double real;
    if (float_product) {
      /* TFLM GetQuantizedConvolutionMultipler: static_cast<double>(input_scale * filter_scale) / output_scale. */
      const float prod = qp->input_scale * fs;
      real = (double)prod / (double)qp->output_scale;
    } else {
      /* TFLM PopulateConvolutionQuantizationParams / per-channel FC: the product in double. */
      real = (double)qp->input_scale * (double)fs / (double)qp->output_scale;
    }
    reds_quantize_multiplier(real, &rq->multiplier[i], &rq->shift[i]);
  }
  rq->fast = 0;
#if !REDS_SINGLE_ROUNDING
  if (rq->ch != NULL && rq->act_min == -128 && rq->act_max == 127) {
    int ok = 1;
    for (int32_t i = 0; i < out_c && ok; ++i)
      ok = reds_make_requant_ch(rq->multiplier[i], rq->shift[i], rq->output_offset, &rq->ch[i]);
    rq->fast = ok;
  }
#endif
  return REDS_OK;
}
