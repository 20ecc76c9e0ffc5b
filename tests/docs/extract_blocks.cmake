# embedkit_doc_blocks(SOURCE_DIR <dir> FILES <md>... OUTPUT <cpp> RUN_VAR <var> UNMARKED_VAR <var>)
#
# Reads the Markdown files, finds their ```cpp (or c++, cxx) blocks and the doc-test marker of
# each (see CMakeLists.txt here), and writes one C++ program: each compiled block becomes
# doc_blocks::block_<id>(), and `doc_blocks <id>` runs it. The file is rewritten only when its
# text changes. RUN_VAR receives "<id>|<file>:<line>" per block to run; UNMARKED_VAR
# "<file>:<line>: <problem>" per block without a valid marker.
function(embedkit_doc_blocks)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "SOURCE_DIR;OUTPUT;RUN_VAR;UNMARKED_VAR" "FILES")
  # Code is full of ';' (a CMake list separator) and brackets (which stop list splitting):
  # carry them as control characters while the text is a list of lines.
  string(ASCII 1 _semi)
  string(ASCII 2 _open)
  string(ASCII 3 _close)

  set(_includes "")
  set(_functions "")
  set(_dispatch "")
  set(_run "")
  set(_unmarked "")
  set(_id 0)
  foreach(_file IN LISTS ARG_FILES)
    file(RELATIVE_PATH _rel "${ARG_SOURCE_DIR}" "${_file}")
    file(READ "${_file}" _text)
    string(REPLACE ";" "${_semi}" _text "${_text}")
    string(REPLACE "[" "${_open}" _text "${_text}")
    string(REPLACE "]" "${_close}" _text "${_text}")
    string(REPLACE "\r" "" _text "${_text}")
    string(REPLACE "\n" ";" _lines "${_text}")

    set(_number 0)
    set(_state "text")      # text, cpp (inside a C++ block), other (inside another block)
    set(_previous "")       # the last non-blank line outside blocks
    foreach(_line IN LISTS _lines)
      math(EXPR _number "${_number} + 1")
      if(_state STREQUAL "text")
        if(_line MATCHES "^ *```(cpp|c\\+\\+|cxx) *$")
          set(_state "cpp")
          set(_start ${_number})
          set(_body "")
          set(_mode "")
          if(_previous MATCHES "^ *<!-- doc-test: (run|compile|skip)( [^>]*[^ >])? *-->$")
            set(_mode "${CMAKE_MATCH_1}")
            string(STRIP "${CMAKE_MATCH_2}" _reason)
            if(_mode STREQUAL "skip" AND _reason STREQUAL "")
              list(APPEND _unmarked "${_rel}:${_number}: 'skip' needs a reason")
              set(_mode "")
            endif()
          elseif(_previous MATCHES "doc-test")
            list(APPEND _unmarked "${_rel}:${_number}: malformed marker '${_previous}'")
          else()
            list(APPEND _unmarked "${_rel}:${_number}: no doc-test marker")
          endif()
        elseif(_line MATCHES "^ *```")
          set(_state "other")
        elseif(NOT _line MATCHES "^[ \t]*$")
          set(_previous "${_line}")
        endif()
      elseif(_line MATCHES "^ *``` *$")
        if(_state STREQUAL "cpp" AND (_mode STREQUAL "run" OR _mode STREQUAL "compile"))
          math(EXPR _first "${_start} + 1")
          string(APPEND _functions
            "\n// ${_rel}:${_start} (${_mode})\nvoid block_${_id}() {\n"
            "#line ${_first} \"${_rel}\"\n${_body}@EK_RESYNC@\n}\n")
          string(APPEND _dispatch
            "    if (id == \"${_id}\") {  // ${_rel}:${_start}\n"
            "        doc_blocks::block_${_id}();\n        return 0;\n    }\n")
          if(_mode STREQUAL "run")
            list(APPEND _run "${_id}|${_rel}:${_start}")
          endif()
          math(EXPR _id "${_id} + 1")
        endif()
        set(_state "text")
        set(_previous "")
      elseif(_state STREQUAL "cpp")
        # #include lines move to file scope; an empty line keeps the #line numbering.
        if(_line MATCHES "^ *#include")
          string(APPEND _includes "#line ${_number} \"${_rel}\"\n${_line}\n")
          string(APPEND _body "\n")
        else()
          string(APPEND _body "${_line}\n")
        endif()
      endif()
    endforeach()
    if(_state STREQUAL "cpp")
      list(APPEND _unmarked "${_rel}:${_start}: the block is not closed")
    endif()
  endforeach()

  string(CONCAT _out "// Generated from README.md and docs/*.md by tests/docs/extract_blocks.cmake: do not edit.\n"
           "// Each function is one ```cpp block of the docs; `doc_blocks <id>` runs block <id>.\n"
           "#include <embedkit/embedkit.hpp>\n\n#include <cstdio>\n#include <string>\n\n"
           "${_includes}"
           "@EK_RESYNC@\nnamespace doc_blocks {\n${_functions}\n}  // namespace doc_blocks\n\n"
           "int main(int argc, char** argv) {\n"
           "    if (argc != 2) {\n"
           "        std::fprintf(stderr, \"usage: doc_blocks <block id>\\n\");\n"
           "        return 2;\n    }\n"
           "    const std::string id = argv[1];\n${_dispatch}"
           "    std::fprintf(stderr, \"doc_blocks: no block %s\\n\", argv[1]);\n"
           "    return 2;\n}\n")
  # Back to the generated file's own line numbers after each stretch of Markdown lines.
  get_filename_component(_out_name "${ARG_OUTPUT}" NAME)
  string(REPLACE ";" "${_semi}" _out "${_out}")
  string(REPLACE "[" "${_open}" _out "${_out}")
  string(REPLACE "]" "${_close}" _out "${_out}")
  string(REPLACE "\n" ";" _out_lines "${_out}")
  set(_out "")
  set(_number 0)
  foreach(_line IN LISTS _out_lines)
    math(EXPR _number "${_number} + 1")
    if(_line STREQUAL "@EK_RESYNC@")
      math(EXPR _next "${_number} + 1")
      set(_line "#line ${_next} \"${_out_name}\"")
    endif()
    string(APPEND _out "${_line}\n")
  endforeach()
  string(REPLACE "${_semi}" ";" _out "${_out}")
  string(REPLACE "${_open}" "[" _out "${_out}")
  string(REPLACE "${_close}" "]" _out "${_out}")
  file(WRITE "${ARG_OUTPUT}.new" "${_out}")
  configure_file("${ARG_OUTPUT}.new" "${ARG_OUTPUT}" COPYONLY)
  set(${ARG_RUN_VAR} "${_run}" PARENT_SCOPE)
  set(${ARG_UNMARKED_VAR} "${_unmarked}" PARENT_SCOPE)
endfunction()
