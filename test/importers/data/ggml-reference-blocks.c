/*
 * Writes ggml-reference-blocks.json: 512 deterministic inputs and, for every block type Tiller reads, the bytes
 * ggml's quantize_row_*_ref writes for them and the floats ggml's dequantize_row_* returns for those bytes.
 * test/importers/quantize-reference.test.ts checks Tiller's decoders and test encoders against them.
 *
 * Built against ggml (github.com/ggml-org/ggml, commit d99724f2b141fed9e1a9f402213506c081433465) with its
 * quantization file alone; the few ggml functions that file references but these paths never call are stubbed:
 *
 *   gcc -O1 -ffp-contract=off -std=gnu11 -I $GGML/include -I $GGML/src -I $GGML/src/ggml-cpu \
 *       -c $GGML/src/ggml-quants.c -o quants.o
 *   gcc -O1 -ffp-contract=off -std=gnu11 -I $GGML/include -I $GGML/src -DGGML_COMMON_DECL_C \
 *       ggml-reference-blocks.c quants.o -lm -o reference-blocks
 *   ./reference-blocks > ggml-reference-blocks.json && npx prettier --write ggml-reference-blocks.json
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "ggml.h"
#include "ggml-quants.h"
#include "ggml-common.h"
#include <stdlib.h>

/* Referenced by ggml-quants.c outside the reference quantizers; never reached here. */
void ggml_abort(const char * file, int line, const char * fmt, ...) { (void)fmt; fprintf(stderr, "abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void)type; (void)ne; abort(); }
const char * ggml_type_name(enum ggml_type type) { (void)type; return "?"; }
size_t ggml_type_size(enum ggml_type type) { (void)type; abort(); }
/* Deterministic inputs: an LCG mapped to a Box-Muller normal, times 0.02, plus a few extreme rows. */
static uint32_t state = 12345;
static float uniform01(void) { state = state * 1664525u + 1013904223u; return (state + 1.0) / 4294967296.0; }
static float gaussian(void) { float u = uniform01(); float v = uniform01(); return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v); }
#define N 512
typedef void (*quant_fn)(const float *, void *, int64_t);
typedef void (*dequant_fn)(const void *, float *, int64_t);
static void dump(const char * name, size_t bytes_per_block, int block, quant_fn q, dequant_fn d, const float * x) {
  size_t nbytes = (N / block) * bytes_per_block;
  uint8_t buf[N * 4]; float y[N];
  memset(buf, 0, sizeof buf);
  q(x, buf, N); d(buf, y, N);
  printf("{\"type\":\"%s\",\"bytes\":\"", name);
  for (size_t i = 0; i < nbytes; i++) printf("%02x", buf[i]);
  printf("\",\"values\":\"");
  for (int i = 0; i < N; i++) { uint32_t bits; memcpy(&bits, &y[i], 4); printf("%08x", bits); }
  printf("\"}");
}
int main(void) {
  float x[N];
  for (int i = 0; i < N; i++) x[i] = 0.02f * gaussian();
  /* Make one super-block skewed (all positive but two) and one 32-group all zero, to reach the edge paths. */
  for (int i = 256; i < 320; i++) x[i] = fabsf(x[i]) + 0.01f;
  for (int i = 320; i < 352; i++) x[i] = 0.0f;
  printf("{\"inputs\":\"");
  for (int i = 0; i < N; i++) { uint32_t bits; memcpy(&bits, &x[i], 4); printf("%08x", bits); }
  printf("\",\"types\":[");
#define D(NAME, T, BLOCK, SUFFIX) dump(#NAME, sizeof(T), BLOCK, (quant_fn)quantize_row_##SUFFIX##_ref, (dequant_fn)dequantize_row_##SUFFIX, x)
  D(Q4_0, block_q4_0, 32, q4_0); printf(",");
  D(Q4_1, block_q4_1, 32, q4_1); printf(",");
  D(Q5_0, block_q5_0, 32, q5_0); printf(",");
  D(Q5_1, block_q5_1, 32, q5_1); printf(",");
  D(Q8_0, block_q8_0, 32, q8_0); printf(",");
  D(Q2_K, block_q2_K, 256, q2_K); printf(",");
  D(Q3_K, block_q3_K, 256, q3_K); printf(",");
  D(Q4_K, block_q4_K, 256, q4_K); printf(",");
  D(Q5_K, block_q5_K, 256, q5_K); printf(",");
  D(Q6_K, block_q6_K, 256, q6_K); printf(",");
  D(IQ4_NL, block_iq4_nl, 32, iq4_nl); printf(",");
  D(IQ4_XS, block_iq4_xs, 256, iq4_xs);
  printf("]}\n");
  return 0;
}
