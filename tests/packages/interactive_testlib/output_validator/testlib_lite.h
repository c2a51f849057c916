// A small stand-in for testlib.h, written for these test packages: the same
// call shape (registerTestlibCmd, registerInteraction, inf/ouf/ans, quitf,
// quitp) and the same exit codes (0 ok, 1 wrong answer, 3 fail, 7 points).
#pragma once
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

enum TResult { _ok = 0, _wa = 1, _pe = 2, _fail = 3 };

[[noreturn]] inline void quitf(TResult result, const char* format, ...) {
    const char* names[] = {"ok", "wrong answer", "wrong output format", "FAIL"};
    std::fprintf(stderr, "%s ", names[result]);
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fprintf(stderr, "\n");
    std::exit(result);
}

[[noreturn]] inline void quitp(double points, const char* format, ...) {
    std::fprintf(stderr, "points %.6f ", points);
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fprintf(stderr, "\n");
    std::exit(7);
}

struct InStream {
    std::istream* in = nullptr;
    std::ifstream file;
    TResult on_error = _fail;
    void open(const char* path, TResult error) {
        file.open(path);
        in = &file;
        on_error = error;
    }
    void use(std::istream& stream, TResult error) {
        in = &stream;
        on_error = error;
    }
    long long readLong() {
        long long value;
        if (!(*in >> value)) quitf(on_error, "expected an integer");
        return value;
    }
    std::string readToken() {
        std::string value;
        if (!(*in >> value)) quitf(on_error, "expected a token");
        return value;
    }
    bool seekEof() {
        *in >> std::ws;
        return in->peek() == EOF;
    }
};

inline InStream inf, ouf, ans;
inline std::ofstream tout;

inline void registerTestlibCmd(int argc, char* argv[]) {
    if (argc < 4) quitf(_fail, "usage: checker input output answer");
    inf.open(argv[1], _fail);
    ouf.open(argv[2], _wa);
    ans.open(argv[3], _fail);
}

inline void registerInteraction(int argc, char* argv[]) {
    if (argc < 3) quitf(_fail, "usage: interactor input output");
    inf.open(argv[1], _fail);
    tout.open(argv[2]);
    ouf.use(std::cin, _wa);
}
