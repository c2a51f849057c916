#include "testlib.h"

// The secret, from 1 to 100, on its own line.
int main(int argc, char* argv[]) {
    registerValidation(argc, argv);
    inf.readInt(1, 100, "secret");
    inf.readEoln();
    inf.readEof();
    return 0;
}
