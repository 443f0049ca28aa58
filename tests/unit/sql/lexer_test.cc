#include "sql/lexer.h"

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace roadpulse::sql {
namespace {

using ::testing::HasSubstr;

TEST(LexerTest, TokenKindsAndPositions) {
  ASSERT_OK_AND_ASSIGN(auto tokens, tokenize("SELECT `Distance(mi)`, 'it''s', 42, 1.5, 2e3\n"
                                             "  FROM t -- comment\n"
                                             "/* block\n comment */ WHERE a <> b || c != d;"));
  std::vector<TokenKind> kinds;
  for (const auto& t : tokens) kinds.push_back(t.kind);
  ASSERT_EQ(tokens.size(), 22u);
  EXPECT_EQ(tokens[0].kind, TokenKind::kIdentifier);
  EXPECT_EQ(tokens[0].upper, "SELECT");
  EXPECT_EQ(tokens[1].kind, TokenKind::kQuotedIdentifier);
  EXPECT_EQ(tokens[1].text, "Distance(mi)");
  EXPECT_EQ(tokens[3].kind, TokenKind::kString);
  EXPECT_EQ(tokens[3].text, "it's");
  EXPECT_EQ(tokens[5].kind, TokenKind::kInteger);
  EXPECT_EQ(tokens[7].kind, TokenKind::kDecimal);
  EXPECT_EQ(tokens[9].kind, TokenKind::kDouble);
  EXPECT_EQ(tokens[9].text, "2e3");
  // FROM on line 2, column 3; WHERE on line 4 after the block comment.
  EXPECT_EQ(tokens[10].upper, "FROM");
  EXPECT_EQ(tokens[10].pos.line, 2);
  EXPECT_EQ(tokens[10].pos.column, 3);
  EXPECT_EQ(tokens[12].upper, "WHERE");
  EXPECT_EQ(tokens[12].pos.line, 4);
  EXPECT_EQ(tokens[12].pos.column, 13);
  EXPECT_TRUE(tokens[14].is_symbol("<>"));
  EXPECT_TRUE(tokens[16].is_symbol("||"));
  EXPECT_TRUE(tokens[18].is_symbol("!="));
  EXPECT_TRUE(tokens[20].is_symbol(";"));
  EXPECT_EQ(tokens.back().kind, TokenKind::kEnd);
}

TEST(LexerTest, KeywordsAreCaseInsensitiveIdentifiersKeepCase) {
  ASSERT_OK_AND_ASSIGN(auto tokens, tokenize("sElEcT Severity"));
  EXPECT_TRUE(tokens[0].is_keyword("SELECT"));
  EXPECT_EQ(tokens[1].text, "Severity");
}

TEST(LexerTest, DoubledBacktickInQuotedIdentifier) {
  ASSERT_OK_AND_ASSIGN(auto tokens, tokenize("`a``b`"));
  EXPECT_EQ(tokens[0].text, "a`b");
}

TEST(LexerTest, UnterminatedStringPointsAtItsStart) {
  auto r = tokenize("SELECT a,\n  'abc FROM t");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 2:3: unterminated string literal"));
  EXPECT_THAT(r.status().message(), HasSubstr("\n    'abc FROM t\n    ^"));
}

TEST(LexerTest, UnterminatedCommentAndIdentifier) {
  auto c = tokenize("SELECT 1 /* never closed");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("line 1:10: unterminated comment"));
  auto q = tokenize("SELECT `abc");
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.status().message(), HasSubstr("line 1:8: unterminated quoted identifier"));
}

TEST(LexerTest, UnexpectedCharacter) {
  auto r = tokenize("SELECT a # b");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 1:10: unexpected character '#'"));
}

TEST(LexerTest, NumberFollowedByLetters) {
  auto r = tokenize("SELECT 12abc");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("unexpected 'a' after number '12'"));
}

}  // namespace
}  // namespace roadpulse::sql
