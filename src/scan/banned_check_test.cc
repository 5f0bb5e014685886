// Tests of the banned-name check: messages and archives (zip, tar, gzip, encrypted zip) built
// here with libarchive's writer, a minimal PE executable that libmagic names "PE32
// executable … for MS Windows", and Debian's amavisd default patterns.
#include "scan/banned_check.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "mime/message.h"

namespace mailsift::scan {
namespace {

// The smallest file libmagic calls "PE32 executable (GUI) Intel 80386, for MS Windows".
std::string PeExecutable() {
  std::string pe(64, '\0');
  pe[0] = 'M';
  pe[1] = 'Z';
  pe[60] = 0x40;  // e_lfanew: the PE header follows the DOS header
  std::string coff = std::string("PE\0\0", 4);
  auto u16 = [](std::string& s, int v) {
    s.push_back(static_cast<char>(v & 0xFF));
    s.push_back(static_cast<char>((v >> 8) & 0xFF));
  };
  auto u32 = [&](std::string& s, int v) {
    u16(s, v & 0xFFFF);
    u16(s, (v >> 16) & 0xFFFF);
  };
  u16(coff, 0x14C);   // i386
  u16(coff, 1);       // sections
  u32(coff, 0);       // time stamp
  u32(coff, 0);       // symbol table
  u32(coff, 0);       // symbols
  u16(coff, 0xE0);    // optional header size
  u16(coff, 0x0102);  // executable, 32-bit
  std::string optional(0xE0, '\0');
  optional[0] = 0x0B;  // PE32
  optional[1] = 0x01;
  optional[68] = 2;  // subsystem: Windows GUI
  return pe + coff + optional + std::string(256, '\0');
}

const std::string kPdf =
    "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

struct Entry {
  std::string name;
  std::string data;
};

la_ssize_t AppendTo(struct archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// An archive in `format` (ARCHIVE_FORMAT_ZIP, _TAR_USTAR, _RAW) through `filters`.
std::string Archive(const std::vector<Entry>& entries, int format = ARCHIVE_FORMAT_ZIP,
                    std::vector<int> filters = {}, const char* options = nullptr,
                    const char* passphrase = nullptr) {
  std::string out;
  struct archive* a = archive_write_new();
  EXPECT_EQ(archive_write_set_format(a, format), ARCHIVE_OK);
  for (int f : filters) {
    EXPECT_EQ(archive_write_add_filter(a, f), ARCHIVE_OK);
  }
  if (options != nullptr) {
    EXPECT_EQ(archive_write_set_options(a, options), ARCHIVE_OK);
  }
  if (passphrase != nullptr) {
    EXPECT_EQ(archive_write_set_passphrase(a, passphrase), ARCHIVE_OK);
  }
  archive_write_set_bytes_in_last_block(a, 1);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, AppendTo, nullptr), ARCHIVE_OK);
  for (const Entry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    EXPECT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
              static_cast<la_ssize_t>(e.data.size()));
    archive_entry_free(entry);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

std::string Base64(std::string_view data) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t line = 0;
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (i + 2 < data.size()) v |= static_cast<unsigned char>(data[i + 2]);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < data.size() ? alphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < data.size() ? alphabet[v & 63] : '=');
    if (++line == 19) {
      out.push_back('\n');
      line = 0;
    }
  }
  return out + "\n";
}

struct Attachment {
  std::string content_type;  // with parameters
  std::string filename;      // "" for none
  std::string data;
};

// multipart/mixed: a text part, then each attachment base64-encoded.
std::string Message(const std::vector<Attachment>& attachments) {
  std::string m =
      "From: a@example.com\nTo: b@example.net\nSubject: files\n"
      "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <1@example.com>\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\n\n"
      "--BOUNDARY\nContent-Type: text/plain; charset=us-ascii\n\nHello, the files.\n";
  for (const Attachment& a : attachments) {
    m += "--BOUNDARY\nContent-Type: " + a.content_type + "\nContent-Transfer-Encoding: base64\n";
    if (!a.filename.empty()) {
      m += "Content-Disposition: attachment; filename=\"" + a.filename + "\"\n";
    }
    m += "\n" + Base64(a.data);
  }
  return m + "--BOUNDARY--\n";
}

MessageInput Input(const std::string& text) {
  MessageInput input;
  input.raw = std::make_shared<const std::string>(text);
  return input;
}

std::unique_ptr<BannedCheck> Check(const config::Banned& config = {}) {
  auto check = BannedCheck::Create(config);
  EXPECT_TRUE(check) << check.error().message;
  return check ? std::move(*check) : nullptr;
}

std::string Joined(const CheckResult& r) {
  std::string out;
  for (const auto& d : r.details) out += d + "\n";
  return out;
}

TEST(BannedCheck, LibmagicTypesMapToAmavisdShortTypes) {
  config::Banned config;
  config.patterns.push_back(R"(^\.(html|url|svg)$)");  // text types: libmagic asked as amavisd does
  auto check = Check(config);
  ASSERT_TRUE(check->exact_libmagic());
  EXPECT_EQ(check->ShortTypes(check->Describe(PeExecutable())),
            (std::vector<std::string>{"exe", "exe-ms"}));
  EXPECT_EQ(check->ShortTypes(check->Describe(kPdf)), std::vector<std::string>{"pdf"});
  EXPECT_EQ(check->ShortTypes(check->Describe(Archive({{"a.txt", "hello\n"}}))),
            std::vector<std::string>{"zip"});
  // file 5.44 says "HTML document, ASCII text", which amavisd's "^HTML document text" no
  // longer matches: amavisd on Debian 12 calls it "asc" too.
  EXPECT_EQ(check->Describe("<html><body>hi</body></html>\n"), "HTML document, ASCII text");
  EXPECT_EQ(check->ShortTypes(check->Describe("<html><body>hi</body></html>\n")),
            std::vector<std::string>{"asc"});
  EXPECT_EQ(check->ShortTypes("HTML document text"), std::vector<std::string>{"html"});
  EXPECT_EQ(check->ShortTypes(check->Describe("just some words\n")),
            std::vector<std::string>{"asc"});
  EXPECT_EQ(
      check->ShortTypes(check->Describe(Archive({{"a.txt", "hello\n"}}, ARCHIVE_FORMAT_TAR_USTAR))),
      std::vector<std::string>{"tar"});
  EXPECT_EQ(check->ShortTypes("JPEG image data, JFIF standard 1.01"),
            (std::vector<std::string>{"image", "jpg"}));
  EXPECT_EQ(check->ShortTypes("MS-DOS executable PE32 for MS Windows (DLL)"),
            (std::vector<std::string>{"exe", "dll"}));
  EXPECT_EQ(check->ShortTypes("Composite Document File V2 Document, Little Endian"),
            std::vector<std::string>{"cdf-ms"});
  EXPECT_EQ(check->ShortTypes("something nobody knows"), std::vector<std::string>{"dat"});
}

TEST(BannedCheck, TheDefaultPatternsNeedOnlyBinaryTypes) {
  auto check = Check();
  EXPECT_FALSE(check->exact_libmagic());
  // Binary types are the same; text gets its encoding only.
  EXPECT_EQ(check->ShortTypes(check->Describe(PeExecutable())),
            (std::vector<std::string>{"exe", "exe-ms"}));
  EXPECT_EQ(check->Describe("<html><body>hi</body></html>\n"), "ASCII text");
  EXPECT_EQ(check->Describe(std::string(1000, '\0')), "data");
}

TEST(BannedCheck, AnExecutableAttachmentIsBannedWithAmavisdsDescriptions) {
  auto check = Check();
  CheckResult r = check->Run(Input(
      Message({{"application/x-msdownload; name=\"evil.exe\"", "evil.exe", PeExecutable()}})));
  EXPECT_TRUE(r.scanned);
  EXPECT_EQ(r.check, "banned");
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  ASSERT_EQ(r.details.size(), 2u);
  // %F: the banned leaf's keys; then amavisd's p.path text.
  EXPECT_EQ(r.details[0], "application/x-msdownload,.exe,.exe-ms,evil.exe");
  EXPECT_EQ(r.details[1],
            "P=p003,L=1,M=multipart/mixed | "
            "P=p002,L=1/2,M=application/x-msdownload,T=exe,T=exe-ms,N=evil.exe");
}

TEST(BannedCheck, AnExecutableInsideAZipIsBannedByItsDetectedType) {
  auto check = Check();
  std::string zip = Archive({{"readme.txt", "read me\n"}, {"tool.dat", PeExecutable()}});
  CheckResult r = check->Run(Input(Message({{"application/zip", "files.zip", zip}})));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  ASSERT_EQ(r.details.size(), 2u);
  EXPECT_EQ(r.details[0], ".exe,.exe-ms,tool.dat");
  EXPECT_EQ(r.details[1],
            "P=p003,L=1,M=multipart/mixed | P=p002,L=1/2,M=application/zip,T=zip,N=files.zip | "
            "P=p005,L=1/2/2,T=exe,T=exe-ms,N=tool.dat");
}

TEST(BannedCheck, ADoubleExtensionIsBanned) {
  auto check = Check();
  CheckResult r =
      check->Run(Input(Message({{"application/octet-stream", "invoice.pdf.exe", kPdf}})));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], "application/octet-stream,.pdf,invoice.pdf.exe");
}

TEST(BannedCheck, ADeclaredTypeThatLiesIsCaughtByTheDetectedType) {
  auto check = Check();
  CheckResult r =
      check->Run(Input(Message({{"image/jpeg; name=\"photo.jpg\"", "photo.jpg", PeExecutable()}})));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], "image/jpeg,.exe,.exe-ms,photo.jpg");
}

TEST(BannedCheck, CleanAttachmentsPass) {
  auto check = Check();
  CheckResult r = check->Run(Input(Message({
      {"application/pdf", "report.pdf", kPdf},
      {"text/plain", "notes.txt", "some notes\n"},
      {"application/zip", "docs.zip", Archive({{"a.pdf", kPdf}, {"b.txt", "text\n"}})},
      {"application/octet-stream", "empty.bin", ""},
  })));
  EXPECT_TRUE(r.scanned);
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);
  EXPECT_TRUE(r.details.empty());
}

TEST(BannedCheck, ZipsInsideZipsAreOpened) {
  auto check = Check();
  std::string inner = Archive({{"payload.bin", PeExecutable()}});
  std::string middle = Archive({{"inner.zip", inner}, {"x.txt", "x\n"}});
  std::string outer = Archive({{"middle.zip", middle}});
  CheckResult r = check->Run(Input(Message({{"application/zip", "outer.zip", outer}})));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], ".exe,.exe-ms,payload.bin");
  EXPECT_NE(r.details[1].find("N=outer.zip | P=p004,L=1/2/1,T=zip,N=middle.zip | "
                              "P=p005,L=1/2/1/1,T=zip,N=inner.zip | "
                              "P=p006,L=1/2/1/1/1,T=exe,T=exe-ms,N=payload.bin"),
            std::string::npos)
      << r.details[1];
}

TEST(BannedCheck, TarGzIsUncompressedThenListed) {
  auto check = Check();
  std::string tar =
      Archive({{"setup.bin", PeExecutable()}, {"readme", "hello\n"}}, ARCHIVE_FORMAT_TAR_USTAR);
  std::string tgz = Archive({{"data", tar}}, ARCHIVE_FORMAT_RAW, {ARCHIVE_FILTER_GZIP});
  CheckResult r = check->Run(Input(Message({{"application/gzip", "bundle.tgz", tgz}})));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], ".exe,.exe-ms,setup.bin");
  // do_uncompress names the decompressed stream "bundle.tar".
  EXPECT_NE(r.details[1].find("T=gz,N=bundle.tgz | P=p004,L=1/2/1,T=tar,N=bundle.tar | "
                              "P=p005,L=1/2/1/1,T=exe,T=exe-ms,N=setup.bin"),
            std::string::npos)
      << r.details[1];
}

TEST(BannedCheck, OverTheDepthLimitIsUnchecked) {
  config::Banned config;
  config.max_archive_depth = 2;  // MIME parts are level 1, their archives' members level 2
  auto check = Check(config);
  std::string inner = Archive({{"notes.txt", "fine\n"}});
  std::string outer = Archive({{"inner.zip", inner}});
  CheckResult r = check->Run(Input(Message({{"application/zip", "outer.zip", outer}})));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details, std::vector<std::string>{"Maximum decoding depth (2) exceeded"});

  // Members past the level are still listed by name, and a banned name wins.
  std::string bad_inner = Archive({{"run.exe", "not really\n"}});
  r = check->Run(
      Input(Message({{"application/zip", "outer.zip", Archive({{"inner.zip", bad_inner}})}})));
  EXPECT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], "run.exe");

  // One level less deep is within the limit.
  r = check->Run(Input(Message({{"application/zip", "inner.zip", inner}})));
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);
}

TEST(BannedCheck, TheDepthLimitStopsOnlyItsOwnBranch) {
  config::Banned config;
  config.max_archive_depth = 2;
  auto check = Check(config);
  std::string deep = Archive({{"inner.zip", Archive({{"notes.txt", "fine\n"}})}});
  std::string bad = Archive({{"a.pif", "x\n"}});
  CheckResult r = check->Run(Input(Message({
      {"application/zip", "deep.zip", deep},
      {"application/zip", "bad.zip", bad},
  })));
  EXPECT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], ".asc,a.pif");
}

TEST(BannedCheck, AGzippedFileIsNamedWithoutItsSuffix) {
  auto check = Check();
  std::string gz = Archive({{"data", PeExecutable()}}, ARCHIVE_FORMAT_RAW, {ARCHIVE_FILTER_GZIP});
  CheckResult r = check->Run(Input(Message({{"application/gzip", "report.pdf.gz", gz}})));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], ".exe,.exe-ms,report.pdf");
}

TEST(BannedCheck, OverTheFileCountIsUnchecked) {
  config::Banned config;
  config.max_archive_files = 3;
  auto check = Check(config);
  std::vector<Entry> entries;
  for (int i = 0; i < 5; ++i) entries.push_back({"f" + std::to_string(i) + ".txt", "x\n"});
  CheckResult r = check->Run(Input(Message({{"application/zip", "many.zip", Archive(entries)}})));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details, std::vector<std::string>{"Maximum number of files (3) exceeded"});
}

TEST(BannedCheck, OverTheExpansionQuotaIsUnchecked) {
  config::Banned config;
  config.max_expanded_size = 100000;
  auto check = Check(config);
  std::string big(500000, 'a');  // deflates to a few hundred bytes
  CheckResult r =
      check->Run(Input(Message({{"application/zip", "bomb.zip", Archive({{"big.txt", big}})}})));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details, std::vector<std::string>{"Exceeded storage quota 100000 bytes"});
}

TEST(BannedCheck, AnEncryptedMemberIsUncheckedEncryptedUnlessSomethingIsBanned) {
  auto check = Check();
  std::string zip = Archive({{"secret.doc", "confidential\n"}}, ARCHIVE_FORMAT_ZIP, {},
                            "zip:encryption=zipcrypt", "password");
  CheckResult r = check->Run(Input(Message({{"application/zip", "secret.zip", zip}})));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.subcategory, 1);
  ASSERT_EQ(r.details.size(), 1u);
  EXPECT_EQ(r.details[0],
            "Encrypted: P=p003,L=1,M=multipart/mixed | P=p002,L=1/2,M=application/zip,T=zip,"
            "N=secret.zip | P=p004,L=1/2/1,N=secret.doc,A=U,A=C");

  std::string bad = Archive({{"payload.exe", "x\n"}}, ARCHIVE_FORMAT_ZIP, {},
                            "zip:encryption=zipcrypt", "password");
  r = check->Run(Input(Message({{"application/zip", "secret.zip", bad}})));
  EXPECT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], "payload.exe,UNDECIPHERABLE");
}

TEST(BannedCheck, ACorruptArchiveIsNeitherBannedNorAnError) {
  auto check = Check();
  std::string zip = Archive({{"a.txt", std::string(5000, 'x')}, {"b.txt", "y\n"}});
  std::string truncated = zip.substr(0, 60);
  std::string garbage = "PK\x03\x04" + std::string(300, '\x7f');
  CheckResult r = check->Run(Input(Message({
      {"application/zip", "cut.zip", truncated},
      {"application/zip", "junk.zip", garbage},
  })));
  EXPECT_TRUE(r.scanned);
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);
}

TEST(BannedCheck, EncodedFileNamesAndAttachedMessagesAreChecked) {
  auto check = Check();
  // RFC 2047 in a filename parameter: "rechnung.exe".
  std::string m =
      "From: a@example.com\nSubject: x\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n"
      "--b\nContent-Type: application/octet-stream\n"
      "Content-Disposition: attachment; filename=\"=?UTF-8?B?cmVjaG51bmcuZXhl?=\"\n\nxyz\n--b--\n";
  CheckResult r = check->Run(Input(m));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0],
            "application/octet-stream,.asc,rechnung.exe,=?UTF-8?B?cmVjaG51bmcuZXhl?=");

  // An attached message is opened (amavisd keeps it whole).
  std::string inner = Message({{"application/octet-stream", "a.scr", "x\n"}});
  std::string outer =
      "From: a@example.com\nSubject: fwd\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: text/plain\n\nsee\n"
      "--o\nContent-Type: message/rfc822\n\n" +
      inner + "--o--\n";
  r = check->Run(Input(outer));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_NE(r.details[1].find("M=message/rfc822 | "), std::string::npos) << r.details[1];
}

// `levels` multipart/mixed layers around an application/octet-stream part named evil.exe:
// the top-level multipart is layer 1, so the part is at depth `levels`.
std::string Nested(size_t levels, std::string_view leaf_name = "evil.exe") {
  std::string head = "From: a@example.com\nSubject: nested\nMIME-Version: 1.0\n";
  std::string open, close;
  for (size_t i = 0; i < levels; ++i) {
    std::string b = "b" + std::to_string(i);
    open += (i == 0 ? head : std::string()) + "Content-Type: multipart/mixed; boundary=\"" + b +
            "\"\n\n--" + b + "\n";
    close = "\n--" + b + "--\n" + close;
  }
  return open + "Content-Type: application/octet-stream; name=\"" + std::string(leaf_name) +
         "\"\nContent-Transfer-Encoding: base64\n\n" + Base64("MZ not really\n") + close;
}

TEST(BannedCheck, DeepMimeNestingIsUncheckedNeverClean) {
  auto check = Check();
  // Within the parser's 20 levels the banned part is found.
  for (size_t levels : {1, 19, 20}) {
    CheckResult r = check->Run(Input(Nested(levels)));
    EXPECT_EQ(r.finding, Finding::kBanned) << levels << " levels: " << Joined(r);
  }
  // Past them the parser cannot see the part: UNCHECKED-2, never clean.
  for (size_t levels : {21, 30, 100, 1000}) {
    CheckResult r = check->Run(Input(Nested(levels)));
    EXPECT_EQ(r.finding, Finding::kUnchecked) << levels << " levels: " << Joined(r);
    EXPECT_EQ(r.subcategory, 2) << levels;
    EXPECT_EQ(r.details, std::vector<std::string>{"MIME nesting deeper than 20 levels"});
  }
  // Deep nesting of harmless parts is unchecked too: what is past the limit was not looked at.
  CheckResult r = check->Run(Input(Nested(25, "notes.txt")));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
}

TEST(BannedCheck, MorePartsThanTheParserTakesIsUnchecked) {
  auto check = Check();
  std::vector<Attachment> files(12, Attachment{"text/plain", "notes.txt", "fine\n"});
  mime::Limits limits;
  limits.max_parts = 10;
  CheckResult r = check->Inspect(mime::ParseMessage(Message(files), limits));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details, std::vector<std::string>{"More than 10 MIME parts"});
  // A banned part among those seen still wins.
  files[0] = Attachment{"application/octet-stream", "evil.exe", PeExecutable()};
  r = check->Inspect(mime::ParseMessage(Message(files), limits));
  EXPECT_EQ(r.finding, Finding::kBanned) << Joined(r);
  // Within the limit: clean.
  files.resize(5, Attachment{"text/plain", "notes.txt", "fine\n"});
  files[0] = Attachment{"text/plain", "notes.txt", "fine\n"};
  r = check->Inspect(mime::ParseMessage(Message(files), limits));
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);
}

TEST(BannedCheck, ADecodedBodyCutWhereItMattersIsUnchecked) {
  auto check = Check();
  mime::Limits limits;
  limits.max_part_decoded_bytes = 2 * 1024 * 1024;
  // An archive cut short may hide members: unchecked.
  std::string big(3 * 1024 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 23);
  std::string zip = Archive({{"big.txt", big}, {"evil.pif", "x\n"}}, ARCHIVE_FORMAT_ZIP, {},
                            "zip:compression=store");
  CheckResult r =
      check->Inspect(mime::ParseMessage(Message({{"application/zip", "files.zip", zip}}), limits));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.subcategory, 2);
  ASSERT_EQ(r.details.size(), 1u) << Joined(r);
  EXPECT_EQ(r.details[0],
            "MIME part 2 not fully decoded (limits: 2097152 bytes per part, 67108864 per "
            "message)");
  // A body whose type libmagic read in full, and that is not opened, is checked as it is.
  std::string pdf = kPdf + big;
  r = check->Inspect(mime::ParseMessage(Message({{"application/pdf", "big.pdf", pdf}}), limits));
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);
  // Past the total cap a part decodes to nothing: its type is unknown, so unchecked.
  limits.max_part_decoded_bytes = 16 * 1024 * 1024;
  limits.max_total_decoded_bytes = 100;
  r = check->Inspect(mime::ParseMessage(
      Message({{"application/octet-stream", "data.bin", PeExecutable()}}), limits));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
}

TEST(BannedCheck, AnEnclosedMessageCutByTheDecodedCapIsUnchecked) {
  auto check = Check();
  std::string inner = Message({{"text/plain", "notes.txt", std::string(4000, 'a') + "\n"}});
  std::string outer =
      "From: a@example.com\nSubject: fwd\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: text/plain\n\nsee\n"
      "--o\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" +
      Base64(inner) + "--o--\n";
  mime::Limits limits;
  limits.max_part_decoded_bytes = 1000;
  CheckResult r = check->Inspect(mime::ParseMessage(outer, limits));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.details.front(),
            "Enclosed message not fully decoded (limits: 1000 bytes per part, 67108864 per "
            "message)");
  r = check->Inspect(mime::ParseMessage(outer));
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);
}

TEST(BannedCheck, ArchivesNestedPastTheHardLimitAreUncheckedWithoutADepthLimit) {
  config::Banned config;
  config.max_archive_depth = 0;  // amavisd's "no limit": the hard limit of 64 still holds
  config.max_archive_files = 0;
  auto check = Check(config);
  std::string zip = Archive({{"notes.txt", "fine\n"}});
  for (int i = 0; i < 70; ++i) zip = Archive({{"z" + std::to_string(i) + ".zip", zip}});
  CheckResult r = check->Run(Input(Message({{"application/zip", "deep.zip", zip}})));
  EXPECT_EQ(r.finding, Finding::kUnchecked) << Joined(r);
  EXPECT_EQ(r.details, std::vector<std::string>{"Maximum decoding depth (64) exceeded"});
}

// Property: whatever the shape, a message the parser could not see whole is never clean, and
// a banned part it saw is always found. Shapes from a fixed seed: nesting depth, siblings,
// encoded message/rfc822 layers, where the banned part sits, and the parser's limits.
TEST(BannedCheck, PropertyPastAnyParserLimitNeverClean) {
  auto check = Check();
  uint64_t state = 0x9e3779b97f4a7c15u;
  auto next = [&state](uint64_t n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % n;
  };
  for (int round = 0; round < 150; ++round) {
    mime::Limits limits;
    limits.max_depth = 1 + next(12);
    limits.max_parts = 2 + next(40);
    limits.max_part_decoded_bytes = 64 + next(4000);
    limits.max_total_decoded_bytes = 64 + next(20000);
    const size_t depth = next(16);
    const size_t banned_at = next(depth + 2);  // depth + 1: no banned part
    std::string body = "Content-Type: text/plain\n\nleaf\n";
    for (size_t level = depth + 1; level-- > 0;) {
      std::string b = "r" + std::to_string(round) + "l" + std::to_string(level);
      std::string parts;
      const size_t siblings = next(4);
      for (size_t i = 0; i < siblings; ++i) {
        parts += "--" + b + "\nContent-Type: text/plain\n\n" + std::string(next(300), 'x') + "\n";
      }
      if (level == banned_at) {
        parts += "--" + b +
                 "\nContent-Type: application/octet-stream; name=\"run.exe\"\n"
                 "Content-Transfer-Encoding: base64\n\n" +
                 Base64("x\n");
      }
      if (next(4) == 0) {
        body = "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" +
               Base64("Subject: inner\n" + body);
      }
      body = "Content-Type: multipart/mixed; boundary=\"" + b + "\"\n\n" + parts + "--" + b + "\n" +
             body + "\n--" + b + "--\n";
    }
    mime::Message m = mime::ParseMessage("From: a@example.com\n" + body, limits);
    CheckResult r = check->Inspect(m);
    const mime::ParseStats& st = m.stats();
    const bool unseen = st.depth_exceeded + st.parts_dropped + st.enclosed_truncated > 0;
    if (unseen) {
      EXPECT_NE(r.finding, Finding::kNothing) << "round " << round << ": " << Joined(r);
    }
    if (r.finding == Finding::kNothing) {
      EXPECT_FALSE(st.LimitHit()) << "round " << round;
    }
    if (!st.LimitHit()) {
      EXPECT_EQ(r.finding, banned_at <= depth ? Finding::kBanned : Finding::kNothing)
          << "round " << round << ": " << Joined(r);
    }
  }
}

TEST(BannedCheck, PatternsAreConfigurableAndCompiledOnce) {
  config::Banned config;
  config.patterns = {R"(^\.pdf$(?# no PDF here))"};
  auto check = Check(config);
  CheckResult r = check->Run(Input(Message({{"application/octet-stream", "x.bin", kPdf}})));
  ASSERT_EQ(r.finding, Finding::kBanned) << Joined(r);
  EXPECT_EQ(r.details[0], "no PDF here:application/octet-stream,.pdf,x.bin");
  r = check->Run(Input(Message({{"application/x-msdownload", "a.exe", PeExecutable()}})));
  EXPECT_EQ(r.finding, Finding::kNothing);

  config.patterns = {R"(\.exe$)", R"(^(unclosed)"};
  auto bad = BannedCheck::Create(config);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("banned.patterns[1] \"^(unclosed\""), std::string::npos)
      << bad.error().message;
}

TEST(BannedCheck, DisabledIsNotScanned) {
  config::Banned config;
  config.enabled = false;
  auto check = Check(config);
  CheckResult r =
      check->Run(Input(Message({{"application/x-msdownload", "a.exe", PeExecutable()}})));
  EXPECT_FALSE(r.scanned);
  EXPECT_EQ(r.skipped_reason, "disabled");
  EXPECT_EQ(r.finding, Finding::kNothing);
}

TEST(BannedCheck, RunsOnSeveralThreadsAtOnce) {
  auto check = Check();
  std::string bad = Message({{"application/zip", "z.zip", Archive({{"a.exe", PeExecutable()}})}});
  std::string good = Message({{"application/pdf", "r.pdf", kPdf}});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (check->Run(Input(bad)).finding != Finding::kBanned) ++wrong;
        if (check->Run(Input(good)).finding != Finding::kNothing) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace mailsift::scan
