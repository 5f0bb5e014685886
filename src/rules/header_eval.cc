// rules/header_eval.cc — placeholder, being written.
