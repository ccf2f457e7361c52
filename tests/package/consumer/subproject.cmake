# What a project that builds tangent as its subproject (add_subdirectory or FetchContent) checks
# and builds: tangent added none of its own tests or benchmarks and set the tangent_FOUND_*
# variables a found package would; the program links tangent::tangent, and tangent::data where
# it was found. `how` names the way in the error messages.
function(add_tangent_consumer how)
  if(TARGET tangent_tests OR TARGET kernel_bench)
    message(FATAL_ERROR "tangent built its own tests or benchmarks as a subproject (${how})")
  endif()
  foreach(variable IN ITEMS tangent_FOUND_OPENMP tangent_FOUND_LAPACKE tangent_FOUND_CBLAS
                            tangent_FOUND_ZLIB tangent_data_FOUND)
    if(NOT DEFINED ${variable})
      message(FATAL_ERROR "${variable} is not set after ${how}")
    endif()
  endforeach()
  add_executable(consumer ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/main.cpp)
  target_link_libraries(consumer PRIVATE tangent::tangent)
  if(tangent_data_FOUND)
    target_link_libraries(consumer PRIVATE tangent::data)
    target_compile_definitions(consumer PRIVATE CONSUMER_USES_DATA)
  endif()
endfunction()
