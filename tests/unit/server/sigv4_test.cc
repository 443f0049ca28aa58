#include "server/sigv4.h"

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "server/api_error.h"

namespace roadpulse::server {
namespace {

// The example of AWS's "Signature Version 4 signing process" documentation (IAM ListUsers).
SigningRequest aws_example() {
  SigningRequest r;
  r.method = "GET";
  r.target = "/?Action=ListUsers&Version=2010-05-08";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"Host", "iam.amazonaws.com"},
               {"X-Amz-Date", "20150830T123600Z"}};
  r.body = "";
  return r;
}

constexpr int64_t kExampleMs = 1440938160000;  // 2015-08-30T12:36:00Z

TEST(SigV4, MatchesAwsDocumentedExample) {
  const SigningRequest r = aws_example();
  EXPECT_EQ(sha256_hex(canonical_request(r, "content-type;host;x-amz-date")),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(signature(r, "content-type;host;x-amz-date", "20150830T123600Z",
                      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "iam"),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  EXPECT_EQ(amz_date(kExampleMs), "20150830T123600Z");
}

TEST(SigV4, VerifiesTheDocumentedAuthorizationHeader) {
  SigningRequest r = aws_example();
  r.headers.emplace_back(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date, "
      "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  SigV4Verifier verifier(
      std::vector<AccessKey>{{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}});
  ASSERT_OK_AND_ASSIGN(auto id, verifier.verify(r, kExampleMs + 60'000));
  EXPECT_EQ(id, "AKIDEXAMPLE");
}

std::string error_type(const arrow::Status& st) {
  const auto* d = api_error_detail(st);
  return d ? d->type() : "(none)";
}

TEST(SigV4, RejectsUnsignedUnknownTamperedAndExpired) {
  const AccessKey key{"AKID", "secret"};
  SigV4Verifier verifier(std::vector<AccessKey>{key});
  const int64_t now = 1700000000000;
  SigningRequest r{"POST",
                   "/",
                   {{"Host", "127.0.0.1:4567"},
                    {"Content-Type", "application/x-amz-json-1.1"},
                    {"X-Amz-Target", "Kinesis_20131202.ListStreams"}},
                   "{}"};
  EXPECT_EQ(error_type(verifier.verify(r, now).status()), "UnrecognizedClientException");

  SigningRequest signed_request = r;
  sign_request(signed_request, key, "us-east-1", "kinesis", now);
  ASSERT_OK(verifier.verify(signed_request, now).status());

  SigningRequest tampered = signed_request;
  tampered.body = "{\"Limit\":1}";
  EXPECT_EQ(error_type(verifier.verify(tampered, now).status()), "InvalidSignatureException");

  SigningRequest wrong_key = r;
  sign_request(wrong_key, AccessKey{"AKID", "not-the-secret"}, "us-east-1", "kinesis", now);
  EXPECT_EQ(error_type(verifier.verify(wrong_key, now).status()), "InvalidSignatureException");

  SigningRequest unknown = r;
  sign_request(unknown, AccessKey{"OTHER", "secret"}, "us-east-1", "kinesis", now);
  EXPECT_EQ(error_type(verifier.verify(unknown, now).status()), "UnrecognizedClientException");

  EXPECT_EQ(error_type(verifier.verify(signed_request, now + 16 * 60 * 1000).status()),
            "InvalidSignatureException");

  SigningRequest garbage = r;
  garbage.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 nonsense");
  EXPECT_EQ(error_type(verifier.verify(garbage, now).status()), "IncompleteSignatureException");
}

TEST(SigV4, AccessKeyParsing) {
  ASSERT_OK_AND_ASSIGN(auto key, AccessKey::parse("ID:se:cret"));
  EXPECT_EQ(key.id, "ID");
  EXPECT_EQ(key.secret, "se:cret");
  EXPECT_FALSE(AccessKey::parse("nocolon").ok());
  EXPECT_FALSE(AccessKey::parse(":secret").ok());
}

}  // namespace
}  // namespace roadpulse::server
