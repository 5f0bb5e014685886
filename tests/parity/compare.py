#!/usr/bin/python3
"""Compares mailsift's rule hits with SpamAssassin's on the same messages.

usage: compare.py REFERENCE.tsv CANDIDATE.jsonl [--json-out FILE] [--exclude RULE,...]
                  [--worst N] [--min-scored-precision X] [--min-scored-recall X]
                  [--min-sub-precision X] [--min-sub-recall X] [--min-verdicts X]
                  [--min-pearson X]

REFERENCE.tsv    SpamAssassin's verdicts, as scripts/parity-reference.sh writes them: a header
                 line, then per message "file  score  rules_with_scores  subrules_hit(count)",
                 e.g. "easy-ham-1/00001.<md5>.txt  2.60  A=1,B=-1  __C,__D(3)".
CANDIDATE.jsonl  one JSON object per line, as `mailsift scan --json` prints them:
                 {"file": PATH, "score": 5.4, "required": 5.0, "hits": {"RULE": 1, "__SUB": 3}}
                 ("hits" may also be a list of names). A line without "hits" or "score" (an
                 error record, say) counts as a message the candidate did not scan.

Messages are matched on the last two components of their path, with the corpus naming of
scripts/fetch-corpus.sh mapped back: ".../easy-ham-1.00001.<md5>.eml" is
"easy-ham-1/00001.<md5>.txt". A reference message the candidate lacks counts as one on which
it hit nothing and scored 0 (so it lowers recall and may cost a verdict); candidate messages
the reference lacks are ignored. GB_CUSTOM_HTM_URI (flaky in SpamAssassin itself) is left out,
and so is every rule given with --exclude.

Metrics (micro-averaged over (message, rule) pairs):
  scored rules   names not starting with "__": precision = agreed / (agreed + extra),
                 recall = agreed / (agreed + missed); 1.0 when the denominator is 0
  sub-rules      the same for "__" names; also how many agreed pairs have the same hit count
  verdicts       messages where both say spam (score >= 5.0) or both say ham, as a fraction
  pearson        correlation of the total scores (nan when one side is constant)
  also           mean |score difference|, rules in perfect agreement, and the rules with the
                 most extra (false positive) and missed (false negative) hits.

Exit status: 0; 1 when a --min-* threshold is not reached (a nan Pearson fails any
--min-pearson above 0); 2 when the input is unusable.
"""

import argparse
import json
import math
import re
import sys
from collections import Counter

# GB_CUSTOM_HTM_URI and the other rules built from the GB_TO_ADDR capture template: spamd's
# verdicts on them flip between runs and mostly miss, while `spamassassin -t` hits them
# consistently; mailsift follows `spamassassin -t`. Their hits are left out of the rule metrics
# (their scores still count in the totals).
FLAKY = ("GB_CUSTOM_HTM_URI", "__GB_CUSTOM_HTM_URI0", "__GB_CUSTOM_HTM_URI1",
         "__GB_CUSTOM_HTM_URI2", "__GB_DRUPAL_URI", "T_GB_STORAGE_GOOGLE_EMAIL",
         "T_GB_YOUTUBE_EMAIL")
VERDICT_AT = 5.0
_CORPUS_NAME = re.compile(r"^([A-Za-z0-9_-]+)\.(\d+\.[^/]*)\.eml$")


def message_key(path):
    """The group/name key of a message path, in the reference naming."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p]
    if not parts:
        return ""
    m = _CORPUS_NAME.match(parts[-1])
    if m:
        return "%s/%s.txt" % (m.group(1), m.group(2))
    return "/".join(parts[-2:])


def _parse_list(field, sep_char):
    """'A=1,B=-1' -> {'A': 1.0, 'B': -1.0} (sep '='); '__C,__D(3)' -> {'__C': 1, '__D': 3}."""
    out = {}
    for item in field.split(","):
        item = item.strip()
        if not item or item == "none":
            continue
        if sep_char == "=":
            name, _, val = item.partition("=")
            try:
                out[name] = float(val) if val else 0.0
            except ValueError:
                out[name] = 0.0
        else:
            m = re.match(r"^([^()]+)\((\d+)\)$", item)
            if m:
                out[m.group(1)] = int(m.group(2))
            else:
                out[item] = 1
    return out


class UnusableInput(Exception):
    pass


def load_reference(path):
    """{key: (score, {scored rule: score}, {sub-rule: count})}."""
    ref = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline()
        if not header.startswith("file\t"):
            raise UnusableInput("%s: not a reference TSV (header %r)" % (path, header[:60]))
        for n, line in enumerate(f, 2):
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) < 2:
                raise UnusableInput("%s:%d: too few columns" % (path, n))
            cols += [""] * (4 - len(cols))
            try:
                score = float(cols[1])
            except ValueError:
                raise UnusableInput("%s:%d: bad score %r" % (path, n, cols[1]))
            scored = _parse_list(cols[2], "=")
            subs = _parse_list(cols[3], "(")
            # A scored column may hold a "__" name, or the sub-rule column a scored one: sort
            # them by name so that both sides are split the same way.
            for k in [k for k in scored if k.startswith("__")]:
                subs.setdefault(k, 1)
                del scored[k]
            for k in [k for k in subs if not k.startswith("__")]:
                scored.setdefault(k, 0.0)
                del subs[k]
            ref[message_key(cols[0])] = (score, scored, subs)
    if not ref:
        raise UnusableInput("%s: no messages" % path)
    return ref


def load_candidate(path):
    """({key: (score, {name: count})}, number of unusable records)."""
    cand = {}
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise UnusableInput("%s:%d: not JSON (%s)" % (path, n, e))
            if not isinstance(obj, dict) or "file" not in obj:
                raise UnusableInput("%s:%d: not a candidate record" % (path, n))
            hits = obj.get("hits")
            score = obj.get("score")
            if hits is None or score is None:
                bad += 1
                continue
            if isinstance(hits, dict):
                names = {}
                for k, v in hits.items():
                    try:
                        names[str(k)] = int(v) if v is not None else 1
                    except (TypeError, ValueError):
                        names[str(k)] = 1
            elif isinstance(hits, list):
                names = {str(k): 1 for k in hits}
            else:
                raise UnusableInput("%s:%d: \"hits\" is neither an object nor a list" % (path, n))
            try:
                cand[message_key(obj["file"])] = (float(score), names)
            except (TypeError, ValueError):
                raise UnusableInput("%s:%d: bad score %r" % (path, n, score))
    return cand, bad


def pearson(x, y):
    n = len(x)
    if n < 2:
        return float("nan")
    mx, my = sum(x) / n, sum(y) / n
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    if not sx or not sy:
        return float("nan")
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sx * sy)


def _ratio(num, den):
    return num / den if den else 1.0


def compare(ref, cand, exclude=(), worst=15):
    exclude = set(FLAKY) | set(exclude)
    files = sorted(ref)
    missing = [f for f in files if f not in cand]
    extra_files = sorted(set(cand) - set(ref))
    tp, fp, fn = Counter(), Counter(), Counter()
    stp, sfp, sfn = Counter(), Counter(), Counter()
    sub_count_same = 0
    verdicts_same = 0
    ref_scores, cand_scores = [], []
    verdict_diffs = []
    for f in files:
        r_score, r_scored, r_subs = ref[f]
        c_score, c_hits = cand.get(f, (0.0, {}))
        rs = set(r_scored) - exclude
        cs = {n for n in c_hits if not n.startswith("__")} - exclude
        rsub = set(r_subs) - exclude
        csub = {n for n in c_hits if n.startswith("__")} - exclude
        for n in rs & cs:
            tp[n] += 1
        for n in cs - rs:
            fp[n] += 1
        for n in rs - cs:
            fn[n] += 1
        for n in rsub & csub:
            stp[n] += 1
            if r_subs[n] == c_hits[n]:
                sub_count_same += 1
        for n in csub - rsub:
            sfp[n] += 1
        for n in rsub - csub:
            sfn[n] += 1
        same = (r_score >= VERDICT_AT) == (c_score >= VERDICT_AT)
        verdicts_same += same
        if not same:
            verdict_diffs.append({"file": f, "reference": r_score, "candidate": c_score})
        ref_scores.append(r_score)
        cand_scores.append(c_score)

    def side(t, p, n):
        T, P, N = sum(t.values()), sum(p.values()), sum(n.values())
        rules = set(t) | set(p) | set(n)
        ranked = sorted(rules, key=lambda r: (-(p[r] + n[r]), r))
        return {
            "precision": _ratio(T, T + P), "recall": _ratio(T, T + N),
            "agreed": T, "extra": P, "missed": N,
            "rules": len(rules),
            "rules_perfect": sum(1 for r in rules if not p[r] and not n[r]),
            "worst": [{"rule": r, "extra": p[r], "missed": n[r], "reference_hits": t[r] + n[r]}
                      for r in ranked[:worst] if p[r] + n[r]],
            "top_false_positives": [{"rule": r, "count": c}
                                    for r, c in sorted(p.items(), key=lambda x: (-x[1], x[0]))
                                    [:worst]],
            "top_false_negatives": [{"rule": r, "count": c}
                                    for r, c in sorted(n.items(), key=lambda x: (-x[1], x[0]))
                                    [:worst]],
        }

    scored = side(tp, fp, fn)
    sub = side(stp, sfp, sfn)
    sub["count_agreement"] = _ratio(sub_count_same, sub["agreed"])
    n = len(files)
    corr = pearson(ref_scores, cand_scores)
    return {
        "messages": n,
        "missing": len(missing),
        "missing_files": missing[:20],
        "not_in_reference": len(extra_files),
        "excluded_rules": sorted(exclude),
        "scored": scored,
        "sub": sub,
        "verdicts": _ratio(verdicts_same, n),
        "verdicts_agreed": verdicts_same,
        "verdict_threshold": VERDICT_AT,
        "verdict_differences": verdict_diffs[:20],
        "pearson": None if math.isnan(corr) else corr,
        "mean_abs_score_delta": (sum(abs(a - b) for a, b in zip(ref_scores, cand_scores)) / n
                                 if n else 0.0),
    }


def report(m, out=sys.stdout):
    p = lambda *a: print(*a, file=out)
    p("messages: %d of the reference (missing from the candidate: %d, counted as no hits, "
      "score 0)" % (m["messages"], m["missing"]))
    for f in m["missing_files"][:5]:
        p("  missing: " + f)
    for label, key in (("scored rules", "scored"), ("sub-rules", "sub")):
        s = m[key]
        p("%-13s precision %.4f  recall %.4f  (%d agree, %d extra, %d missed; %d of %d rules "
          "in perfect agreement)" % (label + ":", s["precision"], s["recall"], s["agreed"],
                                     s["extra"], s["missed"], s["rules_perfect"], s["rules"]))
    p("sub-rule hit counts equal on %.4f of the agreed pairs" % m["sub"]["count_agreement"])
    p("verdicts at %.1f: %d/%d agree (%.4f)" % (m["verdict_threshold"], m["verdicts_agreed"],
                                                m["messages"], m["verdicts"]))
    pe = m["pearson"]
    p("score: pearson %s, mean |delta| %.3f" % ("nan" if pe is None else "%.4f" % pe,
                                                m["mean_abs_score_delta"]))
    for label, key in (("scored rules", "scored"), ("sub-rules", "sub")):
        s = m[key]
        if s["worst"]:
            p("%s disagreeing most (rule: +extra/-missed of SpamAssassin's hits):" % label)
            for w in s["worst"]:
                p("  %s: +%d/-%d of %d" % (w["rule"], w["extra"], w["missed"],
                                           w["reference_hits"]))
    for label, key in (("scored", "scored"), ("sub", "sub")):
        s = m[key]
        if s["top_false_positives"]:
            p("top false positives (%s): %s" % (label, ", ".join(
                "%s %d" % (x["rule"], x["count"]) for x in s["top_false_positives"][:10])))
        if s["top_false_negatives"]:
            p("top false negatives (%s): %s" % (label, ", ".join(
                "%s %d" % (x["rule"], x["count"]) for x in s["top_false_negatives"][:10])))
    p("parity: scored P=%.4f R=%.4f sub P=%.4f R=%.4f verdicts=%d/%d pearson=%s missing=%d"
      % (m["scored"]["precision"], m["scored"]["recall"], m["sub"]["precision"],
         m["sub"]["recall"], m["verdicts_agreed"], m["messages"],
         "nan" if pe is None else "%.4f" % pe, m["missing"]))


THRESHOLDS = (
    ("min_scored_precision", ("scored", "precision")),
    ("min_scored_recall", ("scored", "recall")),
    ("min_sub_precision", ("sub", "precision")),
    ("min_sub_recall", ("sub", "recall")),
    ("min_verdicts", ("verdicts",)),
    ("min_pearson", ("pearson",)),
)


def check_thresholds(m, limits):
    """[(name, value, limit)] for every limit not reached."""
    failed = []
    for name, path in THRESHOLDS:
        limit = limits.get(name)
        if limit is None:
            continue
        v = m
        for k in path:
            v = v[k]
        value = float("nan") if v is None else v
        if (limit > 0 and math.isnan(value)) or value < limit:
            failed.append((name, value, limit))
    return failed


def main(argv):
    ap = argparse.ArgumentParser(description="Compare mailsift's rule hits with SpamAssassin's.",
                                 usage=__doc__.split("\n\n")[0].replace("usage: ", ""))
    ap.add_argument("reference")
    ap.add_argument("candidate")
    ap.add_argument("--json-out", metavar="FILE")
    ap.add_argument("--exclude", default="", help="more rules to leave out, comma-separated")
    ap.add_argument("--worst", type=int, default=15)
    for name, _ in THRESHOLDS:
        ap.add_argument("--" + name.replace("_", "-"), type=float, default=None, dest=name)
    args = ap.parse_args(argv)
    try:
        ref = load_reference(args.reference)
        cand, bad = load_candidate(args.candidate)
    except (OSError, UnusableInput) as e:
        print("compare.py: %s" % e, file=sys.stderr)
        return 2
    m = compare(ref, cand, [x for x in args.exclude.split(",") if x], args.worst)
    m["candidate_unusable_records"] = bad
    report(m)
    if bad:
        print("candidate records without score/hits (errors?): %d" % bad)
    failed = check_thresholds(m, {n: getattr(args, n) for n, _ in THRESHOLDS})
    m["thresholds"] = {n: getattr(args, n) for n, _ in THRESHOLDS if getattr(args, n) is not None}
    m["failed_thresholds"] = [{"name": n, "value": None if math.isnan(v) else v, "limit": l}
                              for n, v, l in failed]
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(m, f, indent=1, sort_keys=True)
            f.write("\n")
    for n, v, l in failed:
        print("BELOW THRESHOLD: %s = %.4f < %.4f" % (n, v, l))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
