// Catalog schema evolution: files with new columns widen the table; a changed type, another
// location or other partition keys are refused with the column/keys named, catalog unchanged.

#include <filesystem>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "lake/lake.h"

namespace roadpulse::lake {
namespace {

namespace fs = std::filesystem;

TableEntry entry(std::shared_ptr<arrow::Schema> schema, std::vector<std::string> keys = {"d"},
                 std::string location = "/lake/t") {
  TableEntry t;
  t.name = "curated.t";
  t.location = std::move(location);
  t.schema = std::move(schema);
  t.partition_keys = std::move(keys);
  return t;
}

TEST(CatalogEvolution, NewColumnsAreAddedOthersRefused) {
  const fs::path dir =
      fs::temp_directory_path() / ("catalog_evolution_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::open(dir.string()));
  auto v1 = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("d", arrow::utf8())});
  ASSERT_OK(catalog->add_files(entry(v1), {{"d=1", {"a.parquet", 10, 100}}}));

  // A later writer adds a column: appended, nullable, files of both kept.
  auto v2 =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("city", arrow::utf8(), false),
                     arrow::field("d", arrow::utf8())});
  ASSERT_OK(catalog->add_files(entry(v2), {{"d=2", {"b.parquet", 5, 50}}}));
  ASSERT_OK_AND_ASSIGN(auto t, catalog->get("curated.t"));
  ASSERT_EQ(t.schema->num_fields(), 3);
  EXPECT_EQ(t.schema->field(2)->name(), "city");
  EXPECT_TRUE(t.schema->field(2)->nullable());
  EXPECT_EQ(t.rows(), 15);

  // A writer that lacks a column is fine (its files read it as NULL).
  ASSERT_OK(catalog->add_files(entry(v1), {{"d=3", {"c.parquet", 1, 10}}}));

  // A changed type names the column and both types; nothing is added.
  auto bad = arrow::schema({arrow::field("id", arrow::utf8()), arrow::field("d", arrow::utf8())});
  auto st = catalog->add_files(entry(bad), {{"d=4", {"d.parquet", 1, 10}}});
  ASSERT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("column 'id' is int64 in the catalog but string"), std::string::npos)
      << st.message();
  EXPECT_FALSE(catalog->add_files(entry(v1, {"d", "e"}), {}).ok());
  EXPECT_FALSE(catalog->add_files(entry(v1, {"d"}, "/elsewhere"), {}).ok());
  ASSERT_OK_AND_ASSIGN(t, catalog->get("curated.t"));
  EXPECT_EQ(t.file_count(), 3u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace roadpulse::lake
