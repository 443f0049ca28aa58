#pragma once
// Tokenizer for the Flink SQL dialect: identifiers (plain or in backticks, `` doubles a
// backtick), keywords (case-insensitive: plain identifiers compared by their upper-case form),
// 'string' literals ('' doubles a quote), numbers, operators, `--` line and `/* */` block
// comments. Every token keeps its byte offset and 1-based line:column for error messages.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

namespace roadpulse::sql {

/// A place in the SQL text.
struct SourcePos {
  int32_t offset = 0;  // byte offset
  int32_t line = 1;    // 1-based
  int32_t column = 1;  // 1-based, in bytes
};

enum class TokenKind : uint8_t {
  kIdentifier,        // unquoted word (also every keyword)
  kQuotedIdentifier,  // `...`
  kString,            // '...'
  kInteger,           // 123
  kDecimal,           // 1.5, .5, 1.
  kDouble,            // 1e3, 1.5E-2
  kSymbol,            // ( ) , ; . + - * / % = <> != < <= > >= || [ ] :
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;   // identifiers as written; quoted forms unescaped; symbols verbatim
  std::string upper;  // upper-case text of kIdentifier (for keyword comparison), else empty
  SourcePos pos;
  int32_t end_offset = 0;  // one past the token's last byte

  bool is_keyword(std::string_view kw) const {
    return kind == TokenKind::kIdentifier && upper == kw;
  }
  bool is_symbol(std::string_view s) const { return kind == TokenKind::kSymbol && text == s; }
  /// How the token appears in messages: 'FROM', '(', end of input.
  std::string describe() const;
};

/// Splits `sql` into tokens ending with one kEnd token. Errors (unterminated string, comment or
/// quoted identifier; a character that starts no token) are Invalid with the position, the line
/// and a caret, like every front-end error.
arrow::Result<std::vector<Token>> tokenize(std::string_view sql);

/// The front end's error format:
///   line 3:15: <message>
///   <the text of line 3>
///                 ^
arrow::Status sql_error(std::string_view sql, SourcePos pos, std::string_view message);

/// The SourcePos of byte `offset` in `sql`.
SourcePos position_of(std::string_view sql, int32_t offset);

}  // namespace roadpulse::sql
