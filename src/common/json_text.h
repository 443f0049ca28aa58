#pragma once
// JSON text helpers shared by every module that writes JSON by hand (API answers, dead letters,
// alert bodies, CLI output) rather than through a document library.

#include <string>
#include <string_view>

namespace roadpulse {

/// Appends `s` as a JSON string literal, quotes included: `"` and `\` escaped, \n \r \t in their
/// short forms, other control characters as \u00XX. Other bytes pass through unchanged (callers
/// hand over UTF-8).
void append_json_string(std::string_view s, std::string& out);

/// Appends the JSON escape of one byte that cannot stand in a string literal as it is (`"`, `\`
/// or a control character): the short forms \" \\ \n \r \t \b \f, else \u00XX.
void append_json_escape(unsigned char c, std::string& out);

}  // namespace roadpulse
