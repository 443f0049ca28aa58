#pragma once
// Streaming RFC 4180 CSV reader. Input arrives through a ByteSource in chunks (1 MiB by default);
// records come out as string_views into the reader's buffer, so the common case (no quotes)
// copies nothing and allocates nothing per field. Quoted fields may hold commas, doubled quotes
// and line breaks; CRLF and LF both end a record; a UTF-8 BOM at the start is skipped; blank lines
// are skipped. A malformed record (text after a closing quote, an unterminated quote) comes back
// flagged with its line number and raw text, and reading continues after it, so callers can route
// it to a dead-letter file instead of stopping.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

namespace roadpulse::record {

/// Where CSV bytes come from: a file, stdin, memory, or a generator producing text on demand.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to `capacity` bytes into `out`; returns 0 at the end of the input.
  virtual arrow::Result<size_t> read(char* out, size_t capacity) = 0;
  /// Total bytes when known in advance (regular files), else -1. Drives progress and ETA.
  virtual int64_t size_hint() const { return -1; }
};

/// Opens a file for reading; "-" reads stdin.
arrow::Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path);
/// A source over a copy of `data`.
std::unique_ptr<ByteSource> make_buffer_source(std::string data);

struct CsvRecord {
  /// Field texts with quoting removed. Valid until the next call to CsvReader::next().
  std::vector<std::string_view> fields;
  /// 1-based physical line on which the record starts (the header is line 1).
  int64_t line = 0;
  /// The record's text as it appears in the input, without its line terminator.
  std::string_view raw;
  /// Empty for a well-formed record, else why it is malformed (its fields are then unreliable).
  std::string error;
};

struct CsvReaderOptions {
  size_t chunk_size = 1 << 20;
  /// A record longer than this is a fatal error (most likely an unbalanced quote).
  size_t max_record_bytes = 64u << 20;
};

class CsvReader {
 public:
  static arrow::Result<std::unique_ptr<CsvReader>> make(std::unique_ptr<ByteSource> source,
                                                        CsvReaderOptions options = {});
  static arrow::Result<std::unique_ptr<CsvReader>> open(const std::string& path,
                                                        CsvReaderOptions options = {});

  /// The next record, or nullptr at the end of the input. Fails only on I/O errors and on records
  /// longer than max_record_bytes; malformed records are returned with `error` set.
  arrow::Result<const CsvRecord*> next();

  /// Bytes of input consumed so far (for progress against ByteSource::size_hint()).
  int64_t bytes_consumed() const { return consumed_before_buffer_ + static_cast<int64_t>(pos_); }
  int64_t size_hint() const { return source_->size_hint(); }

 private:
  CsvReader(std::unique_ptr<ByteSource> source, CsvReaderOptions options);

  // Reads more input after moving the unconsumed tail to the front of the buffer. Returns false
  // at end of input.
  arrow::Result<bool> refill();
  // Parses a record containing quotes starting at pos_. Returns false when the buffer ends before
  // the record does (and more input may follow).
  bool parse_quoted_record();

  std::unique_ptr<ByteSource> source_;
  CsvReaderOptions options_;
  std::vector<char> buffer_;
  size_t pos_ = 0;  // start of unconsumed bytes
  size_t end_ = 0;  // end of valid bytes
  bool eof_ = false;
  bool started_ = false;
  int64_t consumed_before_buffer_ = 0;
  int64_t line_ = 1;  // line number at pos_
  struct Span {
    bool in_scratch;
    size_t offset;
    size_t length;
  };
  CsvRecord record_;
  std::vector<Span> spans_;
  std::string scratch_;  // unescaped text of quoted fields holding doubled quotes
};

}  // namespace roadpulse::record
