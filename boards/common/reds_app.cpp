// The example application (see reds_app.h). TFLM and the REDS adapter are used here; the arithmetic (timing loop,
// policy, table) is the plain C of reds_bench.c and reds_policy.c, tested on the host.
#include "reds_app.h"

#include <stdio.h>
#include <string.h>

#include "reds_tflm.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" {
#include "reds_bench.h"
#include "reds_budget.h"
#include "reds_policy.h"
}

namespace {

// The builtins of the example models besides the REDS ops (SHAPE, STRIDED_SLICE and PACK: a Keras Flatten with a
// dynamic batch); a project registers what its own model uses.
constexpr unsigned int kBuiltins = 17;
using Resolver = tflite::MicroMutableOpResolver<reds::kRedsOpCount + kBuiltins>;

alignas(16) uint8_t g_arena[REDS_APP_ARENA_BYTES];
tflite::MicroInterpreter* g_interpreter = nullptr;
const reds_app_board* g_board = nullptr;
int g_num_budgets = 0;
char g_text[160 + 80 * REDS_MAX_BUDGETS];
const void* g_input = nullptr;  // the caller's sample, copied in before every invocation
size_t g_input_len = 0;

void say(const char* fmt, unsigned long a, unsigned long b = 0, unsigned long c = 0) {
  snprintf(g_text, sizeof g_text, fmt, a, b, c);
  g_board->print(g_text);
}

uint32_t hook_ticks(void*) { return g_board->ticks(); }
int hook_set_budget(void*, int k) { return reds_set_budget(k); }
// TFLM's planner may reuse the input tensor's memory for later activations once the first op has read it, so the
// input is written again before every invocation (as a real application does with each new sample).
TfLiteStatus Invoke() {
  memcpy(g_interpreter->input(0)->data.raw, g_input, g_input_len);
  return g_interpreter->Invoke();
}

int hook_invoke(void*) { return Invoke() == kTfLiteOk ? 0 : -1; }

int AddOps(Resolver& r) {
  if (reds::AddRedsOps(r) != kTfLiteOk) return -1;
  const TfLiteStatus s[kBuiltins] = {
      r.AddConv2D(),      r.AddDepthwiseConv2D(), r.AddFullyConnected(), r.AddMaxPool2D(), r.AddAveragePool2D(),
      r.AddReshape(),     r.AddSoftmax(),         r.AddQuantize(),       r.AddDequantize(), r.AddAdd(),
      r.AddMean(),        r.AddPad(),             r.AddConcatenation(),  r.AddRelu(),        r.AddShape(),
      r.AddStridedSlice(), r.AddPack()};
  for (TfLiteStatus st : s)
    if (st != kTfLiteOk) return -1;
  return 0;
}

// Index of the largest element of output tensor 0 (int8 or float32), the predicted class.
unsigned long TopClass() {
  const TfLiteTensor* out = g_interpreter->output(0);
  const size_t n = out->type == kTfLiteInt8 ? out->bytes : out->bytes / sizeof(float);
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    const bool more = out->type == kTfLiteInt8 ? out->data.int8[i] > out->data.int8[best]
                                               : out->data.f[i] > out->data.f[best];
    if (more) best = i;
  }
  return static_cast<unsigned long>(best);
}

}  // namespace

extern "C" int reds_app_setup(const reds_app_board* board, const unsigned char* model_data, int num_budgets) {
  static Resolver resolver;
  if (board == nullptr || model_data == nullptr || g_interpreter != nullptr) return REDS_ERR_ARG;  // once only
  g_board = board;
  const tflite::Model* model = tflite::GetModel(model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    say("model schema version %lu, TFLM expects %lu\n", model->version(), TFLITE_SCHEMA_VERSION);
    return REDS_ERR_ARG;
  }
  if (AddOps(resolver) != 0) return REDS_ERR_ARG;
  reds_budget_reset();  // a new model: forget any earlier budget count before its ops register theirs
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena, sizeof g_arena);
  g_interpreter = &interpreter;
  const TfLiteStatus st = interpreter.AllocateTensors();
  if (st != kTfLiteOk) {
    say("AllocateTensors failed (see above; the arena is %lu bytes, REDS_APP_ARENA_BYTES)\n", sizeof g_arena);
    return -100 - static_cast<int>(st);
  }
  g_num_budgets = reds_budget_count();
  if (g_num_budgets < 1 || (num_budgets > 0 && g_num_budgets != num_budgets)) {
    say("the ops register %lu budgets, the budget table lists %lu\n", g_num_budgets, num_budgets);
    return REDS_ERR_BUDGET_MISMATCH;
  }
  say("REDS model: %lu budgets, arena %lu of %lu bytes used (the same for every budget)\n", g_num_budgets,
      interpreter.arena_used_bytes(), sizeof g_arena);
  return REDS_OK;
}

extern "C" int reds_app_set_input(const void* data, size_t len) {
  TfLiteTensor* in = g_interpreter ? g_interpreter->input(0) : nullptr;
  if (in == nullptr || data == nullptr || len != in->bytes) return REDS_ERR_ARG;
  g_input = data;
  g_input_len = len;
  return REDS_OK;
}

extern "C" size_t reds_app_output_bytes(void) { return g_interpreter ? g_interpreter->output(0)->bytes : 0; }

extern "C" int reds_app_run_budget(int k, void* out, size_t out_len) {
  if (g_interpreter == nullptr || g_input == nullptr) return REDS_ERR_ARG;
  const int st = reds_set_budget(k);
  if (st != REDS_OK) return st;
  const TfLiteStatus inv = Invoke();
  if (inv != kTfLiteOk) return -100 - static_cast<int>(inv);
  const TfLiteTensor* o = g_interpreter->output(0);
  if (out == nullptr || out_len != o->bytes) return REDS_ERR_ARG;
  memcpy(out, o->data.raw, out_len);
  return REDS_OK;
}

extern "C" int reds_app_measure(const float* fraction, const uint32_t* macs, uint32_t deadline_us) {
  if (g_interpreter == nullptr || g_input == nullptr || fraction == nullptr || macs == nullptr) return REDS_ERR_ARG;
  const reds_bench_hooks hooks = {hook_ticks, hook_set_budget, hook_invoke, nullptr};
  reds_bench_result res;
  reds_budget_row rows[REDS_MAX_BUDGETS];
  uint32_t lat_us[REDS_MAX_BUDGETS];
  int st = reds_bench_run(&hooks, g_num_budgets, REDS_APP_REPEATS, &res);
  if (st == REDS_OK) st = reds_bench_rows(&res, fraction, macs, rows);
  if (st != REDS_OK) {
    say("measurement failed: status %lu\n", static_cast<unsigned long>(-st));
    return st;
  }
  const int n = g_num_budgets;
  for (int k = 0; k < n; ++k) lat_us[k] = reds_ticks_to_us(res.invoke_ticks[k], g_board->tick_hz);
  if (deadline_us == 0) deadline_us = lat_us[n - 1] + (lat_us[0] - lat_us[n - 1]) / 2;
  int chosen = 0;
  const int pick = reds_select_budget(lat_us, n, deadline_us, &chosen);
  if (pick < 0) return pick;
  if (reds_format_table(g_text, sizeof g_text, rows, n, g_board->tick_hz, deadline_us, chosen) >= 0)
    g_board->print(g_text);
  say("reds_set_budget(): %lu ticks (%lu us at %lu Hz)\n", res.set_budget_ticks,
      reds_ticks_to_us(res.set_budget_ticks, g_board->tick_hz), g_board->tick_hz);
  for (int k = 0; k < n; ++k) {
    if (reds_set_budget(k) != REDS_OK || Invoke() != kTfLiteOk) return REDS_ERR_BUDGET;
    say("budget %lu: top class %lu\n", static_cast<unsigned long>(k), TopClass());
  }
  say(pick == REDS_OK ? "deadline %lu us: budget %lu fits\n" : "deadline %lu us: none fits, fastest is budget %lu\n",
      deadline_us, static_cast<unsigned long>(chosen));
  st = reds_set_budget(chosen);
  return st == REDS_OK ? chosen : st;
}
