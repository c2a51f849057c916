#include "testlib.h"

// The sum must be the answer's; the checker reads it as an integer.
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    long long want = ans.readLong();
    long long got = ouf.readLong();
    if (!ouf.seekEof()) quitf(_pe, "more than one number");
    if (got != want) quitf(_wa, "expected %lld, got %lld", want, got);
    quitf(_ok, "the sum is %lld", got);
}
