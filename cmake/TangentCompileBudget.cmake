# The compile-budget verdicts (tests/CMakeLists.txt): recompiles the objects BASE and SUBJECTS
# (building TARGETS in BUILD_DIR, each through tangent_compile_measure), then requires each
# subject's peak compiler memory, and its object size where MAX_OBJECT_PERMILLE is not 0, to stay
# within that many thousandths of BASE's:
#   cmake -DBUILD_DIR=... -DCONFIG=... "-DTARGETS=a;b" -DBASE=<object> "-DSUBJECTS=<object>;..."
#         -DMAX_MEMORY_PERMILLE=... -DMAX_OBJECT_PERMILLE=... -P TangentCompileBudget.cmake
# Memory and object size depend on the compiler, its flags and the process limits, not on the
# load on the machine. Objects are named by their target (the folder CMake builds them in).
foreach(object IN LISTS BASE SUBJECTS)
  file(REMOVE "${object}" "${object}.budget")
endforeach()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --config "${CONFIG}" --target ${TARGETS}
                RESULT_VARIABLE built)
if(NOT built EQUAL 0)
  message(FATAL_ERROR "compile budget: ${TARGETS} did not compile (${built})")
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

read_budget("${BASE}" base)
function(target_of object out)
  string(REGEX MATCH "([^/]+)\\.dir/" match "${object}")
  set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

target_of("${BASE}" base_name)
message(STATUS "${base_name}: ${base_peak_kib} KiB peak, ${base_object} B object, ${base_cpu_s} s CPU")
set(exceeded)
foreach(subject IN LISTS SUBJECTS)
  read_budget("${subject}" subject)
  target_of("${subject}" name)
  # Ratios in thousandths: CMake's math() has integers only.
  math(EXPR memory_permille "${subject_peak_kib} * 1000 / ${base_peak_kib}")
  set(object_note "")
  if(NOT MAX_OBJECT_PERMILLE EQUAL 0)
    math(EXPR object_permille "${subject_object} * 1000 / ${base_object}")
    set(object_note ", object ×${object_permille}‰")
    if(object_permille GREATER MAX_OBJECT_PERMILLE)
      list(APPEND exceeded "${name}: object ${object_permille}‰ of ${base_name}'s (at most ${MAX_OBJECT_PERMILLE}‰)")
    endif()
  endif()
  message(STATUS "${name}: ${subject_peak_kib} KiB peak, ${subject_object} B object, "
                 "${subject_cpu_s} s CPU (memory ×${memory_permille}‰${object_note})")
  if(memory_permille GREATER MAX_MEMORY_PERMILLE)
    list(APPEND exceeded "${name}: peak memory ${memory_permille}‰ of ${base_name}'s (at most ${MAX_MEMORY_PERMILLE}‰)")
  endif()
endforeach()
if(exceeded)
  string(REPLACE ";" "\n  " exceeded "${exceeded}")
  message(FATAL_ERROR "compile budget exceeded:\n  ${exceeded}")
endif()
