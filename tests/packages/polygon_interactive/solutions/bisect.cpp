#include <iostream>
#include <string>

int main() {
    int low = 1, high = 100;
    while (true) {
        int guess = (low + high) / 2;
        std::cout << guess << std::endl;
        std::string reply;
        std::cin >> reply;
        if (reply == "=") return 0;
        if (reply == "<") low = guess + 1;
        else high = guess - 1;
    }
}
