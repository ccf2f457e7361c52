// The per-pair block operations against their plain definitions, bit for bit:
// - the window passes (convolution, window sums, pooling of rows), which add contiguous or masked
//   ranges of positions (core/spatial_block.hpp, OffsetMap), against sums written from the axis
//   maps and the shapes one entry at a time, for every padding, strides 1–3 and odd extents;
// - pooling into a diagonal block (each output position's window only) against the diagonal of
//   the pooled full block;
// - an activation on a block, which runs a packet of positions at a time, against its rule
//   applied to one entry at a time (`moments(q11, q12, q22)`), for block sizes that are not
//   multiples of the packet and for equal samples, and an activation without a lane form (Tanh).
// Lanes and scalars give the same bits under -ffp-contract=off (TANGENT_STRICT_FP, the default).

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <tangent/tangent.hpp>

namespace {

using namespace tangent;
using tangent::detail::PairBlock;
using tangent::detail::PassMap;
using tangent::detail::WindowPlan;

std::vector<double> random_values(Index count, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> values(static_cast<std::size_t>(count));
  for (double& v : values) v = normal(rng);
  return values;
}

// The input position that output position r of pass `axis` reads at window offset d, or −1 in
// padding, from the axis map and the shapes alone (not from the pass's table): positions are
// h·W + w, and a pass along one axis keeps the other coordinate.
Index source_of(const WindowPlan& plan, std::size_t axis, Index r, Index d) {
  const Geometry& in = plan.geometry[axis];
  const Geometry& out = plan.geometry[axis + 1];
  const Index h = r / out.extent[1];
  const Index w = r % out.extent[1];
  const Index i = plan.maps[axis].source(axis == 0 ? h : w, d);
  if (i < 0) return -1;
  return axis == 0 ? i * in.extent[1] + w : h * in.extent[1] + i;
}

// out(r, c) = Σ_d in(map_d(r), map_d(c)), d ascending, one entry at a time.
std::vector<double> convolve_directly(const std::vector<double>& in, const WindowPlan& plan,
                                      std::size_t axis) {
  const Index pi = plan.geometry[axis].positions();
  const Index po = plan.geometry[axis + 1].positions();
  std::vector<double> out(static_cast<std::size_t>(po * po), 0.0);
  for (Index c = 0; c < po; ++c) {
    for (Index r = 0; r < po; ++r) {
      double sum = 0;
      for (Index d = 0; d < plan.maps[axis].window; ++d) {
        const Index sr = source_of(plan, axis, r, d);
        const Index sc = source_of(plan, axis, c, d);
        if (sr >= 0 && sc >= 0) sum += in[static_cast<std::size_t>(sr + pi * sc)];
      }
      out[static_cast<std::size_t>(r + po * c)] = sum;
    }
  }
  return out;
}

// Window sums of the rows of a pi × columns matrix (columns kept); a diagonal block is one column.
std::vector<double> pool_rows_directly(const std::vector<double>& in, const WindowPlan& plan,
                                       std::size_t axis, Index columns) {
  const Index pi = plan.geometry[axis].positions();
  const Index po = plan.geometry[axis + 1].positions();
  std::vector<double> out(static_cast<std::size_t>(po * columns), 0.0);
  for (Index c = 0; c < columns; ++c) {
    for (Index r = 0; r < po; ++r) {
      double sum = 0;
      for (Index d = 0; d < plan.maps[axis].window; ++d) {
        const Index source = source_of(plan, axis, r, d);
        if (source >= 0) sum += in[static_cast<std::size_t>(source + pi * c)];
      }
      out[static_cast<std::size_t>(r + po * c)] = sum;
    }
  }
  return out;
}

// An affine offset's range reads only input positions, and its mask has one entry per position.
void check_affine_bounds(const PassMap& pass, Index pi) {
  for (const detail::OffsetMap& offset : pass.offsets) {
    if (!offset.affine) continue;
    CHECK(offset.keep.size() == static_cast<std::size_t>(offset.last - offset.first));
    if (offset.last > offset.first) {
      CHECK(offset.step * offset.first + offset.shift >= 0);
      CHECK(offset.step * (offset.last - 1) + offset.shift < pi);
    }
  }
}

// Bit for bit, signs of zeros included (== takes −0 for +0).
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (std::bit_cast<std::uint64_t>(a[k]) != std::bit_cast<std::uint64_t>(b[k])) return false;
  }
  return true;
}

std::string describe(const Geometry& g, const Extent& window, const Extent& strides,
                     Padding padding) {
  return g.str() + " window " + window.str() + " strides " + strides.str() + " " +
         std::string(detail::padding_name(padding));
}

}  // namespace

TEST_CASE("window passes equal their position tables read entry by entry", "[kernels][conv]") {
  const std::vector<Geometry> shapes{
      {2, {8, 8}, 1}, {2, {7, 5}, 1}, {2, {16, 3}, 1}, {1, {9, 1}, 1}, {1, {2, 1}, 1}};
  const std::vector<Extent> windows{{1, 1}, {2, 2}, {3, 3}, {5, 2}, {3, 1}};
  const std::vector<Extent> strides{{1, 1}, {2, 2}, {3, 1}, {1, 2}};
  unsigned seed = 1;
  int passes_checked = 0;
  for (const Geometry& shape : shapes) {
    for (Extent window : windows) {
      for (Extent stride : strides) {
        for (Padding padding : {Padding::valid, Padding::same, Padding::circular}) {
          if (shape.rank == 1) {
            window = Extent{window[0]};
            stride = Extent{stride[0]};
          }
          const bool fits =
              window[0] <= shape.extent[0] && (shape.rank == 1 || window[1] <= shape.extent[1]);
          if (padding == Padding::valid && !fits) continue;
          const WindowPlan plan =
              detail::plan_window(LayerSite{"test", 1}, "window", window, stride, padding, shape);
          INFO(describe(shape, window, stride, padding));
          for (std::size_t k = 0; k < 2; ++k) {
            const PassMap& pass = plan.passes[k];
            if (pass.empty()) continue;
            ++passes_checked;
            const Index pi = plan.geometry[k].positions();
            const Index po = plan.geometry[k + 1].positions();
            check_affine_bounds(pass, pi);
            const std::vector<double> full = random_values(pi * pi, seed++);
            std::vector<double> out(static_cast<std::size_t>(po * po), -1.0);
            detail::convolve_full(full.data(), pi, out.data(), po, pass);
            CHECK(same_bits(out, convolve_directly(full, plan, k)));

            const std::vector<double> diagonal = random_values(pi, seed++);
            std::vector<double> summed(static_cast<std::size_t>(po), -1.0);
            detail::convolve_diagonal(diagonal.data(), summed.data(), po, pass);
            CHECK(same_bits(summed, pool_rows_directly(diagonal, plan, k, 1)));

            const Index columns = 3;
            const std::vector<double> tall = random_values(pi * columns, seed++);
            std::vector<double> rows(static_cast<std::size_t>(po * columns), -1.0);
            detail::pool_rows(tall.data(), pi, rows.data(), po, columns, pass);
            CHECK(same_bits(rows, pool_rows_directly(tall, plan, k, columns)));
          }
        }
      }
    }
  }
  CHECK(passes_checked > 300);
}

TEST_CASE("pooling into a diagonal block is the diagonal of the pooled full block, bit for bit",
          "[kernels][conv]") {
  // An AvgPool before layers that read same-position entries only (a Flatten readout) sums each
  // output position's window of the full block instead of pooling the whole block.
  const std::vector<Geometry> shapes{{2, {8, 8}, 1}, {2, {7, 5}, 1}, {1, {9, 1}, 1}};
  const std::vector<Extent> windows{{1, 1}, {2, 2}, {3, 2}, {1, 3}};
  const std::vector<Extent> strides{{1, 1}, {2, 2}, {3, 1}};
  unsigned seed = 100;
  int sequence_windows = 0;  // 1-D plans whose window is wider than one position
  for (const Geometry& shape : shapes) {
    for (const Extent& window : windows) {
      for (const Extent& stride : strides) {
        for (Padding padding : {Padding::valid, Padding::same, Padding::circular}) {
          const Extent w = shape.rank == 1 ? Extent{window[1]} : window;
          const Extent s = shape.rank == 1 ? Extent{stride[0]} : stride;
          const WindowPlan plan =
              detail::plan_window(LayerSite{"test", 1}, "window", w, s, padding, shape);
          INFO(describe(shape, w, s, padding));
          if (shape.rank == 1 && w[0] > 1) ++sequence_windows;
          const Index pi = plan.in().positions();
          const Index po = plan.out().positions();
          const std::vector<double> full = random_values(pi * pi, seed++);
          std::vector<double> pooled = full;
          std::vector<double> scratch;
          detail::pool_passes(plan, pooled, scratch);
          std::vector<double> expected;
          detail::take_diagonal(pooled, po, expected);
          std::vector<double> diagonal(static_cast<std::size_t>(po), -1.0);
          detail::pool_diagonal(plan, full, diagonal);
          CHECK(same_bits(diagonal, expected));
        }
      }
    }
  }
  CHECK(sequence_windows == 27);
}

TEST_CASE("window passes take the affine form where the map allows it", "[kernels][conv]") {
  const auto forms = [](Extent strides, Padding padding, std::size_t axis) {
    const WindowPlan plan = detail::plan_window(LayerSite{"test", 1}, "window", Extent{3, 3},
                                                strides, padding, Geometry{2, {8, 8}, 1});
    std::string form;
    for (const detail::OffsetMap& offset : plan.passes[axis].offsets) {
      form.push_back(offset.affine ? 'a' : 'r');
      if (offset.affine) form.append(std::to_string(offset.step));
    }
    return form;
  };
  CHECK(forms({1, 1}, Padding::same, 0) == "a1a1a1");
  CHECK(forms({1, 1}, Padding::same, 1) == "a1a1a1");
  CHECK(forms({2, 2}, Padding::same, 0) == "rrr");       // one run per row
  CHECK(forms({2, 2}, Padding::same, 1) == "a2a2a2");    // 8 columns, stride 2
  CHECK(forms({1, 1}, Padding::circular, 1) == "ra1r");  // the centre offset wraps nothing
  CHECK(forms({1, 1}, Padding::valid, 0) == "a1a1a1");
  CHECK(forms({1, 1}, Padding::valid, 1) == "rrr");  // rows of 6 read from rows of 8
}

TEST_CASE("a window pass whose sums cancel gives +0, as skipping padding does", "[kernels][conv]") {
  // A masked-out position adds +0 instead of nothing: the same bits unless a sum could be −0,
  // which a sum that starts at +0 never is (x + (−x) = +0 when rounding to nearest).
  const Geometry shape{2, {4, 4}, 1};
  const WindowPlan plan = detail::plan_window(LayerSite{"test", 1}, "window", Extent{3, 3},
                                              Extent{1, 1}, Padding::same, shape);
  const PassMap& pass = plan.passes[1];
  std::vector<double> in(16, -0.0);
  in[1] = 1.0;
  in[2] = -1.0;
  std::vector<double> out(16, 7.0);
  detail::convolve_diagonal(in.data(), out.data(), 16, pass);
  int zeros = 0;
  for (double v : out) {
    if (v != 0) continue;
    ++zeros;
    CHECK_FALSE(std::signbit(v));
  }
  CHECK(zeros == 14);  // all but the first row's ends (1 and −1)
  CHECK(same_bits(out, pool_rows_directly(in, plan, 1, 1)));
}

namespace {

// A block of `positions` with valid covariances: Σ = X·Yᵀ/C of random positions × channels.
template <bool Full>
PairBlock<double> random_block(Index positions, bool equal, unsigned seed,
                               std::vector<double>& var1, std::vector<double>& var2,
                               std::vector<double>& root1, std::vector<double>& root2) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const Index channels = 4;
  Eigen::MatrixXd x(positions, channels), y(positions, channels);
  for (Index p = 0; p < positions; ++p) {
    for (Index c = 0; c < channels; ++c) {
      x(p, c) = normal(rng);
      y(p, c) = equal ? x(p, c) : normal(rng);
    }
  }
  if (positions > 2) {  // a zero-variance position
    y.row(1).setZero();
    if (equal) x.row(1).setZero();
  }
  const Eigen::MatrixXd cross = x * y.transpose() / static_cast<double>(channels);
  PairBlock<double> block;
  block.geometry = Geometry{1, {positions, 1}, channels};
  var1.resize(static_cast<std::size_t>(positions));
  var2.resize(static_cast<std::size_t>(positions));
  root1.resize(var1.size());
  root2.resize(var2.size());
  for (Index p = 0; p < positions; ++p) {
    const auto k = static_cast<std::size_t>(p);
    var1[k] = x.row(p).squaredNorm() / static_cast<double>(channels);
    var2[k] = y.row(p).squaredNorm() / static_cast<double>(channels);
    root1[k] = std::sqrt(var1[k]);
    root2[k] = std::sqrt(var2[k]);
  }
  for (Index c = 0; c < (Full ? positions : 1); ++c) {
    for (Index r = 0; r < positions; ++r) {
      if (Full) {
        block.nngp.push_back(cross(r, c));
      } else {
        block.nngp.push_back(cross(r, r));
      }
    }
  }
  block.ntk = random_values(static_cast<Index>(block.nngp.size()), seed + 100);
  block.var1 = var1.data();
  block.var2 = var2.data();
  block.root1 = root1.data();
  block.root2 = root2.data();
  block.equal = equal;
  return block;
}

template <bool Full, class A>
void check_against_entries(const A& activation, Index positions, bool equal, unsigned seed) {
  std::vector<double> var1, var2, root1, root2;
  PairBlock<double> block = random_block<Full>(positions, equal, seed, var1, var2, root1, root2);
  std::vector<double> nngp = block.nngp;
  std::vector<double> ntk = block.ntk;
  for (Index c = 0; c < (Full ? positions : 1); ++c) {
    for (Index r = 0; r < positions; ++r) {
      const Index p2 = Full ? c : r;
      const auto e = static_cast<std::size_t>(r + positions * c);
      const double q12 = equal && r == p2 ? var1[static_cast<std::size_t>(r)] : nngp[e];
      const Moments<double> m = activation.moments(var1[static_cast<std::size_t>(r)], q12,
                                                   var2[static_cast<std::size_t>(p2)]);
      nngp[e] = m.expect;
      ntk[e] *= m.expect_derivative;
    }
  }
  detail::activation_block<Full, true>(activation, block);
  INFO(std::string(A::name) << (Full ? " full" : " diagonal") << ", " << positions
                            << " positions, equal " << equal);
  CHECK(same_bits(block.nngp, nngp));
  CHECK(same_bits(block.ntk, ntk));
}

}  // namespace

TEST_CASE("an activation on packets of a block equals its rule entry by entry",
          "[kernels][conv][simd]") {
  unsigned seed = 10;
  for (Index positions : {1, 3, 8, 9, 17, 64}) {
    for (bool equal : {false, true}) {
      check_against_entries<true>(ReLU{}, positions, equal, seed++);
      check_against_entries<false>(ReLU{}, positions, equal, seed++);
      check_against_entries<true>(Erf{.a = 1.2, .b = 0.8, .c = 0.1}, positions, equal, seed++);
      check_against_entries<false>(Gelu{}, positions, equal, seed++);
      check_against_entries<true>(ABReLU{.a = -0.3, .b = 1.5}, positions, equal, seed++);
      if (positions <= 9) {  // no lane form: the entry-by-entry path (quadrature, slower)
        check_against_entries<true>(Tanh{}, positions, equal, seed++);
        check_against_entries<false>(Tanh{}, positions, equal, seed++);
      }
    }
  }
}
