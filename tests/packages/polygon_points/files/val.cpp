#include "testlib.h"

// n from 1 to 10 on its line, then n integers from -1000 to 1000 on one line.
int main(int argc, char* argv[]) {
    registerValidation(argc, argv);
    int n = inf.readInt(1, 10, "n");
    inf.readEoln();
    for (int i = 0; i < n; i++) {
        if (i > 0) inf.readSpace();
        inf.readInt(-1000, 1000, "a_i");
    }
    inf.readEoln();
    inf.readEof();
    return 0;
}
