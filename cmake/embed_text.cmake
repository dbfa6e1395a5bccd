# Writes OUT: a C++ source defining `std::string_view NAME` (in NAMESPACE)
# holding the text of IN, so a file such as the dashboard page ships inside
# the binary and stays an ordinary file in the repository.
#   cmake -DIN=... -DOUT=... -DNAME=... -DNAMESPACE=... -P embed_text.cmake
file(READ "${IN}" text)
string(FIND "${text}" ")BETCORE_EMBED\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string's end marker")
endif()
file(WRITE "${OUT}" "// Generated from ${IN} by cmake/embed_text.cmake: edit that file.
#include <string_view>

namespace ${NAMESPACE} {
extern const std::string_view ${NAME};
const std::string_view ${NAME} = R\"BETCORE_EMBED(${text})BETCORE_EMBED\";
}  // namespace ${NAMESPACE}
")
