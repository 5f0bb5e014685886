// config/config.h — the mailsift configuration: one TOML file, every key with a default.
//
// LoadConfig reads and validates a file and returns either a complete Config or the list of
// every problem found, each naming its key ("relay.next_hop: ..."). Unknown keys are problems
// too, so a typo never silently falls back to a default. The result is an immutable value that
// a generation publishes to its threads. Thread-safe (pure functions).
//
// The documented defaults are the member initialisers below; packaging/mailsift.toml describes
// each key. Every path in the file must be absolute (a problem otherwise).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "net/endpoint.h"

namespace mailsift::config {

using Seconds = std::chrono::duration<double>;

enum class Protocol { kSmtp, kLmtp };
enum class RelayMode { kAfterQueue, kBeforeQueue };
enum class BareNewline { kReject, kNormalize };
enum class Prefilter { kBackground, kOff };

struct Listener {
  // Identity across reloads and in systemd's FileDescriptorName=; default: derived from the
  // address ("127.0.0.1_10024", "unix_/run/mailsift/in.sock"). No ':' allowed.
  std::string name;
  std::string address_text = "127.0.0.1:10024";
  net::Endpoint address;
  Protocol protocol = Protocol::kSmtp;
  int backlog = 4096;  // SOMAXCONN on Linux caps it at net.core.somaxconn
};

struct Relay {
  std::string next_hop_text = "127.0.0.1:10025";
  net::Endpoint next_hop;
  Protocol protocol = Protocol::kSmtp;
  RelayMode mode = RelayMode::kAfterQueue;
  bool xforward = true;          // pass the client's attributes when the next hop offers XFORWARD
  int max_idle_connections = 8;  // per I/O thread, after-queue mode only
  Seconds idle_connection_timeout{10};
};

struct Limits {
  uint64_t max_message_size = 52428800;
  int max_recipients = 1000;
  int max_sessions = 1000;
  int max_command_line = 2048;  // bytes incl. CRLF (RFC 5321 §4.5.3.1.4 allows 512 + extensions)
  int max_errors = 1000;        // protocol errors per session before 421
  // The largest header field of the primary header section (its name, value and continuation
  // lines, counted as Postfix's cleanup(8) stores a header: continuation lines joined by one
  // byte, the final line end not counted), enforced as the message arrives: past it nothing
  // more of the message is kept and the end of data gets 552 5.3.4. The default is Postfix's
  // header_size_limit (102400) plus its line_length_limit (2048): cleanup(8) truncates a field
  // once it holds header_size_limit bytes, after appending at most one record of
  // line_length_limit bytes, so nothing a Postfix in front of us queued is ever refused here.
  uint64_t max_header_size = 104448;
  // DATA and BDAT content (Postfix's smtpd_min_data_rate with smtpd_per_request_deadline): the
  // time left to receive the content starts at timeouts.data; each read uses up the time it
  // waited and earns bytes / min_data_rate seconds, never more than timeouts.data in all.
  // Running out gets 421 4.4.2 and the connection is closed. 0 = timeouts.data per read only.
  uint64_t min_data_rate = 500;  // bytes per second
};

struct Timeouts {
  Seconds command{300};  // waiting for the next command (RFC 5321 §4.5.3.2.7)
  // From the first byte of a command line to its end: a client that trickles a command line
  // gets 421 4.4.2 and the connection is closed (the line as a whole is also bounded by
  // `command`, which runs from the start of the wait).
  Seconds command_line{60};
  Seconds data{300};              // waiting for message data (see limits.min_data_rate)
  Seconds message_deadline{480};  // end of data until our reply; 45 s before-queue
  Seconds relay_connect{30};
  Seconds relay_reply{300};  // each reply of the next hop before end of data
};

struct Smtp {
  // A bare CR or LF in message data. Postfix 3.9's default (smtpd_forbid_bare_newline =
  // normalize): the message is made canonical and accepted, as Postfix and amavisd deliver it;
  // after the queue a refusal would bounce a message Postfix has already accepted. "reject"
  // refuses it with 550 5.5.2. Either way the only end of data is <CR><LF>.<CR><LF>.
  BareNewline bare_newline = BareNewline::kNormalize;
};

struct Spool {
  std::string directory = "/var/tmp";
  uint64_t memory_limit = 262144;  // a message larger than this goes to a temp file
};

// The SpamAssassin rule check (rules/engine.h).
struct Spam {
  bool enabled = true;
  // SpamAssassin's default rule directories: the first one that exists is read (sa-update's
  // directory takes precedence over the packaged rules), then site_dir's *.pre and *.cf.
  std::vector<std::string> rule_dirs = {"/var/lib/spamassassin/4.000001",
                                        "/usr/share/spamassassin"};
  std::string site_dir = "/etc/spamassassin";
  // Reload by itself when the rule files change (sa-update from cron, a hand edit of
  // site_dir): the supervisor watches rule_dirs (and the parent each is created in), their
  // subdirectories and site_dir, and starts a reload once nothing has changed for
  // watch_quiet_period. A ruleset that does not load is refused as on `mailsift reload`.
  bool watch_rule_dirs = false;
  Seconds watch_quiet_period{10};
  int scan_threads = 0;             // 0: one per core
  uint64_t max_scan_size = 409600;  // larger messages pass unscanned (amavisd's default)
  // amavisd's spam levels (Debian's defaults): X-Spam-* headers from tag_level, SPAMMY with
  // X-Spam-Flag: YES and the Subject tag from tag2_level, SPAM (the spam action) from
  // kill_level.
  double tag_level = 2.0;
  double tag2_level = 6.31;
  double kill_level = 6.31;
  std::string subject_tag = "***SPAM*** ";
  // At or above this score a SPAM that would bounce is discarded instead (amavisd's
  // $sa_dsn_cutoff_level: no backscatter for obvious spam).
  double dsn_cutoff_level = 10;
  // Envelope senders whose mail is never spam (amavisd's whitelist_sender) or always spam
  // (blacklist_sender), as amavisd's lookup tables read them: "user@example.com",
  // "@example.com" (the domain), "@.example.com" (the domain and its subdomains), "user@"
  // (that local part anywhere). Case-insensitive.
  std::vector<std::string> allow_senders;
  std::vector<std::string> deny_senders;
  // The X-Spam-* headers and the Subject tag only when a recipient is in one of these domains
  // (amavisd's @local_domains_acl, same forms as above without a local part: "example.com",
  // ".example.com"); empty = every recipient (the default).
  std::vector<std::string> local_domains;
  // The vectorscan prefilter (rules/prefilter/multi_prefilter.h): "background" builds its databases
  // in a short-lived process of their own when the cache has none for these rules (every rule runs
  // until they are ready), "off" runs every rule always. MAILSIFT_PREFILTER overrides it.
  Prefilter prefilter = Prefilter::kBackground;
  // Where the databases are cached, one file per ruleset; created when missing. "" = the
  // environment's ($XDG_CACHE_HOME/mailsift/prefilter or $HOME/.cache/mailsift/prefilter),
  // "none" = no cache. A directory that cannot be written only means no cache (a warning).
  // MAILSIFT_PREFILTER_CACHE overrides it.
  std::string prefilter_cache_dir;
};

// SpamAssassin's Bayes (bayes/): the learned database `mailsift learn` writes. Classification in
// the filter is not wired yet.
enum class BayesStoreKind { kLmdb };
struct Bayes {
  bool enabled = true;                           // use_bayes
  BayesStoreKind store = BayesStoreKind::kLmdb;  // "lmdb" ("redis" is not supported yet)
  std::string path = "/var/lib/mailsift/bayes";  // the LMDB store's directory
  uint64_t min_spam_num = 200;                   // bayes_min_spam_num
  uint64_t min_ham_num = 200;                    // bayes_min_ham_num
  uint64_t expiry_max_db_size = 150000;          // bayes_expiry_max_db_size
};

// The virus check: clamd over its socket (INSTREAM).
struct Virus {
  // "unix:/run/clamav/clamd.ctl", "127.0.0.1:3310"; "" = no virus check.
  std::string clamd;
  net::Endpoint clamd_address;
  Seconds timeout{30};  // connect, send and verdict; past it the message is UNCHECKED
  // clamd's StreamMaxLength default; a larger message is UNCHECKED (over limits).
  uint64_t max_stream_size = 26214400;
  // The X-Virus-Scanned value added when the virus check ran (amavisd's $X_HEADER_LINE);
  // "" = "mailsift at <the host name's domain>".
  std::string header_line;
};

// Banned files: amavisd-new's $banned_filename_re, matched against each MIME part's (and each
// archive member's) file name, declared MIME type and type detected from its content
// (".exe-ms", ".zip", … as amavisd names them), case-insensitively. Defaults: Debian's
// amavisd-new defaults.
struct Banned {
  bool enabled = true;
  std::vector<std::string> patterns = {
      R"(\.[^./]*\.(exe|vbs|pif|scr|bat|cmd|com|cpl|dll)\.?$)",  // double extensions
      R"(\{[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\}?$)",      // Windows class id
      R"(^application/x-msdownload$)",
      R"(^application/x-msdos-program$)",
      R"(^application/hta$)",
      R"(.\.(exe|vbs|pif|scr|bat|cmd|com|cpl)$)",  // banned extensions
      R"(^\.(exe-ms)$)",                           // detected: Windows executables
  };
  // Archives (zip, rar, 7z, tar, gzip, …) are opened to these limits (Debian's amavisd
  // $MAXLEVELS, $MAXFILES, $MAX_EXPANSION_QUOTA); past one the message is UNCHECKED-2.
  // Archives are expanded in memory, so max_expanded_size also bounds a scan's memory (Debian's
  // amavisd allows 300 MiB on disk; 100 MiB here).
  int max_archive_depth = 14;
  int max_archive_files = 1500;
  uint64_t max_expanded_size = 104857600;
};

// Header syntax (amavisd's bad-header check).
struct BadHeader {
  bool enabled = true;
};

// What happens to each content category: amavisd's final destinies.
enum class Action { kPass, kReject, kDiscard, kTempfail };
struct Actions {
  Action virus = Action::kDiscard;       // Debian amavisd: D_DISCARD (quarantined)
  Action banned = Action::kDiscard;      // D_DISCARD
  Action unchecked = Action::kTempfail;  // never passed silently
  // An encrypted archive cannot be looked into, and retrying will not change that: passed by
  // default, as amavisd's $final_unchecked_destiny passes UNCHECKED-ENCRYPTED.
  Action unchecked_encrypted = Action::kPass;
  Action spam = Action::kPass;        // D_PASS (tagged)
  Action bad_header = Action::kPass;  // D_PASS
  // A reject after-queue (the message is already queued at the MTA): "bounce" answers the MTA
  // with the 554, and the MTA returns the message to its sender (amavisd's D_REJECT there);
  // "discard" answers 250 2.7.0 and drops it (kept in the quarantine).
  bool after_queue_reject_bounces = true;
};

// Blocked and suspicious messages kept on disk, as amavisd's local quarantine: one file per
// message (the bytes as received) in <directory>/<first letter of the mail id>/, and an
// index of what each is and whom it was for (`mailsift quarantine list|show|release`).
struct Quarantine {
  std::string directory = "/var/lib/mailsift/quarantine";  // "" = no quarantine
  // Which categories are kept (amavisd's defaults: virus, banned, spam at kill level, bad
  // header), whatever their action — a passed SPAM is quarantined and relayed with
  // X-Quarantine-ID, as amavisd does. Also possible: "unchecked".
  std::vector<std::string> categories = {"virus", "banned", "spam", "bad_header"};
};

// Where the log lines go besides stderr (foreground). `mailsift start` logs to syslog, or to
// `file` when one is set.
struct Log {
  bool syslog = false;  // also to syslog in the foreground
  // Under `mailsift start`: append the lines that `foreground` writes to stderr to this file
  // instead of sending them to syslog (amavisd's $LOGFILE); "" = syslog. Opened once by
  // `start` (the supervisor and every generation share it); with logrotate, use copytruncate.
  std::string file;
  // "mailsift", or "amavis" so that existing analysers (logwatch's amavis service,
  // pflogsumm-style scripts) read the lines as amavisd-new's.
  std::string syslog_ident = "mailsift";
  std::string syslog_facility = "mail";  // mail, daemon, local0 … local7
};

struct Control {
  std::string socket = "/run/mailsift/control.sock";  // the supervisor's control socket
  int socket_mode = 0600;
  std::string pid_file = "/run/mailsift/mailsift.pid";
};

// Prometheus metrics over HTTP, served by the supervisor (supervisor/metrics.h), so the
// listener and the counters outlive every generation.
struct Metrics {
  std::string address;     // "127.0.0.1:9985", "[::1]:9985"; "" = no metrics listener
  net::Endpoint endpoint;  // parsed from address when it is not ""
};

struct Supervisor {
  std::string user;           // generations drop to this user after start ("" = keep)
  std::string group;          // and group ("" = the user's primary group)
  std::string chroot;         // optional
  Seconds drain_timeout{60};  // an old generation's time to finish its sessions
  Seconds ready_timeout{30};  // a new generation's time to report READY
};

struct Config;

// A policy bank (amavisd's %policy_bank): for the messages it selects — by the listener they
// came in on or the client's network (XFORWARD's ADDR when the MTA sends it, else the
// connection's peer) — its own policy: the file's config with the bank's [policy_bank.spam],
// .actions, .quarantine and .virus keys laid over it, and checks bypassed. The first bank
// in file order that selects a message applies; its name goes into the log line as amavisd's.
struct PolicyBank {
  std::string name;
  std::vector<net::Network> client_networks;
  std::vector<std::string> listeners;  // listener names
  std::vector<std::string> bypass;     // "spam", "virus", "banned", "bad_header"
  std::shared_ptr<const Config> config;
};

struct Config {
  std::string source_path;
  std::string hostname;  // default: the machine's host name
  std::vector<Listener> listeners;
  Relay relay;
  Limits limits;
  Timeouts timeouts;
  Smtp smtp;
  std::vector<net::Network> client_networks;
  Spool spool;
  Spam spam;
  Bayes bayes;
  Virus virus;
  Banned banned;
  BadHeader bad_header;
  Actions actions;
  Quarantine quarantine;
  Log log;
  Control control;
  Metrics metrics;
  Supervisor supervisor;
  std::vector<PolicyBank> policy_banks;  // [[policy_bank]], in file order
  int io_threads = 0;                    // 0: one per core
  std::string digest;                    // FNV-1a of the file's bytes, for status and logs
};

// Every problem found, each prefixed with its key.
struct Problems {
  std::vector<std::string> items;
};

tl::expected<Config, Problems> LoadConfig(const std::string& path);
tl::expected<Config, Problems> ParseConfig(std::string_view toml_text,
                                           const std::string& source_name);
// The control socket a config file names, read leniently (the file may have other errors, as
// when a reload is asked to refuse it); the default when it names none or cannot be read.
std::string ControlSocketOf(const std::string& path);

// The first policy bank that selects a message from `listener` (its name) and
// `client_address` (text; "" = unknown); null: the config itself applies.
const PolicyBank* SelectPolicyBank(const Config& config, std::string_view listener,
                                   std::string_view client_address);

// The built-in defaults (the config a missing file section produces).
Config DefaultConfig();

std::string_view ToString(Protocol protocol);
std::string_view ToString(RelayMode mode);
std::string_view ToString(Action action);  // "pass", "reject", "discard", "tempfail"

}  // namespace mailsift::config
