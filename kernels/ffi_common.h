// Helpers shared by the XLA FFI handlers of brainsim.kernels (CPU): batch indexing,
// the event scan and shape errors.
#ifndef BRAINSIM_KERNELS_FFI_COMMON_H_
#define BRAINSIM_KERNELS_FFI_COMMON_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "xla/ffi/api/ffi.h"

// Marks the FFI handler symbols that Python looks up in the shared library.
#if defined(_WIN32)
#define BRAINSIM_EXPORT __declspec(dllexport)
#else
#define BRAINSIM_EXPORT __attribute__((visibility("default")))
#endif

namespace brainsim {

namespace ffi = xla::ffi;

using Dims = ffi::AnyBuffer::Dimensions;

// Element offsets of one operand for every flat batch index, broadcasting size-1 dims.
class BatchIndexer {
 public:
  BatchIndexer(Dims dims, const std::vector<int64_t>& batch) {
    const size_t nb = batch.size();
    int64_t core = 1;
    for (size_t d = nb; d < dims.size(); ++d) core *= dims[d];
    strides_.assign(nb, 0);
    int64_t stride = core;
    for (size_t d = nb; d-- > 0;) {
      strides_[d] = dims[d] == 1 ? 0 : stride;
      stride *= dims[d];
    }
  }

  int64_t Offset(int64_t flat, const std::vector<int64_t>& batch) const {
    int64_t offset = 0;
    for (size_t d = batch.size(); d-- > 0;) {
      offset += (flat % batch[d]) * strides_[d];
      flat /= batch[d];
    }
    return offset;
  }

 private:
  std::vector<int64_t> strides_;
};

inline bool InRange(int32_t i, int64_t n) {
  return i >= 0 && static_cast<int64_t>(i) < n;
}

// Whether any of the 8 inputs x[0..8) may be non-zero: one OR over their bits, with the
// sign bit masked so that -0.0 counts as zero (as `x == 0` does); NaN counts as non-zero.
template <typename S>
inline bool AnyNonzero8(const S* x) {
  if constexpr (std::is_same_v<S, bool>) {
    uint64_t v;
    std::memcpy(&v, x, 8);
    return v != 0;
  } else {
    using U = std::conditional_t<sizeof(S) == 4, uint32_t, uint64_t>;
    constexpr U kMagnitude = ~U(0) >> 1;
    U v[8];
    std::memcpy(v, x, sizeof(v));
    U acc = 0;
    for (int k = 0; k < 8; ++k) acc |= v[k];
    return (acc & kMagnitude) != 0;
  }
}

// Calls f(r) for every r in [0, n) with x[r] != 0, in increasing order. Silent stretches
// cost one bit test per 8 inputs.
template <typename S, typename F>
inline void ForEachEvent(const S* x, int64_t n, F&& f) {
  int64_t r = 0;
  for (; r + 8 <= n; r += 8) {
    if (!AnyNonzero8(x + r)) continue;
    for (int64_t q = r; q < r + 8; ++q)
      if (!(x[q] == S(0))) f(q);
  }
  for (; r < n; ++r)
    if (!(x[r] == S(0))) f(r);
}

inline void Prefetch(const void* address) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(address);
#else
  (void)address;
#endif
}

inline std::string ShapeString(Dims dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

inline ffi::Error Mismatch(const char* op, const char* what, Dims dims) {
  return ffi::Error::InvalidArgument(std::string(op) + ": unexpected shape " +
                                     ShapeString(dims) + " for " + what);
}

}  // namespace brainsim

#endif  // BRAINSIM_KERNELS_FFI_COMMON_H_
