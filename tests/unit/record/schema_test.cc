#include "record/schema.h"

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

namespace roadpulse::record {
namespace {

TEST(SchemaTest, PublicLayouts) {
  EXPECT_EQ(Schema::dec21().size(), 47u);
  EXPECT_EQ(Schema::march23().size(), 46u);
  EXPECT_EQ(Schema::dec20().size(), 49u);
  EXPECT_EQ(Schema::dec21().version(), SchemaVersion::kDec21);
  EXPECT_EQ(Schema::march23().version(), SchemaVersion::kMarch23);
  EXPECT_EQ(Schema::dec20().version(), SchemaVersion::kDec20);
  // March23 adds Source and drops Number and Side.
  EXPECT_EQ(Schema::march23().index_of("Source"), 1);
  EXPECT_EQ(Schema::march23().index_of("Number"), -1);
  EXPECT_EQ(Schema::march23().index_of("Side"), -1);
  EXPECT_EQ(Schema::dec21().index_of("Source"), -1);
  EXPECT_EQ(Schema::dec20().index_of("TMC"), 2);
}

TEST(SchemaTest, ColumnTypes) {
  const Schema& s = Schema::dec21();
  auto type_of = [&](std::string_view name) { return s.column(s.index_of(name)).type; };
  EXPECT_EQ(type_of("ID"), FieldType::kString);
  EXPECT_EQ(type_of("Severity"), FieldType::kInt);
  EXPECT_EQ(type_of("Start_Time"), FieldType::kTimestamp);
  EXPECT_EQ(type_of("Weather_Timestamp"), FieldType::kTimestamp);
  EXPECT_EQ(type_of("Start_Lng"), FieldType::kDouble);
  EXPECT_EQ(type_of("Number"), FieldType::kDouble);
  EXPECT_EQ(type_of("Amenity"), FieldType::kBool);
  EXPECT_EQ(type_of("Turning_Loop"), FieldType::kBool);
  EXPECT_EQ(type_of("Zipcode"), FieldType::kString);
  EXPECT_EQ(type_of("Sunrise_Sunset"), FieldType::kString);
}

TEST(SchemaTest, HeaderDrivesTheMapping) {
  ASSERT_OK_AND_ASSIGN(auto s, Schema::from_header(std::vector<std::string_view>{
                                   "Severity", "ID", "My_Extra", "Start_Time"}));
  EXPECT_EQ(s.version(), SchemaVersion::kCustom);
  EXPECT_EQ(s.index_of("ID"), 1);
  EXPECT_EQ(s.column(0).type, FieldType::kInt);
  EXPECT_EQ(s.column(2).type, FieldType::kString);  // unknown columns are carried as strings
  EXPECT_EQ(s.column(3).type, FieldType::kTimestamp);
  EXPECT_EQ(s.header_line(), "Severity,ID,My_Extra,Start_Time");
}

TEST(SchemaTest, RejectsBadHeaders) {
  auto dup = Schema::from_header(std::vector<std::string_view>{"ID", "Severity", "ID"});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("'ID' appears twice"), std::string::npos);
  auto empty = Schema::from_header(std::vector<std::string_view>{"ID", ""});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("column 2"), std::string::npos);
  auto bad_utf8 = Schema::from_header(std::vector<std::string_view>{"ID", "\xff"});
  EXPECT_FALSE(bad_utf8.ok());
}

TEST(SchemaTest, RoundTripsItsHeader) {
  for (const Schema* s : {&Schema::dec20(), &Schema::dec21(), &Schema::march23()}) {
    std::vector<std::string> names;
    for (const auto& c : s->columns()) names.push_back(c.name);
    ASSERT_OK_AND_ASSIGN(auto again, Schema::from_header(names));
    EXPECT_EQ(again, *s);
  }
}

}  // namespace
}  // namespace roadpulse::record
