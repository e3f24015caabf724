# Builds the browser client and the files of core/web into herald_core as web_assets.c (see
# web_assets.h), regenerated whenever one of them changes. Included from core/CMakeLists.txt, after herald_core exists: a
# generated source must be declared in the directory of the target that compiles it.

# One entry per file: file (relative to the repository) | URL path | media type (all are UTF-8
# text). The browser client is the npm package herald-client of clients/js, written as plain ES
# module with hand-written declarations: its "build" is this copy, so no node is needed here.
set(HERALD_WEB_ASSETS
  "clients/js/packages/herald-client/herald-client.js|/herald-client.js|text/javascript"
  "clients/js/packages/herald-client/herald-client.d.ts|/herald-client.d.ts|text/plain"
  "core/web/demo.html|/demo/|text/html"
  "core/web/demo.js|/demo/demo.js|text/javascript"
  "core/web/demo.css|/demo/demo.css|text/css")

set(web_dir ${PROJECT_SOURCE_DIR})
set(web_out ${CMAKE_CURRENT_BINARY_DIR}/web_assets.c)
set(web_deps ${CMAKE_CURRENT_LIST_DIR}/embed.cmake)
foreach(entry ${HERALD_WEB_ASSETS})
  string(REGEX REPLACE "\\|.*" "" file "${entry}")
  list(APPEND web_deps ${web_dir}/${file})
endforeach()

# The list travels to the script with its ";" written as "^".
string(REPLACE ";" "^" web_list "${HERALD_WEB_ASSETS}")
add_custom_command(
  OUTPUT ${web_out}
  COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${web_dir} -DOUT=${web_out} "-DASSETS=${web_list}"
          -P ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
  DEPENDS ${web_deps}
  COMMENT "Embedding the browser client and the demo page into web_assets.c"
  VERBATIM)
target_sources(herald_core PRIVATE ${web_out})
