// rules/eval/uri_eval_test.cc — URIEval's evals (check_uri_truncated, check_https_ip_mismatch) and
// RegistryBoundaries' uri_to_domain / trim_domain / is_domain_valid.
#include "rules/eval/uri_eval.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

using Fixture = EvalFixture;

TEST(UriEvalTest, RegistryBoundaries) {
  auto config = BuildEvalConfig(TestTldSettings());
  EXPECT_EQ(TrimDomain(*config, "www.Example.co.uk"), "example.co.uk");
  EXPECT_EQ(TrimDomain(*config, "a.b.example.com"), "example.com");
  EXPECT_EQ(TrimDomain(*config, "x.city.ca.us"), "x.city.ca.us");
  EXPECT_TRUE(IsDomainValid(*config, "foo.com"));
  EXPECT_FALSE(IsDomainValid(*config, "foo.invalid"));
  auto d = UriToDomain(*config, "http://user@WWW.Foo.com:8080/path?q");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->first, "foo.com");
  EXPECT_EQ(d->second, "www.foo.com");
  EXPECT_FALSE(UriToDomain(*config, "http://www.foo.com%2e/"));
  d = UriToDomain(*config, "mailto:joe@mail.foo.com?subject=x");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->second, "mail.foo.com");
  d = UriToDomain(*config, "http://10.1.2.3/");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->second, "10.1.2.3");
  EXPECT_TRUE(IsIpAddress("10.1.2.3"));
  EXPECT_FALSE(IsIpAddress("10.01.2.3"));
  EXPECT_TRUE(IsIpAddress("IPv6:2001:db8::1"));
}

TEST(UriEvalTest, UriTruncated) {
  std::string long_uri = "http://example.com/" + std::string(9000, 'a');
  Fixture html("Content-Type: text/html\n\n<a href=\"" + long_uri + "\">x</a>\n");
  EXPECT_TRUE(html.Call("check_uri_truncated"));
  Fixture plain("Subject: x\n\nSee http://example.com/\n");
  plain.uris = {"http://example.com/"};
  EXPECT_FALSE(plain.Call("check_uri_truncated"));
  plain.uris = {"http://example.com/" + std::string(8192 - 19, 'a')};
  EXPECT_TRUE(plain.Call("check_uri_truncated"));
  plain.cleaned_uri_truncated = false;  // exactly 8192 bytes, not cut
  EXPECT_FALSE(plain.Call("check_uri_truncated"));
}

TEST(UriEvalTest, HttpsIpMismatch) {
  Fixture f("Subject: x\n\nbody\n");
  f.anchors = {{{"http://192.168.10.1/login", "https://www.bank.com/login"}}};
  EXPECT_TRUE(f.Call("check_https_ip_mismatch"));
  f.anchors = {{{"http://192.168.10.1/login", "https://192.168.10.1/login"}}};
  EXPECT_FALSE(f.Call("check_https_ip_mismatch"));
  f.anchors = {{{"http://www.bank.com/login", "https://www.bank.com/login"}}};
  EXPECT_FALSE(f.Call("check_https_ip_mismatch"));
}

}  // namespace
}  // namespace mailsift::rules
