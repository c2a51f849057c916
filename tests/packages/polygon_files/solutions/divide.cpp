#include <cstdio>

int main() {
    std::FILE* in = std::fopen("input.txt", "r");
    std::FILE* out = std::fopen("output.txt", "w");
    long long a, b;
    if (!in || !out || std::fscanf(in, "%lld %lld", &a, &b) != 2) return 1;
    std::fprintf(out, "%.9f\n", double(a) / double(b));
}
