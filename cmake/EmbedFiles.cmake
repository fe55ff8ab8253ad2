# Writes OUT, a C++ source holding every file under ROOT as a byte array, with its path and
# content type, in the table services/console_assets.h declares. Run with
#   cmake -DROOT=console/dist -DOUT=console_assets.cc -P cmake/EmbedFiles.cmake
file(GLOB_RECURSE files RELATIVE "${ROOT}" "${ROOT}/*")
list(SORT files)
set(arrays "")
set(table "")
set(count 0)
foreach(f IN LISTS files)
  file(READ "${ROOT}/${f}" hex HEX)
  string(LENGTH "${hex}" length)
  if(length EQUAL 0)
    continue()
  endif()
  math(EXPR size "${length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  if(f MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(f MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(f MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(f MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(f MATCHES "\\.png$")
    set(type "image/png")
  else()
    set(type "application/octet-stream")
  endif()
  string(APPEND arrays "const unsigned char kFile${count}[] = {${bytes}};\n")
  string(APPEND table "    {\"/${f}\", \"${type}\", kFile${count}, ${size}},\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "no files under ${ROOT}: build the console first (cd console && npm ci && npm run build)")
endif()
file(WRITE "${OUT}.tmp"
  "// Generated from ${ROOT} by cmake/EmbedFiles.cmake. Do not edit.\n"
  "#include \"services/console_assets.h\"\n\n"
  "namespace idv::services {\nnamespace {\n${arrays}}  // namespace\n\n"
  "const ConsoleAsset kConsoleAssets[] = {\n${table}};\n"
  "const size_t kConsoleAssetCount = ${count};\n\n}  // namespace idv::services\n")
file(RENAME "${OUT}.tmp" "${OUT}")
