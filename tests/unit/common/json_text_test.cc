#include "common/json_text.h"

#include <gtest/gtest.h>

namespace roadpulse {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(s, out);
  return out;
}

TEST(JsonTextTest, EscapesWhatJsonRequiresAndPassesUtf8Through) {
  EXPECT_EQ(quoted(""), R"("")");
  EXPECT_EQ(quoted("Dublin"), R"("Dublin")");
  EXPECT_EQ(quoted("say \"hi\"\\"), R"("say \"hi\"\\")");
  EXPECT_EQ(quoted("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(quoted(std::string_view("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(quoted("\b\f"), R"("\b\f")");  // short forms, as the record encoder writes them
  EXPECT_EQ(quoted("Caf\xc3\xa9 \xc2\xa0"), "\"Caf\xc3\xa9 \xc2\xa0\"");
}

TEST(JsonTextTest, AppendsToWhatIsThere) {
  std::string out = "{\"k\":";
  append_json_string("v", out);
  EXPECT_EQ(out, R"({"k":"v")");
}

}  // namespace
}  // namespace roadpulse
