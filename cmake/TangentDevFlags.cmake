# Flags for tangent's own tests, benchmarks and examples; never installed, never forced on users.
add_library(tangent_dev_flags INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(tangent_dev_flags INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
    -Wnon-virtual-dtor -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion -Wformat=2
    -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(tangent_dev_flags INTERFACE -fconcepts-diagnostics-depth=2)
    if(CMAKE_CXX_FLAGS MATCHES "-march=")
      # GCC 12 false positives in its own AVX-512 intrinsics, reached through Eigen's packets (the
      # native preset): _mm512_undefined_pd() as the pass-through of masked operations, and an
      # 8-double load "partly outside" a 2 × 2 matrix on a path Eigen takes only for 8 or more.
      target_compile_options(tangent_dev_flags INTERFACE -Wno-uninitialized -Wno-maybe-uninitialized
                                                         -Wno-array-bounds)
    endif()
  endif()
  if(TANGENT_SANITIZE)
    target_compile_options(tangent_dev_flags INTERFACE
      -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(tangent_dev_flags INTERFACE -fsanitize=address,undefined)
  endif()
endif()
