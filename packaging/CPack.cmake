# Install rules for what the core and plugins do not install themselves, and the .deb and .rpm
# packages (CPack). Included last by the top-level CMakeLists.txt. Build both packages with
# packaging/build-packages.sh; packaging/README.md describes what they install.

set(herald_pkg_dir ${CMAKE_CURRENT_LIST_DIR})
set(herald_pkg_build_dir ${CMAKE_BINARY_DIR}/packaging)

# Configuration: the shipped config, the secrets file (root only: systemd reads it before it
# drops to the herald user) and the Lua formatters. Absolute destinations: /etc is outside
# the /usr prefix. All of them are configuration files an upgrade keeps when the admin changed
# them (deb conffiles and rpm %config(noreplace), below).
file(GLOB_RECURSE herald_scripts CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}/scripts
     ${PROJECT_SOURCE_DIR}/scripts/*.lua)
list(SORT herald_scripts)
install(FILES ${PROJECT_SOURCE_DIR}/config/herald.yaml DESTINATION ${HERALD_SYSCONF_DIR})
install(FILES ${herald_pkg_dir}/herald.env DESTINATION ${HERALD_SYSCONF_DIR}
        PERMISSIONS OWNER_READ OWNER_WRITE)
# scripts/tests/ (the fixtures of `herald test-scripts`) stays in the source tree.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scripts/ DESTINATION ${HERALD_SYSCONF_DIR}/scripts
        FILES_MATCHING PATTERN "*.lua" PATTERN "tests" EXCLUDE)
set(herald_conffiles ${HERALD_SYSCONF_DIR}/herald.yaml ${HERALD_SYSCONF_DIR}/herald.env)
foreach(script ${herald_scripts})
  list(APPEND herald_conffiles ${HERALD_SYSCONF_DIR}/scripts/${script})
endforeach()

# The service. Prefix-relative: /usr/lib/systemd/system, which Debian 12's merged /usr makes
# the same directory as /lib/systemd/system, and where RPM distributions keep units.
install(FILES ${herald_pkg_dir}/systemd/herald.service DESTINATION lib/systemd/system)

# Documentation for the admin, in /usr/share/doc/herald: each guide (its path in the source
# tree, then its installed name). The guides link to each other by their paths in the source
# tree; the installed copies are rewritten so that every relative link names an installed file
# (a link to a file that is not installed becomes plain text naming its place in the source).
set(herald_doc_dir ${CMAKE_INSTALL_DATADIR}/doc/herald)
set(herald_docs
  packaging/README.md README.md
  config/README.md configuration.md
  scripts/README.md scripts.md
  plugins/README.md plugins.md
  plugins/stdin/README.md stdin.md
  plugins/webhook/README.md webhook.md
  plugins/redis/README.md redis.md
  core/README.md protocol.md)

# The installed name of the source file `rel` (relative to the repository), or "" in `out`.
function(herald_doc_name rel out)
  set(docs ${herald_docs})
  set(name "")
  while(docs)
    list(POP_FRONT docs src dst)
    if(src STREQUAL rel)
      set(name ${dst})
    endif()
  endwhile()
  set(${out} "${name}" PARENT_SCOPE)
endfunction()

# Write the installed copy of the guide `rel` into `out` with its links rewritten.
function(herald_doc_copy rel out)
  file(READ ${PROJECT_SOURCE_DIR}/${rel} text)
  get_filename_component(dir ${rel} DIRECTORY)
  # A `]` in a list element hides the `;` that follows it from CMake's list splitting: the
  # links are matched with a marker in place of the bracket, put back at the end.
  set(mark "@herald-link@")
  string(REPLACE "](" "${mark}(" text "${text}")
  string(REGEX MATCHALL "${mark}\\([^)# :]+[^) ]*\\)" links "${text}")
  list(REMOVE_DUPLICATES links)
  foreach(link ${links})
    string(REGEX MATCH "^${mark}\\(([^)#]*)" target "${link}")
    set(target "${CMAKE_MATCH_1}")
    set(anchor "")
    if(link MATCHES "(#[^)]*)\\)$")
      set(anchor "${CMAKE_MATCH_1}")
    endif()
    if(target MATCHES "^[a-z]+:")
      continue() # https:, mailto:, file:
    endif()
    get_filename_component(abs ${PROJECT_SOURCE_DIR}/${dir}/${target} ABSOLUTE)
    file(RELATIVE_PATH target_rel ${PROJECT_SOURCE_DIR} ${abs})
    herald_doc_name(${target_rel} name)
    if(name)
      string(REPLACE "${link}" "${mark}(${name}${anchor})" text "${text}")
    else()
      # [words](target): the words, and where the file is in the source tree
      while(TRUE)
        string(FIND "${text}" "${link}" at)
        if(at EQUAL -1)
          break()
        endif()
        string(SUBSTRING "${text}" 0 ${at} before)
        string(FIND "${before}" "[" open REVERSE)
        math(EXPR words_at "${open} + 1")
        math(EXPR words_len "${at} - ${words_at}")
        string(SUBSTRING "${text}" ${words_at} ${words_len} words)
        string(LENGTH "${link}" link_len)
        math(EXPR after_at "${at} + ${link_len}")
        string(SUBSTRING "${text}" ${after_at} -1 after)
        string(SUBSTRING "${text}" 0 ${open} head)
        if(words STREQUAL target_rel OR words MATCHES "/README.md$")
          set(text "${head}`${target_rel}` (in Herald's source tree)${after}")
        else()
          set(text "${head}${words} (`${target_rel}` in Herald's source tree)${after}")
        endif()
      endwhile()
    endif()
  endforeach()
  string(REPLACE "${mark}(" "](" text "${text}")
  file(WRITE ${out} "${text}")
  set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               ${PROJECT_SOURCE_DIR}/${rel})
endfunction()

set(docs ${herald_docs})
while(docs)
  list(POP_FRONT docs src dst)
  herald_doc_copy(${src} ${herald_pkg_build_dir}/doc/${dst})
  install(FILES ${herald_pkg_build_dir}/doc/${dst} DESTINATION ${herald_doc_dir})
endwhile()
install(FILES ${herald_pkg_dir}/debian/copyright DESTINATION ${herald_doc_dir})
# The manual page, and Debian's changelog, compressed with gzip -9n (no name, no time stamp,
# so the package is reproducible).
configure_file(${herald_pkg_dir}/herald.1.in ${herald_pkg_build_dir}/herald.1 @ONLY)
set(herald_man_gz ${herald_pkg_build_dir}/herald.1.gz)
set(herald_changelog_gz ${herald_pkg_build_dir}/changelog.Debian.gz)
add_custom_command(OUTPUT ${herald_man_gz} ${herald_changelog_gz}
  COMMAND gzip -9nc ${herald_pkg_build_dir}/herald.1 > ${herald_man_gz}
  COMMAND gzip -9nc ${herald_pkg_dir}/debian/changelog > ${herald_changelog_gz}
  DEPENDS ${herald_pkg_build_dir}/herald.1 ${herald_pkg_dir}/debian/changelog VERBATIM)
add_custom_target(herald_compressed_docs ALL DEPENDS ${herald_man_gz} ${herald_changelog_gz})
install(FILES ${herald_man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${herald_changelog_gz} DESTINATION ${herald_doc_dir})

# ------------------------------------------------------------------------------- both packages
set(CPACK_PACKAGE_NAME herald)
set(CPACK_PACKAGE_VENDOR "Herald")
set(CPACK_PACKAGE_CONTACT "Herald maintainers <herald@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time WebSocket notification hub")
string(JOIN "\n" CPACK_PACKAGE_DESCRIPTION
  "Herald holds the WebSocket connections of browsers, checks their JWTs, keeps"
  "them in user and project rooms and pushes to them the notifications that back"
  "ends send through source plugins (webhook, Redis, stdin). Lua scripts word the"
  "notifications. The package runs it as a hardened systemd service.")
set(CPACK_RPM_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${herald_pkg_dir}/LICENSE)
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_PACKAGE_CHECKSUM SHA256)

# ------------------------------------------------------------------------------- .deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps adds the libraries of the binary and the plugins; adduser runs in postinst;
# procps has /bin/kill, which the unit's ExecReload runs (systemd does not depend on it).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libwebsockets-evlib-uv is dlopened by lws (dpkg-shlibdeps cannot see it).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps, libwebsockets-evlib-uv")
set(herald_deb_conffiles ${herald_pkg_build_dir}/debian/conffiles)
list(JOIN herald_conffiles "\n" herald_conffiles_text)
file(WRITE ${herald_deb_conffiles} "${herald_conffiles_text}\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${herald_deb_conffiles}
  ${herald_pkg_dir}/debian/postinst
  ${herald_pkg_dir}/debian/prerm
  ${herald_pkg_dir}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# ------------------------------------------------------------------------------- .rpm
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "Apache-2.0")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_AUTOREQPROV ON)
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${herald_pkg_dir}/rpm/pre.sh)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${herald_pkg_dir}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${herald_pkg_dir}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${herald_pkg_dir}/rpm/postun.sh)
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
# Directories that belong to the distribution (filesystem, systemd, pkgconf), not to Herald.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
  /usr/lib/systemd /usr/lib/systemd/system /usr/share/man /usr/share/man/man1
  /usr/share/pkgconfig)
set(herald_rpm_filelist
  "%exclude /usr/${herald_doc_dir}/changelog.Debian.gz")
foreach(f ${herald_conffiles})
  if(f STREQUAL "${HERALD_SYSCONF_DIR}/herald.env")
    list(APPEND herald_rpm_filelist "%config(noreplace) %attr(0600,root,root) ${f}")
  else()
    list(APPEND herald_rpm_filelist "%config(noreplace) ${f}")
  endif()
endforeach()
set(CPACK_RPM_USER_FILELIST ${herald_rpm_filelist})

include(CPack)
