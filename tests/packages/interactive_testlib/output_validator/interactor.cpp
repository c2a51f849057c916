#include "testlib_lite.h"

int main(int argc, char* argv[]) {
    registerInteraction(argc, argv);
    long long secret = inf.readLong();
    for (int guesses = 1; guesses <= 10; guesses++) {
        long long guess = ouf.readLong();
        if (guess == secret) {
            std::cout << "=" << std::endl;
            tout << guesses << std::endl;
            quitf(_ok, "found in %d", guesses);
        }
        std::cout << (guess < secret ? "<" : ">") << std::endl;
    }
    quitf(_wa, "more than 10 guesses");
}
