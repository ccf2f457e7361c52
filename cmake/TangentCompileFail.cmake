# tangent_add_compile_fail_test(<name> <message-regex> [<culprit-regex>])
# (TANGENT_COMPILE_FAIL_LIBRARY, if set, names the library the snippet links instead of
# tangent::tangent, e.g. tangent::distributed.)
#
# tests/compile_fail/<name>.cpp is built twice (Eigen's failtest idea):
# - as is, in the normal build, where it must compile (the control: the snippet is otherwise
#   valid, so the failure below comes from what TANGENT_SHOULD_FAIL switches on);
# - with TANGENT_SHOULD_FAIL defined, by a CTest test, which passes only if the compiler output
#   contains our own static_assert message and, if given, the culprit's name in the compiler's
#   instantiation notes (GCC prints them before the error, clang after, so either order).
function(tangent_add_compile_fail_test name message)
  if(ARGC GREATER 2)
    set(regex "(${ARGV2}.*${message}|${message}.*${ARGV2})")
  else()
    set(regex "${message}")
  endif()
  set(library tangent::tangent)
  if(TANGENT_COMPILE_FAIL_LIBRARY)
    set(library ${TANGENT_COMPILE_FAIL_LIBRARY})
  endif()
  set(source ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/${name}.cpp)
  add_library(compile_fail_${name}_control OBJECT ${source})
  target_link_libraries(compile_fail_${name}_control PRIVATE ${library} tangent_dev_flags)

  add_library(compile_fail_${name} OBJECT EXCLUDE_FROM_ALL ${source})
  target_link_libraries(compile_fail_${name} PRIVATE ${library} tangent_dev_flags)
  target_compile_definitions(compile_fail_${name} PRIVATE TANGENT_SHOULD_FAIL)

  add_test(NAME compile_fail.${name}
           COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target compile_fail_${name}
                   --config $<CONFIG>)
  # Builds of one tree must not run concurrently.
  set_tests_properties(compile_fail.${name} PROPERTIES PASS_REGULAR_EXPRESSION "${regex}"
                       RESOURCE_LOCK tangent_build_tree TIMEOUT 120)
endfunction()
