// rules/message_eval.cc — placeholder, being written.
