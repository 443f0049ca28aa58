// Feeds arbitrary bytes to the whole SQL front end: tokenize, parse, then bind and plan every
// statement in a fresh session (DDL in the input populates the catalog later statements use).
// Any crash, sanitizer report, or an error Status without a message is a bug.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sql/parser.h"
#include "sql/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  roadpulse::sql::Session session;
  // A table for statements that do not create their own.
  (void)session.execute(
      "CREATE TABLE t (a INT, b BIGINT, s STRING, d DECIMAL(10, 2), x DOUBLE, ts TIMESTAMP(3), "
      "c AS a + 1, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'x')");
  auto results = session.execute_script(sql);
  if (!results.ok() && results.status().message().empty()) std::abort();
  if (results.ok()) {
    for (const auto& r : *results) {
      if (r.plan) (void)roadpulse::sql::explain_plan(*r.plan);
      if (r.query) (void)roadpulse::sql::explain_plan(*r.query);
    }
  }
  auto expr = roadpulse::sql::parse_expression(sql);
  if (expr.ok()) (void)(*expr)->to_string();
  return 0;
}
