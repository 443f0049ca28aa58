// Appends through the stream-store interface on Kafka (server::make_kafka_stream_store: what
// PutRecords runs on `serve --kafka`) against the baseline of producing the same records straight
// to Kafka with librdkafka (same producer settings: acks=all, idempotence, linger.ms=2), and
// against the embedded log (fsync before ack), in the same run: 500-record batches of ~1.2 KB
// accident events, each call waiting for its acknowledgements, 1 and 4 threads (4 = the HTTP
// load's requests in flight).
//
// Needs a broker: ROADPULSE_BENCH_KAFKA_BOOTSTRAP=127.0.0.1:9092 (bench/server/kinesis_kafka.sh
// starts one with scripts/kafka-broker); the Kafka cases are skipped without it.

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>

#include "connect/kafka_client.h"
#include "log/log.h"
#include "server/kinesis_kafka_store.h"

namespace {

using namespace roadpulse;

constexpr int kBatch = 500;
constexpr int kShards = 4;

const char* bootstrap() { return std::getenv("ROADPULSE_BENCH_KAFKA_BOOTSTRAP"); }

// ~1.2 KB JSON events keyed by Severity, as the simulator sends them.
const std::vector<std::pair<std::string, std::string>>& events() {
  static const auto* out = [] {
    auto* v = new std::vector<std::pair<std::string, std::string>>();
    std::mt19937 rng(7);
    for (int i = 0; i < kBatch; ++i) {
      const std::string severity = std::to_string(1 + int(rng() % 4));
      std::string data = R"({"ID":"A-)" + std::to_string(i) + R"(","Severity":)" + severity +
                         R"(,"State":"CA","County":"Los Angeles","Description":")";
      data += std::string(1100, char('a' + i % 26));
      data += R"("})";
      v->emplace_back(severity, std::move(data));
    }
    return v;
  }();
  return *out;
}

std::string unique_name(const char* base) {
  std::random_device rd;
  return std::string(base) + "-" + std::to_string(rd());
}

struct Shared {
  std::mutex mu;
  std::unique_ptr<log::LogStore> store;
  std::string stream;
  std::filesystem::path dir;
  int users = 0;
};

void set_counters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * kBatch * int64_t(events()[0].second.size()));
}

// --- through the stream-store interface ------------------------------------------------------

Shared kafka_store;

void BM_KafkaStoreAppend(benchmark::State& state) {
  if (!bootstrap()) {
    state.SkipWithError("ROADPULSE_BENCH_KAFKA_BOOTSTRAP not set");
    return;
  }
  {
    std::lock_guard lock(kafka_store.mu);
    if (kafka_store.users++ == 0) {
      server::KafkaStoreOptions options;
      options.properties["bootstrap.servers"] = bootstrap();
      kafka_store.dir = std::filesystem::temp_directory_path() / unique_name("rp-bench-kafka");
      options.positions_dir = kafka_store.dir.string();
      auto store = server::make_kafka_stream_store(options);
      if (!store.ok()) {
        state.SkipWithError(store.status().ToString().c_str());
        return;
      }
      kafka_store.store = std::move(*store);
      kafka_store.stream = unique_name("bench-store");
      if (!kafka_store.store->create_stream(kafka_store.stream, kShards).ok()) {
        state.SkipWithError("create_stream failed");
        return;
      }
    }
  }
  if (!kafka_store.store) std::abort();  // the first thread's setup failed (reported above)
  std::vector<log::AppendRecord> batch;
  for (const auto& [key, data] : events()) batch.push_back({key, data, {}});
  for (auto _ : state) {
    auto results = kafka_store.store->append(kafka_store.stream, batch);
    if (!results.ok()) {
      state.SkipWithError(results.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(results);
  }
  set_counters(state);
  std::lock_guard lock(kafka_store.mu);
  if (--kafka_store.users == 0) {
    kafka_store.store.reset();
    std::filesystem::remove_all(kafka_store.dir);
  }
}
BENCHMARK(BM_KafkaStoreAppend)->Threads(1)->Threads(4)->UseRealTime()->MinTime(3);

// --- baseline: straight to Kafka with librdkafka ----------------------------------------------

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  int remaining = 0;
  bool failed = false;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* w = static_cast<Waiter*>(m->_private);
  std::lock_guard lock(w->mu);
  if (m->err) w->failed = true;
  if (--w->remaining == 0) w->cv.notify_all();
}

struct RawProducer {
  std::mutex mu;
  rd_kafka_t* rk = nullptr;
  std::string topic;
  int users = 0;
  std::atomic<bool> stop{false};
  std::thread poller;
};
RawProducer raw;

void BM_LibrdkafkaProduce(benchmark::State& state) {
  if (!bootstrap()) {
    state.SkipWithError("ROADPULSE_BENCH_KAFKA_BOOTSTRAP not set");
    return;
  }
  {
    std::lock_guard lock(raw.mu);
    if (raw.users++ == 0) {
      connect::kafka::Properties props{{"bootstrap.servers", bootstrap()},
                                       {"enable.idempotence", "true"},
                                       {"acks", "all"},
                                       {"linger.ms", "2"}};
      auto admin = connect::kafka::Admin::make(props, "");
      raw.topic = unique_name("bench-raw");
      if (!admin.ok() || !(*admin)->create_topic(raw.topic, kShards).ok()) {
        state.SkipWithError("cannot create the topic");
        return;
      }
      auto conf = connect::kafka::make_conf(props, "");
      if (!conf.ok()) {
        state.SkipWithError(conf.status().ToString().c_str());
        return;
      }
      rd_kafka_conf_set_dr_msg_cb(*conf, &on_delivery);
      char err[512];
      raw.rk = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof(err));
      if (!raw.rk) {
        state.SkipWithError(err);
        return;
      }
      raw.stop = false;
      raw.poller = std::thread([] {
        while (!raw.stop.load()) rd_kafka_poll(raw.rk, 50);
      });
    }
  }
  if (!raw.rk) std::abort();  // the first thread's setup failed (reported above)
  const auto& ev = events();
  std::vector<int> partitions;
  for (const auto& [key, data] : ev) {
    partitions.push_back(connect::kafka::hash_key_partition(key, kShards));
  }
  for (auto _ : state) {
    Waiter w;
    w.remaining = kBatch;
    for (int i = 0; i < kBatch; ++i) {
      const auto& [key, data] = ev[size_t(i)];
      while (rd_kafka_producev(raw.rk, RD_KAFKA_V_TOPIC(raw.topic.c_str()),
                               RD_KAFKA_V_PARTITION(partitions[size_t(i)]),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                               RD_KAFKA_V_VALUE(const_cast<char*>(data.data()), data.size()),
                               RD_KAFKA_V_OPAQUE(&w),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    std::unique_lock lock(w.mu);
    w.cv.wait(lock, [&] { return w.remaining == 0; });
    if (w.failed) {
      state.SkipWithError("delivery failed");
      break;
    }
  }
  set_counters(state);
  std::lock_guard lock(raw.mu);
  if (--raw.users == 0) {
    raw.stop = true;
    raw.poller.join();
    rd_kafka_flush(raw.rk, 10000);
    rd_kafka_destroy(raw.rk);
    raw.rk = nullptr;
  }
}
BENCHMARK(BM_LibrdkafkaProduce)->Threads(1)->Threads(4)->UseRealTime()->MinTime(3);

// --- the embedded log (fdatasync before ack) ------------------------------------------------

Shared embedded;

void BM_EmbeddedAppend(benchmark::State& state) {
  {
    std::lock_guard lock(embedded.mu);
    if (embedded.users++ == 0) {
      embedded.dir = std::filesystem::temp_directory_path() / unique_name("rp-bench-embedded");
      log::LogOptions options;
      options.data_dir = embedded.dir.string();
      options.retention_thread = false;
      auto store = log::LogStore::open(options);
      if (!store.ok()) {
        state.SkipWithError(store.status().ToString().c_str());
        return;
      }
      embedded.store = std::move(*store);
      embedded.stream = "bench";
      (void)embedded.store->create_stream(embedded.stream, kShards);
    }
  }
  if (!embedded.store) std::abort();  // the first thread's setup failed (reported above)
  std::vector<log::AppendRecord> batch;
  for (const auto& [key, data] : events()) batch.push_back({key, data, {}});
  for (auto _ : state) {
    auto results = embedded.store->append(embedded.stream, batch);
    if (!results.ok()) {
      state.SkipWithError(results.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(results);
  }
  set_counters(state);
  std::lock_guard lock(embedded.mu);
  if (--embedded.users == 0) {
    embedded.store.reset();
    std::filesystem::remove_all(embedded.dir);
  }
}
BENCHMARK(BM_EmbeddedAppend)->Threads(1)->Threads(4)->UseRealTime()->MinTime(3);

}  // namespace

BENCHMARK_MAIN();
