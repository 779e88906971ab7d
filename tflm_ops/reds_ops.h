/* The REDS operators: FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D over a prefix of the channels.
 *
 * Every op has a prepare step, run once (e.g. from a TFLM op's Prepare), which validates the geometry and
 * computes everything that does not depend on the data (padding, per-channel requantisation multipliers and
 * shifts, the activation clamp) into caller-owned structs and arrays; and an eval step that only computes.
 *
 * Uniform eval signature: (dims, quant or activation, input, weights, bias (may be NULL), output,
 * out_width, in_width). Eval computes output channels 0..out_width-1 from input channels 0..in_width-1 only
 * (reading the full-width tensors with their full row strides, no copies), and writes the output zero point
 * (int8) or 0.0f (float32) into output channels out_width..out_channels-1. The result on the active channels
 * equals, bit for bit, what TFLM's reference kernels compute on the same layer sliced to those widths.
 *
 * Memory: nothing is allocated; every pointer is borrowed for the duration of the call, except the
 * multiplier/shift arrays of reds_requant_s8, which the caller owns and must keep alive from prepare to the
 * last eval (out_channels int32 entries each). All functions are reentrant; none touches the budget register.
 *
 * Layouts (row-major, as TFLite): FC input [batches, in_repeat * in_channels], weights [out_channels,
 * in_repeat * in_channels], output [batches, out_channels]. Conv input NHWC, weights [out_c, kh, kw, in_c],
 * output NHWC. DW input NHWC, weights [1, kh, kw, c], output NHWC with out_c == in_c (depth multiplier 1). */
#ifndef REDS_OPS_H_
#define REDS_OPS_H_

#include <stdint.h>

#include "reds_options.h"
#include "reds_quant.h"
#include "reds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t batches;      /* rows of the flattened input */
  int32_t in_repeat;    /* blocks per row (spatial positions of a flattened NHWC tensor), >= 1 */
  int32_t in_channels;  /* channels per block; a row has in_repeat * in_channels elements */
  int32_t out_channels;
} reds_fc_dims;

typedef struct {
  int32_t batches, in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;         /* out_c == in_c for depthwise */
  int32_t filter_h, filter_w;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t padding;                     /* REDS_PADDING_SAME / REDS_PADDING_VALID */
  int32_t pad_h, pad_w;                /* set by prepare (TFLM ComputePaddingHeightWidth) */
} reds_conv_dims;

/* Quantisation of an int8 layer, as read from the tensors (input to prepare). */
typedef struct {
  float input_scale;
  int32_t input_zero_point;
  const float *filter_scales;  /* 1 entry (per-tensor) or out_channels entries (per-channel) */
  int32_t num_filter_scales;
  int32_t filter_zero_point;   /* must be 0 (TFLite int8 weights are symmetric) */
  float output_scale;
  int32_t output_zero_point;
  int32_t activation;          /* REDS_ACT_* */
} reds_quant_params_s8;

/* One output channel's requantisation in the form eval runs fastest: TFLM's double-rounding
 * MultiplyByQuantizedMultiplier(x, multiplier, shift) for shift = -e < 0, plus the output offset z, equals
 *     (x * multiplier + round - [x < 0] * 2^31) >> (31 + e),   round = 2^30 + 2^(30 + e) + z * 2^(31 + e)
 * in 64-bit arithmetic (reds_requant_fast; derivation in reds_ops_internal.h; exact for e <= 22). */
typedef struct {
  int64_t round;
  int32_t multiplier;
  int32_t rshift; /* e - 1 */
} reds_requant_ch;

/* Everything int8 eval needs, filled by prepare. multiplier/shift point to caller-owned arrays of out_channels
 * entries; ch to an optional (NULL allowed) caller-owned array of out_channels reds_requant_ch. Set all three
 * pointers before calling prepare. With ch, prepare enables the fast requantisation (fast = 1) when every
 * channel's multiplier lies in [2^-23, 1/2) (shift in -22..-1) and the activation clamps nothing but the int8 range
 * (act_min = -128, act_max = 127: no activation, or a ReLU whose output zero point is -128, as the TFLite converter
 * quantises it). The Cortex-M4 DSP build (REDS_ARCH_CORTEX_M4) then runs 8 instead of 26 instructions per output;
 * other builds keep the general form (equally fast there). Same results either way. */
typedef struct {
  int32_t input_offset;   /* -input zero point */
  int32_t output_offset;  /* output zero point */
  int32_t act_min, act_max;
  int32_t *multiplier;
  int32_t *shift;
  reds_requant_ch *ch;
  int32_t fast;           /* set by prepare */
} reds_requant_s8;

typedef struct {
  float act_min, act_max;
} reds_act_f32;

/* TFLM ComputeOutSize: the output extent of one spatial dimension (0 if it would be empty). */
int32_t reds_conv_out_size(int32_t padding, int32_t in_size, int32_t filter_size, int32_t stride,
                           int32_t dilation);

/* Validate a conv/depthwise geometry and set pad_h/pad_w. out_h/out_w must equal what TFLM derives
 * (REDS_ERR_SHAPE otherwise). `depthwise` additionally requires out_c == in_c. */
int reds_conv_geometry(reds_conv_dims *d, int depthwise);

/* Check that parsed options fit the tensors: FC in_repeat*in_channels == row length, widths within the
 * channel counts; Conv in_channels == in_c; DW in_channels == in_c == out_c; strides/dilation/padding copied
 * from the options are the caller's business (reds_conv_dims_from_options). */
int reds_options_check_fc(const reds_options *o, const reds_fc_dims *d);
int reds_options_check_conv(const reds_options *o, const reds_conv_dims *d);

/* ---- prepare ---- */
int reds_fc_s8_prepare(const reds_fc_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq);
int reds_conv_s8_prepare(reds_conv_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq);
int reds_dwconv_s8_prepare(reds_conv_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq);
int reds_fc_f32_prepare(const reds_fc_dims *d, int32_t activation, reds_act_f32 *act);
int reds_conv_f32_prepare(reds_conv_dims *d, int32_t activation, reds_act_f32 *act);
int reds_dwconv_f32_prepare(reds_conv_dims *d, int32_t activation, reds_act_f32 *act);

/* ---- eval ---- REDS_ERR_WIDTH if out_width/in_width are outside 1..out_c / 1..in_c (DW: must be equal). */
int reds_fc_s8(const reds_fc_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
               const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width);
/* reds_conv_s8 also takes optional working memory (scratch may be NULL), reds_conv_s8_scratch_size(d, out_width,
 * in_width) bytes for these widths (0: none helps; call it after prepare): a 1x1 conv holds three pixels' widened
 * inputs there (6 x in_width bytes, in_width rounded up to a multiple of 4, + alignment; two or three pixels then
 * share every weight word), a narrow slice of a KxK conv packs its active weights there in one piece. With less,
 * the 1x1 conv goes one pixel at a time and the packing falls back to a 1 KB stack buffer and several passes. The
 * result is the same either way. TFLM: request the maximum over the budgets in Prepare. */
int32_t reds_conv_s8_scratch_size(const reds_conv_dims *d, int32_t out_width, int32_t in_width);
int reds_conv_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
                 const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width, int8_t *scratch,
                 int32_t scratch_size);
int reds_dwconv_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
                   const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width);
int reds_fc_f32(const reds_fc_dims *d, const reds_act_f32 *act, const float *input, const float *weights,
                const float *bias, float *output, int32_t out_width, int32_t in_width);
int reds_conv_f32(const reds_conv_dims *d, const reds_act_f32 *act, const float *input, const float *weights,
                  const float *bias, float *output, int32_t out_width, int32_t in_width);
int reds_dwconv_f32(const reds_conv_dims *d, const reds_act_f32 *act, const float *input, const float *weights,
                    const float *bias, float *output, int32_t out_width, int32_t in_width);

#ifdef __cplusplus
}
#endif

#endif /* REDS_OPS_H_ */
