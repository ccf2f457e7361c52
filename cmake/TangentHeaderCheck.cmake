# Compiles every public header on its own (-fsyntax-only), so that each includes what it uses:
# a user may include any of them first. Run by CTest as headers.self_contained:
#   cmake -DCXX=<compiler> -DINCLUDE_DIR=<include/> "-DSYSTEM_DIRS=<dir;...>"
#         -DWITH_DISTRIBUTED=<ON|OFF> -P TangentHeaderCheck.cmake
# The headers of tangent::distributed need mpi.h: they are checked where MPI was found.
file(GLOB_RECURSE headers RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/tangent/*.hpp)
list(SORT headers)
set(system_flags)
if(WITH_DISTRIBUTED)
  list(APPEND system_flags -DOMPI_SKIP_MPICXX -DMPICH_SKIP_MPICXX)
else()
  list(FILTER headers EXCLUDE REGEX "^tangent/distributed")
endif()
foreach(dir IN LISTS SYSTEM_DIRS)
  if(dir)
    list(APPEND system_flags -isystem ${dir})
  endif()
endforeach()
set(failed)
foreach(header IN LISTS headers)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/header_check.cpp "#include <${header}>\n")
  execute_process(
    COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE_DIR} ${system_flags}
            ${CMAKE_CURRENT_BINARY_DIR}/header_check.cpp
    RESULT_VARIABLE result ERROR_VARIABLE errors OUTPUT_QUIET)
  if(NOT result EQUAL 0)
    string(REGEX MATCH "[^\n]*error[^\n]*" first_error "${errors}")
    list(APPEND failed "${header}: ${first_error}")
  endif()
endforeach()
list(LENGTH headers count)
if(failed)
  string(REPLACE ";" "\n  " failed "${failed}")
  message(FATAL_ERROR "headers that do not compile on their own:\n  ${failed}")
endif()
message(STATUS "${count} headers compile on their own")
