#include "sql/lexer.h"

#include <cctype>

#include <arrow/status.h>
#include <fmt/format.h>

namespace roadpulse::sql {

std::string Token::describe() const {
  switch (kind) {
    case TokenKind::kEnd:
      return "end of input";
    case TokenKind::kString:
      return fmt::format("string '{}'", text);
    case TokenKind::kQuotedIdentifier:
      return fmt::format("`{}`", text);
    default:
      return fmt::format("'{}'", text);
  }
}

SourcePos position_of(std::string_view sql, int32_t offset) {
  SourcePos pos;
  pos.offset = offset;
  for (int32_t i = 0; i < offset && i < static_cast<int32_t>(sql.size()); ++i) {
    if (sql[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else {
      ++pos.column;
    }
  }
  return pos;
}

arrow::Status sql_error(std::string_view sql, SourcePos pos, std::string_view message) {
  size_t begin = static_cast<size_t>(std::min<int32_t>(pos.offset, sql.size()));
  while (begin > 0 && sql[begin - 1] != '\n') --begin;
  size_t end = begin;
  while (end < sql.size() && sql[end] != '\n' && sql[end] != '\r') ++end;
  std::string line(sql.substr(begin, end - begin));
  // Tabs keep their width under the caret so it lines up in a terminal.
  std::string pad;
  for (int32_t i = 0; i + 1 < pos.column && i < static_cast<int32_t>(line.size()); ++i) {
    pad += line[i] == '\t' ? '\t' : ' ';
  }
  return arrow::Status::Invalid(
      fmt::format("line {}:{}: {}\n  {}\n  {}^", pos.line, pos.column, message, line, pad));
}

namespace {

bool is_ident_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool is_ident_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : sql_(sql) {}

  arrow::Result<std::vector<Token>> run() {
    std::vector<Token> out;
    for (;;) {
      ARROW_RETURN_NOT_OK(skip_space_and_comments());
      Token t;
      t.pos = pos_;
      if (at_end()) {
        t.kind = TokenKind::kEnd;
        t.end_offset = pos_.offset;
        out.push_back(std::move(t));
        return out;
      }
      const unsigned char c = peek();
      if (is_ident_start(c)) {
        while (!at_end() && is_ident_char(peek())) t.text += advance();
        t.kind = TokenKind::kIdentifier;
        t.upper = t.text;
        for (char& ch : t.upper)
          ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      } else if (c == '`') {
        advance();
        ARROW_RETURN_NOT_OK(read_quoted('`', t, "quoted identifier"));
        t.kind = TokenKind::kQuotedIdentifier;
        if (t.text.empty()) return sql_error(sql_, t.pos, "empty quoted identifier");
      } else if (c == '\'') {
        advance();
        ARROW_RETURN_NOT_OK(read_quoted('\'', t, "string literal"));
        t.kind = TokenKind::kString;
      } else if (std::isdigit(c) ||
                 (c == '.' && std::isdigit(static_cast<unsigned char>(peek(1))))) {
        read_number(t);
        if (!at_end() && is_ident_start(peek())) {
          return sql_error(sql_, pos_,
                           fmt::format("unexpected '{}' after number '{}'", peek(), t.text));
        }
      } else {
        t.kind = TokenKind::kSymbol;
        static constexpr std::string_view kTwo[] = {"<>", "!=", "<=", ">=", "||"};
        bool two = false;
        for (auto s : kTwo) {
          if (sql_.substr(pos_.offset, 2) == s) {
            t.text = std::string(s);
            advance();
            advance();
            two = true;
            break;
          }
        }
        if (!two) {
          if (std::string_view("(),;.+-*/%=<>[]:?{}").find(static_cast<char>(c)) ==
              std::string_view::npos) {
            return sql_error(sql_, pos_,
                             fmt::format("unexpected character '{}'", static_cast<char>(c)));
          }
          t.text = std::string(1, advance());
        }
      }
      t.end_offset = pos_.offset;
      out.push_back(std::move(t));
    }
  }

 private:
  bool at_end() const { return pos_.offset >= static_cast<int32_t>(sql_.size()); }
  char peek(int ahead = 0) const {
    const size_t i = static_cast<size_t>(pos_.offset + ahead);
    return i < sql_.size() ? sql_[i] : '\0';
  }
  char advance() {
    const char c = sql_[pos_.offset++];
    if (c == '\n') {
      ++pos_.line;
      pos_.column = 1;
    } else {
      ++pos_.column;
    }
    return c;
  }

  arrow::Status skip_space_and_comments() {
    for (;;) {
      if (at_end()) return arrow::Status::OK();
      const char c = peek();
      if (std::isspace(static_cast<unsigned char>(c))) {
        advance();
      } else if (c == '-' && peek(1) == '-') {
        while (!at_end() && peek() != '\n') advance();
      } else if (c == '/' && peek(1) == '*') {
        const SourcePos start = pos_;
        advance();
        advance();
        for (;;) {
          if (at_end()) return sql_error(sql_, start, "unterminated comment: missing '*/'");
          if (peek() == '*' && peek(1) == '/') {
            advance();
            advance();
            break;
          }
          advance();
        }
      } else {
        return arrow::Status::OK();
      }
    }
  }

  // Reads up to the closing quote (a doubled quote is one literal quote).
  arrow::Status read_quoted(char quote, Token& t, std::string_view what) {
    for (;;) {
      if (at_end()) {
        return sql_error(sql_, t.pos,
                         fmt::format("unterminated {}: missing closing {}", what, quote));
      }
      const char c = advance();
      if (c == quote) {
        if (peek() == quote && !at_end()) {
          t.text += advance();
          continue;
        }
        return arrow::Status::OK();
      }
      t.text += c;
    }
  }

  void read_number(Token& t) {
    t.kind = TokenKind::kInteger;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) t.text += advance();
    if (peek() == '.' && !(peek(1) == '.')) {
      t.kind = TokenKind::kDecimal;
      t.text += advance();
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) t.text += advance();
    }
    if ((peek() == 'e' || peek() == 'E') && (std::isdigit(static_cast<unsigned char>(peek(1))) ||
                                             ((peek(1) == '+' || peek(1) == '-') &&
                                              std::isdigit(static_cast<unsigned char>(peek(2)))))) {
      t.kind = TokenKind::kDouble;
      t.text += advance();
      if (peek() == '+' || peek() == '-') t.text += advance();
      while (!at_end() && std::isdigit(static_cast<unsigned char>(peek()))) t.text += advance();
    }
  }

  std::string_view sql_;
  SourcePos pos_;
};

}  // namespace

arrow::Result<std::vector<Token>> tokenize(std::string_view sql) { return Lexer(sql).run(); }

}  // namespace roadpulse::sql
