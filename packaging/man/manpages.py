#!/usr/bin/env python3
"""mailsift's man pages: mailsift(8) and mailsift.toml(5), rendered to roff from one source
(packaging/man/mailsift.md), after checking that source against the program.

The check (run by the build before rendering, and by ctest as unit.manpages):
  - every verb of the CLI (an `add("verb", ...)` in src/cli/main.cc that is not hidden with
    group("")) has its `### verb` entry under COMMANDS in mailsift(8), and every entry there is a
    verb of the program; every visible `--option` of main.cc appears in mailsift(8);
  - every key the config reader reads (the TableReader calls in src/config/config.cc, e.g.
    `spool.String("directory", ...)` in [spool]) has its `#### key` entry under its `### [section]`
    in mailsift.toml(5), and every documented key is one the program reads;
  - every key set in the sample config (packaging/mailsift.toml) is a key the program reads.
A key or verb added without its documentation, or documentation left for one that is gone,
fails the build with the name of each.

Source format (a small Markdown subset): `# name(section) -- summary` starts a page; `##` a
section (.SH), `###` a subsection (.SS), `####` a tagged paragraph (.TP, the key or option);
blank lines separate paragraphs; `- ` items are bullets; ``` fences are literal blocks;
`code` is bold, *text* italic.

Usage: manpages.py --source mailsift.md --cli main.cc --config config.cc --sample mailsift.toml
                   [--version V] [--output-dir DIR]      (without --output-dir: check only)
"""

import argparse
import datetime
import os
import re
import sys


# --- the program's verbs, options and keys ----------------------------------------------------

def program_verbs(main_cc):
    """The visible top-level verbs and --options of main.cc."""
    text = open(main_cc, encoding="utf-8").read()
    hidden_vars = set(re.findall(r'(\w+)->group\(""\)', text))
    verbs = set()
    for var, name in re.findall(r'auto\*\s+(\w+)\s*=\s*add\("([\w-]+)"', text):
        if var not in hidden_vars:
            verbs.add(name)
    options = set()
    for match in re.finditer(r'add_(?:flag|option)\("([^"]+)"', text):
        end = text.find(";", match.end())
        if '->group("")' in text[match.end():end]:
            continue
        for name in match.group(1).split(","):
            if name.startswith("--") and name not in ("--config", "--version"):
                options.add(name)
    return verbs, options


def program_keys(config_cc):
    """The "section.key" names the config reader reads."""
    sections = {}  # TableReader variable -> section, per function
    keys = set()
    function = ""
    lines = []
    for line in open(config_cc, encoding="utf-8"):
        if lines and lines[-1].rstrip().endswith("("):  # a call whose arguments clang-format
            lines[-1] = lines[-1].rstrip() + line.strip()  # moved to the next line
        else:
            lines.append(line)
    for line in lines:
        m = re.match(r"^[A-Za-z][\w:<>,*& ]*?\b(\w+)\(", line)
        if m:  # a function's definition starts at column 0
            function = m.group(1)
            sections = {}
        m = re.search(r'TableReader\s+(\w+)\(root\.Table\("(\w+)"\)', line)
        if m:
            sections[m.group(1)] = m.group(2)
            continue
        m = re.search(r"TableReader\s+(\w+)\((\w+),", line)
        if m:
            owner = {"ReadListeners": "listen", "ReadPolicyBanks": "policy_bank"}.get(function)
            if owner:
                sections[m.group(1)] = owner
            continue
        for var, key in re.findall(
                r"\b(\w+)\.(?:String|Integer|Boolean|Number|Duration|Choice|StringList|"
                r"NetworkList)\(\"(\w+)\"", line):
            if var in sections and sections[var]:
                keys.add(f"{sections[var]}.{key}")
    return keys


def sample_keys(sample):
    """The "section.key" names set in a TOML file (the sample; commented lines ignored)."""
    keys = set()
    section = ""
    for line in open(sample, encoding="utf-8"):
        line = line.strip()
        m = re.match(r"^\[\[?([\w.]+)\]\]?", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^(\w+)\s*=", line)
        if m and section:
            keys.add(f"{section}.{m.group(1)}")
    return keys


# --- the source -------------------------------------------------------------------------------

def parse_pages(source):
    """[(name, section, summary, [lines])] in source order."""
    pages = []
    for line in open(source, encoding="utf-8").read().split("\n"):
        m = re.match(r"^# ([\w.]+)\((\d)\) -- (.*)$", line)
        if m:
            pages.append((m.group(1), m.group(2), m.group(3), []))
        elif pages:
            pages[-1][3].append(line)
    return pages


def documented(pages):
    """Verbs under mailsift(8)'s COMMANDS, the whole text of mailsift(8), and the keys of
    mailsift.toml(5)'s KEYS as "section.key"."""
    verbs, keys, text8 = set(), set(), ""
    for name, number, _, lines in pages:
        part = ""
        section = ""
        for line in lines:
            if line.startswith("## "):
                part = line[3:].strip()
            elif number == "8" and part == "COMMANDS" and line.startswith("### "):
                verbs.add(line[4:].split()[0])
            elif number == "5" and part == "KEYS" and line.startswith("### "):
                section = line[4:].strip().strip("[]")
            elif number == "5" and part == "KEYS" and line.startswith("#### "):
                keys.add(f"{section}.{line[5:].split()[0]}")
        if number == "8":
            text8 += "\n".join(lines)
    return verbs, text8, keys


def check(args, pages):
    problems = []
    verbs, options = program_verbs(args.cli)
    keys = program_keys(args.config)
    doc_verbs, text8, doc_keys = documented(pages)
    if not verbs or not keys:
        problems.append("found no verbs in {} or no keys in {}: has the code changed shape?"
                        .format(args.cli, args.config))
    for verb in sorted(verbs - doc_verbs):
        problems.append(f"verb `{verb}` ({args.cli}) has no `### {verb}` under COMMANDS")
    for verb in sorted(doc_verbs - verbs):
        problems.append(f"`### {verb}` is documented under COMMANDS but is not a verb of "
                        f"{args.cli}")
    for option in sorted(options):
        if not re.search(re.escape(option) + r"\b", text8):
            problems.append(f"option `{option}` ({args.cli}) is not in mailsift(8)")
    for key in sorted(keys - doc_keys):
        section, name = key.split(".")
        problems.append(f"key {key} ({args.config}) has no `#### {name}` under `### [{section}]`"
                        " in mailsift.toml(5)")
    for key in sorted(doc_keys - keys):
        problems.append(f"key {key} is documented in mailsift.toml(5) but {args.config} does "
                        "not read it")
    if args.sample:
        for key in sorted(sample_keys(args.sample) - keys):
            problems.append(f"key {key} is set in {args.sample} but {args.config} does not "
                            "read it")
    return problems


# --- roff -------------------------------------------------------------------------------------

def inline(text):
    out = text.replace("\\", "\\e")

    def code(m):
        return "\\fB" + m.group(1).replace("-", "\\-") + "\\fR"

    out = re.sub(r"`([^`]+)`", code, out)
    out = re.sub(r"(?<![\w*])\*(\w[^*]*\w|\w)\*(?![\w*])", r"\\fI\1\\fR", out)
    out = re.sub(r"(?<![\w\\])--(\w)", r"\\-\\-\1", out)
    if out.startswith(".") or out.startswith("'"):
        out = "\\&" + out
    return out


def literal(text):
    out = text.replace("\\", "\\e").replace("-", "\\-")
    if out.startswith(".") or out.startswith("'"):
        out = "\\&" + out
    return out


def render(page, version, date):
    name, number, summary, lines = page
    out = [f'.TH "{name.upper()}" "{number}" "{date}" "mailsift {version}" '
           f'"{"File Formats" if number == "5" else "System Administration"}"',
           ".SH NAME", f"{inline(name)} \\- {inline(summary)}"]
    in_code = False
    in_tag = False       # inside a #### item: paragraphs are indented
    new_paragraph = False
    tag_body = False     # the next text line is the body of a #### tag
    for line in lines:
        if line.startswith("```"):
            if not in_code:
                out += [".IP" if in_tag else ".PP", ".nf", ".RS 4" if not in_tag else ".RS 0"]
            else:
                out += [".RE", ".fi"]
                new_paragraph = True
            in_code = not in_code
            continue
        if in_code:
            out.append(literal(line))
            continue
        if not line.strip():
            new_paragraph = True
            continue
        if line.startswith("## "):
            out.append(f'.SH "{line[3:].strip()}"')
            in_tag, new_paragraph = False, False
        elif line.startswith("### "):
            out.append(f'.SS "{inline(line[4:].strip())}"')
            in_tag, new_paragraph = False, False
        elif line.startswith("#### "):
            out += [".TP", "\\fB" + literal(line[5:].strip()) + "\\fR"]
            in_tag, new_paragraph, tag_body = True, False, True
        elif line.startswith("- "):
            out += [".IP \\(bu 2" if not in_tag else ".IP \\(bu 4", inline(line[2:])]
            new_paragraph = False
        else:
            if new_paragraph and not tag_body:
                out.append(".IP" if in_tag else ".PP")
            new_paragraph, tag_body = False, False
            out.append(inline(line.strip()))
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--sample")
    parser.add_argument("--version", default="")
    parser.add_argument("--output-dir")
    args = parser.parse_args()
    pages = parse_pages(args.source)
    problems = check(args, pages)
    if problems:
        for problem in problems:
            print(f"{args.source}: {problem}", file=sys.stderr)
        sys.exit(1)
    if args.output_dir:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", os.path.getmtime(args.source)))
        date = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")
        os.makedirs(args.output_dir, exist_ok=True)
        for page in pages:
            path = os.path.join(args.output_dir, f"{page[0]}.{page[1]}")
            with open(path, "w", encoding="utf-8") as f:
                f.write(render(page, args.version, date))


if __name__ == "__main__":
    main()
