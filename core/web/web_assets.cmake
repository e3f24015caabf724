# Builds the files of core/web into herald_core as web_assets.c (see web_assets.h), regenerated
# whenever one of them changes. Included from core/CMakeLists.txt, after herald_core exists: a
# generated source must be declared in the directory of the target that compiles it.

# One entry per file: file in core/web | URL path | media type (all are UTF-8 text).
set(HERALD_WEB_ASSETS
  "herald-client.js|/herald-client.js|text/javascript"
  "herald-client.d.ts|/herald-client.d.ts|text/plain"
  "demo.html|/demo/|text/html"
  "demo.js|/demo/demo.js|text/javascript"
  "demo.css|/demo/demo.css|text/css")

set(web_dir ${CMAKE_CURRENT_LIST_DIR})
set(web_out ${CMAKE_CURRENT_BINARY_DIR}/web_assets.c)
set(web_deps ${web_dir}/embed.cmake)
foreach(entry ${HERALD_WEB_ASSETS})
  string(REGEX REPLACE "\\|.*" "" file "${entry}")
  list(APPEND web_deps ${web_dir}/${file})
endforeach()

# The list travels to the script with its ";" written as "^".
string(REPLACE ";" "^" web_list "${HERALD_WEB_ASSETS}")
add_custom_command(
  OUTPUT ${web_out}
  COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${web_dir} -DOUT=${web_out} "-DASSETS=${web_list}"
          -P ${web_dir}/embed.cmake
  DEPENDS ${web_deps}
  COMMENT "Embedding core/web into web_assets.c"
  VERBATIM)
target_sources(herald_core PRIVATE ${web_out})
