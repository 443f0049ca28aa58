// Proves that Arrow C++ and Parquet (from a system install or the pinned pyarrow wheel) link and
// work: write a Parquet file with zstd and read it back through the C++ API.

#include <filesystem>

#include <arrow/api.h>
#include <arrow/io/api.h>
#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>

namespace roadpulse {
namespace {

TEST(ParquetRoundTripTest, WritesAndReadsBackThroughArrowCpp) {
  arrow::StringBuilder ids;
  arrow::Int64Builder severities;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_OK(ids.Append("A-" + std::to_string(i)));
    ASSERT_OK(severities.Append(1 + i % 4));
  }
  ASSERT_OK_AND_ASSIGN(auto id_array, ids.Finish());
  ASSERT_OK_AND_ASSIGN(auto severity_array, severities.Finish());
  auto schema =
      arrow::schema({arrow::field("ID", arrow::utf8()), arrow::field("Severity", arrow::int64())});
  auto table = arrow::Table::Make(schema, {id_array, severity_array});

  const auto path = std::filesystem::temp_directory_path() /
                    ("roadpulse-roundtrip-" + std::to_string(::getpid()) + ".parquet");
  {
    ASSERT_OK_AND_ASSIGN(auto out, arrow::io::FileOutputStream::Open(path.string()));
    auto props =
        parquet::WriterProperties::Builder().compression(arrow::Compression::ZSTD)->build();
    ASSERT_OK(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 256, props));
    ASSERT_OK(out->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto in, arrow::io::ReadableFile::Open(path.string()));
  ASSERT_OK_AND_ASSIGN(auto reader, parquet::arrow::OpenFile(in, arrow::default_memory_pool()));
  EXPECT_EQ(reader->num_row_groups(), 4);
  ASSERT_OK_AND_ASSIGN(auto back, reader->ReadTable());
  EXPECT_TRUE(back->Equals(*table)) << back->ToString();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace roadpulse
