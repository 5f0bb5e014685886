// rules/relay_eval.cc — placeholder, being written.
