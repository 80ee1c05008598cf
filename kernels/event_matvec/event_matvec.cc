// Event-driven sparse matrix-vector products for brainsim, as XLA FFI handlers (CPU).
//
// W is stored row by row: an ELL table (every row has k entries) or CSR (row r owns
// entries indptr[r]:indptr[r+1]). Entry (r, j) holds a column index and a weight
// (one per entry, or one scalar shared by all). Two directions:
//
//   scatter: y[col] += w * x[r]          for every row r with x[r] != 0 (event-driven)
//   gather:  y[r]    = sum_j w * x[col]  (row-wise dot product, fixed summation order)
//
// Which one a brainsim call needs depends on the layout's orientation and on
// `transpose`; the Python wrapper (cpu.py) picks it. x is bool (a spike counts as 1)
// or has the weights' dtype (float32 or float64).
//
// Batching: every operand may carry the same number `nb` of leading batch dimensions
// (vmap adds one per level); each is 1 (broadcast) or the output's size. The output is
// (*batch, n_out). When the layout (indptr, indices) is shared by the whole batch, a
// scatter is an event matmat: one pass over the (batch, rows) inputs, which finds the
// events eight entries at a time (a bit test of a block of inputs), each event adding
// its row into its batch row of the output. Column indices outside [0, n_cols) and CSR row pointers outside
// [0, nnz] are skipped or clamped, so malformed inputs can never touch memory outside
// the buffers.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "../ffi_common.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using brainsim::AnyNonzero8;
using brainsim::BatchIndexer;
using brainsim::Dims;
using brainsim::ForEachEvent;
using brainsim::InRange;
using brainsim::Mismatch;
using brainsim::Prefetch;

constexpr const char* kOp = "brainsim event_matvec";

enum class Format { kEll, kCsr };
enum class Direction { kScatter, kGather };

// One unbatched problem: pointers into the operands and the core sizes.
template <typename T, typename S>
struct Problem {
  const int32_t* indptr;   // CSR only: rows + 1
  const int32_t* indices;  // ELL: rows * k; CSR: nnz
  const T* weights;        // per entry, or a single scalar
  bool per_entry;
  const S* x;
  T* y;
  int64_t rows, k, nnz;  // k: ELL row length; nnz: CSR entries
  int64_t n_x, n_y;
};

// sum_j w[j] x[cols[j]] over one row, out-of-range columns skipped. Four partial sums
// (entries j mod 4) break the dependency chain of the additions; the order is fixed.
template <bool kPerEntry, typename T, typename S>
inline T RowDot(const int32_t* cols, const T* w, int64_t len, const S* x, int64_t n_x) {
  auto term = [&](int64_t j) {
    const int32_t c = cols[j];
    const T wj = kPerEntry ? w[j] : w[0];
    if constexpr (std::is_same_v<S, bool>) {
      // A select, not a bool-to-float conversion (whose false register dependency
      // halves the speed of this loop).
      return InRange(c, n_x) && x[c] ? wj : T(0);
    } else {
      return InRange(c, n_x) ? wj * x[c] : T(0);
    }
  };
  T acc[4] = {T(0), T(0), T(0), T(0)};
  int64_t j = 0;
  for (; j + 4 <= len; j += 4) {
    acc[0] += term(j);
    acc[1] += term(j + 1);
    acc[2] += term(j + 2);
    acc[3] += term(j + 3);
  }
  for (; j < len; ++j) acc[j % 4] += term(j);
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

template <typename T, typename S>
void EllGather(const Problem<T, S>& p) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const int32_t* cols = p.indices + r * p.k;
    p.y[r] = p.per_entry ? RowDot<true>(cols, p.weights + r * p.k, p.k, p.x, p.n_x)
                         : RowDot<false>(cols, p.weights, p.k, p.x, p.n_x);
  }
}

// Row r's entries [lo, hi), clamped into [0, nnz] so a bad indptr stays in bounds.
template <typename T, typename S>
inline void CsrRow(const Problem<T, S>& p, int64_t r, int64_t* lo, int64_t* hi) {
  *lo = std::clamp<int64_t>(p.indptr[r], 0, p.nnz);
  *hi = std::clamp<int64_t>(p.indptr[r + 1], *lo, p.nnz);
}

template <typename T, typename S>
void CsrGather(const Problem<T, S>& p) {
  for (int64_t r = 0; r < p.rows; ++r) {
    int64_t lo, hi;
    CsrRow(p, r, &lo, &hi);
    const int32_t* cols = p.indices + lo;
    p.y[r] = p.per_entry ? RowDot<true>(cols, p.weights + lo, hi - lo, p.x, p.n_x)
                         : RowDot<false>(cols, p.weights, hi - lo, p.x, p.n_x);
  }
}

// Row r's entries [lo, hi) of either format.
template <Format F, typename T, typename S>
inline void RowSpan(const Problem<T, S>& p, int64_t r, int64_t* lo, int64_t* hi) {
  if constexpr (F == Format::kEll) {
    *lo = r * p.k;
    *hi = *lo + p.k;
  } else {
    CsrRow(p, r, lo, hi);
  }
}


// y[col] += w * x[r] for every event r (x[r] != 0). The events are listed first (into
// `events`, reused between calls), so that the first cache lines of the rows a few
// events ahead can be prefetched: a row is a random access into the layout, and its
// latency, not the additions, bounds this loop at low spike rates.
template <Format F, typename T, typename S>
void Scatter(const Problem<T, S>& p, std::vector<int64_t>& events) {
  std::fill(p.y, p.y + p.n_y, T(0));
  events.clear();
  ForEachEvent(p.x, p.rows, [&](int64_t r) { events.push_back(r); });
  constexpr size_t kAhead = 4;     // events
  constexpr int64_t kLines = 4;    // cache lines of a row prefetched
  constexpr int64_t kPerLine = 16; // int32 indices per 64-byte line
  const size_t n_events = events.size();
  for (size_t e = 0; e < n_events; ++e) {
    if (e + kAhead < n_events) {
      int64_t lo, hi;
      RowSpan<F>(p, events[e + kAhead], &lo, &hi);
      const int64_t end = std::min(hi, lo + kLines * kPerLine);
      for (int64_t j = lo; j < end; j += kPerLine) {
        Prefetch(p.indices + j);
        if (p.per_entry) Prefetch(p.weights + j);
      }
    }
    const int64_t r = events[e];
    const T xr = static_cast<T>(p.x[r]);
    int64_t lo, hi;
    RowSpan<F>(p, r, &lo, &hi);
    if (p.per_entry) {
      for (int64_t j = lo; j < hi; ++j)
        if (InRange(p.indices[j], p.n_y)) p.y[p.indices[j]] += p.weights[j] * xr;
    } else {
      const T wx = p.weights[0] * xr;
      for (int64_t j = lo; j < hi; ++j)
        if (InRange(p.indices[j], p.n_y)) p.y[p.indices[j]] += wx;
    }
  }
}

// Event matmat, y[n, col] += w_n * x[n, r] for every event (n, r): one pass over all
// `count` batch rows of x (contiguous, count x rows) against one shared layout, read
// in place; batch row n has its own weights `w_of[n]`. Each output row is zeroed just
// before its events land, while it is in cache.
template <Format F, typename T, typename S>
void ScatterMatmat(Problem<T, S> p, const std::vector<const T*>& w_of, const S* x, T* y,
                   int64_t count, std::vector<int64_t>& events) {
  for (int64_t n = 0; n < count; ++n) {
    p.weights = w_of[n];
    p.x = x + n * p.rows;
    p.y = y + n * p.n_y;
    Scatter<F>(p, events);
  }
}

template <Format F, Direction D, typename T, typename S>
ffi::Error Run(const ffi::AnyBuffer* indptr, const ffi::AnyBuffer& indices,
               const ffi::AnyBuffer& weights, const ffi::AnyBuffer& x, ffi::AnyBuffer& y) {
  const Dims y_dims = y.dimensions();
  if (y_dims.size() == 0) return Mismatch(kOp, "the result", y_dims);
  const size_t nb = y_dims.size() - 1;
  std::vector<int64_t> batch(y_dims.begin(), y_dims.begin() + nb);
  int64_t count = 1;
  for (int64_t b : batch) count *= b;

  const Dims idx_dims = indices.dimensions(), w_dims = weights.dimensions();
  const Dims x_dims = x.dimensions();
  const size_t idx_core = F == Format::kEll ? 2 : 1;
  std::vector<std::pair<const char*, Dims>> operands = {
      {"indices", idx_dims}, {"weights", w_dims}, {"x", x_dims}};
  if (indptr != nullptr) operands.push_back({"indptr", indptr->dimensions()});
  for (const auto& [name, dims] : operands) {
    if (dims.size() < nb) return Mismatch(kOp, name, dims);
    for (size_t d = 0; d < nb; ++d)
      if (dims[d] != 1 && dims[d] != batch[d]) return Mismatch(kOp, name, dims);
  }
  if (idx_dims.size() != nb + idx_core) return Mismatch(kOp, "indices", idx_dims);
  if (x_dims.size() != nb + 1) return Mismatch(kOp, "x", x_dims);

  Problem<T, S> p{};
  p.per_entry = w_dims.size() != nb;
  if (F == Format::kEll) {
    p.rows = idx_dims[nb];
    p.k = idx_dims[nb + 1];
  } else {
    const Dims ptr_dims = indptr->dimensions();
    if (ptr_dims.size() != nb + 1 || ptr_dims[nb] < 1) return Mismatch(kOp, "indptr", ptr_dims);
    p.rows = ptr_dims[nb] - 1;
    p.nnz = idx_dims[nb];
  }
  if (p.per_entry) {
    if (w_dims.size() != idx_dims.size()) return Mismatch(kOp, "weights", w_dims);
    for (size_t d = nb; d < w_dims.size(); ++d)
      if (w_dims[d] != idx_dims[d]) return Mismatch(kOp, "weights", w_dims);
  }
  p.n_x = x_dims[nb];
  p.n_y = y_dims[nb];
  if (D == Direction::kScatter && p.n_x != p.rows) return Mismatch(kOp, "x", x_dims);
  if (D == Direction::kGather && p.n_y != p.rows) return Mismatch(kOp, "the result", y_dims);

  const BatchIndexer at_idx(idx_dims, batch), at_w(w_dims, batch), at_x(x_dims, batch);
  const BatchIndexer at_ptr(indptr != nullptr ? indptr->dimensions() : x_dims, batch);
  const int32_t* idx0 = static_cast<const int32_t*>(indices.untyped_data());
  const int32_t* ptr0 = indptr != nullptr ? static_cast<const int32_t*>(indptr->untyped_data())
                                          : nullptr;
  const T* w0 = static_cast<const T*>(weights.untyped_data());
  const S* x0 = static_cast<const S*>(x.untyped_data());
  T* y0 = static_cast<T*>(y.untyped_data());
  if (count == 0) return ffi::Error::Success();
  thread_local std::vector<int64_t> events;  // the event list of Scatter, reused
  const bool shared_layout = at_idx.Offset(count - 1, batch) == 0 &&
                             (ptr0 == nullptr || at_ptr.Offset(count - 1, batch) == 0);
  const bool x_batched = at_x.Offset(count - 1, batch) == (count - 1) * p.n_x;
  if (D == Direction::kScatter && shared_layout && x_batched && count > 1) {
    std::vector<const T*> w_of(count);
    for (int64_t n = 0; n < count; ++n) w_of[n] = w0 + at_w.Offset(n, batch);
    p.indices = idx0;
    p.indptr = ptr0;
    ScatterMatmat<F>(p, w_of, x0, y0, count, events);
    return ffi::Error::Success();
  }
  for (int64_t n = 0; n < count; ++n) {
    p.indices = idx0 + at_idx.Offset(n, batch);
    p.indptr = ptr0 != nullptr ? ptr0 + at_ptr.Offset(n, batch) : nullptr;
    p.weights = w0 + at_w.Offset(n, batch);
    p.x = x0 + at_x.Offset(n, batch);
    p.y = y0 + n * p.n_y;
    if constexpr (D == Direction::kScatter) Scatter<F>(p, events);
    if constexpr (F == Format::kEll && D == Direction::kGather) EllGather(p);
    if constexpr (F == Format::kCsr && D == Direction::kGather) CsrGather(p);
  }
  return ffi::Error::Success();
}

template <Format F, Direction D>
ffi::Error Dispatch(const ffi::AnyBuffer* indptr, const ffi::AnyBuffer& indices,
                    const ffi::AnyBuffer& weights, const ffi::AnyBuffer& x, ffi::AnyBuffer y) {
  using DT = ffi::DataType;
  if (indices.element_type() != DT::S32 ||
      (indptr != nullptr && indptr->element_type() != DT::S32))
    return ffi::Error::InvalidArgument("brainsim event_matvec: indices must be int32");
  const DT wt = weights.element_type(), xt = x.element_type();
  if (y.element_type() != wt)
    return ffi::Error::InvalidArgument("brainsim event_matvec: result dtype must match weights");
  if (wt == DT::F32 && xt == DT::F32)
    return Run<F, D, float, float>(indptr, indices, weights, x, y);
  if (wt == DT::F32 && xt == DT::PRED)
    return Run<F, D, float, bool>(indptr, indices, weights, x, y);
  if (wt == DT::F64 && xt == DT::F64)
    return Run<F, D, double, double>(indptr, indices, weights, x, y);
  if (wt == DT::F64 && xt == DT::PRED)
    return Run<F, D, double, bool>(indptr, indices, weights, x, y);
  return ffi::Error::InvalidArgument(
      "brainsim event_matvec: weights must be float32 or float64 and x bool or the weights' dtype");
}

ffi::Error EllScatterImpl(ffi::AnyBuffer indices, ffi::AnyBuffer weights, ffi::AnyBuffer x,
                          ffi::Result<ffi::AnyBuffer> y) {
  return Dispatch<Format::kEll, Direction::kScatter>(nullptr, indices, weights, x, *y);
}
ffi::Error EllGatherImpl(ffi::AnyBuffer indices, ffi::AnyBuffer weights, ffi::AnyBuffer x,
                         ffi::Result<ffi::AnyBuffer> y) {
  return Dispatch<Format::kEll, Direction::kGather>(nullptr, indices, weights, x, *y);
}
ffi::Error CsrScatterImpl(ffi::AnyBuffer indptr, ffi::AnyBuffer indices, ffi::AnyBuffer weights,
                          ffi::AnyBuffer x, ffi::Result<ffi::AnyBuffer> y) {
  return Dispatch<Format::kCsr, Direction::kScatter>(&indptr, indices, weights, x, *y);
}
ffi::Error CsrGatherImpl(ffi::AnyBuffer indptr, ffi::AnyBuffer indices, ffi::AnyBuffer weights,
                         ffi::AnyBuffer x, ffi::Result<ffi::AnyBuffer> y) {
  return Dispatch<Format::kCsr, Direction::kGather>(&indptr, indices, weights, x, *y);
}

}  // namespace

// The library is built with hidden visibility; these four handlers are its interface.
extern "C" {
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimEllScatter(XLA_FFI_CallFrame* call_frame);
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimEllGather(XLA_FFI_CallFrame* call_frame);
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimCsrScatter(XLA_FFI_CallFrame* call_frame);
BRAINSIM_EXPORT XLA_FFI_Error* BrainsimCsrGather(XLA_FFI_CallFrame* call_frame);
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimEllScatter, EllScatterImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimEllGather, EllGatherImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimCsrScatter, CsrScatterImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());
XLA_FFI_DEFINE_HANDLER_SYMBOL(BrainsimCsrGather, CsrGatherImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>());
