#include "testlib_lite.h"
#include <vector>

// Full points for the sorted list; half of the test's 30 when only the first is right.
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    std::vector<long long> want;
    while (!ans.seekEof()) want.push_back(ans.readLong());
    std::vector<long long> got;
    while (!ouf.seekEof()) got.push_back(ouf.readLong());
    if (got == want) quitf(_ok, "sorted");
    if (!got.empty() && got[0] == want[0]) quitp(15.0, "only the least is right");
    quitf(_wa, "not sorted");
}
