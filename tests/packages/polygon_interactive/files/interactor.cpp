#include "testlib.h"

// Guess the secret from 1 to 100 in at most 7 guesses: each is answered <, > or =.
int main(int argc, char* argv[]) {
    registerInteraction(argc, argv);
    long long secret = inf.readLong();
    for (int guesses = 1; guesses <= 7; guesses++) {
        long long guess = ouf.readLong();
        if (guess == secret) {
            std::cout << "=" << std::endl;
            tout << guesses << std::endl;
            quitf(_ok, "found %lld in %d guesses", secret, guesses);
        }
        std::cout << (guess < secret ? "<" : ">") << std::endl;
    }
    quitf(_wa, "more than 7 guesses");
}
