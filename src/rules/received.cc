// rules/received.cc — placeholder, being written.
