// Procedural ("just-in-time") fixed fan-out connectivity for brainsim, as XLA FFI
// handlers (CPU). No synapse is stored: presynaptic neuron r's k-th synapse is
// regenerated from (seed, r, k) by a counter-based hash each time it is used.
//
// The hash is the specification of reference.py, bit for bit (all uint32 arithmetic):
//
//   mix(x)      = lowbias32: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15;
//                            x *= 0x846ca68b; x ^= x >> 16
//   row key     = mix(seed + mix(r))
//   counter     = key + (k + 1) * 0x9e3779b9                   (a Weyl sequence per row)
//   target      = (mix(counter) * n_post) >> 32                (high half of the product)
//   u           = (mix(counter ^ 0x85ebca6b) >> 8) * 2^-24     (in [0, 1), exact in float)
//   weight      = w * (1 + spread * (2 u - 1))                 (spread = 0: w)
//
// Two directions, as in event_matvec.cc: scatter (y[target] += weight * x[r] for every
// event r, the forward product) and gather (y[r] = sum_k weight * x[target], its
// transpose). Operands: seed (uint32), w (the weights' dtype), x (bool or the weights'
// dtype), each with the same `nb` leading batch dimensions (1 or the batch size);
// attributes: fan_out and spread.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../ffi_common.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using brainsim::BatchIndexer;
using brainsim::Dims;
using brainsim::ForEachEvent;
using brainsim::Mismatch;

constexpr const char* kOp = "brainsim procedural_matvec";

enum class Direction { kScatter, kGather };

inline uint32_t Mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

inline uint32_t RowKey(uint32_t seed, int64_t r) {
  return Mix(seed + Mix(static_cast<uint32_t>(r)));
}

inline uint32_t Counter(uint32_t key, int64_t k) {
  return key + static_cast<uint32_t>(k + 1) * 0x9e3779b9U;
}

inline int64_t Target(uint32_t counter, int64_t n_post) {
  return static_cast<int64_t>((static_cast<uint64_t>(Mix(counter)) * n_post) >> 32);
}

// The synapse's weight factor 1 + spread * (2u - 1), rounded as the reference rounds it.
template <typename T>
inline T Factor(uint32_t counter, T spread) {
  const T u = static_cast<T>(Mix(counter ^ 0x85ebca6bU) >> 8) * static_cast<T>(1.0 / 16777216.0);
  return T(1) + spread * (T(2) * u - T(1));
}

template <typename T, typename S>
struct Problem {
  uint32_t seed;
  T w;
  const S* x;
  T* y;
  int64_t n_pre, n_post, fan_out;
  T spread;
};

template <typename T, typename S>
void Scatter(const Problem<T, S>& p) {
  std::fill(p.y, p.y + p.n_post, T(0));
  ForEachEvent(p.x, p.n_pre, [&](int64_t r) {
    const T xr = static_cast<T>(p.x[r]);
    const uint32_t key = RowKey(p.seed, r);
    if (p.spread == T(0)) {
      const T wx = p.w * xr;
      for (int64_t k = 0; k < p.fan_out; ++k) p.y[Target(Counter(key, k), p.n_post)] += wx;
    } else {
      for (int64_t k = 0; k < p.fan_out; ++k) {
        const uint32_t c = Counter(key, k);
        p.y[Target(c, p.n_post)] += (p.w * Factor(c, p.spread)) * xr;
      }
    }
  });
}

template <typename T, typename S>
inline T Value(const S* x, int64_t i) {
  if constexpr (std::is_same_v<S, bool>) {
    return x[i] ? T(1) : T(0);
  } else {
    return x[i];
  }
}

template <typename T, typename S>
void Gather(const Problem<T, S>& p) {
  for (int64_t r = 0; r < p.n_pre; ++r) {
    const uint32_t key = RowKey(p.seed, r);
    T acc = T(0);
    for (int64_t k = 0; k < p.fan_out; ++k) {
      const uint32_t c = Counter(key, k);
      const T wk = p.spread == T(0) ? p.w : p.w * Factor(c, p.spread);
      acc += wk * Value<T>(p.x, Target(c, p.n_post));
    }
    p.y[r] = acc;
  }
}

template <Direction D, typename T, typename S>
ffi::Error Run(const ffi::AnyBuffer& seed, const ffi::AnyBuffer& w, const ffi::AnyBuffer& x,
               ffi::AnyBuffer& y, int64_t fan_out, double spread) {
  const Dims y_dims = y.dimensions(), x_dims = x.dimensions();
  if (y_dims.size() == 0) return Mismatch(kOp, "the result", y_dims);
  const size_t nb = y_dims.size() - 1;
  std::vector<int64_t> batch(y_dims.begin(), y_dims.begin() + nb);
  int64_t count = 1;
  for (int64_t b : batch) count *= b;
  const std::vector<std::pair<const char*, Dims>> operands = {
      {"seed", seed.dimensions()}, {"weight", w.dimensions()}, {"x", x_dims}};
  for (const auto& [name, dims] : operands) {
    if (dims.size() != nb + (name[0] == 'x' ? 1 : 0)) return Mismatch(kOp, name, dims);
    for (size_t d = 0; d < nb; ++d)
      if (dims[d] != 1 && dims[d] != batch[d]) return Mismatch(kOp, name, dims);
  }
  if (fan_out < 0) return ffi::Error::InvalidArgument("brainsim procedural_matvec: fan_out < 0");
  Problem<T, S> p{};
  p.fan_out = fan_out;
  p.spread = static_cast<T>(spread);
  if (D == Direction::kScatter) {
    p.n_pre = x_dims[nb];
    p.n_post = y_dims[nb];
  } else {
    p.n_pre = y_dims[nb];
    p.n_post = x_dims[nb];
  }
  if (p.n_post == 0 && fan_out > 0 && p.n_pre > 0)
    return ffi::Error::InvalidArgument("brainsim procedural_matvec: no targets (n_post = 0)");
  const BatchIndexer at_seed(seed.dimensions(), batch), at_w(w.dimensions(), batch);
  const BatchIndexer at_x(x_dims, batch);
  const uint32_t* seed0 = static_cast<const uint32_t*>(seed.untyped_data());
  const T* w0 = static_cast<const T*>(w.untyped_data());
  const S* x0 = static_cast<const S*>(x.untyped_data());
  T* y0 = static_cast<T*>(y.untyped_data());
  const int64_t n_y = y_dims[nb];
  for (int64_t n = 0; n < count; ++n) {
    p.seed = seed0[at_seed.Offset(n, batch)];
    p.w = w0[at_w.Offset(n, batch)];
    p.x = x0 + at_x.Offset(n, batch);
    p.y = y0 + n * n_y;
    if constexpr (D == Direction::kScatter) Scatter(p);
    if constexpr (D == Direction::kGather) Gather(p);
  }
  return ffi::Error::Success();
}

template <Direction D>
ffi::Error Dispatch(ffi::AnyBuffer seed, ffi::AnyBuffer w, ffi::AnyBuffer x,
                    ffi::Result<ffi::AnyBuffer> y, int64_t fan_out, double spread) {
  using DT = ffi::DataType;
  if (seed.element_type() != DT::U32)
    return ffi::Error::InvalidArgument("brainsim procedural_matvec: seed must be uint32");
  const DT wt = w.element_type(), xt = x.element_type();
  if (y->element_type() != wt)
    return ffi::Error::InvalidArgument("brainsim procedural_matvec: result dtype must match w");
  if (wt == DT::F32 && xt == DT::F32) return Run<D, float, float>(seed, w, x, *y, fan_out, spread);
  if (wt == DT::F32 && xt == DT::PRED) return Run<D, float, bool>(seed, w, x, *y, fan_out, spread);
  if (wt == DT::F64 && xt == DT::F64)
    return Run<D, double, double>(seed, w, x, *y, fan_out, spread);
  if (wt == DT::F64 && xt == DT::PRED)
    return Run<D, double, bool>(seed, w, x, *y, fan_out, spread);
  return ffi::Error::InvalidArgument(
      "brainsim procedural_matvec: w must be float32 or float64 and x bool or w's dtype");
}

}  // namespace

extern "C" {
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimProceduralScatter(XLA_FFI_CallFrame* call_frame);
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimProceduralGather(XLA_FFI_CallFrame* call_frame);
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimProceduralScatter, Dispatch<Direction::kScatter>,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int64_t>("fan_out")
                                  .Attr<double>("spread"));
XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimProceduralGather, Dispatch<Direction::kGather>,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int64_t>("fan_out")
                                  .Attr<double>("spread"));
