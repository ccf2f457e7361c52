# The compile-budget verdict (tests/CMakeLists.txt): recompiles the 3-layer and the 201-layer
# objects SHALLOW and DEEP in BUILD_DIR through tangent_compile_measure, then requires the deep
# compile's peak memory and object size to stay within MAX_MEMORY_PERMILLE and
# MAX_OBJECT_PERMILLE thousandths of the shallow one's. A cost that grew faster than the depth (a
# quadratic pack expansion, a recursive instantiation) shows in both long before 201 layers.
foreach(object IN ITEMS "${SHALLOW}" "${DEEP}")
  file(REMOVE "${object}" "${object}.budget")
endforeach()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --config "${CONFIG}"
          --target compile_budget_blocks_1 compile_budget_blocks_100
  RESULT_VARIABLE built)
if(NOT built EQUAL 0)
  message(FATAL_ERROR "compile budget: the networks did not compile (${built})")
endif()

function(read_budget object prefix)
  if(NOT EXISTS "${object}.budget")
    message(FATAL_ERROR "compile budget: no record ${object}.budget (was the launcher used?)")
  endif()
  file(STRINGS "${object}.budget" lines)
  foreach(line IN LISTS lines)
    string(REPLACE " " ";" pair "${line}")
    list(GET pair 0 key)
    list(GET pair 1 value)
    set(${prefix}_${key} "${value}" PARENT_SCOPE)
  endforeach()
  file(SIZE "${object}" size)
  set(${prefix}_object "${size}" PARENT_SCOPE)
endfunction()
read_budget("${SHALLOW}" shallow)
read_budget("${DEEP}" deep)

# Ratios in thousandths: CMake's math() has integers only.
math(EXPR memory_permille "${deep_peak_kib} * 1000 / ${shallow_peak_kib}")
math(EXPR object_permille "${deep_object} * 1000 / ${shallow_object}")
message(STATUS "3 layers: ${shallow_peak_kib} KiB peak, ${shallow_object} B object, "
               "${shallow_cpu_s} s CPU; 201 layers: ${deep_peak_kib} KiB, ${deep_object} B, "
               "${deep_cpu_s} s (memory ×${memory_permille}‰, object ×${object_permille}‰)")
if(memory_permille GREATER MAX_MEMORY_PERMILLE OR object_permille GREATER MAX_OBJECT_PERMILLE)
  message(FATAL_ERROR "compile budget exceeded: 201 layers took ${memory_permille}‰ of the "
                      "3-layer compile's peak memory (at most ${MAX_MEMORY_PERMILLE}‰) and "
                      "${object_permille}‰ of its object size (at most ${MAX_OBJECT_PERMILLE}‰)")
endif()
