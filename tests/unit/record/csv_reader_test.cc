#include "record/csv_reader.h"

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/schema.h"
#include "test_util.h"

namespace roadpulse::record {
namespace {

using ::testing::ElementsAre;
using testing::OwnedRecord;
using testing::read_all;
using testing::read_text;
using testing::shared_data;

struct RealFile {
  const char* name;
  size_t rows;
  size_t columns;
  SchemaVersion version;
};

constexpr RealFile kRealFiles[] = {
    {"us_accidents_dec20_sample.csv", 500, 49, SchemaVersion::kDec20},
    {"us_accidents_dec21_head.csv", 474, 47, SchemaVersion::kDec21},
    {"us_accidents_march23_sample.csv", 7931, 46, SchemaVersion::kMarch23},
};

TEST(CsvReaderRealData, EveryRowOfTheSharedFiles) {
  for (const RealFile& file : kRealFiles) {
    SCOPED_TRACE(file.name);
    ASSERT_OK_AND_ASSIGN(auto source, open_file_source(shared_data(file.name)));
    ASSERT_OK_AND_ASSIGN(auto records, read_all(std::move(source)));
    ASSERT_EQ(records.size(), file.rows + 1);  // + header
    ASSERT_OK_AND_ASSIGN(auto schema, Schema::from_header(records[0].fields));
    EXPECT_EQ(schema.size(), file.columns);
    EXPECT_EQ(schema.version(), file.version);
    for (size_t i = 0; i < records.size(); ++i) {
      ASSERT_EQ(records[i].error, "") << "line " << records[i].line;
      ASSERT_EQ(records[i].fields.size(), file.columns) << "line " << records[i].line;
      ASSERT_EQ(records[i].line, static_cast<int64_t>(i + 1));
    }
  }
}

TEST(CsvReaderRealData, SpotValuesDec21) {
  ASSERT_OK_AND_ASSIGN(auto source, open_file_source(shared_data("us_accidents_dec21_head.csv")));
  ASSERT_OK_AND_ASSIGN(auto records, read_all(std::move(source)));
  const Schema& s = Schema::dec21();
  const auto& a1 = records[1].fields;
  EXPECT_EQ(a1[s.index_of("ID")], "A-1");
  EXPECT_EQ(a1[s.index_of("Start_Time")], "2016-02-08 00:37:08");
  EXPECT_EQ(a1[s.index_of("Start_Lat")], "40.10891");
  EXPECT_EQ(a1[s.index_of("Description")],
            "Between Sawmill Rd/Exit 20 and OH-315/Olentangy Riv Rd/Exit 22 - Accident.");
  EXPECT_EQ(a1[s.index_of("Number")], "");
  EXPECT_EQ(a1[s.index_of("Street")], "Outerbelt E");
  EXPECT_EQ(a1[s.index_of("Airport_Code")], "KOSU");
  EXPECT_EQ(a1.back(), "Night");  // CRLF: no '\r' left on the last field
  // Number written as a float, Street with its leading space.
  const auto& a15 = records[15].fields;
  EXPECT_EQ(a15[s.index_of("ID")], "A-15");
  EXPECT_EQ(a15[s.index_of("Number")], "48999.0");
  EXPECT_EQ(a15[s.index_of("Street")], " Titus Rd");
  EXPECT_EQ(records.back().fields[0], "A-474");
  EXPECT_EQ(records.back().fields.back(), "Day");
}

TEST(CsvReaderRealData, SpotValuesMarch23) {
  ASSERT_OK_AND_ASSIGN(auto source,
                       open_file_source(shared_data("us_accidents_march23_sample.csv")));
  ASSERT_OK_AND_ASSIGN(auto records, read_all(std::move(source)));
  const Schema& s = Schema::march23();
  auto row_at_line = [&](int64_t line) { return records[static_cast<size_t>(line - 1)].fields; };
  auto f = row_at_line(2);
  EXPECT_EQ(f[s.index_of("ID")], "A-5433130");
  EXPECT_EQ(f[s.index_of("Start_Time")], "2023-01-19 15:55:35.000000000");
  f = row_at_line(3);
  EXPECT_EQ(f[s.index_of("Start_Lng")], "-77.49952900000002");
  f = row_at_line(119);
  EXPECT_EQ(f[s.index_of("Start_Time")], "2022-01-11 13:50:53.000000");
  f = row_at_line(1496);
  EXPECT_EQ(f[s.index_of("Zipcode")], "93301-16ND");
  EXPECT_EQ(f[s.index_of("Street")], " Q St");
  f = row_at_line(2119);
  EXPECT_EQ(f[s.index_of("Description")], "The road is closed near Norrington Road.\xC2\xA0");
  f = row_at_line(4062);
  EXPECT_EQ(f[s.index_of("Description")],
            "Lane blocked due to accident on OR-569 Randy Pap\xC3\xA9 Beltline Eastbound at Exit "
            "8 River Rd.");
  EXPECT_EQ(f[s.index_of("Street")], "Randy Pap\xEF\xBF\xBD Beltline W");
}

TEST(CsvReaderRealData, SpotValuesDec20) {
  ASSERT_OK_AND_ASSIGN(auto source, open_file_source(shared_data("us_accidents_dec20_sample.csv")));
  ASSERT_OK_AND_ASSIGN(auto records, read_all(std::move(source)));
  const Schema& s = Schema::dec20();
  const auto& a2 = records[2].fields;
  EXPECT_EQ(a2[s.index_of("ID")], "A-2");
  EXPECT_EQ(a2[s.index_of("TMC")], "201.0");
  EXPECT_EQ(a2[s.index_of("Number")], "2584.0");
  EXPECT_EQ(a2[s.index_of("Start_Lat")], "39.928059000000005");
  EXPECT_EQ(a2[s.index_of("End_Lat")], "");
  EXPECT_EQ(a2[s.index_of("Zipcode")], "43068-3402");
  EXPECT_EQ(records.back().fields[s.index_of("Description")], "Accident on US-35 at I-75.");
}

TEST(CsvReaderRealData, ChunkBoundariesDoNotMatter) {
  for (const RealFile& file : kRealFiles) {
    SCOPED_TRACE(file.name);
    const std::string text = testing::slurp(shared_data(file.name));
    ASSERT_OK_AND_ASSIGN(auto big, read_text(text));
    ASSERT_OK_AND_ASSIGN(auto small, read_text(text, 64));  // records span many refills
    EXPECT_EQ(big, small);
  }
}

TEST(CsvReaderTest, QuotedFields) {
  ASSERT_OK_AND_ASSIGN(
      auto r,
      read_text("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"\"\n\"multi\nline\",2,3\nlast,4,5\n"));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_THAT(r[1].fields, ElementsAre("x, y", "say \"hi\"", ""));
  EXPECT_EQ(r[1].raw, "\"x, y\",\"say \"\"hi\"\"\",\"\"");
  EXPECT_THAT(r[2].fields, ElementsAre("multi\nline", "2", "3"));
  EXPECT_EQ(r[2].line, 3);
  EXPECT_EQ(r[3].line, 5);  // the quoted line break counts
  EXPECT_THAT(r[3].fields, ElementsAre("last", "4", "5"));
}

TEST(CsvReaderTest, CrlfBomBlankLinesAndNoFinalNewline) {
  ASSERT_OK_AND_ASSIGN(auto r,
                       read_text("\xEF\xBB\xBFID,Severity\r\nA-1,2\r\n\r\n\"A-2\",3\r\nA-3,"));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_THAT(r[0].fields, ElementsAre("ID", "Severity"));
  EXPECT_THAT(r[1].fields, ElementsAre("A-1", "2"));
  EXPECT_THAT(r[2].fields, ElementsAre("A-2", "3"));
  EXPECT_EQ(r[2].line, 4);
  EXPECT_THAT(r[3].fields, ElementsAre("A-3", ""));
  EXPECT_EQ(r[3].raw, "A-3,");
}

TEST(CsvReaderTest, QuotedFieldWithCrlfInside) {
  ASSERT_OK_AND_ASSIGN(auto r, read_text("a,b\r\n\"one\r\ntwo\",x\r\ny,z\r\n"));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_THAT(r[1].fields, ElementsAre("one\r\ntwo", "x"));
  EXPECT_THAT(r[2].fields, ElementsAre("y", "z"));
  EXPECT_EQ(r[2].line, 4);
}

TEST(CsvReaderTest, MalformedRecordsAreFlaggedAndReadingContinues) {
  ASSERT_OK_AND_ASSIGN(auto r, read_text("a,b\n\"x\"junk,1\nok,2\n\"open,3\n"));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_THAT(r[1].error, ::testing::HasSubstr("after closing quote in field 1"));
  EXPECT_EQ(r[1].raw, "\"x\"junk,1");
  EXPECT_EQ(r[1].line, 2);
  EXPECT_EQ(r[2].error, "");
  EXPECT_THAT(r[2].fields, ElementsAre("ok", "2"));
  EXPECT_THAT(r[3].error, ::testing::HasSubstr("unterminated quoted field"));
  EXPECT_EQ(r[3].line, 4);
}

TEST(CsvReaderTest, StrayQuoteInsideUnquotedFieldIsLiteral) {
  ASSERT_OK_AND_ASSIGN(auto r, read_text("a,b\n5\" pipe,x\n"));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].error, "");
  EXPECT_THAT(r[1].fields, ElementsAre("5\" pipe", "x"));
}

TEST(CsvReaderTest, RecordLongerThanTheLimitFails) {
  CsvReaderOptions options;
  options.chunk_size = 64;
  options.max_record_bytes = 1024;
  ASSERT_OK_AND_ASSIGN(
      auto reader, CsvReader::make(make_buffer_source("a\n\"" + std::string(5000, 'x')), options));
  ASSERT_OK_AND_ASSIGN(auto header, reader->next());
  ASSERT_NE(header, nullptr);
  auto next = reader->next();
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.status().message(), ::testing::HasSubstr("line 2"));
}

TEST(CsvReaderTest, EmptyInputAndMissingFile) {
  ASSERT_OK_AND_ASSIGN(auto r, read_text(""));
  EXPECT_TRUE(r.empty());
  auto missing = CsvReader::open("/nonexistent/x.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), ::testing::HasSubstr("/nonexistent/x.csv"));
}

TEST(CsvReaderTest, ProgressCountsBytes) {
  ASSERT_OK_AND_ASSIGN(auto reader, CsvReader::make(make_buffer_source("a,b\n1,2\n")));
  EXPECT_EQ(reader->size_hint(), 8);
  while (true) {
    ASSERT_OK_AND_ASSIGN(auto rec, reader->next());
    if (rec == nullptr) break;
  }
  EXPECT_EQ(reader->bytes_consumed(), 8);
}

}  // namespace
}  // namespace roadpulse::record
