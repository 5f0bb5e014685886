// supervisor/status_report_test.cc — `mailsift status` as text and as JSON.
#include "supervisor/status_report.h"

#include <gtest/gtest.h>

namespace mailsift::supervisor {
namespace {

StatusReport Sample() {
  StatusReport r;
  r.pid = 42;
  r.uptime_seconds = 7;
  r.config_path = "/etc/mailsift/\"odd\".toml";
  r.config_digest = "0123456789abcdef";
  r.generations.push_back({3, 4711, "serving", 2, "0123456789abcdef", "-", 5});
  r.listeners.push_back({"127.0.0.1_10024", "127.0.0.1:10024"});
  r.reloads = 1;
  r.totals = {{"active", 2},
              {"relayed", 10},
              {"verdict.CLEAN.pass", 9},
              // 10 spam checks: 4 within 1 ms, 9 within 5 ms, 1 slower than 10 ms.
              {"check_time.spam.0.001", 4},
              {"check_time.spam.0.005", 9},
              {"check_time.spam.0.01", 9},
              {"check_time.spam.+Inf", 10},
              {"check_time_us.spam", 30000},
              {"check_count.spam", 10}};
  return r;
}

TEST(StatusReport, TextHasOneCounterALineAndAHistogramSummary) {
  std::string text = FormatStatusText(Sample());
  EXPECT_NE(text.find("supervisor pid 42 up 7 s, config /etc/mailsift/\"odd\".toml "
                      "(0123456789abcdef)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("generation 3 pid 4711 serving sessions=2 config=0123456789abcdef "
                      "rules=- age=5s\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\ncounters:\n  reloads=1\n  failed_reloads=0\n  crashes=0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n  relayed=10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  verdict.CLEAN.pass=9\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("check_time"), std::string::npos) << "no raw buckets:\n" << text;
  EXPECT_EQ(text.find("active="), std::string::npos) << text;
  // p50 (5 of 10) is in the 5 ms bucket, p99 (9.9 of 10) past the last finite bound.
  EXPECT_NE(text.find("\ncheck times:\n  spam: 10 runs, mean 3.00 ms, p50 ≤ 5 ms, p99 > 10 ms"),
            std::string::npos)
      << text;
}

TEST(StatusReport, JsonHasEveryCounterAndBucket) {
  std::string json = FormatStatusJson(Sample());
  EXPECT_EQ(json,
            "{\"supervisor\":{\"pid\":42,\"uptime_seconds\":7,"
            "\"config\":\"/etc/mailsift/\\\"odd\\\".toml\",\"config_digest\":\"0123456789abcdef\","
            "\"reloads\":1,\"failed_reloads\":0,\"crashes\":0},"
            "\"generations\":[{\"number\":3,\"pid\":4711,\"state\":\"serving\",\"sessions\":2,"
            "\"config\":\"0123456789abcdef\",\"rules\":\"-\",\"age_seconds\":5}],"
            "\"listeners\":[{\"name\":\"127.0.0.1_10024\",\"address\":\"127.0.0.1:10024\"}],"
            "\"metrics\":null,"
            "\"counters\":{\"relayed\":10,\"verdict.CLEAN.pass\":9},"
            "\"check_times\":{\"spam\":{\"count\":10,\"sum_seconds\":0.03,\"buckets\":"
            "{\"0.001\":4,\"0.005\":9,\"0.01\":9,\"+Inf\":10}}}}");
}

}  // namespace
}  // namespace mailsift::supervisor
