// llmfleet-gpu-check: a short measured check of one GPU for the burn-in gate (docs/burnin.md).
//
//   llmfleet-gpu-check [--device N] [--gib G] [--gemm N] [--iters K]
//
// Prints one JSON object: the device, its HBM copy bandwidth (a vectorised device-to-device copy kernel over G GiB,
// bytes read + written per second, the best of K timed runs after a warm-up) and its dense BF16 matrix rate
// (cublasGemmEx N x N x N, BF16 in, FP32 accumulate, the mean of K timed products after warm-ups, inputs filled
// with random values on the device), plus a result check of the copy. plugins/module_utils/burnin.py reads it and
// compares it with the thresholds of the GPU's model.
//
// Build (the burnin role does this on each GPU node, with the node's own CUDA toolkit):
//   nvcc -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -o llmfleet-gpu-check llmfleet-gpu-check.cu -lcublas
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#define CHECK(call)                                                                                     \
  do {                                                                                                  \
    cudaError_t e_ = (call);                                                                            \
    if (e_ != cudaSuccess) {                                                                            \
      std::printf("{\"error\": \"%s: %s\"}\n", #call, cudaGetErrorString(e_));                         \
      return 2;                                                                                         \
    }                                                                                                   \
  } while (0)
#define CHECK_BLAS(call)                                                                                \
  do {                                                                                                  \
    cublasStatus_t s_ = (call);                                                                         \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                  \
      std::printf("{\"error\": \"%s: cuBLAS status %d\"}\n", #call, (int)s_);                          \
      return 2;                                                                                         \
    }                                                                                                   \
  } while (0)

__global__ void copy_kernel(const float4* __restrict__ src, float4* __restrict__ dst, size_t n) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = src[i];
}

__global__ void fill_kernel(float4* p, size_t n, unsigned seed) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    unsigned x = (unsigned)i * 2654435761u ^ seed;
    p[i] = make_float4((float)(x & 1023), (float)((x >> 10) & 1023), (float)((x >> 20) & 1023), (float)(i & 7));
  }
}

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, unsigned seed) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    unsigned x = (unsigned)i * 2246822519u ^ seed;
    x ^= x >> 13; x *= 3266489917u; x ^= x >> 16;
    p[i] = __float2bfloat16(((float)(x & 0xffff) / 65535.0f) - 0.5f);
  }
}

__global__ void compare_kernel(const float4* a, const float4* b, size_t n, unsigned long long* bad) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float4 x = a[i], y = b[i];
    if (x.x != y.x || x.y != y.y || x.z != y.z || x.w != y.w) atomicAdd(bad, 1ULL);
  }
}

int main(int argc, char** argv) {
  int dev = 0, gemm_n = 8192, iters = 10;
  double gib = 4.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--device")) dev = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--gib")) gib = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--gemm")) gemm_n = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
  }
  CHECK(cudaSetDevice(dev));
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, dev));
  int driver = 0, runtime = 0;
  CHECK(cudaDriverGetVersion(&driver));
  CHECK(cudaRuntimeGetVersion(&runtime));

  // --- HBM copy bandwidth ---------------------------------------------------------------------------------------
  size_t bytes = (size_t)(gib * (1ull << 30)) & ~(size_t)15;
  size_t n4 = bytes / sizeof(float4);
  float4 *src = nullptr, *dst = nullptr;
  CHECK(cudaMalloc(&src, bytes));
  CHECK(cudaMalloc(&dst, bytes));
  int blocks = prop.multiProcessorCount * 8, threads = 512;
  fill_kernel<<<blocks, threads>>>(src, n4, 12345u);
  CHECK(cudaGetLastError());
  cudaEvent_t t0, t1;
  CHECK(cudaEventCreate(&t0));
  CHECK(cudaEventCreate(&t1));
  copy_kernel<<<blocks, threads>>>(src, dst, n4);  // warm-up
  CHECK(cudaDeviceSynchronize());
  float best_ms = 1e30f;
  for (int k = 0; k < iters; ++k) {
    CHECK(cudaEventRecord(t0));
    copy_kernel<<<blocks, threads>>>(src, dst, n4);
    CHECK(cudaEventRecord(t1));
    CHECK(cudaEventSynchronize(t1));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, t0, t1));
    if (ms < best_ms) best_ms = ms;
  }
  unsigned long long* bad = nullptr;
  CHECK(cudaMalloc(&bad, sizeof(*bad)));
  CHECK(cudaMemset(bad, 0, sizeof(*bad)));
  compare_kernel<<<blocks, threads>>>(src, dst, n4, bad);
  unsigned long long bad_host = 0;
  CHECK(cudaMemcpy(&bad_host, bad, sizeof(bad_host), cudaMemcpyDeviceToHost));
  double copy_gbs = 2.0 * (double)bytes / (best_ms / 1e3) / 1e9;
  CHECK(cudaFree(src));
  CHECK(cudaFree(dst));

  // --- dense BF16 matrix rate (cuBLAS) ----------------------------------------------------------------------------
  size_t nn = (size_t)gemm_n * gemm_n;
  __nv_bfloat16 *a = nullptr, *b = nullptr, *c = nullptr;
  CHECK(cudaMalloc(&a, nn * sizeof(*a)));
  CHECK(cudaMalloc(&b, nn * sizeof(*b)));
  CHECK(cudaMalloc(&c, nn * sizeof(*c)));
  fill_bf16<<<blocks, threads>>>(a, nn, 1u);
  fill_bf16<<<blocks, threads>>>(b, nn, 2u);
  CHECK(cudaGetLastError());
  cublasHandle_t h;
  CHECK_BLAS(cublasCreate(&h));
  const float alpha = 1.0f, beta = 0.0f;
  for (int w = 0; w < 3; ++w)
    CHECK_BLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, gemm_n, gemm_n, gemm_n, &alpha, a, CUDA_R_16BF, gemm_n, b,
                            CUDA_R_16BF, gemm_n, &beta, c, CUDA_R_16BF, gemm_n, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT));
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaEventRecord(t0));
  for (int k = 0; k < iters; ++k)
    CHECK_BLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, gemm_n, gemm_n, gemm_n, &alpha, a, CUDA_R_16BF, gemm_n, b,
                            CUDA_R_16BF, gemm_n, &beta, c, CUDA_R_16BF, gemm_n, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT));
  CHECK(cudaEventRecord(t1));
  CHECK(cudaEventSynchronize(t1));
  float gemm_ms = 0;
  CHECK(cudaEventElapsedTime(&gemm_ms, t0, t1));
  double tflops = 2.0 * gemm_n * (double)gemm_n * gemm_n * iters / (gemm_ms / 1e3) / 1e12;
  CHECK_BLAS(cublasDestroy(h));

  std::printf("{\"schema\": \"llmfleet.gpu_check/v1\", \"device\": %d, \"name\": \"%s\", \"cc\": \"%d.%d\", "
              "\"sm_count\": %d, \"memory_total_bytes\": %zu, \"cuda_driver\": %d, \"cuda_runtime\": %d, "
              "\"copy_bytes\": %zu, \"copy_best_ms\": %.4f, \"copy_gb_per_s\": %.1f, \"copy_mismatches\": %llu, "
              "\"gemm_n\": %d, \"gemm_iters\": %d, \"gemm_ms\": %.3f, \"bf16_tflops\": %.1f}\n",
              dev, prop.name, prop.major, prop.minor, prop.multiProcessorCount, prop.totalGlobalMem, driver, runtime,
              bytes, best_ms, copy_gbs, bad_host, gemm_n, iters, gemm_ms, tflops);
  return bad_host == 0 ? 0 : 1;
}
