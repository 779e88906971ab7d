// TFLM adapter of the REDS ops: Init parses the custom options once, Prepare checks the tensors and precomputes the
// requantisation into persistent arena memory, Eval reads the budget register and calls the C core. Every decision
// (option validity, geometry, quantisation, the computation) lives in the core; this file only moves TFLM's
// tensors into the core's plain structs. The same code serves both TFLM APIs: only the registration type differs.
#include "reds_tflm.h"

#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

extern "C" {
#include "reds_ops.h"
#include "reds_options.h"
#include "reds_status.h"
}

namespace reds {
namespace {

constexpr int kInput = 0, kWeights = 1, kBias = 2, kOutput = 0;
const char* const kNames[] = {kRedsFcName, kRedsConvName, kRedsDwConvName};  // indexed by REDS_OP_*

// Per-node state in persistent arena memory (plain data: zero-initialised, never destroyed).
struct OpData {
  int op;            // REDS_OP_*, fixed by the registration
  int parse_status;  // of the custom options, reported by Prepare (Init cannot fail with a message)
  reds_options opts;
  TfLiteType type;
  reds_fc_dims fc;
  reds_conv_dims conv;
  reds_requant_s8 rq;
  reds_act_f32 act;
  int scratch_index;      // int8 conv: arena scratch for a narrow slice's packed weights, -1 when none
  int32_t scratch_bytes;  // its size: the largest reds_conv_s8_scratch_size over the budgets
};

void* Init(TfLiteContext* context, const char* buffer, size_t length, int op) {
  auto* d = static_cast<OpData*>(context->AllocatePersistentBuffer(context, sizeof(OpData)));
  if (d == nullptr) return nullptr;
  *d = OpData();
  d->op = op;
  d->scratch_index = -1;
  d->parse_status = reds_options_parse(reinterpret_cast<const uint8_t*>(buffer), length, op, 0, &d->opts);
  return d;
}
void* InitFc(TfLiteContext* c, const char* b, size_t n) { return Init(c, b, n, REDS_OP_FC); }
void* InitConv(TfLiteContext* c, const char* b, size_t n) { return Init(c, b, n, REDS_OP_CONV); }
void* InitDwConv(TfLiteContext* c, const char* b, size_t n) { return Init(c, b, n, REDS_OP_DWCONV); }

int64_t Elements(const TfLiteTensor* t) {
  int64_t n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= t->dims->data[i];
  return n;
}

// Fill the core's dims from the tensors and check that weights, bias and output have the shapes Eval will index.
int PrepareShapes(OpData* d, const TfLiteTensor* in, const TfLiteTensor* w, const TfLiteTensor* b,
                  const TfLiteTensor* out) {
  const TfLiteIntArray *id = in->dims, *wd = w->dims, *od = out->dims;
  int32_t out_c;
  int st;
  if (d->op == REDS_OP_FC) {
    if (wd->size != 2 || wd->data[1] < 1 || Elements(in) % wd->data[1] != 0) return REDS_ERR_SHAPE;
    if (int64_t{d->opts.in_repeat} * d->opts.in_channels != wd->data[1]) return REDS_ERR_SHAPE;
    out_c = wd->data[0];
    d->fc = {static_cast<int32_t>(Elements(in) / wd->data[1]), d->opts.in_repeat, d->opts.in_channels, out_c};
    if (Elements(out) != int64_t{d->fc.batches} * out_c) return REDS_ERR_SHAPE;
    st = reds_options_check_fc(&d->opts, &d->fc);
  } else {
    const bool dw = d->op == REDS_OP_DWCONV;
    if (id->size != 4 || wd->size != 4 || od->size != 4 || od->data[0] != id->data[0]) return REDS_ERR_SHAPE;
    out_c = od->data[3];
    if (wd->data[0] != (dw ? 1 : out_c) || wd->data[3] != (dw ? out_c : id->data[3])) return REDS_ERR_SHAPE;
    d->conv = {id->data[0], id->data[1], id->data[2], id->data[3], od->data[1], od->data[2], out_c,
               wd->data[1], wd->data[2], d->opts.stride_h, d->opts.stride_w, d->opts.dilation_h,
               d->opts.dilation_w, d->opts.padding, 0, 0};
    st = reds_conv_geometry(&d->conv, dw ? 1 : 0);
    if (st == REDS_OK) st = reds_options_check_conv(&d->opts, &d->conv);
  }
  if (st == REDS_OK && b != nullptr && Elements(b) != out_c) st = REDS_ERR_SHAPE;
  return st;
}

int PrepareQuant(TfLiteContext* context, OpData* d, const TfLiteTensor* in, const TfLiteTensor* w,
                 const TfLiteTensor* out) {
  const int32_t out_c = d->op == REDS_OP_FC ? d->fc.out_channels : d->conv.out_c;
  if (d->type == kTfLiteFloat32) {
    return d->op == REDS_OP_FC     ? reds_fc_f32_prepare(&d->fc, d->opts.activation, &d->act)
           : d->op == REDS_OP_CONV ? reds_conv_f32_prepare(&d->conv, d->opts.activation, &d->act)
                                   : reds_dwconv_f32_prepare(&d->conv, d->opts.activation, &d->act);
  }
  const auto* aq = static_cast<const TfLiteAffineQuantization*>(w->quantization.params);
  if (w->quantization.type != kTfLiteAffineQuantization || aq == nullptr || aq->scale == nullptr ||
      aq->zero_point == nullptr || aq->zero_point->size < 1)
    return REDS_ERR_QUANT;
  const reds_quant_params_s8 qp = {in->params.scale,  in->params.zero_point,  aq->scale->data,
                                   aq->scale->size,   aq->zero_point->data[0], out->params.scale,
                                   out->params.zero_point, d->opts.activation};
  const size_t bytes = sizeof(int32_t) * static_cast<size_t>(out_c);
  d->rq.multiplier = static_cast<int32_t*>(context->AllocatePersistentBuffer(context, bytes));
  d->rq.shift = static_cast<int32_t*>(context->AllocatePersistentBuffer(context, bytes));
  // The per-channel form of the requantisation (16 bytes a channel) that lets Eval run its fast path.
  d->rq.ch = static_cast<reds_requant_ch*>(
      context->AllocatePersistentBuffer(context, sizeof(reds_requant_ch) * static_cast<size_t>(out_c)));
  if (d->rq.multiplier == nullptr || d->rq.shift == nullptr || d->rq.ch == nullptr) return REDS_ERR_ARG;
  return d->op == REDS_OP_FC     ? reds_fc_s8_prepare(&d->fc, &qp, &d->rq)
         : d->op == REDS_OP_CONV ? reds_conv_s8_prepare(&d->conv, &qp, &d->rq)
                                 : reds_dwconv_s8_prepare(&d->conv, &qp, &d->rq);
}

// One arena scratch buffer, sized for the budget whose packed weights are largest (none when no budget packs).
int PrepareScratch(TfLiteContext* context, OpData* d) {
  int32_t most = 0;
  for (int k = 0; k < d->opts.budgets; ++k) {
    int32_t ow, iw;
    const int st = reds_options_widths(&d->opts, k, &ow, &iw);
    if (st != REDS_OK) return st;
    const int32_t n = reds_conv_s8_scratch_size(&d->conv, ow, iw);
    most = n > most ? n : most;
  }
  d->scratch_bytes = most;
  d->scratch_index = -1;
  if (most == 0) return REDS_OK;
  return context->RequestScratchBufferInArena(context, static_cast<size_t>(most), &d->scratch_index) == kTfLiteOk
             ? REDS_OK
             : REDS_ERR_ARG;
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  auto* d = static_cast<OpData*>(node->user_data);
  TF_LITE_ENSURE(context, d != nullptr && node->inputs->size >= 2 && node->outputs->size == 1);
  tflite::MicroContext* mc = tflite::GetMicroContext(context);
  TfLiteTensor* in = mc->AllocateTempInputTensor(node, kInput);
  TfLiteTensor* w = mc->AllocateTempInputTensor(node, kWeights);
  TfLiteTensor* b = mc->AllocateTempInputTensor(node, kBias);  // nullptr when the op has no bias
  TfLiteTensor* out = mc->AllocateTempOutputTensor(node, kOutput);
  int st = d->parse_status;
  if (st == REDS_OK && (in == nullptr || w == nullptr || out == nullptr)) st = REDS_ERR_ARG;
  if (st == REDS_OK) {
    d->type = in->type;
    const TfLiteType bias_type = d->type == kTfLiteInt8 ? kTfLiteInt32 : kTfLiteFloat32;
    if ((d->type != kTfLiteInt8 && d->type != kTfLiteFloat32) || w->type != d->type || out->type != d->type ||
        (b != nullptr && b->type != bias_type))
      st = REDS_ERR_TYPE;
  }
  if (st == REDS_OK) st = PrepareShapes(d, in, w, b, out);
  if (st == REDS_OK) st = PrepareQuant(context, d, in, w, out);
  if (st == REDS_OK && d->op == REDS_OP_CONV && d->type == kTfLiteInt8) st = PrepareScratch(context, d);
  if (st == REDS_OK) st = reds_budget_register(d->opts.budgets);  // all REDS ops of a model must agree on n
  for (TfLiteTensor* t : {in, w, b, out})
    if (t != nullptr) mc->DeallocateTempTfLiteTensor(t);
  if (st == REDS_OK) return kTfLiteOk;
  const char* key = d->parse_status != REDS_OK ? d->opts.error_key : nullptr;
  MicroPrintf("%s: %s%s%s", kNames[d->op], reds_status_str(st), key ? ", key " : "", key ? key : "");
  return kTfLiteError;
}

// Hot path: no strings, no allocation. A budget the options do not cover (impossible after a successful Prepare,
// since reds_set_budget only accepts k < the registered count) fails the invocation instead of reading past them.
TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const auto* d = static_cast<const OpData*>(node->user_data);
  int32_t ow, iw;
  if (reds_options_widths(&d->opts, reds_get_budget(), &ow, &iw) != REDS_OK) return kTfLiteError;
  const TfLiteEvalTensor* in = tflite::micro::GetEvalInput(context, node, kInput);
  const TfLiteEvalTensor* w = tflite::micro::GetEvalInput(context, node, kWeights);
  const TfLiteEvalTensor* b = tflite::micro::GetEvalInput(context, node, kBias);
  TfLiteEvalTensor* out = tflite::micro::GetEvalOutput(context, node, kOutput);
  int st;
  if (d->type == kTfLiteInt8) {
    const int32_t* bias = b ? b->data.i32 : nullptr;
    st = d->op == REDS_OP_FC ? reds_fc_s8(&d->fc, &d->rq, in->data.int8, w->data.int8, bias, out->data.int8, ow, iw)
         : d->op == REDS_OP_CONV
             ? reds_conv_s8(&d->conv, &d->rq, in->data.int8, w->data.int8, bias, out->data.int8, ow, iw,
                            d->scratch_index >= 0
                                ? static_cast<int8_t*>(context->GetScratchBuffer(context, d->scratch_index))
                                : nullptr,
                            d->scratch_bytes)
             : reds_dwconv_s8(&d->conv, &d->rq, in->data.int8, w->data.int8, bias, out->data.int8, ow, iw);
  } else {
    const float* bias = b ? b->data.f : nullptr;
    st = d->op == REDS_OP_FC ? reds_fc_f32(&d->fc, &d->act, in->data.f, w->data.f, bias, out->data.f, ow, iw)
         : d->op == REDS_OP_CONV ? reds_conv_f32(&d->conv, &d->act, in->data.f, w->data.f, bias, out->data.f, ow, iw)
                                 : reds_dwconv_f32(&d->conv, &d->act, in->data.f, w->data.f, bias, out->data.f, ow, iw);
  }
  return st == REDS_OK ? kTfLiteOk : kTfLiteError;
}

}  // namespace

Registration* Register_REDS_FC() {
  static Registration r = tflite::micro::RegisterOp(InitFc, Prepare, Eval);
  return &r;
}
Registration* Register_REDS_Conv() {
  static Registration r = tflite::micro::RegisterOp(InitConv, Prepare, Eval);
  return &r;
}
Registration* Register_REDS_DWConv() {
  static Registration r = tflite::micro::RegisterOp(InitDwConv, Prepare, Eval);
  return &r;
}

}  // namespace reds
