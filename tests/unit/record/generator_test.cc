#include "record/generator.h"

#include <map>
#include <set>

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "record/json_event.h"
#include "record/value.h"
#include "test_util.h"

namespace roadpulse::record {
namespace {

std::string generate(int64_t rows, uint64_t seed, SchemaVersion format) {
  GeneratorOptions options;
  options.rows = rows;
  options.seed = seed;
  options.format = format;
  auto generator = Generator::make(options).ValueOrDie();
  std::string out = generator->header();
  while (generator->next_row(out)) {
  }
  return out;
}

TEST(GeneratorTest, DeterministicBySeed) {
  const std::string a = generate(500, 7, SchemaVersion::kMarch23);
  EXPECT_EQ(a, generate(500, 7, SchemaVersion::kMarch23));
  EXPECT_NE(a, generate(500, 8, SchemaVersion::kMarch23));
}

TEST(GeneratorTest, ExactKaggleLayouts) {
  const std::string dec21 = generate(3, 1, SchemaVersion::kDec21);
  EXPECT_EQ(dec21.substr(0, dec21.find("\r\n")), Schema::dec21().header_line());
  EXPECT_EQ(std::count(dec21.begin(), dec21.end(), '\n'), 4);
  EXPECT_EQ(std::count(dec21.begin(), dec21.end(), '\r'), 4);  // CRLF, as the Dec21 file
  const std::string march23 = generate(3, 1, SchemaVersion::kMarch23);
  EXPECT_EQ(march23.substr(0, march23.find('\n')), Schema::march23().header_line());
  EXPECT_EQ(march23.find('\r'), std::string::npos);
  EXPECT_THAT(march23, ::testing::HasSubstr("\nA-1,Source"));
}

// Every generated row reads back through the CSV reader and the JSON encoder without a
// complaint, with values in the ranges and relations the real data has.
class GeneratedRows : public ::testing::TestWithParam<SchemaVersion> {};

TEST_P(GeneratedRows, AreValidAndPlausible) {
  constexpr int64_t kRows = 20000;
  ASSERT_OK_AND_ASSIGN(auto records, testing::read_text(generate(kRows, 42, GetParam())));
  ASSERT_EQ(records.size(), static_cast<size_t>(kRows + 1));
  ASSERT_OK_AND_ASSIGN(auto schema, Schema::from_header(records[0].fields));
  EXPECT_EQ(schema.version(), GetParam());
  const JsonEventEncoder encoder(schema);
  auto col = [&](const char* name) { return static_cast<size_t>(schema.index_of(name)); };

  // (state, county) and (state, city) pairs of the gazetteer the rows must come from.
  std::set<std::string> counties, cities;
  for (const char* file : {"us_counties.csv", "us_places.csv"}) {
    ASSERT_OK_AND_ASSIGN(auto gazetteer,
                         testing::read_text(testing::slurp(std::string(ROADPULSE_SOURCE_DIR) +
                                                           "/data/gazetteer/" + file)));
    ASSERT_GT(gazetteer.size(), 3000u);
    for (size_t i = 1; i < gazetteer.size(); ++i) {
      const auto& g = gazetteer[i].fields;
      if (file[3] == 'c') {
        counties.insert(g[1] + "|" + g[2]);
      } else {
        cities.insert(g[0] + "|" + g[2]);
      }
    }
  }
  std::map<std::string, int> severity, states, city_counts;
  std::set<std::string> zones;
  std::array<int, 24> hours{};
  int day_at_noon = 0, noon = 0, night_at_2 = 0, at_2 = 0;
  EpochMicros previous_start = 0;
  std::string json;
  for (size_t i = 1; i < records.size(); ++i) {
    const auto& f = records[i].fields;
    ASSERT_EQ(records[i].error, "");
    json.clear();
    ASSERT_OK(encoder.append(std::vector<std::string_view>(f.begin(), f.end()), "x", json));
    ASSERT_OK_AND_ASSIGN(Row row,
                         parse_row(schema, std::vector<std::string_view>(f.begin(), f.end())));
    EXPECT_EQ(f[col("ID")], "A-" + std::to_string(i));
    const auto start = std::get<Timestamp>(row[col("Start_Time")]).micros;
    const auto end = std::get<Timestamp>(row[col("End_Time")]).micros;
    ASSERT_GT(end, start) << records[i].raw;
    ASSERT_GE(start, previous_start) << "Start_Time runs forward";
    previous_start = start;
    const double lat = std::get<Number>(row[col("Start_Lat")]).value;
    const double lng = std::get<Number>(row[col("Start_Lng")]).value;
    ASSERT_TRUE(lat > 24 && lat < 50 && lng > -125.5 && lng < -66) << records[i].raw;
    ++severity[f[col("Severity")]];
    ++states[f[col("State")]];
    zones.insert(f[col("Timezone")]);
    const int hour = std::stoi(f[col("Start_Time")].substr(11, 2));
    ++hours[hour];
    if (hour == 12 || hour == 13) {
      ++noon;
      day_at_noon += f[col("Sunrise_Sunset")] == "Day";
    }
    if (hour == 2) {
      ++at_2;
      night_at_2 += f[col("Astronomical_Twilight")] == "Night";
    }
    ASSERT_TRUE(counties.count(f[col("State")] + "|" + f[col("County")])) << records[i].raw;
    const std::string city = f[col("City")] == "New York" ? "Manhattan" : f[col("City")];
    ASSERT_TRUE(cities.count(f[col("State")] + "|" + city)) << records[i].raw;
    ++city_counts[f[col("City")]];
    ASSERT_EQ(f[col("Airport_Code")].size(), 4u);
  }
  // Severity shares of the real data: 1: 0.5%, 2: 80.9%, 3: 16.7%, 4: 1.9%.
  auto share = [&](const char* s) { return 100.0 * severity[s] / kRows; };
  EXPECT_NEAR(share("1"), 0.5, 0.3);
  EXPECT_NEAR(share("2"), 80.9, 1.2);
  EXPECT_NEAR(share("3"), 16.7, 1.2);
  EXPECT_NEAR(share("4"), 1.9, 0.5);
  // Top states as in the real sample (CA 21%, FL 12%, TX 8%).
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [state, n] : states) ranked.emplace_back(n, state);
  std::sort(ranked.rbegin(), ranked.rend());
  EXPECT_EQ(ranked[0].second, "CA");
  EXPECT_NEAR(100.0 * ranked[0].first / kRows, 21.3, 1.5);
  EXPECT_EQ(ranked[1].second, "FL");
  EXPECT_EQ(ranked[2].second, "TX");
  EXPECT_GE(states.size(), 40u);
  // Spread over many cities, none dominating (in the real sample the top city has 2.4%).
  EXPECT_GT(city_counts.size(), 1000u);
  for (const auto& [city, n] : city_counts) EXPECT_LT(n, kRows * 3 / 100) << city;
  EXPECT_THAT(zones,
              ::testing::IsSupersetOf({"US/Eastern", "US/Central", "US/Mountain", "US/Pacific"}));
  // Rush hours: more accidents at 8 and 17 than at 3.
  EXPECT_GT(hours[8], 4 * hours[3]);
  EXPECT_GT(hours[17], 4 * hours[3]);
  // The sun: up around noon, down at 2 a.m. (local time).
  EXPECT_GT(day_at_noon, noon * 97 / 100);
  EXPECT_GT(night_at_2, at_2 * 97 / 100);
}

INSTANTIATE_TEST_SUITE_P(Formats, GeneratedRows,
                         ::testing::Values(SchemaVersion::kDec21, SchemaVersion::kMarch23));

TEST(GeneratorTest, StartOptionAndLimits) {
  GeneratorOptions options;
  options.rows = 5;
  options.start = *parse_timestamp("2021-06-01");
  ASSERT_OK_AND_ASSIGN(auto generator, Generator::make(options));
  std::string out;
  ASSERT_TRUE(generator->next_row(out));
  EXPECT_THAT(out, ::testing::HasSubstr(",2021-06-01 "));
  while (generator->next_row(out)) {
  }
  EXPECT_EQ(generator->rows_produced(), 5);
  options.format = SchemaVersion::kDec20;
  EXPECT_FALSE(Generator::make(options).ok());
  EXPECT_FALSE(parse_format_name("dec20").ok());
  EXPECT_EQ(*parse_format_name("MARCH23"), SchemaVersion::kMarch23);
}

TEST(GeneratorTest, SourceStreamsTheSameBytes) {
  GeneratorOptions options;
  options.rows = 3000;
  ASSERT_OK_AND_ASSIGN(auto generator, Generator::make(options));
  auto source = make_generator_source(std::move(generator));
  std::string streamed;
  char buf[777];
  while (true) {
    ASSERT_OK_AND_ASSIGN(size_t n, source->read(buf, sizeof buf));
    if (n == 0) break;
    streamed.append(buf, n);
  }
  EXPECT_EQ(streamed, generate(3000, 42, SchemaVersion::kMarch23));
}

}  // namespace
}  // namespace roadpulse::record
