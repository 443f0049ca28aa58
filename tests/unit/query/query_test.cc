// src/query: the lake query engine over a table written by TableWriter (pruning counts, caps,
// time limit, EXPLAIN) and the HTTP route's statuses (405, 400 with line/column, 429, 408).

#include <filesystem>

#include <arrow/builder.h>
#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "lake/lake.h"
#include "query/query.h"

namespace roadpulse::query {
namespace {

namespace fs = std::filesystem;

class QueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("query_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    const std::string location = (dir_ / "lake" / "curated" / "t").string();
    auto schema =
        arrow::schema({arrow::field("id", arrow::int64()), arrow::field("city", arrow::utf8()),
                       arrow::field("d", arrow::utf8())});
    ASSERT_OK_AND_ASSIGN(auto catalog, lake::Catalog::open((dir_ / "lake" / "_catalog").string()));
    lake::TableWriterOptions options;
    options.location = location;
    options.schema = schema;
    options.partition_keys = {"d"};
    options.job_id = "test";
    options.parquet.row_group_rows = 1000;
    options.catalog = catalog.get();
    options.table.name = "curated.t";
    options.table.location = location;
    options.table.schema = schema;
    options.table.partition_keys = {"d"};
    ASSERT_OK_AND_ASSIGN(auto writer, lake::TableWriter::make(options));
    // 4 days x 50k rows; ids ascending, so each day's file has 50 row groups of 1000 ids.
    for (int day = 0; day < 4; ++day) {
      arrow::Int64Builder id;
      arrow::StringBuilder city, d;
      for (int i = 0; i < 50'000; ++i) {
        ASSERT_OK(id.Append(day * 50'000 + i));
        ASSERT_OK(city.Append(i % 2 ? "Dayton" : "Columbus"));
        ASSERT_OK(d.Append("2016-02-0" + std::to_string(day + 1)));
      }
      auto batch = arrow::RecordBatch::Make(
          schema, 50'000,
          {id.Finish().ValueOrDie(), city.Finish().ValueOrDie(), d.Finish().ValueOrDie()});
      ASSERT_OK(writer->write(batch));
    }
    ASSERT_OK(writer->prepare_commit(1).status());
    ASSERT_OK(writer->commit(1));
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static QueryLimits unlimited() {
    QueryLimits l;
    l.max_rows = 1LL << 40;
    l.max_result_bytes = 1LL << 40;
    l.timeout_ms = 0;
    return l;
  }
  static server::HttpRequest post(std::string body) {
    server::HttpRequest r;
    r.method = "POST";
    r.target = "/api/query";
    r.body = std::move(body);
    return r;
  }

  static inline fs::path dir_;
};

TEST_F(QueryTest, PruningCountsAndResults) {
  ASSERT_OK_AND_ASSIGN(auto engine, LakeQueryEngine::make(dir_.string()));
  ASSERT_OK_AND_ASSIGN(auto out,
                       engine->run("SELECT id FROM t WHERE d = '2016-02-02' AND id < 51000 AND "
                                   "city = 'Dayton'",
                                   unlimited()));
  EXPECT_EQ(out.rows, 500);
  ASSERT_EQ(out.pruning.size(), 1u);
  const auto& p = out.pruning[0];
  EXPECT_EQ(p.table, "curated.t");
  EXPECT_EQ(p.partitions, 4);
  EXPECT_EQ(p.partitions_kept, 1);
  EXPECT_EQ(p.files_kept, 1);
  EXPECT_EQ(p.row_groups, 50);
  EXPECT_EQ(p.row_groups_kept, 1);
  // Full name, quoted, and no predicate to prune with.
  ASSERT_OK_AND_ASSIGN(out, engine->run("SELECT id FROM `curated.t`", unlimited()));
  EXPECT_EQ(out.rows, 200'000);
  EXPECT_EQ(out.pruning[0].row_groups_kept, 200);
}

TEST_F(QueryTest, CapsTruncateAndTheTimeLimitFails) {
  ASSERT_OK_AND_ASSIGN(auto engine, LakeQueryEngine::make(dir_.string()));
  QueryLimits limits = unlimited();
  limits.max_rows = 10;
  ASSERT_OK_AND_ASSIGN(auto out, engine->run("SELECT id, city FROM t", limits));
  EXPECT_EQ(out.rows, 10);
  EXPECT_TRUE(out.truncated);
  limits = unlimited();
  limits.max_result_bytes = 4096;
  ASSERT_OK_AND_ASSIGN(out, engine->run("SELECT id, city FROM t", limits));
  EXPECT_TRUE(out.truncated);
  EXPECT_LT(out.rows, 200'000);
  limits = unlimited();
  limits.timeout_ms = 1;
  auto slow = engine->run("SELECT id, UPPER(city) FROM t WHERE city LIKE '%a%'", limits);
  ASSERT_TRUE(slow.status().IsCancelled()) << slow.status().ToString();
  EXPECT_NE(slow.status().message().find("time limit of 1 ms"), std::string::npos);
}

TEST_F(QueryTest, ErrorsAndExplain) {
  ASSERT_OK_AND_ASSIGN(auto engine, LakeQueryEngine::make(dir_.string()));
  auto bad = engine->run("SELECT id\nFROM t WHERE nope = 1", unlimited());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(sql_error_position(bad.status()), std::make_pair(2, 14));
  EXPECT_FALSE(
      engine->run("CREATE TABLE x (a INT) WITH ('connector' = 'blackhole')", unlimited()).ok());
  ASSERT_OK_AND_ASSIGN(auto out, engine->run("EXPLAIN SELECT id FROM t WHERE d IN ('2016-02-01', "
                                             "'2016-02-04') AND id >= 199500",
                                             unlimited()));
  ASSERT_EQ(out.schema.size(), 1u);
  auto plan = std::static_pointer_cast<arrow::StringArray>(out.batches[0]->column(0));
  EXPECT_EQ(plan->GetString(plan->length() - 1),
            "curated.t: partitions 2/4, files 2/4, row groups 1/100 by d IN ('2016-02-01', "
            "'2016-02-04') AND id >= 199500");
}

TEST_F(QueryTest, RouteStatuses) {
  QueryRoutesOptions options;
  ASSERT_OK_AND_ASSIGN(auto routes, QueryRoutes::make(dir_.string(), options));
  server::HttpRequest other = post("{}");
  other.target = "/api/sql";
  EXPECT_FALSE(routes->handle(other).has_value());
  server::HttpRequest get = post("");
  get.method = "GET";
  EXPECT_EQ(routes->handle(get)->status, 405);
  EXPECT_EQ(routes->handle(*std::make_unique<server::HttpRequest>(post("not json")))->status, 400);
  auto r = post(R"({"sql": "SELECT id FROM t WHERE", "limit": 5})");
  auto response = routes->handle(r);
  EXPECT_EQ(response->status, 400);
  EXPECT_NE(response->body.find("\"line\": 1"), std::string::npos) << response->body;
  r = post(R"({"sql": "SELECT id FROM t WHERE d = '2016-02-03'", "limit": 2})");
  response = routes->handle(r);
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_NE(response->body.find("\"truncated\": true"), std::string::npos);
  EXPECT_NE(response->body.find("\"partitions_read\": 1"), std::string::npos);
  r.headers.push_back({"Accept", "text/csv"});
  response = routes->handle(r);
  EXPECT_EQ(response->body, "id\n100000\n100001\n");

  options.max_concurrent = 0;
  ASSERT_OK_AND_ASSIGN(auto busy, QueryRoutes::make(dir_.string(), options));
  r = post(R"({"sql": "SELECT id FROM t"})");
  EXPECT_EQ(busy->handle(r)->status, 429);
  options.max_concurrent = 4;
  options.limits.timeout_ms = 1;
  ASSERT_OK_AND_ASSIGN(auto slow, QueryRoutes::make(dir_.string(), options));
  // No row matches, so no cap stops the scan before the time limit does.
  r = post(R"({"sql": "SELECT id, UPPER(city) FROM t WHERE city LIKE '%zz%'"})");
  EXPECT_EQ(slow->handle(r)->status, 408);
}

}  // namespace
}  // namespace roadpulse::query
