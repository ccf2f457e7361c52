// Speed of convolutional kernels (NNGP and NTK together, same-input), with the counter
// entries/s (Gram-matrix entries per second of wall time):
//   cnn_flatten<H>  ten 3×3 SAME Conv + ReLU blocks on H×H×3 images, Flatten, Dense: only the
//                   same-position covariances are needed (diagonal spatial kernel);
//   myrtle_gap<H>   Myrtle-5 style (Shankar et al. 2020): four 3×3 SAME Conv + ReLU, two 2×2
//                   average pools, GlobalAvgPool, Dense, on H×H×3 images: the full covariance
//                   over pairs of positions.
//   pool_flatten<H> two 3×3 SAME Conv + ReLU blocks, a 2×2 average pool of stride 2, Flatten,
//                   Dense on H×H×3 images: full blocks up to the pool, then only its diagonal.
//   wrn16<H>        neural-tangents' README WideResNet with block size 2 (WRN-16: three groups
//                   of two residual blocks, strided conv shortcuts, AvgPool over the last
//                   group's extent, Flatten, Dense), on H×H×1 images, as examples/wide_resnet.cpp
//                   runs it on Fashion-MNIST: the full covariance before the pool.
//
// and kernel_derivatives (NNGP, NTK and their derivatives in every hyperparameter, same-input)
// against kernels() of the same network measured right before it, as kernel_bench's
// fc_derivatives (counters x_kernels, hyperparameters, and fc_target, issue 15's bound
// 2 + 0.5·hyperparameters for FC networks, for comparison: CNNs have no target of their own):
//   derivatives_myrtle<8>   Myrtle-5 + GAP on 8×8×3 (9 hyperparameters: passes of 8 and 1);
//   derivatives_flatten<8>  cnn_flatten's ten blocks on 8×8×3 (21 hyperparameters: 3 passes).
//
//   ./cnn_bench --benchmark_filter='myrtle_gap<8>/N:128$'
//   ./cnn_bench --benchmark_filter='wrn16<7>/N:128$'
//   ./cnn_bench --benchmark_filter='myrtle_gap<32>/N:16$'  CIFAR size: time per kernel entry
//   ./cnn_bench --smoke                                    every benchmark once at a tiny size

#include <cmath>
#include <string>

#include <tangent/tangent.hpp>

#include "bench_common.hpp"

namespace {

tangent::Conv conv() {
  return {.channels = 128,
          .filter = {3, 3},
          .padding = tangent::Padding::same,
          .w_std = std::sqrt(2.0),
          .b_std = 0.05};
}

template <std::size_t... Is>
auto flatten_net(std::index_sequence<Is...>) {
  return tangent::serial(((void)Is, tangent::serial(conv(), tangent::ReLU{}))...,
                         tangent::Flatten{}, tangent::Dense{.width = 10, .w_std = 1.0});
}

auto myrtle5() {
  using namespace tangent;
  const AvgPool halve{.window = {2, 2}, .strides = {2, 2}};
  return serial(conv(), ReLU{}, conv(), ReLU{}, halve, conv(), ReLU{}, halve, conv(), ReLU{},
                GlobalAvgPool{}, Dense{.width = 10, .w_std = 1.0});
}

auto pool_flatten_net() {
  using namespace tangent;
  return serial(conv(), ReLU{}, conv(), ReLU{}, AvgPool{.window = {2, 2}, .strides = {2, 2}},
                Flatten{}, Dense{.width = 10, .w_std = 1.0});
}

/// neural-tangents' stax.Conv(channels, (3, 3), strides, padding='SAME'): W_std = 1, no bias.
tangent::Conv conv3x3(tangent::Index channels, tangent::Index stride) {
  return {.channels = channels,
          .filter = {3, 3},
          .strides = {stride, stride},
          .padding = tangent::Padding::same};
}

/// neural-tangents' WideResnet(block_size, k = 1, num_classes = 10) on side×side images, with
/// the AvgPool window the last group's extent (its README's (8, 8) for 32×32 images); the same
/// network as examples/wide_resnet.cpp.
auto wide_resnet(tangent::Index block_size, tangent::Index side) {
  using namespace tangent;
  const auto group = [block_size](Index channels, Index stride) {
    const auto main = serial(ReLU{}, conv3x3(channels, stride), ReLU{}, conv3x3(channels, 1));
    return serial(FanOut{.n = 2}, parallel(main, conv3x3(channels, stride)), FanInSum{},
                  repeat(residual(ReLU{}, conv3x3(channels, 1), ReLU{}, conv3x3(channels, 1)),
                         block_size - 1));
  };
  const Index last = ((side + 1) / 2 + 1) / 2;  // after two SAME convolutions of stride 2
  return serial(conv3x3(16, 1), group(16, 1), group(32, 2), group(64, 2),
                AvgPool{.window = {last, last}}, Flatten{},
                Dense{.width = 10, .w_std = 1.0, .b_std = 0.0});
}

/// NNGP and NTK of `net` on N random Side×Side×Channels images (same-input).
template <Eigen::Index Side, Eigen::Index Channels, class Net>
void cnn_kernels(benchmark::State& state, const Net& net) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd flat = bench::normal_matrix(n, Side * Side * Channels, 7);  // NHWC
  for (auto _ : state) {
    const tangent::Kernels k = tangent::kernels(net, tangent::images(flat, Side, Side, Channels));
    benchmark::DoNotOptimize(k.ntk.data());
    benchmark::ClobberMemory();
  }
  state.counters["entries/s"] = bench::rate(static_cast<double>(n * n));
  state.SetLabel(bench::label());
}

template <Eigen::Index Side>
void cnn_flatten(benchmark::State& state) {
  cnn_kernels<Side, 3>(state, flatten_net(std::make_index_sequence<10>{}));
}

template <Eigen::Index Side>
void myrtle_gap(benchmark::State& state) {
  cnn_kernels<Side, 3>(state, myrtle5());
}

template <Eigen::Index Side>
void pool_flatten(benchmark::State& state) {
  cnn_kernels<Side, 3>(state, pool_flatten_net());
}

template <Eigen::Index Side>
void wrn16(benchmark::State& state) {
  cnn_kernels<Side, 1>(state, wide_resnet(2, Side));
}

/// kernel_derivatives of `net` on N random Side×Side×3 images against its kernels().
template <Eigen::Index Side, class Net>
void cnn_derivatives(benchmark::State& state, const Net& net) {
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXd flat = bench::normal_matrix(n, Side * Side * 3, 7);
  const auto x = tangent::images(flat, Side, Side, 3);
  const double kernel_seconds = bench::fastest_seconds([&] {
    const tangent::Kernels k = tangent::kernels(net, x);
    benchmark::DoNotOptimize(k.ntk.data());
  });
  std::size_t count = 0;
  for (auto _ : state) {
    const tangent::KernelDerivatives d = tangent::kernel_derivatives(net, x);
    count = d.hyperparameters.size();
    benchmark::DoNotOptimize(d.d_ntk.back().data());
    benchmark::ClobberMemory();
  }
  state.counters["hyperparameters"] = static_cast<double>(count);
  state.counters["x_kernels"] = bench::ratio_to(kernel_seconds);
  state.counters["fc_target"] = 2 + 0.5 * static_cast<double>(count);
  state.counters["entries/s"] = bench::rate(static_cast<double>(n * n));
  state.SetLabel(bench::label());
}

template <Eigen::Index Side>
void derivatives_myrtle(benchmark::State& state) {
  cnn_derivatives<Side>(state, myrtle5());
}

template <Eigen::Index Side>
void derivatives_flatten(benchmark::State& state) {
  cnn_derivatives<Side>(state, flatten_net(std::make_index_sequence<10>{}));
}

void register_all(bool smoke) {
  bench::add("cnn_flatten<16>", cnn_flatten<16>, bench::sizes(smoke, 4, {128, 256, 512, 1024}));
  bench::add("myrtle_gap<8>", myrtle_gap<8>, bench::sizes(smoke, 4, {64, 128, 256}));
  bench::add("myrtle_gap<16>", myrtle_gap<16>, bench::sizes(smoke, 2, {64, 128, 256}));
  bench::add("myrtle_gap<32>", myrtle_gap<32>, bench::sizes(smoke, 1, {16, 32}));
  bench::add("pool_flatten<16>", pool_flatten<16>, bench::sizes(smoke, 4, {64, 128}));
  bench::add("wrn16<7>", wrn16<7>, bench::sizes(smoke, 4, {64, 128, 256}));
  bench::add("wrn16<14>", wrn16<14>, bench::sizes(smoke, 2, {32, 64}));
  bench::add("derivatives_myrtle<8>", derivatives_myrtle<8>, bench::sizes(smoke, 2, {32, 64}));
  bench::add("derivatives_flatten<8>", derivatives_flatten<8>, bench::sizes(smoke, 2, {64, 128}));
}

}  // namespace

TANGENT_BENCH_MAIN(register_all)
