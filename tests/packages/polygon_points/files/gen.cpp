#include <cstdio>
#include <cstdlib>

// gen N V: N copies of V (the package carries what it generated, under tests/).
int main(int argc, char* argv[]) {
    int n = std::atoi(argv[1]);
    int v = std::atoi(argv[2]);
    std::printf("%d\n", n);
    for (int i = 0; i < n; i++) std::printf(i ? " %d" : "%d", v);
    std::printf("\n");
}
