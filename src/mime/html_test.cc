// Expected values were checked against SpamAssassin 4.0.1's HTML.pm (HTML::Parser 3.81) with
// character semantics, the way Message::Node renders a text/html part.
#include "mime/html.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailsift::mime {
namespace {

std::string Text(std::string_view html) { return RenderHtml(html).text; }

std::vector<std::string> Uris(const HtmlResult& r) {
  std::vector<std::string> out;
  for (const HtmlUri& u : r.uris) out.push_back(u.uri);
  return out;
}

TEST(HtmlEntities, NamedAndNumeric) {
  EXPECT_EQ(Text("a &amp; b &lt;c&gt; &quot;d&quot; &copy; &eacute; &#65;&#x42;&#X43; &euro;"),
            "a & b <c> \"d\" \xC2\xA9 \xC3\xA9 ABC \xE2\x82\xAC");
}

TEST(HtmlEntities, WithoutSemicolonAndUnknown) {
  // The longest known prefix is decoded; unknown names and &#0; stay as written.
  EXPECT_EQ(Text("&ampx &bogus; &#0; &lt3 &AMP;"), "&x &bogus; &#0; <3 &AMP;");
  EXPECT_EQ(Text("&#xD800;"), "\xEF\xBF\xBD");
  EXPECT_EQ(Text("&#1114112;"), "&#1114112;");
}

TEST(HtmlEntities, NbspAndQuotes) {
  // "&nbsp;" becomes a space before parsing; a bare &nbsp and U+00A0 stay U+00A0.
  EXPECT_EQ(Text("caf\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D &nbsp;x&nbsp;y \xC2\xA0z &nbsp"),
            "caf\xC3\xA9 \"q\" x y \xC2\xA0z \xC2\xA0");
}

TEST(HtmlEntities, InAttributes) {
  HtmlResult r = RenderHtml("<a href=\"http://e.example/?a=1&amp;b=2\">x</a>");
  EXPECT_EQ(Uris(r), std::vector<std::string>{"http://e.example/?a=1&b=2"});
}

TEST(HtmlRender, BlockTags) {
  EXPECT_EQ(Text("<p>one</p><p>two</p>"), "\n\none\n\n\n\ntwo\n\n");
  EXPECT_EQ(Text("a<br>b<br/>c<br />d"), "a\nb\nc\nd");
  EXPECT_EQ(Text("<div>x</div><div>y</div>"), "\nx\n\ny\n");
  EXPECT_EQ(Text("<ul><li>a</li><li>b</li></ul>"), " a  b ");
  EXPECT_EQ(Text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"), " a  b  c ");
  EXPECT_EQ(Text("<h1>Title</h1>text"), " Title text");
}

TEST(HtmlRender, InlineTagsAndWhitespace) {
  EXPECT_EQ(Text("<b>bo</b><i>ld</i> text"), "bold text");
  EXPECT_EQ(Text("hello    \n\t  world"), "hello world");
  EXPECT_EQ(Text("foo<b>bar</b>baz"), "foobarbaz");
  EXPECT_EQ(Text("a < b and c > d"), "a < b and c > d");
}

TEST(HtmlRender, TrailingTextIsSplitLikeHtmlParser) {
  // The last text of the input reaches SA in two events; inside an invisible font the blank
  // tail is a visible chunk of its own.
  HtmlResult r = RenderHtml("<font size=\"1\">x <a href=\"m\">Here</a>\n<br>\n\ny\n");
  EXPECT_EQ(r.text, "x Here\n y ");
  EXPECT_EQ(r.visible_text, "\n ");
  EXPECT_EQ(r.invisible_text, "x Here y");
}

TEST(HtmlRender, ScriptAndStyleSkipped) {
  HtmlResult r =
      RenderHtml("<script>var x = \"<p>no</p>\";</script>after<style>p { color: red }</style>end");
  EXPECT_EQ(r.text, "afterend");
  ASSERT_EQ(r.scripts.size(), 1u);
  EXPECT_EQ(r.scripts[0], "var x = \"<p>no</p>\";");
  EXPECT_EQ(Text("<style>unclosed style"), "");
  EXPECT_EQ(Text("<iframe>a<b>x</b></iframe>c"), "a<b>x</b>c");
}

TEST(HtmlRender, LiteralElements) {
  EXPECT_EQ(Text("<xmp><b>&amp;</xmp><textarea>&lt;b&gt;</textarea>"), "\n\n<b>&amp;\n\n<b>");
  EXPECT_EQ(Text("<plaintext><i>rest &amp;"), "\n\n<i>rest &amp;");
}

TEST(HtmlRender, Comments) {
  HtmlResult r = RenderHtml("<!-- comment -->text<!-- unclosed");
  EXPECT_EQ(r.text, "text");
  EXPECT_EQ(r.comments, (std::vector<std::string>{"<!-- comment -->", "<!-- unclosed"}));
  // An unterminated comment ends at the next '>'.
  r = RenderHtml("text <!-- a > b");
  EXPECT_EQ(r.text, "text  b");
  EXPECT_EQ(r.comments, std::vector<std::string>{"<!-- a >"});
  // Malformed declarations are comments; "</ x>" too.
  r = RenderHtml("<!x><!DOCTYPE -//w3c//dtd></ a>");
  EXPECT_EQ(r.comments, (std::vector<std::string>{"<!x>", "<!DOCTYPE -//w3c//dtd>", "</ a>"}));
  EXPECT_EQ(r.inside.count("!doctype"), 0u);
}

TEST(HtmlRender, DoctypeTitleAndCdata) {
  HtmlResult r =
      RenderHtml("<!DOCTYPE html><html><head><title>T &amp; t</title></head><body>B</body></html>");
  EXPECT_EQ(r.text, "\n\nT & t\n\nB");
  EXPECT_EQ(r.titles, std::vector<std::string>{"T & t"});
  EXPECT_EQ(r.inside.count("!doctype"), 1u);
  EXPECT_TRUE(r.closed_html);
  EXPECT_TRUE(r.closed_body);
  EXPECT_EQ(Text("<![CDATA[x<y]]>z"), "x<yz");
  EXPECT_EQ(Text("<?php echo 1 ?>y"), "y");
  r = RenderHtml("<title>unclosed title a b");
  EXPECT_EQ(r.text, "\n\nunclosed title a b\n\n");
  EXPECT_EQ(r.titles, std::vector<std::string>{"unclosed title a b"});
}

TEST(HtmlRender, BrokenMarkup) {
  EXPECT_EQ(Text("<p <b>q</p>"), "\n\nq\n\n");
  HtmlResult r = RenderHtml("<a href='unterminated>text");
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(r.comments, std::vector<std::string>{"<a href='unterminated>text"});
  r = RenderHtml("</b></b>x<b>");
  EXPECT_EQ(r.text, "x");
  EXPECT_EQ(r.inside["b"], 1);
  EXPECT_EQ(r.closed_extra, 2u);
  ASSERT_TRUE(r.closed_extra_ratio);
  EXPECT_NEAR(*r.closed_extra_ratio, 2.0 / 3, 1e-9);
  EXPECT_EQ(Text("<"), "<");
  EXPECT_EQ(Text("x <"), "x <");
  EXPECT_EQ(Text(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(HtmlInvisible, FontColourEqualToBackground) {
  HtmlResult r = RenderHtml("<font color=\"white\">hidden</font> shown");
  EXPECT_EQ(r.text, "hidden shown");
  EXPECT_EQ(r.visible_text, " shown");
  EXPECT_EQ(r.invisible_text, "hidden");
  EXPECT_TRUE(r.font_low_contrast);
}

TEST(HtmlInvisible, BgcolorAttributeIsIgnoredLikeSa) {
  HtmlResult r = RenderHtml("<body bgcolor=\"black\"><font color=\"black\">x</font></body>");
  EXPECT_EQ(r.visible_text, "x");
  EXPECT_FALSE(r.font_low_contrast);
}

TEST(HtmlInvisible, DisplayNoneAndVisibilityHidden) {
  HtmlResult r = RenderHtml(
      "<span style=\"display:none\">none</span><span style=\"visibility:hidden\">hid</span>ok");
  EXPECT_EQ(r.visible_text, "ok");
  EXPECT_EQ(r.invisible_text, "nonehid");
}

TEST(HtmlInvisible, TinyFonts) {
  HtmlResult r = RenderHtml(
      "<font size=\"1\">tiny</font><font size=\"-2\">small</font><font size=\"+1\">big</font>");
  EXPECT_EQ(r.visible_text, "big");
  EXPECT_EQ(r.invisible_text, "tinysmall");
  EXPECT_EQ(r.max_size, 4);
  EXPECT_EQ(r.min_size, 1);
  r = RenderHtml("<basefont size=1>x<font size=+1>y</font>");
  EXPECT_EQ(r.visible_text, "xy");
  EXPECT_EQ(r.min_size, 2);
}

TEST(HtmlInvisible, LowContrastAndInvalidColours) {
  HtmlResult r = RenderHtml("<div style=\"color: #fff; background-color: #fefefe\">low</div>");
  EXPECT_EQ(r.visible_text, "\n\n");
  EXPECT_EQ(r.invisible_text, "low");
  r = RenderHtml("<font color=\"zzz\">bad</font>");
  EXPECT_EQ(r.invisible_text, "bad");
  EXPECT_TRUE(r.font_invalid_color);
  r = RenderHtml(
      "<span style=\"color: rgb(255,255,255)\">w</span>"
      "<span style=\"background: url(x.png) #000; color:#010101\">k</span>");
  EXPECT_EQ(r.invisible_text, "wk");
  r = RenderHtml("<td style=\"color:transparent\">t</td>");
  EXPECT_EQ(r.invisible_text, "t");
  EXPECT_EQ(r.visible_text, "  ");
}

TEST(HtmlColor, Normalisation) {
  EXPECT_EQ(HtmlColorToRgb("White"), "#ffffff");
  EXPECT_EQ(HtmlColorToRgb(" #FfF "), "#ffffff");
  EXPECT_EQ(HtmlColorToRgb("#12345"), "#112233");
  EXPECT_EQ(HtmlColorToRgb("#1234567"), "#123456");
  EXPECT_EQ(HtmlColorToRgb("#1"), "#110000");
  EXPECT_EQ(HtmlColorToRgb("ffffff"), "invalid");
  EXPECT_EQ(HtmlColorToRgb("rgb(255, 0, 16)"), "#ff0010");
  EXPECT_EQ(HtmlColorToRgb("rgb(100%, 0%, 50%)"), "#ff007f");
  EXPECT_EQ(HtmlColorToRgb("zzz"), "invalid");
}

TEST(HtmlFacts, ImagesAndArea) {
  HtmlResult r = RenderHtml(
      "<img src=\"a.gif\" width=\"100\" height=\"50\"><img src=\"b.gif\" width=\"10%\" "
      "height=\"10%\"><img src=\"c.gif\" width=\"x\" height=\"5\"><img src=\"d.gif\">"
      "<IMG SRC=\"X\" WIDTH=2 HEIGHT=3><img width=1 height=8</td>");
  // 100*50 + 80*60 + 200*5 + 2*3 + 1*200 (a value that is not a number counts as 200).
  EXPECT_DOUBLE_EQ(r.image_area, 5000 + 4800 + 1000 + 6 + 200);
  EXPECT_EQ(r.image_count, 6u);
  EXPECT_EQ(r.start_tag_count["img"], 6);
  EXPECT_EQ(Uris(r), (std::vector<std::string>{"a.gif", "b.gif", "c.gif", "d.gif", "X"}));
}

TEST(HtmlFacts, UrisFromAttributes) {
  HtmlResult r = RenderHtml(
      "<a href=\" http://a.example/x \">A</a><img src=i.png><form action=\"mailto:x@y.z\">"
      "</form><td background=\"bg.png\"><iframe src=\"f.html\"></iframe><area href=\"area\">"
      "<link href=\"link.css\"><a x/href=\"alias\"></a><embed src=e.swf>"
      "<a href=\"\xEF\xBB\xBFhttp://bom.example/\">b</a>");
  EXPECT_EQ(Uris(r), (std::vector<std::string>{"http://a.example/x", "i.png", "mailto:x@y.z",
                                               "bg.png", "f.html", "area", "link.css", "alias",
                                               "e.swf", "http://bom.example/"}));
  EXPECT_EQ(r.uris[0].tag, "a");
  EXPECT_EQ(r.uris[2].tag, "form");
  EXPECT_TRUE(r.form_action_mailto);
  EXPECT_TRUE(r.has_form);
  EXPECT_TRUE(r.embeds);
}

TEST(HtmlFacts, BaseAndMetaRefresh) {
  HtmlResult r = RenderHtml(
      "<base href=\"http://b.example/dir/page.html\"><a href=\"rel\">r</a>"
      "<meta http-equiv=\"refresh\" content=\"5; URL=http://r.example/ ; x\">");
  EXPECT_EQ(Uris(r), (std::vector<std::string>{"http://b.example/dir/page.html", "rel",
                                               "http://r.example/"}));
  EXPECT_EQ(r.base_href, "http://b.example/dir/");
  EXPECT_EQ(RenderHtml("<base href=\"http://h.example\">").base_href, "http://h.example/");
}

TEST(HtmlFacts, AnchorsAndImagesInside) {
  HtmlResult r = RenderHtml("<a href=\"x\"><img src=\"y\"> text</a><A HREF=\"UP\">Up</A>");
  EXPECT_EQ(r.anchors, (std::vector<std::string>{"<img>\n text", "Up"}));
}

TEST(HtmlFacts, FontFace) {
  EXPECT_FALSE(RenderHtml("<font face=\"Arial, Helvetica\">ok</font>").font_face_bad);
  EXPECT_FALSE(RenderHtml("<font face=\"'Times New Roman', serif\">ok</font>").font_face_bad);
  EXPECT_FALSE(RenderHtml("<font face=\"Arial;\">ok</font>").font_face_bad);
  EXPECT_TRUE(RenderHtml("<font face=\"@#$\">bad</font>").font_face_bad);
  EXPECT_TRUE(RenderHtml("<font face=\"Arial,\">bad</font>").font_face_bad);
  EXPECT_TRUE(RenderHtml("<font face=\"a\">bad</font>").font_face_bad);
}

TEST(HtmlFacts, TagRatiosAndNamespaces) {
  HtmlResult r = RenderHtml("<o:p>office</o:p><st1:city>Paris</st1:city><blink>b</blink>");
  EXPECT_EQ(r.text, "officeParisb");
  EXPECT_EQ(r.tags, 6u);
  EXPECT_EQ(r.elements, 4u);
  ASSERT_TRUE(r.bad_tag_ratio);
  EXPECT_NEAR(*r.bad_tag_ratio, 1.0 / 3, 1e-9);
  ASSERT_TRUE(r.non_element_ratio);
  EXPECT_NEAR(*r.non_element_ratio, 1.0 / 3, 1e-9);
  ASSERT_TRUE(r.obfuscation_ratio);
  EXPECT_NEAR(*r.obfuscation_ratio, 2.0 / 6, 1e-9);
  EXPECT_EQ(r.backhair_count, 2u);
  // No element at all: SA leaves bad_tag_ratio undefined.
  r = RenderHtml("x<y>z</y>");
  EXPECT_FALSE(r.bad_tag_ratio);
  EXPECT_TRUE(r.closed_extra_ratio);
}

TEST(HtmlFacts, LengthsAndCharset) {
  HtmlResult r = RenderHtml(
      "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">"
      "<p>caf\xC3\xA9 au lait</p>");
  EXPECT_EQ(r.charsets, "iso-8859-1");
  EXPECT_EQ(r.length, 91u);
  EXPECT_EQ(r.text, "\n\ncaf\xC3\xA9 au lait\n\n");
  EXPECT_EQ(r.html_length, 16u);
  EXPECT_EQ(r.non_space_len, 10u);
}

TEST(HtmlFacts, StyleStackIsBounded) {
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "<font size=2>";
  deep += "x";
  HtmlResult r = RenderHtml(deep);
  EXPECT_EQ(r.text, "x");
  EXPECT_EQ(r.inside["font"], 5000);
}

}  // namespace
}  // namespace mailsift::mime
