// The example application on a PC: the same reds_app code as the boards, with a monotonic clock as tick counter.
//
//   host_main MODEL.reds.tflite INPUT.bin OUT_PREFIX [FRACTION:MACS ...]
//
// loads the model (16-byte aligned copy), runs INPUT (raw bytes of input tensor 0) at every budget and writes
// output tensor 0 of budget k to OUT_PREFIX.k.bin (for comparison with the materialized subnetworks), then prints
// the latency table. The optional FRACTION:MACS pairs are the model's budget table (reds-tflm inspect prints it).
// Not part of the firmware builds (platformio.ini leaves it out); see docs/firmware.md for the compile command.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "reds_app.h"

extern "C" {
#include "reds_budget.h"
}

namespace {

alignas(16) unsigned char g_model[8 << 20];
unsigned char g_in[1 << 20];   // the sample: borrowed by the app for every inference
unsigned char g_out[1 << 20];

uint32_t host_ticks() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint32_t>(static_cast<uint64_t>(ts.tv_sec) * 1000000u + ts.tv_nsec / 1000);  // microseconds
}

void host_print(const char* text) { fputs(text, stdout); }

long read_file(const char* path, unsigned char* buf, size_t cap) {
  FILE* f = fopen(path, "rb");
  if (f == nullptr) return -1;
  const size_t n = fread(buf, 1, cap, f);
  const bool complete = feof(f) != 0 || fgetc(f) == EOF;
  fclose(f);
  return complete ? static_cast<long>(n) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL INPUT OUT_PREFIX [FRACTION:MACS ...]\n", argv[0]);
    return 2;
  }
  const long model_len = read_file(argv[1], g_model, sizeof g_model);
  const long in_len = read_file(argv[2], g_in, sizeof g_in);
  if (model_len <= 0 || in_len < 0) {
    fprintf(stderr, "cannot read %s\n", model_len <= 0 ? argv[1] : argv[2]);
    return 2;
  }
  const reds_app_board board = {host_ticks, 1000000u, host_print};
  const int table_n = argc - 4;
  if (reds_app_setup(&board, g_model, table_n) != 0) return 1;
  if (reds_app_set_input(g_in, static_cast<size_t>(in_len)) != 0) {
    fprintf(stderr, "%s: %ld bytes do not fit input tensor 0\n", argv[2], in_len);
    return 1;
  }
  float fraction[REDS_MAX_BUDGETS] = {0};
  uint32_t macs[REDS_MAX_BUDGETS] = {0};
  for (int k = 0; k < table_n && k < REDS_MAX_BUDGETS; ++k) {
    char* end = nullptr;
    fraction[k] = strtof(argv[4 + k], &end);
    macs[k] = (end != nullptr && *end == ':') ? static_cast<uint32_t>(strtoul(end + 1, nullptr, 10)) : 0u;
  }
  const size_t out_len = reds_app_output_bytes();
  if (out_len == 0 || out_len > sizeof g_out) return 1;
  for (int k = 0; k < reds_budget_count(); ++k) {
    char path[4096];
    if (reds_app_run_budget(k, g_out, out_len) != 0) return 1;
    snprintf(path, sizeof path, "%s.%d.bin", argv[3], k);
    FILE* f = fopen(path, "wb");
    if (f == nullptr || fwrite(g_out, 1, out_len, f) != out_len) return 1;
    fclose(f);
  }
  const int chosen = reds_app_measure(fraction, macs, 0);
  return chosen >= 0 ? 0 : 1;
}
