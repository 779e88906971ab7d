// TFLM registration of the REDS custom operators (REDS_FC, REDS_Conv, REDS_DWConv).
//
//   static tflite::MicroMutableOpResolver<8> resolver;   // 3 REDS ops + the builtins your model uses
//   reds::AddRedsOps(resolver);
//   ... interpreter.AllocateTensors();                  // every REDS op registers the model's budget count
//   reds_set_budget(k);                                 // then switch subnetworks between invocations
//
// Works with both TFLM APIs users meet, chosen at compile time: current TFLM (TFLMRegistration) and the older
// TfLiteRegistration-based API of the Arduino_TensorFlowLite library. The choice is automatic (the header
// tensorflow/lite/micro/micro_common.h exists only with TFLMRegistration); define REDS_TFLM_LEGACY_API to 0 or 1
// to force it.
#ifndef REDS_TFLM_H_
#define REDS_TFLM_H_

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

extern "C" {
#include "reds_budget.h"
}

#ifndef REDS_TFLM_LEGACY_API
#if defined(__has_include)
#if __has_include("tensorflow/lite/micro/micro_common.h")
#define REDS_TFLM_LEGACY_API 0
#else
#define REDS_TFLM_LEGACY_API 1
#endif
#else
#define REDS_TFLM_LEGACY_API 0
#endif
#endif

namespace reds {

#if REDS_TFLM_LEGACY_API
using Registration = TfLiteRegistration;
#else
using Registration = TFLMRegistration;
#endif

// Custom codes, as written by the converter (docs/format.md).
constexpr const char* kRedsFcName = "REDS_FC";
constexpr const char* kRedsConvName = "REDS_Conv";
constexpr const char* kRedsDwConvName = "REDS_DWConv";
// Resolver slots AddRedsOps takes.
constexpr unsigned int kRedsOpCount = 3;

Registration* Register_REDS_FC();
Registration* Register_REDS_Conv();
Registration* Register_REDS_DWConv();

// Register the three REDS ops under their custom names. kTfLiteError if the resolver is full or already holds one
// of them (the resolver prints which).
template <unsigned int tOpCount>
TfLiteStatus AddRedsOps(tflite::MicroMutableOpResolver<tOpCount>& resolver) {
  if (resolver.AddCustom(kRedsFcName, Register_REDS_FC()) != kTfLiteOk) return kTfLiteError;
  if (resolver.AddCustom(kRedsConvName, Register_REDS_Conv()) != kTfLiteOk) return kTfLiteError;
  return resolver.AddCustom(kRedsDwConvName, Register_REDS_DWConv());
}

}  // namespace reds

#endif  // REDS_TFLM_H_
