// src/lake/pruning: which partitions and Parquet row groups a conjunction of column predicates
// can skip, against files written by our own writer (statistics as Arrow writes them).

#include <filesystem>

#include <arrow/builder.h>
#include <arrow/io/file.h>
#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include "lake/lake.h"
#include "lake/pruning.h"

namespace roadpulse::lake {
namespace {

namespace fs = std::filesystem;
using Op = ColumnPredicate::Op;

ColumnPredicate pred(std::string column, Op op, std::vector<std::shared_ptr<arrow::Scalar>> v) {
  return ColumnPredicate{std::move(column), op, std::move(v)};
}
std::shared_ptr<arrow::Scalar> str(const std::string& s) {
  return std::make_shared<arrow::StringScalar>(s);
}
std::shared_ptr<arrow::Scalar> i64(int64_t v) { return std::make_shared<arrow::Int64Scalar>(v); }

TEST(PartitionPruning, KeysCompareInTheirColumnType) {
  auto schema =
      arrow::schema({arrow::field("event_date", arrow::utf8()),
                     arrow::field("hour", arrow::int64()), arrow::field("x", arrow::float64())});
  const PartitionValues p = {{"event_date", "2016-02-08"}, {"hour", "07"}};
  EXPECT_TRUE(partition_may_match(p, *schema, {}));
  EXPECT_TRUE(partition_may_match(p, *schema, {pred("event_date", Op::kEq, {str("2016-02-08")})}));
  EXPECT_FALSE(partition_may_match(p, *schema, {pred("event_date", Op::kEq, {str("2016-02-09")})}));
  // hour=07 is the integer 7, not the string "07".
  EXPECT_TRUE(partition_may_match(p, *schema, {pred("hour", Op::kEq, {i64(7)})}));
  EXPECT_FALSE(partition_may_match(p, *schema, {pred("hour", Op::kGt, {i64(7)})}));
  EXPECT_TRUE(partition_may_match(p, *schema, {pred("hour", Op::kLe, {i64(7)})}));
  EXPECT_TRUE(partition_may_match(p, *schema, {pred("hour", Op::kIn, {i64(1), i64(7)})}));
  EXPECT_FALSE(partition_may_match(p, *schema, {pred("hour", Op::kIn, {i64(1), i64(8)})}));
  // Predicates on other columns do not prune directories; a conjunction prunes on any key.
  EXPECT_TRUE(partition_may_match(p, *schema, {pred("x", Op::kEq, {i64(1)})}));
  EXPECT_FALSE(partition_may_match(
      p, *schema, {pred("x", Op::kEq, {i64(1)}), pred("hour", Op::kLt, {i64(3)})}));
  // NULL partitions match IS NULL only.
  const PartitionValues n = {{"event_date", kDefaultPartition}};
  EXPECT_TRUE(partition_may_match(n, *schema, {pred("event_date", Op::kIsNull, {})}));
  EXPECT_FALSE(partition_may_match(n, *schema, {pred("event_date", Op::kIsNotNull, {})}));
  EXPECT_FALSE(partition_may_match(n, *schema, {pred("event_date", Op::kEq, {str("x")})}));
  EXPECT_FALSE(partition_may_match(p, *schema, {pred("event_date", Op::kIsNull, {})}));
  // `= NULL` is never true.
  EXPECT_FALSE(partition_may_match(
      p, *schema, {pred("event_date", Op::kEq, {arrow::MakeNullScalar(arrow::utf8())})}));
}

class RowGroupPruning : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pruning_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "f.parquet").string();
    // 4 row groups of 100 rows: id 0..399 ascending, city "c<group>", ts = id seconds,
    // note NULL in group 2 only.
    auto schema =
        arrow::schema({arrow::field("id", arrow::int64()), arrow::field("city", arrow::utf8()),
                       arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                       arrow::field("note", arrow::utf8())});
    ParquetWriteOptions options;
    options.row_group_rows = 100;
    ASSERT_OK_AND_ASSIGN(auto writer, ParquetFileWriter::open(path_, schema, options));
    arrow::Int64Builder id;
    arrow::StringBuilder city, note;
    arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                               arrow::default_memory_pool());
    for (int i = 0; i < 400; ++i) {
      ASSERT_OK(id.Append(i));
      ASSERT_OK(city.Append("c" + std::to_string(i / 100)));
      ASSERT_OK(ts.Append(int64_t(i) * 1'000'000));
      if (i / 100 == 2) {
        ASSERT_OK(note.AppendNull());
      } else {
        ASSERT_OK(note.Append("n"));
      }
    }
    auto batch = arrow::RecordBatch::Make(schema, 400,
                                          {id.Finish().ValueOrDie(), city.Finish().ValueOrDie(),
                                           ts.Finish().ValueOrDie(), note.Finish().ValueOrDie()});
    ASSERT_OK(writer->write(*batch));
    ASSERT_OK(writer->close().status());
    auto file = parquet::ParquetFileReader::OpenFile(path_);
    metadata_ = file->metadata();
    schema_ = schema;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<int> kept(const Predicates& p) {
    return row_groups_may_match(*metadata_, *schema_, p);
  }

  fs::path dir_;
  std::string path_;
  std::shared_ptr<parquet::FileMetaData> metadata_;
  std::shared_ptr<arrow::Schema> schema_;
};

TEST_F(RowGroupPruning, MinMaxAndNullCounts) {
  ASSERT_EQ(metadata_->num_row_groups(), 4);
  EXPECT_EQ(kept({}), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(kept({pred("id", Op::kEq, {i64(150)})}), (std::vector<int>{1}));
  EXPECT_EQ(kept({pred("id", Op::kLt, {i64(100)})}), (std::vector<int>{0}));
  EXPECT_EQ(kept({pred("id", Op::kLe, {i64(100)})}), (std::vector<int>{0, 1}));
  EXPECT_EQ(kept({pred("id", Op::kGe, {i64(399)})}), (std::vector<int>{3}));
  EXPECT_EQ(kept({pred("id", Op::kGt, {i64(399)})}), (std::vector<int>{}));
  EXPECT_EQ(kept({pred("id", Op::kIn, {i64(5), i64(305)})}), (std::vector<int>{0, 3}));
  EXPECT_EQ(kept({pred("city", Op::kEq, {str("c2")})}), (std::vector<int>{2}));
  EXPECT_EQ(kept({pred("city", Op::kGt, {str("c2")})}), (std::vector<int>{3}));
  // A double literal against an integer column compares numerically.
  EXPECT_EQ(kept({pred("id", Op::kLt, {std::make_shared<arrow::DoubleScalar>(99.5)})}),
            (std::vector<int>{0}));
  // Timestamps compare in microseconds whatever the literal's unit.
  auto ms =
      std::make_shared<arrow::TimestampScalar>(250'000, arrow::timestamp(arrow::TimeUnit::MILLI));
  EXPECT_EQ(kept({pred("ts", Op::kGe, {ms})}), (std::vector<int>{2, 3}));
  EXPECT_EQ(kept({pred("note", Op::kIsNull, {})}), (std::vector<int>{2}));
  EXPECT_EQ(kept({pred("note", Op::kIsNotNull, {})}), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(kept({pred("note", Op::kEq, {str("n")})}), (std::vector<int>{0, 1, 3}));
  // Conjunction; unknown columns and incomparable literals keep everything they touch.
  EXPECT_EQ(kept({pred("id", Op::kGe, {i64(100)}), pred("city", Op::kLt, {str("c3")})}),
            (std::vector<int>{1, 2}));
  EXPECT_EQ(kept({pred("missing", Op::kEq, {i64(1)})}), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(kept({pred("id", Op::kEq, {str("150")})}), (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(RowGroupPruning, ReaderReadsOnlySelectedGroups) {
  Predicates p = {pred("id", Op::kGe, {i64(250)})};
  RowGroupSelector selector = [&](const std::string&, const parquet::FileMetaData& m,
                                  const arrow::Schema& s) { return row_groups_may_match(m, s, p); };
  ASSERT_OK_AND_ASSIGN(auto reader,
                       ParquetTableReader::open(dir_.string(), {path_},
                                                arrow::schema({arrow::field("id", arrow::int64())}),
                                                1000, selector));
  int64_t rows = 0, min_id = INT64_MAX;
  while (true) {
    ASSERT_OK_AND_ASSIGN(auto batch, reader->next());
    if (!batch) break;
    rows += batch->num_rows();
    auto ids = std::static_pointer_cast<arrow::Int64Array>(batch->column(0));
    for (int64_t i = 0; i < ids->length(); ++i) min_id = std::min(min_id, ids->Value(i));
  }
  EXPECT_EQ(rows, 200);  // groups 2 and 3: pruning skips whole groups; the filter does the rest
  EXPECT_EQ(min_id, 200);
}

}  // namespace
}  // namespace roadpulse::lake
