// placeholder test, being written.
#include <gtest/gtest.h>
