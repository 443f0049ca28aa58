// Jobs planned from real SQL (sql::Session) over an in-memory table connector defined here: the
// test's own implementation of exec's Source/Sink interfaces, so exec is tested without connect.

#include "exec/job.h"

#include <mutex>

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "memory_tables.h"
#include "sql/session.h"

namespace roadpulse::exec {
namespace {

using test_support::MemoryTables;

std::shared_ptr<arrow::RecordBatch> events() {
  auto type =
      arrow::struct_({arrow::field("ID", arrow::utf8()), arrow::field("Severity", arrow::int64()),
                      arrow::field("City", arrow::utf8())});
  auto array = arrow::json::ArrayFromJSONString(type, R"([
      {"ID": "A-1", "Severity": 4, "City": "Dublin"},
      {"ID": "A-2", "Severity": 2, "City": "Dayton"},
      {"ID": "A-3", "Severity": null, "City": "Akron"},
      {"ID": "A-4", "Severity": 3, "City": null}])")
                   .ValueOrDie();
  return arrow::RecordBatch::FromStructArray(array).ValueOrDie();
}

std::vector<std::string> ids(const MemoryTables::Table& t) {
  std::vector<std::string> out;
  for (const auto& b : t.batches) {
    auto a = std::static_pointer_cast<arrow::StringArray>(b->column(0));
    for (int64_t i = 0; i < a->length(); ++i) out.emplace_back(a->GetView(i));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tables_.table("raw").batches.push_back(events());
    ASSERT_OK(session_
                  .execute_script(R"(
        CREATE TABLE raw (ID STRING, Severity BIGINT, City STRING) WITH ('connector' = 'memory', 'table' = 'raw');
        CREATE TABLE severe (ID STRING, Severity BIGINT) WITH ('connector' = 'memory', 'table' = 'severe');
        CREATE TABLE cities (ID STRING, City STRING) WITH ('connector' = 'memory', 'table' = 'cities');
      )")
                  .status());
  }

  std::unique_ptr<Job> plan(const std::string& sql, JobOptions options = {}) {
    auto result = session_.execute(sql);
    EXPECT_OK(result.status());
    auto job = Job::make(*result->plan, tables_, std::move(options));
    EXPECT_OK(job.status());
    return std::move(*job);
  }

  MemoryTables tables_;
  sql::Session session_;
};

TEST_F(JobTest, FilterAndProjectIntoSink) {
  auto job = plan("INSERT INTO severe SELECT ID, Severity FROM raw WHERE Severity > 3");
  ASSERT_TRUE(job->bounded());
  ASSERT_OK(job->run());
  EXPECT_EQ(ids(tables_.table("severe")), std::vector<std::string>{"A-1"});
  const auto summary = job->summary();
  ASSERT_EQ(summary.sources.size(), 1u);
  EXPECT_EQ(summary.sources[0].records_read, 4);
  ASSERT_EQ(summary.sinks.size(), 1u);
  EXPECT_EQ(summary.sinks[0].rows_written, 1);
  EXPECT_FALSE(summary.cancelled);
}

TEST_F(JobTest, StatementSetReadsASharedSourceOnce) {
  auto job = plan(R"(EXECUTE STATEMENT SET BEGIN
      INSERT INTO severe SELECT ID, Severity FROM raw WHERE Severity >= 3;
      INSERT INTO cities SELECT ID, UPPER(City) FROM raw WHERE City IS NOT NULL;
    END)");
  ASSERT_OK(job->run());
  EXPECT_EQ(tables_.table("raw").source_reads.size(), 1u);  // one source for both INSERTs
  EXPECT_EQ(ids(tables_.table("severe")), (std::vector<std::string>{"A-1", "A-4"}));
  EXPECT_EQ(ids(tables_.table("cities")), (std::vector<std::string>{"A-1", "A-2", "A-3"}));
  auto upper =
      std::static_pointer_cast<arrow::StringArray>(tables_.table("cities").batches[0]->column(1));
  EXPECT_EQ(upper->GetView(0), "DUBLIN");
  EXPECT_EQ(job->summary().sources.size(), 1u);
}

TEST_F(JobTest, TableOptionOverridesComeFromTheSessionConfig) {
  sql::CatalogTable table;
  table.name = "raw";
  table.options = {{"connector", "memory"}, {"scan.stream.initpos", "LATEST"}};
  auto options =
      effective_options(table, {{"table-option.raw.scan.stream.initpos", "TRIM_HORIZON"},
                                {"table-option.other.scan.stream.initpos", "AT_TIMESTAMP"},
                                {"table-option.raw.extra", "1"}});
  EXPECT_EQ(options.at("scan.stream.initpos"), "TRIM_HORIZON");
  EXPECT_EQ(options.at("extra"), "1");
  EXPECT_EQ(options.at("connector"), "memory");
}

TEST_F(JobTest, QueryRowsReachTheCallback) {
  auto result = session_.execute("SELECT City, Severity * 10 AS s FROM raw WHERE Severity < 4");
  ASSERT_OK(result.status());
  std::vector<std::shared_ptr<arrow::RecordBatch>> rows;
  ASSERT_OK_AND_ASSIGN(auto job,
                       Job::make_query(*result->query, tables_, {}, [&](const auto& batch) {
                         rows.push_back(batch);
                         return arrow::Status::OK();
                       }));
  ASSERT_OK(job->run());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]->num_rows(), 2);
  EXPECT_EQ(rows[0]->schema()->field(1)->name(), "s");
  EXPECT_EQ(rows[0]->column(1)->ToString(),
            arrow::json::ArrayFromJSONString(arrow::int64(), "[20, 30]").ValueOrDie()->ToString());
}

TEST_F(JobTest, RuntimeErrorsStopTheJobAndNameTheSource) {
  auto job = plan("INSERT INTO severe SELECT ID, Severity / (Severity - 4) FROM raw");
  auto st = job->run();
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("divide by zero"), st);
  EXPECT_THAT(st.message(), testing::HasSubstr("source 'raw'"));
}

}  // namespace
}  // namespace roadpulse::exec
