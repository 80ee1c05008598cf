// Spikes times a dense weight matrix, visiting only the non-zero spikes: XLA FFI
// handlers (CPU) for brainsim's event_dense_matmat.
//
//   matmul: y[m, :]  = sum over k with s[m, k] != 0 of s[m, k] * W[k, :]   (M, K) x (K, N)
//   outer:  dW[k, :] = sum over m with s[m, k] != 0 of s[m, k] * g[m, :]   (M, K)^T x (M, N)
//
// `matmul` is the forward product of a dense layer fed with spikes; `outer` is its
// gradient with respect to the weights (spikes^T @ g). Both list the events of s and
// add, into each output row, the rows of the other operand that its events select;
// their cost is (number of events) x N instead of M x K x N. Two code paths: a
// portable one (the output row in L1 cache, one row added per event) and, chosen at
// run time on CPUs with AVX2 and FMA, one that finds events with vector compares and
// accumulates 64 floats (32 doubles) of an output row in registers over its events
// (for `outer`, after sorting a cache-sized block of events by input). Large calls are
// split over XLA's intra-op threads (`ParallelFor`).
//
// Batching: every operand may carry the same number `nb` of leading batch dimensions
// (vmap adds one per level), each 1 (broadcast) or the result's size. s and the other
// operand have the same dtype, float32 or float64; the result has it too.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../ffi_common.h"
#include "xla/ffi/api/ffi.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ffi = xla::ffi;

namespace {

using brainsim::BatchIndexer;
using brainsim::Dims;
using brainsim::ForEachEvent;
using brainsim::Mismatch;

constexpr const char* kOp = "brainsim event_dense_matmat";

// out[0:n] += a * row[0:n], once per event, with the output row in L1 cache.
template <typename T>
inline void Axpy(T a, const T* __restrict row, T* __restrict out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] += a * row[j];
}

// The inputs k with s[k] != 0 (false for -0.0, true for NaN), listed into `events`
// without a branch per input (which would mispredict at these densities); returns
// their number.
template <typename T>
inline int64_t ListEvents(const T* s, int64_t n, int64_t* events) {
  int64_t count = 0;
  for (int64_t k = 0; k < n; ++k) {
    events[count] = k;
    count += (s[k] != T(0));
  }
  return count;
}

// Rows [m_lo, m_hi) of y (M, N) = s (M, K) @ w (K, N): row m of y is the sum of the
// rows of w that the events of row m of s select, each scaled by its spike.
template <typename T>
inline void MatmulImpl(const T* s, const T* w, T* y, int64_t m_lo, int64_t m_hi, int64_t k_in,
                       int64_t n_out) {
  thread_local std::vector<int64_t> events;
  events.resize(k_in);
  for (int64_t m = m_lo; m < m_hi; ++m) {
    const T* sm = s + m * k_in;
    T* ym = y + m * n_out;
    std::fill(ym, ym + n_out, T(0));
    const int64_t count = ListEvents(sm, k_in, events.data());
    for (int64_t e = 0; e < count; ++e) {
      const int64_t k = events[e];
      Axpy(sm[k], w + k * n_out, ym, n_out);
    }
  }
}

// Rows [k_lo, k_hi) of dw (K, N) = s (M, K)^T @ g (M, N): row m of g, in L1 cache, is
// added into the rows of dw that the events of row m of s select, each scaled by its
// spike.
template <typename T>
inline void OuterImpl(const T* s, const T* g, T* dw, int64_t m_rows, int64_t k_lo, int64_t k_hi,
                      int64_t k_in, int64_t n_out) {
  std::fill(dw + k_lo * n_out, dw + k_hi * n_out, T(0));
  thread_local std::vector<int64_t> events;
  events.resize(k_hi - k_lo);
  for (int64_t m = 0; m < m_rows; ++m) {
    const T* sm = s + m * k_in + k_lo;
    const T* gm = g + m * n_out;
    const int64_t count = ListEvents(sm, k_hi - k_lo, events.data());
    for (int64_t e = 0; e < count; ++e) {
      const int64_t k = events[e];
      Axpy(sm[k], gm, dw + (k_lo + k) * n_out, n_out);
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BRAINSIM_AVX2_PATH 1
#endif

#ifdef BRAINSIM_AVX2_PATH
// The same two kernels for CPUs with AVX2 and FMA, chosen at run time (the library is
// otherwise built for the baseline x86-64): events found eight (four) entries at a
// time by a vector compare, and the forward product accumulated over a row's event
// list in vector registers, 64 floats (32 doubles) of the output row at a time.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {

inline int64_t ListEvents(const float* s, int64_t n, int64_t* events) {
  int64_t count = 0, k = 0;
  const __m256 zero = _mm256_setzero_ps();
  for (; k + 8 <= n; k += 8) {
    // not-equal or unordered: -0.0 is no event, NaN is one (as s[k] != 0)
    unsigned mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + k), zero, _CMP_NEQ_UQ));
    for (; mask != 0; mask &= mask - 1) events[count++] = k + __builtin_ctz(mask);
  }
  for (; k < n; ++k) {
    events[count] = k;
    count += (s[k] != 0.0f);
  }
  return count;
}

inline int64_t ListEvents(const double* s, int64_t n, int64_t* events) {
  int64_t count = 0, k = 0;
  const __m256d zero = _mm256_setzero_pd();
  for (; k + 4 <= n; k += 4) {
    unsigned mask = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(s + k), zero, _CMP_NEQ_UQ));
    for (; mask != 0; mask &= mask - 1) events[count++] = k + __builtin_ctz(mask);
  }
  for (; k < n; ++k) {
    events[count] = k;
    count += (s[k] != 0.0);
  }
  return count;
}

// out[0:8 lanes x 8] = sum over the events of s[k] * w[k * stride + 0:64 floats].
inline void Block(const int64_t* events, const float* s, int64_t count, const float* w,
                  int64_t stride, float* out) {
  __m256 acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t e = 0; e < count; ++e) {
    const float* row = w + events[e] * stride;
    const __m256 v = _mm256_set1_ps(s[events[e]]);
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(v, _mm256_loadu_ps(row + 8 * j), acc[j]);
  }
  for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + 8 * j, acc[j]);
}

inline void Block(const int64_t* events, const double* s, int64_t count, const double* w,
                  int64_t stride, double* out) {
  __m256d acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_pd();
  for (int64_t e = 0; e < count; ++e) {
    const double* row = w + events[e] * stride;
    const __m256d v = _mm256_set1_pd(s[events[e]]);
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_pd(v, _mm256_loadu_pd(row + 4 * j), acc[j]);
  }
  for (int j = 0; j < 8; ++j) _mm256_storeu_pd(out + 4 * j, acc[j]);
}

template <typename T>
void Matmul(const T* s, const T* w, T* y, int64_t m_lo, int64_t m_hi, int64_t k_in,
            int64_t n_out) {
  constexpr int64_t kBlock = 8 * 32 / sizeof(T);  // 8 registers of 32 bytes
  thread_local std::vector<int64_t> events;
  events.resize(k_in);
  for (int64_t m = m_lo; m < m_hi; ++m) {
    const T* sm = s + m * k_in;
    T* ym = y + m * n_out;
    const int64_t count = ListEvents(sm, k_in, events.data());
    int64_t c0 = 0;
    for (; c0 + kBlock <= n_out; c0 += kBlock) Block(events.data(), sm, count, w + c0, n_out, ym + c0);
    if (c0 < n_out) {  // the last columns, event by event
      std::fill(ym + c0, ym + n_out, T(0));
      for (int64_t e = 0; e < count; ++e) {
        const int64_t k = events[e];
        Axpy(sm[k], w + k * n_out + c0, ym + c0, n_out - c0);
      }
    }
  }
}

// out[0:64 floats] (+)= sum over e < count of val[e] * base[rows[e] * stride + 0:64].
template <bool kAdd>
inline void BlockRows(const int32_t* rows, const float* val, int64_t count, const float* base,
                      int64_t stride, float* out) {
  __m256 acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = kAdd ? _mm256_loadu_ps(out + 8 * j) : _mm256_setzero_ps();
  for (int64_t e = 0; e < count; ++e) {
    const float* row = base + static_cast<int64_t>(rows[e]) * stride;
    const __m256 v = _mm256_set1_ps(val[e]);
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(v, _mm256_loadu_ps(row + 8 * j), acc[j]);
  }
  for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + 8 * j, acc[j]);
}

template <bool kAdd>
inline void BlockRows(const int32_t* rows, const double* val, int64_t count, const double* base,
                      int64_t stride, double* out) {
  __m256d acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = kAdd ? _mm256_loadu_pd(out + 4 * j) : _mm256_setzero_pd();
  for (int64_t e = 0; e < count; ++e) {
    const double* row = base + static_cast<int64_t>(rows[e]) * stride;
    const __m256d v = _mm256_set1_pd(val[e]);
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_pd(v, _mm256_loadu_pd(row + 4 * j), acc[j]);
  }
  for (int j = 0; j < 8; ++j) _mm256_storeu_pd(out + 4 * j, acc[j]);
}

// Rows [k_lo, k_hi) of dw = s^T @ g, by blocks of rows of s and g small enough that the
// block of g stays in L2 cache: the block's events are sorted by input k (a counting
// sort), then each row k of dw gains, 64 floats (32 doubles) at a time in vector
// registers, the rows of g that its events select.
template <typename T>
void Outer(const T* s, const T* g, T* dw, int64_t m_rows, int64_t k_lo, int64_t k_hi,
           int64_t k_in, int64_t n_out) {
  constexpr int64_t kBlock = 8 * 32 / sizeof(T);
  const int64_t width = k_hi - k_lo;
  std::fill(dw + k_lo * n_out, dw + k_hi * n_out, T(0));
  const int64_t m_block = std::clamp<int64_t>(
      (256 * 1024) / std::max<int64_t>(1, n_out * static_cast<int64_t>(sizeof(T))), 8, 1 << 20);
  thread_local std::vector<int64_t> events, start;
  thread_local std::vector<int32_t> pair_k, pair_m, rows;
  thread_local std::vector<T> vals;
  events.resize(width);
  start.resize(width + 1);
  for (int64_t m0 = 0; m0 < m_rows; m0 += m_block) {
    const int64_t m1 = std::min(m_rows, m0 + m_block);
    // The block's events as (k, m) pairs, and how many each input k has.
    pair_k.clear();
    pair_m.clear();
    std::fill(start.begin(), start.end(), 0);
    for (int64_t m = m0; m < m1; ++m) {
      const int64_t count = ListEvents(s + m * k_in + k_lo, width, events.data());
      for (int64_t e = 0; e < count; ++e) {
        pair_k.push_back(static_cast<int32_t>(events[e]));
        pair_m.push_back(static_cast<int32_t>(m));
        ++start[events[e] + 1];
      }
    }
    if (pair_k.empty()) continue;
    for (int64_t k = 0; k < width; ++k) start[k + 1] += start[k];
    rows.resize(pair_k.size());
    vals.resize(pair_k.size());
    // Counting sort by k (stable: rows of one k stay in increasing order of m).
    std::vector<int64_t>& fill = events;  // reused as the write positions
    std::copy(start.begin(), start.begin() + width, fill.begin());
    for (size_t i = 0; i < pair_k.size(); ++i) {
      const int64_t at = fill[pair_k[i]]++;
      rows[at] = pair_m[i];
      vals[at] = s[static_cast<int64_t>(pair_m[i]) * k_in + k_lo + pair_k[i]];
    }
    for (int64_t k = 0; k < width; ++k) {
      const int64_t lo = start[k], count = start[k + 1] - lo;
      if (count == 0) continue;
      T* dwk = dw + (k_lo + k) * n_out;
      int64_t c0 = 0;
      for (; c0 + kBlock <= n_out; c0 += kBlock)
        BlockRows<true>(rows.data() + lo, vals.data() + lo, count, g + c0, n_out, dwk + c0);
      for (int64_t e = lo; e < lo + count && c0 < n_out; ++e)
        Axpy(vals[e], g + static_cast<int64_t>(rows[e]) * n_out + c0, dwk + c0, n_out - c0);
    }
  }
}

}  // namespace avx2
#pragma GCC pop_options

// Whether to take the AVX2 path: the CPU has it, and BRAINSIM_KERNELS_PORTABLE is unset
// or "0" (the tests set it to check the portable path on any machine).
inline bool HasAvx2() {
  static const bool has = [] {
    const char* portable = std::getenv("BRAINSIM_KERNELS_PORTABLE");
    if (portable != nullptr && std::string(portable) != "0" && std::string(portable) != "") {
      return false;
    }
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}
#endif  // BRAINSIM_AVX2_PATH

// The entry points: the AVX2 path where the CPU has it, else the portable one.
template <typename T>
void Matmul(const T* s, const T* w, T* y, int64_t m_lo, int64_t m_hi, int64_t k, int64_t n) {
#ifdef BRAINSIM_AVX2_PATH
  if (HasAvx2()) return avx2::Matmul(s, w, y, m_lo, m_hi, k, n);
#endif
  MatmulImpl(s, w, y, m_lo, m_hi, k, n);
}

template <typename T>
void Outer(const T* s, const T* g, T* dw, int64_t m, int64_t k_lo, int64_t k_hi, int64_t k,
           int64_t n) {
#ifdef BRAINSIM_AVX2_PATH
  if (HasAvx2()) return avx2::Outer(s, g, dw, m, k_lo, k_hi, k, n);
#endif
  OuterImpl(s, g, dw, m, k_lo, k_hi, k, n);
}

// fn(lo, hi) over [0, n) in `per_worker` chunks per thread, run by the calling thread
// and by XLA's intra-op thread pool. Workers claim chunks from a shared counter; the caller claims chunks
// too and then waits only for chunks that another thread has claimed (and is running),
// so it never waits on a task that the pool has not started: no deadlock, even when
// the caller is itself a pool thread or the pool runs tasks inline. Tasks that start
// after all chunks are claimed return at once; the counters they touch are shared.
template <typename F>
void ParallelFor(ffi::ThreadPool& pool, int64_t n, int64_t work_per_unit, int64_t per_worker,
                 F fn) {
  constexpr int64_t kMinWork = 1 << 20;  // below about a million multiply-adds, one thread
  const int64_t threads = std::max<int64_t>(pool.num_threads(), 0);
  const int64_t by_work = std::max<int64_t>(1, n * work_per_unit / kMinWork);
  // As many workers as the pool has threads (the caller is one of them, or waits).
  const int64_t workers = std::min<int64_t>({std::max<int64_t>(threads, 1), by_work, n});
  if (workers <= 1) {
    fn(0, n);
    return;
  }
  struct Shared {
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
  };
  auto shared = std::make_shared<Shared>();
  const int64_t n_chunks = std::min<int64_t>(n, workers * per_worker);
  const int64_t chunk = (n + n_chunks - 1) / n_chunks;
  auto work = [shared, n, chunk, n_chunks, fn]() {
    for (;;) {
      const int64_t c = shared->next.fetch_add(1, std::memory_order_relaxed);
      if (c >= n_chunks) return;
      const int64_t lo = c * chunk;
      if (lo < n) fn(lo, std::min(n, lo + chunk));
      shared->done.fetch_add(1, std::memory_order_release);
    }
  };
  for (int64_t w = 1; w < workers; ++w) pool.Schedule(decltype(work)(work));
  work();
  while (shared->done.load(std::memory_order_acquire) < n_chunks) std::this_thread::yield();
}

enum class Kind { kMatmul, kOuter };

// Shapes, per kind (core dims after the nb batch dims):
//   matmul: a = s (M, K), b = w (K, N), out (M, N)
//   outer:  a = s (M, K), b = g (M, N), out (K, N)
template <Kind D, typename T>
ffi::Error Run(ffi::ThreadPool& pool, const ffi::AnyBuffer& a, const ffi::AnyBuffer& b,
               ffi::AnyBuffer& out) {
  const Dims a_dims = a.dimensions(), b_dims = b.dimensions(), o_dims = out.dimensions();
  if (o_dims.size() < 2) return Mismatch(kOp, "the result", o_dims);
  const size_t nb = o_dims.size() - 2;
  if (a_dims.size() != nb + 2) return Mismatch(kOp, "spikes", a_dims);
  if (b_dims.size() != nb + 2) return Mismatch(kOp, "the second operand", b_dims);
  std::vector<int64_t> batch(o_dims.begin(), o_dims.begin() + nb);
  int64_t count = 1;
  for (int64_t n : batch) count *= n;
  for (size_t d = 0; d < nb; ++d) {
    if (a_dims[d] != 1 && a_dims[d] != batch[d]) return Mismatch(kOp, "spikes", a_dims);
    if (b_dims[d] != 1 && b_dims[d] != batch[d]) return Mismatch(kOp, "the second operand", b_dims);
  }
  const int64_t m_rows = a_dims[nb], k_in = a_dims[nb + 1];
  int64_t n_out;
  if constexpr (D == Kind::kMatmul) {
    n_out = b_dims[nb + 1];
    if (b_dims[nb] != k_in) return Mismatch(kOp, "weights", b_dims);
    if (o_dims[nb] != m_rows || o_dims[nb + 1] != n_out) return Mismatch(kOp, "the result", o_dims);
  } else {
    n_out = b_dims[nb + 1];
    if (b_dims[nb] != m_rows) return Mismatch(kOp, "the cotangent", b_dims);
    if (o_dims[nb] != k_in || o_dims[nb + 1] != n_out) return Mismatch(kOp, "the result", o_dims);
  }
  const BatchIndexer at_a(a_dims, batch), at_b(b_dims, batch);
  const T* a0 = static_cast<const T*>(a.untyped_data());
  const T* b0 = static_cast<const T*>(b.untyped_data());
  T* o0 = static_cast<T*>(out.untyped_data());
  const int64_t o_core = o_dims[nb] * o_dims[nb + 1];
  for (int64_t n = 0; n < count; ++n) {
    const T* an = a0 + at_a.Offset(n, batch);
    const T* bn = b0 + at_b.Offset(n, batch);
    T* on = o0 + n * o_core;
    // Work per unit (row of s, or input of dw) as multiply-adds if every spike fired.
    if constexpr (D == Kind::kMatmul) {
      ParallelFor(pool, m_rows, k_in * n_out, 4, [=](int64_t lo, int64_t hi) {
        Matmul(an, bn, on, lo, hi, k_in, n_out);
      });
    } else {
      // Few chunks: each one reads all of s and g.
      ParallelFor(pool, k_in, m_rows * n_out, 2, [=](int64_t lo, int64_t hi) {
        Outer(an, bn, on, m_rows, lo, hi, k_in, n_out);
      });
    }
  }
  return ffi::Error::Success();
}

template <Kind D>
ffi::Error Dispatch(ffi::ThreadPool pool, ffi::AnyBuffer a, ffi::AnyBuffer b,
                    ffi::Result<ffi::AnyBuffer> out) {
  using DT = ffi::DataType;
  const DT t = out->element_type();
  if (a.element_type() != t || b.element_type() != t)
    return ffi::Error::InvalidArgument(std::string(kOp) + ": operands must share one dtype");
  if (t == DT::F32) return Run<D, float>(pool, a, b, *out);
  if (t == DT::F64) return Run<D, double>(pool, a, b, *out);
  return ffi::Error::InvalidArgument(std::string(kOp) + ": dtype must be float32 or float64");
}

}  // namespace

extern "C" {
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimSpikeMatmul(XLA_FFI_CallFrame* call_frame);
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimSpikeOuter(XLA_FFI_CallFrame* call_frame);
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimSpikeMatmul, Dispatch<Kind::kMatmul>,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimSpikeOuter, Dispatch<Kind::kOuter>,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());
