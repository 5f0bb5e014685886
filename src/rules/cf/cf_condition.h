// rules/cf/cf_condition.h — evaluates the condition of an `if` / `ifplugin` line of a .cf file.
//
// SpamAssassin (Conf/Parser.pm handle_conditional) turns the condition into Perl and evals it:
// `version` (4.000001), `perl_version`, `local_tests_only`, `plugin(Pkg)`, `can(Pkg::fn)`,
// `has(Pkg::fn)`, numbers, `!`, `&&`, `||`, comparisons, arithmetic and parentheses. Here the
// same expression is parsed and evaluated without Perl, against the features SA 4.0.1 has
// (Conf.pm feature_*, the has_* methods of its plugins, which count only when the plugin is
// loaded) and the plugins loaded so far. An expression SA would refuse is an Error.
//
// Thread-safety: pure functions.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "base/error.h"

namespace mailsift::rules {

struct ConditionContext {
  const std::set<std::string, std::less<>>* plugins = nullptr;  // full package names
  const std::set<std::string, std::less<>>* compat = nullptr;   // enable_compat values
  bool local_tests_only = false;
};

// SA's $Mail::SpamAssassin::VERSION as a number, and the Perl version Debian 12 ships.
inline constexpr double kSaVersion = 4.000001;
inline constexpr double kPerlVersion = 5.036000;

// Normalises plugin names the way SA does (Dmarc → DMARC, WhiteListSubject → WelcomeListSubject).
std::string NormalizePluginName(std::string_view name);

// True when `can(name)` holds for SA 4.0.1 with the given plugins loaded.
bool CanCall(std::string_view name, const ConditionContext& context);

// Evaluates `expression` (the text after `if`). `ifplugin X` is `plugin(X)`.
Result<bool> EvaluateCondition(std::string_view expression, const ConditionContext& context);

}  // namespace mailsift::rules
