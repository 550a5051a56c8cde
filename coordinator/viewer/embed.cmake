# Writes a C source defining the viewer's page as bytes (coordinator/viewpage.h):
#   cmake -DIN=coordinator/viewer/index.html -DHEADER=$PWD/coordinator/viewpage.h \
#         -DOUT=build/viewpage.c -P coordinator/viewer/embed.cmake
# Run by the build (CMakeLists.txt) whenever index.html changes; needs nothing but CMake. The header
# is included by its full path: coordinator/ cannot be an include directory, since its sched.h
# would stand in for the system's.
if(NOT IN OR NOT OUT OR NOT HEADER)
  message(FATAL_ERROR "embed.cmake: give -DIN=<page> -DHEADER=<viewpage.h> -DOUT=<generated .c>")
endif()
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR size "${digits} / 2")
# Every byte becomes a \xNN escape in a string literal (the next character is always another escape
# or the closing quote, so no escape runs on); 32 bytes to a line.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" bytes "${hex}")
string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f])(\\\\x[0-9a-f][0-9a-f])(\\\\x[0-9a-f][0-9a-f])(\\\\x[0-9a-f][0-9a-f])(\\\\x[0-9a-f][0-9a-f])(\\\\x[0-9a-f][0-9a-f])(\\\\x[0-9a-f][0-9a-f])(\\\\x[0-9a-f][0-9a-f]))" "\\1@@" bytes "${bytes}")
string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f])+@@)((\\\\x[0-9a-f][0-9a-f])+@@)((\\\\x[0-9a-f][0-9a-f])+@@)((\\\\x[0-9a-f][0-9a-f])+@@)" "\\1\\3\\5\\7\"\n  \"" bytes "${bytes}")
string(REPLACE "@@" "" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by coordinator/viewer/embed.cmake: do not edit. */\n"
  "#include \"${HEADER}\"\n\n"
  "/* The literal's own NUL follows the page (viewpage.h). */\n"
  "const char coord_viewpage[] =\n  \"${bytes}\";\n"
  "const size_t coord_viewpage_len = ${size};\n")
# Replaced only when the bytes changed, so an unchanged page compiles nothing again.
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
file(REMOVE "${OUT}.tmp")
