// Compile-time facts about layers, networks and stages (mp-units' static test idea): this file
// only has to compile.

#include <concepts>
#include <type_traits>

#include <tangent/tangent.hpp>

namespace {

using namespace tangent;

static_assert(KernelLayer<Dense> && KernelLayer<Identity>);
static_assert(KernelLayer<ReLU> && KernelLayer<LeakyReLU> && KernelLayer<ABReLU> &&
              KernelLayer<Abs> && KernelLayer<Erf>);
static_assert(Activation<ReLU> && Activation<Erf> && !Activation<Dense> && !Activation<Identity>);
static_assert(FeatureLayer<Dense> && FeatureLayer<Identity> && !FeatureLayer<ReLU>);
static_assert(!KernelLayer<int> && !KernelLayer<double>);
static_assert(SpatialLayer<Conv> && SpatialLayer<AvgPool> && SpatialLayer<GlobalAvgPool> &&
              SpatialLayer<Flatten> && SpatialLayer<Identity>);
static_assert(!SpatialLayer<Dense> && !FeatureLayer<Conv> && FeatureLayer<Flatten>);
static_assert(KernelLayer<Conv> && KernelLayer<AvgPool> && KernelLayer<GlobalAvgPool>);
static_assert(std::is_aggregate_v<Conv> && std::is_aggregate_v<AvgPool>);
static_assert(Conv{}.padding == Padding::valid && Conv{}.filter == Extent{} &&
              AvgPool{}.strides == Extent{} && Extent{3, 2}[1] == 2 && Extent{}[1] == 1);

// Layers are small aggregates with defaults for every field.
static_assert(std::is_aggregate_v<Dense> && std::is_aggregate_v<Erf> &&
              std::is_aggregate_v<LeakyReLU> && std::is_aggregate_v<ABReLU>);
static_assert(Dense{}.width == 1 && Dense{}.w_std == 1.0 && !Dense{}.b_std.has_value() &&
              Dense{}.parameterization == Parameterization::ntk);
static_assert(Erf{}.a == 1.0 && Erf{}.b == 1.0 && Erf{}.c == 0.0);

// serial flattens nested networks into one flat type.
using Flat = decltype(serial(serial(Dense{}, ReLU{}), serial(Dense{}, serial(Erf{})), Dense{}));
static_assert(std::is_same_v<Flat, Serial<Dense, ReLU, Dense, Erf, Dense>>);
static_assert(Flat::size == 5);
static_assert(std::is_same_v<std::remove_cvref_t<decltype(get<3>(std::declval<Flat>()))>, Erf>);
static_assert(get<0>(serial(Dense{.width = 7}, ReLU{})).width == 7);

// Networks are regular values: copyable and comparable, with the comparison of their layers.
static_assert(std::equality_comparable<Flat> && std::is_trivially_copyable_v<Serial<ReLU, Erf>>);
static_assert(serial(Dense{.width = 3}, Erf{.a = 2}) == serial(Dense{.width = 3}, Erf{.a = 2}));
static_assert(serial(Dense{.width = 3}, Erf{.a = 2}) != serial(Dense{.width = 4}, Erf{.a = 2}));
static_assert(std::is_same_v<decltype(serial(ReLU{})), Serial<ReLU>>);

// Stages: an affine layer makes its output Gaussian; an activation consumes that.
static_assert(std::is_same_v<network_stage<Serial<Dense>, InputStage<Features>>::type,
                             Stage<Features, true>>);
static_assert(std::is_same_v<network_stage<Serial<Dense, ReLU>, InputStage<Features>>::type,
                             Stage<Features, false>>);
static_assert(
    std::is_same_v<network_stage<Serial<Dense, Identity, Erf>, InputStage<Features>>::type,
                   Stage<Features, false>>);
static_assert(std::is_same_v<network_stage<Serial<Identity>, InputStage<Features>>::type,
                             InputStage<Features>>);

// Spatial stages: Conv keeps the kind and makes it Gaussian, pooling keeps both, Flatten ends
// in features that are not Gaussian, GlobalAvgPool in features that stay Gaussian.
using Images = InputStage<Spatial<2>>;
static_assert(std::is_same_v<network_stage<Serial<Conv>, Images>::type, Stage<Spatial<2>, true>>);
static_assert(std::is_same_v<network_stage<Serial<Conv, ReLU, AvgPool>, Images>::type,
                             Stage<Spatial<2>, false>>);
static_assert(
    std::is_same_v<network_stage<Serial<Conv, Flatten>, Images>::type, Stage<Features, false>>);
static_assert(std::is_same_v<network_stage<Serial<Conv, GlobalAvgPool>, Images>::type,
                             Stage<Features, true>>);
static_assert(
    std::is_same_v<network_stage<Serial<Conv, ReLU, Flatten, Dense>, InputStage<Spatial<1>>>::type,
                   Stage<Features, true>>);

// The new layers meet the contracts of both kinds of data, and are small aggregates.
static_assert(FeatureLayer<LayerNorm> && SpatialLayer<LayerNorm> && FeatureLayer<Dropout> &&
              SpatialLayer<Dropout>);
static_assert(SpatialLayer<SumPool> && SpatialLayer<GlobalSumPool> && !FeatureLayer<SumPool>);
static_assert(std::is_aggregate_v<LayerNorm> && std::is_aggregate_v<Dropout> &&
              std::is_aggregate_v<SumPool> && std::is_aggregate_v<FanInConcat<>>);
static_assert(LayerNorm{}.eps == 1e-12 && LayerNorm{}.axis == Axes{-1} && Dropout{}.rate == 0.5 &&
              Dropout{}.mode == DropoutMode::train && FanInConcat{}.axis == -1 && FanOut{}.n == 2);

// serial(...) fuses parallel(...) and the fan-in after it (FanOut or not, across nested
// serials) into one Merge node; residual(...) is that node with an Identity shortcut.
using Block = Serial<ReLU, Dense>;
using Residual = Merge<FanInSum, Identity, Block>;
static_assert(std::is_same_v<decltype(serial(Dense{}, parallel(Identity{}, serial(ReLU{}, Dense{})),
                                             FanInSum{})),
                             Serial<Dense, Residual>>);
static_assert(
    std::is_same_v<decltype(serial(Dense{}, FanOut{}, parallel(Identity{}, serial(ReLU{}, Dense{})),
                                   FanInSum{})),
                   Serial<Dense, Residual>>);
static_assert(std::is_same_v<decltype(serial(serial(Dense{}, parallel(Dense{}, Erf{})), FanInProd{},
                                             Dense{})),
                             Serial<Dense, Merge<FanInProd, Dense, Erf>, Dense>>);
static_assert(std::is_same_v<decltype(residual(ReLU{}, Dense{})), Residual>);
static_assert(std::is_same_v<decltype(repeat(residual(ReLU{}, Dense{}), 3)), Repeat<Residual>>);
static_assert(serial(FanOut{.n = 3}, parallel(Dense{}, Dense{}, Dense{}), FanInSum{}) ==
              serial(FanOut{.n = 3}, parallel(Dense{}, Dense{}, Dense{}), FanInSum{}));
static_assert(
    get<0>(serial(FanOut{.n = 3}, parallel(Dense{}, Dense{}, Dense{}), FanInSum{})).fan_out == 3);
static_assert(branch<1>(residual(ReLU{}, Dense{.width = 9})) == serial(ReLU{}, Dense{.width = 9}));
static_assert(Network<Residual> && Network<Repeat<Residual>> && Network<Serial<Dense, Residual>>);

// Stages through branches: a sum of Gaussians is Gaussian; a product of two branches and a
// concatenation are not; a repeated block ends where it starts.
using Gaussian = Stage<Features, true>;
static_assert(
    std::is_same_v<network_stage<Serial<Dense, Residual>, InputStage<Features>>::type, Gaussian>);
static_assert(std::is_same_v<network_stage<Serial<Dense, Merge<FanInProd, Dense, Dense>>,
                                           InputStage<Features>>::type,
                             Stage<Features, false>>);
static_assert(std::is_same_v<
              network_stage<Serial<Dense, Merge<FanInProd, Dense>>, InputStage<Features>>::type,
              Gaussian>);
static_assert(std::is_same_v<network_stage<Serial<Dense, Merge<FanInConcat<-1>, Dense, Dense>>,
                                           InputStage<Features>>::type,
                             Stage<Features, false>>);
// A concatenation of positions of Gaussian branches stays Gaussian; FanInConcat{} is channels.
static_assert(std::is_same_v<decltype(FanInConcat{}), FanInConcat<-1>>);
static_assert(
    std::is_same_v<network_stage<Serial<Conv, Merge<FanInConcat<1>, Conv, Conv>>, Images>::type,
                   Stage<Spatial<2>, true>>);
static_assert(
    std::is_same_v<network_stage<Serial<Conv, Merge<FanInConcat<3>, Conv, Conv>>, Images>::type,
                   Stage<Spatial<2>, false>>);
static_assert(std::is_same_v<
              network_stage<Serial<Dense, Repeat<Residual>, LayerNorm>, InputStage<Features>>::type,
              Gaussian>);
static_assert(std::is_same_v<
              network_stage<Serial<Conv, Merge<FanInSum, Conv, Identity>, Dropout>, Images>::type,
              Stage<Spatial<2>, false>>);

// Spatial requirements fold over the tree: a pooling branch makes the Merge's input full.
static_assert(detail::in_full<Merge<FanInSum, Conv, Serial<Conv, AvgPool>>>(false));
static_assert(!detail::in_full<Merge<FanInSum, Conv, Identity>>(false));
static_assert(detail::in_full<Repeat<Serial<ReLU, AvgPool, Conv>>>(false));
static_assert(detail::in_full<Serial<Conv, ReLU, Flatten>>(false) == false);

}  // namespace
