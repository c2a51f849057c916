#include "testlib.h"

// The interactor wrote how many guesses the solution took; the answer is the main
// solution's count. More than that is a wrong answer, even within the interactor's 7.
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    int best = ans.readInt();
    int got = ouf.readInt();
    if (got > best) quitf(_wa, "%d guesses, the main solution needs %d", got, best);
    quitf(_ok, "%d guesses", got);
}
