// dashboard::HttpRoutes: the embedded page with ETag/gzip, the stream statistics, recent
// accidents for the map, and the SSE route's response.

#include "dashboard/http_routes.h"

#include <arrow/testing/gtest_util.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "dashboard/assets.h"
#include "test_util.h"

namespace roadpulse::dashboard {
namespace {

using testing::DataDir;

server::HttpRequest get(std::string target,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
  server::HttpRequest r;
  r.method = "GET";
  r.target = std::move(target);
  r.headers = std::move(headers);
  return r;
}

std::string header(const server::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class Routes : public ::testing::Test {
 protected:
  void SetUp() override {
    DashboardOptions options;
    options.feed.tick_ms = 3'600'000;
    ASSERT_OK_AND_ASSIGN(routes_, HttpRoutes::make(dir_.path(), dir_.log(), options));
  }
  DataDir dir_;
  std::unique_ptr<HttpRoutes> routes_;
};

TEST_F(Routes, ServesThePageWithETagAndGzip) {
  auto page = routes_->handle(get("/"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("app.js"), std::string::npos);
  const std::string etag = header(*page, "ETag");
  ASSERT_EQ(etag.size(), 34u) << etag;  // quoted 128-bit hex
  EXPECT_EQ(header(*page, "Cache-Control"), "no-cache");

  auto again = routes_->handle(get("/index.html", {{"If-None-Match", etag}}));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());

  const EmbeddedAsset* js = find_asset("/app.js");
  ASSERT_NE(js, nullptr);
  ASSERT_FALSE(js->gzip.empty()) << "the bundle compresses well";
  auto plain = routes_->handle(get("/app.js"));
  EXPECT_EQ(plain->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(plain->body, js->body);
  EXPECT_EQ(header(*plain, "Content-Encoding"), "");
  auto zipped = routes_->handle(get("/app.js", {{"Accept-Encoding", "br, gzip;q=0.8"}}));
  EXPECT_EQ(header(*zipped, "Content-Encoding"), "gzip");
  EXPECT_EQ(zipped->body, js->gzip);
  EXPECT_EQ(zipped->body.substr(0, 2), "\x1f\x8b");
  auto refused = routes_->handle(get("/app.js", {{"Accept-Encoding", "gzip;q=0"}}));
  EXPECT_EQ(header(*refused, "Content-Encoding"), "");
  EXPECT_TRUE(find_asset("/app.css"));
}

TEST_F(Routes, LeavesOtherRequestsToTheOtherRoutes) {
  server::HttpRequest kinesis = get("/");
  kinesis.method = "POST";  // the Kinesis API
  EXPECT_FALSE(routes_->handle(kinesis));
  EXPECT_FALSE(routes_->handle(get("/metrics")));
  EXPECT_FALSE(routes_->handle(get("/api/metrics/query?name=x")));
  EXPECT_FALSE(routes_->handle(get("/nope.js")));
  server::HttpRequest post = get("/api/streams");
  post.method = "POST";
  auto r = routes_->handle(post);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

TEST_F(Routes, StreamsShowRecordsRatesAndDeadLetters) {
  ASSERT_OK(dir_.log()->create_stream("us-accidents-data-stream-1", 2));
  ASSERT_OK(dir_.log()->create_stream("us-accidents-data-stream-1.dlq", 1));
  for (int i = 0; i < 3; ++i) dir_.append("us-accidents-data-stream-1", std::to_string(i), "{}");
  dir_.append("us-accidents-data-stream-1.dlq", "k", "bad");
  auto r = routes_->handle(get("/api/streams"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_NE(r->body.find("{\"name\":\"us-accidents-data-stream-1\",\"shards\":2,\"records\":3,"
                         "\"appended\":3,"),
            std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("\"records_last_minute\":3,"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"dead_letters\":[{\"stream\":\"us-accidents-data-stream-1.dlq\","
                         "\"records\":1}]"),
            std::string::npos)
      << r->body;
}

TEST_F(Routes, RecentAccidentsNewestFirstWithStateFilter) {
  ASSERT_OK(dir_.log()->create_stream("us-accidents-data-stream-1", 1));
  EXPECT_EQ(routes_->handle(get("/api/events/recent"))->body, "{\"events\":[]}");
  for (int i = 0; i < 5; ++i) {
    dir_.append("us-accidents-data-stream-1", "k",
                fmt::format(R"({{"ID":"A-{}","State":"{}","Start_Lat":30.5,"Start_Lng":-90}})", i,
                            i % 2 ? "CA" : "TX"));
  }
  auto r = routes_->handle(get("/api/events/recent?limit=2"));
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"id\":\"A-4\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"id\":\"A-3\""), std::string::npos);
  EXPECT_EQ(r->body.find("\"id\":\"A-2\""), std::string::npos);
  auto ca = routes_->handle(get("/api/events/recent?state=CA"));
  EXPECT_NE(ca->body.find("\"id\":\"A-1\""), std::string::npos) << ca->body;
  EXPECT_EQ(ca->body.find("\"TX\""), std::string::npos);
  auto bad = routes_->handle(get("/api/events/recent?limit=0"));
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("'limit'"), std::string::npos);
  auto missing = routes_->handle(get("/api/events/recent?stream=nope"));
  EXPECT_NE(missing->status, 200);
}

TEST_F(Routes, StreamRouteAnswersWithAnEventStream) {
  auto r = routes_->handle(get("/api/stream?topics=metrics,alerts"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->content_type, "text/event-stream");
  ASSERT_TRUE(r->stream);
  auto writer = std::make_shared<testing::RecordingWriter>();
  r->stream(writer);
  EXPECT_EQ(routes_->feed().client_count(), 1u);
  EXPECT_NE(writer->text().find("event: hello"), std::string::npos);

  EXPECT_EQ(routes_->handle(get("/api/stream?topics=nope"))->status, 400);
  EXPECT_EQ(routes_->handle(get("/api/stream", {{"Last-Event-ID", "x1"}}))->status, 400);
}

}  // namespace
}  // namespace roadpulse::dashboard
